//! Data keys: one random AES-256 key per credential, stored only wrapped by a master key, in the
//! mutable `data_keys` table outside the event stream. Implements the domain's `Cipher` port,
//! opens sealed secrets, destroys keys on erasure and rewraps them on rotation.

use crate::crypto::{self, DataKey, KeyError, MasterKeyring};
use crate::db::{timestamp, Database, DbError};
use crate::remembered::Remembered;
use base64::Engine as _;
use credledger_domain::ports::{Cipher, CipherError};
use credledger_domain::{CredentialId, SealedSecret, SecretFields};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// Why a key or a secret could not be used. Every variant names the credential; none carries
/// key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("credential {0}: its data key was destroyed when it was erased")]
    Destroyed(CredentialId),
    #[error("credential {0}: no data key is stored for it")]
    Missing(CredentialId),
    #[error("credential {credential}: {source}")]
    Crypto {
        credential: CredentialId,
        #[source]
        source: KeyError,
    },
    #[error("credential {credential}: the decrypted secret is not valid ({detail})")]
    Corrupt {
        credential: CredentialId,
        detail: String,
    },
    #[error(
        "master key version {0} opens none of the data keys stored under that version: it is \
         not the key they were wrapped with (set CREDLEDGER_MASTER_KEYS, or \
         CREDLEDGER_MASTER_KEY_FILE, to the keys they were written with)"
    )]
    WrongMasterKey(u32),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for KeyStoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// How many data keys each master key version wraps, and how many were destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyCoverage {
    pub by_version: BTreeMap<i64, i64>,
    pub destroyed: i64,
}

#[derive(Clone)]
pub struct KeyStore {
    db: Database,
    keys: Arc<MasterKeyring>,
    /// Wrapped data keys read recently, so a disclosure does not read its key again: as safe
    /// in memory as in the table while the key lives (only the master keys, already in
    /// memory, open them). A key destroyed by this process is forgotten at once (its bytes
    /// wiped); one destroyed by another process is never asked for, because disclosures choose
    /// only credentials their keyring's stream still holds, and their use is recorded only
    /// while the stream has not moved on, and is dropped within [`WRAPPED_MAX_AGE`], so an
    /// erased secret's key does not stay in this process's memory. Remembered at the epoch of
    /// [`KeyStore::destroyed`]: a destruction by this process makes every key read before it
    /// stale.
    wrapped: Arc<Remembered<CredentialId, StoredKey>>,
    /// How many keys this process destroyed (the epoch of `wrapped`).
    destroyed: Arc<AtomicU64>,
}

/// Wrapped data keys remembered at most.
const WRAPPED_REMEMBERED: u64 = 20_000;
/// The longest a wrapped data key stays remembered (then it is read again).
const WRAPPED_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct StoredKey {
    dek_id: Uuid,
    /// Wiped when dropped (a destroyed key's last copy in memory included).
    wrapped: Option<zeroize::Zeroizing<Vec<u8>>>,
}

impl KeyStore {
    pub fn new(db: Database, keys: Arc<MasterKeyring>) -> Self {
        Self {
            db,
            keys,
            wrapped: Arc::new(Remembered::for_at_most(WRAPPED_REMEMBERED, WRAPPED_MAX_AGE)),
            destroyed: Arc::default(),
        }
    }

    /// Whether the database holds any data key (so a master key generated now could not open
    /// what is already stored).
    pub async fn any_stored(db: &Database) -> Result<bool, KeyStoreError> {
        let row = sqlx::query("SELECT 1 FROM data_keys LIMIT 1")
            .fetch_optional(&db.any)
            .await?;
        Ok(row.is_some())
    }

