//! Hostile input against a live node's KMIP listener, over real mutual TLS: broken
//! framing, malformed items inside well-framed messages, deep nesting, clients that
//! must not get in, and the batch semantics a client relies on (error continuation,
//! the ID placeholder).
//!
//! The node runs in this process, so a panic in a connection task would be swallowed by
//! tokio; a panic hook counts them and every test checks the count is zero. nextest
//! runs each test in its own process, which keeps that count per test.
//!
//! The fuzz targets' seed corpus (`fuzz/seeds/`) is built here too and checked against
//! this node: `CLAVIS_WRITE_FUZZ_SEEDS=1 cargo nextest run --test kmip_hostile seed`
//! rewrites it.

mod common;

use clavis::kmip::enums::{
    batch_error_continuation_option as beco, cryptographic_algorithm as ca, name_type,
    object_type as ot, operation as op, query_function as qf, result_reason as rr,
    result_status as rs, revocation_reason_code as rrc,
};
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{message_length, Limits, Ttlv, Value};
use clavis::service::Principal;
use common::node::{enroll_endpoint, EndpointFiles, NodeDir, SOFTWARE_ROT};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long to wait for an answer or a close. The node's idle timeout is 300 s, so a
/// connection the node failed to close is still open when this runs out.
const IO_WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// The node and its clients

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

struct Live {
    node: clavis::node::RunningNode,
    addr: SocketAddr,
    ca_pem: String,
    client: EndpointFiles,
    // Last, so it is dropped last: the node's files outlive the node.
    _dir: NodeDir,
}

async fn live() -> Live {
    count_panics();
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config())
        .await
        .expect("node starts");
    let addr = node.kmip_addr.expect("KMIP listener enabled");
    let client = enroll_endpoint(&node.service, "hostile-client").await;
    Live {
        addr,
        ca_pem: dir.ca_pem(),
        client,
        node,
        _dir: dir,
    }
}

impl Live {
    fn tls(&self) -> Arc<rustls::ClientConfig> {
        tls_config(
            &self.ca_pem,
            Some((&self.client.cert_pem, &self.client.key_pem)),
        )
    }

    /// A connection with the enrolled endpoint's certificate.
    async fn conn(&self) -> Conn {
        Conn::open(self.addr, self.tls())
            .await
            .expect("an enrolled endpoint connects")
    }

    /// Every test ends here: no connection task panicked, and the node still answers
    /// a fresh client.
    async fn finish(self) {
        discover_versions_works(&self).await;
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            0,
            "something panicked while the node served this test"
        );
        self.node.stop().await;
    }
}

fn tls_config(ca_pem: &str, client: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    let key = client
        .map(|(_, key_pem)| clavis::tls::parse_private_key_pem(key_pem).expect("client key PEM"));
    let pair = client.zip(key.as_ref()).map(|((cert, _), key)| (cert, key));
    let mut cfg = clavis::tls::client_config(ca_pem, pair).expect("client TLS config");
    // KMIP clients send no ALPN; the listener offers none.
    cfg.alpn_protocols.clear();
    Arc::new(cfg)
}

/// One TLS connection to the KMIP listener, speaking raw bytes when the test needs to.
struct Conn {
    s: TlsStream<TcpStream>,
}

impl Conn {
    async fn open(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("server name");
        let s = tokio::time::timeout(
            IO_WAIT,
            tokio_rustls::TlsConnector::from(tls).connect(name, tcp),
        )
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
        Ok(Conn { s })
    }

    async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.s.write_all(bytes).await?;
        self.s.flush().await
    }

    /// Reads one response message; a timeout is an error too.
    async fn read_response(&mut self) -> std::io::Result<Ttlv> {
        let read = async {
            let mut header = [0u8; 8];
            self.s.read_exact(&mut header).await?;
            let total = message_length(&header, &Limits::default())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut buf = vec![0u8; total];
            buf[..8].copy_from_slice(&header);
            self.s.read_exact(&mut buf[8..]).await?;
            Ttlv::decode(&buf, &Limits::default())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        tokio::time::timeout(IO_WAIT, read)
            .await
            .map_err(|_| std::io::Error::other("no response in time"))?
    }

    /// Sends a request message and returns the response; panics on any I/O failure.
    async fn call(&mut self, request: &Ttlv) -> Ttlv {
        self.send_raw(&request.encode())
            .await
            .expect("send request");
        self.read_response().await.expect("a response")
    }

    /// The server must close this connection promptly without sending anything. Returns
    /// the error the close surfaced as, if any (a TLS alert, a reset, a missing
    /// close_notify).
    async fn expect_closed(&mut self, what: &str) -> Option<std::io::Error> {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(IO_WAIT, self.s.read(&mut buf)).await {
            Err(_) => panic!("{what}: the connection is still open after {IO_WAIT:?}"),
            Ok(Ok(0)) => None,
            Ok(Ok(n)) => panic!(
                "{what}: the server sent {n} bytes instead of closing: {}",
                hex::encode(&buf[..n])
            ),
            Ok(Err(e)) => Some(e),
        }
    }
}

