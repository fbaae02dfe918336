//! Queries. Each reads one or two read-model statements, whatever the number of credentials.

use super::types::*;
use super::{admin, answer, api, credential_for, signed_in, with_scope, Access};
use crate::error::ApiError;
use async_graphql::{Context, Object, ID};
use credledger_adapters::db::timestamp;
use credledger_domain::user as domain;
use credledger_projections::audit_trail::{self, AuditFilter as Filter, Recent};
use credledger_projections::{
    credential_summary, dashboard_stats, mcp_sync, principals, usage_by_service,
};

/// The most credentials one page of `allCredentials` answers.
const LIST_MAX: i32 = 1_000;
const PAGE_MAX: i32 = 100;
/// The most events of one credential's history in one answer.
const HISTORY_MAX: i32 = 1_000;
/// The most soon-expiring credentials `systemMetrics` lists.
const EXPIRING_LIST_LIMIT: i64 = 100;
/// How many days of uses `systemMetrics.usageByService` covers (today included).
const USAGE_DAYS: i64 = 14;

/// The end of the expiry warning window, as the read models write times.
fn expiry_horizon(ctx: &Context<'_>) -> String {
    timestamp(chrono::Utc::now() + api(ctx).expiry_warning)
}

pub struct Query;

fn status_filter(status: Option<CredentialStatus>) -> Option<&'static str> {
    status.map(CredentialStatus::as_str)
}

