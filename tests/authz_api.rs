//! Access control through the REST API and the CLI, against a real node over TLS:
//! users log in with passwords and are held to their roles, privileges and wallet
//! grants (SPEC 5.1–5.5).

mod common;

use clavis::client::ApiClient;
use common::node::{client, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

struct Fixture {
    dir: NodeDir,
    _node: clavis::node::RunningNode,
    addr: String,
    ca: String,
    admin_token: String,
}

async fn fixture() -> Fixture {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    let admin_token = dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let addr = node.api_addr.to_string();
    let ca = dir.ca_pem();
    Fixture {
        dir,
        _node: node,
        addr,
        ca,
        admin_token,
    }
}

impl Fixture {
    fn admin(&self) -> ApiClient {
        client(&self.addr, &self.ca, &self.admin_token)
    }

    fn anonymous(&self) -> ApiClient {
        ApiClient::new(&format!("https://{}", self.addr), &self.ca, None, None).expect("client")
    }

    /// Creates a user with `password` as the initial administrator.
    async fn create_user(&self, name: &str, password: &str) -> Value {
        let (st, v) = call(
            &mut self.admin(),
            Method::POST,
            "/v1/users",
            Some(json!({"name": name, "password": password})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "create user {name}: {v}");
        v
    }

    /// Logs in through `POST /v1/login`; a client carrying the session token.
    async fn login(&self, name: &str, password: &str) -> ApiClient {
        let (st, v) = self.try_login(name, password).await;
        assert_eq!(st, StatusCode::OK, "login {name}: {v}");
        let token = v["token"].as_str().expect("token");
        assert!(v["expires_at"].is_i64(), "{v}");
        client(&self.addr, &self.ca, token)
    }

    async fn try_login(&self, name: &str, password: &str) -> (StatusCode, Value) {
        call(
            &mut self.anonymous(),
            Method::POST,
            "/v1/login",
            Some(json!({"name": name, "password": password})),
        )
        .await
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

const PW_ALICE: &str = "alice-pw-0123456789";
const PW_BOB: &str = "bob-pw-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_names_and_roles_over_rest() {
    let f = fixture().await;
    let mut admin = f.admin();

    // Creating a user answers with the account, never the password.
    let secret = "psmith-secret-0123";
    let (st, u) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "psmith", "password": secret})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    assert_eq!(u["name"], "psmith");
    assert_eq!(u["has_password"], true);
    assert_eq!(u["roles"], json!([]));
    assert!(!u.to_string().contains(secret), "password echoed: {u}");

    // SPEC 5.5: user names are case-insensitive.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "PSMITH", "password": "another-pw-0123"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "already_exists"),
        "{v}"
    );
    let (st, v) = call(&mut admin, Method::GET, "/v1/users/PSmith", None).await;
    assert_eq!((st, v["name"].as_str()), (StatusCode::OK, Some("psmith")));

    // SPEC 5.5: 121 bytes is one too many, and the message names the rule.
    let long = "u".repeat(121);
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": long})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument"),
        "{v}"
    );
    assert!(
        message(&v).contains("user names use letters, digits and `_`, 1 to 120 bytes"),
        "{v}"
    );
    let (st, _) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "u".repeat(120)})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "120 bytes is allowed");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "p.smith"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(message(&v).contains("user name"), "{v}");

    // Bodies are strict; passwords have a minimum length.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "x", "pasword": "typo-in-field"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert!(message(&v).contains("pasword"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "shorty", "password": "short"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(!v.to_string().contains("\"short\""), "password echoed: {v}");

    // A user without roles cannot create users (SPEC 5.2: System Administrators do).
    let mut ps = f.login("PSMITH", secret).await;
    let (st, v) = call(
        &mut ps,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "mallory", "password": "mallory-pw-0123"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    assert!(message(&v).contains("System Administrator"), "{v}");
    let (st, v) = call(&mut ps, Method::DELETE, "/v1/users/admin", None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(&mut admin, Method::GET, "/v1/users/mallory", None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Roles: a role granted without forward grant cannot be passed on (SPEC 5.2).
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/psmith/roles",
        Some(json!({"role": "key_admin"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["roles"], json!(["key_admin"]));
    assert_eq!(v["forward_roles"], json!([]));
    f.create_user("bob", PW_BOB).await;
    let (st, v) = call(
        &mut ps,
        Method::POST,
        "/v1/users/bob/roles",
        Some(json!({"role": "key_admin"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    assert!(message(&v).contains("forward grant"), "{v}");
    // ... with forward grant it can.
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/psmith/roles",
        Some(json!({"role": "key_admin", "forward_grant": true})),
    )
    .await;
    assert_eq!(
        (st, v["forward_roles"].clone()),
        (StatusCode::OK, json!(["key_admin"])),
        "{v}"
    );
    let (st, v) = call(
        &mut ps,
        Method::POST,
        "/v1/users/bob/roles",
        Some(json!({"role": "key_admin"})),
    )
    .await;
    assert_eq!(
        (st, v["roles"].clone()),
        (StatusCode::OK, json!(["key_admin"])),
        "{v}"
    );
    let (st, v) = call(
        &mut ps,
        Method::DELETE,
        "/v1/users/bob/roles/key_admin",
        None,
    )
    .await;
    assert_eq!((st, v["roles"].clone()), (StatusCode::OK, json!([])), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/bob/roles",
        Some(json!({"role": "emperor"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        message(&v).contains("system_admin, key_admin, audit_manager"),
        "{v}"
    );

    // Privileges: only System Administrators grant Create Endpoint (SPEC 5.3), and
    // nobody revokes their own.
    let (st, v) = call(
        &mut ps,
        Method::POST,
        "/v1/users/bob/privileges",
        Some(json!({"privilege": "create_endpoint"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/psmith/privileges",
        Some(json!({"privilege": "create_endpoint"})),
    )
    .await;
    assert_eq!(
        (st, v["privileges"].clone()),
        (StatusCode::OK, json!(["create_endpoint"])),
        "{v}"
    );
    let (st, v) = call(
        &mut ps,
        Method::DELETE,
        "/v1/users/psmith/privileges/create_endpoint",
        None,
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    assert!(message(&v).contains("their own"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::DELETE,
        "/v1/users/psmith/privileges/create_endpoint",
        None,
    )
    .await;
    assert_eq!(
        (st, v["privileges"].clone()),
        (StatusCode::OK, json!([])),
        "{v}"
    );

    // Manage Endpoint Group on one group, granted and revoked by a Key Administrator.
    let (st, g) = call(
        &mut admin,
        Method::POST,
        "/v1/endpoint-groups",
        Some(json!({"name": "Tape-Libs"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().expect("group id").to_owned();
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/bob/manage",
        Some(json!({"target": "endpoint_group", "name": "tape-libs"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["managed_endpoint_groups"],
        json!(["Tape-Libs"]),
        "by name (group {gid})"
    );
    let (st, v) = call(
        &mut admin,
        Method::DELETE,
        "/v1/users/bob/manage/endpoint_group/Tape-Libs",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["managed_endpoint_groups"], json!([]));
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/bob/manage",
        Some(json!({"target": "endpoint", "name": "no-such-endpoint"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/bob/manage",
        Some(json!({"target": "galaxy", "name": "x"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );

    // Listing and deleting.
    let (st, v) = call(&mut ps, Method::GET, "/v1/users?limit=2", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["users"].as_array().map(Vec::len), Some(2), "{v}");
    let (st, v) = call(&mut admin, Method::GET, "/v1/users?limit=0", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let (st, v) = call(&mut admin, Method::GET, "/v1/users?color=red", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_query"),
        "{v}"
    );
    let (st, v) = call(&mut admin, Method::DELETE, "/v1/users/bob", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut admin, Method::GET, "/v1/users/bob", None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (st, v) = f.try_login("bob", PW_BOB).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_credentials"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_grants_decide_what_users_may_do() {
    let f = fixture().await;
    let mut admin = f.admin();
    f.create_user("alice", PW_ALICE).await;
    f.create_user("bob", PW_BOB).await;
    let mut alice = f.login("alice", PW_ALICE).await;
    let mut bob = f.login("bob", PW_BOB).await;

    // Alice (no roles) creates a key and a wallet, and puts the key in it.
    let (st, k) = call(
        &mut alice,
        Method::POST,
        "/v1/keys",
        Some(json!({"name": "hr-key"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let id = k["id"].as_str().expect("id").to_owned();
    let (st, w) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets",
        Some(json!({"name": "wallet_hr", "description": "HR keys"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{w}");
    assert_eq!(w["my_access"], "manage_wallet", "the creator manages it");
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets/wallet_hr/objects",
        Some(json!({"object_id": id})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");

    // Bob sees nothing of it yet.
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(&mut bob, Method::GET, "/v1/wallets", None).await;
    assert_eq!((st, v["wallets"].clone()), (StatusCode::OK, json!([])));

    // SPEC 5.4: Read Only lets Bob read, not modify.
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets/wallet_hr/grants",
        Some(json!({"grantee_kind": "user", "grantee": "BOB", "level": "read_only"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = call(
        &mut bob,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for path in ["activate", "destroy"] {
        let (st, v) = call(
            &mut bob,
            Method::POST,
            &format!("/v1/keys/{id}/{path}"),
            None,
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}: {v}"
        );
    }
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("pre_active")),
        "the refused requests changed nothing"
    );
    // ... nor manage the wallet, nor grant access to it.
    let (st, v) = call(&mut bob, Method::DELETE, "/v1/wallets/wallet_hr", None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut bob,
        Method::POST,
        "/v1/wallets/wallet_hr/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "read_modify"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(&mut bob, Method::GET, "/v1/wallets/wallet_hr", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["my_access"], "read_only");
    assert_eq!(v["objects"], json!([id]));
    let mut grants = v["grants"].as_array().cloned().unwrap_or_default();
    grants.sort_by_key(|g| g["grantee"].to_string());
    assert_eq!(
        grants,
        [
            json!({"grantee_kind": "user", "grantee": "alice", "level": "manage_wallet"}),
            json!({"grantee_kind": "user", "grantee": "bob", "level": "read_only"})
        ]
    );

    // Read and Modify lets Bob activate it.
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets/wallet_hr/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "read_modify"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(
        &mut bob,
        Method::POST,
        &format!("/v1/keys/{id}/activate"),
        None,
    )
    .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("active")),
        "{v}"
    );

    // Revoked: back to nothing.
    let (st, v) = call(
        &mut alice,
        Method::DELETE,
        "/v1/wallets/wallet_hr/grants/user/bob",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");

    // A user group grant reaches its members (SPEC 5.4: the union of grants).
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/user-groups",
        Some(json!({"name": "HR-Staff"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/user-groups/hr-staff/members",
        Some(json!({"name": "Bob"})),
    )
    .await;
    assert_eq!((st, v["members"].clone()), (StatusCode::OK, json!(["bob"])));
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets/wallet_hr/grants",
        Some(json!({"grantee_kind": "user_group", "grantee": "HR-Staff", "level": "read_only"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(st, StatusCode::OK, "through the group: {v}");
    let (st, v) = call(
        &mut admin,
        Method::DELETE,
        "/v1/user-groups/hr-staff/members/bob",
        None,
    )
    .await;
    assert_eq!((st, v["members"].clone()), (StatusCode::OK, json!([])));
    let (st, v) = call(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");

    // SPEC 5.5: wallet names are case-sensitive; a 121-byte name is refused.
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets",
        Some(json!({"name": "WALLET_HR"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "a second wallet: {v}");
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets",
        Some(json!({"name": "wallet_hr"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "already_exists"),
        "{v}"
    );
    // Wallet names are case-sensitive: Wallet_HR is another wallet, and one alice
    // cannot see (none exists, and she is not told which).
    let (st, v) = call(&mut alice, Method::GET, "/v1/wallets/Wallet_HR", None).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets",
        Some(json!({"name": "w".repeat(121)})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        message(&v)
            .contains("wallet name: names use letters, digits, `_`, `.` and `-`, 1 to 120 bytes"),
        "{v}"
    );
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/wallets/wallet_hr/grants",
        Some(json!({"grantee_kind": "user", "grantee": "bob", "level": "owner"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(message(&v).contains("read_only, read_modify, manage_wallet"));
    let (st, v) = call(
        &mut alice,
        Method::DELETE,
        "/v1/wallets/wallet_hr/grants/robot/bob",
        None,
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );

    // Removing the object and deleting the wallet.
    let (st, v) = call(
        &mut alice,
        Method::DELETE,
        &format!("/v1/wallets/wallet_hr/objects/{id}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut alice, Method::DELETE, "/v1/wallets/wallet_hr", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut alice, Method::GET, "/v1/wallets", None).await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = v["wallets"]
        .as_array()
        .expect("wallets")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["WALLET_HR"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_lockout_groups_and_settings() {
    let f = fixture().await;
    let mut admin = f.admin();
    f.create_user("alice", PW_ALICE).await;

    // Three wrong passwords lock the account; then even the right one is refused.
    for _ in 0..3 {
        let (st, v) = f.try_login("alice", "wrong-password-000").await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNAUTHORIZED, "bad_credentials"),
            "{v}"
        );
    }
    let (st, v) = f.try_login("alice", PW_ALICE).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "account_locked"),
        "{v}"
    );
    let (st, v) = call(&mut admin, Method::GET, "/v1/users/alice", None).await;
    assert!(st == StatusCode::OK && v["locked_until"].is_i64(), "{v}");
    let (st, v) = call(&mut admin, Method::POST, "/v1/users/alice/unlock", None).await;
    assert_eq!(
        (st, v["locked_until"].clone()),
        (StatusCode::OK, Value::Null),
        "{v}"
    );
    let mut alice = f.login("alice", PW_ALICE).await;

    // Changing one's own password needs the current one.
    let new_pw = "alice-new-pw-98765";
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/users/alice/password",
        Some(json!({"new": new_pw})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_credentials"),
        "{v}"
    );
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/users/alice/password",
        Some(json!({"current": PW_ALICE, "new": new_pw})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, _) = f.try_login("alice", PW_ALICE).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let mut alice = f.login("alice", new_pw).await;
    // ... and nobody else's without the System Administrator role.
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/users/admin/password",
        Some(json!({"new": "taken-over-0123"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");

    // Groups: user groups are the System Administrator's, endpoint groups need the Key
    // Administrator role or the Create Endpoint Group privilege.
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/user-groups",
        Some(json!({"name": "ops"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/endpoint-groups",
        Some(json!({"name": "libs"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/users/alice/privileges",
        Some(json!({"privilege": "create_endpoint_group"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, g) = call(
        &mut alice,
        Method::POST,
        "/v1/endpoint-groups",
        Some(json!({"name": "libs", "description": "tape libraries"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["kind"], "endpoint");
    assert_eq!(
        g["managers"],
        json!(["alice"]),
        "SPEC 5.3: the creator manages it"
    );
    let (st, v) = call(&mut alice, Method::GET, "/v1/endpoint-groups", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["groups"][0]["name"], "libs");
    let (st, v) = call(&mut alice, Method::GET, "/v1/endpoint-groups/LIBS", None).await;
    assert_eq!((st, v["name"].as_str()), (StatusCode::OK, Some("libs")));
    let (st, v) = call(
        &mut admin,
        Method::POST,
        "/v1/endpoint-groups",
        Some(json!({"name": "LIBS"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "already_exists"),
        "{v}"
    );
    let (st, v) = call(
        &mut alice,
        Method::POST,
        "/v1/endpoint-groups/libs/members",
        Some(json!({"name": "no-such-endpoint"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (st, v) = call(&mut alice, Method::DELETE, "/v1/endpoint-groups/libs", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = call(&mut alice, Method::GET, "/v1/endpoint-groups/libs", None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    // Settings: anyone reads them; System Administrators change them.
    let (st, v) = call(&mut alice, Method::GET, "/v1/settings", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["max_failed_logins"], 3);
    assert_eq!(v["separation_of_roles"], false);
    let (st, v) = call(
        &mut alice,
        Method::PUT,
        "/v1/settings/max_failed_logins",
        Some(json!({"value": 5})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/settings/max_failed_logins",
        Some(json!({"value": 5})),
    )
    .await;
    assert_eq!(
        (st, v["max_failed_logins"].clone()),
        (StatusCode::OK, json!(5)),
        "{v}"
    );
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/settings/max_failed_logins",
        Some(json!({"value": "lots"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(message(&v).contains("max_failed_logins: 1 to 100"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/settings/favourite_colour",
        Some(json!({"value": "blue"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(message(&v).contains("separation_of_roles"), "{v}");
    // The initial administrator holds all three roles: separation cannot be turned on
    // until that is undone, and the message names who holds too many.
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/settings/separation_of_roles",
        Some(json!({"value": true})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(message(&v).contains("admin"), "{v}");
    let (st, v) = call(
        &mut admin,
        Method::PUT,
        "/v1/settings/max_failed_logins",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{v}"
    );
}

// ---- CLI ----

fn run_cli(args: Vec<String>, env: Vec<(String, String)>, stdin: Option<String>) -> Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clavis"));
    cmd.args(args)
        .env_remove("CLAVIS_TOKEN")
        .env_remove("CLAVIS_TOKEN_FILE")
        .env_remove("CLAVIS_SERVER")
        .env_remove("CLAVIS_CA")
        .env_remove("CLAVIS_PASSWORD")
        .env_remove("CLAVIS_CURRENT_PASSWORD")
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run clavis");
    if let Some(mut input) = child.stdin.take() {
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("stdin");
        }
    }
    let out = child.wait_with_output().expect("clavis output");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

struct Cli {
    server: String,
    ca: String,
    token: String,
}

impl Cli {
    async fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut all = vec![
            "--server".to_owned(),
            self.server.clone(),
            "--ca".to_owned(),
            self.ca.clone(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("CLAVIS_TOKEN".into(), self.token.clone()));
        let stdin = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || run_cli(all, env, stdin))
            .await
            .expect("join")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, &[], None).await;
        assert!(out.ok, "clavis {args:?} failed: {}", out.stderr);
        out.stdout
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_smoke() {
    let f = fixture().await;
    let cli = Cli {
        server: format!("https://{}", f.addr),
        ca: f
            .dir
            .data_dir()
            .join("ca.pem")
            .to_str()
            .expect("utf-8 path")
            .to_owned(),
        token: f.admin_token.clone(),
    };

    // A password from standard input; never an argument, never printed.
    let pw = "carol-pw-0123456789";
    let out = cli
        .run(
            &["user", "create", "carol", "--password-stdin"],
            &[],
            Some(&format!("{pw}\n")),
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("created user carol"), "{}", out.stdout);
    assert!(!out.stdout.contains(pw) && !out.stderr.contains(pw));
    f.login("carol", pw).await;
    // ... or from CLAVIS_PASSWORD.
    let out = cli
        .run(
            &["user", "create", "dave"],
            &[("CLAVIS_PASSWORD", "dave-pw-0123456789")],
            None,
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    f.login("dave", "dave-pw-0123456789").await;
    // An empty standard input is an error, not an empty password.
    let out = cli
        .run(
            &["user", "create", "erin", "--password-stdin"],
            &[],
            Some(""),
        )
        .await;
    assert!(!out.ok && out.stderr.contains("no password on standard input"));

    let out = cli
        .ok(&[
            "user",
            "grant-role",
            "carol",
            "key_admin",
            "--forward-grant",
        ])
        .await;
    assert!(out.contains("key_admin+forward"), "{out}");
    let out = cli.ok(&["--json", "user", "get", "CAROL"]).await;
    let v: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(v["roles"], json!(["key_admin"]));
    let out = cli.ok(&["user", "list"]).await;
    assert!(
        out.contains("carol") && out.contains("dave") && out.contains("(3 users)"),
        "{out}"
    );

    cli.ok(&["wallet", "create", "tapes", "--description", "LTO keys"])
        .await;
    let out = cli
        .ok(&["wallet", "grant", "tapes", "dave", "--level", "read_only"])
        .await;
    assert!(
        out.contains("granted read_only on wallet tapes to user dave"),
        "{out}"
    );
    let out = cli.ok(&["wallet", "get", "tapes"]).await;
    assert!(out.contains("dave") && out.contains("read_only"), "{out}");
    let out = cli.run(&["wallet", "get", "TAPES"], &[], None).await;
    assert!(
        !out.ok && out.stderr.contains("404 not_found"),
        "{}",
        out.stderr
    );

    cli.ok(&["group", "create", "--kind", "user", "ops"]).await;
    let out = cli
        .ok(&["group", "add-member", "--kind", "user", "ops", "dave"])
        .await;
    assert!(out.contains("members     dave"), "{out}");

    let out = cli.ok(&["settings", "set", "lockout_secs", "600"]).await;
    assert!(out.contains("lockout_secs"), "{out}");
    let out = cli.ok(&["--json", "settings", "get"]).await;
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["lockout_secs"], 600);
    let out = cli
        .run(&["settings", "set", "lockout_secs", "ten"], &[], None)
        .await;
    assert!(
        !out.ok && out.stderr.contains("VALUE must be JSON"),
        "{}",
        out.stderr
    );

    // A 121-byte name is refused before anything is sent, naming the rule.
    let long = "x".repeat(121);
    let out = cli.run(&["user", "get", &long], &[], None).await;
    assert!(
        !out.ok && out.stderr.contains("1 to 120 bytes"),
        "{}",
        out.stderr
    );

    let out = cli.ok(&["user", "delete", "dave"]).await;
    assert!(out.contains("deleted user dave"), "{out}");
}
