//! Endpoint registration and enrollment (SPEC 4.1): one-time tokens, certificates issued
//! by the cluster CA over the endpoint's own key, suspend/resume/delete, names, the REST
//! routes and the `clavis endpoint` CLI. Service and store parts run on SQLite and on
//! PostgreSQL.

mod common;

use clavis::client::ApiClient;
use clavis::names::OBJECT_NAME_RULE;
use clavis::secret::KeyMaterial;
use clavis::service::{Principal, PrincipalKind, ServiceError};
use clavis::store::{ChangeOp, EndpointFilter, EndpointRecord, EndpointState, Store, StoreError};
use common::node::{client, contains, NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use rcgen::{KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, UnixTime};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use x509_parser::prelude::FromDer;

fn admin() -> Principal {
    Principal::system("admin")
}

fn now() -> i64 {
    clavis::keys::now_secs()
}

/// A node on SQLite or a fresh PostgreSQL database, started in this process.
struct Setup {
    dir: NodeDir,
    node: clavis::node::RunningNode,
    admin_token: String,
}

impl Setup {
    async fn new(postgres: bool) -> Setup {
        let url = if postgres {
            Some(common::pg::fresh_database().await)
        } else {
            None
        };
        let dir = NodeDir::new(url.as_deref(), SOFTWARE_ROT);
        let admin_token = dir.init().await;
        let node = clavis::node::start(&dir.config()).await.expect("start");
        Setup {
            dir,
            node,
            admin_token,
        }
    }

    fn svc(&self) -> &clavis::service::KeyService {
        &self.node.service
    }

    fn store(&self) -> &Store {
        self.node.service.store()
    }

    fn addr(&self) -> String {
        self.node.api_addr.to_string()
    }

    async fn register(&self, name: &str) -> SecretString {
        let (_, t) = self
            .svc()
            .register_endpoint(&admin(), name, "kmip", Some("dc-east"), None)
            .await
            .expect("register");
        t.token
    }

    async fn record(&self, name: &str) -> EndpointRecord {
        self.store()
            .endpoint_by_name(name)
            .await
            .expect("db")
            .expect("endpoint exists")
    }

    async fn stop(self) {
        self.node.stop().await;
    }
}

/// A key pair made "on the endpoint" and a CSR for it.
fn csr_for(alg: &'static rcgen::SignatureAlgorithm) -> (KeyPair, String) {
    let key = KeyPair::generate_for(alg).expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "whatever-the-endpoint-asks");
    // A requested CA flag and server EKU must be ignored by the issuer.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let csr = params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    (key, csr)
}

fn p256() -> (KeyPair, String) {
    csr_for(&rcgen::PKCS_ECDSA_P256_SHA256)
}

fn der_of(pem: &str) -> Vec<u8> {
    clavis::tls::parse_certs(pem).expect("certificate PEM")[0].to_vec()
}

fn invalid_token(r: Result<clavis::service::Enrollment, ServiceError>, what: &str) {
    match r {
        Err(ServiceError::InvalidEnrollmentToken) => {}
        Err(e) => panic!("{what}: expected InvalidEnrollmentToken, got {e}"),
        Ok(_) => panic!("{what}: enrollment succeeded"),
    }
}

/// Verifies `der` as a TLS client certificate against `ca_pem`, as the TLS layer does.
fn verify_chain(ca_pem: &str, der: &[u8]) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in clavis::tls::parse_certs(ca_pem).expect("ca") {
        roots.add(c).expect("root");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier");
    verifier
        .verify_client_cert(&CertificateDer::from(der.to_vec()), &[], UnixTime::now())
        .map(|_| ())
}

