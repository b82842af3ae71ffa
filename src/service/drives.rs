//! Keys for tape drives (SPEC 2.5, 3, 4.4): a new key for a medium being written, the
//! keys of a medium being read, and the use drives report.
//!
//! # Rules
//! - The caller is an enrolled endpoint (a drive agent). Its default wallet is its key
//!   group: new keys come from that group's pool on this node and go into it, owned by
//!   the agent. A wallet without a key policy is not a key group.
//! - **Write**: a data unit is found by its external unique ID, else by its external
//!   tag within the caller's key group; if its newest write key may still protect data
//!   (Active, before its protect-stop and deactivation dates) and the caller may use
//!   it, that key is handed out again (appending to a tape); otherwise the oldest pool
//!   key becomes an Active managed object, linked to the data unit (created if new), in
//!   one transaction with its audit record. An empty pool answers
//!   [`ServiceError::NoReadyKey`] at once, so the agent can fail over.
//! - A medium whose data unit belongs to another key group is not written by this one.
//! - **Read**: a key by ID (from the tape's key-associated data) or every key of a data
//!   unit, each only if the caller may use it and it may still read data (within its
//!   decryption period, not revoked or compromised).
//! - Every answer is audited, and every key handed out is counted on its data unit.

use super::authz::ObjectOp;
use super::drive_writer::{DataUnitTarget, DriveOp, DriveOpDone};
use super::{KeyService, Principal, PrincipalKind, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::authz::Subject;
use crate::hlc::to_db;
use crate::keys::policy::{may_process, may_protect};
use crate::keys::{new_object_id, now_secs, KeyPolicy, ObjectMeta};
use crate::rot::WrappedKey;
use crate::secret::KeyMaterial;
use crate::store::{DataUnitKeyRecord, DataUnitLookup, DataUnitRecord, KeyUse};
use std::sync::Arc;

/// Longest external tag or unique ID accepted, in bytes.
pub const MAX_DATA_UNIT_ID_LEN: usize = 128;
/// The rule for external tags and unique IDs, as shown in errors.
pub const DATA_UNIT_ID_RULE: &str =
    "external tags and unique IDs are 1 to 128 printable ASCII characters";

/// What taking a pool key for a medium came to.
enum Taken {
    Key(DriveKey),
    /// The medium has a data unit already (nothing taken).
    Exists(DataUnitRecord),
}

/// Names a medium.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataUnitRef {
    /// Barcode or volume serial.
    pub external_tag: Option<String>,
    /// The medium's own unique ID (e.g. its MAM serial number).
    pub external_unique_id: Option<String>,
}

