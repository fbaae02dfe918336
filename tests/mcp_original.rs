//! The replay adapter and the import against a stand-in for the original design's MCP server
//! API (the recording server in `Dialect::Original`: records listed with `id` and the server's
//! own `version`, no memory of idempotency keys), with the faults a real one shows: 404 on
//! delete, 503 bursts, answers lost after the change was applied, and all of them at random.
//! Each test counts the requests the server received and the outcome events the ledger holds.

use crate::on_both_backends;
use crate::support::api::{Client, Server};
use crate::support::mcp::{fast_sync, jobs_with, register_for_everyone, sync_status};
use crate::support::mcp_recorder::{Chaos, Dialect, McpFault, ReceivedRequest, RecordingMcpServer};
use crate::support::{eventually, output_text, TestEnv};
use credledger::mcp::sync::SyncSettings;
use credledger_adapters::simulator::{Fault, SimAccount};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

const SYNCED: &str = "CredentialSyncedToMcp";
const FAILED: &str = "CredentialSyncFailed";
const REMOVED: &str = "CredentialRemovedFromMcp";
const DRIFTED: &str = "CredentialDriftedOnMcp";
const OUTCOMES: [&str; 4] = [SYNCED, FAILED, REMOVED, DRIFTED];

/// A sender that retries fast and does not give up within a test.
fn patient() -> SyncSettings {
    SyncSettings {
        attempts: 40,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..fast_sync()
    }
}

struct Stand {
    server: Server,
    recorder: RecordingMcpServer,
    admin: Client,
    alice: Client,
}

async fn stand(env: &TestEnv, sync: SyncSettings, services: &[&str]) -> Stand {
    // Many credentials are added in a row: the per-person limit on live checks is not tested here.
    let server = env
        .server_with_jobs(|s| s.validations_per_minute = 100_000, jobs_with(sync))
        .await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    recorder.set_dialect(Dialect::Original);
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", services).await;
    let alice = server.user("alice").await;
    Stand {
        server,
        recorder,
        admin,
        alice,
    }
}

/// A Notion token the simulator accepts, for its own account.
fn token(server: &Server, tag: &str) -> String {
    let token = format!("ntn_original_{tag}");
    server.simulator.accept(
        "notion",
        &token,
        SimAccount::new(
            format!("acct-{tag}"),
            format!("Account {tag}"),
            format!("{tag}@example.com"),
        ),
    );
    token
}

