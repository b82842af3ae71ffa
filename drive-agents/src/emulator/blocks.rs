//! READ(6), WRITE(6), WRITE FILEMARKS(6) and REWIND on the emulated tape,
//! with the drive's encryption applied (SSC-4 variable-block semantics).
#![forbid(unsafe_code)]

use super::tape::Record;
use super::{crypt, fail, illegal, EmulatedDrive, Outcome, MAX_BLOCK};
use crate::scsi::DataDirection;
use crate::sense::{asc, Sense, SenseKey};
use crate::ssc::{DecryptionMode, EncryptionMode};

/// WRITE ERROR (0Ch/00h), reported when the tape file cannot be written.
const WRITE_ERROR: (u8, u8) = (0x0c, 0x00);

impl EmulatedDrive {
    pub(super) fn rewind(&mut self) -> Outcome {
        self.need_tape()?;
        self.position = 0;
        Ok(Vec::new())
    }

    fn append(&mut self, record: Record) -> Outcome {
        let at = self.position;
        let tape = self.need_tape()?;
        if tape.write_at(at, record).is_err() {
            return fail(SenseKey::MediumError, WRITE_ERROR);
        }
        self.position += 1;
        Ok(Vec::new())
    }

    pub(super) fn write6(&mut self, fixed: bool, len: u32, dir: DataDirection) -> Outcome {
        if fixed {
            return illegal(asc::INVALID_FIELD_IN_CDB); // variable-block mode only
        }
        self.need_tape()?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let data = match dir {
            DataDirection::ToDevice(d) if d.len() == len as usize && d.len() <= MAX_BLOCK => d,
            _ => return illegal(asc::INVALID_FIELD_IN_CDB),
        };
        let record = match (&self.enc.encryption, &self.enc.key) {
            (EncryptionMode::Encrypt, Some(key)) => {
                let Some((sealing, ct)) =
                    crypt::seal(key, &self.enc.kad, self.enc.kad_format, &data)
                else {
                    return fail(SenseKey::HardwareError, WRITE_ERROR);
                };
                Record::Block {
                    sealing: Some(sealing),
                    payload: ct,
                }
            }
            // SSC-4: DISABLE means "do not encrypt", not "do not write".
            _ if self.enc.host_disabled => Record::Block {
                sealing: None,
                payload: data.to_vec(),
            },
            _ if self.require_key_for_write => {
                return fail(SenseKey::DataProtect, asc::KEY_REQUIRED)
            }
            _ => Record::Block {
                sealing: None,
                payload: data.to_vec(),
            },
        };
        self.append(record)?;
        self.bytes_written = self.bytes_written.saturating_add(data.len() as u64);
        Ok(Vec::new())
    }

    pub(super) fn write_filemarks(&mut self, wsmk: bool, count: u32) -> Outcome {
        if wsmk {
            return illegal(asc::INVALID_FIELD_IN_CDB); // setmarks are obsolete
        }
        self.need_tape()?;
        for _ in 0..count {
            self.append(Record::Filemark)?;
        }
        Ok(Vec::new())
    }

    pub(super) fn read6(&mut self, fixed: bool, sili: bool, len: u32) -> Outcome {
        if fixed {
            return illegal(asc::INVALID_FIELD_IN_CDB);
        }
        let pos = self.position;
        // Borrow the tape field alone: the encryption state is read alongside.
        let Some(tape) = self.tape.as_ref() else {
            return fail(SenseKey::NotReady, asc::MEDIUM_NOT_PRESENT);
        };
        if len == 0 {
            return Ok(Vec::new());
        }
        let residue = |s: &mut Sense, n: i64| s.information = Some(n);
        let record = match tape.records.get(pos) {
            None => {
                let mut s = Sense::new(SenseKey::BlankCheck, asc::END_OF_DATA_DETECTED);
                residue(&mut s, i64::from(len));
                return Err((s, Vec::new()));
            }
            Some(r) => r,
        };
        let plain = match record {
            Record::Filemark => {
                self.position += 1;
                let mut s = Sense::new(SenseKey::NoSense, asc::FILEMARK_DETECTED);
                s.filemark = true;
                residue(&mut s, i64::from(len));
                return Err((s, Vec::new()));
            }
            Record::Block {
                sealing: None,
                payload,
            } => {
                if self.enc.decryption == DecryptionMode::Decrypt {
                    return fail(
                        SenseKey::DataProtect,
                        asc::UNENCRYPTED_DATA_WHILE_DECRYPTING,
                    );
                }
                payload.clone()
            }
            Record::Block {
                sealing: Some(s),
                payload,
            } => {
                if s.algorithm_index != crypt::ALGORITHM_INDEX {
                    return fail(SenseKey::DataProtect, asc::UNABLE_TO_DECRYPT_DATA);
                }
                // No key (or decryption off): the application's agent should
                // fetch the key named by the block's KAD; the position stays.
                let Some(key) = self.enc.decrypting_key() else {
                    return fail(SenseKey::DataProtect, asc::KEY_REQUIRED);
                };
                match crypt::open(key, s, payload) {
                    Some(p) => p,
                    None => return fail(SenseKey::DataProtect, asc::INCORRECT_DATA_ENCRYPTION_KEY),
                }
            }
        };
        self.position += 1;
        let want = len as usize;
        let diff = i64::from(len) - plain.len() as i64;
        if plain.len() > want || (plain.len() < want && !sili) {
            // Incorrect length: INFORMATION is requested minus actual.
            let mut s = Sense::new(SenseKey::NoSense, asc::NO_ADDITIONAL);
            s.ili = true;
            residue(&mut s, diff);
            let mut data = plain;
            data.truncate(want);
            self.bytes_read = self.bytes_read.saturating_add(data.len() as u64);
            return Err((s, data));
        }
        self.bytes_read = self.bytes_read.saturating_add(plain.len() as u64);
        Ok(plain)
    }
}
