//! One [`EmulatedDrive`] shared by several processes over a Unix socket, at
//! the raw-CDB level: the agent daemon sets keys through it while a test
//! acting as the backup application writes and reads blocks.
//!
//! Framing: every message is a 4-byte big-endian body length, then the body.
//!
//! ```text
//! request  01 Execute: u8 cdb-len, cdb, u8 direction (0 none, 1 out, 2 in),
//!                      u32 length (data-out bytes or allocation length),
//!                      data-out, u32 timeout-ms
//!          02 Load: barcode (UTF-8)      03 Unload
//! response 81 Reply: u8 status, u16 sense-len, sense, data-in
//!          82 Ok     83 Error: message (UTF-8)
//! ```
//!
//! std only: one blocking thread per connection, the drive behind a mutex,
//! so commands from all clients are serialised as on a real drive.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::emulator::{EmulatedDrive, MAX_BLOCK};
use crate::scsi::{DataDirection, ScsiReply, ScsiTransport, TransportError};

/// Largest frame either side accepts: a maximal block plus headers.
const MAX_FRAME: usize = MAX_BLOCK + 4096;

const EXECUTE: u8 = 0x01;
const LOAD: u8 = 0x02;
const UNLOAD: u8 = 0x03;
const REPLY: u8 = 0x81;
const OK: u8 = 0x82;
const ERROR: u8 = 0x83;

/// A drive shared between connections.
pub type SharedDrive = Arc<Mutex<EmulatedDrive>>;

fn lock(d: &SharedDrive) -> MutexGuard<'_, EmulatedDrive> {
    // The emulator does not panic; if a thread did, its state is still usable.
    d.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_frame(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    // One buffer, one write: frames from a client never interleave.
    let mut frame = Zeroizing::new(Vec::with_capacity(4 + body.len()));
    frame.extend(len.to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame)
}

/// Read one frame; `Ok(None)` on a clean end of stream.
fn read_frame(r: &mut impl Read) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// A request as the server decodes it.
enum Request {
    Execute { cdb: Vec<u8>, dir: DataDirection },
    Load(String),
    Unload,
}

fn decode_request(b: &[u8]) -> Result<Request, String> {
    let (&kind, rest) = b.split_first().ok_or("empty request")?;
    match kind {
        EXECUTE => {
            let (&cdb_len, rest) = rest.split_first().ok_or("no CDB length")?;
            let cdb = rest.get(..usize::from(cdb_len)).ok_or("CDB cut short")?;
            let rest = &rest[usize::from(cdb_len)..];
            let (&dir, rest) = rest.split_first().ok_or("no direction")?;
            let n = rest.get(..4).ok_or("no length")?;
            let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
            let rest = &rest[4..];
            let (dir, rest) = match dir {
                0 => (DataDirection::None, rest),
                1 => {
                    let data = rest.get(..n).ok_or("data-out cut short")?;
                    (DataDirection::to_device(data.to_vec()), &rest[n..])
                }
                2 if n <= MAX_FRAME => (DataDirection::FromDevice(n), rest),
                2 => return Err(format!("allocation length {n} too large")),
                d => return Err(format!("unknown direction {d}")),
            };
            if rest.len() != 4 {
                return Err("bad timeout field".into());
            }
            Ok(Request::Execute {
                cdb: cdb.to_vec(),
                dir,
            })
        }
        LOAD => String::from_utf8(rest.to_vec())
            .map(Request::Load)
            .map_err(|_| "barcode is not UTF-8".into()),
        UNLOAD => Ok(Request::Unload),
        k => Err(format!("unknown request {k:#04x}")),
    }
}

fn handle_connection(drive: SharedDrive, mut stream: UnixStream) {
    while let Ok(Some(frame)) = read_frame(&mut stream) {
        let answer = match decode_request(&frame) {
            Err(msg) => error_body(&msg),
            Ok(Request::Execute { cdb, dir }) => {
                let reply = lock(&drive).handle(&cdb, dir);
                let mut b = vec![REPLY, reply.status];
                let sense_len = u16::try_from(reply.sense.len()).unwrap_or(u16::MAX);
                b.extend(sense_len.to_be_bytes());
                b.extend(reply.sense.iter().take(usize::from(sense_len)));
                b.extend(reply.data);
                b
            }
            Ok(Request::Load(barcode)) => match lock(&drive).load(&barcode) {
                Ok(()) => vec![OK],
                Err(e) => error_body(&e.to_string()),
            },
            Ok(Request::Unload) => {
                lock(&drive).unload();
                vec![OK]
            }
        };
        if write_frame(&mut stream, &answer).is_err() {
            break;
        }
    }
}

fn error_body(msg: &str) -> Vec<u8> {
    let mut b = vec![ERROR];
    b.extend(msg.as_bytes());
    b
}

fn bind(path: &Path) -> io::Result<UnixListener> {
    // A socket file left by a previous run would make bind fail.
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

fn accept_loop(listener: UnixListener, drive: SharedDrive, stop: Arc<AtomicBool>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match conn {
            Ok(stream) => {
                let d = drive.clone();
                std::thread::spawn(move || handle_connection(d, stream));
            }
            Err(e) => tracing::warn!("emulator socket accept: {e}"),
        }
    }
}

