//! The [`Drive`] trait the agent daemon drives tapes through, and its types.
//!
//! The trait speaks of keys, key-associated data and block status, not of
//! pages: [`crate::lto::LtoDrive`] implements it with T10 SSC commands, and a
//! drive family with another interface (a T10000 with its own key agent,
//! say) can implement it another way.
#![forbid(unsafe_code)]

use crate::scsi::{CommandError, TransportError};
use crate::sense::{Condition, Sense};
pub use crate::ssc::{DecryptionMode, EncryptionMode, KeyAssociatedData};

/// Which kind of drive this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveFamily {
    /// LTO (Ultrium), with its generation when the product string tells it.
    Lto {
        /// 4 for LTO-4, ...
        generation: Option<u8>,
    },
    /// StorageTek T10000.
    T10000,
    /// Anything else.
    Other,
}

impl DriveFamily {
    /// Recognise the family from INQUIRY vendor and product strings
    /// (IBM "ULT3580-TD6", HPE "Ultrium 6-SCSI", Quantum "ULTRIUM-HH7",
    /// Tandberg "LTO-6 HH", Oracle "T10000D").
    pub fn detect(vendor: &str, product: &str) -> DriveFamily {
        let p = product.to_ascii_uppercase();
        let v = vendor.to_ascii_uppercase();
        if p.starts_with("T10000") && (v.starts_with("STK") || v.starts_with("ORACLE")) {
            return DriveFamily::T10000;
        }
        let after = [
            "ULT3580-TD",
            "ULT3580-HH",
            "ULTRIUM-TD",
            "ULTRIUM-HH",
            "ULTRIUM ",
            "LTO-",
            "LTO",
        ]
        .iter()
        .find_map(|m| p.find(m).map(|i| &p[i + m.len()..]));
        match after {
            Some(rest) => {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                DriveFamily::Lto {
                    generation: digits.parse().ok(),
                }
            }
            None if p.contains("ULTRIUM") => DriveFamily::Lto { generation: None },
            None => DriveFamily::Other,
        }
    }
}

/// Who the drive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveInfo {
    /// T10 vendor identification.
    pub vendor: String,
    /// Product identification.
    pub product: String,
    /// Firmware revision.
    pub revision: String,
    /// Unit serial number.
    pub serial: String,
    /// The family.
    pub family: DriveFamily,
}

/// The loaded tape, from its medium auxiliary memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medium {
    /// BARCODE attribute (0806h), if the library wrote it.
    pub barcode: Option<String>,
    /// MEDIUM SERIAL NUMBER attribute (0401h).
    pub serial: Option<String>,
}

/// One encryption algorithm the drive offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionAlgorithm {
    /// The index Set Data Encryption selects it by.
    pub index: u8,
    /// The SSC security algorithm code (00010014h is AES-256-GCM).
    pub code: u32,
    /// Key length in bytes.
    pub key_len: usize,
    /// Whether the drive can encrypt with it.
    pub can_encrypt: bool,
    /// Whether the drive can decrypt with it.
    pub can_decrypt: bool,
    /// Largest U-KAD the drive accepts.
    pub max_ukad: usize,
    /// Largest A-KAD the drive accepts.
    pub max_akad: usize,
    /// Whether the application must supply nonces (the agent never does).
    pub nonce_from_application: bool,
}

impl EncryptionAlgorithm {
    /// A readable name for known algorithm codes.
    pub fn name(&self) -> Option<&'static str> {
        (self.code == crate::ssc::ALGORITHM_AES256_GCM).then_some("AES-256-GCM")
    }
}

/// What the drive can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionCapabilities {
    /// The algorithms, in the drive's order.
    pub algorithms: Vec<EncryptionAlgorithm>,
    /// Whether configuration is prevented (CFG_P = 2: e.g. the library owns encryption).
    pub configuration_prevented: bool,
}

