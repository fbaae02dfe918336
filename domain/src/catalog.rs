//! The service catalog's types: which services exist, their fields and their rules, and the
//! live check ([`Probe`]) that tells whether a credential works. The data lives in
//! `domain/catalog/services.json`; this module parses and checks it, so a new service is a JSON
//! change, not a Rust one. Running a probe is the adapters' business (no I/O here).

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
    /// What the value looks like, shown in an empty input (never a real value).
    #[serde(default)]
    pub placeholder: Option<String>,
}

/// The longest placeholder a catalog field may have.
pub const MAX_PLACEHOLDER: usize = 120;

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
    /// How a credential is checked live; a service without one cannot be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// How a person connects an account with OAuth 2.0 instead of pasting a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthFlow>,
    /// Everything else the file says, kept for the adapters.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ServiceDefinition {
    /// Whether a secret field is given to those the credential is disclosed to (a resolve, an
    /// MCP server's copy). An OAuth service's refresh token is not when the ledger refreshes
    /// the credential itself (`client_here`: this deployment has a client for its provider;
    /// and its token has an expiry, `token_expires`): a consumer holding it could mint tokens
    /// after its access is withdrawn, or spend a rotating one and have the provider revoke the
    /// grant. A token nothing here refreshes (no client, or pasted without an expiry) goes with
    /// its refresh token, for the consumer to refresh with a client of its own.
    pub fn given_to_consumers(&self, field: &str, client_here: bool, token_expires: bool) -> bool {
        let refreshed_here = client_here && token_expires && self.oauth.is_some();
        !(refreshed_here && field == OAuthFlow::REFRESH_TOKEN)
    }

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
            let raw = fields.get(&spec.name).map(|v| v.expose());
            // Values travel in headers and URLs: no line breaks or other control characters,
            // and no surrounding spaces (a pasted token's trailing newline is the usual case;
            // the API trims before it asks).
            if let Some(raw) = raw.filter(|r| !r.trim().is_empty()) {
                if raw.chars().any(char::is_control) {
                    return Err(InputError::BadFieldFormat {
                        field: spec.name.clone(),
                        expected: "a value without line breaks or other control characters",
                    });
                }
                if raw.trim() != raw {
                    return Err(InputError::BadFieldFormat {
                        field: spec.name.clone(),
                        expected: "a value without leading or trailing spaces",
                    });
                }
            }
            let value = raw.map(str::trim);
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

    /// Whether the probe's URL starts from the service's own base URL (`{base_url}`), which a
    /// deployment can override ([`Catalog::with_base_url`]). Jira and Confluence take theirs
    /// from the credential's `url` field instead.
    pub fn honours_base_url(&self) -> bool {
        self.probe.as_ref().is_some_and(Probe::uses_base_url)
    }

    fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

fn check_format(field: &str, format: Option<FieldFormat>, value: &str) -> Result<(), InputError> {
    let ok = match format {
        None => true,
        Some(FieldFormat::Url) => {
            // A site's address and nothing more: a query (`?`), a fragment (`#`) or user info
            // (`name@host`) would let the value choose what the probe's path means.
            let rest = value
                .strip_prefix("https://")
                .or_else(|| value.strip_prefix("http://"));
            rest.is_some_and(|rest| {
                let authority = rest.split('/').next().unwrap_or_default();
                !authority.is_empty() && !authority.contains('@')
            }) && value.len() <= 2048
                && !value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
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
                Some(FieldFormat::Url) => "an http(s) site URL without user, query or fragment",
                Some(FieldFormat::Email) => "an email address",
                _ => "letters, digits, '-' or '_'",
            },
        })
    }
}

