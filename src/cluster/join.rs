//! Joining a cluster as a new replica (`clavisd join-cluster`): present the one-time
//! token to a sponsor node, receive this node's identity, then copy everything the
//! cluster holds through the ordinary replication pull, with progress.
//!
//! The node's root of trust must already hold the cluster's master key (cloned by the
//! HSM's own means, or restored from a master key backup); stored keys arrive wrapped
//! under it and are never unwrapped in transit.

use super::wire::{self, code, Message};
use crate::store::{Store, VersionVector};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::TlsConnector;

/// What joining produced.
pub struct Joined {
    /// This node's ID.
    pub node_id: String,
    /// The replica it created.
    pub replica_id: String,
    /// Changes copied.
    pub copied: u64,
    /// The master key the copied keys are wrapped under.
    pub master_key_id: String,
    /// Its certificate, private key (PKCS#8 DER) and the CA.
    pub cert_pem: String,
    /// The private key.
    pub key: crate::secret::KeyMaterial,
    /// The cluster CA.
    pub ca_pem: String,
}

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The sponsor cannot be reached or the connection broke.
    #[error("sponsor {addr}: {detail}")]
    Connect {
        /// Address.
        addr: String,
        /// What failed.
        detail: String,
    },
    /// The sponsor refused.
    #[error("the sponsor refused: {0}")]
    Refused(String),
    /// Local storage failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

fn server_name(addr: &str) -> Result<ServerName<'static>, JoinError> {
    let host = addr
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']).to_owned())
        .unwrap_or_else(|| addr.to_owned());
    ServerName::try_from(host).map_err(|e| JoinError::Connect {
        addr: addr.to_owned(),
        detail: format!("not a host:port address: {e}"),
    })
}

async fn connect(
    addr: &str,
    tls: rustls::ClientConfig,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, JoinError> {
    let err = |detail: String| JoinError::Connect {
        addr: addr.to_owned(),
        detail,
    };
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .map_err(|_| err("connection timed out".into()))?
    .map_err(|e| err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    TlsConnector::from(Arc::new(tls))
        .connect(server_name(addr)?, tcp)
        .await
        .map_err(|e| err(format!("TLS handshake: {e}")))
}

/// Presents `token` to the sponsor at `sponsor` (its `[cluster] listen` address) and
/// returns this node's identity. `store` must hold no replica yet; the replica is
/// created only once the sponsor has admitted the node.
#[allow(clippy::too_many_arguments)]
pub async fn admit(
    store: &Store,
    sponsor: &str,
    ca_pem: &str,
    token: &str,
    name: &str,
    site: &str,
    cluster_addr: &str,
    tls_names: &[String],
) -> Result<Joined, JoinError> {
    if let Some(r) = store.replica_id_opt().await? {
        return Err(JoinError::Refused(format!(
            "this node's database already holds replica {r}; joining needs an empty database"
        )));
    }
    let replica_id = crate::keys::new_object_id();
    let mut tls = connect(sponsor, crate::tls::client_config(ca_pem, None)?).await?;
    wire::send(
        &mut tls,
        &Message::Join {
            token: token.to_owned(),
            name: name.to_owned(),
            site: site.to_owned(),
            cluster_addr: cluster_addr.to_owned(),
            replica_id: replica_id.clone(),
            tls_names: tls_names.join(","),
        },
    )
    .await
    .map_err(|e| JoinError::Connect {
        addr: sponsor.to_owned(),
        detail: e.to_string(),
    })?;
    let answer = wire::recv(&mut tls, 1024 * 1024)
        .await
        .map_err(|e| JoinError::Connect {
            addr: sponsor.to_owned(),
            detail: e.to_string(),
        })?;
    match answer {
        Message::Joined {
            node_id,
            cert_pem,
            key_pkcs8_hex,
            ca_pem,
            master_key_id,
        } => {
            let key = hex::decode(key_pkcs8_hex.0.as_str())
                .map_err(|_| JoinError::Refused("the sponsor sent a malformed key".into()))?;
            Ok(Joined {
                node_id,
                replica_id,
                copied: 0,
                master_key_id,
                cert_pem,
                key: crate::secret::KeyMaterial::new(key),
                ca_pem,
            })
        }
        Message::Error { code: c, message } if c == code::BAD_TOKEN => {
            Err(JoinError::Refused(message))
        }
        Message::Error { message, .. } => Err(JoinError::Refused(message)),
        _ => Err(JoinError::Refused("unexpected answer to Join".into())),
    }
}

/// Pulls everything from `peer` until this replica holds all it has, reporting
/// `(copied, total)` about once a second. Returns the number of changes copied.
pub async fn copy_from(
    store: &Store,
    node_id: &str,
    peer: &str,
    tls: rustls::ClientConfig,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, JoinError> {
    let mut conn = connect(peer, tls).await?;
    let err = |detail: String| JoinError::Connect {
        addr: peer.to_owned(),
        detail,
    };
    let replica_id = store.replica_id().await?;
    wire::send(
        &mut conn,
        &Message::Hello {
            major: wire::MAJOR,
            minor: wire::MINOR,
            node_id: node_id.to_owned(),
            replica_id,
        },
    )
    .await
    .map_err(|e| err(e.to_string()))?;
    match wire::recv(&mut conn, 64 * 1024)
        .await
        .map_err(|e| err(e.to_string()))?
    {
        Message::Welcome { .. } => {}
        Message::Error { message, .. } => return Err(JoinError::Refused(message)),
        _ => return Err(JoinError::Refused("unexpected answer to Hello".into())),
    }
    let total_of = |vv: &VersionVector| vv.values().map(|s| (*s).max(0) as u64).sum::<u64>();
    let start_total = total_of(&store.version_vector().await?);
    let mut copied = 0u64;
    let mut last = Instant::now();
    loop {
        let vv = store.version_vector().await?;
        let audit_vv = store.audit_version_vector().await?;
        wire::send(
            &mut conn,
            &Message::Pull {
                max_changes: 5000,
                wait_ms: 0,
                vv,
                audit_vv,
            },
        )
        .await
        .map_err(|e| err(e.to_string()))?;
        let (theirs, changes, audit, checkpoints) = match wire::recv(&mut conn, wire::MAX_FRAME)
            .await
            .map_err(|e| err(e.to_string()))?
        {
            Message::Batch {
                vv,
                changes,
                audit,
                checkpoints,
            } => (vv, changes, audit, checkpoints),
            Message::Error { message, .. } => return Err(JoinError::Refused(message)),
            _ => return Err(JoinError::Refused("unexpected answer to Pull".into())),
        };
        store.apply_audit(node_id, &audit, &checkpoints).await?;
        if changes.is_empty() && audit.is_empty() {
            progress(copied, copied);
            return Ok(copied);
        }
        let r = store.apply_changes(node_id, &changes).await?;
        copied += r.applied;
        if last.elapsed() >= Duration::from_secs(1) {
            progress(copied, total_of(&theirs).saturating_sub(start_total));
            last = Instant::now();
        }
    }
}
