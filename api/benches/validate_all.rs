//! validate-all benchmark: revalidating 10,000 credentials against the provider simulator
//! answering every check in 50 ms, at the default concurrency, through the same library
//! function as `credledger credentials validate-all` (and `serve`'s scheduler). A load tool, not
//! a test: it prints figures, and fails if a check went wrong or a rate limit was exceeded.
//! It then times the real binary, `credledger credentials validate-all`, on the same ledger.
//!
//!     cargo bench -p credledger --bench validate_all                # both backends
//!     cargo bench -p credledger --bench validate_all -- postgres    # one backend
//!     CREDLEDGER_REVALIDATE_CONCURRENCY=32 cargo bench …            # another concurrency
//!
//! The built-in catalog allows 1,160 checks a minute over the ten services (their
//! `rate_limit_per_minute` summed), so 10,000 checks in 15 s cannot stay within it: the
//! benchmark uses the built-in catalog with every limit raised to `LIMIT_PER_MINUTE` and
//! `LIMIT_PER_HOUR`, and checks that no service received more than those.
//!
//! PostgreSQL: CREDLEDGER_BENCH_DATABASE_URL (or CREDLEDGER_TEST_DATABASE_URL) names a server
//! where a scratch database is created and dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use credledger::config::{JobSettings, Settings};
use credledger::jobs::{revalidate, Progress, RevalidateOptions, SCHEDULED_SHARE};
use credledger::{app::open_ledger, keys::IfMissing, Ledger, NewCredential};
use credledger_adapters::simulator::{Fault, ProviderSimulator};
use credledger_adapters::validation::{HttpValidator, ValidatorConfig};
use credledger_domain::keyring::{AccountIdentity, ValidationOutcome};
use credledger_domain::{Catalog, CredentialId, EventMetadata};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: usize = 1_000;
const LATENCY: Duration = Duration::from_millis(50);
const LIMIT_PER_MINUTE: u32 = 3_000;
const LIMIT_PER_HOUR: u32 = 30_000;

fn meta() -> EventMetadata {
    EventMetadata::system(
        "bench",
        chrono::Utc::now(),
        uuid::Uuid::new_v4().to_string(),
    )
}

/// The built-in catalog with every service's limits raised.
fn bench_catalog(dir: &std::path::Path) -> std::path::PathBuf {
    let mut services = serde_json::to_value(Catalog::builtin().services()).unwrap();
    for s in services.as_array_mut().unwrap() {
        s["rate_limit_per_minute"] = LIMIT_PER_MINUTE.into();
        s["rate_limit_per_hour"] = LIMIT_PER_HOUR.into();
    }
    let path = dir.join("bench-catalog.json");
    std::fs::write(
        &path,
        serde_json::json!({ "services": services }).to_string(),
    )
    .unwrap();
    path
}

