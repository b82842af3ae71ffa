//! The raw-CDB transport every drive and the emulator share, the CDBs the
//! agent sends, and small host-side helpers (what a backup application does).
//!
//! A transport moves one CDB and its buffers and reports the SCSI status,
//! sense bytes and data-in; it interprets nothing. [`cdb`] builds and parses
//! the command blocks (SPC-4 and SSC-4 layouts), [`data`] the parameter data
//! of INQUIRY and READ ATTRIBUTE, [`host`] the block I/O of an application.
#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::sense::{Sense, SenseError};

/// SCSI status codes (SAM-5) the agent distinguishes.
pub mod status {
    /// GOOD.
    pub const GOOD: u8 = 0x00;
    /// CHECK CONDITION: sense data describes the error.
    pub const CHECK_CONDITION: u8 = 0x02;
    /// BUSY.
    pub const BUSY: u8 = 0x08;
    /// RESERVATION CONFLICT.
    pub const RESERVATION_CONFLICT: u8 = 0x18;
}

/// Which way data moves, with the data-out bytes or the allocation length.
pub enum DataDirection {
    /// No data phase.
    None,
    /// Data out. Zeroized on drop: SECURITY PROTOCOL OUT pages carry keys.
    ToDevice(Zeroizing<Vec<u8>>),
    /// Data in, at most this many bytes (the allocation length).
    FromDevice(usize),
}

impl DataDirection {
    /// Data out, taking ownership of (and later zeroizing) the buffer.
    pub fn to_device(data: Vec<u8>) -> DataDirection {
        DataDirection::ToDevice(Zeroizing::new(data))
    }
}

// Never prints data-out bytes: they may be a key.
impl fmt::Debug for DataDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirection::None => f.write_str("None"),
            DataDirection::ToDevice(d) => write!(f, "ToDevice({} bytes)", d.len()),
            DataDirection::FromDevice(n) => write!(f, "FromDevice({n})"),
        }
    }
}

/// What the device answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScsiReply {
    /// SCSI status byte (see [`status`]).
    pub status: u8,
    /// Sense bytes (autosense), empty unless CHECK CONDITION.
    pub sense: Vec<u8>,
    /// Data-in actually transferred.
    pub data: Vec<u8>,
}

impl ScsiReply {
    /// A GOOD reply with data-in.
    pub fn good(data: Vec<u8>) -> ScsiReply {
        ScsiReply {
            status: status::GOOD,
            sense: Vec::new(),
            data,
        }
    }

    /// A CHECK CONDITION reply with fixed-format sense and optional data-in.
    pub fn check(sense: &Sense, data: Vec<u8>) -> ScsiReply {
        ScsiReply {
            status: status::CHECK_CONDITION,
            sense: sense.to_fixed(),
            data,
        }
    }
}

/// The transport could not carry the command (no SCSI status to report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// An operating-system error (open, ioctl, socket).
    #[error("{context}: {source}")]
    Io {
        /// what was being done
        context: String,
        /// the OS error
        source: std::io::Error,
    },
    /// The command timed out in the host or the device.
    #[error("command timed out")]
    Timeout,
    /// The host adapter reported an error (Linux DID_* code).
    #[error("host adapter error {name} ({code:#06x})")]
    Host {
        /// host_status
        code: u16,
        /// its name
        name: &'static str,
    },
    /// The low-level driver reported an error (Linux DRIVER_* code).
    #[error("driver error {name} ({code:#06x})")]
    Driver {
        /// driver_status
        code: u16,
        /// its name
        name: &'static str,
    },
    /// The request cannot be expressed on this transport.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The peer (emulator socket) broke the protocol or went away.
    #[error("transport protocol: {0}")]
    Protocol(String),
}

impl TransportError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> TransportError {
        TransportError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Moves one CDB and its buffers to a device and back.
pub trait ScsiTransport: Send {
    /// Execute `cdb`; a CHECK CONDITION is an `Ok` reply with sense bytes.
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        timeout: Duration,
    ) -> Result<ScsiReply, TransportError>;
}

impl<T: ScsiTransport + ?Sized> ScsiTransport for Box<T> {
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        timeout: Duration,
    ) -> Result<ScsiReply, TransportError> {
        (**self).execute(cdb, dir, timeout)
    }
}

impl<T: ScsiTransport + ?Sized> ScsiTransport for &mut T {
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        timeout: Duration,
    ) -> Result<ScsiReply, TransportError> {
        (**self).execute(cdb, dir, timeout)
    }
}

