//! Upgrading an existing ledger: a migration that moves read-model data from one read model to
//! another keeps what the old shape held, and both read models go on from where they were.

use crate::on_both_backends;
use crate::support::mcp::register_for_everyone;
use crate::support::mcp_recorder::RecordingMcpServer;
use crate::support::{assert_success, dump_table, TestEnv};
use serde_json::{json, Value};
use sqlx::Row;

/// No sender: the copies stay pending, as they were.
async fn without_jobs(env: &TestEnv) -> crate::support::api::Server {
    let jobs = credledger::config::JobSettings {
        enabled: false,
        ..Default::default()
    };
    env.server_with_jobs(|_| {}, jobs).await
}

const SEEN: &str = "{ credentials { name status syncStatus } \
    dashboard { total pendingSync syncErrors } }";

/// Migration 0014 (ADR 0017): a ledger whose MCP servers, grants and copies were kept by the
/// `credential_summary` consumer, with the sync columns stored in `credential_summary` and
/// `dashboard_stats`, comes back with an `mcp_sync` read model holding the same copies, starting
/// where `credential_summary` was, and answers as before.
async fn an_upgrade_gives_the_mcp_copies_their_own_read_model_where_they_were(env: TestEnv) {
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let here = without_jobs(&env).await;
    register_for_everyone(&here, &recorder, "gw", &["notion", "jira"]).await;
    let alice = here.user("alice").await;
    for (n, name) in ["Work", "Home"].into_iter().enumerate() {
        alice
            .add("notion", name, here.good_fields("notion", n))
            .await;
    }
    let home = alice.ok("{ credentials { id name } }", json!({})).await["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Home")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { id } }",
            json!({"id": home}),
        )
        .await;
    let before: Value = alice.ok(SEEN, json!({})).await;
    assert_eq!(before["dashboard"]["pendingSync"], 2, "{before}");
    here.running.stop().await.unwrap();

    let pool = env.any_pool().await;
    let copies = dump_table(&pool, "mcp_sync", "server_id, credential_id").await;
    let credentials = dump_table(&pool, "mcp_credentials", "credential_id").await;
    assert_eq!(copies.len(), 2);
    assert_eq!(credentials.len(), 2);
    // Back to the shape before 0014, as that code left it.
    for sql in [
        "ALTER TABLE credential_summary ADD COLUMN sync_status text",
        "ALTER TABLE credential_summary ADD COLUMN last_synced_at text",
        "ALTER TABLE credential_summary ADD COLUMN sync_error text",
        "UPDATE credential_summary SET sync_status = 'pending'",
        "ALTER TABLE dashboard_stats ADD COLUMN pending_sync bigint NOT NULL DEFAULT 0",
        "ALTER TABLE dashboard_stats ADD COLUMN sync_errors bigint NOT NULL DEFAULT 0",
        "UPDATE dashboard_stats SET pending_sync = 2",
        "DROP INDEX mcp_sync_user",
        "DROP TABLE mcp_credentials",
        "DELETE FROM projection_checkpoints WHERE name = 'mcp_sync'",
        "DELETE FROM _sqlx_migrations WHERE version = 14",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }

    // Migrated alone first, so no read model has run when the tables are looked at.
    let out = env.cli().arg("migrate").output().unwrap();
    assert_success(&out, "credledger migrate");
    let checkpoint = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT position FROM projection_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>("position")
        }
    };
    assert_eq!(
        checkpoint("mcp_sync").await,
        checkpoint("credential_summary").await
    );
    assert_eq!(
        dump_table(&pool, "mcp_credentials", "credential_id").await,
        credentials
    );
    assert_eq!(
        dump_table(&pool, "mcp_sync", "server_id, credential_id").await,
        copies
    );
    for (table, column) in [
        ("credential_summary", "sync_status"),
        ("credential_summary", "last_synced_at"),
        ("credential_summary", "sync_error"),
        ("dashboard_stats", "pending_sync"),
        ("dashboard_stats", "sync_errors"),
    ] {
        let read = sqlx::query(&format!("SELECT {column} FROM {table}"))
            .fetch_all(&pool)
            .await;
        assert!(read.is_err(), "{table}.{column} is still there");
    }
    let here = without_jobs(&env).await;
    let alice = here.sign_in("alice").await;
    assert_eq!(alice.ok(SEEN, json!({})).await, before);

    // And on from there: a new credential gets its copy.
    alice
        .add("jira", "Third", here.good_fields("jira", 0))
        .await;
    let after = alice.ok(SEEN, json!({})).await;
    assert_eq!(after["dashboard"]["pendingSync"], 3, "{after}");
    assert_eq!(
        dump_table(&pool, "mcp_sync", "server_id, credential_id")
            .await
            .len(),
        3
    );
}
on_both_backends!(an_upgrade_gives_the_mcp_copies_their_own_read_model_where_they_were);

/// Migrations 0017 and 0018 build their indexes concurrently. Two processes migrating at once
/// both finish: the second waited for the first in `pg_advisory_lock`, a statement whose
/// snapshot the first's `CREATE INDEX CONCURRENTLY` waits for, and the server aborted one of
/// them as a deadlock (leaving the index invalid when it was the build). An index a build left
/// invalid is rebuilt by the next migration, not taken as built by `IF NOT EXISTS`.
#[tokio::test]
async fn migrations_at_once_both_finish_and_an_index_left_invalid_is_rebuilt() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let migrate = || {
        env.cli()
            .arg("migrate")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    assert_success(&migrate().wait_with_output().unwrap(), "credledger migrate");
    let pool = env.any_pool().await;
    let indexes = "SELECT c.relname::text AS name, i.indisvalid AS valid FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname IN ('audit_trail_checks', 'audit_trail_sync_failures') ORDER BY 1";
    let valid = |pool: sqlx::AnyPool| async move {
        sqlx::query(indexes)
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>("name"), r.get::<bool, _>("valid")))
            .collect::<Vec<_>>()
    };
    let built = vec![
        ("audit_trail_checks".to_owned(), true),
        ("audit_trail_sync_failures".to_owned(), true),
    ];
    assert_eq!(valid(pool.clone()).await, built);
    for sql in [
        "DROP INDEX audit_trail_checks",
        "DROP INDEX audit_trail_sync_failures",
        "DELETE FROM _sqlx_migrations WHERE version IN (17, 18)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }

    // Both start while the lock is held (as by a third migrating), then go at once.
    let mut holder = pool.acquire().await.unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    let lock = credledger_adapters::db::migration_lock_id(&database);
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut *holder)
        .await
        .unwrap();
    let (first, second) = (migrate(), migrate());
    crate::support::eventually("both asking for the lock", || async {
        let asking: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid NOT IN (pg_backend_pid(), $1) AND query LIKE '%advisory_lock($1)%' \
             AND query NOT LIKE '%pg_stat_activity%'",
        )
        .bind(holder_pid)
        .fetch_one(&pool)
        .await
        .unwrap();
        asking >= 2
    })
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);
    for process in [first, second] {
        assert_success(&process.wait_with_output().unwrap(), "credledger migrate");
    }
    assert_eq!(valid(pool.clone()).await, built);

    // A build stopped midway leaves its index invalid, and the migration recorded as run.
    sqlx::query(
        "UPDATE pg_index SET indisvalid = false \
         WHERE indexrelid = 'audit_trail_checks'::regclass",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_success(&migrate().wait_with_output().unwrap(), "credledger migrate");
    assert_eq!(valid(pool.clone()).await, built);
    pool.close().await;
}
