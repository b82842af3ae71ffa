//! Several HSMs behind one root of trust (SPEC 1.3): a primary and fallbacks that hold
//! the same master key (cloned by the HSM's own means, or imported from a master-key
//! backup). Every call goes to the HSM in use; when it fails in a way that says the
//! HSM is not serving (a PKCS#11 failure, a lost token, a missing key), the call is
//! tried on the next one, and the first that answers becomes the HSM in use. A blob
//! that does not verify is an answer, not an outage: it is returned at once, since
//! every member holds the same key and would refuse it too.
//!
//! The HSM in use stays in use while it answers; there is no automatic return to the
//! primary (flapping between HSMs helps nobody). A restart starts on the primary again.

use super::{Health, MasterKeyId, RootOfTrust, RotError, RotKind, WrappedKey};
use crate::secret::KeyMaterial;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One HSM of a failover group.
pub struct Member {
    /// What status calls it (`primary`, `fallback 1`, ...).
    pub role: String,
    /// The HSM.
    pub rot: Box<dyn RootOfTrust>,
}

/// A primary HSM and its fallbacks, used as one root of trust.
pub struct FailoverRot {
    members: Vec<Member>,
    active: AtomicUsize,
    switches: AtomicU64,
}

/// Errors after which the next HSM is tried.
fn is_outage(e: &RotError) -> bool {
    matches!(
        e,
        RotError::Pkcs11 { .. }
            | RotError::Module { .. }
            | RotError::TokenNotFound(_)
            | RotError::PinLocked
            | RotError::BadPin
            | RotError::MasterKeyNotFound(_)
            | RotError::NoSigningKey
    )
}

impl FailoverRot {
    /// A group of at least one member; the first is the primary and starts in use.
    pub fn new(members: Vec<Member>) -> Result<FailoverRot, RotError> {
        if members.is_empty() {
            return Err(RotError::Unsupported(
                "a failover root of trust needs at least one HSM".into(),
            ));
        }
        Ok(FailoverRot {
            members,
            active: AtomicUsize::new(0),
            switches: AtomicU64::new(0),
        })
    }

    /// Index of the HSM in use (0 is the primary).
    pub fn in_use(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// How often the HSM in use has changed since start.
    pub fn switches(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    /// Runs `f` on the HSM in use, then on each other one while they fail with an
    /// outage; the first that answers becomes the HSM in use.
    fn run<T>(
        &self,
        what: &'static str,
        f: impl Fn(&dyn RootOfTrust) -> Result<T, RotError>,
    ) -> Result<T, RotError> {
        let start = self.in_use();
        let n = self.members.len();
        let mut last = None;
        for k in 0..n {
            let i = (start + k) % n;
            let m = &self.members[i];
            match f(m.rot.as_ref()) {
                Ok(v) => {
                    if i != start
                        && self
                            .active
                            .compare_exchange(start, i, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        self.switches.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            from = %self.members[start].role,
                            to = %m.role,
                            hsm = %m.rot.describe(),
                            operation = what,
                            "the HSM in use stopped answering; requests now go to the {}",
                            m.role
                        );
                    }
                    return Ok(v);
                }
                Err(e) if is_outage(&e) => {
                    tracing::warn!(hsm = %m.role, operation = what, error = %e, "HSM call failed; trying the next HSM");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RotError::Unsupported("no HSM answered".into())))
    }
}

impl RootOfTrust for FailoverRot {
    fn kind(&self) -> RotKind {
        self.members[self.in_use()].rot.kind()
    }

    fn describe(&self) -> String {
        let active = self.in_use();
        let parts: Vec<String> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mark = if i == active { " (in use)" } else { "" };
                format!("{}{mark}: {}", m.role, m.rot.describe())
            })
            .collect();
        parts.join("; ")
    }

