//! Who may do what: another person's ids are not there, permissions extend to metadata only,
//! secrets go to their owner alone, tokens carry scopes and expire, locked people stay out.

use crate::on_both_backends;
use crate::support::api::{Auth, Client, Server, PASSWORD};
use crate::support::TestEnv;
use serde_json::{json, Value};

/// Every query and mutation that takes a credential id, as (operation, variables).
fn operations_on(id: &str) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("query($id: ID!) { credential(id: $id) { id name } }", json!({"id": id})),
        ("query($id: ID!) { credentialHistory(id: $id) { type } }", json!({"id": id})),
        (
            "query($id: ID!) { auditTrail(filter: {credentialId: $id}) { edges { node { action } } } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { updateCredential(id: $id, input: {name: \"Mine now\"}) { credential { id } } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { revalidateCredential(id: $id) { result } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { revokeCredential(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": id}),
        ),
    ]
}

async fn snapshot(owner: &Client, id: &str) -> serde_json::Value {
    owner
        .ok(
            "query($id: ID!) { credential(id: $id) { name status isPrimary secretVersion ledgerVersion } \
             credentialHistory(id: $id) { position } }",
            json!({"id": id}),
        )
        .await
}

async fn setup(server: &Server) -> (Client, String) {
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Alice's", server.good_fields("notion", 0))
        .await;
    (alice, id)
}

