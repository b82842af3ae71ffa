//! The exercise suite every [`RootOfTrust`] implementation must pass.
//!
//! It uses only the trait, so the software root of trust, SoftHSM2 in each wrap
//! mode, and real HSMs all run the same checks. Each check states the property it
//! guards in its failure message.

use clavis::rot::{
    verify_signature, MasterKeyId, RootOfTrust, RotError, WrapMechanism, WrappedKey,
};
use clavis::secret::KeyMaterial;

/// Runs every check against `rot`. Creates master keys with fresh IDs and the
/// signing key if absent; leaves them in place.
pub fn exercise(rot: &dyn RootOfTrust) {
    let mk = MasterKeyId::generate();
    master_keys(rot, &mk);
    round_trips(rot, &mk);
    binding(rot, &mk);
    tampering(rot, &mk);
    wrong_master_key(rot, &mk);
    unknown_master_key(rot);
    nonces(rot, &mk);
    random(rot);
    signing(rot);
    concurrency(rot, &mk);
    let health = rot.health();
    assert!(health.ok, "health probe failed: {}", health.detail);
    assert!(!rot.describe().is_empty(), "describe() is empty");
}

fn key_of(len: usize, seed: u8) -> KeyMaterial {
    KeyMaterial::new(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect(),
    )
}

fn expect_unwrap_failed(r: Result<KeyMaterial, RotError>, what: &str) {
    match r {
        Err(RotError::UnwrapFailed(_)) => {}
        Err(other) => panic!("{what}: expected UnwrapFailed, got {other}"),
        Ok(_) => panic!("{what}: unwrap succeeded"),
    }
}

fn master_keys(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    assert!(
        !rot.has_master_key(mk).expect("has_master_key"),
        "a fresh master key ID is reported present"
    );
    rot.generate_master_key(mk).expect("generate master key");
    assert!(
        rot.has_master_key(mk).expect("has_master_key"),
        "a generated master key is reported absent"
    );
    match rot.generate_master_key(mk) {
        Err(RotError::MasterKeyExists(id)) => assert_eq!(&id, mk),
        Err(other) => panic!("duplicate generate: expected MasterKeyExists, got {other}"),
        Ok(()) => panic!("duplicate generate of {mk} succeeded"),
    }
}

