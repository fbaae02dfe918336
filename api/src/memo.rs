//! Answers read from the read models of access (users, tokens, MCP servers and grants),
//! remembered for as long as those read models cannot have changed: each answer is kept with
//! the projections' access epoch taken before it was read, and is used again only while the
//! epoch is the same (it changes, after the commit, whenever this process applies an event of
//! those aggregates, rebuilds a read model, or finds that another process applied events). So
//! a remembered answer is never older than what a fresh read of the same tables would say,
//! except, for a change made by another process, until this process's consumers notice it
//! (they are woken by the commit's notification).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

/// Answers remembered at most; past it the memory is cleared and refilled.
const CAPACITY: usize = 10_000;

pub struct AccessMemo<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K, V> Default for AccessMemo<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> std::fmt::Debug for AccessMemo<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessMemo").finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, V: Clone> AccessMemo<K, V> {
    /// The answer for `key`: remembered if it was read at the current `epoch`, else read by
    /// `load` (after the epoch was taken) and remembered. Errors are not remembered.
    pub async fn get<E, F, Fut>(&self, key: K, epoch: u64, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let known = self.entries.lock().ok().and_then(|m| {
            m.get(&key)
                .filter(|(at, _)| *at == epoch)
                .map(|(_, v)| v.clone())
        });
        if let Some(value) = known {
            return Ok(value);
        }
        let value = load().await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY && !entries.contains_key(&key) {
                entries.clear();
            }
            entries.insert(key, (epoch, value.clone()));
        }
        Ok(value)
    }
}

/// Whole GraphQL answers of read-only queries, remembered per caller and request while the
/// read models they were read from cannot have changed (see [`AnswerMemo`]).
///
/// An answer goes in only when every root field of the query vouched for it (their resolvers
/// read only the caller's own rows of the `credential_summary` consumer's tables, and say until
/// when, if ever, the passing of time alone changes what they answered), nothing failed and no
/// header was set. It is kept with the caller's `Projections::summary_epoch` taken before the
/// query ran (other people's changes leave it as it is), and is given again only
/// to the same caller facet (person, role, permissions, token scopes) for the byte-identical
/// request while the epoch is the same, its time has not come, and it is younger than
/// [`ANSWER_MAX_AGE`] (a bound on anything the epoch could miss, such as a rebuild by another
/// process that ended at the position this one had seen). Answers never hold secrets: the
/// vouching resolvers answer metadata only.
#[derive(Default)]
pub struct AnswerMemo {
    entries: Mutex<Answers>,
}

#[derive(Default)]
struct Answers {
    map: HashMap<Vec<u8>, Answer>,
    bytes: usize,
}

struct Answer {
    epoch: u64,
    until: chrono::DateTime<chrono::Utc>,
    body: axum::body::Bytes,
}

/// The longest any answer is given again, whatever the epoch says.
pub const ANSWER_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Answers larger than this are not remembered.
const ANSWER_MAX_BYTES: usize = 256 * 1024;
/// The memory all remembered answers may take; past it they are all forgotten and refilled.
const ANSWERS_BUDGET: usize = 32 * 1024 * 1024;

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
        let entries = self.entries.lock().ok()?;
        entries
            .map
            .get(key)
            .filter(|a| a.epoch == epoch && now < a.until)
            .map(|a| a.body.clone())
    }

    /// Remembers `body`, read at `epoch` (taken before the read), until `until` at the latest.
    pub fn put(
        &self,
        key: Vec<u8>,
        epoch: u64,
        until: chrono::DateTime<chrono::Utc>,
        body: axum::body::Bytes,
    ) {
        let key_len = key.len();
        let size = key_len + body.len();
        if body.len() > ANSWER_MAX_BYTES {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.bytes + size > ANSWERS_BUDGET {
            entries.map.clear();
            entries.bytes = 0;
        }
        let old = entries.map.insert(key, Answer { epoch, until, body });
        entries.bytes += size;
        if let Some(old) = old {
            entries.bytes -= key_len + old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AccessMemo;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn an_answer_is_read_again_once_the_epoch_moves() {
        let memo: AccessMemo<&str, usize> = AccessMemo::default();
        let reads = AtomicUsize::new(0);
        let read = || async { Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(memo.get("k", 1, read).await, Ok(1));
        assert_eq!(memo.get("k", 1, read).await, Ok(1), "remembered");
        assert_eq!(memo.get("k", 2, read).await, Ok(2), "read again");
        assert_eq!(memo.get("k", 2, read).await, Ok(2));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        let failed = memo.get("e", 2, || async { Err::<usize, _>("down") }).await;
        assert_eq!(failed, Err("down"));
        assert_eq!(memo.get("e", 2, read).await, Ok(3), "errors are not kept");
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
}
