//! Shamir secret sharing over GF(2^8), byte by byte (SPEC 5.6: the quorum secret of
//! the master key backup is split among the N quorum members; any M recover it).
//!
//! Each byte of the secret is the constant term of its own random polynomial of degree
//! `threshold - 1`; share `x` holds every polynomial evaluated at `x`. Fewer than
//! `threshold` shares say nothing about the secret (every value is equally likely).
//!
//! # Field arithmetic
//! The field is the AES field, GF(2)[X] / (X^8 + X^4 + X^3 + X + 1), i.e. polynomial
//! `0x11b`. Multiplication is a branch-free shift-and-add ("Russian peasant") loop
//! with masks instead of `if`s and no table lookups, so neither the time taken nor the
//! memory touched depends on secret bytes. Inversion is only ever applied to public
//! values (share indices) but is branch-free as well (`a^254`).
//!
//! # What a share does not protect against
//! A share's check (truncated SHA-256) catches typing and storage errors, not a
//! malicious share holder who recomputes it. The combined secret is therefore meant to
//! be a key whose use is itself authenticated (the master key backup archive's AES-GCM
//! tags fail if a forged share produced a wrong key).
//!
//! # Share encoding
//! Binary form, `SHARE_HEADER_LEN + len + SHARE_CHECK_LEN` bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | encoding version, `1` |
//! | 1 | 16 | split ID (random, the same in every share of one split) |
//! | 17 | 1 | threshold M |
//! | 18 | 1 | index x (1..=255) |
//! | 19 | 1 | secret length L (1..=64) |
//! | 20 | L | y bytes |
//! | 20+L | 8 | check: first 8 bytes of SHA-256(`"clavis-share-1"` ‖ bytes 0..20+L) |
//!
//! Text form: `clavis-share-1:` followed by the binary form in unpadded base64url.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Longest secret accepted, in bytes: room for a 256-bit key and its companions,
/// small enough that a share stays typeable.
pub const MAX_SECRET_LEN: usize = 64;
/// Bytes before the y values in the binary form.
pub const SHARE_HEADER_LEN: usize = 20;
/// Bytes of the check at the end of the binary form.
pub const SHARE_CHECK_LEN: usize = 8;
/// Prefix of the text form; the digit is the encoding version.
pub const TEXT_PREFIX: &str = "clavis-share-1:";

const ENCODING_VERSION: u8 = 1;
const CHECK_DOMAIN: &[u8] = b"clavis-share-1";
const SPLIT_ID_LEN: usize = 16;

