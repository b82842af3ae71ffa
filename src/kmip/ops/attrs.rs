//! Add, Modify, Delete and Set Attribute, in their 1.x and 2.x forms.

use super::{payload, Batch};
use crate::kmip::attributes::{
    self, editable, is_client_editable, is_single_valued, store_editable, KAttr,
};
use crate::kmip::enums::result_reason as rr;
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};
use crate::service::ServiceError;
use std::sync::Mutex;

/// What to do to the flattened attribute list.
#[derive(Clone)]
enum Edit {
    /// Append a value (refused for a second value of a single-valued attribute).
    Add(KAttr),
    /// Replace the value `index` of the attribute (optionally only if it equals `current`).
    Modify {
        index: usize,
        current: Option<KAttr>,
        new: KAttr,
    },
    /// Set: replace all values of the attribute with one.
    Set(KAttr),
    /// Remove the value `index` of `name` (or the value equal to `current`).
    Delete {
        name: String,
        index: usize,
        current: Option<KAttr>,
    },
    /// Add to, subtract from or negate the first value of a numeric or date attribute.
    Adjust {
        name: String,
        kind: u32,
        amount: Option<Value>,
    },
}

/// The adjusted value, or an error naming why the attribute cannot be adjusted.
fn adjusted(v: &Value, kind: u32, amount: Option<&Value>) -> Result<Value, KmipError> {
    use crate::kmip::enums::adjustment_type as at;
    let overflow = || KmipError::invalid_field("the adjustment overflows the attribute's type");
    let by = |default: i64| -> Result<i64, KmipError> {
        match amount {
            None => Ok(default),
            Some(Value::Integer(n)) => Ok(i64::from(*n)),
            Some(Value::LongInteger(n)) | Some(Value::DateTime(n)) => Ok(*n),
            Some(Value::Interval(n)) => Ok(i64::from(*n)),
            Some(_) => Err(KmipError::invalid_field(
                "Adjustment Value has the wrong type",
            )),
        }
    };
    let apply = |x: i64| -> Result<i64, KmipError> {
        match kind {
            at::INCREMENT => x.checked_add(by(1)?).ok_or_else(overflow),
            at::DECREMENT => x.checked_sub(by(1)?).ok_or_else(overflow),
            at::NEGATE => x.checked_neg().ok_or_else(overflow),
            _ => Err(KmipError::invalid_field("unknown Adjustment Type")),
        }
    };
    Ok(match v {
        Value::Integer(x) => {
            Value::Integer(i32::try_from(apply(i64::from(*x))?).map_err(|_| overflow())?)
        }
        Value::LongInteger(x) => Value::LongInteger(apply(*x)?),
        Value::DateTime(x) if kind != at::NEGATE => Value::DateTime(apply(*x)?),
        Value::Interval(x) if kind != at::NEGATE => {
            Value::Interval(u32::try_from(apply(i64::from(*x))?).map_err(|_| overflow())?)
        }
        _ => {
            return Err(KmipError::invalid_field(
                "only integer, date and interval attributes can be adjusted that way",
            ))
        }
    })
}

fn not_found(name: &str) -> KmipError {
    KmipError::new(
        rr::ATTRIBUTE_NOT_FOUND,
        format!("the object has no such value of {name}"),
    )
}