/// An OAuth 2.0 authorization-code flow (RFC 6749 §4.1, with PKCE S256, RFC 7636) through
/// which a person connects an account. The tokens land in the credential's `access_token` and
/// `refresh_token` fields; who the account is comes from the service's probe (for Google, the
/// OpenID Connect userinfo endpoint), so connecting and checking read it the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthFlow {
    /// Whose client this flow uses (`google`): services of one provider share a client, so a
    /// deployment configures `CREDLEDGER_OAUTH_GOOGLE_CLIENT_ID` once for Gmail and Calendar.
    pub provider: String,
    pub authorization_url: String,
    pub token_url: String,
    /// RFC 7009 token revocation; none when the provider has no such endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    pub scopes: Vec<String>,
    /// Extra authorization parameters (Google: `access_type=offline`, `prompt=consent`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization_params: BTreeMap<String, String>,
    /// Whether each refresh answers with a new refresh token that replaces the old one.
    #[serde(default)]
    pub refresh_tokens_rotate: bool,
}

impl OAuthFlow {
    /// The credential field holding the access token.
    pub const ACCESS_TOKEN: &'static str = "access_token";
    /// The credential field holding the refresh token.
    pub const REFRESH_TOKEN: &'static str = "refresh_token";

    fn check(&self, service: &ServiceDefinition) -> Result<(), String> {
        for url in [&self.authorization_url, &self.token_url]
            .into_iter()
            .chain(self.revocation_url.as_ref())
        {
            check_base_url(url).map_err(|e| format!("OAuth endpoint `{url}`: {e}"))?;
        }
        for field in [Self::ACCESS_TOKEN, Self::REFRESH_TOKEN] {
            if !service.fields.iter().any(|f| f.name == field && f.secret) {
                return Err(format!("OAuth needs a secret `{field}` field"));
            }
        }
        if service.probe.is_none() {
            return Err("OAuth needs a probe to read who the account is".into());
        }
        if self.provider.is_empty()
            || !self
                .provider
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err("OAuth `provider` must be lowercase letters, digits or '_'".into());
        }
        // RFC 6749 §3.3: at least one scope, each printable ASCII without space, `"` or `\`
        // (an empty list would be refused on the provider's page, not here).
        if self.scopes.is_empty() {
            return Err("OAuth needs at least one scope".into());
        }
        if let Some(bad) = self.scopes.iter().find(|scope| {
            scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        }) {
            return Err(format!(
                "OAuth scope {bad:?} is not one scope (RFC 6749 §3.3)"
            ));
        }
        Ok(())
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
            if let Some(f) = s.fields.iter().find(|f| {
                f.placeholder.as_deref().is_some_and(|p| {
                    p.chars().count() > MAX_PLACEHOLDER || p.chars().any(char::is_control)
                })
            }) {
                return Err(CatalogError::Invalid(format!(
                    "service `{}`: the placeholder of `{}` is longer than {MAX_PLACEHOLDER} \
                     characters or holds a control character",
                    s.key, f.name
                )));
            }
            if !s.fields.iter().any(|f| f.required && f.secret) {
                return Err(CatalogError::Invalid(format!(
                    "service `{}` has no required secret field",
                    s.key
                )));
            }
            if let Some(probe) = &s.probe {
                probe.check(s).map_err(|e| {
                    CatalogError::Invalid(format!("service `{}`: probe {e}", s.key))
                })?;
            }
            if let Some(oauth) = &s.oauth {
                oauth
                    .check(s)
                    .map_err(|e| CatalogError::Invalid(format!("service `{}`: {e}", s.key)))?;
            }
        }
        Ok(Self {
            services: file.services,
        })
    }

    pub fn services(&self) -> &[ServiceDefinition] {
        &self.services
    }

    /// Sends one service's probes to another base URL (a self-hosted Sentry, or the provider
    /// simulator in tests and `serve --dev`). Only services whose probe URL starts with
    /// `{base_url}` honour it — all built-in services but Jira and Confluence, whose site is the
    /// credential's own `url` field; for any other service this is an error.
    pub fn set_base_url(&mut self, key: &str, base_url: &str) -> Result<(), CatalogError> {
        let base = check_base_url(base_url)
            .map_err(|e| CatalogError::Invalid(format!("base URL for `{key}`: {e}")))?;
        let service = self
            .services
            .iter_mut()
            .find(|s| s.key.as_str() == key)
            .ok_or_else(|| CatalogError::Invalid(format!("unknown service `{key}`")))?;
        match service.probe.as_mut() {
            Some(probe) if probe.uses_base_url() => {
                probe.base_url = Some(base);
                Ok(())
            }
            _ => Err(CatalogError::Invalid(format!(
                "service `{key}` does not take a base URL: its probe does not start with {{base_url}}"
            ))),
        }
    }

    /// Sends one service's OAuth flow to other endpoints (the provider simulator in tests and
    /// `serve --dev`); the path of each endpoint is kept, its origin replaced by `origin`.
    pub fn set_oauth_origin(&mut self, key: &str, origin: &str) -> Result<(), CatalogError> {
        let invalid = |e: String| CatalogError::Invalid(format!("OAuth origin for `{key}`: {e}"));
        let origin = check_base_url(origin).map_err(|e| invalid(e.to_string()))?;
        let service = self
            .services
            .iter_mut()
            .find(|s| s.key.as_str() == key)
            .ok_or_else(|| CatalogError::Invalid(format!("unknown service `{key}`")))?;
        let flow = service
            .oauth
            .as_mut()
            .ok_or_else(|| invalid("the service has no OAuth flow".into()))?;
        let moved = |url: &str| -> String {
            let rest = url.split_once("://").map_or("", |(_, rest)| rest);
            let path = rest.find('/').map_or("", |at| &rest[at..]);
            format!("{}{path}", origin.trim_end_matches('/'))
        };
        flow.authorization_url = moved(&flow.authorization_url);
        flow.token_url = moved(&flow.token_url);
        flow.revocation_url = flow.revocation_url.as_deref().map(moved);
        Ok(())
    }

    /// [`Catalog::set_base_url`], builder style.
    pub fn with_base_url(mut self, key: &str, base_url: &str) -> Result<Self, CatalogError> {
        self.set_base_url(key, base_url)?;
        Ok(self)
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

/// The HTTP method of a probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProbeMethod {
    #[default]
    Get,
    Post,
}

