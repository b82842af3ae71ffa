//! The drive-agent protocol on the wire: small binary frames over mutual TLS.
//!
//! A frame is a 4-byte big-endian length and a body of at most [`MAX_FRAME`] bytes:
//! protocol major and minor version (1 byte each), message kind (1 byte), request ID
//! (4 bytes, echoed in the answer), then the message's fields in a fixed order.
//! Strings and byte strings carry a 2-byte length; optional fields a 1-byte 0/1 flag;
//! lists a 2-byte count. A receiver refuses another major version; it ignores bytes
//! after the fields it knows only when the sender's minor version is newer than its
//! own, so a minor version may append fields.
//!
//! Why not KMIP: a drive's key request needs data-unit semantics KMIP does not have,
//! and a fixed binary layout decodes in a few hundred nanoseconds with no allocation
//! of untrusted sizes beyond the frame limit. Key material is written into and read
//! from buffers that are zeroized on drop.

use zeroize::Zeroizing;

/// Protocol major version: a change here breaks compatibility.
pub const PROTOCOL_MAJOR: u8 = 1;
/// Protocol minor version: newer minors only append fields.
pub const PROTOCOL_MINOR: u8 = 0;
/// Largest frame body accepted, in bytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// Longest string field, in bytes.
pub const MAX_STRING: usize = 16 * 1024;
/// Most keys in one answer.
pub const MAX_KEYS: usize = 256;

/// What went wrong, as the node tells the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// The request is malformed or a field is invalid.
    InvalidRequest = 1,
    /// No (valid) agent certificate: enroll first.
    Unauthenticated = 2,
    /// The agent may not do this.
    Denied = 3,
    /// No such key or data unit (or none the agent may see).
    NotFound = 4,
    /// This node's pool is empty: ask another node.
    NoReadyKey = 5,
    /// The key's state or period does not allow this use.
    WrongState = 6,
    /// The node cannot serve now (shutting down, internal failure): ask another node.
    Unavailable = 7,
    /// The protocol version is not supported.
    UnsupportedVersion = 8,
    /// The enrollment token is unknown, used or expired.
    InvalidToken = 9,
}

impl ErrorCode {
    fn from_u16(v: u16) -> ErrorCode {
        match v {
            1 => ErrorCode::InvalidRequest,
            2 => ErrorCode::Unauthenticated,
            3 => ErrorCode::Denied,
            4 => ErrorCode::NotFound,
            5 => ErrorCode::NoReadyKey,
            6 => ErrorCode::WrongState,
            8 => ErrorCode::UnsupportedVersion,
            9 => ErrorCode::InvalidToken,
            _ => ErrorCode::Unavailable,
        }
    }

    /// Whether another node might answer differently (the agent should fail over).
    pub fn try_elsewhere(self) -> bool {
        matches!(self, ErrorCode::NoReadyKey | ErrorCode::Unavailable)
    }
}

/// A node as discovery reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Site.
    pub site: String,
    /// `host:port` of its agent listener.
    pub addr: String,
}

/// A key handed to a drive.
#[derive(Clone, PartialEq, Eq)]
pub struct WireKey {
    /// Key ID: what the drive records as key-associated data.
    pub key_id: String,
    /// The data unit it serves.
    pub data_unit_id: Option<String>,
    /// Length in bits.
    pub length: u32,
    /// Plaintext key.
    pub material: Zeroizing<Vec<u8>>,
    /// When it stops protecting new data, Unix seconds.
    pub protect_stop_date: Option<i64>,
    /// When it stops reading, Unix seconds.
    pub deactivation_date: Option<i64>,
    /// Fresh from the pool.
    pub new_key: bool,
}

impl std::fmt::Debug for WireKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireKey")
            .field("key_id", &self.key_id)
            .field("data_unit_id", &self.data_unit_id)
            .field("length", &self.length)
            .field("new_key", &self.new_key)
            .finish_non_exhaustive()
    }
}

