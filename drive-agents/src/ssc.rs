//! Tape data encryption pages (security protocol 20h, SSC-4 8.5) and the
//! SPC-4 list of supported security protocols (protocol 00h).
//!
//! Every page is a plain struct with `encode` and `decode`. Decoders refuse
//! short buffers, page lengths that run past the buffer and descriptors that
//! run past the page, with a typed [`SscError`]; they never index out of range.
//! Bytes after the declared page length are ignored: some host adapters hand
//! back the whole allocation, padded with zeros.
#![forbid(unsafe_code)]

use std::fmt;

use zeroize::Zeroizing;

/// SECURITY PROTOCOL 00h: security protocol information (SPC-4).
pub const PROTOCOL_INFORMATION: u8 = 0x00;
/// SECURITY PROTOCOL 20h: tape data encryption (SSC-4).
pub const PROTOCOL_TAPE_ENCRYPTION: u8 = 0x20;

/// Page codes (SECURITY PROTOCOL SPECIFIC values) of protocol 20h.
pub mod page {
    /// IN: Tape Data Encryption In Support page.
    pub const IN_SUPPORT: u16 = 0x0000;
    /// IN: Tape Data Encryption Out Support page.
    pub const OUT_SUPPORT: u16 = 0x0001;
    /// IN: Data Encryption Capabilities page.
    pub const CAPABILITIES: u16 = 0x0010;
    /// IN: Data Encryption Status page.
    pub const STATUS: u16 = 0x0020;
    /// IN: Next Block Encryption Status page.
    pub const NEXT_BLOCK_STATUS: u16 = 0x0021;
    /// OUT: Set Data Encryption page.
    pub const SET_DATA_ENCRYPTION: u16 = 0x0010;
}

/// SECURITY PROTOCOL SPECIFIC value of the supported protocols list (SPC-4).
pub const SUPPORTED_PROTOCOLS_LIST: u16 = 0x0000;

/// Security algorithm code of AES-256-GCM with a 128-bit tag, as LTO drives
/// report it in the algorithm descriptor.
pub const ALGORITHM_AES256_GCM: u32 = 0x0001_0014;

/// A malformed page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SscError {
    /// Fewer bytes than the fixed part of the page.
    #[error("{page}: {have} bytes, the fixed part needs {need}")]
    Short {
        /// page name
        page: &'static str,
        /// bytes present
        have: usize,
        /// bytes needed
        need: usize,
    },
    /// A different page code than the one decoded.
    #[error("{page}: page code {found:#06x}, expected {expected:#06x}")]
    PageCode {
        /// page name
        page: &'static str,
        /// code decoded
        expected: u16,
        /// code found
        found: u16,
    },
    /// The page length runs past the buffer (the reply was truncated).
    #[error("{page}: page length {declared} runs past the {available} bytes received")]
    Truncated {
        /// page name
        page: &'static str,
        /// bytes the page says follow the length field
        declared: usize,
        /// bytes that do
        available: usize,
    },
    /// The page length is too small for the page's fixed fields.
    #[error("{page}: page length {declared} is less than the fixed part ({need})")]
    PageLength {
        /// page name
        page: &'static str,
        /// declared page length
        declared: usize,
        /// minimum
        need: usize,
    },
    /// A descriptor runs past the end of the page.
    #[error("{page}: descriptor at byte {offset} runs past the end of the page")]
    DescriptorOverrun {
        /// page name
        page: &'static str,
        /// offset of the descriptor in the page
        offset: usize,
    },
    /// A list of 2-byte page codes with an odd length.
    #[error("{page}: odd list length {len}")]
    OddLength {
        /// page name
        page: &'static str,
        /// list length
        len: usize,
    },
    /// A key format other than 00h (plain key).
    #[error("unsupported key format {0:#04x}")]
    UnknownKeyFormat(u8),
    /// A value does not fit its field on encoding.
    #[error("{field} is {len} bytes, the field holds at most {max}")]
    TooLong {
        /// the field
        field: &'static str,
        /// length given
        len: usize,
        /// maximum
        max: usize,
    },
}

/// Checks the 4-byte page header and returns the page, cut at its length.
fn page_body<'a>(
    buf: &'a [u8],
    name: &'static str,
    code: u16,
    fixed: usize,
) -> Result<&'a [u8], SscError> {
    if buf.len() < fixed.max(4) {
        return Err(SscError::Short {
            page: name,
            have: buf.len(),
            need: fixed.max(4),
        });
    }
    let found = u16::from_be_bytes([buf[0], buf[1]]);
    if found != code {
        return Err(SscError::PageCode {
            page: name,
            expected: code,
            found,
        });
    }
    let declared = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if declared + 4 < fixed {
        return Err(SscError::PageLength {
            page: name,
            declared,
            need: fixed - 4,
        });
    }
    buf.get(..4 + declared).ok_or(SscError::Truncated {
        page: name,
        declared,
        available: buf.len() - 4,
    })
}

