//! `resolveCredential` for MCP servers: a server's token resolves only with the scope
//! `credentials:resolve`, only for the users and services it may hold (a withdrawn grant at
//! once), never without a durable `CredentialUsed` first; removed servers' and revoked tokens
//! are refused at the transport; a person's own token still resolves only their own.

use crate::on_both_backends;
use crate::support::api::{Answer, Auth, Client, Server};
use crate::support::mcp::{
    fast_sync, grant, jobs_with, operator_token, register, register_for_everyone,
};
use crate::support::mcp_recorder::RecordingMcpServer;
use crate::support::{eventually, TestEnv};
use credledger_adapters::Backend;
use serde_json::{json, Value};

const RESOLVE: &str = "mutation($u: String!, $s: String!, $n: String, $t: String) { \
    resolveCredential(userId: $u, service: $s, name: $n, tool: $t) { credentialId service name fields version } }";

const ISSUE: &str = "mutation($s: String!, $n: String!, $sc: [Scope!]!) { \
    createMcpServerToken(serverId: $s, name: $n, scopes: $sc) { token apiToken { id } } }";

async fn server(env: &TestEnv) -> Server {
    env.server_with_jobs(|_| {}, jobs_with(fast_sync())).await
}

/// Issues `server_id` a token named `name` with `scopes`; answers a client using it and the
/// token's id.
async fn named_token(
    admin: &Client,
    server_id: &str,
    name: &str,
    scopes: Value,
) -> (Client, String) {
    let data = admin
        .ok(ISSUE, json!({"s": server_id, "n": name, "sc": scopes}))
        .await;
    let token = data["createMcpServerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("clm_"), "{token}");
    let id = data["createMcpServerToken"]["apiToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (admin.with_auth(Auth::Bearer(token)), id)
}

async fn server_token(admin: &Client, server_id: &str, scopes: Value) -> (Client, String) {
    named_token(admin, server_id, "resolver", scopes).await
}

async fn resolve(client: &Client, user: &str, service: &str, name: Option<&str>) -> Answer {
    client
        .gql(
            RESOLVE,
            json!({"u": user, "s": service, "n": name, "t": "search_pages"}),
        )
        .await
}

/// The resolved credential, asserting the answer has no errors.
fn resolved(answer: &Answer) -> Value {
    answer.data()["resolveCredential"].clone()
}

/// Asserts `answer` is refused with `code`, carries no `fields`, and quotes none of `secrets`.
fn assert_refused(answer: &Answer, code: &str, secrets: &[&Value]) {
    assert_eq!(answer.code(), code, "{}", answer.body);
    assert!(
        answer
            .body
            .pointer("/data/resolveCredential")
            .is_none_or(Value::is_null),
        "{}",
        answer.body
    );
    let body = answer.body.to_string();
    for fields in secrets {
        for value in fields.as_object().unwrap().values() {
            let value = value.as_str().unwrap();
            assert!(
                !body.contains(value),
                "a secret in a refused answer: {body}"
            );
        }
    }
}

/// `CredentialUsed` events in the event store itself (durable before any answer).
async fn stored_uses(env: &TestEnv) -> i64 {
    let pool = env.any_pool().await;
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM events WHERE event_type = 'CredentialUsed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    n
}

/// The credential's `CredentialUsed` events as its history shows them (a read model).
async fn used_events(owner: &Client, credential: &str) -> Vec<Value> {
    owner
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type payload } }",
            json!({"id": credential}),
        )
        .await["credentialHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "CredentialUsed")
        .cloned()
        .collect()
}

async fn a_token_without_the_resolve_scope_is_refused(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    grant(&alice, "gw", "notion").await;
    let secret = server.good_fields("notion", 0);
    alice.add("notion", "Work", secret.clone()).await;
    let (reader, _) = server_token(&admin, "gw", json!(["CREDENTIALS_READ"])).await;

    let answer = resolve(&reader, "alice", "notion", None).await;

    assert_refused(&answer, "FORBIDDEN", &[&secret]);
    assert_eq!(stored_uses(&env).await, 0);
}
on_both_backends!(a_token_without_the_resolve_scope_is_refused);

/// A user id or service past its bounds is `VALIDATION`, with a short message, before it keys
/// a remembered answer or a query (it was echoed whole in the refusal).
async fn an_over_long_user_or_service_is_refused_before_any_lookup(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let (gw, _) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;
    let long = "a".repeat(60_000);
    for (user, service) in [(long.as_str(), "notion"), ("alice", long.as_str())] {
        let answer = resolve(&gw, user, service, None).await;
        assert_eq!(answer.code(), "VALIDATION", "{}", answer.body);
        assert!(answer.message().len() < 200, "{}", answer.message());
    }
}
on_both_backends!(an_over_long_user_or_service_is_refused_before_any_lookup);

