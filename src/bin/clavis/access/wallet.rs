//! `clavis wallet ...`: virtual wallets, their objects and access grants.

use super::{plural, seg, Api};
use crate::{date, path_segment, s};
use clap::{Subcommand, ValueEnum};
use clavis::names::NameKind;
use hyper::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum WalletCmd {
    /// Create a wallet; you get Manage Wallet on it.
    Create {
        /// Wallet name (letters, digits, `_`, `.`, `-`; case-sensitive).
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the wallets you can see (all of them for Key Administrators and Audit
    /// Managers).
    List,
    /// Show a wallet: its grants and objects.
    Get {
        /// Wallet name.
        name: String,
    },
    /// Delete a wallet; its objects stay, its grants go.
    Delete {
        /// Wallet name.
        name: String,
    },
    /// Put an object in a wallet.
    Add {
        /// Wallet name.
        wallet: String,
        /// Object ID.
        object_id: String,
    },
    /// Take an object out of a wallet.
    Remove {
        /// Wallet name.
        wallet: String,
        /// Object ID.
        object_id: String,
    },
    /// Grant access to a wallet (at or below your own level).
    Grant {
        /// Wallet name.
        wallet: String,
        /// Who gets it: a user, user group, endpoint or endpoint group name.
        grantee: String,
        /// What kind of grantee that is.
        #[arg(long, value_enum, default_value_t = GranteeKind::User)]
        kind: GranteeKind,
        /// Access level.
        #[arg(long, value_enum)]
        level: Level,
    },
    /// Revoke a grantee's access to a wallet.
    Revoke {
        /// Wallet name.
        wallet: String,
        /// The grantee's name.
        grantee: String,
        /// What kind of grantee that is.
        #[arg(long, value_enum, default_value_t = GranteeKind::User)]
        kind: GranteeKind,
    },
    /// A wallet's key policy: what keys drives get from it and how long they serve.
    #[command(subcommand)]
    Policy(crate::drives::PolicyCmd),
}

/// Kinds of grantees, as the API names them.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GranteeKind {
    /// A user.
    User,
    /// A user group.
    #[value(name = "user_group", alias = "user-group")]
    UserGroup,
    /// An endpoint.
    Endpoint,
    /// An endpoint group.
    #[value(name = "endpoint_group", alias = "endpoint-group")]
    EndpointGroup,
}

impl GranteeKind {
    fn api(self) -> &'static str {
        match self {
            GranteeKind::User => "user",
            GranteeKind::UserGroup => "user_group",
            GranteeKind::Endpoint => "endpoint",
            GranteeKind::EndpointGroup => "endpoint_group",
        }
    }

    fn name_kind(self) -> NameKind {
        match self {
            GranteeKind::User => NameKind::User,
            GranteeKind::UserGroup => NameKind::UserGroup,
            GranteeKind::Endpoint => NameKind::Endpoint,
            GranteeKind::EndpointGroup => NameKind::EndpointGroup,
        }
    }
}

/// Wallet access levels, as the API names them.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// Read the objects.
    #[value(name = "read_only", alias = "read-only")]
    ReadOnly,
    /// Also modify them.
    #[value(name = "read_modify", alias = "read-modify")]
    ReadModify,
    /// Also add and remove objects, grant access, delete the wallet.
    #[value(name = "manage_wallet", alias = "manage-wallet")]
    ManageWallet,
}

impl Level {
    fn api(self) -> &'static str {
        match self {
            Level::ReadOnly => "read_only",
            Level::ReadModify => "read_modify",
            Level::ManageWallet => "manage_wallet",
        }
    }
}

fn wallet_path(name: &str) -> anyhow::Result<String> {
    Ok(format!("/v1/wallets/{}", seg(NameKind::Wallet, name)?))
}

pub async fn run(api: &mut Api, cmd: &WalletCmd) -> anyhow::Result<()> {
    match cmd {
        WalletCmd::Policy(c) => crate::drives::policy(&mut api.client, api.json, c).await,
        WalletCmd::Create { name, description } => {
            let body = json!({"name": name, "description": description});
            api.show(Method::POST, "/v1/wallets", Some(&body), |v| {
                println!("created wallet {} ({})", s(&v["name"]), s(&v["id"]));
            })
            .await
        }
        WalletCmd::List => {
            api.show(Method::GET, "/v1/wallets", None, |v| {
                let wallets = v["wallets"].as_array().cloned().unwrap_or_default();
                println!("{:<32}  {:<14}  DESCRIPTION", "NAME", "MY ACCESS");
                for w in &wallets {
                    println!(
                        "{:<32}  {:<14}  {}",
                        s(&w["name"]),
                        s(&w["my_access"]),
                        w["description"].as_str().unwrap_or("")
                    );
                }
                println!("{}", plural(wallets.len(), "wallet"));
            })
            .await
        }
        WalletCmd::Get { name } => {
            api.show(Method::GET, &wallet_path(name)?, None, print_wallet)
                .await
        }
        WalletCmd::Delete { name } => {
            api.show(Method::DELETE, &wallet_path(name)?, None, |_| {
                println!("deleted wallet {name}")
            })
            .await
        }
        WalletCmd::Add { wallet, object_id } => {
            let body = json!({"object_id": object_id});
            api.show(
                Method::POST,
                &format!("{}/objects", wallet_path(wallet)?),
                Some(&body),
                |_| println!("added {object_id} to wallet {wallet}"),
            )
            .await
        }
        WalletCmd::Remove { wallet, object_id } => {
            let path = format!(
                "{}/objects/{}",
                wallet_path(wallet)?,
                path_segment(object_id)?
            );
            api.show(Method::DELETE, &path, None, |_| {
                println!("removed {object_id} from wallet {wallet}")
            })
            .await
        }
        WalletCmd::Grant {
            wallet,
            grantee,
            kind,
            level,
        } => {
            let body =
                json!({"grantee_kind": kind.api(), "grantee": grantee, "level": level.api()});
            api.show(
                Method::POST,
                &format!("{}/grants", wallet_path(wallet)?),
                Some(&body),
                |_| {
                    println!(
                        "granted {} on wallet {wallet} to {} {grantee}",
                        level.api(),
                        kind.api()
                    )
                },
            )
            .await
        }
        WalletCmd::Revoke {
            wallet,
            grantee,
            kind,
        } => {
            let path = format!(
                "{}/grants/{}/{}",
                wallet_path(wallet)?,
                kind.api(),
                seg(kind.name_kind(), grantee)?
            );
            api.show(Method::DELETE, &path, None, |_| {
                println!(
                    "revoked the access of {} {grantee} to wallet {wallet}",
                    kind.api()
                )
            })
            .await
        }
    }
}

fn print_wallet(w: &Value) {
    println!("name        {}", s(&w["name"]));
    println!("id          {}", s(&w["id"]));
    if let Some(d) = w["description"].as_str() {
        println!("description {d}");
    }
    println!("my access   {}", s(&w["my_access"]));
    println!("created     {}", date(&w["created_at"]));
    let grants = w["grants"].as_array().cloned().unwrap_or_default();
    println!("grants      {}", plural(grants.len(), "grant"));
    for g in &grants {
        println!(
            "            {:<15} {:<32} {}",
            s(&g["grantee_kind"]),
            s(&g["grantee"]),
            s(&g["level"])
        );
    }
    let objects = w["objects"].as_array().cloned().unwrap_or_default();
    println!("objects     {}", plural(objects.len(), "object"));
    for o in &objects {
        println!("            {}", s(o));
    }
}