/// Prefixes `body` with the page code and its length.
fn with_header(code: u16, body: &[u8]) -> Result<Vec<u8>, SscError> {
    let len = u16::try_from(body.len()).map_err(|_| SscError::TooLong {
        field: "page",
        len: body.len(),
        max: usize::from(u16::MAX),
    })?;
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend(code.to_be_bytes());
    out.extend(len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// Supported security protocols list (SPC-4, SECURITY PROTOCOL IN protocol
/// 00h, specific 0000h): six reserved bytes, a 2-byte list length, the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedProtocols(pub Vec<u8>);

impl SupportedProtocols {
    /// Encode.
    pub fn encode(&self) -> Result<Vec<u8>, SscError> {
        let len = u16::try_from(self.0.len()).map_err(|_| SscError::TooLong {
            field: "protocol list",
            len: self.0.len(),
            max: usize::from(u16::MAX),
        })?;
        let mut out = vec![0u8; 6];
        out.extend(len.to_be_bytes());
        out.extend_from_slice(&self.0);
        Ok(out)
    }

    /// Decode.
    pub fn decode(buf: &[u8]) -> Result<Self, SscError> {
        const NAME: &str = "supported security protocols";
        if buf.len() < 8 {
            return Err(SscError::Short {
                page: NAME,
                have: buf.len(),
                need: 8,
            });
        }
        let len = usize::from(be16(buf, 6));
        let list = buf.get(8..8 + len).ok_or(SscError::Truncated {
            page: NAME,
            declared: len,
            available: buf.len() - 8,
        })?;
        Ok(SupportedProtocols(list.to_vec()))
    }
}

/// Tape Data Encryption In Support (0000h) or Out Support (0001h) page: a
/// list of 2-byte page codes after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedPages {
    /// Which list: [`page::IN_SUPPORT`] or [`page::OUT_SUPPORT`].
    pub code: u16,
    /// The page codes.
    pub pages: Vec<u16>,
}

impl SupportedPages {
    /// Encode.
    pub fn encode(&self) -> Result<Vec<u8>, SscError> {
        let body: Vec<u8> = self.pages.iter().flat_map(|p| p.to_be_bytes()).collect();
        with_header(self.code, &body)
    }

    /// Decode a list whose page code is `code`.
    pub fn decode(buf: &[u8], code: u16) -> Result<Self, SscError> {
        const NAME: &str = "tape data encryption support page";
        let page = page_body(buf, NAME, code, 4)?;
        let list = &page[4..];
        if list.len() % 2 != 0 {
            return Err(SscError::OddLength {
                page: NAME,
                len: list.len(),
            });
        }
        Ok(SupportedPages {
            code,
            pages: list
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        })
    }
}

/// One data encryption algorithm descriptor of the capabilities page
/// (SSC-4, "Data encryption algorithm descriptor"): 24 bytes in
/// SSC-4 (descriptor length 20). Fields are kept raw, as the standard
/// names them; [`crate::drive`] interprets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlgorithmDescriptor {
    /// ALGORITHM INDEX (byte 0): what Set Data Encryption selects.
    pub index: u8,
    /// AVFMV (byte 4 bit 7): algorithm valid for mounted volume.
    pub avfmv: bool,
    /// SDK_C (byte 4 bit 6): supplemental decryption keys supported.
    pub sdk_c: bool,
    /// MAC_C (byte 4 bit 5): message authentication codes.
    pub mac_c: bool,
    /// DELB_C (byte 4 bit 4): distinguishes encrypted blocks.
    pub delb_c: bool,
    /// DECRYPT_C (byte 4 bits 3-2): 0 none, 1 software, 2 hardware, 3 external.
    pub decrypt_c: u8,
    /// ENCRYPT_C (byte 4 bits 1-0): as DECRYPT_C.
    pub encrypt_c: u8,
    /// AVFCLP (byte 5 bits 7-6).
    pub avfclp: u8,
    /// NONCE_C (byte 5 bits 5-4): 0 not specified, 1 the drive generates,
    /// 2 the application must supply, 3 either.
    pub nonce_c: u8,
    /// KADF_C (byte 5 bit 3): KAD format supported.
    pub kadf_c: bool,
    /// VCELB_C (byte 5 bit 2).
    pub vcelb_c: bool,
    /// UKADF (byte 5 bit 1): U-KAD fixed length.
    pub ukadf: bool,
    /// AKADF (byte 5 bit 0): A-KAD fixed length.
    pub akadf: bool,
    /// MAXIMUM UNAUTHENTICATED KEY-ASSOCIATED DATA BYTES (bytes 6-7).
    pub max_ukad: u16,
    /// MAXIMUM AUTHENTICATED KEY-ASSOCIATED DATA BYTES (bytes 8-9).
    pub max_akad: u16,
    /// KEY SIZE in bytes (bytes 10-11).
    pub key_size: u16,
    /// DKAD_C (byte 12 bits 7-6).
    pub dkad_c: u8,
    /// EEMC_C (byte 12 bits 5-4).
    pub eemc_c: u8,
    /// RDMC_C (byte 12 bits 3-1).
    pub rdmc_c: u8,
    /// EAREM (byte 12 bit 0).
    pub earem: bool,
    /// MAXIMUM EEDK COUNT (byte 13 bits 3-0).
    pub max_eedk_count: u8,
    /// MSDK_COUNT (bytes 14-15).
    pub msdk_count: u16,
    /// MAXIMUM EEDK SIZE (bytes 16-17).
    pub max_eedk_size: u16,
    /// SECURITY ALGORITHM CODE (bytes 20-23).
    pub security_algorithm_code: u32,
}