async fn a_server_resolves_only_what_it_was_granted(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion", "jira"]).await;
    let alice = server.user("alice").await;
    let (work_secret, personal_secret, jira_secret) = (
        server.good_fields("notion", 0),
        server.good_fields("notion", 1),
        server.good_fields("jira", 0),
    );
    let work = alice.add("notion", "Work", work_secret.clone()).await;
    let personal = alice
        .add("notion", "Personal", personal_secret.clone())
        .await;
    alice.add("jira", "Jira", jira_secret.clone()).await;
    let (gw, _) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;

    // No grant yet.
    let before = resolve(&gw, "alice", "notion", None).await;
    assert_refused(&before, "FORBIDDEN", &[&work_secret, &personal_secret]);

    grant(&alice, "gw", "notion").await;
    let primary = resolved(&resolve(&gw, "alice", "notion", None).await);
    assert_eq!(primary["credentialId"], json!(work));
    assert_eq!(primary["name"], "Work");
    assert_eq!(primary["service"], "notion");
    assert_eq!(primary["fields"], work_secret);
    assert_eq!(primary["version"], 1);
    let named = resolved(&resolve(&gw, "alice", "notion", Some("Personal")).await);
    assert_eq!(named["credentialId"], json!(personal));
    assert_eq!(named["fields"], personal_secret);

    // Jira is allowed for the server, but alice granted only notion.
    let jira = resolve(&gw, "alice", "jira", None).await;
    assert_refused(&jira, "FORBIDDEN", &[&jira_secret]);
}
on_both_backends!(a_server_resolves_only_what_it_was_granted);

async fn a_withdrawn_grant_is_refused_at_once(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let secret = server.good_fields("notion", 0);
    alice.add("notion", "Work", secret.clone()).await;
    let (gw, _) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;

    for _ in 0..3 {
        grant(&alice, "gw", "notion").await;
        assert_eq!(
            resolved(&resolve(&gw, "alice", "notion", None).await)["fields"],
            secret
        );
        alice
            .ok(
                "mutation { withdrawMcpAccess(serverId: \"gw\", service: \"notion\") }",
                json!({}),
            )
            .await;
        let after = resolve(&gw, "alice", "notion", None).await;
        assert_refused(&after, "FORBIDDEN", &[&secret]);
    }
}
on_both_backends!(a_withdrawn_grant_is_refused_at_once);

/// The server remembers tokens and grants between requests; a change made through another
/// process (a second server on the same database) still reaches it: once its consumers see
/// the withdrawal, the grant is refused; once they see the re-grant, it resolves again; and
/// once they see the token's revocation, the token is refused at the transport.
/// A server `gw` of the service `notion`, which alice granted and whose resolver token has
/// resolved her credential once.
struct Resolving {
    here: Server,
    _recorder: RecordingMcpServer,
    gw: Client,
    token_id: String,
    secret: Value,
}

