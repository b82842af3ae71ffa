//! Key transfer partners (SPEC 5.6, 8.3): this cluster's transfer identity, the
//! partners registered under quorum, exports under quorum, and imports.
//!
//! - **Identity.** Two key pairs (see [`crate::transfer`]) whose private halves are
//!   stored as credentials wrapped under the master key (`transfer-encryption`,
//!   `transfer-signing`): they replicate with every other credential, so all nodes share
//!   one identity, and master-key rotation re-wraps them with the cluster CA's key.
//!   Credentials rather than managed objects because no user or endpoint may ever list,
//!   get or export them. The identity is made on first use (`clavis transfer
//!   identity`), once per cluster: make it on one node and let it replicate before
//!   giving its fingerprint to a partner.
//! - **Partners** are registered by a quorum request (`register_transfer_partner`, asked
//!   by a System Administrator: trusting another cluster's signature is a cluster-level
//!   decision). Removing one only takes trust away, so a System Administrator does it
//!   alone (audited).
//! - **Export** is a quorum request (`transfer_export`, asked by a Key Administrator).
//!   When it is asked, the partner is resolved to its fingerprint and the data-unit
//!   tags to units and keys, and those are stored in the request: the members approve
//!   exact keys for an exact identity. The M-th approval exports exactly those keys,
//!   checking again that each is exportable and that the partner still has that
//!   identity, or nothing is written. A key is exportable only if some key group it is
//!   in says so and none says otherwise (no policy means the default: not exportable).
//!   The node that runs it writes the file under a temporary name inside the vote's
//!   transaction and gives it its final name only once that transaction has committed;
//!   a Key Administrator fetches it from that node, for an executed request only.
//! - **Import** needs the Key Administrator role (the lifecycle of security objects is
//!   theirs, SPEC 5.2). Everything is checked before anything is written: the file
//!   parses, its signer is a registered partner, the signature holds over its bytes, it
//!   is addressed to this cluster, every key decrypts, matches its digest and is a key
//!   this cluster would have accepted from `register_*` (type, algorithm, length against
//!   the material, name, not destroyed), fits the target key group's policy, and every
//!   data unit it reuses belongs to the target key group. Keys already present are
//!   skipped.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::hlc::to_db;
use crate::keys::{
    is_valid_object_id, new_object_id, now_millis, now_secs, Algorithm, KeyPolicy, ObjectMeta,
    ObjectType,
};
use crate::kmip::ttlv::{Ttlv, Value};
use crate::rot::WrappedKey;
use crate::secret::KeyMaterial;
use crate::store::{
    Credential, DataUnitKeyRecord, DataUnitLookup, DataUnitRecord, StoredObject,
    TransferPartnerRecord, TxLock, WriteTx,
};
use crate::transfer::file::{self, DataUnitEntry, Export, KeyUseEntry, EXTENSION};
use crate::transfer::{Identity, PublicIdentity, TransferError};
use sha2::Digest;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Credential ID (and wrap binding) of the transfer encryption key.
pub const ENCRYPTION_CREDENTIAL_ID: &str = "transfer-encryption";
/// Credential ID (and wrap binding) of the transfer signing key.
pub const SIGNING_CREDENTIAL_ID: &str = "transfer-signing";
/// Most keys and data-unit tags one export request names.
pub const MAX_EXPORT_ITEMS: usize = 10_000;
/// Most keys (and most data units) one export resolves to; well within what an
/// importer accepts in one file.
pub const MAX_EXPORT_KEYS: usize = 10_000;
const _: () = assert!(MAX_EXPORT_KEYS <= file::MAX_KEYS);

/// This cluster's transfer identity as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferIdentityInfo {
    /// Hex SHA-256 over both public keys: compare it with the partner out of band.
    pub fingerprint: String,
    /// RSA-3072 encryption public key (RSA-OAEP-SHA256), PEM.
    pub encryption_public_key: String,
    /// ECDSA P-256 signing public key, PEM.
    pub signing_public_key: String,
    /// True when this call made the identity.
    pub created: bool,
}

/// A registered partner.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferPartnerInfo {
    /// The name this cluster calls it by.
    pub name: String,
    /// Its identity's fingerprint.
    pub fingerprint: String,
    /// Its encryption public key, PEM.
    pub encryption_public_key: String,
    /// Its signing public key, PEM.
    pub signing_public_key: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<TransferPartnerRecord> for TransferPartnerInfo {
    fn from(p: TransferPartnerRecord) -> Self {
        TransferPartnerInfo {
            name: p.name,
            fingerprint: p.fingerprint,
            encryption_public_key: p.encryption_pem,
            signing_public_key: p.signing_pem,
            created_at: p.created_at,
        }
    }
}

/// An export file made on this node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferExportInfo {
    /// Transfer ID.
    pub transfer_id: String,
    /// The file's name in this node's backup directory.
    pub file_name: String,
    /// The file (text).
    pub file: String,
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferImportReport {
    /// Transfer ID from the file.
    pub transfer_id: String,
    /// The partner that signed it.
    pub partner: String,
    /// Keys created here.
    pub imported: usize,
    /// Keys this cluster had already (left as they are).
    pub skipped: usize,
    /// IDs of the keys created.
    pub imported_ids: Vec<String>,
    /// IDs of the keys skipped.
    pub skipped_ids: Vec<String>,
    /// Data units created here.
    pub data_units_imported: usize,
}

fn export_file_name(id: &str) -> String {
    format!("clavis-transfer-{id}.{EXTENSION}")
}

/// Where an export file waits until the transaction recording it commits: a hidden
/// name that fetch never serves as such.
fn temp_file_name(id: &str) -> String {
    format!(".{}.tmp", export_file_name(id))
}

/// An export made and written under its temporary name, waiting for the approval's
/// transaction.
pub struct PreparedExport {
    partner: String,
    fingerprint: String,
    key_ids: Vec<String>,
    result: String,
    file: PendingTransferFile,
    event: crate::audit::AuditEvent,
}

/// An export file written (and synced) under its temporary name. [`publish`] gives it
/// its final name once the transaction recording the export has committed; dropped
/// unpublished (the transaction failed, rolled back or is retried), it is deleted, so
/// no file exists for an export that was not recorded.
///
/// [`publish`]: PendingTransferFile::publish
pub struct PendingTransferFile {
    tmp: PathBuf,
    path: PathBuf,
    armed: bool,
}