impl AlgorithmDescriptor {
    /// Bytes after the 4-byte descriptor header, in SSC-4.
    pub const BODY_LEN: usize = 20;
    /// The fewest body bytes we accept: through KEY SIZE (SSC-3 drives send
    /// shorter descriptors; missing fields decode as zero).
    pub const MIN_BODY_LEN: usize = 8;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.index);
        out.push(0);
        out.extend((Self::BODY_LEN as u16).to_be_bytes());
        out.push(
            u8::from(self.avfmv) << 7
                | u8::from(self.sdk_c) << 6
                | u8::from(self.mac_c) << 5
                | u8::from(self.delb_c) << 4
                | (self.decrypt_c & 3) << 2
                | (self.encrypt_c & 3),
        );
        out.push(
            (self.avfclp & 3) << 6
                | (self.nonce_c & 3) << 4
                | u8::from(self.kadf_c) << 3
                | u8::from(self.vcelb_c) << 2
                | u8::from(self.ukadf) << 1
                | u8::from(self.akadf),
        );
        out.extend(self.max_ukad.to_be_bytes());
        out.extend(self.max_akad.to_be_bytes());
        out.extend(self.key_size.to_be_bytes());
        out.push(
            (self.dkad_c & 3) << 6
                | (self.eemc_c & 3) << 4
                | (self.rdmc_c & 7) << 1
                | u8::from(self.earem),
        );
        out.push(self.max_eedk_count & 0x0f);
        out.extend(self.msdk_count.to_be_bytes());
        out.extend(self.max_eedk_size.to_be_bytes());
        out.extend([0, 0]);
        out.extend(self.security_algorithm_code.to_be_bytes());
    }

    /// Decode one descriptor's body (after the 4-byte header).
    fn decode_body(index: u8, b: &[u8]) -> AlgorithmDescriptor {
        // Offsets below are within the descriptor (body starts at byte 4).
        let at = |n: usize| byte(b, n - 4);
        let b4 = at(4);
        let b5 = at(5);
        let b12 = at(12);
        let code = match b.get(16..20) {
            Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
            _ => 0,
        };
        AlgorithmDescriptor {
            index,
            avfmv: b4 & 0x80 != 0,
            sdk_c: b4 & 0x40 != 0,
            mac_c: b4 & 0x20 != 0,
            delb_c: b4 & 0x10 != 0,
            decrypt_c: (b4 >> 2) & 3,
            encrypt_c: b4 & 3,
            avfclp: b5 >> 6,
            nonce_c: (b5 >> 4) & 3,
            kadf_c: b5 & 0x08 != 0,
            vcelb_c: b5 & 0x04 != 0,
            ukadf: b5 & 0x02 != 0,
            akadf: b5 & 0x01 != 0,
            max_ukad: be16(b, 2),
            max_akad: be16(b, 4),
            key_size: be16(b, 6),
            dkad_c: b12 >> 6,
            eemc_c: (b12 >> 4) & 3,
            rdmc_c: (b12 >> 1) & 7,
            earem: b12 & 1 != 0,
            max_eedk_count: at(13) & 0x0f,
            msdk_count: be16(b, 10),
            max_eedk_size: be16(b, 12),
            security_algorithm_code: code,
        }
    }
}

