//! Keys and ciphers for credential secrets: the master keyring, per-credential
//! data keys, and the two ciphertext formats credledger writes.
//!
//! credledger uses a two-level key hierarchy. Operators hold a small set of
//! versioned 256-bit *master keys* (key-encryption keys, KEKs) in
//! `CREDLEDGER_MASTER_KEYS` or a key file; the highest version is active. Every
//! credential gets its own random 256-bit *data key* (DEK). Secret values are
//! sealed under the credential's DEK, and the DEK itself is stored only in
//! wrapped form, sealed under a KEK. Rotating a master key therefore means
//! re-wrapping a few dozen bytes per credential rather than re-encrypting every
//! secret, and a leaked DEK exposes one credential, not the ledger.
//!
//! Both layers use AES-256-GCM with a fresh random 96-bit nonce from the
//! operating system's RNG. Each ciphertext starts with a format byte and the id
//! of the key it was sealed under, so the right key can be found and future
//! formats can be told apart. The associated data (AAD) binds each ciphertext
//! to its owner: a wrapped DEK to its credential id, DEK id and KEK version, and
//! a sealed secret to its credential id, secret version and DEK id. Copying a
//! ciphertext onto another credential, another secret version or another key
//! makes authentication fail instead of silently decrypting the wrong thing.
//!
//! This module is pure: it does no database work and no async I/O; the only
//! files it touches are key files whose paths it is given. Key bytes live in
//! [`Zeroizing`] buffers, `Debug` output never shows them, and error messages
//! never echo key material.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The only ciphertext format this module writes and reads.
const FORMAT_V1: u8 = 0x01;
/// Length of every key (KEK and DEK): 256 bits.
const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce: 96 bits.
const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag.
const TAG_LEN: usize = 16;
/// Length of a UUID in bytes.
const UUID_LEN: usize = 16;
/// `[format][kek_version u32 BE][nonce]`
const WRAPPED_HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// `[format][dek_id][nonce]`
const SECRET_HEADER_LEN: usize = 1 + UUID_LEN + NONCE_LEN;
/// Domain separator at the start of a wrapped DEK's AAD.
const DEK_AAD_DOMAIN: &[u8] = b"credledger.dek.v1";
/// Domain separator at the start of a sealed secret's AAD.
const SECRET_AAD_DOMAIN: &[u8] = b"credledger.secret.v1";
/// Comment written at the top of a freshly generated key file.
const KEY_FILE_HEADER: &str = "# credledger master keys: one `version:base64` key per line; \
the highest version is active.\n# Keep this file secret (mode 0600) and never delete a \
version that still wraps data keys.\n";

/// Everything that can go wrong with keys and ciphertexts.
///
/// No message ever contains key material.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyError {
    /// The master key configuration or key file is malformed, or decrypted
    /// data has an impossible shape. The message explains what is wrong.
    #[error("{0}")]
    Malformed(String),
    /// The ciphertext was wrapped under a master key version that is not in
    /// the keyring.
    #[error(
        "master key version {0} is not in the keyring; add it back to \
         CREDLEDGER_MASTER_KEYS (or the key file) to read data wrapped under it"
    )]
    UnknownKeyVersion(u32),
    /// The ciphertext starts with a format byte this build does not know.
    #[error(
        "the ciphertext has format byte {0:#04x}, which this version of credledger \
         does not understand"
    )]
    UnsupportedFormat(u8),
    /// The ciphertext is shorter than its header plus authentication tag.
    #[error(
        "the ciphertext is too short to hold its header and authentication tag; \
         it is truncated or not a credledger ciphertext"
    )]
    Truncated,
    /// The sealed secret names a different data key than the one supplied.
    #[error("the secret was sealed under a different data key than the one supplied")]
    DekMismatch,
    /// Authentication failed: the ciphertext was tampered with, was moved to
    /// another owner, or the key is wrong.
    #[error(
        "decryption failed: the ciphertext was altered, belongs to another credential \
         or version, or the key is wrong"
    )]
    DecryptionFailed,
    /// The input (secret or credential id) is too large to encrypt.
    #[error("the secret or credential id is too large to encrypt")]
    TooLarge,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    RandomUnavailable(String),
    /// A key file could not be read, created or written.
    #[error("{0}")]
    Io(String),
}

/// Versioned master keys (key-encryption keys, 256 bits each).
///
/// Versions are whole numbers starting at 1; the highest version is the
/// active one, used for all new wrapping. Older versions are kept so that
/// data keys wrapped under them can still be unwrapped (and re-wrapped).
/// `Debug` shows only the versions, never key bytes.
pub struct MasterKeyring {
    keys: BTreeMap<u32, Zeroizing<[u8; KEY_LEN]>>,
    active: u32,
}

impl fmt::Debug for MasterKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeyring")
            .field("versions", &self.versions())
            .field("active_version", &self.active)
            .finish()
    }
}

