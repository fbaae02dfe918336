//! The GraphQL object types. They are built from the read models; none of them can hold a
//! secret except `RevealedCredential` and `ResolvedCredential`, which exist only in answers to
//! audited disclosures.

use async_graphql::{Context, Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use credledger_projections::audit_trail::AuditEntry;
use credledger_projections::credential_summary::Summary;
use credledger_projections::dashboard_stats::{Counts, Dashboard as DashboardModel};
use credledger_projections::mcp_sync::{GrantRow, ServerRow};
use credledger_projections::principals::{ServerTokenRow, TokenRow, UserRow};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CredentialStatus {
    Active,
    Inactive,
    Invalid,
    Expired,
    Revoked,
}

impl CredentialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl From<credledger_domain::keyring::CredentialStatus> for CredentialStatus {
    fn from(status: credledger_domain::keyring::CredentialStatus) -> Self {
        use credledger_domain::keyring::CredentialStatus as Stored;
        match status {
            Stored::Active => Self::Active,
            Stored::Inactive => Self::Inactive,
            Stored::Invalid => Self::Invalid,
            Stored::Expired => Self::Expired,
            Stored::Revoked => Self::Revoked,
        }
    }
}

/// Where a credential stands with the MCP servers that hold a copy.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SyncStatus {
    Pending,
    Synced,
    Error,
    OutOfSync,
}

impl From<credledger_projections::mcp_sync::SyncStatus> for SyncStatus {
    fn from(status: credledger_projections::mcp_sync::SyncStatus) -> Self {
        use credledger_projections::mcp_sync::SyncStatus as Stored;
        match status {
            Stored::Pending => Self::Pending,
            Stored::Synced => Self::Synced,
            Stored::Error => Self::Error,
            Stored::OutOfSync => Self::OutOfSync,
        }
    }
}

