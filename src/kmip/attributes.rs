//! KMIP attributes in both encodings: 1.x `Attribute {Attribute Name, Attribute Value}`
//! structures and 2.x items tagged by the attribute itself inside `Attributes`. Inside
//! Clavis an attribute is a name (the 1.x spelling, e.g. `Cryptographic Algorithm`) and
//! a value item tagged with the attribute's own tag.

use super::enums::{
    cryptographic_algorithm as ca, name_type, object_type as ot, revocation_reason_code as rrc,
    state as st,
};
use super::error::KmipError;
use super::message::ProtocolVersion;
use super::tags::{self as t, TAG_NAMES};
use super::ttlv::{Ttlv, Value};
use crate::keys::LinkKind;
use crate::keys::{
    Algorithm, Attributes, KmipAttribute, ObjectMeta, ObjectType, RevocationReason, State,
};

/// One attribute: its KMIP name and its value, tagged with the attribute's tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KAttr {
    /// The 1.x attribute name (`Cryptographic Length`, `x-owner`).
    pub name: String,
    /// The value item.
    pub value: Ttlv,
}

/// `CryptographicLength` → `Cryptographic Length`.
fn spaced(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The tag of a standard attribute named in 1.x spelling, if known.
pub fn tag_for_name(name: &str) -> Option<u32> {
    let key: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    TAG_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(&key))
        .map(|(tag, _)| *tag)
}

/// The 1.x name of the attribute with `tag`, if it is a known tag.
pub fn name_for_tag(tag: u32) -> Option<String> {
    TAG_NAMES
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, n)| spaced(n))
}

fn retag(mut v: Ttlv, tag: u32) -> Ttlv {
    v.tag = tag;
    v
}

/// Parses a 1.x `Attribute` structure.
pub fn from_v1(attr: &Ttlv) -> Result<KAttr, KmipError> {
    let name = match attr.child(t::ATTRIBUTE_NAME).map(|c| &c.value) {
        Some(Value::TextString(n)) if !n.is_empty() && n.len() <= 255 => n.clone(),
        _ => {
            return Err(KmipError::invalid_field(
                "Attribute without a valid Attribute Name",
            ))
        }
    };
    let value = attr.child(t::ATTRIBUTE_VALUE).ok_or_else(|| {
        KmipError::invalid_field(format!("attribute {name} has no Attribute Value"))
    })?;
    let tag = tag_for_name(&name).unwrap_or(t::ATTRIBUTE_VALUE);
    Ok(KAttr {
        name,
        value: retag(value.clone(), tag),
    })
}

/// Parses one item of a 2.x `Attributes` structure.
pub fn from_v2(item: &Ttlv) -> Result<KAttr, KmipError> {
    let name = name_for_tag(item.tag).ok_or_else(|| {
        KmipError::invalid_field(format!("unknown attribute tag 0x{:06X}", item.tag))
    })?;
    Ok(KAttr {
        name,
        value: item.clone(),
    })
}

/// Encodes for a 1.x message.
pub fn to_v1(a: &KAttr) -> Ttlv {
    Ttlv::structure(
        t::ATTRIBUTE,
        vec![
            Ttlv::text(t::ATTRIBUTE_NAME, a.name.clone()),
            retag(a.value.clone(), t::ATTRIBUTE_VALUE),
        ],
    )
}

/// Encodes for a 2.x message; `None` for 1.x custom attributes, which 2.x carries as
/// Vendor Attributes (not supported yet).
pub fn to_v2(a: &KAttr) -> Option<Ttlv> {
    (a.value.tag != t::ATTRIBUTE_VALUE).then(|| a.value.clone())
}

/// Encodes a list of attributes the way `version` expects them inside a payload.
pub fn encode_list(attrs: &[KAttr], version: ProtocolVersion) -> Vec<Ttlv> {
    if version.is_v2() {
        vec![Ttlv::structure(
            t::ATTRIBUTES,
            attrs.iter().filter_map(to_v2).collect(),
        )]
    } else {
        attrs.iter().map(to_v1).collect()
    }
}

