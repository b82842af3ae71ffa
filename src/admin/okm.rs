//! REST route for OKM agents (`docs/okm.md`): `POST /v1/okm/agents` registers a drive
//! that speaks Oracle Key Manager's agent protocol and returns its one-time passphrase.
//! Listing, suspending, resuming and deleting are the endpoint routes' (an OKM agent
//! is an endpoint of type `okm_agent`).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use crate::service::EndpointInfo;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// The OKM routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/okm/agents", post(create))
        .route("/v1/okm/agents/{name}/passphrase", post(reissue))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    agent_id: String,
    key_group: String,
    site: Option<String>,
}

/// The agent and its passphrase (shown once).
#[derive(Serialize)]
struct Created {
    endpoint: EndpointInfo,
    passphrase: String,
    passphrase_expires_at: i64,
}

async fn create(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let made = st
        .svc
        .create_okm_agent(&who, &body.agent_id, &body.key_group, body.site.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            endpoint: made.endpoint,
            passphrase: made.passphrase.expose_secret().to_owned(),
            passphrase_expires_at: made.expires_at,
        }),
    ))
}

async fn reissue(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Created>, ApiError> {
    let made = st.svc.reissue_okm_passphrase(&who, &name).await?;
    Ok(Json(Created {
        endpoint: made.endpoint,
        passphrase: made.passphrase.expose_secret().to_owned(),
        passphrase_expires_at: made.expires_at,
    }))
}
