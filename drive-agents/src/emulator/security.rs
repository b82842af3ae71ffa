//! SECURITY PROTOCOL IN and OUT on the emulated drive: the pages of the
//! tape data encryption protocol, and the validation of Set Data Encryption.
#![forbid(unsafe_code)]

use zeroize::Zeroizing;

use super::tape::Record;
use super::{crypt, illegal, EmulatedDrive, Encryption, Outcome};
use super::{MAX_AKAD, MAX_MKAD, MAX_UKAD};
use crate::scsi::DataDirection;
use crate::sense::asc;
use crate::ssc::{
    self, authenticated, kad_type, page, AlgorithmDescriptor, BlockEncryptionStatus,
    CapabilitiesPage, DecryptionMode, EncryptionMode, KadDescriptor, KeyAssociatedData,
    NextBlockPage, SetDataEncryptionPage, SscError, StatusPage, SupportedPages, SupportedProtocols,
};

/// A page encoding failure cannot happen for the emulator's own pages; if
/// it did, refuse the command rather than panic.
fn encoded(r: Result<Vec<u8>, SscError>) -> Outcome {
    r.or_else(|_| illegal(asc::INVALID_FIELD_IN_CDB))
}

/// The one algorithm: AES-256-GCM, index 1, like an LTO-5+ drive.
fn algorithm() -> AlgorithmDescriptor {
    AlgorithmDescriptor {
        index: crypt::ALGORITHM_INDEX,
        avfmv: true,
        mac_c: true,
        delb_c: true,
        decrypt_c: 2, // hardware
        encrypt_c: 2,
        nonce_c: 1, // the drive generates nonces
        kadf_c: true,
        vcelb_c: false,
        max_ukad: MAX_UKAD as u16,
        max_akad: MAX_AKAD as u16,
        key_size: crypt::KEY_LEN as u16,
        rdmc_c: 4, // raw decryption disabled unless enabled; we never enable it
        security_algorithm_code: ssc::ALGORITHM_AES256_GCM,
        ..Default::default()
    }
}

fn kads_with(kad: &KeyAssociatedData, akad_auth: u8) -> Vec<KadDescriptor> {
    kad.to_descriptors()
        .into_iter()
        .map(|mut d| {
            d.authenticated = if d.kind == kad_type::AKAD {
                akad_auth
            } else {
                authenticated::NOT_AUTHENTICATED
            };
            d
        })
        .collect()
}

impl EmulatedDrive {
    pub(super) fn security_in(&mut self, protocol: u8, specific: u16) -> Outcome {
        match (protocol, specific) {
            (ssc::PROTOCOL_INFORMATION, ssc::SUPPORTED_PROTOCOLS_LIST) => encoded(
                SupportedProtocols(vec![
                    ssc::PROTOCOL_INFORMATION,
                    ssc::PROTOCOL_TAPE_ENCRYPTION,
                ])
                .encode(),
            ),
            (ssc::PROTOCOL_TAPE_ENCRYPTION, page::IN_SUPPORT) => encoded(
                SupportedPages {
                    code: page::IN_SUPPORT,
                    pages: vec![
                        page::IN_SUPPORT,
                        page::OUT_SUPPORT,
                        page::CAPABILITIES,
                        page::STATUS,
                        page::NEXT_BLOCK_STATUS,
                    ],
                }
                .encode(),
            ),
            (ssc::PROTOCOL_TAPE_ENCRYPTION, page::OUT_SUPPORT) => encoded(
                SupportedPages {
                    code: page::OUT_SUPPORT,
                    pages: vec![page::SET_DATA_ENCRYPTION],
                }
                .encode(),
            ),
            (ssc::PROTOCOL_TAPE_ENCRYPTION, page::CAPABILITIES) => encoded(
                CapabilitiesPage {
                    extdecc: 1, // not capable of external data encryption control
                    cfg_p: 1,   // configuration allowed
                    algorithms: vec![algorithm()],
                }
                .encode(),
            ),
            (ssc::PROTOCOL_TAPE_ENCRYPTION, page::STATUS) => self.status_page(),
            (ssc::PROTOCOL_TAPE_ENCRYPTION, page::NEXT_BLOCK_STATUS) => self.next_block_page(),
            _ => illegal(asc::INVALID_FIELD_IN_CDB),
        }
    }

    fn status_page(&self) -> Outcome {
        let e = &self.enc;
        encoded(
            StatusPage {
                it_nexus_scope: e.scope,
                key_scope: e.scope,
                encryption_mode: e.encryption,
                decryption_mode: e.decryption,
                algorithm_index: e.algorithm_index,
                key_instance_counter: self.key_instance_counter,
                parameters_control: 0,
                vcelb: false,
                ceems: 0,
                rdmd: e.rdmc == 3,
                kad_format: e.kad_format,
                asdk_count: 0,
                kads: kads_with(&e.kad, authenticated::NOT_ATTEMPTED),
            }
            .encode(),
        )
    }

