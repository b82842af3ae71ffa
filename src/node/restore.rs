//! `clavisd restore`: rebuild a node from a data backup.
//!
//! The node must be new (no node file, an empty database) and its root of trust must
//! hold every master key the backup's keys are wrapped under: the same HSM token or a
//! clone of it, or the sealed file and passphrase of the software root of trust. The
//! backup is opened with the recovery passphrase it was made with and read twice:
//! once to check all of it (authenticity, structure, master keys) before anything is
//! written, then to apply it through the replication applier into a new replica. The
//! node then registers itself as `clavisd join` does (certificate from the restored
//! cluster CA), and `clavisd run` serves the restored data. The nodes of the old
//! cluster stay listed as members; remove those that are gone.

use super::{io_err, open_rot, NodeError, NodeFile};
use crate::backup::archive::{BackupError, BackupKey, Metadata};
use crate::backup::data::read_records;
use crate::backup::snapshot::{Counts, Record, SnapshotError};
use crate::config::Config;
use crate::keys::now_secs;
use crate::rot::MasterKeyId;
use crate::store::audit::AuditRecord;
use crate::store::{Change, Store};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Changes or audit records applied per transaction.
const BATCH: usize = 2000;

/// What `restore` reports.
pub struct RestoreOutput {
    /// The restored node's ID.
    pub node_id: String,
    /// Its new replica.
    pub replica_id: String,
    /// What the backup held.
    pub counts: Counts,
    /// The backup's metadata.
    pub metadata: Metadata,
}

fn backup_err(e: SnapshotError) -> NodeError {
    match e {
        SnapshotError::Archive(BackupError::WrongKey) => NodeError::Other(
            "wrong recovery passphrase: this backup was made with another one; nothing was restored"
                .into(),
        ),
        SnapshotError::Store(s) => s.into(),
        other => NodeError::Other(format!("{other}; nothing was restored")),
    }
}

