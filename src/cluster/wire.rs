//! The node-to-node replication protocol: length-prefixed binary frames over TLS 1.3.
//!
//! ```text
//! frame   = u32 length (big-endian, of what follows) | u8 kind | body
//! string  = u16 length | UTF-8          bytes = u32 length | bytes
//! Hello   (1)  u16 major | u16 minor | string node_id | string replica_id
//! Welcome (2)  u16 major | u16 minor | string node_id | string replica_id | string site
//! Pull    (3)  u32 max_changes | u32 wait_ms | vv | audit vv
//! Batch   (4)  vv (the sender's) | u32 n | change * n
//!              | u32 n | bytes (audit record, JSON) * n | u32 n | bytes (checkpoint, JSON) * n
//! Join    (5)  string token | string name | string site | string cluster_addr | string replica_id
//!              | string tls_names (comma-separated)
//! Joined  (6)  string node_id | string cert_pem | string key_pkcs8_hex | string ca_pem | string master_key_id
//! Error   (7)  u16 code | string message
//! vv      = u32 n | (string origin | i64 seq) * n
//! change  = string origin | i64 seq | i64 hlc | string node_id | string entity
//!           | string entity_id | u8 op (0 upsert, 1 delete) | bytes payload | i64 created_at
//! ```
//!
//! A puller sends Hello, then Pull after Pull; the server answers each Pull with one
//! Batch, holding it up to `wait_ms` while it has nothing new (so an idle exchange
//! doubles as the heartbeat). Decoding never allocates more than the frame holds.

use crate::store::{Change, ChangeOp, VersionVector};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Protocol major version: a different major is refused.
pub const MAJOR: u16 = 1;
/// Protocol minor version: peers accept a minor at most one apart (rolling upgrades).
pub const MINOR: u16 = 0;
/// Largest frame accepted.
pub const MAX_FRAME: usize = 32 * 1024 * 1024;

/// Error codes carried by [`Message::Error`].
pub mod code {
    /// The protocol versions are too far apart.
    pub const VERSION: u16 = 1;
    /// The peer is not an active member of the cluster.
    pub const NOT_MEMBER: u16 = 2;
    /// The join token is unknown, used or expired.
    pub const BAD_TOKEN: u16 = 3;
    /// The message was not expected here.
    pub const PROTOCOL: u16 = 4;
    /// The node failed internally.
    pub const INTERNAL: u16 = 5;
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Puller → server: who I am.
    Hello {
        /// Protocol major.
        major: u16,
        /// Protocol minor.
        minor: u16,
        /// Node ID.
        node_id: String,
        /// Replica ID.
        replica_id: String,
    },
    /// Server → puller: accepted.
    Welcome {
        /// Protocol major.
        major: u16,
        /// Protocol minor.
        minor: u16,
        /// Node ID.
        node_id: String,
        /// Replica ID.
        replica_id: String,
        /// Site.
        site: String,
    },
    /// Puller → server: what I hold; send me what I lack.
    Pull {
        /// At most this many changes.
        max_changes: u32,
        /// Hold the answer this long when there is nothing new.
        wait_ms: u32,
        /// The puller's version vector.
        vv: VersionVector,
        /// The last seq the puller holds of each origin's audit chain.
        audit_vv: VersionVector,
    },
    /// Server → puller: changes.
    Batch {
        /// The server's version vector when the batch was read.
        vv: VersionVector,
        /// The changes, each origin in sequence order.
        changes: Vec<Change>,
        /// Audit records the puller lacks, each origin in chain order.
        audit: Vec<crate::store::audit::AuditRecord>,
        /// Checkpoints signed over those records.
        checkpoints: Vec<crate::audit::Checkpoint>,
    },
    /// New node → sponsor: join with a one-time token.
    Join {
        /// The token from `clavis cluster add-node`.
        token: String,
        /// The node's name.
        name: String,
        /// Its site.
        site: String,
        /// Where peers reach it.
        cluster_addr: String,
        /// The replica ID it created.
        replica_id: String,
        /// Names its certificate must carry (`api.tls_names`), comma-separated.
        tls_names: String,
    },
    /// Sponsor → new node: its identity.
    Joined {
        /// Assigned node ID.
        node_id: String,
        /// Its certificate.
        cert_pem: String,
        /// Its private key (PKCS#8, hex), sent once over this TLS channel.
        key_pkcs8_hex: SecretHex,
        /// The cluster CA certificate.
        ca_pem: String,
        /// The master key every stored key is wrapped under.
        master_key_id: String,
    },
    /// Either side: refused.
    Error {
        /// One of [`code`].
        code: u16,
        /// What went wrong.
        message: String,
    },
}

