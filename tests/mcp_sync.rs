//! The replay adapter against a recording MCP server on loopback (a real HTTP server that
//! verifies signatures, de-duplicates by idempotency key, and can fail, slow down and go
//! down): order and signatures, queueing while it is down, failures and retries, drift,
//! `mcp replay --all`, and a `kill -9` of the real binary mid-sync.

use crate::on_both_backends;
use crate::support::api::{Client, Server};
use crate::support::mcp::{
    fast_sync, grant, jobs_with, register, register_for_everyone, sync_status,
};
use crate::support::mcp_recorder::{Op, RecordingMcpServer};
use crate::support::{eventually, TestEnv};
use credledger::mcp::sync::SyncSettings;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The recorder's copies by credential name: (user, primary, data, version).
fn copies(recorder: &RecordingMcpServer) -> BTreeMap<String, (String, bool, Value, Option<u64>)> {
    recorder
        .credentials()
        .into_values()
        .map(|c| {
            (
                c["credential_name"].as_str().unwrap_or_default().to_owned(),
                (
                    c["user_id"].as_str().unwrap_or_default().to_owned(),
                    c["is_primary"].as_bool().unwrap_or(false),
                    c["credential_data"].clone(),
                    c["ledger_version"].as_u64(),
                ),
            )
        })
        .collect()
}

/// Renames the credential `id` as `client`.
async fn rename(client: &Client, id: &str, name: &str) {
    client
        .ok(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
            json!({"id": id, "i": {"name": name}}),
        )
        .await;
}

async fn server(env: &TestEnv, sync: SyncSettings) -> Server {
    env.server_with_jobs(|_| {}, jobs_with(sync)).await
}

/// A server whose sender has `sync` as its settings, a recording MCP server `gw` allowed notion
/// for everyone, and alice's notion credential "Work" synced to it: (server, recording
/// server, alice, Work's id).
async fn one_synced_copy(
    env: &TestEnv,
    sync: SyncSettings,
) -> (Server, RecordingMcpServer, Client, String) {
    let server = server(env, sync).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    eventually("synced", || async {
        sync_status(&alice, &work).await["syncStatus"] == "SYNCED"
    })
    .await;
    (server, recorder, alice, work)
}

async fn changes_reach_the_mcp_server_in_order_with_valid_signatures(env: TestEnv) {
    let server = server(&env, fast_sync()).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion", "jira"]).await;
    let alice = server.user("alice").await;
    grant(&alice, "gw", "notion").await;

    // Create.
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    eventually("the create", || async {
        copies(&recorder).contains_key("Work")
    })
    .await;
    let (user, primary, data, _) = copies(&recorder)["Work"].clone();
    assert_eq!(user, "alice");
    assert!(primary);
    assert_eq!(data, server.good_fields("notion", 0));
    eventually("the credential to show synced", || async {
        sync_status(&alice, &work).await["syncStatus"] == "SYNCED"
    })
    .await;

    // Update (rename), second account, primary change.
    rename(&alice, &work, "Work account").await;
    eventually("the rename", || async {
        copies(&recorder).contains_key("Work account")
    })
    .await;
    let personal = alice
        .add("notion", "Personal", server.good_fields("notion", 1))
        .await;
    eventually("the second create", || async {
        copies(&recorder).contains_key("Personal")
    })
    .await;
    alice
        .ok(
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id } }",
            json!({"id": personal}),
        )
        .await;
    eventually("the primary change", || async {
        let c = copies(&recorder);
        c.get("Personal").is_some_and(|p| p.1) && c.get("Work account").is_some_and(|w| !w.1)
    })
    .await;

    // Revoke, then erase: both deleted from the MCP server.
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": work}),
        )
        .await;
    eventually("the revoked copy to go", || async {
        !copies(&recorder).contains_key("Work account")
    })
    .await;
    alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": personal}),
        )
        .await;
    eventually("the erased copy to go", || async {
        recorder.credentials().is_empty()
    })
    .await;

    // Every request was signed; each change was applied once, in ledger order per copy.
    let requests = recorder.requests();
    assert!(requests.iter().all(|r| r.signature_valid), "{requests:#?}");
    let applied = recorder.applied();
    let mut keys: Vec<_> = applied.iter().map(|a| a.idempotency_key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        applied.len(),
        "an idempotency key applied twice"
    );
    let mut by_copy: BTreeMap<String, Vec<(Op, Option<u64>)>> = BTreeMap::new();
    for a in &applied {
        by_copy
            .entry(a.mcp_id.clone())
            .or_default()
            .push((a.op, a.ledger_version));
    }
    assert_eq!(by_copy.len(), 2, "{by_copy:#?}");
    for (mcp_id, ops) in &by_copy {
        assert_eq!(
            ops.first().map(|o| &o.0),
            Some(&Op::Create),
            "{mcp_id}: {ops:?}"
        );
        assert_eq!(
            ops.last().map(|o| &o.0),
            Some(&Op::Delete),
            "{mcp_id}: {ops:?}"
        );
        let versions: Vec<u64> = ops.iter().filter_map(|o| o.1).collect();
        assert!(
            versions.windows(2).all(|w| w[0] <= w[1]),
            "{mcp_id}: versions out of order: {ops:?}"
        );
    }
    // Work: create, rename, no longer primary, deleted on revocation.
    let work_ops = by_copy
        .values()
        .find(|ops| ops.len() == 4)
        .map(|ops| ops.iter().map(|o| o.0).collect::<Vec<_>>());
    assert_eq!(
        work_ops,
        Some(vec![Op::Create, Op::Update, Op::Update, Op::Delete])
    );

    // The outcomes are in the ledger, with the server's id.
    let audit = alice
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type } }",
            json!({"id": work}),
        )
        .await;
    let actions: Vec<&str> = audit["credentialHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(actions.contains(&"CredentialSyncedToMcp"), "{actions:?}");
    assert!(actions.contains(&"CredentialRemovedFromMcp"), "{actions:?}");
}
on_both_backends!(changes_reach_the_mcp_server_in_order_with_valid_signatures);