async fn enrollment_issues_a_certificate_over_the_endpoint_key(postgres: bool) {
    let s = Setup::new(postgres).await;
    let (info, token) = s
        .svc()
        .register_endpoint(
            &admin(),
            "Tape-Lib-1",
            "tape_library",
            Some("dc-east"),
            None,
        )
        .await
        .expect("register");
    assert_eq!(info.state, EndpointState::Registered);
    assert_eq!(info.name, "Tape-Lib-1", "the name is kept as given");
    assert!(info.certificate.is_none());
    let t = token.token.expose_secret();
    assert!(t.starts_with("clvE_") && t.len() == 48, "token format: {t}");
    let expires = token.expires_at;
    assert!(
        (now() + 86_400 - 5..=now() + 86_400 + 5).contains(&expires),
        "tokens are valid 24 hours"
    );
    assert_eq!(info.enrollment_token_expires_at, Some(expires));
    let rec = s.record("tape-lib-1").await;
    assert_eq!(
        rec.token_hash.as_deref(),
        Some(Sha256::digest(t.as_bytes()).as_slice()),
        "only the token's SHA-256 is stored"
    );

    let (key, csr) = p256();
    let e = s
        .svc()
        .enroll(&token.token, &csr, Some("192.0.2.7:5000".into()))
        .await
        .expect("enroll");
    assert_eq!(e.ca_pem, s.dir.ca_pem());
    assert_eq!(e.endpoint.state, EndpointState::Enrolled);
    assert_eq!(e.endpoint.enrollment_token_expires_at, None);
    let der = der_of(&e.certificate_pem);
    verify_chain(&e.ca_pem, &der).expect("the certificate chains to the cluster CA");
    let other_ca = clavis::tls::new_cluster_ca("elsewhere").expect("ca");
    assert!(verify_chain(&other_ca.cert_pem, &der).is_err());

    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).expect("parse");
    assert_eq!(
        cert.public_key().raw,
        key.subject_public_key_info().as_slice(),
        "the certificate carries the CSR's public key"
    );
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok())
        .collect();
    assert_eq!(cn, ["Tape-Lib-1"], "CN is the endpoint name, not the CSR's");
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("EKU present")
        .value;
    assert!(
        eku.client_auth && !eku.server_auth && !eku.any,
        "client auth only"
    );
    assert!(!cert.is_ca(), "the CSR's CA request is ignored");
    let days = (cert.validity().not_after.timestamp() - now()) / 86_400;
    assert!(
        (729..=730).contains(&days),
        "valid two years, got {days} days"
    );
    let info = e.endpoint.certificate.as_ref().expect("certificate info");
    assert_eq!(info.fingerprint_sha256, hex::encode(Sha256::digest(&der)));
    assert_eq!(info.not_after, cert.validity().not_after.timestamp());

    // The KMIP server's question.
    let p = s
        .svc()
        .endpoint_for_certificate(&der, Some("192.0.2.7:5001".into()))
        .await
        .expect("enrolled endpoint accepted");
    assert_eq!(
        p,
        Principal {
            name: "Tape-Lib-1".into(),
            source: Some("192.0.2.7:5001".into()),
            kind: PrincipalKind::Endpoint(e.endpoint.id.clone()),
        }
    );

    // The certificate works in a real TLS 1.3 handshake with the node.
    let key_der = KeyMaterial::new(key.serialize_der());
    let mut c = ApiClient::new(
        &format!("https://{}", s.addr()),
        &e.ca_pem,
        Some((&e.certificate_pem, &key_der)),
        None,
    )
    .expect("client");
    let (st, _) = c
        .request(Method::GET, "/healthz", None)
        .await
        .expect("mTLS");
    assert_eq!(st, StatusCode::OK);

    // The token works once, and a refused second use changes nothing.
    let seq = s.store().last_seq().await.expect("seq");
    let (_, csr2) = p256();
    invalid_token(
        s.svc().enroll(&token.token, &csr2, None).await,
        "reused token",
    );
    assert_eq!(s.store().last_seq().await.expect("seq"), seq);
    assert!(s.svc().endpoint_for_certificate(&der, None).await.is_ok());

    // P-384 keys are accepted too.
    let (_, t2) = s
        .svc()
        .issue_enrollment_token(&admin(), "tape-lib-1")
        .await
        .expect("token");
    let (key384, csr384) = csr_for(&rcgen::PKCS_ECDSA_P384_SHA384);
    let e2 = s
        .svc()
        .enroll(&t2.token, &csr384, None)
        .await
        .expect("P-384 enrollment");
    let der2 = der_of(&e2.certificate_pem);
    let (_, cert2) = x509_parser::certificate::X509Certificate::from_der(&der2).expect("parse");
    assert_eq!(
        cert2.public_key().raw,
        key384.subject_public_key_info().as_slice()
    );
    verify_chain(&e2.ca_pem, &der2).expect("chains");
    s.stop().await;
}

