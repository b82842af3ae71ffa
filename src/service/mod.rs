//! The service layer: every operation on keys, whichever transport asked.
//!
//! Transports (REST now; KMIP and the agent protocol later) turn requests into calls
//! here, passing the caller as a [`Principal`]. The service never knows which
//! transport called it; it alone touches the store and the root of trust.

mod attributes;
pub mod audit;
mod audit_writer;
pub mod auth;
mod authz;
pub mod backup;
mod backup_schedule;
pub use backup_schedule::{run_scheduled_backups, ARMED_BACKUP_KEY_FILE};
pub mod cluster;
mod crypto;
mod drive_writer;
pub mod drives;
pub mod endpoints;
mod error;
mod key_groups;
mod keypair;
pub mod master_key_backup;
pub mod okm;
pub mod quorum;
pub mod recovery;
mod rekey;
pub mod rotation;
mod status;
pub mod transfer;
pub mod users;
pub mod wallets;

pub use authz::{Settings, SETTING_NAMES};
pub use crypto::{CipherMode, Encrypted};
pub use drives::{DataUnitInfo, DataUnitRef, DriveKey, ReadRequest};
pub use endpoints::{EndpointCertificate, EndpointInfo, Enrollment, EnrollmentToken};
pub use error::ServiceError;
pub use key_groups::KeyPolicyInfo;
pub use keypair::CreateKeyPair;
pub use status::{ObjectCounts, Status};

use crate::audit::Outcome;
use crate::authz::{Action, Roles, SubjectKind};
use crate::hlc::{to_db, Hlc};
use crate::keys::{
    is_valid_object_id, new_object_id, now_millis, now_secs, Algorithm, Attributes, ObjectMeta,
    ObjectType, RevocationReason, State, Transition,
};
use crate::names::{is_valid_key_name, KEY_NAME_RULE};
use crate::rot::{MasterKeyId, RootOfTrust, WrappedKey};
use crate::secret::KeyMaterial;
use crate::store::{ListFilter, Store, StoreError, StoredObject, Visibility};
use authz::ObjectOp;
use sha2::Digest;
use std::sync::Arc;

/// Who is asking. What they may do is decided by `authz::authorize` on the rights
/// resolved from this (see [`KeyService::subject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account or endpoint name.
    pub name: String,
    /// Where the request came from (address), for the audit trail.
    pub source: Option<String>,
    /// What kind of caller this is.
    pub kind: PrincipalKind,
}

/// Kinds of callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user account (REST API, CLI), by user ID.
    User(String),
    /// An enrolled endpoint (KMIP client, drive agent), by endpoint ID.
    Endpoint(String),
    /// The node itself, or an in-process caller trusted like it.
    System,
}

/// This node's identity.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// Node ID (UUIDv7), from the node's data directory.
    pub node_id: String,
    /// Node name.
    pub name: String,
    /// Site.
    pub site: String,
}

/// A request to create a symmetric key.
#[derive(Debug, Clone)]
pub struct CreateKey {
    /// Algorithm (AES).
    pub algorithm: Algorithm,
    /// Length in bits (128 or 256 for AES).
    pub length: u32,
    /// Optional name.
    pub name: Option<String>,
    /// Activate at once (state Active) instead of Pre-Active.
    pub activate: bool,
    /// Further attributes to set at creation (usage mask, custom, KMIP extras).
    pub attributes: Attributes,
}

/// What a new object is, before it has an ID.
pub(crate) struct NewObject {
    pub(crate) object_type: ObjectType,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) length: Option<u32>,
    pub(crate) name: Option<String>,
    pub(crate) activate: bool,
    pub(crate) attributes: Attributes,
}

/// Largest secret data accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 4096;
const MAX_LIST: i64 = 1000;
const MAX_RETRIES: usize = 5;

