//! A test client for Oracle Key Manager's agent protocol, written from the protocol's
//! description (`docs/okm.md`) and independent of the node's implementation: its own
//! HTTP/1.1, its own envelopes and field extraction, its own enrollment arithmetic.
//! It plays the part of a drive's firmware agent.

#![allow(dead_code)]

use ring::{digest, hmac};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const NS_AGENT: &str = "http://www.sun.com/KMS/KMS-Agent";
pub const NS_CA: &str = "http://www.sun.com/KMS/KMS-CA";
pub const NS_CERTIFICATE: &str = "http://www.sun.com/KMS/KMS-Certificate";
pub const NS_DISCOVERY: &str = "http://www.sun.com/KMS/KMS-Discovery";

/// An answer: HTTP status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The numeric code at the start of a fault string, if this is a fault.
    pub fn fault_code(&self) -> Option<u32> {
        let fs = field(&self.body, "faultstring")?;
        fs.split_whitespace().next()?.parse().ok()
    }

    /// The text of the first element named `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        field(&self.body, name)
    }
}

/// The text of the first `<name>` element (any prefix), unescaped.
pub fn field(xml: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = xml[from..].find('<') {
        let start = from + i + 1;
        let end = xml[start..].find('>')? + start;
        let tag = &xml[start..end];
        let tag_name = tag.split_whitespace().next().unwrap_or("");
        let local = tag_name.rsplit(':').next().unwrap_or("");
        if local == name && !tag.ends_with('/') && !tag_name.starts_with('/') {
            let close_tag = format!("</{tag_name}>");
            let close = xml[end..].find(&close_tag)?;
            let text = &xml[end + 1..end + close];
            return Some(unescape(text));
        }
        from = end;
    }
    None
}

/// A `Key` structure's (KeyID, KeyState, key value hex) in `xml`. The value is the
/// inner `<Key>` element, after `KeyType`/`KeyGroupID` (the schema's order).
pub fn key_fields(xml: &str) -> Option<(String, String, String)> {
    let id = field(xml, "KeyID")?;
    let state = field(xml, "KeyState")?;
    let after = xml.find("</KeyType>")?;
    let rest = &xml[after..];
    let s = rest.find("<Key>")? + 5;
    let e = rest[s..].find("</Key>")? + s;
    Some((id, state, rest[s..e].to_owned()))
}

/// Every `<item>` block inside the first `<name>` element.
pub fn items(xml: &str, name: &str) -> Vec<String> {
    let Some(block) = raw(xml, name) else {
        return Vec::new();
    };
    block
        .split("<item")
        .skip(1)
        .map(|s| s.split("</item>").next().unwrap_or("").to_owned())
        .collect()
}

fn raw(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let s = xml.find(&open)? + open.len();
    let e = xml[s..].find(&close)? + s;
    Some(xml[s..e].to_owned())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A gSOAP-style request: `prefix:op` in the body, unqualified children.
pub fn envelope(prefix: &str, ns: &str, op: &str, children: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:{prefix}=\"{ns}\"><SOAP-ENV:Body><{prefix}:{op}>{children}</{prefix}:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

/// `<name>text</name>`.
pub fn el(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

/// A `DataUnit` argument.
pub fn data_unit(id: &str, uid_hex: &str, tag: &str) -> String {
    format!(
        "<DataUnit>{}{}{}{}{}</DataUnit>",
        el("DataUnitID", id),
        el("ExternalUniqueID", uid_hex),
        el("ExternalTag", tag),
        el("Description", ""),
        el("DataUnitState", "DATA_UNIT_STATE_NO_KEY")
    )
}

/// One connection to one service, kept alive between requests.
pub struct Conn {
    stream: Box<dyn Stream>,
    host: String,
}

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// TLS client settings trusting `ca_pem`, with an optional client certificate.
pub fn tls(ca_pem: &str, client: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("CA PEM")).expect("CA cert");
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
    .expect("versions")
    .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
                .map(|c| c.expect("cert PEM"))
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key PEM");
            b.with_client_auth_cert(chain, key).expect("client cert")
        }
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

impl Conn {
    /// Plain TCP (the CA service).
    pub async fn plain(addr: SocketAddr) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        Ok(Conn {
            stream: Box::new(tcp),
            host: addr.to_string(),
        })
    }

    /// TLS (the node's certificate names `localhost`).
    pub async fn tls(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        let s = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await?;
        Ok(Conn {
            stream: Box::new(s),
            host: addr.to_string(),
        })
    }

    /// POSTs raw bytes and reads one answer.
    pub async fn post_raw(&mut self, body: &[u8]) -> std::io::Result<Answer> {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nUser-Agent: gSOAP/2.7\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: keep-alive\r\nSOAPAction: \"\"\r\n\r\n",
            self.host,
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body).await?;
        self.stream.flush().await?;
        let mut buf = Vec::new();
        let header_end = loop {
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "closed",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[header_end..].to_vec();
        while body.len() < len {
            let mut chunk = vec![0u8; len - body.len()];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).to_string(),
        })
    }

    /// POSTs an envelope.
    pub async fn call(&mut self, envelope: &str) -> Answer {
        self.post_raw(envelope.as_bytes())
            .await
            .expect("OKM request")
    }
}

