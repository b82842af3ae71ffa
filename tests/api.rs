//! The REST API over TLS 1.3: the full lifecycle through HTTPS, clear errors for bad
//! input that change nothing, and refusal of peers without valid certificates.

mod common;

use clavis::client::{ApiClient, ClientError};
use clavis::rot::WrappedKey;
use clavis::tls::{issue, new_cluster_ca, CertRole};
use common::node::{client, NodeDir, SOFTWARE_ROT};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

struct Fixture {
    _dir: NodeDir,
    node: clavis::node::RunningNode,
    addr: String,
    ca: String,
    token: String,
}

async fn fixture() -> Fixture {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    let token = dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let addr = node.api_addr.to_string();
    let ca = dir.ca_pem();
    Fixture {
        _dir: dir,
        node,
        addr,
        ca,
        token,
    }
}

impl Fixture {
    fn client(&self) -> ApiClient {
        client(&self.addr, &self.ca, &self.token)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle_over_https() {
    let f = fixture().await;
    let mut c = f.client();
    let (st, k) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"name": "backup-2026", "length": 128})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    assert_eq!(k["state"], "pre_active");
    assert_eq!(k["algorithm"], "AES");
    assert_eq!(k["length"], 128);
    let id = k["id"].as_str().expect("id").to_owned();

