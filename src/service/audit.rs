//! The audit trail's operations (SPEC 6): list, verify, export, delete, checkpoint.
//!
//! Reading and verifying needs `Action::AuditRead`; exporting and deleting are the
//! Audit Manager's alone (`Action::AuditExport`, `Action::AuditDelete`). Each operation
//! is itself recorded in the trail; a deletion's record is written in the transaction
//! that deletes, right after the signed checkpoint that anchors what remains.

use super::{KeyService, Principal, ServiceError};
use crate::audit::checkpoint::{signed_message, Checkpoint, CheckpointKind};
use crate::audit::export::{rfc3339_ms, write_record, ExportFormat};
use crate::audit::verify::{verify, Trust, VerifyReport};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::store::audit::{AuditFilter, AuditRecord};
use crate::store::{Store, WriteTx};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Most records one list call returns.
pub const MAX_AUDIT_PAGE: i64 = 1000;
/// Records read per query while exporting.
const EXPORT_PAGE: i64 = 1000;
/// Bytes gathered before an export chunk is handed to the transport.
const EXPORT_CHUNK: usize = 64 * 1024;

/// What a deletion removed from one origin's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeletedRange {
    /// Origin replica.
    pub origin: String,
    /// The last deleted seq, now anchored by a signed deletion checkpoint.
    pub upto_seq: i64,
    /// Records deleted.
    pub records: u64,
}

/// The result of [`KeyService::audit_delete`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeleteReport {
    /// The cut: records older than this (Unix milliseconds) were eligible.
    pub before_ms: i64,
    /// Records deleted in all.
    pub deleted: u64,
    /// Per origin.
    pub origins: Vec<DeletedRange>,
    /// Seq of the `audit.delete` record that records the deletion.
    pub record_seq: i64,
}

/// An export being produced: chunks of formatted lines, in order. Dropping it stops the
/// producer.
pub struct AuditExport {
    rx: mpsc::Receiver<Result<Vec<u8>, ServiceError>>,
    format: ExportFormat,
}

impl AuditExport {
    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, ServiceError>> {
        self.rx.recv().await
    }

    /// Polling form of [`AuditExport::next_chunk`], for transports that stream.
    pub fn poll_chunk(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Vec<u8>, ServiceError>>> {
        self.rx.poll_recv(cx)
    }

    /// The format of the lines.
    pub fn format(&self) -> ExportFormat {
        self.format
    }
}

impl KeyService {
    /// Audit records matching `filter` (at most [`MAX_AUDIT_PAGE`]; page with `origin`
    /// and `after_seq`).
    pub async fn audit_records(
        &self,
        who: &Principal,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        self.authorize(who, &Action::AuditRead).await?;
        if !(1..=MAX_AUDIT_PAGE).contains(&filter.limit) {
            return Err(ServiceError::InvalidArgument(format!(
                "limit: must be 1 to {MAX_AUDIT_PAGE}"
            )));
        }
        if filter.after_seq.is_some() && filter.origin.is_none() {
            // Seqs are per origin: paging across origins by seq would skip records.
            filter.origin = Some(self.store.replica_id().await?);
        }
        let r = self.store.audit_records(&filter).await.map_err(Into::into);
        self.audit_read(who, "audit.read", None, r).await
    }

    /// This node's trust anchor for verification: its ID and its live signing key.
    pub fn audit_trust(&self) -> Result<Trust, ServiceError> {
        Ok(Trust {
            node_id: self.node.node_id.clone(),
            public_key: self.rot.signing_public_key()?,
        })
    }

