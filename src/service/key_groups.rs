//! Key groups (wallets with a key policy), their pools on this node, and the data
//! units their keys encrypted: the administrator's view.
//!
//! Setting or removing a policy needs Manage Wallet on the wallet (or the Key
//! Administrator role); reading it needs any access to the wallet. Changing a policy's
//! algorithm or length empties the pools of keys that no longer fit; keys already
//! handed out keep the dates they were given.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::{Action, Roles, SubjectKind};
use crate::hlc::to_db;
use crate::keys::{now_millis, now_secs, KeyPolicy};
use crate::pool::PoolReport;
use crate::store::{DataUnitLookup, KeyPolicyRecord};

use super::drives::DataUnitInfo;

/// A key group's policy as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyPolicyInfo {
    /// Wallet name.
    pub wallet: String,
    /// The policy.
    #[serde(flatten)]
    pub policy: KeyPolicy,
    /// Unix seconds.
    pub updated_at: i64,
}

const MAX_LIST: i64 = 1000;

impl KeyService {
    /// Makes a wallet a key group, or changes its policy.
    pub async fn set_key_policy(
        &self,
        who: &Principal,
        wallet: &str,
        policy: KeyPolicy,
    ) -> Result<KeyPolicyInfo, ServiceError> {
        let r = self.set_policy_inner(who, wallet, policy).await;
        self.audit_failure(who, "key_policy.set", Some(wallet), r)
            .await
    }

    async fn set_policy_inner(
        &self,
        who: &Principal,
        wallet: &str,
        policy: KeyPolicy,
    ) -> Result<KeyPolicyInfo, ServiceError> {
        policy.check().map_err(ServiceError::InvalidArgument)?;
        let w = self.wallet_for(who, wallet).await?;
        self.authorize(who, &Action::ManageWallet { wallet_id: &w.id })
            .await?;
        let now = now_secs();
        let created_at = self
            .store
            .key_policy(&w.id)
            .await?
            .map_or(now, |p| p.created_at);
        let rec = KeyPolicyRecord {
            wallet_id: w.id.clone(),
            algorithm: policy.algorithm.as_str().to_owned(),
            length: i64::from(policy.length),
            encryption_period: policy.encryption_period_secs,
            decryption_period: policy.decryption_period_secs,
            exportable: policy.exportable,
            created_at,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        };
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        tx.put_key_policy(&rec).await?;
        tx.clear_pool(&w.id, Some((policy.algorithm.as_str(), policy.length)))
            .await?;
        let detail = serde_json::to_string(&policy).ok();
        let ev = self.event(
            who,
            "key_policy.set",
            Some(&w.name),
            Outcome::Success,
            detail,
        );
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        self.pool.groups.invalidate();
        self.pool.nudge();
        Ok(KeyPolicyInfo {
            wallet: w.name,
            policy,
            updated_at: now,
        })
    }

    /// A wallet's key policy; `None` when it is not a key group.
    pub async fn key_policy(
        &self,
        who: &Principal,
        wallet: &str,
    ) -> Result<Option<KeyPolicyInfo>, ServiceError> {
        let r = async {
            let w = self.wallet_for(who, wallet).await?;
            self.authorize(who, &Action::ViewWallet { wallet_id: &w.id })
                .await?;
            Ok(self.store.key_policy(&w.id).await?.and_then(|p| {
                Some(KeyPolicyInfo {
                    policy: crate::pool::to_policy(&p)?,
                    wallet: w.name.clone(),
                    updated_at: p.updated_at,
                })
            }))
        }
        .await;
        self.audit_read(who, "key_policy.get", Some(wallet), r)
            .await
    }

    /// Stops a wallet being a key group; its pools are emptied. Keys handed out stay.
    pub async fn remove_key_policy(
        &self,
        who: &Principal,
        wallet: &str,
    ) -> Result<(), ServiceError> {
        let r = async {
            let w = self.wallet_for(who, wallet).await?;
            self.authorize(who, &Action::ManageWallet { wallet_id: &w.id })
                .await?;
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            if !tx
                .remove_key_policy(&w.id, now_secs(), to_db(self.hlc.now()))
                .await?
            {
                return Err(ServiceError::NameNotFound(format!(
                    "wallet {:?} has no key policy",
                    w.name
                )));
            }
            tx.clear_pool(&w.id, None).await?;
            let ev = self.event(
                who,
                "key_policy.remove",
                Some(&w.name),
                Outcome::Success,
                None,
            );
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            self.pool.groups.invalidate();
            Ok(())
        }
        .await;
        self.audit_failure(who, "key_policy.remove", Some(wallet), r)
            .await
    }

