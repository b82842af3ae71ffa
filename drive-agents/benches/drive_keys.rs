//! Drive key requests over mutual TLS, and pool refill, with figures printed (no
//! assertions): `cargo bench -p clavis-agent --bench drive_keys`.
//!
//! A node runs in this process (SQLite, software root of trust, or SoftHSM2 when
//! `CLAVIS_BENCH_ROT=softhsm`); agents are real `Cluster` clients, each with its own
//! TLS connection. Each request is a KeyForWrite for a new tape: a pool key becomes a
//! managed object, a data unit is created and linked, an audit record written, and the
//! key unwrapped once and sent.
//!
//! Settings: CLAVIS_BENCH_SECS (per concurrency level, default 3), CLAVIS_BENCH_AGENTS
//! (concurrency levels, default `1,16,64`; at most 64), CLAVIS_BENCH_STORE (the URL of
//! an empty PostgreSQL database to use instead of SQLite).

use clavis::service::Principal;
use clavis_agent::agent::cluster::{Cluster, ClusterSettings};
use clavis_agent::agent::enroll::enroll;
use std::process::Command;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

fn rot_section(dir: &std::path::Path) -> String {
    if std::env::var("CLAVIS_BENCH_ROT").as_deref() != Ok("softhsm") {
        return "[root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n"
            .into();
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("tokens");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let ok = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--so-pin",
            "so-pin-1",
            "--pin",
            "user-pin-1",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "softhsm2-util --init-token failed");
    let profile =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hsm-profiles/softhsm2.toml");
    format!(
        "[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"bench\"\npin = \"user-pin-1\"\n",
        profile.display()
    )
}

/// CPU time (user + system) from a /proc stat line.
fn stat_cpu(stat: &str) -> Option<Duration> {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used so far by this process, by its agent threads (named `AGENT_THREAD`)
/// and by SQLite's connection threads (`SQLITE_THREAD`): on a shared machine, CPU per
/// request is steadier than wall-clock throughput; the node's share (process minus
/// agents) is what a node serving agents on other machines would spend, and the
/// SQLite threads' part of it is the store's own work (the single writer is the limit
/// at high concurrency, so changes to the store show there first).
fn cpu_time() -> Option<CpuTimes> {
    let all = stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut t = CpuTimes {
        all,
        ..CpuTimes::default()
    };
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let share = if comm.starts_with(AGENT_THREAD) {
            &mut t.agents
        } else if comm.starts_with(SQLITE_THREAD) {
            &mut t.sqlite
        } else {
            continue;
        };
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        *share += stat_cpu(&stat).unwrap_or_default();
    }
    Some(t)
}

/// See [`cpu_time`]. Threads that ended between two readings drop out of the
/// per-thread sums (SQLite's live as long as their connection, i.e. the run).
#[derive(Default, Clone, Copy)]
struct CpuTimes {
    all: Duration,
    agents: Duration,
    sqlite: Duration,
}

/// How sqlx names a SQLite connection's thread (`sqlx-sqlite-worker-N`, cut to the
/// 15 characters of a Linux thread name).
const SQLITE_THREAD: &str = "sqlx-sqlite-wor";

