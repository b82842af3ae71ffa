//! Cluster membership rows: where each node is reached for replication, whether it is
//! invited, active or removed, and the one-time token an invited node joins with.
//! Membership replicates like everything else (entity `node_member`).

use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::Row;

/// A node's membership, as stored on the `nodes` row and replicated.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeMember {
    /// Node ID.
    pub id: String,
    /// `host:port` of its replication listener.
    pub cluster_addr: Option<String>,
    /// `invited`, `active` or `removed`.
    pub member_state: String,
    /// Refuses writes.
    pub read_only: bool,
    /// SHA-256 of the pending join token, hex; `None` once used.
    pub join_token_hash: Option<String>,
    /// When the join token stops working (Unix seconds).
    pub join_token_expires_at: Option<i64>,
}

impl std::fmt::Debug for NodeMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token hash is not a secret, but there is no reason to print it.
        f.debug_struct("NodeMember")
            .field("id", &self.id)
            .field("cluster_addr", &self.cluster_addr)
            .field("member_state", &self.member_state)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// A node with its membership, for status and peer selection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Replica (database) it serves.
    pub replica_id: String,
    /// Replication address.
    pub cluster_addr: Option<String>,
    /// Drive-agent address.
    pub agent_addr: Option<String>,
    /// `invited`, `active` or `removed`.
    pub member_state: String,
    /// Refuses writes.
    pub read_only: bool,
}

impl WriteTx {
    /// Sets a node's membership fields, logging them.
    pub async fn put_node_member(
        &mut self,
        m: &NodeMember,
        hlc: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let token = m
            .join_token_hash
            .as_deref()
            .map(hex::decode)
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                table: "nodes",
                detail: format!("join token hash: {e}"),
            })?;
        sqlx::query(
            "UPDATE nodes SET cluster_addr = $1, member_state = $2, read_only = $3, join_token_hash = $4, \
             join_token_expires_at = $5 WHERE id = $6",
        )
        .bind(m.cluster_addr.clone())
        .bind(m.member_state.clone())
        .bind(i64::from(m.read_only))
        .bind(token)
        .bind(m.join_token_expires_at)
        .bind(m.id.clone())
        .execute(self.conn())
        .await?;
        let payload = super::users::to_json("nodes", m)?;
        self.log_change(hlc, "node_member", &m.id, ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }
}

