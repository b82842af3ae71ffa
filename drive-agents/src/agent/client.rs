//! One connection to one node: TLS 1.3 with the agent's certificate, and the
//! request/answer exchange of [`clavis::agent::wire`] frames over it.
//!
//! Exchanges are strictly one request, one answer, so a connection is used by one
//! caller at a time (the cluster keeps it behind a lock). Any I/O or framing failure
//! leaves the stream in an unknown place, so the caller drops the connection.

use clavis::agent::wire::{body_len, Request, Response, MAX_FRAME};
use clavis::secret::KeyMaterial;
use rustls::pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use super::config::split_host_port;

/// Certificate, private key and CA file names in the state directory.
pub const CERT_FILE: &str = "cert.pem";
/// The private key (mode 0600).
pub const KEY_FILE: &str = "key.pem";
/// The cluster CA.
pub const CA_FILE: &str = "ca.pem";

/// Setting up TLS failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A state file could not be read.
    #[error("cannot read {path}: {error}{hint}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// A certificate, key or CA could not be used.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// An address or TLS name is unusable.
    #[error("{0}")]
    Address(String),
}

/// The agent's credentials: its certificate and private key, and the cluster CA that
/// node certificates must chain to. No `Debug`: it holds the private key.
pub struct Identity {
    cert_pem: String,
    key_pem: Zeroizing<String>,
    ca_pem: String,
}

impl Identity {
    /// From PEM text.
    pub fn new(cert_pem: String, key_pem: Zeroizing<String>, ca_pem: String) -> Identity {
        Identity {
            cert_pem,
            key_pem,
            ca_pem,
        }
    }

    /// Reads `cert.pem`, `key.pem` and `ca.pem` from the state directory.
    pub fn load(state_dir: &Path) -> Result<Identity, ClientError> {
        let read = |name: &str| {
            let path = state_dir.join(name);
            std::fs::read_to_string(&path).map_err(|error| ClientError::Read {
                path: path.display().to_string(),
                error,
                hint: " (enroll first: clavis-agent enroll --config FILE --token clvE_...)",
            })
        };
        Ok(Identity {
            cert_pem: read(CERT_FILE)?,
            key_pem: Zeroizing::new(read(KEY_FILE)?),
            ca_pem: read(CA_FILE)?,
        })
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The cluster CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The private key, PEM: the name says where it goes.
    pub fn expose_key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A TLS 1.3 client configuration presenting this identity.
    pub fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let key: KeyMaterial = clavis::tls::parse_private_key_pem(&self.key_pem)
            .map_err(|e| ClientError::Tls(format!("private key: {e}")))?;
        let cfg = clavis::tls::client_config(&self.ca_pem, Some((&self.cert_pem, &key)))
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Arc::new(cfg))
    }
}

/// A TLS 1.3 client configuration without a client certificate (enrollment only).
pub fn anonymous_tls_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let cfg = clavis::tls::client_config(ca_pem, None)
        .map_err(|e| ClientError::Tls(format!("cluster CA: {e}")))?;
    Ok(Arc::new(cfg))
}

/// The name to check in `addr`'s certificate: `server_name` when set, else the host.
pub fn server_name_for(
    addr: &str,
    server_name: Option<&str>,
) -> Result<ServerName<'static>, ClientError> {
    let host = match server_name {
        Some(n) => n,
        None => {
            split_host_port(addr)
                .ok_or_else(|| ClientError::Address(format!("{addr:?} is not host:port")))?
                .0
        }
    };
    ServerName::try_from(host.to_owned())
        .map_err(|_| ClientError::Address(format!("{host:?} is not a valid TLS server name")))
}

/// Why one exchange with one node failed (the node's own error answers are not
/// failures here: they are answers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// TCP connect or TLS handshake failed.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The connection broke.
    #[error("I/O error: {0}")]
    Io(String),
    /// The node answered something that is not a valid answer to the request.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// An open connection to one node.
pub struct Conn {
    stream: TlsStream<TcpStream>,
}

impl Conn {
    /// TCP connect and TLS handshake (the caller bounds the time).
    pub async fn connect(
        tls: Arc<rustls::ClientConfig>,
        addr: &str,
        name: ServerName<'static>,
    ) -> Result<Conn, AttemptError> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| AttemptError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let stream = TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| AttemptError::Connect(format!("TLS: {e}")))?;
        Ok(Conn { stream })
    }

    /// Sends `req` with request ID `id` and reads the answer.
    ///
    /// The answer must echo `id`. The node uses ID 0 for errors about the connection
    /// itself (certificate refused, undecodable frame) and closes it after, so such an
    /// error is accepted as the answer and [`Exchange::closed`] is set.
    pub async fn call(&mut self, id: u32, req: &Request) -> Result<Exchange, AttemptError> {
        let frame = req.encode(id);
        let io = |e: std::io::Error| AttemptError::Io(e.to_string());
        self.stream.write_all(&frame).await.map_err(io)?;
        self.stream.flush().await.map_err(io)?;
        drop(frame);
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix).await.map_err(io)?;
        let len = body_len(prefix, MAX_FRAME)
            .map_err(|e| AttemptError::Protocol(format!("answer frame: {e}")))?;
        // The answer may carry keys.
        let mut body = Zeroizing::new(vec![0u8; len]);
        self.stream.read_exact(&mut body).await.map_err(io)?;
        let frame = Response::decode(&body)
            .map_err(|e| AttemptError::Protocol(format!("undecodable answer: {e}")))?;
        if frame.id == id {
            return Ok(Exchange {
                response: frame.msg,
                closed: false,
            });
        }
        if frame.id == 0 && matches!(frame.msg, Response::Error { .. }) {
            return Ok(Exchange {
                response: frame.msg,
                closed: true,
            });
        }
        Err(AttemptError::Protocol(format!(
            "answer for request {} to request {id}",
            frame.id
        )))
    }
}

/// An answer, and whether the node closed the connection after it.
pub struct Exchange {
    /// The answer.
    pub response: Response,
    /// The connection must not be reused.
    pub closed: bool,
}
