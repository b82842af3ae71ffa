//! Operator mistakes get a clear error naming what to fix, and change nothing:
//! bad or missing configuration, wrong HSM PIN, missing token, wrong passphrase,
//! double initialization.

mod common;

use common::node::{clavisd_bin, pkcs11_rot_section, NodeDir, SOFTWARE_ROT};
use common::softhsm::SoftHsm;
use std::path::Path;
use std::process::Command;

/// Runs clavisd; returns (exit code, stderr).
fn clavisd(args: &[&str], config: &Path) -> (i32, String) {
    let out = Command::new(clavisd_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("CLAVIS_LOG", "error")
        .env_remove("CLAVIS_HSM_PIN")
        .env_remove("CLAVIS_ROT_PASSPHRASE")
        .output()
        .expect("run clavisd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_error(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clavis.toml");
    std::fs::write(&path, text).expect("write");
    let r = clavisd(&["run"], &path);
    assert!(
        !dir.path().join("data").exists(),
        "a bad config created the data directory"
    );
    r
}

#[test]
fn config_errors_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("malformed TOML", "[node\nname = ", "invalid config file"),
        ("unknown field", "[node]\nname = \"n\"\ncolour = \"blue\"\n[root_of_trust]\nkind = \"software\"\n", "colour"),
        ("missing section", "[node]\nname = \"n\"\n", "root_of_trust"),
        ("bad node name", "[node]\nname = \"bad name\"\n[root_of_trust]\nkind = \"software\"\n", "node.name"),
        ("wrong type", "[node]\nname = \"n\"\n[api]\nlisten = 5\n[root_of_trust]\nkind = \"software\"\n", "listen"),
        ("bad store URL", "[node]\nname = \"n\"\n[store]\nurl = \"mysql://x\"\n[root_of_trust]\nkind = \"software\"\n", "store.url"),
        ("unknown rot kind", "[node]\nname = \"n\"\n[root_of_trust]\nkind = \"tpm\"\n", "kind"),
        ("missing token label", "[node]\nname = \"n\"\n[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"p.toml\"\n", "token_label"),
    ];
    for (what, text, needle) in cases {
        let (code, err) = config_error(text);
        assert_eq!(code, 2, "{what}: exit code, stderr: {err}");
        assert!(
            err.contains(needle),
            "{what}: stderr does not mention {needle:?}: {err}"
        );
    }
    let (code, err) = clavisd(&["run"], Path::new("/nonexistent/clavis.toml"));
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read config file /nonexistent/clavis.toml"),
        "{err}"
    );
}

#[test]
fn run_before_init_says_so() {
    let node = NodeDir::new(None, SOFTWARE_ROT);
    let (code, err) = clavisd(&["run"], &node.config_path);
    assert_eq!(code, 1);
    assert!(err.contains("clavisd init"), "{err}");
}

#[tokio::test]
async fn init_twice_is_refused_and_changes_nothing() {
    let node = NodeDir::new(None, SOFTWARE_ROT);
    node.init().await;
    let before = std::fs::read(node.data_dir().join("node.json")).expect("node.json");
    let sealed = std::fs::read(node.data_dir().join("master-key.sealed")).expect("sealed");
    let (code, err) = clavisd(&["init"], &node.config_path);
    assert_eq!(code, 1);
    assert!(err.contains("already initialized"), "{err}");
    assert_eq!(
        std::fs::read(node.data_dir().join("node.json")).expect("node.json"),
        before
    );
    assert_eq!(
        std::fs::read(node.data_dir().join("master-key.sealed")).expect("sealed"),
        sealed
    );
}

#[tokio::test]
async fn wrong_software_passphrase_is_refused() {
    let node = NodeDir::new(None, SOFTWARE_ROT);
    node.init().await;
    std::fs::write(node.data_dir().join("rot-passphrase"), "not the passphrase").expect("write");
    let (code, err) = clavisd(&["run"], &node.config_path);
    assert_eq!(code, 1);
    assert!(err.contains("passphrase does not open"), "{err}");
}

#[tokio::test]
async fn wrong_hsm_pin_is_refused() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("pin-test");
    let good = pkcs11_rot_section(&token);
    let node = NodeDir::new(None, &good);
    // init with a wrong PIN: refused, nothing created.
    let bad = good.replace(&format!("pin = \"{}\"", token.pin), "pin = \"wrong-pin\"");
    assert_ne!(bad, good);
    let cfg_bad = node.dir.path().join("bad.toml");
    let text = std::fs::read_to_string(&node.config_path)
        .expect("config")
        .replace(&good, &bad);
    std::fs::write(&cfg_bad, text).expect("write");
    let out = Command::new(clavisd_bin())
        .args(["init", "--config"])
        .arg(&cfg_bad)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env("CLAVIS_LOG", "error")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("PIN"), "{err}");
    assert!(
        !node.data_dir().join("node.json").exists(),
        "a failed init left node.json"
    );

    // A good init, then a run with the wrong PIN.
    let out = Command::new(clavisd_bin())
        .args(["init", "--config"])
        .arg(&node.config_path)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(clavisd_bin())
        .args(["run", "--config"])
        .arg(&cfg_bad)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env("CLAVIS_LOG", "error")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("PIN"), "{err}");
}

#[test]
fn missing_token_is_named() {
    let hsm = SoftHsm::new();
    let token = hsm.add_token("present");
    let section =
        pkcs11_rot_section(&token).replace("token_label = \"present\"", "token_label = \"absent\"");
    let node = NodeDir::new(None, &section);
    let out = Command::new(clavisd_bin())
        .args(["init", "--config"])
        .arg(&node.config_path)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env("CLAVIS_LOG", "error")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("absent"), "{err}");
    assert!(!node.data_dir().join("node.json").exists());
}
