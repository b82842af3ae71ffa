//! `clavis okm ...`: drives that speak Oracle Key Manager's agent protocol
//! (`docs/okm.md`). `clavis okm agent create` registers one and prints its one-time
//! passphrase; afterwards it is an endpoint like any other (`clavis endpoint list`,
//! `suspend`, `resume`, `delete`).

use crate::{date, s, Cli};
use clap::Subcommand;
use hyper::Method;
use serde_json::json;

#[derive(Subcommand)]
pub enum OkmCmd {
    /// OKM agents (T10000 drives, agent-card LTO drives).
    #[command(subcommand)]
    Agent(OkmAgentCmd),
}

#[derive(Subcommand)]
pub enum OkmAgentCmd {
    /// Register an OKM agent; prints its one-time passphrase (valid 24 hours).
    Create {
        /// The agent ID configured in the drive (1 to 64 bytes: letters, digits, `_`, `.`, `-`).
        agent_id: String,
        /// Its key group: a wallet with a 256-bit key policy.
        #[arg(long)]
        key_group: String,
        /// The drive's site.
        #[arg(long)]
        site: Option<String>,
    },
    /// Issue a new one-time passphrase (to enroll the agent again); the pending one stops working.
    Passphrase {
        /// The agent ID.
        agent_id: String,
    },
}

/// Runs an `okm` command.
pub async fn run(cli: &Cli, cmd: &OkmCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    let (path, body) = match cmd {
        OkmCmd::Agent(OkmAgentCmd::Create {
            agent_id,
            key_group,
            site,
        }) => (
            "/v1/okm/agents".to_owned(),
            Some(json!({"agent_id": agent_id, "key_group": key_group, "site": site})),
        ),
        OkmCmd::Agent(OkmAgentCmd::Passphrase { agent_id }) => {
            if !clavis::names::is_valid_object_name(agent_id) {
                anyhow::bail!("agent ID: {}", clavis::names::OBJECT_NAME_RULE);
            }
            (format!("/v1/okm/agents/{agent_id}/passphrase"), None)
        }
    };
    let (status, v) = client.request(Method::POST, &path, body.as_ref()).await?;
    crate::endpoint::check(status, &v)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let e = &v["endpoint"];
    println!(
        "OKM agent {} ({}) in key group {}",
        s(&e["name"]),
        s(&e["id"]),
        s(&e["default_wallet"])
    );
    println!(
        "passphrase (shown once; works once; valid until {}):",
        date(&v["passphrase_expires_at"])
    );
    println!("{}", s(&v["passphrase"]));
    println!("enter it with the agent ID in the drive's key-management settings");
    Ok(())
}