impl MasterKeyring {
    /// Parses a keyring from `"1:BASE64,2:BASE64"`.
    ///
    /// Entries are separated by commas and/or newlines; whitespace around
    /// entries is trimmed, blank lines and lines starting with `#` are
    /// ignored. Each key is standard base64 (with padding) of exactly 32
    /// bytes. Version 0, duplicate versions, bad base64, wrong key lengths and
    /// an empty spec are rejected with [`KeyError::Malformed`]; the message
    /// names the entry or version but never repeats key material.
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        let mut entry_no = 0usize;
        for line in spec.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for entry in line.split(',') {
                let entry = entry.trim();
                if entry.is_empty() {
                    continue;
                }
                entry_no += 1;
                let (version, key) = parse_entry(entry_no, entry)?;
                if keys.contains_key(&version) {
                    return Err(KeyError::Malformed(format!(
                        "master key version {version} appears more than once; \
                         every version must be unique"
                    )));
                }
                keys.insert(version, key);
            }
        }
        Self::from_map(keys)
    }

    /// Reads a keyring from a key file in the [`parse`](Self::parse) format,
    /// normally one `version:base64` entry per line.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let text = read_key_file(path)?;
        Self::parse_file_contents(path, &text)
    }

    /// Creates a new key file at `path` holding version 1 with a fresh random
    /// key, readable and writable only by its owner (mode 0600).
    ///
    /// Fails if the file already exists, so an existing keyring is never
    /// overwritten.
    pub fn generate_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let key = random_key()?;
        let mut contents = Zeroizing::new(String::with_capacity(KEY_FILE_HEADER.len() + 64));
        contents.push_str(KEY_FILE_HEADER);
        contents.push_str(&spec_line(1, &key));
        contents.push('\n');

        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                KeyError::Io(format!(
                    "the master key file {} could not be created: {e}",
                    path.display()
                ))
            })?;
        // The directory too: a new file's name is on disk only once its directory is, and data
        // keys wrapped under this key may be committed right after.
        let directory = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let written = file
            .write_all(contents.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::File::open(directory)?.sync_all());
        if let Err(e) = written {
            drop(file);
            // Leave no half-written key file behind; the write error is what matters.
            let _ = fs::remove_file(path);
            return Err(KeyError::Io(format!(
                "the master key file {} could not be written: {e}",
                path.display()
            )));
        }

        let mut keys = BTreeMap::new();
        keys.insert(1, key);
        Self::from_map(keys)
    }

    /// Appends a fresh random key to an existing key file under version
    /// `max + 1` and returns that version, which becomes the active one.
    ///
    /// The file must already hold a valid keyring. Its mode is (re)set to
    /// 0600. The file is locked (exclusively, advisory) from before it is read until the new
    /// line is on disk, so two appends at once give two versions, never one twice.
    pub fn append_new_version(path: impl AsRef<Path>) -> Result<u32, KeyError> {
        let path = path.as_ref();
        let io_err = |what: &str, e: std::io::Error| {
            KeyError::Io(format!(
                "the master key file {} could not be {what}: {e}",
                path.display()
            ))
        };
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err("opened for writing", e))?;
        // Released when `file` is closed.
        file.lock().map_err(|e| io_err("locked", e))?;
        let text = read_key_file(path)?;
        let keyring = Self::parse_file_contents(path, &text)?;
        let version = keyring.active.checked_add(1).ok_or_else(|| {
            KeyError::Malformed(format!(
                "the master key file {} already holds the highest possible version",
                path.display()
            ))
        })?;
        let key = random_key()?;
        let mut line = Zeroizing::new(String::with_capacity(64));
        if !text.is_empty() && !text.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(&spec_line(version, &key));
        line.push('\n');

        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| io_err("restricted to mode 0600", e))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err("written", e))?;
        Ok(version)
    }

    /// The active (highest) master key version, used for new wrapping.
    pub fn active_version(&self) -> u32 {
        self.active
    }

    /// All master key versions in the keyring, in ascending order.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// Whether the keyring holds master key `version`.
    pub fn contains(&self, version: u32) -> bool {
        self.keys.contains_key(&version)
    }

    /// The key bytes of master key `version`, if present.
    pub(crate) fn kek(&self, version: u32) -> Option<&[u8; KEY_LEN]> {
        self.keys.get(&version).map(|k| &**k)
    }

    /// Wraps `dek` for credential `credential_id` under the active master key.
    ///
    /// Format: `[0x01][kek_version u32 BE][12-byte nonce][ciphertext + 16-byte tag]`.
    /// The AAD binds the result to the credential id, the DEK id and the KEK
    /// version, so it cannot be moved to another credential or key id.
    pub fn wrap_dek(&self, credential_id: &str, dek: &DataKey) -> Result<WrappedDek, KeyError> {
        let version = self.active;
        let kek = self
            .kek(version)
            .ok_or(KeyError::UnknownKeyVersion(version))?;
        let aad = dek_aad(credential_id, dek.id, version)?;
        let mut header = [0u8; 1 + 4];
        header[0] = FORMAT_V1;
        header[1..].copy_from_slice(&version.to_be_bytes());
        let bytes = seal_with(kek, &header, &aad, &dek.key[..])?;
        Ok(WrappedDek {
            kek_version: version,
            bytes,
        })
    }

    /// Unwraps a DEK previously produced by [`wrap_dek`](Self::wrap_dek) for
    /// the same `credential_id` and `dek_id`, using whichever master key
    /// version its header names.
    pub fn unwrap_dek(
        &self,
        credential_id: &str,
        dek_id: Uuid,
        wrapped: &[u8],
    ) -> Result<DataKey, KeyError> {
        let (version, nonce, body) = split_wrapped(wrapped)?;
        let kek = self
            .kek(version)
            .ok_or(KeyError::UnknownKeyVersion(version))?;
        let aad = dek_aad(credential_id, dek_id, version)?;
        let plain = open_with(kek, &aad, nonce, body)?;
        let key: &[u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| {
            KeyError::Malformed(format!(
                "the wrapped data key decrypted to {} bytes instead of {KEY_LEN}",
                plain.len()
            ))
        })?;
        Ok(DataKey {
            key: Zeroizing::new(*key),
            id: dek_id,
        })
    }

    fn from_map(keys: BTreeMap<u32, Zeroizing<[u8; KEY_LEN]>>) -> Result<Self, KeyError> {
        match keys.keys().next_back().copied() {
            Some(active) => Ok(Self { keys, active }),
            None => Err(KeyError::Malformed(
                "no master keys are configured; expected entries like `1:BASE64` \
                 (generate one with `credledger keys generate`)"
                    .to_owned(),
            )),
        }
    }

    fn parse_file_contents(path: &Path, text: &str) -> Result<Self, KeyError> {
        Self::parse(text).map_err(|e| match e {
            KeyError::Malformed(msg) => KeyError::Malformed(format!(
                "the master key file {} is malformed: {msg}",
                path.display()
            )),
            other => other,
        })
    }
}

