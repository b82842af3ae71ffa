//! Shares of master-key backups waiting for their holders: node-local, each fetched
//! once (the row is deleted in the transaction that hands it out).

use super::{Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One holder's share of one master-key backup, wrapped under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyShareRecord {
    /// The master-key backup it belongs to.
    pub backup_id: String,
    /// User ID of the holder.
    pub holder_id: String,
    /// The node that made the backup and keeps the share.
    pub node_id: String,
    /// The share's index (1-based).
    pub share_index: i64,
    /// The wrapped-key envelope of the share's text form, bound to `backup_id/holder_id`.
    pub wrapped: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

const COLUMNS: &str = "backup_id, holder_id, node_id, share_index, wrapped, created_at";

fn decode(r: &AnyRow) -> Result<MasterKeyShareRecord, StoreError> {
    Ok(MasterKeyShareRecord {
        backup_id: r.try_get("backup_id")?,
        holder_id: r.try_get("holder_id")?,
        node_id: r.try_get("node_id")?,
        share_index: r.try_get("share_index")?,
        wrapped: r.try_get("wrapped")?,
        created_at: r.try_get("created_at")?,
    })
}

impl WriteTx {
    /// Stores the shares of a new master-key backup.
    pub async fn put_master_key_shares(
        &mut self,
        shares: &[MasterKeyShareRecord],
    ) -> Result<(), StoreError> {
        for s in shares {
            if let Ok(w) = crate::rot::WrappedKey::from_bytes(&s.wrapped) {
                self.require_live_master_key(&w.master_key_id.0).await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO master_key_shares ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            )))
            .bind(s.backup_id.clone())
            .bind(s.holder_id.clone())
            .bind(s.node_id.clone())
            .bind(s.share_index)
            .bind(s.wrapped.clone())
            .bind(s.created_at)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Removes and returns a holder's share kept by `node_id`, if it is still there.
    pub async fn take_master_key_share(
        &mut self,
        backup_id: &str,
        holder_id: &str,
        node_id: &str,
    ) -> Result<Option<MasterKeyShareRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM master_key_shares WHERE backup_id = $1 AND holder_id = $2 \
             AND node_id = $3 RETURNING {COLUMNS}"
        )))
        .bind(backup_id)
        .bind(holder_id)
        .bind(node_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(decode).transpose()
    }
}

impl Store {
    /// User IDs of the holders whose shares of `backup_id` are still waiting on `node_id`.
    pub async fn master_key_shares_waiting(
        &self,
        backup_id: &str,
        node_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT holder_id FROM master_key_shares WHERE backup_id = $1 AND node_id = $2 \
             ORDER BY share_index",
        )
        .bind(backup_id)
        .bind(node_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }
}
