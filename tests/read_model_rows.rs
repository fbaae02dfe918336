//! Read-model rows are typed (projections/src/credential_summary.rs `Summary`, the MCP, people
//! and audit rows, decoded with projections/src/row.rs): a row holding what the code never writes
//! is answered as an error, never as a default (an unknown status as `INACTIVE`, a bad time as
//! 1970, unreadable permissions as none, an unreadable token expiry as none, a scope it cannot
//! read left out).

use crate::on_both_backends;
use crate::support::api::Auth;
use crate::support::TestEnv;
use serde_json::json;

async fn a_read_model_row_the_code_did_not_write_is_answered_as_an_error(env: TestEnv) {
    let here = env.server().await;
    let alice = here.user("alice").await;
    let pool = env.any_pool().await;
    let tampered = [
        ("status", "'archived'"),
        ("is_primary", "7"),
        ("created_at", "'last tuesday'"),
        ("token_expires_at", "'soon'"),
        ("scopes", "'not json'"),
    ];
    let id = alice
        .add("notion", "Work", here.good_fields("notion", 0))
        .await;
    let one = "query($id: ID!) { credential(id: $id) { status isPrimary createdAt } }";
    assert_eq!(
        alice.gql(one, json!({"id": id})).await.data()["credential"]["status"],
        "ACTIVE"
    );
    for (n, (column, value)) in tampered.iter().enumerate() {
        use sqlx::Row as _;
        let written: Option<String> = sqlx::query(&format!(
            "SELECT CAST({column} AS TEXT) AS v FROM credential_summary WHERE credential_id = $1"
        ))
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("v");
        let set = |value: &str| {
            format!("UPDATE credential_summary SET {column} = {value} WHERE credential_id = $1")
        };
        sqlx::query(&set(value))
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            alice.gql(one, json!({"id": id})).await.code(),
            "INTERNAL",
            "{column} = {value}, read by id"
        );
        // A query not asked before, so no remembered answer stands in for the read.
        let list = alice
            .gql(
                &format!("{{ credentials {{ id status }} # {n}\n}}"),
                json!({}),
            )
            .await;
        assert_eq!(list.code(), "INTERNAL", "{column} = {value}, listed");
        // Put back what the code wrote.
        let written = written.map_or("NULL".to_owned(), |w| format!("'{w}'"));
        sqlx::query(&set(&written))
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            alice.gql(one, json!({"id": id})).await.data()["credential"]["status"],
            "ACTIVE",
            "{column} put back"
        );
    }
}
on_both_backends!(a_read_model_row_the_code_did_not_write_is_answered_as_an_error);

