//! Data backup and restore with real `clavisd` processes on SoftHSM2: a backup taken
//! through the REST API while the node serves, restored by `clavisd restore` onto a new
//! node whose HSM token holds the master key. A wrong passphrase, a tampered file and
//! an HSM without the master key are each refused and leave the new node restorable.

mod common;

use common::cluster::{init_first, Api, Node};
use common::node::{clavisd_bin, pkcs11_rot_section};
use hyper::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `clavisd restore`; (success, stdout + stderr).
fn restore(node: &Node, file: &Path, passphrase_file: &Path) -> (bool, String) {
    let out = std::process::Command::new(clavisd_bin())
        .args(["restore", "--config"])
        .arg(&node.config)
        .arg("--file")
        .arg(file)
        .arg("--recovery-passphrase-file")
        .arg(passphrase_file)
        .env("CLAVIS_LOG", "warn")
        .output()
        .expect("run clavisd restore");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every key's material through `api`, by key ID.
async fn materials(api: &mut Api, ids: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in ids {
        let (s, v) = api
            .call(Method::GET, &format!("/v1/keys/{id}/material"), None)
            .await;
        assert_eq!(s, 200, "material of {id}: {v}");
        out.insert(
            id.clone(),
            v["material_b64"].as_str().expect("material").to_owned(),
        );
    }
    out
}

fn write_secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write passphrase file");
    p
}

/// A copy of `file` with the byte at `at` flipped.
fn tampered(file: &Path, at: usize, out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(file).expect("read backup");
    bytes[at] ^= 0x01;
    std::fs::write(out, bytes).expect("write tampered copy");
    out.to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_onto_a_new_node() {
    let hsm = common::softhsm::SoftHsm::new();
    let token = hsm.add_token("clavis-a");
    let other_token = hsm.add_token("clavis-other");
    let mut a = Node::with_store(1, "dc1", None, &pkcs11_rot_section(&token), "").await;
    let (admin, recovery, ca) = init_first(&a).await;
    a.start();
    let mut api_a = Api::new(&a, &ca, &admin);

    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(api_a.create_key(&format!("b-{i}")).await.expect("create"));
    }
    // A revoked key's state is part of what must come back.
    let revoked = api_a.create_key("revoked").await.expect("create");
    let (s, v) = api_a
        .call(
            Method::POST,
            &format!("/v1/keys/{revoked}/revoke"),
            Some(json!({"reason": "superseded"})),
        )
        .await;
    assert_eq!(s, 200, "revoke: {v}");
    let before = materials(&mut api_a, &ids).await;
    let (_, key0_before) = api_a
        .call(Method::GET, &format!("/v1/keys/{revoked}"), None)
        .await;

    // A wrong passphrase writes no backup.
    let (s, v) = api_a
        .call(
            Method::POST,
            "/v1/backups",
            Some(json!({"recovery_passphrase": "not-the-passphrase"})),
        )
        .await;
    assert_eq!(s, 401, "wrong passphrase: {v}");
    let (s, v) = api_a.call(Method::GET, "/v1/backups", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["backups"].as_array().map(Vec::len), Some(0), "{v}");

    let t = Instant::now();
    let (s, written) = api_a
        .call(
            Method::POST,
            "/v1/backups",
            Some(json!({"recovery_passphrase": recovery})),
        )
        .await;
    assert_eq!(s, 201, "backup: {written}");
    eprintln!("backup of {} keys: {:?}", ids.len(), t.elapsed());
    let file = PathBuf::from(written["path"].as_str().expect("path"));
    assert!(file.starts_with(a.data().join("backups")), "{file:?}");
    let bytes = std::fs::read(&file).expect("backup file");
    assert_eq!(written["bytes"], bytes.len());
    use sha2::Digest;
    assert_eq!(
        written["sha256"].as_str(),
        Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
    );
    assert!(written["counts"]["changes"].as_u64().unwrap_or(0) >= 42);
    // No key material in the clear: the file is sealed as a whole.
    for m in before.values() {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(m)
            .expect("b64");
        assert!(
            !common::node::contains(&bytes, &raw),
            "plaintext key in the backup"
        );
    }
    let (s, listing) = api_a.call(Method::GET, "/v1/backups", None).await;
    assert_eq!(s, 200, "{listing}");
    let entry = &listing["backups"][0];
    assert_eq!(entry["metadata"]["node_name"], "n1", "{listing}");
    assert_eq!(entry["metadata"]["kind"], "data", "{listing}");
    assert!(entry["error"].is_null(), "{listing}");

    // Written after the backup: not restored.
    let later = api_a.create_key("after-backup").await.expect("create");
    let (_, digest_a) = api_a.call(Method::GET, "/v1/cluster/digest", None).await;
    a.kill9();

    let scratch = tempfile::tempdir().expect("tempdir");
    let good = write_secret(scratch.path(), "recovery", &recovery);
    let bad = write_secret(scratch.path(), "wrong", "not-the-passphrase");
    let mut b = Node::with_store(2, "dc1", None, &pkcs11_rot_section(&token), "").await;

    let (ok, out) = restore(&b, &file, &bad);
    assert!(!ok && out.contains("wrong recovery passphrase"), "{out}");
    for (i, at) in [10, bytes.len() / 2, bytes.len() - 1]
        .into_iter()
        .enumerate()
    {
        let copy = tampered(&file, at, &scratch.path().join(format!("t{i}.clbk")));
        let (ok, out) = restore(&b, &copy, &good);
        assert!(
            !ok && out.contains("nothing was restored"),
            "byte {at}: {out}"
        );
    }
    // An HSM that lacks the master key is refused before anything is written.
    let c = Node::with_store(3, "dc1", None, &pkcs11_rot_section(&other_token), "").await;
    let (ok, out) = restore(&c, &file, &good);
    assert!(!ok && out.contains("does not hold master key"), "{out}");
    assert!(!c.data().join("node.json").exists(), "{out}");

    let t = Instant::now();
    let (ok, out) = restore(&b, &file, &good);
    assert!(ok, "restore: {out}");
    eprintln!("restore: {:?}", t.elapsed());
    assert!(out.contains("restored as replica"), "{out}");
    // Once is enough: a restored node refuses another restore.
    let (ok, out) = restore(&b, &file, &good);
    assert!(!ok, "{out}");

    b.start();
    // The admin token of the old node works: users came back with the keys.
    let mut api_b = Api::new(&b, &ca, &admin);
    assert_eq!(materials(&mut api_b, &ids).await, before);
    let (_, key0_after) = api_b
        .call(Method::GET, &format!("/v1/keys/{revoked}"), None)
        .await;
    assert_eq!(key0_after, key0_before);
    let (s, _) = api_b
        .call(Method::GET, &format!("/v1/keys/{later}"), None)
        .await;
    assert_eq!(s, 404, "a key made after the backup is not in it");
    let (_, digest_b) = api_b.call(Method::GET, "/v1/cluster/digest", None).await;
    assert_ne!(digest_a["objects"], digest_b["objects"], "one key fewer");
    // The restored node serves new keys.
    let fresh = api_b.create_key("after-restore").await.expect("create");
    let (s, _) = api_b
        .call(Method::GET, &format!("/v1/keys/{fresh}/material"), None)
        .await;
    assert_eq!(s, 200);
}
