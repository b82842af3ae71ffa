//! The node's configuration: one TOML file. Every setting has a documented default
//! (see `docs/configuration.md`); unknown fields are refused so typos are caught.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Errors loading the configuration. Messages name the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path of the file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or a field is wrong; toml's message names the field and line.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// Path of the file.
        path: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("invalid config file {path}: field `{field}`: {message}")]
    Invalid {
        /// Path of the file.
        path: String,
        /// The offending field, dotted.
        field: &'static str,
        /// Why it is refused.
        message: String,
    },
}

/// The whole node configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Identity of this node.
    pub node: NodeConfig,
    /// Where objects are stored.
    #[serde(default)]
    pub store: StoreConfig,
    /// The master key holder.
    pub root_of_trust: RotConfig,
    /// The REST API listener.
    #[serde(default)]
    pub api: ApiConfig,
    /// The KMIP listener.
    #[serde(default)]
    pub kmip: KmipConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The audit trail.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The drive-agent listener.
    #[serde(default)]
    pub agent: AgentConfig,
    /// The key pool.
    #[serde(default)]
    pub pool: PoolConfig,
    /// Replication between nodes.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Oracle Key Manager agent protocol (T10000 and agent-card LTO drives).
    #[serde(default)]
    pub okm: OkmConfig,
    /// Backups.
    #[serde(default)]
    pub backup: BackupConfig,
    /// Master-key rotation.
    #[serde(default)]
    pub rotation: RotationConfig,
    /// Directory the config file lives in; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[backup]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Where backups are written, relative to the data directory unless absolute.
    /// Default `backups`.
    #[serde(default = "default_backup_dir")]
    pub dir: PathBuf,
    /// When scheduled backups run (see [`crate::backup::schedule`]); none by default.
    /// They need arming once with the recovery passphrase (`clavis backup arm`).
    #[serde(default)]
    pub schedule: Option<String>,
    /// Scheduled backups of this node kept in `dir`; older ones are deleted after each
    /// new one. `0` keeps all. Backups taken on demand are never deleted.
    #[serde(default = "default_backup_keep")]
    pub keep: usize,
    /// A program and its arguments run after each scheduled backup with the file's path
    /// appended (no shell), e.g. `["/usr/local/bin/ship-backup", "--to", "vault"]`.
    #[serde(default)]
    pub copy_command: Vec<String>,
    /// `copy_command` is killed after this many seconds (default 3600).
    #[serde(default = "default_copy_timeout")]
    pub copy_timeout_secs: u64,
}

fn default_copy_timeout() -> u64 {
    3600
}

fn default_backup_keep() -> usize {
    14
}

fn default_backup_dir() -> PathBuf {
    PathBuf::from("backups")
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: default_backup_dir(),
            schedule: None,
            keep: default_backup_keep(),
            copy_command: Vec::new(),
            copy_timeout_secs: default_copy_timeout(),
        }
    }
}

/// `[node]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Human name of the node (letters, digits, `_`, `.`, `-`).
    pub name: String,
    /// Site the node belongs to. Default `default`.
    #[serde(default = "default_site")]
    pub site: String,
    /// Directory for the node's files (database, CA bundle, sealed key file). Default `data`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative to data_dir) or `postgres://...`. Default `sqlite://clavis.db`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// Connection pool size. Default 8 (SQLite serializes writers anyway).
    #[serde(default = "default_pool_size")]
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: default_store_url(),
            max_connections: default_pool_size(),
        }
    }
}

/// `[root_of_trust]`
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RotConfig {
    /// An HSM through PKCS#11.
    Pkcs11(Pkcs11Config),
    /// Passphrase-sealed file; quick start and development only.
    Software(SoftwareRotConfig),
}

