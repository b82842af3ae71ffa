//! PKCS#11 root of trust: the master keys live in an HSM and never leave it.
//!
//! # How a key is wrapped
//! * `aes-key-wrap-pad` (RFC 5649): the plaintext key plus `binding_tag(object_id)` is
//!   imported as a temporary, extractable session object, wrapped with
//!   `C_WrapKey` under the master key, and destroyed. Unwrapping does the reverse
//!   (`C_UnwrapKey` into a temporary session object, read `CKA_VALUE`, destroy) and
//!   then checks the binding tag in constant time. KWP has no associated data, so
//!   the tag is what stops a database writer from swapping two rows' blobs.
//! * `aes-gcm`: `C_Encrypt`/`C_Decrypt` with `CKM_AES_GCM` under the master key,
//!   the object ID as associated data, for HSMs that cannot wrap with KWP.
//!
//! # Sessions
//! cryptoki's `Session` is `Send` but not `Sync`, and one PKCS#11 session runs one
//! operation at a time; a pool of R/W sessions (opened after the user login, which
//! PKCS#11 shares between all sessions of the application) lets concurrent callers
//! proceed in parallel. A session that reports a session-level failure is closed
//! and replaced on the next checkout, logging in again if the token forgot the login.
//!
//! # Handles
//! Object handles are valid across all sessions of one application, so master-key
//! and signing-key handles are looked up by label once and cached. Closing the
//! application's last session invalidates them (SoftHSM2 does), so the cache is
//! dropped whenever a session is discarded or the token calls a handle invalid, and
//! the failed call is retried once on a fresh lookup.
//!
//! Errors name the PKCS#11 function that failed; none carries the PIN or key bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::profile::{
    resolve_module_path, HsmProfile, ProfileWrapMechanism, MAX_SESSION_POOL_SIZE,
};
use super::{
    binding_tag, Health, MasterKeyId, RootOfTrust, RotError, RotKind, WrapMechanism, WrappedKey,
    BINDING_TAG_LEN,
};
use crate::config::Pkcs11Config;
use crate::secret::{ct_eq, KeyMaterial};

mod session;
use session::{ck_detail, ck_err, rv_of, PooledSession, SessionPool};

/// Label of the audit-checkpoint signing key pair in the token.
pub const SIGNING_KEY_LABEL: &str = "clavis-audit-signing";

/// DER encoding of the OID of NIST P-256 (prime256v1), the `CKA_EC_PARAMS` value.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Length of an uncompressed SEC1 P-256 point.
const P256_POINT_LEN: usize = 65;

/// Length of an ECDSA P-256 signature as `r || s`.
const P256_SIGNATURE_LEN: usize = 64;

/// GCM nonce length: 96 bits is the length GCM is designed for.
const GCM_NONCE_LEN: usize = 12;

/// GCM tag length: the full 128 bits.
const GCM_TAG_LEN: usize = 16;

/// Master key IDs are stored with a one-byte length in the envelope.
const MAX_MASTER_KEY_ID_LEN: usize = 255;

/// A root of trust in an HSM reached through a PKCS#11 module.
///
/// Dropping it closes its sessions (the token forgets the login when the
/// application's last session closes). The module is not finalized: another user
/// in the process, such as a second root of trust on another token, may share it.
pub struct Pkcs11Rot {
    module_path: PathBuf,
    token_label: String,
    profile: HsmProfile,
    pool: SessionPool,
    /// Handles of master keys already looked up, by ID, with the pool epoch of the lookup.
    master_keys: RwLock<HashMap<MasterKeyId, (ObjectHandle, u64)>>,
    /// Handles of the signing key pair and its public point once known, with the pool epoch.
    signing_key: RwLock<Option<(SigningKey, u64)>>,
    /// Serializes "look up, then create" of master and signing keys so two callers
    /// cannot both create an object with the same label.
    create_lock: Mutex<()>,
    /// `root_of_trust.master_key_exportable`: master keys are made extractable (only
    /// ever wrapped out, under quorum) and extractable ones are accepted.
    master_key_exportable: bool,
}

#[derive(Clone)]
struct SigningKey {
    private: ObjectHandle,
    public_point: Vec<u8>,
}

