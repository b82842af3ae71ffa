//! KMIP object states and the legal transitions between them (KMIP 1.4 §3.22,
//! the state diagram). Anything not listed in [`State::transition`] is refused.

use serde::{Deserialize, Serialize};

/// The KMIP lifecycle state of a managed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, not yet usable for protection.
    PreActive,
    /// In use.
    Active,
    /// No longer used to protect; may still process (decrypt, verify).
    Deactivated,
    /// Revoked for compromise; processing only with care.
    Compromised,
    /// Material destroyed; metadata kept.
    Destroyed,
    /// Destroyed, and known compromised.
    DestroyedCompromised,
}

/// What moves an object between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Activate (or the activation date passing).
    Activate,
    /// Revoke with a reason other than compromise, or the deactivation date passing.
    Deactivate,
    /// Revoke with reason key compromise or CA compromise.
    Compromise,
    /// Destroy.
    Destroy,
}

impl Transition {
    /// Name of the operation, for errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Activate => "activate",
            Transition::Deactivate => "revoke",
            Transition::Compromise => "revoke (compromise)",
            Transition::Destroy => "destroy",
        }
    }
}

impl State {
    /// The state after `t`, or `None` when KMIP forbids it.
    pub fn transition(self, t: Transition) -> Option<State> {
        use State::*;
        use Transition::*;
        match (self, t) {
            (PreActive, Activate) => Some(Active),
            (PreActive, Deactivate) => Some(Deactivated),
            (PreActive, Compromise) => Some(Compromised),
            (PreActive, Destroy) => Some(Destroyed),
            (Active, Deactivate) => Some(Deactivated),
            (Active, Compromise) => Some(Compromised),
            (Deactivated, Compromise) => Some(Compromised),
            (Deactivated, Destroy) => Some(Destroyed),
            (Compromised, Destroy) => Some(DestroyedCompromised),
            (Destroyed, Compromise) => Some(DestroyedCompromised),
            _ => None,
        }
    }

    /// Stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            State::PreActive => "pre_active",
            State::Active => "active",
            State::Deactivated => "deactivated",
            State::Compromised => "compromised",
            State::Destroyed => "destroyed",
            State::DestroyedCompromised => "destroyed_compromised",
        }
    }

    /// Parses [`State::as_str`] output.
    pub fn parse(s: &str) -> Option<State> {
        ALL_STATES.iter().copied().find(|st| st.as_str() == s)
    }

    /// True once the key material is gone.
    pub fn is_destroyed(self) -> bool {
        matches!(self, State::Destroyed | State::DestroyedCompromised)
    }

    /// Lifecycle order used to resolve concurrent changes: state only moves forward.
    pub fn rank(self) -> u8 {
        match self {
            State::PreActive => 0,
            State::Active => 1,
            State::Deactivated => 2,
            State::Compromised => 3,
            State::Destroyed => 4,
            State::DestroyedCompromised => 5,
        }
    }
}

/// Every state, in lifecycle order.
pub const ALL_STATES: [State; 6] = [
    State::PreActive,
    State::Active,
    State::Deactivated,
    State::Compromised,
    State::Destroyed,
    State::DestroyedCompromised,
];

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;
    use Transition::*;

    /// The whole table: every (state, transition) pair and its expected outcome.
    #[test]
    fn transition_table() {
        let table: [(State, Transition, Option<State>); 24] = [
            (PreActive, Activate, Some(Active)),
            (PreActive, Deactivate, Some(Deactivated)),
            (PreActive, Compromise, Some(Compromised)),
            (PreActive, Destroy, Some(Destroyed)),
            (Active, Activate, None),
            (Active, Deactivate, Some(Deactivated)),
            (Active, Compromise, Some(Compromised)),
            (Active, Destroy, None),
            (Deactivated, Activate, None),
            (Deactivated, Deactivate, None),
            (Deactivated, Compromise, Some(Compromised)),
            (Deactivated, Destroy, Some(Destroyed)),
            (Compromised, Activate, None),
            (Compromised, Deactivate, None),
            (Compromised, Compromise, None),
            (Compromised, Destroy, Some(DestroyedCompromised)),
            (Destroyed, Activate, None),
            (Destroyed, Deactivate, None),
            (Destroyed, Compromise, Some(DestroyedCompromised)),
            (Destroyed, Destroy, None),
            (DestroyedCompromised, Activate, None),
            (DestroyedCompromised, Deactivate, None),
            (DestroyedCompromised, Compromise, None),
            (DestroyedCompromised, Destroy, None),
        ];
        for (from, t, to) in table {
            assert_eq!(from.transition(t), to, "{from} --{}-->", t.as_str());
        }
    }

    #[test]
    fn transitions_only_move_forward() {
        for s in ALL_STATES {
            for t in [Activate, Deactivate, Compromise, Destroy] {
                if let Some(next) = s.transition(t) {
                    assert!(next.rank() > s.rank(), "{s} -> {next}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in ALL_STATES {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("bogus"), None);
    }
}
