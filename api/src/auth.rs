//! Who is asking: passwords (argon2id), browser sessions, API tokens. (Sign-in throttling is
//! in `crate::limits`.)
//! Secrets here (passwords, session values, tokens) are only ever stored as hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use credledger_domain::user::{Permission, Role, Scope};
use credledger_domain::UserId;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::time::Duration;
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

#[cfg(test)]
mod tests {
    use super::*;

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
