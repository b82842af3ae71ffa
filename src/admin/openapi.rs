//! `GET /v1/openapi.json`: the OpenAPI 3.1 description of this API
//! (`docs/openapi.json`, compiled in). No authentication: it describes the routes,
//! nothing about this node. `tests/openapi.rs` keeps it complete.

use super::routes::ApiState;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

/// The document, as served.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

/// The OpenAPI route, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