/// Applies `edit`; returns the attribute value the response reports.
fn apply(list: &mut Vec<KAttr>, edit: &Edit) -> Result<KAttr, KmipError> {
    let positions = |name: &str, list: &[KAttr]| -> Vec<usize> {
        list.iter()
            .enumerate()
            .filter(|(_, a)| a.name == name)
            .map(|(i, _)| i)
            .collect()
    };
    let check = |name: &str| {
        if is_client_editable(name) {
            Ok(())
        } else {
            Err(KmipError::new(
                rr::ATTRIBUTE_READ_ONLY,
                format!("{name} cannot be changed by a client"),
            ))
        }
    };
    match edit {
        Edit::Add(a) => {
            check(&a.name)?;
            if a.name == "Name" && list.iter().any(|x| x.name == "Name" && x.value == a.value) {
                return Err(KmipError::new(
                    rr::NON_UNIQUE_NAME_ATTRIBUTE,
                    "the object already has that name",
                ));
            }
            if is_single_valued(&a.name) && !positions(&a.name, list).is_empty() {
                return Err(KmipError::new(
                    rr::ATTRIBUTE_SINGLE_VALUED,
                    format!("{} already has a value", a.name),
                ));
            }
            list.push(a.clone());
            Ok(a.clone())
        }
        Edit::Set(a) => {
            check(&a.name)?;
            list.retain(|x| x.name != a.name);
            list.push(a.clone());
            Ok(a.clone())
        }
        Edit::Modify {
            index,
            current,
            new,
        } => {
            check(&new.name)?;
            let pos = positions(&new.name, list);
            let at = match current {
                Some(c) => pos.iter().copied().find(|i| list[*i].value == c.value),
                None => pos.get(*index).copied(),
            }
            .ok_or_else(|| not_found(&new.name))?;
            list[at] = new.clone();
            Ok(new.clone())
        }
        Edit::Adjust { name, kind, amount } => {
            check(name)?;
            let at = positions(name, list)
                .first()
                .copied()
                .ok_or_else(|| not_found(name))?;
            let value = adjusted(&list[at].value.value, *kind, amount.as_ref())?;
            list[at].value.value = value;
            Ok(list[at].clone())
        }
        Edit::Delete {
            name,
            index,
            current,
        } => {
            check(name)?;
            let pos = positions(name, list);
            let at = match current {
                Some(c) => pos.iter().copied().find(|i| list[*i].value == c.value),
                None => pos.get(*index).copied(),
            }
            .ok_or_else(|| not_found(name))?;
            Ok(list.remove(at))
        }
    }
}

async fn run(b: &mut Batch<'_>, id: &str, edit: Edit) -> Result<KAttr, KmipError> {
    // The edit runs inside the service's retry loop; keep its last result and error.
    let outcome: Mutex<Option<Result<KAttr, KmipError>>> = Mutex::new(None);
    let res = b
        .svc
        .edit_attributes(b.who, id, |name, attrs| {
            let mut list = editable(name, attrs);
            let r = apply(&mut list, &edit);
            let ok = r.is_ok();
            if let Ok(mut slot) = outcome.lock() {
                *slot = Some(r.clone());
            }
            if !ok {
                return Err(ServiceError::InvalidArgument(
                    "attribute edit refused".into(),
                ));
            }
            store_editable(&list, name, attrs).map_err(|e| ServiceError::InvalidArgument(e.message))
        })
        .await;
    let edit_result = outcome.lock().ok().and_then(|mut s| s.take());
    match (res, edit_result) {
        (Ok(_), Some(Ok(a))) => Ok(a),
        (_, Some(Err(e))) => Err(e),
        (Err(e), _) => Err(e.into()),
        (Ok(_), None) => Err(KmipError::new(
            rr::GENERAL_FAILURE,
            "attribute edit did not run",
        )),
    }
}

fn index_of(item: &Ttlv) -> Result<usize, KmipError> {
    match item.child(t::ATTRIBUTE_INDEX).map(|c| &c.value) {
        Some(Value::Integer(i)) if *i >= 0 => Ok(*i as usize),
        Some(_) => Err(KmipError::invalid_field(
            "Attribute Index must be a non-negative Integer",
        )),
        None => Ok(0),
    }
}

/// The single attribute of a 1.x request, or the one inside a 2.x `tag` wrapper.
fn one_attribute(b: &Batch<'_>, req: &Ttlv, v2_tag: u32) -> Result<(KAttr, usize), KmipError> {
    if b.version.is_v2() {
        let wrapper = req
            .child(v2_tag)
            .ok_or_else(|| KmipError::missing("New Attribute"))?;
        let item = wrapper
            .children()
            .first()
            .ok_or_else(|| KmipError::missing("the attribute"))?;
        Ok((attributes::from_v2(item)?, 0))
    } else {
        let a = req
            .child(t::ATTRIBUTE)
            .ok_or_else(|| KmipError::missing("Attribute"))?;
        Ok((attributes::from_v1(a)?, index_of(a)?))
    }
}

/// 1.x responses echo the attribute (with its index when there are several).
fn answer(b: &Batch<'_>, id: String, a: Option<&KAttr>, index: usize) -> Ttlv {
    let mut out = vec![Ttlv::text(t::UNIQUE_IDENTIFIER, id)];
    if let (false, Some(a)) = (b.version.is_v2(), a) {
        let mut attr = attributes::to_v1(a);
        if index > 0 {
            if let Value::Structure(children) = &mut attr.value {
                children.insert(1, Ttlv::int(t::ATTRIBUTE_INDEX, index as i32));
            }
        }
        out.push(attr);
    }
    payload(out)
}

