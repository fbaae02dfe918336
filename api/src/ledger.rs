//! The application's use cases over the ledger: parse raw input, run the aggregate's command,
//! destroy keys on erasure, wait until the read models show the change (read-your-writes).

use cqrs_es::{Aggregate as _, DomainEvent as _};
use credledger_adapters::append::{GroupAppender, Guard, NewEvent};
use credledger_adapters::keystore::{KeyStore, KeyStoreError};
use credledger_adapters::remembered::Remembered;
use credledger_adapters::{CommandBus, CommandError, Committed, Database, DbError};
use credledger_domain::keyring::{
    CredentialState, HeldCopy, Keyring, KeyringCommand, KeyringError, KeyringServices,
    ValidationOutcome,
};
use credledger_domain::usage::{
    usage_stream_id, CredentialUsage, RecordUse, UsageError, UsePurpose,
};
use credledger_domain::{
    Catalog, CredentialId, CredentialName, EventMetadata, InputError, KeyringId, SecretFields,
    ServiceKey, UserId,
};
use credledger_projections::{
    audit_trail, audit_trail::AuditTrail, credential_summary,
    credential_summary::CredentialSummary, mcp_sync::McpSync, Model, Projections,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a use case failed. `code()` is the stable code clients see; messages are for people and
/// never contain secret values or internal detail.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Rule(KeyringError),
    #[error("credential not found")]
    NotFound,
    #[error("the record was changed by someone else at the same time; try again")]
    Conflict,
    #[error("the ledger is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// Who a disclosure is for and how it is made.
struct Disclosure<'a> {
    consumer: &'a str,
    tool: Option<String>,
    purpose: UsePurpose,
    meta: &'a EventMetadata,
    /// Choose on the keyring as remembered, without reading its stream first (the guard makes
    /// a stale memory cost a second attempt, never a wrong disclosure).
    trust_memory: bool,
    /// Wait until the read models show the use (a person revealing a secret sees it counted; a
    /// machine's resolve does not need to).
    settle: bool,
}

/// How many times a disclosure is decided again because its keyring changed meanwhile.
const DISCLOSURE_ATTEMPTS: u32 = 8;

impl LedgerError {
    /// The API's code for this error (`VALIDATION`, `NOT_FOUND`, …; see `crate::error`).
    pub fn code(&self) -> &'static str {
        crate::error::ApiError::from(self).code()
    }
}

impl From<CommandError<KeyringError>> for LedgerError {
    fn from(e: CommandError<KeyringError>) -> Self {
        match e {
            CommandError::Domain(KeyringError::Input(i)) => Self::Input(i),
            CommandError::Domain(KeyringError::NotFound(_)) => Self::NotFound,
            CommandError::Domain(KeyringError::KeysUnavailable(d)) => Self::Unavailable(d),
            CommandError::Domain(d) => Self::Rule(d),
            CommandError::Conflict => Self::Conflict,
            CommandError::Unavailable(d) => Self::Unavailable(d),
            CommandError::Internal(d) => Self::Internal(d),
        }
    }
}

impl From<CommandError<UsageError>> for LedgerError {
    fn from(e: CommandError<UsageError>) -> Self {
        match e {
            CommandError::Domain(d) => Self::Internal(d.to_string()),
            CommandError::Conflict => Self::Conflict,
            CommandError::Unavailable(d) => Self::Unavailable(d),
            CommandError::Internal(d) => Self::Internal(d),
        }
    }
}

