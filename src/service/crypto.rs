//! Cryptography with keys that stay in Clavis: AES-GCM and AES-CBC encryption, and
//! signatures with private keys. The key is unwrapped for the call and dropped
//! (zeroized) when it returns.

use super::{KeyService, Principal, ServiceError};
use crate::keys::asymmetric::{self, SignatureScheme};
use crate::keys::{Algorithm, LinkKind, ObjectMeta, ObjectType, State};
use crate::secret::KeyMaterial;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

/// KMIP usage-mask bits checked here.
const MASK_SIGN: u32 = 0x1;
const MASK_VERIFY: u32 = 0x2;
const MASK_ENCRYPT: u32 = 0x4;
const MASK_DECRYPT: u32 = 0x8;

/// Block cipher modes offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherMode {
    /// AES-GCM with a 96-bit nonce and a tag of this many bytes (12 to 16).
    Gcm {
        /// Tag length in bytes.
        tag_len: usize,
    },
    /// AES-CBC with PKCS#7 padding, 128-bit IV.
    Cbc,
}

/// The result of an encryption.
#[derive(Debug, Clone)]
pub struct Encrypted {
    /// Ciphertext.
    pub data: Vec<u8>,
    /// The IV or nonce used (generated when the caller gave none).
    pub iv: Vec<u8>,
    /// GCM authentication tag.
    pub tag: Option<Vec<u8>>,
}

fn check_mask(meta: &ObjectMeta, bit: u32, what: &str) -> Result<(), ServiceError> {
    match meta.attributes.usage_mask {
        Some(m) if m & bit == 0 => Err(ServiceError::WrongUse(format!(
            "object {} may not be used to {what}: its Cryptographic Usage Mask forbids it",
            meta.id
        ))),
        _ => Ok(()),
    }
}

/// Protecting new data needs an Active key.
fn check_protect(meta: &ObjectMeta, what: &str) -> Result<(), ServiceError> {
    if meta.state != State::Active {
        return Err(ServiceError::WrongState(format!(
            "object {} is {}; only active keys {what}",
            meta.id, meta.state
        )));
    }
    Ok(())
}

/// Processing existing data is allowed while the material exists and the key was ever
/// activated (Active, Deactivated, Compromised).
fn check_process(meta: &ObjectMeta, what: &str) -> Result<(), ServiceError> {
    if matches!(meta.state, State::PreActive) || meta.state.is_destroyed() {
        return Err(ServiceError::WrongState(format!(
            "object {} is {}; it cannot {what}",
            meta.id, meta.state
        )));
    }
    Ok(())
}

fn random(len: usize) -> Result<Vec<u8>, ServiceError> {
    let mut v = vec![0u8; len];
    getrandom::fill(&mut v).map_err(|_| ServiceError::Crypto("no OS randomness".into()))?;
    Ok(v)
}

fn seal<C: Aead + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    let cipher = C::new_from_slice(key).map_err(|_| ServiceError::Crypto("AES key".into()))?;
    let nonce = <&aes_gcm::aead::Nonce<C>>::try_from(nonce).map_err(|_| {
        ServiceError::InvalidArgument("IV/Counter/Nonce: AES-GCM takes a 12-byte nonce".into())
    })?;
    cipher
        .encrypt(nonce, Payload { msg: data, aad })
        .map_err(|_| ServiceError::Crypto("AES-GCM".into()))
}

fn open<C: Aead + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    let cipher = C::new_from_slice(key).map_err(|_| ServiceError::Crypto("AES key".into()))?;
    let nonce = <&aes_gcm::aead::Nonce<C>>::try_from(nonce).map_err(|_| {
        ServiceError::InvalidArgument("IV/Counter/Nonce: AES-GCM takes a 12-byte nonce".into())
    })?;
    cipher
        .decrypt(nonce, Payload { msg, aad })
        .map_err(|_| ServiceError::Crypto("AES-GCM authentication failed".into()))
}

