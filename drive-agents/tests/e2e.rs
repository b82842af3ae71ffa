//! End to end: real `clavisd` processes on SoftHSM2 and PostgreSQL, drive agents over
//! mutual TLS, and emulated LTO drives spoken to with raw SCSI commands (the agent
//! through `LtoDrive`, the "backup application" through the host helpers).
//!
//! Run by `hil/run.sh` and by the test suite. Needs `softhsm2-util`, and a PostgreSQL
//! server named by CLAVIS_TEST_PG_URL (scripts/test.sh starts one).

use clavis::client::ApiClient;
use clavis_agent::agent::cluster::{Cluster, ClusterSettings};
use clavis_agent::agent::enroll::enroll;
use clavis_agent::agent::service::DriveService;
use clavis_agent::emu_socket::{EmuServer, EmuSocketTransport};
use clavis_agent::emulator::EmulatedDrive;
use clavis_agent::lto::LtoDrive;
use clavis_agent::scsi::host::{read_block, rewind, write_block, ReadOutcome};
use clavis_agent::scsi::ScsiTransport;
use hyper::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use zeroize::Zeroizing;

const PIN: &str = "e2e-user-pin";

/// A SoftHSM2 token directory shared by every node of a test (as nodes sharing one HSM).
struct Hsm {
    _dir: TempDir,
    conf: PathBuf,
}

impl Hsm {
    fn new() -> Hsm {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("tokens")).expect("tokens");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .expect("conf");
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", "clavis-e2e"])
            .args(["--so-pin", "e2e-so-pin", "--pin", PIN])
            .output()
            .expect("softhsm2-util (is softhsm2 installed?)");
        assert!(out.status.success(), "softhsm2-util failed");
        Hsm { _dir: dir, conf }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `clavisd`, built beside this test (the workspace's target directory).
fn clavisd() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("clavisd");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins; nextest --workspace does)",
        bin.display()
    );
    bin
}

fn fresh_pg() -> String {
    let base = std::env::var("CLAVIS_TEST_PG_URL")
        .expect("CLAVIS_TEST_PG_URL is not set: run through scripts/test.sh or hil/run.sh");
    let name = format!("clavis_e2e_{}", uuid::Uuid::now_v7().simple());
    let out = Command::new("psql")
        .arg(&base)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql");
    assert!(out.status.success(), "CREATE DATABASE failed");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{prefix}/{name}")
}

struct NodeFiles {
    _dir: TempDir,
    config: PathBuf,
    data: PathBuf,
}

fn node_files(pg: &str, name: &str, site: &str, pool: &str) -> NodeFiles {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = repo().join("hsm-profiles/softhsm2.toml");
    let text = format!(
        "[node]\nname = \"{name}\"\nsite = \"{site}\"\ndata_dir = \"data\"\n\n[store]\nurl = \"{pg}\"\n\n\
         [root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"clavis-e2e\"\npin = \"{PIN}\"\n\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nlisten = \"127.0.0.1:0\"\n\n[pool]\n{pool}\n",
        profile.display()
    );
    let config = dir.path().join("clavis.toml");
    std::fs::write(&config, text).expect("config");
    NodeFiles {
        data: dir.path().join("data"),
        _dir: dir,
        config,
    }
}

/// `clavisd init`: returns (admin token, recovery passphrase).
fn init(hsm: &Hsm, n: &NodeFiles) -> (String, String) {
    let out = Command::new(clavisd())
        .args(["init", "--config"])
        .arg(&n.config)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .output()
        .expect("clavisd init");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "init failed: {text}");
    let after = |label: &str| {
        let mut lines = text.lines();
        lines.find(|l| l.starts_with(label));
        lines.next().expect("value line").trim().to_owned()
    };
    (
        after("Administrator API token"),
        after("Recovery passphrase"),
    )
}

