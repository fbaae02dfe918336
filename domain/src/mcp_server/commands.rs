//! What can be asked of an MCP server's registration. Inputs are already parsed.

use super::{BaseUrl, McpServerId, McpServerName};
use crate::{Scope, ServiceKey, UserId};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Who gives a command that decides where credentials go. A server that holds every user's
/// credentials for its services, without each one's grant, is the operator's alone (the
/// `credledger mcp` commands; the operator holds the master keys and could read every secret
/// anyway): an administrator (the GraphQL API) may not register one, make a server one, point
/// one at another address, widen its services or give it a token, since each would hand the
/// administrator, or an address of their choosing, other people's secrets. An administrator
/// may narrow such a server, make it serve only those who grant it access, or remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Operator,
    Administrator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpServerCommand {
    /// An admin or the operator registers a server.
    RegisterMcpServer {
        by: Authority,
        server_id: McpServerId,
        name: McpServerName,
        base_url: BaseUrl,
        /// The catalog services whose credentials the server may hold; not empty.
        allowed_services: BTreeSet<ServiceKey>,
        /// Holds every user's credentials for the allowed services, without per-user grants.
        serves_all_users: bool,
    },
    /// An admin or the operator changes a server; `None` keeps the current value.
    ChangeMcpServer {
        by: Authority,
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
        by: Authority,
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