    /// Refuses master keys that open none of the data keys stored under their version (the
    /// first few of each are tried). A key file made anew, or a wrong line in
    /// `CREDLEDGER_MASTER_KEYS`, under a version the table already holds would otherwise be
    /// taken: every credential under it would fail to open, and what is added would be wrapped
    /// under a key the deployment never meant to keep, beside keys of the same version it
    /// cannot open.
    pub async fn check_master_keys(&self) -> Result<(), KeyStoreError> {
        for version in self.keys.versions() {
            let rows = sqlx::query(
                "SELECT credential_id, dek_id, wrapped FROM data_keys \
                 WHERE kek_version = $1 AND wrapped IS NOT NULL LIMIT 3",
            )
            .bind(i64::from(version))
            .fetch_all(&self.db.any)
            .await?;
            let opens = |row: &sqlx::any::AnyRow| -> Result<bool, sqlx::Error> {
                let credential: String = row.try_get("credential_id")?;
                let dek_id: String = row.try_get("dek_id")?;
                let wrapped: zeroize::Zeroizing<Vec<u8>> =
                    zeroize::Zeroizing::new(row.try_get("wrapped")?);
                Ok(Uuid::parse_str(&dek_id).is_ok_and(|dek_id| {
                    self.keys.unwrap_dek(&credential, dek_id, &wrapped).is_ok()
                }))
            };
            let mut opened_one = rows.is_empty();
            for row in &rows {
                opened_one |= opens(row)?;
            }
            if !opened_one {
                return Err(KeyStoreError::WrongMasterKey(version));
            }
        }
        Ok(())
    }

    pub fn master_keys(&self) -> &MasterKeyring {
        &self.keys
    }

    async fn stored(&self, credential: CredentialId) -> Result<Option<StoredKey>, KeyStoreError> {
        let row = sqlx::query("SELECT dek_id, wrapped FROM data_keys WHERE credential_id = $1")
            .bind(credential.to_string())
            .fetch_optional(&self.db.any)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let dek_id: String = row.try_get("dek_id")?;
        Ok(Some(StoredKey {
            dek_id: Uuid::parse_str(&dek_id).map_err(|e| KeyStoreError::Corrupt {
                credential,
                detail: format!("bad data key id: {e}"),
            })?,
            wrapped: row
                .try_get::<Option<Vec<u8>>, _>("wrapped")?
                .map(zeroize::Zeroizing::new),
        }))
    }

    fn unwrap_key(
        &self,
        credential: CredentialId,
        key: &StoredKey,
    ) -> Result<DataKey, KeyStoreError> {
        let wrapped = key
            .wrapped
            .as_deref()
            .ok_or(KeyStoreError::Destroyed(credential))?;
        self.keys
            .unwrap_dek(&credential.to_string(), key.dek_id, wrapped)
            .map_err(|source| KeyStoreError::Crypto { credential, source })
    }

