//! Given/when/then tests of the `User` aggregate and its value types.

use super::{
    ApiToken, DisplayName, Email, Permission, Role, Scope, User, UserCommand, UserError, UserEvent,
};
use crate::{InputError, UserId};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::{AggregateResultValidator, AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use std::collections::BTreeSet;
use uuid::Uuid;

use Permission::{CredentialsDeleteAll, CredentialsEditAll, CredentialsViewAll};
use Scope::{CredentialsRead, CredentialsResolve, LedgerRead};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn given(events: Vec<UserEvent>) -> AggregateTestExecutor<User> {
    TestFramework::<User>::with(()).given(events)
}

fn given_nothing() -> AggregateTestExecutor<User> {
    TestFramework::<User>::with(()).given_no_previous_events()
}

/// The user the events describe.
fn state(events: &[UserEvent]) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event.clone());
    }
    user
}

/// The events of a command that must succeed.
fn events_of(validator: AggregateResultValidator<User>) -> Vec<UserEvent> {
    validator
        .inspect_result()
        .unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

fn concat(parts: Vec<Vec<UserEvent>>) -> Vec<UserEvent> {
    parts.into_iter().flatten().collect()
}

fn alice() -> UserId {
    UserId::parse("alice").expect("user id")
}

fn email() -> Email {
    Email::parse("alice@acme.io").expect("email")
}

fn display_name() -> DisplayName {
    DisplayName::parse("Alice Martin").expect("display name")
}

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fn now() -> DateTime<Utc> {
    at(2026, 3, 1)
}

fn token_id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A well-formed SHA-256 in lowercase hex, distinct per `n`.
fn hash(n: u128) -> String {
    format!("{n:064x}")
}

fn scopes(list: &[Scope]) -> BTreeSet<Scope> {
    list.iter().copied().collect()
}

fn permissions(list: &[Permission]) -> BTreeSet<Permission> {
    list.iter().copied().collect()
}

// Commands.

fn register(role: Role, granted: &[Permission]) -> UserCommand {
    UserCommand::RegisterUser {
        user_id: alice(),
        email: email(),
        display_name: display_name(),
        role,
        permissions: permissions(granted),
    }
}

fn lock(reason: Option<&str>) -> UserCommand {
    UserCommand::LockUser {
        reason: reason.map(str::to_owned),
    }
}

fn grant(permission: Permission) -> UserCommand {
    UserCommand::GrantPermission { permission }
}

fn revoke_permission(permission: Permission) -> UserCommand {
    UserCommand::RevokePermission { permission }
}

fn issue_until(n: u128, name: &str, expires_at: Option<DateTime<Utc>>) -> UserCommand {
    UserCommand::IssueApiToken {
        token_id: token_id(n),
        name: name.to_owned(),
        scopes: scopes(&[CredentialsResolve]),
        expires_at,
        token_hash: hash(n),
        now: now(),
    }
}

fn issue(n: u128, name: &str) -> UserCommand {
    issue_until(n, name, Some(at(2026, 6, 1)))
}

fn revoke_token(n: u128) -> UserCommand {
    UserCommand::RevokeApiToken {
        token_id: token_id(n),
    }
}

// Events.

fn registered(role: Role, granted: &[Permission]) -> UserEvent {
    UserEvent::UserRegistered {
        user_id: alice(),
        email: email(),
        display_name: display_name(),
        role,
        permissions: permissions(granted),
    }
}

fn member() -> Vec<UserEvent> {
    vec![registered(Role::Member, &[])]
}

fn admin() -> Vec<UserEvent> {
    vec![registered(Role::Admin, &[])]
}

fn locked() -> UserEvent {
    UserEvent::UserLocked {
        reason: Some("left the company".into()),
    }
}

fn locked_member() -> Vec<UserEvent> {
    concat(vec![member(), vec![locked()]])
}

fn issued_until(n: u128, name: &str, expires_at: Option<DateTime<Utc>>) -> UserEvent {
    UserEvent::ApiTokenIssued {
        token_id: token_id(n),
        name: name.to_owned(),
        scopes: scopes(&[CredentialsResolve]),
        expires_at,
        token_hash: hash(n),
    }
}

fn issued(n: u128, name: &str) -> UserEvent {
    issued_until(n, name, Some(at(2026, 6, 1)))
}

fn token_revoked(n: u128) -> UserEvent {
    UserEvent::ApiTokenRevoked {
        token_id: token_id(n),
    }
}

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

#[test]
fn emails_are_trimmed_and_their_domain_lowercased() {
    assert_eq!(
        Email::parse("  Alice.Martin+ci@ACME.Example.io ").map(|e| e.to_string()),
        Ok("Alice.Martin+ci@acme.example.io".to_string())
    );
}

/// What is kept reads back as itself: an address whose domain lowercasing changes in length or
/// kind (`İ` becomes `i` and a combining dot, which no host name holds) is refused, not stored
/// in a `UserRegistered` no one could load again.
#[test]
fn an_accepted_email_reads_back_as_itself() {
    for given in [
        "a@\u{130}stanbul.com".to_owned(),
        format!("a@{}.com", "\u{130}".repeat(40)),
        format!("{}@{}.io", "a".repeat(60), "\u{130}a".repeat(60)),
        "A@Example.COM".to_owned(),
        "b@\u{c9}cole.fr".to_owned(),
    ] {
        if let Ok(email) = Email::parse(&given) {
            let stored = serde_json::to_string(&email).expect("an email serialises");
            assert_eq!(
                serde_json::from_str::<Email>(&stored).ok(),
                Some(email),
                "{given}"
            );
        }
    }
    assert!(Email::parse("a@\u{130}stanbul.com").is_err());
    assert_eq!(
        Email::parse("b@\u{c9}cole.fr").map(|e| e.to_string()),
        Ok("b@\u{e9}cole.fr".to_owned())
    );
}

#[test]
fn malformed_emails_are_refused() {
    assert_eq!(Email::parse(" "), Err(InputError::Empty { what: "email" }));
    assert_eq!(
        Email::parse(&format!("{}@acme.io", "a".repeat(250))),
        Err(InputError::TooLong {
            what: "email",
            max: 254
        })
    );
    for bad in [
        "alice",
        "@acme.io",
        "alice@",
        "alice@@acme.io",
        "alice@acme@io",
        "alice@localhost",
        "alice@acme..io",
        "alice@-acme.io",
        "alice@acme_corp.io",
        "al ice@acme.io",
        "alice@acme\n.io",
        "alice\u{7}@acme.io",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(Email::parse(&format!("{}@acme.io", "a".repeat(65))).is_err());
}

#[test]
fn display_names_are_trimmed_and_hold_one_to_one_hundred_characters() {
    assert_eq!(
        DisplayName::parse("  Alice  ").map(|d| d.to_string()),
        Ok("Alice".to_string())
    );
    assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
    assert_eq!(
        DisplayName::parse(&"é".repeat(101)),
        Err(InputError::TooLong {
            what: "display name",
            max: 100
        })
    );
    assert_eq!(
        DisplayName::parse("   "),
        Err(InputError::Empty {
            what: "display name"
        })
    );
    assert!(DisplayName::parse("Ali\u{0}ce").is_err());
}

#[test]
fn permissions_scopes_and_roles_parse_their_public_names() {
    let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "credentials.view_all",
            "credentials.edit_all",
            "credentials.delete_all"
        ]
    );
    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["credentials:read", "credentials:resolve", "ledger:read"]
    );
    for p in Permission::ALL {
        assert_eq!(Permission::parse(p.as_str()), Ok(p));
        assert_eq!(p.to_string(), p.as_str());
    }
    for s in Scope::ALL {
        assert_eq!(Scope::parse(s.as_str()), Ok(s));
    }
    assert_eq!(Role::parse("admin"), Ok(Role::Admin));
    assert_eq!(Role::parse("member"), Ok(Role::Member));
    assert!(Role::parse("root").is_err());
    assert!(Permission::parse("credentials.VIEW_ALL").is_err());
    assert!(Scope::parse("credentials:write").is_err());
}