/// A command that did not end in GOOD status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// CHECK CONDITION with decoded sense.
    #[error("{command}: {sense}")]
    Check {
        /// the command's name
        command: &'static str,
        /// the decoded sense
        sense: Sense,
    },
    /// CHECK CONDITION whose sense bytes could not be decoded.
    #[error("{command}: check condition with undecodable sense: {error}")]
    BadSense {
        /// the command's name
        command: &'static str,
        /// why the sense was undecodable
        error: SenseError,
    },
    /// Another non-GOOD status (BUSY, RESERVATION CONFLICT...).
    #[error("{command}: SCSI status {status:#04x}")]
    Status {
        /// the command's name
        command: &'static str,
        /// the status byte
        status: u8,
    },
}

impl CommandError {
    /// The sense of a CHECK CONDITION, if that is what this is.
    pub fn sense(&self) -> Option<&Sense> {
        match self {
            CommandError::Check { sense, .. } => Some(sense),
            _ => None,
        }
    }
}

/// Turn a reply into data-in or a [`CommandError`].
pub fn check_reply(command: &'static str, reply: ScsiReply) -> Result<Vec<u8>, CommandError> {
    match reply.status {
        status::GOOD => Ok(reply.data),
        status::CHECK_CONDITION => match Sense::parse(&reply.sense) {
            Ok(sense) => Err(CommandError::Check { command, sense }),
            Err(error) => Err(CommandError::BadSense { command, error }),
        },
        status => Err(CommandError::Status { command, status }),
    }
}

/// Execute and require GOOD status.
pub fn run<T: ScsiTransport + ?Sized>(
    t: &mut T,
    command: &'static str,
    cdb: &[u8],
    dir: DataDirection,
    timeout: Duration,
) -> Result<Vec<u8>, CommandError> {
    check_reply(command, t.execute(cdb, dir, timeout)?)
}

/// Command descriptor blocks: builders for the host, a parser for the device.
pub mod cdb {
    /// Operation codes (SPC-4, SSC-4).
    pub mod opcode {
        /// TEST UNIT READY.
        pub const TEST_UNIT_READY: u8 = 0x00;
        /// REWIND (SSC).
        pub const REWIND: u8 = 0x01;
        /// REQUEST SENSE.
        pub const REQUEST_SENSE: u8 = 0x03;
        /// READ(6) (SSC).
        pub const READ_6: u8 = 0x08;
        /// WRITE(6) (SSC).
        pub const WRITE_6: u8 = 0x0a;
        /// WRITE FILEMARKS(6) (SSC).
        pub const WRITE_FILEMARKS_6: u8 = 0x10;
        /// INQUIRY.
        pub const INQUIRY: u8 = 0x12;
        /// LOG SENSE (SPC-4).
        pub const LOG_SENSE: u8 = 0x4d;
        /// READ ATTRIBUTE.
        pub const READ_ATTRIBUTE: u8 = 0x8c;
        /// SECURITY PROTOCOL IN.
        pub const SECURITY_PROTOCOL_IN: u8 = 0xa2;
        /// SECURITY PROTOCOL OUT.
        pub const SECURITY_PROTOCOL_OUT: u8 = 0xb5;
    }

    /// Largest READ(6)/WRITE(6) transfer length (a 24-bit field).
    pub const MAX_TRANSFER_6: u32 = 0x00ff_ffff;

    /// A builder argument that does not fit its field.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("{field} {value} exceeds {max}")]
    pub struct FieldTooLarge {
        /// the field
        pub field: &'static str,
        /// the value given
        pub value: u64,
        /// the largest allowed
        pub max: u64,
    }

    /// TEST UNIT READY (SPC-4).
    pub fn test_unit_ready() -> [u8; 6] {
        [opcode::TEST_UNIT_READY, 0, 0, 0, 0, 0]
    }

    /// REWIND without IMMED (SSC-4): returns when positioned.
    pub fn rewind() -> [u8; 6] {
        [opcode::REWIND, 0, 0, 0, 0, 0]
    }

    /// REQUEST SENSE, fixed format.
    pub fn request_sense(alloc: u8) -> [u8; 6] {
        [opcode::REQUEST_SENSE, 0, 0, 0, alloc, 0]
    }

    /// Standard INQUIRY (EVPD 0).
    pub fn inquiry(alloc: u16) -> [u8; 6] {
        let a = alloc.to_be_bytes();
        [opcode::INQUIRY, 0, 0, a[0], a[1], 0]
    }

