//! Key transfer between two independent clusters (SPEC 5.6, 8.3): two `clavisd`
//! processes, each with its own SoftHSM2 token, data directory, master key and quorum.
//! They register each other as partners under quorum; cluster A exports keys with
//! their data units under quorum (a non-exportable key, one in no key group and one in
//! a group without a key policy are refused, and nothing is written; a request is
//! fixed when asked, so a partner whose identity changed before the last approval gets
//! nothing); only an executed request's file is fetched; cluster B imports them
//! (material and data units equal), imports the same file again (everything skipped),
//! and refuses a file signed by an unknown identity, files with one changed byte (in a
//! key blob, in the attributes, in the signature), a file addressed to another cluster,
//! keys that do not fit the target key group's policy, keys destroyed or of the wrong
//! length, and data units of another key group, each without changing anything.

mod common;

use clavis::keys::{KeyPolicy, ObjectMeta};
use clavis::secret::KeyMaterial;
use clavis::service::{CreateKey, DataUnitRef, Principal, PrincipalKind};
use clavis::transfer::file::{seal, DataUnitEntry, Export, KeyUseEntry};
use clavis::transfer::{Identity, PublicIdentity};
use common::cluster::{init_first, Api, Node};
use common::node::{pkcs11_rot_section, SOFTWARE_ROT};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// One cluster: its node, the admin (all three roles) and two quorum members (2 of 2).
struct Cluster {
    node: Node,
    admin: Api,
    members: Vec<Api>,
}

impl Cluster {
    /// Starts the node's process and sets up a 2-of-2 quorum.
    async fn start(mut node: Node, admin_token: &str, ca: &str) -> Cluster {
        node.start();
        let addr = node.api();
        let mut admin = Api::new(&node, ca, admin_token);
        let mut members = Vec::new();
        for m in ["m1", "m2"] {
            members.push(admin.new_user(&addr, ca, m).await);
        }
        let (s, v) = admin
            .call(
                Method::POST,
                "/v1/quorum/requests",
                Some(json!({"action": "set_quorum", "members": ["m1", "m2"], "required": 2})),
            )
            .await;
        assert_eq!((s, v["state"].as_str()), (200, Some("executed")), "{v}");
        Cluster {
            node,
            admin,
            members,
        }
    }

    async fn create_wallet(&mut self, name: &str) {
        let (s, v) = self
            .admin
            .call(Method::POST, "/v1/wallets", Some(json!({"name": name})))
            .await;
        assert_eq!(s, 201, "{v}");
    }

