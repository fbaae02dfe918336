//! The HTTP edge: only JSON POSTs, limits with clear errors, introspection only in dev mode,
//! the live-check budget, subscriptions, and SQL statements per request.

use crate::on_both_backends;
use crate::support::api::Auth;
use crate::support::TestEnv;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::json;
use std::time::Duration;

async fn only_same_origin_json_posts_change_anything(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let Auth::Cookie(cookie) = &alice.auth else {
        unreachable!()
    };
    let mutation =
        json!({"query": format!("mutation {{ revokeCredential(id: \"{id}\") {{ id }} }}")})
            .to_string();
    let url = format!("{}/graphql", server.base);
    // A cross-site form can send text/plain or a form body with the cookie: both refused.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let resp = server
            .http
            .post(&url)
            .header("cookie", cookie)
            .header("content-type", content_type)
            .header("origin", "https://evil.example")
            .body(mutation.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{content_type}");
    }
    // JSON from another origin is refused too.
    let resp = server
        .http
        .post(&url)
        .header("cookie", cookie)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(mutation.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // A mutation through GET is refused.
    let resp = server
        .http
        .get(&url)
        .header("cookie", cookie)
        .query(&[(
            "query",
            format!("mutation {{ revokeCredential(id: \"{id}\") {{ id }} }}"),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(alice.status(&id).await, "ACTIVE", "nothing changed");

    // Limits, each with a clear error.
    let big = alice
        .post_raw(
            "application/json",
            serde_json::to_vec(
                &json!({"query": "{ me { id } }", "variables": {"pad": "x".repeat(1 << 20)}}),
            )
            .unwrap(),
        )
        .await;
    assert_eq!(big.status, 413);
    assert!(big.message().contains("64 KiB"), "{}", big.body);
    // Refused before execution: 200 with the error as plain JSON (the GraphQL-over-HTTP
    // media type answers 400, see edge.rs), and no `data`.
    let deep = format!("{{ {}id{} }}", "me { ".repeat(19), " }".repeat(19));
    let answer = alice.gql(&deep, json!({})).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    assert_eq!(answer.code(), "VALIDATION");
    assert!(
        answer.message().contains("nested 20 levels"),
        "{}",
        answer.body
    );
    let aliases: String = (0..1000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let answer = alice.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.code(), "VALIDATION");
    assert!(answer.message().contains("aliases"), "{}", answer.body);
    // The same field repeated without an alias is resolved as often as aliases would be.
    let repeated = "me { id } ".repeat(900);
    let answer = alice.gql(&format!("{{ {repeated} }}"), json!({})).await;
    assert_eq!(answer.code(), "VALIDATION", "{}", answer.body);
    assert!(
        answer.message().contains("selects `me` 900 times"),
        "{}",
        answer.body
    );
    // A field merged from the operation and a fragment it spreads, as colocated fragments do,
    // is answered.
    let merged = alice
        .ok(
            "{ me { id } ...Contact } fragment Contact on Query { me { id email } }",
            json!({}),
        )
        .await;
    assert_eq!(merged["me"]["id"], "alice", "{merged}");
    assert_eq!(merged["me"]["email"], "alice@example.com", "{merged}");
    let batch = alice
        .post_raw(
            "application/json",
            serde_json::to_vec(&json!([{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]))
                .unwrap(),
        )
        .await;
    assert_eq!(batch.status, 400);
    assert!(batch.message().contains("batched"), "{}", batch.body);
    // Introspection is off outside dev mode.
    for query in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"Query\") { name } }",
    ] {
        let intro = alice.gql(query, json!({})).await;
        assert_eq!(intro.code(), "VALIDATION", "{}", intro.body);
        assert!(intro.message().contains("dev mode"), "{}", intro.body);
    }
    // Security headers on every answer.
    for resp in [
        server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap(),
        server
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"query\":\"{ me { id } }\"}")
            .send()
            .await
            .unwrap(),
    ] {
        let h = resp.headers();
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        // The API's answers are kept by no cache (docs/security.md).
        assert_eq!(h["cache-control"], "no-store");
    }
    // The session cookie is HttpOnly and SameSite=Strict (and Secure outside dev mode).
    let login = server
        .anonymous()
        .gql(
            "mutation($p: String!) { login(login: \"alice@example.com\", password: $p) { user { id } } }",
            json!({"p": crate::support::api::PASSWORD}),
        )
        .await;
    let set_cookie = login.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(set_cookie.starts_with("__Host-"), "{set_cookie}");
    server.running.stop().await.unwrap();
}
on_both_backends!(only_same_origin_json_posts_change_anything);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspection_and_graphiql_are_served_in_dev_mode_only() {
    let env = TestEnv::sqlite().await;
    let server = env.server_with(|s| s.dev = true).await;
    let anon = server.anonymous();
    let intro = anon
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(intro.data()["__schema"]["queryType"]["name"], "Query");
    let page = server
        .http
        .get(format!("{}/graphql", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(page.to_lowercase().contains("graphiql"));
    // Every file GraphiQL loads from elsewhere is an exact version pinned by its hash.
    let external: Vec<&str> = page.split("https://").skip(1).collect();
    assert_eq!(external.len(), 4, "{page}");
    for tail in external {
        let tag = &tail[..tail.find('>').unwrap()];
        assert!(tag.contains("integrity=\"sha384-"), "{tag}");
        let url = &tail[..tail.find('"').unwrap()];
        assert!(
            url.contains('@') && url.split('@').nth(1).unwrap().contains('.'),
            "{url}"
        );
    }
    // Dev mode on loopback: plain HTTP, so the cookie is not `Secure`.
    let login = anon
        .gql(
            "mutation { login(login: \"demo@credledger.dev\", password: \"demo-password-123\") { user { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(login.data()["login"]["user"]["id"], "demo");
    assert!(!login.header("set-cookie").unwrap().contains("Secure"));
    server.running.stop().await.unwrap();
}

async fn the_eleventh_live_check_in_a_minute_is_rate_limited(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let fields = server.good_fields("notion", 0);
    let test = "mutation($f: JSON!) { testCredential(service: \"notion\", fields: $f) { result rateLimitRemaining account { displayName } } }";
    for expected in (0..10).rev() {
        let answer = alice.gql(test, json!({"f": fields})).await;
        let data = answer.data();
        assert_eq!(data["testCredential"]["result"], "VALID");
        assert_eq!(data["testCredential"]["rateLimitRemaining"], expected);
    }
    let eleventh = alice.gql(test, json!({"f": fields})).await;
    assert_eq!(eleventh.code(), "RATE_LIMITED", "{}", eleventh.body);
    assert!(
        eleventh.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(eleventh.status, 429);
    // Adding with a new secret draws on the same budget; nothing is stored.
    let add = alice
        .gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
            json!({"i": {"service": "notion", "name": "Late", "fields": fields}}),
        )
        .await;
    assert_eq!(add.code(), "RATE_LIMITED");
    assert_eq!(
        alice.ok("{ credentials { id } }", json!({})).await["credentials"],
        json!([])
    );
    // Another person's budget is their own.
    let bob = server.user("bob").await;
    assert_eq!(
        bob.ok(test, json!({"f": fields})).await["testCredential"]["rateLimitRemaining"],
        9
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(the_eleventh_live_check_in_a_minute_is_rate_limited);

/// A page served over plain HTTP under the dashboard's public name is anyone's on the network
/// path (the dashboard is served behind TLS): the WebSocket it opens with the person's cookie
/// is refused, where a page over HTTPS under that name is answered; and every answer under
/// that name asks browsers for HTTPS only (HSTS), none under a loopback name.
async fn a_plain_http_page_under_our_name_cannot_open_a_socket_as_the_person(env: TestEnv) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::Error;
    let server = env
        .server_with(|s| s.public_names = vec!["ledger.example".to_owned()])
        .await;
    let alice = server.user("alice").await;
    let Auth::Cookie(cookie) = &alice.auth else {
        unreachable!()
    };
    let socket = |origin: &str| {
        let mut request = format!("ws://{}/graphql", server.running.address)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("host", "ledger.example".parse().unwrap());
        headers.insert("origin", origin.parse().unwrap());
        headers.insert("cookie", cookie.parse().unwrap());
        headers.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        request
    };
    match tokio_tungstenite::connect_async(socket("http://ledger.example")).await {
        Err(Error::Http(refused)) => assert_eq!(refused.status().as_u16(), 403),
        other => panic!("a plain-HTTP page's socket was not refused: {other:?}"),
    }
    assert!(
        tokio_tungstenite::connect_async(socket("https://ledger.example"))
            .await
            .is_ok()
    );
    let answer = server
        .http
        .get(format!("{}/healthz", server.base))
        .header("host", "ledger.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Not under a loopback name, which a browser would hold to HTTPS on every port.
    let local = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert!(!local.headers().contains_key("strict-transport-security"));
}
on_both_backends!(a_plain_http_page_under_our_name_cannot_open_a_socket_as_the_person);

async fn a_subscriber_sees_a_revalidation_within_a_second(env: TestEnv) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::Message;
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let Auth::Cookie(cookie) = &alice.auth else {
        unreachable!()
    };
    let ws_url = format!("ws://{}/graphql", server.running.address);
    // A WebSocket from another origin is refused.
    let mut foreign = ws_url.clone().into_client_request().unwrap();
    foreign.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    foreign
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(foreign).await.is_err());

    let mut request = ws_url.into_client_request().unwrap();
    let origin = format!("http://{}", server.running.address);
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {}}).to_string(),
    ))
    .await
    .unwrap();
    async fn recv(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        within: Duration,
    ) -> serde_json::Value {
        loop {
            let msg = tokio::time::timeout(within, ws.next())
                .await
                .expect("a message in time")
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "ping" && v["type"] != "pong" {
                    return v;
                }
            }
        }
    }
    assert_eq!(
        recv(&mut ws, Duration::from_secs(5)).await["type"],
        "connection_ack"
    );
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"query":
            "subscription { credentialChanged { credentialId action credential { status lastValidatedAt } } }"}})
        .to_string(),
    ))
    .await
    .unwrap();
    // Someone else's change is not delivered; Alice's revalidation is, within a second.
    let bob = server.user("bob").await;
    bob.add("notion", "Bob's", server.good_fields("notion", 1))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice
        .ok(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result } }",
            json!({"id": id}),
        )
        .await;
    let event = recv(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(event["type"], "next", "{event}");
    let change = &event["payload"]["data"]["credentialChanged"];
    assert_eq!(change["credentialId"], json!(id), "{event}");
    assert_eq!(change["action"], "CredentialValidated");
    assert_eq!(change["credential"]["status"], "ACTIVE");

    // A change whose credential cannot be read comes as an error, not as `credential: null`
    // (which says the credential is gone): the read model's table is away when it is read.
    let ledger = server.running.ledger.clone();
    ledger.locate(&id).await.unwrap();
    sqlx::query("ALTER TABLE credential_summary RENAME TO credential_summary_away")
        .execute(&ledger.db.any)
        .await
        .unwrap();
    let revoking = tokio::spawn({
        let (ledger, id) = (ledger.clone(), id.clone());
        async move {
            let _ = ledger
                .revoke(&id, None, &crate::support::meta("alice"))
                .await;
        }
    });
    let event = recv(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(event["type"], "next", "{event}");
    let change = &event["payload"]["data"]["credentialChanged"];
    assert_eq!(change["action"], "CredentialRevoked", "{event}");
    let error = &event["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL", "{event}");
    assert_eq!(
        error["path"],
        json!(["credentialChanged", "credential"]),
        "the credential's read failed, not the change: {event}"
    );
    revoking.abort();
    sqlx::query("ALTER TABLE credential_summary_away RENAME TO credential_summary")
        .execute(&ledger.db.any)
        .await
        .unwrap();
    server.running.stop().await.unwrap();
}
on_both_backends!(a_subscriber_sees_a_revalidation_within_a_second);

#[test]
fn the_committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/schema.graphql"
    ))
    .expect("docs/schema.graphql");
    assert!(
        committed == credledger::graphql::sdl(),
        "docs/schema.graphql differs from the code: run `cargo run -p credledger -- schema > docs/schema.graphql`"
    );
}