impl PendingTransferFile {
    /// Writes `text` to `dir/.clavis-transfer-{id}.cltr.tmp`, owner-only, synced.
    async fn write(dir: &Path, id: &str, text: String) -> Result<Self, ServiceError> {
        let tmp = dir.join(temp_file_name(id));
        let path = dir.join(export_file_name(id));
        let pending = PendingTransferFile {
            tmp: tmp.clone(),
            path,
            armed: true,
        };
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::create_dir_all(&dir)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("writing the transfer file: {e}")))?
        .map_err(|e| {
            ServiceError::Internal(format!("cannot write {}: {e}", pending.tmp.display()))
        })?;
        Ok(pending)
    }

    /// Gives the file its final name (call only after the commit). Should the rename
    /// fail, the file stays under its temporary name and fetch finishes the job, as the
    /// export is recorded by then.
    pub async fn publish(mut self) {
        self.armed = false;
        let (tmp, path) = (self.tmp.clone(), self.path.clone());
        let r = tokio::task::spawn_blocking(move || rename_synced(&tmp, &path)).await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(file = %self.path.display(), error = %e, "transfer file left under its temporary name; fetch renames it")
            }
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "transfer file left under its temporary name; fetch renames it")
            }
        }
    }
}

impl Drop for PendingTransferFile {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let tmp = self.tmp.clone();
        let remove = move || {
            if let Err(e) = std::fs::remove_file(&tmp) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %tmp.display(), error = %e, "cannot delete an unrecorded transfer file");
                }
            }
        };
        // Off the async threads when there is a runtime (there always is in clavisd).
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// Renames `tmp` to `path` and syncs the directory, so the name survives a crash.
fn rename_synced(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, path)?;
    match path.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// What a `transfer_export` request resolves to when it is asked.
pub(super) struct ResolvedExport {
    partner: TransferPartnerRecord,
    keys: Vec<StoredObject>,
    unit_ids: Vec<String>,
}

/// A transfer ID as given by a caller: UUID characters only, so it is safe in a path.
fn checked_transfer_id(id: &str) -> Result<&str, ServiceError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ServiceError::InvalidArgument(
            "a transfer ID is the UUID its quorum request's result names".into(),
        ));
    }
    Ok(id)
}

/// Whether a KMIP Extractable attribute on the object keeps it in: one that says
/// false, and (failing closed) one whose stored value does not decode to a boolean.
fn marked_non_extractable(meta: &ObjectMeta) -> bool {
    meta.attributes
        .kmip
        .iter()
        .filter(|k| k.name == "Extractable")
        .any(|k| {
            let value = hex::decode(&k.ttlv_hex)
                .ok()
                .and_then(|b| Ttlv::decode(&b, &crate::kmip::ttlv::Limits::default()).ok());
            !matches!(value.map(|t| t.value), Some(Value::Boolean(true)))
        })
}

/// Checks one key from a transfer file as `register_*` checks what it stores: its
/// type, algorithm and length against its material, its name, and that a key the file
/// says is destroyed carries no material. The error names the key.
fn check_imported_key(meta: &ObjectMeta, material: &KeyMaterial) -> Result<(), ServiceError> {
    let id = &meta.id;
    let refuse = |why: String| {
        ServiceError::InvalidArgument(format!("key {id} in the file: {why}; nothing was imported"))
    };
    if meta.state.is_destroyed() {
        return Err(refuse(format!(
            "its state is {} but the file carries its material",
            meta.state.as_str()
        )));
    }
    super::check_name(meta.name.as_deref()).map_err(|e| refuse(e.to_string()))?;
    let bytes = material.expose_secret();
    let bits = bytes.len().saturating_mul(8);
    let length = meta.length;
    let length_refusal = || {
        refuse(format!(
            "its length says {} bits but its material is {} bytes",
            length.map_or_else(|| "no".to_owned(), |l| l.to_string()),
            bytes.len()
        ))
    };
    match (meta.object_type, meta.algorithm) {
        (ObjectType::SymmetricKey, Some(Algorithm::Aes)) => {
            let l = length.ok_or_else(length_refusal)?;
            if !Algorithm::Aes.allowed_lengths().contains(&l) {
                return Err(refuse(format!(
                    "AES keys are 128, 192 or 256 bits, not {l}"
                )));
            }
            if bits != l as usize {
                return Err(length_refusal());
            }
        }
        (ObjectType::PrivateKey | ObjectType::PublicKey, Some(Algorithm::Rsa)) => {
            let private = meta.object_type == ObjectType::PrivateKey;
            let got = crate::keys::asymmetric::rsa_bits(private, bytes)
                .map_err(|e| refuse(format!("not an RSA PKCS#1 key ({e})")))?;
            if length != Some(got) {
                return Err(length_refusal());
            }
        }
        (ObjectType::PrivateKey, Some(Algorithm::Ec)) => {
            use ring::signature::{
                EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING as P256,
                ECDSA_P384_SHA384_ASN1_SIGNING as P384,
            };
            let alg = match length {
                Some(256) => &P256,
                Some(384) => &P384,
                _ => {
                    return Err(refuse(
                        "EC keys are P-256 or P-384 (length 256 or 384)".into(),
                    ))
                }
            };
            EcdsaKeyPair::from_pkcs8(alg, bytes, &ring::rand::SystemRandom::new())
                .map_err(|_| refuse("not a PKCS#8 EC private key on its curve".into()))?;
        }
        (ObjectType::PublicKey, Some(Algorithm::Ec)) => {
            // SubjectPublicKeyInfo DER of an uncompressed point: 91 bytes (P-256), 120
            // bytes (P-384).
            let want = match length {
                Some(256) => 91,
                Some(384) => 120,
                _ => {
                    return Err(refuse(
                        "EC keys are P-256 or P-384 (length 256 or 384)".into(),
                    ))
                }
            };
            if bytes.len() != want || bytes.first() != Some(&0x30) {
                return Err(length_refusal());
            }
        }
        (ObjectType::SecretData | ObjectType::OpaqueObject, None) => {
            if bytes.is_empty() || bytes.len() > super::MAX_SECRET_LEN {
                return Err(refuse(format!(
                    "data objects are 1 to {} bytes",
                    super::MAX_SECRET_LEN
                )));
            }
            if length.map(|l| l as usize) != Some(bytes.len()) {
                return Err(length_refusal());
            }
        }
        (t, a) => {
            return Err(refuse(format!(
                "a {} with algorithm {} is not something this cluster stores",
                t.as_str(),
                a.map_or("none", |a| a.as_str())
            )))
        }
    }
    Ok(())
}

