//! The `McpServer` aggregate (id: the server id): an MCP server as a principal of its own. An
//! admin registers it with the services it may hold and whether it serves every user; users
//! grant and withdraw its access to their credentials per service. [`McpServer::may_hold`] is
//! the one answer the sync and resolve paths ask for.

mod commands;
mod error;
mod events;
#[cfg(test)]
mod tests;
mod values;

pub use commands::{Authority, McpServerCommand};
pub use error::McpServerError;
pub use events::McpServerEvent;
pub use values::{BaseUrl, McpServerId, McpServerName};

use crate::user::{check_new_token, ApiToken, UserError};
use crate::{Catalog, InputError, ServiceKey, UserId};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A user's permission for the server to hold their credentials for one service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct McpGrant {
    pub user_id: UserId,
    pub service: ServiceKey,
}

/// What an MCP server needs from outside: the catalog its allowed services must come from.
#[derive(Clone)]
pub struct McpServerServices {
    pub catalog: Arc<Catalog>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Registration {
    server_id: McpServerId,
    name: McpServerName,
    base_url: BaseUrl,
    allowed_services: BTreeSet<ServiceKey>,
    serves_all_users: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct McpServer {
    registration: Option<Registration>,
    removed: bool,
    grants: BTreeSet<McpGrant>,
    tokens: Vec<ApiToken>,
}

impl McpServer {
    /// Registered (removed or not).
    pub fn exists(&self) -> bool {
        self.registration.is_some()
    }

    pub fn is_removed(&self) -> bool {
        self.removed
    }

    pub fn server_id(&self) -> Option<&McpServerId> {
        self.registration.as_ref().map(|r| &r.server_id)
    }

    pub fn name(&self) -> Option<&McpServerName> {
        self.registration.as_ref().map(|r| &r.name)
    }

    pub fn base_url(&self) -> Option<&BaseUrl> {
        self.registration.as_ref().map(|r| &r.base_url)
    }

    /// The allowed services (empty before registration).
    pub fn allowed_services(&self) -> impl Iterator<Item = &ServiceKey> {
        self.registration
            .iter()
            .flat_map(|r| r.allowed_services.iter())
    }

    pub fn serves_all_users(&self) -> bool {
        self.registration
            .as_ref()
            .is_some_and(|r| r.serves_all_users)
    }

    /// The users' grants, by user then service.
    pub fn grants(&self) -> impl Iterator<Item = &McpGrant> {
        self.grants.iter()
    }

    pub fn has_grant(&self, user_id: &UserId, service: &ServiceKey) -> bool {
        self.grants.contains(&grant(user_id, service))
    }

    /// Every token ever issued to the server, oldest first.
    pub fn tokens(&self) -> &[ApiToken] {
        &self.tokens
    }

    /// At most this many active tokens at a time (enough to rotate without downtime).
    pub const MAX_ACTIVE_TOKENS: usize = 5;

    /// Whether the server may hold `user_id`'s credentials for `service`: it exists, is not
    /// removed, is allowed the service, and serves all users or has the user's grant for it.
    pub fn may_hold(&self, user_id: &UserId, service: &ServiceKey) -> bool {
        match &self.registration {
            Some(r) if !self.removed && r.allowed_services.contains(service) => {
                r.serves_all_users || self.has_grant(user_id, service)
            }
            _ => false,
        }
    }

    /// The live registration, or why there is none.
    fn live(&self) -> Result<&Registration, McpServerError> {
        match &self.registration {
            None => Err(McpServerError::NotFound),
            Some(_) if self.removed => Err(McpServerError::Removed),
            Some(r) => Ok(r),
        }
    }

    fn check_services(
        services: &McpServerServices,
        allowed: &BTreeSet<ServiceKey>,
    ) -> Result<(), McpServerError> {
        if allowed.is_empty() {
            return Err(McpServerError::NoServices);
        }
        if let Some(unknown) = allowed.iter().find(|s| services.catalog.get(s).is_none()) {
            return Err(InputError::UnknownService(unknown.to_string()).into());
        }
        Ok(())
    }

    /// The event a command means (`None`: nothing to record), or why it is refused.
    fn decide(
        &self,
        command: McpServerCommand,
        services: &McpServerServices,
    ) -> Result<Vec<McpServerEvent>, McpServerError> {
        let event = match command {
            McpServerCommand::RegisterMcpServer {
                by,
                server_id,
                name,
                base_url,
                allowed_services,
                serves_all_users,
            } => {
                if self.exists() {
                    return Err(McpServerError::AlreadyExists);
                }
                if serves_all_users && by == Authority::Administrator {
                    return Err(McpServerError::OperatorOnly("register"));
                }
                Self::check_services(services, &allowed_services)?;
                McpServerEvent::McpServerRegistered {
                    server_id,
                    name,
                    base_url,
                    allowed_services,
                    serves_all_users,
                }
            }
            McpServerCommand::ChangeMcpServer {
                by,
                allowed_services,
                serves_all_users,
                base_url,
            } => {
                let current = self.live()?;
                if let Some(allowed) = &allowed_services {
                    Self::check_services(services, allowed)?;
                }
                let allowed_services =
                    allowed_services.unwrap_or_else(|| current.allowed_services.clone());
                let serves_all_users = serves_all_users.unwrap_or(current.serves_all_users);
                let base_url = base_url.unwrap_or_else(|| current.base_url.clone());
                if allowed_services == current.allowed_services
                    && serves_all_users == current.serves_all_users
                    && base_url == current.base_url
                {
                    return Ok(vec![]);
                }
                if by == Authority::Administrator {
                    if serves_all_users && !current.serves_all_users {
                        return Err(McpServerError::OperatorOnly("make"));
                    }
                    if current.serves_all_users && base_url != current.base_url {
                        return Err(McpServerError::OperatorOnly("move"));
                    }
                    if serves_all_users && !allowed_services.is_subset(&current.allowed_services) {
                        return Err(McpServerError::OperatorOnly("widen"));
                    }
                }
                let dropped_grants = self
                    .grants
                    .iter()
                    .filter(|g| !allowed_services.contains(&g.service))
                    .cloned()
                    .collect();
                let becomes_everyones = serves_all_users && !current.serves_all_users;
                let changed = McpServerEvent::McpServerChanged {
                    allowed_services,
                    serves_all_users,
                    base_url,
                    dropped_grants,
                };
                if becomes_everyones {
                    // Its tokens were given while it served only those who grant it access,
                    // perhaps by an administrator: they would now resolve everyone's
                    // credentials. Revoked with the change; the operator gives new ones.
                    let revoked = self
                        .tokens
                        .iter()
                        .filter(|t| !t.revoked)
                        .map(|t| McpServerEvent::McpServerTokenRevoked { token_id: t.id });
                    return Ok(std::iter::once(changed).chain(revoked).collect());
                }
                changed
            }
            McpServerCommand::RemoveMcpServer => {
                self.live()?;
                McpServerEvent::McpServerRemoved {}
            }
            McpServerCommand::GrantMcpAccess { user_id, service } => {
                if !self.live()?.allowed_services.contains(&service) {
                    return Err(McpServerError::ServiceNotAllowed(service));
                }
                if self.has_grant(&user_id, &service) {
                    return Err(McpServerError::AccessAlreadyGranted { user_id, service });
                }
                McpServerEvent::McpAccessGranted { user_id, service }
            }
            McpServerCommand::WithdrawMcpAccess { user_id, service } => {
                self.live()?;
                if !self.has_grant(&user_id, &service) {
                    return Err(McpServerError::AccessNotGranted { user_id, service });
                }
                McpServerEvent::McpAccessWithdrawn { user_id, service }
            }
            McpServerCommand::IssueApiToken {
                by,
                token_id,
                name,
                scopes,
                expires_at,
                token_hash,
                now,
            } => {
                if self.live()?.serves_all_users && by == Authority::Administrator {
                    return Err(McpServerError::OperatorOnly("give a token to"));
                }
                let name = check_new_token(
                    &self.tokens,
                    Self::MAX_ACTIVE_TOKENS,
                    token_id,
                    &name,
                    &scopes,
                    expires_at,
                    &token_hash,
                    now,
                )?;
                McpServerEvent::McpServerTokenIssued {
                    token_id,
                    name,
                    scopes,
                    expires_at,
                    token_hash,
                }
            }
            McpServerCommand::RevokeApiToken { token_id } => {
                self.live()?;
                if !self.tokens.iter().any(|t| t.id == token_id && !t.revoked) {
                    return Err(UserError::TokenNotFound(token_id).into());
                }
                McpServerEvent::McpServerTokenRevoked { token_id }
            }
            McpServerCommand::RequestReplay { from_position } => {
                self.live()?;
                McpServerEvent::McpReplayRequested { from_position }
            }
        };
        Ok(vec![event])
    }
}

fn grant(user_id: &UserId, service: &ServiceKey) -> McpGrant {
    McpGrant {
        user_id: user_id.clone(),
        service: service.clone(),
    }
}

impl Aggregate for McpServer {
    const TYPE: &'static str = "mcp_server";
    type Command = McpServerCommand;
    type Event = McpServerEvent;
    type Error = McpServerError;
    type Services = McpServerServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use McpServerEvent::*;
        match event {
            McpServerRegistered {
                server_id,
                name,
                base_url,
                allowed_services,
                serves_all_users,
            } => {
                self.registration = Some(Registration {
                    server_id,
                    name,
                    base_url,
                    allowed_services,
                    serves_all_users,
                });
            }
            McpServerChanged {
                allowed_services,
                serves_all_users,
                base_url,
                dropped_grants,
            } => {
                if let Some(r) = &mut self.registration {
                    r.allowed_services = allowed_services;
                    r.serves_all_users = serves_all_users;
                    r.base_url = base_url;
                }
                for g in &dropped_grants {
                    self.grants.remove(g);
                }
            }
            McpServerRemoved {} => {
                self.removed = true;
                // A removed server authenticates no more.
                for t in &mut self.tokens {
                    t.revoked = true;
                }
            }
            McpServerTokenIssued {
                token_id,
                name,
                scopes,
                expires_at,
                token_hash,
            } => self.tokens.push(ApiToken {
                id: token_id,
                name,
                scopes,
                expires_at,
                revoked: false,
                token_hash,
            }),
            McpServerTokenRevoked { token_id } => {
                if let Some(t) = self.tokens.iter_mut().find(|t| t.id == token_id) {
                    t.revoked = true;
                }
            }
            McpReplayRequested { .. } => {}
            McpAccessGranted { user_id, service } => {
                self.grants.insert(McpGrant { user_id, service });
            }
            McpAccessWithdrawn { user_id, service } => {
                self.grants.remove(&McpGrant { user_id, service });
            }
        }
    }
}
