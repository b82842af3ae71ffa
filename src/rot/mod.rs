//! Root of trust: the holder of the master key that wraps every stored key.
//!
//! Two implementations: [`pkcs11::Pkcs11Rot`] (an HSM reached through PKCS#11,
//! SoftHSM2 in tests) and [`software::SoftwareRot`] (a passphrase-sealed file, for
//! the quick start only). Both produce the same [`WrappedKey`] envelope, so the
//! store never knows which one wrapped a key.
//!
//! Every wrapped key is bound to the ID of the object that owns it: a database
//! writer who swaps two rows' blobs gets an unwrap error, not the wrong key.

mod envelope;
pub mod failover;
pub mod pkcs11;
pub mod profile;
pub mod software;

pub use envelope::{binding_tag, WrapMechanism, WrappedKey, BINDING_TAG_LEN};

use crate::secret::KeyMaterial;

/// Which kind of root of trust a node runs on; shown in status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RotKind {
    /// An HSM reached through PKCS#11.
    Pkcs11,
    /// A master key sealed in a file under a passphrase. Not for production.
    Software,
}

impl std::fmt::Display for RotKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RotKind::Pkcs11 => "pkcs11",
            RotKind::Software => "software",
        })
    }
}

/// Identifies one master key inside a root of trust (its label in the HSM).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MasterKeyId(pub String);

impl MasterKeyId {
    /// A fresh ID for a new master key.
    pub fn generate() -> Self {
        MasterKeyId(format!("clavis-mk-{}", uuid::Uuid::now_v7()))
    }
}

impl std::fmt::Display for MasterKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The master key that wraps new keys on this node. Shared by the service, the pool
/// refiller and the re-wrapper: a rotation switches it for all of them at once.
#[derive(Debug, Clone)]
pub struct ActiveMasterKey(std::sync::Arc<std::sync::RwLock<MasterKeyId>>);

impl ActiveMasterKey {
    /// Starts with `id`.
    pub fn new(id: MasterKeyId) -> Self {
        ActiveMasterKey(std::sync::Arc::new(std::sync::RwLock::new(id)))
    }

    /// The key to wrap under now.
    pub fn get(&self) -> MasterKeyId {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Switches to `id` (a rotation began here or arrived from a peer).
    pub fn set(&self, id: MasterKeyId) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = id;
    }
}

/// Result of a health probe.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    /// True when the root of trust answered a probe operation.
    pub ok: bool,
    /// What was checked, or what failed.
    pub detail: String,
}

