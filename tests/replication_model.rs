//! Model of the multi-master replication protocol (SPEC 7, DESIGN "Replication"),
//! exhaustively checked with stateright. See docs/cluster-model.md for what is
//! modelled, the properties and the bounds.
//!
//! - `protocol`: durable data, pull/serve/apply and the merge rules.
//! - `cluster`: replicas as actors on a lossy, duplicating, reordering network, with
//!   crashes; the checked `Model`.
//! - `properties`: safety (`always`), fair-delivery liveness, and reachability.
//!
//! Run with `--nocapture` to see the state counts.

#[path = "replication_model/cluster.rs"]
mod cluster;
#[path = "replication_model/properties.rs"]
mod properties;
#[path = "replication_model/protocol.rs"]
mod protocol;

use cluster::{Cluster, Flaw, Params};
use properties::*;
use protocol::{Lifecycle, Op};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;
use std::time::Instant;

/// A cap on generated states; every run must finish below it, i.e. exhaustively.
const STATE_CAP: usize = 3_000_000;

/// Three replicas, R0 and R1 in site A, R2 in site B, replicating `writes` (per
/// replica, all on one entity). No pool keys: pools are never replicated, so they are
/// checked in their own run (`pool_params`) and do not multiply this state space.
fn replication(links: Vec<(usize, usize)>, writes: Vec<Vec<Op>>, flaw: Flaw) -> Params {
    Params {
        replicas: 3,
        batch: 1,
        writes,
        pools: vec![vec![]; 3],
        links,
        lossy: true,
        max_crashes: 1,
        max_in_flight: 2,
        flaw,
    }
}

/// R0 deletes the entity while R2 upserts it: either side can win, depending on
/// whether the writer had already seen the other change (HLC) or not (node ID).
fn conflict() -> Vec<Vec<Op>> {
    vec![vec![Op::Delete], vec![], vec![Op::Upsert(1)]]
}

/// Pool keys only, no writes: R0 holds two keys, R1 one, R2 none.
fn pool_params(flaw: Flaw) -> Params {
    Params {
        writes: vec![vec![]; 3],
        pools: vec![vec![10, 11], vec![20], vec![]],
        ..replication(full_mesh(), vec![vec![]; 3], flaw)
    }
}

fn full_mesh() -> Vec<(usize, usize)> {
    vec![(0, 1), (0, 2), (1, 2)]
}

/// Site B reaches site A only through R1: R0 and R2 are partitioned for good.
fn cut_r0_r2() -> Vec<(usize, usize)> {
    vec![(0, 1), (1, 2)]
}

fn check(name: &str, params: Params, finish: HasDiscoveries) -> impl Checker<Cluster> {
    let start = Instant::now();
    let checker = Cluster::new(params)
        .checker()
        .threads(1)
        .target_state_count(STATE_CAP)
        .finish_when(finish)
        .spawn_bfs()
        .join();
    println!(
        "{name}: {} states generated, {} unique, max depth {}, {:.1?}",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    checker
}

/// The correct protocol: no safety or liveness property fails anywhere in the bounded
/// state space, which is explored completely, and every `sometimes` is reached.
fn assert_correct(checker: &impl Checker<Cluster>, reachable: &[&'static str]) {
    assert!(
        checker.state_count() < STATE_CAP,
        "the state space must be explored completely"
    );
    for name in [
        NO_KEY_TWICE,
        EQUAL_LOGS_EQUAL_STATE,
        LOGS_CONSISTENT,
        OWN_ORDER,
        FAIR_DELIVERY,
    ] {
        checker.assert_no_discovery(name);
    }
    for &name in reachable {
        checker.assert_any_discovery(name);
    }
}

/// A flawed protocol: the checker must find a counterexample to `property`. Prints
/// it up to the first state that violates the property (the path the checker keeps
/// may run a few steps past it).
fn assert_caught(name: &str, params: Params, property: &'static str) {
    let checker = check(
        name,
        params,
        HasDiscoveries::AnyOf(BTreeSet::from([property])),
    );
    let model = checker.model();
    let holds = model.property(property).condition;
    let steps = checker.assert_any_discovery(property).into_vec();
    let first_bad = steps
        .iter()
        .position(|(state, _)| !holds(model, state))
        .expect("the discovered path violates the property");
    println!("{name}: counterexample to \"{property}\" in {first_bad} steps:");
    for (_, action) in &steps[..first_bad] {
        let action = action.as_ref().expect("an action leads on");
        println!("  {}", model.format_action(action));
    }
}

#[test]
fn full_mesh_converges() {
    let checker = check(
        "full mesh",
        replication(full_mesh(), conflict(), Flaw::None),
        HasDiscoveries::AnyFailures,
    );
    assert_correct(
        &checker,
        &[ALL_EVERYWHERE, TOMBSTONE_WINS, UPSERT_WINS, DOWN_BEHIND],
    );
}

#[test]
fn partitioned_pair_converges_through_third_replica() {
    // R2 writes twice and batches carry up to two changes.
    let writes = vec![
        vec![Op::Delete],
        vec![],
        vec![Op::Upsert(1), Op::Advance(Lifecycle::Destroyed)],
    ];
    let params = Params {
        batch: 2,
        ..replication(cut_r0_r2(), writes, Flaw::None)
    };
    let checker = check("R0-R2 cut", params, HasDiscoveries::AnyFailures);
    assert_correct(
        &checker,
        &[
            FORWARDED,
            ALL_EVERYWHERE,
            TOMBSTONE_WINS,
            UPSERT_WINS,
            DOWN_BEHIND,
        ],
    );
}

#[test]
fn pool_never_issues_a_key_twice() {
    let checker = check("pool", pool_params(Flaw::None), HasDiscoveries::AnyFailures);
    assert_correct(&checker, &[KEY_ISSUED, REPLY_LOST]);
}

#[test]
fn checker_catches_apply_without_exactly_next_check() {
    assert_caught(
        "no exactly-next check",
        replication(full_mesh(), conflict(), Flaw::NoNextCheck),
        LOGS_CONSISTENT,
    );
}

#[test]
fn checker_catches_last_arrival_wins_merge() {
    assert_caught(
        "last arrival wins",
        replication(full_mesh(), conflict(), Flaw::LastArrivalWins),
        EQUAL_LOGS_EQUAL_STATE,
    );
}

#[test]
fn checker_catches_key_reply_before_durable_take() {
    assert_caught(
        "reply before durable take",
        pool_params(Flaw::KeyTakeNotDurable),
        NO_KEY_TWICE,
    );
}

#[test]
fn checker_catches_hlc_lost_in_crash() {
    let writes = vec![vec![Op::Upsert(1), Op::Upsert(2)], vec![], vec![]];
    assert_caught(
        "HLC not durable",
        replication(full_mesh(), writes, Flaw::HlcNotDurable),
        OWN_ORDER,
    );
}

#[test]
fn checker_catches_ack_before_durable_write() {
    assert_caught(
        "ack before durable write",
        replication(full_mesh(), conflict(), Flaw::AckBeforeDurable),
        FAIR_DELIVERY,
    );
}

#[test]
fn checker_catches_missing_forwarding() {
    assert_caught(
        "no forwarding",
        replication(cut_r0_r2(), conflict(), Flaw::NoForwarding),
        FAIR_DELIVERY,
    );
}
