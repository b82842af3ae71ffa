//! The backup file container: metadata in clear, body encrypted and authenticated in
//! chunks (SPEC 8.1: "encrypted and authenticated; each backup carries its metadata").
//!
//! Why chunks: backups are large and restores must stream, yet a restore must never
//! act on data that is not authentic. Each chunk is sealed on its own, and the reader
//! hands out a chunk's plaintext only after its tag checks. Binding the chunk index, a
//! last-chunk flag and the hash of the file's header into every chunk's associated
//! data makes truncation, reordering, swapping chunks between files and editing the
//! header detectable.
//!
//! # Keys
//! Each file has its own random 32-byte **data key**. It is stored in the header,
//! wrapped (AES-256-GCM) under a **key-encryption key**, which is either derived from
//! a passphrase with Argon2id (salt and cost parameters in the header) or a raw 32-byte
//! key given by the caller (e.g. one recovered from Shamir shares). A failed unwrap is
//! [`BackupError::WrongKey`]; a failed header or chunk tag is [`BackupError::Tampered`].
//! Edits to the fields that derive or wrap the data key (salt, cost parameters, wrapped
//! key) also make the unwrap fail, so they are reported as `WrongKey`: with a
//! passphrase these two causes cannot be told apart.
//!
//! # Layout (all integers big-endian)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `CLAVISBK` |
//! | 8 | 2 | format version, `1` |
//! | 10 | 4 | header length H, at most [`MAX_HEADER_LEN`] |
//! | 14 | H | header: UTF-8 JSON, see below |
//! | 14+H | 16 | header tag: AES-256-GCM under the data key, empty plaintext, nonce `prefix ‖ FFFFFFFF`, AAD `"CLAVISBK-header" ‖ header hash` |
//! | 30+H | … | chunks, then end of file |
//!
//! The **header hash** is SHA-256 of bytes `0..14+H` (magic, version, length, JSON).
//!
//! The header JSON is `{"metadata": {...}, "crypto": {...}}`: `metadata` is
//! [`Metadata`]; `crypto` holds `cipher` (`"AES-256-GCM"`), `chunk_size` (plaintext
//! bytes per chunk), `nonce_prefix` (8 random bytes, base64), `key` (either
//! `{"kdf":"argon2id","m_cost_kib":..,"t_cost":..,"p_cost":..,"salt":base64}` or
//! `{"kdf":"raw"}`) and `wrapped_data_key` (base64 of a 12-byte random nonce and the
//! 48-byte GCM ciphertext of the data key, AAD `"CLAVISBK-data-key"`).
//!
//! Each **chunk** is framed as
//! | size | field |
//! |---|---|
//! | 1 | flag: `0` more chunks follow, `1` last chunk |
//! | 4 | ciphertext length C (plaintext length + 16) |
//! | C | AES-256-GCM ciphertext and tag under the data key |
//!
//! Chunk `i` (counted from 0, below `u32::MAX`) uses nonce `nonce_prefix ‖ i` (i as 4
//! bytes) and AAD `"CLAVISBK-chunk" ‖ header hash ‖ i (4 bytes) ‖ flag`. Every chunk
//! but the last holds exactly `chunk_size` plaintext bytes; the last holds 0 to
//! `chunk_size` (an empty body is one empty last chunk). Nothing may follow the last
//! chunk. A writer that is never finished leaves a file without a last chunk, which
//! readers refuse as truncated.

use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use zeroize::{Zeroize, Zeroizing};

/// First bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"CLAVISBK";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Largest header accepted; bounds what an unauthenticated file can make us allocate.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// Plaintext bytes per chunk unless configured otherwise.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// Largest chunk size accepted; bounds the reader's memory.
pub const MAX_CHUNK_SIZE: usize = 4 * 1024 * 1024;

