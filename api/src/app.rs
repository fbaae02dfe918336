//! Start-up as a library function: `Application::build` opens the ledger, binds the listener
//! (port 0 allowed) and exposes its address; `run` serves until a shutdown signal.

use crate::accounts::{Accounts, NewUser};
use crate::auth::Password;
use crate::config::{JobSettings, Settings};
use crate::graphql::{Api, LiveFeed};
use crate::http;
use crate::jobs::Leases;
use crate::jobs::{Scheduler, SchedulerHandle};
use crate::keys::{self, IfMissing};
use crate::ledger::Ledger;
use crate::mcp::sync::McpSync;
use crate::mcp::McpServers;
use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use credledger_adapters::append::GroupAppender;
use credledger_adapters::keystore::KeyStore;
use credledger_adapters::simulator::ProviderSimulator;
use credledger_adapters::validation::HttpValidator;
use credledger_adapters::Database;
use credledger_domain::Catalog;
use credledger_domain::EventMetadata;
use credledger_projections::Projections;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Opens the ledger: connect, migrate, load the master keys, wire the use cases.
pub async fn open_ledger(
    settings: &Settings,
    if_missing: IfMissing,
) -> anyhow::Result<Arc<Ledger>> {
    open_ledger_with(settings, if_missing, settings.catalog()?).await
}

async fn open_ledger_with(
    settings: &Settings,
    if_missing: IfMissing,
    catalog: Catalog,
) -> anyhow::Result<Arc<Ledger>> {
    let db = Database::connect(&settings.database())
        .await
        .context("could not open the ledger database")?;
    db.migrate()
        .await
        .context("could not migrate the ledger database")?;
    // A key generated now would open none of the data keys already stored, and everything
    // added under it would need a key nobody configured.
    if if_missing == IfMissing::Generate
        && !keys::given(settings)
        && KeyStore::any_stored(&db).await?
    {
        anyhow::bail!(
            "no master keys are given, but the database already holds data keys wrapped by \
             master keys: set CREDLEDGER_MASTER_KEYS, or CREDLEDGER_MASTER_KEY_FILE \
             (--master-key-file), to the keys they were written with (nothing was generated; \
             a new key would open none of them)"
        );
    }
    let master = keys::load(settings, if_missing)?;
    let keys = KeyStore::new(db.clone(), Arc::new(master));
    keys.check_master_keys().await?;
    // The process's one group writer: the ledger's commands and uses go through it, and the
    // read models let what is on its way land before a batch.
    let writer = GroupAppender::start(db.clone());
    let projections = Arc::new(Projections::new(&db, Some(&writer)));
    Ok(Arc::new(Ledger::new(
        db,
        writer,
        keys,
        Arc::new(catalog),
        projections,
        Duration::from_millis(settings.read_your_writes_ms),
    )))
}

/// The accounts `serve --dev` creates: (id, email, name, password, admin).
pub const DEV_USERS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "demo",
        "demo@credledger.dev",
        "Demo User",
        "demo-password-123",
        false,
    ),
    (
        "admin",
        DEMO_ADMIN_EMAIL,
        "Demo Admin",
        "admin-password-123",
        true,
    ),
];

/// The administrator `serve --dev` creates, whose password is published.
const DEMO_ADMIN_EMAIL: &str = "admin@credledger.dev";

/// `serve --dev` and a real deployment never share a ledger: dev mode adds accounts whose
/// passwords are published (an administrator's among them), and checks every credential
/// against the simulator (which would record real ones invalid). So it runs only on a new
/// ledger or one it made (holding one of its demo accounts: a first run stopped between them
/// holds only the first), and `serve` without it refuses a ledger holding one.
async fn keep_dev_ledgers_apart(ledger: &Ledger, dev: bool) -> anyhow::Result<()> {
    let mut demo_account = false;
    for (_, email, ..) in DEV_USERS {
        demo_account |= credledger_projections::principals::user(&ledger.db.any, email, true)
            .await?
            .is_some();
    }
    if dev && !demo_account && ledger.db.head().await? > 0 {
        anyhow::bail!(
            "`serve --dev` runs only on a new ledger or one it made, and this one already holds \
             a history without its demo accounts: dev mode would add an administrator whose \
             password is published and check its credentials against the simulator. Give it \
             another data directory (--data-dir) or database (DATABASE_URL)"
        );
    }
    if !dev && demo_account {
        anyhow::bail!(
            "this ledger was made by `serve --dev`: it holds its demo accounts (the \
             administrator {DEMO_ADMIN_EMAIL} among them), whose passwords are published, and \
             demo credentials the simulator passed. Run it with --dev, or start on a new \
             ledger (another data directory or DATABASE_URL)"
        );
    }
    Ok(())
}

