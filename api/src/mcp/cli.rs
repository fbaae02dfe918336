//! `credledger mcp …`: register servers and give them tokens, see and drive the replay
//! adapter (status, retry-failed, replay), and import from an MCP server.

use super::import::{self, ImportOptions, Plan};
use super::sync::{McpSync, LEASE};
use super::{Authority, McpServers, NewMcpServer};
use crate::app::open_ledger;
use crate::config::{JobSettings, Settings};
use crate::jobs::Leases;
use crate::keys::IfMissing;
use anyhow::Context as _;
use clap::Subcommand;
use credledger_domain::{EventMetadata, Scope, UserId};
use credledger_projections::mcp_sync;
use credledger_projections::mcp_sync::SyncStatus;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum McpCommand {
    /// Register an MCP server. Prints its signing secret, this once.
    Register {
        /// 1–64 of letters, digits, '.', '_', '-'.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Where its credential API is (`POST {url}/credentials`, …).
        #[arg(long)]
        url: String,
        /// The services whose credentials it may hold, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<String>,
        /// It holds every user's credentials for these services, without per-user grants.
        /// Only the operator sets up such a server: the GraphQL API refuses it to
        /// administrators, as it refuses them its address, more services and its tokens.
        #[arg(long)]
        all_users: bool,
    },
    /// Change a registered server: its services, whether it serves every user, its address.
    /// What is not given is kept.
    Change {
        #[arg(long)]
        server: String,
        /// The services whose credentials it may hold, comma-separated.
        #[arg(long, value_delimiter = ',')]
        services: Option<Vec<String>>,
        /// Whether it holds every user's credentials without per-user grants.
        #[arg(long)]
        all_users: Option<bool>,
        /// Where its credential API is: its copies are sent there again.
        #[arg(long)]
        url: Option<String>,
    },
    /// Issue an MCP server an API token with the scope credentials:resolve. Prints it once.
    Token {
        #[arg(long)]
        server: String,
        #[arg(long, default_value = "resolver")]
        name: String,
    },
    /// Let a server hold a user's credentials for a service (as the operator, for the user).
    Grant {
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        service: String,
    },
    /// Credentials per sync status and MCP server.
    Status,
    /// Compare a server's copies with the ledger now: drifted copies are recorded (a running
    /// `serve` resends them) and copies the ledger does not know of (orphans) are listed.
    /// Exit code 1 when anything was found.
    Drift {
        #[arg(long)]
        target: String,
    },
    /// Try the credentials in `error` again now (serve does it hourly).
    RetryFailed {
        /// Only this server's.
        #[arg(long)]
        target: Option<String>,
    },
    /// Rebuild an MCP server's copy from the ledger: everything it may hold (--all, after it
    /// lost its data), or what changed at or after a global position (--from).
    Replay {
        #[arg(long)]
        target: String,
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        from: Option<u64>,
        #[arg(long)]
        all: bool,
    },
    /// Register the credentials an MCP server holds (its `GET /credentials`) in the ledger.
    Import {
        #[arg(long)]
        target: String,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Only this service's.
        #[arg(long)]
        service: Option<String>,
        /// Show what would be imported; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
        /// Do not check the credentials with their providers first: they are imported
        /// inactive, and the scheduled revalidation checks them.
        #[arg(long)]
        no_validate: bool,
        /// Check each credential with its provider first (the default; kept for scripts).
        #[arg(long, hide = true, conflicts_with = "no_validate")]
        validate: bool,
    },
}

