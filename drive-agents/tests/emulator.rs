//! The emulated drive through `LtoDrive`, in process and over the Unix
//! socket: one scenario run by both, as the agent and a backup application
//! would use a drive. Then malformed input, which must end in ILLEGAL
//! REQUEST, never in a panic.

use std::path::Path;

use clavis_agent::drive::{
    BlockEncryption, DecryptionMode, Drive, DriveFamily, EncryptionMode, KeyAssociatedData, KeyMode,
};
use clavis_agent::emu_socket::{EmuServer, EmuSocketTransport};
use clavis_agent::emulator::{tape_path, EmulatedDrive};
use clavis_agent::lto::LtoDrive;
use clavis_agent::scsi::host::{self, ReadOutcome};
use clavis_agent::scsi::{cdb, status, CommandError, DataDirection, ScsiReply, ScsiTransport};
use clavis_agent::sense::{Condition, Sense, SenseKey};
use clavis_agent::ssc::{self, SetDataEncryptionPage};
use std::time::Duration;
use zeroize::Zeroizing;

const KEY_1: [u8; 32] = [0x11; 32];
const KEY_2: [u8; 32] = [0x22; 32];
const BARCODE: &str = "CLV001L6";

fn block(i: u8) -> Vec<u8> {
    // Distinctive, so the tape file can be searched for it.
    let mut b = format!("PLAINTEXT-BLOCK-{i:03}-").into_bytes();
    b.resize(4096 + usize::from(i), b'a' + i);
    b
}

fn kad_1() -> KeyAssociatedData {
    KeyAssociatedData {
        authenticated: b"0192f1c0-key-0001".to_vec(),
        unauthenticated: b"clavis:group-a".to_vec(),
        ..Default::default()
    }
}

/// One drive as the agent (through `Drive`) and an application (raw CDBs) see it.
trait Station {
    fn drive(&mut self) -> &mut dyn Drive;
    fn app(&mut self) -> &mut dyn ScsiTransport;
    fn load(&mut self, barcode: &str);
    fn unload(&mut self);
}

struct Direct(LtoDrive<EmulatedDrive>);

impl Station for Direct {
    fn drive(&mut self) -> &mut dyn Drive {
        &mut self.0
    }
    fn app(&mut self) -> &mut dyn ScsiTransport {
        self.0.transport_mut()
    }
    fn load(&mut self, barcode: &str) {
        self.0.transport_mut().load(barcode).unwrap();
    }
    fn unload(&mut self) {
        self.0.transport_mut().unload();
    }
}

struct Socket {
    agent: LtoDrive<EmuSocketTransport>,
    app: EmuSocketTransport,
    _server: EmuServer,
}

impl Socket {
    fn new(serial: &str, library: &Path, socket: &Path) -> Socket {
        let server =
            EmuServer::spawn(EmulatedDrive::new(serial, library).unwrap(), socket).unwrap();
        Socket {
            agent: LtoDrive::new(EmuSocketTransport::connect(socket).unwrap()),
            app: EmuSocketTransport::connect(socket).unwrap(),
            _server: server,
        }
    }
}

impl Station for Socket {
    fn drive(&mut self) -> &mut dyn Drive {
        &mut self.agent
    }
    fn app(&mut self) -> &mut dyn ScsiTransport {
        &mut self.app
    }
    fn load(&mut self, barcode: &str) {
        self.app.load(barcode).unwrap();
    }
    fn unload(&mut self) {
        self.app.unload().unwrap();
    }
}

fn condition(e: &CommandError) -> Option<Condition> {
    e.sense().map(Sense::condition)
}

