//! Who did what, from where: the metadata every event carries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Stored with every event (never a secret). Time comes from the caller's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl EventMetadata {
    pub fn system(actor: &str, occurred_at: DateTime<Utc>, request_id: String) -> Self {
        Self {
            actor: actor.to_owned(),
            occurred_at,
            request_id,
            ip: None,
            user_agent: None,
        }
    }

    /// The map cqrs-es stores as the event's metadata column.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            ("actor".to_owned(), self.actor.clone()),
            (
                "occurred_at".to_owned(),
                self.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
            ("request_id".to_owned(), self.request_id.clone()),
        ]);
        if let Some(ip) = &self.ip {
            map.insert("ip".to_owned(), ip.clone());
        }
        if let Some(ua) = &self.user_agent {
            map.insert("user_agent".to_owned(), ua.clone());
        }
        map
    }

    /// Reads the metadata back from a stored map; missing fields become empty.
    pub fn from_map(map: &HashMap<String, String>) -> Self {
        Self {
            actor: map.get("actor").cloned().unwrap_or_default(),
            occurred_at: map
                .get("occurred_at")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            request_id: map.get("request_id").cloned().unwrap_or_default(),
            ip: map.get("ip").cloned(),
            user_agent: map.get("user_agent").cloned(),
        }
    }
}
