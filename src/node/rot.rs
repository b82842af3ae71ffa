//! Opening the configured root of trust.

use super::{io_err, NodeError};
use crate::config::{Config, RotConfig, SoftwareRotConfig};
use crate::rot::pkcs11::Pkcs11Rot;
use crate::rot::software::SoftwareRot;
use crate::rot::RootOfTrust;
use secrecy::SecretString;
use std::sync::Arc;

/// Opens the root of trust named in the config. With `create`, a software root of
/// trust gets a new sealed file (and, if configured, a new passphrase file).
pub fn open_rot(cfg: &Config, create: bool) -> Result<Arc<dyn RootOfTrust>, NodeError> {
    match &cfg.root_of_trust {
        RotConfig::Pkcs11(p) => Ok(Arc::new(Pkcs11Rot::open(p, &cfg.base_dir)?)),
        RotConfig::Software(s) => {
            tracing::warn!(
                root_of_trust = "software",
                "SOFTWARE ROOT OF TRUST: the master key is sealed in a file and lives in process memory. \
                 For the quick start and development only; use an HSM (kind = \"pkcs11\") in production."
            );
            let path = cfg.data_path(&s.sealed_file);
            let passphrase = software_passphrase(cfg, s, create)?;
            let rot = if create {
                SoftwareRot::create(&path, passphrase)?
            } else {
                SoftwareRot::open(&path, passphrase)?
            };
            Ok(Arc::new(rot))
        }
    }
}

fn software_passphrase(
    cfg: &Config,
    s: &SoftwareRotConfig,
    create: bool,
) -> Result<SecretString, NodeError> {
    if let Ok(p) = std::env::var(&s.passphrase_env) {
        if !p.is_empty() {
            return Ok(SecretString::from(p));
        }
    }
    let Some(file) = &s.passphrase_file else {
        return Err(NodeError::Other(format!(
            "root_of_trust: the software root of trust needs a passphrase: set the environment variable {} \
             or root_of_trust.passphrase_file",
            s.passphrase_env
        )));
    };
    let path = cfg.data_path(file);
    if create && !path.exists() {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|_| NodeError::Other("no OS randomness".into()))?;
        let pass = zeroize::Zeroizing::new(hex::encode(raw));
        crate::rot::software::write_atomically(&path, pass.as_bytes()).map_err(io_err(&path))?;
    }
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let pass = text.trim().to_owned();
    if pass.is_empty() {
        return Err(NodeError::Other(format!(
            "{}: the passphrase file is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(pass))
}
