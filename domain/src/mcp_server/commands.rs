//! What can be asked of an MCP server's registration. Inputs are already parsed.

use super::{BaseUrl, McpServerId, McpServerName};
use crate::{ServiceKey, UserId};
use std::collections::BTreeSet;

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
}