async fn while_the_mcp_server_is_down_changes_queue_and_arrive_once_it_is_back(env: TestEnv) {
    let server = server(&env, fast_sync()).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;

    recorder.go_down().await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    rename(&alice, &work, "Work (renamed while down)").await;
    // After three failed attempts the credential shows the error, with the reason.
    eventually("the error to show", || async {
        sync_status(&alice, &work).await["syncStatus"] == "ERROR"
    })
    .await;
    let status = sync_status(&alice, &work).await;
    assert!(
        status["syncError"]
            .as_str()
            .is_some_and(|e| e.contains("could not reach the MCP server")),
        "{status}"
    );
    let dashboard = alice
        .ok("{ dashboard { syncErrors pendingSync } }", json!({}))
        .await;
    assert_eq!(dashboard["dashboard"]["syncErrors"], 1, "{dashboard}");
    // Backing off (an hour after the last attempt), the failed copy is no work for the sender's
    // wake-ups (each would take the lease for nothing); due, it is.
    let pool = env.any_pool().await;
    let has_work = |at: chrono::DateTime<chrono::Utc>| {
        let pool = pool.clone();
        async move {
            credledger_projections::mcp_sync::has_work(
                &pool,
                &credledger_adapters::db::timestamp(at),
            )
            .await
            .unwrap()
        }
    };
    let now = chrono::Utc::now();
    assert!(!has_work(now).await, "a copy backing off is not due");
    assert!(
        has_work(now + chrono::Duration::hours(2)).await,
        "due once its time comes"
    );
    // A second credential while it is down: pending (not yet failed three times) or error.
    let personal = alice
        .add("notion", "Personal", server.good_fields("notion", 1))
        .await;

    recorder.come_back().await.unwrap();
    // `mcp retry-failed` makes the failed one due now (serve would retry it within the hour).
    let out = env
        .cli()
        .args(["mcp", "retry-failed", "--target", "gw"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("both to arrive", || async {
        let c = copies(&recorder);
        c.contains_key("Work (renamed while down)") && c.contains_key("Personal")
    })
    .await;
    for id in [&work, &personal] {
        eventually("synced", || async {
            sync_status(&alice, id).await["syncStatus"] == "SYNCED"
        })
        .await;
    }
    // The changes made while it was down arrived as the current state: one create each.
    let creates = recorder
        .applied()
        .iter()
        .filter(|a| a.op == Op::Create)
        .count();
    assert_eq!(creates, 2);
    let status = env.cli().args(["mcp", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("gw")
            && l.split_whitespace().collect::<Vec<_>>() == ["gw", "0", "2", "0", "0"]),
        "{text}"
    );
}
on_both_backends!(while_the_mcp_server_is_down_changes_queue_and_arrive_once_it_is_back);

/// Rows backing off are left out before the sender's limit is applied: however many there are
/// (here two failed changes, with a limit of one), a newer change is still work, and none is
/// once every row backs off. (The 500 oldest rows failing again and again held back every newer
/// change of their server, deletes included.)
async fn rows_backing_off_never_hold_back_a_newer_change(env: TestEnv) {
    use credledger_adapters::db::timestamp;
    use credledger_projections::mcp_sync::{due_rows, has_work};
    let _ledger = env.ledger().await;
    let pool = env.any_pool().await;
    for (credential, position) in [("c1", 1i64), ("c2", 2), ("c3", 3)] {
        sqlx::query(
            "INSERT INTO mcp_sync (server_id, credential_id, user_id, service, action, \
             wanted_position, changed_position, status, error) \
             VALUES ('gw', $1, 'alice', 'notion', 'upsert', $2, $2, 'error', 'HTTP 422')",
        )
        .bind(credential)
        .bind(position)
        .execute(&pool)
        .await
        .unwrap();
    }
    let backing_off = |credential: &'static str, position: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO mcp_deliveries (server_id, credential_id, wanted_position, \
                 attempts, next_attempt_at, last_error) VALUES ('gw', $1, $2, 8, $3, 'HTTP 422')",
            )
            .bind(credential)
            .bind(position)
            .bind(timestamp(chrono::Utc::now() + chrono::Duration::hours(1)))
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    backing_off("c1", 1).await;
    backing_off("c2", 2).await;
    let now = timestamp(chrono::Utc::now());
    let due = due_rows(&pool, "gw", &now, 1).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|r| r.credential_id.as_str()).collect();
    assert_eq!(ids, ["c3"]);
    assert!(has_work(&pool, &now).await.unwrap());
    backing_off("c3", 3).await;
    assert!(due_rows(&pool, "gw", &now, 500).await.unwrap().is_empty());
    assert!(!has_work(&pool, &now).await.unwrap());
}
on_both_backends!(rows_backing_off_never_hold_back_a_newer_change);

/// A copy made again after the server lost the confirmed one, whose create's answer was lost,
/// is deleted with the confirmed one when the credential is revoked: no copy of a revoked
/// secret stays on the server (the delete of the lost copy answered 404, counted as gone, and
/// the unconfirmed copy kept the secret).
async fn a_revoked_credential_leaves_no_copy_made_again_unconfirmed(env: TestEnv) {
    use crate::support::mcp_recorder::McpFault;
    // Retries wait long enough for the revocation to come first.
    let slow_retries = SyncSettings {
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(30),
        ..fast_sync()
    };
    let (_server, recorder, alice, work) = one_synced_copy(&env, slow_retries).await;
    let (confirmed, _) = recorder.credentials().into_iter().next().unwrap();
    recorder.forget(&confirmed);
    recorder.set_fault(Some(McpFault::LoseCreateAnswer(503)));
    rename(&alice, &work, "Work (renamed)").await;
    // The update finds the copy gone and creates it again; the answer is lost.
    eventually("the copy made again", || async {
        copies(&recorder).contains_key("Work (renamed)")
    })
    .await;
    recorder.set_fault(None);
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": work}),
        )
        .await;
    eventually("no copy left", || async {
        recorder.credentials().is_empty()
    })
    .await;
}
on_both_backends!(a_revoked_credential_leaves_no_copy_made_again_unconfirmed);

const RETRY: &str = "mutation($id: ID!) { retrySync(id: $id) }";

/// A removal answered `200` with a page that is not JSON (a sign-in or maintenance proxy in
/// front of the server answers every request so) is a failed attempt, not a removal: the copy,
/// which the server still holds with the revoked secret, stays known to the ledger, and is
/// deleted once the server itself answers. It was recorded removed, its id forgotten.
async fn a_removal_answered_with_a_proxys_page_is_not_taken_for_done(env: TestEnv) {
    use crate::support::mcp_recorder::McpFault;
    let (_server, recorder, alice, work) = one_synced_copy(&env, fast_sync()).await;
    let pool = env.any_pool().await;
    // A server's own answer, if only a word of text, is taken.
    recorder.set_fault(Some(McpFault::Answer(200, "OK".into())));
    rename(&alice, &work, "Work renamed").await;
    eventually("the rename taken as applied", || async {
        let synced: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = 'CredentialSyncedToMcp'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        synced == 2
    })
    .await;
    let left = rows_left_after_a_revocation_answered(
        &pool,
        &recorder,
        &alice,
        &work,
        200,
        "<html><body>Sign in to continue</body></html>",
    )
    .await;
    assert_eq!(left.len(), 1, "the copy was taken for removed");
    assert!(left[0].1.is_some(), "{left:?}");
    assert_eq!(recorder.credentials().len(), 1);

    recorder.set_fault(None);
    assert_eq!(alice.ok(RETRY, json!({"id": work})).await["retrySync"], 1);
    eventually("the revoked copy to go", || async {
        recorder.credentials().is_empty()
    })
    .await;
}
on_both_backends!(a_removal_answered_with_a_proxys_page_is_not_taken_for_done);

