//! The agent daemon's pure parts, without a node: configuration, the KAD format,
//! node ordering and the failover decision; and the per-drive loop against the
//! emulated drive with a cluster that cannot be reached (no key ever loaded).

use clavis::agent::wire::{ErrorCode, Response};
use clavis_agent::agent::client::AttemptError;
use clavis_agent::agent::cluster::{fails_over, order_nodes, NodeHealth};
use clavis_agent::agent::config::{split_host_port, AgentConfig, ConfigError, DriveSource};
use clavis_agent::agent::kad::{self, KadError};
use clavis_agent::drive::KeyAssociatedData;
use std::time::{Duration, Instant};

const MINIMAL: &str = r#"
state_dir = "/var/lib/clavis-agent"
servers = ["127.0.0.1:5697"]
"#;

#[test]
fn config_full_and_defaults() {
    let cfg = AgentConfig::parse(
        r#"
state_dir = "/tmp/a"
servers = ["n1.example:5697", "[::1]:5697"]
site = "dc1"
server_name = "localhost"
request_timeout_ms = 1500
heartbeat_secs = 3
discover_every = 4
cooldown_secs = 10
poll_ms = 250

[[drives]]
name = "drive0"
device = "/dev/sg3"

[[drives]]
name = "emu"
emulator = "/run/emu0.sock"
"#,
    )
    .unwrap();
    assert_eq!(cfg.site, "dc1");
    assert_eq!(cfg.drives.len(), 2);
    assert_eq!(
        cfg.drives[0].source().unwrap(),
        DriveSource::Device("/dev/sg3".into())
    );
    assert_eq!(
        cfg.drives[1].source().unwrap(),
        DriveSource::Emulator("/run/emu0.sock".into())
    );
    let s = cfg.cluster_settings();
    assert_eq!(s.request_timeout, Duration::from_millis(1500));
    assert_eq!(s.cooldown, Duration::from_secs(10));
    assert_eq!(s.server_name.as_deref(), Some("localhost"));
    assert_eq!(cfg.poll(), Duration::from_millis(250));

    let d = AgentConfig::parse(MINIMAL).unwrap();
    assert_eq!(d.request_timeout_ms, 2000);
    assert_eq!(d.heartbeat_secs, 5);
    assert_eq!(d.poll_ms, 500);
    assert!(d.server_name.is_none() && d.drives.is_empty());
}

fn invalid_field(text: &str) -> String {
    match AgentConfig::parse(text) {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn config_errors() {
    // Unknown fields (typos) are refused, at the top and in a drive.
    let e = AgentConfig::parse(&format!("{MINIMAL}\nheartbeat = 5\n")).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Parse(m) if m.contains("heartbeat")),
        "{e}"
    );
    let e = AgentConfig::parse(&format!(
        "{MINIMAL}\n[[drives]]\nname = \"d\"\ndevcie = \"/dev/sg1\"\n"
    ))
    .unwrap_err();
    assert!(matches!(e, ConfigError::Parse(_)), "{e}");
    // Missing required fields and wrong types.
    assert!(matches!(
        AgentConfig::parse("servers = [\"a:1\"]"),
        Err(ConfigError::Parse(_))
    ));
    assert!(matches!(
        AgentConfig::parse(&format!("{MINIMAL}\npoll_ms = \"fast\"\n")),
        Err(ConfigError::Parse(_))
    ));
    // Values.
    assert_eq!(
        invalid_field("state_dir = \"/x\"\nservers = []\n"),
        "servers"
    );
    assert_eq!(
        invalid_field("state_dir = \"/x\"\nservers = [\"no-port\"]\n"),
        "servers"
    );
    assert_eq!(
        invalid_field("state_dir = \"/x\"\nservers = [\"::1:5697\"]\n"),
        "servers"
    );
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\npoll_ms = 0\n")),
        "poll_ms"
    );
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\nrequest_timeout_ms = 5\n")),
        "request_timeout_ms"
    );
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\nheartbeat_secs = 0\n")),
        "heartbeat_secs"
    );
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\ndiscover_every = 0\n")),
        "discover_every"
    );
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\nserver_name = \"not a name\"\n")),
        "server_name"
    );
    // A drive needs exactly one of device and emulator; names are unique.
    assert_eq!(
        invalid_field(&format!("{MINIMAL}\n[[drives]]\nname = \"d\"\n")),
        "drives.d"
    );
    assert_eq!(
        invalid_field(&format!(
            "{MINIMAL}\n[[drives]]\nname = \"d\"\ndevice = \"/dev/sg1\"\nemulator = \"/s\"\n"
        )),
        "drives.d"
    );
    assert_eq!(
        invalid_field(&format!(
            "{MINIMAL}\n[[drives]]\nname = \"d\"\ndevice = \"/dev/sg1\"\n[[drives]]\nname = \"d\"\ndevice = \"/dev/sg2\"\n"
        )),
        "drives.d"
    );
    // A missing file names the file.
    let e = AgentConfig::load(std::path::Path::new("/nonexistent/agent.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/agent.toml"), "{e}");
}

