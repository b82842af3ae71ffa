//! Oracle Key Manager's agent protocol, so StorageTek T10000 drives and LTO drives
//! with Ethernet agent cards can use a Clavis cluster without a firmware change.
//!
//! The protocol is SOAP over HTTP, one listener per service, as the agents' library
//! (`libkmsagent`, published with OpenSolaris, now in illumos) expects them; the
//! facts this module relies on, with the source file each comes from, are in
//! `docs/okm.md`. Services and their customary ports:
//!
//! | service | port | transport | what it does here |
//! |---|---|---|---|
//! | CA | 3331 | plain HTTP | root CA certificate, hash iteration count, challenge |
//! | Certificate | 3332 | TLS, server authenticated | enrollment: proofs both ways, agent certificate and key |
//! | Agent | 3334 | mutual TLS | key groups, data units, keys, audit, key-wrapping keys |
//! | Discovery | 3335 | mutual TLS | the cluster's nodes |
//!
//! (The Management service, 3333, is the appliance's administration interface; Clavis
//! is administered through its own REST API and CLI instead.)
//!
//! Layout: [`soap`] reads and writes envelopes with hard limits; [`http`] runs the
//! listeners; `enroll` is the CA and Certificate services; `agent` the Agent and
//! Discovery services; `crypto` the protocol's own cryptography. Every call goes
//! through the service layer ([`crate::service::okm`]), which authorizes and audits.

mod agent;
mod crypto;
mod enroll;
pub mod http;
pub mod soap;

pub use crypto::{authentication_secret, challenge_response, kwk_unwrap, kwk_wrap, openssl_pem};

use crate::service::KeyService;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Agent service namespace.
pub const NS_AGENT: &str = "http://www.sun.com/KMS/KMS-Agent";
/// CA service namespace.
pub const NS_CA: &str = "http://www.sun.com/KMS/KMS-CA";
/// Certificate service namespace.
pub const NS_CERTIFICATE: &str = "http://www.sun.com/KMS/KMS-Certificate";
/// Discovery service namespace.
pub const NS_DISCOVERY: &str = "http://www.sun.com/KMS/KMS-Discovery";

/// Fewest and most hash iterations an agent accepts (`ApplianceParameters.h`,
/// `MIN_/MAX_AUTHENTICATION_ITERATION_COUNT`).
pub const MIN_ITERATIONS: u32 = 40_000;
/// See [`MIN_ITERATIONS`].
pub const MAX_ITERATIONS: u32 = 400_000;
/// Length of challenges, responses and the authentication secret (SHA-1, 20 bytes).
pub const AUTH_LEN: usize = 20;
/// Failed enrollments per agent before it is refused for [`LOCKOUT`]
/// (`DEFAULT_MAX_FAILED_RETRIEVE_CERTIFICATE_ATTEMPTS` is 5).
pub const MAX_FAILED_ENROLLMENTS: u32 = 5;
/// How long an agent is refused after too many failed enrollments.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// How long a challenge from the CA service stays valid.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// The version reported in discovery. Agents compare it with `strcmp` against
/// "Build384" (`KMSClientProfileImpl.h`, `FIPS_COMPATIBLE_KMA_VERSION`) to decide
/// whether the node wraps keys with AES key wrap; this one compares greater.
pub const KMA_VERSION: &str = "Build900-Clavis";

/// The 14 bytes in front of a Clavis object ID's 16 in an OKM key ID (30 bytes,
/// `KMS_KEY_ID_SIZE`), so a key ID read back from a tape names the object directly.
pub const KEY_ID_PREFIX: &[u8; 14] = b"clavis-okm-v1:";

