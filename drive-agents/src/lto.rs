//! [`LtoDrive`]: the [`Drive`] trait over T10 SSC commands, for LTO-4 and
//! later (and any drive speaking the tape data encryption protocol).
//!
//! It only builds CDBs, sends them through a [`ScsiTransport`] and decodes
//! the answers, so the same code runs against `/dev/sg*` and the emulator.
#![forbid(unsafe_code)]

use std::time::Duration;

use zeroize::Zeroizing;

use crate::drive::{
    BlockEncryption, ByteCounters, DecryptionMode, Drive, DriveError, DriveFamily, DriveInfo,
    EncryptionAlgorithm, EncryptionCapabilities, EncryptionMode, EncryptionStatus,
    KeyAssociatedData, KeyMode, Medium, NextBlockStatus,
};
use crate::scsi::{cdb, data, run, DataDirection, ScsiTransport};
use crate::sense::Condition;
use crate::ssc::{
    self, CapabilitiesPage, NextBlockPage, SetDataEncryptionPage, SscError, StatusPage,
};

/// Timeout for commands that do not move tape.
const SHORT: Duration = Duration::from_secs(60);
/// First allocation length for security protocol pages; retried larger
/// once if the page says it was cut.
const PAGE_ALLOC: usize = 8192;
/// SCOPE 2h, ALL I_T NEXUS: the backup application's own connection to the
/// drive (another I_T nexus) must see the key the agent sets.
const SCOPE_ALL_IT_NEXUS: u8 = 2;
/// RDMC 3h: raw reads of encrypted blocks disabled (ciphertext stays in the drive).
const RDMC_DISABLE_RAW: u8 = 3;
/// KAD FORMAT 01h: binary (the agent puts key identifiers in as bytes).
const KAD_FORMAT_BINARY: u8 = 1;

/// An LTO drive reached through a SCSI transport.
pub struct LtoDrive<T: ScsiTransport> {
    transport: T,
    capabilities: Option<EncryptionCapabilities>,
}

impl<T: ScsiTransport> LtoDrive<T> {
    /// Wrap a transport.
    pub fn new(transport: T) -> Self {
        LtoDrive {
            transport,
            capabilities: None,
        }
    }

    /// The transport (e.g. to issue block I/O on the same device).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Unwrap the transport.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// SECURITY PROTOCOL IN of one page, decoded with `decode`; retried once
    /// with the page's own length when the first allocation cut it.
    fn security_in<P>(
        &mut self,
        protocol: u8,
        page: u16,
        what: &'static str,
        decode: impl Fn(&[u8]) -> Result<P, SscError>,
    ) -> Result<P, DriveError> {
        let mut alloc = PAGE_ALLOC;
        loop {
            let cdb = cdb::security_protocol_in(protocol, page, alloc as u32);
            let data = run(
                &mut self.transport,
                "SECURITY PROTOCOL IN",
                &cdb,
                DataDirection::FromDevice(alloc),
                SHORT,
            )?;
            match decode(&data) {
                Err(SscError::Truncated { declared, .. }) if declared + 4 > alloc => {
                    alloc = declared + 4;
                }
                other => return other.map_err(|e| DriveError::malformed(what, e)),
            }
        }
    }

    fn security_out(&mut self, page: Zeroizing<Vec<u8>>) -> Result<(), DriveError> {
        let len = u32::try_from(page.len())
            .map_err(|_| DriveError::Invalid("security protocol out page too long".into()))?;
        let cdb = cdb::security_protocol_out(
            ssc::PROTOCOL_TAPE_ENCRYPTION,
            ssc::page::SET_DATA_ENCRYPTION,
            len,
        );
        run(
            &mut self.transport,
            "SECURITY PROTOCOL OUT",
            &cdb,
            DataDirection::ToDevice(page),
            SHORT,
        )?;
        Ok(())
    }

    /// READ ATTRIBUTE of one attribute; `None` when the medium lacks it.
    fn attribute(&mut self, id: u16) -> Result<Option<String>, DriveError> {
        let alloc = 512;
        let reply = run(
            &mut self.transport,
            "READ ATTRIBUTE",
            &cdb::read_attribute_values(id, alloc),
            DataDirection::FromDevice(alloc as usize),
            SHORT,
        );
        let bytes = match reply {
            Ok(b) => b,
            // No MAM, or this attribute not present: not an error for the agent.
            Err(e)
                if matches!(
                    e.sense().map(|s| s.condition()),
                    Some(Condition::InvalidFieldInCdb)
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        };
        let attrs = data::parse_attributes(&bytes)
            .map_err(|e| DriveError::malformed("attribute values", e))?;
        Ok(attrs
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.text())
            .filter(|s| !s.is_empty()))
    }
}

