//! Multi-row INSERT statements: a batch of rows in one round trip to the database.

use super::WriteTx;

/// Rows per multi-row INSERT (14 columns × 256 stays far below both backends' limit
/// on bound parameters: 32,766 on SQLite, 65,535 on PostgreSQL).
pub(super) const MULTI_ROWS: usize = 256;

impl WriteTx {
    /// `INSERT INTO table (columns) VALUES (...), (...)` for `rows` rows of `per_row`
    /// values, bound in order.
    pub(super) fn multi_row_insert(
        &self,
        table: &str,
        columns: &str,
        per_row: usize,
        rows: usize,
    ) -> String {
        multi_row_insert(table, columns, per_row, rows, self.postgres)
    }
}

/// PostgreSQL needs numbered parameters (`$1`). SQLite takes plain `?`: sqlx-sqlite
/// looks each numbered parameter's name up with a linear search, which made binding
/// a statement of a few thousand `$N` quadratic (most of a drive batch's time).
fn multi_row_insert(
    table: &str,
    columns: &str,
    per_row: usize,
    rows: usize,
    numbered: bool,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 1..=per_row {
            if c > 1 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * per_row + c).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_parameters_across_rows_for_postgres_only() {
        assert_eq!(
            super::multi_row_insert("t", "a, b", 2, 2, true),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            super::multi_row_insert("t", "a, b", 2, 2, false),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
