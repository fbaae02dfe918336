//! Bad input gets a typed error, writes nothing and never panics: unknown services, missing or
//! unknown fields, bad formats, names over 100 characters, secrets over 64 KiB, invalid UTF-8,
//! malformed ids, oversized metadata, JSON that is not an object of strings — through the
//! ledger's use cases and through the binary's `credentials add` and `credentials erase`.

use crate::on_both_backends;
use crate::support::{dump_table, meta, new_id, register, valid, TestEnv};
use credledger::{Ledger, LedgerError, NewCredential};
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Output, Stdio};

type Dump = Vec<Vec<Option<String>>>;

/// Everything a command could write: the events (JSON columns as text, so the same SQL works
/// on PostgreSQL), the data keys and the read models.
async fn snapshot(pool: &AnyPool) -> Vec<(&'static str, Dump)> {
    let events: Dump = {
        use sqlx::Row;
        sqlx::query(
            "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, \
             CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata, hash \
             FROM events ORDER BY global_position",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let mut row: Vec<Option<String>> = (0..7)
                .map(|i| {
                    r.try_get::<String, _>(i)
                        .ok()
                        .or_else(|| r.try_get::<i64, _>(i).ok().map(|v| v.to_string()))
                })
                .collect();
            row.push(Some(hex::encode(r.try_get::<Vec<u8>, _>(7).unwrap())));
            row
        })
        .collect()
    };
    vec![
        ("events", events),
        ("data_keys", dump_table(pool, "data_keys", "dek_id").await),
        (
            "credential_summary",
            dump_table(pool, "credential_summary", "credential_id").await,
        ),
        (
            "dashboard_stats",
            dump_table(pool, "dashboard_stats", "user_id, service").await,
        ),
        (
            "audit_trail",
            dump_table(pool, "audit_trail", "position").await,
        ),
    ]
}

fn assert_unchanged(before: &[(&'static str, Dump)], after: &[(&'static str, Dump)], what: &str) {
    for ((table, b), (_, a)) in before.iter().zip(after) {
        assert_eq!(
            b.len(),
            a.len(),
            "{what}: {table} went from {} to {} rows",
            b.len(),
            a.len()
        );
        assert!(b == a, "{what}: {table} changed");
    }
}

fn expect_code(result: Result<impl std::fmt::Debug, LedgerError>, code: &str, case: &str) {
    match result {
        Ok(v) => panic!("{case}: accepted ({v:?}), expected {code}"),
        Err(e) => {
            assert_eq!(e.code(), code, "{case}: {e} ({e:?})");
            assert!(!e.to_string().is_empty(), "{case}: empty message");
        }
    }
}

async fn register_raw(
    ledger: &Ledger,
    user: &str,
    service: &str,
    name: &str,
    fields: &[u8],
    metadata: BTreeMap<String, String>,
) -> Result<(), LedgerError> {
    ledger
        .register(
            NewCredential {
                user_id: user,
                service,
                name,
                fields_json: fields,
                metadata,
                validation: None,
            },
            new_id(),
            &meta("tester"),
        )
        .await
        .map(|_| ())
}

const JIRA_OK: &str =
    r#"{"url":"https://x.atlassian.net","email":"a@example.test","api_token":"t"}"#;

