//! A read model that cannot go on (an event this binary cannot read, as a newer instance may
//! write in a rolling upgrade) stops only itself: the others keep applying the feed, commands
//! are answered, and the service starts (ADR 0005).

use crate::on_both_backends;
use crate::support::{eventually, meta, register, TestEnv};
use credledger_adapters::Backend;
use credledger_projections::{ProjectionError, READ_MODELS};
use serde_json::json;
use sqlx::AnyPool;
use std::time::Duration;

/// Appends a `user` event whose payload no version of the domain can read; returns its
/// position. (Written as a newer binary would: straight into the table, the chain's trigger
/// filling in its hash.)
async fn append_unreadable_user_event(pool: &AnyPool, backend: Backend) -> i64 {
    let sql = match backend {
        Backend::Postgres => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('user', 'mallory', 1, 'UserRegistered', \
             '1', CAST($1 AS json), CAST($2 AS json))"
        }
        Backend::Sqlite => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('user', 'mallory', 1, 'UserRegistered', \
             '1', $1, $2)"
        }
    };
    sqlx::query(sql)
        .bind(json!({"UserRegisteredInAFutureVersion": {"email": 42}}).to_string())
        .bind(serde_json::to_string(&meta("mallory")).unwrap())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT MAX(global_position) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn a_read_model_that_cannot_read_an_event_stops_only_itself(env: TestEnv) {
    let ledger = env.ledger().await;
    register(&ledger, "alice", "notion", "Work", r#"{"token":"t-work"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let unreadable = append_unreadable_user_event(&ledger.db.any, env.backend).await;
    register(&ledger, "alice", "todoist", "Home", r#"{"token":"t-home"}"#)
        .await
        .unwrap();
    let head = ledger.db.head().await.unwrap();

    let error = ledger.projections.catch_up().await.unwrap_err();
    assert!(
        matches!(error, ProjectionError::BadEvent { position, .. } if position == unreadable),
        "{error}"
    );
    // The read models that read users' events stop just before it; every other one applied
    // the whole feed, the event after it included.
    for model in READ_MODELS {
        let checkpoint = ledger.projections.checkpoint(model).await.unwrap();
        let expected = match model.name() {
            "principals" | "audit_trail" => unreadable - 1,
            _ => head,
        };
        assert_eq!(checkpoint, expected, "{}", model.name());
    }
}
on_both_backends!(a_read_model_that_cannot_read_an_event_stops_only_itself);

/// An event whose metadata has no time is one the read models that read it cannot read: they
/// stop before it, saying what is missing, rather than recording a use on 1 January 1970 (as
/// they did); the others go on.
async fn an_event_whose_metadata_has_no_time_stops_its_readers_rather_than_dating_it_1970(
    env: TestEnv,
) {
    let ledger = env.ledger().await;
    let id = register(&ledger, "alice", "notion", "Work", r#"{"token":"t-work"}"#)
        .await
        .unwrap();
    ledger
        .reveal("alice", &id.to_string(), &meta("alice"))
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let pool = &ledger.db.any;
    let (stream, payload): (String, String) = sqlx::query_as(
        "SELECT aggregate_id, CAST(payload AS TEXT) FROM events \
         WHERE aggregate_type = 'credential_usage' ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let sql = match env.backend {
        Backend::Postgres => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('credential_usage', $1, 1, 'CredentialUsed', '1', \
             CAST($2 AS json), CAST($3 AS json))"
        }
        Backend::Sqlite => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('credential_usage', $1, 1, 'CredentialUsed', '1', \
             $2, $3)"
        }
    };
    sqlx::query(sql)
        .bind(format!("{stream}-copy"))
        .bind(payload)
        .bind(r#"{"actor":"alice","request_id":"r-1"}"#)
        .execute(pool)
        .await
        .unwrap();
    let undated: i64 = sqlx::query_scalar("SELECT MAX(global_position) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();

    let error = ledger.projections.catch_up().await.unwrap_err();
    assert!(
        matches!(&error, ProjectionError::BadEvent { position, detail }
            if *position == undated && detail.contains("occurred_at")),
        "{error}"
    );
    for model in READ_MODELS {
        let checkpoint = ledger.projections.checkpoint(model).await.unwrap();
        let expected = match model.name() {
            "credential_summary" | "usage_by_service" | "audit_trail" => undated - 1,
            _ => undated,
        };
        assert_eq!(checkpoint, expected, "{}", model.name());
    }
    let days: Vec<String> = sqlx::query_scalar("SELECT day FROM usage_by_service")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(!days.iter().any(|d| d.starts_with("1970")), "{days:?}");
}
on_both_backends!(an_event_whose_metadata_has_no_time_stops_its_readers_rather_than_dating_it_1970);

async fn the_service_starts_and_answers_with_a_read_model_stopped_by_an_event_it_cannot_read(
    env: TestEnv,
) {
    let first = env.server().await;
    let alice = first.user("alice").await;
    alice
        .add("notion", "Work", first.good_fields("notion", 0))
        .await;
    first.running.stop().await.unwrap();
    let ledger = env.ledger().await;
    append_unreadable_user_event(&ledger.db.any, env.backend).await;

    // Before, `serve` refused to start (its first catch-up failed) and, once running, the
    // first failing read model dropped the others' batches.
    let server = env.server().await;
    let alice = server.anonymous().with_auth(alice.auth.clone());
    let home = alice
        .add("todoist", "Home", server.good_fields("todoist", 0))
        .await;
    let data = alice.ok("{ credentials { id name } }", json!({})).await;
    let mut names: Vec<&str> = data["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Home", "Work"]);
    assert!(!home.is_empty());
    // The runner keeps every other read model going: each reaches the head.
    let projections = &server.running.ledger.projections;
    let head = server.running.ledger.db.head().await.unwrap();
    for model in READ_MODELS {
        if matches!(model.name(), "principals" | "audit_trail") {
            continue;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while projections.checkpoint(model).await.unwrap() < head {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} stayed behind",
                model.name()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // And it stops when asked, though one read model keeps failing.
    tokio::time::timeout(Duration::from_secs(10), server.running.stop())
        .await
        .expect("the server stops within 10 s")
        .unwrap();
}
on_both_backends!(
    the_service_starts_and_answers_with_a_read_model_stopped_by_an_event_it_cannot_read
);

/// A command does not wait for a read model stopped by an event it cannot read, which will
/// not move until a binary that reads it is deployed: each command would otherwise wait out
/// the whole read-your-writes limit (five minutes here) before answering.
async fn commands_do_not_wait_for_a_read_model_stopped_by_an_event_it_cannot_read(env: TestEnv) {
    // Alice signs up before the event (who may sign in is a read model it stops too).
    let first = env.server().await;
    let alice = first.user("alice").await;
    first.running.stop().await.unwrap();
    let ledger = env.ledger().await;
    append_unreadable_user_event(&ledger.db.any, env.backend).await;
    let server = env.server_with(|s| s.read_your_writes_ms = 300_000).await;
    let alice = server.anonymous().with_auth(alice.auth.clone());
    let projections = server.running.ledger.projections.clone();
    let audit_trail = READ_MODELS
        .into_iter()
        .find(|m| m.name() == "audit_trail")
        .unwrap();
    eventually("the runner finds audit_trail stopped", || {
        let projections = projections.clone();
        async move { projections.stopped(audit_trail) }
    })
    .await;

    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        let home = alice
            .add("todoist", "Home", server.good_fields("todoist", 0))
            .await;
        let data = alice.ok("{ credentials { id name } }", json!({})).await;
        (home, data)
    })
    .await;

    let (home, data) = answered.expect("answered without waiting for the stopped read model");
    assert_eq!(data["credentials"][0]["id"], json!(home));
    assert_eq!(data["credentials"][0]["name"], "Home");
    assert!(projections.stopped(audit_trail));
}
on_both_backends!(commands_do_not_wait_for_a_read_model_stopped_by_an_event_it_cannot_read);

/// A command committed while a read model cannot go on succeeds, and says the view is behind:
/// `mcp register` prints the signing secret it shows once and exits 0 (a script that took
/// exit 2 for a failure would throw the secret away, and registering again is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_shown_once_is_kept_when_the_read_models_cannot_catch_up_after_the_command() {
    let env = TestEnv::sqlite().await;
    let migrated = env.cli().arg("migrate").output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let pool = env.any_pool().await;
    sqlx::query(
        "CREATE TRIGGER planted_failure BEFORE INSERT ON audit_trail \
         BEGIN SELECT RAISE(ABORT, 'the read model cannot go on'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let out = env
        .cli()
        .args([
            "mcp",
            "register",
            "--id",
            "gw",
            "--name",
            "Gateway",
            "--url",
            "http://127.0.0.1:9",
            "--services",
            "notion",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.trim().starts_with("whsec_"), "the secret: {stdout}");
    assert!(
        stderr.contains("what this command committed is kept"),
        "{stderr}"
    );
}
