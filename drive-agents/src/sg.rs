//! [`SgDevice`]: a [`ScsiTransport`] over the Linux SCSI generic driver
//! (`/dev/sgN`, or `/dev/tape/by-id/...-nst`'s `-sg` sibling).
//!
//! The only `unsafe` of the crate lives here: the `SG_IO` and
//! `SG_GET_VERSION_NUM` ioctls, with `sg_io_hdr` laid out exactly as in
//! `include/scsi/sg.h`. The pure parts (building the header, mapping host
//! and driver status) are separate functions, tested without hardware.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::libc::{c_int, c_uchar, c_uint, c_ushort, c_void};

use crate::scsi::{status, DataDirection, ScsiReply, ScsiTransport, TransportError};

/// `interface_id` of the v3 interface.
const SG_INTERFACE_ID: c_int = b'S' as c_int;
const SG_DXFER_NONE: c_int = -1;
const SG_DXFER_TO_DEV: c_int = -2;
const SG_DXFER_FROM_DEV: c_int = -3;
/// Sense buffer size: fixed and descriptor sense both fit.
const SENSE_LEN: usize = 64;
/// Version 3.0 of the sg driver brought SG_IO.
const MIN_SG_VERSION: c_int = 30000;

/// `struct sg_io_hdr` of `include/scsi/sg.h` (88 bytes on 64-bit Linux).
#[repr(C)]
#[derive(Debug)]
struct SgIoHdr {
    interface_id: c_int,
    dxfer_direction: c_int,
    cmd_len: c_uchar,
    mx_sb_len: c_uchar,
    iovec_count: c_ushort,
    dxfer_len: c_uint,
    dxferp: *mut c_void,
    cmdp: *mut c_uchar,
    sbp: *mut c_uchar,
    timeout: c_uint,
    flags: c_uint,
    pack_id: c_int,
    usr_ptr: *mut c_void,
    status: c_uchar,
    masked_status: c_uchar,
    msg_status: c_uchar,
    sb_len_wr: c_uchar,
    host_status: c_ushort,
    driver_status: c_ushort,
    resid: c_int,
    duration: c_uint,
    info: c_uint,
}

mod ioctl {
    use super::SgIoHdr;
    use nix::libc::c_int;
    // SG_IO and SG_GET_VERSION_NUM predate the _IOWR encoding: "bad" ioctls.
    nix::ioctl_readwrite_bad!(sg_io, 0x2285, SgIoHdr);
    nix::ioctl_read_bad!(sg_get_version_num, 0x2282, c_int);
}

/// Build the header for one command; pointers refer to the caller's buffers,
/// which must outlive the ioctl.
fn build_header(
    cdb: &mut [u8],
    data: Option<(&mut [u8], c_int)>,
    sense: &mut [u8; SENSE_LEN],
    timeout: Duration,
) -> Result<SgIoHdr, TransportError> {
    let cmd_len = c_uchar::try_from(cdb.len())
        .ok()
        .filter(|&n| (6..=16).contains(&n))
        .ok_or_else(|| TransportError::Invalid(format!("CDB of {} bytes", cdb.len())))?;
    let (dxferp, dxfer_len, dxfer_direction) = match data {
        Some((buf, dir)) => {
            let len = c_uint::try_from(buf.len())
                .map_err(|_| TransportError::Invalid(format!("transfer of {} bytes", buf.len())))?;
            (buf.as_mut_ptr().cast::<c_void>(), len, dir)
        }
        None => (std::ptr::null_mut(), 0, SG_DXFER_NONE),
    };
    Ok(SgIoHdr {
        interface_id: SG_INTERFACE_ID,
        dxfer_direction,
        cmd_len,
        mx_sb_len: SENSE_LEN as c_uchar,
        iovec_count: 0,
        dxfer_len,
        dxferp,
        cmdp: cdb.as_mut_ptr(),
        sbp: sense.as_mut_ptr(),
        // Milliseconds; at least one, and u32::MAX means "none" to the driver.
        timeout: c_uint::try_from(timeout.as_millis())
            .unwrap_or(c_uint::MAX)
            .max(1),
        flags: 0,
        pack_id: 0,
        usr_ptr: std::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    })
}

