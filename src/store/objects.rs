//! Managed objects: metadata columns, attributes as JSON, material only wrapped.

use super::changelog::NewChange;
use super::multi_row::MULTI_ROWS;
use super::{ChangeOp, Store, StoreError, WriteTx};
use crate::keys::{Algorithm, Attributes, ObjectMeta, ObjectType, State};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sqlx::any::AnyRow;
use sqlx::Row;

const OBJECT_COLUMNS: &str = "id, object_type, algorithm, length, state, name, attributes, wrapped, master_key_id, created_at, updated_at, hlc, origin_node, owner";

/// A managed object as stored: metadata plus the wrapped material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Everything but the material.
    pub meta: ObjectMeta,
    /// The wrapped-key envelope (`rot::WrappedKey::to_bytes`); `None` once destroyed.
    pub wrapped: Option<Vec<u8>>,
    /// The master key that wrapped `wrapped`, kept as a column so rotation can find
    /// every object still under an old master key.
    pub master_key_id: Option<String>,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
    /// Owner tag: `user:<id>`, `endpoint:<id>` or `system`; `None` for objects made
    /// before ownership was recorded.
    pub owner: Option<String>,
}

/// What the change log carries for an object: its full new state.
#[derive(serde::Serialize)]
struct ObjectPayload<'a> {
    meta: &'a ObjectMeta,
    wrapped: Option<String>,
    master_key_id: Option<&'a str>,
    hlc: i64,
    origin_node: &'a str,
    owner: Option<&'a str>,
}

/// Filters for listing objects. All set fields must match.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this state.
    pub state: Option<State>,
    /// Only this type.
    pub object_type: Option<ObjectType>,
    /// Only this exact name.
    pub name: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
    /// Skip this many first (ordered by ID, i.e. creation time).
    pub offset: Option<i64>,
    /// Only objects this caller may see; `None` means every object.
    pub visible_to: Option<Visibility>,
}

/// The objects a caller may see: those it owns and those in wallets it can access.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    /// The caller's owner tag.
    pub owner: String,
    /// IDs of the wallets the caller has any access to.
    pub wallets: Vec<String>,
}

const COLUMNS: &str = "id, object_type, algorithm, length, state, name, attributes, wrapped, master_key_id, created_at, updated_at, hlc, origin_node, owner";

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "objects",
        detail,
    }
}

fn decode_row(r: &AnyRow) -> Result<StoredObject, StoreError> {
    let id: String = r.try_get("id")?;
    let object_type: String = r.try_get("object_type")?;
    let algorithm: Option<String> = r.try_get("algorithm")?;
    let length: Option<i64> = r.try_get("length")?;
    let state: String = r.try_get("state")?;
    let attributes: String = r.try_get("attributes")?;
    let meta = ObjectMeta {
        object_type: ObjectType::parse(&object_type)
            .ok_or_else(|| corrupt(format!("{id}: unknown object type {object_type:?}")))?,
        algorithm: match algorithm {
            None => None,
            Some(a) => Some(
                Algorithm::parse(&a)
                    .ok_or_else(|| corrupt(format!("{id}: unknown algorithm {a:?}")))?,
            ),
        },
        length: length.and_then(|l| u32::try_from(l).ok()),
        state: State::parse(&state)
            .ok_or_else(|| corrupt(format!("{id}: unknown state {state:?}")))?,
        name: r.try_get("name")?,
        attributes: serde_json::from_str::<Attributes>(&attributes)
            .map_err(|e| corrupt(format!("{id}: attributes: {e}")))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        id,
    };
    Ok(StoredObject {
        meta,
        wrapped: r.try_get("wrapped")?,
        master_key_id: r.try_get("master_key_id")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
        owner: r.try_get("owner")?,
    })
}

pub(super) fn payload(obj: &StoredObject) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&ObjectPayload {
        meta: &obj.meta,
        wrapped: obj.wrapped.as_ref().map(|w| B64.encode(w)),
        master_key_id: obj.master_key_id.as_deref(),
        hlc: obj.hlc,
        origin_node: &obj.origin_node,
        owner: obj.owner.as_deref(),
    })
    .map_err(|e| corrupt(format!("{}: cannot encode change: {e}", obj.meta.id)))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds an object's row, in `OBJECT_COLUMNS` order.
fn bind_object<'q>(q: AnyQuery<'q>, obj: &StoredObject) -> Result<AnyQuery<'q>, StoreError> {
    Ok(q.bind(obj.meta.id.clone())
        .bind(obj.meta.object_type.as_str())
        .bind(obj.meta.algorithm.map(|a| a.as_str()))
        .bind(obj.meta.length.map(i64::from))
        .bind(obj.meta.state.as_str())
        .bind(obj.meta.name.clone())
        .bind(attributes_json(obj)?)
        .bind(obj.wrapped.clone())
        .bind(obj.master_key_id.clone())
        .bind(obj.meta.created_at)
        .bind(obj.meta.updated_at)
        .bind(obj.hlc)
        .bind(obj.origin_node.clone())
        .bind(obj.owner.clone()))
}

fn attributes_json(obj: &StoredObject) -> Result<String, StoreError> {
    serde_json::to_string(&obj.meta.attributes)
        .map_err(|e| corrupt(format!("{}: attributes: {e}", obj.meta.id)))
}