/// True when `e` is a fatal TLS alert from the server: the handshake was refused by
/// the TLS layer, not the connection dropped later.
fn is_tls_alert(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::AlertReceived(_)))
}

/// Peak virtual memory of this process (the node runs in it), in bytes.
fn vm_peak() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmPeak in /proc/self/status");
    kb * 1024
}

// ---------------------------------------------------------------------------------
// Requests

const V1_4: (i32, i32) = (1, 4);
const V2_0: (i32, i32) = (2, 0);

fn version(v: (i32, i32)) -> Ttlv {
    Ttlv::structure(
        t::PROTOCOL_VERSION,
        vec![
            Ttlv::int(t::PROTOCOL_VERSION_MAJOR, v.0),
            Ttlv::int(t::PROTOCOL_VERSION_MINOR, v.1),
        ],
    )
}

fn request_header(v: (i32, i32), on_error: Option<u32>, count: i32) -> Ttlv {
    let mut fields = vec![version(v)];
    if let Some(o) = on_error {
        fields.push(Ttlv::enumeration(t::BATCH_ERROR_CONTINUATION_OPTION, o));
    }
    fields.push(Ttlv::int(t::BATCH_COUNT, count));
    Ttlv::structure(t::REQUEST_HEADER, fields)
}

/// A request message; batch item `i` carries Unique Batch Item ID `[i]`.
fn request(v: (i32, i32), on_error: Option<u32>, items: Vec<(u32, Vec<Ttlv>)>) -> Ttlv {
    let mut children = vec![request_header(v, on_error, items.len() as i32)];
    for (i, (operation, payload)) in items.into_iter().enumerate() {
        children.push(Ttlv::structure(
            t::BATCH_ITEM,
            vec![
                Ttlv::enumeration(t::OPERATION, operation),
                Ttlv::bytes(t::UNIQUE_BATCH_ITEM_ID, vec![i as u8]),
                Ttlv::structure(t::REQUEST_PAYLOAD, payload),
            ],
        ));
    }
    Ttlv::structure(t::REQUEST_MESSAGE, children)
}

fn discover_versions_payload() -> Vec<Ttlv> {
    vec![version(V2_0), version(V1_4)]
}

fn query_payload() -> Vec<Ttlv> {
    vec![
        Ttlv::enumeration(t::QUERY_FUNCTION, qf::QUERY_OPERATIONS),
        Ttlv::enumeration(t::QUERY_FUNCTION, qf::QUERY_OBJECTS),
        Ttlv::enumeration(t::QUERY_FUNCTION, qf::QUERY_SERVER_INFORMATION),
    ]
}

fn name_value(name: &str, tag: u32) -> Ttlv {
    Ttlv::structure(
        tag,
        vec![
            Ttlv::text(t::NAME_VALUE, name),
            Ttlv::enumeration(t::NAME_TYPE, name_type::UNINTERPRETED_TEXT_STRING),
        ],
    )
}

fn attribute_v1(name: &str, mut value: Ttlv) -> Ttlv {
    value.tag = t::ATTRIBUTE_VALUE;
    Ttlv::structure(
        t::ATTRIBUTE,
        vec![Ttlv::text(t::ATTRIBUTE_NAME, name), value],
    )
}

