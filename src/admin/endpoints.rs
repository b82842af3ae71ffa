//! REST routes for endpoints (SPEC 4.1): registration and administration under
//! `/v1/endpoints` (bearer token required), and `/v1/enroll`, where the one-time
//! enrollment token is the only credential.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use super::PeerAddr;
use crate::service::{EndpointInfo, EnrollmentToken};
use crate::store::{EndpointFilter, EndpointState};
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The endpoint routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/endpoints", post(register).get(list))
        .route("/v1/endpoints/{name}", get(get_one).delete(delete))
        .route("/v1/endpoints/{name}/enrollment-token", post(new_token))
        .route("/v1/endpoints/{name}/suspend", post(suspend))
        .route("/v1/endpoints/{name}/resume", post(resume))
        .route(
            "/v1/endpoints/{name}/default-wallet",
            axum::routing::put(set_default_wallet),
        )
        .route("/v1/enroll", post(enroll))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    name: String,
    #[serde(rename = "type")]
    endpoint_type: String,
    site: Option<String>,
    default_wallet: Option<String>,
}

/// An endpoint with a freshly issued enrollment token (shown once).
#[derive(Serialize)]
struct WithToken {
    endpoint: EndpointInfo,
    enrollment_token: String,
    token_expires_at: i64,
}

impl WithToken {
    fn new(endpoint: EndpointInfo, token: EnrollmentToken) -> WithToken {
        WithToken {
            endpoint,
            enrollment_token: token.token.expose_secret().to_owned(),
            token_expires_at: token.expires_at,
        }
    }
}

async fn register(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<(StatusCode, Json<WithToken>), ApiError> {
    let (endpoint, token) = st
        .svc
        .register_endpoint(
            &who,
            &body.name,
            &body.endpoint_type,
            body.site.as_deref(),
            body.default_wallet.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(WithToken::new(endpoint, token))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ListBody {
    endpoints: Vec<EndpointInfo>,
}

async fn list(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListBody>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(EndpointState::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "state: one of registered, enrolled, suspended, deleted",
            )
        })?),
    };
    let filter = EndpointFilter {
        state,
        limit: q.limit,
        offset: q.offset,
    };
    Ok(Json(ListBody {
        endpoints: st.svc.list_endpoints(&who, filter).await?,
    }))
}

async fn get_one(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<EndpointInfo>, ApiError> {
    Ok(Json(st.svc.get_endpoint(&who, &name).await?))
}

async fn new_token(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<WithToken>, ApiError> {
    let (endpoint, token) = st.svc.issue_enrollment_token(&who, &name).await?;
    Ok(Json(WithToken::new(endpoint, token)))
}

async fn suspend(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<EndpointInfo>, ApiError> {
    Ok(Json(st.svc.suspend_endpoint(&who, &name).await?))
}

async fn resume(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<EndpointInfo>, ApiError> {
    Ok(Json(st.svc.resume_endpoint(&who, &name).await?))
}

async fn delete(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<EndpointInfo>, ApiError> {
    Ok(Json(st.svc.delete_endpoint(&who, &name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollBody {
    token: String,
    csr_pem: String,
}

#[derive(Serialize)]
struct EnrollAnswer {
    endpoint: String,
    certificate_pem: String,
    ca_pem: String,
}

async fn enroll(
    AxState(st): AxState<ApiState>,
    peer: Option<Extension<PeerAddr>>,
    JsonBody(body): JsonBody<EnrollBody>,
) -> Result<Json<EnrollAnswer>, ApiError> {
    let source = peer.map(|Extension(p)| p.0.to_string());
    let EnrollBody { token, csr_pem } = body;
    let token = SecretString::from(token);
    let e = st.svc.enroll(&token, &csr_pem, source).await?;
    Ok(Json(EnrollAnswer {
        endpoint: e.endpoint.name,
        certificate_pem: e.certificate_pem,
        ca_pem: e.ca_pem,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultWalletBody {
    wallet: Option<String>,
}

async fn set_default_wallet(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<DefaultWalletBody>,
) -> Result<Json<EndpointInfo>, ApiError> {
    Ok(Json(
        st.svc
            .set_default_wallet(&who, &name, body.wallet.as_deref())
            .await?,
    ))
}
