//! Group commit for audit records that change nothing else (reads, denials, logins).
//!
//! Each such record must be durable before its request is answered, but one durable
//! transaction per read makes the database's single writer the ceiling for all read
//! traffic. Callers hand their record to one writer task and wait; the task appends
//! every record waiting at that moment in one transaction (one fsync) and then
//! answers each caller. A lone caller pays one transaction, as before.

use crate::audit::AuditEvent;
use crate::store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most records appended in one transaction.
const MAX_BATCH: usize = 256;
/// Records that may wait for the writer before callers queue on the channel.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), String>>;

/// Handle to the writer task.
pub(crate) struct AuditWriter {
    tx: mpsc::Sender<(AuditEvent, i64, Reply)>,
}

impl AuditWriter {
    /// Starts the writer on the current runtime.
    pub(crate) fn start(store: Store, node_id: String) -> AuditWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, node_id, rx));
        AuditWriter { tx }
    }

    /// Appends `ev` and returns once it is committed.
    pub(crate) async fn append(&self, ev: AuditEvent, at_ms: i64) -> Result<(), String> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((ev, at_ms, reply))
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        done.await
            .map_err(|_| "the audit writer stopped before committing".to_owned())?
    }
}

async fn run(store: Store, node_id: String, mut rx: mpsc::Receiver<(AuditEvent, i64, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<AuditEvent> = batch.iter().map(|(e, _, _)| e.clone()).collect();
        let at_ms = batch.iter().map(|(_, t, _)| *t).max().unwrap_or_default();
        let result = commit(&store, &node_id, &events, at_ms)
            .await
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, records = events.len(), "could not write audit records");
        }
        for (_, _, reply) in batch.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}

async fn commit(
    store: &Store,
    node_id: &str,
    events: &[AuditEvent],
    at_ms: i64,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write(node_id).await?;
    tx.append_audit_batch(events, at_ms).await?;
    tx.commit().await
}