/// Write on drive A with a key, move the tape to drive B, read it back only
/// with the right key.
fn full_cycle(a: &mut dyn Station, b: &mut dyn Station, library: &Path) {
    // Who the drive is, and no tape yet.
    let info = a.drive().describe().unwrap();
    assert_eq!(info.vendor, "CLAVIS");
    assert_eq!(info.serial, "EMU-A");
    assert_eq!(
        info.family,
        DriveFamily::Lto {
            generation: Some(6)
        }
    );
    assert_eq!(a.drive().medium().unwrap(), None);
    let e = host::test_unit_ready(a.app()).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::NoMedium));

    a.load(BARCODE);
    let m = a.drive().medium().unwrap().unwrap();
    assert_eq!(m.barcode.as_deref(), Some(BARCODE));
    assert_eq!(
        m.serial.as_deref(),
        Some(EmulatedDrive::medium_serial(BARCODE).as_str())
    );

    // Capabilities: AES-256-GCM at index 1, LTO-5+ KAD limits.
    let caps = a.drive().capabilities().unwrap();
    assert_eq!(caps.algorithms.len(), 1);
    let alg = &caps.algorithms[0];
    assert_eq!(
        (alg.index, alg.key_len, alg.name()),
        (1, 32, Some("AES-256-GCM"))
    );
    assert!(alg.can_encrypt && alg.can_decrypt && !alg.nonce_from_application);
    let limits = a.drive().max_kad().unwrap();
    assert_eq!((limits.max_ukad, limits.max_akad), (32, 60));

    // No key: writes are refused, the agent is told a key is required.
    let e = host::write_block(a.app(), &block(0)).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::EncryptionKeyRequired));

    // The agent loads a key with its KAD; the status page shows it.
    a.drive()
        .load_key(&KEY_1, &kad_1(), KeyMode::Encrypt)
        .unwrap();
    let st = a.drive().status().unwrap();
    assert_eq!(st.encryption, EncryptionMode::Encrypt);
    assert_eq!(st.decryption, DecryptionMode::Mixed);
    assert_eq!(st.algorithm_index, 1);
    assert_eq!(st.kad, kad_1());
    let kic = st.key_instance_counter;
    assert!(kic > 0);

    // The application writes encrypted blocks and a filemark.
    for i in 0..3 {
        host::write_block(a.app(), &block(i)).unwrap();
    }
    host::write_filemarks(a.app(), 1).unwrap();
    host::rewind(a.app()).unwrap();
    let nb = a.drive().next_block().unwrap();
    assert_eq!(nb.state, BlockEncryption::EncryptedKeyAvailable);
    assert_eq!((nb.logical_object_number, nb.algorithm_index), (0, Some(1)));
    assert_eq!(nb.kad, kad_1());
    assert_eq!(
        host::read_block(a.app(), 1 << 20).unwrap(),
        ReadOutcome::Block(block(0))
    );

    // Unloading clears the key (CKOD).
    a.unload();
    let st = a.drive().status().unwrap();
    assert_eq!(st.encryption, EncryptionMode::Disable);
    assert!(st.kad.is_empty());
    assert_ne!(st.key_instance_counter, kic);

    // The tape file holds no plaintext.
    let raw = std::fs::read(tape_path(library, BARCODE)).unwrap();
    for i in 0..3 {
        let p = &block(i)[..24];
        assert!(!raw.windows(p.len()).any(|w| w == p), "block {i} in clear");
    }

    // Drive B: the next block needs a key it lacks; the KAD names it.
    b.load(BARCODE);
    let nb = b.drive().next_block().unwrap();
    assert_eq!(nb.state, BlockEncryption::EncryptedKeyUnavailable);
    assert_eq!(nb.kad, kad_1());
    let e = host::read_block(b.app(), 1 << 20).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::EncryptionKeyRequired));
    assert_eq!(b.drive().next_block().unwrap().logical_object_number, 0);

    // A wrong key is refused and the position does not move.
    b.drive()
        .load_key(&KEY_2, &KeyAssociatedData::default(), KeyMode::Read)
        .unwrap();
    let e = host::read_block(b.app(), 1 << 20).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::IncorrectKey));
    let nb = b.drive().next_block().unwrap();
    assert_eq!(nb.state, BlockEncryption::EncryptedKeyUnavailable);
    assert_eq!(nb.logical_object_number, 0);

    // The right key (loaded to read) reads everything back.
    b.drive()
        .load_key(&KEY_1, &KeyAssociatedData::default(), KeyMode::Read)
        .unwrap();
    assert_eq!(
        b.drive().next_block().unwrap().state,
        BlockEncryption::EncryptedKeyAvailable
    );
    for i in 0..3 {
        assert_eq!(
            host::read_block(b.app(), 1 << 20).unwrap(),
            ReadOutcome::Block(block(i))
        );
    }
    assert_eq!(
        b.drive().next_block().unwrap().state,
        BlockEncryption::NotABlock
    );
    assert_eq!(
        host::read_block(b.app(), 1 << 20).unwrap(),
        ReadOutcome::Filemark
    );
    assert_eq!(
        host::read_block(b.app(), 1 << 20).unwrap(),
        ReadOutcome::EndOfData
    );

    // A read key encrypts what is appended: the drive holds one key, and a
    // real drive with ENCRYPTION MODE DISABLE would write this in clear.
    let st = b.drive().status().unwrap();
    assert_eq!(
        (st.encryption, st.decryption),
        (EncryptionMode::Encrypt, DecryptionMode::Mixed)
    );
    let appended = b"APPENDED-AFTER-READ-0001";
    host::write_block(b.app(), appended).unwrap();
    host::rewind(b.app()).unwrap();
    for _ in 0..4 {
        host::read_block(b.app(), 1 << 20).unwrap(); // 3 blocks and the filemark
    }
    let nb = b.drive().next_block().unwrap();
    assert_eq!(nb.state, BlockEncryption::EncryptedKeyAvailable);
    assert_eq!(
        host::read_block(b.app(), 1 << 20).unwrap(),
        ReadOutcome::Block(appended.to_vec())
    );
    let raw = std::fs::read(tape_path(library, BARCODE)).unwrap();
    assert!(!raw.windows(appended.len()).any(|w| w == appended));

    // Clearing the key sets DISABLE, and like a real drive the emulator then
    // writes in clear (SSC-4 has no mode that refuses writes).
    b.drive().clear_key().unwrap();
    let st = b.drive().status().unwrap();
    assert_eq!(
        (st.encryption, st.decryption),
        (EncryptionMode::Disable, DecryptionMode::Disable)
    );
    let clear = b"WRITTEN-WITH-ENCRYPTION-DISABLED";
    host::write_block(b.app(), clear).unwrap();
    let raw = std::fs::read(tape_path(library, BARCODE)).unwrap();
    assert!(raw.windows(clear.len()).any(|w| w == clear));
}

