//! What the checker verifies in every reachable state (`always`) and what it must be
//! able to reach at least once (`sometimes`, so that the `always` ones are not vacuous).

use super::cluster::{Cluster, State};
use super::protocol::{Durable, Op};
use stateright::Property;

pub const NO_KEY_TWICE: &str = "no pool key is issued twice";
pub const EQUAL_LOGS_EQUAL_STATE: &str = "replicas with equal logs have equal state";
pub const LOGS_CONSISTENT: &str = "logs are gap-free, one content per (origin, seq)";
pub const OWN_ORDER: &str = "each origin's changes carry increasing HLCs";
pub const FAIR_DELIVERY: &str = "under fair delivery every acked change reaches every replica";

pub const KEY_ISSUED: &str = "a pool key is issued";
pub const REPLY_LOST: &str = "a crash loses a key reply but not the take";
pub const ALL_EVERYWHERE: &str = "every write is acked and held by every replica";
pub const FORWARDED: &str = "a change reaches a replica through a third one";
pub const TOMBSTONE_WINS: &str = "a delete wins over an upsert of the entity";
pub const UPSERT_WINS: &str = "an upsert wins over a delete of the entity";
pub const DOWN_BEHIND: &str = "a replica is down while it lacks an acked change";

pub fn all() -> Vec<Property<Cluster>> {
    vec![
        Property::always(NO_KEY_TWICE, no_key_twice),
        Property::always(EQUAL_LOGS_EQUAL_STATE, equal_logs_equal_state),
        Property::always(LOGS_CONSISTENT, logs_consistent),
        Property::always(OWN_ORDER, own_order),
        Property::always(FAIR_DELIVERY, fair_delivery_converges),
        Property::sometimes(KEY_ISSUED, key_issued),
        Property::sometimes(REPLY_LOST, reply_lost),
        Property::sometimes(ALL_EVERYWHERE, all_everywhere),
        Property::sometimes(FORWARDED, forwarded),
        Property::sometimes(TOMBSTONE_WINS, |m, s| conflict_won_by(m, s, false)),
        Property::sometimes(UPSERT_WINS, |m, s| conflict_won_by(m, s, true)),
        Property::sometimes(DOWN_BEHIND, down_behind),
    ]
}

fn key_issued(_: &Cluster, s: &State) -> bool {
    !s.history.issued.is_empty()
}

/// The ghost multiset holds every key that left a node: no duplicates, and no issued
/// key is back in a pool (durable, or in memory on a live node).
fn no_key_twice(m: &Cluster, s: &State) -> bool {
    let issued = &s.history.issued;
    issued.windows(2).all(|w| w[0] != w[1])
        && m.durables(s)
            .map(|d| &d.pool)
            .chain(m.live(s).map(|(_, r)| &r.durable.pool))
            .all(|pool| issued.iter().all(|k| !pool.contains(k)))
}

fn equal_logs_equal_state(m: &Cluster, s: &State) -> bool {
    let ds: Vec<&Durable> = m.durables(s).collect();
    ds.iter().enumerate().all(|(i, a)| {
        ds[i + 1..]
            .iter()
            .all(|b| a.logs != b.logs || a.state == b.state)
    })
}

/// `log[o][i]` is change (o, i+1) at every replica, the same change wherever it is
/// held, and a replica's `last_seq` is the length of its own log.
fn logs_consistent(m: &Cluster, s: &State) -> bool {
    let ds: Vec<&Durable> = m.durables(s).collect();
    let numbered = ds.iter().all(|d| {
        usize::from(d.last_seq) == d.logs[usize::from(d.me)].len()
            && d.logs.iter().enumerate().all(|(o, log)| {
                log.iter()
                    .enumerate()
                    .all(|(i, c)| usize::from(c.origin) == o && usize::from(c.seq) == i + 1)
            })
    });
    numbered
        && ds.iter().all(|a| {
            ds.iter().all(|b| {
                a.logs
                    .iter()
                    .zip(&b.logs)
                    .all(|(x, y)| x.iter().zip(y).all(|(c, d)| c == d))
            })
        })
}

