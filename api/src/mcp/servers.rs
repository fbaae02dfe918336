//! The MCP server use cases (who may call which is the caller's check: administrators in the
//! GraphQL API, the operator on the command line): an admin registers, changes and removes servers, gives them API
//! tokens and asks for replays; users grant and withdraw a server's access per service. Every
//! one is an `McpServer` event. The signing secret a server verifies sync requests with is
//! created here, shown once, and kept sealed like a credential's secret.

use crate::auth::{new_secret, secret_hash, ServerPrincipal};
use crate::error::ApiError;
use crate::ledger::Ledger;
use credledger_adapters::db::timestamp;
use credledger_adapters::outbound::OutboundPolicy;
use credledger_adapters::remembered::Remembered;
use credledger_adapters::{CommandBus, CommandError, Committed};
use credledger_domain::mcp_server::{
    Authority, BaseUrl, McpServer, McpServerCommand, McpServerError, McpServerId, McpServerName,
    McpServerServices,
};
use credledger_domain::user::{Scope, UserError};
use credledger_domain::{
    CredentialId, EventMetadata, SealedSecret, SecretFields, SecretString, ServiceKey, UserId,
};
use credledger_projections::audit_trail::AuditTrail;
use credledger_projections::mcp_sync;
use credledger_projections::principals::Principals;
use credledger_projections::principals::ServerTokenRow;
use credledger_projections::Model;
use sqlx::Row;
use std::collections::BTreeSet;
use std::sync::Arc;
use zeroize::Zeroizing;

impl From<CommandError<McpServerError>> for ApiError {
    fn from(e: CommandError<McpServerError>) -> Self {
        match e {
            CommandError::Domain(McpServerError::NotFound) => Self::NotFound,
            CommandError::Domain(d @ McpServerError::OperatorOnly(_)) => {
                Self::Forbidden(d.to_string())
            }
            CommandError::Domain(McpServerError::Input(i)) => Self::Validation(i.to_string()),
            CommandError::Domain(McpServerError::Token(UserError::TokenNotFound(_))) => {
                Self::NotFound
            }
            CommandError::Domain(
                d @ (McpServerError::NoServices
                | McpServerError::ServiceNotAllowed(_)
                | McpServerError::Token(
                    UserError::NoScopes
                    | UserError::ExpiryNotInFuture
                    | UserError::TooManyTokens { .. }
                    | UserError::Input(_),
                )),
            ) => Self::Validation(d.to_string()),
            CommandError::Domain(d) => Self::Conflict(d.to_string()),
            CommandError::Conflict => {
                Self::Conflict("the MCP server was changed at the same time; try again".into())
            }
            CommandError::Unavailable(d) => Self::Unavailable(d),
            CommandError::Internal(d) => Self::Internal(d),
        }
    }
}

/// A new server as an admin asks for it (unparsed).
#[derive(Debug, Clone)]
pub struct NewMcpServer {
    pub server_id: String,
    pub name: String,
    pub base_url: String,
    pub allowed_services: Vec<String>,
    pub serves_all_users: bool,
}

/// A registered server's signing secret, shown once to the admin and never again.
pub struct SigningSecret(pub Zeroizing<String>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// MCP server tokens and grants remembered at most (each).
const ACCESS_REMEMBERED: u64 = 10_000;
/// The longest a remembered token or grant is used, whatever the access epoch says: a bound on
/// what the epoch could miss, such as another process's rebuild of `principals` or `mcp_sync`
/// that ended at the position this one had seen (as `memo::ANSWER_MAX_AGE` is for answers).
const ACCESS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10);
/// The field name the signing secret is sealed under.
const SIGNING_FIELD: &str = "signing_secret";

