//! `clavis cluster ...`: the cluster's nodes and peers, adding and removing nodes.

use crate::endpoint::check;
use crate::{s, Cli};
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};

/// `clavis cluster ...`.
#[derive(Subcommand)]
pub enum ClusterCmd {
    /// Every node of the cluster and, as this node sees them, its peers' state and lag.
    Status,
    /// Invite a node: prints the one-time join token and the cluster CA for
    /// `clavisd join-cluster` on the new node. Needs the recovery passphrase (read from
    /// standard input, one line).
    AddNode {
        /// The new node's name (its `[node] name`).
        name: String,
        /// Its site.
        #[arg(long, default_value = "default")]
        site: String,
        /// Write the cluster CA certificate to this file.
        #[arg(long)]
        ca_out: Option<std::path::PathBuf>,
        /// The approved `add_node` quorum request (`clavis quorum add-node`); required
        /// once a quorum is configured.
        #[arg(long)]
        approval: Option<String>,
    },
    /// Remove a node: peers stop contacting it and refuse it.
    RemoveNode {
        /// Node ID.
        id: String,
    },
}

pub async fn run(cli: &Cli, cmd: &ClusterCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
        ClusterCmd::Status => {
            let (status, v) = client.request(Method::GET, "/v1/cluster", None).await?;
            check(status, &v)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            print_cluster(&v);
            Ok(())
        }
        ClusterCmd::AddNode {
            name,
            site,
            ca_out,
            approval,
        } => {
            let passphrase = crate::access::stdin_line("recovery passphrase")?;
            let body = json!({"name": name, "site": site, "recovery_passphrase": passphrase.as_str(), "approval": approval});
            let (status, v) = client
                .request(Method::POST, "/v1/cluster/nodes", Some(&body))
                .await?;
            check(status, &v)?;
            if let Some(p) = ca_out {
                std::fs::write(p, s(&v["ca_pem"]))?;
            }
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("node {} invited as {}", name, s(&v["node_id"]));
            println!(
                "one-time join token (valid {} s; shown once):",
                v["expires_in_secs"]
            );
            println!("  {}", s(&v["join_token"]));
            println!("on the new node: CLAVIS_JOIN_TOKEN=... clavisd join-cluster --config FILE --sponsor HOST:PORT --ca ca.pem");
            Ok(())
        }
        ClusterCmd::RemoveNode { id } => {
            let seg = crate::path_segment(id)?;
            let (status, v) = client
                .request(Method::DELETE, &format!("/v1/cluster/nodes/{seg}"), None)
                .await?;
            check(status, &v)?;
            println!("node {id} removed from the cluster");
            Ok(())
        }
    }
}

fn print_cluster(v: &Value) {
    println!(
        "{:<36}  {:<16}  {:<10}  {:<8}  {:<22}  RO",
        "NODE", "NAME", "SITE", "STATE", "REPLICATION ADDRESS"
    );
    for n in v["nodes"].as_array().into_iter().flatten() {
        println!(
            "{:<36}  {:<16}  {:<10}  {:<8}  {:<22}  {}",
            s(&n["id"]),
            s(&n["name"]),
            s(&n["site"]),
            s(&n["member_state"]),
            s(&n["cluster_addr"]),
            if n["read_only"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
        );
    }
    let peers = v["peers"].as_array().cloned().unwrap_or_default();
    println!();
    if peers.is_empty() {
        println!("no peers (replication is off, or no other replica has joined)");
        return;
    }
    println!(
        "{:<16}  {:<10}  {:<8}  {:>8}  {:>10}  {:>10}  LAST ERROR",
        "PEER", "SITE", "STATE", "BEHIND", "LAG MS", "MAX LAG"
    );
    for p in &peers {
        println!(
            "{:<16}  {:<10}  {:<8}  {:>8}  {:>10}  {:>10}  {}",
            s(&p["name"]),
            s(&p["site"]),
            s(&p["state"]),
            p["behind"],
            p["last_lag_ms"],
            p["max_lag_ms"],
            s(&p["last_error"])
        );
    }
}
