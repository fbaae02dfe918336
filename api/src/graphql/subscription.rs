//! Subscriptions over WebSocket (graphql-transport-ws).

use super::types::CredentialChange;
use super::{api, request, with_scope};
use crate::error::ApiError;
use async_graphql::{Context, Subscription, ID};
use credledger_domain::user::Scope;
use futures::Stream;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub struct Subscription;

/// How often an idle subscription checks that its principal may still act.
const RECHECK: Duration = Duration::from_secs(15);

/// A lookup that fails counts as signed out: the subscription ends and the client reconnects.
async fn still_signed_in(api: &crate::graphql::Api, p: &crate::auth::Principal) -> bool {
    api.accounts.still_signed_in(p).await.unwrap_or(false)
}

#[Subscription]
impl Subscription {
    /// Changes to your credentials as they happen: status, validation, primary, sync.
    async fn credential_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = CredentialChange>> {
        let p = with_scope(ctx, Scope::CredentialsRead)
            .map_err(|e: ApiError| e.into_graphql(&request(ctx).request_id))?;
        let principal = p.clone();
        let user = p.user_id.to_string();
        let api = api(ctx).clone();
        let mut events = api.live.subscribe();
        Ok(async_stream::stream! {
            let mut recheck = tokio::time::interval(RECHECK);
            recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let event = tokio::select! {
                    received = events.recv() => match received {
                        Ok(e) => e,
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(skipped = n, "a subscriber fell behind");
                            continue;
                        }
                        Err(RecvError::Closed) => break,
                    },
                    _ = recheck.tick() => {
                        if !still_signed_in(&api, &principal).await {
                            break;
                        }
                        continue;
                    }
                };
                if event.user_id != user {
                    continue;
                }
                // Answer with the read model as of this change (bounded wait).
                let _ = api
                    .ledger
                    .projections
                    .wait_for_some(
                        event.position,
                        &[
                            &credledger_projections::credential_summary::CredentialSummary,
                            &credledger_projections::mcp_sync::McpSync,
                        ],
                        Duration::from_secs(2),
                    )
                    .await;
                // The principal as of now, after the wait, not as of the connection or of the
                // change: a sign-out, a revoked token or a lock ends the subscription before
                // anything more is sent.
                if !still_signed_in(&api, &principal).await {
                    break;
                }
                yield CredentialChange {
                    credential_id: ID(event.credential_id),
                    action: event.action,
                    position: event.position,
                };
            }
        })
    }
}
