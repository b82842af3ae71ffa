//! The change log: one row per change, numbered gap-free per origin replica.
//!
//! The sequence comes from `replica_meta.last_seq`, incremented inside the writing
//! transaction. The row lock this takes serializes writers of one replica (on
//! PostgreSQL, of every node sharing the database) for the length of a commit; in
//! exchange the numbering has no gaps and commits in order, so a peer that holds
//! sequence N from an origin holds everything up to N, and its cursor is one number.

use super::multi_row::MULTI_ROWS;
use super::{Store, StoreError, WriteTx};
use sqlx::Row;

const CHANGE_COLUMNS: &str =
    "origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at";

/// What a change did to its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// The entity's new full state is in the payload.
    Upsert,
    /// The entity was removed (a tombstone).
    Delete,
}

impl ChangeOp {
    /// Stable name stored in the change log.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Upsert => "upsert",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One change-log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Replica the change was made on.
    pub origin: String,
    /// Gap-free sequence within the origin.
    pub seq: i64,
    /// Hybrid logical clock of the change.
    pub hlc: i64,
    /// Node that made it.
    pub node_id: String,
    /// Entity kind (`object`, `master_key`, `node`, ...).
    pub entity: String,
    /// Entity ID.
    pub entity_id: String,
    /// Upsert or delete.
    pub op: ChangeOp,
    /// The entity's new state (JSON; keys appear only wrapped).
    pub payload: Vec<u8>,
    /// Wall-clock time, Unix seconds.
    pub created_at: i64,
}

/// A change to log with [`WriteTx::log_changes`].
pub(crate) struct NewChange {
    pub hlc: i64,
    pub entity: &'static str,
    pub entity_id: String,
    pub op: ChangeOp,
    pub payload: Vec<u8>,
    pub created_at: i64,
}

/// The change-log sequence a write transaction has reserved so far.
pub(crate) struct SeqReservation {
    origin: String,
    /// Last sequence handed out in this transaction.
    last: i64,
    /// True when `last` moved past what `replica_meta` holds (written at commit).
    pending: bool,
}

