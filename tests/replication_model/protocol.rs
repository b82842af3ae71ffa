//! The replication protocol's durable data and rules, free of any actor or network:
//! the actor in `cluster.rs` and the fair-delivery oracle in `properties.rs` both run
//! these same functions, so a flaw switched on here shows up in both.

use std::collections::{BTreeMap, BTreeSet};

/// Index of a replica (origin of changes) and, with one node per replica, its node ID.
pub type ReplicaIx = u8;
/// A pool key ID. Pools are per node and disjoint.
pub type KeyId = u8;

/// KMIP lifecycle states. Merged by lattice join, so the state only moves forward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifecycle {
    #[default]
    PreActive,
    Active,
    Deactivated,
    Compromised,
    Destroyed,
    DestroyedCompromised,
}

impl Lifecycle {
    /// The state as a point of the product lattice chain × destroyed × compromised.
    /// Destroyed and Compromised sit above the whole chain, which makes
    /// `join(Destroyed, Compromised) = DestroyedCompromised` and Compromised
    /// reachable from any state.
    fn parts(self) -> (u8, bool, bool) {
        match self {
            Lifecycle::PreActive => (0, false, false),
            Lifecycle::Active => (1, false, false),
            Lifecycle::Deactivated => (2, false, false),
            Lifecycle::Compromised => (2, false, true),
            Lifecycle::Destroyed => (2, true, false),
            Lifecycle::DestroyedCompromised => (2, true, true),
        }
    }

    pub fn join(self, other: Lifecycle) -> Lifecycle {
        let (a, ad, ac) = self.parts();
        let (b, bd, bc) = other.parts();
        match (ad || bd, ac || bc) {
            (true, true) => Lifecycle::DestroyedCompromised,
            (true, false) => Lifecycle::Destroyed,
            (false, true) => Lifecycle::Compromised,
            (false, false) => match a.max(b) {
                0 => Lifecycle::PreActive,
                1 => Lifecycle::Active,
                _ => Lifecycle::Deactivated,
            },
        }
    }
}

/// What a change does to its entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Set the (single modelled) attribute.
    Upsert(u8),
    /// Tombstone the entity.
    Delete,
    /// Move the lifecycle state forward.
    Advance(Lifecycle),
}

/// Last-writer-wins order: HLC first, node ID breaks ties. Unique per change because
/// each node's HLC strictly increases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    pub hlc: u8,
    pub node: ReplicaIx,
}

/// One entry of `log[origin]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    pub origin: ReplicaIx,
    pub seq: u8,
    pub stamp: Stamp,
    pub entity: u8,
    pub op: Op,
}

/// Merged value of one entity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entity {
    /// LWW register: the winning stamp and the value, `None` for a tombstone.
    pub value: Option<(Stamp, Option<u8>)>,
    pub lifecycle: Lifecycle,
}

/// How changes are merged into `state`. `LastArrivalWins` is a deliberately broken,
/// non-commutative rule that the checker must catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Lattice,
    LastArrivalWins,
}

impl Entity {
    pub fn merge(&mut self, change: &Change, rule: Merge) {
        let register = match change.op {
            Op::Upsert(v) => Some(v),
            Op::Delete => None,
            Op::Advance(l) => {
                self.lifecycle = match rule {
                    Merge::Lattice => self.lifecycle.join(l),
                    Merge::LastArrivalWins => l,
                };
                return;
            }
        };
        let wins = match (rule, self.value) {
            (Merge::LastArrivalWins, _) | (_, None) => true,
            (Merge::Lattice, Some((current, _))) => change.stamp > current,
        };
        if wins {
            self.value = Some((change.stamp, register));
        }
    }
}

/// How a received change is accepted. `AnyReceived` drops the exactly-next check
/// (broken on purpose).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    ExactlyNext,
    AnyReceived,
}

/// Everything a replica keeps across a crash. Each method that changes it is one
/// atomic durable step (one database transaction in the real code).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Durable {
    pub me: ReplicaIx,
    /// `logs[origin]`: gap-free, numbered from 1.
    pub logs: Vec<Vec<Change>>,
    pub state: BTreeMap<u8, Entity>,
    pub last_seq: u8,
    pub hlc: u8,
    /// This node's own pool; never replicated.
    pub pool: BTreeSet<KeyId>,
}

impl Durable {
    pub fn new(me: ReplicaIx, replicas: usize, pool: impl IntoIterator<Item = KeyId>) -> Self {
        Durable {
            me,
            logs: vec![Vec::new(); replicas],
            state: BTreeMap::new(),
            last_seq: 0,
            hlc: 0,
            pool: pool.into_iter().collect(),
        }
    }

