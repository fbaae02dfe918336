//! What can be asked of an MCP server's registration. Inputs are already parsed.

use super::{BaseUrl, McpServerId, McpServerName};
use crate::{Scope, ServiceKey, UserId};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpServerCommand {
    /// An admin registers a server.
    RegisterMcpServer {
        server_id: McpServerId,
        name: McpServerName,
        base_url: BaseUrl,
        /// The catalog services whose credentials the server may hold; not empty.
        allowed_services: BTreeSet<ServiceKey>,
        /// Holds every user's credentials for the allowed services, without per-user grants.
        serves_all_users: bool,
    },
    /// An admin changes a server; `None` keeps the current value.
    ChangeMcpServer {
        allowed_services: Option<BTreeSet<ServiceKey>>,
        serves_all_users: Option<bool>,
        base_url: Option<BaseUrl>,
    },
    RemoveMcpServer,
    /// A user lets the server hold their credentials for one service.
    GrantMcpAccess {
        user_id: UserId,
        service: ServiceKey,
    },
    WithdrawMcpAccess {
        user_id: UserId,
        service: ServiceKey,
    },
    /// An admin gives the server an API token to authenticate with (the rules of a user's
    /// tokens: name, hash, scopes, expiry).
    IssueApiToken {
        token_id: Uuid,
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<DateTime<Utc>>,
        /// The token's SHA-256 as 64 lowercase hex digits, computed by the caller.
        token_hash: String,
        now: DateTime<Utc>,
    },
    RevokeApiToken {
        token_id: Uuid,
    },
    /// An admin asks the replay adapter to resend the server's copy: of every credential it may
    /// hold (`from_position: None`, after the server lost its data), or of those changed at or
    /// after a global position.
    RequestReplay {
        from_position: Option<u64>,
    },
}