#[derive(Clone)]
struct AppState {
    ledger: Arc<Ledger>,
    /// Not ready while a read model is further behind than this (events).
    ready_max_lag: i64,
    /// The ids this instance holds leases under: one of them lapsing is a stuck job.
    lease_holders: Arc<Vec<String>>,
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: tokio::net::TcpListener,
    ledger: Arc<Ledger>,
    api: Arc<Api>,
    dev: bool,
    /// The `Host` names the API and the dashboard answer to.
    public_names: http::HostNames,
    /// `--dev` only: the provider simulator the catalog points at.
    simulator: Option<ProviderSimulator>,
    /// Scheduled jobs, unless switched off.
    scheduler: Option<Scheduler>,
    /// The replay adapter's sender, with the jobs.
    mcp_sync: Option<Arc<McpSync>>,
    /// The scheduled OAuth refresh pass and how often it runs, with the jobs.
    oauth_refresh: Option<(Arc<crate::oauth::TokenRefresher>, Duration)>,
    /// `/metrics` on the main listener behind this token.
    metrics_token: Option<String>,
    /// `/metrics` alone on its own listener.
    metrics_listener: Option<tokio::net::TcpListener>,
    ready_max_lag: i64,
    /// How long a connection may go without sending a request's headers or taking its answer.
    client_waits: crate::http::ClientWaits,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// A running server (for tests and `serve`).
pub struct Running {
    pub address: SocketAddr,
    /// Where `/metrics` is served alone, when configured.
    pub metrics_address: Option<SocketAddr>,
    pub ledger: Arc<Ledger>,
    pub api: Arc<Api>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _simulator: Option<ProviderSimulator>,
    jobs: SchedulerHandle,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// What this instance's scheduler has done.
    pub fn jobs(&self) -> &SchedulerHandle {
        &self.jobs
    }

    /// Stops accepting, finishes in-flight requests and the projections' current batch.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.context("server task failed")?
    }
}

