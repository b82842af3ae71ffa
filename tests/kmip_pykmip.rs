//! Interoperability with a KMIP client nobody here wrote: PyKMIP's ProxyKmipClient
//! against a running node, over mutual TLS with an enrolled endpoint's certificate,
//! on KMIP 1.2, 1.4 and 2.0.
//!
//! `scripts/test.sh` installs PyKMIP into a virtual environment and sets
//! `CLAVIS_PYTHON` to its interpreter.

mod common;

use common::node::{enroll_endpoint, NodeDir, SOFTWARE_ROT};
use serde_json::Value;
use std::process::Command;

fn python() -> String {
    std::env::var("CLAVIS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "CLAVIS_PYTHON is not set: run the suite with scripts/test.sh, which installs PyKMIP"
        )
    })
}

async fn run_pykmip(version: &str) -> Value {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let kmip = node.kmip_addr.expect("KMIP enabled");
    let files = enroll_endpoint(&node.service, "pykmip-client").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pykmip/interop.py");
    let (py, port) = (python(), kmip.port().to_string());
    let (cert, key, ca) = (files.cert.clone(), files.key.clone(), files.ca.clone());
    let version_owned = version.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .args(["127.0.0.1", &port])
            .arg(&cert)
            .arg(&key)
            .arg(&ca)
            .arg(&version_owned)
            .output()
            .expect("run python")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "PyKMIP {version} failed:\n{stderr}\n{stdout}"
    );
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    // Cross-check what PyKMIP saw against the node's own view.
    let admin = clavis::service::Principal::system("admin");
    let created = v["created"].as_str().expect("created id");
    let meta = node
        .service
        .get(&admin, created)
        .await
        .expect("object exists");
    assert_eq!(
        meta.state,
        clavis::keys::State::Destroyed,
        "the script destroyed the key"
    );
    assert_eq!(
        meta.name.as_deref(),
        Some(format!("pykmip-key-{version}").as_str())
    );
    assert_eq!(
        meta.attributes.usage_mask,
        Some(4 | 8),
        "Encrypt|Decrypt usage mask"
    );
    node.stop().await;
    v
}

fn check(v: &Value, version: &str) {
    let id = v["created"].as_str().expect("id");
    assert_eq!(id.len(), 36, "{v}");
    assert_eq!(v["get_type"], "SymmetricKey");
    assert_eq!(v["get_algorithm"], "AES");
    assert_eq!(v["get_length"], 256);
    assert_eq!(v["get_value_len"], 32);
    assert_eq!(v["attributes_uid"], id);
    assert_eq!(v["attributes"]["State"], "PRE_ACTIVE");
    assert_eq!(v["attributes"]["Cryptographic Algorithm"], "AES");
    assert_eq!(v["attributes"]["Cryptographic Length"], 256);
    assert_eq!(v["attributes"]["Name"], format!("pykmip-key-{version}"));
    let list: Vec<&str> = v["attribute_list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for a in [
        "Cryptographic Algorithm",
        "Cryptographic Length",
        "State",
        "Unique Identifier",
        "Name",
        "Object Type",
    ] {
        assert!(list.contains(&a), "attribute list lacks {a}: {list:?}");
    }
    assert_eq!(v["registered_roundtrip"], true);
    assert_eq!(v["secret_roundtrip"], true);
    assert_eq!(v["located_by_name"], serde_json::json!([id]));
    assert_eq!(v["state_after_activate"], "ACTIVE");
    assert!(
        v["destroy_active"]
            .as_str()
            .unwrap_or("")
            .starts_with("refused"),
        "{v}"
    );
    assert_eq!(v["state_after_revoke"], "DEACTIVATED");
    assert!(
        v["get_destroyed"]
            .as_str()
            .unwrap_or("")
            .starts_with("refused"),
        "{v}"
    );
    assert!(
        v["get_unknown"]
            .as_str()
            .unwrap_or("")
            .starts_with("refused"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pykmip_kmip_1_2() {
    let v = run_pykmip("1.2").await;
    check(&v, "1.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pykmip_kmip_1_4() {
    let v = run_pykmip("1.4").await;
    check(&v, "1.4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pykmip_kmip_2_0() {
    let v = run_pykmip("2.0").await;
    check(&v, "2.0");
}
