//! The emulated drive's block cipher: AES-256-GCM, a fresh random 12-byte
//! nonce per block, the A-KAD authenticated as associated data.
#![forbid(unsafe_code)]

use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use super::tape::{Sealing, NONCE_LEN};
use crate::ssc::KeyAssociatedData;

/// Key length of the one algorithm.
pub(super) const KEY_LEN: usize = 32;
/// Its algorithm index.
pub(super) const ALGORITHM_INDEX: u8 = 1;

/// A loaded data key; zeroized when cleared or dropped.
pub(super) type DataKey = Zeroizing<[u8; KEY_LEN]>;

/// Associated data: a label, the algorithm index and the A-KAD, so a block
/// cannot be relabelled with another key's identifier without detection.
fn aad(algorithm_index: u8, akad: &[u8]) -> Vec<u8> {
    let mut a = b"clavis-emulated-lto-block-v1".to_vec();
    a.push(algorithm_index);
    a.extend(u16::try_from(akad.len()).unwrap_or(u16::MAX).to_be_bytes());
    a.extend_from_slice(akad);
    a
}

/// Encrypt one block; `None` only if the OS has no randomness.
pub(super) fn seal(
    key: &DataKey,
    kad: &KeyAssociatedData,
    kad_format: u8,
    plain: &[u8],
) -> Option<(Sealing, Vec<u8>)> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).ok()?;
    let cipher = Aes256Gcm::new_from_slice(&key[..]).ok()?;
    let ad = aad(ALGORITHM_INDEX, &kad.authenticated);
    let ct = cipher
        .encrypt(
            &Nonce::<Aes256Gcm>::from(nonce),
            Payload {
                msg: plain,
                aad: &ad,
            },
        )
        .ok()?;
    let mut kad = kad.clone();
    kad.nonce.clear();
    Some((
        Sealing {
            algorithm_index: ALGORITHM_INDEX,
            kad_format,
            kad,
            nonce,
        },
        ct,
    ))
}

/// Decrypt one block; `None` when the key is wrong or the block was altered.
pub(super) fn open(key: &DataKey, s: &Sealing, ct: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(&key[..]).ok()?;
    let ad = aad(s.algorithm_index, &s.kad.authenticated);
    cipher
        .decrypt(
            &Nonce::<Aes256Gcm>::from(s.nonce),
            Payload { msg: ct, aad: &ad },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let key: DataKey = Zeroizing::new([3u8; KEY_LEN]);
        let kad = KeyAssociatedData {
            authenticated: b"k1".to_vec(),
            ..Default::default()
        };
        let (mut s, ct) = seal(&key, &kad, 1, b"hello").unwrap();
        assert_eq!(open(&key, &s, &ct).unwrap(), b"hello");
        assert!(open(&Zeroizing::new([4u8; KEY_LEN]), &s, &ct).is_none());
        s.kad.authenticated = b"k2".to_vec();
        assert!(open(&key, &s, &ct).is_none());
    }
}
