//! The recovery passphrase (SPEC 5.7): set at `clavisd init`, stored only as an
//! Argon2id hash. It recreates the three administrators when none is left, and it can
//! be changed (old backups keep needing the passphrase they were made with).

use super::users::{check_password, hash_password, verify_password};
use super::{KeyService, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::{Action, Roles};
use crate::hlc::to_db;
use crate::keys::{now_millis, now_secs};
use crate::names::NameKind;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shortest recovery passphrase accepted when changing it.
pub const MIN_PASSPHRASE_LEN: usize = 16;
/// Wrong passphrases tolerated per window before recovery pauses.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(600);

/// Wrong-passphrase attempts on this node, to slow guessing beyond Argon2's cost.
#[derive(Default)]
pub(crate) struct RecoveryThrottle(Mutex<Option<(Instant, u32)>>);

/// One administrator to recreate.
pub struct NewAdministrator {
    /// User name (created if missing).
    pub name: String,
    /// Their password.
    pub password: SecretString,
    /// The role they get, with forward grant.
    pub role: Roles,
}

impl KeyService {
    fn throttled(&self) -> bool {
        let Ok(g) = self.recovery_throttle.0.lock() else {
            return true;
        };
        matches!(*g, Some((since, n)) if n >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW)
    }

    fn note_failure(&self) {
        if let Ok(mut g) = self.recovery_throttle.0.lock() {
            *g = match *g {
                Some((since, n)) if since.elapsed() < FAILURE_WINDOW => Some((since, n + 1)),
                _ => Some((Instant::now(), 1)),
            };
        }
    }

    /// Checks the recovery passphrase; wrong ones are audited and throttled.
    pub(crate) async fn check_recovery(
        &self,
        who: &Principal,
        action: &str,
        p: &SecretString,
    ) -> Result<(), ServiceError> {
        if self.throttled() {
            self.record(
                who,
                action,
                None,
                Outcome::Denied,
                Some("too many wrong recovery passphrases".into()),
            )
            .await;
            return Err(ServiceError::Forbidden(
                "too many wrong recovery passphrases; wait 10 minutes".into(),
            ));
        }
        let phc = self.store.recovery_hash().await?.unwrap_or_default();
        if !verify_password(&phc, p).await {
            self.note_failure();
            self.record(
                who,
                action,
                None,
                Outcome::Denied,
                Some("wrong recovery passphrase".into()),
            )
            .await;
            return Err(ServiceError::WrongRecoveryPassphrase);
        }
        Ok(())
    }

    /// Recreates the three administrators (System Administrator, Key Administrator,
    /// Audit Manager, each with forward grant) when no user holds any administrative
    /// role. Needs the recovery passphrase; no login.
    pub async fn recover_administrators(
        &self,
        passphrase: &SecretString,
        admins: Vec<NewAdministrator>,
        source: Option<String>,
    ) -> Result<Vec<String>, ServiceError> {
        let who = Principal {
            name: "recovery".into(),
            source,
            kind: super::PrincipalKind::System,
        };
        let action = "recovery.administrators";
        self.check_recovery(&who, action, passphrase).await?;
        let r = async {
            let covered = admins.iter().fold(Roles::empty(), |acc, a| acc | a.role);
            if covered != Roles::all() || admins.iter().any(|a| a.role.count() != 1) {
                return Err(ServiceError::InvalidArgument(
                    "administrators: one each for system_admin, key_admin and audit_manager".into(),
                ));
            }
            for a in &admins {
                NameKind::User.check(&a.name).map_err(ServiceError::InvalidArgument)?;
                check_password(&a.password)?;
            }
            if self.store.count_users_with_roles(i64::from(Roles::all().bits())).await? > 0 {
                return Err(ServiceError::Forbidden(
                    "administrators exist; recovery recreates them only when none is left".into(),
                ));
            }
            let mut names = Vec::new();
            for a in &admins {
                let phc = hash_password(&a.password).await?;
                let bits = i64::from(a.role.bits());
                let detail = Some(format!("{} with forward grant", a.role.names().join(",")));
                match self.store.user_by_name(&a.name).await? {
                    Some(_) => {
                        self.modify_user(&who, &a.name, action, detail, |u| {
                            u.roles |= bits;
                            u.forward_roles |= bits;
                            u.password_phc = Some(phc.clone());
                            u.failed_logins = 0;
                            u.locked_until = None;
                            Ok(())
                        })
                        .await?;
                    }
                    None => {
                        let mut rec = self.new_user_record(&a.name, Some(phc), None);
                        rec.roles = bits;
                        rec.forward_roles = bits;
                        self.insert_user_audited(&who, &rec, action, detail).await?;
                    }
                }
                names.push(a.name.clone());
            }
            tracing::warn!(administrators = ?names, "administrators recreated with the recovery passphrase");
            Ok(names)
        }
        .await;
        self.audit_failure(&who, action, None, r).await
    }

    /// Changes the recovery passphrase: a System Administrator who also knows the
    /// current one.
    pub async fn change_recovery_passphrase(
        &self,
        who: &Principal,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), ServiceError> {
        let action = "recovery.change_passphrase";
        self.authorize(who, &Action::ManageSettings).await?;
        self.check_recovery(who, action, current).await?;
        let r = async {
            if new.expose_secret().chars().count() < MIN_PASSPHRASE_LEN
                || new.expose_secret().len() > 1024
            {
                return Err(ServiceError::InvalidArgument(format!(
                    "new: {MIN_PASSPHRASE_LEN} to 1024 bytes"
                )));
            }
            let phc = hash_password(new).await?;
            let now = now_secs();
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            tx.set_recovery_hash(&phc, now, to_db(self.hlc.now()))
                .await?;
            let ev = self.event(who, action, None, Outcome::Success, None);
            tx.append_audit(&ev, now_millis()).await?;
            tx.commit().await?;
            self.rearm_backup_schedule(new).await;
            Ok(())
        }
        .await;
        self.audit_failure(who, action, None, r).await
    }
}
