//! The audit trail against real nodes: tampering with any stored byte is detected and
//! the first broken record named; deletion leaves a verifiable chain; exports parse;
//! records reach a syslog server; the checkpoint task signs the head.
//!
//! Records are seeded with `Store::append_audit`, as the service does for events that
//! change nothing else. Tampering is done with plain SQL on the test's own database,
//! as an attacker with write access to it would.

mod common;

use clavis::audit::verify::{verify, Problem, VerifyReport};
use clavis::audit::{ActorKind, AuditEvent, CheckpointKind, ExportFormat, Outcome};
use clavis::service::{KeyService, Principal};
use clavis::store::audit::{AuditFilter, AuditRecord};
use common::node::{client, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use sqlx::{Connection, Row};
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    dir: NodeDir,
    node: clavis::node::RunningNode,
    db_url: String,
    token: String,
}

async fn fixture(pg: bool, audit_section: &str) -> Fixture {
    let db_url = if pg {
        Some(common::pg::fresh_database().await)
    } else {
        None
    };
    let rot = format!("{SOFTWARE_ROT}\n{audit_section}\n");
    let dir = NodeDir::new(db_url.as_deref(), &rot);
    let token = dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let db_url = db_url.unwrap_or_else(|| format!("sqlite://{}", dir.sqlite_path().display()));
    Fixture {
        dir,
        node,
        db_url,
        token,
    }
}

impl Fixture {
    fn svc(&self) -> &Arc<KeyService> {
        &self.node.service
    }

    async fn db(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.db_url)
            .await
            .expect("connect to the test database")
    }

    async fn origin(&self) -> String {
        self.svc().store().replica_id().await.expect("replica id")
    }

    /// Appends `n` records with every field set; returns their seqs.
    async fn seed(&self, n: usize, action: &str) -> Vec<i64> {
        let node_id = self.svc().node().node_id.clone();
        let mut seqs = Vec::new();
        for i in 0..n {
            let ev = AuditEvent {
                actor: format!("alice{i}"),
                actor_kind: ActorKind::User,
                action: action.to_owned(),
                object: Some(format!("0192f0c4-8a7e-7c3b-9d2e-{i:012}")),
                source: Some("127.0.0.1:40000".into()),
                outcome: if i % 3 == 0 {
                    Outcome::Denied
                } else {
                    Outcome::Success
                },
                detail: Some(format!("detail number {i}")),
            };
            let seq = self
                .svc()
                .store()
                .append_audit(&node_id, &ev, clavis::audit::now_ms())
                .await
                .expect("append");
            seqs.push(seq);
        }
        seqs
    }

    /// Verification as the node does it, without recording the verification itself
    /// (which would append to the chain being tampered with).
    async fn verify(&self) -> VerifyReport {
        let trust = self.svc().audit_trust().expect("trust");
        verify(self.svc().store(), &trust)
            .await
            .expect("verify runs")
    }
}

fn system() -> Principal {
    Principal::system("auditor")
}

/// The failure a report names first.
fn first(r: &VerifyReport) -> (String, i64, Problem) {
    let f = r
        .first_failure
        .as_ref()
        .unwrap_or_else(|| panic!("verification passed, but the trail was tampered with: {r:?}"));
    assert!(!r.ok);
    (f.origin.clone(), f.seq, f.problem.clone())
}

const TEXT_COLUMNS: [&str; 9] = [
    "origin",
    "node_id",
    "actor",
    "actor_kind",
    "action",
    "object",
    "source",
    "outcome",
    "detail",
];
const INT_COLUMNS: [&str; 2] = ["seq", "at_ms"];
const BLOB_COLUMNS: [&str; 2] = ["prev_hash", "hash"];

