//! Which key group a drive agent draws from, cached.
//!
//! Every drive request needs the agent's key group (its default wallet) and that
//! group's policy: two row reads that change rarely. An entry is valid while:
//! - the caller's resolved subject is the same one (`Arc` identity): the service
//!   resolves a new subject after every access-control change on this node (endpoint
//!   edits such as a new default wallet, wallet deletion) and after the subject cache's
//!   few seconds, so those changes reach this cache with no hook of its own;
//! - no key policy changed on this node since (the generation);
//! - it is younger than [`TTL`], for changes made by other nodes on the same database.

use crate::authz::Subject;
use crate::keys::KeyPolicy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry may be used without re-reading the store.
pub const TTL: Duration = Duration::from_secs(5);
/// Bound on entries; the map is cleared when it is reached.
const MAX: usize = 10_000;

/// A key group: the wallet and its policy.
#[derive(Debug, Clone)]
pub struct KeyGroup {
    /// Wallet ID.
    pub wallet_id: Arc<str>,
    /// Its policy.
    pub policy: KeyPolicy,
}

struct Entry {
    subject: Arc<Subject>,
    generation: u64,
    at: Instant,
    group: KeyGroup,
}

/// Endpoint ID → key group.
#[derive(Default)]
pub struct GroupCache {
    generation: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for GroupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl GroupCache {
    /// The generation to pass to [`GroupCache::put`]: read it before reading the store,
    /// so a policy change racing the read leaves the entry stale, never wrong.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached group of `endpoint_id`, if still valid for `subject`.
    pub fn get(&self, endpoint_id: &str, subject: &Arc<Subject>) -> Option<KeyGroup> {
        let map = self.map.lock().ok()?;
        let e = map.get(endpoint_id)?;
        (Arc::ptr_eq(&e.subject, subject)
            && e.generation == self.generation()
            && e.at.elapsed() < TTL)
            .then(|| e.group.clone())
    }

    /// Remembers `group` for `endpoint_id`, read at `generation` under `subject`.
    pub fn put(&self, endpoint_id: &str, subject: &Arc<Subject>, generation: u64, group: KeyGroup) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX {
                map.clear();
            }
            map.insert(
                endpoint_id.to_owned(),
                Entry {
                    subject: subject.clone(),
                    generation,
                    at: Instant::now(),
                    group,
                },
            );
        }
    }

    /// A key policy changed on this node: forget every entry.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
