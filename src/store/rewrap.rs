//! Re-wrapping after a master-key rotation: what is still wrapped under a master key,
//! and swapping one blob for another. Each swap only happens if the row still carries
//! the blob that was read, so a concurrent writer wins and the next pass sees its row.

use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::Row;

/// The tables that hold wrapped keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WrappedTable {
    /// Managed objects (replicated).
    Objects,
    /// The cluster CA and node TLS keys (replicated).
    Credentials,
    /// This node's ready pool keys (node-local).
    PoolKeys,
    /// Master-key backup shares waiting for their holders (node-local).
    MasterKeyShares,
}

/// One wrapped key to re-wrap.
#[derive(Debug, Clone)]
pub struct WrappedRow {
    /// Where it lives.
    pub table: WrappedTable,
    /// Its row ID (for shares: the backup ID).
    pub id: String,
    /// For shares: the holder's user ID.
    pub holder_id: Option<String>,
    /// The wrapped-key envelope as stored.
    pub wrapped: Vec<u8>,
}

/// How many keys each table still holds under one master key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WrappedCounts {
    /// Managed objects.
    pub objects: i64,
    /// Credentials.
    pub credentials: i64,
    /// Pool keys.
    pub pool_keys: i64,
}

impl WrappedCounts {
    /// All of them.
    pub fn total(&self) -> i64 {
        self.objects + self.credentials + self.pool_keys
    }
}

const SELECTS: [(WrappedTable, &str); 3] = [
    (
        WrappedTable::Objects,
        "SELECT id, wrapped FROM objects WHERE master_key_id = $1 AND wrapped IS NOT NULL ORDER BY id LIMIT $2",
    ),
    (
        WrappedTable::Credentials,
        "SELECT id, wrapped_key FROM credentials WHERE master_key_id = $1 ORDER BY id LIMIT $2",
    ),
    (
        WrappedTable::PoolKeys,
        "SELECT id, wrapped FROM pool_keys WHERE master_key_id = $1 ORDER BY id LIMIT $2",
    ),
];

impl Store {
    /// Keys wrapped under `master_key_id`, per table.
    pub async fn count_wrapped_under(
        &self,
        master_key_id: &str,
    ) -> Result<WrappedCounts, StoreError> {
        let count = |sql: &'static str| async move {
            let (n,): (i64,) = sqlx::query_as(sql)
                .bind(master_key_id.to_owned())
                .fetch_one(self.pool())
                .await?;
            Ok::<i64, StoreError>(n)
        };
        Ok(WrappedCounts {
            objects: count(
                "SELECT COUNT(*) FROM objects WHERE master_key_id = $1 AND wrapped IS NOT NULL",
            )
            .await?,
            credentials: count("SELECT COUNT(*) FROM credentials WHERE master_key_id = $1").await?,
            pool_keys: count("SELECT COUNT(*) FROM pool_keys WHERE master_key_id = $1").await?,
        })
    }

    /// Up to `limit` keys wrapped under `master_key_id`: objects first, then
    /// credentials, then pool keys. Shares are read with [`Store::all_master_key_shares`].
    pub async fn wrapped_under(
        &self,
        master_key_id: &str,
        limit: i64,
    ) -> Result<Vec<WrappedRow>, StoreError> {
        let mut out = Vec::new();
        for (table, sql) in SELECTS {
            let left = limit - i64::try_from(out.len()).unwrap_or(i64::MAX);
            if left <= 0 {
                break;
            }
            let rows = sqlx::query(sql)
                .bind(master_key_id.to_owned())
                .bind(left)
                .fetch_all(self.pool())
                .await?;
            for r in rows {
                out.push(WrappedRow {
                    table,
                    id: r.try_get(0)?,
                    holder_id: None,
                    wrapped: r.try_get(1)?,
                });
            }
        }
        Ok(out)
    }

    /// Every waiting master-key share (there are a handful at most), as wrapped rows.
    pub async fn all_master_key_shares(&self) -> Result<Vec<WrappedRow>, StoreError> {
        let rows = sqlx::query("SELECT backup_id, holder_id, wrapped FROM master_key_shares")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WrappedRow {
                    table: WrappedTable::MasterKeyShares,
                    id: r.try_get(0)?,
                    holder_id: Some(r.try_get(1)?),
                    wrapped: r.try_get(2)?,
                })
            })
            .collect()
    }
}

