//! Key policies (SPEC 2.3) and the periods that decide what a drive may do with a key.
//!
//! A key's encryption period runs from its activation: until `protect_stop_date` it
//! may protect new data. Its decryption period also runs from activation: until
//! `deactivation_date` it may still read. A key handed to a drive is Active from the
//! moment it is handed out, so keys waiting in the pool do not age.

use super::{Algorithm, ObjectMeta, State};
use serde::{Deserialize, Serialize};

/// Longest period accepted: 100 years, in seconds.
pub const MAX_PERIOD_SECS: i64 = 100 * 365 * 24 * 3600;

/// What keys of a key group look like and how long they serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicy {
    /// Algorithm (AES).
    pub algorithm: Algorithm,
    /// Length in bits (128 or 256).
    pub length: u32,
    /// Seconds a key protects new data after activation; `None`: no limit.
    #[serde(default)]
    pub encryption_period_secs: Option<i64>,
    /// Seconds a key may read data after activation; `None`: no limit.
    #[serde(default)]
    pub decryption_period_secs: Option<i64>,
    /// May its keys leave the cluster (export, key transfer).
    #[serde(default)]
    pub exportable: bool,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            algorithm: Algorithm::Aes,
            length: 256,
            encryption_period_secs: None,
            decryption_period_secs: None,
            exportable: false,
        }
    }
}

impl KeyPolicy {
    /// Checks the policy; the error names the field and the rule.
    pub fn check(&self) -> Result<(), String> {
        if self.algorithm != Algorithm::Aes {
            return Err(format!(
                "algorithm: drives use AES keys, not {}",
                self.algorithm.as_str()
            ));
        }
        // Tape drives take 128- or 256-bit keys (LTO and T10000 use AES-256).
        if ![128, 256].contains(&self.length) {
            return Err(format!(
                "length: drive keys are 128 or 256 bits long, not {}",
                self.length
            ));
        }
        for (name, p) in [
            ("encryption_period_secs", self.encryption_period_secs),
            ("decryption_period_secs", self.decryption_period_secs),
        ] {
            if p.is_some_and(|p| !(1..=MAX_PERIOD_SECS).contains(&p)) {
                return Err(format!("{name}: must be 1 second to 100 years"));
            }
        }
        if let (Some(e), Some(d)) = (self.encryption_period_secs, self.decryption_period_secs) {
            if d < e {
                return Err(
                    "decryption_period_secs: must be at least the encryption period (data written with a key must stay readable at least as long as the key writes)".into(),
                );
            }
        }
        Ok(())
    }

    /// The dates a key activated at `now` gets: (protect stop, deactivation).
    pub fn dates_from(&self, now: i64) -> (Option<i64>, Option<i64>) {
        (
            self.encryption_period_secs.map(|p| now.saturating_add(p)),
            self.decryption_period_secs.map(|p| now.saturating_add(p)),
        )
    }
}

/// May this key protect new data at `now`?
pub fn may_protect(meta: &ObjectMeta, now: i64) -> bool {
    meta.state == State::Active
        && meta.attributes.protect_stop_date.is_none_or(|d| now < d)
        && meta.attributes.deactivation_date.is_none_or(|d| now < d)
}

/// May this key still read data at `now`? Active keys and keys deactivated at the end
/// of their encryption period read until their deactivation date; revoked,
/// compromised and destroyed keys do not.
pub fn may_process(meta: &ObjectMeta, now: i64) -> bool {
    matches!(meta.state, State::Active | State::Deactivated)
        && meta.attributes.revocation_reason.is_none()
        && meta.attributes.deactivation_date.is_none_or(|d| now < d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Attributes, ObjectType};

    fn key(state: State, protect_stop: Option<i64>, deactivation: Option<i64>) -> ObjectMeta {
        ObjectMeta {
            id: "k".into(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state,
            name: None,
            attributes: Attributes {
                protect_stop_date: protect_stop,
                deactivation_date: deactivation,
                ..Attributes::default()
            },
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn past_encryption_period_reads_but_does_not_write() {
        let k = key(State::Active, Some(100), Some(1000));
        assert!(may_protect(&k, 99));
        assert!(!may_protect(&k, 100), "encryption period over");
        assert!(may_process(&k, 999), "still within the decryption period");
        assert!(!may_process(&k, 1000), "decryption period over");
    }

    #[test]
    fn revoked_compromised_and_preactive_keys_serve_nothing() {
        for st in [State::PreActive, State::Compromised, State::Destroyed] {
            assert!(!may_protect(&key(st, None, None), 1), "{st:?}");
            assert!(!may_process(&key(st, None, None), 1), "{st:?}");
        }
        let mut revoked = key(State::Deactivated, None, None);
        revoked.attributes.revocation_reason = Some(crate::keys::RevocationReason::Superseded);
        assert!(!may_process(&revoked, 1));
    }

    #[test]
    fn policy_rules() {
        assert!(KeyPolicy::default().check().is_ok());
        let bad = KeyPolicy {
            length: 192,
            ..KeyPolicy::default()
        };
        assert!(bad.check().unwrap_err().starts_with("length"));
        let inverted = KeyPolicy {
            encryption_period_secs: Some(100),
            decryption_period_secs: Some(10),
            ..KeyPolicy::default()
        };
        assert!(inverted
            .check()
            .unwrap_err()
            .starts_with("decryption_period_secs"));
        assert_eq!(
            KeyPolicy {
                encryption_period_secs: Some(10),
                ..KeyPolicy::default()
            }
            .dates_from(5),
            (Some(15), None)
        );
    }
}
