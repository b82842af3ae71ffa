//! User accounts (SPEC 5.1–5.3): creation and deletion, passwords with lockout, login
//! sessions, client-certificate login, roles with forward grant, and the endpoint
//! privileges.

use super::auth::{new_token, token_hash};
use super::{KeyService, Principal, PrincipalKind, ServiceError};
use crate::audit::Outcome;
use crate::authz::{Action, ManageTarget, Privileges, Roles};
use crate::hlc::to_db;
use crate::keys::{new_object_id, now_millis, now_secs};
use crate::names::NameKind;
use crate::store::{ManageGrant, StoreError, UserRecord};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted (Argon2 input; bounds the work a request can cause).
pub const MAX_PASSWORD_LEN: usize = 1024;
const MAX_RETRIES: usize = 5;

/// What the API shows of a user. No password hash, ever.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// User ID.
    pub id: String,
    /// Name as given.
    pub name: String,
    /// Roles held.
    pub roles: Vec<&'static str>,
    /// Roles held with forward grant.
    pub forward_roles: Vec<&'static str>,
    /// System privileges.
    pub privileges: Vec<&'static str>,
    /// Endpoints this user holds Manage Endpoint on, by name.
    pub managed_endpoints: Vec<String>,
    /// Endpoint groups this user holds Manage Endpoint Group on, by name.
    pub managed_endpoint_groups: Vec<String>,
    /// Whether password login is set up.
    pub has_password: bool,
    /// Whether certificate login is set up.
    pub has_certificate: bool,
    /// Locked until (Unix seconds), if locked now.
    pub locked_until: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A login session: the bearer token (shown once) and when it expires.
pub struct Session {
    /// `clv1_...` bearer token.
    pub token: SecretString,
    /// Unix seconds.
    pub expires_at: i64,
    /// The user logged in.
    pub user: String,
}