fn to_capabilities(page: CapabilitiesPage) -> EncryptionCapabilities {
    EncryptionCapabilities {
        configuration_prevented: page.cfg_p == 2,
        algorithms: page
            .algorithms
            .iter()
            .map(|a| EncryptionAlgorithm {
                index: a.index,
                code: a.security_algorithm_code,
                key_len: usize::from(a.key_size),
                can_encrypt: a.encrypt_c != 0,
                can_decrypt: a.decrypt_c != 0,
                max_ukad: usize::from(a.max_ukad),
                max_akad: usize::from(a.max_akad),
                nonce_from_application: a.nonce_c == 2,
            })
            .collect(),
    }
}

impl<T: ScsiTransport> Drive for LtoDrive<T> {
    fn describe(&mut self) -> Result<DriveInfo, DriveError> {
        let inq = run(
            &mut self.transport,
            "INQUIRY",
            &cdb::inquiry(96),
            DataDirection::FromDevice(96),
            SHORT,
        )?;
        let inq =
            data::InquiryData::parse(&inq).map_err(|e| DriveError::malformed("INQUIRY data", e))?;
        let vpd = run(
            &mut self.transport,
            "INQUIRY",
            &cdb::inquiry_vpd(data::VPD_UNIT_SERIAL, 255),
            DataDirection::FromDevice(255),
            SHORT,
        )?;
        let serial = data::parse_unit_serial(&vpd)
            .map_err(|e| DriveError::malformed("unit serial number page", e))?;
        Ok(DriveInfo {
            family: DriveFamily::detect(&inq.vendor, &inq.product),
            vendor: inq.vendor,
            product: inq.product,
            revision: inq.revision,
            serial,
        })
    }

