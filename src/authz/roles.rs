//! Administrative roles, endpoint privileges and wallet access levels (SPEC 5.2–5.4).

use bitflags::bitflags;

bitflags! {
    /// Administrative roles. A user may hold several unless separation of roles is
    /// enforced.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Roles: u32 {
        /// Users, endpoints, settings, alerts, backup schedule, cluster, HSM.
        const SYSTEM_ADMIN = 1;
        /// Lifecycle of every security object, wallets, endpoint groups, access grants.
        const KEY_ADMIN = 1 << 1;
        /// The audit trail: the only role that exports or deletes records; reads every
        /// object's metadata.
        const AUDIT_MANAGER = 1 << 2;
    }
}

bitflags! {
    /// System privileges for users without admin roles (the per-object Manage
    /// privileges are grants on one endpoint or endpoint group, not flags).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Privileges: u32 {
        /// May register endpoints (and then manages the ones it registers).
        const CREATE_ENDPOINT = 1;
        /// May create endpoint groups (and then manages the ones it creates).
        const CREATE_ENDPOINT_GROUP = 1 << 1;
    }
}

impl Roles {
    /// Stable names, as used in the API.
    pub const NAMES: [(Roles, &'static str); 3] = [
        (Roles::SYSTEM_ADMIN, "system_admin"),
        (Roles::KEY_ADMIN, "key_admin"),
        (Roles::AUDIT_MANAGER, "audit_manager"),
    ];

    /// Parses one role name.
    pub fn parse_one(s: &str) -> Option<Roles> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(r, _)| *r)
    }

    /// Names of the roles set, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(r, _)| self.contains(*r))
            .map(|(_, n)| *n)
            .collect()
    }

    /// How many roles are set.
    pub fn count(self) -> u32 {
        self.bits().count_ones()
    }
}

impl Privileges {
    /// Stable names, as used in the API.
    pub const NAMES: [(Privileges, &'static str); 2] = [
        (Privileges::CREATE_ENDPOINT, "create_endpoint"),
        (Privileges::CREATE_ENDPOINT_GROUP, "create_endpoint_group"),
    ];

    /// Parses one privilege name.
    pub fn parse_one(s: &str) -> Option<Privileges> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(p, _)| *p)
    }

    /// Names of the privileges set.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Access to a wallet's objects; each level includes those below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Read the objects (metadata and material).
    ReadOnly = 1,
    /// Also modify them: attributes, lifecycle.
    ReadModify = 2,
    /// Also add and remove objects, grant access at or below this level, change the
    /// wallet's settings, delete it.
    ManageWallet = 3,
}

impl AccessLevel {
    /// Stable name, as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::ReadOnly => "read_only",
            AccessLevel::ReadModify => "read_modify",
            AccessLevel::ManageWallet => "manage_wallet",
        }
    }

    /// Parses [`AccessLevel::as_str`] output.
    pub fn parse(s: &str) -> Option<AccessLevel> {
        [
            AccessLevel::ReadOnly,
            AccessLevel::ReadModify,
            AccessLevel::ManageWallet,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }

    /// Stored form.
    pub fn to_db(self) -> i64 {
        self as i64
    }

    /// Parses the stored form.
    pub fn from_db(v: i64) -> Option<AccessLevel> {
        match v {
            1 => Some(AccessLevel::ReadOnly),
            2 => Some(AccessLevel::ReadModify),
            3 => Some(AccessLevel::ManageWallet),
            _ => None,
        }
    }
}

impl std::fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
