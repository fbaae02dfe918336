//! The limits every instance on one database shares (ADR 0014): the API rate limit per person
//! and per token, the live-check budget per person, and the sign-in throttle.
//!
//! On PostgreSQL the counts live in two unlogged tables that every instance updates in single
//! statements (the rate limits) or under a transaction-scoped advisory lock (the sign-in
//! throttle), timed by the database's clock, so three instances allow what one would. On
//! SQLite, which one process owns, they live in memory: `governor` for the rate limits, a
//! bounded `moka` cache for the sign-in failures.
//!
//! Both rate limits are the generic cell rate algorithm (GCRA), the one `governor` implements:
//! a quota of `n` per minute allows a burst of `n`, then one more every `60/n` seconds.

use crate::error::ApiError;
use governor::middleware::StateInformationMiddleware;
use governor::{clock::Clock as _, Quota, RateLimiter};
use sqlx::PgPool;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// What a limit answers: allowed, with what is left, or refused, with the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Allowed { remaining: u32 },
    Exhausted { retry_after: Duration },
}

/// The configured quotas, per minute.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// API requests per person and per token; `None` turns the API rate limit off.
    pub api: Option<NonZeroU32>,
    pub live_checks: NonZeroU32,
}

impl Quotas {
    /// The quotas of `settings` (zero live checks a minute would refuse every check; it is
    /// read as one).
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            api: NonZeroU32::new(settings.api_requests_per_minute),
            live_checks: NonZeroU32::new(settings.validations_per_minute)
                .unwrap_or(NonZeroU32::MIN),
        }
    }
}

type KeyedLimiter = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    governor::clock::DefaultClock,
    StateInformationMiddleware,
>;

/// The limits of this process, kept where every instance sees them.
pub struct Limits {
    quotas: Quotas,
    store: Store,
}

enum Store {
    Memory(Box<Memory>),
    Postgres(PgPool),
}

/// One process's limits.
struct Memory {
    api: Option<KeyedLimiter>,
    live_checks: KeyedLimiter,
    sign_in: SignInThrottle,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Memory(_) => "memory",
            Store::Postgres(_) => "postgres",
        };
        f.debug_struct("Limits")
            .field("quotas", &self.quotas)
            .field("store", &store)
            .finish()
    }
}

/// Keys a keyed limiter may hold before those back at a full budget are dropped. The keys are
/// people and tokens (callers already authenticated), so this is rarely reached.
const MEMORY_KEYS: usize = 100_000;

fn keyed(per_minute: NonZeroU32) -> KeyedLimiter {
    RateLimiter::keyed(Quota::per_minute(per_minute))
        .with_middleware::<StateInformationMiddleware>()
}

impl Limits {
    /// Limits in this process's memory (SQLite, tests of one instance).
    pub fn in_memory(quotas: Quotas) -> Self {
        Self {
            quotas,
            store: Store::Memory(Box::new(Memory {
                api: quotas.api.map(keyed),
                live_checks: keyed(quotas.live_checks),
                sign_in: SignInThrottle::default(),
            })),
        }
    }

    /// Shared limits on PostgreSQL, this process's own on SQLite (one process owns the file).
    pub fn for_database(db: &credledger_adapters::Database, quotas: Quotas) -> Self {
        match &db.pools {
            credledger_adapters::db::Pools::Postgres(pool) => Self::shared(pool.clone(), quotas),
            credledger_adapters::db::Pools::Sqlite(_) => Self::in_memory(quotas),
        }
    }

    /// Limits in the database every instance shares (the tables of migration 0012).
    pub fn shared(pool: PgPool, quotas: Quotas) -> Self {
        Self {
            quotas,
            store: Store::Postgres(pool),
        }
    }

    /// The API rate limit's quota per minute, if it is on.
    pub fn api_quota(&self) -> Option<NonZeroU32> {
        self.quotas.api
    }

    /// Takes one API request from `subject`'s budget (`person:<id>` or `token:<id>`); `None`
    /// when the API rate limit is off.
    pub async fn api_request(&self, subject: &str) -> Result<Option<Budget>, ApiError> {
        let Some(quota) = self.quotas.api else {
            return Ok(None);
        };
        Ok(Some(match &self.store {
            Store::Memory(memory) => match &memory.api {
                Some(api) => take_in_memory(api, subject),
                None => return Ok(None),
            },
            Store::Postgres(pool) => take_shared(pool, &format!("api:{subject}"), quota).await?,
        }))
    }

    /// Takes one live check with a provider from `person`'s budget.
    pub async fn live_check(&self, person: &str) -> Result<Budget, ApiError> {
        Ok(match &self.store {
            Store::Memory(memory) => take_in_memory(&memory.live_checks, person),
            Store::Postgres(pool) => {
                take_shared(
                    pool,
                    &format!("live-check:{person}"),
                    self.quotas.live_checks,
                )
                .await?
            }
        })
    }

