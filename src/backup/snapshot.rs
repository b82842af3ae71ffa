//! What a data backup holds, and how it is taken from and put back into a store.
//!
//! A backup is every origin's change log plus every origin's audit chain, the same
//! streams a new node copies when it joins. Both are append-only per origin, so
//! reading each origin up to the sequence captured at the start gives a consistent
//! cut without a long transaction and without blocking writers: rows written after the
//! start are simply not read. Restoring is applying those streams to an empty replica
//! with the replication applier, which makes a restored node the same as one that
//! copied the cluster when the backup was taken. Keys stay wrapped under the master
//! key throughout; node-local state (pools, join tokens) is not in the streams.
//!
//! The archive body ([`super::archive`]) is JSON lines: one [`Record`] per line,
//! ending with [`Record::End`], whose counts the reader checks.

use crate::audit::Checkpoint;
use crate::store::audit::AuditRecord;
use crate::store::{Change, ChangeOp, Store, StoreError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Changes and audit records read from the store per query.
const PAGE: i64 = 1000;

/// One line of a data backup.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// A change-log row of some origin.
    Change(ChangeRecord),
    /// An audit record of some origin's chain.
    Audit(AuditRecord),
    /// A signed audit checkpoint.
    Checkpoint(Checkpoint),
    /// The last line: how many of each came before it.
    End(Counts),
}

/// A change-log row as a backup carries it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangeRecord {
    origin: String,
    seq: i64,
    hlc: i64,
    node_id: String,
    entity: String,
    entity_id: String,
    op: ChangeOp,
    /// The payload (JSON text in the store; keys only wrapped), base64.
    payload: String,
    created_at: i64,
}

impl ChangeRecord {
    fn from_change(c: Change) -> ChangeRecord {
        ChangeRecord {
            payload: B64.encode(&c.payload),
            origin: c.origin,
            seq: c.seq,
            hlc: c.hlc,
            node_id: c.node_id,
            entity: c.entity,
            entity_id: c.entity_id,
            op: c.op,
            created_at: c.created_at,
        }
    }

    /// The change-log row, or why the line is not one.
    pub fn into_change(self) -> Result<Change, String> {
        let payload = B64
            .decode(&self.payload)
            .map_err(|e| format!("change {}#{}: payload: {e}", self.origin, self.seq))?;
        Ok(Change {
            origin: self.origin,
            seq: self.seq,
            hlc: self.hlc,
            node_id: self.node_id,
            entity: self.entity,
            entity_id: self.entity_id,
            op: self.op,
            payload,
            created_at: self.created_at,
        })
    }

    /// Checks that the line can become a change-log row.
    pub fn check(&self) -> Result<(), String> {
        B64.decode(&self.payload)
            .map(drop)
            .map_err(|e| format!("change {}#{}: payload: {e}", self.origin, self.seq))
    }

    /// The entity kind (`object`, `master_key`, ...).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The master key an object or credential payload is wrapped under, if any.
    pub fn wrapping_master_key(&self) -> Option<String> {
        if self.op != ChangeOp::Upsert || !matches!(self.entity.as_str(), "object" | "credential") {
            return None;
        }
        let bytes = B64.decode(&self.payload).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.get("master_key_id")?.as_str().map(str::to_owned)
    }
}

/// How many records of each kind a backup holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Change-log rows.
    pub changes: u64,
    /// Audit records.
    pub audit_records: u64,
    /// Audit checkpoints.
    pub checkpoints: u64,
}

