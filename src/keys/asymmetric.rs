//! Key pairs: generation (RSA, EC P-256/P-384), and signatures with keys that never
//! leave Clavis. RSA keys are kept in PKCS#1 (RSAPrivateKey / RSAPublicKey DER), the
//! format KMIP clients expect for RSA; EC private keys in PKCS#8 and EC public keys as
//! SubjectPublicKeyInfo DER.
//!
//! ring signs and verifies; it cannot generate RSA keys, so RSA generation uses the
//! `rsa` crate (generation only: no RSA decryption happens with it).

use super::Algorithm;
use crate::secret::KeyMaterial;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// Key-pair and signature failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AsymmetricError {
    /// The algorithm or size is not offered.
    #[error("{0}")]
    Unsupported(String),
    /// Generation or signing failed.
    #[error("{0} failed")]
    Crypto(&'static str),
    /// A stored key does not parse.
    #[error("stored key is malformed: {0}")]
    Malformed(&'static str),
}

/// A fresh key pair.
pub struct KeyPairDer {
    /// The private key: PKCS#1 for RSA, PKCS#8 for EC.
    pub private_der: KeyMaterial,
    /// The public key: PKCS#1 RSAPublicKey for RSA, SubjectPublicKeyInfo for EC.
    pub public_der: Vec<u8>,
}

// DER prefixes of an EC SubjectPublicKeyInfo up to the point (id-ecPublicKey + curve).
const SPKI_P256: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
const SPKI_P384: &str = "3076301006072a8648ce3d020106052b81040022036200";

fn ec_alg(
    bits: u32,
) -> Result<(&'static signature::EcdsaSigningAlgorithm, &'static str), AsymmetricError> {
    match bits {
        256 => Ok((&signature::ECDSA_P256_SHA256_ASN1_SIGNING, SPKI_P256)),
        384 => Ok((&signature::ECDSA_P384_SHA384_ASN1_SIGNING, SPKI_P384)),
        _ => Err(AsymmetricError::Unsupported(format!(
            "EC keys are P-256 or P-384, not {bits} bits"
        ))),
    }
}

/// Generates a key pair.
pub fn generate(alg: Algorithm, bits: u32) -> Result<KeyPairDer, AsymmetricError> {
    match alg {
        Algorithm::Ec => {
            let (signing, prefix) = ec_alg(bits)?;
            let rng = SystemRandom::new();
            let doc = EcdsaKeyPair::generate_pkcs8(signing, &rng)
                .map_err(|_| AsymmetricError::Crypto("EC key generation"))?;
            let private_der = KeyMaterial::from_slice(doc.as_ref());
            let pair = EcdsaKeyPair::from_pkcs8(signing, private_der.expose_secret(), &rng)
                .map_err(|_| AsymmetricError::Crypto("EC key load"))?;
            let mut public_der =
                hex::decode(prefix).map_err(|_| AsymmetricError::Crypto("SPKI prefix"))?;
            public_der.extend_from_slice(pair.public_key().as_ref());
            Ok(KeyPairDer {
                private_der,
                public_der,
            })
        }
        Algorithm::Rsa => {
            if !Algorithm::Rsa.allowed_lengths().contains(&bits) {
                return Err(AsymmetricError::Unsupported(format!(
                    "RSA keys are 2048, 3072 or 4096 bits, not {bits}"
                )));
            }
            use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits as usize)
                .map_err(|_| AsymmetricError::Crypto("RSA key generation"))?;
            let private = key
                .to_pkcs1_der()
                .map_err(|_| AsymmetricError::Crypto("RSA PKCS#1 encoding"))?;
            let public = key
                .to_public_key()
                .to_pkcs1_der()
                .map_err(|_| AsymmetricError::Crypto("RSA PKCS#1 encoding"))?;
            Ok(KeyPairDer {
                private_der: KeyMaterial::from_slice(private.as_bytes()),
                public_der: public.as_bytes().to_vec(),
            })
        }
        Algorithm::Aes => Err(AsymmetricError::Unsupported(
            "AES is symmetric; use Create".into(),
        )),
    }
}

