//! `clavisd master-key import`: put the master key of a master-key backup into this
//! node's HSM, given M of the quorum's shares. Runs offline, before `clavisd restore`
//! on a new node: a new node has no quorum yet, so the M shares are the members'
//! consent.

use super::{open_rot, NodeError};
use crate::backup::master_key::MasterKeyBackup;
use crate::backup::shamir::parse_shares;
use crate::config::Config;
use crate::rot::MasterKeyId;

/// What [`import_master_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// The master key is now in the root of trust.
    Imported(MasterKeyId),
    /// The root of trust held it already (an earlier import); the shares were checked.
    AlreadyPresent(MasterKeyId),
}

/// Checks the shares against the backup and imports its master key into the root of
/// trust `cfg` names. Writes nothing to the HSM unless every check passes; a second
/// run (say, after a restore refused a wrong passphrase) checks the shares again and
/// leaves the key that is there.
pub fn import_master_key(
    cfg: &Config,
    backup_text: &str,
    share_texts: &[String],
) -> Result<Imported, NodeError> {
    let backup = MasterKeyBackup::from_text(backup_text)
        .map_err(|e| NodeError::Other(format!("{e}; nothing was imported")))?;
    let shares = parse_shares(share_texts)
        .map_err(|e| NodeError::Other(format!("{e}; nothing was imported")))?;
    let rot = open_rot(cfg, false)?;
    let fail = |e| NodeError::Other(format!("{e}; nothing was imported"));
    let id = MasterKeyId(backup.master_key_id.clone());
    if rot.has_master_key(&id)? {
        backup.verify(&shares).map_err(fail)?;
        return Ok(Imported::AlreadyPresent(id));
    }
    backup.restore_into(rot.as_ref(), &shares).map_err(fail)?;
    Ok(Imported::Imported(id))
}