#[test]
fn permissions_and_scopes_are_stored_under_their_public_names() {
    let json = serde_json::to_string(&issued(1, "ci")).expect("events serialize");
    assert!(json.contains("\"credentials:resolve\""), "{json}");
    let json = serde_json::to_string(&registered(Role::Admin, &[CredentialsViewAll]))
        .expect("events serialize");
    assert!(json.contains("\"credentials.view_all\""), "{json}");
    assert!(json.contains("\"admin\""), "{json}");
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_records_the_user_with_their_role_and_explicit_permissions() {
    let events = events_of(given_nothing().when(register(Role::Member, &[CredentialsViewAll])));
    assert_eq!(
        events,
        vec![registered(Role::Member, &[CredentialsViewAll])]
    );

    let user = state(&events);
    assert!(user.exists());
    assert_eq!(user.user_id(), Some(&alice()));
    assert_eq!(user.email(), Some(&email()));
    assert_eq!(user.display_name(), Some(&display_name()));
    assert_eq!(user.role(), Some(Role::Member));
    assert!(!user.is_locked());
    assert_eq!(user.permissions(), &permissions(&[CredentialsViewAll]));
    assert!(user.has_permission(CredentialsViewAll));
    assert!(!user.has_permission(CredentialsEditAll));
    assert!(user.tokens().is_empty());
}

#[test]
fn registering_an_existing_user_is_refused() {
    given(member())
        .when(register(Role::Admin, &[]))
        .then_expect_error(UserError::AlreadyExists);
}

#[test]
fn a_user_never_registered_has_no_profile_and_no_permission() {
    let user = User::default();
    assert!(!user.exists());
    assert_eq!(user.user_id(), None);
    assert_eq!(user.email(), None);
    assert_eq!(user.display_name(), None);
    assert_eq!(user.role(), None);
    assert!(!user.is_locked());
    assert!(user.permissions().is_empty());
    assert!(Permission::ALL.iter().all(|p| !user.has_permission(*p)));
    assert!(user.tokens().is_empty());
}

#[test]
fn every_command_but_registration_on_an_unknown_user_answers_not_found() {
    for command in [
        UserCommand::ChangePassword {
            reset_by_admin: true,
        },
        lock(None),
        UserCommand::UnlockUser,
        grant(CredentialsViewAll),
        revoke_permission(CredentialsViewAll),
        issue(1, "ci"),
        revoke_token(1),
    ] {
        given_nothing()
            .when(command)
            .then_expect_error(UserError::NotFound);
    }
}

// ---------------------------------------------------------------------------------------------
// Password
// ---------------------------------------------------------------------------------------------

#[test]
fn changing_a_password_is_recorded_without_anything_secret() {
    given(member())
        .when(UserCommand::ChangePassword {
            reset_by_admin: false,
        })
        .then_expect_events(vec![UserEvent::PasswordChanged {
            reset_by_admin: false,
        }]);
}

#[test]
fn an_admin_can_reset_the_password_of_a_locked_user() {
    given(locked_member())
        .when(UserCommand::ChangePassword {
            reset_by_admin: true,
        })
        .then_expect_events(vec![UserEvent::PasswordChanged {
            reset_by_admin: true,
        }]);
}

// ---------------------------------------------------------------------------------------------
// Lock and unlock
// ---------------------------------------------------------------------------------------------

#[test]
fn locking_a_user_records_the_reason() {
    let events = events_of(given(member()).when(lock(Some("  left the company "))));
    assert_eq!(events, vec![locked()]);
    assert!(state(&concat(vec![member(), events])).is_locked());
}

#[test]
fn a_blank_lock_reason_is_recorded_as_none() {
    given(member())
        .when(lock(Some("   ")))
        .then_expect_events(vec![UserEvent::UserLocked { reason: None }]);
}

#[test]
fn a_lock_reason_over_five_hundred_characters_or_with_control_characters_is_refused() {
    given(member())
        .when(lock(Some(&"x".repeat(501))))
        .then_expect_error(UserError::Input(InputError::TooLong {
            what: "lock reason",
            max: 500,
        }));
    given(member())
        .when(lock(Some("left\u{1b}[31m")))
        .then_expect_error(UserError::Input(InputError::BadCharacters {
            what: "lock reason",
            allowed: "no control characters",
        }));
}

#[test]
fn locking_a_locked_user_is_refused() {
    given(locked_member())
        .when(lock(None))
        .then_expect_error(UserError::AlreadyLocked);
}

#[test]
fn unlocking_a_locked_user_is_recorded() {
    let events = events_of(given(locked_member()).when(UserCommand::UnlockUser));
    assert_eq!(events, vec![UserEvent::UserUnlocked {}]);
    assert!(!state(&concat(vec![locked_member(), events])).is_locked());
}

#[test]
fn unlocking_a_user_who_is_not_locked_is_refused() {
    given(member())
        .when(UserCommand::UnlockUser)
        .then_expect_error(UserError::NotLocked);
}

// ---------------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------------

#[test]
fn granting_a_permission_adds_it_to_the_explicit_grants() {
    let events = events_of(given(member()).when(grant(CredentialsEditAll)));
    assert_eq!(
        events,
        vec![UserEvent::PermissionGranted {
            permission: CredentialsEditAll
        }]
    );
    let user = state(&concat(vec![member(), events]));
    assert_eq!(user.permissions(), &permissions(&[CredentialsEditAll]));
    assert!(user.has_permission(CredentialsEditAll));
    assert!(!user.has_permission(CredentialsDeleteAll));
}

#[test]
fn granting_a_permission_already_held_is_refused() {
    given(vec![registered(Role::Member, &[CredentialsViewAll])])
        .when(grant(CredentialsViewAll))
        .then_expect_error(UserError::PermissionAlreadyGranted(CredentialsViewAll));
}

#[test]
fn revoking_a_held_permission_removes_it() {
    let given_events = vec![registered(
        Role::Member,
        &[CredentialsViewAll, CredentialsDeleteAll],
    )];
    let events = events_of(given(given_events.clone()).when(revoke_permission(CredentialsViewAll)));
    assert_eq!(
        events,
        vec![UserEvent::PermissionRevoked {
            permission: CredentialsViewAll
        }]
    );
    let user = state(&concat(vec![given_events, events]));
    assert_eq!(user.permissions(), &permissions(&[CredentialsDeleteAll]));
    assert!(!user.has_permission(CredentialsViewAll));
}

#[test]
fn revoking_a_permission_not_held_is_refused() {
    given(member())
        .when(revoke_permission(CredentialsDeleteAll))
        .then_expect_error(UserError::PermissionNotGranted(CredentialsDeleteAll));
}

#[test]
fn admins_hold_every_permission_without_explicit_grants() {
    let user = state(&admin());
    assert!(user.permissions().is_empty());
    for p in Permission::ALL {
        assert!(user.has_permission(p), "an admin lacks {p}");
    }
}

#[test]
fn an_admin_can_be_granted_and_revoked_a_permission_explicitly() {
    given(admin())
        .when(grant(CredentialsViewAll))
        .then_expect_events(vec![UserEvent::PermissionGranted {
            permission: CredentialsViewAll,
        }]);
    given(admin())
        .when(revoke_permission(CredentialsViewAll))
        .then_expect_error(UserError::PermissionNotGranted(CredentialsViewAll));

    let events = concat(vec![
        admin(),
        vec![
            UserEvent::PermissionGranted {
                permission: CredentialsViewAll,
            },
            UserEvent::PermissionRevoked {
                permission: CredentialsViewAll,
            },
        ],
    ]);
    let user = state(&events);
    assert!(user.permissions().is_empty());
    assert!(user.has_permission(CredentialsViewAll));
}

#[test]
fn a_locked_user_can_still_be_granted_and_revoked_permissions() {
    given(locked_member())
        .when(grant(CredentialsViewAll))
        .then_expect_events(vec![UserEvent::PermissionGranted {
            permission: CredentialsViewAll,
        }]);
    given(vec![
        registered(Role::Member, &[CredentialsViewAll]),
        locked(),
    ])
    .when(revoke_permission(CredentialsViewAll))
    .then_expect_events(vec![UserEvent::PermissionRevoked {
        permission: CredentialsViewAll,
    }]);
}

// ---------------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn issuing_a_token_records_its_name_scopes_expiry_and_hash() {
    let command = UserCommand::IssueApiToken {
        token_id: token_id(1),
        name: "  mcp gateway ".into(),
        scopes: scopes(&[CredentialsRead, LedgerRead]),
        expires_at: Some(at(2026, 6, 1)),
        token_hash: hash(1),
        now: now(),
    };
    let events = events_of(given(member()).when(command));
    assert_eq!(
        events,
        vec![UserEvent::ApiTokenIssued {
            token_id: token_id(1),
            name: "mcp gateway".into(),
            scopes: scopes(&[CredentialsRead, LedgerRead]),
            expires_at: Some(at(2026, 6, 1)),
            token_hash: hash(1),
        }]
    );

    let user = state(&concat(vec![member(), events]));
    let expected = ApiToken {
        id: token_id(1),
        name: "mcp gateway".into(),
        scopes: scopes(&[CredentialsRead, LedgerRead]),
        expires_at: Some(at(2026, 6, 1)),
        revoked: false,
        token_hash: hash(1),
    };
    assert_eq!(user.tokens(), std::slice::from_ref(&expected));
    assert_eq!(user.token(token_id(1)), Some(&expected));
    assert!(expected.is_active(now()));
    assert!(!expected.is_active(at(2026, 6, 1)));
    assert_eq!(user.active_tokens(now()).count(), 1);
    assert_eq!(user.active_tokens(at(2026, 7, 1)).count(), 0);
}