#[test]
fn host_port() {
    assert_eq!(split_host_port("a.b:5697"), Some(("a.b", 5697)));
    assert_eq!(split_host_port("[::1]:5697"), Some(("::1", 5697)));
    assert_eq!(split_host_port("::1:5697"), None);
    assert_eq!(split_host_port("a.b"), None);
    assert_eq!(split_host_port(":5697"), None);
    assert_eq!(split_host_port("a:0"), None);
    assert_eq!(split_host_port("a:99999"), None);
}

const KEY_ID: &str = "0192f1c0-7a3b-7c4d-8e5f-0123456789ab";

#[test]
fn kad_round_trip() {
    let k = kad::encode(KEY_ID).unwrap();
    assert_eq!(k.unauthenticated.len(), kad::KAD_LEN);
    assert!(k.unauthenticated.len() <= 32, "fits LTO-4's U-KAD");
    assert_eq!(&k.unauthenticated[..4], b"CLV1");
    assert!(k.authenticated.is_empty() && k.nonce.is_empty() && k.metadata.is_empty());
    assert_eq!(kad::decode(&k).unwrap(), KEY_ID);
    // Upper case IDs encode to the same bytes and decode canonical.
    let upper = kad::encode(&KEY_ID.to_uppercase()).unwrap();
    assert_eq!(upper, k);
    assert!(kad::same_key(KEY_ID, &KEY_ID.to_uppercase()));
    assert!(!kad::same_key(
        KEY_ID,
        "0192f1c0-7a3b-7c4d-8e5f-0123456789ac"
    ));
}

#[test]
fn kad_refusals() {
    assert!(matches!(kad::encode("key-1"), Err(KadError::NotAUuid(_))));
    let ukad = |u: &[u8]| KeyAssociatedData {
        unauthenticated: u.to_vec(),
        ..Default::default()
    };
    assert_eq!(
        kad::decode(&KeyAssociatedData::default()),
        Err(KadError::Missing)
    );
    // Another product's KAD, a truncated one, one with extra bytes, another version.
    let mut good = kad::encode(KEY_ID).unwrap().unauthenticated;
    for bad in [
        ukad(b"clavis:group-a"),
        ukad(&good[..19]),
        ukad(&[good.as_slice(), b"x"].concat()),
        ukad(&[b"CLV2".as_slice(), &good[4..]].concat()),
        ukad(b"CLV1"),
    ] {
        match kad::decode(&bad) {
            Err(KadError::Foreign { len, prefix }) => {
                assert_eq!(len, bad.unauthenticated.len());
                assert!(prefix.len() <= 16, "only a short prefix is logged");
            }
            other => panic!("{other:?}"),
        }
    }
    // The A-KAD is not where the agent looks.
    good.clear();
    let only_akad = KeyAssociatedData {
        authenticated: kad::encode(KEY_ID).unwrap().unauthenticated,
        ..Default::default()
    };
    assert_eq!(kad::decode(&only_akad), Err(KadError::Missing));
}

fn health<'a>(site: Option<&'a str>, failed_at: Option<Instant>) -> NodeHealth<'a> {
    NodeHealth { site, failed_at }
}

#[test]
fn ordering_own_site_first_and_stable() {
    let now = Instant::now();
    let cd = Duration::from_secs(30);
    let nodes = [
        health(Some("dc2"), None),
        health(Some("dc1"), None),
        health(None, None), // a seed not yet discovered
        health(Some("dc1"), None),
        health(Some("dc3"), None),
    ];
    assert_eq!(order_nodes(&nodes, "dc1", now, cd), vec![1, 3, 0, 2, 4]);
    assert_eq!(order_nodes(&nodes, "dc2", now, cd), vec![0, 1, 2, 3, 4]);
    // No site configured: nodes with an empty site are "own"; otherwise input order.
    assert_eq!(order_nodes(&nodes, "", now, cd), vec![0, 1, 2, 3, 4]);
    assert!(order_nodes(&[], "dc1", now, cd).is_empty());
}

