//! Every node of the cluster as the agent sees it (SPEC 4.5): the node list (seeds and
//! discovered nodes, kept in the state directory), the order nodes are tried in (own
//! site first; a node that failed recently goes to the back for a cool-down), one
//! connection per node, failover, heartbeats and discovery.
//!
//! A request fails over to the next node on a connection failure, a timeout, a broken
//! connection or an answer whose code says another node may succeed
//! ([`ErrorCode::try_elsewhere`]: no ready key, unavailable). Every other error answer
//! is the cluster's answer (all nodes share the same data), so it is returned at once.

use clavis::agent::wire::{ErrorCode, NodeEntry, Request, Response, WireKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::client::{server_name_for, AttemptError, ClientError, Conn, Identity};

/// The learned node list in the state directory.
pub const NODES_FILE: &str = "nodes.json";

/// How the cluster client behaves.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This agent's site; its nodes are tried first.
    pub site: String,
    /// TLS name checked in every node's certificate; `None`: each address's host.
    pub server_name: Option<String>,
    /// Per-node limit for one request, connection included.
    pub request_timeout: Duration,
    /// How long a node that failed stays at the back of the order.
    pub cooldown: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            site: String::new(),
            server_name: None,
            request_timeout: Duration::from_secs(2),
            cooldown: Duration::from_secs(30),
        }
    }
}

/// A cluster operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Every node was tried and none gave an answer.
    #[error("no node could serve the request: {}", summary(.failures))]
    Unreachable {
        /// Each node tried, and why it failed.
        failures: Vec<NodeFailure>,
    },
    /// A node refused the request for a reason another node would share.
    #[error("node {node} refused the request ({code:?}): {message}")]
    Refused {
        /// The node's address.
        node: String,
        /// The node's error code.
        code: ErrorCode,
        /// The node's message.
        message: String,
    },
    /// A node answered with the wrong kind of message or an unusable key.
    #[error("node {node} sent an unusable answer: {detail}")]
    Unexpected {
        /// The node's address.
        node: String,
        /// What was wrong.
        detail: String,
    },
    /// TLS or address setup.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The state directory.
    #[error("{path}: {detail}")]
    State {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
}

impl ClusterError {
    /// The node's error code, when a node answered with one (when every node failed:
    /// the last code a node answered with, e.g. "no ready key" everywhere reachable).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClusterError::Refused { code, .. } => Some(*code),
            ClusterError::Unreachable { failures } => failures.iter().rev().find_map(|f| f.code),
            _ => None,
        }
    }
}

/// One node that could not serve a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFailure {
    /// The node's address.
    pub node: String,
    /// Its error code, when it answered with one.
    pub code: Option<ErrorCode>,
    /// Why.
    pub reason: String,
}