    /// Verifies every chain and every checkpoint; the report names the first broken
    /// record. A broken trail is an answer, not an error.
    pub async fn audit_verify(&self, who: &Principal) -> Result<VerifyReport, ServiceError> {
        self.authorize(who, &Action::AuditRead).await?;
        let r: Result<VerifyReport, ServiceError> =
            async { Ok(verify(&self.store, &self.audit_trust()?).await?) }.await;
        match &r {
            Ok(rep) if rep.ok => {
                tracing::info!(
                    records = rep.records_checked,
                    origins = rep.origins,
                    checkpoints = rep.checkpoints_checked,
                    elapsed_ms = rep.elapsed_ms,
                    "audit trail verified"
                );
                let detail = format!(
                    "intact: {} records, {} origins, {} checkpoints",
                    rep.records_checked, rep.origins, rep.checkpoints_checked
                );
                self.record(who, "audit.verify", None, Outcome::Success, Some(detail))
                    .await;
            }
            Ok(rep) => {
                let first = rep
                    .first_failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                tracing::error!(first_failure = %first, "audit trail broken");
                self.record(
                    who,
                    "audit.verify",
                    None,
                    Outcome::Failed,
                    Some(format!("broken: {first}")),
                )
                .await;
            }
            Err(e) => {
                self.record(
                    who,
                    "audit.verify",
                    None,
                    Outcome::Failed,
                    Some(e.to_string()),
                )
                .await
            }
        }
        r
    }

    /// Signs this replica's chain head and stores the checkpoint; `None` when the chain
    /// is empty or the head has a checkpoint of this kind already. The node's
    /// checkpoint task calls this; it records nothing in the trail (it would move the
    /// head it signs).
    pub async fn audit_checkpoint(
        &self,
        kind: CheckpointKind,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        let cp = self.checkpoint_head(&mut tx, kind).await?;
        tx.commit().await?;
        Ok(cp)
    }

    /// A checkpoint asked for by `who`: records `audit.checkpoint`, then signs the head
    /// that includes that record, in one transaction.
    pub async fn audit_checkpoint_now(
        &self,
        who: &Principal,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        self.authorize(who, &Action::AuditRead).await?;
        let r: Result<Option<Checkpoint>, ServiceError> = async {
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            let ev = self.event(who, "audit.checkpoint", None, Outcome::Success, None);
            tx.append_audit(&ev, crate::audit::now_ms()).await?;
            let cp = self
                .checkpoint_head(&mut tx, CheckpointKind::Periodic)
                .await?;
            tx.commit().await?;
            Ok(cp)
        }
        .await;
        self.audit_failure(who, "audit.checkpoint", None, r).await
    }

    async fn checkpoint_head(
        &self,
        tx: &mut WriteTx,
        kind: CheckpointKind,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        let head = tx.audit_local_head().await?;
        if head.seq == 0
            || tx
                .audit_checkpoint_exists(&head.origin, head.seq, kind.as_str())
                .await?
        {
            return Ok(None);
        }
        let cp = self.sign_checkpoint(&head.origin, head.seq, &head.hash, kind)?;
        tx.insert_audit_checkpoint(&cp).await?;
        tracing::info!(origin = %cp.origin, seq = cp.seq, kind = %cp.kind, "audit checkpoint signed");
        Ok(Some(cp))
    }

