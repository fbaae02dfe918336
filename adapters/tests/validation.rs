//! Live validation against the provider simulator and small loopback servers: every built-in
//! service's success and refusal, the failures that mean "could not check", and the guarantees
//! (budget, body cap, redirects, outbound limits, no secret in any message or log).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use credledger_adapters::simulator::{Fault, ProviderSimulator};
use credledger_adapters::validation::{HttpValidator, ValidatorConfig};
use credledger_domain::keyring::{AccountIdentity, ValidationOutcome};
use credledger_domain::ports::Validator;
use credledger_domain::{Catalog, SecretFields, ServiceDefinition};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

struct Env {
    sim: ProviderSimulator,
    catalog: Catalog,
    validator: HttpValidator,
}

fn config(timeout: Duration) -> ValidatorConfig {
    ValidatorConfig {
        timeout,
        backoff: Duration::from_millis(20),
        // The simulator listens on loopback.
        outbound: credledger_adapters::outbound::OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        },
        ..ValidatorConfig::default()
    }
}

async fn env_with(timeout: Duration) -> Env {
    logs();
    let sim = ProviderSimulator::start().await.expect("simulator starts");
    let mut catalog = Catalog::builtin();
    sim.point_catalog(&mut catalog)
        .expect("catalog points at the simulator");
    let validator = HttpValidator::new(config(timeout)).expect("validator");
    Env {
        sim,
        catalog,
        validator,
    }
}

async fn env() -> Env {
    env_with(Duration::from_secs(5)).await
}

impl Env {
    fn service(&self, key: &str) -> ServiceDefinition {
        self.catalog.enabled_service(key).expect("service").clone()
    }

    /// The first demo credential of a service.
    fn good(&self, key: &str) -> SecretFields {
        let demo = self
            .sim
            .demo_credentials()
            .into_iter()
            .find(|d| d.service == key)
            .expect("a demo credential");
        demo.fields.into_iter().collect()
    }

    /// The demo credential with its secret replaced.
    fn with_secret(&self, key: &str, secret: &str) -> SecretFields {
        let service = self.service(key);
        let secret_field = service.probe.as_ref().expect("probe").auth.secret_field();
        self.good(key)
            .iter()
            .map(|(name, value)| {
                let value = if name == secret_field {
                    secret.to_owned()
                } else {
                    value.expose().to_owned()
                };
                (name.to_owned(), value)
            })
            .collect()
    }

    async fn check(&self, key: &str, fields: &SecretFields) -> ValidationOutcome {
        self.validator.validate(&self.service(key), fields).await
    }
}

fn fingerprint(key: &str) -> String {
    format!("key:{}", &hex::encode(Sha256::digest(key.as_bytes()))[..12])
}

fn demo_secret(key: &str) -> &'static str {
    credledger_adapters::simulator::DEMO_ACCOUNTS
        .iter()
        .find(|d| d.service == key)
        .expect("demo")
        .secret
}

