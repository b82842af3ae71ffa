//! Forwarding to a syslog server: every record this node writes is sent, after it is
//! committed, as one RFC 5424 line with a CEF message in one UDP datagram.
//!
//! The forwarder tails the node's own chain rather than being called by the code that
//! appends, so every record is forwarded whichever code path wrote it, and nothing is
//! sent for a transaction that rolled back. It is best-effort: UDP may lose datagrams,
//! and a send that fails is counted in [`ForwardStats::dropped`] and not retried; the
//! database stays the record of truth.

use super::export::syslog_line;
use crate::store::audit::AuditFilter;
use crate::store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Records read per poll.
const BATCH: i64 = 500;

/// How often the forwarder looks for new records.
pub const POLL: Duration = Duration::from_millis(200);

/// Counters of a forwarder.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Records that could not be sent (resolution or send failure).
    pub dropped: AtomicU64,
}

/// Parses `udp://HOST:PORT` into `HOST:PORT`.
pub fn parse_target(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("udp://")
        .ok_or_else(|| "must be udp://HOST:PORT".to_owned())?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(rest.to_owned())
        }
        _ => Err("must be udp://HOST:PORT".to_owned()),
    }
}

/// A forwarder for one node, positioned after the records that exist when it is made.
pub struct Forwarder {
    store: Store,
    node_id: String,
    host: String,
    target: String,
    origin: String,
    cursor: i64,
    stats: Arc<ForwardStats>,
}

impl Forwarder {
    /// Prepares forwarding of the records `node_id` writes from now on to `target`
    /// (`HOST:PORT`); `host` is the HOSTNAME put in the lines.
    pub async fn new(
        store: Store,
        node_id: &str,
        host: &str,
        target: &str,
    ) -> Result<Forwarder, crate::store::StoreError> {
        let origin = store.replica_id().await?;
        let cursor = store
            .audit_heads()
            .await?
            .into_iter()
            .find(|h| h.origin == origin)
            .map_or(0, |h| h.seq);
        Ok(Forwarder {
            store,
            node_id: node_id.to_owned(),
            host: host.to_owned(),
            target: target.to_owned(),
            origin,
            cursor,
            stats: Arc::new(ForwardStats::default()),
        })
    }

    /// The forwarder's counters.
    pub fn stats(&self) -> Arc<ForwardStats> {
        self.stats.clone()
    }

    /// Sends new records until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let sock = match UdpSocket::bind(if self.target.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        })
        .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "audit syslog forwarding disabled: cannot open a UDP socket");
                return;
            }
        };
        tracing::info!(target = %self.target, "forwarding audit records to syslog");
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(POLL) => {}
            }
            // Drain everything committed since the last poll before sleeping again.
            loop {
                match self.poll_once(&sock).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "audit syslog forwarding: cannot read new records");
                        break;
                    }
                }
            }
        }
    }

    async fn poll_once(&mut self, sock: &UdpSocket) -> Result<usize, crate::store::StoreError> {
        let records = self
            .store
            .audit_records(&AuditFilter {
                origin: Some(self.origin.clone()),
                after_seq: Some(self.cursor),
                limit: BATCH,
                ..AuditFilter::default()
            })
            .await?;
        for r in &records {
            self.cursor = r.seq;
            // Nodes sharing a database share its chain; each forwards what it wrote.
            if r.node_id != self.node_id {
                continue;
            }
            let line = syslog_line(r, &self.host);
            match sock.send_to(line.as_bytes(), &self.target).await {
                Ok(_) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    // The first drop and then one in a hundred: a dead server must not
                    // flood the log.
                    if dropped % 100 == 1 {
                        tracing::warn!(error = %e, target = %self.target, dropped, "audit syslog datagram dropped");
                    }
                }
            }
        }
        Ok(records.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("udp://127.0.0.1:514").as_deref(),
            Ok("127.0.0.1:514")
        );
        assert_eq!(
            parse_target("udp://logs.example:5514/").as_deref(),
            Ok("logs.example:5514")
        );
        assert!(parse_target("tcp://127.0.0.1:514").is_err());
        assert!(parse_target("udp://127.0.0.1").is_err());
        assert!(parse_target("udp://:514").is_err());
        assert!(parse_target("udp://h:0").is_err());
    }
}
