//! What happened to an MCP server's registration. Names are past tense and stable;
//! `event_version` changes only with the payload's shape.

use super::{BaseUrl, McpGrant, McpServerId, McpServerName};
use crate::{Scope, ServiceKey, UserId};
use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpServerEvent {
    McpServerRegistered {
        server_id: McpServerId,
        name: McpServerName,
        base_url: BaseUrl,
        allowed_services: BTreeSet<ServiceKey>,
        serves_all_users: bool,
    },
    /// The server's settings after the change, all of them.
    McpServerChanged {
        allowed_services: BTreeSet<ServiceKey>,
        serves_all_users: bool,
        base_url: BaseUrl,
        /// Users' grants for services no longer allowed, withdrawn with the change (so allowing
        /// a service again does not silently restore them).
        dropped_grants: Vec<McpGrant>,
    },
    /// The end of the server: it may hold nothing any more.
    McpServerRemoved {},
    McpAccessGranted {
        user_id: UserId,
        service: ServiceKey,
    },
    McpAccessWithdrawn {
        user_id: UserId,
        service: ServiceKey,
    },
    McpServerTokenIssued {
        token_id: Uuid,
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<DateTime<Utc>>,
        /// SHA-256 of the token, lowercase hex.
        token_hash: String,
    },
    McpServerTokenRevoked {
        token_id: Uuid,
    },
    /// The server's copy is to be resent: everything it may hold (`None`), or what changed at
    /// or after the position.
    McpReplayRequested {
        from_position: Option<u64>,
    },
}

impl DomainEvent for McpServerEvent {
    fn event_type(&self) -> String {
        use McpServerEvent::*;
        match self {
            McpServerRegistered { .. } => "McpServerRegistered",
            McpServerChanged { .. } => "McpServerChanged",
            McpServerRemoved {} => "McpServerRemoved",
            McpAccessGranted { .. } => "McpAccessGranted",
            McpAccessWithdrawn { .. } => "McpAccessWithdrawn",
            McpServerTokenIssued { .. } => "McpServerTokenIssued",
            McpServerTokenRevoked { .. } => "McpServerTokenRevoked",
            McpReplayRequested { .. } => "McpReplayRequested",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
