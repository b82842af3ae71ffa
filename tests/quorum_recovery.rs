//! Quorum approval and recovery with the recovery passphrase, through the REST API of
//! a real node: M-of-N approval, expiry, rejection, who may vote; recreating the
//! administrators only when none is left; changing the passphrase; certificate login.

mod common;

use clavis::client::ApiClient;
use common::node::{client, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::Connection;

struct Fixture {
    dir: NodeDir,
    _node: clavis::node::RunningNode,
    addr: String,
    ca: String,
    admin: String,
    passphrase: String,
}

async fn fixture() -> Fixture {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    let out = clavis::node::init(&dir.config()).await.expect("init");
    let node = clavis::node::start(&dir.config()).await.expect("start");
    Fixture {
        addr: node.api_addr.to_string(),
        ca: dir.ca_pem(),
        admin: out.admin_token.expose_secret().to_owned(),
        passphrase: out.recovery_passphrase.expose_secret().to_owned(),
        _node: node,
        dir,
    }
}

impl Fixture {
    fn as_admin(&self) -> ApiClient {
        client(&self.addr, &self.ca, &self.admin)
    }

    fn anonymous(&self) -> ApiClient {
        ApiClient::new(&format!("https://{}", self.addr), &self.ca, None, None).expect("client")
    }

    async fn call(
        &self,
        c: &mut ApiClient,
        m: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        c.request(m, path, body.as_ref()).await.expect("request")
    }

    /// Creates a user with a password and returns a client logged in as them.
    async fn user(&self, name: &str) -> ApiClient {
        let mut a = self.as_admin();
        let (s, v) = self
            .call(
                &mut a,
                Method::POST,
                "/v1/users",
                Some(json!({"name": name, "password": format!("{name}-password-1")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        self.login(name, &format!("{name}-password-1")).await
    }

    async fn login(&self, name: &str, password: &str) -> ApiClient {
        let mut anon = self.anonymous();
        let (s, v) = self
            .call(
                &mut anon,
                Method::POST,
                "/v1/login",
                Some(json!({"name": name, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login {name}: {v}");
        client(&self.addr, &self.ca, v["token"].as_str().expect("token"))
    }

    async fn quorum(&self) -> Value {
        let mut a = self.as_admin();
        let (s, v) = self.call(&mut a, Method::GET, "/v1/quorum", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

fn set_quorum(members: &[&str], required: u32) -> Value {
    json!({"action": "set_quorum", "members": members, "required": required})
}

#[tokio::test]
async fn m_of_n_approval_runs_the_operation_once_and_only_members_vote() {
    let f = fixture().await;
    let mut alice = f.user("alice").await;
    let mut bob = f.user("bob").await;
    let mut carol = f.user("carol").await;
    let mut mallory = f.user("mallory").await;
    let mut admin = f.as_admin();

    // Nobody configured a quorum yet: the first one is set at once.
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice", "bob", "carol"], 2)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "executed");
    assert_eq!(
        f.quorum().await,
        json!({"members": ["alice", "bob", "carol"], "required": 2})
    );

    // A user without the System Administrator role may not ask.
    let (s, v) = f
        .call(
            &mut mallory,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice"], 1)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Now changing the quorum needs the quorum.
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice", "bob"], 1)),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["state"], "pending");
    let id = v["id"].as_str().expect("id").to_owned();
    let approve = format!("/v1/quorum/requests/{id}/approve");

    let (s, v) = f.call(&mut mallory, Method::POST, &approve, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a non-member's vote is refused: {v}"
    );
    let (s, v) = f.call(&mut admin, Method::POST, &approve, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the requester is not a member: {v}"
    );

    let (s, v) = f.call(&mut alice, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "pending", "one approval of two");
    assert_eq!(f.quorum().await["required"], 2, "nothing changed yet");
    let (s, v) = f.call(&mut alice, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "one vote per member: {v}");

    let (s, v) = f.call(&mut bob, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "executed", "{v}");
    assert_eq!(v["approvals"], json!(["alice", "bob"]));
    assert_eq!(
        f.quorum().await,
        json!({"members": ["alice", "bob"], "required": 1})
    );

    // Votes on a finished request are refused and change nothing; carol is no longer
    // a member at all.
    let (s, _) = f.call(&mut carol, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = f.call(&mut bob, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(f.quorum().await["required"], 1);

    // The whole history is in the audit trail.
    let (s, v) = f
        .call(
            &mut admin,
            Method::GET,
            &format!("/v1/quorum/requests/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["state"], "executed");
}

#[tokio::test]
async fn rejected_and_expired_requests_do_nothing() {
    let f = fixture().await;
    let mut alice = f.user("alice").await;
    let mut bob = f.user("bob").await;
    let _carol = f.user("carol").await;
    let mut admin = f.as_admin();
    let (s, _) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice", "bob", "carol"], 2)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Two rejections of three make two approvals impossible.
    let (_, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice"], 1)),
        )
        .await;
    let id = v["id"].as_str().expect("id").to_owned();
    let (_, v) = f
        .call(
            &mut alice,
            Method::POST,
            &format!("/v1/quorum/requests/{id}/reject"),
            None,
        )
        .await;
    assert_eq!(v["state"], "pending");
    let (_, v) = f
        .call(
            &mut bob,
            Method::POST,
            &format!("/v1/quorum/requests/{id}/reject"),
            None,
        )
        .await;
    assert_eq!(v["state"], "rejected", "{v}");
    assert_eq!(f.quorum().await["required"], 2);

    // A request past its deadline expires; approvals after it run nothing.
    let (_, v) = f
        .call(&mut admin, Method::POST, "/v1/quorum/requests", Some(json!({"action": "set_quorum", "members": ["bob"], "required": 1, "deadline_secs": 60})))
        .await;
    let id = v["id"].as_str().expect("id").to_owned();
    let (s, _) = f
        .call(
            &mut alice,
            Method::POST,
            &format!("/v1/quorum/requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let url = format!("sqlite://{}", f.dir.sqlite_path().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.expect("db");
    sqlx::query("UPDATE quorum_requests SET deadline = 1 WHERE id = $1")
        .bind(&id)
        .execute(&mut db)
        .await
        .expect("age the request");
    let (s, v) = f
        .call(
            &mut bob,
            Method::POST,
            &format!("/v1/quorum/requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{v}"
    );
    let (_, v) = f
        .call(
            &mut admin,
            Method::GET,
            &format!("/v1/quorum/requests/{id}"),
            None,
        )
        .await;
    assert_eq!(v["state"], "expired");
    assert_eq!(
        f.quorum().await,
        json!({"members": ["alice", "bob", "carol"], "required": 2})
    );

    // Bad requests are refused before anyone votes.
    for bad in [
        set_quorum(&["alice", "alice"], 1),
        set_quorum(&["alice"], 2),
        set_quorum(&["nobody"], 1),
        set_quorum(&[], 0),
    ] {
        let (s, v) = f
            .call(
                &mut admin,
                Method::POST,
                "/v1/quorum/requests",
                Some(bad.clone()),
            )
            .await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
            "{bad}: {s} {v}"
        );
    }
}

#[tokio::test]
async fn recovery_recreates_administrators_only_when_none_is_left() {
    let f = fixture().await;
    let mut anon = f.anonymous();
    let body = |passphrase: &str| {
        json!({"passphrase": passphrase, "administrators": [
            {"name": "sam", "password": "sam-password-1", "role": "system_admin"},
            {"name": "kim", "password": "kim-password-1", "role": "key_admin"},
            {"name": "ada", "password": "ada-password-1", "role": "audit_manager"},
        ]})
    };
    let (s, v) = f
        .call(
            &mut anon,
            Method::POST,
            "/v1/recovery/administrators",
            Some(body(&f.passphrase)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "administrators exist: {v}");

    // The only administrator gives up every role.
    let mut admin = f.as_admin();
    for role in ["system_admin", "key_admin", "audit_manager"] {
        let (s, v) = f
            .call(
                &mut admin,
                Method::DELETE,
                &format!("/v1/users/admin/roles/{role}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{role}: {v}");
    }
    let (s, _) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/users",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no administrator is left");

    let (s, v) = f
        .call(
            &mut anon,
            Method::POST,
            "/v1/recovery/administrators",
            Some(body("wrong-passphrase-words")),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = f
        .call(
            &mut anon,
            Method::POST,
            "/v1/recovery/administrators",
            Some(body(&f.passphrase)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["administrators"], json!(["sam", "kim", "ada"]));

    let mut sam = f.login("sam", "sam-password-1").await;
    let (s, v) = f.call(&mut sam, Method::GET, "/v1/whoami", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["roles"], json!(["system_admin"]));
    assert_eq!(v["forward_roles"], json!(["system_admin"]));
    let (s, _) = f
        .call(
            &mut sam,
            Method::POST,
            "/v1/users",
            Some(json!({"name": "newhire"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the recreated System Administrator manages users"
    );

    // Once administrators exist again, recovery is closed.
    let (s, _) = f
        .call(
            &mut anon,
            Method::POST,
            "/v1/recovery/administrators",
            Some(body(&f.passphrase)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Changing the passphrase needs the current one; afterwards only the new one works.
    let new = "a-new-recovery-passphrase-2026";
    let (s, _) = f
        .call(
            &mut sam,
            Method::POST,
            "/v1/recovery/passphrase",
            Some(json!({"current": "not-it-at-all-really", "new": new})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = f
        .call(
            &mut sam,
            Method::POST,
            "/v1/recovery/passphrase",
            Some(json!({"current": f.passphrase, "new": new})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = f
        .call(
            &mut sam,
            Method::POST,
            "/v1/recovery/passphrase",
            Some(json!({"current": f.passphrase, "new": "yet-another-passphrase"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the old passphrase no longer works"
    );
    let (s, v) = f
        .call(
            &mut sam,
            Method::POST,
            "/v1/recovery/passphrase",
            Some(json!({"current": new, "new": "short"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn a_user_logs_in_with_a_client_certificate() {
    let f = fixture().await;
    let mut admin = f.as_admin();
    let (s, _) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/users",
            Some(json!({"name": "dave"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/users/dave/certificate",
            Some(json!({"csr_pem": csr})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cert = v["certificate_pem"].as_str().expect("cert").to_owned();
    let key_der = clavis::tls::parse_private_key_pem(&key.serialize_pem()).expect("key");
    let mut dave = ApiClient::new(
        &format!("https://{}", f.addr),
        &f.ca,
        Some((cert.as_str(), &key_der)),
        None,
    )
    .expect("client");
    let (s, v) = f.call(&mut dave, Method::GET, "/v1/whoami", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "dave");
    let (s, _) = f
        .call(
            &mut dave,
            Method::POST,
            "/v1/users",
            Some(json!({"name": "eve"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "dave holds no role");

    // Without a token or a registered certificate: unauthenticated.
    let mut anon = f.anonymous();
    let (s, _) = f.call(&mut anon, Method::GET, "/v1/whoami", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Deleting the user ends certificate login.
    let (s, _) = f
        .call(&mut admin, Method::DELETE, "/v1/users/dave", None)
        .await;
    assert!(s.is_success());
    let (s, _) = f.call(&mut dave, Method::GET, "/v1/whoami", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Once a quorum is configured, inviting a node needs an approved `add_node` request,
/// redeemed once by the user who asked for it, for the name and site approved; the
/// join token goes only to that user's answer.
#[tokio::test]
async fn adding_a_node_needs_the_quorum_once_one_is_configured() {
    let f = fixture().await;
    let mut alice = f.user("alice").await;
    let mut bob = f.user("bob").await;
    let mut admin = f.as_admin();
    let add = |name: &str, approval: Option<&str>| json!({"name": name, "site": "dc2", "recovery_passphrase": f.passphrase, "approval": approval});

    // No quorum yet: the System Administrator and the passphrase are enough.
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n2", None)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(set_quorum(&["alice", "bob"], 2)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n3", None)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("quorum"), "{v}");

    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/quorum/requests",
            Some(json!({"action": "add_node", "name": "n3", "site": "dc2"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_str().expect("id").to_owned();

    // Pending: not redeemable.
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n3", Some(&id))),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let approve = format!("/v1/quorum/requests/{id}/approve");
    for member in [&mut alice, &mut bob] {
        let (s, v) = f.call(member, Method::POST, &approve, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    // Approved for n3 in dc2, not for another node.
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n4", Some(&id))),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let nodes_before = f.call(&mut admin, Method::GET, "/v1/cluster", None).await.1;
    assert!(
        !nodes_before.to_string().contains("\"n4\""),
        "nothing was added"
    );

    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n3", Some(&id))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["join_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("clvN_")));
    let token = v["join_token"].as_str().expect("token").to_owned();

    let (s, v) = f
        .call(
            &mut admin,
            Method::GET,
            &format!("/v1/quorum/requests/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["state"], "used", "{v}");
    assert!(
        !v.to_string().contains(&token),
        "the token is not in the request"
    );

    // Used once: a second invitation (after removing n3) needs a new approval.
    let n3 = f.call(&mut admin, Method::GET, "/v1/cluster", None).await.1["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == "n3")
        .and_then(|n| n["id"].as_str())
        .expect("n3 listed")
        .to_owned();
    let (s, v) = f
        .call(
            &mut admin,
            Method::DELETE,
            &format!("/v1/cluster/nodes/{n3}"),
            None,
        )
        .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = f
        .call(
            &mut admin,
            Method::POST,
            "/v1/cluster/nodes",
            Some(add("n3", Some(&id))),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v.to_string().contains("used already"), "{v}");
}