impl Application {
    /// [`Application::build_with_jobs`] with the default job settings.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_jobs(settings, JobSettings::default()).await
    }

    pub async fn build_with_jobs(settings: Settings, jobs: JobSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(&settings.bind)
            .await
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        let address = listener.local_addr()?;
        // Dev mode creates an administrator whose password is published, answers with demo
        // secrets and lets outbound calls reach loopback: for this machine only.
        if settings.dev && !address.ip().is_loopback() {
            anyhow::bail!(
                "`serve --dev` listens on loopback only (it creates accounts whose passwords are \
                 published): {address} is not a loopback address"
            );
        }
        // Where Google sends people back with their authorization codes.
        let providers: Vec<&str> = settings.oauth_clients.keys().map(String::as_str).collect();
        let public_url =
            crate::config::oauth_public_url(settings.public_url.as_deref(), address, &providers)?;
        let metrics_listener = match &settings.metrics_listen {
            Some(at) => Some(
                tokio::net::TcpListener::bind(at)
                    .await
                    .with_context(|| format!("could not listen on {at} for /metrics"))?,
            ),
            None => None,
        };
        // Before anything records: the process's metrics recorder.
        crate::metrics::handle();
        let mut catalog = settings.catalog()?;
        // The simulator answers with well-known demo secrets: only ever in dev mode.
        let simulator = if settings.dev {
            let simulator = ProviderSimulator::start()
                .await
                .context("could not start the provider simulator")?;
            simulator.point_catalog(&mut catalog)?;
            Some(simulator)
        } else {
            None
        };
        let ledger = open_ledger_with(&settings, IfMissing::Generate, catalog).await?;
        keep_dev_ledgers_apart(&ledger, settings.dev).await?;
        let mut oauth_clients = settings.oauth_clients.clone();
        if simulator.is_some() {
            // Dev mode: Google's flows go to the simulator, which signs people in with its demo
            // client. A real client configured beside `--dev` is not used: its secret would be
            // sent to the simulator with every code exchange and refresh.
            let demo = credledger_adapters::oauth::OAuthClient {
                id: credledger_adapters::simulator::DEMO_OAUTH_CLIENT_ID.to_owned(),
                secret: Some(credledger_adapters::simulator::DEMO_OAUTH_CLIENT_SECRET.to_owned()),
            };
            if oauth_clients.insert("google".to_owned(), demo).is_some() {
                tracing::warn!(
                    "--dev: the configured Google OAuth client is not used; the simulator's demo \
                     client connects Google accounts"
                );
            }
        }
        // One validator: its clones share the per-service outbound limits, so interactive and
        // scheduled checks together stay within them.
        let validator = HttpValidator::new(settings.validator_config())?;
        // Nobody reads the scheduled jobs' or the MCP sender's writes back at once: they use
        // the ledger without the read-your-writes wait (the same writer and memories).
        let quiet = Arc::new(ledger.without_read_your_writes());
        let quiet_for_tokens = quiet.clone();
        let scheduler = if jobs.enabled {
            Some(Scheduler::new(
                quiet.clone(),
                Arc::new(validator.clone()),
                jobs.clone(),
                &settings.outbound,
                oauth_clients.keys().cloned().collect(),
            )?)
        } else {
            None
        };
        let limits = Arc::new(crate::limits::Limits::for_database(
            &ledger.db,
            crate::limits::Quotas::of(&settings),
        ));
        let accounts = Arc::new(Accounts::new(ledger.clone(), limits.clone()));
        let mcp_sync = jobs.enabled.then(|| {
            Arc::new(McpSync::new(
                Arc::new(
                    McpServers::new(quiet)
                        .with_outbound(settings.outbound.clone())
                        .with_refreshed_providers(oauth_clients.keys().cloned()),
                ),
                jobs.mcp.clone(),
                Leases::new(ledger.db.clone()),
            ))
        });
        let oauth = Arc::new(crate::oauth::OAuthConnections::new(
            credledger_adapters::oauth::OAuthHttp::new(settings.outbound.clone())?,
            oauth_clients,
            &public_url,
        ));
        if let Some(simulator) = &simulator {
            // As an operator registers it in the Cloud console for a real client.
            simulator.register_oauth_redirect_uri(oauth.redirect_uri());
        }
        let tokens = Arc::new(crate::oauth::TokenRefresher::new(
            quiet_for_tokens,
            oauth.clone(),
            Arc::new(validator.clone()),
            jobs.oauth_refresh_margin,
            jobs.oauth_refresh_interval,
        ));
        let oauth_refresh = jobs
            .enabled
            .then(|| (tokens.clone(), jobs.oauth_refresh_interval));
        let api = Arc::new(Api {
            ledger: ledger.clone(),
            accounts,
            mcp: Arc::new(McpServers::new(ledger.clone()).with_outbound(settings.outbound.clone())),
            validator: Arc::new(validator),
            expiry_warning: jobs.warning_window,
            limits,
            live: LiveFeed::new(),
            open_per_subject: Default::default(),
            answers: Default::default(),
            // Browsers keep `Secure` cookies off plain HTTP except on loopback; dev mode on
            // loopback serves plain HTTP, everything else is expected behind TLS.
            secure_cookies: !(settings.dev && address.ip().is_loopback()),
            trusted_proxies: settings.trusted_proxies.clone(),
            oauth,
            tokens,
        });
        Ok(Self {
            listener,
            ledger,
            api,
            dev: settings.dev,
            public_names: http::HostNames(settings.public_names.clone().into()),
            simulator,
            scheduler,
            mcp_sync,
            oauth_refresh,
            metrics_token: settings.metrics_token.clone(),
            metrics_listener,
            client_waits: settings.client_waits,
            ready_max_lag: settings.ready_max_lag,
        })
    }

    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Where OAuth providers send people back: the redirect URI their clients must register.
    pub fn oauth_callback_url(&self) -> &str {
        self.api.oauth.redirect_uri()
    }

    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    fn router(&self) -> Router {
        let graphql = http::GraphqlState {
            api: self.api.clone(),
            schema: crate::graphql::schema(Some(self.api.clone()), self.dev),
            dev: self.dev,
        };
        let graphql_routes = Router::new()
            .route(
                "/graphql",
                axum::routing::post(http::graphql_post).get(http::graphql_get),
            )
            .with_state(graphql);
        // Probes ask by the instance's address, whatever its public names: health discloses
        // nothing, so only the API and the dashboard check `Host`.
        let mut probes = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(AppState {
                ledger: self.ledger.clone(),
                ready_max_lag: self.ready_max_lag,
                lease_holders: Arc::new(self.lease_holders()),
            });
        probes = match &self.metrics_token {
            Some(token) => probes.merge(crate::metrics::routes(
                self.ledger.clone(),
                Some(token),
                self.lease_holders(),
            )),
            // Not the dashboard's page either: a scraper pointed here learns that it is off.
            None => probes.route(
                "/metrics",
                get(|| async { (StatusCode::NOT_FOUND, "/metrics is not enabled here\n") }),
            ),
        };
        let oauth_routes = Router::new()
            .route("/oauth/callback", get(crate::oauth::callback))
            .route("/oauth/finish", get(crate::oauth::finish_flow))
            .with_state(self.api.clone());
        Router::new()
            .merge(graphql_routes)
            .merge(oauth_routes)
            .merge(crate::web::routes())
            .layer(axum::middleware::from_fn_with_state(
                self.public_names.clone(),
                http::known_host,
            ))
            .merge(probes)
            .layer(axum::middleware::from_fn_with_state(
                self.api.secure_cookies,
                http::security_headers,
            ))
    }

    /// The ids this instance holds leases under (its scheduler's and its MCP sender's).
    fn lease_holders(&self) -> Vec<String> {
        let scheduler = self.scheduler.as_ref().map(|s| s.lease_holder().to_owned());
        let sender = self.mcp_sync.as_ref().map(|s| s.lease_holder().to_owned());
        scheduler.into_iter().chain(sender).collect()
    }

    /// Dev mode: the demo accounts exist, and the newcomer is told how to sign in and which
    /// secrets the simulator accepts.
    async fn dev_setup(&self) -> anyhow::Result<()> {
        let Some(simulator) = &self.simulator else {
            return Ok(());
        };
        let meta =
            EventMetadata::system("dev", chrono::Utc::now(), uuid::Uuid::new_v4().to_string());
        for (id, email, name, password, admin) in DEV_USERS {
            let exists = credledger_projections::principals::user(&self.ledger.db.any, id, false)
                .await?
                .is_some();
            if !exists {
                self.api
                    .accounts
                    .create_user(
                        NewUser {
                            user_id: id.to_string(),
                            email: email.to_string(),
                            display_name: name.to_string(),
                            password: Password::new_for_storage(password.to_string())
                                .map_err(anyhow::Error::msg)?,
                            admin: *admin,
                        },
                        &meta,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("could not create the dev user {id}: {e}"))?;
            }
        }
        let mut text = String::from(
            "\n  DEV MODE: providers are simulated on loopback; never use this with real data.\n",
        );
        for (id, email, _, password, admin) in DEV_USERS {
            let role = if *admin { "admin" } else { "user" };
            text.push_str(&format!(
                "  sign in ({role}): {email} / {password} (user id {id})\n"
            ));
        }
        text.push_str(&format!(
            "  provider simulator: {} (each service under /<service>, e.g. {})\n",
            simulator.addr(),
            simulator.base_url("notion")
        ));
        text.push_str("  secrets the simulator accepts (anything else is refused):\n");
        for demo in simulator.demo_credentials() {
            let fields: Vec<String> = demo
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            text.push_str(&format!("    {:<16} {}\n", demo.service, fields.join("  ")));
        }
        eprintln!("{text}");
        Ok(())
    }

    /// Starts serving and running the projections in the background.
    pub async fn start(self) -> anyhow::Result<Running> {
        let address = self.address()?;
        let router = self.router();
        let metrics_address = match &self.metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let metrics_router =
            crate::metrics::routes(self.ledger.clone(), None, self.lease_holders());
        let (shutdown, rx) = watch::channel(false);
        let ledger = self.ledger.clone();
        // Destroy any data key an interrupted erasure left behind once the audit trail is current.
        // A read model that cannot go on (an event this binary cannot read) stops only itself:
        // the service starts, the runner tries it again, and its lag shows in the metrics.
        if let Err(e) = ledger.projections.catch_up().await {
            tracing::error!(error = %e, "a read model could not catch up; starting without it");
        }
        let shredded = ledger.shred_erased().await?;
        if shredded > 0 {
            tracing::warn!(
                count = shredded,
                "destroyed data keys left by interrupted erasures"
            );
        }
        let projections = ledger.projections.clone();
        let projections_rx = rx.clone();
        let consumers = tokio::spawn(async move { projections.run(projections_rx).await });
        // Early, so that it has read the ledger's head before anyone can subscribe (until then
        // subscribing is refused).
        let live = self.api.live.clone();
        let live_db = ledger.db.clone();
        let live_rx = rx.clone();
        let live_task = tokio::spawn(async move { live.follow(live_db, live_rx).await });
        // After the consumers start: creating the demo accounts waits for the read models.
        self.dev_setup().await?;
        if !self.api.accounts.any_user().await? {
            tracing::warn!(
                "no users yet: create the first administrator with \
                 `credledger users create --admin --id admin --email you@example.com`"
            );
        }
        let (scheduler, jobs) = match self.scheduler {
            Some(scheduler) => {
                let (task, handle) = scheduler.spawn(rx.clone());
                (Some(task), handle)
            }
            None => (None, SchedulerHandle::default()),
        };
        let mcp_task = self.mcp_sync.map(|sync| {
            let rx = rx.clone();
            tokio::spawn(async move { sync.run(rx).await })
        });
        let refresh_task = self.oauth_refresh.map(|(tokens, every)| {
            let rx = rx.clone();
            tokio::spawn(async move { tokens.run(every, rx).await })
        });
        let client_waits = self.client_waits;
        let metrics_task = self.metrics_listener.map(|listener| {
            tokio::spawn(crate::http::serve(
                listener,
                metrics_router,
                client_waits,
                rx.clone(),
            ))
        });
        let upkeep = tokio::spawn(crate::metrics::keep_up(crate::metrics::UPKEEP, rx.clone()));
        let listener = self.listener;
        let server = tokio::spawn(async move {
            crate::http::serve(listener, router, client_waits, rx).await;
            consumers.await.context("the projections task failed")?;
            live_task.await.context("the live feed task failed")?;
            if let Some(scheduler) = scheduler {
                scheduler.await.context("the scheduler failed")?;
            }
            if let Some(task) = mcp_task {
                task.await.context("the MCP sync failed")?;
            }
            if let Some(task) = refresh_task {
                task.await.context("the OAuth refresh pass failed")?;
            }
            upkeep.await.context("the metrics upkeep failed")?;
            if let Some(task) = metrics_task {
                task.await.context("the metrics listener failed")?;
            }
            Ok(())
        });
        tracing::info!(%address, backend = ?ledger.db.backend(), "credledger is serving");
        Ok(Running {
            address,
            metrics_address,
            ledger,
            api: self.api,
            shutdown,
            server,
            _simulator: self.simulator,
            jobs,
        })
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let running = self.start().await?;
        shutdown_signal().await;
        tracing::info!("shutting down");
        running.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for its checks: a database that does not answer makes the instance
/// not ready, it does not hold up the probe.
const READY_DEADLINE: Duration = Duration::from_secs(1);

async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    let ledger = &state.ledger;
    let checks = async {
        (
            ledger.db.ping().await,
            ledger.projections.status().await,
            stuck_job(ledger, &state.lease_holders).await,
        )
    };
    let not_ready = |body: serde_json::Value| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(
                axum::http::header::RETRY_AFTER,
                crate::error::RETRY_UNAVAILABLE.to_string(),
            )],
            Json(body),
        )
            .into_response()
    };
    match tokio::time::timeout(READY_DEADLINE, checks).await {
        Ok((Ok(()), Ok(consumers), Ok(stuck))) => {
            match readiness(consumers, state.ready_max_lag, stuck) {
                Ok(ready) => (StatusCode::OK, Json(ready)).into_response(),
                Err(why) => not_ready(why),
            }
        }
        Ok((Err(e), _, _)) => {
            tracing::error!(error = %e, "readiness: database unavailable");
            not_ready(serde_json::json!({ "status": "database unavailable" }))
        }
        Err(_) => {
            tracing::error!("readiness: the database did not answer within a second");
            not_ready(serde_json::json!({ "status": "database unavailable" }))
        }
        Ok((_, Err(e), _)) => {
            tracing::error!(error = %e, "readiness: projections unavailable");
            not_ready(serde_json::json!({ "status": "projections unavailable" }))
        }
        Ok((_, _, Err(e))) => {
            tracing::error!(error = %e, "readiness: leases unreadable");
            not_ready(serde_json::json!({ "status": "database unavailable" }))
        }
    }
}

