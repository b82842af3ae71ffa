//! User accounts and their sessions.
//!
//! A row keeps the name as given and its lower-case `name_key`, unique among live users
//! (user names are case-insensitive, SPEC 5.5). Deleting leaves a tombstone with
//! `name_key` NULL. Passwords are stored only as Argon2id PHC strings, and the change
//! log carries the PHC string too (peers must verify the same password), never the
//! password.

use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A user account as stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRecord {
    /// User ID (UUIDv7).
    pub id: String,
    /// Name as given.
    pub name: String,
    /// Lower-case name; `None` once deleted.
    pub name_key: Option<String>,
    /// Argon2id PHC string; `None` when password login is off for this user.
    pub password_phc: Option<String>,
    /// SHA-256 of the DER of the client certificate this user logs in with.
    pub cert_fingerprint: Option<Vec<u8>>,
    /// Role bits (see `authz::Roles`).
    pub roles: i64,
    /// Role bits held with forward grant.
    pub forward_roles: i64,
    /// Privilege bits (see `authz::Privileges`).
    pub privileges: i64,
    /// `active` or `deleted`.
    pub state: String,
    /// Wrong passwords in a row.
    pub failed_logins: i64,
    /// Refused until this time (Unix seconds), whatever the password.
    pub locked_until: Option<i64>,
    /// Who created it.
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "id, name, name_key, password_phc, cert_fingerprint, roles, forward_roles, privileges, \
     state, failed_logins, locked_until, created_by, created_at, updated_at, hlc, origin_node";

fn decode(r: &AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        name_key: r.try_get("name_key")?,
        password_phc: r.try_get("password_phc")?,
        cert_fingerprint: r.try_get("cert_fingerprint")?,
        roles: r.try_get("roles")?,
        forward_roles: r.try_get("forward_roles")?,
        privileges: r.try_get("privileges")?,
        state: r.try_get("state")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

pub(super) fn to_json<T: serde::Serialize>(
    table: &'static str,
    v: &T,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("cannot encode change: {e}"),
    })
}

impl WriteTx {
    /// Inserts a user; a taken name fails with a unique violation.
    pub async fn insert_user(&mut self, u: &UserRecord) -> Result<i64, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(u.id.clone())
        .bind(u.name.clone())
        .bind(u.name_key.clone())
        .bind(u.password_phc.clone())
        .bind(u.cert_fingerprint.clone())
        .bind(u.roles)
        .bind(u.forward_roles)
        .bind(u.privileges)
        .bind(u.state.clone())
        .bind(u.failed_logins)
        .bind(u.locked_until)
        .bind(u.created_by.clone())
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(u.hlc)
        .bind(u.origin_node.clone())
        .execute(self.conn())
        .await?;
        let payload = to_json("users", u)?;
        self.log_change(
            u.hlc,
            "user",
            &u.id,
            ChangeOp::Upsert,
            &payload,
            u.updated_at,
        )
        .await
    }

    /// Replaces a user's mutable fields if the row still has `expected_hlc`
    /// (otherwise [`StoreError::Conflict`]); a move to `deleted` logs a delete.
    pub async fn update_user(
        &mut self,
        u: &UserRecord,
        expected_hlc: i64,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET name_key = $1, password_phc = $2, cert_fingerprint = $3, roles = $4, forward_roles = $5, \
             privileges = $6, state = $7, failed_logins = $8, locked_until = $9, updated_at = $10, hlc = $11, \
             origin_node = $12 WHERE id = $13 AND hlc = $14",
        )
        .bind(u.name_key.clone())
        .bind(u.password_phc.clone())
        .bind(u.cert_fingerprint.clone())
        .bind(u.roles)
        .bind(u.forward_roles)
        .bind(u.privileges)
        .bind(u.state.clone())
        .bind(u.failed_logins)
        .bind(u.locked_until)
        .bind(u.updated_at)
        .bind(u.hlc)
        .bind(u.origin_node.clone())
        .bind(u.id.clone())
        .bind(expected_hlc)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(u.id.clone()));
        }
        let op = if u.state == "deleted" {
            ChangeOp::Delete
        } else {
            ChangeOp::Upsert
        };
        let payload = to_json("users", u)?;
        self.log_change(u.hlc, "user", &u.id, op, &payload, u.updated_at)
            .await
    }

    /// Stores a session token's SHA-256 for `principal`, expiring at `expires_at`.
    pub async fn insert_session(
        &mut self,
        id: &str,
        principal: &str,
        token_hash: &[u8],
        now: i64,
        expires_at: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_tokens (id, principal, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(principal)
            .bind(token_hash.to_vec())
            .bind(now)
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        let payload = to_json(
            "api_tokens",
            &serde_json::json!({"id": id, "principal": principal, "token_hash": hex::encode(token_hash), "expires_at": expires_at}),
        )?;
        self.log_change(hlc, "api_token", id, ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }

    /// Removes one token or session by its SHA-256.
    pub async fn delete_token(
        &mut self,
        token_hash: &[u8],
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash.to_vec())
                .fetch_optional(self.conn())
                .await?;
        let Some((id,)) = row else { return Ok(false) };
        sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id.clone())
            .execute(self.conn())
            .await?;
        let payload = to_json("api_tokens", &serde_json::json!({"id": id}))?;
        self.log_change(hlc, "api_token", &id, ChangeOp::Delete, &payload, now)
            .await?;
        Ok(true)
    }

    /// Removes every token and session of `principal` (a user name key).
    pub async fn delete_tokens_of(
        &mut self,
        principal: &str,
        now: i64,
        hlc: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE principal = $1")
            .bind(principal)
            .execute(self.conn())
            .await?;
        let payload = to_json("api_tokens", &serde_json::json!({"principal": principal}))?;
        self.log_change(
            hlc,
            "api_tokens_of",
            principal,
            ChangeOp::Delete,
            &payload,
            now,
        )
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// A user by ID (tombstones included).
    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id = $1", id.to_owned()).await
    }

    /// The live user whose lower-case name is `name_key`.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("name_key = $1", name.to_ascii_lowercase())
            .await
    }

    /// The live user who logs in with the certificate of SHA-256 `fingerprint`.
    pub async fn user_by_fingerprint(
        &self,
        fingerprint: &[u8],
    ) -> Result<Option<UserRecord>, StoreError> {
        self.user_where(
            "cert_fingerprint = $1 AND state = 'active'",
            fingerprint.to_vec(),
        )
        .await
    }

    async fn user_where<T>(
        &self,
        condition: &'static str,
        value: T,
    ) -> Result<Option<UserRecord>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static,
    {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE {condition}"
        )))
        .bind(value)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Live users, by name, at most `limit` from `offset`.
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE state = 'active' ORDER BY name_key LIMIT $1 OFFSET $2"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// How many live users hold any of the role bits in `roles`.
    pub async fn count_users_with_roles(&self, roles: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE state = 'active' AND (roles & $1) <> 0",
        )
        .bind(roles)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// The principal owning the token whose SHA-256 is `token_hash`, if the token has
    /// not expired at `now`.
    ///
    /// The lookup is by hash: the comparison an attacker could time is of a digest of
    /// their own guess, which reveals nothing about stored tokens.
    pub async fn principal_for_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT principal FROM api_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash.to_vec())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }
}