    fn medium(&mut self) -> Result<Option<Medium>, DriveError> {
        // A unit attention (tape just loaded) is reported once: ask again.
        let mut tries = 0;
        loop {
            let r = run(
                &mut self.transport,
                "TEST UNIT READY",
                &cdb::test_unit_ready(),
                DataDirection::None,
                SHORT,
            );
            match r.map_err(DriveError::from) {
                Ok(_) => break,
                Err(e) if e.condition() == Some(Condition::NoMedium) => return Ok(None),
                Err(e) if e.condition() == Some(Condition::UnitAttention) && tries < 2 => {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Some(Medium {
            barcode: self.attribute(data::ATTR_BARCODE)?,
            serial: self.attribute(data::ATTR_MEDIUM_SERIAL_NUMBER)?,
        }))
    }

    fn capabilities(&mut self) -> Result<EncryptionCapabilities, DriveError> {
        if let Some(c) = &self.capabilities {
            return Ok(c.clone());
        }
        let page = self.security_in(
            ssc::PROTOCOL_TAPE_ENCRYPTION,
            ssc::page::CAPABILITIES,
            "data encryption capabilities page",
            CapabilitiesPage::decode,
        )?;
        let caps = to_capabilities(page);
        self.capabilities = Some(caps.clone());
        Ok(caps)
    }

    fn load_key(
        &mut self,
        key: &[u8],
        kad: &KeyAssociatedData,
        // Both modes load the same way on LTO; other families may differ.
        _mode: KeyMode,
    ) -> Result<(), DriveError> {
        let caps = self.capabilities()?;
        if caps.configuration_prevented {
            return Err(DriveError::Unsupported(
                "the drive's encryption is configured elsewhere (CFG_P)".into(),
            ));
        }
        let alg = caps.algorithm_for_key(key.len()).ok_or_else(|| {
            DriveError::Unsupported(format!("no algorithm takes {}-byte keys", key.len()))
        })?;
        if kad.unauthenticated.len() > alg.max_ukad || kad.authenticated.len() > alg.max_akad {
            return Err(DriveError::Invalid(format!(
                "KAD of {} U-KAD and {} A-KAD bytes exceeds the drive's {} and {}",
                kad.unauthenticated.len(),
                kad.authenticated.len(),
                alg.max_ukad,
                alg.max_akad
            )));
        }
        if !kad.nonce.is_empty() {
            // Nonces are the drive's business: a reused GCM nonce leaks data.
            return Err(DriveError::Invalid(
                "the agent never supplies nonces".into(),
            ));
        }
        let mut page = SetDataEncryptionPage::disable();
        page.scope = SCOPE_ALL_IT_NEXUS;
        // Clear the key when the tape leaves the drive, so the next tape
        // never meets this one's key.
        page.ckod = true;
        page.rdmc = RDMC_DISABLE_RAW;
        // ENCRYPT in both modes: DISABLE would make a drive holding a read key
        // write appended data in clear (see KeyMode). MIXED reads the
        // unencrypted labels some applications write before encrypted data.
        page.encryption_mode = EncryptionMode::Encrypt;
        page.decryption_mode = DecryptionMode::Mixed;
        page.algorithm_index = alg.index;
        page.kad_format = KAD_FORMAT_BINARY;
        page.key = Zeroizing::new(key.to_vec());
        page.kads = kad.to_descriptors();
        let bytes = page
            .encode()
            .map_err(|e| DriveError::Invalid(format!("set data encryption page: {e}")))?;
        self.security_out(bytes)
    }

    fn clear_key(&mut self) -> Result<(), DriveError> {
        let mut page = SetDataEncryptionPage::disable();
        page.scope = SCOPE_ALL_IT_NEXUS;
        if let Some(a) = self.capabilities()?.algorithms.first() {
            page.algorithm_index = a.index;
        }
        let bytes = page
            .encode()
            .map_err(|e| DriveError::Invalid(format!("set data encryption page: {e}")))?;
        self.security_out(bytes)
    }

    fn status(&mut self) -> Result<EncryptionStatus, DriveError> {
        let p = self.security_in(
            ssc::PROTOCOL_TAPE_ENCRYPTION,
            ssc::page::STATUS,
            "data encryption status page",
            StatusPage::decode,
        )?;
        Ok(EncryptionStatus {
            encryption: p.encryption_mode,
            decryption: p.decryption_mode,
            algorithm_index: p.algorithm_index,
            key_instance_counter: p.key_instance_counter,
            kad: KeyAssociatedData::from_descriptors(&p.kads),
        })
    }

    fn byte_counters(&mut self) -> Result<Option<ByteCounters>, DriveError> {
        let alloc: u16 = 1024;
        let reply = run(
            &mut self.transport,
            "LOG SENSE",
            &cdb::log_sense(data::LOG_SEQUENTIAL_ACCESS, alloc),
            DataDirection::FromDevice(usize::from(alloc)),
            SHORT,
        );
        let bytes = match reply {
            Ok(b) => b,
            // A drive without page 0Ch: counts are unknown, not an error.
            Err(e)
                if matches!(
                    e.sense().map(|s| s.condition()),
                    Some(Condition::InvalidFieldInCdb)
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        };
        let params = data::parse_log_page(&bytes, data::LOG_SEQUENTIAL_ACCESS)
            .map_err(|e| DriveError::malformed("sequential-access device log page", e))?;
        let value = |code| {
            params
                .iter()
                .find(|p| p.code == code)
                .and_then(data::LogParameter::as_u64)
        };
        Ok(
            match (
                value(data::LOG_BYTES_FROM_APPLICATION),
                value(data::LOG_BYTES_TO_APPLICATION),
            ) {
                (Some(written), Some(read)) => Some(ByteCounters { written, read }),
                _ => None,
            },
        )
    }

    fn next_block(&mut self) -> Result<NextBlockStatus, DriveError> {
        let p = self.security_in(
            ssc::PROTOCOL_TAPE_ENCRYPTION,
            ssc::page::NEXT_BLOCK_STATUS,
            "next block encryption status page",
            NextBlockPage::decode,
        )?;
        let state = BlockEncryption::from(p.encryption_status);
        let encrypted = matches!(
            state,
            BlockEncryption::EncryptedKeyAvailable | BlockEncryption::EncryptedKeyUnavailable
        );
        Ok(NextBlockStatus {
            logical_object_number: p.logical_object_number,
            state,
            algorithm_index: encrypted.then_some(p.algorithm_index),
            kad: KeyAssociatedData::from_descriptors(&p.kads),
        })
    }
}