    let (st, got) = call(&mut c, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got, k);
    let (st, m) = call(
        &mut c,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(m["material_b64"].as_str().expect("b64"))
        .expect("base64");
    assert_eq!(raw.len(), 16);
    let (_, m2) = call(
        &mut c,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!(m, m2, "material is stable");

    let (st, a) = call(
        &mut c,
        Method::POST,
        &format!("/v1/keys/{id}/activate"),
        None,
    )
    .await;
    assert_eq!((st, a["state"].as_str()), (StatusCode::OK, Some("active")));
    let (st, r) = call(
        &mut c,
        Method::POST,
        &format!("/v1/keys/{id}/revoke"),
        Some(json!({"reason": "superseded"})),
    )
    .await;
    assert_eq!(
        (st, r["state"].as_str()),
        (StatusCode::OK, Some("deactivated"))
    );
    let (st, d) = call(
        &mut c,
        Method::POST,
        &format!("/v1/keys/{id}/destroy"),
        None,
    )
    .await;
    assert_eq!(
        (st, d["state"].as_str()),
        (StatusCode::OK, Some("destroyed"))
    );
    let (st, gone) = call(
        &mut c,
        Method::GET,
        &format!("/v1/keys/{id}/material"),
        None,
    )
    .await;
    assert_eq!((st, code(&gone)), (StatusCode::GONE, "destroyed"));

    let (st, s) = call(
        &mut c,
        Method::POST,
        "/v1/secrets",
        Some(json!({"secret_b64": "aHVudGVyMg==", "name": "db"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{s}");
    assert_eq!(s["object_type"], "secret_data");
    let (_, list) = call(&mut c, Method::GET, "/v1/keys?type=secret_data", None).await;
    assert_eq!(list["objects"].as_array().map(Vec::len), Some(1));
    let (_, list) = call(
        &mut c,
        Method::GET,
        "/v1/keys?state=destroyed&limit=10",
        None,
    )
    .await;
    assert_eq!(list["objects"][0]["id"], id.as_str());

    let (st, status) = call(&mut c, Method::GET, "/v1/status", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(status["root_of_trust"], "software");
    assert_eq!(status["hsm_health"]["ok"], true);
    assert_eq!(status["store"], "sqlite");
    assert_eq!(status["objects"]["total"], 2);
    assert_eq!(status["objects"]["destroyed"], 1);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    f.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let f = fixture().await;
    let mut c = f.client();
    let (_, k) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"activate": true})),
    )
    .await;
    let id = k["id"].as_str().expect("id").to_owned();
    let (_, before) = call(&mut c, Method::GET, "/v1/status", None).await;

    // Authentication.
    let mut anon =
        ApiClient::new(&format!("https://{}", f.addr), &f.ca, None, None).expect("client");
    let (st, v) = call(&mut anon, Method::GET, "/v1/keys", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let mut wrong = client(
        &f.addr,
        &f.ca,
        "clv1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let (st, _) = call(&mut wrong, Method::POST, "/v1/keys", Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Bodies.
    let raw = |body: &'static [u8]| Bytes::from_static(body);
    let (st, v) = c
        .request_raw(Method::POST, "/v1/keys", raw(b"{\"length\": 256,"), true)
        .await
        .expect("req");
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_json"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"colour": "blue"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("colour"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"length": "big"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"length": 512})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid request: length"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/keys",
        Some(json!({"algorithm": "ROT13"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(100_000));
    let (st, v) = c
        .request_raw(Method::POST, "/v1/keys", Bytes::from(huge), true)
        .await
        .expect("req");
    assert_eq!(
        (st, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        "{v}"
    );
    let (st, v) = c
        .request_raw(Method::POST, "/v1/keys", raw(b"{}"), false)
        .await
        .expect("req");
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/secrets",
        Some(json!({"secret_b64": "%%%"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );

    // IDs, states, routes, queries.
    let (st, v) = call(
        &mut c,
        Method::GET,
        "/v1/keys/01900000-0000-7000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, v) = call(&mut c, Method::GET, "/v1/keys/not-an-id", None).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_id"));
    let (st, v) = call(
        &mut c,
        Method::POST,
        &format!("/v1/keys/{id}/destroy"),
        None,
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "illegal_state_transition")
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        &format!("/v1/keys/{id}/revoke"),
        Some(json!({"reason": "bored"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    let (st, v) = call(&mut c, Method::GET, "/v1/keys?state=sleepy", None).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_query"));
    let (st, v) = call(&mut c, Method::GET, "/v1/keys?limit=0", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    let (st, v) = call(&mut c, Method::GET, "/v1/nothing-here", None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "no_such_route"));

    let (_, after) = call(&mut c, Method::GET, "/v1/status", None).await;
    assert_eq!(
        before["objects"], after["objects"],
        "refused requests changed objects"
    );
    assert_eq!(
        before["change_log_seq"], after["change_log_seq"],
        "refused requests were logged as changes"
    );
    let (_, k2) = call(&mut c, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(k2["state"], "active");
    f.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_refuses_peers_without_valid_certificates() {
    let f = fixture().await;
    let url = format!("https://{}", f.addr);

    // A client that trusts another CA refuses the node.
    let other_ca = new_cluster_ca("elsewhere").expect("ca");
    let mut c =
        ApiClient::new(&url, &other_ca.cert_pem, None, Some(f.token.clone())).expect("client");
    let err = c.request(Method::GET, "/v1/status", None).await;
    assert!(matches!(err, Err(ClientError::Tls { .. })), "{err:?}");

    // A client certificate from a foreign CA is refused by the node.
    let foreign = issue(
        &other_ca.cert_pem,
        &other_ca.key_pkcs8,
        &["intruder".into()],
        CertRole::Client,
    )
    .expect("cert");
    let mut c = ApiClient::new(
        &url,
        &f.ca,
        Some((&foreign.cert_pem, &foreign.key_pkcs8)),
        Some(f.token.clone()),
    )
    .expect("client");
    assert!(
        c.request(Method::GET, "/v1/status", None).await.is_err(),
        "foreign client certificate accepted"
    );

    // A certificate issued by the cluster CA is accepted.
    let svc = &f.node.service;
    let ca_cred = svc
        .store()
        .credential("cluster-ca")
        .await
        .expect("db")
        .expect("ca credential");
    let ca_key = svc
        .rot()
        .unwrap(
            &WrappedKey::from_bytes(&ca_cred.wrapped_key).expect("envelope"),
            "cluster-ca",
        )
        .expect("unwrap CA key");
    let good = issue(
        &ca_cred.cert_pem,
        &ca_key,
        &["admin-laptop".into()],
        CertRole::Client,
    )
    .expect("cert");
    let mut c = ApiClient::new(
        &url,
        &f.ca,
        Some((&good.cert_pem, &good.key_pkcs8)),
        Some(f.token.clone()),
    )
    .expect("client");
    let (st, _) = c
        .request(Method::GET, "/v1/status", None)
        .await
        .expect("valid client cert works");
    assert_eq!(st, StatusCode::OK);

    // TLS 1.2 is not offered on the admin API.
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        for cert in clavis::tls::parse_certs(&f.ca).expect("ca") {
            r.add(cert).expect("root");
        }
        r
    };
    let tls12 = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&f.addr).await.expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let res = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls12))
        .connect(name, tcp)
        .await;
    assert!(res.is_err(), "TLS 1.2 handshake succeeded");

    // Plain HTTP gets no HTTP answer.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(&f.addr).await.expect("tcp");
    tcp.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(!buf.starts_with(b"HTTP/"), "plain HTTP was answered");
    f.node.stop().await;
}

/// The sample value of one metrics line whose name and labels are exactly `series`.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_page_counts_requests_and_reports_objects() {
    let f = fixture().await;
    let mut c = f.client();
    for _ in 0..3 {
        let (st, _) = call(
            &mut c,
            Method::POST,
            "/v1/keys",
            Some(json!({"activate": true})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let (st, _) = call(&mut c, Method::GET, "/v1/keys/no-such-key", None).await;
    assert!(st.is_client_error(), "{st}");

    let mut page = Vec::new();
    let (st, _, _) = c.download("/v1/metrics", &mut page).await.expect("metrics");
    assert_eq!(st, StatusCode::OK);
    let page = String::from_utf8(page).expect("utf-8");

    let ok = sample(
        &page,
        r#"clavis_requests_total{interface="rest",outcome="ok"}"#,
    );
    assert!(ok.is_some_and(|n| n >= 3.0), "rest ok: {ok:?}\n{page}");
    let refused = sample(
        &page,
        r#"clavis_requests_total{interface="rest",outcome="client_error"}"#,
    );
    assert_eq!(refused, Some(1.0), "the refused get is a client error");
    assert_eq!(
        sample(&page, r#"clavis_objects{state="active"}"#),
        Some(3.0)
    );
    assert_eq!(sample(&page, "clavis_root_of_trust_up"), Some(1.0));
    // Every request is in the histogram's +Inf bucket, and its count agrees.
    let inf = sample(
        &page,
        r#"clavis_request_duration_seconds_bucket{interface="rest",le="+Inf"}"#,
    );
    let count = sample(
        &page,
        r#"clavis_request_duration_seconds_count{interface="rest"}"#,
    );
    assert!(inf.is_some_and(|n| n >= 4.0), "{inf:?}");
    assert_eq!(inf, count);

    // Like status, the page needs an authenticated caller.
    let mut anon = client(&f.addr, &f.ca, "not-a-token");
    let (st, _) = call(&mut anon, Method::GET, "/v1/metrics", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}
