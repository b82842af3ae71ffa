//! The PKCS#11 root of trust against SoftHSM2: the shared exercise suite in each
//! wrap mode, plus what only an HSM can show (the master key never leaves the
//! token, tokens do not share keys) and the startup errors an operator meets.
//!
//! Each test makes its own SoftHSM2 token directory; run under cargo-nextest
//! (one process per test), since SoftHSM2 reads its configuration once per process.

mod common;

use clavis::rot::pkcs11::Pkcs11Rot;
use clavis::rot::{MasterKeyId, RootOfTrust, RotError, WrapMechanism, WrappedKey};
use clavis::secret::KeyMaterial;
use common::rot_suite;
use common::softhsm::{raw_session, SoftHsm, TestToken};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};

fn open(token: &TestToken) -> Pkcs11Rot {
    Pkcs11Rot::open(&token.config, &token.config_dir)
        .unwrap_or_else(|e| panic!("open token {}: {e}", token.label))
}

fn open_err(token: &TestToken) -> RotError {
    match Pkcs11Rot::open(&token.config, &token.config_dir) {
        Ok(_) => panic!("opening token {} succeeded", token.label),
        Err(e) => e,
    }
}

fn gcm_token(hsm: &SoftHsm, label: &str) -> TestToken {
    let mut t = hsm.add_token(label);
    t.config.profile = hsm.profile_variant("softhsm2-gcm.toml", "aes-gcm");
    t
}

fn key32(seed: u8) -> KeyMaterial {
    KeyMaterial::new((0..32u8).map(|i| i ^ seed).collect())
}

#[test]
fn suite_passes_in_kwp_mode() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("kwp");
    let rot = open(&token);
    assert_eq!(rot.profile().name, "softhsm2");
    rot_suite::exercise(&rot);
}

#[test]
fn suite_passes_in_gcm_mode() {
    let hsm = SoftHsm::new();
    let token = gcm_token(&hsm, "gcm");
    let rot = open(&token);
    rot_suite::exercise(&rot);
}

#[test]
fn suite_passes_with_a_single_session() {
    // Six suite threads share one session: callers must wait for it, not fail.
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("one-session");
    token.config.session_pool_size = Some(1);
    let rot = open(&token);
    assert_eq!(rot.session_pool_size(), 1);
    rot_suite::exercise(&rot);
}

#[test]
fn kwp_blobs_are_rfc5649_sized_and_labelled() {
    let hsm = SoftHsm::new();
    let rot = open(&hsm.add_token("kwp-shape"));
    let mk = MasterKeyId::generate();
    rot.generate_master_key(&mk).expect("generate");
    for len in [1usize, 16, 32, 33, 64] {
        let key = KeyMaterial::new(vec![7u8; len]);
        let w = rot.wrap(&mk, "obj", &key).expect("wrap");
        assert_eq!(w.mechanism, WrapMechanism::AesKeyWrapPad);
        // key || 16-byte binding tag, padded to 8, plus the 8-byte integrity block.
        assert_eq!(
            w.ciphertext.len(),
            (len + 16).div_ceil(8) * 8 + 8,
            "len {len}"
        );
        // RFC 5649 is deterministic: the same key and object give the same blob.
        assert_eq!(rot.wrap(&mk, "obj", &key).expect("wrap"), w);
    }
}

#[test]
fn gcm_blobs_carry_nonce_and_tag() {
    let hsm = SoftHsm::new();
    let rot = open(&gcm_token(&hsm, "gcm-shape"));
    let mk = MasterKeyId::generate();
    rot.generate_master_key(&mk).expect("generate");
    for len in [1usize, 32, 64] {
        let w = rot
            .wrap(&mk, "obj", &KeyMaterial::new(vec![9u8; len]))
            .expect("wrap");
        assert_eq!(w.mechanism, WrapMechanism::AesGcm);
        assert_eq!(w.ciphertext.len(), 12 + len + 16, "len {len}");
    }
}

