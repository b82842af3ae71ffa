//! KMIP: the TTLV codec, message types and operation handlers.

pub mod ttlv;
