//! The one decision function: may this subject do this action to this object?
//!
//! Pure: everything it needs is in the [`Subject`] (resolved grants) and the
//! [`Action`] (facts about the target). The service layer gathers both, calls
//! [`authorize`], and audits denials; every transport goes through the service.

use super::roles::{AccessLevel, Privileges, Roles};
use super::subject::{Subject, SubjectKind};

/// Facts about a security object that decide access to it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFacts<'a> {
    /// Owner tag (`user:<id>`, `endpoint:<id>`, `system`), if known.
    pub owner: Option<&'a str>,
    /// IDs of the wallets the object is in.
    pub wallets: &'a [String],
}

/// A per-object management privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageTarget {
    /// Manage Endpoint.
    Endpoint,
    /// Manage Endpoint Group.
    EndpointGroup,
}

/// Something a subject wants to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Create or register a security object (it will be owned by the subject).
    CreateObject,
    /// Read an object's metadata (Get Attributes, Locate, list).
    ReadObject(ObjectFacts<'a>),
    /// Read or use an object's material (Get, Encrypt, Decrypt, Sign, Verify).
    UseObject(ObjectFacts<'a>),
    /// Change an object: attributes, activate, revoke, destroy, re-key.
    ModifyObject(ObjectFacts<'a>),
    /// Create a wallet (the creator gets Manage Wallet on it).
    CreateWallet,
    /// See a wallet and its contents list.
    ViewWallet {
        /// The wallet.
        wallet_id: &'a str,
    },
    /// Change a wallet's settings, add or remove objects, delete it.
    ManageWallet {
        /// The wallet.
        wallet_id: &'a str,
    },
    /// Grant or revoke access to a wallet at `level`.
    GrantWalletAccess {
        /// The wallet.
        wallet_id: &'a str,
        /// The level granted (or revoked).
        level: AccessLevel,
    },
    /// Create, change, unlock or delete user accounts and user groups.
    ManageUsers,
    /// Grant `role` to a user holding `grantee_roles`.
    GrantRole {
        /// The role.
        role: Roles,
        /// Roles the grantee holds already.
        grantee_roles: Roles,
        /// Whether the "enforce separation of roles" setting is on.
        separation_enforced: bool,
    },
    /// Revoke `role` from a user.
    RevokeRole {
        /// The role.
        role: Roles,
    },
    /// Grant or revoke a system privilege (Create Endpoint, Create Endpoint Group).
    ChangePrivilege {
        /// The privilege.
        privilege: Privileges,
        /// The user ID it is granted to or revoked from.
        grantee_id: &'a str,
        /// True for a revoke.
        revoke: bool,
    },
    /// Grant or revoke Manage Endpoint / Manage Endpoint Group on one target.
    ChangeManage {
        /// Which privilege.
        target: ManageTarget,
        /// The user ID it is granted to or revoked from.
        grantee_id: &'a str,
        /// True for a revoke.
        revoke: bool,
    },
    /// Register an endpoint.
    CreateEndpoint,
    /// Enroll, re-enroll, suspend, resume, delete one endpoint, or issue its token.
    ManageEndpoint {
        /// The endpoint.
        endpoint_id: &'a str,
    },
    /// Set an endpoint's default wallet.
    SetDefaultWallet {
        /// The endpoint.
        endpoint_id: &'a str,
        /// The wallet.
        wallet_id: &'a str,
    },
    /// Create an endpoint group.
    CreateEndpointGroup,
    /// Add or remove members, change, delete one endpoint group.
    ManageEndpointGroup {
        /// The group.
        group_id: &'a str,
    },
    /// Cluster settings: separation of roles, allow-lists, lockout.
    ManageSettings,
    /// Cluster membership: add, remove nodes (SPEC 5.2: the System Administrator's).
    ManageCluster,
    /// Read and verify the audit trail.
    AuditRead,
    /// Export audit records.
    AuditExport,
    /// Delete audit records older than a date.
    AuditDelete,
    /// Ask for an operation that needs quorum approval (who may ask depends on it).
    ProposeQuorum {
        /// The role needed to ask.
        needs: Roles,
    },
    /// Approve or reject a pending quorum request.
    QuorumVote {
        /// Whether the subject is a quorum member.
        is_member: bool,
    },
    /// Node status, lists of users/endpoints/groups/wallets by name.
    ViewDirectory,
    /// Import keys from a transfer partner's file, or fetch an export file made for
    /// one (SPEC 8.3: key lifecycle is the Key Administrator's).
    TransferKeys,
}

impl Action<'_> {
    /// Short stable name for logs and the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Action::CreateObject => "object.create",
            Action::ReadObject(_) => "object.read",
            Action::UseObject(_) => "object.use",
            Action::ModifyObject(_) => "object.modify",
            Action::CreateWallet => "wallet.create",
            Action::ViewWallet { .. } => "wallet.view",
            Action::ManageWallet { .. } => "wallet.manage",
            Action::GrantWalletAccess { .. } => "wallet.grant",
            Action::ManageUsers => "user.manage",
            Action::GrantRole { .. } => "user.grant_role",
            Action::RevokeRole { .. } => "user.revoke_role",
            Action::ChangePrivilege { .. } => "user.change_privilege",
            Action::ChangeManage { .. } => "user.change_manage",
            Action::CreateEndpoint => "endpoint.create",
            Action::ManageEndpoint { .. } => "endpoint.manage",
            Action::SetDefaultWallet { .. } => "endpoint.set_default_wallet",
            Action::CreateEndpointGroup => "endpoint_group.create",
            Action::ManageEndpointGroup { .. } => "endpoint_group.manage",
            Action::ManageSettings => "settings.manage",
            Action::ManageCluster => "cluster.manage",
            Action::AuditRead => "audit.read",
            Action::AuditExport => "audit.export",
            Action::AuditDelete => "audit.delete",
            Action::ProposeQuorum { .. } => "quorum.propose",
            Action::QuorumVote { .. } => "quorum.vote",
            Action::ViewDirectory => "directory.view",
            Action::TransferKeys => "transfer.keys",
        }
    }
}

