//! Protect-and-process key requests per second over the OKM agent protocol, mutual
//! TLS, with 16 concurrent agents, against a node started in this process on a
//! SoftHSM2 token (SQLite). Each agent enrolls with its passphrase (CA and Certificate
//! services), opens one keep-alive connection to the Agent service, creates a data unit
//! and then asks for its protect-and-process key again and again: the first request
//! takes a pool key, the others hand out the current key (one unwrap in the HSM and a
//! use record, as for a drive appending to a tape). A second case asks CreateKey, which
//! takes a fresh pool key each time. Prints requests/s and p50/p99 latency; asserts
//! nothing about time.
//!
//! Run: `cargo bench --bench okm` (`CLAVIS_BENCH_N`: requests per agent, default 300).

#[path = "../tests/okm_client/mod.rs"]
mod okm_client;
#[path = "common/softhsm.rs"]
mod softhsm;

use clavis::service::Principal;
use okm_client::{data_unit, el, envelope, Conn, NS_AGENT};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AGENTS: usize = 16;
const PIN: &str = "okm-bench-pin";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run_case(
    name: &str,
    agents: &[(okm_client::Enrolled, String)],
    addr: SocketAddr,
    n: usize,
    op: &'static str,
) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (e, du) in agents {
        let cfg = okm_client::tls(&e.root_ca_pem, Some((&e.cert_pem, &e.key_pem)));
        let body = envelope(
            "KMS-Agent",
            NS_AGENT,
            op,
            &format!("{}{}", data_unit(du, "", ""), el("KeyGroupID", "tapes")),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::tls(addr, cfg).await.expect("agent connection");
            let mut lat = Vec::with_capacity(n);
            let mut faults = 0usize;
            for _ in 0..n {
                let t = Instant::now();
                let a = c.call(&body).await;
                lat.push(t.elapsed());
                if a.status != 200 {
                    faults += 1;
                }
            }
            (lat, faults)
        }));
    }
    let mut all = Vec::new();
    let mut faults = 0;
    for t in tasks {
        let (l, f) = t.await.expect("agent task");
        all.extend(l);
        faults += f;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{name:<44} {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} faults, {AGENTS} agents)",
        all.len() as f64 / secs,
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.len(),
        faults
    );
}

fn main() {
    let n: usize = std::env::var("CLAVIS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().expect("tempdir");
    softhsm::token(tmp.path(), "okm-bench", PIN);
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let profile =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm-profiles/softhsm2.toml");
    let text = format!(
        "[node]\nname = \"okm-bench\"\nsite = \"dc1\"\ndata_dir = \"data\"\n\n[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"okm-bench\"\npin = \"{PIN}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nlisten = \"127.0.0.1:0\"\n\n[pool]\nsize = {}\n\n[okm]\nenabled = true\nlisten_address = \"127.0.0.1\"\nca_port = {}\ncertificate_port = {}\nagent_port = {}\ndiscovery_port = {}\n",
        profile.display(),
        (AGENTS * n + 100).max(1000),
        ports[0], ports[1], ports[2], ports[3]
    );
    let path = tmp.path().join("clavis.toml");
    std::fs::write(&path, text).expect("config");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let cfg = clavis::config::Config::load(&path).expect("config");
        clavis::node::init(&cfg).await.expect("init");
        let node = clavis::node::start(&cfg).await.expect("start");
        let svc = node.service.clone();
        let admin = Principal::system("bench");
        svc.create_wallet(&admin, "tapes", None).await.expect("wallet");
        svc.set_key_policy(&admin, "tapes", clavis::keys::KeyPolicy::default())
            .await
            .expect("policy");
        let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let (ca, cert, agent) = (at(ports[0]), at(ports[1]), at(ports[2]));
        let t = Instant::now();
        let mut agents = Vec::new();
        for i in 0..AGENTS {
            let id = format!("bench-agent-{i}");
            let made = svc.create_okm_agent(&admin, &id, "tapes", Some("dc1")).await.expect("agent");
            use secrecy::ExposeSecret;
            let e = okm_client::enroll(ca, cert, &id, made.passphrase.expose_secret())
                .await
                .unwrap_or_else(|a| panic!("enrollment refused: {}", a.body));
            agents.push(e);
        }
        println!(
            "enrolled {AGENTS} agents in {:.1} s (RSA-2048 key pairs made by the node; 40000 SHA-1 iterations each side)",
            t.elapsed().as_secs_f64()
        );
        // Wait for the pool to fill before timing.
        for _ in 0..600 {
            let ready: i64 = svc
                .pool_reports_unchecked()
                .await
                .map(|r| r.iter().map(|p| p.ready).sum())
                .unwrap_or(0);
            if ready as usize >= AGENTS * n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut with_units = Vec::new();
        for e in agents {
            let cfg = okm_client::tls(&e.root_ca_pem, Some((&e.cert_pem, &e.key_pem)));
            let mut c = Conn::tls(agent, cfg).await.expect("agent connection");
            let a = c
                .call(&envelope("KMS-Agent", NS_AGENT, "CreateDataUnit", &el("ExternalTag", "BENCH")))
                .await;
            let du = a.get("DataUnitID").expect("data unit");
            with_units.push((e, du));
        }
        let agents = Arc::new(with_units);
        run_case("RetrieveProtectAndProcessKey (current key)", &agents, agent, n, "RetrieveProtectAndProcessKey").await;
        run_case("CreateKey (a pool key each time)", &agents, agent, n, "CreateKey").await;
        node.stop().await;
    });
}
