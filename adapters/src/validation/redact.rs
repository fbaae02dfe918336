//! Keeps secret values out of every string a check produces: providers echo keys in their
//! messages (OpenAI prints a masked key), odd APIs echo them in answers, and transport errors
//! print URLs.

use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::{SecretFields, ServiceDefinition};
use zeroize::Zeroizing;

const REDACTED: &str = "<redacted>";

/// The secret values of one credential, for scrubbing text.
pub(crate) struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    /// Every field the catalog marks secret, and every field it does not know, is scrubbed.
    pub(crate) fn new(service: &ServiceDefinition, fields: &SecretFields) -> Self {
        let mut secrets: Vec<Zeroizing<String>> = fields
            .iter()
            .filter(|(name, value)| {
                !value.is_empty()
                    && service
                        .fields
                        .iter()
                        .find(|f| f.name == *name)
                        .is_none_or(|f| f.secret)
            })
            .map(|(_, value)| Zeroizing::new(value.expose().to_owned()))
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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
        assert_eq!(r.clean("abcdef", 3), "abc…");
    }
}