async fn resolving(env: &TestEnv) -> Resolving {
    let here = server(env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = here.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = here.user("alice").await;
    grant(&alice, "gw", "notion").await;
    let secret = here.good_fields("notion", 0);
    alice.add("notion", "Work", secret.clone()).await;
    let (gw, token_id) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;
    assert_eq!(
        resolved(&resolve(&gw, "alice", "notion", None).await)["fields"],
        secret
    );
    Resolving {
        here,
        _recorder: recorder,
        gw,
        token_id,
        secret,
    }
}

async fn changes_made_elsewhere_reach_the_remembered_access(env: TestEnv) {
    let Resolving {
        here: _here,
        _recorder,
        gw,
        token_id,
        secret,
        ..
    } = resolving(&env).await;

    let there = server(&env).await;
    let alice_there = there.sign_in("alice").await;
    alice_there
        .ok(
            "mutation { withdrawMcpAccess(serverId: \"gw\", service: \"notion\") }",
            json!({}),
        )
        .await;
    eventually("the withdrawal made elsewhere to be refused", || async {
        resolve(&gw, "alice", "notion", None).await.body["errors"][0]["extensions"]["code"]
            == "FORBIDDEN"
    })
    .await;
    grant(&alice_there, "gw", "notion").await;
    eventually("the grant made elsewhere to resolve", || async {
        resolve(&gw, "alice", "notion", None).await.body["data"]["resolveCredential"]["fields"]
            == secret
    })
    .await;

    there
        .sign_in("root")
        .await
        .ok(
            "mutation($id: ID!) { revokeMcpServerToken(serverId: \"gw\", id: $id) }",
            json!({"id": token_id}),
        )
        .await;
    eventually("the token revoked elsewhere to be refused", || async {
        resolve(&gw, "alice", "notion", None).await.status == 401
    })
    .await;
    let refused = resolve(&gw, "alice", "notion", None).await;
    assert_refused(&refused, "UNAUTHENTICATED", &[&secret]);
}
on_both_backends!(changes_made_elsewhere_reach_the_remembered_access);

/// A change to the access read models that moves no epoch here (another process's rebuild of
/// `principals`, after a fix, that ended at the position this one had seen; stood in for by
/// writing the rebuilt row) is honoured within the remembered access's age bound (10 s), not
/// only at the next event of a user or MCP server.
async fn a_token_a_rebuild_elsewhere_shows_revoked_is_refused_within_ten_seconds(env: TestEnv) {
    let Resolving {
        here: _here,
        _recorder,
        gw,
        token_id,
        ..
    } = resolving(&env).await;

    let rebuilt = sqlx::query("UPDATE mcp_server_tokens SET revoked = 1 WHERE token_id = $1")
        .bind(token_id.as_str())
        .execute(&env.any_pool().await)
        .await
        .unwrap();
    assert_eq!(rebuilt.rows_affected(), 1);
    let since = std::time::Instant::now();
    crate::support::within(
        since,
        std::time::Duration::from_secs(15),
        "the token the rebuilt read model shows revoked to be refused",
        || async { resolve(&gw, "alice", "notion", None).await.status == 401 },
    )
    .await;
}
on_both_backends!(a_token_a_rebuild_elsewhere_shows_revoked_is_refused_within_ten_seconds);

async fn a_server_for_all_users_needs_no_grants_for_its_services(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (alice_secret, bob_secret, jira_secret) = (
        server.good_fields("notion", 0),
        server.good_fields("notion", 1),
        server.good_fields("jira", 0),
    );
    alice.add("notion", "Work", alice_secret.clone()).await;
    bob.add("notion", "Work", bob_secret.clone()).await;
    alice.add("jira", "Jira", jira_secret.clone()).await;
    let gw = admin.with_auth(Auth::Bearer(operator_token(&server, "gw").await));

    assert_eq!(
        resolved(&resolve(&gw, "alice", "notion", None).await)["fields"],
        alice_secret
    );
    assert_eq!(
        resolved(&resolve(&gw, "bob", "notion", None).await)["fields"],
        bob_secret
    );
    let jira = resolve(&gw, "alice", "jira", None).await;
    assert_refused(&jira, "FORBIDDEN", &[&jira_secret]);
}
on_both_backends!(a_server_for_all_users_needs_no_grants_for_its_services);

/// A server that holds every user's credentials without their grants is the operator's: an
/// administrator can neither set one up, nor make a server one, nor point one elsewhere, widen
/// its services or take a token for it (each would give them, or an address of their choice,
/// other people's secrets), and a refusal changes nothing. They may narrow it.
async fn an_administrator_cannot_take_a_server_for_everyones_credentials(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register_for_everyone(&server, &recorder, "gw", &["notion", "jira"]).await;
    register(&admin, &recorder, "granted", &["notion"]).await;
    const SERVERS: &str = "{ mcpServers { id baseUrl allowedServices servesAllUsers } }";
    let before = admin.ok(SERVERS, json!({})).await;
    let head = server.running.ledger.db.head().await.unwrap();

    for (asked, variables) in [
        (
            crate::support::mcp::REGISTER,
            json!({"i": {"id": "mine", "name": "Mine", "baseUrl": recorder.base_url(),
                         "allowedServices": ["notion"], "servesAllUsers": true}}),
        ),
        (
            "mutation { changeMcpServer(id: \"granted\", servesAllUsers: true) { id } }",
            json!({}),
        ),
        (
            "mutation($u: String!) { changeMcpServer(id: \"gw\", baseUrl: $u) { id } }",
            json!({"u": format!("{}/elsewhere", recorder.base_url())}),
        ),
        (
            "mutation { changeMcpServer(id: \"gw\", \
             allowedServices: [\"notion\", \"jira\", \"todoist\"]) { id } }",
            json!({}),
        ),
        (
            ISSUE,
            json!({"s": "gw", "n": "mine", "sc": ["CREDENTIALS_RESOLVE"]}),
        ),
    ] {
        let answer = admin.gql(asked, variables).await;
        assert_eq!(answer.code(), "FORBIDDEN", "{asked}: {:?}", answer.body);
        assert!(
            answer.message().contains("only the operator"),
            "{:?}",
            answer.body
        );
    }
    assert_eq!(admin.ok(SERVERS, json!({})).await, before);
    assert_eq!(
        server.running.ledger.db.head().await.unwrap(),
        head,
        "a refusal records nothing"
    );

    // Narrowing it is the administrator's to do.
    let narrowed = admin
        .ok(
            "mutation { changeMcpServer(id: \"gw\", allowedServices: [\"notion\"]) \
             { allowedServices servesAllUsers } }",
            json!({}),
        )
        .await;
    assert_eq!(
        narrowed["changeMcpServer"],
        json!({"allowedServices": ["notion"], "servesAllUsers": true})
    );

    // A token an administrator takes while a server serves only those who grant it access
    // stops working when the operator makes it serve everyone (it would resolve anyone's).
    let bob = server.user("bob").await;
    let bobs = server.good_fields("notion", 1);
    bob.add("notion", "Work", bobs.clone()).await;
    let (taken, _) = server_token(&admin, "granted", json!(["CREDENTIALS_RESOLVE"])).await;
    assert_refused(
        &resolve(&taken, "bob", "notion", None).await,
        "FORBIDDEN",
        &[&bobs],
    );
    let everyone = env
        .cli()
        .args([
            "mcp",
            "change",
            "--server",
            "granted",
            "--all-users",
            "true",
        ])
        .output()
        .unwrap();
    assert!(everyone.status.success(), "{everyone:?}");
    // (Until this server's read models show the operator's change, the answer may be either.)
    crate::support::eventually("the administrator's token refused", || async {
        resolve(&taken, "bob", "notion", None).await.body["errors"][0]["extensions"]["code"]
            == "UNAUTHENTICATED"
    })
    .await;
    assert_refused(
        &resolve(&taken, "bob", "notion", None).await,
        "UNAUTHENTICATED",
        &[&bobs],
    );

    // The operator does the rest, with the CLI.
    let elsewhere = format!("{}/elsewhere", recorder.base_url());
    let changed = env
        .cli()
        .args([
            "mcp",
            "change",
            "--server",
            "gw",
            "--services",
            "notion,todoist",
            "--url",
            &elsewhere,
        ])
        .output()
        .unwrap();
    assert!(changed.status.success(), "{changed:?}");
    let token = env
        .cli()
        .args(["mcp", "token", "--server", "gw"])
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    assert!(String::from_utf8_lossy(&token.stdout).starts_with("clm_"));
    crate::support::eventually("the operator's change shown", || async {
        admin.ok(SERVERS, json!({})).await["mcpServers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| {
                s["id"] == "gw"
                    && s["baseUrl"] == elsewhere.as_str()
                    && s["allowedServices"] == json!(["notion", "todoist"])
            })
    })
    .await;
}
on_both_backends!(an_administrator_cannot_take_a_server_for_everyones_credentials);