const PRELUDE_LEN: usize = 14;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const NONCE_PREFIX_LEN: usize = 8;
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;
const FRAME_LEN: usize = 5;
const WRAPPED_KEY_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
const HEADER_TAG_COUNTER: u32 = u32::MAX;
const CIPHER_NAME: &str = "AES-256-GCM";
const DATA_KEY_AAD: &[u8] = b"CLAVISBK-data-key";
const HEADER_AAD: &[u8] = b"CLAVISBK-header";
const CHUNK_AAD: &[u8] = b"CLAVISBK-chunk";
const FLAG_MORE: u8 = 0;
const FLAG_LAST: u8 = 1;

// Bounds on Argon2id costs read from a file, so a damaged or hostile header cannot
// make a restore allocate gigabytes or run for hours before failing.
const MAX_M_COST_KIB: u32 = 2 * 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// Why writing or reading a backup failed. Never carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The file does not start with the backup magic.
    #[error("not a Clavis backup file")]
    NotABackup,
    /// The file was written in a format version this build does not read.
    #[error("backup format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u16),
    /// The passphrase or raw key is not the one the backup was made with.
    #[error("wrong passphrase or key for this backup")]
    WrongKey,
    /// A passphrase was given for a raw-key backup, or the other way round.
    #[error("this backup is protected by a {needed}, not a {given}")]
    WrongKeyKind {
        /// What the backup needs.
        needed: &'static str,
        /// What was given.
        given: &'static str,
    },
    /// The header or a chunk failed authentication, or the structure is inconsistent.
    #[error("backup is damaged or was altered: {0}")]
    Tampered(String),
    /// The file ends before its last chunk.
    #[error("backup is truncated: {0}")]
    Truncated(&'static str),
    /// The header is larger than [`MAX_HEADER_LEN`].
    #[error("backup header is {len} bytes, more than the {MAX_HEADER_LEN} allowed")]
    HeaderTooLarge {
        /// The header's length.
        len: usize,
    },
    /// The writer's options or key are unusable.
    #[error("invalid backup options: {0}")]
    InvalidOptions(&'static str),
    /// The body needs more chunks than the format can number.
    #[error("backup too large for its chunk size")]
    TooLarge,
    /// The operating system's random generator failed.
    #[error("operating system random generator failed")]
    Random,
    /// An earlier call already failed; the stream cannot be continued.
    #[error("the backup stream already failed; see the earlier error")]
    Poisoned,
    /// Reading or writing the underlying stream failed.
    #[error("backup I/O error: {0}")]
    Io(#[from] io::Error),
}

impl BackupError {
    /// Recovers the [`BackupError`] that [`ArchiveReader`]'s `Read` implementation
    /// wrapped into an `io::Error`; other I/O errors become [`BackupError::Io`].
    pub fn from_io(e: io::Error) -> BackupError {
        if !e.get_ref().is_some_and(|inner| inner.is::<BackupError>()) {
            return BackupError::Io(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<BackupError>()) {
            Some(Ok(b)) => *b,
            // Unreachable: the type was checked just above.
            _ => BackupError::Poisoned,
        }
    }

    fn into_io(self) -> io::Error {
        match self {
            BackupError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// What a backup says about itself. Stored in clear in the header (readable without a
/// key by [`read_metadata`]) and authenticated once the file is opened with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The cluster the backup was taken from.
    pub cluster_id: String,
    /// The node that wrote it.
    pub node_id: String,
    /// That node's name.
    pub node_name: String,
    /// When the backup was taken, RFC 3339 (the caller formats it).
    pub created_at: String,
    /// Database schema version of the data inside.
    pub schema_version: u32,
    /// Number of objects of each kind inside (e.g. `"keys"`, `"users"`).
    pub object_counts: BTreeMap<String, u64>,
    /// What the backup holds, e.g. `"data"` or `"master-key"`.
    pub kind: String,
}

/// What protects a backup's data key.
pub enum BackupKey {
    /// A passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
    /// A raw 256-bit key, used directly as the key-encryption key.
    Raw(Zeroizing<[u8; KEY_LEN]>),
    /// A passphrase already stretched with Argon2id (salt and costs kept with it): what
    /// a node keeps, wrapped under its master key, to take scheduled backups that open
    /// with the passphrase itself.
    Derived(DerivedKey),
}

/// An Argon2id key-encryption key with the salt and costs it was derived with.
pub struct DerivedKey {
    kek: Zeroizing<[u8; KEY_LEN]>,
    salt: [u8; SALT_LEN],
    params: KdfParams,
}

impl DerivedKey {
    /// Stretches `passphrase` with a fresh random salt.
    pub fn derive(passphrase: &str, params: KdfParams) -> Result<DerivedKey, BackupError> {
        if passphrase.is_empty() {
            return Err(BackupError::InvalidOptions("empty passphrase"));
        }
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        let kek = derive_kek(passphrase, &salt, params).map_err(BackupError::InvalidOptions)?;
        Ok(DerivedKey { kek, salt, params })
    }

    /// Rebuilds a key from what [`DerivedKey::parts`] gave.
    pub fn from_parts(kek: &[u8], salt: &[u8], params: KdfParams) -> Option<DerivedKey> {
        Some(DerivedKey {
            kek: Zeroizing::new(kek.try_into().ok()?),
            salt: salt.try_into().ok()?,
            params,
        })
    }

    /// The key, its salt and its costs, to store (the key only ever wrapped).
    pub fn parts(&self) -> (&[u8], &[u8], KdfParams) {
        (&self.kek[..], &self.salt[..], self.params)
    }
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupKey::Passphrase(_) => "BackupKey::Passphrase(<redacted>)",
            BackupKey::Raw(_) => "BackupKey::Raw(<redacted>)",
            BackupKey::Derived(_) => "BackupKey::Derived(<redacted>)",
        })
    }
}

impl BackupKey {
    fn kind_name(&self) -> &'static str {
        match self {
            BackupKey::Passphrase(_) | BackupKey::Derived(_) => KeyKind::Passphrase.name(),
            BackupKey::Raw(_) => KeyKind::Raw.name(),
        }
    }
}

/// Which kind of [`BackupKey`] a file needs; public, shown by `backup inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A passphrase (Argon2id).
    Passphrase,
    /// A raw 32-byte key.
    Raw,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Passphrase => "passphrase",
            KeyKind::Raw => "raw key",
        }
    }
}

