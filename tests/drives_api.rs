//! Key groups, pools and data units through the REST API, against a real node over
//! TLS (SPEC 2.3, 2.5, 3): key policies set, shown and removed; refused policies
//! change nothing; callers without access to a wallet learn nothing about it; pools
//! and data units as administrators and others see them.
//!
//! The node started here runs no pool maintainer: where a test needs ready keys it
//! configures a small pool and refills it once itself, so what it asserts is exact.

mod common;

use clavis::client::ApiClient;
use clavis::pool::PoolConfig;
use clavis::service::{DataUnitRef, Principal};
use common::node::{client, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

struct Fixture {
    dir: NodeDir,
    node: clavis::node::RunningNode,
    addr: String,
    ca: String,
    admin_token: String,
}

async fn fixture(store_url: Option<&str>) -> Fixture {
    let dir = NodeDir::new(store_url, SOFTWARE_ROT);
    // No maintainer: the tests fill pools themselves, so the counts they see are exact.
    let mut text = std::fs::read_to_string(&dir.config_path).expect("config");
    text.push_str("\n[pool]\nrefill = false\n");
    std::fs::write(&dir.config_path, text).expect("config");
    let admin_token = dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let addr = node.api_addr.to_string();
    let ca = dir.ca_pem();
    Fixture {
        dir,
        node,
        addr,
        ca,
        admin_token,
    }
}

impl Fixture {
    fn admin(&self) -> ApiClient {
        client(&self.addr, &self.ca, &self.admin_token)
    }

    /// A user with `roles`, logged in.
    async fn user(&self, name: &str, roles: &[&str]) -> ApiClient {
        let pw = format!("{name}-pw-0123456789");
        let mut admin = self.admin();
        let (st, v) = call(
            &mut admin,
            Method::POST,
            "/v1/users",
            Some(json!({"name": name, "password": pw})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "create user {name}: {v}");
        for role in roles {
            let (st, v) = call(
                &mut admin,
                Method::POST,
                &format!("/v1/users/{name}/roles"),
                Some(json!({"role": role})),
            )
            .await;
            assert_eq!(st, StatusCode::OK, "grant {role} to {name}: {v}");
        }
        let mut anon = ApiClient::new(&format!("https://{}", self.addr), &self.ca, None, None)
            .expect("client");
        let (st, v) = call(
            &mut anon,
            Method::POST,
            "/v1/login",
            Some(json!({"name": name, "password": pw})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "login {name}: {v}");
        client(&self.addr, &self.ca, v["token"].as_str().expect("token"))
    }

    /// Creates a wallet as the administrator; its ID.
    async fn wallet(&self, name: &str) -> String {
        let (st, w) = call(
            &mut self.admin(),
            Method::POST,
            "/v1/wallets",
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{w}");
        w["id"].as_str().expect("wallet id").to_owned()
    }

    /// A drive agent whose key group is `wallet`, enrolled; its principal as the
    /// agent transport would make it from its certificate.
    async fn drive_agent(&self, name: &str, wallet: &str) -> Principal {
        let svc = &self.node.service;
        let admin = Principal::system("admin");
        let (_, token) = svc
            .register_endpoint(&admin, name, "drive_agent", None, Some(wallet))
            .await
            .expect("register drive agent");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let csr = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("csr pem");
        let enrolled = svc.enroll(&token.token, &csr, None).await.expect("enroll");
        let der = clavis::tls::parse_certs(&enrolled.certificate_pem).expect("certificate");
        svc.endpoint_for_certificate(der[0].as_ref(), None)
            .await
            .expect("agent principal")
    }

    /// Makes this node's pools `size` keys (refill below `low_water`) and fills every
    /// key group's once, as the maintainer would.
    async fn fill_pools(&self, size: u64, low_water: u64) -> u64 {
        self.node.service.pool().configure(PoolConfig {
            size,
            low_water,
            refill_per_second: 1000,
            batch: size,
        });
        let (_tx, stop) = tokio::sync::watch::channel(false);
        self.node
            .service
            .refiller()
            .refill_all(&stop)
            .await
            .expect("refill")
    }
}

async fn call(
    c: &mut ApiClient,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    c.request(m, path, body.as_ref()).await.expect("request")
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

/// True when a refusal's message starts by naming `field` (after the error kind).
fn names_field(v: &Value, field: &str) -> bool {
    let m = message(v);
    m.strip_prefix("invalid request: ")
        .unwrap_or(m)
        .starts_with(&format!("{field}:"))
}

const POLICY: &str = "/v1/wallets/tapes/policy";

/// The pool of wallet `name` in a pool list, if listed.
fn pool_of<'a>(pools: &'a Value, name: &str) -> Option<&'a Value> {
    pools
        .as_array()
        .expect("pools is a list")
        .iter()
        .find(|p| p["wallet"] == name)
}

/// Sets, shows, replaces and removes a policy; every refused policy leaves the one in
/// force as it was.
async fn policy_lifecycle(f: &Fixture) {
    let mut admin = f.admin();
    f.wallet("tapes").await;

    // Not a key group yet: a JSON 404, not the router's.
    let (st, v) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    assert!(message(&v).contains("no key policy"), "{v}");

    // Defaults: AES-256, no limits, not exportable.
    let (st, v) = call(&mut admin, Method::PUT, POLICY, Some(json!({}))).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["wallet"], "tapes");
    assert_eq!(v["algorithm"], "AES");
    assert_eq!(v["length"], 256);
    assert_eq!(v["encryption_period_secs"], Value::Null);
    assert_eq!(v["decryption_period_secs"], Value::Null);
    assert_eq!(v["exportable"], false);
    assert!(v["updated_at"].is_i64(), "{v}");

    // Replaced as a whole.
    let year: i64 = 365 * 86_400;
    let wanted = json!({
        "algorithm": "aes",
        "length": 128,
        "encryption_period_secs": year,
        "decryption_period_secs": 10 * year,
        "exportable": true,
    });
    let (st, set) = call(&mut admin, Method::PUT, POLICY, Some(wanted)).await;
    assert_eq!(st, StatusCode::OK, "{set}");
    assert_eq!(
        (
            &set["algorithm"],
            &set["length"],
            &set["encryption_period_secs"],
            &set["decryption_period_secs"],
            &set["exportable"]
        ),
        (
            &json!("AES"),
            &json!(128),
            &json!(year),
            &json!(10 * year),
            &json!(true)
        ),
        "{set}"
    );
    let (st, shown) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, &shown), (StatusCode::OK, &set));

    // Refused, each naming its field; the policy in force stays as it was.
    let refused = [
        (json!({"length": 192}), "length"),
        (
            json!({"encryption_period_secs": 10 * year, "decryption_period_secs": year}),
            "decryption_period_secs",
        ),
        (
            json!({"encryption_period_secs": 0}),
            "encryption_period_secs",
        ),
        (
            json!({"decryption_period_secs": 101 * year}),
            "decryption_period_secs",
        ),
        (json!({"algorithm": "RSA"}), "algorithm"),
        (json!({"algorithm": "DES"}), "algorithm"),
    ];
    for (body, field) in refused {
        let (st, v) = call(&mut admin, Method::PUT, POLICY, Some(body.clone())).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_argument"),
            "{body}: {v}"
        );
        assert!(
            names_field(&v, field),
            "{body}: the message names {field}: {v}"
        );
    }
    // Unknown fields and wrong types are refused by the body's own rules.
    for (body, named) in [
        (json!({"lenght": 256}), "lenght"),
        (json!({"length": "256"}), "length"),
        (json!({"exportable": "yes"}), "exportable"),
    ] {
        let (st, v) = call(&mut admin, Method::PUT, POLICY, Some(body.clone())).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_json"),
            "{body}: {v}"
        );
        assert!(message(&v).contains(named), "{body}: {v}");
    }
    let (st, v) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, &v), (StatusCode::OK, &set), "refusals changed nothing");

    // Administrators are told which wallets do not exist.
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/wallets/no-such-wallet/policy",
        Some(json!({})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Removed: gone, and a second removal says so.
    let (st, v) = call(&mut admin, Method::DELETE, POLICY, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (st, v) = call(&mut admin, Method::DELETE, POLICY, None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    // The wallet itself stays.
    let (st, v) = call(&mut admin, Method::GET, "/v1/wallets/tapes", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // Every change, and every refusal the service made, is in the audit trail.
    let count = |v: &Value, outcome: &str| {
        v["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["outcome"] == outcome)
            .count()
    };
    let (st, set_records) = call(
        &mut admin,
        Method::GET,
        "/v1/audit/records?action=key_policy.set&limit=1000",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{set_records}");
    assert_eq!(count(&set_records, "success"), 2, "{set_records}");
    assert!(count(&set_records, "failed") >= 5, "{set_records}");
    let (_, removals) = call(
        &mut admin,
        Method::GET,
        "/v1/audit/records?action=key_policy.remove&limit=1000",
        None,
    )
    .await;
    assert_eq!(
        (count(&removals, "success"), count(&removals, "failed")),
        (1, 1),
        "{removals}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policy_is_set_shown_replaced_and_removed() {
    let f = fixture(None).await;
    policy_lifecycle(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policy_is_set_shown_replaced_and_removed_on_postgres() {
    let url = common::pg::fresh_database().await;
    let f = fixture(Some(&url)).await;
    policy_lifecycle(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_access_to_a_wallet_learn_nothing_of_it() {
    let f = fixture(None).await;
    let mut admin = f.admin();
    f.wallet("tapes").await;
    let (st, set) = call(
        &mut admin,
        Method::PUT,
        POLICY,
        Some(json!({"encryption_period_secs": 3600})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{set}");
    let mut bob = f.user("bob", &[]).await;

    // The same answer for the wallet that exists and one that does not.
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"length": 128}))),
        (Method::DELETE, None),
    ] {
        let (st, there) = call(&mut bob, method.clone(), POLICY, body.clone()).await;
        let (st2, absent) = call(
            &mut bob,
            method.clone(),
            "/v1/wallets/tapez/policy",
            body.clone(),
        )
        .await;
        assert_eq!(
            (st, code(&there)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {there}"
        );
        assert_eq!(
            (st2, code(&absent)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {absent}"
        );
        assert_eq!(
            message(&there).replace("tapes", "NAME"),
            message(&absent).replace("tapez", "NAME"),
            "{method}: the messages tell the wallets apart"
        );
    }
    let (st, v) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, &v), (StatusCode::OK, &set), "bob changed nothing");

    // Nor does its pool show it to him.
    let (st, v) = call(&mut bob, Method::GET, "/v1/pools", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["pools"], json!([]), "{v}");
    let (st, v) = call(&mut bob, Method::GET, "/v1/status", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["pools"], json!([]), "{v}");

    // Read Only shows him the policy and the pool, and changes nothing else.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/wallets/tapes/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "read_only"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut bob, Method::GET, POLICY, None).await;
    assert_eq!((st, &v), (StatusCode::OK, &set));
    for (method, body) in [
        (Method::PUT, Some(json!({"length": 128}))),
        (Method::DELETE, None),
    ] {
        let (st, v) = call(&mut bob, method.clone(), POLICY, body).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {v}"
        );
        assert!(message(&v).contains("Manage Wallet"), "{v}");
    }
    let (st, v) = call(&mut admin, Method::GET, POLICY, None).await;
    assert_eq!((st, &v), (StatusCode::OK, &set), "bob changed nothing");
    let (st, v) = call(&mut bob, Method::GET, "/v1/pools", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(pool_of(&v["pools"], "tapes").is_some(), "{v}");

    // Manage Wallet lets him change it.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/wallets/tapes/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "manage_wallet"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut bob, Method::PUT, POLICY, Some(json!({"length": 128}))).await;
    assert_eq!((st, &v["length"]), (StatusCode::OK, &json!(128)), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_administrators_see_every_pool_on_the_node() {
    let f = fixture(None).await;
    let mut admin = f.admin();
    let wallet_id = f.wallet("tapes").await;
    let mut ka = f.user("keyadmin", &["key_admin"]).await;

    let (st, v) = call(&mut ka, Method::GET, "/v1/pools", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["pools"], json!([]), "no key group yet: {v}");
    let (_, status) = call(&mut ka, Method::GET, "/v1/status", None).await;
    assert_eq!(v["node_id"], status["node_id"], "this node's pools");

    let (st, v) = call(&mut admin, Method::PUT, POLICY, Some(json!({}))).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The Key Administrator has no grant on the wallet, and sees its pool.
    let (st, v) = call(&mut ka, Method::GET, "/v1/pools", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let pools = v["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 1, "{v}");
    let p = &pools[0];
    assert_eq!(p["wallet"], "tapes");
    assert_eq!(p["wallet_id"], wallet_id.as_str());
    let size = p["size"].as_u64().expect("size");
    let ready = p["ready"].as_u64().expect("ready");
    assert!(size > 0 && p["low_water"].as_u64() <= Some(size), "{p}");
    assert!(ready <= size, "{p}");
    for counter in [
        "taken",
        "last_minute",
        "peak_per_second",
        "peak_per_minute",
        "drains",
        "empty_answers",
    ] {
        assert_eq!(p[counter], 0, "{counter}: nothing taken yet: {p}");
    }
    assert_eq!(p["last_drain_at"], Value::Null, "{p}");
    let (st, status) = call(&mut ka, Method::GET, "/v1/status", None).await;
    assert_eq!(st, StatusCode::OK, "{status}");
    let in_status = pool_of(&status["pools"], "tapes").expect("the pool in the status");
    assert_eq!(in_status["wallet_id"], wallet_id.as_str());
    assert_eq!(in_status["size"], p["size"]);

    // Keys taken show in the counters (this node runs no maintainer: fill it here).
    let made = f.fill_pools(4, 2).await;
    assert_eq!(made, 4, "an empty pool of 4 is filled with 4 keys");
    let agent = f.drive_agent("drive-1", "tapes").await;
    let unit = DataUnitRef {
        external_tag: Some("A00001L9".into()),
        external_unique_id: None,
    };
    let key = f
        .node
        .service
        .key_for_write(&agent, &unit)
        .await
        .expect("a key for a new tape");
    assert!(key.new_key);
    let (_, v) = call(&mut ka, Method::GET, "/v1/pools", None).await;
    let p = pool_of(&v["pools"], "tapes").expect("pool");
    assert_eq!(
        (
            &p["ready"],
            &p["size"],
            &p["low_water"],
            &p["taken"],
            &p["refilled"]
        ),
        (&json!(3), &json!(4), &json!(2), &json!(1), &json!(4)),
        "{p}"
    );
    assert_eq!(p["last_minute"], 1, "{p}");
    assert_eq!(p["peak_per_second"], 1, "{p}");

    // Once the wallet is no key group, it has no pool.
    let (st, v) = call(&mut admin, Method::DELETE, POLICY, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = call(&mut ka, Method::GET, "/v1/pools", None).await;
    assert_eq!(v["pools"], json!([]), "{v}");
    let (_, v) = call(&mut ka, Method::GET, "/v1/status", None).await;
    assert_eq!(v["pools"], json!([]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_units_are_listed_and_looked_up() {
    let f = fixture(None).await;
    let mut admin = f.admin();

    // None yet; an unknown ID is a JSON 404.
    let (st, v) = call(&mut admin, Method::GET, "/v1/data-units", None).await;
    assert_eq!((st, &v), (StatusCode::OK, &json!({"data_units": []})));
    let unknown = "/v1/data-units/00000000-0000-7000-8000-000000000000";
    let (st, v) = call(&mut admin, Method::GET, unknown, None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Paging is checked.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1", "offset"),
    ] {
        let (st, v) = call(
            &mut admin,
            Method::GET,
            &format!("/v1/data-units?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_argument"),
            "{query}: {v}"
        );
        assert!(names_field(&v, field), "{query}: {v}");
    }
    for query in ["limit=ten", "colour=red"] {
        let (st, v) = call(
            &mut admin,
            Method::GET,
            &format!("/v1/data-units?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{query}: {v}"
        );
    }

    // A drive writes a tape: its data unit lists its key and the key's use.
    let wallet_id = f.wallet("tapes").await;
    let (st, v) = call(&mut admin, Method::PUT, POLICY, Some(json!({}))).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    f.fill_pools(2, 1).await;
    let agent = f.drive_agent("drive-1", "tapes").await;
    let unit = DataUnitRef {
        external_tag: Some("A00001L9".into()),
        external_unique_id: Some("MAM-0001".into()),
    };
    let first = f
        .node
        .service
        .key_for_write(&agent, &unit)
        .await
        .expect("key for write");
    let again = f
        .node
        .service
        .key_for_write(&agent, &unit)
        .await
        .expect("key for appending");
    assert_eq!(
        again.key_id, first.key_id,
        "appending reuses the tape's key"
    );
    let du_id = first.data_unit_id.clone().expect("data unit");

    let (st, v) = call(&mut admin, Method::GET, "/v1/data-units", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let units = v["data_units"].as_array().expect("list");
    assert_eq!(units.len(), 1, "{v}");
    assert_eq!(units[0]["id"], du_id.as_str());
    assert_eq!(units[0]["external_tag"], "A00001L9");
    assert_eq!(units[0]["external_unique_id"], "MAM-0001");
    assert_eq!(units[0]["wallet_id"], wallet_id.as_str());
    assert!(units[0].get("keys").is_none(), "lists carry no keys: {v}");
    let (_, v) = call(
        &mut admin,
        Method::GET,
        "/v1/data-units?limit=1&offset=1",
        None,
    )
    .await;
    assert_eq!(v["data_units"], json!([]), "{v}");

    let (st, v) = call(
        &mut admin,
        Method::GET,
        &format!("/v1/data-units/{du_id}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["id"], du_id.as_str());
    let keys = v["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{v}");
    assert_eq!(keys[0]["key_id"], first.key_id.as_str());
    assert_eq!(
        (&keys[0]["writes"], &keys[0]["reads"]),
        (&json!(2), &json!(0)),
        "{v}"
    );

    // A user without access to the key group sees no data unit, and the one that
    // exists answers like one that does not.
    let mut bob = f.user("bob", &[]).await;
    let (st, v) = call(&mut bob, Method::GET, "/v1/data-units", None).await;
    assert_eq!((st, &v), (StatusCode::OK, &json!({"data_units": []})));
    let (st, there) = call(
        &mut bob,
        Method::GET,
        &format!("/v1/data-units/{du_id}"),
        None,
    )
    .await;
    let (st2, absent) = call(&mut bob, Method::GET, unknown, None).await;
    assert_eq!(
        (st, code(&there)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{there}"
    );
    assert_eq!((st2, code(&absent)), (StatusCode::NOT_FOUND, "not_found"));
    // ... and with Read Only on it, he does.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/wallets/tapes/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "read_only"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(
        &mut bob,
        Method::GET,
        &format!("/v1/data-units/{du_id}"),
        None,
    )
    .await;
    assert_eq!((st, &v["id"]), (StatusCode::OK, &json!(du_id)), "{v}");
}

// ---- CLI ----

/// Runs `clavis` against the fixture's node as the administrator.
async fn cli(f: &Fixture, args: &[&str]) -> (bool, String, String) {
    let mut all = vec![
        "--server".to_owned(),
        format!("https://{}", f.addr),
        "--ca".to_owned(),
        f.dir.data_dir().join("ca.pem").display().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let token = f.admin_token.clone();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_clavis"))
            .args(all)
            .env_remove("CLAVIS_TOKEN_FILE")
            .env_remove("CLAVIS_SERVER")
            .env_remove("CLAVIS_CA")
            .env("CLAVIS_TOKEN", token)
            .output()
            .expect("run clavis");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_policies_and_shows_pools_and_data_units() {
    let f = fixture(None).await;
    f.wallet("tapes").await;

    let (ok, out, err) = cli(
        &f,
        &[
            "wallet",
            "policy",
            "set",
            "tapes",
            "--length",
            "128",
            "--encryption-period",
            "365d",
            "--decryption-period",
            "10y",
            "--exportable",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("AES-128"), "{out}");
    assert!(out.contains("encryption period  1y (31536000 s)"), "{out}");
    assert!(
        out.contains("decryption period  10y (315360000 s)"),
        "{out}"
    );
    let (ok, out, err) = cli(&f, &["--json", "wallet", "policy", "show", "tapes"]).await;
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (
            &shown["length"],
            &shown["encryption_period_secs"],
            &shown["decryption_period_secs"],
            &shown["exportable"]
        ),
        (
            &json!(128),
            &json!(31_536_000),
            &json!(315_360_000),
            &json!(true)
        ),
        "{out}"
    );

    // Periods are parsed strictly, before anything is sent; the policy stays.
    for (period, says) in [
        ("365", "no unit"),
        ("5w", "unknown unit"),
        ("1.5d", "not a period"),
        ("0d", "at least 1 second"),
    ] {
        let (ok, _, err) = cli(
            &f,
            &[
                "wallet",
                "policy",
                "set",
                "tapes",
                "--encryption-period",
                period,
            ],
        )
        .await;
        assert!(!ok && err.contains(says), "{period}: {err}");
    }
    let (ok, _, err) = cli(
        &f,
        &[
            "wallet",
            "policy",
            "set",
            "tapes",
            "--encryption-period",
            "10y",
            "--decryption-period",
            "1y",
        ],
    )
    .await;
    assert!(!ok && err.contains("--decryption-period"), "{err}");
    let (_, out, _) = cli(&f, &["--json", "wallet", "policy", "show", "tapes"]).await;
    assert_eq!(serde_json::from_str::<Value>(&out).ok(), Some(shown));

    // The pool, in its own table and in the node's status.
    let (ok, out, err) = cli(&f, &["pool", "status"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("KEY GROUP") && out.contains("tapes"), "{out}");
    let (ok, out, err) = cli(&f, &["status"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("key pools on this node") && out.contains("tapes"),
        "{out}"
    );

    // Data units.
    let (ok, out, err) = cli(&f, &["data-unit", "list"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("(0 data units)"), "{out}");
    let (ok, _, err) = cli(&f, &["data-unit", "list", "--limit", "0"]).await;
    assert!(
        !ok && err.contains("400 invalid_argument") && err.contains("limit"),
        "{err}"
    );
    let (ok, _, err) = cli(
        &f,
        &["data-unit", "show", "00000000-0000-7000-8000-000000000000"],
    )
    .await;
    assert!(!ok && err.contains("404 not_found"), "{err}");
    let (ok, _, err) = cli(&f, &["data-unit", "show", "../keys"]).await;
    assert!(!ok && err.contains("invalid data unit ID"), "{err}");

    // Removed.
    let (ok, out, err) = cli(&f, &["wallet", "policy", "remove", "tapes"]).await;
    assert!(ok && out.contains("no longer a key group"), "{out} {err}");
    let (ok, _, err) = cli(&f, &["wallet", "policy", "show", "tapes"]).await;
    assert!(!ok && err.contains("404 not_found"), "{err}");
}