impl Pkcs11Rot {
    /// Loads the profile and the module, finds the token by label, logs the user
    /// in and opens the session pool.
    ///
    /// `config_dir` is the directory of the configuration file: relative profile
    /// and module paths are resolved against it. The PIN comes from `cfg.pin`, or
    /// else from the environment variable named by `cfg.pin_env`.
    pub fn open(cfg: &Pkcs11Config, config_dir: &Path) -> Result<Pkcs11Rot, RotError> {
        let profile = HsmProfile::load(&config_dir.join(&cfg.profile))?;
        if profile.wrap_mechanism == ProfileWrapMechanism::AesKeyWrapKwp {
            // cryptoki 0.12 builds mechanisms only from the numbers it knows or from
            // vendor-defined ones (>= 0x80000000); 0x210B is neither, and building a raw
            // CK_MECHANISM needs unsafe code, which this crate forbids.
            return Err(RotError::Unsupported(format!(
                "profile {}: wrap_mechanism = \"aes-key-wrap-kwp\" (CKM_AES_KEY_WRAP_KWP, 0x210B) \
                 cannot be called through cryptoki 0.12; use \"aes-key-wrap-pad\" if the HSM \
                 implements RFC 5649 as 0x210A, or \"aes-gcm\"",
                profile.name
            )));
        }
        let pool_size = cfg.session_pool_size.unwrap_or(profile.session_pool_size);
        if pool_size == 0 || pool_size > MAX_SESSION_POOL_SIZE {
            return Err(RotError::Unsupported(format!(
                "root_of_trust.session_pool_size must be between 1 and {MAX_SESSION_POOL_SIZE}"
            )));
        }
        let pin = read_pin(cfg)?;
        let module_path = match &cfg.module {
            Some(m) => resolve_module_path(config_dir, m),
            None => profile.resolve_module()?,
        };
        let ctx = Pkcs11::new(&module_path).map_err(|e| RotError::Module {
            path: module_path.display().to_string(),
            detail: ck_detail(&e),
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            // Another root of trust (or a test) in this process initialized the module
            // already; PKCS#11 allows one initialization per process, which both share.
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(ck_err("C_Initialize", &e)),
        }
        let slot = find_token(&ctx, &cfg.token_label)?;
        if profile.quirks.check_mechanisms {
            check_mechanism(&ctx, slot, profile.wrap_mechanism)?;
        }
        let pool = SessionPool::open(ctx, slot, pin, pool_size)?;
        Ok(Pkcs11Rot {
            module_path,
            token_label: cfg.token_label.clone(),
            profile,
            pool,
            master_keys: RwLock::new(HashMap::new()),
            signing_key: RwLock::new(None),
            create_lock: Mutex::new(()),
            master_key_exportable: cfg.master_key_exportable,
        })
    }

    /// The profile in use.
    pub fn profile(&self) -> &HsmProfile {
        &self.profile
    }

    /// Path of the loaded PKCS#11 module.
    pub fn module_path(&self) -> &Path {
        &self.module_path
    }

    /// Label of the token holding the master keys.
    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    /// Number of sessions in the pool.
    pub fn session_pool_size(&self) -> usize {
        self.pool.size
    }

    /// The cached handle of master key `id`, looking it up by label on a miss.
    fn master_key(
        &self,
        s: &mut PooledSession<'_>,
        id: &MasterKeyId,
    ) -> Result<Option<ObjectHandle>, RotError> {
        let epoch = self.pool.epoch();
        if let Some((h, e)) = read_lock(&self.master_keys).get(id) {
            if *e == epoch {
                return Ok(Some(*h));
            }
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(id.0.as_bytes().to_vec()),
        ];
        // Private objects are invisible to a session that is not logged in; a lost
        // login must not look like a missing key.
        s.ensure_logged_in()?;
        let found = s
            .call(|s| s.find_objects(&template))
            .map_err(|e| ck_err("C_FindObjects", &e))?;
        let handle = match found.as_slice() {
            [] => return Ok(None),
            [h] => *h,
            many => {
                return Err(RotError::Pkcs11 {
                    function: "C_FindObjects",
                    detail: format!(
                        "{} AES keys are labelled {id}; a master key label must be unique",
                        many.len()
                    ),
                })
            }
        };
        // A key someone created by hand might be extractable; using it would defeat
        // the point of an HSM, so refuse it rather than wrap under it, unless the
        // operator chose exportable master keys for quorum-approved backups.
        let attrs = s
            .call(|s| {
                s.get_attributes(
                    handle,
                    &[AttributeType::Sensitive, AttributeType::Extractable],
                )
            })
            .map_err(|e| ck_err("C_GetAttributeValue", &e))?;
        let sensitive = attrs
            .iter()
            .any(|a| matches!(a, Attribute::Sensitive(true)));
        let never_leaves = attrs
            .iter()
            .any(|a| matches!(a, Attribute::Extractable(false)));
        if !sensitive {
            return Err(RotError::Unsupported(format!(
                "master key {id} in the token is not sensitive; refusing to use it"
            )));
        }
        if !never_leaves && !self.master_key_exportable {
            return Err(RotError::Unsupported(format!(
                "master key {id} in the token is extractable; refusing to use it (set \
                 root_of_trust.master_key_exportable = true only if extractable master keys \
                 are what you chose, for master-key backups)"
            )));
        }
        write_lock(&self.master_keys).insert(id.clone(), (handle, epoch));
        Ok(Some(handle))
    }

    fn require_master_key(
        &self,
        s: &mut PooledSession<'_>,
        id: &MasterKeyId,
    ) -> Result<ObjectHandle, RotError> {
        self.master_key(s, id)?
            .ok_or_else(|| RotError::MasterKeyNotFound(id.clone()))
    }

    /// Runs `f` on a pooled session. If it fails because the session broke or a
    /// cached handle went stale, forgets the cached handles and runs it once more on
    /// another (possibly new, freshly logged-in) session, so a token restart or an
    /// external logout costs one retry rather than an error.
    fn with_session<T>(
        &self,
        mut f: impl FnMut(&mut PooledSession<'_>) -> Result<T, RotError>,
    ) -> Result<T, RotError> {
        let mut s = self.pool.get()?;
        let first = f(&mut s);
        if first.is_ok() || !(s.broken || s.stale_handle) {
            return first;
        }
        if s.stale_handle {
            write_lock(&self.master_keys).clear();
            *write_lock(&self.signing_key) = None;
        }
        drop(s);
        let mut s = self.pool.get()?;
        f(&mut s)
    }

    /// Template attributes of a temporary key object.
    fn temporary_key_template(&self, value: Option<Vec<u8>>) -> SecretTemplate {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(!self.profile.quirks.session_objects_for_temporary_keys),
            Attribute::Private(true),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ];
        if let Some(v) = value {
            t.push(Attribute::Value(v));
        }
        SecretTemplate(t)
    }

    fn wrap_kwp(
        &self,
        s: &mut PooledSession<'_>,
        mk: ObjectHandle,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<Vec<u8>, RotError> {
        let mut value = Vec::with_capacity(key.len() + BINDING_TAG_LEN);
        value.extend_from_slice(key.expose_secret());
        value.extend_from_slice(&binding_tag(object_id));
        let value_len = value.len();
        // The template owns the plaintext and wipes it on drop, on every path.
        let template = self.temporary_key_template(Some(value));
        let temp = s
            .call(|s| s.create_object(&template.0))
            .map_err(|e| ck_err("C_CreateObject", &e))?;
        drop(template);
        let wrapped = s.call(|s| s.wrap_key(&Mechanism::AesKeyWrapPad, mk, temp));
        let destroyed = s.call(|s| s.destroy_object(temp));
        let wrapped = wrapped.map_err(|e| ck_err("C_WrapKey", &e))?;
        destroyed.map_err(|e| ck_err("C_DestroyObject", &e))?;
        // RFC 5649 output length is known in advance; a module that returns anything
        // else implements a different mechanism under this number.
        let expected = value_len.div_ceil(8) * 8 + 8;
        if wrapped.len() != expected {
            return Err(RotError::Pkcs11 {
                function: "C_WrapKey",
                detail: format!(
                    "returned {} bytes where RFC 5649 gives {expected}; the profile's \
                     wrap_mechanism does not match this HSM",
                    wrapped.len()
                ),
            });
        }
        Ok(wrapped)
    }

    fn unwrap_kwp(
        &self,
        s: &mut PooledSession<'_>,
        wrapped: &WrappedKey,
        mk: ObjectHandle,
        object_id: &str,
    ) -> Result<KeyMaterial, RotError> {
        let master = &wrapped.master_key_id;
        let template = self.temporary_key_template(None);
        let temp = match s.call(|s| {
            s.unwrap_key(
                &Mechanism::AesKeyWrapPad,
                mk,
                &wrapped.ciphertext,
                &template.0,
            )
        }) {
            Ok(h) => h,
            Err(e) if is_integrity_failure(&e) => {
                return Err(RotError::UnwrapFailed(master.clone()))
            }
            Err(e) => return Err(ck_err("C_UnwrapKey", &e)),
        };
        // Read, then destroy whatever the read gave, so the object never outlives
        // this call even when the read fails.
        let read = s.call(|s| s.get_attributes(temp, &[AttributeType::Value]));
        let destroyed = s.call(|s| s.destroy_object(temp));
        let mut value = None;
        for attr in read.map_err(|e| ck_err("C_GetAttributeValue", &e))? {
            if let Attribute::Value(v) = attr {
                value = Some(Zeroizing::new(v));
            }
        }
        destroyed.map_err(|e| ck_err("C_DestroyObject", &e))?;
        let value = value.ok_or_else(|| RotError::Pkcs11 {
            function: "C_GetAttributeValue",
            detail: "the unwrapped key's CKA_VALUE is not readable".into(),
        })?;
        split_bound_key(&value, &binding_tag(object_id))
            .map(KeyMaterial::from_slice)
            .ok_or_else(|| RotError::UnwrapFailed(master.clone()))
    }

    fn wrap_gcm(
        &self,
        s: &mut PooledSession<'_>,
        mk: ObjectHandle,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<Vec<u8>, RotError> {
        let mut nonce = [0u8; GCM_NONCE_LEN];
        if !self.profile.quirks.gcm_iv_from_hsm {
            s.call(|s| s.generate_random_slice(&mut nonce))
                .map_err(|e| ck_err("C_GenerateRandom", &e))?;
        }
        let ct = {
            let params = GcmParams::new(
                &mut nonce,
                object_id.as_bytes(),
                (GCM_TAG_LEN as u64 * 8).into(),
            )
            .map_err(|e| ck_err("C_EncryptInit", &e))?;
            let mechanism = Mechanism::AesGcm(params);
            s.call(|s| s.encrypt(&mechanism, mk, key.expose_secret()))
                .map_err(|e| ck_err("C_Encrypt", &e))?
        };
        if nonce == [0u8; GCM_NONCE_LEN] {
            // With gcm_iv_from_hsm the token writes its IV into our buffer; an all-zero
            // IV means it did not, and reusing a fixed IV would be fatal for GCM.
            return Err(RotError::Pkcs11 {
                function: "C_Encrypt",
                detail: "the GCM IV is all zeros (the HSM did not generate one)".into(),
            });
        }
        if ct.len() != key.len() + GCM_TAG_LEN {
            return Err(RotError::Pkcs11 {
                function: "C_Encrypt",
                detail: format!(
                    "returned {} bytes for {} bytes of AES-GCM input",
                    ct.len(),
                    key.len()
                ),
            });
        }
        let mut out = Vec::with_capacity(GCM_NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn unwrap_gcm(
        &self,
        s: &mut PooledSession<'_>,
        wrapped: &WrappedKey,
        mk: ObjectHandle,
        object_id: &str,
    ) -> Result<KeyMaterial, RotError> {
        let master = &wrapped.master_key_id;
        if wrapped.ciphertext.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
            return Err(RotError::UnwrapFailed(master.clone()));
        }
        let (nonce, ct) = wrapped.ciphertext.split_at(GCM_NONCE_LEN);
        let mut nonce = <[u8; GCM_NONCE_LEN]>::try_from(nonce)
            .map_err(|_| RotError::UnwrapFailed(master.clone()))?;
        let params = GcmParams::new(
            &mut nonce,
            object_id.as_bytes(),
            (GCM_TAG_LEN as u64 * 8).into(),
        )
        .map_err(|e| ck_err("C_DecryptInit", &e))?;
        let mechanism = Mechanism::AesGcm(params);
        match s.call(|s| s.decrypt(&mechanism, mk, ct)) {
            Ok(plain) => Ok(KeyMaterial::new(plain)),
            Err(e) if is_integrity_failure(&e) => Err(RotError::UnwrapFailed(master.clone())),
            // A master key made for key wrapping has no CKA_DECRYPT: the envelope claims
            // a mechanism this master key never produced.
            Err(CkError::Pkcs11(RvError::KeyFunctionNotPermitted, _)) => {
                Err(RotError::UnwrapFailed(master.clone()))
            }
            Err(e) => Err(ck_err("C_Decrypt", &e)),
        }
    }

    /// Finds the signing key pair in the token, caching what was found.
    fn find_signing_key(&self, s: &mut PooledSession<'_>) -> Result<Option<SigningKey>, RotError> {
        let epoch = self.pool.epoch();
        if let Some((k, e)) = read_lock(&self.signing_key).as_ref() {
            if *e == epoch {
                return Ok(Some(k.clone()));
            }
        }
        let label = SIGNING_KEY_LABEL.as_bytes().to_vec();
        s.ensure_logged_in()?;
        let private = s
            .call(|s| {
                s.find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::Label(label.clone()),
                ])
            })
            .map_err(|e| ck_err("C_FindObjects", &e))?;
        let public = s
            .call(|s| {
                s.find_objects(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::Label(label.clone()),
                ])
            })
            .map_err(|e| ck_err("C_FindObjects", &e))?;
        let (private, public) = match (private.as_slice(), public.as_slice()) {
            ([], []) => return Ok(None),
            ([private], [public]) => (*private, *public),
            (pr, pu) => {
                return Err(RotError::Pkcs11 {
                    function: "C_FindObjects",
                    detail: format!(
                        "expected one EC private and one public key labelled {SIGNING_KEY_LABEL}, \
                         found {} and {}",
                        pr.len(),
                        pu.len()
                    ),
                })
            }
        };
        let attrs = s
            .call(|s| s.get_attributes(public, &[AttributeType::EcPoint]))
            .map_err(|e| ck_err("C_GetAttributeValue", &e))?;
        let raw = attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| RotError::Pkcs11 {
                function: "C_GetAttributeValue",
                detail: "the signing public key has no CKA_EC_POINT".into(),
            })?;
        let key = SigningKey {
            private,
            public_point: decode_ec_point(&raw)?,
        };
        *write_lock(&self.signing_key) = Some((key.clone(), epoch));
        Ok(Some(key))
    }

