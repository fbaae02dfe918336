//! Secret values: redacted in `Debug`/`Display`, never `Serialize`, zeroized on drop.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// One secret string. The only way to read it is [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// A credential's fields as named in the catalog (`token`, `url`, `email`, `api_token`, …).
/// All of them are encrypted together; non-secret facts a person needs to see come from the
/// account identity found at validation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretFields(BTreeMap<String, SecretString>);

impl SecretFields {
    /// The largest encoded size accepted (64 KiB).
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        self.0.insert(name.into(), value);
    }
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Keeps only the fields whose name `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|name, _| keep(name));
    }

    /// Parses a JSON object of strings from raw bytes (invalid UTF-8 and non-string values are
    /// refused). Errors never contain the input.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, crate::InputError> {
        if bytes.len() > Self::MAX_BYTES {
            return Err(crate::InputError::SecretTooLarge {
                max: Self::MAX_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| crate::InputError::InvalidUtf8)?;
        let map: BTreeMap<String, String> =
            serde_json::from_str(text).map_err(|e| crate::InputError::Malformed {
                what: "credential fields",
                // serde_json's message names a line and column, never the value.
                detail: format!(
                    "expected a JSON object of strings (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        Ok(Self(
            map.into_iter()
                .map(|(k, v)| (k, SecretString::new(v)))
                .collect(),
        ))
    }

    /// The JSON encoding that is encrypted. Zeroized when dropped.
    pub fn to_json_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let map: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        // Sized up front (an escape is at most six bytes per byte, plus quotes and separators)
        // so the buffer is never reallocated, which would leave unzeroized copies behind.
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(6 * self.encoded_len() + 16));
        // Serializing a map of strings into memory cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &map);
        buf
    }

    /// Size of the encoded fields, for the 64 KiB limit.
    pub fn encoded_len(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.len() + 6)
            .sum::<usize>()
            + 2
    }
}

impl fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl FromIterator<(String, String)> for SecretFields {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k, SecretString::new(v)))
                .collect(),
        )
    }
}

/// A credential's fields after encryption: what events carry. `ciphertext` is base64 of the
/// envelope (format byte, DEK id, nonce, AES-256-GCM ciphertext and tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub dek_id: uuid::Uuid,
    pub ciphertext: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secret_values() {
        let fields: SecretFields = [("token".to_string(), "canary-123".to_string())]
            .into_iter()
            .collect();
        let printed = format!("{fields:?} {:?}", fields.get("token"));
        assert!(!printed.contains("canary-123"), "{printed}");
        assert!(printed.contains("token"));
    }

    #[test]
    fn fields_refuse_invalid_utf8_and_oversize_input() {
        assert_eq!(
            SecretFields::from_json_bytes(b"{\"token\": \"\xff\"}"),
            Err(crate::InputError::InvalidUtf8)
        );
        let big = format!("{{\"token\": \"{}\"}}", "x".repeat(SecretFields::MAX_BYTES));
        assert!(matches!(
            SecretFields::from_json_bytes(big.as_bytes()),
            Err(crate::InputError::SecretTooLarge { .. })
        ));
        let err = SecretFields::from_json_bytes(b"{\"token\": 12345678}")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains("12345678"), "{err}");
    }
}
