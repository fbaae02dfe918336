//! `credential_summary`: everything the dashboard shows about one credential — service, name,
//! status, primary, account identity, metadata, validation, use, expiry, MCP sync, who created
//! and changed it and when. Never a secret: sealed secrets in the events are not copied.

use crate::event::{decode, Decoded, Envelope};
use crate::{dashboard_stats, ProjectionError, Tables};
use credledger_adapters::db::timestamp;
use credledger_adapters::feed::FeedEvent;
use credledger_domain::keyring::KeyringEvent;
use credledger_domain::usage::UsageEvent;
use credledger_domain::KeyringId;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Applies a batch of feed events, then refreshes the dashboard counts of every keyring touched.
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    tables: Tables,
    events: &[FeedEvent],
) -> Result<(), ProjectionError> {
    let summary = tables.name("credential_summary");
    let mut touched = BTreeSet::new();
    for feed in events {
        let envelope = decode(feed)?;
        match &envelope.event {
            Decoded::Keyring(id, event) => {
                touched.insert((id.user_id.to_string(), id.service.to_string()));
                apply_keyring(conn, &summary, &envelope, id, event).await?;
            }
            Decoded::Usage(UsageEvent::CredentialUsed { credential_id, .. }) => {
                sqlx::query(&format!(
                    "UPDATE {summary} SET use_count = use_count + 1, last_used_at = $2 \
                     WHERE credential_id = $1"
                ))
                .bind(credential_id.to_string())
                .bind(timestamp(envelope.metadata.occurred_at))
                .execute(&mut *conn)
                .await?;
            }
            Decoded::Other => {}
        }
    }
    for (user, service) in touched {
        dashboard_stats::refresh(conn, tables, &user, &service).await?;
    }
    Ok(())
}

async fn apply_keyring(
    conn: &mut AnyConnection,
    t: &str,
    envelope: &Envelope<'_>,
    id: &KeyringId,
    event: &KeyringEvent,
) -> Result<(), ProjectionError> {
    use KeyringEvent::*;
    let at = timestamp(envelope.metadata.occurred_at);
    let actor = envelope.metadata.actor.as_str();
    let version = envelope.feed.sequence;
    // Every change stamps who, when and the stream version; `set` adds the event's own columns.
    let update = |set: &str| {
        format!(
            "UPDATE {t} SET {set}{}updated_at = $2, updated_by = $3, ledger_version = $4 \
             WHERE credential_id = $1",
            if set.is_empty() { "" } else { ", " }
        )
    };
    macro_rules! run {
        ($sql:expr, $cred:expr $(, $extra:expr)*) => {
            sqlx::query(&$sql)
                .bind($cred.to_string())
                .bind(&at)
                .bind(actor)
                .bind(version)
                $(.bind($extra))*
                .execute(&mut *conn)
                .await?
        };
    }
    match event {
        CredentialRegistered {
            credential_id,
            name,
            metadata,
            secret_version,
            status,
            ..
        } => {
            sqlx::query(&format!(
                "INSERT INTO {t} (credential_id, user_id, service, name, status, metadata, \
                 secret_version, ledger_version, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10)"
            ))
            .bind(credential_id.to_string())
            .bind(id.user_id.as_str())
            .bind(id.service.as_str())
            .bind(name.as_str())
            .bind(status.as_str())
            .bind(json(metadata))
            .bind(i64::from(*secret_version))
            .bind(version)
            .bind(&at)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
        }
        CredentialRenamed {
            credential_id,
            new_name,
            ..
        } => {
            run!(update("name = $5"), credential_id, new_name.as_str());
        }
        CredentialMetadataChanged {
            credential_id,
            new_metadata,
            ..
        } => {
            run!(update("metadata = $5"), credential_id, json(new_metadata));
        }
        SecretReplaced {
            credential_id,
            secret_version,
            status,
            ..
        } => {
            run!(
                update("status = $5, secret_version = $6, token_expires_at = NULL"),
                credential_id,
                status.as_str(),
                i64::from(*secret_version)
            );
        }
        CredentialValidated {
            credential_id,
            account,
            provider_metadata,
            scopes,
            expires_at,
            status,
            ..
        } => {
            run!(
                update(
                    "status = $5, account_id = $6, account_name = $7, account_email = $8, \
                     provider_metadata = $9, scopes = $10, token_expires_at = $11, \
                     last_validated_at = $2, validation_error = NULL"
                ),
                credential_id,
                status.as_str(),
                account.id.as_str(),
                account.display_name.clone(),
                account.email.clone(),
                json(provider_metadata),
                json(scopes),
                expires_at.map(timestamp)
            );
        }
        ValidationFailed {
            credential_id,
            message,
            status,
            ..
        } => {
            run!(
                update("status = $5, validation_error = $6, last_validated_at = $2"),
                credential_id,
                status.as_str(),
                message.as_str()
            );
        }
        ValidationInconclusive { credential_id, .. } => {
            run!(update(""), credential_id);
        }
        PrimaryCredentialChanged {
            previous, current, ..
        } => {
            if let Some(previous) = previous {
                run!(update("is_primary = 0"), previous);
            }
            if let Some(current) = current {
                run!(update("is_primary = 1"), current);
            }
        }
        CredentialRevoked {
            credential_id,
            status,
            ..
        }
        | CredentialExpired {
            credential_id,
            status,
            ..
        } => {
            run!(update("status = $5"), credential_id, status.as_str());
        }
        CredentialErased { credential_id, .. } => {
            sqlx::query(&format!("DELETE FROM {t} WHERE credential_id = $1"))
                .bind(credential_id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        OAuthTokenRefreshed {
            credential_id,
            secret_version,
            expires_at,
            ..
        } => {
            run!(
                update("secret_version = $5, token_expires_at = $6"),
                credential_id,
                i64::from(*secret_version),
                expires_at.map(timestamp)
            );
        }
        CredentialSyncedToMcp { credential_id, .. } => {
            run!(
                update("sync_status = 'synced', last_synced_at = $2, sync_error = NULL"),
                credential_id
            );
        }
        CredentialSyncFailed {
            credential_id,
            error,
            ..
        } => {
            run!(
                update("sync_status = 'error', sync_error = $5"),
                credential_id,
                error.as_str()
            );
        }
    }
    Ok(())
}