    /// Attributes of a master key, generated or imported from a backup.
    fn master_key_template(&self, id: &MasterKeyId) -> Vec<Attribute> {
        let gcm = self.profile.wrap_mechanism == ProfileWrapMechanism::AesGcm;
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(id.0.as_bytes().to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            // Extractable only for master-key backups; sensitive either way, so its
            // value can only ever leave wrapped (C_WrapKey), never in the clear.
            Attribute::Extractable(self.master_key_exportable),
            Attribute::Modifiable(false),
            // Wrap/unwrap in every mode, so a master key made under an aes-gcm profile
            // still serves if the profile later moves to key wrapping (CKA_MODIFIABLE is
            // false: attributes cannot be added later).
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            // Encrypt/decrypt only where the profile needs them: a KWP master key that
            // could also decrypt would let anyone with the PIN run raw AES on the token
            // with it, outside the wrap and unwrap templates.
            Attribute::Encrypt(gcm),
            Attribute::Decrypt(gcm),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
        ]
    }

    /// A session object holding `kek`, usable only to wrap and unwrap; the caller
    /// destroys it.
    fn import_kek(
        &self,
        s: &mut PooledSession<'_>,
        kek: &KeyMaterial,
    ) -> Result<ObjectHandle, RotError> {
        if kek.len() != 32 {
            return Err(RotError::Crypto("a master-key backup key is 32 bytes"));
        }
        let template = SecretTemplate(vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Value(kek.expose_secret().to_vec()),
        ]);
        s.call(|s| s.create_object(&template.0))
            .map_err(|e| ck_err("C_CreateObject", &e))
    }

    fn generate_master_key_in(
        &self,
        s: &mut PooledSession<'_>,
        id: &MasterKeyId,
    ) -> Result<(), RotError> {
        if self.master_key(s, id)?.is_some() {
            return Err(RotError::MasterKeyExists(id.clone()));
        }
        let mut template = self.master_key_template(id);
        template.push(Attribute::ValueLen(32.into()));
        let epoch = self.pool.epoch();
        let handle = s
            .call(|s| s.generate_key(&Mechanism::AesKeyGen, &template))
            .map_err(|e| ck_err("C_GenerateKey", &e))?;
        write_lock(&self.master_keys).insert(id.clone(), (handle, epoch));
        tracing::info!(master_key = %id, token = %self.token_label, "generated master key in the HSM");
        Ok(())
    }

    fn ensure_signing_key_in(&self, s: &mut PooledSession<'_>) -> Result<(), RotError> {
        if self.find_signing_key(s)?.is_some() {
            return Ok(());
        }
        let label = SIGNING_KEY_LABEL.as_bytes().to_vec();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::Label(label.clone()),
            Attribute::Id(label.clone()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.clone()),
            Attribute::Id(label),
        ];
        s.call(|s| {
            s.generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
        })
        .map_err(|e| ck_err("C_GenerateKeyPair", &e))?;
        // Read the pair back through the normal path so the cache and the checks on
        // the public point are the same as for a key found at startup.
        match self.find_signing_key(s)? {
            Some(_) => {
                tracing::info!(token = %self.token_label, "generated the audit signing key in the HSM");
                Ok(())
            }
            None => Err(RotError::Pkcs11 {
                function: "C_GenerateKeyPair",
                detail: "the generated signing key cannot be found by its label".into(),
            }),
        }
    }
}