/// Argon2id costs for passphrase-protected backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: paid once per backup or restore, not per chunk.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// The cheapest Argon2id allows. Offers no protection: for tests only.
    pub const INSECURE_TEST_ONLY: KdfParams = KdfParams {
        m_cost_kib: 8,
        t_cost: 1,
        p_cost: 1,
    };

    fn check(self) -> Result<argon2::Params, &'static str> {
        if self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST
        {
            return Err("Argon2id costs above the supported bounds");
        }
        argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|_| "invalid Argon2id parameters")
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

/// How an [`ArchiveWriter`] seals its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Argon2id costs when the key is a passphrase.
    pub kdf: KdfParams,
    /// Plaintext bytes per chunk, 1..=[`MAX_CHUNK_SIZE`].
    pub chunk_size: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            kdf: KdfParams::DEFAULT,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// What a finished (or fully read) archive contained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Plaintext bytes in the body.
    pub plaintext_len: u64,
    /// SHA-256 of the plaintext body, for catalogues and restore checks.
    pub plaintext_sha256: [u8; 32],
    /// Chunks in the file, the last one included.
    pub chunks: u32,
    /// Bytes of the whole file.
    pub archive_len: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    metadata: Metadata,
    crypto: CryptoHeader,
}

#[derive(Serialize, Deserialize)]
struct CryptoHeader {
    cipher: String,
    chunk_size: u32,
    nonce_prefix: String,
    key: KeyProtection,
    wrapped_data_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kdf")]
enum KeyProtection {
    #[serde(rename = "argon2id")]
    Argon2id {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
        salt: String,
    },
    #[serde(rename = "raw")]
    Raw,
}

/// A header parsed and checked for shape, but not yet authenticated.
struct ParsedHeader {
    header: Header,
    hash: [u8; 32],
    chunk_size: usize,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    wrapped_data_key: Vec<u8>,
    kdf: Option<(KdfParams, Vec<u8>)>,
    len: usize,
}

/// A backup's header as read without a key: **not authenticated**. Anyone can edit
/// these fields in a file; only [`ArchiveReader::open`] proves them genuine.
#[derive(Debug, Clone)]
pub struct UnverifiedHeader {
    metadata: Metadata,
    key_kind: KeyKind,
    chunk_size: usize,
    format_version: u16,
}

impl UnverifiedHeader {
    /// The metadata as the file claims it; unauthenticated until the file is opened.
    pub fn metadata_unverified(&self) -> &Metadata {
        &self.metadata
    }

