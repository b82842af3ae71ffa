//! Key policies, data units and the links between data units and their keys
//! (SPEC 2.3, 2.5).
//!
//! Every row here replicates: each write logs the row's new state. Links are keyed by
//! (data unit, key), and their counters only grow, so a peer merges them by taking the
//! larger value of each.

use super::changelog::NewChange;
use super::multi_row::MULTI_ROWS;
use super::users::to_json;
use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A wallet's key policy: what makes the wallet a key group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyPolicyRecord {
    /// The wallet (key group).
    pub wallet_id: String,
    /// Algorithm of its keys (`AES`).
    pub algorithm: String,
    /// Key length in bits.
    pub length: i64,
    /// Seconds a key may protect new data after activation; `None`: unlimited.
    pub encryption_period: Option<i64>,
    /// Seconds a key may still read data after activation; `None`: unlimited.
    pub decryption_period: Option<i64>,
    /// Whether keys may leave the cluster (export, transfer).
    pub exportable: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

/// A data unit: one medium, by external tag and external unique ID.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataUnitRecord {
    /// Data unit ID (UUIDv7).
    pub id: String,
    /// Barcode or volume serial, as given.
    pub external_tag: Option<String>,
    /// The medium's own unique ID (e.g. its MAM serial number), as given.
    pub external_unique_id: Option<String>,
    /// The key group its keys come from.
    pub wallet_id: String,
    /// Free text.
    pub description: Option<String>,
    /// `active` or `deleted`.
    pub state: String,
    /// Who created it (owner tag).
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

/// A key that encrypted a data unit, and its use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataUnitKeyRecord {
    /// The data unit.
    pub data_unit_id: String,
    /// The key (object ID).
    pub key_id: String,
    /// Unix milliseconds of the first use.
    pub first_used_at: i64,
    /// Unix milliseconds of the last use.
    pub last_used_at: i64,
    /// Times handed out to write.
    pub writes: i64,
    /// Times handed out to read.
    pub reads: i64,
    /// Bytes the drives reported writing with it.
    pub bytes_written: i64,
    /// Bytes the drives reported reading with it.
    pub bytes_read: i64,
}

const POLICY_COLUMNS: &str = "wallet_id, algorithm, length, encryption_period, decryption_period, exportable, created_at, updated_at, hlc, origin_node";
const DU_COLUMNS: &str = "id, external_tag, external_unique_id, wallet_id, description, state, created_by, created_at, updated_at, hlc, origin_node";
const LINK_COLUMNS: &str =
    "data_unit_id, key_id, first_used_at, last_used_at, writes, reads, bytes_written, bytes_read";

/// The change-log row of a link's new state.
fn link_change(l: &DataUnitKeyRecord, hlc: i64, at_ms: i64) -> Result<NewChange, StoreError> {
    Ok(NewChange {
        hlc,
        entity: "data_unit_key",
        entity_id: format!("{}/{}", l.data_unit_id, l.key_id),
        op: ChangeOp::Upsert,
        payload: to_json("data_unit_keys", l)?,
        created_at: at_ms / 1000,
    })
}

