//! `clavis`: the administrator's command line, a client of a node's REST API.
#![forbid(unsafe_code)]

mod access;
mod audit;
mod backup;
mod cluster;
mod drives;
mod endpoint;
mod master_key;
mod okm;
mod session;
mod transfer;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::{Parser, Subcommand};
use clavis::client::ApiClient;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "clavis", version, about = "Administer a Clavis key manager")]
struct Cli {
    /// Node API URL.
    #[arg(
        long,
        env = "CLAVIS_SERVER",
        default_value = "https://127.0.0.1:8443",
        global = true
    )]
    server: String,
    /// Cluster CA certificate (PEM) to trust; `clavisd init` writes it to DATA_DIR/ca.pem.
    #[arg(long, env = "CLAVIS_CA", global = true)]
    ca: Option<PathBuf>,
    /// API token. Prefer CLAVIS_TOKEN or --token-file: arguments are visible in `ps`.
    #[arg(long, env = "CLAVIS_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// File holding the API token.
    #[arg(long, env = "CLAVIS_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// Client certificate (PEM) to log in with instead of a token (see `clavis user-cert`).
    #[arg(long, env = "CLAVIS_CERT", global = true, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, env = "CLAVIS_KEY", global = true, requires = "cert")]
    key: Option<PathBuf>,
    /// Print the server's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Node status: ID, version, root of trust, HSM health, object counts.
    Status,
    /// Keys and other managed objects.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Secret data (passwords, credentials).
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Endpoints: KMIP clients, drive agents, databases, tape libraries.
    #[command(subcommand)]
    Endpoint(endpoint::EndpointCmd),
    /// The audit trail: list, verify, export, delete, checkpoint.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// The cluster: nodes, peers, adding and removing nodes.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Data backups: take one now, list the node's backups.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Master-key backups: the file, and each quorum member's one-time share.
    #[command(subcommand)]
    MasterKey(master_key::MasterKeyCmd),
    /// Key transfer partners: identity, partners, export, fetch, import.
    #[command(subcommand)]
    Transfer(transfer::TransferCmd),
    /// Drives speaking Oracle Key Manager's agent protocol (T10000, agent-card LTO).
    #[command(subcommand)]
    Okm(okm::OkmCmd),
    /// This node's key pools (one per key group).
    #[command(subcommand)]
    Pool(drives::PoolCmd),
    /// Data units: tapes and the keys that encrypted them.
    #[command(subcommand)]
    DataUnit(drives::DataUnitCmd),
    #[command(flatten)]
    Access(access::AccessCmd),
    #[command(flatten)]
    Session(session::SessionCmd),
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create a symmetric key in the HSM's random generator, stored wrapped.
    Create {
        /// Algorithm.
        #[arg(long, default_value = "AES")]
        algorithm: String,
        /// Length in bits (128 or 256).
        #[arg(long, default_value_t = 256)]
        length: u32,
        /// Name.
        #[arg(long)]
        name: Option<String>,
        /// Make it Active at once (default: Pre-Active).
        #[arg(long)]
        activate: bool,
    },
    /// Show a key's metadata.
    Get {
        /// Object ID.
        id: String,
    },
    /// Print a key's plaintext material.
    Material {
        /// Object ID.
        id: String,
        /// `hex` or `base64`.
        #[arg(long, default_value = "hex")]
        format: String,
    },
    /// List keys.
    List {
        /// Only this state (pre_active, active, deactivated, compromised, destroyed, destroyed_compromised).
        #[arg(long)]
        state: Option<String>,
        /// Only this type (symmetric_key, secret_data, ...).
        #[arg(long = "type")]
        object_type: Option<String>,
        /// Only this name.
        #[arg(long)]
        name: Option<String>,
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<i64>,
        /// Skip this many.
        #[arg(long)]
        offset: Option<i64>,
    },
    /// Pre-Active → Active.
    Activate {
        /// Object ID.
        id: String,
    },
    /// Revoke: compromise reasons → Compromised, others → Deactivated.
    Revoke {
        /// Object ID.
        id: String,
        /// unspecified, key_compromise, ca_compromise, affiliation_changed, superseded,
        /// cessation_of_operation, privilege_withdrawn.
        #[arg(long)]
        reason: String,
        /// Free text.
        #[arg(long)]
        message: Option<String>,
    },
    /// Destroy the material (revoke first if Active).
    Destroy {
        /// Object ID.
        id: String,
    },
}

#[derive(Subcommand)]
enum SecretCmd {
    /// Store secret data read from standard input.
    Put {
        /// Name.
        #[arg(long)]
        name: Option<String>,
        /// Make it Active at once.
        #[arg(long)]
        activate: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clavis: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clavis: {}", clavis::describe_error(&e));
            ExitCode::FAILURE
        }
    }
}

