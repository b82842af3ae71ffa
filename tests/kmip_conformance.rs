//! The OASIS KMIP profile test cases (1.4 and 2.1, mandatory set) against one node:
//! every case's requests are sent in order over one mutual-TLS connection, and each
//! response is compared with the expected one.
//!
//! Cases named in [`EXPECTED_PASS`] must pass fully; the others are reported in a
//! table (run with `--no-capture` to see it). When the server passes a new case, the
//! table says so: add its name to the list.
//!
//! The test cases live in the `shared/` directory beside the repository
//! (`<repo>/../shared/kmip-testcases`). With `KMIP_CONFORMANCE_DUMP=1`, the response
//! of each failing step is printed in the test cases' XML form.

mod common;

use clavis::kmip::enums::{operation as op, result_status};
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{Ttlv, Value};
use common::kmip_client::{tls_config, KmipClient};
use common::kmip_xml::{self as x, Body, Leaf, Node, Step, Vars};
use common::node::{enroll_endpoint, NodeDir, SOFTWARE_ROT};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Cases the server passes fully: a failure of any of these fails the test.
const EXPECTED_PASS: &[&str] = &[
    "CS-RNG-M-1-14",
    "SKFF-M-1-14",
    "SKFF-M-3-14",
    "TL-M-1-14",
    "TL-M-2-14",
    "BL-M-1-21",
    "CS-RNG-M-1-21",
    "QS-M-1-21",
    "SKFF-M-1-21",
    "SKFF-M-3-21",
    "TL-M-1-21",
    "TL-M-2-21",
    "SKFF-M-2-14",
    "SKFF-M-5-14",
    "SKFF-M-6-14",
    "SKFF-M-7-14",
    "SKLC-M-1-14",
    "SKLC-M-2-14",
    "BL-M-3-21",
    "SKFF-M-2-21",
    "SKLC-M-1-21",
    "SKLC-M-2-21",
    "AKLC-M-1-14",
    "AKLC-M-2-14",
    "AKLC-M-1-21",
    "AKLC-M-2-21",
    "OMOS-M-1-14",
    "BL-M-5-21",
    "BL-M-6-21",
    "BL-M-8-21",
    "OMOS-M-1-21",
    "BL-M-7-21",
    "BL-M-4-21",
    "CS-BC-M-GCM-1-14",
    "BL-M-2-21",
];

/// How far a `$NOW` in a response may be from the test's clock.
const NOW_TOLERANCE_SECS: i64 = 120;
/// How long one request may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn testcases_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/kmip-testcases"
    ));
    assert!(
        dir.join("1.4").is_dir() && dir.join("2.1").is_dir(),
        "KMIP test cases not found at {}: clone the shared/ directory beside the repository",
        dir.display()
    );
    dir
}

/// Every case, as (name, steps), 1.4 first, by name.
fn load_cases() -> Vec<(String, Vec<Step>)> {
    let root = testcases_dir();
    let mut cases = Vec::new();
    for version in ["1.4", "2.1"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(version))
            .expect("read test-case directory")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().expect("file name").to_string_lossy();
            let steps = x::load(&path).unwrap_or_else(|e| panic!("{e}"));
            cases.push((name.into_owned(), steps));
        }
    }
    cases
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

