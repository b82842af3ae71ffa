//! Scheduled data backups (SPEC 8.1). A node never holds the recovery passphrase, yet
//! a backup must open with it. So a System Administrator *arms* the schedule once with
//! the passphrase: the node stretches it with Argon2id under a fresh salt and keeps only
//! that key-encryption key, wrapped under the master key in the root of trust, in a
//! file of its data directory. Each scheduled backup seals its data key under it and
//! records the salt, so `clavisd restore` opens it with the passphrase like any other.
//! The armed key also remembers which passphrase it came from: after the passphrase
//! changes on another node, scheduled backups stop (loudly) until armed again, rather
//! than go on sealing under a passphrase nobody is meant to keep.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::backup::archive::{BackupKey, DerivedKey, KdfParams};
use crate::backup::data::{Written, EXTENSION};
use crate::rot::WrappedKey;
use crate::secret::KeyMaterial;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The armed key's file name in the data directory.
pub const ARMED_BACKUP_KEY_FILE: &str = "backup-schedule.key";

/// Scheduled backups' file-name prefix; retention only ever deletes these.
const SCHEDULED_PREFIX: &str = "clavis-scheduled";

/// The object ID the armed key is wrapped for (binds the wrap to this use).
const WRAP_BINDING: &str = "clavis-backup-schedule-kek";

#[derive(Serialize, Deserialize)]
struct ArmedFile {
    /// The key-encryption key wrapped under the master key, base64.
    wrapped_kek: String,
    salt: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    /// SHA-256 of the recovery passphrase hash it was armed against, hex.
    recovery_hash_sha256: String,
}

fn hash_of(phc: &str) -> String {
    hex::encode(Sha256::digest(phc.as_bytes()))
}

impl KeyService {
    fn armed_key_path(&self) -> Result<&PathBuf, ServiceError> {
        self.backup_paths
            .get()
            .map(|(_, key)| key)
            .ok_or_else(|| ServiceError::Internal("this node has no backup directory".into()))
    }

    /// True once scheduled backups were armed on this node.
    pub fn backup_schedule_armed(&self) -> bool {
        self.armed_key_path().is_ok_and(|p| p.exists())
    }

    /// Arms scheduled backups with the recovery passphrase (checked first).
    pub async fn arm_backup_schedule(
        &self,
        who: &Principal,
        recovery: &SecretString,
    ) -> Result<(), ServiceError> {
        let action = "backup.arm";
        self.authorize(who, &Action::ManageCluster).await?;
        self.check_recovery(who, action, recovery).await?;
        let r = self.write_armed_key(recovery).await;
        if r.is_ok() {
            self.record(who, action, None, Outcome::Success, None).await;
        }
        self.audit_failure(who, action, None, r).await
    }

    /// After the passphrase changed here: arm again with the new one, if armed.
    pub(super) async fn rearm_backup_schedule(&self, new: &SecretString) {
        let Ok(path) = self.armed_key_path() else {
            return;
        };
        if !path.exists() {
            return;
        }
        if let Err(e) = self.write_armed_key(new).await {
            tracing::error!(error = %e, "could not arm scheduled backups with the new recovery passphrase");
        }
    }

