//! Nodes for tests: configuration files, in-process nodes, and `clavisd` processes.

use clavis::client::ApiClient;
use clavis::config::Config;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

/// The `[root_of_trust]` section for a software root of trust with a passphrase file.
pub const SOFTWARE_ROT: &str =
    "[root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n";

/// A node's files: a tempdir with `clavis.toml` and a data directory.
pub struct NodeDir {
    /// Holds everything.
    pub dir: TempDir,
    /// Path of `clavis.toml`.
    pub config_path: PathBuf,
}

impl NodeDir {
    /// Writes a config with the given store URL (None = SQLite in the data dir) and
    /// root-of-trust section, listening on an ephemeral loopback port.
    pub fn new(store_url: Option<&str>, rot_section: &str) -> NodeDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_url
            .map(|u| format!("[store]\nurl = \"{u}\"\n"))
            .unwrap_or_default();
        let text = format!(
            "[node]\nname = \"test-node\"\ndata_dir = \"data\"\n\n{store}\n{rot_section}\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nlisten = \"127.0.0.1:0\"\n\n[agent]\nlisten = \"127.0.0.1:0\"\n"
        );
        let config_path = dir.path().join("clavis.toml");
        std::fs::write(&config_path, text).expect("write config");
        NodeDir { dir, config_path }
    }

    /// The parsed config.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path).expect("config loads")
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `clavisd init` in this process; returns the admin token.
    pub async fn init(&self) -> String {
        use secrecy::ExposeSecret;
        let out = clavis::node::init(&self.config()).await.expect("init");
        out.admin_token.expose_secret().to_owned()
    }

    /// The cluster CA written by init.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("ca.pem")).expect("ca.pem")
    }

    /// Path of the SQLite database file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir().join("clavis.db")
    }
}

/// An API client for a node at `addr`.
pub fn client(addr: &str, ca_pem: &str, token: &str) -> ApiClient {
    ApiClient::new(
        &format!("https://{addr}"),
        ca_pem,
        None,
        Some(token.to_owned()),
    )
    .expect("client")
}

/// Path of the `clavisd` binary built for these tests.
pub fn clavisd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_clavisd")
}

/// A running `clavisd run` process.
pub struct NodeProcess {
    /// The child.
    pub child: Child,
    /// `HOST:PORT` of its API.
    pub addr: String,
    /// `HOST:PORT` of its KMIP listener, if enabled.
    pub kmip_addr: Option<String>,
    /// `HOST:PORT` of its drive-agent listener, if enabled.
    #[allow(dead_code)]
    pub agent_addr: Option<String>,
}

impl NodeProcess {
    /// Starts `clavisd run --config PATH` and waits for it to announce its address.
    pub fn start(config_path: &Path) -> NodeProcess {
        let mut child = Command::new(clavisd_bin())
            .args(["run", "--config"])
            .arg(config_path)
            .env("CLAVIS_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn clavisd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read clavisd stdout");
        let addr = line
            .split("https://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|_| line.contains("serving API"))
            .unwrap_or_else(|| panic!("clavisd did not start: {line:?}"))
            .to_owned();
        let field = |label: &str| {
            line.split(label)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        NodeProcess {
            child,
            addr,
            kmip_addr: field("KMIP on "),
            agent_addr: field("agents on "),
        }
    }

    /// SIGKILL, and reap.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `[root_of_trust]` section for a SoftHSM2 token.
pub fn pkcs11_rot_section(token: &crate::common::softhsm::TestToken) -> String {
    format!(
        "[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"{}\"\npin = \"{}\"\n",
        token.config.profile.display(),
        token.label,
        token.pin
    )
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// An enrolled endpoint's files, as a KMIP client uses them.
pub struct EndpointFiles {
    /// Holds the files.
    pub dir: TempDir,
    /// Client certificate, PEM.
    pub cert: PathBuf,
    /// Private key, PKCS#8 PEM.
    pub key: PathBuf,
    /// Cluster CA, PEM.
    pub ca: PathBuf,
    /// Certificate PEM text.
    pub cert_pem: String,
    /// Key PEM text.
    pub key_pem: String,
}

/// Registers and enrolls an endpoint through the service, with a key pair made here.
pub async fn enroll_endpoint(svc: &clavis::service::KeyService, name: &str) -> EndpointFiles {
    let admin = clavis::service::Principal::system("admin");
    let (_, token) = svc
        .register_endpoint(&admin, name, "kmip", None, None)
        .await
        .expect("register endpoint");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
    let csr = params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("csr pem");
    let enrolled = svc.enroll(&token.token, &csr, None).await.expect("enroll");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, keyp, ca) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    let key_pem = key.serialize_pem();
    std::fs::write(&cert, &enrolled.certificate_pem).expect("cert");
    std::fs::write(&keyp, &key_pem).expect("key");
    std::fs::write(&ca, &enrolled.ca_pem).expect("ca");
    EndpointFiles {
        dir,
        cert,
        key: keyp,
        ca,
        cert_pem: enrolled.certificate_pem,
        key_pem,
    }
}
