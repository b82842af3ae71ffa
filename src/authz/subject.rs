//! The resolved rights of a caller: everything `authorize` needs to know about who is
//! asking, computed once from the grants in the store and cached.

use super::roles::{AccessLevel, Privileges, Roles};
use std::collections::{HashMap, HashSet};

/// Who the subject is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A user account, by user ID.
    User(String),
    /// An enrolled endpoint, by endpoint ID.
    Endpoint(String),
    /// The node itself (maintenance, recovery, quorum-approved operations).
    System,
}

/// A caller's effective rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Who.
    pub kind: SubjectKind,
    /// Administrative roles held (users only).
    pub roles: Roles,
    /// Roles held with forward grant: the ones this user may grant and revoke.
    pub forward_roles: Roles,
    /// System privileges (users only).
    pub privileges: Privileges,
    /// Effective access per wallet ID: the highest level of every path that grants it.
    pub wallets: HashMap<String, AccessLevel>,
    /// Endpoints this user holds Manage Endpoint on.
    pub managed_endpoints: HashSet<String>,
    /// Endpoint groups this user holds Manage Endpoint Group on.
    pub managed_endpoint_groups: HashSet<String>,
}

impl Subject {
    /// A subject with no rights at all.
    pub fn new(kind: SubjectKind) -> Subject {
        Subject {
            kind,
            roles: Roles::empty(),
            forward_roles: Roles::empty(),
            privileges: Privileges::empty(),
            wallets: HashMap::new(),
            managed_endpoints: HashSet::new(),
            managed_endpoint_groups: HashSet::new(),
        }
    }

    /// The node itself.
    pub fn system() -> Subject {
        Subject::new(SubjectKind::System)
    }

    /// The owner tag objects this subject creates carry.
    pub fn owner_tag(&self) -> String {
        match &self.kind {
            SubjectKind::User(id) => format!("user:{id}"),
            SubjectKind::Endpoint(id) => format!("endpoint:{id}"),
            SubjectKind::System => "system".into(),
        }
    }

    /// Whether `owner` (an object's owner tag) names this subject; no allocation, as it
    /// runs on every request.
    pub fn is_owner(&self, owner: &str) -> bool {
        match &self.kind {
            SubjectKind::User(id) => owner.strip_prefix("user:") == Some(id.as_str()),
            SubjectKind::Endpoint(id) => owner.strip_prefix("endpoint:") == Some(id.as_str()),
            SubjectKind::System => owner == "system",
        }
    }

    /// The user ID, for users.
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            SubjectKind::User(id) => Some(id),
            _ => None,
        }
    }

    /// This subject's access to a wallet, if any.
    pub fn wallet_level(&self, wallet_id: &str) -> Option<AccessLevel> {
        self.wallets.get(wallet_id).copied()
    }

    /// Raises the access to a wallet to at least `level` (union of grants).
    pub fn add_wallet_access(&mut self, wallet_id: &str, level: AccessLevel) {
        let e = self.wallets.entry(wallet_id.to_owned()).or_insert(level);
        if level > *e {
            *e = level;
        }
    }

    /// The highest level this subject holds on any of `wallets`.
    pub fn best_level<'a>(
        &self,
        wallets: impl IntoIterator<Item = &'a str>,
    ) -> Option<AccessLevel> {
        wallets
            .into_iter()
            .filter_map(|w| self.wallet_level(w))
            .max()
    }
}
