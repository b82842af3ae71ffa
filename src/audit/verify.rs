//! Verification: walks every origin's chain in seq order, a page at a time, inside one
//! read snapshot, and checks each link, each hash, the head row and every checkpoint.
//!
//! What is trusted: the signing key of the node running the verification, taken live
//! from its root of trust (never the copy stored beside a checkpoint). Checkpoints
//! signed by other nodes with other keys are checked against the key stored with them
//! and counted apart (`checkpoints_foreign`): a database writer could replace such a
//! checkpoint together with its key. docs/audit.md spells out what this does and does
//! not prove.

use super::chain::{GENESIS_HASH, HASH_LEN};
use super::checkpoint::{Checkpoint, CheckpointKind};
use crate::store::audit::AuditReader;
use crate::store::{Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Records read per query. Large enough that per-query overhead is small, small enough
/// that a page's rows are a few megabytes.
pub const PAGE: i64 = 8192;

/// Whose signatures are trusted.
#[derive(Debug, Clone)]
pub struct Trust {
    /// This node's ID.
    pub node_id: String,
    /// This node's live signing public key, from its root of trust.
    pub public_key: Vec<u8>,
}

/// What is wrong with a record or checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The record's stored hash is not the hash of its contents and link: some field,
    /// or the hash itself, was changed.
    HashMismatch,
    /// The record's `prev_hash` is not the previous record's hash (or, for the first
    /// record, not the genesis value or the deletion anchor's hash).
    BrokenLink,
    /// Records are missing from the chain.
    MissingRecords {
        /// First missing seq.
        from: i64,
        /// Last missing seq.
        to: i64,
    },
    /// The head row disagrees with the end of the chain.
    HeadMismatch {
        /// Seq the head row names.
        head_seq: i64,
        /// Seq the chain ends at.
        chain_seq: i64,
    },
    /// Records exist for an origin that has no head row.
    NoHead,
    /// A checkpoint's signature does not verify.
    BadSignature {
        /// The checkpoint's kind.
        checkpoint: String,
    },
    /// A checkpoint's hash is not the chain's hash at its seq.
    CheckpointMismatch {
        /// The checkpoint's kind.
        checkpoint: String,
    },
    /// A signed checkpoint names a seq past the end of the chain: the tail was cut.
    Truncated {
        /// Seq the checkpoint signs.
        checkpoint_seq: i64,
        /// Seq the chain ends at.
        chain_seq: i64,
    },
    /// A checkpoint of an unknown kind.
    UnknownCheckpointKind {
        /// The kind as stored.
        checkpoint: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::HashMismatch => f.write_str("hash mismatch: the record's contents or stored hash were changed"),
            Problem::BrokenLink => f.write_str("broken link: prev_hash is not the previous record's hash"),
            Problem::MissingRecords { from, to } if from == to => write!(f, "missing record {from}"),
            Problem::MissingRecords { from, to } => write!(f, "missing records {from} to {to}"),
            Problem::HeadMismatch { head_seq, chain_seq } => write!(
                f,
                "head mismatch: the head row says seq {head_seq} but the chain ends at {chain_seq} (or its hash differs)"
            ),
            Problem::NoHead => f.write_str("records exist but the origin has no head row"),
            Problem::BadSignature { checkpoint } => write!(f, "bad signature on the {checkpoint} checkpoint"),
            Problem::CheckpointMismatch { checkpoint } => write!(
                f,
                "the {checkpoint} checkpoint signs a different hash than the chain has at this seq"
            ),
            Problem::Truncated { checkpoint_seq, chain_seq } => write!(
                f,
                "truncated: a checkpoint signs seq {checkpoint_seq} but the chain ends at {chain_seq}"
            ),
            Problem::UnknownCheckpointKind { checkpoint } => {
                write!(f, "checkpoint of unknown kind {checkpoint:?}")
            }
        }
    }
}