    async fn write_armed_key(&self, recovery: &SecretString) -> Result<(), ServiceError> {
        let path = self.armed_key_path()?.clone();
        let phc = self.store().recovery_hash().await?.unwrap_or_default();
        let passphrase = zeroize::Zeroizing::new(recovery.expose_secret().to_owned());
        let derived = tokio::task::spawn_blocking(move || {
            DerivedKey::derive(&passphrase, KdfParams::DEFAULT)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("key derivation stopped: {e}")))?
        .map_err(|e| ServiceError::Internal(format!("key derivation: {e}")))?;
        let (kek, salt, params) = derived.parts();
        let wrapped = self.rot.wrap(
            &self.master_key.get(),
            WRAP_BINDING,
            &KeyMaterial::from_slice(kek),
        )?;
        let file = ArmedFile {
            wrapped_kek: B64.encode(wrapped.to_bytes()),
            salt: B64.encode(salt),
            m_cost_kib: params.m_cost_kib,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            recovery_hash_sha256: hash_of(&phc),
        };
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| ServiceError::Internal(format!("armed key: {e}")))?;
        tokio::task::spawn_blocking(move || write_private(&path, &text))
            .await
            .map_err(|e| ServiceError::Internal(format!("writing the armed key stopped: {e}")))?
    }

    /// Reads the armed key file, if scheduled backups are armed.
    async fn read_armed_file(&self) -> Result<Option<(PathBuf, ArmedFile)>, ServiceError> {
        let Ok(path) = self.armed_key_path().cloned() else {
            return Ok(None);
        };
        let text = match tokio::fs::read(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ServiceError::Internal(format!("{}: {e}", path.display()))),
        };
        let file: ArmedFile = serde_json::from_slice(&text)
            .map_err(|_| ServiceError::Internal(format!("{}: not an armed key", path.display())))?;
        Ok(Some((path, file)))
    }

    /// True when the armed key is wrapped under master key `mk` (so a rotation must
    /// re-wrap it before `mk` goes).
    pub(super) async fn armed_key_under(
        &self,
        mk: &crate::rot::MasterKeyId,
    ) -> Result<bool, ServiceError> {
        let Some((_, file)) = self.read_armed_file().await? else {
            return Ok(false);
        };
        let wrapped = B64.decode(&file.wrapped_kek).unwrap_or_default();
        Ok(WrappedKey::from_bytes(&wrapped).is_ok_and(|w| &w.master_key_id == mk))
    }

    /// Re-wraps the armed key under master key `to` (rotation), replacing the file.
    pub(super) async fn rewrap_armed_key(
        &self,
        to: &crate::rot::MasterKeyId,
    ) -> Result<(), ServiceError> {
        let Some((path, mut file)) = self.read_armed_file().await? else {
            return Ok(());
        };
        let wrapped = B64.decode(&file.wrapped_kek).map_err(|_| {
            ServiceError::Internal(format!("{}: wrapped key is not base64", path.display()))
        })?;
        let kek = self
            .rot
            .unwrap(&WrappedKey::from_bytes(&wrapped)?, WRAP_BINDING)?;
        let fresh = self.rot.wrap(to, WRAP_BINDING, &kek)?;
        file.wrapped_kek = B64.encode(fresh.to_bytes());
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| ServiceError::Internal(format!("armed key: {e}")))?;
        tokio::task::spawn_blocking(move || write_private(&path, &text))
            .await
            .map_err(|e| ServiceError::Internal(format!("writing the armed key stopped: {e}")))??;
        tracing::info!(master_key = %to, "armed backup key re-wrapped under the new master key");
        Ok(())
    }

    async fn armed_key(&self) -> Result<BackupKey, ServiceError> {
        let path = self.armed_key_path()?;
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServiceError::WrongState(
                    "scheduled backups are not armed: run `clavis backup arm` with the recovery passphrase".into(),
                ))
            }
            Err(e) => return Err(ServiceError::Internal(format!("{}: {e}", path.display()))),
        };
        let bad = |what: &str| ServiceError::Internal(format!("{}: {what}", path.display()));
        let file: ArmedFile = serde_json::from_slice(&text).map_err(|_| bad("not an armed key"))?;
        let phc = self.store().recovery_hash().await?.unwrap_or_default();
        if file.recovery_hash_sha256 != hash_of(&phc) {
            return Err(ServiceError::WrongState(
                "the recovery passphrase changed since scheduled backups were armed: run \
                 `clavis backup arm` with the new one"
                    .into(),
            ));
        }
        let wrapped = B64
            .decode(&file.wrapped_kek)
            .map_err(|_| bad("wrapped key is not base64"))?;
        let kek = self
            .rot
            .unwrap(&WrappedKey::from_bytes(&wrapped)?, WRAP_BINDING)?;
        let salt = B64
            .decode(&file.salt)
            .map_err(|_| bad("salt is not base64"))?;
        let params = KdfParams {
            m_cost_kib: file.m_cost_kib,
            t_cost: file.t_cost,
            p_cost: file.p_cost,
        };
        DerivedKey::from_parts(kek.expose_secret(), &salt, params)
            .map(BackupKey::Derived)
            .ok_or_else(|| bad("key or salt of the wrong size"))
    }

    /// Takes a scheduled backup, then deletes this node's scheduled backups beyond the
    /// newest `keep` (0 keeps all) and runs `copy_command` with the new file's path.
    pub async fn scheduled_backup(
        &self,
        keep: usize,
        copy_command: &[String],
        copy_timeout: std::time::Duration,
    ) -> Result<Written, ServiceError> {
        let who = Principal::system("backup-scheduler");
        let action = "backup.scheduled";
        let key = match self.armed_key().await {
            Ok(k) => k,
            Err(e) => {
                self.record(&who, action, None, Outcome::Failed, Some(e.to_string()))
                    .await;
                return Err(e);
            }
        };
        let written = self
            .write_backup(&who, action, key, SCHEDULED_PREFIX)
            .await?;
        let dir = self.backup_dir()?.clone();
        let prefix = format!("{SCHEDULED_PREFIX}-{}-", self.node.name);
        let removed = tokio::task::spawn_blocking(move || prune(&dir, &prefix, keep))
            .await
            .map_err(|e| ServiceError::Internal(format!("retention stopped: {e}")))?;
        for name in removed {
            tracing::info!(file = %name, keep, "deleted an old scheduled backup");
        }
        if let Some((program, args)) = copy_command.split_first() {
            self.copy_backup(&who, program, args, &written.path, copy_timeout)
                .await;
        }
        Ok(written)
    }

    async fn copy_backup(
        &self,
        who: &Principal,
        program: &str,
        args: &[String],
        file: &Path,
        timeout: std::time::Duration,
    ) {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).arg(file).kill_on_drop(true);
        let name = file.file_name().and_then(|n| n.to_str()).map(str::to_owned);
        let outcome = match tokio::time::timeout(timeout, cmd.output()).await {
            Err(_) => Err(format!("{program} killed after {} s", timeout.as_secs())),
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => Err(format!(
                "{program} exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .chars()
                    .take(500)
                    .collect::<String>()
                    .trim()
            )),
            Ok(Err(e)) => Err(format!("{program}: {e}")),
        };
        match outcome {
            Ok(()) => {
                self.record(who, "backup.copy", name.as_deref(), Outcome::Success, None)
                    .await
            }
            Err(why) => {
                tracing::error!(error = %why, "copying the scheduled backup failed");
                self.record(
                    who,
                    "backup.copy",
                    name.as_deref(),
                    Outcome::Failed,
                    Some(why),
                )
                .await
            }
        }
    }
}