/// Why an action was refused: the rule that refused it, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

fn deny(why: impl Into<String>) -> Result<(), Denied> {
    Err(Denied(why.into()))
}

fn allow_if(ok: bool, why: impl FnOnce() -> String) -> Result<(), Denied> {
    if ok {
        Ok(())
    } else {
        Err(Denied(why()))
    }
}

/// Decides whether `subject` may perform `action`. `Ok(())` allows.
pub fn authorize(subject: &Subject, action: &Action<'_>) -> Result<(), Denied> {
    match &subject.kind {
        SubjectKind::System => Ok(()),
        SubjectKind::Endpoint(id) => authorize_endpoint(subject, id, action),
        SubjectKind::User(id) => authorize_user(subject, id, action),
    }
}

fn owns(subject: &Subject, facts: &ObjectFacts<'_>) -> bool {
    facts.owner.is_some_and(|o| subject.is_owner(o))
}

fn object_level(subject: &Subject, facts: &ObjectFacts<'_>) -> Option<AccessLevel> {
    subject.best_level(facts.wallets.iter().map(String::as_str))
}

/// Endpoints create objects and use the ones they own or reach through wallets;
/// they administer nothing.
fn authorize_endpoint(subject: &Subject, _id: &str, action: &Action<'_>) -> Result<(), Denied> {
    match action {
        Action::CreateObject => Ok(()),
        Action::ReadObject(f) | Action::UseObject(f) => allow_if(
            owns(subject, f) || object_level(subject, f).is_some(),
            || "the endpoint neither owns this object nor has access to a wallet holding it".into(),
        ),
        Action::ModifyObject(f) => allow_if(
            owns(subject, f) || object_level(subject, f) >= Some(AccessLevel::ReadModify),
            || {
                "modifying needs ownership or Read and Modify access to a wallet holding the object"
                    .into()
            },
        ),
        other => deny(format!(
            "endpoints may not perform administrative actions ({})",
            other.name()
        )),
    }
}

