//! Request and response messages: headers and batch items around operation payloads.

use super::enums::{batch_error_continuation_option as beco, result_status};
use super::error::KmipError;
use super::tags as t;
use super::ttlv::{Ttlv, Value};

/// A KMIP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtocolVersion {
    /// Major version.
    pub major: i32,
    /// Minor version.
    pub minor: i32,
}

impl ProtocolVersion {
    /// True for KMIP 2.0 and later, whose attributes are tagged items instead of
    /// name/value structures.
    pub fn is_v2(self) -> bool {
        self.major >= 2
    }

    /// Encodes as a Protocol Version structure.
    pub fn to_ttlv(self) -> Ttlv {
        Ttlv::structure(
            t::PROTOCOL_VERSION,
            vec![
                Ttlv::int(t::PROTOCOL_VERSION_MAJOR, self.major),
                Ttlv::int(t::PROTOCOL_VERSION_MINOR, self.minor),
            ],
        )
    }

    /// Decodes a Protocol Version structure.
    pub fn from_ttlv(v: &Ttlv) -> Result<ProtocolVersion, KmipError> {
        Ok(ProtocolVersion {
            major: int(v, t::PROTOCOL_VERSION_MAJOR)?,
            minor: int(v, t::PROTOCOL_VERSION_MINOR)?,
        })
    }
}

/// Versions this server speaks, most preferred first.
pub const SUPPORTED_VERSIONS: [ProtocolVersion; 7] = [
    ProtocolVersion { major: 2, minor: 1 },
    ProtocolVersion { major: 2, minor: 0 },
    ProtocolVersion { major: 1, minor: 4 },
    ProtocolVersion { major: 1, minor: 3 },
    ProtocolVersion { major: 1, minor: 2 },
    ProtocolVersion { major: 1, minor: 1 },
    ProtocolVersion { major: 1, minor: 0 },
];

/// Most batch items in one request: each may be a key generation, and one message
/// should not be able to occupy the node for long.
pub const MAX_BATCH_ITEMS: usize = 256;

/// What to do when a batch item fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Skip the remaining items (the default).
    Stop,
    /// Process the remaining items.
    Continue,
    /// Skip the remaining items and undo the ones already done (offered for batches of
    /// Activate and read-only operations; see `ops::process`).
    Undo,
}

/// One operation in a request.
#[derive(Debug, Clone)]
pub struct RequestItem {
    /// Operation enumeration value.
    pub operation: u32,
    /// Echoed back in the response.
    pub unique_batch_item_id: Option<Vec<u8>>,
    /// The Request Payload structure (empty structure when absent).
    pub payload: Ttlv,
}

/// A parsed request message.
#[derive(Debug, Clone)]
pub struct RequestMessage {
    /// Version the client speaks.
    pub version: ProtocolVersion,
    /// Batch error continuation option.
    pub on_error: OnError,
    /// The batch items, in order.
    pub items: Vec<RequestItem>,
}

/// The result of one batch item.
#[derive(Debug, Clone)]
pub struct ResponseItem {
    /// Operation (echoed; absent if the request item was unreadable).
    pub operation: Option<u32>,
    /// Echoed batch item ID.
    pub unique_batch_item_id: Option<Vec<u8>>,
    /// Success payload, or the failure.
    pub result: Result<Ttlv, KmipError>,
    /// The item succeeded and was then undone (Batch Error Continuation Option Undo).
    pub undone: bool,
}

pub(crate) fn int(v: &Ttlv, tag: u32) -> Result<i32, KmipError> {
    match v.child(tag).map(|c| &c.value) {
        Some(Value::Integer(i)) => Ok(*i),
        Some(_) => Err(KmipError::invalid_message(format!(
            "tag 0x{tag:06X} must be an Integer"
        ))),
        None => Err(KmipError::missing(&format!("tag 0x{tag:06X}"))),
    }
}

