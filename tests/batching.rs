//! What lets commands share commits and read-model batches: the counts of commands deciding
//! their events and of appends on their way, feed wake-ups that say which position they are
//! about, what a consumer may remember between its batches, and how its batches are planned.

use crate::on_both_backends;
use crate::support::{meta, register, TestEnv};
use credledger::Ledger;
use credledger_adapters::append::NewEvent;
use credledger_adapters::db::Backend;
use credledger_adapters::feed::FeedWaker;
use std::time::Duration;

const NOTION: &str = r#"{"token":"ntn_batching_000000000000000000000000"}"#;

fn record(id: &str) -> NewEvent {
    NewEvent {
        aggregate_type: "usage",
        aggregate_id: id.to_owned(),
        event_type: "BatchingProbe".into(),
        event_version: "1".into(),
        payload: "{}".into(),
        metadata: crate::support::EVENT_METADATA.into(),
    }
}

on_both_backends!(commands_and_appends_are_counted_only_until_they_are_written);
async fn commands_and_appends_are_counted_only_until_they_are_written(env: TestEnv) {
    let ledger = env.ledger().await;
    let writer = ledger.appender();
    assert_eq!(writer.counts(), (0, 0));

    // A command counted as deciding its events stops counting once the writer has them, and
    // its append stops counting once it is committed.
    let deciding = writer.deciding();
    assert_eq!(writer.counts(), (1, 0));
    let positions = writer
        .append_decided(0, vec![record("probe-1")], Some(deciding))
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(writer.counts(), (0, 0));

    // Commands that commit, that the domain refuses, and that lose a race leave no count
    // behind (a count left behind would make every later group wait for nothing).
    let id = register(&ledger, "alice", "notion", "work", NOTION)
        .await
        .unwrap();
    let refused = register(&ledger, "alice", "notion", "work", NOTION).await;
    assert!(refused.is_err(), "a second credential named `work`");
    ledger.projections.catch_up().await.unwrap();
    let renames = (0..8).map(|i| {
        let ledger = ledger.clone();
        async move {
            let name = format!("work-{i}");
            ledger
                .update(&id.to_string(), Some(&name), None, &meta("alice"))
                .await
        }
    });
    let outcomes = futures::future::join_all(renames).await;
    assert!(outcomes.iter().any(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(writer.counts(), (0, 0));
}

on_both_backends!(a_wake_up_about_events_already_read_is_skipped);
async fn a_wake_up_about_events_already_read_is_skipped(env: TestEnv) {
    let ledger = env.ledger().await;
    let db = &ledger.db;
    // Long poll: only a signal or a notification ends a wait here.
    let mut waker = FeedWaker::new(db, Duration::from_secs(60)).await;
    let quiet = Duration::from_millis(500);

    // This process's own signal says which position it is about.
    let p = ledger.appender().append(record("probe-1")).await.unwrap();
    assert!(
        tokio::time::timeout(quiet, waker.wait_beyond(p))
            .await
            .is_err(),
        "woken for position {p}, already read"
    );
    let q = ledger.appender().append(record("probe-2")).await.unwrap();
    assert!(q > p);
    let told = tokio::time::timeout(Duration::from_secs(10), waker.wait_beyond(p))
        .await
        .expect("not woken for a newer position");
    assert_eq!(told, Some(q), "the wake-up tells the position committed");

    if db.backend() != Backend::Postgres {
        return;
    }
    // Another process's commit arrives as a notification carrying its newest position.
    let other = env.ledger().await;
    let mut waker = FeedWaker::new(db, Duration::from_secs(60)).await;
    let r = other.appender().append(record("probe-3")).await.unwrap();
    assert!(
        tokio::time::timeout(quiet, waker.wait_beyond(r))
            .await
            .is_err(),
        "woken by a notification of position {r}, already read"
    );
    let s = other.appender().append(record("probe-4")).await.unwrap();
    let told = tokio::time::timeout(Duration::from_secs(10), waker.wait_beyond(r))
        .await
        .expect("not woken by the notification of a newer position");
    assert_eq!(
        told,
        Some(s),
        "the notification tells the position committed"
    );
}

on_both_backends!(a_server_registered_by_another_process_is_seen_by_the_next_batch);
async fn a_server_registered_by_another_process_is_seen_by_the_next_batch(env: TestEnv) {
    use credledger::mcp::{McpServers, NewMcpServer};
    let here = env.ledger().await;
    let elsewhere = env.ledger().await;

    // Here: a batch without any MCP server, so this process knows there is none.
    register(&here, "alice", "notion", "first", NOTION)
        .await
        .unwrap();
    here.projections.catch_up().await.unwrap();

    // Elsewhere: a server for everyone's Notion credentials, applied by that process.
    McpServers::new(elsewhere.clone())
        .with_outbound(env.settings().outbound)
        .register(
            NewMcpServer {
                server_id: "gw".into(),
                name: "gateway".into(),
                base_url: "http://127.0.0.1:9".into(),
                allowed_services: vec!["notion".into()],
                serves_all_users: true,
            },
            credledger::mcp::Authority::Operator,
            &meta("root"),
        )
        .await
        .unwrap();
    elsewhere.projections.catch_up().await.unwrap();

    // Here again: the next credential must be mirrored to that server.
    let second = register(
        &here,
        "alice",
        "notion",
        "second",
        r#"{"token":"ntn_batching_111111111111111111111111"}"#,
    )
    .await
    .unwrap();
    here.projections.catch_up().await.unwrap();
    let pool = env.any_pool().await;
    let mirrored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mcp_sync WHERE server_id = 'gw' AND credential_id = $1",
    )
    .bind(second.to_string())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        mirrored, 1,
        "the second credential has no copy queued for gw"
    );
}

