//! Create Key Pair (RSA 2048/3072/4096, EC P-256/P-384).

use super::{payload, Batch};
use crate::keys::{now_secs, Algorithm};
use crate::kmip::attributes::{self, KAttr, NewObjectSpec};
use crate::kmip::enums::recommended_curve as rc;
use crate::kmip::error::KmipError;
use crate::kmip::tags as t;
use crate::kmip::ttlv::{Ttlv, Value};
use crate::service::CreateKeyPair;

/// Attributes of one group (common, private, public) in either encoding.
fn group(b: &Batch<'_>, req: &Ttlv, v1_tag: u32, v2_tag: u32) -> Result<Vec<KAttr>, KmipError> {
    let mut out = Vec::new();
    if b.version.is_v2() {
        if let Some(g) = req.child(v2_tag) {
            for item in g.children() {
                out.push(attributes::from_v2(item)?);
            }
        }
    } else if let Some(g) = req.child(v1_tag) {
        for a in g.children_with(t::ATTRIBUTE) {
            out.push(attributes::from_v1(a)?);
        }
    }
    // The curve may come as a domain parameter instead of a length.
    for a in out.iter_mut() {
        if a.name == "Cryptographic Domain Parameters" {
            if let Some(Value::Enumeration(curve)) =
                a.value.child(t::RECOMMENDED_CURVE).map(|c| &c.value)
            {
                let bits = match *curve {
                    rc::P_256 => 256,
                    rc::P_384 => 384,
                    _ => {
                        return Err(KmipError::invalid_field(
                            "only the P-256 and P-384 curves are offered",
                        ))
                    }
                };
                *a = KAttr {
                    name: "Cryptographic Length".into(),
                    value: Ttlv::int(t::CRYPTOGRAPHIC_LENGTH, bits),
                };
            }
        }
    }
    Ok(out)
}

/// Create Key Pair.
pub async fn create_key_pair(b: &mut Batch<'_>, req: &Ttlv) -> Result<Ttlv, KmipError> {
    let common = group(b, req, t::COMMON_TEMPLATE_ATTRIBUTE, t::COMMON_ATTRIBUTES)?;
    let private = group(
        b,
        req,
        t::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
        t::PRIVATE_KEY_ATTRIBUTES,
    )?;
    let public = group(
        b,
        req,
        t::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
        t::PUBLIC_KEY_ATTRIBUTES,
    )?;
    let now = now_secs();
    let spec = |own: &[KAttr]| -> Result<NewObjectSpec, KmipError> {
        let mut all = common.clone();
        all.extend_from_slice(own);
        attributes::new_object_spec(&all, now)
    };
    let (sp, sq) = (spec(&private)?, spec(&public)?);
    let algorithm = sp
        .algorithm
        .or(sq.algorithm)
        .ok_or_else(|| KmipError::missing("Cryptographic Algorithm"))?;
    if algorithm == Algorithm::Aes {
        return Err(KmipError::invalid_field(
            "Create Key Pair makes RSA or EC keys",
        ));
    }
    let length = sp
        .length
        .or(sq.length)
        .ok_or_else(|| KmipError::missing("Cryptographic Length"))?;
    let (private_meta, public_meta) = b
        .svc
        .create_key_pair(
            b.who,
            CreateKeyPair {
                algorithm,
                length,
                private_name: sp.name,
                public_name: sq.name,
                activate: sp.activate_now || sq.activate_now,
                private_attributes: sp.attributes,
                public_attributes: sq.attributes,
            },
        )
        .await?;
    // The private key becomes the ID placeholder (KMIP says so for Create Key Pair).
    b.placeholder = Some(private_meta.id.clone());
    Ok(payload(vec![
        Ttlv::text(t::PRIVATE_KEY_UNIQUE_IDENTIFIER, private_meta.id),
        Ttlv::text(t::PUBLIC_KEY_UNIQUE_IDENTIFIER, public_meta.id),
    ]))
}