/// `[root_of_trust]` with `kind = "pkcs11"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Path of an HSM profile TOML (relative to the config file), e.g. `hsm-profiles/softhsm2.toml`.
    pub profile: PathBuf,
    /// Overrides the profile's module path.
    pub module: Option<PathBuf>,
    /// Label of the token holding the master key.
    pub token_label: String,
    /// The user PIN. Prefer `pin_env`.
    pub pin: Option<String>,
    /// Name of an environment variable holding the user PIN. Default `CLAVIS_HSM_PIN`.
    #[serde(default = "default_pin_env")]
    pub pin_env: String,
    /// Overrides the profile's session pool size.
    pub session_pool_size: Option<usize>,
    /// Let the master key be exported, wrapped, for a quorum-approved master-key backup
    /// (`clavis master-key backup`). Default false: the key is generated
    /// non-extractable and no one, Clavis included, can take it out of the token.
    /// When true, it is generated sensitive but extractable, so anyone holding the
    /// user PIN could wrap it out of the token with their own tools; Clavis itself
    /// exports it only under quorum. Decide before `clavisd init`: the attribute is
    /// fixed when the key is made.
    #[serde(default)]
    pub master_key_exportable: bool,
    /// Fallback HSMs holding the same master key (`[[root_of_trust.fallback]]`, each
    /// with its own profile, token and PIN): used in order when the HSM in use stops
    /// answering.
    #[serde(default)]
    pub fallback: Vec<Pkcs11Config>,
    /// With fallbacks: an HSM in use whose calls make no progress for this long is
    /// treated as hung and new requests go to the next one. Default 10,000 ms.
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
}

fn default_call_timeout_ms() -> u64 {
    10_000
}

/// `[root_of_trust]` with `kind = "software"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareRotConfig {
    /// The sealed master key file (relative to data_dir). Default `master-key.sealed`.
    #[serde(default = "default_sealed_file")]
    pub sealed_file: PathBuf,
    /// Environment variable holding the passphrase. Default `CLAVIS_ROT_PASSPHRASE`.
    #[serde(default = "default_passphrase_env")]
    pub passphrase_env: String,
    /// A file holding the passphrase (relative to data_dir), used when the variable is unset.
    /// `clavisd init` creates it with a random passphrase if it does not exist.
    pub passphrase_file: Option<PathBuf>,
}

/// `[api]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address. Default `127.0.0.1:8443`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// DNS names and IP addresses put in the node certificate. Default `["localhost", "127.0.0.1"]`.
    #[serde(default = "default_tls_names")]
    pub tls_names: Vec<String>,
    /// Largest accepted request body in bytes. Default 65536.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: default_listen(),
            tls_names: default_tls_names(),
            max_body_bytes: default_max_body(),
        }
    }
}

/// `[kmip]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmipConfig {
    /// Serve KMIP. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Listen address. Default `127.0.0.1:5696`.
    #[serde(default = "default_kmip_listen")]
    pub listen: SocketAddr,
    /// Largest KMIP message accepted, in bytes. Default 1 MiB.
    #[serde(default = "default_kmip_max_message")]
    pub max_message_bytes: usize,
    /// Seconds a connection may stay idle before the node closes it. Default 300.
    #[serde(default = "default_kmip_idle")]
    pub idle_timeout_secs: u64,
}

impl Default for KmipConfig {
    fn default() -> Self {
        KmipConfig {
            enabled: true,
            listen: default_kmip_listen(),
            max_message_bytes: default_kmip_max_message(),
            idle_timeout_secs: default_kmip_idle(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_kmip_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5696))
}
fn default_kmip_max_message() -> usize {
    1 << 20
}
fn default_kmip_idle() -> u64 {
    300
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Seconds between signed checkpoints of the audit chain head (written only when
    /// the head moved). Default 60; 0 turns the periodic checkpoints off.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
    /// Forward every audit record this node writes to a syslog server, as RFC 5424
    /// lines with a CEF message: `udp://HOST:PORT`. Default: no forwarding.
    pub syslog: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_interval_secs: default_checkpoint_interval(),
            syslog: None,
        }
    }
}

fn default_checkpoint_interval() -> u64 {
    60
}