/// Names of the Linux host byte codes (`DID_*`).
fn host_name(code: u16) -> &'static str {
    match code {
        0x01 => "DID_NO_CONNECT",
        0x02 => "DID_BUS_BUSY",
        0x03 => "DID_TIME_OUT",
        0x04 => "DID_BAD_TARGET",
        0x05 => "DID_ABORT",
        0x06 => "DID_PARITY",
        0x07 => "DID_ERROR",
        0x08 => "DID_RESET",
        0x09 => "DID_BAD_INTR",
        0x0a => "DID_PASSTHROUGH",
        0x0b => "DID_SOFT_ERROR",
        0x0c => "DID_IMM_RETRY",
        0x0d => "DID_REQUEUE",
        0x0e => "DID_TRANSPORT_DISRUPTED",
        0x0f => "DID_TRANSPORT_FAILFAST",
        0x10 => "DID_TARGET_FAILURE",
        0x11 => "DID_NEXUS_FAILURE",
        0x12 => "DID_ALLOC_FAILURE",
        0x13 => "DID_MEDIUM_ERROR",
        _ => "DID_UNKNOWN",
    }
}

/// Names of the Linux driver byte codes (`DRIVER_*`, low nibble).
fn driver_name(code: u16) -> &'static str {
    match code & 0x0f {
        0x01 => "DRIVER_BUSY",
        0x02 => "DRIVER_SOFT",
        0x03 => "DRIVER_MEDIA",
        0x04 => "DRIVER_ERROR",
        0x05 => "DRIVER_INVALID",
        0x06 => "DRIVER_TIMEOUT",
        0x07 => "DRIVER_HARD",
        _ => "DRIVER_UNKNOWN",
    }
}

const DID_TIME_OUT: u16 = 0x03;
const DRIVER_TIMEOUT: u16 = 0x06;
/// DRIVER_SENSE only says sense data is present: not an error.
const DRIVER_SENSE: u16 = 0x08;

/// The SCSI status of a completed SG_IO, or the transport error its host
/// and driver bytes report.
fn classify(
    scsi_status: u8,
    masked_status: u8,
    host_status: u16,
    driver_status: u16,
    sense_len: usize,
) -> Result<u8, TransportError> {
    let driver = driver_status & 0x0f;
    if host_status == DID_TIME_OUT || driver == DRIVER_TIMEOUT {
        return Err(TransportError::Timeout);
    }
    if host_status != 0 {
        return Err(TransportError::Host {
            code: host_status,
            name: host_name(host_status),
        });
    }
    if driver != 0 && driver != DRIVER_SENSE {
        return Err(TransportError::Driver {
            code: driver_status,
            name: driver_name(driver_status),
        });
    }
    // Old drivers fill only masked_status (status >> 1).
    let s = if scsi_status == 0 && masked_status != 0 {
        masked_status << 1
    } else {
        scsi_status
    };
    if s == status::GOOD && driver == DRIVER_SENSE && sense_len >= 8 {
        // Sense without a status: treat as the check condition it reports.
        return Ok(status::CHECK_CONDITION);
    }
    Ok(s)
}

/// A SCSI generic device node, open for SG_IO. Closed on drop.
#[derive(Debug)]
pub struct SgDevice {
    file: File,
    path: PathBuf,
}

