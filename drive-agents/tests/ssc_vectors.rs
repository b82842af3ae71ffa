//! Byte-layout vectors for every security protocol page, written by hand
//! from the SPC-4 and SSC-4 layouts (byte offsets are those of the page,
//! header included), plus malformed pages, which must give errors, never
//! panics.
//!
//! Table numbers: only SSC-4 r03 Table 197 (key-associated data descriptor)
//! is cited by number; the other tables are named by their titles in the
//! tape data encryption security protocol clause (SSC-4 8.5).

use clavis_agent::ssc::{
    page, AlgorithmDescriptor, BlockEncryptionStatus, CapabilitiesPage, DecryptionMode,
    EncryptionMode, KadDescriptor, NextBlockPage, SetDataEncryptionPage, SscError, StatusPage,
    SupportedPages, SupportedProtocols,
};
use zeroize::Zeroizing;

/// SPC-4 "Supported security protocols SECURITY PROTOCOL IN parameter data":
/// bytes 0-5 reserved, 6-7 SUPPORTED SECURITY PROTOCOL LIST LENGTH, then one
/// byte per protocol.
const PROTOCOLS: &[u8] = &[
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved
    0x00, 0x02, // list length
    0x00, 0x20, // protocol information, tape data encryption
];

/// SSC-4 "Tape Data Encryption In Support page": page code 0000h, page
/// length, then 2-byte page codes.
const IN_SUPPORT: &[u8] = &[
    0x00, 0x00, 0x00, 0x0a, // page code, page length 10
    0x00, 0x00, 0x00, 0x01, 0x00, 0x10, 0x00, 0x20, 0x00, 0x21,
];

/// SSC-4 "Tape Data Encryption Out Support page": page code 0001h.
const OUT_SUPPORT: &[u8] = &[0x00, 0x01, 0x00, 0x02, 0x00, 0x10];

/// SSC-4 "Data Encryption Capabilities page" (0010h): byte 4 EXTDECC (3-2)
/// and CFG_P (1-0), bytes 5-19 reserved, algorithm descriptors from 20.
/// SSC-4 "Data encryption algorithm descriptor" (24 bytes): 0 ALGORITHM
/// INDEX, 2-3 DESCRIPTOR LENGTH (20), 4 AVFMV SDK_C MAC_C DELB_C
/// DECRYPT_C(2) ENCRYPT_C(2), 5 AVFCLP(2) NONCE_C(2) KADF_C VCELB_C UKADF
/// AKADF, 6-7 max U-KAD, 8-9 max A-KAD, 10-11 KEY SIZE, 12 DKAD_C(2)
/// EEMC_C(2) RDMC_C(3) EAREM, 13 MAX EEDK COUNT, 14-15 MSDK_COUNT,
/// 16-17 MAX EEDK SIZE, 18-19 reserved, 20-23 SECURITY ALGORITHM CODE.
const CAPABILITIES: &[u8] = &[
    0x00, 0x10, 0x00, 0x28, // page code, page length 40
    0x05, // EXTDECC 1, CFG_P 1
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // bytes 5-19 reserved
    0x01, 0x00, 0x00, 0x14, // algorithm index 1, descriptor length 20
    0xba, // AVFMV, MAC_C, DELB_C, DECRYPT_C 2 (hardware), ENCRYPT_C 2
    0x18, // NONCE_C 1 (drive generates), KADF_C
    0x00, 0x20, // max U-KAD 32
    0x00, 0x3c, // max A-KAD 60
    0x00, 0x20, // key size 32
    0x08, // RDMC_C 4
    0x00, // byte 13: maximum EEDK count
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // MSDK count, maximum EEDK size, reserved
    0x00, 0x01, 0x00, 0x14, // AES-256-GCM
];

/// SSC-4 "Data Encryption Status page" (0020h): 4 I_T NEXUS SCOPE (7-5) and
/// KEY SCOPE (2-0), 5 ENCRYPTION MODE, 6 DECRYPTION MODE, 7 ALGORITHM INDEX,
/// 8-11 KEY INSTANCE COUNTER, 12 PARAMETERS CONTROL (6-4) VCELB CEEMS(2)
/// RDMD, 13 KAD FORMAT, 14-15 ASDK COUNT, 16-23 reserved, KAD descriptors
/// (SSC-4 r03 Table 197: type, AUTHENTICATED (2-0), length, data) from 24.
const STATUS: &[u8] = &[
    0x00, 0x20, 0x00, 0x22, // page code, page length 34
    0x42, // I_T nexus scope 2, key scope 2
    0x02, 0x03, 0x01, // ENCRYPT, MIXED, algorithm 1
    0x00, 0x00, 0x00, 0x07, // key instance counter 7
    0x01, // RDMD
    0x01, // KAD format binary
    0x00, 0x00, // ASDK count
    0, 0, 0, 0, 0, 0, 0, 0, // reserved
    0x00, 0x01, 0x00, 0x04, b'T', b'A', b'P', b'E', // U-KAD, not authenticated
    0x01, 0x02, 0x00, 0x02, 0xab, 0xcd, // A-KAD, authentication not attempted
];