async fn each_resolve_is_recorded_as_a_use_first(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    grant(&alice, "gw", "notion").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let (gw, _) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;
    let usage = || async {
        alice
            .ok(
                "query($id: ID!) { credential(id: $id) { useCount lastUsedAt } }",
                json!({"id": work}),
            )
            .await["credential"]
            .clone()
    };
    assert_eq!(usage().await, json!({"useCount": 0, "lastUsedAt": null}));

    for n in 1..=2 {
        resolved(&resolve(&gw, "alice", "notion", None).await);
        // Durable before the answer: in the event store itself, not only in a read model.
        assert_eq!(stored_uses(&env).await, n);
        eventually("the use to be counted", || async {
            let counted = usage().await;
            counted["useCount"] == n && counted["lastUsedAt"].is_string()
        })
        .await;
    }

    let trail = || async {
        let uses = "{ auditTrail(filter: {action: \"CredentialUsed\"}) \
                    { edges { node { credentialId context } } } }";
        let answer = alice.ok(uses, json!({})).await;
        crate::support::api::nodes(&answer["auditTrail"])
    };
    eventually("both uses in the audit trail", || async {
        trail().await.len() == 2
    })
    .await;
    for node in trail().await {
        assert_eq!(node["credentialId"], json!(work), "{node}");
        let context = node["context"].to_string();
        assert!(context.contains("\"mcp:gw\""), "{node}");
        assert!(context.contains("\"search_pages\""), "{node}");
    }
    let history = used_events(&alice, &work).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history[0]["payload"].to_string().contains("mcp:gw"),
        "{history:?}"
    );
}
on_both_backends!(each_resolve_is_recorded_as_a_use_first);

