//! Whole GraphQL answers remembered (ADR 0016), in the process's one cache type
//! ([`Remembered`]). The access read models' answers (MCP servers' tokens and grants) are
//! remembered the same way, at the projections' access epoch, in `api/src/mcp/servers.rs`.

use credledger_adapters::remembered::{Lookup, Remembered};
use std::sync::Arc;

/// Whole GraphQL answers of read-only queries, remembered per caller and request while the
/// read models they were read from cannot have changed.
///
/// Which answers may be remembered is decided here alone, never by a resolver: a query whose
/// root fields are all [`REMEMBERED_FIELDS`], that failed nowhere and set no header. It is kept
/// with the caller's `Projections::summary_epoch` taken before the query ran (other people's
/// changes leave it as it is), and is given again only to the same caller facet (person, role,
/// permissions, token scopes) for the byte-identical request while the epoch is the same, the
/// time given by [`holds_until`] has not come, and it is younger than [`ANSWER_MAX_AGE`] (a
/// bound on anything the epoch could miss, such as a rebuild by another process that ended at
/// the position this one had seen). Answers never hold secrets: those fields answer metadata.
pub struct AnswerMemo {
    answers: Remembered<Vec<u8>, Answer>,
    /// One lock per request whose answer is being computed again (see [`AnswerMemo::get_or_wait`]).
    computing: moka::sync::Cache<Vec<u8>, Arc<tokio::sync::Mutex<()>>>,
}

/// The caller computes the answer (and remembers it, if it may be); callers of the same request
/// wait until this is dropped, then look again.
#[must_use]
pub struct Computing {
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

#[derive(Clone)]
struct Answer {
    until: chrono::DateTime<chrono::Utc>,
    body: axum::body::Bytes,
}

impl Default for AnswerMemo {
    fn default() -> Self {
        Self {
            answers: Remembered::weighed(ANSWERS_BUDGET, |key: &Vec<u8>, answer: &Answer| {
                u32::try_from(key.len() + answer.body.len()).unwrap_or(u32::MAX)
            }),
            computing: moka::sync::Cache::builder()
                .max_capacity(COMPUTING_BUDGET)
                .weigher(|key: &Vec<u8>, _| u32::try_from(key.len()).unwrap_or(u32::MAX))
                .time_to_idle(std::time::Duration::from_secs(60))
                .build(),
        }
    }
}

/// The root fields whose answers are remembered. Each answers from the caller's own rows of
/// the tables behind `Projections::summary_epoch` (the remembered read models':
/// `credential_summary` with `dashboard_stats`, and `mcp_sync` for the sync states) and from
/// the clock only as [`holds_until`] says. A field added here that reads anything else would
/// be answered stale for up to [`ANSWER_MAX_AGE`].
pub const REMEMBERED_FIELDS: &[&str] = &["credentials", "dashboard"];

/// Whether an answer to a query with these root fields may be remembered.
pub fn may_remember(fields: &[String]) -> bool {
    !fields.is_empty()
        && fields
            .iter()
            .all(|f| REMEMBERED_FIELDS.contains(&f.as_str()))
}

/// Until when an answer to `fields` read for `user` from `read_from` on holds with no event: at
/// most [`ANSWER_MAX_AGE`] after the read, and for `dashboard` no later than the expiry warning
/// window reaches the user's next expiring credential, read after the answer (`until`).
pub async fn holds_until(
    api: &crate::graphql::Api,
    user: &str,
    fields: &[String],
    read_from: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, credledger_projections::ProjectionError> {
    if !fields.iter().any(|f| f == "dashboard") {
        return Ok(until(read_from, None, api.expiry_warning));
    }
    let window = credledger_adapters::db::timestamp(read_from + api.expiry_warning);
    let expiring = credledger_projections::credential_summary::expiring_count(
        &api.ledger.db.any,
        Some(user),
        &window,
    )
    .await?;
    Ok(until(
        read_from,
        expiring.next.as_deref(),
        api.expiry_warning,
    ))
}

/// Until when an answer read from `read_from` on holds: at most [`ANSWER_MAX_AGE`] after that
/// read, and no later than when the expiry warning window, which counts the dashboard's
/// `expiringSoon`, reaches `next_expiry`, the next expiring credential after it (as stored: one
/// that is not a time ends the answer's hold at once). The window is found from the time taken
/// before the read, so it can only be found to arrive early.
fn until(
    read_from: chrono::DateTime<chrono::Utc>,
    next_expiry: Option<&str>,
    warning: chrono::TimeDelta,
) -> chrono::DateTime<chrono::Utc> {
    let oldest = read_from + ANSWER_MAX_AGE;
    match next_expiry {
        None => oldest,
        Some(next) => chrono::DateTime::parse_from_rfc3339(next)
            .map_or(read_from, |t| t.with_timezone(&chrono::Utc) - warning)
            .min(oldest),
    }
}

/// The longest any answer is given again, whatever the epoch says.
pub const ANSWER_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Answers larger than this are not remembered.
const ANSWER_MAX_BYTES: usize = 256 * 1024;
/// The memory all remembered answers may take (keys and bodies, in bytes).
const ANSWERS_BUDGET: u64 = 32 * 1024 * 1024;
/// The memory the keys of requests whose answers are being computed again may take (in bytes:
/// a key holds the whole request body, up to the body limit). A lock evicted while held costs
/// at most one more computation of that answer, never a wrong one.
const COMPUTING_BUDGET: u64 = 4 * 1024 * 1024;

impl std::fmt::Debug for AnswerMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerMemo").finish_non_exhaustive()
    }
}