/// Every event of the ledger, counted by type.
async fn event_counts(env: &TestEnv) -> BTreeMap<String, i64> {
    let pool = env.any_pool().await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, COUNT(*) FROM events GROUP BY event_type")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

fn delta(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>, kind: &str) -> i64 {
    after.get(kind).copied().unwrap_or(0) - before.get(kind).copied().unwrap_or(0)
}

/// Whether every (server, credential) row is synced: nothing left to send.
async fn settled(admin: &Client) -> bool {
    admin
        .ok("{ mcpSyncStatus { serverId status count } }", json!({}))
        .await["mcpSyncStatus"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["status"] == "SYNCED")
}

/// The server's copies by name: (user, primary, token).
fn copies(recorder: &RecordingMcpServer) -> Vec<(String, String, bool, String)> {
    let mut copies: Vec<_> = recorder
        .credentials()
        .into_values()
        .map(|c| {
            (
                c["credential_name"].as_str().unwrap_or_default().to_owned(),
                c["user_id"].as_str().unwrap_or_default().to_owned(),
                c["is_primary"].as_bool().unwrap_or(false),
                c["credential_data"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    copies.sort();
    copies
}

/// Waits until nothing is left to send, then checks that the server hears nothing more while
/// the sender keeps polling (twenty of its passes).
async fn settles_quietly(s: &Stand) {
    eventually("every copy to settle", || async { settled(&s.admin).await }).await;
    let heard = s.recorder.requests().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: Vec<ReceivedRequest> = s.recorder.requests()[heard..].to_vec();
    assert!(after.is_empty(), "requests after settling: {after:#?}");
}

/// Adds alice's Notion credential `name` (a token of its own, `tag`) with `fault` set on the
/// server, and waits until the server has answered a create `503`: the credential's id.
async fn add_with_create_unanswered(s: &Stand, fault: McpFault, name: &str, tag: &str) -> String {
    s.recorder.set_fault(Some(fault));
    let id = s
        .alice
        .add("notion", name, json!({"token": token(&s.server, tag)}))
        .await;
    eventually("the unanswered create", || async {
        s.recorder
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.status == 503)
    })
    .await;
    id
}

/// Waits for two more listings: a pass that read the rows before `what` may still be under
/// way, the second listing comes from one that knows of it.
async fn two_more_listings(s: &Stand, what: &str) {
    let heard = s.recorder.requests().len();
    eventually(&format!("two attempts after {what}"), || async {
        s.recorder.requests()[heard..]
            .iter()
            .filter(|r| r.method == "GET")
            .count()
            >= 2
    })
    .await;
}

/// A copy alice made on the server before credledger, named `Notion` as her credentials
/// below are, holding `ntn_hers`: its id.
fn her_copy_made_before(s: &Stand) -> String {
    s.recorder
        .seed(vec![original(
            &s.alice.user_id,
            "notion",
            Some("Notion"),
            Some("ntn_hers"),
        )])
        .remove(0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// Answers 2xx.
    Fine,
    /// Does not hold the copy any more (deletes answer 404).
    Lost,
    /// Answers 503 until the sender has tried once, then 2xx.
    Unavailable,
    /// Applies the first request, answers 503 (the answer is lost), then answers 2xx.
    AnswerLost,
}

/// Runs `action` with the server behaving as `behaviour` for the request it causes.
async fn under<T>(
    s: &Stand,
    behaviour: Behaviour,
    method: &str,
    copy: Option<&str>,
    action: impl std::future::Future<Output = T>,
) -> T {
    let heard = s.recorder.requests().len();
    match behaviour {
        Behaviour::Fine => {}
        Behaviour::Lost => {
            if let Some(copy) = copy {
                s.recorder.forget(copy);
            }
        }
        Behaviour::Unavailable => s.recorder.set_fault(Some(McpFault::Status(503))),
        // A create is preceded by a listing (the copies there before it), answered.
        Behaviour::AnswerLost if method == "POST" => {
            s.recorder.set_fault(Some(McpFault::LoseCreateAnswer(503)))
        }
        Behaviour::AnswerLost => s.recorder.set_fault(Some(McpFault::LoseAnswer(503))),
    }
    let done = action.await;
    if matches!(behaviour, Behaviour::Unavailable | Behaviour::AnswerLost) {
        // The first request the change causes (for a create, the listing before it when the
        // server is unavailable).
        eventually("the request the fault answers", || async {
            s.recorder.requests()[heard..]
                .iter()
                .any(|r| r.status == 503)
        })
        .await;
        s.recorder.set_fault(None);
    }
    done
}

fn id_of(recorder: &RecordingMcpServer, name: &str) -> Option<String> {
    recorder
        .credentials()
        .into_iter()
        .find(|(_, c)| c["credential_name"] == name)
        .map(|(id, _)| id)
}

async fn each_change_ends_with_the_copy_right_and_one_outcome_event(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    // The keyring's primary stays put, so the changes below touch one copy each.
    s.alice
        .add(
            "notion",
            "Keeper",
            json!({"token": token(&s.server, "keeper")}),
        )
        .await;
    settles_quietly(&s).await;

    for behaviour in [
        Behaviour::Fine,
        Behaviour::Lost,
        Behaviour::Unavailable,
        Behaviour::AnswerLost,
    ] {
        let tag = format!("{behaviour:?}").to_lowercase();
        // Create.
        let before = event_counts(&env).await;
        let heard = s.recorder.requests().len();
        let (revoked_name, erased_name) = (format!("{tag}-revoked"), format!("{tag}-erased"));
        let mut ids = Vec::new();
        for name in [&revoked_name, &erased_name] {
            let secret = token(&s.server, name);
            let add = s.alice.add("notion", name, json!({"token": secret}));
            ids.push(under(&s, behaviour, "POST", None, add).await);
            settles_quietly(&s).await;
        }
        let after = event_counts(&env).await;
        assert_eq!(
            delta(&before, &after, SYNCED),
            2,
            "{behaviour:?}: {after:?}"
        );
        for name in [&revoked_name, &erased_name] {
            let held: Vec<_> = copies(&s.recorder)
                .into_iter()
                .filter(|c| &c.0 == name)
                .collect();
            assert_eq!(
                held,
                [(
                    name.clone(),
                    "alice".into(),
                    false,
                    format!("ntn_original_{name}")
                )],
                "{behaviour:?}: one copy, equal to the ledger"
            );
        }
        if behaviour == Behaviour::Fine {
            // No fault: one create per change, none repeated, each after a listing of the
            // copies there before it.
            let sent: Vec<_> = s.recorder.requests()[heard..]
                .iter()
                .map(|r| r.method.clone())
                .collect();
            assert_eq!(sent, ["GET", "POST", "GET", "POST"]);
        }

        // Revoke, then erase.
        let before = event_counts(&env).await;
        let heard = s.recorder.requests().len();
        let copy = id_of(&s.recorder, &revoked_name);
        let revoke = s.alice.ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": ids[0]}),
        );
        under(&s, behaviour, "DELETE", copy.as_deref(), revoke).await;
        settles_quietly(&s).await;
        let copy = id_of(&s.recorder, &erased_name);
        let erase = s.alice.ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": ids[1]}),
        );
        under(&s, behaviour, "DELETE", copy.as_deref(), erase).await;
        settles_quietly(&s).await;
        let after = event_counts(&env).await;
        assert_eq!(
            delta(&before, &after, REMOVED),
            2,
            "{behaviour:?}: {after:?}"
        );
        for kind in [SYNCED, FAILED, DRIFTED] {
            assert_eq!(delta(&before, &after, kind), 0, "{behaviour:?}: {kind}");
        }
        assert!(id_of(&s.recorder, &revoked_name).is_none());
        assert!(id_of(&s.recorder, &erased_name).is_none());
        let deletes = s.recorder.requests()[heard..]
            .iter()
            .filter(|r| r.method == "DELETE")
            .count();
        match behaviour {
            Behaviour::Fine | Behaviour::Lost => assert_eq!(deletes, 2, "{behaviour:?}"),
            // At least the faulted attempt and the one after it, for each.
            _ => assert!(deletes >= 4, "{behaviour:?}: {deletes}"),
        }
    }
    assert_eq!(
        copies(&s.recorder),
        [(
            "Keeper".into(),
            "alice".into(),
            true,
            "ntn_original_keeper".into()
        )]
    );
}
on_both_backends!(each_change_ends_with_the_copy_right_and_one_outcome_event);

/// A create whose answer was lost leaves a copy under the name it carried. The credential is
/// renamed and erased before the sender hears from the server again: with the secret gone and
/// the name changed, only the names the unanswered requests carried find that copy.
async fn an_unanswered_copy_renamed_then_erased_is_deleted(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    let before = event_counts(&env).await;
    // The create is applied and its answer lost; every request after it fails until the
    // ledger has moved on.
    let fault = McpFault::LoseCreateAnswerThenFail(503);
    let id = add_with_create_unanswered(&s, fault, "first-name", "renamed-erased").await;
    s.alice
        .ok(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
            json!({"id": id, "i": {"name": "second-name"}}),
        )
        .await;
    s.alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        s.recorder.credentials().len(),
        1,
        "the copy the create left"
    );
    two_more_listings(&s, "the erasure").await;
    s.recorder.set_fault(None);

    settles_quietly(&s).await;
    assert_eq!(copies(&s.recorder), []);
    let after = event_counts(&env).await;
    assert_eq!(delta(&before, &after, REMOVED), 1, "{after:?}");
    assert_eq!(delta(&before, &after, SYNCED), 0, "{after:?}");
}
on_both_backends!(an_unanswered_copy_renamed_then_erased_is_deleted);

/// A copy alice made on the server before credledger, named as her new credential is. The
/// credential's first create loses its answer: looking for the copy that create left, the
/// sender takes its own, never hers, which keeps her secret.
async fn a_copy_made_before_under_the_same_name_is_not_taken_for_a_lost_creates(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    let hers = her_copy_made_before(&s);
    let fault = McpFault::LoseCreateAnswer(503);
    add_with_create_unanswered(&s, fault, "Notion", "lost-create").await;
    s.recorder.set_fault(None);

    settles_quietly(&s).await;
    let user = s.alice.user_id.clone();
    assert_eq!(
        copies(&s.recorder),
        [
            ("Notion".into(), user.clone(), false, "ntn_hers".into()),
            (
                "Notion".into(),
                user,
                true,
                "ntn_original_lost-create".into()
            ),
        ]
    );
    assert_eq!(
        s.recorder.credentials()[&hers]["credential_data"]["token"],
        "ntn_hers"
    );
}
on_both_backends!(a_copy_made_before_under_the_same_name_is_not_taken_for_a_lost_creates);

/// As above, and the credential is revoked before the sender hears from the server again:
/// the copy its create left is deleted, hers stays.
async fn a_copy_made_before_under_the_same_name_outlives_a_revoked_lost_create(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    let hers = her_copy_made_before(&s);
    // The create is applied and its answer lost; every request after it fails until the
    // ledger has moved on.
    let fault = McpFault::LoseCreateAnswerThenFail(503);
    let id = add_with_create_unanswered(&s, fault, "Notion", "revoked").await;
    s.alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    two_more_listings(&s, "the revocation").await;
    s.recorder.set_fault(None);

    settles_quietly(&s).await;
    assert_eq!(
        copies(&s.recorder),
        [(
            "Notion".into(),
            s.alice.user_id.clone(),
            false,
            "ntn_hers".into()
        )]
    );
    assert!(s.recorder.credentials().contains_key(&hers));
}
on_both_backends!(a_copy_made_before_under_the_same_name_outlives_a_revoked_lost_create);

/// A copy alice made before credledger and the credential's own, confirmed copy, both named
/// `Notion`. The credential is revoked and the server fails the first delete: the retry
/// deletes the credential's copy and looks for no other, so hers stays.
async fn a_copy_made_before_under_the_same_name_outlives_a_retried_removal(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    her_copy_made_before(&s);
    let id = s
        .alice
        .add(
            "notion",
            "Notion",
            json!({"token": token(&s.server, "removed")}),
        )
        .await;
    settles_quietly(&s).await;
    let revoke = s.alice.ok(
        "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
        json!({"id": id}),
    );
    under(&s, Behaviour::Unavailable, "DELETE", None, revoke).await;

    settles_quietly(&s).await;
    assert_eq!(
        copies(&s.recorder),
        [(
            "Notion".into(),
            s.alice.user_id.clone(),
            false,
            "ntn_hers".into()
        )]
    );
}
on_both_backends!(a_copy_made_before_under_the_same_name_outlives_a_retried_removal);

async fn under_random_failures_the_server_ends_with_one_equal_copy_each(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    let bob = s.server.user("bob").await;
    s.recorder.set_chaos(Some(Chaos {
        seed: 16,
        fail_percent: 30,
        lose_percent: 20,
    }));
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    // Live credentials: (owner is alice, id, name, token).
    let mut live: Vec<(bool, String, String, String)> = Vec::new();
    let mut changes = 0;
    let mut n = 0;
    while changes < 200 {
        n += 1;
        let pick = rng.gen_range(0..100);
        let alice_side = rng.gen_bool(0.5);
        let client = if alice_side { &s.alice } else { &bob };
        let mine: Vec<usize> = (0..live.len())
            .filter(|i| live[*i].0 == alice_side)
            .collect();
        if mine.is_empty() || (pick < 30 && mine.len() < 10) {
            let name = format!("c{n}");
            let secret = token(&s.server, &name);
            let id = client
                .add("notion", &name, json!({"token": secret.clone()}))
                .await;
            live.push((alice_side, id, name, secret));
        } else {
            let i = mine[rng.gen_range(0..mine.len())];
            let id = live[i].1.clone();
            if pick < 60 {
                let name = format!("c{n}-renamed");
                client
                    .ok(
                        "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
                        json!({"id": id, "i": {"name": name}}),
                    )
                    .await;
                live[i].2 = name;
            } else if pick < 80 {
                client
                    .ok(
                        "mutation($id: ID!) { setPrimaryCredential(id: $id) { id } }",
                        json!({"id": id}),
                    )
                    .await;
            } else if pick < 90 {
                client
                    .ok(
                        "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
                        json!({"id": id}),
                    )
                    .await;
                live.remove(i);
            } else {
                client
                    .ok(
                        "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
                        json!({"id": id}),
                    )
                    .await;
                live.remove(i);
            }
        }
        changes += 1;
    }

    eventually("every copy to settle under the faults", || async {
        settled(&s.admin).await
    })
    .await;
    // One copy per live credential, equal to the ledger; nothing else.
    let mut want = Vec::new();
    for (alice_side, client) in [(true, &s.alice), (false, &bob)] {
        let listed = client
            .ok(
                "{ credentials(service: \"notion\") { name isPrimary status } }",
                json!({}),
            )
            .await;
        for c in listed["credentials"].as_array().unwrap() {
            if c["status"] == "REVOKED" {
                continue;
            }
            let name = c["name"].as_str().unwrap().to_owned();
            let secret = live
                .iter()
                .find(|l| l.0 == alice_side && l.2 == name)
                .map(|l| l.3.clone())
                .expect("a live credential the test made");
            want.push((
                name,
                if alice_side { "alice" } else { "bob" }.to_owned(),
                c["isPrimary"].as_bool().unwrap(),
                secret,
            ));
        }
    }
    want.sort();
    assert_eq!(want.len(), live.len());
    let held = copies(&s.recorder);
    let extra: Vec<_> = held.iter().filter(|c| !want.contains(c)).collect();
    let missing: Vec<_> = want.iter().filter(|c| !held.contains(c)).collect();
    if !extra.is_empty() || !missing.is_empty() {
        let requests: Vec<String> = s
            .recorder
            .requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {:?}",
                    r.method,
                    r.path,
                    r.status,
                    r.body.as_ref().map(|b| b["credential_name"].clone())
                )
            })
            .collect();
        let ids: Vec<(String, Value)> = s
            .recorder
            .credentials()
            .into_iter()
            .map(|(id, c)| (id, c["credential_name"].clone()))
            .collect();
        panic!("extra copies {extra:?}, missing {missing:?}\n{ids:?}\n{requests:#?}");
    }
    // No more outcome events than state changes of copies (a primary change changes two).
    let counts = event_counts(&env).await;
    let outcomes: i64 = OUTCOMES
        .iter()
        .map(|k| counts.get(*k).copied().unwrap_or(0))
        .sum();
    let changes_of_copies: i64 = [
        "CredentialRegistered",
        "CredentialRenamed",
        "CredentialRevoked",
        "CredentialErased",
    ]
    .iter()
    .map(|k| counts.get(*k).copied().unwrap_or(0))
    .sum::<i64>()
        + 2 * counts.get("PrimaryCredentialChanged").copied().unwrap_or(0);
    assert!(
        outcomes <= changes_of_copies,
        "{outcomes} outcome events for {changes_of_copies} changes: {counts:?}"
    );
    let requests = s.recorder.requests();
    let faulted = requests.iter().filter(|r| r.status == 503).count();
    assert!(faulted > 50, "the faults happened: {faulted}");
}
on_both_backends!(under_random_failures_the_server_ends_with_one_equal_copy_each);