/// Create AES-256 (Encrypt|Decrypt), KMIP 1.x Template-Attribute form.
fn create_aes256_v1(name: Option<&str>) -> Vec<Ttlv> {
    let mut attrs = vec![
        attribute_v1("Cryptographic Algorithm", Ttlv::enumeration(0, ca::AES)),
        attribute_v1("Cryptographic Length", Ttlv::int(0, 256)),
        attribute_v1("Cryptographic Usage Mask", Ttlv::int(0, 4 | 8)),
    ];
    if let Some(n) = name {
        attrs.push(attribute_v1("Name", name_value(n, 0)));
    }
    vec![
        Ttlv::enumeration(t::OBJECT_TYPE, ot::SYMMETRIC_KEY),
        Ttlv::structure(t::TEMPLATE_ATTRIBUTE, attrs),
    ]
}

/// Create AES-256 (Encrypt|Decrypt), KMIP 2.0 Attributes form.
fn create_aes256_v2(name: &str) -> Vec<Ttlv> {
    vec![
        Ttlv::enumeration(t::OBJECT_TYPE, ot::SYMMETRIC_KEY),
        Ttlv::structure(
            t::ATTRIBUTES,
            vec![
                Ttlv::enumeration(t::CRYPTOGRAPHIC_ALGORITHM, ca::AES),
                Ttlv::int(t::CRYPTOGRAPHIC_LENGTH, 256),
                Ttlv::int(t::CRYPTOGRAPHIC_USAGE_MASK, 4 | 8),
                name_value(name, t::NAME),
            ],
        ),
    ]
}

fn get_payload(id: &str) -> Vec<Ttlv> {
    vec![Ttlv::text(t::UNIQUE_IDENTIFIER, id)]
}

/// A well-formed ID that names no object.
const NO_SUCH_ID: &str = "00000000-0000-7000-8000-000000000000";

// ---------------------------------------------------------------------------------
// Responses

#[derive(Debug)]
struct ItemResult {
    operation: Option<u32>,
    batch_id: Option<Vec<u8>>,
    status: u32,
    reason: Option<u32>,
    message: Option<String>,
    payload: Option<Ttlv>,
}

/// The batch items of a response, after checking it is a well-formed Response Message.
fn results(response: &Ttlv) -> Vec<ItemResult> {
    assert_eq!(response.tag, t::RESPONSE_MESSAGE, "{response:?}");
    let header = response.child(t::RESPONSE_HEADER).expect("Response Header");
    let items: Vec<ItemResult> = response
        .children_with(t::BATCH_ITEM)
        .map(|item| {
            let enum_of = |tag| match item.child(tag).map(|c| &c.value) {
                Some(Value::Enumeration(v)) => Some(*v),
                _ => None,
            };
            ItemResult {
                operation: enum_of(t::OPERATION),
                batch_id: match item.child(t::UNIQUE_BATCH_ITEM_ID).map(|c| &c.value) {
                    Some(Value::ByteString(b)) => Some(b.clone()),
                    _ => None,
                },
                status: enum_of(t::RESULT_STATUS).expect("Result Status"),
                reason: enum_of(t::RESULT_REASON),
                message: match item.child(t::RESULT_MESSAGE).map(|c| &c.value) {
                    Some(Value::TextString(m)) => Some(m.clone()),
                    _ => None,
                },
                payload: item.child(t::RESPONSE_PAYLOAD).cloned(),
            }
        })
        .collect();
    assert_eq!(
        header.child(t::BATCH_COUNT).map(|c| &c.value),
        Some(&Value::Integer(items.len() as i32)),
        "Batch Count must match the batch items"
    );
    items
}

fn success_payload(r: &ItemResult) -> &Ttlv {
    assert_eq!(
        r.status,
        rs::SUCCESS,
        "batch item failed: {:?} {:?}",
        r.reason,
        r.message
    );
    r.payload.as_ref().expect("a successful item has a payload")
}

fn text_child(v: &Ttlv, tag: u32) -> String {
    match v.child(tag).map(|c| &c.value) {
        Some(Value::TextString(s)) => s.clone(),
        other => panic!("tag 0x{tag:06X} is {other:?} in {v:?}"),
    }
}

/// The one result of a message the server could not read: Operation Failed with
/// Invalid Message.
fn assert_invalid_message(response: &Ttlv, what: &str) {
    let items = results(response);
    assert_eq!(items.len(), 1, "{what}: {items:?}");
    assert_eq!(items[0].status, rs::OPERATION_FAILED, "{what}: {items:?}");
    assert_eq!(
        items[0].reason,
        Some(rr::INVALID_MESSAGE),
        "{what}: {items:?}"
    );
}

