//! Clusters in the two deployment shapes tests/cluster.rs leaves out, with real
//! `clavisd` processes: a replica served by two nodes over one PostgreSQL database
//! replicating with a SQLite replica (SPEC 7.7), and nodes whose root of trust is an
//! HSM (SoftHSM2 over PKCS#11) instead of the software one.

mod common;

use common::cluster::{converge, init_first, join, join_shared, share_master_key, Api, Node};
use common::node::{pkcs11_rot_section, SOFTWARE_ROT};
use hyper::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn key_exists(api: &mut Api, id: &str) -> bool {
    api.call(Method::GET, &format!("/v1/keys/{id}"), None)
        .await
        .0
        == 200
}

/// `peers` of `GET /v1/cluster` as this node sees them, by peer name.
async fn peers(api: &mut Api) -> BTreeMap<String, Value> {
    let (_, v) = api.call(Method::GET, "/v1/cluster", None).await;
    v["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p.clone())))
        .collect()
}

async fn peer_state(api: &mut Api, name: &str) -> String {
    peers(api)
        .await
        .get(name)
        .and_then(|p| p["state"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

/// The node's version vector (`GET /v1/status`).
async fn version_vector(api: &mut Api) -> BTreeMap<String, i64> {
    let (_, v) = api.call(Method::GET, "/v1/status", None).await;
    serde_json::from_value(v["cluster"]["version_vector"].clone()).expect("version vector")
}

/// The row count of one table in a digest (`rows:sha256`).
fn rows(d: &BTreeMap<String, String>, table: &str) -> usize {
    d[table]
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("row count")
}

/// Creates `n` keys through each API at once; returns the IDs acknowledged.
async fn create_on(apis: Vec<Api>, n: usize, tag: &str) -> Vec<String> {
    create_counting(apis, n, tag, Arc::new(AtomicUsize::new(0))).await
}

/// Like `create_on`, counting the first API's acknowledged creates in `acked` as
/// they happen, so a test can kill that node at a known point of its run instead
/// of after a sleep.
async fn create_counting(
    apis: Vec<Api>,
    n: usize,
    tag: &str,
    acked: Arc<AtomicUsize>,
) -> Vec<String> {
    let mut tasks = Vec::new();
    for (i, mut api) in apis.into_iter().enumerate() {
        let tag = format!("{tag}-{i}");
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for k in 0..n {
                if let Some(id) = api.create_key(&format!("{tag}-{k}")).await {
                    ids.push(id);
                    if i == 0 {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer task"));
    }
    all
}

async fn assert_all_readable(apis: &mut [Api], ids: &[String]) {
    for (i, api) in apis.iter_mut().enumerate() {
        for id in ids {
            assert!(
                key_exists(api, id).await,
                "acknowledged key {id} lost on API {i}"
            );
        }
    }
}

/// Replica A: n1 and n2 over one PostgreSQL database (n2 added with `clavisd join`).
/// Replica B: n3 on SQLite (added with `clavisd join-cluster`). Both A nodes pull from
/// n3 and serve n3's pulls.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_database_replica_with_a_sqlite_replica() {
    let t0 = Instant::now();
    let pg = common::pg::fresh_database().await;
    let mut n1 = Node::with_store(1, "dc1", Some(&pg), SOFTWARE_ROT, "").await;
    let mut n2 = Node::with_store(2, "dc1", Some(&pg), SOFTWARE_ROT, "").await;
    let mut n3 = Node::new(3, "dc2", "").await;
    let (token, recovery, ca) = init_first(&n1).await;
    n1.start();
    // Same database, same root of trust: n2 serves replica A too.
    share_master_key(&n1, &n2);
    join_shared(&n2, &recovery);
    n2.start();
    share_master_key(&n1, &n3);
    let mut a1 = Api::new(&n1, &ca, &token);
    join(&n1, &mut a1, &n3, &recovery, &n1.data().join("ca.pem")).await;
    n3.start();
    let api = |n: &Node| Api::new(n, &ca, &token);
    let mut apis = vec![api(&n1), api(&n2), api(&n3)];
    converge(&mut apis, Duration::from_secs(30)).await;
    let (v1, v2) = (
        version_vector(&mut apis[0]).await,
        version_vector(&mut apis[1]).await,
    );
    assert_eq!(v1, v2, "n1 and n2 serve one replica");
    eprintln!("setup: {:?}", t0.elapsed());

    // Concurrent writes on all three nodes.
    let t = Instant::now();
    let acked = create_on(vec![api(&n1), api(&n2), api(&n3)], 20, "c").await;
    assert_eq!(acked.len(), 60, "every node accepts writes");
    let d = converge(&mut apis, Duration::from_secs(60)).await;
    eprintln!("60 concurrent keys converged: {:?}", t.elapsed());
    assert_eq!(rows(&d, "objects"), 60, "{d:?}");
    assert_all_readable(&mut apis, &acked).await;
    let v1 = version_vector(&mut apis[0]).await;
    assert_eq!(v1.len(), 2, "changes of two replicas: {v1:?}");

    // Each of n3's changes was applied to replica A exactly once, by n1 or by n2: what
    // they report applying from n3 adds up to A's cursor for replica B. (The counters
    // move just after the commit, so wait a little for them; more is never right.)
    let (_, cluster) = apis[0].call(Method::GET, "/v1/cluster", None).await;
    let b_replica = cluster["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["name"] == "n3")
        .and_then(|n| n["replica_id"].as_str())
        .expect("n3 listed with its replica")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let cursor = version_vector(&mut apis[0]).await[&b_replica];
        let mut applied = 0;
        for a in apis.iter_mut().take(2) {
            applied += peers(a).await["n3"]["applied"].as_i64().expect("applied");
        }
        assert!(
            applied <= cursor,
            "n1 and n2 applied {applied} changes of n3, which made {cursor}"
        );
        if applied == cursor {
            break;
        }
        assert!(Instant::now() < deadline, "applied {applied} of {cursor}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // kill -9 n1 while all three write: n2 keeps replicating replica A with n3.
    let t = Instant::now();
    // The kill lands after n1 acknowledged a third of its writes, however fast
    // this machine creates keys.
    let counter = Arc::new(AtomicUsize::new(0));
    let writers = tokio::spawn(create_counting(
        vec![api(&n1), api(&n2), api(&n3)],
        30,
        "k",
        counter.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline, "writers stalled before the kill");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    n1.kill9();
    let mut acked_k = writers.await.expect("writers");
    assert!(
        acked_k.len() < 90,
        "the kill landed before n1 finished writing"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while peer_state(&mut apis[2], "n1").await != "down" {
        assert!(Instant::now() < deadline, "n3 never saw n1 down");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(peer_state(&mut apis[2], "n2").await, "up");
    // Written after n3 noticed the loss: these can only travel through n2.
    let after = create_on(vec![api(&n2), api(&n3)], 15, "after").await;
    assert_eq!(after.len(), 30, "n2 and n3 serve with n1 down");
    acked_k.extend(after);
    let mut live = vec![api(&n2), api(&n3)];
    converge(&mut live, Duration::from_secs(60)).await;
    assert_all_readable(&mut live, &acked_k).await;
    eprintln!("kill -9 of n1, n2 and n3 converged: {:?}", t.elapsed());

    // n1 comes back to the same database and finds itself caught up.
    n1.start();
    let mut apis = vec![api(&n1), api(&n2), api(&n3)];
    let d = converge(&mut apis, Duration::from_secs(60)).await;
    let mut all = acked.clone();
    all.extend(acked_k.iter().cloned());
    assert_all_readable(&mut apis, &all).await;
    // Writes n1 took but could not acknowledge before the kill may exist too.
    assert!(rows(&d, "objects") >= all.len(), "{d:?}");
    assert!(rows(&d, "objects") <= 60 + 90 + 30, "{d:?}");
    let (va, vb) = (
        version_vector(&mut apis[0]).await,
        version_vector(&mut apis[2]).await,
    );
    assert_eq!(va, vb, "both replicas hold every change of both");
    eprintln!("total: {:?}", t0.elapsed());
}

/// Two replicas on SQLite whose nodes keep the master key in an HSM (SoftHSM2).
///
/// Both nodes open the same SoftHSM2 token (one SOFTHSM2_CONF and token directory,
/// inherited by every `clavisd` process): that stands in for HSM cloning (Luna HA
/// groups, nShield Security World), which gives every node's HSM the same master key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_over_pkcs11_root_of_trust() {
    let t0 = Instant::now();
    let hsm = common::softhsm::SoftHsm::new();
    let token = hsm.add_token("clavis-cluster");
    let rot = pkcs11_rot_section(&token);
    let mut n1 = Node::with_store(1, "dc1", None, &rot, "").await;
    let mut n2 = Node::with_store(2, "dc2", None, &rot, "").await;
    let (admin, recovery, ca) = init_first(&n1).await;
    n1.start();
    let mut a1 = Api::new(&n1, &ca, &admin);
    join(&n1, &mut a1, &n2, &recovery, &n1.data().join("ca.pem")).await;
    n2.start();
    // Nothing of the master key is on disk: no sealed file to copy.
    assert!(!n1.data().join("master-key.sealed").exists());
    let api = |n: &Node| Api::new(n, &ca, &admin);
    let mut apis = vec![api(&n1), api(&n2)];
    converge(&mut apis, Duration::from_secs(30)).await;

    let t = Instant::now();
    let acked = create_on(vec![api(&n1), api(&n2)], 15, "h").await;
    assert_eq!(acked.len(), 30);
    let d = converge(&mut apis, Duration::from_secs(60)).await;
    assert_eq!(rows(&d, "objects"), 30, "{d:?}");
    eprintln!("30 keys on two HSM nodes converged: {:?}", t.elapsed());
    // Keys made on either node unwrap on the other, to the same bytes.
    let (on1, on2) = (&acked[0], &acked[15]);
    for id in [on1, on2] {
        let mut material = Vec::new();
        for a in apis.iter_mut() {
            let (s, v) = a
                .call(Method::GET, &format!("/v1/keys/{id}/material"), None)
                .await;
            assert_eq!(s, 200, "{v}");
            let b64 = v["material_b64"].as_str().expect("material").to_owned();
            material.push(b64);
        }
        assert_eq!(material[0], material[1], "key {id}");
        assert_eq!(material[0].len(), 44, "32 bytes of AES-256, base64");
    }
    assert_all_readable(&mut apis, &acked).await;
    eprintln!("total: {:?}", t0.elapsed());
}

fn object(id: &str) -> clavis::store::StoredObject {
    use clavis::keys::{Algorithm, Attributes, ObjectMeta, ObjectType, State};
    clavis::store::StoredObject {
        meta: ObjectMeta {
            id: id.to_owned(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state: State::Active,
            name: Some(format!("race-{id}")),
            attributes: Attributes::default(),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        },
        wrapped: Some(vec![0xC7; 56]),
        master_key_id: Some("clavis-mk-test".into()),
        hlc: 1_700_000_000 << 16,
        origin_node: "node-b".into(),
        owner: Some("system".into()),
    }
}

/// What the nodes of a shared-database replica do when they pull the same changes
/// from a peer at the same moment: each batch is applied once, and the node that comes
/// second finds the cursor moved and counts duplicates, instead of failing on the
/// change log's primary key (which ends its replication session and backs it off).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_sharing_a_database_apply_the_same_batch_at_once() {
    use clavis::store::Store;
    let dir = tempfile::tempdir().expect("tempdir");
    let peer = Store::open(&format!("sqlite://{}/b.db", dir.path().display()), 2)
        .await
        .expect("open peer");
    peer.init_replica("replica-b", 1_700_000_000)
        .await
        .expect("init peer");
    for i in 0..400 {
        let mut tx = peer.begin_write("node-b").await.expect("begin");
        tx.insert_object(&object(&format!("obj-{i:04}")))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    let changes = peer
        .changes_for(&Default::default(), 100_000)
        .await
        .expect("feed");
    assert_eq!(changes.len(), 400);

    // Two nodes: two connection pools on one database.
    let pg = common::pg::fresh_database().await;
    let n1 = Store::open(&pg, 4).await.expect("open n1");
    n1.init_replica("replica-a", 1_700_000_000)
        .await
        .expect("init replica A");
    let n2 = Store::open(&pg, 4).await.expect("open n2");
    for batch in changes.chunks(40) {
        let (r1, r2) = tokio::join!(
            n1.apply_changes("node-a1", batch),
            n2.apply_changes("node-a2", batch)
        );
        let (r1, r2) = (
            r1.expect("n1 applies or skips the batch"),
            r2.expect("n2 applies or skips the batch"),
        );
        assert_eq!(r1.applied + r2.applied, batch.len() as u64, "{r1:?} {r2:?}");
        assert_eq!(r1.duplicates + r2.duplicates, batch.len() as u64);
    }
    let vv = n2.version_vector().await.expect("vv");
    assert_eq!(vv.get("replica-b"), Some(&400));
    assert_eq!(
        peer.replicated_digest().await.expect("digest")["objects"],
        n1.replicated_digest().await.expect("digest")["objects"]
    );
}