async fn drift_is_only_what_differs_and_orphans_are_removed(env: TestEnv) {
    let s = stand(
        &env,
        SyncSettings {
            drift_every: Duration::from_millis(200),
            remove_orphans: true,
            ..patient()
        },
        &["notion"],
    )
    .await;
    for name in ["one", "two", "three"] {
        s.alice
            .add("notion", name, json!({"token": token(&s.server, name)}))
            .await;
    }
    eventually("three copies", || async {
        s.recorder.credentials().len() == 3
    })
    .await;
    eventually("settled", || async { settled(&s.admin).await }).await;

    // All current: the drift passes list and do nothing else.
    let before = event_counts(&env).await;
    let heard = s.recorder.requests().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent: Vec<(String, String)> = s.recorder.requests()[heard..]
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert!(sent.len() >= 3, "drift passes ran: {sent:?}");
    assert!(
        sent.iter().all(|(m, p)| m == "GET" && p == "/credentials"),
        "{sent:?}"
    );
    assert_eq!(event_counts(&env).await, before);

    // Someone edits a copy, deletes another, and leaves one the ledger never sent.
    let one = id_of(&s.recorder, "one").unwrap();
    let two = id_of(&s.recorder, "two").unwrap();
    s.recorder
        .set_field(&one, "credential_data", json!({"token": "ntn_tampered"}));
    s.recorder.forget(&two);
    let orphan = s.recorder.seed(vec![json!({
        "user_id": "alice", "service_type": "notion", "credential_name": "stray",
        "credential_data": {"token": "ntn_stray"}, "is_primary": false,
    })]);
    eventually("the copies repaired and the orphan gone", || async {
        copies(&s.recorder)
            .iter()
            .map(|c| (c.0.clone(), c.3.clone()))
            .collect::<Vec<_>>()
            == [
                ("one".to_owned(), "ntn_original_one".to_owned()),
                ("three".to_owned(), "ntn_original_three".to_owned()),
                ("two".to_owned(), "ntn_original_two".to_owned()),
            ]
    })
    .await;
    eventually("settled", || async { settled(&s.admin).await }).await;
    let after = event_counts(&env).await;
    assert_eq!(delta(&before, &after, DRIFTED), 2, "{after:?}");
    assert_eq!(delta(&before, &after, SYNCED), 2, "{after:?}");
    assert!(s
        .recorder
        .requests()
        .iter()
        .any(|r| r.method == "DELETE" && r.path == format!("/credentials/{}", orphan[0])));
    // And quiet again.
    let before = event_counts(&env).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(event_counts(&env).await, before);
}
on_both_backends!(drift_is_only_what_differs_and_orphans_are_removed);

