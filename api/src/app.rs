//! Start-up as a library function: `Application::build` opens the ledger, binds the listener
//! (port 0 allowed) and exposes its address; `run` serves until a shutdown signal.

use crate::config::Settings;
use crate::keys::{self, IfMissing};
use crate::ledger::Ledger;
use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use credledger_adapters::keystore::KeyStore;
use credledger_adapters::Database;
use credledger_domain::Catalog;
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
    let db = Database::connect(&settings.database())
        .await
        .context("could not open the ledger database")?;
    db.migrate()
        .await
        .context("could not migrate the ledger database")?;
    let master = keys::load(settings, if_missing)?;
    let keys = KeyStore::new(db.clone(), Arc::new(master));
    let projections = Arc::new(Projections::new(&db));
    Ok(Arc::new(Ledger::new(
        db,
        keys,
        Arc::new(Catalog::builtin()),
        projections,
        Duration::from_millis(settings.read_your_writes_ms),
    )))
}

#[derive(Clone)]
struct AppState {
    ledger: Arc<Ledger>,
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: tokio::net::TcpListener,
    ledger: Arc<Ledger>,
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
    pub ledger: Arc<Ledger>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Stops accepting, finishes in-flight requests and the projections' current batch.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.context("server task failed")?
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let ledger = open_ledger(&settings, IfMissing::Generate).await?;
        let listener = tokio::net::TcpListener::bind(&settings.bind)
            .await
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        Ok(Self { listener, ledger })
    }

    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(AppState {
                ledger: self.ledger.clone(),
            })
    }

    /// Starts serving and running the projections in the background.
    pub async fn start(self) -> anyhow::Result<Running> {
        let address = self.address()?;
        let router = self.router();
        let (shutdown, rx) = watch::channel(false);
        let ledger = self.ledger.clone();
        // Destroy any data key an interrupted erasure left behind once the audit trail is current.
        ledger.projections.catch_up().await?;
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
        let mut server_rx = rx;
        let listener = self.listener;
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = server_rx.wait_for(|stop| *stop).await;
                })
                .await
                .context("the HTTP server failed")?;
            consumers.await.context("the projections task failed")?;
            Ok(())
        });
        tracing::info!(%address, backend = ?ledger.db.backend(), "credledger is serving");
        Ok(Running {
            address,
            ledger,
            shutdown,
            server,
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

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ledger = &state.ledger;
    match (ledger.db.ping().await, ledger.projections.status().await) {
        (Ok(()), Ok(consumers)) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ready", "consumers": consumers})),
        ),
        (Err(e), _) => {
            tracing::error!(error = %e, "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
        }
        (_, Err(e)) => {
            tracing::error!(error = %e, "readiness: projections unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "projections unavailable"})),
            )
        }
    }
}
