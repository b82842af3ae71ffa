//! `clavis-drive-emu`: one emulated LTO drive served on a Unix socket, so an
//! agent daemon and a backup application in other processes share it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use clavis_agent::emu_socket;
use clavis_agent::emulator::EmulatedDrive;

/// Serve one emulated tape drive on a Unix socket.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Unix socket to listen on (replaced if it exists).
    #[arg(long)]
    socket: PathBuf,
    /// Library directory holding the tapes, one `<BARCODE>.tape` each.
    #[arg(long)]
    library: PathBuf,
    /// Unit serial number the drive reports.
    #[arg(long, default_value = "EMU0000001")]
    serial: String,
    /// Tape to load at start.
    #[arg(long)]
    load: Option<String>,
    /// Accept writes before the host has set an encryption mode (by default they
    /// are refused; after the host sets DISABLE they are plaintext either way).
    #[arg(long)]
    allow_plain_writes: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut drive = match EmulatedDrive::new(args.serial, args.library) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("clavis-drive-emu: {e}");
            return ExitCode::FAILURE;
        }
    };
    drive.set_require_key_for_write(!args.allow_plain_writes);
    if let Some(barcode) = &args.load {
        if let Err(e) = drive.load(barcode) {
            eprintln!("clavis-drive-emu: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("clavis-drive-emu: serving on {}", args.socket.display());
    match emu_socket::serve(Arc::new(Mutex::new(drive)), &args.socket) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clavis-drive-emu: {}: {e}", args.socket.display());
            ExitCode::FAILURE
        }
    }
}
