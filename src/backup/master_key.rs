//! The master-key backup (SPEC 1.3, 5.6, 8): the master key, exported from the HSM
//! under quorum, wrapped under a fresh 256-bit backup key that is split with Shamir's
//! scheme among the quorum's members, one share each; any M of them recover it.
//!
//! The file alone reveals nothing (the master key in it is wrapped), and the shares
//! alone hold no key material of the cluster. Recovering needs the file and M shares:
//! the shares give the backup key, which must verify the file's MAC (over every other
//! field, so a changed byte anywhere is refused) before the wrapped master key is
//! unwrapped into the new HSM, where it lands as a non-extractable-again token object
//! unless that node is configured for exportable master keys.
//!
//! The file is JSON (`clavis-master-key-backup-1`), small and readable:
//!
//! | field | meaning |
//! |---|---|
//! | `backup_id` | this backup's ID (the shares are fetched by it) |
//! | `replica_id`, `node_name` | where it was made |
//! | `master_key_id` | the master key's label in the HSM |
//! | `created_at` | Unix seconds |
//! | `threshold`, `holders` | M, and the member holding share *i* at `holders[i-1]` |
//! | `split_id` | hex; the same in every share of this backup |
//! | `wrapped_master_key` | base64 of RFC 5649 AES key wrap (with padding) under the backup key |
//! | `mac` | hex HMAC-SHA-256 over the file with `mac` empty, under a key derived from the backup key |

use super::shamir::{self, ShamirError, Share};
use crate::rot::{MasterKeyId, RootOfTrust, RotError};
use crate::secret::KeyMaterial;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The `format` field of a master-key backup file.
pub const FORMAT: &str = "clavis-master-key-backup-1";
/// File-name extension of master-key backups in the backup directory.
pub const EXTENSION: &str = "clmk";
/// Largest file read back (a backup is about 1 KiB).
pub const MAX_FILE_LEN: usize = 64 * 1024;
/// Most share holders (the quorum's size limit).
pub const MAX_HOLDERS: usize = 32;

const BACKUP_KEY_LEN: usize = 32;
const MAC_KEY_LABEL: &[u8] = b"clavis-master-key-backup-1 mac";

/// Why a master-key backup could not be made or opened. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyBackupError {
    /// The root of trust refused or failed.
    #[error(transparent)]
    Rot(#[from] RotError),
    /// Splitting or combining the shares failed (too few, mixed, mistyped).
    #[error(transparent)]
    Shares(#[from] ShamirError),
    /// The file is not a master-key backup this version reads.
    #[error("not a master-key backup file: {0}")]
    Malformed(String),
    /// The shares belong to another backup.
    #[error(
        "the shares belong to another master-key backup (split {shares}, this file's is {file})"
    )]
    WrongBackup {
        /// The shares' split ID, hex.
        shares: String,
        /// The file's split ID, hex.
        file: String,
    },
    /// The recovered key does not verify the file: a share or the file was altered.
    #[error(
        "the shares do not open this backup: the file or one of the shares was altered \
         (a share's own check passed, so it was forged or belongs to a changed file)"
    )]
    BadMac,
    /// The parameters of a new backup are out of range.
    #[error("invalid master-key backup: {0}")]
    Invalid(String),
}

/// A master-key backup file, as written and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKeyBackup {
    /// Always [`FORMAT`].
    pub format: String,
    /// This backup's ID.
    pub backup_id: String,
    /// The replica it was made on.
    pub replica_id: String,
    /// The node that made it.
    pub node_name: String,
    /// The master key's label in the HSM.
    pub master_key_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Shares needed (M).
    pub threshold: u8,
    /// Share holders (user names); share index i belongs to `holders[i - 1]`.
    pub holders: Vec<String>,
    /// Split ID of the shares, hex.
    pub split_id: String,
    /// The master key wrapped under the backup key (RFC 5649), base64.
    pub wrapped_master_key: String,
    /// HMAC-SHA-256 of the file with this field empty, hex.
    pub mac: String,
}

/// Where and for whom a new backup is made.
pub struct BackupParams<'a> {
    /// The new backup's ID.
    pub backup_id: &'a str,
    /// The replica making it.
    pub replica_id: &'a str,
    /// The node making it.
    pub node_name: &'a str,
    /// The master key to back up.
    pub master_key: &'a MasterKeyId,
    /// Unix seconds.
    pub created_at: i64,
    /// Shares needed (M).
    pub threshold: u8,
    /// Share holders; one share each, in this order.
    pub holders: Vec<String>,
}

