//! `credledger mcp import --no-validate` (the real binary) from a recording MCP server seeded
//! with a few hundred credentials and a handful of bad records (tests/mcp_original.rs covers the
//! original API's format and the live checks): the dry run changes nothing, a forced
//! import registers the good ones encrypted and says why each bad one failed, a second run
//! changes nothing, the imported copies are adopted rather than sent again, a declined
//! confirmation imports nothing, and `--user`/`--service` narrow it.

use crate::on_both_backends;
use crate::support::api::{Client, Server};
use crate::support::mcp::{fast_sync, jobs_with, register_for_everyone};
use crate::support::mcp_recorder::{Op, RecordingMcpServer};
use crate::support::{dump_table, eventually, output_text, TestEnv};
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::Stdio;

const CANARY: &str = "ntn_canary_import_5f0e9c1d7a3b42e8";

/// How many good records each user has per service.
const SEEDED: [(&str, &str, usize); 4] = [
    ("alice", "notion", 120),
    ("alice", "jira", 30),
    ("bob", "notion", 100),
    ("bob", "jira", 50),
];
/// The seeded records, and one without a name that is imported under the service's name.
const GOOD: usize = 301;
const BAD: usize = 4;

/// The running server, its MCP server, and the seeded records' server ids.
struct Setup {
    _server: Server,
    admin: Client,
    recorder: RecordingMcpServer,
    alice: Client,
    bob: Client,
    /// The good records' ids, with their user, service and name.
    good: Vec<(String, &'static str, &'static str, String)>,
    /// The bad records' ids and the reason the import must give.
    bad: Vec<(String, &'static str)>,
}

fn record(user: &str, service: &str, name: &str, data: Value) -> Value {
    json!({
        "user_id": user,
        "service_type": service,
        "credential_name": name,
        "credential_data": data,
        "account_identifier": format!("{user}:{name}"),
        "is_primary": false,
        "ledger_version": 1,
    })
}

fn fields(user: &str, service: &str, i: usize) -> Value {
    match service {
        "notion" => json!({"token": format!("ntn_import_{user}_{i:04}")}),
        _ => json!({
            "url": "https://example.atlassian.net",
            "email": format!("{user}{i}@example.com"),
            "api_token": format!("ATATT3xImport{user}{i:04}"),
        }),
    }
}

async fn setup(env: &TestEnv) -> Setup {
    let server = env.server_with_jobs(|_| {}, jobs_with(fast_sync())).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", &["notion", "jira"]).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;

    let mut good = Vec::new();
    for (user, service, n) in SEEDED {
        for i in 0..n {
            let (name, data) = if (user, service, i) == ("alice", "notion", 0) {
                ("Canary".to_owned(), json!({"token": CANARY}))
            } else {
                (format!("{service} {i}"), fields(user, service, i))
            };
            let id = recorder.seed(vec![record(user, service, &name, data)]);
            good.push((id[0].clone(), user, service, name));
        }
    }
    let mut without_name = record("alice", "notion", "x", fields("alice", "notion", 999));
    without_name
        .as_object_mut()
        .unwrap()
        .remove("credential_name");
    let id = recorder.seed(vec![without_name]);
    good.push((id[0].clone(), "alice", "notion", "Notion".to_owned()));
    let mut without_data = record("bob", "notion", "No data", json!({}));
    without_data
        .as_object_mut()
        .unwrap()
        .remove("credential_data");
    let mut not_a_string = fields("alice", "jira", 999);
    not_a_string["api_token"] = json!(12345);
    let bad_records = [
        (
            record("mallory", "notion", "Hers", fields("mallory", "notion", 0)),
            "unknown user `mallory`",
        ),
        (
            record("alice", "myspace", "Old", json!({"token": "x"})),
            "unknown service `myspace`",
        ),
        (without_data, "missing field `credential_data`"),
        (
            record("alice", "jira", "Broken", not_a_string),
            "`credential_data.api_token` is not a string",
        ),
    ];
    let bad = bad_records
        .into_iter()
        .map(|(r, why)| (recorder.seed(vec![r]).remove(0), why))
        .collect();
    Setup {
        _server: server,
        admin,
        recorder,
        alice,
        bob,
        good,
        bad,
    }
}

/// Runs `credledger mcp import --target gw ARGS` with `stdin`; answers the exit code and the
/// output (stdout then stderr).
async fn import(env: &TestEnv, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut cli = env.cli();
    cli.args(["mcp", "import", "--target", "gw", "--no-validate"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cli.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (out.status.code(), output_text(&out))
}

async fn event_count(env: &TestEnv) -> i64 {
    let pool = env.any_pool().await;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// The client's own credential names for `service`, sorted.
async fn names(client: &Client, service: &str) -> Vec<String> {
    let data = client
        .ok(
            "query($s: String) { credentials(service: $s) { name } }",
            json!({"s": service}),
        )
        .await;
    let mut names: Vec<String> = data["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The seeded names of `user`'s `service` records, sorted.
fn seeded_names(s: &Setup, user: &str, service: &str) -> Vec<String> {
    let mut names: Vec<String> = s
        .good
        .iter()
        .filter(|g| g.1 == user && g.2 == service)
        .map(|g| g.3.clone())
        .collect();
    names.sort();
    names
}

/// Asserts every good record shows in its owner's credentials (the server's projections
/// catch up with the binary's events asynchronously).
async fn assert_all_imported(s: &Setup) {
    for (user, service, n) in SEEDED {
        let client = if user == "alice" { &s.alice } else { &s.bob };
        let want = seeded_names(s, user, service);
        let unnamed = usize::from((user, service) == ("alice", "notion"));
        assert_eq!(want.len(), n + unnamed);
        eventually(&format!("{user}'s {service} credentials"), || async {
            names(client, service).await == want
        })
        .await;
    }
}

/// Waits until the read models show every imported credential as held by the server.
async fn assert_all_adopted(s: &Setup, n: usize) {
    eventually("every imported credential to show synced", || async {
        s.admin
            .ok("{ mcpSyncStatus { serverId status count } }", json!({}))
            .await["mcpSyncStatus"]
            == json!([{"serverId": "gw", "status": "SYNCED", "count": n}])
    })
    .await;
}

async fn a_dry_run_shows_the_plan_and_changes_nothing(env: TestEnv) {
    let s = setup(&env).await;
    let events = event_count(&env).await;

    let (code, out) = import(&env, &["--dry-run"], "").await;

    // Some records fail: the dry run says so in its exit status too.
    assert_eq!(code, Some(1), "{out}");
    for (id, _, _, name) in s.good.iter().step_by(37) {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id}:\n{out}"));
        assert!(line.contains(name.as_str()), "{line}");
        assert!(line.trim_end().ends_with("import"), "{line}");
    }
    for (id, why) in &s.bad {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id}:\n{out}"));
        assert!(line.contains(&format!("fail: {why}")), "{line}");
    }
    assert!(
        out.contains(&format!(
            "dry run: {GOOD} to import, 0 to skip, {BAD} failing; nothing was changed"
        )),
        "{out}"
    );
    assert!(!out.contains(CANARY), "{out}");
    assert_eq!(event_count(&env).await, events);
    assert!(s.recorder.applied().is_empty());
    assert!(names(&s.alice, "notion").await.is_empty());
}
on_both_backends!(a_dry_run_shows_the_plan_and_changes_nothing);

async fn a_forced_import_migrates_the_good_and_explains_the_bad(env: TestEnv) {
    let s = setup(&env).await;

    let (code, out) = import(&env, &["--force"], "").await;

    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("migrated {GOOD}, skipped 0, failed {BAD}")),
        "{out}"
    );
    for (id, why) in &s.bad {
        assert!(out.contains(&format!("failed {id}: {why}")), "{out}");
    }
    assert!(!out.contains(CANARY), "{out}");
    assert_all_imported(&s).await;
    assert_all_adopted(&s, GOOD).await;

    // Encrypted: the canary's plaintext is nowhere in the ledger.
    let pool = env.any_pool().await;
    let rows = dump_table(&pool, "events", "global_position").await;
    assert!(rows.len() > GOOD);
    for row in rows {
        for cell in row.into_iter().flatten() {
            assert!(!cell.contains(CANARY), "the canary in plaintext: {cell}");
        }
    }

    // The server's own copies are adopted: a change is sent as an update of the copy the
    // server holds, and nothing imported was created on it a second time.
    let canary_mcp_id = &s.good[0].0;
    let canary = s
        .alice
        .ok(
            "{ credentials(service: \"notion\") { id name } }",
            json!({}),
        )
        .await["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Canary")
        .unwrap()["id"]
        .clone();
    s.alice
        .ok(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
            json!({"id": canary, "i": {"name": "Canary renamed"}}),
        )
        .await;
    eventually("the rename to reach the server's copy", || async {
        s.recorder.applied().iter().any(|a| {
            a.op == Op::Update
                && a.mcp_id == *canary_mcp_id
                && a.body
                    .as_ref()
                    .is_some_and(|b| b["credential_name"] == "Canary renamed")
        })
    })
    .await;
    assert_eq!(
        s.recorder.credentials()[canary_mcp_id]["credential_name"],
        "Canary renamed"
    );
    let creates: Vec<_> = s
        .recorder
        .applied()
        .into_iter()
        .filter(|a| a.op == Op::Create)
        .map(|a| (a.mcp_id, a.body.map(|b| b["credential_name"].clone())))
        .collect();
    assert!(creates.is_empty(), "copies created again: {creates:?}");
    assert_eq!(s.recorder.credentials().len(), GOOD + BAD);
}
on_both_backends!(a_forced_import_migrates_the_good_and_explains_the_bad);

/// A server that lists one id twice (here under two people) has the first imported and the
/// second refused: one credential id never lands in two keyrings.
async fn an_id_listed_twice_is_imported_once(env: TestEnv) {
    let s = setup(&env).await;
    for user in ["alice", "bob"] {
        let mut twice = record(user, "notion", "Twice", fields(user, "notion", 500));
        twice["credential_id"] = json!("listed-twice");
        s.recorder.seed(vec![twice]);
    }

    let (code, out) = import(&env, &["--force"], "").await;

    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("failed listed-twice: the server lists this id more than once"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "migrated {}, skipped 0, failed {}",
            GOOD + 1,
            BAD + 1
        )),
        "{out}"
    );
    let twice = |client: &Client| {
        let client = client.clone();
        async move {
            names(&client, "notion")
                .await
                .iter()
                .filter(|n| *n == "Twice")
                .count()
        }
    };
    assert_eq!(twice(&s.alice).await + twice(&s.bob).await, 1);
}
on_both_backends!(an_id_listed_twice_is_imported_once);