/// Field sets refused for the service they are given for.
fn bad_fields() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let too_large = format!(r#"{{"token":"{}"}}"#, "x".repeat(64 * 1024));
    let just_over = format!(
        r#"{{"token":"{}"}}"#,
        "x".repeat(64 * 1024 - r#"{"token":""}"#.len() + 1)
    );
    vec![
        ("secret over 64 KiB", "notion", too_large.into_bytes()),
        (
            "secret one byte over 64 KiB",
            "notion",
            just_over.into_bytes(),
        ),
        (
            "invalid UTF-8",
            "notion",
            b"{\"token\":\"t\xff\xfe\"}".to_vec(),
        ),
        (
            "invalid UTF-8 in a key",
            "notion",
            b"{\"tok\xc3\x28en\":\"t\"}".to_vec(),
        ),
        (
            "missing required field",
            "jira",
            br#"{"url":"https://x.atlassian.net","email":"a@example.test"}"#.to_vec(),
        ),
        (
            "empty required field",
            "notion",
            br#"{"token":"   "}"#.to_vec(),
        ),
        ("no fields at all", "notion", b"{}".to_vec()),
        (
            "unknown field",
            "notion",
            br#"{"token":"t","password":"p"}"#.to_vec(),
        ),
        (
            "bad URL",
            "jira",
            br#"{"url":"ftp://x.atlassian.net","email":"a@example.test","api_token":"t"}"#.to_vec(),
        ),
        (
            "URL with a space",
            "jira",
            br#"{"url":"https://x.atlassian.net/ a","email":"a@example.test","api_token":"t"}"#
                .to_vec(),
        ),
        (
            "not a URL",
            "jira",
            br#"{"url":"x.atlassian.net","email":"a@example.test","api_token":"t"}"#.to_vec(),
        ),
        (
            "bad email",
            "jira",
            br#"{"url":"https://x.atlassian.net","email":"not-an-email","api_token":"t"}"#.to_vec(),
        ),
        (
            "email without a domain dot",
            "jira",
            br#"{"url":"https://x.atlassian.net","email":"a@localhost","api_token":"t"}"#.to_vec(),
        ),
        (
            "bad slug",
            "sentry",
            br#"{"token":"t","org_slug":"my org"}"#.to_vec(),
        ),
        ("a JSON array", "notion", br#"["t"]"#.to_vec()),
        (
            "an object of numbers",
            "notion",
            br#"{"token":12345}"#.to_vec(),
        ),
        (
            "a nested object",
            "notion",
            br#"{"token":{"value":"t"}}"#.to_vec(),
        ),
        ("null", "notion", b"null".to_vec()),
        ("a JSON string", "notion", br#""t""#.to_vec()),
        ("empty input", "notion", b"".to_vec()),
        ("truncated JSON", "notion", br#"{"token":"t""#.to_vec()),
        ("trailing garbage", "notion", br#"{"token":"t"} x"#.to_vec()),
    ]
}

async fn bad_input_to_the_ledger_gives_a_typed_error_and_writes_nothing(env: TestEnv) {
    let ledger = env.ledger().await;
    let pool = env.any_pool().await;
    let existing = register(&ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap()
        .to_string();
    ledger.projections.catch_up().await.unwrap();
    ledger
        .record_validation(&existing, 1, valid("alice-ws"), &meta("alice"))
        .await
        .unwrap();
    register(&ledger, "alice", "jira", "Jira", JIRA_OK)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let before = snapshot(&pool).await;
    assert!(!before[0].1.is_empty() && !before[1].1.is_empty());
    // Every column of every event was read (none is NULL in the ledger).
    assert!(before[0].1.iter().flatten().all(Option::is_some));
    let ok_notion = br#"{"token":"t-2"}"#;

    // Registration.
    for (case, service, fields) in bad_fields() {
        let r = register_raw(&ledger, "alice", service, "New", &fields, BTreeMap::new()).await;
        expect_code(r, "VALIDATION", &format!("register: {case}"));
        let r = ledger
            .replace_secret(&existing, &fields, None, &meta("alice"))
            .await;
        // (Fields meant for another service are refused for this notion credential too.)
        expect_code(
            r,
            "VALIDATION",
            &format!("replace secret ({service}): {case}"),
        );
    }
    for service in [
        "myspace",
        "",
        "Notion",
        "notion ",
        "no\u{0}tion",
        &"n".repeat(10_000),
    ] {
        let r = register_raw(&ledger, "alice", service, "New", ok_notion, BTreeMap::new()).await;
        expect_code(r, "VALIDATION", &format!("unknown service {service:?}"));
    }
    for name in [
        "n".repeat(101),
        "é".repeat(101),
        String::new(),
        "   ".into(),
        "a\u{0}b".into(),
        "line\nbreak".into(),
        "x".repeat(10_000),
    ] {
        let r = register_raw(
            &ledger,
            "alice",
            "notion",
            &name,
            ok_notion,
            BTreeMap::new(),
        )
        .await;
        expect_code(
            r,
            "VALIDATION",
            &format!("name of {} chars", name.chars().count()),
        );
        let r = ledger
            .update(&existing, Some(&name), None, &meta("alice"))
            .await;
        expect_code(
            r,
            "VALIDATION",
            &format!("rename to {} chars", name.chars().count()),
        );
    }
    for user in [
        "a:b",
        "",
        "bad\u{7}user",
        "tab\tuser",
        "ünïcode",
        "a b",
        &"u".repeat(65),
    ] {
        let r = register_raw(&ledger, user, "notion", "New", ok_notion, BTreeMap::new()).await;
        expect_code(r, "VALIDATION", &format!("user id {user:?}"));
        let r = ledger.reveal(user, &existing, &meta("tester")).await;
        expect_code(r, "VALIDATION", &format!("reveal as {user:?}"));
    }
    let too_many: BTreeMap<String, String> =
        (0..33).map(|i| (format!("k{i}"), "v".into())).collect();
    let metadata_cases: Vec<(&str, BTreeMap<String, String>)> = vec![
        ("33 entries", too_many),
        (
            "a long value",
            BTreeMap::from([("k".into(), "v".repeat(1025))]),
        ),
        ("a long key", BTreeMap::from([("k".repeat(65), "v".into())])),
        (
            "an empty key",
            BTreeMap::from([(String::new(), "v".into())]),
        ),
        (
            "a control character",
            BTreeMap::from([("k".into(), "a\u{1b}b".into())]),
        ),
    ];
    for (case, metadata) in metadata_cases {
        let r = register_raw(
            &ledger,
            "alice",
            "notion",
            "New",
            ok_notion,
            metadata.clone(),
        )
        .await;
        expect_code(r, "VALIDATION", &format!("register with metadata: {case}"));
        let r = ledger
            .update(&existing, None, Some(metadata.clone()), &meta("alice"))
            .await;
        expect_code(r, "VALIDATION", &format!("update metadata: {case}"));
        // With a valid rename in the same command: nothing of it is kept either.
        let r = ledger
            .update(&existing, Some("Renamed"), Some(metadata), &meta("alice"))
            .await;
        expect_code(r, "VALIDATION", &format!("rename + metadata: {case}"));
    }

    // Commands by id: malformed ids are VALIDATION, well-formed unknown ones NOT_FOUND.
    let unknown = new_id().to_string();
    let ids: Vec<(String, &str)> = vec![
        ("not-a-uuid".into(), "VALIDATION"),
        (String::new(), "VALIDATION"),
        ("x".repeat(10 * 1024), "VALIDATION"),
        ("00000000-0000-0000-0000-00000000000g".into(), "VALIDATION"),
        (format!("{existing}:x"), "VALIDATION"),
        ("\u{0}\u{1}\u{2}".into(), "VALIDATION"),
        (unknown.clone(), "NOT_FOUND"),
        // Another spelling of a UUID is not an id as the ledger writes it.
        (unknown.to_uppercase(), "VALIDATION"),
    ];
    for (id, code) in &ids {
        let short: String = id.chars().take(40).collect();
        let m = meta("alice");
        expect_code(
            ledger.update(id, Some("Renamed"), None, &m).await,
            code,
            &format!("update {short:?}"),
        );
        expect_code(
            ledger.replace_secret(id, ok_notion, None, &m).await,
            code,
            &format!("replace {short:?}"),
        );
        expect_code(
            ledger.record_validation(id, 1, valid("x"), &m).await,
            code,
            &format!("validation {short:?}"),
        );
        expect_code(
            ledger.set_primary(id, &m).await,
            code,
            &format!("set primary {short:?}"),
        );
        expect_code(
            ledger.revoke(id, None, &m).await,
            code,
            &format!("revoke {short:?}"),
        );
        expect_code(
            ledger.erase(id, &m).await,
            code,
            &format!("erase {short:?}"),
        );
        expect_code(
            ledger.reveal("alice", id, &m).await,
            code,
            &format!("reveal {short:?}"),
        );
    }
    // Another user's credential answers NOT_FOUND (no existence leak) and records no use.
    expect_code(
        ledger.reveal("mallory", &existing, &meta("mallory")).await,
        "NOT_FOUND",
        "reveal by another user",
    );

    let after = snapshot(&pool).await;
    assert_unchanged(&before, &after, "after refused commands");
    // Nothing was waiting to be projected either.
    ledger.projections.catch_up().await.unwrap();
    assert_unchanged(&before, &snapshot(&pool).await, "after catching up");
    // And the ledger still works.
    ledger
        .update(&existing, Some("Renamed"), None, &meta("alice"))
        .await
        .unwrap();
}

on_both_backends!(bad_input_to_the_ledger_gives_a_typed_error_and_writes_nothing);

fn run_add(
    env: &TestEnv,
    user: &std::ffi::OsStr,
    service: &str,
    name: &std::ffi::OsStr,
    stdin: &[u8],
) -> Output {
    let mut child = env
        .cli()
        .arg("credentials")
        .arg("add")
        .arg("--user")
        .arg(user)
        .arg("--service")
        .arg(service)
        .arg("--name")
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may refuse before reading everything: a closed pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn bad_input_to_the_binary_exits_1_with_the_code_never_echoes_the_secret_and_writes_nothing(
    env: TestEnv,
) {
    use std::ffi::OsStr;
    let ledger = env.ledger().await; // migrated: the binary's runs below write nothing at all
    let pool = env.any_pool().await;
    let existing = register(&ledger, "alice", "notion", "Work", r#"{"token":"t-1"}"#)
        .await
        .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let before = snapshot(&pool).await;
    let secret = format!("SECRET-{}", uuid::Uuid::new_v4().simple());
    let s = secret.as_str();

    let long_name = "n".repeat(101);
    let big = format!(r#"{{"token":"{s}{}"}}"#, "x".repeat(70_000));
    let mut invalid_utf8 = format!(r#"{{"token":"{s}"#).into_bytes();
    invalid_utf8.extend_from_slice(b"\xff\"}");
    let cases: Vec<(&str, &str, &str, &str, Vec<u8>)> = vec![
        (
            "unknown service",
            "alice",
            "myspace",
            "New",
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
        (
            "missing required field",
            "alice",
            "jira",
            "New",
            format!(r#"{{"url":"https://x.atlassian.net","email":"{s}@example.test"}}"#)
                .into_bytes(),
        ),
        (
            "name over 100 characters",
            "alice",
            "notion",
            &long_name,
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
        (
            "secret over 64 KiB",
            "alice",
            "notion",
            "New",
            big.into_bytes(),
        ),
        ("invalid UTF-8", "alice", "notion", "New", invalid_utf8),
        (
            "user id with a colon",
            "a:b",
            "notion",
            "New",
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
        (
            "empty user id",
            "",
            "notion",
            "New",
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
        (
            "user id with control characters",
            "bad\u{7}\u{1b}[31muser",
            "notion",
            "New",
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
        (
            "unknown field",
            "alice",
            "notion",
            "New",
            format!(r#"{{"token":"t","extra":"{s}"}}"#).into_bytes(),
        ),
        (
            "bad URL",
            "alice",
            "jira",
            "New",
            format!(r#"{{"url":"not a url {s}","email":"a@example.test","api_token":"{s}"}}"#)
                .into_bytes(),
        ),
        (
            "bad email",
            "alice",
            "jira",
            "New",
            format!(r#"{{"url":"https://x.atlassian.net","email":"{s}","api_token":"{s}"}}"#)
                .into_bytes(),
        ),
        (
            "a JSON array",
            "alice",
            "notion",
            "New",
            format!(r#"["{s}"]"#).into_bytes(),
        ),
        (
            "an object of numbers",
            "alice",
            "notion",
            "New",
            br#"{"token":1234567890}"#.to_vec(),
        ),
        (
            "a value that is not a string",
            "alice",
            "notion",
            "New",
            format!(r#"{{"token":{s}}}"#).into_bytes(),
        ),
        ("empty input", "alice", "notion", "New", Vec::new()),
        (
            "a name already taken is not bad input, but is refused too",
            "alice",
            "notion",
            "Work",
            format!(r#"{{"token":"{s}"}}"#).into_bytes(),
        ),
    ];
    for (case, user, service, name, stdin) in &cases {
        let out = run_add(&env, OsStr::new(user), service, OsStr::new(name), stdin);
        let text = describe(&out);
        assert_ne!(out.status.code(), Some(101), "{case}: panicked\n{text}");
        assert_eq!(out.status.code(), Some(1), "{case}\n{text}");
        let expected = if case.starts_with("a name already taken") {
            "(CONFLICT)"
        } else {
            "(VALIDATION)"
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "{case}: no {expected} in\n{text}"
        );
        assert!(stderr.starts_with("credledger: "), "{case}\n{text}");
        assert!(out.stdout.is_empty(), "{case}: printed an id\n{text}");
        assert!(!text.contains(s), "{case}: the secret was echoed\n{text}");
    }

    // Invalid UTF-8 in an argument: refused by the argument parser (a usage error), no panic.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let out = run_add(
            &env,
            OsStr::new("alice"),
            "notion",
            OsStr::from_bytes(b"bad \xff name"),
            format!(r#"{{"token":"{s}"}}"#).as_bytes(),
        );
        let text = describe(&out);
        assert!(!out.status.success(), "{text}");
        assert_ne!(out.status.code(), Some(101), "panicked\n{text}");
        assert!(!text.contains(s), "the secret was echoed\n{text}");
    }

    // `credentials erase` with malformed and unknown ids.
    for (id, code) in [
        ("not-a-uuid".to_string(), "(VALIDATION)"),
        ("x".repeat(10 * 1024), "(VALIDATION)"),
        (new_id().to_string(), "(NOT_FOUND)"),
    ] {
        let out = env
            .cli()
            .args(["credentials", "erase", &id])
            .output()
            .unwrap();
        let text = describe(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "erase {}\n{text}",
            &id[..id.len().min(40)]
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(code),
            "{text}"
        );
    }

    assert_unchanged(
        &before,
        &snapshot(&pool).await,
        "after the refused binary runs",
    );
    // The credential that was there is untouched and still readable.
    let fields = ledger
        .reveal("alice", &existing.to_string(), &meta("alice"))
        .await
        .unwrap();
    assert_eq!(fields.get("token").unwrap().expose(), "t-1");
}

on_both_backends!(
    bad_input_to_the_binary_exits_1_with_the_code_never_echoes_the_secret_and_writes_nothing
);

async fn pasted_secrets_are_trimmed_and_line_breaks_refused(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let good = server.good_fields("notion", 0);
    let token = good["token"].as_str().unwrap().to_owned();
    // A trailing newline and spaces, as a paste brings them: trimmed, checked, kept.
    let id = alice
        .add(
            "notion",
            "Work",
            serde_json::json!({"token": format!("  {token}\n")}),
        )
        .await;
    let revealed = alice
        .ok(
            "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
            serde_json::json!({"id": id}),
        )
        .await;
    assert_eq!(
        revealed["revealCredential"]["fields"]["token"],
        token.as_str()
    );
    // A line break inside cannot travel in a header: refused, naming the field, not the value.
    let answer = alice
        .gql(
            "mutation($i: AddCredentialInput!) { addCredential(input: $i) { credential { id } } }",
            serde_json::json!({"i": {"service": "notion", "name": "Other",
                "fields": {"token": format!("{token}\nX-Injected: 1")}}}),
        )
        .await;
    assert_eq!(answer.code(), "VALIDATION", "{}", answer.body);
    assert!(answer.message().contains("token"), "{}", answer.body);
    assert!(!answer.message().contains(&token), "{}", answer.body);
    server.running.stop().await.unwrap();
}
on_both_backends!(pasted_secrets_are_trimmed_and_line_breaks_refused);

/// A credential id in another spelling of the same UUID (uppercase, braces) is `NOT_FOUND`
/// and changes nothing: it found the credential to rename, then not the row to answer with,
/// so a committed rename was answered `NOT_FOUND`.
async fn a_credential_id_in_another_spelling_is_not_found_and_changes_nothing(env: TestEnv) {
    let server = env.server().await;
    let alice = server.user("alice").await;
    let id = alice
        .add("notion", "Work", server.good_fields("notion", 0))
        .await;
    for spelled in [id.to_uppercase(), format!("{{{id}}}")] {
        let answer = alice
            .gql(
                "mutation($id: ID!) { updateCredential(id: $id, input: {name: \"Other\"}) { credential { name } } }",
                serde_json::json!({"id": spelled}),
            )
            .await;
        assert_eq!(answer.code(), "NOT_FOUND", "{}", answer.body);
    }
    let shown = alice
        .ok(
            "query($id: ID!) { credential(id: $id) { name } }",
            serde_json::json!({"id": id}),
        )
        .await;
    assert_eq!(shown["credential"]["name"], "Work");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_credential_id_in_another_spelling_is_not_found_and_changes_nothing);