/// Registers alice's Notion credential "work", checked valid, and applies it to the read models.
async fn register_work(ledger: &Ledger) -> String {
    let id = crate::support::register_with(
        ledger,
        "alice",
        "notion",
        "work",
        NOTION,
        Some(crate::support::valid("acct-work")),
        &meta("alice"),
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    id.to_string()
}

/// Records use `i` of alice's "work" credential by an MCP server's tool.
async fn use_work(ledger: &Ledger, i: usize) {
    ledger
        .resolve(
            "alice",
            "notion",
            Some("work"),
            "mcp:test",
            Some(format!("tool-{i}")),
            &meta("mcp:test"),
        )
        .await
        .unwrap();
}

/// The uses of the credential `id` as each read model counts them: its use count, the uses per
/// service and day, the audit trail's entries.
async fn uses_counted(env: &TestEnv, id: &str) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT \
           (SELECT CAST(use_count AS BIGINT) FROM credential_summary WHERE credential_id = $1), \
           (SELECT CAST(SUM(uses) AS BIGINT) FROM usage_by_service WHERE service = 'notion'), \
           (SELECT COUNT(*) FROM audit_trail WHERE aggregate_type = 'credential_usage')",
    )
    .bind(id)
    .fetch_one(&env.any_pool().await)
    .await
    .unwrap()
}