/// Revokes `work` while the MCP server answers every request `status` with `body`, and reads
/// the sync rows (status, copy id) once the removal's attempts have run out or its row is gone.
async fn rows_left_after_a_revocation_answered(
    pool: &sqlx::AnyPool,
    recorder: &RecordingMcpServer,
    alice: &Client,
    work: &str,
    status: u16,
    body: &str,
) -> Vec<(String, Option<String>)> {
    recorder.set_fault(Some(crate::support::mcp_recorder::McpFault::Answer(
        status,
        body.into(),
    )));
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { status } }",
            json!({"id": work}),
        )
        .await;
    let rows = || async {
        sqlx::query_as::<_, (String, Option<String>)>("SELECT status, mcp_id FROM mcp_sync")
            .fetch_all(pool)
            .await
            .unwrap()
    };
    eventually(
        "the removal's attempts to run out, or the row to go",
        || async {
            let rows = rows().await;
            rows.is_empty() || rows[0].0 == "error"
        },
    )
    .await;
    rows().await
}

/// A removal answered `404` with a proxy's HTML page (its route to the server gone, the server
/// behind it down) is a failed attempt, not "already gone": the server may still hold the
/// revoked secret. It was recorded removed, its id forgotten.
async fn a_removal_answered_with_a_proxys_404_page_is_not_taken_for_gone(env: TestEnv) {
    let (_server, recorder, alice, work) = one_synced_copy(&env, fast_sync()).await;
    let pool = env.any_pool().await;
    let left = rows_left_after_a_revocation_answered(
        &pool,
        &recorder,
        &alice,
        &work,
        404,
        "<html>404 Not Found</html>",
    )
    .await;
    assert_eq!(left.len(), 1, "the copy was taken for gone");
    assert!(left[0].1.is_some(), "{left:?}");
    let removed: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = 'CredentialRemovedFromMcp'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(removed, 0);
    assert_eq!(recorder.credentials().len(), 1);

    recorder.set_fault(None);
    assert_eq!(alice.ok(RETRY, json!({"id": work})).await["retrySync"], 1);
    eventually("the revoked copy to go", || async {
        recorder.credentials().is_empty()
    })
    .await;
}
on_both_backends!(a_removal_answered_with_a_proxys_404_page_is_not_taken_for_gone);

/// A step reads its rows once; a grant withdrawn while it works through them (a slow server,
/// here one holding the first request) stops the plaintext of the rows not begun: none of them
/// is sent. Each was sent, the person's secrets going to a server they had just withdrawn.
async fn a_grant_withdrawn_during_a_step_stops_the_secrets_of_the_rows_not_begun(env: TestEnv) {
    let server = server(&env, fast_sync()).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    for name in ["One", "Two", "Three"] {
        let token = format!("ntn_withdrawn_{name}");
        let account = credledger_adapters::simulator::SimAccount::new(
            format!("acct-{name}"),
            name.to_owned(),
            format!("{name}@example.com"),
        );
        server.simulator.accept("notion", &token, account);
        alice.add("notion", name, json!({"token": token})).await;
    }
    // The grant makes three rows due at once; the first request (the listing before the first
    // create) is held at the server while the grant is withdrawn.
    recorder.hold_requests();
    grant(&alice, "gw", "notion").await;
    eventually("the first request", || async { recorder.arrived() >= 1 }).await;
    alice
        .ok(
            "mutation { withdrawMcpAccess(serverId: \"gw\", service: \"notion\") }",
            json!({}),
        )
        .await;
    let pool = env.any_pool().await;
    eventually("the withdrawal in the read model", || async {
        let grants: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM mcp_grants")
            .fetch_one(&pool)
            .await
            .unwrap();
        grants == 0
    })
    .await;
    recorder.release_requests();
    eventually("nothing left to send", || async {
        let rows: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM mcp_sync")
            .fetch_one(&pool)
            .await
            .unwrap();
        rows == 0
    })
    .await;
    // The row begun before the withdrawal had its body made: its create went out (and its copy
    // was deleted since). No other row's did.
    let with_secrets: Vec<String> = recorder
        .requests()
        .iter()
        .filter_map(|r| r.body.as_ref())
        .filter(|b| b["user_id"] == alice.user_id.as_str())
        .map(|b| b["credential_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(with_secrets.len(), 1, "{with_secrets:?}");
    assert!(recorder.credentials().is_empty());
}
on_both_backends!(a_grant_withdrawn_during_a_step_stops_the_secrets_of_the_rows_not_begun);

async fn a_person_retries_a_failed_copy_now(env: TestEnv) {
    let server = server(&env, fast_sync()).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;

    recorder.go_down().await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    eventually("the error to show", || async {
        sync_status(&alice, &work).await["syncStatus"] == "ERROR"
    })
    .await;
    // The administrators' metrics name the credential that failed, to offer its retry.
    let admin = server.admin("root").await;
    eventually("the failure named", || async {
        failed_syncs(&admin).await
            == json!({
                "failedSyncs": [{ "credentialId": work }],
                "failedSyncCredentials": [{ "id": work, "name": "Work" }],
            })
    })
    .await;
    recorder.come_back().await.unwrap();
    // Someone else's credential is not there for them.
    assert_eq!(
        bob.gql(RETRY, json!({"id": work})).await.code(),
        "NOT_FOUND"
    );
    // The sender would try again in an hour (fast_sync's `retry_failed_every`); asked, now.
    let retried = alice.ok(RETRY, json!({"id": work})).await;
    assert_eq!(retried["retrySync"], 1);
    eventually("the copy to arrive", || async {
        copies(&recorder).contains_key("Work")
    })
    .await;
    eventually("synced", || async {
        sync_status(&alice, &work).await["syncStatus"] == "SYNCED"
    })
    .await;
    // Nothing failed any more: nothing to retry.
    assert_eq!(alice.ok(RETRY, json!({"id": work})).await["retrySync"], 0);
    // Erased, it is no longer named: the failure stays in the trail.
    alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": work}),
        )
        .await;
    eventually("the failure unnamed", || async {
        failed_syncs(&admin).await
            == json!({ "failedSyncs": [{ "credentialId": work }], "failedSyncCredentials": [] })
    })
    .await;
    server.running.stop().await.unwrap();
}

async fn failed_syncs(admin: &Client) -> Value {
    admin
        .ok(
            "{ systemMetrics { failedSyncs { credentialId } failedSyncCredentials { id name } } }",
            json!({}),
        )
        .await["systemMetrics"]
        .clone()
}
on_both_backends!(a_person_retries_a_failed_copy_now);

/// An MCP server may ask for any wait in `Retry-After`, even more seconds than any date holds:
/// it is honoured up to the failed copies' retry interval (an hour here), and the sender goes
/// on with the other servers (it panicked, and nothing more was sent anywhere).
async fn a_retry_after_longer_than_any_date_waits_the_retry_interval_and_the_sender_goes_on(
    env: TestEnv,
) {
    use crate::support::mcp_recorder::McpFault;
    let server = server(&env, fast_sync()).await;
    let asking = RecordingMcpServer::start(vec![]).await.unwrap();
    let healthy = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &asking, "asking", &["notion"]).await;
    register_for_everyone(&server, &healthy, "healthy", &["notion"]).await;
    asking.set_fault(Some(McpFault::StatusWithRetryAfter(503, u64::MAX)));
    let alice = server.user("alice").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let pool = env.any_pool().await;
    let next_attempt = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT next_attempt_at FROM mcp_deliveries WHERE server_id = 'asking' \
             AND credential_id = $1 AND attempts >= 1",
        )
        .bind(work.clone())
        .fetch_optional(&pool)
        .await
        .unwrap()
    };
    eventually("the refused attempt to be counted", || async {
        next_attempt().await.is_some()
    })
    .await;
    let at = chrono::DateTime::parse_from_rfc3339(&next_attempt().await.unwrap()).unwrap();
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::minutes(50) && wait <= chrono::Duration::hours(1),
        "the server's wait, bounded by the retry interval: {wait}"
    );
    // The sender is still at work: a later credential reaches the healthy server.
    alice
        .add("notion", "Personal", server.good_fields("notion", 1))
        .await;
    eventually("the later credential to arrive", || async {
        copies(&healthy).contains_key("Personal")
    })
    .await;
    assert!(asking.credentials().is_empty());
}
on_both_backends!(
    a_retry_after_longer_than_any_date_waits_the_retry_interval_and_the_sender_goes_on
);

