//! The audit trail's tables: records chained per origin, chain heads, and signed
//! checkpoints (see `crate::audit` for what the chain proves).
//!
//! Appending locks the origin's head row (`UPDATE ... RETURNING`, like the change log's
//! sequence), so the numbering is gap-free, commits in order, and two nodes sharing a
//! PostgreSQL database never fork a chain. A record is appended in the transaction of
//! the change it records ([`WriteTx::append_audit`]); events that change nothing else
//! (reads, denials, logins) use [`Store::append_audit`].

use super::{Backend, Store, StoreError, WriteTx};
use crate::audit::chain::{SanitizedEvent, GENESIS_HASH, HASH_LEN};
use crate::audit::checkpoint::{hex_bytes, Checkpoint};
use crate::audit::event::AuditEvent;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One stored audit record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// Origin replica (whose chain this is).
    pub origin: String,
    /// Position in the origin's chain, from 1, gap-free.
    pub seq: i64,
    /// Wall-clock time, Unix milliseconds.
    pub at_ms: i64,
    /// Node that wrote it.
    pub node_id: String,
    /// Who acted.
    pub actor: String,
    /// `user`, `endpoint` or `system`.
    pub actor_kind: String,
    /// Dotted action name.
    pub action: String,
    /// Object acted on.
    pub object: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// Free text.
    pub detail: Option<String>,
    /// Hash of the previous record of the origin (zeros for the first), hex in JSON.
    #[serde(with = "hex_vec")]
    pub prev_hash: Vec<u8>,
    /// This record's chain hash, hex in JSON.
    #[serde(with = "hex_vec")]
    pub hash: Vec<u8>,
}

mod hex_vec {
    pub use crate::audit::checkpoint::hex_bytes::serialize;
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

impl AuditRecord {
    /// The fields the chain hash covers.
    pub fn fields(&self) -> crate::audit::chain::RecordFields<'_> {
        crate::audit::chain::RecordFields {
            origin: &self.origin,
            seq: self.seq,
            at_ms: self.at_ms,
            node_id: &self.node_id,
            actor: &self.actor,
            actor_kind: &self.actor_kind,
            action: &self.action,
            object: self.object.as_deref(),
            source: self.source.as_deref(),
            outcome: &self.outcome,
            detail: self.detail.as_deref(),
        }
    }
}

/// The last record of an origin's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditHead {
    /// Origin replica.
    pub origin: String,
    /// Seq of the last record (0 before the first).
    pub seq: i64,
    /// Its hash (zeros before the first).
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
}

/// Which records [`Store::audit_records`] returns. Every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this origin.
    pub origin: Option<String>,
    /// Only records after this seq (paging within one origin).
    pub after_seq: Option<i64>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only records at or after this time, Unix milliseconds.
    pub since_ms: Option<i64>,
    /// Only records before this time, Unix milliseconds.
    pub until_ms: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// Seq range and count of the records an origin has in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSpan {
    /// Origin replica.
    pub origin: String,
    /// Lowest seq present.
    pub min_seq: i64,
    /// Highest seq present.
    pub max_seq: i64,
    /// Records present.
    pub count: i64,
}

/// A record row borrowed from the database driver's buffers: verification hashes
/// millions of these without copying their strings.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// The hashed fields.
    pub fields: crate::audit::chain::RecordFields<'a>,
    /// Stored link to the previous record.
    pub prev_hash: &'a [u8],
    /// Stored hash.
    pub hash: &'a [u8],
}

pub(super) const RECORD_COLUMNS: &str =
    "origin, seq, at_ms, node_id, actor, actor_kind, action, object, source, outcome, detail, prev_hash, hash";

pub(super) fn record_from_row(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        origin: r.try_get(0)?,
        seq: r.try_get(1)?,
        at_ms: r.try_get(2)?,
        node_id: r.try_get(3)?,
        actor: r.try_get(4)?,
        actor_kind: r.try_get(5)?,
        action: r.try_get(6)?,
        object: r.try_get(7)?,
        source: r.try_get(8)?,
        outcome: r.try_get(9)?,
        detail: r.try_get(10)?,
        prev_hash: r.try_get(11)?,
        hash: r.try_get(12)?,
    })
}

fn checkpoint_from_row(r: &AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        origin: r.try_get(0)?,
        seq: r.try_get(1)?,
        hash: r.try_get(2)?,
        at_ms: r.try_get(3)?,
        kind: r.try_get(4)?,
        signer_node: r.try_get(5)?,
        public_key: r.try_get(6)?,
        signature: r.try_get(7)?,
    })
}

