//! `clavis group ...`: user groups and endpoint groups (`--kind user|endpoint`).

use super::{list, plural, seg, Api};
use crate::s;
use clap::{Args, Subcommand, ValueEnum};
use clavis::names::NameKind;
use hyper::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group (user groups: System Administrators; endpoint groups: Key
    /// Administrators or holders of Create Endpoint Group, who then manage it).
    Create {
        #[command(flatten)]
        kind: KindArg,
        /// Group name (letters, digits, `_`, `.`, `-`; case-insensitive).
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// List groups of one kind.
    List {
        #[command(flatten)]
        kind: KindArg,
    },
    /// Show a group: members and managers.
    Get {
        #[command(flatten)]
        kind: KindArg,
        /// Group name.
        name: String,
    },
    /// Delete a group; its memberships, grants and managers go with it.
    Delete {
        #[command(flatten)]
        kind: KindArg,
        /// Group name.
        name: String,
    },
    /// Add a member: a user to a user group, an endpoint to an endpoint group.
    AddMember {
        #[command(flatten)]
        kind: KindArg,
        /// Group name.
        name: String,
        /// The member's name.
        member: String,
    },
    /// Remove a member.
    RemoveMember {
        #[command(flatten)]
        kind: KindArg,
        /// Group name.
        name: String,
        /// The member's name.
        member: String,
    },
}

/// `--kind user|endpoint`.
#[derive(Args)]
pub struct KindArg {
    /// User groups or endpoint groups.
    #[arg(long, value_enum)]
    kind: Kind,
}

/// Kinds of groups.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Groups of users.
    User,
    /// Groups of endpoints.
    Endpoint,
}

impl KindArg {
    fn base(&self) -> &'static str {
        match self.kind {
            Kind::User => "/v1/user-groups",
            Kind::Endpoint => "/v1/endpoint-groups",
        }
    }

    fn group_kind(&self) -> NameKind {
        match self.kind {
            Kind::User => NameKind::UserGroup,
            Kind::Endpoint => NameKind::EndpointGroup,
        }
    }

    fn member_kind(&self) -> NameKind {
        match self.kind {
            Kind::User => NameKind::User,
            Kind::Endpoint => NameKind::Endpoint,
        }
    }

    fn path(&self, name: &str) -> anyhow::Result<String> {
        Ok(format!("{}/{}", self.base(), seg(self.group_kind(), name)?))
    }
}

pub async fn run(api: &mut Api, cmd: &GroupCmd) -> anyhow::Result<()> {
    match cmd {
        GroupCmd::Create {
            kind,
            name,
            description,
        } => {
            let body = json!({"name": name, "description": description});
            api.show(Method::POST, kind.base(), Some(&body), |v| {
                println!(
                    "created {} {} ({})",
                    kind.group_kind().noun(),
                    s(&v["name"]),
                    s(&v["id"])
                );
            })
            .await
        }
        GroupCmd::List { kind } => {
            api.show(Method::GET, kind.base(), None, |v| {
                let groups = v["groups"].as_array().cloned().unwrap_or_default();
                println!("{:<32}  {:<8}  DESCRIPTION", "NAME", "MEMBERS");
                for g in &groups {
                    println!(
                        "{:<32}  {:<8}  {}",
                        s(&g["name"]),
                        g["members"].as_array().map_or(0, Vec::len),
                        g["description"].as_str().unwrap_or("")
                    );
                }
                println!("{}", plural(groups.len(), kind.group_kind().noun()));
            })
            .await
        }
        GroupCmd::Get { kind, name } => {
            api.show(Method::GET, &kind.path(name)?, None, print_group)
                .await
        }
        GroupCmd::Delete { kind, name } => {
            api.show(Method::DELETE, &kind.path(name)?, None, |_| {
                println!("deleted {} {name}", kind.group_kind().noun())
            })
            .await
        }
        GroupCmd::AddMember { kind, name, member } => {
            let body = json!({"name": member});
            api.show(
                Method::POST,
                &format!("{}/members", kind.path(name)?),
                Some(&body),
                print_group,
            )
            .await
        }
        GroupCmd::RemoveMember { kind, name, member } => {
            let path = format!(
                "{}/members/{}",
                kind.path(name)?,
                seg(kind.member_kind(), member)?
            );
            api.show(Method::DELETE, &path, None, print_group).await
        }
    }
}

fn print_group(g: &Value) {
    println!("name        {}", s(&g["name"]));
    println!("id          {}", s(&g["id"]));
    println!("kind        {}", s(&g["kind"]));
    if let Some(d) = g["description"].as_str() {
        println!("description {d}");
    }
    println!("members     {}", list(&g["members"]));
    if g["kind"] == "endpoint" {
        println!("managers    {}", list(&g["managers"]));
    }
}