/// Agent → node.
#[derive(Clone, PartialEq, Eq)]
pub enum Request {
    /// Who are you? (Allowed before authentication.)
    Hello {
        /// The agent's software version.
        agent_version: String,
    },
    /// Enroll with a one-time token and a CSR (allowed before authentication).
    Enroll {
        /// The `clvE_` token.
        token: Zeroizing<String>,
        /// PKCS#10 request, PEM; the private key stays with the agent.
        csr_pem: String,
    },
    /// Which nodes serve agents?
    Discover,
    /// A key to write a medium with.
    KeyForWrite {
        /// Barcode or volume serial.
        external_tag: Option<String>,
        /// The medium's own unique ID.
        external_unique_id: Option<String>,
    },
    /// Keys to read a medium: one by ID, or all of a data unit's.
    KeysForRead {
        /// The key ID from the tape's key-associated data.
        key_id: Option<String>,
        /// Barcode or volume serial.
        external_tag: Option<String>,
        /// The medium's own unique ID.
        external_unique_id: Option<String>,
    },
    /// What the drive did with a key.
    ReportUse {
        /// The key.
        key_id: String,
        /// Bytes written with it.
        bytes_written: u64,
        /// Bytes read with it.
        bytes_read: u64,
    },
    /// Are you there? (Also reports the agent's pool level.)
    Heartbeat,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Enroll { .. } => f.write_str("Enroll { .. }"),
            Request::Hello { agent_version } => write!(f, "Hello {{ {agent_version} }}"),
            Request::Discover => f.write_str("Discover"),
            Request::KeyForWrite {
                external_tag,
                external_unique_id,
            } => write!(
                f,
                "KeyForWrite {{ {external_tag:?}, {external_unique_id:?} }}"
            ),
            Request::KeysForRead {
                key_id,
                external_tag,
                external_unique_id,
            } => write!(
                f,
                "KeysForRead {{ {key_id:?}, {external_tag:?}, {external_unique_id:?} }}"
            ),
            Request::ReportUse {
                key_id,
                bytes_written,
                bytes_read,
            } => {
                write!(f, "ReportUse {{ {key_id}, {bytes_written}, {bytes_read} }}")
            }
            Request::Heartbeat => f.write_str("Heartbeat"),
        }
    }
}

/// Node → agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Answer to Hello.
    Hello {
        /// Node ID.
        node_id: String,
        /// Node name.
        node_name: String,
        /// Site.
        site: String,
        /// The agent's endpoint name, when it presented a valid certificate.
        endpoint: Option<String>,
    },
    /// Answer to Enroll.
    Enrolled {
        /// The agent's certificate, PEM.
        cert_pem: String,
        /// The cluster CA, PEM.
        ca_pem: String,
        /// The endpoint's name.
        endpoint: String,
    },
    /// Answer to Discover.
    Nodes(Vec<NodeEntry>),
    /// Answer to KeyForWrite and KeysForRead.
    Keys(Vec<WireKey>),
    /// Answer to ReportUse.
    Done,
    /// Answer to Heartbeat.
    Alive {
        /// Node clock, Unix milliseconds.
        now_ms: i64,
        /// Ready keys of the agent's key group on this node, if it has one.
        pool_ready: Option<i64>,
    },
    /// The request failed.
    Error {
        /// What kind of failure.
        code: ErrorCode,
        /// For people.
        message: String,
    },
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Too short for what it claims to hold.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A length or count over a limit.
    #[error("{0} too long")]
    TooLong(&'static str),
    /// Another major version.
    #[error("protocol version {0}.{1} is not supported (this side speaks {PROTOCOL_MAJOR}.{PROTOCOL_MINOR})")]
    Version(u8, u8),
    /// Unknown message kind.
    #[error("unknown message kind {0:#04x}")]
    Kind(u8),
    /// A field's value is invalid.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes after the last field, from a sender of the same or an older minor version.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// A decoded frame: request ID and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T> {
    /// Echoed in the answer.
    pub id: u32,
    /// The message.
    pub msg: T,
}

// --- writing -----------------------------------------------------------------------

struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

impl Writer {
    fn new(kind: u8, id: u32) -> Writer {
        let mut buf = Zeroizing::new(Vec::with_capacity(256));
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&[PROTOCOL_MAJOR, PROTOCOL_MINOR, kind]);
        buf.extend_from_slice(&id.to_be_bytes());
        Writer { buf }
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        // Callers keep fields under MAX_STRING; clamp rather than corrupt the frame.
        let b = &b[..b.len().min(MAX_STRING)];
        self.u16(b.len() as u16);
        self.buf.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
            None => self.u8(0),
        }
    }
    fn finish(mut self) -> Zeroizing<Vec<u8>> {
        let len = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf
    }
}

