//! Backups (`/v1/backups`): take one now, list those in the backup directory.
//! Master-key backups (`/v1/master-key/backups`, made through a quorum request): their
//! file, and each holder's one-time share.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;

/// The backup routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/backups", post(create).get(list))
        .route("/v1/backups/arm", post(arm))
        .route("/v1/master-key/backups/{id}", get(master_key_backup))
        .route("/v1/master-key/backups/{id}/share", post(fetch_share))
}

async fn master_key_backup(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<crate::service::master_key_backup::MasterKeyBackupInfo>, ApiError> {
    Ok(Json(st.svc.master_key_backup(&who, &id).await?))
}

#[derive(serde::Serialize)]
struct ShareAnswer {
    backup_id: String,
    share: String,
}

async fn fetch_share(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<ShareAnswer>, ApiError> {
    let share = st.svc.fetch_master_key_share(&who, &id).await?;
    Ok(Json(ShareAnswer {
        backup_id: id,
        share: share.as_str().to_owned(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    recovery_passphrase: SecretString,
}

async fn create(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<crate::backup::data::Written>), ApiError> {
    let written = st
        .svc
        .create_backup(&who, &body.recovery_passphrase)
        .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

#[derive(serde::Serialize)]
struct Listing {
    backups: Vec<crate::service::backup::BackupListing>,
    /// Whether scheduled backups are armed on this node.
    schedule_armed: bool,
}

#[derive(serde::Serialize)]
struct Armed {
    armed: bool,
}

async fn arm(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<Armed>, ApiError> {
    st.svc
        .arm_backup_schedule(&who, &body.recovery_passphrase)
        .await?;
    Ok(Json(Armed { armed: true }))
}

async fn list(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<Listing>, ApiError> {
    Ok(Json(Listing {
        backups: st.svc.list_backups(&who).await?,
        schedule_armed: st.svc.backup_schedule_armed(),
    }))
}
