//! Clavis against PyKMIP's own server, on this machine, with the same KMIP client
//! workload: each iteration is Create (AES-256, with a unique Name) → Get of that key →
//! Locate by that Name, over one connection and over 16. Prints operations per second
//! and p50/p99 latency per operation and overall for each server, then Clavis/PyKMIP
//! ratios. No assertions on times: this is a measurement. See `benches/README.md`.
//!
//! Run: `cargo bench --bench kmip` (PyKMIP rows need `CLAVIS_PYTHON` pointing at a
//! Python with PyKMIP 0.11 installed, or `target/pykmip-venv`; without one they are
//! skipped and the output says why). `CLAVIS_BENCH_N` sets the iterations per case for
//! PyKMIP (default 300); Clavis cases do 10 × N.

use clavis::kmip::enums::{
    cryptographic_algorithm, name_type, object_type, operation, result_status,
};
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{message_length, Limits, Ttlv, Value};
use clavis::rot::WrappedKey;
use clavis::service::{KeyService, Principal};
use clavis::store::ListFilter;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const N_ENV: &str = "CLAVIS_BENCH_N";
/// Iterations (create + get + locate) per PyKMIP case.
const DEFAULT_N: usize = 300;
/// Clavis cases do this many times more iterations.
const CLAVIS_FACTOR: usize = 10;
/// Connections per case.
const CONCURRENCY: [usize; 2] = [1, 16];
/// Untimed iterations per connection before a case's clock starts.
const WARMUP: usize = 2;
/// A case stops handing out iterations after this long; its rates are over what it did.
const PYKMIP_BUDGET: Duration = Duration::from_secs(25);
const CLAVIS_BUDGET: Duration = Duration::from_secs(10);
/// The PyKMIP ratio goal from the issue.
const GOAL: f64 = 20.0;

const SOFTWARE_ROT: &str =
    "[root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n";
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Tokens: one for the node serving KMIP, one for the in-process rows.
const TOKENS: [&str; 2] = ["kmip-bench", "kmip-bench-service"];
const PIN: &str = "kmip-bench-pin";

// ---------------------------------------------------------------------------------
// KMIP client

/// The three operations of an iteration.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Locate,
}

const OPS: [Op; 3] = [Op::Create, Op::Get, Op::Locate];

impl Op {
    fn index(self) -> usize {
        self as usize
    }
}

/// One KMIP connection: TTLV over TLS, one request at a time.
struct Conn {
    stream: TlsStream<TcpStream>,
    limits: Limits,
}

/// TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 (KMIP 1.x specifies TLS 1.2, and it is
/// all PyKMIP's server speaks), trusting the cluster CA, with the endpoint's
/// certificate. Used for both servers.
fn tls_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Arc<rustls::ClientConfig> {
    let key = clavis::tls::parse_private_key_pem(key_pem).expect("client key PEM");
    let mut roots = rustls::RootCertStore::empty();
    for c in clavis::tls::parse_certs(ca_pem).expect("CA PEM") {
        roots.add(c).expect("CA certificate");
    }
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
        key.expose_secret().to_vec(),
    ));
    // The suite PyKMIP's server picks (its own preference order), for Clavis as well.
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            clavis::tls::parse_certs(cert_pem).expect("client certificate"),
            key,
        )
        .expect("client certificate and key");
    Arc::new(cfg)
}

impl Conn {
    async fn connect(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Result<Conn, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("server name");
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
        Ok(Conn {
            stream,
            limits: Limits::default(),
        })
    }