#[test]
fn swapped_mechanism_byte_does_not_unwrap() {
    let hsm = SoftHsm::new();
    let rot = open(&hsm.add_token("swap"));
    let mk = MasterKeyId::generate();
    rot.generate_master_key(&mk).expect("generate");
    let w = rot.wrap(&mk, "obj", &key32(1)).expect("wrap");
    let swapped = WrappedKey {
        mechanism: WrapMechanism::AesGcm,
        ..w
    };
    match rot.unwrap(&swapped, "obj") {
        Err(RotError::UnwrapFailed(_)) => {}
        Err(e) => panic!("expected UnwrapFailed, got {e}"),
        Ok(_) => panic!("a KWP blob unwrapped as GCM"),
    }
}

#[test]
fn master_key_is_sensitive_and_never_leaves_the_token() {
    for gcm in [false, true] {
        let hsm = SoftHsm::new();
        let token = if gcm {
            gcm_token(&hsm, "mk-attrs-gcm")
        } else {
            hsm.add_token("mk-attrs-kwp")
        };
        let rot = open(&token);
        let mk = MasterKeyId::generate();
        rot.generate_master_key(&mk).expect("generate");

        let (_ctx, s) = raw_session(&token);
        let found = s
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(mk.0.as_bytes().to_vec()),
            ])
            .expect("find master key");
        assert_eq!(
            found.len(),
            1,
            "exactly one object carries the master key label"
        );
        let h = found[0];
        let attrs = s
            .get_attributes(
                h,
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Token,
                    AttributeType::Private,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::Modifiable,
                    AttributeType::Wrap,
                    AttributeType::Unwrap,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                ],
            )
            .expect("read master key attributes");
        let has = |want: &Attribute| attrs.iter().any(|a| a == want);
        for want in [
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true),
            Attribute::Modifiable(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Encrypt(gcm),
            Attribute::Decrypt(gcm),
        ] {
            assert!(has(&want), "master key (gcm={gcm}) lacks {want:?}");
        }
        // The token refuses to reveal CKA_VALUE (cryptoki drops the attribute).
        let value = s
            .get_attributes(h, &[AttributeType::Value])
            .expect("C_GetAttributeValue");
        assert!(
            !value.iter().any(|a| matches!(a, Attribute::Value(_))),
            "the master key's CKA_VALUE is readable"
        );

        // Wrapping the master key out under another key fails...
        let wrapping = s
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(32.into()),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(true),
                ],
            )
            .expect("generate a wrapping key");
        match s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, h) {
            Err(CkError::Pkcs11(RvError::KeyUnextractable, _)) => {}
            Err(e) => panic!("wrapping the master key failed, but not as unextractable: {e}"),
            Ok(_) => panic!("the master key was wrapped out of the token"),
        }
        // ...while the same wrapping key does wrap an extractable key, so the refusal
        // above is about the master key, not a broken setup.
        let extractable = s
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(32.into()),
                    Attribute::Extractable(true),
                ],
            )
            .expect("generate an extractable key");
        s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, extractable)
            .expect("control: wrapping an extractable key works");
    }
}

