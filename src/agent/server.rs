//! The drive-agent listener: [`super::wire`] frames over TLS 1.3.
//!
//! A client certificate is optional at the TLS layer only so an agent can enroll:
//! without one, a connection may say Hello and Enroll and nothing else. A certificate
//! that is presented must belong to an enrolled, active endpoint, else the connection
//! is answered "unauthenticated" and closed; it is checked again before a request when
//! the last check is more than 5 s old, so a suspension takes effect within 5 s.
//! Framing errors (a length over the limit, a body that does not decode) are answered
//! with an error and close the connection, since the stream cannot be trusted after.

use super::wire::{body_len, ErrorCode, NodeEntry, Request, Response, WireKey};
use crate::keys::now_millis;
use crate::service::{DataUnitRef, KeyService, Principal, ReadRequest, ServiceError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

const RECHECK: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub struct AgentSettings {
    /// Largest frame body accepted.
    pub max_frame: usize,
    /// Idle timeout per connection.
    pub idle: Duration,
}

/// Serves agents on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    svc: Arc<KeyService>,
    settings: AgentSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    crate::tls::accept_loop(listener, "agent", shutdown, |tcp, peer| {
        let (acceptor, svc) = (acceptor.clone(), svc.clone());
        async move {
            if let Err(reason) = connection(acceptor, tcp, peer, &svc, settings).await {
                tracing::info!(peer = %peer, reason = %reason, "agent connection closed");
            }
        }
    })
    .await;
}

async fn authenticate(
    svc: &KeyService,
    cert: &[u8],
    peer: SocketAddr,
) -> Result<Principal, ServiceError> {
    svc.check_endpoint_address(peer.ip()).await?;
    svc.endpoint_for_certificate(cert, Some(peer.to_string()))
        .await
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    svc: &KeyService,
    settings: AgentSettings,
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
    let mut principal = None;
    let mut checked = Instant::now();
    if let Some(cert) = &cert {
        match authenticate(svc, cert, peer).await {
            Ok(p) => principal = Some(p),
            Err(e) => {
                let answer = error(ErrorCode::Unauthenticated, e.to_string()).encode(0);
                let _ = tls.write_all(&answer).await;
                let _ = tls.shutdown().await;
                return Err(format!("agent refused: {e}"));
            }
        }
    }
    // One body buffer per connection, not one allocation per request; it is zeroized
    // when the connection ends (the enrollment token passes through it).
    let mut body = Zeroizing::new(Vec::with_capacity(256));
    loop {
        let mut prefix = [0u8; 4];
        match tokio::time::timeout(settings.idle, tls.read_exact(&mut prefix)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Ok(()),
            Err(_) => return Err("idle timeout".into()),
        }
        let len = match body_len(prefix, settings.max_frame) {
            Ok(n) => n,
            Err(e) => {
                let answer = error(ErrorCode::InvalidRequest, format!("bad frame: {e}")).encode(0);
                let _ = tls.write_all(&answer).await;
                return Err(format!("bad framing: {e}"));
            }
        };
        body.clear();
        body.resize(len, 0);
        match tokio::time::timeout(settings.idle, tls.read_exact(&mut body[..])).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("truncated frame: {e}")),
            Err(_) => return Err("timed out in the middle of a frame".into()),
        }
        let frame = match Request::decode(&body) {
            Ok(f) => f,
            Err(e) => {
                let code = match e {
                    super::wire::WireError::Version(..) => ErrorCode::UnsupportedVersion,
                    _ => ErrorCode::InvalidRequest,
                };
                let answer = error(code, format!("undecodable request: {e}")).encode(0);
                let _ = tls.write_all(&answer).await;
                return Err(format!("undecodable request: {e}"));
            }
        };
        if let (Some(cert), Some(_)) = (&cert, &principal) {
            if checked.elapsed() > RECHECK {
                match authenticate(svc, cert, peer).await {
                    Ok(p) => {
                        principal = Some(p);
                        checked = Instant::now();
                    }
                    Err(e) => {
                        let answer =
                            error(ErrorCode::Unauthenticated, e.to_string()).encode(frame.id);
                        let _ = tls.write_all(&answer).await;
                        return Err(format!("agent no longer allowed: {e}"));
                    }
                }
            }
        }
        let start = std::time::Instant::now();
        let answer = handle(svc, principal.as_ref(), peer, frame.msg).await;
        let outcome = match &answer {
            Response::Error {
                code: ErrorCode::Unavailable | ErrorCode::NoReadyKey,
                ..
            } => crate::metrics::Outcome::ServerError,
            Response::Error { .. } => crate::metrics::Outcome::ClientError,
            _ => crate::metrics::Outcome::Ok,
        };
        tls.write_all(&answer.encode(frame.id))
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        svc.metrics()
            .record(crate::metrics::Interface::Agent, outcome, start.elapsed());
        tls.flush()
            .await
            .map_err(|e| format!("flush failed: {e}"))?;
    }
}