/// Add Attribute.
pub async fn add_attribute(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let (a, _) = one_attribute(b, req, t::NEW_ATTRIBUTE)?;
    let added = run(b, &id, Edit::Add(a)).await?;
    Ok(answer(b, id, Some(&added), 0))
}

/// Set Attribute (2.x): replaces the attribute's values with one.
pub async fn set_attribute(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let (a, _) = one_attribute(b, req, t::NEW_ATTRIBUTE)?;
    run(b, &id, Edit::Set(a)).await?;
    Ok(answer(b, id, None, 0))
}

/// Modify Attribute.
pub async fn modify_attribute(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let (new, index) = one_attribute(b, req, t::NEW_ATTRIBUTE)?;
    let current = match req
        .child(t::CURRENT_ATTRIBUTE)
        .and_then(|c| c.children().first())
    {
        Some(item) => Some(attributes::from_v2(item)?),
        None => None,
    };
    let modified = run(
        b,
        &id,
        Edit::Modify {
            index,
            current,
            new,
        },
    )
    .await?;
    Ok(answer(b, id, Some(&modified), index))
}

/// Delete Attribute.
pub async fn delete_attribute(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let (name, index, current) = if b.version.is_v2() {
        if let Some(item) = req
            .child(t::CURRENT_ATTRIBUTE)
            .and_then(|c| c.children().first())
        {
            let a = attributes::from_v2(item)?;
            (a.name.clone(), 0, Some(a))
        } else {
            match req.child(t::ATTRIBUTE_REFERENCE).map(|c| &c.value) {
                Some(Value::Enumeration(tag)) => (
                    attributes::name_for_tag(*tag)
                        .ok_or_else(|| KmipError::invalid_field("unknown Attribute Reference"))?,
                    0,
                    None,
                ),
                _ => {
                    return Err(KmipError::missing(
                        "Current Attribute or Attribute Reference",
                    ))
                }
            }
        }
    } else {
        let name = match req.child(t::ATTRIBUTE_NAME).map(|c| &c.value) {
            Some(Value::TextString(n)) => n.clone(),
            _ => return Err(KmipError::missing("Attribute Name")),
        };
        (name, index_of(req)?, None)
    };
    let deleted = run(
        b,
        &id,
        Edit::Delete {
            name,
            index,
            current,
        },
    )
    .await?;
    Ok(answer(b, id, Some(&deleted), index))
}

/// Adjust Attribute (2.x).
pub async fn adjust_attribute(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let name = match req.child(t::ATTRIBUTE_REFERENCE).map(|c| &c.value) {
        Some(Value::Enumeration(tag)) => attributes::name_for_tag(*tag)
            .ok_or_else(|| KmipError::invalid_field("unknown Attribute Reference"))?,
        _ => return Err(KmipError::missing("Attribute Reference")),
    };
    let kind = match req.child(t::ADJUSTMENT_TYPE).map(|c| &c.value) {
        Some(Value::Enumeration(k)) => *k,
        _ => return Err(KmipError::missing("Adjustment Type")),
    };
    let amount = req.child(t::ADJUSTMENT_VALUE).map(|c| c.value.clone());
    run(b, &id, Edit::Adjust { name, kind, amount }).await?;
    Ok(answer(b, id, None, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmip::enums::adjustment_type as at;

    #[test]
    fn adjustments() {
        let day = Value::Interval(86_400);
        assert_eq!(
            adjusted(&Value::DateTime(1_000), at::INCREMENT, Some(&day)),
            Ok(Value::DateTime(87_400))
        );
        assert_eq!(
            adjusted(&Value::Integer(5), at::DECREMENT, None),
            Ok(Value::Integer(4))
        );
        assert_eq!(
            adjusted(&Value::Integer(5), at::NEGATE, None),
            Ok(Value::Integer(-5))
        );
        assert_eq!(
            adjusted(&Value::LongInteger(i64::MAX), at::INCREMENT, None).map_err(|e| e.reason),
            Err(rr::INVALID_FIELD)
        );
        assert_eq!(
            adjusted(&Value::Integer(i32::MAX), at::INCREMENT, None).map_err(|e| e.reason),
            Err(rr::INVALID_FIELD)
        );
        assert!(adjusted(&Value::DateTime(1), at::NEGATE, None).is_err());
        assert!(adjusted(&Value::TextString("x".into()), at::INCREMENT, None).is_err());
        assert!(adjusted(&Value::Integer(1), 9, None).is_err());
        assert!(adjusted(
            &Value::Integer(1),
            at::INCREMENT,
            Some(&Value::TextString("1".into()))
        )
        .is_err());
    }
}
