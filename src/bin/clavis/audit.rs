//! `clavis audit ...`: read, verify, export and delete the audit trail.

use crate::endpoint::check;
use crate::{percent, Cli};
use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use hyper::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// List audit records (oldest first; page with --origin and --after-seq).
    List {
        /// Only this origin replica.
        #[arg(long)]
        origin: Option<String>,
        /// Only records after this seq (of --origin, or of this node's replica).
        #[arg(long)]
        after_seq: Option<i64>,
        /// Only this action, e.g. key.create.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only records at or after this time (RFC 3339, date, or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only records before this time.
        #[arg(long)]
        until: Option<String>,
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Verify every chain and checkpoint; exits non-zero and names the first broken
    /// record when the trail was tampered with.
    Verify,
    /// Export records (Audit Manager only).
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to this file instead of standard output (refuses to overwrite).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Only records at or after this time (RFC 3339, date, or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only records before this time.
        #[arg(long)]
        until: Option<String>,
    },
    /// Delete records older than a date (Audit Manager only); the deletion leaves a
    /// signed checkpoint and is itself recorded.
    Delete {
        /// RFC 3339 time, date (midnight UTC), or Unix seconds.
        #[arg(long)]
        before: String,
    },
    /// Sign the current chain head now.
    Checkpoint,
}

/// Export formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, every field and hash.
    Jsonl,
    /// RFC 5424 syslog lines with a CEF message.
    Cef,
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", percent(v))))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn opt(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// Runs an audit command against the node at `cli.server`, trusting `ca`.
pub async fn run(cli: &Cli, cmd: &AuditCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    if let AuditCmd::Export {
        format,
        output,
        since,
        until,
    } = cmd
    {
        let f = match format {
            Format::Jsonl => "jsonl",
            Format::Cef => "cef",
        };
        let path = format!(
            "/v1/audit/export{}",
            query(&[
                ("format", Some(f.to_owned())),
                ("since", since.clone()),
                ("until", until.clone())
            ])
        );
        let mut sink: Box<dyn Write + Send> = match output {
            Some(p) => Box::new(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        let (status, v, n) = client.download(&path, &mut *sink).await?;
        check(status, &v)?;
        sink.flush().context("cannot write the export")?;
        if let Some(p) = output {
            eprintln!("exported {n} bytes to {}", p.display());
        }
        return Ok(());
    }
    let (method, path, body): (Method, String, Option<Value>) = match cmd {
        AuditCmd::List {
            origin,
            after_seq,
            action,
            actor,
            since,
            until,
            limit,
        } => (
            Method::GET,
            format!(
                "/v1/audit/records{}",
                query(&[
                    ("origin", origin.clone()),
                    ("after_seq", after_seq.map(|s| s.to_string())),
                    ("action", action.clone()),
                    ("actor", actor.clone()),
                    ("since", since.clone()),
                    ("until", until.clone()),
                    ("limit", limit.map(|l| l.to_string())),
                ])
            ),
            None,
        ),
        AuditCmd::Verify => (Method::POST, "/v1/audit/verify".into(), None),
        AuditCmd::Delete { before } => (
            Method::POST,
            "/v1/audit/delete".into(),
            Some(json!({ "before": before })),
        ),
        AuditCmd::Checkpoint => (Method::POST, "/v1/audit/checkpoint".into(), None),
        AuditCmd::Export { .. } => bail!("export is handled above"),
    };
    let (status, v) = client.request(method, &path, body.as_ref()).await?;
    check(status, &v)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_human(cmd, &v);
    }
    if matches!(cmd, AuditCmd::Verify) && v["ok"].as_bool() != Some(true) {
        bail!(
            "the audit trail is BROKEN: {}",
            v["first_failure"]["message"]
                .as_str()
                .unwrap_or("(no failure named)")
        );
    }
    Ok(())
}

fn print_human(cmd: &AuditCmd, v: &Value) {
    match cmd {
        AuditCmd::List { .. } => {
            let recs = v["records"].as_array().cloned().unwrap_or_default();
            println!(
                "{:<24}  {:>8}  {:<9}  {:<20}  {:<24}  {:<36}  DETAIL",
                "TIME", "SEQ", "OUTCOME", "ACTOR", "ACTION", "OBJECT"
            );
            for r in &recs {
                let at = r["at_ms"]
                    .as_i64()
                    .map(clavis::audit::export::rfc3339_ms)
                    .unwrap_or_default();
                println!(
                    "{:<24}  {:>8}  {:<9}  {:<20}  {:<24}  {:<36}  {}",
                    at,
                    r["seq"],
                    opt(&r["outcome"]),
                    opt(&r["actor"]),
                    opt(&r["action"]),
                    opt(&r["object"]),
                    r["detail"].as_str().unwrap_or("")
                );
            }
            println!(
                "({} record{})",
                recs.len(),
                if recs.len() == 1 { "" } else { "s" }
            );
            if let Some(n) = v["next_after_seq"].as_i64() {
                println!("more: --after-seq {n}");
            }
        }
        AuditCmd::Verify => {
            if v["ok"].as_bool() == Some(true) {
                println!(
                    "audit trail intact: {} records in {} chain(s), {} checkpoint signature(s) ({} of other nodes), {} ms",
                    v["records_checked"],
                    v["origins"],
                    v["checkpoints_checked"],
                    v["checkpoints_foreign"],
                    v["elapsed_ms"]
                );
            } else {
                for f in v["failures"].as_array().cloned().unwrap_or_default() {
                    println!("BROKEN  {}", opt(&f["message"]));
                }
            }
        }
        AuditCmd::Delete { .. } => {
            println!("deleted {} record(s)", v["deleted"]);
            for o in v["origins"].as_array().cloned().unwrap_or_default() {
                println!(
                    "  origin {}: up to seq {} ({} records), anchored by a signed deletion checkpoint",
                    opt(&o["origin"]),
                    o["upto_seq"],
                    o["records"]
                );
            }
            println!("recorded as audit.delete, seq {}", v["record_seq"]);
        }
        AuditCmd::Checkpoint => match v["checkpoint"].as_object() {
            Some(c) => println!(
                "signed checkpoint: origin {} seq {} hash {}",
                c.get("origin").and_then(Value::as_str).unwrap_or("-"),
                c.get("seq").cloned().unwrap_or(Value::Null),
                c.get("hash").and_then(Value::as_str).unwrap_or("-")
            ),
            None => println!("the chain head has a checkpoint already"),
        },
        AuditCmd::Export { .. } => {}
    }
}
