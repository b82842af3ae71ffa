//! The one map from service errors to HTTP statuses and JSON error bodies.

use crate::rot::RotError;
use crate::service::ServiceError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An API error: status, stable code, and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people. Never contains key material.
    pub message: String,
}

impl ApiError {
    /// A 400 with a message naming what is wrong.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let (status, code) = match &e {
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServiceError::InvalidId(_) => (StatusCode::BAD_REQUEST, "invalid_id"),
            ServiceError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            ServiceError::IllegalTransition { .. } => {
                (StatusCode::CONFLICT, "illegal_state_transition")
            }
            ServiceError::Destroyed(_) => (StatusCode::GONE, "destroyed"),
            ServiceError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ServiceError::Contended(_) => (StatusCode::SERVICE_UNAVAILABLE, "contended"),
            ServiceError::Crypto(_) => (StatusCode::BAD_REQUEST, "crypto_failed"),
            ServiceError::WrongUse(_) => (StatusCode::BAD_REQUEST, "wrong_use"),
            ServiceError::WrongState(_) => (StatusCode::CONFLICT, "wrong_state"),
            ServiceError::EndpointNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServiceError::EndpointExists(_) => (StatusCode::CONFLICT, "endpoint_exists"),
            ServiceError::EndpointState { .. } => (StatusCode::CONFLICT, "endpoint_state"),
            ServiceError::InvalidEnrollmentToken => {
                (StatusCode::UNAUTHORIZED, "invalid_enrollment_token")
            }
            ServiceError::EndpointSuspended(_) => (StatusCode::FORBIDDEN, "endpoint_suspended"),
            ServiceError::EndpointDeleted(_) => (StatusCode::FORBIDDEN, "endpoint_deleted"),
            ServiceError::UnknownCertificate => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ServiceError::Certificate(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "certificate_issuance_failed",
            ),
            ServiceError::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            ServiceError::NameNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServiceError::AccountLocked(_) => (StatusCode::FORBIDDEN, "account_locked"),
            ServiceError::BadCredentials | ServiceError::WrongRecoveryPassphrase => {
                (StatusCode::UNAUTHORIZED, "bad_credentials")
            }
            ServiceError::AddressNotAllowed(_) => (StatusCode::FORBIDDEN, "address_not_allowed"),
            ServiceError::QuorumPending(_) => (StatusCode::ACCEPTED, "quorum_pending"),
            ServiceError::NoReadyKey(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_ready_key"),
            ServiceError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ServiceError::Transfer(t) => {
                use crate::transfer::TransferError as T;
                match t {
                    T::Malformed(_) => (StatusCode::BAD_REQUEST, "transfer_malformed"),
                    T::UnknownPartner(_) => (StatusCode::FORBIDDEN, "transfer_unknown_partner"),
                    T::BadSignature(_) => (StatusCode::BAD_REQUEST, "transfer_bad_signature"),
                    T::WrongRecipient { .. } => {
                        (StatusCode::BAD_REQUEST, "transfer_wrong_recipient")
                    }
                    T::NotExportable { .. } => (StatusCode::BAD_REQUEST, "transfer_not_exportable"),
                    T::BadPartnerKey(_) => (StatusCode::BAD_REQUEST, "transfer_bad_partner_key"),
                    T::Undecryptable(_) => (StatusCode::BAD_REQUEST, "transfer_undecryptable"),
                    T::Crypto(_) => (StatusCode::INTERNAL_SERVER_ERROR, "transfer_crypto_failed"),
                }
            }
            ServiceError::Rot(r) => match r {
                RotError::UnwrapFailed(_)
                | RotError::MalformedEnvelope(_)
                | RotError::MasterKeyNotFound(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "unwrap_failed")
                }
                _ => (StatusCode::SERVICE_UNAVAILABLE, "root_of_trust_unavailable"),
            },
            ServiceError::Store(s) => match s {
                StoreError::Conflict(_) => (StatusCode::SERVICE_UNAVAILABLE, "contended"),
                StoreError::ReadOnly(_) => (StatusCode::SERVICE_UNAVAILABLE, "read_only_node"),
                // Where a request's own check did not catch it: another request created
                // the same thing at the same moment. The database is fine.
                s if s.is_unique_violation() => (StatusCode::CONFLICT, "already_exists"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            },
        };
        // Internal details (SQL errors, PKCS#11 return values) go to the log, not the client.
        let message = match &e {
            ServiceError::Store(StoreError::ReadOnly(_)) => e.to_string(),
            ServiceError::Rot(_) | ServiceError::Store(_) | ServiceError::Internal(_) => {
                tracing::error!(error = %e, "request failed in the node");
                match code {
                    "unwrap_failed" => {
                        "the stored key could not be unwrapped by the root of trust".to_owned()
                    }
                    "contended" => "the object is being changed concurrently; retry".to_owned(),
                    "already_exists" => "another request created the same entry at the same moment; nothing was changed".to_owned(),
                    "root_of_trust_unavailable" => {
                        "the root of trust (HSM) is unavailable".to_owned()
                    }
                    _ => "the database is unavailable".to_owned(),
                }
            }
            _ => e.to_string(),
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database error of the kind a unique index raises.
    #[derive(Debug)]
    struct UniqueViolation;

    impl std::fmt::Display for UniqueViolation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("duplicate key value violates unique constraint \"objects_pkey\"")
        }
    }

    impl std::error::Error for UniqueViolation {}

    impl sqlx::error::DatabaseError for UniqueViolation {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint \"objects_pkey\""
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::UniqueViolation
        }
    }

    #[test]
    fn an_unhandled_unique_violation_is_a_conflict_not_an_unavailable_database() {
        let e = ServiceError::Store(StoreError::Db(sqlx::Error::Database(Box::new(
            UniqueViolation,
        ))));
        let api = ApiError::from(e);
        assert_eq!(api.status, StatusCode::CONFLICT);
        assert_eq!(api.code, "already_exists");
        // No SQL text reaches the client.
        assert!(!api.message.contains("objects_pkey"), "{}", api.message);
        let other = ApiError::from(ServiceError::Store(StoreError::Db(
            sqlx::Error::PoolTimedOut,
        )));
        assert_eq!(
            (other.status, other.code),
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
        );
    }
}