/// Checks a PKCS#1 RSA key (private or public) and returns its modulus size in bits.
pub fn rsa_bits(private: bool, der: &[u8]) -> Result<u32, AsymmetricError> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
    use rsa::traits::PublicKeyParts;
    let bits = if private {
        rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|_| AsymmetricError::Malformed("RSA PKCS#1 private key"))?
            .n()
            .bits()
    } else {
        rsa::RsaPublicKey::from_pkcs1_der(der)
            .map_err(|_| AsymmetricError::Malformed("RSA PKCS#1 public key"))?
            .n()
            .bits()
    };
    u32::try_from(bits).map_err(|_| AsymmetricError::Malformed("RSA modulus"))
}

/// PKCS#1 RSAPublicKey DER from a modulus and public exponent (big-endian bytes).
pub fn rsa_public_from_parts(modulus: &[u8], exponent: &[u8]) -> Result<Vec<u8>, AsymmetricError> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(modulus),
        rsa::BigUint::from_bytes_be(exponent),
    )
    .map_err(|_| AsymmetricError::Malformed("RSA modulus or exponent"))?;
    Ok(key
        .to_pkcs1_der()
        .map_err(|_| AsymmetricError::Crypto("RSA PKCS#1 encoding"))?
        .as_bytes()
        .to_vec())
}

/// Signature schemes offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256/384/512.
    RsaPkcs1(Hash),
    /// RSASSA-PSS with SHA-256/384/512 (MGF1 with the same hash, salt = hash length).
    RsaPss(Hash),
    /// ECDSA with SHA-256 (P-256) or SHA-384 (P-384), DER-encoded signature.
    Ecdsa(Hash),
}

/// Digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

fn rsa_encoding(s: SignatureScheme) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match s {
        SignatureScheme::RsaPkcs1(Hash::Sha256) => &signature::RSA_PKCS1_SHA256,
        SignatureScheme::RsaPkcs1(Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
        SignatureScheme::RsaPkcs1(Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
        SignatureScheme::RsaPss(Hash::Sha256) => &signature::RSA_PSS_SHA256,
        SignatureScheme::RsaPss(Hash::Sha384) => &signature::RSA_PSS_SHA384,
        SignatureScheme::RsaPss(Hash::Sha512) => &signature::RSA_PSS_SHA512,
        SignatureScheme::Ecdsa(_) => return None,
    })
}

/// Signs `data` with a private key of `alg`/`bits`.
pub fn sign(
    alg: Algorithm,
    bits: u32,
    private_der: &KeyMaterial,
    scheme: SignatureScheme,
    data: &[u8],
) -> Result<Vec<u8>, AsymmetricError> {
    let rng = SystemRandom::new();
    match (alg, scheme) {
        (Algorithm::Rsa, s) => {
            let enc = rsa_encoding(s)
                .ok_or_else(|| AsymmetricError::Unsupported("ECDSA needs an EC key".into()))?;
            let pair = RsaKeyPair::from_der(private_der.expose_secret())
                .map_err(|_| AsymmetricError::Malformed("RSA PKCS#1"))?;
            let mut sig = vec![0u8; pair.public().modulus_len()];
            pair.sign(enc, &rng, data, &mut sig)
                .map_err(|_| AsymmetricError::Crypto("RSA signing"))?;
            Ok(sig)
        }
        (Algorithm::Ec, SignatureScheme::Ecdsa(h)) => {
            let (signing, _) = ec_alg(bits)?;
            let expected = if bits == 256 {
                Hash::Sha256
            } else {
                Hash::Sha384
            };
            if h != expected {
                return Err(AsymmetricError::Unsupported(format!(
                    "P-{bits} keys sign with {expected:?}"
                )));
            }
            let pair = EcdsaKeyPair::from_pkcs8(signing, private_der.expose_secret(), &rng)
                .map_err(|_| AsymmetricError::Malformed("EC PKCS#8"))?;
            Ok(pair
                .sign(&rng, data)
                .map_err(|_| AsymmetricError::Crypto("ECDSA signing"))?
                .as_ref()
                .to_vec())
        }
        _ => Err(AsymmetricError::Unsupported(
            "this key cannot make that kind of signature".into(),
        )),
    }
}