/// How a probe authenticates, naming the credential fields it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeAuth {
    /// `Authorization: Bearer <field>`.
    Bearer { field: String },
    /// `Authorization: Basic base64(<username>:<password>)`, both credential fields.
    Basic { username: String, password: String },
    /// A header of its own carrying the field, e.g. `x-api-key`.
    Header { name: String, field: String },
}

impl ProbeAuth {
    /// The secret field the provider authenticates; its fingerprint is `{key_fingerprint}`.
    pub fn secret_field(&self) -> &str {
        match self {
            Self::Bearer { field } | Self::Header { field, .. } => field,
            Self::Basic { password, .. } => password,
        }
    }

    fn fields(&self) -> Vec<&str> {
        match self {
            Self::Bearer { field } | Self::Header { field, .. } => vec![field],
            Self::Basic { username, password } => vec![username, password],
        }
    }
}

/// Where a valid answer says whose account the credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityTemplate {
    /// The account's stable id; an answer without it cannot be trusted as valid.
    pub id: Template,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Template>,
}

/// Where a valid answer lists the credential's scopes, and how they are separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopesTemplate {
    pub from: Template,
    /// Split on this, then trimmed (`" "` for OAuth's space-separated `scope`, `","` for a
    /// comma-separated header).
    #[serde(default = "ScopesTemplate::default_separator")]
    pub separator: String,
}

impl ScopesTemplate {
    fn default_separator() -> String {
        " ".to_owned()
    }
}

