//! Key transfer between clusters (SPEC 8.3): each cluster's transfer identity, the
//! public half partners register, and the signed transfer file (see [`file`]).
//!
//! An identity is two key pairs, one per purpose:
//! - an **encryption** key, RSA-3072, to which partners wrap the keys they send
//!   (RSA-OAEP with SHA-256, label [`OAEP_LABEL`]); the `rsa` crate, as no HSM
//!   mechanism is reachable through the root-of-trust trait yet;
//! - a **signing** key, ECDSA P-256 with SHA-256 (`ring`), which signs every file the
//!   cluster exports. A separate signing key keeps one key from serving two schemes,
//!   and ECDSA signatures are small and fast to make and check.
//!
//! Both private keys are stored as PKCS#8 DER wrapped under the master key, like any
//! other stored key (see `service::transfer`), so every node of the cluster has the
//! same identity and master-key rotation covers them. Plaintext private keys exist
//! only in process memory while a file is signed or opened, in zeroize-on-drop types.
//!
//! The **fingerprint** names an identity: SHA-256 over both public keys
//! (length-prefixed SubjectPublicKeyInfo DER, encryption key first), in hex. Cluster
//! administrators compare it out of band before registering a partner.
//!
//! Only the RSA private key decrypts, and only after the file's signature has been
//! verified against a registered partner, so nobody without a partner's signing key can
//! use a node as a decryption oracle.

pub mod file;

use crate::secret::KeyMaterial;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

/// RSA-OAEP label binding a wrapped file key to this format.
pub const OAEP_LABEL: &str = "clavis-transfer-1";
/// Size of a new encryption key, bits.
pub const RSA_BITS: usize = 3072;
/// Smallest partner encryption key accepted, bits.
pub const MIN_PARTNER_RSA_BITS: usize = 3072;
/// Largest partner encryption key accepted, bits.
pub const MAX_PARTNER_RSA_BITS: usize = 8192;

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, BIT STRING
/// of 66 bytes); the 65-byte uncompressed point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a transfer step was refused. Each refusal has its own variant, so transports
/// give each its own code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The file is not a transfer file (or was cut or changed so it no longer parses).
    #[error("not a readable Clavis transfer file: {0}")]
    Malformed(String),
    /// The file is signed by an identity that is not a registered partner.
    #[error("the file is signed by transfer identity {0}, which is not a registered transfer partner of this cluster; nothing was imported")]
    UnknownPartner(String),
    /// The signature does not verify over the file's bytes.
    #[error("the file's signature does not verify (it was changed after partner {0:?} signed it, or it is not theirs); nothing was imported")]
    BadSignature(String),
    /// The file is addressed to another cluster.
    #[error("the file is addressed to transfer identity {got}, not to this cluster ({ours}); nothing was imported")]
    WrongRecipient {
        /// The recipient named in the file.
        got: String,
        /// This cluster's fingerprint.
        ours: String,
    },
    /// A key chosen for export may not leave the cluster.
    #[error("key {id} is not exportable: {why}; nothing was exported")]
    NotExportable {
        /// The key.
        id: String,
        /// The rule that keeps it in.
        why: String,
    },
    /// A public key given for a partner is unusable.
    #[error("partner key: {0}")]
    BadPartnerKey(String),
    /// A key's material could not be unwrapped with our transfer key.
    #[error("key {0} in the file does not decrypt with this cluster's transfer key; nothing was imported")]
    Undecryptable(String),
    /// Making the file failed (randomness, signing).
    #[error("transfer crypto failed: {0}")]
    Crypto(String),
}

/// The public half of a transfer identity: what a partner registers.
#[derive(Clone)]
pub struct PublicIdentity {
    encryption: rsa::RsaPublicKey,
    /// Uncompressed P-256 point.
    signing: Vec<u8>,
}

impl PublicIdentity {
    /// Parses the two PEM public keys (SubjectPublicKeyInfo) and checks them.
    pub fn from_pem(encryption_pem: &str, signing_pem: &str) -> Result<Self, TransferError> {
        let encryption =
            rsa::RsaPublicKey::from_public_key_pem(encryption_pem.trim()).map_err(|e| {
                TransferError::BadPartnerKey(format!("encryption key: not an RSA public key ({e})"))
            })?;
        let bits = encryption.size() * 8;
        if !(MIN_PARTNER_RSA_BITS..=MAX_PARTNER_RSA_BITS).contains(&bits) {
            return Err(TransferError::BadPartnerKey(format!(
                "encryption key: RSA keys of {MIN_PARTNER_RSA_BITS} to {MAX_PARTNER_RSA_BITS} bits are accepted, not {bits}"
            )));
        }
        let der = pem_body(signing_pem, "PUBLIC KEY").ok_or_else(|| {
            TransferError::BadPartnerKey("signing key: not a PEM PUBLIC KEY".into())
        })?;
        let point = der
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .filter(|p| p.len() == 65 && p[0] == 4)
            .ok_or_else(|| {
                TransferError::BadPartnerKey(
                    "signing key: not an ECDSA P-256 public key (SubjectPublicKeyInfo, uncompressed point)".into(),
                )
            })?;
        Ok(PublicIdentity {
            encryption,
            signing: point.to_vec(),
        })
    }

    /// The encryption key, PEM (SubjectPublicKeyInfo).
    pub fn encryption_pem(&self) -> String {
        self.encryption
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap_or_default()
    }

