//! KMIP operation failures: a result reason and a message for the client.

use super::enums::result_reason as rr;
use crate::service::ServiceError;

/// A failed batch item: KMIP Result Reason plus a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KmipError {
    /// KMIP Result Reason enumeration value.
    pub reason: u32,
    /// Result Message sent to the client. Never contains key material.
    pub message: String,
}

impl KmipError {
    /// An error with a reason and message.
    pub fn new(reason: u32, message: impl Into<String>) -> KmipError {
        KmipError {
            reason,
            message: message.into(),
        }
    }

    /// Invalid Message: the request does not parse as KMIP.
    pub fn invalid_message(message: impl Into<String>) -> KmipError {
        KmipError::new(rr::INVALID_MESSAGE, message)
    }

    /// Invalid Field: a field has a value we refuse.
    pub fn invalid_field(message: impl Into<String>) -> KmipError {
        KmipError::new(rr::INVALID_FIELD, message)
    }

    /// Missing Data: a required field is absent.
    pub fn missing(field: &str) -> KmipError {
        KmipError::new(rr::MISSING_DATA, format!("missing {field}"))
    }

    /// Operation Not Supported.
    pub fn unsupported(message: impl Into<String>) -> KmipError {
        KmipError::new(rr::OPERATION_NOT_SUPPORTED, message)
    }
}

impl KmipError {
    /// Adjusts the result reason to the client's protocol version: some reasons exist
    /// only from KMIP 2.0 on, and 2.0 split "object not found" out of "item not found".
    pub fn for_version(mut self, v: super::message::ProtocolVersion) -> KmipError {
        self.reason = match (v.is_v2(), self.reason) {
            (false, rr::WRONG_KEY_LIFECYCLE_STATE) => rr::PERMISSION_DENIED,
            (false, rr::OBJECT_DESTROYED) => rr::ITEM_NOT_FOUND,
            (true, rr::ITEM_NOT_FOUND) => rr::OBJECT_NOT_FOUND,
            (_, r) => r,
        };
        self
    }
}

impl From<ServiceError> for KmipError {
    fn from(e: ServiceError) -> KmipError {
        // One exhaustive map from service errors to KMIP result reasons.
        let reason = match &e {
            ServiceError::NotFound(_) | ServiceError::InvalidId(_) => rr::ITEM_NOT_FOUND,
            ServiceError::InvalidArgument(_) => rr::INVALID_FIELD,
            ServiceError::IllegalTransition { .. } => rr::WRONG_KEY_LIFECYCLE_STATE,
            ServiceError::Destroyed(_) => rr::OBJECT_DESTROYED,
            ServiceError::Unauthenticated => rr::AUTHENTICATION_NOT_SUCCESSFUL,
            ServiceError::Forbidden(_) => rr::PERMISSION_DENIED,
            ServiceError::Contended(_) => rr::GENERAL_FAILURE,
            ServiceError::Crypto(_) => rr::CRYPTOGRAPHIC_FAILURE,
            ServiceError::WrongUse(_) => rr::INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
            ServiceError::WrongState(_) => rr::WRONG_KEY_LIFECYCLE_STATE,
            ServiceError::EndpointNotFound(_) => rr::ITEM_NOT_FOUND,
            ServiceError::EndpointExists(_) | ServiceError::EndpointState { .. } => {
                rr::INVALID_FIELD
            }
            ServiceError::InvalidEnrollmentToken
            | ServiceError::UnknownCertificate
            | ServiceError::EndpointSuspended(_)
            | ServiceError::EndpointDeleted(_) => rr::AUTHENTICATION_NOT_SUCCESSFUL,
            ServiceError::Certificate(_) => rr::GENERAL_FAILURE,
            ServiceError::AlreadyExists(_) => rr::INVALID_FIELD,
            ServiceError::NameNotFound(_) => rr::ITEM_NOT_FOUND,
            ServiceError::AccountLocked(_)
            | ServiceError::BadCredentials
            | ServiceError::WrongRecoveryPassphrase
            | ServiceError::AddressNotAllowed(_) => rr::AUTHENTICATION_NOT_SUCCESSFUL,
            ServiceError::QuorumPending(_) => rr::PERMISSION_DENIED,
            ServiceError::NoReadyKey(_) | ServiceError::Internal(_) => rr::GENERAL_FAILURE,
            ServiceError::Rot(_) => rr::CRYPTOGRAPHIC_FAILURE,
            ServiceError::Store(_) => rr::GENERAL_FAILURE,
            // KMIP does not transfer keys between clusters; listed for exhaustiveness.
            ServiceError::Transfer(_) => rr::PERMISSION_DENIED,
        };
        let message = match &e {
            ServiceError::Store(crate::store::StoreError::ReadOnly(_)) => e.to_string(),
            ServiceError::Rot(_) | ServiceError::Store(_) | ServiceError::Internal(_) => {
                tracing::error!(error = %e, "KMIP request failed in the node");
                "internal failure in the key manager".to_owned()
            }
            _ => e.to_string(),
        };
        KmipError { reason, message }
    }
}
