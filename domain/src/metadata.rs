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

    /// Reads the metadata back from a stored map: `actor`, `occurred_at` and `request_id` as
    /// [`EventMetadata::to_map`] always writes them (a map without one, or with a time that is
    /// not RFC 3339, is an error naming the field, never an empty actor or 1970), `ip` and
    /// `user_agent` when present.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, String> {
        let field = |name: &str| {
            map.get(name)
                .cloned()
                .ok_or_else(|| format!("the event's metadata has no {name}"))
        };
        let occurred_at = DateTime::parse_from_rfc3339(&field("occurred_at")?)
            .map_err(|_| "the event's metadata has an occurred_at that is not a time".to_owned())?
            .with_timezone(&Utc);
        Ok(Self {
            actor: field("actor")?,
            occurred_at,
            request_id: field("request_id")?,
            ip: map.get("ip").cloned(),
            user_agent: map.get("user_agent").cloned(),
        })
    }
}