    /// The signing key, PEM (SubjectPublicKeyInfo).
    pub fn signing_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.signing_spki())
    }

    fn signing_spki(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.signing);
        der
    }

    /// The identity's fingerprint: hex SHA-256 over both public keys.
    pub fn fingerprint(&self) -> String {
        let enc = self
            .encryption
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let sig = self.signing_spki();
        let mut h = Sha256::new();
        h.update(b"clavis-transfer-identity-1\n");
        for part in [&enc, &sig] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part);
        }
        hex::encode(h.finalize())
    }

    /// Checks `sig` (ASN.1 DER ECDSA) over `msg`.
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.signing)
            .verify(msg, sig)
            .is_ok()
    }

    /// RSA-OAEP-SHA256 encrypts `key` (a file key) to this identity.
    pub(crate) fn wrap_to(&self, key: &KeyMaterial) -> Result<Vec<u8>, TransferError> {
        let pad = rsa::Oaep::new_with_label::<rsa::sha2::Sha256, _>(OAEP_LABEL);
        self.encryption
            .encrypt(&mut rand_core::OsRng, pad, key.expose_secret())
            .map_err(|e| TransferError::Crypto(format!("RSA-OAEP: {e}")))
    }
}

/// A transfer identity with its private keys (in memory only while in use).
pub struct Identity {
    encryption: rsa::RsaPrivateKey,
    signing: EcdsaKeyPair,
    public: PublicIdentity,
}

/// The private keys of a new identity, PKCS#8 DER, for wrapping under the master key.
pub struct IdentitySecrets {
    /// The RSA encryption key.
    pub encryption_pkcs8: KeyMaterial,
    /// The ECDSA signing key.
    pub signing_pkcs8: KeyMaterial,
}

impl Identity {
    /// Generates a new identity (RSA-3072 takes a moment: call it off the async
    /// threads).
    pub fn generate() -> Result<(Identity, IdentitySecrets), TransferError> {
        let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
            .map_err(|e| TransferError::Crypto(format!("RSA key generation: {e}")))?;
        let enc = rsa_key
            .to_pkcs8_der()
            .map_err(|e| TransferError::Crypto(format!("RSA key encoding: {e}")))?;
        let rng = SystemRandom::new();
        let sig = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| TransferError::Crypto("ECDSA key generation".into()))?;
        let secrets = IdentitySecrets {
            encryption_pkcs8: KeyMaterial::from_slice(enc.as_bytes()),
            signing_pkcs8: KeyMaterial::from_slice(sig.as_ref()),
        };
        let id = Identity::from_pkcs8(&secrets.encryption_pkcs8, &secrets.signing_pkcs8)?;
        Ok((id, secrets))
    }

    /// Loads an identity from its two PKCS#8 DER private keys.
    pub fn from_pkcs8(
        encryption: &KeyMaterial,
        signing: &KeyMaterial,
    ) -> Result<Identity, TransferError> {
        let encryption =
            rsa::RsaPrivateKey::from_pkcs8_der(encryption.expose_secret()).map_err(|_| {
                TransferError::Crypto("the stored transfer encryption key does not decode".into())
            })?;
        let signing = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            signing.expose_secret(),
            &SystemRandom::new(),
        )
        .map_err(|_| {
            TransferError::Crypto("the stored transfer signing key does not decode".into())
        })?;
        let public = PublicIdentity {
            encryption: rsa::RsaPublicKey::from(&encryption),
            signing: signing.public_key().as_ref().to_vec(),
        };
        Ok(Identity {
            encryption,
            signing,
            public,
        })
    }

    /// The public half.
    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// Signs `msg` (ECDSA P-256 SHA-256, ASN.1 DER).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, TransferError> {
        self.signing
            .sign(&SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| TransferError::Crypto("ECDSA signing".into()))
    }

    /// RSA-OAEP-SHA256 decrypts a file key wrapped to us.
    pub(crate) fn unwrap_file_key(&self, wrapped: &[u8]) -> Option<KeyMaterial> {
        let pad = rsa::Oaep::new_with_label::<rsa::sha2::Sha256, _>(OAEP_LABEL);
        self.encryption
            .decrypt(pad, wrapped)
            .ok()
            .map(KeyMaterial::new)
    }
}

/// The DER inside a PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let inner = pem.trim().strip_prefix(&begin)?.strip_suffix(&end)?;
    let b64: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_round_trip_through_pem_with_the_same_fingerprint() {
        let (id, secrets) = Identity::generate().expect("generate");
        let p = id.public();
        let again = PublicIdentity::from_pem(&p.encryption_pem(), &p.signing_pem()).expect("pem");
        assert_eq!(again.fingerprint(), p.fingerprint());
        assert_eq!(p.fingerprint().len(), 64);
        let reloaded =
            Identity::from_pkcs8(&secrets.encryption_pkcs8, &secrets.signing_pkcs8).expect("load");
        assert_eq!(reloaded.public().fingerprint(), p.fingerprint());
        let sig = id.sign(b"msg").expect("sign");
        assert!(again.verify(b"msg", &sig));
        assert!(!again.verify(b"msh", &sig));
        // Keys swapped, or a small RSA key, are refused.
        assert!(PublicIdentity::from_pem(&p.signing_pem(), &p.encryption_pem()).is_err());
        let small = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).expect("rsa");
        let small_pem = rsa::RsaPublicKey::from(&small)
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("pem");
        let e = PublicIdentity::from_pem(&small_pem, &p.signing_pem())
            .err()
            .expect("refused");
        assert!(e.to_string().contains("not 1024"), "{e}");
    }
}
