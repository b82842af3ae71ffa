//! A small, bounded SOAP 1.1/1.2 envelope reader and writer for the OKM agent
//! protocol.
//!
//! The agents' gSOAP runtime sends RPC-style bodies: one operation element in a
//! namespace, whose children are unqualified elements holding text (strings, numbers,
//! hexBinary) or further elements (a `DataUnit`, a `QueryParameters`). That is all we
//! read, so the reader builds a small tree and refuses anything a key manager has no
//! business accepting from the network:
//!
//! - a document over [`Limits::max_bytes`], deeper than [`Limits::max_depth`] or with
//!   more than [`Limits::max_elements`] elements;
//! - any `<!DOCTYPE>` (no DTD, hence no entity definitions and no expansion: the only
//!   references resolved are the five predefined ones and character references);
//! - processing instructions other than the XML declaration, and text outside the body;
//! - input that is not UTF-8 or not well-formed.
//!
//! The writer escapes all text and emits SOAP 1.1 envelopes in the namespaces the agent
//! library's namespace tables list (`SOAP/KMS_Agent.nsmap` and siblings).

use quick_xml::events::Event;
use quick_xml::Reader;

/// SOAP 1.1 envelope namespace (what the agent library writes).
pub const SOAP11_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (which the library also accepts).
pub const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Reader limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting (the envelope is depth 1).
    pub max_depth: usize,
    /// Most elements in a document.
    pub max_elements: usize,
    /// Longest text of one element, in bytes.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // The largest legitimate request (RegisterAgentKWK with a 4096-bit RSA block,
        // or a QueryParameters with filters) is well under 8 KiB.
        Limits {
            max_bytes: 64 * 1024,
            max_depth: 12,
            max_elements: 512,
            max_text: 16 * 1024,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// Over a limit.
    #[error("SOAP request too large: {0}")]
    TooLarge(&'static str),
    /// A DTD was present.
    #[error("SOAP request refused: document type declarations are not accepted")]
    Dtd,
    /// An entity reference other than the predefined ones.
    #[error("SOAP request refused: unknown entity reference &{0};")]
    Entity(String),
    /// Not well-formed, or not an envelope with a body holding one operation.
    #[error("malformed SOAP request: {0}")]
    Malformed(String),
}

/// An element: local name, namespace prefix as written, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Prefix as written (`KMS-Agent` in `KMS-Agent:CreateKey`), empty if none.
    pub prefix: String,
    /// Local name.
    pub name: String,
    /// Namespace declarations made on this element: (prefix, URI); "" is the default.
    pub xmlns: Vec<(String, String)>,
    /// Concatenated character data.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with local name `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of child `name`, `None` when absent or empty.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// A parsed request: the operation element inside `Body`, and the namespace URI its
/// prefix is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The operation element (e.g. `RetrieveProtectAndProcessKey`).
    pub op: Element,
    /// The namespace of the operation (e.g. `http://www.sun.com/KMS/KMS-Agent`).
    pub namespace: Option<String>,
}

/// Parses a SOAP envelope and returns the operation in its body.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Request, SoapError> {
    if input.len() > limits.max_bytes {
        return Err(SoapError::TooLarge("the document is over the size limit"));
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| SoapError::Malformed("the document is not UTF-8".into()))?;
    let root = parse_tree(text, limits)?;
    if root.name != "Envelope" || !is_envelope_ns(&root, &root.prefix) {
        return Err(SoapError::Malformed(
            "the document element is not a SOAP Envelope".into(),
        ));
    }
    let body = root
        .children
        .iter()
        .find(|c| c.name == "Body")
        .ok_or_else(|| SoapError::Malformed("the envelope has no Body".into()))?;
    let mut ops = body.children.iter();
    let op = ops
        .next()
        .ok_or_else(|| SoapError::Malformed("the Body holds no operation".into()))?;
    if ops.next().is_some() {
        return Err(SoapError::Malformed(
            "the Body holds more than one element".into(),
        ));
    }
    let namespace = lookup_ns(&[&root, body, op], &op.prefix);
    Ok(Request {
        op: op.clone(),
        namespace,
    })
}