/// One HTTP request that checks a credential, and how its answer reads.
///
/// Templates (`url`, identity, metadata, scopes, `expires_in`) are strings with placeholders:
/// `{base_url}` (the service's base URL, only at the start of `url`), `{field}` (a non-secret
/// credential field), `{/json/pointer}` (the answer's JSON; a `*` step maps over an array's
/// items and joins them with ", ", a final `#` step counts them), `{header:name}` (an answer
/// header) and `{key_fingerprint}` (the first 12 hex digits of the SHA-256 of the secret named by
/// `auth`, for APIs that say nothing about the account: never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub method: ProbeMethod,
    /// The public API's base URL, what `{base_url}` stands for unless overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub url: Template,
    pub auth: ProbeAuth,
    /// Constant headers the API requires (`Notion-Version`, `anthropic-version`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body, for `POST` probes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Statuses (2xx) that mean the credential works.
    #[serde(default = "Probe::default_valid_statuses")]
    pub valid_statuses: Vec<u16>,
    /// Statuses (4xx, not 429) that mean the provider refused the credential.
    #[serde(default = "Probe::default_invalid_statuses")]
    pub invalid_statuses: Vec<u16>,
    pub identity: IdentityTemplate,
    /// Facts shown beside the credential (workspace, site, project slugs, model count…).
    #[serde(default)]
    pub metadata: BTreeMap<String, Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<ScopesTemplate>,
    /// Seconds until the credential expires, when the answer says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<Template>,
    /// JSON pointers to the provider's own message in an error answer, tried in order; a body
    /// that is not JSON is taken as plain text.
    #[serde(default)]
    pub error_message: Vec<String>,
}

/// Headers a probe may not set: authentication comes from `auth`, framing from the client.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

impl Probe {
    fn default_valid_statuses() -> Vec<u16> {
        vec![200]
    }
    /// Unless a probe says otherwise, only a 401 says the provider does not take the secret: a
    /// 403 also comes from a CDN that distrusts the caller's address, a region a provider does
    /// not serve or a sign-in CAPTCHA, none of which is about the key (they are "could not
    /// check"). Sentry's probe names 403 too: its 403 says the token cannot read that
    /// organization, which is what the credential is for.
    fn default_invalid_statuses() -> Vec<u16> {
        vec![401]
    }

    /// Whether the URL starts with `{base_url}`.
    pub fn uses_base_url(&self) -> bool {
        matches!(self.url.parts().first(), Some(TemplatePart::BaseUrl))
    }

