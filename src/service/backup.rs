//! On-demand data backups (SPEC 8.1): System Administrators with the recovery
//! passphrase, which is also what protects the file, so a restore needs it too.
//! Scheduled ones are in `backup_schedule`.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::backup::archive::{read_metadata, BackupKey, Metadata, WriterOptions};
use crate::backup::data::{self, Written, EXTENSION};
use crate::backup::snapshot::SnapshotError;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A backup file in the backup directory, as its header describes it (read without
/// the key, so not yet authenticated).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupListing {
    /// File name in the backup directory.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The header's metadata, or why it could not be read.
    pub metadata: Option<Metadata>,
    /// Set when the file is not a readable backup.
    pub error: Option<String>,
}

impl From<SnapshotError> for ServiceError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Store(s) => ServiceError::Store(s),
            other => ServiceError::Internal(format!("backup failed: {other}")),
        }
    }
}

impl KeyService {
    /// Where this node writes backups and keeps its armed schedule key (set when the
    /// node starts).
    pub fn set_backup_paths(&self, dir: PathBuf, armed_key: PathBuf) {
        let _ = self.backup_paths.set((dir, armed_key));
    }

    pub(super) fn backup_dir(&self) -> Result<&PathBuf, ServiceError> {
        self.backup_paths
            .get()
            .map(|(dir, _)| dir)
            .ok_or_else(|| ServiceError::Internal("this node has no backup directory".into()))
    }

    /// Writes a full data backup into the backup directory, sealed under the recovery
    /// passphrase (checked first). Key service goes on while it runs.
    pub async fn create_backup(
        &self,
        who: &Principal,
        recovery: &SecretString,
    ) -> Result<Written, ServiceError> {
        let action = "backup.create";
        self.authorize(who, &Action::ManageCluster).await?;
        self.check_recovery(who, action, recovery).await?;
        let key =
            BackupKey::Passphrase(zeroize::Zeroizing::new(recovery.expose_secret().to_owned()));
        self.write_backup(who, action, key, "clavis").await
    }

    /// Writes a backup sealed under `key` into the backup directory, audited as
    /// `action` on success and on failure.
    pub(super) async fn write_backup(
        &self,
        who: &Principal,
        action: &str,
        key: BackupKey,
        prefix: &str,
    ) -> Result<Written, ServiceError> {
        let r = async {
            let dir = self.backup_dir()?.clone();
            let ca = self
                .store()
                .credential(crate::node::CA_CREDENTIAL_ID)
                .await?
                .ok_or_else(|| ServiceError::Internal("the cluster CA is missing".into()))?;
            let mut object_counts = BTreeMap::new();
            for (state, n) in self.store().count_by_state().await? {
                object_counts.insert(state.as_str().to_owned(), u64::try_from(n).unwrap_or(0));
            }
            let created_at = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| ServiceError::Internal(format!("clock: {e}")))?;
            let metadata = Metadata {
                cluster_id: cluster_id(&ca.cert_pem),
                node_id: self.node.node_id.clone(),
                node_name: self.node.name.clone(),
                created_at,
                schema_version: crate::store::SCHEMA_VERSION,
                object_counts,
                kind: data::KIND.into(),
            };
            let written = data::write(
                self.store(),
                &dir,
                key,
                metadata,
                WriterOptions::default(),
                prefix,
            )
            .await?;
            self.record(
                who,
                action,
                written.path.file_name().and_then(|n| n.to_str()),
                Outcome::Success,
                Some(format!(
                    "{} changes, {} audit records, {} bytes, sha256 {}",
                    written.counts.changes,
                    written.counts.audit_records,
                    written.bytes,
                    written.sha256
                )),
            )
            .await;
            Ok(written)
        }
        .await;
        self.audit_failure(who, action, None, r).await
    }

    /// The backups in the backup directory, newest name last.
    pub async fn list_backups(&self, who: &Principal) -> Result<Vec<BackupListing>, ServiceError> {
        self.authorize(who, &Action::ManageCluster).await?;
        let dir = self.backup_dir()?.clone();
        tokio::task::spawn_blocking(move || list(&dir))
            .await
            .map_err(|e| ServiceError::Internal(format!("listing backups: {e}")))?
    }
}

fn list(dir: &std::path::Path) -> Result<Vec<BackupListing>, ServiceError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ServiceError::Internal(format!("{}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') || path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let header = std::fs::File::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|f| read_metadata(std::io::BufReader::new(f)).map_err(|e| e.to_string()));
        let (metadata, error) = match header {
            Ok(h) => (Some(h.metadata_unverified().clone()), None),
            Err(e) => (None, Some(e)),
        };
        out.push(BackupListing {
            file: name,
            bytes,
            metadata,
            error,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(out)
}

/// A cluster's identity in backups: the first 16 bytes of its CA certificate's
/// SHA-256, hex.
fn cluster_id(ca_pem: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(ca_pem.as_bytes())[..16])
}