/// SSC-4 "Next Block Encryption Status page" (0021h): 4-11 LOGICAL OBJECT
/// NUMBER, 12 COMPRESSION STATUS (7-4) ENCRYPTION STATUS (3-0), 13
/// ALGORITHM INDEX, 14 EMES (1) RDMDS (0), 15 KAD FORMAT, KAD descriptors
/// (Table 197) from 16.
const NEXT_BLOCK: &[u8] = &[
    0x00, 0x21, 0x00, 0x1b, // page code, page length 27
    0, 0, 0, 0, 0, 0, 0, 0x05, // logical object 5
    0x06, // encrypted, key unavailable
    0x01, // algorithm 1
    0x01, // RDMDS
    0x01, // KAD format binary
    0x00, 0x01, 0x00, 0x03, b'K', b'1', b'2', // U-KAD
    0x01, 0x02, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef, // A-KAD
];

/// SSC-4 "Set Data Encryption page" (0010h, SECURITY PROTOCOL OUT): 4 SCOPE
/// (7-5) LOCK (0), 5 CEEM(2) RDMC(2) SDK CKOD CKORP CKORL, 6 ENCRYPTION MODE,
/// 7 DECRYPTION MODE, 8 ALGORITHM INDEX, 9 KEY FORMAT, 10 KAD FORMAT, 11-17
/// reserved, 18-19 KEY LENGTH, key, then KAD descriptors (Table 197).
fn set_data_encryption_vector() -> Vec<u8> {
    let mut v = vec![
        0x00, 0x10, 0x00, 0x3f, // page code, page length 63
        0x40, // scope 2 (all I_T nexus), no lock
        0x34, // RDMC 3 (raw read disabled), CKOD
        0x02, 0x03, 0x01, // ENCRYPT, MIXED, algorithm 1
        0x00, // key format: plain
        0x01, // KAD format binary
        0, 0, 0, 0, 0, 0, 0, // reserved
        0x00, 0x20, // key length 32
    ];
    v.extend(0u8..32); // the key
    v.extend([0x00, 0x00, 0x00, 0x04, b'u', b'k', b'a', b'd']); // U-KAD
    v.extend([0x01, 0x00, 0x00, 0x03, 1, 2, 3]); // A-KAD
    v
}

fn kad(kind: u8, authenticated: u8, data: &[u8]) -> KadDescriptor {
    KadDescriptor {
        kind,
        authenticated,
        data: data.to_vec(),
    }
}

fn set_data_encryption_page() -> SetDataEncryptionPage {
    let mut p = SetDataEncryptionPage::disable();
    p.scope = 2;
    p.rdmc = 3;
    p.ckod = true;
    p.encryption_mode = EncryptionMode::Encrypt;
    p.decryption_mode = DecryptionMode::Mixed;
    p.algorithm_index = 1;
    p.kad_format = 1;
    p.key = Zeroizing::new((0u8..32).collect());
    p.kads = vec![kad(0, 0, b"ukad"), kad(1, 0, &[1, 2, 3])];
    p
}

/// Every proper prefix of a valid page is an error, never a panic.
fn all_truncations_fail<T: std::fmt::Debug>(
    v: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, SscError>,
) {
    assert!(decode(v).is_ok());
    for n in 0..v.len() {
        assert!(decode(&v[..n]).is_err(), "prefix of {n} bytes decoded");
    }
}

/// Deterministic byte mutations: decoders may accept or refuse, not panic.
fn mutations_do_not_panic<T>(v: &[u8], decode: impl Fn(&[u8]) -> Result<T, SscError>) {
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let mut m = v.to_vec();
        let at = (x as usize) % m.len();
        m[at] = (x >> 8) as u8;
        let cut = (x >> 16) as usize % (m.len() + 1);
        let _ = decode(&m[..cut.max(at + 1).min(m.len())]);
        let _ = decode(&m);
    }
}

#[test]
fn supported_protocols() {
    let p = SupportedProtocols(vec![0x00, 0x20]);
    assert_eq!(p.encode().unwrap(), PROTOCOLS);
    assert_eq!(SupportedProtocols::decode(PROTOCOLS).unwrap(), p);
    all_truncations_fail(PROTOCOLS, SupportedProtocols::decode);
    mutations_do_not_panic(PROTOCOLS, SupportedProtocols::decode);
}