struct Expected {
    account: AccountIdentity,
    metadata: Vec<(&'static str, String)>,
    refusal: &'static str,
    /// What the provider says in its `500` answer, as the catalog's pointers find it.
    server_error: &'static str,
}

/// What each provider says about its first demo account, written out by hand from the
/// simulator's data (not computed by the code under test).
fn expected(env: &Env, key: &str) -> Expected {
    let account = |id: String, name: Option<&str>, email: Option<&str>| AccountIdentity {
        id,
        display_name: name.map(str::to_owned),
        email: email.map(str::to_owned),
    };
    let ada = Some("ada@acme.example");
    match key {
        "notion" => Expected {
            account: account("8b0e5c7a-61f3-4d2e-9a1c-3f6e2b7d9a01".into(), Some("Acme HQ"), ada),
            metadata: vec![("workspace_name", "Acme HQ".into()), ("bot_name", "credledger".into())],
            refusal: "API token is invalid.",
            server_error: "Unexpected error occurred.",
        },
        "jira" | "confluence" => Expected {
            account: account(
                format!("712020:ada-lovelace-0001@{}", env.sim.base_url(key)),
                Some("Ada Lovelace"),
                ada,
            ),
            metadata: vec![
                ("account_id", "712020:ada-lovelace-0001".into()),
                ("site", env.sim.base_url(key)),
            ],
            refusal: "Client must be authenticated to access this resource.",
            server_error: "Internal server error",
        },
        "todoist" => Expected {
            account: account("2671355".into(), Some("Ada Lovelace"), ada),
            metadata: vec![("time_zone", "Europe/Paris".into()), ("premium", "true".into())],
            refusal: "Invalid token",
            server_error: "Internal server error",
        },
        "sentry" => Expected {
            account: account("acme".into(), Some("Acme Inc."), None),
            metadata: vec![
                ("project_slugs", "acme-api, acme-web".into()),
                ("projects_count", "2".into()),
            ],
            refusal: "Invalid token",
            server_error: "Internal Error",
        },
        "gmail" | "google_calendar" => Expected {
            account: account("108234567890123456789".into(), Some("Ada Lovelace"), ada),
            metadata: vec![
                ("email_verified", "true".into()),
                ("hosted_domain", "acme.example".into()),
            ],
            refusal: "Invalid Credentials",
            server_error: "Internal error encountered.",
        },
        "openai" => Expected {
            account: account(
                fingerprint(demo_secret("openai")),
                Some("org-acmeDemo0001"),
                None,
            ),
            metadata: vec![("models_count", "4".into()), ("organization", "org-acmeDemo0001".into())],
            // The real message echoes a masked key; the echo is scrubbed.
            refusal: "Incorrect API key provided: <redacted>. You can find your API key at https://platform.openai.com/account/api-keys.",
            server_error: "The server had an error while processing your request. Sorry about that!",
        },
        "anthropic" => Expected {
            account: account(fingerprint(demo_secret("anthropic")), None, None),
            metadata: vec![
                ("models_count", "3".into()),
                ("organization_id", "4f5e6d7c-0001-4acb-9d8e-acme00000001".into()),
            ],
            refusal: "invalid x-api-key",
            server_error: "Internal server error",
        },
        "mistral" => Expected {
            account: account(fingerprint(demo_secret("mistral")), None, None),
            metadata: vec![("models_count", "4".into())],
            refusal: "Unauthorized",
            server_error: "Internal server error",
        },
        other => panic!("no expectation for {other}"),
    }
}

fn reason(outcome: &ValidationOutcome) -> &str {
    match outcome {
        ValidationOutcome::CouldNotCheck { reason } => reason,
        other => panic!("expected could-not-check, got {other:?}"),
    }
}

async fn a_valid_secret_is_accepted_with_its_account(key: &str) {
    let env = env().await;
    let outcome = env.check(key, &env.good(key)).await;
    let want = expected(&env, key);
    let ValidationOutcome::Valid {
        account,
        provider_metadata,
        ..
    } = outcome
    else {
        panic!("{key}: expected valid, got {outcome:?}");
    };
    assert_eq!(account, want.account, "{key}");
    for (name, value) in want.metadata {
        assert_eq!(provider_metadata.get(name), Some(&value), "{key} {name}");
    }
    assert_eq!(env.sim.requests(key), 1);
}

async fn a_wrong_secret_is_refused_with_the_providers_message(key: &str) {
    let env = env().await;
    let fields = env.with_secret(key, "wrong-secret-0123456789-abcdef");
    let outcome = env.check(key, &fields).await;
    assert_eq!(
        outcome,
        ValidationOutcome::Invalid {
            message: expected(&env, key).refusal.to_owned()
        },
        "{key}"
    );
}

async fn a_provider_too_slow_to_answer_could_not_be_checked(key: &str) {
    let env = env_with(Duration::from_millis(300)).await;
    env.sim.set_fault(key, Fault::Slow(Duration::from_secs(30)));
    let outcome = env.check(key, &env.good(key)).await;
    assert!(
        reason(&outcome).contains("did not answer within 0.3 s"),
        "{outcome:?}"
    );
}

async fn a_server_error_could_not_be_checked(key: &str) {
    let env = env().await;
    env.sim.set_fault(key, Fault::ServerError);
    let outcome = env.check(key, &env.good(key)).await;
    // The provider's own words, found by the catalog's pointers in its own error format.
    assert_eq!(
        reason(&outcome),
        format!(
            "{} answered HTTP 500: {}",
            env.service(key).display_name,
            expected(&env, key).server_error
        ),
        "{key}"
    );
    assert_eq!(env.sim.requests(key), 1, "a 500 is not retried");
}

async fn a_rate_limited_answer_could_not_be_checked(key: &str) {
    let env = env().await;
    env.sim.set_fault(
        key,
        Fault::RateLimited {
            retry_after_secs: 120,
        },
    );
    let outcome = env.check(key, &env.good(key)).await;
    let reason = reason(&outcome);
    assert!(reason.contains("HTTP 429"), "{reason}");
    assert!(reason.contains("retry in 120 s"), "{reason}");
    assert_eq!(
        env.sim.requests(key),
        1,
        "a retry after the budget is not tried"
    );
}

async fn malformed_json_on_success_could_not_be_checked(key: &str) {
    let env = env().await;
    env.sim.set_fault(key, Fault::MalformedJson);
    let outcome = env.check(key, &env.good(key)).await;
    assert!(reason(&outcome).contains("not valid JSON"), "{outcome:?}");
}

macro_rules! each_service {
    ($($service:ident),* $(,)?) => {$(
        mod $service {
            const KEY: &str = stringify!($service);

            #[tokio::test]
            async fn a_valid_secret_is_accepted_with_its_account() {
                super::a_valid_secret_is_accepted_with_its_account(KEY).await
            }

            #[tokio::test]
            async fn a_wrong_secret_is_refused_with_the_providers_message() {
                super::a_wrong_secret_is_refused_with_the_providers_message(KEY).await
            }

            #[tokio::test]
            async fn a_provider_too_slow_to_answer_could_not_be_checked() {
                super::a_provider_too_slow_to_answer_could_not_be_checked(KEY).await
            }

            #[tokio::test]
            async fn a_server_error_could_not_be_checked() {
                super::a_server_error_could_not_be_checked(KEY).await
            }

            #[tokio::test]
            async fn a_rate_limited_answer_could_not_be_checked() {
                super::a_rate_limited_answer_could_not_be_checked(KEY).await
            }

            #[tokio::test]
            async fn malformed_json_on_success_could_not_be_checked() {
                super::malformed_json_on_success_could_not_be_checked(KEY).await
            }
        }
    )*};
}

each_service!(
    notion,
    jira,
    todoist,
    sentry,
    confluence,
    gmail,
    google_calendar,
    openai,
    anthropic,
    mistral
);

#[tokio::test]
async fn every_demo_credential_is_valid_against_the_simulator() {
    let env = env().await;
    for demo in env.sim.demo_credentials() {
        let fields: SecretFields = demo.fields.clone().into_iter().collect();
        env.service(demo.service)
            .check_fields(&fields)
            .expect("demo fields fit the catalog");
        let outcome = env.check(demo.service, &fields).await;
        assert!(
            matches!(outcome, ValidationOutcome::Valid { .. }),
            "{}: {outcome:?}",
            demo.service
        );
    }
}

#[tokio::test]
async fn a_sentry_token_for_another_organization_is_refused() {
    let env = env().await;
    let mut fields = env.good("sentry");
    fields.insert(
        "org_slug",
        credledger_domain::SecretString::new("acme-labs".into()),
    );
    assert_eq!(
        env.check("sentry", &fields).await,
        ValidationOutcome::Invalid {
            message: "You do not have permission to perform this action.".into()
        }
    );
}

#[tokio::test]
async fn a_jira_token_with_someone_elses_email_is_refused() {
    let env = env().await;
    let mut fields = env.good("jira");
    fields.insert(
        "email",
        credledger_domain::SecretString::new("grace@acme.example".into()),
    );
    assert!(matches!(
        env.check("jira", &fields).await,
        ValidationOutcome::Invalid { .. }
    ));
}

#[tokio::test]
async fn a_probe_without_a_header_the_api_requires_could_not_be_checked() {
    let env = env().await;
    let mut notion = env.service("notion");
    notion.probe.as_mut().expect("probe").headers.clear();
    let outcome = env.validator.validate(&notion, &env.good("notion")).await;
    assert_eq!(
        reason(&outcome),
        "Notion answered HTTP 400: Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`."
    );
}

#[tokio::test]
async fn secrets_registered_with_the_simulator_are_accepted() {
    let env = env().await;
    env.sim.accept(
        "todoist",
        "registered-token-42",
        credledger_adapters::simulator::SimAccount::new("99", "Linus", "linus@example.org"),
    );
    let outcome = env
        .check(
            "todoist",
            &env.with_secret("todoist", "registered-token-42"),
        )
        .await;
    let ValidationOutcome::Valid { account, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(account.id, "99");
    assert_eq!(account.email.as_deref(), Some("linus@example.org"));
}

#[tokio::test]
async fn a_redirect_to_another_host_never_receives_the_secret() {
    let env = env().await;
    for key in ["notion", "anthropic", "jira"] {
        env.sim.set_fault(key, Fault::RedirectToOtherHost);
        let outcome = env.check(key, &env.good(key)).await;
        assert!(reason(&outcome).contains("another host"), "{outcome:?}");
    }
    assert_eq!(env.sim.elsewhere_visits(), []);

    // The trap works: a client that follows redirects blindly carries `x-api-key` there.
    let naive = reqwest::Client::new();
    let answer = naive
        .get(format!("{}/v1/models", env.sim.base_url("anthropic")))
        .header("x-api-key", "sk-ant-naive")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("naive request");
    assert_eq!(answer.status(), StatusCode::OK);
    let visits = env.sim.elsewhere_visits();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].credential_headers, ["x-api-key"]);
}