/// Runs `$f::<AesGcm<AES, U12, TAG>>(args)` for the key size and tag length given.
macro_rules! gcm_dispatch {
    ($f:ident, $key_len:expr, $tag_len:expr, ($($arg:expr),*)) => {{
        use aes_gcm::aead::consts::{U12, U13, U14, U15, U16};
        use aes_gcm::AesGcm;
        match ($key_len, $tag_len) {
            (16, 12) => $f::<AesGcm<aes::Aes128, U12, U12>>($($arg),*),
            (16, 13) => $f::<AesGcm<aes::Aes128, U12, U13>>($($arg),*),
            (16, 14) => $f::<AesGcm<aes::Aes128, U12, U14>>($($arg),*),
            (16, 15) => $f::<AesGcm<aes::Aes128, U12, U15>>($($arg),*),
            (16, 16) => $f::<AesGcm<aes::Aes128, U12, U16>>($($arg),*),
            (24, 12) => $f::<AesGcm<aes::Aes192, U12, U12>>($($arg),*),
            (24, 13) => $f::<AesGcm<aes::Aes192, U12, U13>>($($arg),*),
            (24, 14) => $f::<AesGcm<aes::Aes192, U12, U14>>($($arg),*),
            (24, 15) => $f::<AesGcm<aes::Aes192, U12, U15>>($($arg),*),
            (24, 16) => $f::<AesGcm<aes::Aes192, U12, U16>>($($arg),*),
            (32, 12) => $f::<AesGcm<aes::Aes256, U12, U12>>($($arg),*),
            (32, 13) => $f::<AesGcm<aes::Aes256, U12, U13>>($($arg),*),
            (32, 14) => $f::<AesGcm<aes::Aes256, U12, U14>>($($arg),*),
            (32, 15) => $f::<AesGcm<aes::Aes256, U12, U15>>($($arg),*),
            (32, 16) => $f::<AesGcm<aes::Aes256, U12, U16>>($($arg),*),
            (16 | 24 | 32, _) => Err(ServiceError::InvalidArgument(
                "tag length: AES-GCM tags are 12 to 16 bytes".into(),
            )),
            _ => Err(ServiceError::WrongUse("AES-GCM needs a 128-, 192- or 256-bit key".into())),
        }
    }};
}

/// AES-GCM with a 96-bit nonce and a `tag_len`-byte tag (12 to 16).
fn aes_gcm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
    tag_len: usize,
) -> Result<(Vec<u8>, Vec<u8>), ServiceError> {
    let mut out: Vec<u8> = gcm_dispatch!(seal, key.len(), tag_len, (key, nonce, aad, data))?;
    let tag = out.split_off(out.len() - tag_len);
    Ok((out, tag))
}

fn aes_gcm_decrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    let mut msg = data.to_vec();
    msg.extend_from_slice(tag);
    gcm_dispatch!(open, key.len(), tag.len(), (key, nonce, aad, &msg))
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, ServiceError>
where
    C: aes::cipher::BlockCipherEncrypt + aes::cipher::KeyInit,
{
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
    Ok(cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| ServiceError::Crypto("AES key".into()))?
        .encrypt_padded_vec::<Pkcs7>(data))
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, ServiceError>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
{
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
    cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| ServiceError::Crypto("AES key".into()))?
        .decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| ServiceError::Crypto("AES-CBC: bad padding or length".into()))
}

fn aes_cbc(key: &[u8], iv: &[u8], data: &[u8], encrypt: bool) -> Result<Vec<u8>, ServiceError> {
    if iv.len() != 16 {
        return Err(ServiceError::InvalidArgument(
            "IV/Counter/Nonce: AES-CBC takes a 16-byte IV".into(),
        ));
    }
    match (key.len(), encrypt) {
        (16, true) => cbc_encrypt::<aes::Aes128>(key, iv, data),
        (24, true) => cbc_encrypt::<aes::Aes192>(key, iv, data),
        (32, true) => cbc_encrypt::<aes::Aes256>(key, iv, data),
        (16, false) => cbc_decrypt::<aes::Aes128>(key, iv, data),
        (24, false) => cbc_decrypt::<aes::Aes192>(key, iv, data),
        (32, false) => cbc_decrypt::<aes::Aes256>(key, iv, data),
        _ => Err(ServiceError::WrongUse(
            "AES-CBC needs a 128-, 192- or 256-bit key".into(),
        )),
    }
}

impl KeyService {
    fn symmetric(meta: &ObjectMeta) -> Result<(), ServiceError> {
        if meta.object_type != ObjectType::SymmetricKey || meta.algorithm != Some(Algorithm::Aes) {
            return Err(ServiceError::WrongUse(format!(
                "object {} is not an AES key",
                meta.id
            )));
        }
        Ok(())
    }

    /// Encrypts `data` with an Active AES key.
    pub async fn encrypt(
        &self,
        who: &Principal,
        id: &str,
        mode: CipherMode,
        iv: Option<Vec<u8>>,
        aad: Option<Vec<u8>>,
        data: &[u8],
    ) -> Result<Encrypted, ServiceError> {
        let r = self.encrypt_inner(who, id, mode, iv, aad, data).await;
        self.audit_read(who, "key.encrypt", Some(id), r).await
    }

    /// Decrypts with an AES key that is Active, Deactivated or Compromised.
    #[allow(clippy::too_many_arguments)]
    pub async fn decrypt(
        &self,
        who: &Principal,
        id: &str,
        mode: CipherMode,
        iv: &[u8],
        aad: Option<&[u8]>,
        tag: Option<&[u8]>,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let r = self.decrypt_inner(who, id, mode, iv, aad, tag, data).await;
        self.audit_read(who, "key.decrypt", Some(id), r).await
    }

    /// Signs `data` with an Active private key.
    pub async fn sign(
        &self,
        who: &Principal,
        id: &str,
        scheme: SignatureScheme,
        data: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let r = self.sign_inner(who, id, scheme, data).await;
        self.audit_read(who, "key.sign", Some(id), r).await
    }