impl WriteTx {
    /// Appends a change-log row in this transaction and returns its sequence.
    ///
    /// The first change of a transaction takes the counter row's lock
    /// (`UPDATE ... RETURNING`); later ones count on in memory and [`WriteTx::commit`]
    /// writes the final value back, so a batch of N changes costs one counter update,
    /// not N. The lock is held to the commit either way, which keeps the numbering
    /// gap-free and in commit order.
    ///
    /// While replaying a change received from a peer ([`WriteTx::replaying`]) nothing is
    /// logged here: the replication applier records the incoming row itself, under the
    /// origin and sequence it came with.
    pub(crate) async fn log_change(
        &mut self,
        hlc: i64,
        entity: &str,
        entity_id: &str,
        op: ChangeOp,
        payload: &[u8],
        now: i64,
    ) -> Result<i64, StoreError> {
        if self.replaying {
            return Ok(0);
        }
        // A read-only node still reports its own master-key holdings: rotation waits
        // for every member's.
        if let Some(w) = self
            .read_only
            .as_ref()
            .filter(|_| entity != "master_key_holder")
        {
            return Err(StoreError::ReadOnly(w.clone()));
        }
        // Rows queued before this one come first.
        self.flush_changes().await?;
        let (origin, seq) = self.reserve_seqs(1).await?;
        sqlx::query(
            "INSERT INTO change_log (origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&origin)
        .bind(seq)
        .bind(hlc)
        .bind(self.node_id.clone())
        .bind(entity)
        .bind(entity_id)
        .bind(op.as_str())
        .bind(payload.to_vec())
        .bind(now)
        .execute(self.conn())
        .await?;
        self.replica_id = Some(origin);
        Ok(seq)
    }

    /// Queues change-log rows, numbered in the order given (see [`WriteTx::log_change`]).
    /// They are written in one multi-row statement with the rest of the transaction's
    /// queued rows, before the next single [`WriteTx::log_change`] or at commit, so a
    /// batch that logs several kinds of rows pays one round trip for them all.
    pub(crate) fn log_changes(&mut self, changes: Vec<NewChange>) -> Result<(), StoreError> {
        if self.replaying || changes.is_empty() {
            return Ok(());
        }
        if let Some(w) = &self.read_only {
            return Err(StoreError::ReadOnly(w.clone()));
        }
        self.queued_changes.extend(changes);
        Ok(())
    }

    /// Writes the queued change-log rows.
    pub(crate) async fn flush_changes(&mut self) -> Result<(), StoreError> {
        if self.queued_changes.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.queued_changes);
        let n = i64::try_from(changes.len()).unwrap_or(i64::MAX);
        let (origin, first) = self.reserve_seqs(n).await?;
        let mut seq = first;
        for chunk in changes.chunks(MULTI_ROWS) {
            let sql = self.multi_row_insert("change_log", CHANGE_COLUMNS, 9, chunk.len());
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(origin.clone())
                    .bind(seq)
                    .bind(c.hlc)
                    .bind(self.node_id.clone())
                    .bind(c.entity)
                    .bind(c.entity_id.clone())
                    .bind(c.op.as_str())
                    .bind(c.payload.clone())
                    .bind(c.created_at);
                seq += 1;
            }
            q.execute(self.conn()).await?;
        }
        self.replica_id = Some(origin);
        Ok(())
    }

    /// Reserves `n` consecutive sequences; returns the origin and the first of them.
    async fn reserve_seqs(&mut self, n: i64) -> Result<(String, i64), StoreError> {
        if let Some(r) = self.seq.as_mut() {
            let first = r.last + 1;
            r.last += n;
            r.pending = true;
            return Ok((r.origin.clone(), first));
        }
        let row = sqlx::query(
            "UPDATE replica_meta SET last_seq = last_seq + $1 WHERE singleton = 1 RETURNING last_seq, replica_id",
        )
        .bind(n)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotInitialized)?;
        let last: i64 = row.try_get(0)?;
        let origin: String = row.try_get(1)?;
        self.seq = Some(SeqReservation {
            origin: origin.clone(),
            last,
            pending: false,
        });
        Ok((origin, last - n + 1))
    }

    /// Writes the reserved sequence back to `replica_meta` (called by commit).
    pub(crate) async fn flush_seq(&mut self) -> Result<(), StoreError> {
        let last = match &self.seq {
            Some(r) if r.pending => r.last,
            _ => return Ok(()),
        };
        sqlx::query("UPDATE replica_meta SET last_seq = $1 WHERE singleton = 1")
            .bind(last)
            .execute(self.conn())
            .await?;
        if let Some(r) = self.seq.as_mut() {
            r.pending = false;
        }
        Ok(())
    }

    /// True when this transaction logged at least one local change (call after
    /// [`WriteTx::flush_changes`]).
    pub(crate) fn logged_changes(&self) -> bool {
        self.seq.is_some()
    }
}

impl Store {
    /// Changes from `origin` with sequence greater than `after`, in order, at most `limit`.
    pub async fn changes_since(
        &self,
        origin: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at \
             FROM change_log WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(origin)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                let op: String = r.try_get(6)?;
                let op = match op.as_str() {
                    "upsert" => ChangeOp::Upsert,
                    "delete" => ChangeOp::Delete,
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "change_log",
                            detail: format!("unknown op {other:?}"),
                        })
                    }
                };
                Ok(Change {
                    origin: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    hlc: r.try_get(2)?,
                    node_id: r.try_get(3)?,
                    entity: r.try_get(4)?,
                    entity_id: r.try_get(5)?,
                    op,
                    payload: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// The largest HLC in the change log (own and received changes): a node's clock
    /// starts past it, so a node whose wall clock stepped back still stamps its new
    /// writes later than its old ones.
    pub async fn max_hlc(&self) -> Result<i64, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as("SELECT MAX(hlc) FROM change_log")
            .fetch_one(self.pool())
            .await?;
        Ok(row.0.unwrap_or(0))
    }

    /// The last sequence this replica has issued.
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT last_seq FROM replica_meta WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| r.0).ok_or(StoreError::NotInitialized)
    }
}