/// Why splitting, decoding or combining failed. Never carries share bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShamirError {
    /// `threshold`, `shares` or the secret's length is out of range.
    #[error("invalid split: {0}")]
    InvalidParameters(&'static str),
    /// The operating system's random generator failed.
    #[error("operating system random generator failed")]
    Random,
    /// No shares were given at all.
    #[error("no shares given")]
    NoShares,
    /// Fewer shares than the threshold.
    #[error("{given} share(s) given, but this secret needs {needed} to be recovered")]
    NotEnoughShares {
        /// Shares given.
        given: usize,
        /// The split's threshold.
        needed: u8,
    },
    /// Two shares have the same index (the same share given twice).
    #[error("share index {0} was given more than once")]
    DuplicateIndex(u8),
    /// The shares come from different splits (a different secret or a different run).
    #[error("the shares come from different splits (share IDs {first} and {other})")]
    DifferentSplits {
        /// Hex of the first share's split ID.
        first: String,
        /// Hex of the first split ID that differs.
        other: String,
    },
    /// Shares of one split disagree on the threshold or the secret's length.
    #[error("the shares disagree on their {0}")]
    Mismatched(&'static str),
    /// One share could not be read; `number` is its 1-based position in the input.
    #[error("share #{number} is mistyped or corrupted: {reason}")]
    BadShare {
        /// 1-based position of the share among those given.
        number: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A single share given to [`Share::from_bytes`] or [`Share::from_text`] is unreadable.
    #[error("share is mistyped or corrupted: {0}")]
    Malformed(&'static str),
    /// The share was written by a newer encoding.
    #[error("share encoding version {0} is not supported")]
    UnsupportedVersion(u8),
}

/// One share of a split secret. The y bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct Share {
    split_id: [u8; SPLIT_ID_LEN],
    x: u8,
    threshold: u8,
    y: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("split_id", &hex::encode(self.split_id))
            .field("x", &self.x)
            .field("threshold", &self.threshold)
            .field("len", &self.y.len())
            .finish_non_exhaustive()
    }
}

impl Share {
    /// The split this share belongs to; the same for every share of one split.
    pub fn split_id(&self) -> [u8; SPLIT_ID_LEN] {
        self.split_id
    }

    /// This share's index x (1..=255); public, safe to show.
    pub fn index(&self) -> u8 {
        self.x
    }

    /// How many shares are needed to recover the secret.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Length of the secret (and of the y bytes).
    pub fn secret_len(&self) -> usize {
        self.y.len()
    }

    /// Binary form (see the module docs). Contains the y bytes: wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            SHARE_HEADER_LEN + self.y.len() + SHARE_CHECK_LEN,
        ));
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&self.split_id);
        out.push(self.threshold);
        out.push(self.x);
        // Lengths are bounded by MAX_SECRET_LEN when a share is made or decoded.
        out.push(self.y.len() as u8);
        out.extend_from_slice(&self.y);
        let check = share_check(&out);
        out.extend_from_slice(&check);
        out
    }

    /// Reads the binary form, refusing any share whose check does not match.
    pub fn from_bytes(bytes: &[u8]) -> Result<Share, ShamirError> {
        if bytes.len() < SHARE_HEADER_LEN + 1 + SHARE_CHECK_LEN {
            return Err(ShamirError::Malformed("too short"));
        }
        let (body, check) = bytes.split_at(bytes.len() - SHARE_CHECK_LEN);
        // The check first: a damaged version or length byte is reported as damage.
        if !bool::from(share_check(body).ct_eq(check)) {
            return Err(ShamirError::Malformed("check does not match"));
        }
        if body[0] != ENCODING_VERSION {
            return Err(ShamirError::UnsupportedVersion(body[0]));
        }
        let mut split_id = [0u8; SPLIT_ID_LEN];
        split_id.copy_from_slice(&body[1..1 + SPLIT_ID_LEN]);
        let threshold = body[17];
        let x = body[18];
        let len = usize::from(body[19]);
        if body.len() != SHARE_HEADER_LEN + len {
            return Err(ShamirError::Malformed("length does not match"));
        }
        if len == 0 || len > MAX_SECRET_LEN {
            return Err(ShamirError::Malformed("secret length out of range"));
        }
        if threshold < 2 {
            return Err(ShamirError::Malformed("threshold below 2"));
        }
        if x == 0 {
            return Err(ShamirError::Malformed("index 0"));
        }
        Ok(Share {
            split_id,
            x,
            threshold,
            y: Zeroizing::new(body[SHARE_HEADER_LEN..].to_vec()),
        })
    }

    /// Text form: `clavis-share-1:` and base64url. Contains the y bytes: wiped on drop.
    pub fn to_text(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        let mut out = Zeroizing::new(String::with_capacity(
            TEXT_PREFIX.len() + bytes.len() * 4 / 3 + 4,
        ));
        out.push_str(TEXT_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&bytes[..], &mut out);
        out
    }

    /// Reads the text form; surrounding whitespace is ignored.
    pub fn from_text(text: &str) -> Result<Share, ShamirError> {
        let text = text.trim();
        let Some(b64) = text.strip_prefix(TEXT_PREFIX) else {
            if let Some(rest) = text.strip_prefix("clavis-share-") {
                if let Some((v, _)) = rest.split_once(':') {
                    if let Ok(v) = v.parse::<u8>() {
                        return Err(ShamirError::UnsupportedVersion(v));
                    }
                }
            }
            return Err(ShamirError::Malformed(
                "does not start with clavis-share-1:",
            ));
        };
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|_| ShamirError::Malformed("not valid base64url"))?,
        );
        Share::from_bytes(&bytes)
    }
}

/// Reads several shares in text form, naming the 1-based position of the first
/// unreadable one (so an operator knows which line to retype).
pub fn parse_shares<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Share>, ShamirError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Share::from_text(t.as_ref()).map_err(|e| match e {
                ShamirError::Malformed(reason) => ShamirError::BadShare {
                    number: i + 1,
                    reason,
                },
                ShamirError::UnsupportedVersion(_) => ShamirError::BadShare {
                    number: i + 1,
                    reason: "unsupported share version",
                },
                other => other,
            })
        })
        .collect()
}

