//! Quorum (SPEC 5.6): the members, pending requests and their votes.

use super::users::to_json;
use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A request for an operation that needs M of N approvals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuorumRequestRecord {
    /// Request ID (UUIDv7).
    pub id: String,
    /// Operation name (`set_quorum`, ...).
    pub action: String,
    /// Its parameters, JSON.
    pub params: String,
    /// User ID of the requester.
    pub requested_by: String,
    /// Approvals needed.
    pub required: i64,
    /// `pending`, `executed`, `failed`, `rejected` or `expired`.
    pub state: String,
    /// Votes after this time (Unix seconds) are refused and the request expires.
    pub deadline: i64,
    /// What running it produced, or why it failed.
    pub result: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

const COLUMNS: &str = "id, action, params, requested_by, required, state, deadline, result, created_at, updated_at, hlc, origin_node";

fn decode(r: &AnyRow) -> Result<QuorumRequestRecord, StoreError> {
    Ok(QuorumRequestRecord {
        id: r.try_get("id")?,
        action: r.try_get("action")?,
        params: r.try_get("params")?,
        requested_by: r.try_get("requested_by")?,
        required: r.try_get("required")?,
        state: r.try_get("state")?,
        deadline: r.try_get("deadline")?,
        result: r.try_get("result")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

impl WriteTx {
    /// Inserts or replaces a request (by ID) if it still has `expected_hlc` (`None` for
    /// a new one); otherwise [`StoreError::Conflict`].
    pub async fn put_quorum_request(
        &mut self,
        q: &QuorumRequestRecord,
        expected_hlc: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(h) = expected_hlc {
            let done = sqlx::query("DELETE FROM quorum_requests WHERE id = $1 AND hlc = $2")
                .bind(q.id.clone())
                .bind(h)
                .execute(self.conn())
                .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(q.id.clone()));
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO quorum_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(q.id.clone())
        .bind(q.action.clone())
        .bind(q.params.clone())
        .bind(q.requested_by.clone())
        .bind(q.required)
        .bind(q.state.clone())
        .bind(q.deadline)
        .bind(q.result.clone())
        .bind(q.created_at)
        .bind(q.updated_at)
        .bind(q.hlc)
        .bind(q.origin_node.clone())
        .execute(self.conn())
        .await?;
        let payload = to_json("quorum_requests", q)?;
        self.log_change(
            q.hlc,
            "quorum_request",
            &q.id,
            ChangeOp::Upsert,
            &payload,
            q.updated_at,
        )
        .await?;
        Ok(())
    }

    /// Records a member's vote; false if they voted on this request already.
    pub async fn insert_quorum_vote(
        &mut self,
        request_id: &str,
        user_id: &str,
        approve: bool,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let existing: Option<(String,)> =
            sqlx::query_as("SELECT vote FROM quorum_votes WHERE request_id = $1 AND user_id = $2")
                .bind(request_id)
                .bind(user_id)
                .fetch_optional(self.conn())
                .await?;
        if existing.is_some() {
            return Ok(false);
        }
        let vote = if approve { "approve" } else { "reject" };
        sqlx::query("INSERT INTO quorum_votes (request_id, user_id, vote, created_at) VALUES ($1, $2, $3, $4)")
            .bind(request_id)
            .bind(user_id)
            .bind(vote)
            .bind(now)
            .execute(self.conn())
            .await?;
        let payload = to_json(
            "quorum_votes",
            &serde_json::json!({"request_id": request_id, "user_id": user_id, "vote": vote}),
        )?;
        self.log_change(
            hlc,
            "quorum_vote",
            &format!("{request_id}/{user_id}"),
            ChangeOp::Upsert,
            &payload,
            now,
        )
        .await?;
        Ok(true)
    }

    /// Replaces the quorum: its members (user IDs) and the approvals it needs.
    pub async fn set_quorum(
        &mut self,
        members: &[String],
        required: i64,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM quorum_members")
            .execute(self.conn())
            .await?;
        for m in members {
            sqlx::query("INSERT INTO quorum_members (user_id, created_at) VALUES ($1, $2)")
                .bind(m.clone())
                .bind(now)
                .execute(self.conn())
                .await?;
        }
        self.put_setting("quorum_required", &serde_json::json!(required), now, hlc)
            .await?;
        let payload = to_json(
            "quorum_members",
            &serde_json::json!({"members": members, "required": required}),
        )?;
        self.log_change(hlc, "quorum", "members", ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Quorum member user IDs.
    pub async fn quorum_members(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT user_id FROM quorum_members ORDER BY user_id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// One request.
    pub async fn quorum_request(
        &self,
        id: &str,
    ) -> Result<Option<QuorumRequestRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM quorum_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Requests, newest first.
    pub async fn quorum_requests(
        &self,
        limit: i64,
    ) -> Result<Vec<QuorumRequestRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM quorum_requests ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Votes on a request: (user ID, approve?).
    pub async fn quorum_votes(&self, request_id: &str) -> Result<Vec<(String, bool)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT user_id, vote FROM quorum_votes WHERE request_id = $1 ORDER BY created_at, user_id")
                .bind(request_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(u, v)| (u, v == "approve")).collect())
    }
}