    /// INQUIRY of a vital product data page (EVPD 1), e.g. 80h unit serial.
    pub fn inquiry_vpd(page: u8, alloc: u16) -> [u8; 6] {
        let a = alloc.to_be_bytes();
        [opcode::INQUIRY, 0x01, page, a[0], a[1], 0]
    }

    fn len24(field: &'static str, len: u32) -> Result<[u8; 3], FieldTooLarge> {
        if len > MAX_TRANSFER_6 {
            return Err(FieldTooLarge {
                field,
                value: len.into(),
                max: MAX_TRANSFER_6.into(),
            });
        }
        let b = len.to_be_bytes();
        Ok([b[1], b[2], b[3]])
    }

    /// READ(6) in variable-block mode (FIXED 0); `sili` suppresses the
    /// incorrect-length check condition for blocks shorter than `len`.
    pub fn read6_variable(len: u32, sili: bool) -> Result<[u8; 6], FieldTooLarge> {
        let l = len24("transfer length", len)?;
        Ok([
            opcode::READ_6,
            if sili { 0x02 } else { 0 },
            l[0],
            l[1],
            l[2],
            0,
        ])
    }

    /// WRITE(6) of one variable-length block of `len` bytes.
    pub fn write6_variable(len: u32) -> Result<[u8; 6], FieldTooLarge> {
        let l = len24("transfer length", len)?;
        Ok([opcode::WRITE_6, 0, l[0], l[1], l[2], 0])
    }

    /// WRITE FILEMARKS(6), IMMED 0.
    pub fn write_filemarks6(count: u32) -> Result<[u8; 6], FieldTooLarge> {
        let l = len24("filemark count", count)?;
        Ok([opcode::WRITE_FILEMARKS_6, 0, l[0], l[1], l[2], 0])
    }

    /// LOG SENSE of `page` (SPC-4 table "LOG SENSE command"): PPC 0, SP 0,
    /// PC 01b (cumulative values), subpage 0, parameter pointer 0.
    pub fn log_sense(page: u8, alloc: u16) -> [u8; 10] {
        let a = alloc.to_be_bytes();
        [
            opcode::LOG_SENSE,
            0,
            0x40 | (page & 0x3f),
            0,
            0,
            0,
            0,
            a[0],
            a[1],
            0,
        ]
    }

    /// READ ATTRIBUTE, service action ATTRIBUTE VALUES (00h), volume and
    /// partition 0, starting at `first_attribute` (SPC-4).
    pub fn read_attribute_values(first_attribute: u16, alloc: u32) -> [u8; 16] {
        let f = first_attribute.to_be_bytes();
        let a = alloc.to_be_bytes();
        [
            opcode::READ_ATTRIBUTE,
            0x00,
            0,
            0,
            0,
            0, // logical volume number
            0,
            0, // partition number
            f[0],
            f[1],
            a[0],
            a[1],
            a[2],
            a[3],
            0,
            0,
        ]
    }

    /// SECURITY PROTOCOL IN (SPC-4), INC_512 0.
    pub fn security_protocol_in(protocol: u8, specific: u16, alloc: u32) -> [u8; 12] {
        let s = specific.to_be_bytes();
        let a = alloc.to_be_bytes();
        [
            opcode::SECURITY_PROTOCOL_IN,
            protocol,
            s[0],
            s[1],
            0,
            0,
            a[0],
            a[1],
            a[2],
            a[3],
            0,
            0,
        ]
    }

    /// SECURITY PROTOCOL OUT (SPC-4), INC_512 0.
    pub fn security_protocol_out(protocol: u8, specific: u16, len: u32) -> [u8; 12] {
        let s = specific.to_be_bytes();
        let l = len.to_be_bytes();
        [
            opcode::SECURITY_PROTOCOL_OUT,
            protocol,
            s[0],
            s[1],
            0,
            0,
            l[0],
            l[1],
            l[2],
            l[3],
            0,
            0,
        ]
    }

