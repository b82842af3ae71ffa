//! REST routes for the audit trail under `/v1/audit` (bearer token required; the
//! service decides who may do what: reading and verifying need the Audit Manager or
//! System Administrator role, exporting and deleting the Audit Manager role).

use super::error::ApiError;
use super::json::JsonBody;
use super::params::QueryParams;
use super::routes::{ApiState, Caller};
use crate::audit::export::parse_time_ms;
use crate::audit::{Checkpoint, ExportFormat, VerifyReport};
use crate::service::audit::{AuditExport, DeleteReport, MAX_AUDIT_PAGE};
use crate::store::audit::{AuditFilter, AuditRecord};
use axum::extract::State as AxState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper::body::{Bytes, Frame};
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The audit routes, merged into the `/v1` router.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/audit/records", get(list))
        .route("/v1/audit/verify", post(verify))
        .route("/v1/audit/export", get(export))
        .route("/v1/audit/delete", post(delete))
        .route("/v1/audit/checkpoint", post(checkpoint))
}

fn time_param(name: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        parse_time_ms(s)
            .map_err(|m| ApiError::bad_request("invalid_argument", format!("{name}: {m}")))
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after_seq: Option<i64>,
    limit: Option<i64>,
    origin: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Serialize)]
struct ListAnswer {
    records: Vec<AuditRecord>,
    /// Pass as `after_seq` (with `origin`) for the next page; null at the end.
    next_after_seq: Option<i64>,
}

async fn list(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<ListAnswer>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    let filter = AuditFilter {
        origin: q.origin,
        after_seq: q.after_seq,
        action: q.action,
        actor: q.actor,
        since_ms: time_param("since", q.since.as_deref())?,
        until_ms: time_param("until", q.until.as_deref())?,
        limit,
    };
    let records = st.svc.audit_records(&who, filter).await?;
    let next_after_seq = (records.len() as i64 == limit && limit <= MAX_AUDIT_PAGE)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(ListAnswer {
        records,
        next_after_seq,
    }))
}

async fn verify(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(st.svc.audit_verify(&who).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    format: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// An export streamed as the response body, chunk by chunk as the service produces it.
struct ExportBody(AuditExport);

impl hyper::body::Body for ExportBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut().0.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk))))),
            Poll::Ready(Some(Err(e))) => {
                // The status line is sent already: ending the body with an error makes
                // hyper abort the connection, so the client sees a truncated transfer
                // instead of a silently short export.
                tracing::error!(error = %e, "audit export failed part way");
                Poll::Ready(Some(Err(std::io::Error::other("audit export failed"))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

async fn export(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None => ExportFormat::Jsonl,
        Some(f) => ExportFormat::parse(f).ok_or_else(|| {
            ApiError::bad_request("invalid_argument", "format: must be jsonl or cef")
        })?,
    };
    let since = time_param("since", q.since.as_deref())?;
    let until = time_param("until", q.until.as_deref())?;
    let exp = st.svc.audit_export(&who, format, since, until).await?;
    let name = match format {
        ExportFormat::Jsonl => "attachment; filename=\"clavis-audit.jsonl\"",
        ExportFormat::Cef => "attachment; filename=\"clavis-audit.cef.log\"",
    };
    let mut resp = axum::body::Body::new(ExportBody(exp)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    /// RFC 3339 time, date, or Unix seconds (string or number).
    before: serde_json::Value,
}

async fn delete(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<Json<DeleteReport>, ApiError> {
    let before = match &body.before {
        serde_json::Value::String(s) => time_param("before", Some(s))?,
        serde_json::Value::Number(n) => n.as_i64().and_then(|s| s.checked_mul(1000)),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_argument",
            "before: give an RFC 3339 time, a date, or Unix seconds",
        )
    })?;
    Ok(Json(st.svc.audit_delete(&who, before).await?))
}

#[derive(Serialize)]
struct CheckpointAnswer {
    /// The new checkpoint; null when the head had one already.
    checkpoint: Option<Checkpoint>,
}

async fn checkpoint(
    Caller(who): Caller,
    AxState(st): AxState<ApiState>,
) -> Result<Json<CheckpointAnswer>, ApiError> {
    Ok(Json(CheckpointAnswer {
        checkpoint: st.svc.audit_checkpoint_now(&who).await?,
    }))
}
