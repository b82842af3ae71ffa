//! `clavis master-key ...`: the file of a master-key backup, and each holder's
//! one-time share (the backup itself is asked for through the quorum,
//! `clavis quorum backup-master-key`); master-key rotation and its progress.

use crate::endpoint::{check, write_new};
use crate::session::seg;
use crate::{s, Cli};
use clap::Subcommand;
use hyper::Method;
use serde_json::json;
use std::path::PathBuf;

/// `clavis master-key ...`.
#[derive(Subcommand)]
pub enum MasterKeyCmd {
    /// Write a master-key backup's file (harmless without the shares) and show whose
    /// shares still wait on the node (System Administrators).
    Show {
        /// The backup ID from the quorum request's result.
        id: String,
        /// Write the file here (it must not exist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fetch your share of a master-key backup, once, from the node that made it. It is
    /// written to --out (mode 0600, must not exist); keep it offline.
    ShareFetch {
        /// The backup ID from the quorum request's result.
        id: String,
        /// File to write the share to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rotate the master key: a new one wraps new keys at once, stored keys are
    /// re-wrapped in the background and the old key is then destroyed in the HSM
    /// (System Administrators).
    Rotate {
        /// Follow the re-wrap with a progress bar until the old key is destroyed.
        #[arg(long)]
        wait: bool,
    },
    /// Where a rotation stands: each master key and the keys still wrapped under it.
    Rotation {
        /// Follow the re-wrap with a progress bar until nothing is left.
        #[arg(long)]
        wait: bool,
    },
}

pub async fn run(cli: &Cli, cmd: &MasterKeyCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
        MasterKeyCmd::Rotate { wait } => {
            let (status, v) = client
                .request(Method::POST, "/v1/master-key/rotate", Some(&json!({})))
                .await?;
            check(status, &v)?;
            if !cli.json {
                eprintln!(
                    "new master key {}; {} stored keys to re-wrap",
                    s(&v["active"]),
                    v["remaining"]
                );
            }
            follow(cli, &mut client, v, *wait).await
        }
        MasterKeyCmd::Rotation { wait } => {
            let (status, v) = client
                .request(Method::GET, "/v1/master-key/rotation", None)
                .await?;
            check(status, &v)?;
            follow(cli, &mut client, v, *wait).await
        }
        MasterKeyCmd::Show { id, out } => {
            let (status, v) = client
                .request(
                    Method::GET,
                    &format!("/v1/master-key/backups/{}", seg(id)?),
                    None,
                )
                .await?;
            check(status, &v)?;
            if let Some(p) = out {
                write_new(p, s(&v["file"]).as_bytes(), 0o600)?;
                println!("master-key backup {id} written to {}", p.display());
            } else if !cli.json {
                print!("{}", s(&v["file"]));
            }
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"file_name": v["file_name"], "waiting": v["waiting"]})
                    )?
                );
                return Ok(());
            }
            let waiting: Vec<String> = v["waiting"]
                .as_array()
                .map(|a| a.iter().map(|x| s(x).to_owned()).collect())
                .unwrap_or_default();
            if waiting.is_empty() {
                eprintln!("every holder has fetched their share");
            } else {
                eprintln!("shares not fetched yet: {}", waiting.join(", "));
            }
            Ok(())
        }
        MasterKeyCmd::ShareFetch { id, out } => {
            if out.exists() {
                anyhow::bail!(
                    "{} exists; the share is handed out once, so choose a new file",
                    out.display()
                );
            }
            let (status, v) = client
                .request(
                    Method::POST,
                    &format!("/v1/master-key/backups/{}/share", seg(id)?),
                    Some(&json!({})),
                )
                .await?;
            check(status, &v)?;
            let mut share = zeroize::Zeroizing::new(s(&v["share"]).to_owned());
            share.push('\n');
            write_new(out, share.as_bytes(), 0o600)?;
            println!(
                "your share of master-key backup {id} is in {} (the node no longer has it); keep it offline",
                out.display()
            );
            Ok(())
        }
    }
}

/// Prints a rotation status; with `wait`, polls it with a progress bar on standard
/// error until nothing is left to re-wrap or retire.
async fn follow(
    cli: &Cli,
    client: &mut clavis::client::ApiClient,
    mut v: serde_json::Value,
    wait: bool,
) -> anyhow::Result<()> {
    if wait {
        let total = v["remaining"].as_i64().unwrap_or(0).max(1);
        while v["in_progress"].as_bool() == Some(true) {
            let left = v["remaining"].as_i64().unwrap_or(0);
            let done = (total - left).clamp(0, total);
            let width = 40;
            let filled = usize::try_from(done * width / total).unwrap_or(0);
            let bar = format!("{}{}", "#".repeat(filled), "-".repeat(40 - filled.min(40)));
            if left == 0 {
                // Everything is re-wrapped; the old key goes once every node has drained it.
                eprint!("\rre-wrap [{bar}] {done}/{total}, retiring the old master key");
            } else {
                eprint!("\rre-wrap [{bar}] {done}/{total}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let (status, next) = client
                .request(Method::GET, "/v1/master-key/rotation", None)
                .await?;
            check(status, &next)?;
            v = next;
        }
        eprintln!(
            "\rre-wrap [{}] done, old master key destroyed",
            "#".repeat(40)
        );
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("active master key: {}", s(&v["active"]));
    for k in v["master_keys"].as_array().into_iter().flatten() {
        println!(
            "  {:<48} {:<9} in HSM: {:<5} wrapped under it: {} objects, {} credentials, {} pool keys",
            s(&k["id"]),
            s(&k["state"]),
            k["in_root_of_trust"],
            k["wrapped"]["objects"],
            k["wrapped"]["credentials"],
            k["wrapped"]["pool_keys"],
        );
    }
    if v["failed"].as_u64().unwrap_or(0) > 0 {
        println!(
            "{} keys would not unwrap and were left under their old master key (see the node's log)",
            v["failed"]
        );
    }
    Ok(())
}
