//! Plaintext discipline: planted canary secrets appear nowhere — not in logs at trace level (the
//! binary's and this process's), not in any column of any table (events, keys, read models,
//! checkpoints), not in `ledger export`, not in error messages or `Debug` output — and yet they
//! were really stored: the owner's reveal returns them.

use crate::on_both_backends;
use crate::support::{assert_success, keyring_id, meta, new_id, output_text, register, TestEnv};
use base64::Engine as _;
use credledger::NewCredential;
use sqlx::{AnyPool, Row};
use std::io::{Read as _, Write as _};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn canary() -> String {
    format!("CANARY-{}", uuid::Uuid::new_v4().simple()).to_uppercase()
}

/// What to look for: the canary itself and its base64 form at each of the three alignments
/// (the part of the encoding that does not depend on the neighbouring bytes).
fn needles(canary: &str) -> Vec<String> {
    let mut out = vec![canary.to_string()];
    for pad in 0..3usize {
        let padded = format!("{}{canary}", "x".repeat(pad));
        let encoded = base64::engine::general_purpose::STANDARD.encode(padded.as_bytes());
        let first_group = pad.div_ceil(3);
        let last_group = padded.len() / 3; // exclusive: groups wholly inside `padded`
        out.push(encoded[4 * first_group..4 * last_group].to_string());
    }
    out
}

/// Panics if `haystack` (text) holds any canary in any form.
fn assert_absent(what: &str, haystack: &str, canaries: &[String]) {
    for canary in canaries {
        for needle in needles(canary) {
            assert!(
                !haystack.contains(&needle),
                "a canary secret ({needle}) appears in {what}"
            );
        }
    }
}

/// Panics if a hex-encoded cell holds any canary in any form (at a byte boundary).
fn assert_absent_hex(what: &str, hex_cell: &str, canaries: &[String]) {
    let cell = hex_cell.to_lowercase();
    for canary in canaries {
        for needle in needles(canary) {
            let needle = hex::encode(needle.as_bytes());
            let found = cell.match_indices(&needle).any(|(i, _)| i % 2 == 0);
            assert!(!found, "a canary secret appears in {what}");
        }
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The binary at trace level, fields on standard input.
fn cli_trace_with_stdin(env: &TestEnv, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = env
        .cli()
        .env("CREDLEDGER_LOG", "trace")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Everything this process logs, at every level, while at least one capture is on.
static CAPTURING: AtomicUsize = AtomicUsize::new(0);
static CAPTURED: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a global subscriber that records every span and event of
/// every level into a buffer while `CAPTURING` is non-zero.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    CAPTURED
        .get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt as _;
            use tracing_subscriber::Layer as _;
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let sink = buffer.clone();
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || Sink(sink.clone()))
                .with_filter(tracing_subscriber::filter::dynamic_filter_fn(|_, _| {
                    CAPTURING.load(Ordering::SeqCst) > 0
                }));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("no other global subscriber in this test binary");
            buffer
        })
        .clone()
}

struct Capture;

