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
    fn key_names() {
        assert!(is_valid_key_name("backup key 2026"));
        assert!(!is_valid_key_name("bad\nname"));
        assert!(!is_valid_key_name(""));
    }
}