/// The key service of one node.
pub struct KeyService {
    rot: Arc<dyn RootOfTrust>,
    store: Store,
    node: NodeIdentity,
    hlc: Hlc,
    master_key: crate::rot::ActiveMasterKey,
    authz: authz::AuthzCache,
    recovery_throttle: recovery::RecoveryThrottle,
    audit_writer: audit_writer::AuditWriter,
    drive_writer: drive_writer::DriveWriter,
    pool: Arc<crate::pool::Pool>,
    peers: crate::cluster::status::PeerTable,
    metrics: crate::metrics::RequestMetrics,
    backup_paths: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)>,
    rotation: rotation::RotationCounters,
}

impl KeyService {
    /// Opens the service on an initialized store; checks that the active master key
    /// is present in the root of trust.
    pub async fn open(
        rot: Arc<dyn RootOfTrust>,
        store: Store,
        node: NodeIdentity,
    ) -> Result<KeyService, ServiceError> {
        let active = store
            .master_keys()
            .await?
            .into_iter()
            .rev()
            .find(|m| m.state == "active")
            .ok_or(StoreError::NotInitialized)?;
        let master_key = MasterKeyId(active.id);
        if !rot.has_master_key(&master_key)? {
            return Err(ServiceError::Rot(crate::rot::RotError::MasterKeyNotFound(
                master_key,
            )));
        }
        let audit_writer = audit_writer::AuditWriter::start(store.clone(), node.node_id.clone());
        let drive_writer = drive_writer::DriveWriter::start(store.clone(), node.node_id.clone());
        let hlc = Hlc::new();
        hlc.observe(u64::try_from(store.max_hlc().await?).unwrap_or(0));
        Ok(KeyService {
            rot,
            store,
            node,
            hlc,
            master_key: crate::rot::ActiveMasterKey::new(master_key),
            authz: authz::AuthzCache::default(),
            recovery_throttle: recovery::RecoveryThrottle::default(),
            audit_writer,
            drive_writer,
            pool: Arc::default(),
            peers: Default::default(),
            metrics: Default::default(),
            backup_paths: Default::default(),
            rotation: Default::default(),
        })
    }

    /// Request counts and latencies of this node's interfaces.
    pub fn metrics(&self) -> &crate::metrics::RequestMetrics {
        &self.metrics
    }

    /// What this node knows of its cluster peers (written by the replication pullers).
    pub fn peers(&self) -> &crate::cluster::status::PeerTable {
        &self.peers
    }

    /// The store (for the node's own bookkeeping, not for transports).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The root of trust.
    pub fn rot(&self) -> &Arc<dyn RootOfTrust> {
        &self.rot
    }

    /// The master key that wraps new keys.
    pub fn master_key(&self) -> MasterKeyId {
        self.master_key.get()
    }

    /// This node's key pool (configuration and counters).
    pub fn pool(&self) -> &Arc<crate::pool::Pool> {
        &self.pool
    }

    /// What the pool maintainer needs to refill this node's pools.
    pub fn refiller(&self) -> crate::pool::Refiller {
        crate::pool::Refiller {
            store: self.store.clone(),
            rot: self.rot.clone(),
            master_key: self.master_key.clone(),
            node_id: self.node.node_id.clone(),
            pool: self.pool.clone(),
        }
    }

    /// This node.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// Creates a symmetric key from the root of trust's random generator.
    pub async fn create_key(
        &self,
        who: &Principal,
        req: CreateKey,
    ) -> Result<ObjectMeta, ServiceError> {
        if req.algorithm != Algorithm::Aes {
            return Err(ServiceError::InvalidArgument(format!(
                "algorithm: {} keys come in pairs; create them as a key pair",
                req.algorithm.as_str()
            )));
        }
        if !req.algorithm.allowed_lengths().contains(&req.length) {
            return Err(ServiceError::InvalidArgument(format!(
                "length: {} keys are {:?} bits long, not {}",
                req.algorithm.as_str(),
                req.algorithm.allowed_lengths(),
                req.length
            )));
        }
        check_name(req.name.as_deref())?;
        let material = self.rot.random(req.length as usize / 8)?;
        let meta = self
            .insert_new(
                who,
                "key.create",
                NewObject {
                    object_type: ObjectType::SymmetricKey,
                    algorithm: Some(req.algorithm),
                    length: Some(req.length),
                    name: req.name,
                    activate: req.activate,
                    attributes: req.attributes,
                },
                &material,
            )
            .await?;
        Ok(meta)
    }

