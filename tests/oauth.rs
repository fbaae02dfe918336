//! Connecting Google accounts with OAuth 2.0 and keeping them connected, against the provider
//! simulator's Google endpoints (consent page, token endpoint with PKCE, refresh, revocation).

use crate::on_both_backends;
use crate::support::api::{Auth, Client, Server};
use crate::support::mcp_recorder::RecordingMcpServer;
use crate::support::{eventually, valid_until, TestEnv};
use credledger::config::JobSettings;
use credledger::{Application, Settings};
use credledger_adapters::oauth::OAuthClient;
use credledger_adapters::simulator::{
    OAuthBehaviour, ProviderSimulator, SimAccount, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET,
};
use serde_json::{json, Value};
use std::time::Duration;

/// Points the catalog's Google OAuth endpoints at the simulator (through a catalog file, as an
/// operator would for another provider) and configures the demo client.
fn point_oauth(env: &TestEnv, settings: &mut Settings, simulator: &ProviderSimulator) {
    let mut catalog = settings.catalog().unwrap();
    for key in ["gmail", "google_calendar"] {
        catalog
            .set_oauth_origin(key, &simulator.oauth_origin())
            .unwrap();
    }
    let file = env.dir.path().join("catalog.json");
    std::fs::write(
        &file,
        serde_json::to_string(&json!({"services": catalog.services()})).unwrap(),
    )
    .unwrap();
    settings.catalog_file = Some(file);
    settings.oauth_clients.insert(
        "google".into(),
        OAuthClient {
            id: DEMO_OAUTH_CLIENT_ID.into(),
            secret: Some(DEMO_OAUTH_CLIENT_SECRET.into()),
        },
    );
}

/// Changes the `oauth` flow of the catalog file's `service` entry (written by [`point_oauth`]).
fn change_oauth_flow(settings: &Settings, service: &str, change: impl FnOnce(&mut Value)) {
    let path = settings.catalog_file.clone().unwrap();
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = file["services"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["key"] == service)
        .unwrap();
    change(&mut entry["oauth"]);
    std::fs::write(&path, file.to_string()).unwrap();
}

fn refreshing_jobs() -> JobSettings {
    JobSettings {
        oauth_refresh_interval: Duration::from_millis(300),
        oauth_refresh_margin: chrono::Duration::seconds(2),
        ..JobSettings::default()
    }
}

/// Tokens refreshed on demand only (at resolve), not by the pass, within `margin_s` seconds of
/// their expiry.
fn refreshing_on_demand_only(margin_s: i64) -> JobSettings {
    JobSettings {
        oauth_refresh_interval: Duration::from_secs(3600),
        oauth_refresh_margin: chrono::Duration::seconds(margin_s),
        ..JobSettings::default()
    }
}

async fn oauth_server(env: &TestEnv, behaviour: OAuthBehaviour, jobs: JobSettings) -> Server {
    let simulator = ProviderSimulator::start().await.unwrap();
    simulator.set_oauth_behaviour(behaviour);
    env.server_with_simulator(simulator, |s, sim| point_oauth(env, s, sim), jobs)
        .await
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The hidden fields of the simulated consent page's form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once("value=\"")?.1.split_once('"')?.0;
            Some((
                name.to_owned(),
                value.replace("&quot;", "\"").replace("&amp;", "&"),
            ))
        })
        .collect()
}

/// Starts a connection as `person`, answers the consent page with `decision`, and answers the
/// provider's redirect to the callback; returns the callback's URL and where it sent the person.
async fn connect(
    server: &Server,
    person: &Client,
    service: &str,
    name: &str,
    decision: &str,
) -> (String, String) {
    connect_with(server, person, json!({"s": service, "n": name}), decision).await
}

/// [`connect`] with `startOAuthConnection`'s arguments `{s, n, r}` (service, name, reconnect).
async fn connect_with(
    server: &Server,
    person: &Client,
    args: Value,
    decision: &str,
) -> (String, String) {
    let started = person
        .ok(
            "mutation($s: String!, $n: String, $r: ID) { startOAuthConnection(service: $s, name: $n, reconnect: $r) { authorizationUrl } }",
            args,
        )
        .await;
    let url = started["startOAuthConnection"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let callback = answer_consent(server, &url, decision).await;
    let landed = callback_as(server, person, &callback).await;
    (callback, landed)
}

/// Opens the provider's consent page at `url` and answers it with `decision`: the provider's
/// redirect to the callback.
async fn answer_consent(server: &Server, url: &str, decision: &str) -> String {
    let page = server.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Allow"), "{html}");
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), decision.into()));
    let consent = format!("{}/consent", server.simulator.oauth_origin());
    let answered = server.http.post(consent).form(&form).send().await.unwrap();
    assert_eq!(answered.status(), 303);
    location(&answered)
}

/// The way back as a browser makes it: the provider's redirect to the callback, a navigation
/// from another site, carries no session cookie (it is `SameSite=Strict`); the callback's page
/// goes on to `/oauth/finish`, a navigation of this site, which does.
async fn callback_as(server: &Server, person: &Client, callback: &str) -> String {
    let Auth::Cookie(cookie) = &person.auth else {
        panic!("a person with a session")
    };
    let finish = format!("{}{}", server.base, way_on(server, callback).await);
    let back = server
        .http
        .get(finish)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    location(&back)
}

