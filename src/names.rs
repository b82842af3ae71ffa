//! Naming rules for things administrators name (SPEC 5.5).

/// The rule for endpoint, group, wallet and node names, as shown in errors.
pub const OBJECT_NAME_RULE: &str = "names use letters, digits, `_`, `.` and `-`, 1 to 120 bytes";

/// True for a valid node, endpoint, group or wallet name.
pub fn is_valid_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 120
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// What is being named: each kind has its rule (SPEC 5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A user account: letters, digits, `_`; case-insensitive.
    User,
    /// A user group; case-insensitive.
    UserGroup,
    /// An endpoint; case-insensitive.
    Endpoint,
    /// An endpoint group; case-insensitive.
    EndpointGroup,
    /// A virtual wallet; case-sensitive.
    Wallet,
}

/// The rule for user names, as shown in errors.
pub const USER_NAME_RULE: &str = "user names use letters, digits and `_`, 1 to 120 bytes";

impl NameKind {
    /// What the thing is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::User => "user",
            NameKind::UserGroup => "user group",
            NameKind::Endpoint => "endpoint",
            NameKind::EndpointGroup => "endpoint group",
            NameKind::Wallet => "wallet",
        }
    }

    /// The rule, as shown in errors.
    pub fn rule(self) -> &'static str {
        match self {
            NameKind::User => USER_NAME_RULE,
            _ => OBJECT_NAME_RULE,
        }
    }

    /// Whether `Name` and `NAME` are two different things of this kind.
    pub fn case_sensitive(self) -> bool {
        self == NameKind::Wallet
    }

    /// Checks `name` against this kind's rule; the error names the rule.
    pub fn check(self, name: &str) -> Result<(), String> {
        let ok = match self {
            NameKind::User => {
                !name.is_empty()
                    && name.len() <= 120
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }
            _ => is_valid_object_name(name),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} name: {}", self.noun(), self.rule()))
        }
    }

    /// The form names are compared and stored unique in: lower case unless this kind
    /// is case-sensitive. Only meaningful for names that passed [`NameKind::check`].
    pub fn key(self, name: &str) -> String {
        if self.case_sensitive() {
            name.to_owned()
        } else {
            name.to_ascii_lowercase()
        }
    }
}

/// The rule for key names.
pub const KEY_NAME_RULE: &str =
    "key names are 1 to 255 bytes of printable characters, without control characters";

/// True for a valid key name (KMIP Name values are free text; we refuse control characters).
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        assert!(is_valid_object_name("node-1.site_a"));
        assert!(!is_valid_object_name(""));
        assert!(!is_valid_object_name("has space"));
        assert!(!is_valid_object_name("ünïcode"));
        assert!(!is_valid_object_name(&"a".repeat(121)));
        assert!(is_valid_object_name(&"a".repeat(120)));
    }

    #[test]
    fn kinds() {
        assert!(NameKind::User.check("p_smith2").is_ok());
        assert!(NameKind::User.check("p.smith").is_err());
        assert!(NameKind::Wallet.check("wallet.hr-1").is_ok());
        assert_eq!(NameKind::User.key("PSmith"), "psmith");
        assert_eq!(NameKind::Wallet.key("WALLET_HR"), "WALLET_HR");
        let e = NameKind::UserGroup.check("a b").unwrap_err();
        assert!(
            e.contains("user group name") && e.contains("120 bytes"),
            "{e}"
        );
    }

    #[test]
    fn key_names() {
        assert!(is_valid_key_name("backup key 2026"));
        assert!(!is_valid_key_name("bad\nname"));
        assert!(!is_valid_key_name(""));
    }
}
