//! The ledger's hash chain: the fixed binary encoding of an event and its SHA-256.
//!
//! `hash = SHA-256("credledger.event.v1" ‖ i64be(position) ‖ prev_hash ‖ lp(aggregate_type) ‖
//! lp(aggregate_id) ‖ i64be(sequence) ‖ lp(event_type) ‖ lp(event_version) ‖ lp(metadata) ‖
//! SHA-256(payload))`, where `i64be` is the 8 bytes of an `i64` big-endian (positions and
//! sequences start at 1, so also their `u64` bytes) and `lp(x)` the UTF-8 bytes of `x` preceded
//! by their length as a u32 big-endian. `metadata` and `payload` are the stored JSON text.
//! docs/security.md §6 gives the same layout and the export file it can be checked from. The PostgreSQL trigger
//! (`migrations/postgres/0001_events.sql`, redefined by `0015_events_chain_fields_once.sql`)
//! computes the same bytes; SQLite calls [`event_hash`] through a registered SQL function.
//! Hashing the payload's ciphertext (not plaintext) keeps the chain verifiable after a
//! credential's data key is destroyed.

use sha2::{Digest, Sha256};

pub const DOMAIN_TAG: &[u8] = b"credledger.event.v1";
pub const GENESIS: [u8; 32] = [0u8; 32];

/// The stored fields an event's hash covers.
#[derive(Debug, Clone, Copy)]
pub struct ChainInput<'a> {
    pub position: i64,
    pub prev_hash: &'a [u8],
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub metadata: &'a str,
    pub payload: &'a str,
}

fn lp(hasher: &mut Sha256, s: &str) {
    hasher.update((s.len() as u32).to_be_bytes());
    hasher.update(s.as_bytes());
}

/// The hash of one event given its predecessor's hash.
pub fn event_hash(e: &ChainInput<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(e.position.to_be_bytes());
    h.update(e.prev_hash);
    lp(&mut h, e.aggregate_type);
    lp(&mut h, e.aggregate_id);
    h.update(e.sequence.to_be_bytes());
    lp(&mut h, e.event_type);
    lp(&mut h, e.event_version);
    lp(&mut h, e.metadata);
    h.update(Sha256::digest(e.payload.as_bytes()));
    h.finalize().into()
}

/// Why a ledger does not verify; [`ChainError::position`] is the first bad position, which the
/// message leaves to its reader to name (`ledger verify: FAILED at position N: <message>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("missing (the next stored event is at position {position}: an event was removed, duplicated or reordered)")]
    Gap { position: i64, expected: i64 },
    #[error("prev_hash does not match the hash of position {}", position - 1)]
    BrokenLink { position: i64 },
    #[error("the stored hash does not match the event's content")]
    BadHash { position: i64 },
    #[error("its stream's events are not numbered 1, 2, 3… in the order of the ledger (expected sequence {expected}, found {sequence})")]
    OutOfSequence {
        position: i64,
        sequence: i64,
        expected: i64,
    },
}

impl ChainError {
    pub fn position(&self) -> i64 {
        match self {
            // A gap is first wrong where the expected event is missing.
            Self::Gap { position, expected } => (*position).min(*expected),
            Self::BrokenLink { position }
            | Self::BadHash { position }
            | Self::OutOfSequence { position, .. } => *position,
        }
    }
}

/// Checks events one by one, in position order, from the start of the ledger: each links to
/// the one before and hashes as stored, and each stream's events come numbered 1, 2, 3… (the
/// streams are what commands replay: an event a stream holds outside that order would change
/// state without the chain showing it).
#[derive(Debug)]
pub struct ChainVerifier {
    expected_position: i64,
    prev_hash: [u8; 32],
    /// Each stream's last sequence so far.
    streams: std::collections::HashMap<(String, String), i64>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_position: 1,
            prev_hash: GENESIS,
            streams: Default::default(),
        }
    }
}

impl ChainVerifier {
    /// Checks the next event, given its stored hash.
    pub fn check(&mut self, event: &ChainInput<'_>, stored_hash: &[u8]) -> Result<(), ChainError> {
        if event.position != self.expected_position {
            return Err(ChainError::Gap {
                position: event.position,
                expected: self.expected_position,
            });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink {
                position: event.position,
            });
        }
        let computed = event_hash(event);
        if computed.as_slice() != stored_hash {
            return Err(ChainError::BadHash {
                position: event.position,
            });
        }
        let stream = (
            event.aggregate_type.to_owned(),
            event.aggregate_id.to_owned(),
        );
        let last = self.streams.get(&stream).copied().unwrap_or(0);
        if event.sequence != last + 1 {
            return Err(ChainError::OutOfSequence {
                position: event.position,
                sequence: event.sequence,
                expected: last + 1,
            });
        }
        self.streams.insert(stream, event.sequence);
        self.prev_hash = computed;
        self.expected_position += 1;
        Ok(())
    }

    /// How many events have verified.
    pub fn verified(&self) -> i64 {
        self.expected_position - 1
    }
}
