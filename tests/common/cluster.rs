//! Clusters of real `clavisd` processes on loopback, with a fault-injecting TCP proxy
//! in front of every node's replication listener.
//!
//! Each node listens on its own loopback address (127.0.0.1x) and connects to peers
//! from it (`cluster.source_addr`), so a proxy can tell who is calling and cut any
//! link: that is how the tests partition a site away.

use super::node::{clavisd_bin, NodeProcess};
use clavis::client::ApiClient;
use hyper::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};

/// A TCP forwarder that can refuse and cut connections by source address.
pub struct Proxy {
    /// Where peers connect.
    pub addr: SocketAddr,
    blocked: Arc<Mutex<HashSet<IpAddr>>>,
    conns: Arc<Mutex<Vec<(IpAddr, tokio::task::AbortHandle)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards 127.0.0.1:(free port) to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let blocked: Arc<Mutex<HashSet<IpAddr>>> = Arc::default();
        let conns: Arc<Mutex<Vec<(IpAddr, tokio::task::AbortHandle)>>> = Arc::default();
        let (b, c) = (blocked.clone(), conns.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, peer)) = listener.accept().await else {
                    continue;
                };
                if b.lock().expect("lock").contains(&peer.ip()) {
                    drop(inbound);
                    continue;
                }
                let h = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let mut inbound = inbound;
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                c.lock().expect("lock").push((peer.ip(), h.abort_handle()));
            }
        });
        Proxy {
            addr,
            blocked,
            conns,
            task,
        }
    }

    /// Refuses connections from `sources` and cuts those open.
    pub fn block(&self, sources: &[IpAddr]) {
        self.blocked.lock().expect("lock").extend(sources);
        for (ip, h) in self.conns.lock().expect("lock").iter() {
            if sources.contains(ip) {
                h.abort();
            }
        }
    }

    /// Lets everyone through again.
    pub fn heal(&self) {
        self.blocked.lock().expect("lock").clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        for (_, h) in self.conns.lock().expect("lock").iter() {
            h.abort();
        }
    }
}

/// A free TCP port on `ip`.
pub fn free_port(ip: &str) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

/// One node of a test cluster.
pub struct Node {
    /// Its files.
    pub dir: TempDir,
    /// Its name.
    pub name: String,
    /// `clavis.toml`.
    pub config: PathBuf,
    /// Its own loopback address.
    pub ip: IpAddr,
    /// Its replication listener.
    pub listen: SocketAddr,
    /// The proxy peers reach it through.
    pub proxy: Proxy,
    /// The running process.
    pub proc: Option<NodeProcess>,
}

impl Node {
    /// Writes the config of node `index` (1-based) in `site`: SQLite, software root of
    /// trust.
    pub async fn new(index: u8, site: &str, extra: &str) -> Node {
        Node::with_store(index, site, None, super::node::SOFTWARE_ROT, extra).await
    }

    /// Like [`Node::new`] with the store URL (None = SQLite in the data directory) and
    /// the `[root_of_trust]` section given.
    pub async fn with_store(
        index: u8,
        site: &str,
        store_url: Option<&str>,
        rot_section: &str,
        extra: &str,
    ) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let ip_s = format!("127.0.0.{}", 10 + index);
        let ip: IpAddr = ip_s.parse().expect("ip");
        let port = free_port(&ip_s);
        let listen = SocketAddr::new(ip, port);
        let proxy = Proxy::start(listen).await;
        let name = format!("n{index}");
        let store = store_url
            .map(|u| format!("[store]\nurl = \"{u}\"\n\n"))
            .unwrap_or_default();
        let text = format!(
            "[node]\nname = \"{name}\"\nsite = \"{site}\"\ndata_dir = \"data\"\n\n{store}\
             {rot_section}\n\
             [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n\n\
             [pool]\nrefill = false\n\n\
             [cluster]\nenabled = true\nlisten = \"{listen}\"\nadvertise = \"{}\"\nsource_addr = \"{ip}\"\n\
             heartbeat_ms = 200\npeer_timeout_ms = 1500\n{extra}\n",
            proxy.addr
        );
        let config = dir.path().join("clavis.toml");
        std::fs::write(&config, text).expect("write config");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        Node {
            dir,
            name,
            config,
            ip,
            listen,
            proxy,
            proc: None,
        }
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts `clavisd run`.
    pub fn start(&mut self) {
        self.proc = Some(NodeProcess::start(&self.config));
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill9();
        }
    }

    /// API address.
    pub fn api(&self) -> String {
        self.proc.as_ref().expect("running").addr.clone()
    }
}

/// Gives `to` the same software root of trust as `from` (the cluster's one master key;
/// with an HSM this is the HSM's cloning or a master key backup).
pub fn share_master_key(from: &Node, to: &Node) {
    for f in ["master-key.sealed", "rot-passphrase"] {
        std::fs::copy(from.data().join(f), to.data().join(f)).expect("copy root of trust");
    }
}

/// A test client of a node's REST API.
pub struct Api {
    client: ApiClient,
}

impl Api {
    /// A client for `node` with the admin token.
    pub fn new(node: &Node, ca: &str, token: &str) -> Api {
        Api {
            client: super::node::client(&node.api(), ca, token),
        }
    }

    /// A client for the API at `addr` (a node running in the test process).
    pub fn at(addr: &str, ca: &str, token: &str) -> Api {
        Api {
            client: super::node::client(addr, ca, token),
        }
    }

