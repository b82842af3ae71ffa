//! Per-test SoftHSM2 tokens.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, when the module is initialized in a process,
//! so each test gets its own configuration file and token directory and must run in
//! its own process (cargo-nextest does that; see `.config/nextest.toml`). Create all
//! the tokens a test needs before opening any root of trust on them.

use std::path::{Path, PathBuf};
use std::process::Command;

use clavis::config::Pkcs11Config;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use tempfile::TempDir;

/// The SoftHSM2 module on Debian.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The SO PIN of every test token.
pub const SO_PIN: &str = "so-pin-7391";

/// The repository's SoftHSM2 profile.
pub fn softhsm2_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm-profiles/softhsm2.toml")
}

/// A private SoftHSM2 installation: configuration file and token directory in a tempdir.
pub struct SoftHsm {
    /// Holds the configuration, the tokens, and any files a test writes (profile variants).
    pub dir: TempDir,
    /// The `softhsm2.conf` this process uses.
    pub conf: PathBuf,
}

/// One initialized token and a configuration that opens it.
pub struct TestToken {
    /// The token label.
    pub label: String,
    /// The user PIN.
    pub pin: String,
    /// A ready configuration: repository profile, PIN inline, default module.
    pub config: Pkcs11Config,
    /// The directory relative config paths are resolved against (the tempdir).
    pub config_dir: PathBuf,
}

impl SoftHsm {
    /// Writes a configuration into a fresh tempdir and points `SOFTHSM2_CONF` at it.
    pub fn new() -> SoftHsm {
        let dir = tempfile::tempdir().expect("create tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("create token directory");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("write softhsm2.conf");
        // One process per test (nextest), so a process-wide variable is private to the test.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        SoftHsm { dir, conf }
    }

    /// Initializes a token labelled `label` in a free slot.
    pub fn add_token(&self, label: &str) -> TestToken {
        let pin = format!("user-pin-{label}");
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", &pin])
            .output()
            .expect("run softhsm2-util (is the softhsm2 package installed?)");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        TestToken {
            label: label.to_owned(),
            pin: pin.clone(),
            config: Pkcs11Config {
                profile: softhsm2_profile(),
                module: None,
                token_label: label.to_owned(),
                pin: Some(pin),
                pin_env: "CLAVIS_HSM_PIN".into(),
                session_pool_size: None,
                master_key_exportable: false,
                fallback: Vec::new(),
                call_timeout_ms: 10_000,
            },
            config_dir: self.dir.path().to_path_buf(),
        }
    }

    /// Writes `text` as a file in the tempdir and returns its path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// The repository's SoftHSM2 profile with `wrap_mechanism` replaced, written into
    /// the tempdir.
    pub fn profile_variant(&self, name: &str, wrap_mechanism: &str) -> PathBuf {
        let text = std::fs::read_to_string(softhsm2_profile()).expect("read softhsm2 profile");
        let mut replaced = false;
        let variant: String = text
            .lines()
            .map(|line| {
                if line.starts_with("wrap_mechanism") {
                    replaced = true;
                    format!("wrap_mechanism = \"{wrap_mechanism}\"\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        assert!(replaced, "the softhsm2 profile has no wrap_mechanism line");
        self.write_file(name, &variant)
    }
}

/// A direct cryptoki session on `token`, logged in as the user, for checks that go
/// around the root of trust (attributes of the master key, object counts).
pub fn raw_session(token: &TestToken) -> (Pkcs11, Session) {
    let ctx = Pkcs11::new(SOFTHSM2_MODULE).expect("load SoftHSM2");
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .expect("C_GetSlotList")
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim_end() == token.label)
                .unwrap_or(false)
        })
        .expect("token present");
    let session = ctx.open_rw_session(slot).expect("C_OpenSession");
    match session.login(UserType::User, Some(&AuthPin::from(token.pin.as_str()))) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("C_Login: {e}"),
    }
    (ctx, session)
}