impl RootOfTrust for Pkcs11Rot {
    fn kind(&self) -> RotKind {
        RotKind::Pkcs11
    }

    fn describe(&self) -> String {
        format!(
            "PKCS#11 module {}, token \"{}\", profile {}",
            self.module_path.display(),
            self.token_label,
            self.profile.name
        )
    }

    fn generate_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        if id.0.is_empty() || id.0.len() > MAX_MASTER_KEY_ID_LEN {
            return Err(RotError::Unsupported(format!(
                "master key IDs must be 1 to {MAX_MASTER_KEY_ID_LEN} bytes"
            )));
        }
        let _creating = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.with_session(|s| self.generate_master_key_in(s, id))
    }

    fn has_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        self.with_session(|s| Ok(self.master_key(s, id)?.is_some()))
    }

    fn destroy_master_key(&self, id: &MasterKeyId) -> Result<(), RotError> {
        let _creating = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.with_session(|s| {
            let Some(handle) = self.master_key(s, id)? else {
                return Ok(());
            };
            s.call(|s| s.destroy_object(handle))
                .map_err(|e| ck_err("C_DestroyObject", &e))?;
            write_lock(&self.master_keys).remove(id);
            tracing::info!(master_key = %id, token = %self.token_label, "destroyed master key in the HSM");
            Ok(())
        })
    }

    fn master_key_exportable(&self) -> bool {
        self.master_key_exportable
    }

    fn export_master_key(&self, id: &MasterKeyId, kek: &KeyMaterial) -> Result<Vec<u8>, RotError> {
        if !self.master_key_exportable {
            return Err(RotError::Unsupported(
                "master-key backups need root_of_trust.master_key_exportable = true (set before \
                 `clavisd init`); a non-extractable master key can only be cloned by the HSM's \
                 own means"
                    .into(),
            ));
        }
        self.with_session(|s| {
            let mk = self.require_master_key(s, id)?;
            let k = self.import_kek(s, kek)?;
            let wrapped = s.call(|s| s.wrap_key(&Mechanism::AesKeyWrapPad, k, mk));
            let destroyed = s.call(|s| s.destroy_object(k));
            let wrapped = match wrapped {
                Ok(w) => w,
                Err(CkError::Pkcs11(RvError::KeyUnextractable, _)) => {
                    return Err(RotError::Unsupported(format!(
                        "master key {id} was generated non-extractable, before \
                         master_key_exportable was set; it cannot be backed up this way"
                    )))
                }
                Err(e) => return Err(ck_err("C_WrapKey", &e)),
            };
            destroyed.map_err(|e| ck_err("C_DestroyObject", &e))?;
            Ok(wrapped)
        })
    }

    fn import_master_key(
        &self,
        id: &MasterKeyId,
        kek: &KeyMaterial,
        wrapped: &[u8],
    ) -> Result<(), RotError> {
        if id.0.is_empty() || id.0.len() > MAX_MASTER_KEY_ID_LEN {
            return Err(RotError::Unsupported(format!(
                "master key IDs must be 1 to {MAX_MASTER_KEY_ID_LEN} bytes"
            )));
        }
        let _creating = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.with_session(|s| {
            if self.master_key(s, id)?.is_some() {
                return Err(RotError::MasterKeyExists(id.clone()));
            }
            let template = self.master_key_template(id);
            let k = self.import_kek(s, kek)?;
            let epoch = self.pool.epoch();
            let mut unwrapped =
                s.call(|s| s.unwrap_key(&Mechanism::AesKeyWrapPad, k, wrapped, &template));
            if matches!(
                unwrapped,
                Err(CkError::Pkcs11(RvError::AttributeReadOnly, _))
            ) {
                // SoftHSM2 2.6 refuses CKA_MODIFIABLE in a C_UnwrapKey template
                // (measured). The key is then modifiable: a user-PIN holder could
                // change its usage flags, though never make it readable (CKA_SENSITIVE
                // and CKA_EXTRACTABLE only change towards safer).
                tracing::warn!(master_key = %id, token = %self.token_label, "the HSM does not take CKA_MODIFIABLE = false when unwrapping; the imported master key's attributes stay modifiable");
                let without: Vec<Attribute> = template
                    .iter()
                    .filter(|a| a.attribute_type() != AttributeType::Modifiable)
                    .cloned()
                    .collect();
                unwrapped =
                    s.call(|s| s.unwrap_key(&Mechanism::AesKeyWrapPad, k, wrapped, &without));
            }
            let destroyed = s.call(|s| s.destroy_object(k));
            let handle = match unwrapped {
                Ok(h) => h,
                Err(e) if is_integrity_failure(&e) => {
                    return Err(RotError::UnwrapFailed(id.clone()))
                }
                Err(e) => return Err(ck_err("C_UnwrapKey", &e)),
            };
            destroyed.map_err(|e| ck_err("C_DestroyObject", &e))?;
            write_lock(&self.master_keys).insert(id.clone(), (handle, epoch));
            tracing::info!(master_key = %id, token = %self.token_label, "imported master key from a backup into the HSM");
            Ok(())
        })
    }

    fn wrap(
        &self,
        master: &MasterKeyId,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<WrappedKey, RotError> {
        let ciphertext = self.with_session(|s| {
            let mk = self.require_master_key(s, master)?;
            match self.profile.wrap_mechanism {
                ProfileWrapMechanism::AesGcm => self.wrap_gcm(s, mk, object_id, key),
                ProfileWrapMechanism::AesKeyWrapPad | ProfileWrapMechanism::AesKeyWrapKwp => {
                    self.wrap_kwp(s, mk, object_id, key)
                }
            }
        })?;
        Ok(WrappedKey {
            master_key_id: master.clone(),
            mechanism: self.profile.wrap_mechanism.envelope_mechanism(),
            ciphertext,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<KeyMaterial, RotError> {
        self.with_session(|s| {
            let mk = self.require_master_key(s, &wrapped.master_key_id)?;
            // The envelope says how it was made; that, not the current profile,
            // decides, so blobs stay readable after a profile change.
            match wrapped.mechanism {
                WrapMechanism::AesKeyWrapPad => self.unwrap_kwp(s, wrapped, mk, object_id),
                WrapMechanism::AesGcm => self.unwrap_gcm(s, wrapped, mk, object_id),
            }
        })
    }

    fn random(&self, len: usize) -> Result<KeyMaterial, RotError> {
        if len == 0 {
            return Ok(KeyMaterial::new(Vec::new()));
        }
        let mut buf = Zeroizing::new(vec![0u8; len]);
        self.with_session(|s| {
            s.call(|s| s.generate_random_slice(&mut buf))
                .map_err(|e| ck_err("C_GenerateRandom", &e))
        })?;
        Ok(KeyMaterial::from_slice(&buf))
    }

    fn ensure_signing_key(&self) -> Result<(), RotError> {
        let _creating = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.with_session(|s| self.ensure_signing_key_in(s))
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RotError> {
        // CKM_ECDSA signs a digest; hashing here avoids depending on CKM_ECDSA_SHA256,
        // which not every token offers, and keeps large inputs off the HSM link.
        let digest = Sha256::digest(data);
        let sig = self.with_session(|s| {
            let key = self.find_signing_key(s)?.ok_or(RotError::NoSigningKey)?;
            s.call(|s| s.sign(&Mechanism::Ecdsa, key.private, &digest))
                .map_err(|e| ck_err("C_Sign", &e))
        })?;
        if sig.len() != P256_SIGNATURE_LEN {
            return Err(RotError::Pkcs11 {
                function: "C_Sign",
                detail: format!(
                    "returned a {}-byte signature; expected r || s of 64 bytes",
                    sig.len()
                ),
            });
        }
        Ok(sig)
    }

    fn signing_public_key(&self) -> Result<Vec<u8>, RotError> {
        self.with_session(|s| {
            self.find_signing_key(s)?
                .map(|k| k.public_point)
                .ok_or(RotError::NoSigningKey)
        })
    }

    fn health(&self) -> Health {
        // A real round trip: a logged-in session (logging in again if the token
        // forgot the login) and one byte from the token's generator.
        let probe = self.with_session(|s| {
            s.ensure_logged_in()?;
            let mut byte = [0u8; 1];
            s.call(|s| s.generate_random_slice(&mut byte))
                .map_err(|e| ck_err("C_GenerateRandom", &e))
        });
        match probe {
            Ok(()) => Health {
                ok: true,
                detail: format!(
                    "C_GenerateRandom answered on token \"{}\" ({})",
                    self.token_label, self.profile.name
                ),
            },
            Err(e) => Health {
                ok: false,
                detail: format!("token \"{}\": {e}", self.token_label),
            },
        }
    }
}

/// Attributes that may contain a plaintext key; wiped when dropped.
///
/// cryptoki's `Attribute` derives `Debug`, so templates are never logged.
struct SecretTemplate(Vec<Attribute>);

impl Drop for SecretTemplate {
    fn drop(&mut self) {
        for attr in &mut self.0 {
            if let Attribute::Value(v) = attr {
                v.zeroize();
            }
        }
    }
}

/// The key in an unwrapped `key || binding tag` value, if the tag is `tag`.
///
/// RFC 5649 unwrap returns exactly what was wrapped. SoftHSM2 2.6 does not: its
/// `C_WrapKey` zero-pads the value to a multiple of 8 *before* wrapping (the RFC 5649
/// length field then holds the padded length), so its unwrap returns up to 7 zero
/// bytes after the tag. Accepting the tag followed by at most 7 zero bytes, only
/// when the value length is a multiple of 8, reads those blobs — also after a token
/// upgrade fixes the wrap — and changes nothing for conforming HSMs; the 128-bit tag
/// still decides. All candidate positions are checked, so timing reveals at most
/// the key length modulo 8.
fn split_bound_key<'v>(value: &'v [u8], tag: &[u8; BINDING_TAG_LEN]) -> Option<&'v [u8]> {
    let max_pad = if value.len().is_multiple_of(8) { 7 } else { 0 };
    let mut found = None;
    // Descending, so the smallest matching padding wins.
    for pad in (0..=max_pad).rev() {
        let Some(tag_start) = value.len().checked_sub(BINDING_TAG_LEN + pad) else {
            continue;
        };
        let tag_end = tag_start + BINDING_TAG_LEN;
        let zeros = value[tag_end..].iter().fold(0u8, |acc, b| acc | b) == 0;
        let tag_ok = ct_eq(&value[tag_start..tag_end], tag);
        if zeros & tag_ok {
            found = Some(&value[..tag_start]);
        }
    }
    found
}

/// Errors of `C_UnwrapKey`/`C_Decrypt` that mean "this blob does not open under
/// this key for this object", as opposed to the HSM or session being unusable.
///
/// Tokens differ in how they report a failed integrity check: SoftHSM2 2.6 answers
/// `CKR_GENERAL_ERROR` both for a KWP integrity failure and for a GCM tag mismatch
/// (measured), the specification suggests `CKR_WRAPPED_KEY_INVALID` and
/// `CKR_ENCRYPTED_DATA_INVALID`. `CKR_GENERAL_ERROR` therefore does not mark the
/// session as broken either.
fn is_integrity_failure(e: &CkError) -> bool {
    matches!(
        rv_of(e),
        Some(
            RvError::WrappedKeyInvalid
                | RvError::WrappedKeyLenRange
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::FunctionFailed
                | RvError::GeneralError
        )
    )
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// The user PIN from the config, or else from the environment variable it names.
fn read_pin(cfg: &Pkcs11Config) -> Result<AuthPin, RotError> {
    if let Some(pin) = &cfg.pin {
        if !pin.is_empty() {
            return Ok(AuthPin::from(pin.as_str()));
        }
    }
    match std::env::var(&cfg.pin_env) {
        Ok(pin) if !pin.is_empty() => Ok(AuthPin::from(pin)),
        _ => Err(RotError::Unsupported(format!(
            "no HSM user PIN: set root_of_trust.pin, or put the PIN in the environment \
             variable {} (root_of_trust.pin_env)",
            cfg.pin_env
        ))),
    }
}

/// The slot whose token has `label`.
fn find_token(ctx: &Pkcs11, label: &str) -> Result<Slot, RotError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| ck_err("C_GetSlotList", &e))?;
    let mut found = Vec::new();
    let mut unreadable = None;
    for slot in slots {
        // A slot whose token is broken or gone must not hide the others (a dead
        // primary in the same module as its fallback, say).
        let info = match ctx.get_token_info(slot) {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(slot = slot.id(), error = %ck_detail(&e), "cannot read a slot's token information; skipping it");
                unreadable.get_or_insert(e);
                continue;
            }
        };
        // Labels are blank-padded to 32 bytes in CK_TOKEN_INFO.
        if info.label().trim_end() == label {
            if info.user_pin_locked() {
                return Err(RotError::PinLocked);
            }
            found.push(slot);
        }
    }
    match found.as_slice() {
        [] => match unreadable {
            Some(e) => Err(ck_err("C_GetTokenInfo", &e)),
            None => Err(RotError::TokenNotFound(label.to_owned())),
        },
        [slot] => Ok(*slot),
        many => Err(RotError::Pkcs11 {
            function: "C_GetTokenInfo",
            detail: format!(
                "{} tokens are labelled \"{label}\"; token labels must be unique",
                many.len()
            ),
        }),
    }
}

