//! A userspace emulated LTO-6 drive: the drive side of every command the
//! agent and a backup application send, behind [`ScsiTransport`].
//!
//! `LtoDrive<EmulatedDrive>` therefore exercises the exact byte layouts a
//! real drive sees. Tapes are files in a library directory (see
//! [`tape_path`]), so they outlive the process and move between drives
//! sharing the directory. The drive encrypts with AES-256-GCM (algorithm
//! index 1). Like a real drive, it writes plaintext once the host has set
//! ENCRYPTION MODE DISABLE (SSC-4 has no mode that refuses writes); before any
//! Set Data Encryption page, and again after a key is cleared at unload, it
//! refuses writes by default, like a drive configured to need a key.
//!
//! It never panics on input: unknown or short CDBs and malformed pages end
//! in CHECK CONDITION, ILLEGAL REQUEST.
//!
//! Layout: `tape` (file format), `crypt` (block cipher), `blocks` (READ,
//! WRITE, WRITE FILEMARKS, REWIND), `security` (SECURITY PROTOCOL IN/OUT).
#![forbid(unsafe_code)]

mod blocks;
mod crypt;
mod security;
mod tape;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scsi::cdb::{self, CdbError, Command};
use crate::scsi::data::{self, Attribute, InquiryData};
use crate::scsi::{DataDirection, ScsiReply, ScsiTransport, TransportError};
use crate::sense::{asc, Sense, SenseKey};
use crate::ssc::{DecryptionMode, EncryptionMode, KeyAssociatedData};

pub use tape::tape_path;

/// INQUIRY identification of the emulated drive.
pub const VENDOR: &str = "CLAVIS";
/// Product identification: recognised as LTO-6.
pub const PRODUCT: &str = "ULTRIUM-HH6-EMU";
/// Firmware revision.
pub const REVISION: &str = "0001";
/// Largest block the drive writes (LTO's 8 MiB).
pub const MAX_BLOCK: usize = 8 * 1024 * 1024;
/// Largest U-KAD accepted.
pub const MAX_UKAD: usize = 32;
/// Largest A-KAD accepted (LTO-5 and later).
pub const MAX_AKAD: usize = 60;
/// Largest M-KAD accepted.
pub const MAX_MKAD: usize = 32;

/// An emulator operation (not a SCSI command) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// Library directory or tape file I/O.
    #[error("{context}: {source}")]
    Io {
        /// what was being done
        context: String,
        /// the OS error
        source: std::io::Error,
    },
    /// A barcode that cannot name a tape file.
    #[error("invalid barcode {0:?}: 1-32 letters, digits, '-' or '_'")]
    BadBarcode(String),
    /// A tape file that is not in the emulator's format.
    #[error("{}: {detail}", path.display())]
    Format {
        /// the file
        path: PathBuf,
        /// what is wrong
        detail: String,
    },
}

/// The drive's encryption parameters; the key is zeroized when replaced,
/// cleared or dropped.
struct Encryption {
    encryption: EncryptionMode,
    decryption: DecryptionMode,
    algorithm_index: u8,
    kad_format: u8,
    scope: u8,
    ckod: bool,
    rdmc: u8,
    key: Option<crypt::DataKey>,
    kad: KeyAssociatedData,
    /// The host set ENCRYPTION MODE DISABLE: writes go to tape in clear,
    /// whatever the drive's power-on policy.
    host_disabled: bool,
}

impl Encryption {
    fn off() -> Self {
        Encryption {
            encryption: EncryptionMode::Disable,
            decryption: DecryptionMode::Disable,
            algorithm_index: 0,
            kad_format: 0,
            scope: 0,
            ckod: false,
            rdmc: 0,
            key: None,
            kad: KeyAssociatedData::default(),
            host_disabled: false,
        }
    }

    /// The key usable for decryption, if decryption is on.
    fn decrypting_key(&self) -> Option<&crypt::DataKey> {
        match self.decryption {
            DecryptionMode::Decrypt | DecryptionMode::Mixed => self.key.as_ref(),
            _ => None,
        }
    }
}

/// An emulated LTO drive with an optional loaded tape.
pub struct EmulatedDrive {
    serial: String,
    library: PathBuf,
    tape: Option<tape::Tape>,
    /// Logical object number of the next object.
    position: usize,
    enc: Encryption,
    key_instance_counter: u32,
    require_key_for_write: bool,
    /// Bytes the application wrote and read since the tape was loaded (log page 0Ch).
    bytes_written: u64,
    bytes_read: u64,
}

