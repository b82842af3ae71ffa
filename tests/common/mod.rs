//! Helpers shared by the integration tests. Each test binary uses only some of
//! them, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod cluster;
pub mod kmip_client;
pub mod kmip_xml;
pub mod node;
pub mod pg;
pub mod rot_suite;
pub mod softhsm;
