//! Several HSMs behind one root of trust (SPEC 1.3): a primary and fallbacks that hold
//! the same master key (cloned by the HSM's own means, or imported from a master-key
//! backup). Every call goes to the HSM in use; when it fails in a way that says the
//! HSM is not serving (a PKCS#11 failure, a lost token, a missing key), the call is
//! tried on the next one, and the first that answers becomes the HSM in use. A blob
//! that does not verify is an answer, not an outage: it is returned at once, since
//! every member holds the same key and would refuse it too.
//!
//! An HSM can also stop answering without failing: a call that never returns. A
//! PKCS#11 call cannot be cancelled, so a watchdog ([`FailoverRot::watch`]) looks at
//! the HSM in use instead: when calls are outstanding on it and none has started on an
//! idle HSM or finished for the call timeout, it moves the HSM in use to the next one,
//! so new requests go there. Requests already stuck in the hung HSM stay stuck until
//! it returns (their clients time out).
//!
//! The HSM in use stays in use while it answers; there is no automatic return to the
//! primary (flapping between HSMs helps nobody). A restart starts on the primary again.

use super::{Health, MasterKeyId, RootOfTrust, RotError, RotKind, WrappedKey};
use crate::secret::KeyMaterial;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Calls in flight on one HSM, for the watchdog.
#[derive(Debug, Default)]
struct Activity {
    outstanding: AtomicU64,
    /// Milliseconds since `Shared::epoch` when a call last started on an idle HSM or
    /// finished.
    last_progress_ms: AtomicU64,
}

/// What the calls and the watchdog share.
#[derive(Debug)]
struct Shared {
    active: AtomicUsize,
    switches: AtomicU64,
    activity: Vec<Activity>,
    roles: Vec<String>,
    epoch: std::time::Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// True when `i` has calls outstanding and none made progress for `timeout`.
    fn stalled(&self, i: usize, timeout: Duration) -> bool {
        let a = &self.activity[i];
        let idle_for = self
            .now_ms()
            .saturating_sub(a.last_progress_ms.load(Ordering::Acquire));
        a.outstanding.load(Ordering::Acquire) > 0 && u128::from(idle_for) > timeout.as_millis()
    }
}