#[test]
fn another_tokens_master_key_cannot_unwrap() {
    let hsm = SoftHsm::new();
    let pairs = [
        (hsm.add_token("kwp-a"), hsm.add_token("kwp-b")),
        (gcm_token(&hsm, "gcm-a"), gcm_token(&hsm, "gcm-b")),
    ];
    for (a, b) in &pairs {
        let rot_a = open(a);
        let rot_b = open(b);
        // The same ID on both tokens: only the label matches, not the key.
        let mk = MasterKeyId("clavis-mk-same-label".into());
        rot_a.generate_master_key(&mk).expect("generate on a");
        rot_b.generate_master_key(&mk).expect("generate on b");
        let key = key32(0x33);
        let from_a = rot_a.wrap(&mk, "obj", &key).expect("wrap on a");
        assert!(rot_a.unwrap(&from_a, "obj").expect("unwrap on a") == key);
        match rot_b.unwrap(&from_a, "obj") {
            Err(RotError::UnwrapFailed(id)) => assert_eq!(id, mk),
            Err(e) => panic!("{} -> {}: expected UnwrapFailed, got {e}", a.label, b.label),
            Ok(_) => panic!("token {} unwrapped a blob made on {}", b.label, a.label),
        }
        let from_b = rot_b.wrap(&mk, "obj", &key).expect("wrap on b");
        assert_ne!(from_a.ciphertext, from_b.ciphertext);
        assert!(matches!(
            rot_a.unwrap(&from_b, "obj"),
            Err(RotError::UnwrapFailed(_))
        ));
    }
}

/// Generic-secret objects visible to the application: the temporary keys of wrap
/// and unwrap are of that kind, and nothing else in these tests is.
fn temporary_keys(token: &TestToken) -> usize {
    let (_ctx, s) = raw_session(token);
    s.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
    ])
    .expect("find temporary keys")
    .len()
}

#[test]
fn temporary_keys_are_destroyed_on_every_path() {
    let hsm = SoftHsm::new();
    let session_objects = hsm.add_token("tmp-session");
    let mut token_objects = hsm.add_token("tmp-token");
    let text = std::fs::read_to_string(common::softhsm::softhsm2_profile()).expect("profile");
    let variant = text.replace(
        "session_objects_for_temporary_keys = true",
        "session_objects_for_temporary_keys = false",
    );
    assert_ne!(
        variant, text,
        "the profile sets session_objects_for_temporary_keys"
    );
    token_objects.config.profile = hsm.write_file("softhsm2-token-objects.toml", &variant);

    // Control: a generic secret left in another session of this process is seen by
    // the counting session, so a leak from the pool's sessions would be counted.
    {
        let (_ctx, other) = raw_session(&session_objects);
        other
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Value(vec![1u8; 20]),
            ])
            .expect("create control object");
        assert_eq!(
            temporary_keys(&session_objects),
            1,
            "control object not visible"
        );
    }
    assert_eq!(
        temporary_keys(&session_objects),
        0,
        "control object outlived its session"
    );

    for token in [&session_objects, &token_objects] {
        let rot = open(token);
        let mk = MasterKeyId::generate();
        rot.generate_master_key(&mk).expect("generate");
        let key = key32(0x44);
        let w = rot.wrap(&mk, "obj", &key).expect("wrap");
        assert!(rot.unwrap(&w, "obj").expect("unwrap") == key);
        // Unwrap succeeds in the token, then the binding check fails: the object
        // must still be destroyed.
        assert!(matches!(
            rot.unwrap(&w, "other"),
            Err(RotError::UnwrapFailed(_))
        ));
        let mut bad = w.clone();
        bad.ciphertext[3] ^= 1;
        assert!(matches!(
            rot.unwrap(&bad, "obj"),
            Err(RotError::UnwrapFailed(_))
        ));
        assert_eq!(
            temporary_keys(token),
            0,
            "{}: a temporary key is left in the token",
            token.label
        );
        drop(rot);
        assert_eq!(temporary_keys(token), 0, "{}: after close", token.label);
    }
}

#[test]
fn keys_persist_across_reopen() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("persist");
    let mk = MasterKeyId::generate();
    let key = key32(0x55);
    let (wrapped, public) = {
        let rot = open(&token);
        rot.generate_master_key(&mk).expect("generate");
        rot.ensure_signing_key().expect("signing key");
        (
            rot.wrap(&mk, "obj", &key).expect("wrap"),
            rot.signing_public_key().expect("public key"),
        )
    };
    let rot = open(&token);
    assert!(rot.has_master_key(&mk).expect("has_master_key"));
    assert!(rot.unwrap(&wrapped, "obj").expect("unwrap after reopen") == key);
    rot.ensure_signing_key()
        .expect("signing key found, not regenerated");
    assert_eq!(rot.signing_public_key().expect("public key"), public);
    let sig = rot.sign(b"after reopen").expect("sign");
    assert!(clavis::rot::verify_signature(
        &public,
        b"after reopen",
        &sig
    ));
    assert!(matches!(
        rot.generate_master_key(&mk),
        Err(RotError::MasterKeyExists(_))
    ));
}

