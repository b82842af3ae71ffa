//! The software root of trust passes the same suite as every root of trust, and its
//! sealed file refuses a wrong passphrase and damage.

mod common;

use clavis::rot::software::SoftwareRot;
use clavis::rot::{MasterKeyId, RootOfTrust, RotError};
use secrecy::SecretString;

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[test]
fn software_rot_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rot =
        SoftwareRot::create(&dir.path().join("mk.sealed"), pass("correct horse")).expect("create");
    common::rot_suite::exercise(&rot);
}

#[test]
fn sealed_file_reopens_with_its_passphrase_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mk.sealed");
    let rot = SoftwareRot::create(&path, pass("correct horse")).expect("create");
    let mk = MasterKeyId::generate();
    rot.generate_master_key(&mk).expect("generate");
    rot.ensure_signing_key().expect("signing key");
    let key = rot.random(32).expect("random");
    let wrapped = rot.wrap(&mk, "obj-1", &key).expect("wrap");
    let public = rot.signing_public_key().expect("public key");
    drop(rot);

    let reopened = SoftwareRot::open(&path, pass("correct horse")).expect("reopen");
    assert!(reopened.unwrap(&wrapped, "obj-1").expect("unwrap") == key);
    assert_eq!(reopened.signing_public_key().expect("public key"), public);

    assert!(matches!(
        SoftwareRot::open(&path, pass("wrong horse")),
        Err(RotError::BadPassphrase(_))
    ));
    // The file never contains the key in the clear.
    let raw = std::fs::read(&path).expect("read");
    assert!(!common::node::contains(&raw, key.expose_secret()));
    // Damage is detected, not silently accepted.
    let text = std::fs::read_to_string(&path).expect("read");
    let damaged = text.replacen("\"ciphertext\": \"", "\"ciphertext\": \"AAAA", 1);
    std::fs::write(&path, damaged).expect("write");
    assert!(SoftwareRot::open(&path, pass("correct horse")).is_err());
    std::fs::write(&path, "not json").expect("write");
    assert!(matches!(
        SoftwareRot::open(&path, pass("correct horse")),
        Err(RotError::SealedFile { .. })
    ));
    // create never overwrites.
    assert!(SoftwareRot::create(&path, pass("x")).is_err());
}
