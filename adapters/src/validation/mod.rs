//! Live validation: [`HttpValidator`] runs a service's catalog [`Probe`] against the provider
//! and reads the answer into a [`ValidationOutcome`].
//!
//! What it guarantees, whatever the provider does:
//! - one check never takes longer than its budget ([`ValidatorConfig::timeout`]), waits for the
//!   rate limit and retries included;
//! - an answer body is read up to [`ValidatorConfig::max_body_bytes`] and no further;
//! - a redirect is followed only to the same scheme, host and port, so credentials never reach
//!   another host;
//! - every address called passes the [`OutboundPolicy`] (no private, loopback or link-local
//!   address, `https` only), checked on the addresses the connection actually uses;
//! - the per-service outbound limits of the catalog hold across every caller of one validator;
//! - no secret value appears in an outcome or a log line.

mod limits;
mod probe;
pub(crate) mod redact;

use crate::outbound::OutboundPolicy;
use credledger_domain::catalog::Probe;
use credledger_domain::keyring::ValidationOutcome;
use credledger_domain::ports::Validator;
use credledger_domain::{SecretFields, ServiceDefinition};
use limits::{OutboundLimits, SentCounter};
use probe::{Answer, PreparedRequest};
use redact::Redactor;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Limits of one check.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// The whole budget of one check: waiting for the rate limit, every attempt and every
    /// retry wait. Past it the answer is "could not check".
    pub timeout: Duration,
    /// Answer bodies are read up to this size; a larger one is dropped unread.
    pub max_body_bytes: usize,
    /// Retries after a 429 or 503, each after the provider's `Retry-After` (or a backoff).
    pub max_retries: u32,
    /// The first wait when a 429 or 503 has no `Retry-After`; doubled at each retry.
    pub backoff: Duration,
    /// Sent as `User-Agent` (some providers refuse requests without one).
    pub user_agent: String,
    /// Where checks may connect.
    pub outbound: OutboundPolicy,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_body_bytes: 256 * 1024,
            max_retries: 2,
            backoff: Duration::from_millis(500),
            user_agent: concat!("credledger/", env!("CARGO_PKG_VERSION")).to_owned(),
            outbound: OutboundPolicy::default(),
        }
    }
}

/// Why a validator could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client for credential checks: {0}")]
pub struct ValidatorBuildError(String);

/// The [`Validator`] port over HTTPS. Cheap to clone: clones share the HTTP connection pool,
/// the outbound rate limits and the request counts, so interactive and scheduled checks must
/// use clones of one validator for the limits to hold.
#[derive(Clone)]
pub struct HttpValidator {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    config: ValidatorConfig,
    limits: OutboundLimits,
    sent: SentCounter,
}