fn authorize_user(subject: &Subject, me: &str, action: &Action<'_>) -> Result<(), Denied> {
    let roles = subject.roles;
    let key_admin = roles.contains(Roles::KEY_ADMIN);
    let sys_admin = roles.contains(Roles::SYSTEM_ADMIN);
    let audit = roles.contains(Roles::AUDIT_MANAGER);
    match action {
        Action::CreateObject | Action::CreateWallet | Action::ViewDirectory => Ok(()),
        Action::ReadObject(f) => allow_if(
            key_admin || audit || owns(subject, f) || object_level(subject, f).is_some(),
            || {
                "reading needs ownership, access to a wallet holding the object, or the Key Administrator or Audit Manager role".into()
            },
        ),
        Action::UseObject(f) => allow_if(
            key_admin || owns(subject, f) || object_level(subject, f).is_some(),
            || {
                "using key material needs ownership, access to a wallet holding the object, or the Key Administrator role".into()
            },
        ),
        Action::ModifyObject(f) => allow_if(
            key_admin
                || owns(subject, f)
                || object_level(subject, f) >= Some(AccessLevel::ReadModify),
            || {
                "modifying needs ownership, Read and Modify access to a wallet holding the object, or the Key Administrator role".into()
            },
        ),
        Action::ViewWallet { wallet_id } => allow_if(
            key_admin || audit || subject.wallet_level(wallet_id).is_some(),
            || {
                "seeing a wallet needs access to it, or the Key Administrator or Audit Manager role"
                    .into()
            },
        ),
        Action::ManageWallet { wallet_id } => allow_if(
            key_admin || subject.wallet_level(wallet_id) == Some(AccessLevel::ManageWallet),
            || "needs Manage Wallet access to this wallet, or the Key Administrator role".into(),
        ),
        Action::GrantWalletAccess { wallet_id, level } => {
            if key_admin {
                return Ok(());
            }
            match subject.wallet_level(wallet_id) {
                Some(AccessLevel::ManageWallet) if *level <= AccessLevel::ManageWallet => Ok(()),
                Some(own) => deny(format!(
                    "granting access needs Manage Wallet on the wallet (yours is {own}); access is granted only at or below one's own level"
                )),
                None => deny("granting access needs Manage Wallet on the wallet"),
            }
        }
        Action::ManageUsers => allow_if(sys_admin, || {
            "managing users and user groups needs the System Administrator role".into()
        }),
        Action::GrantRole {
            role,
            grantee_roles,
            separation_enforced,
        } => {
            if !subject.forward_roles.contains(*role) {
                return deny(format!(
                    "granting {} needs that role held with forward grant",
                    role_name(*role)
                ));
            }
            let after = *grantee_roles | *role;
            allow_if(!*separation_enforced || after.count() <= 1, || {
                "separation of roles is enforced: a user may hold only one administrative role"
                    .into()
            })
        }
        Action::RevokeRole { role } => allow_if(subject.forward_roles.contains(*role), || {
            format!(
                "revoking {} needs that role held with forward grant",
                role_name(*role)
            )
        }),
        Action::ChangePrivilege {
            privilege,
            grantee_id,
            revoke,
        } => {
            if *revoke && *grantee_id == me {
                return deny("nobody revokes their own endpoint privileges");
            }
            if privilege.contains(Privileges::CREATE_ENDPOINT) {
                allow_if(sys_admin, || {
                    "only System Administrators grant or revoke Create Endpoint".into()
                })
            } else {
                allow_if(key_admin, || {
                    "only Key Administrators grant or revoke Create Endpoint Group".into()
                })
            }
        }
        Action::ChangeManage {
            target,
            grantee_id,
            revoke,
        } => {
            if *revoke && *grantee_id == me {
                return deny("nobody revokes their own endpoint privileges");
            }
            match target {
                ManageTarget::Endpoint => allow_if(sys_admin, || {
                    "only System Administrators grant or revoke Manage Endpoint".into()
                }),
                ManageTarget::EndpointGroup => allow_if(key_admin, || {
                    "only Key Administrators grant or revoke Manage Endpoint Group".into()
                }),
            }
        }
        Action::CreateEndpoint => allow_if(
            sys_admin || subject.privileges.contains(Privileges::CREATE_ENDPOINT),
            || {
                "registering endpoints needs the System Administrator role or the Create Endpoint privilege".into()
            },
        ),
        Action::ManageEndpoint { endpoint_id } => allow_if(
            sys_admin || subject.managed_endpoints.contains(*endpoint_id),
            || "needs Manage Endpoint on this endpoint, or the System Administrator role".into(),
        ),
        Action::SetDefaultWallet {
            endpoint_id,
            wallet_id,
        } => {
            if !(sys_admin || subject.managed_endpoints.contains(*endpoint_id)) {
                return deny(
                    "needs Manage Endpoint on this endpoint, or the System Administrator role",
                );
            }
            allow_if(
                key_admin || subject.wallet_level(wallet_id) == Some(AccessLevel::ManageWallet),
                || {
                    "setting a default wallet also needs full (Manage Wallet) access to that wallet"
                        .into()
                },
            )
        }
        Action::CreateEndpointGroup => allow_if(
            key_admin
                || subject
                    .privileges
                    .contains(Privileges::CREATE_ENDPOINT_GROUP),
            || {
                "creating endpoint groups needs the Key Administrator role or the Create Endpoint Group privilege".into()
            },
        ),
        Action::ManageEndpointGroup { group_id } => allow_if(
            key_admin || subject.managed_endpoint_groups.contains(*group_id),
            || "needs Manage Endpoint Group on this group, or the Key Administrator role".into(),
        ),
        Action::ManageSettings => allow_if(sys_admin, || {
            "changing settings needs the System Administrator role".into()
        }),
        Action::ManageCluster => allow_if(sys_admin, || {
            "changing the cluster's membership needs the System Administrator role".into()
        }),
        Action::AuditRead => allow_if(audit || sys_admin, || {
            "reading the audit trail needs the Audit Manager or System Administrator role".into()
        }),
        Action::AuditExport => {
            allow_if(audit, || "only Audit Managers export audit records".into())
        }
        Action::AuditDelete => {
            allow_if(audit, || "only Audit Managers delete audit records".into())
        }
        Action::ProposeQuorum { needs } => allow_if(roles.intersects(*needs), || {
            format!(
                "asking for this operation needs the {} role",
                role_names(*needs)
            )
        }),
        Action::QuorumVote { is_member } => allow_if(*is_member, || {
            "only quorum members approve or reject quorum requests".into()
        }),
        Action::TransferKeys => allow_if(key_admin, || {
            "importing keys from a transfer partner, or fetching an export for one, needs the Key Administrator role".into()
        }),
    }
}

fn role_name(r: Roles) -> &'static str {
    match r {
        Roles::SYSTEM_ADMIN => "System Administrator",
        Roles::KEY_ADMIN => "Key Administrator",
        Roles::AUDIT_MANAGER => "Audit Manager",
        _ => "the role",
    }
}

fn role_names(r: Roles) -> String {
    r.iter().map(role_name).collect::<Vec<_>>().join(" or ")
}
