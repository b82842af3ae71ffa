//! `clavisd join-cluster`: make this node a new replica of an existing cluster.
//!
//! An administrator runs `clavis cluster add-node` on the cluster (System
//! Administrator and the recovery passphrase) and hands the join token and the cluster
//! CA to this node's operator. This node then presents the token to a sponsor node,
//! receives its identity, creates its own (empty) replica and copies everything the
//! cluster holds through the replication stream. After that `clavisd run` serves and
//! keeps pulling.

use super::{io_err, open_rot, NodeError, NodeFile};
use crate::cluster::join::{admit, copy_from};
use crate::config::Config;
use crate::keys::now_secs;
use crate::rot::MasterKeyId;
use crate::store::Store;

/// What `join-cluster` reports.
pub struct JoinClusterOutput {
    /// This node's ID.
    pub node_id: String,
    /// The replica it created.
    pub replica_id: String,
    /// Changes copied from the sponsor.
    pub copied: u64,
}

/// Joins the cluster through the sponsor at `sponsor` (its `[cluster] listen`
/// address) with the one-time `token`; `ca_pem` is the cluster CA certificate.
pub async fn join_cluster(
    cfg: &Config,
    sponsor: &str,
    token: &str,
    ca_pem: &str,
    progress: impl FnMut(u64, u64),
) -> Result<JoinClusterOutput, NodeError> {
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
    if data_dir.join(NodeFile::NAME).exists() {
        return Err(NodeError::Other(format!(
            "{} exists: this node is already initialized",
            data_dir.join(NodeFile::NAME).display()
        )));
    }
    if !cfg.cluster.enabled {
        return Err(NodeError::Other(
            "[cluster] enabled must be true in this node's configuration: peers reach it there"
                .into(),
        ));
    }
    // Open the root of trust first: a node that cannot open its HSM should fail
    // before it spends the one-time token.
    let rot = open_rot(cfg, false)?;
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    let advertise = cfg
        .cluster
        .advertise
        .clone()
        .unwrap_or_else(|| cfg.cluster.listen.to_string());
    let joined = admit(
        &store,
        sponsor,
        ca_pem,
        token,
        &cfg.node.name,
        &cfg.node.site,
        &advertise,
        &cfg.api.tls_names,
    )
    .await
    .map_err(|e| NodeError::Other(format!("joining failed: {e}")))?;
    if !rot.has_master_key(&MasterKeyId(joined.master_key_id.clone()))? {
        return Err(NodeError::Other(format!(
            "this node's root of trust does not hold the cluster's master key {}: clone it \
             into this HSM (or restore the master key backup) and ask for a new join token",
            joined.master_key_id
        )));
    }
    store.init_replica(&joined.replica_id, now_secs()).await?;
    NodeFile {
        node_id: joined.node_id.clone(),
        replica_id: joined.replica_id.clone(),
    }
    .save(&data_dir)?;
    let ca_path = data_dir.join("ca.pem");
    crate::rot::software::write_atomically(&ca_path, joined.ca_pem.as_bytes())
        .map_err(io_err(&ca_path))?;
    let tls = crate::tls::client_config(&joined.ca_pem, Some((&joined.cert_pem, &joined.key)))?;
    drop(joined.key);
    let copied = copy_from(&store, &joined.node_id, sponsor, tls, progress)
        .await
        .map_err(|e| {
            NodeError::Other(format!(
                "the first copy stopped: {e}; `clavisd run` resumes it from where it stopped"
            ))
        })?;
    if store.node(&joined.node_id).await?.is_none() {
        return Err(NodeError::Other(
            "the copy did not include this node's own record; run `clavisd run` to keep pulling"
                .into(),
        ));
    }
    store.close().await;
    Ok(JoinClusterOutput {
        node_id: joined.node_id,
        replica_id: joined.replica_id,
        copied,
    })
}

/// `clavisd factory-reset`: erases this node's data so it can be reused or retired.
/// SQLite files are deleted (overwritten with random bytes first when `scrub`); on
/// PostgreSQL, which other nodes may share, only this node's own rows (its pool) go.
/// The node file, CA copy and sealed root-of-trust file in the data directory are
/// removed too. Keys in an HSM are left to the HSM's own tools.
pub async fn factory_reset(cfg: &Config, scrub: bool) -> Result<Vec<String>, NodeError> {
    let data_dir = cfg.data_dir();
    let mut removed = Vec::new();
    let url = cfg.store_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        for suffix in ["", "-wal", "-shm"] {
            let p = std::path::PathBuf::from(format!("{path}{suffix}"));
            if p.exists() {
                if scrub {
                    scrub_file(&p)?;
                }
                std::fs::remove_file(&p).map_err(io_err(&p))?;
                removed.push(p.display().to_string());
            }
        }
    } else if let Ok(node) = NodeFile::load(&data_dir) {
        let store = Store::open(&url, 2).await?;
        let n = store.delete_node_pool(&node.node_id).await?;
        removed.push(format!(
            "{n} pool keys of node {} in the shared database",
            node.node_id
        ));
        store.close().await;
    }
    for name in [NodeFile::NAME, "ca.pem", "admin.token"] {
        let p = data_dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io_err(&p))?;
            removed.push(p.display().to_string());
        }
    }
    if let crate::config::RotConfig::Software(s) = &cfg.root_of_trust {
        let p = cfg.data_path(&s.sealed_file);
        if p.exists() {
            if scrub {
                scrub_file(&p)?;
            }
            std::fs::remove_file(&p).map_err(io_err(&p))?;
            removed.push(p.display().to_string());
        }
    }
    Ok(removed)
}

/// Overwrites a file with random bytes and syncs it, so deleting it leaves no key
/// material or metadata in the blocks it used (on storage that overwrites in place).
fn scrub_file(p: &std::path::Path) -> Result<(), NodeError> {
    use std::io::Write;
    let len = std::fs::metadata(p).map_err(io_err(p))?.len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map_err(io_err(p))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        getrandom::fill(&mut buf[..n]).map_err(|e| NodeError::Other(format!("random: {e}")))?;
        f.write_all(&buf[..n]).map_err(io_err(p))?;
        left -= n as u64;
    }
    f.sync_all().map_err(io_err(p))?;
    Ok(())
}
