//! `clavis-agent`: enrolls with a Clavis cluster and serves tape drives their keys.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use clavis_agent::agent::client::CA_FILE;
use clavis_agent::agent::cluster::Cluster;
use clavis_agent::agent::config::{AgentConfig, DriveConfig, DriveSource};
use clavis_agent::agent::enroll;
use clavis_agent::agent::service::DriveService;
use clavis_agent::drive::Drive;
use clavis_agent::emu_socket::EmuSocketTransport;
use clavis_agent::lto::LtoDrive;
use clavis_agent::sg::SgDevice;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;
use zeroize::Zeroizing;

/// Token prefix, as the node issues them.
const TOKEN_PREFIX: &str = clavis::service::endpoints::ENROLLMENT_TOKEN_PREFIX;
/// Delay before opening a drive again after it failed to open.
const REOPEN: Duration = Duration::from_secs(10);

/// The Clavis drive agent.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll with the cluster using a one-time token, and learn its nodes.
    Enroll {
        /// The agent's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The enrollment token (clvE_...).
        #[arg(long, env = "CLAVIS_TOKEN", hide_env_values = true)]
        token: String,
        /// The cluster CA (PEM) to check the nodes against; default: ca.pem in the
        /// state directory.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Serve the configured drives until SIGTERM or Ctrl-C.
    Run {
        /// The agent's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLAVIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clavis-agent: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async {
        match cli.command {
            Command::Enroll { config, token, ca } => {
                enroll_cmd(&config, Zeroizing::new(token), ca.as_deref()).await
            }
            Command::Run { config } => run_cmd(&config).await,
        }
    });
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clavis-agent: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn enroll_cmd(
    config: &Path,
    token: Zeroizing<String>,
    ca: Option<&Path>,
) -> anyhow::Result<()> {
    let cfg = AgentConfig::load(config)?;
    let token = Zeroizing::new(token.trim().to_owned());
    if !token.starts_with(TOKEN_PREFIX) {
        bail!("the token must start with {TOKEN_PREFIX} (from `clavis endpoint register` or `clavis endpoint token`)");
    }
    let ca_path = ca
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.state_dir.join(CA_FILE));
    // The token is sent only to a node whose certificate chains to this CA.
    let ca_pem = std::fs::read_to_string(&ca_path).with_context(|| {
        format!(
            "cannot read the cluster CA {} (pass --ca with the cluster's ca.pem)",
            ca_path.display()
        )
    })?;
    let settings = cfg.cluster_settings();
    let enrolled = enroll::enroll(
        &cfg.servers,
        settings.server_name.as_deref(),
        &ca_pem,
        &token,
        settings.request_timeout,
    )
    .await?;
    drop(token);
    enroll::save_identity(&cfg.state_dir, &enrolled.identity)?;
    println!(
        "enrolled as endpoint {}; credentials in {}",
        enrolled.endpoint,
        cfg.state_dir.display()
    );
    let cluster = Cluster::from_state_dir(&cfg.state_dir, cfg.servers.clone(), settings)?;
    match cluster.discover().await {
        Ok(nodes) => {
            println!("the cluster has {} agent node(s):", nodes.len());
            for n in nodes {
                println!("  {} {} (site {})", n.name, n.addr, n.site);
            }
        }
        // Enrollment itself succeeded; `run` discovers again at start.
        Err(e) => eprintln!("clavis-agent: enrolled, but node discovery failed: {e}"),
    }
    Ok(())
}

fn open_drive(d: &DriveConfig) -> anyhow::Result<Box<dyn Drive>> {
    Ok(match d.source()? {
        DriveSource::Device(p) => Box::new(LtoDrive::new(
            SgDevice::open(&p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        DriveSource::Emulator(p) => Box::new(LtoDrive::new(
            EmuSocketTransport::connect(&p)
                .with_context(|| format!("cannot connect to the emulator at {}", p.display()))?,
        )),
    })
}

/// Opens the drive (again every few seconds until it opens), then serves it.
async fn drive_task(
    d: DriveConfig,
    cluster: Cluster,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    loop {
        let cfg = d.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let mut drive = open_drive(&cfg)?;
            let info = drive.describe()?;
            anyhow::Ok((drive, info))
        })
        .await;
        match opened {
            Ok(Ok((drive, info))) => {
                tracing::info!(drive = %d.name, vendor = %info.vendor, product = %info.product,
                    serial = %info.serial, family = ?info.family, "drive opened");
                DriveService::new(d.name.clone(), drive, cluster)
                    .run(poll, stopped(stop))
                    .await;
                return;
            }
            Ok(Err(e)) => tracing::error!(drive = %d.name, reason = format!("{e:#}"),
                "cannot open the drive; trying again"),
            Err(e) => tracing::error!(drive = %d.name, reason = %e, "drive open task failed"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(REOPEN) => {}
        }
    }
}

async fn run_cmd(config: &Path) -> anyhow::Result<()> {
    let cfg = AgentConfig::load(config)?;
    if cfg.drives.is_empty() {
        tracing::warn!("no [[drives]] configured: only heartbeats will run");
    }
    let cluster =
        Cluster::from_state_dir(&cfg.state_dir, cfg.servers.clone(), cfg.cluster_settings())?;
    let (tx, rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(cluster.clone().run_heartbeats(
        cfg.heartbeat(),
        cfg.discover_every,
        stopped(rx.clone()),
    )));
    for d in &cfg.drives {
        tasks.push(tokio::spawn(drive_task(
            d.clone(),
            cluster.clone(),
            cfg.poll(),
            rx.clone(),
        )));
    }
    tracing::info!(
        drives = cfg.drives.len(),
        nodes = cluster.nodes().len(),
        "agent running"
    );
    wait_for_signal().await?;
    tracing::info!("stopping");
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot watch Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
