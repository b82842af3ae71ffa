//! Data backup files: a [`snapshot`](super::snapshot) of the store sealed in an
//! [`archive`](super::archive), written beside its final name and renamed only once it
//! is complete and synced, so a backup directory never holds half a backup.

use super::archive::{ArchiveReader, ArchiveWriter, BackupKey, Metadata, WriterOptions};
use super::snapshot::{self, Counts, Record, RecordReader, SnapshotError};
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The `kind` of a data backup's metadata.
pub const KIND: &str = "data";

/// File-name extension of backups.
pub const EXTENSION: &str = "clbk";

/// A backup written to disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of the whole file, hex: what a copy elsewhere can be checked against.
    pub sha256: String,
    /// What it holds.
    pub counts: Counts,
    /// Its metadata.
    pub metadata: Metadata,
}

struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a data backup of `store` into `dir` under `key`, named `{prefix}-{node}-{time}Z-{random}.clbk`. The snapshot is read on
/// this task; encryption and file writes run on a blocking thread, fed through a
/// bounded channel, so key service is never waiting on the disk.
pub async fn write(
    store: &Store,
    dir: &Path,
    key: BackupKey,
    metadata: Metadata,
    options: WriterOptions,
    prefix: &str,
) -> Result<Written, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Archive(e.into());
    std::fs::create_dir_all(dir).map_err(io)?;
    // Whole seconds in the name; the random part keeps two backups of one second apart.
    let stamp: String = metadata
        .created_at
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches('Z')
        .replace([':', '-'], "");
    let unique = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let name = format!(
        "{prefix}-{}-{stamp}Z-{unique}.{EXTENSION}",
        metadata.node_name
    );
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(256);
    let writer = {
        let partial = partial.clone();
        let metadata = metadata.clone();
        tokio::task::spawn_blocking(move || -> Result<(u64, String), SnapshotError> {
            // Owner-only, like every file of the node's data directory: sealed as it is,
            // a backup is still the cluster's whole key inventory.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)
                .map_err(io)?;
            let mut sink = Hashing {
                inner: std::io::BufWriter::new(file),
                hash: Sha256::new(),
                len: 0,
            };
            let mut w = ArchiveWriter::with_options(&mut sink, &key, metadata, options)?;
            drop(key);
            while let Some(line) = rx.blocking_recv() {
                w.write(&line)?;
            }
            w.finish()?;
            sink.flush().map_err(io)?;
            let file = sink.inner.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
            Ok((sink.len, hex::encode(sink.hash.finalize())))
        })
    };
    let taken = snapshot::take(store, &tx).await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| SnapshotError::Invalid(format!("backup writer stopped: {e}")));
    let (counts, (bytes, sha256)) = match (taken, written) {
        (Ok(c), Ok(Ok(w))) => (c, w),
        (Err(e), _) | (_, Ok(Err(e))) | (_, Err(e)) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(Written {
        path,
        bytes,
        sha256,
        counts,
        metadata,
    })
}

/// Counts the bytes read through it, for a progress bar.
pub struct Counting<R: Read> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a backup file with `key` and reads its records, calling `each` on every one.
/// `read` counts the file's bytes consumed. Any failure (wrong key, a damaged or
/// altered byte anywhere, truncation, a bad record) is an error; `each` may have been
/// called for records before it, so callers that must change nothing on failure read
/// the file once to check it before acting on it.
pub fn read_records(
    path: &Path,
    key: &BackupKey,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    mut each: impl FnMut(Record) -> Result<(), SnapshotError>,
) -> Result<(Metadata, Counts), SnapshotError> {
    let file = std::fs::File::open(path).map_err(|e| SnapshotError::Archive(e.into()))?;
    let counting = Counting {
        inner: BufReader::new(file),
        read,
    };
    let (metadata, archive) = ArchiveReader::open(counting, key)?;
    if metadata.kind != KIND {
        return Err(SnapshotError::Invalid(format!(
            "this is a {:?} backup, not a data backup",
            metadata.kind
        )));
    }
    let mut records = RecordReader::new(BufReader::with_capacity(256 * 1024, archive));
    while let Some(r) = records.next_record()? {
        each(r)?;
    }
    Ok((metadata, records.counts().clone()))
}