impl EncryptionCapabilities {
    /// The first algorithm that encrypts and decrypts with keys of `key_len` bytes.
    pub fn algorithm_for_key(&self, key_len: usize) -> Option<&EncryptionAlgorithm> {
        self.algorithms
            .iter()
            .find(|a| a.key_len == key_len && a.can_encrypt && a.can_decrypt)
    }
}

/// How many KAD bytes the drive accepts with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KadLimits {
    /// U-KAD bytes (32 on LTO-4 and later).
    pub max_ukad: usize,
    /// A-KAD bytes (12 on LTO-4, 60 on LTO-5 and later).
    pub max_akad: usize,
}

/// Why a key is loaded.
///
/// Either way the drive encrypts writes with it: SSC-4 has no encryption mode
/// that refuses writes (ENCRYPTION MODE DISABLE writes plaintext, EXTERNAL
/// writes the host's bytes unencrypted), so a key loaded to read a tape must
/// still encrypt whatever the backup application appends or overwrites. The
/// agent replaces a read key whose encryption period is over with the data
/// unit's write key when the tape reaches a filemark or the end of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The data unit's write key, handed out for new data.
    Encrypt,
    /// The key a block on the tape names, loaded to read it (MIXED).
    Read,
}

/// The drive's current encryption parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionStatus {
    /// Encryption mode.
    pub encryption: EncryptionMode,
    /// Decryption mode.
    pub decryption: DecryptionMode,
    /// Algorithm index in use.
    pub algorithm_index: u8,
    /// Changes whenever a key is set: tells the agent its key is still there.
    pub key_instance_counter: u32,
    /// Key-associated data of the current key.
    pub kad: KeyAssociatedData,
}

/// Encryption state of the next logical object on tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEncryption {
    /// The drive cannot tell.
    Unknown,
    /// Not determined until the block is read.
    NotYetDetermined,
    /// Not a block (filemark, end of data).
    NotABlock,
    /// Plain block.
    NotEncrypted,
    /// Encrypted with an algorithm this drive lacks.
    UnsupportedAlgorithm,
    /// Encrypted, and the loaded key decrypts it.
    EncryptedKeyAvailable,
    /// Encrypted, and the drive lacks its key: fetch the key named by the KAD.
    EncryptedKeyUnavailable,
}

impl From<crate::ssc::BlockEncryptionStatus> for BlockEncryption {
    fn from(s: crate::ssc::BlockEncryptionStatus) -> Self {
        use crate::ssc::BlockEncryptionStatus as S;
        match s {
            S::Incapable | S::Reserved(_) => BlockEncryption::Unknown,
            S::NotYetDetermined => BlockEncryption::NotYetDetermined,
            S::NotALogicalBlock => BlockEncryption::NotABlock,
            S::NotEncrypted => BlockEncryption::NotEncrypted,
            S::UnsupportedAlgorithm => BlockEncryption::UnsupportedAlgorithm,
            S::Encrypted => BlockEncryption::EncryptedKeyAvailable,
            S::EncryptedKeyUnavailable => BlockEncryption::EncryptedKeyUnavailable,
        }
    }
}

/// The next block's encryption status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBlockStatus {
    /// Logical object number (block and filemark count from the beginning).
    pub logical_object_number: u64,
    /// Its encryption state.
    pub state: BlockEncryption,
    /// Algorithm index it was encrypted with, when encrypted.
    pub algorithm_index: Option<u8>,
    /// Its key-associated data: which key it needs.
    pub kad: KeyAssociatedData,
}

/// Bytes the application moved through the drive (since the tape was loaded on
/// most drives; the agent only uses differences between two readings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteCounters {
    /// Bytes received from the application by WRITE.
    pub written: u64,
    /// Bytes sent to the application by READ.
    pub read: u64,
}

