//! Locate: object IDs matching attributes, with Maximum Items and Offset Items.

use super::{payload, Batch};
use crate::keys::ObjectMeta;
use crate::kmip::attributes::{
    self, algorithm_from_kmip, object_type_from_kmip, state_from_kmip, KAttr,
};
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};
use crate::store::ListFilter;

/// How many objects one Locate examines at most (pages of the store).
const PAGE: i64 = 1000;

fn int_field(req: &Ttlv, tag: u32) -> Result<Option<i64>, KmipError> {
    match req.child(tag).map(|c| &c.value) {
        Some(Value::Integer(v)) if *v >= 0 => Ok(Some(i64::from(*v))),
        Some(_) => Err(KmipError::invalid_field(
            "Maximum Items and Offset Items are non-negative Integers",
        )),
        None => Ok(None),
    }
}

/// Does `meta` match one requested attribute?
fn matches(meta: &ObjectMeta, a: &KAttr) -> Result<bool, KmipError> {
    Ok(match (a.name.as_str(), &a.value.value) {
        ("Object Type", Value::Enumeration(v)) => {
            object_type_from_kmip(*v) == Some(meta.object_type)
        }
        ("State", Value::Enumeration(v)) => state_from_kmip(*v) == Some(meta.state),
        ("Cryptographic Algorithm", Value::Enumeration(v)) => {
            meta.algorithm == algorithm_from_kmip(*v).ok()
        }
        ("Cryptographic Length", Value::Integer(l)) => meta.length.map(|x| x as i32) == Some(*l),
        ("Name", _) => meta.name.as_deref() == Some(attributes::name_value(a)?.as_str()),
        (n, Value::TextString(v)) if n.starts_with("x-") || n.starts_with("y-") => {
            meta.attributes.custom.get(n) == Some(v)
        }
        // Anything else must equal one of the object's attributes exactly.
        _ => attributes::object_attributes(meta)
            .iter()
            .any(|o| o.name == a.name && o.value == a.value),
    })
}

/// Locate.
pub async fn locate(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let max = int_field(req, t::MAXIMUM_ITEMS)?;
    let offset = int_field(req, t::OFFSET_ITEMS)?.unwrap_or(0);
    let wanted = attributes::from_request(req, b.version)?;
    // Narrow in the store where it can, then check every attribute here.
    let mut filter = ListFilter {
        limit: Some(PAGE),
        ..ListFilter::default()
    };
    for a in &wanted {
        match (a.name.as_str(), &a.value.value) {
            ("Object Type", Value::Enumeration(v)) => {
                filter.object_type = object_type_from_kmip(*v)
            }
            ("State", Value::Enumeration(v)) => filter.state = state_from_kmip(*v),
            ("Name", _) => filter.name = Some(attributes::name_value(a)?),
            _ => {}
        }
    }
    let mut found = Vec::new();
    let mut page_offset = 0;
    loop {
        filter.offset = Some(page_offset);
        let page = b.svc.list(b.who, filter.clone()).await?;
        let n = page.len() as i64;
        for meta in page {
            let mut ok = true;
            for a in &wanted {
                if !matches(&meta, a)? {
                    ok = false;
                    break;
                }
            }
            // Destroyed objects keep their metadata but are not located unless the
            // request asks for a state explicitly.
            if ok && (filter.state.is_some() || !meta.state.is_destroyed()) {
                found.push(meta.id);
            }
        }
        if n < PAGE {
            break;
        }
        page_offset += PAGE;
    }
    let total = found.len();
    let selected = found
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(
            max.map(|m| usize::try_from(m).unwrap_or(usize::MAX))
                .unwrap_or(usize::MAX),
        );
    let mut out = Vec::new();
    if b.version >= (crate::kmip::message::ProtocolVersion { major: 1, minor: 3 }) {
        out.push(Ttlv::int(
            t::LOCATED_ITEMS,
            i32::try_from(total).unwrap_or(i32::MAX),
        ));
    }
    out.extend(selected.map(|id| Ttlv::text(t::UNIQUE_IDENTIFIER, id)));
    Ok(payload(out))
}