    /// The credential's data key, created (and durably stored, wrapped) on first use. A new
    /// credential (`fresh`) tries the insert first, saving the lookups on the common path.
    async fn data_key(
        &self,
        credential: CredentialId,
        fresh: bool,
    ) -> Result<DataKey, KeyStoreError> {
        if !fresh {
            if let Some(key) = self.stored(credential).await? {
                return self.unwrap_key(credential, &key);
            }
        }
        let dek = DataKey::generate(Uuid::new_v4());
        let wrapped = self
            .keys
            .wrap_dek(&credential.to_string(), &dek)
            .map_err(|source| KeyStoreError::Crypto { credential, source })?;
        let inserted = sqlx::query(
            "INSERT INTO data_keys (dek_id, credential_id, kek_version, wrapped, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(dek.id().to_string())
        .bind(credential.to_string())
        .bind(i64::from(wrapped.kek_version))
        .bind(wrapped.bytes)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.db.any)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(dek);
        }
        // The credential already had a key (a retried command, or a concurrent writer): the
        // stored one wins.
        Ok(self.current(credential).await?.1)
    }

    /// The credential's stored key and the data key it unwraps to.
    async fn current(
        &self,
        credential: CredentialId,
    ) -> Result<(StoredKey, DataKey), KeyStoreError> {
        let key = self
            .stored(credential)
            .await?
            .ok_or(KeyStoreError::Missing(credential))?;
        let dek = self.unwrap_key(credential, &key)?;
        Ok((key, dek))
    }

    /// Decrypts a sealed secret of `credential` at `secret_version`, with its data key as
    /// stored now.
    pub async fn open(
        &self,
        credential: CredentialId,
        secret_version: u32,
        sealed: &SealedSecret,
    ) -> Result<SecretFields, KeyStoreError> {
        let (_, dek) = self.current(credential).await?;
        open_sealed(&dek, credential, secret_version, sealed)
    }

    /// As [`open`](Self::open), with the wrapped data key this process read last for the
    /// credential if it still opens (for disclosures, which ask for the same keys again and
    /// again). A key this process destroyed is never remembered.
    pub async fn open_remembered(
        &self,
        credential: CredentialId,
        secret_version: u32,
        sealed: &SealedSecret,
    ) -> Result<SecretFields, KeyStoreError> {
        // A remembered key that no longer opens (its master key was retired since) is read
        // again.
        let epoch = self.destroyed.load(Ordering::Acquire);
        let remembered = self
            .wrapped
            .get(&credential, epoch)
            .and_then(|key| self.unwrap_key(credential, &key).ok());
        let dek = match remembered {
            Some(dek) => dek,
            None => {
                let (key, dek) = self.current(credential).await?;
                if key.wrapped.is_some() {
                    self.wrapped.insert(credential, epoch, key);
                }
                dek
            }
        };
        open_sealed(&dek, credential, secret_version, sealed)
    }

    /// Crypto-shredding: overwrites and forgets the credential's wrapped data key. Idempotent.
    pub async fn destroy(&self, credential: CredentialId) -> Result<(), KeyStoreError> {
        let _writer = self.db.exclusive().await;
        sqlx::query(
            "UPDATE data_keys SET wrapped = NULL, destroyed_at = $2 \
             WHERE credential_id = $1 AND wrapped IS NOT NULL",
        )
        .bind(credential.to_string())
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.db.any)
        .await?;
        self.destroyed.fetch_add(1, Ordering::AcqRel);
        self.wrapped.forget(&credential);
        if self.db.backend() == crate::db::Backend::Sqlite {
            // secure_delete zeroes the page in the database file; the write-ahead log still
            // holds the old page until a checkpoint copies it back and truncates the log.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.db.any)
                .await?;
        }
        Ok(())
    }

    /// How many data keys each master key version wraps.
    pub async fn coverage(&self) -> Result<KeyCoverage, KeyStoreError> {
        let rows = sqlx::query(
            "SELECT kek_version, CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(SUM(CASE WHEN wrapped IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS destroyed \
             FROM data_keys GROUP BY kek_version ORDER BY kek_version",
        )
        .fetch_all(&self.db.any)
        .await?;
        let mut coverage = KeyCoverage::default();
        for row in rows {
            let (version, n, destroyed): (i64, i64, i64) = (
                row.try_get("kek_version")?,
                row.try_get("n")?,
                row.try_get("destroyed")?,
            );
            coverage.destroyed += destroyed;
            if n > destroyed {
                coverage.by_version.insert(version, n - destroyed);
            }
        }
        Ok(coverage)
    }

    /// Rewraps up to `limit` data keys that are not under the active master key, in one
    /// statement (so a crash leaves each key either wholly old or wholly new). Returns how many
    /// it found under another version; 0 means every live key is under the active version.
    /// A key another run rewrapped meanwhile is left as that run wrote it (never taken back
    /// to an older version) and found again by the next batch if it still needs it.
    pub async fn rewrap_batch(&self, limit: usize) -> Result<usize, KeyStoreError> {
        let plan = self.plan_rewrap(limit).await?;
        let found = plan.keys.len();
        self.apply_rewrap(plan).await?;
        Ok(found)
    }

    /// Reads up to `limit` keys under another version than the active one and wraps each
    /// under the active one (in memory).
    async fn plan_rewrap(&self, limit: usize) -> Result<RewrapPlan, KeyStoreError> {
        let active = i64::from(self.keys.active_version());
        let rows = sqlx::query(
            "SELECT dek_id, credential_id, kek_version, wrapped FROM data_keys \
             WHERE kek_version <> $1 AND wrapped IS NOT NULL ORDER BY dek_id LIMIT $2",
        )
        .bind(active)
        .bind(limit as i64)
        .fetch_all(&self.db.any)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let dek_id: String = row.try_get("dek_id")?;
            let credential_id: String = row.try_get("credential_id")?;
            let read_version: i64 = row.try_get("kek_version")?;
            let credential = CredentialId::parse(&credential_id).map_err(|e| {
                KeyStoreError::Db(DbError::Query(sqlx::Error::Decode(e.to_string().into())))
            })?;
            let key = StoredKey {
                dek_id: Uuid::parse_str(&dek_id).map_err(|e| KeyStoreError::Corrupt {
                    credential,
                    detail: format!("bad data key id: {e}"),
                })?,
                wrapped: row
                    .try_get::<Option<Vec<u8>>, _>("wrapped")?
                    .map(zeroize::Zeroizing::new),
            };
            let dek = self.unwrap_key(credential, &key)?;
            let wrapped = self
                .keys
                .wrap_dek(&credential_id, &dek)
                .map_err(|source| KeyStoreError::Crypto { credential, source })?;
            keys.push((dek_id, wrapped.bytes, read_version));
        }
        Ok(RewrapPlan { active, keys })
    }

    /// Writes a plan's keys, each only if it is still under the version the plan read.
    async fn apply_rewrap(&self, plan: RewrapPlan) -> Result<usize, KeyStoreError> {
        if plan.keys.is_empty() {
            return Ok(0);
        }
        // Every parameter appears once, in text order (the new version and time as a one-row
        // `p`), so the same statement serves numbered and `?` placeholders.
        let sqlite = self.db.backend() == crate::db::Backend::Sqlite;
        let sql = format!(
            "WITH p(version, at) AS (VALUES {}), v(dek_id, wrapped, was) AS (VALUES {}) \
             UPDATE data_keys SET wrapped = v.wrapped, kek_version = p.version, rotated_at = p.at \
             FROM v, p WHERE data_keys.dek_id = v.dek_id AND data_keys.kek_version = v.was \
             AND data_keys.wrapped IS NOT NULL",
            crate::db::tuples(sqlite, 1, 1, 2),
            crate::db::tuples(sqlite, 3, plan.keys.len(), 3)
        );
        let mut query = sqlx::query(&sql)
            .bind(plan.active)
            .bind(timestamp(chrono::Utc::now()));
        for (dek_id, wrapped, was) in plan.keys {
            query = query.bind(dek_id).bind(wrapped).bind(was);
        }
        let _writer = self.db.exclusive().await;
        let done = query.execute(&self.db.any).await?.rows_affected();
        Ok(done as usize)
    }
}