/// A drift check while the MCP sync read model lags behind an outcome already recorded (here
/// the test records the copy, as a sender would, with the read model held back) does not take
/// that copy for an orphan and delete it: it checks nothing until the read model has caught up.
async fn a_drift_check_while_the_read_model_lags_deletes_no_copy_the_ledger_recorded(env: TestEnv) {
    use credledger::mcp::{sync::McpSync, McpServers};
    use credledger_domain::keyring::{KeyringCommand, McpSyncOutcome};
    use std::sync::Arc;
    let jobs = credledger::config::JobSettings {
        enabled: false,
        ..Default::default()
    };
    let server = env.server_with_jobs(|_| {}, jobs).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    recorder.set_dialect(Dialect::Original);
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "one", json!({"token": token(&server, "one")}))
        .await;
    let hold = crate::support::hold::Hold::start(&env, crate::support::hold::MCP_SYNC).await;
    let copy = recorder.seed(vec![json!({
        "user_id": "alice", "service_type": "notion", "credential_name": "one",
        "credential_data": {"token": token(&server, "one")}, "is_primary": true,
    })]);
    let ledger = server.running.ledger.clone();
    let keyring = credledger_domain::KeyringId::new(
        credledger_domain::UserId::parse("alice").unwrap(),
        credledger_domain::ServiceKey::parse("notion").unwrap(),
    );
    let credential_id = credledger_domain::CredentialId::parse(&id).unwrap();
    ledger
        .command(
            &keyring,
            KeyringCommand::RecordMcpSync {
                credential_id,
                target: "gw".into(),
                ledger_version: 1,
                sync_position: 0,
                outcome: McpSyncOutcome::Synced {
                    mcp_id: copy[0].clone(),
                },
            },
            &crate::support::meta("sender"),
        )
        .await
        .unwrap();
    let sync = McpSync::new(
        Arc::new(McpServers::new(ledger.clone()).with_outbound(
            credledger_adapters::outbound::OutboundPolicy {
                allow_loopback: true,
                ..Default::default()
            },
        )),
        SyncSettings {
            remove_orphans: true,
            ..fast_sync()
        },
        credledger::jobs::Leases::new(ledger.db.clone()),
    );

    let held = sync.lock().await.unwrap().expect("the sync lease");
    let lagging = sync.check_drift(&held, "gw").await;

    assert_eq!(
        lagging.as_ref().err().map(|e| e.code()),
        Some("UNAVAILABLE"),
        "{lagging:?}"
    );
    assert!(
        recorder.credentials().contains_key(&copy[0]),
        "the copy was deleted"
    );
    hold.release().await;
    let report = sync.check_drift(&held, "gw").await.unwrap();
    assert!(report.orphans.is_empty(), "{report:?}");
    assert!(recorder.credentials().contains_key(&copy[0]));
}
on_both_backends!(a_drift_check_while_the_read_model_lags_deletes_no_copy_the_ledger_recorded);

