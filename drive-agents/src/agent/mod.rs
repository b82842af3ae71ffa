//! The agent daemon's library: configuration, the connection to the cluster, enrollment
//! and the per-drive service loop (SPEC 4.3–4.5).
//!
//! Layout:
//! - [`config`]: the TOML file `clavis-agent` reads.
//! - [`kad`]: how a Clavis key ID is recorded on tape (key-associated data).
//! - [`client`]: one mutual-TLS connection to one node, and the agent's identity.
//! - [`cluster`]: every node of the cluster, ordered own-site first; failover,
//!   heartbeats and discovery.
//! - [`enroll`]: key pair and CSR generation, enrollment, the state directory.
//! - [`service`]: the loop that watches one drive and gives it the right key.
//!
//! The drive side is blocking ([`crate::drive::Drive`]); the network side is tokio. The
//! service runs drive calls on the blocking pool so a slow drive never stalls requests
//! of another drive.
#![forbid(unsafe_code)]

pub mod client;
pub mod cluster;
pub mod config;
pub mod enroll;
pub mod kad;
pub mod service;
