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

/// One condition of a Locate.
enum Criterion<'a> {
    /// The object has this attribute value.
    Exact(&'a KAttr),
    /// The object's date attribute lies in `[lo, hi]` (2.x: a date attribute given twice).
    Range { name: &'a str, lo: i64, hi: i64 },
}

fn date_of(a: &KAttr) -> Option<i64> {
    match a.value.value {
        Value::DateTime(d) => Some(d),
        _ => None,
    }
}

fn criteria(wanted: &[KAttr]) -> Vec<Criterion<'_>> {
    let mut out = Vec::new();
    for (i, a) in wanted.iter().enumerate() {
        let same: Vec<&KAttr> = wanted.iter().filter(|b| b.name == a.name).collect();
        match (
            same.len(),
            same.iter()
                .map(|b| date_of(b))
                .collect::<Option<Vec<i64>>>(),
        ) {
            (2, Some(d)) => {
                // Emit the range once, at the first of the pair.
                if wanted.iter().position(|b| b.name == a.name) == Some(i) {
                    out.push(Criterion::Range {
                        name: &a.name,
                        lo: d[0].min(d[1]),
                        hi: d[0].max(d[1]),
                    });
                }
            }
            _ => out.push(Criterion::Exact(a)),
        }
    }
    out
}

fn in_range(meta: &ObjectMeta, name: &str, lo: i64, hi: i64) -> bool {
    attributes::object_attributes(meta)
        .iter()
        .filter(|a| a.name == name)
        .filter_map(date_of)
        .any(|d| (lo..=hi).contains(&d))
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
    let criteria = criteria(&wanted);
    let mut found = Vec::new();
    let mut page_offset = 0;
    loop {
        filter.offset = Some(page_offset);
        let page = b.svc.list(b.who, filter.clone()).await?;
        let n = page.len() as i64;
        for meta in page {
            let mut ok = true;
            for c in &criteria {
                let hit = match c {
                    Criterion::Exact(a) => matches(&meta, a)?,
                    Criterion::Range { name, lo, hi } => in_range(&meta, name, *lo, *hi),
                };
                if !hit {
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
