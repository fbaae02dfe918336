//! The MCP server's value types, parsed once at the edge: its id, name and base URL.

use crate::InputError;
use serde::{Deserialize, Serialize};

/// An MCP server's id: 1–64 characters of `A-Z a-z 0-9 . _ -` (the same alphabet as user ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct McpServerId(String);

impl McpServerId {
    pub const MAX: usize = 64;

    pub fn parse(value: &str) -> Result<Self, InputError> {
        const WHAT: &str = "MCP server id";
        if value.is_empty() {
            return Err(InputError::Empty { what: WHAT });
        }
        if value.chars().count() > Self::MAX {
            return Err(InputError::TooLong {
                what: WHAT,
                max: Self::MAX,
            });
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(InputError::BadCharacters {
                what: WHAT,
                allowed: "letters, digits, '.', '_', '-'",
            });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name an admin gives an MCP server: 1–100 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct McpServerName(String);

impl McpServerName {
    pub const MAX: usize = 100;

    pub fn parse(value: &str) -> Result<Self, InputError> {
        const WHAT: &str = "MCP server name";
        let value = value.trim();
        if value.is_empty() {
            return Err(InputError::Empty { what: WHAT });
        }
        if value.chars().count() > Self::MAX {
            return Err(InputError::TooLong {
                what: WHAT,
                max: Self::MAX,
            });
        }
        if value.chars().any(char::is_control) {
            return Err(InputError::BadCharacters {
                what: WHAT,
                allowed: "no control characters",
            });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an MCP server is reached: an absolute `http` or `https` URL of at most 2,048
/// characters, with a host and without user information (credentials never sit in a URL).
/// The scheme is lowercased; the rest is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(String);

impl BaseUrl {
    pub const MAX: usize = 2048;

    pub fn parse(value: &str) -> Result<Self, InputError> {
        const WHAT: &str = "base URL";
        let malformed = |detail: &str| InputError::Malformed {
            what: WHAT,
            detail: detail.to_owned(),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(InputError::Empty { what: WHAT });
        }
        if value.chars().count() > Self::MAX {
            return Err(InputError::TooLong {
                what: WHAT,
                max: Self::MAX,
            });
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InputError::BadCharacters {
                what: WHAT,
                allowed: "no spaces or control characters",
            });
        }
        let (scheme, rest) = value
            .split_once("://")
            .ok_or_else(|| malformed("expected an absolute http:// or https:// URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(malformed("the scheme must be http or https"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(malformed("the URL must not contain user information"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // An IPv6 literal: `[::1]` or `[::1]:8080`.
            Some(v6) => {
                let (addr, after) = v6
                    .split_once(']')
                    .ok_or_else(|| malformed("unclosed `[` in the host"))?;
                if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                    return Err(malformed("the host is not a valid IPv6 address"));
                }
                match after {
                    "" => (addr, None),
                    _ => (
                        addr,
                        Some(
                            after
                                .strip_prefix(':')
                                .ok_or_else(|| malformed("unexpected text after the host"))?,
                        ),
                    ),
                }
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if host.is_empty() {
            return Err(malformed("the URL has no host"));
        }
        if !authority.starts_with('[')
            && !host
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        {
            return Err(malformed("the host is not a valid host name"));
        }
        if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
            return Err(malformed("the port must be a number from 1 to 65535"));
        }
        Ok(Self(format!("{scheme}://{rest}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

use crate::ids::string_newtype_impls;
string_newtype_impls!(McpServerId, McpServerName, BaseUrl);