    /// This node's pool of every key group.
    pub async fn pool_reports(&self, who: &Principal) -> Result<Vec<PoolReport>, ServiceError> {
        let r = async {
            self.authorize(who, &Action::ViewDirectory).await?;
            self.pool_reports_unchecked().await
        }
        .await;
        self.audit_read(who, "pool.status", None, r).await
    }

    /// Pool reports without authorization or audit (node status, metrics).
    pub async fn pool_reports_unchecked(&self) -> Result<Vec<PoolReport>, ServiceError> {
        let cfg = self.pool.config();
        let now = now_secs();
        let mut out = Vec::new();
        for p in self.store.key_policies().await? {
            let name = self.wallet_name(&p.wallet_id).await;
            let ready = self
                .store
                .pool_level(&self.node.node_id, &p.wallet_id)
                .await?;
            out.push(self.pool.stats.report(
                &p.wallet_id,
                &name,
                ready,
                cfg.size,
                cfg.low_water,
                now,
            ));
        }
        Ok(out)
    }

    /// Data units the caller may see: all for Key Administrators and Audit Managers,
    /// else those of wallets the caller can access.
    pub async fn list_data_units(
        &self,
        who: &Principal,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<Vec<DataUnitInfo>, ServiceError> {
        let r = async {
            let limit = limit.unwrap_or(100);
            if !(1..=MAX_LIST).contains(&limit) {
                return Err(ServiceError::InvalidArgument(format!(
                    "limit: must be 1 to {MAX_LIST}"
                )));
            }
            let offset = offset.unwrap_or(0);
            if offset < 0 {
                return Err(ServiceError::InvalidArgument(
                    "offset: must not be negative".into(),
                ));
            }
            let wallets = self.visible_wallets(who).await?;
            Ok(self
                .store
                .list_data_units(wallets.as_deref(), limit, offset)
                .await?
                .into_iter()
                .map(DataUnitInfo::from)
                .collect())
        }
        .await;
        self.audit_read(who, "data_unit.list", None, r).await
    }

    /// One data unit with the keys that encrypted it.
    pub async fn get_data_unit(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<DataUnitInfo, ServiceError> {
        let r = async {
            let found = self.store.data_unit(DataUnitLookup::Id(id)).await?;
            let wallets = self.visible_wallets(who).await?;
            let du = found
                .filter(|d| wallets.as_ref().is_none_or(|w| w.contains(&d.wallet_id)))
                .ok_or_else(|| ServiceError::NotFound(id.to_owned()))?;
            let keys = self.store.data_unit_keys(&du.id).await?;
            let mut info = DataUnitInfo::from(du);
            info.keys = Some(keys);
            Ok(info)
        }
        .await;
        self.audit_read(who, "data_unit.get", Some(id), r).await
    }

    /// `None`: the caller sees every wallet's data units.
    async fn visible_wallets(&self, who: &Principal) -> Result<Option<Vec<String>>, ServiceError> {
        let subject = self.subject(who).await?;
        let all = match subject.kind {
            SubjectKind::System => true,
            SubjectKind::User(_) => subject
                .roles
                .intersects(Roles::KEY_ADMIN | Roles::AUDIT_MANAGER),
            SubjectKind::Endpoint(_) => false,
        };
        Ok((!all).then(|| subject.wallets.keys().cloned().collect()))
    }

    /// The nodes of this replica that serve drive agents (discovery).
    pub async fn agent_nodes(&self) -> Result<Vec<crate::store::NodeAgentAddr>, ServiceError> {
        Ok(self
            .store
            .node_agent_addrs()
            .await?
            .into_iter()
            .filter(|n| n.agent_addr.is_some())
            .collect())
    }

    /// Records where this node serves drive agents, if that changed.
    pub async fn advertise_agent_addr(&self, addr: &str) -> Result<(), ServiceError> {
        let current = self
            .store
            .node_agent_addrs()
            .await?
            .into_iter()
            .find(|n| n.id == self.node.node_id);
        let Some(mut me) = current else {
            return Err(ServiceError::Internal(format!(
                "node {} is not registered",
                self.node.node_id
            )));
        };
        if me.agent_addr.as_deref() == Some(addr) {
            return Ok(());
        }
        me.agent_addr = Some(addr.to_owned());
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        tx.set_node_agent_addr(&me, to_db(self.hlc.now()), now_secs())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ready keys in this node's pool of the caller's key group (agent heartbeats).
    pub async fn pool_level_for(&self, who: &Principal) -> Result<Option<i64>, ServiceError> {
        if !matches!(who.kind, crate::service::PrincipalKind::Endpoint(_)) {
            return Ok(None);
        }
        let subject = self.subject(who).await?;
        let wallet_id = match self.key_group_of(who, &subject).await {
            Ok((w, _)) => w,
            // No key group (yet): nothing to report.
            Err(ServiceError::WrongState(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(
            self.store
                .pool_level(&self.node.node_id, &wallet_id)
                .await?,
        ))
    }
}