#[test]
fn signing_needs_a_signing_key() {
    let hsm = SoftHsm::new();
    let rot = open(&hsm.add_token("no-signing"));
    assert!(matches!(rot.sign(b"x"), Err(RotError::NoSigningKey)));
    assert!(matches!(
        rot.signing_public_key(),
        Err(RotError::NoSigningKey)
    ));
    rot.ensure_signing_key().expect("ensure");
    assert!(rot.sign(b"x").is_ok());
}

#[test]
fn a_hand_made_extractable_key_is_not_used_as_master_key() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("extractable");
    let mk = MasterKeyId::generate();
    {
        let (_ctx, s) = raw_session(&token);
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(mk.0.as_bytes().to_vec()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .expect("create an extractable AES key");
    }
    let rot = open(&token);
    assert!(matches!(
        rot.has_master_key(&mk),
        Err(RotError::Unsupported(_))
    ));
    assert!(matches!(
        rot.wrap(&mk, "obj", &key32(1)),
        Err(RotError::Unsupported(_))
    ));
}

#[test]
fn wrong_pin_is_bad_pin() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("wrong-pin");
    let right = token.config.pin.replace("wrong-pin-0000".into());
    let err = open_err(&token);
    assert!(matches!(err, RotError::BadPin), "got {err}");
    assert!(
        !err.to_string().contains("wrong-pin-0000"),
        "the PIN is in the message"
    );
    // The right PIN still opens it (one failure does not lock SoftHSM2 tokens).
    token.config.pin = right;
    open(&token);
}

#[test]
fn pin_comes_from_the_named_environment_variable() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("pin-env");
    token.config.pin = None;
    token.config.pin_env = "CLAVIS_TEST_PIN_ENV_UNSET".into();
    let err = open_err(&token);
    assert!(
        err.to_string().contains("CLAVIS_TEST_PIN_ENV_UNSET"),
        "the error does not name pin_env: {err}"
    );
    token.config.pin_env = "CLAVIS_TEST_PIN_ENV_SET".into();
    std::env::set_var("CLAVIS_TEST_PIN_ENV_SET", &token.pin);
    let rot = open(&token);
    assert!(rot.health().ok);
}

#[test]
fn missing_token_is_token_not_found() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("present");
    token.config.token_label = "absent".into();
    match open_err(&token) {
        RotError::TokenNotFound(label) => assert_eq!(label, "absent"),
        e => panic!("expected TokenNotFound, got {e}"),
    }
}

#[test]
fn bad_module_paths_are_module_errors() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("module");
    token.config.module = Some("/nonexistent/libpkcs11-nope.so".into());
    match open_err(&token) {
        RotError::Module { path, .. } => assert!(path.contains("libpkcs11-nope"), "{path}"),
        e => panic!("expected Module, got {e}"),
    }
    // A file that is not a shared library, named relative to the config directory.
    hsm.write_file("not-a-module.so", "plain text\n");
    token.config.module = Some("./not-a-module.so".into());
    assert!(matches!(open_err(&token), RotError::Module { .. }));
    // A profile none of whose module paths exists.
    token.config.module = None;
    token.config.profile = hsm.write_file(
        "no-module.toml",
        "name = \"x\"\nmodule = \"/nonexistent/a.so\"\nmodule_candidates = [\"/nonexistent/b.so\"]\n\
         wrap_mechanism = \"aes-gcm\"\n",
    );
    match open_err(&token) {
        RotError::Module { path, .. } => {
            assert!(path.contains("a.so") && path.contains("b.so"), "{path}")
        }
        e => panic!("expected Module, got {e}"),
    }
}

