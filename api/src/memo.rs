//! Whole GraphQL answers remembered (ADR 0016), in the process's one cache type
//! ([`Remembered`]). The access read models' answers (MCP servers' tokens and grants) are
//! remembered the same way, at the projections' access epoch, in `api/src/mcp/servers.rs`.

use credledger_adapters::remembered::Remembered;

/// Whole GraphQL answers of read-only queries, remembered per caller and request while the
/// read models they were read from cannot have changed (see [`AnswerMemo`]).
///
/// An answer goes in only when every root field of the query vouched for it (their resolvers
/// read only the caller's own rows of the `credential_summary` consumer's tables, and say until
/// when, if ever, the passing of time alone changes what they answered), nothing failed and no
/// header was set. It is kept with the caller's `Projections::summary_epoch` taken before the
/// query ran (other people's changes leave it as it is), and is given again only
/// to the same caller facet (person, role, permissions, token scopes) for the byte-identical
/// request while the epoch is the same, its time has not come, and it is younger than
/// [`ANSWER_MAX_AGE`] (a bound on anything the epoch could miss, such as a rebuild by another
/// process that ended at the position this one had seen). Answers never hold secrets: the
/// vouching resolvers answer metadata only.
pub struct AnswerMemo {
    answers: Remembered<Vec<u8>, Answer>,
}

#[derive(Clone)]
struct Answer {
    until: chrono::DateTime<chrono::Utc>,
    body: axum::body::Bytes,
}

impl Default for AnswerMemo {
    fn default() -> Self {
        Self {
            answers: Remembered::weighed(ANSWERS_BUDGET, |key: &Vec<u8>, answer: &Answer| {
                u32::try_from(key.len() + answer.body.len()).unwrap_or(u32::MAX)
            }),
        }
    }
}

/// The longest any answer is given again, whatever the epoch says.
pub const ANSWER_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Answers larger than this are not remembered.
const ANSWER_MAX_BYTES: usize = 256 * 1024;
/// The memory all remembered answers may take (keys and bodies, in bytes).
const ANSWERS_BUDGET: u64 = 32 * 1024 * 1024;

impl std::fmt::Debug for AnswerMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerMemo").finish_non_exhaustive()
    }
}

impl AnswerMemo {
    /// The key of `request` (its body's bytes) from a caller of `facet`.
    pub fn key(facet: &str, request: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(facet.len() + 1 + request.len());
        key.extend_from_slice(facet.as_bytes());
        key.push(0);
        key.extend_from_slice(request);
        key
    }

    /// The answer remembered for `key` if it still holds at `epoch` and `now`.
    pub fn get(
        &self,
        key: &[u8],
        epoch: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<axum::body::Bytes> {
        self.answers
            .get(key, epoch)
            .filter(|a| now < a.until)
            .map(|a| a.body)
    }

    /// Remembers `body`, read at `epoch` (taken before the read), until `until` at the latest.
    pub fn put(
        &self,
        key: Vec<u8>,
        epoch: u64,
        until: chrono::DateTime<chrono::Utc>,
        body: axum::body::Bytes,
    ) {
        if body.len() > ANSWER_MAX_BYTES {
            return;
        }
        self.answers.insert(key, epoch, Answer { until, body });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_answer_is_given_again_only_at_its_epoch_and_before_its_time() {
        use super::AnswerMemo;
        let memo = AnswerMemo::default();
        let now = chrono::Utc::now();
        let later = now + chrono::TimeDelta::seconds(5);
        let key = AnswerMemo::key("alice|User", b"{\"query\":\"{ dashboard { total } }\"}");
        memo.put(key.clone(), 7, later, axum::body::Bytes::from_static(b"{}"));
        assert_eq!(memo.get(&key, 7, now).as_deref(), Some(&b"{}"[..]));
        assert_eq!(memo.get(&key, 8, now), None, "the epoch moved");
        assert_eq!(memo.get(&key, 7, later), None, "its time came");
        let bob = AnswerMemo::key("bob|User", b"{\"query\":\"{ dashboard { total } }\"}");
        assert_eq!(memo.get(&bob, 7, now), None, "another caller");
    }
}
