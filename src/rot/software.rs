//! Software root of trust: master keys sealed in a file under a passphrase
//! (Argon2id → AES-256-GCM). For the zero-setup quick start and development only:
//! the master key exists in process memory, which an HSM is there to prevent.
//!
//! Sealed file (JSON): format tag, Argon2id parameters and salt, GCM nonce, and the
//! ciphertext of a small binary secrets record (see `Secrets::encode`). The file is
//! rewritten atomically (temp file, fsync, rename, fsync of the directory) whenever a
//! key is added, so a crash leaves the old or the new file, never a torn one.

use super::{
    binding_tag, Health, MasterKeyId, RootOfTrust, RotError, RotKind, WrapMechanism, WrappedKey,
    BINDING_TAG_LEN,
};
use crate::secret::{ct_eq, KeyMaterial};
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::Aes256Gcm;
use aes_kw::KwpAes256;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use secrecy::{ExposeSecret, SecretString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use zeroize::Zeroizing;

const FORMAT: &str = "clavis-sealed-rot/1";
const AAD: &[u8] = b"clavis-sealed-rot/1";
// Argon2id at 64 MiB and 2 passes: about 70 ms here, paid once per node start.
const M_COST_KIB: u32 = 65536;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct SealedFile {
    format: String,
    kdf: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

struct MasterKey {
    id: MasterKeyId,
    key: Zeroizing<[u8; 32]>,
}

struct Signing {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: EcdsaKeyPair,
}

#[derive(Default)]
struct Secrets {
    master_keys: Vec<MasterKey>,
    signing: Option<Signing>,
}

impl Secrets {
    /// `1 | u16 n | n × (u8 id_len | id | 32 key bytes) | u16 pkcs8_len | pkcs8`
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(256));
        out.push(1u8);
        out.extend_from_slice(&(self.master_keys.len() as u16).to_be_bytes());
        for mk in &self.master_keys {
            let id = mk.id.0.as_bytes();
            out.push(id.len() as u8);
            out.extend_from_slice(id);
            out.extend_from_slice(&mk.key[..]);
        }
        let pkcs8: &[u8] = self.signing.as_ref().map(|s| &s.pkcs8[..]).unwrap_or(&[]);
        out.extend_from_slice(&(pkcs8.len() as u16).to_be_bytes());
        out.extend_from_slice(pkcs8);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Secrets, &'static str> {
        let mut r = Reader { b: bytes };
        if r.take(1)? != [1] {
            return Err("unknown secrets version");
        }
        let n = r.u16()?;
        let mut master_keys = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let id_len = usize::from(r.take(1)?[0]);
            let id = std::str::from_utf8(r.take(id_len)?).map_err(|_| "master key ID not UTF-8")?;
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(r.take(32)?);
            master_keys.push(MasterKey {
                id: MasterKeyId(id.to_owned()),
                key,
            });
        }
        let pkcs8_len = usize::from(r.u16()?);
        let signing = if pkcs8_len == 0 {
            None
        } else {
            let pkcs8 = Zeroizing::new(r.take(pkcs8_len)?.to_vec());
            let pair = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &pkcs8,
                &SystemRandom::new(),
            )
            .map_err(|_| "signing key is not valid PKCS#8")?;
            Some(Signing { pkcs8, pair })
        };
        if !r.b.is_empty() {
            return Err("trailing bytes");
        }
        Ok(Secrets {
            master_keys,
            signing,
        })
    }

    fn master(&self, id: &MasterKeyId) -> Result<&MasterKey, RotError> {
        self.master_keys
            .iter()
            .find(|m| &m.id == id)
            .ok_or_else(|| RotError::MasterKeyNotFound(id.clone()))
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.b.len() < n {
            return Err("truncated");
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Master keys in a passphrase-sealed file. See the module docs.
pub struct SoftwareRot {
    path: PathBuf,
    passphrase: SecretString,
    secrets: RwLock<Secrets>,
}

impl SoftwareRot {
    /// Creates a new, empty sealed file. Refuses to overwrite an existing one.
    pub fn create(path: &Path, passphrase: SecretString) -> Result<SoftwareRot, RotError> {
        if path.exists() {
            return Err(sealed_err(path, "already exists; refusing to overwrite"));
        }
        let rot = SoftwareRot {
            path: path.to_path_buf(),
            passphrase,
            secrets: RwLock::new(Secrets::default()),
        };
        rot.seal(&Secrets::default())?;
        Ok(rot)
    }

    /// Opens an existing sealed file with its passphrase.
    pub fn open(path: &Path, passphrase: SecretString) -> Result<SoftwareRot, RotError> {
        let text = std::fs::read_to_string(path).map_err(|e| sealed_err(path, &e.to_string()))?;
        let file: SealedFile = serde_json::from_str(&text)
            .map_err(|e| sealed_err(path, &format!("not a sealed file: {e}")))?;
        if file.format != FORMAT || file.kdf != "argon2id" {
            return Err(sealed_err(path, "unknown format"));
        }
        let decode = |s: &str, what: &str| {
            B64.decode(s)
                .map_err(|_| sealed_err(path, &format!("{what} is not base64")))
        };
        let salt = decode(&file.salt, "salt")?;
        let nonce = decode(&file.nonce, "nonce")?;
        let ciphertext = decode(&file.ciphertext, "ciphertext")?;
        let kek = derive_kek(
            &passphrase,
            &salt,
            file.m_cost_kib,
            file.t_cost,
            file.p_cost,
        )
        .map_err(|d| sealed_err(path, d))?;
        let cipher =
            Aes256Gcm::new_from_slice(&kek[..]).map_err(|_| RotError::Crypto("AES-256-GCM key"))?;
        let nonce = Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| sealed_err(path, "bad nonce length"))?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &ciphertext,
                        aad: AAD,
                    },
                )
                .map_err(|_| RotError::BadPassphrase(path.display().to_string()))?,
        );
        let secrets = Secrets::decode(&plain).map_err(|d| sealed_err(path, d))?;
        Ok(SoftwareRot {
            path: path.to_path_buf(),
            passphrase,
            secrets: RwLock::new(secrets),
        })
    }

    fn seal(&self, secrets: &Secrets) -> Result<(), RotError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        fill_random(&mut salt)?;
        fill_random(&mut nonce)?;
        let kek = derive_kek(&self.passphrase, &salt, M_COST_KIB, T_COST, P_COST)
            .map_err(|d| sealed_err(&self.path, d))?;
        let cipher =
            Aes256Gcm::new_from_slice(&kek[..]).map_err(|_| RotError::Crypto("AES-256-GCM key"))?;
        let plain = secrets.encode();
        let ciphertext = cipher
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .map_err(|_| RotError::Crypto("AES-256-GCM seal"))?;
        let file = SealedFile {
            format: FORMAT.into(),
            kdf: "argon2id".into(),
            m_cost_kib: M_COST_KIB,
            t_cost: T_COST,
            p_cost: P_COST,
            salt: B64.encode(salt),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|_| RotError::Crypto("serialize sealed file"))?;
        write_atomically(&self.path, &json).map_err(|e| sealed_err(&self.path, &e.to_string()))
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Secrets>, RotError> {
        self.secrets
            .read()
            .map_err(|_| RotError::Crypto("secrets lock poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Secrets>, RotError> {
        self.secrets
            .write()
            .map_err(|_| RotError::Crypto("secrets lock poisoned"))
    }
}

fn sealed_err(path: &Path, detail: &str) -> RotError {
    RotError::SealedFile {
        path: path.display().to_string(),
        detail: detail.to_owned(),
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), RotError> {
    getrandom::fill(buf).map_err(|_| RotError::Crypto("operating system random generator"))
}

fn derive_kek(
    passphrase: &SecretString,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, &'static str> {
    let params = argon2::Params::new(m, t, p, Some(32)).map_err(|_| "bad Argon2 parameters")?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), salt, &mut out[..])
        .map_err(|_| "Argon2id failed")?;
    Ok(out)
}

