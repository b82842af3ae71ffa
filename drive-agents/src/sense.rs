//! SCSI sense data: decoding what a drive says after CHECK CONDITION, and
//! encoding it for the emulator.
//!
//! Both formats of SPC-4 4.5 are decoded: fixed (response codes 70h/71h) and
//! descriptor (72h/73h, with the information and stream-commands descriptors
//! that carry the INFORMATION field and the FILEMARK/EOM/ILI bits for tape).
//! The agent reasons about a few named [`Condition`]s rather than raw codes.
#![forbid(unsafe_code)]

use std::fmt;

/// The sense key (SPC-4 4.5.6, "Sense key descriptions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenseKey {
    /// 0h: no specific sense key (may still carry FILEMARK/EOM/ILI).
    NoSense,
    /// 1h.
    RecoveredError,
    /// 2h: the logical unit cannot be accessed.
    NotReady,
    /// 3h.
    MediumError,
    /// 4h.
    HardwareError,
    /// 5h: a field in the CDB or parameter list was refused.
    IllegalRequest,
    /// 6h.
    UnitAttention,
    /// 7h: the command touched protected data (encryption errors live here).
    DataProtect,
    /// 8h: blank medium or end of data on a read.
    BlankCheck,
    /// 9h.
    VendorSpecific,
    /// Ah.
    CopyAborted,
    /// Bh.
    AbortedCommand,
    /// Dh.
    VolumeOverflow,
    /// Eh.
    Miscompare,
    /// Fh.
    Completed,
    /// Ch (reserved).
    Reserved,
}

impl SenseKey {
    /// The key for a 4-bit value (upper bits ignored).
    pub fn from_bits(v: u8) -> SenseKey {
        match v & 0x0f {
            0x0 => SenseKey::NoSense,
            0x1 => SenseKey::RecoveredError,
            0x2 => SenseKey::NotReady,
            0x3 => SenseKey::MediumError,
            0x4 => SenseKey::HardwareError,
            0x5 => SenseKey::IllegalRequest,
            0x6 => SenseKey::UnitAttention,
            0x7 => SenseKey::DataProtect,
            0x8 => SenseKey::BlankCheck,
            0x9 => SenseKey::VendorSpecific,
            0xa => SenseKey::CopyAborted,
            0xb => SenseKey::AbortedCommand,
            0xd => SenseKey::VolumeOverflow,
            0xe => SenseKey::Miscompare,
            0xf => SenseKey::Completed,
            _ => SenseKey::Reserved,
        }
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            SenseKey::NoSense => 0x0,
            SenseKey::RecoveredError => 0x1,
            SenseKey::NotReady => 0x2,
            SenseKey::MediumError => 0x3,
            SenseKey::HardwareError => 0x4,
            SenseKey::IllegalRequest => 0x5,
            SenseKey::UnitAttention => 0x6,
            SenseKey::DataProtect => 0x7,
            SenseKey::BlankCheck => 0x8,
            SenseKey::VendorSpecific => 0x9,
            SenseKey::CopyAborted => 0xa,
            SenseKey::AbortedCommand => 0xb,
            SenseKey::Reserved => 0xc,
            SenseKey::VolumeOverflow => 0xd,
            SenseKey::Miscompare => 0xe,
            SenseKey::Completed => 0xf,
        }
    }
}