#[test]
fn in_and_out_support_pages() {
    let i = SupportedPages {
        code: page::IN_SUPPORT,
        pages: vec![0x0000, 0x0001, 0x0010, 0x0020, 0x0021],
    };
    assert_eq!(i.encode().unwrap(), IN_SUPPORT);
    assert_eq!(
        SupportedPages::decode(IN_SUPPORT, page::IN_SUPPORT).unwrap(),
        i
    );
    let o = SupportedPages {
        code: page::OUT_SUPPORT,
        pages: vec![0x0010],
    };
    assert_eq!(o.encode().unwrap(), OUT_SUPPORT);
    assert_eq!(
        SupportedPages::decode(OUT_SUPPORT, page::OUT_SUPPORT).unwrap(),
        o
    );
    all_truncations_fail(IN_SUPPORT, |b| SupportedPages::decode(b, page::IN_SUPPORT));
    mutations_do_not_panic(IN_SUPPORT, |b| SupportedPages::decode(b, page::IN_SUPPORT));
    // The wrong list, and an odd list length.
    assert!(matches!(
        SupportedPages::decode(OUT_SUPPORT, page::IN_SUPPORT),
        Err(SscError::PageCode { .. })
    ));
    assert!(matches!(
        SupportedPages::decode(&[0, 1, 0, 3, 0, 0x10, 0], page::OUT_SUPPORT),
        Err(SscError::OddLength { .. })
    ));
}

fn capabilities() -> CapabilitiesPage {
    CapabilitiesPage {
        extdecc: 1,
        cfg_p: 1,
        algorithms: vec![AlgorithmDescriptor {
            index: 1,
            avfmv: true,
            mac_c: true,
            delb_c: true,
            decrypt_c: 2,
            encrypt_c: 2,
            nonce_c: 1,
            kadf_c: true,
            max_ukad: 32,
            max_akad: 60,
            key_size: 32,
            rdmc_c: 4,
            security_algorithm_code: 0x0001_0014,
            ..Default::default()
        }],
    }
}

#[test]
fn capabilities_page() {
    assert_eq!(capabilities().encode().unwrap(), CAPABILITIES);
    assert_eq!(
        CapabilitiesPage::decode(CAPABILITIES).unwrap(),
        capabilities()
    );
    all_truncations_fail(CAPABILITIES, CapabilitiesPage::decode);
    mutations_do_not_panic(CAPABILITIES, CapabilitiesPage::decode);
}

#[test]
fn capabilities_descriptor_errors() {
    // Descriptor length running past the page.
    let mut v = CAPABILITIES.to_vec();
    v[23] = 0x15;
    assert!(matches!(
        CapabilitiesPage::decode(&v),
        Err(SscError::DescriptorOverrun { offset: 20, .. })
    ));
    // Descriptor too short to hold the key size.
    let mut v = CAPABILITIES.to_vec();
    v[23] = 0x04;
    assert!(matches!(
        CapabilitiesPage::decode(&v),
        Err(SscError::DescriptorOverrun { .. })
    ));
    // A partial descriptor header after the page's fixed part.
    let mut v = CAPABILITIES[..20].to_vec();
    v.extend([0x01, 0x00]);
    v[3] = 18;
    assert!(matches!(
        CapabilitiesPage::decode(&v),
        Err(SscError::DescriptorOverrun { .. })
    ));
    // An SSC-3 style short descriptor (length 8) decodes, later fields zero.
    let mut v = CAPABILITIES[..32].to_vec();
    v[3] = 28;
    v[23] = 8;
    let p = CapabilitiesPage::decode(&v).unwrap();
    assert_eq!(p.algorithms[0].key_size, 32);
    assert_eq!(p.algorithms[0].security_algorithm_code, 0);
}

fn status() -> StatusPage {
    StatusPage {
        it_nexus_scope: 2,
        key_scope: 2,
        encryption_mode: EncryptionMode::Encrypt,
        decryption_mode: DecryptionMode::Mixed,
        algorithm_index: 1,
        key_instance_counter: 7,
        parameters_control: 0,
        vcelb: false,
        ceems: 0,
        rdmd: true,
        kad_format: 1,
        asdk_count: 0,
        kads: vec![kad(0, 1, b"TAPE"), kad(1, 2, &[0xab, 0xcd])],
    }
}

#[test]
fn status_page() {
    assert_eq!(status().encode().unwrap(), STATUS);
    assert_eq!(StatusPage::decode(STATUS).unwrap(), status());
    all_truncations_fail(STATUS, StatusPage::decode);
    mutations_do_not_panic(STATUS, StatusPage::decode);
}