    /// Any request.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        match self.client.request(method, path, body.as_ref()).await {
            Ok((s, v)) => (s.as_u16(), v),
            Err(e) => (0, json!({"error": e.to_string()})),
        }
    }

    /// Creates an active AES-256 key; its ID when the node acknowledged it.
    pub async fn create_key(&mut self, name: &str) -> Option<String> {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/keys",
                Some(json!({"algorithm": "AES", "length": 256, "name": name, "activate": true})),
            )
            .await;
        (s == 201).then(|| v["id"].as_str().unwrap_or_default().to_owned())
    }

    /// The node's table digests.
    pub async fn digest(&mut self) -> Option<BTreeMap<String, String>> {
        let (s, v) = self.call(Method::GET, "/v1/cluster/digest", None).await;
        if s != 200 {
            return None;
        }
        serde_json::from_value(v).ok()
    }
}

/// Initializes `node` as the cluster's first node; returns (admin token, recovery
/// passphrase, CA PEM).
pub async fn init_first(node: &Node) -> (String, String, String) {
    use secrecy::ExposeSecret;
    let cfg = clavis::config::Config::load(&node.config).expect("config");
    let out = clavis::node::init(&cfg).await.expect("init");
    let ca = std::fs::read_to_string(node.data().join("ca.pem")).expect("ca");
    (
        out.admin_token.expose_secret().to_owned(),
        out.recovery_passphrase.expose_secret().to_owned(),
        ca,
    )
}

/// Invites `node` through `sponsor`'s API and runs `clavisd join-cluster` for it.
pub async fn join(sponsor: &Node, api: &mut Api, node: &Node, recovery: &str, ca_path: &Path) {
    let site = std::fs::read_to_string(&node.config)
        .expect("config")
        .lines()
        .find_map(|l| {
            l.strip_prefix("site = \"")
                .map(|s| s.trim_end_matches('"').to_owned())
        })
        .unwrap_or_else(|| "default".into());
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/cluster/nodes",
            Some(json!({"name": node.name, "site": site, "recovery_passphrase": recovery})),
        )
        .await;
    assert_eq!(s, 201, "add-node: {v}");
    let token = v["join_token"].as_str().expect("token").to_owned();
    let out = std::process::Command::new(clavisd_bin())
        .args(["join-cluster", "--config"])
        .arg(&node.config)
        .args(["--sponsor", &sponsor.proxy.addr.to_string(), "--ca"])
        .arg(ca_path)
        .env("CLAVIS_JOIN_TOKEN", token)
        .env("CLAVIS_LOG", "warn")
        .output()
        .expect("run join-cluster");
    assert!(
        out.status.success(),
        "join-cluster failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `clavisd join` for `node`: a second node of the replica whose database its
/// `[store] url` names (shared-database mode). Its root of trust must already hold the
/// replica's master key.
pub fn join_shared(node: &Node, recovery: &str) {
    let out = std::process::Command::new(clavisd_bin())
        .args(["join", "--config"])
        .arg(&node.config)
        .env("CLAVIS_RECOVERY_PASSPHRASE", recovery)
        .env("CLAVIS_LOG", "warn")
        .output()
        .expect("run clavisd join");
    assert!(
        out.status.success(),
        "clavisd join failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every API answers the same digests; returns them.
pub async fn converge(apis: &mut [Api], within: Duration) -> BTreeMap<String, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut ds = Vec::new();
        for a in apis.iter_mut() {
            ds.push(a.digest().await);
        }
        if let Some(Some(first)) = ds.first() {
            if ds.iter().all(|d| d.as_ref() == Some(first)) {
                return first.clone();
            }
        }
        if tokio::time::Instant::now() > deadline {
            panic!("no convergence within {within:?}: {ds:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Api {
    /// Creates user `name` (through this admin client) and returns a client logged in
    /// as that user on the node at `addr`.
    pub async fn new_user(&mut self, addr: &str, ca: &str, name: &str) -> Api {
        let pw = format!("{name}-password-1");
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/users",
                Some(json!({"name": name, "password": pw})),
            )
            .await;
        assert_eq!(s, 201, "create user {name}: {v}");
        let mut anon = Api {
            client: ApiClient::new(&format!("https://{addr}"), ca, None, None).expect("client"),
        };
        let (s, v) = anon
            .call(
                Method::POST,
                "/v1/login",
                Some(json!({"name": name, "password": pw})),
            )
            .await;
        assert_eq!(s, 200, "login {name}: {v}");
        Api::at(addr, ca, v["token"].as_str().expect("token"))
    }

    /// Proposes the quorum operation `op` and has every one of `approvers` approve it;
    /// returns the request as the last vote left it.
    pub async fn quorum(&mut self, approvers: &mut [Api], op: Value) -> Value {
        let (s, req) = self
            .call(Method::POST, "/v1/quorum/requests", Some(op))
            .await;
        assert!(s == 200 || s == 202, "propose: {s} {req}");
        let id = req["id"].as_str().expect("request id").to_owned();
        let mut last = req;
        for a in approvers.iter_mut() {
            let (s, v) = a
                .call(
                    Method::POST,
                    &format!("/v1/quorum/requests/{id}/approve"),
                    Some(json!({})),
                )
                .await;
            assert_eq!(s, 200, "approve {id}: {v}");
            last = v;
        }
        last
    }
}
