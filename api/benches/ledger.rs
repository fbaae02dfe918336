//! Ledger benchmark: command throughput at 1 and 16 writers, feed reads, projection rebuild and
//! key rewrap, on PostgreSQL and SQLite. A load tool, not a test: it prints figures.
//!
//!     cargo bench -p credledger --bench ledger                 # both backends
//!     cargo bench -p credledger --bench ledger -- sqlite       # one backend
//!
//! PostgreSQL: CREDLEDGER_BENCH_DATABASE_URL (or CREDLEDGER_TEST_DATABASE_URL) names a server
//! where a scratch database is created and dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use credledger::config::Settings;
use credledger::{app::open_ledger, keys::IfMissing, Ledger, NewCredential};
use credledger_adapters::crypto::MasterKeyring;
use credledger_adapters::feed;
use credledger_adapters::keystore::KeyStore;
use credledger_domain::{CredentialId, EventMetadata};
use credledger_projections::READ_MODELS;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn meta() -> EventMetadata {
    EventMetadata {
        actor: "bench".into(),
        occurred_at: chrono::Utc::now(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("credledger-bench".into()),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

const SERVICES: [&str; 5] = ["notion", "todoist", "sentry", "jira", "confluence"];

/// One writer's work: for each credential, register it, record a valid check, rename it —
/// three keyring commands, the API's add/revalidate/update. Users hold 50 credentials over the
/// five multi-account services (10 per keyring), the dashboard target's shape.
async fn writer(ledger: Arc<Ledger>, writer: usize, credentials: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(credentials * 3);
    for k in 0..credentials {
        let user = format!("bench-{writer:03}-{:03}", k / 50);
        let service = SERVICES[k % SERVICES.len()];
        let id = CredentialId::from_uuid(uuid::Uuid::new_v4());
        let fields = credledger::cli::demo_fields(&ledger, service, k).to_string();
        let name = format!("{service} {k}");
        let t = Instant::now();
        ledger
            .register(
                NewCredential {
                    user_id: &user,
                    service,
                    name: &name,
                    fields_json: fields.as_bytes(),
                    metadata: Default::default(),
                    validation: None,
                },
                id,
                &meta(),
            )
            .await
            .expect("register");
        latencies.push(t.elapsed());
        let t = Instant::now();
        ledger
            .record_validation(
                &id.to_string(),
                1,
                credledger_domain::keyring::ValidationOutcome::Valid {
                    account: credledger_domain::keyring::AccountIdentity {
                        id: format!("acct-{id}"),
                        display_name: None,
                        email: None,
                    },
                    provider_metadata: Default::default(),
                    scopes: vec![],
                    expires_at: None,
                },
                &meta(),
            )
            .await
            .expect("validate");
        latencies.push(t.elapsed());
        let t = Instant::now();
        ledger
            .update(
                &id.to_string(),
                Some(&format!("renamed {k}")),
                None,
                &meta(),
            )
            .await
            .expect("rename");
        latencies.push(t.elapsed());
    }
    latencies
}

async fn commands(ledger: &Arc<Ledger>, writers: usize, per_writer: usize, offset: usize) {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        tasks.spawn(writer(ledger.clone(), offset + w, per_writer));
    }
    let mut latencies = Vec::new();
    while let Some(l) = tasks.join_next().await {
        latencies.extend(l.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "  commands, {writers:>2} writer(s): {:>6} commands in {elapsed:.2} s = {:>7.0} commands/s (p50 {:.2} ms, p99 {:.2} ms per command, each waiting until the read models show it)",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
}

/// Events in the ledger before the feed read, rebuild and rewrap are measured.
const HISTORY: i64 = 60_000;

/// More of the same commands, for history, without printing their figures.
async fn commands_quietly(ledger: &Arc<Ledger>, writers: usize, per_writer: usize, offset: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        tasks.spawn(writer(ledger.clone(), offset + w, per_writer));
    }
    while let Some(l) = tasks.join_next().await {
        l.unwrap();
    }
}

async fn run(label: &str, settings: Settings) {
    println!("{label}");
    let ledger = open_ledger(&settings, IfMissing::Generate).await.unwrap();
    // As in `serve`: the projections run in the background and every command waits until they
    // show it (read-your-writes), which commands by id rely on.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = {
        let projections = ledger.projections.clone();
        tokio::spawn(async move { projections.run(stopped).await })
    };
    commands(&ledger, 1, 200, 0).await;
    commands(&ledger, 16, 125, 100).await;
    // More history for the read-side measurements: a rebuild's rate is its throughput over a
    // ledger large enough that creating and swapping the tables does not decide it.
    let mut offset = 200;
    commands(&ledger, 16, 125, offset).await;
    while ledger.db.head().await.unwrap() < HISTORY {
        offset += 100;
        commands_quietly(&ledger, 16, 125, offset).await;
    }
    stop.send(true).unwrap();
    runner.await.unwrap();
    ledger.projections.catch_up().await.unwrap();

    let head = ledger.db.head().await.unwrap();
    let start = Instant::now();
    let (mut after, mut n) = (0, 0usize);
    loop {
        let events = feed::read_after(&ledger.db.any, after, 1000).await.unwrap();
        let Some(last) = events.last() else { break };
        after = last.position;
        n += events.len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "  feed read: {n} events in {elapsed:.2} s = {:.0} events/s",
        n as f64 / elapsed
    );

    for consumer in READ_MODELS {
        // When each replayed batch committed: the replay's own rate, apart from the fixed
        // cost of creating the shadow tables before it and swapping them in after it.
        let batches = std::sync::Mutex::new(Vec::new());
        let start = Instant::now();
        let report = ledger
            .projections
            .rebuild(consumer, &|applied, _| {
                batches.lock().unwrap().push((applied, Instant::now()))
            })
            .await
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        let batches = batches.into_inner().unwrap();
        let replay = match (batches.first(), batches.last()) {
            (Some((first_n, first_t)), Some((last_n, last_t))) if last_n > first_n => {
                let seconds = (*last_t - *first_t).as_secs_f64();
                format!(
                    "; replay after the first batch: {} events in {seconds:.2} s = {:.0} events/s, \
                     swap {:.0} ms",
                    last_n - first_n,
                    (last_n - first_n) as f64 / seconds,
                    last_t.elapsed().as_secs_f64() * 1000.0
                )
            }
            _ => String::new(),
        };
        println!(
            "  rebuild {}: {} events in {elapsed:.2} s = {:.0} events/s{replay}",
            report.consumer,
            report.events,
            report.events as f64 / elapsed
        );
    }
    assert_eq!(head, ledger.db.head().await.unwrap());

    // Rewrap every data key under a new master key version.
    MasterKeyring::append_new_version(&settings.master_key_file).unwrap();
    let keys = KeyStore::new(
        ledger.db.clone(),
        Arc::new(MasterKeyring::load_file(&settings.master_key_file).unwrap()),
    );
    let start = Instant::now();
    let mut rewrapped = 0;
    loop {
        let n = keys.rewrap_batch(1000).await.unwrap();
        if n == 0 {
            break;
        }
        rewrapped += n;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "  rewrap: {rewrapped} data keys in {elapsed:.2} s = {:.0} DEKs/s",
        rewrapped as f64 / elapsed
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
        read_your_writes_ms: 5_000,
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
    println!(
        "credledger ledger benchmark — {} cores",
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