impl Capture {
    fn start() -> Self {
        captured_logs();
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        Capture
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every cell of every table, hex-encoded, as (table, column, hex).
async fn every_cell(env: &TestEnv, pool: &AnyPool) -> Vec<(String, String, String)> {
    let postgres = env.database_url.is_some();
    let tables: Vec<String> = if postgres {
        sqlx::query(
            "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
    } else {
        sqlx::query("SELECT name AS t FROM sqlite_master WHERE type = 'table'")
    }
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("t").unwrap())
    .collect();
    let mut cells = Vec::new();
    for table in &tables {
        let columns: Vec<(String, bool)> = if postgres {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT) AS c, CAST(data_type AS TEXT) AS ty \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
        } else {
            sqlx::query("SELECT name AS c, type AS ty FROM pragma_table_info($1)")
        }
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let ty: String = r.try_get("ty").unwrap();
            (r.try_get("c").unwrap(), ty == "bytea")
        })
        .collect();
        assert!(!columns.is_empty(), "no columns found for {table}");
        let exprs: Vec<String> = columns
            .iter()
            .map(|(c, bytea)| match (postgres, bytea) {
                (true, true) => format!("COALESCE(encode(\"{c}\", 'hex'), '')"),
                (true, false) => format!(
                    "COALESCE(encode(convert_to(CAST(\"{c}\" AS TEXT), 'UTF8'), 'hex'), '')"
                ),
                (false, _) => format!("COALESCE(hex(\"{c}\"), '')"),
            })
            .collect();
        let rows = sqlx::query(&format!("SELECT {} FROM \"{table}\"", exprs.join(", ")))
            .fetch_all(pool)
            .await
            .unwrap();
        for row in rows {
            for (i, (column, _)) in columns.iter().enumerate() {
                let cell: String = row.try_get(i).unwrap();
                cells.push((table.clone(), column.clone(), cell));
            }
        }
    }
    cells
}

