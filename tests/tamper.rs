//! Tampering with the stored ledger is caught by `credledger ledger verify`, which names the first
//! bad position exactly and needs no master key. Each tamper runs on a fresh ledger of its own,
//! so each is judged alone. Tampering goes around the append-only triggers the way a database
//! administrator could: PostgreSQL `session_replication_role = replica` on the tampering
//! connection, SQLite by dropping the triggers.

use crate::on_both_backends;
use crate::support::chain::{
    assert_fails_at, assert_verifies, verify_without_keys, verify_without_keys_expecting, Tamper,
};
use crate::support::{meta, valid, TestEnv};
use credledger::Ledger;
use credledger_adapters::chain::{event_hash, ChainInput, GENESIS};
use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::CredentialId;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

async fn register_as(
    ledger: &Ledger,
    actor: &str,
    user: &str,
    service: &str,
    name: &str,
    fields: &str,
    validation: Option<ValidationOutcome>,
) -> CredentialId {
    crate::support::register_with(
        ledger,
        user,
        service,
        name,
        fields,
        validation,
        &meta(actor),
    )
    .await
    .unwrap()
}

/// The ledger every tamper test starts from, and the position tampered with.
pub struct Built {
    pub ledger: Arc<Ledger>,
    pub pool: sqlx::AnyPool,
    pub head: i64,
    /// The position of alice's rename (well inside the ledger: events before and after it).
    pub k: i64,
}