    /// Which kind of key opens the file.
    pub fn key_kind(&self) -> KeyKind {
        self.key_kind
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The file's format version.
    pub fn format_version(&self) -> u16 {
        self.format_version
    }
}

/// Reads a backup's header without any key, for `clavis backup inspect`. The result
/// is unauthenticated (see [`UnverifiedHeader`]).
pub fn read_metadata<R: Read>(mut reader: R) -> Result<UnverifiedHeader, BackupError> {
    let parsed = read_header(&mut reader)?;
    Ok(UnverifiedHeader {
        key_kind: if parsed.kdf.is_some() {
            KeyKind::Passphrase
        } else {
            KeyKind::Raw
        },
        chunk_size: parsed.chunk_size,
        format_version: FORMAT_VERSION,
        metadata: parsed.header.metadata,
    })
}

/// Writes a backup file chunk by chunk. Call [`ArchiveWriter::finish`]: a writer
/// dropped without it leaves a file that readers refuse as truncated.
pub struct ArchiveWriter<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    header_hash: [u8; 32],
    chunk_size: usize,
    buf: Zeroizing<Vec<u8>>,
    index: u32,
    plaintext_len: u64,
    archive_len: u64,
    hasher: Sha256,
    failed: bool,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts a backup with the default options, writing the header at once.
    pub fn new(writer: W, key: &BackupKey, metadata: Metadata) -> Result<Self, BackupError> {
        Self::with_options(writer, key, metadata, WriterOptions::default())
    }