/// A per-credential data key (DEK, 256 bits) and its id.
///
/// Secrets are sealed under a DEK; the DEK is stored only wrapped by a master
/// key. `Debug` shows the id, never the key bytes.
#[derive(Clone)]
pub struct DataKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    id: Uuid,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl DataKey {
    /// Generates a fresh random data key with the given id, using the OS RNG.
    pub fn generate(id: Uuid) -> DataKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(&mut key[..]);
        DataKey { key, id }
    }

    /// The id of this data key.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

/// A data key wrapped under a master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDek {
    /// The master key version the DEK is wrapped under (also in the header).
    pub kek_version: u32,
    /// `[0x01][kek_version u32 BE][12-byte nonce][ciphertext + 16-byte tag]`.
    pub bytes: Vec<u8>,
}

/// Reads the master key version from a wrapped DEK's header, without
/// decrypting it (useful to find DEKs that still need re-wrapping).
pub fn wrapped_dek_kek_version(wrapped: &[u8]) -> Result<u32, KeyError> {
    split_wrapped(wrapped).map(|(version, _, _)| version)
}

/// Seals `plaintext` as version `secret_version` of credential
/// `credential_id` under `dek`.
///
/// Format: `[0x01][dek_id 16 bytes][12-byte nonce][ciphertext + 16-byte tag]`.
/// The AAD binds the result to the credential id, secret version and DEK id.
pub fn seal_secret(
    dek: &DataKey,
    credential_id: &str,
    secret_version: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let aad = secret_aad(credential_id, secret_version, dek.id)?;
    let mut header = [0u8; 1 + UUID_LEN];
    header[0] = FORMAT_V1;
    header[1..].copy_from_slice(dek.id.as_bytes());
    seal_with(&dek.key, &header, &aad, plaintext)
}

/// Opens a secret sealed by [`seal_secret`] with the same DEK, credential id
/// and secret version.
///
/// Returns [`KeyError::DekMismatch`] if the blob names another DEK and
/// [`KeyError::DecryptionFailed`] if authentication fails.
pub fn open_secret(
    dek: &DataKey,
    credential_id: &str,
    secret_version: u32,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let (dek_id, nonce, body) = split_secret(blob)?;
    if dek_id != dek.id {
        return Err(KeyError::DekMismatch);
    }
    let aad = secret_aad(credential_id, secret_version, dek_id)?;
    open_with(&dek.key, &aad, nonce, body)
}

/// Reads the id of the DEK a sealed secret names in its header, without
/// decrypting it.
pub fn secret_dek_id(blob: &[u8]) -> Result<Uuid, KeyError> {
    split_secret(blob).map(|(id, _, _)| id)
}

/// Produces `"{version}:{base64}"` with a fresh random 256-bit key, ready to
/// be put into `CREDLEDGER_MASTER_KEYS` or a key file.
pub fn generate_key_spec_line(version: u32) -> Zeroizing<String> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(&mut key[..]);
    spec_line(version, &key)
}

/// `"{version}:{base64}"`, in a buffer wiped on drop (made big enough that it is never moved,
/// which would leave a copy behind). Encoded into a wiped array first: `encode_string` goes
/// through a buffer of base64's own on the stack, which nothing wipes.
fn spec_line(version: u32, key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    let mut encoded = Zeroizing::new([0u8; 4 * KEY_LEN.div_ceil(3)]);
    // Always fits; were it not to, the line would hold no key and be refused where it is read.
    let written = STANDARD.encode_slice(key, &mut encoded[..]).unwrap_or(0);
    let mut line = Zeroizing::new(String::with_capacity(64));
    line.push_str(&version.to_string());
    line.push(':');
    line.push_str(std::str::from_utf8(&encoded[..written]).unwrap_or_default());
    line
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng
        .try_fill_bytes(&mut key[..])
        .map_err(|e| KeyError::RandomUnavailable(e.to_string()))?;
    Ok(key)
}

