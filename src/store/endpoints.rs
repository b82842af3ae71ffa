//! Endpoints (SPEC 4.1): registered machines that enroll with a one-time token and
//! then authenticate with a certificate issued by the cluster CA.
//!
//! A row keeps the name as given and its lower-case `name_key`, unique among live
//! endpoints (names are case-insensitive, SPEC 5.5). Deleting leaves a tombstone with
//! `name_key` NULL, so the name can be reused while the row still answers "deleted" for
//! its old certificate. Only the SHA-256 of an enrollment token is stored.

use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Where an endpoint is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Registered; has not enrolled yet (or was resumed before ever enrolling).
    Registered,
    /// Holds a certificate the cluster accepts.
    Enrolled,
    /// Refused until resumed.
    Suspended,
    /// A tombstone: refused for good; its name is free again.
    Deleted,
}

impl EndpointState {
    /// Stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Registered => "registered",
            EndpointState::Enrolled => "enrolled",
            EndpointState::Suspended => "suspended",
            EndpointState::Deleted => "deleted",
        }
    }

    /// Parses [`EndpointState::as_str`] output.
    pub fn parse(s: &str) -> Option<EndpointState> {
        [
            EndpointState::Registered,
            EndpointState::Enrolled,
            EndpointState::Suspended,
            EndpointState::Deleted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for EndpointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointRecord {
    /// Endpoint ID (UUIDv7).
    pub id: String,
    /// Name as given at registration.
    pub name: String,
    /// Lower-case name, unique among live endpoints; `None` once deleted.
    pub name_key: Option<String>,
    /// Kind of endpoint (`kmip`, `agent`, `database`, `tape_library`, ...).
    pub endpoint_type: String,
    /// Site the endpoint is at.
    pub site: Option<String>,
    /// Wallet its uploads go to (a name for now; wallets come with access control).
    pub default_wallet: Option<String>,
    /// Life-cycle state.
    pub state: EndpointState,
    /// SHA-256 of the pending enrollment token, if one is pending.
    #[serde(serialize_with = "hex_opt", deserialize_with = "hex_opt_de")]
    pub token_hash: Option<Vec<u8>>,
    /// When the pending token expires, Unix seconds.
    pub token_expires_at: Option<i64>,
    /// SHA-256 of the DER of the certificate issued at the last enrollment.
    #[serde(serialize_with = "hex_opt", deserialize_with = "hex_opt_de")]
    pub cert_fingerprint: Option<Vec<u8>>,
    /// That certificate's serial number, hex.
    pub cert_serial: Option<String>,
    /// That certificate's expiry, Unix seconds.
    pub cert_not_after: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

fn hex_opt_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    s.map(|h| hex::decode(h).map_err(serde::de::Error::custom))
        .transpose()
}

fn hex_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_some(&hex::encode(b)),
        None => s.serialize_none(),
    }
}

/// Filters for listing endpoints.
#[derive(Debug, Clone, Default)]
pub struct EndpointFilter {
    /// Only this state; `None` lists every state but `deleted`.
    pub state: Option<EndpointState>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
    /// Skip this many first (ordered by ID, i.e. registration time).
    pub offset: Option<i64>,
}

const COLUMNS: &str = "id, name, name_key, endpoint_type, site, default_wallet, state, token_hash, token_expires_at, \
     cert_fingerprint, cert_serial, cert_not_after, created_at, updated_at, hlc, origin_node";

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "endpoints",
        detail,
    }
}

fn decode_row(r: &AnyRow) -> Result<EndpointRecord, StoreError> {
    let id: String = r.try_get("id")?;
    let state: String = r.try_get("state")?;
    Ok(EndpointRecord {
        state: EndpointState::parse(&state)
            .ok_or_else(|| corrupt(format!("{id}: unknown state {state:?}")))?,
        name: r.try_get("name")?,
        name_key: r.try_get("name_key")?,
        endpoint_type: r.try_get("endpoint_type")?,
        site: r.try_get("site")?,
        default_wallet: r.try_get("default_wallet")?,
        token_hash: r.try_get("token_hash")?,
        token_expires_at: r.try_get("token_expires_at")?,
        cert_fingerprint: r.try_get("cert_fingerprint")?,
        cert_serial: r.try_get("cert_serial")?,
        cert_not_after: r.try_get("cert_not_after")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
        id,
    })
}

fn payload(e: &EndpointRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(e).map_err(|err| corrupt(format!("{}: cannot encode change: {err}", e.id)))
}

impl StoreError {
    /// True when the database refused a write because a unique column (an endpoint's
    /// name, token hash or certificate fingerprint) already holds the value.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => d.is_unique_violation(),
            _ => false,
        }
    }
}