#[test]
fn ordering_failed_nodes_go_back_until_cooldown_ends() {
    let cd = Duration::from_secs(30);
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(100);
    let nodes = [
        health(Some("dc1"), Some(now - Duration::from_secs(5))), // cooling
        health(Some("dc1"), None),
        health(Some("dc2"), Some(now - Duration::from_secs(20))), // cooling, older failure
        health(Some("dc2"), None),
        health(Some("dc1"), Some(now - Duration::from_secs(31))), // cool-down over
    ];
    // Healthy own site (1, 4), healthy other (3), then cooling, oldest failure first.
    assert_eq!(order_nodes(&nodes, "dc1", now, cd), vec![1, 4, 3, 2, 0]);
    // Later every cool-down has ended: back to site order.
    let later = now + Duration::from_secs(31);
    assert_eq!(order_nodes(&nodes, "dc1", later, cd), vec![0, 1, 4, 2, 3]);
    // A zero cool-down never demotes.
    assert_eq!(
        order_nodes(&nodes, "dc1", now, Duration::ZERO),
        vec![0, 1, 4, 2, 3]
    );
    // Every node failed: all are still tried, none dropped.
    let all_failed = [
        health(Some("dc1"), Some(now - Duration::from_secs(1))),
        health(Some("dc2"), Some(now - Duration::from_secs(2))),
    ];
    assert_eq!(order_nodes(&all_failed, "dc1", now, cd), vec![1, 0]);
}

#[test]
fn failover_decision_per_error_code() {
    let answer = |code| {
        Ok(Response::Error {
            code,
            message: "m".into(),
        })
    };
    for (code, expected) in [
        (ErrorCode::InvalidRequest, false),
        (ErrorCode::Unauthenticated, false),
        (ErrorCode::Denied, false),
        (ErrorCode::NotFound, false),
        (ErrorCode::NoReadyKey, true),
        (ErrorCode::WrongState, false),
        (ErrorCode::Unavailable, true),
        (ErrorCode::UnsupportedVersion, false),
        (ErrorCode::InvalidToken, false),
    ] {
        assert_eq!(fails_over(&answer(code)), expected, "{code:?}");
    }
    for e in [
        AttemptError::Connect("refused".into()),
        AttemptError::Timeout,
        AttemptError::Io("reset".into()),
        AttemptError::Protocol("bad id".into()),
    ] {
        assert!(fails_over(&Err(e.clone())), "{e}");
    }
    assert!(!fails_over(&Ok(Response::Done)));
    assert!(!fails_over(&Ok(Response::Keys(Vec::new()))));
}

// --- in-process fake nodes: real TLS and frames, scripted answers ----------------

mod fake {
    use clavis::agent::wire::{body_len, Request, Response, MAX_FRAME};
    use clavis::tls::{self, CertRole, ClientAuth};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    /// The cluster CA, a node certificate and an agent identity.
    pub struct Pki {
        pub ca_pem: String,
        node_cert: String,
        node_key: clavis::secret::KeyMaterial,
        pub agent_cert: String,
        pub agent_key_pem: String,
    }

    pub fn pki() -> Pki {
        let ca = tls::new_cluster_ca("test").unwrap();
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        let node = tls::issue(&ca.cert_pem, &ca.key_pkcs8, &names, CertRole::Node).unwrap();
        let agent = tls::issue(
            &ca.cert_pem,
            &ca.key_pkcs8,
            &["agent-1".to_string()],
            CertRole::Client,
        )
        .unwrap();
        let key = rcgen::KeyPair::try_from(agent.key_pkcs8.expose_secret()).unwrap();
        Pki {
            ca_pem: ca.cert_pem,
            node_cert: node.cert_pem,
            node_key: node.key_pkcs8,
            agent_cert: agent.cert_pem,
            agent_key_pem: key.serialize_pem(),
        }
    }

    pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

    pub struct Node {
        pub addr: String,
        pub seen: Arc<Mutex<Vec<Request>>>,
    }

    impl Node {
        pub fn count(&self, f: impl Fn(&Request) -> bool) -> usize {
            self.seen.lock().unwrap().iter().filter(|r| f(r)).count()
        }
    }