/// Checks a key against the key policy of the key group that receives it: drives take
/// the group's keys, so they must be AES keys of the policy's length.
fn check_against_policy(
    meta: &ObjectMeta,
    wallet: &str,
    policy: &crate::store::KeyPolicyRecord,
) -> Result<(), ServiceError> {
    let fits = meta.object_type == ObjectType::SymmetricKey
        && meta.algorithm.map(|a| a.as_str()) == Some(policy.algorithm.as_str())
        && meta.length.map(i64::from) == Some(policy.length);
    if fits {
        return Ok(());
    }
    Err(ServiceError::InvalidArgument(format!(
        "key {} in the file is not a {} {}-bit key, which key group {wallet:?}'s key policy requires; nothing was imported",
        meta.id, policy.algorithm, policy.length
    )))
}

fn partner_name_check(name: &str) -> Result<(), ServiceError> {
    if name.is_empty()
        || name.len() > 120
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(ServiceError::InvalidArgument(
            "name: partner names use letters, digits, `_`, `.` and `-`, 1 to 120 bytes".into(),
        ));
    }
    Ok(())
}

impl KeyService {
    /// The stored identity, if the cluster has one.
    async fn load_transfer_identity(&self) -> Result<Option<Identity>, ServiceError> {
        let enc = self.store.credential(ENCRYPTION_CREDENTIAL_ID).await?;
        let sig = self.store.credential(SIGNING_CREDENTIAL_ID).await?;
        let (Some(enc), Some(sig)) = (enc, sig) else {
            return Ok(None);
        };
        let enc_key = self
            .rot
            .unwrap(&WrappedKey::from_bytes(&enc.wrapped_key)?, &enc.id)?;
        let sig_key = self
            .rot
            .unwrap(&WrappedKey::from_bytes(&sig.wrapped_key)?, &sig.id)?;
        Ok(Some(Identity::from_pkcs8(&enc_key, &sig_key)?))
    }

    /// The stored identity, or a refusal naming how to make one.
    async fn require_transfer_identity(&self) -> Result<Identity, ServiceError> {
        self.load_transfer_identity().await?.ok_or_else(|| {
            ServiceError::WrongState(
                "this cluster has no transfer identity yet: show it once (clavis transfer identity), which makes it".into(),
            )
        })
    }

    /// This cluster's transfer identity (any user), made (and audited) on first use
    /// by a System Administrator.
    pub async fn transfer_identity(
        &self,
        who: &Principal,
    ) -> Result<TransferIdentityInfo, ServiceError> {
        let action = "transfer.identity";
        let r = self.transfer_identity_inner(who, action).await;
        self.audit_failure(who, action, None, r).await
    }

    async fn transfer_identity_inner(
        &self,
        who: &Principal,
        action: &str,
    ) -> Result<TransferIdentityInfo, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let info = |id: &Identity, created| TransferIdentityInfo {
            fingerprint: id.public().fingerprint(),
            encryption_public_key: id.public().encryption_pem(),
            signing_public_key: id.public().signing_pem(),
            created,
        };
        if let Some(id) = self.load_transfer_identity().await? {
            return Ok(info(&id, false));
        }
        // Anyone may see the identity; making it is the System Administrator's.
        self.authorize(who, &Action::ManageCluster).await?;
        let (id, secrets) = tokio::task::spawn_blocking(Identity::generate)
            .await
            .map_err(|e| {
                ServiceError::Internal(format!("generating the transfer identity: {e}"))
            })??;
        let now = now_secs();
        let mut creds = Vec::new();
        for (cid, kind, pem, secret) in [
            (
                ENCRYPTION_CREDENTIAL_ID,
                "transfer_encryption",
                id.public().encryption_pem(),
                &secrets.encryption_pkcs8,
            ),
            (
                SIGNING_CREDENTIAL_ID,
                "transfer_signing",
                id.public().signing_pem(),
                &secrets.signing_pkcs8,
            ),
        ] {
            let master_key = self.master_key.get();
            let wrapped = self.rot.wrap(&master_key, cid, secret)?;
            creds.push(Credential {
                id: cid.to_owned(),
                kind: kind.to_owned(),
                cert_pem: pem,
                wrapped_key: wrapped.to_bytes(),
                master_key_id: master_key.0,
                created_at: now,
            });
        }
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        // Another request on this replica may have made it meanwhile: keep that one.
        if self
            .store
            .credential(ENCRYPTION_CREDENTIAL_ID)
            .await?
            .is_some()
        {
            drop(tx);
            return Ok(info(&self.require_transfer_identity().await?, false));
        }
        for c in &creds {
            tx.insert_credential(c, to_db(self.hlc.now())).await?;
        }
        let ev = self.event(
            who,
            action,
            None,
            Outcome::Success,
            Some(format!(
                "transfer identity created, fingerprint {}",
                id.public().fingerprint()
            )),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        tracing::info!(fingerprint = %id.public().fingerprint(), "transfer identity created");
        Ok(info(&id, true))
    }