impl SgDevice {
    /// Open `path` read-write and non-blocking (so a busy drive does not
    /// hang the open), and check that it is an sg device.
    pub fn open(path: impl AsRef<Path>) -> Result<SgDevice, TransportError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| TransportError::io(format!("open {}", path.display()), e))?;
        let mut version: c_int = 0;
        // SAFETY: the fd is open for the life of `file`; the ioctl writes one
        // c_int to `version`, a live, aligned, exclusively borrowed c_int.
        let r = unsafe { ioctl::sg_get_version_num(file.as_raw_fd(), &mut version) };
        match r {
            Ok(_) if version >= MIN_SG_VERSION => Ok(SgDevice { file, path }),
            Ok(_) => Err(TransportError::Invalid(format!(
                "{}: sg driver version {version} lacks SG_IO",
                path.display()
            ))),
            Err(e) => Err(TransportError::Invalid(format!(
                "{} is not a SCSI generic device ({e}); use /dev/sgN",
                path.display()
            ))),
        }
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ScsiTransport for SgDevice {
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        timeout: Duration,
    ) -> Result<ScsiReply, TransportError> {
        let mut cdb = cdb.to_vec();
        let mut sense = [0u8; SENSE_LEN];
        // Data-in buffer; data-out stays in its zeroizing buffer.
        let (mut out, mut inbuf) = match dir {
            DataDirection::None => (None, Vec::new()),
            DataDirection::ToDevice(d) => (Some(d), Vec::new()),
            DataDirection::FromDevice(n) => (None, vec![0u8; n]),
        };
        let data = match (&mut out, inbuf.is_empty()) {
            (Some(d), _) => Some((&mut d[..], SG_DXFER_TO_DEV)),
            (None, false) => Some((&mut inbuf[..], SG_DXFER_FROM_DEV)),
            (None, true) => None,
        };
        let mut hdr = build_header(&mut cdb, data, &mut sense, timeout)?;
        // SAFETY: `hdr` is a valid sg_io_hdr whose cmdp, sbp and dxferp point
        // into `cdb`, `sense` and the data buffer, with lengths that match
        // them; all three live (and are not otherwise touched) until the
        // ioctl returns, because SG_IO is synchronous. The fd is open.
        let r = unsafe { ioctl::sg_io(self.file.as_raw_fd(), &mut hdr) };
        r.map_err(|e| {
            TransportError::io(
                format!("SG_IO on {}", self.path.display()),
                std::io::Error::from(e),
            )
        })?;
        let sense_len = usize::from(hdr.sb_len_wr).min(SENSE_LEN);
        let st = classify(
            hdr.status,
            hdr.masked_status,
            hdr.host_status,
            hdr.driver_status,
            sense_len,
        )?;
        let resid = usize::try_from(hdr.resid).unwrap_or(0);
        let got = inbuf.len().saturating_sub(resid);
        inbuf.truncate(got);
        Ok(ScsiReply {
            status: st,
            sense: sense[..sense_len].to_vec(),
            data: inbuf,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_sg_h() {
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<SgIoHdr>(), 88);
        assert_eq!(std::mem::offset_of!(SgIoHdr, dxfer_len), 12);
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(std::mem::offset_of!(SgIoHdr, dxferp), 16);
            assert_eq!(std::mem::offset_of!(SgIoHdr, timeout), 40);
            assert_eq!(std::mem::offset_of!(SgIoHdr, status), 64);
            assert_eq!(std::mem::offset_of!(SgIoHdr, host_status), 68);
            assert_eq!(std::mem::offset_of!(SgIoHdr, resid), 72);
        }
    }

    #[test]
    fn header_building() {
        let mut cdb = crate::scsi::cdb::security_protocol_in(0x20, 0x20, 64).to_vec();
        let mut sense = [0u8; SENSE_LEN];
        let mut buf = vec![0u8; 64];
        let h = build_header(
            &mut cdb,
            Some((&mut buf, SG_DXFER_FROM_DEV)),
            &mut sense,
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(h.interface_id, b'S' as c_int);
        assert_eq!(h.cmd_len, 12);
        assert_eq!(h.dxfer_len, 64);
        assert_eq!(h.dxfer_direction, SG_DXFER_FROM_DEV);
        assert_eq!(h.timeout, 60_000);
        assert_eq!(h.mx_sb_len as usize, SENSE_LEN);
        let h = build_header(&mut [0u8; 6], None, &mut sense, Duration::ZERO).unwrap();
        assert_eq!(
            (h.dxfer_direction, h.dxfer_len, h.timeout),
            (SG_DXFER_NONE, 0, 1)
        );
        assert!(build_header(&mut [0u8; 2], None, &mut sense, Duration::ZERO).is_err());
        assert!(build_header(&mut [0u8; 17], None, &mut sense, Duration::ZERO).is_err());
    }

    #[test]
    fn status_mapping() {
        assert_eq!(classify(0, 0, 0, 0, 0).unwrap(), status::GOOD);
        assert_eq!(classify(2, 1, 0, DRIVER_SENSE, 18).unwrap(), 2);
        assert_eq!(classify(0, 1, 0, 0, 0).unwrap(), 2); // masked only
        assert_eq!(classify(0, 0, 0, DRIVER_SENSE, 18).unwrap(), 2);
        assert!(matches!(
            classify(0, 0, 3, 0, 0),
            Err(TransportError::Timeout)
        ));
        assert!(matches!(
            classify(0, 0, 0, 6, 0),
            Err(TransportError::Timeout)
        ));
        assert!(matches!(
            classify(0, 0, 1, 0, 0),
            Err(TransportError::Host {
                code: 1,
                name: "DID_NO_CONNECT"
            })
        ));
        assert!(matches!(
            classify(0, 0, 0, 0x24, 0),
            Err(TransportError::Driver {
                name: "DRIVER_ERROR",
                ..
            })
        ));
    }

    #[test]
    fn opening_a_non_sg_file_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            SgDevice::open(f.path()),
            Err(TransportError::Invalid(_))
        ));
        assert!(matches!(
            SgDevice::open("/nonexistent/sg0"),
            Err(TransportError::Io { .. })
        ));
    }
}
