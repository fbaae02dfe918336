//! `dashboard_stats`: credential counts per user and service (total, active, inactive, invalid,
//! expired, revoked). Per-user and overall figures are sums over these rows, so a dashboard
//! costs the same few statements whatever the number of credentials. Refreshed from
//! `credential_summary` in the same transaction that changes it. The pending and failed MCP
//! copies are counted from the `mcp_sync` read model when a dashboard is read.

use crate::row::filter_term;
use crate::{ProjectionError, Tables};
use sqlx::{AnyConnection, AnyPool, FromRow as _, Row};
use std::collections::BTreeMap;

fn bind_pairs<'q>(
    sql: &'q str,
    pairs: &[(String, String)],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for (user, service) in pairs {
        q = q.bind(user.clone()).bind(service.clone());
    }
    q
}

/// The counts, as aggregates over `credential_summary` rows (0 when there are none).
const COUNTS: &str = "SELECT COUNT(*) AS total, \
    COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0) AS active, \
    COALESCE(SUM(CASE WHEN status = 'inactive' THEN 1 ELSE 0 END), 0) AS inactive, \
    COALESCE(SUM(CASE WHEN status = 'invalid' THEN 1 ELSE 0 END), 0) AS invalid, \
    COALESCE(SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END), 0) AS expired, \
    COALESCE(SUM(CASE WHEN status = 'revoked' THEN 1 ELSE 0 END), 0) AS revoked";

const STATS_COLUMNS: &str = "user_id, service, total, active, inactive, invalid, expired, revoked";