#[test]
fn a_token_without_expiry_is_accepted_and_never_expires() {
    let events = events_of(given(member()).when(issue_until(1, "ci", None)));
    assert_eq!(events, vec![issued_until(1, "ci", None)]);
    let user = state(&concat(vec![member(), events]));
    assert_eq!(user.active_tokens(at(2100, 1, 1)).count(), 1);
}

#[test]
fn a_token_without_scopes_is_refused() {
    given(member())
        .when(UserCommand::IssueApiToken {
            token_id: token_id(1),
            name: "ci".into(),
            scopes: BTreeSet::new(),
            expires_at: None,
            token_hash: hash(1),
            now: now(),
        })
        .then_expect_error(UserError::NoScopes);
}

#[test]
fn a_token_name_must_hold_one_to_sixty_four_characters_without_control_characters() {
    given(member())
        .when(issue(1, "   "))
        .then_expect_error(UserError::Input(InputError::Empty { what: "token name" }));
    given(member())
        .when(issue(1, &"n".repeat(65)))
        .then_expect_error(UserError::Input(InputError::TooLong {
            what: "token name",
            max: 64,
        }));
    given(member())
        .when(issue(1, "ci\nbot"))
        .then_expect_error(UserError::Input(InputError::BadCharacters {
            what: "token name",
            allowed: "no control characters",
        }));
    given(member())
        .when(issue(1, &"é".repeat(64)))
        .then_expect_events(vec![issued(1, &"é".repeat(64))]);
}

