//! Backup and restore figures: the time to back up a node holding N keys while it goes
//! on serving creates and gets (with their latencies during the backup next to those
//! before it), and the time `restore` takes to rebuild a new node from that file. Prints
//! figures; asserts nothing about time (it does check that the restored node holds
//! every key with the same material). See `benches/README.md`.
//!
//! Run: `cargo bench --bench backup` (software root of trust, SQLite). `CLAVIS_BENCH_KEYS`
//! sets N (default 100,000).

#[path = "common/bulk.rs"]
mod bulk;
#[path = "common/load.rs"]
mod load;

use clavis::config::Config;
use clavis::rot::RootOfTrust;
use clavis::service::Principal;
use load::{env_usize, load, print_lat};
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn node_files(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[node]\nname = \"{name}\"\ndata_dir = \"data\"\n\n\
         [root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n\n\
         [pool]\nrefill = false\n\n[audit]\ncheckpoint_interval_secs = 0\n"
    );
    let config = dir.path().join("clavis.toml");
    std::fs::write(&config, text).expect("config");
    std::fs::create_dir_all(dir.path().join("data")).expect("data");
    (dir, config)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("CLAVIS_BENCH_KEYS", 100_000);
    println!("backup bench: N = {n} keys, software root of trust, SQLite");
    let (a_dir, a_config) = node_files("a");
    let a_cfg = Config::load(&a_config).expect("config");
    let init = clavis::node::init(&a_cfg).await.expect("init");
    let recovery = SecretString::from(init.recovery_passphrase.expose_secret().to_owned());
    let a = clavis::node::start(&a_cfg).await.expect("start a");
    let rot: Arc<dyn RootOfTrust> = clavis::node::open_rot(&a_cfg, false).expect("rot");
    let t = Instant::now();
    let a_id = a.service.node().node_id.clone();
    bulk::bulk_keys(a.service.store(), rot.as_ref(), &a_id, n, "seed").await;
    println!("  seeding {n} keys: {:.1} s", t.elapsed().as_secs_f64());

    // Service latency alone, then while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let before = tokio::spawn(load(a.service.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    print_lat("creates+gets, no backup", before.await.expect("load"));

    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(load(a.service.clone(), stop.clone()));
    let t = Instant::now();
    let written = a
        .service
        .create_backup(&Principal::system("bench"), &recovery)
        .await
        .expect("backup");
    let backup_time = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = during.await.expect("load");
    println!(
        "  backup: {} changes, {} audit records, {:.1} MB in {:.2} s ({:.0} changes/s)",
        written.counts.changes,
        written.counts.audit_records,
        written.bytes as f64 / 1e6,
        backup_time.as_secs_f64(),
        written.counts.changes as f64 / backup_time.as_secs_f64()
    );
    print_lat("creates+gets during the backup", during);
    let ids: Vec<String> = a
        .service
        .store()
        .list_objects(&Default::default())
        .await
        .expect("list")
        .into_iter()
        .filter(|o| {
            o.meta
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .map(|o| o.meta.id)
        .take(100)
        .collect();

    // Restore onto a new node with the same master key.
    let (b_dir, b_config) = node_files("b");
    for f in ["master-key.sealed", "rot-passphrase"] {
        std::fs::copy(
            a_dir.path().join("data").join(f),
            b_dir.path().join("data").join(f),
        )
        .expect("copy root of trust");
    }
    let b_cfg = Config::load(&b_config).expect("config");
    let t = Instant::now();
    let mut check_done = None;
    let out = clavis::node::restore(&b_cfg, &written.path, &recovery, |done, total| {
        if check_done.is_none() && done * 2 >= total {
            check_done = Some(t.elapsed());
        }
    })
    .await
    .expect("restore");
    let restore_time = t.elapsed();
    println!(
        "  restore: {} changes, {} audit records in {:.2} s (check pass {:.2} s), {:.0} keys/s",
        out.counts.changes,
        out.counts.audit_records,
        restore_time.as_secs_f64(),
        check_done.unwrap_or_default().as_secs_f64(),
        n as f64 / restore_time.as_secs_f64()
    );
    let b = clavis::node::start(&b_cfg).await.expect("start b");
    let who = Principal::system("bench");
    for id in &ids {
        let ma = a.service.get_material(&who, id).await.expect("material a");
        let mb = b.service.get_material(&who, id).await.expect("material b");
        assert!(ma.1 == mb.1, "key {id} differs after restore");
    }
    println!(
        "  {} sampled keys read back equal on the restored node",
        ids.len()
    );
}