    /// Starts a backup with explicit Argon2id costs and chunk size.
    pub fn with_options(
        mut writer: W,
        key: &BackupKey,
        metadata: Metadata,
        options: WriterOptions,
    ) -> Result<Self, BackupError> {
        if options.chunk_size == 0 || options.chunk_size > MAX_CHUNK_SIZE {
            return Err(BackupError::InvalidOptions("chunk size out of range"));
        }
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(&mut data_key[..])?;
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        fill_random(&mut nonce_prefix)?;

        let (kek, protection) = match key {
            BackupKey::Passphrase(passphrase) => {
                if passphrase.is_empty() {
                    return Err(BackupError::InvalidOptions("empty passphrase"));
                }
                let mut salt = [0u8; SALT_LEN];
                fill_random(&mut salt)?;
                let kek = derive_kek(passphrase, &salt, options.kdf)
                    .map_err(BackupError::InvalidOptions)?;
                let protection = KeyProtection::Argon2id {
                    m_cost_kib: options.kdf.m_cost_kib,
                    t_cost: options.kdf.t_cost,
                    p_cost: options.kdf.p_cost,
                    salt: B64.encode(salt),
                };
                (kek, protection)
            }
            BackupKey::Raw(raw) => (raw.clone(), KeyProtection::Raw),
            BackupKey::Derived(d) => (
                d.kek.clone(),
                KeyProtection::Argon2id {
                    m_cost_kib: d.params.m_cost_kib,
                    t_cost: d.params.t_cost,
                    p_cost: d.params.p_cost,
                    salt: B64.encode(d.salt),
                },
            ),
        };

        let mut wrap_nonce = [0u8; NONCE_LEN];
        fill_random(&mut wrap_nonce)?;
        let wrapped = cipher_for(&kek)?
            .encrypt(
                &Nonce::<Aes256Gcm>::from(wrap_nonce),
                Payload {
                    msg: &data_key[..],
                    aad: DATA_KEY_AAD,
                },
            )
            .map_err(|_| BackupError::InvalidOptions("data key wrap failed"))?;
        let mut wrapped_data_key = wrap_nonce.to_vec();
        wrapped_data_key.extend_from_slice(&wrapped);

        let chunk_size_u32 = u32::try_from(options.chunk_size)
            .map_err(|_| BackupError::InvalidOptions("chunk size out of range"))?;
        let header = Header {
            metadata,
            crypto: CryptoHeader {
                cipher: CIPHER_NAME.into(),
                chunk_size: chunk_size_u32,
                nonce_prefix: B64.encode(nonce_prefix),
                key: protection,
                wrapped_data_key: B64.encode(&wrapped_data_key),
            },
        };
        let json = serde_json::to_vec(&header)
            .map_err(|_| BackupError::InvalidOptions("metadata cannot be serialized"))?;
        if json.len() > MAX_HEADER_LEN {
            return Err(BackupError::HeaderTooLarge { len: json.len() });
        }
        let mut head = Vec::with_capacity(PRELUDE_LEN + json.len() + TAG_LEN);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        // Bounded by MAX_HEADER_LEN just above.
        head.extend_from_slice(&(json.len() as u32).to_be_bytes());
        head.extend_from_slice(&json);
        let header_hash: [u8; 32] = Sha256::digest(&head).into();

        let cipher = cipher_for(&data_key)?;
        let tag = cipher
            .encrypt(
                &nonce(&nonce_prefix, HEADER_TAG_COUNTER),
                Payload {
                    msg: &[],
                    aad: &header_aad(&header_hash),
                },
            )
            .map_err(|_| BackupError::InvalidOptions("header seal failed"))?;
        head.extend_from_slice(&tag);
        writer.write_all(&head)?;

        Ok(ArchiveWriter {
            inner: writer,
            cipher,
            nonce_prefix,
            header_hash,
            chunk_size: options.chunk_size,
            buf: Zeroizing::new(Vec::with_capacity(options.chunk_size)),
            index: 0,
            plaintext_len: 0,
            archive_len: head.len() as u64,
            hasher: Sha256::new(),
            failed: false,
        })
    }

