//! Master-key rotation (`/v1/master-key/rotate`, `/v1/master-key/rotation`): start
//! one, and follow the background re-wrap.

use super::error::ApiError;
use super::routes::{ApiState, Caller};
use crate::service::rotation::RotationStatus;
use axum::extract::State as AxState;
use axum::routing::{get, post};
use axum::{Json, Router};

/// The rotation routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/master-key/rotate", post(rotate))
        .route("/v1/master-key/rotation", get(status))
}

async fn rotate(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<RotationStatus>, ApiError> {
    Ok(Json(st.svc.rotate_master_key(&who).await?))
}

async fn status(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<RotationStatus>, ApiError> {
    Ok(Json(st.svc.rotation_status(&who).await?))
}