    /// A decoded CDB, as the device side sees it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Command {
        /// TEST UNIT READY.
        TestUnitReady,
        /// REWIND.
        Rewind {
            /// return before the rewind completes
            immed: bool,
        },
        /// REQUEST SENSE.
        RequestSense {
            /// descriptor format requested
            desc: bool,
            /// allocation length
            alloc: u8,
        },
        /// INQUIRY.
        Inquiry {
            /// vital product data requested
            evpd: bool,
            /// VPD page code
            page: u8,
            /// allocation length
            alloc: u16,
        },
        /// READ(6).
        Read6 {
            /// fixed-block mode
            fixed: bool,
            /// suppress incorrect length indicator
            sili: bool,
            /// transfer length (bytes in variable mode)
            len: u32,
        },
        /// WRITE(6).
        Write6 {
            /// fixed-block mode
            fixed: bool,
            /// transfer length
            len: u32,
        },
        /// WRITE FILEMARKS(6).
        WriteFilemarks6 {
            /// return early
            immed: bool,
            /// setmarks instead of filemarks (obsolete)
            wsmk: bool,
            /// how many
            count: u32,
        },
        /// LOG SENSE.
        LogSense {
            /// page control (01b: cumulative values)
            pc: u8,
            /// page code
            page: u8,
            /// subpage code
            subpage: u8,
            /// first parameter code to return
            parameter_pointer: u16,
            /// allocation length
            alloc: u16,
        },
        /// READ ATTRIBUTE.
        ReadAttribute {
            /// service action
            service_action: u8,
            /// logical volume number
            volume: u8,
            /// partition number
            partition: u8,
            /// first attribute identifier
            first_attribute: u16,
            /// allocation length
            alloc: u32,
        },
        /// SECURITY PROTOCOL IN.
        SecurityProtocolIn {
            /// security protocol
            protocol: u8,
            /// security protocol specific (page code)
            specific: u16,
            /// lengths in 512-byte units
            inc_512: bool,
            /// allocation length
            alloc: u32,
        },
        /// SECURITY PROTOCOL OUT.
        SecurityProtocolOut {
            /// security protocol
            protocol: u8,
            /// security protocol specific (page code)
            specific: u16,
            /// lengths in 512-byte units
            inc_512: bool,
            /// transfer length
            len: u32,
        },
    }

    /// Why a CDB was refused by the device side.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum CdbError {
        /// Zero-length CDB.
        #[error("empty CDB")]
        Empty,
        /// The operation code is not implemented.
        #[error("unsupported operation code {0:#04x}")]
        UnsupportedOpcode(u8),
        /// The CDB is shorter than its operation code requires.
        #[error("CDB of operation {opcode:#04x} is {len} bytes, needs {need}")]
        Short {
            /// operation code
            opcode: u8,
            /// bytes given
            len: usize,
            /// bytes needed
            need: usize,
        },
    }

    fn need(cdb: &[u8], n: usize) -> Result<&[u8], CdbError> {
        match cdb.get(..n) {
            Some(c) => Ok(c),
            None => Err(CdbError::Short {
                opcode: cdb.first().copied().unwrap_or(0),
                len: cdb.len(),
                need: n,
            }),
        }
    }

    fn be24(b: &[u8]) -> u32 {
        match b {
            [a, b, c, ..] => u32::from_be_bytes([0, *a, *b, *c]),
            _ => 0,
        }
    }

    fn be32(b: &[u8]) -> u32 {
        match b {
            [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        }
    }

    /// Decode the CDBs the emulator implements.
    pub fn parse(cdb: &[u8]) -> Result<Command, CdbError> {
        let op = *cdb.first().ok_or(CdbError::Empty)?;
        Ok(match op {
            opcode::TEST_UNIT_READY => {
                need(cdb, 6)?;
                Command::TestUnitReady
            }
            opcode::REWIND => {
                let c = need(cdb, 6)?;
                Command::Rewind {
                    immed: c[1] & 1 != 0,
                }
            }
            opcode::REQUEST_SENSE => {
                let c = need(cdb, 6)?;
                Command::RequestSense {
                    desc: c[1] & 1 != 0,
                    alloc: c[4],
                }
            }
            opcode::INQUIRY => {
                let c = need(cdb, 6)?;
                Command::Inquiry {
                    evpd: c[1] & 1 != 0,
                    page: c[2],
                    alloc: u16::from_be_bytes([c[3], c[4]]),
                }
            }
            opcode::READ_6 => {
                let c = need(cdb, 6)?;
                Command::Read6 {
                    fixed: c[1] & 1 != 0,
                    sili: c[1] & 2 != 0,
                    len: be24(&c[2..5]),
                }
            }
            opcode::WRITE_6 => {
                let c = need(cdb, 6)?;
                Command::Write6 {
                    fixed: c[1] & 1 != 0,
                    len: be24(&c[2..5]),
                }
            }
            opcode::WRITE_FILEMARKS_6 => {
                let c = need(cdb, 6)?;
                Command::WriteFilemarks6 {
                    immed: c[1] & 1 != 0,
                    wsmk: c[1] & 2 != 0,
                    count: be24(&c[2..5]),
                }
            }
            opcode::LOG_SENSE => {
                let c = need(cdb, 10)?;
                Command::LogSense {
                    pc: c[2] >> 6,
                    page: c[2] & 0x3f,
                    subpage: c[3],
                    parameter_pointer: u16::from_be_bytes([c[5], c[6]]),
                    alloc: u16::from_be_bytes([c[7], c[8]]),
                }
            }
            opcode::READ_ATTRIBUTE => {
                let c = need(cdb, 16)?;
                Command::ReadAttribute {
                    service_action: c[1] & 0x1f,
                    volume: c[5],
                    partition: c[7],
                    first_attribute: u16::from_be_bytes([c[8], c[9]]),
                    alloc: be32(&c[10..14]),
                }
            }
            opcode::SECURITY_PROTOCOL_IN => {
                let c = need(cdb, 12)?;
                Command::SecurityProtocolIn {
                    protocol: c[1],
                    specific: u16::from_be_bytes([c[2], c[3]]),
                    inc_512: c[4] & 0x80 != 0,
                    alloc: be32(&c[6..10]),
                }
            }
            opcode::SECURITY_PROTOCOL_OUT => {
                let c = need(cdb, 12)?;
                Command::SecurityProtocolOut {
                    protocol: c[1],
                    specific: u16::from_be_bytes([c[2], c[3]]),
                    inc_512: c[4] & 0x80 != 0,
                    len: be32(&c[6..10]),
                }
            }
            other => return Err(CdbError::UnsupportedOpcode(other)),
        })
    }
}

