//! Key groups and tape drives: `clavis wallet policy ...` (a wallet's key policy,
//! SPEC 2.3), `clavis pool status` (this node's key pools, SPEC 3) and
//! `clavis data-unit ...` (tapes and the keys that encrypted them, SPEC 2.5).

use crate::endpoint::check;
use crate::{date, s, Cli};
use anyhow::bail;
use clap::Subcommand;
use clavis::client::ApiClient;
use clavis::names::NameKind;
use hyper::Method;
use serde_json::{json, Value};

/// `clavis wallet policy ...`.
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Make a wallet a key group for drives, or replace its policy. Periods left out
    /// are unlimited.
    Set {
        /// Wallet name.
        wallet: String,
        /// Key length in bits (128 or 256).
        #[arg(long, default_value_t = 256)]
        length: u32,
        /// How long a key protects new data after it is handed out: a number with a
        /// unit, s, m, h, d or y (365 days), e.g. 365d.
        #[arg(long, value_parser = parse_period)]
        encryption_period: Option<i64>,
        /// How long a key may still read data after it is handed out (at least the
        /// encryption period), e.g. 3650d.
        #[arg(long, value_parser = parse_period)]
        decryption_period: Option<i64>,
        /// Let its keys leave the cluster (export, key transfer).
        #[arg(long)]
        exportable: bool,
    },
    /// Show a wallet's key policy.
    Show {
        /// Wallet name.
        wallet: String,
    },
    /// Stop a wallet being a key group; its pools are emptied, keys handed out stay.
    Remove {
        /// Wallet name.
        wallet: String,
    },
}

/// `clavis pool ...`.
#[derive(Subcommand)]
pub enum PoolCmd {
    /// This node's pool of each key group you may see.
    Status,
}

/// `clavis data-unit ...`.
#[derive(Subcommand)]
pub enum DataUnitCmd {
    /// List data units (tapes).
    List {
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<i64>,
        /// Skip this many.
        #[arg(long)]
        offset: Option<i64>,
    },
    /// Show a data unit with the keys that encrypted it and their use.
    Show {
        /// Data unit ID.
        id: String,
    },
}

