//! Identifiers and names, parsed once at the edge ("parse, don't validate").

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a piece of input was refused. Messages are fit for a person and never echo secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains characters that are not allowed ({allowed})")]
    BadCharacters {
        what: &'static str,
        allowed: &'static str,
    },
    #[error("{what} is not a valid identifier: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("input is not valid UTF-8")]
    InvalidUtf8,
    #[error("unknown service `{0}`")]
    UnknownService(String),
    #[error("service `{0}` is disabled")]
    ServiceDisabled(String),
    #[error("the field `{field}` is required for {service}")]
    MissingField { service: String, field: String },
    #[error("the field `{field}` is not one of {service}'s fields")]
    UnknownField { service: String, field: String },
    #[error("the field `{field}` must be {expected}")]
    BadFieldFormat {
        field: String,
        expected: &'static str,
    },
    #[error("the secret is larger than {max} bytes")]
    SecretTooLarge { max: usize },
    #[error("at most {max} {what} are kept")]
    TooMany { what: &'static str, max: usize },
}

fn check_chars(
    value: &str,
    what: &'static str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), InputError> {
    if value.is_empty() {
        return Err(InputError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(InputError::TooLong { what, max });
    }
    if !value.chars().all(ok) {
        return Err(InputError::BadCharacters { what, allowed });
    }
    Ok(())
}

/// A user's id: 1–64 characters of `A-Z a-z 0-9 . _ -` (no `:`, which separates keyring ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        check_chars(
            value,
            "user id",
            64,
            "letters, digits, '.', '_', '-'",
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        )?;
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A service's key in the catalog: 1–32 characters of `a-z 0-9 _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceKey(String);

impl ServiceKey {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        check_chars(
            value,
            "service",
            32,
            "lowercase letters, digits, '_'",
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        )?;
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A credential's id: a UUID chosen by the caller (randomness stays outside the domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialId(uuid::Uuid);

impl CredentialId {
    /// A credential id as the ledger writes it: a UUID in lowercase with hyphens. Other
    /// spellings of the same UUID (uppercase, braces, `urn:uuid:`, no hyphens) are refused:
    /// read models and answers match ids as text, so such a spelling found the credential to
    /// change and then not the row to answer with.
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let malformed = |detail: String| InputError::Malformed {
            what: "credential id",
            detail,
        };
        let id = uuid::Uuid::parse_str(value).map_err(|e| malformed(e.to_string()))?;
        if id.hyphenated().to_string() != value {
            return Err(malformed(
                "write it in lowercase with hyphens, as the ledger gives it".into(),
            ));
        }
        Ok(Self(id))
    }
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

/// The name a person gives a credential: 1–100 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialName(String);

impl CredentialName {
    pub const MAX: usize = 100;

    /// `base`, or `base 2`, `base 3`… — the first that `taken` does not hold (a default name
    /// that must not collide with a person's other credentials of the service).
    pub fn first_free(base: &str, taken: impl Fn(&str) -> bool) -> String {
        std::iter::once(base.to_owned())
            .chain((2..).map(|n| format!("{base} {n}")))
            .find(|name| !taken(name))
            .unwrap_or_else(|| base.to_owned())
    }
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let value = value.trim();
        check_chars(
            value,
            "credential name",
            Self::MAX,
            "no control characters",
            |c| !c.is_control(),
        )?;
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of one user's keyring for one service: `"{user_id}:{service}"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyringId {
    pub user_id: UserId,
    pub service: ServiceKey,
}

impl KeyringId {
    pub fn new(user_id: UserId, service: ServiceKey) -> Self {
        Self { user_id, service }
    }
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let (user, service) = value.split_once(':').ok_or(InputError::Malformed {
            what: "keyring id",
            detail: "expected `user:service`".into(),
        })?;
        Ok(Self::new(UserId::parse(user)?, ServiceKey::parse(service)?))
    }
}

/// `TryFrom<String>` (through `parse`), `From<T> for String` and `Display` for a string newtype.
macro_rules! string_newtype_impls {
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = $crate::InputError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
pub(crate) use string_newtype_impls;
string_newtype_impls!(UserId, ServiceKey, CredentialName);

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for KeyringId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.user_id, self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_longer_than_one_hundred_characters_are_refused() {
        assert!(CredentialName::parse(&"a".repeat(100)).is_ok());
        assert_eq!(
            CredentialName::parse(&"é".repeat(101)),
            Err(InputError::TooLong {
                what: "credential name",
                max: 100
            })
        );
    }

    #[test]
    fn ids_refuse_separators_and_control_characters() {
        assert!(UserId::parse("alice:notion").is_err());
        assert!(UserId::parse("").is_err());
        assert!(ServiceKey::parse("Notion").is_err());
        assert!(CredentialName::parse("a\u{0}b").is_err());
        assert!(CredentialId::parse("not-a-uuid").is_err());
        let id = "8e5b2a9c-0f8e-4c4b-9a51-2f6f0c8a1d3e";
        assert_eq!(
            CredentialId::parse(id).map(|c| c.to_string()),
            Ok(id.to_owned())
        );
        for other in [
            id.to_uppercase(),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            id.replace('-', ""),
        ] {
            assert!(CredentialId::parse(&other).is_err(), "{other}");
        }
        assert_eq!(
            KeyringId::parse("alice:notion").map(|k| k.to_string()),
            Ok("alice:notion".to_string())
        );
    }
}