    /// Appends `data` to the body (all of it, like `write_all`).
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), BackupError> {
        if self.failed {
            return Err(BackupError::Poisoned);
        }
        while !data.is_empty() {
            if self.buf.len() == self.chunk_size {
                // More data follows, so the buffered chunk is not the last one.
                self.seal_chunk(false)?;
            }
            let take = (self.chunk_size - self.buf.len()).min(data.len());
            // Within the capacity reserved at creation: no reallocation leaves copies.
            self.buf.extend_from_slice(&data[..take]);
            self.hasher.update(&data[..take]);
            self.plaintext_len += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    /// Seals the last chunk, flushes, and reports what was written.
    pub fn finish(mut self) -> Result<Summary, BackupError> {
        if self.failed {
            return Err(BackupError::Poisoned);
        }
        self.seal_chunk(true)?;
        self.inner.flush()?;
        Ok(Summary {
            plaintext_len: self.plaintext_len,
            plaintext_sha256: self.hasher.clone().finalize().into(),
            chunks: self.index,
            archive_len: self.archive_len,
        })
    }

    fn seal_chunk(&mut self, last: bool) -> Result<(), BackupError> {
        let result = self.try_seal_chunk(last);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn try_seal_chunk(&mut self, last: bool) -> Result<(), BackupError> {
        if self.index == HEADER_TAG_COUNTER {
            return Err(BackupError::TooLarge);
        }
        let flag = if last { FLAG_LAST } else { FLAG_MORE };
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce(&self.nonce_prefix, self.index),
                Payload {
                    msg: &self.buf[..],
                    aad: &chunk_aad(&self.header_hash, self.index, flag),
                },
            )
            .map_err(|_| BackupError::TooLarge)?;
        self.buf.zeroize();
        let mut frame = [0u8; FRAME_LEN];
        frame[0] = flag;
        // At most MAX_CHUNK_SIZE + TAG_LEN.
        frame[1..].copy_from_slice(&(ciphertext.len() as u32).to_be_bytes());
        self.inner.write_all(&frame)?;
        self.inner.write_all(&ciphertext)?;
        self.archive_len += (FRAME_LEN + ciphertext.len()) as u64;
        self.index += 1;
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Reading,
    Done,
    Failed,
}

/// Reads a backup's body. Implements [`Read`]: plaintext comes out only after its
/// chunk's tag has checked, and any failure is an error (an `io::Error` of kind
/// `InvalidData` wrapping a [`BackupError`], see [`BackupError::from_io`]), never data.
/// End of stream is reported only after the last chunk was authenticated and nothing
/// follows it. Earlier chunks are authentic when handed out, but the file may still
/// turn out truncated: act on the body (commit a restore) only after end of stream.
pub struct ArchiveReader<R: Read> {
    inner: R,
    cipher: Aes256Gcm,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    header_hash: [u8; 32],
    chunk_size: usize,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    index: u32,
    state: ReadState,
    plaintext_len: u64,
    archive_len: u64,
    hasher: Sha256,
}

impl<R: Read> ArchiveReader<R> {
    /// Reads and authenticates the header with `key`, returning the (now authentic)
    /// metadata and a reader positioned at the body.
    pub fn open(mut reader: R, key: &BackupKey) -> Result<(Metadata, Self), BackupError> {
        let parsed = read_header(&mut reader)?;
        let mut tag = [0u8; TAG_LEN];
        read_exact_or(&mut reader, &mut tag, "the header tag is cut short")?;

        let kek = match (&parsed.kdf, key) {
            (Some((params, salt)), BackupKey::Passphrase(passphrase)) => {
                derive_kek(passphrase, salt, *params)
                    .map_err(|why| BackupError::Tampered(why.into()))?
            }
            (None, BackupKey::Raw(raw)) => raw.clone(),
            // Another salt or cost is another key: the same answer as a wrong passphrase.
            (Some((params, salt)), BackupKey::Derived(d)) => {
                if *params != d.params || salt[..] != d.salt[..] {
                    return Err(BackupError::WrongKey);
                }
                d.kek.clone()
            }
            (Some(_), given) => {
                return Err(BackupError::WrongKeyKind {
                    needed: KeyKind::Passphrase.name(),
                    given: given.kind_name(),
                })
            }
            (None, given) => {
                return Err(BackupError::WrongKeyKind {
                    needed: KeyKind::Raw.name(),
                    given: given.kind_name(),
                })
            }
        };
        let (wrap_nonce, wrapped) = parsed.wrapped_data_key.split_at(NONCE_LEN);
        let wrap_nonce = Nonce::<Aes256Gcm>::try_from(wrap_nonce)
            .map_err(|_| BackupError::Tampered("wrapped data key".into()))?;
        let data_key = Zeroizing::new(
            cipher_for(&kek)?
                .decrypt(
                    &wrap_nonce,
                    Payload {
                        msg: wrapped,
                        aad: DATA_KEY_AAD,
                    },
                )
                .map_err(|_| BackupError::WrongKey)?,
        );
        let data_key: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(
            data_key[..]
                .try_into()
                .map_err(|_| BackupError::Tampered("data key length".into()))?,
        );
        let cipher = cipher_for(&data_key)?;
        cipher
            .decrypt(
                &nonce(&parsed.nonce_prefix, HEADER_TAG_COUNTER),
                Payload {
                    msg: &tag,
                    aad: &header_aad(&parsed.hash),
                },
            )
            .map_err(|_| BackupError::Tampered("the header failed authentication".into()))?;

        let reader = ArchiveReader {
            inner: reader,
            cipher,
            nonce_prefix: parsed.nonce_prefix,
            header_hash: parsed.hash,
            chunk_size: parsed.chunk_size,
            plain: Zeroizing::new(Vec::new()),
            pos: 0,
            index: 0,
            state: ReadState::Reading,
            plaintext_len: 0,
            archive_len: (PRELUDE_LEN + parsed.len + TAG_LEN) as u64,
            hasher: Sha256::new(),
        };
        Ok((parsed.header.metadata, reader))
    }

    /// What the body contained, once it has been read to its authenticated end.
    pub fn summary(&self) -> Option<Summary> {
        (self.state == ReadState::Done).then(|| Summary {
            plaintext_len: self.plaintext_len,
            plaintext_sha256: self.hasher.clone().finalize().into(),
            chunks: self.index,
            archive_len: self.archive_len,
        })
    }

    fn next_chunk(&mut self) -> Result<(), BackupError> {
        let mut frame = [0u8; FRAME_LEN];
        read_exact_or(&mut self.inner, &mut frame, "the last chunk is missing")?;
        let last = match frame[0] {
            FLAG_MORE => false,
            FLAG_LAST => true,
            _ => return Err(BackupError::Tampered(self.chunk_msg("has an invalid flag"))),
        };
        let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        let full = self.chunk_size + TAG_LEN;
        if len < TAG_LEN || len > full || (!last && len != full) {
            return Err(BackupError::Tampered(
                self.chunk_msg("has an invalid length"),
            ));
        }
        if self.index == HEADER_TAG_COUNTER {
            return Err(BackupError::Tampered("too many chunks".into()));
        }
        let mut ciphertext = vec![0u8; len];
        read_exact_or(&mut self.inner, &mut ciphertext, "a chunk is cut short")?;
        let flag = frame[0];
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    &nonce(&self.nonce_prefix, self.index),
                    Payload {
                        msg: &ciphertext,
                        aad: &chunk_aad(&self.header_hash, self.index, flag),
                    },
                )
                .map_err(|_| BackupError::Tampered(self.chunk_msg("failed authentication")))?,
        );
        if last {
            // Refuse trailing bytes before handing out the last chunk's plaintext.
            let mut probe = [0u8; 1];
            loop {
                match self.inner.read(&mut probe) {
                    Ok(0) => break,
                    Ok(_) => {
                        return Err(BackupError::Tampered("data follows the last chunk".into()))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(BackupError::Io(e)),
                }
            }
        }
        self.hasher.update(&plain[..]);
        self.plaintext_len += plain.len() as u64;
        self.archive_len += (FRAME_LEN + len) as u64;
        self.index += 1;
        self.plain = plain;
        self.pos = 0;
        if last {
            self.state = ReadState::Done;
        }
        Ok(())
    }

    fn chunk_msg(&self, what: &str) -> String {
        format!("chunk {} {what}", self.index)
    }
}

impl<R: Read> Read for ArchiveReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.plain.len() {
                let n = (self.plain.len() - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match self.state {
                ReadState::Done => return Ok(0),
                ReadState::Failed => return Err(BackupError::Poisoned.into_io()),
                ReadState::Reading => {}
            }
            if let Err(e) = self.next_chunk() {
                self.state = ReadState::Failed;
                self.plain.zeroize();
                self.pos = 0;
                return Err(e.into_io());
            }
        }
    }
}

fn read_header<R: Read>(reader: &mut R) -> Result<ParsedHeader, BackupError> {
    let mut prelude = [0u8; PRELUDE_LEN];
    match read_exact_or(reader, &mut prelude[..MAGIC.len()], "") {
        Ok(()) => {}
        Err(BackupError::Truncated(_)) => return Err(BackupError::NotABackup),
        Err(e) => return Err(e),
    }
    if &prelude[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotABackup);
    }
    read_exact_or(
        reader,
        &mut prelude[MAGIC.len()..],
        "the header is cut short",
    )?;
    let version = u16::from_be_bytes([prelude[8], prelude[9]]);
    if version != FORMAT_VERSION {
        return Err(BackupError::UnsupportedVersion(version));
    }
    let len = u32::from_be_bytes([prelude[10], prelude[11], prelude[12], prelude[13]]) as usize;
    if len > MAX_HEADER_LEN {
        return Err(BackupError::HeaderTooLarge { len });
    }
    let mut json = vec![0u8; len];
    read_exact_or(reader, &mut json, "the header is cut short")?;
    let mut h = Sha256::new();
    h.update(prelude);
    h.update(&json);
    let hash: [u8; 32] = h.finalize().into();

