//! The key pool (SPEC 3): keys generated and wrapped ahead of time, per node and key
//! group, so a drive's request for a new key never waits for the HSM to generate one.
//!
//! Taking a key is part of the transaction that turns it into a managed object
//! (`service::drives`); this module owns the other half: the maintainer that refills
//! each key group's pool from the root of trust when it falls below its low-water
//! mark, at a bounded rate, and the counters the node reports.
//!
//! Delivery costs one unwrap in the root of trust per key handed out. We chose that
//! over keeping a set of unwrapped keys in memory: plaintext keys then exist only for
//! the moment of a request, and a SoftHSM2 unwrap (about 30 µs with the master key as
//! a token object) is far below a drive's tolerance for a key request.

mod groups;
mod stats;

pub use groups::{GroupCache, KeyGroup};
pub use stats::{PoolReport, PoolStats};

use crate::keys::{new_object_id, now_secs, KeyPolicy};
use crate::rot::RootOfTrust;
use crate::store::{PoolKeyRecord, Store, StoreError};
use sha2::Digest;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How big each pool is and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Ready keys per key group on this node.
    pub size: u64,
    /// Refill starts when fewer keys than this are ready, and fills up to `size`.
    pub low_water: u64,
    /// Most keys generated per second (so refills never starve requests of the HSM).
    pub refill_per_second: u64,
    /// Keys generated and committed together.
    pub batch: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            size: 1000,
            low_water: 800,
            refill_per_second: 2000,
            batch: 100,
        }
    }
}

/// The pool's shared state on a node: configuration, counters, and the signal that
/// wakes the maintainer when keys are taken.
#[derive(Debug, Default)]
pub struct Pool {
    config: std::sync::RwLock<PoolConfig>,
    /// Counters for status.
    pub stats: PoolStats,
    /// Drive agents' key groups, so requests skip the endpoint and policy reads.
    pub groups: GroupCache,
    wake: Notify,
}

impl Pool {
    /// The configuration in force.
    pub fn config(&self) -> PoolConfig {
        self.config.read().map(|c| *c).unwrap_or_default()
    }

    /// Replaces the configuration (at node start).
    pub fn configure(&self, c: PoolConfig) {
        if let Ok(mut g) = self.config.write() {
            *g = c;
        }
        self.wake.notify_one();
    }

    /// Keys were taken (or a key group appeared): let the maintainer look.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }
}

/// Everything a refill needs; cheap to clone.
#[derive(Clone)]
pub struct Refiller {
    /// The node's store.
    pub store: Store,
    /// The root of trust (random and wrap).
    pub rot: Arc<dyn RootOfTrust>,
    /// The master key new pool keys are wrapped under.
    pub master_key: crate::rot::ActiveMasterKey,
    /// This node.
    pub node_id: String,
    /// Shared pool state.
    pub pool: Arc<Pool>,
}

impl Refiller {
    /// Brings every key group's pool that is below its low-water mark back to full,
    /// at most `refill_per_second` keys a second. Returns the keys generated.
    pub async fn refill_all(
        &self,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<u64, StoreError> {
        let cfg = self.pool.config();
        let mut made = 0;
        for policy in self.store.key_policies().await? {
            if *stop.borrow() {
                break;
            }
            let Some(p) = to_policy(&policy) else {
                tracing::warn!(wallet = %policy.wallet_id, "key policy with unknown algorithm; its pool is not refilled");
                continue;
            };
            let ready = u64::try_from(
                self.store
                    .pool_level(&self.node_id, &policy.wallet_id)
                    .await?,
            )
            .unwrap_or(0);
            if ready >= cfg.low_water {
                if self.pool.stats.recovered(&policy.wallet_id) {
                    tracing::info!(wallet = %policy.wallet_id, ready, "key pool recovered");
                }
                continue;
            }
            let filled = self
                .fill(
                    &policy.wallet_id,
                    &p,
                    cfg.size.saturating_sub(ready),
                    &cfg,
                    stop,
                )
                .await?;
            made += filled;
            // A pool that at least doubled: the database's statistics of it are stale.
            if filled > 0 && filled >= ready {
                if let Err(e) = self.store.refresh_pool_statistics().await {
                    tracing::warn!(error = %e, "refreshing the key pool's statistics failed; key takes may be slow until the database samples the table itself");
                }
            }
            if self.pool.stats.recovered(&policy.wallet_id) {
                tracing::info!(wallet = %policy.wallet_id, "key pool recovered");
            }
        }
        Ok(made)
    }

    async fn fill(
        &self,
        wallet_id: &str,
        policy: &KeyPolicy,
        mut missing: u64,
        cfg: &PoolConfig,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<u64, StoreError> {
        let mut made = 0;
        let rate = cfg.refill_per_second.max(1);
        while missing > 0 && !*stop.borrow() {
            let n = missing.min(cfg.batch.max(1));
            let started = Instant::now();
            let keys = match self.generate(wallet_id, policy, n).await {
                Ok(k) => k,
                Err(e) => {
                    tracing::error!(wallet = %wallet_id, error = %e, "key pool refill failed in the root of trust");
                    return Ok(made);
                }
            };
            let mut tx = self.store.begin_write(&self.node_id).await?;
            tx.add_pool_keys(&keys).await?;
            tx.commit().await?;
            self.pool.stats.refilled(wallet_id, keys.len());
            made += n;
            missing -= n;
            // Pace to the rate: n keys may take n / rate seconds.
            let budget = Duration::from_secs_f64(n as f64 / rate as f64);
            if let Some(rest) = budget.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
        Ok(made)
    }

    /// Generates and wraps `n` keys in the root of trust, off the async workers.
    async fn generate(
        &self,
        wallet_id: &str,
        policy: &KeyPolicy,
        n: u64,
    ) -> Result<Vec<PoolKeyRecord>, String> {
        let (rot, mk, node, wallet) = (
            self.rot.clone(),
            self.master_key.get(),
            self.node_id.clone(),
            wallet_id.to_owned(),
        );
        let (alg, len) = (policy.algorithm, policy.length);
        tokio::task::spawn_blocking(move || {
            let now = now_secs();
            (0..n)
                .map(|_| {
                    let id = new_object_id();
                    let material = rot.random(len as usize / 8).map_err(|e| e.to_string())?;
                    let wrapped = rot.wrap(&mk, &id, &material).map_err(|e| e.to_string())?;
                    Ok(PoolKeyRecord {
                        digest_sha256: hex::encode(sha2::Sha256::digest(material.expose_secret())),
                        id,
                        node_id: node.clone(),
                        wallet_id: wallet.clone(),
                        algorithm: alg.as_str().to_owned(),
                        length: i64::from(len),
                        wrapped: wrapped.to_bytes(),
                        master_key_id: mk.0.clone(),
                        created_at: now,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| format!("refill task failed: {e}"))?
    }
}

/// The service-level policy of a stored one, if its algorithm is known.
pub fn to_policy(r: &crate::store::KeyPolicyRecord) -> Option<KeyPolicy> {
    Some(KeyPolicy {
        algorithm: crate::keys::Algorithm::parse(&r.algorithm)?,
        length: u32::try_from(r.length).ok()?,
        encryption_period_secs: r.encryption_period,
        decryption_period_secs: r.decryption_period,
        exportable: r.exportable,
    })
}

/// Runs the maintainer until `stop` turns true: refills after every take (nudge) and
/// at least every `tick`.
pub async fn run_maintainer(
    refiller: Refiller,
    tick: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        match refiller.refill_all(&stop).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(keys = n, "key pool refilled"),
            Err(e) => tracing::error!(error = %e, "key pool refill failed"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = refiller.pool.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}
