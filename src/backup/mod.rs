//! Building blocks of backup and restore (SPEC 8.1, 8.2, 5.6).
//!
//! Two pure pieces with no I/O of their own beyond `std::io::{Read, Write}`:
//! - [`archive`]: the backup file container. A database backup is useless to a thief
//!   (keys stay wrapped under the HSM's master key) but must still be private and,
//!   above all, authentic: a restore must never load a truncated, reordered or edited
//!   file. The container encrypts and authenticates the body in chunks so that
//!   multi-gigabyte backups stream without being held in memory.
//! - [`shamir`]: Shamir secret sharing, so that the key protecting a master key backup
//!   can be split among the N quorum members and recovered only by M of them.
//!
//! On these: [`snapshot`] (what a data backup holds), [`data`] (backup files),
//! [`schedule`] (when scheduled backups run), [`master_key`] (the master key wrapped
//! under a key split among the quorum). The service, CLI and REST API live
//! elsewhere.

pub mod archive;
pub mod data;
pub mod master_key;
pub mod schedule;
pub mod shamir;
pub mod snapshot;
