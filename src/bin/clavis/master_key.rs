//! `clavis master-key ...`: the file of a master-key backup, and each holder's
//! one-time share. The backup itself is asked for through the quorum
//! (`clavis quorum backup-master-key`).

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
}

pub async fn run(cli: &Cli, cmd: &MasterKeyCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
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
