//! Disaster recovery on SoftHSM2 (SPEC 1.3, 5.6, 8): a two-node cluster holding 10,000
//! keys and data units is backed up (data, and the master key under a 3-of-5 quorum
//! split); both nodes and both HSM tokens are destroyed; a new node on a new token is
//! rebuilt from the backup files, three shares and the recovery passphrase, and holds
//! exactly what the cluster held. Two shares, a wrong passphrase and a flipped byte in
//! either file are refused first, each without writing anything.
//!
//! The second node's token gets the master key the same way, from the master-key
//! backup, before it joins: that is how HSMs without their own cloning share a key.

mod common;

use clavis::client::ApiClient;
use clavis::keys::{Algorithm, KeyPolicy};
use clavis::service::{CreateKey, DataUnitRef, KeyService, Principal, PrincipalKind};
use common::cluster::{converge, init_first, Api, Node};
use common::node::{clavisd_bin, client, pkcs11_rot_section};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DATA_UNITS: usize = 500;
const KEYS_ON_A: usize = 9_000;
const KEYS_ON_B: usize = 500;
const MEMBERS: [&str; 5] = ["m1", "m2", "m3", "m4", "m5"];

/// Tables whose contents a restore must bring back unchanged. Node membership, node
/// credentials and the change log differ by design: the restored node registers itself.
const RESTORED_TABLES: [&str; 10] = [
    "objects",
    "master_keys",
    "users",
    "endpoints",
    "wallets",
    "wallet_objects",
    "key_policies",
    "data_units",
    "data_unit_keys",
    "settings",
];

async fn call(c: &mut ApiClient, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (s, v) = c.request(m, path, body.as_ref()).await.expect("request");
    (s.as_u16(), v)
}

/// Runs `clavisd` with `args`; (success, stdout + stderr).
fn clavisd<A: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = A>) -> (bool, String) {
    let out = std::process::Command::new(clavisd_bin())
        .args(args)
        .env("CLAVIS_LOG", "warn")
        .output()
        .expect("run clavisd");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `--share FILE` for each file.
fn share_args(shares: &[PathBuf]) -> Vec<std::ffi::OsString> {
    shares
        .iter()
        .flat_map(|p| ["--share".into(), p.clone().into_os_string()])
        .collect()
}

/// `clavisd restore` of `node` from `data` with the passphrase in `pass`, importing
/// the master key from `mkb` with `shares` first (none: a plain restore).
fn restore(
    node: &Node,
    data: &Path,
    pass: &Path,
    mkb: &Path,
    shares: &[PathBuf],
) -> (bool, String) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "restore".into(),
        "--config".into(),
        node.config.clone().into(),
        "--file".into(),
        data.into(),
        "--recovery-passphrase-file".into(),
        pass.into(),
    ];
    if !shares.is_empty() {
        args.extend(["--master-key-backup".into(), mkb.into()]);
        args.extend(share_args(shares));
    }
    clavisd(args)
}

fn flipped(file: &Path, at: usize, out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(file).expect("read");
    bytes[at] ^= 0x01;
    std::fs::write(out, bytes).expect("write");
    out.to_path_buf()
}