/// Additional sense codes the agent and the emulator use, as (ASC, ASCQ).
///
/// Standard codes are from the SPC-4 table of ASC and ASCQ assignments
/// (SPC-4 4.5.6, also printed in its annex); the encryption codes 74h/xxh are
/// the ones SSC-4 assigns to tape data encryption.
pub mod asc {
    /// 00h/00h NO ADDITIONAL SENSE INFORMATION.
    pub const NO_ADDITIONAL: (u8, u8) = (0x00, 0x00);
    /// 00h/01h FILEMARK DETECTED (SSC).
    pub const FILEMARK_DETECTED: (u8, u8) = (0x00, 0x01);
    /// 00h/05h END-OF-DATA DETECTED (SSC, with BLANK CHECK).
    pub const END_OF_DATA_DETECTED: (u8, u8) = (0x00, 0x05);
    /// 04h/01h LOGICAL UNIT IS IN PROCESS OF BECOMING READY.
    pub const BECOMING_READY: (u8, u8) = (0x04, 0x01);
    /// 1Ah/00h PARAMETER LIST LENGTH ERROR.
    pub const PARAMETER_LIST_LENGTH_ERROR: (u8, u8) = (0x1a, 0x00);
    /// 20h/00h INVALID COMMAND OPERATION CODE.
    pub const INVALID_COMMAND_OPERATION_CODE: (u8, u8) = (0x20, 0x00);
    /// 24h/00h INVALID FIELD IN CDB.
    pub const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
    /// 26h/00h INVALID FIELD IN PARAMETER LIST.
    pub const INVALID_FIELD_IN_PARAMETER_LIST: (u8, u8) = (0x26, 0x00);
    /// 28h/00h NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED.
    pub const MEDIUM_MAY_HAVE_CHANGED: (u8, u8) = (0x28, 0x00);
    /// 3Ah/00h MEDIUM NOT PRESENT (any ASCQ of 3Ah means no medium).
    pub const MEDIUM_NOT_PRESENT: (u8, u8) = (0x3a, 0x00);
    /// 74h/01h UNABLE TO DECRYPT DATA.
    pub const UNABLE_TO_DECRYPT_DATA: (u8, u8) = (0x74, 0x01);
    /// 74h/02h UNENCRYPTED DATA ENCOUNTERED WHILE DECRYPTING.
    pub const UNENCRYPTED_DATA_WHILE_DECRYPTING: (u8, u8) = (0x74, 0x02);
    /// 74h/03h INCORRECT DATA ENCRYPTION KEY.
    pub const INCORRECT_DATA_ENCRYPTION_KEY: (u8, u8) = (0x74, 0x03);
    /// 74h/04h CRYPTOGRAPHIC INTEGRITY VALIDATION FAILED.
    pub const INTEGRITY_VALIDATION_FAILED: (u8, u8) = (0x74, 0x04);
    /// 74h/63h EXTERNAL DATA ENCRYPTION KEY NOT FOUND (drives with an
    /// external key manager report this when they cannot get the key).
    pub const EXTERNAL_KEY_NOT_FOUND: (u8, u8) = (0x74, 0x63);
    /// EFh/10h "Encryption - Key Required": vendor-specific (ASC 80h-FFh are
    /// vendor space in SPC-4); IBM LTO drives report it with DATA PROTECT
    /// when a read meets an encrypted block, or a write is refused, for want
    /// of a key. SPC-4 has no standard code for "key required", so the
    /// emulator reports this one, as the drives the agent will meet do.
    pub const KEY_REQUIRED: (u8, u8) = (0xef, 0x10);
}

/// A condition the agent acts on, named rather than coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// The drive needs a data key it does not hold (fetch it and load it).
    EncryptionKeyRequired,
    /// The drive cannot decrypt the block (e.g. decryption disabled).
    UnableToDecrypt,
    /// The loaded key is not the block's key.
    IncorrectKey,
    /// The block failed its integrity check.
    IntegrityCheckFailed,
    /// Decryption was required but the block is not encrypted.
    UnencryptedWhileDecrypting,
    /// No medium in the drive.
    NoMedium,
    /// The drive is not ready (other than for a missing medium).
    NotReady,
    /// A read reached end of data.
    EndOfData,
    /// Blank medium or another BLANK CHECK.
    BlankCheck,
    /// A read met a filemark.
    Filemark,
    /// A unit attention (medium changed, reset, parameters changed).
    UnitAttention,
    /// The operation code is not supported.
    InvalidOperationCode,
    /// A CDB field was refused.
    InvalidFieldInCdb,
    /// A parameter-list field was refused (e.g. a bad Set Data Encryption page).
    InvalidFieldInParameterList,
    /// The parameter list length was wrong.
    ParameterListLength,
    /// Anything else; look at the key and codes.
    Other,
}

/// Why sense bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenseError {
    /// No sense bytes at all.
    #[error("no sense data")]
    Empty,
    /// Fewer bytes than the format needs.
    #[error("sense data too short: {have} bytes, need {need}")]
    Short {
        /// bytes present
        have: usize,
        /// bytes needed
        need: usize,
    },
    /// A response code that is neither fixed nor descriptor format.
    #[error("unknown sense response code {0:#04x}")]
    ResponseCode(u8),
}

/// Decoded sense data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sense {
    /// Response code (70h/71h fixed, 72h/73h descriptor).
    pub response_code: u8,
    /// The sense key.
    pub key: SenseKey,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
    /// FILEMARK bit (SSC).
    pub filemark: bool,
    /// EOM bit (SSC).
    pub eom: bool,
    /// ILI bit: incorrect length (block size differed from the request).
    pub ili: bool,
    /// INFORMATION field when valid (for tape reads: the residue).
    pub information: Option<i64>,
}

impl Sense {
    /// A current-error, fixed-format sense with the given key and codes.
    pub fn new(key: SenseKey, code: (u8, u8)) -> Sense {
        Sense {
            response_code: 0x70,
            key,
            asc: code.0,
            ascq: code.1,
            filemark: false,
            eom: false,
            ili: false,
            information: None,
        }
    }

