//! `clavis backup ...`: take a data backup on the node, list the node's backups.

use crate::endpoint::check;
use crate::{s, Cli};
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};

/// `clavis backup ...`.
#[derive(Subcommand)]
pub enum BackupCmd {
    /// Write a full data backup into the node's backup directory, sealed under the
    /// recovery passphrase (read from standard input, one line). Restore it with
    /// `clavisd restore` on a new node.
    Create,
    /// The backups in the node's backup directory, as their headers describe them.
    List,
    /// Arm scheduled backups (`[backup] schedule`) with the recovery passphrase (read
    /// from standard input, one line): the node keeps a key derived from it, wrapped
    /// under the master key, so scheduled backups restore with the passphrase.
    Arm,
}

pub async fn run(cli: &Cli, cmd: &BackupCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
        BackupCmd::Create => {
            let passphrase = crate::access::stdin_line("recovery passphrase")?;
            let body = json!({"recovery_passphrase": passphrase.as_str()});
            let (status, v) = client
                .request(Method::POST, "/v1/backups", Some(&body))
                .await?;
            check(status, &v)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("backup written: {}", s(&v["path"]));
            println!(
                "  {} bytes, {} changes, {} audit records, {} checkpoints",
                v["bytes"],
                v["counts"]["changes"],
                v["counts"]["audit_records"],
                v["counts"]["checkpoints"]
            );
            println!("  sha256 {}", s(&v["sha256"]));
            Ok(())
        }
        BackupCmd::Arm => {
            let passphrase = crate::access::stdin_line("recovery passphrase")?;
            let body = json!({"recovery_passphrase": passphrase.as_str()});
            let (status, v) = client
                .request(Method::POST, "/v1/backups/arm", Some(&body))
                .await?;
            check(status, &v)?;
            println!("scheduled backups armed on this node");
            Ok(())
        }
        BackupCmd::List => {
            let (status, v) = client.request(Method::GET, "/v1/backups", None).await?;
            check(status, &v)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            print_list(&v);
            Ok(())
        }
    }
}

fn print_list(v: &Value) {
    let backups = v["backups"].as_array().cloned().unwrap_or_default();
    let armed = v["schedule_armed"].as_bool().unwrap_or(false);
    println!(
        "scheduled backups: {}",
        if armed {
            "armed"
        } else {
            "not armed (clavis backup arm)"
        }
    );
    if backups.is_empty() {
        println!("no backups in the node's backup directory");
        return;
    }
    let width = backups
        .iter()
        .map(|b| s(&b["file"]).len())
        .max()
        .unwrap_or(4);
    println!(
        "{:<width$}  {:>12}  {:<30}  {:<12}  OBJECTS",
        "FILE", "BYTES", "TAKEN", "NODE"
    );
    for b in &backups {
        let m = &b["metadata"];
        if m.is_null() {
            println!(
                "{:<width$}  {:>12}  unreadable: {}",
                s(&b["file"]),
                b["bytes"].as_u64().unwrap_or(0),
                s(&b["error"])
            );
            continue;
        }
        let objects: u64 = m["object_counts"]
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        println!(
            "{:<width$}  {:>12}  {:<30}  {:<12}  {}",
            s(&b["file"]),
            b["bytes"].as_u64().unwrap_or(0),
            s(&m["created_at"]),
            s(&m["node_name"]),
            objects
        );
    }
}