fn token(cli: &Cli) -> anyhow::Result<Option<String>> {
    if let Some(t) = &cli.token {
        return Ok(Some(t.clone()));
    }
    match &cli.token_file {
        Some(p) => Ok(Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read token file {}", p.display()))?
                .trim()
                .to_owned(),
        )),
        None => Ok(None),
    }
}

/// A client of the node at `cli.server` trusting `ca`, authenticated by the token
/// given, or else by the client certificate given.
pub(crate) fn client(cli: &Cli, ca: &str) -> anyhow::Result<ApiClient> {
    let token = token(cli)?;
    let identity = match (&cli.cert, &cli.key) {
        (Some(c), Some(k)) => {
            let cert = std::fs::read_to_string(c)
                .with_context(|| format!("cannot read certificate {}", c.display()))?;
            let key_pem = zeroize::Zeroizing::new(
                std::fs::read_to_string(k)
                    .with_context(|| format!("cannot read key {}", k.display()))?,
            );
            let key = clavis::tls::parse_private_key_pem(&key_pem)
                .with_context(|| format!("cannot use key {}", k.display()))?;
            Some((cert, key))
        }
        _ => None,
    };
    Ok(ApiClient::new(
        &cli.server,
        ca,
        identity.as_ref().map(|(c, k)| (c.as_str(), k)),
        token,
    )?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let ca_path = cli
        .ca
        .clone()
        .context("no CA certificate: pass --ca DATA_DIR/ca.pem or set CLAVIS_CA")?;
    let ca = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("cannot read CA file {}", ca_path.display()))?;
    if let Cmd::Endpoint(cmd) = &cli.cmd {
        return endpoint::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Audit(cmd) = &cli.cmd {
        return audit::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Okm(cmd) = &cli.cmd {
        return okm::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Access(cmd) = &cli.cmd {
        return access::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Cluster(cmd) = &cli.cmd {
        return cluster::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Backup(cmd) = &cli.cmd {
        return backup::run(&cli, cmd, &ca).await;
    }
    if let Cmd::MasterKey(cmd) = &cli.cmd {
        return master_key::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Transfer(cmd) = &cli.cmd {
        return transfer::run(&cli, cmd, &ca).await;
    }
    if let Cmd::Pool(cmd) = &cli.cmd {
        return drives::run_pool(&cli, cmd, &ca).await;
    }
    if let Cmd::DataUnit(cmd) = &cli.cmd {
        return drives::run_data_unit(&cli, cmd, &ca).await;
    }
    if let Cmd::Session(cmd) = &cli.cmd {
        return session::run(&cli, cmd, &ca).await;
    }
    let mut client = client(&cli, &ca)?;
    let (method, path, body): (Method, String, Option<Value>) = match &cli.cmd {
        Cmd::Status => (Method::GET, "/v1/status".into(), None),
        Cmd::Key(k) => match k {
            KeyCmd::Create {
                algorithm,
                length,
                name,
                activate,
            } => (
                Method::POST,
                "/v1/keys".into(),
                Some(
                    json!({"algorithm": algorithm, "length": length, "name": name, "activate": activate}),
                ),
            ),
            KeyCmd::Get { id } => (Method::GET, format!("/v1/keys/{}", path_segment(id)?), None),
            KeyCmd::Material { id, format } => {
                if format != "hex" && format != "base64" {
                    bail!("--format must be hex or base64");
                }
                (
                    Method::GET,
                    format!("/v1/keys/{}/material", path_segment(id)?),
                    None,
                )
            }
            KeyCmd::List {
                state,
                object_type,
                name,
                limit,
                offset,
            } => {
                let mut q = Vec::new();
                for (k, v) in [
                    ("state", state.clone()),
                    ("type", object_type.clone()),
                    ("name", name.clone()),
                ] {
                    if let Some(v) = v {
                        q.push(format!("{k}={}", percent(&v)));
                    }
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
                (Method::GET, format!("/v1/keys{qs}"), None)
            }
            KeyCmd::Activate { id } => (
                Method::POST,
                format!("/v1/keys/{}/activate", path_segment(id)?),
                None,
            ),
            KeyCmd::Revoke {
                id,
                reason,
                message,
            } => (
                Method::POST,
                format!("/v1/keys/{}/revoke", path_segment(id)?),
                Some(json!({"reason": reason, "message": message})),
            ),
            KeyCmd::Destroy { id } => (
                Method::POST,
                format!("/v1/keys/{}/destroy", path_segment(id)?),
                None,
            ),
        },
        Cmd::Endpoint(_) => bail!("endpoint commands are handled above"),
        Cmd::Audit(_) => bail!("audit commands are handled above"),
        Cmd::Okm(_) => bail!("okm commands are handled above"),
        Cmd::Access(_) => bail!("access-control commands are handled above"),
        Cmd::Session(_) => bail!("session commands are handled above"),
        Cmd::Pool(_)
        | Cmd::DataUnit(_)
        | Cmd::Cluster(_)
        | Cmd::Backup(_)
        | Cmd::MasterKey(_)
        | Cmd::Transfer(_) => {
            bail!("pool, data-unit, cluster and backup commands are handled above")
        }
        Cmd::Secret(SecretCmd::Put { name, activate }) => {
            let mut data = zeroize::Zeroizing::new(Vec::new());
            std::io::stdin()
                .read_to_end(&mut data)
                .context("cannot read the secret from standard input")?;
            (
                Method::POST,
                "/v1/secrets".into(),
                Some(
                    json!({"name": name, "activate": activate, "secret_b64": B64.encode(&data[..])}),
                ),
            )
        }
    };
    let (status, v) = client.request(method, &path, body.as_ref()).await?;
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("(no message)");
        let code = v["error"]["code"].as_str().unwrap_or("error");
        bail!("{} {}: {msg}", status.as_u16(), code);
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_human(&cli.cmd, status, &v)
}

fn print_human(cmd: &Cmd, status: StatusCode, v: &Value) -> anyhow::Result<()> {
    match cmd {
        Cmd::Status => {
            println!(
                "node        {} ({}), site {}",
                s(&v["node_name"]),
                s(&v["node_id"]),
                s(&v["site"])
            );
            println!("version     {}", s(&v["version"]));
            println!(
                "root of trust {}  [{}]",
                s(&v["root_of_trust"]),
                s(&v["root_of_trust_detail"])
            );
            let ok = v["hsm_health"]["ok"].as_bool().unwrap_or(false);
            println!(
                "HSM health  {}  {}",
                if ok { "ok" } else { "FAILING" },
                s(&v["hsm_health"]["detail"])
            );
            println!(
                "store       {}, change log at {}",
                s(&v["store"]),
                v["change_log_seq"]
            );
            if let Some(o) = v["objects"].as_object() {
                let parts: Vec<String> = o.iter().map(|(k, n)| format!("{k} {n}")).collect();
                println!("objects     {}", parts.join(", "));
            }
            if v["pools"].as_array().is_some_and(|p| !p.is_empty()) {
                println!("key pools on this node");
                drives::print_pools(&v["pools"]);
            }
        }
        Cmd::Key(KeyCmd::Material { format, .. }) => {
            let raw = B64
                .decode(s(&v["material_b64"]))
                .context("server sent invalid base64")?;
            let raw = zeroize::Zeroizing::new(raw);
            if format == "hex" {
                println!("{}", hex::encode(&raw[..]));
            } else {
                println!("{}", B64.encode(&raw[..]));
            }
        }
        Cmd::Key(KeyCmd::List { .. }) => {
            let objs = v["objects"].as_array().cloned().unwrap_or_default();
            println!(
                "{:<36}  {:<13}  {:<10}  {:<21}  NAME",
                "ID", "TYPE", "ALG/LEN", "STATE"
            );
            for o in &objs {
                println!(
                    "{:<36}  {:<13}  {:<10}  {:<21}  {}",
                    s(&o["id"]),
                    s(&o["object_type"]),
                    alg_len(o),
                    s(&o["state"]),
                    o["name"].as_str().unwrap_or("")
                );
            }
            println!(
                "({} object{})",
                objs.len(),
                if objs.len() == 1 { "" } else { "s" }
            );
        }
        _ => {
            if status == StatusCode::CREATED {
                println!("created {}", s(&v["id"]));
            }
            println!("id        {}", s(&v["id"]));
            println!("type      {}", s(&v["object_type"]));
            println!("alg/len   {}", alg_len(v));
            println!("state     {}", s(&v["state"]));
            if let Some(n) = v["name"].as_str() {
                println!("name      {n}");
            }
            println!("created   {}", date(&v["created_at"]));
            println!("updated   {}", date(&v["updated_at"]));
            if let Some(a) = v["attributes"].as_object() {
                for (k, val) in a {
                    let shown = if k.ends_with("_date") {
                        date(val)
                    } else {
                        val.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| val.to_string())
                    };
                    println!("{:<9} {shown}", k.trim_end_matches("_date"));
                }
            }
        }
    }
    Ok(())
}

/// Unix seconds as an RFC 3339 UTC time.
fn date(v: &Value) -> String {
    v.as_i64()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| v.to_string())
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn alg_len(o: &Value) -> String {
    match (o["algorithm"].as_str(), o["length"].as_u64()) {
        (Some(a), Some(l)) => format!("{a}-{l}"),
        (None, Some(l)) => format!("{l} bytes"),
        _ => "-".into(),
    }
}

/// Object IDs go into URL paths; refuse anything that could change the path.
pub(crate) fn path_segment(id: &str) -> anyhow::Result<&str> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        bail!("invalid object ID {id:?}: object IDs are UUIDs");
    }
    Ok(id)
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
