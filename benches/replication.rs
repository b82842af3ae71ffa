//! Replication figures: lag between two nodes under a steady write load, the time a new
//! node takes to copy a cluster holding N keys, and the time two replicas take to
//! reconverge after a partition during which N changes were made; then a third node
//! joins, and a fourth joins while the other three serve creates and gets, is removed
//! and factory-reset. Prints figures; no assertions on times (it does check that the
//! nodes converge to equal digests). See `benches/README.md`.
//!
//! Run: `cargo bench --bench replication` (software root of trust, SQLite, loopback).
//! `CLAVIS_BENCH_KEYS` sets N (default 100,000); `CLAVIS_BENCH_RATE` the steady write
//! rate in keys/s (default 500) and `CLAVIS_BENCH_SECS` its duration (default 10).

#[path = "common/bulk.rs"]
mod bulk;

use bulk::bulk_keys;
use clavis::config::Config;
use clavis::keys::{Algorithm, Attributes};
use clavis::node::RunningNode;
use clavis::rot::RootOfTrust;
use clavis::service::{CreateKey, Principal};
use clavis::store::Store;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct NodeFiles {
    dir: TempDir,
    config: PathBuf,
}

fn node_files(name: &str, site: &str) -> NodeFiles {
    let dir = tempfile::tempdir().expect("tempdir");
    // A fixed port: a restarted node must be where its peers last saw it (a node
    // announces a new address only through its own change log).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let text = format!(
        "[node]\nname = \"{name}\"\nsite = \"{site}\"\ndata_dir = \"data\"\n\n\
         [root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n\n\
         [pool]\nrefill = false\n\n[audit]\ncheckpoint_interval_secs = 0\n\n\
         [cluster]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nheartbeat_ms = 1000\n"
    );
    let config = dir.path().join("clavis.toml");
    std::fs::write(&config, text).expect("config");
    std::fs::create_dir_all(dir.path().join("data")).expect("data");
    NodeFiles { dir, config }
}

fn cfg(n: &NodeFiles) -> Config {
    Config::load(&n.config).expect("config")
}

fn share_master_key(from: &NodeFiles, to: &NodeFiles) {
    for f in ["master-key.sealed", "rot-passphrase"] {
        std::fs::copy(
            from.dir.path().join("data").join(f),
            to.dir.path().join("data").join(f),
        )
        .expect("copy root of trust");
    }
}