async fn a_copy_whose_version_drifted_is_marked_and_resent(env: TestEnv) {
    let drift = SyncSettings {
        drift_every: Duration::from_millis(200),
        ..fast_sync()
    };
    let (_server, recorder, alice, work) = one_synced_copy(&env, drift).await;
    let (mcp_id, copy) = recorder.credentials().into_iter().next().unwrap();
    let version = copy["ledger_version"].as_u64().unwrap();
    let updates_before = recorder
        .applied()
        .iter()
        .filter(|a| a.op == Op::Update)
        .count();
    recorder.set_reported_version(&mcp_id, version + 40);
    eventually("the drifted copy to be resent", || async {
        recorder.credentials()[&mcp_id]["ledger_version"].as_u64() == Some(version)
    })
    .await;
    assert!(
        recorder
            .applied()
            .iter()
            .filter(|a| a.op == Op::Update)
            .count()
            > updates_before
    );
    let history = alice
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type } }",
            json!({"id": work}),
        )
        .await;
    assert!(
        history["credentialHistory"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "CredentialDriftedOnMcp"),
        "{history}"
    );
    eventually("synced again", || async {
        sync_status(&alice, &work).await["syncStatus"] == "SYNCED"
    })
    .await;
}
on_both_backends!(a_copy_whose_version_drifted_is_marked_and_resent);

/// A server that changes what it is sent (it refreshes an OAuth token itself, replacing the
/// secret after each write) is recorded drifted once for the version it was sent: resent, and
/// differing still, it is not recorded and resent again at every check (two events per copy
/// each time, for ever).
async fn a_server_that_rewrites_what_it_is_sent_is_recorded_drifted_once_per_version(env: TestEnv) {
    let drift = SyncSettings {
        drift_every: Duration::from_millis(100),
        ..fast_sync()
    };
    let (_server, recorder, _alice, _work) = one_synced_copy(&env, drift).await;
    let (mcp_id, _) = recorder.credentials().into_iter().next().unwrap();
    let pool = env.any_pool().await;
    let count = |kind: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = $1",
            )
            .bind(kind)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let puts = |recorder: &RecordingMcpServer| {
        recorder
            .requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .count()
    };
    // The server refreshes the token now, and after every write from now on.
    recorder.set_rewrites_data(true);
    recorder.set_field(&mcp_id, "credential_data", json!({"token": "refreshed"}));
    eventually("the drift recorded and the copy resent", || async {
        count("CredentialDriftedOnMcp").await == 1 && puts(&recorder) >= 1
    })
    .await;
    let lists = recorder
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    eventually("four more drift checks", || async {
        recorder
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .count()
            >= lists + 4
    })
    .await;
    assert_eq!(count("CredentialDriftedOnMcp").await, 1);
    assert_eq!(puts(&recorder), 1);
    // Restored from a backup, the server holds an older version of the copy: that drift is
    // recorded and the copy resent, once-per-version or not.
    recorder.set_reported_version(&mcp_id, 0);
    eventually(
        "the older version recorded as a drift and resent",
        || async { count("CredentialDriftedOnMcp").await == 2 && puts(&recorder) == 2 },
    )
    .await;
}
on_both_backends!(a_server_that_rewrites_what_it_is_sent_is_recorded_drifted_once_per_version);

/// A copy the server lists in a shape the ledger cannot read (here `is_primary: 1`) is neither
/// missing nor drifted: the drift checks record nothing and resend nothing (each check recorded
/// a drift and resent the secret while the server kept listing it so).
async fn a_copy_listed_unreadably_is_not_recorded_as_drifted(env: TestEnv) {
    let drift = SyncSettings {
        drift_every: Duration::from_millis(100),
        ..fast_sync()
    };
    let (_server, recorder, alice, work) = one_synced_copy(&env, drift).await;
    let (mcp_id, _) = recorder.credentials().into_iter().next().unwrap();
    let lists = |recorder: &RecordingMcpServer| {
        recorder
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .count()
    };
    recorder.set_field(&mcp_id, "is_primary", json!(1));
    let before = lists(&recorder);
    eventually("three drift checks", || async {
        lists(&recorder) >= before + 3
    })
    .await;
    let history = alice
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type } }",
            json!({"id": work}),
        )
        .await;
    assert!(
        !history["credentialHistory"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "CredentialDriftedOnMcp"),
        "{history}"
    );
    assert!(recorder.applied().iter().all(|a| a.op == Op::Create));
}
on_both_backends!(a_copy_listed_unreadably_is_not_recorded_as_drifted);