/// Data Encryption Capabilities page (0010h, SSC-4): EXTDECC and
/// CFG_P in byte 4, bytes 5-19 reserved, algorithm descriptors from byte 20.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitiesPage {
    /// EXTDECC (byte 4 bits 3-2): external data encryption control capable.
    pub extdecc: u8,
    /// CFG_P (byte 4 bits 1-0): configuration prevented.
    pub cfg_p: u8,
    /// The algorithms.
    pub algorithms: Vec<AlgorithmDescriptor>,
}

impl CapabilitiesPage {
    const FIXED: usize = 20;

    /// Encode.
    pub fn encode(&self) -> Result<Vec<u8>, SscError> {
        let mut body = vec![0u8; Self::FIXED - 4];
        body[0] = (self.extdecc & 3) << 2 | (self.cfg_p & 3);
        for a in &self.algorithms {
            a.encode_into(&mut body);
        }
        with_header(page::CAPABILITIES, &body)
    }

    /// Decode.
    pub fn decode(buf: &[u8]) -> Result<Self, SscError> {
        const NAME: &str = "data encryption capabilities page";
        let p = page_body(buf, NAME, page::CAPABILITIES, Self::FIXED)?;
        let mut algorithms = Vec::new();
        let mut off = Self::FIXED;
        while off < p.len() {
            let overrun = SscError::DescriptorOverrun {
                page: NAME,
                offset: off,
            };
            let head = p.get(off..off + 4).ok_or(overrun.clone())?;
            let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
            if len < AlgorithmDescriptor::MIN_BODY_LEN {
                return Err(overrun);
            }
            let body = p.get(off + 4..off + 4 + len).ok_or(overrun)?;
            algorithms.push(AlgorithmDescriptor::decode_body(head[0], body));
            off += 4 + len;
        }
        Ok(CapabilitiesPage {
            extdecc: (p[4] >> 2) & 3,
            cfg_p: p[4] & 3,
            algorithms,
        })
    }
}

/// ENCRYPTION MODE (Set Data Encryption and status pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionMode {
    /// 00h: written blocks are not encrypted.
    Disable,
    /// 01h: written blocks arrive already encrypted (external).
    External,
    /// 02h: the drive encrypts written blocks with the set key.
    Encrypt,
    /// Any reserved value.
    Reserved(u8),
}

impl EncryptionMode {
    /// From the wire value.
    pub fn from_byte(v: u8) -> Self {
        match v {
            0 => Self::Disable,
            1 => Self::External,
            2 => Self::Encrypt,
            v => Self::Reserved(v),
        }
    }
    /// The wire value.
    pub fn byte(self) -> u8 {
        match self {
            Self::Disable => 0,
            Self::External => 1,
            Self::Encrypt => 2,
            Self::Reserved(v) => v,
        }
    }
}

/// DECRYPTION MODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptionMode {
    /// 00h: encrypted blocks are not decrypted.
    Disable,
    /// 01h: encrypted blocks are returned raw.
    Raw,
    /// 02h: blocks are decrypted; unencrypted blocks are errors.
    Decrypt,
    /// 03h: encrypted blocks are decrypted, plain blocks returned as they are.
    Mixed,
    /// Any reserved value.
    Reserved(u8),
}

impl DecryptionMode {
    /// From the wire value.
    pub fn from_byte(v: u8) -> Self {
        match v {
            0 => Self::Disable,
            1 => Self::Raw,
            2 => Self::Decrypt,
            3 => Self::Mixed,
            v => Self::Reserved(v),
        }
    }
    /// The wire value.
    pub fn byte(self) -> u8 {
        match self {
            Self::Disable => 0,
            Self::Raw => 1,
            Self::Decrypt => 2,
            Self::Mixed => 3,
            Self::Reserved(v) => v,
        }
    }
}

/// KEY DESCRIPTOR TYPE of a key-associated data descriptor.
pub mod kad_type {
    /// 00h: U-KAD, unauthenticated key-associated data.
    pub const UKAD: u8 = 0x00;
    /// 01h: A-KAD, authenticated key-associated data.
    pub const AKAD: u8 = 0x01;
    /// 02h: nonce value.
    pub const NONCE: u8 = 0x02;
    /// 03h: M-KAD, metadata key-associated data.
    pub const MKAD: u8 = 0x03;
}

/// AUTHENTICATED field values of KAD descriptors in the status pages.
pub mod authenticated {
    /// 1h: the descriptor is not authenticated by its nature (U-KAD).
    pub const NOT_AUTHENTICATED: u8 = 1;
    /// 2h: authentication not attempted (e.g. no key).
    pub const NOT_ATTEMPTED: u8 = 2;
    /// 3h: authenticated.
    pub const SUCCESS: u8 = 3;
    /// 4h: authentication failed.
    pub const FAILED: u8 = 4;
}