    /// Whether this reports a deferred error (71h/73h).
    pub fn is_deferred(&self) -> bool {
        matches!(self.response_code, 0x71 | 0x73)
    }

    /// Decode fixed or descriptor format sense bytes.
    pub fn parse(buf: &[u8]) -> Result<Sense, SenseError> {
        let first = *buf.first().ok_or(SenseError::Empty)?;
        match first & 0x7f {
            0x70 | 0x71 => parse_fixed(buf),
            0x72 | 0x73 => parse_descriptor(buf),
            other => Err(SenseError::ResponseCode(other)),
        }
    }

    /// The named condition this sense reports.
    pub fn condition(&self) -> Condition {
        let code = (self.asc, self.ascq);
        match self.key {
            SenseKey::DataProtect | SenseKey::IllegalRequest | SenseKey::NotReady
                if code == asc::KEY_REQUIRED || code == asc::EXTERNAL_KEY_NOT_FOUND =>
            {
                Condition::EncryptionKeyRequired
            }
            _ if code == asc::UNABLE_TO_DECRYPT_DATA => Condition::UnableToDecrypt,
            _ if code == asc::INCORRECT_DATA_ENCRYPTION_KEY => Condition::IncorrectKey,
            _ if code == asc::INTEGRITY_VALIDATION_FAILED => Condition::IntegrityCheckFailed,
            _ if code == asc::UNENCRYPTED_DATA_WHILE_DECRYPTING => {
                Condition::UnencryptedWhileDecrypting
            }
            SenseKey::NotReady if self.asc == asc::MEDIUM_NOT_PRESENT.0 => Condition::NoMedium,
            SenseKey::NotReady => Condition::NotReady,
            SenseKey::BlankCheck if code == asc::END_OF_DATA_DETECTED => Condition::EndOfData,
            SenseKey::BlankCheck => Condition::BlankCheck,
            SenseKey::UnitAttention => Condition::UnitAttention,
            SenseKey::IllegalRequest => match code {
                asc::INVALID_COMMAND_OPERATION_CODE => Condition::InvalidOperationCode,
                asc::INVALID_FIELD_IN_CDB => Condition::InvalidFieldInCdb,
                asc::INVALID_FIELD_IN_PARAMETER_LIST => Condition::InvalidFieldInParameterList,
                asc::PARAMETER_LIST_LENGTH_ERROR => Condition::ParameterListLength,
                _ => Condition::Other,
            },
            _ if self.filemark || code == asc::FILEMARK_DETECTED => Condition::Filemark,
            _ => Condition::Other,
        }
    }

    /// Encode as fixed-format sense data (18 bytes, SPC-4 4.5.3).
    pub fn to_fixed(&self) -> Vec<u8> {
        let mut out = vec![0u8; 18];
        out[0] = if self.is_deferred() { 0x71 } else { 0x70 };
        out[2] = self.key.bits()
            | if self.filemark { 0x80 } else { 0 }
            | if self.eom { 0x40 } else { 0 }
            | if self.ili { 0x20 } else { 0 };
        if let Some(info) = self.information {
            out[0] |= 0x80; // VALID: the INFORMATION field is meaningful
                            // The fixed format holds 32 bits; tape residues fit.
            out[3..7].copy_from_slice(&(info as i32).to_be_bytes());
        }
        out[7] = 10; // additional sense length: bytes 8..18
        out[12] = self.asc;
        out[13] = self.ascq;
        out
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}, ASC/ASCQ {:02X}h/{:02X}h ({:?})",
            self.key,
            self.asc,
            self.ascq,
            self.condition()
        )?;
        if self.filemark {
            f.write_str(", filemark")?;
        }
        if self.eom {
            f.write_str(", EOM")?;
        }
        if self.ili {
            f.write_str(", ILI")?;
        }
        Ok(())
    }
}

fn parse_fixed(buf: &[u8]) -> Result<Sense, SenseError> {
    // Through ASCQ (byte 13); devices send at least 18 bytes, but a small
    // sense buffer may cut the sense-key-specific bytes, which we do not need.
    const NEED: usize = 14;
    if buf.len() < NEED {
        return Err(SenseError::Short {
            have: buf.len(),
            need: NEED,
        });
    }
    let valid = buf[0] & 0x80 != 0;
    let info = i32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    Ok(Sense {
        response_code: buf[0] & 0x7f,
        key: SenseKey::from_bits(buf[2]),
        asc: buf[12],
        ascq: buf[13],
        filemark: buf[2] & 0x80 != 0,
        eom: buf[2] & 0x40 != 0,
        ili: buf[2] & 0x20 != 0,
        information: valid.then_some(i64::from(info)),
    })
}

