//! `clavisd`: the Clavis node.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use clavis::config::Config;
use secrecy::ExposeSecret;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "clavisd", version, about = "Clavis key-management node")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the master key, cluster CA, node certificate, first administrator credential
    /// and recovery passphrase. Prints the credential and passphrase once.
    Init {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Also write the administrator's API token to this file (mode 0600).
        #[arg(long)]
        admin_token_out: Option<PathBuf>,
    },
    /// Add this node to an existing replica over the same database and root of trust
    /// (shared-database mode). Reads the recovery passphrase from the environment
    /// variable CLAVIS_RECOVERY_PASSPHRASE or from --recovery-passphrase-file.
    Join {
        /// The node's TOML configuration (store.url and root_of_trust as the first node's).
        #[arg(long)]
        config: PathBuf,
        /// File holding the recovery passphrase.
        #[arg(long)]
        recovery_passphrase_file: Option<PathBuf>,
    },
    /// Make this node a new replica of an existing cluster: present the one-time token
    /// from `clavis cluster add-node` to a sponsor node and copy the cluster's data.
    /// The token is read from CLAVIS_JOIN_TOKEN or --token-file.
    JoinCluster {
        /// The node's TOML configuration ([cluster] enabled = true).
        #[arg(long)]
        config: PathBuf,
        /// The sponsor's replication address (its `[cluster] listen`), host:port.
        #[arg(long)]
        sponsor: String,
        /// The cluster CA certificate (PEM), as `clavis cluster add-node` printed it.
        #[arg(long)]
        ca: PathBuf,
        /// File holding the join token.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Rebuild this (new, uninitialized) node from a data backup (`clavis backup
    /// create`). Its root of trust must hold the master keys the backup's keys are
    /// wrapped under. Reads the recovery passphrase the backup was made with from
    /// CLAVIS_RECOVERY_PASSPHRASE or --recovery-passphrase-file. Checks the whole
    /// file before writing anything; shows progress on standard error.
    Restore {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// The backup file.
        #[arg(long)]
        file: PathBuf,
        /// File holding the recovery passphrase.
        #[arg(long)]
        recovery_passphrase_file: Option<PathBuf>,
        /// First import the master key from this master-key backup (with --share).
        #[arg(long, requires = "shares")]
        master_key_backup: Option<PathBuf>,
        /// A file holding one quorum member's share of the master-key backup (repeat).
        #[arg(long = "share", id = "shares")]
        shares: Vec<PathBuf>,
        /// Then re-wrap every restored key under this HSM's own master key (its label,
        /// or `new` to generate one) and destroy the backup's master key here.
        #[arg(long, value_name = "LABEL|new")]
        rewrap_to: Option<String>,
    },
    /// Import the master key of a master-key backup into this node's HSM, given M of
    /// the quorum's shares (one file each). Checks everything before writing to the HSM.
    MasterKeyImport {
        /// The node's TOML configuration (root_of_trust: the new HSM token).
        #[arg(long)]
        config: PathBuf,
        /// The master-key backup file (`clavis master-key show ID --out FILE`).
        #[arg(long)]
        backup: PathBuf,
        /// A file holding one quorum member's share (repeat, at least M times).
        #[arg(long = "share", required = true)]
        shares: Vec<PathBuf>,
    },
    /// Erase this node's data (it must be stopped): the SQLite database, node file and
    /// sealed root-of-trust file; on a shared PostgreSQL database only this node's pool.
    FactoryReset {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Overwrite files with random bytes before deleting them.
        #[arg(long)]
        scrub: bool,
        /// Confirm: nothing of this node's data can be recovered afterwards.
        #[arg(long)]
        yes: bool,
    },
    /// Serve until SIGINT or SIGTERM.
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file and print what it resolves to.
    CheckConfig {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = match &cli.cmd {
        Cmd::Init { config, .. }
        | Cmd::Join { config, .. }
        | Cmd::JoinCluster { config, .. }
        | Cmd::FactoryReset { config, .. }
        | Cmd::Restore { config, .. }
        | Cmd::MasterKeyImport { config, .. }
        | Cmd::Run { config }
        | Cmd::CheckConfig { config } => config.clone(),
    };
    let cfg = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clavisd: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&cfg);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clavisd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.cmd {
            Cmd::Init {
                admin_token_out, ..
            } => init(&cfg, admin_token_out.as_deref()).await,
            Cmd::Join {
                recovery_passphrase_file,
                ..
            } => join(&cfg, recovery_passphrase_file.as_deref()).await,
            Cmd::JoinCluster {
                sponsor,
                ca,
                token_file,
                ..
            } => join_cluster(&cfg, &sponsor, &ca, token_file.as_deref()).await,
            Cmd::FactoryReset { scrub, yes, .. } => factory_reset(&cfg, scrub, yes).await,
            Cmd::Restore {
                file,
                recovery_passphrase_file,
                master_key_backup,
                shares,
                rewrap_to,
                ..
            } => {
                let target = rewrap_to.as_deref().map(|to| match to {
                    "new" => clavis::node::RewrapTarget::New,
                    label => clavis::node::RewrapTarget::Existing(clavis::rot::MasterKeyId(
                        label.to_owned(),
                    )),
                });
                if let Some(t) = &target {
                    clavis::node::check_rewrap_target(&cfg, t)?;
                }
                if let Some(b) = master_key_backup {
                    master_key_import(&cfg, &b, &shares)?;
                }
                restore(&cfg, &file, recovery_passphrase_file.as_deref()).await?;
                match target {
                    Some(t) => rewrap_restored(&cfg, t).await,
                    None => Ok(()),
                }
            }
            Cmd::MasterKeyImport { backup, shares, .. } => {
                master_key_import(&cfg, &backup, &shares)
            }
            Cmd::Run { .. } => run(&cfg).await,
            Cmd::CheckConfig { .. } => {
                println!(
                    "config ok: node {} (site {}), store {}, API on {}",
                    cfg.node.name,
                    cfg.node.site,
                    cfg.store_url(),
                    cfg.api.listen
                );
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clavisd: {}", clavis::describe_error(&e));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLAVIS_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn init(cfg: &Config, token_out: Option<&Path>) -> anyhow::Result<()> {
    let out = clavis::node::init(cfg)
        .await
        .context("initialization failed")?;
    if let Some(path) = token_out {
        clavis::rot::software::write_atomically(path, out.admin_token.expose_secret().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut o = std::io::stdout().lock();
    writeln!(o, "Clavis node initialized.")?;
    writeln!(o, "  node ID:        {}", out.node_id)?;
    writeln!(o, "  replica ID:     {}", out.replica_id)?;
    writeln!(o, "  master key:     {}", out.master_key)?;
    writeln!(o, "  cluster CA:     {}", out.ca_path.display())?;
    writeln!(o)?;
    writeln!(
        o,
        "Administrator API token (user `admin`); shown once, store it safely:"
    )?;
    writeln!(o, "  {}", out.admin_token.expose_secret())?;
    writeln!(o)?;
    writeln!(
        o,
        "Recovery passphrase; shown once, kept only as a hash. Write it down and lock it away:"
    )?;
    writeln!(o, "  {}", out.recovery_passphrase.expose_secret())?;
    Ok(())
}

fn recovery_passphrase(file: Option<&Path>) -> anyhow::Result<secrecy::SecretString> {
    let passphrase = match file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .trim()
            .to_owned(),
        None => std::env::var("CLAVIS_RECOVERY_PASSPHRASE").context(
            "give the recovery passphrase in CLAVIS_RECOVERY_PASSPHRASE or --recovery-passphrase-file",
        )?,
    };
    Ok(secrecy::SecretString::from(passphrase))
}

/// A percentage bar on standard error (one line per 10% when it is not a terminal).
#[derive(Default)]
struct ProgressBar {
    last: Option<u64>,
}

impl ProgressBar {
    fn show(&mut self, phase: &str, done: u64, total: u64) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.last == Some(pct) {
            return;
        }
        self.last = Some(pct);
        let width = 40;
        let filled = (pct as usize * width) / 100;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width - filled));
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprint!("\r{phase:9} [{bar}] {pct:3}%");
            if pct == 100 {
                eprintln!();
            }
        } else if pct.is_multiple_of(10) {
            eprintln!("{phase:9} [{bar}] {pct:3}%");
        }
    }
}