#[test]
fn test_cases_parse() {
    let cases = load_cases();
    assert!(cases.len() >= 39, "only {} test cases found", cases.len());
    let steps = x::parse(
        r#"<KMIP><RequestMessage/><ResponseMessage>
             <TimeStamp type="DateTime" value="2000-02-01T00:00:00+10:00"/>
           </ResponseMessage></KMIP>"#,
    )
    .expect("parses");
    let Body::Structure(children) = &steps[0].response.body else {
        panic!("structure expected")
    };
    assert!(matches!(
        children[0].body,
        Body::Leaf {
            leaf: Leaf::Value(Value::DateTime(949_327_200)),
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oasis_kmip_test_cases() {
    let cases = load_cases();
    for name in EXPECTED_PASS {
        assert!(
            cases.iter().any(|(n, _)| n == name),
            "EXPECTED_PASS names {name}, which is not a test case"
        );
    }
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    let addr = node.kmip_addr.expect("KMIP enabled");
    let files = enroll_endpoint(&node.service, "conformance-client").await;
    let ca = std::fs::read_to_string(&files.ca).expect("CA");
    let tls = tls_config(&ca, &files.cert_pem, &files.key_pem);

    let mut results = Vec::new();
    for (name, steps) in &cases {
        results.push(run_case(addr, tls.clone(), name, steps).await);
    }
    node.stop().await;

    print_table(&results);
    let regressions: Vec<String> = results
        .iter()
        .filter(|r| EXPECTED_PASS.contains(&r.name.as_str()) && r.failure.is_some())
        .map(|r| format!("{}: {}", r.name, r.failure.as_deref().unwrap_or("")))
        .collect();
    assert!(
        regressions.is_empty(),
        "cases in EXPECTED_PASS fail:\n{}",
        regressions.join("\n")
    );
}

struct CaseResult {
    name: String,
    passed: usize,
    total: usize,
    failure: Option<String>,
    notes: Vec<String>,
}

async fn run_case(
    addr: std::net::SocketAddr,
    tls: std::sync::Arc<rustls::ClientConfig>,
    name: &str,
    steps: &[Step],
) -> CaseResult {
    let mut client = KmipClient::connect(addr, tls).await;
    let mut vars = Vars::new();
    let mut generated = HashSet::new();
    let mut result = CaseResult {
        name: name.to_owned(),
        passed: 0,
        total: steps.len(),
        failure: None,
        notes: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let outcome = match exchange(&mut client, &step.request, &vars).await {
            Ok(response) => {
                let mut m = Matcher {
                    vars: &mut vars,
                    generated: &mut generated,
                    notes: &mut result.notes,
                    now: now_secs(),
                    version: version(&step.request),
                    operation: 0,
                    random_object: false,
                };
                let outcome = m.node("ResponseMessage", &step.response, &response);
                if outcome.is_err() && std::env::var_os("KMIP_CONFORMANCE_DUMP").is_some() {
                    println!("{name} step {i}, response:\n{}", x::to_xml(&response));
                }
                outcome
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            result.failure = Some(format!("step {i}: {e}"));
            break;
        }
        result.passed += 1;
    }
    result
}

/// Sends a request (variables substituted) and reads the response.
async fn exchange(client: &mut KmipClient, request: &Node, vars: &Vars) -> Result<Ttlv, String> {
    let request = x::to_ttlv(request, vars, now_secs())?;
    match tokio::time::timeout(STEP_TIMEOUT, client.send(&request)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!("connection: {e}")),
        Err(_) => Err(format!("no response within {STEP_TIMEOUT:?}")),
    }
}

fn print_table(results: &[CaseResult]) {
    println!("\n{:<18} {:>6}  first failure", "case", "passed");
    for r in results {
        let mark = if EXPECTED_PASS.contains(&r.name.as_str()) {
            "*"
        } else {
            " "
        };
        let fraction = format!("{}/{}", r.passed, r.total);
        let failure = r.failure.as_deref().unwrap_or("-");
        println!("{:<17}{mark} {fraction:>6}  {failure}", r.name);
        for n in &r.notes {
            println!("{:<26}note: {n}", "");
        }
    }
    let full = results.iter().filter(|r| r.failure.is_none()).count();
    println!(
        "{full}/{} cases pass fully (* = in EXPECTED_PASS)",
        results.len()
    );
    let new: Vec<&str> = results
        .iter()
        .filter(|r| r.failure.is_none() && !EXPECTED_PASS.contains(&r.name.as_str()))
        .map(|r| r.name.as_str())
        .collect();
    if !new.is_empty() {
        println!("passing but not in EXPECTED_PASS: {}", new.join(", "));
    }
}

/// The protocol version of a request message.
fn version(request: &Node) -> (i32, i32) {
    let find = |n: &Node, tag| match &n.body {
        Body::Structure(c) => c.iter().find(|c| c.tag == tag).cloned(),
        Body::Leaf { .. } => None,
    };
    let v = find(request, t::REQUEST_HEADER).and_then(|h| find(&h, t::PROTOCOL_VERSION));
    let part = |tag| match v.as_ref().and_then(|v| find(v, tag)).map(|c| c.body) {
        Some(Body::Leaf {
            leaf: Leaf::Value(Value::Integer(n)),
            ..
        }) => n,
        _ => 0,
    };
    (
        part(t::PROTOCOL_VERSION_MAJOR),
        part(t::PROTOCOL_VERSION_MINOR),
    )
}

/// Tags whose values are random when the object was generated by the server: its
/// key material, digests, and what it encrypts or signs.
const RANDOM_TAGS: &[u32] = &[
    t::KEY_MATERIAL,
    t::DIGEST_VALUE,
    t::MODULUS,
    t::PRIVATE_EXPONENT,
    t::P,
    t::Q,
    t::DATA,
    t::IV_COUNTER_NONCE,
    t::AUTHENTICATED_ENCRYPTION_TAG,
    t::SIGNATURE_DATA,
    t::MAC_DATA,
];

/// Compares an expected response (a pattern) with the actual one, binding variables.
///
/// Leniencies, each where the specification leaves the server a choice:
/// - `$NOW` matches any DateTime within [`NOW_TOLERANCE_SECS`] of the test's clock.
/// - Server Correlation Value (response header) and Result Message (batch item) are
///   free text the server may add or omit.
/// - Values derived from randomness the server chose (see [`RANDOM_TAGS`]: key
///   material, digests, ciphertexts of keys it generated with Create or Create Key
///   Pair; RNG Retrieve data) match any value of the same length (any Big Integer).
/// - Get Attributes responses: attributes may come in any order; Random Number
///   Generator and Original Creation Date (optional, server-set attributes) may be
///   absent, and when present the generator's description is the server's own.
/// - 1.x Attribute Index 0 may be sent (it is the default).
/// - Create, Create Key Pair and Register responses (1.x) may echo the attributes
///   the server set (Template-Attribute, Private/Public Key Template-Attribute).
/// - Locate responses from 1.3 on may carry Located Items.
/// - Query responses list what this server supports: every kind of item expected
///   (Operation, Object Type, Vendor Identification, ...) must be present, but the
///   values are the server's; operations the reference server listed and this one
///   does not are reported as notes.
struct Matcher<'a> {
    vars: &'a mut Vars,
    /// Identifiers of objects the server generated in this case.
    generated: &'a mut HashSet<String>,
    notes: &'a mut Vec<String>,
    now: i64,
    version: (i32, i32),
    /// The operation of the batch item being compared.
    operation: u32,
    /// Whether that item concerns an object the server generated.
    random_object: bool,
}

type Outcome = Result<(), String>;

impl Matcher<'_> {
    fn node(&mut self, path: &str, exp: &Node, act: &Ttlv) -> Outcome {
        if exp.tag != act.tag {
            return Err(format!(
                "{path}: expected {}, got {}",
                exp.name,
                x::tag_name(act.tag)
            ));
        }
        match &exp.body {
            Body::Leaf {
                ty,
                enum_name,
                leaf,
            } => self.leaf(path, exp.tag, ty, enum_name, leaf, &act.value),
            Body::Structure(children) => {
                let Value::Structure(actual) = &act.value else {
                    return Err(format!(
                        "{path}: expected a Structure, got {}",
                        x::describe(&act.value, &exp.name)
                    ));
                };
                if exp.tag == t::BATCH_ITEM {
                    self.batch_item(path, children, actual)
                } else {
                    self.structure(path, exp.tag, children, actual)
                }
            }
        }
    }

    fn batch_item(&mut self, path: &str, exp: &[Node], act: &[Ttlv]) -> Outcome {
        self.operation = exp
            .iter()
            .find_map(|e| match &e.body {
                Body::Leaf {
                    leaf: Leaf::Value(Value::Enumeration(o)),
                    ..
                } if e.tag == t::OPERATION => Some(*o),
                _ => None,
            })
            .unwrap_or(0);
        let item = Ttlv::structure(t::BATCH_ITEM, act.to_vec());
        let payload = item.child(t::RESPONSE_PAYLOAD);
        let ids: Vec<String> = [
            t::UNIQUE_IDENTIFIER,
            t::PRIVATE_KEY_UNIQUE_IDENTIFIER,
            t::PUBLIC_KEY_UNIQUE_IDENTIFIER,
        ]
        .iter()
        .filter_map(|tag| match payload?.child(*tag).map(|c| &c.value) {
            Some(Value::TextString(id)) => Some(id.clone()),
            _ => None,
        })
        .collect();
        if matches!(self.operation, op::CREATE | op::CREATE_KEY_PAIR) {
            self.generated.extend(ids.iter().cloned());
        }
        self.random_object = ids.iter().any(|id| self.generated.contains(id));
        self.structure(path, t::BATCH_ITEM, exp, act)
            .map_err(|e| e + &server_said(&item))
    }

    fn structure(&mut self, path: &str, tag: u32, exp: &[Node], act: &[Ttlv]) -> Outcome {
        let in_payload = tag == t::RESPONSE_PAYLOAD;
        if in_payload && self.operation == op::QUERY {
            return self.query_payload(path, exp, act);
        }
        if self.operation == op::GET_ATTRIBUTES && (in_payload || tag == t::ATTRIBUTES) {
            return self.unordered(path, tag, exp, act);
        }
        // Optional items absent on the other side are dropped before pairing.
        let exp: Vec<&Node> = exp
            .iter()
            .filter(|e| !self.may_omit(tag, &node_key(e)) || act.iter().any(|a| a.tag == e.tag))
            .collect();
        let act: Vec<&Ttlv> = act
            .iter()
            .filter(|a| !self.may_add(tag, a) || exp.iter().any(|e| e.tag == a.tag))
            .collect();
        for i in 0..exp.len().max(act.len()) {
            match (exp.get(i), act.get(i)) {
                (Some(e), Some(a)) => {
                    let p = child_path(path, &exp, i);
                    if e.tag != a.tag {
                        let got = self.show(a);
                        return Err(format!("{p}: expected {} here, got {got}", e.name));
                    }
                    self.node(&p, e, a)?;
                }
                (Some(_), None) => return Err(format!("{}: missing", child_path(path, &exp, i))),
                (None, Some(a)) => return Err(format!("{path}: unexpected {}", self.show(a))),
                (None, None) => unreachable!(),
            }
        }
        Ok(())
    }

    /// Attributes in any order, paired by attribute (and by position among equals).
    fn unordered(&mut self, path: &str, tag: u32, exp: &[Node], act: &[Ttlv]) -> Outcome {
        let mut used = vec![false; act.len()];
        for e in exp {
            let key = node_key(e);
            let found = (0..act.len()).find(|&i| !used[i] && ttlv_key(&act[i]) == key);
            let p = format!("{path}/{key}");
            match found {
                Some(i) => {
                    used[i] = true;
                    if !server_defined(&key) {
                        self.node(&p, e, &act[i])?;
                    }
                }
                None if self.may_omit(tag, &key) => {}
                None => return Err(format!("{p}: missing")),
            }
        }
        match act.iter().zip(&used).find(|(_, u)| !**u) {
            Some((a, _)) => Err(format!("{path}: unexpected {}", self.show(a))),
            None => Ok(()),
        }
    }

    fn query_payload(&mut self, path: &str, exp: &[Node], act: &[Ttlv]) -> Outcome {
        let have: BTreeSet<u32> = act.iter().map(|a| a.tag).collect();
        if let Some(e) = exp.iter().find(|e| !have.contains(&e.tag)) {
            return Err(format!("{path}/{}: missing", e.name));
        }
        let listed: Vec<&Value> = act
            .iter()
            .filter(|a| a.tag == t::OPERATION)
            .map(|a| &a.value)
            .collect();
        let unlisted: Vec<String> = exp
            .iter()
            .filter_map(|e| match &e.body {
                Body::Leaf {
                    leaf: Leaf::Value(v),
                    ..
                } if e.tag == t::OPERATION && !listed.contains(&v) => {
                    Some(x::value_text(v, "Operation"))
                }
                _ => None,
            })
            .collect();
        if !unlisted.is_empty() {
            self.notes
                .push(format!("Query does not list {}", unlisted.join(", ")));
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        path: &str,
        tag: u32,
        ty: &str,
        enum_name: &str,
        leaf: &Leaf,
        act: &Value,
    ) -> Outcome {
        let got = x::describe(act, enum_name);
        let want = match leaf {
            Leaf::Value(v) => x::describe(v, enum_name),
            Leaf::Now(0) => "$NOW".to_owned(),
            Leaf::Now(off) => format!("$NOW{off:+}"),
            Leaf::Var(name) => format!("${name}"),
        };
        if act.type_name() != ty {
            return Err(format!("{path}: expected {ty} {want}, got {got}"));
        }
        let ok = match leaf {
            Leaf::Now(off) => {
                matches!(act, Value::DateTime(s) if (s - self.now - off).abs() <= NOW_TOLERANCE_SECS)
            }
            Leaf::Var(name) => match self.vars.get(name) {
                Some(bound) => bound == act,
                None => {
                    self.vars.insert(name.clone(), act.clone());
                    true
                }
            },
            Leaf::Value(v) => v == act || self.free_value(tag, v, act),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{path}: expected {want}, got {got}"))
        }
    }

    /// Values the server chooses (see the leniencies above).
    fn free_value(&self, tag: u32, exp: &Value, act: &Value) -> bool {
        let random = (self.random_object && RANDOM_TAGS.contains(&tag))
            || (self.operation == op::RNG_RETRIEVE && tag == t::DATA);
        match (exp, act) {
            _ if tag == t::SERVER_CORRELATION_VALUE || tag == t::RESULT_MESSAGE => true,
            (Value::ByteString(e), Value::ByteString(a)) => random && e.len() == a.len(),
            (Value::BigInteger(_), Value::BigInteger(_)) => random,
            _ => false,
        }
    }

    /// An actual item for a diagnostic: its tag and value (an attribute's value), and
    /// the variable it equals, if any.
    fn show(&self, a: &Ttlv) -> String {
        let key = ttlv_key(a);
        let (value, enum_name) = match (a.tag, a.child(t::ATTRIBUTE_VALUE)) {
            (t::ATTRIBUTE, Some(v)) => {
                let name = key.trim_start_matches("Attribute[").trim_end_matches(']');
                (&v.value, name.replace(' ', ""))
            }
            _ => (&a.value, key.clone()),
        };
        let var = self.vars.iter().find(|(_, v)| *v == value);
        let var = var.map(|(n, _)| format!(" (= ${n})")).unwrap_or_default();
        format!("{key} = {}{var}", x::describe(value, &enum_name))
    }

    /// An expected item the server may leave out.
    fn may_omit(&self, parent: u32, key: &str) -> bool {
        match parent {
            t::RESPONSE_HEADER => key == "ServerCorrelationValue",
            t::BATCH_ITEM => key == "ResultMessage",
            _ => optional_attribute(key),
        }
    }

    /// An item the server may add.
    fn may_add(&self, parent: u32, a: &Ttlv) -> bool {
        let o = self.operation;
        match (parent, a.tag) {
            (t::RESPONSE_HEADER, t::SERVER_CORRELATION_VALUE) => true,
            (t::BATCH_ITEM, t::RESULT_MESSAGE) => true,
            (
                t::RESPONSE_PAYLOAD,
                t::TEMPLATE_ATTRIBUTE
                | t::PRIVATE_KEY_TEMPLATE_ATTRIBUTE
                | t::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
            ) => matches!(o, op::CREATE | op::CREATE_KEY_PAIR | op::REGISTER),
            (t::RESPONSE_PAYLOAD, t::LOCATED_ITEMS) => o == op::LOCATE && self.version >= (1, 3),
            (t::ATTRIBUTE, t::ATTRIBUTE_INDEX) => a.value == Value::Integer(0),
            _ => false,
        }
    }
}

/// Optional attributes a server sets if it records them.
fn optional_attribute(key: &str) -> bool {
    matches!(
        key,
        "RandomNumberGenerator"
            | "OriginalCreationDate"
            | "Attribute[Random Number Generator]"
            | "Attribute[Original Creation Date]"
    )
}

/// Attributes whose value is the server's own description.
fn server_defined(key: &str) -> bool {
    matches!(
        key,
        "RandomNumberGenerator" | "Attribute[Random Number Generator]"
    )
}

/// How an item is paired in an unordered structure: a 1.x Attribute by its name,
/// anything else by its tag.
fn node_key(n: &Node) -> String {
    let name = match &n.body {
        Body::Structure(c) if n.tag == t::ATTRIBUTE => c.iter().find_map(|c| match &c.body {
            Body::Leaf {
                leaf: Leaf::Value(Value::TextString(s)),
                ..
            } if c.tag == t::ATTRIBUTE_NAME => Some(s.clone()),
            _ => None,
        }),
        _ => None,
    };
    key(n.tag, name)
}

fn ttlv_key(a: &Ttlv) -> String {
    let name = match a.child(t::ATTRIBUTE_NAME).map(|c| &c.value) {
        Some(Value::TextString(s)) if a.tag == t::ATTRIBUTE => Some(s.clone()),
        _ => None,
    };
    key(a.tag, name)
}

fn key(tag: u32, attribute_name: Option<String>) -> String {
    match attribute_name {
        Some(n) => format!("Attribute[{n}]"),
        None => x::tag_name(tag),
    }
}

/// `path/Name`, with `[k]` when the expected structure has several items so named.
fn child_path(path: &str, siblings: &[&Node], i: usize) -> String {
    let e = siblings[i];
    let same = siblings.iter().filter(|s| s.tag == e.tag).count();
    if same > 1 || e.tag == t::BATCH_ITEM {
        let k = siblings[..i].iter().filter(|s| s.tag == e.tag).count();
        format!("{path}/{}[{k}]", e.name)
    } else {
        format!("{path}/{}", e.name)
    }
}

/// The server's reason and message when a batch item failed, for diagnostics.
fn server_said(item: &Ttlv) -> String {
    let status = item.child(t::RESULT_STATUS).map(|s| &s.value);
    if status == Some(&Value::Enumeration(result_status::SUCCESS)) {
        return String::new();
    }
    let reason = item
        .child(t::RESULT_REASON)
        .map(|r| x::value_text(&r.value, "ResultReason"))
        .unwrap_or_default();
    let message = match item.child(t::RESULT_MESSAGE).map(|m| &m.value) {
        Some(Value::TextString(m)) => m.as_str(),
        _ => "",
    };
    format!(" [server: {reason}: {message}]")
}