#[test]
fn status_page_errors() {
    // Page length below the fixed part.
    let mut v = STATUS.to_vec();
    v[3] = 0x10;
    assert!(matches!(
        StatusPage::decode(&v),
        Err(SscError::PageLength { declared: 16, .. })
    ));
    // KAD descriptor length past the end of the page.
    let mut v = STATUS.to_vec();
    v[24 + 3] = 0x40;
    assert!(matches!(
        StatusPage::decode(&v),
        Err(SscError::DescriptorOverrun { offset: 24, .. })
    ));
    // Page length past the buffer: the reply was cut.
    let mut v = STATUS.to_vec();
    v[3] = 0x30;
    assert!(matches!(
        StatusPage::decode(&v),
        Err(SscError::Truncated { declared: 0x30, .. })
    ));
    // Another page.
    assert!(matches!(
        StatusPage::decode(NEXT_BLOCK),
        Err(SscError::PageCode { .. })
    ));
}

fn next_block() -> NextBlockPage {
    NextBlockPage {
        logical_object_number: 5,
        compression_status: 0,
        encryption_status: BlockEncryptionStatus::EncryptedKeyUnavailable,
        algorithm_index: 1,
        emes: false,
        rdmds: true,
        kad_format: 1,
        kads: vec![kad(0, 1, b"K12"), kad(1, 2, &[0xde, 0xad, 0xbe, 0xef])],
    }
}

#[test]
fn next_block_page() {
    assert_eq!(next_block().encode().unwrap(), NEXT_BLOCK);
    assert_eq!(NextBlockPage::decode(NEXT_BLOCK).unwrap(), next_block());
    all_truncations_fail(NEXT_BLOCK, NextBlockPage::decode);
    mutations_do_not_panic(NEXT_BLOCK, NextBlockPage::decode);
    // Every ENCRYPTION STATUS value round-trips through the nibble.
    for v in 0..16u8 {
        assert_eq!(BlockEncryptionStatus::from_bits(v).bits(), v);
    }
}

#[test]
fn next_block_kad_overrun() {
    // The A-KAD claims 255 bytes.
    let mut v = NEXT_BLOCK.to_vec();
    v[16 + 7 + 2..16 + 7 + 4].copy_from_slice(&[0x00, 0xff]);
    assert!(matches!(
        NextBlockPage::decode(&v),
        Err(SscError::DescriptorOverrun { offset: 23, .. })
    ));
    // Three stray bytes where a descriptor header should be.
    let mut v = NEXT_BLOCK[..16].to_vec();
    v.extend([0x00, 0x00, 0x00]);
    v[3] = 15;
    assert!(matches!(
        NextBlockPage::decode(&v),
        Err(SscError::DescriptorOverrun { offset: 16, .. })
    ));
}

#[test]
fn set_data_encryption_page_vector() {
    let v = set_data_encryption_vector();
    assert_eq!(&set_data_encryption_page().encode().unwrap()[..], &v[..]);
    assert_eq!(
        SetDataEncryptionPage::decode(&v).unwrap(),
        set_data_encryption_page()
    );
    all_truncations_fail(&v, SetDataEncryptionPage::decode);
    mutations_do_not_panic(&v, SetDataEncryptionPage::decode);
    // Turning encryption off: no key, no descriptors.
    let off = SetDataEncryptionPage::disable().encode().unwrap();
    assert_eq!(
        &off[..],
        &[0, 0x10, 0, 16, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]
    );
}

#[test]
fn set_data_encryption_errors() {
    let v = set_data_encryption_vector();
    // Key format 02h (wrapped) is not supported.
    let mut m = v.clone();
    m[9] = 0x02;
    assert_eq!(
        SetDataEncryptionPage::decode(&m),
        Err(SscError::UnknownKeyFormat(2))
    );
    // Key length past the page.
    let mut m = v.clone();
    m[18..20].copy_from_slice(&[0x01, 0x00]);
    assert!(matches!(
        SetDataEncryptionPage::decode(&m),
        Err(SscError::DescriptorOverrun { offset: 20, .. })
    ));
    // KAD descriptor length past the page.
    let mut m = v.clone();
    m[52 + 3] = 0x20;
    assert!(matches!(
        SetDataEncryptionPage::decode(&m),
        Err(SscError::DescriptorOverrun { offset: 52, .. })
    ));
    // Page length below the fixed part.
    let mut m = v.clone();
    m[2..4].copy_from_slice(&[0, 10]);
    assert!(matches!(
        SetDataEncryptionPage::decode(&m),
        Err(SscError::PageLength { .. })
    ));
    // Short buffers.
    assert!(matches!(
        SetDataEncryptionPage::decode(&[0x00, 0x10]),
        Err(SscError::Short { .. })
    ));
    assert!(SetDataEncryptionPage::decode(&[]).is_err());
}

#[test]
fn encoding_refuses_oversized_fields() {
    let mut p = set_data_encryption_page();
    p.kads = vec![kad(0, 0, &vec![0u8; 70_000])];
    assert!(matches!(p.encode(), Err(SscError::TooLong { .. })));
}