const CHECKPOINT_COLUMNS: &str =
    "origin, seq, hash, at_ms, kind, signer_node, public_key, signature";

/// Rows per multi-row INSERT of a batch. With numbered parameters sqlx-sqlite bound
/// them in quadratic time (measured: 500 rows per statement 10k records/s, 20 rows
/// 103k/s); `multi_row_insert` gives SQLite plain `?`, so batches can be large.
const BATCH_ROWS: usize = super::multi_row::MULTI_ROWS;

impl WriteTx {
    async fn audit_origin(&mut self) -> Result<String, StoreError> {
        if let Some(o) = &self.replica_id {
            return Ok(o.clone());
        }
        let row: Option<(String,)> =
            sqlx::query_as("SELECT replica_id FROM replica_meta WHERE singleton = 1")
                .fetch_optional(self.conn())
                .await?;
        let origin = row.map(|r| r.0).ok_or(StoreError::NotInitialized)?;
        self.replica_id = Some(origin.clone());
        Ok(origin)
    }

    /// Reserves `n` seqs on this replica's chain: locks the head row (creating it on
    /// first use) and returns the origin, the first reserved seq and the hash before it.
    async fn reserve_audit_seqs(
        &mut self,
        n: i64,
    ) -> Result<(String, i64, [u8; HASH_LEN]), StoreError> {
        let origin = self.audit_origin().await?;
        for _ in 0..2 {
            let row = sqlx::query(
                "UPDATE audit_heads SET seq = seq + $1 WHERE origin = $2 RETURNING seq, hash",
            )
            .bind(n)
            .bind(&origin)
            .fetch_optional(self.conn())
            .await?;
            if let Some(row) = row {
                let last: i64 = row.try_get(0)?;
                let prev: Vec<u8> = row.try_get(1)?;
                let prev: [u8; HASH_LEN] = prev.try_into().map_err(|_| StoreError::Corrupt {
                    table: "audit_heads",
                    detail: format!("head hash of origin {origin} is not {HASH_LEN} bytes"),
                })?;
                return Ok((origin, last - n + 1, prev));
            }
            // First record of this origin. ON CONFLICT: another node sharing the
            // database may create the row at the same moment; then we use theirs.
            sqlx::query(
                "INSERT INTO audit_heads (origin, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (origin) DO NOTHING",
            )
            .bind(&origin)
            .bind(GENESIS_HASH.to_vec())
            .execute(self.conn())
            .await?;
        }
        Err(StoreError::Conflict(format!(
            "audit head of origin {origin}"
        )))
    }

    /// Appends one audit record to this replica's chain in this transaction (so it
    /// commits or rolls back with the change it records) and returns its seq. The event
    /// is sanitized first: see [`SanitizedEvent`].
    pub async fn append_audit(&mut self, ev: &AuditEvent, at_ms: i64) -> Result<i64, StoreError> {
        let seqs = self
            .append_audit_batch(std::slice::from_ref(ev), at_ms)
            .await?;
        Ok(seqs.start)
    }

    /// Appends several records at once (one head update, multi-row inserts); returns
    /// their seqs. Used for bulk loads, and wherever one request records several events.
    pub async fn append_audit_batch(
        &mut self,
        events: &[AuditEvent],
        at_ms: i64,
    ) -> Result<std::ops::Range<i64>, StoreError> {
        let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
        if n == 0 {
            return Ok(0..0);
        }
        // Queued change-log rows go first: their sequence reservation also tells this
        // transaction its replica ID, which saves the audit chain a look-up.
        self.flush_changes().await?;
        let (origin, first, mut prev) = self.reserve_audit_seqs(n).await?;
        let node_id =
            crate::audit::chain::sanitize(&self.node_id, crate::audit::chain::MAX_NODE_ID);
        let mut seq = first;
        for chunk in events.chunks(BATCH_ROWS) {
            let sql = self.multi_row_insert("audit_records", RECORD_COLUMNS, 13, chunk.len());
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ev in chunk {
                let s = SanitizedEvent::new(ev);
                let hash = s.fields(&origin, seq, at_ms, &node_id).hash(&prev);
                q = q
                    .bind(origin.clone())
                    .bind(seq)
                    .bind(at_ms)
                    .bind(node_id.clone())
                    .bind(s.actor)
                    .bind(s.actor_kind)
                    .bind(s.action)
                    .bind(s.object)
                    .bind(s.source)
                    .bind(s.outcome)
                    .bind(s.detail)
                    .bind(prev.to_vec())
                    .bind(hash.to_vec());
                prev = hash;
                seq += 1;
            }
            q.execute(self.conn()).await?;
        }
        sqlx::query("UPDATE audit_heads SET hash = $1 WHERE origin = $2")
            .bind(prev.to_vec())
            .bind(&origin)
            .execute(self.conn())
            .await?;
        Ok(first..seq)
    }