    let bad = |what: &str| BackupError::Tampered(format!("header: {what}"));
    let header: Header = serde_json::from_slice(&json).map_err(|_| bad("not valid JSON"))?;
    let c = &header.crypto;
    if c.cipher != CIPHER_NAME {
        return Err(bad("unknown cipher"));
    }
    let chunk_size = c.chunk_size as usize;
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
        return Err(bad("chunk size out of range"));
    }
    let nonce_prefix: [u8; NONCE_PREFIX_LEN] = B64
        .decode(&c.nonce_prefix)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("nonce prefix"))?;
    let wrapped_data_key = B64
        .decode(&c.wrapped_data_key)
        .ok()
        .filter(|v| v.len() == WRAPPED_KEY_LEN)
        .ok_or_else(|| bad("wrapped data key"))?;
    let kdf = match &c.key {
        KeyProtection::Raw => None,
        KeyProtection::Argon2id {
            m_cost_kib,
            t_cost,
            p_cost,
            salt,
        } => {
            let params = KdfParams {
                m_cost_kib: *m_cost_kib,
                t_cost: *t_cost,
                p_cost: *p_cost,
            };
            params.check().map_err(bad)?;
            let salt = B64
                .decode(salt)
                .ok()
                .filter(|s| s.len() >= 8 && s.len() <= 64)
                .ok_or_else(|| bad("salt"))?;
            Some((params, salt))
        }
    };
    Ok(ParsedHeader {
        header,
        hash,
        chunk_size,
        nonce_prefix,
        wrapped_data_key,
        kdf,
        len,
    })
}