/// A few dozen events, all through the ledger's use cases: several users and services,
/// validations (valid, invalid, inconclusive), renames, metadata, a replaced secret, a primary
/// chosen, reveals, a revocation and an erasure.
pub async fn build(env: &TestEnv) -> Built {
    let ledger = env.ledger().await;
    let l = &ledger;
    let work = register_as(
        l,
        "alice",
        "alice",
        "notion",
        "Work",
        r#"{"token":"secret_alice_work"}"#,
        Some(valid("alice-ws-1")),
    )
    .await;
    let side = register_as(
        l,
        "alice",
        "alice",
        "notion",
        "Side project",
        r#"{"token":"secret_alice_side"}"#,
        None,
    )
    .await;
    let jira = register_as(
        l,
        "bob",
        "bob",
        "jira",
        "Company Jira",
        r#"{"url":"https://bob.atlassian.example","email":"bob@example.test","api_token":"jira-bob"}"#,
        Some(valid("bob-jira")),
    )
    .await;
    let sentry = register_as(
        l,
        "bob",
        "bob",
        "sentry",
        "Errors",
        r#"{"token":"sntrys_bob","org_slug":"bob-org"}"#,
        None,
    )
    .await;
    let openai = register_as(
        l,
        "carol",
        "carol",
        "openai",
        "Default",
        r#"{"api_key":"sk-carol"}"#,
        Some(valid("carol-org")),
    )
    .await;
    let tasks = register_as(
        l,
        "carol",
        "carol",
        "todoist",
        "Tasks",
        r#"{"token":"todo-carol"}"#,
        None,
    )
    .await;
    l.projections.catch_up().await.unwrap();

    l.update(
        &work.to_string(),
        Some("Work (renamed)"),
        None,
        &meta("alice"),
    )
    .await
    .unwrap();
    let mut team = BTreeMap::new();
    team.insert("team".to_owned(), "platform".to_owned());
    l.update(&sentry.to_string(), None, Some(team), &meta("bob"))
        .await
        .unwrap();
    l.record_validation(
        &side.to_string(),
        1,
        valid("alice-ws-2"),
        &meta("scheduler"),
    )
    .await
    .unwrap();
    l.record_validation(
        &sentry.to_string(),
        1,
        ValidationOutcome::Invalid {
            message: "401 Unauthorized".into(),
        },
        &meta("scheduler"),
    )
    .await
    .unwrap();
    l.record_validation(
        &tasks.to_string(),
        1,
        ValidationOutcome::CouldNotCheck {
            reason: "timeout".into(),
        },
        &meta("scheduler"),
    )
    .await
    .unwrap();
    l.replace_secret(
        &tasks.to_string(),
        br#"{"token":"todo-carol-2"}"#,
        Some(valid("carol-todo")),
        &meta("carol"),
    )
    .await
    .unwrap();
    l.set_primary(&side.to_string(), &meta("alice"))
        .await
        .unwrap();
    l.reveal("alice", &work.to_string(), &meta("alice"))
        .await
        .unwrap();
    l.revoke(
        &jira.to_string(),
        Some("left the company".into()),
        &meta("admin"),
    )
    .await
    .unwrap();

    let mut daves = Vec::new();
    for (service, name, fields, account) in [
        (
            "gmail",
            "Mail",
            r#"{"access_token":"ya29.dave","refresh_token":"1//dave"}"#,
            "dave@example.test",
        ),
        (
            "google_calendar",
            "Calendar",
            r#"{"access_token":"ya29.dave-cal"}"#,
            "dave-cal",
        ),
        (
            "confluence",
            "Wiki",
            r#"{"url":"https://dave.atlassian.example","email":"dave@example.test","api_token":"conf-dave"}"#,
            "dave-wiki",
        ),
        (
            "anthropic",
            "Claude",
            r#"{"api_key":"sk-ant-dave"}"#,
            "dave-ant",
        ),
    ] {
        daves.push(
            register_as(
                l,
                "dave",
                "dave",
                service,
                name,
                fields,
                Some(valid(account)),
            )
            .await,
        );
    }
    for i in 0..3 {
        register_as(
            l,
            "erin",
            "erin",
            "notion",
            &format!("Workspace {i}"),
            &format!(r#"{{"token":"secret_erin_{i}"}}"#),
            Some(valid(&format!("erin-ws-{i}"))),
        )
        .await;
    }
    l.projections.catch_up().await.unwrap();
    l.update(
        &openai.to_string(),
        Some("Production"),
        None,
        &meta("carol"),
    )
    .await
    .unwrap();
    l.erase(&tasks.to_string(), &meta("carol")).await.unwrap();
    l.reveal("bob", &sentry.to_string(), &meta("bob"))
        .await
        .unwrap();
    l.revoke(&daves[1].to_string(), None, &meta("dave"))
        .await
        .unwrap();
    l.update(
        &daves[0].to_string(),
        Some("Personal mail"),
        None,
        &meta("dave"),
    )
    .await
    .unwrap();
    l.projections.catch_up().await.unwrap();

    let pool = env.any_pool().await;
    let head = ledger.db.head().await.unwrap();
    let k: i64 = sqlx::query(
        "SELECT global_position FROM events WHERE event_type = 'CredentialRenamed' \
         ORDER BY global_position LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .try_get("global_position")
    .unwrap();
    assert!(head >= 36, "a few dozen events expected, got {head}");
    assert!(
        k > 2 && k + 2 < head,
        "the rename must sit well inside the ledger: k={k}, head={head}"
    );
    Built {
        ledger,
        pool,
        head,
        k,
    }
}

async fn an_untouched_ledger_of_a_few_dozen_events_verifies_without_any_master_key(env: TestEnv) {
    let built = build(&env).await;
    assert_eq!(built.ledger.db.head().await.unwrap(), built.head);
    let verdict = verify_without_keys(&env);
    assert_verifies(&verdict, built.head);
    // The head hash printed is the newest row's stored hash (an anchor to keep elsewhere).
    let mut t = Tamper::open(&env, &built.pool).await;
    let newest = t.event(built.head).await;
    assert!(
        verdict.stdout.contains(&hex::encode(&newest.hash)),
        "{verdict:?}"
    );
}

async fn an_edited_payload_is_named_at_its_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.edit_json("payload", built.k, "Work (renamed)", "Work (forged)")
        .await;
    assert_fails_at(&verify_without_keys(&env), built.k);
}

async fn edited_metadata_alone_is_named_at_its_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let payload_before = t.text("payload", built.k).await;
    t.edit_json_any(
        "metadata",
        built.k,
        &[
            (r#""actor":"alice""#, r#""actor":"mallory""#),
            (r#""actor": "alice""#, r#""actor": "mallory""#),
        ],
    )
    .await;
    assert!(t.text("metadata", built.k).await.contains("mallory"));
    assert_eq!(t.text("payload", built.k).await, payload_before);
    assert_fails_at(&verify_without_keys(&env), built.k);
}

async fn a_deleted_event_is_named_at_the_missing_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    assert_eq!(
        t.exec("DELETE FROM events WHERE global_position = $1", built.k)
            .await,
        1
    );
    // Position k is the first bad one: it is missing (the next stored row is k + 1). The
    // verifier must name k, not the row where it noticed the gap.
    assert_fails_at(&verify_without_keys(&env), built.k);
}

async fn two_swapped_events_are_named_at_the_first_of_them(env: TestEnv) {
    let built = build(&env).await;
    let (k, next) = (built.k, built.k + 1);
    let mut t = Tamper::open(&env, &built.pool).await;
    // Through a temporary value, to get past the unique index on global_position.
    assert_eq!(
        t.exec(
            "UPDATE events SET global_position = -1 WHERE global_position = $1",
            k
        )
        .await,
        1
    );
    assert_eq!(
        t.exec(
            &format!("UPDATE events SET global_position = {k} WHERE global_position = $1"),
            next
        )
        .await,
        1
    );
    assert_eq!(
        t.exec(
            &format!("UPDATE events SET global_position = {next} WHERE global_position = $1"),
            -1
        )
        .await,
        1
    );
    assert_fails_at(&verify_without_keys(&env), k);
}

/// A plausible new event for the end of the ledger (a keyring nobody has).
pub fn forged<'a>(position: i64, prev_hash: &'a [u8]) -> ChainInput<'a> {
    ChainInput {
        position,
        prev_hash,
        aggregate_type: "keyring",
        aggregate_id: "mallory:notion",
        sequence: 1,
        event_type: "CredentialRenamed",
        event_version: "1",
        metadata: r#"{"actor":"mallory","request_id":"forged"}"#,
        payload: r#"{"CredentialRenamed":{"credential_id":"00000000-0000-4000-8000-000000000000","old_name":"a","new_name":"b"}}"#,
    }
}