fn delete_token(label: &str) {
    let out = std::process::Command::new("softhsm2-util")
        .args(["--delete-token", "--token", label])
        .output()
        .expect("softhsm2-util");
    assert!(
        out.status.success(),
        "delete token {label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Proposes `op` as the admin and has `approvers` approve it; the final request.
async fn quorum(
    admin: &mut ApiClient,
    members: &mut BTreeMap<&'static str, ApiClient>,
    op: Value,
    approvers: &[&'static str],
) -> Value {
    let (s, req) = call(admin, Method::POST, "/v1/quorum/requests", Some(op)).await;
    assert_eq!(s, 202, "{req}");
    let id = req["id"].as_str().expect("id").to_owned();
    let mut last = req;
    for m in approvers {
        let c = members.get_mut(m).expect("member");
        let (s, v) = call(
            c,
            Method::POST,
            &format!("/v1/quorum/requests/{id}/approve"),
            Some(json!({})),
        )
        .await;
        assert_eq!(s, 200, "{m} approves: {v}");
        last = v;
    }
    last
}

fn admin() -> Principal {
    Principal::system("admin")
}

/// A key group with a pool, a drive agent in it, and `n` data units written by it.
async fn data_units(svc: &KeyService, n: usize) {
    svc.create_wallet(&admin(), "tapes", None)
        .await
        .expect("wallet");
    svc.set_key_policy(&admin(), "tapes", KeyPolicy::default())
        .await
        .expect("policy");
    let (info, _) = svc
        .register_endpoint(&admin(), "drive-1", "agent", Some("dc1"), Some("tapes"))
        .await
        .expect("agent");
    let agent = Principal {
        name: "drive-1".into(),
        source: None,
        kind: PrincipalKind::Endpoint(info.id),
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    svc.refiller().refill_all(&rx).await.expect("refill");
    for i in 0..n {
        let unit = DataUnitRef {
            external_tag: Some(format!("D{i:05}L9")),
            external_unique_id: Some(format!("uid-{i}")),
        };
        let k = svc
            .key_for_write(&agent, &unit)
            .await
            .expect("key for a tape");
        assert!(k.new_key);
    }
}

/// Creates `n` keys through the service, four at a time.
async fn keys(svc: &Arc<KeyService>, n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for t in 0..4 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (t..n).step_by(4) {
                let req = CreateKey {
                    algorithm: Algorithm::Aes,
                    length: 256,
                    name: Some(format!("k-{i}")),
                    activate: true,
                    attributes: Default::default(),
                };
                ids.push(svc.create_key(&admin(), req).await.expect("create").id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("join"));
    }
    ids
}

async fn materials(c: &mut ApiClient, ids: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for id in ids {
        let (s, v) = call(c, Method::GET, &format!("/v1/keys/{id}/material"), None).await;
        assert_eq!(s, 200, "{v}");
        out.insert(id.clone(), v["material_b64"].clone());
    }
    out
}

fn restored_part(d: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    RESTORED_TABLES
        .iter()
        .map(|t| ((*t).to_owned(), d.get(*t).cloned().unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_destroyed_cluster_is_rebuilt_from_its_backups_and_three_shares() {
    let hsm = common::softhsm::SoftHsm::new();
    let token_a = hsm.add_token("clavis-a");
    let token_b = hsm.add_token("clavis-b");
    let token_new = hsm.add_token("clavis-new");
    let exportable = |t| format!("{}master_key_exportable = true\n", pkcs11_rot_section(t));
    let a = Node::with_store(1, "dc1", None, &exportable(&token_a), "").await;
    let (admin_token, recovery, ca) = init_first(&a).await;
    let cfg_a = clavis::config::Config::load(&a.config).expect("config");
    let running_a = clavis::node::start(&cfg_a).await.expect("start a");
    let svc_a = running_a.service.clone();
    let addr_a = running_a.api_addr.to_string();
    let mut adm = client(&addr_a, &ca, &admin_token);
    let scratch = tempfile::tempdir().expect("tempdir");

    // Five quorum members, three of whom must approve.
    let mut members = BTreeMap::new();
    for m in MEMBERS {
        let pw = format!("{m}-password-1");
        let (s, v) = call(
            &mut adm,
            Method::POST,
            "/v1/users",
            Some(json!({"name": m, "password": pw})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let mut anon =
            ApiClient::new(&format!("https://{addr_a}"), &ca, None, None).expect("client");
        let (s, v) = call(
            &mut anon,
            Method::POST,
            "/v1/login",
            Some(json!({"name": m, "password": pw})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        members.insert(m, client(&addr_a, &ca, v["token"].as_str().expect("token")));
    }
    let (s, v) = call(
        &mut adm,
        Method::POST,
        "/v1/quorum/requests",
        Some(json!({"action": "set_quorum", "members": MEMBERS, "required": 3})),
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("executed")), "{v}");

    // A threshold the quorum cannot meet is refused before anyone votes.
    let (s, v) = call(
        &mut adm,
        Method::POST,
        "/v1/quorum/requests",
        Some(json!({"action": "backup_master_key", "threshold": 6})),
    )
    .await;
    assert_eq!(s, 400, "{v}");

    // The master-key backup runs on the third approval, not before.
    let (s, req) = call(
        &mut adm,
        Method::POST,
        "/v1/quorum/requests",
        Some(json!({"action": "backup_master_key", "threshold": 3})),
    )
    .await;
    assert_eq!(s, 202, "{req}");
    let req_id = req["id"].as_str().expect("id").to_owned();
    for (i, m) in ["m1", "m2", "m3"].iter().enumerate() {
        let c = members.get_mut(m).expect("member");
        let (s, v) = call(
            c,
            Method::POST,
            &format!("/v1/quorum/requests/{req_id}/approve"),
            Some(json!({})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let expected = if i < 2 { "pending" } else { "executed" };
        assert_eq!(v["state"], expected, "{v}");
    }
    let (_, done) = call(
        &mut adm,
        Method::GET,
        &format!("/v1/quorum/requests/{req_id}"),
        None,
    )
    .await;
    let result = done["result"].as_str().expect("result").to_owned();
    let backup_id = result
        .split_whitespace()
        .nth(2)
        .expect("backup id in the result")
        .to_owned();
    assert!(result.contains("written on node n1"), "{result}");

    // Each member fetches their own share, once; nobody else gets one.
    let (s, v) = call(
        &mut adm,
        Method::POST,
        &format!("/v1/master-key/backups/{backup_id}/share"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 404, "the requester holds no share: {v}");
    let mut share_files = Vec::new();
    let mut share_texts = Vec::new();
    for m in MEMBERS {
        let c = members.get_mut(m).expect("member");
        let (s, v) = call(
            c,
            Method::POST,
            &format!("/v1/master-key/backups/{backup_id}/share"),
            Some(json!({})),
        )
        .await;
        assert_eq!(s, 200, "{m}: {v}");
        let text = v["share"].as_str().expect("share").to_owned();
        assert!(text.starts_with("clavis-share-1:"), "{text}");
        let (s, v) = call(
            c,
            Method::POST,
            &format!("/v1/master-key/backups/{backup_id}/share"),
            Some(json!({})),
        )
        .await;
        assert_eq!(s, 404, "{m} fetches a second time: {v}");
        let p = scratch.path().join(format!("share-{m}"));
        std::fs::write(&p, format!("{text}\n")).expect("share file");
        share_files.push(p);
        share_texts.push(text);
    }
    let m1 = members.get_mut("m1").expect("m1");
    let (s, _) = call(
        m1,
        Method::GET,
        &format!("/v1/master-key/backups/{backup_id}"),
        None,
    )
    .await;
    assert_eq!(s, 403, "the file is for System Administrators");
    let (s, info) = call(
        &mut adm,
        Method::GET,
        &format!("/v1/master-key/backups/{backup_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["waiting"], json!([]), "{info}");
    let mkb_text = info["file"].as_str().expect("file").to_owned();
    let mkb = scratch.path().join("master-key.clmk");
    std::fs::write(&mkb, &mkb_text).expect("mkb");
    // No share is in the file or in the replicated request.
    for t in &share_texts {
        let body = &t["clavis-share-1:".len()..];
        assert!(!mkb_text.contains(body) && !result.contains(body));
    }

    // Node b's token gets the master key from the backup: two shares are not enough.
    let b_rot = exportable(&token_b);
    let mut b = Node::with_store(2, "dc2", None, &b_rot, "").await;
    let import = |shares: &[PathBuf]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "master-key-import".into(),
            "--config".into(),
            b.config.clone().into(),
            "--backup".into(),
            mkb.clone().into(),
        ];
        args.extend(share_args(shares));
        clavisd(args)
    };
    let (ok, out) = import(&share_files[..2]);
    assert!(!ok && out.contains("needs 3"), "{out}");
    let (ok, out) = import(&share_files[1..4]);
    assert!(ok && out.contains("imported"), "{out}");

    // Adding b needs the quorum too.
    let approval = quorum(
        &mut adm,
        &mut members,
        json!({"action": "add_node", "name": "n2", "site": "dc2"}),
        &["m3", "m4", "m5"],
    )
    .await;
    assert_eq!(approval["state"], "executed", "{approval}");
    let (s, v) = call(
        &mut adm,
        Method::POST,
        "/v1/cluster/nodes",
        Some(json!({"name": "n2", "site": "dc2", "recovery_passphrase": recovery, "approval": approval["id"]})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let ca_path = a.data().join("ca.pem");
    let sponsor = a.proxy.addr.to_string();
    let out = std::process::Command::new(clavisd_bin())
        .args(["join-cluster", "--config"])
        .arg(&b.config)
        .args(["--sponsor", &sponsor, "--ca"])
        .arg(&ca_path)
        .env(
            "CLAVIS_JOIN_TOKEN",
            v["join_token"].as_str().expect("token"),
        )
        .env("CLAVIS_LOG", "warn")
        .output()
        .expect("join-cluster");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.start();
    let mut api_b = Api::new(&b, &ca, &admin_token);

    // 10,000 keys: data units and plain keys on a, more keys on b.
    let t = Instant::now();
    data_units(&svc_a, DATA_UNITS).await;
    let mut ids = keys(&svc_a, KEYS_ON_A).await;
    for i in 0..KEYS_ON_B {
        ids.push(
            api_b
                .create_key(&format!("b-{i}"))
                .await
                .expect("create on b"),
        );
    }
    eprintln!(
        "seeded {} keys and {DATA_UNITS} data units in {:?}",
        ids.len() + DATA_UNITS,
        t.elapsed()
    );
    let api_a = Api::at(&addr_a, &ca, &admin_token);
    let digest = converge(&mut [api_a, api_b], Duration::from_secs(120)).await;
    let sample: Vec<String> = ids.iter().step_by(97).cloned().collect();
    let before = materials(&mut adm, &sample).await;
    let (_, units) = call(&mut adm, Method::GET, "/v1/data-units?limit=1000", None).await;
    assert_eq!(
        units["data_units"].as_array().map(Vec::len),
        Some(DATA_UNITS)
    );

    let t = Instant::now();
    let (s, written) = call(
        &mut adm,
        Method::POST,
        "/v1/backups",
        Some(json!({"recovery_passphrase": recovery})),
    )
    .await;
    assert_eq!(s, 201, "{written}");
    eprintln!("data backup: {:?}", t.elapsed());
    let data = scratch.path().join("data.clbk");
    std::fs::copy(written["path"].as_str().expect("path"), &data).expect("copy backup");

    // The disaster: both nodes, their data and their tokens are gone.
    drop(adm);
    drop(members);
    running_a.stop().await;
    drop(svc_a);
    b.kill9();
    for n in [&a, &b] {
        std::fs::remove_dir_all(n.data()).expect("remove data");
    }
    delete_token("clavis-a");
    delete_token("clavis-b");

    let c = Node::with_store(3, "dc3", None, &pkcs11_rot_section(&token_new), "").await;
    let pass = scratch.path().join("recovery");
    std::fs::write(&pass, &recovery).expect("passphrase");
    let wrong = scratch.path().join("wrong");
    std::fs::write(&wrong, "not-the-passphrase").expect("passphrase");
    let three = vec![
        share_files[0].clone(),
        share_files[2].clone(),
        share_files[4].clone(),
    ];

    let (ok, out) = restore(&c, &data, &pass, &mkb, &three[..2]);
    assert!(
        !ok && out.contains("needs 3") && out.contains("nothing was imported"),
        "{out}"
    );
    let len = mkb_text.len();
    for (i, at) in [0, len / 3, len / 2, len - 3].into_iter().enumerate() {
        let bad = flipped(&mkb, at, &scratch.path().join(format!("mkb-{i}")));
        let (ok, out) = restore(&c, &data, &pass, &bad, &three);
        assert!(
            !ok && out.contains("nothing was imported"),
            "byte {at}: {out}"
        );
    }
    // Still nothing in the new token: a plain restore finds no master key.
    let (ok, out) = restore(&c, &data, &pass, &mkb, &[]);
    assert!(!ok && out.contains("does not hold master key"), "{out}");

    let (ok, out) = restore(&c, &data, &wrong, &mkb, &three);
    assert!(!ok && out.contains("wrong recovery passphrase"), "{out}");
    let size = std::fs::metadata(&data).expect("size").len() as usize;
    for (i, at) in [10, size / 2, size - 1].into_iter().enumerate() {
        let bad = flipped(&data, at, &scratch.path().join(format!("data-{i}")));
        let (ok, out) = restore(&c, &bad, &pass, &mkb, &three);
        assert!(
            !ok && out.contains("nothing was restored"),
            "byte {at}: {out}"
        );
    }
    assert!(!c.data().join("node.json").exists());

    let t = Instant::now();
    let (ok, out) = restore(&c, &data, &pass, &mkb, &three);
    assert!(ok, "{out}");
    eprintln!(
        "master-key import and restore of {} keys: {:?}",
        ids.len() + DATA_UNITS,
        t.elapsed()
    );
    let mut c = c;
    c.start();
    let mut api_c = Api::new(&c, &ca, &admin_token);
    let after = api_c.digest().await.expect("digest");
    assert_eq!(restored_part(&after), restored_part(&digest));
    let mut cc = client(&c.api(), &ca, &admin_token);
    assert_eq!(materials(&mut cc, &sample).await, before);
    let (_, units) = call(&mut cc, Method::GET, "/v1/data-units?limit=1000", None).await;
    assert_eq!(
        units["data_units"].as_array().map(Vec::len),
        Some(DATA_UNITS)
    );
    let fresh = api_c
        .create_key("after-the-disaster")
        .await
        .expect("create");
    let (s, _) = call(
        &mut cc,
        Method::GET,
        &format!("/v1/keys/{fresh}/material"),
        None,
    )
    .await;
    assert_eq!(s, 200);
}
