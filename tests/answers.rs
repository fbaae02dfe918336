//! A committed command is answered with what it committed, even while the read models lag.

use crate::on_both_backends;
use crate::support::api::PASSWORD;
use crate::support::hold::{Hold, CREDENTIAL_SUMMARY, PRINCIPALS_AND_MCP_SYNC};
use crate::support::{eventually, TestEnv};
use cqrs_es::Aggregate as _;
use credledger_adapters::feed::read_stream;
use credledger_adapters::Database;
use credledger_domain::mcp_server::McpServer;
use credledger_domain::user::User;
use credledger_projections::{mcp_sync, principals};
use serde_json::{json, Value};

const FIELDS: &str = "id owner service name status isPrimary account { id displayName email } \
    metadata providerMetadata scopes secretVersion lastValidatedAt validationError lastUsedAt \
    useCount tokenExpiresAt ledgerVersion createdAt createdBy updatedAt updatedBy";

async fn listed(c: &crate::support::api::Client) -> Vec<Value> {
    let data = c
        .ok(
            &format!("{{ credentials(service: \"notion\") {{ {FIELDS} }} }}"),
            json!({}),
        )
        .await;
    data["credentials"].as_array().unwrap().clone()
}

on_both_backends!(
    commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back
);
async fn commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back(
    env: TestEnv,
) {
    let server = env.server_with(|s| s.read_your_writes_ms = 500).await;
    let alice = server.user("alice").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;

    let hold = Hold::start(&env, CREDENTIAL_SUMMARY).await;

    let added = alice
        .ok(
            &format!("mutation($i: AddCredentialInput!) {{ addCredential(input: $i) {{ credential {{ {FIELDS} }} }} }}"),
            json!({"i": {"service": "notion", "name": "Home", "fields": server.good_fields("notion", 1)}}),
        )
        .await;
    let home = &added["addCredential"]["credential"];
    assert_eq!(home["name"], "Home");
    assert_eq!(home["status"], "ACTIVE");
    assert_eq!(home["isPrimary"], false);
    let home = home["id"].as_str().unwrap().to_owned();

    let renamed = alice
        .ok(
            "mutation($id: ID!) { updateCredential(id: $id, input: {name: \"Work, renamed\"}) { credential { id name isPrimary } } }",
            json!({"id": work}),
        )
        .await;
    assert_eq!(
        renamed["updateCredential"]["credential"]["name"],
        "Work, renamed"
    );
    assert_eq!(renamed["updateCredential"]["credential"]["isPrimary"], true);

    let primary = alice
        .ok(
            "mutation($id: ID!) { setPrimaryCredential(id: $id) { id name isPrimary } }",
            json!({"id": home}),
        )
        .await;
    assert_eq!(primary["setPrimaryCredential"]["isPrimary"], true);
    assert_eq!(primary["setPrimaryCredential"]["name"], "Home");

    let revoked = alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { id name status isPrimary } }",
            json!({"id": work}),
        )
        .await;
    assert_eq!(revoked["revokeCredential"]["status"], "REVOKED");
    assert_eq!(revoked["revokeCredential"]["name"], "Work, renamed");
    assert_eq!(revoked["revokeCredential"]["isPrimary"], false);

    let deleted = alice
        .ok(
            &format!("mutation($id: ID!) {{ deleteCredential(id: $id) {{ deletedId newPrimary {{ {FIELDS} }} }} }}"),
            json!({"id": work}),
        )
        .await;
    assert_eq!(deleted["deleteCredential"]["deletedId"], work.as_str());
    let new_primary = deleted["deleteCredential"]["newPrimary"].clone();
    assert_eq!(new_primary["id"], home.as_str());
    assert_eq!(new_primary["isPrimary"], true);

    // The read model really was held back: it still shows the credentials as they were.
    let stale = listed(&alice).await;
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["name"], "Work");
    assert_eq!(stale[0]["status"], "ACTIVE");

    hold.release().await;
    // What the last answer said of the new primary is what the read model comes to say (it
    // may apply the held-back events in more than one batch).
    eventually(
        "the read model to show what the last answer said",
        || async { listed(&alice).await == [new_primary.clone()] },
    )
    .await;
}

