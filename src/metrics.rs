//! Prometheus metrics (SPEC 9.2): request counts and latencies per interface, kept
//! here as atomics, and everything else read from the node's status when scraped
//! (pool levels, objects, root-of-trust health, replication peers and their lag).
//!
//! Rendered in the Prometheus text exposition format 0.0.4 by [`render`].

use crate::service::Status;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, seconds. Drive and KMIP requests
/// are expected in the low milliseconds, so the buckets are dense there.
const BUCKETS: [f64; 13] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The interfaces whose requests are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// The administrative REST API.
    Rest,
    /// KMIP over mutual TLS.
    Kmip,
    /// The drive-agent protocol.
    Agent,
    /// The OKM agent protocol (SOAP) of drives with built-in key agents.
    Okm,
}

const INTERFACES: [Interface; 4] = [
    Interface::Rest,
    Interface::Kmip,
    Interface::Agent,
    Interface::Okm,
];

impl Interface {
    fn as_str(self) -> &'static str {
        match self {
            Interface::Rest => "rest",
            Interface::Kmip => "kmip",
            Interface::Agent => "agent",
            Interface::Okm => "okm",
        }
    }

    fn index(self) -> usize {
        match self {
            Interface::Rest => 0,
            Interface::Kmip => 1,
            Interface::Agent => 2,
            Interface::Okm => 3,
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Refused or failed because of the request (bad input, not allowed, not found).
    ClientError,
    /// Failed on the node's side.
    ServerError,
}

const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::ClientError, Outcome::ServerError];

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }

    fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::ClientError => 1,
            Outcome::ServerError => 2,
        }
    }

    /// The outcome an HTTP status code stands for.
    pub fn of_http(status: u16) -> Outcome {
        match status {
            500.. => Outcome::ServerError,
            400.. => Outcome::ClientError,
            _ => Outcome::Ok,
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Request counters and latency histograms of one node, per interface.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    counts: [[AtomicU64; OUTCOMES.len()]; INTERFACES.len()],
    latency: [Histogram; INTERFACES.len()],
}

impl RequestMetrics {
    /// Counts one request and its latency.
    pub fn record(&self, interface: Interface, outcome: Outcome, took: Duration) {
        let i = interface.index();
        self.counts[i][outcome.index()].fetch_add(1, Ordering::Relaxed);
        self.latency[i].record(took);
    }
}

/// A label value escaped as the text format requires.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics page: request metrics, then what `status` reports.
pub fn render(status: &Status, requests: &RequestMetrics) -> String {
    let mut o = String::with_capacity(4096);
    header(
        &mut o,
        "clavis_info",
        "gauge",
        "The node, with its identity as labels.",
    );
    let _ = writeln!(
        o,
        "clavis_info{{node_id=\"{}\",node=\"{}\",site=\"{}\",replica_id=\"{}\",version=\"{}\",root_of_trust=\"{}\",store=\"{}\"}} 1",
        label(&status.node_id),
        label(&status.node_name),
        label(&status.site),
        label(&status.replica_id),
        label(status.version),
        label(&serde_plain(&status.root_of_trust)),
        label(&serde_plain(&status.store)),
    );

    header(
        &mut o,
        "clavis_requests_total",
        "counter",
        "Requests answered since the node started, by interface and outcome.",
    );
    for i in INTERFACES {
        for out in OUTCOMES {
            let n = requests.counts[i.index()][out.index()].load(Ordering::Relaxed);
            let _ = writeln!(
                o,
                "clavis_requests_total{{interface=\"{}\",outcome=\"{}\"}} {n}",
                i.as_str(),
                out.as_str()
            );
        }
    }
    header(
        &mut o,
        "clavis_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its answer, by interface.",
    );
    for i in INTERFACES {
        let h = &requests.latency[i.index()];
        for (bound, b) in BUCKETS.iter().zip(&h.buckets) {
            let _ = writeln!(
                o,
                "clavis_request_duration_seconds_bucket{{interface=\"{}\",le=\"{bound}\"}} {}",
                i.as_str(),
                b.load(Ordering::Relaxed)
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "clavis_request_duration_seconds_bucket{{interface=\"{}\",le=\"+Inf\"}} {count}",
            i.as_str()
        );
        let _ = writeln!(
            o,
            "clavis_request_duration_seconds_sum{{interface=\"{}\"}} {}",
            i.as_str(),
            h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            o,
            "clavis_request_duration_seconds_count{{interface=\"{}\"}} {count}",
            i.as_str()
        );
    }

    header(
        &mut o,
        "clavis_root_of_trust_up",
        "gauge",
        "1 when the root of trust answered its last probe.",
    );
    let _ = writeln!(
        o,
        "clavis_root_of_trust_up {}",
        u8::from(status.hsm_health.ok)
    );

    header(
        &mut o,
        "clavis_objects",
        "gauge",
        "Managed objects by state.",
    );
    for (state, n) in &status.objects {
        if *state != "total" {
            let _ = writeln!(o, "clavis_objects{{state=\"{}\"}} {n}", label(state));
        }
    }
    header(
        &mut o,
        "clavis_change_log_seq",
        "gauge",
        "Last change-log sequence this replica issued.",
    );
    let _ = writeln!(o, "clavis_change_log_seq {}", status.change_log_seq);

    pools(&mut o, status);
    peers(&mut o, status);
    o
}

fn pools(o: &mut String, status: &Status) {
    type Field = fn(&crate::pool::PoolReport) -> f64;
    let gauges: [(&str, &str, &str, Field); 4] = [
        (
            "clavis_pool_ready_keys",
            "gauge",
            "Ready keys in this node's pool of the key group.",
            |p| p.ready as f64,
        ),
        (
            "clavis_pool_size_keys",
            "gauge",
            "Target size of the pool.",
            |p| p.size as f64,
        ),
        (
            "clavis_pool_low_water_keys",
            "gauge",
            "Refills start below this many ready keys.",
            |p| p.low_water as f64,
        ),
        (
            "clavis_pool_peak_keys_per_second",
            "gauge",
            "Most keys taken in one second since the node started.",
            |p| f64::from(p.peak_per_second),
        ),
    ];
    let counters: [(&str, &str, &str, Field); 4] = [
        (
            "clavis_pool_taken_keys_total",
            "counter",
            "Keys handed out since the node started.",
            |p| p.taken as f64,
        ),
        (
            "clavis_pool_refilled_keys_total",
            "counter",
            "Keys generated since the node started.",
            |p| p.refilled as f64,
        ),
        (
            "clavis_pool_drains_total",
            "counter",
            "Times the pool ran empty since the node started.",
            |p| p.drains as f64,
        ),
        (
            "clavis_pool_empty_answers_total",
            "counter",
            "\"No ready key\" answers since the node started.",
            |p| p.empty_answers as f64,
        ),
    ];
    for (name, kind, help, f) in gauges.iter().chain(counters.iter()) {
        header(o, name, kind, help);
        for p in &status.pools {
            let _ = writeln!(
                o,
                "{name}{{key_group=\"{}\",key_group_id=\"{}\"}} {}",
                label(&p.wallet),
                label(&p.wallet_id),
                f(p)
            );
        }
    }
}

fn peers(o: &mut String, status: &Status) {
    use crate::cluster::status::{PeerState, PeerStatus};
    header(
        o,
        "clavis_cluster_members",
        "gauge",
        "Nodes in the cluster's membership, any state.",
    );
    let _ = writeln!(o, "clavis_cluster_members {}", status.cluster.members);
    let labels = |p: &PeerStatus| {
        format!(
            "peer_id=\"{}\",peer=\"{}\",site=\"{}\"",
            label(&p.node_id),
            label(&p.name),
            label(&p.site)
        )
    };
    header(
        o,
        "clavis_peer_up",
        "gauge",
        "1 when the last exchange with the peer succeeded (state up or lagging).",
    );
    for p in &status.cluster.peers {
        let up = matches!(p.state, PeerState::Up | PeerState::Lagging);
        let _ = writeln!(o, "clavis_peer_up{{{}}} {}", labels(p), u8::from(up));
    }
    header(
        o,
        "clavis_peer_state",
        "gauge",
        "The peer's state as this node sees it: 1 for the current one.",
    );
    for p in &status.cluster.peers {
        for s in [
            PeerState::Up,
            PeerState::Lagging,
            PeerState::Down,
            PeerState::Unknown,
        ] {
            let _ = writeln!(
                o,
                "clavis_peer_state{{{},state=\"{}\"}} {}",
                labels(p),
                serde_plain(&s),
                u8::from(p.state == s)
            );
        }
    }
    header(
        o,
        "clavis_peer_behind_changes",
        "gauge",
        "Changes the peer holds that this node has not applied yet.",
    );
    for p in &status.cluster.peers {
        let _ = writeln!(
            o,
            "clavis_peer_behind_changes{{{}}} {}",
            labels(p),
            p.behind
        );
    }
    header(
        o,
        "clavis_peer_lag_seconds",
        "gauge",
        "Age of the newest change applied from the peer when it was applied.",
    );
    for p in &status.cluster.peers {
        if let Some(ms) = p.last_lag_ms {
            let _ = writeln!(
                o,
                "clavis_peer_lag_seconds{{{}}} {}",
                labels(p),
                ms as f64 / 1e3
            );
        }
    }
    header(
        o,
        "clavis_peer_max_lag_seconds",
        "gauge",
        "Largest replication lag from the peer since the node started.",
    );
    for p in &status.cluster.peers {
        let _ = writeln!(
            o,
            "clavis_peer_max_lag_seconds{{{}}} {}",
            labels(p),
            p.max_lag_ms as f64 / 1e3
        );
    }
    header(
        o,
        "clavis_peer_applied_changes_total",
        "counter",
        "Changes applied from the peer since the node started.",
    );
    for p in &status.cluster.peers {
        let _ = writeln!(
            o,
            "clavis_peer_applied_changes_total{{{}}} {}",
            labels(p),
            p.applied
        );
    }
    header(
        o,
        "clavis_peer_last_contact_timestamp_seconds",
        "gauge",
        "Unix time of the last successful exchange with the peer.",
    );
    for p in &status.cluster.peers {
        if let Some(ms) = p.last_contact_ms {
            let _ = writeln!(
                o,
                "clavis_peer_last_contact_timestamp_seconds{{{}}} {}",
                labels(p),
                ms as f64 / 1e3
            );
        }
    }
}

/// A unit enum's serde name (`software`, `postgres`, `up`).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_matches() {
        let m = RequestMetrics::default();
        m.record(Interface::Kmip, Outcome::Ok, Duration::from_micros(300));
        m.record(Interface::Kmip, Outcome::Ok, Duration::from_millis(3));
        m.record(
            Interface::Kmip,
            Outcome::ClientError,
            Duration::from_secs(20),
        );
        let h = &m.latency[Interface::Kmip.index()];
        let b: Vec<u64> = h
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(b[0], 1, "<= 0.5 ms");
        assert_eq!(b[3], 2, "<= 5 ms");
        assert_eq!(*b.last().expect("buckets"), 2, "20 s only in +Inf");
        assert_eq!(h.count.load(Ordering::Relaxed), 3);
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn http_status_outcomes() {
        assert_eq!(Outcome::of_http(201), Outcome::Ok);
        assert_eq!(Outcome::of_http(404), Outcome::ClientError);
        assert_eq!(Outcome::of_http(503), Outcome::ServerError);
    }
}
