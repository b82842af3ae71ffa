//! REST routes for key groups (SPEC 2.3: a wallet's key policy), this node's key pools
//! (SPEC 3) and data units (SPEC 2.5). Authorization and audit are the service's; these
//! handlers only translate JSON.

use super::error::ApiError;
use super::json::JsonBody;
use super::params::{PathParams, QueryParams};
use super::routes::{ApiState, Caller};
use crate::keys::{Algorithm, KeyPolicy};
use crate::pool::PoolReport;
use crate::service::{DataUnitInfo, KeyPolicyInfo, ServiceError};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The key-group, pool and data-unit routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/wallets/{name}/policy",
            get(get_policy).put(set_policy).delete(remove_policy),
        )
        .route("/v1/pools", get(pools))
        .route("/v1/data-units", get(list_data_units))
        .route("/v1/data-units/{id}", get(get_data_unit))
}

// ---- key policies ----

/// `PUT /v1/wallets/{name}/policy`. Periods are seconds; absent or `null` means no
/// limit.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    #[serde(default = "default_algorithm")]
    algorithm: String,
    #[serde(default = "default_length")]
    length: u32,
    #[serde(default)]
    encryption_period_secs: Option<i64>,
    #[serde(default)]
    decryption_period_secs: Option<i64>,
    #[serde(default)]
    exportable: bool,
}

fn default_algorithm() -> String {
    "AES".into()
}

fn default_length() -> u32 {
    KeyPolicy::default().length
}

impl PolicyBody {
    /// The policy asked for. Only the algorithm's name is checked here; the service
    /// checks the rest (`KeyPolicy::check`), so every transport gets the same rules.
    fn into_policy(self) -> Result<KeyPolicy, ApiError> {
        let algorithm = Algorithm::parse(&self.algorithm).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_argument",
                format!(
                    "algorithm: unsupported {:?}; drives use AES",
                    self.algorithm.chars().take(32).collect::<String>()
                ),
            )
        })?;
        Ok(KeyPolicy {
            algorithm,
            length: self.length,
            encryption_period_secs: self.encryption_period_secs,
            decryption_period_secs: self.decryption_period_secs,
            exportable: self.exportable,
        })
    }
}

const VIEW_RULE: &str =
    "seeing a key policy needs access to its wallet, or the Key Administrator or Audit Manager role";
const CHANGE_RULE: &str =
    "changing a key policy needs Manage Wallet access to its wallet, or the Key Administrator role";

/// A policy route's refusal, worded the same whether or not the wallet exists. The
/// service words them differently (a missing wallet is "no access to a wallet named
/// ... (or there is none)", an existing one gets the rule that refused), which would
/// tell a caller without access which wallet names exist. Every refusal here is
/// true of all three cases: no such wallet, no access, too little access.
fn refusal(e: ServiceError, name: &str, rule: &str) -> ApiError {
    match e {
        ServiceError::Forbidden(_) => {
            ServiceError::Forbidden(format!("{rule} (wallet {name:?}, if there is one)")).into()
        }
        other => other.into(),
    }
}

async fn set_policy(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<Json<KeyPolicyInfo>, ApiError> {
    let policy = body.into_policy()?;
    match st.svc.set_key_policy(&who, &name, policy).await {
        Ok(p) => Ok(Json(p)),
        Err(e) => Err(refusal(e, &name, CHANGE_RULE)),
    }
}

async fn get_policy(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<KeyPolicyInfo>, ApiError> {
    // Reached only by a caller who may see the wallet: the service refuses others
    // before it looks for a policy, so "no policy" tells nothing to anyone else.
    match st.svc.key_policy(&who, &name).await {
        Ok(Some(p)) => Ok(Json(p)),
        Ok(None) => Err(ServiceError::NameNotFound(format!(
            "wallet {name:?} has no key policy (it is not a key group)"
        ))
        .into()),
        Err(e) => Err(refusal(e, &name, VIEW_RULE)),
    }
}

async fn remove_policy(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    match st.svc.remove_key_policy(&who, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(refusal(e, &name, CHANGE_RULE)),
    }
}

// ---- pools ----

#[derive(Serialize)]
struct PoolList {
    /// This node's ID: pools are per node.
    node_id: String,
    pools: Vec<PoolReport>,
}

async fn pools(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<PoolList>, ApiError> {
    let mut pools = st.svc.pool_reports(&who).await?;
    st.svc.retain_visible_pools(&who, &mut pools).await?;
    Ok(Json(PoolList {
        node_id: st.svc.node().node_id.clone(),
        pools,
    }))
}

// ---- data units ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataUnitQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct DataUnitList {
    data_units: Vec<DataUnitInfo>,
}

async fn list_data_units(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    QueryParams(q): QueryParams<DataUnitQuery>,
) -> Result<Json<DataUnitList>, ApiError> {
    Ok(Json(DataUnitList {
        data_units: st.svc.list_data_units(&who, q.limit, q.offset).await?,
    }))
}

async fn get_data_unit(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<DataUnitInfo>, ApiError> {
    Ok(Json(st.svc.get_data_unit(&who, &id).await?))
}
