//! Key transfer partners (`/v1/transfer`, SPEC 8.3): this cluster's transfer identity,
//! its partners, the files it exported and importing a partner's file. Registering a
//! partner and exporting are quorum requests (`POST /v1/quorum/requests` with
//! `register_transfer_partner` / `transfer_export`).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use crate::service::transfer::{
    TransferExportInfo, TransferIdentityInfo, TransferImportReport, TransferPartnerInfo,
};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The transfer routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/transfer/identity", get(identity))
        .route("/v1/transfer/partners", get(partners))
        .route("/v1/transfer/partners/{name}", delete(remove_partner))
        .route("/v1/transfer/exports/{id}", get(export_file))
        .route("/v1/transfer/imports", post(import))
}

async fn identity(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<TransferIdentityInfo>, ApiError> {
    Ok(Json(st.svc.transfer_identity(&who).await?))
}

#[derive(serde::Serialize)]
struct Partners {
    partners: Vec<TransferPartnerInfo>,
}

async fn partners(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<Partners>, ApiError> {
    Ok(Json(Partners {
        partners: st.svc.transfer_partners(&who).await?,
    }))
}

async fn remove_partner(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_transfer_partner(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export_file(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<TransferExportInfo>, ApiError> {
    Ok(Json(st.svc.transfer_export_file(&who, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    /// The transfer file's text, exactly as fetched.
    file: String,
    /// Wallet (key group) for the imported keys and data units.
    #[serde(default)]
    wallet: Option<String>,
}

async fn import(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<ImportBody>,
) -> Result<Json<TransferImportReport>, ApiError> {
    Ok(Json(
        st.svc
            .import_transfer(&who, &body.file, body.wallet.as_deref())
            .await?,
    ))
}