const USER: &str = "id email displayName role permissions locked createdAt";
const TOKEN: &str = "id name scopes expiresAt revoked createdAt";
const SERVER: &str = "id name baseUrl allowedServices servesAllUsers removed createdAt";
const GRANT: &str = "serverId userId service grantedAt";

on_both_backends!(
    account_and_mcp_server_commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back
);
async fn account_and_mcp_server_commands_are_answered_with_what_they_committed_while_the_read_models_are_held_back(
    env: TestEnv,
) {
    let server = env.server_with(|s| s.read_your_writes_ms = 500).await;
    let admin = server.admin("root").await;
    let alice = server.user("alice").await;

    let hold = Hold::start(&env, PRINCIPALS_AND_MCP_SYNC).await;

    let created = admin
        .ok(
            &format!("mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {USER} }} }}"),
            json!({"i": {"userId": "bob", "email": "bob@example.com", "displayName": "Bob",
                         "password": PASSWORD, "admin": false}}),
        )
        .await["createUser"]
        .clone();
    assert_eq!(created["id"], "bob");
    assert_eq!(created["email"], "bob@example.com");
    assert_eq!(created["displayName"], "Bob");
    assert_eq!(created["role"], "MEMBER");
    assert_eq!(created["permissions"], json!([]));
    assert_eq!(created["locked"], false);

    let change_user = |mutation: &'static str| {
        let admin = &admin;
        async move {
            let answer = admin
                .ok(
                    &format!("mutation {{ answer: {mutation} {{ {USER} }} }}"),
                    json!({}),
                )
                .await;
            answer["answer"].clone()
        }
    };
    let granted =
        change_user("grantPermission(userId: \"bob\", permission: CREDENTIALS_VIEW_ALL)").await;
    assert_eq!(granted["permissions"], json!(["CREDENTIALS_VIEW_ALL"]));
    let locked = change_user("lockUser(userId: \"bob\", reason: \"left the team\")").await;
    assert_eq!(locked["locked"], true);
    assert_eq!(locked["permissions"], json!(["CREDENTIALS_VIEW_ALL"]));
    let unlocked = change_user("unlockUser(userId: \"bob\")").await;
    assert_eq!(unlocked["locked"], false);
    let bob =
        change_user("revokePermission(userId: \"bob\", permission: CREDENTIALS_VIEW_ALL)").await;
    assert_eq!(bob["permissions"], json!([]));
    assert_eq!(bob["locked"], false);
    assert_eq!(bob["createdAt"], created["createdAt"]);

    // An answer holding a secret shown once must not be lost to a lagging read model.
    let issued = alice
        .ok(
            &format!("mutation {{ createApiToken(name: \"ci\", scopes: [CREDENTIALS_READ]) {{ token apiToken {{ {TOKEN} }} }} }}"),
            json!({}),
        )
        .await["createApiToken"]
        .clone();
    assert!(
        issued["token"].as_str().unwrap().starts_with("clt"),
        "{issued}"
    );
    let token = issued["apiToken"].clone();
    assert_eq!(token["name"], "ci");
    assert_eq!(token["scopes"], json!(["CREDENTIALS_READ"]));
    assert_eq!(token["revoked"], false);

    let registered = admin
        .ok(
            &format!("mutation($i: RegisterMcpServerInput!) {{ registerMcpServer(input: $i) {{ server {{ {SERVER} }} signingSecret }} }}"),
            json!({"i": {"id": "gw", "name": "Gateway", "baseUrl": "http://127.0.0.1:9/mcp",
                         "allowedServices": ["notion"], "servesAllUsers": false}}),
        )
        .await["registerMcpServer"]
        .clone();
    assert!(registered["signingSecret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    assert_eq!(registered["server"]["id"], "gw");
    assert_eq!(registered["server"]["name"], "Gateway");
    assert_eq!(registered["server"]["allowedServices"], json!(["notion"]));
    assert_eq!(registered["server"]["removed"], false);

    let changed = admin
        .ok(
            &format!("mutation {{ changeMcpServer(id: \"gw\", allowedServices: [\"notion\", \"jira\"], baseUrl: \"http://127.0.0.1:9/mcp2\") {{ {SERVER} }} }}"),
            json!({}),
        )
        .await["changeMcpServer"]
        .clone();
    assert_eq!(changed["allowedServices"], json!(["jira", "notion"]));
    assert_eq!(changed["baseUrl"], "http://127.0.0.1:9/mcp2");
    assert_eq!(changed["servesAllUsers"], false);
    assert_eq!(changed["name"], "Gateway");
    assert_eq!(changed["createdAt"], registered["server"]["createdAt"]);

    let server_token = admin
        .ok(
            &format!("mutation {{ createMcpServerToken(serverId: \"gw\", name: \"resolver\", scopes: [CREDENTIALS_RESOLVE]) {{ token apiToken {{ {TOKEN} }} }} }}"),
            json!({}),
        )
        .await["createMcpServerToken"]
        .clone();
    assert!(
        server_token["token"].as_str().unwrap().starts_with("clm"),
        "{server_token}"
    );
    assert_eq!(server_token["apiToken"]["name"], "resolver");
    assert_eq!(server_token["apiToken"]["revoked"], false);

    let grant = alice
        .ok(
            &format!("mutation {{ grantMcpAccess(serverId: \"gw\", service: \"notion\") {{ {GRANT} }} }}"),
            json!({}),
        )
        .await["grantMcpAccess"]
        .clone();
    assert_eq!(grant["serverId"], "gw");
    assert_eq!(grant["userId"], "alice");
    assert_eq!(grant["service"], "notion");

    // The read models really were held back: they show none of it yet.
    let users = admin.ok("{ users { id } }", json!({})).await;
    assert!(!users["users"].to_string().contains("bob"), "{users}");
    let servers = admin.ok("{ mcpServers { id } }", json!({})).await;
    assert_eq!(servers["mcpServers"], json!([]));

    hold.release().await;
    // What the answers said is what the read models come to say.
    eventually("the read models to show what the answers said", || async {
        let users = admin
            .ok(&format!("{{ users {{ {USER} }} }}"), json!({}))
            .await;
        let tokens = alice
            .ok(
                &format!("{{ me {{ apiTokens {{ {TOKEN} }} }} }}"),
                json!({}),
            )
            .await;
        let servers = admin
            .ok(&format!("{{ mcpServers {{ {SERVER} }} }}"), json!({}))
            .await;
        let grants = alice
            .ok(&format!("{{ mcpGrants {{ {GRANT} }} }}"), json!({}))
            .await;
        users["users"].as_array().unwrap().contains(&bob)
            && tokens["me"]["apiTokens"] == json!([token])
            && servers["mcpServers"] == json!([changed])
            && grants["mcpGrants"] == json!([grant])
    })
    .await;
    // Row for row, after more of what the folds read: a password change (`updatedAt` only) and
    // the server's removal (its tokens revoked with it).
    let bob_signed_in = server.sign_in("bob").await;
    bob_signed_in
        .ok(
            "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"another long password\") }",
            json!({"c": PASSWORD}),
        )
        .await;
    admin
        .ok("mutation { removeMcpServer(id: \"gw\") }", json!({}))
        .await;
    let db = &server.running.ledger.db;
    eventually(
        "the streams folded to give the read models' rows",
        || async { folds_match(db).await },
    )
    .await;
}

/// Whether bob's, alice's and server `gw`'s streams, folded as commands' answers fold them,
/// give the rows the read models hold (every column, `updatedAt` and the servers' tokens too).
async fn folds_match(db: &Database) -> bool {
    let stream = |kind: &'static str, id: &'static str| read_stream(db, kind, id);
    let bob = stream(User::TYPE, "bob").await.unwrap();
    let (bob, bob_tokens) = principals::user_as_committed(&bob).unwrap().unwrap();
    let alice = stream(User::TYPE, "alice").await.unwrap();
    let (_, alice_tokens) = principals::user_as_committed(&alice).unwrap().unwrap();
    let gw = stream(McpServer::TYPE, "gw").await.unwrap();
    let gw_row = mcp_sync::server_as_committed(&gw).unwrap().unwrap();
    assert!(gw_row.removed && bob_tokens.is_empty() && alice_tokens.len() == 1);
    let gw_tokens = principals::server_tokens_as_committed(&gw).unwrap();
    assert!(gw_tokens.len() == 1 && gw_tokens[0].revoked);
    principals::user(&db.any, "bob", false).await.unwrap() == Some(bob)
        && principals::tokens_of(&db.any, "alice").await.unwrap() == alice_tokens
        && mcp_sync::server(&db.any, "gw").await.unwrap() == Some(gw_row)
        && principals::server_tokens_of(&db.any, "gw").await.unwrap() == gw_tokens
}

/// A withdrawn grant, a revoked server token and a removed server are refused by
/// `resolveCredential` from the command's answer on, while the access read models are held
/// back and still show the grant and the tokens (they were decided on those read models alone,
/// so the server went on receiving secrets until they caught up, or for good if one stopped).
async fn access_taken_away_is_refused_at_once_while_the_read_models_are_held_back(env: TestEnv) {
    use crate::support::api::Auth;
    const RESOLVE: &str =
        "mutation { resolveCredential(userId: \"alice\", service: \"notion\") { fields } }";
    let server = env.server_with(|s| s.read_your_writes_ms = 500).await;
    let admin = server.admin("root").await;
    let alice = server.user("alice").await;
    alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    admin
        .ok(
            "mutation($i: RegisterMcpServerInput!) { registerMcpServer(input: $i) { signingSecret } }",
            json!({"i": {"id": "gw", "name": "Gateway", "baseUrl": "http://127.0.0.1:9/mcp",
                         "allowedServices": ["notion"], "servesAllUsers": false}}),
        )
        .await;
    let token = |name: &'static str| {
        let admin = &admin;
        async move {
            let issued = admin
                .ok(
                    "mutation($n: String!) { createMcpServerToken(serverId: \"gw\", name: $n, scopes: [CREDENTIALS_RESOLVE]) { token apiToken { id } } }",
                    json!({"n": name}),
                )
                .await["createMcpServerToken"]
                .clone();
            let id = issued["apiToken"]["id"].as_str().unwrap().to_owned();
            let client = admin.with_auth(Auth::Bearer(issued["token"].as_str().unwrap().into()));
            (client, id)
        }
    };
    let (first, first_id) = token("first").await;
    let (second, _) = token("second").await;
    // `withdrawMcpAccess` answers a Boolean, `grantMcpAccess` the grant.
    let access = |mutation: &'static str| {
        let alice = &alice;
        let selection = if mutation == "grantMcpAccess" {
            " { service }"
        } else {
            ""
        };
        async move {
            alice
                .ok(
                    &format!("mutation {{ {mutation}(serverId: \"gw\", service: \"notion\"){selection} }}"),
                    json!({}),
                )
                .await
        }
    };
    access("grantMcpAccess").await;
    eventually("the grant to resolve", || async {
        first.gql(RESOLVE, json!({})).await.body["errors"].is_null()
    })
    .await;

    let hold = Hold::start(&env, PRINCIPALS_AND_MCP_SYNC).await;
    access("withdrawMcpAccess").await;
    assert_eq!(first.gql(RESOLVE, json!({})).await.code(), "FORBIDDEN");
    // Granted again: allowed again (the stream says so; not every answer refused).
    access("grantMcpAccess").await;
    first.gql(RESOLVE, json!({})).await.data();
    admin
        .ok(
            "mutation($id: ID!) { revokeMcpServerToken(serverId: \"gw\", id: $id) }",
            json!({"id": first_id}),
        )
        .await;
    assert_eq!(
        first.gql(RESOLVE, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    second.gql(RESOLVE, json!({})).await.data();
    admin
        .ok("mutation { removeMcpServer(id: \"gw\") }", json!({}))
        .await;
    assert_eq!(
        second.gql(RESOLVE, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    // The read models really were held back: they still show the server.
    let servers = admin.ok("{ mcpServers { id removed } }", json!({})).await;
    assert_eq!(
        servers["mcpServers"],
        json!([{"id": "gw", "removed": false}])
    );
    hold.release().await;
    server.running.stop().await.unwrap();
}
on_both_backends!(access_taken_away_is_refused_at_once_while_the_read_models_are_held_back);

/// A person's lock, a revoked API token and a withdrawn permission hold at once while
/// `principals` is held back: until it shows the command, whom it lets in is checked on their
/// stream (a token that `principals` still shows live, a permission it still lists).
async fn a_lock_a_revoked_token_and_a_withdrawn_permission_hold_at_once_while_the_read_models_are_held_back(
    env: TestEnv,
) {
    use crate::support::api::Auth;
    const MINE: &str = "{ credentials { id } }";
    let server = env.server_with(|s| s.read_your_writes_ms = 500).await;
    let admin = server.admin("root").await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let work = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    let history = || {
        let bob = &bob;
        let work = &work;
        async move {
            bob.gql(
                "query($id: ID!) { credentialHistory(id: $id) { type } }",
                json!({"id": work}),
            )
            .await
        }
    };
    admin
        .ok(
            "mutation { grantPermission(userId: \"bob\", permission: CREDENTIALS_VIEW_ALL) { permissions } }",
            json!({}),
        )
        .await;
    history().await.data();
    let revoked = alice.with_auth(Auth::Bearer(
        alice.api_token("revoked", "CREDENTIALS_READ").await,
    ));
    let locked = alice.with_auth(Auth::Bearer(
        alice.api_token("locked", "CREDENTIALS_READ").await,
    ));
    revoked.ok(MINE, json!({})).await;
    locked.ok(MINE, json!({})).await;
    let revoked_id = alice
        .ok("{ me { apiTokens { id name } } }", json!({}))
        .await["me"]["apiTokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "revoked")
        .unwrap()["id"]
        .clone();

    let hold = Hold::start(&env, PRINCIPALS_AND_MCP_SYNC).await;
    admin
        .ok(
            "mutation { revokePermission(userId: \"bob\", permission: CREDENTIALS_VIEW_ALL) { permissions } }",
            json!({}),
        )
        .await;
    assert_eq!(history().await.code(), "NOT_FOUND");
    alice
        .ok(
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({"id": revoked_id}),
        )
        .await;
    assert_eq!(revoked.gql(MINE, json!({})).await.code(), "UNAUTHENTICATED");
    locked.ok(MINE, json!({})).await;
    admin
        .ok(
            "mutation { lockUser(userId: \"alice\", reason: \"left\") { locked } }",
            json!({}),
        )
        .await;
    assert_eq!(locked.gql(MINE, json!({})).await.code(), "UNAUTHENTICATED");
    // Nor can she sign in again, with the right password, to a session of no use.
    let sign_in = server
        .anonymous()
        .gql(
            "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { user { id } } }",
            json!({"l": "alice@example.com", "p": crate::support::api::PASSWORD}),
        )
        .await;
    assert_eq!(sign_in.code(), "VALIDATION", "{:?}", sign_in.body);
    assert!(sign_in.headers.get("set-cookie").is_none());
    // The read models really were held back: they still show bob's permission.
    let bob_row = principals::user(&env.any_pool().await, "bob", false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob_row.permissions.len(), 1, "{bob_row:?}");
    hold.release().await;
    server.running.stop().await.unwrap();
}
on_both_backends!(
    a_lock_a_revoked_token_and_a_withdrawn_permission_hold_at_once_while_the_read_models_are_held_back
);
