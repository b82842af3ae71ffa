//! The tamper-evident audit trail (SPEC 6): who did what to which object, from where,
//! when, with what result.
//!
//! # Layout
//! - [`event`]: what one record says ([`AuditEvent`]).
//! - [`chain`]: sanitizing an event, and the canonical encoding and SHA-256 chain hash.
//! - [`checkpoint`]: chain heads signed by a node's root of trust.
//! - [`verify`]: walking every chain and naming the first broken record.
//! - [`export`]: JSON lines and syslog/CEF formatting.
//! - [`syslog`]: best-effort forwarding of new records to a syslog server over UDP.
//!
//! Storage is in `crate::store` (`append_audit` on a write transaction, so a record
//! commits with the change it records); the operations an Audit Manager calls are on
//! `KeyService` (`service::audit`). docs/audit.md describes the formats and what
//! verification proves.
//!
//! Each origin replica (a database) keeps its own chain, numbered gap-free like the
//! change log, so that records made on different replicas can be shipped between them
//! as they are: no chain ever has to be merged or renumbered.

pub mod chain;
pub mod checkpoint;
pub mod event;
pub mod export;
pub mod syslog;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointKind};
pub use event::{ActorKind, AuditEvent, Outcome};
pub use export::ExportFormat;
pub use verify::{Failure, Problem, Trust, VerifyReport};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
