//! People and their ways in: users on the ledger (the `User` aggregate), passwords, sessions and
//! API tokens. Admin actions are ledger events, so they are audited like everything else.

use crate::auth::{new_secret, secret_hash, Password, Principal, Via};
use crate::error::ApiError;
use crate::ledger::Ledger;
use crate::limits::Limits;
use credledger_adapters::db::timestamp;
use credledger_adapters::{CommandBus, CommandError, Committed};
use credledger_domain::user::{
    DisplayName, Email, Permission, Role, Scope, User, UserCommand, UserError,
};
use credledger_domain::{EventMetadata, UserId};
use credledger_projections::audit_trail::AuditTrail;
use credledger_projections::principals::Principals;
use credledger_projections::principals::{self, TokenRow, UserRow};
use std::collections::BTreeSet;
use std::sync::Arc;
use zeroize::Zeroizing;

impl From<CommandError<UserError>> for ApiError {
    fn from(e: CommandError<UserError>) -> Self {
        match e {
            CommandError::Domain(UserError::NotFound) => Self::NotFound,
            CommandError::Domain(UserError::Input(i)) => Self::Validation(i.to_string()),
            CommandError::Domain(
                d @ (UserError::NoScopes
                | UserError::ExpiryNotInFuture
                | UserError::TooManyTokens { .. }),
            ) => Self::Validation(d.to_string()),
            CommandError::Domain(UserError::TokenNotFound(_)) => Self::NotFound,
            CommandError::Domain(d) => Self::Conflict(d.to_string()),
            CommandError::Conflict => {
                Self::Conflict("the user was changed at the same time; try again".into())
            }
            CommandError::Unavailable(d) => Self::Unavailable(d),
            CommandError::Internal(d) => Self::Internal(d),
        }
    }
}

/// A new user as an admin (or the bootstrap) asks for it.
#[derive(Debug)]
pub struct NewUser {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub password: Password,
    pub admin: bool,
}

/// A freshly issued API token: `secret` is shown once and never stored.
pub struct IssuedToken {
    pub token_id: uuid::Uuid,
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// The account use cases.
pub struct Accounts {
    ledger: Arc<Ledger>,
    users: CommandBus<User>,
    /// The sign-in throttle lives here (shared with every instance on PostgreSQL).
    limits: Arc<Limits>,
    /// Verified against when the account does not exist, so a sign-in takes as long either way.
    decoy_hash: String,
    /// The position of the newest person command this process committed: until `principals`
    /// shows it, a person it lets in is checked on their stream, so a lock, a revoked token or
    /// a withdrawn permission made here holds at once.
    newest_command: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// Password hashes computed or checked at once in this process. Each takes argon2id's 19 MiB
/// and a blocking thread for tens of milliseconds: unbounded, a flood of sign-ins took every
/// blocking thread and gigabytes of memory.
fn password_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(2 * cores)
    })
}

/// How long a password check waits for its turn before it is answered `RATE_LIMITED`.
const PASSWORD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Hashes or checks a password on a blocking thread, one of at most [`password_permits`].
async fn password_work<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit = tokio::time::timeout(PASSWORD_WAIT, password_permits().acquire())
        .await
        .map_err(|_| ApiError::RateLimited { retry_after: 1 })?
        .map_err(|e| ApiError::internal(format!("the password permits are closed: {e}")))?;
    let done = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")));
    drop(permit);
    done
}

impl Accounts {
    pub fn new(ledger: Arc<Ledger>, limits: Arc<Limits>) -> Self {
        let users = CommandBus::new(&ledger.db, ledger.appender(), ());
        let decoy_hash = Password::offered(new_secret("decoy").to_string())
            .hash()
            .unwrap_or_default();
        Self {
            ledger,
            users,
            limits,
            decoy_hash,
            newest_command: Default::default(),
        }
    }

    async fn run(
        &self,
        user: &UserId,
        command: UserCommand,
        meta: &EventMetadata,
    ) -> Result<Committed, ApiError> {
        let committed = self.users.execute(user.as_str(), command, meta).await?;
        self.newest_command
            .fetch_max(committed.position, std::sync::atomic::Ordering::AcqRel);
        self.ledger
            .settle_for(committed, &[&Principals, &AuditTrail])
            .await?;
        Ok(committed)
    }