fn round_trips(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    for len in [1usize, 16, 32, 33, 64] {
        let key = key_of(len, 0x5a);
        let object_id = format!("object-{len}");
        let wrapped = rot.wrap(mk, &object_id, &key).expect("wrap");
        assert_eq!(
            &wrapped.master_key_id, mk,
            "envelope names the wrong master key"
        );
        assert!(
            !contains(&wrapped.ciphertext, key.expose_secret()) || len < 4,
            "the plaintext key appears in the {len}-byte key's wrapped form"
        );
        // Through the stored form, as the store would do.
        let stored = WrappedKey::from_bytes(&wrapped.to_bytes()).expect("parse envelope");
        assert_eq!(stored, wrapped, "envelope does not round-trip");
        let back = rot.unwrap(&stored, &object_id).expect("unwrap");
        assert_eq!(
            back.len(),
            len,
            "unwrapped length differs for a {len}-byte key"
        );
        assert!(back == key, "unwrapped bytes differ for a {len}-byte key");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn binding(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    let key = key_of(32, 1);
    let wrapped = rot.wrap(mk, "object-a", &key).expect("wrap");
    expect_unwrap_failed(
        rot.unwrap(&wrapped, "object-b"),
        "unwrap for another object ID",
    );
    expect_unwrap_failed(rot.unwrap(&wrapped, ""), "unwrap for the empty object ID");
    expect_unwrap_failed(
        rot.unwrap(&wrapped, "object-a "),
        "unwrap for an object ID with a trailing space",
    );
    // The right object still works after failed attempts.
    assert!(rot.unwrap(&wrapped, "object-a").expect("unwrap") == key);
}

fn tampering(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    let key = key_of(32, 2);
    let wrapped = rot.wrap(mk, "object-t", &key).expect("wrap");
    let n = wrapped.ciphertext.len();
    for pos in [0, n / 2, n - 1] {
        let mut bad = wrapped.clone();
        bad.ciphertext[pos] ^= 0x01;
        expect_unwrap_failed(
            rot.unwrap(&bad, "object-t"),
            &format!("unwrap with byte {pos} of {n} flipped"),
        );
    }
    for cut in [1, 8, n] {
        let mut short = wrapped.clone();
        short.ciphertext.truncate(n - cut);
        match rot.unwrap(&short, "object-t") {
            Err(RotError::UnwrapFailed(_) | RotError::MalformedEnvelope(_)) => {}
            Err(other) => panic!("truncated by {cut}: expected UnwrapFailed, got {other}"),
            Ok(_) => panic!("a blob truncated by {cut} bytes unwrapped"),
        }
    }
    let mut long = wrapped.clone();
    long.ciphertext.extend_from_slice(&[0u8; 8]);
    match rot.unwrap(&long, "object-t") {
        Err(RotError::UnwrapFailed(_) | RotError::MalformedEnvelope(_)) => {}
        Err(other) => panic!("extended blob: expected UnwrapFailed, got {other}"),
        Ok(_) => panic!("a blob with 8 extra bytes unwrapped"),
    }
}

fn wrong_master_key(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    let other = MasterKeyId::generate();
    rot.generate_master_key(&other)
        .expect("generate second master key");
    let key = key_of(32, 3);
    let wrapped = rot.wrap(mk, "object-m", &key).expect("wrap");
    let relabelled = WrappedKey {
        master_key_id: other.clone(),
        ..wrapped.clone()
    };
    expect_unwrap_failed(
        rot.unwrap(&relabelled, "object-m"),
        "unwrap under a different master key",
    );
    // Same key, same object under the other master key gives a different blob.
    let under_other = rot.wrap(&other, "object-m", &key).expect("wrap");
    assert_ne!(
        under_other.ciphertext, wrapped.ciphertext,
        "two master keys produced the same wrapped blob"
    );
}

fn unknown_master_key(rot: &dyn RootOfTrust) {
    let missing = MasterKeyId::generate();
    let key = key_of(32, 4);
    match rot.wrap(&missing, "object-u", &key) {
        Err(RotError::MasterKeyNotFound(id)) => assert_eq!(id, missing),
        Err(other) => panic!("wrap under an unknown master key: got {other}"),
        Ok(_) => panic!("wrap under an unknown master key succeeded"),
    }
    let wrapped = WrappedKey {
        master_key_id: missing.clone(),
        mechanism: WrapMechanism::AesKeyWrapPad,
        ciphertext: vec![0u8; 56],
    };
    match rot.unwrap(&wrapped, "object-u") {
        Err(RotError::MasterKeyNotFound(id)) => assert_eq!(id, missing),
        Err(other) => panic!("unwrap under an unknown master key: got {other}"),
        Ok(_) => panic!("unwrap under an unknown master key succeeded"),
    }
}

fn nonces(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    let key = key_of(32, 5);
    let a = rot.wrap(mk, "object-n", &key).expect("wrap");
    let b = rot.wrap(mk, "object-n", &key).expect("wrap");
    if a.mechanism == WrapMechanism::AesGcm {
        assert_ne!(
            a.ciphertext[..12],
            b.ciphertext[..12],
            "two GCM wraps used the same nonce"
        );
        assert_ne!(a.ciphertext, b.ciphertext, "two GCM wraps are identical");
    }
    assert!(rot.unwrap(&a, "object-n").expect("unwrap") == key);
    assert!(rot.unwrap(&b, "object-n").expect("unwrap") == key);
}

fn random(rot: &dyn RootOfTrust) {
    for len in [1usize, 16, 32, 1000] {
        assert_eq!(rot.random(len).expect("random").len(), len, "random({len})");
    }
    let a = rot.random(32).expect("random");
    let b = rot.random(32).expect("random");
    assert!(a != b, "two 32-byte random draws are equal");
    assert!(
        a.expose_secret().iter().any(|&x| x != 0),
        "32 random bytes are all zero"
    );
}

fn signing(rot: &dyn RootOfTrust) {
    rot.ensure_signing_key().expect("ensure_signing_key");
    rot.ensure_signing_key()
        .expect("ensure_signing_key is idempotent");
    let public = rot.signing_public_key().expect("signing_public_key");
    assert_eq!(
        public.len(),
        65,
        "public key is not an uncompressed P-256 point"
    );
    assert_eq!(public[0], 0x04, "public key is not uncompressed SEC1");
    assert_eq!(
        rot.signing_public_key().expect("signing_public_key"),
        public,
        "the public key changed between calls"
    );
    let data = b"audit checkpoint 42: 0123456789abcdef";
    let sig = rot.sign(data).expect("sign");
    assert_eq!(sig.len(), 64, "signature is not r || s");
    assert!(
        verify_signature(&public, data, &sig),
        "a signature does not verify"
    );
    let sig2 = rot.sign(data).expect("sign");
    assert!(
        verify_signature(&public, data, &sig2),
        "a second signature does not verify"
    );
    assert!(
        !verify_signature(&public, b"audit checkpoint 43: 0123456789abcdef", &sig),
        "a signature verifies for a modified message"
    );
    let mut bad = sig.clone();
    bad[10] ^= 0x80;
    assert!(
        !verify_signature(&public, data, &bad),
        "a modified signature verifies"
    );
    let empty = rot.sign(b"").expect("sign empty input");
    assert!(
        verify_signature(&public, b"", &empty),
        "signature of empty input"
    );
}

fn concurrency(rot: &dyn RootOfTrust, mk: &MasterKeyId) {
    std::thread::scope(|scope| {
        for t in 0..6u8 {
            scope.spawn(move || {
                for i in 0..20u8 {
                    let key = key_of(32, t.wrapping_mul(50).wrapping_add(i));
                    let object_id = format!("object-{t}-{i}");
                    let wrapped = rot.wrap(mk, &object_id, &key).expect("concurrent wrap");
                    let back = rot.unwrap(&wrapped, &object_id).expect("concurrent unwrap");
                    assert!(back == key, "concurrent round trip differs");
                    expect_unwrap_failed(
                        rot.unwrap(&wrapped, "someone-else"),
                        "concurrent unwrap for another object",
                    );
                    assert_eq!(rot.random(16).expect("concurrent random").len(), 16);
                }
            });
        }
    });
}
