//! Subscriptions over WebSocket (graphql-transport-ws).

use super::types::CredentialChange;
use super::{api, request, with_scope};
use crate::error::ApiError;
use async_graphql::{Context, Subscription, ID};
use credledger_domain::user::Scope;
use futures::{Stream, StreamExt as _};
use std::time::Duration;

pub struct Subscription;

/// How often an idle subscription checks that its principal may still act.
const RECHECK: Duration = Duration::from_secs(15);

/// A lookup that fails counts as signed out: the subscription ends and the client reconnects.
async fn still_signed_in(api: &crate::graphql::Api, p: &crate::auth::Principal) -> bool {
    api.accounts.still_signed_in(p).await.unwrap_or(false)
}

#[Subscription]
impl Subscription {
    /// Changes to your credentials as they happen: status, validation, primary, sync. It ends
    /// with an `UNAVAILABLE` error when it fell behind and missed changes, and is refused with
    /// one while the server cannot yet read the ledger (just after it started): subscribe again
    /// and read the credentials afresh.
    async fn credential_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<CredentialChange>>> {
        let p = with_scope(ctx, Scope::CredentialsRead)
            .map_err(|e: ApiError| e.into_graphql(&request(ctx).request_id))?;
        let principal = p.clone();
        let user = p.user_id.to_string();
        let api = api(ctx).clone();
        // Before the live feed has read the ledger's head it knows no start: `UNAVAILABLE`,
        // and the client subscribes again (the dashboard then reads its pages afresh).
        let mut events = api.live.subscribe().map_err(|e| {
            ApiError::Unavailable(e.to_string()).into_graphql(&request(ctx).request_id)
        })?;
        // The server's shutdown ends it wherever it waits (the sender lives on in the API's
        // state: the changes alone would never end).
        let ended = api.live.ended();
        Ok(async_stream::stream! {
            let mut recheck = tokio::time::interval(RECHECK);
            recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let event = tokio::select! {
                    received = events.next() => match received {
                        Ok(Some(e)) => e,
                        Ok(None) => break,
                        // Some of what it missed may be its owner's (a revocation): the client
                        // is told, rather than left showing a state that no longer holds.
                        Err(behind) => {
                            tracing::warn!(skipped = behind.skipped, "a subscriber fell behind; ending it");
                            yield Err(behind.into_graphql());
                            break;
                        }
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
                yield Ok(CredentialChange {
                    credential_id: ID(event.credential_id),
                    action: event.action,
                    position: event.position,
                });
            }
        }
        .take_until(ended))
    }
}