    /// Sends one single-item KMIP 1.2 request; returns the response payload of a
    /// successful result, or the server's result as an error.
    async fn call(&mut self, op: u32, payload: Vec<Ttlv>) -> Result<Ttlv, String> {
        let request = Ttlv::structure(
            t::REQUEST_MESSAGE,
            vec![
                Ttlv::structure(
                    t::REQUEST_HEADER,
                    vec![
                        Ttlv::structure(
                            t::PROTOCOL_VERSION,
                            vec![
                                Ttlv::int(t::PROTOCOL_VERSION_MAJOR, 1),
                                Ttlv::int(t::PROTOCOL_VERSION_MINOR, 2),
                            ],
                        ),
                        Ttlv::int(t::BATCH_COUNT, 1),
                    ],
                ),
                Ttlv::structure(
                    t::REQUEST_BATCH_ITEM,
                    vec![
                        Ttlv::enumeration(t::OPERATION, op),
                        Ttlv::structure(t::REQUEST_PAYLOAD, payload),
                    ],
                ),
            ],
        );
        let io = |e: std::io::Error| format!("connection: {e}");
        self.stream.write_all(&request.encode()).await.map_err(io)?;
        self.stream.flush().await.map_err(io)?;
        let mut header = [0u8; 8];
        self.stream.read_exact(&mut header).await.map_err(io)?;
        let total = message_length(&header, &self.limits).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; total];
        buf[..8].copy_from_slice(&header);
        self.stream.read_exact(&mut buf[8..]).await.map_err(io)?;
        let response = Ttlv::decode(&buf, &self.limits).map_err(|e| e.to_string())?;
        let item = response
            .child(t::RESPONSE_BATCH_ITEM)
            .ok_or("response without a batch item")?;
        match item.child(t::RESULT_STATUS).map(|s| &s.value) {
            Some(Value::Enumeration(result_status::SUCCESS)) => {}
            other => {
                let message = match item.child(t::RESULT_MESSAGE).map(|m| &m.value) {
                    Some(Value::TextString(m)) => m.clone(),
                    _ => String::new(),
                };
                return Err(format!("operation 0x{op:x} failed ({other:?}): {message}"));
            }
        }
        Ok(item
            .child(t::RESPONSE_PAYLOAD)
            .cloned()
            .unwrap_or_else(|| Ttlv::structure(t::RESPONSE_PAYLOAD, vec![])))
    }
}

fn attribute(name: &str, value: Value) -> Ttlv {
    Ttlv::structure(
        t::ATTRIBUTE,
        vec![
            Ttlv::text(t::ATTRIBUTE_NAME, name),
            Ttlv {
                tag: t::ATTRIBUTE_VALUE,
                value,
            },
        ],
    )
}

fn name_attribute(name: &str) -> Ttlv {
    attribute(
        "Name",
        Value::Structure(vec![
            Ttlv::text(t::NAME_VALUE, name),
            Ttlv::enumeration(t::NAME_TYPE, name_type::UNINTERPRETED_TEXT_STRING),
        ]),
    )
}

fn create_payload(name: &str) -> Vec<Ttlv> {
    vec![
        Ttlv::enumeration(t::OBJECT_TYPE, object_type::SYMMETRIC_KEY),
        Ttlv::structure(
            t::TEMPLATE_ATTRIBUTE,
            vec![
                attribute(
                    "Cryptographic Algorithm",
                    Value::Enumeration(cryptographic_algorithm::AES),
                ),
                attribute("Cryptographic Length", Value::Integer(256)),
                attribute("Cryptographic Usage Mask", Value::Integer(4 | 8)),
                name_attribute(name),
            ],
        ),
    ]
}