/// Restores the backup at `file` onto this (new) node. `progress(done, total)` is
/// called with bytes of the file read during each of the two passes (total is twice
/// the file's size).
pub async fn restore(
    cfg: &Config,
    file: &Path,
    recovery: &SecretString,
    mut progress: impl FnMut(u64, u64),
) -> Result<RestoreOutput, NodeError> {
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
    if data_dir.join(NodeFile::NAME).exists() {
        return Err(NodeError::Other(format!(
            "{} exists: restore onto a new node (or `clavisd factory-reset` this one first)",
            data_dir.join(NodeFile::NAME).display()
        )));
    }
    let size = std::fs::metadata(file).map_err(io_err(file))?.len();
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    if let Some(existing) = store.replica_id_opt().await? {
        return Err(crate::store::StoreError::AlreadyInitialized(existing).into());
    }
    let rot = open_rot(cfg, false)?;
    let key =
        || BackupKey::Passphrase(zeroize::Zeroizing::new(recovery.expose_secret().to_owned()));

    // Pass 1: check everything before writing anything.
    let read = Arc::new(AtomicU64::new(0));
    let check = {
        let (path, read, key) = (file.to_path_buf(), read.clone(), key());
        tokio::task::spawn_blocking(move || {
            let mut needed = BTreeSet::new();
            let r = read_records(&path, &key, read, |r| {
                if let Record::Change(c) = &r {
                    if let Some(mk) = c.wrapping_master_key() {
                        needed.insert(mk);
                    }
                    c.check().map_err(SnapshotError::Invalid)?;
                }
                Ok(())
            });
            r.map(|(m, c)| (m, c, needed))
        })
    };
    let (metadata, counts, needed) = wait_with_progress(check, &read, 0, size * 2, &mut progress)
        .await?
        .map_err(backup_err)?;
    if metadata.schema_version > crate::store::SCHEMA_VERSION {
        return Err(NodeError::Other(format!(
            "the backup was made by a newer Clavis (schema {}, this one has {}): restore it \
             with that version or later; nothing was restored",
            metadata.schema_version,
            crate::store::SCHEMA_VERSION
        )));
    }
    let missing: Vec<String> = needed
        .iter()
        .filter(|id| {
            !rot.has_master_key(&MasterKeyId((*id).clone()))
                .unwrap_or(false)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::Other(format!(
            "this node's root of trust does not hold master key(s) {} that the backup's keys are \
             wrapped under: point it at the HSM token (or a clone) or the sealed file that holds \
             them; nothing was restored",
            missing.join(", ")
        )));
    }

    // Pass 2: apply, in batches, through the replication applier.
    let node_id = uuid::Uuid::now_v7().to_string();
    let replica_id = uuid::Uuid::now_v7().to_string();
    store.init_replica(&replica_id, now_secs()).await?;
    let read = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(BATCH * 2);
    let reader = {
        let (path, read, key) = (file.to_path_buf(), read.clone(), key());
        tokio::task::spawn_blocking(move || {
            read_records(&path, &key, read, |r| {
                tx.blocking_send(r)
                    .map_err(|_| SnapshotError::Invalid("the restore stopped".into()))
            })
        })
    };
    let mut changes: Vec<Change> = Vec::with_capacity(BATCH);
    let mut audit: Vec<AuditRecord> = Vec::new();
    let mut checkpoints = Vec::new();
    let mut last_report = std::time::Instant::now();
    while let Some(r) = rx.recv().await {
        match r {
            Record::Change(c) => {
                changes.push(c.into_change().map_err(NodeError::Other)?);
                if changes.len() >= BATCH {
                    apply(&store, &node_id, &mut changes).await?;
                }
            }
            Record::Audit(a) => {
                audit.push(a);
                if audit.len() >= BATCH {
                    apply_audit(&store, &node_id, &mut audit, &mut checkpoints).await?;
                }
            }
            Record::Checkpoint(c) => checkpoints.push(c),
            Record::End(_) => {}
        }
        if last_report.elapsed().as_millis() >= 200 {
            progress(size + read.load(Ordering::Relaxed), size * 2);
            last_report = std::time::Instant::now();
        }
    }
    apply(&store, &node_id, &mut changes).await?;
    apply_audit(&store, &node_id, &mut audit, &mut checkpoints).await?;
    reader
        .await
        .map_err(|e| NodeError::Other(format!("the restore reader stopped: {e}")))?
        .map_err(|e| {
            NodeError::Other(format!(
                "the backup changed between the check and the restore: {e}; \
                 `clavisd factory-reset` this node and restore again"
            ))
        })?;
    progress(size * 2, size * 2);

    super::join::register(
        cfg,
        &store,
        &replica_id,
        &node_id,
        recovery,
        "node.restore",
        &format!(
            "node {node_id} restored as replica {replica_id} from a backup of node {} ({}) taken {}",
            metadata.node_name, metadata.node_id, metadata.created_at
        ),
    )
    .await?;
    store.close().await;
    Ok(RestoreOutput {
        node_id,
        replica_id,
        counts,
        metadata,
    })
}