/// Serve `drive` on a Unix socket at `path`, blocking forever.
pub fn serve(drive: SharedDrive, path: &Path) -> io::Result<()> {
    let listener = bind(path)?;
    accept_loop(listener, drive, Arc::new(AtomicBool::new(false)));
    Ok(())
}

/// A server running on a background thread; stops when dropped.
pub struct EmuServer {
    path: PathBuf,
    drive: SharedDrive,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EmuServer {
    /// Serve `drive` at `path` from a background thread.
    pub fn spawn(drive: EmulatedDrive, path: impl Into<PathBuf>) -> io::Result<EmuServer> {
        let path = path.into();
        let listener = bind(&path)?;
        let drive = Arc::new(Mutex::new(drive));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (drive.clone(), stop.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, d, s));
        Ok(EmuServer {
            path,
            drive,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The drive, for direct inspection in tests.
    pub fn drive(&self) -> &SharedDrive {
        &self.drive
    }
}

impl Drop for EmuServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A client: a [`ScsiTransport`] to an emulated drive served on a socket.
pub struct EmuSocketTransport {
    stream: UnixStream,
    /// Set after an I/O error: the stream may be out of step with the server.
    broken: bool,
}

impl EmuSocketTransport {
    /// Connect to the server at `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, TransportError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .map_err(|e| TransportError::io(format!("connect {}", path.display()), e))?;
        Ok(EmuSocketTransport {
            stream,
            broken: false,
        })
    }

    fn call(
        &mut self,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, TransportError> {
        if self.broken {
            return Err(TransportError::Protocol("connection broken earlier".into()));
        }
        let r = (|| {
            self.stream
                .set_read_timeout(Some(timeout.max(Duration::from_millis(100))))?;
            write_frame(&mut self.stream, body)?;
            read_frame(&mut self.stream)
        })();
        match r {
            Ok(Some(b)) => Ok(b),
            Ok(None) => {
                self.broken = true;
                Err(TransportError::Protocol(
                    "server closed the connection".into(),
                ))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.broken = true;
                Err(TransportError::Timeout)
            }
            Err(e) => {
                self.broken = true;
                Err(TransportError::io("emulator socket", e))
            }
        }
    }

    fn control(&mut self, body: &[u8]) -> Result<(), TransportError> {
        let answer = self.call(body, Duration::from_secs(60))?;
        match answer.split_first() {
            Some((&OK, _)) => Ok(()),
            Some((&ERROR, msg)) => Err(TransportError::Protocol(
                String::from_utf8_lossy(msg).into_owned(),
            )),
            _ => Err(TransportError::Protocol("unexpected answer".into())),
        }
    }

    /// Load the tape `barcode` into the served drive.
    pub fn load(&mut self, barcode: &str) -> Result<(), TransportError> {
        let mut b = vec![LOAD];
        b.extend(barcode.as_bytes());
        self.control(&b)
    }

    /// Unload the served drive's tape.
    pub fn unload(&mut self) -> Result<(), TransportError> {
        self.control(&[UNLOAD])
    }
}

impl ScsiTransport for EmuSocketTransport {
    fn execute(
        &mut self,
        cdb: &[u8],
        dir: DataDirection,
        timeout: Duration,
    ) -> Result<ScsiReply, TransportError> {
        let cdb_len = u8::try_from(cdb.len())
            .map_err(|_| TransportError::Invalid("CDB longer than 255 bytes".into()))?;
        let mut b = Zeroizing::new(vec![EXECUTE, cdb_len]);
        b.extend_from_slice(cdb);
        let len32 = |n: usize| {
            u32::try_from(n).map_err(|_| TransportError::Invalid("data length too large".into()))
        };
        match &dir {
            DataDirection::None => {
                b.push(0);
                b.extend(0u32.to_be_bytes());
            }
            DataDirection::ToDevice(d) => {
                b.push(1);
                b.extend(len32(d.len())?.to_be_bytes());
                b.extend_from_slice(d);
            }
            DataDirection::FromDevice(n) => {
                b.push(2);
                b.extend(len32(*n)?.to_be_bytes());
            }
        }
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        b.extend(ms.to_be_bytes());
        let answer = self.call(&b, timeout)?;
        let bad = || TransportError::Protocol("malformed reply".into());
        match answer.split_first() {
            Some((&REPLY, rest)) => {
                let (&status, rest) = rest.split_first().ok_or_else(bad)?;
                let sl = rest.get(..2).ok_or_else(bad)?;
                let sl = usize::from(u16::from_be_bytes([sl[0], sl[1]]));
                let sense = rest.get(2..2 + sl).ok_or_else(bad)?.to_vec();
                let data = rest[2 + sl..].to_vec();
                Ok(ScsiReply {
                    status,
                    sense,
                    data,
                })
            }
            Some((&ERROR, msg)) => Err(TransportError::Protocol(
                String::from_utf8_lossy(msg).into_owned(),
            )),
            _ => Err(bad()),
        }
    }
}