    async fn identity(&mut self) -> Value {
        let (s, v) = self
            .admin
            .call(Method::GET, "/v1/transfer/identity", None)
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// A quorum request approved by both members.
    async fn approved(&mut self, op: Value) -> Value {
        self.admin.quorum(&mut self.members, op).await
    }

    async fn import(&mut self, file: &str) -> (u16, Value) {
        self.import_into(file, "tapes").await
    }

    async fn import_into(&mut self, file: &str, wallet: &str) -> (u16, Value) {
        self.admin
            .call(
                Method::POST,
                "/v1/transfer/imports",
                Some(json!({"file": file, "wallet": wallet})),
            )
            .await
    }

    /// The tables an import writes, as digests.
    async fn imported_tables(&mut self) -> BTreeMap<String, String> {
        let d = self.admin.digest().await.expect("digest");
        ["objects", "wallet_objects", "data_units", "data_unit_keys"]
            .iter()
            .map(|t| ((*t).to_owned(), d.get(*t).cloned().unwrap_or_default()))
            .collect()
    }

    async fn material(&mut self, id: &str) -> Value {
        let (s, v) = self
            .admin
            .call(Method::GET, &format!("/v1/keys/{id}/material"), None)
            .await;
        assert_eq!(s, 200, "{v}");
        v["material_b64"].clone()
    }
}

/// The keys cluster A made before its process started.
struct Seeded {
    /// Made by the admin, put in key group `tapes` (exportable).
    plain: Vec<String>,
    /// Made by the admin, in no key group (not exportable).
    loose: String,
    /// Made by the admin, in key group `nopolicy`, which has no key policy (not
    /// exportable: the default policy).
    unpoliced: String,
    /// Handed to a drive for tapes T00001L9 and T00002L9 (key group `tapes`, exportable).
    tape_keys: Vec<String>,
    /// Handed to a drive for tape V00001L9 (key group `vault`, not exportable).
    vault_key: String,
}

fn admin() -> Principal {
    Principal::system("admin")
}

/// Creates A's keys and data units in process (data units come from drives), then
/// stops that in-process node so the `clavisd` process can take over.
async fn seed(node: &Node) -> Seeded {
    let cfg = clavis::config::Config::load(&node.config).expect("config");
    let running = clavis::node::start(&cfg).await.expect("start a in process");
    let svc = running.service.clone();
    let mut agents = Vec::new();
    for (wallet, exportable, agent) in [("tapes", true, "drive-1"), ("vault", false, "drive-2")] {
        svc.create_wallet(&admin(), wallet, None)
            .await
            .expect("wallet");
        let policy = KeyPolicy {
            exportable,
            ..KeyPolicy::default()
        };
        svc.set_key_policy(&admin(), wallet, policy)
            .await
            .expect("policy");
        let (info, _) = svc
            .register_endpoint(&admin(), agent, "agent", Some("dc1"), Some(wallet))
            .await
            .expect("agent");
        agents.push(Principal {
            name: agent.into(),
            source: None,
            kind: PrincipalKind::Endpoint(info.id),
        });
    }
    let (_tx, rx) = tokio::sync::watch::channel(false);
    svc.refiller().refill_all(&rx).await.expect("refill");
    let mut tape_keys = Vec::new();
    for (agent, tag, uid) in [
        (&agents[0], "T00001L9", "uid-1"),
        (&agents[0], "T00002L9", "uid-2"),
        (&agents[1], "V00001L9", "uid-v1"),
    ] {
        let unit = DataUnitRef {
            external_tag: Some(tag.into()),
            external_unique_id: Some(uid.into()),
        };
        let k = svc.key_for_write(agent, &unit).await.expect("tape key");
        tape_keys.push(k.key_id.clone());
    }
    let vault_key = tape_keys.pop().expect("vault key");
    svc.create_wallet(&admin(), "nopolicy", None)
        .await
        .expect("wallet");
    let mut plain = Vec::new();
    for name in ["plain-1", "plain-2", "loose", "unpoliced"] {
        let req = CreateKey {
            algorithm: clavis::keys::Algorithm::Aes,
            length: 256,
            name: Some(name.into()),
            activate: true,
            attributes: Default::default(),
        };
        plain.push(svc.create_key(&admin(), req).await.expect("key").id);
    }
    let unpoliced = plain.pop().expect("unpoliced");
    let loose = plain.pop().expect("loose");
    svc.add_to_wallet(&admin(), "nopolicy", &unpoliced)
        .await
        .expect("into nopolicy");
    for id in &plain {
        svc.add_to_wallet(&admin(), "tapes", id)
            .await
            .expect("into tapes");
    }
    drop(svc);
    running.stop().await;
    Seeded {
        plain,
        loose,
        unpoliced,
        tape_keys,
        vault_key,
    }
}

/// Transfer files anywhere under `dir`.
fn transfer_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                // Temporary files (`.clavis-transfer-...tmp`) count too.
                .is_some_and(|n| n.contains("clavis-transfer-"))
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// The transfer ID a `transfer_export` result names.
fn transfer_id(request: &Value) -> String {
    assert_eq!(request["state"], "executed", "{request}");
    request["result"]
        .as_str()
        .and_then(|r| r.split_whitespace().nth(1))
        .expect("transfer id in the result")
        .to_owned()
}

/// `text` with byte `at` changed.
fn flipped(text: &str, at: usize) -> String {
    let mut b = text.as_bytes().to_vec();
    b[at] ^= 0x01;
    String::from_utf8(b).expect("still text")
}

/// A third cluster's identity (C), and its public part as `GET /v1/transfer/identity`
/// shows it.
fn third_identity() -> (Identity, Value) {
    let (id, _) = Identity::generate().expect("identity c");
    let public = id.public();
    let shown = json!({
        "encryption_public_key": public.encryption_pem(),
        "signing_public_key": public.signing_pem(),
        "fingerprint": public.fingerprint(),
    });
    (id, shown)
}

/// The public identity `GET /v1/transfer/identity` showed.
fn public_of(shown: &Value) -> PublicIdentity {
    PublicIdentity::from_pem(
        s_(&shown["encryption_public_key"]),
        s_(&shown["signing_public_key"]),
    )
    .expect("public identity")
}

/// A file from C to B.
fn seal_from_c(
    c: &Identity,
    b: &PublicIdentity,
    keys: Vec<(ObjectMeta, KeyMaterial)>,
    data_units: Vec<DataUnitEntry>,
) -> String {
    seal(
        c,
        Export {
            transfer_id: &clavis::keys::new_object_id(),
            created_at: 0,
            exporter: "c",
            recipient_name: "b",
            recipient: b,
            keys,
            data_units,
        },
    )
    .expect("seal")
}

/// Registers `partner` (its identity as `GET /v1/transfer/identity` shows it) on `c`.
async fn register(c: &mut Cluster, name: &str, partner: &Value) -> Value {
    c.approved(json!({
        "action": "register_transfer_partner",
        "name": name,
        "encryption_public_key": partner["encryption_public_key"],
        "signing_public_key": partner["signing_public_key"],
        "fingerprint": partner["fingerprint"],
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clusters_transfer_keys_and_refuse_what_they_must() {
    let t0 = Instant::now();
    let hsm = common::softhsm::SoftHsm::new();
    let token_a = hsm.add_token("xfer-a");
    let token_b = hsm.add_token("xfer-b");

    let node_a = Node::with_store(1, "dc1", None, &pkcs11_rot_section(&token_a), "").await;
    let (token_admin_a, _, ca_a) = init_first(&node_a).await;
    let seeded = seed(&node_a).await;
    let node_b = Node::with_store(2, "dc2", None, &pkcs11_rot_section(&token_b), "").await;
    let (token_admin_b, _, ca_b) = init_first(&node_b).await;
    let mut a = Cluster::start(node_a, &token_admin_a, &ca_a).await;
    let mut b = Cluster::start(node_b, &token_admin_b, &ca_b).await;
    b.create_wallet("tapes").await;
    eprintln!("two clusters up in {:?}", t0.elapsed());

    // Each identity is made on first use by a System Administrator (a user without
    // roles may not make it, but may see it), then shown unchanged.
    let (s, v) = a.members[0]
        .call(Method::GET, "/v1/transfer/identity", None)
        .await;
    assert_eq!((s, code(&v)), (403, "forbidden"), "{v}");
    let id_a = a.identity().await;
    let (s, v) = a.members[0]
        .call(Method::GET, "/v1/transfer/identity", None)
        .await;
    assert_eq!((s, &v["fingerprint"]), (200, &id_a["fingerprint"]), "{v}");
    let id_b = b.identity().await;
    assert_eq!(id_a["created"], true, "{id_a}");
    let again = a.identity().await;
    assert_eq!(again["created"], false);
    assert_eq!(again["fingerprint"], id_a["fingerprint"]);
    assert_ne!(id_a["fingerprint"], id_b["fingerprint"]);

    // A fingerprint that does not match the keys is refused before anyone votes.
    let mut wrong = id_b.clone();
    wrong["fingerprint"] = id_a["fingerprint"].clone();
    let (s, v) = a
        .admin
        .call(
            Method::POST,
            "/v1/quorum/requests",
            Some(json!({
                "action": "register_transfer_partner", "name": "b",
                "encryption_public_key": wrong["encryption_public_key"],
                "signing_public_key": wrong["signing_public_key"],
                "fingerprint": wrong["fingerprint"],
            })),
        )
        .await;
    assert_eq!((s, code(&v)), (400, "transfer_bad_partner_key"), "{v}");

    // Partners under quorum: pending after one approval, registered after the second.
    let (s, req) = a
        .admin
        .call(
            Method::POST,
            "/v1/quorum/requests",
            Some(json!({
                "action": "register_transfer_partner", "name": "b",
                "encryption_public_key": id_b["encryption_public_key"],
                "signing_public_key": id_b["signing_public_key"],
                "fingerprint": id_b["fingerprint"],
            })),
        )
        .await;
    assert_eq!((s, req["state"].as_str()), (202, Some("pending")), "{req}");
    let rid = req["id"].as_str().expect("id").to_owned();
    for (i, m) in a.members.iter_mut().enumerate() {
        let (s, v) = m
            .call(
                Method::POST,
                &format!("/v1/quorum/requests/{rid}/approve"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["state"],
            if i == 0 { "pending" } else { "executed" },
            "{v}"
        );
    }
    let r = register(&mut b, "a", &id_a).await;
    assert_eq!(r["state"], "executed", "{r}");
    let (_, partners) = b
        .admin
        .call(Method::GET, "/v1/transfer/partners", None)
        .await;
    assert_eq!(partners["partners"][0]["fingerprint"], id_a["fingerprint"]);

    // A non-exportable key is refused, by ID or through its tape, naming the key; no
    // request is made and no file written.
    for op in [
        json!({"action": "transfer_export", "partner": "b", "keys": [seeded.plain[0], seeded.vault_key]}),
        json!({"action": "transfer_export", "partner": "b", "data_units": ["V00001L9"]}),
    ] {
        let (s, v) = a
            .admin
            .call(Method::POST, "/v1/quorum/requests", Some(op))
            .await;
        assert_eq!((s, code(&v)), (400, "transfer_not_exportable"), "{v}");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains(&seeded.vault_key) && msg.contains("vault"),
            "{msg}"
        );
    }
    // A key in no key group, or in one without a key policy, has the default policy:
    // not exportable.
    for (key, why) in [
        (&seeded.loose, "no key group"),
        (&seeded.unpoliced, "nopolicy"),
    ] {
        let op = json!({"action": "transfer_export", "partner": "b", "keys": [key]});
        let (s, v) = a
            .admin
            .call(Method::POST, "/v1/quorum/requests", Some(op))
            .await;
        assert_eq!((s, code(&v)), (400, "transfer_not_exportable"), "{v}");
        let msg = s_(&v["error"]["message"]);
        assert!(msg.contains(key.as_str()) && msg.contains(why), "{msg}");
    }
    assert!(transfer_files(a.node.dir.path()).is_empty());

    // Exportability is checked again when the last approval runs the export: a key
    // group made non-exportable meanwhile fails the request, and nothing is written.
    let policy =
        |exportable: bool| json!({"algorithm": "AES", "length": 256, "exportable": exportable});
    let (s, req) = a
        .admin
        .call(
            Method::POST,
            "/v1/quorum/requests",
            Some(json!({"action": "transfer_export", "partner": "b", "data_units": ["T00001L9"]})),
        )
        .await;
    assert_eq!(s, 202, "{req}");
    let (s, v) = a
        .admin
        .call(Method::PUT, "/v1/wallets/tapes/policy", Some(policy(false)))
        .await;
    assert_eq!(s, 200, "{v}");
    let rid = s_(&req["id"]).to_owned();
    let mut last = Value::Null;
    for m in a.members.iter_mut() {
        let (_, v) = m
            .call(
                Method::POST,
                &format!("/v1/quorum/requests/{rid}/approve"),
                Some(json!({})),
            )
            .await;
        last = v;
    }
    assert_eq!(last["state"], "failed", "{last}");
    assert!(s_(&last["result"]).contains("not exportable"), "{last}");
    assert!(transfer_files(a.node.dir.path()).is_empty());
    let (s, v) = a
        .admin
        .call(Method::PUT, "/v1/wallets/tapes/policy", Some(policy(true)))
        .await;
    assert_eq!(s, 200, "{v}");

    // The export: two plain keys and the keys of two tapes, on the second approval.
    let t_export = Instant::now();
    let done = a
        .approved(json!({
            "action": "transfer_export", "partner": "b",
            "keys": seeded.plain, "data_units": ["T00001L9", "T00002L9"],
        }))
        .await;
    let tid = transfer_id(&done);
    let (s, exported) = a
        .admin
        .call(Method::GET, &format!("/v1/transfer/exports/{tid}"), None)
        .await;
    assert_eq!(s, 200, "{exported}");
    let file = exported["file"].as_str().expect("file").to_owned();
    assert!(file.starts_with("clavis-transfer-1\n"));
    let files = transfer_files(a.node.dir.path());
    assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    assert!(
        files[0].ends_with(&format!("/clavis-transfer-{tid}.cltr")),
        "{files:?}"
    );

    // A file no executed request names is not served, even in the backup directory.
    let stray_id = clavis::keys::new_object_id();
    let stray = files[0].replace(&tid, &stray_id);
    std::fs::write(&stray, &file).expect("stray file");
    let (s, v) = a
        .admin
        .call(
            Method::GET,
            &format!("/v1/transfer/exports/{stray_id}"),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (404, "not_found"), "{v}");
    std::fs::remove_file(&stray).expect("remove stray");

    // What the quorum approves is fixed when asked: the partner's fingerprint and the
    // exact keys (values the caller gives for them are replaced). If the partner's
    // identity changes before the last approval, nothing is exported.
    let (s, req) = a
        .admin
        .call(
            Method::POST,
            "/v1/quorum/requests",
            Some(json!({
                "action": "transfer_export", "partner": "b", "data_units": ["T00002L9"],
                "partner_fingerprint": "00", "key_ids": [seeded.vault_key],
            })),
        )
        .await;
    assert_eq!(s, 202, "{req}");
    let op = &req["operation"];
    assert_eq!(op["partner_fingerprint"], id_b["fingerprint"], "{req}");
    assert_eq!(op["key_ids"], json!([seeded.tape_keys[1]]), "{req}");
    assert_eq!(
        op["data_unit_ids"].as_array().map(Vec::len),
        Some(1),
        "{req}"
    );
    let (c_id, c_json) = third_identity();
    let (s, v) = a
        .admin
        .call(Method::DELETE, "/v1/transfer/partners/b", None)
        .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(register(&mut a, "b", &c_json).await["state"], "executed");
    let rid = s_(&req["id"]).to_owned();
    let mut last = Value::Null;
    for m in a.members.iter_mut() {
        let (_, v) = m
            .call(
                Method::POST,
                &format!("/v1/quorum/requests/{rid}/approve"),
                Some(json!({})),
            )
            .await;
        last = v;
    }
    assert_eq!(last["state"], "failed", "{last}");
    assert!(s_(&last["result"]).contains("another identity"), "{last}");
    assert_eq!(transfer_files(a.node.dir.path()).len(), 1);
    let (s, v) = a
        .admin
        .call(Method::DELETE, "/v1/transfer/partners/b", None)
        .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(register(&mut a, "b", &id_b).await["state"], "executed");
    // No plaintext in the file: no key's material appears in it.
    let mut all: Vec<String> = seeded.plain.clone();
    all.extend(seeded.tape_keys.iter().cloned());
    for id in &all {
        let m = a.material(id).await;
        assert!(!file.contains(m.as_str().expect("b64")));
    }
    eprintln!("export in {:?}", t_export.elapsed());

    // Keys that do not fit the target key group's policy are refused, naming one.
    b.create_wallet("small").await;
    let (s, v) = b
        .admin
        .call(
            Method::PUT,
            "/v1/wallets/small/policy",
            Some(json!({"algorithm": "AES", "length": 128})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let before = b.imported_tables().await;
    let (s, v) = b.import_into(&file, "small").await;
    assert_eq!((s, code(&v)), (400, "invalid_argument"), "{v}");
    assert!(s_(&v["error"]["message"]).contains("key policy"), "{v}");
    assert_eq!(b.imported_tables().await, before);

    // Import on B: every key, its material and its data units.
    let (s, rep) = b.import(&file).await;
    assert_eq!(s, 200, "{rep}");
    assert_eq!(
        (rep["imported"].as_u64(), rep["skipped"].as_u64()),
        (Some(4), Some(0)),
        "{rep}"
    );
    assert_eq!(rep["data_units_imported"], 2, "{rep}");
    assert_eq!(rep["partner"], "a");
    for id in &all {
        assert_eq!(
            a.material(id).await,
            b.material(id).await,
            "material of {id}"
        );
        let (_, ka) = a
            .admin
            .call(Method::GET, &format!("/v1/keys/{id}"), None)
            .await;
        let (_, kb) = b
            .admin
            .call(Method::GET, &format!("/v1/keys/{id}"), None)
            .await;
        for f in ["name", "state", "object_type", "length"] {
            assert_eq!(ka[f], kb[f], "{f} of {id}");
        }
    }
    let (s, vault) = b
        .admin
        .call(Method::GET, &format!("/v1/keys/{}", seeded.vault_key), None)
        .await;
    assert_eq!(s, 404, "the non-exportable key stayed home: {vault}");
    let (_, units) = b.admin.call(Method::GET, "/v1/data-units", None).await;
    let units = units["data_units"].as_array().expect("units").clone();
    let mut tags: Vec<&str> = units
        .iter()
        .filter_map(|u| u["external_tag"].as_str())
        .collect();
    tags.sort();
    assert_eq!(tags, ["T00001L9", "T00002L9"]);
    let mut linked = Vec::new();
    for u in &units {
        let (_, one) = b
            .admin
            .call(
                Method::GET,
                &format!("/v1/data-units/{}", s_(&u["id"])),
                None,
            )
            .await;
        for k in one["keys"].as_array().into_iter().flatten() {
            linked.push(s_(&k["key_id"]).to_owned());
        }
    }
    linked.sort();
    let mut expected = seeded.tape_keys.clone();
    expected.sort();
    assert_eq!(linked, expected, "each tape's key is linked to it on B");
    assert_ne!(b.imported_tables().await, before);

    // The same file again, through the CLI: everything skipped, nothing changed.
    let after = b.imported_tables().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("transfer.cltr");
    std::fs::write(&path, &file).expect("write");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_b).expect("ca");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clavis"))
        .args(["--json", "transfer", "import"])
        .arg(&path)
        .args(["--wallet", "tapes"])
        .env("CLAVIS_SERVER", format!("https://{}", b.node.api()))
        .env("CLAVIS_CA", &ca_file)
        .env("CLAVIS_TOKEN", &token_admin_b)
        .env_remove("CLAVIS_TOKEN_FILE")
        .output()
        .expect("clavis");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (rep["imported"].as_u64(), rep["skipped"].as_u64()),
        (Some(0), Some(4)),
        "{rep}"
    );
    assert_eq!(b.imported_tables().await, after);

    // Refusals, each changing nothing on B.
    // 1. Signed by a third identity B never registered.
    let b_public = public_of(&id_b);
    let forged_meta: ObjectMeta = serde_json::from_value({
        let (_, k) = b
            .admin
            .call(Method::GET, &format!("/v1/keys/{}", seeded.plain[0]), None)
            .await;
        let mut k = k;
        k["id"] = json!(clavis::keys::new_object_id());
        k
    })
    .expect("meta");
    let forged = seal_from_c(
        &c_id,
        &b_public,
        vec![(forged_meta.clone(), KeyMaterial::new(vec![7; 32]))],
        vec![],
    );
    let (s, v) = b.import(&forged).await;
    assert_eq!((s, code(&v)), (403, "transfer_unknown_partner"), "{v}");
    assert_eq!(b.imported_tables().await, after);

    // Files from a registered partner (C, on B) that carry what register_* would not
    // take, or data units of another key group: refused whole, naming the key or unit.
    assert_eq!(register(&mut b, "c", &c_json).await["state"], "executed");
    b.create_wallet("other").await;
    let fresh = || {
        let mut m = forged_meta.clone();
        m.id = clavis::keys::new_object_id();
        m.attributes.digest_sha256 = None;
        m
    };
    let good = fresh();
    let destroyed = ObjectMeta {
        state: clavis::keys::State::Destroyed,
        ..fresh()
    };
    let short = fresh();
    let tapes_unit = units
        .iter()
        .find(|u| u["external_tag"] == "T00001L9")
        .expect("T00001L9 on B");
    let seal_c = |keys: Vec<(ObjectMeta, KeyMaterial)>, data_units: Vec<DataUnitEntry>| {
        seal_from_c(&c_id, &b_public, keys, data_units)
    };
    let cases = [
        (
            "destroyed with material",
            seal_c(
                vec![
                    (good.clone(), KeyMaterial::new(vec![7; 32])),
                    (destroyed.clone(), KeyMaterial::new(vec![8; 32])),
                ],
                vec![],
            ),
            "tapes",
            destroyed.id.clone(),
        ),
        (
            "length not that of the material",
            seal_c(
                vec![
                    (good.clone(), KeyMaterial::new(vec![7; 32])),
                    (short.clone(), KeyMaterial::new(vec![8; 16])),
                ],
                vec![],
            ),
            "tapes",
            short.id.clone(),
        ),
        (
            "a data unit of another key group",
            seal_c(
                vec![(good.clone(), KeyMaterial::new(vec![7; 32]))],
                vec![DataUnitEntry {
                    id: s_(&tapes_unit["id"]).to_owned(),
                    external_tag: Some("T00001L9".into()),
                    external_unique_id: None,
                    description: None,
                    created_at: 0,
                    keys: vec![KeyUseEntry {
                        key_id: good.id.clone(),
                        first_used_at: 1,
                        last_used_at: 1,
                        writes: 1,
                        reads: 0,
                        bytes_written: 0,
                        bytes_read: 0,
                    }],
                }],
            ),
            "other",
            s_(&tapes_unit["id"]).to_owned(),
        ),
    ];
    for (what, text, wallet, named) in cases {
        let (s, v) = b.import_into(&text, wallet).await;
        assert_eq!((s, code(&v)), (400, "invalid_argument"), "{what}: {v}");
        assert!(s_(&v["error"]["message"]).contains(&named), "{what}: {v}");
        assert_eq!(b.imported_tables().await, after, "{what}");
    }

    // 2. One changed byte: in a key blob, in the attributes, in the signature.
    let in_blob = file.find("\"material\":\"").expect("blob") + 20;
    let in_name = file.find("\"name\":\"plain-1\"").expect("name") + 9;
    let in_sig = file.rfind("ecdsa-p256-sha256 ").expect("sig") + 30;
    for (what, at) in [
        ("key blob", in_blob),
        ("attributes", in_name),
        ("signature", in_sig),
    ] {
        let (s, v) = b.import(&flipped(&file, at)).await;
        assert_eq!(
            (s, code(&v)),
            (400, "transfer_bad_signature"),
            "{what}: {v}"
        );
        assert_eq!(b.imported_tables().await, after, "{what}");
    }

    // 3. Addressed to another cluster: A exports to a partner C, B is given the file.
    let r = register(&mut a, "c", &c_json).await;
    assert_eq!(r["state"], "executed", "{r}");
    let done = a
        .approved(json!({"action": "transfer_export", "partner": "c", "keys": [seeded.plain[1]]}))
        .await;
    let tid_c = transfer_id(&done);
    let (_, for_c) = a
        .admin
        .call(Method::GET, &format!("/v1/transfer/exports/{tid_c}"), None)
        .await;
    let (s, v) = b.import(s_(&for_c["file"])).await;
    assert_eq!((s, code(&v)), (400, "transfer_wrong_recipient"), "{v}");
    assert_eq!(b.imported_tables().await, after);

    // Every step is in the audit trails, refusals included.
    let (_, recs) = b
        .admin
        .call(
            Method::GET,
            "/v1/audit/records?action=transfer.import&limit=100",
            None,
        )
        .await;
    let outcomes: Vec<&str> = recs["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "success").count(),
        2,
        "{recs}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "failed").count(),
        9,
        "{recs}"
    );
    for action in [
        "transfer.identity",
        "transfer.partner_register",
        "transfer.export",
        "transfer.fetch",
    ] {
        let (_, recs) = a
            .admin
            .call(
                Method::GET,
                &format!("/v1/audit/records?action={action}"),
                None,
            )
            .await;
        assert!(
            !recs["records"]
                .as_array()
                .map(Vec::is_empty)
                .unwrap_or(true),
            "{action}: {recs}"
        );
    }

    // Removing a partner needs no quorum; its files are refused from then on.
    let (s, v) = b
        .admin
        .call(Method::DELETE, "/v1/transfer/partners/a", None)
        .await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = b.import(&file).await;
    assert_eq!((s, code(&v)), (403, "transfer_unknown_partner"), "{v}");
    eprintln!("whole test in {:?}", t0.elapsed());
}

fn s_(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Two imports of one file at the same moment both succeed and import each key once:
/// one imports them all, the other skips them all. On PostgreSQL nothing but the
/// import's own lock orders the two transactions (without it, both found the keys
/// absent and the second failed on the first's rows).
async fn concurrent_imports_of_one_file_import_each_key_once(store: &str) {
    let pg = match store {
        "postgres" => Some(common::pg::fresh_database().await),
        _ => None,
    };
    let index = if pg.is_some() { 4 } else { 3 };
    let node = Node::with_store(index, "dc1", pg.as_deref(), SOFTWARE_ROT, "").await;
    let (token, _, ca) = init_first(&node).await;
    let mut b = Cluster::start(node, &token, &ca).await;
    b.create_wallet("tapes").await;
    let id_b = b.identity().await;
    let b_public = public_of(&id_b);
    let (c_id, c_json) = third_identity();
    assert_eq!(register(&mut b, "c", &c_json).await["state"], "executed");

    // About 1 KiB each in the file, under api.max_body_bytes (64 KiB).
    const KEYS: usize = 40;
    let keys = (0..KEYS)
        .map(|i| {
            let meta = ObjectMeta {
                id: clavis::keys::new_object_id(),
                object_type: clavis::keys::ObjectType::SymmetricKey,
                algorithm: Some(clavis::keys::Algorithm::Aes),
                length: Some(256),
                state: clavis::keys::State::Active,
                name: None,
                attributes: clavis::keys::Attributes::default(),
                created_at: 0,
                updated_at: 0,
            };
            (meta, KeyMaterial::new(vec![(i % 251) as u8; 32]))
        })
        .collect::<Vec<_>>();
    let ids: std::collections::BTreeSet<String> = keys.iter().map(|(m, _)| m.id.clone()).collect();
    let file = seal_from_c(&c_id, &b_public, keys, vec![]);

    let mut second = Api::new(&b.node, &ca, &token);
    let body = json!({"file": file, "wallet": "tapes"});
    let ((s1, r1), (s2, r2)) = tokio::join!(
        b.admin
            .call(Method::POST, "/v1/transfer/imports", Some(body.clone())),
        second.call(Method::POST, "/v1/transfer/imports", Some(body)),
    );
    assert_eq!((s1, s2), (200, 200), "{r1}\n{r2}");
    let counts = |r: &Value| (r["imported"].as_u64(), r["skipped"].as_u64());
    let mut got = [counts(&r1), counts(&r2)];
    got.sort();
    let n = Some(KEYS as u64);
    assert_eq!(got, [(Some(0), n), (n, Some(0))], "{r1}\n{r2}");
    let (s, v) = b.admin.call(Method::GET, "/v1/keys?limit=1000", None).await;
    assert_eq!(s, 200, "{v}");
    let listed: Vec<&str> = v["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .filter(|id| ids.contains(*id))
        .collect();
    assert_eq!(listed.len(), KEYS, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_imports_of_one_file_import_each_key_once_sqlite() {
    concurrent_imports_of_one_file_import_each_key_once("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_imports_of_one_file_import_each_key_once_postgres() {
    concurrent_imports_of_one_file_import_each_key_once("postgres").await;
}