impl WriteTx {
    /// Records which replica a node serves (set when an invited node joins).
    pub async fn set_node_replica(
        &mut self,
        node_id: &str,
        replica_id: &str,
        hlc: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE nodes SET replica_id = $1 WHERE id = $2")
            .bind(replica_id.to_owned())
            .bind(node_id.to_owned())
            .execute(self.conn())
            .await?;
        let row =
            sqlx::query("SELECT id, name, site, replica_id, created_at FROM nodes WHERE id = $1")
                .bind(node_id.to_owned())
                .fetch_one(self.conn())
                .await?;
        let n = super::NodeRecord {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            site: row.try_get(2)?,
            replica_id: row.try_get(3)?,
            created_at: row.try_get(4)?,
        };
        let payload = super::users::to_json("nodes", &n)?;
        self.log_change(hlc, "node", node_id, ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }
}

const NODE_COLUMNS: &str =
    "id, name, site, replica_id, cluster_addr, agent_addr, member_state, read_only";

fn decode_node(r: &sqlx::any::AnyRow) -> Result<ClusterNode, StoreError> {
    let ro: i64 = r.try_get(7)?;
    Ok(ClusterNode {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        site: r.try_get(2)?,
        replica_id: r.try_get(3)?,
        cluster_addr: r.try_get(4)?,
        agent_addr: r.try_get(5)?,
        member_state: r.try_get(6)?,
        read_only: ro != 0,
    })
}

impl Store {
    /// Every node this replica knows of, with membership, ordered by ID.
    pub async fn cluster_nodes(&self) -> Result<Vec<ClusterNode>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM nodes ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_node).collect()
    }

    /// The membership fields of one node.
    pub async fn node_member(&self, id: &str) -> Result<Option<NodeMember>, StoreError> {
        let row = sqlx::query(
            "SELECT id, cluster_addr, member_state, read_only, join_token_hash, join_token_expires_at \
             FROM nodes WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let ro: i64 = r.try_get(3)?;
            let hash: Option<Vec<u8>> = r.try_get(4)?;
            Ok(NodeMember {
                id: r.try_get(0)?,
                cluster_addr: r.try_get(1)?,
                member_state: r.try_get(2)?,
                read_only: ro != 0,
                join_token_hash: hash.map(hex::encode),
                join_token_expires_at: r.try_get(5)?,
            })
        })
        .transpose()
    }

    /// Deletes every pool key of one node (factory reset); returns how many.
    pub async fn delete_node_pool(&self, node_id: &str) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM pool_keys WHERE node_id = $1")
            .bind(node_id.to_owned())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// The invited node whose join token has SHA-256 `hash`.
    pub async fn node_by_join_token(&self, hash: &[u8]) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM nodes WHERE join_token_hash = $1 AND member_state = 'invited'",
        )
        .bind(hash.to_vec())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// A digest of every replicated table, for comparing replicas: equal digests mean
    /// equal contents. Node-local tables (the pool, cursors, the audit trail, which has
    /// its own per-origin chains) are left out.
    pub async fn replicated_digest(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        use sha2::{Digest, Sha256};
        const TABLES: &[(&str, &str)] = &[
            ("objects", "id, object_type, algorithm, length, state, name, attributes, wrapped, master_key_id, created_at, updated_at, hlc, origin_node, owner"),
            ("master_keys", "id, rot_kind, state, created_at"),
            ("master_key_holders", "master_key_id, node_id, confirmed_at"),
            ("nodes", "id, name, site, replica_id, cluster_addr, agent_addr, member_state, read_only"),
            ("credentials", "id, kind, cert_pem, wrapped_key, master_key_id"),
            ("endpoints", "id, name, name_key, endpoint_type, site, default_wallet, state, token_hash, cert_fingerprint, hlc"),
            ("users", "id, name, name_key, password_phc, roles, forward_roles, privileges, state, hlc"),
            ("groups_", "id, kind, name, name_key, state, hlc"),
            ("group_members", "group_id, member_id"),
            ("wallets", "id, name, name_key, state, hlc"),
            ("wallet_objects", "wallet_id, object_id"),
            ("wallet_grants", "wallet_id, grantee_kind, grantee_id, level"),
            ("manage_grants", "target_kind, target_id, user_id"),
            ("settings", "name, value, hlc"),
            ("key_policies", "wallet_id, algorithm, length, encryption_period, decryption_period, exportable, hlc"),
            ("data_units", "id, external_tag, external_unique_id, wallet_id, state, hlc"),
            ("data_unit_keys", "data_unit_id, key_id, first_used_at, last_used_at, writes, reads, bytes_written, bytes_read"),
            ("transfer_partners", "fingerprint, name, name_key, encryption_pem, signing_pem, state, hlc"),
            ("change_log", "origin, seq, hlc, node_id, entity, entity_id, op, payload"),
        ];
        let mut out = std::collections::BTreeMap::new();
        for (table, cols) in TABLES {
            let n = cols.split(',').count();
            let order: Vec<&str> = cols.split(',').map(str::trim).collect();
            let sql = format!("SELECT {cols} FROM {table} ORDER BY {}", order.join(", "));
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(self.pool())
                .await?;
            let mut h = Sha256::new();
            for r in &rows {
                for i in 0..n {
                    let cell = cell_text(r, i);
                    h.update((cell.len() as u64).to_be_bytes());
                    h.update(cell.as_bytes());
                }
            }
            out.insert(
                (*table).to_owned(),
                format!("{}:{}", rows.len(), hex::encode(h.finalize())),
            );
        }
        Ok(out)
    }
}

/// A cell as text whatever its type, so both backends digest alike.
fn cell_text(r: &sqlx::any::AnyRow, i: usize) -> String {
    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        return v.map(|v| v.to_string()).unwrap_or_else(|| "\u{0}".into());
    }
    if let Ok(v) = r.try_get::<Option<String>, _>(i) {
        return v.unwrap_or_else(|| "\u{0}".into());
    }
    if let Ok(v) = r.try_get::<Option<Vec<u8>>, _>(i) {
        return v.map(hex::encode).unwrap_or_else(|| "\u{0}".into());
    }
    String::from("?")
}