fn is_envelope_ns(root: &Element, prefix: &str) -> bool {
    matches!(
        lookup_ns(&[root], prefix).as_deref(),
        Some(SOAP11_ENV) | Some(SOAP12_ENV)
    )
}

/// The URI `prefix` is bound to, looking from the innermost element outwards.
fn lookup_ns(chain: &[&Element], prefix: &str) -> Option<String> {
    chain.iter().rev().find_map(|e| {
        e.xmlns
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
    })
}

fn split_qname(q: &str) -> (String, String) {
    match q.split_once(':') {
        Some((p, l)) => (p.to_owned(), l.to_owned()),
        None => (String::new(), q.to_owned()),
    }
}

fn malformed(e: impl std::fmt::Display) -> SoapError {
    SoapError::Malformed(e.to_string())
}

fn open(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, SoapError> {
    let qname = e.name().as_ref().to_owned();
    let (prefix, name) = split_qname(&qname);
    let mut xmlns = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(malformed)?;
        let key: &str = a.key.as_ref();
        let decl = if key == "xmlns" {
            Some(String::new())
        } else {
            key.strip_prefix("xmlns:").map(str::to_owned)
        };
        if let Some(p) = decl {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(malformed)?;
            xmlns.push((p, v.into_owned()));
        }
    }
    Ok(Element {
        prefix,
        name,
        xmlns,
        ..Element::default()
    })
}

fn push_text(stack: &mut [Element], s: &str, limits: &Limits) -> Result<(), SoapError> {
    match stack.last_mut() {
        Some(top) => {
            if top.text.len() + s.len() > limits.max_text {
                return Err(SoapError::TooLarge("an element's text is over the limit"));
            }
            top.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(SoapError::Malformed(
            "text outside the document element".into(),
        )),
    }
}

fn resolve_ref(name: &str) -> Result<char, SoapError> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name
                .strip_prefix('#')
                .ok_or_else(|| SoapError::Entity(name.chars().take(32).collect()))?;
            let v = match num.strip_prefix('x') {
                Some(h) => u32::from_str_radix(h, 16),
                None => num.parse::<u32>(),
            }
            .map_err(|_| SoapError::Malformed("bad character reference".into()))?;
            char::from_u32(v)
                .ok_or_else(|| SoapError::Malformed("bad character reference".into()))?
        }
    };
    Ok(c)
}

fn parse_tree(text: &str, limits: &Limits) -> Result<Element, SoapError> {
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.trim_text(false);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let ev = reader.read_event().map_err(malformed)?;
        match ev {
            Event::DocType(_) => return Err(SoapError::Dtd),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::PI(_) => {
                return Err(SoapError::Malformed(
                    "processing instructions are not accepted".into(),
                ))
            }
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(SoapError::Malformed(
                    "content after the document element".into(),
                ));
            }
            Event::Start(e) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(SoapError::TooLarge("too many elements"));
                }
                if stack.len() >= limits.max_depth {
                    return Err(SoapError::TooLarge("elements nested too deeply"));
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(SoapError::TooLarge("too many elements"));
                }
                if stack.len() >= limits.max_depth {
                    return Err(SoapError::TooLarge("elements nested too deeply"));
                }
                let el = open(&e)?;
                match stack.last_mut() {
                    Some(top) => top.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| SoapError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(top) => top.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content(), limits)?,
            Event::CData(c) => push_text(&mut stack, &c.xml10_content(), limits)?,
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r)?;
                let mut buf = [0u8; 4];
                push_text(&mut stack, c.encode_utf8(&mut buf), limits)?;
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(SoapError::Malformed(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| SoapError::Malformed("the document is empty".into()))
}

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A literal CR would read back as LF (XML end-of-line handling).
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// Builds the body of a response: unqualified child elements in order.
#[derive(Debug, Default)]
pub struct Body {
    xml: String,
}

impl Body {
    /// An empty body.
    pub fn new() -> Body {
        Body::default()
    }

