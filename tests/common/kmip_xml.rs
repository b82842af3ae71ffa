//! The XML form of the OASIS KMIP profile test cases: a `<KMIP>` element holding
//! request messages, each followed by the response a conforming server returns.
//!
//! Element names are tag names; `type` gives the TTLV type and `value` the value.
//! Values starting with `$` are variables: `$NOW`, `$NOW-3600` (the current time,
//! shifted) and names such as `$UNIQUE_IDENTIFIER_0`, bound from the first response
//! carrying them. Requests are turned into TTLV only when sent, once those bindings
//! are known ([`to_ttlv`]); responses stay patterns for the matcher.

use clavis::kmip::enums::ENUMERATIONS;
use clavis::kmip::tags::{self as t, TAG_NAMES};
use clavis::kmip::ttlv::{Ttlv, Value};
use quick_xml::events::{BytesStart, Event};
use quick_xml::XmlVersion;
use std::collections::HashMap;
use std::path::Path;

/// Variable bindings: `$NAME` → the value first seen for it.
pub type Vars = HashMap<String, Value>;

/// One element of a message.
#[derive(Debug, Clone)]
pub struct Node {
    /// The tag.
    pub tag: u32,
    /// The element name, as written (for paths in diagnostics).
    pub name: String,
    /// Children or value.
    pub body: Body,
}

/// What an element holds.
#[derive(Debug, Clone)]
pub enum Body {
    /// An element without `type`.
    Structure(Vec<Node>),
    /// A typed value.
    Leaf {
        /// The `type` attribute (`Integer`, `Enumeration`, ...).
        ty: String,
        /// The name of the enumeration that names its values (the tag's name, or for
        /// an Attribute Value the sibling Attribute Name): used for Enumerations and
        /// for masks written as flag names.
        enum_name: String,
        /// The value.
        leaf: Leaf,
    },
}

/// A typed value as written.
#[derive(Debug, Clone)]
pub enum Leaf {
    /// A literal.
    Value(Value),
    /// `$NOW`, `$NOW+N` or `$NOW-N`: the current time plus this many seconds.
    Now(i64),
    /// Any other `$NAME`.
    Var(String),
}

/// A request message and the response expected to it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The request (may hold variables).
    pub request: Node,
    /// The expected response.
    pub response: Node,
}

/// Reads and parses a test-case file.
pub fn load(path: &Path) -> Result<Vec<Step>, String> {
    let xml = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&xml).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a test case: the children of `<KMIP>`, paired request, response.
pub fn parse(xml: &str) -> Result<Vec<Step>, String> {
    let root = parse_elements(xml)?;
    if root.name != "KMIP" {
        return Err(format!("root element is <{}>, not <KMIP>", root.name));
    }
    let messages: Vec<Node> = root
        .children
        .iter()
        .map(|e| convert(e, None))
        .collect::<Result<_, _>>()?;
    let mut steps = Vec::new();
    let mut it = messages.into_iter();
    while let Some(request) = it.next() {
        let response = it
            .next()
            .ok_or_else(|| format!("request {} has no response", steps.len()))?;
        if request.tag != t::REQUEST_MESSAGE || response.tag != t::RESPONSE_MESSAGE {
            return Err(format!(
                "message pair {} is <{}>, <{}>: expected RequestMessage, ResponseMessage",
                steps.len(),
                request.name,
                response.name
            ));
        }
        steps.push(Step { request, response });
    }
    Ok(steps)
}

/// The request as TTLV: variables replaced by their bindings, `$NOW` by `now`.
pub fn to_ttlv(node: &Node, vars: &Vars, now: i64) -> Result<Ttlv, String> {
    let value = match &node.body {
        Body::Structure(children) => Value::Structure(
            children
                .iter()
                .map(|c| to_ttlv(c, vars, now))
                .collect::<Result<_, _>>()?,
        ),
        Body::Leaf { leaf, .. } => match leaf {
            Leaf::Value(v) => v.clone(),
            Leaf::Now(offset) => Value::DateTime(now + offset),
            Leaf::Var(name) => vars
                .get(name)
                .cloned()
                .ok_or_else(|| format!("{}: ${name} is not bound yet", node.name))?,
        },
    };
    Ok(Ttlv {
        tag: node.tag,
        value,
    })
}

/// The specification's name of a tag, or its hex value.
pub fn tag_name(tag: u32) -> String {
    TAG_NAMES
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| format!("0x{tag:06X}"))
}

/// A value for diagnostics: its type and [`value_text`], byte strings shortened.
pub fn describe(value: &Value, enum_name: &str) -> String {
    let text = match value {
        Value::Structure(c) => {
            let tags: Vec<String> = c.iter().map(|c| tag_name(c.tag)).collect();
            format!("[{}]", tags.join(", "))
        }
        Value::TextString(s) => format!("{s:?}"),
        Value::ByteString(b) | Value::BigInteger(b) if b.len() > 24 => {
            format!("{}… ({} bytes)", hex::encode(&b[..16]), b.len())
        }
        _ => value_text(value, enum_name),
    };
    format!("{} {text}", value.type_name())
}

