//! The transfer file: three lines of text.
//!
//! ```text
//! clavis-transfer-1
//! {"transfer_id":"...","exporter_fingerprint":"...","recipient_fingerprint":"...",...}
//! ecdsa-p256-sha256 BASE64(signature)
//! ```
//!
//! The signature (the exporter's signing key, ECDSA P-256 SHA-256, DER) covers the
//! exact bytes of the first two lines, newline included: nothing is re-serialized
//! before checking, so any changed byte fails. The body names both identities by
//! fingerprint, and carries one fresh AES-256 file key wrapped to the recipient's
//! encryption key (RSA-OAEP-SHA256), each key's attributes in the clear (a partner
//! sees what it receives before importing) and its material sealed under the file key
//! with AES-256-GCM (random 96-bit nonce; associated data: format, transfer ID and the
//! key's object ID), and the data units of those keys with their key use.
//!
//! Opening is a chain of values, each only made by the check before it
//! ([`parse`] → [`Parsed::verify`] → [`Verified::open`]), so importing from a file
//! whose signature was not checked does not compile.

use super::{Identity, PublicIdentity, TransferError};
use crate::keys::{is_valid_object_id, ObjectMeta};
use crate::secret::KeyMaterial;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// First line of every transfer file.
pub const MAGIC: &str = "clavis-transfer-1";
/// Signature algorithm named on the last line.
pub const SIGNATURE_ALGORITHM: &str = "ecdsa-p256-sha256";
/// How keys are wrapped, named in the body.
pub const KEY_WRAP: &str = "rsa-oaep-sha256+aes-256-gcm";
/// File name extension.
pub const EXTENSION: &str = "cltr";
/// Largest file accepted, bytes.
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// Most keys in one file.
pub const MAX_KEYS: usize = 100_000;

/// The signed body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Transfer ID (UUIDv7), also the file's name.
    pub transfer_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The exporting cluster's node that wrote it, for people.
    pub exporter: String,
    /// The exporter's identity.
    pub exporter_fingerprint: String,
    /// The recipient's name as the exporter registered it, for people.
    pub recipient: String,
    /// The recipient's identity.
    pub recipient_fingerprint: String,
    /// [`KEY_WRAP`].
    pub key_wrap: String,
    /// The AES-256 file key, RSA-OAEP-SHA256 to the recipient, base64.
    pub wrapped_file_key: String,
    /// The keys.
    pub keys: Vec<WrappedObject>,
    /// Their data units.
    pub data_units: Vec<DataUnitEntry>,
}

/// One key: its attributes and its sealed material.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedObject {
    /// ID, type, algorithm, length, state, name and attributes, as the exporter has them.
    pub meta: ObjectMeta,
    /// AES-GCM nonce, base64.
    pub nonce: String,
    /// AES-256-GCM ciphertext and tag of the material, base64.
    pub material: String,
}

/// A data unit and how each exported key was used on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataUnitEntry {
    /// Data unit ID.
    pub id: String,
    /// Barcode or volume serial.
    pub external_tag: Option<String>,
    /// The medium's own unique ID.
    pub external_unique_id: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The exported keys that encrypted it.
    pub keys: Vec<KeyUseEntry>,
}

/// One key's use on a data unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUseEntry {
    /// The key.
    pub key_id: String,
    /// Unix milliseconds.
    pub first_used_at: i64,
    /// Unix milliseconds.
    pub last_used_at: i64,
    /// Times handed out to write.
    pub writes: i64,
    /// Times handed out to read.
    pub reads: i64,
    /// Bytes written with it.
    pub bytes_written: i64,
    /// Bytes read with it.
    pub bytes_read: i64,
}

