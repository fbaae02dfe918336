//! The seed's scenarios through GraphQL, against the real server and the provider simulator.

use crate::on_both_backends;
use crate::support::api::bad_token;
use crate::support::TestEnv;
use credledger_adapters::simulator::SimAccount;
use serde_json::json;

const CREDENTIAL: &str = "id name status isPrimary account { id displayName email } \
    validationError lastValidatedAt secretVersion metadata";

async fn credentials(c: &crate::support::api::Client, service: &str) -> Vec<serde_json::Value> {
    let data = c
        .ok(
            &format!("query($s: String) {{ credentials(service: $s) {{ {CREDENTIAL} }} }}"),
            json!({"s": service}),
        )
        .await;
    data["credentials"].as_array().unwrap().clone()
}

async fn the_seed_scenarios_run_through_graphql(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;

    // Add a valid credential: checked live, stored active and primary, with the account found.
    let first = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let list = credentials(&alice, "notion").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "ACTIVE");
    assert_eq!(list[0]["isPrimary"], true);
    assert_eq!(list[0]["account"]["displayName"], "Acme HQ");

    // An invalid one is refused with the provider's message; nothing is stored.
    let refused = alice
        .gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
            json!({"i": {"service": "notion", "name": "Wrong", "fields": bad_token()}}),
        )
        .await;
    assert_eq!(refused.code(), "INVALID_CREDENTIAL");
    assert!(
        refused.message().contains("API token is invalid"),
        "{}",
        refused.message()
    );
    assert_eq!(credentials(&alice, "notion").await.len(), 1);

    // Rename and relabel.
    let renamed = alice
        .ok(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { name metadata } } }",
            json!({"id": first, "i": {"name": "Work (HQ)", "metadata": {"team": "core"}}}),
        )
        .await;
    assert_eq!(
        renamed["updateCredential"]["credential"]["name"],
        "Work (HQ)"
    );
    assert_eq!(
        renamed["updateCredential"]["credential"]["metadata"]["team"],
        "core"
    );

    // Replacing the secret checks it again: a refused secret changes nothing…
    let update_secret = "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { secretVersion account { displayName } } rateLimitRemaining } }";
    let refused = alice
        .gql(
            update_secret,
            json!({"id": first, "i": {"fields": bad_token()}}),
        )
        .await;
    assert_eq!(refused.code(), "INVALID_CREDENTIAL");
    assert_eq!(credentials(&alice, "notion").await[0]["secretVersion"], 1);
    // …an accepted one replaces it, with the new account.
    let replaced = alice
        .ok(
            update_secret,
            json!({"id": first, "i": {"fields": server.good_fields("notion", 1)}}),
        )
        .await;
    let c = &replaced["updateCredential"]["credential"];
    assert_eq!(c["secretVersion"], 2);
    assert_eq!(c["account"]["displayName"], "Side Project");

    // A second account for a multi-account service (the first account's secret again).
    let second = alice
        .add("notion", "Personal", server.good_fields("notion", 0))
        .await;
    let list = credentials(&alice, "notion").await;
    assert_eq!(list.len(), 2);
    let primary = |list: &[serde_json::Value]| {
        list.iter()
            .find(|c| c["isPrimary"] == true)
            .map(|c| c["id"].as_str().unwrap().to_owned())
    };
    assert_eq!(primary(&list).as_deref(), Some(first.as_str()));

    // Set primary.
    let set = alice
        .ok(
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id isPrimary } }",
            json!({"id": second}),
        )
        .await;
    assert_eq!(set["setPrimaryCredential"]["isPrimary"], true);
    assert_eq!(
        primary(&credentials(&alice, "notion").await).as_deref(),
        Some(second.as_str())
    );

    // Deleting the primary promotes the oldest remaining active credential.
    server.simulator.accept(
        "notion",
        "ntn_third_workspace_0003",
        SimAccount::new("3c3c3c3c-0003", "Third Space", "ada@acme.example"),
    );
    alice
        .add(
            "notion",
            "Third",
            json!({"token": "ntn_third_workspace_0003"}),
        )
        .await;
    let deleted = alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId newPrimary { id } } }",
            json!({"id": second}),
        )
        .await;
    assert_eq!(
        deleted["deleteCredential"]["newPrimary"]["id"],
        json!(first),
        "the oldest active credential becomes primary"
    );
    assert_eq!(credentials(&alice, "notion").await.len(), 2);

    // Revalidate: valid stays active; a provider that cannot be asked changes nothing.
    let revalidate = "mutation($id: ID!) { revalidateCredential(id: $id) { result message credential { status lastValidatedAt } rateLimitRemaining } }";
    let r = alice.ok(revalidate, json!({"id": first})).await;
    assert_eq!(r["revalidateCredential"]["result"], "VALID");
    assert_eq!(r["revalidateCredential"]["credential"]["status"], "ACTIVE");
    server
        .simulator
        .set_fault("notion", credledger_adapters::simulator::Fault::ServerError);
    let r = alice.ok(revalidate, json!({"id": first})).await;
    assert_eq!(r["revalidateCredential"]["result"], "COULD_NOT_CHECK");
    assert_eq!(r["revalidateCredential"]["credential"]["status"], "ACTIVE");
    // A 403 (a CDN's block page, a region refused, a scope missing) says nothing about the key
    // either: only a 401 says it is refused.
    server
        .simulator
        .set_fault("notion", credledger_adapters::simulator::Fault::Forbidden);
    let r = alice.ok(revalidate, json!({"id": first})).await;
    assert_eq!(r["revalidateCredential"]["result"], "COULD_NOT_CHECK");
    assert_eq!(
        r["revalidateCredential"]["message"],
        "Notion answered HTTP 403"
    );
    assert_eq!(r["revalidateCredential"]["credential"]["status"], "ACTIVE");
    server.simulator.clear_fault("notion");

    // Revoke.
    let revoked = alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id, reason: \"leaked\") { status isPrimary } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(revoked["revokeCredential"]["status"], "REVOKED");
    assert_eq!(revoked["revokeCredential"]["isPrimary"], false);

    // Reveal as owner: the secret, and a `CredentialUsed` event before it.
    let fields = server.good_fields("notion", 1);
    let shown = alice
        .ok(
            "mutation($id: ID!) { revealCredential(id: $id) { credentialId fields } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(shown["revealCredential"]["fields"], fields);
    let history = alice
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type actor requestId ip userAgent hash } }",
            json!({"id": first}),
        )
        .await;
    let events = history["credentialHistory"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for expected in [
        "CredentialRegistered",
        "CredentialRenamed",
        "SecretReplaced",
        "CredentialValidated",
        "ValidationInconclusive",
        "CredentialRevoked",
        "CredentialUsed",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    // Every mutation's events say who, from where, with which request.
    for e in events {
        assert_eq!(e["actor"], "alice", "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        assert!(
            e["requestId"].as_str().is_some_and(|r| r.len() == 36),
            "{e}"
        );
        assert!(e["userAgent"].as_str().is_some(), "{e}");
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }
    let dashboard = alice
        .ok(
            "{ dashboard { total active revoked servicesConnected } }",
            json!({}),
        )
        .await;
    assert_eq!(dashboard["dashboard"]["total"], 2);
    assert_eq!(dashboard["dashboard"]["active"], 1);
    assert_eq!(dashboard["dashboard"]["revoked"], 1);
    assert_eq!(dashboard["dashboard"]["servicesConnected"], 1);
    server.running.stop().await.unwrap();
}
on_both_backends!(the_seed_scenarios_run_through_graphql);

async fn single_account_services_and_duplicate_accounts_are_refused(env: TestEnv) {
    let server = env.server().await;
    let bob = server.user("bob").await;
    let catalog = server.running.ledger.catalog.clone();
    let single = catalog
        .services()
        .iter()
        .find(|s| !s.multi_account && s.enabled)
        .map(|s| s.key.to_string());
    if let Some(service) = &single {
        bob.add(service, "One", server.good_fields(service, 0))
            .await;
        let again = bob
            .gql(
                "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
                json!({"i": {"service": service, "name": "Two", "fields": server.good_fields(service, 0)}}),
            )
            .await;
        assert_eq!(again.code(), "CONFLICT", "{}", again.body);
    }
    // The same upstream account is not stored twice.
    bob.add("todoist", "Tasks", server.good_fields("todoist", 0))
        .await;
    let twice = bob
        .gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
            json!({"i": {"service": "todoist", "name": "Tasks again", "fields": server.good_fields("todoist", 0)}}),
        )
        .await;
    assert_eq!(twice.code(), "CONFLICT", "{}", twice.body);
    // A taken name is refused before any live check, like a second single-account credential
    // above; the duplicate account needed its check (the account is what the check finds).
    let taken = bob
        .gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
            json!({"i": {"service": "todoist", "name": "Tasks", "fields": server.good_fields("todoist", 1)}}),
        )
        .await;
    assert_eq!(taken.code(), "CONFLICT", "{}", taken.body);
    assert!(
        taken.message().contains("`Tasks` already exists"),
        "{}",
        taken.body
    );
    let checks_spent = if single.is_some() { 3 } else { 2 };
    let left = bob
        .ok(
            "mutation($f: JSON!) { testCredential(service: \"todoist\", fields: $f) { rateLimitRemaining } }",
            json!({"f": server.good_fields("todoist", 1)}),
        )
        .await;
    assert_eq!(
        left["testCredential"]["rateLimitRemaining"],
        10 - checks_spent - 1
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(single_account_services_and_duplicate_accounts_are_refused);

/// A new name and a new secret asked for together are kept together or not at all: a revoked
/// credential, which may not be given a new secret, keeps its name too.
async fn a_rename_with_a_new_secret_is_kept_whole_or_not_at_all(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    let refused = alice
        .gql(
            "mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) { credential { id } } }",
            json!({"id": id, "i": {"name": "Renamed", "fields": server.good_fields("notion", 1)}}),
        )
        .await;
    assert_eq!(refused.code(), "CONFLICT", "{}", refused.message());
    let listed = credentials(&alice, "notion").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Work", "the name stays with the secret");
    assert_eq!(listed[0]["secretVersion"], 1);
    assert_eq!(listed[0]["status"], "REVOKED");
}

on_both_backends!(a_rename_with_a_new_secret_is_kept_whole_or_not_at_all);

async fn a_planted_canary_secret_never_leaves_through_the_api(env: TestEnv) {
    const CANARY: &str = "ntn_canary_7f3e9b1c5d";
    let server = env.server().await;
    server.simulator.accept(
        "notion",
        CANARY,
        SimAccount::new("canary-ws", "Canary Space", "canary@example.com"),
    );
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Canary", json!({"token": CANARY}))
        .await;
    // Refused secrets and failed checks do not echo it either.
    let refused = alice
        .gql(
            "mutation { testCredential(service: \"notion\", fields: {token: \"ntn_canary_refused_0000\"}) { result message } }",
            json!({}),
        )
        .await;
    assert!(!refused.body.to_string().contains("ntn_canary_refused_0000"));
    server.simulator.set_fault(
        "notion",
        credledger_adapters::simulator::Fault::MalformedJson,
    );
    let inconclusive = alice
        .ok(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result message } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        inconclusive["revalidateCredential"]["result"],
        "COULD_NOT_CHECK"
    );
    server.simulator.clear_fault("notion");
    let root = server.admin("root").await;
    let answers = [
        alice
            .ok(
                &format!("query($id: ID!) {{ credentials {{ {CREDENTIAL} providerMetadata scopes }} credential(id: $id) {{ id }} credentialHistory(id: $id) {{ payload }} auditTrail(first: 100) {{ edges {{ node {{ oldValues newValues context error }} }} }} dashboard {{ total }} }}"),
                json!({"id": id}),
            )
            .await,
        root.ok(
            "{ allCredentials { id metadata providerMetadata account { id } } systemMetrics { recentValidations { newValues context } } auditTrail(first: 100) { edges { node { newValues oldValues context } } } }",
            json!({}),
        )
        .await,
    ];
    for answer in &answers {
        assert!(!answer.to_string().contains(CANARY), "{answer}");
    }
    // Nor any read model, nor the events' payloads and metadata as stored.
    let pool = env.any_pool().await;
    for (table, order) in [
        ("credential_summary", "credential_id"),
        ("audit_trail", "position"),
        ("dashboard_stats", "user_id, service"),
        ("users", "user_id"),
        ("api_tokens", "token_id"),
        ("events", "global_position"),
    ] {
        let dump = crate::support::dump_table(&pool, table, order).await;
        assert!(
            !format!("{dump:?}").contains(CANARY),
            "{table} holds the canary"
        );
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(a_planted_canary_secret_never_leaves_through_the_api);

async fn the_admin_metrics_count_uses_per_service_and_day(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let admin = server.admin("root").await;
    let notion = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let jira = alice
        .add("jira", "Tracker", server.good_fields("jira", 0))
        .await;
    for id in [&notion, &notion, &jira] {
        alice
            .ok(
                "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
                json!({"id": id}),
            )
            .await;
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let expected = json!([
        {"service": "jira", "day": today, "uses": 1},
        {"service": "notion", "day": today, "uses": 2},
    ]);
    crate::support::eventually("the uses are counted", || async {
        let seen = admin
            .ok(
                "{ systemMetrics { usageByService { service day uses } } }",
                json!({}),
            )
            .await;
        seen["systemMetrics"]["usageByService"] == expected
    })
    .await;
    // Counts only: nobody's name, no credential.
    let seen = admin
        .ok(
            "{ systemMetrics { usageByService { service day uses } } }",
            json!({}),
        )
        .await;
    assert!(!seen.to_string().contains("alice"), "{seen}");
    assert!(!seen.to_string().contains(&notion), "{seen}");
    // Not for people who are not administrators.
    let refused = alice
        .gql("{ systemMetrics { usageByService { uses } } }", json!({}))
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");
}

on_both_backends!(the_admin_metrics_count_uses_per_service_and_day);