/// `[agent]`: where drive agents reach the node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Serve drive agents. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Listen address. Default `127.0.0.1:5697`.
    #[serde(default = "default_agent_listen")]
    pub listen: SocketAddr,
    /// The `host:port` agents are told to use (discovery). Default: the listen address.
    pub advertise: Option<String>,
    /// Largest request frame accepted, in bytes. Default 64 KiB (the protocol's maximum).
    #[serde(default = "default_agent_max_frame")]
    pub max_frame_bytes: usize,
    /// Seconds a connection may stay idle. Default 300.
    #[serde(default = "default_kmip_idle")]
    pub idle_timeout_secs: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            enabled: true,
            listen: default_agent_listen(),
            advertise: None,
            max_frame_bytes: default_agent_max_frame(),
            idle_timeout_secs: default_kmip_idle(),
        }
    }
}

fn default_agent_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5697))
}
fn default_agent_max_frame() -> usize {
    crate::agent::wire::MAX_FRAME
}

/// `[okm]`: the Oracle Key Manager agent protocol's services (`docs/okm.md`), for
/// drives whose firmware speaks it. Off by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkmConfig {
    /// Serve OKM agents. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Address the four listeners bind. Default `0.0.0.0`.
    #[serde(default = "default_okm_address")]
    pub listen_address: std::net::IpAddr,
    /// CA service port (plain HTTP). Default 3331.
    #[serde(default = "default_okm_ca_port")]
    pub ca_port: u16,
    /// Certificate service port (TLS). Default 3332.
    #[serde(default = "default_okm_certificate_port")]
    pub certificate_port: u16,
    /// Agent service port (mutual TLS). Default 3334.
    #[serde(default = "default_okm_agent_port")]
    pub agent_port: u16,
    /// Discovery service port (mutual TLS). Default 3335.
    #[serde(default = "default_okm_discovery_port")]
    pub discovery_port: u16,
    /// Host name or address agents are told to reach this node at. Default: the host
    /// of `[agent] advertise` (or of its listen address).
    pub advertise_host: Option<String>,
    /// Hash iterations asked of enrolling agents (40000 to 400000). Default 40000.
    #[serde(default = "default_okm_iterations")]
    pub iterations: u32,
    /// Largest request accepted, in bytes (4 KiB to 1 MiB). Default 64 KiB.
    #[serde(default = "default_okm_max_request")]
    pub max_request_bytes: usize,
    /// Seconds a connection may stay idle. Default 300.
    #[serde(default = "default_kmip_idle")]
    pub idle_timeout_secs: u64,
}

impl Default for OkmConfig {
    fn default() -> Self {
        OkmConfig {
            enabled: false,
            listen_address: default_okm_address(),
            ca_port: default_okm_ca_port(),
            certificate_port: default_okm_certificate_port(),
            agent_port: default_okm_agent_port(),
            discovery_port: default_okm_discovery_port(),
            advertise_host: None,
            iterations: default_okm_iterations(),
            max_request_bytes: default_okm_max_request(),
            idle_timeout_secs: default_kmip_idle(),
        }
    }
}

fn default_okm_address() -> std::net::IpAddr {
    std::net::IpAddr::from([0, 0, 0, 0])
}
fn default_okm_ca_port() -> u16 {
    3331
}
fn default_okm_certificate_port() -> u16 {
    3332
}
fn default_okm_agent_port() -> u16 {
    3334
}
fn default_okm_discovery_port() -> u16 {
    3335
}
fn default_okm_iterations() -> u32 {
    crate::agent::okm::MIN_ITERATIONS
}
fn default_okm_max_request() -> usize {
    64 * 1024
}

