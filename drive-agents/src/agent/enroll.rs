//! Enrollment (SPEC 4.1): the agent makes its own key pair, sends a CSR with the
//! one-time token to a seed node over TLS without a client certificate, and keeps the
//! certificate the cluster CA issues. The private key never leaves the agent.

use clavis::agent::wire::{ErrorCode, Request, Response};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

use super::client::{
    anonymous_tls_config, server_name_for, AttemptError, ClientError, Conn, Identity, CA_FILE,
    CERT_FILE, KEY_FILE,
};
use super::cluster::{write_atomic, NodeFailure};

/// Enrollment failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// The key pair or CSR could not be made.
    #[error("cannot make the key pair and certificate request: {0}")]
    Csr(String),
    /// TLS or address setup.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A node refused the enrollment.
    #[error("node {node} refused the enrollment ({code:?}): {message}")]
    Refused {
        /// The node's address.
        node: String,
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// No seed node could be reached.
    #[error("no node could be reached: {}", .failures.iter().map(|f| format!("{}: {}", f.node, f.reason)).collect::<Vec<_>>().join("; "))]
    Unreachable {
        /// Each node tried and why it failed.
        failures: Vec<NodeFailure>,
    },
    /// The node's answer was not an enrollment.
    #[error("node {node} answered something other than an enrollment: {detail}")]
    Unexpected {
        /// The node's address.
        node: String,
        /// What came back.
        detail: String,
    },
    /// Writing the state directory failed.
    #[error("cannot write {path}: {error}")]
    State {
        /// The path.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// The result of enrolling.
pub struct Enrolled {
    /// The endpoint name the cluster knows this agent by.
    pub endpoint: String,
    /// The new certificate and key, and the cluster CA.
    pub identity: Identity,
}

/// A fresh ECDSA P-256 key pair (PKCS#8 PEM) and a CSR for it.
pub fn new_key_and_csr(common_name: &str) -> Result<(Zeroizing<String>, String), EnrollError> {
    let csr_err = |e: rcgen::Error| EnrollError::Csr(e.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(csr_err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(csr_err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(csr_err)?;
    Ok((Zeroizing::new(key.serialize_pem()), csr))
}

/// Enrolls with the first seed that answers. `ca_pem` is the cluster CA the seed's
/// certificate must chain to: the token goes only to a node that proves it is one.
pub async fn enroll(
    seeds: &[String],
    server_name: Option<&str>,
    ca_pem: &str,
    token: &Zeroizing<String>,
    timeout: Duration,
) -> Result<Enrolled, EnrollError> {
    let (key_pem, csr_pem) = new_key_and_csr("clavis-agent")?;
    let tls = anonymous_tls_config(ca_pem)?;
    let req = Request::Enroll {
        token: token.clone(),
        csr_pem,
    };
    let mut failures = Vec::new();
    for addr in seeds {
        let name = server_name_for(addr, server_name)?;
        let attempt = async {
            let mut conn = Conn::connect(tls.clone(), addr, name).await?;
            conn.call(1, &req).await
        };
        let out = match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(AttemptError::Timeout),
        };
        match out.map(|ex| ex.response) {
            Ok(Response::Enrolled {
                cert_pem,
                ca_pem,
                endpoint,
            }) => {
                return Ok(Enrolled {
                    endpoint,
                    identity: Identity::new(cert_pem, key_pem, ca_pem),
                })
            }
            Ok(Response::Error { code, message }) if code.try_elsewhere() => {
                failures.push(NodeFailure {
                    node: addr.clone(),
                    code: Some(code),
                    reason: message,
                });
            }
            Ok(Response::Error { code, message }) => {
                return Err(EnrollError::Refused {
                    node: addr.clone(),
                    code,
                    message,
                })
            }
            Ok(other) => {
                return Err(EnrollError::Unexpected {
                    node: addr.clone(),
                    detail: format!("{other:?}"),
                })
            }
            Err(e) => failures.push(NodeFailure {
                node: addr.clone(),
                code: None,
                reason: e.to_string(),
            }),
        }
    }
    Err(EnrollError::Unreachable { failures })
}

/// Stores the identity in `state_dir` (created 0700): `key.pem` 0600, `cert.pem` and
/// `ca.pem` 0644. Each file is replaced atomically, so a re-enrollment that fails half
/// way leaves whole files.
pub fn save_identity(state_dir: &Path, identity: &Identity) -> Result<(), EnrollError> {
    use std::os::unix::fs::DirBuilderExt;
    let state = |path: &Path, error| EnrollError::State {
        path: path.display().to_string(),
        error,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|e| state(state_dir, e))?;
    for (name, data, mode) in [
        (KEY_FILE, identity.expose_key_pem(), 0o600),
        (CERT_FILE, identity.cert_pem(), 0o644),
        (CA_FILE, identity.ca_pem(), 0o644),
    ] {
        let path = state_dir.join(name);
        write_atomic(&path, data.as_bytes(), mode).map_err(|e| state(&path, e))?;
    }
    Ok(())
}