/// Name of the agents' runtime threads.
const AGENT_THREAD: &str = "bench-agent";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs: u64 = std::env::var("CLAVIS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let rot = rot_section(dir.path());
    let store = std::env::var("CLAVIS_BENCH_STORE")
        .map(|url| format!("[store]\nurl = \"{url}\"\n\n"))
        .unwrap_or_default();
    let config = dir.path().join("clavis.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"bench\"\ndata_dir = \"data\"\n\n{store}{rot}\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n\
             [agent]\nlisten = \"127.0.0.1:0\"\n\n[pool]\nsize = 200000\nlow_water = 0\nrefill = false\n"
        ),
    )
    .expect("config");
    let cfg = clavis::config::Config::load(&config).expect("config");
    clavis::node::init(&cfg).await.expect("init");
    let node = clavis::node::start(&cfg).await.expect("start");
    let svc = node.service.clone();
    let agent_addr = node.agent_addr.expect("agent listener").to_string();
    let ca = std::fs::read_to_string(dir.path().join("data/ca.pem")).expect("ca");
    let admin = Principal::system("bench");
    svc.create_wallet(&admin, "tapes", None)
        .await
        .expect("wallet");
    svc.set_key_policy(&admin, "tapes", clavis::keys::KeyPolicy::default())
        .await
        .expect("policy");

    // Refill rate: keys generated, wrapped and committed per second, next to the raw
    // wrap rate of the root of trust.
    let raw_n = 5000;
    let t = Instant::now();
    let mk = svc.master_key().clone();
    for i in 0..raw_n {
        let m = svc.rot().random(32).expect("random");
        svc.rot().wrap(&mk, &format!("raw-{i}"), &m).expect("wrap");
    }
    let raw_rate = raw_n as f64 / t.elapsed().as_secs_f64();
    let levels: Vec<usize> = std::env::var("CLAVIS_BENCH_AGENTS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|l: &Vec<usize>| !l.is_empty() && l.iter().all(|&n| (1..=64).contains(&n)))
        .unwrap_or_else(|| vec![1, 16, 64]);
    // Enough for 15,000 requests/s at every level.
    let needed = levels.len() * 15_000 * secs as usize + 10_000;
    svc.pool().configure(clavis::pool::PoolConfig {
        size: needed as u64,
        low_water: needed as u64,
        refill_per_second: 1_000_000,
        batch: 500,
    });
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let made = svc.refiller().refill_all(&stop).await.expect("refill");
    let refill_rate = made as f64 / t.elapsed().as_secs_f64();
    println!("root of trust: {}", svc.rot().kind());
    println!("store: {:?}", svc.store().backend());
    println!("raw random+wrap: {raw_rate:.0} keys/s (one thread)");
    println!(
        "pool refill (random+wrap+commit, batches of 500): {refill_rate:.0} keys/s ({made} keys)"
    );

    // Agents: one enrolled endpoint and one TLS connection each.
    let mut clusters = Vec::new();
    for i in 0..64 {
        let (_, token) = svc
            .register_endpoint(
                &admin,
                &format!("agent-{i}"),
                "agent",
                Some("dc1"),
                Some("tapes"),
            )
            .await
            .expect("register");
        use secrecy::ExposeSecret;
        let e = enroll(
            std::slice::from_ref(&agent_addr),
            Some("localhost"),
            &ca,
            &Zeroizing::new(token.token.expose_secret().to_owned()),
            Duration::from_secs(5),
        )
        .await
        .expect("enroll");
        let settings = ClusterSettings {
            site: "dc1".into(),
            server_name: Some("localhost".into()),
            ..ClusterSettings::default()
        };
        clusters
            .push(Cluster::new(&e.identity, vec![agent_addr.clone()], settings).expect("cluster"));
    }

    // The agents run on a runtime of their own, so their CPU can be told from the node's.
    let agents_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(AGENT_THREAD)
        .enable_all()
        .build()
        .expect("agents' runtime");
    for &n in &levels {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for (a, c) in clusters.iter().take(n).enumerate() {
            let c = c.clone();
            tasks.push(agents_rt.spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let tag = format!("B{n}-{a}-{i}");
                    let t = Instant::now();
                    match c.key_for_write(Some(&tag), None).await {
                        Ok(_) => lat.push(t.elapsed()),
                        Err(e) => {
                            eprintln!("request failed: {e}");
                            break;
                        }
                    }
                    i += 1;
                }
                lat
            }));
        }
        let started = Instant::now();
        let cpu_before = cpu_time();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("join"));
        }
        let took = started.elapsed().as_secs_f64();
        let cpu = match (cpu_before, cpu_time()) {
            (Some(a), Some(b)) if !all.is_empty() => {
                let per = |d: Duration| d.as_secs_f64() * 1e6 / all.len() as f64;
                let total = b.all.saturating_sub(a.all);
                let agents = b.agents.saturating_sub(a.agents);
                let sqlite = b.sqlite.saturating_sub(a.sqlite);
                format!(
                    ", CPU per request {:.0} µs: node {:.0} (SQLite threads {:.0}), agents {:.0}",
                    per(total),
                    per(total.saturating_sub(agents)),
                    per(sqlite),
                    per(agents)
                )
            }
            _ => String::new(),
        };
        all.sort();
        println!(
            "KeyForWrite (new tape, pool key) over mTLS, {n:>2} agents: {:>6.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({} requests{cpu})",
            all.len() as f64 / took,
            percentile(&all, 0.50).as_secs_f64() * 1e3,
            percentile(&all, 0.99).as_secs_f64() * 1e3,
            all.len()
        );
    }
    agents_rt.shutdown_background();
    node.stop().await;
}
