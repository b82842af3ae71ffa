//! Multi-master replication with real `clavisd` processes on loopback: three nodes in
//! two sites, a site partitioned away and healed, kill -9 in the middle of
//! replication, a node added while the others serve, removed and factory-reset.

mod common;

use common::cluster::{converge, init_first, join, share_master_key, Api, Node};
use hyper::Method;
use std::collections::BTreeSet;
use std::time::Duration;

struct Cluster {
    nodes: Vec<Node>,
    token: String,
    ca: String,
    recovery: String,
    ca_path: std::path::PathBuf,
}

impl Cluster {
    async fn api(&self, i: usize) -> Api {
        Api::new(&self.nodes[i], &self.ca, &self.token)
    }
}

/// Node 1 initialized and started; the others joined through it and started.
async fn cluster(sites: &[&str]) -> Cluster {
    let mut nodes = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        nodes.push(Node::new(i as u8 + 1, site, "").await);
    }
    let (token, recovery, ca) = init_first(&nodes[0]).await;
    nodes[0].start();
    let ca_path = nodes[0].data().join("ca.pem");
    for i in 1..nodes.len() {
        share_master_key(&nodes[0], &nodes[i]);
        let mut api = Api::new(&nodes[0], &ca, &token);
        join(&nodes[0], &mut api, &nodes[i], &recovery, &ca_path).await;
        nodes[i].start();
    }
    Cluster {
        nodes,
        token,
        ca,
        recovery,
        ca_path,
    }
}

async fn key_exists(api: &mut Api, id: &str) -> bool {
    api.call(Method::GET, &format!("/v1/keys/{id}"), None)
        .await
        .0
        == 200
}

