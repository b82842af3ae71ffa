//! Checkpoints: a chain head signed by a node's root of trust.
//!
//! A checkpoint says "the chain of origin O had hash H at seq S, as seen by node N at
//! time T". The signature is made with the root of trust's ECDSA P-256 key, which never
//! leaves the HSM, so someone who can write the database can delete or rewrite records
//! but cannot make a checkpoint that agrees with the rewritten chain.

use super::chain::HASH_LEN;
use sha2::{Digest, Sha256};

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointKind {
    /// Written by the node's checkpoint task, or on request.
    Periodic,
    /// Anchors the last record removed by a deletion: the chain that remains starts
    /// right after it.
    Deletion,
}

impl CheckpointKind {
    /// Stable text form, as stored and signed.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Periodic => "periodic",
            CheckpointKind::Deletion => "deletion",
        }
    }

    /// Parses [`CheckpointKind::as_str`] output.
    pub fn parse(s: &str) -> Option<CheckpointKind> {
        match s {
            "periodic" => Some(CheckpointKind::Periodic),
            "deletion" => Some(CheckpointKind::Deletion),
            _ => None,
        }
    }
}

/// Domain-separation prefix of the signed message: the root of trust's signing key may
/// come to sign other things, and none of them can be mistaken for a checkpoint.
pub const CHECKPOINT_TAG: &[u8] = b"clavis-audit-checkpoint-v1\0";

/// One checkpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Origin replica of the chain.
    pub origin: String,
    /// Seq of the record whose hash is signed (0: the empty chain).
    pub seq: i64,
    /// That record's chain hash.
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    /// When it was signed, Unix milliseconds.
    pub at_ms: i64,
    /// `periodic` or `deletion` (text as stored; verification reports unknown kinds).
    pub kind: String,
    /// Node whose root of trust signed.
    pub signer_node: String,
    /// The signer's public key, uncompressed SEC1 (65 bytes).
    #[serde(with = "hex_bytes")]
    pub public_key: Vec<u8>,
    /// ECDSA P-256 / SHA-256 signature, `r || s`.
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// The exact bytes a checkpoint's signature covers:
/// `CHECKPOINT_TAG || u32 len || origin || i64 seq || u32 len || hash || i64 at_ms ||
/// u32 len || kind || u32 len || signer_node`, integers big-endian.
pub fn signed_message(
    origin: &str,
    seq: i64,
    hash: &[u8],
    at_ms: i64,
    kind: &str,
    signer_node: &str,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_TAG.len() + 64 + origin.len() + HASH_LEN);
    m.extend_from_slice(CHECKPOINT_TAG);
    put_bytes(&mut m, origin.as_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    put_bytes(&mut m, hash);
    m.extend_from_slice(&at_ms.to_be_bytes());
    put_bytes(&mut m, kind.as_bytes());
    put_bytes(&mut m, signer_node.as_bytes());
    m
}

fn put_bytes(m: &mut Vec<u8>, b: &[u8]) {
    m.extend_from_slice(&(b.len() as u32).to_be_bytes());
    m.extend_from_slice(b);
}

impl Checkpoint {
    /// The bytes its signature covers.
    pub fn message(&self) -> Vec<u8> {
        signed_message(
            &self.origin,
            self.seq,
            &self.hash,
            self.at_ms,
            &self.kind,
            &self.signer_node,
        )
    }

    /// True when `signature` verifies over [`Checkpoint::message`] under `public_key`.
    pub fn signature_valid_under(&self, public_key: &[u8]) -> bool {
        crate::rot::verify_signature(public_key, &self.message(), &self.signature)
    }

    /// A short fingerprint of the signer's key, for reports.
    pub fn key_fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(&self.public_key)[..8])
    }
}

/// Serde helper: bytes as lower-case hex.
pub(crate) mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_binds_every_field() {
        let base = signed_message("o", 5, &[1; 32], 10, "periodic", "n");
        for other in [
            signed_message("p", 5, &[1; 32], 10, "periodic", "n"),
            signed_message("o", 6, &[1; 32], 10, "periodic", "n"),
            signed_message("o", 5, &[2; 32], 10, "periodic", "n"),
            signed_message("o", 5, &[1; 32], 11, "periodic", "n"),
            signed_message("o", 5, &[1; 32], 10, "deletion", "n"),
            signed_message("o", 5, &[1; 32], 10, "periodic", "m"),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.starts_with(CHECKPOINT_TAG));
    }
}
