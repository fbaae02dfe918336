//! A catalog [`Probe`] turned into an HTTP request, and its answer read back into a
//! [`ValidationOutcome`]. Pure functions: the sending is in `http.rs`.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use credledger_domain::catalog::{PointerStep, Probe, ProbeAuth, ProbeMethod, TemplatePart};
use credledger_domain::keyring::{AccountIdentity, ValidationOutcome};
use credledger_domain::{SecretFields, ServiceDefinition};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Everything needed to send (and resend) one probe.
pub(crate) struct PreparedRequest {
    pub(crate) method: reqwest::Method,
    pub(crate) url: reqwest::Url,
    /// Authentication headers are marked sensitive, so they never show in `Debug`.
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Vec<u8>>,
}

/// An answer as read (the body capped by the caller).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Builds the request, or says (without any field value) why it cannot be built.
pub(crate) fn prepare(
    service: &ServiceDefinition,
    probe: &Probe,
    fields: &SecretFields,
) -> Result<PreparedRequest, String> {
    let url = build_url(service, probe, fields)?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, value) in &probe.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header `{name}` of the {} probe is not valid", service.key))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("header `{name}` of the {} probe is not valid", service.key))?;
        headers.insert(name, value);
    }
    let (name, mut value) = match &probe.auth {
        ProbeAuth::Bearer { field } => (
            AUTHORIZATION,
            header_value(&format!("Bearer {}", field_value(fields, field)?), field)?,
        ),
        ProbeAuth::Basic { username, password } => {
            let pair = zeroize::Zeroizing::new(format!(
                "{}:{}",
                field_value(fields, username)?,
                field_value(fields, password)?
            ));
            let encoded = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()),
            );
            (
                AUTHORIZATION,
                header_value(&format!("Basic {}", encoded.as_str()), password)?,
            )
        }
        ProbeAuth::Header { name, field } => (
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!("header `{name}` of the {} probe is not valid", service.key)
            })?,
            header_value(field_value(fields, field)?, field)?,
        ),
    };
    value.set_sensitive(true);
    headers.insert(name, value);
    let body = match (&probe.body, probe.method) {
        (Some(body), ProbeMethod::Post) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Some(serde_json::to_vec(body).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    Ok(PreparedRequest {
        method: match probe.method {
            ProbeMethod::Get => reqwest::Method::GET,
            ProbeMethod::Post => reqwest::Method::POST,
        },
        url,
        headers,
        body,
    })
}

fn field_value<'a>(fields: &'a SecretFields, name: &str) -> Result<&'a str, String> {
    fields
        .get(name)
        .map(|v| v.expose())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the field `{name}` is missing"))
}

fn header_value(value: &str, field: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value)
        .map_err(|_| format!("the field `{field}` contains characters an HTTP header cannot carry"))
}

/// The probe URL. A base (`{base_url}` or a URL field at the start) is inserted as is, without
/// a trailing slash; any other field is percent-encoded as one path segment, so a field value
/// cannot change which path or host is asked.
fn build_url(
    service: &ServiceDefinition,
    probe: &Probe,
    fields: &SecretFields,
) -> Result<reqwest::Url, String> {
    let mut url = String::new();
    for (i, part) in probe.url.parts().iter().enumerate() {
        match part {
            TemplatePart::Literal(text) => url.push_str(text),
            TemplatePart::BaseUrl => url.push_str(
                probe
                    .base_url
                    .as_deref()
                    .ok_or("the probe has no base URL")?
                    .trim_end_matches('/'),
            ),
            TemplatePart::Field(name) if i == 0 => {
                url.push_str(field_value(fields, name)?.trim().trim_end_matches('/'))
            }
            TemplatePart::Field(name) => {
                let value = field_value(fields, name)?;
                // URL parsers resolve `.`/`..` segments (even percent-encoded): refuse them.
                if value.trim_matches('.').is_empty() {
                    return Err(format!("the field `{name}` is not a valid path segment"));
                }
                url.push_str(&encode_segment(value))
            }
            TemplatePart::Pointer(_) | TemplatePart::Header(_) | TemplatePart::KeyFingerprint => {
                return Err(format!("the {} probe URL is not valid", service.key))
            }
        }
    }
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| format!("the {} probe URL is not valid ({e})", service.key))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "the {} probe URL is not an http(s) URL",
            service.key
        ));
    }
    Ok(parsed)
}

fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first 12 hex digits of the SHA-256 of the secret the probe authenticates with: tells two
/// keys apart without keeping anything that helps to guess one.
pub(crate) fn key_fingerprint(probe: &Probe, fields: &SecretFields) -> Option<String> {
    let secret = fields.get(probe.auth.secret_field())?;
    let digest = Sha256::digest(secret.expose().as_bytes());
    Some(hex::encode(&digest[..6]))
}

struct Context<'a> {
    json: &'a Value,
    headers: &'a HeaderMap,
    fields: &'a SecretFields,
    fingerprint: Option<String>,
}

impl Context<'_> {
    /// The template filled in, or `None` when any placeholder has no value.
    fn render(&self, template: &credledger_domain::catalog::Template) -> Option<String> {
        let mut out = String::new();
        for part in template.parts() {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Field(name) => out.push_str(
                    &self
                        .fields
                        .get(name)
                        .map(|v| same_site(v.expose()))
                        .filter(|v| !v.is_empty())?,
                ),
                TemplatePart::Pointer(steps) => out.push_str(&pointer(steps, self.json)?),
                TemplatePart::Header(name) => out.push_str(
                    self.headers
                        .get(name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| !v.is_empty())?,
                ),
                TemplatePart::KeyFingerprint => out.push_str(self.fingerprint.as_deref()?),
                TemplatePart::BaseUrl => return None,
            }
        }
        Some(out)
    }
}

fn pointer(steps: &[PointerStep], value: &Value) -> Option<String> {
    match steps.split_first() {
        None => match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        },
        Some((PointerStep::Key(key), rest)) => {
            let next = match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            }?;
            pointer(rest, next)
        }
        Some((PointerStep::Each, rest)) => {
            let items = value.as_array()?;
            Some(
                items
                    .iter()
                    .filter_map(|item| pointer(rest, item))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        }
        Some((PointerStep::Count, _)) => match value {
            Value::Array(items) => Some(items.len().to_string()),
            Value::Object(map) => Some(map.len().to_string()),
            _ => None,
        },
    }
}

/// Reads an answer with a valid status. A body that is not JSON, or an answer that does not
/// say whose account this is, cannot be trusted: the check could not be made.
pub(crate) fn read_valid(
    service: &ServiceDefinition,
    probe: &Probe,
    fields: &SecretFields,
    answer: &Answer,
    now: DateTime<Utc>,
) -> ValidationOutcome {
    let json = if answer.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(json) => json,
            Err(_) => {
                return ValidationOutcome::CouldNotCheck {
                    reason: format!(
                        "{} answered HTTP {} with a body that is not valid JSON",
                        service.display_name, answer.status
                    ),
                }
            }
        }
    };
    let ctx = Context {
        json: &json,
        headers: &answer.headers,
        fields,
        fingerprint: key_fingerprint(probe, fields),
    };
    let Some(id) = ctx
        .render(&probe.identity.id)
        .filter(|id| !id.trim().is_empty())
    else {
        return ValidationOutcome::CouldNotCheck {
            reason: format!(
                "{}'s answer does not say which account the credential belongs to",
                service.display_name
            ),
        };
    };
    let optional = |t: Option<&credledger_domain::catalog::Template>| {
        t.and_then(|t| ctx.render(t))
            .filter(|v| !v.trim().is_empty())
    };
    let account = AccountIdentity {
        id,
        display_name: optional(probe.identity.display_name.as_ref()),
        email: optional(probe.identity.email.as_ref()),
    };
    let provider_metadata: BTreeMap<String, String> = probe
        .metadata
        .iter()
        .filter_map(|(key, t)| ctx.render(t).map(|v| (key.clone(), v)))
        .collect();
    let mut scopes: Vec<String> = probe
        .scopes
        .as_ref()
        .and_then(|s| {
            ctx.render(&s.from).map(|v| {
                v.split(s.separator.as_str())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
        })
        .unwrap_or_default();
    scopes.sort();
    scopes.dedup();
    scopes.truncate(200);
    let expires_at = optional(probe.expires_in.as_ref())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 20.0 * 365.0 * 86_400.0)
        .and_then(|secs| chrono::Duration::try_milliseconds((secs * 1000.0) as i64))
        .map(|d| now + d);
    ValidationOutcome::Valid {
        account,
        provider_metadata,
        scopes,
        expires_at,
    }
}