    /// Stores caller-supplied secret data (a password, a credential).
    pub async fn register_secret(
        &self,
        who: &Principal,
        name: Option<String>,
        data: KeyMaterial,
        activate: bool,
    ) -> Result<ObjectMeta, ServiceError> {
        self.register_data(
            who,
            ObjectType::SecretData,
            name,
            data,
            activate,
            Attributes::default(),
        )
        .await
    }

    /// Stores caller-supplied bytes as secret data or an opaque object (KMIP Register).
    pub async fn register_data(
        &self,
        who: &Principal,
        object_type: ObjectType,
        name: Option<String>,
        data: KeyMaterial,
        activate: bool,
        attributes: Attributes,
    ) -> Result<ObjectMeta, ServiceError> {
        if !matches!(
            object_type,
            ObjectType::SecretData | ObjectType::OpaqueObject
        ) {
            return Err(ServiceError::InvalidArgument(format!(
                "object type: {} is not data",
                object_type.as_str()
            )));
        }
        if data.is_empty() || data.len() > MAX_SECRET_LEN {
            return Err(ServiceError::InvalidArgument(format!(
                "secret: must be 1 to {MAX_SECRET_LEN} bytes"
            )));
        }
        check_name(name.as_deref())?;
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let meta = self
            .insert_new(
                who,
                "data.register",
                NewObject {
                    object_type,
                    algorithm: None,
                    length: Some(len),
                    name,
                    activate,
                    attributes,
                },
                &data,
            )
            .await?;
        Ok(meta)
    }

    /// Stores a caller-supplied RSA key-pair half: PKCS#1 DER, checked and measured here.
    pub async fn register_rsa_key(
        &self,
        who: &Principal,
        object_type: ObjectType,
        name: Option<String>,
        der: KeyMaterial,
        activate: bool,
        attributes: Attributes,
    ) -> Result<ObjectMeta, ServiceError> {
        let private = match object_type {
            ObjectType::PrivateKey => true,
            ObjectType::PublicKey => false,
            other => {
                return Err(ServiceError::InvalidArgument(format!(
                    "object type: {} is not an RSA key",
                    other.as_str()
                )))
            }
        };
        let bits = crate::keys::asymmetric::rsa_bits(private, der.expose_secret())?;
        check_name(name.as_deref())?;
        let meta = self
            .insert_new(
                who,
                "key.register",
                NewObject {
                    object_type,
                    algorithm: Some(Algorithm::Rsa),
                    length: Some(bits),
                    name,
                    activate,
                    attributes,
                },
                &der,
            )
            .await?;
        Ok(meta)
    }

    /// Stores a caller-supplied symmetric key (KMIP Register).
    pub async fn register_key(
        &self,
        who: &Principal,
        req: CreateKey,
        material: KeyMaterial,
    ) -> Result<ObjectMeta, ServiceError> {
        if req.algorithm != Algorithm::Aes {
            return Err(ServiceError::InvalidArgument(format!(
                "algorithm: only AES symmetric keys can be registered, not {}",
                req.algorithm.as_str()
            )));
        }
        if material.len() * 8 != req.length as usize
            || !req.algorithm.allowed_lengths().contains(&req.length)
        {
            return Err(ServiceError::InvalidArgument(format!(
                "length: {} keys of {:?} bits are accepted; this one is {} bits",
                req.algorithm.as_str(),
                req.algorithm.allowed_lengths(),
                material.len() * 8
            )));
        }
        check_name(req.name.as_deref())?;
        let meta = self
            .insert_new(
                who,
                "key.register",
                NewObject {
                    object_type: ObjectType::SymmetricKey,
                    algorithm: Some(req.algorithm),
                    length: Some(req.length),
                    name: req.name,
                    activate: req.activate,
                    attributes: req.attributes,
                },
                &material,
            )
            .await?;
        Ok(meta)
    }

