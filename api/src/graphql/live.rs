//! Live changes for subscriptions: one follower of the ledger's feed per process, fanned out to
//! every subscriber through a broadcast channel. Subscribers filter by owner.

use cqrs_es::Aggregate as _;
use credledger_adapters::feed::{self, FeedWaker};
use credledger_adapters::Database;
use credledger_domain::keyring::{Keyring, KeyringEvent};
use credledger_domain::KeyringId;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// One change to one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub position: i64,
    pub user_id: String,
    pub credential_id: String,
    pub action: String,
}

/// The process's live feed of credential changes.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<LiveEvent>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").finish_non_exhaustive()
    }
}

impl LiveFeed {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// Follows the feed from its current head until `shutdown`, publishing keyring changes.
    ///
    /// While nobody subscribes it reads no events (under a stream of resolves that would be
    /// every use, payload and all): it only moves past what was committed, to the position a
    /// wake-up told of, or to the head it reads when a wake-up told none. Subscribers are
    /// counted after that position was committed, so whatever it covers was committed before
    /// anyone who subscribes after the count, and nothing committed after a subscription is
    /// skipped.
    pub async fn follow(&self, db: Database, mut shutdown: watch::Receiver<bool>) {
        let mut after = match db.head().await {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "live feed: could not read the ledger's head");
                0
            }
        };
        let mut waker = FeedWaker::new(&db, Duration::from_millis(500)).await;
        // The committed position the last wake-up told of.
        let mut told = None;
        loop {
            // Whether to look again at once (more events may be there, or someone subscribed).
            let again = if self.sender.receiver_count() == 0 {
                let committed = match told.take() {
                    Some(position) => Ok(position),
                    None => db.head().await,
                };
                committed.map(|head| {
                    let subscribed = self.sender.receiver_count() > 0;
                    if !subscribed {
                        after = after.max(head);
                    }
                    subscribed
                })
            } else {
                told = None;
                feed::read_after(&db.any, after, 500).await.map(|events| {
                    for e in &events {
                        after = e.position;
                        self.publish(e);
                    }
                    !events.is_empty()
                })
            };
            match again {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "live feed: read failed; retrying"),
            }
            // A commit of this process is heard twice (its signal, then its notification): the
            // second says nothing beyond `after` and is skipped.
            tokio::select! {
                position = waker.wait_beyond(after) => told = position,
                changed = shutdown.changed() => if changed.is_err() { return },
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    fn publish(&self, e: &feed::FeedEvent) {
        if e.aggregate_type != Keyring::TYPE || self.sender.receiver_count() == 0 {
            return;
        }
        let (Ok(keyring), Ok(event)) = (
            KeyringId::parse(&e.aggregate_id),
            serde_json::from_str::<KeyringEvent>(&e.payload),
        ) else {
            return;
        };
        let ids = match &event {
            KeyringEvent::PrimaryCredentialChanged {
                previous, current, ..
            } => [*current, *previous].into_iter().flatten().collect(),
            other => other.credential_id().into_iter().collect::<Vec<_>>(),
        };
        for id in ids {
            // No receiver is fine: nobody is listening right now.
            let _ = self.sender.send(LiveEvent {
                position: e.position,
                user_id: keyring.user_id.to_string(),
                credential_id: id.to_string(),
                action: e.event_type.clone(),
            });
        }
    }
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self::new()
    }
}