async fn handle(
    svc: &KeyService,
    who: Option<&Principal>,
    peer: SocketAddr,
    req: Request,
) -> Response {
    match (req, who) {
        (Request::Hello { .. }, who) => Response::Hello {
            node_id: svc.node().node_id.clone(),
            node_name: svc.node().name.clone(),
            site: svc.node().site.clone(),
            endpoint: who.map(|p| p.name.clone()),
        },
        (Request::Enroll { token, csr_pem }, _) => {
            let token = secrecy::SecretString::from(token.as_str().to_owned());
            match svc.enroll(&token, &csr_pem, Some(peer.to_string())).await {
                Ok(e) => Response::Enrolled {
                    cert_pem: e.certificate_pem,
                    ca_pem: e.ca_pem,
                    endpoint: e.endpoint.name,
                },
                Err(e) => service_error(e),
            }
        }
        (_, None) => error(
            ErrorCode::Unauthenticated,
            "present the agent certificate issued at enrollment (clavis-agent enroll)".into(),
        ),
        (Request::Discover, Some(_)) => match svc.agent_nodes().await {
            Ok(nodes) => Response::Nodes(
                nodes
                    .into_iter()
                    .filter_map(|n| {
                        Some(NodeEntry {
                            addr: n.agent_addr?,
                            id: n.id,
                            name: n.name,
                            site: n.site,
                        })
                    })
                    .collect(),
            ),
            Err(e) => service_error(e),
        },
        (
            Request::KeyForWrite {
                external_tag,
                external_unique_id,
            },
            Some(p),
        ) => {
            let unit = DataUnitRef {
                external_tag,
                external_unique_id,
            };
            match svc.key_for_write(p, &unit).await {
                Ok(k) => Response::Keys(vec![wire_key(k)]),
                Err(e) => service_error(e),
            }
        }
        (
            Request::KeysForRead {
                key_id,
                external_tag,
                external_unique_id,
            },
            Some(p),
        ) => {
            let req = match key_id {
                Some(id) => ReadRequest::Key(id),
                None => ReadRequest::DataUnit(DataUnitRef {
                    external_tag,
                    external_unique_id,
                }),
            };
            match svc.keys_for_read(p, &req).await {
                Ok(keys) => Response::Keys(keys.into_iter().map(wire_key).collect()),
                Err(e) => service_error(e),
            }
        }
        (
            Request::ReportUse {
                key_id,
                bytes_written,
                bytes_read,
            },
            Some(p),
        ) => {
            let w = i64::try_from(bytes_written).unwrap_or(i64::MAX);
            let r = i64::try_from(bytes_read).unwrap_or(i64::MAX);
            match svc.report_key_use(p, &key_id, w, r).await {
                Ok(()) => Response::Done,
                Err(e) => service_error(e),
            }
        }
        (Request::Heartbeat, Some(p)) => match svc.pool_level_for(p).await {
            Ok(pool_ready) => Response::Alive {
                now_ms: now_millis(),
                pool_ready,
            },
            Err(e) => service_error(e),
        },
    }
}

fn wire_key(k: crate::service::DriveKey) -> WireKey {
    WireKey {
        material: Zeroizing::new(k.material.expose_secret().to_vec()),
        key_id: k.key_id,
        data_unit_id: k.data_unit_id,
        length: k.length,
        protect_stop_date: k.protect_stop_date,
        deactivation_date: k.deactivation_date,
        new_key: k.new_key,
    }
}

fn error(code: ErrorCode, message: String) -> Response {
    Response::Error { code, message }
}

/// The wire code of a service failure. Internal failures are logged, not described.
fn service_error(e: ServiceError) -> Response {
    let code = match &e {
        ServiceError::NoReadyKey(_) => ErrorCode::NoReadyKey,
        ServiceError::NotFound(_) | ServiceError::NameNotFound(_) => ErrorCode::NotFound,
        ServiceError::Forbidden(_) | ServiceError::AddressNotAllowed(_) => ErrorCode::Denied,
        ServiceError::InvalidEnrollmentToken => ErrorCode::InvalidToken,
        ServiceError::Unauthenticated
        | ServiceError::UnknownCertificate
        | ServiceError::EndpointSuspended(_)
        | ServiceError::EndpointDeleted(_) => ErrorCode::Unauthenticated,
        ServiceError::WrongState(_)
        | ServiceError::Destroyed(_)
        | ServiceError::IllegalTransition { .. } => ErrorCode::WrongState,
        ServiceError::InvalidArgument(_)
        | ServiceError::InvalidId(_)
        | ServiceError::Certificate(_) => ErrorCode::InvalidRequest,
        _ => ErrorCode::Unavailable,
    };
    let message = if code == ErrorCode::Unavailable {
        tracing::error!(error = %e, "agent request failed in the node");
        "the node cannot serve this request now; try another node".to_owned()
    } else {
        e.to_string()
    };
    error(code, message)
}
