//! Get, Get Attributes, Get Attribute List.

use super::{payload, Batch};
use crate::keys::ObjectType;
use crate::kmip::attributes::{self, algorithm_to_kmip, encode_list, object_type_to_kmip, KAttr};
use crate::kmip::enums::{key_format_type as kft, result_reason as rr, secret_data_type as sdt};
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};

/// Get: the object with its key material in a Key Block.
pub async fn get(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    if req.child(t::KEY_WRAPPING_SPECIFICATION).is_some() {
        return Err(KmipError::new(
            rr::FEATURE_NOT_SUPPORTED,
            "Key Wrapping Specification is not supported: keys are returned unwrapped over the mutually authenticated TLS channel",
        ));
    }
    if req.child(t::KEY_COMPRESSION_TYPE).is_some() {
        return Err(KmipError::new(
            rr::FEATURE_NOT_SUPPORTED,
            "Key Compression Type is not supported",
        ));
    }
    let wanted = match req.child(t::KEY_FORMAT_TYPE).map(|c| &c.value) {
        Some(Value::Enumeration(f)) => Some(*f),
        Some(_) => {
            return Err(KmipError::invalid_field(
                "Key Format Type must be an Enumeration",
            ))
        }
        None => None,
    };
    let (meta, material) = b.svc.get_material(b.who, &id).await?;
    let object = match meta.object_type {
        ObjectType::SymmetricKey => {
            let format = wanted.or(attributes::key_format(&meta)).unwrap_or(kft::RAW);
            let key_material = match format {
                kft::RAW => Ttlv::bytes(t::KEY_MATERIAL, material.expose_secret().to_vec()),
                kft::TRANSPARENT_SYMMETRIC_KEY => Ttlv::structure(
                    t::KEY_MATERIAL,
                    vec![Ttlv::bytes(t::KEY, material.expose_secret().to_vec())],
                ),
                other => {
                    return Err(KmipError::new(
                        rr::KEY_FORMAT_TYPE_NOT_SUPPORTED,
                        format!("symmetric keys are served as Raw or Transparent Symmetric Key, not 0x{other:08X}"),
                    ))
                }
            };
            let mut block = vec![
                Ttlv::enumeration(t::KEY_FORMAT_TYPE, format),
                Ttlv::structure(t::KEY_VALUE, vec![key_material]),
            ];
            if let Some(a) = meta.algorithm {
                block.push(Ttlv::enumeration(
                    t::CRYPTOGRAPHIC_ALGORITHM,
                    algorithm_to_kmip(a),
                ));
            }
            if let Some(l) = meta.length {
                block.push(Ttlv::int(t::CRYPTOGRAPHIC_LENGTH, l as i32));
            }
            Ttlv::structure(t::SYMMETRIC_KEY, vec![Ttlv::structure(t::KEY_BLOCK, block)])
        }
        ObjectType::SecretData => {
            // Secret data is bytes either way; Raw and Opaque differ only in the label.
            let format = wanted
                .or(attributes::key_format(&meta))
                .unwrap_or(kft::OPAQUE);
            if format != kft::OPAQUE && format != kft::RAW {
                return Err(KmipError::new(
                    rr::KEY_FORMAT_TYPE_NOT_SUPPORTED,
                    "secret data is served as Opaque or Raw",
                ));
            }
            Ttlv::structure(
                t::SECRET_DATA,
                vec![
                    Ttlv::enumeration(t::SECRET_DATA_TYPE, sdt::PASSWORD),
                    Ttlv::structure(
                        t::KEY_BLOCK,
                        vec![
                            Ttlv::enumeration(t::KEY_FORMAT_TYPE, format),
                            Ttlv::structure(
                                t::KEY_VALUE,
                                vec![Ttlv::bytes(
                                    t::KEY_MATERIAL,
                                    material.expose_secret().to_vec(),
                                )],
                            ),
                        ],
                    ),
                ],
            )
        }
        ObjectType::OpaqueObject => {
            let data_type = meta
                .attributes
                .kmip
                .iter()
                .find(|k| k.name == super::create::OPAQUE_TYPE_ATTR)
                .and_then(|k| hex::decode(&k.ttlv_hex).ok())
                .and_then(|b| Ttlv::decode(&b, &crate::kmip::ttlv::Limits::default()).ok())
                .ok_or_else(|| {
                    KmipError::new(rr::GENERAL_FAILURE, "the opaque object has no data type")
                })?;
            Ttlv::structure(
                t::OPAQUE_OBJECT,
                vec![
                    data_type,
                    Ttlv::bytes(t::OPAQUE_DATA_VALUE, material.expose_secret().to_vec()),
                ],
            )
        }
        ObjectType::PrivateKey | ObjectType::PublicKey => {
            let tag = if meta.object_type == ObjectType::PrivateKey {
                t::PRIVATE_KEY
            } else {
                t::PUBLIC_KEY
            };
            let default = attributes::key_format(&meta).unwrap_or(kft::PKCS_8);
            let format = wanted.unwrap_or(default);
            if format != default {
                return Err(KmipError::new(
                    rr::KEY_FORMAT_TYPE_NOT_SUPPORTED,
                    "RSA keys are served as PKCS#1; EC private keys as PKCS#8 and EC public keys as X.509 SubjectPublicKeyInfo",
                ));
            }
            let mut block = vec![
                Ttlv::enumeration(t::KEY_FORMAT_TYPE, format),
                Ttlv::structure(
                    t::KEY_VALUE,
                    vec![Ttlv::bytes(
                        t::KEY_MATERIAL,
                        material.expose_secret().to_vec(),
                    )],
                ),
            ];
            if let Some(a) = meta.algorithm {
                block.push(Ttlv::enumeration(
                    t::CRYPTOGRAPHIC_ALGORITHM,
                    algorithm_to_kmip(a),
                ));
            }
            if let Some(l) = meta.length {
                block.push(Ttlv::int(t::CRYPTOGRAPHIC_LENGTH, l as i32));
            }
            Ttlv::structure(tag, vec![Ttlv::structure(t::KEY_BLOCK, block)])
        }
        other => {
            return Err(KmipError::unsupported(format!(
                "Get of {} objects is not supported yet",
                other.as_str()
            )))
        }
    };
    Ok(payload(vec![
        Ttlv::enumeration(t::OBJECT_TYPE, object_type_to_kmip(meta.object_type)),
        Ttlv::text(t::UNIQUE_IDENTIFIER, meta.id),
        object,
    ]))
}

