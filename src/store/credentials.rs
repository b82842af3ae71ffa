//! Node-level records: master keys in use, nodes, TLS credentials, API tokens and the
//! recovery passphrase hash. Each write is logged like any other change.

use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::Row;

/// A master key known to this replica.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MasterKeyRecord {
    /// Label of the key in the root of trust.
    pub id: String,
    /// Root of trust kind that holds it.
    pub rot_kind: String,
    /// `active` (wraps new keys) or `retired`.
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A node serving this replica.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    /// Node ID (UUIDv7).
    pub id: String,
    /// Node name from its config.
    pub name: String,
    /// Site.
    pub site: String,
    /// Replica (database) it serves.
    pub replica_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A certificate with its private key wrapped under a master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `cluster-ca` or `node-tls:<node id>`; also the wrap binding ID.
    pub id: String,
    /// `ca` or `node_tls`.
    pub kind: String,
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Wrapped private key (PKCS#8 DER inside).
    pub wrapped_key: Vec<u8>,
    /// Master key that wrapped it.
    pub master_key_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// A credential's change-log payload (the wrapped key in hex).
pub(super) fn credential_payload(c: &Credential) -> Vec<u8> {
    json(&serde_json::json!({
        "id": c.id, "kind": c.kind, "cert_pem": c.cert_pem,
        "wrapped_key": hex::encode(&c.wrapped_key), "master_key_id": c.master_key_id,
    }))
}

fn decode_credential(r: &sqlx::any::AnyRow) -> Result<Credential, StoreError> {
    Ok(Credential {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        cert_pem: r.try_get(2)?,
        wrapped_key: r.try_get(3)?,
        master_key_id: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

const CREDENTIAL_COLUMNS: &str = "id, kind, cert_pem, wrapped_key, master_key_id, created_at";

/// A node and the address it serves drive agents on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeAgentAddr {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Site.
    pub site: String,
    /// `host:port` of its agent listener; `None` when it serves no agents.
    pub agent_addr: Option<String>,
}

impl WriteTx {
    /// Records where a node serves drive agents (advertised to agents by discovery).
    pub async fn set_node_agent_addr(
        &mut self,
        node: &NodeAgentAddr,
        hlc: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query("UPDATE nodes SET agent_addr = $1 WHERE id = $2")
            .bind(node.agent_addr.clone())
            .bind(node.id.clone())
            .execute(self.conn())
            .await?;
        let payload = super::users::to_json("nodes", node)?;
        self.log_change(
            hlc,
            "node_agent_addr",
            &node.id,
            ChangeOp::Upsert,
            &payload,
            now,
        )
        .await
    }

    /// Records a master key.
    pub async fn insert_master_key(
        &mut self,
        mk: &MasterKeyRecord,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO master_keys (id, rot_kind, state, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(mk.id.clone())
        .bind(mk.rot_kind.clone())
        .bind(mk.state.clone())
        .bind(mk.created_at)
        .execute(self.conn())
        .await?;
        self.log_change(
            hlc,
            "master_key",
            &mk.id,
            ChangeOp::Upsert,
            &json(mk),
            mk.created_at,
        )
        .await?;
        Ok(())
    }

    /// A credential by ID, read inside this transaction.
    pub(super) async fn credential_in_tx(
        &mut self,
        id: &str,
    ) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(decode_credential).transpose()
    }

    /// Moves a master key forward to `state` (`active`, `retiring`, `destroyed`) and
    /// logs it; false (nothing changed) when it is there or further already.
    pub async fn set_master_key_state(
        &mut self,
        id: &str,
        state: &str,
        hlc: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        // Forward only: a stale view never moves a key back.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE master_keys SET state = $1 WHERE id = $2 AND {} < $3 RETURNING rot_kind, created_at",
            super::master_key_holders::rank_sql("state")
        )))
        .bind(state.to_owned())
        .bind(id.to_owned())
        .bind(super::state_rank(state))
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let mk = MasterKeyRecord {
            id: id.to_owned(),
            rot_kind: row.try_get(0)?,
            state: state.to_owned(),
            created_at: row.try_get(1)?,
        };
        self.log_change(hlc, "master_key", id, ChangeOp::Upsert, &json(&mk), now)
            .await?;
        Ok(true)
    }

    /// A peer's master-key record: inserted, or its state moved forward (never back,
    /// whichever change arrives last).
    pub(super) async fn merge_master_key(
        &mut self,
        mk: &MasterKeyRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO master_keys (id, rot_kind, state, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state WHERE {} < {}",
            super::master_key_holders::rank_sql("master_keys.state"),
            super::master_key_holders::rank_sql("excluded.state")
        )))
        .bind(mk.id.clone())
        .bind(mk.rot_kind.clone())
        .bind(mk.state.clone())
        .bind(mk.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The state of master key `id` as this transaction sees it.
    pub(super) async fn master_key_state(
        &mut self,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM master_keys WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Records a node.
    pub async fn insert_node(&mut self, n: &NodeRecord, hlc: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO nodes (id, name, site, replica_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(n.id.clone())
            .bind(n.name.clone())
            .bind(n.site.clone())
            .bind(n.replica_id.clone())
            .bind(n.created_at)
            .execute(self.conn())
            .await?;
        self.log_change(hlc, "node", &n.id, ChangeOp::Upsert, &json(n), n.created_at)
            .await?;
        Ok(())
    }

    /// Stores a certificate and its wrapped private key.
    pub async fn insert_credential(&mut self, c: &Credential, hlc: i64) -> Result<(), StoreError> {
        self.require_live_master_key(&c.master_key_id).await?;
        sqlx::query(
            "INSERT INTO credentials (id, kind, cert_pem, wrapped_key, master_key_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id.clone())
        .bind(c.kind.clone())
        .bind(c.cert_pem.clone())
        .bind(c.wrapped_key.clone())
        .bind(c.master_key_id.clone())
        .bind(c.created_at)
        .execute(self.conn())
        .await?;
        let payload = credential_payload(c);
        self.log_change(
            hlc,
            "credential",
            &c.id,
            ChangeOp::Upsert,
            &payload,
            c.created_at,
        )
        .await?;
        Ok(())
    }

    /// Stores the SHA-256 of an API token.
    pub async fn insert_api_token(
        &mut self,
        id: &str,
        principal: &str,
        token_hash: &[u8],
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_tokens (id, principal, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(principal)
            .bind(token_hash.to_vec())
            .bind(now)
            .execute(self.conn())
            .await?;
        let payload = json(
            &serde_json::json!({"id": id, "principal": principal, "token_hash": hex::encode(token_hash)}),
        );
        self.log_change(hlc, "api_token", id, ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }

    /// Sets the recovery passphrase hash (PHC string, Argon2id).
    pub async fn set_recovery_hash(
        &mut self,
        phc: &str,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recovery_passphrase WHERE singleton = 1")
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO recovery_passphrase (singleton, phc_hash, created_at) VALUES (1, $1, $2)",
        )
        .bind(phc)
        .bind(now)
        .execute(self.conn())
        .await?;
        let payload = json(&serde_json::json!({"phc_hash": phc}));
        self.log_change(
            hlc,
            "recovery_passphrase",
            "1",
            ChangeOp::Upsert,
            &payload,
            now,
        )
        .await?;
        Ok(())
    }
}

impl Store {
    /// All master keys, oldest first.
    pub async fn master_keys(&self) -> Result<Vec<MasterKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, rot_kind, state, created_at FROM master_keys ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MasterKeyRecord {
                    id: r.try_get(0)?,
                    rot_kind: r.try_get(1)?,
                    state: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// A node by ID.
    pub async fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, site, replica_id, created_at FROM nodes WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(NodeRecord {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                site: r.try_get(2)?,
                replica_id: r.try_get(3)?,
                created_at: r.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Every node of this replica and where it serves drive agents, oldest first.
    pub async fn node_agent_addrs(&self) -> Result<Vec<NodeAgentAddr>, StoreError> {
        let rows = sqlx::query("SELECT id, name, site, agent_addr FROM nodes ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NodeAgentAddr {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    site: r.try_get(2)?,
                    agent_addr: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// A credential by ID.
    pub async fn credential(&self, id: &str) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_credential).transpose()
    }

    /// The recovery passphrase hash (PHC string).
    pub async fn recovery_hash(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT phc_hash FROM recovery_passphrase WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.0))
    }
}
