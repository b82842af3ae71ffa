//! Master-key rotation (SPEC 1.4). `rotate_master_key` makes a new master key in the
//! root of trust and makes it the one new keys are wrapped under, at once; the old one
//! becomes `retiring`. A background task ([`run_rewrapper`]) then re-wraps every key
//! still under a retiring master key, a bounded number a second, and destroys that
//! master key in the HSM once a count finds nothing left under it.
//!
//! In a cluster the new key must be in every node's HSM before anything is wrapped
//! under it: there the new key starts `pending`, each node records (replicated) which
//! master keys its root of trust holds, and the first pass that finds every active
//! member holding the pending key makes it active everywhere. The operator gets it into
//! the other HSMs by the HSM's own cloning or a master-key backup, which carries the
//! pending key while there is one.
//!
//! Crash-safe without a progress record: the progress is the data itself (rows still
//! wrapped under the old key), every swap is conditional on the row still holding the
//! blob that was read, and the old key is destroyed only after the count says zero. A
//! node killed at any point resumes where the rows say it is.

use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::hlc::to_db;
use crate::keys::now_secs;
use crate::rot::{MasterKeyId, WrappedKey};
use crate::store::{MasterKeyHolder, MasterKeyRecord, WrappedCounts, WrappedRow, WrappedTable};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How fast the re-wrap runs.
#[derive(Debug, Clone, Copy)]
pub struct RewrapSettings {
    /// Most keys re-wrapped per second.
    pub per_second: u64,
    /// Keys per transaction.
    pub batch: u64,
}

/// The re-wrapper's counters, for status and progress.
#[derive(Debug, Default)]
pub struct RotationCounters {
    rewrapped: AtomicU64,
    failed: AtomicU64,
    wake: tokio::sync::Notify,
    /// The missing active key last complained about (once per key, not per pass).
    warned_missing: std::sync::Mutex<Option<String>>,
}

/// One master key as rotation sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasterKeyReport {
    /// Its label in the root of trust.
    pub id: String,
    /// `pending` (made, waiting for every node's HSM to hold it), `active`, `retiring`
    /// (being re-wrapped away from) or `destroyed`.
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether this node's root of trust still holds it.
    pub in_root_of_trust: bool,
    /// Keys this replica still holds wrapped under it.
    pub wrapped: WrappedCounts,
    /// Names of the nodes recorded as holding it in their HSM.
    pub held_by: Vec<String>,
    /// For a pending key: names of the active members that do not hold it yet.
    pub waiting_for: Vec<String>,
}

/// Where a rotation stands on this node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationStatus {
    /// The master key new keys are wrapped under here.
    pub active: String,
    /// Every master key this replica knows, oldest first.
    pub master_keys: Vec<MasterKeyReport>,
    /// Keys still wrapped under a master key other than the active one.
    pub remaining: i64,
    /// Keys this node re-wrapped since it started.
    pub rewrapped: u64,
    /// Keys whose blob would not unwrap (left alone; their master key is kept).
    pub failed: u64,
    /// True while anything is left to re-wrap or retire.
    pub in_progress: bool,
}

/// A request that read the old master key just before a rotation may still commit a
/// key wrapped under it after the re-wrap found none; the old key is destroyed only
/// once it has been found unused for this long.
const RETIRE_GRACE: Duration = Duration::from_secs(3);

/// What the re-wrapper remembers between passes.
struct RewrapState {
    /// Rows whose blob would not unwrap (left alone, counted as failed).
    skip: HashSet<String>,
    /// When each master key was first found with nothing under it.
    clean_since: std::collections::HashMap<String, std::time::Instant>,
    /// How long a key must stay clean before it is destroyed.
    grace: Duration,
}

impl RewrapState {
    fn new(grace: Duration) -> Self {
        RewrapState {
            skip: HashSet::new(),
            clean_since: Default::default(),
            grace,
        }
    }
}