/// `[cluster]`: replication with the other nodes of the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Serve and pull replication. Default false (a node alone needs none).
    #[serde(default)]
    pub enabled: bool,
    /// Listen address for peers. Default `127.0.0.1:5698`.
    #[serde(default = "default_cluster_listen")]
    pub listen: SocketAddr,
    /// The `host:port` peers are told to use. Default: the listen address. Its host
    /// must be one of the names in this node's certificate (`api.tls_names`).
    pub advertise: Option<String>,
    /// Refuse every change requests would make; replication still applies peers'
    /// changes. Default false.
    #[serde(default)]
    pub read_only: bool,
    /// Most changes per batch. Default 2000.
    #[serde(default = "default_cluster_batch")]
    pub batch: u32,
    /// Milliseconds a pull is held open while there is nothing new; this is also the
    /// heartbeat interval. Default 1000.
    #[serde(default = "default_cluster_wait")]
    pub heartbeat_ms: u64,
    /// Milliseconds without an answer after which a peer is down. Default 5000.
    #[serde(default = "default_cluster_timeout")]
    pub peer_timeout_ms: u64,
    /// Local address outgoing replication connections are made from (multi-homed
    /// hosts, firewalls that match on source). Default: chosen by the system.
    pub source_addr: Option<std::net::IpAddr>,
    /// Program run when a peer is lost or found, as `PROGRAM EVENT PEER_NAME PEER_ID`
    /// (EVENT is `cluster.peer_lost` or `cluster.peer_found`). Default none.
    pub alert_command: Option<PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            listen: default_cluster_listen(),
            advertise: None,
            read_only: false,
            batch: default_cluster_batch(),
            heartbeat_ms: default_cluster_wait(),
            peer_timeout_ms: default_cluster_timeout(),
            source_addr: None,
            alert_command: None,
        }
    }
}

impl ClusterConfig {
    /// The replication settings, checked.
    pub fn settings(&self) -> Result<crate::cluster::Settings, String> {
        if !(1..=100_000).contains(&self.batch) {
            return Err("cluster.batch: must be 1 to 100,000".into());
        }
        if !(10..=60_000).contains(&self.heartbeat_ms) {
            return Err("cluster.heartbeat_ms: must be 10 to 60,000".into());
        }
        if self.peer_timeout_ms < 100 || self.peer_timeout_ms > 600_000 {
            return Err("cluster.peer_timeout_ms: must be 100 to 600,000".into());
        }
        Ok(crate::cluster::Settings {
            batch: self.batch,
            wait: std::time::Duration::from_millis(self.heartbeat_ms),
            peer_timeout: std::time::Duration::from_millis(self.peer_timeout_ms),
            source_addr: self.source_addr,
            alert_command: self.alert_command.clone(),
        })
    }
}

fn default_cluster_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5698))
}
fn default_cluster_batch() -> u32 {
    2000
}
fn default_cluster_wait() -> u64 {
    1000
}
fn default_cluster_timeout() -> u64 {
    5000
}

/// `[rotation]`: how fast stored keys are re-wrapped after a master-key rotation.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    /// Most keys re-wrapped per second. Default 2000.
    #[serde(default = "default_rewrap_rate")]
    pub rewrap_per_second: u64,
    /// Keys re-wrapped per transaction. Default 200.
    #[serde(default = "default_rewrap_batch")]
    pub batch: u64,
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            rewrap_per_second: default_rewrap_rate(),
            batch: default_rewrap_batch(),
        }
    }
}

fn default_rewrap_rate() -> u64 {
    2000
}
fn default_rewrap_batch() -> u64 {
    200
}

/// `[pool]`: this node's key pools, one per key group.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Ready keys per key group. Default 1000.
    #[serde(default = "default_key_pool_size")]
    pub size: u64,
    /// Refill starts below this many ready keys. Default 80% of `size`.
    pub low_water: Option<u64>,
    /// Most keys generated per second. Default 2000.
    #[serde(default = "default_refill_rate")]
    pub refill_per_second: u64,
    /// Keys generated per transaction. Default 100.
    #[serde(default = "default_refill_batch")]
    pub batch: u64,
    /// Run the maintainer. Default true.
    #[serde(default = "default_true")]
    pub refill: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            size: default_key_pool_size(),
            low_water: None,
            refill_per_second: default_refill_rate(),
            batch: default_refill_batch(),
            refill: true,
        }
    }
}