/// A key-associated data descriptor (SSC-4 r03 Table 197): type (byte 0),
/// AUTHENTICATED in byte 1 bits 2-0 (status pages only), 2-byte length,
/// the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KadDescriptor {
    /// KEY DESCRIPTOR TYPE (see [`kad_type`]).
    pub kind: u8,
    /// AUTHENTICATED (see [`authenticated`]); 0 in Set Data Encryption.
    pub authenticated: u8,
    /// The descriptor bytes.
    pub data: Vec<u8>,
}

fn encode_kads(kads: &[KadDescriptor], out: &mut Vec<u8>) -> Result<(), SscError> {
    for k in kads {
        let len = u16::try_from(k.data.len()).map_err(|_| SscError::TooLong {
            field: "key-associated data descriptor",
            len: k.data.len(),
            max: usize::from(u16::MAX),
        })?;
        out.push(k.kind);
        out.push(k.authenticated & 0x07);
        out.extend(len.to_be_bytes());
        out.extend_from_slice(&k.data);
    }
    Ok(())
}

/// Decode the KAD descriptors filling `p[off..]`.
fn decode_kads(
    p: &[u8],
    mut off: usize,
    name: &'static str,
) -> Result<Vec<KadDescriptor>, SscError> {
    let mut out = Vec::new();
    while off < p.len() {
        let overrun = SscError::DescriptorOverrun {
            page: name,
            offset: off,
        };
        let head = p.get(off..off + 4).ok_or(overrun.clone())?;
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = p.get(off + 4..off + 4 + len).ok_or(overrun)?;
        out.push(KadDescriptor {
            kind: head[0],
            authenticated: head[1] & 0x07,
            data: data.to_vec(),
        });
        off += 4 + len;
    }
    Ok(out)
}

/// The key-associated data of a key or a block, by kind. The agent puts the
/// key's identifier here; the drive records it with every block it encrypts.
/// Empty means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyAssociatedData {
    /// A-KAD: authenticated along with the data (tampering is detected).
    pub authenticated: Vec<u8>,
    /// U-KAD: recorded in clear, not authenticated.
    pub unauthenticated: Vec<u8>,
    /// Nonce, when the application supplies it or the drive reports it.
    pub nonce: Vec<u8>,
    /// M-KAD: metadata.
    pub metadata: Vec<u8>,
}

impl KeyAssociatedData {
    /// Whether no kind is present.
    pub fn is_empty(&self) -> bool {
        self.authenticated.is_empty()
            && self.unauthenticated.is_empty()
            && self.nonce.is_empty()
            && self.metadata.is_empty()
    }

    /// Descriptors for a Set Data Encryption page (AUTHENTICATED 0), in type order.
    pub fn to_descriptors(&self) -> Vec<KadDescriptor> {
        [
            (kad_type::UKAD, &self.unauthenticated),
            (kad_type::AKAD, &self.authenticated),
            (kad_type::NONCE, &self.nonce),
            (kad_type::MKAD, &self.metadata),
        ]
        .into_iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(kind, d)| KadDescriptor {
            kind,
            authenticated: 0,
            data: d.clone(),
        })
        .collect()
    }

    /// Gather descriptors by type; unknown types are skipped, and a repeated
    /// type keeps the last.
    pub fn from_descriptors(kads: &[KadDescriptor]) -> Self {
        let mut out = Self::default();
        for k in kads {
            let slot = match k.kind {
                kad_type::UKAD => &mut out.unauthenticated,
                kad_type::AKAD => &mut out.authenticated,
                kad_type::NONCE => &mut out.nonce,
                kad_type::MKAD => &mut out.metadata,
                _ => continue,
            };
            slot.clone_from(&k.data);
        }
        out
    }
}

/// Data Encryption Status page (0020h, SSC-4).
///
/// Byte 4: I_T NEXUS SCOPE (7-5), KEY SCOPE (2-0); 5 ENCRYPTION MODE;
/// 6 DECRYPTION MODE; 7 ALGORITHM INDEX; 8-11 KEY INSTANCE COUNTER;
/// 12: PARAMETERS CONTROL (6-4), VCELB (3), CEEMS (2-1), RDMD (0);
/// 13 KAD FORMAT; 14-15 ASDK COUNT; 16-23 reserved; KAD descriptors from 24.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPage {
    /// I_T NEXUS SCOPE.
    pub it_nexus_scope: u8,
    /// KEY SCOPE.
    pub key_scope: u8,
    /// ENCRYPTION MODE.
    pub encryption_mode: EncryptionMode,
    /// DECRYPTION MODE.
    pub decryption_mode: DecryptionMode,
    /// ALGORITHM INDEX.
    pub algorithm_index: u8,
    /// KEY INSTANCE COUNTER: changes whenever a key is set.
    pub key_instance_counter: u32,
    /// PARAMETERS CONTROL.
    pub parameters_control: u8,
    /// VCELB.
    pub vcelb: bool,
    /// CEEMS.
    pub ceems: u8,
    /// RDMD.
    pub rdmd: bool,
    /// KAD FORMAT.
    pub kad_format: u8,
    /// ASDK COUNT.
    pub asdk_count: u16,
    /// The current key's key-associated data.
    pub kads: Vec<KadDescriptor>,
}

