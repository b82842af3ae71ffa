//! Endpoint registration and enrollment (SPEC 4.1).
//!
//! An administrator registers an endpoint (a KMIP client, a drive agent, a database, a
//! tape library) and receives a **one-time enrollment token**. The endpoint generates
//! its own key pair, sends a certificate signing request with the token, and receives a
//! client certificate issued by the cluster CA; its private key never reaches the
//! server. From then on the endpoint authenticates with that certificate, and
//! [`KeyService::endpoint_for_certificate`] turns it into a [`Principal`].
//!
//! # Rules
//! - **Names** follow [`OBJECT_NAME_RULE`] and are case-insensitive: `Tape-Lib` and
//!   `tape-lib` are the same endpoint. The name is kept as given for display.
//! - **Tokens** are `clvE_` followed by 256 random bits (from the root of trust) in
//!   base64url. Only their SHA-256 is stored, and they are looked up by it. A token is
//!   valid for [`ENROLLMENT_TOKEN_VALIDITY_SECS`] (24 hours) and works once.
//! - **Re-enrollment**: [`KeyService::issue_enrollment_token`] is allowed while the
//!   endpoint is `registered` or `enrolled`. The new token replaces any pending one (the
//!   old token stops working). An enrolled endpoint keeps its current certificate until
//!   it enrolls again; from that moment only the new certificate is accepted. A
//!   `suspended` endpoint must be resumed first: re-enrolling must not lift a
//!   suspension.
//! - **Suspend** (from `registered` or `enrolled`) refuses the endpoint's certificate
//!   and cancels a pending token. **Resume** returns it to `enrolled` if it holds a
//!   certificate, else to `registered`.
//! - **Delete** (from any live state) leaves a tombstone in state `deleted`: the row
//!   stays, so its certificate is answered with "endpoint X is deleted", but its
//!   case-insensitive name key is cleared, so the name can be registered again (as a new
//!   endpoint with a new ID). Deleted endpoints are not found by name; list them with
//!   state `deleted`.
//! - **Enrollment** refuses a wrong, used, superseded or expired token with one error,
//!   [`ServiceError::InvalidEnrollmentToken`], and changes nothing. The CSR is checked
//!   before the token, so a malformed CSR is reported the same way whatever the token.

use super::auth::token_hash;
use super::{truncate, KeyService, Principal, PrincipalKind, ServiceError, MAX_RETRIES};
use crate::audit::Outcome;
use crate::authz::{Action, Privileges};
use crate::hlc::to_db;
use crate::keys::now_millis;
use crate::keys::{new_object_id, now_secs};
use crate::names::{is_valid_object_name, OBJECT_NAME_RULE};
use crate::rot::WrappedKey;
use crate::secret::KeyMaterial;
use crate::store::ManageGrant;
use crate::store::{EndpointFilter, EndpointRecord, EndpointState, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::PrivatePkcs8KeyDer;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::prelude::FromDer;

/// Prefix of every enrollment token, so leaked tokens are recognizable in scans.
pub const ENROLLMENT_TOKEN_PREFIX: &str = "clvE_";
/// How long an enrollment token stays valid: 24 hours.
pub const ENROLLMENT_TOKEN_VALIDITY_SECS: i64 = 24 * 3600;
/// How long an endpoint certificate is valid: 2 years.
pub const ENDPOINT_CERT_VALIDITY_DAYS: i64 = 730;
/// Largest CSR accepted, in bytes of PEM.
pub const MAX_CSR_PEM_BYTES: usize = 16 * 1024;
/// The rule for endpoint types, as shown in errors.
pub const ENDPOINT_TYPE_RULE: &str = "endpoint types are 1 to 32 bytes of lower-case letters, digits and `_`, starting with a letter (e.g. kmip, agent, database, tape_library)";
/// Key types accepted in a CSR, as shown in errors.
pub const CSR_KEY_RULE: &str = "ECDSA P-256, ECDSA P-384 or RSA 2048 to 8192 bits";

/// Length of a token: prefix and 43 base64url characters (32 bytes).
const TOKEN_LEN: usize = 5 + 43;
const MAX_LIST: i64 = 1000;

/// An endpoint as the API shows it. Never contains a token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointInfo {
    /// Endpoint ID (UUIDv7).
    pub id: String,
    /// Name as registered.
    pub name: String,
    /// Kind of endpoint.
    #[serde(rename = "type")]
    pub endpoint_type: String,
    /// Site.
    pub site: Option<String>,
    /// Wallet its uploads go to.
    pub default_wallet: Option<String>,
    /// Life-cycle state.
    pub state: EndpointState,
    /// When the pending enrollment token expires (Unix seconds); absent when no token
    /// is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token_expires_at: Option<i64>,
    /// The certificate issued at the last enrollment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<EndpointCertificate>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The certificate an endpoint holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointCertificate {
    /// SHA-256 of the certificate's DER, hex.
    pub fingerprint_sha256: String,
    /// Serial number, hex.
    pub serial: String,
    /// Expiry, Unix seconds.
    pub not_after: i64,
}