async fn peer_state(api: &mut Api, name: &str) -> String {
    let (_, v) = api.call(Method::GET, "/v1/cluster", None).await;
    v["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["state"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

/// Creates `n` keys on each node of `c` at once; returns the IDs acknowledged.
async fn create_everywhere(c: &Cluster, n: usize, tag: &str) -> Vec<String> {
    let mut tasks = Vec::new();
    for i in 0..c.nodes.len() {
        let mut api = c.api(i).await;
        let tag = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for k in 0..n {
                if let Some(id) = api.create_key(&format!("{tag}-{k}")).await {
                    ids.push(id);
                }
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_two_sites_partition_and_heal() {
    let c = cluster(&["dc1", "dc1", "dc2"]).await;
    let mut apis = vec![c.api(0).await, c.api(1).await, c.api(2).await];
    // The admin token and everything else reach the joined nodes.
    converge(&mut apis, Duration::from_secs(30)).await;

    let mut acked = create_everywhere(&c, 15, "before").await;
    assert_eq!(acked.len(), 45, "every node accepts writes");
    converge(&mut apis, Duration::from_secs(30)).await;

    // Cut dc2 (node 3) off from dc1, both ways.
    let (ip1, ip2, ip3) = (c.nodes[0].ip, c.nodes[1].ip, c.nodes[2].ip);
    c.nodes[0].proxy.block(&[ip3]);
    c.nodes[1].proxy.block(&[ip3]);
    c.nodes[2].proxy.block(&[ip1, ip2]);

    // Both sides keep creating and changing keys.
    let during = create_everywhere(&c, 10, "during").await;
    assert_eq!(during.len(), 30, "both sides serve while cut off");
    for id in acked.iter().take(6) {
        let (s, _) = apis[0]
            .call(
                Method::POST,
                &format!("/v1/keys/{id}/revoke"),
                Some(serde_json::json!({"reason": "superseded"})),
            )
            .await;
        assert_eq!(s, 200, "revoke on dc1");
    }
    for id in acked.iter().skip(3).take(6) {
        let (s, _) = apis[2]
            .call(
                Method::POST,
                &format!("/v1/keys/{id}/revoke"),
                Some(serde_json::json!({"reason": "key_compromise"})),
            )
            .await;
        assert_eq!(s, 200, "revoke on dc2");
    }
    acked.extend(during.iter().cloned());
    // dc2 has not seen dc1's new keys, and dc1 sees dc2 down.
    let dc1_new = &during[0];
    assert!(
        !key_exists(&mut apis[2], dc1_new).await,
        "the partition holds"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while peer_state(&mut apis[0], "n3").await != "down" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "n1 never saw n3 down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The alert hook's audit record follows the state change.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, audit) = apis[0]
            .call(
                Method::GET,
                "/v1/audit/records?action=cluster.peer_lost",
                None,
            )
            .await;
        if audit.to_string().contains("cluster.peer_lost") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "losing a peer is audited: {audit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Heal: everything converges and no acknowledged change is lost.
    for n in &c.nodes {
        n.proxy.heal();
    }
    let d = converge(&mut apis, Duration::from_secs(60)).await;
    for api in apis.iter_mut() {
        for id in &acked {
            assert!(key_exists(api, id).await, "acknowledged key {id} lost");
        }
    }
    // Keys revoked on both sides: forward-only states, compromise wins.
    for id in acked.iter().skip(3).take(3) {
        let (_, v) = apis[1]
            .call(Method::GET, &format!("/v1/keys/{id}"), None)
            .await;
        assert_eq!(v["state"], "compromised", "{v}");
    }
    assert!(d["objects"].starts_with("75:"), "75 keys everywhere: {d:?}");
    // Data may have converged through n2 while n1's own link to n3 still waits out
    // its retry delay: the state turns up on n1's next exchange with n3.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = peer_state(&mut apis[0], "n3").await;
        if state == "up" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "n1 still sees n3 as {state} after the heal"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit trail replicates too: every node ends holding all three chains, and
    // each verifies (hashes and signed checkpoints) where it arrived.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for api in apis.iter_mut() {
        loop {
            let (s, v) = api.call(Method::POST, "/v1/audit/verify", None).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["ok"], true, "replicated chains verify: {v}");
            if v["origins"] == 3 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "audit chains did not all arrive: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_during_replication_loses_and_duplicates_nothing() {
    let mut c = cluster(&["dc1", "dc2"]).await;
    let mut acked = BTreeSet::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..6 {
        // Writes on both; kill one of them at a random moment while changes flow.
        let victim = round % 2;
        let writer = 1 - victim;
        let mut w = c.api(writer).await;
        let mut v = c.api(victim).await;
        let writes = tokio::spawn(async move {
            let mut ids = Vec::new();
            for k in 0..40 {
                if let Some(id) = w.create_key(&format!("r{round}-{k}")).await {
                    ids.push(id);
                }
            }
            ids
        });
        for k in 0..5 {
            if let Some(id) = v.create_key(&format!("v{round}-{k}")).await {
                acked.insert(id);
            }
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(20 + seed % 300)).await;
        c.nodes[victim].kill9();
        acked.extend(writes.await.expect("writer"));
        c.nodes[victim].start();
    }
    let mut apis = vec![c.api(0).await, c.api(1).await];
    let d = converge(&mut apis, Duration::from_secs(60)).await;
    for api in apis.iter_mut() {
        for id in &acked {
            assert!(key_exists(api, id).await, "acknowledged key {id} lost");
        }
    }
    // Equal change logs (in the digest) mean no change was applied twice or skipped;
    // the object count is exactly what was acknowledged plus what was written but not
    // acknowledged before a kill, never less.
    let count: usize = d["objects"]
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(count >= acked.len(), "{count} < {}", acked.len());
    let (_, v) = apis[0].call(Method::GET, "/v1/status", None).await;
    assert_eq!(
        v["cluster"]["version_vector"].as_object().map(|m| m.len()),
        Some(2),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn add_node_while_serving_then_remove_and_factory_reset() {
    let mut c = cluster(&["dc1"]).await;
    let mut a0 = c.api(0).await;
    let mut first = Vec::new();
    for k in 0..300 {
        first.push(a0.create_key(&format!("k{k}")).await.expect("create"));
    }
    // A writer keeps node 1 busy while node 2 joins and copies.
    let mut w = c.api(0).await;
    let writer = tokio::spawn(async move {
        let mut ids = Vec::new();
        for k in 0..200 {
            if let Some(id) = w.create_key(&format!("w{k}")).await {
                ids.push(id);
            }
        }
        ids
    });
    let mut n2 = Node::new(2, "dc2", "").await;
    share_master_key(&c.nodes[0], &n2);
    join(&c.nodes[0], &mut a0, &n2, &c.recovery, &c.ca_path).await;
    n2.start();
    let more = writer.await.expect("writer");
    assert_eq!(more.len(), 200, "node 1 kept serving during the copy");
    c.nodes.push(n2);
    let mut apis = vec![c.api(0).await, c.api(1).await];
    converge(&mut apis, Duration::from_secs(60)).await;
    for id in first.iter().chain(more.iter()) {
        assert!(key_exists(&mut apis[1], id).await);
    }

    // A token used once cannot be used again.
    let n2_id = {
        let (_, v) = apis[0].call(Method::GET, "/v1/cluster", None).await;
        v["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == "n2")
            .and_then(|n| n["id"].as_str())
            .expect("n2 listed")
            .to_owned()
    };
    // Remove node 2: node 1 stops pulling from it and refuses its pulls.
    let (s, v) = apis[0]
        .call(Method::DELETE, &format!("/v1/cluster/nodes/{n2_id}"), None)
        .await;
    assert_eq!(s, 204, "{v}");
    // A pull already waiting when the removal lands may still be answered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = apis[0].create_key("after-removal").await.expect("create");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !key_exists(&mut apis[1], &late).await,
        "a removed node gets no more changes"
    );
    assert_eq!(peer_state(&mut apis[0], "n2").await, "absent");

    // Factory reset of the removed node, with scrub.
    c.nodes[1].kill9();
    let out = std::process::Command::new(common::node::clavisd_bin())
        .args(["factory-reset", "--config"])
        .arg(&c.nodes[1].config)
        .args(["--scrub", "--yes"])
        .output()
        .expect("factory-reset");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["clavis.db", "node.json", "master-key.sealed"] {
        assert!(
            !c.nodes[1].data().join(f).exists(),
            "{f} survived the reset"
        );
    }
    let run = std::process::Command::new(common::node::clavisd_bin())
        .args(["run", "--config"])
        .arg(&c.nodes[1].config)
        .output()
        .expect("run");
    assert!(!run.status.success(), "a reset node does not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_only_node_refuses_writes_naming_a_writable_node() {
    let mut n1 = Node::new(1, "dc1", "").await;
    let (token, recovery, ca) = init_first(&n1).await;
    n1.start();
    let n2 = Node::new(2, "dc1", "read_only = true").await;
    share_master_key(&n1, &n2);
    let mut a1 = Api::new(&n1, &ca, &token);
    join(&n1, &mut a1, &n2, &recovery, &n1.data().join("ca.pem")).await;
    let mut n2 = n2;
    n2.start();
    let id = a1.create_key("written-on-n1").await.expect("create");
    let mut a2 = Api::new(&n2, &ca, &token);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !key_exists(&mut a2, &id).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no replication to the read-only node"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, v) = a2
        .call(
            Method::POST,
            "/v1/keys",
            Some(serde_json::json!({"algorithm": "AES", "length": 256})),
        )
        .await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["code"], "read_only_node");
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains("n1"),
        "names a writable node: {v}"
    );
}

/// Rolling upgrades: a peer more than one minor version away, or of another major, is
/// refused with a message saying so; a malformed first frame gets a protocol error;
/// Pull without a registered node certificate is refused. Nothing changes on the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_handshake_refuses_incompatible_or_unknown_peers() {
    use clavis::cluster::wire::{self, code, Message};
    let mut n1 = Node::new(1, "dc1", "").await;
    let (token, _, ca) = init_first(&n1).await;
    n1.start();
    let mut api = Api::new(&n1, &ca, &token);
    let before = api.digest().await.expect("digest");
    let tls = std::sync::Arc::new(clavis::tls::client_config(&ca, None).expect("tls"));
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(n1.listen)
            .await
            .expect("tcp");
        tokio_rustls::TlsConnector::from(tls.clone())
            .connect(
                rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name"),
                tcp,
            )
            .await
            .expect("tls")
    };
    let hello = |major, minor| Message::Hello {
        major,
        minor,
        node_id: "someone".into(),
        replica_id: "r".into(),
    };
    for (major, minor) in [(wire::MAJOR + 1, 0), (wire::MAJOR, wire::MINOR + 2)] {
        let mut s = connect().await;
        wire::send(&mut s, &hello(major, minor))
            .await
            .expect("send");
        match wire::recv(&mut s, 65536).await.expect("answer") {
            Message::Error { code: c, message } => {
                assert_eq!(c, code::VERSION);
                assert!(message.contains("upgrade"), "{message}");
            }
            other => panic!("expected a version error, got {other:?}"),
        }
    }
    // A compatible version without a node certificate is not a member.
    let mut s = connect().await;
    wire::send(&mut s, &hello(wire::MAJOR, wire::MINOR + 1))
        .await
        .expect("send");
    match wire::recv(&mut s, 65536).await.expect("answer") {
        Message::Error { code: c, .. } => assert_eq!(c, code::NOT_MEMBER),
        other => panic!("expected refusal, got {other:?}"),
    }
    // Garbage in a well-formed frame.
    let mut s = connect().await;
    tokio::io::AsyncWriteExt::write_all(&mut s, &[0, 0, 0, 3, 99, 1, 2])
        .await
        .expect("write");
    match wire::recv(&mut s, 65536).await.expect("answer") {
        Message::Error { code: c, .. } => assert_eq!(c, code::PROTOCOL),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    // A join with a made-up token.
    let mut s = connect().await;
    wire::send(
        &mut s,
        &Message::Join {
            token: "clvN_forged".into(),
            name: "intruder".into(),
            site: "x".into(),
            cluster_addr: "127.0.0.1:1".into(),
            replica_id: "r".into(),
            tls_names: String::new(),
        },
    )
    .await
    .expect("send");
    match wire::recv(&mut s, 65536).await.expect("answer") {
        Message::Error { code: c, .. } => assert_eq!(c, code::BAD_TOKEN),
        other => panic!("expected a token error, got {other:?}"),
    }
    assert_eq!(
        api.digest().await.expect("digest"),
        before,
        "nothing changed"
    );
}
