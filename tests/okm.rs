//! Drives speaking Oracle Key Manager's agent protocol, against a real `clavisd` on a
//! SoftHSM2 token: enrollment with the one-time passphrase (wrong, right, reused),
//! discovery, data units, protect-and-process keys, a data unit's keys, keys wrapped
//! under the agent's key-wrapping key, a suspended agent, malformed envelopes, and the
//! same key seen by a native drive agent for the same medium.
//!
//! The client (`tests/okm_client`) is written from the protocol description, not from
//! the node's code.

mod common;
mod okm_client;

use common::node::{client, pkcs11_rot_section, NodeDir, NodeProcess};
use common::softhsm::SoftHsm;
use hyper::{Method, StatusCode};
use okm_client::{data_unit, el, envelope, items, key_fields, Conn, NS_AGENT, NS_DISCOVERY};
use serde_json::{json, Value};
use std::net::SocketAddr;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Okm {
    ca: SocketAddr,
    cert: SocketAddr,
    agent: SocketAddr,
    discovery: SocketAddr,
}

struct Fixture {
    _hsm: SoftHsm,
    dir: NodeDir,
    node: NodeProcess,
    token: String,
    okm: Okm,
}

impl Fixture {
    async fn new() -> Fixture {
        let hsm = SoftHsm::new();
        let tok = hsm.add_token("okm");
        let dir = NodeDir::new(None, &pkcs11_rot_section(&tok));
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut text = std::fs::read_to_string(&dir.config_path).expect("config");
        text = text.replace(
            "[node]\nname = \"test-node\"\n",
            "[node]\nname = \"test-node\"\nsite = \"dc1\"\n",
        );
        text.push_str(&format!(
            "\n[okm]\nenabled = true\nlisten_address = \"127.0.0.1\"\nca_port = {}\ncertificate_port = {}\nagent_port = {}\ndiscovery_port = {}\n\n[pool]\nsize = 50\nlow_water = 40\n",
            ports[0], ports[1], ports[2], ports[3]
        ));
        std::fs::write(&dir.config_path, text).expect("write config");
        let token = dir.init().await;
        let node = NodeProcess::start(&dir.config_path);
        let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let okm = Okm {
            ca: at(ports[0]),
            cert: at(ports[1]),
            agent: at(ports[2]),
            discovery: at(ports[3]),
        };
        Fixture {
            _hsm: hsm,
            dir,
            node,
            token,
            okm,
        }
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut c = client(&self.node.addr, &self.dir.ca_pem(), &self.token);
        c.request(method, path, body.as_ref())
            .await
            .expect("API request")
    }

