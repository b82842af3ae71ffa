//! `clavis settings get|set`: the cluster's access-control settings.

use super::Api;
use anyhow::Context;
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum SettingsCmd {
    /// Show every setting.
    Get,
    /// Change one setting (System Administrators).
    ///
    /// Settings: separation_of_roles (true/false), max_failed_logins (1-100),
    /// lockout_secs, session_ttl_secs, admin_allowlist and endpoint_allowlist (lists
    /// of addresses or CIDR networks; [] allows every address).
    Set {
        /// Setting name.
        name: String,
        /// The value, as JSON: true, 5, '["10.0.0.0/8", "192.0.2.7"]'.
        value: String,
    },
}

pub async fn run(api: &mut Api, cmd: &SettingsCmd) -> anyhow::Result<()> {
    match cmd {
        SettingsCmd::Get => api.show(Method::GET, "/v1/settings", None, print).await,
        SettingsCmd::Set { name, value } => {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                anyhow::bail!("invalid setting name {name:?}: see `clavis settings get`");
            }
            let value: Value = serde_json::from_str(value).with_context(|| {
                format!("VALUE must be JSON (true, 5, '[\"10.0.0.0/8\"]'), not {value:?}")
            })?;
            let body = json!({ "value": value });
            api.show(
                Method::PUT,
                &format!("/v1/settings/{name}"),
                Some(&body),
                print,
            )
            .await
        }
    }
}

fn print(v: &Value) {
    if let Some(o) = v.as_object() {
        for (k, val) in o {
            println!("{k:<22}  {val}");
        }
    }
}
