//! REST routes for virtual wallets and their grants (SPEC 5.4), user groups and
//! endpoint groups (SPEC 5.3), and the cluster's access-control settings (SPEC 5.2,
//! 5.8).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::PathParams;
use super::routes::{ApiState, Caller};
use crate::authz::AccessLevel;
use crate::names::NameKind;
use crate::service::wallets::{GrantInfo, GranteeKind, GroupInfo, WalletInfo};
use crate::service::Settings;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The wallet, group and settings routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/wallets", post(create_wallet).get(list_wallets))
        .route("/v1/wallets/{name}", get(get_wallet).delete(delete_wallet))
        .route("/v1/wallets/{name}/objects", post(add_object))
        .route(
            "/v1/wallets/{name}/objects/{object_id}",
            delete(remove_object),
        )
        .route("/v1/wallets/{name}/grants", post(grant))
        .route(
            "/v1/wallets/{name}/grants/{grantee_kind}/{grantee}",
            delete(revoke),
        )
        .route(
            "/v1/user-groups",
            post(create_group::<UserGroups>).get(list_groups::<UserGroups>),
        )
        .route(
            "/v1/user-groups/{name}",
            get(get_group::<UserGroups>).delete(delete_group::<UserGroups>),
        )
        .route(
            "/v1/user-groups/{name}/members",
            post(add_member::<UserGroups>),
        )
        .route(
            "/v1/user-groups/{name}/members/{member}",
            delete(remove_member::<UserGroups>),
        )
        .route(
            "/v1/endpoint-groups",
            post(create_group::<EndpointGroups>).get(list_groups::<EndpointGroups>),
        )
        .route(
            "/v1/endpoint-groups/{name}",
            get(get_group::<EndpointGroups>).delete(delete_group::<EndpointGroups>),
        )
        .route(
            "/v1/endpoint-groups/{name}/members",
            post(add_member::<EndpointGroups>),
        )
        .route(
            "/v1/endpoint-groups/{name}/members/{member}",
            delete(remove_member::<EndpointGroups>),
        )
        .route("/v1/settings", get(get_settings))
        .route("/v1/settings/{name}", put(set_setting))
}

// ---- wallets ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWalletBody {
    name: String,
    description: Option<String>,
}

async fn create_wallet(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateWalletBody>,
) -> Result<(StatusCode, Json<WalletInfo>), ApiError> {
    let w = st
        .svc
        .create_wallet(&who, &body.name, body.description)
        .await?;
    Ok((StatusCode::CREATED, Json(w)))
}

#[derive(Serialize)]
struct WalletList {
    wallets: Vec<WalletInfo>,
}

async fn list_wallets(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<WalletList>, ApiError> {
    Ok(Json(WalletList {
        wallets: st.svc.list_wallets(&who).await?,
    }))
}

/// A wallet with its grants and (up to 1,000) object IDs.
#[derive(Serialize)]
struct WalletDetail {
    #[serde(flatten)]
    wallet: WalletInfo,
    grants: Vec<GrantInfo>,
    objects: Vec<String>,
}

async fn get_wallet(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<WalletDetail>, ApiError> {
    let (wallet, grants, objects) = st.svc.get_wallet(&who, &name).await?;
    Ok(Json(WalletDetail {
        wallet,
        grants,
        objects,
    }))
}

async fn delete_wallet(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.delete_wallet(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectBody {
    object_id: String,
}

async fn add_object(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<ObjectBody>,
) -> Result<StatusCode, ApiError> {
    st.svc.add_to_wallet(&who, &name, &body.object_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_object(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, object_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_from_wallet(&who, &name, &object_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_grantee_kind(s: &str) -> Result<GranteeKind, ApiError> {
    GranteeKind::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            "grantee_kind: one of user, user_group, endpoint, endpoint_group",
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    grantee_kind: String,
    grantee: String,
    level: String,
}

async fn grant(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<StatusCode, ApiError> {
    let kind = parse_grantee_kind(&body.grantee_kind)?;
    let level = AccessLevel::parse(&body.level).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            "level: one of read_only, read_modify, manage_wallet",
        )
    })?;
    st.svc
        .grant_wallet(&who, &name, kind, &body.grantee, level)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, kind, grantee)): PathParams<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let kind = parse_grantee_kind(&kind)?;
    st.svc.revoke_wallet(&who, &name, kind, &grantee).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- groups ----

/// Which kind of group a route serves; the handlers are shared.
trait GroupKind: Send + Sync + 'static {
    const KIND: NameKind;
}

struct UserGroups;
impl GroupKind for UserGroups {
    const KIND: NameKind = NameKind::UserGroup;
}

struct EndpointGroups;
impl GroupKind for EndpointGroups {
    const KIND: NameKind = NameKind::EndpointGroup;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroupBody {
    name: String,
    description: Option<String>,
}

async fn create_group<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateGroupBody>,
) -> Result<(StatusCode, Json<GroupInfo>), ApiError> {
    let g = st
        .svc
        .create_group(&who, K::KIND, &body.name, body.description)
        .await?;
    Ok((StatusCode::CREATED, Json(g)))
}

#[derive(Serialize)]
struct GroupList {
    groups: Vec<GroupInfo>,
}

async fn list_groups<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<GroupList>, ApiError> {
    Ok(Json(GroupList {
        groups: st.svc.list_groups(&who, K::KIND).await?,
    }))
}

async fn get_group<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<GroupInfo>, ApiError> {
    Ok(Json(st.svc.get_group(&who, K::KIND, &name).await?))
}

async fn delete_group<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.delete_group(&who, K::KIND, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    /// A user's name (user groups) or an endpoint's (endpoint groups).
    name: String,
}

async fn add_member<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<Json<GroupInfo>, ApiError> {
    Ok(Json(
        st.svc.add_member(&who, K::KIND, &name, &body.name).await?,
    ))
}

async fn remove_member<K: GroupKind>(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, member)): PathParams<(String, String)>,
) -> Result<Json<GroupInfo>, ApiError> {
    Ok(Json(
        st.svc.remove_member(&who, K::KIND, &name, &member).await?,
    ))
}

// ---- settings ----

async fn get_settings(
    Caller(_who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(st.svc.settings().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingBody {
    value: serde_json::Value,
}

async fn set_setting(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<SettingBody>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(st.svc.set_setting(&who, &name, body.value).await?))
}