/// Parses one `version:base64` entry. Messages name the entry number or the
/// version, never the text of the key.
fn parse_entry(entry_no: usize, entry: &str) -> Result<(u32, Zeroizing<[u8; KEY_LEN]>), KeyError> {
    let Some((version, key_b64)) = entry.split_once(':') else {
        return Err(KeyError::Malformed(format!(
            "master key entry {entry_no} is not of the form `version:base64`"
        )));
    };
    let version = version.trim();
    let version = if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
        version.parse::<u32>().ok()
    } else {
        None
    };
    let version = match version {
        Some(0) => {
            return Err(KeyError::Malformed(format!(
                "master key entry {entry_no} has version 0; versions start at 1"
            )))
        }
        Some(v) => v,
        None => {
            return Err(KeyError::Malformed(format!(
                "master key entry {entry_no} does not start with a version number \
                 (a whole number from 1 to {})",
                u32::MAX
            )))
        }
    };
    let decoded = STANDARD
        .decode(key_b64.trim())
        .map(Zeroizing::new)
        .map_err(|_| {
            KeyError::Malformed(format!(
                "the key for master key version {version} is not valid standard base64 \
                 (with `=` padding)"
            ))
        })?;
    let key: &[u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| {
        KeyError::Malformed(format!(
            "the key for master key version {version} decodes to {} bytes; it must be \
             exactly {KEY_LEN} bytes (256 bits)",
            decoded.len()
        ))
    })?;
    Ok((version, Zeroizing::new(*key)))
}

fn read_key_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let io_err = |e: std::io::Error| {
        KeyError::Io(format!(
            "the master key file {} could not be read: {e}",
            path.display()
        ))
    };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    // Reserve up front so the buffer holding key material is not reallocated
    // (which would leave unzeroized copies behind).
    let capacity = usize::try_from(len).unwrap_or(0).saturating_add(1);
    let mut text = Zeroizing::new(String::with_capacity(capacity));
    file.read_to_string(&mut text).map_err(io_err)?;
    Ok(text)
}

fn owner_len(credential_id: &str) -> Result<[u8; 4], KeyError> {
    u32::try_from(credential_id.len())
        .map(u32::to_be_bytes)
        .map_err(|_| KeyError::TooLarge)
}

/// `b"credledger.dek.v1" ‖ u32 BE len(credential_id) ‖ credential_id ‖ dek_id ‖ u32 BE kek_version`
fn dek_aad(credential_id: &str, dek_id: Uuid, kek_version: u32) -> Result<Vec<u8>, KeyError> {
    let len = owner_len(credential_id)?;
    let mut aad = Vec::with_capacity(DEK_AAD_DOMAIN.len() + 4 + credential_id.len() + UUID_LEN + 4);
    aad.extend_from_slice(DEK_AAD_DOMAIN);
    aad.extend_from_slice(&len);
    aad.extend_from_slice(credential_id.as_bytes());
    aad.extend_from_slice(dek_id.as_bytes());
    aad.extend_from_slice(&kek_version.to_be_bytes());
    Ok(aad)
}

/// `b"credledger.secret.v1" ‖ u32 BE len(credential_id) ‖ credential_id ‖ u32 BE secret_version ‖ dek_id`
fn secret_aad(credential_id: &str, secret_version: u32, dek_id: Uuid) -> Result<Vec<u8>, KeyError> {
    let len = owner_len(credential_id)?;
    let mut aad =
        Vec::with_capacity(SECRET_AAD_DOMAIN.len() + 4 + credential_id.len() + 4 + UUID_LEN);
    aad.extend_from_slice(SECRET_AAD_DOMAIN);
    aad.extend_from_slice(&len);
    aad.extend_from_slice(credential_id.as_bytes());
    aad.extend_from_slice(&secret_version.to_be_bytes());
    aad.extend_from_slice(dek_id.as_bytes());
    Ok(aad)
}

/// A ciphertext split into `(key id from the header, nonce, ciphertext+tag)`.
type Split<'a, Id> = (Id, &'a [u8; NONCE_LEN], &'a [u8]);

/// Checks the format byte and minimum length shared by both formats, and
/// returns `(header-after-format-byte, nonce, ciphertext+tag)`.
fn split_blob(blob: &[u8], header_len: usize) -> Result<Split<'_, &[u8]>, KeyError> {
    match blob.first() {
        None => return Err(KeyError::Truncated),
        Some(&FORMAT_V1) => {}
        Some(&other) => return Err(KeyError::UnsupportedFormat(other)),
    }
    if blob.len() < header_len + TAG_LEN {
        return Err(KeyError::Truncated);
    }
    let (header, body) = blob.split_at(header_len);
    let ids = header
        .get(1..header_len - NONCE_LEN)
        .ok_or(KeyError::Truncated)?;
    let nonce = header
        .get(header_len - NONCE_LEN..)
        .and_then(|n| <&[u8; NONCE_LEN]>::try_from(n).ok())
        .ok_or(KeyError::Truncated)?;
    Ok((ids, nonce, body))
}

fn split_wrapped(wrapped: &[u8]) -> Result<Split<'_, u32>, KeyError> {
    let (ids, nonce, body) = split_blob(wrapped, WRAPPED_HEADER_LEN)?;
    let version = <[u8; 4]>::try_from(ids).map_err(|_| KeyError::Truncated)?;
    Ok((u32::from_be_bytes(version), nonce, body))
}

