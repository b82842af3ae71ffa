//! Check, Log and Interop.

use super::{payload, Batch};
use crate::kmip::enums::result_reason as rr;
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};

/// Check: would the object allow this use? Only the usage mask is checked (usage limits
/// and leases are not kept).
pub async fn check(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let meta = b.svc.get(b.who, &id).await?;
    if let Some(Value::Integer(wanted)) = req.child(t::CRYPTOGRAPHIC_USAGE_MASK).map(|c| &c.value) {
        let allowed = meta.attributes.usage_mask.unwrap_or(0);
        if (*wanted as u32) & !allowed != 0 {
            return Err(KmipError::new(
                rr::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
                "the object's Cryptographic Usage Mask does not allow that use",
            ));
        }
    }
    Ok(payload(vec![Ttlv::text(t::UNIQUE_IDENTIFIER, meta.id)]))
}

/// Log: records the client's message in the node's log.
pub fn log(b: &Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    match req.child(t::LOG_MESSAGE).map(|c| &c.value) {
        Some(Value::TextString(m)) => {
            let shown: String = m.chars().take(1024).filter(|c| !c.is_control()).collect();
            tracing::info!(principal = %b.who.name, client_log = %shown, "KMIP client log message");
            Ok(payload(Vec::new()))
        }
        _ => Err(KmipError::missing("Log Message")),
    }
}

/// Interop: conformance-test bracketing (Begin, End, Reset). Nothing to do but log.
pub fn interop(b: &Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = match req.child(t::INTEROP_IDENTIFIER).map(|c| &c.value) {
        Some(Value::TextString(s)) => s.chars().take(128).collect::<String>(),
        _ => String::new(),
    };
    tracing::info!(principal = %b.who.name, interop = %id, "KMIP interop marker");
    Ok(payload(Vec::new()))
}
