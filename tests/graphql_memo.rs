//! Remembered answers (api/src/memo.rs `AnswerMemo`): a read-only query's answer is given
//! again to the same caller only while it is still what a fresh read would say.

use crate::on_both_backends;
use crate::support::api::{Auth, Client};
use crate::support::{within, TestEnv};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How soon a change must show: well inside the ten seconds after which any remembered answer
/// is read again anyway, so a change the memory missed fails the test.
const SOON: Duration = Duration::from_secs(5);

/// The dashboard's query, sent byte for byte the same each time.
const DASHBOARD: &str = "{ dashboard { total active servicesConnected } \
    credentials { id name status isPrimary useCount } }";

async fn dashboard(client: &Client) -> Value {
    client.ok(DASHBOARD, json!({})).await
}

fn names(answer: &Value) -> Vec<String> {
    answer["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn rename(client: &Client, id: &str, name: &str) {
    client
        .ok(
            "mutation($id: ID!, $n: String!) { updateCredential(id: $id, input: {name: $n}) \
             { credential { id } } }",
            json!({"id": id, "n": name}),
        )
        .await;
}

async fn a_remembered_answer_is_given_only_while_a_fresh_read_would_say_the_same(env: TestEnv) {
    let here = env.server().await;
    let alice = here.user("alice").await;
    let work = alice
        .add("notion", "Work", here.good_fields("notion", 0))
        .await;
    let first = dashboard(&alice).await;
    assert_eq!(names(&first), ["Work"]);
    assert_eq!(
        dashboard(&alice).await,
        first,
        "asked again, nothing changed"
    );

    // A disclosure counts as a use, in the answers as soon as the read models have it.
    let revealed = Instant::now();
    alice
        .ok(
            "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
            json!({"id": work}),
        )
        .await;
    within(revealed, SOON, "the use to be counted", || async {
        dashboard(&alice).await["credentials"][0]["useCount"] == 1
    })
    .await;

    // A change made here is in the very next answer (read-your-writes).
    rename(&alice, &work, "Work (HQ)").await;
    assert_eq!(names(&dashboard(&alice).await), ["Work (HQ)"]);
    alice
        .add("jira", "Tickets", here.good_fields("jira", 0))
        .await;
    let both = dashboard(&alice).await;
    assert_eq!(both["dashboard"]["total"], 2);
    assert_eq!(both["dashboard"]["servicesConnected"], 2);

    // A change made by another process reaches this one's answers once its consumers see it.
    let there = env.server().await;
    let alice_there = there.sign_in("alice").await;
    // (Well within the ten seconds after which any remembered answer is read again anyway.)
    dashboard(&alice).await;
    let renamed = Instant::now();
    rename(&alice_there, &work, "Work (elsewhere)").await;
    within(renamed, SOON, "the rename made elsewhere", || async {
        names(&dashboard(&alice).await).contains(&"Work (elsewhere)".to_owned())
    })
    .await;

    // The same request from someone else is answered for them.
    let bob = here.user("bob").await;
    let bobs = dashboard(&bob).await;
    assert_eq!(bobs["dashboard"]["total"], 0);
    assert_eq!(names(&bobs), Vec::<String>::new());

    // A token without `credentials.read` is refused, though the person's answer is remembered.
    let token = alice.api_token("resolver", "CREDENTIALS_RESOLVE").await;
    dashboard(&alice).await;
    let machine = alice.with_auth(Auth::Bearer(token));
    let refused = machine.gql(DASHBOARD, json!({})).await;
    assert_eq!(refused.code(), "FORBIDDEN", "{}", refused.body);
    assert!(
        !refused.body.to_string().contains("Work"),
        "{}",
        refused.body
    );

    // A session signed out elsewhere gets nothing here, however recently it was answered.
    let second = there.sign_in("alice").await;
    let second_here = alice.with_auth(second.auth.clone());
    assert_eq!(dashboard(&second_here).await, dashboard(&alice).await);
    second.ok("mutation { logout }", json!({})).await;
    let after = second_here.gql(DASHBOARD, json!({})).await;
    assert_eq!(after.code(), "UNAUTHENTICATED", "{}", after.body);
    assert!(!after.body.to_string().contains("Work"), "{}", after.body);
    // Her first session is still hers.
    assert_eq!(dashboard(&alice).await["dashboard"]["total"], 2);

    there.running.stop().await.unwrap();
    here.running.stop().await.unwrap();
}
on_both_backends!(a_remembered_answer_is_given_only_while_a_fresh_read_would_say_the_same);

/// A copy's delivery to an MCP server changes the credential's sync state in the owner's
/// remembered answers as soon as the read models record it.
async fn a_delivery_to_an_mcp_server_reaches_the_remembered_sync_state(env: TestEnv) {
    use crate::support::mcp::{fast_sync, jobs_with, register_for_everyone};
    use crate::support::mcp_recorder::RecordingMcpServer;
    let server = env.server_with_jobs(|_| {}, jobs_with(fast_sync())).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let query = "{ credentials { id syncStatus } }";
    alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    within(
        Instant::now(),
        SOON,
        "the delivery's sync state",
        || async { alice.ok(query, json!({})).await["credentials"][0]["syncStatus"] == "SYNCED" },
    )
    .await;
    server.running.stop().await.unwrap();
}
on_both_backends!(a_delivery_to_an_mcp_server_reaches_the_remembered_sync_state);
