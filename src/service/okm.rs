//! Service operations for agents speaking Oracle Key Manager's agent protocol
//! (`crate::agent::okm`): StorageTek T10000 drives and agent-card LTO drives.
//!
//! # Mapping
//! - An OKM **agent** is an endpoint of type [`OKM_ENDPOINT_TYPE`] whose name is the
//!   agent ID and whose default wallet is its key group (a wallet with a key policy).
//! - Its **one-time passphrase** is the endpoint's enrollment token. The protocol needs
//!   the node to prove knowledge of it too (a challenge-response in both directions), so
//!   a copy is kept as a secret-data object wrapped under the master key, owned by the
//!   system and in no wallet, named [`passphrase_object_name`]; it is destroyed when the
//!   agent enrolls. Enrollment itself is [`KeyService::enroll`], so the token's
//!   one-time use, expiry and audit are the same as for every endpoint.
//! - **Data units** are Clavis data units, found by ID, external unique ID or tag;
//!   **keys** are pool keys handed out exactly as to the native drive agents
//!   (`service::drives`), so a medium sees the same keys whichever protocol its drive
//!   speaks.
//!
//! Every operation authorizes its caller and writes an audit record (`okm.*`).

use super::drive_writer::{DataUnitTarget, DriveOp, DriveOpDone};
use super::{EndpointInfo, KeyService, Principal, PrincipalKind, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::hlc::to_db;
use crate::keys::policy::{may_process, may_protect};
use crate::keys::{new_object_id, now_millis, now_secs, KeyPolicy, ObjectMeta, State};
use crate::rot::WrappedKey;
use crate::secret::KeyMaterial;
use crate::store::{DataUnitLookup, DataUnitRecord, KeyUse, ListFilter, StoredObject};
use secrecy::{ExposeSecret, SecretString};

/// The endpoint type of OKM agents.
pub const OKM_ENDPOINT_TYPE: &str = "okm_agent";
/// Longest agent ID, site ID or key group ID the protocol carries (`KMS_MAX_ENTITY_ID`,
/// `KMS_MAX_ENTITY_SITE_ID`, `KMS_MAX_ID` in `KMSClientProfile.h`).
pub const MAX_OKM_ID: usize = 64;
/// Longest data-unit description (`KMS_MAX_DESCRIPTION`).
pub const MAX_OKM_DESCRIPTION: usize = 64;

/// The name of the secret-data object holding an agent's pending passphrase.
pub fn passphrase_object_name(endpoint_id: &str) -> String {
    format!("okm-passphrase.{endpoint_id}")
}

/// A new OKM agent and its one-time passphrase (shown once).
#[derive(Debug)]
pub struct OkmAgentCreated {
    /// The endpoint.
    pub endpoint: EndpointInfo,
    /// The passphrase the drive's operator types into the drive.
    pub passphrase: SecretString,
    /// When it stops working, Unix seconds.
    pub expires_at: i64,
}

/// What the OKM Certificate service needs to check an enrolling agent.
pub struct OkmPending {
    /// The agent (endpoint) name.
    pub agent_id: String,
    /// The pending one-time passphrase.
    pub passphrase: SecretString,
}

/// A key handed to an OKM agent, with the state the protocol reports.
pub struct OkmKey {
    /// The key as handed to drives.
    pub key: super::DriveKey,
    /// Its lifecycle state.
    pub state: State,
    /// True while it may protect new data.
    pub may_protect: bool,
    /// Key group (wallet) name.
    pub key_group: String,
}

/// A data unit with the facts the protocol reports about its keys.
#[derive(Debug, Clone)]
pub struct OkmDataUnit {
    /// The record.
    pub record: DataUnitRecord,
    /// Keys linked to it.
    pub keys: usize,
    /// Of which may still protect new data.
    pub protecting: usize,
    /// Of which are destroyed.
    pub destroyed: usize,
}

/// What discovery answers.
#[derive(Debug, Clone)]
pub struct OkmDiscovery {
    /// The agent's site.
    pub agent_site: Option<String>,
    /// The cluster's nodes.
    pub nodes: Vec<crate::store::NodeAgentAddr>,
}

/// A key group as the protocol lists it.
#[derive(Debug, Clone)]
pub struct OkmKeyGroup {
    /// Wallet name.
    pub id: String,
    /// Description.
    pub description: String,
}

fn check_id(field: &str, v: &str) -> Result<(), ServiceError> {
    if v.is_empty() || v.len() > MAX_OKM_ID {
        return Err(ServiceError::InvalidArgument(format!(
            "{field}: OKM agents carry 1 to {MAX_OKM_ID} bytes"
        )));
    }
    Ok(())
}

impl KeyService {
    /// Registers an OKM agent: an endpoint named `agent_id` in key group `key_group`
    /// (its default wallet, which must have a key policy) at `site`, and returns its
    /// one-time passphrase.
    pub async fn create_okm_agent(
        &self,
        who: &Principal,
        agent_id: &str,
        key_group: &str,
        site: Option<&str>,
    ) -> Result<OkmAgentCreated, ServiceError> {
        check_id("agent_id", agent_id)?;
        check_id("key_group", key_group)?;
        if let Some(s) = site {
            check_id("site", s)?;
        }
        let wallet = self.wallet_for(who, key_group).await?;
        match self.store.key_policy(&wallet.id).await? {
            None => {
                return Err(ServiceError::WrongState(format!(
                    "wallet {key_group:?} is not a key group: give it a key policy first (`clavis wallet policy set`)"
                )))
            }
            // The protocol knows one key type, AES-256 (`KMS_Agent__KeyType`).
            Some(p) if p.length != 256 => {
                return Err(ServiceError::WrongState(format!(
                    "key group {key_group:?} makes {}-bit keys; OKM agents take AES-256 keys only (`clavis wallet policy set {key_group} --length 256`)",
                    p.length
                )))
            }
            Some(_) => {}
        }
        let (endpoint, token) = self
            .register_endpoint(who, agent_id, OKM_ENDPOINT_TYPE, site, Some(key_group))
            .await?;
        let copy = KeyMaterial::from_slice(token.token.expose_secret().as_bytes());
        self.register_secret(
            &Principal::system("okm"),
            Some(passphrase_object_name(&endpoint.id)),
            copy,
            false,
        )
        .await?;
        Ok(OkmAgentCreated {
            endpoint,
            passphrase: token.token,
            expires_at: token.expires_at,
        })
    }

    /// A new one-time passphrase for OKM agent `agent_id` (to enroll it again, e.g. a
    /// replaced drive): the previous passphrase, if still pending, stops working; the
    /// agent keeps its certificate until it enrolls again.
    pub async fn reissue_okm_passphrase(
        &self,
        who: &Principal,
        agent_id: &str,
    ) -> Result<OkmAgentCreated, ServiceError> {
        let is_okm = self
            .store
            .endpoint_by_name(agent_id)
            .await?
            .is_some_and(|e| e.endpoint_type == OKM_ENDPOINT_TYPE);
        if !is_okm {
            return Err(ServiceError::EndpointNotFound(format!(
                "{agent_id} (no OKM agent of that name; `clavis okm agent create` makes one)"
            )));
        }
        let (endpoint, token) = self.issue_enrollment_token(who, agent_id).await?;
        let system = Principal::system("okm");
        while let Some(old) = self.passphrase_object(&endpoint.id).await? {
            self.destroy(&system, &old.meta.id).await?;
        }
        let copy = KeyMaterial::from_slice(token.token.expose_secret().as_bytes());
        self.register_secret(
            &system,
            Some(passphrase_object_name(&endpoint.id)),
            copy,
            false,
        )
        .await?;
        Ok(OkmAgentCreated {
            endpoint,
            passphrase: token.token,
            expires_at: token.expires_at,
        })
    }

    /// The pending passphrase of OKM agent `agent_id`, for the Certificate service to
    /// verify a proof against. `None` when there is no such agent or it has no pending
    /// passphrase (enrolled, or never created here): both answer "access denied".
    pub async fn okm_pending(&self, agent_id: &str) -> Result<Option<OkmPending>, ServiceError> {
        let Some(ep) = self.store.endpoint_by_name(agent_id).await? else {
            return Ok(None);
        };
        if ep.endpoint_type != OKM_ENDPOINT_TYPE || ep.token_hash.is_none() {
            return Ok(None);
        }
        let Some(obj) = self.passphrase_object(&ep.id).await? else {
            return Ok(None);
        };
        let Some(w) = &obj.wrapped else {
            return Ok(None);
        };
        let bytes = self.rot.unwrap(&WrappedKey::from_bytes(w)?, &obj.meta.id)?;
        let text = String::from_utf8(bytes.expose_secret().to_vec())
            .map_err(|_| ServiceError::Internal("stored OKM passphrase is not text".into()))?;
        Ok(Some(OkmPending {
            agent_id: ep.name,
            passphrase: SecretString::from(text),
        }))
    }

    async fn passphrase_object(
        &self,
        endpoint_id: &str,
    ) -> Result<Option<StoredObject>, ServiceError> {
        let found = self
            .store
            .list_objects(&ListFilter {
                name: Some(passphrase_object_name(endpoint_id)),
                state: Some(State::PreActive),
                limit: Some(1),
                ..ListFilter::default()
            })
            .await?;
        Ok(found.into_iter().next())
    }

    /// Enrolls OKM agent `pending` (whose proof the transport verified) with the CSR
    /// of the key pair made for it, then destroys the stored passphrase copy.
    pub async fn okm_enroll(
        &self,
        pending: &OkmPending,
        csr_pem: &str,
        source: Option<String>,
    ) -> Result<super::Enrollment, ServiceError> {
        let enrolled = self.enroll(&pending.passphrase, csr_pem, source).await?;
        if let Some(obj) = self.passphrase_object(&enrolled.endpoint.id).await? {
            if let Err(e) = self.destroy(&Principal::system("okm"), &obj.meta.id).await {
                tracing::warn!(error = %e, agent = %pending.agent_id, "could not destroy the used OKM passphrase copy");
            }
        }
        Ok(enrolled)
    }

    /// Records a refused OKM enrollment (wrong proof, unknown agent, too many tries).
    pub async fn okm_enroll_refused(&self, agent_id: &str, source: Option<String>, why: &str) {
        let who = Principal {
            name: agent_id.chars().take(MAX_OKM_ID).collect(),
            source,
            kind: PrincipalKind::System,
        };
        self.record(
            &who,
            "okm.enroll",
            Some(&who.name.clone()),
            Outcome::Denied,
            Some(why.into()),
        )
        .await;
    }

    /// The caller's key group: wallet ID, name and policy.
    async fn okm_group(
        &self,
        who: &Principal,
    ) -> Result<(String, String, KeyPolicy), ServiceError> {
        let PrincipalKind::Endpoint(id) = &who.kind else {
            return Err(ServiceError::Forbidden(
                "OKM calls come from enrolled agents only".into(),
            ));
        };
        let wallet_id = self
            .store
            .endpoint(id)
            .await?
            .and_then(|e| e.default_wallet)
            .ok_or_else(|| {
                ServiceError::Forbidden(format!("agent {:?} has no key group", who.name))
            })?;
        let policy = self
            .store
            .key_policy(&wallet_id)
            .await?
            .and_then(|p| crate::pool::to_policy(&p))
            .ok_or_else(|| {
                ServiceError::Forbidden(format!(
                    "the key group of agent {:?} has no key policy",
                    who.name
                ))
            })?;
        let name = self.wallet_name(&wallet_id).await;
        Ok((wallet_id, name, policy))
    }

    /// The key groups the agent may use: its own.
    pub async fn okm_key_groups(&self, who: &Principal) -> Result<Vec<OkmKeyGroup>, ServiceError> {
        let r = async {
            let (_, name, policy) = self.okm_group(who).await?;
            Ok(vec![OkmKeyGroup {
                description: format!("AES-{} key group", policy.length),
                id: name,
            }])
        }
        .await;
        self.audit_read(who, "okm.list_key_groups", None, r).await
    }

    async fn unit_facts(&self, record: DataUnitRecord) -> Result<OkmDataUnit, ServiceError> {
        let now = now_secs();
        let (mut keys, mut protecting, mut destroyed) = (0, 0, 0);
        for l in self.store.data_unit_keys(&record.id).await? {
            keys += 1;
            if let Some(o) = self.store.get_object(&l.key_id).await? {
                if may_protect(&o.meta, now) {
                    protecting += 1;
                }
                if o.meta.state.is_destroyed() {
                    destroyed += 1;
                }
            }
        }
        Ok(OkmDataUnit {
            record,
            keys,
            protecting,
            destroyed,
        })
    }

    /// Creates a data unit in the caller's key group.
    pub async fn okm_create_data_unit(
        &self,
        who: &Principal,
        external_tag: Option<String>,
        external_unique_id: Option<String>,
        description: Option<String>,
    ) -> Result<OkmDataUnit, ServiceError> {
        let r = self
            .okm_create_inner(who, external_tag, external_unique_id, description)
            .await;
        self.audit_failure(who, "okm.create_data_unit", None, r)
            .await
    }

    async fn okm_create_inner(
        &self,
        who: &Principal,
        external_tag: Option<String>,
        external_unique_id: Option<String>,
        description: Option<String>,
    ) -> Result<OkmDataUnit, ServiceError> {
        for v in [&external_tag, &external_unique_id].into_iter().flatten() {
            if !super::drives::is_valid_data_unit_id(v) {
                return Err(ServiceError::InvalidArgument(
                    super::drives::DATA_UNIT_ID_RULE.into(),
                ));
            }
        }
        if description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_OKM_DESCRIPTION)
        {
            return Err(ServiceError::InvalidArgument(format!(
                "description: at most {MAX_OKM_DESCRIPTION} bytes"
            )));
        }
        let subject = self.subject(who).await?;
        let (wallet_id, _, _) = self.okm_group(who).await?;
        self.decide(who, &subject, &Action::CreateObject, None)
            .await?;
        if let Some(uid) = &external_unique_id {
            if self
                .store
                .data_unit(DataUnitLookup::UniqueId(uid))
                .await?
                .is_some()
            {
                return Err(ServiceError::AlreadyExists(format!(
                    "a data unit with external unique ID {uid} exists"
                )));
            }
        }
        let now = now_secs();
        let rec = DataUnitRecord {
            id: new_object_id(),
            external_tag,
            external_unique_id,
            wallet_id,
            description,
            state: "active".into(),
            created_by: Some(subject.owner_tag()),
            created_at: now,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        };
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        match tx.put_data_unit(&rec).await {
            Ok(_) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(ServiceError::AlreadyExists(
                    "a data unit with this external unique ID exists".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        let ev = self.event(
            who,
            "okm.create_data_unit",
            Some(&rec.id),
            Outcome::Success,
            None,
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(OkmDataUnit {
            record: rec,
            keys: 0,
            protecting: 0,
            destroyed: 0,
        })
    }

    /// A data unit of the caller's key group, by ID or external unique ID.
    pub async fn okm_data_unit(
        &self,
        who: &Principal,
        by: DataUnitLookup<'_>,
    ) -> Result<OkmDataUnit, ServiceError> {
        let object = match by {
            DataUnitLookup::Id(id) => Some(id.to_owned()),
            DataUnitLookup::UniqueId(_) => None,
        };
        let r = async {
            let rec = self.okm_unit_record(who, by).await?;
            self.unit_facts(rec).await
        }
        .await;
        self.audit_read(who, "okm.retrieve_data_unit", object.as_deref(), r)
            .await
    }

    async fn okm_unit_record(
        &self,
        who: &Principal,
        by: DataUnitLookup<'_>,
    ) -> Result<DataUnitRecord, ServiceError> {
        let (wallet_id, _, _) = self.okm_group(who).await?;
        let rec = self
            .store
            .data_unit(by)
            .await?
            .ok_or_else(|| ServiceError::NotFound("no such data unit".into()))?;
        if rec.wallet_id != wallet_id {
            // Another group's medium: the protocol answers "access denied" without
            // saying why (KMSAgent.h, KMS_AGENT_STATUS_ACCESS_DENIED).
            return Err(ServiceError::Forbidden(
                "the data unit belongs to another key group".into(),
            ));
        }
        Ok(rec)
    }

    /// A new key for a data unit of the caller's key group, taken from the pool, even
    /// if the data unit has a key that may still protect data (CreateKey).
    pub async fn okm_create_key(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<OkmKey, ServiceError> {
        let r = self.okm_take(who, data_unit_id, "okm.create_key").await;
        self.audit_failure(who, "okm.create_key", Some(data_unit_id), r)
            .await
    }

    async fn okm_take(
        &self,
        who: &Principal,
        data_unit_id: &str,
        action: &str,
    ) -> Result<OkmKey, ServiceError> {
        let subject = self.subject(who).await?;
        let rec = self
            .okm_unit_record(who, DataUnitLookup::Id(data_unit_id))
            .await?;
        let (wallet_id, group, policy) = self.okm_group(who).await?;
        self.decide(who, &subject, &Action::CreateObject, None)
            .await?;
        let op = DriveOp::Take {
            wallet_id: wallet_id.clone(),
            policy,
            owner: subject.owner_tag(),
            data_unit: Box::new(DataUnitTarget::Existing(rec.id.clone())),
            hlc: to_db(self.hlc.now()),
            event: self.event(who, action, Some(&rec.id), Outcome::Success, None),
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
                self.pool.stats.taken(&wallet_id, 1, now_secs());
                self.pool.nudge();
                let material = self
                    .rot
                    .unwrap(&WrappedKey::from_bytes(&key.wrapped)?, &key.id)?;
                Ok(okm_key(&meta, Some(data_unit_id), material, true, group))
            }
            DriveOpDone::Empty => {
                if self.pool.stats.empty(&wallet_id, now_secs()) {
                    tracing::warn!(wallet = %group, node = %self.node.name, "key pool drained: answering \"no ready key\" until it refills");
                    self.record_system(
                        "pool.drained",
                        Some(&group),
                        Some(format!("node {}", self.node.name)),
                    )
                    .await;
                }
                self.pool.nudge();
                Err(ServiceError::NoReadyKey(group))
            }
            DriveOpDone::Used | DriveOpDone::Exists(_) => Err(ServiceError::Internal(
                "unexpected answer from the drive writer".into(),
            )),
        }
    }

    /// The data unit's current protect-and-process key, or a new one from the pool
    /// (RetrieveProtectAndProcessKey): the same rule as a native drive agent's write.
    pub async fn okm_protect_and_process_key(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<OkmKey, ServiceError> {
        let r = self.okm_pap_inner(who, data_unit_id).await;
        self.audit_failure(who, "okm.protect_and_process_key", Some(data_unit_id), r)
            .await
    }

    async fn okm_pap_inner(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<OkmKey, ServiceError> {
        let rec = self
            .okm_unit_record(who, DataUnitLookup::Id(data_unit_id))
            .await?;
        let (_, group, _) = self.okm_group(who).await?;
        let links = self.store.data_unit_keys(&rec.id).await?;
        if let Some(newest) = links.iter().rev().find(|l| l.writes > 0) {
            if let Some(obj) = self.store.get_object(&newest.key_id).await? {
                if may_protect(&obj.meta, now_secs()) {
                    self.authorize_object(who, &obj, super::authz::ObjectOp::Use)
                        .await?;
                    let material = self.unwrap_okm(&obj)?;
                    let ev = self.event(
                        who,
                        "okm.protect_and_process_key",
                        Some(&obj.meta.id),
                        Outcome::Success,
                        Some(format!("data unit {}, current key", rec.id)),
                    );
                    self.okm_use(
                        vec![(rec.id.clone(), obj.meta.id.clone(), KeyUse::WriteIssued)],
                        ev,
                    )
                    .await?;
                    return Ok(okm_key(&obj.meta, Some(rec.id), material, false, group));
                }
            }
        }
        self.okm_take(who, &rec.id, "okm.protect_and_process_key")
            .await
    }

    /// One key by ID (RetrieveKey), if the caller may use it and it may still read.
    pub async fn okm_key(&self, who: &Principal, key_id: &str) -> Result<OkmKey, ServiceError> {
        let keys = self
            .keys_for_read(who, &super::ReadRequest::Key(key_id.to_owned()))
            .await?;
        let (_, group, _) = self.okm_group(who).await?;
        let key = keys
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound(key_id.to_owned()))?;
        let now = now_secs();
        let protecting = key.protect_stop_date.is_none_or(|d| now < d)
            && key.deactivation_date.is_none_or(|d| now < d);
        Ok(OkmKey {
            key,
            state: State::Active,
            may_protect: protecting,
            key_group: group,
        })
    }

    /// Every key of a data unit of the caller's key group that the caller may use and
    /// that may still read (RetrieveDataUnitKeys), oldest first.
    pub async fn okm_data_unit_keys(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<Vec<OkmKey>, ServiceError> {
        let r = self.okm_dukeys_inner(who, data_unit_id).await;
        self.audit_failure(who, "okm.retrieve_data_unit_keys", Some(data_unit_id), r)
            .await
    }

    async fn okm_dukeys_inner(
        &self,
        who: &Principal,
        data_unit_id: &str,
    ) -> Result<Vec<OkmKey>, ServiceError> {
        let rec = self
            .okm_unit_record(who, DataUnitLookup::Id(data_unit_id))
            .await?;
        let (_, group, _) = self.okm_group(who).await?;
        let subject = self.subject(who).await?;
        let now = now_secs();
        let mut out = Vec::new();
        let mut links = Vec::new();
        for l in self.store.data_unit_keys(&rec.id).await? {
            let Some(obj) = self.store.get_object(&l.key_id).await? else {
                continue;
            };
            let wallets = self.store.wallets_of_object(&obj.meta.id).await?;
            let facts = crate::authz::ObjectFacts {
                owner: obj.owner.as_deref(),
                wallets: &wallets,
            };
            // Keys the caller may not use, or that no longer read, are left out
            // without a denial record of their own: the caller asked for the unit.
            if crate::authz::authorize(&subject, &Action::UseObject(facts)).is_err()
                || !may_process(&obj.meta, now)
            {
                continue;
            }
            let material = self.unwrap_okm(&obj)?;
            links.push((rec.id.clone(), obj.meta.id.clone(), KeyUse::ReadIssued));
            out.push(okm_key(
                &obj.meta,
                Some(rec.id.clone()),
                material,
                false,
                group.clone(),
            ));
        }
        let ids: Vec<&str> = out.iter().map(|k| k.key.key_id.as_str()).collect();
        let ev = self.event(
            who,
            "okm.retrieve_data_unit_keys",
            Some(&rec.id),
            Outcome::Success,
            Some(format!("keys {}", ids.join(","))),
        );
        self.okm_use(links, ev).await?;
        Ok(out)
    }

    /// Writes an agent's own audit message (CreateAuditLog).
    pub async fn okm_agent_audit(
        &self,
        who: &Principal,
        outcome: Outcome,
        message: &str,
    ) -> Result<(), ServiceError> {
        self.okm_group(who).await?;
        let msg: String = message
            .chars()
            .filter(|c| !c.is_control())
            .take(1024)
            .collect();
        self.record(who, "okm.agent_audit_log", None, outcome, Some(msg))
            .await;
        Ok(())
    }

    /// Records an OKM call that changes nothing in the store: a refused one (an
    /// unknown operation, a malformed envelope) or one whose effect lives in the
    /// transport (a key-wrapping key registered in memory).
    pub async fn okm_note(&self, who: &Principal, action: &str, outcome: Outcome, detail: &str) {
        let detail = (!detail.is_empty()).then(|| detail.chars().take(256).collect());
        self.record(who, action, None, outcome, detail).await;
    }

    /// What discovery tells an agent: its site and the cluster's nodes.
    pub async fn okm_discover(&self, who: &Principal) -> Result<OkmDiscovery, ServiceError> {
        let r = async {
            let PrincipalKind::Endpoint(id) = &who.kind else {
                return Err(ServiceError::Forbidden(
                    "OKM calls come from enrolled agents only".into(),
                ));
            };
            let agent_site = self.store.endpoint(id).await?.and_then(|e| e.site);
            let nodes = self.agent_nodes().await?;
            Ok(OkmDiscovery { agent_site, nodes })
        }
        .await;
        self.audit_read(who, "okm.discover_cluster", None, r).await
    }

    async fn okm_use(
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

    fn unwrap_okm(&self, obj: &StoredObject) -> Result<KeyMaterial, ServiceError> {
        match (&obj.wrapped, obj.meta.state.is_destroyed()) {
            (Some(w), false) => Ok(self.rot.unwrap(&WrappedKey::from_bytes(w)?, &obj.meta.id)?),
            _ => Err(ServiceError::Destroyed(obj.meta.id.clone())),
        }
    }
}

fn okm_key(
    meta: &ObjectMeta,
    data_unit_id: Option<String>,
    material: KeyMaterial,
    new_key: bool,
    key_group: String,
) -> OkmKey {
    OkmKey {
        key: super::DriveKey {
            key_id: meta.id.clone(),
            data_unit_id,
            length: meta.length.unwrap_or(0),
            material,
            protect_stop_date: meta.attributes.protect_stop_date,
            deactivation_date: meta.attributes.deactivation_date,
            new_key,
        },
        state: meta.state,
        may_protect: may_protect(meta, now_secs()),
        key_group,
    }
}
