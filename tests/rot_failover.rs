//! Several HSMs per node (SPEC 1.3) on SoftHSM2: a node whose primary token loses its
//! master key (the token is deleted under it) goes on serving every key from the
//! fallback token, which holds the same master key (moved there as a master-key
//! backup moves it: wrapped); status says which HSM is in use, and the node restarts
//! on the fallback alone.

mod common;

use clavis::rot::pkcs11::Pkcs11Rot;
use clavis::rot::{MasterKeyId, RootOfTrust};
use clavis::secret::KeyMaterial;
use common::node::{client, pkcs11_rot_section, NodeDir};
use hyper::Method;
use serde_json::{json, Value};

async fn call(
    c: &mut clavis::client::ApiClient,
    m: Method,
    p: &str,
    b: Option<Value>,
) -> (u16, Value) {
    let (s, v) = c.request(m, p, b.as_ref()).await.expect("request");
    (s.as_u16(), v)
}

/// Every key reads back with the material it had.
async fn same_materials(c: &mut clavis::client::ApiClient, keys: &[(String, Value)]) {
    for (id, material) in keys {
        let (s, m) = call(c, Method::GET, &format!("/v1/keys/{id}/material"), None).await;
        assert_eq!((s, &m["material_b64"]), (200, material), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_to_the_fallback_when_the_primary_stops_serving() {
    let hsm = common::softhsm::SoftHsm::new();
    let mut a = hsm.add_token("primary");
    a.config.master_key_exportable = true;
    let b = hsm.add_token("fallback");
    let section = format!(
        "{}master_key_exportable = true\n\n[[root_of_trust.fallback]]\nprofile = \"{}\"\ntoken_label = \"{}\"\npin = \"{}\"\n",
        pkcs11_rot_section(&a),
        b.config.profile.display(),
        b.label,
        b.pin
    );
    let dir = NodeDir::new(None, &section);
    let admin = dir.init().await;

    // Give the fallback the master key, wrapped on the way.
    let mk = {
        let rot_a = Pkcs11Rot::open(&a.config, &a.config_dir).expect("open primary");
        let rot_b = Pkcs11Rot::open(&b.config, &b.config_dir).expect("open fallback");
        let store = clavis::store::Store::open(&dir.config().store_url(), 2)
            .await
            .expect("store");
        let mk = MasterKeyId(
            store.master_keys().await.expect("master keys")[0]
                .id
                .clone(),
        );
        store.close().await;
        assert!(!rot_b.has_master_key(&mk).expect("lookup"));
        let kek = KeyMaterial::new(vec![0x42; 32]);
        let blob = rot_a.export_master_key(&mk, &kek).expect("export");
        rot_b.import_master_key(&mk, &kek, &blob).expect("import");
        mk
    };

    let node = clavis::node::start(&dir.config()).await.expect("start");
    let addr = node.api_addr.to_string();
    let mut c = client(&addr, &dir.ca_pem(), &admin);
    let (_, status) = call(&mut c, Method::GET, "/v1/status", None).await;
    let detail = status["root_of_trust_detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("primary (in use)"), "{status}");
    let mut keys = Vec::new();
    for i in 0..10 {
        let (s, v) = call(&mut c, Method::POST, "/v1/keys", Some(json!({"algorithm": "AES", "length": 256, "name": format!("f-{i}"), "activate": true}))).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().expect("id").to_owned();
        let (_, m) = call(
            &mut c,
            Method::GET,
            &format!("/v1/keys/{id}/material"),
            None,
        )
        .await;
        keys.push((id, m["material_b64"].clone()));
    }

    // A rotation copies the new master key into the fallback (wrapped on the way) and
    // retires the old one in both; the fallback must then serve keys under the new one.
    let (s, v) = call(
        &mut c,
        Method::POST,
        "/v1/master-key/rotate",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let new = MasterKeyId(v["active"].as_str().expect("active").to_owned());
    assert_ne!(new, mk, "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, v) = call(&mut c, Method::GET, "/v1/master-key/rotation", None).await;
        if v["in_progress"] == false {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for t in [&a, &b] {
        let rot = Pkcs11Rot::open(&t.config, &t.config_dir).expect("open token");
        assert!(
            rot.has_master_key(&new).expect("lookup"),
            "{} lacks the new key",
            t.label
        );
        assert!(
            !rot.has_master_key(&mk).expect("lookup"),
            "{} keeps the old key",
            t.label
        );
    }

    // The primary token goes away under the running node.
    let out = std::process::Command::new("softhsm2-util")
        .args(["--delete-token", "--token", "primary"])
        .output()
        .expect("softhsm2-util");
    assert!(out.status.success());

    same_materials(&mut c, &keys).await;
    let (s, v) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"algorithm": "AES", "length": 256, "name": "after", "activate": true})),
    )
    .await;
    assert_eq!(s, 201, "a new key on the fallback: {v}");
    let (_, status) = call(&mut c, Method::GET, "/v1/status", None).await;
    let detail = status["root_of_trust_detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("fallback 1 (in use)") && !detail.contains("primary (in use)"),
        "{status}"
    );
    assert_eq!(status["hsm_health"]["ok"], true, "{status}");
    node.stop().await;

    // Restarted without its primary, the node opens on the fallback.
    let node = clavis::node::start(&dir.config())
        .await
        .expect("restart on the fallback");
    let mut c = client(&node.api_addr.to_string(), &dir.ca_pem(), &admin);
    same_materials(&mut c, &keys).await;
    let (_, status) = call(&mut c, Method::GET, "/v1/status", None).await;
    assert!(
        status["root_of_trust_detail"]
            .as_str()
            .unwrap_or_default()
            .contains("fallback 1 (in use)"),
        "{status}"
    );
    assert!(node.service.rot().has_master_key(&new).expect("lookup"));
    node.stop().await;
}