/// Reads every origin's change log and audit chain up to where they stood when called,
/// sending each record, serialized as one line, to `sink`. Returns the counts sent
/// (before the `End` line, which carries them).
pub async fn take(
    store: &Store,
    sink: &tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<Counts, SnapshotError> {
    let changes_upto = store.version_vector().await?;
    let audit_upto = store.audit_version_vector().await?;
    let mut counts = Counts::default();
    let line = |r: &Record| -> Result<Vec<u8>, SnapshotError> {
        let mut bytes = serde_json::to_vec(r).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    };
    let send = |bytes: Vec<u8>| async move {
        sink.send(bytes)
            .await
            .map_err(|_| SnapshotError::Invalid("the backup writer stopped".into()))
    };
    for (origin, &upto) in &changes_upto {
        let mut after = 0;
        while after < upto {
            let page = store.changes_since(origin, after, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for c in page {
                if c.seq > upto {
                    after = upto;
                    break;
                }
                after = c.seq;
                send(line(&Record::Change(ChangeRecord::from_change(c)))?).await?;
                counts.changes += 1;
            }
        }
    }
    for (origin, &upto) in &audit_upto {
        let mut after = 0;
        let mut held: BTreeMap<String, i64> = BTreeMap::new();
        while after < upto {
            held.insert(origin.clone(), after);
            // `audit_for` reads every origin the peer lacks; asking as a peer that
            // holds everything of the others reads this origin only.
            for o in audit_upto.keys() {
                if o != origin {
                    held.insert(o.clone(), i64::MAX / 2);
                }
            }
            let (records, checkpoints) = store.audit_for(&held, PAGE).await?;
            if records.is_empty() {
                break;
            }
            for r in records {
                if r.seq > upto {
                    after = upto;
                    break;
                }
                after = r.seq;
                send(line(&Record::Audit(r))?).await?;
                counts.audit_records += 1;
            }
            for c in checkpoints.into_iter().filter(|c| c.seq <= after) {
                send(line(&Record::Checkpoint(c))?).await?;
                counts.checkpoints += 1;
            }
        }
    }
    send(line(&Record::End(counts.clone()))?).await?;
    Ok(counts)
}

/// Why taking or reading a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record could not be written.
    #[error("backup record: {0}")]
    Encode(String),
    /// Writing the archive failed.
    #[error(transparent)]
    Archive(#[from] super::archive::BackupError),
    /// A line of the body is not a record, or the body does not end as it must.
    #[error("backup contents are not valid: {0}")]
    Invalid(String),
}

/// Reads the records of a backup body line by line, checking that it ends with an
/// `End` record whose counts match what came before.
pub struct RecordReader<R: std::io::BufRead> {
    input: R,
    seen: Counts,
    ended: bool,
    line: Vec<u8>,
}

impl<R: std::io::BufRead> RecordReader<R> {
    /// Reads records from `input` (an opened archive, buffered).
    pub fn new(input: R) -> RecordReader<R> {
        RecordReader {
            input,
            seen: Counts::default(),
            ended: false,
            line: Vec::new(),
        }
    }

    /// The next record before `End`; `None` after a valid `End` that is the last line.
    pub fn next_record(&mut self) -> Result<Option<Record>, SnapshotError> {
        self.line.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.line)
            .map_err(|e| SnapshotError::Archive(super::archive::BackupError::from_io(e)))?;
        if n == 0 {
            if self.ended {
                return Ok(None);
            }
            return Err(SnapshotError::Invalid(
                "the body ends without its End record".into(),
            ));
        }
        if self.ended {
            return Err(SnapshotError::Invalid(
                "records after the End record".into(),
            ));
        }
        let r: Record = serde_json::from_slice(&self.line)
            .map_err(|e| SnapshotError::Invalid(format!("record: {e}")))?;
        match &r {
            Record::Change(_) => self.seen.changes += 1,
            Record::Audit(_) => self.seen.audit_records += 1,
            Record::Checkpoint(_) => self.seen.checkpoints += 1,
            Record::End(c) => {
                if *c != self.seen {
                    return Err(SnapshotError::Invalid(format!(
                        "the End record counts {c:?} but the body holds {:?}",
                        self.seen
                    )));
                }
                self.ended = true;
                return self.next_record();
            }
        }
        Ok(Some(r))
    }

    /// What was read so far.
    pub fn counts(&self) -> &Counts {
        &self.seen
    }
}