    /// `<name>text</name>`, text escaped.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.xml.push('<');
        self.xml.push_str(name);
        self.xml.push('>');
        self.xml.push_str(&escape(text));
        self.xml.push_str("</");
        self.xml.push_str(name);
        self.xml.push('>');
        self
    }

    /// `<name>` + what `f` writes + `</name>`.
    pub fn nested(&mut self, name: &str, f: impl FnOnce(&mut Body)) -> &mut Self {
        self.xml.push('<');
        self.xml.push_str(name);
        self.xml.push('>');
        f(self);
        self.xml.push_str("</");
        self.xml.push_str(name);
        self.xml.push('>');
        self
    }

    /// `<name attr="v" ...>` + what `f` writes + `</name>`.
    pub fn nested_attrs(
        &mut self,
        name: &str,
        attrs: &[(&str, String)],
        f: impl FnOnce(&mut Body),
    ) -> &mut Self {
        self.xml.push('<');
        self.xml.push_str(name);
        for (k, v) in attrs {
            self.xml.push(' ');
            self.xml.push_str(k);
            self.xml.push_str("=\"");
            self.xml.push_str(&escape(v));
            self.xml.push('"');
        }
        self.xml.push('>');
        f(self);
        self.xml.push_str("</");
        self.xml.push_str(name);
        self.xml.push('>');
        self
    }

    /// The XML written so far.
    pub fn into_string(self) -> String {
        self.xml
    }
}

const ENVELOPE_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"";

/// A response envelope: `<prefix:op xmlns:prefix=ns>body</prefix:op>` in the Body.
pub fn response(prefix: &str, namespace: &str, op: &str, body: Body) -> String {
    format!(
        "{ENVELOPE_OPEN} xmlns:{prefix}=\"{}\"><SOAP-ENV:Body><{prefix}:{op}>{}</{prefix}:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>",
        escape(namespace),
        body.into_string()
    )
}

/// A SOAP 1.1 fault. `sender` picks the `SOAP-ENV:Client` fault code (the agent's
/// request was at fault) over `SOAP-ENV:Server`. The fault string starts with the
/// numeric client error code, which the agent library reads with `atoi`
/// (`ClientSoapFaultCodes.h`, `GET_FAULT_CODE`).
pub fn fault(sender: bool, faultstring: &str) -> String {
    let code = if sender {
        "SOAP-ENV:Client"
    } else {
        "SOAP-ENV:Server"
    };
    format!(
        "{ENVELOPE_OPEN}><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>",
        escape(faultstring)
    )
}

