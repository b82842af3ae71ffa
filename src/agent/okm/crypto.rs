//! The protocol's own cryptography (facts in `docs/okm.md`, from
//! `KMSAgentChallenge.cpp`, `KMSAgentCryptoUtilities.cpp`, `KMSClientProfile.cpp`,
//! `KMSAgentLoadBalancer.cpp`).
//!
//! SHA-1 and HMAC-SHA1 are what the agents' firmware computes; they are used here only
//! where the protocol fixes them, never for Clavis's own storage.

use super::AUTH_LEN;
use crate::secret::KeyMaterial;
use base64::Engine;
use ring::{digest, hmac};
use zeroize::Zeroizing;

/// The agent's authentication secret: SHA-1 of the UTF-8 passphrase (20 zero bytes for
/// an empty one), then SHA-1 applied `iterations` more times to that digest.
pub fn authentication_secret(passphrase: &[u8], iterations: u32) -> KeyMaterial {
    let mut h = Zeroizing::new([0u8; AUTH_LEN]);
    if !passphrase.is_empty() {
        h.copy_from_slice(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, passphrase).as_ref());
    }
    for _ in 0..iterations {
        let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &h[..]);
        h.copy_from_slice(d.as_ref());
    }
    KeyMaterial::from_slice(&h[..])
}

/// A challenge response: HMAC-SHA1 keyed with the secret over the root CA
/// certificate (as the agent stores it, PEM) followed by the challenge.
pub fn challenge_response(
    secret: &KeyMaterial,
    root_ca_pem: &[u8],
    challenge: &[u8],
) -> [u8; AUTH_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.expose_secret());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(root_ca_pem);
    ctx.update(challenge);
    let tag = ctx.sign();
    let mut out = [0u8; AUTH_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A certificate PEM re-encoded the way OpenSSL writes it (64-column base64, LF line
/// ends, one trailing LF): the agent hashes its own re-encoding of the root CA it
/// received (`pRootCACertificate->Save(..., PKI_FORMAT)`), so the node must send and
/// hash exactly that form.
pub fn openssl_pem(pem: &str) -> Result<String, String> {
    let der = crate::tls::parse_certs(pem)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| "no certificate in the PEM".to_owned())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    Ok(out)
}

/// Wraps a 32-byte key under a key-wrapping key with AES key wrap (RFC 3394, default
/// IV): 40 bytes (`KMS_MAX_WRAPPED_KEY_SIZE`).
pub fn kwk_wrap(kwk: &[u8; 32], key: &[u8]) -> Result<Vec<u8>, String> {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwAes256::new(kwk.into());
    let mut buf = vec![0u8; key.len() + aes_kw::IV_LEN];
    let n = kw
        .wrap_key(key, &mut buf)
        .map_err(|e| format!("AES key wrap: {e}"))?
        .len();
    buf.truncate(n);
    Ok(buf)
}

/// Unwraps what [`kwk_wrap`] made (for test clients).
pub fn kwk_unwrap(kwk: &[u8; 32], wrapped: &[u8]) -> Result<KeyMaterial, String> {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwAes256::new(kwk.into());
    let mut buf = Zeroizing::new(vec![0u8; wrapped.len().saturating_sub(aes_kw::IV_LEN)]);
    let n = kw
        .unwrap_key(wrapped, &mut buf)
        .map_err(|e| format!("AES key unwrap: {e}"))?
        .len();
    Ok(KeyMaterial::from_slice(&buf[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3394_vector_4_6() {
        // RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK.
        let kek: [u8; 32] =
            hex::decode("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
                .unwrap()
                .try_into()
                .unwrap();
        let data = hex::decode("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
            .unwrap();
        let w = kwk_wrap(&kek, &data).unwrap();
        assert_eq!(
            hex::encode_upper(&w),
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
        );
        assert_eq!(kwk_unwrap(&kek, &w).unwrap().expose_secret(), &data[..]);
    }

    #[test]
    fn secret_iterates_over_the_hashed_passphrase() {
        let s0 = authentication_secret(b"abc", 0);
        assert_eq!(
            hex::encode(s0.expose_secret()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let s1 = authentication_secret(b"abc", 1);
        let again = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, s0.expose_secret());
        assert_eq!(s1.expose_secret(), again.as_ref());
        assert_eq!(authentication_secret(b"", 0).expose_secret(), &[0u8; 20]);
    }
}
