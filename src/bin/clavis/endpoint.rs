//! `clavis endpoint ...`: register and administer endpoints, and enroll one.
//!
//! `enroll` runs on the endpoint itself: it generates the key pair locally, sends only
//! a certificate signing request, and writes `key.pem` (PKCS#8, mode 0600), `cert.pem`
//! and `ca.pem`, files a KMIP client such as PyKMIP uses directly.

use crate::{date, percent, s, Cli};
use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use clavis::client::ApiClient;
use clavis::names::{is_valid_object_name, OBJECT_NAME_RULE};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Prefix of enrollment tokens (see `clavis::service::endpoints`).
const ENROLLMENT_PREFIX: &str = clavis::service::endpoints::ENROLLMENT_TOKEN_PREFIX;

#[derive(Subcommand)]
pub enum EndpointCmd {
    /// Register an endpoint; prints its one-time enrollment token (valid 24 hours).
    Register {
        /// Endpoint name (letters, digits, `_`, `.`, `-`; case-insensitive).
        name: String,
        /// Endpoint type: kmip, agent, database, tape_library, ...
        #[arg(long = "type")]
        endpoint_type: String,
        /// Site the endpoint is at.
        #[arg(long)]
        site: Option<String>,
        /// Wallet its uploads go to.
        #[arg(long)]
        default_wallet: Option<String>,
    },
    /// List endpoints (all but deleted ones, unless --state says otherwise).
    List {
        /// Only this state: registered, enrolled, suspended, deleted.
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<i64>,
        /// Skip this many.
        #[arg(long)]
        offset: Option<i64>,
    },
    /// Show an endpoint.
    Get {
        /// Endpoint name.
        name: String,
    },
    /// Issue a new enrollment token (re-enrollment); the previous token stops working.
    Token {
        /// Endpoint name.
        name: String,
    },
    /// Suspend an endpoint: its certificate is refused until it is resumed.
    Suspend {
        /// Endpoint name.
        name: String,
    },
    /// Resume a suspended endpoint.
    Resume {
        /// Endpoint name.
        name: String,
    },
    /// Delete an endpoint (refused for good; the name becomes free).
    Delete {
        /// Endpoint name.
        name: String,
    },
    /// Enroll this machine: generate a key pair here, send a CSR with the enrollment
    /// token, and write DIR/key.pem (mode 0600), DIR/cert.pem and DIR/ca.pem.
    ///
    /// Pass the enrollment token (clvE_...) with --token, CLAVIS_TOKEN or --token-file;
    /// no API token is needed. Existing files are never overwritten.
    Enroll {
        /// Directory for key.pem, cert.pem and ca.pem (created if missing).
        #[arg(long)]
        out_dir: PathBuf,
        /// Common name to put in the request (the certificate's CN is always the
        /// endpoint's registered name).
        #[arg(long)]
        name: Option<String>,
        /// Key type to generate. (RSA is not offered: the ring backend cannot generate
        /// RSA keys. A CSR made elsewhere with an RSA 2048+ key is accepted by the API.)
        #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
        key_type: KeyType,
    },
}

/// Key pair types `enroll` can generate.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
}

fn name_segment(name: &str) -> anyhow::Result<&str> {
    if !is_valid_object_name(name) {
        bail!("invalid endpoint name {name:?}: {OBJECT_NAME_RULE}");
    }
    Ok(name)
}

/// Runs an endpoint command against the node at `cli.server`, trusting `ca`.
pub async fn run(cli: &Cli, cmd: &EndpointCmd, ca: &str) -> anyhow::Result<()> {
    if let EndpointCmd::Enroll {
        out_dir,
        name,
        key_type,
    } = cmd
    {
        return enroll(cli, ca, out_dir, name.as_deref(), *key_type).await;
    }
    let mut client = crate::client(cli, ca)?;
    let (method, path, body): (Method, String, Option<Value>) = match cmd {
        EndpointCmd::Register {
            name,
            endpoint_type,
            site,
            default_wallet,
        } => (
            Method::POST,
            "/v1/endpoints".into(),
            Some(
                json!({"name": name, "type": endpoint_type, "site": site, "default_wallet": default_wallet}),
            ),
        ),
        EndpointCmd::List {
            state,
            limit,
            offset,
        } => {
            let mut q = Vec::new();
            if let Some(st) = state {
                q.push(format!("state={}", percent(st)));
            }
            if let Some(l) = limit {
                q.push(format!("limit={l}"));
            }
            if let Some(o) = offset {
                q.push(format!("offset={o}"));
            }
            let qs = if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            };
            (Method::GET, format!("/v1/endpoints{qs}"), None)
        }
        EndpointCmd::Get { name } => (
            Method::GET,
            format!("/v1/endpoints/{}", name_segment(name)?),
            None,
        ),
        EndpointCmd::Token { name } => (
            Method::POST,
            format!("/v1/endpoints/{}/enrollment-token", name_segment(name)?),
            None,
        ),
        EndpointCmd::Suspend { name } => (
            Method::POST,
            format!("/v1/endpoints/{}/suspend", name_segment(name)?),
            None,
        ),
        EndpointCmd::Resume { name } => (
            Method::POST,
            format!("/v1/endpoints/{}/resume", name_segment(name)?),
            None,
        ),
        EndpointCmd::Delete { name } => (
            Method::DELETE,
            format!("/v1/endpoints/{}", name_segment(name)?),
            None,
        ),
        EndpointCmd::Enroll { .. } => bail!("enroll is handled above"),
    };
    let (status, v) = client.request(method, &path, body.as_ref()).await?;
    check(status, &v)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match cmd {
        EndpointCmd::Register { .. } | EndpointCmd::Token { .. } => {
            let verb = if status == StatusCode::CREATED {
                "registered"
            } else {
                "new enrollment token for"
            };
            let e = &v["endpoint"];
            println!("{verb} endpoint {} ({})", s(&e["name"]), s(&e["id"]));
            println!(
                "enrollment token (shown once; single use; valid until {}):",
                date(&v["token_expires_at"])
            );
            println!("{}", s(&v["enrollment_token"]));
            println!(
                "on the endpoint: clavis endpoint enroll --server {} --ca ca.pem --token TOKEN --out-dir DIR",
                cli.server
            );
        }
        EndpointCmd::List { .. } => {
            let list = v["endpoints"].as_array().cloned().unwrap_or_default();
            println!(
                "{:<24}  {:<14}  {:<12}  {:<10}  CERTIFICATE EXPIRES",
                "NAME", "TYPE", "SITE", "STATE"
            );
            for e in &list {
                let expires = match e["certificate"]["not_after"].as_i64() {
                    Some(_) => date(&e["certificate"]["not_after"]),
                    None => "-".into(),
                };
                println!(
                    "{:<24}  {:<14}  {:<12}  {:<10}  {expires}",
                    s(&e["name"]),
                    s(&e["type"]),
                    s(&e["site"]),
                    s(&e["state"]),
                );
            }
            println!(
                "({} endpoint{})",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            );
        }
        _ => print_endpoint(&v),
    }
    Ok(())
}