/// Counts one call on an HSM while it runs.
struct InFlight<'a> {
    shared: &'a Shared,
    i: usize,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared, i: usize) -> InFlight<'a> {
        let a = &shared.activity[i];
        if a.outstanding.fetch_add(1, Ordering::AcqRel) == 0 {
            a.last_progress_ms.store(shared.now_ms(), Ordering::Release);
        }
        InFlight { shared, i }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let a = &self.shared.activity[self.i];
        a.last_progress_ms
            .store(self.shared.now_ms(), Ordering::Release);
        a.outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}

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
    shared: Arc<Shared>,
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
        let shared = Shared {
            active: AtomicUsize::new(0),
            switches: AtomicU64::new(0),
            activity: members.iter().map(|_| Activity::default()).collect(),
            roles: members.iter().map(|m| m.role.clone()).collect(),
            epoch: std::time::Instant::now(),
        };
        Ok(FailoverRot {
            members,
            shared: Arc::new(shared),
        })
    }

    /// Index of the HSM in use (0 is the primary).
    pub fn in_use(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// How often the HSM in use has changed since start.
    pub fn switches(&self) -> u64 {
        self.shared.switches.load(Ordering::Relaxed)
    }

    /// Starts the watchdog: when the HSM in use has had calls outstanding and made no
    /// progress for `timeout`, new calls go to the next HSM that is not stalled too. The
    /// thread ends when this root of trust is dropped. Nothing to watch with one HSM.
    pub fn watch(&self, timeout: Duration) {
        if self.members.len() < 2 {
            return;
        }
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let spawned = std::thread::Builder::new()
            .name("clavis-hsm-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(tick);
                let Some(s) = shared.upgrade() else {
                    return;
                };
                let now = s.active.load(Ordering::Acquire);
                if !s.stalled(now, timeout) {
                    continue;
                }
                let n = s.roles.len();
                let Some(next) = (1..n).map(|k| (now + k) % n).find(|&j| !s.stalled(j, timeout))
                else {
                    tracing::error!(timeout_ms = timeout.as_millis() as u64, "every HSM has stopped answering");
                    continue;
                };
                if s
                    .active
                    .compare_exchange(now, next, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    s.switches.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        from = %s.roles[now],
                        to = %s.roles[next],
                        timeout_ms = timeout.as_millis() as u64,
                        "the HSM in use has not answered a call within the timeout; new requests go to the {}",
                        s.roles[next]
                    );
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the HSM watchdog; hung HSMs will not be detected");
        }
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
            let answer = {
                let _counted = InFlight::enter(&self.shared, i);
                f(m.rot.as_ref())
            };
            match answer {
                Ok(v) => {
                    if i != start
                        && self
                            .shared
                            .active
                            .compare_exchange(start, i, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        self.shared.switches.fetch_add(1, Ordering::Relaxed);
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
        // A question, not a call to serve: ask each HSM in turn without moving the one
        // in use (a key retired in one HSM and not yet in another is no outage).
        let n = self.members.len();
        let start = self.in_use();
        let (mut answered, mut last) = (false, None);
        for k in 0..n {
            match self.members[(start + k) % n].rot.has_master_key(id) {
                Ok(true) => return Ok(true),
                Ok(false) => answered = true,
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) if !answered => Err(e),
            _ => Ok(false),
        }
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

#[cfg(test)]
mod tests {
    //! SoftHSM2 cannot be made to hang, so these tests put a software root of trust
    //! behind a switch that makes its calls block, the way a wedged HSM or a network
    //! HSM behind a dead link does.
    use super::*;
    use crate::rot::software::SoftwareRot;
    use std::sync::atomic::AtomicBool;

    struct Stalling {
        inner: SoftwareRot,
        stalled: Arc<AtomicBool>,
    }

    impl Stalling {
        fn wait(&self) {
            while self.stalled.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    impl RootOfTrust for Stalling {
        fn kind(&self) -> RotKind {
            self.inner.kind()
        }
        fn describe(&self) -> String {
            "stalling".into()
        }
        fn generate_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
            self.inner.generate_master_key(id)
        }
        fn has_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
            self.wait();
            self.inner.has_master_key(id)
        }
        fn destroy_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
            self.inner.destroy_master_key(id)
        }
        fn wrap(
            &self,
            master: &MasterKeyId,
            object_id: &str,
            key: &KeyMaterial,
        ) -> Result<WrappedKey, RotError> {
            self.wait();
            self.inner.wrap(master, object_id, key)
        }
        fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<KeyMaterial, RotError> {
            self.wait();
            self.inner.unwrap(wrapped, object_id)
        }
        fn random(&self, len: usize) -> Result<KeyMaterial, RotError> {
            self.wait();
            self.inner.random(len)
        }
        fn ensure_signing_key(&self) -> Result<(), RotError> {
            self.inner.ensure_signing_key()
        }
        fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RotError> {
            self.wait();
            self.inner.sign(data)
        }
        fn signing_public_key(&self) -> Result<Vec<u8>, RotError> {
            self.inner.signing_public_key()
        }
        fn health(&self) -> Health {
            self.inner.health()
        }
    }

    /// Two members over the same sealed master key file; the primary can be stalled.
    fn group(dir: &std::path::Path) -> (FailoverRot, Arc<AtomicBool>, MasterKeyId) {
        let path = dir.join("mk.sealed");
        let pass = || secrecy::SecretString::from("correct horse battery staple".to_owned());
        let mk = MasterKeyId("mk-1".into());
        SoftwareRot::create(&path, pass())
            .and_then(|r| r.generate_master_key(&mk))
            .unwrap_or_else(|e| panic!("create: {e}"));
        let stalled = Arc::new(AtomicBool::new(false));
        let open = || SoftwareRot::open(&path, pass()).unwrap_or_else(|e| panic!("open: {e}"));
        let rot = FailoverRot::new(vec![
            Member {
                role: "primary".into(),
                rot: Box::new(Stalling {
                    inner: open(),
                    stalled: stalled.clone(),
                }),
            },
            Member {
                role: "fallback 1".into(),
                rot: Box::new(open()),
            },
        ])
        .unwrap_or_else(|e| panic!("group: {e}"));
        (rot, stalled, mk)
    }

    #[test]
    fn a_hung_primary_is_left_for_the_fallback_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (rot, stalled, mk) = group(dir.path());
        let rot = Arc::new(rot);
        rot.watch(Duration::from_millis(200));
        let key = KeyMaterial::new(vec![7; 32]);
        let before = rot
            .wrap(&mk, "obj-1", &key)
            .unwrap_or_else(|e| panic!("wrap: {e}"));
        assert_eq!(rot.in_use(), 0);

        stalled.store(true, Ordering::Release);
        let stuck = {
            let rot = rot.clone();
            let mk = mk.clone();
            std::thread::spawn(move || {
                rot.wrap(&mk, "obj-2", &KeyMaterial::new(vec![8; 32]))
                    .is_ok()
            })
        };
        // Well past the timeout, the watchdog has moved new calls to the fallback.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while rot.in_use() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the watchdog never switched"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(rot.in_use(), 1);
        assert_eq!(rot.switches(), 1);
        assert!(rot.describe().contains("fallback 1 (in use)"));
        let t = std::time::Instant::now();
        let back = rot
            .unwrap(&before, "obj-1")
            .unwrap_or_else(|e| panic!("unwrap: {e}"));
        assert!(back == key, "the fallback unwraps what the primary wrapped");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a call waited for the hung HSM"
        );

        // The stuck call finishes when the primary comes back; nothing switches again.
        stalled.store(false, Ordering::Release);
        assert!(stuck.join().unwrap_or(false));
        assert_eq!(rot.in_use(), 1);
    }

    #[test]
    fn a_slow_but_answering_hsm_is_not_left() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (rot, _stalled, mk) = group(dir.path());
        rot.watch(Duration::from_millis(200));
        let key = KeyMaterial::new(vec![9; 32]);
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(800) {
            rot.wrap(&mk, "obj", &key)
                .unwrap_or_else(|e| panic!("wrap: {e}"));
        }
        assert_eq!(rot.in_use(), 0);
        assert_eq!(rot.switches(), 0);
    }
}