/// Discover Versions on `conn` answers with the versions asked for, in order.
async fn discover_versions_on(conn: &mut Conn) {
    let response = conn
        .call(&request(
            V1_4,
            None,
            vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
        ))
        .await;
    let items = results(&response);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].operation, Some(op::DISCOVER_VERSIONS));
    let payload = success_payload(&items[0]);
    let versions: Vec<&Ttlv> = payload.children_with(t::PROTOCOL_VERSION).collect();
    assert_eq!(versions, [&version(V2_0), &version(V1_4)]);
}

async fn discover_versions_works(live: &Live) {
    discover_versions_on(&mut live.conn().await).await;
}

// ---------------------------------------------------------------------------------
// Raw bytes

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '|'], "")).expect("hex in the test")
}

/// A Structure header with `tag` (hex) around `body`, which must already be whole
/// padded TTLV items.
fn framed(tag: &str, body: &[u8]) -> Vec<u8> {
    assert!(body.len().is_multiple_of(8), "bodies are padded items");
    let mut out = hx(tag);
    out.push(0x01);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A well-formed Request Header followed by a Batch Item holding the raw `inner` bytes:
/// the damage sits two levels inside an otherwise valid, well-framed message.
fn with_bad_item(inner: &str) -> Vec<u8> {
    let inner = hx(inner);
    let mut body = request_header(V1_4, None, 1).encode();
    body.extend_from_slice(&framed("42000F", &inner));
    framed("420078", &body)
}

// ---------------------------------------------------------------------------------
// Hostile sequences (each also runs in `everything_then_discover_versions`)

async fn truncated_messages(live: &Live) {
    let whole = request(
        V1_4,
        None,
        vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
    )
    .encode();
    // Part of a body, then a clean TLS close: the node must hang up, not wait.
    let mut c = live.conn().await;
    c.send_raw(&whole[..whole.len() - 9]).await.expect("send");
    c.s.shutdown().await.expect("close_notify");
    c.expect_closed("truncated body then close").await;
    // Part of a header, then a clean close.
    let mut c = live.conn().await;
    c.send_raw(&whole[..5]).await.expect("send");
    c.s.shutdown().await.expect("close_notify");
    c.expect_closed("truncated header then close").await;
    // Part of a body, then the TCP connection just goes away.
    let mut c = live.conn().await;
    c.send_raw(&whole[..20]).await.expect("send");
    drop(c);
    // After each of those the node takes new connections and serves them.
    discover_versions_works(live).await;
}

async fn oversized_headers(live: &Live) {
    let before = vm_peak();
    for (what, header) in [
        ("2 GiB Request Message", "42 00 78 | 01 | 80 00 00 00"),
        ("4 GiB Request Message", "42 00 78 | 01 | FF FF FF F8"),
        // The limit is 1 MiB: one padded block over it.
        ("1 MiB + 8 Request Message", "42 00 78 | 01 | 00 10 00 01"),
    ] {
        let mut c = live.conn().await;
        let mut bytes = hx(header);
        // A little of the promised body, so the node has something to wait for.
        bytes.extend_from_slice(&[0u8; 64]);
        c.send_raw(&bytes).await.expect("send");
        c.expect_closed(what).await;
    }
    // The node closed before reading a body; it must not have reserved room for one
    // either (a 2 GiB buffer shows in the process's peak virtual size even untouched).
    let grown = vm_peak().saturating_sub(before);
    assert!(
        grown < 1 << 30,
        "peak virtual memory grew by {grown} bytes while refusing oversized messages"
    );
    // Headers that are not a Request Message structure are framing errors as well.
    for (what, header) in [
        (
            "Request Message as an Integer",
            "42 00 78 | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00",
        ),
        ("a tag outside KMIP", "10 00 78 | 01 | 00 00 00 00"),
    ] {
        let mut c = live.conn().await;
        c.send_raw(&hx(header)).await.expect("send");
        c.expect_closed(what).await;
    }
    discover_versions_works(live).await;
}

/// Malformed TTLV inside well-framed messages: (what, message bytes).
fn malformed_ttlv() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "Integer of length 8",
            with_bad_item("42 00 0D | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 01"),
        ),
        (
            "Enumeration of length 0",
            with_bad_item("42 00 5C | 05 | 00 00 00 00"),
        ),
        (
            "unknown item type 0x0C",
            with_bad_item("42 00 5C | 0C | 00 00 00 04 | 00 00 00 01 00 00 00 00"),
        ),
        (
            "non-zero padding",
            with_bad_item("42 00 5C | 05 | 00 00 00 04 | 00 00 00 01 00 00 00 FF"),
        ),
        (
            "Boolean 2",
            with_bad_item("42 00 10 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02"),
        ),
        (
            "Text String that is not UTF-8",
            with_bad_item("42 00 94 | 07 | 00 00 00 02 | C3 28 00 00 00 00 00 00"),
        ),
        (
            "Big Integer of 3 bytes",
            with_bad_item("42 00 20 | 04 | 00 00 00 03 | 01 02 03 00 00 00 00 00"),
        ),
        (
            "tag outside the KMIP ranges",
            with_bad_item("10 00 5C | 05 | 00 00 00 04 | 00 00 00 01 00 00 00 00"),
        ),
        (
            "child overrunning its structure",
            with_bad_item(
                "42 00 79 | 01 | 00 00 00 08 | 42 00 94 | 07 | 00 00 00 08 | 41 42 43 44 45 46 47 48",
            ),
        ),
        (
            "item longer than the message",
            with_bad_item("42 00 94 | 07 | 00 00 01 00 | 41 42 43 44 45 46 47 48"),
        ),
    ]
}

