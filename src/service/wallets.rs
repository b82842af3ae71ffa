//! Virtual wallets and their grants, user groups and endpoint groups, and the cluster
//! settings (SPEC 5.3–5.5, 5.8).

use super::authz::{ObjectOp, Settings};
use super::users::user_id;
use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::{AccessLevel, Action, AllowList, Privileges, Roles};
use crate::hlc::to_db;
use crate::keys::{new_object_id, now_millis, now_secs};
use crate::names::NameKind;
use crate::store::{GroupRecord, ManageGrant, WalletGrant, WalletRecord};

/// Longest description accepted.
const MAX_DESCRIPTION: usize = 1000;

/// Who a wallet grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GranteeKind {
    /// A user.
    User,
    /// A user group.
    UserGroup,
    /// An endpoint.
    Endpoint,
    /// An endpoint group.
    EndpointGroup,
}

impl GranteeKind {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            GranteeKind::User => "user",
            GranteeKind::UserGroup => "user_group",
            GranteeKind::Endpoint => "endpoint",
            GranteeKind::EndpointGroup => "endpoint_group",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<GranteeKind> {
        [
            GranteeKind::User,
            GranteeKind::UserGroup,
            GranteeKind::Endpoint,
            GranteeKind::EndpointGroup,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A wallet as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WalletInfo {
    /// Wallet ID.
    pub id: String,
    /// Name (case-sensitive).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The caller's own access level, if any.
    pub my_access: Option<AccessLevel>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One grant as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrantInfo {
    /// Grantee kind.
    pub grantee_kind: GranteeKind,
    /// Grantee name.
    pub grantee: String,
    /// Level.
    pub level: AccessLevel,
}

/// A group as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupInfo {
    /// Group ID.
    pub id: String,
    /// `user` or `endpoint`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Member names.
    pub members: Vec<String>,
    /// Users holding Manage Endpoint Group on it (endpoint groups).
    pub managers: Vec<String>,
}

fn check_description(d: Option<&str>) -> Result<(), ServiceError> {
    match d {
        Some(d) if d.len() > MAX_DESCRIPTION || d.chars().any(char::is_control) => {
            Err(ServiceError::InvalidArgument(format!(
                "description: at most {MAX_DESCRIPTION} bytes, no control characters"
            )))
        }
        _ => Ok(()),
    }
}

fn group_kind(kind: NameKind) -> &'static str {
    if kind == NameKind::UserGroup {
        "user"
    } else {
        "endpoint"
    }
}

impl KeyService {
    /// The wallet `name`, for `who`: to someone who could not see it anyway, a wallet
    /// that does not exist is answered like one they have no access to, so names of
    /// other people's wallets don't leak.
    pub(crate) async fn wallet_for(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<WalletRecord, ServiceError> {
        match self.load_wallet(name).await {
            Err(ServiceError::NameNotFound(m)) => {
                let subject = self.subject(who).await?;
                let sees_all = matches!(subject.kind, crate::authz::SubjectKind::System)
                    || subject
                        .roles
                        .intersects(Roles::KEY_ADMIN | Roles::AUDIT_MANAGER);
                if sees_all {
                    Err(ServiceError::NameNotFound(m))
                } else {
                    Err(ServiceError::Forbidden(format!(
                        "no access to a wallet named {name:?} (or there is none)"
                    )))
                }
            }
            other => other,
        }
    }

    pub(crate) async fn load_wallet(&self, name: &str) -> Result<WalletRecord, ServiceError> {
        NameKind::Wallet
            .check(name)
            .map_err(ServiceError::InvalidArgument)?;
        self.store.wallet_by_name(name).await?.ok_or_else(|| {
            ServiceError::NameNotFound(format!(
                "no wallet named {name:?} (wallet names are case-sensitive)"
            ))
        })
    }

    pub(crate) async fn load_group(
        &self,
        kind: NameKind,
        name: &str,
    ) -> Result<GroupRecord, ServiceError> {
        kind.check(name).map_err(ServiceError::InvalidArgument)?;
        self.store
            .group_by_name(group_kind(kind), &kind.key(name))
            .await?
            .ok_or_else(|| ServiceError::NameNotFound(format!("no {} named {name:?}", kind.noun())))
    }

    /// Runs `write` in a transaction with the audit record of `action`, then forgets
    /// cached rights. Failures are audited.
    async fn authz_write<F>(
        &self,
        who: &Principal,
        action: &str,
        object: &str,
        detail: Option<String>,
        write: F,
    ) -> Result<(), ServiceError>
    where
        F: for<'t> FnOnce(
            &'t mut crate::store::WriteTx,
            i64,
            i64,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), ServiceError>> + Send + 't>,
        >,
    {
        let now = now_secs();
        let hlc = to_db(self.hlc.now());
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        write(&mut tx, now, hlc).await?;
        let ev = self.event(who, action, Some(object), Outcome::Success, detail);
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        self.authz_changed();
        Ok(())
    }

    /// Creates a wallet; its creator gets Manage Wallet on it.
    pub async fn create_wallet(
        &self,
        who: &Principal,
        name: &str,
        description: Option<String>,
    ) -> Result<WalletInfo, ServiceError> {
        let r = async {
            NameKind::Wallet
                .check(name)
                .map_err(ServiceError::InvalidArgument)?;
            check_description(description.as_deref())?;
            self.authorize(who, &Action::CreateWallet).await?;
            let now = now_secs();
            let rec = WalletRecord {
                id: new_object_id(),
                name: name.to_owned(),
                name_key: Some(NameKind::Wallet.key(name)),
                description,
                state: "active".into(),
                created_by: user_id(who),
                created_at: now,
                updated_at: now,
                hlc: to_db(self.hlc.now()),
                origin_node: self.node.node_id.clone(),
            };
            let creator = user_id(who);
            let r2 = rec.clone();
            self.authz_write(who, "wallet.create", name, None, move |tx, now, hlc| {
                Box::pin(async move {
                    match tx.put_wallet(&r2).await {
                        Ok(_) => {}
                        Err(e) if e.is_unique_violation() => {
                            return Err(ServiceError::AlreadyExists(format!(
                                "a wallet named {:?} exists already",
                                r2.name
                            )))
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if let Some(uid) = creator {
                        tx.put_wallet_grant(
                            &WalletGrant {
                                wallet_id: r2.id.clone(),
                                grantee_kind: "user".into(),
                                grantee_id: uid.clone(),
                                level: AccessLevel::ManageWallet.to_db(),
                                granted_by: Some(uid),
                                created_at: now,
                            },
                            hlc,
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await?;
            Ok(WalletInfo {
                id: rec.id,
                name: rec.name,
                description: rec.description,
                my_access: Some(AccessLevel::ManageWallet),
                created_at: rec.created_at,
            })
        }
        .await;
        self.audit_failure(who, "wallet.create", Some(name), r)
            .await
    }

    /// Wallets the caller can see (every wallet for Key Administrators and Audit
    /// Managers).
    pub async fn list_wallets(&self, who: &Principal) -> Result<Vec<WalletInfo>, ServiceError> {
        let subject = self.subject(who).await?;
        let all = matches!(subject.kind, crate::authz::SubjectKind::System)
            || subject
                .roles
                .intersects(Roles::KEY_ADMIN | Roles::AUDIT_MANAGER);
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.store.list_wallets(1000, offset).await?;
            let n = page.len();
            for w in page {
                let mine = subject.wallet_level(&w.id);
                if all || mine.is_some() {
                    out.push(WalletInfo {
                        id: w.id,
                        name: w.name,
                        description: w.description,
                        my_access: mine,
                        created_at: w.created_at,
                    });
                }
            }
            if n < 1000 {
                break;
            }
            offset += 1000;
        }
        Ok(out)
    }

    /// One wallet with its grants and up to 1,000 object IDs.
    pub async fn get_wallet(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(WalletInfo, Vec<GrantInfo>, Vec<String>), ServiceError> {
        let w = self.wallet_for(who, name).await?;
        self.authorize(who, &Action::ViewWallet { wallet_id: &w.id })
            .await?;
        let subject = self.subject(who).await?;
        let mut grants = Vec::new();
        for g in self.store.wallet_grants(&w.id).await? {
            let (Some(kind), Some(level)) = (
                GranteeKind::parse(&g.grantee_kind),
                AccessLevel::from_db(g.level),
            ) else {
                continue;
            };
            grants.push(GrantInfo {
                grantee_kind: kind,
                grantee: self.grantee_name(kind, &g.grantee_id).await?,
                level,
            });
        }
        let objects = self.store.wallet_objects(&w.id, 1000, 0).await?;
        Ok((
            WalletInfo {
                my_access: subject.wallet_level(&w.id),
                id: w.id,
                name: w.name,
                description: w.description,
                created_at: w.created_at,
            },
            grants,
            objects,
        ))
    }

    async fn grantee_name(&self, kind: GranteeKind, id: &str) -> Result<String, ServiceError> {
        Ok(match kind {
            GranteeKind::User => self.store.user(id).await?.map(|u| u.name),
            GranteeKind::Endpoint => self.store.endpoint(id).await?.map(|e| e.name),
            GranteeKind::UserGroup | GranteeKind::EndpointGroup => {
                self.store.group(id).await?.map(|g| g.name)
            }
        }
        .unwrap_or_else(|| id.to_owned()))
    }

    async fn grantee_id(&self, kind: GranteeKind, name: &str) -> Result<String, ServiceError> {
        Ok(match kind {
            GranteeKind::User => self.load_user(name).await?.id,
            GranteeKind::Endpoint => {
                NameKind::Endpoint
                    .check(name)
                    .map_err(ServiceError::InvalidArgument)?;
                self.store
                    .endpoint_by_name(name)
                    .await?
                    .ok_or_else(|| ServiceError::EndpointNotFound(name.to_owned()))?
                    .id
            }
            GranteeKind::UserGroup => self.load_group(NameKind::UserGroup, name).await?.id,
            GranteeKind::EndpointGroup => self.load_group(NameKind::EndpointGroup, name).await?.id,
        })
    }

    /// Deletes a wallet (Manage Wallet); its objects stay, its grants go.
    pub async fn delete_wallet(&self, who: &Principal, name: &str) -> Result<(), ServiceError> {
        let r = async {
            let mut w = self.wallet_for(who, name).await?;
            self.authorize(who, &Action::ManageWallet { wallet_id: &w.id })
                .await?;
            w.state = "deleted".into();
            w.name_key = None;
            w.updated_at = now_secs();
            w.hlc = to_db(self.hlc.after(w.hlc));
            w.origin_node = self.node.node_id.clone();
            self.authz_write(who, "wallet.delete", name, None, move |tx, _, _| {
                Box::pin(async move {
                    tx.put_wallet(&w).await?;
                    Ok(())
                })
            })
            .await
        }
        .await;
        self.audit_failure(who, "wallet.delete", Some(name), r)
            .await
    }

    /// Puts an object in a wallet: needs Manage Wallet on the wallet and Read and
    /// Modify on the object.
    pub async fn add_to_wallet(
        &self,
        who: &Principal,
        name: &str,
        object_id: &str,
    ) -> Result<(), ServiceError> {
        let r = async {
            let w = self.wallet_for(who, name).await?;
            self.authorize(who, &Action::ManageWallet { wallet_id: &w.id })
                .await?;
            let obj = self.load(object_id).await?;
            self.authorize_object(who, &obj, ObjectOp::Modify).await?;
            let (wid, oid, by) = (w.id.clone(), obj.meta.id.clone(), user_id(who));
            self.authz_write(
                who,
                "wallet.add_object",
                name,
                Some(format!("object {oid}")),
                move |tx, now, hlc| {
                    Box::pin(async move {
                        tx.add_wallet_object(&wid, &oid, by.as_deref(), now, hlc)
                            .await?;
                        Ok(())
                    })
                },
            )
            .await
        }
        .await;
        self.audit_failure(who, "wallet.add_object", Some(name), r)
            .await
    }

    /// Takes an object out of a wallet (Manage Wallet).
    pub async fn remove_from_wallet(
        &self,
        who: &Principal,
        name: &str,
        object_id: &str,
    ) -> Result<(), ServiceError> {
        let r = async {
            let w = self.wallet_for(who, name).await?;
            self.authorize(who, &Action::ManageWallet { wallet_id: &w.id })
                .await?;
            let (wid, oid) = (w.id.clone(), object_id.to_owned());
            self.authz_write(
                who,
                "wallet.remove_object",
                name,
                Some(format!("object {oid}")),
                move |tx, now, hlc| {
                    Box::pin(async move {
                        if !tx.remove_wallet_object(&wid, &oid, now, hlc).await? {
                            return Err(ServiceError::NotFound(oid));
                        }
                        Ok(())
                    })
                },
            )
            .await
        }
        .await;
        self.audit_failure(who, "wallet.remove_object", Some(name), r)
            .await
    }

    /// Grants `level` on a wallet to a user, user group, endpoint or endpoint group:
    /// needs Manage Wallet, and only at or below one's own level.
    pub async fn grant_wallet(
        &self,
        who: &Principal,
        name: &str,
        kind: GranteeKind,
        grantee: &str,
        level: AccessLevel,
    ) -> Result<(), ServiceError> {
        let r = async {
            let w = self.wallet_for(who, name).await?;
            let grantee_id = self.grantee_id(kind, grantee).await?;
            self.authorize(
                who,
                &Action::GrantWalletAccess {
                    wallet_id: &w.id,
                    level,
                },
            )
            .await?;
            let g = WalletGrant {
                wallet_id: w.id.clone(),
                grantee_kind: kind.as_str().into(),
                grantee_id,
                level: level.to_db(),
                granted_by: user_id(who),
                created_at: now_secs(),
            };
            let detail = format!("{} {grantee} {level}", kind.as_str());
            self.authz_write(
                who,
                "wallet.grant",
                name,
                Some(detail),
                move |tx, _, hlc| {
                    Box::pin(async move {
                        tx.put_wallet_grant(&g, hlc).await?;
                        Ok(())
                    })
                },
            )
            .await
        }
        .await;
        self.audit_failure(who, "wallet.grant", Some(name), r).await
    }

    /// Revokes a grantee's access to a wallet (needs Manage Wallet, at or above the
    /// level being revoked).
    pub async fn revoke_wallet(
        &self,
        who: &Principal,
        name: &str,
        kind: GranteeKind,
        grantee: &str,
    ) -> Result<(), ServiceError> {
        let r = async {
            let w = self.wallet_for(who, name).await?;
            let grantee_id = self.grantee_id(kind, grantee).await?;
            let existing = self
                .store
                .wallet_grants(&w.id)
                .await?
                .into_iter()
                .find(|g| g.grantee_kind == kind.as_str() && g.grantee_id == grantee_id)
                .ok_or_else(|| {
                    ServiceError::NameNotFound(format!(
                        "{} {grantee:?} has no grant on wallet {name:?}",
                        kind.as_str()
                    ))
                })?;
            let level = AccessLevel::from_db(existing.level).unwrap_or(AccessLevel::ManageWallet);
            self.authorize(
                who,
                &Action::GrantWalletAccess {
                    wallet_id: &w.id,
                    level,
                },
            )
            .await?;
            let (wid, k) = (w.id.clone(), kind.as_str());
            self.authz_write(
                who,
                "wallet.revoke",
                name,
                Some(format!("{k} {grantee}")),
                move |tx, now, hlc| {
                    Box::pin(async move {
                        tx.remove_wallet_grant(&wid, k, &grantee_id, now, hlc)
                            .await?;
                        Ok(())
                    })
                },
            )
            .await
        }
        .await;
        self.audit_failure(who, "wallet.revoke", Some(name), r)
            .await
    }

    /// Creates a user group (System Administrators) or an endpoint group (Key
    /// Administrators or Create Endpoint Group; a creator holding that privilege
    /// gets Manage Endpoint Group on it).
    pub async fn create_group(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
        description: Option<String>,
    ) -> Result<GroupInfo, ServiceError> {
        let action = if kind == NameKind::UserGroup {
            "user_group.create"
        } else {
            "endpoint_group.create"
        };
        let r = async {
            if !matches!(kind, NameKind::UserGroup | NameKind::EndpointGroup) {
                return Err(ServiceError::InvalidArgument("kind: user or endpoint".into()));
            }
            kind.check(name).map_err(ServiceError::InvalidArgument)?;
            check_description(description.as_deref())?;
            let subject = self.subject(who).await?;
            let gets_manage = if kind == NameKind::UserGroup {
                self.decide(who, &subject, &Action::ManageUsers, Some(name)).await?;
                false
            } else {
                self.decide(who, &subject, &Action::CreateEndpointGroup, Some(name)).await?;
                subject.privileges.contains(Privileges::CREATE_ENDPOINT_GROUP)
            };
            let now = now_secs();
            let g = GroupRecord {
                id: new_object_id(),
                kind: group_kind(kind).into(),
                name: name.to_owned(),
                name_key: Some(kind.key(name)),
                description,
                state: "active".into(),
                created_by: user_id(who),
                created_at: now,
                updated_at: now,
                hlc: to_db(self.hlc.now()),
                origin_node: self.node.node_id.clone(),
            };
            let g2 = g.clone();
            let manager = user_id(who).filter(|_| gets_manage);
            let noun = kind.noun();
            self.authz_write(who, action, name, None, move |tx, now, hlc| {
                Box::pin(async move {
                    match tx.put_group(&g2).await {
                        Ok(_) => {}
                        Err(e) if e.is_unique_violation() => {
                            return Err(ServiceError::AlreadyExists(format!(
                                "a {noun} named {:?} exists already ({noun} names are case-insensitive)",
                                g2.name
                            )))
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if let Some(uid) = manager {
                        tx.put_manage_grant(
                            &ManageGrant {
                                target_kind: "endpoint_group".into(),
                                target_id: g2.id.clone(),
                                user_id: uid,
                                granted_by: None,
                                created_at: now,
                            },
                            hlc,
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await?;
            self.group_info(&g).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    async fn group_info(&self, g: &GroupRecord) -> Result<GroupInfo, ServiceError> {
        let member_kind = if g.kind == "user" {
            GranteeKind::User
        } else {
            GranteeKind::Endpoint
        };
        let mut members = Vec::new();
        for id in self.store.group_members(&g.id).await? {
            members.push(self.grantee_name(member_kind, &id).await?);
        }
        let mut managers = Vec::new();
        for id in self.store.managers_of("endpoint_group", &g.id).await? {
            managers.push(self.grantee_name(GranteeKind::User, &id).await?);
        }
        Ok(GroupInfo {
            id: g.id.clone(),
            kind: g.kind.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            members,
            managers,
        })
    }

    async fn authorize_group(
        &self,
        who: &Principal,
        kind: NameKind,
        g: &GroupRecord,
    ) -> Result<(), ServiceError> {
        if kind == NameKind::UserGroup {
            self.authorize(who, &Action::ManageUsers).await
        } else {
            self.authorize(who, &Action::ManageEndpointGroup { group_id: &g.id })
                .await
        }
    }

    /// One group with its members.
    pub async fn get_group(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
    ) -> Result<GroupInfo, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let g = self.load_group(kind, name).await?;
        self.group_info(&g).await
    }

    /// Groups of one kind.
    pub async fn list_groups(
        &self,
        who: &Principal,
        kind: NameKind,
    ) -> Result<Vec<GroupInfo>, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let mut out = Vec::new();
        for g in self.store.list_groups(group_kind(kind), 1000, 0).await? {
            out.push(self.group_info(&g).await?);
        }
        Ok(out)
    }

    /// Deletes a group; its memberships, grants and managers go with it.
    pub async fn delete_group(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
    ) -> Result<(), ServiceError> {
        let action = if kind == NameKind::UserGroup {
            "user_group.delete"
        } else {
            "endpoint_group.delete"
        };
        let r = async {
            let mut g = self.load_group(kind, name).await?;
            self.authorize_group(who, kind, &g).await?;
            g.state = "deleted".into();
            g.name_key = None;
            g.updated_at = now_secs();
            g.hlc = to_db(self.hlc.after(g.hlc));
            g.origin_node = self.node.node_id.clone();
            self.authz_write(who, action, name, None, move |tx, _, _| {
                Box::pin(async move {
                    tx.put_group(&g).await?;
                    Ok(())
                })
            })
            .await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Adds a user to a user group, or an endpoint to an endpoint group.
    pub async fn add_member(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
        member: &str,
    ) -> Result<GroupInfo, ServiceError> {
        self.change_member(who, kind, name, member, false).await
    }

    /// Removes a member.
    pub async fn remove_member(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
        member: &str,
    ) -> Result<GroupInfo, ServiceError> {
        self.change_member(who, kind, name, member, true).await
    }

    async fn change_member(
        &self,
        who: &Principal,
        kind: NameKind,
        name: &str,
        member: &str,
        remove: bool,
    ) -> Result<GroupInfo, ServiceError> {
        let action = match (kind == NameKind::UserGroup, remove) {
            (true, false) => "user_group.add_member",
            (true, true) => "user_group.remove_member",
            (false, false) => "endpoint_group.add_member",
            (false, true) => "endpoint_group.remove_member",
        };
        let r = async {
            let g = self.load_group(kind, name).await?;
            self.authorize_group(who, kind, &g).await?;
            let member_id = if kind == NameKind::UserGroup {
                self.grantee_id(GranteeKind::User, member).await?
            } else {
                self.grantee_id(GranteeKind::Endpoint, member).await?
            };
            let (gid, mid, m) = (g.id.clone(), member_id, member.to_owned());
            self.authz_write(
                who,
                action,
                name,
                Some(format!("member {member}")),
                move |tx, now, hlc| {
                    Box::pin(async move {
                        if remove {
                            if !tx.remove_member(&gid, &mid, now, hlc).await? {
                                return Err(ServiceError::NameNotFound(format!(
                                    "{m:?} is not a member"
                                )));
                            }
                        } else {
                            tx.add_member(&gid, &mid, now, hlc).await?;
                        }
                        Ok(())
                    })
                },
            )
            .await?;
            self.group_info(&g).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Changes one setting (System Administrators). Turning on separation of roles is
    /// refused while some user holds two roles (the message names them).
    pub async fn set_setting(
        &self,
        who: &Principal,
        name: &str,
        value: serde_json::Value,
    ) -> Result<Settings, ServiceError> {
        let r = async {
            self.authorize(who, &Action::ManageSettings).await?;
            let bad = |rule: &str| ServiceError::InvalidArgument(format!("{name}: {rule}"));
            match name {
                "separation_of_roles" => {
                    let on = value.as_bool().ok_or_else(|| bad("true or false"))?;
                    if on {
                        let mut holders = Vec::new();
                        let mut offset = 0;
                        loop {
                            let page = self.store.list_users(1000, offset).await?;
                            let n = page.len();
                            holders.extend(page.into_iter().filter(|u| u.roles.count_ones() > 1).map(|u| u.name));
                            if n < 1000 {
                                break;
                            }
                            offset += 1000;
                        }
                        if !holders.is_empty() {
                            return Err(ServiceError::InvalidArgument(format!(
                                "separation_of_roles: these users hold more than one role; revoke the extra roles first: {}",
                                holders.join(", ")
                            )));
                        }
                    }
                }
                "max_failed_logins" => {
                    value.as_i64().filter(|v| (1..=100).contains(v)).ok_or_else(|| bad("1 to 100"))?;
                }
                "lockout_secs" => {
                    value.as_i64().filter(|v| (1..=86_400 * 30).contains(v)).ok_or_else(|| bad("1 second to 30 days"))?;
                }
                "session_ttl_secs" => {
                    value.as_i64().filter(|v| (60..=86_400 * 7).contains(v)).ok_or_else(|| bad("60 seconds to 7 days"))?;
                }
                "admin_allowlist" | "endpoint_allowlist" => {
                    let list: Vec<String> = serde_json::from_value(value.clone())
                        .map_err(|_| bad("a list of addresses or CIDR networks, e.g. [\"10.0.0.0/8\"]"))?;
                    let parsed = AllowList::parse(&list).map_err(|e| bad(&e))?;
                    // Refuse to lock out the administrator making the change.
                    let me = who.source.as_deref().and_then(|s| {
                        s.parse::<std::net::SocketAddr>().map(|a| a.ip()).ok()
                    });
                    if name == "admin_allowlist" {
                        if let Some(ip) = me.filter(|ip| !parsed.allows(*ip)) {
                            return Err(bad(&format!(
                                "this list would refuse your own address {ip}; include it"
                            )));
                        }
                    }
                    if list.len() > 1000 {
                        return Err(bad("at most 1000 entries"));
                    }
                }
                _ => {
                    return Err(ServiceError::InvalidArgument(format!(
                        "setting: unknown {:?}; known: {}",
                        name.chars().take(64).collect::<String>(),
                        super::SETTING_NAMES.join(", ")
                    )))
                }
            }
            let (n, v) = (name.to_owned(), value.clone());
            self.authz_write(who, "settings.set", name, Some(value.to_string()), move |tx, now, hlc| {
                Box::pin(async move {
                    tx.put_setting(&n, &v, now, hlc).await?;
                    Ok(())
                })
            })
            .await?;
            self.settings().await
        }
        .await;
        self.audit_failure(who, "settings.set", Some(name), r).await
    }
}
