//! Given/when/then tests of the `McpServer` aggregate and its value types.

use super::{
    Authority, BaseUrl, McpGrant, McpServer, McpServerCommand, McpServerError, McpServerEvent,
    McpServerId, McpServerName, McpServerServices,
};
use crate::{Catalog, InputError, ServiceKey, UserId};
use cqrs_es::test::{AggregateResultValidator, AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use std::collections::BTreeSet;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn services() -> McpServerServices {
    McpServerServices {
        catalog: Arc::new(Catalog::builtin()),
    }
}

fn given(events: Vec<McpServerEvent>) -> AggregateTestExecutor<McpServer> {
    TestFramework::<McpServer>::with(services()).given(events)
}

fn given_nothing() -> AggregateTestExecutor<McpServer> {
    TestFramework::<McpServer>::with(services()).given_no_previous_events()
}

/// The server the events describe.
fn state(events: &[McpServerEvent]) -> McpServer {
    let mut server = McpServer::default();
    for event in events {
        server.apply(event.clone());
    }
    server
}

/// The events of a command that must succeed.
fn events_of(validator: AggregateResultValidator<McpServer>) -> Vec<McpServerEvent> {
    validator
        .inspect_result()
        .unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

fn concat(parts: Vec<Vec<McpServerEvent>>) -> Vec<McpServerEvent> {
    parts.into_iter().flatten().collect()
}

fn server_id() -> McpServerId {
    McpServerId::parse("mcp-gateway").expect("server id")
}

fn server_name() -> McpServerName {
    McpServerName::parse("MCP gateway").expect("server name")
}

fn url(value: &str) -> BaseUrl {
    BaseUrl::parse(value).expect("base url")
}

fn user(value: &str) -> UserId {
    UserId::parse(value).expect("user id")
}

fn service(key: &str) -> ServiceKey {
    ServiceKey::parse(key).expect("service key")
}

fn service_set(keys: &[&str]) -> BTreeSet<ServiceKey> {
    keys.iter().map(|k| service(k)).collect()
}

// Commands.

fn register(allowed: &[&str], serves_all_users: bool) -> McpServerCommand {
    McpServerCommand::RegisterMcpServer {
        by: Authority::Operator,
        server_id: server_id(),
        name: server_name(),
        base_url: url("https://mcp.acme.io"),
        allowed_services: service_set(allowed),
        serves_all_users,
    }
}

fn change_services(allowed: &[&str]) -> McpServerCommand {
    McpServerCommand::ChangeMcpServer {
        by: Authority::Operator,
        allowed_services: Some(service_set(allowed)),
        serves_all_users: None,
        base_url: None,
    }
}

fn grant(user_id: &str, service_key: &str) -> McpServerCommand {
    McpServerCommand::GrantMcpAccess {
        user_id: user(user_id),
        service: service(service_key),
    }
}

fn withdraw(user_id: &str, service_key: &str) -> McpServerCommand {
    McpServerCommand::WithdrawMcpAccess {
        user_id: user(user_id),
        service: service(service_key),
    }
}

// Events.

fn registered(allowed: &[&str], serves_all_users: bool) -> McpServerEvent {
    McpServerEvent::McpServerRegistered {
        server_id: server_id(),
        name: server_name(),
        base_url: url("https://mcp.acme.io"),
        allowed_services: service_set(allowed),
        serves_all_users,
    }
}

fn granted(user_id: &str, service_key: &str) -> McpServerEvent {
    McpServerEvent::McpAccessGranted {
        user_id: user(user_id),
        service: service(service_key),
    }
}

fn withdrawn(user_id: &str, service_key: &str) -> McpServerEvent {
    McpServerEvent::McpAccessWithdrawn {
        user_id: user(user_id),
        service: service(service_key),
    }
}

fn a_grant(user_id: &str, service_key: &str) -> McpGrant {
    McpGrant {
        user_id: user(user_id),
        service: service(service_key),
    }
}

/// A server for notion and jira that serves only the users who grant it access.
fn per_user_server() -> Vec<McpServerEvent> {
    vec![registered(&["notion", "jira"], false)]
}

/// A server for notion and jira that serves every user.
fn shared_server() -> Vec<McpServerEvent> {
    vec![registered(&["notion", "jira"], true)]
}

fn removed_server() -> Vec<McpServerEvent> {
    concat(vec![
        per_user_server(),
        vec![McpServerEvent::McpServerRemoved {}],
    ])
}

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

#[test]
fn server_ids_take_one_to_sixty_four_letters_digits_dots_underscores_and_dashes() {
    assert!(McpServerId::parse("Mcp_gateway-2.eu").is_ok());
    assert!(McpServerId::parse(&"a".repeat(64)).is_ok());
    assert_eq!(
        McpServerId::parse(""),
        Err(InputError::Empty {
            what: "MCP server id"
        })
    );
    assert_eq!(
        McpServerId::parse(&"a".repeat(65)),
        Err(InputError::TooLong {
            what: "MCP server id",
            max: 64
        })
    );
    for bad in ["mcp:gateway", "mcp gateway", "mcp/gateway", "mcpé"] {
        assert!(McpServerId::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn server_names_are_trimmed_and_hold_one_to_one_hundred_characters() {
    assert_eq!(
        McpServerName::parse("  MCP gateway ").map(|n| n.to_string()),
        Ok("MCP gateway".to_string())
    );
    assert!(McpServerName::parse(" ").is_err());
    assert!(McpServerName::parse(&"n".repeat(101)).is_err());
    assert!(McpServerName::parse("MCP\u{0}").is_err());
}

#[test]
fn base_urls_are_absolute_http_or_https_urls_with_a_host() {
    for (given, stored) in [
        ("https://mcp.acme.io", "https://mcp.acme.io"),
        ("HTTP://localhost:8080/api/", "http://localhost:8080/api/"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://[::1]:9000/mcp", "http://[::1]:9000/mcp"),
        (
            "https://mcp.acme.io/v1?tenant=a",
            "https://mcp.acme.io/v1?tenant=a",
        ),
    ] {
        assert_eq!(
            BaseUrl::parse(given).map(|u| u.to_string()),
            Ok(stored.to_string())
        );
    }
    for bad in [
        "mcp.acme.io",
        "ftp://mcp.acme.io",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "https://user:password@mcp.acme.io",
        "https://mcp.acme.io:0",
        "https://mcp.acme.io:65536",
        "https://mcp.acme.io:http",
        "https://mcp acme.io",
        "https://mcp..acme.io",
        "https://[::1",
        "https://[::1]x",
        "https://mcp.acme.io/\u{7}",
    ] {
        assert!(BaseUrl::parse(bad).is_err(), "{bad:?} was accepted");
    }
    let long = format!("https://mcp.acme.io/{}", "a".repeat(2048));
    assert_eq!(
        BaseUrl::parse(&long),
        Err(InputError::TooLong {
            what: "base URL",
            max: 2048
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_records_the_server_and_its_settings() {
    let events = events_of(given_nothing().when(register(&["notion", "jira"], false)));
    assert_eq!(events, per_user_server());

    let server = state(&events);
    assert!(server.exists());
    assert!(!server.is_removed());
    assert_eq!(server.server_id(), Some(&server_id()));
    assert_eq!(server.name(), Some(&server_name()));
    assert_eq!(server.base_url(), Some(&url("https://mcp.acme.io")));
    assert_eq!(
        server.allowed_services().cloned().collect::<BTreeSet<_>>(),
        service_set(&["jira", "notion"])
    );
    assert!(!server.serves_all_users());
    assert_eq!(server.grants().count(), 0);
}

#[test]
fn a_server_never_registered_has_no_settings_and_may_hold_nothing() {
    let server = McpServer::default();
    assert!(!server.exists());
    assert!(!server.is_removed());
    assert_eq!(server.server_id(), None);
    assert_eq!(server.name(), None);
    assert_eq!(server.base_url(), None);
    assert_eq!(server.allowed_services().count(), 0);
    assert!(!server.serves_all_users());
    assert!(!server.may_hold(&user("alice"), &service("notion")));
}

#[test]
fn registering_an_existing_server_is_refused_even_after_its_removal() {
    given(shared_server())
        .when(register(&["notion"], false))
        .then_expect_error(McpServerError::AlreadyExists);
    given(removed_server())
        .when(register(&["notion"], false))
        .then_expect_error(McpServerError::AlreadyExists);
}

#[test]
fn a_server_allowed_no_service_is_refused() {
    given_nothing()
        .when(register(&[], true))
        .then_expect_error(McpServerError::NoServices);
}

#[test]
fn a_server_allowed_a_service_outside_the_catalog_is_refused() {
    given_nothing()
        .when(register(&["notion", "dropbox"], true))
        .then_expect_error(McpServerError::Input(InputError::UnknownService(
            "dropbox".into(),
        )));
}

#[test]
fn every_command_but_registration_on_an_unknown_server_answers_not_found() {
    for command in [
        change_services(&["notion"]),
        McpServerCommand::RemoveMcpServer,
        grant("alice", "notion"),
        withdraw("alice", "notion"),
    ] {
        given_nothing()
            .when(command)
            .then_expect_error(McpServerError::NotFound);
    }
}

#[test]
fn every_command_on_a_removed_server_answers_removed() {
    let mut history = removed_server();
    history.insert(1, granted("alice", "notion"));
    for command in [
        change_services(&["notion"]),
        McpServerCommand::RemoveMcpServer,
        grant("bob", "notion"),
        withdraw("alice", "notion"),
    ] {
        given(history.clone())
            .when(command)
            .then_expect_error(McpServerError::Removed);
    }
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

#[test]
fn changing_a_server_records_all_its_settings_after_the_change() {
    let events = events_of(
        given(per_user_server()).when(McpServerCommand::ChangeMcpServer {
            by: Authority::Operator,
            allowed_services: None,
            serves_all_users: Some(true),
            base_url: Some(url("https://mcp-2.acme.io")),
        }),
    );
    assert_eq!(
        events,
        vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "jira"]),
            serves_all_users: true,
            base_url: url("https://mcp-2.acme.io"),
            dropped_grants: vec![],
        }]
    );
    let server = state(&concat(vec![per_user_server(), events]));
    assert!(server.serves_all_users());
    assert_eq!(server.base_url(), Some(&url("https://mcp-2.acme.io")));
    assert_eq!(server.name(), Some(&server_name()));
}

// ---------------------------------------------------------------------------------------------
// What only the operator may do
// ---------------------------------------------------------------------------------------------

fn change_by(
    by: Authority,
    allowed: Option<&[&str]>,
    serves_all_users: Option<bool>,
    address: Option<&str>,
) -> McpServerCommand {
    McpServerCommand::ChangeMcpServer {
        by,
        allowed_services: allowed.map(service_set),
        serves_all_users,
        base_url: address.map(url),
    }
}

#[test]
fn an_administrator_cannot_set_up_a_server_that_holds_everyones_credentials() {
    let mut by_admin = register(&["notion"], true);
    if let McpServerCommand::RegisterMcpServer { by, .. } = &mut by_admin {
        *by = Authority::Administrator;
    }
    given_nothing()
        .when(by_admin)
        .then_expect_error(McpServerError::OperatorOnly("register"));
    given(per_user_server())
        .when(change_by(Authority::Administrator, None, Some(true), None))
        .then_expect_error(McpServerError::OperatorOnly("make"));
    given(shared_server())
        .when(change_by(
            Authority::Administrator,
            None,
            None,
            Some("https://elsewhere.example"),
        ))
        .then_expect_error(McpServerError::OperatorOnly("move"));
    given(shared_server())
        .when(change_by(
            Authority::Administrator,
            Some(&["notion", "jira", "todoist"]),
            None,
            None,
        ))
        .then_expect_error(McpServerError::OperatorOnly("widen"));
    let mut token = issue(1, "resolver", &[crate::Scope::CredentialsResolve]);
    if let McpServerCommand::IssueApiToken { by, .. } = &mut token {
        *by = Authority::Administrator;
    }
    given(shared_server())
        .when(token.clone())
        .then_expect_error(McpServerError::OperatorOnly("give a token to"));
    // The operator may do each of these.
    given(shared_server())
        .when(change_by(
            Authority::Operator,
            Some(&["notion", "jira", "todoist"]),
            None,
            Some("https://elsewhere.example"),
        ))
        .then_expect_events(vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "jira", "todoist"]),
            serves_all_users: true,
            base_url: url("https://elsewhere.example"),
            dropped_grants: vec![],
        }]);
}

/// Tokens given while a server served only those who grant it access (by an administrator,
/// perhaps) would resolve everyone's credentials once it serves everyone: the change revokes
/// them.
#[test]
fn a_server_made_to_serve_everyone_loses_the_tokens_it_had() {
    given(concat(vec![
        per_user_server(),
        vec![issued(1, "first"), issued(2, "second")],
        vec![McpServerEvent::McpServerTokenRevoked {
            token_id: token_id(2),
        }],
    ]))
    .when(change_by(Authority::Operator, None, Some(true), None))
    .then_expect_events(vec![
        McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "jira"]),
            serves_all_users: true,
            base_url: url("https://mcp.acme.io"),
            dropped_grants: vec![],
        },
        McpServerEvent::McpServerTokenRevoked {
            token_id: token_id(1),
        },
    ]);
}

