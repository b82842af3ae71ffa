//! Clavis: a hardware-backed key manager.
//!
//! # Layout
//! Data flows one way: transports (`admin` REST API, later KMIP and the drive-agent
//! protocol) call the [`service`] layer with the caller's identity; the service layer
//! uses the [`store`] (SQLite or PostgreSQL, sees only wrapped keys) and the
//! [`rot`] root of trust (the HSM holding the master key). Transports never touch the
//! store or the HSM directly.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod agent;
pub mod audit;
pub mod authz;
pub mod backup;
pub mod client;
pub mod cluster;
pub mod config;
pub mod hlc;
pub mod keys;
pub mod kmip;
pub mod metrics;
pub mod names;
pub mod node;
pub mod pool;
pub mod rot;
pub mod secret;
pub mod service;
pub mod store;
pub mod tls;
pub mod transfer;

/// An error and its causes on one line, skipping causes already quoted in the message
/// above them (our error types include their source's text).
pub fn describe_error(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !out.contains(&s) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&s);
        }
    }
    out
}