impl AnswerMemo {
    /// The key of `request` (its body's bytes) from a caller of `facet`.
    pub fn key(facet: &str, request: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(facet.len() + 1 + request.len());
        key.extend_from_slice(facet.as_bytes());
        key.push(0);
        key.extend_from_slice(request);
        key
    }

    /// The answer remembered for `key` if it still holds at `epoch` and `now`.
    pub fn get(
        &self,
        key: &[u8],
        epoch: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<axum::body::Bytes> {
        self.answers
            .get(key, epoch)
            .filter(|a| now < a.until)
            .map(|a| a.body)
    }

    /// The answer remembered for `key` if it still holds at `epoch`, or the caller's turn to
    /// compute it. When an answer to this request was remembered before and no longer holds
    /// (something changed, or its time came), it will be remembered again: the first caller
    /// of the same request computes it, and callers arriving meanwhile wait for it and are
    /// given its answer. Thirty-two identical requests arriving at once after a change run
    /// the query once, not thirty-two times side by side. A caller waits for one computation
    /// at most: if that one remembered nothing (it failed), the waiters compute their own
    /// answers at once, not one after another. A request never remembered before (it may be a
    /// mutation) never waits.
    pub async fn get_or_wait(
        &self,
        key: &[u8],
        epoch: u64,
    ) -> Result<axum::body::Bytes, Computing> {
        match self.answers.look_up(key, epoch) {
            Lookup::Current(a) if chrono::Utc::now() < a.until => Ok(a.body),
            Lookup::Current(_) | Lookup::Outdated => {
                let lock = self.computing.get_with_by_ref(key, Default::default);
                if let Ok(first) = lock.clone().try_lock_owned() {
                    return Err(Computing { _turn: Some(first) });
                }
                drop(lock.lock_owned().await);
                self.get(key, epoch, chrono::Utc::now())
                    .ok_or(Computing { _turn: None })
            }
            Lookup::Missing => Err(Computing { _turn: None }),
        }
    }

    /// Remembers `body`, read at `epoch` (taken before the read), until `until` at the latest.
    pub fn put(
        &self,
        key: Vec<u8>,
        epoch: u64,
        until: chrono::DateTime<chrono::Utc>,
        body: axum::body::Bytes,
    ) {
        if body.len() > ANSWER_MAX_BYTES {
            return;
        }
        self.answers.insert(key, epoch, Answer { until, body });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_answer_holds_from_its_read_not_from_when_it_was_done() {
        let read_from =
            credledger_adapters::db::as_stored(chrono::Utc::now() - chrono::TimeDelta::seconds(3));
        let week = chrono::TimeDelta::days(7);
        assert_eq!(
            super::until(read_from, None, week),
            read_from + super::ANSWER_MAX_AGE,
            "a slow query is remembered 10 s from its read, not from its end"
        );
        let soon = read_from + week + chrono::TimeDelta::seconds(2);
        let stored = credledger_adapters::db::timestamp(soon);
        assert_eq!(
            super::until(read_from, Some(&stored), week),
            read_from + chrono::TimeDelta::seconds(2),
            "the dashboard's answer ends when the warning window reaches the next expiry"
        );
        assert_eq!(
            super::until(read_from, None, week),
            read_from + super::ANSWER_MAX_AGE,
            "a dashboard with no credential expiring holds its ten seconds"
        );
        assert_eq!(super::until(read_from, Some("soon"), week), read_from);
    }

    #[test]
    fn an_answer_is_given_again_only_at_its_epoch_and_before_its_time() {
        use super::AnswerMemo;
        let memo = AnswerMemo::default();
        let now = chrono::Utc::now();
        let later = now + chrono::TimeDelta::seconds(5);
        let key = AnswerMemo::key("alice|User", b"{\"query\":\"{ dashboard { total } }\"}");
        memo.put(key.clone(), 7, later, axum::body::Bytes::from_static(b"{}"));
        assert_eq!(memo.get(&key, 7, now).as_deref(), Some(&b"{}"[..]));
        assert_eq!(memo.get(&key, 8, now), None, "the epoch moved");
        assert_eq!(memo.get(&key, 7, later), None, "its time came");
        let bob = AnswerMemo::key("bob|User", b"{\"query\":\"{ dashboard { total } }\"}");
        assert_eq!(memo.get(&bob, 7, now), None, "another caller");
    }

    #[tokio::test]
    async fn callers_of_a_request_being_computed_again_wait_for_that_one_computation() {
        use super::AnswerMemo;
        use axum::body::Bytes;
        let memo = std::sync::Arc::new(AnswerMemo::default());
        let key = AnswerMemo::key("alice|User", b"{\"query\":\"{ dashboard { total } }\"}");
        let later = chrono::Utc::now() + chrono::TimeDelta::seconds(5);
        assert!(
            memo.get_or_wait(&key, 1)
                .await
                .is_err_and(|c| c._turn.is_none()),
            "never remembered: computed without a turn"
        );
        memo.put(key.clone(), 1, later, Bytes::from_static(b"one"));
        assert_eq!(
            memo.get_or_wait(&key, 1).await.ok().as_deref(),
            Some(&b"one"[..])
        );

        // The epoch moved: the first caller computes, the second waits and is given its answer.
        let first = memo.get_or_wait(&key, 2).await.expect_err("to compute");
        assert!(first._turn.is_some());
        let second = tokio::spawn({
            let (memo, key) = (memo.clone(), key.clone());
            async move { memo.get_or_wait(&key, 2).await }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second caller waits");
        memo.put(key.clone(), 2, later, Bytes::from_static(b"two"));
        drop(first);
        assert_eq!(
            second.await.expect("joined").ok().as_deref(),
            Some(&b"two"[..])
        );

        // A first caller that remembers nothing lets each waiter compute at once.
        let first = memo.get_or_wait(&key, 3).await.expect_err("to compute");
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (memo, key) = (memo.clone(), key.clone());
                tokio::spawn(async move { memo.get_or_wait(&key, 3).await })
            })
            .collect();
        tokio::task::yield_now().await;
        drop(first);
        for waiter in waiters {
            let computing = waiter.await.expect("joined").expect_err("to compute");
            assert!(computing._turn.is_none(), "no waiter holds the others back");
        }
    }

    #[tokio::test]
    async fn the_locks_of_answers_being_computed_again_are_bounded_by_their_keys_bytes() {
        use super::{AnswerMemo, COMPUTING_BUDGET};
        let memo = AnswerMemo::default();
        let later = chrono::Utc::now() + chrono::TimeDelta::seconds(5);
        // Requests padded to the body limit, each remembered and then outdated by a change:
        // each asks for a lock while its answer is computed again.
        for i in 0..200 {
            let mut request =
                format!("{{\"query\":\"{{ dashboard {{ total }} }}\"}}{i}").into_bytes();
            request.resize(64 * 1024, b' ');
            let key = AnswerMemo::key("mallory|User", &request);
            memo.put(key.clone(), 1, later, axum::body::Bytes::from_static(b"{}"));
            drop(memo.get_or_wait(&key, 2).await);
        }
        memo.computing.run_pending_tasks();
        let held: u64 = memo.computing.iter().map(|(k, _)| k.len() as u64).sum();
        assert!(held > 0, "locks were taken");
        assert!(held <= COMPUTING_BUDGET, "{held} bytes of keys held");
    }

    #[test]
    fn only_queries_of_remembered_root_fields_are_remembered() {
        use super::may_remember;
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(may_remember(&fields(&["dashboard", "credentials"])));
        assert!(may_remember(&fields(&["credentials", "credentials"])));
        assert!(!may_remember(&fields(&[])), "nothing asked");
        assert!(
            !may_remember(&fields(&["dashboard", "auditTrail"])),
            "one other field"
        );
        assert!(
            !may_remember(&fields(&["credential"])),
            "anyone's row, by id"
        );
        assert!(!may_remember(&fields(&["__typename"])));
    }
}