async fn a_forged_event_with_a_made_up_hash_is_named_at_its_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let newest = t.event(built.head).await;
    // The right position and the right link to the newest event; only the hash is made up.
    let row = forged(built.head + 1, &newest.hash);
    t.insert(&row, &[0x5a; 32]).await;
    assert_fails_at(&verify_without_keys(&env), built.head + 1);
}

async fn a_forged_event_hashed_over_the_wrong_predecessor_is_named_at_its_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    // A branch from an earlier point: linked to the event before the newest one.
    let earlier = t.event(built.head - 1).await;
    let row = forged(built.head + 1, &earlier.hash);
    let hash = event_hash(&row);
    t.insert(&row, &hash).await;
    // The forged row is internally consistent: its own hash is right.
    let stored = t.event(built.head + 1).await;
    assert_eq!(event_hash(&stored.chain_input()).as_slice(), stored.hash);
    assert_fails_at(&verify_without_keys(&env), built.head + 1);
}

async fn an_edited_event_with_a_recomputed_hash_is_named_at_the_broken_link_after_it(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.edit_json("payload", built.k, "Work (renamed)", "Work (forged)")
        .await;
    let edited = t.event(built.k).await;
    let rehashed = event_hash(&edited.chain_input());
    t.set_hash(built.k, &rehashed).await;
    // Position k now checks out on its own; its successor no longer links to it.
    assert_fails_at(&verify_without_keys(&env), built.k + 1);
}

/// A known limit of a hash chain without an external anchor: removing the newest events leaves a
/// shorter, valid chain. Verify passes, but the head hash it prints changes — which is why it
/// prints it (compare it with a copy kept elsewhere).
async fn removing_the_newest_event_passes_verify_but_changes_the_printed_head_hash(env: TestEnv) {
    let built = build(&env).await;
    let before = verify_without_keys(&env);
    assert_verifies(&before, built.head);
    let mut t = Tamper::open(&env, &built.pool).await;
    let newest = t.event(built.head).await;
    let previous = t.event(built.head - 1).await;
    t.exec("DELETE FROM events WHERE global_position = $1", built.head)
        .await;
    let after = verify_without_keys(&env);
    assert_verifies(&after, built.head - 1);
    assert!(before.stdout.contains(&hex::encode(&newest.hash)));
    assert!(
        after.stdout.contains(&hex::encode(&previous.hash)),
        "{after:?}"
    );
    assert!(!after.stdout.contains(&hex::encode(&newest.hash)));
}

/// A head hash kept outside the database catches what the chain alone cannot: with it,
/// verify fails where the kept event is gone or hashed otherwise, and passes where it is there.
async fn a_kept_head_hash_catches_the_newest_event_removed(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let newest = t.event(built.head).await;
    let middle = t.event(built.k).await;
    let kept = [(built.head, &newest.hash[..]), (built.k, &middle.hash[..])];
    let verdict = verify_without_keys_expecting(&env, &kept);
    assert_verifies(&verdict, built.head);
    assert!(
        verdict.stdout.contains("2 kept hash(es) match"),
        "{verdict:?}"
    );
    // Another hash kept for the middle: not the one the chain holds there.
    let wrong = verify_without_keys_expecting(&env, &[(built.k, &newest.hash[..])]);
    assert_fails_at(&wrong, built.k);

    t.exec("DELETE FROM events WHERE global_position = $1", built.head)
        .await;

    // The chain alone still verifies; the kept head hash does not.
    assert_verifies(&verify_without_keys(&env), built.head - 1);
    assert_fails_at(&verify_without_keys_expecting(&env, &kept), built.head);
    // Kept hashes are checked by position, whatever their order: the lowest bad one is named.
    let both_bad = [(built.head, &newest.hash[..]), (built.k, &newest.hash[..])];
    assert_fails_at(&verify_without_keys_expecting(&env, &both_bad), built.k);
}