    fn check(&self, service: &ServiceDefinition) -> Result<(), String> {
        self.check_url(service)?;
        for name in self.auth.fields() {
            if service.field(name).is_none() {
                return Err(format!("auth names unknown field `{name}`"));
            }
        }
        let secret = self.auth.secret_field();
        if !service.field(secret).is_some_and(|f| f.secret) {
            return Err(format!(
                "auth sends `{secret}`, which is not a secret field"
            ));
        }
        if let ProbeAuth::Header { name, .. } = &self.auth {
            check_header_name(name)?;
        }
        for (name, value) in &self.headers {
            check_header_name(name)?;
            if value.is_empty() || !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
                return Err(format!(
                    "header `{name}` has a value that is not printable ASCII"
                ));
            }
        }
        if self.body.is_some() && self.method != ProbeMethod::Post {
            return Err("has a body but is not a POST".to_owned());
        }
        if self.valid_statuses.is_empty()
            || self.valid_statuses.iter().any(|s| !(200..300).contains(s))
        {
            return Err("valid_statuses must be 2xx statuses".to_owned());
        }
        if self.invalid_statuses.is_empty()
            || self
                .invalid_statuses
                .iter()
                .any(|s| !(400..500).contains(s) || *s == 429)
        {
            return Err("invalid_statuses must be 4xx statuses other than 429".to_owned());
        }
        self.check_answer_template("identity.id", &self.identity.id, service)?;
        if !self
            .identity
            .id
            .parts()
            .iter()
            .any(|p| !matches!(p, TemplatePart::Literal(_)))
        {
            return Err("identity.id is a constant: every credential would be one account".into());
        }
        let optional = [
            ("identity.display_name", self.identity.display_name.as_ref()),
            ("identity.email", self.identity.email.as_ref()),
            ("scopes.from", self.scopes.as_ref().map(|s| &s.from)),
            ("expires_in", self.expires_in.as_ref()),
        ];
        for (what, template) in optional {
            if let Some(t) = template {
                self.check_answer_template(what, t, service)?;
            }
        }
        for (key, template) in &self.metadata {
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!("metadata key `{key}` is not snake_case"));
            }
            self.check_answer_template(&format!("metadata.{key}"), template, service)?;
        }
        if self.scopes.as_ref().is_some_and(|s| s.separator.is_empty()) {
            return Err("scopes.separator is empty".to_owned());
        }
        for pointer in &self.error_message {
            if !pointer.starts_with('/') {
                return Err(format!("error_message `{pointer}` is not a JSON pointer"));
            }
        }
        Ok(())
    }

    fn check_url(&self, service: &ServiceDefinition) -> Result<(), String> {
        let parts = self.url.parts();
        match parts.first() {
            Some(TemplatePart::BaseUrl) => match &self.base_url {
                Some(base) => {
                    check_base_url(base)?;
                }
                None => return Err("url starts with {base_url} but no base_url is given".into()),
            },
            Some(TemplatePart::Field(name)) => {
                if service.field(name).map(|f| f.format) != Some(Some(FieldFormat::Url)) {
                    return Err(format!(
                        "url starts with `{name}`, which is not a URL field"
                    ));
                }
            }
            Some(TemplatePart::Literal(text))
                if text.starts_with("https://") || text.starts_with("http://") => {}
            _ => return Err("url must start with {base_url}, a URL field or http(s)://".into()),
        }
        if self.base_url.is_some() && !self.uses_base_url() {
            return Err("has a base_url that its url does not use".to_owned());
        }
        for part in parts.iter().skip(1) {
            match part {
                TemplatePart::Literal(text) => {
                    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        return Err("url contains whitespace".to_owned());
                    }
                }
                TemplatePart::Field(name) => check_plain_field(service, "url", name)?,
                other => return Err(format!("url cannot contain {}", other.describe())),
            }
        }
        Ok(())
    }

    fn check_answer_template(
        &self,
        what: &str,
        template: &Template,
        service: &ServiceDefinition,
    ) -> Result<(), String> {
        for part in template.parts() {
            match part {
                TemplatePart::Field(name) => check_plain_field(service, what, name)?,
                TemplatePart::BaseUrl => return Err(format!("{what} cannot contain {{base_url}}")),
                TemplatePart::Literal(_)
                | TemplatePart::Pointer(_)
                | TemplatePart::Header(_)
                | TemplatePart::KeyFingerprint => {}
            }
        }
        Ok(())
    }
}

/// A field a template may show: it must exist and not be secret (URLs and identities end up in
/// logs and events).
fn check_plain_field(service: &ServiceDefinition, what: &str, name: &str) -> Result<(), String> {
    match service.field(name) {
        None => Err(format!("{what} names unknown field `{name}`")),
        Some(f) if f.secret => Err(format!("{what} names secret field `{name}`")),
        Some(_) => Ok(()),
    }
}

