//! The hash chain: how a record is made safe to store, and how its hash is computed.
//!
//! `hash = SHA-256(prev_hash || encode(fields))`, where `encode` writes every stored
//! field in a fixed order, each one length-prefixed so that no two different records
//! encode to the same bytes (moving a character from `actor` to `action` changes the
//! hash). docs/audit.md gives the format byte by byte, for verifying an export without
//! Clavis.

use super::event::AuditEvent;
use sha2::{Digest, Sha256};

/// Length of a chain hash (SHA-256).
pub const HASH_LEN: usize = 32;

/// `prev_hash` of the first record of a chain.
pub const GENESIS_HASH: [u8; HASH_LEN] = [0; HASH_LEN];

/// Longest stored `actor`, in bytes; longer values are cut at a character boundary.
pub const MAX_ACTOR: usize = 256;
/// Longest stored `action`, in bytes.
pub const MAX_ACTION: usize = 128;
/// Longest stored `object`, in bytes.
pub const MAX_OBJECT: usize = 512;
/// Longest stored `source`, in bytes.
pub const MAX_SOURCE: usize = 256;
/// Longest stored `detail`, in bytes.
pub const MAX_DETAIL: usize = 2048;
/// Longest stored `node_id`, in bytes.
pub const MAX_NODE_ID: usize = 128;

/// The fields of one record that the hash covers, borrowed from wherever they live
/// (a sanitized event being appended, or a database row being verified).
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    /// Origin replica.
    pub origin: &'a str,
    /// Position in the origin's chain, from 1.
    pub seq: i64,
    /// Wall-clock time, Unix milliseconds.
    pub at_ms: i64,
    /// Node that wrote the record.
    pub node_id: &'a str,
    /// Who acted.
    pub actor: &'a str,
    /// `user`, `endpoint` or `system` (as stored; verification hashes what is there).
    pub actor_kind: &'a str,
    /// Dotted action name.
    pub action: &'a str,
    /// Object acted on.
    pub object: Option<&'a str>,
    /// Source address.
    pub source: Option<&'a str>,
    /// `success`, `denied` or `failed` (as stored).
    pub outcome: &'a str,
    /// Free text.
    pub detail: Option<&'a str>,
}

fn put_str(h: &mut Sha256, s: &str) {
    // Lengths are bounded by the MAX_* limits (and by what a database row can hold), so
    // u32 never truncates a length that was stored through append.
    h.update((s.len() as u32).to_be_bytes());
    h.update(s.as_bytes());
}

fn put_opt(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_str(h, s);
        }
    }
}

impl RecordFields<'_> {
    /// The record's chain hash given the previous record's hash.
    pub fn hash(&self, prev_hash: &[u8]) -> [u8; HASH_LEN] {
        let mut h = Sha256::new();
        h.update(prev_hash);
        put_str(&mut h, self.origin);
        h.update(self.seq.to_be_bytes());
        h.update(self.at_ms.to_be_bytes());
        put_str(&mut h, self.node_id);
        put_str(&mut h, self.actor);
        put_str(&mut h, self.actor_kind);
        put_str(&mut h, self.action);
        put_opt(&mut h, self.object);
        put_opt(&mut h, self.source);
        put_str(&mut h, self.outcome);
        put_opt(&mut h, self.detail);
        h.finalize().into()
    }
}

/// An event made safe to store: control characters replaced, every field cut to its
/// bound. What is stored (and hashed, and exported) is this, never the raw input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedEvent {
    /// Who acted.
    pub actor: String,
    /// `user`, `endpoint` or `system`.
    pub actor_kind: &'static str,
    /// Dotted action name.
    pub action: String,
    /// Object acted on.
    pub object: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: &'static str,
    /// Free text.
    pub detail: Option<String>,
}

impl SanitizedEvent {
    /// Sanitizes `ev`.
    pub fn new(ev: &AuditEvent) -> SanitizedEvent {
        SanitizedEvent {
            actor: sanitize(&ev.actor, MAX_ACTOR),
            actor_kind: ev.actor_kind.as_str(),
            action: sanitize(&ev.action, MAX_ACTION),
            object: ev.object.as_deref().map(|s| sanitize(s, MAX_OBJECT)),
            source: ev.source.as_deref().map(|s| sanitize(s, MAX_SOURCE)),
            outcome: ev.outcome.as_str(),
            detail: ev.detail.as_deref().map(|s| sanitize(s, MAX_DETAIL)),
        }
    }