/// Fault codes (`ClientSoapFaultCodes.h`): the agent reads the number at the start
/// of the fault string and maps it to its status (`KMSAgent.cpp`,
/// `KMSAgent_GetLastStatusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum FaultCode {
    /// `KMS_AGENT_STATUS_ACCESS_DENIED` on the agent: unknown, disabled or
    /// unauthorized agent, unknown data unit, another group's data unit.
    AccessDenied = 1000,
    /// Try again (the agent retries the same node within its timeout).
    ServerBusy = 1001,
    /// Authentication failed.
    AuthenticationFailed = 1002,
    /// A parameter is missing or malformed.
    InvalidParameters = 1008,
    /// The key is unknown or may not be used.
    KeyDoesNotExist = 1009,
    /// The key is destroyed.
    KeyDestroyed = 1010,
    /// A data unit with this external unique ID exists.
    DuplicateExternalId = 1015,
    /// Enrollment refused: wrong, used or expired passphrase, or unknown agent.
    InvalidPassphrase = 1019,
    /// No ready keys: the agent fails over to another node.
    NoReadyKeys = 1021,
    /// Not supported by this key manager.
    NotSupported = 1134,
    /// The key-wrapping key named is not registered (the agent registers a new one).
    KwkNotRegistered = 1135,
}

impl FaultCode {
    /// The fault string: the code, then words.
    pub fn faultstring(self) -> String {
        let words = match self {
            FaultCode::AccessDenied => "Access Denied",
            FaultCode::ServerBusy => "Server Busy",
            FaultCode::AuthenticationFailed => "Authentication Failed",
            FaultCode::InvalidParameters => "Invalid Parameters",
            FaultCode::KeyDoesNotExist => "Key Does Not Exist",
            FaultCode::KeyDestroyed => "Key Destroyed",
            FaultCode::DuplicateExternalId => "Duplicate External Unique ID",
            FaultCode::InvalidPassphrase => "Invalid Passphrase",
            FaultCode::NoReadyKeys => "No Ready Keys",
            FaultCode::NotSupported => "Not Supported",
            FaultCode::KwkNotRegistered => "Agent KWK Not Registered",
        };
        format!("{} {words}", self as u16)
    }
}

/// An answer that is a SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The agent's request was refused (`SOAP-ENV:Client`).
    Client(FaultCode),
    /// The node failed (`SOAP-ENV:Server`, "Server Error": the agent fails over).
    Server,
}

impl Fault {
    /// The envelope.
    pub fn envelope(&self) -> String {
        match self {
            Fault::Client(c) => soap::fault(true, &c.faultstring()),
            Fault::Server => soap::fault(false, "Server Error"),
        }
    }
}

/// Settings of the OKM listeners.
#[derive(Debug, Clone)]
pub struct OkmSettings {
    /// CA service (plain HTTP).
    pub ca: SocketAddr,
    /// Certificate service (TLS).
    pub certificate: SocketAddr,
    /// Agent service (mutual TLS).
    pub agent: SocketAddr,
    /// Discovery service (mutual TLS).
    pub discovery: SocketAddr,
    /// Host (name or address) agents are told to reach this node at.
    pub advertise_host: Option<String>,
    /// Hash iterations agents are asked for.
    pub iterations: u32,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Idle timeout per connection.
    pub idle: Duration,
}

/// A client challenge and when it was issued.
type Challenge = (Zeroizing<[u8; AUTH_LEN]>, Instant);
/// (endpoint ID, KWK ID).
type KwkSlot = (String, String);
/// A registered key-wrapping key.
type Kwk = Zeroizing<[u8; 32]>;

/// State shared by the four services of one node.
pub struct OkmState {
    pub(crate) svc: Arc<KeyService>,
    pub(crate) settings: OkmSettings,
    /// The cluster CA certificate as the agent stores it (PEM, OpenSSL layout): the
    /// HMACs of enrollment cover these exact bytes.
    pub(crate) ca_pem: String,
    /// Outstanding client challenges by agent ID.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Failed enrollments by agent ID.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// The node's RSA key for key-wrapping-key transport, made on first use.
    kwk_key: tokio::sync::OnceCell<Arc<rsa::RsaPrivateKey>>,
    /// Registered key-wrapping keys: (endpoint ID, KWK ID) → key. They live as long
    /// as this process, like the agent's (`KMSAgentLoadBalancer.h`: "These values do
    /// not persist beyond a profile session"); after a restart an agent is told
    /// [`FaultCode::KwkNotRegistered`] and registers a new one.
    kwks: Mutex<HashMap<KwkSlot, Kwk>>,
}

