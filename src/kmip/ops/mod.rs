//! Operation handlers and the batch processor. Each handler turns a request payload
//! into calls on the service layer and a response payload; none touches the store or
//! the HSM.

mod attrs;
mod create;
mod crypto;
mod discover;
mod get;
mod keypair;
mod lifecycle;
mod locate;
mod misc;

use super::enums::{operation as op, result_reason as rr};
use super::error::KmipError;
use super::message::{response_message, OnError, ProtocolVersion, RequestMessage, ResponseItem};
use super::tags as t;
use super::ttlv::{Ttlv, Value};
use crate::keys::now_secs;
use crate::service::{KeyService, Principal};

/// State shared by the items of one batch.
pub struct Batch<'a> {
    /// The service.
    pub svc: &'a KeyService,
    /// The authenticated caller.
    pub who: &'a Principal,
    /// The version the client speaks.
    pub version: ProtocolVersion,
    /// The ID placeholder: the object the previous item created or used.
    pub placeholder: Option<String>,
}

/// Operations this server implements (reported by Query).
pub const SUPPORTED_OPERATIONS: &[u32] = &[
    op::DISCOVER_VERSIONS,
    op::QUERY,
    op::CREATE,
    op::REGISTER,
    op::GET,
    op::GET_ATTRIBUTES,
    op::GET_ATTRIBUTE_LIST,
    op::LOCATE,
    op::ACTIVATE,
    op::REVOKE,
    op::DESTROY,
    op::ADD_ATTRIBUTE,
    op::MODIFY_ATTRIBUTE,
    op::DELETE_ATTRIBUTE,
    op::SET_ATTRIBUTE,
    op::ADJUST_ATTRIBUTE,
    op::CHECK,
    op::LOG,
    op::INTEROP,
    op::CREATE_KEY_PAIR,
    op::ENCRYPT,
    op::DECRYPT,
    op::SIGN,
    op::SIGNATURE_VERIFY,
    op::RNG_RETRIEVE,
    op::REKEY,
];

impl Batch<'_> {
    /// The Unique Identifier of the payload, or the ID placeholder.
    pub fn uid(&self, payload: &Ttlv) -> Result<String, KmipError> {
        match payload.child(t::UNIQUE_IDENTIFIER).map(|c| &c.value) {
            Some(Value::TextString(s)) => Ok(s.clone()),
            Some(_) => Err(KmipError::invalid_field(
                "Unique Identifier must be a Text String",
            )),
            None => self.placeholder.clone().ok_or_else(|| {
                KmipError::missing("Unique Identifier (and no ID placeholder is set)")
            }),
        }
    }

    async fn run(&mut self, operation: u32, payload: &Ttlv) -> Result<Ttlv, KmipError> {
        let out = match operation {
            op::DISCOVER_VERSIONS => discover::discover_versions(payload),
            op::QUERY => discover::query(self, payload),
            op::CREATE => create::create(self, payload).await,
            op::REGISTER => create::register(self, payload).await,
            op::GET => get::get(self, payload).await,
            op::GET_ATTRIBUTES => get::get_attributes(self, payload).await,
            op::GET_ATTRIBUTE_LIST => get::get_attribute_list(self, payload).await,
            op::LOCATE => locate::locate(self, payload).await,
            op::ACTIVATE => lifecycle::activate(self, payload).await,
            op::REVOKE => lifecycle::revoke(self, payload).await,
            op::DESTROY => lifecycle::destroy(self, payload).await,
            op::ADD_ATTRIBUTE => attrs::add_attribute(self, payload).await,
            op::MODIFY_ATTRIBUTE => attrs::modify_attribute(self, payload).await,
            op::DELETE_ATTRIBUTE => attrs::delete_attribute(self, payload).await,
            op::SET_ATTRIBUTE => attrs::set_attribute(self, payload).await,
            op::ADJUST_ATTRIBUTE => attrs::adjust_attribute(self, payload).await,
            op::CHECK => misc::check(self, payload).await,
            op::LOG => misc::log(self, payload),
            op::INTEROP => misc::interop(self, payload),
            op::CREATE_KEY_PAIR => keypair::create_key_pair(self, payload).await,
            op::ENCRYPT => crypto::encrypt(self, payload).await,
            op::DECRYPT => crypto::decrypt(self, payload).await,
            op::SIGN => crypto::sign(self, payload).await,
            op::SIGNATURE_VERIFY => crypto::signature_verify(self, payload).await,
            op::RNG_RETRIEVE => crypto::rng_retrieve(self, payload).await,
            op::REKEY => lifecycle::rekey(self, payload).await,
            other => Err(KmipError::unsupported(format!(
                "operation 0x{other:08X} is not supported"
            ))),
        }
        .map_err(|e| e.for_version(self.version))?;
        // The object an item returns becomes the placeholder for the next one.
        if let Some(Value::TextString(id)) = out.child(t::UNIQUE_IDENTIFIER).map(|c| &c.value) {
            self.placeholder = Some(id.clone());
        }
        tracing::info!(principal = %self.who.name, kmip_operation = operation, "KMIP operation done");
        Ok(out)
    }
}

