//! Conflict rules for changes that meet on a replica (SPEC 7.3), as pure functions.
//!
//! Every rule here is a *join*: commutative, associative and idempotent, so replicas
//! that hold the same set of changes reach the same state whatever order the changes
//! arrived in. The replication applier ([`super::replicate`]) calls them; the model
//! check (`tests/replication_model.rs`) states the same rules.

use crate::keys::State;
use std::cmp::Ordering;

/// A last-writer-wins version: the hybrid logical clock, then the node ID as the
/// tie-break, so two writes never compare equal unless they are the same write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version<'a> {
    /// HLC of the write.
    pub hlc: i64,
    /// Node that made it.
    pub node_id: &'a str,
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hlc
            .cmp(&other.hlc)
            .then_with(|| self.node_id.cmp(other.node_id))
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The later of two lifecycle states: states only move forward.
///
/// A state is read as (destroyed?, compromised?, progress along Pre-Active → Active →
/// Deactivated); the join ORs the flags and takes the further progress. So a key
/// destroyed on one node and revoked as compromised on another ends
/// Destroyed-Compromised everywhere, and no merge ever brings a key back to life.
pub fn join_state(a: State, b: State) -> State {
    let destroyed = |s: State| matches!(s, State::Destroyed | State::DestroyedCompromised);
    let compromised = |s: State| matches!(s, State::Compromised | State::DestroyedCompromised);
    let progress = |s: State| match s {
        State::PreActive => 0,
        State::Active => 1,
        _ => 2,
    };
    match (
        destroyed(a) || destroyed(b),
        compromised(a) || compromised(b),
    ) {
        (true, true) => State::DestroyedCompromised,
        (true, false) => State::Destroyed,
        (false, true) => State::Compromised,
        (false, false) => {
            if progress(a) >= progress(b) {
                a
            } else {
                b
            }
        }
    }
}

/// True when a key in state `s` must hold no material.
pub fn is_destroyed(s: State) -> bool {
    matches!(s, State::Destroyed | State::DestroyedCompromised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    const ALL: [State; 6] = [
        PreActive,
        Active,
        Deactivated,
        Compromised,
        Destroyed,
        DestroyedCompromised,
    ];

    #[test]
    fn join_is_a_semilattice() {
        for a in ALL {
            assert_eq!(join_state(a, a), a, "idempotent");
            for b in ALL {
                assert_eq!(join_state(a, b), join_state(b, a), "commutative");
                for c in ALL {
                    assert_eq!(
                        join_state(join_state(a, b), c),
                        join_state(a, join_state(b, c)),
                        "associative"
                    );
                }
            }
        }
    }

    #[test]
    fn states_only_move_forward() {
        assert_eq!(join_state(Active, PreActive), Active);
        assert_eq!(join_state(Deactivated, Active), Deactivated);
        assert_eq!(join_state(Destroyed, Active), Destroyed);
        assert_eq!(join_state(Destroyed, Compromised), DestroyedCompromised);
        assert_eq!(join_state(Compromised, Deactivated), Compromised);
        // The join is always a state both inputs could legally reach.
        for a in ALL {
            for b in ALL {
                let j = join_state(a, b);
                assert!(j == a || reachable(a, j), "{a:?} -> {j:?}");
                assert!(j == b || reachable(b, j), "{b:?} -> {j:?}");
            }
        }
    }

    fn reachable(from: State, to: State) -> bool {
        use crate::keys::Transition::*;
        let mut seen = vec![from];
        let mut i = 0;
        while i < seen.len() {
            for t in [Activate, Deactivate, Compromise, Destroy] {
                if let Some(n) = seen[i].transition(t) {
                    if !seen.contains(&n) {
                        seen.push(n);
                    }
                }
            }
            i += 1;
        }
        seen.contains(&to)
    }

    #[test]
    fn versions_order_by_clock_then_node() {
        let a = Version {
            hlc: 5,
            node_id: "b",
        };
        let b = Version {
            hlc: 5,
            node_id: "a",
        };
        let c = Version {
            hlc: 6,
            node_id: "a",
        };
        assert!(a > b);
        assert!(c > a);
    }
}
