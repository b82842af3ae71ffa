//! `docs/openapi.json` describes exactly the routes the node serves.
//!
//! Two directions, checked two ways:
//! - every `.route(PATH, method(..))` registered in `src/` is documented, and every
//!   documented operation is registered there (a scan of the router source: axum
//!   cannot list its routes);
//! - every documented operation, sent to a running node, reaches a handler rather
//!   than the `404 no_such_route` fallback or a `405` (so a route registered in a
//!   file the scan does not understand still cannot go undocumented unnoticed the
//!   other way round).
//!
//! Plus the document's own consistency: `$ref`s resolve, operation IDs are unique,
//! path parameters are declared, and the node serves the file it was built with.

mod common;

use common::node::{NodeDir, SOFTWARE_ROT};
use hyper::{Method, StatusCode};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Route = (String, String);

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn document() -> Value {
    let text =
        std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The text of the balanced parenthesised argument list that starts at `open`.
fn balanced(text: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in text[open..].char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Routes registered in one Rust source text: `.route("PATH", get(h).post(h2))`.
/// Panics on router calls it does not understand, so they cannot slip past.
fn routes_in(text: &str, file: &str) -> BTreeSet<Route> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for unsupported in [".nest(", ".route_service(", ".nest_service("] {
        assert!(
            !code.contains(unsupported),
            "{file}: `{unsupported}` is not understood by tests/openapi.rs; teach it"
        );
    }
    let mut out = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(".route(") {
        let open = from + at + ".route".len();
        let args = balanced(&code, open).unwrap_or_else(|| panic!("{file}: unbalanced .route("));
        let path = args
            .split('"')
            .nth(1)
            .filter(|_| args.trim_start().starts_with('"'))
            .unwrap_or_else(|| {
                panic!("{file}: .route( whose path is not a string literal: {args}")
            });
        let handlers = &args[args.find(',').unwrap_or(args.len())..];
        let mut found = false;
        for m in METHODS {
            let needle = format!("{m}(");
            let mut i = 0;
            while let Some(j) = handlers[i..].find(&needle) {
                let pos = i + j;
                let before = handlers[..pos].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    out.insert((m.to_uppercase(), path.to_owned()));
                    found = true;
                }
                i = pos + needle.len();
            }
        }
        assert!(found, "{file}: no method router in .route({args})");
        from = open;
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every route registered anywhere under `src/`.
fn registered() -> BTreeSet<Route> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        if text.contains(".route(") {
            out.extend(routes_in(&text, &f.display().to_string()));
        }
    }
    out
}

#[test]
fn the_scanner_reads_route_registrations() {
    let src = r#"
        Router::new()
            .route("/v1/a", post(create).get(list))
            // .route("/v1/commented-out", get(x))
            .route(
                "/v1/a/{name}",
                get(get_one::<K>).delete(delete_one),
            )
            .route("/v1/b", put(set_it))
    "#;
    let got = routes_in(src, "sample");
    let want: BTreeSet<Route> = [
        ("POST", "/v1/a"),
        ("GET", "/v1/a"),
        ("GET", "/v1/a/{name}"),
        ("DELETE", "/v1/a/{name}"),
        ("PUT", "/v1/b"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn every_registered_route_is_documented_and_every_documented_one_registered() {
    let registered = registered();
    let documented = documented(&document());
    assert!(
        registered.len() > 50,
        "the scan found only {} routes: is it still reading src/admin?",
        registered.len()
    );
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "docs/openapi.json is out of date.\n registered but not documented: {undocumented:?}\n documented but not registered: {unserved:?}"
    );
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s);
                    }
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_consistent() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let ptr = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(ptr).is_some(), "$ref {r} does not resolve");
    }
    let mut ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            let what = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no operationId"));
            if let Some(other) = ids.insert(id.to_owned(), what.clone()) {
                panic!("operationId {id} used by {other} and {what}");
            }
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{what}: no responses"
            );
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, in_path, "{what}: path parameters");
        }
    }
}

/// A value for a path parameter that gets past routing.
fn sample(param: &str) -> &'static str {
    match param {
        "id" | "object_id" => "00000000-0000-7000-8000-000000000000",
        "role" => "key_admin",
        "privilege" => "create_endpoint",
        "target" => "endpoint",
        "grantee_kind" => "user",
        _ => "sample",
    }
}

fn fill(path: &str) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => sample(p).to_owned(),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn unrouted(status: StatusCode, v: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && v["error"]["code"] == "no_such_route")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_every_documented_route_and_the_document() {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config()).await.expect("start");
    // No token: nothing documented here may change anything; the probe only needs
    // to reach a handler (which then refuses the anonymous caller or the empty body).
    let mut c = clavis::client::ApiClient::new(
        &format!("https://{}", node.api_addr),
        &dir.ca_pem(),
        None,
        None,
    )
    .expect("client");

    // The probe tells routed from unrouted.
    let (st, v) = c
        .request(Method::GET, "/v1/no-such-route", None)
        .await
        .expect("request");
    assert!(unrouted(st, &v), "{st} {v}");
    let (st, v) = c
        .request(Method::DELETE, "/v1/status", None)
        .await
        .expect("request");
    assert!(unrouted(st, &v), "{st} {v}");

    let doc = document();
    let mut missing = Vec::new();
    for (method, path) in documented(&doc) {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let (st, v) = c.request(m, &fill(&path), None).await.expect("request");
        if unrouted(st, &v) {
            missing.push(format!("{method} {path} -> {st}"));
        }
    }
    assert!(missing.is_empty(), "documented but not served: {missing:?}");

    // Served without authentication, exactly as written.
    let (st, served) = c
        .request(Method::GET, "/v1/openapi.json", None)
        .await
        .expect("request");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(served, doc);
}