impl From<KeyStoreError> for LedgerError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            // The database could not be reached to read or store a key: unavailable, as any
            // other statement would be (a disclosure answered INTERNAL, with no Retry-After).
            KeyStoreError::Db(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<credledger_adapters::DbError> for LedgerError {
    fn from(e: credledger_adapters::DbError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        credledger_adapters::DbError::Query(e).into()
    }
}

impl From<credledger_projections::ProjectionError> for LedgerError {
    fn from(e: credledger_projections::ProjectionError) -> Self {
        match e {
            credledger_projections::ProjectionError::Db(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A new credential as it arrives from outside (unparsed).
pub struct NewCredential<'a> {
    pub user_id: &'a str,
    pub service: &'a str,
    pub name: &'a str,
    /// A JSON object of strings, as raw bytes (may be anything, including invalid UTF-8).
    pub fields_json: &'a [u8],
    pub metadata: BTreeMap<String, String>,
    pub validation: Option<ValidationOutcome>,
}

/// `fields_json` is the plaintext secret: never printed.
impl std::fmt::Debug for NewCredential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("user_id", &self.user_id)
            .field("service", &self.service)
            .field("name", &self.name)
            .field("fields_json", &"<redacted>")
            .field("metadata", &self.metadata)
            .field("validation", &self.validation)
            .finish()
    }
}

/// A credential resolved for a machine client (after its use was recorded).
pub struct Resolved {
    pub credential_id: CredentialId,
    pub name: CredentialName,
    pub fields: SecretFields,
    pub secret_version: u32,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("credential_id", &self.credential_id)
            .field("name", &self.name)
            .field("secret_version", &self.secret_version)
            .finish_non_exhaustive()
    }
}

/// The ledger's use cases, shared by the server, the CLI and tests. One is built per process
/// ([`Ledger::new`] starts the process's group writer); [`Ledger::without_read_your_writes`]
/// gives a handle on the same writer and memories for callers nobody waits on.
#[derive(Clone)]
pub struct Ledger {
    pub db: Database,
    pub keys: KeyStore,
    pub catalog: Arc<Catalog>,
    pub projections: Arc<Projections>,
    keyrings: Arc<CommandBus<Keyring>>,
    /// This process's group writer: commands' events and `CredentialUsed` records.
    appender: GroupAppender,
    /// How long a command waits for the read models (0 = don't wait).
    read_your_writes: Duration,
    /// Which keyring each credential seen lives in. A credential never moves, so what is
    /// remembered stays true (one epoch forever); only an unknown id asks the read model.
    located: Arc<Remembered<CredentialId, KeyringId>>,
}

/// Credentials whose keyring is remembered at most.
const LOCATED_REMEMBERED: u64 = 100_000;

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    /// The ledger over `db`, committing through `appender` (the process's one group writer,
    /// [`GroupAppender::start`]).
    pub fn new(
        db: Database,
        appender: GroupAppender,
        keys: KeyStore,
        catalog: Arc<Catalog>,
        projections: Arc<Projections>,
        read_your_writes: Duration,
    ) -> Self {
        let keyrings = Arc::new(CommandBus::new(
            &db,
            &appender,
            KeyringServices {
                cipher: Arc::new(keys.clone()),
                catalog: catalog.clone(),
            },
        ));
        Self {
            db,
            keys,
            catalog,
            projections,
            keyrings,
            appender,
            read_your_writes,
            located: Arc::new(Remembered::new(LOCATED_REMEMBERED)),
        }
    }

    /// This ledger for callers whose writes nobody reads back at once (the scheduled jobs, the
    /// MCP sender): the same writer and memories, without the read-your-writes wait.
    pub fn without_read_your_writes(&self) -> Self {
        Self {
            read_your_writes: Duration::ZERO,
            ..self.clone()
        }
    }

    fn remember_location(&self, credential: CredentialId, keyring: &KeyringId) {
        self.located.insert(credential, 0, keyring.clone());
    }

    /// The group writer every command bus of this ledger commits through.
    pub fn appender(&self) -> &GroupAppender {
        &self.appender
    }

    pub(crate) async fn settle(&self, committed: Committed) -> Result<Committed, LedgerError> {
        self.settle_for(committed, &[&CredentialSummary, &McpSync, &AuditTrail])
            .await
    }

    /// Waits (bounded) until `consumers` show the commit, so the answer reads its own writes.
    /// Past the wait the command stays committed: an answer built afterwards asks
    /// [`Ledger::shows`] whether the read models have it, and builds from the stream if not.
    pub(crate) async fn settle_for(
        &self,
        committed: Committed,
        consumers: &[Model],
    ) -> Result<Committed, LedgerError> {
        if !self.read_your_writes.is_zero() {
            let _ = self
                .projections
                .wait_for_some(committed.position, consumers, self.read_your_writes)
                .await;
        }
        Ok(committed)
    }

    /// Whether `consumer` has applied the ledger up to `committed` in this process.
    pub fn shows(&self, consumer: Model, committed: Committed) -> bool {
        self.projections
            .progress(consumer)
            .is_some_and(|p| *p.borrow() >= committed.position)
    }

    /// Where a credential lives (user and service), from the read model.
    pub async fn locate(&self, credential: &str) -> Result<(CredentialId, KeyringId), LedgerError> {
        let id = CredentialId::parse(credential)?;
        if let Some(keyring) = self.located.get(&id, 0) {
            return Ok((id, keyring));
        }
        let (user, service) = credential_summary::keyring_of(&self.db.any, &id.to_string())
            .await?
            .ok_or(LedgerError::NotFound)?;
        let keyring = KeyringId::new(UserId::parse(&user)?, ServiceKey::parse(&service)?);
        self.remember_location(id, &keyring);
        Ok((id, keyring))
    }

    async fn run(
        &self,
        keyring: &KeyringId,
        command: KeyringCommand,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let committed = self
            .keyrings
            .execute(&keyring.to_string(), command, meta)
            .await?;
        self.settle(committed).await
    }

    /// Runs a keyring command as it is (for adapters that build their own, like the MCP sync).
    pub async fn command(
        &self,
        keyring: &KeyringId,
        command: KeyringCommand,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        self.run(keyring, command, meta).await
    }

    /// Registers a credential (optionally with the live check done just before).
    pub async fn register(
        &self,
        new: NewCredential<'_>,
        credential_id: CredentialId,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        self.register_held(new, credential_id, None, meta).await
    }

    /// [`Ledger::register`], with the copy an MCP server holds already (an imported credential)
    /// recorded as synced in the same append.
    pub async fn register_held(
        &self,
        new: NewCredential<'_>,
        credential_id: CredentialId,
        held_by: Option<HeldCopy>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let user_id = UserId::parse(new.user_id)?;
        let definition = self.catalog.enabled_service(new.service)?;
        let name = CredentialName::parse(new.name)?;
        let fields = SecretFields::from_json_bytes(new.fields_json)?;
        definition.check_fields(&fields)?;
        let keyring = KeyringId::new(user_id.clone(), definition.key.clone());
        let committed = self
            .run(
                &keyring,
                KeyringCommand::RegisterCredential {
                    credential_id,
                    user_id,
                    service: definition.key.clone(),
                    name,
                    metadata: new.metadata,
                    fields,
                    validation: new.validation,
                    held_by,
                },
                meta,
            )
            .await?;
        self.remember_location(credential_id, &keyring);
        Ok(committed)
    }

    pub async fn update(
        &self,
        credential: &str,
        name: Option<&str>,
        metadata: Option<BTreeMap<String, String>>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        self.update_with_secret(credential, name, metadata, None, meta)
            .await
    }

    /// Renames, relabels and gives a new secret (its fields as JSON, with the outcome of the
    /// live check done just before) to a credential in one command: all of it is kept, or none
    /// of it (a taken name leaves the secret as it was; a revoked credential keeps its name).
    pub async fn update_with_secret(
        &self,
        credential: &str,
        name: Option<&str>,
        metadata: Option<BTreeMap<String, String>>,
        secret: Option<(&[u8], Option<ValidationOutcome>)>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let name = name.map(CredentialName::parse).transpose()?;
        let secret = secret
            .map(|(json, outcome)| SecretFields::from_json_bytes(json).map(|f| (f, outcome)))
            .transpose()?;
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::UpdateCredential {
                credential_id,
                name,
                metadata,
                secret,
            },
            meta,
        )
        .await
    }

    pub async fn replace_secret(
        &self,
        credential: &str,
        fields_json: &[u8],
        validation: Option<ValidationOutcome>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let fields = SecretFields::from_json_bytes(fields_json)?;
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::ReplaceSecret {
                credential_id,
                fields,
                validation,
            },
            meta,
        )
        .await
    }

    pub async fn record_validation(
        &self,
        credential: &str,
        secret_version: u32,
        outcome: ValidationOutcome,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::RecordValidation {
                credential_id,
                secret_version,
                outcome,
            },
            meta,
        )
        .await
    }

    /// Marks a credential expired (`CredentialExpired`) once its token expiry is at or before
    /// `now`. The keyring refuses (`NotExpired`) when the expiry has moved since the read model
    /// was read — a newer check or refresh — and a revoked or already expired credential.
    pub async fn mark_expired(
        &self,
        credential: &str,
        now: chrono::DateTime<chrono::Utc>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::MarkExpired { credential_id, now },
            meta,
        )
        .await
    }

    /// Marks a credential expired now because its provider ended the authorization (an OAuth
    /// grant revoked), whatever its token's expiry says.
    pub async fn end_authorization(
        &self,
        credential: &str,
        now: chrono::DateTime<chrono::Utc>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::EndAuthorization { credential_id, now },
            meta,
        )
        .await
    }

    pub async fn set_primary(
        &self,
        credential: &str,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(&keyring, KeyringCommand::SetPrimary { credential_id }, meta)
            .await
    }

    pub async fn revoke(
        &self,
        credential: &str,
        reason: Option<String>,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.run(
            &keyring,
            KeyringCommand::RevokeCredential {
                credential_id,
                reason,
            },
            meta,
        )
        .await
    }

    /// Erases a credential: appends `CredentialErased`, then destroys its data key. The event
    /// comes first so a failure can never leave a live credential without its key. The command
    /// and the destruction run in a task of their own, so a caller that goes away, even once
    /// the event is committed, does not stop the destruction; once the
    /// event is committed the answer says the credential is erased, and a key left behind (the
    /// database failed in between, a crash) is destroyed by [`Ledger::shred_erased`], which
    /// `serve` runs at start and every expiry run runs.
    pub async fn erase(
        &self,
        credential: &str,
        meta: &EventMetadata,
    ) -> Result<Committed, LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        // The command and the key's destruction in one task: a caller that goes away once the
        // erasure is committed (a client hanging up) does not leave the key until the sweep.
        let (keyrings, keys, meta) = (self.keyrings.clone(), self.keys.clone(), meta.clone());
        let erased = tokio::spawn(async move {
            let committed = keyrings
                .execute(
                    &keyring.to_string(),
                    KeyringCommand::EraseCredential { credential_id },
                    &meta,
                )
                .await?;
            if let Err(error) = keys.destroy(credential_id).await {
                tracing::error!(credential = %credential_id, %error, "the erased credential's data key is not destroyed yet; the next sweep destroys it");
            }
            Ok::<_, LedgerError>(committed)
        })
        .await
        .map_err(|e| LedgerError::Internal(format!("the erasure's task ended: {e}")))??;
        self.settle(erased).await
    }

    /// Destroys the data keys of every erased credential that still has one (after a crash
    /// between the erasure event and the key's destruction). Returns how many were destroyed.
    pub async fn shred_erased(&self) -> Result<u64, LedgerError> {
        let mut n = 0;
        for id in audit_trail::erased_with_keys(&self.db.any).await? {
            self.keys.destroy(CredentialId::parse(&id)?).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Gives the owner their secret. The disclosure is recorded durably first; if it cannot be
    /// recorded, no secret is returned.
    pub async fn reveal(
        &self,
        owner: &str,
        credential: &str,
        meta: &EventMetadata,
    ) -> Result<SecretFields, LedgerError> {
        let owner = UserId::parse(owner)?;
        let (credential_id, keyring) = self.locate(credential).await?;
        if keyring.user_id != owner {
            return Err(LedgerError::NotFound);
        }
        let disclosure = Disclosure {
            consumer: "owner",
            tool: None,
            purpose: UsePurpose::Reveal,
            meta,
            trust_memory: false,
            settle: true,
        };
        let (_, fields) = self
            .disclose(&keyring, disclosure, |state| {
                state.credential(credential_id)
            })
            .await?;
        Ok(fields)
    }

    /// Gives a machine client the user's primary active credential for a service (or the active
    /// one named `name`), recording `CredentialUsed` durably first.
    pub async fn resolve(
        &self,
        user: &str,
        service: &str,
        name: Option<&str>,
        consumer: &str,
        tool: Option<String>,
        meta: &EventMetadata,
    ) -> Result<Resolved, LedgerError> {
        let user = UserId::parse(user)?;
        let definition = self.catalog.enabled_service(service)?;
        let name = name.map(CredentialName::parse).transpose()?;
        let keyring = KeyringId::new(user, definition.key.clone());
        // Decided on the keyring as this process remembers it: the use is recorded only if the
        // keyring has not changed since, and otherwise decided again on what the stream holds.
        let disclosure = Disclosure {
            consumer,
            tool,
            purpose: UsePurpose::Resolve,
            meta,
            trust_memory: true,
            settle: false,
        };
        let (chosen, fields) = self
            .disclose(&keyring, disclosure, |state| {
                state
                    .credentials()
                    .filter(|c| c.status == credledger_domain::keyring::CredentialStatus::Active)
                    .find(|c| match &name {
                        Some(n) => &c.name == n,
                        None => c.is_primary,
                    })
            })
            .await?;
        Ok(Resolved {
            credential_id: chosen.id,
            name: chosen.name,
            fields,
            secret_version: chosen.secret_version,
            expires_at: chosen.expires_at,
        })
    }

    /// Records a disclosure durably (group-committed with other uses), then decrypts. No event,
    /// no secret. The use is written only if the keyring's stream still ends where the state the
    /// credential was chosen from ended (a guarded append, checked under the position lock), so
    /// the choice is never made on a state older than the stream: what `choose` refuses (a
    /// resolve refuses revoked credentials; a reveal shows its owner a revoked one, never an
    /// erased one or a replaced secret) stays refused whatever another process recorded; when
    /// the keyring moved on, the choice is made again on its new state.
    async fn disclose(
        &self,
        keyring: &KeyringId,
        d: Disclosure<'_>,
        choose: impl Fn(&Keyring) -> Option<&CredentialState>,
    ) -> Result<(CredentialState, SecretFields), LedgerError> {
        let stream = keyring.to_string();
        let mut from_memory = d.trust_memory;
        for attempt in 0..DISCLOSURE_ATTEMPTS {
            let remembered = if from_memory {
                self.keyrings.remembered(&stream)
            } else {
                None
            };
            from_memory = remembered.is_some();
            let (sequence, state) = match remembered {
                Some(known) => known,
                None => self.keyrings.load_sequenced(&stream).await?,
            };
            let Some(chosen) = choose(&state).cloned() else {
                if from_memory {
                    // Not there as remembered: ask the stream.
                    from_memory = false;
                    continue;
                }
                return Err(LedgerError::NotFound);
            };
            from_memory = false;
            let event = CredentialUsage::decide(RecordUse {
                credential_id: chosen.id,
                user_id: keyring.user_id.clone(),
                service: keyring.service.clone(),
                consumer: d.consumer.chars().take(128).collect(),
                tool: d.tool.clone(),
                purpose: d.purpose,
            })
            .map_err(|e| {
                LedgerError::Input(InputError::Malformed {
                    what: "use",
                    detail: e.to_string(),
                })
            })?;
            let day = d.meta.occurred_at.date_naive();
            let recorded = self
                .appender
                .append_guarded(
                    NewEvent {
                        aggregate_type: CredentialUsage::TYPE,
                        aggregate_id: usage_stream_id(chosen.id, day),
                        event_type: event.event_type(),
                        event_version: event.event_version(),
                        payload: serde_json::to_string(&event)
                            .map_err(|e| LedgerError::Internal(e.to_string()))?,
                        metadata: serde_json::to_string(&d.meta.to_map())
                            .map_err(|e| LedgerError::Internal(e.to_string()))?,
                    },
                    Guard {
                        aggregate_type: Keyring::TYPE,
                        aggregate_id: stream.clone(),
                        sequence,
                    },
                )
                .await;
            let position = match recorded {
                Ok(position) => position,
                Err(DbError::Conflict) => {
                    if attempt > 0 {
                        // The keyring is busy: let its writers through.
                        let jitter = rand::random::<u64>() % (2 * u64::from(attempt) + 1);
                        tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let fields = self
                .keys
                .open_remembered(chosen.id, chosen.secret_version, &chosen.secret)
                .await?;
            if d.settle {
                self.settle(Committed { position }).await?;
            }
            return Ok((chosen, fields));
        }
        Err(LedgerError::Conflict)
    }

    /// A credential's current secret and its version, for a live check by this service. Not a
    /// disclosure: the plaintext goes only to the provider that issued it.
    pub async fn secret_for_check(
        &self,
        credential: &str,
    ) -> Result<(KeyringId, u32, SecretFields), LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        let state = self.keyrings.load(&keyring.to_string()).await?;
        let c = state
            .credential(credential_id)
            .ok_or(LedgerError::NotFound)?;
        let (sealed, version) = (c.secret.clone(), c.secret_version);
        let fields = self.keys.open(credential_id, version, &sealed).await?;
        Ok((keyring, version, fields))
    }

    /// A credential's current secret and its version, for a live check whose outcome is to be
    /// recorded; refused, as recording it would be, when the credential is revoked on its
    /// stream: its secret is then sent nowhere.
    pub async fn secret_to_validate(
        &self,
        credential: &str,
    ) -> Result<(u32, SecretFields), LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        self.open_to_validate(credential_id, &keyring).await
    }

    /// [`Ledger::secret_to_validate`] for a credential a scheduled run listed as stale (checked
    /// before `checked_before`, or never) perhaps hours ago: `None`, opening no secret, when a
    /// check at or after `checked_before` is recorded since (someone revalidated it meanwhile).
    /// The credential's row, read for that, also says where it lives: one read of it in place
    /// of the location lookup, then the keyring's load. A check whose answer is not in the read
    /// model yet (an interactive one waits for it before answering) is not seen.
    pub async fn stale_secret_to_validate(
        &self,
        credential: &str,
        checked_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(u32, SecretFields)>, LedgerError> {
        let credential_id = CredentialId::parse(credential)?;
        let (user, service, checked) = credential_summary::keyring_and_check(
            &self.db.any,
            &credential_id.to_string(),
            &credledger_adapters::db::timestamp(checked_before),
        )
        .await?
        .ok_or(LedgerError::NotFound)?;
        if checked {
            return Ok(None);
        }
        let keyring = KeyringId::new(UserId::parse(&user)?, ServiceKey::parse(&service)?);
        self.remember_location(credential_id, &keyring);
        self.open_to_validate(credential_id, &keyring)
            .await
            .map(Some)
    }

    /// The credential's current secret and version, unless it is revoked: one load of its
    /// keyring.
    async fn open_to_validate(
        &self,
        credential_id: CredentialId,
        keyring: &KeyringId,
    ) -> Result<(u32, SecretFields), LedgerError> {
        let state = self.keyrings.load(&keyring.to_string()).await?;
        state
            .check_not_revoked(credential_id, "validated")
            .map_err(refused)?;
        let c = state
            .credential(credential_id)
            .ok_or(LedgerError::NotFound)?;
        let fields = self
            .keys
            .open(credential_id, c.secret_version, &c.secret)
            .await?;
        Ok((c.secret_version, fields))
    }

    /// Refuses, as the command would, a credential revoked on its stream: before its secret is
    /// sent to its provider for a check whose outcome could not be recorded (`action`:
    /// "given a new secret").
    pub async fn refuse_if_revoked(
        &self,
        credential: &str,
        action: &'static str,
    ) -> Result<(), LedgerError> {
        let (credential_id, keyring) = self.locate(credential).await?;
        let state = self.keyrings.load(&keyring.to_string()).await?;
        state
            .check_not_revoked(credential_id, action)
            .map_err(refused)
    }

    /// The keyring's state (sealed secrets only).
    pub async fn keyring(&self, keyring: &KeyringId) -> Result<Keyring, LedgerError> {
        Ok(self.keyrings.load(&keyring.to_string()).await?)
    }
}

/// A keyring's refusal of a credential: one that does not exist is not found.
fn refused(e: KeyringError) -> LedgerError {
    match e {
        KeyringError::NotFound(_) => LedgerError::NotFound,
        e => LedgerError::Rule(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_store_that_cannot_reach_the_database_is_unavailable_not_internal() {
        use super::LedgerError;
        use credledger_adapters::keystore::KeyStoreError;
        use credledger_adapters::DbError;
        let unreachable = KeyStoreError::Db(DbError::Query(sqlx::Error::PoolTimedOut));
        assert!(matches!(
            LedgerError::from(unreachable),
            LedgerError::Unavailable(_)
        ));
        let refused = KeyStoreError::Db(DbError::Query(sqlx::Error::RowNotFound));
        assert!(matches!(
            LedgerError::from(refused),
            LedgerError::Internal(_)
        ));
        // A command that could not seal its secret for the same reason.
        let sealing = credledger_adapters::store::CommandError::Domain(
            credledger_domain::keyring::KeyringError::KeysUnavailable("pool timed out".into()),
        );
        assert!(matches!(
            LedgerError::from(sealing),
            LedgerError::Unavailable(_)
        ));
    }

    #[test]
    fn a_new_credential_never_prints_its_secret() {
        let new = super::NewCredential {
            user_id: "alice",
            service: "notion",
            name: "Work",
            fields_json: br#"{"token":"canary-debug-1"}"#,
            metadata: Default::default(),
            validation: None,
        };
        let printed = format!("{new:?}");
        assert!(!printed.contains("canary-debug-1"), "{printed}");
        assert!(printed.contains("alice"));
    }
}
