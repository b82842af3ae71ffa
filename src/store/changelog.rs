//! The change log: one row per change, numbered gap-free per origin replica.
//!
//! The sequence comes from `replica_meta.last_seq`, incremented inside the writing
//! transaction. The row lock this takes serializes writers of one replica (on
//! PostgreSQL, of every node sharing the database) for the length of a commit; in
//! exchange the numbering has no gaps and commits in order, so a peer that holds
//! sequence N from an origin holds everything up to N, and its cursor is one number.

use super::{Store, StoreError, WriteTx};
use sqlx::Row;

/// What a change did to its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// The entity's new full state is in the payload.
    Upsert,
    /// The entity was removed (a tombstone).
    Delete,
}

impl ChangeOp {
    fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Upsert => "upsert",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One change-log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Replica the change was made on.
    pub origin: String,
    /// Gap-free sequence within the origin.
    pub seq: i64,
    /// Hybrid logical clock of the change.
    pub hlc: i64,
    /// Node that made it.
    pub node_id: String,
    /// Entity kind (`object`, `master_key`, `node`, ...).
    pub entity: String,
    /// Entity ID.
    pub entity_id: String,
    /// Upsert or delete.
    pub op: ChangeOp,
    /// The entity's new state (JSON; keys appear only wrapped).
    pub payload: Vec<u8>,
    /// Wall-clock time, Unix seconds.
    pub created_at: i64,
}

impl WriteTx {
    /// Appends a change-log row in this transaction and returns its sequence.
    pub(crate) async fn log_change(
        &mut self,
        hlc: i64,
        entity: &str,
        entity_id: &str,
        op: ChangeOp,
        payload: &[u8],
        now: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "UPDATE replica_meta SET last_seq = last_seq + 1 WHERE singleton = 1 RETURNING last_seq, replica_id",
        )
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotInitialized)?;
        let seq: i64 = row.try_get(0)?;
        let origin: String = row.try_get(1)?;
        sqlx::query(
            "INSERT INTO change_log (origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&origin)
        .bind(seq)
        .bind(hlc)
        .bind(self.node_id.clone())
        .bind(entity)
        .bind(entity_id)
        .bind(op.as_str())
        .bind(payload.to_vec())
        .bind(now)
        .execute(self.conn())
        .await?;
        self.replica_id = Some(origin);
        Ok(seq)
    }
}

impl Store {
    /// Changes from `origin` with sequence greater than `after`, in order, at most `limit`.
    pub async fn changes_since(
        &self,
        origin: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at \
             FROM change_log WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(origin)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let op: String = r.try_get(6)?;
                let op = match op.as_str() {
                    "upsert" => ChangeOp::Upsert,
                    "delete" => ChangeOp::Delete,
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "change_log",
                            detail: format!("unknown op {other:?}"),
                        })
                    }
                };
                Ok(Change {
                    origin: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    hlc: r.try_get(2)?,
                    node_id: r.try_get(3)?,
                    entity: r.try_get(4)?,
                    entity_id: r.try_get(5)?,
                    op,
                    payload: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// The last sequence this replica has issued.
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT last_seq FROM replica_meta WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| r.0).ok_or(StoreError::NotInitialized)
    }
}
