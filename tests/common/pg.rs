//! A fresh database per test on the PostgreSQL server `scripts/test.sh` starts.

use sqlx::{Connection, Executor};

/// Environment variable naming the server (a URL ending in a database to connect to).
pub const PG_URL_ENV: &str = "CLAVIS_TEST_PG_URL";

/// Creates an empty database and returns its URL.
///
/// Fails loudly when no server is configured: the PostgreSQL tests are part of the
/// suite, and skipping them silently would hide a broken backend.
pub async fn fresh_database() -> String {
    let base = std::env::var(PG_URL_ENV).unwrap_or_else(|_| {
        panic!("{PG_URL_ENV} is not set: run the suite with scripts/test.sh, which starts a private PostgreSQL server")
    });
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {base}: {e}"));
    let name = format!("clavis_test_{}", uuid::Uuid::now_v7().simple());
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("CREATE DATABASE");
    conn.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("URL has a database path");
    format!("{prefix}/{name}")
}
