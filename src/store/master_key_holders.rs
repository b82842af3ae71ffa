//! The master-key lifecycle across a cluster (replicated): which nodes' roots of trust
//! hold which master key (a pending key becomes active only once every active member
//! holds it), which nodes have drained a retiring key (it is destroyed only once every
//! active member has), and the checks that keep keys from being wrapped under a master
//! key on its way out. States only move forward: pending, active, retiring, destroyed.

use super::{ChangeOp, Store, StoreError, WriteTx};

/// One node's word on a master key: its root of trust holds it, and (once set) it
/// holds nothing under it any more.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MasterKeyHolder {
    /// The master key's label.
    pub master_key_id: String,
    /// The node.
    pub node_id: String,
    /// Unix seconds.
    pub confirmed_at: i64,
    /// Unix seconds when the node drained the key; `None` while it may still use it.
    #[serde(default)]
    pub drained_at: Option<i64>,
}

/// A master-key state's place in the lifecycle; unknown states rank first.
pub fn state_rank(state: &str) -> i64 {
    match state {
        "active" => 1,
        "retiring" => 2,
        "destroyed" => 3,
        _ => 0,
    }
}

/// The same ranking in SQL, over column `col`.
pub(super) fn rank_sql(col: &str) -> String {
    format!(
        "(CASE {col} WHEN 'active' THEN 1 WHEN 'retiring' THEN 2 WHEN 'destroyed' THEN 3 ELSE 0 END)"
    )
}

impl WriteTx {
    /// Records `h` (once; `drained_at` only ever goes from unset to set), logged
    /// unless replaying. Allowed on a read-only node: it is about the node itself.
    pub async fn put_master_key_holder(
        &mut self,
        h: &MasterKeyHolder,
        hlc: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO master_key_holders (master_key_id, node_id, confirmed_at, drained_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (master_key_id, node_id) DO UPDATE SET drained_at = excluded.drained_at \
             WHERE master_key_holders.drained_at IS NULL AND excluded.drained_at IS NOT NULL",
        )
        .bind(h.master_key_id.clone())
        .bind(h.node_id.clone())
        .bind(h.confirmed_at)
        .bind(h.drained_at)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        let payload = serde_json::to_vec(h).map_err(|e| StoreError::Corrupt {
            table: "master_key_holders",
            detail: e.to_string(),
        })?;
        let key = format!("{}/{}", h.master_key_id, h.node_id);
        self.log_change(
            hlc,
            "master_key_holder",
            &key,
            ChangeOp::Upsert,
            &payload,
            h.confirmed_at,
        )
        .await?;
        Ok(())
    }

    /// Refuses (as a conflict, so the caller retries under the new key) to store a
    /// key wrapped under master key `id` once it is retiring or destroyed. On
    /// PostgreSQL the row stays share-locked until commit, so a retirement waits for
    /// this transaction and then sees its row.
    pub async fn require_live_master_key(&mut self, id: &str) -> Result<(), StoreError> {
        if self.replaying {
            return Ok(());
        }
        let sql = if self.postgres {
            "SELECT state FROM master_keys WHERE id = $1 FOR SHARE"
        } else {
            "SELECT state FROM master_keys WHERE id = $1"
        };
        let row: Option<(String,)> = sqlx::query_as(sql)
            .bind(id.to_owned())
            .fetch_optional(self.conn())
            .await?;
        match row {
            Some((state,)) if state_rank(&state) >= state_rank("retiring") => {
                Err(StoreError::Conflict(format!(
                    "master key {id}: it was rotated away while this request ran; retry"
                )))
            }
            _ => Ok(()),
        }
    }
}

impl Store {
    /// The nodes recorded as holding master key `id`.
    pub async fn master_key_holders(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.holder_nodes(id, "").await
    }

    /// The nodes recorded as having drained master key `id`.
    pub async fn master_key_drained(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.holder_nodes(id, " AND drained_at IS NOT NULL").await
    }

    async fn holder_nodes(&self, id: &str, extra: &'static str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT node_id FROM master_key_holders WHERE master_key_id = $1{extra} ORDER BY node_id"
        )))
        .bind(id.to_owned())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }
}