async fn wait_with_progress<T>(
    mut task: tokio::task::JoinHandle<T>,
    read: &AtomicU64,
    base: u64,
    total: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<T, NodeError> {
    loop {
        tokio::select! {
            r = &mut task => {
                return r.map_err(|e| NodeError::Other(format!("the backup check stopped: {e}")));
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                progress(base + read.load(Ordering::Relaxed), total);
            }
        }
    }
}

async fn apply(store: &Store, node_id: &str, changes: &mut Vec<Change>) -> Result<(), NodeError> {
    if changes.is_empty() {
        return Ok(());
    }
    let report = store.apply_changes(node_id, changes).await?;
    if report.gaps > 0 {
        return Err(NodeError::Other(format!(
            "the backup misses {} change(s) of some origin; the node is partly restored: \
             `clavisd factory-reset` it",
            report.gaps
        )));
    }
    changes.clear();
    Ok(())
}

async fn apply_audit(
    store: &Store,
    node_id: &str,
    records: &mut Vec<AuditRecord>,
    checkpoints: &mut Vec<crate::audit::Checkpoint>,
) -> Result<(), NodeError> {
    let report = store.apply_audit(node_id, records, checkpoints).await?;
    if report.refused > 0 {
        tracing::warn!(
            refused = report.refused,
            "audit records of the backup did not continue their chains and were left out"
        );
    }
    records.clear();
    checkpoints.clear();
    Ok(())
}

/// Where `restore --rewrap-to` puts the restored keys.
pub enum RewrapTarget {
    /// A master key already in this node's root of trust, by label.
    Existing(MasterKeyId),
    /// A new master key, generated now.
    New,
}

/// Checks before a restore that `target` can be re-wrapped to: an existing label must
/// be in this node's root of trust.
pub fn check_rewrap_target(cfg: &Config, target: &RewrapTarget) -> Result<(), NodeError> {
    if let RewrapTarget::Existing(id) = target {
        if !open_rot(cfg, false)?.has_master_key(id)? {
            return Err(NodeError::Other(format!(
                "this node's root of trust holds no master key {id} to re-wrap to; nothing was \
                 restored"
            )));
        }
    }
    Ok(())
}

/// After a restore: makes `target` the active master key and re-wraps every restored
/// key under it. The backup's master key (brought in only to be read) is destroyed in
/// this root of trust once every listed member has drained it: at once if the node
/// is alone, else once the old cluster's nodes are removed (the running node does it
/// then). `progress(done, total)` counts keys. Interrupted, the re-wrap resumes in the
/// background when the node runs. Returns the new master key, the keys re-wrapped and
/// the backup's master keys still in this root of trust.
pub async fn rewrap_restored(
    cfg: &Config,
    target: RewrapTarget,
    progress: impl FnMut(u64, u64),
) -> Result<(MasterKeyId, u64, Vec<MasterKeyId>), NodeError> {
    let node_file = NodeFile::load(&cfg.data_dir())?;
    let rot = open_rot(cfg, false)?;
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    let keys = store.master_keys().await?;
    let to = match target {
        RewrapTarget::Existing(id) => {
            if !rot.has_master_key(&id)? {
                return Err(NodeError::Other(format!(
                    "this node's root of trust holds no master key {id}; the restored keys stay \
                     under the backup's master key"
                )));
            }
            id
        }
        RewrapTarget::New => {
            let id = MasterKeyId::generate();
            rot.generate_master_key(&id)?;
            id
        }
    };
    if keys.iter().any(|k| k.id == to.0) {
        return Err(NodeError::Other(format!(
            "master key {to} is already one of the restored replica's master keys"
        )));
    }
    let now = now_secs();
    let hlc = crate::hlc::Hlc::new();
    hlc.observe(u64::try_from(store.max_hlc().await?).unwrap_or(0));
    let stamp = || crate::hlc::to_db(hlc.now());
    let mut tx = store.begin_write(&node_file.node_id).await?;
    for k in keys
        .iter()
        .filter(|k| k.state == "active" || k.state == "pending")
    {
        tx.set_master_key_state(&k.id, "retiring", stamp(), now)
            .await?;
    }
    tx.insert_master_key(
        &crate::store::MasterKeyRecord {
            id: to.0.clone(),
            rot_kind: rot.kind().to_string(),
            state: "active".into(),
            created_at: now,
        },
        stamp(),
    )
    .await?;
    tx.put_master_key_holder(
        &crate::store::MasterKeyHolder {
            master_key_id: to.0.clone(),
            node_id: node_file.node_id.clone(),
            confirmed_at: now,
            drained_at: None,
        },
        stamp(),
    )
    .await?;
    tx.commit().await?;
    let node = store
        .node(&node_file.node_id)
        .await?
        .ok_or_else(|| NodeError::Other(format!("node {} is not registered", node_file.node_id)))?;
    let svc = crate::service::KeyService::open(
        rot.clone(),
        store.clone(),
        crate::service::NodeIdentity {
            node_id: node.id,
            name: cfg.node.name.clone(),
            site: cfg.node.site.clone(),
        },
    )
    .await?;
    svc.record_system(
        "master_key.rewrap_restored",
        Some(&to.0),
        Some("restored keys re-wrapped under this node's master key".into()),
    )
    .await;
    let done = svc.rewrap_all(progress).await?;
    store.close().await;
    let kept = keys
        .iter()
        .map(|k| MasterKeyId(k.id.clone()))
        .filter(|id| rot.has_master_key(id).unwrap_or(false))
        .collect();
    Ok((to, done, kept))
}
