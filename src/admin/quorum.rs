//! Quorum requests and votes (`/v1/quorum`), and recovery with the recovery
//! passphrase (`/v1/recovery`, which needs no login: the passphrase is the credential).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use super::PeerAddr;
use crate::authz::Roles;
use crate::service::quorum::{QuorumInfo, QuorumOp, QuorumRequest};
use crate::service::recovery::NewAdministrator;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use secrecy::SecretString;
use serde::Deserialize;

/// The quorum and recovery routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/quorum", get(show))
        .route("/v1/quorum/requests", post(propose).get(list))
        .route("/v1/quorum/requests/{id}", get(get_one))
        .route("/v1/quorum/requests/{id}/approve", post(approve))
        .route("/v1/quorum/requests/{id}/reject", post(reject))
        .route("/v1/recovery/administrators", post(recover))
        .route("/v1/recovery/passphrase", post(change_passphrase))
}

async fn show(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<QuorumInfo>, ApiError> {
    Ok(Json(st.svc.quorum(&who).await?))
}

async fn propose(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<QuorumRequest>), ApiError> {
    // serde's flatten and deny_unknown_fields don't combine; parse by hand.
    let mut v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))?;
    let deadline_secs = match v.as_object_mut().and_then(|o| o.remove("deadline_secs")) {
        None | Some(serde_json::Value::Null) => None,
        Some(d) => Some(d.as_i64().ok_or_else(|| {
            ApiError::bad_request("invalid_argument", "deadline_secs: an integer")
        })?),
    };
    let operation: QuorumOp = serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request("invalid_argument", format!("operation: {e}")))?;
    let req = st.svc.propose(&who, operation, deadline_secs).await?;
    let status = if req.state == "pending" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(req)))
}

async fn list(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        serde_json::json!({ "requests": st.svc.quorum_requests(&who).await? }),
    ))
}

async fn get_one(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<QuorumRequest>, ApiError> {
    Ok(Json(st.svc.quorum_request(&who, &id).await?))
}

async fn approve(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<QuorumRequest>, ApiError> {
    Ok(Json(st.svc.vote(&who, &id, true).await?))
}

async fn reject(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<QuorumRequest>, ApiError> {
    Ok(Json(st.svc.vote(&who, &id, false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminBody {
    name: String,
    password: SecretString,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverBody {
    passphrase: SecretString,
    administrators: Vec<AdminBody>,
}

async fn recover(
    AxState(st): AxState<ApiState>,
    peer: Option<Extension<PeerAddr>>,
    JsonBody(body): JsonBody<RecoverBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut admins = Vec::new();
    for a in body.administrators {
        let role = Roles::parse_one(&a.role).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_argument",
                "role: system_admin, key_admin or audit_manager",
            )
        })?;
        admins.push(NewAdministrator {
            name: a.name,
            password: a.password,
            role,
        });
    }
    let source = peer.map(|p| p.0 .0.to_string());
    let names = st
        .svc
        .recover_administrators(&body.passphrase, admins, source)
        .await?;
    Ok(Json(serde_json::json!({ "administrators": names })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassphraseBody {
    current: SecretString,
    new: SecretString,
}

async fn change_passphrase(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<PassphraseBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    st.svc
        .change_recovery_passphrase(&who, &body.current, &body.new)
        .await?;
    Ok(Json(serde_json::json!({ "changed": true })))
}
