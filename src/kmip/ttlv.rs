//! TTLV, the KMIP wire encoding: tag (3 bytes), type (1), length (4, big-endian), value
//! padded to a multiple of 8 bytes.
//!
//! The decoder reads messages from untrusted peers: it never panics, checks every
//! length against the bytes present and the type's fixed size, refuses non-zero padding,
//! and enforces [`Limits`] on size, nesting depth and item count before allocating.

/// A decoded TTLV item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ttlv {
    /// The tag (e.g. 0x420078 Request Message).
    pub tag: u32,
    /// The typed value.
    pub value: Value,
}

/// The value of an item, by TTLV type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// 0x01: an ordered list of items.
    Structure(Vec<Ttlv>),
    /// 0x02: 32-bit signed.
    Integer(i32),
    /// 0x03: 64-bit signed.
    LongInteger(i64),
    /// 0x04: big-endian two's complement, a multiple of 8 bytes.
    BigInteger(Vec<u8>),
    /// 0x05: 32-bit enumeration.
    Enumeration(u32),
    /// 0x06: boolean (encoded as 8 bytes, 0 or 1).
    Boolean(bool),
    /// 0x07: UTF-8 text.
    TextString(String),
    /// 0x08: bytes.
    ByteString(Vec<u8>),
    /// 0x09: seconds since the Unix epoch.
    DateTime(i64),
    /// 0x0A: seconds.
    Interval(u32),
    /// 0x0B (KMIP 2.0): microseconds since the Unix epoch.
    DateTimeExtended(i64),
}

impl Value {
    fn type_code(&self) -> u8 {
        match self {
            Value::Structure(_) => 0x01,
            Value::Integer(_) => 0x02,
            Value::LongInteger(_) => 0x03,
            Value::BigInteger(_) => 0x04,
            Value::Enumeration(_) => 0x05,
            Value::Boolean(_) => 0x06,
            Value::TextString(_) => 0x07,
            Value::ByteString(_) => 0x08,
            Value::DateTime(_) => 0x09,
            Value::Interval(_) => 0x0A,
            Value::DateTimeExtended(_) => 0x0B,
        }
    }

    /// Name of the type, for errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Structure(_) => "Structure",
            Value::Integer(_) => "Integer",
            Value::LongInteger(_) => "LongInteger",
            Value::BigInteger(_) => "BigInteger",
            Value::Enumeration(_) => "Enumeration",
            Value::Boolean(_) => "Boolean",
            Value::TextString(_) => "TextString",
            Value::ByteString(_) => "ByteString",
            Value::DateTime(_) => "DateTime",
            Value::Interval(_) => "Interval",
            Value::DateTimeExtended(_) => "DateTimeExtended",
        }
    }
}

/// Bounds on what a decoder accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest whole message in bytes (header included).
    pub max_message_bytes: usize,
    /// Deepest structure nesting.
    pub max_depth: usize,
    /// Most items in one message.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1 << 20,
            max_depth: 16,
            max_items: 20_000,
        }
    }
}

/// Why a byte string is not acceptable TTLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header or length says.
    #[error("truncated TTLV at offset {0}")]
    Truncated(usize),
    /// Bytes left over after the top-level item.
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    /// A type byte that is not a TTLV type.
    #[error("unknown TTLV type 0x{ty:02x} at offset {offset}")]
    UnknownType {
        /// The type byte.
        ty: u8,
        /// Where.
        offset: usize,
    },
    /// A length that does not fit the type.
    #[error("invalid length {len} for {ty} at offset {offset}")]
    BadLength {
        /// Declared length.
        len: u32,
        /// Type name.
        ty: &'static str,
        /// Where.
        offset: usize,
    },
    /// Padding bytes that are not zero.
    #[error("non-zero padding at offset {0}")]
    BadPadding(usize),
    /// A text string that is not UTF-8.
    #[error("text string at offset {0} is not UTF-8")]
    BadUtf8(usize),
    /// A boolean other than 0 or 1.
    #[error("boolean at offset {0} is neither 0 nor 1")]
    BadBoolean(usize),
    /// A tag outside the KMIP ranges (0x42xxxx standard, 0x54xxxx extensions).
    #[error("tag 0x{tag:06x} at offset {offset} is outside the KMIP tag ranges")]
    BadTag {
        /// The tag.
        tag: u32,
        /// Where.
        offset: usize,
    },
    /// The message is larger than allowed.
    #[error("message of {0} bytes exceeds the limit of {1} bytes")]
    TooLarge(usize, usize),
    /// Structures nest deeper than allowed.
    #[error("structures nest deeper than {0} levels")]
    TooDeep(usize),
    /// More items than allowed.
    #[error("message has more than {0} items")]
    TooManyItems(usize),
}