/// Valid TTLV in the wrong shape for a Request Message: (what, message).
fn malformed_requests() -> Vec<(&'static str, Ttlv)> {
    let dv = || {
        Ttlv::structure(
            t::BATCH_ITEM,
            vec![Ttlv::enumeration(t::OPERATION, op::DISCOVER_VERSIONS)],
        )
    };
    let header = |fields: Vec<Ttlv>| Ttlv::structure(t::REQUEST_HEADER, fields);
    vec![
        (
            "Batch Count as a Text String",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![
                    header(vec![version(V1_4), Ttlv::text(t::BATCH_COUNT, "1")]),
                    dv(),
                ],
            ),
        ),
        (
            "Protocol Version Major as an Enumeration",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![
                    header(vec![
                        Ttlv::structure(
                            t::PROTOCOL_VERSION,
                            vec![
                                Ttlv::enumeration(t::PROTOCOL_VERSION_MAJOR, 1),
                                Ttlv::int(t::PROTOCOL_VERSION_MINOR, 4),
                            ],
                        ),
                        Ttlv::int(t::BATCH_COUNT, 1),
                    ]),
                    dv(),
                ],
            ),
        ),
        (
            "Operation as an Integer",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![
                    request_header(V1_4, None, 1),
                    Ttlv::structure(
                        t::BATCH_ITEM,
                        vec![Ttlv::int(t::OPERATION, op::DISCOVER_VERSIONS as i32)],
                    ),
                ],
            ),
        ),
        (
            "Unique Batch Item ID as an Integer",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![
                    request_header(V1_4, None, 1),
                    Ttlv::structure(
                        t::BATCH_ITEM,
                        vec![
                            Ttlv::enumeration(t::OPERATION, op::DISCOVER_VERSIONS),
                            Ttlv::int(t::UNIQUE_BATCH_ITEM_ID, 7),
                        ],
                    ),
                ],
            ),
        ),
        (
            "Batch Error Continuation Option as a Text String",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![
                    header(vec![
                        version(V1_4),
                        Ttlv::text(t::BATCH_ERROR_CONTINUATION_OPTION, "Continue"),
                        Ttlv::int(t::BATCH_COUNT, 1),
                    ]),
                    dv(),
                ],
            ),
        ),
        (
            "Batch Count 3 with one batch item",
            Ttlv::structure(
                t::REQUEST_MESSAGE,
                vec![request_header(V1_4, None, 3), dv()],
            ),
        ),
        (
            "Batch Count 0 and no batch items",
            Ttlv::structure(t::REQUEST_MESSAGE, vec![request_header(V1_4, None, 0)]),
        ),
        (
            "a Response Message sent as a request",
            Ttlv::structure(
                t::RESPONSE_MESSAGE,
                vec![request_header(V1_4, None, 1), dv()],
            ),
        ),
    ]
}