    /// Registers a user and stores their password hash. The event comes first: a user cannot
    /// be registered twice, so a failed registration never overwrites someone's password. A
    /// registration whose password could not be stored after its event (the database went
    /// away between the two) is completed by asking again with the same id and email: the
    /// account, which no one could sign in to, gets this password.
    pub async fn create_user(&self, new: NewUser, meta: &EventMetadata) -> Result<(), ApiError> {
        let user_id = UserId::parse(new.user_id.trim())?;
        let email = Email::parse(&new.email)?;
        let display_name = DisplayName::parse(&new.display_name)?;
        let registered = self.users.load(user_id.as_str()).await?;
        let completing = registered.exists();
        if completing && (registered.email() != Some(&email) || self.has_password(&user_id).await?)
        {
            return Err(ApiError::Conflict("the user already exists".into()));
        }
        if !completing
            && principals::user(&self.ledger.db.any, email.as_str(), true)
                .await?
                .is_some()
        {
            return Err(ApiError::Conflict(
                "a user with this email already exists".into(),
            ));
        }
        let password = new.password;
        let hash = password_work(move || password.hash())
            .await?
            .map_err(ApiError::internal)?;
        if completing {
            tracing::warn!(user = %user_id, "completing a registration whose password was not stored");
            return self.store_password_once(&user_id, &hash).await;
        }
        self.run(
            &user_id,
            UserCommand::RegisterUser {
                user_id: user_id.clone(),
                email,
                display_name,
                role: if new.admin { Role::Admin } else { Role::Member },
                permissions: BTreeSet::new(),
            },
            meta,
        )
        .await?;
        // Once: a completion racing this registration (the same id and email, asked again
        // while it waited for the read models) has stored its password, which stands.
        self.store_password_once(&user_id, &hash).await
    }

