//! REST routes under `/v1`. Handlers translate JSON to service calls and back.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::PeerAddr;
use crate::keys::{Algorithm, ObjectMeta, ObjectType, RevocationReason, State};
use crate::secret::KeyMaterial;
use crate::service::{CreateKey, KeyService, Principal, Status};
use crate::store::ListFilter;
use axum::extract::{FromRequestParts, Query, State as AxState};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Shared state of the API.
#[derive(Clone)]
pub struct ApiState {
    /// The service every handler calls.
    pub svc: Arc<KeyService>,
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Caller(pub Principal);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let source = parts.extensions.get::<PeerAddr>().map(|p| p.0.to_string());
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(token) = token {
            return Ok(Caller(state.svc.authenticate_token(token, source).await?));
        }
        // No token: a client certificate registered to a user logs that user in.
        if let Some(cert) = parts.extensions.get::<super::PeerCertificate>() {
            if let Some(who) = state.svc.authenticate_certificate(&cert.0, source).await? {
                return Ok(Caller(who));
            }
        }
        Err(crate::service::ServiceError::Unauthenticated.into())
    }
}

/// Refuses requests from addresses outside the admin allow-list (SPEC 5.8), before
/// any handler or authentication runs. `/healthz` stays open for load balancers.
async fn admin_allowlist(
    AxState(st): AxState<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() != "/healthz" {
        if let Some(peer) = req.extensions().get::<PeerAddr>() {
            if let Err(e) = st.svc.check_admin_address(peer.0.ip()).await {
                tracing::warn!(peer = %peer.0, "admin API request from an address outside the allow-list");
                return ApiError::from(e).into_response();
            }
        }
    }
    next.run(req).await
}

/// Counts every request and its latency for the metrics page.
async fn count_request(
    AxState(st): AxState<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let outcome = crate::metrics::Outcome::of_http(resp.status().as_u16());
    st.svc
        .metrics()
        .record(crate::metrics::Interface::Rest, outcome, start.elapsed());
    resp
}

/// `GET /v1/metrics`: Prometheus text format, for any authenticated caller (as status).
async fn metrics(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let mut status = st.svc.status().await?;
    st.svc.retain_visible_pools(&who, &mut status.pools).await?;
    let body = crate::metrics::render(&status, st.svc.metrics());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// The `/v1` router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/metrics", get(metrics))
        .route("/v1/keys", post(create_key).get(list_keys))
        .route("/v1/secrets", post(register_secret))
        .route("/v1/keys/{id}", get(get_key))
        .route("/v1/keys/{id}/material", get(get_material))
        .route("/v1/keys/{id}/activate", post(activate))
        .route("/v1/keys/{id}/revoke", post(revoke))
        .route("/v1/keys/{id}/destroy", post(destroy))
        .merge(super::endpoints::routes())
        .merge(super::audit::routes())
        .merge(super::session::routes())
        .merge(super::quorum::routes())
        .merge(super::backup::routes())
        .merge(super::rotation::routes())
        .merge(super::cluster::routes())
        .merge(super::users::routes())
        .merge(super::wallets::routes())
        .merge(super::drives::routes())
        .merge(super::okm::routes())
        .merge(super::transfer::routes())
        .merge(super::openapi::routes())
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin_allowlist,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "this route does not take that method; see docs/api.md".into(),
    }
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_such_route",
        message: "no such API route; see docs/api.md".into(),
    }
}

async fn healthz(AxState(st): AxState<ApiState>) -> (StatusCode, Json<serde_json::Value>) {
    let h = st.svc.rot().health();
    let code = if h.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({ "ok": h.ok, "root_of_trust": h.detail })),
    )
}

async fn status(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<Status>, ApiError> {
    let mut status = st.svc.status().await?;
    st.svc.retain_visible_pools(&who, &mut status.pools).await?;
    Ok(Json(status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    #[serde(default = "default_algorithm")]
    algorithm: String,
    #[serde(default = "default_length")]
    length: u32,
    name: Option<String>,
    #[serde(default)]
    activate: bool,
}

fn default_algorithm() -> String {
    "AES".into()
}
fn default_length() -> u32 {
    256
}

async fn create_key(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateKeyBody>,
) -> Result<(StatusCode, Json<ObjectMeta>), ApiError> {
    let algorithm = Algorithm::parse(&body.algorithm).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            format!(
                "algorithm: unsupported {:?}; supported: AES",
                truncate(&body.algorithm)
            ),
        )
    })?;
    let meta = st
        .svc
        .create_key(
            &who,
            CreateKey {
                algorithm,
                length: body.length,
                name: body.name,
                activate: body.activate,
                attributes: Default::default(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    name: Option<String>,
    /// The secret, base64.
    secret_b64: String,
    #[serde(default)]
    activate: bool,
}

async fn register_secret(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<SecretBody>,
) -> Result<(StatusCode, Json<ObjectMeta>), ApiError> {
    let data = B64
        .decode(body.secret_b64.as_bytes())
        .map(KeyMaterial::new)
        .map_err(|_| ApiError::bad_request("invalid_argument", "secret_b64: not valid base64"))?;
    let meta = st
        .svc
        .register_secret(&who, body.name, data, body.activate)
        .await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    #[serde(rename = "type")]
    object_type: Option<String>,
    name: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ListBody {
    objects: Vec<ObjectMeta>,
}

async fn list_keys(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListBody>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "state: one of pre_active, active, deactivated, compromised, destroyed, destroyed_compromised")
        })?),
    };
    let object_type = match q.object_type.as_deref() {
        None => None,
        Some(t) => Some(ObjectType::parse(t).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "type: one of symmetric_key, secret_data, private_key, public_key, certificate, opaque_object")
        })?),
    };
    let filter = ListFilter {
        state,
        object_type,
        name: q.name,
        limit: q.limit,
        offset: q.offset,
        visible_to: None,
    };
    Ok(Json(ListBody {
        objects: st.svc.list(&who, filter).await?,
    }))
}

async fn get_key(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<ObjectMeta>, ApiError> {
    Ok(Json(st.svc.get(&who, &id).await?))
}

#[derive(Serialize)]
struct MaterialBody {
    id: String,
    object_type: ObjectType,
    material_b64: String,
}

async fn get_material(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<MaterialBody>, ApiError> {
    let (meta, material) = st.svc.get_material(&who, &id).await?;
    Ok(Json(MaterialBody {
        id: meta.id,
        object_type: meta.object_type,
        material_b64: B64.encode(material.expose_secret()),
    }))
}

async fn activate(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<ObjectMeta>, ApiError> {
    Ok(Json(st.svc.activate(&who, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: RevocationReason,
    message: Option<String>,
}

async fn revoke(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<ObjectMeta>, ApiError> {
    Ok(Json(
        st.svc.revoke(&who, &id, body.reason, body.message).await?,
    ))
}

async fn destroy(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<ObjectMeta>, ApiError> {
    Ok(Json(st.svc.destroy(&who, &id).await?))
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}