async fn another_persons_ids_are_not_found(env: TestEnv) {
    let server = env.server().await;
    let (alice, id) = setup(&server).await;
    let before = snapshot(&alice, &id).await;
    let bob = server.user("bob").await;
    for (operation, variables) in operations_on(&id) {
        let answer = bob.gql(operation, variables).await;
        assert_eq!(answer.code(), "NOT_FOUND", "{operation}: {}", answer.body);
        assert!(
            !answer.body.to_string().contains("Alice's"),
            "{operation} leaked: {}",
            answer.body
        );
    }
    // Through aliases and fragments too.
    let aliased = bob
        .gql(
            "query($id: ID!) { a: credential(id: $id) { ...F } b: credential(id: $id) { name } } \
             fragment F on Credential { id name account { id } }",
            json!({"id": id}),
        )
        .await;
    let errors = aliased.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{}", aliased.body);
    assert!(errors
        .iter()
        .all(|e| e["extensions"]["code"] == "NOT_FOUND"));
    assert!(aliased.body["data"].is_null() || aliased.body["data"]["a"].is_null());
    // Bob's own lists do not show it, and nothing changed.
    let lists = bob
        .ok(
            "{ credentials { id } dashboard { total } auditTrail { edges { node { credentialId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(lists["credentials"], json!([]));
    assert_eq!(lists["dashboard"]["total"], 0);
    assert!(!lists.to_string().contains(&id));
    assert_eq!(snapshot(&alice, &id).await, before);
    // Admin-only queries are refused to people who are not administrators.
    for q in [
        "{ users { id } }",
        "{ systemMetrics { users } }",
        "{ allCredentials { id } }",
    ] {
        assert_eq!(bob.gql(q, json!({})).await.code(), "FORBIDDEN", "{q}");
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(another_persons_ids_are_not_found);

async fn admins_see_metadata_never_secrets(env: TestEnv) {
    let server = env.server().await;
    let (alice, id) = setup(&server).await;
    let root = server.admin("root").await;
    for p in [
        "CREDENTIALS_VIEW_ALL",
        "CREDENTIALS_EDIT_ALL",
        "CREDENTIALS_DELETE_ALL",
    ] {
        root.ok(
            "mutation($u: String!, $p: Permission!) { grantPermission(userId: $u, permission: $p) { permissions } }",
            json!({"u": "root", "p": p}),
        )
        .await;
    }
    // Metadata: yes.
    let seen = root
        .ok(
            "query($id: ID!) { credential(id: $id) { name owner account { displayName } } \
             allCredentials { id owner } users { id } systemMetrics { totals { total } users } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(seen["credential"]["name"], "Alice's");
    assert_eq!(seen["credential"]["owner"], "alice");
    assert_eq!(seen["allCredentials"][0]["id"], json!(id));
    assert_eq!(seen["systemMetrics"]["users"], 2);
    // The secret: never, whatever the role and permissions.
    let reveal = root
        .gql(
            "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(reveal.code(), "FORBIDDEN", "{}", reveal.body);
    assert!(reveal.body["data"].is_null());
    let token = root.api_token("resolver", "CREDENTIALS_RESOLVE").await;
    let machine = root.with_auth(Auth::Bearer(token));
    let resolve = machine
        .gql(
            "mutation { resolveCredential(userId: \"alice\", service: \"notion\") { fields } }",
            json!({}),
        )
        .await;
    assert!(resolve.body["errors"].is_array(), "{}", resolve.body);
    assert!(resolve.body["data"].is_null(), "{}", resolve.body);
    let secret = server.good_fields("notion", 0)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!reveal.body.to_string().contains(&secret));
    assert!(!resolve.body.to_string().contains(&secret));
    // No disclosure was recorded either.
    let history = alice
        .ok(
            "query($id: ID!) { credentialHistory(id: $id) { type } }",
            json!({"id": id}),
        )
        .await;
    assert!(!history.to_string().contains("CredentialUsed"));
    server.running.stop().await.unwrap();
}
on_both_backends!(admins_see_metadata_never_secrets);

async fn tokens_carry_scopes_and_expire_and_locked_users_stay_out(env: TestEnv) {
    let server = env.server().await;
    let (alice, id) = setup(&server).await;
    let create = "mutation($n: String!, $s: [Scope!]!, $e: DateTime) { createApiToken(name: $n, scopes: $s, expiresAt: $e) { token apiToken { id } } }";
    let issue = |name: &'static str, scopes: serde_json::Value, expires: Option<String>| {
        let alice = alice.clone();
        async move {
            let data = alice
                .ok(create, json!({"n": name, "s": scopes, "e": expires}))
                .await;
            (
                data["createApiToken"]["token"].as_str().unwrap().to_owned(),
                data["createApiToken"]["apiToken"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        }
    };
    // A token works within its scopes…
    let (reader, _) = issue("reader", json!(["CREDENTIALS_READ"]), None).await;
    let reader = alice.with_auth(Auth::Bearer(reader));
    assert_eq!(
        reader.ok("{ credentials { id } }", json!({})).await["credentials"][0]["id"],
        json!(id)
    );
    // …and nowhere else.
    let ledger = reader
        .gql("{ auditTrail { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(ledger.code(), "FORBIDDEN");
    let resolve = reader
        .gql(
            "mutation { resolveCredential(userId: \"alice\", service: \"notion\") { fields } }",
            json!({}),
        )
        .await;
    assert_eq!(resolve.code(), "FORBIDDEN");
    // Tokens never act as a session.
    let mutate = reader
        .gql(
            "mutation($id: ID!) { revokeCredential(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(mutate.code(), "FORBIDDEN");
    // A resolver token gets the primary credential, and the use is recorded first.
    let (resolver, resolver_id) = issue("resolver", json!(["CREDENTIALS_RESOLVE"]), None).await;
    let machine = alice.with_auth(Auth::Bearer(resolver.clone()));
    let resolved = machine
        .ok(
            "mutation { resolveCredential(userId: \"alice\", service: \"notion\", tool: \"notion_search\") { credentialId fields version expiresAt } }",
            json!({}),
        )
        .await;
    assert_eq!(resolved["resolveCredential"]["credentialId"], json!(id));
    assert_eq!(
        resolved["resolveCredential"]["fields"],
        server.good_fields("notion", 0)
    );
    assert_eq!(resolved["resolveCredential"]["version"], 1);
    // The use is on the ledger: which token, which tool. (A resolve answers once the use is
    // durable; the audit trail shows it when its consumer gets there.)
    let audit = "{ auditTrail(filter: {action: \"CredentialUsed\"}) { edges { node { credentialId context } } } }";
    crate::support::eventually("the use in the audit trail", || async {
        !alice.ok(audit, json!({})).await["auditTrail"]["edges"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let used = alice.ok(audit, json!({})).await;
    let node = &used["auditTrail"]["edges"][0]["node"];
    assert_eq!(node["credentialId"], json!(id));
    assert_eq!(node["context"]["detail"]["tool"], "notion_search", "{node}");
    assert!(
        node["context"]["detail"]["consumer"]
            .as_str()
            .unwrap()
            .starts_with("token:"),
        "{node}"
    );
    // A revoked token is refused.
    alice
        .ok(
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({"id": resolver_id}),
        )
        .await;
    let after = machine
        .gql(
            "mutation { resolveCredential(userId: \"alice\", service: \"notion\") { fields } }",
            json!({}),
        )
        .await;
    assert_eq!(after.status, 401);
    assert_eq!(after.code(), "UNAUTHENTICATED");
    // An expired token is refused.
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (short, _) = issue("short-lived", json!(["CREDENTIALS_READ"]), Some(soon)).await;
    let short = alice.with_auth(Auth::Bearer(short));
    short.ok("{ credentials { id } }", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(
        short.gql("{ credentials { id } }", json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    // A made-up token is refused.
    let forged = alice.with_auth(Auth::Bearer("clt_forged".into()));
    assert_eq!(
        forged.gql("{ me { id } }", json!({})).await.code(),
        "UNAUTHENTICATED"
    );

    // A locked person is signed out, cannot sign in, and their tokens stop working.
    let (kept, _) = issue("kept", json!(["CREDENTIALS_READ"]), None).await;
    let root = server.admin("root").await;
    let racing = server.sign_in("alice").await;
    let pool = env.any_pool().await;
    let session_rows = "SELECT session_hash, user_id, created_at, expires_at FROM sessions";
    let before_lock: Vec<(String, String, String, String)> =
        sqlx::query_as(&format!("{session_rows} WHERE user_id = 'alice'"))
            .fetch_all(&pool)
            .await
            .unwrap();
    root.ok(
        "mutation { lockUser(userId: \"alice\", reason: \"left the company\") { locked } }",
        json!({}),
    )
    .await;
    // A sign-in that checked the password before the lock and wrote its session after the lock
    // ended the others (as `racing`'s would have): of no use while she is locked.
    for (hash, user, created, expires) in &before_lock {
        sqlx::query(
            "INSERT INTO sessions (session_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(user)
        .bind(created)
        .bind(expires)
        .execute(&pool)
        .await
        .unwrap();
    }
    assert_eq!(
        racing.gql("{ me { id } }", json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        alice.gql("{ me { id } }", json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        alice
            .with_auth(Auth::Bearer(kept))
            .gql("{ credentials { id } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    let login = server
        .anonymous()
        .gql(
            "mutation($p: String!) { login(login: \"alice@example.com\", password: $p) { user { id } } }",
            json!({"p": PASSWORD}),
        )
        .await;
    assert_eq!(login.code(), "VALIDATION", "{}", login.body);
    assert!(login.headers.get("set-cookie").is_none());
    // Unlocked, she can again; a session written while she was locked does not come back.
    root.ok(
        "mutation { unlockUser(userId: \"alice\") { locked } }",
        json!({}),
    )
    .await;
    assert_eq!(
        racing.gql("{ me { id } }", json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    pool.close().await;
    server.sign_in("alice").await;
    // The admin actions are on the ledger, attributed.
    let trail = root
        .ok(
            "{ auditTrail(filter: {actor: \"root\"}) { edges { node { action userId } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = trail["auditTrail"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"UserLocked") && actions.contains(&"UserUnlocked"),
        "{actions:?}"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(tokens_carry_scopes_and_expire_and_locked_users_stay_out);

async fn sign_in_is_throttled_per_account(env: TestEnv) {
    let server = env.server().await;
    server.create_user("carol", false).await;
    let anon = server.anonymous();
    let attempt = |password: &'static str| {
        let anon = anon.clone();
        async move {
            anon.gql(
                "mutation($p: String!) { login(login: \"carol@example.com\", password: $p) { user { id } } }",
                json!({"p": password}),
            )
            .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password!!").await.code(), "VALIDATION");
    }
    // Past the budget, even the right password is not checked.
    let blocked = attempt(PASSWORD).await;
    assert_eq!(blocked.code(), "RATE_LIMITED", "{}", blocked.body);
    assert!(
        blocked.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(sign_in_is_throttled_per_account);

/// A sign-in whose login holds a control character is a wrong sign-in, not an internal
/// error (PostgreSQL refuses NUL in text, and the throttle's key held it).
async fn a_login_with_a_control_character_is_a_wrong_sign_in(env: TestEnv) {
    let server = env.server().await;
    let anon = server.anonymous();
    for login in ["a\u{0}b@example.com", "carol\u{7}@example.com"] {
        let answer = anon
            .gql(
                "mutation($l: String!) { login(login: $l, password: \"wrong password!!\") { user { id } } }",
                json!({"l": login}),
            )
            .await;
        assert_eq!(answer.code(), "VALIDATION", "{}", answer.body);
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(a_login_with_a_control_character_is_a_wrong_sign_in);

/// A credential's history comes a page at a time, newest last: a credential an MCP server
/// resolves all day has hundreds of thousands of events, and one answer read them all.
async fn a_credentials_history_comes_a_page_at_a_time(env: TestEnv) {
    let server = env.server().await;
    let (alice, id) = setup(&server).await;
    for name in ["One", "Two", "Three"] {
        alice
            .ok(
                "mutation($id: ID!, $n: String!) { updateCredential(id: $id, input: {name: $n}) { credential { name } } }",
                json!({"id": id, "n": name}),
            )
            .await;
    }
    let history = |last: Value, before: Value| {
        alice.gql(
            "query($id: ID!, $l: Int!, $b: Int) { credentialHistory(id: $id, last: $l, before: $b) { position type payload } }",
            json!({"id": id, "l": last, "b": before}),
        )
    };
    let whole = history(json!(1000), Value::Null).await;
    let whole = whole.data()["credentialHistory"]
        .as_array()
        .unwrap()
        .clone();
    assert!(whole.len() >= 4, "{whole:?}");
    let newest = history(json!(2), Value::Null).await;
    assert_eq!(
        newest.data()["credentialHistory"].as_array().unwrap(),
        &whole[whole.len() - 2..]
    );
    let before = history(json!(2), whole[whole.len() - 2]["position"].clone()).await;
    assert_eq!(
        before.data()["credentialHistory"].as_array().unwrap(),
        &whole[whole.len() - 4..whole.len() - 2]
    );
    for last in [0, 1001] {
        assert_eq!(history(json!(last), Value::Null).await.code(), "VALIDATION");
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(a_credentials_history_comes_a_page_at_a_time);

/// A revoked credential is refused a check or a new secret before its provider hears of it or
/// anything of the person's live-check budget is spent (the refusal came after both).
async fn a_revoked_credential_is_refused_before_its_provider_is_asked(env: TestEnv) {
    let server = env.server().await;
    let (alice, id) = setup(&server).await;
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id, reason: \"left\") { id } }",
            json!({"id": id}),
        )
        .await;
    let asked = server.simulator.requests("notion");
    let checked = alice
        .gql(
            "mutation($id: ID!) { revalidateCredential(id: $id) { result rateLimitRemaining } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(checked.code(), "CONFLICT", "{:?}", checked.body);
    let replaced = alice
        .gql(
            "mutation($id: ID!, $f: JSON!) { updateCredential(id: $id, input: {fields: $f}) { credential { id } } }",
            json!({"id": id, "f": server.good_fields("notion", 1)}),
        )
        .await;
    assert_eq!(replaced.code(), "CONFLICT", "{:?}", replaced.body);
    assert_eq!(
        server.simulator.requests("notion"),
        asked,
        "the provider was asked"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(a_revoked_credential_is_refused_before_its_provider_is_asked);

/// A person's list of credentials holds every one of them: it was cut at a thousand, without a
/// word, though one person may keep 200 of each service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_list_holds_every_one_of_their_credentials() {
    let env = TestEnv::sqlite().await;
    let server = env.server().await;
    let alice = server.user("alice").await;
    let ledger = server.running.ledger.clone();
    let mut wanted: Vec<(&str, usize)> = ["notion", "todoist", "jira", "sentry", "confluence"]
        .into_iter()
        .map(|service| (service, 200))
        .collect();
    wanted.extend(["openai", "anthropic", "mistral"].map(|service| (service, 1)));
    // One task per service (a keyring's commands one after another), the services at once.
    let registering = wanted.iter().map(|&(service, count)| {
        let (ledger, fields) = (ledger.clone(), server.good_fields(service, 0).to_string());
        async move {
            for n in 0..count {
                crate::support::register(
                    &ledger,
                    "alice",
                    service,
                    &format!("{service} {n}"),
                    &fields,
                )
                .await
                .unwrap();
            }
        }
    });
    futures::future::join_all(registering).await;
    let total: usize = wanted.iter().map(|(_, count)| count).sum();
    let listed = alice.ok("{ credentials { id } }", json!({})).await;
    assert_eq!(
        listed["credentials"].as_array().unwrap().len(),
        total,
        "every credential listed"
    );
    server.running.stop().await.unwrap();
}

/// `credentials.view_all` shows every credential's entries in the audit trail, and of people
/// only its holder: not others' accounts (emails, roles, lock reasons) nor the MCP servers'
/// configuration (their addresses), which only administrators see (`users`, `mcpServers`).
async fn viewing_all_credentials_shows_no_one_elses_account_in_the_audit_trail(env: TestEnv) {
    let server = env.server().await;
    let root = server.admin("root").await;
    let alice = server.user("alice").await;
    alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let bob = server.user("bob").await;
    root.ok(
        "mutation { grantPermission(userId: \"bob\", permission: CREDENTIALS_VIEW_ALL) { permissions } }",
        json!({}),
    )
    .await;
    root.ok(
        crate::support::mcp::REGISTER,
        json!({"i": {"id": "gw", "name": "Gateway", "baseUrl": "http://127.0.0.1:9/internal",
                     "allowedServices": ["notion"]}}),
    )
    .await;
    let trail = |client: &Client| {
        let client = client.clone();
        async move {
            let answer = client
                .ok(
                    "{ auditTrail(first: 100) { edges { node { action userId credentialId } } } }",
                    json!({}),
                )
                .await;
            crate::support::api::nodes(&answer["auditTrail"])
        }
    };
    let seen = trail(&bob).await;
    assert!(
        seen.iter()
            .any(|n| n["action"] == "CredentialRegistered" && n["userId"] == "alice"),
        "{seen:?}"
    );
    for n in &seen {
        assert!(
            !n["credentialId"].is_null() || n["userId"] == "bob",
            "someone else's account or a server's configuration: {n}"
        );
    }
    let everything = trail(&root).await;
    for action in ["McpServerRegistered", "UserRegistered"] {
        assert!(
            everything.iter().any(|n| n["action"] == action),
            "{action}: {everything:?}"
        );
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(viewing_all_credentials_shows_no_one_elses_account_in_the_audit_trail);

/// A registration whose password could not be stored after its event left an account no one
/// could ever sign in to, and asking again answered `CONFLICT`: asking again with the same id
/// and email now completes it. Anything else about the account stays refused.
#[tokio::test]
async fn a_registration_stopped_before_its_password_is_completed_by_asking_again() {
    let env = TestEnv::sqlite().await;
    let server = env.server().await;
    let root = server.admin("root").await;
    let pool = env.any_pool().await;
    sqlx::query(
        "CREATE TRIGGER planted_failure BEFORE INSERT ON passwords \
         WHEN NEW.user_id = 'ada' BEGIN SELECT RAISE(ABORT, 'the disk is full'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let create = |email: &'static str| {
        root.gql(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
            json!({"i": {"userId": "ada", "email": email, "displayName": "Ada",
                         "password": PASSWORD}}),
        )
    };
    assert_eq!(create("ada@example.com").await.code(), "INTERNAL");
    sqlx::query("DROP TRIGGER planted_failure")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        create("other@example.com").await.code(),
        "CONFLICT",
        "only the same account is completed"
    );
    create("ada@example.com").await.data();
    server.sign_in("ada").await;
    assert_eq!(create("ada@example.com").await.code(), "CONFLICT");
    server.running.stop().await.unwrap();
}

/// Everyone's credentials come a page at a time, each page after the last one's id, in one
/// order; a page's last credential erased since, or a page size out of bounds, is refused.
async fn everyones_credentials_come_a_page_at_a_time(env: TestEnv) {
    let server = env.server().await;
    let root = server.admin("root").await;
    let alice = server.user("alice").await;
    for (service, n, name) in [
        ("notion", 0, "One"),
        ("notion", 1, "Two"),
        ("todoist", 0, "Three"),
    ] {
        alice
            .add(service, name, server.good_fields(service, n))
            .await;
    }
    let page = |first: i64, after: Value| {
        root.gql(
            "query($f: Int!, $a: ID) { allCredentials(first: $f, after: $a) { id name } }",
            json!({"f": first, "a": after}),
        )
    };
    let ids = |answer: &crate::support::api::Answer| -> Vec<String> {
        answer.data()["allCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let whole = ids(&page(1000, Value::Null).await);
    assert_eq!(whole.len(), 3);
    let first = ids(&page(2, Value::Null).await);
    assert_eq!(first, whole[..2]);
    let rest = ids(&page(2, json!(first[1])).await);
    assert_eq!(rest, whole[2..]);
    for first in [0, 1001] {
        assert_eq!(page(first, Value::Null).await.code(), "VALIDATION");
    }
    alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": whole[1]}),
        )
        .await;
    assert_eq!(page(2, json!(whole[1])).await.code(), "VALIDATION");
    server.running.stop().await.unwrap();
}
on_both_backends!(everyones_credentials_come_a_page_at_a_time);

/// An email is kept with its domain lowercased: the person signs in with the address as they
/// gave it, or with the domain in any case; the part before `@` stays theirs as given.
async fn a_person_signs_in_with_their_email_as_they_gave_it(env: TestEnv) {
    let server = env.server().await;
    let admin = server.admin("root").await;
    admin
        .ok(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id email } }",
            json!({"i": {"userId": "ada", "email": "Ada@Example.COM", "displayName": "Ada",
                         "password": crate::support::api::PASSWORD}}),
        )
        .await;
    let anon = server.anonymous();
    let login = |login: &'static str| {
        anon.gql(
            "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { user { id } } }",
            json!({"l": login, "p": crate::support::api::PASSWORD}),
        )
    };
    for given in ["Ada@Example.COM", "Ada@example.com", " Ada@EXAMPLE.com "] {
        let answer = login(given).await;
        assert_eq!(answer.data()["login"]["user"]["id"], "ada", "{given}");
    }
    assert_eq!(login("ada@example.com").await.code(), "VALIDATION");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_person_signs_in_with_their_email_as_they_gave_it);

/// A wrong current password to `changePassword` counts as a failed sign-in of the account from
/// the client: a stolen session cannot guess the password faster than signing in could.
async fn changing_the_password_is_throttled_like_signing_in(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let attempt = |current: &'static str| {
        let alice = alice.clone();
        async move {
            alice
                .gql(
                    "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"a new long password\") }",
                    json!({"c": current}),
                )
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password!!").await.code(), "VALIDATION");
    }
    let blocked = attempt(PASSWORD).await;
    assert_eq!(blocked.code(), "RATE_LIMITED", "{}", blocked.body);
    server.running.stop().await.unwrap();
}
on_both_backends!(changing_the_password_is_throttled_like_signing_in);

/// A sign-in whose password check raced a change of the password opens no session: the session
/// is written only while the password checked is still the one stored (PostgreSQL, where a
/// sign-in and a change run at once; the change's end of the other sessions may already have
/// run). The change is held at its row while the sign-in checks the old password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_racing_a_password_change_opens_no_session() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let server = env.server().await;
    server.create_user("alice", false).await;
    let pool = env.any_pool().await;
    let mut change = pool.begin().await.unwrap();
    sqlx::query("SELECT hash FROM passwords WHERE user_id = 'alice' FOR UPDATE")
        .execute(&mut *change)
        .await
        .unwrap();
    let anon = server.anonymous();
    let sign_in = tokio::spawn(async move {
        anon.gql(
            "mutation($p: String!) { login(login: \"alice@example.com\", password: $p) { user { id } } }",
            json!({"p": PASSWORD}),
        )
        .await
    });
    // The sign-in reads the old password (a plain read: not held), checks it, and then waits
    // for the row to write its session.
    crate::support::eventually("the sign-in waiting for the password's row", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
             AND query LIKE 'INSERT INTO sessions%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    sqlx::query("UPDATE passwords SET hash = 'a new password''s hash' WHERE user_id = 'alice'")
        .execute(&mut *change)
        .await
        .unwrap();
    change.commit().await.unwrap();
    let answer = sign_in.await.unwrap();
    assert_eq!(answer.code(), "VALIDATION", "{}", answer.body);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = 'alice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    pool.close().await;
    server.running.stop().await.unwrap();
}