/// An event whose hash is set to NULL (SQLite's columns allow it, around the triggers;
/// PostgreSQL's do not) is named at its position, a failed check (exit 1), not a database
/// error (exit 2) an auditor's script could take for an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_without_its_hash_is_named_at_its_position_on_sqlite() {
    let env = TestEnv::sqlite().await;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.exec(
        "UPDATE events SET hash = NULL WHERE global_position = $1",
        built.head,
    )
    .await;
    assert_fails_at(&verify_without_keys(&env), built.head);
    // An earlier event deleted as well: that one is named, the first bad position.
    t.exec("DELETE FROM events WHERE global_position = $1", built.k)
        .await;
    assert_fails_at(&verify_without_keys(&env), built.k);
}

/// An event whose payload is stored as bytes that are not text (SQLite keeps whatever it is
/// given, around the triggers; PostgreSQL's `json` column refuses it) is named at its
/// position, a failed check (exit 1), not a database error (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_with_a_payload_that_is_not_text_is_named_at_its_position_on_sqlite() {
    let env = TestEnv::sqlite().await;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.exec(
        "UPDATE events SET payload = CAST(X'7BFF7D' AS TEXT) WHERE global_position = $1",
        built.k,
    )
    .await;
    assert_fails_at(&verify_without_keys(&env), built.k);
    // Its metadata too, on a later event: the earlier is still the one named.
    t.exec(
        "UPDATE events SET metadata = CAST(X'7BFE7D' AS TEXT) WHERE global_position = $1",
        built.head,
    )
    .await;
    assert_fails_at(&verify_without_keys(&env), built.k);
    // An event before it edited as text: the chain is checked up to the row that is not, so
    // that one is named first.
    t.edit_json("payload", 1, "notion", "jira").await;
    assert_fails_at(&verify_without_keys(&env), 1);
}

/// A stream id stored as bytes that are not text fails the row's read as a payload would; the
/// message names the column (it said "its payload or metadata is not text" for any of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_with_a_stream_id_that_is_not_text_is_named_with_its_column_on_sqlite() {
    let env = TestEnv::sqlite().await;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.exec(
        "UPDATE events SET aggregate_id = CAST(X'61FF62' AS TEXT) WHERE global_position = $1",
        built.k,
    )
    .await;
    let verdict = verify_without_keys(&env);
    assert_fails_at(&verdict, built.k);
    assert!(
        verdict.stderr.contains("(its aggregate_id is not text)"),
        "{verdict:?}"
    );
}

on_both_backends!(an_untouched_ledger_of_a_few_dozen_events_verifies_without_any_master_key);
on_both_backends!(a_kept_head_hash_catches_the_newest_event_removed);
on_both_backends!(an_edited_payload_is_named_at_its_position);
on_both_backends!(edited_metadata_alone_is_named_at_its_position);
on_both_backends!(a_deleted_event_is_named_at_the_missing_position);
on_both_backends!(two_swapped_events_are_named_at_the_first_of_them);
on_both_backends!(a_forged_event_with_a_made_up_hash_is_named_at_its_position);
on_both_backends!(a_forged_event_hashed_over_the_wrong_predecessor_is_named_at_its_position);
on_both_backends!(an_edited_event_with_a_recomputed_hash_is_named_at_the_broken_link_after_it);
on_both_backends!(removing_the_newest_event_passes_verify_but_changes_the_printed_head_hash);

/// An event hashed and linked correctly at the end of the ledger, but numbered past its
/// stream's end: a stream replays its events in their numbering, so it must have no gap.
async fn an_event_numbered_out_of_its_stream_is_named_at_its_position(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let newest = t.event(built.head).await;
    let row = ChainInput {
        sequence: 3,
        ..forged(built.head + 1, &newest.hash)
    };
    t.insert(&row, &event_hash(&row)).await;
    t.finish().await;
    assert_fails_at(&verify_without_keys(&env), built.head + 1);
}
on_both_backends!(an_event_numbered_out_of_its_stream_is_named_at_its_position);