fn padded(len: usize) -> usize {
    len.div_ceil(8) * 8
}

struct Decoder<'a> {
    buf: &'a [u8],
    limits: Limits,
    items: usize,
}

impl Decoder<'_> {
    fn item(&mut self, pos: usize, depth: usize) -> Result<(Ttlv, usize), DecodeError> {
        if depth > self.limits.max_depth {
            return Err(DecodeError::TooDeep(self.limits.max_depth));
        }
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(DecodeError::TooManyItems(self.limits.max_items));
        }
        let header = self
            .buf
            .get(pos..pos + 8)
            .ok_or(DecodeError::Truncated(pos))?;
        let tag = u32::from_be_bytes([0, header[0], header[1], header[2]]);
        if header[0] != 0x42 && header[0] != 0x54 {
            return Err(DecodeError::BadTag { tag, offset: pos });
        }
        let ty = header[3];
        let len32 = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let len = len32 as usize;
        let start = pos + 8;
        let end = start
            .checked_add(padded(len))
            .ok_or(DecodeError::Truncated(pos))?;
        if end > self.buf.len() {
            return Err(DecodeError::Truncated(pos));
        }
        let raw = &self.buf[start..start + len];
        if self.buf[start + len..end].iter().any(|b| *b != 0) {
            return Err(DecodeError::BadPadding(start + len));
        }
        let fixed = |want: usize, name: &'static str| {
            if len == want {
                Ok(())
            } else {
                Err(DecodeError::BadLength {
                    len: len32,
                    ty: name,
                    offset: pos,
                })
            }
        };
        let be8 = |r: &[u8]| i64::from_be_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
        let value = match ty {
            0x01 => {
                // Children are padded to 8 bytes, so a structure's length is too.
                if !len.is_multiple_of(8) {
                    return Err(DecodeError::BadLength {
                        len: len32,
                        ty: "Structure",
                        offset: pos,
                    });
                }
                let mut children = Vec::new();
                let mut p = start;
                while p < end {
                    let (child, next) = self.item(p, depth + 1)?;
                    children.push(child);
                    p = next;
                }
                if p != end {
                    return Err(DecodeError::BadLength {
                        len: len32,
                        ty: "Structure",
                        offset: pos,
                    });
                }
                Value::Structure(children)
            }
            0x02 => {
                fixed(4, "Integer")?;
                Value::Integer(i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            0x03 => {
                fixed(8, "LongInteger")?;
                Value::LongInteger(be8(raw))
            }
            0x04 => {
                if len == 0 || !len.is_multiple_of(8) {
                    return Err(DecodeError::BadLength {
                        len: len32,
                        ty: "BigInteger",
                        offset: pos,
                    });
                }
                Value::BigInteger(raw.to_vec())
            }
            0x05 => {
                fixed(4, "Enumeration")?;
                Value::Enumeration(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            0x06 => {
                fixed(8, "Boolean")?;
                match be8(raw) {
                    0 => Value::Boolean(false),
                    1 => Value::Boolean(true),
                    _ => return Err(DecodeError::BadBoolean(pos)),
                }
            }
            0x07 => Value::TextString(
                std::str::from_utf8(raw)
                    .map_err(|_| DecodeError::BadUtf8(pos))?
                    .to_owned(),
            ),
            0x08 => Value::ByteString(raw.to_vec()),
            0x09 => {
                fixed(8, "DateTime")?;
                Value::DateTime(be8(raw))
            }
            0x0A => {
                fixed(4, "Interval")?;
                Value::Interval(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            0x0B => {
                fixed(8, "DateTimeExtended")?;
                Value::DateTimeExtended(be8(raw))
            }
            other => {
                return Err(DecodeError::UnknownType {
                    ty: other,
                    offset: pos,
                })
            }
        };
        Ok((Ttlv { tag, value }, end))
    }
}

/// The total length of the message whose first 8 bytes are `header`, for framing a
/// stream: read 8 bytes, then the rest.
pub fn message_length(header: &[u8; 8], limits: &Limits) -> Result<usize, DecodeError> {
    if header[0] != 0x42 {
        return Err(DecodeError::BadTag {
            tag: u32::from_be_bytes([0, header[0], header[1], header[2]]),
            offset: 0,
        });
    }
    if header[3] != 0x01 {
        return Err(DecodeError::UnknownType {
            ty: header[3],
            offset: 0,
        });
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let total = 8 + padded(len);
    if total > limits.max_message_bytes {
        return Err(DecodeError::TooLarge(total, limits.max_message_bytes));
    }
    Ok(total)
}

impl Ttlv {
    /// Decodes exactly one item filling `buf`.
    pub fn decode(buf: &[u8], limits: &Limits) -> Result<Ttlv, DecodeError> {
        if buf.len() > limits.max_message_bytes {
            return Err(DecodeError::TooLarge(buf.len(), limits.max_message_bytes));
        }
        let mut d = Decoder {
            buf,
            limits: *limits,
            items: 0,
        };
        let (item, end) = d.item(0, 0)?;
        if end != buf.len() {
            return Err(DecodeError::TrailingBytes(buf.len() - end));
        }
        Ok(item)
    }

    /// Encodes the item.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let tag = self.tag.to_be_bytes();
        out.extend_from_slice(&tag[1..4]);
        out.push(self.value.type_code());
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        match &self.value {
            Value::Structure(children) => children.iter().for_each(|c| c.encode_into(out)),
            Value::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Enumeration(v) | Value::Interval(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::LongInteger(v) | Value::DateTime(v) | Value::DateTimeExtended(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Value::Boolean(b) => out.extend_from_slice(&u64::from(*b).to_be_bytes()),
            Value::BigInteger(b) | Value::ByteString(b) => out.extend_from_slice(b),
            Value::TextString(s) => out.extend_from_slice(s.as_bytes()),
        }
        let len = out.len() - start;
        out[len_at..len_at + 4].copy_from_slice(&(len as u32).to_be_bytes());
        out.resize(start + padded(len), 0);
    }

    /// Shorthand constructors.
    pub fn structure(tag: u32, children: Vec<Ttlv>) -> Ttlv {
        Ttlv {
            tag,
            value: Value::Structure(children),
        }
    }
    /// An Integer item.
    pub fn int(tag: u32, v: i32) -> Ttlv {
        Ttlv {
            tag,
            value: Value::Integer(v),
        }
    }
    /// An Enumeration item.
    pub fn enumeration(tag: u32, v: u32) -> Ttlv {
        Ttlv {
            tag,
            value: Value::Enumeration(v),
        }
    }
    /// A Text String item.
    pub fn text(tag: u32, v: impl Into<String>) -> Ttlv {
        Ttlv {
            tag,
            value: Value::TextString(v.into()),
        }
    }
    /// A Byte String item.
    pub fn bytes(tag: u32, v: Vec<u8>) -> Ttlv {
        Ttlv {
            tag,
            value: Value::ByteString(v),
        }
    }
    /// A Boolean item.
    pub fn boolean(tag: u32, v: bool) -> Ttlv {
        Ttlv {
            tag,
            value: Value::Boolean(v),
        }
    }
    /// A Date-Time item.
    pub fn datetime(tag: u32, v: i64) -> Ttlv {
        Ttlv {
            tag,
            value: Value::DateTime(v),
        }
    }

    /// The children of a structure (empty for other types).
    pub fn children(&self) -> &[Ttlv] {
        match &self.value {
            Value::Structure(c) => c,
            _ => &[],
        }
    }

    /// The first child with `tag`.
    pub fn child(&self, tag: u32) -> Option<&Ttlv> {
        self.children().iter().find(|c| c.tag == tag)
    }

    /// Every child with `tag`.
    pub fn children_with(&self, tag: u32) -> impl Iterator<Item = &Ttlv> {
        self.children().iter().filter(move |c| c.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    }

    fn round_trip(item: Ttlv, bytes: &str) {
        let bytes = hex(bytes);
        assert_eq!(item.encode(), bytes, "encoding of {item:?}");
        assert_eq!(Ttlv::decode(&bytes, &Limits::default()), Ok(item));
    }

    // The examples of the KMIP 1.x specification, section 9.1.2 ("Examples").
    #[test]
    fn specification_examples() {
        // An Integer containing the decimal value 8.
        round_trip(
            Ttlv::int(0x420020, 8),
            "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00",
        );
        // A Long Integer containing the decimal value 123456789000000000.
        round_trip(
            Ttlv {
                tag: 0x420020,
                value: Value::LongInteger(123_456_789_000_000_000),
            },
            "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
        );
        // A Big Integer containing the decimal value 1234567890000000000000000000.
        round_trip(
            Ttlv {
                tag: 0x420020,
                value: Value::BigInteger(hex("00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00")),
            },
            "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00",
        );
        // An Enumeration with value 255.
        round_trip(
            Ttlv::enumeration(0x420020, 255),
            "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        );
        // A Boolean with the value True.
        round_trip(
            Ttlv::boolean(0x420020, true),
            "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01",
        );
        // A Text String with the value "Hello World".
        round_trip(
            Ttlv::text(0x420020, "Hello World"),
            "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
        );
        // A Byte String with the value { 0x01, 0x02, 0x03 }.
        round_trip(
            Ttlv::bytes(0x420020, vec![1, 2, 3]),
            "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00",
        );
        // A Date-Time for Friday, March 14, 2008, 11:56:40 GMT.
        round_trip(
            Ttlv::datetime(0x420020, 0x47DA_67F8),
            "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
        );
        // An Interval for 10 days.
        round_trip(
            Ttlv {
                tag: 0x420020,
                value: Value::Interval(864_000),
            },
            "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00",
        );
        // A Structure containing an Enumeration, value 254, followed by an Integer, value
        // 255, having tags 420004 and 420005 respectively.
        round_trip(
            Ttlv::structure(0x420020, vec![Ttlv::enumeration(0x420004, 254), Ttlv::int(0x420005, 255)]),
            "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | \
             42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        );
    }

    fn sample() -> Ttlv {
        Ttlv::structure(
            0x420078,
            vec![
                Ttlv::structure(
                    0x420077,
                    vec![Ttlv::int(0x42000D, 1), Ttlv::boolean(0x420010, false)],
                ),
                Ttlv::structure(
                    0x42000F,
                    vec![
                        Ttlv::enumeration(0x42005C, 1),
                        Ttlv::text(0x420094, "a name"),
                        Ttlv::bytes(0x420043, vec![9; 33]),
                        Ttlv {
                            tag: 0x420020,
                            value: Value::DateTimeExtended(-5),
                        },
                    ],
                ),
            ],
        )
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        let bytes = sample().encode();
        assert_eq!(Ttlv::decode(&bytes, &Limits::default()), Ok(sample()));
        for n in 0..bytes.len() {
            assert!(
                Ttlv::decode(&bytes[..n], &Limits::default()).is_err(),
                "prefix {n} accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(
            Ttlv::decode(&longer, &Limits::default()),
            Err(DecodeError::TrailingBytes(8))
        );
    }

    #[test]
    fn every_single_byte_flip_is_decoded_or_refused_without_panic() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let _ = Ttlv::decode(&b, &Limits::default());
            }
        }
    }

    #[test]
    fn hostile_lengths_and_types_are_refused() {
        let l = Limits::default();
        // Huge declared length: refused without allocating it.
        assert!(matches!(
            Ttlv::decode(&hex("42 00 78 | 01 | FF FF FF F8"), &l),
            Err(DecodeError::Truncated(0))
        ));
        // Integer with length 8.
        assert!(matches!(
            Ttlv::decode(
                &hex("42 00 20 | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 08"),
                &l
            ),
            Err(DecodeError::BadLength { .. })
        ));
        // Unknown type.
        assert!(matches!(
            Ttlv::decode(&hex("42 00 20 | 0C | 00 00 00 00"), &l),
            Err(DecodeError::UnknownType { ty: 0x0C, .. })
        ));
        // Non-zero padding.
        assert!(matches!(
            Ttlv::decode(
                &hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 01"),
                &l
            ),
            Err(DecodeError::BadPadding(12))
        ));
        // Boolean 2.
        assert!(matches!(
            Ttlv::decode(
                &hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02"),
                &l
            ),
            Err(DecodeError::BadBoolean(0))
        ));
        // Invalid UTF-8.
        assert!(matches!(
            Ttlv::decode(
                &hex("42 00 20 | 07 | 00 00 00 02 | C3 28 00 00 00 00 00 00"),
                &l
            ),
            Err(DecodeError::BadUtf8(0))
        ));
        // A tag outside KMIP's ranges.
        assert!(matches!(
            Ttlv::decode(
                &hex("10 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"),
                &l
            ),
            Err(DecodeError::BadTag { .. })
        ));
        // A structure whose length is not a multiple of 8 (its child would overrun it).
        assert!(matches!(
            Ttlv::decode(&hex("42 00 78 | 01 | 00 00 00 0c | 42 00 0d | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00"), &l),
            Err(DecodeError::BadLength { ty: "Structure", .. })
        ));
        // A structure whose children overrun it.
        assert!(Ttlv::decode(&hex("42 00 20 | 01 | 00 00 00 08 | 42 00 04 | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00"), &l).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let mut deep = Ttlv::int(0x420020, 1);
        for _ in 0..40 {
            deep = Ttlv::structure(0x420020, vec![deep]);
        }
        assert_eq!(
            Ttlv::decode(&deep.encode(), &Limits::default()),
            Err(DecodeError::TooDeep(16))
        );
        let wide = Ttlv::structure(
            0x420020,
            (0..30_000).map(|i| Ttlv::int(0x420020, i)).collect(),
        );
        assert_eq!(
            Ttlv::decode(&wide.encode(), &Limits::default()),
            Err(DecodeError::TooManyItems(20_000))
        );
        let small = Limits {
            max_message_bytes: 64,
            ..Limits::default()
        };
        assert!(matches!(
            Ttlv::decode(&sample().encode(), &small),
            Err(DecodeError::TooLarge(..))
        ));
        let header: [u8; 8] = [0x42, 0x00, 0x78, 0x01, 0x7F, 0xFF, 0xFF, 0xF8];
        assert!(matches!(
            message_length(&header, &Limits::default()),
            Err(DecodeError::TooLarge(..))
        ));
        let header: [u8; 8] = [0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x10];
        assert_eq!(message_length(&header, &Limits::default()), Ok(24));
    }
}