/// Starts `credledger serve` at trace level, asks `/readyz`, lets the projections and the feed
/// poller run for two seconds, stops it with SIGTERM; returns everything it printed.
async fn serve_at_trace_level(env: &TestEnv) -> String {
    let mut child = env
        .cli()
        .env("CREDLEDGER_LOG", "trace")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |mut stream: Box<dyn std::io::Read + Send>| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        buffer
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    let address = loop {
        let plain = strip_ansi(&text(&stderr));
        if let Some(line) = plain.lines().find(|l| l.contains("credledger is serving")) {
            let at = line
                .find("address=")
                .expect("the serving line names the address");
            break line[at + "address=".len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited early ({status}): {plain}");
        }
        assert!(Instant::now() < deadline, "serve did not start: {plain}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ready = reqwest::get(format!("http://{address}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(100)).await; // the reader threads drain the pipes
    format!("{}{}", text(&stdout), text(&stderr))
}

async fn planted_canary_secrets_appear_in_no_log_column_projection_export_or_debug_output_yet_reveal_returns_them(
    env: TestEnv,
) {
    let ledger = env.ledger().await; // migrates
    let canary_a = canary(); // through the binary; stays readable to the end
    let canary_b = canary(); // in-process: registered, revealed, then replaced
    let canary_c = canary(); // in-process: the replacement, then erased
    let canary_d = canary(); // only ever in refused input
    let canary_e = canary(); // through the binary, then erased through the binary
    let canaries = vec![
        canary_a.clone(),
        canary_b.clone(),
        canary_c.clone(),
        canary_d.clone(),
        canary_e.clone(),
    ];
    let mut logs = String::new();

    // 1. The binary at trace level: a notion token and a jira api_token (fields on stdin and
    //    from a file), and a credential erased through the binary.
    let out = cli_trace_with_stdin(
        &env,
        &[
            "credentials",
            "add",
            "--user",
            "canary-user",
            "--service",
            "notion",
            "--name",
            "Canary notion",
        ],
        format!(r#"{{"token":"{canary_a}"}}"#).as_bytes(),
    );
    assert_success(&out, "credentials add (notion)");
    let notion_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    logs.push_str(&output_text(&out));
    let fields_file = env.dir.path().join("jira-fields.json");
    std::fs::write(
        &fields_file,
        format!(
            r#"{{"url":"https://canary.atlassian.net","email":"canary@example.test","api_token":"{canary_a}"}}"#
        ),
    )
    .unwrap();
    let out = cli_trace_with_stdin(
        &env,
        &[
            "credentials",
            "add",
            "--user",
            "canary-user",
            "--service",
            "jira",
            "--name",
            "Canary jira",
            "--fields-file",
            fields_file.to_str().unwrap(),
        ],
        b"",
    );
    assert_success(&out, "credentials add (jira)");
    let jira_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    logs.push_str(&output_text(&out));
    std::fs::remove_file(&fields_file).unwrap();
    let out = cli_trace_with_stdin(
        &env,
        &[
            "credentials",
            "add",
            "--user",
            "canary-user",
            "--service",
            "todoist",
            "--name",
            "Canary to erase",
        ],
        format!(r#"{{"token":"{canary_e}"}}"#).as_bytes(),
    );
    assert_success(&out, "credentials add (todoist)");
    let todoist_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    logs.push_str(&output_text(&out));
    let out = cli_trace_with_stdin(&env, &["credentials", "erase", &todoist_id], b"");
    assert_success(&out, "credentials erase");
    logs.push_str(&output_text(&out));
    // Positive control: the binary really logged below info (sqlx's statements are debug).
    let plain = strip_ansi(&logs);
    assert!(
        plain.contains("DEBUG sqlx::query") && plain.contains("INSERT INTO data_keys"),
        "the binary did not log at trace level"
    );

    // 2. In this process, with every span and event recorded: register, reveal, replace,
    //    refused input holding a canary, erase.
    let mut messages = Vec::new();
    {
        let _capture = Capture::start();
        let b_id = register(
            &ledger,
            "canary-user",
            "sentry",
            "Canary sentry",
            &format!(r#"{{"token":"{canary_b}","org_slug":"canary-org"}}"#),
        )
        .await
        .unwrap();
        ledger.projections.catch_up().await.unwrap();
        let revealed = ledger
            .reveal("canary-user", &b_id.to_string(), &meta("canary-user"))
            .await
            .unwrap();
        assert_eq!(revealed.get("token").unwrap().expose(), canary_b);
        messages.push(format!("{revealed:?}"));
        ledger
            .replace_secret(
                &b_id.to_string(),
                format!(r#"{{"token":"{canary_c}","org_slug":"canary-org"}}"#).as_bytes(),
                None,
                &meta("canary-user"),
            )
            .await
            .unwrap();
        let revealed = ledger
            .reveal("canary-user", &b_id.to_string(), &meta("canary-user"))
            .await
            .unwrap();
        assert_eq!(revealed.get("token").unwrap().expose(), canary_c);
        messages.push(format!("{revealed:?} {:?}", revealed.get("token")));

        // Refused input that carries a canary: the errors must not repeat it.
        let refused: Vec<(&str, String)> = vec![
            (
                "jira",
                format!(r#"{{"url":"{canary_d}","email":"a@b.co","api_token":"x"}}"#),
            ),
            (
                "jira",
                format!(r#"{{"url":"https://x.test","email":"{canary_d}","api_token":"x"}}"#),
            ),
            (
                "jira",
                format!(
                    r#"{{"url":"https://x.test/ {canary_d}","email":"a@b.co","api_token":"x"}}"#
                ),
            ),
            ("notion", format!(r#"{{"token":"t","extra":"{canary_d}"}}"#)),
            ("notion", format!(r#"{{"token":{canary_d}}}"#)),
            ("notion", format!(r#"{{"token":"{canary_d}""#)),
            ("notion", format!(r#"["{canary_d}"]"#)),
            (
                "notion",
                format!(r#"{{"token":"{canary_d}","{canary_d}":1}}"#),
            ),
            (
                "sentry",
                format!(r#"{{"token":"t","org_slug":"{canary_d} x"}}"#),
            ),
            ("myspace", format!(r#"{{"token":"{canary_d}"}}"#)),
            (
                "notion",
                format!(r#"{{"token":"{canary_d}{}"}}"#, "x".repeat(70_000)),
            ),
        ];
        for (service, fields) in &refused {
            let err = ledger
                .register(
                    NewCredential {
                        user_id: "canary-user",
                        service,
                        name: "Refused",
                        fields_json: fields.as_bytes(),
                        metadata: Default::default(),
                        validation: None,
                    },
                    new_id(),
                    &meta("canary-user"),
                )
                .await
                .expect_err("refused input was accepted");
            assert_eq!(err.code(), "VALIDATION", "{err}");
            messages.push(format!("{err} {err:?}"));
            let err = ledger
                .replace_secret(
                    &b_id.to_string(),
                    fields.as_bytes(),
                    None,
                    &meta("canary-user"),
                )
                .await
                .expect_err("refused input was accepted");
            messages.push(format!("{err} {err:?}"));
        }

        ledger
            .erase(&b_id.to_string(), &meta("canary-user"))
            .await
            .unwrap();
        ledger.projections.catch_up().await.unwrap();
        if let Err(err) = ledger
            .reveal("canary-user", &b_id.to_string(), &meta("canary-user"))
            .await
        {
            messages.push(format!("{err} {err:?}"));
        }
        let keyring = ledger
            .keyring(&keyring_id("canary-user", "jira"))
            .await
            .unwrap();
        messages.push(format!("{keyring:?} {ledger:?} {:?}", env.settings()));
    }
    let in_process = String::from_utf8_lossy(&captured_logs().lock().unwrap()).to_string();
    // Positive control: this process's logging was really recorded, at trace level.
    assert!(
        in_process.contains("DEBUG sqlx::query") && in_process.contains("INSERT INTO data_keys"),
        "nothing was captured from this process ({} bytes)",
        in_process.len()
    );
    assert_absent("this process's logs", &in_process, &canaries);
    assert_absent(
        "error messages and Debug output",
        &messages.join("\n"),
        &canaries,
    );

    // 3. The server at trace level: it catches up every event above and polls the feed.
    let served = serve_at_trace_level(&env).await;
    let plain = strip_ansi(&served);
    assert!(plain.contains("credledger is serving") && plain.contains("DEBUG sqlx::query"));
    logs.push_str(&served);
    assert_absent("the binary's logs", &logs, &canaries);
    assert_absent("the binary's logs", &strip_ansi(&logs), &canaries);

    // 4. Negative control: the canary was really stored and is recoverable by its owner.
    ledger.projections.catch_up().await.unwrap();
    let notion = ledger
        .reveal("canary-user", &notion_id, &meta("canary-user"))
        .await
        .unwrap();
    assert_eq!(notion.get("token").unwrap().expose(), canary_a);
    let jira = ledger
        .reveal("canary-user", &jira_id, &meta("canary-user"))
        .await
        .unwrap();
    assert_eq!(jira.get("api_token").unwrap().expose(), canary_a);
    ledger.projections.catch_up().await.unwrap();

    // 5. `ledger export`.
    let out = env.cli().args(["ledger", "export"]).output().unwrap();
    assert_success(&out, "ledger export");
    let export = output_text(&out);
    assert!(
        export.contains(&notion_id) && export.contains(&jira_id) && export.contains("ciphertext"),
        "the export does not hold the credentials' events"
    );
    assert_absent("ledger export", &export, &canaries);

    // 6. Every column of every table.
    let pool = env.any_pool().await;
    let cells = every_cell(&env, &pool).await;
    let tables: std::collections::BTreeSet<&str> =
        cells.iter().map(|(t, _, _)| t.as_str()).collect();
    for table in [
        "events",
        "data_keys",
        "credential_summary",
        "dashboard_stats",
        "audit_trail",
        "projection_checkpoints",
    ] {
        assert!(
            tables.contains(table),
            "{table} was not scanned: {tables:?}"
        );
    }
    // Positive control: the scan reads the rows that belong to the credentials.
    for (table, id) in [
        ("events", &notion_id),
        ("data_keys", &notion_id),
        ("credential_summary", &jira_id),
        ("audit_trail", &jira_id),
    ] {
        let id_hex = hex::encode(id.as_bytes());
        assert!(
            cells
                .iter()
                .any(|(t, _, cell)| t == table && cell.to_lowercase().contains(&id_hex)),
            "the scan found {id} nowhere in {table}"
        );
    }
    for (table, column, cell) in &cells {
        assert_absent_hex(&format!("{table}.{column}"), cell, &canaries);
    }

    // 7. On SQLite, the database files themselves (main file, write-ahead log).
    if env.database_url.is_none() {
        ledger.db.close().await;
        pool.close().await;
        for entry in std::fs::read_dir(env.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert_absent(&path.display().to_string(), &text, &canaries);
        }
    }
}

on_both_backends!(planted_canary_secrets_appear_in_no_log_column_projection_export_or_debug_output_yet_reveal_returns_them);

/// A Jira stand-in that misbehaves as providers and the proxies in front of them do: in mode
/// `401` it echoes the request's `Authorization` (raw, and the token decoded, and the token
/// percent-encoded) in Jira's error format; in `403` it answers an internal HTML page; in
/// `500` it puts the token, split across lines, in the `message` field; in `402` it answers 401
/// with the token after 262 characters of text, where a message cut at 300 characters before
/// the redaction would keep all of it but its end. Mode `200` accepts.
async fn echoing_jira(mode: Arc<std::sync::atomic::AtomicU16>) -> String {
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/rest/api/3/myself",
        axum::routing::get(move |headers: HeaderMap| {
            let mode = mode.load(Ordering::SeqCst);
            async move {
                let authorization = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let decoded = authorization
                    .strip_prefix("Basic ")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).to_string())
                    .unwrap_or_default();
                let token = decoded.split_once(':').map(|(_, t)| t).unwrap_or("").to_owned();
                let encoded: String = token
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() {
                            char::from(b).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect();
                match mode {
                    200 => axum::Json(serde_json::json!({
                        "accountId": "acc-1", "displayName": "Ada", "emailAddress": "ada@example.com"
                    }))
                    .into_response(),
                    401 => (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(serde_json::json!({"errorMessages": [format!(
                            "Authorization: {authorization} refused; token {token}, {encoded}"
                        )], "errors": {}})),
                    )
                        .into_response(),
                    402 => (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(serde_json::json!({"errorMessages": [format!(
                            "{} {token}", "a".repeat(261)
                        )], "errors": {}})),
                    )
                        .into_response(),
                    403 => (
                        StatusCode::FORBIDDEN,
                        [(header::CONTENT_TYPE, "text/html")],
                        format!(
                            "<html><body><h1>FOREIGN-PAGE-MARKER INTERNAL-ONLY admin panel</h1>\
                             <p>db_password=hunter2 {authorization}</p></body></html>"
                        ),
                    )
                        .into_response(),
                    _ => {
                        let (a, b) = token.split_at(token.len() / 2);
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(serde_json::json!({
                                "message": format!("upstream failed for {a}\n{b}")
                            })),
                        )
                            .into_response()
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.4:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn echoing_providers_leave_no_canary_and_no_foreign_page(env: TestEnv) {
    use crate::support::api::Auth;
    let _capture = Capture::start();
    let mode = Arc::new(std::sync::atomic::AtomicU16::new(200));
    let site = echoing_jira(mode.clone()).await;
    let allowed = site.clone();
    let server = env
        .server_with(|s| s.outbound.allowed_hosts = vec![allowed])
        .await;
    let alice = server.user("alice").await;
    let token = format!("{}/+=x", canary());
    let email = "ada@example.com";
    let fields = serde_json::json!({"url": site, "email": email, "api_token": token});
    let id = alice.add("jira", "Work", fields.clone()).await;
    // What must never come back, in any form.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"));
    let percent: String = token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let forbidden = [
        token.clone(),
        // Most of it, cut short.
        token[..24].to_owned(),
        basic,
        percent,
        "FOREIGN-PAGE-MARKER".to_owned(),
        "hunter2".to_owned(),
    ];
    let check = |what: &str, text: &str| {
        for needle in &forbidden {
            assert!(
                !text.contains(needle.as_str()),
                "{needle} appears in {what}: {text}"
            );
        }
    };
    let mut answers = String::new();
    for status in [401u16, 402, 403, 500] {
        mode.store(status, Ordering::SeqCst);
        let tested = alice
            .gql(
                "mutation($f: JSON!) { testCredential(service: \"jira\", fields: $f) { result message } }",
                serde_json::json!({"f": fields}),
            )
            .await;
        answers.push_str(&tested.body.to_string());
        let revalidated = alice
            .gql(
                "mutation($id: ID!) { revalidateCredential(id: $id) { result message credential { status validationError } } }",
                serde_json::json!({"id": id}),
            )
            .await;
        answers.push_str(&revalidated.body.to_string());
        assert!(
            revalidated.body["data"]["revalidateCredential"]["result"].is_string(),
            "{}",
            revalidated.body
        );
    }
    // The HTML page says nothing but its status; the echoes are cut out or withheld.
    assert!(answers.contains("Jira answered HTTP 403\""), "{answers}");
    assert!(answers.contains("<withheld"), "{answers}");
    let Auth::Cookie(_) = &alice.auth else {
        unreachable!()
    };
    for query in [
        "query($id: ID!) { credentialHistory(id: $id) { type payload } }",
        "query($id: ID!) { credential(id: $id) { validationError } }",
    ] {
        answers.push_str(
            &alice
                .gql(query, serde_json::json!({"id": id}))
                .await
                .body
                .to_string(),
        );
    }
    answers.push_str(
        &alice
            .gql("{ auditTrail(first: 50) { edges { node { action error oldValues newValues context } } } }", serde_json::json!({}))
            .await
            .body
            .to_string(),
    );
    check("the GraphQL answers", &answers);
    server.running.stop().await.unwrap();
    // The ledger export, every cell of every table, and this process's logs.
    let export = env
        .cli()
        .args(["ledger", "export", "--from", "1"])
        .output()
        .unwrap();
    assert_success(&export, "ledger export");
    check("the ledger export", &output_text(&export));
    let pool = env.any_pool().await;
    for (table, column, cell) in every_cell(&env, &pool).await {
        let text = String::from_utf8_lossy(&hex::decode(&cell).unwrap_or_default()).to_string();
        check(&format!("{table}.{column}"), &text);
    }
    pool.close().await;
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).to_string();
    check("the logs", &logs);
}
on_both_backends!(echoing_providers_leave_no_canary_and_no_foreign_page);

/// An environment variable that is not UTF-8, whatever its name, neither stops a command nor
/// reaches its output (`std::env::vars` panics printing it); one of ours that is not is refused
/// by name, never taken as unset (an unreadable `CREDLEDGER_MASTER_KEYS` must not fall back to
/// the key file).
#[tokio::test]
async fn an_environment_value_that_is_not_text_is_never_printed() {
    use std::os::unix::ffi::OsStrExt as _;
    let env = TestEnv::sqlite().await;
    let canary = canary();
    let mut value = canary.clone().into_bytes();
    value.push(0xff);
    let value = std::ffi::OsStr::from_bytes(&value);

    let out = env
        .cli()
        .env("SOME_DATABASE_PASSWORD", value)
        .arg("migrate")
        .output()
        .unwrap();
    let said = output_text(&out);
    assert_absent("migrate's output", &said, std::slice::from_ref(&canary));
    assert_success(&out, "migrate beside a variable that is not text");

    for ours in [
        "CREDLEDGER_MASTER_KEYS",
        "CREDLEDGER_OAUTH_GOOGLE_CLIENT_ID",
    ] {
        let out = env.cli().env(ours, value).arg("migrate").output().unwrap();
        let said = output_text(&out);
        assert_absent("migrate's output", &said, std::slice::from_ref(&canary));
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(
            said.contains(&format!("{ours} is not valid UTF-8")),
            "{said}"
        );
    }
}