    /// The version vector sent in a pull: how many changes of each origin are held.
    pub fn version_vector(&self) -> Vec<u8> {
        self.logs.iter().map(|l| l.len() as u8).collect()
    }

    /// A client write: numbered, stamped, logged and merged in one step.
    pub fn local_write(&mut self, entity: u8, op: Op, rule: Merge) -> Change {
        self.last_seq += 1;
        self.hlc += 1;
        let change = Change {
            origin: self.me,
            seq: self.last_seq,
            stamp: Stamp {
                hlc: self.hlc,
                node: self.me,
            },
            entity,
            op,
        };
        self.logs[usize::from(self.me)].push(change);
        self.state.entry(entity).or_default().merge(&change, rule);
        change
    }

    /// The answer to `Pull{vv}`: per origin, what follows `vv[origin]`, at most `k` in
    /// all. Without `forward` (a deliberate flaw) only this replica's own changes.
    pub fn serve(&self, vv: &[u8], k: usize, forward: bool) -> Vec<Change> {
        self.logs
            .iter()
            .zip(vv)
            .enumerate()
            .filter(|(o, _)| forward || *o == usize::from(self.me))
            .flat_map(|(_, (log, &held))| log.iter().filter(move |c| c.seq > held))
            .take(k)
            .copied()
            .collect()
    }

    /// Applies a received batch (one durable step); true if anything was applied.
    pub fn apply_batch(&mut self, batch: &[Change], accept: Accept, rule: Merge) -> bool {
        let mut applied = false;
        for change in batch {
            let log = &mut self.logs[usize::from(change.origin)];
            let next = change.seq as usize == log.len() + 1;
            if next || accept == Accept::AnyReceived {
                log.push(*change);
                self.state
                    .entry(change.entity)
                    .or_default()
                    .merge(change, rule);
                self.hlc = self.hlc.max(change.stamp.hlc);
                applied = true;
            }
        }
        applied
    }

    /// Takes one pool key (one durable step, before the reply is sent).
    pub fn take_key(&mut self) -> Option<KeyId> {
        self.pool.pop_first()
    }

    pub fn holds(&self, origin: ReplicaIx, seq: u8) -> bool {
        self.logs[usize::from(origin)].len() >= usize::from(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Lifecycle; 6] = [
        Lifecycle::PreActive,
        Lifecycle::Active,
        Lifecycle::Deactivated,
        Lifecycle::Compromised,
        Lifecycle::Destroyed,
        Lifecycle::DestroyedCompromised,
    ];

    /// The lifecycle join is a semilattice join, so merging in any order agrees.
    #[test]
    fn lifecycle_join_is_a_semilattice() {
        for a in ALL {
            assert_eq!(a.join(a), a);
            for b in ALL {
                assert_eq!(a.join(b), b.join(a));
                for c in ALL {
                    assert_eq!(a.join(b).join(c), a.join(b.join(c)));
                }
            }
        }
        assert_eq!(
            Lifecycle::Destroyed.join(Lifecycle::Compromised),
            Lifecycle::DestroyedCompromised
        );
        for a in ALL {
            assert!(matches!(
                a.join(Lifecycle::Compromised),
                Lifecycle::Compromised | Lifecycle::DestroyedCompromised
            ));
        }
    }

    /// Merging any two changes in either order gives the same entity.
    #[test]
    fn entity_merge_commutes() {
        let ops = [
            Op::Upsert(1),
            Op::Upsert(2),
            Op::Delete,
            Op::Advance(Lifecycle::Active),
            Op::Advance(Lifecycle::Destroyed),
            Op::Advance(Lifecycle::Compromised),
        ];
        let changes: Vec<Change> = ops
            .iter()
            .enumerate()
            .map(|(i, &op)| Change {
                origin: (i % 3) as u8,
                seq: 1,
                stamp: Stamp {
                    hlc: (i / 2) as u8,
                    node: (i % 3) as u8,
                },
                entity: 0,
                op,
            })
            .collect();
        for a in &changes {
            for b in &changes {
                let mut ab = Entity::default();
                ab.merge(a, Merge::Lattice);
                ab.merge(b, Merge::Lattice);
                let mut ba = Entity::default();
                ba.merge(b, Merge::Lattice);
                ba.merge(a, Merge::Lattice);
                assert_eq!(ab, ba, "{a:?} then {b:?}");
                let mut twice = ab;
                twice.merge(a, Merge::Lattice);
                assert_eq!(twice, ab, "merge is idempotent");
            }
        }
    }
}