#[tokio::test]
async fn an_oversize_answer_is_cut_off_without_being_read() {
    let env = env().await;
    let total = 50 * 1024 * 1024;
    env.sim
        .set_fault("notion", Fault::Oversize { bytes: total });
    let outcome = env.check("notion", &env.good("notion")).await;
    assert_eq!(
        reason(&outcome),
        "Notion's answer is larger than 256 KiB; it was not read"
    );
    // The server notices the hang-up when its next write fails; wait for that, boundedly.
    let mut report = None;
    for _ in 0..200 {
        report = env.sim.oversize_stream("notion");
        if report.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let report = report.expect("the stream ended");
    assert!(!report.completed, "{report:?}");
    assert!(report.bytes_produced < total / 4, "{report:?}");
}

/// A provider may ask for more seconds than any clock holds: the check could not be made, and
/// the checker goes on (adding the wait to the clock panicked).
#[tokio::test]
async fn a_retry_after_longer_than_any_clock_could_not_be_checked() {
    let env = env().await;
    env.sim.set_fault(
        "notion",
        Fault::RateLimited {
            retry_after_secs: u64::MAX,
        },
    );
    let outcome = env.check("notion", &env.good("notion")).await;
    assert!(reason(&outcome).contains("HTTP 429"), "{outcome:?}");
    assert_eq!(env.sim.requests("notion"), 1);
}

#[tokio::test]
async fn retry_after_is_waited_for_before_the_retry() {
    let env = env().await;
    env.sim.set_fault_for(
        "todoist",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let outcome = env.check("todoist", &env.good("todoist")).await;
    assert!(
        matches!(outcome, ValidationOutcome::Valid { .. }),
        "{outcome:?}"
    );
    let times = env.sim.request_times("todoist");
    assert_eq!(times.len(), 2);
    assert!(
        times[1].duration_since(times[0]) >= Duration::from_secs(1),
        "retried after {:?}",
        times[1].duration_since(times[0])
    );
}

#[tokio::test]
async fn an_unavailable_provider_is_retried_at_most_twice() {
    let env = env().await;
    env.sim.set_fault(
        "mistral",
        Fault::Unavailable {
            retry_after_secs: Some(0),
        },
    );
    let outcome = env.check("mistral", &env.good("mistral")).await;
    assert_eq!(
        reason(&outcome),
        "Mistral is unavailable (HTTP 503); gave up after 2 retries"
    );
    assert_eq!(env.sim.requests("mistral"), 3);
    assert_eq!(env.validator.requests_sent_to("mistral"), 3);
}

#[tokio::test]
async fn the_outbound_limit_holds_a_services_per_minute_limit() {
    let env = env_with(Duration::from_millis(500)).await;
    let mut mistral = env.service("mistral");
    mistral.rate_limit_per_minute = Some(3);
    let fields = env.good("mistral");
    // Two handles on one validator, as the API and the scheduler would hold.
    let scheduled = env.validator.clone();
    let checks = (0..6).map(|i| {
        let validator = if i % 2 == 0 {
            env.validator.clone()
        } else {
            scheduled.clone()
        };
        let (mistral, fields) = (mistral.clone(), fields.clone());
        async move { validator.validate(&mistral, &fields).await }
    });
    let outcomes = futures::future::join_all(checks).await;
    let valid = outcomes
        .iter()
        .filter(|o| matches!(o, ValidationOutcome::Valid { .. }))
        .count();
    let limited = outcomes
        .iter()
        .filter(|o| {
            matches!(o, ValidationOutcome::CouldNotCheck { reason } if reason == "rate limit of Mistral reached")
        })
        .count();
    assert_eq!((valid, limited), (3, 3), "{outcomes:?}");
    assert_eq!(env.sim.requests("mistral"), 3);
    assert_eq!(env.validator.requests_sent_to("mistral"), 3);
    assert_eq!(scheduled.requests_sent().get("mistral"), Some(&3));
}

/// A provider of our own: Acme's API, known to credledger only through a catalog entry.
async fn acme_server(echo_key_in_identity: bool) -> (String, tokio::task::JoinHandle<()>) {
    logs();
    async fn whoami(
        axum::extract::State(echo): axum::extract::State<bool>,
        axum::extract::Path(region): axum::extract::Path<String>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let key = headers
            .get("x-acme-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !key.starts_with("acme_live_") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    serde_json::json!({"error": {"detail": format!("key {key} was revoked")}}),
                ),
            )
                .into_response();
        }
        let id = if echo { key.clone() } else { "acc_42".into() };
        (
            [("x-acme-scopes", "read, write,  billing")],
            axum::Json(serde_json::json!({
                "account": {"id": id, "name": "Acme Corp", "email": "ops@acme.test"},
                "region": region, "plan": {"tier": "gold"}, "expires_in": 3600
            })),
        )
            .into_response()
    }
    async fn moved(axum::extract::Path(region): axum::extract::Path<String>) -> impl IntoResponse {
        (
            StatusCode::MOVED_PERMANENTLY,
            [("location", format!("/v2/{region}/whoami"))],
        )
    }
    let app = axum::Router::new()
        .route("/v2/{region}/whoami", axum::routing::get(whoami))
        .route("/v1/{region}/whoami", axum::routing::get(moved))
        .with_state(echo_key_in_identity);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (base, task)
}