/// A command's result: data-in, or sense (with data-in for short reads).
type Outcome = Result<Vec<u8>, (Sense, Vec<u8>)>;

fn fail(key: SenseKey, code: (u8, u8)) -> Outcome {
    Err((Sense::new(key, code), Vec::new()))
}

fn illegal(code: (u8, u8)) -> Outcome {
    fail(SenseKey::IllegalRequest, code)
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl EmulatedDrive {
    /// A drive with unit serial `serial`, keeping tapes in `library_dir`
    /// (created if missing). Empty, encryption off, key required for writes.
    pub fn new(
        serial: impl Into<String>,
        library_dir: impl Into<PathBuf>,
    ) -> Result<Self, EmulatorError> {
        let library = library_dir.into();
        std::fs::create_dir_all(&library).map_err(|source| EmulatorError::Io {
            context: format!("create library {}", library.display()),
            source,
        })?;
        Ok(EmulatedDrive {
            serial: serial.into(),
            library,
            tape: None,
            position: 0,
            enc: Encryption::off(),
            key_instance_counter: 0,
            require_key_for_write: true,
            bytes_written: 0,
            bytes_read: 0,
        })
    }

    /// Load the tape `barcode` (creating a blank one), positioned at the start.
    /// A tape already in the drive is unloaded first.
    pub fn load(&mut self, barcode: &str) -> Result<(), EmulatorError> {
        let t = tape::Tape::open(&self.library, barcode)?;
        self.unload();
        self.tape = Some(t);
        self.position = 0;
        self.bytes_written = 0;
        self.bytes_read = 0;
        Ok(())
    }

    /// Unload the tape, clearing the key if it was set with CKOD.
    pub fn unload(&mut self) {
        if self.tape.take().is_some() && self.enc.ckod {
            self.enc = Encryption::off();
            self.key_instance_counter = self.key_instance_counter.wrapping_add(1);
        }
        self.position = 0;
    }

    /// The loaded tape's barcode.
    pub fn loaded(&self) -> Option<&str> {
        self.tape.as_ref().map(|t| t.barcode.as_str())
    }

    /// The unit serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The library directory.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Whether writes are refused while the host has set no encryption
    /// mode (the default). Once the host sets DISABLE, writes are plaintext.
    pub fn set_require_key_for_write(&mut self, on: bool) {
        self.require_key_for_write = on;
    }

    /// The medium serial number derived from a barcode.
    pub fn medium_serial(barcode: &str) -> String {
        format!("EMU{:016X}", fnv1a(barcode))
    }

    /// Execute one CDB; every outcome is a reply, never a panic.
    pub fn handle(&mut self, cdb: &[u8], dir: DataDirection) -> ScsiReply {
        let alloc_in = match dir {
            DataDirection::FromDevice(n) => n,
            _ => 0,
        };
        let out = match cdb::parse(cdb) {
            Err(CdbError::UnsupportedOpcode(_)) | Err(CdbError::Empty) => {
                illegal(asc::INVALID_COMMAND_OPERATION_CODE)
            }
            Err(CdbError::Short { .. }) => illegal(asc::INVALID_FIELD_IN_CDB),
            Ok(cmd) => self.dispatch(cmd, dir),
        };
        match out {
            Ok(mut data) => {
                data.truncate(alloc_in);
                ScsiReply::good(data)
            }
            Err((sense, mut data)) => {
                data.truncate(alloc_in);
                ScsiReply::check(&sense, data)
            }
        }
    }

    fn dispatch(&mut self, cmd: Command, dir: DataDirection) -> Outcome {
        match cmd {
            Command::TestUnitReady => self.need_tape().map(|_| Vec::new()),
            Command::RequestSense { alloc, .. } => {
                let mut s = Sense::new(SenseKey::NoSense, asc::NO_ADDITIONAL).to_fixed();
                s.truncate(usize::from(alloc));
                Ok(s)
            }
            Command::Inquiry { evpd, page, alloc } => {
                let mut d = self.inquiry(evpd, page)?;
                d.truncate(usize::from(alloc));
                Ok(d)
            }
            Command::ReadAttribute {
                service_action,
                volume,
                partition,
                first_attribute,
                alloc,
            } => {
                if service_action != 0 || volume != 0 || partition != 0 {
                    return illegal(asc::INVALID_FIELD_IN_CDB);
                }
                let mut d = self.attributes(first_attribute)?;
                d.truncate(usize::try_from(alloc).unwrap_or(usize::MAX));
                Ok(d)
            }
            Command::LogSense {
                page,
                subpage,
                parameter_pointer,
                alloc,
                ..
            } => {
                if page != data::LOG_SEQUENTIAL_ACCESS || subpage != 0 {
                    return illegal(asc::INVALID_FIELD_IN_CDB);
                }
                let params: Vec<data::LogParameter> = [
                    (data::LOG_BYTES_FROM_APPLICATION, self.bytes_written),
                    // 0001h and 0002h (bytes to and from the medium) would differ
                    // from these only by compression, which the emulator lacks.
                    (0x0001, self.bytes_written),
                    (0x0002, self.bytes_read),
                    (data::LOG_BYTES_TO_APPLICATION, self.bytes_read),
                ]
                .into_iter()
                .filter(|(code, _)| *code >= parameter_pointer)
                .map(|(code, n)| data::LogParameter {
                    code,
                    control: 0,
                    value: n.to_be_bytes().to_vec(),
                })
                .collect();
                let mut d = data::encode_log_page(page, &params);
                d.truncate(usize::from(alloc));
                Ok(d)
            }
            Command::Rewind { .. } => self.rewind(),
            Command::Read6 { fixed, sili, len } => self.read6(fixed, sili, len),
            Command::Write6 { fixed, len } => self.write6(fixed, len, dir),
            Command::WriteFilemarks6 { wsmk, count, .. } => self.write_filemarks(wsmk, count),
            Command::SecurityProtocolIn {
                protocol,
                specific,
                inc_512,
                alloc,
            } => {
                if inc_512 {
                    return illegal(asc::INVALID_FIELD_IN_CDB);
                }
                let mut d = self.security_in(protocol, specific)?;
                d.truncate(usize::try_from(alloc).unwrap_or(usize::MAX));
                Ok(d)
            }
            Command::SecurityProtocolOut {
                protocol,
                specific,
                inc_512,
                len,
            } => {
                if inc_512 {
                    return illegal(asc::INVALID_FIELD_IN_CDB);
                }
                self.security_out(protocol, specific, len, dir)
            }
        }
    }

    fn need_tape(&mut self) -> Result<&mut tape::Tape, (Sense, Vec<u8>)> {
        match self.tape.as_mut() {
            Some(t) => Ok(t),
            None => Err((
                Sense::new(SenseKey::NotReady, asc::MEDIUM_NOT_PRESENT),
                Vec::new(),
            )),
        }
    }

    fn inquiry(&self, evpd: bool, page: u8) -> Outcome {
        if !evpd {
            if page != 0 {
                return illegal(asc::INVALID_FIELD_IN_CDB);
            }
            return Ok(InquiryData {
                device_type: data::DEVICE_TYPE_SEQUENTIAL,
                vendor: VENDOR.into(),
                product: PRODUCT.into(),
                revision: REVISION.into(),
            }
            .encode());
        }
        match page {
            data::VPD_SUPPORTED_PAGES => Ok(data::encode_vpd(
                page,
                &[data::VPD_SUPPORTED_PAGES, data::VPD_UNIT_SERIAL],
            )),
            data::VPD_UNIT_SERIAL => Ok(data::encode_vpd(page, self.serial.as_bytes())),
            _ => illegal(asc::INVALID_FIELD_IN_CDB),
        }
    }

    fn attributes(&mut self, first: u16) -> Outcome {
        let barcode = self.need_tape()?.barcode.clone();
        let attrs: Vec<Attribute> = [
            Attribute::ascii(
                data::ATTR_MEDIUM_SERIAL_NUMBER,
                true,
                &Self::medium_serial(&barcode),
                32,
            ),
            Attribute::ascii(data::ATTR_BARCODE, false, &barcode, 32),
        ]
        .into_iter()
        .filter(|a| a.id >= first)
        .collect();
        Ok(data::encode_attributes(&attrs))
    }
}

impl ScsiTransport for EmulatedDrive {
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        _timeout: Duration,
    ) -> Result<ScsiReply, TransportError> {
        Ok(self.handle(cdb, dir))
    }
}
