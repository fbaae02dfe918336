//! The `credledger` command line. Every command has `--help`; long work shows a progress bar.

use crate::app::{open_ledger, Application};
use crate::config::{Common, JobSettings, Settings};
use crate::keys::IfMissing;
use crate::ledger::{Ledger, NewCredential};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use credledger_adapters::chain::ChainVerifier;
use credledger_adapters::crypto::MasterKeyring;
use credledger_adapters::{feed, Database};
use credledger_domain::{CredentialId, EventMetadata};
use credledger_projections::{read_model, READ_MODELS};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::Row as _;
use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "credledger",
    version,
    about = "An event-sourced credential ledger for MCP servers."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

impl std::fmt::Debug for Common {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common").finish_non_exhaustive()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (health and readiness endpoints, projections, scheduled work).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "CREDLEDGER_BIND")]
        bind: Option<String>,
        /// Development mode.
        #[arg(long)]
        dev: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Master keys: generate, rotate, status.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read models: rebuild, status.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// The ledger itself: verify the hash chain, export events.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Credentials, from the command line.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Demonstration data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// People who can sign in.
    #[command(subcommand)]
    Users(UsersCommand),
    /// MCP servers: register, tokens, grants, sync status, retries, replay, import.
    #[command(subcommand)]
    Mcp(crate::mcp::cli::McpCommand),
    /// Print the GraphQL schema (SDL); `docs/schema.graphql` is this output.
    Schema,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a user. The password is read from CREDLEDGER_NEW_PASSWORD or, without it, from
    /// the first line of standard input (never from a flag, which process listings show).
    Create {
        /// The user id (letters, digits, '.', '_', '-').
        #[arg(long)]
        id: String,
        #[arg(long)]
        email: String,
        /// The name shown (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new master key version to the key file (it becomes the active one), or print a
    /// new key line for CREDLEDGER_MASTER_KEYS with --print.
    Generate {
        /// Print `VERSION:BASE64` for a new key instead of writing the key file.
        #[arg(long)]
        print: bool,
        /// The version to print with --print (1 or more: the keyring has no version 0).
        #[arg(long, default_value_t = 1, requires = "print", value_parser = clap::value_parser!(u32).range(1..))]
        version: u32,
    },
    /// Rewrap every data key under the newest master key. Online and resumable.
    Rotate {
        /// Data keys per transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// How many data keys each master key version wraps.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum ProjectionsCommand {
    /// Replay the ledger into fresh read-model tables and swap them in (all, or one by name:
    /// credential_summary, mcp_sync, audit_trail, principals, usage_by_service, or a table's).
    Rebuild { name: Option<String> },
    /// Each consumer's checkpoint and lag.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Recompute the hash chain; exit 1 naming the first bad position (a row that cannot be
    /// read as an event, or larger than any event the ledger writes, included), 2 when it
    /// cannot check (a database error, no ledger there, two different --expect hashes for one
    /// position). Needs no key; reads the ledger in batches of bounded size.
    Verify {
        /// A hash kept outside the database for a position, `POSITION:HEX` (as an earlier
        /// verify printed its head): exit 1 unless the chain holds that event with that hash.
        /// Repeatable.
        #[arg(long = "expect", value_name = "POSITION:HEX", value_parser = parse_anchor)]
        expect: Vec<(i64, String)>,
    },
    /// Events as JSON lines (position, hashes, metadata, stored payload), then a closing line,
    /// to standard output or --output FILE; docs/security.md §6 describes the format. Secrets are ciphertext, but the file is
    /// personal data to keep like a backup: payloads carry emails, display names, account
    /// identities, credential names and metadata, provider and MCP error texts, MCP base URLs
    /// and API token hashes; each event's metadata its actor, IP address and user agent.
    Export {
        /// First position to export.
        #[arg(long, default_value_t = 1)]
        from: i64,
        /// Write the export to FILE instead of standard output: FILE appears only once the
        /// export is complete (closing line written, synced to disk); on a failure nothing is
        /// left at FILE, and an existing FILE is replaced only by a complete export.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CredentialsCommand {
    /// Register a credential (not yet checked). Fields are a JSON object read from --fields-file
    /// or standard input.
    Add {
        #[arg(long)]
        user: String,
        #[arg(long)]
        service: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        fields_file: Option<std::path::PathBuf>,
    },
    /// Erase a credential: its data key is destroyed, its history stays.
    Erase { id: String },
    /// Check every active credential not checked for a while, and every inactive one never
    /// checked (imported without a check), with its provider, and record each answer
    /// (could-not-check answers change no status). Runs under the same lease as
    /// `serve`'s scheduled revalidation, so it never runs twice at once.
    ValidateAll {
        /// Only this service's credentials.
        #[arg(long)]
        service: Option<String>,
        /// Only this person's credentials.
        #[arg(long)]
        user: Option<String>,
        /// Show what would be checked; contact no provider, record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Check credentials not checked for this many days (default: the configured
        /// CREDLEDGER_REVALIDATE_STALE_DAYS, 1 unless set; 0 checks every active credential; at
        /// most 3650).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::config::LONGEST_WINDOW_DAYS)))]
        stale_days: Option<u32>,
        /// Checks in flight at once (default: CREDLEDGER_REVALIDATE_CONCURRENCY, 64).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Mark credentials whose token expiry has passed as expired, destroy the data keys that
    /// interrupted erasures left behind, and send the expiry webhook
    /// (CREDLEDGER_EXPIRY_WEBHOOK_URL) a warning for each credential expiring soon, once per
    /// credential and expiry.
    Expire {
        /// Warn about credentials expiring within this many days (default: the configured
        /// CREDLEDGER_EXPIRY_WARNING_DAYS, 7 unless set; at most 3650).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::config::LONGEST_WINDOW_DAYS)))]
        warning_days: Option<u32>,
        /// Show what would happen; mark nothing, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DemoCommand {
    /// Fill the ledger through the real command path.
    Seed {
        #[arg(long, default_value_t = 3)]
        users: usize,
        #[arg(long, default_value_t = 5)]
        credentials_per_user: usize,
    },
}

/// Logs to stderr; `RUST_LOG` (or `CREDLEDGER_LOG`) sets the level, `CREDLEDGER_LOG_FORMAT=json`
/// switches to JSON.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("CREDLEDGER_LOG")
        .ok()
        .map(EnvFilter::new)
        .unwrap_or_else(|| {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
        });
    // Colours only on a terminal: a log file or journal would hold their escape sequences.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if std::env::var("CREDLEDGER_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn cli_metadata(actor: &str) -> EventMetadata {
    EventMetadata {
        actor: actor.to_owned(),
        occurred_at: chrono::Utc::now(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ip: None,
        user_agent: Some(format!("credledger-cli/{}", env!("CARGO_PKG_VERSION"))),
    }
}

/// Runs a command; the exit code is 0 on success, 1 when a check fails, 2 on an error.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credledger: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let (bind, dev) = match &cli.command {
        Command::Serve { bind, dev } => (bind.clone(), *dev),
        _ => (None, false),
    };
    let (mut settings, jobs) = Settings::resolve_with_jobs(&cli.common, bind, dev)?;
    if !matches!(cli.command, Command::Serve { .. }) {
        settings = settings.for_one_shot_command();
    }
    tracing::debug!(?settings, "configuration");
    match cli.command {
        Command::Serve { .. } => {
            Application::build_with_jobs(settings, jobs)
                .await?
                .run_until_stopped()
                .await?;
        }
        Command::Migrate => {
            let db = Database::connect(&settings.database()).await?;
            db.migrate().await?;
            println!("migrations applied ({:?})", db.backend());
        }
        Command::Keys(k) => return keys(settings, k).await,
        Command::Projections(p) => return projections(settings, p).await,
        Command::Ledger(l) => return ledger(settings, l).await,
        Command::Credentials(c) => return credentials(settings, jobs, c).await,
        Command::Demo(DemoCommand::Seed {
            users,
            credentials_per_user,
        }) => {
            let ledger = open_ledger(&settings, IfMissing::Generate).await?;
            demo_seed(&ledger, users, credentials_per_user).await?;
        }
        Command::Users(u) => return users(settings, u).await,
        Command::Mcp(m) => return crate::mcp::cli::run(settings, jobs, m).await,
        Command::Schema => print!("{}", crate::graphql::sdl()),
    }
    Ok(ExitCode::SUCCESS)
}

async fn users(settings: Settings, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let UsersCommand::Create {
        id,
        email,
        name,
        admin,
    } = command;
    let password = match crate::config::env_text("CREDLEDGER_NEW_PASSWORD")? {
        Some(p) => p,
        None => {
            eprintln!("password (one line, at least 12 characters):");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let password = crate::auth::Password::new_for_storage(password).map_err(anyhow::Error::msg)?;
    let ledger = open_ledger(&settings, IfMissing::Generate).await?;
    ledger.projections.catch_up().await?;
    let limits =
        crate::limits::Limits::for_database(&ledger.db, crate::limits::Quotas::of(&settings));
    let accounts = crate::accounts::Accounts::new(ledger.clone(), std::sync::Arc::new(limits));
    let result = accounts
        .create_user(
            crate::accounts::NewUser {
                user_id: id.clone(),
                email,
                display_name: name.unwrap_or_else(|| id.clone()),
                password,
                admin,
            },
            &cli_metadata("cli"),
        )
        .await;
    match result {
        Ok(()) => {
            catch_up_after_commit(&ledger).await;
            println!("created {}{id}", if admin { "administrator " } else { "" });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("credledger: {e} ({})", e.code());
            Ok(ExitCode::from(1))
        }
    }
}

async fn keys(settings: Settings, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate {
            print: true,
            version,
        } => {
            println!(
                "{}",
                credledger_adapters::crypto::generate_key_spec_line(version).as_str()
            );
        }
        KeysCommand::Generate { print: false, .. } => {
            // The variable wins over the file: a key added to the file would be used by
            // nothing, though said to be active.
            anyhow::ensure!(
                settings.master_keys.is_none(),
                "CREDLEDGER_MASTER_KEYS is set, so the key file is not read: add a key to the \
                 variable instead (`credledger keys generate --print --version N` prints one)"
            );
            let path = &settings.master_key_file;
            if path.exists() {
                let version = MasterKeyring::append_new_version(path)?;
                println!(
                    "added master key version {version} to {} (now active; run `credledger keys rotate`)",
                    path.display()
                );
            } else {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                MasterKeyring::generate_file(path)?;
                println!("created {} with master key version 1", path.display());
            }
        }
        KeysCommand::Rotate { batch_size } => {
            anyhow::ensure!(
                (1..=5000).contains(&batch_size),
                "--batch-size must be between 1 and 5000"
            );
            let ledger = open_ledger(&settings, IfMissing::Fail).await?;
            let active = ledger.keys.master_keys().active_version();
            let coverage = ledger.keys.coverage().await?;
            let todo: i64 = coverage
                .by_version
                .iter()
                .filter(|(v, _)| **v != i64::from(active))
                .map(|(_, n)| n)
                .sum();
            let progress = bar(todo.max(0) as u64, "rewrapping");
            loop {
                let n = ledger.keys.rewrap_batch(batch_size).await?;
                if n == 0 {
                    break;
                }
                progress.inc(n as u64);
            }
            progress.finish_and_clear();
            println!("every data key is wrapped by master key version {active}");
        }
        KeysCommand::Status => {
            let ledger = open_ledger(&settings, IfMissing::Fail).await?;
            let active = ledger.keys.master_keys().active_version();
            let coverage = ledger.keys.coverage().await?;
            println!("active master key version: {active}");
            for version in ledger.keys.master_keys().versions() {
                let n = coverage
                    .by_version
                    .get(&i64::from(version))
                    .copied()
                    .unwrap_or(0);
                println!(
                    "  version {version}: {n} data keys{}",
                    if n == 0 && version != active {
                        " (can be retired)"
                    } else {
                        ""
                    }
                );
            }
            for (version, n) in &coverage.by_version {
                if !ledger.keys.master_keys().contains(*version as u32) {
                    println!("  version {version}: {n} data keys — MISSING from the configured master keys");
                }
            }
            println!("  destroyed (erased credentials): {}", coverage.destroyed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn projections(settings: Settings, command: ProjectionsCommand) -> anyhow::Result<ExitCode> {
    let db = Database::connect(&settings.database()).await?;
    db.migrate().await?;
    let projections = credledger_projections::Projections::new(&db, None);
    match command {
        ProjectionsCommand::Rebuild { name } => {
            let consumers = match name {
                Some(name) => vec![read_model(&name)?],
                None => READ_MODELS.to_vec(),
            };
            for consumer in consumers {
                let head = db.head().await?;
                let progress = bar(head.max(0) as u64, consumer.name());
                let report = projections
                    .rebuild(consumer, &|done, head| {
                        progress.set_length(head.max(0) as u64);
                        progress.set_position(done.max(0) as u64);
                    })
                    .await?;
                progress.finish_and_clear();
                println!(
                    "rebuilt {} from {} events (position {})",
                    report.consumer, report.events, report.position
                );
            }
        }
        ProjectionsCommand::Status => {
            println!(
                "{:<24} {:>12} {:>12} {:>8}",
                "consumer", "position", "head", "lag"
            );
            for s in projections.status().await? {
                println!(
                    "{:<24} {:>12} {:>12} {:>8}",
                    s.name, s.position, s.head, s.lag
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn ledger(settings: Settings, command: LedgerCommand) -> anyhow::Result<ExitCode> {
    // Read-only work: no migration, so an auditor's read-only role is enough, and nothing is
    // created where no ledger is.
    let db = Database::open_existing(&settings.database()).await?;
    match command {
        LedgerCommand::Verify { expect } => {
            // By position, so a failure names the lowest; one hash kept per position.
            let mut anchors: Vec<(i64, String)> = expect;
            anchors.sort();
            anchors.dedup();
            if anchors.windows(2).any(|w| w[0].0 == w[1].0) {
                eprintln!("ledger verify: two different hashes kept for one position");
                return Ok(ExitCode::from(2));
            }
            if let Some(outside) = outside_the_chain(&db).await? {
                eprintln!("ledger verify: FAILED: {outside}");
                return Ok(ExitCode::from(1));
            }
            let head = db.head().await?;
            let progress = bar(head.max(0) as u64, "verifying");
            let mut verifier = ChainVerifier::default();
            let mut head_hash = String::new();
            // The anchors' positions, with the hash the chain holds there once read.
            let mut held: std::collections::BTreeMap<i64, Option<String>> =
                anchors.iter().map(|(at, _)| (*at, None)).collect();
            // A row that cannot be read as an event is named once the chain before it is checked.
            let mut feed = feed::EveryEvent::after(0);
            loop {
                let events = match feed.next(&db).await? {
                    feed::Read::Events(events) => events,
                    feed::Read::Refused(row) => {
                        progress.finish_and_clear();
                        eprintln!(
                            "ledger verify: FAILED at position {}: {row}",
                            row.position()
                        );
                        return Ok(ExitCode::from(1));
                    }
                };
                let Some(last) = events.last() else { break };
                let after = last.position;
                for event in &events {
                    head_hash = hex::encode(&event.hash);
                    if let Some(at) = held.get_mut(&event.position) {
                        *at = Some(head_hash.clone());
                    }
                    if let Err(e) = verifier.check(&event.chain_input(), &event.hash) {
                        progress.finish_and_clear();
                        eprintln!("ledger verify: FAILED at position {}: {e}", e.position());
                        return Ok(ExitCode::from(1));
                    }
                }
                progress.set_position(after as u64);
            }
            progress.finish_and_clear();
            // Events appended while verifying are fine; fewer than the head seen at the start
            // means rows at the end were removed.
            if verifier.verified() < head {
                eprintln!(
                    "ledger verify: FAILED at position {}: the chain ends before the head ({head})",
                    verifier.verified() + 1
                );
                return Ok(ExitCode::from(1));
            }
            for (at, expected) in &anchors {
                let found = held.get(at).cloned().flatten();
                if found.as_deref() != Some(expected.as_str()) {
                    eprintln!(
                        "ledger verify: FAILED at position {at}: {}, not the hash kept for it",
                        match found {
                            Some(hash) => format!("the chain holds {hash}"),
                            None => "the chain has no event there".into(),
                        }
                    );
                    return Ok(ExitCode::from(1));
                }
            }
            if !anchors.is_empty() {
                println!("ledger verify: {} kept hash(es) match", anchors.len());
            }
            println!(
                "ledger verify: OK, {} events, chain intact, head hash {}",
                verifier.verified(),
                if head_hash.is_empty() {
                    "-"
                } else {
                    &head_hash
                }
            );
        }
        LedgerCommand::Export { from, output } => {
            // The export would leave them out without a word, while verify fails on them.
            if let Some(outside) = outside_the_chain(&db).await? {
                eprintln!("ledger export: refused, nothing written: {outside}");
                return Ok(ExitCode::from(1));
            }
            let from = from.max(1);
            return match output {
                None => {
                    let stdout = std::io::stdout();
                    let mut out = std::io::BufWriter::new(stdout.lock());
                    let ended = export(&db, from, &mut out).await;
                    out.flush()?;
                    match ended? {
                        Ok(()) => Ok(ExitCode::SUCCESS),
                        Err(row) => {
                            eprintln!(
                                "ledger export: FAILED at position {}: {row}; the lines written \
                                 before it have no closing line: the export is not complete",
                                row.position()
                            );
                            Ok(ExitCode::from(1))
                        }
                    }
                }
                Some(path) => export_to_file(&db, from, &path).await,
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the export from position `from` to `out`: every event's line, then the closing line.
/// A refused row ends it before the closing line (the lines before it are written).
async fn export(
    db: &Database,
    from: i64,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Result<(), feed::RefusedRow>> {
    let mut feed = feed::EveryEvent::after(from - 1);
    let mut written: i64 = 0;
    let mut head: Option<(i64, String)> = None;
    loop {
        let events = match feed.next(db).await? {
            feed::Read::Events(events) => events,
            feed::Read::Refused(row) => return Ok(Err(row)),
        };
        if events.is_empty() {
            break;
        }
        for e in &events {
            let hash = hex::encode(&e.hash);
            let line = serde_json::json!({
                "position": e.position,
                "aggregate_type": e.aggregate_type,
                "aggregate_id": e.aggregate_id,
                "sequence": e.sequence,
                "event_type": e.event_type,
                "event_version": e.event_version,
                "metadata": e.metadata,
                "payload": e.payload,
                "prev_hash": hex::encode(&e.prev_hash),
                "hash": hash,
            });
            writeln!(out, "{line}")?;
            written += 1;
            head = Some((e.position, hash));
        }
    }
    // Written only once every event is: a file without it was cut short.
    let (head_position, head_hash) = head.unzip();
    let end = serde_json::json!({
        "end_of_export": true,
        "from": from,
        "events": written,
        "head_position": head_position,
        "head_hash": head_hash,
    });
    writeln!(out, "{end}")?;
    Ok(Ok(()))
}

/// `ledger export --output FILE`: the export goes to a new file beside FILE (readable by its
/// owner only), synced to disk and renamed to FILE once its closing line is written; on any
/// failure it is removed and FILE is left as it was (absent, or an earlier file).
async fn export_to_file(
    db: &Database,
    from: i64,
    path: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--output {} names no file", path.display()))?;
    let file = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("could not create a file in {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let ended = export(db, from, &mut out).await?;
    if let Err(row) = ended {
        // Dropping the temporary file removes it.
        eprintln!(
            "ledger export: FAILED at position {}: {row}; nothing was written to {}",
            row.position(),
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("could not write the export to {}", dir.display()))?;
    file.as_file()
        .sync_all()
        .with_context(|| format!("could not write the export to {}", dir.display()))?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("could not put the export at {}", path.display()))?;
    // The rename itself lasts once the directory is synced (not possible everywhere: Windows).
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(ExitCode::SUCCESS)
}

/// Stored events with no position in the chain (none, or below 1): read by no feed, so absent
/// from the chain and the export, yet replayed by their stream. Says how many and names the
/// first; `None` when there are none.
async fn outside_the_chain(db: &Database) -> anyhow::Result<Option<String>> {
    let outside: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE global_position IS NULL OR global_position < 1",
    )
    .fetch_one(&db.any)
    .await?;
    if outside == 0 {
        return Ok(None);
    }
    let first = sqlx::query(
        "SELECT aggregate_type, aggregate_id, sequence, global_position FROM events \
         WHERE global_position IS NULL OR global_position < 1 \
         ORDER BY aggregate_type, aggregate_id, sequence LIMIT 1",
    )
    .fetch_one(&db.any)
    .await?;
    let stored_at = match first.try_get::<Option<i64>, _>("global_position")? {
        Some(position) => format!("position {position}"),
        None => "no position".to_owned(),
    };
    Ok(Some(format!(
        "{outside} stored event(s) have no position in the chain; the first is event {} of \
         stream {}/{}, stored at {stored_at}",
        first.try_get::<i64, _>("sequence")?,
        first.try_get::<String, _>("aggregate_type")?,
        first.try_get::<String, _>("aggregate_id")?,
    )))
}

/// Brings the read models up to what a command committed before it prints from them. Their
/// failing does not undo the change: stderr says so and the command still succeeds (a script
/// taking exit 2 for a failure would throw away a secret shown once, or add again what was
/// stored).
pub(crate) async fn catch_up_after_commit(ledger: &Ledger) {
    if let Err(e) = ledger.projections.catch_up().await {
        tracing::warn!(error = %e, "the read models could not catch up");
        eprintln!(
            "credledger: the read models could not catch up (see the log); what this command \
             committed is kept and shows once they do (`credledger projections status`)"
        );
    }
}

async fn credentials(
    settings: Settings,
    jobs: JobSettings,
    command: CredentialsCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CredentialsCommand::ValidateAll {
            service,
            user,
            dry_run,
            stale_days,
            concurrency,
        } => {
            let mut options = crate::jobs::RevalidateOptions::from_settings(&jobs, "cli");
            options.service = service;
            options.user = user;
            options.dry_run = dry_run;
            if let Some(days) = stale_days {
                options.stale_after = chrono::Duration::days(i64::from(days));
            }
            if let Some(n) = concurrency {
                anyhow::ensure!(
                    (1..=1024).contains(&n),
                    "--concurrency must be between 1 and 1024"
                );
                options.concurrency = n;
            }
            return validate_all(settings, jobs, options).await;
        }
        CredentialsCommand::Expire {
            warning_days,
            dry_run,
        } => {
            let mut options = crate::jobs::ExpiryOptions::from_settings(
                &jobs,
                "cli",
                &settings.outbound,
                settings.oauth_clients.keys().cloned().collect(),
            )?;
            options.dry_run = dry_run;
            if let Some(days) = warning_days {
                options.warning_window = chrono::Duration::days(i64::from(days));
            }
            return expire(settings, jobs, options).await;
        }
        _ => {}
    }
    let ledger = open_ledger(&settings, IfMissing::Generate).await?;
    let meta = cli_metadata("cli");
    let result = match command {
        CredentialsCommand::Add {
            user,
            service,
            name,
            fields_file,
        } => {
            // A megabyte at most, from either (the secret fields themselves are far smaller);
            // more is refused, not cut short.
            const MOST: u64 = 1 << 20;
            let mut bytes = Vec::new();
            match &fields_file {
                Some(path) => std::fs::File::open(path)
                    .and_then(|file| file.take(MOST + 1).read_to_end(&mut bytes))
                    .with_context(|| format!("could not read {}", path.display()))?,
                None => std::io::stdin().take(MOST + 1).read_to_end(&mut bytes)?,
            };
            anyhow::ensure!(
                bytes.len() as u64 <= MOST,
                "the credential's fields are larger than a megabyte"
            );
            let id = CredentialId::from_uuid(uuid::Uuid::new_v4());
            let result = ledger
                .register(
                    NewCredential {
                        user_id: &user,
                        service: &service,
                        name: &name,
                        fields_json: &bytes,
                        metadata: Default::default(),
                        validation: None,
                    },
                    id,
                    &meta,
                )
                .await;
            zeroize::Zeroize::zeroize(&mut bytes);
            result.map(|_| println!("{id}"))
        }
        // Handled above: they need no ledger opened for writing here.
        CredentialsCommand::ValidateAll { .. } | CredentialsCommand::Expire { .. } => Ok(()),
        CredentialsCommand::Erase { id } => {
            ledger.projections.catch_up().await?;
            ledger
                .erase(&id, &meta)
                .await
                .map(|_| println!("erased {id}"))
        }
    };
    match result {
        Ok(()) => {
            catch_up_after_commit(&ledger).await;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // Internal detail goes to the log once; the person sees the stable message.
            if let crate::ledger::LedgerError::Internal(detail)
            | crate::ledger::LedgerError::Unavailable(detail) = &e
            {
                tracing::error!(%detail, "command failed");
            }
            eprintln!("credledger: {} ({})", e, e.code());
            Ok(ExitCode::from(1))
        }
    }
}

/// Plausible fields for a service, from the catalog (for demos and benchmarks).
pub fn demo_fields(ledger: &Ledger, service: &str, n: usize) -> serde_json::Value {
    use credledger_domain::FieldFormat;
    let mut fields = serde_json::Map::new();
    if let Some(def) = ledger
        .catalog
        .services()
        .iter()
        .find(|s| s.key.as_str() == service)
    {
        for f in def.fields.iter().filter(|f| f.required) {
            let value = match f.format {
                Some(FieldFormat::Url) => format!("https://demo-{n}.example.test"),
                Some(FieldFormat::Email) => format!("demo-{n}@example.test"),
                Some(FieldFormat::Slug) => format!("demo-org-{n}"),
                None => format!("demo-{}-{}", f.name, uuid::Uuid::new_v4().simple()),
            };
            fields.insert(f.name.clone(), value.into());
        }
    }
    serde_json::Value::Object(fields)
}

async fn demo_seed(ledger: &Arc<Ledger>, users: usize, per_user: usize) -> anyhow::Result<()> {
    let services: Vec<(String, bool)> = ledger
        .catalog
        .services()
        .iter()
        .map(|s| (s.key.to_string(), s.multi_account))
        .collect();
    anyhow::ensure!(!services.is_empty(), "the catalog has no service to seed");
    let total = users
        .checked_mul(per_user)
        .context("--users times --credentials-per-user is too large")?;
    let progress = bar(total as u64, "seeding");
    // Eight at a time, and no more started than run: a task waits for its permit before it is
    // spawned.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for u in 0..users {
        let user = format!("demo-user-{u:04}");
        for c in 0..per_user {
            // Round-robin over services; single-account services get only the first round.
            let (service, multi) = &services[c % services.len()];
            let round = c / services.len();
            if round > 0 && !multi {
                progress.inc(1);
                continue;
            }
            let (ledger, user, service) = (ledger.clone(), user.clone(), service.clone());
            let permit = semaphore.clone().acquire_owned().await?;
            // The finished ones' answers are taken as they come, not kept until the end.
            while let Some(result) = tasks.try_join_next() {
                result.context("a seeding task failed")??;
            }
            let progress = progress.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let fields = demo_fields(&ledger, &service, c).to_string();
                let name = format!("{service} #{}", round + 1);
                let result = ledger
                    .register(
                        NewCredential {
                            user_id: &user,
                            service: &service,
                            name: &name,
                            fields_json: fields.as_bytes(),
                            metadata: Default::default(),
                            validation: None,
                        },
                        CredentialId::from_uuid(uuid::Uuid::new_v4()),
                        &cli_metadata("demo-seed"),
                    )
                    .await;
                progress.inc(1);
                result
            });
        }
    }
    while let Some(result) = tasks.join_next().await {
        result.context("a seeding task failed")??;
    }
    progress.finish_and_clear();
    catch_up_after_commit(ledger).await;
    println!("seeded {users} users with up to {per_user} credentials each");
    Ok(())
}

/// A stop signal for a one-shot job: Ctrl-C stops starting new work; what is in flight finishes,
/// is recorded, and the lease is released.
fn stop_on_ctrl_c() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: finishing the checks in flight (Ctrl-C again to abort)");
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        } else {
            // Keep the sender: a dropped one would read as "stop".
            std::future::pending::<()>().await;
        }
    });
    rx
}

/// Takes a job's lease for a one-shot run, or says who holds it.
async fn take_lease(
    leases: &crate::jobs::Leases,
    job: &str,
    jobs: &JobSettings,
) -> anyhow::Result<Option<crate::jobs::Held>> {
    let now = chrono::Utc::now();
    if leases.acquire(job, now, jobs.lease_ttl, None).await? {
        return Ok(Some(leases.keep(job, now, jobs.lease_ttl)));
    }
    let state = leases.state(job).await?;
    eprintln!(
        "credledger: the {job} job is running elsewhere (held by {} until {}); try again later",
        state
            .as_ref()
            .and_then(|s| s.holder.as_deref())
            .unwrap_or("another instance"),
        state.as_ref().map_or("-", |s| s.expires_at.as_str()),
    );
    Ok(None)
}

async fn validate_all(
    settings: Settings,
    jobs: JobSettings,
    options: crate::jobs::RevalidateOptions,
) -> anyhow::Result<ExitCode> {
    use crate::jobs::{revalidate, Leases, Progress, REVALIDATE};
    use credledger_adapters::validation::HttpValidator;
    let ledger = open_ledger(&settings, IfMissing::Fail).await?;
    let leases = Leases::new(ledger.db.clone());
    let started = chrono::Utc::now();
    let held = if options.dry_run {
        None
    } else {
        match take_lease(&leases, REVALIDATE, &jobs).await? {
            Some(held) => Some(held),
            None => return Ok(ExitCode::from(1)),
        }
    };
    let validator = HttpValidator::new(settings.validator_config())?;
    let progress_bar = if options.dry_run {
        ProgressBar::hidden()
    } else {
        bar(0, "validating")
    };
    let on_progress: Progress = {
        let progress_bar = progress_bar.clone();
        Arc::new(move |done, total| {
            progress_bar.set_length(total);
            progress_bar.set_position(done);
        })
    };
    let stop = match &held {
        Some(held) => {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let (mut ctrl_c, mut lost) = (stop_on_ctrl_c(), held.lost.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = crate::jobs::stopped(&mut ctrl_c) => {}
                    _ = lost.wait_for(|l| *l) => {}
                }
                let _ = tx.send(true);
            });
            rx
        }
        None => stop_on_ctrl_c(),
    };
    let result = revalidate(
        ledger.clone(),
        Arc::new(validator),
        &options,
        stop,
        on_progress,
    )
    .await;
    progress_bar.finish_and_clear();
    if let Some(held) = held {
        drop(held);
        // Only a complete run over everything counts as the scheduled run.
        let full = options.service.is_none() && options.user.is_none();
        let completed = matches!(&result, Ok(r) if r.completed()) && full;
        leases
            .release(REVALIDATE, chrono::Utc::now(), completed.then_some(started))
            .await?;
    }
    let report = match result {
        Ok(report) => report,
        Err(crate::jobs::JobError::Input(e)) => {
            eprintln!("credledger: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    catch_up_after_commit(&ledger).await;
    if options.dry_run {
        println!(
            "validate-all (dry run): {} stale credential(s) would be checked; nothing was sent or recorded",
            report.stale
        );
        for (service, n) in &report.stale_by_service {
            println!("  {service:<20} {n:>8}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "validate-all: {} stale credential(s), {} checked — valid {}, invalid {}, could not check {}, skipped {}{}",
        report.stale,
        report.checked(),
        report.valid,
        report.invalid,
        report.could_not_check,
        report.skipped,
        if report.errors > 0 {
            format!(", errors {} (see the log)", report.errors)
        } else {
            String::new()
        }
    );
    println!("  request id: {}", report.request_id);
    if report.stopped {
        println!("  stopped before the end: run it again to check the rest");
    }
    Ok(if report.errors > 0 || report.stopped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn expire(
    settings: Settings,
    jobs: JobSettings,
    options: crate::jobs::ExpiryOptions,
) -> anyhow::Result<ExitCode> {
    use crate::jobs::{Leases, EXPIRY};
    let ledger = open_ledger(&settings, IfMissing::Fail).await?;
    let leases = Leases::new(ledger.db.clone());
    let started = chrono::Utc::now();
    let held = if options.dry_run {
        None
    } else {
        match take_lease(&leases, EXPIRY, &jobs).await? {
            Some(held) => Some(held),
            None => return Ok(ExitCode::from(1)),
        }
    };
    let stop = match &held {
        Some(held) => held.lost.clone(),
        // The expiry run only looks at the signal; a closed channel reads as "go on".
        None => tokio::sync::watch::channel(false).1,
    };
    let result = crate::jobs::expire(ledger.clone(), &options, stop).await;
    if let Some(held) = held {
        drop(held);
        let completed = matches!(&result, Ok(r) if r.completed());
        leases
            .release(EXPIRY, chrono::Utc::now(), completed.then_some(started))
            .await?;
    }
    let report = result?;
    catch_up_after_commit(&ledger).await;
    let days = options.warning_window.num_days();
    if options.dry_run {
        println!(
            "expire (dry run): {} credential(s) past their expiry would be marked expired, \
             {} expire within {days} day(s); nothing was marked or sent",
            report.past_expiry, report.expiring
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "expire: {} marked expired ({} skipped), {} expiring within {days} day(s)",
        report.expired, report.skipped, report.expiring
    );
    if report.shredded > 0 {
        println!(
            "  destroyed {} data key(s) left by interrupted erasures",
            report.shredded
        );
    }
    if options.webhook.is_some() {
        println!(
            "  webhook: {} warning(s) sent, {} already sent, {} failed (retried on the next run)",
            report.notified, report.already_notified, report.webhook_failures
        );
    } else {
        println!("  no expiry webhook configured (CREDLEDGER_EXPIRY_WEBHOOK_URL): no warning sent");
    }
    Ok(if report.errors > 0 || report.webhook_failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `POSITION:HEX`, a hash kept for a position of the chain (64 hexadecimal digits).
fn parse_anchor(text: &str) -> Result<(i64, String), String> {
    let (at, hash) = text
        .split_once(':')
        .ok_or("expected POSITION:HEX, as `ledger verify` prints its head")?;
    let at: i64 = at
        .parse()
        .ok()
        .filter(|at| *at >= 1)
        .ok_or("the position must be a whole number from 1")?;
    let hash = hash.to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the hash must be 64 hexadecimal digits".into());
    }
    Ok((at, hash))
}