impl From<&EndpointRecord> for EndpointInfo {
    fn from(r: &EndpointRecord) -> EndpointInfo {
        EndpointInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            endpoint_type: r.endpoint_type.clone(),
            site: r.site.clone(),
            default_wallet: r.default_wallet.clone(),
            state: r.state,
            enrollment_token_expires_at: r.token_hash.as_ref().and(r.token_expires_at),
            certificate: match (&r.cert_fingerprint, &r.cert_serial, r.cert_not_after) {
                (Some(fp), Some(serial), Some(not_after)) => Some(EndpointCertificate {
                    fingerprint_sha256: hex::encode(fp),
                    serial: serial.clone(),
                    not_after,
                }),
                _ => None,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A fresh enrollment token: shown once, never stored.
pub struct EnrollmentToken {
    /// The token (`clvE_...`).
    pub token: SecretString,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

/// What a successful enrollment hands the endpoint.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The endpoint, now enrolled.
    pub endpoint: EndpointInfo,
    /// Its new client certificate, PEM.
    pub certificate_pem: String,
    /// The cluster CA certificate, PEM (to verify the nodes).
    pub ca_pem: String,
}

/// True for a valid endpoint type (see [`ENDPOINT_TYPE_RULE`]).
pub fn is_valid_endpoint_type(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.as_bytes()[0].is_ascii_lowercase()
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_endpoint_name(field: &str, name: &str) -> Result<(), ServiceError> {
    if is_valid_object_name(name) {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "{field}: {OBJECT_NAME_RULE} (got {:?})",
            truncate(name)
        )))
    }
}

/// A CSR whose signature verified, reduced to the public key it carries.
pub(crate) struct CsrKey {
    /// The whole SubjectPublicKeyInfo, DER.
    spki: Vec<u8>,
    /// The subjectPublicKey bits.
    key: Vec<u8>,
    /// The rcgen algorithm that writes the same SubjectPublicKeyInfo algorithm.
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for CsrKey {
    fn der_bytes(&self) -> &[u8] {
        &self.key
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

fn bad_csr(detail: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidArgument(format!("csr_pem: {detail}"))
}

/// Parses a PEM CSR, verifies its self-signature (proof that the requester holds the
/// private key), and checks the key type. Requested names and extensions are ignored:
/// the certificate's contents are decided here, not by the requester.
pub(crate) fn verify_csr(csr_pem: &str) -> Result<CsrKey, ServiceError> {
    if csr_pem.len() > MAX_CSR_PEM_BYTES {
        return Err(bad_csr(format!(
            "larger than {MAX_CSR_PEM_BYTES} bytes; send one PEM certificate signing request"
        )));
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes())
        .map_err(|_| bad_csr("not PEM; expected -----BEGIN CERTIFICATE REQUEST----- (PKCS#10)"))?;
    if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
        return Err(bad_csr(format!(
            "the PEM block is {:?}, expected \"CERTIFICATE REQUEST\" (PKCS#10)",
            truncate(&pem.label)
        )));
    }
    let (rest, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
            .map_err(|_| bad_csr("not a valid PKCS#10 certificate signing request"))?;
    if !rest.is_empty() {
        return Err(bad_csr(
            "trailing bytes after the certificate signing request",
        ));
    }
    let spki = &csr.certification_request_info.subject_pki;
    let unsupported = || bad_csr(format!("unsupported key type; use {CSR_KEY_RULE}"));
    let alg: &'static SignatureAlgorithm = if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
    {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .ok_or_else(unsupported)?;
        if curve == OID_EC_P256 {
            &rcgen::PKCS_ECDSA_P256_SHA256
        } else if curve == OID_NIST_EC_P384 {
            &rcgen::PKCS_ECDSA_P384_SHA384
        } else {
            return Err(unsupported());
        }
    } else if spki.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => modulus_bits(k.modulus),
            _ => return Err(unsupported()),
        };
        if !(2048..=8192).contains(&bits) {
            return Err(bad_csr(format!(
                "the RSA key has {bits} bits; use {CSR_KEY_RULE}"
            )));
        }
        &rcgen::PKCS_RSA_SHA256
    } else {
        return Err(unsupported());
    };
    // Proof of possession: the request is signed with the key it carries.
    csr.verify_signature().map_err(|_| {
        bad_csr("the signature does not verify with the request's public key (or uses an unsupported signature algorithm)")
    })?;
    Ok(CsrKey {
        spki: spki.raw.to_vec(),
        key: spki.subject_public_key.data.to_vec(),
        alg,
    })
}

fn modulus_bits(m: &[u8]) -> usize {
    let m = match m.iter().position(|&b| b != 0) {
        Some(i) => &m[i..],
        None => return 0,
    };
    m.len() * 8 - m[0].leading_zeros() as usize
}

/// A certificate issued for an endpoint.
pub(crate) struct IssuedEndpointCert {
    pub(crate) pem: String,
    pub(crate) fingerprint: Vec<u8>,
    serial_hex: String,
    not_after: i64,
}

fn cert_err(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Certificate(e.to_string())
}

/// Signs a client certificate for `name` over the CSR's public key with the cluster CA:
/// CN = the endpoint name, client-authentication EKU only, valid two years.
pub(crate) fn issue_endpoint_cert(
    ca_pem: &str,
    ca_key: &KeyMaterial,
    name: &str,
    key: &CsrKey,
    serial: &[u8],
) -> Result<IssuedEndpointCert, ServiceError> {
    let ca_key = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(ca_key.expose_secret()),
        &PKCS_ECDSA_P256_SHA256,
    )
    .map_err(cert_err)?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key).map_err(cert_err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Clavis");
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(ENDPOINT_CERT_VALIDITY_DAYS);
    let cert = params.signed_by(key, &issuer).map_err(cert_err)?;
    // The certificate must carry exactly the key the endpoint proved it holds.
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.der())
        .map_err(|e| cert_err(format!("cannot parse the issued certificate: {e}")))?;
    if parsed.tbs_certificate.subject_pki.raw != key.spki.as_slice() {
        return Err(cert_err(
            "the issued certificate's public key differs from the request's",
        ));
    }
    Ok(IssuedEndpointCert {
        pem: cert.pem(),
        fingerprint: Sha256::digest(cert.der().as_ref()).to_vec(),
        serial_hex: hex::encode(serial),
        not_after: params.not_after.unix_timestamp(),
    })
}