/// Failures of a root of trust. Messages never carry key material or PINs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotError {
    /// A PKCS#11 call failed; names the function and the return value.
    #[error("PKCS#11 {function} failed: {detail}")]
    Pkcs11 {
        /// The PKCS#11 function that failed (e.g. `C_WrapKey`).
        function: &'static str,
        /// The return value or library error.
        detail: String,
    },
    /// The PKCS#11 module could not be loaded.
    #[error("cannot load PKCS#11 module {path}: {detail}")]
    Module {
        /// Path of the module.
        path: String,
        /// Why loading failed.
        detail: String,
    },
    /// No token with the configured label or slot.
    #[error("no token {0} found in any slot of the PKCS#11 module")]
    TokenNotFound(String),
    /// The HSM rejected the user PIN.
    #[error(
        "the HSM rejected the user PIN (CKR_PIN_INCORRECT); check root_of_trust.pin / pin_env"
    )]
    BadPin,
    /// The PIN is locked in the token.
    #[error("the HSM user PIN is locked (CKR_PIN_LOCKED)")]
    PinLocked,
    /// The wrapped key names a master key this root of trust does not hold.
    #[error("master key {0} is not present in the root of trust")]
    MasterKeyNotFound(MasterKeyId),
    /// A master key with that ID exists already.
    #[error("master key {0} already exists in the root of trust")]
    MasterKeyExists(MasterKeyId),
    /// The unwrap integrity check failed: wrong master key, wrong object, or a damaged blob.
    #[error("unwrap failed: the wrapped key does not verify under master key {0} for this object")]
    UnwrapFailed(MasterKeyId),
    /// The wrapped-key envelope could not be parsed.
    #[error("malformed wrapped key: {0}")]
    MalformedEnvelope(&'static str),
    /// The passphrase does not open the sealed file.
    #[error("the passphrase does not open the sealed master key file {0}")]
    BadPassphrase(String),
    /// The sealed master key file is missing or damaged.
    #[error("sealed master key file {path}: {detail}")]
    SealedFile {
        /// Path of the file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The HSM profile is invalid.
    #[error("HSM profile {path}: {detail}")]
    Profile {
        /// Path of the profile.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The root of trust has no signing key yet.
    #[error("no signing key in the root of trust")]
    NoSigningKey,
    /// The operation is not available with this root of trust or profile.
    #[error("unsupported by this root of trust: {0}")]
    Unsupported(String),
    /// Local crypto failure (software implementation).
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

/// The master-key holder every stored key depends on.
///
/// Implementations are blocking (PKCS#11 calls are); each call is short
/// (tens of microseconds on SoftHSM2), so the service calls them inline.
pub trait RootOfTrust: Send + Sync {
    /// Which kind this is.
    fn kind(&self) -> RotKind;

    /// A one-line description for status: module and token, or file path.
    fn describe(&self) -> String;

    /// Creates a new AES-256 master key that never leaves the root of trust.
    fn generate_master_key(&self, id: &MasterKeyId) -> Result<(), RotError>;

    /// True when the master key `id` is present.
    fn has_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError>;

    /// True when every HSM behind this root of trust holds master key `id` (a group
    /// with fallbacks: all of them). Rotation waits for this before using a new key.
    fn holds_everywhere(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        self.has_master_key(id)
    }

    /// After a rotation made master key `id` in the HSM in use: copies it, wrapped, into
    /// the other HSMs of a group where the key is exportable. True when every HSM then
    /// holds it; false when some must get it by the HSM's own cloning.
    fn spread_master_key(&self, id: &MasterKeyId) -> Result<bool, RotError> {
        self.holds_everywhere(id)
    }

    /// Destroys master key `id` (after a rotation, once nothing is wrapped under it).
    /// Destroying a key that is absent succeeds: a resumed retirement repeats this.
    fn destroy_master_key(&self, id: &MasterKeyId) -> Result<(), RotError>;

    /// Whether master keys may leave this root of trust wrapped, for master-key backups.
    fn master_key_exportable(&self) -> bool {
        false
    }

    /// Master key `id` wrapped (AES key wrap with padding, RFC 5649) under `kek`, a
    /// 32-byte key the caller then splits among the quorum. Only where configured.
    fn export_master_key(&self, id: &MasterKeyId, kek: &KeyMaterial) -> Result<Vec<u8>, RotError> {
        let _ = (id, kek);
        Err(RotError::Unsupported(
            "master-key backups need an HSM; the software root of trust's master key is the \
             sealed file: copy it and its passphrase"
                .into(),
        ))
    }

    /// Unwraps a master key made by [`RootOfTrust::export_master_key`] under `kek` into
    /// this root of trust as `id`. Fails if `id` exists or the blob does not verify.
    fn import_master_key(
        &self,
        id: &MasterKeyId,
        kek: &KeyMaterial,
        wrapped: &[u8],
    ) -> Result<(), RotError> {
        let _ = (id, kek, wrapped);
        Err(RotError::Unsupported(
            "master-key import needs an HSM; the software root of trust's master key is the \
             sealed file"
                .into(),
        ))
    }

    /// Wraps `key` under master key `master`, bound to `object_id`.
    fn wrap(
        &self,
        master: &MasterKeyId,
        object_id: &str,
        key: &KeyMaterial,
    ) -> Result<WrappedKey, RotError>;

    /// Unwraps a key wrapped for `object_id`. Fails if the blob was made for another object.
    fn unwrap(&self, wrapped: &WrappedKey, object_id: &str) -> Result<KeyMaterial, RotError>;

    /// `len` bytes from the root of trust's random generator.
    fn random(&self, len: usize) -> Result<KeyMaterial, RotError>;

    /// Creates the ECDSA P-256 signing key (used to sign audit checkpoints), if absent.
    fn ensure_signing_key(&self) -> Result<(), RotError>;

    /// Signs `data` with ECDSA P-256 / SHA-256; the signature is `r || s` (64 bytes).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, RotError>;

    /// The signing key's public point, uncompressed SEC1 (65 bytes).
    fn signing_public_key(&self) -> Result<Vec<u8>, RotError>;

    /// Probes the root of trust with a cheap real operation.
    fn health(&self) -> Health;
}

/// Verifies a signature made by [`RootOfTrust::sign`].
pub fn verify_signature(public_key: &[u8], data: &[u8], signature: &[u8]) -> bool {
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        public_key,
    );
    key.verify(data, signature).is_ok()
}