fn metadata() -> EventMetadata {
    EventMetadata {
        actor: "cli".to_owned(),
        occurred_at: chrono::Utc::now(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: None,
        user_agent: Some(format!("credledger-cli/{}", env!("CARGO_PKG_VERSION"))),
    }
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Prints an API error the way the other commands do and answers exit code 1.
fn refused(e: crate::error::ApiError) -> ExitCode {
    eprintln!("credledger: {e} ({})", e.code());
    ExitCode::from(1)
}

pub async fn run(
    settings: Settings,
    jobs: JobSettings,
    command: McpCommand,
) -> anyhow::Result<ExitCode> {
    let ledger = open_ledger(&settings, IfMissing::Fail).await?;
    ledger.projections.catch_up().await?;
    let servers = Arc::new(
        McpServers::new(ledger.clone())
            .with_outbound(settings.outbound.clone())
            .with_refreshed_providers(settings.oauth_clients.keys().cloned()),
    );
    let sync = McpSync::new(
        servers.clone(),
        jobs.mcp.clone(),
        Leases::new(ledger.db.clone()),
    );
    // Whether a success of this command committed something: after one, read models that cannot
    // catch up are a warning, not a failure (its secret, shown once, must not be thrown away).
    let changes = !matches!(command, McpCommand::Status | McpCommand::Drift { .. });
    let code = match command {
        McpCommand::Register {
            id,
            name,
            url,
            services,
            all_users,
        } => match servers
            .register(
                NewMcpServer {
                    server_id: id.clone(),
                    name,
                    base_url: url,
                    allowed_services: services,
                    serves_all_users: all_users,
                },
                Authority::Operator,
                &metadata(),
            )
            .await
        {
            Ok(secret) => {
                eprintln!("registered {id}; its signing secret (shown once):");
                println!("{}", secret.0.as_str());
                ExitCode::SUCCESS
            }
            Err(e) => refused(e),
        },
        McpCommand::Token { server, name } => match servers
            .issue_token(
                &server,
                &name,
                BTreeSet::from([Scope::CredentialsResolve]),
                None,
                Authority::Operator,
                &metadata(),
            )
            .await
        {
            Ok(token) => {
                eprintln!("token {} for {server} (shown once):", token.token_id);
                println!("{}", token.secret.as_str());
                ExitCode::SUCCESS
            }
            Err(e) => refused(e),
        },
        McpCommand::Change {
            server,
            services,
            all_users,
            url,
        } => match servers
            .change(
                &server,
                services,
                all_users,
                url,
                Authority::Operator,
                &metadata(),
            )
            .await
        {
            Ok(()) => {
                println!("changed {}", printable(&server));
                ExitCode::SUCCESS
            }
            Err(e) => refused(e),
        },
        McpCommand::Grant {
            server,
            user,
            service,
        } => {
            let user = UserId::parse(&user)?;
            match servers.grant(&user, &server, &service, &metadata()).await {
                Ok(()) => {
                    println!("{server} may hold {user}'s {service} credentials");
                    ExitCode::SUCCESS
                }
                Err(e) => refused(e),
            }
        }
        McpCommand::Status => {
            status(&servers).await?;
            ExitCode::SUCCESS
        }
        McpCommand::RetryFailed { target } => {
            let n = sync.retry_failed(target.as_deref()).await?;
            println!("{n} failed credential(s) will be tried again now");
            ExitCode::SUCCESS
        }
        McpCommand::Drift { target } => drift(&sync, &target).await?,
        McpCommand::Replay { target, from, all } => {
            replay(&servers, &sync, &target, if all { None } else { from }).await?
        }
        McpCommand::Import {
            target,
            user,
            service,
            dry_run,
            force,
            no_validate,
            validate: _,
        } => {
            let options = ImportOptions {
                target,
                user,
                service,
                validate: !no_validate,
            };
            let validator = options.validate.then(|| settings.validator_config());
            import_command(&servers, &sync, &options, validator, dry_run, force).await?
        }
    };
    if changes && code == ExitCode::SUCCESS {
        crate::cli::catch_up_after_commit(&ledger).await;
    } else {
        ledger.projections.catch_up().await?;
    }
    Ok(code)
}

async fn status(servers: &McpServers) -> anyhow::Result<()> {
    let pool = &servers.ledger().db.any;
    let mut counts: BTreeMap<String, BTreeMap<SyncStatus, i64>> = BTreeMap::new();
    for (server, status, n) in mcp_sync::status_counts(pool).await? {
        counts.entry(server).or_default().insert(status, n);
    }
    let all = mcp_sync::servers(pool).await?;
    if all.is_empty() {
        println!("no MCP server is registered");
        return Ok(());
    }
    let [pending, synced, error, out_of_sync] = SyncStatus::ALL;
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>12}",
        "server",
        pending.as_str(),
        synced.as_str(),
        error.as_str(),
        out_of_sync.as_str()
    );
    for s in all {
        let c = counts.get(&s.server_id);
        let n = |k: SyncStatus| c.and_then(|c| c.get(&k)).copied().unwrap_or(0);
        println!(
            "{:<24} {:>8} {:>8} {:>8} {:>12}{}",
            s.server_id,
            n(pending),
            n(synced),
            n(error),
            n(out_of_sync),
            if s.removed { "  (removed)" } else { "" }
        );
    }
    Ok(())
}

