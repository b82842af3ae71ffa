//! Master-key backups under quorum (SPEC 1.3, 5.6): when the M-th member approves a
//! `backup_master_key` request, the node that received that vote exports the master
//! key under a fresh backup key, splits the backup key among the quorum's members,
//! writes the file (harmless alone) into its backup directory and keeps each member's
//! share, wrapped under the master key, until that member fetches it, once, over their
//! own authenticated session. No one else ever sees a share: not the requester, not
//! the other members, not the replicated request record.

use super::users::user_id;
use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::backup::master_key::{
    self, BackupParams, MasterKeyBackup, MasterKeyBackupError, EXTENSION,
};
use crate::keys::{new_object_id, now_millis, now_secs};
use crate::secret::KeyMaterial;
use crate::store::{MasterKeyShareRecord, WriteTx};
use zeroize::Zeroizing;

impl From<MasterKeyBackupError> for ServiceError {
    fn from(e: MasterKeyBackupError) -> Self {
        match e {
            MasterKeyBackupError::Rot(r) => ServiceError::Rot(r),
            other => ServiceError::InvalidArgument(other.to_string()),
        }
    }
}

/// A master-key backup as the API shows it: the file and whose shares still wait.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasterKeyBackupInfo {
    /// The file's text (JSON); store it with the data backups.
    pub file: String,
    /// The file's name in this node's backup directory.
    pub file_name: String,
    /// Holders who have not fetched their share from this node yet.
    pub waiting: Vec<String>,
}

/// The object ID a holder's share is wrapped for, so a share row moved to another
/// holder or backup does not unwrap.
pub(super) fn share_object_id(backup_id: &str, holder_id: &str) -> String {
    format!("master-key-share/{backup_id}/{holder_id}")
}

fn file_name(backup_id: &str) -> String {
    format!("clavis-master-key-{backup_id}.{EXTENSION}")
}

/// A backup ID as given by a caller: UUID characters only, so it is safe in a path.
fn checked_backup_id(id: &str) -> Result<&str, ServiceError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ServiceError::InvalidArgument(
            "a master-key backup ID is the UUID its quorum request's result names".into(),
        ));
    }
    Ok(id)
}

impl KeyService {
    /// Checks a `backup_master_key` request before anyone votes on it.
    pub(super) async fn check_master_key_backup(&self, threshold: u32) -> Result<(), ServiceError> {
        let n = self.store.quorum_members().await?.len();
        if threshold < 2 || threshold as usize > n {
            return Err(ServiceError::InvalidArgument(format!(
                "threshold: 2 to the quorum's {n} members (got {threshold}); the shares go \
                 one to each member"
            )));
        }
        if !self.rot.master_key_exportable() {
            return Err(ServiceError::InvalidArgument(
                "this node's root of trust does not export its master key: set \
                 root_of_trust.master_key_exportable = true (an HSM, and a master key made \
                 with that setting) or clone the token by the HSM's own means"
                    .into(),
            ));
        }
        self.backup_dir()?;
        Ok(())
    }

