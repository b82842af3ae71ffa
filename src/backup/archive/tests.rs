//! Tests of the backup container: round trips, wrong keys, and every kind of damage.

use super::*;

const PASSPHRASE: &str = "correct horse battery staple";

fn metadata() -> Metadata {
    Metadata {
        cluster_id: "cluster-1".into(),
        node_id: "0190f3a2-0000-7000-8000-000000000001".into(),
        node_name: "node-a".into(),
        created_at: "2026-12-02T07:00:00Z".into(),
        schema_version: 12,
        object_counts: BTreeMap::from([("keys".into(), 1000), ("users".into(), 3)]),
        kind: "data".into(),
    }
}

fn passphrase(p: &str) -> BackupKey {
    BackupKey::Passphrase(Zeroizing::new(p.to_owned()))
}

fn raw(byte: u8) -> BackupKey {
    BackupKey::Raw(Zeroizing::new([byte; 32]))
}

fn options(chunk_size: usize) -> WriterOptions {
    WriterOptions {
        kdf: KdfParams::INSECURE_TEST_ONLY,
        chunk_size,
    }
}

/// Plaintext that differs at every position, so misplaced bytes would show.
fn body(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0] ^ (i as u8))
        .collect()
}

fn write_archive(key: &BackupKey, data: &[u8], chunk_size: usize) -> (Vec<u8>, Summary) {
    let mut out = Vec::new();
    let mut w = ArchiveWriter::with_options(&mut out, key, metadata(), options(chunk_size))
        .expect("writer");
    // Uneven pieces exercise the chunk buffering.
    let mut rest = data;
    let mut piece = 1;
    while !rest.is_empty() {
        let n = piece.min(rest.len());
        w.write(&rest[..n]).expect("write");
        rest = &rest[n..];
        piece = piece * 3 + 1;
    }
    let summary = w.finish().expect("finish");
    (out, summary)
}

/// Opens and reads to the end; on a read error also returns what was read before it.
fn read_archive(
    file: &[u8],
    key: &BackupKey,
) -> Result<(Metadata, Vec<u8>), (BackupError, Vec<u8>)> {
    let (meta, mut r) = ArchiveReader::open(file, key).map_err(|e| (e, Vec::new()))?;
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => {
            let s = r.summary().expect("summary after end");
            assert_eq!(s.plaintext_len, out.len() as u64);
            assert_eq!(s.archive_len, file.len() as u64);
            Ok((meta, out))
        }
        Err(e) => Err((BackupError::from_io(e), out)),
    }
}

/// The damaged file must be refused, and nothing but a prefix of the true plaintext
/// may come out before the refusal.
fn assert_refused(file: &[u8], key: &BackupKey, original: &[u8], what: &str) -> BackupError {
    match read_archive(file, key) {
        Ok(_) => panic!("{what}: damaged archive was accepted"),
        Err((e, partial)) => {
            assert!(
                original.starts_with(&partial),
                "{what}: wrong plaintext came out before the error {e}"
            );
            e
        }
    }
}

/// Offsets where the header ends and where each chunk ends, from the file itself.
fn boundaries(file: &[u8]) -> Vec<usize> {
    let h = u32::from_be_bytes(file[10..14].try_into().unwrap()) as usize;
    let mut at = PRELUDE_LEN + h + TAG_LEN;
    let mut out = vec![at];
    while at < file.len() {
        let len = u32::from_be_bytes(file[at + 1..at + 5].try_into().unwrap()) as usize;
        at += FRAME_LEN + len;
        out.push(at);
    }
    assert_eq!(at, file.len());
    out
}