/// The MCP server use cases.
pub struct McpServers {
    ledger: Arc<Ledger>,
    servers: CommandBus<McpServer>,
    /// Server tokens by their hash (`None`: no such token), and whether a server may hold a
    /// user's credentials for a service: asked on every resolve, changed rarely.
    /// Answers of the access read models, remembered at the projections' access epoch.
    tokens: Remembered<String, Option<ServerTokenRow>>,
    grants: Remembered<(String, String, String), bool>,
    /// Where servers may be: their addresses are checked when registered or changed, and the
    /// sender connects only to checked addresses.
    outbound: OutboundPolicy,
    /// The OAuth providers this deployment has a client for (it refreshes their tokens): the
    /// refresh tokens of their credentials stay here
    /// ([`credledger_domain::ServiceDefinition::given_to_consumers`]).
    refreshed_providers: BTreeSet<String>,
    /// The position of the newest server command this process committed: until the access
    /// read models show it, a token or grant they allow is checked on the server's stream.
    newest_command: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for McpServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServers").finish_non_exhaustive()
    }
}

fn services(keys: &[String]) -> Result<BTreeSet<ServiceKey>, ApiError> {
    keys.iter()
        .map(|k| ServiceKey::parse(k.trim()).map_err(ApiError::from))
        .collect()
}

impl McpServers {
    pub fn new(ledger: Arc<Ledger>) -> Self {
        let servers = CommandBus::new(
            &ledger.db,
            ledger.appender(),
            McpServerServices {
                catalog: ledger.catalog.clone(),
            },
        );
        Self {
            ledger,
            servers,
            tokens: Remembered::for_at_most(ACCESS_REMEMBERED, ACCESS_MAX_AGE),
            grants: Remembered::for_at_most(ACCESS_REMEMBERED, ACCESS_MAX_AGE),
            outbound: OutboundPolicy::default(),
            refreshed_providers: BTreeSet::new(),
            newest_command: Default::default(),
        }
    }

    /// The same, with this deployment's outbound address policy (the default refuses every
    /// loopback and private address).
    pub fn with_outbound(mut self, outbound: OutboundPolicy) -> Self {
        self.outbound = outbound;
        self
    }

    /// The OAuth providers this deployment has a client for.
    pub fn with_refreshed_providers(mut self, providers: impl IntoIterator<Item = String>) -> Self {
        self.refreshed_providers = providers.into_iter().collect();
        self
    }

