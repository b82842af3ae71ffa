//! `clavisd join`: add a node to a replica that already exists, sharing its database
//! (shared-database mode: several nodes serving one replica).
//!
//! The new node needs three things a stranger does not have: the database, the root of
//! trust holding the replica's master key (the same HSM token, or the same sealed file
//! and passphrase), and the recovery passphrase. It gets its own node ID and TLS
//! certificate from the cluster CA, and its own key pools; everything else it shares.

use super::{io_err, node_tls_credential_id, open_rot, NodeError, NodeFile, CA_CREDENTIAL_ID};
use crate::config::Config;
use crate::hlc::{to_db, Hlc};
use crate::keys::now_secs;
use crate::rot::{MasterKeyId, WrappedKey};
use crate::store::{Credential, NodeRecord, Store};
use crate::tls::{issue, CertRole};
use secrecy::SecretString;

/// What `join` reports.
pub struct JoinOutput {
    /// The new node's ID.
    pub node_id: String,
    /// The replica it serves.
    pub replica_id: String,
}

/// Registers this configuration's node in the replica its store URL points at.
pub async fn join(cfg: &Config, recovery: &SecretString) -> Result<JoinOutput, NodeError> {
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
    if data_dir.join(NodeFile::NAME).exists() {
        return Err(NodeError::Other(format!(
            "{} exists: this node is already initialized",
            data_dir.join(NodeFile::NAME).display()
        )));
    }
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    let replica_id = store.replica_id_opt().await?.ok_or_else(|| {
        NodeError::Other(
            "the database holds no replica yet: run `clavisd init` on the first node".into(),
        )
    })?;
    let node_id = uuid::Uuid::now_v7().to_string();
    register(
        cfg,
        &store,
        &replica_id,
        &node_id,
        recovery,
        "node.join",
        &format!(
            "node {node_id} joined replica {replica_id} (shared database), site {}",
            cfg.node.site
        ),
    )
    .await?;
    store.close().await;
    Ok(JoinOutput {
        node_id,
        replica_id,
    })
}

/// Registers node `node_id` in the replica `store` holds: checks the recovery
/// passphrase against the replica's, issues the node's certificate from the cluster CA
/// (which must be held by this node's root of trust), records the node and its audit
/// record (`action`, `detail`), and writes the node file and CA copy.
pub(crate) async fn register(
    cfg: &Config,
    store: &Store,
    replica_id: &str,
    node_id: &str,
    recovery: &SecretString,
    action: &str,
    detail: &str,
) -> Result<(), NodeError> {
    let data_dir = cfg.data_dir();
    let phc = store
        .recovery_hash()
        .await?
        .ok_or_else(|| NodeError::Other("the replica has no recovery passphrase".into()))?;
    if !crate::service::users::verify_password(&phc, recovery).await {
        return Err(NodeError::Other(
            "wrong recovery passphrase: joining a replica needs the passphrase shown at `clavisd init`".into(),
        ));
    }
    let rot = open_rot(cfg, false)?;
    let active = store
        .master_keys()
        .await?
        .into_iter()
        .rev()
        .find(|m| m.state == "active")
        .ok_or_else(|| NodeError::Other("the replica has no active master key".into()))?;
    let master_key = MasterKeyId(active.id);
    if !rot.has_master_key(&master_key)? {
        return Err(NodeError::Other(format!(
            "this node's root of trust does not hold the replica's master key {}: point it at the same HSM token (or sealed file) as the other nodes",
            master_key.0
        )));
    }
    let ca = store
        .credential(CA_CREDENTIAL_ID)
        .await?
        .ok_or_else(|| NodeError::Other("the cluster CA is missing from the database".into()))?;
    let ca_key = rot.unwrap(&WrappedKey::from_bytes(&ca.wrapped_key)?, CA_CREDENTIAL_ID)?;
    let cert = issue(&ca.cert_pem, &ca_key, &cfg.api.tls_names, CertRole::Node)?;
    drop(ca_key);

    let tls_id = node_tls_credential_id(node_id);
    let now = now_secs();
    let hlc = Hlc::new();
    let wrapped = rot.wrap(&master_key, &tls_id, &cert.key_pkcs8)?;
    let mut tx = store.begin_write(node_id).await?;
    tx.insert_node(
        &NodeRecord {
            id: node_id.to_owned(),
            name: cfg.node.name.clone(),
            site: cfg.node.site.clone(),
            replica_id: replica_id.to_owned(),
            created_at: now,
        },
        to_db(hlc.now()),
    )
    .await?;
    tx.insert_credential(
        &Credential {
            id: tls_id,
            kind: "node_tls".into(),
            cert_pem: cert.cert_pem.clone(),
            wrapped_key: wrapped.to_bytes(),
            master_key_id: master_key.0.clone(),
            created_at: now,
        },
        to_db(hlc.now()),
    )
    .await?;
    tx.append_audit(
        &crate::audit::AuditEvent {
            actor: "system".into(),
            actor_kind: crate::audit::ActorKind::System,
            action: action.into(),
            object: Some(cfg.node.name.clone()),
            source: None,
            outcome: crate::audit::Outcome::Success,
            detail: Some(detail.to_owned()),
        },
        crate::keys::now_millis(),
    )
    .await?;
    tx.commit().await?;

    let ca_path = data_dir.join("ca.pem");
    crate::rot::software::write_atomically(&ca_path, ca.cert_pem.as_bytes())
        .map_err(io_err(&ca_path))?;
    NodeFile {
        node_id: node_id.to_owned(),
        replica_id: replica_id.to_owned(),
    }
    .save(&data_dir)?;
    Ok(())
}
