//! Emulated tapes as files: `<library>/<BARCODE>.tape`.
//!
//! Format, version 1 (all integers big-endian):
//!
//! ```text
//! "CLAVTAPE" u16 version=1  u16 barcode-length  barcode
//! record*:  u8 kind  u32 body-length  body
//!   kind 0 plain block:     the data
//!   kind 1 encrypted block: u8 algorithm-index  u8 kad-format
//!                           u16 len U-KAD  u16 len A-KAD  u16 len M-KAD
//!                           12-byte nonce  ciphertext with its 16-byte tag
//!   kind 2 filemark:        empty
//! ```
//!
//! Writing at a position truncates the file there and appends, as writing
//! a tape discards what followed. A record cut short by a crash reads as end
//! of data, like an interrupted write on a real tape.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::EmulatorError;
use crate::ssc::KeyAssociatedData;

const MAGIC: &[u8; 8] = b"CLAVTAPE";
const VERSION: u16 = 1;
const KIND_PLAIN: u8 = 0;
const KIND_ENCRYPTED: u8 = 1;
const KIND_FILEMARK: u8 = 2;
/// GCM nonce length.
pub(super) const NONCE_LEN: usize = 12;

/// How a block was encrypted (stored in clear beside the ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sealing {
    pub algorithm_index: u8,
    pub kad_format: u8,
    /// U-KAD, A-KAD (authenticated as associated data) and M-KAD; no nonce.
    pub kad: KeyAssociatedData,
    pub nonce: [u8; NONCE_LEN],
}

/// One logical object on tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Record {
    /// A block: plaintext, or ciphertext with its sealing.
    Block {
        sealing: Option<Sealing>,
        payload: Vec<u8>,
    },
    Filemark,
}

/// A loaded tape: its records in memory, its file for appending.
pub(super) struct Tape {
    pub barcode: String,
    file: File,
    pub records: Vec<Record>,
    /// File offset where each record starts, plus the end of the last.
    offsets: Vec<u64>,
}

/// The file of a barcode in a library directory.
pub fn tape_path(library: &Path, barcode: &str) -> PathBuf {
    library.join(format!("{barcode}.tape"))
}