    async fn has_password(&self, user: &UserId) -> Result<bool, ApiError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT user_id FROM passwords WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(&self.ledger.db.any)
                .await?
                .is_some(),
        )
    }

    /// Stores the first password of a registered user; refused when one was stored meanwhile
    /// (two completions racing: the first one's stands).
    async fn store_password_once(&self, user: &UserId, hash: &str) -> Result<(), ApiError> {
        let stored = sqlx::query(
            "INSERT INTO passwords (user_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.as_str())
        .bind(hash)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.ledger.db.any)
        .await?;
        if stored.rows_affected() == 0 {
            return Err(ApiError::Conflict("the user already exists".into()));
        }
        Ok(())
    }

    async fn store_password(&self, user: &UserId, hash: &str) -> Result<(), ApiError> {
        let now = timestamp(chrono::Utc::now());
        sqlx::query(
            "INSERT INTO passwords (user_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
        )
        .bind(user.as_str())
        .bind(hash)
        .bind(now)
        .execute(&self.ledger.db.any)
        .await?;
        Ok(())
    }

    /// Whether any user exists (for the first-start bootstrap).
    pub async fn any_user(&self) -> Result<bool, ApiError> {
        Ok(!principals::users(&self.ledger.db.any).await?.is_empty())
    }

    /// Checks a password and opens a session. Failures are counted per (account, client) and
    /// per client (see [`Limits::sign_in_attempt`]); while either must wait, the answer is
    /// `RATE_LIMITED` without checking anything. Unknown accounts, wrong passwords and locked
    /// users all answer the same.
    pub async fn login(
        &self,
        login: &str,
        password: Password,
        ip: Option<&str>,
    ) -> Result<(Zeroizing<String>, UserRow), ApiError> {
        let login = login.trim().chars().take(254).collect::<String>();
        // No account has a control character in its email or id (and PostgreSQL refuses NUL
        // in text): refused before anything is looked up or counted.
        if login.chars().any(char::is_control) {
            return Err(ApiError::Validation(
                "the email or password is wrong, or the account is locked".into(),
            ));
        }
        let account_key = login.to_lowercase();
        let client = ip.unwrap_or("unknown");
        if let Some(wait) = self.limits.sign_in_attempt(&account_key, client).await? {
            return Err(ApiError::RateLimited {
                retry_after: crate::limits::whole_seconds(wait),
            });
        }
        let by_email = login.contains('@');
        // An email is looked up as it was stored: its domain lowercased (one that cannot be
        // an account's is looked up as typed, and found by no one).
        let login = match by_email.then(|| Email::parse(&login)) {
            Some(Ok(email)) => email.as_str().to_owned(),
            _ => login,
        };
        let shown = self.principals_shown();
        let user = principals::user(&self.ledger.db.any, &login, by_email).await?;
        let stored = match &user {
            Some(u) => {
                sqlx::query_scalar::<_, String>("SELECT hash FROM passwords WHERE user_id = $1")
                    .bind(&u.user_id)
                    .fetch_optional(&self.ledger.db.any)
                    .await?
            }
            None => None,
        };
        // While `principals` may not show a lock this process committed, the stream decides;
        // read whatever the password turns out to be, so the answer's time does not tell a
        // locked account's right password from a wrong one.
        let locked_on_stream = match &user {
            Some(u) if !shown => self.users.load(&u.user_id).await?.is_locked(),
            _ => false,
        };
        let phc = stored.clone().unwrap_or_else(|| self.decoy_hash.clone());
        let matches = password_work(move || password.verify(&phc)).await?;
        let refused = || {
            ApiError::Validation("the email or password is wrong, or the account is locked".into())
        };
        let (user, verified) = match (user, stored) {
            (Some(u), Some(hash)) if matches && !u.locked && !locked_on_stream => (u, hash),
            _ => return Err(refused()),
        };
        let secret = new_secret("cls");
        let now = chrono::Utc::now();
        let expires = now
            + chrono::Duration::from_std(crate::auth::SESSION_LIFETIME)
                .unwrap_or(chrono::Duration::hours(12));
        // Expired sessions are useless; sign-in is rare enough to sweep them here.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(timestamp(now))
            .execute(&self.ledger.db.any)
            .await?;
        // Opened only while the password checked is still the one stored: a change committed
        // since (whose end of the other sessions may already have run) leaves this sign-in
        // refused, not holding a session the new password never allowed. On PostgreSQL the
        // row is locked while the session is written, so a change waits for it and its end of
        // the sessions then sees it; SQLite writes one statement at a time.
        let opened = sqlx::query(&format!(
            "INSERT INTO sessions (session_hash, user_id, created_at, expires_at) \
             SELECT $1, $2, $3, $4 FROM passwords WHERE user_id = $2 AND hash = $5{}",
            match self.ledger.db.backend() {
                credledger_adapters::Backend::Postgres => " FOR SHARE",
                credledger_adapters::Backend::Sqlite => "",
            }
        ))
        .bind(secret_hash(&secret))
        .bind(&user.user_id)
        .bind(timestamp(now))
        .bind(timestamp(expires))
        .bind(&verified)
        .execute(&self.ledger.db.any)
        .await?;
        if opened.rows_affected() != 1 {
            return Err(refused());
        }
        // Only a sign-in that opened its session takes its attempt back.
        self.limits.sign_in_succeeded(&account_key, client).await?;
        Ok((secret, user))
    }

    /// The person behind a session cookie's value, if the session is live and they may sign in.
    pub async fn session(&self, secret: &str) -> Result<Option<Principal>, ApiError> {
        let shown = self.principals_shown();
        let hash = secret_hash(secret);
        let sql = "SELECT u.user_id, u.role, u.locked, u.permissions FROM sessions s \
                   JOIN users u ON u.user_id = s.user_id \
                   WHERE s.session_hash = $1 AND s.expires_at > $2";
        let now = timestamp(chrono::Utc::now());
        // Every request signed in by cookie asks this: the typed driver where there is one.
        let row: Option<PrincipalRow> = match &self.ledger.db.pools {
            credledger_adapters::db::Pools::Postgres(pool) => {
                sqlx::query_as(sql)
                    .bind(&hash)
                    .bind(&now)
                    .fetch_optional(pool)
                    .await?
            }
            credledger_adapters::db::Pools::Sqlite(_) => {
                sqlx::query_as(sql)
                    .bind(&hash)
                    .bind(&now)
                    .fetch_optional(&self.ledger.db.any)
                    .await?
            }
        };
        let Some(row) = row else { return Ok(None) };
        match principal_from_row(row, Via::Session { session_hash: hash })? {
            Some(p) => self.as_the_stream_has_it(p, shown).await,
            None => Ok(None),
        }
    }

    /// The person behind an API token, if it is live and they may act.
    pub async fn token(&self, secret: &str) -> Result<Option<Principal>, ApiError> {
        let shown = self.principals_shown();
        let Some((token, user)) =
            principals::token_by_hash(&self.ledger.db.any, &secret_hash(secret)).await?
        else {
            return Ok(None);
        };
        if !token_is_live(&token, &user) {
            return Ok(None);
        }
        self.as_the_stream_has_it(
            Principal {
                user_id: UserId::parse(&user.user_id).map_err(|_| unreadable("user id"))?,
                role: user.role,
                permissions: user.permissions,
                via: Via::Token {
                    token_id: token.token_id,
                    scopes: token.scopes,
                },
            },
            shown,
        )
        .await
    }

    /// Whether `principals` shows this process's newest person command and is not stopped.
    /// Asked before the row is read: a row read after it then shows that command too.
    fn principals_shown(&self) -> bool {
        let projections = &self.ledger.projections;
        let newest = self
            .newest_command
            .load(std::sync::atomic::Ordering::Acquire);
        !projections.stopped(&Principals)
            && projections
                .progress(&Principals)
                .is_some_and(|at| *at.borrow() >= newest)
    }

    /// `p`, found in `principals`, as the person's stream has them when `principals` did not
    /// show this process's newest person command before the row was read (`shown`): `None`
    /// when they are locked or their token is revoked or expired; their permissions as the
    /// stream has them. Otherwise `p` as it is, with no read.
    async fn as_the_stream_has_it(
        &self,
        p: Principal,
        shown: bool,
    ) -> Result<Option<Principal>, ApiError> {
        if shown {
            return Ok(Some(p));
        }
        let user = self.users.load(p.user_id.as_str()).await?;
        if !user.exists() || user.is_locked() {
            return Ok(None);
        }
        if let Via::Token { token_id, .. } = &p.via {
            let live = uuid::Uuid::parse_str(token_id)
                .ok()
                .and_then(|id| user.token(id))
                .is_some_and(|t| t.is_active(chrono::Utc::now()));
            if !live {
                return Ok(None);
            }
        }
        Ok(Some(Principal {
            permissions: user.permissions().clone(),
            ..p
        }))
    }

    /// Whether a principal found earlier may still act: its session is live, or its token is
    /// neither revoked nor expired, and its person is not locked. Live connections ask it before
    /// each delivery, so a sign-out, a revocation or a lock ends them.
    pub async fn still_signed_in(&self, p: &Principal) -> Result<bool, ApiError> {
        let shown = self.principals_shown();
        match &p.via {
            Via::Session { session_hash } => {
                let locked: Option<i64> = sqlx::query_scalar(
                    "SELECT u.locked FROM sessions s JOIN users u ON u.user_id = s.user_id \
                     WHERE s.session_hash = $1 AND s.expires_at > $2",
                )
                .bind(session_hash)
                .bind(timestamp(chrono::Utc::now()))
                .fetch_optional(&self.ledger.db.any)
                .await?;
                if locked != Some(0) {
                    return Ok(false);
                }
            }
            Via::Token { token_id, .. } => {
                let live = principals::token_by_id(&self.ledger.db.any, token_id)
                    .await?
                    .is_some_and(|(token, user)| token_is_live(&token, &user));
                if !live {
                    return Ok(false);
                }
            }
        }
        Ok(self.as_the_stream_has_it(p.clone(), shown).await?.is_some())
    }

    /// Ends one session.
    pub async fn logout(&self, session_hash: &str) -> Result<(), ApiError> {
        sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.ledger.db.any)
            .await?;
        Ok(())
    }

    async fn end_sessions(&self, user: &UserId, except: Option<&str>) -> Result<(), ApiError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND session_hash <> $2")
            .bind(user.as_str())
            .bind(except.unwrap_or(""))
            .execute(&self.ledger.db.any)
            .await?;
        Ok(())
    }

    /// Changes the signed-in person's password after checking the current one; their other
    /// sessions end.
    pub async fn change_password(
        &self,
        who: &Principal,
        current: Password,
        new: Password,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        // Under the sign-in throttle, as signing in is: a stolen session must not make this a
        // way to guess the password without delay.
        let (account, client) = (
            who.user_id.as_str(),
            meta.ip.as_deref().unwrap_or("unknown"),
        );
        if let Some(wait) = self.limits.sign_in_attempt(account, client).await? {
            return Err(ApiError::RateLimited {
                retry_after: crate::limits::whole_seconds(wait),
            });
        }
        let stored =
            sqlx::query_scalar::<_, String>("SELECT hash FROM passwords WHERE user_id = $1")
                .bind(who.user_id.as_str())
                .fetch_optional(&self.ledger.db.any)
                .await?
                .unwrap_or_else(|| self.decoy_hash.clone());
        if !password_work(move || current.verify(&stored)).await? {
            return Err(ApiError::Validation("the current password is wrong".into()));
        }
        self.limits.sign_in_succeeded(account, client).await?;
        let hash = password_work(move || new.hash())
            .await?
            .map_err(ApiError::internal)?;
        self.run(
            &who.user_id,
            UserCommand::ChangePassword {
                reset_by_admin: false,
            },
            meta,
        )
        .await?;
        self.store_password(&who.user_id, &hash).await?;
        let keep = match &who.via {
            Via::Session { session_hash } => Some(session_hash.as_str()),
            Via::Token { .. } => None,
        };
        self.end_sessions(&who.user_id, keep).await
    }

    /// Locks a user: they cannot sign in, their sessions end, their tokens stop working.
    pub async fn lock(
        &self,
        target: &str,
        reason: Option<String>,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let target = UserId::parse(target)?;
        self.run(&target, UserCommand::LockUser { reason }, meta)
            .await?;
        self.end_sessions(&target, None).await
    }

    /// Unlocks a user. Sessions opened by a sign-in that raced the lock end here: they were
    /// of no use while the person was locked, and must not become of use again.
    pub async fn unlock(&self, target: &str, meta: &EventMetadata) -> Result<(), ApiError> {
        let target = UserId::parse(target)?;
        self.run(&target, UserCommand::UnlockUser, meta).await?;
        self.end_sessions(&target, None).await
    }

    pub async fn set_permission(
        &self,
        target: &str,
        permission: Permission,
        grant: bool,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let target = UserId::parse(target)?;
        let command = if grant {
            UserCommand::GrantPermission { permission }
        } else {
            UserCommand::RevokePermission { permission }
        };
        self.run(&target, command, meta).await?;
        Ok(())
    }

    /// Issues an API token; the secret is returned once and only its SHA-256 is recorded.
    pub async fn issue_token(
        &self,
        who: &UserId,
        name: String,
        scopes: BTreeSet<Scope>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        meta: &EventMetadata,
    ) -> Result<IssuedToken, ApiError> {
        let secret = new_secret("clt");
        let token_id = uuid::Uuid::new_v4();
        self.run(
            who,
            UserCommand::IssueApiToken {
                token_id,
                name,
                scopes,
                expires_at,
                token_hash: secret_hash(&secret),
                now: meta.occurred_at,
            },
            meta,
        )
        .await?;
        Ok(IssuedToken { token_id, secret })
    }

    pub async fn revoke_token(
        &self,
        who: &UserId,
        token_id: &str,
        meta: &EventMetadata,
    ) -> Result<(), ApiError> {
        let token_id = uuid::Uuid::parse_str(token_id).map_err(|_| ApiError::NotFound)?;
        self.run(who, UserCommand::RevokeApiToken { token_id }, meta)
            .await?;
        Ok(())
    }
}