#[test]
fn a_token_hash_that_is_not_a_lowercase_sha256_is_refused() {
    for bad in [
        String::new(),
        "secret-token-value".to_string(),
        hash(1).to_uppercase().replace('0', "A"),
        format!("{}0", hash(1)),
        hash(1)[1..].to_string(),
    ] {
        given(member())
            .when(UserCommand::IssueApiToken {
                token_id: token_id(1),
                name: "ci".into(),
                scopes: scopes(&[CredentialsRead]),
                expires_at: None,
                token_hash: bad.clone(),
                now: now(),
            })
            .then_expect_error(UserError::Input(InputError::Malformed {
                what: "token hash",
                detail: "expected the SHA-256 as 64 lowercase hex digits".into(),
            }));
    }
}

#[test]
fn a_token_expiring_at_or_before_now_is_refused() {
    for expires_at in [now(), now() - Duration::seconds(1), at(2020, 1, 1)] {
        given(member())
            .when(issue_until(1, "ci", Some(expires_at)))
            .then_expect_error(UserError::ExpiryNotInFuture);
    }
    given(member())
        .when(issue_until(1, "ci", Some(now() + Duration::seconds(1))))
        .then_expect_events(vec![issued_until(
            1,
            "ci",
            Some(now() + Duration::seconds(1)),
        )]);
}