/// Rows of `target` still to send.
async fn outstanding(servers: &McpServers, target: &str) -> anyhow::Result<u64> {
    let rows = mcp_sync::rows_of_server(
        &servers.ledger().db.any,
        target,
        &[SyncStatus::Pending, SyncStatus::OutOfSync],
        i64::MAX,
    )
    .await?;
    Ok(rows.len() as u64)
}

/// Records the replay request, then sends (or, while a running `serve` holds the lease,
/// watches it send) until the server's copy is complete.
async fn drift(sync: &McpSync, target: &str) -> anyhow::Result<ExitCode> {
    let held = take_lease(sync).await?;
    let report = sync.check_drift(&held, target).await;
    sync.unlock().await;
    drop(held);
    let report = match report {
        Ok(report) => report,
        Err(e) => return Ok(refused(e)),
    };
    println!(
        "{target}: {} drifted cop{} recorded (a running serve resends them), {} orphan(s){}",
        report.drifted,
        if report.drifted == 1 { "y" } else { "ies" },
        report.orphans.len(),
        if report.orphans.is_empty() {
            String::new()
        } else {
            format!(": {}", listed(&report.orphans))
        }
    );
    if report.removed_orphans > 0 {
        println!("{target}: {} orphan(s) deleted", report.removed_orphans);
    }
    Ok(if report.drifted == 0 && report.orphans.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Waits (up to twice its time to live) for the sync lease, so the sender is not sending
/// meanwhile.
async fn take_lease(sync: &McpSync) -> anyhow::Result<crate::jobs::Held> {
    let deadline = tokio::time::Instant::now() + sync.settings().lease_ttl * 2;
    loop {
        if let Some(held) = sync.lock().await? {
            return Ok(held);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("the MCP sync lease ({LEASE}) is held elsewhere; try again later");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn replay(
    servers: &McpServers,
    sync: &McpSync,
    target: &str,
    from: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let position = match servers.request_replay(target, from, &metadata()).await {
        Ok(p) => p,
        Err(e) => return Ok(refused(e)),
    };
    // What is outstanding is read from `mcp_sync`: it must show the replay first.
    servers.ledger().projections.catch_up().await?;
    let total = outstanding(servers, target).await?;
    eprintln!("replay of {target} requested at position {position}: {total} credential(s) to send");
    let progress = bar(total, "replaying");
    let mut stalled = 0u32;
    loop {
        let left = outstanding(servers, target).await?;
        progress.set_position(total.saturating_sub(left));
        if left == 0 {
            break;
        }
        let sent = match sync.lock().await? {
            Some(held) => {
                let report = sync.step(&held, target).await;
                sync.unlock().await;
                let report = report?;
                if report.unreachable {
                    progress.abandon();
                    eprintln!("credledger: {target} cannot be reached; the rest stays queued");
                    return Ok(ExitCode::from(1));
                }
                if let Some(why) = report.refused {
                    progress.abandon();
                    eprintln!(
                        "credledger: nothing can be sent to {target}: {why}; its credentials show \
                         the failure (`credledger mcp retry-failed` once it is allowed)"
                    );
                    return Ok(ExitCode::from(1));
                }
                report.sent
            }
            // `serve` is sending: watch it.
            None => 0,
        };
        let now_left = outstanding(servers, target).await?;
        stalled = if sent == 0 && now_left >= left {
            stalled + 1
        } else {
            0
        };
        if stalled >= 120 {
            progress.abandon();
            eprintln!(
                "credledger: no progress for a minute; {now_left} credential(s) still queued \
                 (see `credledger mcp status`)"
            );
            return Ok(ExitCode::from(1));
        }
        if sent == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        servers.ledger().projections.catch_up().await?;
    }
    progress.finish();
    println!("{target}: its copy is complete ({total} sent)");
    Ok(ExitCode::SUCCESS)
}

async fn import_command(
    servers: &McpServers,
    sync: &McpSync,
    options: &ImportOptions,
    validator: Option<credledger_adapters::validation::ValidatorConfig>,
    dry_run: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let validator = match validator {
        Some(config) => Some(
            credledger_adapters::validation::HttpValidator::new(config)
                .context("could not set up the validator")?,
        ),
        None => None,
    };
    let validator = validator
        .as_ref()
        .map(|v| v as &dyn credledger_domain::ports::Validator);
    if validator.is_some() {
        eprintln!("checking each credential with its provider (--no-validate skips this)");
    }
    let found = match import::plan(servers, sync, options, validator).await {
        Ok(found) => found,
        Err(e) => return Ok(refused(e)),
    };
    println!(
        "{:<20} {:<16} {:<12} {:<24} {:<20} plan",
        "mcp id", "user", "service", "name", "fields"
    );
    for f in &found {
        let plan = match &f.plan {
            Plan::Import => "import".to_owned(),
            Plan::Skip(why) => format!("skip: {}", printable(why)),
            Plan::Fail(why) => format!("fail: {}", printable(why)),
        };
        println!(
            "{:<20} {:<16} {:<12} {:<24} {:<20} {plan}",
            clip(&f.mcp_id, 20),
            clip(&f.user_id, 16),
            clip(&f.service, 12),
            clip(&f.name, 24),
            clip(&f.field_names.join(","), 20),
        );
    }
    let count = |p: fn(&Plan) -> bool| found.iter().filter(|f| p(&f.plan)).count();
    let to_import = count(|p| *p == Plan::Import);
    let failing = count(|p| matches!(p, Plan::Fail(_)));
    if dry_run {
        println!(
            "dry run: {to_import} to import, {} to skip, {failing} failing; nothing was changed",
            count(|p| matches!(p, Plan::Skip(_))),
        );
        return Ok(if failing == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if to_import > 0 && !force {
        eprint!(
            "import {to_import} credential(s) from {}? [y/N] ",
            options.target
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            println!("nothing imported");
            return Ok(ExitCode::from(1));
        }
    }
    // Holding the lease keeps the sender from creating copies of what is being imported until
    // the read models show each import's adoption of the server's own copy.
    let held = take_lease(sync).await?;
    let progress = bar(found.len() as u64, "importing");
    let report = import::import(servers, &options.target, &found, &metadata(), &|done| {
        progress.set_position(done)
    })
    .await;
    crate::cli::catch_up_after_commit(servers.ledger()).await;
    sync.unlock().await;
    drop(held);
    let report = report?;
    progress.finish();
    println!(
        "migrated {}, skipped {}, failed {}",
        report.migrated,
        report.skipped.len(),
        report.failed.len()
    );
    for i in &report.imported {
        println!(
            "  imported {} as {}: {}{}{}",
            printable(&i.mcp_id),
            i.credential_id,
            i.status,
            if i.primary { ", primary" } else { "" },
            i.note
                .as_deref()
                .map(|n| format!(" — {}", printable(n)))
                .unwrap_or_default()
        );
    }
    for (id, why) in &report.skipped {
        println!("  skipped {}: {}", printable(id), printable(why));
    }
    for (id, why) in &report.failed {
        println!("  failed {}: {}", printable(id), printable(why));
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// At most `n` characters of a text the MCP server gave, [`printable`].
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        printable(s)
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        printable(&out)
    }
}

/// A text the MCP server gave, as it may be printed: control characters escaped (`\u{1b}`),
/// since an escape sequence would drive the operator's terminal (hide lines, set the
/// clipboard).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The first ids of a list the MCP server gave, [`printable`], and how many more there are.
fn listed(ids: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = ids.iter().take(SHOWN).map(|id| clip(id, 64)).collect();
    if ids.len() > SHOWN {
        out.push(format!("and {} more", ids.len() - SHOWN));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{clip, listed, printable};

    #[test]
    fn what_an_mcp_server_gave_is_printed_without_control_characters() {
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(clip("\u{7}abcdef", 4), "\\u{7}ab…");
        let many: Vec<String> = (0..25).map(|n| format!("id-{n}")).collect();
        assert!(listed(&many).ends_with("id-19, and 5 more"));
    }
}
