//! The drive-agent protocol on the node side (SPEC 4.3–4.5): enrollment, discovery,
//! keys for data units, use reports and heartbeats, over mutual TLS.
//!
//! The wire format lives in [`wire`] and is shared with the agent daemon
//! (`drive-agents/`); [`server`] is the node's listener. Both sides speak through the
//! service layer only.

pub mod okm;
pub mod server;
pub mod wire;
