//! What a process remembers between requests, in one bounded cache type over `moka`.
//!
//! Every memory of the process goes through [`Remembered`]: the keyrings' states the commands
//! decide on, where each credential lives, the wrapped data keys, the answers of the access read
//! models and the whole GraphQL answers. Its one rule: each value is kept with the epoch it was
//! read at (taken *before* the read), and is given again only to a reader at that same epoch.
//! Whoever can change what was read moves the epoch after the change is committed (the
//! projections' runner for the read models, the key store for destroyed keys); memories of
//! things that never change once known use one epoch forever. Past its bound the cache evicts
//! what was used least (moka's TinyLFU), never everything at once.

use std::future::Future;
use std::hash::Hash;

/// What a reader at some epoch finds remembered for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<V> {
    /// Read at the reader's epoch: it may be given.
    Current(V),
    /// Read at another epoch: never to be given, but it says the key was remembered once.
    Outdated,
    Missing,
}

/// Values remembered by key, each with the epoch it was read at (see the module).
pub struct Remembered<K, V> {
    cache: moka::sync::Cache<K, (u64, V)>,
}

impl<K, V> std::fmt::Debug for Remembered<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remembered").finish_non_exhaustive()
    }
}

impl<K, V> Remembered<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most `entries` values.
    pub fn new(entries: u64) -> Self {
        Self {
            cache: moka::sync::Cache::new(entries),
        }
    }

    /// At most `entries` values, none given once it is older than `max_age`: a bound on what
    /// the epoch could miss (another process's rebuild that ended where this one had read).
    pub fn for_at_most(entries: u64, max_age: std::time::Duration) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(entries)
                .time_to_live(max_age)
                .build(),
        }
    }

    /// At most `budget` in total, each value weighing what `weigh` says (bytes, say).
    pub fn weighed(budget: u64, weigh: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(budget)
                .weigher(move |k: &K, (_, v): &(u64, V)| weigh(k, v))
                .build(),
        }
    }

    /// The value remembered for `key` if it was read at `epoch`.
    pub fn get<Q>(&self, key: &Q, epoch: u64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.look_up(key, epoch) {
            Lookup::Current(v) => Some(v),
            Lookup::Outdated | Lookup::Missing => None,
        }
    }

    /// What is remembered for `key`, as seen by a reader at `epoch`: a value read at that
    /// epoch, one read at another (to be read again, never given), or nothing.
    pub fn look_up<Q>(&self, key: &Q, epoch: u64) -> Lookup<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.cache.get(key) {
            Some((at, v)) if at == epoch => Lookup::Current(v),
            Some(_) => Lookup::Outdated,
            None => Lookup::Missing,
        }
    }

    /// Forgets what is remembered for `key` (dropped now, not when evicted).
    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.invalidate(key);
    }

    /// Remembers `value`, read at `epoch` (taken before the read).
    pub fn insert(&self, key: K, epoch: u64, value: V) {
        self.cache.insert(key, (epoch, value));
    }

    /// Remembers `value`, read at `epoch`, unless what is remembered for `key` at that epoch
    /// is at least as new (`newer(remembered, value)`): of two readers racing, the later state
    /// stays.
    pub fn insert_unless(&self, key: K, epoch: u64, value: V, newer: impl Fn(&V, &V) -> bool) {
        self.cache.entry(key).and_compute_with(|known| match known {
            Some(entry) if entry.value().0 == epoch && newer(&entry.value().1, &value) => {
                moka::ops::compute::Op::Nop
            }
            _ => moka::ops::compute::Op::Put((epoch, value)),
        });
    }

    /// The value for `key` at `epoch`: remembered, or read by `load` (after the epoch was
    /// taken) and remembered. Errors are not remembered.
    pub async fn get_or_load<E, Fut>(
        &self,
        key: K,
        epoch: u64,
        load: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key, epoch) {
            return Ok(value);
        }
        let value = load().await?;
        self.insert(key, epoch, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, Remembered};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_value_is_given_only_at_the_epoch_it_was_read_at() {
        let memory: Remembered<&str, usize> = Remembered::new(100);
        let reads = AtomicUsize::new(0);
        let read = || async { Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(memory.get_or_load("k", 1, read).await, Ok(1));
        assert_eq!(memory.get_or_load("k", 1, read).await, Ok(1), "remembered");
        assert_eq!(memory.get(&"k", 2), None, "another epoch");
        assert_eq!(memory.look_up(&"k", 2), Lookup::Outdated);
        assert_eq!(memory.look_up(&"j", 2), Lookup::Missing);
        assert_eq!(memory.get_or_load("k", 2, read).await, Ok(2), "read again");
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        let failed = memory
            .get_or_load("e", 2, || async { Err::<usize, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
        assert_eq!(memory.get(&"e", 2), None, "errors are not kept");
    }

    #[test]
    fn of_two_racing_readers_the_later_state_stays() {
        let memory: Remembered<&str, (usize, &str)> = Remembered::new(100);
        let newer = |known: &(usize, &str), new: &(usize, &str)| known.0 >= new.0;
        memory.insert_unless("stream", 0, (5, "five"), newer);
        memory.insert_unless("stream", 0, (3, "three"), newer);
        assert_eq!(memory.get(&"stream", 0), Some((5, "five")));
        memory.insert_unless("stream", 0, (6, "six"), newer);
        assert_eq!(memory.get(&"stream", 0), Some((6, "six")));
    }

    #[test]
    fn a_value_past_its_age_is_not_given_even_at_its_epoch() {
        let memory: Remembered<&str, usize> =
            Remembered::for_at_most(100, std::time::Duration::from_millis(50));
        memory.insert("k", 1, 7);
        assert_eq!(memory.get(&"k", 1), Some(7));
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert_eq!(memory.look_up(&"k", 1), Lookup::Missing);
    }

    #[test]
    fn the_bound_holds_by_weight() {
        let memory: Remembered<u32, Vec<u8>> =
            Remembered::weighed(1_000, |_: &u32, v: &Vec<u8>| {
                u32::try_from(v.len()).unwrap_or(u32::MAX)
            });
        for i in 0..100 {
            memory.insert(i, 0, vec![0; 100]);
        }
        memory.cache.run_pending_tasks();
        assert!(memory.cache.weighted_size() <= 1_000);
    }
}