impl PoolConfig {
    /// The pool module's settings, checked.
    pub fn resolve(&self) -> Result<crate::pool::PoolConfig, String> {
        let low_water = self.low_water.unwrap_or(self.size * 4 / 5);
        if self.size == 0 || self.size > 10_000_000 {
            return Err("pool.size: must be 1 to 10,000,000".into());
        }
        if low_water > self.size {
            return Err("pool.low_water: must not exceed pool.size".into());
        }
        if !(1..=1_000_000).contains(&self.refill_per_second) {
            return Err("pool.refill_per_second: must be 1 to 1,000,000".into());
        }
        if !(1..=10_000).contains(&self.batch) {
            return Err("pool.batch: must be 1 to 10,000".into());
        }
        Ok(crate::pool::PoolConfig {
            size: self.size,
            low_water,
            refill_per_second: self.refill_per_second,
            batch: self.batch,
        })
    }
}

fn default_key_pool_size() -> u64 {
    1000
}
fn default_refill_rate() -> u64 {
    2000
}
fn default_refill_batch() -> u64 {
    100
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `clavis=debug`. Default `info`.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` or `json`. Default `text`.
    #[serde(default = "default_log_format")]
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: default_log_format(),
        }
    }
}

fn default_site() -> String {
    "default".into()
}
fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_store_url() -> String {
    "sqlite://clavis.db".into()
}
fn default_pool_size() -> u32 {
    8
}
fn default_pin_env() -> String {
    "CLAVIS_HSM_PIN".into()
}
fn default_sealed_file() -> PathBuf {
    "master-key.sealed".into()
}
fn default_passphrase_env() -> String {
    "CLAVIS_ROT_PASSPHRASE".into()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_tls_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}
fn default_max_body() -> usize {
    65536
}
fn default_log_level() -> String {
    "info".into()
}
fn default_log_format() -> String {
    "text".into()
}

/// Removes `.` and `..` components lexically.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        // Absolute, so that SQLite URLs and log lines name real paths whatever the cwd.
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base_dir =
            normalize(&std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf()));
        Config::parse(&text, &path.display().to_string(), base_dir)
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, base_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        cfg.base_dir = base_dir;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| ConfigError::Invalid {
            path: origin.to_owned(),
            field,
            message: message.to_owned(),
        };
        if !crate::names::is_valid_object_name(&self.node.name) {
            return Err(invalid("node.name", crate::names::OBJECT_NAME_RULE));
        }
        if !crate::names::is_valid_object_name(&self.node.site) {
            return Err(invalid("node.site", crate::names::OBJECT_NAME_RULE));
        }
        let url = &self.store.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(invalid(
                "store.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if let Some(s) = &self.backup.schedule {
            s.parse::<crate::backup::schedule::Schedule>()
                .map_err(|rule| invalid("backup.schedule", rule))?;
        }
        if self
            .backup
            .copy_command
            .first()
            .is_some_and(|p| p.is_empty())
        {
            return Err(invalid(
                "backup.copy_command",
                "the program must not be empty",
            ));
        }
        if !(1..=1_000_000).contains(&self.rotation.rewrap_per_second) {
            return Err(invalid(
                "rotation.rewrap_per_second",
                "must be 1 to 1,000,000",
            ));
        }
        if !(1..=10_000).contains(&self.rotation.batch) {
            return Err(invalid("rotation.batch", "must be 1 to 10,000"));
        }
        if self.store.max_connections == 0 {
            return Err(invalid("store.max_connections", "must be at least 1"));
        }
        if self.api.tls_names.is_empty() {
            return Err(invalid("api.tls_names", "needs at least one name"));
        }
        if self.api.max_body_bytes < 1024 {
            return Err(invalid("api.max_body_bytes", "must be at least 1024"));
        }
        if !(1024..=64 << 20).contains(&self.kmip.max_message_bytes) {
            return Err(invalid("kmip.max_message_bytes", "must be 1 KiB to 64 MiB"));
        }
        if self.kmip.idle_timeout_secs == 0 {
            return Err(invalid("kmip.idle_timeout_secs", "must be at least 1"));
        }
        if let Some(url) = &self.audit.syslog {
            if let Err(m) = crate::audit::syslog::parse_target(url) {
                return Err(invalid("audit.syslog", &m));
            }
        }
        if !(1024..=crate::agent::wire::MAX_FRAME).contains(&self.agent.max_frame_bytes) {
            return Err(invalid("agent.max_frame_bytes", "must be 1 KiB to 64 KiB"));
        }
        if !(crate::agent::okm::MIN_ITERATIONS..=crate::agent::okm::MAX_ITERATIONS)
            .contains(&self.okm.iterations)
        {
            return Err(invalid(
                "okm.iterations",
                "must be 40000 to 400000 (what agents accept)",
            ));
        }
        if !(4096..=1024 * 1024).contains(&self.okm.max_request_bytes) {
            return Err(invalid("okm.max_request_bytes", "must be 4 KiB to 1 MiB"));
        }
        if self.okm.idle_timeout_secs == 0 {
            return Err(invalid("okm.idle_timeout_secs", "must be at least 1"));
        }
        if self.agent.idle_timeout_secs == 0 {
            return Err(invalid("agent.idle_timeout_secs", "must be at least 1"));
        }
        if let Some(a) = &self.agent.advertise {
            if a.is_empty() || a.len() > 255 || !a.contains(':') {
                return Err(invalid("agent.advertise", "must be host:port"));
            }
        }
        if let Err(m) = self.pool.resolve() {
            return Err(invalid("pool", &m));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be `text` or `json`"));
        }
        if let RotConfig::Pkcs11(p) = &self.root_of_trust {
            if p.token_label.is_empty() || p.token_label.len() > 32 {
                return Err(invalid(
                    "root_of_trust.token_label",
                    "must be 1 to 32 bytes (the PKCS#11 label size)",
                ));
            }
            if p.session_pool_size.is_some_and(|n| n == 0 || n > 256) {
                return Err(invalid(
                    "root_of_trust.session_pool_size",
                    "must be 1 to 256",
                ));
            }
            if !(100..=600_000).contains(&p.call_timeout_ms) {
                return Err(invalid(
                    "root_of_trust.call_timeout_ms",
                    "must be 100 to 600,000",
                ));
            }
            let mut labels = vec![p.token_label.as_str()];
            for f in &p.fallback {
                if !f.fallback.is_empty() {
                    return Err(invalid(
                        "root_of_trust.fallback",
                        "a fallback has no fallbacks of its own; list them all under the primary",
                    ));
                }
                if f.token_label.is_empty() || f.token_label.len() > 32 {
                    return Err(invalid(
                        "root_of_trust.fallback.token_label",
                        "must be 1 to 32 bytes (the PKCS#11 label size)",
                    ));
                }
                if f.module == p.module
                    && f.profile == p.profile
                    && labels.contains(&f.token_label.as_str())
                {
                    return Err(invalid(
                        "root_of_trust.fallback.token_label",
                        "names the same token as the primary or another fallback",
                    ));
                }
                labels.push(&f.token_label);
            }
        }
        Ok(())
    }

    /// The data directory, resolved against the config file's directory.
    pub fn data_dir(&self) -> PathBuf {
        normalize(&self.base_dir.join(&self.node.data_dir))
    }

    /// The parsed backup schedule, if any (validated when the file was loaded).
    pub fn backup_schedule(&self) -> Option<crate::backup::schedule::Schedule> {
        self.backup.schedule.as_deref()?.parse().ok()
    }

    /// The directory backups are written to.
    pub fn backup_dir(&self) -> PathBuf {
        self.data_path(&self.backup.dir)
    }

    /// Resolves a path relative to the data directory.
    pub fn data_path(&self, p: &Path) -> PathBuf {
        self.data_dir().join(p)
    }

    /// Resolves a path relative to the config file.
    pub fn config_path(&self, p: &Path) -> PathBuf {
        self.base_dir.join(p)
    }

    /// The store URL with a relative SQLite path resolved against the data directory.
    pub fn store_url(&self) -> String {
        let url = &self.store.url;
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let path = Path::new(rest.split('?').next().unwrap_or(rest));
            if path.is_relative() {
                return format!("sqlite://{}", self.data_path(path).display());
            }
        }
        url.clone()
    }
}
