//! The Clavis drive agent: serves tape drives keys from a Clavis cluster.
#![warn(missing_docs)]
pub mod agent;
pub mod drive;
pub mod emu_socket;
pub mod emulator;
pub mod lto;
pub mod scsi;
pub mod sense;
pub mod sg;
pub mod ssc;
