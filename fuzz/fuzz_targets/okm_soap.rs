//! The OKM agent protocol's SOAP reader (`clavis::agent::okm::soap::parse`) on
//! arbitrary bytes. It must never panic or hang, must refuse every document with a
//! DTD, and whatever it accepts must be within its limits; answers written with the
//! module's writer must read back.
#![no_main]

use clavis::agent::okm::soap::{self, Body, Limits, SoapError};
use libfuzzer_sys::fuzz_target;

fn depth(e: &soap::Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

/// True when an XML tokenizer meets a document type declaration (as markup; the same
/// bytes inside a comment, CDATA or an attribute value are only text).
fn has_dtd(doc: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(doc) else {
        return false;
    };
    let mut r = quick_xml::Reader::from_str(text);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::DocType(_)) => return true,
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match soap::parse(data, &limits) {
        Ok(req) => {
            assert!(data.len() <= limits.max_bytes);
            assert!(!has_dtd(data), "a document with a DTD was accepted");
            // The operation sits at depth 3 (Envelope, Body, operation).
            assert!(depth(&req.op) + 2 <= limits.max_depth);
            // Writing the operation's text back and reading it again gives it back.
            if let Some(first) = req.op.children.first() {
                let mut b = Body::new();
                b.text("Echo", &first.text);
                let doc = soap::response("KMS-Agent", "http://www.sun.com/KMS/KMS-Agent", "X", b);
                let back = soap::parse(doc.as_bytes(), &limits).expect("own output reads back");
                assert_eq!(back.op.children[0].text, first.text);
            }
        }
        Err(SoapError::Dtd) => {}
        Err(_) => {}
    }
});
