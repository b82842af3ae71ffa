//! The per-drive loop: watch the drive, and give it the key its tape needs.
//!
//! Every poll reads the loaded medium. A new medium (another barcode or serial) is
//! classified by its next block: encrypted data means the tape is being read, so the
//! key its KAD names is fetched and loaded to read it; a blank tape or
//! unencrypted data at the beginning of tape means it is about to be written, so the
//! data unit's write key is fetched and loaded for encryption, with its ID as the KAD
//! ([`super::kad`]). After that, every poll checks that the agent's key is still the
//! drive's (the key instance counter), and whether the next block needs another key
//! (a tape may hold several): that key is fetched and loaded. When the medium leaves,
//! the key is cleared and its use reported.
//!
//! A drive encrypts writes with whatever key it holds ([`KeyMode`]), read keys too, so
//! an append after a read is never plaintext. A loaded key whose encryption period is
//! over must not protect new data: when the next object is not an encrypted block
//! (a filemark or the end of data, where writing continues), the agent swaps it for
//! the data unit's write key.
//!
//! A failure to get or load a key leaves the drive without that key, so it refuses to
//! decrypt; the agent never loads a key other than the one the tape names or the data
//! unit's write key. Failed fetches are retried with a growing delay (1 s to 30 s).

use clavis::agent::wire::WireKey;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use super::kad::{self, KadError};
use crate::drive::{
    BlockEncryption, ByteCounters, Drive, DriveError, KeyMode, Medium, NextBlockStatus,
};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the agent decided a medium is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not known yet (the drive cannot tell what the next block is).
    Undecided,
    /// It holds encrypted data: keys are loaded to decrypt.
    Reading,
    /// It was blank or unencrypted at the beginning: the write key is loaded.
    Writing,
}

/// Something one poll did or saw (also logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A medium appeared.
    MediumArrived {
        /// Its barcode.
        barcode: Option<String>,
        /// Its serial number.
        serial: Option<String>,
    },
    /// The medium left (its keys were cleared and their use reported).
    MediumRemoved,
    /// A key was loaded.
    KeyLoaded {
        /// The key.
        key_id: String,
        /// For writing or reading.
        mode: KeyMode,
    },
    /// The drive's key was cleared.
    KeyCleared,
    /// Nothing can be done yet, and why.
    Waiting(String),
    /// Something failed, and why.
    Failed(String),
}

struct LoadedKey {
    key_id: String,
    mode: KeyMode,
    /// When the key stops protecting new data (Unix seconds), as the node said.
    protect_stop_date: Option<i64>,
    /// The drive's key instance counter right after loading: when it changes, the
    /// drive's key is no longer this one.
    counter: u32,
}

struct Current {
    medium: Medium,
    phase: Phase,
    loaded: Option<LoadedKey>,
    /// Every key loaded for this medium with the bytes moved while it was loaded,
    /// reported when the medium leaves.
    used: Vec<UsedKey>,
    /// The drive's byte counters at the last look.
    counters: Option<ByteCounters>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The last "waiting" reason logged, so a steady state is logged once.
    noted: Option<String>,
}

struct UsedKey {
    key_id: String,
    written: u64,
    read: u64,
}

impl LoadedKey {
    /// Whether the key may still encrypt new data, by the node's protect-stop date.
    fn may_protect(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.protect_stop_date.is_none_or(|t| now < t)
    }
}

impl Current {
    fn new(medium: Medium) -> Current {
        Current {
            medium,
            phase: Phase::Undecided,
            loaded: None,
            used: Vec::new(),
            counters: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            noted: None,
        }
    }
}

type SharedDrive = Arc<Mutex<Box<dyn Drive>>>;

/// Serves one drive.
pub struct DriveService {
    name: String,
    drive: SharedDrive,
    cluster: Cluster,
    current: Option<Current>,
    /// The last drive error logged, so a drive that stays broken is logged once.
    last_drive_error: Option<String>,
}

fn lock(d: &SharedDrive) -> MutexGuard<'_, Box<dyn Drive>> {
    d.lock().unwrap_or_else(|e| e.into_inner())
}

impl DriveService {
    /// A service for `drive`, logged as `name`, getting keys from `cluster`.
    pub fn new(name: impl Into<String>, drive: Box<dyn Drive>, cluster: Cluster) -> DriveService {
        DriveService {
            name: name.into(),
            drive: Arc::new(Mutex::new(drive)),
            cluster,
            current: None,
            last_drive_error: None,
        }
    }

