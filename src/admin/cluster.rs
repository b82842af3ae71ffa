//! Cluster membership (`/v1/cluster`): list nodes and peers, invite a node, remove one.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The cluster routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/cluster", get(show))
        .route("/v1/cluster/digest", get(digest))
        .route("/v1/cluster/nodes", post(add_node))
        .route("/v1/cluster/nodes/{id}", delete(remove_node))
}

#[derive(Serialize)]
struct ClusterView {
    nodes: Vec<crate::store::ClusterNode>,
    peers: Vec<crate::cluster::status::PeerStatus>,
}

async fn show(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<ClusterView>, ApiError> {
    Ok(Json(ClusterView {
        nodes: st.svc.cluster_nodes(&who).await?,
        peers: st.svc.peers().snapshot(),
    }))
}

async fn digest(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<std::collections::BTreeMap<String, String>>, ApiError> {
    Ok(Json(st.svc.replicated_digest(&who).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddNodeBody {
    name: String,
    #[serde(default = "default_site")]
    site: String,
    recovery_passphrase: SecretString,
    /// An approved `add_node` quorum request, once a quorum is configured.
    #[serde(default)]
    approval: Option<String>,
}

fn default_site() -> String {
    "default".into()
}

#[derive(Serialize)]
struct AddNodeAnswer {
    node_id: String,
    join_token: String,
    ca_pem: String,
    expires_in_secs: i64,
}

async fn add_node(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<AddNodeBody>,
) -> Result<(StatusCode, Json<AddNodeAnswer>), ApiError> {
    let inv = st
        .svc
        .invite_node(
            &who,
            &body.name,
            &body.site,
            &body.recovery_passphrase,
            body.approval.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AddNodeAnswer {
            node_id: inv.node_id,
            join_token: inv.token.expose_secret().to_owned(),
            ca_pem: inv.ca_pem,
            expires_in_secs: crate::service::cluster::JOIN_TOKEN_SECS,
        }),
    ))
}

async fn remove_node(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_node(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
