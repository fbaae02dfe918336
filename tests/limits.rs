//! Limits: the API rate limit per person and per token (429, `RATE_LIMITED` with `retryAfter`,
//! `X-RateLimit-Limit`/`-Remaining`, `Retry-After`; WebSocket operations draw on it too), and
//! on PostgreSQL two instances together allow exactly the configured live checks, sign-in
//! attempts and API requests.

use crate::on_both_backends;
use crate::support::api::{bad_token, Auth, Client, Server};
use crate::support::prometheus::{count, scrape};
use crate::support::ws::{Received, Ws};
use crate::support::TestEnv;
use serde_json::json;
use std::time::Duration;

const LIST: &str = "{ credentials { id } }";
const TEST: &str = "mutation($f: JSON!) { testCredential(service: \"notion\", fields: $f) { result rateLimitRemaining } }";
const LOGIN: &str =
    "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { user { id } } }";

async fn api_rate_limit_answers_429_with_headers(env: TestEnv) {
    let server = env
        .server_with(|s| {
            s.api_requests_per_minute = 5;
            s.metrics_token = Some(METRICS.into());
        })
        .await;
    let refused_before = refusals(&server).await;
    let alice = server.user("alice").await;
    let created = alice
        .gql(
            "mutation { createApiToken(name: \"ci\", scopes: [CREDENTIALS_READ]) { token } }",
            json!({}),
        )
        .await;
    assert_eq!(created.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(created.header("x-ratelimit-remaining"), Some("4"));
    let token = created.data()["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for left in (0..4).rev() {
        let answer = alice.gql(LIST, json!({})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.data();
        assert_eq!(answer.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
    }
    let refused = alice.gql(LIST, json!({})).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.code(), "RATE_LIMITED");
    let retry = refused.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    // Five a minute: one more every 12 s.
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(
        refused.header("retry-after"),
        Some(retry.to_string().as_str())
    );
    assert_eq!(refused.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    // Every session of the person shares the budget; signing in is not an API request.
    let elsewhere = server.sign_in("alice").await;
    assert_eq!(elsewhere.gql(LIST, json!({})).await.status, 429);
    // Over the WebSocket too: each operation started is a request.
    let cookie = match &elsewhere.auth {
        Auth::Cookie(c) => c.clone(),
        _ => unreachable!("a signed-in client carries a cookie"),
    };
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut ws = Ws::connect(&address, Some(&cookie), json!({})).await;
    ws.subscribe("1", LIST, json!({})).await;
    match ws.answer(Duration::from_secs(10)).await {
        Received::Message(m) => assert!(m.to_string().contains("RATE_LIMITED"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Operators see each refusal (two over HTTP, one over the socket), never who was refused.
    assert_eq!(refusals(&server).await - refused_before, 3.0);
    // A token has its own budget, and so has another person.
    let machine = alice.with_auth(Auth::Bearer(token));
    let answer = machine.gql(LIST, json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("4"));
    let bob = server.user("bob").await;
    let answer = bob.gql(LIST, json!({})).await;
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("4"));
    let mut ws = Ws::connect(
        &address,
        match &bob.auth {
            Auth::Cookie(c) => Some(c.as_str()),
            _ => None,
        },
        json!({}),
    )
    .await;
    ws.subscribe("1", LIST, json!({})).await;
    match ws.answer(Duration::from_secs(10)).await {
        Received::Message(m) => assert_eq!(m["payload"]["data"]["credentials"], json!([]), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        bob.gql(LIST, json!({}))
            .await
            .header("x-ratelimit-remaining"),
        Some("2")
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(api_rate_limit_answers_429_with_headers);

const METRICS: &str = "limits-test-metrics-token";

/// `credledger_api_rate_limited_total` as `/metrics` serves it now.
async fn refusals(server: &Server) -> f64 {
    let url = format!("{}/metrics", server.base);
    let text = scrape(&server.http, &url, Some(METRICS)).await.1;
    count(&text, "credledger_api_rate_limited_total", &[])
}

/// `client`, pointed at `server` (a session or token works on every instance).
fn at(server: &Server, client: &Client) -> Client {
    Client {
        base: server.base.clone(),
        http: server.http.clone(),
        ..client.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgresql_share_the_limits() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let adjust = |s: &mut credledger::Settings| {
        s.api_requests_per_minute = 6;
        s.validations_per_minute = 4;
    };
    let one = env.server_with(adjust).await;
    let two = env.server_with(adjust).await;
    let instances = [&one, &two];

    // Live checks: four between them, whichever instance is asked.
    let alice = one.user("alice").await;
    let mut answers = Vec::new();
    for i in 0..6 {
        let answer = at(instances[i % 2], &alice)
            .gql(TEST, json!({"f": bad_token()}))
            .await;
        answers.push(if answer.body["errors"].is_array() {
            answer.code().to_owned()
        } else {
            answer.data()["testCredential"]["rateLimitRemaining"].to_string()
        });
    }
    assert_eq!(
        answers,
        ["3", "2", "1", "0", "RATE_LIMITED", "RATE_LIMITED"],
        "live checks"
    );

    // Sign-in: five wrong passwords from this client for this account, then it waits.
    let mut answers = Vec::new();
    for i in 0..8 {
        let answer = instances[i % 2]
            .anonymous()
            .gql(
                LOGIN,
                json!({"l": "alice@example.com", "p": "not the password at all"}),
            )
            .await;
        answers.push(answer.code().to_owned());
    }
    assert_eq!(
        answers,
        [
            "VALIDATION",
            "VALIDATION",
            "VALIDATION",
            "VALIDATION",
            "VALIDATION",
            "RATE_LIMITED",
            "RATE_LIMITED",
            "RATE_LIMITED"
        ],
        "sign-in attempts"
    );

    // API requests sent at once, half to each instance: exactly six are answered.
    one.create_user("carol", false).await;
    let carol = one.sign_in("carol").await;
    let sent = (0..30).map(|i| {
        let client = at(instances[i % 2], &carol);
        async move { client.gql(LIST, json!({})).await.status }
    });
    let statuses = futures::future::join_all(sent).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (6, 24), "{statuses:?}");

    one.running.stop().await.unwrap();
    two.running.stop().await.unwrap();
}

/// A mutation whose first root field committed and whose second ran out of live checks is
/// answered 200 with both (its data and the second's `RATE_LIMITED`): a 429 says nothing was
/// done, and a client honouring it would send the committed mutation again.
async fn a_partly_done_mutation_is_not_answered_429(env: TestEnv) {
    let server = env.server_with(|s| s.validations_per_minute = 1).await;
    let alice = server.user("alice").await;
    let fields = server.good_fields("notion", 0);
    let answer = alice
        .gql(
            "mutation($i: AddCredentialInput!, $f: JSON!) { \
             a: addCredential(input: $i) { credential { id } } \
             b: testCredential(service: \"notion\", fields: $f) { result } }",
            json!({"i": {"service": "notion", "name": "Work", "fields": fields}, "f": fields}),
        )
        .await;
    assert!(
        answer.body["data"]["a"]["credential"]["id"].is_string(),
        "{}",
        answer.body
    );
    assert_eq!(answer.code(), "RATE_LIMITED", "{}", answer.body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("retry-after"), None);
    // Refused whole, it is still 429.
    let refused = alice
        .gql(
            "mutation($f: JSON!) { testCredential(service: \"notion\", fields: $f) { result } }",
            json!({"f": fields}),
        )
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    server.running.stop().await.unwrap();
}
on_both_backends!(a_partly_done_mutation_is_not_answered_429);