/// Flips one byte (one bit of it) of `column` of record (origin, seq) in the database;
/// returns the record's key afterwards and the original value to put back.
async fn flip(
    db: &mut sqlx::AnyConnection,
    column: &str,
    origin: &str,
    seq: i64,
) -> ((String, i64), Flipped) {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {column} FROM audit_records WHERE origin = $1 AND seq = $2"
    )))
    .bind(origin.to_owned())
    .bind(seq)
    .fetch_one(&mut *db)
    .await
    .expect("read column");
    let (new, old) = if TEXT_COLUMNS.contains(&column) {
        let v: String = row.try_get(0).expect("text");
        let mut b = v.clone().into_bytes();
        let last = b.len() - 1;
        b[last] ^= 1; // ASCII stays ASCII
        (
            Flipped::Text(String::from_utf8(b).expect("utf-8")),
            Flipped::Text(v),
        )
    } else if INT_COLUMNS.contains(&column) {
        let v: i64 = row.try_get(0).expect("int");
        // For seq: far away, so the row cannot collide with another one.
        let bit = if column == "seq" { 1 << 40 } else { 1 };
        (Flipped::Int(v ^ bit), Flipped::Int(v))
    } else {
        let v: Vec<u8> = row.try_get(0).expect("blob");
        let mut b = v.clone();
        b[7] ^= 0x10;
        (Flipped::Blob(b), Flipped::Blob(v))
    };
    set(db, column, origin, seq, &new).await;
    let key = match (&new, column) {
        (Flipped::Text(o), "origin") => (o.clone(), seq),
        (Flipped::Int(s), "seq") => (origin.to_owned(), *s),
        _ => (origin.to_owned(), seq),
    };
    (key, old)
}

#[derive(Debug, Clone)]
enum Flipped {
    Text(String),
    Int(i64),
    Blob(Vec<u8>),
}

async fn set(db: &mut sqlx::AnyConnection, column: &str, origin: &str, seq: i64, v: &Flipped) {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE audit_records SET {column} = $1 WHERE origin = $2 AND seq = $3"
    )));
    let q = match v {
        Flipped::Text(s) => q.bind(s.clone()),
        Flipped::Int(i) => q.bind(*i),
        Flipped::Blob(b) => q.bind(b.clone()),
    };
    let done = q
        .bind(origin.to_owned())
        .bind(seq)
        .execute(&mut *db)
        .await
        .expect("update");
    assert_eq!(done.rows_affected(), 1, "{column} of ({origin}, {seq})");
}