async fn a_second_import_changes_nothing(env: TestEnv) {
    let s = setup(&env).await;
    let (code, out) = import(&env, &["--force"], "").await;
    assert_eq!(code, Some(1), "{out}");
    assert_all_imported(&s).await;
    assert_all_adopted(&s, GOOD).await;
    let events = event_count(&env).await;

    let (code, out) = import(&env, &["--force"], "").await;

    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("migrated 0, skipped {GOOD}, failed {BAD}")),
        "{out}"
    );
    assert!(out.contains("already imported"), "{out}");
    assert_eq!(event_count(&env).await, events);
    assert_all_imported(&s).await;
}
on_both_backends!(a_second_import_changes_nothing);

async fn a_declined_import_imports_nothing(env: TestEnv) {
    let s = setup(&env).await;
    let events = event_count(&env).await;

    let (code, out) = import(&env, &[], "n\n").await;

    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("nothing imported"), "{out}");
    assert!(!out.contains("migrated"), "{out}");
    assert_eq!(event_count(&env).await, events);
    assert!(names(&s.alice, "notion").await.is_empty());
    assert!(s.recorder.applied().is_empty());
}
on_both_backends!(a_declined_import_imports_nothing);

async fn user_and_service_narrow_the_import(env: TestEnv) {
    let s = setup(&env).await;

    let (code, out) = import(&env, &["--force", "--user", "bob", "--service", "jira"], "").await;

    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("migrated 50, skipped 0, failed 0"), "{out}");
    let want = seeded_names(&s, "bob", "jira");
    eventually("bob's jira credentials", || async {
        names(&s.bob, "jira").await == want
    })
    .await;
    assert!(names(&s.bob, "notion").await.is_empty());
    assert!(names(&s.alice, "jira").await.is_empty());
    assert!(names(&s.alice, "notion").await.is_empty());
    assert_all_adopted(&s, 50).await;
}
on_both_backends!(user_and_service_narrow_the_import);

