//! Who is asking: passwords (argon2id), browser sessions, API tokens, and login throttling.
//! Secrets here (passwords, session values, tokens) are only ever stored as hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use credledger_domain::user::{Permission, Role, Scope};
use credledger_domain::UserId;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The name of the session cookie. The `__Host-` prefix (when `Secure`) pins it to this origin.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-credledger_session"
    } else {
        "credledger_session"
    }
}

/// How long a session lives.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A password as typed: redacted, zeroized.
pub struct Password(Zeroizing<String>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// A password that may be stored: 12–1024 characters.
    pub fn new_for_storage(value: String) -> Result<Self, String> {
        let n = value.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err(format!(
                "the password must have at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        if n > 1024 {
            return Err("the password must have at most 1024 characters".into());
        }
        Ok(Self(Zeroizing::new(value)))
    }

    /// A password offered at sign-in (not checked for strength).
    pub fn offered(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The argon2id PHC string for this password, with a fresh salt. CPU-heavy: call it from
    /// `spawn_blocking`.
    pub fn hash(&self) -> Result<String, String> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("could not hash the password: {e}"))
    }

    /// Whether this password matches a stored PHC string. CPU-heavy: `spawn_blocking`.
    pub fn verify(&self, phc: &str) -> bool {
        PasswordHash::new(phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(self.0.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

/// A fresh random secret (256 bits) with a readable prefix: `cls_…` for sessions, `clt_…` for
/// API tokens. Returned once; only its hash is stored.
pub fn new_secret(prefix: &str) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ))
}

/// The stored form of a high-entropy secret: hex SHA-256. (Passwords use argon2id; a random
/// 256-bit token needs no stretching.)
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session (cookie); `session_hash` identifies it for sign-out.
    Session { session_hash: String },
    /// An API token with its scopes.
    Token {
        token_id: String,
        scopes: BTreeSet<Scope>,
    },
}

/// The signed-in person behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    pub permissions: BTreeSet<Permission>,
    pub via: Via,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admins hold every permission.
    pub fn has(&self, permission: Permission) -> bool {
        self.is_admin() || self.permissions.contains(&permission)
    }

    pub fn is_session(&self) -> bool {
        matches!(self.via, Via::Session { .. })
    }

    /// Sessions can do everything their person can; tokens only what their scopes say.
    pub fn allows(&self, scope: Scope) -> bool {
        match &self.via {
            Via::Session { .. } => true,
            Via::Token { scopes, .. } => scopes.contains(&scope),
        }
    }
}

/// An MCP server authenticated by one of its API tokens. It is nobody's session: it may only
/// resolve the credentials it may hold (`resolveCredential`), within its token's scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPrincipal {
    pub server_id: String,
    pub token_id: String,
    pub scopes: BTreeSet<Scope>,
}

/// The prefix of MCP server tokens (user tokens start `clt_`): it tells which table to ask.
pub const SERVER_TOKEN_PREFIX: &str = "clm_";

/// Sliding-window counters: at most `limit` events per `window` per key.
#[derive(Debug)]
pub struct WindowLimiter {
    limit: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// The answer of a limiter: allowed with what is left, or refused with the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Allowed { remaining: u32 },
    Exhausted { retry_after: Duration },
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    fn prune(queue: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
    }

    /// Takes one from `key`'s budget if any is left.
    pub fn take(&self, key: &str) -> Budget {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > 100_000 {
            let window = self.window;
            hits.retain(|_, q| {
                Self::prune(q, now, window);
                !q.is_empty()
            });
        }
        let queue = hits.entry(key.to_owned()).or_default();
        Self::prune(queue, now, self.window);
        if queue.len() >= self.limit {
            let oldest = queue.front().copied().unwrap_or(now);
            return Budget::Exhausted {
                retry_after: self.window.saturating_sub(now.duration_since(oldest)),
            };
        }
        queue.push_back(now);
        Budget::Allowed {
            remaining: (self.limit - queue.len()) as u32,
        }
    }

    /// Whether `key` has budget left, without taking any.
    pub fn check(&self, key: &str) -> Budget {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        match hits.get_mut(key) {
            Some(queue) => {
                Self::prune(queue, now, self.window);
                if queue.len() >= self.limit {
                    let oldest = queue.front().copied().unwrap_or(now);
                    Budget::Exhausted {
                        retry_after: self.window.saturating_sub(now.duration_since(oldest)),
                    }
                } else {
                    Budget::Allowed {
                        remaining: (self.limit - queue.len()) as u32,
                    }
                }
            }
            None => Budget::Allowed {
                remaining: self.limit as u32,
            },
        }
    }