const COUNTS: [&str; 3] = [
    "SELECT COUNT(*) FROM objects WHERE master_key_id = $1 AND wrapped IS NOT NULL",
    "SELECT COUNT(*) FROM credentials WHERE master_key_id = $1",
    "SELECT COUNT(*) FROM pool_keys WHERE master_key_id = $1",
];

impl WriteTx {
    /// Keys wrapped under `master_key_id` as this transaction sees them, shares
    /// included (their envelopes name the key).
    pub async fn count_wrapped_under_in_tx(
        &mut self,
        master_key_id: &str,
    ) -> Result<i64, StoreError> {
        let mut n = 0;
        for sql in COUNTS {
            let (c,): (i64,) = sqlx::query_as(sql)
                .bind(master_key_id.to_owned())
                .fetch_one(self.conn())
                .await?;
            n += c;
        }
        let shares: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT wrapped FROM master_key_shares")
            .fetch_all(self.conn())
            .await?;
        let under = shares
            .iter()
            .filter(|(w,)| {
                crate::rot::WrappedKey::from_bytes(w)
                    .is_ok_and(|w| w.master_key_id.0 == master_key_id)
            })
            .count();
        Ok(n + i64::try_from(under).unwrap_or(i64::MAX))
    }

    /// Replaces `row`'s blob (still as read) with `wrapped` under `master_key_id`.
    /// Replicated tables log the change at `hlc`; an object keeps its own version, so
    /// the re-wrap never overrides an attribute edit made elsewhere. False when the row
    /// changed or went in the meantime.
    pub async fn replace_wrapped(
        &mut self,
        row: &WrappedRow,
        wrapped: &[u8],
        master_key_id: &str,
        hlc: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = match row.table {
            WrappedTable::MasterKeyShares => {
                sqlx::query("UPDATE master_key_shares SET wrapped = $1 WHERE backup_id = $2 AND holder_id = $3 AND wrapped = $4")
                    .bind(wrapped.to_vec())
                    .bind(row.id.clone())
                    .bind(row.holder_id.clone().unwrap_or_default())
                    .bind(row.wrapped.clone())
                    .execute(self.conn())
                    .await?
            }
            keyed => {
                let (table, column) = match keyed {
                    WrappedTable::Credentials => ("credentials", "wrapped_key"),
                    WrappedTable::PoolKeys => ("pool_keys", "wrapped"),
                    _ => ("objects", "wrapped"),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET {column} = $1, master_key_id = $2 WHERE id = $3 AND {column} = $4"
                )))
                .bind(wrapped.to_vec())
                .bind(master_key_id.to_owned())
                .bind(row.id.clone())
                .bind(row.wrapped.clone())
                .execute(self.conn())
                .await?
            }
        };
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        match row.table {
            WrappedTable::Objects => {
                let obj = self
                    .object_in_tx(&row.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict(row.id.clone()))?;
                let payload = super::objects::payload(&obj)?;
                self.log_change(hlc, "object", &row.id, ChangeOp::Upsert, &payload, now)
                    .await?;
            }
            WrappedTable::Credentials => {
                let cred = self
                    .credential_in_tx(&row.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict(row.id.clone()))?;
                let payload = super::credentials::credential_payload(&cred);
                self.log_change(hlc, "credential", &row.id, ChangeOp::Upsert, &payload, now)
                    .await?;
            }
            WrappedTable::PoolKeys | WrappedTable::MasterKeyShares => {}
        }
        Ok(true)
    }
}
