//! Opening the configured root of trust.

use super::{io_err, NodeError};
use crate::config::{Config, RotConfig, SoftwareRotConfig};
use crate::rot::failover::{FailoverRot, Member};
use crate::rot::pkcs11::Pkcs11Rot;
use crate::rot::software::SoftwareRot;
use crate::rot::RootOfTrust;
use secrecy::SecretString;
use std::sync::Arc;

/// Opens the root of trust named in the config. With `create`, a software root of
/// trust gets a new sealed file (and, if configured, a new passphrase file).
pub fn open_rot(cfg: &Config, create: bool) -> Result<Arc<dyn RootOfTrust>, NodeError> {
    match &cfg.root_of_trust {
        RotConfig::Pkcs11(p) if p.fallback.is_empty() => {
            Ok(Arc::new(Pkcs11Rot::open(p, &cfg.base_dir)?))
        }
        RotConfig::Pkcs11(p) => open_failover(cfg, p),
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

/// The primary HSM and its fallbacks as one root of trust. An HSM that cannot be
/// opened now (a primary that died, say) is left out with an error in the log, so the
/// node starts on the others; it fails only when none opens.
fn open_failover(
    cfg: &Config,
    p: &crate::config::Pkcs11Config,
) -> Result<Arc<dyn RootOfTrust>, NodeError> {
    let mut members = Vec::new();
    let mut first_err = None;
    let all = std::iter::once(("primary".to_owned(), p)).chain(
        p.fallback
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("fallback {}", i + 1), f)),
    );
    for (role, c) in all {
        match Pkcs11Rot::open(c, &cfg.base_dir) {
            Ok(rot) => members.push(Member {
                role,
                rot: Box::new(rot),
            }),
            Err(e) => {
                tracing::error!(hsm = %role, token = %c.token_label, error = %e, "cannot open this HSM; running without it");
                first_err.get_or_insert(e);
            }
        }
    }
    if members.is_empty() {
        if let Some(e) = first_err {
            return Err(e.into());
        }
    }
    let rot = FailoverRot::new(members)?;
    rot.watch(std::time::Duration::from_millis(p.call_timeout_ms));
    // A fallback must be able to sign audit checkpoints the moment it is in use.
    if let Err(e) = rot.ensure_signing_key() {
        tracing::warn!(error = %e, "no HSM could make sure of an audit signing key");
    }
    Ok(Arc::new(rot))
}