    fn sign_checkpoint(
        &self,
        origin: &str,
        seq: i64,
        hash: &[u8],
        kind: CheckpointKind,
    ) -> Result<Checkpoint, ServiceError> {
        let at_ms = crate::audit::now_ms();
        let signer = &self.node.node_id;
        let msg = signed_message(origin, seq, hash, at_ms, kind.as_str(), signer);
        let signature = self.rot.sign(&msg)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            seq,
            hash: hash.to_vec(),
            at_ms,
            kind: kind.as_str().to_owned(),
            signer_node: signer.clone(),
            public_key: self.rot.signing_public_key()?,
            signature,
        })
    }

    /// Exports records with `since_ms <= at_ms < until_ms` (either bound optional), by
    /// origin then seq, as a stream of chunks. The export is recorded before it starts.
    pub async fn audit_export(
        &self,
        who: &Principal,
        format: ExportFormat,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<AuditExport, ServiceError> {
        self.authorize(who, &Action::AuditExport).await?;
        let range = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), rfc3339_ms);
        let detail = format!(
            "format {} since {} until {}",
            match format {
                ExportFormat::Jsonl => "jsonl",
                ExportFormat::Cef => "cef",
            },
            range(since_ms),
            range(until_ms)
        );
        let ev = self.event(who, "audit.export", None, Outcome::Success, Some(detail));
        self.store
            .append_audit(&self.node.node_id, &ev, crate::audit::now_ms())
            .await?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(produce_export(
            self.store.clone(),
            self.node.name.clone(),
            format,
            since_ms,
            until_ms,
            tx,
        ));
        Ok(AuditExport { rx, format })
    }

    /// Deletes the records older than `before_ms` (Unix milliseconds): per origin, the
    /// longest prefix of the chain whose records are all older. In one transaction it
    /// signs a deletion checkpoint anchoring the last deleted record, deletes, and
    /// appends an `audit.delete` record, so verification afterwards still passes.
    pub async fn audit_delete(
        &self,
        who: &Principal,
        before_ms: i64,
    ) -> Result<DeleteReport, ServiceError> {
        self.authorize(who, &Action::AuditDelete).await?;
        let r = self.delete_older(who, before_ms).await;
        self.audit_failure(who, "audit.delete", None, r).await
    }

    async fn delete_older(
        &self,
        who: &Principal,
        before_ms: i64,
    ) -> Result<DeleteReport, ServiceError> {
        let now = crate::audit::now_ms();
        if before_ms > now {
            return Err(ServiceError::InvalidArgument(
                "before: must not be in the future (records older than it are deleted)".into(),
            ));
        }
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        let mut origins = Vec::new();
        for head in tx.audit_heads().await? {
            let Some((upto, hash)) = tx
                .audit_deletion_point(&head.origin, head.seq, before_ms)
                .await?
            else {
                continue;
            };
            let cp = self.sign_checkpoint(&head.origin, upto, &hash, CheckpointKind::Deletion)?;
            tx.insert_audit_checkpoint(&cp).await?;
            let records = tx.delete_audit_upto(&head.origin, upto).await?;
            origins.push(DeletedRange {
                origin: head.origin,
                upto_seq: upto,
                records,
            });
        }
        let deleted = origins.iter().map(|o| o.records).sum();
        let mut detail = format!("before {}: {deleted} records", rfc3339_ms(before_ms));
        for o in &origins {
            detail.push_str(&format!(
                "; origin {} up to seq {} ({} records)",
                o.origin, o.upto_seq, o.records
            ));
        }
        let ev = self.event(who, "audit.delete", None, Outcome::Success, Some(detail));
        let record_seq = tx.append_audit(&ev, now).await?;
        tx.commit().await?;
        tracing::info!(principal = %who.name, before_ms, deleted, "audit records deleted");
        Ok(DeleteReport {
            before_ms,
            deleted,
            origins,
            record_seq,
        })
    }
}

async fn produce_export(
    store: Store,
    host: String,
    format: ExportFormat,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    tx: mpsc::Sender<Result<Vec<u8>, ServiceError>>,
) {
    let origins = match store.audit_origins().await {
        Ok(o) => o,
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    let mut buf = Vec::with_capacity(EXPORT_CHUNK + 4096);
    for origin in origins {
        let mut after = 0;
        loop {
            let page = store
                .audit_records(&AuditFilter {
                    origin: Some(origin.clone()),
                    after_seq: Some(after),
                    since_ms,
                    until_ms,
                    limit: EXPORT_PAGE,
                    ..AuditFilter::default()
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            for r in &page {
                write_record(format, r, &host, &mut buf);
                if buf.len() >= EXPORT_CHUNK {
                    let chunk =
                        std::mem::replace(&mut buf, Vec::with_capacity(EXPORT_CHUNK + 4096));
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The client went away.
                        return;
                    }
                }
            }
            match page.last() {
                Some(r) if page.len() as i64 == EXPORT_PAGE => after = r.seq,
                _ => break,
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(Ok(buf)).await;
    }
}

/// The node's checkpoint task: every `every`, signs this replica's chain head if it
/// moved since the last checkpoint. Stops when `shutdown` turns true.
pub async fn run_checkpoints(
    svc: Arc<KeyService>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = svc.audit_checkpoint(CheckpointKind::Periodic).await {
            tracing::error!(error = %e, "audit checkpoint failed");
        }
    }
}