    /// Forgets `key` (a successful sign-in clears its failures).
    pub fn clear(&self, key: &str) {
        self.hits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Failed sign-ins, remembered per (account, client) and per client, each answered with a
/// growing delay rather than a lock: a stranger's failures slow the stranger down, and never
/// refuse the owner's correct password from another client. Bounded in memory (a cache evicts
/// the least used records) and forgotten an hour after the last failure.
#[derive(Debug)]
pub struct SignInThrottle {
    per_pair: Failures,
    per_client: Failures,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
struct Failures {
    /// Failures allowed without any delay.
    free: u32,
    seen: moka::sync::Cache<String, (u32, Instant)>,
}

/// The longest delay a failure count can cause.
const MAX_SIGN_IN_DELAY: Duration = Duration::from_secs(15 * 60);

impl Failures {
    fn new(free: u32) -> Self {
        Self {
            free,
            seen: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    /// How long `key` must still wait: 1 s after the first failure past the free ones,
    /// doubling with each further failure, at most [`MAX_SIGN_IN_DELAY`].
    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let (count, last) = self.seen.get(key)?;
        let over = count.checked_sub(self.free)?;
        let delay = Duration::from_secs(1u64 << over.min(20)).min(MAX_SIGN_IN_DELAY);
        delay
            .checked_sub(now.duration_since(last))
            .filter(|d| !d.is_zero())
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
            per_pair: Failures::new(5),
            per_client: Failures::new(30),
        }
    }
}

impl SignInThrottle {
    fn pair(account: &str, client: &str) -> String {
        format!("{account}\u{0}{client}")
    }

    /// Starts an attempt: the wait before `client` may try `account` again, or `None` and
    /// the attempt is counted as a failure until [`SignInThrottle::succeeded`] says otherwise
    /// (so attempts sent at once are all counted while their passwords are being checked).
    pub fn attempt(&self, account: &str, client: &str) -> Option<Duration> {
        let now = Instant::now();
        let pair = Self::pair(account, client);
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

    /// A correct password forgets the pair's failures and takes back the client's count for
    /// this attempt (only this one: signing in to one's own account must not reset a
    /// guesser's count).
    pub fn succeeded(&self, account: &str, client: &str) {
        self.per_pair.seen.invalidate(&Self::pair(account, client));
        self.per_client.take_back(client.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limiter_counts_down_and_then_refuses_with_the_wait() {
        let limiter = WindowLimiter::new(3, Duration::from_secs(60));
        assert_eq!(limiter.take("a"), Budget::Allowed { remaining: 2 });
        assert_eq!(limiter.take("a"), Budget::Allowed { remaining: 1 });
        assert_eq!(limiter.take("a"), Budget::Allowed { remaining: 0 });
        assert!(
            matches!(limiter.take("a"), Budget::Exhausted { retry_after } if retry_after > Duration::from_secs(58))
        );
        assert_eq!(limiter.take("b"), Budget::Allowed { remaining: 2 });
    }

    #[test]
    fn sign_in_delays_grow_per_pair_and_per_client_and_spare_other_clients() {
        let throttle = SignInThrottle::default();
        for _ in 0..5 {
            assert_eq!(throttle.attempt("carol", "1.2.3.4"), None);
        }
        let first = throttle.attempt("carol", "1.2.3.4").expect("delayed");
        assert!(first <= Duration::from_secs(1));
        // A refused attempt is not counted; the owner, elsewhere, is not delayed.
        assert_eq!(throttle.attempt("carol", "5.6.7.8"), None);
        throttle.succeeded("carol", "5.6.7.8");
        // A client guessing many accounts is delayed on all of them.
        for i in 0..30 {
            assert_eq!(throttle.attempt(&format!("user{i}"), "9.9.9.9"), None);
        }
        assert!(throttle.attempt("someone-else", "9.9.9.9").is_some());
        // A correct password clears its pair only.
        throttle.succeeded("carol", "1.2.3.4");
        assert_eq!(throttle.attempt("carol", "1.2.3.4"), None);
        assert!(throttle.attempt("user0", "9.9.9.9").is_some());
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let p = Password::new_for_storage("correct horse battery".into()).expect("long enough");
        let phc = p.hash().expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(Password::offered("correct horse battery".into()).verify(&phc));
        assert!(!Password::offered("wrong horse battery".into()).verify(&phc));
        assert!(Password::new_for_storage("short".into()).is_err());
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("clt");
        let b = new_secret("clt");
        assert_ne!(*a, *b);
        assert!(a.starts_with("clt_"));
        assert_eq!(secret_hash(&a).len(), 64);
    }
}