/// The provider's own words from an error answer: the first of the probe's JSON pointers that
/// holds a text. HTML pages say nothing useful. Whole: the redaction cuts it to length once the
/// secrets are out (a text cut first could end in part of one, which it would not recognise);
/// the answer's size bounds it.
pub(crate) fn provider_message(probe: &Probe, answer: &Answer) -> Option<String> {
    // Only the fields of the provider's error format the catalog names: never a raw body (an
    // HTML page, a proxy's or an internal service's text), whatever it says.
    let json = serde_json::from_slice::<Value>(&answer.body).ok()?;
    probe.error_message.iter().find_map(|p| {
        json.pointer(p)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.trim().is_empty())
    })
}

/// A field's value as an identity holds it: a site URL in one spelling (`https://ACME.atlassian.net/`
/// and `https://acme.atlassian.net` are one site, so one account on it is one account), any
/// other value trimmed.
fn same_site(value: &str) -> String {
    let value = value.trim().trim_end_matches('/');
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        if let Ok(url) = url::Url::parse(value) {
            return url.as_str().trim_end_matches('/').to_owned();
        }
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_is_one_identity_however_its_address_is_spelled() {
        for spelling in [
            "https://acme.atlassian.net",
            "https://ACME.Atlassian.net/",
            " HTTPS://acme.atlassian.NET:443 ",
        ] {
            assert_eq!(
                same_site(spelling),
                "https://acme.atlassian.net",
                "{spelling}"
            );
        }
        assert_eq!(
            same_site("https://jira.corp/wiki/"),
            "https://jira.corp/wiki"
        );
        assert_eq!(same_site(" Ada@Example.com "), "Ada@Example.com");
    }
    use credledger_domain::catalog::Template;

    #[test]
    fn pointers_map_over_arrays_and_count_them() {
        let json = serde_json::json!({
            "projects": [{"slug": "a"}, {"slug": "b"}, {"name": "no slug"}],
            "n": 3, "ok": true, "nothing": null
        });
        let render = |t: &str| {
            let t = Template::parse(t).expect("template");
            match t.parts() {
                [TemplatePart::Pointer(steps)] => pointer(steps, &json),
                _ => None,
            }
        };
        assert_eq!(render("{/projects/*/slug}").as_deref(), Some("a, b"));
        assert_eq!(render("{/projects/#}").as_deref(), Some("3"));
        assert_eq!(render("{/projects/1/slug}").as_deref(), Some("b"));
        assert_eq!(render("{/n}").as_deref(), Some("3"));
        assert_eq!(render("{/ok}").as_deref(), Some("true"));
        assert_eq!(render("{/nothing}"), None);
        assert_eq!(render("{/projects}"), None);
    }

    #[test]
    fn path_fields_cannot_escape_their_segment() {
        assert_eq!(encode_segment("my-org_1"), "my-org_1");
        assert_eq!(encode_segment("../x?y#z"), "..%2Fx%3Fy%23z");
    }
}