fn parse_descriptor(buf: &[u8]) -> Result<Sense, SenseError> {
    const NEED: usize = 8;
    if buf.len() < NEED {
        return Err(SenseError::Short {
            have: buf.len(),
            need: NEED,
        });
    }
    let mut sense = Sense {
        response_code: buf[0] & 0x7f,
        key: SenseKey::from_bits(buf[1]),
        asc: buf[2],
        ascq: buf[3],
        filemark: false,
        eom: false,
        ili: false,
        information: None,
    };
    // Descriptors run for ADDITIONAL SENSE LENGTH bytes, cut to what arrived.
    let end = (NEED + usize::from(buf[7])).min(buf.len());
    let mut rest = buf.get(NEED..end).unwrap_or(&[]);
    while let [kind, len, ..] = *rest {
        let total = 2 + usize::from(len);
        let Some(desc) = rest.get(..total) else {
            break; // truncated descriptor: keep what was decoded
        };
        match kind {
            // Information descriptor (SPC-4 4.5.2.2): VALID bit, 8-byte field.
            0x00 if desc.len() >= 12 && desc[2] & 0x80 != 0 => {
                let mut v = [0u8; 8];
                v.copy_from_slice(&desc[4..12]);
                sense.information = Some(i64::from_be_bytes(v));
            }
            // Stream commands descriptor (SSC-4): FILEMARK, EOM, ILI in byte 3.
            0x04 if desc.len() >= 4 => {
                sense.filemark = desc[3] & 0x80 != 0;
                sense.eom = desc[3] & 0x40 != 0;
                sense.ili = desc[3] & 0x20 != 0;
            }
            _ => {}
        }
        rest = &rest[total..];
    }
    Ok(sense)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_round_trip_with_information() {
        let mut s = Sense::new(SenseKey::NoSense, asc::FILEMARK_DETECTED);
        s.filemark = true;
        s.information = Some(-12);
        let bytes = s.to_fixed();
        assert_eq!(bytes[0], 0xf0);
        assert_eq!(bytes[2], 0x80);
        let back = Sense::parse(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.condition(), Condition::Filemark);
    }

    #[test]
    fn descriptor_format_with_stream_and_information() {
        let bytes = [
            0x72, 0x00, 0x00, 0x01, 0, 0, 0, 18, // header, 18 bytes of descriptors
            0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x10, 0x00, // information = 4096
            0x04, 0x02, 0x00, 0xa0, // stream: filemark + ILI
        ];
        let s = Sense::parse(&bytes).unwrap();
        assert_eq!(s.information, Some(4096));
        assert!(s.filemark && s.ili && !s.eom);
        assert_eq!(s.condition(), Condition::Filemark);
    }

    #[test]
    fn descriptor_truncated_descriptor_is_ignored() {
        let bytes = [0x72, 0x07, 0x74, 0x03, 0, 0, 0, 12, 0x00, 0x0a, 0x80];
        let s = Sense::parse(&bytes).unwrap();
        assert_eq!(s.condition(), Condition::IncorrectKey);
        assert_eq!(s.information, None);
    }

    #[test]
    fn named_conditions() {
        let c = |k, code| Sense::new(k, code).condition();
        assert_eq!(
            c(SenseKey::DataProtect, asc::KEY_REQUIRED),
            Condition::EncryptionKeyRequired
        );
        assert_eq!(
            c(SenseKey::DataProtect, asc::UNABLE_TO_DECRYPT_DATA),
            Condition::UnableToDecrypt
        );
        assert_eq!(c(SenseKey::NotReady, (0x3a, 0x02)), Condition::NoMedium);
        assert_eq!(
            c(SenseKey::NotReady, asc::BECOMING_READY),
            Condition::NotReady
        );
        assert_eq!(
            c(SenseKey::BlankCheck, asc::END_OF_DATA_DETECTED),
            Condition::EndOfData
        );
        assert_eq!(
            c(
                SenseKey::IllegalRequest,
                asc::INVALID_COMMAND_OPERATION_CODE
            ),
            Condition::InvalidOperationCode
        );
    }

    #[test]
    fn short_and_unknown_are_errors() {
        assert_eq!(Sense::parse(&[]), Err(SenseError::Empty));
        assert!(matches!(
            Sense::parse(&[0x70, 0, 5]),
            Err(SenseError::Short { .. })
        ));
        assert!(matches!(
            Sense::parse(&[0x72, 0, 5]),
            Err(SenseError::Short { .. })
        ));
        assert_eq!(Sense::parse(&[0x01; 20]), Err(SenseError::ResponseCode(1)));
    }
}
