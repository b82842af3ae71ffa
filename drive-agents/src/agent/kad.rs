//! How a Clavis key ID is recorded on tape.
//!
//! Clavis key IDs are UUIDs. The agent writes `b"CLV1"` followed by the 16 raw UUID
//! bytes (20 bytes) as the unauthenticated KAD of every block it has the drive encrypt,
//! and reads it back from the next-block status to know which key a tape needs. 20
//! bytes fit LTO-4's 32-byte U-KAD; the A-KAD (12 bytes on LTO-4) would not hold it.
//! Nothing is lost by leaving the ID unauthenticated: a forged ID names a key that does
//! not open the block, and the drive's GCM tag check refuses it.

use crate::drive::KeyAssociatedData;

/// The 4-byte marker (and format version) in front of the key ID.
pub const KAD_MAGIC: &[u8; 4] = b"CLV1";
/// Length of a Clavis U-KAD.
pub const KAD_LEN: usize = 20;

/// Why key-associated data does not name a Clavis key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KadError {
    /// The key ID is not a UUID, so it cannot be recorded in 16 bytes.
    #[error("key ID {0:?} is not a UUID; the agent records only UUID key IDs on tape")]
    NotAUuid(String),
    /// No U-KAD at all: the block was encrypted without one.
    #[error("the block carries no unauthenticated KAD, so it does not name its key")]
    Missing,
    /// Some other application's KAD.
    #[error(
        "the block's KAD ({len} bytes, starting {prefix}) is not a Clavis key ID (CLV1 + 16 bytes)"
    )]
    Foreign {
        /// U-KAD length.
        len: usize,
        /// Hex of at most its first 8 bytes (never more: it is only for the log).
        prefix: String,
    },
}

/// The KAD to load with key `key_id`.
pub fn encode(key_id: &str) -> Result<KeyAssociatedData, KadError> {
    let id = uuid::Uuid::parse_str(key_id).map_err(|_| KadError::NotAUuid(key_id.to_owned()))?;
    let mut u = Vec::with_capacity(KAD_LEN);
    u.extend_from_slice(KAD_MAGIC);
    u.extend_from_slice(id.as_bytes());
    Ok(KeyAssociatedData {
        unauthenticated: u,
        ..Default::default()
    })
}

/// The key ID (canonical lowercase hyphenated UUID) that `kad` names.
pub fn decode(kad: &KeyAssociatedData) -> Result<String, KadError> {
    let u = &kad.unauthenticated;
    if u.is_empty() {
        return Err(KadError::Missing);
    }
    match u.strip_prefix(KAD_MAGIC.as_slice()) {
        Some(rest) if u.len() == KAD_LEN => {
            let bytes: [u8; 16] = rest.try_into().map_err(|_| foreign(u))?;
            Ok(uuid::Uuid::from_bytes(bytes).to_string())
        }
        _ => Err(foreign(u)),
    }
}

fn foreign(u: &[u8]) -> KadError {
    KadError::Foreign {
        len: u.len(),
        prefix: hex::encode(&u[..u.len().min(8)]),
    }
}

/// Whether two key IDs name the same key (UUIDs compare regardless of case).
pub fn same_key(a: &str, b: &str) -> bool {
    match (uuid::Uuid::parse_str(a), uuid::Uuid::parse_str(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