#[test]
fn the_name_of_an_active_token_cannot_be_reused() {
    given(concat(vec![member(), vec![issued(1, "ci")]]))
        .when(issue(2, " ci "))
        .then_expect_error(UserError::TokenNameTaken("ci".into()));
}

#[test]
fn the_name_of_a_revoked_or_expired_token_can_be_reused() {
    given(concat(vec![
        member(),
        vec![issued(1, "ci"), token_revoked(1)],
    ]))
    .when(issue(2, "ci"))
    .then_expect_events(vec![issued(2, "ci")]);
    given(concat(vec![
        member(),
        vec![issued_until(1, "ci", Some(at(2026, 2, 1)))],
    ]))
    .when(issue(2, "ci"))
    .then_expect_events(vec![issued(2, "ci")]);
}

#[test]
fn a_token_id_cannot_be_issued_twice() {
    given(concat(vec![
        member(),
        vec![issued(1, "ci"), token_revoked(1)],
    ]))
    .when(issue(1, "other"))
    .then_expect_error(UserError::TokenAlreadyExists(token_id(1)));
}

/// A member holding `n` active tokens, numbered from 1.
fn member_with_tokens(n: u128) -> Vec<UserEvent> {
    let mut events = member();
    events.extend((1..=n).map(|i| issued(i, &format!("token-{i}"))));
    events
}