/// Barcodes become file names: letters, digits, '-' and '_' only.
pub(super) fn check_barcode(barcode: &str) -> Result<(), EmulatorError> {
    let ok = !barcode.is_empty()
        && barcode.len() <= 32
        && barcode
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(EmulatorError::BadBarcode(barcode.to_string()))
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> EmulatorError {
    move |source| EmulatorError::Io { context, source }
}

fn put16(out: &mut Vec<u8>, n: usize) {
    out.extend(u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn encode_record(r: &Record) -> Vec<u8> {
    let (kind, body) = match r {
        Record::Filemark => (KIND_FILEMARK, Vec::new()),
        Record::Block {
            sealing: None,
            payload,
        } => (KIND_PLAIN, payload.clone()),
        Record::Block {
            sealing: Some(s),
            payload,
        } => {
            let k = &s.kad;
            let mut b = vec![s.algorithm_index, s.kad_format];
            put16(&mut b, k.unauthenticated.len());
            put16(&mut b, k.authenticated.len());
            put16(&mut b, k.metadata.len());
            b.extend(&k.unauthenticated);
            b.extend(&k.authenticated);
            b.extend(&k.metadata);
            b.extend(s.nonce);
            b.extend(payload);
            (KIND_ENCRYPTED, b)
        }
    };
    let mut out = vec![kind];
    out.extend(u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(body);
    out
}

/// A cursor that refuses to read past the end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn decode_body(kind: u8, body: &[u8]) -> Option<Record> {
    match kind {
        KIND_FILEMARK => Some(Record::Filemark),
        KIND_PLAIN => Some(Record::Block {
            sealing: None,
            payload: body.to_vec(),
        }),
        KIND_ENCRYPTED => {
            let mut c = Cursor(body);
            let algorithm_index = c.u8()?;
            let kad_format = c.u8()?;
            let (lu, la, lm) = (c.u16()?, c.u16()?, c.u16()?);
            let kad = KeyAssociatedData {
                unauthenticated: c.take(lu.into())?.to_vec(),
                authenticated: c.take(la.into())?.to_vec(),
                metadata: c.take(lm.into())?.to_vec(),
                nonce: Vec::new(),
            };
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(c.take(NONCE_LEN)?);
            Some(Record::Block {
                sealing: Some(Sealing {
                    algorithm_index,
                    kad_format,
                    kad,
                    nonce,
                }),
                payload: c.0.to_vec(),
            })
        }
        _ => None,
    }
}

impl Tape {
    /// Open the tape of `barcode`, creating a blank one if missing.
    pub fn open(library: &Path, barcode: &str) -> Result<Tape, EmulatorError> {
        check_barcode(barcode)?;
        let path = tape_path(library, barcode);
        let ctx = |what: &str| format!("{what} {}", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(ctx("open")))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(ctx("read")))?;
        let mut header = MAGIC.to_vec();
        header.extend(VERSION.to_be_bytes());
        put16(&mut header, barcode.len());
        header.extend(barcode.as_bytes());
        if bytes.is_empty() {
            file.write_all(&header).map_err(io(ctx("write")))?;
            bytes = header.clone();
        }
        if !bytes.starts_with(&header) {
            return Err(EmulatorError::Format {
                path,
                detail: "not a version 1 tape of this barcode".into(),
            });
        }
        let mut records = Vec::new();
        let mut offsets = vec![header.len() as u64];
        let mut c = Cursor(&bytes[header.len()..]);
        while !c.0.is_empty() {
            // A record that does not decode whole ends the tape.
            let Some(kind) = c.u8() else { break };
            let Some(len) = c.u32() else { break };
            let Some(body) = c.take(len as usize) else {
                break;
            };
            let Some(r) = decode_body(kind, body) else {
                break;
            };
            records.push(r);
            offsets.push((bytes.len() - c.0.len()) as u64);
        }
        Ok(Tape {
            barcode: barcode.to_string(),
            file,
            records,
            offsets,
        })
    }

    /// Write `record` at position `at`, discarding what followed.
    pub fn write_at(&mut self, at: usize, record: Record) -> Result<(), EmulatorError> {
        let at = at.min(self.records.len());
        // offsets always holds records.len() + 1 entries.
        let start = self.offsets.get(at).copied().unwrap_or(0);
        let bytes = encode_record(&record);
        let ctx = format!("write tape {}", self.barcode);
        self.file.set_len(start).map_err(io(ctx.clone()))?;
        self.file
            .seek(SeekFrom::Start(start))
            .map_err(io(ctx.clone()))?;
        self.file.write_all(&bytes).map_err(io(ctx))?;
        self.records.truncate(at);
        self.offsets.truncate(at + 1);
        self.records.push(record);
        self.offsets.push(start + bytes.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_overwrite_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tape::open(dir.path(), "T00001").unwrap();
        let sealed = Record::Block {
            sealing: Some(Sealing {
                algorithm_index: 1,
                kad_format: 1,
                kad: KeyAssociatedData {
                    authenticated: b"key-id".to_vec(),
                    unauthenticated: b"u".to_vec(),
                    nonce: Vec::new(),
                    metadata: Vec::new(),
                },
                nonce: [7; NONCE_LEN],
            }),
            payload: vec![1, 2, 3],
        };
        let plain = |b: u8| Record::Block {
            sealing: None,
            payload: vec![b; 4],
        };
        t.write_at(0, sealed.clone()).unwrap();
        t.write_at(1, Record::Filemark).unwrap();
        t.write_at(2, plain(9)).unwrap();
        t.write_at(1, plain(5)).unwrap();
        drop(t);
        let t = Tape::open(dir.path(), "T00001").unwrap();
        assert_eq!(t.records, vec![sealed, plain(5)]);
    }

    #[test]
    fn cut_record_reads_as_end_of_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tape::open(dir.path(), "T2").unwrap();
        t.write_at(
            0,
            Record::Block {
                sealing: None,
                payload: vec![1; 100],
            },
        )
        .unwrap();
        drop(t);
        let path = tape_path(dir.path(), "T2");
        let len = std::fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 10)
            .unwrap();
        assert!(Tape::open(dir.path(), "T2").unwrap().records.is_empty());
    }

    #[test]
    fn barcodes_are_file_names() {
        assert!(check_barcode("../etc").is_err());
        assert!(check_barcode("").is_err());
        assert!(check_barcode("CLV001L6").is_ok());
    }
}
