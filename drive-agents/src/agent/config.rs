//! The agent's configuration file (TOML; unknown fields are refused so a typo is an
//! error, not a silently ignored setting).
//!
//! ```toml
//! state_dir = "/var/lib/clavis-agent"    # cert.pem, key.pem, ca.pem, nodes.json
//! servers = ["127.0.0.1:5697"]           # seed nodes (their agent port)
//! site = "dc1"                           # own site: its nodes are tried first
//! server_name = "localhost"              # optional: TLS name in the node certificates
//! request_timeout_ms = 2000
//! heartbeat_secs = 5
//! discover_every = 12                    # heartbeats between two discoveries
//! cooldown_secs = 30                     # a failed node goes to the back this long
//! poll_ms = 500
//!
//! [[drives]]
//! name = "drive0"
//! device = "/dev/sg3"                    # or: emulator = "/run/emu0.sock"
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cluster::ClusterSettings;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// Not valid TOML, an unknown field, or a wrong type.
    #[error("{0}")]
    Parse(String),
    /// A field's value is not allowed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Where the certificate, private key, CA and learned node list live.
    pub state_dir: PathBuf,
    /// Seed node addresses (`host:port` of their agent listeners).
    pub servers: Vec<String>,
    /// This agent's site: nodes of the same site are preferred.
    #[serde(default)]
    pub site: String,
    /// The TLS name to check in node certificates; by default the host part of each
    /// node's address.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Per-node time limit of one request (connect, handshake, answer).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Heartbeat period.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Heartbeats between two discoveries of the node list.
    #[serde(default = "default_discover_every")]
    pub discover_every: u32,
    /// How long a node that failed stays at the back of the list.
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// Drive polling period.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// The drives this agent serves.
    #[serde(default)]
    pub drives: Vec<DriveConfig>,
}

/// One `[[drives]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriveConfig {
    /// Name used in logs.
    pub name: String,
    /// SCSI generic device (`/dev/sgN`).
    #[serde(default)]
    pub device: Option<PathBuf>,
    /// Unix socket of a `clavis-drive-emu`.
    #[serde(default)]
    pub emulator: Option<PathBuf>,
}

/// How a drive is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveSource {
    /// Linux SCSI generic device.
    Device(PathBuf),
    /// Emulator socket.
    Emulator(PathBuf),
}

impl DriveConfig {
    /// The device or emulator socket (validated: exactly one is set).
    pub fn source(&self) -> Result<DriveSource, ConfigError> {
        match (&self.device, &self.emulator) {
            (Some(d), None) => Ok(DriveSource::Device(d.clone())),
            (None, Some(e)) => Ok(DriveSource::Emulator(e.clone())),
            _ => Err(invalid(
                format!("drives.{}", self.name),
                "set exactly one of `device` (/dev/sgN) and `emulator` (socket path)",
            )),
        }
    }
}

fn default_request_timeout_ms() -> u64 {
    2000
}
fn default_heartbeat_secs() -> u64 {
    5
}
fn default_discover_every() -> u32 {
    12
}
fn default_cooldown_secs() -> u64 {
    30
}
fn default_poll_ms() -> u64 {
    500
}

impl AgentConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            error,
        })?;
        AgentConfig::parse(&text)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<AgentConfig, ConfigError> {
        let cfg: AgentConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.state_dir.as_os_str().is_empty() {
            return Err(invalid("state_dir", "must be a directory path"));
        }
        if self.servers.is_empty() {
            return Err(invalid(
                "servers",
                "needs at least one node address (host:port)",
            ));
        }
        for s in &self.servers {
            if split_host_port(s).is_none() {
                return Err(invalid(
                    "servers",
                    format!("{s:?} is not host:port (IPv6 as [addr]:port)"),
                ));
            }
        }
        if let Some(n) = &self.server_name {
            if rustls::pki_types::ServerName::try_from(n.as_str()).is_err() {
                return Err(invalid(
                    "server_name",
                    format!("{n:?} is not a DNS name or IP address"),
                ));
            }
        }
        if !(100..=600_000).contains(&self.request_timeout_ms) {
            return Err(invalid(
                "request_timeout_ms",
                "must be 100 to 600000 (10 minutes)",
            ));
        }
        if !(1..=3600).contains(&self.heartbeat_secs) {
            return Err(invalid("heartbeat_secs", "must be 1 to 3600"));
        }
        if self.discover_every == 0 {
            return Err(invalid("discover_every", "must be at least 1"));
        }
        if self.cooldown_secs > 86_400 {
            return Err(invalid("cooldown_secs", "must be at most 86400 (a day)"));
        }
        if !(50..=60_000).contains(&self.poll_ms) {
            return Err(invalid("poll_ms", "must be 50 to 60000"));
        }
        let mut names = std::collections::HashSet::new();
        for d in &self.drives {
            if d.name.is_empty() {
                return Err(invalid("drives.name", "must not be empty"));
            }
            if !names.insert(d.name.as_str()) {
                return Err(invalid(
                    format!("drives.{}", d.name),
                    "drive names must be unique",
                ));
            }
            d.source()?;
        }
        Ok(())
    }

    /// The cluster client settings this file describes.
    pub fn cluster_settings(&self) -> ClusterSettings {
        ClusterSettings {
            site: self.site.clone(),
            server_name: self.server_name.clone(),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            cooldown: Duration::from_secs(self.cooldown_secs),
        }
    }

    /// Heartbeat period.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    /// Drive polling period.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
}

/// Splits `host:port` (IPv6 hosts in brackets); `None` when it is not of that form.
pub fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    (!host.is_empty() && port != 0).then_some((host, port))
}
