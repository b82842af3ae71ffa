//! Master-key rotation (SPEC 1.4) on SoftHSM2, in a real `clavisd` process: the master
//! key is rotated while creates and gets run; the node is killed with SIGKILL in the
//! middle of the background re-wrap and started again; the re-wrap completes, every key
//! (made before, during and after) reads back with its material, nothing is left
//! under the old master key, and the old master key is gone from the token.

mod common;

use clavis::client::ApiClient;
use clavis::rot::pkcs11::Pkcs11Rot;
use clavis::rot::{MasterKeyId, RootOfTrust};
use common::node::{client, pkcs11_rot_section, NodeDir, NodeProcess};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEYS_BEFORE: usize = 1_500;
/// Slow enough that the kill lands mid-way through the ~1,500 keys.
const REWRAP_PER_SECOND: u64 = 300;

type Materials = Arc<Mutex<BTreeMap<String, Value>>>;

async fn call(c: &mut ApiClient, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    match c.request(m, path, body.as_ref()).await {
        Ok((s, v)) => (s.as_u16(), v),
        Err(e) => (0, json!({ "error": e.to_string() })),
    }
}

async fn create(c: &mut ApiClient, name: &str) -> Option<(String, Value)> {
    let (s, v) = call(
        c,
        Method::POST,
        "/v1/keys",
        Some(json!({"algorithm": "AES", "length": 256, "name": name, "activate": true})),
    )
    .await;
    if s != 201 {
        return None;
    }
    let id = v["id"].as_str()?.to_owned();
    let (s, m) = call(c, Method::GET, &format!("/v1/keys/{id}/material"), None).await;
    (s == 200).then(|| (id, m["material_b64"].clone()))
}

/// Creates and reads keys until `stop`; records every acknowledged key. Failures are
/// expected while the node is down.
async fn load(
    addr: Arc<Mutex<String>>,
    ca: String,
    token: String,
    keys: Materials,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut failures = 0;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let target = addr.lock().expect("addr").clone();
        let mut c = client(&target, &ca, &token);
        i += 1;
        match create(&mut c, &format!("load-{i}")).await {
            Some((id, material)) => {
                keys.lock().expect("keys").insert(id, material);
            }
            None => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        }
        // A get of an older key, which may still be under the old master key.
        let older = keys
            .lock()
            .expect("keys")
            .iter()
            .nth(i % 97)
            .map(|(k, v)| (k.clone(), v.clone()));
        if let Some((id, material)) = older {
            let (s, m) = call(
                &mut c,
                Method::GET,
                &format!("/v1/keys/{id}/material"),
                None,
            )
            .await;
            if s == 200 {
                assert_eq!(
                    m["material_b64"], material,
                    "key {id} changed during rotation"
                );
            }
        }
    }
    failures
}