#[test]
fn an_administrator_may_narrow_a_server_that_holds_everyones_credentials_or_end_that() {
    given(shared_server())
        .when(change_by(
            Authority::Administrator,
            Some(&["notion"]),
            None,
            None,
        ))
        .then_expect_events(vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion"]),
            serves_all_users: true,
            base_url: url("https://mcp.acme.io"),
            dropped_grants: vec![],
        }]);
    given(shared_server())
        .when(change_by(
            Authority::Administrator,
            Some(&["notion", "jira", "todoist"]),
            Some(false),
            None,
        ))
        .then_expect_events(vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "jira", "todoist"]),
            serves_all_users: false,
            base_url: url("https://mcp.acme.io"),
            dropped_grants: vec![],
        }]);
    // Moved only once it serves no one without their grant.
    given(shared_server())
        .when(change_by(
            Authority::Administrator,
            None,
            Some(false),
            Some("https://elsewhere.example"),
        ))
        .then_expect_error(McpServerError::OperatorOnly("move"));
    // A server that serves only those who grant it access is the administrator's to run.
    given(per_user_server())
        .when(change_by(
            Authority::Administrator,
            Some(&["notion", "jira", "todoist"]),
            None,
            Some("https://elsewhere.example"),
        ))
        .then_expect_events(vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "jira", "todoist"]),
            serves_all_users: false,
            base_url: url("https://elsewhere.example"),
            dropped_grants: vec![],
        }]);
}