#[test]
fn round_trip_sizes() {
    let key = passphrase(PASSPHRASE);
    let cases: &[(usize, usize, u32)] = &[
        (0, DEFAULT_CHUNK_SIZE, 1),
        (1, DEFAULT_CHUNK_SIZE, 1),
        (DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, 1),
        (DEFAULT_CHUNK_SIZE + 1, DEFAULT_CHUNK_SIZE, 2),
        (3 * 1024 * 1024 + 12345, DEFAULT_CHUNK_SIZE, 49),
        (100, 7, 15),
        (70, 7, 10),
    ];
    for &(len, chunk, chunks) in cases {
        let data = body(len);
        let (file, summary) = write_archive(&key, &data, chunk);
        assert_eq!(summary.plaintext_len, len as u64, "len {len}");
        assert_eq!(summary.chunks, chunks, "len {len} chunk {chunk}");
        assert_eq!(summary.archive_len, file.len() as u64);
        let expected: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(summary.plaintext_sha256, expected);
        let (meta, out) = read_archive(&file, &key).map_err(|(e, _)| e).unwrap();
        assert_eq!(meta, metadata());
        assert!(out == data, "plaintext differs for len {len}");
        assert_eq!(boundaries(&file).len(), chunks as usize + 1);
    }
}

#[test]
fn reader_summary_matches_writer() {
    let key = raw(7);
    let data = body(5000);
    let (file, written) = write_archive(&key, &data, 1024);
    let (_, mut r) = ArchiveReader::open(&file[..], &key).unwrap();
    assert!(r.summary().is_none());
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(r.summary().unwrap(), written);
}

#[test]
fn raw_key_round_trip_and_wrong_raw_key() {
    let data = body(300);
    let (file, _) = write_archive(&raw(1), &data, 64);
    assert_eq!(
        read_archive(&file, &raw(1)).map_err(|(e, _)| e).unwrap().1,
        data
    );
    assert!(matches!(
        read_archive(&file, &raw(2)).unwrap_err().0,
        BackupError::WrongKey
    ));
}

#[test]
fn wrong_passphrase_is_wrong_key() {
    let (file, _) = write_archive(&passphrase(PASSPHRASE), b"secret data", 64);
    let err = read_archive(&file, &passphrase("Correct horse battery staple"))
        .unwrap_err()
        .0;
    assert!(matches!(err, BackupError::WrongKey), "{err:?}");
    assert!(!err.to_string().contains("horse"));
}