async fn refused_tokens_and_requests_change_nothing(postgres: bool) {
    let s = Setup::new(postgres).await;
    let token = s.register("db-01").await;
    let before = s.record("db-01").await;
    let seq = s.store().last_seq().await.expect("seq");
    let (_, csr) = p256();

    let wrong = SecretString::from(format!("clvE_{}", "A".repeat(43)));
    invalid_token(s.svc().enroll(&wrong, &csr, None).await, "wrong token");
    let api_token = SecretString::from(s.admin_token.clone());
    invalid_token(s.svc().enroll(&api_token, &csr, None).await, "an API token");
    invalid_token(
        s.svc()
            .enroll(&SecretString::from("hello".to_owned()), &csr, None)
            .await,
        "malformed token",
    );
    // CSRs are checked before tokens: a bad CSR gets the same answer whatever the token.
    for (bad, what) in [
        ("not a csr".to_owned(), "garbage"),
        (
            csr.replace("CERTIFICATE REQUEST", "CERTIFICATE"),
            "wrong PEM label",
        ),
        (tamper(&csr), "bad signature"),
        ("x".repeat(20_000), "oversized"),
    ] {
        for t in [&token, &wrong] {
            match s.svc().enroll(t, &bad, None).await {
                Err(ServiceError::InvalidArgument(m)) => {
                    assert!(m.starts_with("csr_pem:"), "{what}: {m}")
                }
                other => panic!("{what}: expected InvalidArgument, got {:?}", other.err()),
            }
        }
    }
    assert_eq!(
        s.record("db-01").await,
        before,
        "refusals changed the endpoint"
    );
    assert_eq!(s.store().last_seq().await.expect("seq"), seq);

    // An expired token, set through the store (the clock is not a knob worth adding).
    let mut rec = s.record("db-01").await;
    let expected = rec.hlc;
    rec.token_expires_at = Some(now() - 1);
    rec.hlc = expected + 1;
    let mut tx = s.store().begin_write("test").await.expect("begin");
    tx.update_endpoint(&rec, expected).await.expect("update");
    tx.commit().await.expect("commit");
    let expired = s.record("db-01").await;
    let seq = s.store().last_seq().await.expect("seq");
    invalid_token(s.svc().enroll(&token, &csr, None).await, "expired token");
    assert_eq!(s.record("db-01").await, expired);
    assert_eq!(s.store().last_seq().await.expect("seq"), seq);

    // A new token replaces the old one.
    let (info, t2) = s
        .svc()
        .issue_enrollment_token(&admin(), "DB-01")
        .await
        .expect("new token");
    assert!(info.enrollment_token_expires_at.is_some_and(|t| t > now()));
    let (_, t3) = s
        .svc()
        .issue_enrollment_token(&admin(), "db-01")
        .await
        .expect("newer token");
    invalid_token(
        s.svc().enroll(&t2.token, &csr, None).await,
        "superseded token",
    );
    let e = s.svc().enroll(&t3.token, &csr, None).await.expect("enroll");
    let cert1 = der_of(&e.certificate_pem);

    // Re-enrollment: the old certificate works until the new one is issued.
    let (_, t4) = s
        .svc()
        .issue_enrollment_token(&admin(), "db-01")
        .await
        .expect("re-enroll token");
    assert_eq!(s.record("db-01").await.state, EndpointState::Enrolled);
    s.svc()
        .endpoint_for_certificate(&cert1, None)
        .await
        .expect("old cert still accepted while re-enrollment is pending");
    let (_, csr2) = p256();
    let e2 = s
        .svc()
        .enroll(&t4.token, &csr2, None)
        .await
        .expect("re-enroll");
    let cert2 = der_of(&e2.certificate_pem);
    assert!(matches!(
        s.svc().endpoint_for_certificate(&cert1, None).await,
        Err(ServiceError::UnknownCertificate)
    ));
    s.svc()
        .endpoint_for_certificate(&cert2, None)
        .await
        .expect("new cert accepted");

    // Tokens never reach the change log.
    let replica = s.store().replica_id().await.expect("replica");
    for ch in s
        .store()
        .changes_since(&replica, 0, 1000)
        .await
        .expect("log")
    {
        for t in [&token, &t2.token, &t3.token, &t4.token] {
            assert!(
                !contains(&ch.payload, t.expose_secret().as_bytes()),
                "a token is in the change log"
            );
        }
    }
    s.stop().await;
}