/// The attribute names a Get Attributes request asks for (1.x names, 2.x references).
fn requested(b: &Batch<'_>, req: &Ttlv) -> Vec<String> {
    let mut names: Vec<String> = req
        .children_with(t::ATTRIBUTE_NAME)
        .filter_map(|c| match &c.value {
            Value::TextString(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if b.version.is_v2() {
        for r in req.children_with(t::ATTRIBUTE_REFERENCE) {
            match &r.value {
                Value::Enumeration(tag) => names.extend(attributes::name_for_tag(*tag)),
                Value::Structure(_) => {
                    if let Some(Value::TextString(n)) = r.child(t::ATTRIBUTE_NAME).map(|c| &c.value)
                    {
                        names.push(n.clone());
                    }
                }
                _ => {}
            }
        }
    }
    names
}

/// Get Attributes: the named attributes, or all of them.
pub async fn get_attributes(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let meta = b.svc.get(b.who, &id).await?;
    let mut all = attributes::object_attributes(&meta);
    let names = requested(b, req);
    // Key Format Type is an attribute only when asked for (2.x).
    if let (true, Some(f)) = (
        names.iter().any(|n| n == "Key Format Type"),
        attributes::key_format(&meta),
    ) {
        all.push(KAttr {
            name: "Key Format Type".into(),
            value: Ttlv::enumeration(t::KEY_FORMAT_TYPE, f),
        });
    }
    let chosen: Vec<KAttr> = if names.is_empty() {
        all
    } else {
        all.into_iter()
            .filter(|a| names.iter().any(|n| n == &a.name))
            .collect()
    };
    let mut out = vec![Ttlv::text(t::UNIQUE_IDENTIFIER, meta.id)];
    out.extend(encode_list(&chosen, b.version));
    Ok(payload(out))
}

/// Get Attribute List: the names (1.x) or references (2.x) of the object's attributes.
pub async fn get_attribute_list(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let id = b.uid(req)?;
    let meta = b.svc.get(b.who, &id).await?;
    let mut out = vec![Ttlv::text(t::UNIQUE_IDENTIFIER, meta.id.clone())];
    let mut seen = std::collections::BTreeSet::new();
    for a in attributes::object_attributes(&meta) {
        if !seen.insert(a.name.clone()) {
            continue;
        }
        if b.version.is_v2() {
            if a.value.tag != t::ATTRIBUTE_VALUE {
                out.push(Ttlv::enumeration(t::ATTRIBUTE_REFERENCE, a.value.tag));
            }
        } else {
            out.push(Ttlv::text(t::ATTRIBUTE_NAME, a.name));
        }
    }
    Ok(payload(out))
}