/// Ready, or why not, once the database has answered: no read model further behind than
/// `max_lag`, no job of this instance stuck. Each read model shows its name and lag only: the
/// probe answers anyone, and positions would tell them how many events the ledger holds, and by
/// polling, how often credentials are used (every use is an event); `/metrics` has them.
fn readiness(
    consumers: Vec<credledger_projections::ConsumerStatus>,
    max_lag: i64,
    stuck: Option<String>,
) -> Result<serde_json::Value, serde_json::Value> {
    let behind = consumers.iter().any(|c| c.lag > max_lag);
    let consumers: Vec<serde_json::Value> = consumers
        .into_iter()
        .map(|c| serde_json::json!({ "name": c.name, "lag": c.lag }))
        .collect();
    if behind {
        return Err(serde_json::json!({
            "status": "read models behind",
            "maxLag": max_lag,
            "consumers": consumers,
        }));
    }
    if let Some(job) = stuck {
        return Err(serde_json::json!({ "status": "job stuck", "job": job }));
    }
    Ok(serde_json::json!({"status": "ready", "consumers": consumers}))
}

/// A lease this instance holds whose time ran out: its holder stopped renewing it (a job or the
/// MCP sender stuck, or its renewals failing) and another instance may take it over.
async fn stuck_job(ledger: &Ledger, holders: &[String]) -> Result<Option<String>, sqlx::Error> {
    if holders.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT name, holder, expires_at FROM leases WHERE holder IS NOT NULL")
            .fetch_all(&ledger.db.any)
            .await?;
    let now = chrono::Utc::now();
    Ok(rows.into_iter().find_map(|(name, holder, expires)| {
        let mine = holder.is_some_and(|h| holders.contains(&h));
        let lapsed = chrono::DateTime::parse_from_rfc3339(&expires).is_ok_and(|t| t < now);
        (mine && lapsed).then_some(name)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_projections::ConsumerStatus;

    fn consumer(name: &str, position: i64, head: i64) -> ConsumerStatus {
        ConsumerStatus {
            name: name.into(),
            position,
            head,
            lag: head - position,
        }
    }

    #[test]
    fn ready_within_the_lag_bound_and_without_a_stuck_job() {
        let ready = readiness(vec![consumer("audit_trail", 90, 100)], 10, None).expect("ready");
        // Names and lags, no positions: the probe answers anyone.
        assert_eq!(
            ready,
            serde_json::json!({"status": "ready", "consumers": [{"name": "audit_trail", "lag": 10}]})
        );
    }

    #[test]
    fn a_read_model_past_the_bound_is_named() {
        let why = readiness(
            vec![
                consumer("audit_trail", 100, 100),
                consumer("credential_summary", 89, 100),
            ],
            10,
            None,
        )
        .expect_err("behind");
        assert_eq!(why["status"], "read models behind");
        assert_eq!(why["maxLag"], 10);
        assert_eq!(why["consumers"][1]["lag"], 11);
    }

    #[test]
    fn a_stuck_job_is_named() {
        let why = readiness(
            vec![consumer("audit_trail", 5, 5)],
            10,
            Some("revalidate".into()),
        )
        .expect_err("stuck");
        assert_eq!(
            why,
            serde_json::json!({"status": "job stuck", "job": "revalidate"})
        );
    }
}
