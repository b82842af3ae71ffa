//! Managed objects: their kinds, algorithms, attributes and identifiers.

use super::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// KMIP object types Clavis stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    /// A symmetric key.
    SymmetricKey,
    /// Secret data (a password, a credential).
    SecretData,
    /// The private half of a key pair.
    PrivateKey,
    /// The public half of a key pair.
    PublicKey,
    /// An X.509 certificate.
    Certificate,
    /// Opaque bytes.
    OpaqueObject,
}

impl ObjectType {
    /// Stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::SymmetricKey => "symmetric_key",
            ObjectType::SecretData => "secret_data",
            ObjectType::PrivateKey => "private_key",
            ObjectType::PublicKey => "public_key",
            ObjectType::Certificate => "certificate",
            ObjectType::OpaqueObject => "opaque_object",
        }
    }

    /// Parses [`ObjectType::as_str`] output.
    pub fn parse(s: &str) -> Option<ObjectType> {
        [
            ObjectType::SymmetricKey,
            ObjectType::SecretData,
            ObjectType::PrivateKey,
            ObjectType::PublicKey,
            ObjectType::Certificate,
            ObjectType::OpaqueObject,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Cryptographic algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    /// AES.
    Aes,
    /// RSA (key pairs).
    Rsa,
    /// Elliptic curve keys on NIST P-256 or P-384 (the length names the curve).
    Ec,
}

impl Algorithm {
    /// Stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Aes => "AES",
            Algorithm::Rsa => "RSA",
            Algorithm::Ec => "EC",
        }
    }

    /// Parses an algorithm name, case-insensitively.
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.to_ascii_uppercase().as_str() {
            "AES" => Some(Algorithm::Aes),
            "RSA" => Some(Algorithm::Rsa),
            "EC" => Some(Algorithm::Ec),
            _ => None,
        }
    }

    /// Key lengths in bits this node generates for the algorithm.
    pub fn allowed_lengths(self) -> &'static [u32] {
        match self {
            Algorithm::Aes => &[128, 192, 256],
            Algorithm::Rsa => &[2048, 3072, 4096],
            Algorithm::Ec => &[256, 384],
        }
    }
}

/// Why an object was revoked (KMIP Revocation Reason Code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Unspecified.
    Unspecified,
    /// The key was compromised.
    KeyCompromise,
    /// The issuing CA was compromised.
    CaCompromise,
    /// Affiliation changed.
    AffiliationChanged,
    /// Replaced by another key.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// Privilege withdrawn.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// True for the reasons that mean compromise.
    pub fn is_compromise(self) -> bool {
        matches!(
            self,
            RevocationReason::KeyCompromise | RevocationReason::CaCompromise
        )
    }
}

/// Attributes kept beside the material. Dates are Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    /// When the object became Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_date: Option<i64>,
    /// When it left (or leaves) Active: after this it reads no data either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivation_date: Option<i64>,
    /// When it stops protecting new data (its key policy's encryption period ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_stop_date: Option<i64>,
    /// When its material was destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_date: Option<i64>,
    /// When it was revoked for compromise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromise_date: Option<i64>,
    /// Why it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
    /// Free-text revocation message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_message: Option<String>,
    /// Custom attributes (`x-...` in KMIP).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
    /// Links to other objects (a key pair's halves, a replacement key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// SHA-256 of the key material (hex), kept for KMIP's Digest attribute. Not kept for
    /// secret data: a digest of a password is a dictionary-attack oracle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_sha256: Option<String>,
    /// KMIP Cryptographic Usage Mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_mask: Option<u32>,
    /// Other KMIP attributes kept as given (Contact Information, Object Group, Links,
    /// Application Specific Information, non-text custom attributes, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kmip: Vec<KmipAttribute>,
}

/// A link from one object to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What the other object is to this one.
    pub kind: LinkKind,
    /// The other object's ID.
    pub id: String,
}

/// Kinds of links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The public half of this private key.
    PublicKey,
    /// The private half of this public key.
    PrivateKey,
    /// The key that replaced this one (Re-key).
    Replacement,
    /// The key this one replaced.
    Replaced,
}

/// A KMIP attribute Clavis stores without interpreting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmipAttribute {
    /// The KMIP attribute name (`Contact Information`, `x-owner`, ...).
    pub name: String,
    /// Its TTLV encoding (the value item), hex.
    pub ttlv_hex: String,
}

/// A managed object's metadata (everything but the material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// UUIDv7, made by the node that created the object.
    pub id: String,
    /// What kind of object.
    pub object_type: ObjectType,
    /// Algorithm, for keys.
    pub algorithm: Option<Algorithm>,
    /// Length in bits (keys) or bytes (secret data).
    pub length: Option<u32>,
    /// Lifecycle state.
    pub state: State,
    /// Optional unique-ish name.
    pub name: Option<String>,
    /// Dates, revocation, custom attributes.
    pub attributes: Attributes,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// A new object ID: a UUIDv7, so IDs made concurrently on different nodes never collide
/// and sort by creation time.
pub fn new_object_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// True when `s` is a canonical UUID (what [`new_object_id`] makes).
pub fn is_valid_object_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// Current time in Unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_uuid_v7_and_ordered() {
        let a = new_object_id();
        let b = new_object_id();
        assert!(is_valid_object_id(&a));
        assert_eq!(
            uuid::Uuid::parse_str(&a).map(|u| u.get_version_num()).ok(),
            Some(7)
        );
        assert!(a < b);
        assert!(!is_valid_object_id("not-a-uuid"));
        assert!(!is_valid_object_id("../../etc/passwd"));
    }

    #[test]
    fn type_names_round_trip() {
        for t in [
            "symmetric_key",
            "secret_data",
            "private_key",
            "public_key",
            "certificate",
            "opaque_object",
        ] {
            assert_eq!(ObjectType::parse(t).map(|x| x.as_str()), Some(t));
        }
        assert_eq!(Algorithm::parse("aes"), Some(Algorithm::Aes));
        assert_eq!(Algorithm::parse("DES"), None);
    }
}