async fn the_drift_command_lists_orphans_and_changes_nothing_when_all_is_current(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    s.alice
        .add("notion", "one", json!({"token": token(&s.server, "one")}))
        .await;
    settles_quietly(&s).await;
    let drift = || {
        let mut cli = env.cli();
        cli.args(["mcp", "drift", "--target", "gw"]);
        async move {
            let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        }
    };
    let before = event_counts(&env).await;
    let (code, out) = drift().await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("gw: 0 drifted copies recorded"), "{out}");
    assert!(out.contains("0 orphan(s)"), "{out}");

    let orphan = s.recorder.seed(vec![json!({
        "user_id": "alice", "service_type": "notion", "credential_name": "stray",
        "credential_data": {"token": "ntn_stray"}, "is_primary": false,
    })]);
    let (code, out) = drift().await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("1 orphan(s): {}", orphan[0])),
        "{out}"
    );
    // Reported, not removed (that takes CREDLEDGER_MCP_REMOVE_ORPHANS), and nothing recorded.
    assert!(s.recorder.credentials().contains_key(&orphan[0]));
    assert_eq!(event_counts(&env).await, before);

    // An id holding an escape sequence (listed as the record's own `credential_id`, which this
    // dialect keeps) is reported as the orphan it is, and reaches neither the terminal nor the
    // log as an escape sequence.
    s.recorder.set_dialect(Dialect::Credledger);
    s.recorder.seed(vec![json!({
        "credential_id": "\u{1b}]52;c;aGk=\u{7}\u{1b}[2Jevil",
        "user_id": "alice", "service_type": "notion", "credential_name": "stray",
        "credential_data": {"token": "ntn_stray"}, "is_primary": false,
    })]);
    let (code, out) = drift().await;
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(
        out.contains("2 orphan(s): \\u{1b}]52;c;aGk=\\u{7}\\u{1b}[2Jevil, mcp-2"),
        "{out}"
    );

    let mut cli = env.cli();
    cli.args(["mcp", "drift", "--target", "nowhere"]);
    let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MCP server `nowhere` is registered"));
}
on_both_backends!(the_drift_command_lists_orphans_and_changes_nothing_when_all_is_current);