/// Whether a token may act now: not revoked, not expired, its person not locked.
fn token_is_live(token: &TokenRow, user: &UserRow) -> bool {
    !token.revoked && !user.locked && token.expires_at.is_none_or(|e| e > chrono::Utc::now())
}

/// A signed-in person's row: user id, role, locked, permissions (a JSON list).
type PrincipalRow = (String, String, i64, String);

fn principal_from_row(row: PrincipalRow, via: Via) -> Result<Option<Principal>, ApiError> {
    let (user_id, role, locked, permissions) = row;
    if locked != 0 {
        return Ok(None);
    }
    Ok(Some(Principal {
        user_id: UserId::parse(&user_id).map_err(|_| unreadable("user id"))?,
        role: Role::parse(&role).map_err(|_| unreadable("role"))?,
        permissions: serde_json::from_str(&permissions).map_err(|_| unreadable("permissions"))?,
        via,
    }))
}

/// A read-model row holding what the code never writes: an internal error (never the caller's
/// fault, never read as a default).
fn unreadable(what: &str) -> ApiError {
    ApiError::Internal(format!("a read-model row holds an unreadable {what}"))
}

#[cfg(test)]
mod tests {
    use super::{password_permits, password_work};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_runs_at_most_its_permits_at_once() {
        let permits = password_permits().available_permits();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..4 * permits)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(password_work(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.expect("joined").expect("ran");
        }
        assert!(
            most.load(Ordering::SeqCst) <= permits,
            "{most:?} > {permits}"
        );
        assert_eq!(password_permits().available_permits(), permits);
    }
}
