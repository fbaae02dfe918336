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
}
