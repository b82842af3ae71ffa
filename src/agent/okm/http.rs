//! The four OKM listeners: HTTP/1.1 (hyper) on plain TCP for the CA service, on TLS
//! for the others. Each request body is read up to the configured limit and handed to
//! its service as bytes; the answer is a SOAP envelope (`text/xml`), faults with
//! HTTP status 500 as SOAP 1.1 asks.

use super::{agent, enroll, Fault, FaultCode, OkmState};
use crate::metrics::{Interface, Outcome};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Which service a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// CA (plain HTTP).
    Ca,
    /// Certificate (TLS, server authenticated).
    Certificate,
    /// Agent (mutual TLS).
    Agent,
    /// Discovery (mutual TLS).
    Discovery,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Ca => "okm-ca",
            Service::Certificate => "okm-certificate",
            Service::Agent => "okm-agent",
            Service::Discovery => "okm-discovery",
        }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Address.
    pub addr: SocketAddr,
    /// Leaf client certificate (DER), when one was presented and verified.
    pub cert: Option<Vec<u8>>,
}

/// Serves `service` on `listener` (with TLS when `tls` is given) until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    service: Service,
    state: Arc<OkmState>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tls.map(|t| TlsAcceptor::from(Arc::new(t)));
    crate::tls::accept_loop(listener, service.name(), shutdown, |tcp, addr| {
        let (acceptor, state) = (acceptor.clone(), state.clone());
        async move {
            match acceptor {
                None => {
                    let peer = Peer { addr, cert: None };
                    serve_conn(TokioIo::new(tcp), service, state, peer).await
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::info!(peer = %addr, listener = service.name(), error = %e, "TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::info!(peer = %addr, listener = service.name(), "TLS handshake timed out");
                            return;
                        }
                    };
                    let cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| c.as_ref().to_vec());
                    let peer = Peer { addr, cert };
                    serve_conn(TokioIo::new(tls), service, state, peer).await
                }
            }
        }
    })
    .await;
}

async fn serve_conn<IO>(io: TokioIo<IO>, service: Service, state: Arc<OkmState>, peer: Peer)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let idle = state.settings.idle;
    let addr = peer.addr;
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (state, peer) = (state.clone(), peer.clone());
        async move { Ok::<_, std::convert::Infallible>(answer(req, service, &state, &peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(idle)
        .keep_alive(true)
        .serve_connection(io, svc);
    match tokio::time::timeout(idle * 60, conn).await {
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, error = %e, "OKM connection ended with an error")
        }
        Err(_) => tracing::debug!(peer = %addr, "OKM connection closed after its time limit"),
        Ok(Ok(())) => {}
    }
}

fn reply(status: StatusCode, xml: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(xml)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

async fn answer(
    req: Request<Incoming>,
    service: Service,
    state: &OkmState,
    peer: &Peer,
) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            Fault::Client(FaultCode::InvalidParameters).envelope(),
        );
    }
    let limit = state.settings.max_request_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                Fault::Client(FaultCode::InvalidParameters).envelope(),
            )
        }
    };
    let start = std::time::Instant::now();
    let result = match service {
        Service::Ca => enroll::ca(state, peer, &body).await,
        Service::Certificate => enroll::certificate(state, peer, &body).await,
        Service::Agent => agent::agent(state, peer, &body).await,
        Service::Discovery => agent::discovery(state, peer, &body).await,
    };
    let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(Fault::Client(_)) => Outcome::ClientError,
        Err(Fault::Server) => Outcome::ServerError,
    };
    state
        .svc
        .metrics()
        .record(Interface::Okm, outcome, start.elapsed());
    match result {
        Ok(xml) => reply(StatusCode::OK, xml),
        Err(f) => reply(StatusCode::INTERNAL_SERVER_ERROR, f.envelope()),
    }
}

/// Where a node serves OKM agents.
#[derive(Debug, Clone, Copy)]
pub struct OkmAddrs {
    /// CA service.
    pub ca: SocketAddr,
    /// Certificate service.
    pub certificate: SocketAddr,
    /// Agent service.
    pub agent: SocketAddr,
    /// Discovery service.
    pub discovery: SocketAddr,
}

/// TLS configurations of the OKM listeners: server-authenticated (Certificate) and
/// mutual (Agent, Discovery). TLS 1.2 is offered besides 1.3 because drive firmware
/// predates TLS 1.3.
pub struct OkmTls {
    /// For the Certificate service: a client certificate is not asked for.
    pub server_auth: rustls::ServerConfig,
    /// For the Agent and Discovery services: a cluster-issued client certificate is required.
    pub mutual: rustls::ServerConfig,
}

impl OkmTls {
    /// Both configurations for the node's certificate and key.
    pub fn new(
        ca_pem: &str,
        cert_pem: &str,
        key: &crate::secret::KeyMaterial,
    ) -> Result<OkmTls, crate::tls::TlsError> {
        let versions: &[&'static rustls::SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        Ok(OkmTls {
            server_auth: crate::tls::server_config_versions(
                ca_pem,
                cert_pem,
                key,
                crate::tls::ClientAuth::Optional,
                versions,
            )?,
            mutual: crate::tls::server_config_versions(
                ca_pem,
                cert_pem,
                key,
                crate::tls::ClientAuth::Required,
                versions,
            )?,
        })
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<(TcpListener, SocketAddr), String> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("okm: cannot listen on {addr} for the {what} service: {e}"))?;
    let bound = l
        .local_addr()
        .map_err(|e| format!("okm: {what} listener: {e}"))?;
    Ok((l, bound))
}

/// Binds the four listeners and spawns them; each stops when `shutdown` says so.
pub async fn start(
    state: Arc<OkmState>,
    tls: OkmTls,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(OkmAddrs, Vec<tokio::task::JoinHandle<()>>), String> {
    let s = state.settings.clone();
    let (ca, ca_addr) = bind(s.ca, "CA").await?;
    let (cert, cert_addr) = bind(s.certificate, "Certificate").await?;
    let (agent, agent_addr) = bind(s.agent, "Agent").await?;
    let (disc, disc_addr) = bind(s.discovery, "Discovery").await?;
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let tasks = vec![
        tokio::spawn(serve(
            ca,
            None,
            Service::Ca,
            state.clone(),
            stopped(shutdown.clone()),
        )),
        tokio::spawn(serve(
            cert,
            Some(tls.server_auth),
            Service::Certificate,
            state.clone(),
            stopped(shutdown.clone()),
        )),
        tokio::spawn(serve(
            agent,
            Some(tls.mutual.clone()),
            Service::Agent,
            state.clone(),
            stopped(shutdown.clone()),
        )),
        tokio::spawn(serve(
            disc,
            Some(tls.mutual),
            Service::Discovery,
            state,
            stopped(shutdown),
        )),
    ];
    Ok((
        OkmAddrs {
            ca: ca_addr,
            certificate: cert_addr,
            agent: agent_addr,
            discovery: disc_addr,
        },
        tasks,
    ))
}