/// Parameter data of INQUIRY and READ ATTRIBUTE (SPC-4): encode for the
/// emulator, decode for the agent.
pub mod data {
    /// A malformed INQUIRY or attribute response.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum DataError {
        /// Fewer bytes than the layout needs.
        #[error("{what}: {have} bytes, need {need}")]
        Short {
            /// which structure
            what: &'static str,
            /// bytes present
            have: usize,
            /// bytes needed
            need: usize,
        },
        /// A page code other than the one asked for.
        #[error("{what}: page code {found:#04x}, expected {expected:#04x}")]
        PageCode {
            /// which structure
            what: &'static str,
            /// code asked for
            expected: u8,
            /// code returned
            found: u8,
        },
    }

    /// VPD page 80h, unit serial number.
    pub const VPD_UNIT_SERIAL: u8 = 0x80;
    /// VPD page 00h, supported VPD pages.
    pub const VPD_SUPPORTED_PAGES: u8 = 0x00;
    /// Peripheral device type of a tape drive (sequential-access device).
    pub const DEVICE_TYPE_SEQUENTIAL: u8 = 0x01;
    /// MAM attribute MEDIUM SERIAL NUMBER (SPC-4, medium type attributes).
    pub const ATTR_MEDIUM_SERIAL_NUMBER: u16 = 0x0401;
    /// MAM attribute BARCODE (SPC-4, host type attributes).
    pub const ATTR_BARCODE: u16 = 0x0806;

    /// The identification part of standard INQUIRY data.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct InquiryData {
        /// Peripheral device type (01h for tape).
        pub device_type: u8,
        /// T10 vendor identification, trimmed.
        pub vendor: String,
        /// Product identification, trimmed.
        pub product: String,
        /// Product revision level, trimmed.
        pub revision: String,
    }

    fn ascii(field: &[u8]) -> String {
        // Fields are space-padded printable ASCII; replace anything else.
        field
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    ' '
                }
            })
            .collect::<String>()
            .trim()
            .to_string()
    }

    fn padded(s: &str, n: usize) -> Vec<u8> {
        let mut v: Vec<u8> = s.bytes().take(n).collect();
        v.resize(n, b' ');
        v
    }

    impl InquiryData {
        /// Decode standard INQUIRY data (vendor at 8..16, product 16..32,
        /// revision 32..36).
        pub fn parse(buf: &[u8]) -> Result<InquiryData, DataError> {
            let b = buf.get(..36).ok_or(DataError::Short {
                what: "standard INQUIRY data",
                have: buf.len(),
                need: 36,
            })?;
            Ok(InquiryData {
                device_type: b[0] & 0x1f,
                vendor: ascii(&b[8..16]),
                product: ascii(&b[16..32]),
                revision: ascii(&b[32..36]),
            })
        }

        /// Encode 36 bytes of standard INQUIRY data: removable medium,
        /// version SPC-4 (06h), response data format 2.
        pub fn encode(&self) -> Vec<u8> {
            let mut out = vec![0u8; 8];
            out[0] = self.device_type & 0x1f;
            out[1] = 0x80; // RMB: removable medium
            out[2] = 0x06;
            out[3] = 0x02;
            out[4] = 31; // additional length: bytes 5..36
            out.extend(padded(&self.vendor, 8));
            out.extend(padded(&self.product, 16));
            out.extend(padded(&self.revision, 4));
            out
        }
    }

    /// Decode VPD page 80h (unit serial number).
    pub fn parse_unit_serial(buf: &[u8]) -> Result<String, DataError> {
        let what = "unit serial number VPD page";
        let head = buf.get(..4).ok_or(DataError::Short {
            what,
            have: buf.len(),
            need: 4,
        })?;
        if head[1] != VPD_UNIT_SERIAL {
            return Err(DataError::PageCode {
                what,
                expected: VPD_UNIT_SERIAL,
                found: head[1],
            });
        }
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let body = buf.get(4..4 + len).ok_or(DataError::Short {
            what,
            have: buf.len(),
            need: 4 + len,
        })?;
        Ok(ascii(body))
    }

    /// Encode a VPD page with the given body.
    pub fn encode_vpd(page: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![DEVICE_TYPE_SEQUENTIAL, page];
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        out.extend(len.to_be_bytes());
        out.extend(body.iter().take(usize::from(len)));
        out
    }

    /// One attribute of READ ATTRIBUTE data.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Attribute {
        /// Attribute identifier.
        pub id: u16,
        /// READ ONLY bit.
        pub read_only: bool,
        /// FORMAT: 0 binary, 1 ASCII, 2 text.
        pub format: u8,
        /// The value bytes.
        pub value: Vec<u8>,
    }

    impl Attribute {
        /// An ASCII attribute padded with spaces to `len` bytes.
        pub fn ascii(id: u16, read_only: bool, s: &str, len: usize) -> Attribute {
            Attribute {
                id,
                read_only,
                format: 1,
                value: padded(s, len),
            }
        }

        /// The value as trimmed text (for ASCII and text formats).
        pub fn text(&self) -> String {
            ascii(&self.value)
        }
    }

    /// Decode ATTRIBUTE VALUES data: AVAILABLE DATA (4 bytes), then
    /// attributes (identifier 2, flags 1, length 2, value).
    pub fn parse_attributes(buf: &[u8]) -> Result<Vec<Attribute>, DataError> {
        let what = "attribute values";
        let head = buf.get(..4).ok_or(DataError::Short {
            what,
            have: buf.len(),
            need: 4,
        })?;
        let available = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let end = usize::try_from(available)
            .ok()
            .and_then(|a| a.checked_add(4))
            .filter(|&e| e <= buf.len())
            .ok_or(DataError::Short {
                what,
                have: buf.len(),
                need: usize::try_from(available).unwrap_or(usize::MAX),
            })?;
        let mut rest = &buf[4..end];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let h = rest.get(..5).ok_or(DataError::Short {
                what: "attribute header",
                have: rest.len(),
                need: 5,
            })?;
            let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
            let value = rest.get(5..5 + len).ok_or(DataError::Short {
                what: "attribute value",
                have: rest.len(),
                need: 5 + len,
            })?;
            out.push(Attribute {
                id: u16::from_be_bytes([h[0], h[1]]),
                read_only: h[2] & 0x80 != 0,
                format: h[2] & 0x03,
                value: value.to_vec(),
            });
            rest = &rest[5 + len..];
        }
        Ok(out)
    }

    /// Log page 0Ch, Sequential-Access Device (SSC-4).
    pub const LOG_SEQUENTIAL_ACCESS: u8 = 0x0c;
    /// Page 0Ch parameter 0000h: bytes received from application clients by WRITE.
    pub const LOG_BYTES_FROM_APPLICATION: u16 = 0x0000;
    /// Page 0Ch parameter 0003h: bytes transferred to application clients by READ.
    pub const LOG_BYTES_TO_APPLICATION: u16 = 0x0003;

    /// One log parameter.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LogParameter {
        /// Parameter code.
        pub code: u16,
        /// Control byte (DU, TSD, ETC, TMC, FORMAT AND LINKING).
        pub control: u8,
        /// Value, big-endian.
        pub value: Vec<u8>,
    }

    impl LogParameter {
        /// The value as an unsigned integer; `None` when it is over 8 bytes.
        pub fn as_u64(&self) -> Option<u64> {
            if self.value.len() > 8 {
                return None;
            }
            Some(
                self.value
                    .iter()
                    .fold(0u64, |n, b| (n << 8) | u64::from(*b)),
            )
        }
    }

    /// Decode a log page (SPC-4 "Log page format"): page code (6 bits),
    /// subpage, PAGE LENGTH (2), then parameters (code 2, control 1, length 1,
    /// value).
    pub fn parse_log_page(buf: &[u8], page: u8) -> Result<Vec<LogParameter>, DataError> {
        let what = "log page";
        let head = buf.get(..4).ok_or(DataError::Short {
            what,
            have: buf.len(),
            need: 4,
        })?;
        if head[0] & 0x3f != page {
            return Err(DataError::PageCode {
                what,
                expected: page,
                found: head[0] & 0x3f,
            });
        }
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let mut rest = buf.get(4..4 + len).ok_or(DataError::Short {
            what,
            have: buf.len(),
            need: 4 + len,
        })?;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let h = rest.get(..4).ok_or(DataError::Short {
                what: "log parameter header",
                have: rest.len(),
                need: 4,
            })?;
            let n = usize::from(h[3]);
            let value = rest.get(4..4 + n).ok_or(DataError::Short {
                what: "log parameter value",
                have: rest.len(),
                need: 4 + n,
            })?;
            out.push(LogParameter {
                code: u16::from_be_bytes([h[0], h[1]]),
                control: h[2],
                value: value.to_vec(),
            });
            rest = &rest[4 + n..];
        }
        Ok(out)
    }

    /// Encode a log page.
    pub fn encode_log_page(page: u8, params: &[LogParameter]) -> Vec<u8> {
        let mut body = Vec::new();
        for p in params {
            let n = p.value.len().min(255);
            body.extend(p.code.to_be_bytes());
            body.push(p.control);
            body.push(n as u8);
            body.extend(&p.value[..n]);
        }
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        let mut out = vec![page & 0x3f, 0];
        out.extend(len.to_be_bytes());
        out.extend(body.iter().take(usize::from(len)));
        out
    }

    /// Encode ATTRIBUTE VALUES data.
    pub fn encode_attributes(attrs: &[Attribute]) -> Vec<u8> {
        let mut body = Vec::new();
        for a in attrs {
            let len = u16::try_from(a.value.len()).unwrap_or(u16::MAX);
            body.extend(a.id.to_be_bytes());
            body.push(if a.read_only { 0x80 } else { 0 } | (a.format & 0x03));
            body.extend(len.to_be_bytes());
            body.extend(a.value.iter().take(usize::from(len)));
        }
        let mut out = u32::try_from(body.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes()
            .to_vec();
        out.extend(body);
        out
    }
}