    /// The hashed fields of this event stored at `(origin, seq)`.
    pub fn fields<'a>(
        &'a self,
        origin: &'a str,
        seq: i64,
        at_ms: i64,
        node_id: &'a str,
    ) -> RecordFields<'a> {
        RecordFields {
            origin,
            seq,
            at_ms,
            node_id,
            actor: &self.actor,
            actor_kind: self.actor_kind,
            action: &self.action,
            object: self.object.as_deref(),
            source: self.source.as_deref(),
            outcome: self.outcome,
            detail: self.detail.as_deref(),
        }
    }
}

/// True for characters that could break or disguise a line in an export or a log
/// viewer: C0/C1 controls (newlines, escapes), DEL, the Unicode line and paragraph
/// separators, and the bidirectional overrides that reorder displayed text.
pub fn is_hostile_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Replaces hostile characters with a space and cuts `s` to at most `max` bytes at a
/// character boundary.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if is_hostile_char(c) { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{ActorKind, Outcome};

    fn fields() -> RecordFields<'static> {
        RecordFields {
            origin: "r1",
            seq: 7,
            at_ms: 1_700_000_000_123,
            node_id: "n1",
            actor: "alice",
            actor_kind: "user",
            action: "key.create",
            object: Some("obj"),
            source: Some("127.0.0.1:5"),
            outcome: "success",
            detail: None,
        }
    }

    #[test]
    fn hash_covers_every_field_and_the_link() {
        let base = fields();
        let h = base.hash(&GENESIS_HASH);
        let variants = [
            RecordFields {
                origin: "r2",
                ..base
            },
            RecordFields { seq: 8, ..base },
            RecordFields { at_ms: 1, ..base },
            RecordFields {
                node_id: "n2",
                ..base
            },
            RecordFields {
                actor: "alicf",
                ..base
            },
            RecordFields {
                actor_kind: "endpoint",
                ..base
            },
            RecordFields {
                action: "key.get",
                ..base
            },
            RecordFields {
                object: None,
                ..base
            },
            RecordFields {
                source: Some("127.0.0.1:6"),
                ..base
            },
            RecordFields {
                outcome: "failed",
                ..base
            },
            RecordFields {
                detail: Some(""),
                ..base
            },
        ];
        for v in variants {
            assert_ne!(v.hash(&GENESIS_HASH), h, "{v:?}");
        }
        assert_ne!(base.hash(&[1; 32]), h);
        assert_eq!(base.hash(&GENESIS_HASH), h);
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let a = RecordFields {
            actor: "ab",
            action: "c",
            ..fields()
        };
        let b = RecordFields {
            actor: "a",
            action: "bc",
            ..fields()
        };
        assert_ne!(a.hash(&GENESIS_HASH), b.hash(&GENESIS_HASH));
    }

    #[test]
    fn sanitize_replaces_controls_and_cuts_at_char_boundary() {
        assert_eq!(sanitize("a\nb\r\x1bc\u{202E}d", 100), "a b  c d");
        assert_eq!(sanitize("ééé", 5), "éé");
        assert_eq!(sanitize(&"x".repeat(5000), MAX_DETAIL).len(), MAX_DETAIL);
        let ev = AuditEvent {
            actor: "eve\nfake line".into(),
            actor_kind: ActorKind::User,
            action: "key.get".into(),
            object: Some("o".repeat(1000)),
            source: None,
            outcome: Outcome::Denied,
            detail: Some("x|y=z".into()),
        };
        let s = SanitizedEvent::new(&ev);
        assert_eq!(s.actor, "eve fake line");
        assert_eq!(s.object.as_deref().map(str::len), Some(MAX_OBJECT));
        assert_eq!(s.outcome, "denied");
        assert_eq!(s.detail.as_deref(), Some("x|y=z"));
    }
}