impl DataUnitRef {
    fn check(&self) -> Result<(), ServiceError> {
        if self.external_tag.is_none() && self.external_unique_id.is_none() {
            return Err(ServiceError::InvalidArgument(
                "data unit: give its external tag, its external unique ID, or both".into(),
            ));
        }
        for (field, v) in [
            ("external_tag", &self.external_tag),
            ("external_unique_id", &self.external_unique_id),
        ] {
            if v.as_deref().is_some_and(|s| !is_valid_data_unit_id(s)) {
                return Err(ServiceError::InvalidArgument(format!(
                    "{field}: {DATA_UNIT_ID_RULE}"
                )));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match (&self.external_tag, &self.external_unique_id) {
            (Some(t), Some(u)) => format!("tag {t}, unique ID {u}"),
            (Some(t), None) => format!("tag {t}"),
            (None, Some(u)) => format!("unique ID {u}"),
            (None, None) => "-".into(),
        }
    }
}

/// True for a valid external tag or unique ID.
pub fn is_valid_data_unit_id(s: &str) -> bool {
    (1..=MAX_DATA_UNIT_ID_LEN).contains(&s.len()) && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Which keys a reading drive asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadRequest {
    /// One key, by the ID the tape's key-associated data carries.
    Key(String),
    /// Every key that encrypted a data unit.
    DataUnit(DataUnitRef),
}

/// A key handed to a drive. The material is zeroized when dropped.
pub struct DriveKey {
    /// Key (object) ID: what the drive writes as key-associated data.
    pub key_id: String,
    /// The data unit it was handed out for (`None` for a key read by ID that no data
    /// unit records).
    pub data_unit_id: Option<String>,
    /// Length in bits.
    pub length: u32,
    /// The plaintext key.
    pub material: KeyMaterial,
    /// When it stops protecting new data, Unix seconds.
    pub protect_stop_date: Option<i64>,
    /// When it stops reading data, Unix seconds.
    pub deactivation_date: Option<i64>,
    /// True when it came fresh from the pool.
    pub new_key: bool,
}

/// A data unit as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataUnitInfo {
    /// Data unit ID.
    pub id: String,
    /// Barcode or volume serial.
    pub external_tag: Option<String>,
    /// The medium's own unique ID.
    pub external_unique_id: Option<String>,
    /// Key group (wallet) ID.
    pub wallet_id: String,
    /// Who created it (owner tag).
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Keys that encrypted it, oldest first (only on a single data unit's view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<DataUnitKeyRecord>>,
}

impl From<DataUnitRecord> for DataUnitInfo {
    fn from(d: DataUnitRecord) -> Self {
        DataUnitInfo {
            id: d.id,
            external_tag: d.external_tag,
            external_unique_id: d.external_unique_id,
            wallet_id: d.wallet_id,
            created_by: d.created_by,
            created_at: d.created_at,
            keys: None,
        }
    }
}

impl KeyService {
    /// A key for writing a data unit: its current key, or a new one from the pool.
    pub async fn key_for_write(
        &self,
        who: &Principal,
        unit: &DataUnitRef,
    ) -> Result<DriveKey, ServiceError> {
        let r = self.key_for_write_inner(who, unit).await;
        self.audit_failure(who, "drive.key_for_write", None, r)
            .await
    }

    async fn key_for_write_inner(
        &self,
        who: &Principal,
        unit: &DataUnitRef,
    ) -> Result<DriveKey, ServiceError> {
        unit.check()?;
        let subject = self.subject(who).await?;
        let (wallet_id, policy) = self.key_group_of(who, &subject).await?;
        self.decide(who, &subject, &Action::CreateObject, None)
            .await?;
        // A new medium is the common case (a backup starting on a fresh tape): the
        // drive writer looks its data unit up in the batch it commits, instead of a
        // look-up per request here, and creates it if there is none.
        let now = now_secs();
        let new_unit = DataUnitRecord {
            id: new_object_id(),
            external_tag: unit.external_tag.clone(),
            external_unique_id: unit.external_unique_id.clone(),
            wallet_id: wallet_id.clone(),
            description: None,
            state: "active".into(),
            created_by: Some(subject.owner_tag()),
            created_at: now,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        };
        let existing = match self
            .take_pool_key(
                who,
                &subject,
                &wallet_id,
                policy,
                DataUnitTarget::New(new_unit),
            )
            .await?
        {
            Taken::Key(key) => return Ok(key),
            Taken::Exists(du) => du,
        };
        if existing.wallet_id != wallet_id {
            let why = "this medium's data unit belongs to a key group this agent does not write";
            self.record(
                who,
                "drive.key_for_write",
                Some(&existing.id),
                Outcome::Denied,
                Some(why.into()),
            )
            .await;
            return Err(ServiceError::Forbidden(why.into()));
        }
        if let Some(key) = self.current_write_key(who, &existing.id).await? {
            return self.hand_out(who, key, &existing.id).await;
        }
        match self
            .take_pool_key(
                who,
                &subject,
                &wallet_id,
                policy,
                DataUnitTarget::Existing(existing.id),
            )
            .await?
        {
            Taken::Key(key) => Ok(key),
            Taken::Exists(_) => Err(ServiceError::Internal(
                "unexpected answer from the drive writer".into(),
            )),
        }
    }

    /// Takes a pool key for a data unit through the drive writer.
    async fn take_pool_key(
        &self,
        who: &Principal,
        subject: &Subject,
        wallet_id: &str,
        policy: KeyPolicy,
        target: DataUnitTarget,
    ) -> Result<Taken, ServiceError> {
        let op = DriveOp::Take {
            wallet_id: wallet_id.to_owned(),
            policy,
            owner: subject.owner_tag(),
            data_unit: Box::new(target),
            hlc: to_db(self.hlc.now()),
            event: self.event(who, "drive.key_for_write", None, Outcome::Success, None),
        };
        match self
            .drive_writer
            .submit(op)
            .await
            .map_err(ServiceError::Internal)?
        {
            DriveOpDone::Taken {
                key,
                meta,
                data_unit_id,
            } => {
                self.pool.stats.taken(wallet_id, 1, now_secs());
                self.pool.nudge();
                let wrapped = WrappedKey::from_bytes(&key.wrapped)?;
                let material = self.rot.unwrap(&wrapped, &key.id)?;
                Ok(Taken::Key(drive_key(
                    &meta,
                    Some(data_unit_id),
                    material,
                    true,
                )))
            }
            DriveOpDone::Exists(du) => Ok(Taken::Exists(*du)),
            DriveOpDone::Empty => {
                let name = self.wallet_name(wallet_id).await;
                if self.pool.stats.empty(wallet_id, now_secs()) {
                    tracing::warn!(wallet = %name, node = %self.node.name, "key pool drained: answering \"no ready key\" until it refills");
                    self.record_system(
                        "pool.drained",
                        Some(&name),
                        Some(format!("node {}", self.node.name)),
                    )
                    .await;
                }
                self.pool.nudge();
                Err(ServiceError::NoReadyKey(name))
            }
            DriveOpDone::Used => Err(ServiceError::Internal(
                "unexpected answer from the drive writer".into(),
            )),
        }
    }

    /// The data unit's newest write key, if it may still protect data and `who` may use it.
    async fn current_write_key(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<Option<crate::store::StoredObject>, ServiceError> {
        let links = self.store.data_unit_keys(data_unit_id).await?;
        let Some(newest) = links.iter().rev().find(|l| l.writes > 0) else {
            return Ok(None);
        };
        let Some(obj) = self.store.get_object(&newest.key_id).await? else {
            return Ok(None);
        };
        if !may_protect(&obj.meta, now_secs()) {
            return Ok(None);
        }
        self.authorize_object(who, &obj, ObjectOp::Use).await?;
        Ok(Some(obj))
    }

    async fn hand_out(
        &self,
        who: &Principal,
        obj: crate::store::StoredObject,
        data_unit_id: &str,
    ) -> Result<DriveKey, ServiceError> {
        let wrapped = match &obj.wrapped {
            Some(w) => WrappedKey::from_bytes(w)?,
            None => return Err(ServiceError::Destroyed(obj.meta.id)),
        };
        let material = self.rot.unwrap(&wrapped, &obj.meta.id)?;
        let ev = self.event(
            who,
            "drive.key_for_write",
            Some(&obj.meta.id),
            Outcome::Success,
            Some(format!("data unit {data_unit_id}, current key")),
        );
        self.submit_use(
            vec![(
                data_unit_id.to_owned(),
                obj.meta.id.clone(),
                KeyUse::WriteIssued,
            )],
            ev,
        )
        .await?;
        Ok(drive_key(
            &obj.meta,
            Some(data_unit_id.to_owned()),
            material,
            false,
        ))
    }

    /// Keys for reading: one by ID, or all of a data unit's.
    pub async fn keys_for_read(
        &self,
        who: &Principal,
        req: &ReadRequest,
    ) -> Result<Vec<DriveKey>, ServiceError> {
        let object = match req {
            ReadRequest::Key(id) => Some(id.as_str()),
            ReadRequest::DataUnit(_) => None,
        };
        let r = self.keys_for_read_inner(who, req).await;
        self.audit_failure(who, "drive.key_for_read", object, r)
            .await
    }

    async fn keys_for_read_inner(
        &self,
        who: &Principal,
        req: &ReadRequest,
    ) -> Result<Vec<DriveKey>, ServiceError> {
        let now = now_secs();
        let mut out = Vec::new();
        let mut links = Vec::new();
        match req {
            ReadRequest::Key(id) => {
                let obj = self.load(id).await?;
                self.authorize_object(who, &obj, ObjectOp::Use).await?;
                if !may_process(&obj.meta, now) {
                    return Err(ServiceError::WrongState(format!(
                        "key {id} may no longer read data: it is {} or past its decryption period",
                        obj.meta.state.as_str()
                    )));
                }
                let units = self.store.data_units_of_key(id).await?;
                for u in &units {
                    links.push((u.data_unit_id.clone(), id.clone(), KeyUse::ReadIssued));
                }
                let material = self.unwrap_stored(&obj)?;
                out.push(drive_key(
                    &obj.meta,
                    units.first().map(|u| u.data_unit_id.clone()),
                    material,
                    false,
                ));
            }
            ReadRequest::DataUnit(unit) => {
                unit.check()?;
                let units = self.data_units_matching(unit).await?;
                for du in &units {
                    for l in self.store.data_unit_keys(&du.id).await? {
                        let Some(obj) = self.store.get_object(&l.key_id).await? else {
                            continue;
                        };
                        // Keys the caller may not use, or that may no longer read, are
                        // left out; if that leaves nothing, the caller learns no more
                        // than "no keys".
                        if self.authorize_quietly(who, &obj).await.is_err()
                            || !may_process(&obj.meta, now)
                        {
                            continue;
                        }
                        links.push((du.id.clone(), obj.meta.id.clone(), KeyUse::ReadIssued));
                        let material = self.unwrap_stored(&obj)?;
                        out.push(drive_key(&obj.meta, Some(du.id.clone()), material, false));
                    }
                }
                if out.is_empty() {
                    return Err(ServiceError::NotFound(format!(
                        "no readable keys for the data unit ({})",
                        unit.describe()
                    )));
                }
            }
        }
        let ids: Vec<&str> = out.iter().map(|k| k.key_id.as_str()).collect();
        let ev = self.event(
            who,
            "drive.key_for_read",
            Some(&ids.join(",")),
            Outcome::Success,
            None,
        );
        self.submit_use(links, ev).await?;
        Ok(out)
    }

    /// Records what a drive reports it did with a key.
    pub async fn report_key_use(
        &self,
        who: &Principal,
        key_id: &str,
        bytes_written: i64,
        bytes_read: i64,
    ) -> Result<(), ServiceError> {
        let r = self
            .report_inner(who, key_id, bytes_written, bytes_read)
            .await;
        self.audit_failure(who, "drive.report_use", Some(key_id), r)
            .await
    }

    async fn report_inner(
        &self,
        who: &Principal,
        key_id: &str,
        bytes_written: i64,
        bytes_read: i64,
    ) -> Result<(), ServiceError> {
        if bytes_written < 0 || bytes_read < 0 {
            return Err(ServiceError::InvalidArgument(
                "bytes: must not be negative".into(),
            ));
        }
        let obj = self.load(key_id).await?;
        self.authorize_object(who, &obj, ObjectOp::Use).await?;
        let mut links = Vec::new();
        for u in self.store.data_units_of_key(key_id).await? {
            if bytes_written > 0 {
                links.push((
                    u.data_unit_id.clone(),
                    key_id.to_owned(),
                    KeyUse::Wrote(bytes_written),
                ));
            }
            if bytes_read > 0 {
                links.push((
                    u.data_unit_id.clone(),
                    key_id.to_owned(),
                    KeyUse::Read(bytes_read),
                ));
            }
        }
        let ev = self.event(
            who,
            "drive.report_use",
            Some(key_id),
            Outcome::Success,
            Some(format!(
                "{bytes_written} bytes written, {bytes_read} bytes read"
            )),
        );
        self.submit_use(links, ev).await
    }

    async fn submit_use(
        &self,
        links: Vec<(String, String, KeyUse)>,
        event: crate::audit::AuditEvent,
    ) -> Result<(), ServiceError> {
        let op = DriveOp::Use {
            links,
            hlc: to_db(self.hlc.now()),
            event,
        };
        self.drive_writer
            .submit(op)
            .await
            .map_err(ServiceError::Internal)
            .map(|_| ())
    }

    /// The caller's key group: its default wallet and that wallet's policy, cached
    /// (see `pool::groups`) because every drive request needs it.
    pub(super) async fn key_group_of(
        &self,
        who: &Principal,
        subject: &Arc<Subject>,
    ) -> Result<(String, KeyPolicy), ServiceError> {
        let PrincipalKind::Endpoint(id) = &who.kind else {
            return Err(ServiceError::InvalidArgument(
                "drive keys are handed to enrolled drive agents only".into(),
            ));
        };
        if let Some(g) = self.pool.groups.get(id, subject) {
            return Ok((g.wallet_id.to_string(), g.policy));
        }
        let generation = self.pool.groups.generation();
        let wallet_id = self
            .store
            .endpoint(id)
            .await?
            .and_then(|e| e.default_wallet)
            .ok_or_else(|| {
                ServiceError::WrongState(format!(
                    "endpoint {:?} has no default wallet: an administrator sets one (its key group) with `clavis endpoint set-wallet`",
                    who.name
                ))
            })?;
        let policy = self
            .store
            .key_policy(&wallet_id)
            .await?
            .and_then(|p| crate::pool::to_policy(&p))
            .ok_or_else(|| {
                ServiceError::WrongState(format!(
                    "the default wallet of endpoint {:?} is not a key group: it has no key policy (`clavis wallet policy set`)",
                    who.name
                ))
            })?;
        let group = crate::pool::KeyGroup {
            wallet_id: wallet_id.as_str().into(),
            policy,
        };
        self.pool.groups.put(id, subject, generation, group);
        Ok((wallet_id, policy))
    }

    async fn data_units_matching(
        &self,
        unit: &DataUnitRef,
    ) -> Result<Vec<DataUnitRecord>, ServiceError> {
        if let Some(uid) = &unit.external_unique_id {
            return Ok(self
                .store
                .data_unit(DataUnitLookup::UniqueId(uid))
                .await?
                .into_iter()
                .collect());
        }
        Ok(self
            .store
            .data_units_by_tag(unit.external_tag.as_deref().unwrap_or_default())
            .await?)
    }

    /// Like `authorize_object` for Use, but a denial is not audited on its own: the
    /// caller asked for a data unit, not for this key.
    async fn authorize_quietly(
        &self,
        who: &Principal,
        obj: &crate::store::StoredObject,
    ) -> Result<(), ServiceError> {
        let subject = self.subject(who).await?;
        let wallets = self.store.wallets_of_object(&obj.meta.id).await?;
        let facts = crate::authz::ObjectFacts {
            owner: obj.owner.as_deref(),
            wallets: &wallets,
        };
        crate::authz::authorize(&subject, &Action::UseObject(facts))
            .map_err(|d| ServiceError::Forbidden(d.0))
    }

    fn unwrap_stored(&self, obj: &crate::store::StoredObject) -> Result<KeyMaterial, ServiceError> {
        match (&obj.wrapped, obj.meta.state.is_destroyed()) {
            (Some(w), false) => Ok(self.rot.unwrap(&WrappedKey::from_bytes(w)?, &obj.meta.id)?),
            _ => Err(ServiceError::Destroyed(obj.meta.id.clone())),
        }
    }

    pub(crate) async fn wallet_name(&self, wallet_id: &str) -> String {
        match self.store.wallet(wallet_id).await {
            Ok(Some(w)) => w.name,
            _ => wallet_id.to_owned(),
        }
    }
}

impl std::fmt::Debug for DriveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveKey")
            .field("key_id", &self.key_id)
            .field("data_unit_id", &self.data_unit_id)
            .field("length", &self.length)
            .field("new_key", &self.new_key)
            .finish_non_exhaustive()
    }
}

fn drive_key(
    meta: &ObjectMeta,
    data_unit_id: Option<String>,
    material: KeyMaterial,
    new_key: bool,
) -> DriveKey {
    DriveKey {
        key_id: meta.id.clone(),
        data_unit_id,
        length: meta.length.unwrap_or(0),
        material,
        protect_stop_date: meta.attributes.protect_stop_date,
        deactivation_date: meta.attributes.deactivation_date,
        new_key,
    }
}