/// Where the callback's page goes on to (its `<meta http-equiv="refresh">`), asked without
/// a cookie.
async fn way_on(server: &Server, callback: &str) -> String {
    let page = server.http.get(callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let to = html
        .split_once("content=\"0;url=")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(to, _)| to.replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no way on in {html}"));
    assert!(to.starts_with("/oauth/finish?"), "{to}");
    to
}

/// A resolve of alice's Gmail, as an MCP server with her resolver token asks for it.
const RESOLVE_ALICES_GMAIL: &str = "mutation { resolveCredential(userId: \"alice\", service: \"gmail\", tool: \"gmail_search\") { fields } }";
const CREDENTIAL: &str = "query($id: ID!) { credential(id: $id) { id name status isPrimary scopes tokenExpiresAt secretVersion account { id email } } }";

async fn credential(person: &Client, id: &str) -> Value {
    person.ok(CREDENTIAL, json!({"id": id})).await["credential"].clone()
}

async fn credential_count(person: &Client) -> usize {
    person.ok("{ credentials { id } }", json!({})).await["credentials"]
        .as_array()
        .unwrap()
        .len()
}

fn connected_id(landed: &str) -> String {
    landed
        .strip_prefix("/?oauth=connected&credential=")
        .unwrap_or_else(|| panic!("not connected: {landed}"))
        .to_owned()
}

/// What the simulated Google answers for a token at its userinfo endpoint.
async fn userinfo_status(server: &Server, token: &str) -> u16 {
    server
        .http
        .get(format!(
            "{}/oauth2/v3/userinfo",
            server.simulator.base_url("gmail")
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How many refreshes `id`'s history records.
/// The refreshes among the credential's newest thousand events (a test's whole history).
async fn refreshes(person: &Client, id: &str) -> usize {
    let history = person
        .ok(
            "query($id: ID!) { credentialHistory(id: $id, last: 1000) { type } }",
            json!({"id": id}),
        )
        .await;
    history["credentialHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "OAuthTokenRefreshed")
        .count()
}

/// Every event of the ledger but the disclosures' (`CredentialUsed`), counted by type, read
/// from the events table (a read model may lag).
async fn recorded_changes(env: &TestEnv) -> std::collections::BTreeMap<String, i64> {
    let pool = env.any_pool().await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, CAST(COUNT(*) AS BIGINT) FROM events \
         WHERE event_type <> 'CredentialUsed' GROUP BY event_type",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

/// Makes the database refuse every event of `event_type` as if it were away (SQLSTATE 57P03 on
/// PostgreSQL); undone by `accept_events_again` on the pool answered.
async fn database_away_for(env: &TestEnv, event_type: &str) -> sqlx::AnyPool {
    let pool = env.any_pool().await;
    crate::support::refuse_events_where(
        &pool,
        env.backend,
        &format!("NEW.event_type = '{event_type}'"),
        "the database is away",
        Some("57P03"),
    )
    .await;
    pool
}

/// A new user, alice, with her Gmail account connected ("Mail") and a resolver token of hers:
/// (alice, the credential's id, the resolver).
async fn alice_with_gmail(server: &Server) -> (Client, String, Client) {
    let alice = server.user("alice").await;
    let (_, landed) = connect(server, &alice, "gmail", "Mail", "allow").await;
    let id = connected_id(&landed);
    let machine = resolver_token(&alice).await;
    (alice, id, machine)
}

async fn resolver_token(person: &Client) -> Client {
    let token = person.api_token("resolver", "CREDENTIALS_RESOLVE").await;
    person.with_auth(Auth::Bearer(token))
}

async fn resolve_access_token(machine: &Client, user: &str) -> String {
    let data = machine
        .ok(
            "mutation($u: String!) { resolveCredential(userId: $u, service: \"gmail\", tool: \"gmail_search\") { fields } }",
            json!({"u": user}),
        )
        .await;
    data["resolveCredential"]["fields"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn connecting_a_google_account_stores_an_active_primary_credential(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let services = alice
        .ok("{ services { key oauthAvailable oauthScopes } }", json!({}))
        .await;
    let gmail = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "gmail")
        .unwrap()
        .clone();
    assert_eq!(gmail["oauthAvailable"], true);

    let started = alice
        .ok(
            "mutation { startOAuthConnection(service: \"gmail\", name: \"Work mail\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    let url = reqwest::Url::parse(
        started["startOAuthConnection"]["authorizationUrl"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(
        query["redirect_uri"],
        format!("{}/oauth/callback", server.base)
    );
    assert!(query["scope"].contains("https://www.googleapis.com/auth/gmail.readonly"));
    assert!(query["state"].len() >= 16);

    let before = chrono::Utc::now();
    let (_, landed) = connect(&server, &alice, "gmail", "Work mail", "allow").await;
    let id = connected_id(&landed);
    let c = credential(&alice, &id).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    assert_eq!(c["isPrimary"], true);
    assert_eq!(c["name"], "Work mail");
    assert_eq!(c["account"]["email"], "katherine.johnson@gmail.com");
    assert!(c["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("https://www.googleapis.com/auth/gmail.send")));
    let expires: chrono::DateTime<chrono::Utc> =
        c["tokenExpiresAt"].as_str().unwrap().parse().unwrap();
    assert!(
        expires > before + chrono::Duration::minutes(59)
            && expires <= chrono::Utc::now() + chrono::Duration::hours(1)
    );

    // What a machine resolves is a token the provider accepts.
    let machine = resolver_token(&alice).await;
    let token = resolve_access_token(&machine, "alice").await;
    assert_eq!(userinfo_status(&server, &token).await, 200);

    // The same Google account as a new connection is a duplicate, and stores nothing...
    let (_, again) = connect(&server, &alice, "gmail", "Another name", "allow").await;
    assert_eq!(again, "/?oauth_error=duplicate");
    assert_eq!(credential_count(&alice).await, 1);
    // ...while reconnecting the credential replaces its tokens in place, under its own name.
    let (_, again) = connect_with(&server, &alice, json!({"s": "gmail", "r": id}), "allow").await;
    assert_eq!(connected_id(&again), id);
    let c = credential(&alice, &id).await;
    assert_eq!(c["name"], "Work mail");
    assert_eq!(c["secretVersion"], 2);
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(credential_count(&alice).await, 1);
    // A reconnect that signs in with another Google account changes nothing.
    server.simulator.set_oauth_behaviour(OAuthBehaviour {
        account: SimAccount::new("2", "Someone Else", "else@gmail.com"),
        ..OAuthBehaviour::default()
    });
    let (_, other) = connect_with(&server, &alice, json!({"s": "gmail", "r": id}), "allow").await;
    assert_eq!(other, "/?oauth_error=other_account");
    assert_eq!(credential(&alice, &id).await["secretVersion"], 2);
    // Someone who may edit every credential cannot reconnect Alice's: the account consented
    // to would be theirs (the flow was started, and consent asked, only to fail at the end).
    let root = server.admin("root").await;
    let carol = server.user("carol").await;
    root.ok(
        "mutation { grantPermission(userId: \"carol\", permission: CREDENTIALS_EDIT_ALL) { permissions } }",
        json!({}),
    )
    .await;
    let started = carol
        .gql(
            "mutation($r: ID) { startOAuthConnection(service: \"gmail\", reconnect: $r) { authorizationUrl } }",
            json!({"r": id}),
        )
        .await;
    assert_eq!(started.code(), "FORBIDDEN", "{:?}", started.body);
    assert!(
        started.message().contains("only its owner"),
        "{:?}",
        started.body
    );
    // A revoked credential is not reconnected: refused before anyone consents at Google.
    alice
        .ok(
            "mutation($id: ID!) { revokeCredential(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    let again = alice
        .gql(
            "mutation($r: ID) { startOAuthConnection(service: \"gmail\", reconnect: $r) { authorizationUrl } }",
            json!({"r": id}),
        )
        .await;
    assert_eq!(again.code(), "CONFLICT", "{:?}", again.body);
    server.running.stop().await.unwrap();
}
on_both_backends!(connecting_a_google_account_stores_an_active_primary_credential);

/// A Gmail credential added with `credledger credentials add` (tokens pasted, never checked)
/// has no account recorded: reconnecting it is accepted, whichever Google account signs in,
/// and records that account, rather than ending in `other_account` as if "no account" were
/// another account.
/// A Gmail credential of alice's with no account recorded: its tokens pasted with `credentials
/// add`, which checks nothing.
async fn pasted_gmail(env: &TestEnv, alice: &Client) -> String {
    let fields = env.dir.path().join("gmail-fields.json");
    std::fs::write(
        &fields,
        r#"{"access_token":"ya29.pasted","refresh_token":"1//pasted"}"#,
    )
    .unwrap();
    let out = env
        .cli()
        .args([
            "credentials",
            "add",
            "--user",
            "alice",
            "--service",
            "gmail",
        ])
        .args(["--name", "Pasted mail", "--fields-file"])
        .arg(&fields)
        .output()
        .unwrap();
    crate::support::assert_success(&out, "credentials add (gmail)");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    eventually("the added credential to be listed", || async {
        credential_count(alice).await == 1
    })
    .await;
    assert!(credential(alice, &id).await["account"].is_null());
    id
}

async fn reconnecting_a_credential_with_no_account_recorded_records_the_account(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let id = pasted_gmail(&env, &alice).await;
    let (_, landed) = connect_with(&server, &alice, json!({"s": "gmail", "r": id}), "allow").await;
    assert_eq!(connected_id(&landed), id);
    let c = credential(&alice, &id).await;
    assert_eq!(c["name"], "Pasted mail");
    assert_eq!(c["status"], "ACTIVE", "{c}");
    assert_eq!(c["secretVersion"], 2);
    let account = OAuthBehaviour::default().account;
    assert_eq!(c["account"]["id"], account.id.as_str());
    assert_eq!(c["account"]["email"], account.email.as_str());
    server.running.stop().await.unwrap();
}
on_both_backends!(reconnecting_a_credential_with_no_account_recorded_records_the_account);

async fn a_connection_without_a_name_is_named_after_the_account(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    // Another credential already has the account's email as its name.
    let email = OAuthBehaviour::default().account.email;
    let (_, landed) = connect(&server, &alice, "google_calendar", &email, "allow").await;
    connected_id(&landed);

    let (_, landed) = connect_with(&server, &alice, json!({"s": "gmail"}), "allow").await;
    let gmail = credential(&alice, &connected_id(&landed)).await;
    assert_eq!(gmail["name"], email.as_str());
    assert_eq!(gmail["status"], "ACTIVE");
    // Names are per service: the calendar's name does not count, and a taken one is suffixed.
    server.simulator.set_oauth_behaviour(OAuthBehaviour {
        account: SimAccount::new("g-other", "Other", email.clone()),
        ..OAuthBehaviour::default()
    });
    let (_, landed) = connect_with(&server, &alice, json!({"s": "gmail"}), "allow").await;
    let second = credential(&alice, &connected_id(&landed)).await;
    assert_eq!(second["name"], format!("{email} 2"));
}
on_both_backends!(a_connection_without_a_name_is_named_after_the_account);

async fn failed_flows_store_nothing(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let mallory = server.user("mallory").await;

    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "deny").await;
    assert_eq!(landed, "/?oauth_error=denied");

    // A consent answered, but the callback's state tampered with.
    let started = alice
        .ok(
            "mutation { startOAuthConnection(service: \"gmail\", name: \"Mail\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    let url = started["startOAuthConnection"]["authorizationUrl"]
        .as_str()
        .unwrap();
    let callback = answer_consent(&server, url, "allow").await;
    // The callback itself reads nothing and changes nothing: asked again and again, by anyone,
    // it only points on to the finish with the provider's answer and nothing else.
    let with_more = format!("{callback}&next=https://evil.example/&x=%22%3E%3Cscript%3E");
    let to = way_on(&server, &with_more).await;
    assert_eq!(to, way_on(&server, &callback).await);
    let passed: Vec<String> = url::Url::parse(&format!("{}{to}", server.base))
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(passed, ["state", "code"]);
    let too_long = format!("{}/oauth/callback?state={}", server.base, "s".repeat(3000));
    let refused = server.http.get(too_long).send().await.unwrap();
    assert_eq!(location(&refused), "/?oauth_error=flow");
    let tampered = callback.replacen("state=", "state=x", 1);
    assert_eq!(
        callback_as(&server, &alice, &tampered).await,
        "/?oauth_error=flow"
    );
    // The real state from another person's session is refused...
    assert_eq!(
        callback_as(&server, &mallory, &callback).await,
        "/?oauth_error=flow"
    );
    // ...and a state is good for one answer, whatever it was: gone for its owner too.
    assert_eq!(
        callback_as(&server, &alice, &callback).await,
        "/?oauth_error=flow"
    );

    // A flow completed once cannot be replayed.
    let (used, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    connected_id(&landed);
    assert_eq!(
        callback_as(&server, &alice, &used).await,
        "/?oauth_error=flow"
    );

    assert_eq!(credential_count(&alice).await, 1);
    assert_eq!(credential_count(&mallory).await, 0);
    server.running.stop().await.unwrap();
}
on_both_backends!(failed_flows_store_nothing);

async fn a_service_without_an_oauth_client_says_so_and_starts_no_flow(env: TestEnv) {
    // No OAuth client configured: the service says so and no flow starts.
    let server = env.server().await;
    let alice = server.user("alice").await;
    let services = alice
        .ok("{ services { key oauthAvailable } }", json!({}))
        .await;
    for s in services["services"].as_array().unwrap() {
        assert_eq!(s["oauthAvailable"], false, "{s}");
    }
    let answer = alice
        .gql(
            "mutation { startOAuthConnection(service: \"gmail\", name: \"Mail\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(answer.code(), "VALIDATION");
    assert!(
        answer.message().contains("not configured"),
        "{}",
        answer.message()
    );
    let notion = alice
        .gql(
            "mutation { startOAuthConnection(service: \"notion\", name: \"N\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(notion.code(), "VALIDATION");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_service_without_an_oauth_client_says_so_and_starts_no_flow);

async fn a_credential_whose_tokens_live_seconds_stays_usable_through_refreshes(env: TestEnv) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(5),
        ..OAuthBehaviour::default()
    };
    let jobs = JobSettings {
        mcp: crate::support::mcp::fast_sync(),
        ..refreshing_jobs()
    };
    let server = oauth_server(&env, behaviour, jobs).await;
    // An MCP server holding everyone's Gmail credentials.
    let mcp = RecordingMcpServer::start(vec![]).await.unwrap();
    crate::support::mcp::register_for_everyone(&server, &mcp, "gw", &["gmail"]).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    // For 60 seconds (twelve lifetimes), every token resolved is one Google accepts.
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tokens = std::collections::BTreeSet::new();
    while tokio::time::Instant::now() < until {
        let token = resolve_access_token(&machine, "alice").await;
        assert_eq!(
            userinfo_status(&server, &token).await,
            200,
            "a resolved token was refused"
        );
        tokens.insert(token);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(tokens.len() >= 12, "refreshed {} times", tokens.len() - 1);
    let refreshes = refreshes(&alice, &id).await;
    // One refresh per new token: every token resolved came from one recorded refresh.
    assert!(
        refreshes >= tokens.len() - 1,
        "{refreshes} refreshes for {} tokens",
        tokens.len()
    );
    let redemptions = server.simulator.oauth_redemptions();
    assert_eq!(redemptions.values().sum::<u32>() as usize, refreshes);
    assert_eq!(credential(&alice, &id).await["status"], "ACTIVE");
    // The MCP server received each new token (every token resolved, one for each refresh, was
    // sent to it), and holds the newest.
    let last = resolve_access_token(&machine, "alice").await;
    eventually("the MCP server's copy to hold the newest token", || async {
        mcp.credentials()
            .values()
            .any(|c| c["credential_data"]["access_token"] == last.as_str())
    })
    .await;
    let received: std::collections::BTreeSet<String> = mcp
        .applied()
        .iter()
        .filter_map(|a| a.body.as_ref()?["credential_data"]["access_token"].as_str())
        .map(str::to_owned)
        .collect();
    assert!(
        tokens.is_subset(&received),
        "tokens resolved but never sent to the MCP server: {:?}",
        tokens.difference(&received).count()
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(a_credential_whose_tokens_live_seconds_stays_usable_through_refreshes);

/// Google refuses the refresh token (the grant was revoked there) while the database cannot
/// record the expiry: the next need tries again, and the credential shows expired then, rather
/// than this instance never offering the token again and keeping the credential active.
async fn a_revocation_the_database_could_not_record_is_recorded_at_the_next_need(env: TestEnv) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(4),
        ..OAuthBehaviour::default()
    };
    let server = oauth_server(&env, behaviour, refreshing_on_demand_only(3)).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    server.simulator.revoke_all_oauth_grants();
    let pool = database_away_for(&env, "CredentialExpired").await;
    // Due now: the resolve's refresh is refused by Google, and the expiry by the database.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let resolve =
        "mutation { resolveCredential(userId: \"alice\", service: \"gmail\") { version } }";
    machine.gql(resolve, json!({})).await;
    assert_eq!(credential(&alice, &id).await["status"], "ACTIVE");
    crate::support::accept_events_again(&pool, env.backend).await;

    machine.gql(resolve, json!({})).await;

    // As the stream has it (the dashboard's read model may not show it yet).
    let keyring = credledger_domain::KeyringId::new(
        credledger_domain::UserId::parse("alice").unwrap(),
        credledger_domain::ServiceKey::parse("gmail").unwrap(),
    );
    let state = server.running.ledger.keyring(&keyring).await.unwrap();
    let c = state
        .credential(credledger_domain::CredentialId::parse(&id).unwrap())
        .unwrap();
    assert_eq!(
        c.status,
        credledger_domain::keyring::CredentialStatus::Expired
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(a_revocation_the_database_could_not_record_is_recorded_at_the_next_need);

/// A provider whose token answers leave out `expires_in`: the access token is taken to live an
/// hour, so it is refreshed before then like any other, rather than never (and resolved after
/// it died).
async fn a_token_answered_without_its_lifetime_is_taken_to_live_an_hour(env: TestEnv) {
    let behaviour = OAuthBehaviour {
        omit_expires_in: true,
        ..OAuthBehaviour::default()
    };
    let server = oauth_server(&env, behaviour, JobSettings::default()).await;
    let alice = server.user("alice").await;
    let before = chrono::Utc::now();
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;

    let c = credential(&alice, &connected_id(&landed)).await;
    let expires: chrono::DateTime<chrono::Utc> = c["tokenExpiresAt"]
        .as_str()
        .unwrap_or_else(|| panic!("no expiry: {c}"))
        .parse()
        .unwrap();
    let hour = chrono::TimeDelta::hours(1);
    assert!(
        expires >= before + hour && expires <= chrono::Utc::now() + hour,
        "{c}"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(a_token_answered_without_its_lifetime_is_taken_to_live_an_hour);

/// One Google account connected for Gmail and then for Calendar: the Calendar credential's
/// token covers the Calendar scopes only, not the mail scopes granted before (Google's
/// `include_granted_scopes` would join them), so what resolves Calendar cannot read mail.
async fn a_google_account_connected_for_two_services_gets_each_only_its_own_scopes(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let (_, mail) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    let (_, calendar) = connect(&server, &alice, "google_calendar", "Calendar", "allow").await;

    let scopes = |c: Value| -> Vec<String> {
        c["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let calendar = scopes(credential(&alice, &connected_id(&calendar)).await);
    assert!(
        calendar.iter().any(|s| s.ends_with("/auth/calendar")),
        "{calendar:?}"
    );
    assert!(
        !calendar.iter().any(|s| s.contains("gmail")),
        "{calendar:?}"
    );
    let mail = scopes(credential(&alice, &connected_id(&mail)).await);
    assert!(!mail.iter().any(|s| s.contains("calendar")), "{mail:?}");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_google_account_connected_for_two_services_gets_each_only_its_own_scopes);

/// The refresh token stays in the ledger: a resolve and an MCP server's copy get the access
/// token (kept fresh by the ledger), never the refresh token, with which a consumer could mint
/// tokens after its access is withdrawn.
async fn a_google_credentials_refresh_token_is_given_to_no_resolver_and_no_mcp_server(
    env: TestEnv,
) {
    let jobs = JobSettings {
        mcp: crate::support::mcp::fast_sync(),
        ..JobSettings::default()
    };
    let server = oauth_server(&env, OAuthBehaviour::default(), jobs).await;
    let mcp = RecordingMcpServer::start(vec![]).await.unwrap();
    crate::support::mcp::register_for_everyone(&server, &mcp, "gw", &["gmail"]).await;
    let alice = server.user("alice").await;
    connect(&server, &alice, "gmail", "Mail", "allow").await;
    let machine = resolver_token(&alice).await;

    let data = machine
        .ok(
            "mutation { resolveCredential(userId: \"alice\", service: \"gmail\") { fields } }",
            json!({}),
        )
        .await;
    let fields = data["resolveCredential"]["fields"].as_object().unwrap();
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["access_token"]);
    eventually("the MCP server's copy", || async {
        !mcp.credentials().is_empty()
    })
    .await;
    for applied in mcp.applied() {
        let Some(data) = applied.body.as_ref().map(|b| &b["credential_data"]) else {
            continue;
        };
        assert!(
            data.get("access_token").is_some(),
            "{:?}",
            data.as_object().map(|o| o.keys().collect::<Vec<_>>())
        );
        assert!(
            data.get("refresh_token").is_none(),
            "the MCP server was given the refresh token"
        );
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(a_google_credentials_refresh_token_is_given_to_no_resolver_and_no_mcp_server);

/// A Google credential nothing here refreshes (this deployment has no Google client; the
/// credential was pasted or imported) goes to its consumers with its refresh token, for them
/// to refresh with a client of their own: without it they would hold a dead token within the
/// hour.
async fn a_refresh_token_nothing_here_renews_is_given_to_consumers(env: TestEnv) {
    let jobs = JobSettings {
        mcp: crate::support::mcp::fast_sync(),
        ..JobSettings::default()
    };
    let server = env.server_with_jobs(|_| {}, jobs).await;
    let mcp = RecordingMcpServer::start(vec![]).await.unwrap();
    crate::support::mcp::register_for_everyone(&server, &mcp, "gw", &["gmail"]).await;
    let alice = server.user("alice").await;
    crate::support::register_with(
        &server.running.ledger,
        "alice",
        "gmail",
        "Mail",
        r#"{"access_token":"ya29.pasted","refresh_token":"1//pasted"}"#,
        Some(valid_until(
            "acct-mail",
            chrono::Utc::now() + chrono::Duration::hours(1),
        )),
        &crate::support::meta("alice"),
    )
    .await
    .unwrap();
    let machine = resolver_token(&alice).await;

    let data = machine
        .ok(
            "mutation { resolveCredential(userId: \"alice\", service: \"gmail\") { fields } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["resolveCredential"]["fields"]["refresh_token"],
        "1//pasted"
    );
    eventually("the MCP server's copy, with its refresh token", || async {
        mcp.credentials()
            .values()
            .any(|c| c["credential_data"]["refresh_token"] == "1//pasted")
    })
    .await;
    server.running.stop().await.unwrap();
}
on_both_backends!(a_refresh_token_nothing_here_renews_is_given_to_consumers);

/// Two instances on one PostgreSQL, rotating refresh tokens with reuse detection: each refresh
/// token is redeemed once, so no family is revoked, and every refresh is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_refreshing_rotating_tokens_redeem_each_refresh_token_once() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(4),
        rotate_refresh_tokens: true,
        ..OAuthBehaviour::default()
    };
    let simulator = ProviderSimulator::start().await.unwrap();
    simulator.set_oauth_behaviour(behaviour.clone());
    let mut second_settings = None;
    let server = env
        .server_with_simulator(
            simulator,
            |s, sim| {
                point_oauth(&env, s, sim);
                second_settings = Some(s.clone());
            },
            refreshing_jobs(),
        )
        .await;
    let second = Application::build_with_jobs(second_settings.unwrap(), refreshing_jobs())
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    let alice = server.user("alice").await;
    let mut ids = Vec::new();
    for (n, email) in ["ada@gmail.com", "grace@gmail.com", "hedy@gmail.com"]
        .iter()
        .enumerate()
    {
        server.simulator.set_oauth_behaviour(OAuthBehaviour {
            account: SimAccount::new(format!("10{n}"), format!("Person {n}"), *email),
            ..behaviour.clone()
        });
        let (_, landed) = connect(&server, &alice, "gmail", &format!("Mail {n}"), "allow").await;
        ids.push(connected_id(&landed));
    }
    // Both instances resolve while both run the refresh pass, for three lifetimes.
    let machine = resolver_token(&alice).await;
    let on_second = Client {
        base: format!("http://{}", second.address),
        ..machine.clone()
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    while tokio::time::Instant::now() < until {
        let (a, b) = tokio::join!(
            resolve_access_token(&machine, "alice"),
            resolve_access_token(&on_second, "alice")
        );
        assert_eq!(userinfo_status(&server, &a).await, 200);
        assert_eq!(userinfo_status(&server, &b).await, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let redemptions = server.simulator.oauth_redemptions();
    assert!(!redemptions.is_empty());
    assert!(
        redemptions.values().all(|n| *n == 1),
        "a refresh token was redeemed twice: {redemptions:?}"
    );
    let mut recorded = 0;
    for id in &ids {
        let c = credential(&alice, id).await;
        assert_eq!(c["status"], "ACTIVE", "{c}");
        recorded += refreshes(&alice, id).await;
    }
    assert_eq!(
        recorded,
        redemptions.len(),
        "one recorded refresh per redemption"
    );
    second.stop().await.unwrap();

    // The person removes the app's access at Google: the next refresh finds the grant gone.
    server.simulator.revoke_all_oauth_grants();
    for id in &ids {
        eventually("the revoked grant shows on the credential", || async {
            credential(&alice, id).await["status"] == "EXPIRED"
        })
        .await;
    }
    let out = env.cli().args(["ledger", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.running.stop().await.unwrap();
}

/// The authorization URL a connection of alice's to Gmail starts with.
async fn authorization_url(person: &Client) -> url::Url {
    let started = person
        .ok(
            "mutation { startOAuthConnection(service: \"gmail\", name: \"Mail\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    url::Url::parse(
        started["startOAuthConnection"]["authorizationUrl"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

/// `url` with its query parameter `name` set to `value`, or left out when `None`.
fn with_parameter(url: &url::Url, name: &str, value: Option<&str>) -> url::Url {
    let mut changed = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut query = changed.query_pairs_mut();
        query.clear().extend_pairs(pairs);
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    changed
}

async fn google_refuses_a_redirect_uri_its_client_did_not_register(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let url = authorization_url(&alice).await;
    // The server's own callback is the one registered: Google shows its consent page.
    let page = server.http.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // Any other, even the same path with a slash more, is refused on Google's page.
    let callback = format!("{}/oauth/callback", server.base);
    for other in [
        format!("{callback}/"),
        "http://127.0.0.1:1/oauth/callback".into(),
    ] {
        let refused = with_parameter(&url, "redirect_uri", Some(&other));
        let page = server.http.get(refused).send().await.unwrap();
        assert_eq!(page.status(), 400, "{other}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Error 400: redirect_uri_mismatch"), "{html}");
    }
    // A code is redeemed only with the redirect URI it was given for.
    let code = url::Url::parse(&answer_consent(&server, url.as_str(), "allow").await)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let exchanged = server
        .http
        .post(format!("{}/token", server.simulator.oauth_origin()))
        .basic_auth(DEMO_OAUTH_CLIENT_ID, Some(DEMO_OAUTH_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &format!("{callback}/")),
            ("code_verifier", &"v".repeat(43)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 400);
    let answer: Value = exchanged.json().await.unwrap();
    assert_eq!(answer["error"], "redirect_uri_mismatch", "{answer}");
    assert_eq!(credential_count(&alice).await, 0);
    server.running.stop().await.unwrap();
}
on_both_backends!(google_refuses_a_redirect_uri_its_client_did_not_register);

async fn an_authorization_without_a_scope_is_refused_on_googles_page(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let url = authorization_url(&alice).await;
    for scope in [None, Some(""), Some(" ")] {
        let page = server
            .http
            .get(with_parameter(&url, "scope", scope))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "scope {scope:?}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Missing required parameter: scope"), "{html}");
    }
    server.running.stop().await.unwrap();
}
on_both_backends!(an_authorization_without_a_scope_is_refused_on_googles_page);

/// Google gives a refresh token at the code exchange only to an authorization that asked
/// `access_type=offline`: a catalog entry without it ends the connection with
/// `no_refresh_token`, and nothing is recorded.
async fn a_flow_without_offline_access_ends_with_no_refresh_token_and_records_nothing(
    env: TestEnv,
) {
    let simulator = ProviderSimulator::start().await.unwrap();
    let server = env
        .server_with_simulator(
            simulator,
            |settings, sim| {
                point_oauth(&env, settings, sim);
                change_oauth_flow(settings, "gmail", |flow| {
                    flow["authorization_params"]
                        .as_object_mut()
                        .unwrap()
                        .remove("access_type");
                });
            },
            JobSettings::default(),
        )
        .await;
    let alice = server.user("alice").await;
    let url = authorization_url(&alice).await;
    assert!(url.query_pairs().all(|(k, _)| k != "access_type"), "{url}");
    let pool = env.any_pool().await;
    let events = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = events().await;
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    assert_eq!(landed, "/?oauth_error=no_refresh_token");
    assert_eq!(credential_count(&alice).await, 0);
    assert_eq!(events().await, before, "an event was recorded");
    server.running.stop().await.unwrap();
}
on_both_backends!(a_flow_without_offline_access_ends_with_no_refresh_token_and_records_nothing);

/// Google's consent screen with a scope unticked (granular consent) for Gmail.
fn gmail_send_unticked() -> OAuthBehaviour {
    OAuthBehaviour {
        unticked_scopes: vec!["https://www.googleapis.com/auth/gmail.send".into()],
        ..OAuthBehaviour::default()
    }
}

/// The person unticks a scope on Google's consent screen (granular consent): the grant lacks
/// a scope the service needs, so the connection ends with `missing_scopes`, nothing is
/// recorded, and the grant Google issued is revoked there before the person is sent back (no
/// account's credential holds it), rather than left good at Google with nothing here to end it.
/// Google answers `email` and `profile` by their long names, which count as asked.
async fn a_grant_without_a_scope_the_service_asks_for_is_refused_revoked_at_google_and_records_nothing(
    env: TestEnv,
) {
    let server = oauth_server(&env, gmail_send_unticked(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let pool = env.any_pool().await;
    let events = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = events().await;
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    assert_eq!(landed, "/?oauth_error=missing_scopes");
    assert_eq!(credential_count(&alice).await, 0);
    assert_eq!(events().await, before, "an event was recorded");
    assert_eq!(server.simulator.oauth_revocation_requests(), 1);
    assert_eq!(
        server.simulator.oauth_revocations(),
        1,
        "the grant is good at Google"
    );

    // Every scope granted (`email` and `profile` answered by their long names): connected,
    // and the new grant is left alone.
    server
        .simulator
        .set_oauth_behaviour(OAuthBehaviour::default());
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    connected_id(&landed);
    let machine = resolver_token(&alice).await;
    let token = resolve_access_token(&machine, "alice").await;
    assert_eq!(userinfo_status(&server, &token).await, 200);
    assert_eq!(server.simulator.oauth_revocation_requests(), 1);
    server.running.stop().await.unwrap();
}
on_both_backends!(
    a_grant_without_a_scope_the_service_asks_for_is_refused_revoked_at_google_and_records_nothing
);

/// A Gmail grant refused for an unticked scope, of a Google account already connected for
/// Calendar: not revoked at Google, which would end the client's whole grant for the account
/// and cut Calendar off with it.
async fn a_refused_grant_of_an_account_connected_for_another_service_is_not_revoked_at_google(
    env: TestEnv,
) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let (_, calendar) = connect(&server, &alice, "google_calendar", "Calendar", "allow").await;
    let calendar = connected_id(&calendar);
    eventually("Calendar to be listed", || async {
        credential_count(&alice).await == 1
    })
    .await;
    server.simulator.set_oauth_behaviour(gmail_send_unticked());
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    assert_eq!(landed, "/?oauth_error=missing_scopes");
    assert_eq!(server.simulator.oauth_revocation_requests(), 0);
    let revealed = alice
        .ok(
            "mutation($id: ID!) { revealCredential(id: $id) { fields } }",
            json!({"id": calendar}),
        )
        .await;
    let token = revealed["revealCredential"]["fields"]["access_token"]
        .as_str()
        .unwrap();
    assert_eq!(userinfo_status(&server, token).await, 200);
    server.running.stop().await.unwrap();
}
on_both_backends!(
    a_refused_grant_of_an_account_connected_for_another_service_is_not_revoked_at_google
);

/// A credential with no account recorded (pasted, never checked) may hold the account a refused
/// grant signs in with: revoking the grant would end its tokens at Google too, so it is not
/// revoked, whether the refused flow reconnects that credential or connects another.
async fn a_refused_grant_is_not_revoked_while_a_credential_with_no_account_recorded_lives(
    env: TestEnv,
) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let alice = server.user("alice").await;
    let id = pasted_gmail(&env, &alice).await;
    server.simulator.set_oauth_behaviour(gmail_send_unticked());
    let (_, landed) = connect_with(&server, &alice, json!({"s": "gmail", "r": id}), "allow").await;
    assert_eq!(landed, "/?oauth_error=missing_scopes");
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    assert_eq!(landed, "/?oauth_error=missing_scopes");
    assert_eq!(server.simulator.oauth_revocation_requests(), 0);
    server.running.stop().await.unwrap();
}
on_both_backends!(a_refused_grant_is_not_revoked_while_a_credential_with_no_account_recorded_lives);

async fn deleting_a_google_credential_revokes_its_grant_at_google(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    let token = resolve_access_token(&machine, "alice").await;
    alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": id}),
        )
        .await;
    eventually("the grant is revoked at Google", || async {
        server.simulator.oauth_revocations() == 1
    })
    .await;
    assert_eq!(userinfo_status(&server, &token).await, 401);
    server.running.stop().await.unwrap();
}
on_both_backends!(deleting_a_google_credential_revokes_its_grant_at_google);

/// One Google account connected for Gmail and for Calendar shares one grant at Google, which
/// revokes the client's whole grant for the account whichever token is sent: deleting Gmail
/// leaves it alone (Calendar keeps refreshing), and deleting the last one revokes it.
async fn deleting_one_of_two_credentials_of_a_google_account_leaves_the_other_connected(
    env: TestEnv,
) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(4),
        ..OAuthBehaviour::default()
    };
    let server = oauth_server(&env, behaviour, refreshing_jobs()).await;
    let alice = server.user("alice").await;
    let (_, mail) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    let (_, calendar) = connect(&server, &alice, "google_calendar", "Calendar", "allow").await;
    let (mail, calendar) = (connected_id(&mail), connected_id(&calendar));
    let delete = |id: String| {
        let alice = alice.clone();
        async move {
            alice
                .ok(
                    "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
                    json!({"id": id}),
                )
                .await;
        }
    };
    delete(mail).await;
    let before = refreshes(&alice, &calendar).await;
    // Two refreshes after the deletion: the second redeemed after any revocation it sent.
    eventually("Calendar to be refreshed twice more", || async {
        refreshes(&alice, &calendar).await >= before + 2
    })
    .await;
    let c = credential(&alice, &calendar).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    assert_eq!(server.simulator.oauth_revocation_requests(), 0);

    delete(calendar).await;
    eventually("the grant is revoked at Google", || async {
        server.simulator.oauth_revocations() == 1
    })
    .await;
    server.running.stop().await.unwrap();
}
on_both_backends!(deleting_one_of_two_credentials_of_a_google_account_leaves_the_other_connected);

/// The person removed the app's access at Google first: Google answers the revocation
/// `invalid_token`, which leaves nothing to revoke, so it is not tried again.
async fn deleting_a_credential_whose_grant_google_already_revoked_asks_google_once(env: TestEnv) {
    let server = oauth_server(&env, OAuthBehaviour::default(), JobSettings::default()).await;
    let (alice, id, _) = alice_with_gmail(&server).await;
    server.simulator.revoke_all_oauth_grants();
    let deleted = alice
        .ok(
            "mutation($id: ID!) { deleteCredential(id: $id) { deletedId } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(deleted["deleteCredential"]["deletedId"], id.as_str());
    eventually("the revocation is asked at Google", || async {
        server.simulator.oauth_revocation_requests() == 1
    })
    .await;
    // Past the first retry's wait (2 s): no second request came.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.simulator.oauth_revocation_requests(), 1);
    assert_eq!(server.simulator.oauth_revocations(), 0);
    server.running.stop().await.unwrap();
}
on_both_backends!(deleting_a_credential_whose_grant_google_already_revoked_asks_google_once);

/// With an OAuth client, no public URL and a wildcard listen address, the callback would be
/// `http://0.0.0.0:…/oauth/callback`, which no provider accepts: `serve` does not start, and
/// names the setting that fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_wildcard_address_without_a_public_url_when_oauth_is_configured() {
    let env = TestEnv::sqlite().await;
    let mut serve = env
        .cli()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env("CREDLEDGER_OAUTH_GOOGLE_CLIENT_ID", DEMO_OAUTH_CLIENT_ID)
        .env(
            "CREDLEDGER_OAUTH_GOOGLE_CLIENT_SECRET",
            DEMO_OAUTH_CLIENT_SECRET,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            serve.kill().unwrap();
            serve.wait().unwrap();
            panic!("serve started on 0.0.0.0 without a public URL");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "{said}");
    assert!(said.contains("CREDLEDGER_PUBLIC_URL"), "{said}");
    assert!(said.contains("http://0.0.0.0:"), "{said}");
    // The same on IPv6's wildcard; with a public URL, or without an OAuth client, it starts.
    let google = |settings: &mut Settings| {
        settings.oauth_clients.insert(
            "google".into(),
            OAuthClient {
                id: DEMO_OAUTH_CLIENT_ID.into(),
                secret: Some(DEMO_OAUTH_CLIENT_SECRET.into()),
            },
        );
    };
    let mut settings = env.settings();
    google(&mut settings);
    settings.bind = "[::]:0".into();
    match Application::build(settings.clone()).await {
        Ok(_) => panic!("built on [::] without a public URL"),
        // A machine without IPv6 has no [::] to refuse.
        Err(e) if e.to_string().starts_with("could not listen") => {}
        Err(e) => assert!(e.to_string().contains("CREDLEDGER_PUBLIC_URL"), "{e}"),
    }
    settings.bind = "0.0.0.0:0".into();
    // A public URL Google would send codes to in clear, or that is no URL, is refused at start.
    for bad in ["http://creds.example.com", "creds.example.com"] {
        settings.public_url = Some(bad.into());
        match Application::build(settings.clone()).await {
            Ok(_) => panic!("built with the public URL {bad}"),
            Err(e) => assert!(
                e.to_string()
                    .starts_with("CREDLEDGER_PUBLIC_URL (`public_url`) must be"),
                "{bad}: {e}"
            ),
        }
    }
    settings.public_url = Some("https://creds.example.com".into());
    let built = Application::build(settings).await.unwrap();
    assert_eq!(
        built.oauth_callback_url(),
        "https://creds.example.com/oauth/callback"
    );
    drop(built);
    let mut settings = env.settings();
    settings.bind = "0.0.0.0:0".into();
    Application::build(settings).await.unwrap();
}

/// A second OAuth provider is a catalog entry and a client, no code: an Atlassian-style flow
/// whose refresh tokens rotate, against the simulator.
async fn a_second_oauth_provider_with_rotating_refresh_tokens_is_a_catalog_entry_and_a_client(
    env: TestEnv,
) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(4),
        rotate_refresh_tokens: true,
        ..OAuthBehaviour::default()
    };
    let simulator = ProviderSimulator::start().await.unwrap();
    simulator.set_oauth_behaviour(behaviour);
    let server = env
        .server_with_simulator(
            simulator,
            |settings, sim| {
                point_oauth(&env, settings, sim);
                // The new service: the gmail entry's shape under another key and provider, its
                // identity read by the same kind of probe.
                let path = settings.catalog_file.clone().unwrap();
                let mut file: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let services = file["services"].as_array_mut().unwrap();
                let mut entry = services
                    .iter()
                    .find(|s| s["key"] == "gmail")
                    .unwrap()
                    .clone();
                entry["key"] = json!("jira_cloud");
                entry["display_name"] = json!("Jira Cloud");
                entry["oauth"]["provider"] = json!("atlassian");
                entry["oauth"]["scopes"] = json!(["read:jira-user", "offline_access"]);
                // `access_type=offline` for the simulator, which is Google's and gives a
                // refresh token only then (Atlassian's own asks with the `offline_access` scope).
                entry["oauth"]["authorization_params"] = json!({
                    "audience": "api.atlassian.com",
                    "prompt": "consent",
                    "access_type": "offline",
                });
                entry["oauth"]["refresh_tokens_rotate"] = json!(true);
                services.push(entry);
                std::fs::write(&path, file.to_string()).unwrap();
                settings.oauth_clients.insert(
                    "atlassian".into(),
                    OAuthClient {
                        id: DEMO_OAUTH_CLIENT_ID.into(),
                        secret: Some(DEMO_OAUTH_CLIENT_SECRET.into()),
                    },
                );
            },
            refreshing_jobs(),
        )
        .await;
    let alice = server.user("alice").await;
    let started = alice
        .ok(
            "mutation { startOAuthConnection(service: \"jira_cloud\", name: \"Jira\") { authorizationUrl } }",
            json!({}),
        )
        .await;
    let url = started["startOAuthConnection"]["authorizationUrl"]
        .as_str()
        .unwrap();
    assert!(url.contains("audience=api.atlassian.com"), "{url}");
    let (_, landed) = connect(&server, &alice, "jira_cloud", "Jira", "allow").await;
    let id = connected_id(&landed);
    assert_eq!(credential(&alice, &id).await["status"], "ACTIVE");
    // Three lifetimes of rotating refreshes: each refresh token redeemed once, still active.
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    let mut versions = std::collections::BTreeSet::new();
    while tokio::time::Instant::now() < until {
        versions.insert(
            credential(&alice, &id).await["secretVersion"]
                .as_i64()
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        versions.len() >= 3,
        "refreshed through versions {versions:?}"
    );
    let redemptions = server.simulator.oauth_redemptions();
    assert!(redemptions.values().all(|n| *n == 1), "{redemptions:?}");
    assert_eq!(credential(&alice, &id).await["status"], "ACTIVE");
    server.running.stop().await.unwrap();
}
on_both_backends!(
    a_second_oauth_provider_with_rotating_refresh_tokens_is_a_catalog_entry_and_a_client
);

/// Alice's Gmail, connected with a token living 3 s, the expiry job looking each second; from
/// then on Google takes 5 s to answer a refresh, with a token that lives an hour.
async fn gmail_whose_refresh_is_answered_after_it_expired(
    env: &TestEnv,
) -> (Server, Client, String) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(3),
        ..OAuthBehaviour::default()
    };
    let jobs = JobSettings {
        poll: Duration::from_millis(50),
        expiry_interval: Duration::from_secs(1),
        ..refreshing_jobs()
    };
    let server = oauth_server(env, behaviour, jobs).await;
    let alice = server.user("alice").await;
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    let id = connected_id(&landed);
    server.simulator.set_oauth_behaviour(OAuthBehaviour {
        refresh_delay: Duration::from_secs(5),
        ..OAuthBehaviour::default()
    });
    (server, alice, id)
}

/// A refresh the provider answers only after the token it replaces has expired: the expiry job
/// marks the credential expired meanwhile, and the recorded refresh makes it active again at
/// once (its new token checked), not an hour later when the new token is due in its turn.
async fn a_refresh_answered_after_the_old_token_expired_leaves_the_credential_active(env: TestEnv) {
    let (server, alice, id) = gmail_whose_refresh_is_answered_after_it_expired(&env).await;
    eventually(
        "the credential to expire while its refresh waits",
        || async { credential(&alice, &id).await["status"] == "EXPIRED" },
    )
    .await;
    eventually("the refresh to be recorded", || async {
        refreshes(&alice, &id).await > 0
    })
    .await;
    eventually("the refreshed credential to be active", || async {
        credential(&alice, &id).await["status"] == "ACTIVE"
    })
    .await;
    server.running.stop().await.unwrap();
}
on_both_backends!(a_refresh_answered_after_the_old_token_expired_leaves_the_credential_active);

/// A refresh answered after the credential expired, and the check of its new token cannot be
/// made (Google's userinfo answers 500): the credential holds a good token while expired, so
/// the pass checks it again (without redeeming again) until the check answers, and it becomes
/// active, not left expired until its new token is due an hour later.
async fn an_expired_credential_whose_check_after_its_refresh_could_not_be_made_is_checked_again(
    env: TestEnv,
) {
    let (server, alice, id) = gmail_whose_refresh_is_answered_after_it_expired(&env).await;
    server
        .simulator
        .set_fault("gmail", credledger_adapters::simulator::Fault::ServerError);
    eventually("the refresh to be recorded", || async {
        refreshes(&alice, &id).await > 0
    })
    .await;
    assert_eq!(credential(&alice, &id).await["status"], "EXPIRED");
    server.simulator.clear_fault("gmail");
    eventually("the credential to be active", || async {
        credential(&alice, &id).await["status"] == "ACTIVE"
    })
    .await;
    assert_eq!(refreshes(&alice, &id).await, 1, "redeemed again");
    server.running.stop().await.unwrap();
}
on_both_backends!(
    an_expired_credential_whose_check_after_its_refresh_could_not_be_made_is_checked_again
);

/// While Google's userinfo keeps failing, resolves of an expired credential holding a token
/// still good do not each check it again: after a check that could not be made, a need waits
/// for the pass's interval, a minute at most, before the next, so ten resolves send Google's
/// userinfo nothing more (the pass checks it again at each run).
async fn resolves_during_a_userinfo_outage_do_not_each_check_an_expired_credential_again(
    env: TestEnv,
) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(3),
        ..OAuthBehaviour::default()
    };
    let jobs = JobSettings {
        poll: Duration::from_millis(50),
        expiry_interval: Duration::from_secs(1),
        ..refreshing_on_demand_only(2)
    };
    let server = oauth_server(&env, behaviour, jobs).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    // Tokens given from now on live an hour: the refresh below is not due again.
    server
        .simulator
        .set_oauth_behaviour(OAuthBehaviour::default());
    eventually("the credential to expire", || async {
        credential(&alice, &id).await["status"] == "EXPIRED"
    })
    .await;
    server
        .simulator
        .set_fault("gmail", credledger_adapters::simulator::Fault::ServerError);
    // Redeemed and recorded; the check of the new token cannot be made.
    machine.gql(RESOLVE_ALICES_GMAIL, json!({})).await;
    assert_eq!(refreshes(&alice, &id).await, 1);
    assert_eq!(credential(&alice, &id).await["status"], "EXPIRED");
    let checked = server.simulator.requests("gmail");
    assert!(checked > 0, "the new token was not checked");
    // Past the least spacing between two refreshes of one credential (a second), after which
    // a need would check it again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..10 {
        let answer = machine.gql(RESOLVE_ALICES_GMAIL, json!({})).await;
        assert!(answer.body["errors"].is_array(), "{}", answer.body);
    }
    assert_eq!(server.simulator.requests("gmail"), checked);
    assert_eq!(refreshes(&alice, &id).await, 1, "redeemed again");
    assert_eq!(credential(&alice, &id).await["status"], "EXPIRED");
    server.running.stop().await.unwrap();
}
on_both_backends!(resolves_during_a_userinfo_outage_do_not_each_check_an_expired_credential_again);

/// While Google's token endpoint fails, resolves of a credential whose token is due do not each
/// try to redeem its refresh token again: after a redemption that failed (other than by a
/// refusal), a need waits for the pass's interval, a minute at most, before the next, so ten
/// resolves send the token endpoint nothing more and record nothing, and each still answers
/// with the token the credential holds, good for a while yet. The pass tries again at each
/// run, and refreshes the token once the token endpoint answers.
async fn resolves_during_a_token_endpoint_outage_do_not_each_redeem_again(env: TestEnv) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(30),
        ..OAuthBehaviour::default()
    };
    // Due as soon as connected: the token expires within the margin.
    let server = oauth_server(&env, behaviour.clone(), refreshing_on_demand_only(60)).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    server.simulator.set_oauth_behaviour(OAuthBehaviour {
        refresh_unavailable: true,
        ..behaviour.clone()
    });
    let redemptions = || server.simulator.oauth_redemptions().values().sum::<u32>();
    let recorded = recorded_changes(&env).await;
    // Past the least spacing between two refreshes of one credential (a second).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = machine.gql(RESOLVE_ALICES_GMAIL, json!({})).await;
    let held = first.body["data"]["resolveCredential"]["fields"]["access_token"].clone();
    assert!(held.is_string(), "{}", first.body);
    let tried = redemptions();
    assert_eq!(tried, 1, "the due token was not redeemed");
    for _ in 0..10 {
        let answer = machine.gql(RESOLVE_ALICES_GMAIL, json!({})).await;
        assert_eq!(
            answer.body["data"]["resolveCredential"]["fields"]["access_token"], held,
            "{}",
            answer.body
        );
    }
    assert_eq!(redemptions(), tried, "redeemed again at a resolve");
    // The pass still tries at its run, and the failures recorded nothing.
    assert_eq!(server.running.api.tokens.pass().await, 0);
    assert_eq!(redemptions(), tried + 1, "the pass did not try again");
    assert_eq!(
        recorded_changes(&env).await,
        recorded,
        "a failure was recorded"
    );
    assert_eq!(credential(&alice, &id).await["status"], "ACTIVE");
    // Google answers again: the pass refreshes the token, and resolves disclose the new one.
    server.simulator.set_oauth_behaviour(behaviour);
    assert_eq!(server.running.api.tokens.pass().await, 1, "not refreshed");
    assert_eq!(redemptions(), tried + 2);
    let mut refreshed = recorded;
    *refreshed.entry("OAuthTokenRefreshed".into()).or_default() += 1;
    assert_eq!(recorded_changes(&env).await, refreshed);
    assert_ne!(
        resolve_access_token(&machine, "alice").await,
        held.as_str().unwrap()
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(resolves_during_a_token_endpoint_outage_do_not_each_redeem_again);

/// A refresh the database could not record for a while, the credential marked expired
/// meanwhile: the kept tokens are recorded once the database is back (their access token has
/// expired by then), and the credential is refreshed again and becomes active, not checked
/// with the dead access token and called invalid (which nothing would ever undo). PostgreSQL
/// only (as `a_refresh_the_database_could_not_record_is_recorded_later_without_redeeming_again`):
/// a refusal on SQLite is an abort, not the database away, and is not kept for later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kept_tokens_recorded_after_an_outage_leave_an_expired_credential_active_not_invalid() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(3),
        ..OAuthBehaviour::default()
    };
    let jobs = JobSettings {
        poll: Duration::from_millis(50),
        expiry_interval: Duration::from_secs(1),
        ..refreshing_jobs()
    };
    let server = oauth_server(&env, behaviour, jobs).await;
    let alice = server.user("alice").await;
    let pool = database_away_for(&env, "OAuthTokenRefreshed").await;
    let (_, landed) = connect(&server, &alice, "gmail", "Mail", "allow").await;
    let id = connected_id(&landed);
    eventually("a refresh to be redeemed and not recorded", || async {
        !server.simulator.oauth_redemptions().is_empty()
    })
    .await;
    eventually("the credential to expire", || async {
        credential(&alice, &id).await["status"] == "EXPIRED"
    })
    .await;
    // Past the record's tries (1 + 2 + 4 s) and the kept access token's life (3 s).
    tokio::time::sleep(Duration::from_secs(8)).await;
    crate::support::accept_events_again(&pool, env.backend).await;
    eventually("the credential to leave EXPIRED", || async {
        credential(&alice, &id).await["status"] != "EXPIRED"
    })
    .await;
    let c = credential(&alice, &id).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    server.running.stop().await.unwrap();
}

/// Tokens that live no longer than the refresh margin (3 s against 10 s) are refreshed at half
/// their lifetime, not at every need: each refresh is a redemption at the provider and an event
/// in the ledger.
async fn tokens_living_less_than_the_margin_are_refreshed_at_half_their_lifetime_not_at_every_need(
    env: TestEnv,
) {
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(3),
        ..OAuthBehaviour::default()
    };
    let jobs = refreshing_on_demand_only(10);
    let server = oauth_server(&env, behaviour, jobs).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    let mut resolved = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < until {
        let token = resolve_access_token(&machine, "alice").await;
        assert_eq!(userinfo_status(&server, &token).await, 200);
        resolved += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshes = refreshes(&alice, &id).await;
    // The first need refreshes (the connection's token says nothing of its lifetime), then one
    // every 1.5 s: about five in 6 s.
    assert!(
        (2..=8).contains(&refreshes),
        "{refreshes} refreshes for {resolved} resolves"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(
    tokens_living_less_than_the_margin_are_refreshed_at_half_their_lifetime_not_at_every_need
);

/// A provider whose tokens say they live no time at all (`expires_in: 0`): each need does not
/// redeem and record a new token; refreshes are spaced a second apart at the least.
async fn tokens_said_to_live_no_time_are_refreshed_at_most_once_a_second(env: TestEnv) {
    let behaviour = OAuthBehaviour {
        // Said as `expires_in: 0` (whole seconds).
        token_lifetime: Duration::from_millis(900),
        ..OAuthBehaviour::default()
    };
    let server = oauth_server(&env, behaviour, refreshing_on_demand_only(1)).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    let started = tokio::time::Instant::now();
    let mut resolved = 0;
    while started.elapsed() < Duration::from_secs(2) {
        resolve_access_token(&machine, "alice").await;
        resolved += 1;
    }
    let seconds = started.elapsed().as_secs_f64().ceil() as usize;
    let refreshes = refreshes(&alice, &id).await;
    assert!(
        refreshes <= seconds + 1,
        "{refreshes} refreshes for {resolved} resolves in {seconds} s"
    );
    server.running.stop().await.unwrap();
}
on_both_backends!(tokens_said_to_live_no_time_are_refreshed_at_most_once_a_second);

/// What an OAuth refresh pass lists comes active first: an expired credential with an older
/// expiry (as those nobody reconnects keep) never takes an active one's place within the limit.
async fn the_refresh_list_puts_active_tokens_before_expired_ones(env: TestEnv) {
    let ledger = env.ledger().await;
    let now = chrono::Utc::now();
    let old = crate::support::register_with(
        &ledger,
        "alice",
        "notion",
        "Lapsed",
        r#"{"token":"ntn_refresh_order_lapsed_000000000"}"#,
        Some(valid_until("acct-old", now - chrono::Duration::days(30))),
        &crate::support::meta("alice"),
    )
    .await
    .unwrap();
    ledger
        .mark_expired(&old.to_string(), now, &crate::support::meta("scheduler"))
        .await
        .unwrap();
    let active = crate::support::register_with(
        &ledger,
        "alice",
        "notion",
        "Live",
        r#"{"token":"ntn_refresh_order_live_00000000000"}"#,
        Some(valid_until("acct-live", now + chrono::Duration::minutes(2))),
        &crate::support::meta("alice"),
    )
    .await
    .unwrap();
    ledger.projections.catch_up().await.unwrap();
    let until = credledger_adapters::db::timestamp(now + chrono::Duration::minutes(5));
    let pool = env.any_pool().await;
    let listed = credledger_projections::credential_summary::expiring_or_expired(&pool, &until, 1)
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.credential_id.as_str()).collect();
    assert_eq!(ids, [active.to_string().as_str()]);
    let both = credledger_projections::credential_summary::expiring_or_expired(&pool, &until, 10)
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
}
on_both_backends!(the_refresh_list_puts_active_tokens_before_expired_ones);

/// A refresh the database cannot record for a while (PostgreSQL answering "cannot connect
/// now" to its event): the rotated tokens the provider gave are kept and recorded once the
/// database takes them, and the spent refresh token is never redeemed again (with reuse
/// detection that would revoke the grant, and the credential would end expired).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_the_database_could_not_record_is_recorded_later_without_redeeming_again() {
    let Some(env) = TestEnv::postgres().await else {
        return;
    };
    let behaviour = OAuthBehaviour {
        token_lifetime: Duration::from_secs(4),
        rotate_refresh_tokens: true,
        ..OAuthBehaviour::default()
    };
    let jobs = refreshing_on_demand_only(3);
    let server = oauth_server(&env, behaviour, jobs).await;
    let (alice, id, machine) = alice_with_gmail(&server).await;
    let pool = database_away_for(&env, "OAuthTokenRefreshed").await;
    // Due now: the resolve redeems the refresh token, and its record is refused throughout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    resolve_access_token(&machine, "alice").await;
    let redeemed = server.simulator.oauth_redemptions();
    assert_eq!(redeemed.values().copied().collect::<Vec<_>>(), [1]);
    crate::support::accept_events_again(&pool, env.backend).await;
    // The database is back: the next need records the kept tokens (their access token has
    // expired meanwhile, so it then redeems the rotated refresh token they hold, once).
    let token = resolve_access_token(&machine, "alice").await;
    let after = server.simulator.oauth_redemptions();
    for (spent, n) in &redeemed {
        assert_eq!(
            after.get(spent),
            Some(n),
            "the spent token was redeemed again"
        );
    }
    assert!(after.values().all(|n| *n == 1), "{after:?}");
    assert_eq!(userinfo_status(&server, &token).await, 200);
    let c = credential(&alice, &id).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    server.running.stop().await.unwrap();
}
