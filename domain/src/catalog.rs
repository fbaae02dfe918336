//! The service catalog's types: which services exist, their fields and their rules. The data
//! lives in `domain/catalog/services.json`; this module parses and checks it.

use crate::{InputError, SecretFields, ServiceKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    ApiToken,
    ApiKey,
    Oauth2,
    BasicAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldFormat {
    Url,
    Email,
    Slug,
}

/// One field a service's credential has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    pub label: String,
    pub required: bool,
    pub secret: bool,
    #[serde(default)]
    pub format: Option<FieldFormat>,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDefinition {
    pub key: ServiceKey,
    pub display_name: String,
    pub description: String,
    pub docs_url: String,
    pub icon: String,
    pub auth_type: AuthType,
    pub fields: Vec<FieldSpec>,
    pub multi_account: bool,
    pub token_refresh: bool,
    pub revocation: bool,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_per_hour: Option<u32>,
    pub enabled: bool,
    pub beta: bool,
    /// Everything else the file says (validation probes and the like), kept for the adapters.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ServiceDefinition {
    /// Checks a credential's fields against this service: every required field present and
    /// non-empty, no unknown field, formats respected, 64 KiB at most.
    pub fn check_fields(&self, fields: &SecretFields) -> Result<(), InputError> {
        if fields.encoded_len() > SecretFields::MAX_BYTES {
            return Err(InputError::SecretTooLarge {
                max: SecretFields::MAX_BYTES,
            });
        }
        for name in fields.names() {
            if !self.fields.iter().any(|f| f.name == name) {
                return Err(InputError::UnknownField {
                    service: self.key.to_string(),
                    field: name.chars().take(64).collect(),
                });
            }
        }
        for spec in &self.fields {
            let value = fields.get(&spec.name).map(|v| v.expose().trim());
            match value {
                None | Some("") if spec.required => {
                    return Err(InputError::MissingField {
                        service: self.key.to_string(),
                        field: spec.name.clone(),
                    })
                }
                Some(v) if !v.is_empty() => check_format(&spec.name, spec.format, v)?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_format(field: &str, format: Option<FieldFormat>, value: &str) -> Result<(), InputError> {
    let ok = match format {
        None => true,
        Some(FieldFormat::Url) => {
            (value.starts_with("https://") || value.starts_with("http://"))
                && value.len() <= 2048
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        Some(FieldFormat::Email) => {
            let mut parts = value.splitn(2, '@');
            matches!((parts.next(), parts.next()), (Some(l), Some(d)) if !l.is_empty() && d.contains('.') && !value.contains(char::is_whitespace))
        }
        Some(FieldFormat::Slug) => value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
    };
    if ok {
        Ok(())
    } else {
        Err(InputError::BadFieldFormat {
            field: field.to_owned(),
            expected: match format {
                Some(FieldFormat::Url) => "an http(s) URL",
                Some(FieldFormat::Email) => "an email address",
                _ => "letters, digits, '-' or '_'",
            },
        })
    }
}

/// Why a catalog file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("the service catalog is not valid: {0}")]
    Invalid(String),
}

/// The services credledger knows, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    services: Vec<ServiceDefinition>,
}

#[derive(Deserialize)]
struct CatalogFile {
    services: Vec<ServiceDefinition>,
}

impl Catalog {
    /// The catalog shipped with credledger.
    pub fn builtin() -> Self {
        // The built-in file is checked by a unit test; an empty catalog is the only fallback.
        Self::from_json(include_str!("../catalog/services.json")).unwrap_or(Self {
            services: Vec::new(),
        })
    }

    pub fn from_json(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        for s in &file.services {
            if !seen.insert(s.key.clone()) {
                return Err(CatalogError::Invalid(format!("service `{}` twice", s.key)));
            }
            if !s.fields.iter().any(|f| f.required && f.secret) {
                return Err(CatalogError::Invalid(format!(
                    "service `{}` has no required secret field",
                    s.key
                )));
            }
        }
        Ok(Self {
            services: file.services,
        })
    }

    pub fn services(&self) -> &[ServiceDefinition] {
        &self.services
    }

    pub fn get(&self, key: &ServiceKey) -> Option<&ServiceDefinition> {
        self.services.iter().find(|s| &s.key == key)
    }

    /// Parses a service key and finds it, refusing unknown and disabled services.
    pub fn enabled_service(&self, key: &str) -> Result<&ServiceDefinition, InputError> {
        let parsed = ServiceKey::parse(key)
            .map_err(|_| InputError::UnknownService(key.chars().take(64).collect()))?;
        let def = self
            .get(&parsed)
            .ok_or_else(|| InputError::UnknownService(parsed.to_string()))?;
        if !def.enabled {
            return Err(InputError::ServiceDisabled(parsed.to_string()));
        }
        Ok(def)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_has_the_ten_services() {
        let catalog = Catalog::from_json(include_str!("../catalog/services.json"));
        let keys: Vec<String> = catalog
            .map(|c| c.services().iter().map(|s| s.key.to_string()).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "notion",
                "jira",
                "todoist",
                "sentry",
                "confluence",
                "gmail",
                "google_calendar",
                "openai",
                "anthropic",
                "mistral"
            ]
        );
    }

    #[test]
    fn fields_are_checked_against_the_service() {
        let catalog = Catalog::builtin();
        let jira = catalog.enabled_service("jira").expect("jira");
        let f = |pairs: &[(&str, &str)]| -> SecretFields {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(jira
            .check_fields(&f(&[
                ("url", "https://x.atlassian.net"),
                ("email", "a@b.co"),
                ("api_token", "t")
            ]))
            .is_ok());
        assert_eq!(
            jira.check_fields(&f(&[("url", "https://x"), ("email", "a@b.co")])),
            Err(InputError::MissingField {
                service: "jira".into(),
                field: "api_token".into()
            })
        );
        assert!(matches!(
            jira.check_fields(&f(&[
                ("url", "ftp://x"),
                ("email", "a@b.co"),
                ("api_token", "t")
            ])),
            Err(InputError::BadFieldFormat { .. })
        ));
        assert!(matches!(
            jira.check_fields(&f(&[("bogus", "x")])),
            Err(InputError::UnknownField { .. })
        ));
        assert_eq!(
            catalog.enabled_service("myspace").err(),
            Some(InputError::UnknownService("myspace".into()))
        );
    }
}