#[test]
fn full_cycle_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    let mut a = Direct(LtoDrive::new(EmulatedDrive::new("EMU-A", &lib).unwrap()));
    let mut b = Direct(LtoDrive::new(EmulatedDrive::new("EMU-B", &lib).unwrap()));
    full_cycle(&mut a, &mut b, &lib);
}

#[test]
fn full_cycle_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    let mut a = Socket::new("EMU-A", &lib, &dir.path().join("a.sock"));
    let mut b = Socket::new("EMU-B", &lib, &dir.path().join("b.sock"));
    full_cycle(&mut a, &mut b, &lib);
}

#[test]
fn socket_control_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("d.sock");
    let _server =
        EmuServer::spawn(EmulatedDrive::new("EMU-C", dir.path()).unwrap(), &sock).unwrap();
    let mut t = EmuSocketTransport::connect(&sock).unwrap();
    assert!(t.load("../escape").is_err());
    // The connection survives a refused request.
    t.load("GOOD01").unwrap();
    host::test_unit_ready(&mut t).unwrap();
    t.unload().unwrap();
}

#[test]
fn the_emulator_binary_serves_a_drive() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bin.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clavis-drive-emu"))
        .arg("--socket")
        .arg(&sock)
        .arg("--library")
        .arg(dir.path().join("lib"))
        .args(["--serial", "EMU-BIN", "--load", "BIN001"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut t = None;
    for _ in 0..100 {
        if let Ok(c) = EmuSocketTransport::connect(&sock) {
            t = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = std::panic::catch_unwind(move || {
        let mut drive = LtoDrive::new(t.expect("emulator socket"));
        assert_eq!(drive.describe().unwrap().serial, "EMU-BIN");
        drive.load_key(&KEY_1, &kad_1(), KeyMode::Encrypt).unwrap();
        host::write_block(drive.transport_mut(), b"hello").unwrap();
        host::rewind(drive.transport_mut()).unwrap();
        assert_eq!(
            host::read_block(drive.transport_mut(), 64).unwrap(),
            ReadOutcome::Block(b"hello".to_vec())
        );
    });
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}

// ---- malformed input -------------------------------------------------------

fn loaded_drive(dir: &Path) -> EmulatedDrive {
    let mut d = EmulatedDrive::new("EMU-M", dir).unwrap();
    d.load("MAL001").unwrap();
    d
}

fn sense_of(r: &ScsiReply) -> Sense {
    assert_eq!(r.status, status::CHECK_CONDITION, "{r:?}");
    Sense::parse(&r.sense).unwrap()
}

fn spout(d: &mut EmulatedDrive, page: Vec<u8>) -> ScsiReply {
    let cdb = cdb::security_protocol_out(0x20, 0x0010, page.len() as u32);
    d.handle(&cdb, DataDirection::to_device(page))
}

fn good_page() -> SetDataEncryptionPage {
    let mut p = SetDataEncryptionPage::disable();
    p.encryption_mode = ssc::EncryptionMode::Encrypt;
    p.decryption_mode = ssc::DecryptionMode::Mixed;
    p.algorithm_index = 1;
    p.key = Zeroizing::new(KEY_1.to_vec());
    p.kads = kad_1().to_descriptors();
    p
}

#[test]
fn unknown_and_short_cdbs_are_illegal_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    let s = sense_of(&d.handle(&[0x28; 10], DataDirection::FromDevice(512)));
    assert_eq!(s.condition(), Condition::InvalidOperationCode);
    let s = sense_of(&d.handle(&[], DataDirection::None));
    assert_eq!(s.key, SenseKey::IllegalRequest);
    for op in [0x00u8, 0x01, 0x03, 0x08, 0x0a, 0x10, 0x12, 0x8c, 0xa2, 0xb5] {
        let s = sense_of(&d.handle(&[op, 0, 0], DataDirection::FromDevice(64)));
        assert_eq!(
            s.condition(),
            Condition::InvalidFieldInCdb,
            "opcode {op:#x}"
        );
    }
    // Fixed-block mode, INC_512, unknown pages and VPD pages.
    let bad: [&[u8]; 5] = [
        &[0x08, 0x01, 0, 0, 1, 0],
        &[0xa2, 0x20, 0, 0x20, 0x80, 0, 0, 0, 1, 0, 0, 0],
        &[0xa2, 0x20, 0, 0x99, 0, 0, 0, 0, 1, 0, 0, 0],
        &[0x12, 0x01, 0x83, 0, 255, 0],
        &[0x8c, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
    ];
    for c in bad {
        let s = sense_of(&d.handle(c, DataDirection::FromDevice(512)));
        assert_eq!(s.condition(), Condition::InvalidFieldInCdb, "{c:02x?}");
    }
}

#[test]
fn malformed_set_data_encryption_pages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    let good = good_page().encode().unwrap().to_vec();
    // Each truncation: a parameter list length or field error.
    for n in 0..good.len() {
        let s = sense_of(&spout(&mut d, good[..n].to_vec()));
        assert_eq!(s.key, SenseKey::IllegalRequest, "prefix {n}");
    }
    let refuse = |d: &mut EmulatedDrive, p: SetDataEncryptionPage| {
        let s = sense_of(&spout(d, p.encode().unwrap().to_vec()));
        assert_eq!(
            s.condition(),
            Condition::InvalidFieldInParameterList,
            "{p:?}"
        );
    };
    let mut p = good_page();
    p.key = Zeroizing::new(vec![1; 16]);
    refuse(&mut d, p);
    let mut p = good_page();
    p.decryption_mode = ssc::DecryptionMode::Raw;
    refuse(&mut d, p);
    let mut p = good_page();
    p.encryption_mode = ssc::EncryptionMode::External;
    refuse(&mut d, p);
    let mut p = good_page();
    p.algorithm_index = 7;
    refuse(&mut d, p);
    let mut p = good_page();
    p.kads.push(ssc::KadDescriptor {
        kind: ssc::kad_type::NONCE,
        authenticated: 0,
        data: vec![0; 12],
    });
    refuse(&mut d, p);
    let mut p = good_page();
    p.kads = KeyAssociatedData {
        authenticated: vec![0; 61],
        ..Default::default()
    }
    .to_descriptors();
    refuse(&mut d, p);
    let mut p = good_page();
    p.kads.push(p.kads[0].clone());
    refuse(&mut d, p);
    let mut p = good_page();
    p.sdk = true;
    refuse(&mut d, p);
    // Key format 02h.
    let mut raw = good.clone();
    raw[9] = 2;
    assert_eq!(
        sense_of(&spout(&mut d, raw)).condition(),
        Condition::InvalidFieldInParameterList
    );
    // Transfer length disagreeing with the data sent.
    let cdb = cdb::security_protocol_out(0x20, 0x0010, good.len() as u32 + 4);
    let s = sense_of(&d.handle(&cdb, DataDirection::to_device(good.clone())));
    assert_eq!(s.condition(), Condition::ParameterListLength);
    // Nothing was set by any of these.
    let r = d.handle(
        &cdb::security_protocol_in(0x20, 0x0020, 512),
        DataDirection::FromDevice(512),
    );
    let st = ssc::StatusPage::decode(&r.data).unwrap();
    assert_eq!(st.key_instance_counter, 0);
    // The good page is accepted.
    assert_eq!(spout(&mut d, good).status, status::GOOD);
}

#[test]
fn random_input_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    d.set_require_key_for_write(false);
    let ops = [
        0x00u8, 0x01, 0x03, 0x08, 0x0a, 0x10, 0x12, 0x8c, 0xa2, 0xb5, 0xff,
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..5000 {
        let r = next();
        let len = (r % 18) as usize;
        let mut cdb: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(c) = cdb.first_mut() {
            *c = ops[(r >> 8) as usize % ops.len()];
        }
        // Keep transfers small so the loop stays quick.
        if cdb.len() >= 6 && matches!(cdb[0], 0x08 | 0x0a | 0x10) {
            cdb[2] = 0;
            cdb[3] &= 0x0f;
        }
        let data_len = (next() % 300) as usize;
        let dir = match r % 3 {
            0 => DataDirection::None,
            1 => DataDirection::FromDevice(data_len),
            _ => DataDirection::to_device((0..data_len).map(|_| next() as u8).collect()),
        };
        let reply = d.handle(&cdb, dir);
        assert!(
            reply.status == status::GOOD || reply.status == status::CHECK_CONDITION,
            "{reply:?}"
        );
        if reply.status == status::CHECK_CONDITION {
            Sense::parse(&reply.sense).unwrap();
        }
    }
}

#[test]
fn incorrect_length_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    d.set_require_key_for_write(false);
    host::write_block(&mut d, &[7u8; 100]).unwrap();
    host::rewind(&mut d).unwrap();
    // Block longer than asked: ILI, residue negative, data cut, position moves.
    let r = d.handle(
        &cdb::read6_variable(40, true).unwrap(),
        DataDirection::FromDevice(40),
    );
    let s = sense_of(&r);
    assert!(s.ili);
    assert_eq!(s.information, Some(-60));
    assert_eq!(r.data.len(), 40);
    assert_eq!(
        host::read_block(&mut d, 200).unwrap(),
        ReadOutcome::EndOfData
    );
    // Shorter than asked without SILI: ILI with a positive residue and the data.
    host::rewind(&mut d).unwrap();
    let r = d.handle(
        &cdb::read6_variable(150, false).unwrap(),
        DataDirection::FromDevice(150),
    );
    let s = sense_of(&r);
    assert_eq!((s.ili, s.information), (true, Some(50)));
    assert_eq!(r.data, vec![7u8; 100]);
}

#[test]
fn plain_blocks_in_decrypt_mode_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    d.set_require_key_for_write(false);
    host::write_block(&mut d, b"clear").unwrap();
    let mut p = good_page();
    p.encryption_mode = ssc::EncryptionMode::Disable;
    p.decryption_mode = ssc::DecryptionMode::Decrypt;
    assert_eq!(
        spout(&mut d, p.encode().unwrap().to_vec()).status,
        status::GOOD
    );
    host::rewind(&mut d).unwrap();
    let e = host::read_block(&mut d, 64).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::UnencryptedWhileDecrypting));
}

