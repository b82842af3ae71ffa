//! Quorum approval (SPEC 5.6): operations too dangerous for one person become pending
//! requests that M of the N quorum members approve before a deadline; the operation
//! runs when the M-th approval arrives. A request past its deadline, or one that can no
//! longer reach M, does nothing.
//!
//! Today the quorum guards changes to itself, adding a node to the cluster and
//! master-key backups (whose restore needs M of the members' shares instead, as it
//! runs on a new node that has no quorum yet), registering key transfer partners and
//! exporting keys to one (`service::transfer`); factory reset joins when it lands
//! (each a [`QuorumOp`] variant and an arm in `execute`).
//!
//! Some approvals hand out a secret (a node's join token). Those do not run the
//! operation when the M-th approval arrives: they record it as approved, and the
//! requester then redeems the approval once (`redeem_approval`), receiving the secret
//! in their own answer, so it is never stored or shown to the voters.

use super::transfer::PendingTransferFile;
use super::users::user_id;
use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::{Action, Roles};
use crate::hlc::to_db;
use crate::keys::{new_object_id, now_millis, now_secs};
use crate::store::{QuorumRequestRecord, StoreError};

/// Default time members have to vote.
pub const DEFAULT_DEADLINE_SECS: i64 = 24 * 3600;
/// Longest deadline accepted.
pub const MAX_DEADLINE_SECS: i64 = 7 * 24 * 3600;
/// Most quorum members.
pub const MAX_MEMBERS: usize = 32;

/// An operation that needs quorum approval.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum QuorumOp {
    /// Replace the quorum: its members (user names) and how many must approve.
    SetQuorum {
        /// Member user names.
        members: Vec<String>,
        /// Approvals needed (M).
        required: u32,
    },
    /// Invite a node into the cluster; the requester redeems the approval with
    /// `clavis cluster add-node --approval ID`, which returns the join token.
    AddNode {
        /// The new node's name.
        name: String,
        /// Its site.
        site: String,
    },
    /// Back up the master key: export it wrapped under a key split among the quorum's
    /// members, `threshold` of whom recover it (`clavis master-key backup`).
    BackupMasterKey {
        /// Shares needed to recover the master key (2 to the number of members).
        threshold: u32,
    },
    /// Trust another cluster's transfer identity (SPEC 8.3): files it signs may be
    /// imported, and keys may be exported to it (each export under quorum again).
    RegisterTransferPartner {
        /// The name this cluster calls it by.
        name: String,
        /// Its RSA encryption public key, PEM.
        encryption_public_key: String,
        /// Its ECDSA P-256 signing public key, PEM.
        signing_public_key: String,
        /// Its fingerprint, as the partner's administrators read it out (checked
        /// against the keys).
        fingerprint: String,
    },
    /// Export keys to a registered partner (SPEC 5.6): the keys named, and the keys of
    /// the data units with these external tags, every one exportable, wrapped to the
    /// partner in a file signed by this cluster (`clavis transfer fetch`).
    ///
    /// What the members approve is fixed when the request is made: the node resolves
    /// the partner to its fingerprint and the tags to data units and their keys, and
    /// stores them here (values a caller gives for them are replaced). The M-th
    /// approval exports exactly those, or fails if the partner's identity changed.
    TransferExport {
        /// The partner's name.
        partner: String,
        /// Key IDs.
        #[serde(default)]
        keys: Vec<String>,
        /// Data-unit external tags (barcodes).
        #[serde(default)]
        data_units: Vec<String>,
        /// Set at proposal: the partner's fingerprint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partner_fingerprint: Option<String>,
        /// Set at proposal: every key exported (the keys named and those of the data
        /// units).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_ids: Option<Vec<String>>,
        /// Set at proposal: the IDs of the data units the tags named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_unit_ids: Option<Vec<String>>,
    },
}

impl QuorumOp {
    fn name(&self) -> &'static str {
        match self {
            QuorumOp::SetQuorum { .. } => "set_quorum",
            QuorumOp::AddNode { .. } => "add_node",
            QuorumOp::BackupMasterKey { .. } => "backup_master_key",
            QuorumOp::RegisterTransferPartner { .. } => "register_transfer_partner",
            QuorumOp::TransferExport { .. } => "transfer_export",
        }
    }

    /// The role that may ask for it.
    fn needs(&self) -> Roles {
        match self {
            QuorumOp::SetQuorum { .. }
            | QuorumOp::AddNode { .. }
            | QuorumOp::BackupMasterKey { .. }
            | QuorumOp::RegisterTransferPartner { .. } => Roles::SYSTEM_ADMIN,
            // Keys leaving the cluster: the lifecycle of keys is the Key Administrator's.
            QuorumOp::TransferExport { .. } => Roles::KEY_ADMIN,
        }
    }
}