/// `credledger mcp import` (the real binary), its catalog pointed at the simulator.
async fn import(env: &TestEnv, server: &Server, args: &[&str]) -> (Option<i32>, String) {
    let config = env.dir.path().join("import.toml");
    let mut file = std::fs::File::create(&config).unwrap();
    writeln!(file, "[provider_urls]").unwrap();
    for service in ["notion", "todoist"] {
        writeln!(
            file,
            "{service} = \"{}\"",
            server.simulator.base_url(service)
        )
        .unwrap();
    }
    drop(file);
    let mut cli = env.cli();
    cli.env("CREDLEDGER_CONFIG", &config)
        .args(["mcp", "import", "--target", "gw", "--force"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
        .await
        .unwrap();
    (out.status.code(), output_text(&out))
}

fn original(user: &str, service: &str, name: Option<&str>, token: Option<&str>) -> Value {
    let mut record = json!({
        "user_id": user,
        "service_type": service,
        "account_identifier": format!("{user}@example.com"),
        "is_primary": false,
    });
    if let Some(name) = name {
        record["credential_name"] = name.into();
    }
    if let Some(token) = token {
        record["credential_data"] = json!({ "token": token });
    }
    record
}

async fn importing_the_original_format_imports_the_good_and_explains_the_rest(env: TestEnv) {
    let s = stand(&env, patient(), &["notion", "todoist"]).await;
    let bob = s.server.user("bob").await;
    s.server.simulator.set_fault(
        "todoist",
        Fault::Unavailable {
            retry_after_secs: None,
        },
    );
    let mut records = Vec::new();
    let mut good: Vec<(&str, String, String)> = Vec::new();
    for user in ["alice", "bob"] {
        for i in 0..6 {
            let name = format!("{user} {i}");
            let secret = token(&s.server, &format!("{user}{i}"));
            let mut record = original(user, "notion", Some(&name), Some(&secret));
            // The last one asks to be primary.
            record["is_primary"] = (i == 5).into();
            records.push(record);
            good.push((user, name, secret));
        }
    }
    // Without a name: the service's name, de-duplicated.
    for i in 0..2 {
        let secret = token(&s.server, &format!("unnamed{i}"));
        records.push(original("alice", "notion", None, Some(&secret)));
        good.push((
            "alice",
            if i == 0 { "Notion" } else { "Notion 2" }.into(),
            secret,
        ));
    }
    let mut bad: Vec<(Value, &str)> = Vec::new();
    for i in 0..3 {
        bad.push((
            original(
                "mallory",
                "notion",
                Some("hers"),
                Some(&format!("ntn_m{i}")),
            ),
            "unknown user `mallory`",
        ));
        bad.push((
            original("alice", "myspace", Some("old"), Some("x")),
            "unknown service `myspace`",
        ));
        bad.push((
            original(
                "bob",
                "notion",
                Some(&format!("wrong {i}")),
                Some(&format!("ntn_wrong_{i}")),
            ),
            "the provider refused it",
        ));
        bad.push((
            original(
                "bob",
                "todoist",
                Some(&format!("todo {i}")),
                Some(&format!("todo_{i}")),
            ),
            "the provider could not be asked",
        ));
    }
    for i in 0..2 {
        bad.push((
            original("bob", "notion", Some(&format!("empty {i}")), None),
            "missing field `credential_data`",
        ));
    }
    let mut no_user = original("bob", "notion", Some("nobody"), Some("ntn_x"));
    no_user.as_object_mut().unwrap().remove("user_id");
    bad.push((no_user, "`user_id` is missing"));
    let mut not_text = original("bob", "notion", Some("number"), None);
    not_text["credential_data"] = json!({"token": 42});
    bad.push((not_text, "`credential_data.token` is not a string"));
    let good_ids = s.recorder.seed(records);
    let bad_ids: Vec<(String, &str)> = bad
        .into_iter()
        .map(|(r, why)| (s.recorder.seed(vec![r]).remove(0), why))
        .collect();
    assert_eq!(good_ids.len() + bad_ids.len(), 30);

    // The dry run changes nothing and says it would fail.
    let events = event_counts(&env).await;
    let (code, out) = import(&env, &s.server, &["--dry-run"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("14 to import"), "{out}");
    assert_eq!(event_counts(&env).await, events);

    let (code, out) = import(&env, &s.server, &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("migrated 14"), "{out}");
    for (id, why) in &bad_ids {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("failed {id}:")) && l.contains(why)),
            "{id}: {why}\n{out}"
        );
    }
    for id in &good_ids {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("imported {id} as")) && l.contains("active")),
            "{id}\n{out}"
        );
    }
    // Every imported credential is active, primary where asked, and holds its secret.
    for (user, client) in [("alice", &s.alice), ("bob", &bob)] {
        let want: Vec<&(&str, String, String)> = good.iter().filter(|g| g.0 == user).collect();
        eventually(&format!("{user}'s imports"), || async {
            client
                .ok("{ credentials(service: \"notion\") { id } }", json!({}))
                .await["credentials"]
                .as_array()
                .unwrap()
                .len()
                == want.len()
        })
        .await;
        let listed = client
            .ok(
                "{ credentials(service: \"notion\") { id name status isPrimary } }",
                json!({}),
            )
            .await;
        for c in listed["credentials"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let (_, _, secret) = want
                .iter()
                .find(|g| g.1 == name)
                .unwrap_or_else(|| panic!("{name} was not in the records"));
            assert_eq!(c["status"], "ACTIVE", "{c}");
            assert_eq!(c["isPrimary"], name.ends_with(" 5"), "{c}");
            let revealed = client
                .ok(
                    "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
                    json!({"id": c["id"]}),
                )
                .await;
            assert_eq!(
                revealed["revealCredential"]["fields"]["token"],
                secret.as_str(),
                "{name}"
            );
        }
    }

    // A second run imports nothing (the failing ones still fail).
    let events = event_counts(&env).await;
    let (code, out) = import(&env, &s.server, &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("migrated 0"), "{out}");
    let after = event_counts(&env).await;
    assert_eq!(
        delta(&events, &after, "CredentialRegistered"),
        0,
        "{after:?}"
    );
}
on_both_backends!(importing_the_original_format_imports_the_good_and_explains_the_rest);