impl StatusPage {
    const FIXED: usize = 24;

    /// Encode.
    pub fn encode(&self) -> Result<Vec<u8>, SscError> {
        let mut body = Vec::with_capacity(64);
        body.push((self.it_nexus_scope & 7) << 5 | (self.key_scope & 7));
        body.push(self.encryption_mode.byte());
        body.push(self.decryption_mode.byte());
        body.push(self.algorithm_index);
        body.extend(self.key_instance_counter.to_be_bytes());
        body.push(
            (self.parameters_control & 7) << 4
                | u8::from(self.vcelb) << 3
                | (self.ceems & 3) << 1
                | u8::from(self.rdmd),
        );
        body.push(self.kad_format);
        body.extend(self.asdk_count.to_be_bytes());
        body.extend([0u8; 8]);
        encode_kads(&self.kads, &mut body)?;
        with_header(page::STATUS, &body)
    }

    /// Decode.
    pub fn decode(buf: &[u8]) -> Result<Self, SscError> {
        const NAME: &str = "data encryption status page";
        let p = page_body(buf, NAME, page::STATUS, Self::FIXED)?;
        Ok(StatusPage {
            it_nexus_scope: p[4] >> 5,
            key_scope: p[4] & 7,
            encryption_mode: EncryptionMode::from_byte(p[5]),
            decryption_mode: DecryptionMode::from_byte(p[6]),
            algorithm_index: p[7],
            key_instance_counter: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
            parameters_control: (p[12] >> 4) & 7,
            vcelb: p[12] & 0x08 != 0,
            ceems: (p[12] >> 1) & 3,
            rdmd: p[12] & 1 != 0,
            kad_format: p[13],
            asdk_count: be16(p, 14),
            kads: decode_kads(p, Self::FIXED, NAME)?,
        })
    }
}

/// ENCRYPTION STATUS of the Next Block Encryption Status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEncryptionStatus {
    /// 0h: the drive cannot determine it.
    Incapable,
    /// 1h: not yet determined (the block has not been read).
    NotYetDetermined,
    /// 2h: the next logical object is not a logical block (a filemark, EOD).
    NotALogicalBlock,
    /// 3h: not encrypted.
    NotEncrypted,
    /// 4h: encrypted with an algorithm this drive does not support.
    UnsupportedAlgorithm,
    /// 5h: encrypted with a supported algorithm, and the drive can decrypt it.
    Encrypted,
    /// 6h: encrypted with a supported algorithm, but the drive is not enabled
    /// to decrypt it or does not hold its key.
    EncryptedKeyUnavailable,
    /// Any reserved value.
    Reserved(u8),
}

impl BlockEncryptionStatus {
    /// From the 4-bit wire value.
    pub fn from_bits(v: u8) -> Self {
        match v & 0x0f {
            0 => Self::Incapable,
            1 => Self::NotYetDetermined,
            2 => Self::NotALogicalBlock,
            3 => Self::NotEncrypted,
            4 => Self::UnsupportedAlgorithm,
            5 => Self::Encrypted,
            6 => Self::EncryptedKeyUnavailable,
            v => Self::Reserved(v),
        }
    }
    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Incapable => 0,
            Self::NotYetDetermined => 1,
            Self::NotALogicalBlock => 2,
            Self::NotEncrypted => 3,
            Self::UnsupportedAlgorithm => 4,
            Self::Encrypted => 5,
            Self::EncryptedKeyUnavailable => 6,
            Self::Reserved(v) => v & 0x0f,
        }
    }
}

/// Next Block Encryption Status page (0021h, SSC-4).
///
/// Bytes 4-11 LOGICAL OBJECT NUMBER; 12: COMPRESSION STATUS (7-4),
/// ENCRYPTION STATUS (3-0); 13 ALGORITHM INDEX; 14: EMES (1), RDMDS (0);
/// 15 KAD FORMAT; KAD descriptors from 16.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBlockPage {
    /// LOGICAL OBJECT NUMBER of the next object.
    pub logical_object_number: u64,
    /// COMPRESSION STATUS.
    pub compression_status: u8,
    /// ENCRYPTION STATUS.
    pub encryption_status: BlockEncryptionStatus,
    /// ALGORITHM INDEX the block was encrypted with.
    pub algorithm_index: u8,
    /// EMES.
    pub emes: bool,
    /// RDMDS.
    pub rdmds: bool,
    /// KAD FORMAT.
    pub kad_format: u8,
    /// The block's key-associated data.
    pub kads: Vec<KadDescriptor>,
}

