//! The user's value types, parsed once at the edge: email, display name, role, permissions and
//! API token scopes. Permissions and scopes are stored in events under their public names.

use crate::InputError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address: trimmed, at most 254 characters, `local@domain` with a dotted domain of
/// letters, digits and `-`. The domain is lowercased; the local part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;
    const LOCAL_MAX: usize = 64;
    const LABEL_MAX: usize = 63;

    pub fn parse(value: &str) -> Result<Self, InputError> {
        // The domain is lowercased before anything is checked, so what is kept reads back as
        // itself: lowercasing can add characters (`İ` becomes `i` and a combining dot).
        let value = match value.trim().split_once('@') {
            Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
            None => value.trim().to_owned(),
        };
        let value = value.as_str();
        let malformed = |detail: &str| InputError::Malformed {
            what: "email",
            detail: detail.to_owned(),
        };
        if value.is_empty() {
            return Err(InputError::Empty { what: "email" });
        }
        if value.chars().count() > Self::MAX {
            return Err(InputError::TooLong {
                what: "email",
                max: Self::MAX,
            });
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InputError::BadCharacters {
                what: "email",
                allowed: "no spaces or control characters",
            });
        }
        let (local, domain) = value
            .split_once('@')
            .ok_or_else(|| malformed("expected `name@domain`"))?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(malformed("expected `name@domain`"));
        }
        if local.chars().count() > Self::LOCAL_MAX {
            return Err(malformed(
                "the part before `@` is longer than 64 characters",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.chars().count() <= Self::LABEL_MAX
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(malformed("the domain is not a valid host name"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name shown for a user: 1–100 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 100;

    pub fn parse(value: &str) -> Result<Self, InputError> {
        let value = value.trim();
        check_text(value, "display name", Self::MAX)?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks free text: 1–`max` characters, none of them control characters.
pub(crate) fn check_text(value: &str, what: &'static str, max: usize) -> Result<(), InputError> {
    if value.is_empty() {
        return Err(InputError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(InputError::TooLong { what, max });
    }
    if value.chars().any(char::is_control) {
        return Err(InputError::BadCharacters {
            what,
            allowed: "no control characters",
        });
    }
    Ok(())
}

use crate::ids::string_newtype_impls;
string_newtype_impls!(Email, DisplayName);

/// A user's role. Admins implicitly hold every [`Permission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

/// A permission over other people's credentials (never over their secrets, DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "credentials.view_all")]
    CredentialsViewAll,
    #[serde(rename = "credentials.edit_all")]
    CredentialsEditAll,
    #[serde(rename = "credentials.delete_all")]
    CredentialsDeleteAll,
}

impl Permission {
    pub const ALL: [Permission; 3] = [
        Self::CredentialsViewAll,
        Self::CredentialsEditAll,
        Self::CredentialsDeleteAll,
    ];
}

/// What an API token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "credentials:read")]
    CredentialsRead,
    /// Resolve a user's credential at call time (MCP servers).
    #[serde(rename = "credentials:resolve")]
    CredentialsResolve,
    #[serde(rename = "ledger:read")]
    LedgerRead,
}

impl Scope {
    pub const ALL: [Scope; 3] = [
        Self::CredentialsRead,
        Self::CredentialsResolve,
        Self::LedgerRead,
    ];
}

/// `as_str`, `parse` (the inverse, refusing anything else) and `Display` for a closed set of
/// names.
macro_rules! named_enum {
    ($t:ty, $what:literal, { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
            pub fn parse(value: &str) -> Result<Self, InputError> {
                match value {
                    $($name => Ok(Self::$variant),)*
                    _ => Err(InputError::Malformed {
                        what: $what,
                        detail: format!(
                            "expected one of {}",
                            [$($name),*].join(", ")
                        ),
                    }),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(Role, "role", { Admin => "admin", Member => "member" });
named_enum!(Permission, "permission", {
    CredentialsViewAll => "credentials.view_all",
    CredentialsEditAll => "credentials.edit_all",
    CredentialsDeleteAll => "credentials.delete_all",
});
named_enum!(Scope, "scope", {
    CredentialsRead => "credentials:read",
    CredentialsResolve => "credentials:resolve",
    LedgerRead => "ledger:read",
});
