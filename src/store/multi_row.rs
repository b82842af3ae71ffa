//! Multi-row INSERT statements: a batch of rows in one round trip to the database.

/// Rows per multi-row INSERT (14 columns × 256 stays far below both backends' limit
/// on bound parameters: 32,766 on SQLite, 65,535 on PostgreSQL).
pub(super) const MULTI_ROWS: usize = 256;

/// `INSERT INTO table (columns) VALUES ($1, ...), (...)` for `rows` rows.
pub(super) fn multi_row_insert(table: &str, columns: &str, per_row: usize, rows: usize) -> String {
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
            sql.push('$');
            sql.push_str(&(r * per_row + c).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_parameters_across_rows() {
        assert_eq!(
            super::multi_row_insert("t", "a, b", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