impl WriteTx {
    /// Inserts a new object and logs it.
    pub async fn insert_object(&mut self, obj: &StoredObject) -> Result<i64, StoreError> {
        if let (Some(_), Some(mk)) = (&obj.wrapped, &obj.master_key_id) {
            self.require_live_master_key(mk).await?;
        }
        let sql = self.multi_row_insert("objects", OBJECT_COLUMNS, 14, 1);
        bind_object(sqlx::query(sqlx::AssertSqlSafe(sql)), obj)?
            .execute(self.conn())
            .await?;
        if self.replaying {
            // A replayed object is logged by the applier, with the payload it came with.
            return Ok(0);
        }
        let payload = payload(obj)?;
        self.log_change(
            obj.hlc,
            "object",
            &obj.meta.id,
            ChangeOp::Upsert,
            &payload,
            obj.meta.updated_at,
        )
        .await
    }

    /// Inserts new objects in multi-row statements and logs them, checking each
    /// master key they are wrapped under once: [`WriteTx::insert_object`] for a batch.
    pub async fn insert_objects(&mut self, objs: &[StoredObject]) -> Result<(), StoreError> {
        let mut checked: Vec<&str> = Vec::new();
        for obj in objs {
            if let (Some(_), Some(mk)) = (&obj.wrapped, obj.master_key_id.as_deref()) {
                if !checked.contains(&mk) {
                    self.require_live_master_key(mk).await?;
                    checked.push(mk);
                }
            }
        }
        for chunk in objs.chunks(MULTI_ROWS) {
            let sql = self.multi_row_insert("objects", OBJECT_COLUMNS, 14, chunk.len());
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for obj in chunk {
                q = bind_object(q, obj)?;
            }
            q.execute(self.conn()).await?;
        }
        let changes = objs
            .iter()
            .map(|obj| {
                Ok(NewChange {
                    hlc: obj.hlc,
                    entity: "object",
                    entity_id: obj.meta.id.clone(),
                    op: ChangeOp::Upsert,
                    payload: payload(obj)?,
                    created_at: obj.meta.updated_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.log_changes(changes)
    }

    /// Replaces an object's mutable fields if it still has HLC `expected_hlc`
    /// (optimistic concurrency: otherwise [`StoreError::Conflict`]), and logs it. The
    /// wrapped key is never replaced here, only removed (destroy): a re-wrap that
    /// happened since the object was read must not be undone.
    pub async fn update_object(
        &mut self,
        obj: &StoredObject,
        expected_hlc: i64,
    ) -> Result<i64, StoreError> {
        let attrs = attributes_json(obj)?;
        let done = sqlx::query(
            "UPDATE objects SET state = $1, name = $2, attributes = $3, \
             wrapped = CASE WHEN $4 IS NULL THEN NULL ELSE wrapped END, \
             master_key_id = CASE WHEN $4 IS NULL THEN $5 ELSE master_key_id END, \
             updated_at = $6, hlc = $7, origin_node = $8 WHERE id = $9 AND hlc = $10",
        )
        .bind(obj.meta.state.as_str())
        .bind(obj.meta.name.clone())
        .bind(attrs)
        .bind(obj.wrapped.clone())
        .bind(obj.master_key_id.clone())
        .bind(obj.meta.updated_at)
        .bind(obj.hlc)
        .bind(obj.origin_node.clone())
        .bind(obj.meta.id.clone())
        .bind(expected_hlc)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(obj.meta.id.clone()));
        }
        let payload = payload(obj)?;
        self.log_change(
            obj.hlc,
            "object",
            &obj.meta.id,
            ChangeOp::Upsert,
            &payload,
            obj.meta.updated_at,
        )
        .await
    }
}

impl WriteTx {
    /// One object by ID, read inside this transaction.
    pub async fn object_in_tx(&mut self, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM objects WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(decode_row).transpose()
    }
}

impl Store {
    /// One object by ID.
    pub async fn get_object(&self, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM objects WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_row).transpose()
    }

    /// Objects matching `filter`, oldest first.
    pub async fn list_objects(&self, filter: &ListFilter) -> Result<Vec<StoredObject>, StoreError> {
        // Only the filters that are set go into the WHERE clause, so the database can use
        // the name and state indexes (`$n IS NULL OR ...` defeats them). The SQL text is
        // built from fixed fragments; values are always bound.
        let mut conds: Vec<String> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.state.is_some() {
            conds.push(format!("state = ${}", next()));
        }
        if filter.object_type.is_some() {
            conds.push(format!("object_type = ${}", next()));
        }
        if filter.name.is_some() {
            conds.push(format!("name = ${}", next()));
        }
        if let Some(v) = &filter.visible_to {
            let owner = format!("owner = ${}", next());
            if v.wallets.is_empty() {
                conds.push(owner);
            } else {
                let marks: Vec<String> = v.wallets.iter().map(|_| format!("${}", next())).collect();
                conds.push(format!(
                    "({owner} OR id IN (SELECT object_id FROM wallet_objects WHERE wallet_id IN ({})))",
                    marks.join(", ")
                ));
            }
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let (limit, offset) = (next(), next());
        let sql = format!("SELECT {COLUMNS} FROM objects {where_clause} ORDER BY id LIMIT ${limit} OFFSET ${offset}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(st) = filter.state {
            q = q.bind(st.as_str());
        }
        if let Some(t) = filter.object_type {
            q = q.bind(t.as_str());
        }
        if let Some(name) = &filter.name {
            q = q.bind(name.clone());
        }
        if let Some(v) = &filter.visible_to {
            q = q.bind(v.owner.clone());
            for w in &v.wallets {
                q = q.bind(w.clone());
            }
        }
        let rows = q
            .bind(filter.limit.unwrap_or(100))
            .bind(filter.offset.unwrap_or(0))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// Number of objects in each state.
    pub async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM objects GROUP BY state ORDER BY state")
                .fetch_all(self.pool())
                .await?;
        rows.into_iter()
            .map(|(s, n)| {
                State::parse(&s)
                    .map(|st| (st, n))
                    .ok_or_else(|| corrupt(format!("unknown state {s:?}")))
            })
            .collect()
    }
}
