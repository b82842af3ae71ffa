//! Pulling from peers: one task per peer node, supervised from the membership table.
//!
//! A puller connects over mutual TLS with this node's certificate, sends Hello, then
//! Pull after Pull with this replica's version vector; each Batch is applied in one
//! transaction (the cursors move with it), so a crash anywhere loses nothing and
//! repeats nothing. An exchange that completes is the heartbeat: a peer silent for
//! `peer_timeout` is down, and the alert hook runs when it is lost and found again.

use super::status::{PeerState, PeerStatus, PeerTable};
use super::wire::{self, Message};
use super::Settings;
use crate::keys::now_millis;
use crate::service::KeyService;
use crate::store::ClusterNode;
use rustls_pki_types::ServerName;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

/// How often the supervisor re-reads the membership.
const MEMBERSHIP_EVERY: Duration = Duration::from_secs(2);

/// Runs pullers for every peer node until `shutdown` turns true.
pub async fn run(
    svc: Arc<KeyService>,
    tls: rustls::ClientConfig,
    settings: Settings,
    peers: PeerTable,
    mut shutdown: watch::Receiver<bool>,
) {
    let connector = TlsConnector::from(Arc::new(tls));
    let mut running: BTreeMap<String, (String, tokio::task::JoinHandle<()>)> = BTreeMap::new();
    loop {
        match peer_nodes(&svc).await {
            Ok(nodes) => {
                let keep: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
                running.retain(|id, (addr, task)| {
                    let same = nodes
                        .iter()
                        .any(|n| &n.id == id && n.cluster_addr.as_deref() == Some(addr.as_str()));
                    if !same {
                        task.abort();
                    }
                    same
                });
                peers.retain(&keep);
                for n in nodes {
                    if running.contains_key(&n.id) {
                        continue;
                    }
                    let Some(addr) = n.cluster_addr.clone() else {
                        continue;
                    };
                    let task = tokio::spawn(puller(
                        svc.clone(),
                        connector.clone(),
                        settings.clone(),
                        peers.clone(),
                        n.clone(),
                        shutdown.clone(),
                    ));
                    running.insert(n.id.clone(), (addr, task));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the cluster membership"),
        }
        tokio::select! {
            _ = tokio::time::sleep(MEMBERSHIP_EVERY) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    for (_, (_, t)) in running {
        t.abort();
    }
}

/// Active nodes of other replicas that have a replication address.
async fn peer_nodes(svc: &KeyService) -> Result<Vec<ClusterNode>, crate::store::StoreError> {
    let own = svc.store().replica_id().await?;
    Ok(svc
        .store()
        .cluster_nodes()
        .await?
        .into_iter()
        .filter(|n| {
            n.member_state == "active"
                && n.replica_id != own
                && !n.replica_id.is_empty()
                && n.cluster_addr.is_some()
        })
        .collect())
}

fn fresh(n: &ClusterNode) -> impl FnOnce() -> PeerStatus + '_ {
    move || PeerStatus {
        node_id: n.id.clone(),
        name: n.name.clone(),
        site: n.site.clone(),
        replica_id: n.replica_id.clone(),
        addr: n.cluster_addr.clone().unwrap_or_default(),
        state: PeerState::Unknown,
        last_contact_ms: None,
        behind: 0,
        last_lag_ms: None,
        max_lag_ms: 0,
        applied: 0,
        last_error: None,
    }
}

async fn puller(
    svc: Arc<KeyService>,
    connector: TlsConnector,
    settings: Settings,
    peers: PeerTable,
    node: ClusterNode,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = std::time::Instant::now();
        let r = tokio::select! {
            r = session(&svc, &connector, &settings, &peers, &node) => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if let Err(e) = r {
            let timeout = settings.peer_timeout.as_millis() as i64;
            let (before, after) = peers.update(&node.id, fresh(&node), |p| {
                p.last_error = Some(e.clone());
                let silent = p.last_contact_ms.is_none_or(|t| now_millis() - t > timeout);
                if silent {
                    p.state = PeerState::Down;
                }
            });
            tracing::debug!(peer = %node.name, error = %e, "replication session ended");
            alert_on_change(&svc, &settings, &node, before, after).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        // A session that ran a while was healthy: start backing off afresh.
        backoff = if started.elapsed() > settings.peer_timeout {
            Duration::from_millis(100)
        } else {
            (backoff * 2).min(Duration::from_secs(2))
        };
    }
}

async fn alert_on_change(
    svc: &KeyService,
    settings: &Settings,
    node: &ClusterNode,
    before: PeerState,
    after: PeerState,
) {
    let event = match (before, after) {
        (PeerState::Up | PeerState::Lagging, PeerState::Down) => "cluster.peer_lost",
        (PeerState::Down, PeerState::Up | PeerState::Lagging) => "cluster.peer_found",
        _ => return,
    };
    if event == "cluster.peer_lost" {
        tracing::warn!(peer = %node.name, peer_id = %node.id, site = %node.site, "peer lost");
    } else {
        tracing::info!(peer = %node.name, peer_id = %node.id, site = %node.site, "peer found");
    }
    svc.record_cluster_event(event, &node.id, Some(node.name.clone()))
        .await;
    if let Some(cmd) = &settings.alert_command {
        match tokio::process::Command::new(cmd)
            .arg(event)
            .arg(&node.name)
            .arg(&node.id)
            .kill_on_drop(false)
            .spawn()
        {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => tracing::warn!(command = %cmd.display(), error = %e, "alert command failed"),
        }
    }
}

/// One connection to a peer: handshake, then pulls until something fails.
async fn session(
    svc: &KeyService,
    connector: &TlsConnector,
    settings: &Settings,
    peers: &PeerTable,
    node: &ClusterNode,
) -> Result<(), String> {
    let addr = node.cluster_addr.clone().unwrap_or_default();
    let host = addr
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']).to_owned())
        .unwrap_or_else(|| addr.clone());
    let name = ServerName::try_from(host).map_err(|e| format!("bad address {addr}: {e}"))?;
    let timeout = settings.peer_timeout;
    let tcp = tokio::time::timeout(timeout, super::connect_tcp(&addr, settings.source_addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))?
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let own = svc.store().replica_id().await.map_err(|e| e.to_string())?;
    wire::send(
        &mut tls,
        &Message::Hello {
            major: wire::MAJOR,
            minor: wire::MINOR,
            node_id: svc.node().node_id.clone(),
            replica_id: own,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, wire::recv(&mut tls, 64 * 1024)).await {
        Ok(Ok(Message::Welcome { major, minor, .. })) if wire::compatible(major, minor) => {}
        Ok(Ok(Message::Welcome { major, minor, .. })) => {
            return Err(format!(
                "peer speaks replication protocol {major}.{minor}, this node {}.{}: more than one minor apart",
                wire::MAJOR,
                wire::MINOR
            ))
        }
        Ok(Ok(Message::Error { message, .. })) => return Err(format!("peer refused: {message}")),
        Ok(Ok(_)) => return Err("unexpected answer to Hello".into()),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no answer to Hello".into()),
    }
    let wait_ms = settings.wait.as_millis() as u32;
    loop {
        let vv = svc
            .store()
            .version_vector()
            .await
            .map_err(|e| e.to_string())?;
        let audit_vv = svc
            .store()
            .audit_version_vector()
            .await
            .map_err(|e| e.to_string())?;
        wire::send(
            &mut tls,
            &Message::Pull {
                max_changes: settings.batch,
                wait_ms,
                vv: vv.clone(),
                audit_vv,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(
            settings.wait + timeout,
            wire::recv(&mut tls, wire::MAX_FRAME),
        )
        .await
        .map_err(|_| "no answer to Pull within the timeout".to_owned())?
        .map_err(|e| e.to_string())?;
        let (theirs, changes, audit, checkpoints) = match answer {
            Message::Batch {
                vv,
                changes,
                audit,
                checkpoints,
            } => (vv, changes, audit, checkpoints),
            Message::Error { message, .. } => return Err(format!("peer refused: {message}")),
            _ => return Err("unexpected answer to Pull".into()),
        };
        let newest = changes.iter().map(|c| c.hlc).max();
        let report = if changes.is_empty() {
            None
        } else {
            Some(
                svc.apply_replicated(&changes)
                    .await
                    .map_err(|e| format!("applying changes: {e}"))?,
            )
        };
        if !audit.is_empty() || !checkpoints.is_empty() {
            svc.store()
                .apply_audit(&svc.node().node_id, &audit, &checkpoints)
                .await
                .map_err(|e| format!("storing audit records: {e}"))?;
        }
        let ours = if report.is_some() {
            svc.store()
                .version_vector()
                .await
                .map_err(|e| e.to_string())?
        } else {
            vv
        };
        let behind: i64 = theirs
            .iter()
            .map(|(o, s)| (s - ours.get(o).copied().unwrap_or(0)).max(0))
            .sum();
        let now = now_millis();
        let lag = newest.map(|h| (now - (h >> 16)).max(0));
        let (before, after) = peers.update(&node.id, fresh(node), |p| {
            p.last_contact_ms = Some(now);
            p.behind = behind;
            p.last_error = None;
            if let Some(l) = lag {
                p.last_lag_ms = Some(l);
                p.max_lag_ms = p.max_lag_ms.max(l);
            }
            if let Some(r) = &report {
                p.applied += r.applied;
            }
            p.state = if behind > i64::from(settings.batch) {
                PeerState::Lagging
            } else {
                PeerState::Up
            };
        });
        alert_on_change(svc, settings, node, before, after).await;
    }
}