    /// Runs an approved master-key backup inside the transaction recording the
    /// approval; returns the request's (replicated, secret-free) result.
    pub(super) async fn run_master_key_backup(
        &self,
        tx: &mut WriteTx,
        threshold: u32,
    ) -> Result<String, ServiceError> {
        self.check_master_key_backup(threshold).await?;
        let members = self.store.quorum_members().await?;
        let mut holders = Vec::with_capacity(members.len());
        for id in &members {
            holders.push(self.user_name(id).await?);
        }
        let backup_id = new_object_id();
        let replica_id = self.store.replica_id().await?;
        // While a rotation waits for every node's HSM to hold the new key, the backup
        // carries that key: it is the one the other nodes need (the current key's
        // earlier backups still hold it).
        let pending = self
            .store
            .master_keys()
            .await?
            .into_iter()
            .find(|k| k.state == "pending")
            .map(|k| crate::rot::MasterKeyId(k.id));
        let exported = pending.unwrap_or_else(|| self.master_key.get());
        let active = self.master_key.get();
        let (file, shares) = master_key::create(
            self.rot.as_ref(),
            BackupParams {
                backup_id: &backup_id,
                replica_id: &replica_id,
                node_name: &self.node.name,
                master_key: &exported,
                created_at: now_secs(),
                // check_master_key_backup bounds it by the quorum's size (<= 32).
                threshold: u8::try_from(threshold).unwrap_or(u8::MAX),
                holders,
            },
        )?;
        let mut rows = Vec::with_capacity(shares.len());
        for ((_, share), holder_id) in shares.iter().zip(&members) {
            let text = share.to_text();
            let wrapped = self.rot.wrap(
                &active,
                &share_object_id(&backup_id, holder_id),
                &KeyMaterial::from_slice(text.as_bytes()),
            )?;
            rows.push(MasterKeyShareRecord {
                backup_id: backup_id.clone(),
                holder_id: holder_id.clone(),
                node_id: self.node.node_id.clone(),
                share_index: i64::from(share.index()),
                wrapped: wrapped.to_bytes(),
                created_at: now_secs(),
            });
        }
        // The file first: if the transaction then fails, an orphan file without shares
        // is useless; shares without their file would be worse (silently unusable).
        let name = file_name(&backup_id);
        let path = self.backup_dir()?.join(&name);
        let text = file.to_text();
        tokio::task::spawn_blocking({
            let path = path.clone();
            move || {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                crate::rot::software::write_atomically(&path, text.as_bytes())
            }
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("writing the master-key backup: {e}")))?
        .map_err(|e| ServiceError::Internal(format!("cannot write {}: {e}", path.display())))?;
        tx.put_master_key_shares(&rows).await?;
        tracing::info!(backup = %backup_id, file = %path.display(), threshold, shares = rows.len(), "master-key backup written");
        Ok(format!(
            "master-key backup {backup_id} written on node {node} as {name}; {threshold} of {n} \
             shares recover it. Each member fetches their share once from node {node}: \
             clavis master-key share-fetch {backup_id}",
            node = self.node.name,
            n = rows.len()
        ))
    }

    /// Hands a holder their share of master-key backup `backup_id`, once.
    pub async fn fetch_master_key_share(
        &self,
        who: &Principal,
        backup_id: &str,
    ) -> Result<Zeroizing<String>, ServiceError> {
        let action = "master_key.share_fetch";
        let r = self.fetch_share_inner(who, backup_id, action).await;
        self.audit_failure(who, action, Some(backup_id), r).await
    }

    async fn fetch_share_inner(
        &self,
        who: &Principal,
        backup_id: &str,
        action: &str,
    ) -> Result<Zeroizing<String>, ServiceError> {
        let backup_id = checked_backup_id(backup_id)?;
        let holder = user_id(who).ok_or_else(|| {
            ServiceError::Forbidden("master-key shares are fetched by users".into())
        })?;
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        let row = tx
            .take_master_key_share(backup_id, &holder, &self.node.node_id)
            .await?
            .ok_or_else(|| {
                ServiceError::NameNotFound(format!(
                    "no share of master-key backup {backup_id} waits for you on node {}: \
                     fetched already, not yours, or kept by the node its quorum request's \
                     result names",
                    self.node.name
                ))
            })?;
        let wrapped = crate::rot::WrappedKey::from_bytes(&row.wrapped)?;
        let plain = self
            .rot
            .unwrap(&wrapped, &share_object_id(backup_id, &holder))?;
        let text = Zeroizing::new(
            String::from_utf8(plain.expose_secret().to_vec())
                .map_err(|_| ServiceError::Internal("a stored share is not text".into()))?,
        );
        let ev = self.event(
            who,
            action,
            Some(backup_id),
            Outcome::Success,
            Some(format!("share {} handed to its holder", row.share_index)),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(text)
    }

    /// The file of master-key backup `backup_id` made on this node, and whose shares
    /// still wait here.
    pub async fn master_key_backup(
        &self,
        who: &Principal,
        backup_id: &str,
    ) -> Result<MasterKeyBackupInfo, ServiceError> {
        self.authorize(who, &Action::ManageCluster).await?;
        let backup_id = checked_backup_id(backup_id)?;
        let name = file_name(backup_id);
        let path = self.backup_dir()?.join(&name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServiceError::NameNotFound(format!(
                    "no master-key backup {backup_id} in node {}'s backup directory",
                    self.node.name
                )))
            }
            Err(e) => {
                return Err(ServiceError::Internal(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        MasterKeyBackup::from_text(&text)?;
        let mut waiting = Vec::new();
        for id in self
            .store
            .master_key_shares_waiting(backup_id, &self.node.node_id)
            .await?
        {
            waiting.push(self.user_name(&id).await?);
        }
        Ok(MasterKeyBackupInfo {
            file: text,
            file_name: name,
            waiting,
        })
    }
}