/// Block I/O as a backup application does it, over any transport.
pub mod host {
    use super::*;
    use crate::sense::Condition;

    /// Timeout for tape motion commands.
    pub const IO_TIMEOUT: Duration = Duration::from_secs(900);

    /// What a read found at the current position.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ReadOutcome {
        /// A block (the position moved past it).
        Block(Vec<u8>),
        /// A filemark (the position moved past it).
        Filemark,
        /// End of data (the position did not move).
        EndOfData,
    }

    /// Rewind to the beginning of the partition.
    pub fn rewind<T: ScsiTransport + ?Sized>(t: &mut T) -> Result<(), CommandError> {
        run(t, "REWIND", &cdb::rewind(), DataDirection::None, IO_TIMEOUT).map(|_| ())
    }

    /// TEST UNIT READY.
    pub fn test_unit_ready<T: ScsiTransport + ?Sized>(t: &mut T) -> Result<(), CommandError> {
        run(
            t,
            "TEST UNIT READY",
            &cdb::test_unit_ready(),
            DataDirection::None,
            Duration::from_secs(60),
        )
        .map(|_| ())
    }

    /// Write one variable-length block.
    pub fn write_block<T: ScsiTransport + ?Sized>(
        t: &mut T,
        data: &[u8],
    ) -> Result<(), CommandError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let cdb = cdb::write6_variable(len)
            .map_err(|e| TransportError::Invalid(format!("WRITE(6): {e}")))?;
        run(
            t,
            "WRITE(6)",
            &cdb,
            DataDirection::to_device(data.to_vec()),
            IO_TIMEOUT,
        )
        .map(|_| ())
    }

    /// Write `count` filemarks.
    pub fn write_filemarks<T: ScsiTransport + ?Sized>(
        t: &mut T,
        count: u32,
    ) -> Result<(), CommandError> {
        let cdb = cdb::write_filemarks6(count)
            .map_err(|e| TransportError::Invalid(format!("WRITE FILEMARKS(6): {e}")))?;
        run(
            t,
            "WRITE FILEMARKS(6)",
            &cdb,
            DataDirection::None,
            IO_TIMEOUT,
        )
        .map(|_| ())
    }

    /// Read the next block, of at most `max` bytes (SILI set, so shorter
    /// blocks are not errors). A block longer than `max` is an error (ILI).
    pub fn read_block<T: ScsiTransport + ?Sized>(
        t: &mut T,
        max: usize,
    ) -> Result<ReadOutcome, CommandError> {
        let len = u32::try_from(max).unwrap_or(u32::MAX);
        let cdb = cdb::read6_variable(len, true)
            .map_err(|e| TransportError::Invalid(format!("READ(6): {e}")))?;
        let reply = t.execute(&cdb, DataDirection::FromDevice(max), IO_TIMEOUT)?;
        match check_reply("READ(6)", reply) {
            Ok(data) => Ok(ReadOutcome::Block(data)),
            Err(CommandError::Check { sense, .. }) if sense.condition() == Condition::Filemark => {
                Ok(ReadOutcome::Filemark)
            }
            Err(CommandError::Check { sense, .. }) if sense.condition() == Condition::EndOfData => {
                Ok(ReadOutcome::EndOfData)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cdb::*;
    use super::data::*;

    #[test]
    fn builders_parse_back() {
        assert_eq!(parse(&test_unit_ready()), Ok(Command::TestUnitReady));
        assert_eq!(
            parse(&read6_variable(0x012345, true).unwrap()),
            Ok(Command::Read6 {
                fixed: false,
                sili: true,
                len: 0x012345
            })
        );
        assert_eq!(
            read6_variable(0x0100_0000, false).unwrap_err().max,
            0xff_ffff
        );
        assert_eq!(
            parse(&security_protocol_in(0x20, 0x0021, 8192)),
            Ok(Command::SecurityProtocolIn {
                protocol: 0x20,
                specific: 0x21,
                inc_512: false,
                alloc: 8192
            })
        );
        assert_eq!(
            parse(&read_attribute_values(ATTR_BARCODE, 512)),
            Ok(Command::ReadAttribute {
                service_action: 0,
                volume: 0,
                partition: 0,
                first_attribute: 0x0806,
                alloc: 512
            })
        );
    }

    #[test]
    fn short_and_unknown_cdbs_are_errors() {
        assert_eq!(parse(&[]), Err(CdbError::Empty));
        assert!(matches!(parse(&[0xa2, 0x20]), Err(CdbError::Short { .. })));
        assert_eq!(parse(&[0x28; 10]), Err(CdbError::UnsupportedOpcode(0x28)));
    }

    #[test]
    fn inquiry_round_trip() {
        let d = InquiryData {
            device_type: 1,
            vendor: "IBM".into(),
            product: "ULT3580-TD6".into(),
            revision: "J451".into(),
        };
        let bytes = d.encode();
        assert_eq!(bytes.len(), 36);
        assert_eq!(&bytes[8..16], b"IBM     ");
        assert_eq!(InquiryData::parse(&bytes), Ok(d));
        assert!(InquiryData::parse(&bytes[..35]).is_err());
    }

    #[test]
    fn attributes_round_trip_and_overrun() {
        let attrs = vec![
            Attribute::ascii(ATTR_MEDIUM_SERIAL_NUMBER, true, "MS1", 32),
            Attribute::ascii(ATTR_BARCODE, false, "CLV001L6", 32),
        ];
        let bytes = encode_attributes(&attrs);
        assert_eq!(&bytes[..4], &[0, 0, 0, 74]);
        let back = parse_attributes(&bytes).unwrap();
        assert_eq!(back, attrs);
        assert_eq!(back[1].text(), "CLV001L6");
        let mut bad = bytes.clone();
        bad[4 + 3..4 + 5].copy_from_slice(&[0, 200]);
        assert!(parse_attributes(&bad).is_err());
        for n in 0..bytes.len() {
            assert!(parse_attributes(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn unit_serial() {
        let page = encode_vpd(VPD_UNIT_SERIAL, b"1068000123  ");
        assert_eq!(parse_unit_serial(&page).unwrap(), "1068000123");
        assert!(parse_unit_serial(&page[..6]).is_err());
        assert!(parse_unit_serial(&encode_vpd(0x83, b"x")).is_err());
    }
}