/// Fails unless the token offers the profile's mechanism for what Clavis does with it.
fn check_mechanism(ctx: &Pkcs11, slot: Slot, m: ProfileWrapMechanism) -> Result<(), RotError> {
    let (ty, wrap) = match m {
        ProfileWrapMechanism::AesKeyWrapPad => (MechanismType::AES_KEY_WRAP_PAD, true),
        ProfileWrapMechanism::AesGcm => (MechanismType::AES_GCM, false),
        ProfileWrapMechanism::AesKeyWrapKwp => return Ok(()),
    };
    let unsupported = || {
        RotError::Unsupported(format!(
            "the token does not offer {m} (mechanism 0x{:X}) for {}; choose another \
             wrap_mechanism in the HSM profile",
            m.pkcs11_mechanism(),
            if wrap {
                "wrap/unwrap"
            } else {
                "encrypt/decrypt"
            }
        ))
    };
    let info = match ctx.get_mechanism_info(slot, ty) {
        Ok(info) => info,
        Err(CkError::Pkcs11(RvError::MechanismInvalid, _)) => return Err(unsupported()),
        Err(e) => return Err(ck_err("C_GetMechanismInfo", &e)),
    };
    let ok = if wrap {
        info.wrap() && info.unwrap()
    } else {
        info.encrypt() && info.decrypt()
    };
    if ok {
        Ok(())
    } else {
        Err(unsupported())
    }
}