/// Makes the event store refuse every insert (`true`), or lifts that (`false`).
async fn freeze_events(env: &TestEnv, frozen: bool) {
    let pool = env.any_pool().await;
    let statements: &[&str] = match (env.backend, frozen) {
        (Backend::Postgres, true) => &[
            "CREATE FUNCTION test_events_read_only() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$",
            "CREATE TRIGGER events_read_only BEFORE INSERT ON events \
             FOR EACH ROW EXECUTE FUNCTION test_events_read_only()",
        ],
        (Backend::Postgres, false) => &[
            "DROP TRIGGER events_read_only ON events",
            "DROP FUNCTION test_events_read_only()",
        ],
        (Backend::Sqlite, true) => &["CREATE TRIGGER events_read_only BEFORE INSERT ON events \
             BEGIN SELECT RAISE(ABORT, 'read-only'); END"],
        (Backend::Sqlite, false) => &["DROP TRIGGER events_read_only"],
    };
    for sql in statements {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn an_unwritable_event_store_gives_out_no_secret(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    grant(&alice, "gw", "notion").await;
    let secret = server.good_fields("notion", 0);
    let work = alice.add("notion", "Work", secret.clone()).await;
    let (gw, _) = server_token(&admin, "gw", json!(["CREDENTIALS_RESOLVE"])).await;

    freeze_events(&env, true).await;
    let refused = resolve(&gw, "alice", "notion", None).await;
    assert_refused(&refused, "INTERNAL", &[&secret]);
    assert_eq!(stored_uses(&env).await, 0);

    freeze_events(&env, false).await;
    assert_eq!(
        resolved(&resolve(&gw, "alice", "notion", None).await)["fields"],
        secret
    );
    assert_eq!(stored_uses(&env).await, 1);
    eventually("the use in the credential's history", || async {
        used_events(&alice, &work).await.len() == 1
    })
    .await;
}
on_both_backends!(an_unwritable_event_store_gives_out_no_secret);

async fn removed_servers_and_revoked_tokens_are_unauthenticated(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let admin = server.admin("root").await;
    register(&admin, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    grant(&alice, "gw", "notion").await;
    let secret = server.good_fields("notion", 0);
    alice.add("notion", "Work", secret.clone()).await;
    let (first, first_id) =
        named_token(&admin, "gw", "first", json!(["CREDENTIALS_RESOLVE"])).await;
    let (second, _) = named_token(&admin, "gw", "second", json!(["CREDENTIALS_RESOLVE"])).await;
    resolved(&resolve(&first, "alice", "notion", None).await);

    admin
        .ok(
            "mutation($id: ID!) { revokeMcpServerToken(serverId: \"gw\", id: $id) }",
            json!({"id": first_id}),
        )
        .await;
    let revoked = resolve(&first, "alice", "notion", None).await;
    assert_eq!(revoked.status, 401, "{}", revoked.body);
    assert_refused(&revoked, "UNAUTHENTICATED", &[&secret]);
    resolved(&resolve(&second, "alice", "notion", None).await);

    admin
        .ok("mutation { removeMcpServer(id: \"gw\") }", json!({}))
        .await;
    let removed = resolve(&second, "alice", "notion", None).await;
    assert_eq!(removed.status, 401, "{}", removed.body);
    assert_refused(&removed, "UNAUTHENTICATED", &[&secret]);
}
on_both_backends!(removed_servers_and_revoked_tokens_are_unauthenticated);

async fn a_users_own_token_resolves_only_their_own(env: TestEnv) {
    let server = server(&env).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    register_for_everyone(&server, &recorder, "gw", &["notion"]).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (alice_secret, bob_secret) = (
        server.good_fields("notion", 0),
        server.good_fields("notion", 1),
    );
    alice.add("notion", "Work", alice_secret.clone()).await;
    bob.add("notion", "Work", bob_secret.clone()).await;
    let token = alice.api_token("resolver", "CREDENTIALS_RESOLVE").await;
    let machine = alice.with_auth(Auth::Bearer(token));

    assert_eq!(
        resolved(&resolve(&machine, "alice", "notion", None).await)["fields"],
        alice_secret
    );
    let others = resolve(&machine, "bob", "notion", None).await;
    assert_refused(&others, "NOT_FOUND", &[&bob_secret]);
}
on_both_backends!(a_users_own_token_resolves_only_their_own);