fn decode_policy(r: &AnyRow) -> Result<KeyPolicyRecord, StoreError> {
    Ok(KeyPolicyRecord {
        wallet_id: r.try_get("wallet_id")?,
        algorithm: r.try_get("algorithm")?,
        length: r.try_get("length")?,
        encryption_period: r.try_get("encryption_period")?,
        decryption_period: r.try_get("decryption_period")?,
        exportable: r.try_get::<i64, _>("exportable")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

fn decode_du(r: &AnyRow) -> Result<DataUnitRecord, StoreError> {
    Ok(DataUnitRecord {
        id: r.try_get("id")?,
        external_tag: r.try_get("external_tag")?,
        external_unique_id: r.try_get("external_unique_id")?,
        wallet_id: r.try_get("wallet_id")?,
        description: r.try_get("description")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

fn decode_link(r: &AnyRow) -> Result<DataUnitKeyRecord, StoreError> {
    Ok(DataUnitKeyRecord {
        data_unit_id: r.try_get("data_unit_id")?,
        key_id: r.try_get("key_id")?,
        first_used_at: r.try_get("first_used_at")?,
        last_used_at: r.try_get("last_used_at")?,
        writes: r.try_get("writes")?,
        reads: r.try_get("reads")?,
        bytes_written: r.try_get("bytes_written")?,
        bytes_read: r.try_get("bytes_read")?,
    })
}

/// How a data unit is looked up.
#[derive(Debug, Clone, Copy)]
pub enum DataUnitLookup<'a> {
    /// By ID.
    Id(&'a str),
    /// By external unique ID (at most one).
    UniqueId(&'a str),
}

impl DataUnitLookup<'_> {
    /// The query for a live data unit, and the value to bind.
    fn query(&self) -> (String, String) {
        let (col, v) = match self {
            DataUnitLookup::Id(v) => ("id", v),
            DataUnitLookup::UniqueId(v) => ("external_unique_id", v),
        };
        (
            format!("SELECT {DU_COLUMNS} FROM data_units WHERE {col} = $1 AND state = 'active'"),
            (*v).to_owned(),
        )
    }
}

impl WriteTx {
    /// Inserts or replaces a wallet's key policy, logging it.
    pub async fn put_key_policy(&mut self, p: &KeyPolicyRecord) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM key_policies WHERE wallet_id = $1")
            .bind(p.wallet_id.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO key_policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(p.wallet_id.clone())
        .bind(p.algorithm.clone())
        .bind(p.length)
        .bind(p.encryption_period)
        .bind(p.decryption_period)
        .bind(i64::from(p.exportable))
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.hlc)
        .bind(p.origin_node.clone())
        .execute(self.conn())
        .await?;
        let payload = to_json("key_policies", p)?;
        self.log_change(
            p.hlc,
            "key_policy",
            &p.wallet_id,
            ChangeOp::Upsert,
            &payload,
            p.updated_at,
        )
        .await
    }

    /// Removes a wallet's key policy (the wallet stops being a key group), logging it.
    pub async fn remove_key_policy(
        &mut self,
        wallet_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM key_policies WHERE wallet_id = $1")
            .bind(wallet_id)
            .execute(self.conn())
            .await?
            .rows_affected()
            > 0;
        if done {
            self.log_change(hlc, "key_policy", wallet_id, ChangeOp::Delete, b"{}", now)
                .await?;
        }
        Ok(done)
    }

    /// Inserts or replaces a data unit (by ID), logging it. A taken external unique ID
    /// fails with a unique violation.
    pub async fn put_data_unit(&mut self, d: &DataUnitRecord) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM data_units WHERE id = $1")
            .bind(d.id.clone())
            .execute(self.conn())
            .await?;
        self.insert_data_unit_row(d).await?;
        let payload = to_json("data_units", d)?;
        self.log_change(
            d.hlc,
            "data_unit",
            &d.id,
            ChangeOp::Upsert,
            &payload,
            d.updated_at,
        )
        .await
    }

    /// Inserts data units with fresh IDs (no rows to replace) in multi-row statements,
    /// logging each. A taken external unique ID fails with a unique violation.
    pub async fn insert_data_units(&mut self, units: &[DataUnitRecord]) -> Result<(), StoreError> {
        for chunk in units.chunks(MULTI_ROWS) {
            let sql = self.multi_row_insert("data_units", DU_COLUMNS, 11, chunk.len());
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in chunk {
                q = q
                    .bind(d.id.clone())
                    .bind(d.external_tag.clone())
                    .bind(d.external_unique_id.clone())
                    .bind(d.wallet_id.clone())
                    .bind(d.description.clone())
                    .bind(d.state.clone())
                    .bind(d.created_by.clone())
                    .bind(d.created_at)
                    .bind(d.updated_at)
                    .bind(d.hlc)
                    .bind(d.origin_node.clone());
            }
            q.execute(self.conn()).await?;
        }
        let changes = units
            .iter()
            .map(|d| {
                Ok(NewChange {
                    hlc: d.hlc,
                    entity: "data_unit",
                    entity_id: d.id.clone(),
                    op: ChangeOp::Upsert,
                    payload: to_json("data_units", d)?,
                    created_at: d.updated_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.log_changes(changes)
    }

    async fn insert_data_unit_row(&mut self, d: &DataUnitRecord) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO data_units ({DU_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(d.id.clone())
        .bind(d.external_tag.clone())
        .bind(d.external_unique_id.clone())
        .bind(d.wallet_id.clone())
        .bind(d.description.clone())
        .bind(d.state.clone())
        .bind(d.created_by.clone())
        .bind(d.created_at)
        .bind(d.updated_at)
        .bind(d.hlc)
        .bind(d.origin_node.clone())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Live data units with one of these external unique IDs, or with one of these
    /// external tags in `wallet_id`, oldest first: a batch's look-ups in one statement.
    pub async fn live_data_units_matching(
        &mut self,
        wallet_id: &str,
        unique_ids: &[&str],
        tags: &[&str],
    ) -> Result<Vec<DataUnitRecord>, StoreError> {
        if unique_ids.is_empty() && tags.is_empty() {
            return Ok(Vec::new());
        }
        // Every bound value is referenced (PostgreSQL refuses unused parameters).
        let marks = |from: usize, n: usize| -> String {
            (from..from + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut filters = Vec::new();
        if !unique_ids.is_empty() {
            filters.push(format!(
                "external_unique_id IN ({})",
                marks(1, unique_ids.len())
            ));
        }
        if !tags.is_empty() {
            let w = unique_ids.len() + 1;
            filters.push(format!(
                "(wallet_id = ${w} AND external_tag IN ({}))",
                marks(w + 1, tags.len())
            ));
        }
        let sql = format!(
            "SELECT {DU_COLUMNS} FROM data_units WHERE state = 'active' AND ({}) ORDER BY id",
            filters.join(" OR ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in unique_ids {
            q = q.bind((*v).to_owned());
        }
        if !tags.is_empty() {
            q = q.bind(wallet_id.to_owned());
            for v in tags {
                q = q.bind((*v).to_owned());
            }
        }
        let rows = q.fetch_all(self.conn()).await?;
        rows.iter().map(decode_du).collect()
    }

    /// Inserts the first links of keys that no data unit has used yet (keys fresh from
    /// the pool), with the HLC of each, in multi-row statements: the links cannot
    /// exist, so there is no look-up. Logs each.
    pub async fn insert_first_links(
        &mut self,
        links: &[(DataUnitKeyRecord, i64)],
    ) -> Result<(), StoreError> {
        for chunk in links.chunks(MULTI_ROWS) {
            let sql = self.multi_row_insert("data_unit_keys", LINK_COLUMNS, 8, chunk.len());
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (l, _) in chunk {
                q = q
                    .bind(l.data_unit_id.clone())
                    .bind(l.key_id.clone())
                    .bind(l.first_used_at)
                    .bind(l.last_used_at)
                    .bind(l.writes)
                    .bind(l.reads)
                    .bind(l.bytes_written)
                    .bind(l.bytes_read);
            }
            q.execute(self.conn()).await?;
        }
        let changes = links
            .iter()
            .map(|(l, hlc)| link_change(l, *hlc, l.last_used_at))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.log_changes(changes)
    }

    async fn insert_link(&mut self, l: &DataUnitKeyRecord) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO data_unit_keys ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(l.data_unit_id.clone())
        .bind(l.key_id.clone())
        .bind(l.first_used_at)
        .bind(l.last_used_at)
        .bind(l.writes)
        .bind(l.reads)
        .bind(l.bytes_written)
        .bind(l.bytes_read)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn log_link(
        &mut self,
        l: &DataUnitKeyRecord,
        hlc: i64,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.log_changes(vec![link_change(l, hlc, at_ms)?])
    }

    /// Records one use of `key_id` on a data unit: creates the link on first use, else
    /// adds to its counters. Logs the link's new state.
    pub async fn record_key_use(
        &mut self,
        data_unit_id: &str,
        key_id: &str,
        use_: KeyUse,
        at_ms: i64,
        hlc: i64,
    ) -> Result<DataUnitKeyRecord, StoreError> {
        let (w, r, bw, br) = use_.counts();
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LINK_COLUMNS} FROM data_unit_keys WHERE data_unit_id = $1 AND key_id = $2"
        )))
        .bind(data_unit_id)
        .bind(key_id)
        .fetch_optional(self.conn())
        .await?;
        let link = match existing.as_ref().map(decode_link).transpose()? {
            Some(mut l) => {
                l.last_used_at = l.last_used_at.max(at_ms);
                l.writes += w;
                l.reads += r;
                l.bytes_written = l.bytes_written.saturating_add(bw);
                l.bytes_read = l.bytes_read.saturating_add(br);
                sqlx::query(
                    "UPDATE data_unit_keys SET last_used_at = $1, writes = $2, reads = $3, bytes_written = $4, bytes_read = $5 \
                     WHERE data_unit_id = $6 AND key_id = $7",
                )
                .bind(l.last_used_at)
                .bind(l.writes)
                .bind(l.reads)
                .bind(l.bytes_written)
                .bind(l.bytes_read)
                .bind(data_unit_id)
                .bind(key_id)
                .execute(self.conn())
                .await?;
                l
            }
            None => {
                let l = DataUnitKeyRecord {
                    data_unit_id: data_unit_id.to_owned(),
                    key_id: key_id.to_owned(),
                    first_used_at: at_ms,
                    last_used_at: at_ms,
                    writes: w,
                    reads: r,
                    bytes_written: bw,
                    bytes_read: br,
                };
                self.insert_link(&l).await?;
                l
            }
        };
        self.log_link(&link, hlc, at_ms).await?;
        Ok(link)
    }
}

/// One use of a key on a data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Handed out to write (count only).
    WriteIssued,
    /// Handed out to read (count only).
    ReadIssued,
    /// The drive reports bytes written with it.
    Wrote(i64),
    /// The drive reports bytes read with it.
    Read(i64),
}

impl KeyUse {
    fn counts(self) -> (i64, i64, i64, i64) {
        match self {
            KeyUse::WriteIssued => (1, 0, 0, 0),
            KeyUse::ReadIssued => (0, 1, 0, 0),
            KeyUse::Wrote(b) => (0, 0, b.max(0), 0),
            KeyUse::Read(b) => (0, 0, 0, b.max(0)),
        }
    }
}

impl Store {
    /// A wallet's key policy, if it is a key group.
    pub async fn key_policy(&self, wallet_id: &str) -> Result<Option<KeyPolicyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM key_policies WHERE wallet_id = $1"
        )))
        .bind(wallet_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_policy).transpose()
    }

    /// Every key policy (every key group).
    pub async fn key_policies(&self) -> Result<Vec<KeyPolicyRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM key_policies ORDER BY wallet_id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_policy).collect()
    }
}

async fn fetch_data_unit<'e>(
    on: impl sqlx::Executor<'e, Database = sqlx::Any>,
    by: DataUnitLookup<'_>,
) -> Result<Option<DataUnitRecord>, StoreError> {
    let (sql, v) = by.query();
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(v)
        .fetch_optional(on)
        .await?;
    row.as_ref().map(decode_du).transpose()
}

impl WriteTx {
    /// A live data unit by ID or external unique ID, read inside this transaction.
    pub async fn data_unit_in_tx(
        &mut self,
        by: DataUnitLookup<'_>,
    ) -> Result<Option<DataUnitRecord>, StoreError> {
        fetch_data_unit(self.conn(), by).await
    }
}

impl Store {
    /// A live data unit by ID or external unique ID.
    pub async fn data_unit(
        &self,
        by: DataUnitLookup<'_>,
    ) -> Result<Option<DataUnitRecord>, StoreError> {
        fetch_data_unit(self.pool(), by).await
    }

    /// Live data units with this external tag (tags need not be unique), oldest first
    /// (the first 100).
    pub async fn data_units_by_tag(&self, tag: &str) -> Result<Vec<DataUnitRecord>, StoreError> {
        self.data_units_by_tag_upto(tag, 100).await
    }

    /// Live data units with this external tag, oldest first, at most `limit`: a caller
    /// that must see them all asks for one more than it accepts and refuses a full
    /// answer.
    pub async fn data_units_by_tag_upto(
        &self,
        tag: &str,
        limit: i64,
    ) -> Result<Vec<DataUnitRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DU_COLUMNS} FROM data_units WHERE external_tag = $1 AND state = 'active' ORDER BY id LIMIT $2"
        )))
        .bind(tag)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_du).collect()
    }

    /// Live data units, by ID; with `wallets`, only those in one of them.
    pub async fn list_data_units(
        &self,
        wallets: Option<&[String]>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DataUnitRecord>, StoreError> {
        let filter = match wallets {
            None => String::new(),
            Some([]) => return Ok(Vec::new()),
            Some(w) => {
                let marks: Vec<String> = (0..w.len()).map(|i| format!("${}", i + 3)).collect();
                format!(" AND wallet_id IN ({})", marks.join(", "))
            }
        };
        let sql = format!(
            "SELECT {DU_COLUMNS} FROM data_units WHERE state = 'active'{filter} ORDER BY id LIMIT $1 OFFSET $2"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset);
        for w in wallets.unwrap_or_default() {
            q = q.bind(w.clone());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(decode_du).collect()
    }

    /// The keys of a data unit, in order of first use.
    pub async fn data_unit_keys(
        &self,
        data_unit_id: &str,
    ) -> Result<Vec<DataUnitKeyRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LINK_COLUMNS} FROM data_unit_keys WHERE data_unit_id = $1 ORDER BY first_used_at, key_id"
        )))
        .bind(data_unit_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_link).collect()
    }

    /// The data units a key encrypted.
    pub async fn data_units_of_key(
        &self,
        key_id: &str,
    ) -> Result<Vec<DataUnitKeyRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LINK_COLUMNS} FROM data_unit_keys WHERE key_id = $1 ORDER BY first_used_at"
        )))
        .bind(key_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_link).collect()
    }
}
