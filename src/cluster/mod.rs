//! The cluster: node-to-node replication over mutual TLS, peer heartbeats and status,
//! and joining a node to a cluster (SPEC 7).
//!
//! The unit that replicates is a *replica* (one database, served by one node or by
//! several nodes sharing a PostgreSQL database). Every node pulls, from every node of
//! every other replica, the changes its replica lacks ([`peer`]), and serves the same
//! pull to its peers ([`server`]). The store keeps the version vector, the change log
//! and the conflict rules (`store::replicate`, `store::merge`); this module moves
//! changes and watches peers.

pub mod join;
pub mod peer;
pub mod server;
pub mod status;
pub mod wire;

use std::time::Duration;

/// Connects to `addr` (`host:port`), from `source` when given.
pub(crate) async fn connect_tcp(
    addr: &str,
    source: Option<std::net::IpAddr>,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(source) = source else {
        return tokio::net::TcpStream::connect(addr).await;
    };
    let mut last = None;
    for target in tokio::net::lookup_host(addr).await? {
        let socket = if target.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(std::net::SocketAddr::new(source, 0))?;
        match socket.connect(target).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{addr} resolves to nothing"),
        )
    }))
}

/// Replication settings, from `[cluster]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Most changes in one batch.
    pub batch: u32,
    /// How long a pull is held open when there is nothing new (also the heartbeat).
    pub wait: Duration,
    /// A peer not heard from for this long is down.
    pub peer_timeout: Duration,
    /// Local address outgoing connections are made from.
    pub source_addr: Option<std::net::IpAddr>,
    /// Run on peer lost / found: `COMMAND EVENT PEER_NAME PEER_ID`.
    pub alert_command: Option<std::path::PathBuf>,
}
