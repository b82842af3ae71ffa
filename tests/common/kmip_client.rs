//! A minimal KMIP client for tests: TTLV messages over mutual TLS, one request at a
//! time.

use clavis::kmip::ttlv::{message_length, Limits, Ttlv};
use std::io::{Error, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A KMIP connection authenticated with an endpoint's certificate.
pub struct KmipClient {
    stream: TlsStream<TcpStream>,
    limits: Limits,
}

/// A TLS client configuration for KMIP (no ALPN) with this client certificate.
pub fn tls_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Arc<rustls::ClientConfig> {
    let key = clavis::tls::parse_private_key_pem(key_pem).expect("client key PEM");
    let mut cfg = clavis::tls::client_config(ca_pem, Some((cert_pem, &key))).expect("TLS config");
    cfg.alpn_protocols.clear();
    Arc::new(cfg)
}

impl KmipClient {
    /// Connects to `addr` (the node certificate names `localhost`).
    pub async fn connect(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> KmipClient {
        let tcp = TcpStream::connect(addr).await.expect("TCP connect");
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("server name");
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        KmipClient {
            stream,
            limits: Limits::default(),
        }
    }

    /// Sends one request message and reads one response message. I/O and decoding
    /// errors are returned, so that a caller can report a server that hangs up.
    pub async fn send(&mut self, request: &Ttlv) -> std::io::Result<Ttlv> {
        self.stream.write_all(&request.encode()).await?;
        self.stream.flush().await?;
        let mut header = [0u8; 8];
        self.stream.read_exact(&mut header).await?;
        let total = message_length(&header, &self.limits)
            .map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
        let mut buf = vec![0u8; total];
        buf[..8].copy_from_slice(&header);
        self.stream.read_exact(&mut buf[8..]).await?;
        Ttlv::decode(&buf, &self.limits).map_err(|e| Error::new(ErrorKind::InvalidData, e))
    }
}