#[test]
fn wrong_key_kind_is_named() {
    let (file, _) = write_archive(&passphrase(PASSPHRASE), b"x", 64);
    let err = read_archive(&file, &raw(1)).unwrap_err().0;
    assert!(
        matches!(
            err,
            BackupError::WrongKeyKind {
                needed: "passphrase",
                ..
            }
        ),
        "{err:?}"
    );
    let (file, _) = write_archive(&raw(1), b"x", 64);
    let err = read_archive(&file, &passphrase(PASSPHRASE)).unwrap_err().0;
    assert!(
        matches!(
            err,
            BackupError::WrongKeyKind {
                needed: "raw key",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn every_byte_flip_of_small_archive_refused() {
    let key = passphrase(PASSPHRASE);
    let data = body(100);
    // Chunk size 32: four chunks, the last one short.
    let (file, _) = write_archive(&key, &data, 32);
    for i in 0..file.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = file.clone();
            bad[i] ^= mask;
            assert_refused(&bad, &key, &data, &format!("byte {i} ^ {mask:#x}"));
        }
    }
}

#[test]
fn sampled_byte_flips_of_large_archive_refused() {
    let key = raw(9);
    let data = body(2 * 1024 * 1024 + 999);
    let (file, _) = write_archive(&key, &data, DEFAULT_CHUNK_SIZE);
    let bounds = boundaries(&file);
    let mut positions: Vec<usize> = (0..bounds[0]).step_by(7).collect();
    // Each chunk's frame bytes, first and last ciphertext byte.
    for w in bounds.windows(2) {
        positions.extend([w[0], w[0] + 1, w[0] + 4, w[0] + 5, w[1] - 1]);
    }
    // And a spread of pseudo-random positions.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..40 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        positions.push((x >> 16) as usize % file.len());
    }
    for i in positions {
        let mut bad = file.clone();
        bad[i] ^= 0x04;
        assert_refused(&bad, &key, &data, &format!("byte {i}"));
    }
}

#[test]
fn truncation_at_every_chunk_boundary_refused() {
    let key = raw(3);
    let data = body(1000);
    let (file, _) = write_archive(&key, &data, 100);
    let bounds = boundaries(&file);
    assert_eq!(bounds.len(), 11);
    for &cut in &bounds[..bounds.len() - 1] {
        let err = assert_refused(&file[..cut], &key, &data, &format!("cut at {cut}"));
        assert!(
            matches!(err, BackupError::Truncated(_)),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn truncation_at_every_byte_refused() {
    let key = passphrase(PASSPHRASE);
    let data = body(90);
    let (file, _) = write_archive(&key, &data, 40);
    for cut in 0..file.len() {
        let err = assert_refused(&file[..cut], &key, &data, &format!("cut at {cut}"));
        if cut < MAGIC.len() {
            assert!(
                matches!(err, BackupError::NotABackup),
                "cut at {cut}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, BackupError::Truncated(_)),
                "cut at {cut}: {err:?}"
            );
        }
    }
}

#[test]
fn unfinished_writer_leaves_truncated_file() {
    let key = raw(5);
    let mut file = Vec::new();
    {
        let mut w = ArchiveWriter::with_options(&mut file, &key, metadata(), options(16)).unwrap();
        w.write(&body(100)).unwrap();
    }
    let err = assert_refused(&file, &key, &body(100), "unfinished");
    assert!(matches!(err, BackupError::Truncated(_)), "{err:?}");
}

#[test]
fn appended_data_refused() {
    let key = raw(4);
    let data = body(200);
    let (file, _) = write_archive(&key, &data, 64);
    let (other, _) = write_archive(&key, &data, 64);
    let last_chunk = &file[boundaries(&file)[3]..];
    for tail in [&[0u8][..], b"garbage", last_chunk, &other[..]] {
        let mut bad = file.clone();
        bad.extend_from_slice(tail);
        let err = assert_refused(&bad, &key, &data, "appended");
        assert!(matches!(err, BackupError::Tampered(_)), "{err:?}");
    }
}

#[test]
fn reordered_and_swapped_chunks_refused() {
    let key = raw(6);
    let data = body(300);
    let (a, _) = write_archive(&key, &data, 64);
    let (b, _) = write_archive(&key, &data, 64);
    let ba = boundaries(&a);
    let bb = boundaries(&b);
    // Chunk 1 of another file with the same key, size and content.
    let mut swapped = a[..ba[1]].to_vec();
    swapped.extend_from_slice(&b[bb[1]..bb[2]]);
    swapped.extend_from_slice(&a[ba[2]..]);
    assert_eq!(swapped.len(), a.len());
    let err = assert_refused(&swapped, &key, &data, "swapped between files");
    assert!(matches!(err, BackupError::Tampered(_)), "{err:?}");
    // Chunks 0 and 1 of the same file exchanged.
    let mut reordered = a[..ba[0]].to_vec();
    reordered.extend_from_slice(&a[ba[1]..ba[2]]);
    reordered.extend_from_slice(&a[ba[0]..ba[1]]);
    reordered.extend_from_slice(&a[ba[2]..]);
    let err = assert_refused(&reordered, &key, &data, "reordered");
    assert!(matches!(err, BackupError::Tampered(_)), "{err:?}");
    // A middle chunk dropped.
    let mut dropped = a[..ba[1]].to_vec();
    dropped.extend_from_slice(&a[ba[2]..]);
    assert_refused(&dropped, &key, &data, "dropped");
}

/// Replaces `from` with `to` in the header JSON, fixing up the header length.
fn edit_header(file: &[u8], from: &str, to: &str) -> Vec<u8> {
    let h = u32::from_be_bytes(file[10..14].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&file[PRELUDE_LEN..PRELUDE_LEN + h]).unwrap();
    assert!(json.contains(from), "{from} not in {json}");
    let edited = json.replacen(from, to, 1);
    let mut out = file[..10].to_vec();
    out.extend_from_slice(&(edited.len() as u32).to_be_bytes());
    out.extend_from_slice(edited.as_bytes());
    out.extend_from_slice(&file[PRELUDE_LEN + h..]);
    out
}

#[test]
fn header_edits_refused() {
    let key = passphrase(PASSPHRASE);
    let data = body(150);
    let (file, _) = write_archive(&key, &data, 64);
    for (from, to) in [
        ("node-a", "node-b"),
        ("\"schema_version\":12", "\"schema_version\":13"),
        ("\"keys\":1000", "\"keys\":999"),
        ("\"kind\":\"data\"", "\"kind\":\"master-key\""),
        ("\"chunk_size\":64", "\"chunk_size\":65"),
        ("{\"metadata\"", "{ \"metadata\""),
    ] {
        let bad = edit_header(&file, from, to);
        // Still readable without a key: the edit is only caught by opening.
        assert!(read_metadata(&bad[..]).is_ok(), "{from}");
        let err = assert_refused(&bad, &key, &data, from);
        assert!(matches!(err, BackupError::Tampered(_)), "{from}: {err:?}");
    }
    // Editing what derives the key-encryption key looks like a wrong passphrase.
    let bad = edit_header(&file, "\"t_cost\":1", "\"t_cost\":2");
    assert!(matches!(
        assert_refused(&bad, &key, &data, "t_cost"),
        BackupError::WrongKey
    ));
}

#[test]
fn read_metadata_needs_no_key() {
    let (file, _) = write_archive(&passphrase(PASSPHRASE), b"body", 64);
    let header = read_metadata(&file[..]).unwrap();
    assert_eq!(header.metadata_unverified(), &metadata());
    assert_eq!(header.key_kind(), KeyKind::Passphrase);
    assert_eq!(header.chunk_size(), 64);
    assert_eq!(header.format_version(), FORMAT_VERSION);
    let (file, _) = write_archive(&raw(1), b"body", 64);
    assert_eq!(read_metadata(&file[..]).unwrap().key_kind(), KeyKind::Raw);
}

#[test]
fn not_a_backup_and_unsupported_version() {
    for junk in [
        &b""[..],
        &b"CLAVIS"[..],
        &b"PK\x03\x04 zip"[..],
        &[0u8; 100][..],
    ] {
        assert!(matches!(read_metadata(junk), Err(BackupError::NotABackup)));
        assert!(matches!(
            ArchiveReader::open(junk, &raw(1)),
            Err(BackupError::NotABackup)
        ));
    }
    let (mut file, _) = write_archive(&raw(1), b"body", 64);
    file[8..10].copy_from_slice(&2u16.to_be_bytes());
    assert!(matches!(
        read_metadata(&file[..]),
        Err(BackupError::UnsupportedVersion(2))
    ));
    assert!(matches!(
        ArchiveReader::open(&file[..], &raw(1)),
        Err(BackupError::UnsupportedVersion(2))
    ));
}

#[test]
fn oversized_header_refused_both_ways() {
    let mut meta = metadata();
    meta.node_name = "n".repeat(MAX_HEADER_LEN);
    let err = ArchiveWriter::with_options(Vec::new(), &raw(1), meta, options(64))
        .err()
        .unwrap();
    assert!(matches!(err, BackupError::HeaderTooLarge { .. }), "{err:?}");

    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    file.extend_from_slice(&(MAX_HEADER_LEN as u32 + 1).to_be_bytes());
    file.extend_from_slice(&[b' '; 100]);
    assert!(matches!(
        read_metadata(&file[..]),
        Err(BackupError::HeaderTooLarge { .. })
    ));
}

#[test]
fn invalid_options_refused() {
    let w = |key: &BackupKey, o: WriterOptions| {
        ArchiveWriter::with_options(Vec::new(), key, metadata(), o).err()
    };
    assert!(matches!(
        w(&passphrase(""), options(64)),
        Some(BackupError::InvalidOptions(_))
    ));
    assert!(matches!(
        w(&raw(1), options(0)),
        Some(BackupError::InvalidOptions(_))
    ));
    assert!(matches!(
        w(&raw(1), options(MAX_CHUNK_SIZE + 1)),
        Some(BackupError::InvalidOptions(_))
    ));
    let weak = WriterOptions {
        kdf: KdfParams {
            m_cost_kib: 1,
            t_cost: 1,
            p_cost: 1,
        },
        chunk_size: 64,
    };
    assert!(matches!(
        w(&passphrase("p"), weak),
        Some(BackupError::InvalidOptions(_))
    ));
}

#[test]
fn failed_read_stays_failed() {
    let key = raw(8);
    let data = body(500);
    let (mut file, _) = write_archive(&key, &data, 100);
    let b = boundaries(&file);
    file[b[2] + 10] ^= 1;
    let (_, mut r) = ArchiveReader::open(&file[..], &key).unwrap();
    let mut out = vec![0u8; 1000];
    let mut got = 0;
    let err = loop {
        match r.read(&mut out[got..]) {
            Ok(0) => panic!("end of stream on a damaged file"),
            Ok(n) => got += n,
            Err(e) => break e,
        }
    };
    assert_eq!(got, 200);
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(matches!(
        BackupError::from_io(err),
        BackupError::Tampered(_)
    ));
    let again = r.read(&mut out).unwrap_err();
    assert!(matches!(BackupError::from_io(again), BackupError::Poisoned));
}

#[test]
fn no_secret_in_debug_or_errors() {
    let key = passphrase(PASSPHRASE);
    assert!(!format!("{key:?}").contains("horse"));
    let rk = raw(0xab);
    assert!(!format!("{rk:?}").to_lowercase().contains("abab"));
    let (file, _) = write_archive(&key, b"top secret body", 64);
    let err = read_archive(&file, &passphrase("wrong")).unwrap_err().0;
    assert!(!format!("{err} {err:?}").contains("horse"));
    assert!(!format!("{:?}", read_metadata(&file[..]).unwrap()).contains("top secret"));
}

#[test]
fn default_options_round_trip() {
    // The real Argon2id cost once, so the default parameters are known to work.
    let key = passphrase(PASSPHRASE);
    let mut file = Vec::new();
    let mut w = ArchiveWriter::new(&mut file, &key, metadata()).unwrap();
    w.write(b"hello").unwrap();
    w.finish().unwrap();
    let header = read_metadata(&file[..]).unwrap();
    assert_eq!(header.chunk_size(), DEFAULT_CHUNK_SIZE);
    assert_eq!(
        read_archive(&file, &key).map_err(|(e, _)| e).unwrap().1,
        b"hello"
    );
}

#[test]
fn derived_key_writes_what_the_passphrase_opens() {
    let derived = DerivedKey::derive(PASSPHRASE, KdfParams::INSECURE_TEST_ONLY).expect("derive");
    let (kek, salt, params) = derived.parts();
    let kept = DerivedKey::from_parts(kek, salt, params).expect("parts");
    let data = body(3000);
    let (file, _) = write_archive(&BackupKey::Derived(kept), &data, 1024);
    let (_, out) = read_archive(&file, &passphrase(PASSPHRASE)).expect("opens with passphrase");
    assert_eq!(out, data);
    // The same key reopens it; a key derived with another salt does not.
    assert!(read_archive(&file, &BackupKey::Derived(derived)).is_ok());
    let other = DerivedKey::derive(PASSPHRASE, KdfParams::INSECURE_TEST_ONLY).expect("derive");
    let err = ArchiveReader::open(&file[..], &BackupKey::Derived(other)).err();
    assert!(matches!(err, Some(BackupError::WrongKey)), "{err:?}");
    let err = ArchiveReader::open(&file[..], &passphrase("another")).err();
    assert!(matches!(err, Some(BackupError::WrongKey)), "{err:?}");
}

#[test]
fn derived_key_parts_of_the_wrong_size_are_refused() {
    assert!(DerivedKey::from_parts(&[0; 31], &[0; 16], KdfParams::DEFAULT).is_none());
    assert!(DerivedKey::from_parts(&[0; 32], &[0; 15], KdfParams::DEFAULT).is_none());
    assert!(DerivedKey::derive("", KdfParams::INSECURE_TEST_ONLY).is_err());
}
