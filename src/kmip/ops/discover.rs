//! Discover Versions and Query.

use super::{payload, Batch, SUPPORTED_OPERATIONS};
use crate::kmip::enums::{object_type as ot, query_function as qf};
use crate::kmip::error::KmipError;
use crate::kmip::message::{ProtocolVersion, SUPPORTED_VERSIONS};
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};

/// Discover Versions: the client's versions we support, in the client's order, or all
/// of ours when the client lists none.
pub fn discover_versions(req: &Ttlv) -> Result<Ttlv, KmipError> {
    let asked: Vec<ProtocolVersion> = req
        .children_with(t::PROTOCOL_VERSION)
        .map(ProtocolVersion::from_ttlv)
        .collect::<Result<_, _>>()?;
    let answer: Vec<ProtocolVersion> = if asked.is_empty() {
        SUPPORTED_VERSIONS.to_vec()
    } else {
        asked
            .into_iter()
            .filter(|v| SUPPORTED_VERSIONS.contains(v))
            .collect()
    };
    Ok(payload(
        answer.into_iter().map(ProtocolVersion::to_ttlv).collect(),
    ))
}

/// Query: operations, object types and server information.
pub fn query(_b: &Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let mut out = Vec::new();
    for f in req.children_with(t::QUERY_FUNCTION) {
        match f.value {
            Value::Enumeration(qf::QUERY_OPERATIONS) => out.extend(
                SUPPORTED_OPERATIONS
                    .iter()
                    .map(|o| Ttlv::enumeration(t::OPERATION, *o)),
            ),
            Value::Enumeration(qf::QUERY_OBJECTS) => {
                out.push(Ttlv::enumeration(t::OBJECT_TYPE, ot::SYMMETRIC_KEY));
                out.push(Ttlv::enumeration(t::OBJECT_TYPE, ot::SECRET_DATA));
            }
            Value::Enumeration(qf::QUERY_SERVER_INFORMATION) => {
                out.push(Ttlv::text(t::VENDOR_IDENTIFICATION, "Clavis"));
                out.push(Ttlv::structure(
                    t::SERVER_INFORMATION,
                    vec![Ttlv::text(
                        t::SERVER_NAME,
                        format!("clavisd {}", env!("CARGO_PKG_VERSION")),
                    )],
                ));
            }
            // Other query functions have nothing to report.
            Value::Enumeration(_) => {}
            _ => {
                return Err(KmipError::invalid_field(
                    "Query Function must be an Enumeration",
                ))
            }
        }
    }
    Ok(payload(out))
}
