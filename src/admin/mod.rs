//! The administrative REST API: axum over rustls (TLS 1.3).
//!
//! Connections are accepted by our own loop (axum has no TLS): each is handshaken
//! with a deadline, the peer's address and certificate are put into the request's
//! extensions, and the connection is served by hyper. A client certificate is
//! optional here, but one that is presented must chain to the cluster CA.

mod audit;
mod backup;
mod cluster;
mod drives;
mod endpoints;
mod error;
mod json;
mod okm;
mod openapi;
mod params;
mod quorum;
mod rotation;
mod routes;
mod session;
mod transfer;
mod users;
mod wallets;

pub use error::ApiError;
pub use routes::{router, ApiState};

use axum::extract::DefaultBodyLimit;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The remote address of the connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The DER certificate the client presented, if any.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    state: ApiState,
    max_body_bytes: usize,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let app = router(state).layer(DefaultBodyLimit::max(max_body_bytes));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(peer = %peer, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(peer = %peer, "TLS handshake timed out");
                    return;
                }
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| PeerCertificate(c.as_ref().to_vec()));
            let svc = tower::ServiceBuilder::new()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    if let Some(c) = &cert {
                        req.extensions_mut().insert(c.clone());
                    }
                    req
                })
                .service(app);
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc))
                .await;
            if let Err(e) = conn {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
}
