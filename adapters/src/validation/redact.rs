//! Keeps secret values out of every string a check produces: providers echo keys in their
//! messages (OpenAI prints a masked key), odd APIs echo them in answers, and transport errors
//! print URLs.

use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::{SecretFields, ServiceDefinition};
use zeroize::Zeroizing;

const REDACTED: &str = "<redacted>";
/// What is left of a text that held a secret in a form that cannot be cut out.
const WITHHELD: &str = "<withheld: the text contained the credential>";

/// A secret as it may come back: as is, JSON-escaped, percent-encoded, in base64 (standard and
/// URL-safe, with and without padding), and inside HTTP Basic credentials with any other field
/// as the user name (`user:secret` in base64).
fn encodings(secret: &str, values: &[&str]) -> Vec<Zeroizing<String>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    let mut plain: Vec<Zeroizing<String>> = vec![Zeroizing::new(secret.to_owned())];
    if let Ok(json) = serde_json::to_string(secret) {
        plain.push(Zeroizing::new(json.trim_matches('"').to_owned()));
    }
    plain.push(percent_encoded(secret, false));
    plain.push(percent_encoded(secret, true));
    let mut out = plain.clone();
    let mut basic: Vec<Zeroizing<String>> = vec![
        Zeroizing::new(secret.to_owned()),
        Zeroizing::new(format!(":{secret}")),
        Zeroizing::new(format!("{secret}:")),
    ];
    for user in values.iter().filter(|v| **v != secret && !v.is_empty()) {
        basic.push(Zeroizing::new(format!("{user}:{secret}")));
    }
    for text in &basic {
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            out.push(Zeroizing::new(engine.encode(text.as_bytes())));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// `text` with every `%XX` decoded (invalid UTF-8 replaced).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with every byte but the unreserved ones (RFC 3986) as `%XX`, in upper or lower case.
fn percent_encoded(text: &str, lower: bool) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() * 3));
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secret values of one credential, for scrubbing text.
pub(crate) struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    /// Every field the catalog marks secret, and every field it does not know, is scrubbed.
    pub(crate) fn new(service: &ServiceDefinition, fields: &SecretFields) -> Self {
        let values: Vec<&str> = fields.iter().map(|(_, v)| v.expose()).collect();
        let mut secrets: Vec<Zeroizing<String>> = Vec::new();
        for (name, value) in fields.iter() {
            let secret = !value.is_empty()
                && service
                    .fields
                    .iter()
                    .find(|f| f.name == *name)
                    .is_none_or(|f| f.secret);
            if secret {
                secrets.extend(encodings(value.expose(), &values));
            }
        }
        Self::sorted(secrets)
    }

    /// Each of `secrets` in every encoding `encodings` knows, `others` being the values a
    /// secret may be paired with in HTTP Basic credentials (a client id).
    pub(crate) fn of(secrets: &[&str], others: &[&str]) -> Self {
        Self::sorted(
            secrets
                .iter()
                .filter(|s| !s.is_empty())
                .flat_map(|s| encodings(s, others))
                .collect(),
        )
    }

    fn sorted(mut secrets: Vec<Zeroizing<String>>) -> Self {
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` without any secret value, masked echo of one, or control character, and at most
    /// `max_chars` long.
    pub(crate) fn clean(&self, text: &str, max_chars: usize) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        // What is left may still hold a secret in a form that cannot be cut out: broken across
        // lines or spaces, or percent-encoded some other way. Then none of the text is kept.
        let squeezed: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = percent_decoded(&out);
        let decoded_squeezed: String = decoded.chars().filter(|c| !c.is_whitespace()).collect();
        if self.secrets.iter().any(|s| {
            s.chars().count() >= 8
                && [&squeezed, &decoded, &decoded_squeezed]
                    .iter()
                    .any(|t| t.contains(s.as_str()))
        }) {
            return WITHHELD.to_owned();
        }
        let out = self.without_masked_echoes(&out);
        let cleaned: String = out
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let cleaned = cleaned.trim();
        if cleaned.chars().count() > max_chars {
            let mut cut: String = cleaned.chars().take(max_chars).collect();
            cut.push('…');
            cut
        } else {
            cleaned.to_owned()
        }
    }

    /// Words like `sk-abc***wxyz`: a prefix and a suffix of a secret around a run of `*`, `…`
    /// or `...`. They leak part of the key, so they go too.
    fn without_masked_echoes(&self, text: &str) -> String {
        if !text.contains("**") && !text.contains('…') && !text.contains("...") {
            return text.to_owned();
        }
        text.split(' ')
            .map(|word| {
                let bare = word.trim_matches(|c: char| ",;:\"'()[]{}<>".contains(c));
                let bare = bare.strip_suffix('.').unwrap_or(bare);
                if self.is_masked_echo(bare) {
                    word.replace(bare, REDACTED)
                } else {
                    word.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn is_masked_echo(&self, word: &str) -> bool {
        let start = [word.find('*'), word.find('…'), word.find("...")]
            .into_iter()
            .flatten()
            .min();
        let end = [
            word.rfind('*').map(|i| i + 1),
            word.rfind('…').map(|i| i + '…'.len_utf8()),
            word.rfind("...").map(|i| i + 3),
        ]
        .into_iter()
        .flatten()
        .max();
        let (Some(start), Some(end)) = (start, end) else {
            return false;
        };
        let (prefix, suffix) = (&word[..start], &word[end..]);
        if prefix.is_empty() && suffix.is_empty() {
            return false;
        }
        self.secrets.iter().any(|s| {
            s.len() > prefix.len() + suffix.len() && s.starts_with(prefix) && s.ends_with(suffix)
        })
    }

    /// The outcome with every string scrubbed.
    pub(crate) fn outcome(&self, outcome: ValidationOutcome) -> ValidationOutcome {
        match outcome {
            ValidationOutcome::Valid {
                mut account,
                provider_metadata,
                scopes,
                expires_at,
            } => {
                account.id = self.clean(&account.id, 512);
                account.display_name = account.display_name.map(|n| self.clean(&n, 256));
                account.email = account.email.map(|e| self.clean(&e, 320));
                ValidationOutcome::Valid {
                    account,
                    provider_metadata: provider_metadata
                        .into_iter()
                        .map(|(k, v)| (k, self.clean(&v, 1024)))
                        .collect(),
                    scopes: scopes.into_iter().map(|s| self.clean(&s, 256)).collect(),
                    expires_at,
                }
            }
            ValidationOutcome::Invalid { message } => ValidationOutcome::Invalid {
                message: self.clean(&message, 500),
            },
            ValidationOutcome::CouldNotCheck { reason } => ValidationOutcome::CouldNotCheck {
                reason: self.clean(&reason, 500),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_domain::Catalog;

    fn redactor(key: &str) -> Redactor {
        let catalog = Catalog::builtin();
        let service = catalog.enabled_service("openai").expect("openai");
        let fields: SecretFields = [
            ("api_key".to_owned(), key.to_owned()),
            ("model".to_owned(), "gpt-4o".to_owned()),
        ]
        .into_iter()
        .collect();
        Redactor::new(service, &fields)
    }

    #[test]
    fn secret_values_and_masked_echoes_are_scrubbed() {
        let r = redactor("sk-canary1234567890wxyz");
        assert_eq!(
            r.clean(
                "Incorrect API key provided: sk-can*************wxyz. See docs.",
                500
            ),
            "Incorrect API key provided: <redacted>. See docs."
        );
        assert_eq!(
            r.clean("key sk-canary1234567890wxyz\nis bad for gpt-4o", 500),
            "key <redacted> is bad for gpt-4o"
        );
        assert_eq!(r.clean("wait... then retry", 500), "wait... then retry");
        // Encoded echoes: base64 (Basic with another field as the user), percent-encoded.
        use base64::Engine as _;
        let basic =
            base64::engine::general_purpose::STANDARD.encode("gpt-4o:sk-canary1234567890wxyz");
        assert_eq!(
            r.clean(&format!("got Authorization: Basic {basic}"), 500),
            "got Authorization: Basic <redacted>"
        );
        let b64 =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("sk-canary1234567890wxyz");
        assert!(!r.clean(&format!("token={b64}"), 500).contains(&b64));
        let r = redactor("sk-canary/12345+67890=wxyz");
        assert_eq!(
            r.clean("key=sk-canary%2F12345%2B67890%3Dwxyz&x=1", 500),
            "key=<redacted>&x=1"
        );
        assert_eq!(
            r.clean("key=sk-canary%2f12345%2b67890%3dwxyz", 500),
            "key=<redacted>"
        );
        // Percent-encoded beyond what RFC 3986 asks, or split across lines: nothing is kept.
        assert_eq!(
            r.clean("key=sk%2Dcanary%2F12345%2B67890%3Dwxyz", 500),
            WITHHELD
        );
        assert_eq!(
            r.clean("key sk-canary/12345\n+67890=wxyz was refused", 500),
            WITHHELD
        );
        assert_eq!(r.clean("abcdef", 3), "abc…");
    }
}