/// Splits `secret` into `shares` shares, any `threshold` of which recover it.
///
/// Needs 2 <= threshold <= shares <= 255 and a secret of 1..=64 bytes. Shares get the
/// indices 1..=shares and one fresh random split ID.
pub fn split(secret: &[u8], threshold: u8, shares: u8) -> Result<Vec<Share>, ShamirError> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(ShamirError::InvalidParameters(
            "the secret must be 1 to 64 bytes",
        ));
    }
    if threshold < 2 {
        return Err(ShamirError::InvalidParameters(
            "the threshold must be at least 2",
        ));
    }
    if threshold > shares {
        return Err(ShamirError::InvalidParameters(
            "the threshold cannot exceed the number of shares",
        ));
    }
    let mut split_id = [0u8; SPLIT_ID_LEN];
    getrandom::fill(&mut split_id).map_err(|_| ShamirError::Random)?;
    // coefficients[i * degree + k] is the coefficient of x^(k+1) for secret byte i.
    let degree = usize::from(threshold) - 1;
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * degree]);
    getrandom::fill(&mut coefficients[..]).map_err(|_| ShamirError::Random)?;
    let out = (1..=shares)
        .map(|x| {
            let y = secret
                .iter()
                .zip(coefficients.chunks_exact(degree))
                .map(|(&s, c)| eval(s, c, x))
                .collect::<Vec<u8>>();
            Share {
                split_id,
                x,
                threshold,
                y: Zeroizing::new(y),
            }
        })
        .collect();
    // Zeroizing wipes them on drop; done explicitly so the intent is visible here.
    coefficients.zeroize();
    Ok(out)
}

/// Recovers the secret from at least `threshold` shares of one split.
///
/// Refuses shares of different splits, duplicates, disagreeing thresholds or lengths,
/// and too few shares. When more than `threshold` shares are given, the first
/// `threshold` are used (after all have been checked for consistency).
pub fn combine(shares: &[Share]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let first = shares.first().ok_or(ShamirError::NoShares)?;
    for s in &shares[1..] {
        if s.split_id != first.split_id {
            return Err(ShamirError::DifferentSplits {
                first: hex::encode(first.split_id),
                other: hex::encode(s.split_id),
            });
        }
        if s.threshold != first.threshold {
            return Err(ShamirError::Mismatched("threshold"));
        }
        if s.y.len() != first.y.len() {
            return Err(ShamirError::Mismatched("secret length"));
        }
    }
    let mut seen = [false; 256];
    for s in shares {
        if s.x == 0 {
            return Err(ShamirError::Malformed("index 0"));
        }
        if std::mem::replace(&mut seen[usize::from(s.x)], true) {
            return Err(ShamirError::DuplicateIndex(s.x));
        }
    }
    let needed = first.threshold;
    if shares.len() < usize::from(needed) {
        return Err(ShamirError::NotEnoughShares {
            given: shares.len(),
            needed,
        });
    }
    let used = &shares[..usize::from(needed)];
    let mut secret = Zeroizing::new(vec![0u8; first.y.len()]);
    for (j, sj) in used.iter().enumerate() {
        // Lagrange basis polynomial j at 0: prod over m != j of x_m / (x_m - x_j).
        // Only public indices are involved here; subtraction is XOR in GF(2^8).
        let mut basis = 1u8;
        for (m, sm) in used.iter().enumerate() {
            if m != j {
                basis = gf_mul(basis, gf_mul(sm.x, gf_inv(sm.x ^ sj.x)));
            }
        }
        for (out, &y) in secret.iter_mut().zip(sj.y.iter()) {
            *out ^= gf_mul(y, basis);
        }
    }
    Ok(secret)
}

/// Evaluates secret + c[0] x + c[1] x^2 + ... at `x` (Horner's rule).
fn eval(secret: u8, coefficients: &[u8], x: u8) -> u8 {
    let mut acc = 0u8;
    for &c in coefficients.iter().rev() {
        acc = gf_mul(acc, x) ^ c;
    }
    gf_mul(acc, x) ^ secret
}

/// Multiplication in GF(2^8) modulo 0x11b, branch-free and table-free: each step adds
/// `a` under a mask made from the low bit of `b`, then doubles `a`, reducing under a
/// mask made from its high bit.
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & (b & 1).wrapping_neg();
        let carry = (a >> 7).wrapping_neg();
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// Inverse in GF(2^8): a^254 (a^255 = 1 for a != 0); maps 0 to 0.
fn gf_inv(a: u8) -> u8 {
    // a^254 = a^2 * a^4 * ... * a^128.
    let mut square = a;
    let mut result = 1u8;
    for _ in 1..8 {
        square = gf_mul(square, square);
        result = gf_mul(result, square);
    }
    result
}

