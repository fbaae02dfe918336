//! The signed MCP client (credledger_adapters::mcp::client) through its public API, against the
//! recording MCP server (tests/support/mcp_recorder.rs): what it sends, how it signs, and how it
//! takes a failing, slow, oversized or malformed answer. What needs no server is tested beside
//! the client. Then the recording server itself, which the sync, import and resolve tests trust
//! to stand in for a real one.

use crate::support::mcp_recorder::{McpFault, Op, RecordingMcpServer};
use credledger_adapters::mcp::client::{
    McpClient, RemoteCredential, RemoteItem, SyncBody, SyncError, MAX_ANSWER_BYTES,
    MAX_CREDENTIAL_ID_CHARS,
};
use credledger_adapters::mcp::signing;
use credledger_adapters::outbound::OutboundPolicy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use zeroize::Zeroizing;

const SECRET: &[u8] = b"whsec_client_tests";

/// The recording server listens on loopback.
fn loopback() -> OutboundPolicy {
    OutboundPolicy {
        allow_loopback: true,
        ..Default::default()
    }
}
const CANARY: &str = "sk-canary-3f9a1c77d2";

async fn server() -> RecordingMcpServer {
    RecordingMcpServer::start(vec![SECRET.to_vec()])
        .await
        .expect("the recorder starts")
}

fn client_at(base_url: &str, timeout: Duration) -> McpClient {
    McpClient::new(
        base_url,
        Zeroizing::new(SECRET.to_vec()),
        timeout,
        &loopback(),
    )
    .expect("a client")
}

fn client(server: &RecordingMcpServer) -> McpClient {
    client_at(&server.base_url(), Duration::from_secs(5))
}

/// A client for `server` that signs with `secret`.
fn client_signing_with(server: &RecordingMcpServer, secret: &[u8]) -> McpClient {
    McpClient::new(
        &server.base_url(),
        Zeroizing::new(secret.to_vec()),
        Duration::from_secs(5),
        &loopback(),
    )
    .expect("a client")
}

fn body(user: &str, version: u64) -> SyncBody {
    SyncBody {
        user_id: user.to_owned(),
        service_type: "notion".to_owned(),
        credential_name: "Work".to_owned(),
        credential_data: BTreeMap::from([("token".to_owned(), CANARY.to_owned())]),
        account_identifier: Some("alice@example.com".to_owned()),
        is_primary: true,
        ledger_version: version,
        event_id: format!("keyring/{user}:notion/{version}"),
    }
}

