//! Access control in the service layer: who the caller is in terms of grants (the
//! [`Subject`], cached), the one `authorize` call every operation makes, and the
//! cluster settings access control depends on.
//!
//! The cache is invalidated by an epoch bumped on every access-control write made
//! through this service, and entries also expire after a few seconds so changes made
//! by other nodes serving the same database take effect without a restart.

use super::{KeyService, Principal, PrincipalKind, ServiceError};
use crate::audit::{ActorKind, AuditEvent, Outcome};
use crate::authz::{
    authorize, AccessLevel, Action, AllowList, ObjectFacts, Privileges, Roles, Subject, SubjectKind,
};
use crate::store::StoredObject;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a resolved subject or the settings may be reused without re-reading.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Bound on cached subjects; the cache is cleared when it is reached.
const CACHE_MAX: usize = 50_000;

/// Cluster-wide access-control settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    /// Forbid one user holding two administrative roles.
    pub separation_of_roles: bool,
    /// Wrong passwords in a row that lock an account.
    pub max_failed_logins: i64,
    /// How long a locked account stays locked, seconds.
    pub lockout_secs: i64,
    /// Lifetime of a login session, seconds.
    pub session_ttl_secs: i64,
    /// Addresses allowed to use the admin API (empty: all).
    pub admin_allowlist: Vec<String>,
    /// Addresses endpoints may connect from (empty: all).
    pub endpoint_allowlist: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            separation_of_roles: false,
            max_failed_logins: 3,
            lockout_secs: 300,
            session_ttl_secs: 8 * 3600,
            admin_allowlist: Vec::new(),
            endpoint_allowlist: Vec::new(),
        }
    }
}

/// Names of the settings as stored and in the API.
pub const SETTING_NAMES: [&str; 6] = [
    "separation_of_roles",
    "max_failed_logins",
    "lockout_secs",
    "session_ttl_secs",
    "admin_allowlist",
    "endpoint_allowlist",
];

/// What is being done to a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectOp {
    /// Read its metadata.
    Read,
    /// Read or use its material.
    Use,
    /// Change it.
    Modify,
}

struct Cached<T> {
    epoch: u64,
    at: Instant,
    value: Arc<T>,
}

/// The access-control caches of one service.
#[derive(Default)]
pub(crate) struct AuthzCache {
    epoch: AtomicU64,
    subjects: Mutex<HashMap<SubjectKind, Cached<Subject>>>,
    /// Wallets each object is in, for callers who reach objects through wallets.
    object_wallets: Mutex<HashMap<String, Cached<Vec<String>>>>,
    settings: Mutex<Option<Cached<ResolvedSettings>>>,
}

/// Settings with the allow-lists parsed.
pub(crate) struct ResolvedSettings {
    pub(crate) settings: Settings,
    pub(crate) admin: AllowList,
    pub(crate) endpoint: AllowList,
}

impl AuthzCache {
    fn fresh<T>(&self, c: &Cached<T>) -> bool {
        c.epoch == self.epoch.load(Ordering::Acquire) && c.at.elapsed() < CACHE_TTL
    }
}

impl Principal {
    /// A user, by name and ID.
    pub fn user(
        name: impl Into<String>,
        id: impl Into<String>,
        source: Option<String>,
    ) -> Principal {
        Principal {
            name: name.into(),
            source,
            kind: PrincipalKind::User(id.into()),
        }
    }

    /// The node itself, or an in-process caller trusted like it (tools, benchmarks).
    pub fn system(name: impl Into<String>) -> Principal {
        Principal {
            name: name.into(),
            source: None,
            kind: PrincipalKind::System,
        }
    }

    fn subject_kind(&self) -> SubjectKind {
        match &self.kind {
            PrincipalKind::User(id) => SubjectKind::User(id.clone()),
            PrincipalKind::Endpoint(id) => SubjectKind::Endpoint(id.clone()),
            PrincipalKind::System => SubjectKind::System,
        }
    }

    /// The actor kind recorded in the audit trail.
    pub fn actor_kind(&self) -> ActorKind {
        match self.kind {
            PrincipalKind::User(_) => ActorKind::User,
            PrincipalKind::Endpoint(_) => ActorKind::Endpoint,
            PrincipalKind::System => ActorKind::System,
        }
    }
}

impl KeyService {
    /// Forgets every cached subject and the settings: call after any access-control
    /// change commits.
    pub(crate) fn authz_changed(&self) {
        self.authz.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The caller's resolved rights.
    pub async fn subject(&self, who: &Principal) -> Result<Arc<Subject>, ServiceError> {
        let kind = who.subject_kind();
        if kind == SubjectKind::System {
            return Ok(Arc::new(Subject::system()));
        }
        if let Ok(map) = self.authz.subjects.lock() {
            if let Some(c) = map.get(&kind) {
                if self.authz.fresh(c) {
                    return Ok(c.value.clone());
                }
            }
        }
        let epoch = self.authz.epoch.load(Ordering::Acquire);
        let subject = Arc::new(self.resolve_subject(kind.clone()).await?);
        if let Ok(mut map) = self.authz.subjects.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(
                kind,
                Cached {
                    epoch,
                    at: Instant::now(),
                    value: subject.clone(),
                },
            );
        }
        Ok(subject)
    }