/// The attributes given in a request payload: 1.x `Template-Attribute` (or, for Locate,
/// bare `Attribute` items), 2.x `Attributes`.
pub fn from_request(payload: &Ttlv, version: ProtocolVersion) -> Result<Vec<KAttr>, KmipError> {
    let mut out = Vec::new();
    if version.is_v2() {
        for group in payload.children_with(t::ATTRIBUTES) {
            for item in group.children() {
                out.push(from_v2(item)?);
            }
        }
    } else {
        for tpl in payload.children_with(t::TEMPLATE_ATTRIBUTE) {
            if tpl.child(t::NAME).is_some() {
                return Err(KmipError::unsupported(
                    "templates are not supported; send the attributes",
                ));
            }
            for a in tpl.children_with(t::ATTRIBUTE) {
                out.push(from_v1(a)?);
            }
        }
        for a in payload.children_with(t::ATTRIBUTE) {
            out.push(from_v1(a)?);
        }
    }
    Ok(out)
}

fn enum_of(a: &KAttr) -> Result<u32, KmipError> {
    match a.value.value {
        Value::Enumeration(v) => Ok(v),
        _ => Err(KmipError::invalid_field(format!(
            "{} must be an Enumeration",
            a.name
        ))),
    }
}

fn int_of(a: &KAttr) -> Result<i32, KmipError> {
    match a.value.value {
        Value::Integer(v) => Ok(v),
        _ => Err(KmipError::invalid_field(format!(
            "{} must be an Integer",
            a.name
        ))),
    }
}

/// The Name Value of a Name attribute.
pub fn name_value(a: &KAttr) -> Result<String, KmipError> {
    match a.value.child(t::NAME_VALUE).map(|c| &c.value) {
        Some(Value::TextString(s)) => Ok(s.clone()),
        _ => Err(KmipError::invalid_field(
            "Name needs a Name Value text string",
        )),
    }
}

/// KMIP Cryptographic Algorithm ↔ ours.
pub fn algorithm_to_kmip(a: Algorithm) -> u32 {
    match a {
        Algorithm::Aes => ca::AES,
        Algorithm::Rsa => ca::RSA,
        Algorithm::Ec => ca::EC,
    }
}

/// Ours from KMIP, or an error naming the algorithm.
pub fn algorithm_from_kmip(v: u32) -> Result<Algorithm, KmipError> {
    match v {
        ca::AES => Ok(Algorithm::Aes),
        ca::RSA => Ok(Algorithm::Rsa),
        // Clients name EC keys EC or ECDSA.
        ca::EC | ca::ECDSA => Ok(Algorithm::Ec),
        other => Err(KmipError::new(
            super::enums::result_reason::INVALID_FIELD,
            format!("Cryptographic Algorithm 0x{other:08X} is not supported; use AES, RSA or EC"),
        )),
    }
}

/// KMIP Object Type ↔ ours.
pub fn object_type_to_kmip(o: ObjectType) -> u32 {
    match o {
        ObjectType::Certificate => ot::CERTIFICATE,
        ObjectType::SymmetricKey => ot::SYMMETRIC_KEY,
        ObjectType::PublicKey => ot::PUBLIC_KEY,
        ObjectType::PrivateKey => ot::PRIVATE_KEY,
        ObjectType::SecretData => ot::SECRET_DATA,
        ObjectType::OpaqueObject => ot::OPAQUE_DATA,
    }
}

/// Ours from KMIP.
pub fn object_type_from_kmip(v: u32) -> Option<ObjectType> {
    Some(match v {
        ot::CERTIFICATE => ObjectType::Certificate,
        ot::SYMMETRIC_KEY => ObjectType::SymmetricKey,
        ot::PUBLIC_KEY => ObjectType::PublicKey,
        ot::PRIVATE_KEY => ObjectType::PrivateKey,
        ot::SECRET_DATA => ObjectType::SecretData,
        ot::OPAQUE_DATA => ObjectType::OpaqueObject,
        _ => return None,
    })
}

/// KMIP State ↔ ours.
pub fn state_to_kmip(s: State) -> u32 {
    match s {
        State::PreActive => st::PRE_ACTIVE,
        State::Active => st::ACTIVE,
        State::Deactivated => st::DEACTIVATED,
        State::Compromised => st::COMPROMISED,
        State::Destroyed => st::DESTROYED,
        State::DestroyedCompromised => st::DESTROYED_COMPROMISED,
    }
}

/// Ours from KMIP.
pub fn state_from_kmip(v: u32) -> Option<State> {
    crate::keys::ALL_STATES
        .iter()
        .copied()
        .find(|s| state_to_kmip(*s) == v)
}