fn summary(f: &[NodeFailure]) -> String {
    if f.is_empty() {
        return "no node is known".into();
    }
    f.iter()
        .map(|f| format!("{}: {}", f.node, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the agent knows about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `host:port` of its agent listener: the node's identity in this table.
    pub addr: String,
    /// Node ID, once discovered.
    pub id: Option<String>,
    /// Node name, once discovered.
    pub name: Option<String>,
    /// Site, once discovered (seeds have none until then).
    pub site: Option<String>,
    /// Configured as a seed.
    pub seed: bool,
    /// Last known state: `None` before the first contact.
    pub up: Option<bool>,
    /// When it last failed (cleared by the next success).
    pub failed_at: Option<Instant>,
    /// Why it last failed.
    pub last_error: Option<String>,
    /// Ready keys of this agent's key group, from the last heartbeat.
    pub pool_ready: Option<i64>,
}

impl NodeStatus {
    fn new(addr: &str, seed: bool) -> NodeStatus {
        NodeStatus {
            addr: addr.to_owned(),
            id: None,
            name: None,
            site: None,
            seed,
            up: None,
            failed_at: None,
            last_error: None,
            pool_ready: None,
        }
    }
}

/// The inputs of [`order_nodes`] for one node.
#[derive(Debug, Clone, Copy)]
pub struct NodeHealth<'a> {
    /// Its site, if known.
    pub site: Option<&'a str>,
    /// When it last failed.
    pub failed_at: Option<Instant>,
}

/// The order to try nodes in, as indexes into `nodes`: nodes not cooling down first,
/// own site before the others (unknown sites count as others); then nodes still in
/// their cool-down after a failure, the one that failed longest ago first. Otherwise
/// the input order is kept, so the order is stable and predictable.
pub fn order_nodes(
    nodes: &[NodeHealth<'_>],
    own_site: &str,
    now: Instant,
    cooldown: Duration,
) -> Vec<usize> {
    let cooling = |n: &NodeHealth<'_>| {
        n.failed_at
            .filter(|t| now.saturating_duration_since(*t) < cooldown)
    };
    let mut idx: Vec<usize> = (0..nodes.len()).collect();
    idx.sort_by_key(|&i| {
        let n = &nodes[i];
        match cooling(n) {
            None => (0u8, None, u8::from(n.site != Some(own_site))),
            Some(t) => (1u8, Some(t), 0),
        }
    });
    idx
}

/// Whether the outcome of one attempt sends the request on to the next node.
pub fn fails_over(outcome: &Result<Response, AttemptError>) -> bool {
    match outcome {
        Err(_) => true,
        Ok(Response::Error { code, .. }) => code.try_elsewhere(),
        Ok(_) => false,
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Conn>>>;

struct Inner {
    tls: Arc<rustls::ClientConfig>,
    settings: ClusterSettings,
    seeds: Vec<String>,
    table: Mutex<Vec<NodeStatus>>,
    conns: Mutex<HashMap<String, Slot>>,
    next_id: AtomicU32,
    nodes_file: Option<PathBuf>,
}

/// The agent's view of the cluster; cheap to clone (shared state).
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

/// A poisoned lock only means another task panicked mid-update of plain data; the
/// table stays usable, so recover it rather than spread the panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The node list as stored in `nodes.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredNode {
    id: String,
    name: String,
    site: String,
    addr: String,
}

impl Cluster {
    /// A cluster client presenting `identity`, starting from `seeds`.
    pub fn new(
        identity: &Identity,
        seeds: Vec<String>,
        settings: ClusterSettings,
    ) -> Result<Cluster, ClusterError> {
        let tls = identity.tls_config()?;
        for s in &seeds {
            server_name_for(s, settings.server_name.as_deref())?;
        }
        let mut table: Vec<NodeStatus> = Vec::new();
        for s in &seeds {
            if !table.iter().any(|n| &n.addr == s) {
                table.push(NodeStatus::new(s, true));
            }
        }
        Ok(Cluster {
            inner: Arc::new(Inner {
                tls,
                settings,
                seeds,
                table: Mutex::new(table),
                conns: Mutex::new(HashMap::new()),
                next_id: AtomicU32::new(1),
                nodes_file: None,
            }),
        })
    }

    /// In memory, from PEM text: for tests and benchmarks.
    pub fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        ca_pem: &str,
        seeds: Vec<String>,
        site: &str,
        server_name: Option<&str>,
    ) -> Result<Cluster, ClusterError> {
        let identity = Identity::new(
            cert_pem.to_owned(),
            zeroize::Zeroizing::new(key_pem.to_owned()),
            ca_pem.to_owned(),
        );
        let settings = ClusterSettings {
            site: site.to_owned(),
            server_name: server_name.map(str::to_owned),
            ..ClusterSettings::default()
        };
        Cluster::new(&identity, seeds, settings)
    }

    /// From the state directory: its identity, and the node list learned before (kept
    /// up to date there after every discovery).
    pub fn from_state_dir(
        state_dir: &Path,
        seeds: Vec<String>,
        settings: ClusterSettings,
    ) -> Result<Cluster, ClusterError> {
        let identity = Identity::load(state_dir)?;
        let mut c = Cluster::new(&identity, seeds, settings)?;
        let file = state_dir.join(NODES_FILE);
        match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Vec<StoredNode>>(&bytes) {
                Ok(stored) => c.merge(
                    stored
                        .into_iter()
                        .map(|s| NodeEntry {
                            id: s.id,
                            name: s.name,
                            site: s.site,
                            addr: s.addr,
                        })
                        .collect(),
                ),
                // The seeds still work and the next discovery rewrites the file.
                Err(e) => tracing::warn!(path = %file.display(), error = %e,
                    "ignoring an unreadable node list"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ClusterError::State {
                    path: file.display().to_string(),
                    detail: e.to_string(),
                })
            }
        }
        if let Some(inner) = Arc::get_mut(&mut c.inner) {
            inner.nodes_file = Some(file);
        }
        Ok(c)
    }

    /// The settings.
    pub fn settings(&self) -> &ClusterSettings {
        &self.inner.settings
    }

    /// Every known node.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        lock(&self.inner.table).clone()
    }

    /// Node addresses in the order a request tries them now.
    pub fn ordered(&self) -> Vec<String> {
        let table = lock(&self.inner.table);
        let health: Vec<NodeHealth<'_>> = table
            .iter()
            .map(|n| NodeHealth {
                site: n.site.as_deref(),
                failed_at: n.failed_at,
            })
            .collect();
        let s = &self.inner.settings;
        order_nodes(&health, &s.site, Instant::now(), s.cooldown)
            .into_iter()
            .map(|i| table[i].addr.clone())
            .collect()
    }

    /// Replaces the node list with `found` (plus the seeds, which stay: a seed may be a
    /// load balancer that discovery never names), keeping what is known of each node.
    fn merge(&self, found: Vec<NodeEntry>) {
        if found.is_empty() {
            // An empty answer would leave only the seeds; keep what was known.
            return;
        }
        let mut table = lock(&self.inner.table);
        let mut old: HashMap<String, NodeStatus> =
            table.drain(..).map(|n| (n.addr.clone(), n)).collect();
        let mut new: Vec<NodeStatus> = Vec::new();
        for e in found {
            if new.iter().any(|n| n.addr == e.addr)
                || server_name_for(&e.addr, self.inner.settings.server_name.as_deref()).is_err()
            {
                continue;
            }
            let seed = self.inner.seeds.contains(&e.addr);
            let mut n = old
                .remove(&e.addr)
                .unwrap_or_else(|| NodeStatus::new(&e.addr, seed));
            n.id = Some(e.id);
            n.name = Some(e.name);
            n.site = Some(e.site);
            new.push(n);
        }
        for s in &self.inner.seeds {
            if !new.iter().any(|n| &n.addr == s) {
                new.push(old.remove(s).unwrap_or_else(|| NodeStatus::new(s, true)));
            }
        }
        *table = new;
        drop(table);
        // Connections to nodes no longer listed close when dropped.
        let mut conns = lock(&self.inner.conns);
        for gone in old.keys() {
            conns.remove(gone);
        }
    }

    fn persist(&self) -> Result<(), ClusterError> {
        let Some(path) = &self.inner.nodes_file else {
            return Ok(());
        };
        let stored: Vec<StoredNode> = lock(&self.inner.table)
            .iter()
            .filter_map(|n| {
                Some(StoredNode {
                    id: n.id.clone()?,
                    name: n.name.clone()?,
                    site: n.site.clone()?,
                    addr: n.addr.clone(),
                })
            })
            .collect();
        let state = |detail: String| ClusterError::State {
            path: path.display().to_string(),
            detail,
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| state(e.to_string()))?;
        write_atomic(path, &json, 0o644).map_err(|e| state(e.to_string()))
    }

    fn slot(&self, addr: &str) -> Slot {
        lock(&self.inner.conns)
            .entry(addr.to_owned())
            .or_default()
            .clone()
    }

    fn next_id(&self) -> u32 {
        // 0 is the node's ID for connection-level errors: never use it.
        loop {
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// One exchange with one node, within the request timeout.
    async fn attempt(&self, addr: &str, req: &Request) -> Result<Response, AttemptError> {
        let slot = self.slot(addr);
        let work = async {
            let name = server_name_for(addr, self.inner.settings.server_name.as_deref())
                .map_err(|e| AttemptError::Connect(e.to_string()))?;
            let mut guard = slot.lock().await;
            // Taken out while in use: if the attempt times out or fails, the connection
            // is dropped with it instead of being reused in an unknown state.
            let (mut conn, reused) = match guard.take() {
                Some(c) => (c, true),
                None => (
                    Conn::connect(self.inner.tls.clone(), addr, name.clone()).await?,
                    false,
                ),
            };
            let ex = match conn.call(self.next_id(), req).await {
                Ok(ex) => ex,
                // A kept connection may have been closed by the node's idle timeout:
                // one retry on a fresh one before calling the node failed.
                Err(AttemptError::Io(_)) if reused => {
                    conn = Conn::connect(self.inner.tls.clone(), addr, name).await?;
                    conn.call(self.next_id(), req).await?
                }
                Err(e) => return Err(e),
            };
            if !ex.closed {
                *guard = Some(conn);
            }
            Ok(ex.response)
        };
        match tokio::time::timeout(self.inner.settings.request_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(AttemptError::Timeout),
        }
    }

    fn update(&self, addr: &str, f: impl FnOnce(&mut NodeStatus)) {
        let mut table = lock(&self.inner.table);
        if let Some(n) = table.iter_mut().find(|n| n.addr == addr) {
            f(n);
        }
    }

    fn mark_ok(&self, addr: &str, pool_ready: Option<Option<i64>>) {
        self.update(addr, |n| {
            if n.up != Some(true) {
                tracing::info!(node = %addr, site = n.site.as_deref().unwrap_or("?"), "node up");
            }
            n.up = Some(true);
            n.failed_at = None;
            n.last_error = None;
            if let Some(p) = pool_ready {
                n.pool_ready = p;
            }
        });
    }

    /// `down`: unreachable or broken, as opposed to up but unable to serve this
    /// request (no ready key); both go to the back of the order.
    fn mark_failed(&self, addr: &str, reason: &str, down: bool) {
        self.update(addr, |n| {
            let site = n.site.as_deref().unwrap_or("?");
            if down && n.up != Some(false) {
                tracing::warn!(node = %addr, site, reason, "node down");
            } else if !down {
                tracing::info!(node = %addr, site, reason, "node cannot serve now");
            }
            // It answered: up, even if it cannot serve this request.
            n.up = Some(!down);
            n.failed_at = Some(Instant::now());
            n.last_error = Some(reason.to_owned());
        });
    }

    /// Sends `req` to the nodes in order until one answers (see the module docs).
    pub async fn request(&self, req: Request) -> Result<Response, ClusterError> {
        Ok(self.request_from(req).await?.1)
    }

    /// [`Cluster::request`], also telling which node answered.
    pub async fn request_from(&self, req: Request) -> Result<(String, Response), ClusterError> {
        let mut failures = Vec::new();
        for addr in self.ordered() {
            let out = self.attempt(&addr, &req).await;
            let fail = fails_over(&out);
            match out {
                Ok(Response::Error { code, message }) if !fail => {
                    self.mark_ok(&addr, None);
                    return Err(ClusterError::Refused {
                        node: addr,
                        code,
                        message,
                    });
                }
                Ok(r) if !fail => {
                    self.mark_ok(&addr, None);
                    return Ok((addr, r));
                }
                Ok(Response::Error { code, message }) => {
                    let reason = format!("{code:?}: {message}");
                    self.mark_failed(&addr, &reason, false);
                    failures.push(NodeFailure {
                        node: addr,
                        code: Some(code),
                        reason,
                    });
                }
                other => {
                    let reason = match other {
                        Err(e) => e.to_string(),
                        Ok(r) => format!("unexpected answer {}", kind(&r)),
                    };
                    self.mark_failed(&addr, &reason, true);
                    failures.push(NodeFailure {
                        node: addr,
                        code: None,
                        reason,
                    });
                }
            }
            tracing::debug!(request = ?req, "trying the next node");
        }
        Err(ClusterError::Unreachable { failures })
    }

    /// A key to write a medium with (the data unit's current write key, or a new one
    /// from the pool).
    pub async fn key_for_write(
        &self,
        external_tag: Option<&str>,
        external_unique_id: Option<&str>,
    ) -> Result<WireKey, ClusterError> {
        let req = Request::KeyForWrite {
            external_tag: external_tag.map(str::to_owned),
            external_unique_id: external_unique_id.map(str::to_owned),
        };
        let (node, mut keys) = self.keys(req).await?;
        if keys.len() != 1 {
            return Err(ClusterError::Unexpected {
                node,
                detail: format!("{} keys for one write", keys.len()),
            });
        }
        keys.pop().ok_or_else(|| ClusterError::Unexpected {
            node,
            detail: "no key".into(),
        })
    }

    /// The key `key_id` (as recorded on tape).
    pub async fn keys_for_read_by_id(&self, key_id: &str) -> Result<Vec<WireKey>, ClusterError> {
        let req = Request::KeysForRead {
            key_id: Some(key_id.to_owned()),
            external_tag: None,
            external_unique_id: None,
        };
        Ok(self.keys(req).await?.1)
    }

    /// Every key of a data unit.
    pub async fn keys_for_read_by_unit(
        &self,
        external_tag: Option<&str>,
        external_unique_id: Option<&str>,
    ) -> Result<Vec<WireKey>, ClusterError> {
        let req = Request::KeysForRead {
            key_id: None,
            external_tag: external_tag.map(str::to_owned),
            external_unique_id: external_unique_id.map(str::to_owned),
        };
        Ok(self.keys(req).await?.1)
    }

    async fn keys(&self, req: Request) -> Result<(String, Vec<WireKey>), ClusterError> {
        match self.request_from(req).await? {
            (node, Response::Keys(keys)) => {
                for k in &keys {
                    if k.material.is_empty() || k.material.len() * 8 != k.length as usize {
                        return Err(ClusterError::Unexpected {
                            node,
                            detail: format!(
                                "key {} has {} bytes but claims {} bits",
                                k.key_id,
                                k.material.len(),
                                k.length
                            ),
                        });
                    }
                }
                Ok((node, keys))
            }
            (node, other) => Err(ClusterError::Unexpected {
                node,
                detail: format!("{} where keys were expected", kind(&other)),
            }),
        }
    }

    /// Reports what a drive did with a key.
    pub async fn report_use(
        &self,
        key_id: &str,
        bytes_written: u64,
        bytes_read: u64,
    ) -> Result<(), ClusterError> {
        let req = Request::ReportUse {
            key_id: key_id.to_owned(),
            bytes_written,
            bytes_read,
        };
        match self.request_from(req).await? {
            (_, Response::Done) => Ok(()),
            (node, other) => Err(ClusterError::Unexpected {
                node,
                detail: format!("{} where Done was expected", kind(&other)),
            }),
        }
    }

    /// Asks for the node list, adopts it and stores it in the state directory.
    pub async fn discover(&self) -> Result<Vec<NodeEntry>, ClusterError> {
        match self.request_from(Request::Discover).await? {
            (_, Response::Nodes(nodes)) => {
                self.merge(nodes.clone());
                self.persist()?;
                tracing::debug!(nodes = nodes.len(), "node list refreshed");
                Ok(nodes)
            }
            (node, other) => Err(ClusterError::Unexpected {
                node,
                detail: format!("{} where a node list was expected", kind(&other)),
            }),
        }
    }

    /// One heartbeat to every known node at once; marks each up or down.
    pub async fn heartbeat(&self) -> Vec<HeartbeatResult> {
        let mut set = tokio::task::JoinSet::new();
        for n in self.nodes() {
            let c = self.clone();
            set.spawn(async move {
                let out = c.attempt(&n.addr, &Request::Heartbeat).await;
                let result = match out {
                    Ok(Response::Alive { pool_ready, .. }) => {
                        c.mark_ok(&n.addr, Some(pool_ready));
                        Ok(pool_ready)
                    }
                    Ok(Response::Error { code, message }) => {
                        let reason = format!("{code:?}: {message}");
                        c.mark_failed(&n.addr, &reason, true);
                        Err(reason)
                    }
                    Ok(other) => {
                        let reason = format!("unexpected answer {}", kind(&other));
                        c.mark_failed(&n.addr, &reason, true);
                        Err(reason)
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        c.mark_failed(&n.addr, &reason, true);
                        Err(reason)
                    }
                };
                HeartbeatResult {
                    node: n.addr,
                    result,
                }
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(r) => out.push(r),
                Err(e) => tracing::error!(error = %e, "heartbeat task failed"),
            }
        }
        out.sort_by(|a, b| a.node.cmp(&b.node));
        out
    }

    /// Heartbeats every `every`, and a discovery every `discover_every` heartbeats
    /// (the first at once), until `shutdown` resolves.
    pub async fn run_heartbeats(
        self,
        every: Duration,
        discover_every: u32,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut count: u32 = 0;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            if count.is_multiple_of(discover_every.max(1)) {
                if let Err(e) = self.discover().await {
                    tracing::warn!(error = %e, "node discovery failed; keeping the known list");
                }
            }
            count = count.wrapping_add(1);
            for r in self.heartbeat().await {
                if let Ok(pool_ready) = r.result {
                    tracing::debug!(node = %r.node, pool_ready, "heartbeat");
                }
            }
        }
    }
}

/// One node's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResult {
    /// The node's address.
    pub node: String,
    /// Its pool level for this agent's key group, or why it failed.
    pub result: Result<Option<i64>, String>,
}

fn kind(r: &Response) -> &'static str {
    match r {
        Response::Hello { .. } => "Hello",
        Response::Enrolled { .. } => "Enrolled",
        Response::Nodes(_) => "Nodes",
        Response::Keys(_) => "Keys",
        Response::Done => "Done",
        Response::Alive { .. } => "Alive",
        Response::Error { .. } => "Error",
    }
}

/// Writes `path` through a temporary file and a rename, so a crash never leaves half a
/// file; the file has `mode` from its creation.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