impl Request {
    fn kind(&self) -> u8 {
        match self {
            Request::Hello { .. } => 0x01,
            Request::Enroll { .. } => 0x02,
            Request::Discover => 0x03,
            Request::KeyForWrite { .. } => 0x04,
            Request::KeysForRead { .. } => 0x05,
            Request::ReportUse { .. } => 0x06,
            Request::Heartbeat => 0x07,
        }
    }

    /// The whole frame, length prefix included.
    pub fn encode(&self, id: u32) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(self.kind(), id);
        match self {
            Request::Hello { agent_version } => w.str(agent_version),
            Request::Enroll { token, csr_pem } => {
                w.str(token);
                w.str(csr_pem);
            }
            Request::Discover | Request::Heartbeat => {}
            Request::KeyForWrite {
                external_tag,
                external_unique_id,
            } => {
                w.opt_str(external_tag);
                w.opt_str(external_unique_id);
            }
            Request::KeysForRead {
                key_id,
                external_tag,
                external_unique_id,
            } => {
                w.opt_str(key_id);
                w.opt_str(external_tag);
                w.opt_str(external_unique_id);
            }
            Request::ReportUse {
                key_id,
                bytes_written,
                bytes_read,
            } => {
                w.str(key_id);
                w.i64(i64::try_from(*bytes_written).unwrap_or(i64::MAX));
                w.i64(i64::try_from(*bytes_read).unwrap_or(i64::MAX));
            }
        }
        w.finish()
    }

    /// Decodes a frame body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Frame<Request>, WireError> {
        let (mut r, kind, id) = Reader::open(body)?;
        let msg = match kind {
            0x01 => Request::Hello {
                agent_version: r.str("agent version")?,
            },
            0x02 => Request::Enroll {
                token: Zeroizing::new(r.str("token")?),
                csr_pem: r.str("CSR")?,
            },
            0x03 => Request::Discover,
            0x04 => Request::KeyForWrite {
                external_tag: r.opt_str("external tag")?,
                external_unique_id: r.opt_str("external unique ID")?,
            },
            0x05 => Request::KeysForRead {
                key_id: r.opt_str("key ID")?,
                external_tag: r.opt_str("external tag")?,
                external_unique_id: r.opt_str("external unique ID")?,
            },
            0x06 => Request::ReportUse {
                key_id: r.str("key ID")?,
                bytes_written: u64::try_from(r.i64("bytes written")?)
                    .map_err(|_| WireError::Invalid("bytes written"))?,
                bytes_read: u64::try_from(r.i64("bytes read")?)
                    .map_err(|_| WireError::Invalid("bytes read"))?,
            },
            0x07 => Request::Heartbeat,
            k => return Err(WireError::Kind(k)),
        };
        r.end()?;
        Ok(Frame { id, msg })
    }
}

impl Response {
    fn kind(&self) -> u8 {
        match self {
            Response::Hello { .. } => 0x81,
            Response::Enrolled { .. } => 0x82,
            Response::Nodes(_) => 0x83,
            Response::Keys(_) => 0x84,
            Response::Done => 0x86,
            Response::Alive { .. } => 0x87,
            Response::Error { .. } => 0xFF,
        }
    }