fn acme_catalog(base: &str, path: &str) -> Catalog {
    Catalog::from_json(&format!(
        r#"{{"services": [{{
            "key": "acme", "display_name": "Acme", "description": "Acme's API.",
            "docs_url": "https://acme.test/docs", "icon": "acme", "auth_type": "api_key",
            "multi_account": false, "token_refresh": false, "revocation": false,
            "rate_limit_per_minute": 30, "rate_limit_per_hour": null, "enabled": true, "beta": true,
            "fields": [
                {{"name": "api_key", "label": "API key", "required": true, "secret": true}},
                {{"name": "region", "label": "Region", "required": true, "secret": false}}
            ],
            "probe": {{
                "base_url": "{base}", "url": "{{base_url}}{path}",
                "auth": {{"scheme": "header", "name": "X-Acme-Key", "field": "api_key"}},
                "identity": {{"id": "{{/account/id}}", "display_name": "{{/account/name}}", "email": "{{/account/email}}"}},
                "metadata": {{"region": "{{region}}", "tier": "{{/plan/tier}}"}},
                "scopes": {{"from": "{{header:x-acme-scopes}}", "separator": ","}},
                "expires_in": "{{/expires_in}}",
                "error_message": ["/error/detail"]
            }}
        }}]}}"#
    ))
    .expect("acme catalog")
}