async fn malformed_items(live: &Live) {
    // One connection for all of it: each bad message gets its answer, and the
    // connection still serves the valid request that follows.
    let mut c = live.conn().await;
    let mut cases: Vec<(&str, Vec<u8>)> = malformed_ttlv();
    cases.extend(
        malformed_requests()
            .into_iter()
            .map(|(what, m)| (what, m.encode())),
    );
    for (what, bytes) in cases {
        c.send_raw(&bytes).await.expect("send");
        let response = c
            .read_response()
            .await
            .unwrap_or_else(|e| panic!("{what}: no response ({e})"));
        assert_invalid_message(&response, what);
        discover_versions_on(&mut c).await;
    }
}

/// `levels` nested structures as raw bytes, innermost an Integer, inside a Request
/// Message (built by hand: the encoder recurses, the decoder must not go that deep).
fn nested_raw(levels: usize) -> Vec<u8> {
    let innermost = Ttlv::int(t::BATCH_COUNT, 1).encode();
    let mut out = Vec::with_capacity(levels * 8 + innermost.len() + 8);
    for i in 0..levels {
        out.extend_from_slice(&hx("42 00 79 | 01"));
        let len = (levels - i - 1) * 8 + innermost.len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(&innermost);
    framed("420078", &out)
}

async fn deep_nesting(live: &Live) {
    let mut c = live.conn().await;
    // 40 levels inside a valid request's payload, built with the constructors.
    let mut deep = Ttlv::int(t::BATCH_COUNT, 1);
    for _ in 0..40 {
        deep = Ttlv::structure(t::REQUEST_PAYLOAD, vec![deep]);
    }
    let mut message = request(V1_4, None, vec![(op::QUERY, query_payload())]);
    if let Value::Structure(children) = &mut message.value {
        if let Value::Structure(item) = &mut children[1].value {
            item[2] = deep;
        }
    }
    let response = c.call(&message).await;
    assert_invalid_message(&response, "40 nested structures");
    discover_versions_on(&mut c).await;
    // 100 000 levels (800 kB, under the 1 MiB limit): recursion without the depth
    // limit would overflow the stack and take the whole process down.
    let bytes = nested_raw(100_000);
    assert!(bytes.len() < 1 << 20);
    c.send_raw(&bytes).await.expect("send");
    let response = c.read_response().await.expect("a response");
    assert_invalid_message(&response, "100 000 nested structures");
    discover_versions_on(&mut c).await;
}

// ---------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_message_then_close_leaves_the_node_serving() {
    let live = live().await;
    truncated_messages(&live).await;
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_closes_the_connection_without_allocating() {
    let live = live().await;
    oversized_headers(&live).await;
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_items_get_invalid_message_and_the_connection_survives() {
    let live = live().await;
    malformed_items(&live).await;
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_gets_an_error_response() {
    let live = live().await;
    deep_nesting(&live).await;
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_then_discover_versions() {
    let live = live().await;
    truncated_messages(&live).await;
    oversized_headers(&live).await;
    malformed_items(&live).await;
    deep_nesting(&live).await;
    // `finish` checks Discover Versions on a fresh connection; this one is on a
    // connection opened before any of it and kept idle throughout.
    let mut early = live.conn().await;
    discover_versions_on(&mut early).await;
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_without_certificate_is_refused() {
    let live = live().await;
    let tls = tls_config(&live.ca_pem, None);
    let error = match Conn::open(live.addr, tls).await {
        // TLS 1.3: the client finishes its side before the server judges its
        // certificate, so the refusal arrives as an alert on the first read.
        Ok(mut c) => {
            let dv = request(
                V1_4,
                None,
                vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
            );
            let _ = c.send_raw(&dv.encode()).await;
            c.expect_closed("no client certificate").await
        }
        Err(e) => Some(e),
    };
    let error = error.expect("the refusal is an error, not a clean close");
    assert!(is_tls_alert(&error), "not refused by TLS: {error:?}");
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_another_ca_is_refused() {
    let live = live().await;
    let rogue_ca = clavis::tls::new_cluster_ca("rogue").expect("rogue CA");
    let rogue = clavis::tls::issue(
        &rogue_ca.cert_pem,
        &rogue_ca.key_pkcs8,
        &["hostile-client".to_owned()],
        clavis::tls::CertRole::Client,
    )
    .expect("rogue client certificate");
    // The client trusts the real cluster CA (so it accepts the node), but presents a
    // certificate from elsewhere with the same name as the enrolled endpoint.
    let mut cfg =
        clavis::tls::client_config(&live.ca_pem, Some((&rogue.cert_pem, &rogue.key_pkcs8)))
            .expect("client config");
    cfg.alpn_protocols.clear();
    let error = match Conn::open(live.addr, Arc::new(cfg)).await {
        Ok(mut c) => {
            let dv = request(
                V1_4,
                None,
                vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
            );
            let _ = c.send_raw(&dv.encode()).await;
            c.expect_closed("certificate from another CA").await
        }
        Err(e) => Some(e),
    };
    let error = error.expect("the refusal is an error, not a clean close");
    assert!(is_tls_alert(&error), "not refused by TLS: {error:?}");
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_endpoint_is_cut_off() {
    let live = live().await;
    let files = enroll_endpoint(&live.node.service, "to-suspend").await;
    let tls = tls_config(&live.ca_pem, Some((&files.cert_pem, &files.key_pem)));
    // Before: it works, and one connection stays open.
    let mut open = Conn::open(live.addr, tls.clone()).await.expect("connect");
    discover_versions_on(&mut open).await;
    live.node
        .service
        .suspend_endpoint(&Principal::system("admin"), "to-suspend")
        .await
        .expect("suspend");
    // A new connection completes TLS (the certificate is still valid) and is then
    // closed without an answer to anything.
    let mut c = Conn::open(live.addr, tls.clone())
        .await
        .expect("TLS itself succeeds");
    let dv = request(
        V1_4,
        None,
        vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
    );
    let _ = c.send_raw(&dv.encode()).await;
    c.expect_closed("new connection of a suspended endpoint")
        .await;
    // The connection opened before the suspension is cut off at its next request once
    // the node's periodic re-check (5 s) has come round.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = open.send_raw(&dv.encode()).await;
    open.expect_closed("open connection of a suspended endpoint")
        .await;
    // Other endpoints are unaffected (`finish` connects as `hostile-client`).
    live.finish().await;
}

fn three_items(on_error: Option<u32>) -> Ttlv {
    request(
        V1_4,
        on_error,
        vec![
            (op::DISCOVER_VERSIONS, discover_versions_payload()),
            (op::GET, get_payload(NO_SUCH_ID)),
            (op::QUERY, query_payload()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_error_continuation_stop_and_continue() {
    let live = live().await;
    let mut c = live.conn().await;
    for (what, option) in [("Stop", Some(beco::STOP)), ("absent (Stop)", None)] {
        let items = results(&c.call(&three_items(option)).await);
        assert_eq!(items.len(), 2, "{what}: {items:?}");
        success_payload(&items[0]);
        assert_eq!(items[1].status, rs::OPERATION_FAILED, "{what}");
        assert_eq!(items[1].reason, Some(rr::ITEM_NOT_FOUND), "{what}");
        assert_eq!(items[1].operation, Some(op::GET));
        assert_eq!(items[1].batch_id.as_deref(), Some(&[1u8][..]));
    }
    let items = results(&c.call(&three_items(Some(beco::CONTINUE))).await);
    assert_eq!(items.len(), 3, "Continue: {items:?}");
    let ops: Vec<_> = items.iter().map(|i| i.operation).collect();
    assert_eq!(
        ops,
        [Some(op::DISCOVER_VERSIONS), Some(op::GET), Some(op::QUERY)]
    );
    let ids: Vec<_> = items.iter().map(|i| i.batch_id.clone()).collect();
    assert_eq!(ids, [Some(vec![0]), Some(vec![1]), Some(vec![2])]);
    success_payload(&items[0]);
    assert_eq!(items[1].status, rs::OPERATION_FAILED);
    assert_eq!(items[1].reason, Some(rr::ITEM_NOT_FOUND));
    let query = success_payload(&items[2]);
    assert!(
        query
            .children_with(t::OPERATION)
            .any(|o| o.value == Value::Enumeration(op::GET)),
        "Query lists Get: {query:?}"
    );
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_placeholder_carries_create_into_get() {
    let live = live().await;
    let mut c = live.conn().await;
    let items = results(
        &c.call(&request(
            V1_4,
            None,
            vec![
                (op::CREATE, create_aes256_v1(Some("placeholder-key"))),
                (op::GET, vec![]),
            ],
        ))
        .await,
    );
    assert_eq!(items.len(), 2, "{items:?}");
    let created = text_child(success_payload(&items[0]), t::UNIQUE_IDENTIFIER);
    let got = success_payload(&items[1]);
    assert_eq!(text_child(got, t::UNIQUE_IDENTIFIER), created);
    let material = got
        .child(t::SYMMETRIC_KEY)
        .and_then(|k| k.child(t::KEY_BLOCK))
        .and_then(|b| b.child(t::KEY_VALUE))
        .and_then(|v| v.child(t::KEY_MATERIAL))
        .map(|m| &m.value);
    assert!(
        matches!(material, Some(Value::ByteString(k)) if k.len() == 32),
        "Get returns the 256-bit key: {got:?}"
    );
    let meta = live
        .node
        .service
        .get(&Principal::system("admin"), &created)
        .await
        .expect("the created object exists");
    assert_eq!(meta.name.as_deref(), Some("placeholder-key"));
    assert_eq!(meta.length, Some(256));
    // The placeholder lives for one batch: a Get without an ID in the next message has
    // nothing to refer to.
    let items = results(&c.call(&request(V1_4, None, vec![(op::GET, vec![])])).await);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, rs::OPERATION_FAILED);
    assert_eq!(items[0].reason, Some(rr::MISSING_DATA), "{items:?}");
    live.finish().await;
}

// ---------------------------------------------------------------------------------
// The fuzz seed corpus

/// The seeds for `fuzz/`: valid requests covering each handler family, in 1.4 and 2.0.
fn fuzz_seeds() -> Vec<(&'static str, Ttlv)> {
    vec![
        (
            "discover_versions",
            request(
                V1_4,
                None,
                vec![(op::DISCOVER_VERSIONS, discover_versions_payload())],
            ),
        ),
        (
            "query",
            request(V1_4, None, vec![(op::QUERY, query_payload())]),
        ),
        (
            "create_aes256_1_4",
            request(
                V1_4,
                None,
                vec![(op::CREATE, create_aes256_v1(Some("seed-key-1.4")))],
            ),
        ),
        (
            "create_aes256_2_0",
            request(
                V2_0,
                None,
                vec![(op::CREATE, create_aes256_v2("seed-key-2.0"))],
            ),
        ),
        (
            "create_then_get_placeholder",
            request(
                V1_4,
                None,
                vec![(op::CREATE, create_aes256_v1(None)), (op::GET, vec![])],
            ),
        ),
        (
            "lifecycle_placeholder_continue",
            request(
                V2_0,
                Some(beco::CONTINUE),
                vec![
                    (op::CREATE, create_aes256_v2("seed-lifecycle")),
                    (op::ACTIVATE, vec![]),
                    (op::GET_ATTRIBUTES, vec![]),
                    (op::GET_ATTRIBUTE_LIST, vec![]),
                    (
                        op::LOCATE,
                        vec![Ttlv::structure(
                            t::ATTRIBUTES,
                            vec![name_value("seed-lifecycle", t::NAME)],
                        )],
                    ),
                    (
                        op::REVOKE,
                        vec![Ttlv::structure(
                            t::REVOCATION_REASON,
                            vec![
                                Ttlv::enumeration(
                                    t::REVOCATION_REASON_CODE,
                                    rrc::CESSATION_OF_OPERATION,
                                ),
                                Ttlv::text(t::REVOCATION_MESSAGE, "seed"),
                            ],
                        )],
                    ),
                    (op::DESTROY, vec![]),
                ],
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_seed_corpus_is_current_and_served() {
    let live = live().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = std::env::var_os("CLAVIS_WRITE_FUZZ_SEEDS").is_some();
    let mut c = live.conn().await;
    for (name, message) in fuzz_seeds() {
        let bytes = message.encode();
        let path = dir.join(format!("{name}.ttlv"));
        if write {
            std::fs::create_dir_all(&dir).expect("fuzz/seeds");
            std::fs::write(&path, &bytes).expect("write seed");
        }
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{} is missing or stale: rerun with CLAVIS_WRITE_FUZZ_SEEDS=1",
            path.display()
        );
        // Every seed is a request the node carries out in full.
        let items = results(&c.call(&message).await);
        let asked = message.children_with(t::BATCH_ITEM).count();
        assert_eq!(items.len(), asked, "{name}: {items:?}");
        for item in &items {
            success_payload(item);
        }
    }
    live.finish().await;
}