fn join(hsm: &Hsm, n: &NodeFiles, passphrase: &str) {
    let out = Command::new(clavisd())
        .args(["join", "--config"])
        .arg(&n.config)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env("CLAVIS_RECOVERY_PASSPHRASE", passphrase)
        .output()
        .expect("clavisd join");
    assert!(
        out.status.success(),
        "join failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Node {
    child: Child,
    api: String,
    agents: String,
}

impl Node {
    fn start(hsm: &Hsm, n: &NodeFiles) -> Node {
        let mut child = Command::new(clavisd())
            .args(["run", "--config"])
            .arg(&n.config)
            .env("SOFTHSM2_CONF", &hsm.conf)
            .env("CLAVIS_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("clavisd run");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        let field = |label: &str| {
            line.split(label)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_else(|| panic!("clavisd did not start: {line:?}"))
                .to_owned()
        };
        Node {
            api: field("https://"),
            agents: field("agents on "),
            child,
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn api(
    addr: &str,
    ca: &str,
    token: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut c = ApiClient::new(&format!("https://{addr}"), ca, None, Some(token.to_owned()))
        .expect("client");
    let (status, v) = c.request(m, path, body.as_ref()).await.expect("request");
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Creates a key group and registers an agent in it; returns its enrollment token.
async fn agent_token(addr: &str, ca: &str, token: &str, agent: &str, wallet: &str) -> String {
    let v = api(
        addr,
        ca,
        token,
        Method::POST,
        "/v1/endpoints",
        Some(json!({"name": agent, "type": "agent", "site": "dc1", "default_wallet": wallet})),
    )
    .await;
    v["enrollment_token"].as_str().expect("token").to_owned()
}

async fn key_group(addr: &str, ca: &str, token: &str, wallet: &str) {
    api(
        addr,
        ca,
        token,
        Method::POST,
        "/v1/wallets",
        Some(json!({"name": wallet})),
    )
    .await;
    api(
        addr,
        ca,
        token,
        Method::PUT,
        &format!("/v1/wallets/{wallet}/policy"),
        Some(json!({"length": 256})),
    )
    .await;
}

async fn enrolled_cluster(seed: &str, ca: &str, token: &str) -> Cluster {
    let e = enroll(
        &[seed.to_owned()],
        Some("localhost"),
        ca,
        &Zeroizing::new(token.to_owned()),
        Duration::from_secs(5),
    )
    .await
    .expect("enroll");
    let settings = ClusterSettings {
        site: "dc1".into(),
        server_name: Some("localhost".into()),
        ..ClusterSettings::default()
    };
    let c = Cluster::new(&e.identity, vec![seed.to_owned()], settings).expect("cluster");
    c.discover().await.expect("discover");
    c
}

/// An emulated drive served on a Unix socket: the agent and the test each connect.
struct EmuDrive {
    _server: EmuServer,
    socket: PathBuf,
}

fn emu_drive(dir: &Path, library: &Path, serial: &str) -> EmuDrive {
    let drive = EmulatedDrive::new(serial, library).expect("emulated drive");
    let socket = dir.join(format!("{serial}.sock"));
    let server = EmuServer::spawn(drive, &socket).expect("serve");
    EmuDrive {
        _server: server,
        socket,
    }
}

impl EmuDrive {
    fn host(&self) -> EmuSocketTransport {
        EmuSocketTransport::connect(&self.socket).expect("host connection")
    }
    fn agent_service(&self, name: &str, cluster: Cluster) -> DriveService {
        let t = EmuSocketTransport::connect(&self.socket).expect("agent connection");
        DriveService::new(name, Box::new(LtoDrive::new(t)), cluster)
    }
}

fn block(tape: &str, i: usize) -> Vec<u8> {
    format!("{tape} block {i} ").repeat(40).into_bytes()
}

fn read_all(t: &mut impl ScsiTransport, n: usize) -> Result<Vec<Vec<u8>>, String> {
    rewind(t).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for _ in 0..n {
        match read_block(t, 64 * 1024).map_err(|e| e.to_string())? {
            ReadOutcome::Block(b) => out.push(b),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tapes_move_between_drives_and_survive_a_node_kill() {
    let hsm = Hsm::new();
    let pg = fresh_pg();
    let n1 = node_files(&pg, "node1", "dc1", "size = 20");
    let (admin, _) = init(&hsm, &n1);
    let ca = std::fs::read_to_string(n1.data.join("ca.pem")).expect("ca");
    let mut node = Node::start(&hsm, &n1);
    key_group(&node.api, &ca, &admin, "vault-a").await;
    key_group(&node.api, &ca, &admin, "vault-b").await;
    let ta = agent_token(&node.api, &ca, &admin, "agent-a", "vault-a").await;
    let tb = agent_token(&node.api, &ca, &admin, "agent-b", "vault-a").await;
    let tc = agent_token(&node.api, &ca, &admin, "agent-c", "vault-b").await;
    let ca_a = enrolled_cluster(&node.agents, &ca, &ta).await;
    let ca_b = enrolled_cluster(&node.agents, &ca, &tb).await;
    let ca_c = enrolled_cluster(&node.agents, &ca, &tc).await;

    let work = tempfile::tempdir().expect("tempdir");
    let library = work.path().join("library");
    std::fs::create_dir(&library).expect("library");
    let (da, db, dc) = (
        emu_drive(work.path(), &library, "DRIVE-A"),
        emu_drive(work.path(), &library, "DRIVE-B"),
        emu_drive(work.path(), &library, "DRIVE-C"),
    );
    let (mut sa, mut sb, mut sc) = (
        da.agent_service("A", ca_a),
        db.agent_service("B", ca_b),
        dc.agent_service("C", ca_c),
    );
    let (mut ha, mut hb, mut hc) = (da.host(), db.host(), dc.host());

    // Drive A writes T1: its agent gets a pool key for the new tape.
    ha.load("T00001L6").expect("load");
    wait_for_key(&mut sa).await;
    let (k1, _) = sa
        .loaded_key()
        .map(|(k, m)| (k.to_owned(), m))
        .expect("key");
    for i in 0..10 {
        write_block(&mut ha, &block("T1", i)).expect("write");
    }
    ha.unload().expect("unload");
    sa.poll_once().await;
    assert!(
        sa.loaded_key().is_none(),
        "the key leaves the drive with the tape"
    );

    // Drive B reads T1: the agent learns the key ID from the tape and fetches it.
    hb.load("T00001L6").expect("load");
    wait_for_key(&mut sb).await;
    assert_eq!(sb.loaded_key().map(|(k, _)| k.to_owned()), Some(k1.clone()));
    let blocks = read_all(&mut hb, 10).expect("drive B reads T1");
    assert_eq!(blocks, (0..10).map(|i| block("T1", i)).collect::<Vec<_>>());
    hb.unload().expect("unload");
    sb.poll_once().await;

    // Drive C belongs to another key group: no key, no data.
    hc.load("T00001L6").expect("load");
    for _ in 0..3 {
        sc.poll_once().await;
    }
    assert!(
        sc.loaded_key().is_none(),
        "a drive of another key group got T1's key"
    );
    let refused = read_all(&mut hc, 1).expect_err("drive C must not read T1");
    assert!(refused.to_lowercase().contains("key"), "{refused}");
    hc.unload().expect("unload");

    // Mid-session node kill: the key was durable before the drive got it.
    ha.load("T00002L6").expect("load");
    wait_for_key(&mut sa).await;
    for i in 0..5 {
        write_block(&mut ha, &block("T2", i)).expect("write");
    }
    node.kill9();
    for i in 5..10 {
        write_block(&mut ha, &block("T2", i)).expect("write while the node is down");
    }
    ha.unload().expect("unload");
    sa.poll_once().await;
    drop(node);
    let node = Node::start(&hsm, &n1);
    // The agents learned the node's address; after a restart it listens elsewhere.
    let cb2 = enrolled_again(&node, &ca, &admin, "agent-b2", "vault-a").await;
    let mut sb2 = db.agent_service("B2", cb2);
    hb.load("T00002L6").expect("load");
    wait_for_key(&mut sb2).await;
    let blocks = read_all(&mut hb, 10).expect("T2 readable after the node was killed");
    assert_eq!(blocks, (0..10).map(|i| block("T2", i)).collect::<Vec<_>>());
}

async fn enrolled_again(node: &Node, ca: &str, admin: &str, name: &str, wallet: &str) -> Cluster {
    let t = agent_token(&node.api, ca, admin, name, wallet).await;
    enrolled_cluster(&node.agents, ca, &t).await
}

/// Polls the agent until it has loaded a key (a few polls at most).
async fn wait_for_key(s: &mut DriveService) {
    for _ in 0..20 {
        s.poll_once().await;
        if s.loaded_key().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("drive {} never got a key", s.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_pool_fails_over_to_another_node_and_no_key_is_issued_twice() {
    let hsm = Hsm::new();
    let pg = fresh_pg();
    // Small pools that refill slowly: requests drain them far faster.
    let pool = "size = 5\nlow_water = 5\nrefill_per_second = 2\nbatch = 1";
    let n1 = node_files(&pg, "node1", "dc1", pool);
    let n2 = node_files(&pg, "node2", "dc2", pool);
    let (admin, passphrase) = init(&hsm, &n1);
    join(&hsm, &n2, &passphrase);
    let ca = std::fs::read_to_string(n1.data.join("ca.pem")).expect("ca");
    let node1 = Node::start(&hsm, &n1);
    let node2 = Node::start(&hsm, &n2);
    key_group(&node1.api, &ca, &admin, "tapes").await;
    let t = agent_token(&node1.api, &ca, &admin, "agent-a", "tapes").await;
    let cluster = enrolled_cluster(&node1.agents, &ca, &t).await;
    assert_eq!(cluster.nodes().len(), 2, "discovery finds both nodes");

    // Let both pools fill (5 keys each at 2 keys/s).
    for node in [&node1, &node2] {
        wait_pool(&node.api, &ca, &admin, 5).await;
    }
    let mut issued = Vec::new();
    let mut served_by = HashSet::new();
    let mut empty_everywhere = 0;
    for i in 0..16 {
        let req = clavis::agent::wire::Request::KeyForWrite {
            external_tag: Some(format!("P{i:05}")),
            external_unique_id: None,
        };
        match cluster.request_from(req).await {
            Ok((addr, clavis::agent::wire::Response::Keys(keys))) => {
                served_by.insert(addr);
                issued.extend(keys.into_iter().map(|k| k.key_id));
            }
            Ok((_, other)) => panic!("unexpected answer {other:?}"),
            Err(e) => {
                assert_eq!(
                    e.code(),
                    Some(clavis::agent::wire::ErrorCode::NoReadyKey),
                    "{e}"
                );
                empty_everywhere += 1;
            }
        }
    }
    assert!(
        served_by.contains(&node1.agents) && served_by.contains(&node2.agents),
        "both nodes served: {served_by:?}"
    );
    assert!(issued.len() >= 10, "both pools were used: {}", issued.len());
    assert!(empty_everywhere > 0, "the pools should have run dry");
    let unique: HashSet<&String> = issued.iter().collect();
    assert_eq!(unique.len(), issued.len(), "a key was handed out twice");

    // The pools refill, and the node reports the drain.
    wait_pool(&node1.api, &ca, &admin, 1).await;
    let k = cluster
        .key_for_write(Some("P99999"), None)
        .await
        .expect("a key after the refill");
    assert!(!unique.contains(&k.key_id));
    let pools = api(&node1.api, &ca, &admin, Method::GET, "/v1/pools", None).await;
    assert!(pools["pools"][0]["drains"].as_u64() >= Some(1), "{pools}");
}

async fn wait_pool(addr: &str, ca: &str, token: &str, at_least: i64) {
    for _ in 0..100 {
        let v = api(addr, ca, token, Method::GET, "/v1/pools", None).await;
        if v["pools"][0]["ready"].as_i64().unwrap_or(0) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pool on {addr} did not reach {at_least} keys");
}