async fn credentials_imported_without_a_check_are_checked_by_the_revalidation(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    let secret = token(&s.server, "later");
    s.recorder.seed(vec![original(
        "alice",
        "notion",
        Some("Later"),
        Some(&secret),
    )]);
    let (code, out) = import(&env, &s.server, &["--no-validate"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("inactive"), "{out}");
    let status = || async {
        s.alice
            .ok("{ credentials(service: \"notion\") { status } }", json!({}))
            .await["credentials"][0]["status"]
            .clone()
    };
    eventually("the import to show", || async {
        status().await == "INACTIVE"
    })
    .await;

    let config = env.dir.path().join("import.toml");
    let mut cli = env.cli();
    cli.env("CREDLEDGER_CONFIG", &config)
        .args(["credentials", "validate-all"]);
    let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    eventually("the checked credential to be active", || async {
        status().await == "ACTIVE"
    })
    .await;
}
on_both_backends!(credentials_imported_without_a_check_are_checked_by_the_revalidation);

/// How many creates the server received.
fn creates(recorder: &RecordingMcpServer) -> usize {
    recorder
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// A server whose ids are longer than the ledger keeps (256 characters), in its answers and
/// lists alike, gets one create per change, not one per attempt: each attempt's create would
/// leave one more copy no id of the ledger's reaches. The credential is shown failed at once.
async fn a_server_whose_ids_the_ledger_cannot_keep_gets_one_create_per_change(env: TestEnv) {
    let s = stand(&env, fast_sync(), &["notion"]).await;
    s.recorder.set_id_length(300);
    let id = s
        .alice
        .add("notion", "one", json!({"token": token(&s.server, "one")}))
        .await;
    eventually("the copy shown failed", || async {
        sync_status(&s.alice, &id).await["syncStatus"] == "ERROR"
    })
    .await;
    // Three attempts 20 to 200 ms apart would all have been made by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(creates(&s.recorder), 1, "{:#?}", s.recorder.requests());
    assert_eq!(s.recorder.credentials().len(), 1);
    let error = sync_status(&s.alice, &id).await["syncError"].clone();
    assert!(
        error.as_str().is_some_and(|e| e.contains("unusable")),
        "{error}"
    );
    // A change is sent (and created) once more.
    s.alice
        .ok(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
            json!({"id": id, "i": {"name": "one renamed"}}),
        )
        .await;
    eventually("the change's create", || async {
        creates(&s.recorder) == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(creates(&s.recorder), 2, "{:#?}", s.recorder.requests());
}
on_both_backends!(a_server_whose_ids_the_ledger_cannot_keep_gets_one_create_per_change);

/// A create answered `2xx` with no id while the server made nothing (a proxy's page, say) and
/// lists every copy readably is a failed attempt as any: retried, it heals once the server
/// answers, with one copy.
async fn a_create_answered_without_an_id_and_not_made_is_retried_until_it_is(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    s.recorder
        .set_fault(Some(McpFault::CreateNotMadeAnsweredWith(
            "<html>down for maintenance</html>".into(),
        )));
    let id = s
        .alice
        .add("notion", "one", json!({"token": token(&s.server, "one")}))
        .await;
    eventually("a retried create", || async { creates(&s.recorder) >= 2 }).await;
    s.recorder.set_fault(None);
    eventually("the copy synced", || async {
        sync_status(&s.alice, &id).await["syncStatus"] == "SYNCED"
    })
    .await;
    assert_eq!(s.recorder.credentials().len(), 1);
}
on_both_backends!(a_create_answered_without_an_id_and_not_made_is_retried_until_it_is);

/// A create answered with the id of another credential's copy is not taken for this one's
/// (a later delete of it would remove the other's): the copy the create made is found by its
/// name and kept as this credential's, so revoking it deletes that copy, not the other.
async fn a_create_answered_with_another_credentials_copy_is_not_taken_for_its_own(env: TestEnv) {
    let s = stand(&env, fast_sync(), &["notion"]).await;
    let first = s
        .alice
        .add(
            "notion",
            "first",
            json!({"token": token(&s.server, "first")}),
        )
        .await;
    eventually("the first copy", || async { settled(&s.admin).await }).await;
    let (first_copy, _) = s.recorder.credentials().into_iter().next().unwrap();
    s.recorder.set_fault(Some(McpFault::CreateAnsweredWith(
        json!({"id": first_copy, "version": 1, "credential_id": first_copy}).to_string(),
    )));
    let second = s
        .alice
        .add(
            "notion",
            "second",
            json!({"token": token(&s.server, "second")}),
        )
        .await;
    eventually("both copies synced", || async { settled(&s.admin).await }).await;
    s.recorder.set_fault(None);
    assert_eq!(creates(&s.recorder), 2);
    assert_eq!(s.recorder.credentials().len(), 2);

    s.alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": second}),
        )
        .await;
    eventually("only the first copy left", || async {
        s.recorder.credentials().len() == 1
    })
    .await;
    assert!(s.recorder.credentials().contains_key(&first_copy));
    assert_eq!(copies(&s.recorder)[0].0, "first");
    assert_eq!(sync_status(&s.alice, &first).await["syncStatus"], "SYNCED");
}
on_both_backends!(a_create_answered_with_another_credentials_copy_is_not_taken_for_its_own);

/// `replay --all` on a server that kept its data (here while a deletion is queued, the server
/// answering 503) resends every copy to the copy the server holds and keeps the deletion: the
/// server ends with exactly the live copies. It forgot every id: the queued deletion was
/// dropped (the revoked secret stayed on the server for good) and each live copy was made a
/// second time, the first left behind, never deleted, when its credential was revoked later.
async fn replay_all_on_a_server_that_kept_its_data_leaves_no_second_copy_and_no_revoked_one(
    env: TestEnv,
) {
    let s = stand(&env, patient(), &["notion"]).await;
    let mut ids = Vec::new();
    for tag in ["first", "second", "third"] {
        let fields = json!({"token": token(&s.server, tag)});
        ids.push(s.alice.add("notion", tag, fields).await);
    }
    settles_quietly(&s).await;
    assert_eq!(s.recorder.credentials().len(), 3);
    let alice = &s.alice;
    let revoke = |id: String| async move {
        alice
            .ok(
                "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
                json!({"id": id}),
            )
            .await;
    };

    s.recorder.set_fault(Some(McpFault::Status(503)));
    revoke(ids[0].clone()).await;
    eventually("the deletion answered 503", || async {
        s.recorder
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.status == 503)
    })
    .await;
    let position = s
        .admin
        .ok("mutation { replayMcpServer(id: \"gw\") }", json!({}))
        .await["replayMcpServer"]
        .as_i64()
        .unwrap();
    let pool = env.any_pool().await;
    eventually("the replay in the read model", || async {
        let marked: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM mcp_sync WHERE wanted_position >= $1",
        )
        .bind(position)
        .fetch_one(&pool)
        .await
        .unwrap();
        marked >= 2
    })
    .await;
    s.recorder.set_fault(None);
    settles_quietly(&s).await;

    let heard = s.recorder.requests().len();
    revoke(ids[1].clone()).await;
    eventually("the second revocation's deletion", || async {
        s.recorder.requests()[heard..]
            .iter()
            .any(|r| r.method == "DELETE" && r.status < 300)
    })
    .await;
    settles_quietly(&s).await;
    assert_eq!(
        copies(&s.recorder),
        [(
            "third".into(),
            s.alice.user_id.clone(),
            true,
            "ntn_original_third".into()
        )]
    );
}
on_both_backends!(
    replay_all_on_a_server_that_kept_its_data_leaves_no_second_copy_and_no_revoked_one
);

/// A create answered without an id and not made is retried even while the server, ignoring
/// the list's filters, lists another person's record it cannot read: that record cannot be the
/// copy the create may have left. It stopped the retries for good (as a copy no id reaches).
async fn another_persons_unreadable_record_does_not_stop_a_create_from_being_retried(env: TestEnv) {
    let s = stand(&env, patient(), &["notion"]).await;
    s.recorder.set_ignores_filters(true);
    let mut bobs = original("bob", "notion", Some("Bob's"), Some("ntn_bob"));
    bobs["is_primary"] = json!(1);
    s.recorder.seed(vec![bobs]);
    s.recorder
        .set_fault(Some(McpFault::CreateNotMadeAnsweredWith(
            "<html>down for maintenance</html>".into(),
        )));
    let id = s
        .alice
        .add("notion", "one", json!({"token": token(&s.server, "one")}))
        .await;
    eventually("a retried create", || async { creates(&s.recorder) >= 2 }).await;
    s.recorder.set_fault(None);
    eventually("the copy synced", || async {
        sync_status(&s.alice, &id).await["syncStatus"] == "SYNCED"
    })
    .await;
    assert_eq!(s.recorder.credentials().len(), 2);
}
on_both_backends!(another_persons_unreadable_record_does_not_stop_a_create_from_being_retried);