/// Operations a batch with Batch Error Continuation Option Undo may contain: Activate
/// (undone by returning the object to Pre-Active) and operations that change nothing.
const UNDOABLE: &[u32] = &[
    op::ACTIVATE,
    op::CHECK,
    op::GET,
    op::GET_ATTRIBUTES,
    op::GET_ATTRIBUTE_LIST,
    op::LOCATE,
    op::QUERY,
    op::DISCOVER_VERSIONS,
];

/// A Response Payload structure.
pub fn payload(children: Vec<Ttlv>) -> Ttlv {
    Ttlv::structure(t::RESPONSE_PAYLOAD, children)
}

/// Processes one decoded request message and returns the response message.
pub async fn process(svc: &KeyService, who: &Principal, request: &Ttlv) -> Ttlv {
    let fallback =
        RequestMessage::peek_version(request).unwrap_or(ProtocolVersion { major: 1, minor: 0 });
    let msg = match RequestMessage::from_ttlv(request) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(principal = %who.name, error = %e, "unreadable KMIP request");
            let item = ResponseItem {
                operation: None,
                unique_batch_item_id: None,
                result: Err(e),
                undone: false,
            };
            return response_message(fallback, now_secs(), vec![item]);
        }
    };
    let mut batch = Batch {
        svc,
        who,
        version: msg.version,
        placeholder: None,
    };
    if msg.on_error == OnError::Undo {
        if let Some(op) = msg
            .items
            .iter()
            .map(|i| i.operation)
            .find(|o| !UNDOABLE.contains(o))
        {
            let e = KmipError::new(
                rr::FEATURE_NOT_SUPPORTED,
                format!(
                    "Batch Error Continuation Option Undo is offered for batches of Activate and read-only operations; 0x{op:08X} cannot be undone"
                ),
            );
            let item = ResponseItem {
                operation: None,
                unique_batch_item_id: None,
                result: Err(e),
                undone: false,
            };
            return response_message(msg.version, now_secs(), vec![item]);
        }
    }
    let mut out: Vec<ResponseItem> = Vec::with_capacity(msg.items.len());
    let mut activated = Vec::new();
    for item in &msg.items {
        let result = batch.run(item.operation, &item.payload).await;
        let failed = result.is_err();
        if let Err(e) = &result {
            tracing::info!(principal = %who.name, kmip_operation = item.operation, reason = e.reason, error = %e, "KMIP operation failed");
        } else if item.operation == op::ACTIVATE {
            if let Ok(id) = batch.uid(&item.payload) {
                activated.push(id);
            }
        }
        out.push(ResponseItem {
            operation: Some(item.operation),
            unique_batch_item_id: item.unique_batch_item_id.clone(),
            result,
            undone: false,
        });
        if failed && msg.on_error == OnError::Undo {
            // Undo what this batch activated, newest first, and say so item by item.
            for id in activated.iter().rev() {
                if let Err(e) = svc.revert_activation(who, id).await {
                    tracing::error!(principal = %who.name, object = %id, error = %e, "could not undo an activation");
                }
            }
            for done in out.iter_mut().filter(|o| o.result.is_ok()) {
                done.undone = true;
            }
            break;
        }
        if failed && msg.on_error == OnError::Stop {
            break;
        }
    }
    response_message(msg.version, now_secs(), out)
}