async fn wait_converged(a: &Store, b: &Store, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        // A replica with no changes yet is absent from one vector and 0 in another.
        let nonzero = |mut v: clavis::store::VersionVector| {
            v.retain(|_, seq| *seq > 0);
            v
        };
        let (va, vb) = (
            nonzero(a.version_vector().await.expect("vv")),
            nonzero(b.version_vector().await.expect("vv")),
        );
        if va == vb {
            return start.elapsed();
        }
        if start.elapsed() > within {
            panic!("no convergence within {within:?}: {va:?} vs {vb:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Cluster {
    a_files: NodeFiles,
    a: RunningNode,
    recovery: String,
}

async fn first_node() -> Cluster {
    let a_files = node_files("a", "dc1");
    let out = clavis::node::init(&cfg(&a_files)).await.expect("init");
    let a = clavis::node::start(&cfg(&a_files)).await.expect("start a");
    Cluster {
        recovery: out.recovery_passphrase.expose_secret().to_owned(),
        a_files,
        a,
    }
}

/// Joins a new node `b` through `a` (copying everything) and starts it; returns it and
/// the time the copy took.
async fn join(c: &Cluster, name: &str, site: &str) -> (NodeFiles, RunningNode, Duration, u64) {
    let b_files = node_files(name, site);
    share_master_key(&c.a_files, &b_files);
    let inv =
        c.a.service
            .invite_node(
                &Principal::system("bench"),
                name,
                site,
                &secrecy::SecretString::from(c.recovery.clone()),
                None,
            )
            .await
            .expect("invite");
    let sponsor = c.a.cluster_addr.expect("cluster listener").to_string();
    let start = Instant::now();
    let out = clavis::node::join_cluster(
        &cfg(&b_files),
        &sponsor,
        inv.token.expose_secret(),
        &inv.ca_pem,
        |_, _| {},
    )
    .await
    .expect("join");
    let took = start.elapsed();
    let b = clavis::node::start(&cfg(&b_files)).await.expect("start b");
    (b_files, b, took, out.copied)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("CLAVIS_BENCH_KEYS", 100_000);
    let rate = env_usize("CLAVIS_BENCH_RATE", 500);
    let secs = env_usize("CLAVIS_BENCH_SECS", 10);
    println!("replication bench: N = {n} keys, software root of trust, SQLite, loopback, 2 nodes");

    // 1. A new node copies a cluster holding N keys.
    let c = first_node().await;
    let rot_a: Arc<dyn RootOfTrust> = clavis::node::open_rot(&cfg(&c.a_files), false).expect("rot");
    let a_id = c.a.service.node().node_id.clone();
    let t = Instant::now();
    bulk_keys(c.a.service.store(), rot_a.as_ref(), &a_id, n, "seed").await;
    println!(
        "  seeding {n} keys on node a: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (b_files, b, copy_time, copied) = join(&c, "b", "dc2").await;
    println!(
        "  new node copy: {copied} changes in {:.2} s ({:.0} changes/s)",
        copy_time.as_secs_f64(),
        copied as f64 / copy_time.as_secs_f64()
    );

    // 2. Lag under a steady write load: a creates keys at `rate`/s through the service;
    // b reports when each change is applied (its HLC carries a's wall clock).
    let b_store = b.service.store().clone();
    let a_replica = c.a.service.store().replica_id().await.expect("replica");
    let watcher = {
        let b_store = b_store.clone();
        let a_replica = a_replica.clone();
        tokio::spawn(async move {
            let mut after = b_store
                .version_vector()
                .await
                .expect("vv")
                .get(&a_replica)
                .copied()
                .unwrap_or(0);
            let mut lags = Vec::new();
            let stop_at = Instant::now() + Duration::from_secs(secs as u64 + 5);
            while Instant::now() < stop_at {
                let changes = b_store
                    .changes_since(&a_replica, after, 10_000)
                    .await
                    .expect("changes");
                let now = clavis::keys::now_millis();
                for ch in &changes {
                    if ch.entity == "object" {
                        lags.push((now - (ch.hlc >> 16)) as f64);
                    }
                    after = ch.seq;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            lags
        })
    };
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let t = Instant::now();
    let mut written = 0;
    while t.elapsed() < Duration::from_secs(secs as u64) {
        let due = interval.mul_f64(written as f64);
        if let Some(wait) = due.checked_sub(t.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        c.a.service
            .create_key(
                &Principal::system("bench"),
                CreateKey {
                    algorithm: Algorithm::Aes,
                    length: 256,
                    name: None,
                    activate: true,
                    attributes: Attributes::default(),
                },
            )
            .await
            .expect("create");
        written += 1;
    }
    let mut lags = watcher.await.expect("watcher");
    lags.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  lag under {written} creates in {secs} s ({:.0}/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples; 1 ms polling)",
        written as f64 / secs as f64,
        pct(&lags, 0.5),
        pct(&lags, 0.99),
        lags.last().copied().unwrap_or(0.0),
        lags.len()
    );

    // 3. Partition: b stops; N/2 changes on each side; b comes back; time to converge.
    let b_cfg = cfg(&b_files);
    let b_id = b.service.node().node_id.clone();
    b.stop().await;
    let half = n / 2;
    let t = Instant::now();
    bulk_keys(c.a.service.store(), rot_a.as_ref(), &a_id, half, "side-a").await;
    {
        let store_b = Store::open(&b_cfg.store_url(), 4).await.expect("open b");
        let rot_b = clavis::node::open_rot(&b_cfg, false).expect("rot b");
        bulk_keys(&store_b, rot_b.as_ref(), &b_id, n - half, "side-b").await;
        store_b.close().await;
    }
    println!(
        "  {n} changes made on both sides while cut off ({:.1} s to write)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let b = clavis::node::start(&b_cfg).await.expect("restart b");
    let took = wait_converged(
        c.a.service.store(),
        b.service.store(),
        Duration::from_secs(600),
    )
    .await;
    let da =
        c.a.service
            .store()
            .replicated_digest()
            .await
            .expect("digest");
    let db = b.service.store().replicated_digest().await.expect("digest");
    println!(
        "  reconverged after the partition in {:.2} s (after a node start of {:.2} s); digests equal: {}",
        took.as_secs_f64(),
        t.elapsed().as_secs_f64() - took.as_secs_f64(),
        da == db
    );

    // 4. A third node joins, then a fourth while the other three serve creates and
    // gets; the fourth is removed and factory-reset.
    let (_c_files, c3, copy_c, copied_c) = join(&c, "c", "dc2").await;
    println!(
        "  third node copy: {copied_c} changes in {:.2} s",
        copy_c.as_secs_f64()
    );
    let servers = [c.a.service.clone(), b.service.clone(), c3.service.clone()];
    wait_all_converged(&servers, Duration::from_secs(600)).await;
    let held = c.a.service.store().count_by_state().await.expect("count");
    let held: i64 = held.iter().map(|(_, n)| n).sum();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for svc in &servers {
        let (svc, stop) = (svc.clone(), stop.clone());
        load.push(tokio::spawn(async move { serve_load(&svc, &stop).await }));
    }
    let (d_files, d, copy_d, copied_d) = join(&c, "d", "dc1").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in load {
        lat.extend(t.await.expect("load"));
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  fourth node joined a 3-node cluster holding {held} objects: {copied_d} changes in {:.2} s; \
         meanwhile the three served {} requests (create + get, 100 pairs/s each), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        copy_d.as_secs_f64(),
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    let all = [
        c.a.service.clone(),
        b.service.clone(),
        c3.service.clone(),
        d.service.clone(),
    ];
    let t = Instant::now();
    wait_all_converged(&all, Duration::from_secs(600)).await;
    let digests = digests(&all).await;
    println!(
        "  four nodes converged {:.2} s after the join; digests equal: {}",
        t.elapsed().as_secs_f64(),
        digests.windows(2).all(|w| w[0] == w[1])
    );
    let d_id = d.service.node().node_id.clone();
    c.a.service
        .remove_node(&Principal::system("bench"), &d_id)
        .await
        .expect("remove d");
    d.stop().await;
    let removed = clavis::node::factory_reset(&cfg(&d_files), true)
        .await
        .expect("factory reset");
    assert!(
        !d_files.dir.path().join("data/master-key.sealed").exists(),
        "factory reset left the sealed master key"
    );
    println!(
        "  fourth node removed and factory-reset with scrub ({} files removed)",
        removed.len()
    );
    c3.stop().await;
    b.stop().await;
    c.a.stop().await;
}

/// Creates a key and reads it back, `LOAD_PER_NODE` times a second, until `stop`;
/// returns each request's latency in ms. Paced: an unpaced loop on every node would
/// grow the cluster faster than a joining node can copy it on 2 cores, and the join
/// would never end.
async fn serve_load(
    svc: &clavis::service::KeyService,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<f64> {
    const LOAD_PER_NODE: u32 = 100;
    let who = Principal::system("bench");
    let mut lat = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / LOAD_PER_NODE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        let t = Instant::now();
        let meta = svc
            .create_key(
                &who,
                CreateKey {
                    algorithm: Algorithm::Aes,
                    length: 256,
                    name: None,
                    activate: true,
                    attributes: Attributes::default(),
                },
            )
            .await
            .expect("create during join");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        svc.get(&who, &meta.id).await.expect("get during join");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat
}

/// Waits until every node holds the same changes as the first.
async fn wait_all_converged(nodes: &[Arc<clavis::service::KeyService>], within: Duration) {
    for n in &nodes[1..] {
        wait_converged(nodes[0].store(), n.store(), within).await;
    }
    // The first may have moved on while later ones were compared.
    for n in &nodes[1..] {
        wait_converged(nodes[0].store(), n.store(), within).await;
    }
}

async fn digests(
    nodes: &[Arc<clavis::service::KeyService>],
) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.store().replicated_digest().await.expect("digest"));
    }
    out
}