#[Object]
impl Query {
    /// The signed-in person.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        answer(ctx, async {
            let p = signed_in(ctx)?;
            let user = principals::user(&api(ctx).ledger.db.any, p.user_id.as_str(), false)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            Ok(Me { user: user.into() })
        })
        .await
    }

    /// The service catalog, in display order.
    async fn services(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        answer(ctx, async {
            with_scope(ctx, domain::Scope::CredentialsRead)?;
            let a = api(ctx);
            Ok(a.ledger
                .catalog
                .services()
                .iter()
                .map(|s| Service {
                    oauth_available: a.oauth.client_for(s).is_some(),
                    ..Service::from(s)
                })
                .collect())
        })
        .await
    }

    /// Your credentials, optionally for one service or in one status: all of them (at most
    /// 200 of each service are kept).
    async fn credentials(
        &self,
        ctx: &Context<'_>,
        service: Option<String>,
        status: Option<CredentialStatus>,
    ) -> async_graphql::Result<Vec<Credential>> {
        answer(ctx, async {
            let p = with_scope(ctx, domain::Scope::CredentialsRead)?;
            let a = api(ctx);
            // As many as one person can hold: the list is never cut.
            let most = credledger_domain::keyring::MAX_CREDENTIALS_PER_SERVICE
                * a.ledger.catalog.services().len().max(1);
            let rows = credential_summary::list(
                &a.ledger.db,
                credential_summary::Filter {
                    user_id: Some(p.user_id.as_str()),
                    service: service.as_deref(),
                    status: status_filter(status),
                },
                None,
                i64::try_from(most).unwrap_or(i64::MAX),
            )
            .await?;
            Ok(rows.into_iter().map(Credential::from).collect())
        })
        .await
    }

    /// One credential (yours, or anyone's metadata with `credentials.view_all`).
    async fn credential(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Credential> {
        answer(ctx, async {
            let p = with_scope(ctx, domain::Scope::CredentialsRead)?;
            credential_for(api(ctx), p, &id, Access::View).await?;
            credledger_projections::credential_summary::get(&api(ctx).ledger.db.any, &id)
                .await?
                .map(Credential::from)
                .ok_or(ApiError::NotFound)
        })
        .await
    }

    /// Your credentials' counts.
    async fn dashboard(&self, ctx: &Context<'_>) -> async_graphql::Result<Dashboard> {
        answer(ctx, async {
            let p = with_scope(ctx, domain::Scope::CredentialsRead)?;
            let pool = &api(ctx).ledger.db.any;
            let user = Some(p.user_id.as_str());
            let now = chrono::Utc::now();
            let warning = api(ctx).expiry_warning;
            let mut dashboard: Dashboard = dashboard_stats::dashboard(pool, user).await?.into();
            let expiring =
                credential_summary::expiring_count(pool, user, &timestamp(now + warning)).await?;
            dashboard.expiring_soon = expiring.count;
            Ok(dashboard)
        })
        .await
    }

    /// The audit trail, newest first: yours; with `credentials.view_all` every credential's
    /// too; an administrator's, all of it (people's accounts and MCP servers among it).
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<AuditConnection> {
        answer(ctx, async {
            let p = with_scope(ctx, domain::Scope::LedgerRead)?;
            if !(1..=PAGE_MAX).contains(&first) {
                return Err(ApiError::Validation(format!(
                    "`first` must be between 1 and {PAGE_MAX}"
                )));
            }
            let before = after
                .map(|c| {
                    c.parse::<i64>()
                        .map_err(|_| ApiError::Validation("`after` is not a cursor".into()))
                })
                .transpose()?;
            let f = filter.unwrap_or_default();
            let everyone = p.has(domain::Permission::CredentialsViewAll);
            if let (Some(id), false) = (&f.credential_id, everyone) {
                // Someone else's credential is not there, as for an id that does not exist.
                let owner = audit_trail::owner_of(&api(ctx).ledger.db.any, id).await?;
                if owner.as_deref() != Some(p.user_id.as_str()) {
                    return Err(ApiError::NotFound);
                }
            }
            let query = Filter {
                user_id: (!everyone).then(|| p.user_id.to_string()),
                credentials_or_person: (everyone && !p.is_admin()).then(|| p.user_id.to_string()),
                credential_id: f.credential_id.map(|id| id.to_string()),
                service: f.service,
                actions: f.action.into_iter().collect(),
                actor: f.actor,
                from: f.from.map(credledger_adapters::db::timestamp),
                to: f.to.map(credledger_adapters::db::timestamp),
            };
            let (entries, more) =
                audit_trail::search(&api(ctx).ledger.db.any, &query, i64::from(first), before)
                    .await?;
            let edges = entries
                .into_iter()
                .map(|e| AuditEdge {
                    cursor: e.position.to_string(),
                    node: e.into(),
                })
                .collect::<Vec<_>>();
            Ok(AuditConnection {
                page_info: PageInfo {
                    has_next_page: more,
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                },
                edges,
            })
        })
        .await
    }

    /// A credential's newest `last` events (1–1,000) before position `before`, in ledger
    /// order, each with its hash in the chain: ask again with the first one's position as
    /// `before` for the ones before it. Erased credentials keep their history. Read from the
    /// `audit_trail` read model, which is not chained: evidence for an auditor is the chain
    /// itself (`ledger export`, checked by `ledger verify`).
    async fn credential_history(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 200)] last: i32,
        before: Option<i64>,
    ) -> async_graphql::Result<Vec<HistoryEvent>> {
        answer(ctx, async {
            let p = with_scope(ctx, domain::Scope::LedgerRead)?;
            if !(1..=HISTORY_MAX).contains(&last) {
                return Err(ApiError::Validation(format!(
                    "`last` must be between 1 and {HISTORY_MAX}"
                )));
            }
            credledger_domain::CredentialId::parse(&id).map_err(|_| ApiError::NotFound)?;
            let pool = &api(ctx).ledger.db.any;
            // Whose it is, before anything of it is read.
            let owner = audit_trail::owner_of(pool, &id)
                .await?
                .ok_or(ApiError::NotFound)?;
            if owner != p.user_id.as_str() && !p.has(domain::Permission::CredentialsViewAll) {
                return Err(ApiError::NotFound);
            }
            let events =
                audit_trail::history_with_hashes(pool, &id, before, i64::from(last)).await?;
            Ok(events
                .into_iter()
                .map(|(e, hash)| HistoryEvent::new(e, hash))
                .collect())
        })
        .await
    }

    /// Everyone who can sign in (administrators).
    /// The MCP servers: every one for administrators; the live ones (to grant access to) for
    /// everyone else.
    async fn mcp_servers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<McpServer>> {
        answer(ctx, async {
            let p = super::session(ctx)?;
            let servers = mcp_sync::servers(&api(ctx).ledger.db.any).await?;
            Ok(servers
                .into_iter()
                .filter(|s| p.is_admin() || !s.removed)
                .map(|s| {
                    let mut server = McpServer::from(s);
                    if !p.is_admin() {
                        server.base_url = None;
                    }
                    server
                })
                .collect())
        })
        .await
    }

    /// Your grants to MCP servers; administrators may ask for a server's (`serverId`).
    async fn mcp_grants(
        &self,
        ctx: &Context<'_>,
        server_id: Option<String>,
    ) -> async_graphql::Result<Vec<McpGrant>> {
        answer(ctx, async {
            let p = super::session(ctx)?;
            let user = (!p.is_admin() || server_id.is_none()).then_some(p.user_id.as_str());
            let grants =
                mcp_sync::grants(&api(ctx).ledger.db.any, user, server_id.as_deref()).await?;
            Ok(grants.into_iter().map(McpGrant::from).collect())
        })
        .await
    }

    /// How many credentials each MCP server's copy has per sync state (administrators).
    async fn mcp_sync_status(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<McpSyncCount>> {
        answer(ctx, async {
            admin(ctx)?;
            mcp_sync::status_counts(&api(ctx).ledger.db.any)
                .await?
                .into_iter()
                .map(|(server_id, status, count)| {
                    Ok(McpSyncCount {
                        server_id,
                        status: SyncStatus::from(status),
                        count,
                    })
                })
                .collect()
        })
        .await
    }

    async fn users(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        answer(ctx, async {
            admin(ctx)?;
            let users = principals::users(&api(ctx).ledger.db.any).await?;
            Ok(users.into_iter().map(User::from).collect())
        })
        .await
    }

    /// Everyone's credentials, metadata only (administrators and `credentials.view_all`), by
    /// service then age, `first` (1–1,000) at a time: ask again with the last one's id as
    /// `after` for the next ones; fewer than `first` is the end.
    async fn all_credentials(
        &self,
        ctx: &Context<'_>,
        user_id: Option<String>,
        service: Option<String>,
        status: Option<CredentialStatus>,
        #[graphql(default = 1000)] first: i32,
        after: Option<ID>,
    ) -> async_graphql::Result<Vec<Credential>> {
        answer(ctx, async {
            let p = super::session(ctx)?;
            if !p.has(domain::Permission::CredentialsViewAll) {
                return Err(ApiError::Forbidden(
                    "this needs the permission credentials.view_all".into(),
                ));
            }
            if !(1..=LIST_MAX).contains(&first) {
                return Err(ApiError::Validation(format!(
                    "`first` must be between 1 and {LIST_MAX}"
                )));
            }
            let pool = &api(ctx).ledger.db;
            if let Some(after) = &after {
                // A page's last credential erased meanwhile: the list cannot go on from it.
                if credential_summary::get(&pool.any, after).await?.is_none() {
                    return Err(ApiError::Validation(
                        "`after` names no credential (erased since?): start again".into(),
                    ));
                }
            }
            let rows = credential_summary::list(
                pool,
                credential_summary::Filter {
                    user_id: user_id.as_deref(),
                    service: service.as_deref(),
                    status: status_filter(status),
                },
                after.as_ref().map(|a| a.as_str()),
                i64::from(first),
            )
            .await?;
            Ok(rows.into_iter().map(Credential::from).collect())
        })
        .await
    }

    /// The system at a glance (administrators).
    async fn system_metrics(&self, ctx: &Context<'_>) -> async_graphql::Result<SystemMetrics> {
        answer(ctx, async {
            admin(ctx)?;
            let pool = &api(ctx).ledger.db.any;
            let dashboard = dashboard_stats::dashboard(pool, None).await?;
            let users = principals::user_count(pool).await?;
            let validations = audit_trail::recent(pool, Recent::Checks, 20).await?;
            let failed = audit_trail::recent(pool, Recent::SyncFailures, 20).await?;
            let mut named = std::collections::BTreeSet::new();
            let mut failed_sync_credentials = Vec::new();
            for id in failed.iter().filter_map(|f| f.credential_id.as_deref()) {
                if named.insert(id) {
                    if let Some(c) = credential_summary::get(pool, id).await? {
                        failed_sync_credentials.push(Credential::from(c));
                    }
                }
            }
            let horizon = expiry_horizon(ctx);
            let expiring_soon = credential_summary::expiring_count(pool, None, &horizon)
                .await?
                .count;
            let expiring =
                credential_summary::expiring(pool, None, &horizon, EXPIRING_LIST_LIMIT).await?;
            let first_day = (chrono::Utc::now() - chrono::TimeDelta::days(USAGE_DAYS - 1))
                .date_naive()
                .to_string();
            let usage = usage_by_service::since(pool, &first_day).await?;
            Ok(SystemMetrics {
                users,
                totals: (&dashboard.totals).into(),
                services_connected: dashboard.services_connected,
                by_service: by_service(&dashboard.by_service),
                recent_validations: validations.into_iter().map(AuditEvent::from).collect(),
                failed_syncs: failed.into_iter().map(AuditEvent::from).collect(),
                failed_sync_credentials,
                expiring_soon,
                expiring_credentials: expiring.into_iter().map(Credential::from).collect(),
                usage_by_service: usage
                    .into_iter()
                    .map(|u| DailyServiceUses {
                        service: u.service,
                        day: u.day,
                        uses: u.uses,
                    })
                    .collect(),
            })
        })
        .await
    }
}

/// The signed-in person, with their API tokens.
pub struct Me {
    user: User,
}

#[Object]
impl Me {
    async fn id(&self) -> &str {
        &self.user.id
    }
    async fn email(&self) -> &str {
        &self.user.email
    }
    async fn display_name(&self) -> &str {
        &self.user.display_name
    }
    async fn role(&self) -> Role {
        self.user.role
    }
    async fn permissions(&self) -> &[Permission] {
        &self.user.permissions
    }
    /// Your API tokens (never the tokens themselves).
    async fn api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        answer(ctx, async {
            super::session(ctx)?;
            let tokens = principals::tokens_of(&api(ctx).ledger.db.any, &self.user.id).await?;
            Ok(tokens.into_iter().map(ApiToken::from).collect())
        })
        .await
    }
}
