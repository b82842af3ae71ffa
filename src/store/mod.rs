//! Persistence: one schema on SQLite (embedded default, WAL) and PostgreSQL.
//!
//! The store only ever sees wrapped keys. Every mutation goes through a [`WriteTx`],
//! whose mutating methods also append the matching row to the change log in the same
//! transaction: a change without its log row cannot be written.
//!
//! Queries are runtime-checked through sqlx's `Any` driver, so the same code runs on
//! both backends; the test suite runs every store test on both.

pub mod audit;
mod audit_replicate;
mod authz;
mod changelog;
mod cluster;
mod credentials;
mod drives;
mod endpoints;
mod master_key_holders;
mod master_key_shares;
pub mod merge;
mod multi_row;
mod objects;
mod pool;
mod quorum;
mod replay;
pub mod replicate;
pub mod rewrap;
mod transfer_partners;
mod users;

pub use audit_replicate::AuditApplyReport;
pub use authz::{GroupRecord, ManageGrant, NewWalletObject, WalletGrant, WalletRecord};
pub use changelog::{Change, ChangeOp};
pub use cluster::{ClusterNode, NodeMember};
pub use credentials::{Credential, MasterKeyRecord, NodeAgentAddr, NodeRecord};
pub use drives::{DataUnitKeyRecord, DataUnitLookup, DataUnitRecord, KeyPolicyRecord, KeyUse};
pub use endpoints::{EndpointFilter, EndpointRecord, EndpointState};
pub use master_key_holders::{state_rank, MasterKeyHolder};
pub use master_key_shares::MasterKeyShareRecord;
pub use objects::{ListFilter, StoredObject, Visibility};
pub use pool::PoolKeyRecord;
pub use quorum::QuorumRequestRecord;
pub use replicate::{ApplyReport, VersionVector};
pub use rewrap::{WrappedCounts, WrappedRow, WrappedTable};
pub use transfer_partners::TransferPartnerRecord;
pub use users::UserRecord;

/// The schema version: the number of the last migration (`migrations/*/NNNN_*.sql`).
/// Backups record it.
pub const SCHEMA_VERSION: u32 = 9;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite file, WAL mode.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Store failures. Messages never include key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row could not be decoded.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The row changed between read and write (another writer won); retry.
    #[error("concurrent modification of {0}")]
    Conflict(String),
    /// The store has not been initialized (`clavisd init`).
    #[error("the database is not initialized; run `clavisd init` first")]
    NotInitialized,
    /// The store was initialized already.
    #[error("the database is already initialized (replica {0})")]
    AlreadyInitialized(String),
    /// The URL is not usable.
    #[error("invalid store URL: {0}")]
    Url(String),
    /// This node is read-only; the message names where writes go.
    #[error("this node is read-only; send changes to {0}")]
    ReadOnly(String),
}

/// A connection pool to the node's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; queueing writers here instead of in SQLite's busy
    /// handler keeps latency fair and avoids SQLITE_BUSY on lock upgrades.
    write_gate: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// Notified after every commit that added change-log rows.
    changed: std::sync::Arc<tokio::sync::Notify>,
    /// Set on read-only nodes: where writes should go instead.
    read_only: std::sync::Arc<std::sync::OnceLock<String>>,
}

