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
    /// No live endpoint has that name.
    #[error("no endpoint named {0:?}")]
    EndpointNotFound(String),
    /// A live endpoint has that name already.
    #[error("an endpoint named {0:?} exists already (endpoint names are case-insensitive); choose another name or delete that endpoint")]
    EndpointExists(String),
    /// The endpoint's state does not allow the operation.
    #[error("cannot {op} endpoint {name:?}: it is {state}")]
    EndpointState {
        /// The endpoint.
        name: String,
        /// Its current state.
        state: crate::store::EndpointState,
        /// The refused operation.
        op: &'static str,
    },
    /// An enrollment token is unknown, used, superseded or expired. Deliberately one
    /// error for all of these, so it reveals nothing about which tokens exist.
    #[error("invalid or expired enrollment token; ask an administrator for a new one")]
    InvalidEnrollmentToken,
    /// The certificate belongs to a suspended endpoint.
    #[error("endpoint {0:?} is suspended")]
    EndpointSuspended(String),
    /// The certificate belongs to a deleted endpoint.
    #[error("endpoint {0:?} is deleted")]
    EndpointDeleted(String),
    /// The certificate is not the current certificate of any enrolled endpoint.
    #[error("authentication required: the client certificate is not the current certificate of an enrolled endpoint")]
    UnknownCertificate,
    /// Issuing a certificate failed.
    #[error("cannot issue the certificate: {0}")]
    Certificate(String),
    /// A cryptographic operation failed (bad input to it, or an internal failure).
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    /// The object may not be used this way (wrong type or usage mask).
    #[error("{0}")]
    WrongUse(String),
    /// The object's state does not allow this use (e.g. encrypting with a deactivated key).
    #[error("{0}")]
    WrongState(String),
    /// A user, group or wallet name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// No user, group or wallet by that name.
    #[error("{0}")]
    NameNotFound(String),
    /// The account is locked after too many wrong passwords.
    #[error("the account is locked after repeated wrong passwords; try again after {0} (UTC) or ask a System Administrator to unlock it")]
    AccountLocked(String),
    /// Wrong user name or password (deliberately one error for both).
    #[error("wrong user name or password")]
    BadCredentials,
    /// The recovery passphrase given is not the cluster's.
    #[error("wrong recovery passphrase")]
    WrongRecoveryPassphrase,
    /// The request came from an address outside the allow-list.
    #[error("requests from {0} are not allowed by the address allow-list")]
    AddressNotAllowed(String),
    /// The operation needs quorum approval; a request was created.
    #[error("this operation needs quorum approval: request {0} is pending")]
    QuorumPending(String),
    /// The node's pool for this key group is empty; another node may have keys.
    #[error("no ready key in this node's pool for key group {0:?}; try another node")]
    NoReadyKey(String),
    /// A task of the node failed (a writer stopped); the message is for the log.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A key transfer was refused (SPEC 8.3); the variant says which check failed.
    #[error("{0}")]
    Transfer(#[from] crate::transfer::TransferError),
    /// The root of trust failed.
    #[error("root of trust: {0}")]
    Rot(#[from] RotError),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}