/// A private key in transit: zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHex(pub zeroize::Zeroizing<String>);

impl std::fmt::Debug for SecretHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A frame that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// I/O failed or the peer closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The frame is malformed.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// The frame is larger than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn str(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len().min(u16::MAX as usize);
        self.u16(n as u16);
        self.0.extend_from_slice(&b[..n]);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn vv(&mut self, vv: &VersionVector) {
        self.u32(vv.len() as u32);
        for (o, s) in vv {
            self.str(o);
            self.i64(*s);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, WireError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn str(&mut self) -> Result<String, WireError> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::Malformed("string is not UTF-8"))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    /// A count of items each at least `min_item` bytes long, checked against what is left
    /// so a forged count cannot make us allocate.
    fn count(&mut self, min_item: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(WireError::Malformed("count larger than the frame"));
        }
        Ok(n)
    }
    fn vv(&mut self) -> Result<VersionVector, WireError> {
        let n = self.count(10)?;
        let mut vv = VersionVector::new();
        for _ in 0..n {
            let o = self.str()?;
            let s = self.i64()?;
            vv.insert(o, s);
        }
        Ok(vv)
    }
    fn end(&self) -> Result<(), WireError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WireError::Malformed("trailing bytes"))
        }
    }
}

impl Message {
    /// The frame for this message, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(vec![0, 0, 0, 0]);
        match self {
            Message::Hello {
                major,
                minor,
                node_id,
                replica_id,
            } => {
                w.u8(1);
                w.u16(*major);
                w.u16(*minor);
                w.str(node_id);
                w.str(replica_id);
            }
            Message::Welcome {
                major,
                minor,
                node_id,
                replica_id,
                site,
            } => {
                w.u8(2);
                w.u16(*major);
                w.u16(*minor);
                w.str(node_id);
                w.str(replica_id);
                w.str(site);
            }
            Message::Pull {
                max_changes,
                wait_ms,
                vv,
                audit_vv,
            } => {
                w.u8(3);
                w.u32(*max_changes);
                w.u32(*wait_ms);
                w.vv(vv);
                w.vv(audit_vv);
            }
            Message::Batch {
                vv,
                changes,
                audit,
                checkpoints,
            } => {
                w.u8(4);
                w.vv(vv);
                w.u32(changes.len() as u32);
                for c in changes {
                    w.str(&c.origin);
                    w.i64(c.seq);
                    w.i64(c.hlc);
                    w.str(&c.node_id);
                    w.str(&c.entity);
                    w.str(&c.entity_id);
                    w.u8(match c.op {
                        ChangeOp::Upsert => 0,
                        ChangeOp::Delete => 1,
                    });
                    w.bytes(&c.payload);
                    w.i64(c.created_at);
                }
                w.u32(audit.len() as u32);
                for r in audit {
                    w.bytes(&serde_json::to_vec(r).unwrap_or_default());
                }
                w.u32(checkpoints.len() as u32);
                for c in checkpoints {
                    w.bytes(&serde_json::to_vec(c).unwrap_or_default());
                }
            }
            Message::Join {
                token,
                name,
                site,
                cluster_addr,
                replica_id,
                tls_names,
            } => {
                w.u8(5);
                w.str(token);
                w.str(name);
                w.str(site);
                w.str(cluster_addr);
                w.str(replica_id);
                w.str(tls_names);
            }
            Message::Joined {
                node_id,
                cert_pem,
                key_pkcs8_hex,
                ca_pem,
                master_key_id,
            } => {
                w.u8(6);
                w.str(node_id);
                w.str(cert_pem);
                w.str(&key_pkcs8_hex.0);
                w.str(ca_pem);
                w.str(master_key_id);
            }
            Message::Error { code, message } => {
                w.u8(7);
                w.u16(*code);
                w.str(message);
            }
        }
        let len = (w.0.len() - 4) as u32;
        w.0[..4].copy_from_slice(&len.to_be_bytes());
        w.0
    }

    /// Decodes one frame body (without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Message, WireError> {
        let mut r = Reader(body);
        let m = match r.u8()? {
            1 => Message::Hello {
                major: r.u16()?,
                minor: r.u16()?,
                node_id: r.str()?,
                replica_id: r.str()?,
            },
            2 => Message::Welcome {
                major: r.u16()?,
                minor: r.u16()?,
                node_id: r.str()?,
                replica_id: r.str()?,
                site: r.str()?,
            },
            3 => Message::Pull {
                max_changes: r.u32()?,
                wait_ms: r.u32()?,
                vv: r.vv()?,
                audit_vv: r.vv()?,
            },
            4 => {
                let vv = r.vv()?;
                // origin, node, entity, entity_id strings (2 each), seq, hlc,
                // created_at (8 each), op (1), payload length (4).
                let n = r.count(37)?;
                let mut changes = Vec::with_capacity(n);
                for _ in 0..n {
                    let origin = r.str()?;
                    let seq = r.i64()?;
                    let hlc = r.i64()?;
                    let node_id = r.str()?;
                    let entity = r.str()?;
                    let entity_id = r.str()?;
                    let op = match r.u8()? {
                        0 => ChangeOp::Upsert,
                        1 => ChangeOp::Delete,
                        _ => return Err(WireError::Malformed("unknown change op")),
                    };
                    let payload = r.bytes()?;
                    let created_at = r.i64()?;
                    changes.push(Change {
                        origin,
                        seq,
                        hlc,
                        node_id,
                        entity,
                        entity_id,
                        op,
                        payload,
                        created_at,
                    });
                }
                let n = r.count(4)?;
                let mut audit = Vec::with_capacity(n);
                for _ in 0..n {
                    audit.push(
                        serde_json::from_slice(&r.bytes()?)
                            .map_err(|_| WireError::Malformed("audit record"))?,
                    );
                }
                let n = r.count(4)?;
                let mut checkpoints = Vec::with_capacity(n);
                for _ in 0..n {
                    checkpoints.push(
                        serde_json::from_slice(&r.bytes()?)
                            .map_err(|_| WireError::Malformed("audit checkpoint"))?,
                    );
                }
                Message::Batch {
                    vv,
                    changes,
                    audit,
                    checkpoints,
                }
            }
            5 => Message::Join {
                token: r.str()?,
                name: r.str()?,
                site: r.str()?,
                cluster_addr: r.str()?,
                replica_id: r.str()?,
                tls_names: r.str()?,
            },
            6 => Message::Joined {
                node_id: r.str()?,
                cert_pem: r.str()?,
                key_pkcs8_hex: SecretHex(zeroize::Zeroizing::new(r.str()?)),
                ca_pem: r.str()?,
                master_key_id: r.str()?,
            },
            7 => Message::Error {
                code: r.u16()?,
                message: r.str()?,
            },
            _ => return Err(WireError::Malformed("unknown message kind")),
        };
        r.end()?;
        Ok(m)
    }
}

