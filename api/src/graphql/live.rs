//! Live changes for subscriptions: one follower of the ledger's feed per process, fanned out to
//! every subscriber through a broadcast channel. Subscribers filter by owner.
//!
//! The channel is everyone's: a subscriber that falls more than [`LIVE_BUFFER`] changes behind
//! (anyone's) has lost some of its own, and is told so ([`FellBehind`]) rather than left showing
//! what it missed. When the follower stops (the server's shutdown), [`LiveFeed::ended`]
//! resolves, and every subscription ends with it.
//!
//! The follower starts at the ledger's head, read again and again (a wait doubling up to
//! [`START_RETRY_MAX`]) while the database cannot answer: starting anywhere else would send
//! every change since that position as if it were new. Until it has read it, the feed delivers
//! nothing and subscribing is refused ([`NotStarted`]).

use cqrs_es::Aggregate as _;
use credledger_adapters::feed::{self, FeedWaker};
use credledger_adapters::Database;
use credledger_domain::keyring::{Keyring, KeyringEvent};
use credledger_domain::KeyringId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How many changes the broadcast holds for its slowest subscriber.
pub const LIVE_BUFFER: usize = 4096;

/// The first wait before the follower reads the ledger's head again, doubled after each
/// failure up to [`START_RETRY_MAX`].
const START_RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two reads of the ledger's head at start.
const START_RETRY_MAX: Duration = Duration::from_secs(5);

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
    /// Cancelled when `follow` returns: nothing more will be published.
    ended: CancellationToken,
    /// The position the follower started from, once it has read the ledger's head; never unset.
    start: Arc<watch::Sender<Option<i64>>>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").finish_non_exhaustive()
    }
}

impl LiveFeed {
    pub fn new() -> Self {
        Self::with_buffer(LIVE_BUFFER)
    }

    fn with_buffer(buffer: usize) -> Self {
        Self {
            sender: broadcast::channel(buffer).0,
            ended: CancellationToken::new(),
            start: Arc::new(watch::channel(None).0),
        }
    }

    /// Every change published from now on, until the subscriber falls behind; refused while
    /// the follower has not yet read the ledger's head (it would not know which changes are
    /// new, and whatever is committed meanwhile would be missed).
    pub fn subscribe(&self) -> Result<LiveChanges, NotStarted> {
        if self.start.borrow().is_none() {
            return Err(NotStarted);
        }
        Ok(LiveChanges(self.sender.subscribe()))
    }

    /// Resolves once the feed is no longer followed (the server is shutting down), at once if
    /// it already is not: a subscription ends then, and its client is told it is complete.
    pub fn ended(&self) -> WaitForCancellationFutureOwned {
        self.ended.clone().cancelled_owned()
    }

    /// Follows the feed from its current head until `shutdown`, publishing keyring changes.
    /// While the head cannot be read it reads it again after a wait (0.1 s, doubled up to 5 s),
    /// and publishes nothing.
    ///
    /// While nobody subscribes it reads no events (under a stream of resolves that would be
    /// every use, payload and all): it only moves past what was committed, to the position a
    /// wake-up told of, or to the head it reads when a wake-up told none. Subscribers are
    /// counted after that position was committed, so whatever it covers was committed before
    /// anyone who subscribes after the count, and nothing committed after a subscription is
    /// skipped.
    pub async fn follow(&self, db: Database, mut shutdown: watch::Receiver<bool>) {
        // However it returns: the sender lives on in the API's state, so subscribers would
        // never hear that the feed is closed.
        let _ended = self.ended.clone().drop_guard();
        let Some(mut after) = self.read_start(&db, &mut shutdown).await else {
            return;
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

    /// The ledger's head, read again after a wait while the database cannot answer, and kept
    /// as the feed's start; `None` once `shutdown` says stop.
    async fn read_start(&self, db: &Database, shutdown: &mut watch::Receiver<bool>) -> Option<i64> {
        let mut wait = START_RETRY_FIRST;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            match db.head().await {
                Ok(head) => {
                    self.start.send_replace(Some(head));
                    return Some(head);
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "live feed: could not read the ledger's head; subscriptions are refused \
                     until it can"
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => if changed.is_err() { return None },
            }
            wait = (wait * 2).min(START_RETRY_MAX);
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

/// The follower has not read the ledger's head yet (the database could not answer): a
/// subscription is refused with `UNAVAILABLE`, and the client subscribes again (the dashboard
/// does, after a wait, and reads its pages afresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the live feed has not read the ledger's head yet")]
pub struct NotStarted;

/// One subscriber's changes (see [`LiveFeed::subscribe`]).
pub struct LiveChanges(broadcast::Receiver<LiveEvent>);

/// A subscriber fell behind: the broadcast dropped `skipped` changes it had not taken, some of
/// which may have been its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FellBehind {
    pub skipped: u64,
}

impl FellBehind {
    /// What the client is told: `UNAVAILABLE`, and to subscribe again and read afresh what it
    /// shows (the dashboard does both on an `UNAVAILABLE` end).
    pub fn into_graphql(self) -> async_graphql::Error {
        use async_graphql::ErrorExtensions as _;
        async_graphql::Error::new(
            "this subscription fell behind and missed changes: subscribe again and read the \
             credentials afresh",
        )
        .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
    }
}

impl LiveChanges {
    /// The next change; `Ok(None)` once the feed is gone. Falling behind ends the changes: a
    /// change skipped silently would leave the subscriber showing a state that no longer holds.
    pub async fn next(&mut self) -> Result<Option<LiveEvent>, FellBehind> {
        match self.0.recv().await {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::RecvError::Lagged(skipped)) => Err(FellBehind { skipped }),
            Err(broadcast::error::RecvError::Closed) => Ok(None),
        }
    }
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(position: i64) -> LiveEvent {
        LiveEvent {
            position,
            user_id: "alice".into(),
            credential_id: "c1".into(),
            action: "CredentialRenamed".into(),
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so_not_handed_the_next_change() {
        let feed = LiveFeed::with_buffer(2);
        feed.start.send_replace(Some(0));
        let mut changes = feed.subscribe().expect("the feed has its start");
        for position in 1..=3 {
            feed.sender.send(change(position)).expect("a subscriber");
        }
        let behind = changes
            .next()
            .await
            .expect_err("told it fell behind, not handed the next change");
        assert_eq!(behind, FellBehind { skipped: 1 });
        let error = behind.into_graphql();
        assert!(
            error.message.contains("subscribe again"),
            "{}",
            error.message
        );
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        assert_eq!(
            code,
            Some(&async_graphql::Value::from("UNAVAILABLE")),
            "{error:?}"
        );
    }
}