#[test]
fn malformed_profiles_are_profile_errors_naming_the_field() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("profile");
    let base = "name = \"x\"\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n";
    for (file, text, field) in [
        (
            "mech.toml",
            format!("{base}wrap_mechanism = \"aes-cbc\"\n"),
            "wrap_mechanism",
        ),
        (
            "pool.toml",
            format!("{base}wrap_mechanism = \"aes-gcm\"\nsession_pool_size = \"four\"\n"),
            "session_pool_size",
        ),
        (
            "zero.toml",
            format!("{base}wrap_mechanism = \"aes-gcm\"\nsession_pool_size = 0\n"),
            "session_pool_size",
        ),
        (
            "typo.toml",
            format!("{base}wrap_mechanism = \"aes-gcm\"\nsesion_pool_size = 2\n"),
            "sesion_pool_size",
        ),
        (
            "quirk.toml",
            format!("{base}wrap_mechanism = \"aes-gcm\"\n[quirks]\ngcm_iv_from_hsm = \"yes\"\n"),
            "gcm_iv_from_hsm",
        ),
        ("missing.toml", base.to_owned(), "wrap_mechanism"),
    ] {
        token.config.profile = hsm.write_file(file, &text);
        match open_err(&token) {
            RotError::Profile { path, detail } => {
                assert!(path.ends_with(file), "{path}");
                assert!(
                    detail.contains(field),
                    "{file}: detail does not name {field}: {detail}"
                );
            }
            e => panic!("{file}: expected Profile, got {e}"),
        }
    }
    token.config.profile = "does-not-exist.toml".into();
    assert!(matches!(open_err(&token), RotError::Profile { .. }));
}

#[test]
fn pkcs11_3_kwp_number_is_refused_with_a_reason() {
    let hsm = SoftHsm::new();
    let mut token = hsm.add_token("kwp3");
    token.config.profile = hsm.profile_variant("softhsm2-kwp3.toml", "aes-key-wrap-kwp");
    match open_err(&token) {
        RotError::Unsupported(msg) => assert!(msg.contains("0x210B"), "{msg}"),
        e => panic!("expected Unsupported, got {e}"),
    }
}

#[test]
fn describe_names_module_token_and_profile() {
    let hsm = SoftHsm::new();
    let rot = open(&hsm.add_token("describe"));
    let d = rot.describe();
    assert!(d.contains("libsofthsm2.so"), "{d}");
    assert!(d.contains("\"describe\""), "{d}");
    assert!(d.contains("softhsm2"), "{d}");
    assert_eq!(rot.kind(), clavis::rot::RotKind::Pkcs11);
}

#[test]
fn recovers_when_the_token_forgets_the_login() {
    for gcm in [false, true] {
        let hsm = SoftHsm::new();
        let token = if gcm {
            gcm_token(&hsm, "logout-gcm")
        } else {
            hsm.add_token("logout-kwp")
        };
        let rot = open(&token);
        let mk = MasterKeyId::generate();
        rot.generate_master_key(&mk).expect("generate");
        rot.ensure_signing_key().expect("signing key");
        let key = key32(0x66);
        let before = rot.wrap(&mk, "obj", &key).expect("wrap");

        // C_Logout applies to every session of the application, the pool's included.
        let (_ctx, s) = raw_session(&token);
        s.logout().expect("C_Logout");
        assert!(
            s.find_objects(&[Attribute::Label(mk.0.as_bytes().to_vec())])
                .expect("find")
                .is_empty(),
            "control: after logout the private master key is invisible"
        );

        assert!(rot.unwrap(&before, "obj").expect("unwrap after logout") == key);
        let after = rot.wrap(&mk, "obj", &key).expect("wrap after logout");
        assert!(rot.unwrap(&after, "obj").expect("unwrap") == key);
        assert!(rot.has_master_key(&mk).expect("has_master_key"));
        let public = rot.signing_public_key().expect("public key");
        let sig = rot.sign(b"after logout").expect("sign after logout");
        assert!(clavis::rot::verify_signature(
            &public,
            b"after logout",
            &sig
        ));
        assert!(rot.health().ok);
    }
}