/// Checks a new password's length; the message names the rule.
pub fn check_password(p: &SecretString) -> Result<(), ServiceError> {
    let n = p.expose_secret().chars().count();
    if n < MIN_PASSWORD_LEN || p.expose_secret().len() > MAX_PASSWORD_LEN {
        return Err(ServiceError::InvalidArgument(format!(
            "password: {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// Argon2id PHC string of a password, computed off the async workers.
pub async fn hash_password(p: &SecretString) -> Result<String, ServiceError> {
    let p = SecretString::from(p.expose_secret().to_owned());
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(p.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Crypto(format!("Argon2id: {e}")))
    })
    .await
    .map_err(|_| ServiceError::Crypto("password hashing task failed".into()))?
}

/// Whether `p` matches the PHC string (constant-time inside argon2), off the workers.
pub async fn verify_password(phc: &str, p: &SecretString) -> bool {
    let phc = phc.to_owned();
    let p = SecretString::from(p.expose_secret().to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(p.expose_secret().as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

fn fmt_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

impl KeyService {
    pub(crate) async fn load_user(&self, name: &str) -> Result<UserRecord, ServiceError> {
        NameKind::User
            .check(name)
            .map_err(ServiceError::InvalidArgument)?;
        self.store
            .user_by_name(name)
            .await?
            .ok_or_else(|| ServiceError::NameNotFound(format!("no user named {name:?}")))
    }

    async fn user_info(&self, u: &UserRecord) -> Result<UserInfo, ServiceError> {
        let roles = Roles::from_bits_truncate(u32::try_from(u.roles).unwrap_or(0));
        let forward = Roles::from_bits_truncate(u32::try_from(u.forward_roles).unwrap_or(0));
        let privileges = Privileges::from_bits_truncate(u32::try_from(u.privileges).unwrap_or(0));
        // Names, as grant-manage and revoke-manage take them.
        let mut managed_endpoints = Vec::new();
        let mut managed_endpoint_groups = Vec::new();
        for (kind, id) in self.store.manage_grants_of(&u.id).await? {
            if kind == "endpoint" {
                if let Some(e) = self.store.endpoint(&id).await? {
                    managed_endpoints.push(e.name);
                }
            } else if let Some(g) = self.store.group(&id).await? {
                managed_endpoint_groups.push(g.name);
            }
        }
        Ok(UserInfo {
            id: u.id.clone(),
            name: u.name.clone(),
            roles: roles.names(),
            forward_roles: (forward & roles).names(),
            privileges: privileges.names(),
            managed_endpoints,
            managed_endpoint_groups,
            has_password: u.password_phc.is_some(),
            has_certificate: u.cert_fingerprint.is_some(),
            locked_until: u.locked_until.filter(|t| *t > now_secs()),
            created_at: u.created_at,
        })
    }

    /// Writes a new user row with its audit record.
    pub(crate) async fn insert_user_audited(
        &self,
        who: &Principal,
        rec: &UserRecord,
        action: &str,
        detail: Option<String>,
    ) -> Result<(), ServiceError> {
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        match tx.insert_user(rec).await {
            Ok(_) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(ServiceError::AlreadyExists(format!(
                    "a user named {:?} exists already (user names are case-insensitive)",
                    rec.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let ev = self.event(who, action, Some(&rec.name), Outcome::Success, detail);
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        self.authz_changed();
        Ok(())
    }

    /// A fresh user row.
    pub(crate) fn new_user_record(
        &self,
        name: &str,
        phc: Option<String>,
        created_by: Option<String>,
    ) -> UserRecord {
        let now = now_secs();
        UserRecord {
            id: new_object_id(),
            name: name.to_owned(),
            name_key: Some(NameKind::User.key(name)),
            password_phc: phc,
            cert_fingerprint: None,
            roles: 0,
            forward_roles: 0,
            privileges: 0,
            state: "active".into(),
            failed_logins: 0,
            locked_until: None,
            created_by,
            created_at: now,
            updated_at: now,
            hlc: to_db(self.hlc.now()),
            origin_node: self.node.node_id.clone(),
        }
    }

    /// Creates a user (System Administrators only), with a password or without one
    /// (then the user logs in with a certificate set up later).
    pub async fn create_user(
        &self,
        who: &Principal,
        name: &str,
        password: Option<SecretString>,
    ) -> Result<UserInfo, ServiceError> {
        let r = async {
            NameKind::User
                .check(name)
                .map_err(ServiceError::InvalidArgument)?;
            self.authorize(who, &Action::ManageUsers).await?;
            let phc = match &password {
                Some(p) => {
                    check_password(p)?;
                    Some(hash_password(p).await?)
                }
                None => None,
            };
            let rec = self.new_user_record(name, phc, user_id(who));
            self.insert_user_audited(who, &rec, "user.create", None)
                .await?;
            self.user_info(&rec).await
        }
        .await;
        self.audit_failure(who, "user.create", Some(name), r).await
    }

    /// One user.
    pub async fn get_user(&self, who: &Principal, name: &str) -> Result<UserInfo, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        let u = self.load_user(name).await?;
        self.user_info(&u).await
    }

    /// Live users, by name.
    pub async fn list_users(
        &self,
        who: &Principal,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<UserInfo>, ServiceError> {
        self.authorize(who, &Action::ViewDirectory).await?;
        if !(1..=1000).contains(&limit) || offset < 0 {
            return Err(ServiceError::InvalidArgument(
                "limit: 1 to 1000; offset: not negative".into(),
            ));
        }
        let mut out = Vec::new();
        for u in self.store.list_users(limit, offset).await? {
            out.push(self.user_info(&u).await?);
        }
        Ok(out)
    }

    /// Reads user `name`, applies `change`, writes it back with its audit record if
    /// nobody changed it meanwhile (else retries).
    pub(crate) async fn modify_user(
        &self,
        who: &Principal,
        name: &str,
        action: &str,
        detail: Option<String>,
        change: impl Fn(&mut UserRecord) -> Result<(), ServiceError>,
    ) -> Result<UserRecord, ServiceError> {
        self.modify_user_recording(who, name, action, Outcome::Success, detail, change)
            .await
    }

    /// [`KeyService::modify_user`], recording `outcome` (a wrong password changes the
    /// failure count, but the login failed).
    async fn modify_user_recording(
        &self,
        who: &Principal,
        name: &str,
        action: &str,
        outcome: Outcome,
        detail: Option<String>,
        change: impl Fn(&mut UserRecord) -> Result<(), ServiceError>,
    ) -> Result<UserRecord, ServiceError> {
        for _ in 0..MAX_RETRIES {
            let mut rec = self.load_user(name).await?;
            let expected = rec.hlc;
            change(&mut rec)?;
            rec.updated_at = now_secs();
            rec.hlc = to_db(self.hlc.after(expected));
            rec.origin_node = self.node.node_id.clone();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            match tx.update_user(&rec, expected).await {
                Ok(_) => {
                    if rec.state == "deleted" {
                        tx.forget_principal(&rec.id, rec.updated_at, rec.hlc)
                            .await?;
                        tx.delete_tokens_of(&rec.id, rec.updated_at, rec.hlc)
                            .await?;
                    }
                    let ev = self.event(who, action, Some(&rec.name), outcome, detail.clone());
                    tx.append_audit(&ev, now_millis()).await?;
                    tx.commit().await?;
                    self.authz_changed();
                    return Ok(rec);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(name.to_owned()))
    }

    /// Deletes a user: their sessions, grants and memberships go with them. Objects
    /// they own stay (Key Administrators still reach them).
    pub async fn delete_user(&self, who: &Principal, name: &str) -> Result<(), ServiceError> {
        let r = async {
            self.authorize(who, &Action::ManageUsers).await?;
            let me = user_id(who);
            self.modify_user(who, name, "user.delete", None, |u| {
                if me.as_deref() == Some(u.id.as_str()) {
                    return Err(ServiceError::InvalidArgument(
                        "name: you cannot delete your own account".into(),
                    ));
                }
                u.state = "deleted".into();
                u.name_key = None;
                u.cert_fingerprint = None;
                u.password_phc = None;
                Ok(())
            })
            .await
            .map(|_| ())
        }
        .await;
        self.audit_failure(who, "user.delete", Some(name), r).await
    }

    /// Sets a password: one's own (the current password is needed), or anyone's as a
    /// System Administrator.
    pub async fn set_password(
        &self,
        who: &Principal,
        name: &str,
        current: Option<SecretString>,
        new: SecretString,
    ) -> Result<(), ServiceError> {
        let r = async {
            check_password(&new)?;
            let target = self.load_user(name).await?;
            let own = user_id(who).as_deref() == Some(target.id.as_str());
            if own {
                let ok = match (&target.password_phc, &current) {
                    (Some(phc), Some(c)) => verify_password(phc, c).await,
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if let Some(until) = target.locked_until.filter(|t| *t > now_secs()) {
                    return Err(ServiceError::AccountLocked(fmt_time(until)));
                }
                if !ok {
                    // A stolen session must not become an online password oracle.
                    self.count_wrong_password(who, &target.name).await;
                    return Err(ServiceError::BadCredentials);
                }
            } else {
                self.authorize(who, &Action::ManageUsers).await?;
            }
            let phc = hash_password(&new).await?;
            self.modify_user(who, name, "user.set_password", None, |u| {
                u.password_phc = Some(phc.clone());
                u.failed_logins = 0;
                u.locked_until = None;
                Ok(())
            })
            .await
            .map(|_| ())
        }
        .await;
        self.audit_failure(who, "user.set_password", Some(name), r)
            .await
    }

    /// Lifts a lockout (System Administrators).
    pub async fn unlock_user(&self, who: &Principal, name: &str) -> Result<UserInfo, ServiceError> {
        let r = async {
            self.authorize(who, &Action::ManageUsers).await?;
            let u = self
                .modify_user(who, name, "user.unlock", None, |u| {
                    u.failed_logins = 0;
                    u.locked_until = None;
                    Ok(())
                })
                .await?;
            self.user_info(&u).await
        }
        .await;
        self.audit_failure(who, "user.unlock", Some(name), r).await
    }

    /// Counts a wrong password for `name`; the one that reaches `max_failed_logins`
    /// locks the account for `lockout_secs`. Recorded in the audit trail.
    async fn count_wrong_password(&self, who: &Principal, name: &str) {
        let Ok(settings) = self.settings().await else {
            return;
        };
        let max = settings.max_failed_logins.max(1);
        let lock = settings.lockout_secs.max(1);
        let updated = self
            .modify_user_recording(
                who,
                name,
                "user.login",
                Outcome::Failed,
                Some("wrong password".into()),
                |u| {
                    let t = now_secs();
                    // A lock that has run out starts a fresh count.
                    if u.locked_until.is_some_and(|l| l <= t) {
                        u.locked_until = None;
                        u.failed_logins = 0;
                    }
                    u.failed_logins += 1;
                    if u.failed_logins >= max {
                        u.locked_until = Some(t + lock);
                        u.failed_logins = 0;
                    }
                    Ok(())
                },
            )
            .await;
        match updated {
            Ok(u) => {
                if let Some(until) = u.locked_until {
                    tracing::warn!(user = %u.name, until, "account locked after repeated wrong passwords");
                }
            }
            Err(e) => tracing::error!(user = %name, error = %e, "could not count a wrong password"),
        }
    }

    /// Password login. After `max_failed_logins` wrong passwords in a row the account
    /// is locked for `lockout_secs`, during which even the right password is refused.
    pub async fn login(
        &self,
        name: &str,
        password: &SecretString,
        source: Option<String>,
    ) -> Result<Session, ServiceError> {
        let anon = Principal {
            name: name.chars().take(120).collect(),
            source: source.clone(),
            kind: PrincipalKind::System,
        };
        let settings = self.settings().await?;
        let user = match NameKind::User.check(name) {
            Ok(()) => self.store.user_by_name(name).await?,
            Err(_) => None,
        };
        let Some(user) = user.filter(|u| u.password_phc.is_some()) else {
            // Spend the same work as a real check, so timing does not reveal which
            // names exist.
            let _ = verify_password(DUMMY_PHC, password).await;
            self.record(
                &anon,
                "user.login",
                Some(&anon.name),
                Outcome::Failed,
                Some("unknown user or no password login".into()),
            )
            .await;
            return Err(ServiceError::BadCredentials);
        };
        let who = Principal::user(user.name.clone(), user.id.clone(), source);
        let now = now_secs();
        if let Some(until) = user.locked_until.filter(|t| *t > now) {
            self.record(
                &who,
                "user.login",
                Some(&user.name),
                Outcome::Denied,
                Some("account locked".into()),
            )
            .await;
            return Err(ServiceError::AccountLocked(fmt_time(until)));
        }
        let phc = user.password_phc.clone().unwrap_or_default();
        if !verify_password(&phc, password).await {
            self.count_wrong_password(&who, &user.name).await;
            return Err(ServiceError::BadCredentials);
        }
        let (token, hash) = new_token(&self.rot.random(32)?);
        let expires_at = now + settings.session_ttl_secs.max(60);
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        tx.insert_session(
            &new_object_id(),
            &user.id,
            &hash,
            now,
            expires_at,
            to_db(self.hlc.now()),
        )
        .await?;
        if user.failed_logins != 0 {
            let mut u = user.clone();
            u.failed_logins = 0;
            u.updated_at = now;
            u.hlc = to_db(self.hlc.after(user.hlc));
            tx.update_user(&u, user.hlc).await?;
        }
        let ev = self.event(&who, "user.login", Some(&user.name), Outcome::Success, None);
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(Session {
            token: SecretString::from(token),
            expires_at,
            user: user.name,
        })
    }

    /// Ends the session of `token` (a no-op for unknown tokens).
    pub async fn logout(&self, who: &Principal, token: &str) -> Result<(), ServiceError> {
        let mut tx = self.store.begin_write(&self.node.node_id).await?;
        tx.delete_token(&token_hash(token), now_secs(), to_db(self.hlc.now()))
            .await?;
        let ev = self.event(who, "user.logout", Some(&who.name), Outcome::Success, None);
        tx.append_audit(&ev, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants a role, optionally with forward grant (SPEC 5.2).
    pub async fn grant_role(
        &self,
        who: &Principal,
        name: &str,
        role: Roles,
        forward: bool,
    ) -> Result<UserInfo, ServiceError> {
        let action = "user.grant_role";
        let r = async {
            let target = self.load_user(name).await?;
            let separation = self.settings().await?.separation_of_roles;
            self.authorize(
                who,
                &Action::GrantRole {
                    role,
                    grantee_roles: Roles::from_bits_truncate(u32::try_from(target.roles).unwrap_or(0)),
                    separation_enforced: separation,
                },
            )
            .await?;
            let bits = i64::from(role.bits());
            let detail = format!("{}{}", role.names().join(","), if forward { " with forward grant" } else { "" });
            let u = self
                .modify_user(who, name, action, Some(detail), |u| {
                    if separation && (u.roles & !bits) != 0 {
                        return Err(ServiceError::Forbidden(
                            "separation of roles is enforced: a user may hold only one administrative role".into(),
                        ));
                    }
                    u.roles |= bits;
                    if forward {
                        u.forward_roles |= bits;
                    } else {
                        u.forward_roles &= !bits;
                    }
                    Ok(())
                })
                .await?;
            self.user_info(&u).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Revokes a role (and its forward grant).
    pub async fn revoke_role(
        &self,
        who: &Principal,
        name: &str,
        role: Roles,
    ) -> Result<UserInfo, ServiceError> {
        let action = "user.revoke_role";
        let r = async {
            self.authorize(who, &Action::RevokeRole { role }).await?;
            let bits = i64::from(role.bits());
            let u = self
                .modify_user(who, name, action, Some(role.names().join(",")), |u| {
                    u.roles &= !bits;
                    u.forward_roles &= !bits;
                    Ok(())
                })
                .await?;
            self.user_info(&u).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Grants or revokes Create Endpoint / Create Endpoint Group (SPEC 5.3).
    pub async fn change_privilege(
        &self,
        who: &Principal,
        name: &str,
        privilege: Privileges,
        revoke: bool,
    ) -> Result<UserInfo, ServiceError> {
        let action = if revoke {
            "user.revoke_privilege"
        } else {
            "user.grant_privilege"
        };
        let r = async {
            let target = self.load_user(name).await?;
            self.authorize(
                who,
                &Action::ChangePrivilege {
                    privilege,
                    grantee_id: &target.id,
                    revoke,
                },
            )
            .await?;
            let bits = i64::from(privilege.bits());
            let u = self
                .modify_user(who, name, action, Some(privilege.names().join(",")), |u| {
                    if revoke {
                        u.privileges &= !bits;
                    } else {
                        u.privileges |= bits;
                    }
                    Ok(())
                })
                .await?;
            self.user_info(&u).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Grants or revokes Manage Endpoint / Manage Endpoint Group on one target.
    pub async fn change_manage(
        &self,
        who: &Principal,
        name: &str,
        target: ManageTarget,
        target_name: &str,
        revoke: bool,
    ) -> Result<UserInfo, ServiceError> {
        let action = if revoke {
            "user.revoke_manage"
        } else {
            "user.grant_manage"
        };
        let r = async {
            let user = self.load_user(name).await?;
            let (kind, target_id) = match target {
                ManageTarget::Endpoint => {
                    NameKind::Endpoint
                        .check(target_name)
                        .map_err(ServiceError::InvalidArgument)?;
                    let e = self
                        .store
                        .endpoint_by_name(target_name)
                        .await?
                        .ok_or_else(|| ServiceError::EndpointNotFound(target_name.to_owned()))?;
                    ("endpoint", e.id)
                }
                ManageTarget::EndpointGroup => {
                    let g = self
                        .load_group(NameKind::EndpointGroup, target_name)
                        .await?;
                    ("endpoint_group", g.id)
                }
            };
            self.authorize(
                who,
                &Action::ChangeManage {
                    target,
                    grantee_id: &user.id,
                    revoke,
                },
            )
            .await?;
            let now = now_secs();
            let hlc = to_db(self.hlc.now());
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            if revoke {
                if !tx
                    .remove_manage_grant(kind, &target_id, &user.id, now, hlc)
                    .await?
                {
                    return Err(ServiceError::NameNotFound(format!(
                        "user {name:?} does not hold Manage on {target_name:?}"
                    )));
                }
            } else {
                tx.put_manage_grant(
                    &ManageGrant {
                        target_kind: kind.into(),
                        target_id: target_id.clone(),
                        user_id: user.id.clone(),
                        granted_by: user_id(who),
                        created_at: now,
                    },
                    hlc,
                )
                .await?;
            }
            let ev = self.event(
                who,
                action,
                Some(&user.name),
                Outcome::Success,
                Some(format!("{kind} {target_name}")),
            );
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            self.authz_changed();
            self.user_info(&user).await
        }
        .await;
        self.audit_failure(who, action, Some(name), r).await
    }

    /// Issues a client certificate for user `name` over the CSR's key (the private key
    /// stays with the user) and makes it the one certificate the user logs in with:
    /// one's own, or anyone's as a System Administrator. Returns (certificate, CA) PEM.
    pub async fn issue_user_certificate(
        &self,
        who: &Principal,
        name: &str,
        csr_pem: &str,
    ) -> Result<(String, String), ServiceError> {
        let r = async {
            let target = self.load_user(name).await?;
            if user_id(who).as_deref() != Some(target.id.as_str()) {
                self.authorize(who, &Action::ManageUsers).await?;
            }
            let csr = super::endpoints::verify_csr(csr_pem)?;
            let ca = self
                .store
                .credential(crate::node::CA_CREDENTIAL_ID)
                .await?
                .ok_or_else(|| {
                    ServiceError::Certificate("the cluster CA is missing from the database".into())
                })?;
            let mut serial = self.rot.random(16)?.expose_secret().to_vec();
            serial[0] = (serial[0] & 0x7f) | 0x40;
            let ca_key = self.rot.unwrap(
                &crate::rot::WrappedKey::from_bytes(&ca.wrapped_key)?,
                crate::node::CA_CREDENTIAL_ID,
            )?;
            // CN "user:<name>" so a user certificate never reads as an endpoint's.
            let cert = super::endpoints::issue_endpoint_cert(
                &ca.cert_pem,
                &ca_key,
                &format!("user:{}", target.name),
                &csr,
                &serial,
            )?;
            drop(ca_key);
            let fp = cert.fingerprint.clone();
            self.modify_user(
                who,
                name,
                "user.set_certificate",
                Some(format!("serial {}", hex::encode(&serial))),
                |u| {
                    u.cert_fingerprint = Some(fp.clone());
                    Ok(())
                },
            )
            .await?;
            Ok((cert.pem, ca.cert_pem))
        }
        .await;
        self.audit_failure(who, "user.set_certificate", Some(name), r)
            .await
    }
}

/// The user ID of a user principal.
pub(crate) fn user_id(who: &Principal) -> Option<String> {
    match &who.kind {
        PrincipalKind::User(id) => Some(id.clone()),
        _ => None,
    }
}

/// A valid Argon2id hash of a random string nobody knows, checked against when the
/// user does not exist so that the answer takes as long either way.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3lZ1vLJ9G2v4UX0bkqkFfSgO6bMyM5tJ2EfX9TfHh0c";