/// Keys read under another version and wrapped anew under `active`, not yet written.
struct RewrapPlan {
    active: i64,
    /// (data key id, the key wrapped under `active`, the version it was read under).
    keys: Vec<(String, Vec<u8>, i64)>,
}

fn open_sealed(
    dek: &DataKey,
    credential: CredentialId,
    secret_version: u32,
    sealed: &SealedSecret,
) -> Result<SecretFields, KeyStoreError> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&sealed.ciphertext)
        .map_err(|_| KeyStoreError::Crypto {
            credential,
            source: KeyError::Truncated,
        })?;
    let plain = crypto::open_secret(dek, &credential.to_string(), secret_version, &blob)
        .map_err(|source| KeyStoreError::Crypto { credential, source })?;
    SecretFields::from_json_bytes(&plain).map_err(|e| KeyStoreError::Corrupt {
        credential,
        detail: e.to_string(),
    })
}

#[async_trait::async_trait]
impl Cipher for KeyStore {
    async fn seal(
        &self,
        credential: CredentialId,
        secret_version: u32,
        fields: &SecretFields,
    ) -> Result<SealedSecret, CipherError> {
        let dek = self
            .data_key(credential, secret_version == 1)
            .await
            .map_err(|e| match e {
                KeyStoreError::Destroyed(_) => CipherError::KeyDestroyed,
                KeyStoreError::Db(e) if e.is_unavailable() => {
                    CipherError::Unavailable(e.to_string())
                }
                other => CipherError::Failed(other.to_string()),
            })?;
        let blob = crypto::seal_secret(
            &dek,
            &credential.to_string(),
            secret_version,
            &fields.to_json_bytes(),
        )
        .map_err(|e| CipherError::Failed(format!("credential {credential}: {e}")))?;
        Ok(SealedSecret {
            dek_id: dek.id(),
            ciphertext: base64::engine::general_purpose::STANDARD.encode(blob),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DatabaseConfig, DEFAULT_CONNECTION_WAIT};
    use crate::remembered::Lookup;

    async fn database(dir: &tempfile::TempDir) -> Database {
        let db = Database::connect(&DatabaseConfig {
            url: None,
            data_dir: dir.path().into(),
            max_connections: 2,
            connection_wait: DEFAULT_CONNECTION_WAIT,
        })
        .await
        .expect("a database");
        db.migrate().await.expect("migrated");
        db
    }

    /// A store with master key versions 1..=`versions` (the lines given, then new ones).
    fn store(db: &Database, lines: &mut Vec<String>, versions: u32) -> KeyStore {
        while lines.len() < versions as usize {
            let next = lines.len() as u32 + 1;
            lines.push(crypto::generate_key_spec_line(next).trim().to_owned());
        }
        let spec = lines[..versions as usize].join("\n");
        KeyStore::new(
            db.clone(),
            Arc::new(MasterKeyring::parse(&spec).expect("keys")),
        )
    }

    #[tokio::test]
    async fn a_stale_rewrap_never_takes_a_key_back_to_an_older_version() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let mut lines = Vec::new();
        let id = CredentialId::from_uuid(Uuid::new_v4());
        let fields = SecretFields::from_json_bytes(br#"{"token":"t"}"#).expect("fields");
        let sealed = store(&db, &mut lines, 1)
            .seal(id, 1, &fields)
            .await
            .expect("sealed");
        // Run A (keys 1–2) reads the key under version 1; run B (keys 1–3) rewraps it to 3.
        let (a, b) = (store(&db, &mut lines, 2), store(&db, &mut lines, 3));
        let stale = a.plan_rewrap(10).await.expect("planned");
        assert_eq!(b.rewrap_batch(10).await.expect("rewrapped"), 1);
        // A's write finds the key no longer under the version it read: it writes nothing.
        assert_eq!(a.apply_rewrap(stale).await.expect("applied"), 0);
        let coverage = b.coverage().await.expect("coverage");
        assert_eq!(
            coverage.by_version.get(&3),
            Some(&1),
            "{:?}",
            coverage.by_version
        );
        assert_eq!(b.rewrap_batch(10).await.expect("nothing left"), 0);
        b.open(id, 1, &sealed).await.expect("still opens");
    }

    #[tokio::test]
    async fn a_destroyed_key_is_forgotten_at_once() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let store = store(&db, &mut Vec::new(), 1);
        let id = CredentialId::from_uuid(Uuid::new_v4());
        let fields = SecretFields::from_json_bytes(br#"{"token":"t"}"#).expect("fields");
        let sealed = store.seal(id, 1, &fields).await.expect("sealed");
        store.open_remembered(id, 1, &sealed).await.expect("opened");
        let remembered = |epoch| store.wrapped.look_up(&id, epoch);
        assert!(matches!(remembered(0), Lookup::Current(_)));
        store.destroy(id).await.expect("destroyed");
        // Not merely outdated: gone, its bytes wiped as they were dropped.
        for epoch in [0, 1] {
            assert!(matches!(remembered(epoch), Lookup::Missing));
        }
    }
}