/// The first thing wrong in one origin's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Origin of the chain.
    pub origin: String,
    /// Seq of the first broken record (for missing records, the first missing one).
    pub seq: i64,
    /// What is wrong.
    pub problem: Problem,
    /// The same, for people.
    pub message: String,
}

impl Failure {
    fn new(origin: &str, seq: i64, problem: Problem) -> Failure {
        Failure {
            message: format!("origin {origin}, seq {seq}: {problem}"),
            origin: origin.to_owned(),
            seq,
            problem,
        }
    }
}

/// One origin's chain as verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainSummary {
    /// Origin replica.
    pub origin: String,
    /// First record present (after the deletion anchor, if any); 0 when empty.
    pub first_seq: i64,
    /// Last record verified.
    pub last_seq: i64,
    /// Records verified.
    pub records: u64,
    /// Seq of the deletion checkpoint the chain starts after, if records were deleted.
    pub deletion_anchor: Option<i64>,
    /// Seq of the newest checkpoint checked against the chain, if any.
    pub last_checkpoint: Option<i64>,
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// True when every chain verified.
    pub ok: bool,
    /// Records whose link and hash were checked.
    pub records_checked: u64,
    /// Origins (chains) examined.
    pub origins: u64,
    /// Checkpoints whose signature was checked.
    pub checkpoints_checked: u64,
    /// Of those, checkpoints of other nodes checked only against their stored key.
    pub checkpoints_foreign: u64,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
    /// The first broken record, if any.
    pub first_failure: Option<Failure>,
    /// The first failure of each broken chain.
    pub failures: Vec<Failure>,
    /// One line per chain.
    pub chains: Vec<ChainSummary>,
}

/// Verifies every chain in `store`.
pub async fn verify(store: &Store, trust: &Trust) -> Result<VerifyReport, StoreError> {
    let started = Instant::now();
    let mut r = store.audit_reader().await?;
    let heads: BTreeMap<String, (i64, Vec<u8>)> = r
        .heads()
        .await?
        .into_iter()
        .map(|h| (h.origin, (h.seq, h.hash)))
        .collect();
    let spans: BTreeMap<String, (i64, i64)> = r
        .spans()
        .await?
        .into_iter()
        .map(|s| (s.origin, (s.min_seq, s.max_seq)))
        .collect();
    // Origins with a head first (their records may have been moved to a forged origin:
    // the gap in the real chain is the thing to name), then any others.
    let mut origins: Vec<String> = heads.keys().cloned().collect();
    let extra: BTreeSet<String> = spans
        .keys()
        .cloned()
        .chain(r.checkpoint_origins().await?)
        .filter(|o| !heads.contains_key(o))
        .collect();
    origins.extend(extra);

    let mut report = VerifyReport {
        ok: true,
        records_checked: 0,
        origins: origins.len() as u64,
        checkpoints_checked: 0,
        checkpoints_foreign: 0,
        elapsed_ms: 0,
        first_failure: None,
        failures: Vec::new(),
        chains: Vec::new(),
    };
    for origin in &origins {
        let mut w = ChainWalk {
            origin,
            trust,
            report: &mut report,
            summary: ChainSummary {
                origin: origin.clone(),
                first_seq: 0,
                last_seq: 0,
                records: 0,
                deletion_anchor: None,
                last_checkpoint: None,
            },
        };
        let result = w
            .run(&mut r, heads.get(origin), spans.get(origin).copied())
            .await?;
        let summary = w.summary;
        report.chains.push(summary);
        if let Err(f) = result {
            tracing::warn!(origin = %f.origin, seq = f.seq, problem = %f.problem, "audit chain broken");
            report.ok = false;
            if report.first_failure.is_none() {
                report.first_failure = Some(f.clone());
            }
            report.failures.push(f);
        }
    }
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

struct ChainWalk<'a> {
    origin: &'a str,
    trust: &'a Trust,
    report: &'a mut VerifyReport,
    summary: ChainSummary,
}