fn acme_fields(key: &str) -> SecretFields {
    [
        ("api_key".to_owned(), key.to_owned()),
        ("region".to_owned(), "eu-west".to_owned()),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn a_service_defined_only_in_the_catalog_json_is_checked_end_to_end() {
    let (base, _server) = acme_server(false).await;
    let catalog = acme_catalog(&base, "/v2/{region}/whoami");
    let acme = catalog.enabled_service("acme").expect("acme");
    let validator = HttpValidator::new(config(Duration::from_secs(5))).expect("validator");
    let before = chrono::Utc::now();

    let outcome = validator
        .validate(acme, &acme_fields("acme_live_1234567890"))
        .await;
    let ValidationOutcome::Valid {
        account,
        provider_metadata,
        scopes,
        expires_at,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        account,
        AccountIdentity {
            id: "acc_42".into(),
            display_name: Some("Acme Corp".into()),
            email: Some("ops@acme.test".into())
        }
    );
    assert_eq!(provider_metadata["region"], "eu-west");
    assert_eq!(provider_metadata["tier"], "gold");
    assert_eq!(scopes, ["billing", "read", "write"]);
    let expires_at = expires_at.expect("expiry");
    assert!(expires_at >= before + chrono::Duration::seconds(3600));

    let refused = validator
        .validate(acme, &acme_fields("acme_test_0000"))
        .await;
    assert_eq!(
        refused,
        ValidationOutcome::Invalid {
            message: "key <redacted> was revoked".into()
        }
    );
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_followed_with_the_credential() {
    let (base, _server) = acme_server(false).await;
    let catalog = acme_catalog(&base, "/v1/{region}/whoami");
    let acme = catalog.enabled_service("acme").expect("acme");
    let validator = HttpValidator::new(config(Duration::from_secs(5))).expect("validator");
    let outcome = validator
        .validate(acme, &acme_fields("acme_live_1234567890"))
        .await;
    assert!(
        matches!(&outcome, ValidationOutcome::Valid { account, .. } if account.id == "acc_42"),
        "{outcome:?}"
    );
}

/// Collects every log line of this test binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber, once, before any test logs. A global subscriber rather
/// than a scoped one: tracing caches per call site whether anyone listens, and a scoped
/// subscriber races with call sites first reached by tests on other threads.
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

#[tokio::test]
async fn a_planted_canary_never_appears_in_an_outcome_or_a_log_line() {
    let env = env_with(Duration::from_millis(400)).await;
    let mut seen = Vec::new();
    for service in env.catalog.services() {
        let key = service.key.as_str();
        let canary = format!("CANARY-{key}-9f8e7d6c5b4a");
        let fields = env.with_secret(key, &canary);
        seen.push(env.check(key, &fields).await);
        for fault in [
            Fault::ServerError,
            Fault::MalformedJson,
            Fault::RedirectToOtherHost,
            Fault::Slow(Duration::from_secs(5)),
        ] {
            env.sim.set_fault(key, fault);
            seen.push(env.check(key, &fields).await);
        }
        env.sim.clear_fault(key);
        // A canary the provider accepts: the valid outcome must not carry it either.
        env.sim.accept(
            key,
            &canary,
            credledger_adapters::simulator::SimAccount::new("acme", "Ada", "ada@acme.example"),
        );
        seen.push(env.check(key, &fields).await);
    }
    // A provider that echoes the key back, in an error and as the account id.
    for echo in [false, true] {
        let (base, _server) = acme_server(echo).await;
        let catalog = acme_catalog(&base, "/v2/{region}/whoami");
        let acme = catalog.enabled_service("acme").expect("acme");
        for key in [
            "acme_live_CANARY-acme-9f8e7d6c5b4a",
            "CANARY-acme-9f8e7d6c5b4a",
        ] {
            seen.push(env.validator.validate(acme, &acme_fields(key)).await);
        }
    }

    let printed = format!("{seen:?}");
    let logged = String::from_utf8_lossy(&logs().0.lock().expect("logs")).into_owned();
    assert!(logged.contains("credential checked"), "logs were captured");
    assert!(printed.contains("Valid {"), "some checks succeeded");
    for text in [&printed, &logged] {
        assert!(!text.contains("CANARY"), "a canary leaked: {text}");
        assert!(
            !text.contains("9f8e7d6c5b4a"),
            "part of a canary leaked: {text}"
        );
    }
}