/// Exports the master key under a fresh backup key and splits that key among the
/// holders. Returns the file and each holder's share, in the holders' order.
pub fn create(
    rot: &dyn RootOfTrust,
    p: BackupParams<'_>,
) -> Result<(MasterKeyBackup, Vec<(String, Share)>), MasterKeyBackupError> {
    let n = p.holders.len();
    if !(2..=MAX_HOLDERS).contains(&n) {
        return Err(MasterKeyBackupError::Invalid(format!(
            "2 to {MAX_HOLDERS} share holders (got {n})"
        )));
    }
    if p.threshold < 2 || usize::from(p.threshold) > n {
        return Err(MasterKeyBackupError::Invalid(format!(
            "the threshold must be 2 to {n} (got {})",
            p.threshold
        )));
    }
    let backup_key = rot.random(BACKUP_KEY_LEN)?;
    let wrapped = rot.export_master_key(p.master_key, &backup_key)?;
    // n <= MAX_HOLDERS, checked above.
    let shares = shamir::split(backup_key.expose_secret(), p.threshold, n as u8)?;
    let split_id = shares
        .first()
        .map(|s| hex::encode(s.split_id()))
        .unwrap_or_default();
    let mut file = MasterKeyBackup {
        format: FORMAT.into(),
        backup_id: p.backup_id.into(),
        replica_id: p.replica_id.into(),
        node_name: p.node_name.into(),
        master_key_id: p.master_key.0.clone(),
        created_at: p.created_at,
        threshold: p.threshold,
        holders: p.holders.clone(),
        split_id,
        wrapped_master_key: B64.encode(&wrapped),
        mac: String::new(),
    };
    file.mac = hex::encode(mac(&file, &backup_key)?.as_ref());
    Ok((file, p.holders.into_iter().zip(shares).collect()))
}

/// The MAC over `file` with its `mac` field emptied.
fn mac(
    file: &MasterKeyBackup,
    backup_key: &KeyMaterial,
) -> Result<ring::hmac::Tag, MasterKeyBackupError> {
    let mut unsigned = file.clone();
    unsigned.mac.clear();
    let body = serde_json::to_vec(&unsigned)
        .map_err(|e| MasterKeyBackupError::Malformed(e.to_string()))?;
    let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, backup_key.expose_secret());
    let derived = ring::hmac::sign(&root, MAC_KEY_LABEL);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
    Ok(ring::hmac::sign(&key, &body))
}

impl MasterKeyBackup {
    /// The file's text: pretty JSON and a final newline.
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads a file's text; checks its structure, not yet its MAC (that needs the shares).
    pub fn from_text(text: &str) -> Result<MasterKeyBackup, MasterKeyBackupError> {
        if text.len() > MAX_FILE_LEN {
            return Err(MasterKeyBackupError::Malformed(format!(
                "{} bytes; a master-key backup is a few hundred",
                text.len()
            )));
        }
        let b: MasterKeyBackup = serde_json::from_str(text)
            .map_err(|e| MasterKeyBackupError::Malformed(e.to_string()))?;
        if b.format != FORMAT {
            return Err(MasterKeyBackupError::Malformed(format!(
                "format {:?}, this version reads {FORMAT:?}",
                b.format.chars().take(64).collect::<String>()
            )));
        }
        if b.holders.len() < 2
            || b.holders.len() > MAX_HOLDERS
            || b.threshold < 2
            || usize::from(b.threshold) > b.holders.len()
        {
            return Err(MasterKeyBackupError::Malformed(
                "threshold and holders are out of range".into(),
            ));
        }
        Ok(b)
    }

    /// Recovers the backup key from the shares and checks the file with it.
    fn open(&self, shares: &[Share]) -> Result<KeyMaterial, MasterKeyBackupError> {
        if let Some(s) = shares
            .iter()
            .find(|s| hex::encode(s.split_id()) != self.split_id)
        {
            return Err(MasterKeyBackupError::WrongBackup {
                shares: hex::encode(s.split_id()),
                file: self.split_id.chars().take(64).collect(),
            });
        }
        if let Some(first) = shares.first() {
            if first.threshold() != self.threshold {
                // A share claiming a smaller threshold than the file is forged or from a
                // changed file; refuse before combining fewer than the file needs.
                return Err(MasterKeyBackupError::BadMac);
            }
        }
        let key = KeyMaterial::from_slice(&shamir::combine(shares)?);
        let expected = hex::decode(&self.mac).map_err(|_| MasterKeyBackupError::BadMac)?;
        if !crate::secret::ct_eq(mac(self, &key)?.as_ref(), &expected) {
            return Err(MasterKeyBackupError::BadMac);
        }
        Ok(key)
    }

    /// Checks the shares against the file and unwraps the master key into `rot` under
    /// its original label. Nothing is written to the HSM unless every check passes.
    pub fn restore_into(
        &self,
        rot: &dyn RootOfTrust,
        shares: &[Share],
    ) -> Result<MasterKeyId, MasterKeyBackupError> {
        let key = self.open(shares)?;
        let wrapped = B64
            .decode(&self.wrapped_master_key)
            .map_err(|_| MasterKeyBackupError::BadMac)?;
        let id = MasterKeyId(self.master_key_id.clone());
        rot.import_master_key(&id, &key, &wrapped)?;
        Ok(id)
    }

    /// Only checks that the shares open this file (for a dry run).
    pub fn verify(&self, shares: &[Share]) -> Result<(), MasterKeyBackupError> {
        self.open(shares).map(|_| ())
    }
}