async fn rotation(c: &mut ApiClient) -> Value {
    let (s, v) = call(c, Method::GET, "/v1/master-key/rotation", None).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn token_holds(token: &common::softhsm::TestToken, id: &str) -> bool {
    let rot = Pkcs11Rot::open(&token.config, &token.config_dir).expect("open token");
    rot.has_master_key(&MasterKeyId(id.to_owned()))
        .expect("lookup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_survives_a_kill_and_retires_the_old_master_key() {
    let hsm = common::softhsm::SoftHsm::new();
    let token = hsm.add_token("rotation");
    let section = format!(
        "{}\n[rotation]\nrewrap_per_second = {REWRAP_PER_SECOND}\nbatch = 50\n",
        pkcs11_rot_section(&token)
    );
    let dir = NodeDir::new(None, &section);
    let admin = dir.init().await;
    let ca = dir.ca_pem();

    let node = NodeProcess::start(&dir.config_path);
    let addr = Arc::new(Mutex::new(node.addr.clone()));
    let mut c = client(&node.addr, &ca, &admin);
    let keys: Materials = Arc::default();
    for i in 0..KEYS_BEFORE {
        let (id, m) = create(&mut c, &format!("before-{i}"))
            .await
            .expect("create");
        keys.lock().expect("keys").insert(id, m);
    }
    let before = rotation(&mut c).await;
    let old = before["active"].as_str().expect("active").to_owned();
    assert_eq!(before["in_progress"], false, "{before}");
    assert_eq!(before["remaining"], 0, "{before}");

    let stop = Arc::new(AtomicBool::new(false));
    let load_task = tokio::spawn(load(
        addr.clone(),
        ca.clone(),
        admin.clone(),
        keys.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (s, started) = call(
        &mut c,
        Method::POST,
        "/v1/master-key/rotate",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{started}");
    let new = started["active"].as_str().expect("new").to_owned();
    assert_ne!(new, old);
    let total = started["remaining"].as_i64().expect("remaining");
    assert!(total >= KEYS_BEFORE as i64, "{started}");
    // A second rotation waits for the first to finish.
    let (s, again) = call(
        &mut c,
        Method::POST,
        "/v1/master-key/rotate",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 409, "{again}");

    // Kill it mid-way through the re-wrap.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = rotation(&mut c).await;
        let left = v["remaining"].as_i64().expect("remaining");
        if left < total * 2 / 3 {
            assert!(left > 0, "the re-wrap finished before the kill: {v}");
            break;
        }
        assert!(Instant::now() < deadline, "no re-wrap progress: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.kill9();
    assert!(
        token_holds(&token, &old),
        "the old master key went before the re-wrap finished"
    );
    assert!(token_holds(&token, &new));

    let node = NodeProcess::start(&dir.config_path);
    *addr.lock().expect("addr") = node.addr.clone();
    let mut c = client(&node.addr, &ca, &admin);
    let resumed = rotation(&mut c).await;
    assert_eq!(resumed["active"], new, "{resumed}");
    assert!(
        resumed["remaining"].as_i64().expect("remaining") > 0,
        "{resumed}"
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let done = loop {
        let v = rotation(&mut c).await;
        if v["in_progress"] == false {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the re-wrap did not complete: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let failures = load_task.await.expect("load");
    eprintln!(
        "load: {} keys acknowledged, {failures} failed requests (node down)",
        keys.lock().expect("keys").len()
    );

    assert_eq!(done["remaining"], 0, "{done}");
    assert_eq!(done["failed"], 0, "{done}");
    let states: BTreeMap<String, String> = done["master_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap_or_default().to_owned(),
                k["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states.get(&old).map(String::as_str),
        Some("destroyed"),
        "{done}"
    );
    assert_eq!(
        states.get(&new).map(String::as_str),
        Some("active"),
        "{done}"
    );

    // Every acknowledged key, before, during and after, reads back unchanged.
    let all = keys.lock().expect("keys").clone();
    assert!(all.len() > KEYS_BEFORE, "the load made no keys");
    for (id, material) in &all {
        let (s, m) = call(
            &mut c,
            Method::GET,
            &format!("/v1/keys/{id}/material"),
            None,
        )
        .await;
        assert_eq!((s, &m["material_b64"]), (200, material), "key {id}");
    }
    let (s, v) = call(
        &mut c,
        Method::GET,
        "/v1/audit/records?action=master_key.retire",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["records"][0]["object"], old, "{v}");
    let (s, v) = call(&mut c, Method::POST, "/v1/audit/verify", Some(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    drop(node);

    // Nothing in the database names the old key; the token no longer has it.
    let store = clavis::store::Store::open(&dir.config().store_url(), 1)
        .await
        .expect("store");
    assert_eq!(
        store
            .count_wrapped_under(&old)
            .await
            .expect("count")
            .total(),
        0
    );
    store.close().await;
    assert!(
        !token_holds(&token, &old),
        "the old master key is still in the token"
    );
    assert!(token_holds(&token, &new));

    // The node starts again on the new key alone (its TLS key was re-wrapped too).
    let node = NodeProcess::start(&dir.config_path);
    let mut c = client(&node.addr, &ca, &admin);
    let (id, material) = all.iter().next().expect("a key");
    let (s, m) = call(
        &mut c,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!((s, &m["material_b64"]), (200, material));
}

async fn materials(api: &mut common::cluster::Api, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let (s, m) = api
            .call(Method::GET, &format!("/v1/keys/{id}/material"), None)
            .await;
        assert_eq!(s, 200, "key {id}: {m}");
        out.push(m["material_b64"].clone());
    }
    out
}

async fn settled(api: &mut common::cluster::Api, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (s, v) = api.call(Method::GET, "/v1/master-key/rotation", None).await;
        assert_eq!(s, 200, "{v}");
        if v["in_progress"] == false {
            return v;
        }
        assert!(Instant::now() < deadline, "rotation did not settle: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// In a cluster the new key waits, `pending`, until the other node's root of trust
/// holds it too (here: the software root of trust's sealed file, copied as an HSM
/// would clone); then both nodes re-wrap, converge and destroy the old key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_rotation_waits_for_every_node_to_hold_the_new_key() {
    use common::cluster::{converge, init_first, join, share_master_key, Api, Node};
    let extra = "\n[rotation]\nrewrap_per_second = 1000\n";
    let mut a = Node::new(1, "east", extra).await;
    let mut b = Node::new(2, "west", extra).await;
    let (token, recovery, ca) = init_first(&a).await;
    a.start();
    share_master_key(&a, &b);
    let mut api_a = Api::new(&a, &ca, &token);
    join(&a, &mut api_a, &b, &recovery, &a.data().join("ca.pem")).await;
    b.start();
    let mut api_b = Api::new(&b, &ca, &token);
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(
            api_a
                .create_key(&format!("a-{i}"))
                .await
                .expect("create on a"),
        );
        ids.push(
            api_b
                .create_key(&format!("b-{i}"))
                .await
                .expect("create on b"),
        );
    }
    converge(
        &mut [Api::new(&a, &ca, &token), Api::new(&b, &ca, &token)],
        Duration::from_secs(30),
    )
    .await;
    let before = materials(&mut api_a, &ids).await;

    let (s, v) = api_a
        .call(Method::POST, "/v1/master-key/rotate", Some(json!({})))
        .await;
    assert_eq!(s, 200, "{v}");
    let old = v["active"].as_str().expect("active").to_owned();
    let pending: Vec<&Value> = v["master_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["state"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1, "{v}");
    let new = pending[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(pending[0]["waiting_for"], json!(["n2"]), "{v}");
    let (s, again) = api_a
        .call(Method::POST, "/v1/master-key/rotate", Some(json!({})))
        .await;
    assert_eq!(s, 409, "{again}");
    // Still pending a while later: nothing is wrapped under a key b cannot use.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ids.push(api_b.create_key("while-pending").await.expect("create"));
    let (_, v) = api_a
        .call(Method::GET, "/v1/master-key/rotation", None)
        .await;
    assert_eq!(v["active"], old, "{v}");

    // b's root of trust gets the new key (as an HSM clone or master-key import would).
    b.kill9();
    share_master_key(&a, &b);
    b.start();
    let mut api_b = Api::new(&b, &ca, &token);
    let done_a = settled(&mut api_a, Duration::from_secs(60)).await;
    let done_b = settled(&mut api_b, Duration::from_secs(60)).await;
    for done in [&done_a, &done_b] {
        assert_eq!(done["active"], new, "{done}");
        assert_eq!(done["remaining"], 0, "{done}");
        let old_key = done["master_keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["id"] == old.as_str())
            .cloned()
            .expect("old key listed");
        assert_eq!(old_key["state"], "destroyed", "{done}");
        assert_eq!(old_key["in_root_of_trust"], false, "{done}");
    }
    ids.push(api_a.create_key("after-a").await.expect("create"));
    ids.push(api_b.create_key("after-b").await.expect("create"));
    converge(
        &mut [Api::new(&a, &ca, &token), Api::new(&b, &ca, &token)],
        Duration::from_secs(30),
    )
    .await;
    let on_a = materials(&mut api_a, &ids).await;
    let on_b = materials(&mut api_b, &ids).await;
    assert_eq!(on_a, on_b);
    assert_eq!(&on_a[..before.len()], &before[..]);
}

/// Restore into an HSM that holds a different master key (SPEC 8.2): the backup's
/// master key comes into the new token only to be read (as a master-key backup brings
/// it); `clavisd restore --rewrap-to LABEL` re-wraps every restored key under the new
/// token's own master key and destroys the backup's key there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rewraps_into_an_hsm_with_another_master_key() {
    use secrecy::ExposeSecret;
    let hsm = common::softhsm::SoftHsm::new();
    let mut site_a = hsm.add_token("site-a");
    site_a.config.master_key_exportable = true;
    let site_b = hsm.add_token("site-b");
    let a_dir = NodeDir::new(
        None,
        &format!(
            "{}master_key_exportable = true\n",
            pkcs11_rot_section(&site_a)
        ),
    );
    let init = clavis::node::init(&a_dir.config()).await.expect("init a");
    let (admin, recovery) = (
        init.admin_token.expose_secret().to_owned(),
        init.recovery_passphrase.expose_secret().to_owned(),
    );
    let old = init.master_key.clone();
    let ca = a_dir.ca_pem();
    let node = NodeProcess::start(&a_dir.config_path);
    let mut c = client(&node.addr, &ca, &admin);
    let mut keys = Vec::new();
    for i in 0..300 {
        keys.push(create(&mut c, &format!("k-{i}")).await.expect("create"));
    }
    let (s, written) = call(
        &mut c,
        Method::POST,
        "/v1/backups",
        Some(json!({ "recovery_passphrase": recovery })),
    )
    .await;
    assert_eq!(s, 201, "{written}");
    let backup = std::path::PathBuf::from(written["path"].as_str().expect("path"));
    drop(node);

    // Site B's token has its own master key; the backup's arrives wrapped.
    let theirs = MasterKeyId("site-b-master".into());
    {
        let rot_a = Pkcs11Rot::open(&site_a.config, &site_a.config_dir).expect("open a");
        let rot_b = Pkcs11Rot::open(&site_b.config, &site_b.config_dir).expect("open b");
        rot_b.generate_master_key(&theirs).expect("site b key");
        let kek = clavis::secret::KeyMaterial::new(vec![0x5a; 32]);
        let blob = rot_a.export_master_key(&old, &kek).expect("export");
        rot_b.import_master_key(&old, &kek, &blob).expect("import");
    }
    let b_dir = NodeDir::new(None, &pkcs11_rot_section(&site_b));
    let pass = b_dir.dir.path().join("recovery.txt");
    std::fs::write(&pass, &recovery).expect("passphrase file");
    let restore = |to: &str| {
        std::process::Command::new(common::node::clavisd_bin())
            .args(["restore", "--config"])
            .arg(&b_dir.config_path)
            .arg("--file")
            .arg(&backup)
            .arg("--recovery-passphrase-file")
            .arg(&pass)
            .args(["--rewrap-to", to])
            .env("CLAVIS_LOG", "warn")
            .output()
            .expect("run clavisd restore")
    };
    let refused = restore("no-such-key");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && text.contains("nothing was restored"),
        "{text}"
    );
    assert!(
        !b_dir.data_dir().join("node.json").exists() && !b_dir.sqlite_path().exists(),
        "a refused restore wrote something"
    );

    let out = restore("site-b-master");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("re-wrapped under master key site-b-master"),
        "{text}"
    );
    // The old cluster's node is still listed: the backup's key waits for its removal.
    assert!(text.contains("stays in this root of trust until"), "{text}");

    let node = NodeProcess::start(&b_dir.config_path);
    let mut c = client(&node.addr, &b_dir.ca_pem(), &admin);
    let status = rotation(&mut c).await;
    assert_eq!(status["active"], "site-b-master", "{status}");
    assert_eq!(status["remaining"], 0, "{status}");
    let (s, v) = call(
        &mut c,
        Method::DELETE,
        &format!("/v1/cluster/nodes/{}", init.node_id),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while rotation(&mut c).await["in_progress"] == true {
        assert!(
            Instant::now() < deadline,
            "the backup's master key was not retired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    {
        let rot_b = Pkcs11Rot::open(&site_b.config, &site_b.config_dir).expect("open b");
        assert!(rot_b.has_master_key(&theirs).expect("lookup"));
        assert!(
            !rot_b.has_master_key(&old).expect("lookup"),
            "the backup's master key is still in site B's token"
        );
    }
    for (id, material) in &keys {
        let (s, m) = call(
            &mut c,
            Method::GET,
            &format!("/v1/keys/{id}/material"),
            None,
        )
        .await;
        assert_eq!((s, &m["material_b64"]), (200, material), "key {id}");
    }
    assert!(create(&mut c, "after-restore").await.is_some());
}