    /// This replica's chain head as seen by this transaction (after locking nothing;
    /// on SQLite the write transaction already excludes other writers).
    pub async fn audit_local_head(&mut self) -> Result<AuditHead, StoreError> {
        let origin = self.audit_origin().await?;
        let row = sqlx::query("SELECT seq, hash FROM audit_heads WHERE origin = $1")
            .bind(&origin)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => AuditHead {
                origin,
                seq: r.try_get(0)?,
                hash: r.try_get(1)?,
            },
            None => AuditHead {
                origin,
                seq: 0,
                hash: GENESIS_HASH.to_vec(),
            },
        })
    }

    /// Stores a checkpoint; false when one of that origin, seq and kind exists already.
    pub async fn insert_audit_checkpoint(&mut self, cp: &Checkpoint) -> Result<bool, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (origin, seq, kind) DO NOTHING"
        )))
        .bind(&cp.origin)
        .bind(cp.seq)
        .bind(cp.hash.clone())
        .bind(cp.at_ms)
        .bind(&cp.kind)
        .bind(&cp.signer_node)
        .bind(cp.public_key.clone())
        .bind(cp.signature.clone())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// True when `origin` has a checkpoint of `kind` at `seq`.
    pub async fn audit_checkpoint_exists(
        &mut self,
        origin: &str,
        seq: i64,
        kind: &str,
    ) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM audit_checkpoints WHERE origin = $1 AND seq = $2 AND kind = $3",
        )
        .bind(origin)
        .bind(seq)
        .bind(kind)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    /// Origins that have records, with their heads (for deletion).
    pub async fn audit_heads(&mut self) -> Result<Vec<AuditHead>, StoreError> {
        let rows = sqlx::query("SELECT origin, seq, hash FROM audit_heads ORDER BY origin")
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditHead {
                    origin: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    hash: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The last record of `origin` that may be deleted for a cut at `before_ms`: the end
    /// of the longest prefix of the chain whose records are all older than the cut (a
    /// record stamped earlier behind a later one, after a clock step, stays). Returns
    /// its seq and hash, or `None` when nothing would be deleted.
    pub async fn audit_deletion_point(
        &mut self,
        origin: &str,
        head_seq: i64,
        before_ms: i64,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let newer: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT MIN(seq) FROM audit_records WHERE origin = $1 AND at_ms >= $2")
                .bind(origin)
                .bind(before_ms)
                .fetch_optional(self.conn())
                .await?;
        let last = match newer.and_then(|r| r.0) {
            Some(s) => s - 1,
            None => head_seq,
        };
        let row = sqlx::query(
            "SELECT seq, hash FROM audit_records WHERE origin = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(origin)
        .bind(last)
        .fetch_optional(self.conn())
        .await?;
        match row {
            Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?))),
            None => Ok(None),
        }
    }

    /// Deletes the records of `origin` up to and including `upto_seq`; returns how many.
    pub async fn delete_audit_upto(
        &mut self,
        origin: &str,
        upto_seq: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_records WHERE origin = $1 AND seq <= $2")
            .bind(origin)
            .bind(upto_seq)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Appends one audit record in a transaction of its own (for events that change
    /// nothing else: reads, denials, logins); returns its seq.
    pub async fn append_audit(
        &self,
        node_id: &str,
        ev: &AuditEvent,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write(node_id).await?;
        let seq = tx.append_audit(ev, at_ms).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Records matching `filter`, by origin then seq.
    pub async fn audit_records(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        // Only the filters that are set are named, so the planner can use the primary
        // key for origin/seq paging and the time index for ranges.
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM audit_records WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.origin.is_some() {
            sql.push_str(&format!(" AND origin = {}", next()));
        }
        if f.after_seq.is_some() {
            sql.push_str(&format!(" AND seq > {}", next()));
        }
        if f.action.is_some() {
            sql.push_str(&format!(" AND action = {}", next()));
        }
        if f.actor.is_some() {
            sql.push_str(&format!(" AND actor = {}", next()));
        }
        if f.since_ms.is_some() {
            sql.push_str(&format!(" AND at_ms >= {}", next()));
        }
        if f.until_ms.is_some() {
            sql.push_str(&format!(" AND at_ms < {}", next()));
        }
        sql.push_str(&format!(" ORDER BY origin, seq LIMIT {}", next()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(v) = &f.origin {
            q = q.bind(v.clone());
        }
        if let Some(v) = f.after_seq {
            q = q.bind(v);
        }
        if let Some(v) = &f.action {
            q = q.bind(v.clone());
        }
        if let Some(v) = &f.actor {
            q = q.bind(v.clone());
        }
        if let Some(v) = f.since_ms {
            q = q.bind(v);
        }
        if let Some(v) = f.until_ms {
            q = q.bind(v);
        }
        let rows = q.bind(f.limit).fetch_all(self.pool()).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Origins that have records, in order.
    pub async fn audit_origins(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT origin FROM audit_records ORDER BY origin")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every origin's chain head.
    pub async fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError> {
        let mut reader = self.audit_reader().await?;
        reader.heads().await
    }

    /// Checkpoints of `origin`, by seq.
    pub async fn audit_checkpoints(&self, origin: &str) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE origin = $1 ORDER BY seq, kind"
        )))
        .bind(origin)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// A read-only snapshot of the audit tables for verification: every page read
    /// through it sees the same state, whatever is appended or deleted meanwhile.
    pub async fn audit_reader(&self) -> Result<AuditReader, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(AuditReader { tx })
    }
}

/// A read snapshot of the audit tables (see [`Store::audit_reader`]). Dropping it ends
/// the snapshot.
pub struct AuditReader {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl AuditReader {
    /// Every origin's head, by origin.
    pub async fn heads(&mut self) -> Result<Vec<AuditHead>, StoreError> {
        let rows = sqlx::query("SELECT origin, seq, hash FROM audit_heads ORDER BY origin")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditHead {
                    origin: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    hash: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The origins that have records, with their seq ranges and counts.
    pub async fn spans(&mut self) -> Result<Vec<OriginSpan>, StoreError> {
        let rows = sqlx::query(
            "SELECT origin, MIN(seq), MAX(seq), COUNT(*) FROM audit_records GROUP BY origin ORDER BY origin",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OriginSpan {
                    origin: r.try_get(0)?,
                    min_seq: r.try_get(1)?,
                    max_seq: r.try_get(2)?,
                    count: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Calls `f` on up to `limit` records of `origin` after `after_seq`, in seq order;
    /// returns how many it read. `f` returning false stops the page early.
    pub async fn records_page(
        &mut self,
        origin: &str,
        after_seq: i64,
        limit: i64,
        mut f: impl FnMut(RecordRef<'_>) -> bool,
    ) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, node_id, actor, actor_kind, action, object, source, outcome, detail, prev_hash, hash \
             FROM audit_records WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(origin)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        for r in &rows {
            let rec = RecordRef {
                fields: crate::audit::chain::RecordFields {
                    origin,
                    seq: r.try_get(0)?,
                    at_ms: r.try_get(1)?,
                    node_id: r.try_get(2)?,
                    actor: r.try_get(3)?,
                    actor_kind: r.try_get(4)?,
                    action: r.try_get(5)?,
                    object: r.try_get(6)?,
                    source: r.try_get(7)?,
                    outcome: r.try_get(8)?,
                    detail: r.try_get(9)?,
                },
                prev_hash: r.try_get(10)?,
                hash: r.try_get(11)?,
            };
            if !f(rec) {
                break;
            }
        }
        Ok(rows.len())
    }

    /// The checkpoints of `origin` with `lo < seq <= hi`, by seq then kind.
    pub async fn checkpoints_in(
        &mut self,
        origin: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints \
             WHERE origin = $1 AND seq > $2 AND seq <= $3 ORDER BY seq, kind"
        )))
        .bind(origin)
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// The lowest checkpoint seq of `origin` with `lo < seq <= hi`, if any.
    pub async fn next_checkpoint_seq(
        &mut self,
        origin: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MIN(seq) FROM audit_checkpoints WHERE origin = $1 AND seq > $2 AND seq <= $3",
        )
        .bind(origin)
        .bind(lo)
        .bind(hi)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// The deletion checkpoint of `origin` at `seq`, if there is one.
    pub async fn deletion_anchor_at(
        &mut self,
        origin: &str,
        seq: i64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE origin = $1 AND seq = $2 AND kind = 'deletion'"
        )))
        .bind(origin)
        .bind(seq)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// The newest deletion checkpoint of `origin`, if any.
    pub async fn newest_deletion_anchor(
        &mut self,
        origin: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE origin = $1 AND kind = 'deletion' \
             ORDER BY seq DESC LIMIT 1"
        )))
        .bind(origin)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// Origins that have checkpoints.
    pub async fn checkpoint_origins(&mut self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT origin FROM audit_checkpoints ORDER BY origin")
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
