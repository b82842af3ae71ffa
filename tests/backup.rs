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
    assert!(v.to_string().contains("wrong recovery passphrase"), "{v}");
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

fn scheduled_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("clavis-scheduled-") && n.ends_with(".clbk"))
        .collect();
    names.sort();
    names
}

/// Waits until `dir` holds at least `n` scheduled backups; returns their names.
async fn wait_for_scheduled(dir: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let names = scheduled_files(dir);
        if names.len() >= n {
            return names;
        }
        assert!(Instant::now() < deadline, "only {names:?} in {dir:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_need_arming_keep_the_newest_and_restore_with_the_passphrase() {
    let copies = tempfile::tempdir().expect("tempdir");
    let extra = format!(
        "\n[backup]\nschedule = \"every 1s\"\nkeep = 2\ncopy_command = [\"cp\", \"-t\", \"{}\"]\n",
        copies.path().display()
    );
    let mut a = Node::with_store(1, "dc1", None, common::node::SOFTWARE_ROT, &extra).await;
    let (admin, recovery, ca) = init_first(&a).await;
    a.start();
    let mut api = Api::new(&a, &ca, &admin);
    let ids = [
        api.create_key("s-1").await.expect("create"),
        api.create_key("s-2").await.expect("create"),
    ];

    // Not armed: the schedule writes nothing.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, v) = api.call(Method::GET, "/v1/backups", None).await;
    assert_eq!(v["schedule_armed"], false, "{v}");
    assert!(scheduled_files(&a.data().join("backups")).is_empty());
    assert!(scheduled_files(copies.path()).is_empty());

    let (s, v) = api
        .call(
            Method::POST,
            "/v1/backups/arm",
            Some(json!({"recovery_passphrase": "not-it"})),
        )
        .await;
    assert_eq!(s, 401, "{v}");
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/backups/arm",
            Some(json!({"recovery_passphrase": recovery})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let armed = std::fs::read_to_string(a.data().join("backup-schedule.key")).expect("armed");
    assert!(!armed.contains(&recovery), "the passphrase is not kept");

    // Three runs copied; only the newest two kept in the backup directory.
    let copied = wait_for_scheduled(copies.path(), 3).await;
    let kept = scheduled_files(&a.data().join("backups"));
    assert!(kept.len() <= 2, "{kept:?}");
    assert!(
        kept.iter().all(|k| copied.contains(k)),
        "{kept:?} vs {copied:?}"
    );

    // The passphrase changes here: the schedule is armed again with the new one.
    let new_recovery = "a-new-recovery-passphrase-for-the-test";
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/recovery/passphrase",
            Some(json!({"current": recovery, "new": new_recovery})),
        )
        .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    let before = scheduled_files(copies.path()).len();
    let after_change = wait_for_scheduled(copies.path(), before + 2).await;
    let newest = copies.path().join(after_change.last().expect("a backup"));
    a.kill9();

    let scratch = tempfile::tempdir().expect("tempdir");
    let old = write_secret(scratch.path(), "old", &recovery);
    let new = write_secret(scratch.path(), "new", new_recovery);
    let mut b = Node::with_store(2, "dc1", None, common::node::SOFTWARE_ROT, "").await;
    common::cluster::share_master_key(&a, &b);
    let (ok, out) = restore(&b, &newest, &old);
    assert!(!ok && out.contains("wrong recovery passphrase"), "{out}");
    let (ok, out) = restore(&b, &newest, &new);
    assert!(ok, "{out}");
    b.start();
    let mut api_b = Api::new(&b, &ca, &admin);
    for id in &ids {
        let (s, v) = api_b
            .call(Method::GET, &format!("/v1/keys/{id}/material"), None)
            .await;
        assert_eq!(s, 200, "{id}: {v}");
    }
    // The audit trail says what the scheduler did.
    let (_, audit) = api_b
        .call(
            Method::GET,
            "/v1/audit/records?action=backup.scheduled&limit=100",
            None,
        )
        .await;
    let text = audit.to_string();
    assert!(text.contains("not armed"), "{text}");
    assert!(text.contains("backup.scheduled"), "{text}");
}