/// A value as the test cases write it: enumerations and masks by name when
/// `enum_name` names them, byte strings in hex, dates in RFC 3339.
pub fn value_text(value: &Value, enum_name: &str) -> String {
    match value {
        Value::Enumeration(v) if enum_name.eq_ignore_ascii_case("AttributeReference") => {
            tag_name(*v)
        }
        Value::Enumeration(v) => enumeration(enum_name)
            .and_then(|vals| vals.iter().find(|(_, x)| x == v))
            .map_or_else(|| format!("0x{v:08X}"), |(n, _)| (*n).to_owned()),
        Value::Integer(v) => match enumeration(enum_name).filter(|_| is_mask(enum_name)) {
            Some(flags) => flags
                .iter()
                .filter(|(_, f)| *v as u32 & f != 0)
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(" "),
            None => v.to_string(),
        },
        Value::LongInteger(v) | Value::DateTimeExtended(v) => v.to_string(),
        Value::Interval(v) => v.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::TextString(s) => s.clone(),
        Value::ByteString(b) | Value::BigInteger(b) => hex::encode(b),
        Value::DateTime(s) => rfc3339(*s),
        Value::Structure(_) => String::new(),
    }
}

/// A message in the test cases' XML form, for reading what a server sent.
pub fn to_xml(item: &Ttlv) -> String {
    let mut out = String::new();
    write_xml(item, "", 0, &mut out);
    out
}

fn write_xml(item: &Ttlv, enum_name: &str, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let name = tag_name(item.tag);
    let Value::Structure(children) = &item.value else {
        let (ty, text) = (item.value.type_name(), value_text(&item.value, enum_name));
        out.push_str(&format!("{pad}<{name} type=\"{ty}\" value={text:?}/>\n"));
        return;
    };
    out.push_str(&format!("{pad}<{name}>\n"));
    let attr_name = match item.child(t::ATTRIBUTE_NAME).map(|c| &c.value) {
        Some(Value::TextString(n)) => Some(n.replace(' ', "")),
        _ => None,
    };
    for c in children {
        let enum_name = match &attr_name {
            Some(n) if c.tag == t::ATTRIBUTE_VALUE => n.clone(),
            _ => tag_name(c.tag),
        };
        write_xml(c, &enum_name, depth + 1, out);
    }
    out.push_str(&format!("{pad}</{name}>\n"));
}

fn rfc3339(secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// An XML element before conversion.
struct Element {
    name: String,
    ty: Option<String>,
    value: Option<String>,
    children: Vec<Element>,
}

fn parse_elements(xml: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error near byte {at}: {e}"))?;
        let done = match event {
            Event::Start(e) => {
                stack.push(element(&e)?);
                None
            }
            Event::Empty(e) => close(&mut stack, element(&e)?),
            Event::End(_) => {
                let e = stack.pop().ok_or("unbalanced end tag")?;
                close(&mut stack, e)
            }
            Event::Eof => return Err("no <KMIP> element".into()),
            _ => None, // declarations, comments, whitespace
        };
        if let Some(root) = done {
            return Ok(root);
        }
    }
}

/// Attaches `e` to its parent; returns it when it is the root.
fn close(stack: &mut [Element], e: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(e);
            None
        }
        None => Some(e),
    }
}

fn element(e: &BytesStart) -> Result<Element, String> {
    let name = e.name().as_ref().to_owned();
    let (mut ty, mut value) = (None, None);
    for a in e.attributes() {
        let a = a.map_err(|err| format!("<{name}>: {err}"))?;
        let v = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("<{name}>: {err}"))?
            .into_owned();
        match a.key.as_ref() {
            "type" => ty = Some(v),
            "value" => value = Some(v),
            _ => {}
        }
    }
    Ok(Element {
        name,
        ty,
        value,
        children: Vec::new(),
    })
}

