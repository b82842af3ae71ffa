//! `clavis user ...`: accounts, passwords, lockout, roles, endpoint privileges.

use super::{env_password, list, plural, seg, stdin_line, Api};
use crate::{date, s};
use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use clavis::names::NameKind;
use hyper::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user. The password is read from standard input (--password-stdin) or
    /// CLAVIS_PASSWORD; with neither, the user has no password (certificate login).
    Create {
        /// User name (letters, digits, `_`; case-insensitive).
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<i64>,
        /// Skip this many.
        #[arg(long)]
        offset: Option<i64>,
    },
    /// Show a user: roles, privileges, lockout.
    Get {
        /// User name.
        name: String,
    },
    /// Delete a user: their sessions, grants and memberships go with them.
    Delete {
        /// User name.
        name: String,
    },
    /// Set a password: your own (with --current) or anyone's as a System
    /// Administrator. The new password comes from standard input (--password-stdin)
    /// or CLAVIS_PASSWORD.
    Passwd {
        /// User name.
        name: String,
        /// Read from standard input: the new password on the first line, or, with
        /// --current, the current password on the first line and the new one on the
        /// second.
        #[arg(long)]
        password_stdin: bool,
        /// Send the current password too (needed to change your own): from standard
        /// input with --password-stdin, else from CLAVIS_CURRENT_PASSWORD.
        #[arg(long)]
        current: bool,
    },
    /// Lift a lockout after too many wrong passwords.
    Unlock {
        /// User name.
        name: String,
    },
    /// Grant an administrative role.
    GrantRole {
        /// User name.
        name: String,
        /// The role.
        #[arg(value_enum)]
        role: Role,
        /// Let the user grant this role onward.
        #[arg(long)]
        forward_grant: bool,
    },
    /// Revoke an administrative role (and its forward grant).
    RevokeRole {
        /// User name.
        name: String,
        /// The role.
        #[arg(value_enum)]
        role: Role,
    },
    /// Grant Create Endpoint or Create Endpoint Group.
    GrantPrivilege {
        /// User name.
        name: String,
        /// The privilege.
        #[arg(value_enum)]
        privilege: Privilege,
    },
    /// Revoke Create Endpoint or Create Endpoint Group.
    RevokePrivilege {
        /// User name.
        name: String,
        /// The privilege.
        #[arg(value_enum)]
        privilege: Privilege,
    },
    /// Grant Manage Endpoint or Manage Endpoint Group on one endpoint or group.
    GrantManage {
        /// User name.
        name: String,
        /// What kind of thing is managed.
        #[arg(value_enum)]
        target: Target,
        /// The endpoint's or endpoint group's name.
        target_name: String,
    },
    /// Revoke Manage Endpoint or Manage Endpoint Group.
    RevokeManage {
        /// User name.
        name: String,
        /// What kind of thing is managed.
        #[arg(value_enum)]
        target: Target,
        /// The endpoint's or endpoint group's name.
        target_name: String,
    },
}

/// Administrative roles, as the API names them.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Users, endpoints, settings, cluster.
    #[value(name = "system_admin", alias = "system-admin")]
    SystemAdmin,
    /// Security objects, wallets, endpoint groups, grants.
    #[value(name = "key_admin", alias = "key-admin")]
    KeyAdmin,
    /// The audit trail.
    #[value(name = "audit_manager", alias = "audit-manager")]
    AuditManager,
}

impl Role {
    fn api(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::KeyAdmin => "key_admin",
            Role::AuditManager => "audit_manager",
        }
    }
}

/// Endpoint privileges, as the API names them.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Privilege {
    /// Register endpoints.
    #[value(name = "create_endpoint", alias = "create-endpoint")]
    CreateEndpoint,
    /// Create endpoint groups.
    #[value(name = "create_endpoint_group", alias = "create-endpoint-group")]
    CreateEndpointGroup,
}

impl Privilege {
    fn api(self) -> &'static str {
        match self {
            Privilege::CreateEndpoint => "create_endpoint",
            Privilege::CreateEndpointGroup => "create_endpoint_group",
        }
    }
}

/// What a Manage privilege is on.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// One endpoint.
    Endpoint,
    /// One endpoint group.
    #[value(name = "endpoint_group", alias = "endpoint-group")]
    EndpointGroup,
}

impl Target {
    fn api(self) -> &'static str {
        match self {
            Target::Endpoint => "endpoint",
            Target::EndpointGroup => "endpoint_group",
        }
    }

    fn name_kind(self) -> NameKind {
        match self {
            Target::Endpoint => NameKind::Endpoint,
            Target::EndpointGroup => NameKind::EndpointGroup,
        }
    }
}

fn user_path(name: &str) -> anyhow::Result<String> {
    Ok(format!("/v1/users/{}", seg(NameKind::User, name)?))
}

