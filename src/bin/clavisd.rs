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
        Cmd::Init { config, .. } | Cmd::Run { config } | Cmd::CheckConfig { config } => {
            config.clone()
        }
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

async fn run(cfg: &Config) -> anyhow::Result<()> {
    let node = clavis::node::start(cfg)
        .await
        .context("cannot start the node")?;
    {
        let mut o = std::io::stdout().lock();
        // One line: tests and scripts read it to learn the addresses.
        match node.kmip_addr {
            Some(k) => writeln!(
                o,
                "clavisd: serving API on https://{} and KMIP on {k}",
                node.api_addr
            )?,
            None => writeln!(o, "clavisd: serving API on https://{}", node.api_addr)?,
        }
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