/// KMIP Revocation Reason Code → ours.
pub fn revocation_from_kmip(v: u32) -> Option<RevocationReason> {
    Some(match v {
        rrc::UNSPECIFIED => RevocationReason::Unspecified,
        rrc::KEY_COMPROMISE => RevocationReason::KeyCompromise,
        rrc::CA_COMPROMISE => RevocationReason::CaCompromise,
        rrc::AFFILIATION_CHANGED => RevocationReason::AffiliationChanged,
        rrc::SUPERSEDED => RevocationReason::Superseded,
        rrc::CESSATION_OF_OPERATION => RevocationReason::CessationOfOperation,
        rrc::PRIVILEGE_WITHDRAWN => RevocationReason::PrivilegeWithdrawn,
        _ => return None,
    })
}

fn revocation_to_kmip(r: RevocationReason) -> u32 {
    match r {
        RevocationReason::Unspecified => rrc::UNSPECIFIED,
        RevocationReason::KeyCompromise => rrc::KEY_COMPROMISE,
        RevocationReason::CaCompromise => rrc::CA_COMPROMISE,
        RevocationReason::AffiliationChanged => rrc::AFFILIATION_CHANGED,
        RevocationReason::Superseded => rrc::SUPERSEDED,
        RevocationReason::CessationOfOperation => rrc::CESSATION_OF_OPERATION,
        RevocationReason::PrivilegeWithdrawn => rrc::PRIVILEGE_WITHDRAWN,
    }
}

/// What a Create or Register request asks for, from its attributes.
#[derive(Debug, Default)]
pub struct NewObjectSpec {
    /// Cryptographic Algorithm.
    pub algorithm: Option<Algorithm>,
    /// Cryptographic Length.
    pub length: Option<u32>,
    /// The Name (first one).
    pub name: Option<String>,
    /// Whether an Activation Date at or before now was given.
    pub activate_now: bool,
    /// Everything else to keep.
    pub attributes: Attributes,
}

/// Attributes a client may not set (the server owns them).
const SERVER_OWNED: &[&str] = &[
    "Unique Identifier",
    "Object Type",
    "State",
    "Initial Date",
    "Last Change Date",
    "Destroy Date",
    "Compromise Date",
    "Compromise Occurrence Date",
    "Revocation Reason",
    "Fresh",
    "Key Value Present",
    "Original Creation Date",
    "Always Sensitive",
    "Never Extractable",
];

/// Turns request attributes into a [`NewObjectSpec`].
pub fn new_object_spec(attrs: &[KAttr], now: i64) -> Result<NewObjectSpec, KmipError> {
    let mut spec = NewObjectSpec::default();
    for a in attrs {
        match a.name.as_str() {
            "Cryptographic Algorithm" => spec.algorithm = Some(algorithm_from_kmip(enum_of(a)?)?),
            "Cryptographic Length" => {
                let l = int_of(a)?;
                spec.length = Some(u32::try_from(l).map_err(|_| {
                    KmipError::invalid_field("Cryptographic Length must be positive")
                })?);
            }
            "Cryptographic Usage Mask" => spec.attributes.usage_mask = Some(int_of(a)? as u32),
            "Name" => {
                let n = name_value(a)?;
                if spec.name.is_none() {
                    spec.name = Some(n);
                } else {
                    spec.attributes.kmip.push(stored(a));
                }
            }
            "Activation Date" => match a.value.value {
                Value::DateTime(d) if d <= now => {
                    spec.activate_now = true;
                    spec.attributes.activation_date = Some(d);
                }
                Value::DateTime(_) => {
                    return Err(KmipError::unsupported(
                        "future Activation Dates are not supported yet",
                    ))
                }
                _ => {
                    return Err(KmipError::invalid_field(
                        "Activation Date must be a Date-Time",
                    ))
                }
            },
            "Deactivation Date" => match a.value.value {
                Value::DateTime(d) => spec.attributes.deactivation_date = Some(d),
                _ => {
                    return Err(KmipError::invalid_field(
                        "Deactivation Date must be a Date-Time",
                    ))
                }
            },
            n if SERVER_OWNED.contains(&n) => {
                return Err(KmipError::invalid_field(format!(
                    "attribute {n} is set by the server"
                )))
            }
            n if n.starts_with("x-") || n.starts_with("y-") => match &a.value.value {
                Value::TextString(s) => {
                    spec.attributes.custom.insert(n.to_owned(), s.clone());
                }
                _ => spec.attributes.kmip.push(stored(a)),
            },
            _ => spec.attributes.kmip.push(stored(a)),
        }
    }
    Ok(spec)
}