    /// The whole frame, length prefix included; zeroized on drop (it may hold keys).
    pub fn encode(&self, id: u32) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(self.kind(), id);
        match self {
            Response::Hello {
                node_id,
                node_name,
                site,
                endpoint,
            } => {
                w.str(node_id);
                w.str(node_name);
                w.str(site);
                w.opt_str(endpoint);
            }
            Response::Enrolled {
                cert_pem,
                ca_pem,
                endpoint,
            } => {
                w.str(cert_pem);
                w.str(ca_pem);
                w.str(endpoint);
            }
            Response::Nodes(nodes) => {
                let nodes = &nodes[..nodes.len().min(usize::from(u16::MAX))];
                w.u16(nodes.len() as u16);
                for n in nodes {
                    w.str(&n.id);
                    w.str(&n.name);
                    w.str(&n.site);
                    w.str(&n.addr);
                }
            }
            Response::Keys(keys) => {
                let keys = &keys[..keys.len().min(MAX_KEYS)];
                w.u16(keys.len() as u16);
                for k in keys {
                    w.str(&k.key_id);
                    w.opt_str(&k.data_unit_id);
                    w.u32(k.length);
                    w.bytes(&k.material);
                    w.opt_i64(k.protect_stop_date);
                    w.opt_i64(k.deactivation_date);
                    w.u8(u8::from(k.new_key));
                }
            }
            Response::Done => {}
            Response::Alive { now_ms, pool_ready } => {
                w.i64(*now_ms);
                w.opt_i64(*pool_ready);
            }
            Response::Error { code, message } => {
                w.u16(*code as u16);
                w.str(message);
            }
        }
        w.finish()
    }

    /// Decodes a frame body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Frame<Response>, WireError> {
        let (mut r, kind, id) = Reader::open(body)?;
        let msg = match kind {
            0x81 => Response::Hello {
                node_id: r.str("node ID")?,
                node_name: r.str("node name")?,
                site: r.str("site")?,
                endpoint: r.opt_str("endpoint")?,
            },
            0x82 => Response::Enrolled {
                cert_pem: r.str("certificate")?,
                ca_pem: r.str("CA")?,
                endpoint: r.str("endpoint")?,
            },
            0x83 => {
                let n = usize::from(r.u16("node count")?);
                let mut nodes = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    nodes.push(NodeEntry {
                        id: r.str("node ID")?,
                        name: r.str("node name")?,
                        site: r.str("site")?,
                        addr: r.str("address")?,
                    });
                }
                Response::Nodes(nodes)
            }
            0x84 => {
                let n = usize::from(r.u16("key count")?);
                if n > MAX_KEYS {
                    return Err(WireError::TooLong("key list"));
                }
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(WireKey {
                        key_id: r.str("key ID")?,
                        data_unit_id: r.opt_str("data unit ID")?,
                        length: r.u32("key length")?,
                        material: Zeroizing::new(r.bytes("key")?.to_vec()),
                        protect_stop_date: r.opt_i64("protect stop date")?,
                        deactivation_date: r.opt_i64("deactivation date")?,
                        new_key: r.u8("new key flag")? != 0,
                    });
                }
                Response::Keys(keys)
            }
            0x86 => Response::Done,
            0x87 => Response::Alive {
                now_ms: r.i64("time")?,
                pool_ready: r.opt_i64("pool level")?,
            },
            0xFF => Response::Error {
                code: ErrorCode::from_u16(r.u16("error code")?),
                message: r.str("error message")?,
            },
            k => return Err(WireError::Kind(k)),
        };
        r.end()?;
        Ok(Frame { id, msg })
    }
}

// --- reading -----------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    newer_minor: bool,
}

impl<'a> Reader<'a> {
    fn open(body: &'a [u8]) -> Result<(Reader<'a>, u8, u32), WireError> {
        if body.len() > MAX_FRAME {
            return Err(WireError::TooLong("frame"));
        }
        let [major, minor, kind, a, b, c, d, ..] = *body else {
            return Err(WireError::Truncated("frame header"));
        };
        if major != PROTOCOL_MAJOR {
            return Err(WireError::Version(major, minor));
        }
        let r = Reader {
            buf: body,
            at: 7,
            newer_minor: minor > PROTOCOL_MINOR,
        };
        Ok((r, kind, u32::from_be_bytes([a, b, c, d])))
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Truncated(what))?;
        let s = self
            .buf
            .get(self.at..end)
            .ok_or(WireError::Truncated(what))?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let s = self.take(4, what)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        let s = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = usize::from(self.u16(what)?);
        if n > MAX_STRING {
            return Err(WireError::TooLong(what));
        }
        self.take(n, what)
    }
    fn str(&mut self, what: &'static str) -> Result<String, WireError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| WireError::Invalid(what))
    }
    fn opt_str(&mut self, what: &'static str) -> Result<Option<String>, WireError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.str(what).map(Some),
            _ => Err(WireError::Invalid(what)),
        }
    }
    fn opt_i64(&mut self, what: &'static str) -> Result<Option<i64>, WireError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.i64(what).map(Some),
            _ => Err(WireError::Invalid(what)),
        }
    }
    fn end(&self) -> Result<(), WireError> {
        let rest = self.buf.len() - self.at;
        if rest > 0 && !self.newer_minor {
            return Err(WireError::Trailing(rest));
        }
        Ok(())
    }
}