/// `USERS` people with one credential for each of the ten services, each stored as checked
/// (active), with the simulator's demo secret of its service: 10,000 credentials.
async fn seed(ledger: &Arc<Ledger>, simulator: &ProviderSimulator) {
    let mut demos = simulator.demo_credentials();
    demos.dedup_by(|a, b| a.service == b.service);
    let demos = Arc::new(demos);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for u in 0..USERS {
        for d in 0..demos.len() {
            let (ledger, demos, semaphore) = (ledger.clone(), demos.clone(), semaphore.clone());
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                let demo = &demos[d];
                let fields = serde_json::to_string(&demo.fields).unwrap();
                ledger
                    .register(
                        NewCredential {
                            user_id: &format!("bench-{u:05}"),
                            service: demo.service,
                            name: "main",
                            fields_json: fields.as_bytes(),
                            metadata: Default::default(),
                            validation: Some(ValidationOutcome::Valid {
                                account: AccountIdentity {
                                    id: demo.account.id.clone(),
                                    display_name: None,
                                    email: None,
                                },
                                provider_metadata: Default::default(),
                                scopes: vec![],
                                expires_at: None,
                            }),
                        },
                        CredentialId::from_uuid(uuid::Uuid::new_v4()),
                        &meta(),
                    )
                    .await
                    .expect("register");
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    ledger.projections.catch_up().await.unwrap();
}

/// The most requests any 60-second span holds.
fn busiest_minute(times: &[std::time::Instant]) -> usize {
    let mut times = times.to_vec();
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(60) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Requests each service received since `before`, checked against the limits; answers the
/// busiest minute of any service as a share of its per-minute limit.
fn limits_held(simulator: &ProviderSimulator, services: &[String], before: &[u64]) -> f64 {
    let mut worst = 0.0f64;
    for (s, before) in services.iter().zip(before) {
        let times = simulator.request_times(s);
        let received = times.len() as u64 - before;
        let minute = busiest_minute(&times[*before as usize..]);
        assert!(
            minute as u32 <= LIMIT_PER_MINUTE && received as u32 <= LIMIT_PER_HOUR,
            "{s}: {minute} requests in a minute, {received} in the run: limit exceeded"
        );
        worst = worst.max(minute as f64 / f64::from(LIMIT_PER_MINUTE));
    }
    worst
}

fn counts(simulator: &ProviderSimulator, services: &[String]) -> Vec<u64> {
    services.iter().map(|s| simulator.requests(s)).collect()
}

/// The real binary on the same ledger, catalog and simulator.
async fn validate_all_binary(settings: &Settings, dir: &std::path::Path) -> (f64, String) {
    let mut config = format!(
        "catalog_file = {:?}\n[provider_urls]\n",
        settings
            .catalog_file
            .as_ref()
            .unwrap()
            .display()
            .to_string()
    );
    for (service, url) in &settings.provider_urls {
        config.push_str(&format!("{service} = {url:?}\n"));
    }
    let config_path = dir.join("bench.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_credledger"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CREDLEDGER_DATA_DIR", &settings.data_dir)
        .env("CREDLEDGER_MASTER_KEY_FILE", &settings.master_key_file)
        .env("CREDLEDGER_CONFIG", &config_path)
        .env("CREDLEDGER_LOG", "warn")
        .env("CREDLEDGER_OUTBOUND_ALLOW_LOOPBACK", "1")
        .args(["credentials", "validate-all", "--stale-days", "0"]);
    if let Ok(c) = std::env::var("CREDLEDGER_REVALIDATE_CONCURRENCY") {
        cmd.env("CREDLEDGER_REVALIDATE_CONCURRENCY", c);
    }
    if let Some(url) = &settings.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let t = Instant::now();
    let out = cmd.output().await.unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, stdout)
}

async fn run(label: &str, mut settings: Settings) {
    println!("{label}");
    let dir = settings.data_dir.parent().unwrap().to_owned();
    let simulator = ProviderSimulator::start().await.unwrap();
    settings.catalog_file = Some(bench_catalog(&dir));
    for service in settings.catalog().unwrap().services() {
        if service.honours_base_url() {
            settings.provider_urls.insert(
                service.key.to_string(),
                simulator.base_url(service.key.as_str()),
            );
        }
    }
    // As the CLI: no projection runner, no read-your-writes wait; catch up at the end.
    settings.read_your_writes_ms = 0;
    let ledger = open_ledger(&settings, IfMissing::Generate).await.unwrap();
    let t = Instant::now();
    seed(&ledger, &simulator).await;
    println!(
        "  seeded {} credentials in {:.1} s",
        USERS * 10,
        t.elapsed().as_secs_f64()
    );
    let services: Vec<String> = ledger
        .catalog
        .services()
        .iter()
        .map(|s| s.key.to_string())
        .collect();
    for s in &services {
        simulator.set_fault(s, Fault::Slow(LATENCY));
    }

    // 1. The library function, in this process.
    let before = counts(&simulator, &services);
    let validator = HttpValidator::new(ValidatorConfig {
        // The simulator listens on loopback.
        outbound: credledger_adapters::outbound::OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        },
        ..ValidatorConfig::default()
    })
    .unwrap();
    // The configured defaults (CREDLEDGER_REVALIDATE_CONCURRENCY changes the concurrency).
    let defaults = JobSettings::resolve(Default::default(), false).unwrap();
    let options = RevalidateOptions {
        // Every credential was checked before this run: all are stale.
        stale_after: chrono::Duration::zero(),
        ..RevalidateOptions::from_settings(&defaults, "bench")
    };
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let noop: Progress = Arc::new(|_, _| {});
    let t = Instant::now();
    let report = revalidate(
        ledger.clone(),
        Arc::new(validator.clone()),
        &options,
        stop,
        noop,
    )
    .await
    .unwrap();
    let checked = t.elapsed().as_secs_f64();
    ledger.projections.catch_up().await.unwrap();
    let total = t.elapsed().as_secs_f64();
    println!(
        "  library: {} credentials, concurrency {}, providers answering in {} ms: \
         {checked:.2} s checking + {:.2} s catching up the read models = {total:.2} s \
         ({:.0} checks/s) — target ≤ 15 s",
        report.stale,
        options.concurrency,
        LATENCY.as_millis(),
        total - checked,
        report.stale as f64 / total,
    );
    println!(
        "    valid {}, invalid {}, could not check {}, skipped {}, errors {}",
        report.valid, report.invalid, report.could_not_check, report.skipped, report.errors
    );
    assert_eq!(report.stale, (USERS * 10) as u64);
    assert_eq!(report.valid, report.stale, "every check should succeed");
    let sent = validator.requests_sent();
    for (s, (after, before)) in services
        .iter()
        .zip(counts(&simulator, &services).iter().zip(&before))
    {
        assert_eq!(sent.get(s).copied().unwrap_or(0), after - before, "{s}");
    }
    let worst = limits_held(&simulator, &services, &before);
    println!(
        "    limits held: busiest minute of any service {:.0} % of its per-minute limit \
         (validator's requests_sent() = requests the simulator received)",
        worst * 100.0
    );

    // 2. `credledger credentials validate-all` itself: start-up, catch-up, progress, summary.
    let before = counts(&simulator, &services);
    let (elapsed, stdout) = validate_all_binary(&settings, &dir).await;
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("validate-all"))
        .unwrap_or("");
    println!("  binary: {elapsed:.2} s for `credledger credentials validate-all --stale-days 0` — target ≤ 15 s");
    println!("    {summary}");
    let expected = format!("valid {}, invalid 0", USERS * 10);
    assert!(summary.contains(&expected), "{stdout}");
    let worst = limits_held(&simulator, &services, &before);
    println!(
        "    limits held: busiest minute of any service {:.0} % of its per-minute limit",
        worst * 100.0
    );
    // Both runs together, as a provider would count them.
    let combined = limits_held(&simulator, &services, &vec![0; services.len()]);
    println!(
        "  both runs together: busiest minute {:.0} % \
         ({LIMIT_PER_MINUTE}/min, {LIMIT_PER_HOUR}/h per service; scheduled share {SCHEDULED_SHARE} %)",
        combined * 100.0
    );
    ledger.db.close().await;
}

fn settings(dir: &std::path::Path, url: Option<String>) -> Settings {
    Settings {
        database_url: url,
        data_dir: dir.join("data"),
        master_keys: None,
        master_key_file: dir.join("master.keys"),
        bind: "127.0.0.1:0".into(),
        db_connections: 40,
        db_connection_wait: credledger_adapters::db::DEFAULT_CONNECTION_WAIT,
        dev: false,
        read_your_writes_ms: 0,
        validations_per_minute: 10,
        api_requests_per_minute: 0,
        provider_urls: Default::default(),
        catalog_file: None,
        public_names: Vec::new(),
        trusted_proxies: Vec::new(),
        outbound: credledger_adapters::outbound::OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        },
        public_url: None,
        oauth_clients: Default::default(),
        metrics_token: None,
        metrics_listen: None,
        client_waits: Default::default(),
        ready_max_lag: credledger::config::DEFAULT_READY_MAX_LAG,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |b: &str| args.is_empty() || args.iter().any(|a| a == b);
    let builtin: u32 = Catalog::builtin()
        .services()
        .iter()
        .filter_map(|s| s.rate_limit_per_minute)
        .sum();
    println!(
        "credledger validate-all benchmark — {} cores; the built-in catalog allows {builtin} \
         checks a minute in all, so 10,000 in 15 s need raised limits",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    if want("postgres") {
        let admin = std::env::var("CREDLEDGER_BENCH_DATABASE_URL")
            .or_else(|_| std::env::var("CREDLEDGER_TEST_DATABASE_URL"))
            .expect("set CREDLEDGER_BENCH_DATABASE_URL (or CREDLEDGER_TEST_DATABASE_URL) for PostgreSQL");
        let name = format!("cl_bench_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        let fsync: (String,) = sqlx::query_as("SHOW fsync").fetch_one(&pool).await.unwrap();
        let version: (String,) = sqlx::query_as("SHOW server_version")
            .fetch_one(&pool)
            .await
            .unwrap();
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => admin.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        run(
            &format!("PostgreSQL {} (fsync {})", version.0, fsync.0),
            settings(dir.path(), Some(url)),
        )
        .await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&pool)
            .await
            .unwrap();
    }
    if want("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        run("SQLite (WAL, synchronous=FULL)", settings(dir.path(), None)).await;
    }
}