/// The same for the other read models the API answers from: the audit trail, people.
async fn an_audit_entry_or_a_person_the_code_did_not_write_is_answered_as_an_error(env: TestEnv) {
    let here = env.server().await;
    let alice = here.user("alice").await;
    let id = alice
        .add("notion", "Work", here.good_fields("notion", 0))
        .await;
    let pool = env.any_pool().await;
    let trail = "{ auditTrail(first: 10) { edges { node { occurredAt action } } } }";
    assert!(alice.gql(trail, json!({})).await.data()["auditTrail"]["edges"][0].is_object());

    // The audit trail's JSON columns are decoded by the read model itself, for every reader
    // (the API, the jobs, an auditor's tool), not only at the GraphQL edge.
    use credledger_projections::audit_trail::for_credential;
    let entries = for_credential(&pool, &id).await.unwrap();
    assert_eq!(entries[0].new_values["name"], "Work");
    for column in ["old_values", "new_values", "context"] {
        let set = |value: &str| format!("UPDATE audit_trail SET {column} = {value}");
        sqlx::query(&set("'not json'"))
            .execute(&pool)
            .await
            .unwrap();
        let refused = for_credential(&pool, &id).await;
        assert!(refused.is_err(), "{column} that is not JSON: {refused:?}");
        let history = "query($id: ID!) { credentialHistory(id: $id) { type payload } }";
        assert_eq!(
            alice.gql(history, json!({"id": id})).await.code(),
            "INTERNAL",
            "{column}"
        );
        sqlx::query(&set("'{}'")).execute(&pool).await.unwrap();
    }
    assert!(for_credential(&pool, &id).await.is_ok());
    sqlx::query("UPDATE audit_trail SET occurred_at = 'long ago' WHERE user_id = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(alice.gql(trail, json!({})).await.code(), "INTERNAL");

    let me = "{ me { id role } }";
    assert_eq!(
        alice.gql(me, json!({})).await.data()["me"]["role"],
        "MEMBER"
    );
    sqlx::query("UPDATE users SET role = 'owner' WHERE user_id = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        alice.gql(me, json!({})).await.code(),
        "INTERNAL",
        "an unknown role is not read as a member"
    );
    sqlx::query("UPDATE users SET role = 'member', permissions = 'all' WHERE user_id = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        alice.gql(me, json!({})).await.code(),
        "INTERNAL",
        "permissions that are not the JSON written are not read as none"
    );

    // A token whose expiry the code did not write is refused, not taken for one that never
    // expires ('soon' sorts after every time written as text).
    sqlx::query("UPDATE users SET permissions = '[]' WHERE user_id = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    let token = alice.api_token("ci", "CREDENTIALS_READ").await;
    let bearer = alice.with_auth(Auth::Bearer(token));
    assert_eq!(bearer.ok(me, json!({})).await["me"]["id"], "alice");
    sqlx::query("UPDATE api_tokens SET expires_at = 'soon' WHERE user_id = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        bearer.gql(me, json!({})).await.code(),
        "INTERNAL",
        "an expiry that is not a time is not read as none"
    );
}
on_both_backends!(an_audit_entry_or_a_person_the_code_did_not_write_is_answered_as_an_error);

/// The same for the MCP servers and their copies: a server's services that are not the JSON
/// written, a flag that is neither 0 nor 1, a copy's unknown status.
async fn an_mcp_server_or_copy_the_code_did_not_write_is_answered_as_an_error(env: TestEnv) {
    use crate::support::mcp::register_for_everyone;
    use crate::support::mcp_recorder::RecordingMcpServer;
    // No sender: the copy stays pending.
    let jobs = credledger::config::JobSettings {
        enabled: false,
        ..Default::default()
    };
    let here = env.server_with_jobs(|_| {}, jobs).await;
    let recorder = RecordingMcpServer::start(vec![]).await.unwrap();
    let root = here.admin("root").await;
    register_for_everyone(&here, &recorder, "gw", &["notion"]).await;
    let alice = here.user("alice").await;
    alice
        .add("notion", "Work", here.good_fields("notion", 0))
        .await;
    let pool = env.any_pool().await;
    let servers = "{ mcpServers { id allowedServices servesAllUsers } }";
    let copies = "{ mcpSyncStatus { serverId status count } }";
    assert_eq!(
        root.ok(servers, json!({})).await["mcpServers"][0]["allowedServices"],
        json!(["notion"])
    );
    assert_eq!(
        root.ok(copies, json!({})).await["mcpSyncStatus"][0]["status"],
        "PENDING"
    );
    let tampered = [
        ("mcp_servers", "allowed_services", "'notion'", servers),
        ("mcp_servers", "serves_all_users", "7", servers),
        ("mcp_servers", "created_at", "'yesterday'", servers),
        ("mcp_sync", "status", "'lost'", copies),
    ];
    for (table, column, value, query) in tampered {
        use sqlx::Row as _;
        let written: String =
            sqlx::query(&format!("SELECT CAST({column} AS TEXT) AS v FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap()
                .get("v");
        let set = |value: &str| format!("UPDATE {table} SET {column} = {value}");
        sqlx::query(&set(value)).execute(&pool).await.unwrap();
        assert_eq!(
            root.gql(query, json!({})).await.code(),
            "INTERNAL",
            "{table}.{column} = {value}"
        );
        sqlx::query(&set(&format!("'{written}'")))
            .execute(&pool)
            .await
            .unwrap();
        root.ok(query, json!({})).await;
    }
    // A credential's sync status is read from its copies: an unknown one is not read as any.
    let mine = "{ credentials { name syncStatus } }";
    assert_eq!(
        alice.ok(mine, json!({})).await["credentials"][0]["syncStatus"],
        "PENDING"
    );
    sqlx::query("UPDATE mcp_sync SET status = 'lost'")
        .execute(&pool)
        .await
        .unwrap();
    let again = "{ credentials { name syncStatus } # after the change\n}";
    assert_eq!(alice.gql(again, json!({})).await.code(), "INTERNAL");

    // A server token holding a scope the code never writes is refused, not read with the
    // scopes that could be read.
    let token = crate::support::mcp::operator_token(&here, "gw").await;
    sqlx::query("UPDATE mcp_server_tokens SET scopes = '[\"credentials:resolve\",\"everything\"]'")
        .execute(&pool)
        .await
        .unwrap();
    let gw = root.with_auth(Auth::Bearer(token));
    let resolve = "mutation { resolveCredential(userId: \"alice\", service: \"notion\") { name } }";
    assert_eq!(gw.gql(resolve, json!({})).await.code(), "INTERNAL");
    sqlx::query("UPDATE mcp_server_tokens SET scopes = '[\"credentials:resolve\"]'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        gw.ok(resolve, json!({})).await["resolveCredential"]["name"],
        "Work"
    );
}
on_both_backends!(an_mcp_server_or_copy_the_code_did_not_write_is_answered_as_an_error);