async fn replay_all_rebuilds_an_emptied_mcp_server_to_the_same_state(env: TestEnv) {
    let server = server(&env, fast_sync()).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion", "jira"]).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    grant(&alice, "gw", "notion").await;
    grant(&bob, "gw", "notion").await;
    alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let personal = alice
        .add("notion", "Personal", server.good_fields("notion", 1))
        .await;
    alice
        .ok(
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id } }",
            json!({"id": personal}),
        )
        .await;
    bob.add("notion", "Team", server.good_fields("notion", 0))
        .await;
    // Not granted: never sent.
    alice
        .add("jira", "Jira", server.good_fields("jira", 0))
        .await;
    eventually("three copies, settled", || async {
        let c = copies(&recorder);
        c.len() == 3 && c.get("Personal").is_some_and(|p| p.1)
    })
    .await;
    let admin_status = || async {
        admin
            .ok("{ mcpSyncStatus { serverId status count } }", json!({}))
            .await
    };
    eventually("all synced", || async {
        admin_status().await["mcpSyncStatus"]
            == json!([{"serverId": "gw", "status": "SYNCED", "count": 3}])
    })
    .await;
    let before = copies(&recorder);

    recorder.clear();
    assert!(recorder.credentials().is_empty());
    let out = env
        .cli()
        .args(["mcp", "replay", "--target", "gw", "--all"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the copy rebuilt", || async {
        copies(&recorder).len() == 3
    })
    .await;
    let strip = |c: BTreeMap<String, (String, bool, Value, Option<u64>)>| {
        c.into_iter()
            .map(|(k, (u, p, d, _))| (k, (u, p, d)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(strip(copies(&recorder)), strip(before));
    // A replay needs a known server and one of --all / --from.
    let unknown = env
        .cli()
        .args(["mcp", "replay", "--target", "nope", "--all"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    let neither = env
        .cli()
        .args(["mcp", "replay", "--target", "gw"])
        .output()
        .unwrap();
    assert_eq!(neither.status.code(), Some(2));
}
on_both_backends!(replay_all_rebuilds_an_emptied_mcp_server_to_the_same_state);

/// `credledger serve` (the real binary) on `env`'s ledger with a fast sender and a short lease
/// (6 s, as short as the slow server's requests allow).
fn serve_binary(env: &TestEnv) -> std::process::Child {
    env.cli()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CREDLEDGER_MCP_POLL_MS", "50")
        .env("CREDLEDGER_MCP_RETRY_BASE_MS", "20")
        .env("CREDLEDGER_MCP_RETRY_MAX_MS", "200")
        // A request ends within a sixth of the lease (configuration refuses more).
        .env("CREDLEDGER_MCP_LEASE_TTL_MS", "6000")
        .env("CREDLEDGER_MCP_TIMEOUT_MS", "900")
        .env("CREDLEDGER_MCP_SYNC_ATTEMPTS", "50")
        .env("CREDLEDGER_REVALIDATE_INTERVAL_SECS", "86400")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A recording MCP server registered through `servers` as `gw`, allowed notion for everyone.
async fn gateway(servers: &credledger::mcp::McpServers) -> RecordingMcpServer {
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let secret = servers
        .register(
            credledger::mcp::NewMcpServer {
                server_id: "gw".into(),
                name: "gateway".into(),
                base_url: recorder.base_url(),
                allowed_services: vec!["notion".into()],
                serves_all_users: true,
            },
            credledger::mcp::Authority::Operator,
            &crate::support::meta("root"),
        )
        .await
        .unwrap();
    recorder.set_secrets(vec![secret.0.as_bytes().to_vec()]);
    recorder
}

/// A ledger with alice's Notion credentials named `names` (checked, not yet sent anywhere),
/// the read models caught up, and the recording server registered as `gw` for them.
async fn gateway_with_credentials(
    env: &TestEnv,
    names: &[String],
) -> (
    std::sync::Arc<credledger::Ledger>,
    std::sync::Arc<credledger::mcp::McpServers>,
    RecordingMcpServer,
) {
    use crate::support::{meta, register_with, valid};
    let ledger = env.ledger().await;
    let servers = std::sync::Arc::new(
        credledger::mcp::McpServers::new(ledger.clone()).with_outbound(env.settings().outbound),
    );
    let recorder = gateway(&servers).await;
    for name in names {
        let fields = format!(r#"{{"token":"ntn_alice_{name}_0000000000000000000000"}}"#);
        register_with(
            &ledger,
            "alice",
            "notion",
            name,
            &fields,
            Some(valid(&format!("acct-{name}"))),
            &meta("alice"),
        )
        .await
        .unwrap();
    }
    ledger.projections.catch_up().await.unwrap();
    (ledger, servers, recorder)
}

async fn a_kill_9_mid_sync_resumes_and_each_change_is_applied_exactly_once(env: TestEnv) {
    use crate::support::{meta, register_with, valid};
    use credledger::mcp::McpServers;
    let ledger = env.ledger().await;
    let servers = McpServers::new(ledger.clone()).with_outbound(env.settings().outbound);
    let recorder = gateway(&servers).await;
    // Slow enough that the kill lands while requests are in flight.
    recorder.set_fault(Some(crate::support::mcp_recorder::McpFault::Slow(
        Duration::from_millis(300),
    )));
    let mut child = serve_binary(&env);

    // Twelve changes on six credentials of two users, through the ledger's use cases.
    let mut ids = Vec::new();
    for (user, n) in [("alice", 0), ("alice", 1), ("bob", 0), ("carol", 0)] {
        let fields = format!(r#"{{"token":"ntn_{user}_{n}_00000000000000000000"}}"#);
        let id = register_with(
            &ledger,
            user,
            "notion",
            &format!("{user}-{n}"),
            &fields,
            Some(valid(&format!("{user}-acct-{n}"))),
            &meta(user),
        )
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    ledger.projections.catch_up().await.unwrap();
    ledger
        .update(&ids[0], Some("alice-0 renamed"), None, &meta("alice"))
        .await
        .unwrap();
    ledger.set_primary(&ids[1], &meta("alice")).await.unwrap();
    ledger
        .revoke(&ids[2], Some("leaked".into()), &meta("bob"))
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    ledger
        .update(&ids[3], Some("carol renamed"), None, &meta("carol"))
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();

    // Killed once two changes are applied and more are queued or in flight.
    eventually("two changes applied", || async {
        recorder.applied().len() >= 2
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let sent_before_the_kill = recorder.requests().len();
    recorder.set_fault(None);

    let mut child = serve_binary(&env);
    let pool = env.any_pool().await;
    eventually("every copy settled after the restart", || async {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT credential_id, status FROM mcp_sync")
                .fetch_all(&pool)
                .await
                .unwrap();
        rows.len() == 3 && rows.iter().all(|(_, s)| s == "synced")
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    // The MCP server holds exactly the ledger's state.
    let c = copies(&recorder);
    let names: Vec<&str> = c.keys().map(String::as_str).collect();
    assert_eq!(names, ["alice-0 renamed", "alice-1", "carol renamed"]);
    assert!(c["alice-1"].1 && !c["alice-0 renamed"].1 && c["carol renamed"].1);
    assert_eq!(
        c["carol renamed"].2,
        json!({"token": "ntn_carol_0_00000000000000000000"})
    );
    // After de-duplication by idempotency key, each change was applied exactly once.
    let applied = recorder.applied();
    let mut keys: Vec<&str> = applied.iter().map(|a| a.idempotency_key.as_str()).collect();
    keys.sort_unstable();
    let unique = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), unique, "a change applied twice: {applied:#?}");
    assert!(recorder.requests().len() > sent_before_the_kill);
    // Bob's revoked credential was created (maybe) and in any case is not held.
    assert!(c.values().all(|(user, ..)| user != "bob"));
}
on_both_backends!(a_kill_9_mid_sync_resumes_and_each_change_is_applied_exactly_once);

/// A sender of `servers` holding its lease, as `instance-a`, for 900 ms at a time.
fn sender_with_a_short_lease(
    ledger: &credledger::Ledger,
    servers: std::sync::Arc<credledger::mcp::servers::McpServers>,
) -> credledger::mcp::sync::McpSync {
    credledger::mcp::sync::McpSync::new(
        servers,
        SyncSettings {
            lease_ttl: Duration::from_millis(900),
            ..fast_sync()
        },
        credledger::jobs::Leases::with_holder(ledger.db.clone(), "instance-a"),
    )
}

/// Holds back every renewal of the MCP sync lease for `how_long`: its row locked by another
/// transaction on PostgreSQL, this process's writer held on SQLite.
async fn hold_lease_renewals(env: &TestEnv, ledger: &credledger::Ledger, how_long: Duration) {
    let pool = env.any_pool().await;
    let mut locked = pool.begin().await.unwrap();
    if env.backend == credledger_adapters::Backend::Postgres {
        sqlx::query("SELECT name FROM leases WHERE name = 'mcp_sync' FOR UPDATE")
            .execute(&mut *locked)
            .await
            .unwrap();
    }
    let writer = ledger.db.exclusive().await;
    tokio::time::sleep(how_long).await;
    drop(writer);
    locked.rollback().await.unwrap();
}

/// A sender whose lease's renewal goes unanswered (its row locked by another transaction on
/// PostgreSQL, this process's writer held on SQLite) stops its pass once the lease may have
/// lapsed, rather than send on beside the next holder: the rows it did not begin wait.
async fn a_sender_whose_lease_may_have_lapsed_stops_its_pass(env: TestEnv) {
    use std::sync::Arc;
    const COPIES: usize = 30;
    let names: Vec<String> = (0..COPIES).map(|n| format!("n{n:02}")).collect();
    let (ledger, servers, recorder) = gateway_with_credentials(&env, &names).await;
    // 30 creates of 200 ms each: 6 s, far longer than the lease's 900 ms.
    recorder.set_fault(Some(crate::support::mcp_recorder::McpFault::Slow(
        Duration::from_millis(200),
    )));
    let sync = Arc::new(sender_with_a_short_lease(&ledger, servers));
    let pass = tokio::spawn({
        let sync = sync.clone();
        async move { sync.locked_pass(false).await }
    });
    eventually("the first create", || async {
        !recorder.requests().is_empty()
    })
    .await;

    // Past the lease's end, whatever renewal came just before the lock.
    hold_lease_renewals(&env, &ledger, Duration::from_millis(2_500)).await;
    let at_release = recorder.requests().len();
    let report = tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("the pass did not end")
        .unwrap()
        .unwrap()
        .expect("the lease was taken");
    // At most the create in flight when the hold lapsed is answered after it.
    assert!(
        recorder.requests().len() <= at_release + 1,
        "{} requests at the release, {} at the end",
        at_release,
        recorder.requests().len()
    );
    assert!(report["gw"].lease_lost, "{report:?}");
    assert!(report["gw"].sent < COPIES as u64, "{report:?}");
    ledger.db.close().await;
}
on_both_backends!(a_sender_whose_lease_may_have_lapsed_stops_its_pass);

/// A row's requests are made only while the lease is held, not only its first: a lease that
/// may have lapsed while the listing before a create was under way (held at the server, as a
/// paused process would be) stops the row before its create, and nothing of it is recorded;
/// the next holder makes the one copy. Without the check the create went out, beside whatever
/// the next holder sent for the same row (a second copy on a server that ignores
/// `Idempotency-Key`).
async fn a_row_whose_lease_lapses_between_its_listing_and_its_create_makes_no_create(env: TestEnv) {
    use credledger::jobs::Leases;
    use credledger::mcp::sync::McpSync;
    use std::sync::Arc;
    let (ledger, servers, recorder) = gateway_with_credentials(&env, &["Work".to_owned()]).await;
    // A request outliving the lease, which configuration refuses: here the listing is held
    // at the server until the lease may have lapsed, and must not time out meanwhile.
    let a = Arc::new(McpSync::new(
        servers.clone(),
        SyncSettings {
            lease_ttl: Duration::from_millis(900),
            timeout: Duration::from_secs(30),
            ..fast_sync()
        },
        Leases::with_holder(ledger.db.clone(), "instance-a"),
    ));
    recorder.hold_requests();
    let pass = tokio::spawn({
        let a = a.clone();
        async move { a.locked_pass(false).await }
    });
    eventually("the listing before the create", || async {
        recorder.arrived() >= 1
    })
    .await;

    hold_lease_renewals(&env, &ledger, Duration::from_millis(2_500)).await;
    recorder.release_requests();
    let report = tokio::time::timeout(Duration::from_secs(20), pass)
        .await
        .expect("the pass did not end")
        .unwrap()
        .unwrap()
        .expect("the lease was taken");

    assert!(report["gw"].lease_lost, "{report:?}");
    assert_eq!(report["gw"].sent, 0, "{report:?}");
    let methods: Vec<String> = recorder
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        methods,
        ["GET"],
        "a request after the lease may have lapsed"
    );
    assert!(recorder.credentials().is_empty());
    // Nothing recorded: the next holder sends the row, once.
    let b = McpSync::new(
        servers,
        fast_sync(),
        Leases::with_holder(ledger.db.clone(), "instance-b"),
    );
    let next = b
        .locked_pass(false)
        .await
        .unwrap()
        .expect("the lease, for instance-b");
    assert_eq!(next["gw"].sent, 1, "{next:?}");
    assert_eq!(recorder.credentials().len(), 1);
    ledger.db.close().await;
}
on_both_backends!(a_row_whose_lease_lapses_between_its_listing_and_its_create_makes_no_create);

/// Two creates of one pass answered with the same copy id (a server that answers every create
/// with its first copy's id), while the read model has not applied the first outcome: the
/// second is not taken for its credential's copy too (revoking either would delete the
/// other's), since the outcomes this sender recorded count as claimed before the read model
/// shows them. Its own copy is found by its name and kept.
async fn a_copy_id_recorded_in_this_pass_is_claimed_before_the_read_model_shows_it(env: TestEnv) {
    use crate::support::mcp_recorder::McpFault;
    use credledger::mcp::sync::McpSync;
    use credledger_projections::mcp_sync::{rows_of_server, SyncStatus};
    let names = ["first".to_owned(), "second".to_owned()];
    let (ledger, servers, recorder) = gateway_with_credentials(&env, &names).await;
    recorder.set_fault(Some(McpFault::CreateAnsweredWith(
        json!({"id": "copy-x", "version": 1, "credential_id": "copy-x"}).to_string(),
    )));
    let hold = crate::support::hold::Hold::start(&env, crate::support::hold::MCP_SYNC).await;
    let sync = McpSync::new(
        servers,
        fast_sync(),
        credledger::jobs::Leases::new(ledger.db.clone()),
    );
    let held = sync.lock().await.unwrap().expect("the sync lease");

    let report = sync.step(&held, "gw").await.unwrap();

    hold.release().await;
    ledger.projections.catch_up().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let rows = rows_of_server(&ledger.db.any, "gw", &SyncStatus::ALL, 10)
        .await
        .unwrap();
    let ids: Vec<_> = rows.iter().filter_map(|r| r.mcp_id.clone()).collect();
    assert_eq!(ids.len(), 2, "{rows:?}");
    assert_ne!(ids[0], ids[1], "two credentials recorded one copy");
    // The one not recorded as `copy-x` is its own copy, found by its name.
    let copies = recorder.credentials();
    assert_eq!(copies.len(), 2);
    assert!(ids.iter().any(|id| copies.contains_key(id)), "{ids:?}");
    ledger.db.close().await;
}
on_both_backends!(a_copy_id_recorded_in_this_pass_is_claimed_before_the_read_model_shows_it);

/// The send lease taken over by another process while the read model has not applied the last
/// holder's outcomes (`mcp replay` beside `serve`, or two instances handing the lease over
/// between passes): the new holder sends nothing until the rows show them. Without that wait
/// it knew nothing of the create just answered and, the row still showing no copy id, created
/// a second copy on a server that ignores `Idempotency-Key` (the original API), whose id then
/// replaced the first's: a copy no revocation would reach.
async fn a_sender_taking_over_the_lease_sends_nothing_until_the_read_model_shows_the_last_holders_outcomes(
    env: TestEnv,
) {
    use crate::support::hold::{Hold, MCP_SYNC};
    use crate::support::mcp_recorder::Dialect;
    use credledger::jobs::Leases;
    use credledger::mcp::sync::McpSync;
    let (ledger, servers, recorder) = gateway_with_credentials(&env, &["Work".to_owned()]).await;
    recorder.set_dialect(Dialect::Original);
    let sender = |holder: &str| {
        McpSync::new(
            servers.clone(),
            fast_sync(),
            Leases::with_holder(ledger.db.clone(), holder),
        )
    };
    let (a, b) = (sender("instance-a"), sender("instance-b"));
    let hold = Hold::start(&env, MCP_SYNC).await;

    let held = a.lock().await.unwrap().expect("the lease, for instance-a");
    assert_eq!(a.step(&held, "gw").await.unwrap().sent, 1);
    drop(held);
    a.unlock().await;
    let held = b.lock().await.unwrap().expect("the lease, for instance-b");
    let behind = b.step(&held, "gw").await;

    assert_eq!(
        behind.as_ref().err().map(|e| e.code()),
        Some("UNAVAILABLE"),
        "{behind:?}"
    );
    assert_eq!(recorder.credentials().len(), 1, "a second copy was made");
    hold.release().await;
    ledger.projections.catch_up().await.unwrap();
    assert_eq!(b.step(&held, "gw").await.unwrap().sent, 0);
    assert_eq!(recorder.credentials().len(), 1);
    let synced: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = 'CredentialSyncedToMcp'",
    )
    .fetch_one(&ledger.db.any)
    .await
    .unwrap();
    assert_eq!(synced, 1, "one create, one outcome");
    ledger.db.close().await;
}
on_both_backends!(
    a_sender_taking_over_the_lease_sends_nothing_until_the_read_model_shows_the_last_holders_outcomes
);

/// A server whose address is refused now (registered under `--dev` or through an allow-list
/// entry since removed): each of its rows shows why, once, rather than wait as pending for
/// ever with nothing said (the step stopped before any row, recording nothing), and `mcp
/// replay` says so and fails (it said the copy was complete).
async fn a_server_whose_address_is_now_refused_shows_why_on_its_rows(env: TestEnv) {
    use credledger::mcp::{sync::McpSync, McpServers};
    use credledger_adapters::outbound::OutboundPolicy;
    use credledger_projections::mcp_sync::{rows_of_server, SyncStatus};
    let (ledger, _, recorder) =
        gateway_with_credentials(&env, &["Work".to_owned(), "Home".to_owned()]).await;
    // Served now without loopback allowed, where the recording server listens.
    let servers = McpServers::new(ledger.clone()).with_outbound(OutboundPolicy::default());
    let sync = McpSync::new(
        std::sync::Arc::new(servers),
        fast_sync(),
        credledger::jobs::Leases::new(ledger.db.clone()),
    );
    let held = sync.lock().await.unwrap().expect("the sync lease");

    let report = sync.step(&held, "gw").await.unwrap();
    ledger.projections.catch_up().await.unwrap();
    let again = sync.step(&held, "gw").await.unwrap();

    assert_eq!((report.sent, report.failed), (0, 2), "{report:?}");
    assert!(
        report
            .refused
            .as_deref()
            .is_some_and(|why| why.contains("refused")),
        "{report:?}"
    );
    // Tried again at the failed copies' hourly retry, not at every pass.
    assert_eq!((again.sent, again.failed), (0, 0), "tried again: {again:?}");
    let rows = rows_of_server(&ledger.db.any, "gw", &SyncStatus::ALL, 10)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.status == SyncStatus::Error),
        "{rows:?}"
    );
    let failures: Vec<String> = sqlx::query_scalar(
        "SELECT last_error FROM mcp_deliveries WHERE server_id = 'gw' ORDER BY credential_id",
    )
    .fetch_all(&ledger.db.any)
    .await
    .unwrap();
    assert_eq!(failures.len(), 2);
    assert!(
        failures.iter().all(|f| f.contains("refused")),
        "{failures:?}"
    );
    let recorded: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE event_type = 'CredentialSyncFailed'",
    )
    .fetch_one(&ledger.db.any)
    .await
    .unwrap();
    assert_eq!(recorded, 2, "once per credential");
    // What the credentials' owner sees (the event, the row it settles) says the address is
    // refused without naming it: members do not see where a server is (ADR 0024).
    let shown: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(payload AS TEXT) FROM events WHERE event_type = 'CredentialSyncFailed'",
    )
    .fetch_all(&ledger.db.any)
    .await
    .unwrap()
    .into_iter()
    .chain(rows.iter().filter_map(|r| r.error.clone()))
    .collect();
    let (host, port) = (recorder.addr().ip().to_string(), recorder.addr().port());
    assert_eq!(shown.len(), 4, "{shown:?}");
    for text in &shown {
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains(&host), "the address shows: {text}");
    }
    // Nor the port.
    for error in rows.iter().filter_map(|r| r.error.as_deref()) {
        assert!(
            !error.contains(&port.to_string()),
            "the port shows: {error}"
        );
    }
    assert!(
        failures.iter().all(|f| f.contains(&host)),
        "the operator's table keeps why: {failures:?}"
    );
    assert!(recorder.requests().is_empty());
    sync.unlock().await;
    ledger.db.close().await;

    // The command line, where loopback is not allowed either.
    let replay = env
        .cli()
        .env_remove("CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK")
        .args(["mcp", "replay", "--target", "gw", "--all"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&replay.stderr);
    assert_eq!(replay.status.code(), Some(1), "{said}");
    assert!(said.contains("nothing can be sent to gw"), "{said}");
    assert!(recorder.requests().is_empty());
}
on_both_backends!(a_server_whose_address_is_now_refused_shows_why_on_its_rows);

/// One server whose step fails at every pass (here its signing secret is gone) holds up
/// neither another server's sends nor the drift clock: the failed pass left the drift check
/// due, so it ran at every pass, listing every other server's copies about as often as the
/// sender woke rather than every `drift_every`.
async fn one_servers_failing_step_holds_up_neither_the_others_nor_the_drift_clock(env: TestEnv) {
    use credledger::mcp::{sync::McpSync, Authority, NewMcpServer};
    let (ledger, servers, _broken) = gateway_with_credentials(&env, &["Work".to_owned()]).await;
    let healthy = RecordingMcpServer::start(vec![]).await.unwrap();
    let secret = servers
        .register(
            NewMcpServer {
                server_id: "gw2".into(),
                name: "second gateway".into(),
                base_url: healthy.base_url(),
                allowed_services: vec!["notion".into()],
                serves_all_users: true,
            },
            Authority::Operator,
            &crate::support::meta("root"),
        )
        .await
        .unwrap();
    healthy.set_secrets(vec![secret.0.as_bytes().to_vec()]);
    sqlx::query("DELETE FROM mcp_signing_secrets WHERE server_id = 'gw'")
        .execute(&ledger.db.any)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let sync = std::sync::Arc::new(McpSync::new(
        servers,
        SyncSettings {
            drift_every: Duration::from_millis(1_000),
            poll: Duration::from_millis(50),
            ..fast_sync()
        },
        credledger::jobs::Leases::new(ledger.db.clone()),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let sync = sync.clone();
        async move { sync.run(stopped).await }
    });
    // The read models, as `serve` runs them (the sender waits for them to show its outcomes).
    let read_models = tokio::spawn({
        let ledger = ledger.clone();
        async move {
            loop {
                ledger.projections.catch_up().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    tokio::time::sleep(Duration::from_millis(3_000)).await;
    stop.send(true).unwrap();
    running.await.unwrap();
    read_models.abort();

    assert_eq!(
        healthy.credentials().len(),
        1,
        "the other server got nothing"
    );
    let lists = healthy
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    // About one drift check a second (three, or four with the first pass's), not one a pass.
    assert!((1..=5).contains(&lists), "{lists} drift checks in 3 s");
    ledger.db.close().await;
}
on_both_backends!(one_servers_failing_step_holds_up_neither_the_others_nor_the_drift_clock);

/// A drift check whose lease may have lapsed while it listed the server's copies stops before
/// recording the drift it found, and the pass says so (the sender then makes the check again
/// at its next pass, rather than after `drift_every`), even with no row to send.
async fn a_drift_check_cut_short_by_a_lapsed_lease_is_reported(env: TestEnv) {
    use crate::support::mcp_recorder::McpFault;
    use std::sync::Arc;
    let (ledger, servers, recorder) = gateway_with_credentials(&env, &["Work".to_owned()]).await;
    let sync = Arc::new(sender_with_a_short_lease(&ledger, servers));
    let first = sync.locked_pass(false).await.unwrap().unwrap();
    assert_eq!(first["gw"].sent, 1, "{first:?}");
    ledger.projections.catch_up().await.unwrap();
    // The server lost the copy: the drift check has a drift to record once it has listed.
    let copy = recorder.credentials().into_keys().next().unwrap();
    recorder.forget(&copy);
    // The listing takes longer than the lease lives unrenewed.
    recorder.set_fault(Some(McpFault::Slow(Duration::from_millis(2_500))));
    let pass = tokio::spawn({
        let sync = sync.clone();
        async move { sync.locked_pass(true).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    hold_lease_renewals(&env, &ledger, Duration::from_millis(2_000)).await;
    let report = tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("the pass did not end")
        .unwrap()
        .unwrap()
        .expect("the lease was taken");

    assert!(report["gw"].lease_lost, "{report:?}");
    recorder.set_fault(None);
    ledger.db.close().await;
}
on_both_backends!(a_drift_check_cut_short_by_a_lapsed_lease_is_reported);

async fn registrations_of_one_id_at_once_leave_the_winners_secret(env: TestEnv) {
    use crate::support::meta;
    use credledger::mcp::{McpServers, NewMcpServer};
    let ledger = env.ledger().await;
    let servers =
        std::sync::Arc::new(McpServers::new(ledger.clone()).with_outbound(env.settings().outbound));
    for round in 0..10 {
        let id = format!("gw-{round}");
        let attempt = |servers: std::sync::Arc<McpServers>, id: String| async move {
            servers
                .register(
                    NewMcpServer {
                        server_id: id,
                        name: "gateway".into(),
                        base_url: "http://127.0.0.1:9".into(),
                        allowed_services: vec!["notion".into()],
                        serves_all_users: true,
                    },
                    credledger::mcp::Authority::Operator,
                    &meta("root"),
                )
                .await
        };
        let (a, b) = tokio::join!(
            tokio::spawn(attempt(servers.clone(), id.clone())),
            tokio::spawn(attempt(servers.clone(), id.clone()))
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert!(outcomes
            .iter()
            .any(|o| o.as_ref().is_err_and(|e| e.code() == "CONFLICT")));
        let stored = servers.signing_secret(&id).await.unwrap();
        assert_eq!(stored.as_slice(), winners[0].0.as_bytes(), "round {round}");
    }
}
on_both_backends!(registrations_of_one_id_at_once_leave_the_winners_secret);