/// A replica's later write must beat its own earlier one under last-writer-wins.
fn own_order(m: &Cluster, s: &State) -> bool {
    m.durables(s).all(|d| {
        d.logs
            .iter()
            .all(|log| log.windows(2).all(|w| w[0].stamp < w[1].stamp))
    })
}

/// Liveness, checked from every reachable state: let every crashed replica restart
/// (with its durable state only) and every link deliver, i.e. each replica pulls each
/// peer until nothing new arrives, running the protocol's own `serve`/`apply_batch`.
/// Then every acknowledged change must be everywhere, and all replicas identical.
/// Applying is monotone (logs only grow), so stale or duplicate messages still in the
/// network cannot undo this: any fair continuation converges to the same point.
fn fair_delivery_converges(m: &Cluster, s: &State) -> bool {
    let p = &m.params;
    let mut ds: Vec<Durable> = m.durables(s).cloned().collect();
    let bound = 4 * (p.total_writes() + 1) * p.links.len().max(1);
    let mut rounds = 0;
    loop {
        let mut progress = false;
        for &(x, y) in &p.links {
            for (a, b) in [(x, y), (y, x)] {
                loop {
                    let batch = ds[b].serve(&ds[a].version_vector(), p.batch, p.forward());
                    if batch.is_empty() || !ds[a].apply_batch(&batch, p.accept(), p.merge()) {
                        break;
                    }
                    progress = true;
                }
            }
        }
        rounds += 1;
        if !progress || rounds > bound {
            break;
        }
    }
    s.history
        .acked
        .iter()
        .all(|&(o, seq)| ds.iter().all(|d| d.holds(o, seq)))
        && ds
            .windows(2)
            .all(|w| w[0].logs == w[1].logs && w[0].state == w[1].state)
}

/// A key taken from a pool durably, whose reply never left and never will: the node
/// is up again and holds no pending reply for it.
fn reply_lost(m: &Cluster, s: &State) -> bool {
    m.live(s).any(|(i, r)| {
        let durable_pool = &m.durables(s).nth(i).expect("replica").pool;
        m.params.pools[i].iter().any(|k| {
            !durable_pool.contains(k) && !s.history.issued.contains(k) && !r.pending.contains(k)
        })
    })
}

fn all_everywhere(m: &Cluster, s: &State) -> bool {
    s.history.acked.len() == m.params.total_writes()
        && m.durables(s).all(|d| {
            d.logs
                .iter()
                .zip(&m.params.writes)
                .all(|(log, w)| log.len() == w.len())
        })
}

/// Crashes are explored in replication runs too: one must catch up after restarting.
fn down_behind(m: &Cluster, s: &State) -> bool {
    m.durables(s)
        .enumerate()
        .any(|(i, d)| s.crashed[i] && s.history.acked.iter().any(|&(o, seq)| !d.holds(o, seq)))
}

fn forwarded(m: &Cluster, s: &State) -> bool {
    m.durables(s).enumerate().any(|(r, d)| {
        d.logs
            .iter()
            .enumerate()
            .any(|(o, log)| !log.is_empty() && !m.params.linked(r, o))
    })
}

/// Some replica holds both an upsert and a delete of entity 0, and `upsert` says which
/// one its merged state shows.
fn conflict_won_by(m: &Cluster, s: &State, upsert: bool) -> bool {
    m.durables(s).any(|d| {
        let ops = || d.logs.iter().flatten().map(|c| c.op);
        let both = ops().any(|op| op == Op::Delete) && ops().any(|op| matches!(op, Op::Upsert(_)));
        let shown = d
            .state
            .get(&0)
            .and_then(|e| e.value)
            .map(|(_, v)| v.is_some());
        both && shown == Some(upsert)
    })
}
