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

mod cluster;
mod properties;
mod protocol;

use cluster::{Cluster, Flaw, Params};
use properties::*;
use protocol::{Lifecycle, Op};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;
use std::time::Instant;

/// A cap on generated states; every run must finish below it, i.e. exhaustively.
const STATE_CAP: usize = 3_000_000;

/// Three replicas: R0 and R1 in site A, R2 in site B. R0 deletes the entity while R2
/// upserts it (a conflict either side can win, depending on what each has seen), R1
/// compromises it and R2 destroys it (joined to Destroyed-Compromised). R0 and R1 each
/// have one pool key.
fn three_replicas(links: Vec<(usize, usize)>, flaw: Flaw) -> Params {
    Params {
        replicas: 3,
        batch: 1,
        writes: vec![
            vec![Op::Delete],
            vec![Op::Advance(Lifecycle::Compromised)],
            vec![Op::Upsert(1), Op::Advance(Lifecycle::Destroyed)],
        ],
        pools: vec![vec![10], vec![20], vec![]],
        links,
        lossy: true,
        max_crashes: 1,
        flaw,
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

/// A flawed protocol: the checker must find a counterexample to `property`.
fn assert_caught(name: &str, params: Params, property: &'static str) {
    let checker = check(
        name,
        params,
        HasDiscoveries::AnyOf(BTreeSet::from([property])),
    );
    let path = checker.assert_any_discovery(property);
    let actions = path.into_actions();
    println!("{name}: counterexample to \"{property}\" in {} steps:", actions.len());
    for a in &actions {
        println!("  {}", checker.model().format_action(a));
    }
}

const REACHABLE: [&str; 5] = [
    KEY_ISSUED,
    REPLY_LOST,
    ALL_EVERYWHERE,
    TOMBSTONE_WINS,
    UPSERT_WINS,
];

#[test]
fn full_mesh_converges_and_issues_no_key_twice() {
    let checker = check(
        "full mesh",
        three_replicas(full_mesh(), Flaw::None),
        HasDiscoveries::AnyFailures,
    );
    assert_correct(&checker, &REACHABLE);
}

#[test]
fn partitioned_pair_converges_through_third_replica() {
    let checker = check(
        "R0-R2 cut",
        three_replicas(cut_r0_r2(), Flaw::None),
        HasDiscoveries::AnyFailures,
    );
    assert_correct(&checker, &[FORWARDED, ALL_EVERYWHERE]);
}

#[test]
fn checker_catches_apply_without_exactly_next_check() {
    assert_caught(
        "no exactly-next check",
        three_replicas(full_mesh(), Flaw::NoNextCheck),
        LOGS_CONSISTENT,
    );
}

#[test]
fn checker_catches_last_arrival_wins_merge() {
    assert_caught(
        "last arrival wins",
        three_replicas(full_mesh(), Flaw::LastArrivalWins),
        EQUAL_LOGS_EQUAL_STATE,
    );
}

#[test]
fn checker_catches_key_reply_before_durable_take() {
    assert_caught(
        "reply before durable take",
        three_replicas(full_mesh(), Flaw::KeyTakeNotDurable),
        NO_KEY_TWICE,
    );
}

#[test]
fn checker_catches_hlc_lost_in_crash() {
    assert_caught(
        "HLC not durable",
        three_replicas(full_mesh(), Flaw::HlcNotDurable),
        OWN_ORDER,
    );
}
