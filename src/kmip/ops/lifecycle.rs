//! Activate, Revoke, Destroy.

use super::{payload, Batch};
use crate::kmip::attributes::revocation_from_kmip;
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};

fn done(id: String) -> Ttlv {
    payload(vec![Ttlv::text(t::UNIQUE_IDENTIFIER, id)])
}

/// Activate: Pre-Active → Active.
pub async fn activate(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let meta = b.svc.activate(b.who, &id).await?;
    Ok(done(meta.id))
}

/// Revoke with a reason: compromise → Compromised, else Deactivated.
pub async fn revoke(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let reason = req
        .child(t::REVOCATION_REASON)
        .ok_or_else(|| KmipError::missing("Revocation Reason"))?;
    let code = match reason.child(t::REVOCATION_REASON_CODE).map(|c| &c.value) {
        Some(Value::Enumeration(c)) => revocation_from_kmip(*c).ok_or_else(|| {
            KmipError::invalid_field(format!("unknown Revocation Reason Code 0x{c:08X}"))
        })?,
        _ => return Err(KmipError::missing("Revocation Reason Code")),
    };
    let message = match reason.child(t::REVOCATION_MESSAGE).map(|c| &c.value) {
        Some(Value::TextString(m)) => Some(m.clone()),
        _ => None,
    };
    let meta = b.svc.revoke(b.who, &id, code, message).await?;
    Ok(done(meta.id))
}

/// Destroy: the material goes, the metadata stays.
pub async fn destroy(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let meta = b.svc.destroy(b.who, &id).await?;
    Ok(done(meta.id))
}

/// Re-key: a replacement for a symmetric key.
pub async fn rekey(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    if req.child(t::OFFSET).is_some() {
        return Err(KmipError::new(
            crate::kmip::enums::result_reason::FEATURE_NOT_SUPPORTED,
            "Re-key with an Offset is not supported",
        ));
    }
    let meta = b.svc.rekey(b.who, &id).await?;
    Ok(done(meta.id))
}
