//! Master-key rotation figures on SoftHSM2: how fast the background re-wrap moves N
//! stored keys to a new master key (with the rate limit out of the way), next to what
//! SoftHSM2 itself does for one unwrap plus one wrap per key with no database, and the
//! latency of creates and gets while the re-wrap runs. Prints figures; asserts nothing
//! about time (it does check that every sampled key reads back unchanged).
//!
//! Run: `cargo bench --bench rotation`. `CLAVIS_BENCH_KEYS` sets N (default 100,000).

#[path = "common/bulk.rs"]
mod bulk;
#[path = "common/load.rs"]
mod load;
#[path = "common/softhsm.rs"]
mod softhsm;

use clavis::config::Config;
use clavis::rot::{RootOfTrust, WrappedKey};
use clavis::service::Principal;
use load::{env_usize, load, print_lat};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PIN: &str = "rotation-bench-pin";

/// SoftHSM2 alone: one unwrap and one wrap per blob on two threads, no database.
fn raw_rate(rot: &Arc<dyn RootOfTrust>, blobs: &[(String, Vec<u8>)]) -> f64 {
    let mk = clavis::rot::MasterKeyId(
        WrappedKey::from_bytes(&blobs[0].1)
            .expect("envelope")
            .master_key_id
            .0,
    );
    let t = Instant::now();
    std::thread::scope(|s| {
        for half in blobs.chunks(blobs.len().div_ceil(2)) {
            let rot = rot.clone();
            let mk = mk.clone();
            s.spawn(move || {
                for (id, blob) in half {
                    let w = WrappedKey::from_bytes(blob).expect("envelope");
                    let k = rot.unwrap(&w, id).expect("unwrap");
                    rot.wrap(&mk, id, &k).expect("wrap");
                }
            });
        }
    });
    blobs.len() as f64 / t.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_usize("CLAVIS_BENCH_KEYS", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    softhsm::token(dir.path(), "rotation-bench", PIN);
    let profile =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm-profiles/softhsm2.toml");
    let text = format!(
        "[node]\nname = \"rot\"\ndata_dir = \"data\"\n\n\
         [root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"rotation-bench\"\npin = \"{PIN}\"\n\n\
         [rotation]\nrewrap_per_second = 1000000\nbatch = 500\n\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n\n\
         [pool]\nrefill = false\n\n[audit]\ncheckpoint_interval_secs = 0\n",
        profile.display()
    );
    let config = dir.path().join("clavis.toml");
    std::fs::write(&config, text).expect("config");
    std::fs::create_dir_all(dir.path().join("data")).expect("data");
    let cfg = Config::load(&config).expect("config");
    println!("rotation bench: N = {n} keys, SoftHSM2, SQLite, rate limit off");
    clavis::node::init(&cfg).await.expect("init");
    let node = clavis::node::start(&cfg).await.expect("start");
    let svc = node.service.clone();
    let rot: Arc<dyn RootOfTrust> = svc.rot().clone();
    let t = Instant::now();
    bulk::bulk_keys(svc.store(), rot.as_ref(), &svc.node().node_id, n, "seed").await;
    println!("  seeding {n} keys: {:.1} s", t.elapsed().as_secs_f64());

    let sample: Vec<(String, Vec<u8>)> = svc
        .store()
        .wrapped_under(&svc.master_key().0, 20_000)
        .await
        .expect("sample")
        .into_iter()
        .map(|r| (r.id, r.wrapped))
        .collect();
    let raw = raw_rate(&rot, &sample);
    println!(
        "  SoftHSM2 unwrap+wrap, no database, 2 threads: {raw:.0} keys/s ({} keys)",
        sample.len()
    );
    let who = Principal::system("bench");
    let probes: Vec<String> = sample.iter().take(200).map(|(id, _)| id.clone()).collect();
    let mut before = Vec::new();
    for id in &probes {
        before.push(svc.get_material(&who, id).await.expect("material").1);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(load(svc.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    print_lat("creates+gets, no rotation", quiet.await.expect("load"));

    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(load(svc.clone(), stop.clone()));
    let t = Instant::now();
    let started = svc.rotate_master_key(&who).await.expect("rotate");
    let total = started.remaining;
    loop {
        let s = svc.rotation_status(&who).await.expect("status");
        if !s.in_progress {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = during.await.expect("load");
    println!(
        "  rotation: {total} keys re-wrapped and the old master key destroyed in {secs:.2} s \
         ({:.0} keys/s, {:.0}% of the raw rate)",
        total as f64 / secs,
        100.0 * total as f64 / secs / raw
    );
    print_lat("creates+gets during the re-wrap", during);
    for (id, m) in probes.iter().zip(&before) {
        let after = svc.get_material(&who, id).await.expect("material").1;
        assert!(after == *m, "key {id} changed in the rotation");
    }
    println!("  {} sampled keys read back unchanged", probes.len());
}
