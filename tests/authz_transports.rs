//! Access control through every transport, against a live node in this process:
//! refusals must reach KMIP clients as Permission Denied and REST clients as 403, grants
//! and revocations must take effect at once on the node that made them, the address
//! allow-lists must hold for both listeners, and a locked account stays locked.
//!
//! The rules themselves are tabled in `authz_rules.rs`; this file checks that the
//! transports neither bypass nor distort them.

mod common;

use clavis::authz::{AccessLevel, Roles};
use clavis::client::ApiClient;
use clavis::kmip::enums::{
    cryptographic_algorithm as ca, name_type, object_type as ot, operation as op,
    result_reason as rr, result_status as rs,
};
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{Ttlv, Value};
use clavis::names::NameKind;
use clavis::service::wallets::GranteeKind;
use clavis::service::{KeyService, Principal};
use clavis::store::audit::AuditFilter;
use common::kmip_client::{tls_config, KmipClient};
use common::node::{client, enroll_endpoint, EndpointFiles, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use serde_json::{json, Value as Json};
use std::net::SocketAddr;
use std::time::Duration;

/// A node started in this process, with its API and KMIP listeners on loopback.
struct Live {
    node: clavis::node::RunningNode,
    ca_pem: String,
    admin_token: String,
    // Last, so the node's files outlive the node.
    _dir: NodeDir,
}

async fn live() -> Live {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    let admin_token = dir.init().await;
    let node = clavis::node::start(&dir.config())
        .await
        .expect("node starts");
    Live {
        ca_pem: dir.ca_pem(),
        node,
        admin_token,
        _dir: dir,
    }
}

impl Live {
    fn svc(&self) -> &KeyService {
        &self.node.service
    }

    fn kmip_addr(&self) -> SocketAddr {
        self.node.kmip_addr.expect("KMIP listener enabled")
    }

    async fn kmip(&self, ep: &EndpointFiles) -> KmipClient {
        KmipClient::connect(
            self.kmip_addr(),
            tls_config(&self.ca_pem, &ep.cert_pem, &ep.key_pem),
        )
        .await
    }

    fn api(&self, token: &str) -> ApiClient {
        client(&self.node.api_addr.to_string(), &self.ca_pem, token)
    }

    fn anonymous(&self) -> ApiClient {
        ApiClient::new(
            &format!("https://{}", self.node.api_addr),
            &self.ca_pem,
            None,
            None,
        )
        .expect("client")
    }
}

/// Builds fixtures in process: the node itself.
fn setup() -> Principal {
    Principal::system("setup")
}

/// Creates a user holding `roles` and returns it as a caller.
async fn new_user(svc: &KeyService, name: &str, roles: Roles) -> Principal {
    let u = svc
        .create_user(&setup(), name, None)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    for r in roles.iter() {
        svc.grant_role(&setup(), name, r, false)
            .await
            .expect("grant role");
    }
    Principal::user(u.name, u.id, None)
}

// =================================================================================
// KMIP messages

fn version() -> Ttlv {
    Ttlv::structure(
        t::PROTOCOL_VERSION,
        vec![
            Ttlv::int(t::PROTOCOL_VERSION_MAJOR, 1),
            Ttlv::int(t::PROTOCOL_VERSION_MINOR, 4),
        ],
    )
}

/// A KMIP 1.4 request message of one batch item.
fn request(operation: u32, payload: Vec<Ttlv>) -> Ttlv {
    Ttlv::structure(
        t::REQUEST_MESSAGE,
        vec![
            Ttlv::structure(
                t::REQUEST_HEADER,
                vec![version(), Ttlv::int(t::BATCH_COUNT, 1)],
            ),
            Ttlv::structure(
                t::BATCH_ITEM,
                vec![
                    Ttlv::enumeration(t::OPERATION, operation),
                    Ttlv::structure(t::REQUEST_PAYLOAD, payload),
                ],
            ),
        ],
    )
}

fn attribute(name: &str, mut value: Ttlv) -> Ttlv {
    value.tag = t::ATTRIBUTE_VALUE;
    Ttlv::structure(
        t::ATTRIBUTE,
        vec![Ttlv::text(t::ATTRIBUTE_NAME, name), value],
    )
}

fn name_attribute(name: &str) -> Ttlv {
    attribute(
        "Name",
        Ttlv::structure(
            0,
            vec![
                Ttlv::text(t::NAME_VALUE, name),
                Ttlv::enumeration(t::NAME_TYPE, name_type::UNINTERPRETED_TEXT_STRING),
            ],
        ),
    )
}

fn create_aes256(name: &str) -> Ttlv {
    request(
        op::CREATE,
        vec![
            Ttlv::enumeration(t::OBJECT_TYPE, ot::SYMMETRIC_KEY),
            Ttlv::structure(
                t::TEMPLATE_ATTRIBUTE,
                vec![
                    attribute("Cryptographic Algorithm", Ttlv::enumeration(0, ca::AES)),
                    attribute("Cryptographic Length", Ttlv::int(0, 256)),
                    attribute("Cryptographic Usage Mask", Ttlv::int(0, 4 | 8)),
                    name_attribute(name),
                ],
            ),
        ],
    )
}

fn by_id(operation: u32, id: &str) -> Ttlv {
    request(operation, vec![Ttlv::text(t::UNIQUE_IDENTIFIER, id)])
}

fn add_attribute(id: &str) -> Ttlv {
    request(
        op::ADD_ATTRIBUTE,
        vec![
            Ttlv::text(t::UNIQUE_IDENTIFIER, id),
            attribute("x-owner-note", Ttlv::text(0, "changed by someone else")),
        ],
    )
}

fn locate_all() -> Ttlv {
    request(op::LOCATE, vec![])
}

fn locate_by_name(name: &str) -> Ttlv {
    request(op::LOCATE, vec![name_attribute(name)])
}

/// The outcome of the one batch item of a response.
#[derive(Debug)]
struct Outcome {
    status: u32,
    reason: Option<u32>,
    message: Option<String>,
    payload: Option<Ttlv>,
}

impl Outcome {
    fn denied(&self) -> bool {
        self.status == rs::OPERATION_FAILED && self.reason == Some(rr::PERMISSION_DENIED)
    }

    fn ok(&self) -> bool {
        self.status == rs::SUCCESS
    }

    /// Unique Identifiers in the payload (Locate's answer, or Create's).
    fn ids(&self) -> Vec<String> {
        self.payload
            .iter()
            .flat_map(|p| p.children_with(t::UNIQUE_IDENTIFIER))
            .filter_map(|c| match &c.value {
                Value::TextString(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The key material bytes of a Get answer.
    fn key_bytes(&self) -> Option<Vec<u8>> {
        fn find(v: &Ttlv) -> Option<Vec<u8>> {
            match &v.value {
                Value::ByteString(b) if v.tag == t::KEY_MATERIAL => Some(b.clone()),
                Value::Structure(children) => children.iter().find_map(find),
                _ => None,
            }
        }
        self.payload.as_ref().and_then(find)
    }
}

async fn call(c: &mut KmipClient, req: &Ttlv) -> Outcome {
    let resp = c.send(req).await.expect("a KMIP response");
    let item = resp.child(t::BATCH_ITEM).expect("one batch item");
    let enum_of = |tag| match item.child(tag).map(|c| &c.value) {
        Some(Value::Enumeration(v)) => Some(*v),
        _ => None,
    };
    Outcome {
        status: enum_of(t::RESULT_STATUS).expect("Result Status"),
        reason: enum_of(t::RESULT_REASON),
        message: match item.child(t::RESULT_MESSAGE).map(|c| &c.value) {
            Some(Value::TextString(m)) => Some(m.clone()),
            _ => None,
        },
        payload: item.child(t::RESPONSE_PAYLOAD).cloned(),
    }
}

// =================================================================================
// KMIP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_endpoints_reach_only_what_they_own_or_are_granted() {
    let l = live().await;
    let svc = l.svc();
    let ep_a = enroll_endpoint(svc, "ep-a").await;
    let ep_b = enroll_endpoint(svc, "ep-b").await;
    let mut a = l.kmip(&ep_a).await;
    let mut b = l.kmip(&ep_b).await;

    // A creates a key; it is A's alone.
    let created = call(&mut a, &create_aes256("a-key")).await;
    assert!(created.ok(), "{created:?}");
    let id = created.ids().pop().expect("the new key's ID");
    let got = call(&mut a, &by_id(op::GET, &id)).await;
    assert_eq!(got.key_bytes().map(|k| k.len()), Some(32), "{got:?}");
    let found = call(&mut a, &locate_all()).await;
    assert_eq!(found.ids(), std::slice::from_ref(&id), "A locates its key");

    // B is refused everything, and finds nothing.
    for (what, req) in [
        ("Get", by_id(op::GET, &id)),
        ("Get Attributes", by_id(op::GET_ATTRIBUTES, &id)),
        ("Get Attribute List", by_id(op::GET_ATTRIBUTE_LIST, &id)),
        ("Add Attribute", add_attribute(&id)),
        ("Activate", by_id(op::ACTIVATE, &id)),
        ("Destroy", by_id(op::DESTROY, &id)),
    ] {
        let o = call(&mut b, &req).await;
        assert!(
            o.denied(),
            "an endpoint without access must get Permission Denied on {what}: {o:?}"
        );
        assert!(o.message.is_some(), "{what}: the refusal says why: {o:?}");
    }
    for (what, req) in [
        ("Locate", locate_all()),
        ("Locate by Name", locate_by_name("a-key")),
    ] {
        let o = call(&mut b, &req).await;
        assert!(o.ok(), "{what}: {o:?}");
        assert!(
            o.ids().is_empty(),
            "{what} must not return another endpoint's key: {o:?}"
        );
    }
    let meta = svc.get(&setup(), &id).await.expect("still there");
    assert_eq!(
        meta.state,
        clavis::keys::State::PreActive,
        "nothing changed"
    );
    assert!(
        !meta.attributes.custom.contains_key("x-owner-note"),
        "the refused Add Attribute changed nothing"
    );

    // A Key Administrator puts the key in a wallet and grants B's endpoint group Read
    // Only: on the same connection, B now reads it, and still cannot change it.
    let keyadm = new_user(svc, "keyadm", Roles::KEY_ADMIN).await;
    svc.create_wallet(&keyadm, "w_kmip", None)
        .await
        .expect("wallet");
    svc.add_to_wallet(&keyadm, "w_kmip", &id)
        .await
        .expect("add key");
    svc.create_group(&keyadm, NameKind::EndpointGroup, "eg-readers", None)
        .await
        .expect("group");
    svc.add_member(&keyadm, NameKind::EndpointGroup, "eg-readers", "EP-B")
        .await
        .expect("member");
    svc.grant_wallet(
        &keyadm,
        "w_kmip",
        GranteeKind::EndpointGroup,
        "eg-readers",
        AccessLevel::ReadOnly,
    )
    .await
    .expect("grant");
    let got = call(&mut b, &by_id(op::GET, &id)).await;
    assert_eq!(
        got.key_bytes().map(|k| k.len()),
        Some(32),
        "Read Only through the endpoint group: Get works: {got:?}"
    );
    let attrs = call(&mut b, &by_id(op::GET_ATTRIBUTES, &id)).await;
    assert!(attrs.ok(), "{attrs:?}");
    let found = call(&mut b, &locate_by_name("a-key")).await;
    assert_eq!(
        found.ids(),
        std::slice::from_ref(&id),
        "and Locate finds it"
    );
    for (what, req) in [
        ("Add Attribute", add_attribute(&id)),
        ("Activate", by_id(op::ACTIVATE, &id)),
        ("Destroy", by_id(op::DESTROY, &id)),
    ] {
        let o = call(&mut b, &req).await;
        assert!(o.denied(), "Read Only must not {what}: {o:?}");
    }
    // A fresh connection sees the same.
    let mut b2 = l.kmip(&ep_b).await;
    assert!(call(&mut b2, &by_id(op::GET, &id)).await.ok());

    // Revoking the grant takes effect at once on this node, on open connections too.
    svc.revoke_wallet(&keyadm, "w_kmip", GranteeKind::EndpointGroup, "eg-readers")
        .await
        .expect("revoke");
    for c in [&mut b, &mut b2] {
        let o = call(c, &by_id(op::GET, &id)).await;
        assert!(o.denied(), "after the revocation: {o:?}");
        let o = call(c, &locate_all()).await;
        assert!(o.ids().is_empty(), "after the revocation: {o:?}");
    }

    // The owner still does everything.
    assert!(call(&mut a, &add_attribute(&id)).await.ok());
    assert!(call(&mut a, &by_id(op::DESTROY, &id)).await.ok());

    // The refusals are in the audit trail, naming the endpoint, its address and the key.
    let recs = svc
        .audit_records(
            &setup(),
            AuditFilter {
                actor: Some("ep-b".into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
    for action in ["object.use", "object.read", "object.modify"] {
        assert!(
            recs.iter().any(|r| r.action == action
                && r.outcome == "denied"
                && r.actor_kind == "endpoint"
                && r.object.as_deref() == Some(id.as_str())
                && r.source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("127.0.0.1:"))),
            "a denied {action} by ep-b is audited: {recs:#?}"
        );
    }
    l.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_endpoint_allowlist_refuses_other_addresses() {
    let l = live().await;
    let svc = l.svc();
    let ep = enroll_endpoint(svc, "ep-a").await;
    let discover = request(op::DISCOVER_VERSIONS, vec![]);
    assert!(call(&mut l.kmip(&ep).await, &discover).await.ok());

    // Only 10.0.0.0/8 may connect: the loopback client is cut off before any answer.
    svc.set_setting(&setup(), "endpoint_allowlist", json!(["10.0.0.0/8"]))
        .await
        .expect("set allow-list");
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        // The TLS 1.3 client finishes its side of the handshake before the node looks at
        // the address, so the refusal shows as a closed connection on the first request.
        let tcp = tokio::net::TcpStream::connect(l.kmip_addr())
            .await
            .expect("TCP");
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        match tokio_rustls::TlsConnector::from(tls_config(&l.ca_pem, &ep.cert_pem, &ep.key_pem))
            .connect(name, tcp)
            .await
        {
            Err(_) => true,
            Ok(mut s) => {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let _ = s.write_all(&discover.encode()).await;
                let mut buf = [0u8; 8];
                s.read_exact(&mut buf).await.is_err()
            }
        }
    })
    .await
    .expect("the node must close the connection, not leave it hanging");
    assert!(
        refused,
        "a client outside the endpoint allow-list got an answer"
    );

    // The admin API is not affected by the endpoint list.
    let (st, _) = l
        .api(&l.admin_token)
        .request(Method::GET, "/v1/settings", None)
        .await
        .expect("request");
    assert_eq!(st, StatusCode::OK);

    // A list that includes loopback lets it in again, and so does an empty list.
    svc.set_setting(
        &setup(),
        "endpoint_allowlist",
        json!(["10.0.0.0/8", "127.0.0.0/8"]),
    )
    .await
    .expect("set allow-list");
    assert!(call(&mut l.kmip(&ep).await, &discover).await.ok());
    svc.set_setting(&setup(), "endpoint_allowlist", json!([]))
        .await
        .expect("clear allow-list");
    assert!(call(&mut l.kmip(&ep).await, &discover).await.ok());
    l.node.stop().await;
}

// =================================================================================
// REST

async fn rest(c: &mut ApiClient, m: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
    c.request(m, path, body.as_ref()).await.expect("request")
}

fn code(v: &Json) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

impl Live {
    async fn create_user(&self, name: &str, password: &str) {
        let (st, v) = rest(
            &mut self.api(&self.admin_token),
            Method::POST,
            "/v1/users",
            Some(json!({"name": name, "password": password})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }

    async fn try_login(&self, name: &str, password: &str) -> (StatusCode, Json) {
        rest(
            &mut self.anonymous(),
            Method::POST,
            "/v1/login",
            Some(json!({"name": name, "password": password})),
        )
        .await
    }

    async fn login(&self, name: &str, password: &str) -> ApiClient {
        let (st, v) = self.try_login(name, password).await;
        assert_eq!(st, StatusCode::OK, "login {name}: {v}");
        self.api(v["token"].as_str().expect("token"))
    }
}

const PW_ALICE: &str = "alice-pw-0123456789";
const PW_BOB: &str = "bob-pw-0123456789";
const PW_CARL: &str = "carl-pw-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_read_only_and_roleless_users_are_refused() {
    let l = live().await;
    l.create_user("alice", PW_ALICE).await;
    l.create_user("bob", PW_BOB).await;
    l.create_user("carl", PW_CARL).await;
    let mut alice = l.login("alice", PW_ALICE).await;
    let mut bob = l.login("bob", PW_BOB).await;
    let mut carl = l.login("carl", PW_CARL).await;

    // Alice's active key in Alice's wallet; Bob gets Read Only.
    let (st, k) = rest(
        &mut alice,
        Method::POST,
        "/v1/keys",
        Some(json!({"name": "k"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let id = k["id"].as_str().expect("id").to_owned();
    let (st, v) = rest(
        &mut alice,
        Method::POST,
        &format!("/v1/keys/{id}/activate"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for (path, body) in [
        ("/v1/wallets", json!({"name": "w_alice"})),
        ("/v1/wallets/w_alice/objects", json!({"object_id": id})),
        (
            "/v1/wallets/w_alice/grants",
            json!({"grantee_kind": "user", "grantee": "bob", "level": "read_only"}),
        ),
    ] {
        let (st, v) = rest(&mut alice, Method::POST, path, Some(body)).await;
        assert!(st.is_success(), "{path}: {v}");
    }

    // Bob reads ...
    let (st, v) = rest(&mut bob, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("active")),
        "{v}"
    );
    let (st, v) = rest(
        &mut bob,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // ... and cannot activate, revoke or destroy it, nor touch the wallet.
    for (m, path, body) in [
        (Method::POST, format!("/v1/keys/{id}/activate"), None),
        (
            Method::POST,
            format!("/v1/keys/{id}/revoke"),
            Some(json!({"reason": "key_compromise", "message": "bob says so"})),
        ),
        (Method::POST, format!("/v1/keys/{id}/destroy"), None),
        (
            Method::DELETE,
            format!("/v1/wallets/w_alice/objects/{id}"),
            None,
        ),
        (Method::DELETE, "/v1/wallets/w_alice".to_owned(), None),
        (
            Method::POST,
            "/v1/wallets/w_alice/grants".to_owned(),
            Some(json!({"grantee_kind": "user", "grantee": "carl", "level": "read_only"})),
        ),
    ] {
        let (st, v) = rest(&mut bob, m.clone(), &path, body).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "Read Only must not {m} {path}: {v}"
        );
    }
    let (st, v) = rest(&mut alice, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("active")),
        "nothing changed: {v}"
    );
    // Carl, without any grant, cannot even read it.
    for path in [format!("/v1/keys/{id}"), format!("/v1/keys/{id}/material")] {
        let (st, v) = rest(&mut carl, Method::GET, &path, None).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}: {v}"
        );
    }

    // A user without roles cannot create users or change settings.
    let (st, v) = rest(
        &mut carl,
        Method::POST,
        "/v1/users",
        Some(json!({"name": "mallory", "password": "mallory-pw-0123"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    for (name, value) in [
        ("lockout_secs", json!(1)),
        ("max_failed_logins", json!(100)),
        ("separation_of_roles", json!(false)),
        ("admin_allowlist", json!(["0.0.0.0/0"])),
    ] {
        let (st, v) = rest(
            &mut carl,
            Method::PUT,
            &format!("/v1/settings/{name}"),
            Some(json!({ "value": value })),
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{name}: {v}"
        );
    }
    for (path, body) in [
        ("/v1/users/carl/roles", json!({"role": "system_admin"})),
        (
            "/v1/users/carl/privileges",
            json!({"privilege": "create_endpoint"}),
        ),
    ] {
        let (st, v) = rest(&mut carl, Method::POST, path, Some(body)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    let s = l.svc().settings().await.expect("settings");
    assert_eq!(
        (s.lockout_secs, s.max_failed_logins, s.admin_allowlist.len()),
        (300, 3, 0),
        "the refused changes changed nothing"
    );

    // Every refusal is in the trail with the caller's address.
    let recs = l
        .svc()
        .audit_records(
            &setup(),
            AuditFilter {
                actor: Some("bob".into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
    let denied: Vec<_> = recs.iter().filter(|r| r.outcome == "denied").collect();
    assert!(
        denied.len() >= 6
            && denied.iter().all(|r| r
                .source
                .as_deref()
                .is_some_and(|s| s.starts_with("127.0.0.1"))),
        "{denied:#?}"
    );
    l.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_locked_account_stays_locked_until_the_lock_expires() {
    let l = live().await;
    l.create_user("carl", PW_CARL).await;
    let mut admin = l.api(&l.admin_token);
    let (st, v) = rest(
        &mut admin,
        Method::PUT,
        "/v1/settings/lockout_secs",
        Some(json!({"value": 3})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    for _ in 0..3 {
        let (st, v) = l.try_login("carl", "not-carls-password").await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNAUTHORIZED, "bad_credentials"),
            "{v}"
        );
    }
    let (st, v) = l.try_login("CARL", PW_CARL).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "account_locked"),
        "the right password does not open a locked account: {v}"
    );
    let (_, u) = rest(&mut admin, Method::GET, "/v1/users/carl", None).await;
    let until = u["locked_until"].as_i64().expect("locked_until");
    // The lock lasts 3 s from the whole second it began: 2 s at least remain now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (st, v) = l.try_login("carl", PW_CARL).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "account_locked"),
        "still locked a second later: {v}"
    );
    while clavis::keys::now_secs() <= until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut carl = l.login("carl", PW_CARL).await;
    let (st, v) = rest(&mut carl, Method::GET, "/v1/users/carl", None).await;
    assert_eq!(
        (st, v["locked_until"].clone()),
        (StatusCode::OK, Json::Null),
        "{v}"
    );
    l.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_admin_allowlist_refuses_other_addresses() {
    let l = live().await;
    let mut admin = l.api(&l.admin_token);

    // Including loopback keeps this client in.
    let (st, v) = rest(
        &mut admin,
        Method::PUT,
        "/v1/settings/admin_allowlist",
        Some(json!({"value": ["10.0.0.0/8", "127.0.0.0/8"]})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _) = rest(&mut admin, Method::GET, "/v1/settings", None).await;
    assert_eq!(st, StatusCode::OK);

    // A list that would refuse the administrator's own address is refused, and
    // changes nothing.
    let (st, v) = rest(
        &mut admin,
        Method::PUT,
        "/v1/settings/admin_allowlist",
        Some(json!({"value": ["10.0.0.0/8"]})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1"),
        "{v}"
    );
    let (st, v) = rest(&mut admin, Method::GET, "/v1/settings", None).await;
    assert_eq!(
        (st, v["admin_allowlist"].clone()),
        (StatusCode::OK, json!(["10.0.0.0/8", "127.0.0.0/8"])),
        "{v}"
    );

    // 10.0.0.0/8 alone (set from elsewhere: here, in process): every request from
    // loopback is refused before it is looked at, with or without credentials, login
    // included.
    l.svc()
        .set_setting(&setup(), "admin_allowlist", json!(["10.0.0.0/8"]))
        .await
        .expect("set from an allowed place");
    for (anonymous, m, path) in [
        (false, Method::GET, "/v1/settings"),
        (false, Method::GET, "/v1/keys"),
        (false, Method::PUT, "/v1/settings/admin_allowlist"),
        (true, Method::GET, "/v1/status"),
        (true, Method::POST, "/v1/login"),
    ] {
        let mut anon = l.anonymous();
        let c = if anonymous { &mut anon } else { &mut admin };
        let (st, v) = rest(c, m.clone(), path, Some(json!({"value": []}))).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "address_not_allowed"),
            "{m} {path}: {v}"
        );
    }
    // Load balancers still see the node's health.
    let (st, _) = rest(&mut l.anonymous(), Method::GET, "/healthz", None).await;
    assert_eq!(st, StatusCode::OK, "/healthz stays open");

    // Locked out over the network, access is restored in process (on a real node: by
    // the CLI on the node, or from an allowed address).
    l.svc()
        .set_setting(&setup(), "admin_allowlist", json!([]))
        .await
        .expect("restore");
    let (st, v) = rest(&mut admin, Method::GET, "/v1/settings", None).await;
    assert_eq!(
        (st, v["admin_allowlist"].clone()),
        (StatusCode::OK, json!([])),
        "{v}"
    );
    l.node.stop().await;
}