/// Recomputes the counts of the given (user, service) keyrings from `credential_summary`, a few
/// hundred keyrings per statement.
pub(crate) async fn refresh(
    conn: &mut AnyConnection,
    tables: Tables,
    keyrings: &[(String, String)],
) -> Result<(), ProjectionError> {
    let stats = tables.name("dashboard_stats");
    let summary = tables.name("credential_summary");
    let sqlite = credledger_adapters::db::is_sqlite(conn);
    for chunk in keyrings.chunks(400) {
        let pairs = credledger_adapters::db::tuples(sqlite, 1, chunk.len(), 2);
        if sqlite {
            let delete =
                format!("DELETE FROM {stats} WHERE (user_id, service) IN (VALUES {pairs})");
            bind_pairs(&delete, chunk).execute(&mut *conn).await?;
            let insert = format!(
                "INSERT INTO {stats} ({STATS_COLUMNS}) SELECT user_id, service, {} \
                 FROM {summary} WHERE (user_id, service) IN (VALUES {pairs}) \
                 GROUP BY user_id, service",
                COUNTS.trim_start_matches("SELECT ")
            );
            bind_pairs(&insert, chunk).execute(&mut *conn).await?;
            continue;
        }
        // PostgreSQL, one statement: the keyrings' counts, written over the old ones while a
        // keyring has credentials, its row deleted once it has none (the two touch different
        // rows). Live, each keyring's counts come from its own index lookup, whatever the
        // table's statistics say (fresh ones under-count a table that grew fast, and a plan
        // built on them scans it whole). A rebuild's shadow table has that index only once it
        // is filled, so there one pass over the table counts them all.
        let fresh = if tables == Tables::LIVE {
            format!(
                "SELECT k.user_id, k.service, c.* FROM (VALUES {pairs}) AS k(user_id, service) \
                 CROSS JOIN LATERAL ({COUNTS} FROM {summary} s \
                   WHERE s.user_id = k.user_id AND s.service = k.service) c"
            )
        } else {
            format!(
                "SELECT user_id, service, {} FROM {summary} \
                 WHERE (user_id, service) IN (VALUES {pairs}) GROUP BY user_id, service",
                COUNTS.trim_start_matches("SELECT ")
            )
        };
        let sql = format!(
            "WITH fresh AS ({fresh}), \
             written AS (INSERT INTO {stats} ({STATS_COLUMNS}) SELECT {STATS_COLUMNS} \
               FROM fresh WHERE total > 0 \
               ON CONFLICT (user_id, service) DO UPDATE SET total = excluded.total, \
               active = excluded.active, inactive = excluded.inactive, \
               invalid = excluded.invalid, expired = excluded.expired, \
               revoked = excluded.revoked) \
             DELETE FROM {stats} s USING (VALUES {pairs}) AS k(user_id, service) \
             WHERE s.user_id = k.user_id AND s.service = k.service AND NOT EXISTS \
               (SELECT 1 FROM fresh f WHERE f.user_id = k.user_id AND f.service = k.service \
                AND f.total > 0)"
        );
        bind_pairs(&sql, chunk).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Counts for one scope (a user, or everyone).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Counts {
    pub total: i64,
    pub active: i64,
    pub inactive: i64,
    pub invalid: i64,
    pub expired: i64,
    pub revoked: i64,
    pub pending_sync: i64,
    pub sync_errors: i64,
}

/// A dashboard: totals, services connected (with at least one active credential), per service.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    pub totals: Counts,
    pub services_connected: i64,
    pub by_service: BTreeMap<String, Counts>,
}

pub(crate) fn dashboard_sql(one_person: bool) -> String {
    format!(
        "WITH copies AS (SELECT m.service, MAX(CASE m.status WHEN 'error' THEN 2 \
           WHEN 'pending' THEN 1 WHEN 'out_of_sync' THEN 1 ELSE 0 END) AS worst \
           FROM mcp_sync m JOIN credential_summary c ON c.credential_id = m.credential_id \
           WHERE {} GROUP BY m.service, m.credential_id), \
         sync AS (SELECT service, SUM(CASE WHEN worst = 1 THEN 1 ELSE 0 END) AS pending_sync, \
           SUM(CASE WHEN worst = 2 THEN 1 ELSE 0 END) AS sync_errors FROM copies \
           GROUP BY service) \
         SELECT d.service, CAST(SUM(d.total) AS BIGINT) AS total, \
         CAST(SUM(d.active) AS BIGINT) AS active, CAST(SUM(d.inactive) AS BIGINT) AS inactive, \
         CAST(SUM(d.invalid) AS BIGINT) AS invalid, CAST(SUM(d.expired) AS BIGINT) AS expired, \
         CAST(SUM(d.revoked) AS BIGINT) AS revoked, \
         CAST(COALESCE(MAX(y.pending_sync), 0) AS BIGINT) AS pending_sync, \
         CAST(COALESCE(MAX(y.sync_errors), 0) AS BIGINT) AS sync_errors \
         FROM dashboard_stats d LEFT JOIN sync y ON y.service = d.service \
         WHERE {} GROUP BY d.service ORDER BY d.service",
        filter_term(one_person, "m.user_id", "$1"),
        filter_term(one_person, "d.user_id", "$1"),
    )
}

/// One user's dashboard (`Some(user)`) or everyone's (`None`), in one statement.
pub async fn dashboard(pool: &AnyPool, user: Option<&str>) -> Result<Dashboard, ProjectionError> {
    // A credential counts as pending or failed by the worst of its copies (as its sync status
    // does); copies of a credential no longer in `credential_summary` do not count.
    let rows = sqlx::query(&dashboard_sql(user.is_some()))
        .bind(user.unwrap_or(""))
        .fetch_all(pool)
        .await?;
    let mut dashboard = Dashboard::default();
    for row in &rows {
        let service: String = row.try_get("service")?;
        let c = Counts::from_row(row)?;
        let t = &mut dashboard.totals;
        t.total += c.total;
        t.active += c.active;
        t.inactive += c.inactive;
        t.invalid += c.invalid;
        t.expired += c.expired;
        t.revoked += c.revoked;
        t.pending_sync += c.pending_sync;
        t.sync_errors += c.sync_errors;
        if c.active > 0 {
            dashboard.services_connected += 1;
        }
        dashboard.by_service.insert(service, c);
    }
    Ok(dashboard)
}