/// The uncompressed SEC1 point from `CKA_EC_POINT`, which PKCS#11 specifies as a
/// DER OCTET STRING around the point (SoftHSM2 does that) but some tokens return raw.
fn decode_ec_point(raw: &[u8]) -> Result<Vec<u8>, RotError> {
    let bad = |what: &str| RotError::Pkcs11 {
        function: "C_GetAttributeValue",
        detail: format!("CKA_EC_POINT of the signing key is {what}"),
    };
    let point = if raw.len() == P256_POINT_LEN && raw[0] == 0x04 {
        raw
    } else {
        match raw {
            [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
            [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
            _ => return Err(bad("neither a DER OCTET STRING nor a raw point")),
        }
    };
    if point.len() != P256_POINT_LEN || point[0] != 0x04 {
        return Err(bad("not an uncompressed P-256 point"));
    }
    Ok(point.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_decode_from_der_and_raw() {
        let mut point = vec![0x04];
        point.extend_from_slice(&[7u8; 64]);
        let mut der = vec![0x04, 0x41];
        der.extend_from_slice(&point);
        assert_eq!(decode_ec_point(&der).unwrap(), point);
        assert_eq!(decode_ec_point(&point).unwrap(), point);
        let mut long = vec![0x04, 0x81, 0x41];
        long.extend_from_slice(&point);
        assert_eq!(decode_ec_point(&long).unwrap(), point);
        assert!(decode_ec_point(&der[..60]).is_err());
        let mut compressed = vec![0x04, 0x21, 0x02];
        compressed.extend_from_slice(&[7u8; 32]);
        assert!(decode_ec_point(&compressed).is_err());
    }

    #[test]
    fn bound_keys_split_with_and_without_softhsm_padding() {
        let tag = [0xA5u8; BINDING_TAG_LEN];
        let other = [0x5Au8; BINDING_TAG_LEN];
        for len in [0usize, 1, 7, 8, 16, 17, 32, 33] {
            let key: Vec<u8> = (0..len).map(|i| i as u8 | 1).collect();
            let mut exact = key.clone();
            exact.extend_from_slice(&tag);
            assert_eq!(split_bound_key(&exact, &tag), Some(&key[..]), "exact {len}");
            assert_eq!(split_bound_key(&exact, &other), None, "wrong tag {len}");
            let mut padded = exact.clone();
            padded.resize(exact.len().div_ceil(8) * 8, 0);
            assert_eq!(
                split_bound_key(&padded, &tag),
                Some(&key[..]),
                "padded {len}"
            );
            assert_eq!(
                split_bound_key(&padded, &other),
                None,
                "padded wrong tag {len}"
            );
            // Non-zero bytes after the tag are never padding.
            if padded.len() > exact.len() {
                let last = padded.len() - 1;
                padded[last] = 1;
                assert_eq!(split_bound_key(&padded, &tag), None, "dirty padding {len}");
            }
        }
        // Keys ending in zero bytes keep them when there is no padding.
        let mut zeros = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
        zeros.extend_from_slice(&tag);
        assert_eq!(
            split_bound_key(&zeros, &tag),
            Some(&[1u8, 0, 0, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(split_bound_key(&tag[..10], &tag), None);
    }

    #[test]
    fn missing_pin_names_the_variable() {
        let cfg = Pkcs11Config {
            profile: "p.toml".into(),
            module: None,
            token_label: "t".into(),
            pin: None,
            pin_env: "CLAVIS_TEST_NO_SUCH_PIN_VARIABLE".into(),
            session_pool_size: None,
            master_key_exportable: false,
            fallback: Vec::new(),
            call_timeout_ms: 10_000,
        };
        match read_pin(&cfg) {
            Err(e) => assert!(e.to_string().contains("CLAVIS_TEST_NO_SUCH_PIN_VARIABLE")),
            Ok(_) => panic!("a PIN appeared from nowhere"),
        }
    }
}