    /// The drive's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The medium being served.
    pub fn medium(&self) -> Option<&Medium> {
        self.current.as_ref().map(|c| &c.medium)
    }

    /// What the medium was judged to be for.
    pub fn phase(&self) -> Option<Phase> {
        self.current.as_ref().map(|c| c.phase)
    }

    /// The key the agent last loaded into the drive, and how.
    pub fn loaded_key(&self) -> Option<(&str, KeyMode)> {
        self.current
            .as_ref()
            .and_then(|c| c.loaded.as_ref())
            .map(|l| (l.key_id.as_str(), l.mode))
    }

    /// Runs `f` on the drive on the blocking pool (drive commands may take seconds).
    async fn with_drive<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Drive) -> Result<R, DriveError> + Send + 'static,
    ) -> Result<R, String> {
        let drive = self.drive.clone();
        tokio::task::spawn_blocking(move || {
            let mut d = lock(&drive);
            f(d.as_mut())
        })
        .await
        .map_err(|e| format!("drive task failed: {e}"))?
        .map_err(|e| e.to_string())
    }

    fn drive_failed(&mut self, what: &str, reason: String, ev: &mut Vec<Event>) {
        let msg = format!("{what}: {reason}");
        if self.last_drive_error.as_deref() != Some(msg.as_str()) {
            tracing::warn!(drive = %self.name, reason = %msg, "drive command failed");
            self.last_drive_error = Some(msg.clone());
        }
        ev.push(Event::Failed(msg));
    }

    /// One look at the drive, and whatever it calls for.
    pub async fn poll_once(&mut self) -> Vec<Event> {
        let mut ev = Vec::new();
        let medium = match self.with_drive(|d| d.medium()).await {
            Ok(m) => m,
            Err(e) => {
                self.drive_failed("cannot read the loaded medium", e, &mut ev);
                return ev;
            }
        };
        if self.last_drive_error.take().is_some() {
            tracing::info!(drive = %self.name, "drive answers again");
        }
        let same = matches!((&self.current, &medium), (Some(c), Some(m)) if c.medium == *m);
        if !same {
            if self.current.is_some() {
                self.medium_gone(&mut ev).await;
            }
            if let Some(m) = medium {
                tracing::info!(drive = %self.name, barcode = ?m.barcode, serial = ?m.serial,
                    "medium loaded");
                ev.push(Event::MediumArrived {
                    barcode: m.barcode.clone(),
                    serial: m.serial.clone(),
                });
                self.current = Some(Current::new(m));
            }
        }
        if let Some(mut cur) = self.current.take() {
            self.serve(&mut cur, &mut ev).await;
            self.current = Some(cur);
        }
        ev
    }

    /// Polls every `every` until `shutdown` resolves. A poll in progress finishes
    /// first, so a key is never half loaded. Keys stay in the drive when the agent
    /// stops: a running backup finishes, and the drive clears them at unload.
    pub async fn run(mut self, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            self.poll_once().await;
        }
        tracing::info!(drive = %self.name, "drive loop stopped");
    }

    async fn medium_gone(&mut self, ev: &mut Vec<Event>) {
        let Some(cur) = self.current.take() else {
            return;
        };
        tracing::info!(drive = %self.name, barcode = ?cur.medium.barcode,
            serial = ?cur.medium.serial, "medium removed");
        ev.push(Event::MediumRemoved);
        if cur.loaded.is_some() {
            // The drive clears a key at unload (CKOD) on its own; this covers a tape
            // swapped between two polls and drives that ignore CKOD.
            match self.with_drive(|d| d.clear_key()).await {
                Ok(()) => ev.push(Event::KeyCleared),
                Err(e) => {
                    tracing::warn!(drive = %self.name, reason = %e, "cannot clear the drive's key");
                    ev.push(Event::Failed(format!("clear key: {e}")));
                }
            }
        }
        // Bytes moved after the last poll are not counted: the drive may reset its
        // counters when the tape leaves, so they are only read while it is loaded.
        for u in &cur.used {
            let key_id = &u.key_id;
            if let Err(e) = self.cluster.report_use(key_id, u.written, u.read).await {
                tracing::warn!(drive = %self.name, key_id = %key_id, reason = %e,
                    "cannot report key use");
                ev.push(Event::Failed(format!("report use of {key_id}: {e}")));
            }
        }
    }

    fn wait(&self, cur: &mut Current, why: String, ev: &mut Vec<Event>) {
        if cur.noted.as_deref() != Some(why.as_str()) {
            tracing::info!(drive = %self.name, reason = %why, "no key loaded yet");
            cur.noted = Some(why.clone());
        }
        ev.push(Event::Waiting(why));
    }

    /// Logs a failure and delays the next fetch.
    fn fail(&self, cur: &mut Current, why: String, ev: &mut Vec<Event>) {
        tracing::warn!(drive = %self.name, barcode = ?cur.medium.barcode, reason = %why,
            retry_in_ms = cur.backoff.as_millis() as u64, "cannot give the drive its key");
        cur.retry_at = Some(Instant::now() + cur.backoff);
        cur.backoff = (cur.backoff * 2).min(MAX_BACKOFF);
        ev.push(Event::Failed(why));
    }

    /// Credits the bytes moved since the last look to the loaded key.
    async fn count_bytes(&self, cur: &mut Current) {
        let now = match self.with_drive(|d| d.byte_counters()).await {
            Ok(Some(c)) => c,
            // Unknown counts are reported as 0; the report still records the use.
            Ok(None) | Err(_) => return,
        };
        if let (Some(before), Some(l)) = (cur.counters, &cur.loaded) {
            // A counter that went down was reset (a new tape, a drive reset): count
            // from zero.
            let delta = |now: u64, before: u64| now.checked_sub(before).unwrap_or(now);
            if let Some(u) = cur
                .used
                .iter_mut()
                .find(|u| kad::same_key(&u.key_id, &l.key_id))
            {
                u.written = u.written.saturating_add(delta(now.written, before.written));
                u.read = u.read.saturating_add(delta(now.read, before.read));
            }
        }
        cur.counters = Some(now);
    }

    async fn serve(&mut self, cur: &mut Current, ev: &mut Vec<Event>) {
        self.count_bytes(cur).await;
        if let Some(l) = &cur.loaded {
            let counter = l.counter;
            match self.with_drive(|d| d.status()).await {
                Ok(s) if s.key_instance_counter == counter => {}
                Ok(_) => {
                    tracing::warn!(drive = %self.name, key_id = %l.key_id,
                        "the drive's key changed outside the agent (reset, reload or another program); loading again");
                    cur.loaded = None;
                }
                Err(e) => {
                    self.drive_failed("cannot read the encryption status", e, ev);
                    return;
                }
            }
        }
        let nb = match self.with_drive(|d| d.next_block()).await {
            Ok(nb) => nb,
            Err(e) => {
                self.drive_failed("cannot read the next block's encryption status", e, ev);
                return;
            }
        };
        if cur.phase == Phase::Undecided {
            match nb.state {
                BlockEncryption::EncryptedKeyAvailable
                | BlockEncryption::EncryptedKeyUnavailable => cur.phase = Phase::Reading,
                BlockEncryption::NotABlock | BlockEncryption::NotEncrypted
                    if nb.logical_object_number == 0 =>
                {
                    cur.phase = Phase::Writing
                }
                other => {
                    let why = format!(
                        "next block is {other:?} at object {}: waiting for encrypted data or the beginning of tape",
                        nb.logical_object_number
                    );
                    self.wait(cur, why, ev);
                    return;
                }
            }
            tracing::info!(drive = %self.name, phase = ?cur.phase, "medium classified");
        }
        if cur.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let needs_read_key = nb.state == BlockEncryption::EncryptedKeyUnavailable
            || (nb.state == BlockEncryption::EncryptedKeyAvailable && cur.loaded.is_none());
        let write_position = matches!(
            nb.state,
            BlockEncryption::NotABlock | BlockEncryption::NotEncrypted
        );
        if needs_read_key {
            self.load_read_key(cur, &nb, ev).await;
        } else if write_position
            && ((cur.phase == Phase::Writing
                && cur
                    .loaded
                    .as_ref()
                    .is_none_or(|l| l.mode != KeyMode::Encrypt))
                || cur.loaded.as_ref().is_some_and(|l| !l.may_protect()))
        {
            self.load_write_key(cur, ev).await;
        }
    }

    async fn load_read_key(
        &mut self,
        cur: &mut Current,
        nb: &NextBlockStatus,
        ev: &mut Vec<Event>,
    ) {
        let key = match kad::decode(&nb.kad) {
            Ok(id) => {
                if let Some(l) = cur
                    .loaded
                    .as_ref()
                    .filter(|l| kad::same_key(&l.key_id, &id))
                {
                    // Refetching would load the same key again: it does not open this
                    // block, and only a person can find out why.
                    let why = format!(
                        "key {} is loaded but the drive cannot decrypt the next block with it",
                        l.key_id
                    );
                    self.fail(cur, why, ev);
                    return;
                }
                match self.cluster.keys_for_read_by_id(&id).await {
                    Ok(keys) => match keys.into_iter().find(|k| kad::same_key(&k.key_id, &id)) {
                        Some(k) => k,
                        None => {
                            self.fail(cur, format!("the cluster did not return key {id}"), ev);
                            return;
                        }
                    },
                    Err(e) => {
                        self.fail(cur, format!("cannot get key {id}: {e}"), ev);
                        return;
                    }
                }
            }
            // Without a KAD only the data unit can tell; choose only when it has a
            // single key, never by guessing among several.
            Err(KadError::Missing) => {
                let m = &cur.medium;
                if m.barcode.is_none() && m.serial.is_none() {
                    let why = "the block names no key and the medium has no barcode or serial";
                    self.fail(cur, why.into(), ev);
                    return;
                }
                match self
                    .cluster
                    .keys_for_read_by_unit(m.barcode.as_deref(), m.serial.as_deref())
                    .await
                {
                    Ok(mut keys) if keys.len() == 1 => match keys.pop() {
                        Some(k) => k,
                        None => return,
                    },
                    Ok(keys) => {
                        let why = format!(
                            "the block names no key and the data unit has {} keys",
                            keys.len()
                        );
                        self.fail(cur, why, ev);
                        return;
                    }
                    Err(e) => {
                        self.fail(cur, format!("cannot get the data unit's keys: {e}"), ev);
                        return;
                    }
                }
            }
            Err(e) => {
                self.fail(cur, e.to_string(), ev);
                return;
            }
        };
        self.load(cur, key, KeyMode::Read, ev).await;
    }

    async fn load_write_key(&mut self, cur: &mut Current, ev: &mut Vec<Event>) {
        let m = &cur.medium;
        if m.barcode.is_none() && m.serial.is_none() {
            let why = "the medium has neither barcode nor serial number, so it has no data unit to write keys for";
            self.wait(cur, why.into(), ev);
            return;
        }
        match self
            .cluster
            .key_for_write(m.barcode.as_deref(), m.serial.as_deref())
            .await
        {
            Ok(k) => self.load(cur, k, KeyMode::Encrypt, ev).await,
            Err(e) => self.fail(cur, format!("cannot get a write key: {e}"), ev),
        }
    }

    async fn load(&mut self, cur: &mut Current, key: WireKey, mode: KeyMode, ev: &mut Vec<Event>) {
        let kad = match kad::encode(&key.key_id) {
            Ok(k) => k,
            Err(e) => {
                self.fail(cur, e.to_string(), ev);
                return;
            }
        };
        self.count_bytes(cur).await;
        let key_id = key.key_id.clone();
        let protect_stop_date = key.protect_stop_date;
        // The key moves into the drive task and is zeroized there when dropped.
        let loaded = self
            .with_drive(move |d| {
                d.load_key(&key.material, &kad, mode)?;
                d.status()
            })
            .await;
        match loaded {
            Ok(status) => {
                tracing::info!(drive = %self.name, key_id = %key_id, mode = ?mode,
                    barcode = ?cur.medium.barcode, "key loaded");
                if !cur.used.iter().any(|u| kad::same_key(&u.key_id, &key_id)) {
                    cur.used.push(UsedKey {
                        key_id: key_id.clone(),
                        written: 0,
                        read: 0,
                    });
                }
                cur.loaded = Some(LoadedKey {
                    key_id: key_id.clone(),
                    mode,
                    protect_stop_date,
                    counter: status.key_instance_counter,
                });
                cur.retry_at = None;
                cur.backoff = FIRST_BACKOFF;
                cur.noted = None;
                ev.push(Event::KeyLoaded { key_id, mode });
            }
            Err(e) => {
                // What the drive holds after a failed load is unknown: clear it so the
                // drive refuses rather than use a key the agent did not mean.
                cur.loaded = None;
                if let Err(c) = self.with_drive(|d| d.clear_key()).await {
                    tracing::warn!(drive = %self.name, reason = %c, "cannot clear the drive's key");
                }
                self.fail(
                    cur,
                    format!("cannot load key {key_id} into the drive: {e}"),
                    ev,
                );
            }
        }
    }
}