/// A request envelope (for test clients and benchmarks in this crate's own tests).
pub fn request(prefix: &str, namespace: &str, op: &str, body: Body) -> String {
    response(prefix, namespace, op, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "http://www.sun.com/KMS/KMS-Agent";

    fn env(inner: &str) -> String {
        format!("<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP11_ENV}\" xmlns:KMS-Agent=\"{NS}\"><SOAP-ENV:Body>{inner}</SOAP-ENV:Body></SOAP-ENV:Envelope>")
    }

    #[test]
    fn reads_an_operation_and_its_fields() {
        let doc = env("<KMS-Agent:CreateKey><DataUnit><DataUnitID>00ff</DataUnitID><ExternalTag>A&amp;B&#x41;</ExternalTag><DataUnitState>1</DataUnitState></DataUnit><KeyGroupID/></KMS-Agent:CreateKey>");
        let r = parse(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.op.name, "CreateKey");
        assert_eq!(r.namespace.as_deref(), Some(NS));
        let du = r.op.child("DataUnit").unwrap();
        assert_eq!(du.text_of("DataUnitID"), Some("00ff"));
        assert_eq!(du.text_of("ExternalTag"), Some("A&BA"));
        assert_eq!(r.op.text_of("KeyGroupID"), None);
    }

    #[test]
    fn refuses_a_dtd_and_unknown_entities() {
        let doc = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>{}",
            env("<KMS-Agent:CreateKey/>")
        );
        assert_eq!(
            parse(doc.as_bytes(), &Limits::default()),
            Err(SoapError::Dtd)
        );
        let doc = env("<KMS-Agent:CreateKey><KeyGroupID>&a;</KeyGroupID></KMS-Agent:CreateKey>");
        assert!(matches!(
            parse(doc.as_bytes(), &Limits::default()),
            Err(SoapError::Entity(_))
        ));
    }

    #[test]
    fn refuses_deep_nesting_big_documents_and_non_envelopes() {
        let deep = env(&format!("{}{}", "<a>".repeat(50), "</a>".repeat(50)));
        assert!(matches!(
            parse(deep.as_bytes(), &Limits::default()),
            Err(SoapError::TooLarge(_))
        ));
        let big = vec![b' '; 70 * 1024];
        assert!(matches!(
            parse(&big, &Limits::default()),
            Err(SoapError::TooLarge(_))
        ));
        assert!(matches!(
            parse(
                b"<Envelope><Body><x/></Body></Envelope>",
                &Limits::default()
            ),
            Err(SoapError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"<a><b></a>", &Limits::default()),
            Err(SoapError::Malformed(_))
        ));
    }

    #[test]
    fn writes_what_it_reads() {
        let mut b = Body::new();
        b.text("Message", "<&>");
        let doc = response("KMS-Agent", NS, "CreateAuditLog", b);
        let r = parse(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.op.text_of("Message"), Some("<&>"));
        let f = fault(true, "1000 Access Denied");
        let r = parse(f.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.op.name, "Fault");
        assert_eq!(r.op.text_of("faultstring"), Some("1000 Access Denied"));
    }

    /// True when an XML tokenizer meets a document type declaration in `doc` (as
    /// markup: the same bytes inside a comment, CDATA or an attribute value are text).
    fn has_dtd(doc: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(doc) else {
            return false;
        };
        let mut r = Reader::from_str(text);
        loop {
            match r.read_event() {
                Ok(Event::DocType(_)) => return true,
                Ok(Event::Eof) | Err(_) => return false,
                Ok(_) => {}
            }
        }
    }

    /// A cheap stand-in for the fuzz target (`fuzz/fuzz_targets/okm_soap.rs`) that
    /// runs with the unit tests: thousands of byte-level mutations of a real request
    /// never panic, never accept a DTD, and never exceed the limits.
    #[test]
    fn mutated_requests_never_panic_or_pass_a_dtd() {
        let base = env("<KMS-Agent:RetrieveProtectAndProcessKey><DataUnit><DataUnitID>0011</DataUnitID><ExternalTag>T&amp;1</ExternalTag><DataUnitState>DATA_UNIT_STATE_NO_KEY</DataUnitState></DataUnit><KeyGroupID>g</KeyGroupID></KMS-Agent:RetrieveProtectAndProcessKey>");
        let inserts: [&[u8]; 8] = [
            b"<!DOCTYPE a [<!ENTITY x \"y\">]>",
            b"&x;",
            b"<a>",
            b"</a>",
            b"<?pi?>",
            b"<![CDATA[z]]>",
            b"&#0;",
            b"\xff",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let limits = Limits::default();
        for _ in 0..5000 {
            let mut doc = base.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % (doc.len() + 1);
                match next() % 3 {
                    0 => {
                        let ins = inserts[(next() as usize) % inserts.len()];
                        doc.splice(at..at, ins.iter().copied());
                    }
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ if at < doc.len() => doc[at] = (next() & 0xff) as u8,
                    _ => {}
                }
            }
            if let Ok(r) = parse(&doc, &limits) {
                assert!(!has_dtd(&doc), "accepted a document with a DTD");
                assert!(r.op.children.len() <= limits.max_elements);
            }
        }
    }

    /// Found by the fuzz target: a CR that arrived as `&#13;` was written back raw and
    /// read as LF. Every character text may hold survives a write and a read.
    #[test]
    fn carriage_returns_and_markup_characters_round_trip() {
        let text = "a\rb\r\nc\n\td<&>\"'e";
        let mut b = Body::new();
        b.text("Echo", text);
        let doc = response("KMS-Agent", NS, "X", b);
        let back = parse(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(back.op.text_of("Echo"), Some(text));
        // A literal CR in a request is end-of-line, as XML requires.
        let r = parse(
            env("<KMS-Agent:X><Echo>a\r\nb\rc</Echo></KMS-Agent:X>").as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(r.op.text_of("Echo"), Some("a\nb\nc"));
    }
}
