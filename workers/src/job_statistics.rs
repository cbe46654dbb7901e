//! Planner statistics for apalis's `Jobs` table on SQLite.
//!
//! apalis-sqlite 1.0 acknowledges and locks jobs with statements such as
//! `UPDATE Jobs … FROM json_each(?1) … WHERE Jobs.id = j.task_id AND Jobs.lock_by = ?2`
//! and `… WHERE id IN (SELECT value FROM json_each(?1)) AND status = …`. With no
//! statistics SQLite's planner takes every index as selective, so it walks the
//! `lock_by` or `status` index and parses the JSON list once per row it finds. Every
//! job a worker has finished keeps its `lock_by`, so each acknowledgement costs time
//! in proportion to the jobs finished before it. In a release build,
//! `certflow bench engine --timers 100000` drained the timers at about 37 per second,
//! with most of the CPU time in SQLite's JSON parser. With statistics that describe a
//! queue (ids unique, status and worker shared by many rows) the planner walks the
//! JSON list and looks each id up by the primary key.
//!
//! A queue's table is empty when it is created, `ANALYZE` writes nothing for an empty
//! table, and figures measured on a few jobs would mislead the planner later. The
//! statistics are therefore written by hand, once, as SQLite documents for
//! controlling query plans through `sqlite_stat1`.

use sqlx::{Row, SqlitePool};

/// The row count the written statistics describe. Only the ratios between the figures
/// matter to the planner.
const DESCRIBED_ROWS: i64 = 1_000_000;

/// Writes planner statistics for every index of `Jobs` unless `sqlite_stat1` already
/// has some for the table (written at an earlier start, or by an operator's `ANALYZE`).
/// Returns whether it wrote any.
///
/// Connections that were open before read the new statistics only after reloading the
/// schema, so the caller opens its pool afterwards.
pub async fn describe_jobs_table(pool: &SqlitePool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;

    // Creates sqlite_stat1 when the database has none yet, without measuring Jobs:
    // figures of a table of a few jobs would mislead the planner once it contains many.
    sqlx::query("ANALYZE sqlite_schema").execute(&mut *tx).await?;
    let described: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'Jobs'").fetch_one(&mut *tx).await?;
    if described > 0 {
        tx.commit().await?;
        return Ok(false);
    }

    let indexes = sqlx::query("SELECT name, \"unique\" FROM pragma_index_list('Jobs')").fetch_all(&mut *tx).await?;
    for index in &indexes {
        let name: String = index.try_get("name")?;
        let unique: bool = index.try_get::<i64, _>("unique")? == 1;
        let columns: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_index_info(?1)").bind(&name).fetch_one(&mut *tx).await?;
        sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('Jobs', ?1, ?2)")
            .bind(&name)
            .bind(index_statistics(columns, unique))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    tracing::info!(indexes = indexes.len(), "described the jobs table to the SQLite planner");
    Ok(true)
}

/// Returns an index's `sqlite_stat1` entry: the table's row count, then the rows that
/// match each prefix of the index's columns. Each further column divides the matching
/// rows by ten (a status, a worker or a job type is shared by a tenth of the jobs), and
/// the full key of a unique index matches one row.
fn index_statistics(columns: i64, unique: bool) -> String {
    let mut parts = vec![DESCRIBED_ROWS.to_string()];
    let mut matching = DESCRIBED_ROWS;
    for column in 1..=columns {
        matching = (matching / 10).max(2);
        let rows = if unique && column == columns { 1 } else { matching };
        parts.push(rows.to_string());
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::index_statistics;

    #[test]
    fn statistics_narrow_by_ten_per_column() {
        assert_eq!(index_statistics(1, false), "1000000 100000");
        assert_eq!(index_statistics(3, false), "1000000 100000 10000 1000");
    }

    #[test]
    fn unique_key_matches_one_row() {
        assert_eq!(index_statistics(1, true), "1000000 1");
        assert_eq!(index_statistics(2, true), "1000000 100000 1");
    }
}
