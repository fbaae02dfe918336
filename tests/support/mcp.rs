//! MCP servers in end-to-end tests: a sender that retries fast, jobs that run it, and an MCP
//! server registered through the API at a recording server's address (with its signing secret
//! taught to the recording server), and grants.

use super::api::Client;
use super::mcp_recorder::RecordingMcpServer;
use credledger::config::JobSettings;
use credledger::mcp::sync::SyncSettings;
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

/// Registers `id` at the recorder's address and teaches the recorder its signing secret.
pub async fn register(
    admin: &Client,
    recorder: &RecordingMcpServer,
    id: &str,
    services: &[&str],
    all_users: bool,
) {
    let answer = admin
        .ok(
            REGISTER,
            json!({"i": {"id": id, "name": format!("MCP {id}"), "baseUrl": recorder.base_url(),
                         "allowedServices": services, "servesAllUsers": all_users}}),
        )
        .await;
    let secret = answer["registerMcpServer"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
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