impl KeyService {
    /// A new enrollment token (32 random bytes from the root of trust) and its hash.
    fn new_enrollment_token(&self) -> Result<(EnrollmentToken, Vec<u8>), ServiceError> {
        let random = self.rot.random(32)?;
        let token = zeroize::Zeroizing::new(format!(
            "{ENROLLMENT_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random.expose_secret())
        ));
        let hash = token_hash(&token);
        Ok((
            EnrollmentToken {
                token: SecretString::from(token.as_str().to_owned()),
                expires_at: now_secs() + ENROLLMENT_TOKEN_VALIDITY_SECS,
            },
            hash,
        ))
    }

    /// Registers an endpoint and returns it with its first enrollment token (shown
    /// once; valid 24 hours).
    pub async fn register_endpoint(
        &self,
        who: &Principal,
        name: &str,
        endpoint_type: &str,
        site: Option<&str>,
        default_wallet: Option<&str>,
    ) -> Result<(EndpointInfo, EnrollmentToken), ServiceError> {
        check_endpoint_name("name", name)?;
        if !is_valid_endpoint_type(endpoint_type) {
            return Err(ServiceError::InvalidArgument(format!(
                "type: {ENDPOINT_TYPE_RULE} (got {:?})",
                truncate(endpoint_type)
            )));
        }
        if let Some(s) = site {
            check_endpoint_name("site", s)?;
        }
        let subject = self.subject(who).await?;
        self.decide(who, &subject, &Action::CreateEndpoint, Some(name))
            .await?;
        let default_wallet = match default_wallet {
            Some(w) => {
                check_endpoint_name("default_wallet", w)?;
                let wallet = self.wallet_for(who, w).await?;
                self.decide(
                    who,
                    &subject,
                    &Action::ManageWallet {
                        wallet_id: &wallet.id,
                    },
                    Some(w),
                )
                .await?;
                Some(wallet.id)
            }
            None => None,
        };
        if self.store.endpoint_by_name(name).await?.is_some() {
            return Err(ServiceError::EndpointExists(name.to_owned()));
        }
        let (token, hash) = self.new_enrollment_token()?;
        let now = now_secs();
        let rec = EndpointRecord {
            id: new_object_id(),
            name: name.to_owned(),
            name_key: Some(name.to_ascii_lowercase()),
            endpoint_type: endpoint_type.to_owned(),
            site: site.map(str::to_owned),
            default_wallet,
            state: EndpointState::Registered,
            token_hash: Some(hash),
            token_expires_at: Some(token.expires_at),
            cert_fingerprint: None,
            cert_serial: None,
            cert_not_after: None,
            created_at: now,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        };
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        match tx.insert_endpoint(&rec).await {
            Ok(_) => {}
            // Another registration of the same name won the race.
            Err(e) if e.is_unique_violation() => {
                return Err(ServiceError::EndpointExists(name.to_owned()))
            }
            Err(e) => return Err(e.into()),
        }
        // A creator holding Create Endpoint manages what they create (SPEC 5.3); an
        // administrator without the privilege manages it through the role.
        if let (Some(uid), true) = (
            subject.user_id(),
            subject.privileges.contains(Privileges::CREATE_ENDPOINT),
        ) {
            tx.put_manage_grant(
                &ManageGrant {
                    target_kind: "endpoint".into(),
                    target_id: rec.id.clone(),
                    user_id: uid.to_owned(),
                    granted_by: None,
                    created_at: now,
                },
                rec.hlc,
            )
            .await?;
        }
        let ev = self.event(
            who,
            "endpoint.register",
            Some(&rec.name),
            Outcome::Success,
            Some(format!("type {}", rec.endpoint_type)),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        self.authz_changed();
        Ok(((&rec).into(), token))
    }

    /// Issues a new enrollment token for a `registered` or `enrolled` endpoint; any
    /// pending token stops working. An enrolled endpoint keeps its certificate until it
    /// enrolls again.
    pub async fn issue_enrollment_token(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(EndpointInfo, EnrollmentToken), ServiceError> {
        let (token, hash) = self.new_enrollment_token()?;
        let expires_at = token.expires_at;
        let rec = self
            .modify_endpoint(who, "endpoint.issue_token", name, |rec| match rec.state {
                EndpointState::Registered | EndpointState::Enrolled => {
                    rec.token_hash = Some(hash.clone());
                    rec.token_expires_at = Some(expires_at);
                    Ok(())
                }
                state => Err(ServiceError::EndpointState {
                    name: rec.name.clone(),
                    state,
                    op: "issue an enrollment token for",
                }),
            })
            .await?;
        Ok(((&rec).into(), token))
    }

    /// Suspends a `registered` or `enrolled` endpoint: its certificate is refused and a
    /// pending enrollment token is cancelled.
    pub async fn suspend_endpoint(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<EndpointInfo, ServiceError> {
        let rec = self
            .modify_endpoint(who, "endpoint.suspend", name, |rec| match rec.state {
                EndpointState::Registered | EndpointState::Enrolled => {
                    rec.state = EndpointState::Suspended;
                    rec.token_hash = None;
                    rec.token_expires_at = None;
                    Ok(())
                }
                state => Err(ServiceError::EndpointState {
                    name: rec.name.clone(),
                    state,
                    op: "suspend",
                }),
            })
            .await?;
        Ok((&rec).into())
    }

    /// Resumes a suspended endpoint: back to `enrolled` if it holds a certificate,
    /// else to `registered`.
    pub async fn resume_endpoint(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<EndpointInfo, ServiceError> {
        let rec = self
            .modify_endpoint(who, "endpoint.resume", name, |rec| match rec.state {
                EndpointState::Suspended => {
                    rec.state = if rec.cert_fingerprint.is_some() {
                        EndpointState::Enrolled
                    } else {
                        EndpointState::Registered
                    };
                    Ok(())
                }
                state => Err(ServiceError::EndpointState {
                    name: rec.name.clone(),
                    state,
                    op: "resume",
                }),
            })
            .await?;
        Ok((&rec).into())
    }

    /// Deletes an endpoint: it becomes a tombstone in state `deleted`, refused for good,
    /// and its name is free for a new registration.
    pub async fn delete_endpoint(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<EndpointInfo, ServiceError> {
        let rec = self
            .modify_endpoint(who, "endpoint.delete", name, |rec| {
                rec.state = EndpointState::Deleted;
                rec.name_key = None;
                rec.token_hash = None;
                rec.token_expires_at = None;
                Ok(())
            })
            .await?;
        Ok((&rec).into())
    }

    /// Sets (or clears) an endpoint's default wallet: needs Manage Endpoint on it and
    /// full (Manage Wallet) access to the wallet.
    pub async fn set_default_wallet(
        &self,
        who: &Principal,
        name: &str,
        wallet: Option<&str>,
    ) -> Result<EndpointInfo, ServiceError> {
        let wallet_id = match wallet {
            Some(w) => {
                let ep = self.load_endpoint(name).await?;
                let wallet = self.wallet_for(who, w).await?;
                self.authorize(
                    who,
                    &Action::SetDefaultWallet {
                        endpoint_id: &ep.id,
                        wallet_id: &wallet.id,
                    },
                )
                .await?;
                Some(wallet.id)
            }
            None => None,
        };
        let rec = self
            .modify_endpoint(who, "endpoint.set_default_wallet", name, |rec| {
                rec.default_wallet = wallet_id.clone();
                Ok(())
            })
            .await?;
        Ok((&rec).into())
    }

    /// The live endpoint named `name` (case-insensitive).
    pub async fn get_endpoint(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<EndpointInfo, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        Ok((&self.load_endpoint(name).await?).into())
    }

    /// Endpoints matching `filter`, in registration order (at most 1,000 per call);
    /// without a state filter, every endpoint but the deleted ones.
    pub async fn list_endpoints(
        &self,
        who: &Principal,
        mut filter: EndpointFilter,
    ) -> Result<Vec<EndpointInfo>, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        match filter.limit {
            Some(l) if !(1..=MAX_LIST).contains(&l) => {
                return Err(ServiceError::InvalidArgument(format!(
                    "limit: must be 1 to {MAX_LIST}"
                )))
            }
            None => filter.limit = Some(100),
            _ => {}
        }
        if filter.offset.is_some_and(|o| o < 0) {
            return Err(ServiceError::InvalidArgument(
                "offset: must not be negative".into(),
            ));
        }
        Ok(self
            .store
            .list_endpoints(&filter)
            .await?
            .iter()
            .map(EndpointInfo::from)
            .collect())
    }

    /// Enrolls an endpoint: the token is the credential. Verifies the CSR, then, in one
    /// transaction, consumes the token, records the new certificate and marks the
    /// endpoint `enrolled`. Returns the certificate (CN = endpoint name, client
    /// authentication only, valid two years, the CSR's public key) and the cluster CA.
    ///
    /// A wrong, used, superseded or expired token fails with
    /// [`ServiceError::InvalidEnrollmentToken`] and changes nothing.
    pub async fn enroll(
        &self,
        token: &SecretString,
        csr_pem: &str,
        source: Option<String>,
    ) -> Result<Enrollment, ServiceError> {
        let src = source.as_deref().unwrap_or("-");
        let csr = verify_csr(csr_pem)?;
        let token = token.expose_secret();
        if !token.starts_with(ENROLLMENT_TOKEN_PREFIX) || token.len() != TOKEN_LEN {
            tracing::warn!(action = "enroll", source = %src, "rejected enrollment token");
            return Err(ServiceError::InvalidEnrollmentToken);
        }
        let hash = token_hash(token);
        let ca = self
            .store
            .credential(crate::node::CA_CREDENTIAL_ID)
            .await?
            .ok_or_else(|| cert_err("the cluster CA is missing from the database"))?;
        for _ in 0..MAX_RETRIES {
            let now = now_secs();
            let found = self.store.endpoint_by_token_hash(&hash).await?;
            let mut rec = match found {
                Some(r)
                    if r.token_expires_at.is_some_and(|t| now < t)
                        && matches!(
                            r.state,
                            EndpointState::Registered | EndpointState::Enrolled
                        ) =>
                {
                    r
                }
                _ => {
                    tracing::warn!(action = "enroll", source = %src, "rejected enrollment token");
                    return Err(ServiceError::InvalidEnrollmentToken);
                }
            };
            let mut serial = self.rot.random(16)?.expose_secret().to_vec();
            serial[0] = (serial[0] & 0x7f) | 0x40;
            let ca_key = self.rot.unwrap(
                &WrappedKey::from_bytes(&ca.wrapped_key)?,
                crate::node::CA_CREDENTIAL_ID,
            )?;
            let cert = issue_endpoint_cert(&ca.cert_pem, &ca_key, &rec.name, &csr, &serial)?;
            drop(ca_key);
            let expected = rec.hlc;
            rec.state = EndpointState::Enrolled;
            rec.token_hash = None;
            rec.token_expires_at = None;
            rec.cert_fingerprint = Some(cert.fingerprint.clone());
            rec.cert_serial = Some(cert.serial_hex.clone());
            rec.cert_not_after = Some(cert.not_after);
            rec.updated_at = now;
            rec.hlc = to_db(self.hlc.after(expected));
            rec.origin_node = self.node.node_id.clone();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            match tx.update_endpoint(&rec, expected).await {
                Ok(_) => {
                    let as_endpoint = Principal {
                        name: rec.name.clone(),
                        source: source.clone(),
                        kind: PrincipalKind::Endpoint(rec.id.clone()),
                    };
                    let ev = self.event(
                        &as_endpoint,
                        "endpoint.enroll",
                        Some(&rec.name),
                        Outcome::Success,
                        Some(format!("certificate serial {}", cert.serial_hex)),
                    );
                    tx.append_audit(&ev, now_millis()).await?;
                    tx.commit().await?
                }
                // The row changed since we read it (the token may have been used or
                // replaced meanwhile): look again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            tracing::info!(principal = %rec.name, action = "enroll", endpoint = %rec.name, endpoint_id = %rec.id, source = %src, serial = %cert.serial_hex, fingerprint = %hex::encode(&cert.fingerprint), "endpoint enrolled");
            return Ok(Enrollment {
                endpoint: (&rec).into(),
                certificate_pem: cert.pem,
                ca_pem: ca.cert_pem,
            });
        }
        Err(ServiceError::Contended("enrollment".into()))
    }

    /// The principal of an endpoint presenting `cert_der` (the leaf certificate of a
    /// TLS client whose chain the TLS layer has verified against the cluster CA).
    ///
    /// Accepted only for an `enrolled` endpoint whose current certificate has this
    /// DER's SHA-256; a suspended or deleted endpoint gets
    /// [`ServiceError::EndpointSuspended`] / [`ServiceError::EndpointDeleted`], any other
    /// certificate (unknown, superseded by re-enrollment, expired)
    /// [`ServiceError::UnknownCertificate`].
    pub async fn endpoint_for_certificate(
        &self,
        cert_der: &[u8],
        source: Option<String>,
    ) -> Result<Principal, ServiceError> {
        let src = source.as_deref().unwrap_or("-");
        let fingerprint = Sha256::digest(cert_der).to_vec();
        let Some(rec) = self.store.endpoint_by_fingerprint(&fingerprint).await? else {
            tracing::info!(action = "endpoint_auth", source = %src, fingerprint = %hex::encode(&fingerprint), outcome = "refused", "unknown client certificate");
            return Err(ServiceError::UnknownCertificate);
        };
        let refused = match rec.state {
            EndpointState::Enrolled if rec.cert_not_after.is_some_and(|t| now_secs() <= t) => None,
            EndpointState::Suspended => Some(ServiceError::EndpointSuspended(rec.name.clone())),
            EndpointState::Deleted => Some(ServiceError::EndpointDeleted(rec.name.clone())),
            EndpointState::Enrolled | EndpointState::Registered => {
                Some(ServiceError::UnknownCertificate)
            }
        };
        if let Some(e) = refused {
            let as_endpoint = Principal {
                name: rec.name.clone(),
                source: source.clone(),
                kind: PrincipalKind::Endpoint(rec.id.clone()),
            };
            self.record(
                &as_endpoint,
                "endpoint.authenticate",
                Some(&rec.name),
                Outcome::Denied,
                Some(e.to_string()),
            )
            .await;
            tracing::info!(action = "endpoint_auth", endpoint = %rec.name, endpoint_id = %rec.id, source = %src, state = %rec.state, outcome = "refused", "endpoint refused");
            return Err(e);
        }
        tracing::info!(principal = %rec.name, action = "endpoint_auth", endpoint = %rec.name, endpoint_id = %rec.id, source = %src, outcome = "accepted", "endpoint authenticated");
        Ok(Principal {
            name: rec.name,
            source,
            kind: PrincipalKind::Endpoint(rec.id),
        })
    }

    async fn load_endpoint(&self, name: &str) -> Result<EndpointRecord, ServiceError> {
        check_endpoint_name("name", name)?;
        self.store
            .endpoint_by_name(name)
            .await?
            .ok_or_else(|| ServiceError::EndpointNotFound(name.to_owned()))
    }

    /// Reads the live endpoint `name`, applies `change`, and writes it back if nobody
    /// changed it meanwhile (else retries).
    async fn modify_endpoint(
        &self,
        who: &Principal,
        action: &str,
        name: &str,
        change: impl Fn(&mut EndpointRecord) -> Result<(), ServiceError>,
    ) -> Result<EndpointRecord, ServiceError> {
        let r = self.modify_endpoint_inner(who, action, name, change).await;
        self.audit_failure(who, action, Some(name), r).await
    }

    async fn modify_endpoint_inner(
        &self,
        who: &Principal,
        action: &str,
        name: &str,
        change: impl Fn(&mut EndpointRecord) -> Result<(), ServiceError>,
    ) -> Result<EndpointRecord, ServiceError> {
        for attempt in 0..MAX_RETRIES {
            let mut rec = self.load_endpoint(name).await?;
            if attempt == 0 {
                self.authorize(
                    who,
                    &Action::ManageEndpoint {
                        endpoint_id: &rec.id,
                    },
                )
                .await?;
            }
            let expected = rec.hlc;
            change(&mut rec)?;
            rec.updated_at = now_secs();
            rec.hlc = to_db(self.hlc.after(expected));
            rec.origin_node = self.node.node_id.clone();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            match tx.update_endpoint(&rec, expected).await {
                Ok(_) => {
                    if rec.state == EndpointState::Deleted {
                        tx.forget_principal(&rec.id, rec.updated_at, rec.hlc)
                            .await?;
                    }
                    let ev = self.event(who, action, Some(&rec.name), Outcome::Success, None);
                    tx.append_audit(&ev, now_millis()).await?;
                    tx.commit().await?;
                    self.authz_changed();
                    return Ok(rec);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(name.to_owned()))
    }
}
