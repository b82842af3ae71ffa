//! Shipping audit records between replicas (SPEC 6.3). Each origin's chain travels as
//! it is: a record is stored only when it is the next of its origin's chain, its
//! previous hash is the chain's head, and its own hash checks out, so a replicated
//! chain verifies like the local one. Checkpoints travel with the records they sign.

use super::audit::{record_from_row, AuditRecord, RECORD_COLUMNS};
use super::replicate::VersionVector;
use super::{Store, StoreError, WriteTx};
use crate::audit::chain::GENESIS_HASH;
use crate::audit::Checkpoint;
use sqlx::Row;

/// What applying shipped audit records did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditApplyReport {
    /// Records stored.
    pub stored: u64,
    /// Records held already, or of this replica's own chain.
    pub duplicates: u64,
    /// Records refused: a gap, a chain that does not continue, or a wrong hash.
    pub refused: u64,
}

impl Store {
    /// The last seq held of each origin's audit chain.
    pub async fn audit_version_vector(&self) -> Result<VersionVector, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT origin, seq FROM audit_heads")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Up to `limit` audit records a peer with audit version vector `theirs` lacks, with
    /// the checkpoints signed over them.
    pub async fn audit_for(
        &self,
        theirs: &VersionVector,
        limit: i64,
    ) -> Result<(Vec<AuditRecord>, Vec<Checkpoint>), StoreError> {
        let ours = self.audit_version_vector().await?;
        let mut records = Vec::new();
        let mut checkpoints = Vec::new();
        for (origin, &have) in &ours {
            let after = theirs.get(origin).copied().unwrap_or(0);
            let room = limit - records.len() as i64;
            if have <= after || room <= 0 {
                continue;
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {RECORD_COLUMNS} FROM audit_records WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            )))
            .bind(origin.clone())
            .bind(after)
            .bind(room)
            .fetch_all(self.pool())
            .await?;
            let mut last = after;
            for r in &rows {
                let rec = record_from_row(r)?;
                last = rec.seq;
                records.push(rec);
            }
            checkpoints.extend(
                self.audit_checkpoints(origin)
                    .await?
                    .into_iter()
                    .filter(|c| c.seq > after && c.seq <= last),
            );
        }
        Ok((records, checkpoints))
    }

    /// Stores shipped audit records and checkpoints of other origins in one
    /// transaction.
    pub async fn apply_audit(
        &self,
        node_id: &str,
        records: &[AuditRecord],
        checkpoints: &[Checkpoint],
    ) -> Result<AuditApplyReport, StoreError> {
        let mut report = AuditApplyReport::default();
        if records.is_empty() && checkpoints.is_empty() {
            return Ok(report);
        }
        let own = self.replica_id().await?;
        let mut tx = self.begin_write(node_id).await?;
        for r in records {
            if r.origin == own {
                report.duplicates += 1;
                continue;
            }
            match tx.store_shipped_record(r).await? {
                Some(true) => report.stored += 1,
                Some(false) => report.duplicates += 1,
                None => report.refused += 1,
            }
        }
        for c in checkpoints {
            if c.origin != own {
                tx.insert_audit_checkpoint(c).await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

impl WriteTx {
    /// `Some(true)` stored, `Some(false)` held already, `None` refused.
    async fn store_shipped_record(&mut self, r: &AuditRecord) -> Result<Option<bool>, StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_heads WHERE origin = $1")
            .bind(r.origin.clone())
            .fetch_optional(self.conn())
            .await?;
        let (seq, hash): (i64, Vec<u8>) = match head {
            Some(h) => (h.try_get(0)?, h.try_get(1)?),
            None => (0, GENESIS_HASH.to_vec()),
        };
        if r.seq <= seq {
            return Ok(Some(false));
        }
        let continues = r.seq == seq + 1 && r.prev_hash == hash;
        let genuine = r.fields().hash(&r.prev_hash).as_slice() == r.hash.as_slice();
        if !continues || !genuine {
            tracing::warn!(origin = %r.origin, seq = r.seq, continues, genuine, "shipped audit record refused");
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO audit_records (origin, seq, at_ms, node_id, actor, actor_kind, action, object, source, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(r.origin.clone())
        .bind(r.seq)
        .bind(r.at_ms)
        .bind(r.node_id.clone())
        .bind(r.actor.clone())
        .bind(r.actor_kind.clone())
        .bind(r.action.clone())
        .bind(r.object.clone())
        .bind(r.source.clone())
        .bind(r.outcome.clone())
        .bind(r.detail.clone())
        .bind(r.prev_hash.clone())
        .bind(r.hash.clone())
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO audit_heads (origin, seq, hash) VALUES ($1, $2, $3) \
             ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(r.origin.clone())
        .bind(r.seq)
        .bind(r.hash.clone())
        .execute(self.conn())
        .await?;
        Ok(Some(true))
    }
}
