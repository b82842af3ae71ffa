//! The KMIP listener: TTLV over mutually authenticated TLS (1.2 or 1.3).
//!
//! The client certificate identifies the endpoint; a connection whose certificate does
//! not belong to an enrolled, active endpoint is closed before any request is read.
//! On an open connection the endpoint is checked again before a request when the last
//! check is more than 5 s old, so a suspension takes effect on the next request after
//! at most 5 s (an idle connection stays open until the idle timeout, serving nothing). Framing errors (a length over the limit, a header that is not a
//! Request Message) close the connection; a well-framed message that does not decode
//! gets an Invalid Message response.

use super::enums::result_reason as rr;
use super::error::KmipError;
use super::message::{response_message, ProtocolVersion, ResponseItem};
use super::ops;
use super::ttlv::{message_length, Limits, Ttlv};
use crate::keys::now_secs;
use crate::service::{KeyService, Principal};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How often an open connection re-checks that its endpoint is still allowed.
const RECHECK: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub struct KmipSettings {
    /// Decoder limits.
    pub limits: Limits,
    /// Idle timeout per connection.
    pub idle: Duration,
}

/// Serves KMIP on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    svc: Arc<KeyService>,
    settings: KmipSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    crate::tls::accept_loop(listener, "KMIP", shutdown, |tcp, peer| {
        let (acceptor, svc) = (acceptor.clone(), svc.clone());
        async move {
            if let Err(reason) = connection(acceptor, tcp, peer, &svc, settings).await {
                tracing::info!(peer = %peer, reason = %reason, "KMIP connection closed");
            }
        }
    })
    .await;
}

async fn authenticate(
    svc: &KeyService,
    cert: &[u8],
    peer: SocketAddr,
) -> Result<Principal, String> {
    svc.check_endpoint_address(peer.ip())
        .await
        .map_err(|e| format!("endpoint refused: {e}"))?;
    svc.endpoint_for_certificate(cert, Some(peer.to_string()))
        .await
        .map_err(|e| format!("endpoint refused: {e}"))
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    svc: &KeyService,
    settings: KmipSettings,
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
        .map(|c| c.as_ref().to_vec())
        .ok_or("no client certificate")?;
    let mut principal = authenticate(svc, &cert, peer).await?;
    let mut checked = Instant::now();
    loop {
        let mut header = [0u8; 8];
        match tokio::time::timeout(settings.idle, tls.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Ok(()), // the client closed the connection
            Err(_) => return Err("idle timeout".into()),
        }
        let total =
            message_length(&header, &settings.limits).map_err(|e| format!("bad framing: {e}"))?;
        let mut buf = vec![0u8; total];
        buf[..8].copy_from_slice(&header);
        match tokio::time::timeout(settings.idle, tls.read_exact(&mut buf[8..])).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("truncated message: {e}")),
            Err(_) => return Err("timed out in the middle of a message".into()),
        }
        if checked.elapsed() > RECHECK {
            principal = authenticate(svc, &cert, peer).await?;
            checked = Instant::now();
        }
        let start = Instant::now();
        let mut outcome = crate::metrics::Outcome::Ok;
        let response = match Ttlv::decode(&buf, &settings.limits) {
            Ok(request) => ops::process(svc, &principal, &request).await,
            Err(e) => {
                tracing::info!(peer = %peer, error = %e, "undecodable KMIP message");
                outcome = crate::metrics::Outcome::ClientError;
                let item = ResponseItem {
                    operation: None,
                    unique_batch_item_id: None,
                    undone: false,
                    result: Err(KmipError::new(
                        rr::INVALID_MESSAGE,
                        format!("the message is not valid TTLV: {e}"),
                    )),
                };
                response_message(
                    ProtocolVersion { major: 1, minor: 0 },
                    now_secs(),
                    vec![item],
                )
            }
        };
        tls.write_all(&response.encode())
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        svc.metrics()
            .record(crate::metrics::Interface::Kmip, outcome, start.elapsed());
        tls.flush()
            .await
            .map_err(|e| format!("flush failed: {e}"))?;
    }
}