fn split_secret(blob: &[u8]) -> Result<Split<'_, Uuid>, KeyError> {
    let (ids, nonce, body) = split_blob(blob, SECRET_HEADER_LEN)?;
    let id = <[u8; UUID_LEN]>::try_from(ids).map_err(|_| KeyError::Truncated)?;
    Ok((Uuid::from_bytes(id), nonce, body))
}

/// AES-256-GCM: returns `header ‖ nonce ‖ ciphertext ‖ tag` with a fresh
/// random nonce. The plaintext is only ever copied into a zeroizing buffer.
fn seal_with(
    key: &[u8; KEY_LEN],
    header: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| KeyError::RandomUnavailable(e.to_string()))?;
    let body_start = header.len() + NONCE_LEN;
    let total = body_start
        .checked_add(plaintext.len())
        .and_then(|n| n.checked_add(TAG_LEN))
        .ok_or(KeyError::TooLarge)?;
    // Full capacity up front: no reallocation may leave plaintext copies behind.
    let mut out = Zeroizing::new(Vec::with_capacity(total));
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let cipher = Aes256Gcm::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(&GenericArray::from(nonce), aad, &mut out[body_start..])
        .map_err(|_| KeyError::TooLarge)?;
    out.extend_from_slice(&tag);
    Ok(std::mem::take(&mut *out))
}