/// A drive operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The drive answered CHECK CONDITION.
    #[error("{command}: {sense}")]
    Check {
        /// the command
        command: &'static str,
        /// the decoded sense
        sense: Sense,
    },
    /// Another non-GOOD status, or sense that could not be decoded.
    #[error("{command}: {detail}")]
    Status {
        /// the command
        command: &'static str,
        /// what happened
        detail: String,
    },
    /// The drive returned a malformed page or parameter data.
    #[error("malformed {what} from the drive: {detail}")]
    Malformed {
        /// which data
        what: &'static str,
        /// what was wrong
        detail: String,
    },
    /// The drive lacks a needed feature.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The caller asked for something the drive cannot take (length limits).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl DriveError {
    /// The named sense condition, for CHECK CONDITION errors.
    pub fn condition(&self) -> Option<Condition> {
        match self {
            DriveError::Check { sense, .. } => Some(sense.condition()),
            _ => None,
        }
    }

    /// A malformed-data error.
    pub fn malformed(what: &'static str, detail: impl std::fmt::Display) -> DriveError {
        DriveError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<CommandError> for DriveError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Transport(t) => DriveError::Transport(t),
            CommandError::Check { command, sense } => DriveError::Check { command, sense },
            CommandError::BadSense { command, error } => DriveError::Status {
                command,
                detail: format!("check condition with undecodable sense: {error}"),
            },
            CommandError::Status { command, status } => DriveError::Status {
                command,
                detail: format!("SCSI status {status:#04x}"),
            },
        }
    }
}

/// A tape drive, as the agent needs it.
pub trait Drive: Send {
    /// Vendor, product, revision, serial and family.
    fn describe(&mut self) -> Result<DriveInfo, DriveError>;
    /// The loaded tape, or `None` when the drive is empty.
    fn medium(&mut self) -> Result<Option<Medium>, DriveError>;
    /// Encryption algorithms and limits.
    fn capabilities(&mut self) -> Result<EncryptionCapabilities, DriveError>;
    /// Load a data key with its key-associated data.
    fn load_key(
        &mut self,
        key: &[u8],
        kad: &KeyAssociatedData,
        mode: KeyMode,
    ) -> Result<(), DriveError>;
    /// Turn encryption and decryption off and clear the key.
    fn clear_key(&mut self) -> Result<(), DriveError>;
    /// Current modes, key instance counter and the current key's KAD.
    fn status(&mut self) -> Result<EncryptionStatus, DriveError>;
    /// Encryption status and KAD of the next block on tape.
    fn next_block(&mut self) -> Result<NextBlockStatus, DriveError>;
    /// Bytes written and read so far; `None` when the drive does not tell.
    fn byte_counters(&mut self) -> Result<Option<ByteCounters>, DriveError> {
        Ok(None)
    }
    /// KAD limits of the first algorithm taking 32-byte keys.
    fn max_kad(&mut self) -> Result<KadLimits, DriveError> {
        let caps = self.capabilities()?;
        let a = caps
            .algorithm_for_key(32)
            .ok_or_else(|| DriveError::Unsupported("no algorithm with 256-bit keys".into()))?;
        Ok(KadLimits {
            max_ukad: a.max_ukad,
            max_akad: a.max_akad,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let lto = |g| DriveFamily::Lto {
            generation: Some(g),
        };
        assert_eq!(DriveFamily::detect("IBM", "ULT3580-TD6"), lto(6));
        assert_eq!(DriveFamily::detect("IBM", "ULT3580-HH8"), lto(8));
        assert_eq!(DriveFamily::detect("HP", "Ultrium 5-SCSI"), lto(5));
        assert_eq!(DriveFamily::detect("QUANTUM", "ULTRIUM-HH7"), lto(7));
        assert_eq!(DriveFamily::detect("TANDBERG", "LTO-6 HH"), lto(6));
        assert_eq!(DriveFamily::detect("STK", "T10000D"), DriveFamily::T10000);
        assert_eq!(DriveFamily::detect("ACME", "DISK"), DriveFamily::Other);
    }
}