fn check_header_name(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if !token {
        return Err(format!("header name `{name}` is not valid"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("header `{name}` cannot be set by a probe"));
    }
    Ok(())
}

/// Checks an http(s) base URL without path-breaking characters; answers it without a trailing
/// slash, so `{base_url}/v1/…` never doubles it.
fn check_base_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || url.len() > 2048
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(format!("`{url}` is not a plain http(s) base URL"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// One step of a `{/json/pointer}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointerStep {
    /// An object member or an array index (RFC 6901, `~0`/`~1` unescaped).
    Key(String),
    /// `*`: every item of an array.
    Each,
    /// `#` (last step only): the number of items.
    Count,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Literal(String),
    /// `{base_url}`
    BaseUrl,
    /// `{name}`: a credential field.
    Field(String),
    /// `{/a/b}`: a value of the answer's JSON body.
    Pointer(Vec<PointerStep>),
    /// `{header:name}` (lowercase): an answer header.
    Header(String),
    /// `{key_fingerprint}`
    KeyFingerprint,
}

impl TemplatePart {
    fn describe(&self) -> String {
        match self {
            Self::Literal(_) => "text".to_owned(),
            Self::BaseUrl => "{base_url}".to_owned(),
            Self::Field(name) => format!("{{{name}}}"),
            Self::Pointer(_) => "a JSON pointer".to_owned(),
            Self::Header(name) => format!("{{header:{name}}}"),
            Self::KeyFingerprint => "{key_fingerprint}".to_owned(),
        }
    }
}

/// A string with `{…}` placeholders, parsed once when the catalog is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    text: String,
    parts: Vec<TemplatePart>,
}

impl Template {
    /// Parses the placeholders; which of them a template may use is checked with its probe.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(TemplatePart::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("`{text}` has an unclosed {{"))?;
            parts.push(parse_placeholder(&after[..close]).map_err(|e| format!("`{text}`: {e}"))?);
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// The literal text and placeholders, in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The template as written in the catalog.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_placeholder(inner: &str) -> Result<TemplatePart, String> {
    if let Some(pointer) = inner.strip_prefix('/') {
        let raw: Vec<&str> = pointer.split('/').collect();
        let mut steps = Vec::with_capacity(raw.len());
        for (i, step) in raw.iter().enumerate() {
            steps.push(match *step {
                "*" => PointerStep::Each,
                "#" if i + 1 == raw.len() => PointerStep::Count,
                "#" => return Err("`#` must be the last step of a pointer".to_owned()),
                key => PointerStep::Key(key.replace("~1", "/").replace("~0", "~")),
            });
        }
        return Ok(TemplatePart::Pointer(steps));
    }
    if let Some(name) = inner.strip_prefix("header:") {
        check_header_name(name).or_else(|e| {
            // Reading a reserved header back is harmless; only its syntax matters here.
            if e.contains("cannot be set") {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        return Ok(TemplatePart::Header(name.to_ascii_lowercase()));
    }
    match inner {
        "base_url" => Ok(TemplatePart::BaseUrl),
        "key_fingerprint" => Ok(TemplatePart::KeyFingerprint),
        name if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
        {
            Ok(TemplatePart::Field(name.to_owned()))
        }
        other => Err(format!("`{{{other}}}` is not a placeholder")),
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Template> for String {
    fn from(t: Template) -> Self {
        t.text
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
        // Values that would travel in a header are refused with a line break or spaces around.
        for token in ["t\n", " t", "t\r\nX-Injected: 1", "t\u{0}"] {
            assert!(
                matches!(
                    jira.check_fields(&f(&[
                        ("url", "https://x.atlassian.net"),
                        ("email", "a@b.co"),
                        ("api_token", token)
                    ])),
                    Err(InputError::BadFieldFormat { .. })
                ),
                "{token:?}"
            );
        }
        // A site URL cannot choose the probe's path or carry user info.
        for url in [
            "https://x.atlassian.net/admin?",
            "https://x.atlassian.net/admin#",
            "https://x.atlassian.net@127.0.0.1",
            "https://",
            "https:///path",
        ] {
            assert!(
                matches!(
                    jira.check_fields(&f(&[("url", url), ("email", "a@b.co"), ("api_token", "t")])),
                    Err(InputError::BadFieldFormat { .. })
                ),
                "{url}"
            );
        }
        assert!(matches!(
            jira.check_fields(&f(&[("bogus", "x")])),
            Err(InputError::UnknownField { .. })
        ));
        assert_eq!(
            catalog.enabled_service("myspace").err(),
            Some(InputError::UnknownService("myspace".into()))
        );
    }

    #[test]
    fn placeholders_are_short_single_lines() {
        let with = |placeholder: &str| {
            acme(
                &format!(
                    r#"[{{"name": "api_key", "label": "Key", "required": true,
                          "secret": true, "placeholder": {placeholder}}}]"#
                ),
                "null",
            )
        };
        let catalog = with("\"Starts with ak_\"").expect("a short placeholder");
        assert_eq!(
            catalog.services()[0].fields[0].placeholder.as_deref(),
            Some("Starts with ak_")
        );
        let long = serde_json::to_string(&"x".repeat(MAX_PLACEHOLDER + 1)).expect("json");
        assert!(matches!(with(&long), Err(CatalogError::Invalid(m)) if m.contains("placeholder")));
        assert!(
            matches!(with("\"two\\nlines\""), Err(CatalogError::Invalid(m)) if m.contains("placeholder"))
        );
        assert!(Catalog::builtin()
            .services()
            .iter()
            .all(|s| s.fields.iter().any(|f| f.placeholder.is_some())));
    }

    fn one_service(probe: &str) -> Result<Catalog, CatalogError> {
        acme(
            r#"[
                {"name": "api_key", "label": "Key", "required": true, "secret": true},
                {"name": "region", "label": "Region", "required": false, "secret": false}
            ]"#,
            probe,
        )
    }

    /// A catalog of one service, `acme`, with these fields and this probe (JSON).
    fn acme(fields: &str, probe: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_json(&format!(
            r#"{{"services": [{{
                "key": "acme", "display_name": "Acme", "description": "", "docs_url": "",
                "icon": "acme", "auth_type": "api_key", "multi_account": false,
                "token_refresh": false, "revocation": false, "rate_limit_per_minute": null,
                "rate_limit_per_hour": null, "enabled": true, "beta": false,
                "fields": {fields},
                "probe": {probe}
            }}]}}"#
        ))
    }

    #[test]
    fn every_builtin_service_has_a_probe() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.services().len(), 10);
        for s in catalog.services() {
            assert!(s.probe.is_some(), "{} has no probe", s.key);
        }
        let honouring: Vec<&str> = catalog
            .services()
            .iter()
            .filter(|s| !s.honours_base_url())
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(honouring, ["jira", "confluence"]);
    }

    #[test]
    fn a_well_formed_catalog_probe_loads() {
        let catalog = one_service(
            r#"{"base_url": "https://api.acme.test", "url": "{base_url}/v2/{region}/whoami",
                "auth": {"scheme": "header", "name": "X-Acme-Key", "field": "api_key"},
                "identity": {"id": "{/account/id}", "email": "{/account/email}"},
                "metadata": {"plan": "{header:x-plan}", "teams": "{/teams/*/name}", "team_count": "{/teams/#}"},
                "scopes": {"from": "{header:x-scopes}", "separator": ","},
                "error_message": ["/error/detail"]}"#,
        )
        .expect("valid probe");
        let probe = catalog.services()[0].probe.clone().expect("probe");
        assert_eq!(
            probe.metadata["team_count"].parts(),
            [TemplatePart::Pointer(vec![
                PointerStep::Key("teams".into()),
                PointerStep::Count
            ])]
        );
        assert_eq!(probe.valid_statuses, [200]);
        assert_eq!(probe.invalid_statuses, [401]);
    }

    #[test]
    fn a_probe_naming_an_unknown_field_is_refused_at_load() {
        let err = one_service(
            r#"{"base_url": "https://api.acme.test", "url": "{base_url}/v1/{tenant}/me",
                "auth": {"scheme": "bearer", "field": "api_key"},
                "identity": {"id": "{/id}"}}"#,
        );
        assert!(
            matches!(&err, Err(CatalogError::Invalid(m)) if m.contains("unknown field `tenant`")),
            "{err:?}"
        );
        let err = one_service(
            r#"{"base_url": "https://api.acme.test", "url": "{base_url}/v1/me",
                "auth": {"scheme": "bearer", "field": "token"},
                "identity": {"id": "{/id}"}}"#,
        );
        assert!(matches!(err, Err(CatalogError::Invalid(_))));
    }

    #[test]
    fn a_probe_may_not_put_a_secret_in_its_url_or_identity() {
        for probe in [
            r#"{"url": "https://api.acme.test/v1/{api_key}", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}}"#,
            r#"{"url": "https://api.acme.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{api_key}"}}"#,
            r#"{"url": "https://api.acme.test/v1", "auth": {"scheme": "bearer", "field": "region"}, "identity": {"id": "{/id}"}}"#,
        ] {
            assert!(
                matches!(one_service(probe), Err(CatalogError::Invalid(_))),
                "{probe}"
            );
        }
    }

    #[test]
    fn malformed_probes_are_refused_at_load() {
        for probe in [
            r#"{"url": "{base_url}/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}}"#,
            r#"{"url": "https://a.test/{/id", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "constant"}}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}, "headers": {"Authorization": "x"}}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}, "valid_statuses": [400]}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}, "invalid_statuses": [429]}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}, "body": {}}"#,
            r#"{"url": "https://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}, "typo": 1}"#,
            r#"{"url": "ftp://a.test/v1", "auth": {"scheme": "bearer", "field": "api_key"}, "identity": {"id": "{/id}"}}"#,
        ] {
            assert!(
                matches!(one_service(probe), Err(CatalogError::Invalid(_))),
                "{probe}"
            );
        }
    }

    #[test]
    fn an_oauth_flow_without_a_scope_or_with_a_malformed_one_is_refused_at_load() {
        let builtin: serde_json::Value =
            serde_json::from_str(include_str!("../catalog/services.json")).expect("json");
        let with_gmail_scopes = |scopes: serde_json::Value| {
            let mut file = builtin.clone();
            let gmail = file["services"]
                .as_array_mut()
                .expect("services")
                .iter_mut()
                .find(|s| s["key"] == "gmail")
                .expect("gmail");
            gmail["oauth"]["scopes"] = scopes;
            Catalog::from_json(&file.to_string())
        };
        assert!(with_gmail_scopes(serde_json::json!(["openid", "email"])).is_ok());
        for scopes in [
            serde_json::json!([]),
            serde_json::json!([""]),
            serde_json::json!(["openid email"]),
            serde_json::json!(["openid", "a\"b"]),
            serde_json::json!(["é"]),
        ] {
            let err = with_gmail_scopes(scopes.clone());
            assert!(
                matches!(&err, Err(CatalogError::Invalid(m)) if m.contains("gmail") && m.contains("scope")),
                "{scopes}: {err:?}"
            );
        }
    }

    #[test]
    fn a_base_url_override_applies_only_to_services_that_take_one() {
        let catalog = Catalog::builtin()
            .with_base_url("notion", "http://127.0.0.1:9999/notion/")
            .expect("notion takes a base URL");
        let notion = catalog.enabled_service("notion").expect("notion");
        assert_eq!(
            notion.probe.as_ref().and_then(|p| p.base_url.as_deref()),
            Some("http://127.0.0.1:9999/notion")
        );
        assert!(Catalog::builtin()
            .with_base_url("jira", "http://127.0.0.1:9999")
            .is_err());
        assert!(Catalog::builtin()
            .with_base_url("myspace", "http://127.0.0.1:9999")
            .is_err());
        assert!(Catalog::builtin()
            .with_base_url("notion", "file:///etc")
            .is_err());
    }
}
