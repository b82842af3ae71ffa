//! `clavis transfer ...`: key transfer partners (docs/transfer.md). Registering a
//! partner and exporting are quorum requests; members approve them with `clavis
//! quorum approve ID`.

use crate::endpoint::{check, write_new};
use crate::session::seg;
use crate::{s, Cli};
use anyhow::Context;
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `clavis transfer ...`.
#[derive(Subcommand)]
pub enum TransferCmd {
    /// Show this cluster's transfer identity (made on first use): its fingerprint and
    /// public keys. Give both keys to the partner; read the fingerprint out to them.
    Identity {
        /// Also write `encryption.pem` and `signing.pem` into this directory.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// List the registered partners.
    Partners,
    /// Ask the quorum to register a partner (System Administrators).
    PartnerAdd {
        /// The name this cluster calls it by.
        name: String,
        /// The partner's encryption public key (PEM file).
        #[arg(long)]
        encryption_key: PathBuf,
        /// The partner's signing public key (PEM file).
        #[arg(long)]
        signing_key: PathBuf,
        /// The fingerprint the partner's administrators read out to you.
        #[arg(long)]
        fingerprint: String,
        /// Seconds members have to vote (default one day).
        #[arg(long)]
        deadline_secs: Option<i64>,
    },
    /// Remove a partner (System Administrators; no quorum).
    PartnerRemove {
        /// The partner's name.
        name: String,
    },
    /// Ask the quorum to export keys to a partner (Key Administrators). Every key must
    /// be exportable. Once approved, fetch the file with `clavis transfer fetch`.
    Export {
        /// The partner's name.
        #[arg(long)]
        partner: String,
        /// A key ID (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// A data unit's external tag: its keys are exported (repeatable).
        #[arg(long = "data-unit")]
        data_units: Vec<String>,
        /// Seconds members have to vote (default one day).
        #[arg(long)]
        deadline_secs: Option<i64>,
    },
    /// Fetch an export file from the node that made it (Key Administrators).
    Fetch {
        /// The transfer ID from the quorum request's result.
        id: String,
        /// Write the file here (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a partner's transfer file (Key Administrators). Keys present already are
    /// skipped.
    Import {
        /// The file.
        file: PathBuf,
        /// Wallet (key group) for the imported keys and data units.
        #[arg(long)]
        wallet: Option<String>,
    },
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn run(cli: &Cli, cmd: &TransferCmd, ca: &str) -> anyhow::Result<()> {
    let mut c = crate::client(cli, ca)?;
    let (status, v): (_, Value) = match cmd {
        TransferCmd::Identity { .. } => {
            c.request(Method::GET, "/v1/transfer/identity", None)
                .await?
        }
        TransferCmd::Partners => {
            c.request(Method::GET, "/v1/transfer/partners", None)
                .await?
        }
        TransferCmd::PartnerAdd {
            name,
            encryption_key,
            signing_key,
            fingerprint,
            deadline_secs,
        } => {
            let body = json!({
                "action": "register_transfer_partner",
                "name": name,
                "encryption_public_key": read(encryption_key)?,
                "signing_public_key": read(signing_key)?,
                "fingerprint": fingerprint,
                "deadline_secs": deadline_secs,
            });
            c.request(Method::POST, "/v1/quorum/requests", Some(&body))
                .await?
        }
        TransferCmd::PartnerRemove { name } => {
            c.request(
                Method::DELETE,
                &format!("/v1/transfer/partners/{}", seg(name)?),
                None,
            )
            .await?
        }
        TransferCmd::Export {
            partner,
            keys,
            data_units,
            deadline_secs,
        } => {
            let body = json!({
                "action": "transfer_export",
                "partner": partner,
                "keys": keys,
                "data_units": data_units,
                "deadline_secs": deadline_secs,
            });
            c.request(Method::POST, "/v1/quorum/requests", Some(&body))
                .await?
        }
        TransferCmd::Fetch { id, out } => {
            if out.exists() {
                anyhow::bail!("{} exists; choose a new file", out.display());
            }
            c.request(
                Method::GET,
                &format!("/v1/transfer/exports/{}", seg(id)?),
                None,
            )
            .await?
        }
        TransferCmd::Import { file, wallet } => {
            let body = json!({"file": read(file)?, "wallet": wallet});
            c.request(Method::POST, "/v1/transfer/imports", Some(&body))
                .await?
        }
    };
    check(status, &v)?;
    if let TransferCmd::Fetch { id, out } = cmd {
        write_new(out, s(&v["file"]).as_bytes(), 0o600)?;
        println!("transfer {id} written to {}", out.display());
        return Ok(());
    }
    if let TransferCmd::Identity {
        out_dir: Some(dir), ..
    } = cmd
    {
        std::fs::create_dir_all(dir)?;
        write_new(
            &dir.join("encryption.pem"),
            s(&v["encryption_public_key"]).as_bytes(),
            0o644,
        )?;
        write_new(
            &dir.join("signing.pem"),
            s(&v["signing_public_key"]).as_bytes(),
            0o644,
        )?;
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match cmd {
        TransferCmd::Identity { .. } => {
            println!("fingerprint  {}", s(&v["fingerprint"]));
            if v["created"].as_bool() == Some(true) {
                eprintln!("(the transfer identity was created now)");
            }
            print!("{}", s(&v["encryption_public_key"]));
            print!("{}", s(&v["signing_public_key"]));
        }
        TransferCmd::Partners => {
            for p in v["partners"].as_array().into_iter().flatten() {
                println!("{:<24} {}", s(&p["name"]), s(&p["fingerprint"]));
            }
        }
        TransferCmd::PartnerRemove { name } => println!("transfer partner {name} removed"),
        TransferCmd::PartnerAdd { .. } | TransferCmd::Export { .. } => {
            println!(
                "quorum request {} is {}; members approve it with: clavis quorum approve {}",
                s(&v["id"]),
                s(&v["state"]),
                s(&v["id"])
            );
        }
        TransferCmd::Import { .. } => println!(
            "transfer {} from partner {}: {} keys imported, {} skipped (present already), {} data units imported",
            s(&v["transfer_id"]),
            s(&v["partner"]),
            v["imported"],
            v["skipped"],
            v["data_units_imported"]
        ),
        TransferCmd::Fetch { .. } => {}
    }
    Ok(())
}
