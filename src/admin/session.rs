//! Login sessions: password login (`POST /v1/login`, no token needed), logout, who am
//! I, and client-certificate enrollment for users (certificate login for the CLI).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use super::PeerAddr;
use crate::service::users::UserInfo;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The session routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/whoami", get(whoami))
        .route("/v1/users/{name}/certificate", post(certificate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: SecretString,
}

#[derive(Serialize)]
struct LoginReply {
    token: String,
    expires_at: i64,
    user: String,
}

async fn login(
    AxState(st): AxState<ApiState>,
    peer: Option<Extension<PeerAddr>>,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Json<LoginReply>, ApiError> {
    let source = peer.map(|p| p.0 .0.to_string());
    let s = st.svc.login(&body.name, &body.password, source).await?;
    Ok(Json(LoginReply {
        token: s.token.expose_secret().to_owned(),
        expires_at: s.expires_at,
        user: s.user,
    }))
}

async fn logout(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    st.svc.logout(&who, token).await?;
    Ok(Json(serde_json::json!({ "logged_out": true })))
}

async fn whoami(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<UserInfo>, ApiError> {
    Ok(Json(st.svc.get_user(&who, &who.name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateBody {
    csr_pem: String,
}

#[derive(Serialize)]
struct CertificateReply {
    certificate_pem: String,
    ca_pem: String,
}

async fn certificate(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<CertificateBody>,
) -> Result<Json<CertificateReply>, ApiError> {
    let (certificate_pem, ca_pem) = st
        .svc
        .issue_user_certificate(&who, &name, &body.csr_pem)
        .await?;
    Ok(Json(CertificateReply {
        certificate_pem,
        ca_pem,
    }))
}
