//! `CredentialUsage`: the high-volume record of credentials being handed out, kept out of the
//! keyring's stream (one stream per credential and day) so keyring commands stay short.

use crate::{CredentialId, ServiceKey, UserId};
use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The stream id for a credential's uses on one day.
pub fn usage_stream_id(credential: CredentialId, day: NaiveDate) -> String {
    format!("{credential}:{day}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordUse {
    pub credential_id: CredentialId,
    pub user_id: UserId,
    pub service: ServiceKey,
    /// Who received the credential (an MCP server's name, or `owner` for a reveal).
    pub consumer: String,
    /// The tool or client name the consumer reported, if any.
    pub tool: Option<String>,
    /// `resolve` (an MCP server at call time) or `reveal` (the owner, in the dashboard).
    pub purpose: UsePurpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsePurpose {
    Resolve,
    Reveal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsageEvent {
    CredentialUsed {
        credential_id: CredentialId,
        user_id: UserId,
        service: ServiceKey,
        consumer: String,
        tool: Option<String>,
        purpose: UsePurpose,
    },
}

impl DomainEvent for UsageEvent {
    fn event_type(&self) -> String {
        "CredentialUsed".to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("the consumer name must be 1–128 characters")]
    BadConsumer,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CredentialUsage {
    uses: u64,
}

impl CredentialUsage {
    pub fn uses(&self) -> u64 {
        self.uses
    }

    /// The event a use means, or why it is refused. It needs no state, so a use can be
    /// appended without loading its stream (group commit).
    pub fn decide(command: RecordUse) -> Result<UsageEvent, UsageError> {
        let ok =
            |s: &str| !s.is_empty() && s.chars().count() <= 128 && !s.contains(char::is_control);
        if !ok(&command.consumer) || command.tool.as_deref().is_some_and(|t| !ok(t)) {
            return Err(UsageError::BadConsumer);
        }
        Ok(UsageEvent::CredentialUsed {
            credential_id: command.credential_id,
            user_id: command.user_id,
            service: command.service,
            consumer: command.consumer,
            tool: command.tool,
            purpose: command.purpose,
        })
    }
}

impl Aggregate for CredentialUsage {
    const TYPE: &'static str = "credential_usage";
    type Command = RecordUse;
    type Event = UsageEvent;
    type Error = UsageError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        sink.write(Self::decide(command)?, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.uses += 1;
    }
}
