//! REST routes for user accounts (SPEC 5.1–5.3): creation, passwords, lockout,
//! administrative roles with forward grant, and the endpoint privileges.
//!
//! Passwords arrive as JSON strings and are deserialized straight into
//! [`SecretString`]: they are never logged, echoed or kept past the request.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::{PathParams, QueryParams};
use super::routes::{ApiState, Caller};
use crate::authz::{ManageTarget, Privileges, Roles};
use crate::service::users::UserInfo;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The user routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/users", post(create).get(list))
        .route("/v1/users/{name}", get(get_one).delete(delete_one))
        .route("/v1/users/{name}/password", post(set_password))
        .route("/v1/users/{name}/unlock", post(unlock))
        .route("/v1/users/{name}/roles", post(grant_role))
        .route("/v1/users/{name}/roles/{role}", delete(revoke_role))
        .route("/v1/users/{name}/privileges", post(grant_privilege))
        .route(
            "/v1/users/{name}/privileges/{privilege}",
            delete(revoke_privilege),
        )
        .route("/v1/users/{name}/manage", post(grant_manage))
        .route(
            "/v1/users/{name}/manage/{target}/{target_name}",
            delete(revoke_manage),
        )
}

/// Default page size of `GET /v1/users`.
const DEFAULT_LIMIT: i64 = 100;

fn parse_role(s: &str) -> Result<Roles, ApiError> {
    Roles::parse_one(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            format!("role: one of {}", names(&Roles::NAMES)),
        )
    })
}

fn parse_privilege(s: &str) -> Result<Privileges, ApiError> {
    Privileges::parse_one(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            format!("privilege: one of {}", names(&Privileges::NAMES)),
        )
    })
}

fn parse_target(s: &str) -> Result<ManageTarget, ApiError> {
    match s {
        "endpoint" => Ok(ManageTarget::Endpoint),
        "endpoint_group" => Ok(ManageTarget::EndpointGroup),
        _ => Err(ApiError::bad_request(
            "invalid_argument",
            "target: endpoint or endpoint_group",
        )),
    }
}

fn names<T>(table: &[(T, &'static str)]) -> String {
    table.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    /// Absent: the user logs in with a client certificate set up later.
    password: Option<SecretString>,
}

async fn create(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    let u = st.svc.create_user(&who, &body.name, body.password).await?;
    Ok((StatusCode::CREATED, Json(u)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ListReply {
    users: Vec<UserInfo>,
}

async fn list(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<ListReply>, ApiError> {
    let users = st
        .svc
        .list_users(
            &who,
            q.limit.unwrap_or(DEFAULT_LIMIT),
            q.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(ListReply { users }))
}

async fn get_one(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<UserInfo>, ApiError> {
    Ok(Json(st.svc.get_user(&who, &name).await?))
}

async fn delete_one(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.delete_user(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    /// Needed to change one's own password.
    current: Option<SecretString>,
    new: SecretString,
}

async fn set_password(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    st.svc
        .set_password(&who, &name, body.current, body.new)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unlock(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<UserInfo>, ApiError> {
    Ok(Json(st.svc.unlock_user(&who, &name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    /// Whether the grantee may grant the role onward.
    #[serde(default)]
    forward_grant: bool,
}

async fn grant_role(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<UserInfo>, ApiError> {
    let role = parse_role(&body.role)?;
    Ok(Json(
        st.svc
            .grant_role(&who, &name, role, body.forward_grant)
            .await?,
    ))
}

async fn revoke_role(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, role)): PathParams<(String, String)>,
) -> Result<Json<UserInfo>, ApiError> {
    let role = parse_role(&role)?;
    Ok(Json(st.svc.revoke_role(&who, &name, role).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivilegeBody {
    privilege: String,
}

async fn grant_privilege(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<PrivilegeBody>,
) -> Result<Json<UserInfo>, ApiError> {
    let p = parse_privilege(&body.privilege)?;
    Ok(Json(st.svc.change_privilege(&who, &name, p, false).await?))
}

async fn revoke_privilege(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, privilege)): PathParams<(String, String)>,
) -> Result<Json<UserInfo>, ApiError> {
    let p = parse_privilege(&privilege)?;
    Ok(Json(st.svc.change_privilege(&who, &name, p, true).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManageBody {
    /// `endpoint` or `endpoint_group`.
    target: String,
    /// The endpoint's or endpoint group's name.
    name: String,
}

async fn grant_manage(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<ManageBody>,
) -> Result<Json<UserInfo>, ApiError> {
    let target = parse_target(&body.target)?;
    Ok(Json(
        st.svc
            .change_manage(&who, &name, target, &body.name, false)
            .await?,
    ))
}

async fn revoke_manage(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams((name, target, target_name)): PathParams<(String, String, String)>,
) -> Result<Json<UserInfo>, ApiError> {
    let target = parse_target(&target)?;
    Ok(Json(
        st.svc
            .change_manage(&who, &name, target, &target_name, true)
            .await?,
    ))
}