/// Seconds per unit of a period.
const UNITS: [(char, i64); 5] = [
    ('y', 365 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// Parses a period: digits and one unit (`s`, `m`, `h`, `d`, `y` = 365 days), e.g.
/// `365d`; into seconds. Nothing else is accepted (no sign, spaces, fractions or
/// bare numbers), so a typo is an error rather than a surprising period.
pub fn parse_period(text: &str) -> Result<i64, String> {
    let rule = "a period is a whole number and a unit: s, m, h, d or y (365 days), e.g. 365d";
    let Some(unit) = text.chars().last() else {
        return Err(format!("empty period; {rule}"));
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let Some(&(_, per)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_ascii_digit() {
            format!("{text:?} has no unit; {rule}")
        } else {
            format!("{text:?}: unknown unit {unit:?}; {rule}")
        });
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a period; {rule}"));
    }
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is too long a period"))?;
    if n == 0 {
        return Err(format!(
            "{text:?}: a period is at least 1 second (leave the option out for no limit)"
        ));
    }
    n.checked_mul(per)
        .ok_or_else(|| format!("{text:?} is too long a period"))
}

/// A period in seconds as the largest unit that divides it exactly (`3650d`, `90m`);
/// `unlimited` for none.
pub fn show_period(v: &Value) -> String {
    let Some(secs) = v.as_i64() else {
        return "unlimited".into();
    };
    let (unit, per) = UNITS
        .iter()
        .copied()
        .find(|(_, per)| secs % per == 0)
        .unwrap_or(('s', 1));
    let n = secs / per;
    if per == 1 {
        format!("{n}s")
    } else {
        format!("{n}{unit} ({secs} s)")
    }
}

/// Sends a request; a non-2xx answer becomes an error naming status, code and message.
/// With `--json` prints the server's answer (nothing for `204 No Content`), else what
/// `human` makes of it.
async fn show(
    client: &mut ApiClient,
    json: bool,
    method: Method,
    path: &str,
    body: Option<&Value>,
    human: impl FnOnce(&Value),
) -> anyhow::Result<()> {
    let (status, v) = client.request(method, path, body).await?;
    check(status, &v)?;
    if json {
        if !v.is_null() {
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    } else {
        human(&v);
    }
    Ok(())
}

fn policy_path(wallet: &str) -> anyhow::Result<String> {
    NameKind::Wallet
        .check(wallet)
        .map_err(|rule| anyhow::anyhow!("invalid wallet name {wallet:?}: {rule}"))?;
    Ok(format!("/v1/wallets/{wallet}/policy"))
}

/// Runs `clavis wallet policy ...` with the wallet commands' client.
pub async fn policy(client: &mut ApiClient, json: bool, cmd: &PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Set {
            wallet,
            length,
            encryption_period,
            decryption_period,
            exportable,
        } => {
            if let (Some(e), Some(d)) = (encryption_period, decryption_period) {
                if d < e {
                    bail!("--decryption-period must be at least --encryption-period: data written with a key must stay readable at least as long as the key writes");
                }
            }
            let body = json!({
                "algorithm": "AES",
                "length": length,
                "encryption_period_secs": encryption_period,
                "decryption_period_secs": decryption_period,
                "exportable": exportable,
            });
            show(
                client,
                json,
                Method::PUT,
                &policy_path(wallet)?,
                Some(&body),
                |v| {
                    println!("key policy of wallet {} set", s(&v["wallet"]));
                    print_policy(v);
                },
            )
            .await
        }
        PolicyCmd::Show { wallet } => {
            show(
                client,
                json,
                Method::GET,
                &policy_path(wallet)?,
                None,
                print_policy,
            )
            .await
        }
        PolicyCmd::Remove { wallet } => {
            show(
                client,
                json,
                Method::DELETE,
                &policy_path(wallet)?,
                None,
                |_| println!("wallet {wallet} is no longer a key group"),
            )
            .await
        }
    }
}

fn print_policy(v: &Value) {
    println!("wallet             {}", s(&v["wallet"]));
    println!(
        "keys               {}-{}",
        s(&v["algorithm"]),
        v["length"].as_u64().unwrap_or(0)
    );
    println!(
        "encryption period  {}",
        show_period(&v["encryption_period_secs"])
    );
    println!(
        "decryption period  {}",
        show_period(&v["decryption_period_secs"])
    );
    println!(
        "exportable         {}",
        if v["exportable"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
    );
    println!("updated            {}", date(&v["updated_at"]));
}

/// Runs `clavis pool ...`.
pub async fn run_pool(cli: &Cli, cmd: &PoolCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
        PoolCmd::Status => {
            show(&mut client, cli.json, Method::GET, "/v1/pools", None, |v| {
                println!("node {}", s(&v["node_id"]));
                print_pools(&v["pools"]);
            })
            .await
        }
    }
}

/// A table of pool reports (`clavis pool status`, `clavis status`).
pub fn print_pools(pools: &Value) {
    let pools = pools.as_array().cloned().unwrap_or_default();
    if pools.is_empty() {
        println!("no key groups (set a wallet's key policy: clavis wallet policy set)");
        return;
    }
    println!(
        "{:<32}  {:>13}  {:>9}  {:>9}  {:>6}  {:>8}  {:>6}  LAST DRAIN",
        "KEY GROUP", "READY/SIZE", "LOW WATER", "TAKEN", "PEAK/S", "PEAK/MIN", "DRAINS"
    );
    for p in &pools {
        let last = if p["last_drain_at"].is_null() {
            "never".to_owned()
        } else {
            date(&p["last_drain_at"])
        };
        println!(
            "{:<32}  {:>13}  {:>9}  {:>9}  {:>6}  {:>8}  {:>6}  {last}",
            s(&p["wallet"]),
            format!("{}/{}", p["ready"], p["size"]),
            n(&p["low_water"]),
            n(&p["taken"]),
            n(&p["peak_per_second"]),
            n(&p["peak_per_minute"]),
            n(&p["drains"]),
        );
    }
}

/// A data unit ID goes into a URL path: refuse anything that could change the path.
fn data_unit_path(id: &str) -> anyhow::Result<String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        bail!("invalid data unit ID {id:?}: data unit IDs are UUIDs (see clavis data-unit list)");
    }
    Ok(format!("/v1/data-units/{id}"))
}