/// What an export puts in a file.
pub struct Export<'a> {
    /// Transfer ID.
    pub transfer_id: &'a str,
    /// Unix seconds.
    pub created_at: i64,
    /// The exporting node, for people.
    pub exporter: &'a str,
    /// The recipient's registered name.
    pub recipient_name: &'a str,
    /// The recipient's public identity.
    pub recipient: &'a PublicIdentity,
    /// The keys and their plaintext material.
    pub keys: Vec<(ObjectMeta, KeyMaterial)>,
    /// Their data units.
    pub data_units: Vec<DataUnitEntry>,
}

fn aad(transfer_id: &str, object_id: &str) -> Vec<u8> {
    format!("{MAGIC}\0{transfer_id}\0{object_id}").into_bytes()
}

fn random(len: usize) -> Result<KeyMaterial, TransferError> {
    let mut b = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| TransferError::Crypto("the system random generator failed".into()))?;
    Ok(KeyMaterial::new(b))
}

/// Writes the signed file text for `export`, signed by `signer`.
pub fn seal(signer: &Identity, export: Export<'_>) -> Result<String, TransferError> {
    let file_key = random(32)?;
    let cipher = Aes256Gcm::new_from_slice(file_key.expose_secret())
        .map_err(|_| TransferError::Crypto("AES-256-GCM key".into()))?;
    let mut keys = Vec::with_capacity(export.keys.len());
    for (meta, material) in &export.keys {
        let nonce = random(12)?;
        let n = Nonce::<Aes256Gcm>::try_from(nonce.expose_secret())
            .map_err(|_| TransferError::Crypto("AES-GCM nonce".into()))?;
        let ct = cipher
            .encrypt(
                &n,
                Payload {
                    msg: material.expose_secret(),
                    aad: &aad(export.transfer_id, &meta.id),
                },
            )
            .map_err(|_| TransferError::Crypto("AES-256-GCM".into()))?;
        keys.push(WrappedObject {
            meta: meta.clone(),
            nonce: B64.encode(nonce.expose_secret()),
            material: B64.encode(ct),
        });
    }
    let body = Body {
        transfer_id: export.transfer_id.to_owned(),
        created_at: export.created_at,
        exporter: export.exporter.to_owned(),
        exporter_fingerprint: signer.public().fingerprint(),
        recipient: export.recipient_name.to_owned(),
        recipient_fingerprint: export.recipient.fingerprint(),
        key_wrap: KEY_WRAP.to_owned(),
        wrapped_file_key: B64.encode(export.recipient.wrap_to(&file_key)?),
        keys,
        data_units: export.data_units,
    };
    let json = serde_json::to_string(&body)
        .map_err(|e| TransferError::Crypto(format!("encoding the body: {e}")))?;
    let signed = format!("{MAGIC}\n{json}\n");
    let sig = signer.sign(signed.as_bytes())?;
    Ok(format!(
        "{signed}{SIGNATURE_ALGORITHM} {}\n",
        B64.encode(sig)
    ))
}

/// A file that parses, not yet checked.
pub struct Parsed {
    body: Body,
    signed_len: usize,
    text: String,
    signature: Option<Vec<u8>>,
}

/// Parses a transfer file; nothing is checked but its shape.
pub fn parse(text: &str) -> Result<Parsed, TransferError> {
    let bad = |m: &str| TransferError::Malformed(m.to_owned());
    if text.len() > MAX_FILE_BYTES {
        return Err(bad("larger than 64 MiB"));
    }
    let rest = text
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix('\n'))
        .ok_or_else(|| bad("the first line is not `clavis-transfer-1`"))?;
    let nl = rest
        .find('\n')
        .ok_or_else(|| bad("no signature line (the file is cut short)"))?;
    let json = &rest[..nl];
    let signed_len = MAGIC.len() + 1 + nl + 1;
    let last = text[signed_len..].trim_end_matches('\n');
    if last.contains('\n') {
        return Err(bad("more than three lines"));
    }
    let sig_b64 = last
        .strip_prefix(SIGNATURE_ALGORITHM)
        .and_then(|s| s.strip_prefix(' '))
        .ok_or_else(|| bad("the last line is not `ecdsa-p256-sha256 SIGNATURE`"))?;
    let body: Body =
        serde_json::from_str(json).map_err(|e| TransferError::Malformed(format!("body: {e}")))?;
    if body.keys.len() > MAX_KEYS {
        return Err(bad("more than 100,000 keys"));
    }
    Ok(Parsed {
        body,
        signed_len,
        text: text.to_owned(),
        // A signature that is not base64 fails verification like any wrong one.
        signature: B64.decode(sig_b64).ok(),
    })
}

