//! Access-control commands: `clavis user`, `clavis wallet`, `clavis group` and
//! `clavis settings` (SPEC 5.1–5.5, 5.8), one file each under `access/`; this file
//! holds what they share.
//!
//! Passwords are never command-line arguments (those show in `ps` and shell
//! history): they come from standard input (`--password-stdin`, one line) or from the
//! environment (`CLAVIS_PASSWORD`).

mod group;
mod settings;
mod user;
mod wallet;

use crate::Cli;
use anyhow::{bail, Context};
use clap::Subcommand;
use clavis::client::ApiClient;
use clavis::names::NameKind;
use hyper::{Method, StatusCode};
use serde_json::Value;
use zeroize::Zeroizing;

/// The access-control commands, flattened into `clavis`'s own.
#[derive(Subcommand)]
pub enum AccessCmd {
    /// User accounts: passwords, lockout, roles and endpoint privileges.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Virtual wallets: objects and access grants.
    #[command(subcommand)]
    Wallet(wallet::WalletCmd),
    /// User groups and endpoint groups.
    #[command(subcommand)]
    Group(group::GroupCmd),
    /// Cluster access-control settings.
    #[command(subcommand)]
    Settings(settings::SettingsCmd),
}

/// Runs an access-control command against the node at `cli.server`, trusting `ca`.
pub async fn run(cli: &Cli, cmd: &AccessCmd, ca: &str) -> anyhow::Result<()> {
    let mut api = Api {
        client: crate::client(cli, ca)?,
        json: cli.json,
    };
    match cmd {
        AccessCmd::User(c) => user::run(&mut api, c).await,
        AccessCmd::Wallet(c) => wallet::run(&mut api, c).await,
        AccessCmd::Group(c) => group::run(&mut api, c).await,
        AccessCmd::Settings(c) => settings::run(&mut api, c).await,
    }
}

/// A client plus the output mode.
pub(crate) struct Api {
    client: ApiClient,
    json: bool,
}

impl Api {
    /// Sends a request; a non-2xx answer becomes an error naming status, code and
    /// message.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let (status, v) = self.client.request(method, path, body).await?;
        if !status.is_success() {
            let msg = v["error"]["message"].as_str().unwrap_or("(no message)");
            let code = v["error"]["code"].as_str().unwrap_or("error");
            bail!("{} {}: {msg}", status.as_u16(), code);
        }
        Ok((status, v))
    }

    /// Sends a request and prints the answer: the server's JSON with `--json`
    /// (nothing for a `204 No Content`), else what `human` makes of it.
    async fn show(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        human: impl FnOnce(&Value),
    ) -> anyhow::Result<()> {
        let (_, v) = self.call(method, path, body).await?;
        if self.json {
            if !v.is_null() {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        } else {
            human(&v);
        }
        Ok(())
    }
}

/// A name that goes into a URL path, checked against its kind's rule first (so it
/// cannot change the path, and the message names the rule).
fn seg(kind: NameKind, name: &str) -> anyhow::Result<&str> {
    kind.check(name)
        .map_err(|rule| anyhow::anyhow!("invalid {} {name:?}: {rule}", kind.noun()))?;
    Ok(name)
}

/// Where a password comes from: standard input or `CLAVIS_PASSWORD`.
fn env_password(var: &str) -> Option<Zeroizing<String>> {
    std::env::var(var)
        .ok()
        .map(Zeroizing::new)
        .filter(|p| !p.is_empty())
}

/// Reads one line of standard input, without its line ending.
pub(crate) fn stdin_line(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if trimmed.is_empty() {
        bail!("no {what} on standard input (expected one line)");
    }
    Ok(trimmed)
}

fn list(v: &Value) -> String {
    let items: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn plural(n: usize, noun: &str) -> String {
    format!("({n} {noun}{})", if n == 1 { "" } else { "s" })
}