/// `attr_name` is the Attribute Name beside this element, for an Attribute Value.
fn convert(e: &Element, attr_name: Option<&str>) -> Result<Node, String> {
    let tag = tag_of(&e.name).ok_or_else(|| format!("unknown tag <{}>", e.name))?;
    let body = match &e.ty {
        None => {
            let sibling_name = e
                .children
                .iter()
                .find(|c| c.name == "AttributeName")
                .and_then(|c| c.value.as_deref());
            Body::Structure(
                e.children
                    .iter()
                    .map(|c| convert(c, sibling_name))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(ty) => {
            let enum_name = match attr_name {
                Some(n) if tag == t::ATTRIBUTE_VALUE => n.replace(' ', ""),
                _ => e.name.clone(),
            };
            let text = e.value.as_deref().unwrap_or("");
            let leaf = leaf(ty, text, &enum_name)
                .map_err(|err| format!("<{} type=\"{ty}\" value=\"{text}\">: {err}", e.name))?;
            Body::Leaf {
                ty: ty.clone(),
                enum_name,
                leaf,
            }
        }
    };
    Ok(Node {
        tag,
        name: e.name.clone(),
        body,
    })
}

fn tag_of(name: &str) -> Option<u32> {
    TAG_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(tag, _)| *tag)
}

fn leaf(ty: &str, text: &str, enum_name: &str) -> Result<Leaf, String> {
    if let Some(var) = text.strip_prefix('$') {
        return Ok(match var.strip_prefix("NOW") {
            Some("") => Leaf::Now(0),
            Some(offset) => Leaf::Now(offset.parse().map_err(|_| "bad $NOW offset")?),
            None => Leaf::Var(var.to_owned()),
        });
    }
    let value = match ty {
        "Integer" => Value::Integer(match number(text) {
            Some(n) => i32::try_from(n).map_err(|_| "out of range")?,
            None => mask(text, enum_name)? as i32,
        }),
        "LongInteger" => Value::LongInteger(number(text).ok_or("not a number")?),
        "BigInteger" => {
            let mut b = hex::decode(text).map_err(|e| e.to_string())?;
            while b.len() % 8 != 0 {
                b.insert(0, 0);
            }
            Value::BigInteger(b)
        }
        "Enumeration" => Value::Enumeration(enum_value(text, enum_name)?),
        "Boolean" => Value::Boolean(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err("not a boolean".into()),
        }),
        "TextString" => Value::TextString(text.to_owned()),
        "ByteString" => Value::ByteString(hex::decode(text).map_err(|e| e.to_string())?),
        "DateTime" => Value::DateTime(iso8601(text).ok_or("not an ISO 8601 date")?),
        "DateTimeExtended" => Value::DateTimeExtended(
            number(text)
                .or_else(|| iso8601(text).map(|s| s * 1_000_000))
                .ok_or("not a date")?,
        ),
        "Interval" => Value::Interval(text.parse().map_err(|_| "not a number")?),
        other => return Err(format!("unknown type {other}")),
    };
    Ok(Leaf::Value(value))
}

/// Decimal or `0x` hex.
fn number(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => text.parse().ok(),
    }
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The values of the enumeration called `name` (ignoring case and underscores).
pub fn enumeration(name: &str) -> Option<&'static [(&'static str, u32)]> {
    let want = normalize(name);
    ENUMERATIONS
        .iter()
        .find(|(n, _)| normalize(n) == want)
        .map(|(_, values)| *values)
}

/// Value names the test cases spell differently from the enumeration table:
/// (enumeration, XML spelling, table spelling). Used only when the XML spelling is
/// not in the table.
const XML_ALIASES: &[(&str, &str, &str)] = &[
    ("CryptographicAlgorithm", "DES3", "TripleDes"),
    ("ObjectType", "OpaqueObject", "OpaqueData"),
];

fn is_mask(enum_name: &str) -> bool {
    normalize(enum_name).ends_with("mask")
}

fn enum_value(text: &str, enum_name: &str) -> Result<u32, String> {
    if let Some(n) = number(text) {
        return u32::try_from(n).map_err(|_| "out of range".into());
    }
    // KMIP 2 Attribute Reference: an enumeration whose values are tags.
    if enum_name.eq_ignore_ascii_case("AttributeReference") {
        return tag_of(text).ok_or_else(|| format!("no tag named {text}"));
    }
    let values = enumeration(enum_name).ok_or_else(|| format!("no enumeration {enum_name}"))?;
    let find = |name: &str| {
        let want = normalize(name);
        values
            .iter()
            .find(|(n, _)| normalize(n) == want)
            .map(|(_, v)| *v)
    };
    let alias = || {
        XML_ALIASES
            .iter()
            .find(|(e, xml, _)| normalize(e) == normalize(enum_name) && *xml == text)
            .and_then(|(_, _, table)| find(table))
    };
    find(text)
        .or_else(alias)
        .ok_or_else(|| format!("{enum_name} has no value {text}"))
}

/// A mask written as flag names separated by spaces or `|`.
fn mask(text: &str, enum_name: &str) -> Result<u32, String> {
    text.split(|c: char| c == '|' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .try_fold(0u32, |acc, flag| Ok(acc | enum_value(flag, enum_name)?))
}

/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `±HH:MM`, to Unix seconds.
fn iso8601(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, "Z"),
    };
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (c.next()??, c.next()??, c.next()??);
    let offset_secs = match offset {
        "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + s - offset_secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