#[test]
fn a_user_may_hold_at_most_fifty_active_tokens() {
    given(member_with_tokens(49))
        .when(issue(50, "token-50"))
        .then_expect_events(vec![issued(50, "token-50")]);
    given(member_with_tokens(50))
        .when(issue(51, "token-51"))
        .then_expect_error(UserError::TooManyTokens { max: 50 });
}

#[test]
fn revoked_and_expired_tokens_do_not_count_towards_the_limit() {
    let mut events = member_with_tokens(49);
    events.push(token_revoked(1));
    events.push(issued_until(99, "old", Some(at(2026, 2, 1))));
    events.push(issued(50, "token-50"));
    assert_eq!(state(&events).active_tokens(now()).count(), 49);
    given(events)
        .when(issue(51, "token-51"))
        .then_expect_events(vec![issued(51, "token-51")]);
}

#[test]
fn a_locked_user_cannot_be_issued_a_token() {
    given(locked_member())
        .when(issue(1, "ci"))
        .then_expect_error(UserError::Locked);
}

#[test]
fn an_unlocked_user_can_be_issued_a_token_again() {
    given(concat(vec![
        locked_member(),
        vec![UserEvent::UserUnlocked {}],
    ]))
    .when(issue(1, "ci"))
    .then_expect_events(vec![issued(1, "ci")]);
}

#[test]
fn revoking_a_token_marks_it_revoked() {
    let given_events = concat(vec![member(), vec![issued(1, "ci"), issued(2, "laptop")]]);
    let events = events_of(given(given_events.clone()).when(revoke_token(1)));
    assert_eq!(events, vec![token_revoked(1)]);

    let user = state(&concat(vec![given_events, events]));
    assert_eq!(user.token(token_id(1)).map(|t| t.revoked), Some(true));
    assert_eq!(user.token(token_id(2)).map(|t| t.revoked), Some(false));
    let active: Vec<Uuid> = user.active_tokens(now()).map(|t| t.id).collect();
    assert_eq!(active, vec![token_id(2)]);
    assert_eq!(user.tokens().len(), 2);
}

#[test]
fn revoking_an_unknown_or_revoked_token_answers_token_not_found() {
    given(member())
        .when(revoke_token(1))
        .then_expect_error(UserError::TokenNotFound(token_id(1)));
    given(concat(vec![
        member(),
        vec![issued(1, "ci"), token_revoked(1)],
    ]))
    .when(revoke_token(1))
    .then_expect_error(UserError::TokenNotFound(token_id(1)));
}

#[test]
fn a_locked_users_tokens_can_still_be_revoked() {
    given(concat(vec![member(), vec![issued(1, "ci"), locked()]]))
        .when(revoke_token(1))
        .then_expect_events(vec![token_revoked(1)]);
}

#[test]
fn an_expired_token_can_still_be_revoked() {
    given(concat(vec![
        member(),
        vec![issued_until(1, "ci", Some(at(2026, 2, 1)))],
    ]))
    .when(revoke_token(1))
    .then_expect_events(vec![token_revoked(1)]);
}

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

#[test]
fn every_user_event_round_trips_through_json_under_a_stable_type() {
    let events = vec![
        registered(Role::Admin, &[CredentialsViewAll, CredentialsDeleteAll]),
        UserEvent::PasswordChanged {
            reset_by_admin: true,
        },
        locked(),
        UserEvent::UserUnlocked {},
        UserEvent::PermissionGranted {
            permission: CredentialsEditAll,
        },
        UserEvent::PermissionRevoked {
            permission: CredentialsEditAll,
        },
        issued(1, "ci"),
        token_revoked(1),
    ];
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        [
            "UserRegistered",
            "PasswordChanged",
            "UserLocked",
            "UserUnlocked",
            "PermissionGranted",
            "PermissionRevoked",
            "ApiTokenIssued",
            "ApiTokenRevoked",
        ]
    );
    for event in &events {
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_string(event).expect("events serialize");
        let back: UserEvent = serde_json::from_str(&json).expect("events deserialize");
        assert_eq!(&back, event, "{json}");
    }
    assert_eq!(User::TYPE, "user");
}

#[test]
fn stored_events_with_an_invalid_email_are_refused_on_load() {
    let json = serde_json::to_string(&registered(Role::Member, &[]))
        .expect("events serialize")
        .replace("alice@acme.io", "not-an-email");
    assert!(serde_json::from_str::<UserEvent>(&json).is_err());
}