impl WriteTx {
    /// Inserts a new endpoint and logs it. A taken `name_key` fails with an error for
    /// which [`StoreError::is_unique_violation`] is true.
    pub async fn insert_endpoint(&mut self, e: &EndpointRecord) -> Result<i64, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO endpoints ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(e.id.clone())
        .bind(e.name.clone())
        .bind(e.name_key.clone())
        .bind(e.endpoint_type.clone())
        .bind(e.site.clone())
        .bind(e.default_wallet.clone())
        .bind(e.state.as_str())
        .bind(e.token_hash.clone())
        .bind(e.token_expires_at)
        .bind(e.cert_fingerprint.clone())
        .bind(e.cert_serial.clone())
        .bind(e.cert_not_after)
        .bind(e.created_at)
        .bind(e.updated_at)
        .bind(e.hlc)
        .bind(e.origin_node.clone())
        .execute(self.conn())
        .await?;
        let payload = payload(e)?;
        self.log_change(
            e.hlc,
            "endpoint",
            &e.id,
            ChangeOp::Upsert,
            &payload,
            e.updated_at,
        )
        .await
    }

    /// Replaces an endpoint's mutable fields if it still has HLC `expected_hlc`
    /// (optimistic concurrency: otherwise [`StoreError::Conflict`]), and logs it; a
    /// move to `deleted` is logged as a delete (the row stays as a tombstone).
    pub async fn update_endpoint(
        &mut self,
        e: &EndpointRecord,
        expected_hlc: i64,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "UPDATE endpoints SET name_key = $1, endpoint_type = $2, site = $3, default_wallet = $4, state = $5, \
             token_hash = $6, token_expires_at = $7, cert_fingerprint = $8, cert_serial = $9, cert_not_after = $10, \
             updated_at = $11, hlc = $12, origin_node = $13 WHERE id = $14 AND hlc = $15",
        )
        .bind(e.name_key.clone())
        .bind(e.endpoint_type.clone())
        .bind(e.site.clone())
        .bind(e.default_wallet.clone())
        .bind(e.state.as_str())
        .bind(e.token_hash.clone())
        .bind(e.token_expires_at)
        .bind(e.cert_fingerprint.clone())
        .bind(e.cert_serial.clone())
        .bind(e.cert_not_after)
        .bind(e.updated_at)
        .bind(e.hlc)
        .bind(e.origin_node.clone())
        .bind(e.id.clone())
        .bind(expected_hlc)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(e.id.clone()));
        }
        let op = if e.state == EndpointState::Deleted {
            ChangeOp::Delete
        } else {
            ChangeOp::Upsert
        };
        let payload = payload(e)?;
        self.log_change(e.hlc, "endpoint", &e.id, op, &payload, e.updated_at)
            .await
    }
}

impl Store {
    /// An endpoint by ID (tombstones included).
    pub async fn endpoint(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        self.endpoint_where("id = $1", id.to_owned()).await
    }

    /// The live (not deleted) endpoint named `name`, compared case-insensitively.
    pub async fn endpoint_by_name(&self, name: &str) -> Result<Option<EndpointRecord>, StoreError> {
        self.endpoint_where("name_key = $1", name.to_ascii_lowercase())
            .await
    }

    /// The endpoint whose pending enrollment token has SHA-256 `token_hash`.
    pub async fn endpoint_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<EndpointRecord>, StoreError> {
        self.endpoint_where("token_hash = $1", token_hash.to_vec())
            .await
    }

    /// The endpoint (tombstones included) whose last certificate has SHA-256 DER
    /// fingerprint `fingerprint`.
    pub async fn endpoint_by_fingerprint(
        &self,
        fingerprint: &[u8],
    ) -> Result<Option<EndpointRecord>, StoreError> {
        self.endpoint_where("cert_fingerprint = $1", fingerprint.to_vec())
            .await
    }

    async fn endpoint_where<T>(
        &self,
        condition: &'static str,
        value: T,
    ) -> Result<Option<EndpointRecord>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static,
    {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM endpoints WHERE {condition}"
        )))
        .bind(value)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_row).transpose()
    }

    /// Endpoints matching `filter`, oldest first.
    pub async fn list_endpoints(
        &self,
        filter: &EndpointFilter,
    ) -> Result<Vec<EndpointRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM endpoints \
             WHERE ($1 IS NULL AND state <> 'deleted') OR state = $1 \
             ORDER BY id LIMIT $2 OFFSET $3"
        )))
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.limit.unwrap_or(100))
        .bind(filter.offset.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_row).collect()
    }
}