async fn every_column_is_covered(pg: bool) {
    let f = fixture(pg, "").await;
    let seqs = f.seed(12, "key.get").await;
    let target = seqs[5];
    let origin = f.origin().await;
    assert!(f.verify().await.ok, "a fresh trail verifies");
    let mut db = f.db().await;
    let columns = TEXT_COLUMNS
        .iter()
        .chain(INT_COLUMNS.iter())
        .chain(BLOB_COLUMNS.iter());
    for column in columns {
        let ((o, s), old) = flip(&mut db, column, &origin, target).await;
        let r = f.verify().await;
        let (fo, fs, problem) = first(&r);
        assert_eq!(
            (fo.as_str(), fs),
            (origin.as_str(), target),
            "flipping {column} must name record {target}: {r:?}"
        );
        let expected = match *column {
            "origin" | "seq" => Problem::MissingRecords {
                from: target,
                to: target,
            },
            "prev_hash" => Problem::BrokenLink,
            _ => Problem::HashMismatch,
        };
        assert_eq!(problem, expected, "flipping {column}");
        // Put it back: the trail verifies again, so the next column is tested alone.
        set(&mut db, column, &o, s, &old).await;
        assert!(f.verify().await.ok, "after restoring {column}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_a_byte_of_any_column_names_the_record_sqlite() {
    every_column_is_covered(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_a_byte_of_any_column_names_the_record_postgres() {
    every_column_is_covered(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_deleted_from_the_middle_is_named_as_a_gap() {
    let f = fixture(false, "").await;
    let seqs = f.seed(10, "key.get").await;
    let origin = f.origin().await;
    let mut db = f.db().await;
    sqlx::query("DELETE FROM audit_records WHERE origin = $1 AND seq = $2")
        .bind(origin.clone())
        .bind(seqs[4])
        .execute(&mut db)
        .await
        .expect("delete");
    let r = f.verify().await;
    let (o, s, p) = first(&r);
    assert_eq!((o, s), (origin, seqs[4]));
    assert_eq!(
        p,
        Problem::MissingRecords {
            from: seqs[4],
            to: seqs[4]
        }
    );
    assert!(r
        .first_failure
        .as_ref()
        .is_some_and(|f| f.message.contains("missing record")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncating_the_tail_after_a_checkpoint_is_detected() {
    let f = fixture(false, "").await;
    let seqs = f.seed(10, "key.get").await;
    let origin = f.origin().await;
    let cp = f
        .svc()
        .audit_checkpoint(CheckpointKind::Periodic)
        .await
        .expect("checkpoint")
        .expect("a new checkpoint");
    assert_eq!(cp.seq, seqs[9]);
    assert!(f.verify().await.ok);
    let keep = seqs[6];
    let mut db = f.db().await;
    sqlx::query("DELETE FROM audit_records WHERE origin = $1 AND seq > $2")
        .bind(origin.clone())
        .bind(keep)
        .execute(&mut db)
        .await
        .expect("truncate");
    // Without touching the head row, the head names the cut.
    let (_, s, p) = first(&f.verify().await);
    assert_eq!(s, keep + 1);
    assert!(
        matches!(p, Problem::HeadMismatch { head_seq, chain_seq } if head_seq == seqs[9] && chain_seq == keep),
        "{p:?}"
    );
    // A careful attacker moves the head back too; the signed checkpoint still names it.
    let hash: Vec<u8> =
        sqlx::query("SELECT hash FROM audit_records WHERE origin = $1 AND seq = $2")
            .bind(origin.clone())
            .bind(keep)
            .fetch_one(&mut db)
            .await
            .expect("hash")
            .try_get(0)
            .expect("blob");
    sqlx::query("UPDATE audit_heads SET seq = $1, hash = $2 WHERE origin = $3")
        .bind(keep)
        .bind(hash)
        .bind(origin.clone())
        .execute(&mut db)
        .await
        .expect("move head");
    let (o, s, p) = first(&f.verify().await);
    assert_eq!((o, s), (origin, keep + 1));
    assert_eq!(
        p,
        Problem::Truncated {
            checkpoint_seq: seqs[9],
            chain_seq: keep
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_checkpoint_signature_is_detected() {
    let f = fixture(false, "").await;
    let seqs = f.seed(5, "key.get").await;
    let origin = f.origin().await;
    let cp = f
        .svc()
        .audit_checkpoint(CheckpointKind::Periodic)
        .await
        .expect("checkpoint")
        .expect("new");
    let r = f.verify().await;
    assert!(
        r.ok && r.checkpoints_checked == 1 && r.checkpoints_foreign == 0,
        "{r:?}"
    );
    let mut db = f.db().await;

    // One flipped byte of the signature.
    let mut sig = cp.signature.clone();
    sig[10] ^= 1;
    let update = "UPDATE audit_checkpoints SET public_key = $1, signature = $2 WHERE origin = $3 AND seq = $4";
    sqlx::query(update)
        .bind(cp.public_key.clone())
        .bind(sig)
        .bind(origin.clone())
        .bind(cp.seq)
        .execute(&mut db)
        .await
        .expect("forge");
    let (o, s, p) = first(&f.verify().await);
    assert_eq!((o.as_str(), s), (origin.as_str(), seqs[4]));
    assert_eq!(
        p,
        Problem::BadSignature {
            checkpoint: "periodic".into()
        }
    );

    // A valid signature by the attacker's own key, stored beside it, claiming to be
    // this node's: the node trusts only its live key, so it is refused.
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("key");
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
    use ring::signature::KeyPair;
    let forged = key
        .sign(&rng, &cp.message())
        .expect("sign")
        .as_ref()
        .to_vec();
    sqlx::query(update)
        .bind(key.public_key().as_ref().to_vec())
        .bind(forged)
        .bind(origin.clone())
        .bind(cp.seq)
        .execute(&mut db)
        .await
        .expect("forge");
    let (_, s, p) = first(&f.verify().await);
    assert_eq!(s, seqs[4]);
    assert_eq!(
        p,
        Problem::BadSignature {
            checkpoint: "periodic".into()
        }
    );
}

async fn delete_keeps_a_verifiable_chain(pg: bool) {
    let f = fixture(pg, "").await;
    let old = f.seed(8, "key.get").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = clavis::audit::now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new = f.seed(4, "key.create").await;
    let origin = f.origin().await;
    let who = system();

    let err = f
        .svc()
        .audit_delete(&who, clavis::audit::now_ms() + 3_600_000)
        .await
        .expect_err("a cut in the future is refused");
    assert!(err.to_string().contains("future"), "{err}");

    let rep = f.svc().audit_delete(&who, cutoff).await.expect("delete");
    // Everything before the cut goes: the seeded old records and whatever the node
    // recorded before them.
    let last_old = *old.last().expect("seeded");
    assert_eq!(rep.deleted, u64::try_from(last_old).expect("positive"));
    assert_eq!(rep.origins.len(), 1);
    assert_eq!(rep.origins[0].upto_seq, last_old);
    // After the new records: the refused attempt (recorded as failed), then this one.
    assert_eq!(rep.record_seq, new[3] + 2);

    let r = f.verify().await;
    assert!(r.ok, "{:?}", r.first_failure);
    assert_eq!(r.chains[0].deletion_anchor, Some(last_old));
    assert_eq!(r.chains[0].first_seq, new[0]);
    assert_eq!(
        r.records_checked, 6,
        "4 new records, the refusal and the deletion"
    );

    let recs = f
        .svc()
        .audit_records(
            &who,
            AuditFilter {
                action: Some("audit.delete".into()),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0].outcome, "failed");
    assert!(recs[0]
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("future")));
    assert_eq!(recs[1].seq, rep.record_seq);
    assert_eq!(recs[1].actor, "auditor");
    assert_eq!(recs[1].outcome, "success");
    assert!(
        recs[1]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(&format!("up to seq {last_old}"))),
        "{recs:?}"
    );
    let cps = f
        .svc()
        .store()
        .audit_checkpoints(&origin)
        .await
        .expect("checkpoints");
    assert!(cps
        .iter()
        .any(|c| c.kind == "deletion" && c.seq == last_old));

    // What remains is still guarded: the first kept record cannot go unnoticed.
    let mut db = f.db().await;
    sqlx::query("DELETE FROM audit_records WHERE origin = $1 AND seq = $2")
        .bind(origin.clone())
        .bind(new[0])
        .execute(&mut db)
        .await
        .expect("delete");
    let (_, s, p) = first(&f.verify().await);
    assert_eq!(s, new[0]);
    assert_eq!(
        p,
        Problem::MissingRecords {
            from: new[0],
            to: new[0]
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_older_than_leaves_a_verifiable_chain_sqlite() {
    delete_keeps_a_verifiable_chain(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_older_than_leaves_a_verifiable_chain_postgres() {
    delete_keeps_a_verifiable_chain(true).await;
}

async fn export(f: &Fixture, format: ExportFormat) -> String {
    let mut exp = f
        .svc()
        .audit_export(&system(), format, None, None)
        .await
        .expect("export");
    let mut out = Vec::new();
    while let Some(chunk) = exp.next_chunk().await {
        out.extend(chunk.expect("chunk"));
    }
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_parse_and_escape_hostile_fields() {
    let f = fixture(false, "").await;
    f.seed(3, "key.get").await;
    let hostile = AuditEvent {
        actor: "ev|l=x\nCEF:0|forged".into(),
        actor_kind: ActorKind::Endpoint,
        action: "key.get".into(),
        object: Some("a=b".into()),
        source: Some("[::1]:5696".into()),
        outcome: Outcome::Failed,
        detail: Some("back\\slash|pipe=eq\r\nnext".into()),
    };
    let node_id = f.svc().node().node_id.clone();
    f.svc()
        .store()
        .append_audit(&node_id, &hostile, clavis::audit::now_ms())
        .await
        .expect("append");

    // JSON lines: one record per line, every field, and the chain re-verifies from the
    // file alone.
    let jsonl = export(&f, ExportFormat::Jsonl).await;
    let parsed: Vec<AuditRecord> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a record"))
        .collect();
    // The export itself was recorded before it started, so it is in it.
    assert_eq!(
        parsed.last().map(|r| r.action.as_str()),
        Some("audit.export")
    );
    let stored = f
        .svc()
        .store()
        .audit_records(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .expect("records");
    assert_eq!(parsed, stored);
    let mut prev = vec![0u8; 32];
    for r in &parsed {
        assert_eq!(r.prev_hash, prev);
        assert_eq!(r.fields().hash(&r.prev_hash).to_vec(), r.hash);
        prev = r.hash.clone();
    }
    let h = parsed
        .iter()
        .find(|r| r.actor_kind == "endpoint")
        .expect("hostile record");
    assert_eq!(
        h.actor, "ev|l=x CEF:0|forged",
        "newline replaced when stored"
    );
    assert_eq!(h.detail.as_deref(), Some("back\\slash|pipe=eq  next"));

    // CEF: one syslog line per record; the hostile record cannot add a line or a field.
    let cef = export(&f, ExportFormat::Cef).await;
    let lines: Vec<&str> = cef.lines().collect();
    assert_eq!(
        lines.len(),
        stored.len() + 1,
        "one more: the second export's record"
    );
    for l in &lines {
        assert!(
            l.starts_with('<') && l.contains(" clavisd - audit - CEF:0|Clavis|clavisd|"),
            "{l}"
        );
    }
    let l = lines
        .iter()
        .find(|l| l.contains("cs5=endpoint"))
        .expect("hostile line");
    assert!(
        l.contains("suser=ev|l\\=x CEF:0|forged cs5Label=actorKind"),
        "{l}"
    );
    assert!(
        l.contains("msg=back\\\\slash|pipe\\=eq  next cs2Label"),
        "{l}"
    );
    assert!(l.contains("cs1=a\\=b"), "{l}");
    assert!(l.contains("src=::1 spt=5696"), "{l}");
    assert!(l.contains("|key.get|key.get|5|"), "{l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_forwarded_to_syslog_over_udp() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = sock.local_addr().expect("addr");
    let f = fixture(false, &format!("[audit]\nsyslog = \"udp://{addr}\"\n")).await;
    let node_id = f.svc().node().node_id.clone();
    let ev = AuditEvent {
        actor: "bob".into(),
        actor_kind: ActorKind::User,
        action: "test.syslog".into(),
        object: None,
        source: None,
        outcome: Outcome::Success,
        detail: Some("over the wire".into()),
    };
    let seq = f
        .svc()
        .store()
        .append_audit(&node_id, &ev, clavis::audit::now_ms())
        .await
        .expect("append");
    let mut buf = vec![0u8; 65536];
    let line = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("a datagram within 10 s")
            .expect("recv");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("act=test.syslog") {
            break line;
        }
    };
    assert!(
        line.starts_with("<110>1 "),
        "log audit facility, informational: {line}"
    );
    assert!(
        line.contains(" test-node clavisd - audit - CEF:0|Clavis|clavisd|"),
        "{line}"
    );
    assert!(line.contains(&format!("cn1={seq}")), "{line}");
    assert!(line.contains("msg=over the wire"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_task_signs_the_head_when_it_moves() {
    let f = fixture(false, "[audit]\ncheckpoint_interval_secs = 1\n").await;
    let seqs = f.seed(3, "key.get").await;
    let origin = f.origin().await;
    let mut found = false;
    for _ in 0..50 {
        let cps = f
            .svc()
            .store()
            .audit_checkpoints(&origin)
            .await
            .expect("checkpoints");
        if cps.iter().any(|c| c.kind == "periodic" && c.seq >= seqs[2]) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found, "no periodic checkpoint of the head within 10 s");
    let r = f.verify().await;
    assert!(r.ok && r.checkpoints_checked >= 1, "{r:?}");
    // The head did not move: no second checkpoint of the same seq.
    assert!(f
        .svc()
        .audit_checkpoint(CheckpointKind::Periodic)
        .await
        .expect("checkpoint")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_verify_records_itself_and_rest_and_cli_report_a_broken_trail() {
    let f = fixture(false, "").await;
    let seqs = f.seed(6, "key.get").await;
    let rep = f.svc().audit_verify(&system()).await.expect("verify");
    assert!(rep.ok);
    let recs = f
        .svc()
        .store()
        .audit_records(&AuditFilter {
            action: Some("audit.verify".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("records");
    assert_eq!(recs.len(), 1);
    assert!(recs[0]
        .detail
        .as_deref()
        .is_some_and(|d| d.starts_with("intact")));

    // Through the REST API with the initial administrator's token.
    let addr = f.node.api_addr.to_string();
    let ca = f.dir.ca_pem();
    let mut c = client(&addr, &ca, &f.token);
    let (st, v) = c
        .request(Method::POST, "/v1/audit/verify", None)
        .await
        .expect("request");
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    let (st, v) = c
        .request(
            Method::GET,
            "/v1/audit/records?limit=2&since=2000-01-01",
            None,
        )
        .await
        .expect("request");
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["records"].as_array().map(Vec::len), Some(2), "{v}");
    let (st, v) = c
        .request(Method::GET, "/v1/audit/records?since=yesterday", None)
        .await
        .expect("request");
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");

    // Break the chain; the CLI exits non-zero and names the record.
    let mut db = f.db().await;
    sqlx::query("UPDATE audit_records SET actor = 'mallory' WHERE seq = $1")
        .bind(seqs[2])
        .execute(&mut db)
        .await
        .expect("tamper");
    let ca_path = f.dir.data_dir().join("ca.pem");
    let out = tokio::task::spawn_blocking({
        let token = f.token.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_clavis"))
                .args(["--server", &format!("https://{addr}"), "--ca"])
                .arg(&ca_path)
                .args(["audit", "verify"])
                .env("CLAVIS_TOKEN", token)
                .output()
                .expect("run clavis")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}{stderr}");
    let named = format!("seq {}: hash mismatch", seqs[2]);
    assert!(
        stdout.contains(&named) && stderr.contains(&named),
        "{stdout}{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_audit_managers_export_and_delete_and_refusals_are_recorded() {
    let f = fixture(false, "").await;
    f.seed(3, "key.get").await;
    let password = secrecy::SecretString::from("correct horse battery staple 42");
    f.svc()
        .create_user(&system(), "plain_user", Some(password.clone()))
        .await
        .expect("create user");
    let session = f
        .svc()
        .login("plain_user", &password, None)
        .await
        .expect("login");
    use secrecy::ExposeSecret;
    let who = f
        .svc()
        .authenticate_token(session.token.expose_secret(), Some("127.0.0.9:1".into()))
        .await
        .expect("session token");
    let e = f
        .svc()
        .audit_export(&who, ExportFormat::Jsonl, None, None)
        .await
        .err()
        .expect("export refused");
    assert!(
        matches!(e, clavis::service::ServiceError::Forbidden(_)),
        "{e}"
    );
    let e = f
        .svc()
        .audit_delete(&who, clavis::audit::now_ms())
        .await
        .expect_err("delete refused");
    assert!(
        matches!(e, clavis::service::ServiceError::Forbidden(_)),
        "{e}"
    );
    let e = f
        .svc()
        .audit_verify(&who)
        .await
        .expect_err("verify refused");
    assert!(
        matches!(e, clavis::service::ServiceError::Forbidden(_)),
        "{e}"
    );
    // Nothing was deleted, and each refusal is in the trail under its action.
    let denied = f
        .svc()
        .store()
        .audit_records(&AuditFilter {
            actor: Some("plain_user".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .expect("records");
    let denied: Vec<(&str, &str)> = denied
        .iter()
        .filter(|r| r.outcome == "denied")
        .map(|r| (r.action.as_str(), r.source.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        denied,
        [
            ("audit.export", "127.0.0.9:1"),
            ("audit.delete", "127.0.0.9:1"),
            ("audit.read", "127.0.0.9:1")
        ]
    );
    let r = f.verify().await;
    assert!(r.ok && r.chains[0].deletion_anchor.is_none(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_streams_exports_and_deletes_for_the_audit_manager() {
    let f = fixture(false, "").await;
    f.seed(5, "key.get").await;
    let addr = f.node.api_addr.to_string();
    let mut c = client(&addr, &f.dir.ca_pem(), &f.token);
    let mut out: Vec<u8> = Vec::new();
    let (st, v, n) = c
        .download("/v1/audit/export?format=jsonl", &mut out)
        .await
        .expect("download");
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(n as usize, out.len());
    let recs: Vec<AuditRecord> = std::str::from_utf8(&out)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    assert!(recs.len() >= 6, "5 seeded and the export's own record");
    let mut out = Vec::new();
    let (st, v, _) = c
        .download("/v1/audit/export?format=xml", &mut out)
        .await
        .expect("download");
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(out.is_empty());

    let (st, v) = c
        .request(Method::POST, "/v1/audit/checkpoint", None)
        .await
        .expect("checkpoint");
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["checkpoint"]["kind"], "periodic", "{v}");
    let (st, v) = c
        .request(
            Method::POST,
            "/v1/audit/delete",
            Some(&serde_json::json!({ "before": "2001-01-01T00:00:00Z" })),
        )
        .await
        .expect("delete");
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["deleted"], 0, "nothing is that old: {v}");
    let (st, v) = c
        .request(
            Method::POST,
            "/v1/audit/delete",
            Some(&serde_json::json!({ "before": "next week" })),
        )
        .await
        .expect("delete");
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = c
        .request(Method::POST, "/v1/audit/verify", None)
        .await
        .expect("verify");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checkpoints_checked"], 1, "{v}");
}