/// Flips a bit in the CSR's signature.
fn tamper(csr_pem: &str) -> String {
    use base64::Engine;
    let b64: String = csr_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let n = der.len();
    der[n - 3] ^= 0x01;
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

async fn suspend_resume_delete(postgres: bool) {
    let s = Setup::new(postgres).await;
    let token = s.register("agent-7").await;
    let (_, csr) = p256();
    let e = s.svc().enroll(&token, &csr, None).await.expect("enroll");
    let der = der_of(&e.certificate_pem);
    let id = e.endpoint.id.clone();

    let info = s
        .svc()
        .suspend_endpoint(&admin(), "Agent-7")
        .await
        .expect("suspend");
    assert_eq!(info.state, EndpointState::Suspended);
    match s.svc().endpoint_for_certificate(&der, None).await {
        Err(e @ ServiceError::EndpointSuspended(_)) => {
            assert_eq!(e.to_string(), "endpoint \"agent-7\" is suspended")
        }
        other => panic!("suspended endpoint: {other:?}"),
    }
    assert!(matches!(
        s.svc().suspend_endpoint(&admin(), "agent-7").await,
        Err(ServiceError::EndpointState {
            state: EndpointState::Suspended,
            ..
        })
    ));
    assert!(
        matches!(
            s.svc().issue_enrollment_token(&admin(), "agent-7").await,
            Err(ServiceError::EndpointState { .. })
        ),
        "re-enrolling must not lift a suspension"
    );
    let info = s
        .svc()
        .resume_endpoint(&admin(), "agent-7")
        .await
        .expect("resume");
    assert_eq!(info.state, EndpointState::Enrolled);
    assert!(matches!(
        s.svc().resume_endpoint(&admin(), "agent-7").await,
        Err(ServiceError::EndpointState { .. })
    ));
    s.svc()
        .endpoint_for_certificate(&der, None)
        .await
        .expect("accepted after resume");

    // Suspending cancels a pending token; resuming an endpoint that never enrolled
    // brings it back to registered.
    let pending = s.register("never-enrolled").await;
    s.svc()
        .suspend_endpoint(&admin(), "never-enrolled")
        .await
        .expect("suspend");
    invalid_token(
        s.svc().enroll(&pending, &csr, None).await,
        "token of a suspended endpoint",
    );
    let info = s
        .svc()
        .resume_endpoint(&admin(), "never-enrolled")
        .await
        .expect("resume");
    assert_eq!(info.state, EndpointState::Registered);
    invalid_token(
        s.svc().enroll(&pending, &csr, None).await,
        "token cancelled by suspension",
    );

    // Delete: a tombstone; the name is free again.
    let gone = s
        .svc()
        .delete_endpoint(&admin(), "agent-7")
        .await
        .expect("delete");
    assert_eq!(gone.state, EndpointState::Deleted);
    match s.svc().endpoint_for_certificate(&der, None).await {
        Err(e @ ServiceError::EndpointDeleted(_)) => {
            assert_eq!(e.to_string(), "endpoint \"agent-7\" is deleted")
        }
        other => panic!("deleted endpoint: {other:?}"),
    }
    assert!(matches!(
        s.svc().get_endpoint(&admin(), "agent-7").await,
        Err(ServiceError::EndpointNotFound(_))
    ));
    assert!(matches!(
        s.svc().delete_endpoint(&admin(), "agent-7").await,
        Err(ServiceError::EndpointNotFound(_))
    ));
    let tomb = s
        .store()
        .endpoint(&id)
        .await
        .expect("db")
        .expect("tombstone");
    assert_eq!(tomb.state, EndpointState::Deleted);
    assert_eq!(tomb.name_key, None);
    let (again, _) = s
        .svc()
        .register_endpoint(&admin(), "AGENT-7", "agent", None, None)
        .await
        .expect("the name is reusable");
    assert_ne!(again.id, id);
    assert!(matches!(
        s.svc().endpoint_for_certificate(&der, None).await,
        Err(ServiceError::EndpointDeleted(_))
    ));

    let live = s
        .svc()
        .list_endpoints(&admin(), EndpointFilter::default())
        .await
        .expect("list");
    let names: Vec<_> = live.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["never-enrolled", "AGENT-7"]);
    let deleted = s
        .svc()
        .list_endpoints(
            &admin(),
            EndpointFilter {
                state: Some(EndpointState::Deleted),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, id);

    // Every change is in the log; the delete as a tombstone.
    let replica = s.store().replica_id().await.expect("replica");
    let log: Vec<_> = s
        .store()
        .changes_since(&replica, 0, 1000)
        .await
        .expect("log")
        .into_iter()
        .filter(|c| c.entity == "endpoint" && c.entity_id == id)
        .collect();
    let ops: Vec<_> = log.iter().map(|c| c.op).collect();
    assert_eq!(
        ops,
        [
            ChangeOp::Upsert, // register
            ChangeOp::Upsert, // enroll
            ChangeOp::Upsert, // suspend
            ChangeOp::Upsert, // resume
            ChangeOp::Delete,
        ]
    );
    s.stop().await;
}

async fn names_are_case_insensitive_and_checked(postgres: bool) {
    let s = Setup::new(postgres).await;
    s.register("Tape-Lib").await;
    match s
        .svc()
        .register_endpoint(&admin(), "tape-lib", "kmip", None, None)
        .await
    {
        Err(e @ ServiceError::EndpointExists(_)) => {
            assert!(e.to_string().contains("case-insensitive"), "{e}")
        }
        other => panic!("duplicate name: {:?}", other.map(|r| r.0)),
    }
    let got = s
        .svc()
        .get_endpoint(&admin(), "TAPE-LIB")
        .await
        .expect("case-insensitive lookup");
    assert_eq!(got.name, "Tape-Lib");
    for (name, typ, site, wallet, field) in [
        ("bad name", "kmip", None, None, "name"),
        ("", "kmip", None, None, "name"),
        ("ünïcode", "kmip", None, None, "name"),
        ("ok", "Tape Library", None, None, "type"),
        ("ok", "", None, None, "type"),
        ("ok", "kmip", Some("dc east"), None, "site"),
        ("ok", "kmip", None, Some("w/1"), "default_wallet"),
    ] {
        match s
            .svc()
            .register_endpoint(&admin(), name, typ, site, wallet)
            .await
        {
            Err(ServiceError::InvalidArgument(m)) => {
                assert!(m.starts_with(&format!("{field}:")), "{m}");
                if field != "type" {
                    assert!(m.contains(OBJECT_NAME_RULE), "the rule is named: {m}");
                }
            }
            other => panic!("{name:?}/{typ:?}: {:?}", other.map(|r| r.0)),
        }
    }
    let long = "a".repeat(121);
    assert!(matches!(
        s.svc().get_endpoint(&admin(), &long).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    let all = s
        .svc()
        .list_endpoints(&admin(), EndpointFilter::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 1, "refused registrations stored nothing");
    s.stop().await;
}

enum Kind {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Kind {
    async fn new(postgres: bool) -> Kind {
        if postgres {
            Kind::Postgres(common::pg::fresh_database().await)
        } else {
            Kind::Sqlite(tempfile::tempdir().expect("tempdir"))
        }
    }
    fn url(&self) -> String {
        match self {
            Kind::Sqlite(d) => format!("sqlite://{}/clavis.db", d.path().display()),
            Kind::Postgres(u) => u.clone(),
        }
    }
}

fn record(id: &str, name: &str, hlc: i64) -> EndpointRecord {
    EndpointRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        name_key: Some(name.to_ascii_lowercase()),
        endpoint_type: "kmip".into(),
        site: None,
        default_wallet: Some("Wallet-A".into()),
        state: EndpointState::Registered,
        token_hash: Some(vec![0xAB; 32]),
        token_expires_at: Some(1_700_086_400),
        cert_fingerprint: None,
        cert_serial: None,
        cert_not_after: None,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
        hlc,
        origin_node: "node-a".into(),
    }
}

async fn store_round_trip_uniqueness_and_conflicts(postgres: bool) {
    let kind = Kind::new(postgres).await;
    let store = Store::open(&kind.url(), 4).await.expect("open");
    store
        .init_replica("replica-1", 1_700_000_000)
        .await
        .expect("init");
    let a = record(&clavis::keys::new_object_id(), "Lib-A", 10);
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.insert_endpoint(&a).await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(store.endpoint(&a.id).await.expect("get"), Some(a.clone()));
    assert_eq!(
        store.endpoint_by_name("LIB-a").await.expect("get"),
        Some(a.clone())
    );
    assert_eq!(
        store
            .endpoint_by_token_hash(&[0xAB; 32])
            .await
            .expect("get"),
        Some(a.clone())
    );

    // The lower-cased name is unique, and the failed insert leaves no log row.
    let seq = store.last_seq().await.expect("seq");
    let dup = record(&clavis::keys::new_object_id(), "lib-a", 11);
    let mut tx = store.begin_write("node-a").await.expect("begin");
    let err = tx.insert_endpoint(&dup).await.expect_err("duplicate name");
    assert!(err.is_unique_violation(), "{err}");
    drop(tx);
    assert_eq!(store.last_seq().await.expect("seq"), seq);

    // Updates are conditional on the HLC.
    let mut b = a.clone();
    b.state = EndpointState::Enrolled;
    b.token_hash = None;
    b.token_expires_at = None;
    b.cert_fingerprint = Some(vec![0xCD; 32]);
    b.cert_serial = Some("4a01".into());
    b.cert_not_after = Some(1_800_000_000);
    b.hlc = 20;
    let mut tx = store.begin_write("node-a").await.expect("begin");
    assert!(matches!(
        tx.update_endpoint(&b, 9).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.update_endpoint(&b, 10).await.expect("update");
    tx.commit().await.expect("commit");
    assert_eq!(
        store
            .endpoint_by_fingerprint(&[0xCD; 32])
            .await
            .expect("get"),
        Some(b.clone())
    );
    assert_eq!(
        store
            .endpoint_by_token_hash(&[0xAB; 32])
            .await
            .expect("get"),
        None
    );

    // Deleting frees the name; both rows coexist.
    let mut c = b.clone();
    c.state = EndpointState::Deleted;
    c.name_key = None;
    c.hlc = 30;
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.update_endpoint(&c, 20).await.expect("delete");
    tx.insert_endpoint(&record(&clavis::keys::new_object_id(), "LIB-A", 31))
        .await
        .expect("name reused");
    tx.commit().await.expect("commit");
    let live = store
        .list_endpoints(&EndpointFilter::default())
        .await
        .expect("list");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].name, "LIB-A");
    let all_deleted = store
        .list_endpoints(&EndpointFilter {
            state: Some(EndpointState::Deleted),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all_deleted, vec![c.clone()]);

    let log = store.changes_since("replica-1", 0, 100).await.expect("log");
    let ops: Vec<_> = log
        .iter()
        .map(|ch| (ch.entity.as_str(), ch.op, ch.hlc))
        .collect();
    assert_eq!(
        ops,
        [
            ("endpoint", ChangeOp::Upsert, 10),
            ("endpoint", ChangeOp::Upsert, 20),
            ("endpoint", ChangeOp::Delete, 30),
            ("endpoint", ChangeOp::Upsert, 31),
        ]
    );
    let payload: Value = serde_json::from_slice(&log[2].payload).expect("json");
    assert_eq!(payload["state"], "deleted");
    assert_eq!(payload["cert_fingerprint"], hex::encode([0xCD; 32]));
    store.close().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(false).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(true).await })*
        }
    };
}