/// Runs scheduled backups until shutdown.
pub async fn run_scheduled_backups(
    svc: std::sync::Arc<KeyService>,
    schedule: crate::backup::schedule::Schedule,
    keep: usize,
    copy_command: Vec<String>,
    copy_timeout: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let wait = schedule.wait_from(time::OffsetDateTime::now_utc());
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(wait) => {}
        }
        match svc
            .scheduled_backup(keep, &copy_command, copy_timeout)
            .await
        {
            Ok(w) => tracing::info!(
                file = %w.path.display(),
                bytes = w.bytes,
                changes = w.counts.changes,
                "scheduled backup written"
            ),
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
    }
}

/// Writes `bytes` to `path` readable by the owner only, replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| ServiceError::Internal(format!("{}: {e}", path.display()));
    let tmp = path.with_extension("key.partial");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// True for `{prefix}YYYYMMDDTHHMMSSZ-{12 hex}.clbk`: a scheduled backup of exactly the
/// node the prefix names (a node `a` must not prune node `a-b`'s files).
fn is_scheduled_of(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(&format!(".{EXTENSION}")) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 16 + 1 + 12
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(|c| c.is_ascii_hexdigit())
}

/// Deletes all but the newest `keep` scheduled backups of `prefix`; their names.
fn prune(dir: &Path, prefix: &str, keep: usize) -> Vec<String> {
    if keep == 0 {
        return Vec::new();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_scheduled_of(n, prefix))
        .collect();
    // The time stamp sorts by name.
    names.sort();
    let excess = names.len().saturating_sub(keep);
    names
        .into_iter()
        .take(excess)
        .filter(|n| match std::fs::remove_file(dir.join(n)) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(file = %n, error = %e, "could not delete an old scheduled backup");
                false
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_nodes_scheduled_backups_match() {
        let p = "clavis-scheduled-a-";
        assert!(is_scheduled_of(
            "clavis-scheduled-a-20261203T070421Z-1efbd339096b.clbk",
            p
        ));
        for other in [
            "clavis-scheduled-a-b-20261203T070421Z-1efbd339096b.clbk",
            "clavis-a-20261203T070421Z-1efbd339096b.clbk",
            "clavis-scheduled-a-20261203T070421Z-1efbd339096b.clbk.partial",
            "clavis-scheduled-a-20261203T070421Z-1efbd339096.clbk",
            "clavis-scheduled-a-2026120XT070421Z-1efbd339096b.clbk",
        ] {
            assert!(!is_scheduled_of(other, p), "{other}");
        }
    }

    #[test]
    fn prune_keeps_the_newest_and_leaves_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = [
            "clavis-scheduled-a-20261201T020000Z-000000000001.clbk",
            "clavis-scheduled-a-20261202T020000Z-000000000002.clbk",
            "clavis-scheduled-a-20261203T020000Z-000000000003.clbk",
            "clavis-a-20261101T020000Z-000000000004.clbk",
            "clavis-scheduled-a-b-20261101T020000Z-000000000005.clbk",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), b"x").expect("write");
        }
        let removed = prune(dir.path(), "clavis-scheduled-a-", 2);
        assert_eq!(removed, vec![names[0].to_owned()]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        left.sort();
        let mut want: Vec<String> = names[1..].iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(left, want);
        assert!(prune(dir.path(), "clavis-scheduled-a-", 0).is_empty());
    }
}