impl std::fmt::Debug for HttpValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpValidator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl HttpValidator {
    /// A validator with its own connection pool, limits and counts; clone it to share them.
    pub fn new(config: ValidatorConfig) -> Result<Self, ValidatorBuildError> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|prev| prev.origin() == attempt.url().origin());
            if attempt.previous().len() > 5 || !same_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = config
            .outbound
            .client_builder()
            .redirect(policy)
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ValidatorBuildError(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                config,
                limits: OutboundLimits::default(),
                sent: SentCounter::default(),
            }),
        })
    }

    /// The limits this validator was built with.
    pub fn config(&self) -> &ValidatorConfig {
        &self.inner.config
    }

    /// Requests actually sent, per service key, since this validator was built (retries
    /// included; calls refused by the rate limit excluded).
    pub fn requests_sent(&self) -> BTreeMap<String, u64> {
        self.inner.sent.snapshot()
    }

    /// Requests actually sent to one service.
    pub fn requests_sent_to(&self, service: &str) -> u64 {
        self.requests_sent().get(service).copied().unwrap_or(0)
    }

    /// One check, retrying a busy answer up to `max_retries` times.
    async fn check(
        &self,
        service: &ServiceDefinition,
        fields: &SecretFields,
        max_retries: u32,
    ) -> ValidationOutcome {
        let config = &self.inner.config;
        let name = service.display_name.as_str();
        let deadline = Instant::now() + config.timeout;
        let Some(probe) = &service.probe else {
            return could_not(format!("{name} has no live check"));
        };
        let request = match probe::prepare(service, probe, fields) {
            Ok(request) => request,
            Err(reason) => return could_not(reason),
        };
        // Names are checked again, on the addresses used, when the client resolves them.
        if let Err(refused) = config.outbound.check_url(&request.url) {
            return could_not(format!("{name}: {refused}"));
        }
        let mut attempt = 0;
        loop {
            let slot = self.inner.limits.reserve(
                service.key.as_str(),
                service.rate_limit_per_minute,
                service.rate_limit_per_hour,
                Instant::now(),
                deadline,
            );
            let Some(slot) = slot else {
                return could_not(format!("rate limit of {name} reached"));
            };
            tokio::time::sleep_until(slot).await;
            self.inner.sent.add(service.key.as_str());
            let answer = match tokio::time::timeout_at(deadline, self.send(&request)).await {
                Err(_) => {
                    return could_not(format!(
                        "{name} did not answer within {}",
                        seconds(config.timeout)
                    ))
                }
                Ok(Err(reason)) => return could_not(format!("{name}: {reason}")),
                Ok(Ok(answer)) => answer,
            };
            match answer {
                Sent::TooLarge => {
                    return could_not(format!(
                        "{name}'s answer is larger than {} KiB; it was not read",
                        config.max_body_bytes / 1024
                    ))
                }
                Sent::Redirected { status, to } => {
                    return could_not(match to {
                        Redirect::OtherHost(to) => format!(
                            "{name} answered HTTP {status} redirecting to {to}; credentials are \
                             never sent to another host, so the redirect was not followed"
                        ),
                        Redirect::TooMany => format!("{name} redirected too many times"),
                        Redirect::Nowhere => {
                            format!("{name} answered HTTP {status} without a usable Location")
                        }
                    })
                }
                Sent::Busy {
                    status,
                    retry_after,
                } => {
                    let wait = retry_after.unwrap_or(config.backoff * 2u32.pow(attempt.min(16)));
                    let busy = if status == 429 {
                        format!("{name} is rate limiting checks (HTTP 429)")
                    } else {
                        format!("{name} is unavailable (HTTP {status})")
                    };
                    if attempt >= max_retries {
                        return could_not(if attempt == 0 {
                            busy
                        } else {
                            format!("{busy}; gave up after {attempt} retries")
                        });
                    }
                    // A wait past any instant (`Retry-After: 18446744073709551615`) is past it.
                    if Instant::now()
                        .checked_add(wait)
                        .is_none_or(|at| at > deadline)
                    {
                        let when = if retry_after.is_some() {
                            "it asks to retry in"
                        } else {
                            "the next retry would be in"
                        };
                        return could_not(format!(
                            "{busy}; {when} {}, past this check's budget",
                            seconds(wait)
                        ));
                    }
                    tracing::debug!(
                        service = %service.key,
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "retrying a credential check"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Sent::Answered(answer) => return read(service, probe, fields, &answer),
            }
        }
    }

    /// One attempt: sends, then reads the body up to the cap.
    async fn send(&self, request: &PreparedRequest) -> Result<Sent, String> {
        let mut builder = self
            .inner
            .client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            // The policy stopped here: the target is another origin, or the chain was too long.
            let target = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok());
            let to = match target {
                None => Redirect::Nowhere,
                Some(t) if t.origin() == request.url.origin() => Redirect::TooMany,
                Some(t) => Redirect::OtherHost(t.origin().ascii_serialization()),
            };
            return Ok(Sent::Redirected { status, to });
        }
        if status == 429 || status == 503 {
            return Ok(Sent::Busy {
                status,
                retry_after: retry_after(response.headers()),
            });
        }
        let cap = self.inner.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Ok(Sent::TooLarge);
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > cap {
                // Dropping the response closes the connection: the rest is never read.
                return Ok(Sent::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Sent::Answered(Answer {
            status,
            headers,
            body,
        }))
    }
}

enum Sent {
    Answered(Answer),
    Busy {
        status: u16,
        retry_after: Option<Duration>,
    },
    Redirected {
        status: u16,
        to: Redirect,
    },
    TooLarge,
}