/// What one pass of the re-wrapper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Nothing to do.
    Idle,
    /// Re-wrapped this many keys (or retired a master key: 0).
    Worked(u64),
}

impl KeyService {
    /// Rotates the master key: a new one wraps new keys from now on and everything
    /// stored is re-wrapped under it in the background. In a cluster of several nodes
    /// the new key is `pending` until every node's HSM holds it. Refused while an
    /// earlier rotation is pending or still retiring its key.
    pub async fn rotate_master_key(&self, who: &Principal) -> Result<RotationStatus, ServiceError> {
        let action = "master_key.rotate";
        self.authorize(who, &Action::ManageCluster).await?;
        let r = async {
            let keys = self.store.master_keys().await?;
            if let Some(k) = keys.iter().find(|k| k.state == "pending") {
                return Err(ServiceError::WrongState(format!(
                    "a rotation to master key {} is pending until every node's HSM holds it \
                     (see GET /v1/master-key/rotation)",
                    k.id
                )));
            }
            if let Some(k) = keys.iter().find(|k| k.state == "retiring") {
                let left = self.store.count_wrapped_under(&k.id).await?.total();
                return Err(ServiceError::WrongState(format!(
                    "master key {} is still being retired ({left} keys left to re-wrap); \
                     rotate again once it is destroyed",
                    k.id
                )));
            }
            let peers = self
                .store
                .cluster_nodes()
                .await?
                .into_iter()
                .filter(|n| n.id != self.node.node_id && n.member_state == "active")
                .count();
            let old = self.master_key.get();
            let new = MasterKeyId::generate();
            let rot = self.rot.clone();
            let id = new.clone();
            let everywhere = tokio::task::spawn_blocking(move || {
                rot.generate_master_key(&id)?;
                rot.spread_master_key(&id)
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("master key generation stopped: {e}")))??;
            // Pending until every HSM of every node holds it.
            let wait = peers > 0 || !everywhere;
            let committed = async {
                let now = now_secs();
                let mut tx = self.store.begin_write(&self.node.node_id).await?;
                if !wait {
                    tx.set_master_key_state(&old.0, "retiring", to_db(self.hlc.now()), now)
                        .await?;
                }
                tx.insert_master_key(
                    &MasterKeyRecord {
                        id: new.0.clone(),
                        rot_kind: self.rot.kind().to_string(),
                        state: if wait { "pending" } else { "active" }.into(),
                        created_at: now,
                    },
                    to_db(self.hlc.now()),
                )
                .await?;
                if everywhere {
                    tx.put_master_key_holder(
                        &MasterKeyHolder {
                            master_key_id: new.0.clone(),
                            node_id: self.node.node_id.clone(),
                            confirmed_at: now,
                            drained_at: None,
                        },
                        to_db(self.hlc.now()),
                    )
                    .await?;
                }
                let ev = self.event(
                    who,
                    action,
                    Some(&new.0),
                    Outcome::Success,
                    Some(format!("replaces {old}")),
                );
                tx.append_audit(&ev, crate::audit::now_ms()).await?;
                tx.commit().await?;
                Ok::<(), ServiceError>(())
            }
            .await;
            if let Err(e) = committed {
                // A commit can fail in the reply yet have happened: take the new key out
                // again only if the database does not name it.
                let recorded = self
                    .store
                    .master_keys()
                    .await
                    .map(|ks| ks.iter().any(|k| k.id == new.0));
                if recorded.is_ok_and(|r| !r) {
                    let rot = self.rot.clone();
                    let id = new.clone();
                    let _ = tokio::task::spawn_blocking(move || rot.destroy_master_key(&id)).await;
                } else {
                    tracing::warn!(master_key = %new, error = %e, "the rotation's commit reported an error; the new key is kept in the HSM in case it went through");
                }
                return Err(e);
            }
            if !wait {
                self.master_key.set(new.clone());
                tracing::info!(old = %old, new = %new, "master key rotated; re-wrapping stored keys");
            } else {
                tracing::warn!(new = %new, nodes = peers + 1, "new master key pending until every node's HSMs hold it");
            }
            self.rotation.wake.notify_one();
            self.rotation_report().await
        }
        .await;
        self.audit_failure(who, action, None, r).await
    }