    async fn resolve_subject(&self, kind: SubjectKind) -> Result<Subject, ServiceError> {
        let mut s = Subject::new(kind.clone());
        match &kind {
            SubjectKind::System => return Ok(Subject::system()),
            SubjectKind::User(id) => {
                let user = self
                    .store
                    .user(id)
                    .await?
                    .filter(|u| u.state == "active")
                    .ok_or(ServiceError::Unauthenticated)?;
                s.roles = Roles::from_bits_truncate(bits(user.roles));
                s.forward_roles = Roles::from_bits_truncate(bits(user.forward_roles)) & s.roles;
                s.privileges = Privileges::from_bits_truncate(bits(user.privileges));
                for (target_kind, target_id) in self.store.manage_grants_of(id).await? {
                    match target_kind.as_str() {
                        "endpoint" => {
                            s.managed_endpoints.insert(target_id);
                        }
                        "endpoint_group" => {
                            s.managed_endpoint_groups.insert(target_id);
                        }
                        _ => {}
                    }
                }
                for (wallet, level) in self.store.user_wallet_access(id).await? {
                    if let Some(l) = AccessLevel::from_db(level) {
                        s.add_wallet_access(&wallet, l);
                    }
                }
            }
            SubjectKind::Endpoint(id) => {
                // A suspended or deleted endpoint has no rights, whatever its grants.
                let ep = self
                    .store
                    .endpoint(id)
                    .await?
                    .filter(|e| {
                        !matches!(
                            e.state,
                            crate::store::EndpointState::Suspended
                                | crate::store::EndpointState::Deleted
                        )
                    })
                    .ok_or(ServiceError::Unauthenticated)?;
                for (wallet, level) in self.store.endpoint_wallet_access(id).await? {
                    if let Some(l) = AccessLevel::from_db(level) {
                        s.add_wallet_access(&wallet, l);
                    }
                }
                // An endpoint reads and modifies what lands in its default wallet.
                if let Some(w) = ep.default_wallet {
                    s.add_wallet_access(&w, AccessLevel::ReadModify);
                }
            }
        }
        Ok(s)
    }

    /// Decides `action` for `who`; a denial is audited and returned as
    /// [`ServiceError::Forbidden`] naming the rule.
    pub async fn authorize(
        &self,
        who: &Principal,
        action: &Action<'_>,
    ) -> Result<(), ServiceError> {
        let subject = self.subject(who).await?;
        self.decide(who, &subject, action, None).await
    }

    /// [`KeyService::authorize`] with the subject already resolved, naming `object` in
    /// the audit record of a denial.
    pub(crate) async fn decide(
        &self,
        who: &Principal,
        subject: &Subject,
        action: &Action<'_>,
        object: Option<&str>,
    ) -> Result<(), ServiceError> {
        match authorize(subject, action) {
            Ok(()) => Ok(()),
            Err(denied) => {
                self.record(
                    who,
                    action.name(),
                    object,
                    Outcome::Denied,
                    Some(denied.0.clone()),
                )
                .await;
                Err(ServiceError::Forbidden(denied.0))
            }
        }
    }

    /// Authorizes an action on a stored object, gathering the facts it depends on.
    pub(crate) async fn authorize_object(
        &self,
        who: &Principal,
        obj: &StoredObject,
        op: ObjectOp,
    ) -> Result<(), ServiceError> {
        let subject = self.subject(who).await?;
        if matches!(subject.kind, SubjectKind::System) {
            return Ok(());
        }
        let action = |wallets| {
            let facts = ObjectFacts {
                owner: obj.owner.as_deref(),
                wallets,
            };
            match op {
                ObjectOp::Read => Action::ReadObject(facts),
                ObjectOp::Use => Action::UseObject(facts),
                ObjectOp::Modify => Action::ModifyObject(facts),
            }
        };
        // Owners and administrators are allowed without looking at wallets: that saves
        // a query on the common path. Anyone else is decided on the object's wallets.
        if authorize(&subject, &action(&[])).is_ok() {
            return Ok(());
        }
        let wallets = self.object_wallets(&obj.meta.id).await?;
        self.decide(who, &subject, &action(&wallets), Some(&obj.meta.id))
            .await
    }

