//! `clavis login|logout|whoami|user-cert`, `clavis quorum ...` and `clavis recovery ...`.

use super::endpoint::check;
use super::endpoint::write_new;
use super::{client, Cli};
use anyhow::{bail, Context};
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Session, quorum and recovery commands.
#[derive(Subcommand)]
pub enum SessionCmd {
    /// Log in with a password (read from stdin, one line); prints a session token, or
    /// writes it to --token-out (mode 0600) for use with --token-file.
    Login {
        /// User name.
        name: String,
        /// Write the token here instead of printing it.
        #[arg(long)]
        token_out: Option<PathBuf>,
    },
    /// End the current session (the token given with --token/--token-file).
    Logout,
    /// Show the logged-in user.
    Whoami,
    /// Make a key pair here and get a client certificate for user NAME; then log in
    /// with `--cert DIR/cert.pem --key DIR/key.pem` instead of a token.
    UserCert {
        /// User name.
        name: String,
        /// Directory for key.pem (0600), cert.pem and ca.pem; must not hold them yet.
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Quorum approval of dangerous operations.
    #[command(subcommand)]
    Quorum(QuorumCmd),
    /// Recovery with the recovery passphrase.
    #[command(subcommand)]
    Recovery(RecoveryCmd),
}

/// `clavis quorum ...`
#[derive(Subcommand)]
pub enum QuorumCmd {
    /// Members and threshold.
    Show,
    /// Ask to replace the quorum (needs the current quorum's approval once one exists).
    Set {
        /// A member user name (repeat).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Approvals needed (M).
        #[arg(long)]
        required: u32,
        /// Seconds members have to vote (default one day).
        #[arg(long)]
        deadline_secs: Option<i64>,
    },
    /// Ask to add a node to the cluster; once approved, the requester redeems it with
    /// `clavis cluster add-node NAME --site SITE --approval ID`.
    AddNode {
        /// The new node's name.
        name: String,
        /// Its site.
        #[arg(long, default_value = "default")]
        site: String,
        /// Seconds members have to vote (default one day); the approval is redeemable
        /// until then.
        #[arg(long)]
        deadline_secs: Option<i64>,
    },
    /// Ask for a master-key backup (an HSM with root_of_trust.master_key_exportable).
    /// Once approved, the node that took the last vote writes the file and keeps one
    /// share per quorum member: `clavis master-key share-fetch ID`.
    BackupMasterKey {
        /// Shares needed to recover the master key (2 to the number of members).
        #[arg(long)]
        threshold: u32,
        /// Seconds members have to vote (default one day).
        #[arg(long)]
        deadline_secs: Option<i64>,
    },
    /// Requests, newest first.
    List,
    /// One request.
    Get {
        /// Request ID.
        id: String,
    },
    /// Approve a pending request (quorum members).
    Approve {
        /// Request ID.
        id: String,
    },
    /// Reject a pending request (quorum members).
    Reject {
        /// Request ID.
        id: String,
    },
}

/// `clavis recovery ...`
#[derive(Subcommand)]
pub enum RecoveryCmd {
    /// Recreate the three administrators when none is left. Reads JSON from stdin:
    /// {"passphrase": "...", "administrators": [{"name", "password", "role"}, ...]}.
    Administrators,
    /// Change the recovery passphrase; reads the current and the new one from stdin,
    /// one per line.
    Passphrase,
}

fn stdin_line(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(trimmed)
}

pub(crate) fn seg(s: &str) -> anyhow::Result<&str> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("invalid name or ID {s:?}");
    }
    Ok(s)
}