async fn rewrap_restored(cfg: &Config, target: clavis::node::RewrapTarget) -> anyhow::Result<()> {
    let mut bar = ProgressBar::default();
    let (mk, n, kept) = clavis::node::rewrap_restored(cfg, target, |done, total| {
        bar.show("re-wrap", done, total);
    })
    .await
    .context("re-wrapping the restored keys failed (the node resumes it when it runs)")?;
    println!("{n} restored keys re-wrapped under master key {mk}.");
    if kept.is_empty() {
        println!("The backup's master key is destroyed in this root of trust.");
    } else {
        let ids: Vec<String> = kept.iter().map(|k| k.to_string()).collect();
        println!(
            "The backup's master key ({}) stays in this root of trust until the old cluster's \
             nodes are removed (`clavis cluster remove-node`); the running node then destroys it.",
            ids.join(", ")
        );
    }
    Ok(())
}

async fn restore(cfg: &Config, file: &Path, passphrase_file: Option<&Path>) -> anyhow::Result<()> {
    let passphrase = recovery_passphrase(passphrase_file)?;
    let mut bar = ProgressBar::default();
    let out = clavis::node::restore(cfg, file, &passphrase, |done, total| {
        let phase = if done * 2 <= total {
            "checking"
        } else {
            "restoring"
        };
        bar.show(phase, done, total);
    })
    .await
    .context("restore failed")?;
    println!(
        "Node {} restored as replica {} from the backup of node {} taken {}: {} changes, {} audit records. \
         The old cluster's nodes are still listed as members: remove those that are gone \
         (`clavis cluster remove-node`). Start it with `clavisd run`.",
        out.node_id,
        out.replica_id,
        out.metadata.node_name,
        out.metadata.created_at,
        out.counts.changes,
        out.counts.audit_records
    );
    Ok(())
}