    /// Whether this deployment refreshes the tokens of `service`'s OAuth provider.
    pub fn refreshes(&self, service: &credledger_domain::ServiceDefinition) -> bool {
        service
            .oauth
            .as_ref()
            .is_some_and(|flow| self.refreshed_providers.contains(&flow.provider))
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    pub fn outbound(&self) -> &OutboundPolicy {
        &self.outbound
    }

    /// A server's address, parsed and checked against the outbound policy (a refusal names
    /// the rule; nothing is connected to).
    async fn checked_url(&self, url: &str) -> Result<BaseUrl, ApiError> {
        let base = BaseUrl::parse(url)?;
        let parsed = reqwest::Url::parse(base.as_str())
            .map_err(|_| ApiError::Validation("the MCP server's address is not a URL".into()))?;
        self.outbound.check(&parsed).await.map_err(|refused| {
            ApiError::Validation(format!("the MCP server's address is refused: {refused}"))
        })?;
        Ok(base)
    }

    /// Runs a command and waits (bounded) until the read models show it. A withdrawn grant, a
    /// removed server or a revoked token is refused by `resolveCredential` as soon as this
    /// returns, even when the wait ran out: until the read models show the command, what they
    /// allow is checked on the server's stream ([`McpServers::access_shown`]).
    async fn run(
        &self,
        server: &McpServerId,
        command: McpServerCommand,
        meta: &EventMetadata,
    ) -> Result<Committed, ApiError> {
        let committed = self.servers.execute(server.as_str(), command, meta).await?;
        self.newest_command
            .fetch_max(committed.position, std::sync::atomic::Ordering::AcqRel);
        self.ledger
            .settle_for(committed, &[&mcp_sync::McpSync, &Principals, &AuditTrail])
            .await?;
        Ok(committed)
    }

    /// Registers a server and creates its signing secret (returned once). The secret is
    /// stored first: a registration that fails leaves only an unused sealed row behind, which
    /// the next registration of the same id replaces. Registrations of one id take a lease, so
    /// two at once cannot leave the loser's secret behind the winner's registration.
    pub async fn register(
        &self,
        new: NewMcpServer,
        by: Authority,
        meta: &EventMetadata,
    ) -> Result<SigningSecret, ApiError> {
        let server_id = McpServerId::parse(new.server_id.trim())?;
        let command = McpServerCommand::RegisterMcpServer {
            by,
            server_id: server_id.clone(),
            name: McpServerName::parse(&new.name)?,
            base_url: self.checked_url(&new.base_url).await?,
            allowed_services: services(&new.allowed_services)?,
            serves_all_users: new.serves_all_users,
        };
        // One registration of an id at a time (across instances): a second one racing this
        // one must not replace the stored secret of the one that wins.
        let leases = crate::jobs::Leases::new(self.ledger.db.clone());
        let lease = format!("mcp_register:{}", server_id.as_str());
        if !leases
            .acquire(
                &lease,
                chrono::Utc::now(),
                std::time::Duration::from_secs(30),
                None,
            )
            .await?
        {
            return Err(ApiError::Conflict(
                "the MCP server is being registered right now".into(),
            ));
        }
        let result = async {
            if self.servers.load(server_id.as_str()).await?.exists() {
                return Err(ApiError::Conflict("the MCP server already exists".into()));
            }
            let secret = new_secret("whsec");
            self.store_signing_secret(&server_id, &secret).await?;
            self.run(&server_id, command, meta).await?;
            Ok(SigningSecret(secret))
        }
        .await;
        leases.release(&lease, chrono::Utc::now(), None).await?;
        result
    }

    async fn store_signing_secret(
        &self,
        server: &McpServerId,
        secret: &str,
    ) -> Result<(), ApiError> {
        use credledger_domain::ports::Cipher as _;
        let owner = CredentialId::from_uuid(uuid::Uuid::new_v4());
        let mut fields = SecretFields::new();
        fields.insert(SIGNING_FIELD, SecretString::new(secret.to_owned()));
        let sealed = self
            .ledger
            .keys
            .seal(owner, 1, &fields)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let _writer = self.ledger.db.exclusive().await;
        sqlx::query("DELETE FROM mcp_signing_secrets WHERE server_id = $1")
            .bind(server.as_str())
            .execute(&self.ledger.db.any)
            .await?;
        sqlx::query(
            "INSERT INTO mcp_signing_secrets (server_id, secret_owner, sealed, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(server.as_str())
        .bind(owner.to_string())
        .bind(serde_json::to_string(&sealed).map_err(|e| ApiError::Internal(e.to_string()))?)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.ledger.db.any)
        .await?;
        Ok(())
    }

    /// The server's signing secret (for the sender only).
    pub async fn signing_secret(&self, server: &str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let row = sqlx::query(
            "SELECT secret_owner, sealed FROM mcp_signing_secrets WHERE server_id = $1",
        )
        .bind(server)
        .fetch_optional(&self.ledger.db.any)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("MCP server {server} has no signing secret")))?;
        let owner: String = row.try_get("secret_owner")?;
        let sealed: String = row.try_get("sealed")?;
        let sealed: SealedSecret =
            serde_json::from_str(&sealed).map_err(|e| ApiError::Internal(e.to_string()))?;
        let fields = self
            .ledger
            .keys
            .open(CredentialId::parse(&owner)?, 1, &sealed)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let secret = fields
            .get(SIGNING_FIELD)
            .ok_or_else(|| ApiError::Internal("the sealed signing secret is empty".into()))?;
        Ok(Zeroizing::new(secret.expose().as_bytes().to_vec()))
    }

    /// Changes a server's services, audience or address.
    #[allow(clippy::too_many_arguments)]
    pub async fn change(
        &self,
        server: &str,
        allowed_services: Option<Vec<String>>,
        serves_all_users: Option<bool>,
        base_url: Option<String>,
        by: Authority,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let base_url = match base_url.as_deref() {
            Some(url) => Some(self.checked_url(url).await?),
            None => None,
        };
        let command = McpServerCommand::ChangeMcpServer {
            by,
            allowed_services: allowed_services.as_deref().map(services).transpose()?,
            serves_all_users,
            base_url,
        };
        self.run(&McpServerId::parse(server)?, command, meta)
            .await?;
        Ok(())
    }

    pub async fn remove(&self, server: &str, meta: &EventMetadata) -> Result<(), ApiError> {
        self.run(
            &McpServerId::parse(server)?,
            McpServerCommand::RemoveMcpServer,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Issues the server an API token (shown once).
    pub async fn issue_token(
        &self,
        server: &str,
        name: &str,
        scopes: BTreeSet<Scope>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        by: Authority,
        meta: &EventMetadata,
    ) -> Result<crate::accounts::IssuedToken, ApiError> {
        let secret = new_secret("clm");
        let token_id = uuid::Uuid::new_v4();
        self.run(
            &McpServerId::parse(server)?,
            McpServerCommand::IssueApiToken {
                by,
                token_id,
                name: name.to_owned(),
                scopes,
                expires_at,
                token_hash: secret_hash(&secret),
                now: meta.occurred_at,
            },
            meta,
        )
        .await?;
        Ok(crate::accounts::IssuedToken { token_id, secret })
    }

    pub async fn revoke_token(
        &self,
        server: &str,
        token_id: &str,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let token_id = uuid::Uuid::parse_str(token_id).map_err(|_| ApiError::NotFound)?;
        self.run(
            &McpServerId::parse(server)?,
            McpServerCommand::RevokeApiToken { token_id },
            meta,
        )
        .await?;
        Ok(())
    }

    /// Lets a server hold a user's credentials for one service.
    pub async fn grant(
        &self,
        user: &UserId,
        server: &str,
        service: &str,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        self.access(user, server, service, true, meta).await
    }

    pub async fn withdraw(
        &self,
        user: &UserId,
        server: &str,
        service: &str,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        self.access(user, server, service, false, meta).await
    }

    async fn access(
        &self,
        user: &UserId,
        server: &str,
        service: &str,
        granted: bool,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let (user_id, service) = (user.clone(), ServiceKey::parse(service)?);
        let command = if granted {
            McpServerCommand::GrantMcpAccess { user_id, service }
        } else {
            McpServerCommand::WithdrawMcpAccess { user_id, service }
        };
        self.run(&self.visible(server).await?, command, meta)
            .await?;
        Ok(())
    }

    /// Makes the copies in `error` due now — of one server or all, of one credential or all —
    /// instead of at the sender's hourly retry. Returns how many. Nothing is written to the
    /// ledger: the sender records the outcome, once per change of state, as always.
    pub async fn retry_failed(
        &self,
        server: Option<&str>,
        credential: Option<&str>,
    ) -> Result<u64, ApiError> {
        let db = &self.ledger.db;
        let _writer = db.exclusive().await;
        let done = sqlx::query(
            "UPDATE mcp_deliveries SET attempts = 0, next_attempt_at = $1 \
             WHERE ($2 = '' OR server_id = $2) AND ($3 = '' OR credential_id = $3) \
               AND EXISTS (SELECT 1 FROM mcp_sync m \
                 WHERE m.server_id = mcp_deliveries.server_id \
                   AND m.credential_id = mcp_deliveries.credential_id AND m.status = 'error')",
        )
        .bind(timestamp(chrono::Utc::now()))
        .bind(server.unwrap_or(""))
        .bind(credential.unwrap_or(""))
        .execute(&db.any)
        .await?;
        Ok(done.rows_affected())
    }

    /// Asks the replay adapter to resend a server's copy (`None`: everything, the server's ids
    /// kept; a copy it lost is made again on its `404`) and returns the request's global
    /// position.
    pub async fn request_replay(
        &self,
        server: &str,
        from_position: Option<u64>,
        meta: &EventMetadata,
    ) -> Result<i64, ApiError> {
        let committed = self
            .run(
                &McpServerId::parse(server)?,
                McpServerCommand::RequestReplay { from_position },
                meta,
            )
            .await?;
        Ok(committed.position)
    }

    /// A server id people may act on: registered and not removed (others are `NOT_FOUND`).
    async fn visible(&self, server: &str) -> Result<McpServerId, ApiError> {
        let id = McpServerId::parse(server).map_err(|_| ApiError::NotFound)?;
        let state = self.servers.load(id.as_str()).await?;
        if !state.exists() || state.is_removed() {
            return Err(ApiError::NotFound);
        }
        Ok(id)
    }

    /// The MCP server behind an API token, if the token is live (servers' tokens are revoked
    /// with the server).
    pub async fn token(&self, secret: &str) -> Result<Option<ServerPrincipal>, ApiError> {
        let hash = secret_hash(secret);
        let epoch = self.ledger.projections.access_epoch();
        let pool = &self.ledger.db.any;
        let Some(token) = self
            .tokens
            .get_or_load(hash.clone(), epoch, || {
                credledger_projections::principals::server_token_by_hash(pool, &hash)
            })
            .await?
        else {
            return Ok(None);
        };
        if token.revoked || token.expires_at.is_some_and(|e| e <= chrono::Utc::now()) {
            return Ok(None);
        }
        if !self.access_shown() {
            let server = self.servers.load(&token.server_id).await?;
            let live = !server.is_removed()
                && server
                    .tokens()
                    .iter()
                    .any(|t| t.id.to_string() == token.token_id && !t.revoked);
            if !live {
                return Ok(None);
            }
        }
        Ok(Some(ServerPrincipal {
            server_id: token.server_id,
            token_id: token.token_id,
            scopes: token.scopes,
        }))
    }

    /// Whether `server` may hold `user`'s credentials for `service`: the service is among the
    /// server's, and the user granted it (or the server serves every user).
    pub async fn may_hold(
        &self,
        server: &str,
        user: &str,
        service: &str,
    ) -> Result<bool, ApiError> {
        let epoch = self.ledger.projections.access_epoch();
        let pool = &self.ledger.db.any;
        let key = (server.to_owned(), user.to_owned(), service.to_owned());
        let allowed = self
            .grants
            .get_or_load(key, epoch, || {
                mcp_sync::may_hold(pool, server, user, service)
            })
            .await?;
        if !allowed || self.access_shown() {
            return Ok(allowed);
        }
        let (Ok(user), Ok(service)) = (UserId::parse(user), ServiceKey::parse(service)) else {
            return Ok(false);
        };
        Ok(self.servers.load(server).await?.may_hold(&user, &service))
    }

    /// Whether the access read models (`mcp_sync` for grants, `principals` for tokens) can be
    /// trusted to allow: they run in this process, show its newest server command, and are not
    /// stopped by an event they cannot read. Otherwise what they allow is checked on the
    /// server's stream (one read), so a withdrawal, removal or revocation made here holds at
    /// once, and a stopped read model never allows what its stream no longer does.
    fn access_shown(&self) -> bool {
        let projections = &self.ledger.projections;
        let newest = self
            .newest_command
            .load(std::sync::atomic::Ordering::Acquire);
        let models: [Model; 2] = [&mcp_sync::McpSync, &Principals];
        models.into_iter().all(|model| {
            !projections.stopped(model)
                && projections
                    .progress(model)
                    .is_some_and(|p| *p.borrow() >= newest)
        })
    }

    /// The server's aggregate (for the CLI and the sender).
    pub async fn load(&self, server: &str) -> Result<McpServer, ApiError> {
        Ok(self.servers.load(server).await?)
    }
}
