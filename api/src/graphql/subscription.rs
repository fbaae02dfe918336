//! Subscriptions over WebSocket (graphql-transport-ws).

use super::types::{Credential, CredentialChange};
use super::{api, request, with_scope};
use crate::error::ApiError;
use async_graphql::{Context, Subscription, ID};
use credledger_domain::user::Scope;
use credledger_projections::credential_summary;
use futures::Stream;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Changes to your credentials as they happen: status, validation, primary, sync.
    async fn credential_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = CredentialChange>> {
        let p = with_scope(ctx, Scope::CredentialsRead)
            .map_err(|e: ApiError| e.into_graphql(&request(ctx).request_id))?;
        let user = p.user_id.to_string();
        let api = api(ctx).clone();
        let mut events = api.live.subscribe();
        Ok(async_stream::stream! {
            loop {
                let event = match events.recv().await {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "a subscriber fell behind");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
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
                        &[credledger_projections::Consumer::CredentialSummary],
                        Duration::from_secs(2),
                    )
                    .await;
                let credential = credential_summary::get(&api.ledger.db.any, &event.credential_id)
                    .await
                    .ok()
                    .flatten()
                    .map(Credential::from);
                yield CredentialChange {
                    credential_id: ID(event.credential_id),
                    action: event.action,
                    position: event.position,
                    credential,
                };
            }
        })
    }
}
