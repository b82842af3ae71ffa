//! Types that hold secrets. Each zeroizes on drop, has no `Debug` or `Serialize`,
//! and gives up its bytes only through a method whose name says so.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Plaintext key material (a symmetric key, secret data, a private key in DER).
///
/// Lives only in memory for the request that needs it; wiped on drop.
pub struct KeyMaterial(Zeroizing<Vec<u8>>);

impl KeyMaterial {
    /// Takes ownership of `bytes`; they are wiped when this value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeyMaterial(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new value. The caller remains responsible for its copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        KeyMaterial(Zeroizing::new(bytes.to_vec()))
    }

    /// The plaintext. Every call site is a place where a key is in the clear.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes; safe to log.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for KeyMaterial {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