/// Why a redirect was not followed.
enum Redirect {
    /// To this other origin.
    OtherHost(String),
    /// Same origin, but the chain was too long.
    TooMany,
    /// No `Location`, or not a URL.
    Nowhere,
}

impl HttpValidator {
    /// A check, redacted, counted and logged.
    async fn validate_with(
        &self,
        service: &ServiceDefinition,
        fields: &SecretFields,
        max_retries: u32,
    ) -> ValidationOutcome {
        let redactor = Redactor::new(service, fields);
        let started = std::time::Instant::now();
        let outcome = redactor.outcome(self.check(service, fields, max_retries).await);
        let label = match &outcome {
            ValidationOutcome::Valid { .. } => "valid",
            ValidationOutcome::Invalid { .. } => "invalid",
            ValidationOutcome::CouldNotCheck { .. } => "could_not_check",
        };
        let service_key = service.key.to_string();
        metrics::counter!(crate::metrics::PROVIDER_CHECKS, "service" => service_key.clone(), "outcome" => label)
            .increment(1);
        metrics::histogram!(crate::metrics::PROVIDER_CHECK_DURATION, "service" => service_key)
            .record(started.elapsed().as_secs_f64());
        match &outcome {
            ValidationOutcome::Valid { .. } => {
                tracing::info!(service = %service.key, outcome = "valid", "credential checked");
            }
            ValidationOutcome::Invalid { message } => {
                tracing::info!(
                    service = %service.key,
                    outcome = "invalid",
                    %message,
                    "credential checked"
                );
            }
            ValidationOutcome::CouldNotCheck { reason } => {
                tracing::warn!(
                    service = %service.key,
                    outcome = "could_not_check",
                    %reason,
                    "credential checked"
                );
            }
        }
        outcome
    }
}

#[async_trait::async_trait]
impl Validator for HttpValidator {
    async fn validate(
        &self,
        service: &ServiceDefinition,
        fields: &SecretFields,
    ) -> ValidationOutcome {
        self.validate_with(service, fields, self.inner.config.max_retries)
            .await
    }

    async fn validate_once(
        &self,
        service: &ServiceDefinition,
        fields: &SecretFields,
    ) -> ValidationOutcome {
        self.validate_with(service, fields, 0).await
    }

    async fn refused_destination(
        &self,
        service: &ServiceDefinition,
        fields: &SecretFields,
    ) -> Option<String> {
        let probe = service.probe.as_ref()?;
        let request = probe::prepare(service, probe, fields).ok()?;
        let refused = self.inner.config.outbound.check(&request.url).await.err()?;
        Some(format!("{}: {refused}", service.display_name))
    }
}

/// Reads an answer that is neither busy, redirected nor too large.
fn read(
    service: &ServiceDefinition,
    probe: &Probe,
    fields: &SecretFields,
    answer: &Answer,
) -> ValidationOutcome {
    let name = service.display_name.as_str();
    let status = answer.status;
    if probe.valid_statuses.contains(&status) {
        return probe::read_valid(service, probe, fields, answer, chrono::Utc::now());
    }
    let message = probe::provider_message(probe, answer);
    if probe.invalid_statuses.contains(&status) {
        return ValidationOutcome::Invalid {
            message: message
                .unwrap_or_else(|| format!("{name} refused the credential (HTTP {status})")),
        };
    }
    could_not(match message {
        Some(m) => format!("{name} answered HTTP {status}: {m}"),
        None => format!("{name} answered HTTP {status}"),
    })
}

fn could_not(reason: String) -> ValidationOutcome {
    ValidationOutcome::CouldNotCheck { reason }
}

/// A transport failure in words: its kind only, never the address or the operating system's
/// error (they would tell a person which internal ports answer), except the outbound policy's
/// refusal, which names the rule.
fn transport_error(e: reqwest::Error) -> String {
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<crate::outbound::Refused>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    tracing::debug!(error = %e.without_url(), "a credential check's request failed");
    what.to_owned()
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        assert_eq!(
            retry_after(&with_retry_after("7")),
            Some(Duration::from_secs(7))
        );
        // A date in the past means "now".
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = retry_after(&with_retry_after(&later)).expect("a wait");
        assert!(wait > Duration::from_secs(80) && wait <= Duration::from_secs(90));
        assert_eq!(retry_after(&with_retry_after("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
