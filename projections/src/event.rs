//! Decoding feed rows into the domain's events for the projections.

use crate::ProjectionError;
use cqrs_es::Aggregate as _;
use credledger_adapters::feed::FeedEvent;
use credledger_domain::keyring::{Keyring, KeyringEvent};
use credledger_domain::mcp_server::{McpServer, McpServerEvent};
use credledger_domain::usage::{CredentialUsage, UsageEvent};
use credledger_domain::user::{User, UserEvent};
use credledger_domain::{EventMetadata, KeyringId};

pub(crate) enum Decoded {
    Keyring(KeyringId, Box<KeyringEvent>),
    Usage(UsageEvent),
    User(String, Box<UserEvent>),
    /// An MCP server's event, with the server id.
    McpServer(String, Box<McpServerEvent>),
    Other,
}

pub(crate) struct Envelope<'a> {
    pub feed: &'a FeedEvent,
    pub metadata: EventMetadata,
    pub event: Decoded,
}

pub(crate) fn decode(feed: &FeedEvent) -> Result<Envelope<'_>, ProjectionError> {
    let bad = |detail: String| ProjectionError::BadEvent {
        position: feed.position,
        detail,
    };
    let event = if feed.aggregate_type == Keyring::TYPE {
        let id = KeyringId::parse(&feed.aggregate_id).map_err(|e| bad(e.to_string()))?;
        let event: KeyringEvent =
            serde_json::from_str(&feed.payload).map_err(|e| bad(e.to_string()))?;
        Decoded::Keyring(id, Box::new(event))
    } else if feed.aggregate_type == CredentialUsage::TYPE {
        Decoded::Usage(serde_json::from_str(&feed.payload).map_err(|e| bad(e.to_string()))?)
    } else if feed.aggregate_type == User::TYPE {
        let event: UserEvent =
            serde_json::from_str(&feed.payload).map_err(|e| bad(e.to_string()))?;
        Decoded::User(feed.aggregate_id.clone(), Box::new(event))
    } else if feed.aggregate_type == McpServer::TYPE {
        let event: McpServerEvent =
            serde_json::from_str(&feed.payload).map_err(|e| bad(e.to_string()))?;
        Decoded::McpServer(feed.aggregate_id.clone(), Box::new(event))
    } else {
        Decoded::Other
    };
    Ok(Envelope {
        feed,
        metadata: feed.metadata().map_err(bad)?,
        event,
    })
}
