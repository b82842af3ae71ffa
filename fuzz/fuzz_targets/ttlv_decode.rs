//! The TTLV decoder on arbitrary bytes, with the limits the KMIP listener uses by
//! default. The decoder reads untrusted input, so it must never panic; and whatever it
//! accepts must survive encode → decode unchanged, or a server that echoes decoded
//! items (attributes, batch item IDs) would send something other than it received.
#![no_main]

use clavis::kmip::ttlv::{Limits, Ttlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(item) = Ttlv::decode(data, &limits) else {
        return;
    };
    let encoded = item.encode();
    // Every accepted item fills exactly 8 + padded(length) bytes and the decoder refuses
    // trailing bytes, so the canonical encoding has the input's size (and so fits the
    // same limits).
    assert_eq!(
        encoded.len(),
        data.len(),
        "re-encoding changed the size of an accepted message"
    );
    match Ttlv::decode(&encoded, &limits) {
        Ok(again) => assert_eq!(again, item, "decode(encode(x)) != x"),
        Err(e) => panic!("the encoding of an accepted item does not decode: {e}"),
    }
});