fn exportable(mut t: TestToken) -> TestToken {
    t.config.master_key_exportable = true;
    t
}

#[test]
fn an_exportable_master_key_moves_to_another_token_only_wrapped() {
    for gcm in [false, true] {
        let hsm = SoftHsm::new();
        let (a, b) = if gcm {
            (
                exportable(gcm_token(&hsm, "export-a")),
                gcm_token(&hsm, "export-b"),
            )
        } else {
            (
                exportable(hsm.add_token("export-a")),
                hsm.add_token("export-b"),
            )
        };
        let rot_a = open(&a);
        let rot_b = open(&b);
        let mk = MasterKeyId::generate();
        rot_a.generate_master_key(&mk).expect("generate");
        let blob = rot_a.wrap(&mk, "obj-1", &key32(3)).expect("wrap");
        // Still sensitive: CKA_VALUE cannot be read, only wrapped out.
        let (_ctx, s) = raw_session(&a);
        let found = s
            .find_objects(&[Attribute::Label(mk.0.as_bytes().to_vec())])
            .expect("find");
        let attrs = s
            .get_attributes(
                found[0],
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .expect("attributes");
        assert!(attrs.contains(&Attribute::Sensitive(true)), "{gcm}");
        assert!(attrs.contains(&Attribute::Extractable(true)), "{gcm}");

        let kek = key32(0x5A);
        let exported = rot_a.export_master_key(&mk, &kek).expect("export");
        assert_eq!(exported.len(), 40, "RFC 5649 of a 32-byte key");
        // The wrong backup key, or a changed blob, imports nothing.
        assert!(matches!(
            rot_b.import_master_key(&mk, &key32(0x5B), &exported),
            Err(RotError::UnwrapFailed(_))
        ));
        let mut changed = exported.clone();
        changed[7] ^= 1;
        assert!(rot_b.import_master_key(&mk, &kek, &changed).is_err());
        assert!(!rot_b.has_master_key(&mk).expect("lookup"), "{gcm}");

        rot_b
            .import_master_key(&mk, &kek, &exported)
            .expect("import");
        assert_eq!(
            rot_b
                .unwrap(&blob, "obj-1")
                .expect("unwrap in b")
                .expose_secret(),
            key32(3).expose_secret()
        );
        assert!(matches!(
            rot_b.import_master_key(&mk, &kek, &exported),
            Err(RotError::MasterKeyExists(_))
        ));
        // b is not configured for exports: its copy landed non-extractable.
        assert!(matches!(
            rot_b.export_master_key(&mk, &kek),
            Err(RotError::Unsupported(_))
        ));
        let (_ctx, s) = raw_session(&b);
        let found = s
            .find_objects(&[Attribute::Label(mk.0.as_bytes().to_vec())])
            .expect("find");
        let attrs = s
            .get_attributes(found[0], &[AttributeType::Extractable])
            .expect("attributes");
        assert!(attrs.contains(&Attribute::Extractable(false)), "{gcm}");
    }
}

#[test]
fn a_non_exportable_master_key_is_not_exported() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("no-export");
    let mk = MasterKeyId::generate();
    open(&token).generate_master_key(&mk).expect("generate");
    // Turning the setting on later does not make the key extractable.
    let rot = open(&exportable(token));
    match rot.export_master_key(&mk, &key32(1)) {
        Err(RotError::Unsupported(m)) => assert!(m.contains("non-extractable"), "{m}"),
        other => panic!("exported: {other:?}"),
    }
}