on_both_backends!(two_processes_applying_the_same_read_models_apply_each_event_once);
/// Two processes apply the same read models over one database while uses are recorded in
/// both: each batch is applied by one of them, once (a batch applied twice would count its
/// uses twice; a batch skipped would leave them uncounted).
async fn two_processes_applying_the_same_read_models_apply_each_event_once(env: TestEnv) {
    let here = env.ledger().await;
    let elsewhere = env.ledger().await;
    let id = register_work(&here).await;

    const USES: usize = 120;
    let uses = (0..USES).map(|i| use_work(if i % 2 == 0 { &here } else { &elsewhere }, i));
    // Both processes keep applying batches while the uses come in.
    let (done, finished) = tokio::sync::watch::channel(false);
    let apply = |ledger: std::sync::Arc<Ledger>| {
        let mut finished = finished.clone();
        async move {
            while !*finished.borrow_and_update() {
                ledger.projections.catch_up().await.unwrap();
                tokio::select! {
                    _ = finished.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
            }
        }
    };
    let appliers = futures::future::join(apply(here.clone()), apply(elsewhere.clone()));
    let recorded = async {
        futures::future::join_all(uses).await;
        done.send(true).unwrap();
    };
    futures::future::join(appliers, recorded).await;
    here.projections.catch_up().await.unwrap();
    elsewhere.projections.catch_up().await.unwrap();

    let uses = USES as i64;
    assert_eq!(
        uses_counted(&env, &id).await,
        (uses, uses, uses),
        "uses in credential_summary, usage_by_service and the audit trail"
    );
}

on_both_backends!(a_process_that_saw_none_of_the_feed_catches_up_on_more_than_a_batch_once);
/// The runner reads the feed a batch (1,000 events) at a time, once for all the read models.
/// Here one process applied the first uses and another, which saw none of them, catches up on
/// them and on more than a batch more: what the first applied is not applied again, the rest
/// is applied to the end, once.
async fn a_process_that_saw_none_of_the_feed_catches_up_on_more_than_a_batch_once(env: TestEnv) {
    let here = env.ledger().await;
    let elsewhere = env.ledger().await;
    let id = register_work(&here).await;
    futures::future::join_all((0..1_200).map(|i| use_work(&here, i))).await;
    here.projections.catch_up().await.unwrap();
    futures::future::join_all((1_200..2_500).map(|i| use_work(&here, i))).await;
    let head = elsewhere.projections.catch_up().await.unwrap();

    for status in elsewhere.projections.status().await.unwrap() {
        assert_eq!(status.position, head, "{} is not at the head", status.name);
    }
    assert_eq!(
        uses_counted(&env, &id).await,
        (2_500, 2_500, 2_500),
        "uses in credential_summary, usage_by_service and the audit trail"
    );
}

/// A read model's batch looks its rows up by the ids its events name, in tables that grow from
/// empty while a connection lives. PostgreSQL would keep the plan it made for a statement's
/// first runs (a whole-table scan while the table was small) for as long as the connection
/// lives; each batch's statements are planned for the table as it is instead (see
/// `BATCH_SETTINGS` in `projections/src/runner.rs`). What is checked is each connection's own
/// count of the plans it used for `mcp_sync`'s lookup of the batch's credentials.
#[tokio::test]
async fn a_read_models_batches_are_planned_for_their_tables_as_they_are() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let mut settings = env.settings();
    settings.read_your_writes_ms = 0;
    // The fewest connections a ledger opens for its read models (two): both are looked at below.
    settings.db_connections = 1;
    let ledger = credledger::app::open_ledger(&settings, credledger::keys::IfMissing::Fail)
        .await
        .unwrap();
    // One credential a batch: the lookup is the same statement (one id) every time.
    for i in 0..20 {
        register(&ledger, "alice", "notion", &format!("Account {i}"), NOTION)
            .await
            .unwrap();
        ledger.projections.catch_up().await.unwrap();
    }

    let (mut generic, mut custom) = (0i64, 0i64);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = ledger.db.any.acquire().await.unwrap();
        let (g, c): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(generic_plans), 0) AS BIGINT), \
               CAST(COALESCE(SUM(custom_plans), 0) AS BIGINT) \
             FROM pg_prepared_statements \
             WHERE statement LIKE '%FROM mcp_credentials WHERE credential_id IN%' \
               AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        (generic, custom) = (generic + g, custom + c);
        // Held, so that the next one is the other connection.
        held.push(conn);
    }
    assert!(
        generic + custom >= 20,
        "every batch looked its credential up ({} lookups found)",
        generic + custom
    );
    assert_eq!(generic, 0, "no batch used a plan kept from an earlier one");
}
