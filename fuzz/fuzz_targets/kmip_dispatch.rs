//! Decoded requests through the whole KMIP dispatcher (`ops::process`) against a real
//! in-process node: software root of trust, SQLite in a temporary directory, an admin
//! principal (so authorization never hides a handler from the fuzzer).
//!
//! Whatever a client sends, the node must answer with a well-formed Response Message
//! (one result per processed batch item, Batch Count matching, Operation Undone only
//! when the batch asked for Undo) that encodes and decodes back to itself. A panic, a
//! hang (libFuzzer's `-timeout`) or a malformed response is a finding.
//!
//! The node is set up once per process and keeps its database between inputs, so
//! objects created by one input are visible to later ones (which lets the fuzzer reach
//! Get/Activate/Revoke/Destroy on real objects; it also means a crash may need the
//! state the run had built: rerun the artifact with `kmip_dispatch ARTIFACT`, and if
//! it does not reproduce, replay the corpus in order).
#![no_main]

use clavis::kmip::enums::{batch_error_continuation_option, result_status};
use clavis::kmip::ops::process;
use clavis::kmip::tags as t;
use clavis::kmip::ttlv::{Limits, Ttlv, Value};
use clavis::service::{KeyService, Principal};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

struct Fixture {
    rt: tokio::runtime::Runtime,
    service: Arc<KeyService>,
    who: Principal,
    // Kept only so the node's files outlive the process's inputs. libFuzzer leaves
    // through exit(), so this is never dropped: scripts/fuzz.sh points TMPDIR at a
    // directory it removes afterwards.
    _dir: tempfile::TempDir,
    _node: clavis::node::RunningNode,
}

fn setup() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::Builder::new()
        .prefix("clavis-fuzz-")
        .tempdir()
        .expect("temporary directory");
    // The same configuration the integration tests use (tests/common/node.rs), minus
    // the KMIP listener: inputs go straight to the dispatcher.
    let config_path = dir.path().join("clavis.toml");
    std::fs::write(
        &config_path,
        "[node]\nname = \"fuzz-node\"\ndata_dir = \"data\"\n\n\
         [root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n",
    )
    .expect("write clavis.toml");
    let cfg = clavis::config::Config::load(&config_path).expect("config loads");
    let node = rt.block_on(async {
        clavis::node::init(&cfg).await.expect("node init");
        clavis::node::start(&cfg).await.expect("node start")
    });
    Fixture {
        service: node.service.clone(),
        rt,
        who: Principal::system("fuzz"),
        _dir: dir,
        _node: node,
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(setup)
}

/// Panics unless `response` is a well-formed Response Message answering `request`.
fn check_response(request: &Ttlv, response: &Ttlv) {
    assert_eq!(response.tag, t::RESPONSE_MESSAGE, "not a Response Message");
    assert!(
        matches!(response.value, Value::Structure(_)),
        "Response Message is not a structure"
    );
    let header = response
        .child(t::RESPONSE_HEADER)
        .expect("Response Header present");
    assert!(
        header.child(t::PROTOCOL_VERSION).is_some(),
        "Response Header without Protocol Version"
    );
    assert!(
        matches!(
            header.child(t::TIME_STAMP).map(|c| &c.value),
            Some(Value::DateTime(_))
        ),
        "Response Header without a Time Stamp"
    );
    let items: Vec<&Ttlv> = response.children_with(t::BATCH_ITEM).collect();
    let declared = match header.child(t::BATCH_COUNT).map(|c| &c.value) {
        Some(Value::Integer(n)) => *n,
        other => panic!("Batch Count is {other:?}"),
    };
    assert_eq!(
        usize::try_from(declared).ok(),
        Some(items.len()),
        "Batch Count does not match the batch items"
    );
    assert!(!items.is_empty(), "a response without batch items");
    // Never more results than requests (an unreadable request gets exactly one).
    let asked = request.children_with(t::BATCH_ITEM).count().max(1);
    assert!(
        items.len() <= asked,
        "{} results for {asked} batch items",
        items.len()
    );
    // Operation Undone is only an answer to a batch that asked for Undo.
    let asked_undo = matches!(
        request
            .child(t::REQUEST_HEADER)
            .and_then(|h| h.child(t::BATCH_ERROR_CONTINUATION_OPTION))
            .map(|c| &c.value),
        Some(Value::Enumeration(batch_error_continuation_option::UNDO))
    );
    for item in items {
        match item.child(t::RESULT_STATUS).map(|c| &c.value) {
            Some(Value::Enumeration(result_status::SUCCESS)) => {}
            Some(Value::Enumeration(result_status::OPERATION_UNDONE)) => assert!(
                asked_undo,
                "Operation Undone in a batch that did not ask for Undo"
            ),
            Some(Value::Enumeration(result_status::OPERATION_FAILED)) => assert!(
                matches!(
                    item.child(t::RESULT_REASON).map(|c| &c.value),
                    Some(Value::Enumeration(_))
                ),
                "a failed batch item without a Result Reason"
            ),
            other => panic!("Result Status is {other:?}"),
        }
    }
    // What the server sends must read back as what it built. Responses may legitimately
    // be larger than a request may be, so only the size bounds are relaxed.
    let relaxed = Limits {
        max_message_bytes: usize::MAX,
        max_items: usize::MAX,
        ..Limits::default()
    };
    match Ttlv::decode(&response.encode(), &relaxed) {
        Ok(again) => assert_eq!(&again, response, "the response does not round-trip"),
        Err(e) => panic!("the encoded response does not decode: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    // The listener decodes with the default limits before dispatching.
    let Ok(request) = Ttlv::decode(data, &Limits::default()) else {
        return;
    };
    let f = fixture();
    let response = f.rt.block_on(process(&f.service, &f.who, &request));
    check_response(&request, &response);
});