    fn generate_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        // Made on the HSM in use only: fallbacks get it by cloning or a master-key backup.
        self.members[self.in_use()].rot.generate_master_key(id)
    }

    fn has_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        self.run("has_master_key", |r| {
            if r.has_master_key(id)? {
                Ok(true)
            } else {
                Err(RotError::MasterKeyNotFound(id.clone()))
            }
        })
        .or_else(|e| match e {
            RotError::MasterKeyNotFound(_) => Ok(false),
            other => Err(other),
        })
    }

    fn holds_everywhere(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        for m in &self.members {
            if !m.rot.has_master_key(id).unwrap_or(false) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn spread_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        let source = &self.members[self.in_use()];
        let mut everywhere = true;
        for m in &self.members {
            if m.rot.has_master_key(id).unwrap_or(false) {
                continue;
            }
            if !source.rot.master_key_exportable() {
                tracing::warn!(hsm = %m.role, master_key = %id, "this HSM lacks the new master key and it is not exportable: clone it by the HSM's own means");
                everywhere = false;
                continue;
            }
            // A one-time transport key from the HSM's generator, dropped (zeroized) here.
            let kek = source.rot.random(32)?;
            let blob = source.rot.export_master_key(id, &kek)?;
            match m.rot.import_master_key(id, &kek, &blob) {
                Ok(()) | Err(RotError::MasterKeyExists(_)) => {
                    tracing::info!(hsm = %m.role, master_key = %id, "copied the new master key into this HSM");
                }
                Err(e) => {
                    tracing::warn!(hsm = %m.role, master_key = %id, error = %e, "could not copy the new master key into this HSM");
                    everywhere = false;
                }
            }
        }
        Ok(everywhere)
    }

    fn destroy_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        // Every HSM that answers: a retired key must not linger in a fallback.
        let mut first_err = None;
        for m in &self.members {
            if let Err(e) = m.rot.destroy_master_key(id) {
                tracing::warn!(hsm = %m.role, error = %e, "could not destroy a retired master key in this HSM");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn master_key_exportable(&self) -> bool {
        self.members[self.in_use()].rot.master_key_exportable()
    }

    fn export_master_key(&self, id: &MasterKeyId, kek: &KeyMaterial) -> Result<Vec<u8>, RotError> {
        self.run("export_master_key", |r| r.export_master_key(id, kek))
    }

    fn import_master_key(
        &self,
        id: &MasterKeyId,
        kek: &KeyMaterial,
        wrapped: &[u8],
    ) -> Result<(), RotError> {
        // Into every HSM that answers, so the whole group holds the key.
        let mut imported = 0;
        let mut last = None;
        for m in &self.members {
            match m.rot.import_master_key(id, kek, wrapped) {
                Ok(()) | Err(RotError::MasterKeyExists(_)) => imported += 1,
                Err(e) if is_outage(&e) => {
                    tracing::warn!(hsm = %m.role, error = %e, "master-key import skipped an HSM that did not answer");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        match (imported, last) {
            (0, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn wrap(
        &self,
        master: &MasterKeyId,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<WrappedKey, RotError> {
        self.run("wrap", |r| r.wrap(master, object_id, key))
    }

    fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<KeyMaterial, RotError> {
        self.run("unwrap", |r| r.unwrap(wrapped, object_id))
    }

    fn random(&self, len: usize) -> Result<KeyMaterial, RotError> {
        self.run("random", |r| r.random(len))
    }

    fn ensure_signing_key(&self) -> Result<(), RotError> {
        // Each HSM signs with its own key; checkpoints carry the public key they were
        // signed with, so a checkpoint signed on a fallback verifies as well.
        let mut ok = 0;
        let mut last = None;
        for m in &self.members {
            match m.rot.ensure_signing_key() {
                Ok(()) => ok += 1,
                Err(e) => {
                    tracing::warn!(hsm = %m.role, error = %e, "cannot make sure this HSM has an audit signing key");
                    last = Some(e);
                }
            }
        }
        match (ok, last) {
            (0, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RotError> {
        self.run("sign", |r| r.sign(data))
    }

    fn signing_public_key(&self) -> Result<Vec<u8>, RotError> {
        self.run("signing_public_key", |r| r.signing_public_key())
    }

    fn health(&self) -> Health {
        let active = self.in_use();
        let probes: Vec<(usize, Health)> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (i, m.rot.health()))
            .collect();
        // Serving as long as one HSM answers: the next call moves to it.
        let ok = probes.iter().any(|(_, h)| h.ok);
        let detail = probes
            .iter()
            .map(|(i, h)| {
                let m = &self.members[*i];
                let state = if h.ok { "answers" } else { "DOWN" };
                let mark = if *i == active { ", in use" } else { "" };
                format!("{} ({state}{mark}): {}", m.role, h.detail)
            })
            .collect::<Vec<_>>()
            .join("; ");
        Health { ok, detail }
    }
}