/// Writes `data` to `path` so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        set_owner_only(&f)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn set_owner_only(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
}

impl RootOfTrust for SoftwareRot {
    fn kind(&self) -> RotKind {
        RotKind::Software
    }

    fn describe(&self) -> String {
        format!("software (sealed file {})", self.path.display())
    }

    fn generate_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        if id.0.len() > 64 {
            return Err(RotError::Unsupported(
                "master key IDs are at most 64 bytes".into(),
            ));
        }
        let mut guard = self.write()?;
        if guard.master_keys.iter().any(|m| &m.id == id) {
            return Err(RotError::MasterKeyExists(id.clone()));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        fill_random(&mut key[..])?;
        guard.master_keys.push(MasterKey {
            id: id.clone(),
            key,
        });
        if let Err(e) = self.seal(&guard) {
            guard.master_keys.pop();
            return Err(e);
        }
        Ok(())
    }

    fn has_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        Ok(self.read()?.master_keys.iter().any(|m| &m.id == id))
    }

    fn destroy_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        let mut guard = self.write()?;
        let Some(pos) = guard.master_keys.iter().position(|m| &m.id == id) else {
            return Ok(());
        };
        let removed = guard.master_keys.remove(pos);
        if let Err(e) = self.seal(&guard) {
            guard.master_keys.insert(pos, removed);
            return Err(e);
        }
        Ok(())
    }

    fn wrap(
        &self,
        master: &MasterKeyId,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<WrappedKey, RotError> {
        let guard = self.read()?;
        let mk = guard.master(master)?;
        let mut input = Zeroizing::new(Vec::with_capacity(key.len() + BINDING_TAG_LEN));
        input.extend_from_slice(key.expose_secret());
        input.extend_from_slice(&binding_tag(object_id));
        let kwp =
            KwpAes256::new_from_slice(&mk.key[..]).map_err(|_| RotError::Crypto("KWP key"))?;
        let mut out = vec![0u8; input.len().div_ceil(8) * 8 + 8];
        let len = kwp
            .wrap_key(&input, &mut out)
            .map_err(|_| RotError::Crypto("AES key wrap with padding"))?
            .len();
        out.truncate(len);
        Ok(WrappedKey {
            master_key_id: master.clone(),
            mechanism: WrapMechanism::AesKeyWrapPad,
            ciphertext: out,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<KeyMaterial, RotError> {
        if wrapped.mechanism != WrapMechanism::AesKeyWrapPad {
            return Err(RotError::Unsupported(
                "the software root of trust wraps with AES-KWP only".into(),
            ));
        }
        let guard = self.read()?;
        let mk = guard.master(&wrapped.master_key_id)?;
        let fail = || RotError::UnwrapFailed(wrapped.master_key_id.clone());
        if wrapped.ciphertext.len() < 16 {
            return Err(fail());
        }
        let kwp =
            KwpAes256::new_from_slice(&mk.key[..]).map_err(|_| RotError::Crypto("KWP key"))?;
        let mut buf = Zeroizing::new(vec![0u8; wrapped.ciphertext.len() - 8]);
        let plain = kwp
            .unwrap_key(&wrapped.ciphertext, &mut buf)
            .map_err(|_| fail())?;
        if plain.len() < BINDING_TAG_LEN {
            return Err(fail());
        }
        let (key, tag) = plain.split_at(plain.len() - BINDING_TAG_LEN);
        if !ct_eq(tag, &binding_tag(object_id)) {
            return Err(fail());
        }
        Ok(KeyMaterial::from_slice(key))
    }

    fn random(&self, len: usize) -> Result<KeyMaterial, RotError> {
        let mut buf = vec![0u8; len];
        fill_random(&mut buf)?;
        Ok(KeyMaterial::new(buf))
    }

    fn ensure_signing_key(&self) -> Result<(), RotError> {
        let mut guard = self.write()?;
        if guard.signing.is_some() {
            return Ok(());
        }
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| RotError::Crypto("generate P-256 key"))?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| RotError::Crypto("load P-256 key"))?;
        guard.signing = Some(Signing { pkcs8, pair });
        if let Err(e) = self.seal(&guard) {
            guard.signing = None;
            return Err(e);
        }
        Ok(())
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RotError> {
        let guard = self.read()?;
        let signing = guard.signing.as_ref().ok_or(RotError::NoSigningKey)?;
        let sig = signing
            .pair
            .sign(&SystemRandom::new(), data)
            .map_err(|_| RotError::Crypto("ECDSA sign"))?;
        Ok(sig.as_ref().to_vec())
    }

    fn signing_public_key(&self) -> Result<Vec<u8>, RotError> {
        let guard = self.read()?;
        let signing = guard.signing.as_ref().ok_or(RotError::NoSigningKey)?;
        Ok(signing.pair.public_key().as_ref().to_vec())
    }

    fn health(&self) -> Health {
        match self.read() {
            Ok(s) => Health {
                ok: true,
                detail: format!(
                    "software root of trust, {} master key(s) loaded",
                    s.master_keys.len()
                ),
            },
            Err(e) => Health {
                ok: false,
                detail: e.to_string(),
            },
        }
    }
}