    /// A node answering every request with `handler`; with `bad_id`, answers carry
    /// the wrong request ID.
    pub async fn node(pki: &Pki, handler: Handler, bad_id: bool) -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cfg = tls::server_config_versions(
            &pki.ca_pem,
            &pki.node_cert,
            &pki.node_key,
            ClientAuth::Optional,
            &[&rustls::version::TLS13],
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(cfg));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, handler, seen) = (acceptor.clone(), handler.clone(), s.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    loop {
                        let mut prefix = [0u8; 4];
                        if tls.read_exact(&mut prefix).await.is_err() {
                            return;
                        }
                        let Ok(n) = body_len(prefix, MAX_FRAME) else {
                            return;
                        };
                        let mut body = vec![0u8; n];
                        if tls.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let Ok(frame) = Request::decode(&body) else {
                            return;
                        };
                        seen.lock().unwrap().push(frame.msg.clone());
                        let answer = handler(&frame.msg);
                        let id = if bad_id {
                            frame.id.wrapping_add(7)
                        } else {
                            frame.id
                        };
                        if tls.write_all(&answer.encode(id)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Node { addr, seen }
    }
}

use clavis::agent::wire::{NodeEntry, Request, WireKey};
use clavis_agent::agent::cluster::{Cluster, ClusterError};
use std::sync::Arc;
use zeroize::Zeroizing;

fn wire_key(id: &str, byte: u8) -> WireKey {
    WireKey {
        key_id: id.into(),
        data_unit_id: Some("du-1".into()),
        length: 256,
        material: Zeroizing::new(vec![byte; 32]),
        protect_stop_date: None,
        deactivation_date: None,
        new_key: true,
    }
}

fn error(code: ErrorCode) -> Response {
    Response::Error {
        code,
        message: format!("scripted {code:?}"),
    }
}

fn cluster(pki: &fake::Pki, seeds: Vec<String>, site: &str) -> Cluster {
    Cluster::from_pem(
        &pki.agent_cert,
        &pki.agent_key_pem,
        &pki.ca_pem,
        seeds,
        site,
        None,
    )
    .unwrap()
}

fn is_write(r: &Request) -> bool {
    matches!(r, Request::KeyForWrite { .. })
}
fn is_report(r: &Request) -> bool {
    matches!(r, Request::ReportUse { .. })
}

#[tokio::test]
async fn fails_over_on_no_ready_key_but_not_on_denied() {
    let pki = fake::pki();
    let list = Arc::new(std::sync::Mutex::new(Vec::<NodeEntry>::new()));
    let l = list.clone();
    let a = fake::node(
        &pki,
        Arc::new(move |r| match r {
            Request::Discover => Response::Nodes(l.lock().unwrap().clone()),
            Request::KeyForWrite { .. } => error(ErrorCode::NoReadyKey),
            Request::Heartbeat => Response::Alive {
                now_ms: 1,
                pool_ready: Some(0),
            },
            _ => Response::Done,
        }),
        false,
    )
    .await;
    let l = list.clone();
    let b = fake::node(
        &pki,
        Arc::new(move |r| match r {
            Request::Discover => Response::Nodes(l.lock().unwrap().clone()),
            Request::KeyForWrite { .. } => Response::Keys(vec![wire_key(KEY_ID, 1)]),
            Request::ReportUse { .. } => error(ErrorCode::Denied),
            Request::Heartbeat => Response::Alive {
                now_ms: 1,
                pool_ready: Some(5),
            },
            _ => error(ErrorCode::InvalidRequest),
        }),
        false,
    )
    .await;
    *list.lock().unwrap() = vec![
        NodeEntry {
            id: "a".into(),
            name: "node-a".into(),
            site: "dc1".into(),
            addr: a.addr.clone(),
        },
        NodeEntry {
            id: "b".into(),
            name: "node-b".into(),
            site: "dc2".into(),
            addr: b.addr.clone(),
        },
    ];
    // Seeds in the "wrong" order: before discovery no site is known.
    let c = cluster(&pki, vec![b.addr.clone(), a.addr.clone()], "dc1");
    assert_eq!(c.ordered(), vec![b.addr.clone(), a.addr.clone()]);
    assert_eq!(c.discover().await.unwrap().len(), 2);
    assert_eq!(c.ordered(), vec![a.addr.clone(), b.addr.clone()]);

    // A's pool is empty: B serves, and A goes to the back for its cool-down.
    let k = c.key_for_write(Some("CLV001L6"), None).await.unwrap();
    assert_eq!(k.key_id, KEY_ID);
    assert_eq!((a.count(is_write), b.count(is_write)), (1, 1));
    assert_eq!(c.ordered(), vec![b.addr.clone(), a.addr.clone()]);
    let st = c.nodes();
    let na = st.iter().find(|n| n.addr == a.addr).unwrap();
    assert_eq!(na.up, Some(true), "an empty pool is not a dead node");
    assert!(na.failed_at.is_some() && na.last_error.is_some());

    // Denied is the cluster's answer: no failover to A.
    let e = c.report_use(KEY_ID, 0, 0).await.unwrap_err();
    assert!(
        matches!(&e, ClusterError::Refused { node, code: ErrorCode::Denied, .. } if *node == b.addr),
        "{e}"
    );
    assert_eq!(a.count(is_report), 0);

    // A heartbeat answered clears A's failure: own site first again.
    let hb = c.heartbeat().await;
    assert_eq!(hb.len(), 2);
    assert!(hb.iter().all(|h| h.result.is_ok()), "{hb:?}");
    assert!(hb
        .iter()
        .any(|h| h.node == b.addr && h.result == Ok(Some(5))));
    assert_eq!(c.ordered(), vec![a.addr.clone(), b.addr.clone()]);
    let na = c.nodes().into_iter().find(|n| n.addr == a.addr).unwrap();
    assert_eq!((na.site.as_deref(), na.pool_ready), (Some("dc1"), Some(0)));
}

#[tokio::test]
async fn dead_and_broken_nodes_fail_over_and_all_empty_is_reported() {
    let pki = fake::pki();
    let keys: fake::Handler = Arc::new(|r| match r {
        Request::KeysForRead { .. } => Response::Keys(vec![wire_key(KEY_ID, 2)]),
        Request::Heartbeat => Response::Alive {
            now_ms: 1,
            pool_ready: None,
        },
        _ => error(ErrorCode::NoReadyKey),
    });
    let good = fake::node(&pki, keys.clone(), false).await;
    let wrong_id = fake::node(&pki, keys, true).await;
    // Nothing listens on port 1: connection refused.
    let dead = "127.0.0.1:1".to_string();
    let c = cluster(
        &pki,
        vec![dead.clone(), wrong_id.addr.clone(), good.addr.clone()],
        "",
    );
    let keys = c.keys_for_read_by_id(KEY_ID).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(*keys[0].material, vec![2u8; 32]);
    let st = c.nodes();
    for bad in [&dead, &wrong_id.addr] {
        let n = st.iter().find(|n| &n.addr == bad).unwrap();
        assert_eq!(n.up, Some(false), "{bad}");
        assert!(n.last_error.is_some());
    }
    assert_eq!(c.ordered()[0], good.addr);
    let hb = c.heartbeat().await;
    let ok: Vec<_> = hb.iter().filter(|h| h.result.is_ok()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].node, good.addr);

    // Every reachable node's pool is empty: the error says so.
    let e = c.key_for_write(Some("T1"), None).await.unwrap_err();
    assert!(matches!(e, ClusterError::Unreachable { .. }), "{e}");
    assert_eq!(e.code(), Some(ErrorCode::NoReadyKey), "{e}");
}

