//! Encrypt, Decrypt, Sign, Signature Verify and RNG Retrieve.

use super::{payload, Batch};
use crate::keys::asymmetric::{Hash, SignatureScheme};
use crate::kmip::enums::{
    block_cipher_mode as bcm, cryptographic_algorithm as ca, digital_signature_algorithm as dsa,
    hashing_algorithm as ha, padding_method as pm, result_reason as rr, validity_indicator as vi,
};
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};
use crate::service::CipherMode;

/// PKCS#1 v1.5 padding (KMIP Padding Method 0x08).
const PKCS1_V1_5: u32 = 0x0000_0008;
/// Largest data accepted for one operation.
const MAX_DATA: usize = 256 * 1024;

fn bytes(req: &Ttlv, tag: u32, what: &str) -> Result<Option<Vec<u8>>, KmipError> {
    match req.child(tag).map(|c| &c.value) {
        Some(Value::ByteString(b)) if b.len() <= MAX_DATA => Ok(Some(b.clone())),
        Some(Value::ByteString(_)) => Err(KmipError::invalid_field(format!(
            "{what} is larger than {MAX_DATA} bytes"
        ))),
        Some(_) => Err(KmipError::invalid_field(format!(
            "{what} must be a Byte String"
        ))),
        None => Ok(None),
    }
}

fn param(req: &Ttlv, tag: u32) -> Option<u32> {
    match req
        .child(t::CRYPTOGRAPHIC_PARAMETERS)?
        .child(tag)
        .map(|c| &c.value)
    {
        Some(Value::Enumeration(v)) => Some(*v),
        _ => None,
    }
}

fn cipher_mode(req: &Ttlv) -> Result<CipherMode, KmipError> {
    match param(req, t::BLOCK_CIPHER_MODE) {
        Some(bcm::GCM) => {
            let tag_len = match req
                .child(t::CRYPTOGRAPHIC_PARAMETERS)
                .and_then(|p| p.child(t::TAG_LENGTH))
                .map(|c| &c.value)
            {
                None => 16,
                Some(Value::Integer(n)) if (12..=16).contains(n) => *n as usize,
                // The conformance cases expect General Failure here.
                Some(_) => {
                    return Err(KmipError::new(
                        rr::GENERAL_FAILURE,
                        "Tag Length: AES-GCM tags are 12 to 16 bytes",
                    ))
                }
            };
            Ok(CipherMode::Gcm { tag_len })
        }
        Some(bcm::CBC) => match param(req, t::PADDING_METHOD) {
            None | Some(pm::PKCS5) => Ok(CipherMode::Cbc),
            Some(_) => Err(KmipError::new(
                rr::FEATURE_NOT_SUPPORTED,
                "AES-CBC is offered with PKCS5 padding only",
            )),
        },
        None => Err(KmipError::missing(
            "Cryptographic Parameters with Block Cipher Mode (GCM or CBC)",
        )),
        Some(other) => Err(KmipError::new(
            rr::FEATURE_NOT_SUPPORTED,
            format!("Block Cipher Mode 0x{other:08X} is not offered; use GCM or CBC"),
        )),
    }
}

fn data(req: &Ttlv) -> Result<Vec<u8>, KmipError> {
    bytes(req, t::DATA, "Data")?.ok_or_else(|| KmipError::missing("Data"))
}

/// Encrypt.
pub async fn encrypt(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let mode = cipher_mode(req)?;
    let iv = bytes(req, t::IV_COUNTER_NONCE, "IV/Counter/Nonce")?;
    let aad = bytes(
        req,
        t::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
        "Authenticated Encryption Additional Data",
    )?;
    let given_iv = iv.is_some();
    let out = b
        .svc
        .encrypt(b.who, &id, mode, iv, aad, &data(req)?)
        .await?;
    let mut fields = vec![
        Ttlv::text(t::UNIQUE_IDENTIFIER, id),
        Ttlv::bytes(t::DATA, out.data),
    ];
    if !given_iv {
        fields.push(Ttlv::bytes(t::IV_COUNTER_NONCE, out.iv));
    }
    if let Some(tag) = out.tag {
        fields.push(Ttlv::bytes(t::AUTHENTICATED_ENCRYPTION_TAG, tag));
    }
    Ok(payload(fields))
}