/// Where the walk stands: the last seq accepted and its hash.
struct Position {
    seq: i64,
    hash: [u8; HASH_LEN],
}

impl ChainWalk<'_> {
    fn fail(&self, seq: i64, p: Problem) -> Failure {
        Failure::new(self.origin, seq, p)
    }

    /// Checks a checkpoint's signature under the trusted key.
    fn check_signature(&mut self, cp: &Checkpoint) -> Result<(), Failure> {
        if CheckpointKind::parse(&cp.kind).is_none() {
            return Err(self.fail(
                cp.seq,
                Problem::UnknownCheckpointKind {
                    checkpoint: cp.kind.clone(),
                },
            ));
        }
        self.report.checkpoints_checked += 1;
        // This node's checkpoints must verify under its live key whatever key is stored
        // beside them; a checkpoint whose stored key is ours is held to the same rule.
        let own = cp.signer_node == self.trust.node_id || cp.public_key == self.trust.public_key;
        let ok = if own {
            cp.signature_valid_under(&self.trust.public_key)
        } else {
            self.report.checkpoints_foreign += 1;
            cp.signature_valid_under(&cp.public_key)
        };
        if ok {
            Ok(())
        } else {
            Err(self.fail(
                cp.seq,
                Problem::BadSignature {
                    checkpoint: cp.kind.clone(),
                },
            ))
        }
    }

    /// Checks every checkpoint with `lo < seq <= hi` against `hash_at` (the chain's hash
    /// at a seq, when the walk knows it).
    async fn checkpoints(
        &mut self,
        r: &mut AuditReader,
        lo: i64,
        hi: i64,
        hash_at: impl Fn(i64) -> Option<[u8; HASH_LEN]>,
    ) -> Result<Result<(), Failure>, StoreError> {
        let mut lo = lo;
        while let Some(next) = r.next_checkpoint_seq(self.origin, lo, hi).await? {
            let window_end = next.saturating_add(PAGE).min(hi);
            for cp in r
                .checkpoints_in(self.origin, next.saturating_sub(1), window_end)
                .await?
            {
                if let Err(f) = self.check_signature(&cp) {
                    return Ok(Err(f));
                }
                if let Some(h) = hash_at(cp.seq) {
                    if cp.hash != h {
                        return Ok(Err(self.fail(
                            cp.seq,
                            Problem::CheckpointMismatch {
                                checkpoint: cp.kind.clone(),
                            },
                        )));
                    }
                    self.summary.last_checkpoint = Some(cp.seq);
                }
            }
            lo = window_end;
        }
        Ok(Ok(()))
    }

    async fn run(
        &mut self,
        r: &mut AuditReader,
        head: Option<&(i64, Vec<u8>)>,
        span: Option<(i64, i64)>,
    ) -> Result<Result<(), Failure>, StoreError> {
        let origin = self.origin;
        if head.is_none() {
            if let Some((min, _)) = span {
                return Ok(Err(self.fail(min, Problem::NoHead)));
            }
        }
        // Where the chain starts: at genesis, or right after a signed deletion anchor.
        let mut pos = Position {
            seq: 0,
            hash: GENESIS_HASH,
        };
        let anchor = match span {
            Some((min, _)) if min > 1 => r.deletion_anchor_at(origin, min - 1).await?,
            Some(_) => None,
            None => r.newest_deletion_anchor(origin).await?,
        };
        if let Some(a) = &anchor {
            if let Err(f) = self.check_signature(a) {
                return Ok(Err(f));
            }
            // Counted again below with the other checkpoints; count it once.
            self.report.checkpoints_checked -= 1;
            let Ok(hash) = <[u8; HASH_LEN]>::try_from(a.hash.as_slice()) else {
                return Ok(Err(self.fail(
                    a.seq,
                    Problem::CheckpointMismatch {
                        checkpoint: a.kind.clone(),
                    },
                )));
            };
            pos = Position { seq: a.seq, hash };
            self.summary.deletion_anchor = Some(a.seq);
        } else if let Some((min, _)) = span {
            if min > 1 {
                let newest = r.newest_deletion_anchor(origin).await?;
                let from = newest
                    .map(|c| c.seq.saturating_add(1))
                    .filter(|s| *s < min)
                    .unwrap_or(1);
                return Ok(Err(
                    self.fail(from, Problem::MissingRecords { from, to: min - 1 })
                ));
            }
        }
        // Checkpoints before the start: their records are gone, only the signatures
        // can be checked, and the anchor's hash is the one the chain starts from.
        let start = (pos.seq, pos.hash);
        if let Err(f) = self
            .checkpoints(r, i64::MIN, pos.seq, |s| (s == start.0).then_some(start.1))
            .await?
        {
            return Ok(Err(f));
        }
        self.summary.first_seq = pos.seq.saturating_add(1);

        // The records, a page at a time, with the checkpoints that fall in each page.
        let mut failure: Option<Failure> = None;
        loop {
            let lo = pos.seq;
            let mut hashes: Vec<(i64, [u8; HASH_LEN])> = Vec::new();
            let mut checked = 0u64;
            let read = r
                .records_page(origin, lo, PAGE, |rec| {
                    let seq = rec.fields.seq;
                    if seq != pos.seq.saturating_add(1) {
                        failure = Some(Failure::new(
                            origin,
                            pos.seq.saturating_add(1),
                            Problem::MissingRecords {
                                from: pos.seq.saturating_add(1),
                                to: seq.saturating_sub(1),
                            },
                        ));
                        return false;
                    }
                    if rec.prev_hash != pos.hash {
                        failure = Some(Failure::new(origin, seq, Problem::BrokenLink));
                        return false;
                    }
                    let h = rec.fields.hash(rec.prev_hash);
                    if rec.hash != h {
                        failure = Some(Failure::new(origin, seq, Problem::HashMismatch));
                        return false;
                    }
                    pos = Position { seq, hash: h };
                    checked += 1;
                    hashes.push((seq, h));
                    true
                })
                .await?;
            self.report.records_checked += checked;
            self.summary.records += checked;
            self.summary.last_seq = pos.seq;
            // Checkpoints within what this page verified. A checkpoint inside a broken
            // region is not checked: the record is already named.
            let hi = pos.seq;
            if hi > lo {
                let first = lo + 1;
                let result = self
                    .checkpoints(r, lo, hi, |s| {
                        usize::try_from(s - first)
                            .ok()
                            .and_then(|i| hashes.get(i))
                            .map(|(_, h)| *h)
                    })
                    .await?;
                if let Err(f) = result {
                    return Ok(Err(f));
                }
            }
            if let Some(f) = failure {
                return Ok(Err(f));
            }
            if read < PAGE as usize {
                break;
            }
        }

        // The end: the head row must name the last record, and no checkpoint may sign
        // past it.
        match head {
            Some((seq, hash)) if *seq != pos.seq || hash.as_slice() != pos.hash => {
                let problem = Problem::HeadMismatch {
                    head_seq: *seq,
                    chain_seq: pos.seq,
                };
                return Ok(Err(self.fail(pos.seq.saturating_add(1), problem)));
            }
            _ => {}
        }
        if let Some(next) = r.next_checkpoint_seq(origin, pos.seq, i64::MAX).await? {
            let cps = r
                .checkpoints_in(origin, next.saturating_sub(1), next)
                .await?;
            if let Some(cp) = cps.first() {
                if let Err(f) = self.check_signature(cp) {
                    return Ok(Err(f));
                }
                let problem = Problem::Truncated {
                    checkpoint_seq: cp.seq,
                    chain_seq: pos.seq,
                };
                return Ok(Err(self.fail(pos.seq.saturating_add(1), problem)));
            }
        }
        Ok(Ok(()))
    }
}
