//! The audit trail: how fast records are appended, and how long verifying a million
//! takes (the goal: under 10 s). Prints figures; asserts nothing about time.
//!
//! Run: `cargo bench --bench audit` (SQLite). With `CLAVIS_TEST_PG_URL=postgres://...`
//! the PostgreSQL rows run too, in a fresh database that is dropped afterwards.
//! `CLAVIS_BENCH_AUDIT_N` sets the number of records verified (default 1,000,000);
//! `CLAVIS_BENCH_N` the number of single appends (default 2000, or 6 s).

use clavis::audit::checkpoint::{signed_message, Checkpoint};
use clavis::audit::verify::{verify, Trust};
use clavis::audit::{ActorKind, AuditEvent, Outcome};
use clavis::store::Store;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

const PG_URL_ENV: &str = "CLAVIS_TEST_PG_URL";
const NODE: &str = "bench-node";
const BULK_BATCH: usize = 10_000;
const APPEND_BUDGET: Duration = Duration::from_secs(6);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic record: a user reading a key from an address, with a short detail.
fn event(i: usize) -> AuditEvent {
    AuditEvent {
        actor: format!("operator_{}", i % 50),
        actor_kind: ActorKind::User,
        action: "key.get".into(),
        object: Some(format!("0192f0c4-8a7e-7c3b-9d2e-{:012x}", i)),
        source: Some("10.1.2.3:51544".into()),
        outcome: Outcome::Success,
        detail: Some("wallet backup-lto9, format raw".into()),
    }
}

async fn bench_store(label: &str, url: &str, appends: usize, n: usize) {
    let store = Store::open(url, 8).await.expect("open store");
    store
        .init_replica("bench-replica", 1_700_000_000)
        .await
        .expect("init replica");

    // Durable single appends, one transaction each (what a request that changes
    // nothing else costs).
    let t = Instant::now();
    let mut done = 0;
    for i in 0..appends {
        store
            .append_audit(NODE, &event(i), 1_700_000_000_000 + i as i64)
            .await
            .expect("append");
        done += 1;
        if t.elapsed() > APPEND_BUDGET {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:<10} append_audit (own transaction, durable): {done} in {secs:.2} s = {:.0} appends/s ({:.0} µs each)",
        done as f64 / secs,
        secs * 1e6 / done as f64
    );

    // Bulk seeding in one transaction through the batch path.
    let t = Instant::now();
    let mut tx = store.begin_write(NODE).await.expect("begin");
    let mut seeded = 0;
    while seeded < n.saturating_sub(done) {
        let k = BULK_BATCH.min(n - done - seeded);
        let batch: Vec<AuditEvent> = (seeded..seeded + k).map(event).collect();
        tx.append_audit_batch(&batch, 1_700_000_100_000 + seeded as i64)
            .await
            .expect("append batch");
        seeded += k;
    }
    tx.commit().await.expect("commit");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:<10} append_audit_batch (one transaction): {seeded} in {secs:.2} s = {:.0} records/s",
        seeded as f64 / secs
    );

    // One signed checkpoint at the head, so verification checks a signature too.
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    let head = store
        .audit_heads()
        .await
        .expect("heads")
        .into_iter()
        .next()
        .expect("a head");
    let msg = signed_message(&head.origin, head.seq, &head.hash, 1, "periodic", NODE);
    let cp = Checkpoint {
        origin: head.origin.clone(),
        seq: head.seq,
        hash: head.hash.clone(),
        at_ms: 1,
        kind: "periodic".into(),
        signer_node: NODE.into(),
        public_key: key.public_key().as_ref().to_vec(),
        signature: key.sign(&rng, &msg).expect("sign").as_ref().to_vec(),
    };
    let mut tx = store.begin_write(NODE).await.expect("begin");
    tx.insert_audit_checkpoint(&cp).await.expect("checkpoint");
    tx.commit().await.expect("commit");

    let trust = Trust {
        node_id: NODE.into(),
        public_key: key.public_key().as_ref().to_vec(),
    };
    let t = Instant::now();
    let report = verify(&store, &trust).await.expect("verify");
    let secs = t.elapsed().as_secs_f64();
    assert!(report.ok, "{:?}", report.first_failure);
    println!(
        "{label:<10} verify: {} records, {} checkpoint(s) in {secs:.2} s = {:.0} records/s",
        report.records_checked,
        report.checkpoints_checked,
        report.records_checked as f64 / secs
    );
    store.close().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = env_usize("CLAVIS_BENCH_AUDIT_N", 1_000_000);
    let appends = env_usize("CLAVIS_BENCH_N", 2000);
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/audit.db", dir.path().display());
        bench_store("SQLite", &url, appends, n).await;
        match std::env::var(PG_URL_ENV) {
            Ok(base) => {
                let mut conn = sqlx::PgConnection::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("{PG_URL_ENV}={base}: cannot connect: {e}"));
                let name = format!("clavis_bench_{}", uuid::Uuid::now_v7().simple());
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("CREATE DATABASE");
                let (prefix, _) = base.rsplit_once('/').expect("URL ends in a database");
                bench_store("PostgreSQL", &format!("{prefix}/{name}"), appends, n).await;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .ok();
            }
            Err(_) => println!("PostgreSQL rows skipped: {PG_URL_ENV} is not set"),
        }
    });
}