/// Decrypt.
pub async fn decrypt(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let mode = cipher_mode(req)?;
    let iv = bytes(req, t::IV_COUNTER_NONCE, "IV/Counter/Nonce")?
        .ok_or_else(|| KmipError::missing("IV/Counter/Nonce"))?;
    let aad = bytes(
        req,
        t::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
        "Authenticated Encryption Additional Data",
    )?;
    let tag = bytes(
        req,
        t::AUTHENTICATED_ENCRYPTION_TAG,
        "Authenticated Encryption Tag",
    )?;
    // Without a Tag Length, the tag's own length is the tag length.
    let no_tag_length = req
        .child(t::CRYPTOGRAPHIC_PARAMETERS)
        .and_then(|p| p.child(t::TAG_LENGTH))
        .is_none();
    let mode = match (mode, &tag) {
        (CipherMode::Gcm { .. }, Some(tg)) if no_tag_length => {
            CipherMode::Gcm { tag_len: tg.len() }
        }
        (m, _) => m,
    };
    let plain = b
        .svc
        .decrypt(
            b.who,
            &id,
            mode,
            &iv,
            aad.as_deref(),
            tag.as_deref(),
            &data(req)?,
        )
        .await?;
    Ok(payload(vec![
        Ttlv::text(t::UNIQUE_IDENTIFIER, id),
        Ttlv::bytes(t::DATA, plain.to_vec()),
    ]))
}

fn hash(v: Option<u32>) -> Result<Hash, KmipError> {
    match v {
        Some(ha::SHA_256) | None => Ok(Hash::Sha256),
        Some(ha::SHA_384) => Ok(Hash::Sha384),
        Some(ha::SHA_512) => Ok(Hash::Sha512),
        Some(other) => Err(KmipError::new(
            rr::FEATURE_NOT_SUPPORTED,
            format!("Hashing Algorithm 0x{other:08X} is not offered"),
        )),
    }
}

/// The signature scheme named by the request's Cryptographic Parameters.
fn scheme(req: &Ttlv) -> Result<SignatureScheme, KmipError> {
    if let Some(d) = param(req, t::DIGITAL_SIGNATURE_ALGORITHM) {
        return Ok(match d {
            dsa::SHA256_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha256),
            dsa::SHA384_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha384),
            dsa::SHA512_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha512),
            dsa::RSASSA_PSS => SignatureScheme::RsaPss(hash(param(req, t::HASHING_ALGORITHM))?),
            dsa::ECDSA_WITH_SHA256 => SignatureScheme::Ecdsa(Hash::Sha256),
            dsa::ECDSA_WITH_SHA384 => SignatureScheme::Ecdsa(Hash::Sha384),
            other => {
                return Err(KmipError::new(
                    rr::FEATURE_NOT_SUPPORTED,
                    format!("Digital Signature Algorithm 0x{other:08X} is not offered"),
                ))
            }
        });
    }
    let h = hash(param(req, t::HASHING_ALGORITHM))?;
    match (
        param(req, t::CRYPTOGRAPHIC_ALGORITHM),
        param(req, t::PADDING_METHOD),
    ) {
        (Some(ca::RSA), Some(pm::PSS)) => Ok(SignatureScheme::RsaPss(h)),
        (Some(ca::RSA), Some(PKCS1_V1_5) | None) => Ok(SignatureScheme::RsaPkcs1(h)),
        (Some(ca::EC | ca::ECDSA), _) => Ok(SignatureScheme::Ecdsa(h)),
        _ => Err(KmipError::missing(
            "Cryptographic Parameters naming the signature algorithm",
        )),
    }
}

/// Sign.
pub async fn sign(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let sig = b.svc.sign(b.who, &id, scheme(req)?, &data(req)?).await?;
    Ok(payload(vec![
        Ttlv::text(t::UNIQUE_IDENTIFIER, id),
        Ttlv::bytes(t::SIGNATURE_DATA, sig),
    ]))
}

/// Signature Verify.
pub async fn signature_verify(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let sig = bytes(req, t::SIGNATURE_DATA, "Signature Data")?
        .ok_or_else(|| KmipError::missing("Signature Data"))?;
    let ok = b
        .svc
        .verify(b.who, &id, scheme(req)?, &data(req)?, &sig)
        .await?;
    Ok(payload(vec![
        Ttlv::text(t::UNIQUE_IDENTIFIER, id),
        Ttlv::enumeration(
            t::VALIDITY_INDICATOR,
            if ok { vi::VALID } else { vi::INVALID },
        ),
    ]))
}

/// RNG Retrieve: bytes from the root of trust's generator.
pub async fn rng_retrieve(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let len = match req.child(t::DATA_LENGTH).map(|c| &c.value) {
        Some(Value::Integer(n)) if (1..=4096).contains(n) => *n as usize,
        Some(_) => return Err(KmipError::invalid_field("Data Length must be 1 to 4096")),
        None => return Err(KmipError::missing("Data Length")),
    };
    let random = b.svc.random(b.who, len).await?;
    Ok(payload(vec![Ttlv::bytes(
        t::DATA,
        random.expose_secret().to_vec(),
    )]))
}
