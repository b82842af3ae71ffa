//! KMIP: the TTLV codec, message types and operation handlers.

pub mod attributes;
pub mod enums;
pub mod error;
pub mod message;
pub mod ops;
pub mod server;
pub mod tags;
pub mod ttlv;