async fn copies_the_ledger_sent_are_not_imported_back(env: TestEnv) {
    let server = env.server_with_jobs(|_| {}, jobs_with(fast_sync())).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    // The copy made and its outcome recorded, so nothing more is written meanwhile.
    eventually("the sender's copy", || async {
        recorder.credentials().len() == 1
            && alice.ok("{ credentials { syncStatus } }", json!({})).await["credentials"][0]
                ["syncStatus"]
                == "SYNCED"
    })
    .await;
    let before = event_count(&env).await;
    let (code, out) = import(&env, &["--force"], "").await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("skip: the copy of ledger credential"), "{out}");
    assert!(out.contains("migrated 0, skipped 1, failed 0"), "{out}");
    assert_eq!(event_count(&env).await, before);
    assert_eq!(names(&alice, "notion").await, ["Work"]);
}
on_both_backends!(copies_the_ledger_sent_are_not_imported_back);

/// An import whose copies' adoption cannot be recorded (here the database refuses the event
/// that records it) keeps none of the credentials it could not adopt: run again, it imports
/// them, and the sender never creates a second copy of one on the server.
async fn an_import_that_could_not_adopt_the_servers_copies_keeps_nothing_that_would_be_copied_again(
    env: TestEnv,
) {
    let server = env.server_with_jobs(|_| {}, jobs_with(fast_sync())).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    for i in 0..3 {
        recorder.seed(vec![record(
            "alice",
            "notion",
            &format!("Held {i}"),
            fields("alice", "notion", i),
        )]);
    }
    let pool = env.any_pool().await;
    crate::support::refuse_events_where(
        &pool,
        env.backend,
        "NEW.event_type = 'CredentialSyncedToMcp'",
        "the database is away",
        None,
    )
    .await;

    let (code, out) = import(&env, &["--force"], "").await;

    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("migrated 0, skipped 0, failed 3"), "{out}");
    crate::support::accept_events_again(&pool, env.backend).await;
    let (code, out) = import(&env, &["--force"], "").await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("migrated 3, skipped 0, failed 0"), "{out}");
    eventually("every imported credential to show synced", || async {
        admin
            .ok("{ mcpSyncStatus { serverId status count } }", json!({}))
            .await["mcpSyncStatus"]
            == json!([{"serverId": "gw", "status": "SYNCED", "count": 3}])
    })
    .await;
    let creates: Vec<_> = recorder
        .applied()
        .into_iter()
        .filter(|a| a.op == Op::Create)
        .collect();
    assert!(
        creates.is_empty(),
        "copies created again: {}",
        creates.len()
    );
    assert_eq!(recorder.credentials().len(), 3);
    assert_eq!(names(&alice, "notion").await.len(), 3);
}
on_both_backends!(
    an_import_that_could_not_adopt_the_servers_copies_keeps_nothing_that_would_be_copied_again
);