fn share_check(body: &[u8]) -> [u8; SHARE_CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(CHECK_DOMAIN);
    h.update(body);
    let digest = h.finalize();
    let mut out = [0u8; SHARE_CHECK_LEN];
    out.copy_from_slice(&digest[..SHARE_CHECK_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// Schoolbook carry-less multiply and reduction, as an independent reference.
    fn slow_mul(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for i in 0..8 {
            if b & (1 << i) != 0 {
                p ^= u16::from(a) << i;
            }
        }
        for i in (8..16).rev() {
            if p & (1 << i) != 0 {
                p ^= 0x11b << (i - 8);
            }
        }
        p as u8
    }

    #[test]
    fn gf_known_products() {
        // FIPS 197 examples and the textbook inverse pair.
        assert_eq!(gf_mul(0x57, 0x83), 0xc1);
        assert_eq!(gf_mul(0x57, 0x13), 0xfe);
        assert_eq!(gf_mul(0x53, 0xca), 0x01);
        assert_eq!(gf_mul(0x02, 0x80), 0x1b);
        assert_eq!(gf_inv(0x53), 0xca);
        assert_eq!(gf_inv(0xca), 0x53);
        assert_eq!(gf_inv(0x01), 0x01);
        assert_eq!(gf_inv(0x00), 0x00);
    }

    #[test]
    fn gf_mul_matches_reference_and_inverse_everywhere() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), slow_mul(a, b), "{a:#x} * {b:#x}");
                assert_eq!(gf_mul(a, b), gf_mul(b, a));
            }
            if a != 0 {
                assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a:#x}");
            }
        }
    }

    fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize == k {
                out.push((0..n).filter(|i| mask & (1 << i) != 0).collect());
            }
        }
        out
    }

    #[test]
    fn three_of_five_every_subset_recovers() {
        let shares = split(SECRET, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        let subs = subsets(5, 3);
        assert_eq!(subs.len(), 10);
        for sub in subs {
            let chosen: Vec<Share> = sub.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(&combine(&chosen).unwrap()[..], SECRET, "subset {sub:?}");
            let mut reversed = chosen.clone();
            reversed.reverse();
            assert_eq!(&combine(&reversed).unwrap()[..], SECRET);
        }
        // More than the threshold works too.
        assert_eq!(&combine(&shares).unwrap()[..], SECRET);
    }

    #[test]
    fn round_trip_various_thresholds() {
        for (m, n) in [(2, 2), (2, 3), (3, 3), (4, 7), (5, 5), (10, 20), (255, 255)] {
            for len in [1usize, 16, 32, 64] {
                let secret: Vec<u8> = (0..len).map(|i| (i * 37 + m as usize) as u8).collect();
                let shares = split(&secret, m, n).unwrap();
                assert_eq!(shares.len(), usize::from(n));
                assert!(shares.iter().all(|s| s.threshold() == m));
                // The last m shares, through the text form.
                let texts: Vec<String> = shares[usize::from(n - m)..]
                    .iter()
                    .map(|s| s.to_text().to_string())
                    .collect();
                let parsed = parse_shares(&texts).unwrap();
                assert_eq!(&combine(&parsed).unwrap()[..], &secret[..], "{m}-of-{n}");
            }
        }
    }

    #[test]
    fn too_few_shares_refused_with_count() {
        let shares = split(SECRET, 3, 5).unwrap();
        let err = combine(&shares[1..3]).unwrap_err();
        assert_eq!(
            err,
            ShamirError::NotEnoughShares {
                given: 2,
                needed: 3
            }
        );
        assert!(err.to_string().contains("needs 3"), "{err}");
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::NoShares);
    }

    #[test]
    fn duplicate_index_refused() {
        let shares = split(SECRET, 3, 5).unwrap();
        let dup = vec![shares[0].clone(), shares[1].clone(), shares[0].clone()];
        assert_eq!(combine(&dup).unwrap_err(), ShamirError::DuplicateIndex(1));
    }

    #[test]
    fn shares_of_different_splits_refused() {
        let a = split(SECRET, 2, 3).unwrap();
        let b = split(SECRET, 2, 3).unwrap();
        let err = combine(&[a[0].clone(), b[1].clone()]).unwrap_err();
        assert!(
            matches!(err, ShamirError::DifferentSplits { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn mismatched_threshold_or_length_refused() {
        let a = split(SECRET, 2, 3).unwrap();
        let mut other = a[1].clone();
        other.threshold = 3;
        assert_eq!(
            combine(&[a[0].clone(), other]).unwrap_err(),
            ShamirError::Mismatched("threshold")
        );
        let mut short = a[1].clone();
        short.y.pop();
        assert_eq!(
            combine(&[a[0].clone(), short]).unwrap_err(),
            ShamirError::Mismatched("secret length")
        );
    }

    #[test]
    fn distinct_splits_of_same_secret_differ() {
        let a = split(SECRET, 3, 5).unwrap();
        let b = split(SECRET, 3, 5).unwrap();
        assert_ne!(a[0].split_id(), b[0].split_id());
        for (sa, sb) in a.iter().zip(&b) {
            assert_ne!(&sa.y[..], &sb.y[..]);
            assert_ne!(&sa.to_bytes()[..], &sb.to_bytes()[..]);
        }
        assert!(a.iter().all(|s| s.split_id() == a[0].split_id()));
    }

    #[test]
    fn invalid_parameters_refused() {
        assert!(split(b"", 2, 3).is_err());
        assert!(split(&[0u8; 65], 2, 3).is_err());
        assert!(split(SECRET, 1, 3).is_err());
        assert!(split(SECRET, 0, 3).is_err());
        assert!(split(SECRET, 4, 3).is_err());
        assert!(split(&[0u8; 64], 2, 2).is_ok());
    }

    #[test]
    fn every_flipped_bit_of_binary_share_refused() {
        let shares = split(SECRET, 3, 5).unwrap();
        let bytes = shares[2].to_bytes();
        assert_eq!(Share::from_bytes(&bytes).unwrap().to_bytes()[..], bytes[..]);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.to_vec();
                bad[i] ^= 1 << bit;
                assert!(Share::from_bytes(&bad).is_err(), "byte {i} bit {bit}");
            }
        }
        for cut in 0..bytes.len() {
            assert!(Share::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(Share::from_bytes(&longer).is_err());
    }

    #[test]
    fn every_mistyped_character_of_text_share_refused_and_named() {
        let shares = split(SECRET, 2, 3).unwrap();
        let good = shares[0].to_text().to_string();
        let other = shares[1].to_text().to_string();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..good.len() {
            // Two replacements per position, and each single-bit flip of the character.
            let orig = good.as_bytes()[i];
            let mut candidates: Vec<u8> = (0..7).map(|b| orig ^ (1 << b)).collect();
            candidates.extend(alphabet.bytes().filter(|&c| c != orig).take(2));
            for c in candidates {
                let mut bad = good.as_bytes().to_vec();
                bad[i] = c;
                let Ok(bad) = String::from_utf8(bad) else {
                    continue;
                };
                if bad.trim() == good {
                    // Whitespace at the edges is deliberately ignored.
                    continue;
                }
                let err = parse_shares(&[other.clone(), bad]).unwrap_err();
                assert!(
                    matches!(err, ShamirError::BadShare { number: 2, .. }),
                    "position {i} -> {c:#x}: {err:?}"
                );
                assert!(err.to_string().contains("share #2"), "{err}");
            }
        }
    }

    #[test]
    fn text_form_shape() {
        let shares = split(SECRET, 2, 2).unwrap();
        let text = shares[0].to_text();
        assert!(text.starts_with(TEXT_PREFIX));
        let padded = format!("  {}\n", &text[..]);
        assert_eq!(Share::from_text(&padded).unwrap().index(), 1);
        assert_eq!(
            Share::from_text("clavis-share-2:AAAA").unwrap_err(),
            ShamirError::UnsupportedVersion(2)
        );
        assert!(Share::from_text("hello").is_err());
    }

    #[test]
    fn debug_does_not_print_y() {
        let shares = split(&[0xab; 32], 2, 2).unwrap();
        let dbg = format!("{:?}", shares[0]);
        let y_hex = hex::encode(&shares[0].y[..]);
        assert!(!dbg.contains(&y_hex), "{dbg}");
        assert!(!dbg.contains("y:"), "{dbg}");
        assert!(dbg.contains("threshold: 2"), "{dbg}");
    }
}