/// Runs `clavis data-unit ...`.
pub async fn run_data_unit(cli: &Cli, cmd: &DataUnitCmd, ca: &str) -> anyhow::Result<()> {
    let mut client = crate::client(cli, ca)?;
    match cmd {
        DataUnitCmd::List { limit, offset } => {
            let q: Vec<String> = [("limit", limit), ("offset", offset)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            let path = if q.is_empty() {
                "/v1/data-units".to_owned()
            } else {
                format!("/v1/data-units?{}", q.join("&"))
            };
            show(&mut client, cli.json, Method::GET, &path, None, |v| {
                let units = v["data_units"].as_array().cloned().unwrap_or_default();
                println!(
                    "{:<36}  {:<16}  {:<24}  {:<36}  CREATED",
                    "ID", "TAG", "UNIQUE ID", "KEY GROUP ID"
                );
                for u in &units {
                    println!(
                        "{:<36}  {:<16}  {:<24}  {:<36}  {}",
                        s(&u["id"]),
                        s(&u["external_tag"]),
                        s(&u["external_unique_id"]),
                        s(&u["wallet_id"]),
                        date(&u["created_at"])
                    );
                }
                println!(
                    "({} data unit{})",
                    units.len(),
                    if units.len() == 1 { "" } else { "s" }
                );
            })
            .await
        }
        DataUnitCmd::Show { id } => {
            show(
                &mut client,
                cli.json,
                Method::GET,
                &data_unit_path(id)?,
                None,
                print_data_unit,
            )
            .await
        }
    }
}

fn print_data_unit(u: &Value) {
    println!("id          {}", s(&u["id"]));
    println!("tag         {}", s(&u["external_tag"]));
    println!("unique id   {}", s(&u["external_unique_id"]));
    println!("key group   {}", s(&u["wallet_id"]));
    println!("created by  {}", s(&u["created_by"]));
    println!("created     {}", date(&u["created_at"]));
    let keys = u["keys"].as_array().cloned().unwrap_or_default();
    println!(
        "keys        ({} key{})",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    );
    if keys.is_empty() {
        return;
    }
    println!(
        "  {:<36}  {:>6}  {:>6}  {:>14}  {:>14}  {:<20}  LAST USED",
        "KEY ID", "WRITES", "READS", "BYTES WRITTEN", "BYTES READ", "FIRST USED"
    );
    for k in &keys {
        println!(
            "  {:<36}  {:>6}  {:>6}  {:>14}  {:>14}  {:<20}  {}",
            s(&k["key_id"]),
            n(&k["writes"]),
            n(&k["reads"]),
            n(&k["bytes_written"]),
            n(&k["bytes_read"]),
            date_ms(&k["first_used_at"]),
            date_ms(&k["last_used_at"])
        );
    }
}

/// A JSON number as text (`Value`'s own `Display` ignores widths, so tables need this).
fn n(v: &Value) -> String {
    if v.is_number() {
        v.to_string()
    } else {
        "-".into()
    }
}

/// Unix milliseconds as an RFC 3339 UTC time (to the second).
fn date_ms(v: &Value) -> String {
    match v.as_i64() {
        Some(ms) => date(&Value::from(ms.div_euclid(1000))),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_strictly() {
        assert_eq!(parse_period("30s"), Ok(30));
        assert_eq!(parse_period("90m"), Ok(5_400));
        assert_eq!(parse_period("12h"), Ok(43_200));
        assert_eq!(parse_period("365d"), Ok(31_536_000));
        assert_eq!(parse_period("1y"), Ok(31_536_000));
        for bad in [
            "", "365", "d", "-5d", "+5d", "1.5d", " 5d", "5 d", "5D", "5w", "5dd", "0d", "٣d",
        ] {
            assert!(parse_period(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_period("365").unwrap_err().contains("no unit"));
        assert!(parse_period("5w").unwrap_err().contains("unknown unit 'w'"));
        assert!(parse_period("99999999999999999999y")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_period("999999999999999999y")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn periods_show_in_their_largest_exact_unit() {
        assert_eq!(show_period(&Value::Null), "unlimited");
        assert_eq!(show_period(&json!(31_536_000)), "1y (31536000 s)");
        assert_eq!(show_period(&json!(86_400 * 3650)), "10y (315360000 s)");
        assert_eq!(show_period(&json!(86_400 * 30)), "30d (2592000 s)");
        assert_eq!(show_period(&json!(61)), "61s");
    }
}
