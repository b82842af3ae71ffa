//! Crash safety: a key whose creation was acknowledged survives `kill -9` of the node.
//!
//! Hundreds of times: start `clavisd`, create keys from several connections, SIGKILL
//! the node at a random moment (sometimes the instant a response arrives), restart,
//! and check that every key the node acknowledged is there with the same material.

mod common;

use common::node::{client, NodeDir, NodeProcess, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Iterations; `CLAVIS_CRASH_ITERATIONS` overrides.
fn iterations() -> usize {
    std::env::var("CLAVIS_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// A small xorshift generator seeded from the clock: random timing, reproducible from
/// the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_keys_survive_kill_9() {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    let token = dir.init().await;
    let ca = dir.ca_pem();
    let seed = std::env::var("CLAVIS_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(1)
        });
    eprintln!("crash test seed {seed} (set CLAVIS_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    // id -> material (base64) as acknowledged by the node.
    let acked: Arc<Mutex<BTreeMap<String, Option<String>>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let mut kills_right_after_response = 0;

    for iter in 0..iterations() {
        let node = NodeProcess::start(&dir.config_path);
        let mode = rng.next() % 4;
        let delay = Duration::from_micros(rng.next() % 40_000);
        let (first_ack_tx, first_ack_rx) = tokio::sync::oneshot::channel::<()>();
        let first_ack_tx = Arc::new(Mutex::new(Some(first_ack_tx)));
        let mut workers = Vec::new();
        for w in 0..3 {
            let (addr, ca, token, acked, first) = (
                node.addr.clone(),
                ca.clone(),
                token.clone(),
                acked.clone(),
                first_ack_tx.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut c = client(&addr, &ca, &token);
                loop {
                    let name = format!("crash-{iter}-{w}");
                    match c
                        .request(
                            Method::POST,
                            "/v1/keys",
                            Some(&json!({"name": name, "activate": true})),
                        )
                        .await
                    {
                        Ok((StatusCode::CREATED, v)) => {
                            let id = v["id"].as_str().unwrap_or_default().to_owned();
                            assert!(!id.is_empty(), "created without an ID: {v}");
                            acked.lock().expect("lock").insert(id, None);
                            if let Some(tx) = first.lock().expect("lock").take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok((status, v)) => panic!("unexpected answer {status}: {v}"),
                        Err(_) => return, // the node is gone
                    }
                }
            }));
        }
        if mode == 0 {
            // Kill the instant the first acknowledgement arrives.
            let _ = tokio::time::timeout(Duration::from_secs(10), first_ack_rx).await;
            kills_right_after_response += 1;
        } else {
            tokio::time::sleep(delay).await;
        }
        node.kill9();
        for w in workers {
            w.await.expect("worker panicked");
        }

        // Every few rounds, and at the end, restart and check everything acknowledged so far.
        if iter % 25 == 24 || iter + 1 == iterations() {
            verify(&dir, &ca, &token, &acked).await;
        }
    }
    let n = acked.lock().expect("lock").len();
    eprintln!("{} iterations, {n} acknowledged keys, {kills_right_after_response} kills right after a response, all found", iterations());
    assert!(
        n >= iterations() / 4,
        "too few keys were acknowledged ({n}) for the test to mean anything"
    );
}

async fn verify(
    dir: &NodeDir,
    ca: &str,
    token: &str,
    acked: &Arc<Mutex<BTreeMap<String, Option<String>>>>,
) {
    let node = NodeProcess::start(&dir.config_path);
    let mut c = client(&node.addr, ca, token);
    let ids: Vec<(String, Option<String>)> = acked
        .lock()
        .expect("lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, seen) in ids {
        let (st, v) = c
            .request(Method::GET, &format!("/v1/keys/{id}/material"), None)
            .await
            .expect("request");
        assert_eq!(
            st,
            StatusCode::OK,
            "acknowledged key {id} lost after kill -9: {v}"
        );
        let material = v["material_b64"].as_str().expect("material").to_owned();
        match seen {
            // The material must never change between restarts.
            Some(prev) => assert_eq!(prev, material, "material of {id} changed"),
            None => {
                acked.lock().expect("lock").insert(id, Some(material));
            }
        }
    }
    node.kill9();
}