/// The key bytes inside a SubjectPublicKeyInfo (PKCS#1 RSAPublicKey or EC point).
fn spki_key(spki: &[u8]) -> Result<Vec<u8>, AsymmetricError> {
    use x509_parser::prelude::FromDer;
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
        .map_err(|_| AsymmetricError::Malformed("SPKI"))?;
    Ok(info.subject_public_key.data.to_vec())
}

/// Verifies a signature with a public key (SPKI).
pub fn verify(
    alg: Algorithm,
    bits: u32,
    public_der: &[u8],
    scheme: SignatureScheme,
    data: &[u8],
    sig: &[u8],
) -> Result<bool, AsymmetricError> {
    // RSA public keys are kept as PKCS#1 RSAPublicKey, which is what ring takes.
    let key = if alg == Algorithm::Rsa {
        public_der.to_vec()
    } else {
        spki_key(public_der)?
    };
    let params: &dyn signature::VerificationAlgorithm = match (alg, scheme) {
        (Algorithm::Rsa, SignatureScheme::RsaPkcs1(Hash::Sha256)) => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        (Algorithm::Rsa, SignatureScheme::RsaPkcs1(Hash::Sha384)) => {
            &signature::RSA_PKCS1_2048_8192_SHA384
        }
        (Algorithm::Rsa, SignatureScheme::RsaPkcs1(Hash::Sha512)) => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        (Algorithm::Rsa, SignatureScheme::RsaPss(Hash::Sha256)) => {
            &signature::RSA_PSS_2048_8192_SHA256
        }
        (Algorithm::Rsa, SignatureScheme::RsaPss(Hash::Sha384)) => {
            &signature::RSA_PSS_2048_8192_SHA384
        }
        (Algorithm::Rsa, SignatureScheme::RsaPss(Hash::Sha512)) => {
            &signature::RSA_PSS_2048_8192_SHA512
        }
        (Algorithm::Ec, SignatureScheme::Ecdsa(Hash::Sha256)) if bits == 256 => {
            &signature::ECDSA_P256_SHA256_ASN1
        }
        (Algorithm::Ec, SignatureScheme::Ecdsa(Hash::Sha384)) if bits == 384 => {
            &signature::ECDSA_P384_SHA384_ASN1
        }
        _ => {
            return Err(AsymmetricError::Unsupported(
                "this key cannot check that kind of signature".into(),
            ))
        }
    };
    Ok(signature::UnparsedPublicKey::new(params, &key)
        .verify(data, sig)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_pairs_sign_and_verify() {
        for (bits, h) in [(256, Hash::Sha256), (384, Hash::Sha384)] {
            let kp = generate(Algorithm::Ec, bits).expect("generate");
            let sig = sign(
                Algorithm::Ec,
                bits,
                &kp.private_der,
                SignatureScheme::Ecdsa(h),
                b"tape 42",
            )
            .expect("sign");
            assert_eq!(
                verify(
                    Algorithm::Ec,
                    bits,
                    &kp.public_der,
                    SignatureScheme::Ecdsa(h),
                    b"tape 42",
                    &sig
                ),
                Ok(true)
            );
            assert_eq!(
                verify(
                    Algorithm::Ec,
                    bits,
                    &kp.public_der,
                    SignatureScheme::Ecdsa(h),
                    b"tape 43",
                    &sig
                ),
                Ok(false)
            );
        }
        assert!(generate(Algorithm::Ec, 521).is_err());
    }

    #[test]
    fn rsa_pairs_sign_and_verify() {
        let kp = generate(Algorithm::Rsa, 2048).expect("generate");
        for s in [
            SignatureScheme::RsaPkcs1(Hash::Sha256),
            SignatureScheme::RsaPss(Hash::Sha384),
        ] {
            let sig = sign(Algorithm::Rsa, 2048, &kp.private_der, s, b"data").expect("sign");
            assert_eq!(sig.len(), 256);
            assert_eq!(
                verify(Algorithm::Rsa, 2048, &kp.public_der, s, b"data", &sig),
                Ok(true)
            );
            assert_eq!(
                verify(Algorithm::Rsa, 2048, &kp.public_der, s, b"datA", &sig),
                Ok(false)
            );
        }
        assert!(generate(Algorithm::Rsa, 1024).is_err());
    }
}