#[test]
fn a_change_that_changes_nothing_records_nothing() {
    given(per_user_server())
        .when(McpServerCommand::ChangeMcpServer {
            by: Authority::Operator,
            allowed_services: None,
            serves_all_users: None,
            base_url: None,
        })
        .then_expect_events(vec![]);
    given(per_user_server())
        .when(McpServerCommand::ChangeMcpServer {
            by: Authority::Operator,
            allowed_services: Some(service_set(&["jira", "notion"])),
            serves_all_users: Some(false),
            base_url: Some(url("https://mcp.acme.io")),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_change_to_no_service_or_to_an_unknown_service_is_refused() {
    given(per_user_server())
        .when(change_services(&[]))
        .then_expect_error(McpServerError::NoServices);
    given(per_user_server())
        .when(change_services(&["notion", "dropbox"]))
        .then_expect_error(McpServerError::Input(InputError::UnknownService(
            "dropbox".into(),
        )));
}

#[test]
fn narrowing_the_allowed_services_withdraws_the_grants_for_the_services_taken_away() {
    let history = concat(vec![
        per_user_server(),
        vec![
            granted("alice", "jira"),
            granted("alice", "notion"),
            granted("bob", "jira"),
        ],
    ]);
    let events = events_of(given(history.clone()).when(change_services(&["notion", "sentry"])));
    assert_eq!(
        events,
        vec![McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion", "sentry"]),
            serves_all_users: false,
            base_url: url("https://mcp.acme.io"),
            dropped_grants: vec![a_grant("alice", "jira"), a_grant("bob", "jira")],
        }]
    );
    let history = concat(vec![history, events]);
    let server = state(&history);
    assert_eq!(
        server.grants().cloned().collect::<Vec<_>>(),
        vec![a_grant("alice", "notion")]
    );
    assert!(!server.may_hold(&user("alice"), &service("jira")));
    assert!(server.may_hold(&user("alice"), &service("notion")));

    // Allowing jira again does not bring the withdrawn grants back.
    let events = events_of(given(history.clone()).when(change_services(&["notion", "jira"])));
    let server = state(&concat(vec![history, events]));
    assert!(!server.may_hold(&user("alice"), &service("jira")));
    assert!(!server.may_hold(&user("bob"), &service("jira")));
}

// ---------------------------------------------------------------------------------------------
// Removal
// ---------------------------------------------------------------------------------------------

#[test]
fn a_removed_server_may_hold_nothing() {
    let history = concat(vec![shared_server(), vec![granted("alice", "notion")]]);
    let events = events_of(given(history.clone()).when(McpServerCommand::RemoveMcpServer));
    assert_eq!(events, vec![McpServerEvent::McpServerRemoved {}]);

    let server = state(&concat(vec![history, events]));
    assert!(server.exists());
    assert!(server.is_removed());
    assert!(!server.may_hold(&user("alice"), &service("notion")));
    assert!(!server.may_hold(&user("bob"), &service("jira")));
}

// ---------------------------------------------------------------------------------------------
// Grants
// ---------------------------------------------------------------------------------------------

#[test]
fn a_users_grant_lets_a_per_user_server_hold_that_users_credentials_for_that_service_only() {
    assert!(!state(&per_user_server()).may_hold(&user("alice"), &service("notion")));

    let events = events_of(given(per_user_server()).when(grant("alice", "notion")));
    assert_eq!(events, vec![granted("alice", "notion")]);

    let server = state(&concat(vec![per_user_server(), events]));
    assert!(server.has_grant(&user("alice"), &service("notion")));
    assert!(server.may_hold(&user("alice"), &service("notion")));
    assert!(!server.may_hold(&user("alice"), &service("jira")));
    assert!(!server.may_hold(&user("bob"), &service("notion")));
    assert_eq!(
        server.grants().cloned().collect::<Vec<_>>(),
        vec![a_grant("alice", "notion")]
    );
}

#[test]
fn a_server_serving_all_users_may_hold_everyones_credentials_for_its_allowed_services_only() {
    let server = state(&shared_server());
    assert!(server.may_hold(&user("alice"), &service("notion")));
    assert!(server.may_hold(&user("bob"), &service("jira")));
    assert!(!server.may_hold(&user("alice"), &service("sentry")));
}

#[test]
fn granting_access_to_a_service_the_server_is_not_allowed_is_refused() {
    given(shared_server())
        .when(grant("alice", "sentry"))
        .then_expect_error(McpServerError::ServiceNotAllowed(service("sentry")));
}

#[test]
fn granting_access_already_granted_is_refused() {
    given(concat(vec![
        per_user_server(),
        vec![granted("alice", "notion")],
    ]))
    .when(grant("alice", "notion"))
    .then_expect_error(McpServerError::AccessAlreadyGranted {
        user_id: user("alice"),
        service: service("notion"),
    });
}

#[test]
fn withdrawing_access_removes_the_grant() {
    let history = concat(vec![
        per_user_server(),
        vec![granted("alice", "notion"), granted("alice", "jira")],
    ]);
    let events = events_of(given(history.clone()).when(withdraw("alice", "notion")));
    assert_eq!(events, vec![withdrawn("alice", "notion")]);

    let server = state(&concat(vec![history, events]));
    assert!(!server.has_grant(&user("alice"), &service("notion")));
    assert!(!server.may_hold(&user("alice"), &service("notion")));
    assert!(server.may_hold(&user("alice"), &service("jira")));
}

#[test]
fn withdrawing_access_never_granted_is_refused() {
    given(concat(vec![
        per_user_server(),
        vec![granted("alice", "notion")],
    ]))
    .when(withdraw("bob", "notion"))
    .then_expect_error(McpServerError::AccessNotGranted {
        user_id: user("bob"),
        service: service("notion"),
    });
}

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

#[test]
fn every_mcp_server_event_round_trips_through_json_under_a_stable_type() {
    let events = vec![
        registered(&["notion", "jira"], false),
        McpServerEvent::McpServerChanged {
            allowed_services: service_set(&["notion"]),
            serves_all_users: true,
            base_url: url("http://[::1]:9000/mcp"),
            dropped_grants: vec![a_grant("alice", "jira")],
        },
        McpServerEvent::McpServerRemoved {},
        granted("alice", "notion"),
        withdrawn("alice", "notion"),
        issued(1, "resolver"),
        McpServerEvent::McpServerTokenRevoked {
            token_id: token_id(1),
        },
        McpServerEvent::McpReplayRequested {
            from_position: None,
        },
    ];
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        [
            "McpServerRegistered",
            "McpServerChanged",
            "McpServerRemoved",
            "McpAccessGranted",
            "McpAccessWithdrawn",
            "McpServerTokenIssued",
            "McpServerTokenRevoked",
            "McpReplayRequested",
        ]
    );
    for event in &events {
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_string(event).expect("events serialize");
        let back: McpServerEvent = serde_json::from_str(&json).expect("events deserialize");
        assert_eq!(&back, event, "{json}");
    }
    assert_eq!(McpServer::TYPE, "mcp_server");
}

#[test]
fn the_state_round_trips_through_json() {
    let history = concat(vec![
        per_user_server(),
        vec![granted("alice", "notion"), granted("bob", "jira")],
    ]);
    let server = state(&history);
    let json = serde_json::to_string(&server).expect("state serializes");
    let back: McpServer = serde_json::from_str(&json).expect("state deserializes");
    assert!(back.may_hold(&user("bob"), &service("jira")));
    assert_eq!(back.grants().count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Tokens and replays
// ---------------------------------------------------------------------------------------------

fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn token_id(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

const HASH: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

fn issue(n: u128, name: &str, scopes: &[crate::Scope]) -> McpServerCommand {
    McpServerCommand::IssueApiToken {
        by: Authority::Operator,
        token_id: token_id(n),
        name: name.into(),
        scopes: scopes.iter().copied().collect(),
        expires_at: None,
        token_hash: HASH.into(),
        now: now(),
    }
}

fn issued(n: u128, name: &str) -> McpServerEvent {
    McpServerEvent::McpServerTokenIssued {
        token_id: token_id(n),
        name: name.into(),
        scopes: [crate::Scope::CredentialsResolve].into_iter().collect(),
        expires_at: None,
        token_hash: HASH.into(),
    }
}

#[test]
fn an_admin_issues_and_revokes_a_server_token() {
    given(per_user_server())
        .when(issue(1, " resolver ", &[crate::Scope::CredentialsResolve]))
        .then_expect_events(vec![issued(1, "resolver")]);
    given(concat(vec![per_user_server(), vec![issued(1, "resolver")]]))
        .when(McpServerCommand::RevokeApiToken {
            token_id: token_id(1),
        })
        .then_expect_events(vec![McpServerEvent::McpServerTokenRevoked {
            token_id: token_id(1),
        }]);
}

#[test]
fn server_tokens_follow_the_rules_of_user_tokens() {
    use crate::user::UserError;
    given(per_user_server())
        .when(issue(1, "resolver", &[]))
        .then_expect_error(McpServerError::Token(UserError::NoScopes));
    given(concat(vec![per_user_server(), vec![issued(1, "resolver")]]))
        .when(issue(2, "resolver", &[crate::Scope::CredentialsResolve]))
        .then_expect_error(McpServerError::Token(UserError::TokenNameTaken(
            "resolver".into(),
        )));
    given(per_user_server())
        .when(McpServerCommand::RevokeApiToken {
            token_id: token_id(9),
        })
        .then_expect_error(McpServerError::Token(UserError::TokenNotFound(token_id(9))));
    given(removed_server())
        .when(issue(1, "resolver", &[crate::Scope::CredentialsResolve]))
        .then_expect_error(McpServerError::Removed);
}

#[test]
fn removing_a_server_revokes_its_tokens() {
    let history = concat(vec![
        per_user_server(),
        vec![issued(1, "resolver"), McpServerEvent::McpServerRemoved {}],
    ]);
    assert!(state(&history).tokens().iter().all(|t| t.revoked));
}

#[test]
fn a_replay_is_recorded_for_a_live_server_only() {
    given(per_user_server())
        .when(McpServerCommand::RequestReplay {
            from_position: Some(12),
        })
        .then_expect_events(vec![McpServerEvent::McpReplayRequested {
            from_position: Some(12),
        }]);
    given(removed_server())
        .when(McpServerCommand::RequestReplay {
            from_position: None,
        })
        .then_expect_error(McpServerError::Removed);
    given_nothing()
        .when(McpServerCommand::RequestReplay {
            from_position: None,
        })
        .then_expect_error(McpServerError::NotFound);
}