/// The form in which an uninterpreted attribute is kept.
pub fn stored(a: &KAttr) -> KmipAttribute {
    KmipAttribute {
        name: a.name.clone(),
        ttlv_hex: hex::encode(a.value.encode()),
    }
}

fn from_stored(k: &KmipAttribute) -> Option<KAttr> {
    let bytes = hex::decode(&k.ttlv_hex).ok()?;
    let value = Ttlv::decode(&bytes, &super::ttlv::Limits::default()).ok()?;
    Some(KAttr {
        name: k.name.clone(),
        value,
    })
}

fn name_attr(n: &str) -> KAttr {
    KAttr {
        name: "Name".into(),
        value: Ttlv::structure(
            t::NAME,
            vec![
                Ttlv::text(t::NAME_VALUE, n),
                Ttlv::enumeration(t::NAME_TYPE, name_type::UNINTERPRETED_TEXT_STRING),
            ],
        ),
    }
}

/// The key format an object is served in by default: the one it was registered in,
/// else Raw for symmetric keys, PKCS#8 for private keys, X.509 SPKI for public keys and
/// Opaque for secret data.
pub fn key_format(meta: &ObjectMeta) -> Option<u32> {
    use super::enums::key_format_type as kft;
    let registered = meta
        .attributes
        .kmip
        .iter()
        .find(|k| k.name == "Key Format Type")
        .and_then(from_stored);
    if let Some(Value::Enumeration(f)) = registered.map(|a| a.value.value) {
        return Some(f);
    }
    match meta.object_type {
        ObjectType::SymmetricKey => Some(kft::RAW),
        ObjectType::PrivateKey if meta.algorithm == Some(Algorithm::Rsa) => Some(kft::PKCS_1),
        ObjectType::PublicKey if meta.algorithm == Some(Algorithm::Rsa) => Some(kft::PKCS_1),
        ObjectType::PrivateKey => Some(kft::PKCS_8),
        ObjectType::PublicKey => Some(kft::X_509),
        ObjectType::SecretData => Some(kft::OPAQUE),
        _ => None,
    }
}

/// Every attribute of an object, in a stable order.
pub fn object_attributes(meta: &ObjectMeta) -> Vec<KAttr> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: Ttlv| {
        out.push(KAttr {
            name: name.to_owned(),
            value,
        })
    };
    push(
        "Unique Identifier",
        Ttlv::text(t::UNIQUE_IDENTIFIER, meta.id.clone()),
    );
    push(
        "Object Type",
        Ttlv::enumeration(t::OBJECT_TYPE, object_type_to_kmip(meta.object_type)),
    );
    if let Some(a) = meta.algorithm {
        push(
            "Cryptographic Algorithm",
            Ttlv::enumeration(t::CRYPTOGRAPHIC_ALGORITHM, algorithm_to_kmip(a)),
        );
    }
    if let (Some(l), ObjectType::SymmetricKey | ObjectType::PrivateKey | ObjectType::PublicKey) =
        (meta.length, meta.object_type)
    {
        push(
            "Cryptographic Length",
            Ttlv::int(t::CRYPTOGRAPHIC_LENGTH, l as i32),
        );
    }
    if let Some(m) = meta.attributes.usage_mask {
        push(
            "Cryptographic Usage Mask",
            Ttlv::int(t::CRYPTOGRAPHIC_USAGE_MASK, m as i32),
        );
    }
    let digest = meta
        .attributes
        .digest_sha256
        .as_deref()
        .and_then(|d| hex::decode(d).ok());
    if let (Some(d), Some(f)) = (digest, key_format(meta)) {
        push(
            "Digest",
            Ttlv::structure(
                t::DIGEST,
                vec![
                    Ttlv::enumeration(
                        t::HASHING_ALGORITHM,
                        super::enums::hashing_algorithm::SHA_256,
                    ),
                    Ttlv::bytes(t::DIGEST_VALUE, d),
                    Ttlv::enumeration(t::KEY_FORMAT_TYPE, f),
                ],
            ),
        );
    }
    push(
        "State",
        Ttlv::enumeration(t::STATE, state_to_kmip(meta.state)),
    );
    push(
        "Initial Date",
        Ttlv::datetime(t::INITIAL_DATE, meta.created_at),
    );
    let a = &meta.attributes;
    for (name, tag, v) in [
        ("Activation Date", t::ACTIVATION_DATE, a.activation_date),
        (
            "Deactivation Date",
            t::DEACTIVATION_DATE,
            a.deactivation_date,
        ),
        ("Destroy Date", t::DESTROY_DATE, a.destroy_date),
        ("Compromise Date", t::COMPROMISE_DATE, a.compromise_date),
    ] {
        if let Some(d) = v {
            push(name, Ttlv::datetime(tag, d));
        }
    }
    if let Some(r) = a.revocation_reason {
        let mut fields = vec![Ttlv::enumeration(
            t::REVOCATION_REASON_CODE,
            revocation_to_kmip(r),
        )];
        if let Some(m) = &a.revocation_message {
            fields.push(Ttlv::text(t::REVOCATION_MESSAGE, m.clone()));
        }
        push(
            "Revocation Reason",
            Ttlv::structure(t::REVOCATION_REASON, fields),
        );
    }
    push(
        "Last Change Date",
        Ttlv::datetime(t::LAST_CHANGE_DATE, meta.updated_at),
    );
    if let Some(n) = &meta.name {
        out.push(name_attr(n));
    }
    for l in &a.links {
        let kind = match l.kind {
            LinkKind::PublicKey => super::enums::link_type::PUBLIC_KEY_LINK,
            LinkKind::PrivateKey => super::enums::link_type::PRIVATE_KEY_LINK,
            LinkKind::Replacement => super::enums::link_type::REPLACEMENT_OBJECT_LINK,
            LinkKind::Replaced => super::enums::link_type::REPLACED_OBJECT_LINK,
        };
        out.push(KAttr {
            name: "Link".into(),
            value: Ttlv::structure(
                t::LINK,
                vec![
                    Ttlv::enumeration(t::LINK_TYPE, kind),
                    Ttlv::text(t::LINKED_OBJECT_IDENTIFIER, l.id.clone()),
                ],
            ),
        });
    }
    for (k, v) in &a.custom {
        out.push(KAttr {
            name: k.clone(),
            value: Ttlv::text(t::ATTRIBUTE_VALUE, v.clone()),
        });
    }
    out.extend(
        a.kmip
            .iter()
            .filter(|k| k.name != "Key Format Type" && k.name != "Opaque Data Type")
            .filter_map(from_stored),
    );
    out
}

