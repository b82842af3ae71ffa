//! `clavisd run`: open everything, check it agrees, serve.

use super::{node_tls_credential_id, open_rot, NodeError, NodeFile, CA_CREDENTIAL_ID};
use crate::admin::{serve, ApiState};
use crate::config::Config;
use crate::rot::WrappedKey;
use crate::service::{KeyService, NodeIdentity};
use crate::store::Store;
use crate::tls::{server_config, ClientAuth};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A node serving in this process.
pub struct RunningNode {
    /// Address the API listens on.
    pub api_addr: SocketAddr,
    /// The service (for in-process callers such as benchmarks).
    pub service: Arc<KeyService>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningNode {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
        self.service.store().close().await;
    }
}

/// Opens the root of trust, the store and the node's credentials, then starts the API.
pub async fn start(cfg: &Config) -> Result<RunningNode, NodeError> {
    let data_dir = cfg.data_dir();
    let node_file = NodeFile::load(&data_dir)?;
    let rot = open_rot(cfg, false)?;
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    let replica = store.replica_id().await?;
    if replica != node_file.replica_id {
        return Err(NodeError::Other(format!(
            "store.url points at replica {replica}, but this node was initialized for replica {}",
            node_file.replica_id
        )));
    }
    let node = store.node(&node_file.node_id).await?.ok_or_else(|| {
        NodeError::Other(format!(
            "node {} is not registered in the database",
            node_file.node_id
        ))
    })?;
    let service = Arc::new(
        KeyService::open(
            rot.clone(),
            store.clone(),
            NodeIdentity {
                node_id: node.id.clone(),
                name: cfg.node.name.clone(),
                site: cfg.node.site.clone(),
            },
        )
        .await?,
    );

    let ca = store
        .credential(CA_CREDENTIAL_ID)
        .await?
        .ok_or_else(|| NodeError::Other("the cluster CA is missing from the database".into()))?;
    let tls_id = node_tls_credential_id(&node.id);
    let cred = store.credential(&tls_id).await?.ok_or_else(|| {
        NodeError::Other(format!("the node's TLS credential {tls_id} is missing"))
    })?;
    let key = rot.unwrap(&WrappedKey::from_bytes(&cred.wrapped_key)?, &tls_id)?;
    let tls = server_config(&ca.cert_pem, &cred.cert_pem, &key, ClientAuth::Optional)?;
    drop(key);

    let listener = tokio::net::TcpListener::bind(cfg.api.listen)
        .await
        .map_err(|source| NodeError::Io {
            path: format!("api.listen {}", cfg.api.listen),
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| NodeError::Io {
        path: "api.listen".into(),
        source,
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let state = ApiState {
        svc: service.clone(),
    };
    let max_body = cfg.api.max_body_bytes;
    let task = tokio::spawn(async move {
        serve(listener, tls, state, max_body, async {
            let _ = rx.await;
        })
        .await;
    });
    tracing::info!(node_id = %node.id, api = %api_addr, root_of_trust = %rot.kind(), store = ?store.backend(), "node serving");
    Ok(RunningNode {
        api_addr,
        service,
        shutdown: Some(tx),
        task,
    })
}
