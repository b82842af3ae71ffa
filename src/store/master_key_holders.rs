//! Which nodes' roots of trust hold which master key (replicated): a pending master key
//! becomes active only once every active member has recorded that it holds it.

use super::{ChangeOp, Store, StoreError, WriteTx};

/// One node's word that its root of trust holds a master key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MasterKeyHolder {
    /// The master key's label.
    pub master_key_id: String,
    /// The node.
    pub node_id: String,
    /// Unix seconds.
    pub confirmed_at: i64,
}

impl WriteTx {
    /// Records that `h.node_id` holds `h.master_key_id` (once; logged unless replaying).
    pub async fn put_master_key_holder(
        &mut self,
        h: &MasterKeyHolder,
        hlc: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO master_key_holders (master_key_id, node_id, confirmed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (master_key_id, node_id) DO NOTHING",
        )
        .bind(h.master_key_id.clone())
        .bind(h.node_id.clone())
        .bind(h.confirmed_at)
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
}

impl Store {
    /// The nodes recorded as holding master key `id`.
    pub async fn master_key_holders(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT node_id FROM master_key_holders WHERE master_key_id = $1 ORDER BY node_id",
        )
        .bind(id.to_owned())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }
}
