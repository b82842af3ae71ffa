//! The node's status report.

use super::{KeyService, Principal, ServiceError};
use crate::keys::ALL_STATES;
use crate::pool::PoolReport;
use crate::rot::{Health, RotKind};
use crate::store::Backend;
use std::collections::BTreeMap;

/// Object counts by state.
pub type ObjectCounts = BTreeMap<&'static str, i64>;

/// What `GET /v1/status` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// Node ID.
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Site.
    pub site: String,
    /// Replica (database) ID.
    pub replica_id: String,
    /// Clavis version.
    pub version: &'static str,
    /// `pkcs11` or `software`.
    pub root_of_trust: RotKind,
    /// Module/token or sealed file.
    pub root_of_trust_detail: String,
    /// Result of a live probe of the root of trust.
    pub hsm_health: Health,
    /// Master key wrapping new keys.
    pub master_key: String,
    /// `sqlite` or `postgres`.
    pub store: Backend,
    /// Objects per state, and `total`.
    pub objects: ObjectCounts,
    /// Last change-log sequence issued by this replica.
    pub change_log_seq: i64,
    /// This node's pool of each key group.
    pub pools: Vec<PoolReport>,
    /// The cluster as this node sees it.
    pub cluster: ClusterStatus,
}

/// The cluster part of the status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    /// Nodes in the membership (any state).
    pub members: usize,
    /// This replica's version vector: last sequence held from each origin.
    pub version_vector: crate::store::VersionVector,
    /// Every peer node this node pulls from, with state and lag.
    pub peers: Vec<crate::cluster::status::PeerStatus>,
}

impl KeyService {
    /// A live status report.
    pub async fn status(&self) -> Result<Status, ServiceError> {
        let mut objects: ObjectCounts = ALL_STATES.iter().map(|s| (s.as_str(), 0)).collect();
        let mut total = 0;
        for (state, n) in self.store.count_by_state().await? {
            objects.insert(state.as_str(), n);
            total += n;
        }
        objects.insert("total", total);
        Ok(Status {
            node_id: self.node.node_id.clone(),
            node_name: self.node.name.clone(),
            site: self.node.site.clone(),
            replica_id: self.store.replica_id().await?,
            version: env!("CARGO_PKG_VERSION"),
            root_of_trust: self.rot.kind(),
            root_of_trust_detail: self.rot.describe(),
            hsm_health: self.rot.health(),
            master_key: self.master_key.get().0,
            store: self.store.backend(),
            objects,
            change_log_seq: self.store.last_seq().await?,
            pools: self.pool_reports_unchecked().await?,
            cluster: ClusterStatus {
                members: self.store.cluster_nodes().await?.len(),
                version_vector: self.store.version_vector().await?,
                peers: self.peers.snapshot(),
            },
        })
    }

    /// Keeps the pools `who` may see: every key group for the system, Key
    /// Administrators and Audit Managers, else those of wallets granted to `who`.
    /// Pools name their wallets, and a wallet's name is not for everyone.
    pub async fn retain_visible_pools(
        &self,
        who: &Principal,
        pools: &mut Vec<PoolReport>,
    ) -> Result<(), ServiceError> {
        let subject = self.subject(who).await?;
        let all = match subject.kind {
            crate::authz::SubjectKind::System => true,
            crate::authz::SubjectKind::User(_) => subject
                .roles
                .intersects(crate::authz::Roles::KEY_ADMIN | crate::authz::Roles::AUDIT_MANAGER),
            crate::authz::SubjectKind::Endpoint(_) => false,
        };
        if !all {
            pools.retain(|p| subject.wallet_level(&p.wallet_id).is_some());
        }
        Ok(())
    }
}
