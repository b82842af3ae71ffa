//! The cluster CA, certificate issuance, and rustls configurations.
//!
//! The CA's private key is generated in process memory, immediately wrapped under the
//! master key and stored; it is unwrapped only to issue a certificate. Every TLS
//! configuration uses the ring provider explicitly (see STACK.md: no aws-lc-rs).

use crate::secret::KeyMaterial;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// TLS and certificate failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A PEM or DER input could not be parsed.
    #[error("cannot parse {what}: {detail}")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
}

/// A certificate and its private key (PKCS#8 DER), fresh from issuance.
pub struct IssuedCert {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PKCS#8 DER.
    pub key_pkcs8: KeyMaterial,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// A node: serves TLS and connects to peers.
    Node,
    /// A client (admin, endpoint, agent).
    Client,
}

fn ca_validity(params: &mut CertificateParams, years: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365 * years);
}

/// Creates a new self-signed cluster CA (ECDSA P-256, 20 years).
pub fn new_cluster_ca(cluster_name: &str) -> Result<IssuedCert, TlsError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Clavis");
    dn.push(
        DnType::CommonName,
        format!("Clavis cluster CA {cluster_name}"),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_validity(&mut params, 20);
    let cert = params.self_signed(&key)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pkcs8: KeyMaterial::new(key.serialize_der()),
    })
}

/// Issues a leaf certificate signed by the CA, valid 2 years.
///
/// `names` become subject alternative names (IP addresses as IP SANs); the first is
/// also the common name.
pub fn issue(
    ca_cert_pem: &str,
    ca_key: &KeyMaterial,
    names: &[String],
    role: CertRole,
) -> Result<IssuedCert, TlsError> {
    let ca_key = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(ca_key.expose_secret()),
        &PKCS_ECDSA_P256_SHA256,
    )?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    for n in names {
        let san = match n.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(n.clone().try_into()?),
        };
        params.subject_alt_names.push(san);
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Clavis");
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = match role {
        CertRole::Node => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        CertRole::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
    };
    params.use_authority_key_identifier_extension = true;
    ca_validity(&mut params, 2);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pkcs8: KeyMaterial::new(key.serialize_der()),
    })
}

/// Parses every certificate in a PEM bundle.
pub fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    let certs = certs.map_err(|e| TlsError::Parse {
        what: "certificate PEM",
        detail: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::Parse {
            what: "certificate PEM",
            detail: "no certificate found".into(),
        });
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_pem: &str) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in parse_certs(ca_pem)? {
        roots.add(c)?;
    }
    Ok(roots)
}

fn private_key(key: &KeyMaterial) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.expose_secret().to_vec()))
}

/// Client-certificate policy of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A certificate issued by the cluster CA is required.
    Required,
    /// A certificate is optional, but one that is presented must be valid.
    Optional,
}

/// A TLS 1.3 server configuration with the node's certificate, verifying client
/// certificates against the cluster CA. For the REST API.
pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key: &KeyMaterial,
    client_auth: ClientAuth,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut cfg = server_config_versions(
        ca_pem,
        cert_pem,
        key,
        client_auth,
        &[&rustls::version::TLS13],
    )?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A server configuration offering `versions` (KMIP clients still use TLS 1.2).
pub fn server_config_versions(
    ca_pem: &str,
    cert_pem: &str,
    key: &KeyMaterial,
    client_auth: ClientAuth,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = provider();
    let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(ca_pem)?),
        provider.clone(),
    );
    let builder = match client_auth {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    let verifier = builder.build().map_err(|e| TlsError::Parse {
        what: "client verifier",
        detail: e.to_string(),
    })?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(parse_certs(cert_pem)?, private_key(key))?;
    Ok(cfg)
}

/// A TLS 1.3 client configuration trusting only the cluster CA, with an optional
/// client certificate.
pub fn client_config(
    ca_pem: &str,
    client: Option<(&str, &KeyMaterial)>,
) -> Result<rustls::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca_pem)?);
    let mut cfg = match client {
        Some((cert_pem, key)) => {
            builder.with_client_auth_cert(parse_certs(cert_pem)?, private_key(key))?
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Parses a PKCS#8 private key from PEM.
pub fn parse_private_key_pem(pem: &str) -> Result<KeyMaterial, TlsError> {
    let key = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Parse {
        what: "private key PEM (PKCS#8)",
        detail: e.to_string(),
    })?;
    Ok(KeyMaterial::from_slice(key.secret_pkcs8_der()))
}

/// Accepts TCP connections on `listener` until `shutdown` resolves, handing each (with
/// Nagle off) to `on_conn` on a task of its own. Accept errors (e.g. out of file
/// descriptors) are logged and retried after a pause instead of ending the listener.
pub async fn accept_loop<F, Fut>(
    listener: tokio::net::TcpListener,
    what: &'static str,
    shutdown: impl std::future::Future<Output = ()>,
    on_conn: F,
) where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(listener = what, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(on_conn(tcp, peer));
    }
}