    fn next_block_page(&mut self) -> Outcome {
        let pos = self.position;
        let Some(tape) = self.tape.as_ref() else {
            return super::fail(crate::sense::SenseKey::NotReady, asc::MEDIUM_NOT_PRESENT);
        };
        let mut page = NextBlockPage {
            logical_object_number: pos as u64,
            compression_status: 0,
            encryption_status: BlockEncryptionStatus::NotALogicalBlock,
            algorithm_index: 0,
            emes: false,
            rdmds: false,
            kad_format: 0,
            kads: Vec::new(),
        };
        match tape.records.get(pos) {
            None | Some(Record::Filemark) => {}
            Some(Record::Block { sealing: None, .. }) => {
                page.encryption_status = BlockEncryptionStatus::NotEncrypted;
            }
            Some(Record::Block {
                sealing: Some(s),
                payload,
            }) => {
                page.algorithm_index = s.algorithm_index;
                page.kad_format = s.kad_format;
                page.rdmds = true;
                let (status, auth) = if s.algorithm_index != crypt::ALGORITHM_INDEX {
                    (
                        BlockEncryptionStatus::UnsupportedAlgorithm,
                        authenticated::NOT_ATTEMPTED,
                    )
                } else {
                    // Whether the loaded key opens it is the only honest test.
                    match self.enc.decrypting_key() {
                        None => (
                            BlockEncryptionStatus::EncryptedKeyUnavailable,
                            authenticated::NOT_ATTEMPTED,
                        ),
                        Some(k) if crypt::open(k, s, payload).is_some() => {
                            (BlockEncryptionStatus::Encrypted, authenticated::SUCCESS)
                        }
                        Some(_) => (
                            BlockEncryptionStatus::EncryptedKeyUnavailable,
                            authenticated::FAILED,
                        ),
                    }
                };
                page.encryption_status = status;
                page.kads = kads_with(&s.kad, auth);
            }
        }
        encoded(page.encode())
    }

    pub(super) fn security_out(
        &mut self,
        protocol: u8,
        specific: u16,
        len: u32,
        dir: DataDirection,
    ) -> Outcome {
        if protocol != ssc::PROTOCOL_TAPE_ENCRYPTION || specific != page::SET_DATA_ENCRYPTION {
            return illegal(asc::INVALID_FIELD_IN_CDB);
        }
        let data = match dir {
            DataDirection::ToDevice(d) if d.len() == len as usize => d,
            _ => return illegal(asc::PARAMETER_LIST_LENGTH_ERROR),
        };
        let p = match SetDataEncryptionPage::decode(&data) {
            Ok(p) => p,
            Err(SscError::Truncated { .. }) | Err(SscError::Short { .. }) => {
                return illegal(asc::PARAMETER_LIST_LENGTH_ERROR)
            }
            Err(_) => return illegal(asc::INVALID_FIELD_IN_PARAMETER_LIST),
        };
        match validate(&p) {
            Some(enc) => {
                self.enc = enc;
                self.key_instance_counter = self.key_instance_counter.wrapping_add(1);
                Ok(Vec::new())
            }
            None => illegal(asc::INVALID_FIELD_IN_PARAMETER_LIST),
        }
    }
}

/// The new parameters, or `None` when the page asks for something this
/// drive does not do.
fn validate(p: &SetDataEncryptionPage) -> Option<Encryption> {
    if p.scope > 2 || p.sdk || p.rdmc == 1 {
        return None;
    }
    let encrypt = match p.encryption_mode {
        EncryptionMode::Disable => false,
        EncryptionMode::Encrypt => true,
        _ => return None, // external and reserved modes
    };
    let decrypt = match p.decryption_mode {
        DecryptionMode::Disable => false,
        DecryptionMode::Decrypt | DecryptionMode::Mixed => true,
        _ => return None, // raw and reserved modes
    };
    let mut seen = [false; 4];
    for d in &p.kads {
        let limit = match d.kind {
            kad_type::UKAD => MAX_UKAD,
            kad_type::AKAD => MAX_AKAD,
            kad_type::MKAD => MAX_MKAD,
            // Nonces are generated by the drive; unknown types are refused.
            _ => return None,
        };
        let slot = seen.get_mut(usize::from(d.kind))?;
        if *slot || d.data.len() > limit {
            return None;
        }
        *slot = true;
    }
    if !encrypt && !decrypt {
        return Some(Encryption {
            scope: p.scope,
            host_disabled: true,
            ..Encryption::off()
        });
    }
    if p.algorithm_index != crypt::ALGORITHM_INDEX {
        return None;
    }
    let key: [u8; crypt::KEY_LEN] = p.key.as_slice().try_into().ok()?;
    Some(Encryption {
        encryption: p.encryption_mode,
        decryption: p.decryption_mode,
        algorithm_index: p.algorithm_index,
        kad_format: p.kad_format,
        scope: p.scope,
        ckod: p.ckod,
        rdmc: p.rdmc,
        key: Some(Zeroizing::new(key)),
        kad: KeyAssociatedData::from_descriptors(&p.kads),
        host_disabled: !encrypt,
    })
}