/// An event stored with no place in the chain (position 0) is read by no feed, so the chain
/// and the read models never see it, while its stream replays it; verify fails on it, and the
/// head hash it would print is unchanged (which is why a kept head hash alone cannot tell).
async fn an_event_stored_outside_the_chain_fails_verify(env: TestEnv) {
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    let row = forged(0, &GENESIS);
    t.insert(&row, &[0; 32]).await;
    t.finish().await;
    let verdict = verify_without_keys(&env);
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    assert!(
        verdict
            .stderr
            .contains("1 stored event(s) have no position in the chain"),
        "{verdict:?}"
    );
}
on_both_backends!(an_event_stored_outside_the_chain_fails_verify);

/// A JSON object of `bytes` bytes, as a row written by hand could hold.
pub fn json_of_bytes(bytes: usize) -> String {
    let filler = bytes - r#"{"x":""}"#.len();
    format!(r#"{{"x":"{}"}}"#, "a".repeat(filler))
}

/// A row larger than any event the ledger writes (written by hand into the database an auditor
/// checks) is refused unread and named at its position, as every row before it is checked:
/// verify and export read the ledger in batches, which a row of any size written around the
/// triggers made as large as it was.
async fn a_row_larger_than_any_event_the_ledger_writes_is_named_and_not_read(env: TestEnv) {
    use credledger_adapters::feed::MAX_STORED_EVENT_BYTES;
    let built = build(&env).await;
    let mut t = Tamper::open(&env, &built.pool).await;
    t.set_json(
        "payload",
        built.k,
        &json_of_bytes(MAX_STORED_EVENT_BYTES as usize),
    )
    .await;
    let verdict = verify_without_keys(&env);
    assert_fails_at(&verdict, built.k);
    let refused = format!(
        "bytes, more than the {MAX_STORED_EVENT_BYTES} bytes any event the ledger writes \
         takes; not read"
    );
    assert!(verdict.stderr.contains(&refused), "{verdict:?}");
    let export = crate::support::chain::export_without_keys(&env, 1);
    assert_eq!(export.code, Some(1), "{export:?}");
    assert!(
        export.stderr.contains(&format!(
            "ledger export: FAILED at position {}: stored as ",
            built.k
        )) && export.stderr.contains(&refused),
        "{export:?}"
    );
    // The lines before it, and no closing line.
    assert_eq!(
        export.stdout.lines().count() as i64,
        built.k - 1,
        "{export:?}"
    );
    assert!(!export.stdout.contains("end_of_export"), "{export:?}");

    // Back under the bound, the row is read again: verify fails on its content, as on any edit.
    t.set_json("payload", built.k, &json_of_bytes(64 * 1024))
        .await;
    let verdict = verify_without_keys(&env);
    assert_fails_at(&verdict, built.k);
    assert!(
        verdict.stderr.contains("the stored hash does not match"),
        "{verdict:?}"
    );
}
on_both_backends!(a_row_larger_than_any_event_the_ledger_writes_is_named_and_not_read);

/// The largest event of fixed size the ledger writes, a change of a credential's metadata from
/// the most the domain allows to as much again (32 entries of a 64-character key and a
/// 1,024-character value, in 4-byte characters), is well within the bound verify and export
/// refuse rows beyond, and verifies and exports like any other.
async fn the_largest_metadata_change_the_ledger_writes_verifies_and_exports(env: TestEnv) {
    use credledger_adapters::feed::MAX_STORED_EVENT_BYTES;
    let built = build(&env).await;
    let most = |round: u32| -> BTreeMap<String, String> {
        (0..32)
            .map(|i| {
                let key = format!("{round}{i:02}{}", "𝄞".repeat(61));
                (key, "𝄞".repeat(1024))
            })
            .collect()
    };
    let id = crate::support::new_id();
    built
        .ledger
        .register(
            credledger::NewCredential {
                user_id: "frank",
                service: "notion",
                name: "Largest",
                fields_json: br#"{"token":"secret_frank_largest"}"#,
                metadata: most(1),
                validation: None,
            },
            id,
            &meta("frank"),
        )
        .await
        .unwrap();
    let changed = built
        .ledger
        .update(&id.to_string(), None, Some(most(2)), &meta("frank"))
        .await
        .unwrap();
    let mut t = Tamper::open(&env, &built.pool).await;
    let stored = t.text("payload", changed.position).await.len();
    assert!(stored > 270_000, "{stored} bytes");
    assert!(
        (stored as i64) < MAX_STORED_EVENT_BYTES / 4,
        "{stored} bytes"
    );
    assert_verifies(&verify_without_keys(&env), changed.position);
    let export = crate::support::chain::export_without_keys(&env, 1);
    assert_eq!(export.code, Some(0), "{export:?}");
    assert!(export.stdout.contains(&"𝄞".repeat(1024)));
}
on_both_backends!(the_largest_metadata_change_the_ledger_writes_verifies_and_exports);