/// Attributes a client may add, modify or delete: everything except the server-owned
/// ones and the immutable cryptographic ones.
pub fn is_client_editable(name: &str) -> bool {
    !SERVER_OWNED.contains(&name)
        && !matches!(
            name,
            "Cryptographic Algorithm"
                | "Cryptographic Length"
                | "Activation Date"
                | "Deactivation Date"
        )
}

/// Attributes of which an object has at most one value.
pub fn is_single_valued(name: &str) -> bool {
    matches!(
        name,
        "Cryptographic Usage Mask"
            | "Contact Information"
            | "Sensitive"
            | "Extractable"
            | "Description"
            | "Comment"
    )
}

/// The editable attributes of an object, flattened: every value one entry, in order.
pub fn editable(name: &Option<String>, a: &Attributes) -> Vec<KAttr> {
    let mut out = Vec::new();
    if let Some(n) = name {
        out.push(name_attr(n));
    }
    if let Some(m) = a.usage_mask {
        out.push(KAttr {
            name: "Cryptographic Usage Mask".into(),
            value: Ttlv::int(t::CRYPTOGRAPHIC_USAGE_MASK, m as i32),
        });
    }
    for (k, v) in &a.custom {
        out.push(KAttr {
            name: k.clone(),
            value: Ttlv::text(t::ATTRIBUTE_VALUE, v.clone()),
        });
    }
    out.extend(a.kmip.iter().filter_map(from_stored));
    out
}

/// Writes a flattened list back into the name and attributes (inverse of [`editable`]).
pub fn store_editable(
    list: &[KAttr],
    name: &mut Option<String>,
    a: &mut Attributes,
) -> Result<(), KmipError> {
    *name = None;
    a.usage_mask = None;
    a.custom.clear();
    a.kmip.clear();
    for item in list {
        match item.name.as_str() {
            "Name" if name.is_none() => *name = Some(name_value(item)?),
            "Cryptographic Usage Mask" if a.usage_mask.is_none() => {
                a.usage_mask = Some(int_of(item)? as u32)
            }
            n if (n.starts_with("x-") || n.starts_with("y-")) && !a.custom.contains_key(n) => {
                match &item.value.value {
                    Value::TextString(s) => {
                        a.custom.insert(n.to_owned(), s.clone());
                    }
                    _ => a.kmip.push(stored(item)),
                }
            }
            _ => a.kmip.push(stored(item)),
        }
    }
    Ok(())
}
