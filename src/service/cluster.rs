//! Cluster membership and replication, as the service layer sees them: inviting a
//! node (System Administrator + recovery passphrase), admitting it with its one-time
//! token, removing it, and applying changes pulled from peers.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::hlc::to_db;
use crate::keys::{now_millis, now_secs};
use crate::rot::WrappedKey;
use crate::store::{ApplyReport, Change, ClusterNode, NodeMember, NodeRecord};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// How long a join token stays valid.
pub const JOIN_TOKEN_SECS: i64 = 24 * 3600;

/// What inviting a node returns: its ID and the one-time token it joins with.
pub struct Invitation {
    /// The new node's ID.
    pub node_id: String,
    /// The token (shown once; only its SHA-256 is stored).
    pub token: SecretString,
    /// The cluster CA certificate, for the new node to trust its sponsor.
    pub ca_pem: String,
}

/// What admitting a node hands it.
pub struct Admission {
    /// Its node ID.
    pub node_id: String,
    /// Its certificate.
    pub cert_pem: String,
    /// Its private key, PKCS#8 DER.
    pub key: crate::secret::KeyMaterial,
    /// The cluster CA certificate.
    pub ca_pem: String,
    /// The active master key.
    pub master_key_id: String,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl KeyService {
    /// Every node the cluster knows of, with its membership (what status shows to
    /// every authenticated caller).
    pub async fn cluster_nodes(&self, who: &Principal) -> Result<Vec<ClusterNode>, ServiceError> {
        let _ = who;
        Ok(self.store().cluster_nodes().await?)
    }

    /// Checks a new node's name and site: valid names, and no node of that name yet.
    pub(crate) async fn check_new_node(&self, name: &str, site: &str) -> Result<(), ServiceError> {
        if !crate::names::is_valid_object_name(name) {
            return Err(ServiceError::InvalidArgument(format!(
                "name: {}",
                crate::names::OBJECT_NAME_RULE
            )));
        }
        if !crate::names::is_valid_object_name(site) {
            return Err(ServiceError::InvalidArgument(format!(
                "site: {}",
                crate::names::OBJECT_NAME_RULE
            )));
        }
        if self
            .store()
            .cluster_nodes()
            .await?
            .iter()
            .any(|n| n.name.eq_ignore_ascii_case(name) && n.member_state != "removed")
        {
            return Err(ServiceError::AlreadyExists(format!("node {name}")));
        }
        Ok(())
    }

    /// Adds a node to the cluster's membership as `invited` and returns the one-time
    /// token it joins with (`clavisd join-cluster`). Needs the recovery passphrase and,
    /// once a quorum is configured, `approval`: the ID of an approved `add_node` quorum
    /// request for this name and site made by `who`, which this uses up.
    pub async fn invite_node(
        &self,
        who: &Principal,
        name: &str,
        site: &str,
        recovery: &SecretString,
        approval: Option<&str>,
    ) -> Result<Invitation, ServiceError> {
        let action = "cluster.add_node";
        self.authorize(who, &Action::ManageCluster).await?;
        self.check_new_node(name, site).await?;
        self.check_recovery(who, action, recovery).await?;
        let r = async {
            let needs_quorum = self.quorum_required().await? > 0;
            if needs_quorum && approval.is_none() {
                return Err(ServiceError::Forbidden(format!(
                    "a quorum is configured: adding a node needs its approval \
                     (clavis quorum add-node {name} --site {site}, then \
                     clavis cluster add-node {name} --site {site} --approval REQUEST_ID)"
                )));
            }
            let ca = self
                .store()
                .credential(crate::node::CA_CREDENTIAL_ID)
                .await?
                .ok_or_else(|| ServiceError::Internal("the cluster CA is missing".into()))?;
            let id = crate::keys::new_object_id();
            let token = format!("clvN_{}", hex::encode(self.rot.random(32)?.expose_secret()));
            let now = now_secs();
            let mut tx = self.store().begin_write(&self.node.node_id).await?;
            if let Some(req) = approval {
                let op = super::quorum::QuorumOp::AddNode {
                    name: name.to_owned(),
                    site: site.to_owned(),
                };
                self.redeem_approval(&mut tx, who, req, &op).await?;
            }
            tx.insert_node(
                &NodeRecord {
                    id: id.clone(),
                    name: name.to_owned(),
                    site: site.to_owned(),
                    replica_id: String::new(),
                    created_at: now,
                },
                to_db(self.hlc.now()),
            )
            .await?;
            tx.put_node_member(
                &NodeMember {
                    id: id.clone(),
                    cluster_addr: None,
                    member_state: "invited".into(),
                    read_only: false,
                    join_token_hash: Some(hex::encode(token_hash(&token))),
                    join_token_expires_at: Some(now + JOIN_TOKEN_SECS),
                },
                to_db(self.hlc.now()),
                now,
            )
            .await?;
            let ev = self.event(
                who,
                action,
                Some(&id),
                Outcome::Success,
                Some(name.to_owned()),
            );
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            Ok(Invitation {
                node_id: id,
                token: SecretString::from(token),
                ca_pem: ca.cert_pem,
            })
        }
        .await;
        self.audit_failure(who, action, None, r).await
    }

    /// Admits an invited node presenting its token: issues its certificate and marks
    /// it active with its replica and address. The token works once.
    pub async fn admit_node(
        &self,
        token: &str,
        replica_id: &str,
        cluster_addr: &str,
        tls_names: &[String],
        source: Option<String>,
    ) -> Result<Admission, ServiceError> {
        let action = "cluster.join";
        let mut who = Principal::system("joining-node");
        who.source = source;
        let r = async {
            let hash = token_hash(token);
            let node_id = self
                .store()
                .node_by_join_token(&hash)
                .await?
                .ok_or(ServiceError::InvalidEnrollmentToken)?;
            let member = self
                .store()
                .node_member(&node_id)
                .await?
                .ok_or(ServiceError::InvalidEnrollmentToken)?;
            let now = now_secs();
            if member.join_token_expires_at.is_none_or(|t| t < now) {
                return Err(ServiceError::InvalidEnrollmentToken);
            }
            let node = self
                .store()
                .node(&node_id)
                .await?
                .ok_or(ServiceError::InvalidEnrollmentToken)?;
            let ca = self
                .store()
                .credential(crate::node::CA_CREDENTIAL_ID)
                .await?
                .ok_or_else(|| ServiceError::Internal("the cluster CA is missing".into()))?;
            let ca_key = self.rot.unwrap(
                &WrappedKey::from_bytes(&ca.wrapped_key)?,
                crate::node::CA_CREDENTIAL_ID,
            )?;
            let host = cluster_addr
                .rsplit_once(':')
                .map(|(h, _)| h.trim_matches(['[', ']']).to_owned())
                .unwrap_or_else(|| cluster_addr.to_owned());
            let mut names: Vec<String> = tls_names.to_vec();
            for n in [host, format!("node-{node_id}")] {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            let issued =
                crate::tls::issue(&ca.cert_pem, &ca_key, &names, crate::tls::CertRole::Node)
                    .map_err(|e| ServiceError::Certificate(e.to_string()))?;
            drop(ca_key);
            // The new node's credential is stored here too (wrapped, like every key), so
            // the sponsor knows its certificate at once and peers learn it by
            // replication before it contacts them.
            let cred_id = crate::node::node_tls_credential_id(&node_id);
            let master_key = self.master_key.get();
            let wrapped = self.rot.wrap(&master_key, &cred_id, &issued.key_pkcs8)?;
            let cred = crate::store::Credential {
                id: cred_id,
                kind: "node_tls".into(),
                cert_pem: issued.cert_pem.clone(),
                wrapped_key: wrapped.to_bytes(),
                master_key_id: master_key.0.clone(),
                created_at: now,
            };
            let mut tx = self.store().begin_write(&self.node.node_id).await?;
            tx.set_node_replica(&node_id, replica_id, to_db(self.hlc.now()), now)
                .await?;
            tx.insert_credential(&cred, to_db(self.hlc.now())).await?;
            tx.put_node_member(
                &NodeMember {
                    id: node_id.clone(),
                    cluster_addr: Some(cluster_addr.to_owned()),
                    member_state: "active".into(),
                    read_only: false,
                    join_token_hash: None,
                    join_token_expires_at: None,
                },
                to_db(self.hlc.now()),
                now,
            )
            .await?;
            let ev = self.event(
                &who,
                action,
                Some(&node_id),
                Outcome::Success,
                Some(node.name.clone()),
            );
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            Ok(Admission {
                node_id,
                cert_pem: issued.cert_pem,
                key: issued.key_pkcs8,
                ca_pem: ca.cert_pem,
                master_key_id: master_key.0,
            })
        }
        .await;
        self.audit_failure(&who, action, None, r).await
    }

    /// Removes a node from the cluster: peers stop contacting it and refuse it.
    pub async fn remove_node(&self, who: &Principal, node_id: &str) -> Result<(), ServiceError> {
        let action = "cluster.remove_node";
        self.authorize(who, &Action::ManageCluster).await?;
        let r = async {
            if node_id == self.node.node_id {
                return Err(ServiceError::InvalidArgument(
                    "a node cannot remove itself; ask another node".into(),
                ));
            }
            let mut m = self
                .store()
                .node_member(node_id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("node {node_id}")))?;
            m.member_state = "removed".into();
            m.join_token_hash = None;
            m.join_token_expires_at = None;
            let now = now_secs();
            let mut tx = self.store().begin_write(&self.node.node_id).await?;
            tx.put_node_member(&m, to_db(self.hlc.now()), now).await?;
            let ev = self.event(who, action, Some(node_id), Outcome::Success, None);
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.audit_failure(who, action, Some(node_id), r).await
    }

    /// A digest of every replicated table (`rows:sha256` per table): replicas holding
    /// the same changes show the same digests. System Administrators and Audit
    /// Managers.
    pub async fn replicated_digest(
        &self,
        who: &Principal,
    ) -> Result<std::collections::BTreeMap<String, String>, ServiceError> {
        self.authorize(who, &Action::AuditRead).await?;
        Ok(self.store().replicated_digest().await?)
    }

    /// Records where this node serves replication, when that changed.
    pub async fn advertise_cluster_addr(
        &self,
        addr: &str,
        read_only: bool,
    ) -> Result<(), ServiceError> {
        let current = self.store().node_member(&self.node.node_id).await?;
        let Some(mut me) = current else {
            return Err(ServiceError::Internal(format!(
                "node {} is not registered",
                self.node.node_id
            )));
        };
        if me.cluster_addr.as_deref() == Some(addr) && me.read_only == read_only {
            return Ok(());
        }
        me.cluster_addr = Some(addr.to_owned());
        me.read_only = read_only;
        let mut tx = self.store().begin_write(&self.node.node_id).await?;
        tx.put_node_member(&me, to_db(self.hlc.now()), now_secs())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies changes pulled from a peer; the node's clock moves past them and cached
    /// rights are dropped, since the changes may grant or revoke.
    pub async fn apply_replicated(&self, changes: &[Change]) -> Result<ApplyReport, ServiceError> {
        let report = self
            .store()
            .apply_changes(&self.node.node_id, changes)
            .await?;
        if report.max_hlc > 0 {
            self.hlc.observe(report.max_hlc as u64);
        }
        if report.applied > 0 {
            self.authz_changed();
        }
        Ok(report)
    }

    /// Records a cluster event of the node itself (peer lost or found).
    pub async fn record_cluster_event(&self, action: &str, peer: &str, detail: Option<String>) {
        self.record(
            &Principal::system("cluster"),
            action,
            Some(peer),
            Outcome::Success,
            detail,
        )
        .await;
    }
}