/// Writes one message.
pub async fn send<W: AsyncWrite + Unpin>(w: &mut W, m: &Message) -> Result<(), WireError> {
    w.write_all(&m.encode()).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one message, refusing frames over `max` bytes before allocating them.
pub async fn recv<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Message, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if n > max {
        return Err(WireError::TooLarge(n));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).await?;
    Message::decode(&body)
}

/// True when a peer speaking `major.minor` can exchange changes with this node.
pub fn compatible(major: u16, minor: u16) -> bool {
    major == MAJOR && minor.abs_diff(MINOR) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Message> {
        let mut vv = VersionVector::new();
        vv.insert("r1".into(), 7);
        vv.insert("r2".into(), 0);
        vec![
            Message::Hello {
                major: 1,
                minor: 0,
                node_id: "n".into(),
                replica_id: "r".into(),
            },
            Message::Pull {
                max_changes: 100,
                wait_ms: 500,
                vv: vv.clone(),
                audit_vv: vv.clone(),
            },
            Message::Batch {
                audit: Vec::new(),
                checkpoints: Vec::new(),
                vv,
                changes: vec![Change {
                    origin: "r1".into(),
                    seq: 3,
                    hlc: 99,
                    node_id: "n1".into(),
                    entity: "object".into(),
                    entity_id: "id".into(),
                    op: ChangeOp::Delete,
                    payload: b"{}".to_vec(),
                    created_at: 5,
                }],
            },
            Message::Error {
                code: code::VERSION,
                message: "too old".into(),
            },
        ]
    }

    #[test]
    fn round_trips() {
        for m in sample() {
            let f = m.encode();
            assert_eq!(Message::decode(&f[4..]).ok(), Some(m));
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        for m in sample() {
            let f = m.encode();
            for cut in 4..f.len() {
                assert!(Message::decode(&f[4..cut]).is_err(), "{m:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn forged_counts_do_not_allocate() {
        let mut f = vec![4u8];
        f.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Message::decode(&f),
            Err(WireError::Malformed("count larger than the frame"))
        ));
    }

    #[test]
    fn versions_one_minor_apart_interoperate() {
        assert!(compatible(MAJOR, MINOR));
        assert!(compatible(MAJOR, MINOR + 1));
        assert!(!compatible(MAJOR, MINOR + 2));
        assert!(!compatible(MAJOR + 1, MINOR));
    }
}
