//! Replication on the store side: the version vector, the feed a peer pulls, and the
//! idempotent applier for changes that come from peers.
//!
//! Each replica numbers its own changes (origin, seq). A change received from a peer is
//! stored in this replica's change log under *its* origin and sequence, so it can be
//! forwarded to further peers: changes reach every replica through any path, and a new
//! replica's first copy is just a pull from sequence 0 of every origin. A change is
//! applied only when it is the next one of its origin (the cursor, in
//! `replication_cursors`, moves in the same transaction), which makes applying
//! idempotent and gap-free across crashes and duplicated or reordered deliveries.
//!
//! What the change *does* is decided by the conflict rules ([`super::merge`] and
//! [`super::replay`]): objects merge (immutable material, forward-only states,
//! last-writer-wins attributes), use counters take the larger value, everything else is
//! last-writer-wins per entity on (HLC, node ID), deletes included, since a delete's
//! change-log row is its tombstone.

use super::{Change, ChangeOp, Store, StoreError, WriteTx};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// Peer change-log rows the applier writes per INSERT (nine parameters each, far below
/// SQLite's and PostgreSQL's limits). A first copy or a restore is mostly new objects;
/// one statement per row was a round trip to the database per change.
const LOG_ROWS_PER_INSERT: usize = 100;

/// Object IDs looked up per query when a batch starts.
const IDS_PER_QUERY: usize = 500;

/// Highest sequence held from each origin replica.
pub type VersionVector = BTreeMap<String, i64>;

/// What applying a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes stored and applied (possibly as no-ops when a newer write already won).
    pub applied: u64,
    /// Changes already held (duplicates) or of this replica's own origin.
    pub duplicates: u64,
    /// Changes left out because an earlier change of their origin is missing.
    pub gaps: u64,
    /// Largest HLC seen in the batch (the node's clock must move past it).
    pub max_hlc: i64,
}

impl Store {
    /// This replica's version vector: its own last sequence and, for every other origin,
    /// the last sequence applied.
    pub async fn version_vector(&self) -> Result<VersionVector, StoreError> {
        let mut vv = VersionVector::new();
        let own: Option<(String, i64)> =
            sqlx::query_as("SELECT replica_id, last_seq FROM replica_meta WHERE singleton = 1")
                .fetch_optional(self.pool())
                .await?;
        let (own_id, own_seq) = own.ok_or(StoreError::NotInitialized)?;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT origin, applied_seq FROM replication_cursors")
                .fetch_all(self.pool())
                .await?;
        for (o, s) in rows {
            vv.insert(o, s);
        }
        vv.insert(own_id, own_seq);
        Ok(vv)
    }

    /// Up to `limit` changes this replica holds that a peer with version vector `theirs`
    /// lacks, origin by origin, each origin in sequence order.
    pub async fn changes_for(
        &self,
        theirs: &VersionVector,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let ours = self.version_vector().await?;
        let mut out = Vec::new();
        for (origin, &have) in &ours {
            let after = theirs.get(origin).copied().unwrap_or(0);
            if have <= after {
                continue;
            }
            let room = limit - out.len() as i64;
            if room <= 0 {
                break;
            }
            out.extend(self.changes_since(origin, after, room).await?);
        }
        Ok(out)
    }