static DRIVERS: std::sync::Once = std::sync::Once::new();

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), creating a SQLite file
    /// if it does not exist, and runs pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(
                "must start with sqlite:// or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let opts = AnyConnectOptions::from_str(&url).map_err(|e| StoreError::Url(e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // A ping before each transaction guards against a server that went away;
            // a SQLite file cannot, and the ping is a round trip to its thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: a commit is on disk before the request is acknowledged.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        let store = Store {
            pool,
            backend,
            write_gate: (backend == Backend::Sqlite)
                .then(|| std::sync::Arc::new(tokio::sync::Mutex::new(()))),
            changed: std::sync::Arc::new(tokio::sync::Notify::new()),
            read_only: std::sync::Arc::new(std::sync::OnceLock::new()),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates the replica identity; fails if the database already has one.
    pub async fn init_replica(&self, replica_id: &str, now: i64) -> Result<(), StoreError> {
        if let Some(existing) = self.replica_id_opt().await? {
            return Err(StoreError::AlreadyInitialized(existing));
        }
        sqlx::query("INSERT INTO replica_meta (singleton, replica_id, last_seq, created_at) VALUES (1, $1, 0, $2)")
            .bind(replica_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// This database's replica ID, or `None` before `init`.
    pub async fn replica_id_opt(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT replica_id FROM replica_meta WHERE singleton = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// This database's replica ID.
    pub async fn replica_id(&self) -> Result<String, StoreError> {
        self.replica_id_opt()
            .await?
            .ok_or(StoreError::NotInitialized)
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so it can never fail later on a lock upgrade.
    pub async fn begin_write(&self, node_id: &str) -> Result<WriteTx, StoreError> {
        let gate = match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            node_id: node_id.to_owned(),
            replica_id: None,
            seq: None,
            queued_changes: Vec::new(),
            replaying: false,
            changed: self.changed.clone(),
            read_only: self.read_only.get().cloned(),
            postgres: self.backend == Backend::Postgres,
            _gate: gate,
        })
    }

    /// Makes this node read-only: from now on every change a request would log is
    /// refused with [`StoreError::ReadOnly`] naming `writable` (replication still
    /// applies peers' changes, and node-local records such as the audit trail are
    /// still written).
    pub fn set_read_only(&self, writable: String) {
        let _ = self.read_only.set(writable);
    }

    /// True on a read-only node.
    pub fn is_read_only(&self) -> bool {
        self.read_only.get().is_some()
    }

    /// Notified after each commit that added change-log rows on this node.
    pub fn changed(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// An open write transaction. Dropping it without [`WriteTx::commit`] rolls back.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    node_id: String,
    replica_id: Option<String>,
    seq: Option<changelog::SeqReservation>,
    /// Change-log rows not written yet ([`WriteTx::log_changes`]).
    queued_changes: Vec<changelog::NewChange>,
    /// Set while a peer's change is replayed: store methods then log nothing.
    replaying: bool,
    changed: std::sync::Arc<tokio::sync::Notify>,
    /// On a read-only node: where writes go (every logged change is refused).
    read_only: Option<String>,
    /// On PostgreSQL (row locks where SQLite's single writer needs none).
    postgres: bool,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits; when this returns `Ok`, the change is durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.flush_changes().await?;
        self.flush_seq().await?;
        let logged = self.logged_changes() || self.replaying;
        let changed = self.changed.clone();
        self.tx.commit().await?;
        if logged {
            // Wakes replication streams waiting for news (on this node; nodes sharing
            // the database notice by polling).
            changed.notify_waiters();
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Waits until no other transaction holds `lock`, then holds it until this one
    /// ends: for a check-then-write that row locks cannot cover (rows that do not
    /// exist yet). On PostgreSQL a transaction-scoped advisory lock; on SQLite nothing
    /// to do, as the write transaction already excludes every other writer.
    pub async fn serialize_on(&mut self, lock: TxLock) -> Result<(), StoreError> {
        if self.postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock.key())
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// Work that runs one transaction at a time ([`WriteTx::serialize_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxLock {
    /// Importing a transfer file: which keys and data units are new is decided under it.
    TransferImport,
}

impl TxLock {
    /// The advisory lock key: a fixed prefix ("CLVS") so as not to meet another
    /// application's keys on a shared server, and the lock's number.
    fn key(self) -> i64 {
        const PREFIX: i64 = 0x434c_5653 << 32;
        match self {
            TxLock::TransferImport => PREFIX | 1,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Backups carry `SCHEMA_VERSION`; it must move with every new migration.
    #[test]
    fn schema_version_is_the_last_migration() {
        for dialect in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let last = std::fs::read_dir(&dir)
                .expect("migrations directory")
                .filter_map(|e| e.ok()?.file_name().to_str()?.get(..4)?.parse::<u32>().ok())
                .max();
            assert_eq!(last, Some(super::SCHEMA_VERSION), "{dialect}");
        }
    }
}