fn print_request(r: &Value) {
    println!("request     {}", r["id"].as_str().unwrap_or("-"));
    println!("operation   {}", r["operation"]);
    println!("state       {}", r["state"].as_str().unwrap_or("-"));
    println!(
        "approvals   {} of {} ({})",
        r["approvals"].as_array().map_or(0, Vec::len),
        r["required"],
        r["approvals"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    if let Some(res) = r["result"].as_str() {
        println!("result      {res}");
    }
}

/// Runs a session, quorum or recovery command.
pub async fn run(cli: &Cli, cmd: &SessionCmd, ca: &str) -> anyhow::Result<()> {
    let mut c = client(cli, ca)?;
    let (status, v) = match cmd {
        SessionCmd::Login { name, token_out } => {
            let password = stdin_line("password")?;
            let body = json!({"name": name, "password": password.as_str()});
            let (status, v) = c.request(Method::POST, "/v1/login", Some(&body)).await?;
            check(status, &v)?;
            let token = v["token"].as_str().context("no token in the answer")?;
            match token_out {
                Some(p) => {
                    write_new(p, token.as_bytes(), 0o600)?;
                    println!(
                        "logged in as {}; token written to {} (expires at {})",
                        name,
                        p.display(),
                        v["expires_at"]
                    );
                }
                None => println!("{token}"),
            }
            return Ok(());
        }
        SessionCmd::Logout => {
            c.request(Method::POST, "/v1/logout", Some(&json!({})))
                .await?
        }
        SessionCmd::Whoami => c.request(Method::GET, "/v1/whoami", None).await?,
        SessionCmd::UserCert { name, out_dir } => return user_cert(cli, ca, name, out_dir).await,
        SessionCmd::Quorum(q) => match q {
            QuorumCmd::Show => c.request(Method::GET, "/v1/quorum", None).await?,
            QuorumCmd::Set {
                members,
                required,
                deadline_secs,
            } => {
                let body = json!({"action": "set_quorum", "members": members, "required": required, "deadline_secs": deadline_secs});
                c.request(Method::POST, "/v1/quorum/requests", Some(&body))
                    .await?
            }
            QuorumCmd::AddNode {
                name,
                site,
                deadline_secs,
            } => {
                let body = json!({"action": "add_node", "name": name, "site": site, "deadline_secs": deadline_secs});
                c.request(Method::POST, "/v1/quorum/requests", Some(&body))
                    .await?
            }
            QuorumCmd::BackupMasterKey {
                threshold,
                deadline_secs,
            } => {
                let body = json!({"action": "backup_master_key", "threshold": threshold, "deadline_secs": deadline_secs});
                c.request(Method::POST, "/v1/quorum/requests", Some(&body))
                    .await?
            }
            QuorumCmd::List => c.request(Method::GET, "/v1/quorum/requests", None).await?,
            QuorumCmd::Get { id } => {
                c.request(
                    Method::GET,
                    &format!("/v1/quorum/requests/{}", seg(id)?),
                    None,
                )
                .await?
            }
            QuorumCmd::Approve { id } => {
                c.request(
                    Method::POST,
                    &format!("/v1/quorum/requests/{}/approve", seg(id)?),
                    Some(&json!({})),
                )
                .await?
            }
            QuorumCmd::Reject { id } => {
                c.request(
                    Method::POST,
                    &format!("/v1/quorum/requests/{}/reject", seg(id)?),
                    Some(&json!({})),
                )
                .await?
            }
        },
        SessionCmd::Recovery(r) => match r {
            RecoveryCmd::Administrators => {
                let mut raw = Zeroizing::new(String::new());
                std::io::stdin()
                    .read_to_string(&mut raw)
                    .context("cannot read stdin")?;
                let body: Value = serde_json::from_str(&raw).context("stdin: not JSON")?;
                c.request(Method::POST, "/v1/recovery/administrators", Some(&body))
                    .await?
            }
            RecoveryCmd::Passphrase => {
                let current = stdin_line("current passphrase")?;
                let new = stdin_line("new passphrase")?;
                let body = json!({"current": current.as_str(), "new": new.as_str()});
                c.request(Method::POST, "/v1/recovery/passphrase", Some(&body))
                    .await?
            }
        },
    };
    check(status, &v)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match cmd {
        SessionCmd::Quorum(QuorumCmd::Show) => {
            let members: Vec<&str> = v["members"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if members.is_empty() {
                println!("no quorum configured");
            } else {
                println!(
                    "{} of {}: {}",
                    v["required"],
                    members.len(),
                    members.join(", ")
                );
            }
        }
        SessionCmd::Quorum(QuorumCmd::List) => {
            for r in v["requests"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<10} {}  {} approvals",
                    r["id"].as_str().unwrap_or("-"),
                    r["state"].as_str().unwrap_or("-"),
                    r["operation"]["action"].as_str().unwrap_or("-"),
                    r["approvals"].as_array().map_or(0, Vec::len)
                );
            }
        }
        SessionCmd::Quorum(_) => print_request(&v),
        _ => println!("{}", serde_json::to_string_pretty(&v)?),
    }
    Ok(())
}

async fn user_cert(cli: &Cli, ca: &str, name: &str, out_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    for f in ["key.pem", "cert.pem", "ca.pem"] {
        if out_dir.join(f).symlink_metadata().is_ok() {
            bail!(
                "{} exists; refusing to overwrite it",
                out_dir.join(f).display()
            );
        }
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("cannot generate the key pair")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .context("cannot build the CSR")?;
    let mut c = client(cli, ca)?;
    let (status, v) = c
        .request(
            Method::POST,
            &format!("/v1/users/{}/certificate", seg(name)?),
            Some(&json!({"csr_pem": csr})),
        )
        .await?;
    check(status, &v)?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    write_new(&out_dir.join("key.pem"), key_pem.as_bytes(), 0o600)?;
    write_new(
        &out_dir.join("cert.pem"),
        v["certificate_pem"].as_str().unwrap_or_default().as_bytes(),
        0o644,
    )?;
    write_new(
        &out_dir.join("ca.pem"),
        v["ca_pem"].as_str().unwrap_or_default().as_bytes(),
        0o644,
    )?;
    println!(
        "certificate for user {name} written to {}; use --cert {}/cert.pem --key {}/key.pem",
        out_dir.display(),
        out_dir.display(),
        out_dir.display()
    );
    Ok(())
}
