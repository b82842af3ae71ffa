//! What a node knows of its peers: state, last contact, replication lag.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A peer's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    /// Not reached yet since this node started.
    Unknown,
    /// Reached within the timeout and caught up.
    Up,
    /// Reached, but this node is still behind it.
    Lagging,
    /// Not reached within the timeout.
    Down,
}

/// One peer's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// Node ID.
    pub node_id: String,
    /// Node name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Replica it serves.
    pub replica_id: String,
    /// Where it is reached.
    pub addr: String,
    /// State.
    pub state: PeerState,
    /// Last successful exchange, Unix milliseconds.
    pub last_contact_ms: Option<i64>,
    /// Changes the peer holds that this node has not applied yet (after the last
    /// exchange).
    pub behind: i64,
    /// Age of the newest change applied from this peer when it was applied, ms.
    pub last_lag_ms: Option<i64>,
    /// Largest such age seen since the node started, ms.
    pub max_lag_ms: i64,
    /// Changes applied from this peer since the node started.
    pub applied: u64,
    /// The last failure talking to it.
    pub last_error: Option<String>,
}

/// The peer table, shared by the pullers (which write it) and status (which reads it).
#[derive(Debug, Clone, Default)]
pub struct PeerTable(Arc<Mutex<BTreeMap<String, PeerStatus>>>);

impl PeerTable {
    /// A copy of every peer's status, by node ID.
    pub fn snapshot(&self) -> Vec<PeerStatus> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Changes one peer's entry (creating it from `init` if absent) and returns the
    /// state before and after.
    pub fn update(
        &self,
        node_id: &str,
        init: impl FnOnce() -> PeerStatus,
        f: impl FnOnce(&mut PeerStatus),
    ) -> (PeerState, PeerState) {
        let Ok(mut m) = self.0.lock() else {
            return (PeerState::Unknown, PeerState::Unknown);
        };
        let e = m.entry(node_id.to_owned()).or_insert_with(init);
        let before = e.state;
        f(e);
        (before, e.state)
    }

    /// Drops peers no longer in `keep`.
    pub fn retain(&self, keep: &[String]) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| keep.contains(k));
        }
    }
}
