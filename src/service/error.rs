//! Errors of the service layer. Transports map these to their wire codes with one
//! exhaustive `match` each (HTTP in `admin::error`, KMIP result reasons later).

use crate::keys::State;
use crate::rot::RotError;
use crate::store::StoreError;

/// What a service operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No object with that ID.
    #[error("no object with ID {0}")]
    NotFound(String),
    /// The ID is not a well-formed object ID.
    #[error("invalid object ID {0:?}: object IDs are UUIDs")]
    InvalidId(String),
    /// A request field is unacceptable; the message names the field.
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// KMIP forbids this state change.
    #[error("cannot {op} object {id}: it is {from}, and {op} is not allowed from that state")]
    IllegalTransition {
        /// The object.
        id: String,
        /// Its current state.
        from: State,
        /// The refused operation.
        op: &'static str,
    },
    /// The object's material was destroyed.
    #[error("object {0} has been destroyed; its material is gone")]
    Destroyed(String),
    /// No valid credential was presented.
    #[error("authentication required: present a valid API token (Authorization: Bearer ...)")]
    Unauthenticated,
    /// The caller may not do this.
    #[error("not authorized: {0}")]
    Forbidden(String),
    /// Another writer changed the object repeatedly while we retried.
    #[error("object {0} is being changed concurrently; retry")]
    Contended(String),
    /// The root of trust failed.
    #[error("root of trust: {0}")]
    Rot(#[from] RotError),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}