    /// A 256-bit key group whose pool has filled.
    async fn key_group(&self, name: &str) {
        let (st, v) = self
            .api(Method::POST, "/v1/wallets", Some(json!({"name": name})))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = self
            .api(
                Method::PUT,
                &format!("/v1/wallets/{name}/policy"),
                Some(json!({"length": 256})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        for _ in 0..200 {
            let (_, v) = self.api(Method::GET, "/v1/pools", None).await;
            let ready = v["pools"]
                .as_array()
                .and_then(|p| p.iter().find(|x| x["wallet"] == name))
                .and_then(|p| p["ready"].as_i64())
                .unwrap_or(0);
            if ready >= 10 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the pool of {name} did not fill");
    }

    async fn endpoint(&self, name: &str) -> Value {
        let (st, v) = self
            .api(Method::GET, &format!("/v1/endpoints/{name}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v
    }
}

async fn agent_conn(f: &Fixture, e: &okm_client::Enrolled) -> Conn {
    let cfg = okm_client::tls(&e.root_ca_pem, Some((&e.cert_pem, &e.key_pem)));
    Conn::tls(f.okm.agent, cfg)
        .await
        .expect("agent service over mutual TLS")
}

fn agent_call(op: &str, children: &str) -> String {
    envelope("KMS-Agent", NS_AGENT, op, children)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okm_agent_enrolls_and_gets_keys_through_the_agent_protocol() {
    let f = Fixture::new().await;
    f.key_group("tapes").await;

    // An administrator creates the agent and gets its one-time passphrase.
    let (st, v) = f
        .api(
            Method::POST,
            "/v1/okm/agents",
            Some(json!({"agent_id": "t10k-01", "key_group": "tapes", "site": "dc1"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["endpoint"]["type"], "okm_agent");
    let passphrase = v["passphrase"].as_str().expect("passphrase").to_owned();
    assert!(
        passphrase.len() <= 64,
        "agents take passphrases up to 64 bytes"
    );

    // The root CA the CA service hands out is the cluster CA.
    let mut ca = Conn::plain(f.okm.ca).await.expect("CA service");
    let a = ca
        .call(&envelope(
            "KMS-CA",
            okm_client::NS_CA,
            "RetrieveRootCACertificate",
            &el("EntityID", "t10k-01"),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let root =
        String::from_utf8(hex::decode(a.get("RootCACertificate").unwrap()).unwrap()).unwrap();
    let der = |pem: &str| {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    };
    assert_eq!(der(&root), der(&f.dir.ca_pem()));

    // Wrong passphrase: refused with the protocol's error; the agent stays unenrolled.
    let wrong = okm_client::enroll(f.okm.ca, f.okm.cert, "t10k-01", "not-the-passphrase")
        .await
        .err()
        .expect("a wrong passphrase is refused");
    assert_eq!(wrong.fault_code(), Some(1019), "{}", wrong.body);
    assert_eq!(f.endpoint("t10k-01").await["state"], "registered");

    // Unknown agent: the same answer.
    let unknown = okm_client::enroll(f.okm.ca, f.okm.cert, "nobody", &passphrase)
        .await
        .err()
        .expect("an unknown agent is refused");
    assert_eq!(unknown.fault_code(), Some(1019), "{}", unknown.body);

    // The right passphrase enrolls; the node proves it knows it too (checked inside).
    let enrolled = okm_client::enroll(f.okm.ca, f.okm.cert, "t10k-01", &passphrase)
        .await
        .unwrap_or_else(|a| panic!("enrollment refused: {}", a.body));
    assert!(enrolled.key_pem.contains("PRIVATE KEY"));
    let ep = f.endpoint("t10k-01").await;
    assert_eq!(ep["state"], "enrolled");
    let serial = ep["certificate"]["serial"].clone();

    // The passphrase works once.
    let again = okm_client::enroll(f.okm.ca, f.okm.cert, "t10k-01", &passphrase)
        .await
        .err()
        .expect("a used passphrase is refused");
    assert_eq!(again.fault_code(), Some(1019), "{}", again.body);
    assert_eq!(f.endpoint("t10k-01").await["certificate"]["serial"], serial);

    // A new passphrase enrolls the agent again (a replaced drive); the old one stays spent.
    let (st, v) = f
        .api(Method::POST, "/v1/okm/agents/t10k-01/passphrase", None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let second = v["passphrase"].as_str().expect("passphrase").to_owned();
    let refused = okm_client::enroll(f.okm.ca, f.okm.cert, "t10k-01", &passphrase)
        .await
        .err()
        .expect("the first passphrase stays spent");
    assert_eq!(refused.fault_code(), Some(1019), "{}", refused.body);
    let enrolled = okm_client::enroll(f.okm.ca, f.okm.cert, "t10k-01", &second)
        .await
        .unwrap_or_else(|a| panic!("re-enrollment refused: {}", a.body));
    assert_ne!(f.endpoint("t10k-01").await["certificate"]["serial"], serial);

    // Discovery: this node, at its site, reachable at the loopback address.
    let cfg = okm_client::tls(
        &enrolled.root_ca_pem,
        Some((&enrolled.cert_pem, &enrolled.key_pem)),
    );
    let mut disc = Conn::tls(f.okm.discovery, cfg)
        .await
        .expect("discovery service");
    let a = disc
        .call(&envelope(
            "KMS-Discovery",
            NS_DISCOVERY,
            "DiscoverCluster",
            "",
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.get("EntitySiteID").as_deref(), Some("dc1"));
    let members = items(&a.body, "ArrayOfClusterMembers");
    assert_eq!(members.len(), 1, "{}", a.body);
    assert_eq!(
        okm_client::field(&members[0], "KMANetworkAddress").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        okm_client::field(&members[0], "KMASiteID").as_deref(),
        Some("dc1")
    );
    assert_eq!(
        okm_client::field(&members[0], "Enabled").as_deref(),
        Some("true")
    );
    assert!(members[0].contains("KMAVersion=\""), "{}", members[0]);

    let mut ag = agent_conn(&f, &enrolled).await;
    let a = ag.call(&agent_call("ListKeyGroups", "<QueryParameters><NextPageSize>10</NextPageSize><SortOrder>SORT_ORDER_ASCENDING</SortOrder></QueryParameters>")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.get("KeyGroupID").as_deref(), Some("tapes"));

    // A data unit for a cartridge whose serial number is "SER0001".
    let uid_hex = hex::encode_upper("SER0001");
    let a = ag
        .call(&agent_call(
            "CreateDataUnit",
            &format!(
                "{}{}{}",
                el("ExternalUniqueID", &uid_hex),
                el("ExternalTag", "VOL001"),
                el("Description", "okm test")
            ),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let du = a.get("DataUnitID").expect("data unit ID");
    assert_eq!(du.len(), 32);
    assert_eq!(
        a.get("DataUnitState").as_deref(),
        Some("DATA_UNIT_STATE_NO_KEY")
    );

    // The same external unique ID again is refused as a duplicate.
    let a = ag
        .call(&agent_call(
            "CreateDataUnit",
            &el("ExternalUniqueID", &uid_hex),
        ))
        .await;
    assert_eq!(a.fault_code(), Some(1015), "{}", a.body);

    // Protect-and-process key: a pool key, then the same key again while it may protect.
    let pap = agent_call(
        "RetrieveProtectAndProcessKey",
        &format!(
            "{}{}",
            data_unit(&du, &uid_hex, "VOL001"),
            el("KeyGroupID", "tapes")
        ),
    );
    let a = ag.call(&pap).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (key_id, state, key_hex) = key_fields(&a.body).expect("key");
    assert_eq!(state, "KEY_STATE_PROTECT_AND_PROCESS");
    assert_eq!(key_id.len(), 60);
    let key = hex::decode(&key_hex).unwrap();
    assert_eq!(key.len(), 32);
    let a = ag.call(&pap).await;
    let (again_id, _, again_hex) = key_fields(&a.body).expect("key");
    assert_eq!(
        (again_id.as_str(), again_hex.as_str()),
        (key_id.as_str(), key_hex.as_str())
    );

    let a = ag
        .call(&agent_call("RetrieveDataUnit", &el("DataUnitID", &du)))
        .await;
    assert_eq!(
        a.get("DataUnitState").as_deref(),
        Some("DATA_UNIT_STATE_READABLE_NORMAL"),
        "{}",
        a.body
    );

    // The data unit's keys.
    let a = ag
        .call(&agent_call(
            "RetrieveDataUnitKeys",
            &format!(
                "{}{}{}",
                data_unit(&du, &uid_hex, "VOL001"),
                el("PageSize", "32"),
                el("PageOffset", "0")
            ),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.get("KeysRemaining").as_deref(), Some("0"));
    let keys = items(&a.body, "Keys");
    assert_eq!(keys.len(), 1, "{}", a.body);
    let (k0, _, v0) = key_fields(&keys[0]).expect("key item");
    assert_eq!(
        (k0.as_str(), v0.as_str()),
        (key_id.as_str(), key_hex.as_str())
    );

    // Key-wrapping key: register one under the node's RSA key, then read the key wrapped.
    let a = ag.call(&agent_call("GetAgentKWKPublicKey", "")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let pub_pem = String::from_utf8(hex::decode(a.get("KWKPublicKey").unwrap()).unwrap()).unwrap();
    let public = {
        use rsa::pkcs8::DecodePublicKey;
        rsa::RsaPublicKey::from_public_key_pem(&pub_pem).expect("RSA public key PEM")
    };
    let kwk = okm_client::random32();
    let wrapped_kwk = public
        .encrypt(&mut rand_core::OsRng, rsa::Pkcs1v15Encrypt, &kwk)
        .expect("RSA encrypt");
    let a = ag
        .call(&agent_call(
            "RegisterAgentKWK",
            &el("AgentKWK", &hex::encode_upper(&wrapped_kwk)),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let kwk_id = a.get("AgentKWKID").expect("KWK ID");
    assert_eq!(kwk_id.len(), 16);
    let a = ag
        .call(&agent_call(
            "RetrieveKey2",
            &format!(
                "{}{}{}{}",
                el("KeyID", &key_id),
                data_unit(&du, &uid_hex, "VOL001"),
                el("KeyGroupID", "tapes"),
                el("AgentKWKID", &kwk_id)
            ),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, _, wrapped_hex) = key_fields(&a.body).expect("wrapped key");
    let wrapped = hex::decode(&wrapped_hex).unwrap();
    assert_eq!(wrapped.len(), 40, "RFC 3394 wrap of a 256-bit key");
    let unwrapped = {
        use aes_kw::KeyInit;
        let kw = aes_kw::KwAes256::new((&kwk).into());
        let mut out = [0u8; 32];
        kw.unwrap_key(&wrapped, &mut out)
            .expect("unwraps under the KWK");
        out
    };
    assert_eq!(&unwrapped[..], &key[..]);
    // An unregistered KWK is refused with the code that makes agents register again.
    let a = ag
        .call(&agent_call(
            "RetrieveProtectAndProcessKey2",
            &format!(
                "{}{}",
                data_unit(&du, &uid_hex, "VOL001"),
                el("AgentKWKID", "0011223344556677")
            ),
        ))
        .await;
    assert_eq!(a.fault_code(), Some(1135), "{}", a.body);

    // Malformed envelopes get the protocol's "invalid parameters" and change nothing.
    let (_, before) = f.api(Method::GET, "/v1/data-units", None).await;
    let dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]><SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:KMS-Agent=\"http://www.sun.com/KMS/KMS-Agent\"><SOAP-ENV:Body><KMS-Agent:CreateDataUnit><ExternalTag>&b;</ExternalTag></KMS-Agent:CreateDataUnit></SOAP-ENV:Body></SOAP-ENV:Envelope>";
    for bad in [
        dtd.to_owned(),
        "<SOAP-ENV:Envelope".to_owned(),
        format!("{}{}", "<a>".repeat(100), "</a>".repeat(100)),
        agent_call("CreateDataUnit", "<ExternalTag>ok</Wrong>"),
    ] {
        let a = ag.post_raw(bad.as_bytes()).await.expect("answer");
        assert_eq!(a.status, 500, "{}", a.body);
        assert_eq!(a.fault_code(), Some(1008), "{}", a.body);
    }
    let big = vec![b'x'; 70 * 1024];
    let mut fresh = agent_conn(&f, &enrolled).await;
    let a = fresh.post_raw(&big).await.expect("answer");
    assert_ne!(a.status, 200);
    let (_, after) = f.api(Method::GET, "/v1/data-units", None).await;
    assert_eq!(
        before["data_units"].as_array().map(Vec::len),
        after["data_units"].as_array().map(Vec::len)
    );

    // A native drive agent in the same key group reads the medium by its serial
    // number and gets the same key.
    native_agent_sees_the_same_key(&f, "SER0001", &key).await;

    // CreateAuditLog lands in the audit trail.
    let a = ag
        .call(&agent_call(
            "CreateAuditLog",
            &format!(
                "{}{}{}{}",
                el("Retention", "AUDIT_LOG_SHORT_TERM_RETENTION"),
                el("Condition", "AUDIT_LOG_WARNING_CONDITION"),
                el("IssueAlert", "false"),
                el("Message", "drive cleaning needed")
            ),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, audit) = f
        .api(
            Method::GET,
            "/v1/audit/records?action=okm.agent_audit_log&limit=10",
            None,
        )
        .await;
    assert!(
        audit.to_string().contains("drive cleaning needed"),
        "{audit}"
    );

    // Suspended: refused with "access denied", nothing handed out; resumed: served.
    let (st, v) = f
        .api(Method::POST, "/v1/endpoints/t10k-01/suspend", None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut ag = agent_conn(&f, &enrolled).await;
    let a = ag.call(&pap).await;
    assert_eq!(a.fault_code(), Some(1000), "{}", a.body);
    let (st, v) = f
        .api(Method::POST, "/v1/endpoints/t10k-01/resume", None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut ag = agent_conn(&f, &enrolled).await;
    let a = ag.call(&pap).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // CreateKey always takes a new key; the data unit then has two.
    let a = ag
        .call(&agent_call(
            "CreateKey",
            &format!(
                "{}{}",
                data_unit(&du, &uid_hex, "VOL001"),
                el("KeyGroupID", "tapes")
            ),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (new_id, _, _) = key_fields(&a.body).expect("key");
    assert_ne!(new_id, key_id);
    let a = ag
        .call(&agent_call(
            "RetrieveDataUnitKeys",
            &format!(
                "{}{}{}",
                data_unit(&du, &uid_hex, "VOL001"),
                el("PageSize", "1"),
                el("PageOffset", "0")
            ),
        ))
        .await;
    assert_eq!(a.get("KeysRemaining").as_deref(), Some("1"), "{}", a.body);
}

/// Enrolls a native drive agent in key group `tapes` and reads the medium's keys.
async fn native_agent_sees_the_same_key(f: &Fixture, serial: &str, key: &[u8]) {
    use clavis::agent::wire::{Request, Response};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (st, v) = f
        .api(
            Method::POST,
            "/v1/endpoints",
            Some(json!({"name": "lto-agent", "type": "agent", "default_wallet": "tapes"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let token = v["enrollment_token"].as_str().unwrap().to_owned();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(vec!["lto-agent".to_owned()])
        .unwrap()
        .serialize_request(&kp)
        .unwrap()
        .pem()
        .unwrap();
    let (st, v) = f
        .api(
            Method::POST,
            "/v1/enroll",
            Some(json!({"token": token, "csr_pem": csr})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let cert = v["certificate_pem"].as_str().unwrap().to_owned();
    let tls = common::kmip_client::tls_config(&f.dir.ca_pem(), &cert, &kp.serialize_pem());
    let addr: SocketAddr = f
        .node
        .agent_addr
        .as_deref()
        .expect("agent listener")
        .parse()
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let req = Request::KeysForRead {
        key_id: None,
        external_tag: None,
        external_unique_id: Some(serial.to_owned()),
    };
    s.write_all(&req.encode(1)).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    match Response::decode(&body).expect("response").msg {
        Response::Keys(keys) => {
            assert_eq!(keys.len(), 1);
            assert_eq!(
                &keys[0].material[..],
                key,
                "the native agent sees the OKM key"
            );
        }
        _ => panic!("unexpected answer to KeysForRead"),
    }
}