impl RequestMessage {
    /// Parses a Request Message.
    pub fn from_ttlv(msg: &Ttlv) -> Result<RequestMessage, KmipError> {
        if msg.tag != t::REQUEST_MESSAGE || !matches!(msg.value, Value::Structure(_)) {
            return Err(KmipError::invalid_message("not a Request Message"));
        }
        let header = msg
            .child(t::REQUEST_HEADER)
            .ok_or_else(|| KmipError::missing("Request Header"))?;
        let version = ProtocolVersion::from_ttlv(
            header
                .child(t::PROTOCOL_VERSION)
                .ok_or_else(|| KmipError::missing("Protocol Version"))?,
        )?;
        let on_error = match header
            .child(t::BATCH_ERROR_CONTINUATION_OPTION)
            .map(|c| &c.value)
        {
            None => OnError::Stop,
            Some(Value::Enumeration(beco::CONTINUE)) => OnError::Continue,
            Some(Value::Enumeration(beco::STOP)) => OnError::Stop,
            Some(Value::Enumeration(beco::UNDO)) => OnError::Undo,
            Some(_) => {
                return Err(KmipError::invalid_message(
                    "bad Batch Error Continuation Option",
                ))
            }
        };
        let declared = int(header, t::BATCH_COUNT)?;
        let mut items = Vec::new();
        for item in msg.children_with(t::BATCH_ITEM) {
            let operation = match item.child(t::OPERATION).map(|c| &c.value) {
                Some(Value::Enumeration(op)) => *op,
                _ => {
                    return Err(KmipError::invalid_message(
                        "batch item without an Operation",
                    ))
                }
            };
            let unique_batch_item_id = match item.child(t::UNIQUE_BATCH_ITEM_ID).map(|c| &c.value) {
                Some(Value::ByteString(b)) => Some(b.clone()),
                None => None,
                Some(_) => {
                    return Err(KmipError::invalid_message(
                        "Unique Batch Item ID must be a Byte String",
                    ))
                }
            };
            let payload = item
                .child(t::REQUEST_PAYLOAD)
                .cloned()
                .unwrap_or_else(|| Ttlv::structure(t::REQUEST_PAYLOAD, Vec::new()));
            items.push(RequestItem {
                operation,
                unique_batch_item_id,
                payload,
            });
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(KmipError::invalid_message(format!(
                "a message may carry at most {MAX_BATCH_ITEMS} batch items"
            )));
        }
        if items.is_empty() || usize::try_from(declared).ok() != Some(items.len()) {
            return Err(KmipError::invalid_message(format!(
                "Batch Count is {declared} but the message has {} batch items",
                items.len()
            )));
        }
        Ok(RequestMessage {
            version,
            on_error,
            items,
        })
    }

    /// The version of a message that failed to parse, if it can be read, so the error
    /// response speaks the client's version.
    pub fn peek_version(msg: &Ttlv) -> Option<ProtocolVersion> {
        ProtocolVersion::from_ttlv(msg.child(t::REQUEST_HEADER)?.child(t::PROTOCOL_VERSION)?).ok()
    }
}

/// Encodes a Response Message.
pub fn response_message(version: ProtocolVersion, now: i64, items: Vec<ResponseItem>) -> Ttlv {
    let header = Ttlv::structure(
        t::RESPONSE_HEADER,
        vec![
            version.to_ttlv(),
            Ttlv::datetime(t::TIME_STAMP, now),
            Ttlv::int(
                t::BATCH_COUNT,
                i32::try_from(items.len()).unwrap_or(i32::MAX),
            ),
        ],
    );
    let mut children = vec![header];
    for item in items {
        let mut fields = Vec::new();
        if let Some(op) = item.operation {
            fields.push(Ttlv::enumeration(t::OPERATION, op));
        }
        if let Some(id) = item.unique_batch_item_id {
            fields.push(Ttlv::bytes(t::UNIQUE_BATCH_ITEM_ID, id));
        }
        match item.result {
            Ok(payload) => {
                let status = if item.undone {
                    result_status::OPERATION_UNDONE
                } else {
                    result_status::SUCCESS
                };
                fields.push(Ttlv::enumeration(t::RESULT_STATUS, status));
                fields.push(Ttlv {
                    tag: t::RESPONSE_PAYLOAD,
                    value: payload.value,
                });
            }
            Err(e) => {
                fields.push(Ttlv::enumeration(
                    t::RESULT_STATUS,
                    result_status::OPERATION_FAILED,
                ));
                fields.push(Ttlv::enumeration(t::RESULT_REASON, e.reason));
                fields.push(Ttlv::text(t::RESULT_MESSAGE, e.message));
            }
        }
        children.push(Ttlv::structure(t::BATCH_ITEM, fields));
    }
    Ttlv::structure(t::RESPONSE_MESSAGE, children)
}