#[test]
fn a_relabelled_block_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = loaded_drive(dir.path());
    assert_eq!(
        spout(&mut d, good_page().encode().unwrap().to_vec()).status,
        status::GOOD
    );
    host::write_block(&mut d, b"secret payload").unwrap();
    d.unload();
    // Rewrite the stored A-KAD on disk, as someone relabelling the block
    // with another key's identifier would.
    let path = tape_path(dir.path(), "MAL001");
    let mut raw = std::fs::read(&path).unwrap();
    let akad = kad_1().authenticated;
    let at = raw.windows(akad.len()).position(|w| w == akad).unwrap();
    raw[at] ^= 0x01;
    std::fs::write(&path, raw).unwrap();
    d.load("MAL001").unwrap();
    assert_eq!(
        spout(&mut d, good_page().encode().unwrap().to_vec()).status,
        status::GOOD
    );
    let e = host::read_block(&mut d, 64).unwrap_err();
    assert_eq!(condition(&e), Some(Condition::IncorrectKey));
}

/// LOG SENSE page 0Ch counts what the application moved since the tape was loaded.
#[test]
fn byte_counters_follow_application_io() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = LtoDrive::new(EmulatedDrive::new("EMU-L", dir.path()).unwrap());
    d.transport_mut().load("LOG001").unwrap();
    let zero = d.byte_counters().unwrap().unwrap();
    assert_eq!((zero.written, zero.read), (0, 0));
    d.load_key(&KEY_1, &kad_1(), KeyMode::Encrypt).unwrap();
    host::write_block(d.transport_mut(), &block(0)).unwrap();
    host::write_block(d.transport_mut(), &block(1)).unwrap();
    host::rewind(d.transport_mut()).unwrap();
    host::read_block(d.transport_mut(), 1 << 20).unwrap();
    let c = d.byte_counters().unwrap().unwrap();
    let (b0, b1) = (block(0).len() as u64, block(1).len() as u64);
    assert_eq!((c.written, c.read), (b0 + b1, b0));
    // A new tape starts from zero.
    d.transport_mut().load("LOG002").unwrap();
    let c = d.byte_counters().unwrap().unwrap();
    assert_eq!((c.written, c.read), (0, 0));
}