on_both_backends!(
    enrollment_issues_a_certificate_over_the_endpoint_key,
    refused_tokens_and_requests_change_nothing,
    suspend_resume_delete,
    names_are_case_insensitive_and_checked,
    store_round_trip_uniqueness_and_conflicts,
);

// ---- REST ----

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_routes() {
    let s = Setup::new(false).await;
    let ca = s.dir.ca_pem();
    let url = format!("https://{}", s.addr());
    let mut c = client(&s.addr(), &ca, &s.admin_token);
    let mut anon = ApiClient::new(&url, &ca, None, None).expect("client");

    let body = json!({"name": "pykmip-1", "type": "kmip", "site": "dc-east"});
    let (st, v) = call(&mut anon, Method::POST, "/v1/endpoints", Some(body.clone())).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (st, v) = call(&mut c, Method::POST, "/v1/endpoints", Some(body.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["endpoint"]["name"], "pykmip-1");
    assert_eq!(v["endpoint"]["type"], "kmip");
    assert_eq!(v["endpoint"]["site"], "dc-east");
    assert_eq!(v["endpoint"]["state"], "registered");
    assert_eq!(
        v["token_expires_at"],
        v["endpoint"]["enrollment_token_expires_at"]
    );
    let token = v["enrollment_token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("clvE_"));

    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints",
        Some(json!({"name": "PyKMIP-1", "type": "kmip"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "endpoint_exists"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints",
        Some(json!({"name": "no spaces", "type": "kmip"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
    assert!(message(&v).contains(OBJECT_NAME_RULE), "{v}");
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints",
        Some(json!({"name": "x", "type": "kmip", "colour": "red"})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{v}"
    );

    // Enrollment needs no bearer token; bad input is refused clearly.
    let seq = s.store().last_seq().await.expect("seq");
    let (st, v) = call(
        &mut anon,
        Method::POST,
        "/v1/enroll",
        Some(json!({"token": token, "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_argument"),
        "{v}"
    );
    assert!(message(&v).contains("csr_pem"), "{v}");
    let (_, csr) = p256();
    let (st, v) = call(
        &mut anon,
        Method::POST,
        "/v1/enroll",
        Some(json!({"token": format!("clvE_{}", "B".repeat(43)), "csr_pem": csr})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "invalid_enrollment_token")
    );
    assert_eq!(
        message(&v),
        ServiceError::InvalidEnrollmentToken.to_string()
    );
    let (st, v) = call(
        &mut anon,
        Method::POST,
        "/v1/enroll",
        Some(json!({"token": token, "csr": csr})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert_eq!(s.store().last_seq().await.expect("seq"), seq);

    let (st, v) = call(
        &mut anon,
        Method::POST,
        "/v1/enroll",
        Some(json!({"token": token, "csr_pem": csr})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["endpoint"], "pykmip-1");
    assert_eq!(v["ca_pem"].as_str(), Some(ca.as_str()));
    let der = der_of(v["certificate_pem"].as_str().expect("cert"));
    verify_chain(&ca, &der).expect("chains");
    let (st, v) = call(
        &mut anon,
        Method::POST,
        "/v1/enroll",
        Some(json!({"token": token, "csr_pem": csr})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "invalid_enrollment_token")
    );

    // Administration.
    let (st, v) = call(&mut c, Method::GET, "/v1/endpoints/PYKMIP-1", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["state"], "enrolled");
    assert_eq!(
        v["certificate"]["fingerprint_sha256"],
        hex::encode(Sha256::digest(&der))
    );
    let (st, _) = call(&mut anon, Method::GET, "/v1/endpoints", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = call(&mut c, Method::GET, "/v1/endpoints", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["endpoints"].as_array().map(Vec::len), Some(1));
    let (st, v) = call(&mut c, Method::GET, "/v1/endpoints?state=sleepy", None).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_query"));
    let (st, v) = call(&mut c, Method::POST, "/v1/endpoints/pykmip-1/suspend", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("suspended"))
    );
    let (st, v) = call(&mut c, Method::POST, "/v1/endpoints/pykmip-1/suspend", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "endpoint_state"),
        "{v}"
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints/pykmip-1/enrollment-token",
        None,
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "endpoint_state"));
    let (st, v) = call(&mut c, Method::POST, "/v1/endpoints/pykmip-1/resume", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("enrolled"))
    );
    let (st, v) = call(
        &mut c,
        Method::POST,
        "/v1/endpoints/pykmip-1/enrollment-token",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["enrollment_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("clvE_") && t != token));
    let (st, v) = call(&mut c, Method::DELETE, "/v1/endpoints/pykmip-1", None).await;
    assert_eq!((st, v["state"].as_str()), (StatusCode::OK, Some("deleted")));
    let (st, v) = call(&mut c, Method::GET, "/v1/endpoints/pykmip-1", None).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, v) = call(&mut c, Method::GET, "/v1/endpoints?state=deleted", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["endpoints"][0]["name"], "pykmip-1");
    assert!(
        v["endpoints"][0]
            .get("enrollment_token_expires_at")
            .is_none(),
        "deleting cancels the pending token"
    );
    s.stop().await;
}

// ---- CLI ----

fn run_cli(args: Vec<String>) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_clavis"))
        .args(args)
        .env_remove("CLAVIS_TOKEN")
        .env_remove("CLAVIS_TOKEN_FILE")
        .env_remove("CLAVIS_SERVER")
        .env_remove("CLAVIS_CA")
        .output()
        .expect("run clavis")
}

async fn cli(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || run_cli(args))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_register_and_enroll() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new(false).await;
    let server = format!("https://{}", s.addr());
    let ca_path = s.dir.data_dir().join("ca.pem");
    let ca_path = ca_path.to_str().expect("utf-8 path");
    let token_file = s.dir.dir.path().join("admin.token");
    std::fs::write(&token_file, &s.admin_token).expect("token file");
    let token_file = token_file.to_str().expect("utf-8 path");

    let out = cli(&[
        "--server",
        &server,
        "--ca",
        ca_path,
        "--token-file",
        token_file,
        "endpoint",
        "register",
        "Lib-CLI",
        "--type",
        "tape_library",
        "--site",
        "dc-west",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "register failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout
        .lines()
        .find(|l| l.starts_with("clvE_"))
        .unwrap_or_else(|| panic!("no token printed: {stdout}"))
        .trim()
        .to_owned();

    let out_dir = s.dir.dir.path().join("endpoint-creds");
    let out_dir_s = out_dir.to_str().expect("utf-8 path");
    let enroll_args = [
        "--server",
        &server,
        "--ca",
        ca_path,
        "endpoint",
        "enroll",
        "--token",
        &token,
        "--out-dir",
        out_dir_s,
    ];
    let out = cli(&enroll_args).await;
    assert!(
        out.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["key.pem", "cert.pem", "ca.pem"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let mode = std::fs::metadata(out_dir.join("key.pem"))
        .expect("key.pem")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key.pem mode {mode:o}");
    let key_pem = std::fs::read_to_string(out_dir.join("key.pem")).expect("key");
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM"
    );
    let cert_pem = std::fs::read_to_string(out_dir.join("cert.pem")).expect("cert");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("ca.pem")).expect("ca"),
        s.dir.ca_pem()
    );
    // The files work together: the key matches the certificate in a TLS handshake, and
    // the node knows the certificate as the endpoint's.
    let key = clavis::tls::parse_private_key_pem(&key_pem).expect("key parses");
    let mut c =
        ApiClient::new(&server, &s.dir.ca_pem(), Some((&cert_pem, &key)), None).expect("client");
    let (st, _) = c
        .request(Method::GET, "/healthz", None)
        .await
        .expect("mTLS");
    assert_eq!(st, StatusCode::OK);
    let p = s
        .svc()
        .endpoint_for_certificate(&der_of(&cert_pem), None)
        .await
        .expect("accepted");
    assert_eq!(p.name, "Lib-CLI");
    // OpenSSL (under PyKMIP) reads the key, and takes the certificate as a TLS client's.
    let verdict = openssl(
        &out_dir,
        &[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "ca.pem",
            "cert.pem",
        ],
    );
    assert!(verdict.contains("cert.pem: OK"), "{verdict}");
    assert_eq!(
        openssl(&out_dir, &["pkey", "-in", "key.pem", "-pubout"]),
        openssl(&out_dir, &["x509", "-in", "cert.pem", "-noout", "-pubkey"]),
    );
    let out = cli(&[
        "--server",
        &server,
        "--ca",
        ca_path,
        "--token-file",
        token_file,
        "endpoint",
        "get",
        "lib-cli",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Lib-CLI") && stdout.contains("enrolled"),
        "{stdout}"
    );

    // Existing files are never overwritten.
    let out = cli(&enroll_args).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("key.pem")).expect("key"),
        key_pem
    );
    s.stop().await;
}

// ---- CSRs made by OpenSSL (what PyKMIP users have at hand) ----

/// Runs `openssl` with `args` in `dir`; panics with its stderr on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (install the openssl package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl_csr(dir: &std::path::Path, newkey: &[&str], extra: &[&str]) -> String {
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-keyout",
        "k.pem",
        "-subj",
        "/CN=from-openssl",
    ];
    args.extend_from_slice(newkey);
    args.extend_from_slice(extra);
    openssl(dir, &args)
}

fn csr_spki(csr_pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes()).expect("pem");
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
            .expect("csr");
    csr.certification_request_info.subject_pki.raw.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_csrs_and_key_types() {
    let s = Setup::new(false).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let cases: [(&[&str], &[&str], bool, &str); 5] = [
        (&["-newkey", "rsa:2048"], &[], true, "RSA 2048"),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &[
                "-addext",
                "subjectAltName=DNS:ignored.example",
                "-addext",
                "subjectKeyIdentifier=hash",
            ],
            true,
            "P-256 with requested extensions",
        ),
        (&["-newkey", "rsa:1024"], &[], false, "RSA 1024"),
        (&["-newkey", "ed25519"], &[], false, "Ed25519"),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
            &[],
            false,
            "secp256k1",
        ),
    ];
    for (i, (newkey, extra, ok, what)) in cases.into_iter().enumerate() {
        let name = format!("ossl-{i}");
        let token = s.register(&name).await;
        let csr = openssl_csr(dir, newkey, extra);
        let r = s.svc().enroll(&token, &csr, None).await;
        if !ok {
            match r {
                Err(ServiceError::InvalidArgument(m)) => {
                    assert!(m.contains("P-256") && m.contains("RSA"), "{what}: {m}")
                }
                other => panic!(
                    "{what}: expected refusal, got {:?}",
                    other.map(|e| e.endpoint)
                ),
            }
            continue;
        }
        let e = r.unwrap_or_else(|err| panic!("{what}: {err}"));
        let der = der_of(&e.certificate_pem);
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).expect("parse");
        assert_eq!(cert.public_key().raw, csr_spki(&csr).as_slice(), "{what}");
        assert!(
            cert.subject_alternative_name().expect("san").is_none(),
            "{what}: requested SANs are not copied"
        );
        // OpenSSL, which PyKMIP's TLS runs on, accepts it as a TLS client certificate
        // from the cluster CA, and the key it generated matches.
        std::fs::write(dir.join("cert.pem"), &e.certificate_pem).expect("write");
        std::fs::write(dir.join("ca.pem"), &e.ca_pem).expect("write");
        let verdict = openssl(
            dir,
            &[
                "verify",
                "-purpose",
                "sslclient",
                "-CAfile",
                "ca.pem",
                "cert.pem",
            ],
        );
        assert!(verdict.contains("cert.pem: OK"), "{what}: {verdict}");
        let from_key = openssl(dir, &["pkey", "-in", "k.pem", "-pubout"]);
        let from_cert = openssl(dir, &["x509", "-in", "cert.pem", "-noout", "-pubkey"]);
        assert_eq!(from_key, from_cert, "{what}: key and certificate match");
        s.svc()
            .endpoint_for_certificate(&der, None)
            .await
            .unwrap_or_else(|err| panic!("{what}: {err}"));
    }
    s.stop().await;
}
