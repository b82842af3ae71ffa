//! The replication listener: answers peers' pulls and admits joining nodes.

use super::wire::{self, code, Message};
use super::Settings;
use crate::service::KeyService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves peers on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    svc: Arc<KeyService>,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    crate::tls::accept_loop(listener, "cluster", shutdown, |tcp, peer| {
        let (acceptor, svc, settings) = (acceptor.clone(), svc.clone(), settings.clone());
        async move {
            if let Err(reason) = connection(acceptor, tcp, peer, &svc, &settings).await {
                tracing::info!(peer = %peer, reason = %reason, "cluster connection closed");
            }
        }
    })
    .await;
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

async fn refuse(tls: &mut Tls, code: u16, message: String) -> Result<(), String> {
    let _ = wire::send(
        tls,
        &Message::Error {
            code,
            message: message.clone(),
        },
    )
    .await;
    Err(message)
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    svc: &KeyService,
    settings: &Settings,
) -> Result<(), String> {
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("TLS handshake refused: {e}")),
        Err(_) => return Err("TLS handshake timed out".into()),
    };
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, wire::recv(&mut tls, 64 * 1024)).await
    {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            return refuse(&mut tls, code::PROTOCOL, format!("bad first frame: {e}")).await
        }
        Err(_) => return Err("no hello within the timeout".into()),
    };
    let peer_id = match first {
        Message::Join {
            token,
            name,
            site: _,
            cluster_addr,
            replica_id,
            tls_names,
        } => {
            let names: Vec<String> = tls_names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .take(16)
                .map(str::to_owned)
                .collect();
            let req = JoinRequest {
                token: &token,
                name: &name,
                cluster_addr: &cluster_addr,
                replica_id: &replica_id,
                tls_names: &names,
            };
            return join(&mut tls, svc, peer, req).await;
        }
        Message::Hello {
            major,
            minor,
            node_id,
            replica_id: _,
        } => {
            if !wire::compatible(major, minor) {
                return refuse(
                    &mut tls,
                    code::VERSION,
                    format!(
                        "replication protocol {major}.{minor} cannot talk to this node's {}.{}: \
                         nodes must be one minor version apart at most; upgrade the older node",
                        wire::MAJOR,
                        wire::MINOR
                    ),
                )
                .await;
            }
            if let Err(m) = check_member(svc, cert.as_deref(), &node_id).await {
                return refuse(&mut tls, code::NOT_MEMBER, m).await;
            }
            node_id
        }
        _ => return refuse(&mut tls, code::PROTOCOL, "expected Hello or Join".into()).await,
    };
    let own = svc
        .store()
        .replica_id()
        .await
        .map_err(|e| format!("store: {e}"))?;
    wire::send(
        &mut tls,
        &Message::Welcome {
            major: wire::MAJOR,
            minor: wire::MINOR,
            node_id: svc.node().node_id.clone(),
            replica_id: own,
            site: svc.node().site.clone(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    loop {
        let idle = settings.wait + Duration::from_secs(30);
        let msg = match tokio::time::timeout(idle, wire::recv(&mut tls, 1024 * 1024)).await {
            Ok(Ok(m)) => m,
            Ok(Err(wire::WireError::Io(_))) => return Ok(()),
            Ok(Err(e)) => return refuse(&mut tls, code::PROTOCOL, format!("bad frame: {e}")).await,
            Err(_) => return Err("idle timeout".into()),
        };
        // Membership is checked on every pull, so a removed node gets nothing more
        // once its removal is here (a pull already waiting may still be answered).
        if let Err(m) = check_member(svc, cert.as_deref(), &peer_id).await {
            return refuse(&mut tls, code::NOT_MEMBER, m).await;
        }
        let Message::Pull {
            max_changes,
            wait_ms,
            vv,
            audit_vv,
        } = msg
        else {
            return refuse(&mut tls, code::PROTOCOL, "expected Pull".into()).await;
        };
        let max = i64::from(max_changes.clamp(1, settings.batch));
        let wait = Duration::from_millis(u64::from(wait_ms)).min(settings.wait);
        let batch = match pull(svc, &vv, &audit_vv, max, wait).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "reading changes for a peer failed");
                return refuse(
                    &mut tls,
                    code::INTERNAL,
                    "the node failed reading its change log".into(),
                )
                .await;
            }
        };
        wire::send(&mut tls, &batch)
            .await
            .map_err(|e| e.to_string())?;
    }
}