    /// Starts a sign-in attempt of `client` on `account`: the wait before it may try, or
    /// `None` and the attempt is counted as a failure until [`Limits::sign_in_succeeded`] says
    /// otherwise (so attempts sent at once are all counted while their passwords are checked).
    pub async fn sign_in_attempt(
        &self,
        account: &str,
        client: &str,
    ) -> Result<Option<Duration>, ApiError> {
        let client = &counted_as(client);
        match &self.store {
            Store::Memory(memory) => Ok(memory.sign_in.attempt(account, client)),
            Store::Postgres(pool) => sign_in_attempt_shared(pool, account, client).await,
        }
    }

    /// A correct password forgets the (account, client) failures and takes back the client's
    /// count for this attempt (only this one: signing in to one's own account must not reset a
    /// guesser's count).
    pub async fn sign_in_succeeded(&self, account: &str, client: &str) -> Result<(), ApiError> {
        let client = &counted_as(client);
        match &self.store {
            Store::Memory(memory) => {
                memory.sign_in.succeeded(account, client);
                Ok(())
            }
            Store::Postgres(pool) => sign_in_succeeded_shared(pool, account, client).await,
        }
    }
}

/// The client a sign-in attempt is counted against: an IPv6 address by its /64, which one host
/// is commonly given whole (each of its 2^64 addresses would otherwise have its own free
/// attempts); an IPv4-mapped one as the IPv4 address it is; anything else as it is.
fn counted_as(client: &str) -> String {
    match client.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !(u128::MAX >> 64);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Ok(ip) => ip.to_string(),
        Err(_) => client.to_owned(),
    }
}

/// A wait in whole seconds, rounded up, at least one (for `Retry-After` and `retryAfter`).
pub fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

fn take_in_memory(limiter: &KeyedLimiter, subject: &str) -> Budget {
    if limiter.len() > MEMORY_KEYS {
        limiter.retain_recent();
    }
    match limiter.check_key(&subject.to_owned()) {
        Ok(state) => Budget::Allowed {
            remaining: state.remaining_burst_capacity(),
        },
        Err(not_until) => Budget::Exhausted {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        },
    }
}

/// The database's clock, in microseconds since the Unix epoch: every instance reads the same.
const DB_NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// GCRA in one statement. A row holds the key's theoretical arrival time (`tat_us`): the moment
/// its budget is full again. A request at `now` is allowed when, with its own cell added, that
/// moment is at most one window ahead: `max(tat, now) + T - now <= window`, with `T` the
/// window divided by the quota. A refused request changes nothing.
async fn take_shared(pool: &PgPool, key: &str, quota: NonZeroU32) -> Result<Budget, ApiError> {
    const WINDOW_US: i64 = 60_000_000;
    let cell = (WINDOW_US / i64::from(quota.get())).max(1);
    // `excluded.tat_us` is `now + T`; the new arrival time is `max(tat, now) + T`.
    let allowed: Option<(i64, i64)> = sqlx::query_as(&format!(
        "WITH now AS (SELECT {DB_NOW_US} AS us)
         INSERT INTO rate_limits AS r (key, tat_us) SELECT $1, us + $2 FROM now
         ON CONFLICT (key) DO UPDATE SET tat_us = greatest(r.tat_us + $2, excluded.tat_us)
          WHERE greatest(r.tat_us + $2, excluded.tat_us) - excluded.tat_us <= $3 - $2
         RETURNING tat_us, (SELECT us FROM now)"
    ))
    .bind(key)
    .bind(cell)
    .bind(WINDOW_US)
    .fetch_optional(pool)
    .await?;
    if let Some((tat, now)) = allowed {
        let left = (WINDOW_US - (tat - now)).max(0) / cell;
        return Ok(Budget::Allowed {
            remaining: u32::try_from(left).unwrap_or(u32::MAX),
        });
    }
    let (tat, now): (i64, i64) = sqlx::query_as(&format!(
        "SELECT tat_us, {DB_NOW_US} FROM rate_limits WHERE key = $1"
    ))
    .bind(key)
    .fetch_one(pool)
    .await?;
    // Allowed again once `tat + T - window <= now`.
    let wait_us = (tat + cell - WINDOW_US - now).max(1);
    Ok(Budget::Exhausted {
        retry_after: Duration::from_micros(wait_us.unsigned_abs()),
    })
}

/// Failures allowed per (account, client) before any delay.
const FREE_PER_PAIR: u32 = 5;
/// Failures allowed per client (over all accounts) before any delay.
const FREE_PER_CLIENT: u32 = 30;
/// The longest delay a failure count can cause.
const MAX_SIGN_IN_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_FAILURES: Duration = Duration::from_secs(3600);