    /// The IDs of the wallets an object is in, cached like subjects: wallet contents
    /// change only through access-control writes, which bump the epoch.
    async fn object_wallets(&self, id: &str) -> Result<Arc<Vec<String>>, ServiceError> {
        if let Ok(map) = self.authz.object_wallets.lock() {
            if let Some(c) = map.get(id) {
                if self.authz.fresh(c) {
                    return Ok(c.value.clone());
                }
            }
        }
        let epoch = self.authz.epoch.load(Ordering::Acquire);
        let wallets = Arc::new(self.store.wallets_of_object(id).await?);
        if let Ok(mut map) = self.authz.object_wallets.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(
                id.to_owned(),
                Cached {
                    epoch,
                    at: Instant::now(),
                    value: wallets.clone(),
                },
            );
        }
        Ok(wallets)
    }

    /// An audit event for `who`.
    pub(crate) fn event(
        &self,
        who: &Principal,
        action: &str,
        object: Option<&str>,
        outcome: Outcome,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            actor: who.name.clone(),
            actor_kind: who.actor_kind(),
            action: action.to_owned(),
            object: object.map(str::to_owned),
            source: who.source.clone(),
            outcome,
            detail,
        }
    }

    /// Records an event that changes nothing else (a read, a denial, a login) in its
    /// own transaction. A failure to record is logged; the caller's answer stands.
    pub(crate) async fn record(
        &self,
        who: &Principal,
        action: &str,
        object: Option<&str>,
        outcome: Outcome,
        detail: Option<String>,
    ) {
        let ev = self.event(who, action, object, outcome, detail);
        let (action, actor) = (ev.action.clone(), ev.actor.clone());
        if let Err(e) = self
            .audit_writer
            .append(ev, crate::keys::now_millis())
            .await
        {
            tracing::error!(error = %e, action = %action, actor = %actor, "could not write an audit record");
        }
    }

    /// Records the outcome of a read-only operation and passes its result through.
    /// Denials were recorded when they happened.
    pub(crate) async fn audit_read<T>(
        &self,
        who: &Principal,
        action: &str,
        object: Option<&str>,
        r: Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        match &r {
            Ok(_) => {
                self.record(who, action, object, Outcome::Success, None)
                    .await
            }
            Err(ServiceError::Forbidden(_)) => {}
            Err(e) => {
                self.record(who, action, object, Outcome::Failed, Some(e.to_string()))
                    .await
            }
        }
        r
    }

    /// Records the failure of a state-changing operation (its success is recorded in
    /// the transaction of the change) and passes the result through.
    pub(crate) async fn audit_failure<T>(
        &self,
        who: &Principal,
        action: &str,
        object: Option<&str>,
        r: Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        match &r {
            Ok(_) | Err(ServiceError::Forbidden(_)) => {}
            Err(e) => {
                self.record(who, action, object, Outcome::Failed, Some(e.to_string()))
                    .await
            }
        }
        r
    }

    /// Records an action of the node itself (start, maintenance).
    pub async fn record_system(&self, action: &str, object: Option<&str>, detail: Option<String>) {
        self.record(
            &Principal::system("system"),
            action,
            object,
            Outcome::Success,
            detail,
        )
        .await
    }

    /// The current settings.
    pub async fn settings(&self) -> Result<Settings, ServiceError> {
        Ok(self.resolved_settings().await?.settings.clone())
    }

    pub(crate) async fn resolved_settings(&self) -> Result<Arc<ResolvedSettings>, ServiceError> {
        if let Ok(guard) = self.authz.settings.lock() {
            if let Some(c) = guard.as_ref() {
                if self.authz.fresh(c) {
                    return Ok(c.value.clone());
                }
            }
        }
        let epoch = self.authz.epoch.load(Ordering::Acquire);
        let mut s = Settings::default();
        let st = &self.store;
        if let Some(v) = st.setting("separation_of_roles").await? {
            s.separation_of_roles = v.as_bool().unwrap_or(false);
        }
        for (name, slot) in [
            ("max_failed_logins", &mut s.max_failed_logins),
            ("lockout_secs", &mut s.lockout_secs),
            ("session_ttl_secs", &mut s.session_ttl_secs),
        ] {
            if let Some(v) = st.setting(name).await?.and_then(|v| v.as_i64()) {
                *slot = v;
            }
        }
        for (name, slot) in [
            ("admin_allowlist", &mut s.admin_allowlist),
            ("endpoint_allowlist", &mut s.endpoint_allowlist),
        ] {
            if let Some(v) = st.setting(name).await? {
                *slot = serde_json::from_value(v).unwrap_or_default();
            }
        }
        let resolved = Arc::new(ResolvedSettings {
            admin: AllowList::parse(&s.admin_allowlist).unwrap_or_default(),
            endpoint: AllowList::parse(&s.endpoint_allowlist).unwrap_or_default(),
            settings: s,
        });
        if let Ok(mut guard) = self.authz.settings.lock() {
            *guard = Some(Cached {
                epoch,
                at: Instant::now(),
                value: resolved.clone(),
            });
        }
        Ok(resolved)
    }

    /// Refuses an admin API request from an address outside the admin allow-list.
    pub async fn check_admin_address(&self, ip: IpAddr) -> Result<(), ServiceError> {
        if self.resolved_settings().await?.admin.allows(ip) {
            Ok(())
        } else {
            Err(ServiceError::AddressNotAllowed(ip.to_string()))
        }
    }

    /// Refuses an endpoint connection from an address outside the endpoint allow-list.
    pub async fn check_endpoint_address(&self, ip: IpAddr) -> Result<(), ServiceError> {
        if self.resolved_settings().await?.endpoint.allows(ip) {
            Ok(())
        } else {
            Err(ServiceError::AddressNotAllowed(ip.to_string()))
        }
    }
}

fn bits(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}