pub async fn run(api: &mut Api, cmd: &UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            name,
            password_stdin,
        } => {
            let password = if *password_stdin {
                Some(stdin_line("password")?)
            } else {
                env_password("CLAVIS_PASSWORD")
            };
            let has_password = password.is_some();
            let body = json!({"name": name, "password": password.as_ref().map(|p| p.as_str())});
            drop(password);
            api.show(Method::POST, "/v1/users", Some(&body), |v| {
                println!("created user {} ({})", s(&v["name"]), s(&v["id"]));
                if !has_password {
                    println!("no password set: the user logs in with a client certificate, or set one with `clavis user passwd`");
                }
            })
            .await
        }
        UserCmd::List { limit, offset } => {
            let mut q = Vec::new();
            if let Some(l) = limit {
                q.push(format!("limit={l}"));
            }
            if let Some(o) = offset {
                q.push(format!("offset={o}"));
            }
            let qs = if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            };
            api.show(Method::GET, &format!("/v1/users{qs}"), None, |v| {
                let users = v["users"].as_array().cloned().unwrap_or_default();
                println!(
                    "{:<24}  {:<40}  {:<22}  {:<10}  LOCKED UNTIL",
                    "NAME", "ROLES", "PRIVILEGES", "LOGIN"
                );
                for u in &users {
                    println!(
                        "{:<24}  {:<40}  {:<22}  {:<10}  {}",
                        s(&u["name"]),
                        roles(u),
                        list(&u["privileges"]),
                        login(u),
                        locked(u),
                    );
                }
                println!("{}", plural(users.len(), "user"));
            })
            .await
        }
        UserCmd::Get { name } => {
            api.show(Method::GET, &user_path(name)?, None, print_user)
                .await
        }
        UserCmd::Delete { name } => {
            api.show(Method::DELETE, &user_path(name)?, None, |_| {
                println!("deleted user {name}")
            })
            .await
        }
        UserCmd::Passwd {
            name,
            password_stdin,
            current,
        } => {
            let (cur, new) = if *password_stdin {
                let cur = if *current {
                    Some(stdin_line("current password")?)
                } else {
                    None
                };
                (cur, stdin_line("new password")?)
            } else {
                let cur = if *current {
                    match env_password("CLAVIS_CURRENT_PASSWORD") {
                        Some(p) => Some(p),
                        None => bail!("--current: set CLAVIS_CURRENT_PASSWORD, or use --password-stdin (current password on the first line, new on the second)"),
                    }
                } else {
                    None
                };
                match env_password("CLAVIS_PASSWORD") {
                    Some(p) => (cur, p),
                    None => bail!("no new password: pass it on standard input with --password-stdin, or set CLAVIS_PASSWORD"),
                }
            };
            let body = json!({"current": cur.as_ref().map(|p| p.as_str()), "new": new.as_str()});
            drop((cur, new));
            api.show(
                Method::POST,
                &format!("{}/password", user_path(name)?),
                Some(&body),
                |_| println!("password changed for {name}"),
            )
            .await
        }
        UserCmd::Unlock { name } => {
            api.show(
                Method::POST,
                &format!("{}/unlock", user_path(name)?),
                None,
                print_user,
            )
            .await
        }
        UserCmd::GrantRole {
            name,
            role,
            forward_grant,
        } => {
            let body = json!({"role": role.api(), "forward_grant": forward_grant});
            api.show(
                Method::POST,
                &format!("{}/roles", user_path(name)?),
                Some(&body),
                print_user,
            )
            .await
        }
        UserCmd::RevokeRole { name, role } => {
            api.show(
                Method::DELETE,
                &format!("{}/roles/{}", user_path(name)?, role.api()),
                None,
                print_user,
            )
            .await
        }
        UserCmd::GrantPrivilege { name, privilege } => {
            let body = json!({"privilege": privilege.api()});
            api.show(
                Method::POST,
                &format!("{}/privileges", user_path(name)?),
                Some(&body),
                print_user,
            )
            .await
        }
        UserCmd::RevokePrivilege { name, privilege } => {
            api.show(
                Method::DELETE,
                &format!("{}/privileges/{}", user_path(name)?, privilege.api()),
                None,
                print_user,
            )
            .await
        }
        UserCmd::GrantManage {
            name,
            target,
            target_name,
        } => {
            let body = json!({"target": target.api(), "name": target_name});
            api.show(
                Method::POST,
                &format!("{}/manage", user_path(name)?),
                Some(&body),
                print_user,
            )
            .await
        }
        UserCmd::RevokeManage {
            name,
            target,
            target_name,
        } => {
            let path = format!(
                "{}/manage/{}/{}",
                user_path(name)?,
                target.api(),
                seg(target.name_kind(), target_name)?
            );
            api.show(Method::DELETE, &path, None, print_user).await
        }
    }
}

/// Roles, each marked when held with forward grant.
fn roles(u: &Value) -> String {
    let forward: Vec<&str> = u["forward_roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let held: Vec<String> = u["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|r| {
                    if forward.contains(&r) {
                        format!("{r}+forward")
                    } else {
                        r.to_owned()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if held.is_empty() {
        "-".into()
    } else {
        held.join(", ")
    }
}

fn login(u: &Value) -> String {
    let mut ways = Vec::new();
    if u["has_password"].as_bool() == Some(true) {
        ways.push("password");
    }
    if u["has_certificate"].as_bool() == Some(true) {
        ways.push("cert");
    }
    if ways.is_empty() {
        "none".into()
    } else {
        ways.join("+")
    }
}

fn locked(u: &Value) -> String {
    if u["locked_until"].is_i64() {
        date(&u["locked_until"])
    } else {
        "-".into()
    }
}

fn print_user(u: &Value) {
    println!("name        {}", s(&u["name"]));
    println!("id          {}", s(&u["id"]));
    println!("roles       {}", roles(u));
    println!("privileges  {}", list(&u["privileges"]));
    println!("manages     endpoints: {}", list(&u["managed_endpoints"]));
    println!(
        "            endpoint groups: {}",
        list(&u["managed_endpoint_groups"])
    );
    println!("login       {}", login(u));
    println!("locked      {}", locked(u));
    println!("created     {}", date(&u["created_at"]));
}