impl NextBlockPage {
    const FIXED: usize = 16;

    /// Encode.
    pub fn encode(&self) -> Result<Vec<u8>, SscError> {
        let mut body = Vec::with_capacity(64);
        body.extend(self.logical_object_number.to_be_bytes());
        body.push((self.compression_status & 0x0f) << 4 | self.encryption_status.bits());
        body.push(self.algorithm_index);
        body.push(u8::from(self.emes) << 1 | u8::from(self.rdmds));
        body.push(self.kad_format);
        encode_kads(&self.kads, &mut body)?;
        with_header(page::NEXT_BLOCK_STATUS, &body)
    }

    /// Decode.
    pub fn decode(buf: &[u8]) -> Result<Self, SscError> {
        const NAME: &str = "next block encryption status page";
        let p = page_body(buf, NAME, page::NEXT_BLOCK_STATUS, Self::FIXED)?;
        let mut lon = [0u8; 8];
        lon.copy_from_slice(&p[4..12]);
        Ok(NextBlockPage {
            logical_object_number: u64::from_be_bytes(lon),
            compression_status: p[12] >> 4,
            encryption_status: BlockEncryptionStatus::from_bits(p[12]),
            algorithm_index: p[13],
            emes: p[14] & 0x02 != 0,
            rdmds: p[14] & 0x01 != 0,
            kad_format: p[15],
            kads: decode_kads(p, Self::FIXED, NAME)?,
        })
    }
}

/// LOGICAL BLOCK ENCRYPTION KEY FORMAT 00h: the key in plain.
pub const KEY_FORMAT_PLAIN: u8 = 0x00;

/// Set Data Encryption page (0010h, SECURITY PROTOCOL OUT, SSC-4).
///
/// Byte 4: SCOPE (7-5), LOCK (0); 5: CEEM (7-6), RDMC (5-4), SDK (3),
/// CKOD (2), CKORP (1), CKORL (0); 6 ENCRYPTION MODE; 7 DECRYPTION MODE;
/// 8 ALGORITHM INDEX; 9 KEY FORMAT; 10 KAD FORMAT; 11-17 reserved;
/// 18-19 KEY LENGTH; the key; KAD descriptors.
///
/// Holds the key: zeroized on drop, and `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SetDataEncryptionPage {
    /// SCOPE: 0 public, 1 local, 2 all I_T nexuses.
    pub scope: u8,
    /// LOCK: only this I_T nexus may change the parameters.
    pub lock: bool,
    /// CEEM: check external encryption mode.
    pub ceem: u8,
    /// RDMC: raw decryption mode control (0 default, 2 enable, 3 disable).
    pub rdmc: u8,
    /// SDK: supplemental decryption key.
    pub sdk: bool,
    /// CKOD: clear the key when the volume is demounted.
    pub ckod: bool,
    /// CKORP: clear the key on a persistent reservation preemption.
    pub ckorp: bool,
    /// CKORL: clear the key on reservation loss.
    pub ckorl: bool,
    /// ENCRYPTION MODE.
    pub encryption_mode: EncryptionMode,
    /// DECRYPTION MODE.
    pub decryption_mode: DecryptionMode,
    /// ALGORITHM INDEX.
    pub algorithm_index: u8,
    /// KAD FORMAT (0 unspecified, 1 binary, 2 ASCII).
    pub kad_format: u8,
    /// The key, plain (key format 00h).
    pub key: Zeroizing<Vec<u8>>,
    /// Key-associated data.
    pub kads: Vec<KadDescriptor>,
}

impl fmt::Debug for SetDataEncryptionPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetDataEncryptionPage")
            .field("scope", &self.scope)
            .field("lock", &self.lock)
            .field("ceem", &self.ceem)
            .field("rdmc", &self.rdmc)
            .field("sdk", &self.sdk)
            .field("ckod", &self.ckod)
            .field("ckorp", &self.ckorp)
            .field("ckorl", &self.ckorl)
            .field("encryption_mode", &self.encryption_mode)
            .field("decryption_mode", &self.decryption_mode)
            .field("algorithm_index", &self.algorithm_index)
            .field("kad_format", &self.kad_format)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("kads", &self.kads)
            .finish()
    }
}

impl SetDataEncryptionPage {
    const FIXED: usize = 20;