/// Reads the body length from a frame's 4-byte prefix, refusing frames over `max`.
pub fn body_len(prefix: [u8; 4], max: usize) -> Result<usize, WireError> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n > max.min(MAX_FRAME) {
        return Err(WireError::TooLong("frame"));
    }
    if n < 7 {
        return Err(WireError::Truncated("frame header"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_req(r: Request) {
        let f = r.encode(7);
        let n = body_len([f[0], f[1], f[2], f[3]], MAX_FRAME).unwrap();
        assert_eq!(n, f.len() - 4);
        let d = Request::decode(&f[4..]).unwrap();
        assert_eq!(d.id, 7);
        assert!(d.msg == r, "{:?} != {:?}", d.msg, r);
    }

    #[test]
    fn requests_roundtrip() {
        roundtrip_req(Request::Hello {
            agent_version: "0.1".into(),
        });
        roundtrip_req(Request::Enroll {
            token: Zeroizing::new("clvE_x".into()),
            csr_pem: "pem".into(),
        });
        roundtrip_req(Request::Discover);
        roundtrip_req(Request::KeyForWrite {
            external_tag: Some("T00001L6".into()),
            external_unique_id: None,
        });
        roundtrip_req(Request::KeysForRead {
            key_id: Some("k".into()),
            external_tag: None,
            external_unique_id: Some("u".into()),
        });
        roundtrip_req(Request::ReportUse {
            key_id: "k".into(),
            bytes_written: 10,
            bytes_read: 0,
        });
        roundtrip_req(Request::Heartbeat);
    }

    #[test]
    fn responses_roundtrip() {
        let keys = Response::Keys(vec![WireKey {
            key_id: "k".into(),
            data_unit_id: Some("d".into()),
            length: 256,
            material: Zeroizing::new(vec![7; 32]),
            protect_stop_date: Some(5),
            deactivation_date: None,
            new_key: true,
        }]);
        for r in [
            keys,
            Response::Nodes(vec![NodeEntry {
                id: "n".into(),
                name: "a".into(),
                site: "s".into(),
                addr: "127.0.0.1:5697".into(),
            }]),
            Response::Error {
                code: ErrorCode::NoReadyKey,
                message: "empty".into(),
            },
            Response::Alive {
                now_ms: 1,
                pool_ready: Some(3),
            },
            Response::Done,
        ] {
            let f = r.encode(9);
            let d = Response::decode(&f[4..]).unwrap();
            assert_eq!((d.id, &d.msg), (9, &r));
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let f = Request::KeysForRead {
            key_id: Some("key".into()),
            external_tag: Some("tag".into()),
            external_unique_id: Some("uid".into()),
        }
        .encode(1);
        for cut in 0..f.len() - 4 {
            assert!(Request::decode(&f[4..4 + cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn versions_and_trailing_bytes() {
        let mut f = Request::Discover.encode(1).to_vec();
        f[4] = 2;
        assert_eq!(Request::decode(&f[4..]), Err(WireError::Version(2, 0)));
        let mut f = Request::Discover.encode(1).to_vec();
        f.push(0);
        assert_eq!(Request::decode(&f[4..]), Err(WireError::Trailing(1)));
        // A newer minor may append fields.
        f[5] = PROTOCOL_MINOR + 1;
        assert!(Request::decode(&f[4..]).is_ok());
    }

    #[test]
    fn limits() {
        assert!(body_len((MAX_FRAME as u32 + 1).to_be_bytes(), MAX_FRAME).is_err());
        assert!(body_len(3u32.to_be_bytes(), MAX_FRAME).is_err());
        let mut f = Request::Discover.encode(1).to_vec();
        f[6] = 0x55;
        assert_eq!(Request::decode(&f[4..]), Err(WireError::Kind(0x55)));
        // An option flag other than 0 or 1.
        let mut f = Request::KeyForWrite {
            external_tag: None,
            external_unique_id: None,
        }
        .encode(1)
        .to_vec();
        f[11] = 2;
        assert_eq!(
            Request::decode(&f[4..]),
            Err(WireError::Invalid("external tag"))
        );
    }
}
