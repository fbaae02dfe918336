//! The outbound address policy on the real server: a Jira site URL that points at a loopback,
//! private or link-local address, at a name that resolves to one, through a redirect to one, or
//! over plain `http` is refused before any connection, as a `VALIDATION` error that names the
//! rule and stores nothing; a host an admin allow-listed is called.

use crate::on_both_backends;
use crate::support::TestEnv;
use credledger_adapters::outbound::OutboundPolicy;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A TCP listener that only counts the connections made to it.
async fn recording_listener(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

/// A Jira stand-in: `GET /rest/api/3/myself` answers Jira's 401 for an unknown token.
async fn jira(ip: &str, redirect_to: Option<String>) -> (u16, Arc<AtomicUsize>) {
    use axum::response::IntoResponse;
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/rest/api/3/myself",
        axum::routing::get(move || {
            let seen = seen.clone();
            let redirect_to = redirect_to.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                match redirect_to {
                    Some(to) => (
                        axum::http::StatusCode::FOUND,
                        [(axum::http::header::LOCATION, to)],
                    )
                        .into_response(),
                    None => (
                        axum::http::StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"errorMessages": [
                            "Client must be authenticated to access this resource."
                        ], "errors": {}})),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, count)
}

fn fields(url: &str) -> Value {
    json!({"url": url, "email": "ada@example.com", "api_token": "ATATT3xFfGF0-canary-token"})
}

async fn jira_urls_pointing_at_private_addresses_are_refused_before_any_connection(env: TestEnv) {
    let (port, connections) = recording_listener("127.0.0.1").await;
    let (allowed_port, allowed_hits) = jira("127.0.0.2", None).await;
    let (redirecting_port, redirecting_hits) = jira(
        "127.0.0.3",
        Some(format!("http://127.0.0.1:{port}/rest/api/3/myself")),
    )
    .await;
    let allowed = format!("http://127.0.0.2:{allowed_port}");
    let redirecting = format!("http://127.0.0.3:{redirecting_port}");
    let server = env
        .server_with(|s| {
            s.outbound = OutboundPolicy {
                allow_loopback: false,
                allowed_hosts: vec![allowed.clone(), redirecting.clone()],
            }
        })
        .await;
    let alice = server.user("alice").await;
    let test =
        "mutation($f: JSON!) { testCredential(service: \"jira\", fields: $f) { result message } }";
    for (url, rule) in [
        (format!("https://127.0.0.1:{port}"), "loopback"),
        (format!("https://2130706433:{port}"), "loopback"),
        ("https://10.0.0.1".to_owned(), "private"),
        ("https://169.254.169.254".to_owned(), "link-local"),
        (format!("https://[::1]:{port}"), "loopback"),
        (format!("https://[::ffff:127.0.0.1]:{port}"), "loopback"),
        (
            format!("https://localhost:{port}"),
            "could not be resolved, or not to public addresses only",
        ),
        ("http://jira.example.com".to_owned(), "https://"),
    ] {
        let answer = alice.gql(test, json!({"f": fields(&url)})).await;
        assert_eq!(answer.code(), "VALIDATION", "{url}: {}", answer.body);
        assert!(
            answer.message().contains(rule),
            "{url}: {}",
            answer.message()
        );
        assert!(!answer.message().contains("canary"), "{}", answer.message());
        // Adding is refused the same way, and nothing is stored.
        let add = alice
            .gql(
                "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
                json!({"i": {"service": "jira", "name": "Work", "fields": fields(&url)}}),
            )
            .await;
        assert_eq!(add.code(), "VALIDATION", "{url}: {}", add.body);
    }
    assert_eq!(
        alice.ok("{ credentials { id } }", json!({})).await["credentials"],
        json!([])
    );
    // A redirect from an allowed host to a refused address is not followed.
    let answer = alice.ok(test, json!({"f": fields(&redirecting)})).await;
    assert_eq!(
        answer["testCredential"]["result"], "COULD_NOT_CHECK",
        "{answer}"
    );
    assert_eq!(redirecting_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused address was connected to"
    );
    // The allow-listed host of the private network is called.
    let answer = alice.ok(test, json!({"f": fields(&allowed)})).await;
    assert_eq!(answer["testCredential"]["result"], "INVALID", "{answer}");
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
    server.running.stop().await.unwrap();
}
on_both_backends!(jira_urls_pointing_at_private_addresses_are_refused_before_any_connection);

/// An MCP server's address is an admin's choice like a Jira site: the same policy decides where
/// credentials may be sent. Refused addresses name the rule and register nothing; a private
/// origin an admin allowed is registered, and the sender delivers to it.
async fn mcp_server_addresses_follow_the_outbound_policy(env: TestEnv) {
    use crate::support::mcp_recorder::RecordingMcpServer;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let origin = recorder.base_url();
    let allowed = origin.clone();
    let server = env
        .server_with(move |s| {
            s.outbound = OutboundPolicy {
                allow_loopback: false,
                allowed_hosts: vec![allowed],
            }
        })
        .await;
    let admin = server.admin("root").await;
    let register = |url: &str, id: &str| {
        admin.gql(
            crate::support::mcp::REGISTER,
            json!({"i": {"id": id, "name": "gateway", "baseUrl": url,
                         "allowedServices": ["notion"]}}),
        )
    };
    for (url, rule) in [
        ("http://127.0.0.1:9", "only https://"),
        ("https://127.0.0.1:9", "loopback"),
        ("https://10.0.0.1", "private"),
        ("https://169.254.169.254", "link-local"),
        ("https://[::1]", "loopback"),
        ("https://[::ffff:7f00:1]", "loopback"),
        (
            "https://localhost:9",
            "could not be resolved, or not to public addresses only",
        ),
        ("http://mcp.example.com", "only https://"),
    ] {
        let answer = register(url, "refused").await;
        assert_eq!(answer.code(), "VALIDATION", "{url}: {}", answer.body);
        assert!(
            answer.message().contains(rule),
            "{url}: {}",
            answer.message()
        );
    }
    let listed = admin.ok("{ mcpServers { id } }", json!({})).await;
    assert_eq!(listed["mcpServers"], json!([]));

    // The allowed origin: registered, and the copy arrives.
    let answer = register(&origin, "gw").await;
    let secret = answer.data()["registerMcpServer"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    recorder.set_secrets(vec![secret.into_bytes()]);
    crate::support::mcp::grant(&admin, "gw", "notion").await;
    crate::support::register_with(
        &server.running.ledger,
        "root",
        "notion",
        "Work",
        r#"{"token": "ntn_outbound_policy"}"#,
        Some(crate::support::valid("acct")),
        &crate::support::meta("root"),
    )
    .await
    .unwrap();
    crate::support::eventually("the copy at the allowed origin", || async {
        recorder.credentials().len() == 1
    })
    .await;
    // Changing the address to a refused one is refused too.
    let changed = admin
        .gql(
            "mutation { changeMcpServer(id: \"gw\", baseUrl: \"https://10.1.2.3\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(changed.code(), "VALIDATION", "{}", changed.body);
}
on_both_backends!(mcp_server_addresses_follow_the_outbound_policy);