    /// A page turning encryption and decryption off, with no key.
    pub fn disable() -> Self {
        SetDataEncryptionPage {
            scope: 2,
            lock: false,
            ceem: 0,
            rdmc: 0,
            sdk: false,
            ckod: false,
            ckorp: false,
            ckorl: false,
            encryption_mode: EncryptionMode::Disable,
            decryption_mode: DecryptionMode::Disable,
            algorithm_index: 0,
            kad_format: 0,
            key: Zeroizing::new(Vec::new()),
            kads: Vec::new(),
        }
    }

    /// Encode; the result holds the key and is zeroized on drop.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SscError> {
        let key_len = u16::try_from(self.key.len()).map_err(|_| SscError::TooLong {
            field: "key",
            len: self.key.len(),
            max: usize::from(u16::MAX),
        })?;
        let mut body = Zeroizing::new(Vec::with_capacity(64 + self.key.len()));
        body.push((self.scope & 7) << 5 | u8::from(self.lock));
        body.push(
            (self.ceem & 3) << 6
                | (self.rdmc & 3) << 4
                | u8::from(self.sdk) << 3
                | u8::from(self.ckod) << 2
                | u8::from(self.ckorp) << 1
                | u8::from(self.ckorl),
        );
        body.push(self.encryption_mode.byte());
        body.push(self.decryption_mode.byte());
        body.push(self.algorithm_index);
        body.push(KEY_FORMAT_PLAIN);
        body.push(self.kad_format);
        body.extend([0u8; 7]);
        body.extend(key_len.to_be_bytes());
        body.extend_from_slice(&self.key);
        encode_kads(&self.kads, &mut body)?;
        // Built by hand rather than with_header() so no unzeroized copy is made.
        let len = u16::try_from(body.len()).map_err(|_| SscError::TooLong {
            field: "page",
            len: body.len(),
            max: usize::from(u16::MAX),
        })?;
        let mut out = Zeroizing::new(Vec::with_capacity(4 + body.len()));
        out.extend(page::SET_DATA_ENCRYPTION.to_be_bytes());
        out.extend(len.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decode (the emulator's side); key formats other than plain are refused.
    pub fn decode(buf: &[u8]) -> Result<Self, SscError> {
        const NAME: &str = "set data encryption page";
        let p = page_body(buf, NAME, page::SET_DATA_ENCRYPTION, Self::FIXED)?;
        if p[9] != KEY_FORMAT_PLAIN {
            return Err(SscError::UnknownKeyFormat(p[9]));
        }
        let key_len = usize::from(be16(p, 18));
        let key = p
            .get(Self::FIXED..Self::FIXED + key_len)
            .ok_or(SscError::DescriptorOverrun {
                page: NAME,
                offset: Self::FIXED,
            })?;
        Ok(SetDataEncryptionPage {
            scope: p[4] >> 5,
            lock: p[4] & 1 != 0,
            ceem: p[5] >> 6,
            rdmc: (p[5] >> 4) & 3,
            sdk: p[5] & 0x08 != 0,
            ckod: p[5] & 0x04 != 0,
            ckorp: p[5] & 0x02 != 0,
            ckorl: p[5] & 0x01 != 0,
            encryption_mode: EncryptionMode::from_byte(p[6]),
            decryption_mode: DecryptionMode::from_byte(p[7]),
            algorithm_index: p[8],
            kad_format: p[10],
            key: Zeroizing::new(key.to_vec()),
            kads: decode_kads(p, Self::FIXED + key_len, NAME)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kad_round_trip_by_kind() {
        let kad = KeyAssociatedData {
            authenticated: b"A".to_vec(),
            unauthenticated: b"U".to_vec(),
            nonce: Vec::new(),
            metadata: b"M".to_vec(),
        };
        let d = kad.to_descriptors();
        assert_eq!(d.len(), 3);
        assert_eq!(KeyAssociatedData::from_descriptors(&d), kad);
    }

    #[test]
    fn debug_hides_the_key() {
        let mut p = SetDataEncryptionPage::disable();
        p.key = Zeroizing::new(vec![0xab; 32]);
        let s = format!("{p:?}");
        assert!(s.contains("<32 bytes>"));
        assert!(!s.contains("171") && !s.to_lowercase().contains("ab, ab"));
    }

    #[test]
    fn padding_after_the_page_is_ignored() {
        let page = SupportedPages {
            code: page::IN_SUPPORT,
            pages: vec![0, 0x10],
        };
        let mut bytes = page.encode().unwrap();
        bytes.extend([0u8; 16]);
        assert_eq!(
            SupportedPages::decode(&bytes, page::IN_SUPPORT).unwrap(),
            page
        );
    }
}
