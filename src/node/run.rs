//! `clavisd run`: open everything, check it agrees, serve.

use super::{node_tls_credential_id, open_rot, NodeError, NodeFile, CA_CREDENTIAL_ID};
use crate::admin::{serve, ApiState};
use crate::config::Config;
use crate::rot::WrappedKey;
use crate::service::{KeyService, NodeIdentity};
use crate::store::Store;
use crate::tls::{server_config, server_config_versions, ClientAuth};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// A node serving in this process.
pub struct RunningNode {
    /// Address the API listens on.
    pub api_addr: SocketAddr,
    /// Address the KMIP listener is on, when enabled.
    pub kmip_addr: Option<SocketAddr>,
    /// Address the drive-agent listener is on, when enabled.
    pub agent_addr: Option<SocketAddr>,
    /// Address the replication listener is on, when enabled.
    pub cluster_addr: Option<SocketAddr>,
    /// Addresses of the OKM agent-protocol listeners, when enabled.
    pub okm_addrs: Option<crate::agent::okm::http::OkmAddrs>,
    /// The service (for in-process callers such as benchmarks).
    pub service: Arc<KeyService>,
    shutdown: Option<watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningNode {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.service.record_system("node.stop", None, None).await;
        // Sign the head on the way out, so the newest records are covered by a
        // signature and not only by the head row.
        if let Err(e) = self
            .service
            .audit_checkpoint(crate::audit::CheckpointKind::Periodic)
            .await
        {
            tracing::warn!(error = %e, "could not sign an audit checkpoint at shutdown");
        }
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
    service.set_backup_paths(
        cfg.backup_dir(),
        data_dir.join(crate::service::ARMED_BACKUP_KEY_FILE),
    );
    service
        .record_system("node.start", Some(&cfg.node.name), None)
        .await;

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
    let kmip_tls = server_config_versions(
        &ca.cert_pem,
        &cred.cert_pem,
        &key,
        ClientAuth::Required,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    )?;
    let agent_tls = server_config_versions(
        &ca.cert_pem,
        &cred.cert_pem,
        &key,
        ClientAuth::Optional,
        &[&rustls::version::TLS13],
    )?;
    let cluster_tls = server_config_versions(
        &ca.cert_pem,
        &cred.cert_pem,
        &key,
        ClientAuth::Optional,
        &[&rustls::version::TLS13],
    )?;
    let peer_tls = crate::tls::client_config(&ca.cert_pem, Some((&cred.cert_pem, &key)))?;
    let okm_tls = if cfg.okm.enabled {
        Some(crate::agent::okm::http::OkmTls::new(
            &ca.cert_pem,
            &cred.cert_pem,
            &key,
        )?)
    } else {
        None
    };
    drop(key);

    let (tx, rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
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
    let state = ApiState {
        svc: service.clone(),
    };
    let max_body = cfg.api.max_body_bytes;
    let mut tasks = vec![tokio::spawn(serve(
        listener,
        tls,
        state,
        max_body,
        stopped(rx.clone()),
    ))];

    if cfg.audit.checkpoint_interval_secs > 0 {
        tasks.push(tokio::spawn(crate::service::audit::run_checkpoints(
            service.clone(),
            std::time::Duration::from_secs(cfg.audit.checkpoint_interval_secs),
            rx.clone(),
        )));
    }
    if let Some(schedule) = cfg.backup_schedule() {
        tasks.push(tokio::spawn(crate::service::run_scheduled_backups(
            service.clone(),
            schedule,
            cfg.backup.keep,
            cfg.backup.copy_command.clone(),
            std::time::Duration::from_secs(cfg.backup.copy_timeout_secs),
            rx.clone(),
        )));
    }
    if let Some(url) = &cfg.audit.syslog {
        let target = crate::audit::syslog::parse_target(url)
            .map_err(|m| NodeError::Other(format!("audit.syslog: {m}")))?;
        let fwd =
            crate::audit::syslog::Forwarder::new(store.clone(), &node.id, &cfg.node.name, &target)
                .await?;
        tasks.push(tokio::spawn(fwd.run(rx.clone())));
    }
    tasks.push(tokio::spawn(crate::service::rotation::run_rewrapper(
        service.clone(),
        crate::service::rotation::RewrapSettings {
            per_second: cfg.rotation.rewrap_per_second,
            batch: cfg.rotation.batch,
        },
        rx.clone(),
    )));
    service.pool().configure(
        cfg.pool
            .resolve()
            .map_err(|m| NodeError::Other(format!("pool: {m}")))?,
    );
    if cfg.pool.refill {
        tasks.push(tokio::spawn(crate::pool::run_maintainer(
            service.refiller(),
            std::time::Duration::from_secs(1),
            rx.clone(),
        )));
    }
    let mut agent_addr = None;
    if cfg.agent.enabled {
        let listener = tokio::net::TcpListener::bind(cfg.agent.listen)
            .await
            .map_err(|source| NodeError::Io {
                path: format!("agent.listen {}", cfg.agent.listen),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| NodeError::Io {
            path: "agent.listen".into(),
            source,
        })?;
        agent_addr = Some(bound);
        let advertise = cfg
            .agent
            .advertise
            .clone()
            .unwrap_or_else(|| bound.to_string());
        service.advertise_agent_addr(&advertise).await?;
        let settings = crate::agent::server::AgentSettings {
            max_frame: cfg.agent.max_frame_bytes,
            idle: std::time::Duration::from_secs(cfg.agent.idle_timeout_secs),
        };
        tasks.push(tokio::spawn(crate::agent::server::serve(
            listener,
            agent_tls,
            service.clone(),
            settings,
            stopped(rx.clone()),
        )));
    }
    let mut cluster_addr = None;
    if cfg.cluster.enabled {
        let settings = cfg
            .cluster
            .settings()
            .map_err(|m| NodeError::Other(m.to_string()))?;
        let listener = tokio::net::TcpListener::bind(cfg.cluster.listen)
            .await
            .map_err(|source| NodeError::Io {
                path: format!("cluster.listen {}", cfg.cluster.listen),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| NodeError::Io {
            path: "cluster.listen".into(),
            source,
        })?;
        cluster_addr = Some(bound);
        let advertise = cfg
            .cluster
            .advertise
            .clone()
            .unwrap_or_else(|| bound.to_string());
        service
            .advertise_cluster_addr(&advertise, cfg.cluster.read_only)
            .await?;
        tasks.push(tokio::spawn(crate::cluster::server::serve(
            listener,
            cluster_tls,
            service.clone(),
            settings.clone(),
            stopped(rx.clone()),
        )));
        tasks.push(tokio::spawn(crate::cluster::peer::run(
            service.clone(),
            peer_tls,
            settings,
            service.peers().clone(),
            rx.clone(),
        )));
    }
    if cfg.cluster.read_only {
        let writable: Vec<String> = store
            .cluster_nodes()
            .await?
            .into_iter()
            .filter(|n| n.member_state == "active" && !n.read_only && n.id != node.id)
            .map(|n| format!("{} (site {})", n.name, n.site))
            .collect();
        let hint = if writable.is_empty() {
            "a read-write node of the cluster".to_owned()
        } else {
            format!("a read-write node: {}", writable.join(", "))
        };
        store.set_read_only(hint);
        tracing::warn!("this node is read-only: requests that change anything are refused");
    }
    let mut okm_addrs = None;
    if let Some(okm_tls) = okm_tls {
        let o = &cfg.okm;
        let at = |port| SocketAddr::new(o.listen_address, port);
        let settings = crate::agent::okm::OkmSettings {
            ca: at(o.ca_port),
            certificate: at(o.certificate_port),
            agent: at(o.agent_port),
            discovery: at(o.discovery_port),
            advertise_host: o.advertise_host.clone(),
            iterations: o.iterations,
            max_request_bytes: o.max_request_bytes,
            idle: std::time::Duration::from_secs(o.idle_timeout_secs),
        };
        let state = crate::agent::okm::OkmState::new(service.clone(), settings, &ca.cert_pem)
            .map_err(|m| NodeError::Other(format!("okm: {m}")))?;
        let (addrs, okm_tasks) =
            crate::agent::okm::http::start(Arc::new(state), okm_tls, rx.clone())
                .await
                .map_err(NodeError::Other)?;
        okm_addrs = Some(addrs);
        tasks.extend(okm_tasks);
    }
    let mut kmip_addr = None;
    if cfg.kmip.enabled {
        let listener = tokio::net::TcpListener::bind(cfg.kmip.listen)
            .await
            .map_err(|source| NodeError::Io {
                path: format!("kmip.listen {}", cfg.kmip.listen),
                source,
            })?;
        kmip_addr = Some(listener.local_addr().map_err(|source| NodeError::Io {
            path: "kmip.listen".into(),
            source,
        })?);
        let settings = crate::kmip::server::KmipSettings {
            limits: crate::kmip::ttlv::Limits {
                max_message_bytes: cfg.kmip.max_message_bytes,
                ..crate::kmip::ttlv::Limits::default()
            },
            idle: std::time::Duration::from_secs(cfg.kmip.idle_timeout_secs),
        };
        tasks.push(tokio::spawn(crate::kmip::server::serve(
            listener,
            kmip_tls,
            service.clone(),
            settings,
            stopped(rx),
        )));
    }
    tracing::info!(node_id = %node.id, api = %api_addr, kmip = ?kmip_addr, agent = ?agent_addr, cluster = ?cluster_addr, okm = ?okm_addrs, root_of_trust = %rot.kind(), store = ?store.backend(), "node serving");
    Ok(RunningNode {
        api_addr,
        kmip_addr,
        agent_addr,
        cluster_addr,
        okm_addrs,
        service,
        shutdown: Some(tx),
        tasks,
    })
}