/// SHA-1 of the passphrase, then `n` more SHA-1s.
pub fn secret(passphrase: &str, n: u32) -> Vec<u8> {
    let mut h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, passphrase.as_bytes())
        .as_ref()
        .to_vec();
    for _ in 0..n {
        h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &h)
            .as_ref()
            .to_vec();
    }
    h
}

/// HMAC-SHA1(secret, root CA as stored || challenge).
pub fn proof(secret: &[u8], root_ca: &[u8], challenge: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mut c = hmac::Context::with_key(&key);
    c.update(root_ca);
    c.update(challenge);
    c.sign().as_ref().to_vec()
}

/// What enrollment gives an agent.
pub struct Enrolled {
    pub root_ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Runs enrollment: CA service, then Certificate service. `Err` carries the answer
/// of whichever step refused.
pub async fn enroll(
    ca_addr: SocketAddr,
    cert_addr: SocketAddr,
    agent_id: &str,
    passphrase: &str,
) -> Result<Enrolled, Answer> {
    let mut ca = Conn::plain(ca_addr).await.expect("CA service");
    let a = ca
        .call(&envelope(
            "KMS-CA",
            NS_CA,
            "RetrieveRootCACertificate",
            &el("EntityID", agent_id),
        ))
        .await;
    if a.status != 200 {
        return Err(a);
    }
    let root = hex::decode(a.get("RootCACertificate").expect("root CA")).expect("hex");
    let n: u32 = a
        .get("AuthenticationHashIterationCount")
        .expect("iterations")
        .parse()
        .expect("number");
    assert!(
        (40_000..=400_000).contains(&n),
        "iteration count {n} out of the agents' range"
    );
    let challenge =
        hex::decode(a.get("ClientAuthenticationChallenge").expect("challenge")).expect("hex");
    assert_eq!(challenge.len(), 20);
    let root_pem = String::from_utf8(root.clone()).expect("PEM text");
    let s = secret(passphrase, n);
    let response = proof(&s, &root, &challenge);
    let server_challenge: Vec<u8> = (0..20).map(|_| rand_byte()).collect();
    let mut cert = Conn::tls(cert_addr, tls(&root_pem, None))
        .await
        .expect("Certificate service");
    let body = format!(
        "{}{}{}",
        el("EntityID", agent_id),
        el(
            "ClientAuthenticationResponse",
            &hex::encode_upper(&response)
        ),
        el(
            "ServerAuthenticationChallenge",
            &hex::encode_upper(&server_challenge)
        )
    );
    let a = cert
        .call(&envelope(
            "KMS-Certificate",
            NS_CERTIFICATE,
            "RetrieveEntityCertificate",
            &body,
        ))
        .await;
    if a.status != 200 {
        return Err(a);
    }
    let server_proof =
        hex::decode(a.get("ServerAuthenticationResponse").expect("server proof")).expect("hex");
    assert_eq!(
        server_proof,
        proof(&s, &root, &server_challenge),
        "the node did not prove it knows the passphrase"
    );
    let cert_pem =
        String::from_utf8(hex::decode(a.get("Certificate").expect("certificate")).expect("hex"))
            .expect("PEM");
    let key_pem = String::from_utf8(
        hex::decode(a.get("WrappedPrivateKeyMaterial").expect("private key")).expect("hex"),
    )
    .expect("PEM");
    Ok(Enrolled {
        root_ca_pem: root_pem,
        cert_pem,
        key_pem,
    })
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    getrandom::fill(&mut b).expect("random");
    b[0]
}

/// 32 random bytes.
pub fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random");
    b
}