fn unique_ids(payload: &Ttlv) -> Vec<&str> {
    payload
        .children_with(t::UNIQUE_IDENTIFIER)
        .filter_map(|c| match &c.value {
            Value::TextString(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// The 32 key bytes somewhere under a Get payload's Key Block (Raw or Transparent).
fn key_bytes_len(item: &Ttlv) -> Option<usize> {
    if let (t::KEY_MATERIAL | t::KEY, Value::ByteString(b)) = (item.tag, &item.value) {
        return Some(b.len());
    }
    item.children().iter().find_map(key_bytes_len)
}

/// One iteration: create a named key, get it, locate it by name. Checks every answer.
async fn iteration(conn: &mut Conn, name: &str, lat: Option<&mut Latencies>) -> Result<(), String> {
    let mut times = [Duration::ZERO; 3];
    let start = Instant::now();
    let created = conn.call(operation::CREATE, create_payload(name)).await?;
    times[0] = start.elapsed();
    let id = unique_ids(&created)
        .first()
        .map(|s| s.to_string())
        .ok_or("Create answered no Unique Identifier")?;

    let start = Instant::now();
    let got = conn
        .call(
            operation::GET,
            vec![Ttlv::text(t::UNIQUE_IDENTIFIER, id.clone())],
        )
        .await?;
    times[1] = start.elapsed();
    if got.child(t::SYMMETRIC_KEY).and_then(key_bytes_len) != Some(32) {
        return Err(format!("Get {id}: no 32-byte symmetric key in {got:?}"));
    }

    let start = Instant::now();
    let located = conn
        .call(operation::LOCATE, vec![name_attribute(name)])
        .await?;
    times[2] = start.elapsed();
    let ids = unique_ids(&located);
    if ids != [id.as_str()] {
        return Err(format!("Locate {name}: expected [{id}], got {ids:?}"));
    }
    if let Some(lat) = lat {
        for op in OPS {
            lat.0[op.index()].push(times[op.index()]);
        }
    }
    Ok(())
}

/// Latencies by operation.
#[derive(Default)]
struct Latencies([Vec<Duration>; 3]);

/// What a case measured.
struct CaseResult {
    lat: Latencies,
    secs: f64,
    /// The negotiated TLS version and cipher suite, when over KMIP.
    tls: String,
}

/// Runs `n` iterations (or until `budget`) over `conns` connections to `addr`. Names
/// are `prefix-<i>`, unique per case.
async fn run_case(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    conns: usize,
    n: usize,
    budget: Duration,
    prefix: &str,
) -> Result<CaseResult, String> {
    // Connect one after another (PyKMIP listens with a backlog of 5), then warm up.
    let mut connections = Vec::with_capacity(conns);
    let mut negotiated = String::new();
    for c in 0..conns {
        let mut conn = Conn::connect(addr, tls.clone()).await?;
        if let (Some(v), Some(s)) = (
            conn.stream.get_ref().1.protocol_version(),
            conn.stream.get_ref().1.negotiated_cipher_suite(),
        ) {
            negotiated = format!("{v:?} {:?}", s.suite());
        }
        for w in 0..WARMUP {
            iteration(&mut conn, &format!("{prefix}-warmup-{c}-{w}"), None).await?;
        }
        connections.push(conn);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let (next, prefix) = (next.clone(), prefix.to_owned());
            tokio::spawn(async move {
                let mut lat = Latencies::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || start.elapsed() >= budget {
                        break;
                    }
                    iteration(&mut conn, &format!("{prefix}-{i}"), Some(&mut lat)).await?;
                }
                Ok::<_, String>(lat)
            })
        })
        .collect();
    let mut all = Latencies::default();
    let mut first_error = None;
    for task in tasks {
        match task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(lat) => {
                for (into, from) in all.0.iter_mut().zip(lat.0) {
                    into.extend(from);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    match first_error {
        Some(e) => Err(e),
        None => Ok(CaseResult {
            lat: all,
            secs,
            tls: negotiated,
        }),
    }
}

// ---------------------------------------------------------------------------------
// Figures

/// Rate and latency percentiles of some operations.
#[derive(Clone, Copy, Default)]
struct Figures {
    ops: usize,
    per_sec: f64,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn figures(lat: &[Duration], secs: f64) -> Figures {
    let mut sorted: Vec<Duration> = lat.to_vec();
    sorted.sort_unstable();
    let pct = |p: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1].as_secs_f64() * 1e3
    };
    Figures {
        ops: sorted.len(),
        per_sec: if secs > 0.0 {
            sorted.len() as f64 / secs
        } else {
            0.0
        },
        mean_ms: if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<Duration>().as_secs_f64() * 1e3 / sorted.len() as f64
        },
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Figures for create, get, locate, and all three together.
fn summarize(r: &CaseResult) -> [Figures; 4] {
    let all: Vec<Duration> = r.lat.0.iter().flatten().copied().collect();
    [
        figures(&r.lat.0[0], r.secs),
        figures(&r.lat.0[1], r.secs),
        figures(&r.lat.0[2], r.secs),
        figures(&all, r.secs),
    ]
}

const ROW_NAMES: [&str; 4] = ["create", "get", "locate", "all"];

fn print_header() {
    println!(
        "{:<34} {:>5}  {:<6} {:>6} {:>9} {:>8} {:>8} {:>8}",
        "server", "conns", "op", "ops", "ops/s", "mean ms", "p50 ms", "p99 ms"
    );
}

fn print_case(server: &str, conns: usize, f: &[Figures; 4], r: &CaseResult, objects: usize) {
    for (i, (row, fig)) in ROW_NAMES.iter().zip(f).enumerate() {
        let (s, c) = if i == 0 {
            (server, conns.to_string())
        } else {
            ("", String::new())
        };
        println!(
            "{:<34} {:>5}  {:<6} {:>6} {:>9.1} {:>8.2} {:>8.2} {:>8.2}",
            s, c, row, fig.ops, fig.per_sec, fig.mean_ms, fig.p50_ms, fig.p99_ms
        );
    }
    println!(
        "{:<34} {:>5}  (wall {:.2} s; {objects} objects on the server at the end{}{})",
        "",
        "",
        r.secs,
        if r.tls.is_empty() { "" } else { "; " },
        r.tls
    );
}

// ---------------------------------------------------------------------------------
// Clavis

/// A Clavis node on its own runtime, with an enrolled KMIP endpoint.
struct ClavisNode {
    label: &'static str,
    _dir: TempDir,
    rt: tokio::runtime::Runtime,
    node: Option<clavis::node::RunningNode>,
    kmip: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    ca_pem: String,
    /// Objects created on the node so far (each Locate looks through them, see README).
    objects: std::cell::Cell<usize>,
}

impl ClavisNode {
    /// Initializes and starts a node (SQLite store, the given root of trust) on a
    /// multi-thread runtime with one worker per CPU, as `clavisd` runs.
    fn start(label: &'static str, rot_section: &str) -> ClavisNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[node]\nname = \"bench\"\ndata_dir = \"data\"\n\n{rot_section}\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nlisten = \"127.0.0.1:0\"\n\n[agent]\nlisten = \"127.0.0.1:0\"\n"
        );
        let path = dir.path().join("clavis.toml");
        std::fs::write(&path, text).expect("write clavis.toml");
        let cfg = clavis::config::Config::load(&path).expect("config loads");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        let (node, files) = rt.block_on(async {
            clavis::node::init(&cfg)
                .await
                .unwrap_or_else(|e| panic!("init ({label}): {e}"));
            let node = clavis::node::start(&cfg)
                .await
                .unwrap_or_else(|e| panic!("start ({label}): {e}"));
            let files = enroll_endpoint(&node.service, "kmip-bench").await;
            (node, files)
        });
        let kmip = node.kmip_addr.expect("KMIP enabled");
        let tls = tls_config(&files.ca_pem, &files.cert_pem, &files.key_pem);
        ClavisNode {
            label,
            _dir: dir,
            rt,
            node: Some(node),
            kmip,
            tls,
            ca_pem: files.ca_pem,
            objects: std::cell::Cell::new(0),
        }
    }

    fn service(&self) -> Arc<KeyService> {
        self.node.as_ref().expect("running").service.clone()
    }

    /// A server certificate (SANs 127.0.0.1, localhost) and PKCS#8 key issued by this
    /// node's cluster CA, for PyKMIP's server.
    fn issue_server_cert(&self) -> (String, String) {
        let svc = self.service();
        self.rt.block_on(async {
            let ca = svc
                .store()
                .credential("cluster-ca")
                .await
                .expect("store")
                .expect("cluster-ca credential");
            let ca_key = svc
                .rot()
                .unwrap(
                    &WrappedKey::from_bytes(&ca.wrapped_key).expect("envelope"),
                    "cluster-ca",
                )
                .expect("unwrap CA key");
            let issued = clavis::tls::issue(
                &ca.cert_pem,
                &ca_key,
                &["127.0.0.1".into(), "localhost".into()],
                clavis::tls::CertRole::Node,
            )
            .expect("issue server certificate");
            (issued.cert_pem, pkcs8_pem(issued.key_pkcs8.expose_secret()))
        })
    }

    /// The service alone, in process on the node's runtime (no TLS, no KMIP, no
    /// endpoint lookup): create_key, get_material, list by name, `n` times on one task.
    fn in_process(&self, n: usize, budget: Duration) -> CaseResult {
        let svc = self.service();
        self.rt.block_on(async move {
            let who = Principal::system("bench");
            let mut lat = Latencies::default();
            let start = Instant::now();
            for i in 0..n {
                if start.elapsed() >= budget {
                    break;
                }
                let name = format!("in-process-{i}");
                let t0 = Instant::now();
                let meta = svc
                    .create_key(
                        &who,
                        clavis::service::CreateKey {
                            algorithm: clavis::keys::Algorithm::Aes,
                            length: 256,
                            name: Some(name.clone()),
                            activate: false,
                            attributes: Default::default(),
                        },
                    )
                    .await
                    .expect("create_key");
                let t1 = Instant::now();
                let (_, material) = svc.get_material(&who, &meta.id).await.expect("get");
                assert_eq!(material.expose_secret().len(), 32);
                let t2 = Instant::now();
                let found = svc
                    .list(
                        &who,
                        ListFilter {
                            name: Some(name),
                            limit: Some(1000),
                            ..ListFilter::default()
                        },
                    )
                    .await
                    .expect("list");
                assert_eq!(found.len(), 1);
                let t3 = Instant::now();
                lat.0[0].push(t1 - t0);
                lat.0[1].push(t2 - t1);
                lat.0[2].push(t3 - t2);
            }
            CaseResult {
                lat,
                secs: start.elapsed().as_secs_f64(),
                tls: String::new(),
            }
        })
    }
}

impl Drop for ClavisNode {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            self.rt.block_on(node.stop());
        }
    }
}

struct EndpointFiles {
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
}

/// Registers and enrolls a KMIP endpoint with a key pair made here (as an operator
/// would with `clavis endpoint enroll`).
async fn enroll_endpoint(svc: &KeyService, name: &str) -> EndpointFiles {
    let admin = Principal::system("admin");
    let (_, token) = svc
        .register_endpoint(&admin, name, "kmip", None, None)
        .await
        .expect("register endpoint");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let csr = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("csr pem");
    let enrolled = svc.enroll(&token.token, &csr, None).await.expect("enroll");
    EndpointFiles {
        cert_pem: enrolled.certificate_pem,
        key_pem: key.serialize_pem(),
        ca_pem: enrolled.ca_pem,
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// A SoftHSM2 token in a private directory (`SOFTHSM2_CONF` points at it), or why not.
fn softhsm_tokens() -> Result<(TempDir, Vec<String>), String> {
    if !Path::new(MODULE).exists() {
        return Err(format!("{MODULE} not found (Debian package softhsm2)"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).map_err(|e| e.to_string())?;
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    // Before any thread exists and before any PKCS#11 call in this process.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let mut sections = Vec::new();
    for token in TOKENS {
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", token])
            .args(["--so-pin", "kmip-bench-so", "--pin", PIN])
            .output()
            .map_err(|e| format!("softhsm2-util: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        sections.push(format!(
            "[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"{token}\"\npin = \"{PIN}\"\n",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("hsm-profiles/softhsm2.toml")
                .display()
        ));
    }
    Ok((dir, sections))
}

// ---------------------------------------------------------------------------------
// PyKMIP

/// The Python interpreter with PyKMIP, or why there is none.
fn pykmip_python() -> Result<String, String> {
    let python = match std::env::var("CLAVIS_PYTHON") {
        Ok(p) => p,
        Err(_) => {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pykmip-venv/bin/python");
            if !venv.exists() {
                return Err(
                    "CLAVIS_PYTHON is not set and target/pykmip-venv does not exist \
                     (scripts/bench.sh installs PyKMIP there)"
                        .into(),
                );
            }
            venv.display().to_string()
        }
    };
    let out = Command::new(&python)
        .args(["-c", "import kmip; print(kmip.__version__)"])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{python} cannot import kmip (PyKMIP)"));
    }
    Ok(python)
}

/// PyKMIP's server in a subprocess (benches/pykmip_server.py), with its own directory
/// (SQLite database, empty policy directory, log).
struct PyKmipServer {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: TempDir,
    addr: SocketAddr,
}

impl PyKmipServer {
    fn start(python: &str, cert: &Path, key: &Path, ca: &Path) -> Result<PyKmipServer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pykmip_server.py");
        let stderr =
            std::fs::File::create(dir.path().join("stderr.txt")).map_err(|e| e.to_string())?;
        let mut child = Command::new(python)
            .arg(script)
            .args(["127.0.0.1", &port.to_string()])
            .args([cert, key, ca, dir.path()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("spawn {python}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut server = PyKmipServer {
            child,
            stdin,
            dir,
            addr,
        };
        // "bound" once the socket is bound; then it listens.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.trim() == "bound" => {}
            _ => return Err(format!("PyKMIP server did not start: {}", server.stderr())),
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "PyKMIP server does not accept connections: {}",
                    server.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn stderr(&mut self) -> String {
        let _ = self.child.try_wait();
        let text = std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default();
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!("stderr:\n{}\nserver.log:\n{}", tail(&text), tail(&log))
    }
}

impl Drop for PyKmipServer {
    fn drop(&mut self) {
        // End of stdin makes the launcher shut PyKMIP's manager process down and exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files PyKMIP's server needs: its certificate and key, and the cluster CA.
struct PyKmipFiles {
    _dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

fn pykmip_files(node: &ClavisNode) -> PyKmipFiles {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_pem, key_pem) = node.issue_server_cert();
    let (cert, key, ca) = (
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, cert_pem).expect("write cert");
    std::fs::write(&key, key_pem).expect("write key");
    std::fs::write(&ca, &node.ca_pem).expect("write CA");
    PyKmipFiles {
        _dir: dir,
        cert,
        key,
        ca,
    }
}

// ---------------------------------------------------------------------------------

fn main() {
    let n: usize = std::env::var(N_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(DEFAULT_N);
    let n_clavis = n * CLAVIS_FACTOR;
    // SoftHSM2 must be configured before any thread starts.
    let softhsm = softhsm_tokens();
    let python = pykmip_python();

    let software = ClavisNode::start("Clavis (software RoT, SQLite)", SOFTWARE_ROT);
    let hsm = match &softhsm {
        Ok((_, sections)) => Some(ClavisNode::start("Clavis (SoftHSM2, SQLite)", &sections[0])),
        Err(e) => {
            println!("note: SoftHSM2 rows skipped: {e}");
            None
        }
    };
    let py_files = pykmip_files(&software);
    if let Err(e) = &python {
        println!("note: PyKMIP rows skipped: {e}");
    }

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    println!(
        "KMIP 1.2 over TLS 1.2 on loopback; an iteration is Create (AES-256, named) → Get → Locate by name."
    );
    println!(
        "Iterations per case: PyKMIP {n} (budget {}s), Clavis {n_clavis} (budget {}s); {WARMUP} untimed per connection first.",
        PYKMIP_BUDGET.as_secs(),
        CLAVIS_BUDGET.as_secs()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} CPUs; load average before the run: {} (other work on the machine skews both sides).",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    print_header();

    let mut ratios: Vec<(usize, &str, [Figures; 4], [Figures; 4])> = Vec::new();
    for conns in CONCURRENCY {
        let mut clavis_figs = Vec::new();
        for node in std::iter::once(&software).chain(hsm.as_ref()) {
            let prefix = format!("clavis-{conns}-{}", uuid::Uuid::now_v7().simple());
            match client.block_on(run_case(
                node.kmip,
                node.tls.clone(),
                conns,
                n_clavis,
                CLAVIS_BUDGET,
                &prefix,
            )) {
                Ok(r) => {
                    let f = summarize(&r);
                    node.objects
                        .set(node.objects.get() + conns * WARMUP + f[0].ops);
                    print_case(node.label, conns, &f, &r, node.objects.get());
                    clavis_figs.push((node.label, f));
                }
                Err(e) => println!("{:<34} {conns:>5}  failed: {e}", node.label),
            }
        }
        let Ok(python) = &python else { continue };
        let label = "PyKMIP 0.11 server (SQLite)";
        let result = PyKmipServer::start(python, &py_files.cert, &py_files.key, &py_files.ca)
            .and_then(|mut server| {
                let r = client.block_on(run_case(
                    server.addr,
                    software.tls.clone(),
                    conns,
                    n,
                    PYKMIP_BUDGET,
                    &format!("pykmip-{conns}"),
                ));
                r.map_err(|e| format!("{e}\n{}", server.stderr()))
            });
        match result {
            Ok(r) => {
                let f = summarize(&r);
                print_case(label, conns, &f, &r, conns * WARMUP + f[0].ops);
                for (l, c) in clavis_figs {
                    ratios.push((conns, l, c, f));
                }
            }
            Err(e) => println!("{label:<34} {conns:>5}  failed: {e}"),
        }
    }

    // The service alone, for where the time goes: fresh nodes, so that the object
    // counts match the 1-connection KMIP cases.
    let mut in_process = vec![("KeyService in process (software)", SOFTWARE_ROT.to_owned())];
    if let Ok((_, sections)) = &softhsm {
        in_process.push(("KeyService in process (SoftHSM2)", sections[1].clone()));
    }
    for (label, section) in in_process {
        let node = ClavisNode::start(label, &section);
        let r = node.in_process(n_clavis, CLAVIS_BUDGET);
        let f = summarize(&r);
        print_case(label, 1, &f, &r, f[0].ops);
    }

    if !ratios.is_empty() {
        println!();
        println!(
            "Clavis / PyKMIP: throughput of the whole workload (goal: ≥ {GOAL}×), and how many \
             times shorter Clavis's median latency is, per operation:"
        );
        println!(
            "{:<34} {:>5}  {:>10}  {:>8} {:>8} {:>8}",
            "server", "conns", "ops/s", "p50 create", "get", "locate"
        );
        for (conns, label, c, p) in ratios {
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            let throughput = ratio(c[3].per_sec, p[3].per_sec);
            println!(
                "{:<34} {:>5}  {:>9.1}×  {:>9.1}× {:>7.1}× {:>7.1}×  {}",
                label,
                conns,
                throughput,
                ratio(p[0].p50_ms, c[0].p50_ms),
                ratio(p[1].p50_ms, c[1].p50_ms),
                ratio(p[2].p50_ms, c[2].p50_ms),
                if throughput >= GOAL {
                    "goal met"
                } else {
                    "below goal"
                }
            );
        }
    }
    drop(hsm);
    drop(software);
    drop(softhsm);
}