fn readable(items: Vec<RemoteItem>) -> Vec<RemoteCredential> {
    items
        .into_iter()
        .map(|item| match item {
            RemoteItem::Ok(c) => c,
            other => panic!("unreadable: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn create_update_list_and_delete_reach_the_server_signed() {
    let server = server().await;
    let client = client(&server);

    let id = client.create(&body("alice", 1)).await.expect("created");
    let listed = readable(client.list(None, None).await.expect("listed"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, id);
    assert_eq!(listed[0].ledger_version, Some(1));
    assert_eq!(
        listed[0]
            .credential_data
            .as_ref()
            .and_then(|d| d.get("token")),
        Some(&Value::from(CANARY))
    );

    client
        .update(&id, &body("alice", 2))
        .await
        .expect("updated");
    let listed = readable(
        client
            .list(Some("alice"), Some("notion"))
            .await
            .expect("listed"),
    );
    assert_eq!(listed[0].ledger_version, Some(2));
    assert!(client
        .list(Some("bob"), None)
        .await
        .expect("listed")
        .is_empty());

    client
        .delete(&id, "keyring/alice:notion/3", 3)
        .await
        .expect("deleted");
    assert!(server.credentials().is_empty());

    let applied = server.applied();
    let ops: Vec<_> = applied.iter().map(|c| (c.op, c.ledger_version)).collect();
    assert_eq!(
        ops,
        [
            (Op::Create, Some(1)),
            (Op::Update, Some(2)),
            (Op::Delete, Some(3))
        ]
    );
    assert_eq!(applied[1].idempotency_key, "keyring/alice:notion/2");
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.signature_valid));
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/credentials".to_owned(),
            "/credentials".to_owned(),
            format!("/credentials/{id}"),
            "/credentials?user_id=alice&service_type=notion".to_owned(),
            "/credentials?user_id=bob".to_owned(),
            format!("/credentials/{id}"),
        ]
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_nothing_is_applied() {
    let server = server().await;
    let client = client_signing_with(&server, b"not the secret");

    let refused = client.create(&body("alice", 1)).await;

    assert!(matches!(
        refused,
        Err(SyncError::Status { status: 401, .. })
    ));
    assert!(server.applied().is_empty());
    assert!(!server.requests()[0].signature_valid);
}

#[tokio::test]
async fn the_same_event_sent_twice_is_applied_once() {
    let server = server().await;
    let client = client(&server);

    let first = client.create(&body("alice", 1)).await.expect("created");
    let again = client.create(&body("alice", 1)).await.expect("answered");

    assert_eq!(first, again);
    assert_eq!(server.duplicates(), 1);
    assert_eq!(server.applied().len(), 1);
    assert_eq!(server.credentials().len(), 1);
}

#[tokio::test]
async fn updating_an_unknown_credential_is_not_found_and_deleting_one_is_fine() {
    let server = server().await;
    let client = client(&server);

    assert_eq!(
        client.update("mcp-404", &body("alice", 2)).await,
        Err(SyncError::NotFound)
    );
    assert_eq!(
        client.delete("mcp-404", "keyring/alice:notion/3", 3).await,
        Ok(())
    );
    assert!(server.applied().is_empty());
}

/// A `404` that is an HTML page is a proxy's (no route, its upstream down), not the server
/// saying it does not hold the copy: neither an update's "not found" (which re-creates the
/// copy) nor a delete's "already gone" (which forgets it), but a bad answer, retried.
#[tokio::test]
async fn a_proxys_html_404_is_neither_not_found_nor_gone() {
    let server = server().await;
    let client = client(&server);
    // A body starting with `<` (the recorder labels it JSON), and a `text/html` one.
    server.set_fault(Some(McpFault::Answer(
        404,
        "<html>404 Not Found</html>".into(),
    )));
    assert!(matches!(
        client.update("mcp-1", &body("alice", 2)).await,
        Err(SyncError::BadAnswer(_))
    ));
    assert!(matches!(
        client.delete("mcp-1", "keyring/alice:notion/3", 3).await,
        Err(SyncError::BadAnswer(_))
    ));
    server.set_fault(Some(McpFault::Html(404, "Not Found".into())));
    assert!(matches!(
        client.delete("mcp-1", "keyring/alice:notion/3", 3).await,
        Err(SyncError::BadAnswer(_))
    ));
    // The server's own 404 (JSON) still is.
    server.set_fault(Some(McpFault::Answer(
        404,
        r#"{"detail": "Not Found"}"#.into(),
    )));
    assert_eq!(
        client.update("mcp-1", &body("alice", 2)).await,
        Err(SyncError::NotFound)
    );
    assert_eq!(
        client.delete("mcp-1", "keyring/alice:notion/3", 3).await,
        Ok(())
    );
}

#[tokio::test]
async fn a_failing_server_answers_its_status_and_retry_after() {
    let server = server().await;
    let client = client(&server);

    server.set_fault(Some(McpFault::Status(503)));
    assert_eq!(
        client.create(&body("alice", 1)).await,
        Err(SyncError::Status {
            status: 503,
            retry_after: None
        })
    );
    server.set_fault(Some(McpFault::StatusWithRetryAfter(429, 7)));
    let limited = client.list(None, None).await.expect_err("rate limited");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(limited.to_string(), "the MCP server answered 429");
    assert!(server.applied().is_empty());
}

#[tokio::test]
async fn a_server_that_is_down_is_unreachable() {
    let server = server().await;
    let client = client(&server);
    client.create(&body("alice", 1)).await.expect("created");

    server.go_down().await;

    assert!(matches!(
        client.list(None, None).await,
        Err(SyncError::Unreachable(_))
    ));
}

#[tokio::test]
async fn a_closed_port_is_told_in_words_without_an_os_error_number() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    // Nothing listens there any more.
    let client = client_at(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2));
    let error = client.list(None, None).await.expect_err("refused");
    assert_eq!(
        error,
        SyncError::Unreachable("could not connect (connection refused)".into())
    );
    assert!(!error.to_string().contains("os error"), "{error}");
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_times_out() {
    let server = server().await;
    let client = client_at(&server.base_url(), Duration::from_millis(200));
    server.set_fault(Some(McpFault::Slow(Duration::from_secs(3))));

    assert_eq!(client.list(None, None).await, Err(SyncError::Timeout));
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused() {
    let server = server().await;
    let client = client(&server);
    let declared = format!(r#"{{"credential_id": "{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
    for fault in [
        McpFault::Oversize(MAX_ANSWER_BYTES + 1),
        McpFault::Answer(201, declared),
    ] {
        server.set_fault(Some(fault));
        assert_eq!(
            client.create(&body("alice", 1)).await,
            Err(SyncError::BadAnswer(format!(
                "larger than {MAX_ANSWER_BYTES} bytes"
            )))
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = server().await;
    let client = client(&server);
    server.set_fault(Some(McpFault::Redirect));

    assert!(matches!(
        client.create(&body("alice", 1)).await,
        Err(SyncError::Status { status: 302, .. })
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_create_answer_without_a_usable_id_is_a_bad_answer() {
    let server = server().await;
    let client = client(&server);
    let long = "x".repeat(MAX_CREDENTIAL_ID_CHARS + 1);
    for answer in [
        "not json".to_owned(),
        r#"{"id": "mcp-1"}"#.to_owned(),
        r#"{"credential_id": ""}"#.to_owned(),
        format!(r#"{{"credential_id": "{long}"}}"#),
    ] {
        server.set_fault(Some(McpFault::Answer(201, answer)));
        assert!(matches!(
            client.create(&body("alice", 1)).await,
            Err(SyncError::BadAnswer(_))
        ));
    }
}

#[tokio::test]
async fn a_malformed_list_item_is_reported_without_spoiling_the_others() {
    let server = server().await;
    let client = client(&server);
    let ids = server.seed(vec![
        serde_json::json!({"user_id": "alice", "service_type": "notion", "credential_data": {"token": "t"}}),
        serde_json::json!({"user_id": "alice", "service_type": "notion", "ledger_version": "seven"}),
        serde_json::json!({"service_type": "notion"}),
        serde_json::json!("not an object"),
    ]);

    let items = client.list(None, None).await.expect("listed");

    assert_eq!(items.len(), 4);
    assert!(matches!(&items[0], RemoteItem::Ok(c) if c.credential_id == ids[0]));
    assert_eq!(
        items[1],
        RemoteItem::Unreadable {
            index: 1,
            credential_id: Some(ids[1].clone()),
            user_id: Some("alice".to_owned()),
            service_type: Some("notion".to_owned()),
            reason: "`ledger_version` is not a whole number".to_owned()
        }
    );
    assert!(
        matches!(&items[2], RemoteItem::Unreadable { reason, .. } if reason == "`user_id` is missing")
    );
    assert!(matches!(
        &items[3],
        RemoteItem::Unreadable {
            index: 3,
            credential_id: None,
            ..
        }
    ));
}

/// One page of a paginated list is not taken for the whole: the copies on the other pages
/// would look missing at every drift check (recorded drifted and resent for ever).
#[tokio::test]
async fn one_page_of_a_list_is_a_bad_answer() {
    let server = server().await;
    let client = client(&server);
    let item = r#"{"credential_id": "a", "user_id": "alice", "service_type": "notion"}"#;
    for more in [
        r#""next": "/credentials?page=2""#,
        r#""next_page": 2"#,
        r#""next_cursor": "c2""#,
        r#""has_more": true"#,
    ] {
        server.set_fault(Some(McpFault::Answer(
            200,
            format!(r#"{{"credentials": [{item}], {more}}}"#),
        )));
        assert!(
            matches!(client.list(None, None).await, Err(SyncError::BadAnswer(_))),
            "{more}"
        );
    }
    // The last page says there is no more.
    for last in [
        r#""next": null"#,
        r#""has_more": false"#,
        r#""next_cursor": """#,
    ] {
        server.set_fault(Some(McpFault::Answer(
            200,
            format!(r#"{{"credentials": [{item}], {last}}}"#),
        )));
        assert_eq!(
            client.list(None, None).await.map(|l| l.len()),
            Ok(1),
            "{last}"
        );
    }
}

#[tokio::test]
async fn a_list_may_be_a_bare_array() {
    let server = server().await;
    let client = client(&server);
    server.set_fault(Some(McpFault::Answer(
        200,
        r#"[{"credential_id": "a", "user_id": "alice", "service_type": "notion"}]"#.to_owned(),
    )));

    let listed = readable(client.list(None, None).await.expect("listed"));

    assert_eq!(listed[0].credential_id, "a");
    assert_eq!(listed[0].ledger_version, None);
}

#[tokio::test]
async fn a_base_url_path_prefix_is_part_of_the_signed_path() {
    let server = server().await;
    let client = client_at(
        &format!("{}/mcp/", server.base_url()),
        Duration::from_secs(5),
    );

    let id = client.create(&body("alice", 1)).await.expect("created");
    client
        .update(&id, &body("alice", 2))
        .await
        .expect("updated");

    let requests = server.requests();
    assert_eq!(requests[1].path, format!("/mcp/credentials/{id}"));
    assert!(requests.iter().all(|r| r.signature_valid));
}

#[tokio::test]
async fn ids_and_query_values_are_percent_encoded() {
    let server = server().await;
    let client = client(&server);

    let missing = client.update("a/b?c d%", &body("alice", 1)).await;
    client.list(Some("al ice&x=1"), None).await.expect("listed");

    assert_eq!(missing, Err(SyncError::NotFound));
    let requests = server.requests();
    assert_eq!(requests[0].path, "/credentials/a%2Fb%3Fc%20d%25");
    assert_eq!(requests[1].path, "/credentials?user_id=al+ice%26x%3D1");
    assert!(requests.iter().all(|r| r.signature_valid));
    assert!(matches!(
        client.delete("..", "keyring/alice:notion/2", 2).await,
        Err(SyncError::Config(_))
    ));
}

#[tokio::test]
async fn a_secret_never_shows_in_debug_output_or_errors() {
    let server = server().await;
    let client = client(&server);
    let body = body("alice", 1);
    assert!(!format!("{body:?}").contains(CANARY));
    assert!(format!("{body:?}").contains("token"));

    let mut errors = vec![];
    for fault in [
        McpFault::Answer(500, format!(r#"{{"error": "bad token {CANARY}"}}"#)),
        McpFault::Answer(
            201,
            format!(r#"{{"credential_id": true, "echo": "{CANARY}"}}"#),
        ),
        McpFault::Answer(201, format!("{CANARY} is not json")),
    ] {
        server.set_fault(Some(fault));
        errors.push(client.create(&body).await.expect_err("refused"));
    }
    server.set_fault(Some(McpFault::Answer(
        200,
        format!(r#"{{"credentials": [{{"credential_id": "a", "user_id": "alice", "service_type": "notion", "credential_data": "{CANARY}"}}, {{"credential_id": "b", "user_id": "alice", "service_type": "notion", "credential_data": {{"token": "{CANARY}"}}}}]}}"#),
    )));
    let items = client.list(None, None).await.expect("listed");
    server.set_fault(None);
    let wrong = client_signing_with(&server, CANARY.as_bytes());
    errors.push(wrong.create(&body).await.expect_err("refused"));

    assert!(
        matches!(&items[0], RemoteItem::Unreadable { reason, .. } if reason == "`credential_data` is not an object")
    );
    assert!(matches!(&items[1], RemoteItem::Ok(_)));
    assert!(!format!("{items:?}").contains(CANARY));
    assert!(!format!("{wrong:?}").contains(CANARY));
    for e in &errors {
        assert!(!e.to_string().contains(CANARY) && !format!("{e:?}").contains(CANARY));
    }
}

/// The recording MCP server itself: it refuses unsigned, stale and keyless changes, accepts
/// either secret during a rotation, and keeps or loses its state as told.
mod the_recording_server {
    use super::*;
    use credledger_adapters::mcp::client::{
        IDEMPOTENCY_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    };
    use serde_json::json;

    /// A POST signed by hand, `age` seconds ago, with or without an `Idempotency-Key`.
    async fn post(server: &RecordingMcpServer, age: i64, key: Option<&str>) -> u16 {
        let body = br#"{"user_id":"alice","service_type":"notion"}"#;
        let timestamp = chrono::Utc::now().timestamp() - age;
        let signature = signing::sign(SECRET, timestamp, body, "POST", "/credentials");
        let mut request = reqwest::Client::new()
            .post(format!("{}/credentials", server.base_url()))
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_vec());
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        request.send().await.expect("answered").status().as_u16()
    }

    #[tokio::test]
    async fn unsigned_or_stale_requests_are_refused_unread() {
        let server = server().await;
        let unsigned = reqwest::Client::new()
            .post(format!("{}/credentials", server.base_url()))
            .header(IDEMPOTENCY_KEY_HEADER, "k1")
            .body("{}")
            .send()
            .await
            .expect("answered");

        assert_eq!(unsigned.status().as_u16(), 401);
        assert_eq!(
            post(&server, signing::TOLERANCE_SECS + 5, Some("k2")).await,
            401
        );
        assert_eq!(post(&server, 0, Some("k3")).await, 201);
        let requests = server.requests();
        assert_eq!(
            requests
                .iter()
                .map(|r| (r.signature_valid, r.body.is_some()))
                .collect::<Vec<_>>(),
            [(false, false), (false, false), (true, true)]
        );
        assert_eq!(server.applied().len(), 1);
    }

    #[tokio::test]
    async fn a_change_without_an_idempotency_key_is_refused() {
        let server = server().await;

        assert_eq!(post(&server, 0, None).await, 400);
        assert!(server.applied().is_empty());
        assert!(server.credentials().is_empty());
    }

    #[tokio::test]
    async fn during_a_rotation_either_secret_is_accepted() {
        let server = RecordingMcpServer::start(vec![b"old".to_vec(), b"new".to_vec()])
            .await
            .expect("the recorder starts");

        client_signing_with(&server, b"old")
            .create(&body("alice", 1))
            .await
            .expect("created");
        client_signing_with(&server, b"new")
            .create(&body("alice", 2))
            .await
            .expect("created");
        assert!(matches!(
            client_signing_with(&server, b"other")
                .create(&body("alice", 3))
                .await,
            Err(SyncError::Status { status: 401, .. })
        ));
    }

    #[tokio::test]
    async fn a_server_that_went_down_comes_back_on_the_same_port_with_its_state() {
        let server = server().await;
        let client = client_signing_with(&server, SECRET);
        let id = client.create(&body("alice", 1)).await.expect("created");
        let addr = server.addr();

        server.go_down().await;
        assert!(matches!(
            client.list(None, None).await,
            Err(SyncError::Unreachable(_))
        ));
        server.come_back().await.expect("listening again");

        assert_eq!(server.addr(), addr);
        let items = client.list(None, None).await.expect("listed");
        assert!(matches!(&items[..], [RemoteItem::Ok(c)] if c.credential_id == id));
        assert_eq!(client.create(&body("alice", 1)).await, Ok(id));
        assert_eq!(server.duplicates(), 1);
    }

    #[tokio::test]
    async fn a_cleared_server_forgets_its_credentials_and_the_keys_it_applied() {
        let server = server().await;
        let client = client_signing_with(&server, SECRET);
        let first = client.create(&body("alice", 1)).await.expect("created");

        server.clear();
        let second = client
            .create(&body("alice", 1))
            .await
            .expect("created again");

        assert_eq!((first.as_str(), second.as_str()), ("mcp-1", "mcp-2"));
        assert_eq!(server.duplicates(), 0);
        assert_eq!(server.applied().len(), 2);
        assert_eq!(server.credentials().keys().collect::<Vec<_>>(), ["mcp-2"]);
    }

    #[tokio::test]
    async fn seeded_records_are_listed_as_given_and_can_drift() {
        let server = server().await;
        let client = client_signing_with(&server, SECRET);
        let ids = server.seed(vec![
            json!({"user_id": "alice", "service_type": "notion", "ledger_version": 3}),
            json!({"user_id": "bob", "service_type": "jira"}),
        ]);

        server.set_reported_version(&ids[0], 9);
        let items = client.list(Some("alice"), None).await.expect("listed");

        assert!(matches!(
            &items[..],
            [RemoteItem::Ok(c)] if c.credential_id == ids[0] && c.ledger_version == Some(9)
        ));
        assert_eq!(
            server.credentials()[&ids[1]],
            json!({"user_id": "bob", "service_type": "jira"})
        );
    }
}