// --- the drive loop against the emulator ------------------------------------------

use clavis_agent::agent::service::{DriveService, Event, Phase};
use clavis_agent::drive::{BlockEncryption, Drive, EncryptionMode, KeyMode};
use clavis_agent::emu_socket::{EmuServer, EmuSocketTransport};
use clavis_agent::emulator::tape_path;
use clavis_agent::emulator::EmulatedDrive;
use clavis_agent::lto::LtoDrive;
use clavis_agent::scsi::host::{self, ReadOutcome};

const OTHER_KEY: &str = "0192f1c0-0000-7000-8000-000000000002";

/// Writes a tape `barcode` with `key` and `kad` loaded directly, as another system
/// would have.
fn foreign_tape(server: &EmuServer, barcode: &str, kad: KeyAssociatedData) {
    let mut d = server.drive().lock().unwrap();
    d.load(barcode).unwrap();
    LtoDrive::new(&mut *d)
        .load_key(&[9u8; 32], &kad, KeyMode::Encrypt)
        .unwrap();
    host::write_block(&mut *d, b"someone else's data").unwrap();
    d.unload();
}

#[tokio::test]
async fn drive_loop_writes_reads_and_refuses() {
    let pki = fake::pki();
    let node = fake::node(
        &pki,
        Arc::new(|r| match r {
            Request::KeyForWrite { .. } => Response::Keys(vec![wire_key(KEY_ID, 0x42)]),
            Request::KeysForRead {
                key_id: Some(id), ..
            } if id == KEY_ID => Response::Keys(vec![wire_key(KEY_ID, 0x42)]),
            Request::KeysForRead { .. } => error(ErrorCode::NotFound),
            _ => Response::Done,
        }),
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = EmuServer::spawn(
        EmulatedDrive::new("EMU1", dir.path().join("lib")).unwrap(),
        dir.path().join("emu.sock"),
    )
    .unwrap();
    let transport = EmuSocketTransport::connect(server.path()).unwrap();
    let mut svc = DriveService::new(
        "drive0",
        Box::new(LtoDrive::new(transport)),
        cluster(&pki, vec![node.addr.clone()], "dc1"),
    );

    assert_eq!(svc.poll_once().await, vec![]);

    // A blank tape: the write key, with its ID as KAD.
    server.drive().lock().unwrap().load("CLV001L6").unwrap();
    let ev = svc.poll_once().await;
    assert!(matches!(ev[0], Event::MediumArrived { .. }), "{ev:?}");
    assert_eq!(
        ev[1..],
        [Event::KeyLoaded {
            key_id: KEY_ID.into(),
            mode: KeyMode::Encrypt
        }]
    );
    assert_eq!(svc.phase(), Some(Phase::Writing));
    {
        let mut d = server.drive().lock().unwrap();
        host::write_block(&mut *d, b"backup data").unwrap();
        let st = LtoDrive::new(&mut *d).status().unwrap();
        assert_eq!(st.encryption, EncryptionMode::Encrypt);
        assert_eq!(kad::decode(&st.kad).unwrap(), KEY_ID);
    }
    assert_eq!(svc.poll_once().await, vec![], "steady state: nothing to do");

    // Unloaded: key cleared, use reported.
    server.drive().lock().unwrap().unload();
    assert_eq!(
        svc.poll_once().await,
        vec![Event::MediumRemoved, Event::KeyCleared]
    );
    assert_eq!(node.count(is_report), 1);
    // The bytes written while the key was loaded, from the drive's log page.
    assert_eq!(
        node.count(|r| matches!(r, Request::ReportUse { key_id, bytes_written: 11, bytes_read: 0 } if key_id == KEY_ID)),
        1
    );

    // Back for reading: the key the tape names, for decryption only.
    server.drive().lock().unwrap().load("CLV001L6").unwrap();
    let ev = svc.poll_once().await;
    assert_eq!(
        ev[1..],
        [Event::KeyLoaded {
            key_id: KEY_ID.into(),
            mode: KeyMode::Read
        }],
        "{ev:?}"
    );
    assert_eq!(svc.phase(), Some(Phase::Reading));
    {
        let mut d = server.drive().lock().unwrap();
        assert_eq!(
            host::read_block(&mut *d, 1 << 20).unwrap(),
            ReadOutcome::Block(b"backup data".to_vec())
        );
        // The application appends after reading: the drive holds the read key and
        // must encrypt with it (a real drive told DISABLE writes this in clear).
        host::write_block(&mut *d, b"appended data").unwrap();
        host::rewind(&mut *d).unwrap();
        host::read_block(&mut *d, 1 << 20).unwrap();
        let nb = LtoDrive::new(&mut *d).next_block().unwrap();
        assert_eq!(nb.state, BlockEncryption::EncryptedKeyAvailable);
        assert_eq!(kad::decode(&nb.kad).unwrap(), KEY_ID);
        d.unload();
        let raw = std::fs::read(tape_path(d.library(), "CLV001L6")).unwrap();
        assert!(!raw.windows(13).any(|w| w == b"appended data"));
    }
    svc.poll_once().await;

    // A tape written by another product: no key, and the drive stays without one.
    foreign_tape(
        &server,
        "FOREIGN1",
        KeyAssociatedData {
            unauthenticated: b"other:key-7".to_vec(),
            ..Default::default()
        },
    );
    server.drive().lock().unwrap().load("FOREIGN1").unwrap();
    let ev = svc.poll_once().await;
    assert!(
        matches!(&ev[1], Event::Failed(m) if m.contains("not a Clavis key ID")),
        "{ev:?}"
    );
    assert_eq!(svc.loaded_key(), None);
    server.drive().lock().unwrap().unload();
    svc.poll_once().await;

    // A Clavis tape whose key the cluster does not give: no key either.
    foreign_tape(&server, "UNKNOWN1", kad::encode(OTHER_KEY).unwrap());
    server.drive().lock().unwrap().load("UNKNOWN1").unwrap();
    let ev = svc.poll_once().await;
    assert!(
        matches!(&ev[1], Event::Failed(m) if m.contains("NotFound")),
        "{ev:?}"
    );
    assert_eq!(svc.loaded_key(), None);
    let mut d = server.drive().lock().unwrap();
    let st = LtoDrive::new(&mut *d).status().unwrap();
    assert_eq!(st.encryption, EncryptionMode::Disable);
    assert!(host::read_block(&mut *d, 1 << 20).is_err());
}

/// A read key whose encryption period is over must not protect appended data: at the
/// end of data the agent swaps it for the data unit's write key.
#[tokio::test]
async fn expired_read_key_is_swapped_for_the_write_key_at_end_of_data() {
    const NEW_KEY: &str = "0192f1c0-0000-7000-8000-000000000003";
    let pki = fake::pki();
    let node = fake::node(
        &pki,
        Arc::new(|r| match r {
            Request::KeyForWrite { .. } => Response::Keys(vec![wire_key(NEW_KEY, 0x43)]),
            Request::KeysForRead {
                key_id: Some(id), ..
            } if id == KEY_ID => Response::Keys(vec![WireKey {
                protect_stop_date: Some(1),
                new_key: false,
                ..wire_key(KEY_ID, 0x42)
            }]),
            Request::KeysForRead {
                key_id: Some(id), ..
            } if id == NEW_KEY => Response::Keys(vec![wire_key(NEW_KEY, 0x43)]),
            Request::KeysForRead { .. } => error(ErrorCode::NotFound),
            _ => Response::Done,
        }),
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = EmuServer::spawn(
        EmulatedDrive::new("EMU1", dir.path().join("lib")).unwrap(),
        dir.path().join("emu.sock"),
    )
    .unwrap();
    // An old tape written with KEY_ID.
    {
        let mut d = server.drive().lock().unwrap();
        d.load("OLD001L6").unwrap();
        LtoDrive::new(&mut *d)
            .load_key(&[0x42; 32], &kad::encode(KEY_ID).unwrap(), KeyMode::Encrypt)
            .unwrap();
        host::write_block(&mut *d, b"old data").unwrap();
        d.unload();
        d.load("OLD001L6").unwrap();
    }
    let transport = EmuSocketTransport::connect(server.path()).unwrap();
    let mut svc = DriveService::new(
        "drive0",
        Box::new(LtoDrive::new(transport)),
        cluster(&pki, vec![node.addr.clone()], "dc1"),
    );
    let ev = svc.poll_once().await;
    assert_eq!(
        ev[1..],
        [Event::KeyLoaded {
            key_id: KEY_ID.into(),
            mode: KeyMode::Read
        }],
        "{ev:?}"
    );
    // Still on its block: the read key stays.
    assert_eq!(svc.poll_once().await, vec![]);
    {
        let mut d = server.drive().lock().unwrap();
        assert_eq!(
            host::read_block(&mut *d, 1 << 20).unwrap(),
            ReadOutcome::Block(b"old data".to_vec())
        );
    }
    // At the end of data: the write key replaces it.
    assert_eq!(
        svc.poll_once().await,
        vec![Event::KeyLoaded {
            key_id: NEW_KEY.into(),
            mode: KeyMode::Encrypt
        }]
    );
    assert_eq!(node.count(|r| matches!(r, Request::KeyForWrite { .. })), 1);
    {
        let mut d = server.drive().lock().unwrap();
        host::write_block(&mut *d, b"new data").unwrap();
        host::rewind(&mut *d).unwrap();
    }
    // Reading it all back needs both keys, each loaded when its block comes.
    assert_eq!(
        svc.poll_once().await,
        vec![Event::KeyLoaded {
            key_id: KEY_ID.into(),
            mode: KeyMode::Read
        }]
    );
    let read = |server: &EmuServer| {
        let mut d = server.drive().lock().unwrap();
        host::read_block(&mut *d, 1 << 20).unwrap()
    };
    assert_eq!(read(&server), ReadOutcome::Block(b"old data".to_vec()));
    let ev = svc.poll_once().await;
    assert_eq!(
        ev,
        vec![Event::KeyLoaded {
            key_id: NEW_KEY.into(),
            mode: KeyMode::Read
        }]
    );
    assert_eq!(read(&server), ReadOutcome::Block(b"new data".to_vec()));
}

// --- enrollment and the state directory -------------------------------------------

use clavis_agent::agent::client::Identity;
use clavis_agent::agent::cluster::{ClusterSettings, NODES_FILE};
use clavis_agent::agent::enroll::{self, EnrollError};

#[tokio::test]
async fn enroll_answers_and_state_dir() {
    let pki = fake::pki();
    let (cert, ca) = (pki.agent_cert.clone(), pki.ca_pem.clone());
    let node = fake::node(
        &pki,
        Arc::new(move |r| match r {
            Request::Enroll { token, csr_pem } if token.as_str() == "clvE_good" => {
                assert!(csr_pem.contains("CERTIFICATE REQUEST"));
                Response::Enrolled {
                    cert_pem: cert.clone(),
                    ca_pem: ca.clone(),
                    endpoint: "agent-1".into(),
                }
            }
            Request::Enroll { .. } => Response::Error {
                code: ErrorCode::InvalidToken,
                message: "the enrollment token is unknown, used or expired".into(),
            },
            _ => error(ErrorCode::Unauthenticated),
        }),
        false,
    )
    .await;
    let seeds = vec!["127.0.0.1:1".to_string(), node.addr.clone()];
    let t = Duration::from_secs(2);
    // The node's own message comes through.
    let e = enroll::enroll(
        &seeds,
        None,
        &pki.ca_pem,
        &Zeroizing::new("clvE_bad".into()),
        t,
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(
            &e,
            EnrollError::Refused {
                code: ErrorCode::InvalidToken,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("unknown, used or expired"), "{e}");
    // A node whose certificate is not from the given CA never sees the token.
    let other_ca = clavis::tls::new_cluster_ca("other").unwrap().cert_pem;
    let e = enroll::enroll(
        &seeds,
        None,
        &other_ca,
        &Zeroizing::new("clvE_good".into()),
        t,
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(e, EnrollError::Unreachable { .. }), "{e}");
    let ok = enroll::enroll(
        &seeds,
        None,
        &pki.ca_pem,
        &Zeroizing::new("clvE_good".into()),
        t,
    )
    .await
    .unwrap();
    assert_eq!(ok.endpoint, "agent-1");
    assert!(ok.identity.expose_key_pem().contains("PRIVATE KEY"));

    // Stored with the right modes; a cluster built from the directory learns and keeps
    // the node list.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let id = Identity::new(
        pki.agent_cert.clone(),
        Zeroizing::new(pki.agent_key_pem.clone()),
        pki.ca_pem.clone(),
    );
    enroll::save_identity(&state, &id).unwrap();
    let mode = |p: &str| {
        std::fs::metadata(state.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("key.pem"), 0o600);
    assert_eq!(mode("cert.pem"), 0o644);
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );

    let listed = fake::node(
        &pki,
        Arc::new(|r| match r {
            Request::Discover => Response::Nodes(vec![NodeEntry {
                id: "n2".into(),
                name: "node-2".into(),
                site: "dc9".into(),
                addr: "127.0.0.1:2".into(),
            }]),
            _ => Response::Done,
        }),
        false,
    )
    .await;
    let c = Cluster::from_state_dir(
        &state,
        vec![listed.addr.clone()],
        ClusterSettings::default(),
    )
    .unwrap();
    c.discover().await.unwrap();
    assert!(state.join(NODES_FILE).exists());
    let again = Cluster::from_state_dir(
        &state,
        vec![listed.addr.clone()],
        ClusterSettings::default(),
    )
    .unwrap();
    let addrs: Vec<_> = again.nodes().into_iter().map(|n| n.addr).collect();
    assert_eq!(addrs, vec!["127.0.0.1:2".to_string(), listed.addr.clone()]);

    // Without enrollment, the error says what to do.
    let e = Cluster::from_state_dir(&dir.path().join("none"), seeds, ClusterSettings::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("enroll first"), "{e}");
}