    /// Verifies a signature with a public key (or the public half of a private key).
    pub async fn verify(
        &self,
        who: &Principal,
        id: &str,
        scheme: SignatureScheme,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, ServiceError> {
        let r = self.verify_inner(who, id, scheme, data, signature).await;
        self.audit_read(who, "key.verify", Some(id), r).await
    }

    async fn encrypt_inner(
        &self,
        who: &Principal,
        id: &str,
        mode: CipherMode,
        iv: Option<Vec<u8>>,
        aad: Option<Vec<u8>>,
        data: &[u8],
    ) -> Result<Encrypted, ServiceError> {
        let (meta, key) = self.unwrap_material(who, id).await?;
        Self::symmetric(&meta)?;
        check_protect(&meta, "encrypt")?;
        check_mask(&meta, MASK_ENCRYPT, "encrypt")?;
        let out = match mode {
            CipherMode::Gcm { tag_len } => {
                let iv = match iv {
                    Some(v) => v,
                    None => random(12)?,
                };
                let (data, tag) = aes_gcm_encrypt(
                    key.expose_secret(),
                    &iv,
                    aad.as_deref().unwrap_or(&[]),
                    data,
                    tag_len,
                )?;
                Encrypted {
                    data,
                    iv,
                    tag: Some(tag),
                }
            }
            CipherMode::Cbc => {
                let iv = match iv {
                    Some(v) => v,
                    None => random(16)?,
                };
                Encrypted {
                    data: aes_cbc(key.expose_secret(), &iv, data, true)?,
                    iv,
                    tag: None,
                }
            }
        };
        Ok(out)
    }

    /// Decrypts with an AES key that is Active, Deactivated or Compromised.
    #[allow(clippy::too_many_arguments)]
    async fn decrypt_inner(
        &self,
        who: &Principal,
        id: &str,
        mode: CipherMode,
        iv: &[u8],
        aad: Option<&[u8]>,
        tag: Option<&[u8]>,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let (meta, key) = self.unwrap_material(who, id).await?;
        Self::symmetric(&meta)?;
        check_process(&meta, "decrypt")?;
        check_mask(&meta, MASK_DECRYPT, "decrypt")?;
        let out = match mode {
            CipherMode::Gcm { tag_len } => {
                let tag = tag.filter(|t| t.len() == tag_len).ok_or_else(|| {
                    ServiceError::InvalidArgument(
                        "tag: AES-GCM decryption needs the tag, of the tag length given".into(),
                    )
                })?;
                aes_gcm_decrypt(key.expose_secret(), iv, aad.unwrap_or(&[]), data, tag)?
            }
            CipherMode::Cbc => aes_cbc(key.expose_secret(), iv, data, false)?,
        };
        Ok(Zeroizing::new(out))
    }

    /// Signs `data` with an Active private key.
    async fn sign_inner(
        &self,
        who: &Principal,
        id: &str,
        scheme: SignatureScheme,
        data: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let (meta, key) = self.unwrap_material(who, id).await?;
        if meta.object_type != ObjectType::PrivateKey {
            return Err(ServiceError::WrongUse(format!(
                "object {} is not a private key",
                meta.id
            )));
        }
        check_protect(&meta, "sign")?;
        check_mask(&meta, MASK_SIGN, "sign")?;
        let (alg, bits) = (
            meta.algorithm.unwrap_or(Algorithm::Rsa),
            meta.length.unwrap_or(0),
        );
        let sig = asymmetric::sign(alg, bits, &key, scheme, data)?;
        Ok(sig)
    }

    /// Verifies a signature with a public key (or the public half of a private key).
    async fn verify_inner(
        &self,
        who: &Principal,
        id: &str,
        scheme: SignatureScheme,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, ServiceError> {
        let meta = self.read_meta(who, id).await?;
        let public_id = match meta.object_type {
            ObjectType::PublicKey => meta.id.clone(),
            ObjectType::PrivateKey => meta
                .attributes
                .links
                .iter()
                .find(|l| l.kind == LinkKind::PublicKey)
                .map(|l| l.id.clone())
                .ok_or_else(|| {
                    ServiceError::WrongUse(format!(
                        "private key {} has no linked public key",
                        meta.id
                    ))
                })?,
            _ => {
                return Err(ServiceError::WrongUse(format!(
                    "object {} is not a public key",
                    meta.id
                )))
            }
        };
        let (public, spki) = self.unwrap_material(who, &public_id).await?;
        check_process(&public, "verify")?;
        check_mask(&public, MASK_VERIFY, "verify")?;
        let (alg, bits) = (
            public.algorithm.unwrap_or(Algorithm::Rsa),
            public.length.unwrap_or(0),
        );
        let ok = asymmetric::verify(alg, bits, spki.expose_secret(), scheme, data, signature)?;
        Ok(ok)
    }
}

impl KeyService {
    /// `len` random bytes from the root of trust.
    pub async fn random(&self, who: &Principal, len: usize) -> Result<KeyMaterial, ServiceError> {
        let r = self.rot.random(len).map_err(ServiceError::from);
        self.audit_read(who, "rng.retrieve", None, r).await
    }
}