fn master_key_import(cfg: &Config, backup: &Path, shares: &[PathBuf]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(backup)
        .with_context(|| format!("cannot read {}", backup.display()))?;
    let mut share_texts = Vec::with_capacity(shares.len());
    for p in shares {
        let t =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        share_texts.push(t.trim().to_owned());
    }
    let done = clavis::node::import_master_key(cfg, &text, &share_texts);
    share_texts.iter_mut().for_each(zeroize::Zeroize::zeroize);
    match done.context("master-key import failed")? {
        clavis::node::Imported::Imported(id) => {
            println!("master key {id} imported into this node's root of trust from the backup")
        }
        clavis::node::Imported::AlreadyPresent(id) => println!(
            "master key {id} is in this node's root of trust already; the shares open the backup"
        ),
    }
    Ok(())
}

async fn join(cfg: &Config, passphrase_file: Option<&Path>) -> anyhow::Result<()> {
    let passphrase = recovery_passphrase(passphrase_file)?;
    let out = clavis::node::join(cfg, &passphrase)
        .await
        .context("joining failed")?;
    println!(
        "Node {} joined replica {} (shared database).",
        out.node_id, out.replica_id
    );
    Ok(())
}

async fn join_cluster(
    cfg: &Config,
    sponsor: &str,
    ca: &Path,
    token_file: Option<&Path>,
) -> anyhow::Result<()> {
    let token = match token_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .trim()
            .to_owned(),
        None => std::env::var("CLAVIS_JOIN_TOKEN")
            .context("give the join token in CLAVIS_JOIN_TOKEN or --token-file")?,
    };
    let ca_pem =
        std::fs::read_to_string(ca).with_context(|| format!("cannot read {}", ca.display()))?;
    let out = clavis::node::join_cluster(cfg, sponsor, &token, &ca_pem, |done, total| {
        if total > done {
            eprintln!("copying: {done} of about {total} changes");
        } else {
            eprintln!("copying: {done} changes, caught up");
        }
    })
    .await
    .context("joining the cluster failed")?;
    println!(
        "Node {} joined the cluster as replica {} ({} changes copied). Start it with `clavisd run`.",
        out.node_id, out.replica_id, out.copied
    );
    Ok(())
}

async fn factory_reset(cfg: &Config, scrub: bool, yes: bool) -> anyhow::Result<()> {
    if !yes {
        anyhow::bail!(
            "factory reset erases this node's data for good; stop the node, remove it from \
             the cluster (`clavis cluster remove-node`), then run again with --yes"
        );
    }
    let removed = clavis::node::factory_reset(cfg, scrub)
        .await
        .context("factory reset failed")?;
    for r in &removed {
        println!("removed {r}");
    }
    println!(
        "Node {} reset{}. Keys held in an HSM are not touched: remove them with the HSM's own tools.",
        cfg.node.name,
        if scrub { " (files scrubbed)" } else { "" }
    );
    Ok(())
}

async fn run(cfg: &Config) -> anyhow::Result<()> {
    let node = clavis::node::start(cfg)
        .await
        .context("cannot start the node")?;
    {
        let mut o = std::io::stdout().lock();
        // One line: tests and scripts read it to learn the addresses.
        let mut line = format!("clavisd: serving API on https://{}", node.api_addr);
        if let Some(k) = node.kmip_addr {
            line.push_str(&format!(" and KMIP on {k}"));
        }
        if let Some(a) = node.agent_addr {
            line.push_str(&format!(" and agents on {a}"));
        }
        if let Some(c) = node.cluster_addr {
            line.push_str(&format!(" and peers on {c}"));
        }
        writeln!(o, "{line}")?;
        o.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    node.stop().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot wait for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