/// Changes the peer lacks; when there are none, waits up to `wait` for new ones.
async fn pull(
    svc: &KeyService,
    theirs: &crate::store::VersionVector,
    their_audit: &crate::store::VersionVector,
    max: i64,
    wait: Duration,
) -> Result<Message, crate::store::StoreError> {
    let deadline = tokio::time::Instant::now() + wait;
    let changed = svc.store().changed();
    loop {
        // Register for the wake-up before looking, so a commit between the look and the
        // wait is not missed.
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let vv = svc.store().version_vector().await?;
        let changes = svc.store().changes_for(theirs, max).await?;
        let (audit, checkpoints) = svc.store().audit_for(their_audit, max).await?;
        let now = tokio::time::Instant::now();
        if !changes.is_empty() || !audit.is_empty() || now >= deadline {
            return Ok(Message::Batch {
                vv,
                changes,
                audit,
                checkpoints,
            });
        }
        // Nodes sharing the database commit without notifying this process: look
        // again at least every 50 ms.
        let step = (deadline - now).min(Duration::from_millis(50));
        let _ = tokio::time::timeout(step, notified).await;
    }
}

/// The peer must present the certificate registered for the node it claims to be,
/// and that node must be an active member.
async fn check_member(svc: &KeyService, cert: Option<&[u8]>, node_id: &str) -> Result<(), String> {
    let Some(cert) = cert else {
        return Err("a peer must present its node certificate".into());
    };
    let cred = svc
        .store()
        .credential(&crate::node::node_tls_credential_id(node_id))
        .await
        .map_err(|e| format!("store: {e}"))?
        .ok_or_else(|| format!("node {node_id} is not known to this node (yet)"))?;
    let registered = crate::tls::parse_certs(&cred.cert_pem).map_err(|e| e.to_string())?;
    if registered.first().map(|c| c.as_ref()) != Some(cert) {
        return Err(format!("the certificate presented is not node {node_id}'s"));
    }
    let member = svc
        .store()
        .node_member(node_id)
        .await
        .map_err(|e| format!("store: {e}"))?;
    match member.as_ref().map(|m| m.member_state.as_str()) {
        Some("active") => Ok(()),
        Some("removed") => Err(format!("node {node_id} was removed from the cluster")),
        _ => Err(format!("node {node_id} is not an active member")),
    }
}

struct JoinRequest<'a> {
    token: &'a str,
    name: &'a str,
    cluster_addr: &'a str,
    replica_id: &'a str,
    tls_names: &'a [String],
}

async fn join(
    tls: &mut Tls,
    svc: &KeyService,
    peer: SocketAddr,
    req: JoinRequest<'_>,
) -> Result<(), String> {
    let (name, cluster_addr) = (req.name, req.cluster_addr);
    match svc
        .admit_node(
            req.token,
            req.replica_id,
            cluster_addr,
            req.tls_names,
            Some(peer.to_string()),
        )
        .await
    {
        Ok(a) => {
            tracing::info!(node = %a.node_id, name, addr = cluster_addr, "node joined the cluster");
            let key = zeroize::Zeroizing::new(hex::encode(a.key.expose_secret()));
            wire::send(
                tls,
                &Message::Joined {
                    node_id: a.node_id,
                    cert_pem: a.cert_pem,
                    key_pkcs8_hex: wire::SecretHex(key),
                    ca_pem: a.ca_pem,
                    master_key_id: a.master_key_id,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        }
        Err(crate::service::ServiceError::InvalidEnrollmentToken) => {
            refuse(
                tls,
                code::BAD_TOKEN,
                "the join token is unknown, used or expired".into(),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "admitting a node failed");
            refuse(
                tls,
                code::INTERNAL,
                format!("the sponsor could not admit the node: {e}"),
            )
            .await
        }
    }
}
