//! The key pool's rows (SPEC 3): node-local, never in the change log.
//!
//! A pool key is taken by deleting its row in the same transaction that inserts the
//! managed object it becomes, so a key is handed out at most once even across a crash,
//! and the row of a key that was handed out can never come back.

use super::{Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A ready key: generated, wrapped under the master key, waiting to be handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolKeyRecord {
    /// The object ID the key takes when handed out (the wrap is bound to it).
    pub id: String,
    /// The node whose pool it is in.
    pub node_id: String,
    /// The key group (wallet).
    pub wallet_id: String,
    /// Algorithm (`AES`).
    pub algorithm: String,
    /// Length in bits.
    pub length: i64,
    /// The wrapped-key envelope.
    pub wrapped: Vec<u8>,
    /// The master key that wrapped it.
    pub master_key_id: String,
    /// SHA-256 of the material, hex (the object's digest attribute).
    pub digest_sha256: String,
    /// Unix seconds.
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, node_id, wallet_id, algorithm, length, wrapped, master_key_id, digest_sha256, created_at";

fn decode(r: &AnyRow) -> Result<PoolKeyRecord, StoreError> {
    Ok(PoolKeyRecord {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        wallet_id: r.try_get("wallet_id")?,
        algorithm: r.try_get("algorithm")?,
        length: r.try_get("length")?,
        wrapped: r.try_get("wrapped")?,
        master_key_id: r.try_get("master_key_id")?,
        digest_sha256: r.try_get("digest_sha256")?,
        created_at: r.try_get("created_at")?,
    })
}

impl WriteTx {
    /// Adds ready keys to a pool.
    pub async fn add_pool_keys(&mut self, keys: &[PoolKeyRecord]) -> Result<(), StoreError> {
        let mut checked: Vec<&str> = Vec::new();
        for k in keys {
            if !checked.contains(&k.master_key_id.as_str()) {
                self.require_live_master_key(&k.master_key_id).await?;
                checked.push(&k.master_key_id);
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO pool_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            )))
            .bind(k.id.clone())
            .bind(k.node_id.clone())
            .bind(k.wallet_id.clone())
            .bind(k.algorithm.clone())
            .bind(k.length)
            .bind(k.wrapped.clone())
            .bind(k.master_key_id.clone())
            .bind(k.digest_sha256.clone())
            .bind(k.created_at)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Takes up to `n` of the oldest ready keys of a node's pool for a key group, of
    /// the algorithm and length its policy asks for, in one statement: the rows are
    /// gone when this transaction commits. Oldest first; fewer than `n` (or none) when
    /// the pool runs short.
    pub async fn take_pool_keys(
        &mut self,
        node_id: &str,
        wallet_id: &str,
        algorithm: &str,
        length: u32,
        n: usize,
    ) -> Result<Vec<PoolKeyRecord>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        // Rows are per node, so no other node deletes these between the sub-select and
        // the delete; on SQLite the write transaction excludes other writers anyway.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM pool_keys WHERE id IN (SELECT id FROM pool_keys WHERE node_id = $1 AND wallet_id = $2 \
             AND algorithm = $3 AND length = $4 ORDER BY id LIMIT $5) RETURNING {COLUMNS}"
        )))
        .bind(node_id)
        .bind(wallet_id)
        .bind(algorithm)
        .bind(i64::from(length))
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await?;
        let mut keys = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order.
        keys.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    /// Empties every node's pool for a key group of keys that no longer fit its policy
    /// (all of them when the policy is removed: `keep` is `None`).
    pub async fn clear_pool(
        &mut self,
        wallet_id: &str,
        keep: Option<(&str, u32)>,
    ) -> Result<u64, StoreError> {
        let (alg, len) = keep.map_or((String::new(), -1), |(a, l)| (a.to_owned(), i64::from(l)));
        Ok(sqlx::query(
            "DELETE FROM pool_keys WHERE wallet_id = $1 AND NOT (algorithm = $2 AND length = $3)",
        )
        .bind(wallet_id)
        .bind(alg)
        .bind(len)
        .execute(self.conn())
        .await?
        .rows_affected())
    }
}

impl Store {
    /// Brings the planner's statistics of the pool table up to date (PostgreSQL; on
    /// SQLite nothing to do). A pool filled in one go — after `init`, or after a drain —
    /// otherwise looks empty to the planner until autovacuum samples it, and taking a
    /// key then sorts the whole pool instead of reading the first index entries: about
    /// 250 ms instead of 0.1 ms per take with 280,000 ready keys.
    pub async fn refresh_pool_statistics(&self) -> Result<(), StoreError> {
        if self.backend() == super::Backend::Postgres {
            sqlx::query("ANALYZE pool_keys")
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// How many ready keys a node holds for a key group.
    pub async fn pool_level(&self, node_id: &str, wallet_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM pool_keys WHERE node_id = $1 AND wallet_id = $2")
                .bind(node_id)
                .bind(wallet_id)
                .fetch_one(self.pool())
                .await?;
        Ok(n)
    }

    /// IDs of every pool key of a node (tests and audits: no ID may ever be issued twice).
    pub async fn pool_key_ids(&self, node_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM pool_keys WHERE node_id = $1 ORDER BY id")
                .bind(node_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