/// AES-256-GCM: authenticates and decrypts `ciphertext ‖ tag` into a
/// zeroizing buffer (which is wiped even when authentication fails).
fn open_with(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &[u8; NONCE_LEN],
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let split = body.len().checked_sub(TAG_LEN).ok_or(KeyError::Truncated)?;
    let (ciphertext, tag) = body.split_at(split);
    let tag = <[u8; TAG_LEN]>::try_from(tag).map_err(|_| KeyError::Truncated)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt_in_place_detached(
            &GenericArray::from(*nonce),
            aad,
            &mut buf[..],
            &GenericArray::from(tag),
        )
        .map_err(|_| KeyError::DecryptionFailed)?;
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CRED: &str = "cred-0001";

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn key_of(byte: u8) -> [u8; KEY_LEN] {
        [byte; KEY_LEN]
    }

    fn keyring(versions: &[(u32, [u8; KEY_LEN])]) -> MasterKeyring {
        let spec = versions
            .iter()
            .map(|(v, k)| format!("{v}:{}", b64(k)))
            .collect::<Vec<_>>()
            .join(",");
        MasterKeyring::parse(&spec).unwrap()
    }

    fn malformed(spec: &str) -> String {
        match MasterKeyring::parse(spec) {
            Err(KeyError::Malformed(msg)) => msg,
            other => panic!("expected Malformed for {spec:?}, got {other:?}"),
        }
    }

    #[test]
    fn parse_accepts_commas_newlines_comments_and_whitespace() {
        let spec = format!(
            "# master keys\n  1:{} , 3:{}\n\n# retired below\n2:{}\n",
            b64(&key_of(1)),
            b64(&key_of(3)),
            b64(&key_of(2))
        );
        let ring = MasterKeyring::parse(&spec).unwrap();
        assert_eq!(ring.versions(), vec![1, 2, 3]);
        assert_eq!(ring.active_version(), 3);
        assert!(ring.contains(2));
        assert!(!ring.contains(4));
        assert_eq!(ring.kek(3), Some(&key_of(3)));
        assert_eq!(ring.kek(1), Some(&key_of(1)));
    }

    #[test]
    fn parse_rejects_bad_specs_without_echoing_keys() {
        let good = b64(&key_of(7));
        let short = b64(&[9u8; 16]);
        let long = b64(&[9u8; 33]);
        let unpadded = good.trim_end_matches('=').to_owned();
        let bad_b64 = format!("{}!!", &good[..40]);
        let cases = vec![
            String::new(),
            "   \n\n".to_owned(),
            "# only a comment\n".to_owned(),
            " , ,".to_owned(),
            format!("0:{good}"),
            format!("1:{good},1:{good}"),
            format!("1:{good}\n1:{good}"),
            format!("1:{short}"),
            format!("1:{long}"),
            format!("1:{unpadded}"),
            format!("1:{bad_b64}"),
            good.clone(),
            format!("x:{good}"),
            format!("-1:{good}"),
            format!("+1:{good}"),
            format!("4294967296:{good}"),
            format!(":{good}"),
            "1:".to_owned(),
        ];
        for spec in &cases {
            let msg = malformed(spec);
            assert!(!msg.is_empty());
            for secret in [&good, &short, &long, &unpadded, &bad_b64] {
                assert!(
                    !msg.contains(secret.as_str()),
                    "{msg:?} echoes key material"
                );
            }
            assert!(!msg.contains(&hex(&key_of(7))));
        }
        assert!(malformed(&format!("0:{good}")).contains("version 0"));
        assert!(malformed(&format!("2:{good},2:{good}")).contains("more than once"));
        assert!(malformed(&format!("1:{short}")).contains("16 bytes"));
        assert!(malformed(&format!("1:{bad_b64}")).contains("base64"));
        assert!(malformed("").contains("no master keys"));
    }

    #[test]
    fn debug_output_never_contains_key_bytes() {
        let kek = [0xA5u8; KEY_LEN];
        let ring = keyring(&[(1, kek), (2, key_of(0x3C))]);
        let dek = DataKey::generate(Uuid::new_v4());
        let outputs = [
            format!("{ring:?}"),
            format!("{ring:#?}"),
            format!("{dek:?}"),
            format!("{dek:#?}"),
        ];
        for key in [&kek[..], &key_of(0x3C)[..], &dek.key[..]] {
            for out in &outputs {
                assert!(!out.contains(&b64(key)), "{out}");
                assert!(!out.contains(&hex(key)), "{out}");
                assert!(!out.to_lowercase().contains(&hex(key)), "{out}");
                assert!(!out.contains(&format!("{:?}", key)), "{out}");
                assert!(!out.contains(&format!("{:?}", &key[..4])), "{out}");
            }
        }
        assert!(outputs[0].contains("versions: [1, 2]"), "{}", outputs[0]);
        assert!(outputs[2].contains(&dek.id().to_string()));
        assert!(outputs[2].contains("redacted"));
    }

    #[test]
    fn secret_round_trip() {
        let dek = DataKey::generate(Uuid::new_v4());
        for plaintext in [&b""[..], b"x", b"hunter2", &[0u8; 1000][..]] {
            let blob = seal_secret(&dek, CRED, 3, plaintext).unwrap();
            assert_eq!(blob.len(), SECRET_HEADER_LEN + plaintext.len() + TAG_LEN);
            assert_eq!(blob[0], FORMAT_V1);
            assert_eq!(secret_dek_id(&blob).unwrap(), dek.id());
            let opened = open_secret(&dek, CRED, 3, &blob).unwrap();
            assert_eq!(opened.as_slice(), plaintext);
        }
    }

    #[test]
    fn sealing_twice_uses_fresh_nonces() {
        let dek = DataKey::generate(Uuid::new_v4());
        let a = seal_secret(&dek, CRED, 1, b"same").unwrap();
        let b = seal_secret(&dek, CRED, 1, b"same").unwrap();
        assert_ne!(a, b);
        assert_ne!(
            a[1 + UUID_LEN..SECRET_HEADER_LEN],
            b[1 + UUID_LEN..SECRET_HEADER_LEN]
        );
    }

    #[test]
    fn flipping_any_byte_of_a_sealed_secret_is_an_error() {
        let dek = DataKey::generate(Uuid::new_v4());
        let blob = seal_secret(&dek, CRED, 1, b"correct horse battery staple").unwrap();
        for i in 0..blob.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut tampered = blob.clone();
                tampered[i] ^= mask;
                let err = open_secret(&dek, CRED, 1, &tampered).unwrap_err();
                let expected = match i {
                    0 => KeyError::UnsupportedFormat(blob[0] ^ mask),
                    1..=UUID_LEN => KeyError::DekMismatch,
                    _ => KeyError::DecryptionFailed,
                };
                assert_eq!(err, expected, "byte {i} mask {mask:#x}");
            }
        }
        for len in 0..blob.len() {
            assert!(
                open_secret(&dek, CRED, 1, &blob[..len]).is_err(),
                "len {len}"
            );
        }
        assert_eq!(open_secret(&dek, CRED, 1, &[]), Err(KeyError::Truncated));
        assert_eq!(
            open_secret(&dek, CRED, 1, &blob[..SECRET_HEADER_LEN + TAG_LEN - 1]),
            Err(KeyError::Truncated)
        );
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(
            open_secret(&dek, CRED, 1, &longer),
            Err(KeyError::DecryptionFailed)
        );
    }

    #[test]
    fn secret_is_bound_to_credential_version_and_dek() {
        let dek = DataKey::generate(Uuid::new_v4());
        let blob = seal_secret(&dek, CRED, 2, b"s3cret").unwrap();
        assert_eq!(
            open_secret(&dek, "cred-0002", 2, &blob),
            Err(KeyError::DecryptionFailed)
        );
        assert_eq!(
            open_secret(&dek, "", 2, &blob),
            Err(KeyError::DecryptionFailed)
        );
        assert_eq!(
            open_secret(&dek, CRED, 1, &blob),
            Err(KeyError::DecryptionFailed)
        );
        assert_eq!(
            open_secret(&dek, CRED, 3, &blob),
            Err(KeyError::DecryptionFailed)
        );
        let other = DataKey::generate(Uuid::new_v4());
        assert_eq!(
            open_secret(&other, CRED, 2, &blob),
            Err(KeyError::DekMismatch)
        );
        // Same id, different key bytes: the header matches, authentication does not.
        let impostor = DataKey::generate(dek.id());
        assert_eq!(
            open_secret(&impostor, CRED, 2, &blob),
            Err(KeyError::DecryptionFailed)
        );
        // Rewriting the header to name another DEK does not help either.
        let mut relabelled = blob.clone();
        relabelled[1..=UUID_LEN].copy_from_slice(other.id().as_bytes());
        assert_eq!(secret_dek_id(&relabelled).unwrap(), other.id());
        assert_eq!(
            open_secret(&other, CRED, 2, &relabelled),
            Err(KeyError::DecryptionFailed)
        );
    }

    #[test]
    fn unsupported_format_and_truncation() {
        let dek = DataKey::generate(Uuid::new_v4());
        let mut blob = seal_secret(&dek, CRED, 1, b"x").unwrap();
        blob[0] = 0x02;
        assert_eq!(secret_dek_id(&blob), Err(KeyError::UnsupportedFormat(2)));
        assert_eq!(
            open_secret(&dek, CRED, 1, &blob),
            Err(KeyError::UnsupportedFormat(2))
        );
        assert_eq!(secret_dek_id(&[]), Err(KeyError::Truncated));
        assert_eq!(secret_dek_id(&[FORMAT_V1; 20]), Err(KeyError::Truncated));
        let ring = keyring(&[(1, key_of(1))]);
        assert_eq!(
            ring.unwrap_dek(CRED, dek.id(), &[]).unwrap_err(),
            KeyError::Truncated
        );
        assert_eq!(
            ring.unwrap_dek(CRED, dek.id(), &[7, 0, 0, 0, 1])
                .unwrap_err(),
            KeyError::UnsupportedFormat(7)
        );
        assert_eq!(
            wrapped_dek_kek_version(&[1, 0, 0]),
            Err(KeyError::Truncated)
        );
    }

    #[test]
    fn dek_wrap_round_trip() {
        let ring = keyring(&[(1, key_of(1)), (2, key_of(2))]);
        let dek = DataKey::generate(Uuid::new_v4());
        let wrapped = ring.wrap_dek(CRED, &dek).unwrap();
        assert_eq!(wrapped.kek_version, 2);
        assert_eq!(wrapped.bytes.len(), WRAPPED_HEADER_LEN + KEY_LEN + TAG_LEN);
        assert_eq!(wrapped.bytes[0], FORMAT_V1);
        assert_eq!(wrapped.bytes[1..5], 2u32.to_be_bytes());
        assert_eq!(wrapped_dek_kek_version(&wrapped.bytes).unwrap(), 2);
        assert!(!wrapped.bytes.windows(KEY_LEN).any(|w| w == &dek.key[..]));
        let unwrapped = ring.unwrap_dek(CRED, dek.id(), &wrapped.bytes).unwrap();
        assert_eq!(unwrapped.id(), dek.id());
        assert_eq!(*unwrapped.key, *dek.key);

        let blob = seal_secret(&dek, CRED, 1, b"value").unwrap();
        assert_eq!(
            open_secret(&unwrapped, CRED, 1, &blob).unwrap().as_slice(),
            b"value"
        );
    }

    #[test]
    fn wrapped_dek_is_bound_to_credential_dek_id_and_version() {
        let ring = keyring(&[(1, key_of(1)), (2, key_of(2))]);
        let dek = DataKey::generate(Uuid::new_v4());
        let wrapped = ring.wrap_dek(CRED, &dek).unwrap();
        assert_eq!(
            ring.unwrap_dek("cred-0002", dek.id(), &wrapped.bytes)
                .unwrap_err(),
            KeyError::DecryptionFailed
        );
        assert_eq!(
            ring.unwrap_dek(CRED, Uuid::new_v4(), &wrapped.bytes)
                .unwrap_err(),
            KeyError::DecryptionFailed
        );
        // Relabelling the header to another (present) KEK version fails too.
        let mut relabelled = wrapped.bytes.clone();
        relabelled[1..5].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(
            ring.unwrap_dek(CRED, dek.id(), &relabelled).unwrap_err(),
            KeyError::DecryptionFailed
        );
        // Same version number, different key bytes.
        let impostor = keyring(&[(2, key_of(9))]);
        assert_eq!(
            impostor
                .unwrap_dek(CRED, dek.id(), &wrapped.bytes)
                .unwrap_err(),
            KeyError::DecryptionFailed
        );
        for i in 0..wrapped.bytes.len() {
            let mut tampered = wrapped.bytes.clone();
            tampered[i] ^= 0x01;
            assert!(
                ring.unwrap_dek(CRED, dek.id(), &tampered).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn unwrap_with_missing_version_is_unknown_key_version() {
        let old = keyring(&[(1, key_of(1)), (2, key_of(2))]);
        let dek = DataKey::generate(Uuid::new_v4());
        let wrapped = old.wrap_dek(CRED, &dek).unwrap();
        let without_two = keyring(&[(1, key_of(1)), (3, key_of(3))]);
        assert_eq!(
            without_two
                .unwrap_dek(CRED, dek.id(), &wrapped.bytes)
                .unwrap_err(),
            KeyError::UnknownKeyVersion(2)
        );
    }

    #[test]
    fn rewrap_under_newer_master_key_keeps_secrets_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.keys");
        let v1 = MasterKeyring::generate_file(&path).unwrap();
        assert_eq!(v1.active_version(), 1);

        let dek = DataKey::generate(Uuid::new_v4());
        let wrapped_v1 = v1.wrap_dek(CRED, &dek).unwrap();
        assert_eq!(wrapped_v1.kek_version, 1);
        let blob = seal_secret(&dek, CRED, 1, b"before rotation").unwrap();

        assert_eq!(MasterKeyring::append_new_version(&path).unwrap(), 2);
        let v2 = MasterKeyring::load_file(&path).unwrap();
        assert_eq!(v2.versions(), vec![1, 2]);
        assert_eq!(v2.active_version(), 2);
        assert_eq!(v2.kek(1), v1.kek(1));

        // Rewrap: unwrap under the old version, wrap under the active one.
        let old_dek = v2.unwrap_dek(CRED, dek.id(), &wrapped_v1.bytes).unwrap();
        let wrapped_v2 = v2.wrap_dek(CRED, &old_dek).unwrap();
        assert_eq!(wrapped_v2.kek_version, 2);
        assert_eq!(wrapped_dek_kek_version(&wrapped_v2.bytes).unwrap(), 2);

        let new_dek = v2.unwrap_dek(CRED, dek.id(), &wrapped_v2.bytes).unwrap();
        assert_eq!(
            open_secret(&new_dek, CRED, 1, &blob).unwrap().as_slice(),
            b"before rotation"
        );
        // The old keyring cannot read the rewrapped DEK.
        assert_eq!(
            v1.unwrap_dek(CRED, dek.id(), &wrapped_v2.bytes)
                .unwrap_err(),
            KeyError::UnknownKeyVersion(2)
        );
    }

    #[test]
    fn key_files_are_private_and_versions_increment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let ring = MasterKeyring::generate_file(&path).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(ring.versions(), vec![1]);

        // Never overwrites an existing file.
        match MasterKeyring::generate_file(&path) {
            Err(KeyError::Io(msg)) => assert!(msg.contains("could not be created"), "{msg}"),
            other => panic!("expected Io, got {other:?}"),
        }
        assert_eq!(MasterKeyring::load_file(&path).unwrap().kek(1), ring.kek(1));

        assert_eq!(MasterKeyring::append_new_version(&path).unwrap(), 2);
        assert_eq!(MasterKeyring::append_new_version(&path).unwrap(), 3);
        assert_eq!(mode(&path), 0o600);
        let loaded = MasterKeyring::load_file(&path).unwrap();
        assert_eq!(loaded.versions(), vec![1, 2, 3]);
        assert_eq!(loaded.active_version(), 3);
        assert_ne!(loaded.kek(2), loaded.kek(3));

        // Appending to a file without a trailing newline, with a gap in
        // versions, and tightening a permissive mode.
        let other = dir.path().join("hand-written");
        fs::write(
            &other,
            format!("1:{}\n5:{}", b64(&key_of(1)), b64(&key_of(5))),
        )
        .unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(MasterKeyring::append_new_version(&other).unwrap(), 6);
        assert_eq!(mode(&other), 0o600);
        assert_eq!(
            MasterKeyring::load_file(&other).unwrap().versions(),
            vec![1, 5, 6]
        );

        // Sixteen appends at once: sixteen new versions, none written twice.
        let racing: Vec<u32> = std::thread::scope(|scope| {
            let appends: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| MasterKeyring::append_new_version(&path).unwrap()))
                .collect();
            appends.into_iter().map(|a| a.join().unwrap()).collect()
        });
        let mut sorted = racing.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (4..=19).collect::<Vec<u32>>(), "{racing:?}");
        assert_eq!(
            MasterKeyring::load_file(&path).unwrap().versions(),
            (1..=19).collect::<Vec<u32>>()
        );
    }

    #[test]
    fn key_file_errors_are_readable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        match MasterKeyring::load_file(&missing) {
            Err(KeyError::Io(msg)) => {
                assert!(msg.contains("master key file"), "{msg}");
                assert!(msg.contains("could not be read"), "{msg}");
            }
            other => panic!("expected Io, got {other:?}"),
        }
        assert!(matches!(
            MasterKeyring::append_new_version(&missing),
            Err(KeyError::Io(_))
        ));

        let bad = dir.path().join("bad");
        let short = b64(&[4u8; 31]);
        fs::write(&bad, format!("1:{short}\n")).unwrap();
        match MasterKeyring::load_file(&bad) {
            Err(KeyError::Malformed(msg)) => {
                assert!(msg.contains("master key file"), "{msg}");
                assert!(msg.contains("31 bytes"), "{msg}");
                assert!(!msg.contains(&short), "{msg}");
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        assert!(matches!(
            MasterKeyring::append_new_version(&bad),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn generated_spec_lines_parse() {
        let line = generate_key_spec_line(4);
        let (version, key) = line.split_once(':').unwrap();
        assert_eq!(version, "4");
        assert_eq!(STANDARD.decode(key).unwrap().len(), KEY_LEN);
        let ring = MasterKeyring::parse(&line).unwrap();
        assert_eq!(ring.versions(), vec![4]);
        assert_ne!(*generate_key_spec_line(4), *line);
        let longest = generate_key_spec_line(u32::MAX);
        assert_eq!(longest.capacity(), 64, "the buffer was moved");
    }

    /// The cipher's key schedule (its first round keys are the key itself) is wiped when
    /// dropped, as the keys are: built without the `aes` crate's `zeroize` feature, it stays in
    /// freed memory after every seal and open. (GHASH's key is not, on x86-64: see
    /// docs/security.md.)
    #[test]
    fn the_ciphers_wipe_their_key_schedules() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<aes_gcm::aes::Aes256>();
    }

    #[test]
    fn error_messages_are_for_people() {
        for err in [
            KeyError::UnknownKeyVersion(3),
            KeyError::UnsupportedFormat(2),
            KeyError::Truncated,
            KeyError::DekMismatch,
            KeyError::DecryptionFailed,
            KeyError::TooLarge,
        ] {
            let msg = err.to_string();
            assert!(msg.len() > 20, "{msg}");
        }
        assert!(KeyError::UnsupportedFormat(2).to_string().contains("0x02"));
        assert!(KeyError::UnknownKeyVersion(3).to_string().contains('3'));
    }
}
