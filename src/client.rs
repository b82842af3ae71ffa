//! A small HTTPS client for the REST API, used by the `clavis` CLI, the tests and the
//! benchmarks. One TLS 1.3 connection, kept alive across requests.

use crate::secret::KeyMaterial;
use crate::tls::client_config;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// Client failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not `https://HOST:PORT`.
    #[error("invalid server URL {0:?}: expected https://HOST:PORT")]
    Url(String),
    /// Could not connect.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TLS setup or handshake failed.
    #[error("TLS with {addr} failed: {detail}")]
    Tls {
        /// Address.
        addr: String,
        /// Cause.
        detail: String,
    },
    /// HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server sent something that is not JSON.
    #[error("the server's answer is not JSON (status {0})")]
    NotJson(StatusCode),
}

/// A connected API client.
pub struct ApiClient {
    host: String,
    port: u16,
    tls: TlsConnector,
    token: Option<String>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl ApiClient {
    /// A client for `url` (`https://HOST:PORT`) trusting `ca_pem`, optionally presenting
    /// a client certificate.
    pub fn new(
        url: &str,
        ca_pem: &str,
        client_cert: Option<(&str, &KeyMaterial)>,
        token: Option<String>,
    ) -> Result<ApiClient, ClientError> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| ClientError::Url(url.to_owned()))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| ClientError::Url(url.to_owned()))?,
            ),
            None => (rest, 8443),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(ClientError::Url(url.to_owned()));
        }
        let cfg = client_config(ca_pem, client_cert).map_err(|e| ClientError::Tls {
            addr: url.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(ApiClient {
            host,
            port,
            tls: TlsConnector::from(Arc::new(cfg)),
            token,
            conn: None,
        })
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ClientError> {
        if self.conn.as_ref().is_some_and(|c| c.is_closed()) {
            self.conn = None;
        }
        // A kept-alive connection may still be finishing the previous response (a
        // streamed body); wait until it can take a request, or start afresh.
        if let Some(c) = self.conn.as_mut() {
            if c.ready().await.is_err() {
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            let send = self.open().await?;
            self.conn = Some(send);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| ClientError::Http("no connection".into()))
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(self.host.clone()).map_err(|e| ClientError::Tls {
            addr: addr.clone(),
            detail: e.to_string(),
        })?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Tls {
                addr: addr.clone(),
                detail: e.to_string(),
            })?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends a request with an optional JSON body; returns the status and JSON answer.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, serde_json::Value), ClientError> {
        let bytes = match body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| ClientError::Http(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        self.request_raw(method, path, bytes, body.is_some()).await
    }

    fn build(
        &self,
        method: &Method,
        path: &str,
        body: Bytes,
        json: bool,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let host = format!("{}:{}", self.host, self.port);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("host", host);
        if json {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.body(Full::new(body))
            .map_err(|e| ClientError::Http(e.to_string()))
    }

    /// A GET whose successful answer is not JSON (an audit export): the body is written
    /// to `sink` as it arrives. On an error status the JSON error body is returned.
    pub async fn download(
        &mut self,
        path: &str,
        sink: &mut (dyn std::io::Write + Send),
    ) -> Result<(StatusCode, serde_json::Value, u64), ClientError> {
        let req = self.build(&Method::GET, path, Bytes::new(), false)?;
        let conn = self.connect().await?;
        let resp = match conn.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(ClientError::Http(e.to_string()));
            }
        };
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body
                .collect()
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?
                .to_bytes();
            let v = serde_json::from_slice(&bytes).map_err(|_| ClientError::NotJson(status))?;
            return Ok((status, v, 0));
        }
        let mut written = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                self.conn = None;
                ClientError::Http(format!("the transfer was cut off: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                sink.write_all(&data)
                    .map_err(|e| ClientError::Http(format!("cannot write the output: {e}")))?;
                written += data.len() as u64;
            }
        }
        Ok((status, serde_json::Value::Null, written))
    }

    /// Sends raw bytes as the body (for tests of malformed input).
    pub async fn request_raw(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
        json: bool,
    ) -> Result<(StatusCode, serde_json::Value), ClientError> {
        // A kept-alive connection may have been closed by the server since the last
        // request; hyper then reports the request as canceled (never sent), and it is
        // safe to send it again on a new connection, once.
        let mut retried = false;
        let resp = loop {
            let req = self.build(&method, path, body.clone(), json)?;
            let conn = self.connect().await?;
            match conn.send_request(req).await {
                Ok(r) => break r,
                Err(e) if e.is_canceled() && !retried => {
                    retried = true;
                    self.conn = None;
                }
                Err(e) => {
                    self.conn = None;
                    return Err(ClientError::Http(e.to_string()));
                }
            }
        };
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        if bytes.is_empty() {
            return Ok((status, serde_json::Value::Null));
        }
        let v = serde_json::from_slice(&bytes).map_err(|_| ClientError::NotJson(status))?;
        Ok((status, v))
    }
}