/// `read_exact`, with end of file reported as [`BackupError::Truncated`].
fn read_exact_or<R: Read>(
    reader: &mut R,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), BackupError> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            BackupError::Truncated(what)
        } else {
            BackupError::Io(e)
        }
    })
}

fn derive_kek(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, &'static str> {
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.check()?,
    );
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut out[..])
        .map_err(|_| "Argon2id failed")?;
    Ok(out)
}

fn cipher_for(key: &[u8; KEY_LEN]) -> Result<Aes256Gcm, BackupError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| BackupError::InvalidOptions("AES-256 key"))
}

fn nonce(prefix: &[u8; NONCE_PREFIX_LEN], counter: u32) -> Nonce<Aes256Gcm> {
    let mut n = [0u8; NONCE_LEN];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..].copy_from_slice(&counter.to_be_bytes());
    Nonce::<Aes256Gcm>::from(n)
}

fn header_aad(header_hash: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_AAD.len() + 32);
    aad.extend_from_slice(HEADER_AAD);
    aad.extend_from_slice(header_hash);
    aad
}

fn chunk_aad(header_hash: &[u8; 32], index: u32, flag: u8) -> Vec<u8> {
    let mut aad = Vec::with_capacity(CHUNK_AAD.len() + 32 + 5);
    aad.extend_from_slice(CHUNK_AAD);
    aad.extend_from_slice(header_hash);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(flag);
    aad
}

fn fill_random(buf: &mut [u8]) -> Result<(), BackupError> {
    getrandom::fill(buf).map_err(|_| BackupError::Random)
}

#[cfg(test)]
mod tests;