    /// Applies changes received from a peer in one transaction, skipping those already
    /// held. Durable when this returns.
    pub async fn apply_changes(
        &self,
        node_id: &str,
        changes: &[Change],
    ) -> Result<ApplyReport, StoreError> {
        let mut tx = self.begin_write(node_id).await?;
        tx.replaying = true;
        let own = tx.own_replica_id().await?;
        // Lock every origin's cursor first, in one order (nodes sharing a database then
        // cannot deadlock), and only then see which objects are held: another node's
        // commit of the same changes is visible by then.
        let mut cursors: BTreeMap<String, (i64, bool)> = BTreeMap::new();
        let origins: std::collections::BTreeSet<&str> = changes
            .iter()
            .map(|c| c.origin.as_str())
            .filter(|o| *o != own)
            .collect();
        for origin in origins {
            let s = tx.cursor(origin).await?;
            cursors.insert(origin.to_owned(), (s, false));
        }
        let mut batch = Batch {
            held: tx
                .objects_held(
                    changes
                        .iter()
                        .filter(|c| c.entity == "object")
                        .map(|c| c.entity_id.as_str()),
                )
                .await?,
            log: Vec::new(),
        };
        let mut report = ApplyReport::default();
        for c in changes {
            report.max_hlc = report.max_hlc.max(c.hlc);
            if c.origin == own {
                report.duplicates += 1;
                continue;
            }
            let cur = match cursors.get(&c.origin) {
                Some(&(s, _)) => s,
                None => tx.cursor(&c.origin).await?,
            };
            if c.seq <= cur {
                report.duplicates += 1;
                continue;
            }
            if c.seq != cur + 1 {
                report.gaps += 1;
                continue;
            }
            tx.apply_one(c, &mut batch).await?;
            cursors.insert(c.origin.clone(), (c.seq, true));
            report.applied += 1;
        }
        tx.flush_log(&mut batch.log).await?;
        for (origin, (seq, moved)) in &cursors {
            if *moved {
                tx.set_cursor(origin, *seq).await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// What the applier carries from one change of a batch to the next.
struct Batch<'a> {
    /// Objects this replica holds among those the batch touches: a new one needs no
    /// read-merge-replace, only its insert.
    held: HashSet<String>,
    /// Peer change-log rows not written yet.
    log: Vec<&'a Change>,
}

impl WriteTx {
    async fn own_replica_id(&mut self) -> Result<String, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT replica_id FROM replica_meta WHERE singleton = 1")
                .fetch_optional(self.conn())
                .await?;
        row.map(|r| r.0).ok_or(StoreError::NotInitialized)
    }

    /// The cursor of `origin`, with its row locked to the commit. Nodes sharing a
    /// PostgreSQL database pull the same changes at once; a plain read would let both
    /// see the old cursor and the second fail on the change log's key. The no-op upsert
    /// waits for the other's commit and returns the cursor it moved.
    async fn cursor(&mut self, origin: &str) -> Result<i64, StoreError> {
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO replication_cursors (origin, applied_seq) VALUES ($1, 0) \
             ON CONFLICT (origin) DO UPDATE SET applied_seq = replication_cursors.applied_seq \
             RETURNING applied_seq",
        )
        .bind(origin)
        .fetch_one(self.conn())
        .await?;
        Ok(seq)
    }

    async fn set_cursor(&mut self, origin: &str, seq: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO replication_cursors (origin, applied_seq) VALUES ($1, $2) \
             ON CONFLICT (origin) DO UPDATE SET applied_seq = excluded.applied_seq",
        )
        .bind(origin)
        .bind(seq)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores one peer change under its own origin and sequence and applies it.
    async fn apply_one<'a>(
        &mut self,
        c: &'a Change,
        batch: &mut Batch<'a>,
    ) -> Result<(), StoreError> {
        // Objects and use counters merge whatever the arrival order, so they need no
        // comparison with the change log and their rows can wait for a multi-row insert.
        match c.entity.as_str() {
            "object" => {
                self.queue_log(c, &mut batch.log).await?;
                let fresh = !batch.held.contains(&c.entity_id);
                self.merge_object(c, fresh).await?;
                batch.held.insert(c.entity_id.clone());
                return Ok(());
            }
            "data_unit_key" => {
                self.queue_log(c, &mut batch.log).await?;
                return self.replay(c, true).await;
            }
            _ => {}
        }
        // Last-writer-wins reads the change log (here and in link checks): it must hold
        // every earlier change of the batch first.
        self.flush_log(&mut batch.log).await?;
        // The newest write this replica already holds for the entity, before this one
        // is stored: last-writer-wins compares against it.
        let newest = self.newest_version(&c.entity, &c.entity_id).await?;
        self.insert_log_rows(std::slice::from_ref(&c)).await?;
        let incoming = super::merge::Version {
            hlc: c.hlc,
            node_id: &c.node_id,
        };
        let wins = match &newest {
            None => true,
            Some((hlc, node)) => {
                incoming
                    > super::merge::Version {
                        hlc: *hlc,
                        node_id: node,
                    }
            }
        };
        self.replay(c, wins).await
    }

    async fn queue_log<'a>(
        &mut self,
        c: &'a Change,
        log: &mut Vec<&'a Change>,
    ) -> Result<(), StoreError> {
        log.push(c);
        if log.len() >= LOG_ROWS_PER_INSERT {
            self.flush_log(log).await?;
        }
        Ok(())
    }

    async fn flush_log(&mut self, log: &mut Vec<&Change>) -> Result<(), StoreError> {
        if !log.is_empty() {
            self.insert_log_rows(log).await?;
            log.clear();
        }
        Ok(())
    }

    /// Writes peer change-log rows under their own origin and sequence, in one statement.
    async fn insert_log_rows(&mut self, rows: &[&Change]) -> Result<(), StoreError> {
        let mut sql = String::from(
            "INSERT INTO change_log (origin, seq, hlc, node_id, entity, entity_id, op, payload, created_at) VALUES ",
        );
        for i in 0..rows.len() {
            let b = i * 9;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in rows {
            q = q
                .bind(c.origin.clone())
                .bind(c.seq)
                .bind(c.hlc)
                .bind(c.node_id.clone())
                .bind(c.entity.clone())
                .bind(c.entity_id.clone())
                .bind(c.op.as_str())
                .bind(c.payload.clone())
                .bind(c.created_at);
        }
        q.execute(self.conn()).await?;
        Ok(())
    }

    /// Which of `ids` this replica holds as objects.
    async fn objects_held<'a>(
        &mut self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<&str> = ids.collect::<HashSet<_>>().into_iter().collect();
        let mut held = HashSet::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT id FROM objects WHERE id IN ({})", marks.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(self.conn()).await? {
                held.insert(row.try_get::<String, _>(0)?);
            }
        }
        Ok(held)
    }

    async fn newest_version(
        &mut self,
        entity: &str,
        entity_id: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT hlc, node_id FROM change_log WHERE entity = $1 AND entity_id = $2 \
             ORDER BY hlc DESC, node_id DESC LIMIT 1",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }
}

/// Decodes a change's JSON payload, naming the change when it cannot.
pub(super) fn decode<T: serde::de::DeserializeOwned>(c: &Change) -> Result<T, StoreError> {
    serde_json::from_slice(&c.payload).map_err(|e| StoreError::Corrupt {
        table: "change_log",
        detail: format!(
            "{} {} from {}#{}: {e}",
            c.entity, c.entity_id, c.origin, c.seq
        ),
    })
}

/// True for deletes (tombstones).
pub(super) fn is_delete(c: &Change) -> bool {
    c.op == ChangeOp::Delete
}
