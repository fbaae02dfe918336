//! The event-store contract: one suite, every scenario on SQLite and on PostgreSQL. Ordering,
//! gap-free global positions, optimistic concurrency, append-only storage, the hash chain, the
//! feed reader and event metadata — the guarantees every consumer of the ledger relies on.

use crate::on_both_backends;
use crate::support::{keyring_id, meta, new_id, register, valid, TestEnv};
use credledger::{Ledger, LedgerError, NewCredential};
use credledger_adapters::chain::{ChainVerifier, GENESIS};
use credledger_adapters::feed::{read_after, read_stream, FeedEvent};
use credledger_adapters::Backend;
use credledger_domain::keyring::{KeyringError, KeyringEvent, ValidationOutcome};
use credledger_domain::{CredentialId, CredentialName, EventMetadata};
use sqlx::error::ErrorKind;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// helpers

/// Every event of the ledger, in feed order.
async fn all_events(pool: &AnyPool) -> Vec<FeedEvent> {
    read_after(pool, 0, 1_000_000).await.unwrap()
}

async fn head(ledger: &Ledger) -> i64 {
    ledger.db.head().await.unwrap()
}

fn types(events: &[FeedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

fn positions(events: &[FeedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.position).collect()
}

/// `INSERT` of one event row; PostgreSQL's payload and metadata columns are `json`.
fn insert_event_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ($1, $2, $3, $4, '1', CAST($5 AS json), \
             CAST($6 AS json))"
        }
        Backend::Sqlite => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ($1, $2, $3, $4, '1', $5, $6)"
        }
    }
}

fn unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}