/// How long a key with `failures` must wait, `since` its last failure: nothing for the first
/// `free`, then 1 s after the first one past them, doubling with each further one, at most
/// [`MAX_SIGN_IN_DELAY`].
fn sign_in_wait(failures: u32, free: u32, since: Duration) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    let delay = Duration::from_secs(1u64 << over.min(20)).min(MAX_SIGN_IN_DELAY);
    delay.checked_sub(since).filter(|d| !d.is_zero())
}

fn pair_key(account: &str, client: &str) -> String {
    // A client is an address, a /64 prefix or "unknown": it never holds a `|`.
    format!("pair:{client}|{account}")
}

fn client_key(client: &str) -> String {
    format!("client:{client}")
}

/// The attempt under an advisory lock on the client: every attempt that touches a pair of this
/// client or the client itself is serialised, on every instance.
async fn sign_in_attempt_shared(
    pool: &PgPool,
    account: &str,
    client: &str,
) -> Result<Option<Duration>, ApiError> {
    let (pair, client) = (pair_key(account, client), client_key(client));
    let mut tx = pool.begin().await?;
    lock_client(&mut tx, &client).await?;
    let now: i64 = sqlx::query_scalar(&format!("SELECT {DB_NOW_US}"))
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE last_us < $1")
        .bind(now - FORGET_FAILURES.as_micros() as i64)
        .execute(&mut *tx)
        .await?;
    // A budget back to full is the same as no row.
    sqlx::query("DELETE FROM rate_limits WHERE tat_us < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(String, i32, i64)> =
        sqlx::query_as("SELECT key, failures, last_us FROM sign_in_failures WHERE key IN ($1, $2)")
            .bind(&pair)
            .bind(&client)
            .fetch_all(&mut *tx)
            .await?;
    let wait = rows
        .iter()
        .filter_map(|(key, failures, last)| {
            let free = if *key == pair {
                FREE_PER_PAIR
            } else {
                FREE_PER_CLIENT
            };
            let since = Duration::from_micros((now - last).max(0).unsigned_abs());
            sign_in_wait(u32::try_from(*failures).unwrap_or(0), free, since)
        })
        .max();
    if wait.is_none() {
        sqlx::query(
            "INSERT INTO sign_in_failures (key, failures, last_us) VALUES ($1, 1, $3), ($2, 1, $3)
             ON CONFLICT (key) DO UPDATE
               SET failures = sign_in_failures.failures + 1, last_us = excluded.last_us",
        )
        .bind(&pair)
        .bind(&client)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(wait)
}

async fn sign_in_succeeded_shared(
    pool: &PgPool,
    account: &str,
    client: &str,
) -> Result<(), ApiError> {
    let (pair, client) = (pair_key(account, client), client_key(client));
    let mut tx = pool.begin().await?;
    lock_client(&mut tx, &client).await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
        .bind(&pair)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sign_in_failures SET failures = failures - 1 WHERE key = $1")
        .bind(&client)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE key = $1 AND failures <= 0")
        .bind(&client)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn lock_client(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    client: &str,
) -> Result<(), ApiError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(client)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Failed sign-ins in this process's memory, per (account, client) and per client. Bounded (a
/// cache evicts the least used records) and forgotten an hour after the last failure.
#[derive(Debug)]
struct SignInThrottle {
    per_pair: Failures,
    per_client: Failures,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
struct Failures {
    free: u32,
    seen: moka::sync::Cache<String, (u32, Instant)>,
}

impl Failures {
    fn new(free: u32) -> Self {
        Self {
            free,
            seen: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(FORGET_FAILURES)
                .build(),
        }
    }

    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let (count, last) = self.seen.get(key)?;
        sign_in_wait(count, self.free, now.duration_since(last))
    }

    fn add(&self, key: String, now: Instant) {
        self.seen
            .entry(key)
            .and_upsert_with(|old| (old.map_or(0, |e| e.into_value().0).saturating_add(1), now));
    }

    /// Takes back one failure counted for an attempt that turned out right.
    fn take_back(&self, key: String) {
        use moka::ops::compute::Op;
        self.seen.entry(key).and_compute_with(|old| match old {
            Some(e) if e.value().0 > 1 => {
                let (count, last) = e.into_value();
                Op::Put((count - 1, last))
            }
            Some(_) => Op::Remove,
            None => Op::Nop,
        });
    }
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            per_pair: Failures::new(FREE_PER_PAIR),
            per_client: Failures::new(FREE_PER_CLIENT),
        }
    }
}

impl SignInThrottle {
    fn attempt(&self, account: &str, client: &str) -> Option<Duration> {
        let now = Instant::now();
        let pair = pair_key(account, client);
        let wait = self
            .per_pair
            .wait(&pair, now)
            .max(self.per_client.wait(client, now));
        if wait.is_none() {
            self.per_pair.add(pair, now);
            self.per_client.add(client.to_owned(), now);
        }
        wait
    }

    fn succeeded(&self, account: &str, client: &str) {
        self.per_pair.seen.invalidate(&pair_key(account, client));
        self.per_client.take_back(client.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(api: u32, live_checks: u32) -> Quotas {
        Quotas {
            api: NonZeroU32::new(api),
            live_checks: NonZeroU32::new(live_checks).expect("not zero"),
        }
    }

    #[tokio::test]
    async fn a_quota_allows_its_burst_then_refuses_with_the_wait() {
        let limits = Limits::in_memory(quotas(3, 10));
        for left in [2, 1, 0] {
            assert_eq!(
                limits.api_request("a").await.expect("memory"),
                Some(Budget::Allowed { remaining: left })
            );
        }
        match limits.api_request("a").await.expect("memory") {
            // One cell of a 3-per-minute quota comes back every 20 s.
            Some(Budget::Exhausted { retry_after }) => {
                assert!(retry_after > Duration::from_secs(19), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(20), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            limits.api_request("b").await.expect("memory"),
            Some(Budget::Allowed { remaining: 2 })
        );
        // The live-check budget is its own.
        assert_eq!(
            limits.live_check("a").await.expect("memory"),
            Budget::Allowed { remaining: 9 }
        );
    }

    #[tokio::test]
    async fn an_api_quota_of_zero_turns_the_limit_off() {
        let limits = Limits::in_memory(quotas(0, 10));
        assert_eq!(limits.api_quota(), None);
        assert_eq!(limits.api_request("a").await.expect("memory"), None);
    }

    #[tokio::test]
    async fn the_addresses_of_one_ipv6_64_are_one_client_for_sign_ins() {
        assert_eq!(counted_as("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(counted_as("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(counted_as("192.0.2.7"), "192.0.2.7");
        assert_eq!(counted_as("unknown"), "unknown");
        // Each attempt from another address of the /64, each at another account: past the
        // client's free failures they wait as one client's would.
        let limits = Limits::in_memory(quotas(0, 10));
        let mut waited = false;
        for n in 0..=FREE_PER_CLIENT {
            let client = format!("2001:db8:1:2::{:x}", n + 1);
            let account = format!("account-{n}@example.com");
            waited |= limits
                .sign_in_attempt(&account, &client)
                .await
                .expect("memory")
                .is_some();
        }
        assert!(waited);
    }

    #[test]
    fn sign_in_waits_double_past_the_free_failures() {
        let zero = Duration::ZERO;
        assert_eq!(sign_in_wait(4, 5, zero), None);
        assert_eq!(sign_in_wait(5, 5, zero), Some(Duration::from_secs(1)));
        assert_eq!(sign_in_wait(6, 5, zero), Some(Duration::from_secs(2)));
        assert_eq!(
            sign_in_wait(6, 5, Duration::from_millis(1500)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(sign_in_wait(6, 5, Duration::from_secs(2)), None);
        assert_eq!(sign_in_wait(60, 5, zero), Some(MAX_SIGN_IN_DELAY));
    }

    #[tokio::test]
    async fn sign_in_delays_grow_per_pair_and_per_client_and_spare_other_clients() {
        let limits = Limits::in_memory(quotas(0, 10));
        let attempt = |account: String, client: &'static str| {
            let limits = &limits;
            async move {
                limits
                    .sign_in_attempt(&account, client)
                    .await
                    .expect("memory")
            }
        };
        for _ in 0..5 {
            assert_eq!(attempt("carol".into(), "1.2.3.4").await, None);
        }
        let first = attempt("carol".into(), "1.2.3.4").await.expect("delayed");
        assert!(first <= Duration::from_secs(1));
        // A refused attempt is not counted; the owner, elsewhere, is not delayed.
        assert_eq!(attempt("carol".into(), "5.6.7.8").await, None);
        limits
            .sign_in_succeeded("carol", "5.6.7.8")
            .await
            .expect("memory");
        // A client guessing many accounts is delayed on all of them.
        for i in 0..30 {
            assert_eq!(attempt(format!("user{i}"), "9.9.9.9").await, None);
        }
        assert!(attempt("someone-else".into(), "9.9.9.9").await.is_some());
        // A correct password clears its pair only.
        limits
            .sign_in_succeeded("carol", "1.2.3.4")
            .await
            .expect("memory");
        assert_eq!(attempt("carol".into(), "1.2.3.4").await, None);
        assert!(attempt("user0".into(), "9.9.9.9").await.is_some());
    }
}