impl OkmState {
    /// State for `svc`, with the cluster CA certificate (PEM).
    pub fn new(
        svc: Arc<KeyService>,
        settings: OkmSettings,
        ca_pem: &str,
    ) -> Result<OkmState, String> {
        let ca_pem = openssl_pem(ca_pem)?;
        Ok(OkmState {
            svc,
            settings,
            ca_pem,
            challenges: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            kwk_key: tokio::sync::OnceCell::new(),
            kwks: Mutex::new(HashMap::new()),
        })
    }
}

/// The OKM key ID (60 hex digits) of a Clavis object ID.
pub fn key_id_hex(object_id: &str) -> Option<String> {
    let u = uuid::Uuid::parse_str(object_id).ok()?;
    let mut b = Vec::with_capacity(30);
    b.extend_from_slice(KEY_ID_PREFIX);
    b.extend_from_slice(u.as_bytes());
    Some(hex::encode_upper(b))
}

/// The Clavis object ID in an OKM key ID.
pub fn object_id_of(key_id_hex: &str) -> Option<String> {
    let b = hex::decode(key_id_hex.trim()).ok()?;
    if b.len() != 30 || &b[..14] != KEY_ID_PREFIX {
        return None;
    }
    let u = uuid::Uuid::from_slice(&b[14..]).ok()?;
    Some(u.hyphenated().to_string())
}

/// The OKM data unit ID (32 hex digits) of a Clavis data unit ID.
pub fn data_unit_id_hex(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| hex::encode_upper(u.as_bytes()))
}

/// The Clavis data unit ID of an OKM data unit ID.
pub fn data_unit_id_of(hex_id: &str) -> Option<String> {
    let b = hex::decode(hex_id.trim()).ok()?;
    uuid::Uuid::from_slice(&b)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The Clavis form of an OKM external unique ID (hexBinary of up to 32 bytes,
/// `KMS_MAX_EXTERNAL_UNIQUE_ID_SIZE`): the bytes as text when they are printable
/// ASCII (a cartridge serial number, as the native drive agents send it), else
/// `0x` and lower-case hex.
pub fn external_unique_id_of(hex_uid: &str) -> Option<String> {
    let b = hex::decode(hex_uid.trim()).ok()?;
    if b.is_empty() || b.len() > 32 {
        return None;
    }
    if b.iter().all(|c| (0x21..0x7f).contains(c)) && !b.starts_with(b"0x") {
        String::from_utf8(b).ok()
    } else {
        Some(format!("0x{}", hex::encode(b)))
    }
}

/// The OKM form (hex) of a Clavis external unique ID.
pub fn external_unique_id_hex(uid: &str) -> String {
    match uid.strip_prefix("0x") {
        Some(h) if hex::decode(h).is_ok() => h.to_ascii_uppercase(),
        _ => hex::encode_upper(uid.as_bytes()),
    }
}

/// A stable 63-bit appliance ID for a node ID (discovery's `KMAID`).
pub fn kma_id(node_id: &str) -> i64 {
    let b = uuid::Uuid::parse_str(node_id)
        .map(|u| *u.as_bytes())
        .unwrap_or_default();
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[8..16]);
    (u64::from_be_bytes(v) & 0x7fff_ffff_ffff_ffff) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = crate::keys::new_object_id();
        let k = key_id_hex(&id).unwrap();
        assert_eq!(k.len(), 60);
        assert_eq!(object_id_of(&k).as_deref(), Some(id.as_str()));
        let d = data_unit_id_hex(&id).unwrap();
        assert_eq!(d.len(), 32);
        assert_eq!(data_unit_id_of(&d).as_deref(), Some(id.as_str()));
        assert_eq!(
            external_unique_id_of("4C54303031").as_deref(),
            Some("LT001")
        );
        assert_eq!(external_unique_id_hex("LT001"), "4C54303031");
        assert_eq!(external_unique_id_of("00ff").as_deref(), Some("0x00ff"));
        assert_eq!(external_unique_id_hex("0x00ff"), "00FF");
        assert!(external_unique_id_of(&"00".repeat(33)).is_none());
        assert_eq!(FaultCode::NoReadyKeys.faultstring(), "1021 No Ready Keys");
    }
}