/// Who the provider says a credential belongs to.
#[derive(SimpleObject, Clone, Debug)]
pub struct AccountIdentity {
    pub id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// A credential's metadata and state: never its secret.
#[derive(SimpleObject, Clone, Debug)]
pub struct Credential {
    pub id: ID,
    /// The owner's user id.
    pub owner: String,
    pub service: String,
    pub name: String,
    pub status: CredentialStatus,
    pub is_primary: bool,
    pub account: Option<AccountIdentity>,
    /// The owner's own labels (a JSON object of strings).
    pub metadata: Json<Value>,
    /// What the provider reported at the last check (a JSON object of strings).
    pub provider_metadata: Json<Value>,
    pub scopes: Vec<String>,
    pub secret_version: i64,
    pub last_validated_at: Option<DateTime<Utc>>,
    pub validation_error: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub use_count: i64,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub sync_status: Option<SyncStatus>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub sync_error: Option<String>,
    /// The credential's version in the ledger (its keyring's sequence at the last change).
    pub ledger_version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<Summary> for Credential {
    fn from(s: Summary) -> Self {
        let account = s.account_id.clone().map(|id| AccountIdentity {
            id,
            display_name: s.account_name.clone(),
            email: s.account_email.clone(),
        });
        Self {
            id: ID(s.credential_id),
            owner: s.user_id,
            service: s.service,
            name: s.name,
            status: s.status.into(),
            is_primary: s.is_primary,
            account,
            metadata: Json(serde_json::json!(s.metadata)),
            provider_metadata: Json(serde_json::json!(s.provider_metadata)),
            scopes: s.scopes,
            secret_version: s.secret_version,
            last_validated_at: s.last_validated_at,
            validation_error: s.validation_error,
            last_used_at: s.last_used_at,
            use_count: s.use_count,
            token_expires_at: s.token_expires_at,
            sync_status: s.sync_status.map(SyncStatus::from),
            last_synced_at: s.last_synced_at,
            sync_error: s.sync_error,
            ledger_version: s.ledger_version,
            created_at: s.created_at,
            created_by: s.created_by,
            updated_at: s.updated_at,
            updated_by: s.updated_by,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuthType {
    ApiToken,
    ApiKey,
    Oauth2,
    BasicAuth,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FieldFormat {
    Url,
    Email,
    Slug,
}

/// One field of a service's credential.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceField {
    pub name: String,
    pub label: String,
    pub required: bool,
    /// Secret fields are typed as passwords and never shown back.
    pub secret: bool,
    pub format: Option<FieldFormat>,
    /// What the value looks like (for an empty input); never a real value.
    pub placeholder: Option<String>,
}

/// A service of the catalog.
#[derive(SimpleObject, Clone, Debug)]
pub struct Service {
    pub key: String,
    pub display_name: String,
    pub description: String,
    pub docs_url: String,
    pub icon: String,
    pub auth_type: AuthType,
    pub fields: Vec<ServiceField>,
    pub multi_account: bool,
    pub token_refresh: bool,
    pub revocation: bool,
    pub rate_limit_per_minute: Option<i32>,
    pub rate_limit_per_hour: Option<i32>,
    pub enabled: bool,
    pub beta: bool,
    /// Whether a person connects this service with OAuth ("Connect with Google") on this
    /// server: the service has an OAuth flow and the deployment has a client for it.
    pub oauth_available: bool,
    /// The scopes an OAuth connection asks for (empty for services connected by pasting).
    pub oauth_scopes: Vec<String>,
    /// Whose accounts an OAuth connection signs in with (`google`), for "Connect with Google";
    /// null for services connected by pasting.
    pub oauth_provider: Option<String>,
}

impl From<&credledger_domain::ServiceDefinition> for Service {
    fn from(s: &credledger_domain::ServiceDefinition) -> Self {
        use credledger_domain::{AuthType as A, FieldFormat as F};
        Self {
            key: s.key.to_string(),
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            docs_url: s.docs_url.clone(),
            icon: s.icon.clone(),
            auth_type: match s.auth_type {
                A::ApiToken => AuthType::ApiToken,
                A::ApiKey => AuthType::ApiKey,
                A::Oauth2 => AuthType::Oauth2,
                A::BasicAuth => AuthType::BasicAuth,
            },
            fields: s
                .fields
                .iter()
                .map(|f| ServiceField {
                    name: f.name.clone(),
                    label: f.label.clone(),
                    required: f.required,
                    secret: f.secret,
                    format: f.format.map(|x| match x {
                        F::Url => FieldFormat::Url,
                        F::Email => FieldFormat::Email,
                        F::Slug => FieldFormat::Slug,
                    }),
                    placeholder: f.placeholder.clone(),
                })
                .collect(),
            multi_account: s.multi_account,
            token_refresh: s.token_refresh,
            revocation: s.revocation,
            rate_limit_per_minute: s
                .rate_limit_per_minute
                .map(|n| n.min(i32::MAX as u32) as i32),
            rate_limit_per_hour: s.rate_limit_per_hour.map(|n| n.min(i32::MAX as u32) as i32),
            enabled: s.enabled,
            beta: s.beta,
            oauth_available: false,
            oauth_scopes: s
                .oauth
                .as_ref()
                .map(|o| o.scopes.clone())
                .unwrap_or_default(),
            oauth_provider: s.oauth.as_ref().map(|o| o.provider.clone()),
        }
    }
}

/// Credential counts for a scope (one service, a person, or everyone).
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct CredentialCounts {
    pub total: i64,
    pub active: i64,
    pub inactive: i64,
    pub invalid: i64,
    pub expired: i64,
    pub revoked: i64,
    pub pending_sync: i64,
    pub sync_errors: i64,
}

impl From<&Counts> for CredentialCounts {
    fn from(c: &Counts) -> Self {
        Self {
            total: c.total,
            active: c.active,
            inactive: c.inactive,
            invalid: c.invalid,
            expired: c.expired,
            revoked: c.revoked,
            pending_sync: c.pending_sync,
            sync_errors: c.sync_errors,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceCounts {
    pub service: String,
    pub counts: CredentialCounts,
}

/// The credentials page's stats.
#[derive(SimpleObject, Clone, Debug)]
pub struct Dashboard {
    pub total: i64,
    pub active: i64,
    pub expired: i64,
    pub invalid: i64,
    pub revoked: i64,
    pub inactive: i64,
    pub services_connected: i64,
    pub pending_sync: i64,
    pub sync_errors: i64,
    /// Active credentials whose token expires within the warning window (7 days unless
    /// configured), or has just expired and is about to be marked so.
    pub expiring_soon: i64,
    pub by_service: Vec<ServiceCounts>,
}

impl From<DashboardModel> for Dashboard {
    fn from(d: DashboardModel) -> Self {
        Self {
            total: d.totals.total,
            active: d.totals.active,
            expired: d.totals.expired,
            invalid: d.totals.invalid,
            revoked: d.totals.revoked,
            inactive: d.totals.inactive,
            services_connected: d.services_connected,
            pending_sync: d.totals.pending_sync,
            sync_errors: d.totals.sync_errors,
            expiring_soon: 0,
            by_service: by_service(&d.by_service),
        }
    }
}

pub fn by_service(map: &BTreeMap<String, Counts>) -> Vec<ServiceCounts> {
    map.iter()
        .map(|(service, c)| ServiceCounts {
            service: service.clone(),
            counts: c.into(),
        })
        .collect()
}

/// One event of the ledger as the audit trail shows it: who, when, from where, what changed.
#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEvent {
    pub position: i64,
    pub occurred_at: DateTime<Utc>,
    /// The event's type (`CredentialRegistered`, `CredentialUsed`, …).
    pub action: String,
    pub actor: String,
    pub credential_id: Option<ID>,
    pub user_id: Option<String>,
    pub service: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub success: bool,
    pub error: Option<String>,
    pub old_values: Json<Value>,
    pub new_values: Json<Value>,
    pub context: Json<Value>,
}

impl From<AuditEntry> for AuditEvent {
    fn from(a: AuditEntry) -> Self {
        Self {
            position: a.position,
            occurred_at: a.occurred_at,
            action: a.action,
            actor: a.actor,
            credential_id: a.credential_id.map(ID),
            user_id: a.user_id,
            service: a.service,
            ip: a.ip,
            user_agent: a.user_agent,
            request_id: a.request_id,
            success: a.success,
            error: a.error,
            old_values: Json(a.old_values),
            new_values: Json(a.new_values),
            context: Json(a.context),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEdge {
    pub cursor: String,
    pub node: AuditEvent,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// A page of the audit trail, newest first (a Relay connection).
#[derive(SimpleObject, Clone, Debug)]
pub struct AuditConnection {
    pub edges: Vec<AuditEdge>,
    pub page_info: PageInfo,
}

/// Which audit events to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AuditFilter {
    pub credential_id: Option<ID>,
    pub service: Option<String>,
    /// An event type, e.g. `CredentialValidated`.
    pub action: Option<String>,
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One event in a credential's history, with its place in the hash chain.
#[derive(SimpleObject, Clone, Debug)]
pub struct HistoryEvent {
    pub position: i64,
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The event's non-secret facts: what changed (old and new values) and its context.
    pub payload: Json<Value>,
    /// The event's SHA-256 in the ledger's hash chain (hex).
    pub hash: String,
}

impl HistoryEvent {
    pub fn new(a: AuditEntry, hash: String) -> Self {
        let payload = serde_json::json!({
            "old": a.old_values,
            "new": a.new_values,
            "context": a.context,
            "success": a.success,
            "error": a.error,
        });
        Self {
            position: a.position,
            event_type: a.action,
            occurred_at: a.occurred_at,
            actor: a.actor,
            ip: a.ip,
            user_agent: a.user_agent,
            request_id: a.request_id,
            payload: Json(payload),
            hash,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "credledger_domain::Role")]
pub enum Role {
    Admin,
    Member,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "credledger_domain::Permission")]
pub enum Permission {
    /// `credentials.view_all`: see everyone's credential metadata.
    CredentialsViewAll,
    /// `credentials.edit_all`: change everyone's credentials (never read their secrets).
    CredentialsEditAll,
    /// `credentials.delete_all`: delete everyone's credentials.
    CredentialsDeleteAll,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "credledger_domain::Scope")]
pub enum Scope {
    /// `credentials:read`
    CredentialsRead,
    /// `credentials:resolve`
    CredentialsResolve,
    /// `ledger:read`
    LedgerRead,
}

/// A person who can sign in.
#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Explicit grants (admins hold every permission anyway).
    pub permissions: Vec<Permission>,
    pub locked: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.user_id,
            email: u.email,
            display_name: u.display_name,
            role: u.role.into(),
            permissions: u.permissions.into_iter().map(Permission::from).collect(),
            locked: u.locked,
            created_at: u.created_at,
        }
    }
}

/// An API token's description (never the token).
#[derive(SimpleObject, Clone, Debug)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

impl From<TokenRow> for ApiToken {
    fn from(t: TokenRow) -> Self {
        api_token(
            t.token_id,
            t.name,
            t.scopes,
            t.expires_at,
            t.revoked,
            t.created_at,
        )
    }
}

impl From<ServerTokenRow> for ApiToken {
    fn from(t: ServerTokenRow) -> Self {
        api_token(
            t.token_id,
            t.name,
            t.scopes,
            t.expires_at,
            t.revoked,
            t.created_at,
        )
    }
}

/// A person's or an MCP server's token, as the API describes both.
fn api_token(
    id: String,
    name: String,
    scopes: BTreeSet<credledger_domain::Scope>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    created_at: DateTime<Utc>,
) -> ApiToken {
    ApiToken {
        id: ID(id),
        name,
        scopes: scopes.into_iter().map(Scope::from).collect(),
        expires_at,
        revoked,
        created_at,
    }
}

/// The outcome of a live check with the provider.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ValidationResult {
    Valid,
    /// The provider refused the secret (its message says why).
    Invalid,
    /// The provider could not be asked; says nothing about the credential.
    CouldNotCheck,
}

/// What `testCredential` found.
#[derive(SimpleObject, Clone, Debug)]
pub struct TestCredentialResult {
    pub result: ValidationResult,
    /// The provider's message (invalid) or why it could not be asked.
    pub message: Option<String>,
    pub account: Option<AccountIdentity>,
    pub scopes: Vec<String>,
    /// Live checks left in this minute.
    pub rate_limit_remaining: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AddCredentialPayload {
    pub credential: Credential,
    pub rate_limit_remaining: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct StartOAuthConnectionPayload {
    /// Where to send the person: the provider's consent page. It comes back to
    /// `/oauth/callback`, which lands on the dashboard with `?oauth=connected&credential=<id>`
    /// or `?oauth_error=<reason>`.
    pub authorization_url: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct UpdateCredentialPayload {
    pub credential: Credential,
    /// Set when a new secret was checked.
    pub rate_limit_remaining: Option<i32>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RevalidateCredentialPayload {
    pub credential: Credential,
    pub result: ValidationResult,
    pub message: Option<String>,
    pub rate_limit_remaining: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct DeleteCredentialPayload {
    pub deleted_id: ID,
    /// The credential promoted to primary in its place, if any.
    pub new_primary: Option<Credential>,
}

/// A secret shown to its owner. The disclosure is recorded in the ledger before this answer.
#[derive(SimpleObject, Clone)]
pub struct RevealedCredential {
    pub credential_id: ID,
    /// The secret's fields (a JSON object of strings).
    pub fields: Json<BTreeMap<String, String>>,
    pub revealed_at: DateTime<Utc>,
}

impl std::fmt::Debug for RevealedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealedCredential")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

/// A credential resolved for a machine client at call time (recorded as `CredentialUsed`).
#[derive(SimpleObject, Clone)]
pub struct ResolvedCredential {
    pub credential_id: ID,
    pub service: String,
    pub name: String,
    /// The secret's fields, named as in the catalog; an OAuth credential the ledger refreshes
    /// comes without its refresh token.
    pub fields: Json<BTreeMap<String, String>>,
    /// The secret's version: it changes when the secret is replaced or refreshed.
    pub version: i32,
    /// When the secret expires, if it does: as the provider says (an OAuth access token
    /// whose provider did not say is taken to live an hour).
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct LoginPayload {
    pub user: User,
}

/// A new API token: `token` is shown this once and never again.
#[derive(SimpleObject, Clone)]
pub struct CreatedApiToken {
    pub token: String,
    pub api_token: ApiToken,
}

impl std::fmt::Debug for CreatedApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiToken")
            .field("api_token", &self.api_token)
            .finish_non_exhaustive()
    }
}

/// The system's health at a glance (admins).
#[derive(SimpleObject, Clone, Debug)]
pub struct SystemMetrics {
    pub users: i64,
    pub totals: CredentialCounts,
    pub services_connected: i64,
    pub by_service: Vec<ServiceCounts>,
    pub recent_validations: Vec<AuditEvent>,
    pub failed_syncs: Vec<AuditEvent>,
    /// The credentials `failed_syncs` names that still exist (metadata only), to name them and
    /// offer their retry; one erased since is absent.
    pub failed_sync_credentials: Vec<Credential>,
    /// Active credentials expiring within the warning window, everyone's.
    pub expiring_soon: i64,
    /// The first of them (at most 100), soonest first: metadata only.
    pub expiring_credentials: Vec<Credential>,
    /// Uses of credentials (resolves and reveals) per service and UTC day, over the last 14
    /// days (today included), by day then service; days without a use are absent.
    pub usage_by_service: Vec<DailyServiceUses>,
}

/// How many times credentials of one service were used on one UTC day.
#[derive(SimpleObject, Clone, Debug)]
pub struct DailyServiceUses {
    pub service: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub uses: i64,
}

/// A change to one of the signed-in person's credentials, as it happens.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct CredentialChange {
    pub credential_id: ID,
    /// The event's type (`CredentialValidated`, `PrimaryCredentialChanged`, …).
    pub action: String,
    pub position: i64,
}

#[async_graphql::ComplexObject]
impl CredentialChange {
    /// The credential as it is now (absent once erased). Read only when asked for: one that
    /// cannot be read now is an error on this field (`UNAVAILABLE`, `INTERNAL`), never absent.
    async fn credential(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Credential>> {
        super::answer(ctx, async {
            Ok(credledger_projections::credential_summary::get(
                &super::api(ctx).ledger.db.any,
                &self.credential_id,
            )
            .await?
            .map(Credential::from))
        })
        .await
    }
}

#[derive(InputObject)]
pub struct AddCredentialInput {
    pub service: String,
    pub name: String,
    /// The secret's fields, named as in the catalog (a JSON object of strings).
    pub fields: Json<Value>,
    /// Labels of your own (a JSON object of strings).
    pub metadata: Option<Json<BTreeMap<String, String>>>,
}

#[derive(InputObject)]
pub struct UpdateCredentialInput {
    pub name: Option<String>,
    pub metadata: Option<Json<BTreeMap<String, String>>>,
    /// A new secret: checked with the provider first, refused if the provider refuses it.
    pub fields: Option<Json<Value>>,
}

/// `fields` is the plaintext secret: never printed.
impl std::fmt::Debug for AddCredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddCredentialInput")
            .field("service", &self.service)
            .field("name", &self.name)
            .field("fields", &"<redacted>")
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// `fields` is the plaintext secret: never printed.
impl std::fmt::Debug for UpdateCredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateCredentialInput")
            .field("name", &self.name)
            .field("metadata", &self.metadata)
            .field("fields", &self.fields.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub password: String,
    #[graphql(default)]
    pub admin: bool,
}

impl std::fmt::Debug for CreateUserInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserInput")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_carrying_a_secret_never_print_it() {
        let add = AddCredentialInput {
            service: "notion".into(),
            name: "Work".into(),
            fields: Json(serde_json::json!({"token": "canary-input-1"})),
            metadata: None,
        };
        let update = UpdateCredentialInput {
            name: None,
            metadata: None,
            fields: Some(Json(serde_json::json!({"token": "canary-input-2"}))),
        };
        let user = CreateUserInput {
            user_id: "bob".into(),
            email: "bob@example.com".into(),
            display_name: "Bob".into(),
            password: "canary-password-3".into(),
            admin: false,
        };
        let printed = format!("{add:?} {update:?} {user:?}");
        for canary in ["canary-input-1", "canary-input-2", "canary-password-3"] {
            assert!(!printed.contains(canary), "{printed}");
        }
        assert!(printed.contains("notion"));
    }
}

/// A registered MCP server (no secret: its signing secret is shown once, at registration).
#[derive(SimpleObject, Clone, Debug)]
pub struct McpServer {
    pub id: String,
    pub name: String,
    /// Where its credential API is (administrators only).
    pub base_url: Option<String>,
    pub allowed_services: Vec<String>,
    /// Holds every user's credentials for the allowed services, without per-user grants.
    pub serves_all_users: bool,
    pub removed: bool,
    pub created_at: DateTime<Utc>,
}

impl From<ServerRow> for McpServer {
    fn from(s: ServerRow) -> Self {
        Self {
            id: s.server_id,
            name: s.name,
            base_url: Some(s.base_url),
            allowed_services: s.allowed_services.into_iter().collect(),
            serves_all_users: s.serves_all_users,
            removed: s.removed,
            created_at: s.created_at,
        }
    }
}

/// A user's permission for an MCP server to hold their credentials for one service.
#[derive(SimpleObject, Clone, Debug)]
pub struct McpGrant {
    pub server_id: String,
    pub user_id: String,
    pub service: String,
    pub granted_at: DateTime<Utc>,
}

impl From<GrantRow> for McpGrant {
    fn from(g: GrantRow) -> Self {
        Self {
            server_id: g.server_id,
            user_id: g.user_id,
            service: g.service,
            granted_at: g.granted_at,
        }
    }
}

/// A newly registered MCP server and the secret it verifies sync requests with (this once).
#[derive(SimpleObject, Clone)]
pub struct RegisteredMcpServer {
    pub server: McpServer,
    pub signing_secret: String,
}

impl std::fmt::Debug for RegisteredMcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredMcpServer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// How many credentials an MCP server's copy has in one sync state.
#[derive(SimpleObject, Clone, Debug)]
pub struct McpSyncCount {
    pub server_id: String,
    pub status: SyncStatus,
    pub count: i64,
}

#[derive(InputObject, Clone, Debug)]
pub struct RegisterMcpServerInput {
    /// 1–64 of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    pub name: String,
    /// Where its credential API is (`POST {baseUrl}/credentials`, …).
    pub base_url: String,
    pub allowed_services: Vec<String>,
    /// Whether it holds every user's credentials without their grants: `true` is refused
    /// (`FORBIDDEN`), such a server is the operator's (`credledger mcp register --all-users`).
    #[graphql(default = false)]
    pub serves_all_users: bool,
}