/// Log pages from a drive that are cut short or lie about lengths are errors.
#[test]
fn malformed_log_pages_are_errors() {
    use clavis_agent::scsi::data::{self, LogParameter};
    // SPC-4 log page format: code 0Ch, subpage 0, PAGE LENGTH 12, one parameter
    // (code 0000h, control 0, length 8, value 4096).
    let page = data::encode_log_page(
        0x0c,
        &[LogParameter {
            code: 0,
            control: 0,
            value: 4096u64.to_be_bytes().to_vec(),
        }],
    );
    assert_eq!(
        page,
        [0x0c, 0, 0, 12, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0]
    );
    let p = data::parse_log_page(&page, 0x0c).unwrap();
    assert_eq!(p[0].as_u64(), Some(4096));
    for n in 0..page.len() {
        assert!(
            data::parse_log_page(&page[..n], 0x0c).is_err(),
            "cut at {n}"
        );
    }
    assert!(data::parse_log_page(&page, 0x0d).is_err());
    let mut lying = page.clone();
    lying[7] = 9; // parameter longer than the page
    assert!(data::parse_log_page(&lying, 0x0c).is_err());
    let long = LogParameter {
        code: 0,
        control: 0,
        value: vec![1; 9],
    };
    assert_eq!(long.as_u64(), None);
}