impl Parsed {
    /// The fingerprint of the identity that claims to have signed it.
    pub fn exporter_fingerprint(&self) -> &str {
        &self.body.exporter_fingerprint
    }

    /// The transfer ID claimed.
    pub fn transfer_id(&self) -> &str {
        &self.body.transfer_id
    }

    /// Checks the signature over the file's bytes with `signer`, the registered
    /// partner whose fingerprint the file names (`name`, for the error).
    pub fn verify(self, signer: &PublicIdentity, name: &str) -> Result<Verified, TransferError> {
        let ok = signer.fingerprint() == self.body.exporter_fingerprint
            && self
                .signature
                .as_deref()
                .is_some_and(|s| signer.verify(&self.text.as_bytes()[..self.signed_len], s));
        if !ok {
            return Err(TransferError::BadSignature(name.to_owned()));
        }
        Ok(Verified { body: self.body })
    }
}

/// A file whose signature verified.
pub struct Verified {
    body: Body,
}

/// A verified file addressed to us, with its keys decrypted.
pub struct Opened {
    /// The signed body (materials still sealed in it).
    pub body: Body,
    /// Each key's attributes and material, in file order.
    pub keys: Vec<(ObjectMeta, KeyMaterial)>,
}

impl Verified {
    /// The body as signed.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Checks that the file is addressed to `us` and decrypts every key. Any key that
    /// does not decrypt refuses the whole file.
    pub fn open(self, us: &Identity) -> Result<Opened, TransferError> {
        let ours = us.public().fingerprint();
        if self.body.recipient_fingerprint != ours {
            return Err(TransferError::WrongRecipient {
                got: self.body.recipient_fingerprint.clone(),
                ours,
            });
        }
        if self.body.key_wrap != KEY_WRAP {
            return Err(TransferError::Malformed(format!(
                "key wrap {:?} is not {KEY_WRAP}",
                self.body.key_wrap
            )));
        }
        let wrapped = B64
            .decode(&self.body.wrapped_file_key)
            .map_err(|_| TransferError::Malformed("wrapped_file_key is not base64".into()))?;
        let file_key = us
            .unwrap_file_key(&wrapped)
            .ok_or_else(|| TransferError::Undecryptable("(the file key)".into()))?;
        let cipher = Aes256Gcm::new_from_slice(file_key.expose_secret())
            .map_err(|_| TransferError::Malformed("the file key is not 32 bytes".into()))?;
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::with_capacity(self.body.keys.len());
        for k in &self.body.keys {
            let id = &k.meta.id;
            if !is_valid_object_id(id) || !seen.insert(id.clone()) {
                return Err(TransferError::Malformed(format!(
                    "key ID {:?} is not a UUID or appears twice",
                    id.chars().take(64).collect::<String>()
                )));
            }
            let undecryptable = || TransferError::Undecryptable(id.clone());
            let nonce = B64.decode(&k.nonce).map_err(|_| undecryptable())?;
            let nonce = Nonce::<Aes256Gcm>::try_from(&nonce[..]).map_err(|_| undecryptable())?;
            let ct = B64.decode(&k.material).map_err(|_| undecryptable())?;
            let plain = cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &ct,
                        aad: &aad(&self.body.transfer_id, id),
                    },
                )
                .map_err(|_| undecryptable())?;
            keys.push((k.meta.clone(), KeyMaterial::new(plain)));
        }
        Ok(Opened {
            body: self.body,
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, Attributes, ObjectType, State};

    /// Three identities shared by the tests (RSA key generation takes a while).
    fn ids() -> &'static [Identity; 3] {
        static IDS: std::sync::OnceLock<[Identity; 3]> = std::sync::OnceLock::new();
        IDS.get_or_init(|| [(); 3].map(|_| Identity::generate().expect("identity").0))
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            id: crate::keys::new_object_id(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state: State::Active,
            name: Some(name.into()),
            attributes: Attributes::default(),
            created_at: 1,
            updated_at: 2,
        }
    }

    fn file(signer: &Identity, to: &PublicIdentity) -> (String, Vec<ObjectMeta>) {
        let metas = vec![meta("alpha-key"), meta("beta-key")];
        let keys = metas
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), KeyMaterial::new(vec![i as u8 + 1; 32])))
            .collect();
        let text = seal(
            signer,
            Export {
                transfer_id: "0190f0a0-0000-7000-8000-000000000001",
                created_at: 10,
                exporter: "n1",
                recipient_name: "b",
                recipient: to,
                keys,
                data_units: vec![DataUnitEntry {
                    id: crate::keys::new_object_id(),
                    external_tag: Some("T00001L9".into()),
                    external_unique_id: Some("uid-1".into()),
                    description: None,
                    created_at: 5,
                    keys: vec![KeyUseEntry {
                        key_id: metas[0].id.clone(),
                        first_used_at: 1,
                        last_used_at: 2,
                        writes: 1,
                        reads: 0,
                        bytes_written: 0,
                        bytes_read: 0,
                    }],
                }],
            },
        )
        .expect("seal");
        (text, metas)
    }

    #[test]
    fn a_sealed_file_opens_for_its_recipient_only() {
        let [a, b, c] = ids();
        let (text, metas) = file(a, b.public());
        assert_eq!(text.lines().count(), 3);

        let p = parse(&text).expect("parse");
        assert_eq!(p.exporter_fingerprint(), a.public().fingerprint());
        let opened = p
            .verify(a.public(), "a")
            .expect("verify")
            .open(b)
            .expect("open");
        assert_eq!(opened.keys.len(), 2);
        assert_eq!(opened.keys[0].0, metas[0]);
        assert_eq!(opened.keys[1].1.expose_secret(), &[2u8; 32][..]);
        assert_eq!(opened.body.data_units[0].keys[0].key_id, metas[0].id);

        // Another identity's key does not verify it; another recipient cannot open it.
        let e = parse(&text).expect("parse").verify(c.public(), "c").err();
        assert_eq!(e, Some(TransferError::BadSignature("c".into())));
        let e = parse(&text)
            .expect("parse")
            .verify(a.public(), "a")
            .expect("verify")
            .open(c)
            .err();
        assert!(
            matches!(e, Some(TransferError::WrongRecipient { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let [a, b, _] = ids();
        let (text, _) = file(a, b.public());
        let bytes = text.as_bytes();
        // Every 7th byte, and the last byte before the final newline.
        let mut positions: Vec<usize> = (0..bytes.len() - 1).step_by(7).collect();
        positions.push(bytes.len() - 2);
        for at in positions {
            let mut changed = bytes.to_vec();
            changed[at] ^= 0x01;
            let Ok(s) = String::from_utf8(changed) else {
                continue;
            };
            let r = parse(&s).and_then(|p| p.verify(a.public(), "a"));
            assert!(
                matches!(
                    r,
                    Err(TransferError::Malformed(_)) | Err(TransferError::BadSignature(_))
                ),
                "byte {at} changed and still verified"
            );
        }
    }

    #[test]
    fn malformed_files_name_what_is_wrong() {
        for (text, want) in [
            ("", "first line"),
            ("clavis-transfer-1\n{}", "cut short"),
            ("clavis-transfer-1\n{}\nrsa xyz\n", "last line"),
            ("clavis-transfer-1\n{}\necdsa-p256-sha256 AA==\n", "body"),
        ] {
            let e = parse(text).err().expect("refused").to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