    /// Stores new objects owned by `who`, with the audit record, in one transaction.
    /// Objects an endpoint creates also go into its default wallet.
    pub(crate) async fn insert_objects(
        &self,
        who: &Principal,
        action: &str,
        objects: &mut [StoredObject],
    ) -> Result<(), ServiceError> {
        let subject = self.subject(who).await?;
        self.decide(who, &subject, &Action::CreateObject, None)
            .await?;
        let owner = subject.owner_tag();
        let default_wallet = match &who.kind {
            PrincipalKind::Endpoint(id) => self
                .store
                .endpoint(id)
                .await?
                .and_then(|e| e.default_wallet),
            _ => None,
        };
        let now = now_secs();
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        for obj in objects.iter_mut() {
            obj.owner = Some(owner.clone());
            tx.insert_object(obj).await?;
            if let Some(w) = &default_wallet {
                tx.add_wallet_object(w, &obj.meta.id, Some(&owner), now, obj.hlc)
                    .await?;
            }
        }
        let ids: Vec<&str> = objects.iter().map(|o| o.meta.id.as_str()).collect();
        let ev = self.event(who, action, Some(&ids.join(",")), Outcome::Success, None);
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_new(
        &self,
        who: &Principal,
        action: &str,
        new: NewObject,
        material: &KeyMaterial,
    ) -> Result<ObjectMeta, ServiceError> {
        let mut objs = [self.build_object(new_object_id(), new, material)?];
        let r = self.insert_objects(who, action, &mut objs).await;
        self.audit_failure(who, action, None, r).await?;
        let [obj] = objs;
        Ok(obj.meta)
    }

    /// A new object row with `material` wrapped under the active master key.
    fn build_object(
        &self,
        id: String,
        new: NewObject,
        material: &KeyMaterial,
    ) -> Result<StoredObject, ServiceError> {
        let NewObject {
            object_type,
            algorithm,
            length,
            name,
            activate,
            attributes: given,
        } = new;
        // Lifecycle dates and revocation belong to the service, not the caller.
        let mut attributes = Attributes {
            custom: given.custom,
            usage_mask: given.usage_mask,
            kmip: given.kmip,
            links: given.links,
            digest_sha256: matches!(
                object_type,
                ObjectType::SymmetricKey | ObjectType::PrivateKey | ObjectType::PublicKey
            )
            .then(|| hex::encode(sha2::Sha256::digest(material.expose_secret()))),
            ..Attributes::default()
        };
        let master_key = self.master_key.get();
        let wrapped = self.rot.wrap(&master_key, &id, material)?;
        let now = now_secs();
        // A client may register an object activated in the past (KMIP Activation Date),
        // and give a Deactivation Date; one already passed means the key is Deactivated.
        // Future deactivation dates are kept but not yet acted on by a timer.
        attributes.deactivation_date = given.deactivation_date;
        let state = if activate {
            attributes.activation_date =
                Some(given.activation_date.filter(|d| *d <= now).unwrap_or(now));
            if given.deactivation_date.is_some_and(|d| d <= now) {
                State::Deactivated
            } else {
                State::Active
            }
        } else {
            State::PreActive
        };
        Ok(StoredObject {
            meta: ObjectMeta {
                id,
                object_type,
                algorithm,
                length,
                state,
                name,
                attributes,
                created_at: now,
                updated_at: now,
            },
            wrapped: Some(wrapped.to_bytes()),
            master_key_id: Some(master_key.0),
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
            owner: None,
        })
    }

    pub(crate) async fn load(&self, id: &str) -> Result<StoredObject, ServiceError> {
        if !is_valid_object_id(id) {
            return Err(ServiceError::InvalidId(truncate(id)));
        }
        self.store
            .get_object(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(id.to_owned()))
    }

    /// An object's metadata.
    pub async fn get(&self, who: &Principal, id: &str) -> Result<ObjectMeta, ServiceError> {
        let r = self.read_meta(who, id).await;
        self.audit_read(who, "object.get_attributes", Some(id), r)
            .await
    }

    /// An object's metadata, if `who` may read it (no audit record: callers write it).
    pub(crate) async fn read_meta(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<ObjectMeta, ServiceError> {
        let obj = self.load(id).await?;
        self.authorize_object(who, &obj, ObjectOp::Read).await?;
        Ok(obj.meta)
    }

    /// An object's metadata and plaintext material, unwrapped in the root of trust.
    pub async fn get_material(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(ObjectMeta, KeyMaterial), ServiceError> {
        let r = self.unwrap_material(who, id).await;
        self.audit_read(who, "object.get", Some(id), r).await
    }

    /// An object's metadata and its material, unwrapped by the root of trust, if `who`
    /// may use it; refused once the material is destroyed. The caller audits the use.
    pub(crate) async fn unwrap_material(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(ObjectMeta, KeyMaterial), ServiceError> {
        let obj = self.load(id).await?;
        self.authorize_object(who, &obj, ObjectOp::Use).await?;
        let wrapped = match (&obj.wrapped, obj.meta.state.is_destroyed()) {
            (Some(w), false) => WrappedKey::from_bytes(w)?,
            _ => return Err(ServiceError::Destroyed(obj.meta.id)),
        };
        let material = self.rot.unwrap(&wrapped, &obj.meta.id)?;
        Ok((obj.meta, material))
    }

    /// Objects matching `filter` that `who` may see (at most 1,000 per call).
    pub async fn list(
        &self,
        who: &Principal,
        filter: ListFilter,
    ) -> Result<Vec<ObjectMeta>, ServiceError> {
        let r = self.list_visible(who, filter).await;
        self.audit_read(who, "object.list", None, r).await
    }

    async fn list_visible(
        &self,
        who: &Principal,
        mut filter: ListFilter,
    ) -> Result<Vec<ObjectMeta>, ServiceError> {
        let subject = self.subject(who).await?;
        let sees_all = match subject.kind {
            SubjectKind::System => true,
            SubjectKind::User(_) => subject
                .roles
                .intersects(Roles::KEY_ADMIN | Roles::AUDIT_MANAGER),
            SubjectKind::Endpoint(_) => false,
        };
        filter.visible_to = (!sees_all).then(|| Visibility {
            owner: subject.owner_tag(),
            wallets: subject.wallets.keys().cloned().collect(),
        });
        match filter.limit {
            Some(l) if !(1..=MAX_LIST).contains(&l) => {
                return Err(ServiceError::InvalidArgument(format!(
                    "limit: must be 1 to {MAX_LIST}"
                )))
            }
            None => filter.limit = Some(100),
            _ => {}
        }
        if filter.offset.is_some_and(|o| o < 0) {
            return Err(ServiceError::InvalidArgument(
                "offset: must not be negative".into(),
            ));
        }
        Ok(self
            .store
            .list_objects(&filter)
            .await?
            .into_iter()
            .map(|o| o.meta)
            .collect())
    }

    /// Pre-Active → Active.
    pub async fn activate(&self, who: &Principal, id: &str) -> Result<ObjectMeta, ServiceError> {
        self.transition(
            who,
            "object.activate",
            id,
            Transition::Activate,
            |attrs, now| attrs.activation_date = Some(now),
        )
        .await
    }

    /// Returns an object activated by a batch that is being undone to Pre-Active. Not a
    /// KMIP lifecycle transition: only the KMIP batch-undo path calls it, right after the
    /// activation it reverses, and the change is logged like any other.
    pub(crate) async fn revert_activation(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<ObjectMeta, ServiceError> {
        self.modify(who, "object.undo_activate", id, |obj, _| {
            if obj.meta.state != State::Active {
                return Err(ServiceError::WrongState(format!(
                    "object {id} is no longer active"
                )));
            }
            obj.meta.state = State::PreActive;
            obj.meta.attributes.activation_date = None;
            Ok(())
        })
        .await
    }

    /// Revokes: compromise reasons move to Compromised, others to Deactivated.
    pub async fn revoke(
        &self,
        who: &Principal,
        id: &str,
        reason: RevocationReason,
        message: Option<String>,
    ) -> Result<ObjectMeta, ServiceError> {
        if message
            .as_ref()
            .is_some_and(|m| m.len() > 1024 || m.chars().any(char::is_control))
        {
            return Err(ServiceError::InvalidArgument(
                "message: at most 1024 bytes, no control characters".into(),
            ));
        }
        let t = if reason.is_compromise() {
            Transition::Compromise
        } else {
            Transition::Deactivate
        };
        self.transition(who, "object.revoke", id, t, |attrs, now| {
            attrs.revocation_reason = Some(reason);
            attrs.revocation_message = message.clone();
            if reason.is_compromise() {
                attrs.compromise_date = Some(now);
            }
            attrs.deactivation_date.get_or_insert(now);
        })
        .await
    }

    /// Destroys the material; metadata stays. Active objects must be revoked first.
    pub async fn destroy(&self, who: &Principal, id: &str) -> Result<ObjectMeta, ServiceError> {
        self.transition(
            who,
            "object.destroy",
            id,
            Transition::Destroy,
            |attrs, now| attrs.destroy_date = Some(now),
        )
        .await
    }

    async fn transition(
        &self,
        who: &Principal,
        action: &str,
        id: &str,
        t: Transition,
        update: impl Fn(&mut Attributes, i64),
    ) -> Result<ObjectMeta, ServiceError> {
        self.modify(who, action, id, |obj, now| {
            let from = obj.meta.state;
            let to = from
                .transition(t)
                .ok_or_else(|| ServiceError::IllegalTransition {
                    id: obj.meta.id.clone(),
                    from,
                    op: t.as_str(),
                })?;
            obj.meta.state = to;
            update(&mut obj.meta.attributes, now);
            if to.is_destroyed() {
                obj.wrapped = None;
                obj.master_key_id = None;
            }
            Ok(())
        })
        .await
    }

    /// Read-modify-write of one object with optimistic concurrency, if `who` may modify
    /// it: `edit` runs on a fresh copy each attempt; the write, its change-log row and
    /// its audit record commit together only if no one else changed the object in
    /// between. Failures are audited too.
    pub(crate) async fn modify(
        &self,
        who: &Principal,
        action: &str,
        id: &str,
        edit: impl Fn(&mut StoredObject, i64) -> Result<(), ServiceError>,
    ) -> Result<ObjectMeta, ServiceError> {
        let r = self.modify_inner(who, action, id, edit).await;
        self.audit_failure(who, action, Some(id), r).await
    }

    async fn modify_inner(
        &self,
        who: &Principal,
        action: &str,
        id: &str,
        edit: impl Fn(&mut StoredObject, i64) -> Result<(), ServiceError>,
    ) -> Result<ObjectMeta, ServiceError> {
        for attempt in 0..MAX_RETRIES {
            let mut obj = self.load(id).await?;
            if attempt == 0 {
                self.authorize_object(who, &obj, ObjectOp::Modify).await?;
            }
            let expected = obj.hlc;
            let now = now_secs();
            edit(&mut obj, now)?;
            obj.meta.updated_at = now;
            obj.hlc = to_db(self.hlc.after(expected));
            obj.origin_node = self.node.node_id.clone();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            match tx.update_object(&obj, expected).await {
                Ok(_) => {
                    let ev = self.event(who, action, Some(id), Outcome::Success, None);
                    tx.append_audit(&ev, now_millis()).await?;
                    tx.commit().await?;
                    return Ok(obj.meta);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(id.to_owned()))
    }
}

pub(crate) fn check_name(name: Option<&str>) -> Result<(), ServiceError> {
    match name {
        Some(n) if !is_valid_key_name(n) => Err(ServiceError::InvalidArgument(format!(
            "name: {KEY_NAME_RULE}"
        ))),
        _ => Ok(()),
    }
}

/// Echoes at most 64 characters of untrusted input back in errors.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