/// A fresh metadata value whose time survives the storage round trip (microseconds).
fn meta_from(actor: &str, ip: &str, user_agent: &str) -> EventMetadata {
    let now = chrono::Utc::now();
    EventMetadata {
        actor: actor.into(),
        occurred_at: chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: Some(ip.into()),
        user_agent: Some(user_agent.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) order

async fn appended_events_read_back_in_order_from_their_stream_and_from_the_gapless_feed(
    env: TestEnv,
) {
    let ledger = env.ledger().await;
    let alice = keyring_id("alice", "notion");
    let work = new_id();
    ledger
        .register(
            NewCredential {
                user_id: "alice",
                service: "notion",
                name: "Work",
                fields_json: br#"{"token":"t-work"}"#,
                metadata: BTreeMap::new(),
                validation: Some(valid("acct-work")),
            },
            work,
            &meta("alice"),
        )
        .await
        .unwrap();
    let bob = register(&ledger, "bob", "todoist", "Main", r#"{"token":"t-bob"}"#)
        .await
        .unwrap();
    let home = register(&ledger, "alice", "notion", "Home", r#"{"token":"t-home"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger
        .update(&home.to_string(), Some("House"), None, &meta("alice"))
        .await
        .unwrap();
    ledger
        .revoke(&bob.to_string(), Some("rotated".into()), &meta("bob"))
        .await
        .unwrap();

    let stream = read_stream(&ledger.db, "keyring", &alice.to_string())
        .await
        .unwrap();
    assert_eq!(
        types(&stream),
        [
            "CredentialRegistered",
            "CredentialValidated",
            "PrimaryCredentialChanged",
            "CredentialRegistered",
            "CredentialRenamed",
        ]
    );
    assert_eq!(
        stream.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    // The stream's events are the payloads the commands produced, in command order.
    let decoded: Vec<KeyringEvent> = stream
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert!(
        matches!(&decoded[0], KeyringEvent::CredentialRegistered { credential_id, name, .. }
        if *credential_id == work && name.as_str() == "Work")
    );
    assert!(
        matches!(&decoded[3], KeyringEvent::CredentialRegistered { credential_id, .. } if *credential_id == home)
    );
    assert!(
        matches!(&decoded[4], KeyringEvent::CredentialRenamed { credential_id, old_name, new_name }
        if *credential_id == home && old_name.as_str() == "Home" && new_name.as_str() == "House")
    );

    let bob_stream = read_stream(&ledger.db, "keyring", "bob:todoist")
        .await
        .unwrap();
    assert_eq!(
        types(&bob_stream),
        ["CredentialRegistered", "CredentialRevoked"]
    );

    // The global feed: every event once, positions 1..=N without a gap, in commit order.
    let feed = all_events(&ledger.db.any).await;
    assert_eq!(positions(&feed), (1..=7).collect::<Vec<_>>());
    assert_eq!(head(&ledger).await, 7);
    assert_eq!(
        feed.iter()
            .map(|e| (e.aggregate_id.as_str(), e.event_type.as_str()))
            .collect::<Vec<_>>(),
        [
            ("alice:notion", "CredentialRegistered"),
            ("alice:notion", "CredentialValidated"),
            ("alice:notion", "PrimaryCredentialChanged"),
            ("bob:todoist", "CredentialRegistered"),
            ("alice:notion", "CredentialRegistered"),
            ("alice:notion", "CredentialRenamed"),
            ("bob:todoist", "CredentialRevoked"),
        ]
    );
    // The stream reader and the feed reader return the same rows.
    let from_feed: Vec<&FeedEvent> = feed
        .iter()
        .filter(|e| e.aggregate_id == "alice:notion")
        .collect();
    assert_eq!(from_feed, stream.iter().collect::<Vec<_>>());
}

on_both_backends!(appended_events_read_back_in_order_from_their_stream_and_from_the_gapless_feed);

// ---------------------------------------------------------------------------------------------
// (b) racing commands on one keyring

async fn concurrent_renames_of_different_credentials_in_one_keyring_all_land(env: TestEnv) {
    const CREDENTIALS: usize = 6;
    const ROUNDS: usize = 5;
    let ledger = env.ledger().await;
    let mut ids = Vec::new();
    for i in 0..CREDENTIALS {
        let id = register(
            &ledger,
            "alice",
            "notion",
            &format!("cred-{i}"),
            r#"{"token":"t"}"#,
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ledger.projections.catch_up().await.unwrap();

    let barrier = Arc::new(Barrier::new(CREDENTIALS));
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().copied().enumerate() {
        let (ledger, barrier) = (ledger.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let name = format!("cred-{i}-round-{round}");
                let result = ledger
                    .update(&id.to_string(), Some(&name), None, &meta("alice"))
                    .await;
                outcomes.push((name, result));
            }
            outcomes
        }));
    }
    let mut landed = 0;
    let mut expected_names = BTreeMap::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let mut name = format!("cred-{i}");
        for (new_name, result) in task.await.unwrap() {
            match result {
                Ok(_) => {
                    landed += 1;
                    name = new_name;
                }
                // Refused after the bounded retries: acceptable, as long as nothing was written.
                Err(LedgerError::Conflict) => {}
                Err(e) => panic!("a rename failed with {e:?}"),
            }
        }
        expected_names.insert(ids[i], name);
    }
    assert!(landed > 0, "no rename landed at all");

    // No lost update: every successful rename is one event, and the state shows the last one.
    let stream = read_stream(&ledger.db, "keyring", "alice:notion")
        .await
        .unwrap();
    let renamed = stream
        .iter()
        .filter(|e| e.event_type == "CredentialRenamed")
        .count();
    assert_eq!(renamed, landed);
    let state = ledger
        .keyring(&keyring_id("alice", "notion"))
        .await
        .unwrap();
    let names: BTreeMap<CredentialId, String> = state
        .credentials()
        .map(|c| (c.id, c.name.to_string()))
        .collect();
    assert_eq!(names, expected_names);
    // The read model agrees once caught up.
    ledger.projections.catch_up().await.unwrap();
    for (id, name) in &expected_names {
        let row = sqlx::query("SELECT name FROM credential_summary WHERE credential_id = $1")
            .bind(id.to_string())
            .fetch_one(&ledger.db.any)
            .await
            .unwrap();
        assert_eq!(&row.get::<String, _>("name"), name);
    }
}

on_both_backends!(concurrent_renames_of_different_credentials_in_one_keyring_all_land);

async fn concurrent_registrations_of_one_name_leave_exactly_one_credential_and_conflicts(
    env: TestEnv,
) {
    const RACERS: usize = 8;
    let ledger = env.ledger().await;
    let keyring = keyring_id("carol", "notion");
    for round in 0..3 {
        let name = format!("Shared {round}");
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for _ in 0..RACERS {
            let (ledger, barrier, name) = (ledger.clone(), barrier.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let id = new_id();
                (
                    id,
                    register(&ledger, "carol", "notion", &name, r#"{"token":"t"}"#).await,
                )
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (_, result) = task.await.unwrap();
            match result {
                Ok(id) => winners.push(id),
                Err(e) => {
                    assert_eq!(e.code(), "CONFLICT", "a losing registration said {e:?}");
                    assert!(
                        matches!(
                            e,
                            LedgerError::Conflict | LedgerError::Rule(KeyringError::NameTaken(_))
                        ),
                        "{e:?}"
                    );
                }
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let state = ledger.keyring(&keyring).await.unwrap();
        let holders: Vec<CredentialId> = state
            .credentials()
            .filter(|c| c.name.as_str() == name)
            .map(|c| c.id)
            .collect();
        assert_eq!(holders, winners);
    }
    let stream = read_stream(&ledger.db, "keyring", "carol:notion")
        .await
        .unwrap();
    assert_eq!(types(&stream), ["CredentialRegistered"; 3]);
}

on_both_backends!(concurrent_registrations_of_one_name_leave_exactly_one_credential_and_conflicts);

async fn concurrent_registrations_on_a_single_account_service_leave_exactly_one(env: TestEnv) {
    const RACERS: usize = 8;
    let ledger = env.ledger().await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (ledger, barrier) = (ledger.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            register(
                &ledger,
                "dave",
                "openai",
                &format!("Key {i}"),
                r#"{"api_key":"sk-test"}"#,
            )
            .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), "CONFLICT", "{e:?}");
                assert!(
                    matches!(
                        e,
                        LedgerError::Conflict
                            | LedgerError::Rule(KeyringError::MultiAccountNotSupported(_))
                    ),
                    "{e:?}"
                );
            }
        }
    }
    assert_eq!(ok, 1);
    let state = ledger.keyring(&keyring_id("dave", "openai")).await.unwrap();
    assert_eq!(state.credentials().count(), 1);
}

on_both_backends!(concurrent_registrations_on_a_single_account_service_leave_exactly_one);

// ---------------------------------------------------------------------------------------------
// (c) the database refuses a second event at a stream position

async fn an_insert_reusing_a_stream_sequence_is_refused_by_the_database_and_changes_nothing(
    env: TestEnv,
) {
    let ledger = env.ledger().await;
    register(&ledger, "alice", "notion", "Work", r#"{"token":"t"}"#)
        .await
        .unwrap();
    let before = all_events(&ledger.db.any).await;
    let pool = env.any_pool().await;
    let err = sqlx::query(insert_event_sql(env.backend))
        .bind("keyring")
        .bind("alice:notion")
        .bind(1i64)
        .bind("CredentialRenamed")
        .bind("{}")
        .bind("{}")
        .execute(&pool)
        .await
        .expect_err("a second event at sequence 1 was stored");
    assert!(unique_violation(&err), "not a unique violation: {err:?}");
    // The event store reads exactly this error as an optimistic-concurrency conflict.
    let code = match &err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let expected = match env.backend {
        Backend::Postgres => "23505", // postgres-es: unique violation → AggregateConflict
        Backend::Sqlite => "1555",    // sqlite-es: SQLITE_CONSTRAINT_PRIMARYKEY → OptimisticLock
    };
    assert_eq!(code.as_deref(), Some(expected));
    // The same (type, id, sequence) in another aggregate type is a different stream: allowed.
    sqlx::query(insert_event_sql(env.backend))
        .bind("test_probe")
        .bind("alice:notion")
        .bind(1i64)
        .bind("Probe")
        .bind("{}")
        .bind("{}")
        .execute(&pool)
        .await
        .unwrap();
    let after = all_events(&ledger.db.any).await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(
        positions(&after),
        (1..=before.len() as i64 + 1).collect::<Vec<_>>()
    );
    assert_eq!(after.last().unwrap().aggregate_type, "test_probe");
    pool.close().await;
}

on_both_backends!(
    an_insert_reusing_a_stream_sequence_is_refused_by_the_database_and_changes_nothing
);

/// A command decides against the stream as it was; meanwhile another writer commits the next
/// sequence. The database refuses the command's insert, the event store reports a conflict, and
/// the command bus retries it against the new state: the command succeeds and nothing is lost.
async fn a_command_that_loses_the_race_for_a_sequence_is_retried_against_the_new_state(
    env: TestEnv,
) {
    let ledger = env.ledger().await;
    let id = register(&ledger, "alice", "notion", "Work", r#"{"token":"t"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let next_sequence = read_stream(&ledger.db, "keyring", "alice:notion")
        .await
        .unwrap()
        .len() as i64
        + 1;

    // Another writer takes the next sequence (a valid rename Work → Raw) and holds it uncommitted.
    let raw_event = KeyringEvent::CredentialRenamed {
        credential_id: id,
        old_name: CredentialName::parse("Work").unwrap(),
        new_name: CredentialName::parse("Raw").unwrap(),
    };
    let raw_meta = meta("other-writer");
    let pool = env.any_pool().await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(insert_event_sql(env.backend))
        .bind("keyring")
        .bind("alice:notion")
        .bind(next_sequence)
        .bind("CredentialRenamed")
        .bind(serde_json::to_string(&raw_event).unwrap())
        .bind(serde_json::to_string(&raw_meta.to_map()).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();

    // The command loads the committed stream (without the row above), decides Work → Ledger
    // and blocks on its insert of the same sequence until the other writer finishes.
    let command = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            ledger
                .update(&id.to_string(), Some("Ledger"), None, &meta("alice"))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !command.is_finished(),
        "the command did not wait for the open transaction"
    );
    tx.commit().await.unwrap();
    command.await.unwrap().unwrap();

    let stream = read_stream(&ledger.db, "keyring", "alice:notion")
        .await
        .unwrap();
    let decoded: Vec<KeyringEvent> = stream
        .iter()
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert_eq!(decoded.len() as i64, next_sequence + 1);
    assert_eq!(decoded[next_sequence as usize - 1], raw_event);
    // Re-decided against the new state: the rename starts from the other writer's name.
    assert!(
        matches!(&decoded[next_sequence as usize], KeyringEvent::CredentialRenamed { old_name, new_name, .. }
            if old_name.as_str() == "Raw" && new_name.as_str() == "Ledger"),
        "{:?}",
        decoded.last()
    );
    let state = ledger
        .keyring(&keyring_id("alice", "notion"))
        .await
        .unwrap();
    assert_eq!(state.credential(id).unwrap().name.as_str(), "Ledger");
    let feed = all_events(&ledger.db.any).await;
    assert_eq!(
        positions(&feed),
        (1..=feed.len() as i64).collect::<Vec<_>>()
    );
    pool.close().await;
}

on_both_backends!(a_command_that_loses_the_race_for_a_sequence_is_retried_against_the_new_state);

// ---------------------------------------------------------------------------------------------
// (d) append-only

async fn updates_deletes_and_truncates_of_events_are_refused_and_change_nothing(env: TestEnv) {
    let ledger = env.ledger().await;
    let id = register(&ledger, "alice", "notion", "Work", r#"{"token":"t"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger.erase(&id.to_string(), &meta("alice")).await.unwrap();
    let before = all_events(&ledger.db.any).await;
    assert_eq!(before.len(), 2);

    let mut statements = vec![
        "UPDATE events SET event_type = 'Tampered'",
        "UPDATE events SET aggregate_id = 'mallory:notion' WHERE global_position = 1",
        "UPDATE events SET sequence = sequence + 10",
        "UPDATE events SET metadata = '{}' WHERE global_position = 2",
        "UPDATE events SET payload = '{}' WHERE global_position = 2",
        "UPDATE events SET global_position = global_position + 100",
        "DELETE FROM events WHERE global_position = 2",
        "DELETE FROM events",
    ];
    match env.backend {
        Backend::Postgres => statements.extend([
            "UPDATE events SET hash = decode(repeat('00', 32), 'hex')",
            "UPDATE events SET prev_hash = hash",
            "TRUNCATE events",
            "TRUNCATE events CASCADE",
        ]),
        Backend::Sqlite => statements.extend([
            "UPDATE events SET hash = zeroblob(32)",
            "UPDATE events SET prev_hash = hash",
            "UPDATE events SET hash = NULL",
        ]),
    }
    let pool = env.any_pool().await;
    for statement in statements {
        let err = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: refused for another reason: {err}"
        );
    }
    assert_eq!(all_events(&ledger.db.any).await, before);
    pool.close().await;
}

on_both_backends!(updates_deletes_and_truncates_of_events_are_refused_and_change_nothing);

// ---------------------------------------------------------------------------------------------
// (e) hash chain

/// A ledger with a bit of everything: registrations, validation, rename, reveal (usage stream),
/// revocation, erasure.
async fn varied_history(ledger: &Ledger) -> Vec<CredentialId> {
    let a = register(ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap();
    let b = register(ledger, "alice", "notion", "Home", r#"{"token":"t-2"}"#)
        .await
        .unwrap();
    let c = register(
        ledger,
        "bob",
        "jira",
        "Jira",
        r#"{"url":"https://x.atlassian.net","email":"b@x.io","api_token":"j"}"#,
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger
        .record_validation(&a.to_string(), 1, valid("acct-a"), &meta("system"))
        .await
        .unwrap();
    ledger
        .record_validation(&b.to_string(), 1, valid("acct-b"), &meta("system"))
        .await
        .unwrap();
    ledger
        .update(&b.to_string(), Some("House"), None, &meta("alice"))
        .await
        .unwrap();
    ledger
        .reveal("alice", &a.to_string(), &meta("alice"))
        .await
        .unwrap();
    ledger
        .replace_secret(
            &c.to_string(),
            br#"{"url":"https://x.atlassian.net","email":"b@x.io","api_token":"j2"}"#,
            Some(ValidationOutcome::Invalid {
                message: "401".into(),
            }),
            &meta("bob"),
        )
        .await
        .unwrap();
    ledger
        .revoke(&a.to_string(), None, &meta("alice"))
        .await
        .unwrap();
    ledger.erase(&b.to_string(), &meta("alice")).await.unwrap();
    vec![a, b, c]
}

async fn an_untouched_ledger_verifies_and_each_event_links_to_the_one_before(env: TestEnv) {
    let ledger = env.ledger().await;
    varied_history(&ledger).await;
    let feed = all_events(&ledger.db.any).await;
    assert!(feed.len() >= 12, "{}", feed.len());
    assert!(feed.iter().any(|e| e.aggregate_type == "credential_usage"));
    assert!(feed.iter().any(|e| e.event_type == "CredentialErased"));

    assert_eq!(feed[0].prev_hash, GENESIS.to_vec());
    assert_eq!(feed[0].prev_hash.len(), 32);
    for pair in feed.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "at {}", pair[1].position);
    }
    let mut verifier = ChainVerifier::default();
    for e in &feed {
        assert_eq!(e.hash.len(), 32);
        verifier
            .check(&e.chain_input(), &e.hash)
            .unwrap_or_else(|err| panic!("{err}"));
    }
    assert_eq!(verifier.verified(), head(&ledger).await);

    // The verifier is not vacuous: the same rows with one byte of payload changed do not verify.
    let mut forged = feed.clone();
    forged[3].payload = forged[3].payload.replacen('"', "'", 1);
    let mut verifier = ChainVerifier::default();
    let first_bad = forged
        .iter()
        .find_map(|e| verifier.check(&e.chain_input(), &e.hash).err());
    assert_eq!(first_bad.map(|e| e.position()), Some(forged[3].position));
}

on_both_backends!(an_untouched_ledger_verifies_and_each_event_links_to_the_one_before);

// ---------------------------------------------------------------------------------------------
// (f) paging

async fn the_feed_reader_returns_every_event_exactly_once_in_order_at_any_page_size(env: TestEnv) {
    let ledger = env.ledger().await;
    varied_history(&ledger).await;
    for i in 0..6 {
        register(
            &ledger,
            &format!("user{i}"),
            "todoist",
            "Main",
            r#"{"token":"t"}"#,
        )
        .await
        .unwrap();
    }
    let everything = all_events(&ledger.db.any).await;
    let head = head(&ledger).await;
    assert_eq!(positions(&everything), (1..=head).collect::<Vec<_>>());

    for limit in [1i64, 2, 3, 5, 7, head - 1, head, head + 1, 1000] {
        let mut after = 0;
        let mut pages = 0;
        let mut read = Vec::new();
        loop {
            let page = read_after(&ledger.db.any, after, limit).await.unwrap();
            assert!(page.len() as i64 <= limit);
            let Some(last) = page.last() else { break };
            after = last.position;
            pages += 1;
            read.extend(page);
            assert!(pages <= head + 1, "the reader does not advance");
        }
        assert_eq!(read, everything, "page size {limit}");
    }
    // From the middle, and past the end.
    let tail = read_after(&ledger.db.any, head - 3, 100).await.unwrap();
    assert_eq!(positions(&tail), [head - 2, head - 1, head]);
    assert!(read_after(&ledger.db.any, head, 100)
        .await
        .unwrap()
        .is_empty());
}

on_both_backends!(the_feed_reader_returns_every_event_exactly_once_in_order_at_any_page_size);

// ---------------------------------------------------------------------------------------------
// (g) rollback

async fn a_rolled_back_event_insert_leaves_no_gap_in_global_positions(env: TestEnv) {
    let ledger = env.ledger().await;
    register(&ledger, "alice", "notion", "Work", r#"{"token":"t"}"#)
        .await
        .unwrap();
    let before = head(&ledger).await;
    let pool = env.any_pool().await;
    for attempt in 0..3 {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(insert_event_sql(env.backend))
            .bind("test_probe")
            .bind(format!("rolled-back-{attempt}"))
            .bind(1i64)
            .bind("Probe")
            .bind("{}")
            .bind("{}")
            .execute(&mut *tx)
            .await
            .unwrap();
        // The row had its position inside the transaction…
        let row = sqlx::query(
            "SELECT global_position FROM events WHERE aggregate_type = 'test_probe' \
             AND aggregate_id = $1",
        )
        .bind(format!("rolled-back-{attempt}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(row.get::<i64, _>("global_position"), before + 1);
        tx.rollback().await.unwrap();
    }
    // …and after the rollbacks the next event takes that very position.
    register(&ledger, "bob", "notion", "Work", r#"{"token":"t"}"#)
        .await
        .unwrap();
    let feed = all_events(&ledger.db.any).await;
    assert_eq!(
        positions(&feed),
        (1..=feed.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(feed[before as usize].position, before + 1);
    assert_eq!(feed[before as usize].aggregate_id, "bob:notion");
    assert!(feed.iter().all(|e| e.aggregate_type != "test_probe"));
    let mut verifier = ChainVerifier::default();
    for e in &feed {
        verifier.check(&e.chain_input(), &e.hash).unwrap();
    }
    pool.close().await;
}

on_both_backends!(a_rolled_back_event_insert_leaves_no_gap_in_global_positions);

// ---------------------------------------------------------------------------------------------
// (h) metadata

async fn every_event_records_actor_time_request_id_ip_and_user_agent(env: TestEnv) {
    let ledger = env.ledger().await;
    let mut issued: HashMap<String, EventMetadata> = HashMap::new();
    let mut next = |actor: &str, n: u8| {
        let m = meta_from(actor, &format!("10.0.0.{n}"), &format!("agent/{n}"));
        issued.insert(m.request_id.clone(), m.clone());
        m
    };
    let id = new_id();
    ledger
        .register(
            NewCredential {
                user_id: "alice",
                service: "notion",
                name: "Work",
                fields_json: br#"{"token":"t"}"#,
                metadata: BTreeMap::from([("team".into(), "core".into())]),
                validation: Some(valid("acct-1")),
            },
            id,
            &next("alice", 1),
        )
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let s = id.to_string();
    ledger
        .update(&s, Some("Office"), None, &next("alice", 2))
        .await
        .unwrap();
    ledger
        .record_validation(
            &s,
            1,
            ValidationOutcome::CouldNotCheck {
                reason: "timeout".into(),
            },
            &next("scheduler", 3),
        )
        .await
        .unwrap();
    ledger.reveal("alice", &s, &next("alice", 4)).await.unwrap();
    ledger.erase(&s, &next("admin", 5)).await.unwrap();

    let feed = all_events(&ledger.db.any).await;
    assert_eq!(
        types(&feed),
        [
            "CredentialRegistered",
            "CredentialValidated",
            "PrimaryCredentialChanged",
            "CredentialRenamed",
            "ValidationInconclusive",
            "CredentialUsed",
            "CredentialErased",
            "PrimaryCredentialChanged",
        ]
    );
    let mut requests_seen = std::collections::BTreeSet::new();
    for e in &feed {
        let raw: HashMap<String, String> =
            serde_json::from_str(&e.metadata).unwrap_or_else(|err| {
                panic!("position {}: metadata {}: {err}", e.position, e.metadata)
            });
        for key in ["actor", "occurred_at", "request_id", "ip", "user_agent"] {
            assert!(
                raw.get(key).is_some_and(|v| !v.is_empty()),
                "position {} lacks {key}: {raw:?}",
                e.position
            );
        }
        let stored = e.metadata().unwrap();
        let expected = issued
            .get(&stored.request_id)
            .unwrap_or_else(|| panic!("unknown request id at {}", e.position));
        assert_eq!(&stored, expected, "position {}", e.position);
        requests_seen.insert(stored.request_id);
    }
    assert_eq!(requests_seen.len(), issued.len());
}

on_both_backends!(every_event_records_actor_time_request_id_ip_and_user_agent);