/// Turns a non-success answer into an error naming its status, code and message.
pub(crate) fn check(status: StatusCode, v: &Value) -> anyhow::Result<()> {
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("(no message)");
        let code = v["error"]["code"].as_str().unwrap_or("error");
        bail!("{} {}: {msg}", status.as_u16(), code);
    }
    Ok(())
}

fn print_endpoint(e: &Value) {
    println!("name      {}", s(&e["name"]));
    println!("id        {}", s(&e["id"]));
    println!("type      {}", s(&e["type"]));
    println!("site      {}", s(&e["site"]));
    println!("wallet    {}", s(&e["default_wallet"]));
    println!("state     {}", s(&e["state"]));
    if e["enrollment_token_expires_at"].is_i64() {
        println!(
            "token     pending, expires {}",
            date(&e["enrollment_token_expires_at"])
        );
    }
    if let Some(c) = e["certificate"].as_object() {
        println!("cert      serial {}", c["serial"].as_str().unwrap_or("-"));
        println!(
            "          sha256 {}",
            c["fingerprint_sha256"].as_str().unwrap_or("-")
        );
        println!("          expires {}", date(&c["not_after"]));
    }
    println!("created   {}", date(&e["created_at"]));
    println!("updated   {}", date(&e["updated_at"]));
}

/// The enrollment token from --token / CLAVIS_TOKEN or --token-file: whichever holds
/// a `clvE_` token (CLAVIS_TOKEN may hold the administrator's API token).
fn enrollment_token(cli: &Cli) -> anyhow::Result<Zeroizing<String>> {
    let mut candidates = Vec::new();
    if let Some(t) = &cli.token {
        candidates.push(Zeroizing::new(t.trim().to_owned()));
    }
    if let Some(p) = &cli.token_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read token file {}", p.display()))?,
        );
        candidates.push(Zeroizing::new(text.trim().to_owned()));
    }
    candidates
        .into_iter()
        .find(|t| t.starts_with(ENROLLMENT_PREFIX))
        .with_context(|| {
            format!("no enrollment token: pass the token from `clavis endpoint register` or `clavis endpoint token` ({ENROLLMENT_PREFIX}...) with --token, CLAVIS_TOKEN or --token-file")
        })
}

const FILES: [&str; 3] = ["key.pem", "cert.pem", "ca.pem"];

async fn enroll(
    cli: &Cli,
    ca: &str,
    out_dir: &Path,
    cn: Option<&str>,
    key_type: KeyType,
) -> anyhow::Result<()> {
    let token = enrollment_token(cli)?;
    // Check the destination before spending the one-time token.
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    for f in FILES {
        let p = out_dir.join(f);
        if p.symlink_metadata().is_ok() {
            bail!(
                "{} exists; refusing to overwrite it (choose another --out-dir or move the old files away)",
                p.display()
            );
        }
    }
    let alg = match key_type {
        KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let key = rcgen::KeyPair::generate_for(alg).context("cannot generate the key pair")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cn.unwrap_or("clavis-endpoint"));
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .context("cannot build the certificate signing request")?;

    let mut client = ApiClient::new(&cli.server, ca, None, None)?;
    let body = json!({"token": token.as_str(), "csr_pem": csr});
    let (status, v) = client
        .request(Method::POST, "/v1/enroll", Some(&body))
        .await?;
    drop(body);
    check(status, &v)?;
    let cert = v["certificate_pem"]
        .as_str()
        .context("the server's answer has no certificate_pem")?;
    let ca_pem = v["ca_pem"]
        .as_str()
        .context("the server's answer has no ca_pem")?;

    let key_pem = Zeroizing::new(key.serialize_pem());
    write_new(&out_dir.join("key.pem"), key_pem.as_bytes(), 0o600)?;
    write_new(&out_dir.join("cert.pem"), cert.as_bytes(), 0o644)?;
    write_new(&out_dir.join("ca.pem"), ca_pem.as_bytes(), 0o644)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("enrolled as endpoint {}", s(&v["endpoint"]));
    for f in FILES {
        println!("wrote {}", out_dir.join(f).display());
    }
    Ok(())
}

/// Writes a file that must not exist yet, with `mode` from the start.
pub(crate) fn write_new(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