/// Whether two operations are the same request (node names compare without case, as
/// node names are unique without case).
fn same_operation(a: &QuorumOp, b: &QuorumOp) -> bool {
    match (a, b) {
        (QuorumOp::AddNode { name, site }, QuorumOp::AddNode { name: n2, site: s2 }) => {
            name.eq_ignore_ascii_case(n2) && site == s2
        }
        _ => a == b,
    }
}

/// The quorum as configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuorumInfo {
    /// Member user names.
    pub members: Vec<String>,
    /// Approvals needed; 0 when no quorum is configured.
    pub required: i64,
}

/// A request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuorumRequest {
    /// Request ID.
    pub id: String,
    /// The operation and its parameters.
    pub operation: serde_json::Value,
    /// Who asked.
    pub requested_by: String,
    /// Approvals needed.
    pub required: i64,
    /// `pending`, `executed`, `failed`, `rejected` or `expired`.
    pub state: String,
    /// Unix seconds.
    pub deadline: i64,
    /// Members who approved.
    pub approvals: Vec<String>,
    /// Members who rejected.
    pub rejections: Vec<String>,
    /// What running it produced, or why not.
    pub result: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl KeyService {
    pub(super) async fn user_name(&self, id: &str) -> Result<String, ServiceError> {
        Ok(self
            .store
            .user(id)
            .await?
            .map(|u| u.name)
            .unwrap_or_else(|| id.to_owned()))
    }

    /// The quorum's members and threshold.
    pub async fn quorum(&self, who: &Principal) -> Result<QuorumInfo, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let mut members = Vec::new();
        for id in self.store.quorum_members().await? {
            members.push(self.user_name(&id).await?);
        }
        Ok(QuorumInfo {
            members,
            required: self.quorum_required().await?,
        })
    }

    pub(crate) async fn quorum_required(&self) -> Result<i64, ServiceError> {
        Ok(self
            .store
            .setting("quorum_required")
            .await?
            .and_then(|v| v.as_i64())
            .unwrap_or(0))
    }

    async fn request_info(&self, r: &QuorumRequestRecord) -> Result<QuorumRequest, ServiceError> {
        let mut approvals = Vec::new();
        let mut rejections = Vec::new();
        for (uid, approve) in self.store.quorum_votes(&r.id).await? {
            let n = self.user_name(&uid).await?;
            if approve {
                approvals.push(n);
            } else {
                rejections.push(n);
            }
        }
        let state = if r.state == "pending" && r.deadline <= now_secs() {
            "expired".to_owned()
        } else {
            r.state.clone()
        };
        Ok(QuorumRequest {
            id: r.id.clone(),
            operation: serde_json::from_str(&r.params).unwrap_or(serde_json::Value::Null),
            requested_by: self.user_name(&r.requested_by).await?,
            required: r.required,
            state,
            deadline: r.deadline,
            approvals,
            rejections,
            result: r.result.clone(),
            created_at: r.created_at,
        })
    }

    /// Asks for `op`. With no quorum configured yet, setting the first quorum runs at
    /// once (someone has to start); every other case creates a pending request.
    pub async fn propose(
        &self,
        who: &Principal,
        op: QuorumOp,
        deadline_secs: Option<i64>,
    ) -> Result<QuorumRequest, ServiceError> {
        let r = self.propose_inner(who, op, deadline_secs).await;
        self.audit_failure(who, "quorum.propose", None, r).await
    }

    async fn propose_inner(
        &self,
        who: &Principal,
        op: QuorumOp,
        deadline_secs: Option<i64>,
    ) -> Result<QuorumRequest, ServiceError> {
        self.authorize(who, &Action::ProposeQuorum { needs: op.needs() })
            .await?;
        let ttl = deadline_secs.unwrap_or(DEFAULT_DEADLINE_SECS);
        if !(60..=MAX_DEADLINE_SECS).contains(&ttl) {
            return Err(ServiceError::InvalidArgument(format!(
                "deadline_secs: 60 to {MAX_DEADLINE_SECS}"
            )));
        }
        let op = match op {
            // An export is resolved now, so the members approve exact keys and identity.
            QuorumOp::TransferExport {
                partner,
                keys,
                data_units,
                ..
            } => {
                self.resolve_transfer_export(&partner, &keys, &data_units)
                    .await?
            }
            op => {
                self.validate(&op).await?;
                op
            }
        };
        let requester = user_id(who)
            .ok_or_else(|| ServiceError::Forbidden("quorum requests are made by users".into()))?;
        let required = self.quorum_required().await?;
        let members = self.store.quorum_members().await?;
        let now = now_secs();
        let mut rec = QuorumRequestRecord {
            id: new_object_id(),
            action: op.name().into(),
            params: serde_json::to_string(&op)
                .map_err(|e| ServiceError::InvalidArgument(format!("operation: {e}")))?,
            requested_by: requester,
            required,
            state: "pending".into(),
            deadline: now + ttl,
            result: None,
            created_at: now,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        };
        let bootstrap = members.is_empty() && matches!(op, QuorumOp::SetQuorum { .. });
        if !bootstrap && members.is_empty() {
            return Err(ServiceError::Forbidden(
                "no quorum is configured; set one first (clavis quorum set)".into(),
            ));
        }
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        if bootstrap {
            rec.required = 0;
            let result = self.execute(&mut tx, &op, &mut None, None).await?;
            rec.state = "executed".into();
            rec.result = Some(format!("no quorum was configured; ran at once: {result}"));
        }
        tx.put_quorum_request(&rec, None).await?;
        let ev = self.event(
            who,
            "quorum.propose",
            Some(&rec.id),
            Outcome::Success,
            Some(format!("{} ({})", rec.action, rec.state)),
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        if bootstrap {
            self.authz_changed();
        }
        self.request_info(&rec).await
    }

    /// Checks an operation's parameters before anyone votes on it.
    async fn validate(&self, op: &QuorumOp) -> Result<(), ServiceError> {
        match op {
            QuorumOp::SetQuorum { members, required } => {
                let n = members.len();
                if n == 0 || n > MAX_MEMBERS || *required == 0 || *required as usize > n {
                    return Err(ServiceError::InvalidArgument(format!(
                        "quorum: 1 to {MAX_MEMBERS} members and 1 <= required <= members (got {required} of {n})"
                    )));
                }
                let mut seen = std::collections::HashSet::new();
                for m in members {
                    let u = self.load_user(m).await?;
                    if !seen.insert(u.id) {
                        return Err(ServiceError::InvalidArgument(format!(
                            "members: {m:?} is listed twice"
                        )));
                    }
                }
                Ok(())
            }
            QuorumOp::AddNode { name, site } => self.check_new_node(name, site).await,
            QuorumOp::BackupMasterKey { threshold } => {
                self.check_master_key_backup(*threshold).await
            }
            QuorumOp::RegisterTransferPartner {
                name,
                encryption_public_key,
                signing_public_key,
                fingerprint,
            } => self
                .check_transfer_partner(
                    name,
                    encryption_public_key,
                    signing_public_key,
                    fingerprint,
                )
                .await
                .map(|_| ()),
            QuorumOp::TransferExport {
                partner,
                keys,
                data_units,
                ..
            } => self
                .check_transfer_export(partner, keys, data_units)
                .await
                .map(|_| ()),
        }
    }

    /// Runs an approved operation inside the transaction that records it. A transfer
    /// export leaves its file in `pending_file`, to be published once that transaction
    /// commits (dropped, it is deleted).
    async fn execute(
        &self,
        tx: &mut crate::store::WriteTx,
        op: &QuorumOp,
        pending_file: &mut Option<PendingTransferFile>,
        prepared: Option<Result<super::transfer::PreparedExport, ServiceError>>,
    ) -> Result<String, ServiceError> {
        match op {
            QuorumOp::SetQuorum { members, required } => {
                let mut ids = Vec::new();
                for m in members {
                    ids.push(self.load_user(m).await?.id);
                }
                tx.set_quorum(
                    &ids,
                    i64::from(*required),
                    now_secs(),
                    to_db(self.hlc.now()),
                )
                .await?;
                Ok(format!(
                    "quorum is now {required} of {} ({})",
                    members.len(),
                    members.join(", ")
                ))
            }
            QuorumOp::AddNode { name, site } => Ok(format!(
                "approved: the requester may now invite node {name} (site {site}) once"
            )),
            QuorumOp::BackupMasterKey { threshold } => {
                self.run_master_key_backup(tx, *threshold).await
            }
            QuorumOp::RegisterTransferPartner {
                name,
                encryption_public_key,
                signing_public_key,
                fingerprint,
            } => {
                self.run_register_transfer_partner(
                    tx,
                    name,
                    encryption_public_key,
                    signing_public_key,
                    fingerprint,
                )
                .await
            }
            QuorumOp::TransferExport {
                partner,
                partner_fingerprint,
                key_ids,
                data_unit_ids,
                ..
            } => {
                let (Some(fingerprint), Some(key_ids), Some(unit_ids)) =
                    (partner_fingerprint, key_ids, data_unit_ids)
                else {
                    return Err(ServiceError::WrongState(
                        "this export request was made before exports were fixed at proposal; ask for it again".into(),
                    ));
                };
                let (result, file) = match prepared {
                    Some(p) => self.finish_transfer_export(tx, p?).await?,
                    None => {
                        self.run_transfer_export(tx, partner, fingerprint, key_ids, unit_ids)
                            .await?
                    }
                };
                *pending_file = Some(file);
                Ok(result)
            }
        }
    }

    /// When `me` approving would bring `rec` to its quorum and it is an export: the
    /// export, prepared outside any write transaction (its failure is the request's).
    async fn prepare_if_completing(
        &self,
        rec: &crate::store::QuorumRequestRecord,
        me: &str,
        approve: bool,
        members: &[String],
    ) -> Result<Option<Result<super::transfer::PreparedExport, ServiceError>>, ServiceError> {
        if !approve {
            return Ok(None);
        }
        let Ok(QuorumOp::TransferExport {
            partner,
            partner_fingerprint: Some(fingerprint),
            key_ids: Some(key_ids),
            data_unit_ids: Some(unit_ids),
            ..
        }) = serde_json::from_str::<QuorumOp>(&rec.params)
        else {
            return Ok(None);
        };
        let votes = self.store.quorum_votes(&rec.id).await?;
        let approvals = votes
            .iter()
            .filter(|(u, a)| *a && u != me && members.contains(u))
            .count() as i64
            + i64::from(members.iter().any(|m| m == me));
        if approvals < rec.required {
            return Ok(None);
        }
        Ok(Some(
            self.prepare_transfer_export(&partner, &fingerprint, &key_ids, &unit_ids)
                .await,
        ))
    }

    /// Consumes the approved request `id` for `expected`, asked by `who`, inside the
    /// transaction that does the operation: it must be an executed request of the same
    /// operation, made by `who`, before its deadline, not redeemed yet. Redeemed, it
    /// reads as `used`.
    pub(crate) async fn redeem_approval(
        &self,
        tx: &mut crate::store::WriteTx,
        who: &Principal,
        id: &str,
        expected: &QuorumOp,
    ) -> Result<(), ServiceError> {
        let shown: String = id.chars().take(64).collect();
        let mut rec =
            self.store.quorum_request(id).await?.ok_or_else(|| {
                ServiceError::NameNotFound(format!("no quorum request {shown:?}"))
            })?;
        let op: QuorumOp = serde_json::from_str(&rec.params)
            .map_err(|e| ServiceError::InvalidArgument(format!("stored operation: {e}")))?;
        if !same_operation(&op, expected) {
            return Err(ServiceError::Forbidden(format!(
                "quorum request {shown} approved something else ({})",
                rec.action
            )));
        }
        if user_id(who).as_deref() != Some(rec.requested_by.as_str()) {
            return Err(ServiceError::Forbidden(format!(
                "quorum request {shown} is redeemed by the user who made it"
            )));
        }
        let now = now_secs();
        match rec.state.as_str() {
            "executed" if rec.deadline > now => {}
            "executed" => {
                return Err(ServiceError::WrongState(format!(
                    "the approval {shown} passed its deadline unused"
                )))
            }
            "used" => {
                return Err(ServiceError::WrongState(format!(
                    "the approval {shown} was used already"
                )))
            }
            other => {
                return Err(ServiceError::WrongState(format!(
                    "quorum request {shown} is {other}, not approved"
                )))
            }
        }
        let expected_hlc = rec.hlc;
        rec.state = "used".into();
        rec.updated_at = now;
        rec.hlc = to_db(self.hlc.after(expected_hlc));
        rec.origin_node = self.node.node_id.clone();
        match tx.put_quorum_request(&rec, Some(expected_hlc)).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ServiceError::WrongState(format!(
                "the approval {shown} was used already"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Requests, newest first (at most 100).
    pub async fn quorum_requests(
        &self,
        who: &Principal,
    ) -> Result<Vec<QuorumRequest>, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let mut out = Vec::new();
        for r in self.store.quorum_requests(100).await? {
            out.push(self.request_info(&r).await?);
        }
        Ok(out)
    }

    /// One request.
    pub async fn quorum_request(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<QuorumRequest, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let r = self.store.quorum_request(id).await?.ok_or_else(|| {
            ServiceError::NameNotFound(format!(
                "no quorum request {:?}",
                id.chars().take(64).collect::<String>()
            ))
        })?;
        self.request_info(&r).await
    }

    /// A member approves or rejects a pending request. The M-th approval runs the
    /// operation in the same transaction as the vote.
    pub async fn vote(
        &self,
        who: &Principal,
        id: &str,
        approve: bool,
    ) -> Result<QuorumRequest, ServiceError> {
        let action = if approve {
            "quorum.approve"
        } else {
            "quorum.reject"
        };
        let r = self.vote_inner(who, id, approve, action).await;
        self.audit_failure(who, action, Some(id), r).await
    }

    async fn vote_inner(
        &self,
        who: &Principal,
        id: &str,
        approve: bool,
        action: &str,
    ) -> Result<QuorumRequest, ServiceError> {
        let members = self.store.quorum_members().await?;
        let me = user_id(who).unwrap_or_default();
        self.authorize(
            who,
            &Action::QuorumVote {
                is_member: members.contains(&me),
            },
        )
        .await?;
        for _ in 0..5 {
            let mut rec = self.store.quorum_request(id).await?.ok_or_else(|| {
                ServiceError::NameNotFound(format!(
                    "no quorum request {:?}",
                    id.chars().take(64).collect::<String>()
                ))
            })?;
            let expected = rec.hlc;
            let now = now_secs();
            if rec.state != "pending" {
                return Err(ServiceError::WrongState(format!(
                    "request {id} is {}; votes are closed",
                    rec.state
                )));
            }
            if rec.deadline <= now {
                // Record the expiry so the request reads as what it is; it does nothing.
                rec.state = "expired".into();
                rec.updated_at = now;
                rec.hlc = to_db(self.hlc.after(expected));
                let mut tx = self.store.begin_write(&self.node.node_id).await?;
                match tx.put_quorum_request(&rec, Some(expected)).await {
                    Ok(()) => tx.commit().await?,
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
                return Err(ServiceError::WrongState(format!(
                    "request {id} expired; its operation will not run"
                )));
            }
            // An export this vote completes is made before the write transaction opens.
            let prepared = self
                .prepare_if_completing(&rec, &me, approve, &members)
                .await?;
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            if !tx
                .insert_quorum_vote(id, &me, approve, now, to_db(self.hlc.now()))
                .await?
            {
                return Err(ServiceError::AlreadyExists(format!(
                    "you have voted on request {id} already"
                )));
            }
            // Count the votes of current members, this one included.
            let mut votes = self.store.quorum_votes(id).await?;
            votes.retain(|(u, _)| u != &me);
            votes.push((me.clone(), approve));
            let approvals = votes
                .iter()
                .filter(|(u, a)| *a && members.contains(u))
                .count() as i64;
            let rejections = votes
                .iter()
                .filter(|(u, a)| !*a && members.contains(u))
                .count() as i64;
            let mut changed_authz = false;
            // A transfer file written by the export, under a temporary name until the
            // commit below; dropped on any early return or retry, it is deleted.
            let mut pending_file = None;
            if approvals >= rec.required {
                let op: QuorumOp = serde_json::from_str(&rec.params)
                    .map_err(|e| ServiceError::InvalidArgument(format!("stored operation: {e}")))?;
                match self
                    .execute(&mut tx, &op, &mut pending_file, prepared)
                    .await
                {
                    Ok(result) => {
                        rec.state = "executed".into();
                        rec.result = Some(result);
                        changed_authz = true;
                    }
                    Err(e) => {
                        rec.state = "failed".into();
                        rec.result = Some(e.to_string());
                    }
                }
            } else if rejections > members.len() as i64 - rec.required {
                rec.state = "rejected".into();
                rec.result = Some("too many rejections to reach the quorum".into());
            }
            rec.updated_at = now;
            rec.hlc = to_db(self.hlc.after(expected));
            rec.origin_node = self.node.node_id.clone();
            match tx.put_quorum_request(&rec, Some(expected)).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let ev = self.event(
                who,
                action,
                Some(id),
                Outcome::Success,
                Some(format!("{} ({})", rec.action, rec.state)),
            );
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            if let Some(f) = pending_file {
                f.publish().await;
            }
            if changed_authz {
                self.authz_changed();
            }
            return self.request_info(&rec).await;
        }
        Err(ServiceError::Contended(id.to_owned()))
    }
}
