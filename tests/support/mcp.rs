//! MCP servers in end-to-end tests: a sender that retries fast, jobs that run it, and an MCP
//! server registered at a recording server's address (with its signing secret taught to the
//! recording server): by an administrator through the API, or by the operator when it serves
//! every user; and grants.

use super::api::{Client, Server};
use super::mcp_recorder::RecordingMcpServer;
use credledger::config::JobSettings;
use credledger::mcp::sync::SyncSettings;
use credledger::mcp::{Authority, NewMcpServer};
use serde_json::{json, Value};
use std::time::Duration;

/// A sender that retries fast and gives up after three attempts.
pub fn fast_sync() -> SyncSettings {
    SyncSettings {
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        retry_failed_every: Duration::from_secs(3600),
        timeout: Duration::from_secs(2),
        drift_every: Duration::ZERO,
        poll: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(2),
        remove_orphans: false,
    }
}

/// The default jobs, with `sync` as the MCP sender.
pub fn jobs_with(sync: SyncSettings) -> JobSettings {
    JobSettings {
        mcp: sync,
        ..JobSettings::default()
    }
}

/// The `registerMcpServer` mutation, answering the id and the signing secret.
pub const REGISTER: &str = "mutation($i: RegisterMcpServerInput!) { registerMcpServer(input: $i) { server { id } signingSecret } }";

/// An administrator registers `id` at the recorder's address, serving the users who grant it
/// access, and teaches the recorder its signing secret.
pub async fn register(admin: &Client, recorder: &RecordingMcpServer, id: &str, services: &[&str]) {
    let answer = admin
        .ok(
            REGISTER,
            json!({"i": {"id": id, "name": format!("MCP {id}"), "baseUrl": recorder.base_url(),
                         "allowedServices": services}}),
        )
        .await;
    learn_secret(recorder, &answer["registerMcpServer"]["signingSecret"]);
}

/// The operator registers `id` at the recorder's address, holding every user's credentials for
/// `services` (as `credledger mcp register --all-users` does), and teaches the recorder its
/// signing secret.
pub async fn register_for_everyone(
    server: &Server,
    recorder: &RecordingMcpServer,
    id: &str,
    services: &[&str],
) {
    let secret = server
        .running
        .api
        .mcp
        .register(
            NewMcpServer {
                server_id: id.to_owned(),
                name: format!("MCP {id}"),
                base_url: recorder.base_url(),
                allowed_services: services.iter().map(|s| s.to_string()).collect(),
                serves_all_users: true,
            },
            Authority::Operator,
            &super::meta("cli"),
        )
        .await
        .unwrap();
    learn_secret(recorder, &Value::from(secret.0.as_str()));
}

/// The operator issues MCP server `id` a `credentials:resolve` token (as `credledger mcp token`
/// does): a server that serves every user gets its tokens from the operator only.
pub async fn operator_token(server: &Server, id: &str) -> String {
    let issued = server
        .running
        .api
        .mcp
        .issue_token(
            id,
            "resolver",
            std::collections::BTreeSet::from([credledger_domain::Scope::CredentialsResolve]),
            None,
            Authority::Operator,
            &super::meta("cli"),
        )
        .await
        .unwrap();
    issued.secret.to_string()
}

fn learn_secret(recorder: &RecordingMcpServer, secret: &Value) {
    let secret = secret.as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    recorder.set_secrets(vec![secret.into_bytes()]);
}

/// `user` grants MCP server `server` access to their `service` credentials.
pub async fn grant(user: &Client, server: &str, service: &str) {
    user.ok(
        "mutation($s: String!, $v: String!) { grantMcpAccess(serverId: $s, service: $v) { service } }",
        json!({"s": server, "v": service}),
    )
    .await;
}

/// One credential's copies as the dashboard shows them: `syncStatus`, `syncError` and
/// `lastSyncedAt`.
pub async fn sync_status(client: &Client, id: &str) -> Value {
    client
        .ok(
            "query($id: ID!) { credential(id: $id) { syncStatus syncError lastSyncedAt } }",
            json!({"id": id}),
        )
        .await["credential"]
        .clone()
}