    /// Registered partners, by name.
    pub async fn transfer_partners(
        &self,
        who: &Principal,
    ) -> Result<Vec<TransferPartnerInfo>, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        Ok(self
            .store
            .transfer_partners()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Removes a partner (System Administrators; taking trust away needs no quorum).
    pub async fn remove_transfer_partner(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(), ServiceError> {
        let action = "transfer.partner_remove";
        let r = self.remove_partner_inner(who, name, action).await;
        self.audit_failure(who, action, Some(name), r).await
    }

    async fn remove_partner_inner(
        &self,
        who: &Principal,
        name: &str,
        action: &str,
    ) -> Result<(), ServiceError> {
        self.authorize(who, &Action::ManageCluster).await?;
        let mut p = self
            .store
            .transfer_partner_by_name(name)
            .await?
            .ok_or_else(|| {
                ServiceError::NameNotFound(format!(
                    "no transfer partner named {:?}",
                    name.chars().take(120).collect::<String>()
                ))
            })?;
        p.state = "removed".into();
        p.updated_at = now_secs();
        p.hlc = to_db(self.hlc.after(p.hlc));
        p.origin_node = self.node.node_id.clone();
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        tx.put_transfer_partner(&p).await?;
        let ev = self.event(
            who,
            action,
            Some(&p.name),
            Outcome::Success,
            Some(format!("partner {} ({}) removed", p.name, p.fingerprint)),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a `register_transfer_partner` request before anyone votes on it.
    pub(super) async fn check_transfer_partner(
        &self,
        name: &str,
        encryption_pem: &str,
        signing_pem: &str,
        fingerprint: &str,
    ) -> Result<PublicIdentity, ServiceError> {
        partner_name_check(name)?;
        let id = PublicIdentity::from_pem(encryption_pem, signing_pem)?;
        let computed = id.fingerprint();
        if !computed.eq_ignore_ascii_case(fingerprint.trim()) {
            return Err(TransferError::BadPartnerKey(format!(
                "the fingerprint given ({}) is not that of the keys given ({computed}); \
                 check both with the partner",
                fingerprint.chars().take(80).collect::<String>()
            ))
            .into());
        }
        if let Some(ours) = self.load_transfer_identity().await? {
            if ours.public().fingerprint() == computed {
                return Err(ServiceError::InvalidArgument(
                    "these keys are this cluster's own transfer identity".into(),
                ));
            }
        }
        if let Some(p) = self.store.transfer_partner_by_name(name).await? {
            if p.fingerprint != computed {
                return Err(ServiceError::AlreadyExists(format!(
                    "a transfer partner named {name:?} exists already with another identity; remove it first"
                )));
            }
        }
        if let Some(p) = self.store.transfer_partner(&computed).await? {
            if p.state == "active" {
                return Err(ServiceError::AlreadyExists(format!(
                    "this identity is registered already, as partner {:?}",
                    p.name
                )));
            }
        }
        Ok(id)
    }

    /// Registers an approved partner inside the transaction recording the approval.
    pub(super) async fn run_register_transfer_partner(
        &self,
        tx: &mut WriteTx,
        name: &str,
        encryption_pem: &str,
        signing_pem: &str,
        fingerprint: &str,
    ) -> Result<String, ServiceError> {
        let id = self
            .check_transfer_partner(name, encryption_pem, signing_pem, fingerprint)
            .await?;
        let now = now_secs();
        let fp = id.fingerprint();
        let prev = self.store.transfer_partner(&fp).await?;
        let rec = TransferPartnerRecord {
            fingerprint: fp.clone(),
            name: name.to_owned(),
            name_key: name.to_lowercase(),
            encryption_pem: id.encryption_pem(),
            signing_pem: id.signing_pem(),
            state: "active".into(),
            created_at: now,
            updated_at: now,
            hlc: to_db(match prev {
                Some(p) => self.hlc.after(p.hlc),
                None => self.hlc.now(),
            }),
            origin_node: self.node.node_id.clone(),
        };
        tx.put_transfer_partner(&rec).await?;
        let ev = self.event(
            &Principal::system("quorum"),
            "transfer.partner_register",
            Some(name),
            Outcome::Success,
            Some(format!("partner {name} registered, fingerprint {fp}")),
        );
        tx.append_audit(&ev, now_millis()).await?;
        Ok(format!(
            "transfer partner {name} registered (fingerprint {fp})"
        ))
    }

    /// Why `obj` may not leave the cluster, if it may not (SPEC 2.3, 2.4). A key leaves
    /// only when at least one key group it is in has a key policy saying exportable and
    /// none says otherwise; a group without a policy has the default one (not
    /// exportable), and a key in no group stays.
    async fn export_refusal(&self, obj: &StoredObject) -> Result<Option<String>, ServiceError> {
        if obj.wrapped.is_none() || obj.meta.state.is_destroyed() {
            return Ok(Some("its material is destroyed".into()));
        }
        if marked_non_extractable(&obj.meta) {
            return Ok(Some(
                "its Extractable attribute is not true, so it never leaves the cluster".into(),
            ));
        }
        let mut allowed = false;
        for w in self.store.wallets_of_object(&obj.meta.id).await? {
            let exportable = match self.store.key_policy(&w).await? {
                Some(p) => p.exportable,
                None => KeyPolicy::default().exportable,
            };
            if !exportable {
                return Ok(Some(format!(
                    "it belongs to key group {:?}, whose key policy keeps its keys in the cluster (exportable = false, the default)",
                    self.wallet_name(&w).await
                )));
            }
            allowed = true;
        }
        if !allowed {
            return Ok(Some(
                "it is in no key group whose key policy says exportable = true".into(),
            ));
        }
        Ok(None)
    }

    /// The active partner named `partner`.
    async fn export_partner(&self, partner: &str) -> Result<TransferPartnerRecord, ServiceError> {
        self.store
            .transfer_partner_by_name(partner)
            .await?
            .filter(|p| p.state == "active")
            .ok_or_else(|| {
                ServiceError::NameNotFound(format!(
                    "no transfer partner named {:?}; register it first",
                    partner.chars().take(120).collect::<String>()
                ))
            })
    }

    /// Loads `ids`, refusing (naming it) the first key that may not leave.
    async fn exportable_objects(&self, ids: &[String]) -> Result<Vec<StoredObject>, ServiceError> {
        let mut objs = Vec::with_capacity(ids.len());
        for id in ids {
            let obj = self.load(id).await?;
            if let Some(why) = self.export_refusal(&obj).await? {
                return Err(TransferError::NotExportable {
                    id: id.clone(),
                    why,
                }
                .into());
            }
            objs.push(obj);
        }
        Ok(objs)
    }

    /// The partner, the objects and the data units a `transfer_export` request names,
    /// every key exportable; refuses otherwise, naming the first key that may not leave.
    pub(super) async fn check_transfer_export(
        &self,
        partner: &str,
        keys: &[String],
        data_units: &[String],
    ) -> Result<ResolvedExport, ServiceError> {
        let p = self.export_partner(partner).await?;
        if keys.is_empty() && data_units.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "keys, data_units: name at least one key ID or data-unit external tag".into(),
            ));
        }
        if keys.len() + data_units.len() > MAX_EXPORT_ITEMS {
            return Err(ServiceError::InvalidArgument(format!(
                "keys, data_units: at most {MAX_EXPORT_ITEMS} in one export"
            )));
        }
        self.require_transfer_identity().await?;
        let mut ids: Vec<String> = Vec::new();
        for k in keys {
            if !is_valid_object_id(k) {
                return Err(ServiceError::InvalidId(k.chars().take(64).collect()));
            }
            ids.push(k.clone());
        }
        let mut unit_ids = Vec::new();
        for tag in data_units {
            let shown = || tag.chars().take(120).collect::<String>();
            // One more than accepted, so a tag on too many units is refused, not cut.
            let units = self
                .store
                .data_units_by_tag_upto(tag, MAX_EXPORT_KEYS as i64 + 1)
                .await?;
            if units.is_empty() {
                return Err(ServiceError::NameNotFound(format!(
                    "no data unit has the external tag {:?}",
                    shown()
                )));
            }
            for u in units {
                for l in self.store.data_unit_keys(&u.id).await? {
                    ids.push(l.key_id);
                }
                unit_ids.push(u.id);
            }
            if unit_ids.len() > MAX_EXPORT_KEYS {
                return Err(ServiceError::InvalidArgument(format!(
                    "data_units: the tags name more than {MAX_EXPORT_KEYS} data units (up to {:?}); split the export",
                    shown()
                )));
            }
        }
        let mut seen = HashSet::new();
        ids.retain(|i| seen.insert(i.clone()));
        let mut seen = HashSet::new();
        unit_ids.retain(|i| seen.insert(i.clone()));
        if ids.is_empty() || ids.len() > MAX_EXPORT_KEYS {
            return Err(ServiceError::InvalidArgument(format!(
                "keys, data_units: they resolve to {} keys; 1 to {MAX_EXPORT_KEYS} go in one export (split a larger one)",
                ids.len()
            )));
        }
        let objs = self.exportable_objects(&ids).await?;
        Ok(ResolvedExport {
            partner: p,
            keys: objs,
            unit_ids,
        })
    }

    /// Checks a `transfer_export` request when it is asked and fixes what it will do:
    /// the partner's fingerprint, every key ID and every data-unit ID.
    pub(super) async fn resolve_transfer_export(
        &self,
        partner: &str,
        keys: &[String],
        data_units: &[String],
    ) -> Result<super::quorum::QuorumOp, ServiceError> {
        let r = self
            .check_transfer_export(partner, keys, data_units)
            .await?;
        Ok(super::quorum::QuorumOp::TransferExport {
            partner: r.partner.name,
            keys: keys.to_vec(),
            data_units: data_units.to_vec(),
            partner_fingerprint: Some(r.partner.fingerprint),
            key_ids: Some(r.keys.into_iter().map(|o| o.meta.id).collect()),
            data_unit_ids: Some(r.unit_ids),
        })
    }

    /// Runs an approved export inside the transaction recording the approval: the
    /// partner must still have the fingerprint fixed at proposal, and exactly the keys
    /// fixed then are exported, each checked again. The file is written under its
    /// temporary name; the caller publishes it once the transaction commits.
    /// Runs an approved export inside the transaction recording the approval.
    pub(super) async fn run_transfer_export(
        &self,
        tx: &mut WriteTx,
        partner: &str,
        fingerprint: &str,
        key_ids: &[String],
        unit_ids: &[String],
    ) -> Result<(String, PendingTransferFile), ServiceError> {
        let prepared = self
            .prepare_transfer_export(partner, fingerprint, key_ids, unit_ids)
            .await?;
        self.finish_transfer_export(tx, prepared).await
    }

    /// Records a prepared export in the transaction recording the approval, after
    /// checking again (cheaply) what the preparation checked: the partner's identity
    /// and that every key may still leave.
    pub(super) async fn finish_transfer_export(
        &self,
        tx: &mut WriteTx,
        prepared: PreparedExport,
    ) -> Result<(String, PendingTransferFile), ServiceError> {
        let p = self.export_partner(&prepared.partner).await.map_err(|_| {
            ServiceError::WrongState(format!(
                "transfer partner {:?} was removed while the export was made; nothing was exported",
                prepared.partner
            ))
        })?;
        if p.fingerprint != prepared.fingerprint {
            return Err(ServiceError::WrongState(format!(
                "transfer partner {:?} changed identity while the export was made; nothing was exported",
                prepared.partner
            )));
        }
        self.exportable_objects(&prepared.key_ids).await?;
        tx.append_audit(&prepared.event, now_millis()).await?;
        Ok((prepared.result, prepared.file))
    }

    /// The heavy part of an export (unwrapping every key in the HSM, sealing and
    /// writing the file under its temporary name), done before the approval's write
    /// transaction opens so key service is not held up meanwhile (SPEC 8.4).
    pub(super) async fn prepare_transfer_export(
        &self,
        partner: &str,
        fingerprint: &str,
        key_ids: &[String],
        unit_ids: &[String],
    ) -> Result<PreparedExport, ServiceError> {
        let p = self.export_partner(partner).await.map_err(|_| {
            ServiceError::WrongState(format!(
                "transfer partner {partner:?} is no longer registered; nothing was exported"
            ))
        })?;
        if p.fingerprint != fingerprint {
            return Err(ServiceError::WrongState(format!(
                "transfer partner {partner:?} has another identity ({}) than when the export was asked ({fingerprint}); nothing was exported",
                p.fingerprint
            )));
        }
        if key_ids.is_empty() || key_ids.len() > MAX_EXPORT_KEYS {
            return Err(ServiceError::InvalidArgument(format!(
                "the request names {} keys; 1 to {MAX_EXPORT_KEYS} go in one export",
                key_ids.len()
            )));
        }
        let objs = self.exportable_objects(key_ids).await?;
        let recipient = PublicIdentity::from_pem(&p.encryption_pem, &p.signing_pem)?;
        let us = self.require_transfer_identity().await?;
        let mut plain = Vec::with_capacity(objs.len());
        for obj in &objs {
            let w = obj
                .wrapped
                .as_ref()
                .ok_or_else(|| ServiceError::Destroyed(obj.meta.id.clone()))?;
            let material = self.rot.unwrap(&WrappedKey::from_bytes(w)?, &obj.meta.id)?;
            plain.push((obj.meta.clone(), material));
        }
        // Only the data units the request named by tag, with the exported keys' use.
        let exported: HashSet<&str> = key_ids.iter().map(String::as_str).collect();
        let mut entries = Vec::with_capacity(unit_ids.len());
        for uid in unit_ids {
            let Some(u) = self.store.data_unit(DataUnitLookup::Id(uid)).await? else {
                continue;
            };
            let keys: Vec<KeyUseEntry> = self
                .store
                .data_unit_keys(&u.id)
                .await?
                .into_iter()
                .filter(|l| exported.contains(l.key_id.as_str()))
                .map(|l| KeyUseEntry {
                    key_id: l.key_id,
                    first_used_at: l.first_used_at,
                    last_used_at: l.last_used_at,
                    writes: l.writes,
                    reads: l.reads,
                    bytes_written: l.bytes_written,
                    bytes_read: l.bytes_read,
                })
                .collect();
            entries.push(DataUnitEntry {
                id: u.id,
                external_tag: u.external_tag,
                external_unique_id: u.external_unique_id,
                description: u.description,
                created_at: u.created_at,
                keys,
            });
        }
        let transfer_id = new_object_id();
        let (n_keys, n_units) = (plain.len(), entries.len());
        let text = file::seal(
            &us,
            Export {
                transfer_id: &transfer_id,
                created_at: now_secs(),
                exporter: &self.node.name,
                recipient_name: &p.name,
                recipient: &recipient,
                keys: plain,
                data_units: entries,
            },
        )?;
        let name = export_file_name(&transfer_id);
        let pending = PendingTransferFile::write(self.backup_dir()?, &transfer_id, text).await?;
        let ids: Vec<&str> = objs.iter().map(|o| o.meta.id.as_str()).collect();
        let ev = self.event(
            &Principal::system("quorum"),
            "transfer.export",
            Some(&transfer_id),
            Outcome::Success,
            Some(format!(
                "for partner {} ({}): keys {}",
                p.name,
                p.fingerprint,
                ids.join(",")
            )),
        );
        tracing::info!(transfer = %transfer_id, partner = %p.name, keys = n_keys, "transfer file written");
        // The result starts `transfer ID `: fetch finds the request by it.
        let result = format!(
                "transfer {transfer_id} for partner {} written on node {node} as {name}: {n_keys} keys, \
                 {n_units} data units. A Key Administrator fetches it from node {node}: \
                 clavis transfer fetch {transfer_id}",
                p.name,
                node = self.node.name,
        );
        Ok(PreparedExport {
            partner: partner.to_owned(),
            fingerprint: fingerprint.to_owned(),
            key_ids: key_ids.to_vec(),
            result,
            file: pending,
            event: ev,
        })
    }

    /// The export file `id` made on this node (Key Administrators), audited.
    pub async fn transfer_export_file(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<TransferExportInfo, ServiceError> {
        let action = "transfer.fetch";
        let r = self.export_file_inner(who, id).await;
        match r {
            Ok(info) => {
                let ev = self.event(who, action, Some(&info.transfer_id), Outcome::Success, None);
                let mut tx = self.store.begin_write(&self.node.node_id).await?;
                tx.append_audit(&ev, now_millis()).await?;
                tx.commit().await?;
                Ok(info)
            }
            Err(e) => self.audit_failure(who, action, Some(id), Err(e)).await,
        }
    }

    async fn export_file_inner(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<TransferExportInfo, ServiceError> {
        self.authorize(who, &Action::TransferKeys).await?;
        let id = checked_transfer_id(id)?;
        // Only a file an executed request names: a stray file is nobody's export.
        if self.store.executed_transfer_export(id).await?.is_none() {
            return Err(ServiceError::NameNotFound(format!(
                "no executed transfer_export request made transfer {id}"
            )));
        }
        let name = export_file_name(id);
        let dir = self.backup_dir()?;
        let path = dir.join(&name);
        let not_here = || {
            ServiceError::NameNotFound(format!(
                "no transfer {id} in node {}'s backup directory (it is on the node its quorum request's result names)",
                self.node.name
            ))
        };
        let read = |e: std::io::Error, p: &Path| {
            ServiceError::Internal(format!("cannot read {}: {e}", p.display()))
        };
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Recorded, but the rename after the commit did not happen (a crash or
                // an I/O error then): finish it.
                let tmp = dir.join(temp_file_name(id));
                if !tokio::fs::try_exists(&tmp).await.unwrap_or(false) {
                    return Err(not_here());
                }
                let (t2, p2) = (tmp.clone(), path.clone());
                tokio::task::spawn_blocking(move || rename_synced(&t2, &p2))
                    .await
                    .map_err(|e| {
                        ServiceError::Internal(format!("renaming the transfer file: {e}"))
                    })?
                    .map_err(|e| read(e, &tmp))?;
                tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|e| read(e, &path))?
            }
            Err(e) => return Err(read(e, &path)),
        };
        Ok(TransferExportInfo {
            transfer_id: id.to_owned(),
            file_name: name,
            file: text,
        })
    }

    /// Imports a partner's transfer file (Key Administrators). `wallet` receives the
    /// imported keys and is the key group of imported data units (needed when the file
    /// has data units). Checks everything before writing anything; keys present
    /// already are skipped.
    pub async fn import_transfer(
        &self,
        who: &Principal,
        text: &str,
        wallet: Option<&str>,
    ) -> Result<TransferImportReport, ServiceError> {
        let action = "transfer.import";
        let r = self.import_inner(who, text, wallet, action).await;
        self.audit_failure(who, action, None, r).await
    }

    async fn import_inner(
        &self,
        who: &Principal,
        text: &str,
        wallet: Option<&str>,
        action: &str,
    ) -> Result<TransferImportReport, ServiceError> {
        self.authorize(who, &Action::TransferKeys).await?;
        let parsed = file::parse(text)?;
        let signer_fp = parsed.exporter_fingerprint().to_owned();
        let partner = self
            .store
            .transfer_partner(&signer_fp)
            .await?
            .filter(|p| p.state == "active")
            .ok_or_else(|| TransferError::UnknownPartner(signer_fp.chars().take(80).collect()))?;
        let signer = PublicIdentity::from_pem(&partner.encryption_pem, &partner.signing_pem)?;
        let verified = parsed.verify(&signer, &partner.name)?;
        let us = self.require_transfer_identity().await?;
        let opened = verified.open(&us)?;
        let transfer_id = opened.body.transfer_id.clone();
        let wallet_rec = match wallet {
            Some(w) => {
                let rec = self.load_wallet(w).await?;
                self.authorize(who, &Action::ManageWallet { wallet_id: &rec.id })
                    .await?;
                Some(rec)
            }
            None => None,
        };
        let policy = match &wallet_rec {
            Some(w) => self.store.key_policy(&w.id).await?,
            None => None,
        };
        for (meta, material) in &opened.keys {
            if let Some(d) = &meta.attributes.digest_sha256 {
                if hex::encode(sha2::Sha256::digest(material.expose_secret())) != *d {
                    return Err(TransferError::Undecryptable(meta.id.clone()).into());
                }
            }
            check_imported_key(meta, material)?;
            if let (Some(w), Some(p)) = (&wallet_rec, &policy) {
                check_against_policy(meta, &w.name, p)?;
            }
        }
        if !opened.body.data_units.is_empty() && wallet_rec.is_none() {
            return Err(ServiceError::InvalidArgument(format!(
                "wallet: the file carries {} data units; name the key group (wallet) they belong to on this cluster",
                opened.body.data_units.len()
            )));
        }
        let owner = self.subject(who).await?.owner_tag();
        let now = now_secs();
        let mut candidates = Vec::new();
        let mut skipped_ids = Vec::new();
        for (meta, material) in &opened.keys {
            if self.store.get_object(&meta.id).await?.is_some() {
                skipped_ids.push(meta.id.clone());
                continue;
            }
            let master_key = self.master_key.get();
            let wrapped = self.rot.wrap(&master_key, &meta.id, material)?;
            candidates.push(StoredObject {
                meta: meta.clone(),
                wrapped: Some(wrapped.to_bytes()),
                master_key_id: Some(master_key.0),
                hlc: to_db(self.hlc.now()),
                origin_node: self.node.node_id.clone(),
                owner: Some(owner.clone()),
            });
        }
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        // Looked at again inside the transaction, with imports one at a time (SQLite's
        // write lock, or an advisory lock on PostgreSQL, where the transaction would
        // not see a concurrent import's rows until it commits): a key another import
        // created meanwhile is skipped, not a conflict failing the whole file.
        tx.serialize_on(TxLock::TransferImport).await?;
        let mut new_objs = Vec::with_capacity(candidates.len());
        for obj in candidates {
            if tx.object_in_tx(&obj.meta.id).await?.is_some() {
                skipped_ids.push(obj.meta.id.clone());
            } else {
                new_objs.push(obj);
            }
        }
        let new_ids: HashSet<&str> = new_objs.iter().map(|o| o.meta.id.as_str()).collect();
        // Data units: an existing unit (same ID, or same external unique ID) is reused
        // only if it is in the target key group, otherwise the file is refused (keys
        // must not be linked to another group's media); links are added for the keys
        // created now (which no unit here can link yet).
        let mut units = Vec::new();
        let mut links = Vec::new();
        let mut seen_units = HashSet::new();
        for u in &opened.body.data_units {
            let shown = || u.id.chars().take(64).collect::<String>();
            if !is_valid_object_id(&u.id) || !seen_units.insert(u.id.as_str()) {
                return Err(TransferError::Malformed(format!(
                    "data unit ID {:?} is not a UUID or appears twice",
                    shown()
                ))
                .into());
            }
            let Some(w) = &wallet_rec else {
                continue;
            };
            let wanted: Vec<&KeyUseEntry> = u
                .keys
                .iter()
                .filter(|k| new_ids.contains(k.key_id.as_str()))
                .collect();
            let mut existing = tx.data_unit_in_tx(DataUnitLookup::Id(&u.id)).await?;
            if existing.is_none() {
                if let Some(uid) = &u.external_unique_id {
                    existing = tx.data_unit_in_tx(DataUnitLookup::UniqueId(uid)).await?;
                }
            }
            let unit_id = match existing {
                Some(e) if e.wallet_id == w.id => e.id,
                Some(e) => {
                    return Err(ServiceError::InvalidArgument(format!(
                        "data unit {} in the file is data unit {} here, which belongs to key group {:?}, not {:?}; nothing was imported",
                        shown(),
                        e.id,
                        self.wallet_name(&e.wallet_id).await,
                        w.name
                    )))
                }
                None => {
                    units.push(DataUnitRecord {
                        id: u.id.clone(),
                        external_tag: u.external_tag.clone(),
                        external_unique_id: u.external_unique_id.clone(),
                        wallet_id: w.id.clone(),
                        description: u.description.clone(),
                        state: "active".into(),
                        created_by: Some(owner.clone()),
                        created_at: u.created_at,
                        updated_at: now,
                        hlc: to_db(self.hlc.now()),
                        origin_node: self.node.node_id.clone(),
                    });
                    u.id.clone()
                }
            };
            for k in wanted {
                links.push((
                    DataUnitKeyRecord {
                        data_unit_id: unit_id.clone(),
                        key_id: k.key_id.clone(),
                        first_used_at: k.first_used_at,
                        last_used_at: k.last_used_at,
                        writes: k.writes,
                        reads: k.reads,
                        bytes_written: k.bytes_written,
                        bytes_read: k.bytes_read,
                    },
                    to_db(self.hlc.now()),
                ));
            }
        }
        for obj in &new_objs {
            tx.insert_object(obj).await?;
            if let Some(w) = &wallet_rec {
                tx.add_wallet_object(&w.id, &obj.meta.id, Some(&owner), now, obj.hlc)
                    .await?;
            }
        }
        tx.insert_data_units(&units).await?;
        tx.insert_first_links(&links).await?;
        let imported_ids: Vec<String> = new_objs.iter().map(|o| o.meta.id.clone()).collect();
        let ev = self.event(
            who,
            action,
            Some(&transfer_id),
            Outcome::Success,
            Some(format!(
                "from partner {} ({}): {} imported, {} skipped, {} data units; imported {}",
                partner.name,
                partner.fingerprint,
                imported_ids.len(),
                skipped_ids.len(),
                units.len(),
                imported_ids.join(",")
            )),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(TransferImportReport {
            transfer_id,
            partner: partner.name,
            imported: imported_ids.len(),
            skipped: skipped_ids.len(),
            imported_ids,
            skipped_ids,
            data_units_imported: units.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Attributes, KmipAttribute, State};
    use crate::kmip::tags as t;

    fn meta(extractable: Option<bool>) -> ObjectMeta {
        let kmip = extractable
            .map(|e| KmipAttribute {
                name: "Extractable".into(),
                ttlv_hex: hex::encode(Ttlv::boolean(t::EXTRACTABLE, e).encode()),
            })
            .into_iter()
            .collect();
        ObjectMeta {
            id: new_object_id(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state: State::Active,
            name: None,
            attributes: Attributes {
                kmip,
                ..Attributes::default()
            },
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn only_an_extractable_attribute_of_true_or_none_lets_a_key_out() {
        assert!(marked_non_extractable(&meta(Some(false))));
        assert!(!marked_non_extractable(&meta(Some(true))));
        assert!(!marked_non_extractable(&meta(None)));
        // A stored value that does not decode, or is not a boolean, keeps it in.
        for bad in [
            "zz".to_owned(),
            "4200".to_owned(),
            hex::encode(Ttlv::int(t::EXTRACTABLE, 1).encode()),
        ] {
            let mut m = meta(None);
            m.attributes.kmip.push(KmipAttribute {
                name: "Extractable".into(),
                ttlv_hex: bad.clone(),
            });
            assert!(marked_non_extractable(&m), "{bad}");
        }
    }

    fn key(object_type: ObjectType, algorithm: Option<Algorithm>, length: u32) -> ObjectMeta {
        ObjectMeta {
            object_type,
            algorithm,
            length: Some(length),
            name: Some("imported-key".into()),
            ..meta(None)
        }
    }

    fn refusal(m: &ObjectMeta, material: &[u8]) -> String {
        match check_imported_key(m, &KeyMaterial::from_slice(material)) {
            Ok(()) => String::new(),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains(&m.id), "the error names the key: {e}");
                e
            }
        }
    }

    #[test]
    fn imported_keys_are_checked_as_registered_ones_are() {
        let aes = key(ObjectType::SymmetricKey, Some(Algorithm::Aes), 256);
        assert_eq!(refusal(&aes, &[1; 32]), "");
        assert!(refusal(&aes, &[1; 16]).contains("length"));
        for st in [State::Destroyed, State::DestroyedCompromised] {
            let gone = ObjectMeta {
                state: st,
                ..aes.clone()
            };
            assert!(refusal(&gone, &[1; 32]).contains(st.as_str()));
        }
        let badname = ObjectMeta {
            name: Some("bad\nname".into()),
            ..aes.clone()
        };
        assert!(refusal(&badname, &[1; 32]).contains("name"));
        assert!(!refusal(
            &key(ObjectType::SymmetricKey, Some(Algorithm::Aes), 512),
            &[1; 64]
        )
        .is_empty());
        assert!(!refusal(
            &key(ObjectType::SymmetricKey, Some(Algorithm::Rsa), 256),
            &[1; 32]
        )
        .is_empty());
        assert!(!refusal(&key(ObjectType::Certificate, None, 4), &[1; 4]).is_empty());
        let data = key(ObjectType::SecretData, None, 5);
        assert_eq!(refusal(&data, b"hello"), "");
        assert!(refusal(&data, b"hello!").contains("length"));
        let rsa = crate::keys::asymmetric::generate(Algorithm::Rsa, 2048).expect("rsa");
        let private = key(ObjectType::PrivateKey, Some(Algorithm::Rsa), 2048);
        assert_eq!(refusal(&private, rsa.private_der.expose_secret()), "");
        let wrong = key(ObjectType::PrivateKey, Some(Algorithm::Rsa), 4096);
        assert!(refusal(&wrong, rsa.private_der.expose_secret()).contains("length"));
        let public = key(ObjectType::PublicKey, Some(Algorithm::Rsa), 2048);
        assert_eq!(refusal(&public, &rsa.public_der), "");
        assert!(!refusal(&public, &[1; 32]).is_empty());
        let ec = crate::keys::asymmetric::generate(Algorithm::Ec, 256).expect("ec");
        let ec_private = key(ObjectType::PrivateKey, Some(Algorithm::Ec), 256);
        assert_eq!(refusal(&ec_private, ec.private_der.expose_secret()), "");
        let ec_public = key(ObjectType::PublicKey, Some(Algorithm::Ec), 256);
        assert_eq!(refusal(&ec_public, &ec.public_der), "");
        let ec_384 = key(ObjectType::PrivateKey, Some(Algorithm::Ec), 384);
        assert!(!refusal(&ec_384, ec.private_der.expose_secret()).is_empty());
    }

    #[test]
    fn a_key_must_fit_the_target_groups_policy() {
        let policy = crate::store::KeyPolicyRecord {
            wallet_id: "w".into(),
            algorithm: "AES".into(),
            length: 128,
            encryption_period: None,
            decryption_period: None,
            exportable: false,
            created_at: 0,
            updated_at: 0,
            hlc: 0,
            origin_node: "n".into(),
        };
        let k = key(ObjectType::SymmetricKey, Some(Algorithm::Aes), 256);
        let e = check_against_policy(&k, "tapes", &policy).expect_err("256 into 128");
        assert!(e.to_string().contains(&k.id), "{e}");
        let k = key(ObjectType::SymmetricKey, Some(Algorithm::Aes), 128);
        assert!(check_against_policy(&k, "tapes", &policy).is_ok());
    }

    #[tokio::test]
    async fn an_export_file_gets_its_name_only_when_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = new_object_id();
        let final_path = dir.path().join(export_file_name(&id));
        let tmp_path = dir.path().join(temp_file_name(&id));

        // Dropped unpublished (a failed or retried transaction): nothing is left.
        let f = PendingTransferFile::write(dir.path(), &id, "text".into())
            .await
            .expect("write");
        assert!(tmp_path.exists() && !final_path.exists());
        drop(f);
        for _ in 0..100 {
            if !tmp_path.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!tmp_path.exists() && !final_path.exists());

        // Published after the commit: only the final name.
        let f = PendingTransferFile::write(dir.path(), &id, "text".into())
            .await
            .expect("write");
        f.publish().await;
        assert!(!tmp_path.exists());
        assert_eq!(std::fs::read_to_string(&final_path).expect("read"), "text");
    }

    #[test]
    fn transfer_ids_and_partner_names_are_checked() {
        assert!(checked_transfer_id("0190f0a0-0000-7000-8000-000000000001").is_ok());
        assert!(checked_transfer_id("../../etc/passwd").is_err());
        assert!(partner_name_check("dc-west.2").is_ok());
        assert!(partner_name_check("dc west").is_err());
        assert!(partner_name_check("").is_err());
    }
}