    /// Runs re-wrap passes without a rate limit until nothing is left to re-wrap or
    /// retire (a restore into an HSM with another master key); `progress(done, total)`
    /// after each pass. Returns the keys re-wrapped.
    pub async fn rewrap_all(
        &self,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, ServiceError> {
        let total = u64::try_from(self.rotation_report().await?.remaining).unwrap_or(0);
        // Offline (a restore): no request can wrap under the old key meanwhile.
        let mut state = RewrapState::new(Duration::ZERO);
        let mut done = 0;
        while let Pass::Worked(n) = self.rewrap_pass(1000, &mut state).await? {
            done += n;
            progress(done.min(total), total);
        }
        let skip = state.skip;
        if !skip.is_empty() {
            return Err(ServiceError::Internal(format!(
                "{} keys would not unwrap and stay under their old master key (see the log)",
                skip.len()
            )));
        }
        Ok(done)
    }

    /// Where the rotation stands.
    pub async fn rotation_status(&self, who: &Principal) -> Result<RotationStatus, ServiceError> {
        self.authorize(who, &Action::ManageCluster).await?;
        self.rotation_report().await
    }

    async fn rotation_report(&self) -> Result<RotationStatus, ServiceError> {
        let active = self.master_key.get();
        let nodes = self.store.cluster_nodes().await?;
        let name_of = |id: &str| {
            nodes
                .iter()
                .find(|n| n.id == id)
                .map_or_else(|| id.to_owned(), |n| n.name.clone())
        };
        let mut master_keys = Vec::new();
        let mut remaining = 0;
        for k in self.store.master_keys().await? {
            let wrapped = self.store.count_wrapped_under(&k.id).await?;
            if k.id != active.0 {
                remaining += wrapped.total();
            }
            let held = self.holds(&MasterKeyId(k.id.clone())).await;
            let holders = self.store.master_key_holders(&k.id).await?;
            let waiting_for = if k.state == "pending" {
                nodes
                    .iter()
                    .filter(|n| n.member_state == "active" && !holders.contains(&n.id))
                    .map(|n| n.name.clone())
                    .collect()
            } else {
                Vec::new()
            };
            master_keys.push(MasterKeyReport {
                id: k.id,
                state: k.state,
                created_at: k.created_at,
                in_root_of_trust: held,
                wrapped,
                held_by: holders.iter().map(|h| name_of(h)).collect(),
                waiting_for,
            });
        }
        let in_progress = remaining > 0
            || master_keys.iter().any(|k| {
                k.state == "retiring"
                    || k.state == "pending"
                    || (k.id != active.0 && k.in_root_of_trust)
            });
        Ok(RotationStatus {
            active: active.0,
            master_keys,
            remaining,
            rewrapped: self.rotation.rewrapped.load(Ordering::Relaxed),
            failed: self.rotation.failed.load(Ordering::Relaxed),
            in_progress,
        })
    }

    async fn holds_everywhere(&self, id: &MasterKeyId) -> bool {
        let rot = self.rot.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || rot.holds_everywhere(&id).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    async fn holds(&self, id: &MasterKeyId) -> bool {
        let rot = self.rot.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || rot.has_master_key(&id).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Follows the active master key of the replica (a rotation that arrived from a
    /// peer, or a restart), if this root of trust holds it.
    async fn follow_active(&self, keys: &[MasterKeyRecord]) {
        let Some(active) = keys.iter().rev().find(|k| k.state == "active") else {
            return;
        };
        let current = self.master_key.get();
        if active.id == current.0 {
            return;
        }
        let id = MasterKeyId(active.id.clone());
        if self.holds(&id).await {
            tracing::info!(old = %current, new = %id, "now wrapping new keys under the replica's active master key");
            self.master_key.set(id);
        } else {
            let mut warned = self
                .rotation
                .warned_missing
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if warned.as_deref() != Some(id.0.as_str()) {
                tracing::error!(master_key = %id, "the replica's active master key is not in this node's root of trust; new keys stay wrapped under {current}");
                *warned = Some(id.0.clone());
            }
        }
    }

    /// Records, once each, the pending master keys this node's root of trust holds; makes
    /// a pending key active once every active member holds it.
    async fn confirm_holdings(&self, keys: &[MasterKeyRecord]) -> Result<bool, ServiceError> {
        // A read-only node records its holdings too (rotation waits for every member),
        // but leaves the activation to a writable one.
        for k in keys.iter().filter(|k| k.state == "pending") {
            let holders = self.store.master_key_holders(&k.id).await?;
            if !holders.contains(&self.node.node_id)
                && self.holds_everywhere(&MasterKeyId(k.id.clone())).await
            {
                let mut tx = self.store.begin_write(&self.node.node_id).await?;
                tx.put_master_key_holder(
                    &MasterKeyHolder {
                        master_key_id: k.id.clone(),
                        node_id: self.node.node_id.clone(),
                        confirmed_at: now_secs(),
                        drained_at: None,
                    },
                    to_db(self.hlc.now()),
                )
                .await?;
                tx.commit().await?;
                tracing::info!(master_key = %k.id, "recorded that this node's root of trust holds the master key");
            }
        }
        let Some(pending) = keys.iter().find(|k| k.state == "pending") else {
            return Ok(false);
        };
        if self.store.is_read_only() {
            return Ok(false);
        }
        let holders = self.store.master_key_holders(&pending.id).await?;
        let members = self.store.cluster_nodes().await?;
        if members
            .iter()
            .filter(|n| n.member_state == "active")
            .any(|n| !holders.contains(&n.id))
        {
            return Ok(false);
        }
        let now = now_secs();
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        for k in keys.iter().filter(|k| k.state == "active") {
            tx.set_master_key_state(&k.id, "retiring", to_db(self.hlc.now()), now)
                .await?;
        }
        tx.set_master_key_state(&pending.id, "active", to_db(self.hlc.now()), now)
            .await?;
        let ev = self.event(
            &Principal::system("rotation"),
            "master_key.activate",
            Some(&pending.id),
            Outcome::Success,
            Some(format!("every one of {} nodes holds it", holders.len())),
        );
        tx.append_audit(&ev, crate::audit::now_ms()).await?;
        tx.commit().await?;
        tracing::info!(master_key = %pending.id, "every node holds the pending master key: it is active");
        Ok(true)
    }

    /// One pass: re-wraps up to `batch` keys under a retiring master key this node
    /// holds, or retires one that nothing is wrapped under any more.
    async fn rewrap_pass(&self, batch: u64, state: &mut RewrapState) -> Result<Pass, ServiceError> {
        let skip = &mut state.skip;
        let mut keys = self.store.master_keys().await?;
        if self.confirm_holdings(&keys).await? {
            keys = self.store.master_keys().await?;
        }
        self.follow_active(&keys).await;
        let active = self.master_key.get();
        for k in keys
            .iter()
            .filter(|k| k.id != active.0 && k.state != "pending")
        {
            let old = MasterKeyId(k.id.clone());
            if !self.holds(&old).await {
                if k.state != "destroyed" && self.drain(k).await? {
                    return Ok(Pass::Worked(0));
                }
                continue;
            }
            let limit =
                i64::try_from(batch).unwrap_or(i64::MAX) + i64::try_from(skip.len()).unwrap_or(0);
            let mut rows: Vec<WrappedRow> = self
                .store
                .wrapped_under(&k.id, limit)
                .await?
                .into_iter()
                .filter(|r| !skip.contains(&row_key(r)))
                .collect();
            rows.extend(
                self.store
                    .all_master_key_shares()
                    .await?
                    .into_iter()
                    .filter(|r| under(r, &old) && !skip.contains(&row_key(r))),
            );
            rows.truncate(usize::try_from(batch).unwrap_or(usize::MAX).max(1));
            if !rows.is_empty() && self.store.is_read_only() {
                // Re-wrapped blobs arrive from the writable nodes.
                continue;
            }
            if !rows.is_empty() {
                state.clean_since.remove(&k.id);
                return self
                    .rewrap_rows(rows, &active, skip)
                    .await
                    .map(Pass::Worked);
            }
            if self.armed_key_under(&old).await? {
                self.rewrap_armed_key(&active).await?;
                return Ok(Pass::Worked(1));
            }
            if self.store.count_wrapped_under(&k.id).await?.total() > 0 {
                // Only rows that would not unwrap are left: keep the key for them.
                continue;
            }
            let since = *state
                .clean_since
                .entry(k.id.clone())
                .or_insert_with(std::time::Instant::now);
            if since.elapsed() < state.grace {
                continue;
            }
            if self.drain(k).await? {
                return Ok(Pass::Worked(0));
            }
            if !self.drained_everywhere(&k.id).await? {
                continue;
            }
            state.clean_since.remove(&k.id);
            if self.retire(k, &old).await? {
                return Ok(Pass::Worked(0));
            }
        }
        Ok(Pass::Idle)
    }

    async fn rewrap_rows(
        &self,
        rows: Vec<WrappedRow>,
        active: &MasterKeyId,
        skip: &mut HashSet<String>,
    ) -> Result<u64, ServiceError> {
        // The HSM work of a batch on two threads (the HSM serves sessions in parallel),
        // then one transaction for all of it.
        let half = rows.len().div_ceil(2).max(1);
        let mut rows = rows;
        let second = rows.split_off(half.min(rows.len()));
        let mut work = Vec::with_capacity(rows.len() + second.len());
        let jobs: Vec<_> = [rows, second]
            .into_iter()
            .map(|part| {
                let rot = self.rot.clone();
                let to = active.clone();
                tokio::task::spawn_blocking(move || {
                    part.into_iter()
                        .map(|row| {
                            let binding = binding_of(&row);
                            let fresh = WrappedKey::from_bytes(&row.wrapped)
                                .and_then(|w| rot.unwrap(&w, &binding))
                                .and_then(|material| rot.wrap(&to, &binding, &material));
                            (row, fresh)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for job in jobs {
            work.extend(
                job.await
                    .map_err(|e| ServiceError::Internal(format!("re-wrap stopped: {e}")))?,
            );
        }
        let now = now_secs();
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        let mut done = 0u64;
        for (row, fresh) in &work {
            match fresh {
                Ok(w) => {
                    let hlc = to_db(self.hlc.now());
                    if tx
                        .replace_wrapped(row, &w.to_bytes(), &active.0, hlc, now)
                        .await?
                    {
                        done += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(table = ?row.table, id = %row.id, error = %e, "cannot re-wrap this key; its master key is kept");
                    skip.insert(row_key(row));
                    self.rotation.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        tx.commit().await?;
        self.rotation.rewrapped.fetch_add(done, Ordering::Relaxed);
        Ok(done)
    }

    /// Records, once, that this node holds nothing under retiring key `k` (counted in
    /// the transaction that records it; nothing new can be stored under a retiring key).
    /// True when it wrote the record.
    async fn drain(&self, k: &MasterKeyRecord) -> Result<bool, ServiceError> {
        if k.state != "retiring" {
            return Ok(false);
        }
        if self
            .store
            .master_key_drained(&k.id)
            .await?
            .contains(&self.node.node_id)
        {
            return Ok(false);
        }
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        if tx.count_wrapped_under_in_tx(&k.id).await? > 0 {
            return Ok(false);
        }
        let now = now_secs();
        tx.put_master_key_holder(
            &MasterKeyHolder {
                master_key_id: k.id.clone(),
                node_id: self.node.node_id.clone(),
                confirmed_at: now,
                drained_at: Some(now),
            },
            to_db(self.hlc.now()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(master_key = %k.id, "this node holds nothing under the retiring master key any more");
        Ok(true)
    }

    /// True when every active member has drained master key `id`.
    async fn drained_everywhere(&self, id: &str) -> Result<bool, ServiceError> {
        let drained = self.store.master_key_drained(id).await?;
        Ok(self
            .store
            .cluster_nodes()
            .await?
            .iter()
            .filter(|n| n.member_state == "active")
            .all(|n| drained.contains(&n.id)))
    }

    /// Every member has drained `old`: records it destroyed (re-counting in that
    /// transaction, which on PostgreSQL waits for writers holding the key's row) and
    /// destroys it in this root of trust. False when something arrived under it.
    async fn retire(&self, k: &MasterKeyRecord, old: &MasterKeyId) -> Result<bool, ServiceError> {
        if !self.store.is_read_only() {
            let now = now_secs();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            let first = tx
                .set_master_key_state(&k.id, "destroyed", to_db(self.hlc.now()), now)
                .await?;
            if tx.count_wrapped_under_in_tx(&k.id).await? > 0 {
                return Ok(false);
            }
            if !first {
                tx.commit().await?;
                return self.destroy_here(old).await.map(|()| true);
            }
            let ev = self.event(
                &Principal::system("rotation"),
                "master_key.retire",
                Some(&k.id),
                Outcome::Success,
                Some("no key is wrapped under it any more".into()),
            );
            tx.append_audit(&ev, crate::audit::now_ms()).await?;
            tx.commit().await?;
        }
        self.destroy_here(old).await.map(|()| true)
    }

    async fn destroy_here(&self, old: &MasterKeyId) -> Result<(), ServiceError> {
        let rot = self.rot.clone();
        let id = old.clone();
        tokio::task::spawn_blocking(move || rot.destroy_master_key(&id))
            .await
            .map_err(|e| {
                ServiceError::Internal(format!("destroying the master key stopped: {e}"))
            })??;
        tracing::info!(master_key = %old, "retired master key destroyed in the root of trust");
        Ok(())
    }
}

fn under(row: &WrappedRow, mk: &MasterKeyId) -> bool {
    WrappedKey::from_bytes(&row.wrapped).is_ok_and(|w| &w.master_key_id == mk)
}

fn binding_of(row: &WrappedRow) -> String {
    match row.table {
        WrappedTable::MasterKeyShares => super::master_key_backup::share_object_id(
            &row.id,
            row.holder_id.as_deref().unwrap_or_default(),
        ),
        _ => row.id.clone(),
    }
}

fn row_key(row: &WrappedRow) -> String {
    format!(
        "{:?}/{}/{}",
        row.table,
        row.id,
        row.holder_id.as_deref().unwrap_or_default()
    )
}

/// The background re-wrapper: runs passes at most `per_second` keys a second, idles
/// (checking once a second, or when a rotation wakes it) when there is nothing to do.
pub async fn run_rewrapper(
    svc: Arc<KeyService>,
    settings: RewrapSettings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let per_second = settings.per_second.max(1);
    let batch = settings.batch.clamp(1, per_second);
    let mut state = RewrapState::new(RETIRE_GRACE);
    loop {
        let started = std::time::Instant::now();
        let wait = match svc.rewrap_pass(batch, &mut state).await {
            Ok(Pass::Worked(n)) => Duration::from_secs_f64(n as f64 / per_second as f64)
                .saturating_sub(started.elapsed()),
            Ok(Pass::Idle) => Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %e, "re-wrap pass failed; retrying");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = svc.rotation.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
