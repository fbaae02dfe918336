//! Whole GraphQL answers remembered (ADR 0016), in the process's one cache type
//! ([`Remembered`]). The access read models' answers (MCP servers' tokens and grants) are
//! remembered the same way, at the projections' access epoch, in `api/src/mcp/servers.rs`.

use credledger_adapters::remembered::Remembered;

/// Whole GraphQL answers of read-only queries, remembered per caller and request while the
/// read models they were read from cannot have changed.
///
/// Which answers may be remembered is decided here alone, never by a resolver: a query whose
/// root fields are all [`REMEMBERED_FIELDS`], that failed nowhere and set no header. It is kept
/// with the caller's `Projections::summary_epoch` taken before the query ran (other people's
/// changes leave it as it is), and is given again only to the same caller facet (person, role,
/// permissions, token scopes) for the byte-identical request while the epoch is the same, the
/// time given by [`holds_until`] has not come, and it is younger than [`ANSWER_MAX_AGE`] (a
/// bound on anything the epoch could miss, such as a rebuild by another process that ended at
/// the position this one had seen). Answers never hold secrets: those fields answer metadata.
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

/// The root fields whose answers are remembered. Each answers from the caller's own rows of
/// the tables behind `Projections::summary_epoch` (`credential_summary`, `dashboard_stats`, the
/// MCP sync states) and from the clock only as [`holds_until`] says. A field added here that
/// reads anything else would be answered stale for up to [`ANSWER_MAX_AGE`].
pub const REMEMBERED_FIELDS: &[&str] = &["credentials", "dashboard"];

/// Whether an answer to a query with these root fields may be remembered.
pub fn may_remember(fields: &[String]) -> bool {
    !fields.is_empty()
        && fields
            .iter()
            .all(|f| REMEMBERED_FIELDS.contains(&f.as_str()))
}

/// Until when an answer to `fields` read for `user` from `read_from` on holds with no event:
/// at most [`ANSWER_MAX_AGE`], and for `dashboard` no later than when the expiry warning
/// window, which counts `expiringSoon`, reaches the user's next expiring credential. Read after
/// the answer, from the time taken before it, so the window can only be found to arrive early.
pub async fn holds_until(
    api: &crate::graphql::Api,
    user: &str,
    fields: &[String],
    read_from: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, credledger_projections::ProjectionError> {
    let oldest = chrono::Utc::now() + ANSWER_MAX_AGE;
    if !fields.iter().any(|f| f == "dashboard") {
        return Ok(oldest);
    }
    let window = credledger_adapters::db::timestamp(read_from + api.expiry_warning);
    let expiring = credledger_projections::credential_summary::expiring_count(
        &api.ledger.db.any,
        Some(user),
        &window,
    )
    .await?;
    Ok(match expiring.next.as_deref() {
        None => oldest,
        Some(next) => chrono::DateTime::parse_from_rfc3339(next)
            .map_or(read_from, |t| {
                t.with_timezone(&chrono::Utc) - api.expiry_warning
            })
            .min(oldest),
    })
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

    #[test]
    fn only_queries_of_remembered_root_fields_are_remembered() {
        use super::may_remember;
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(may_remember(&fields(&["dashboard", "credentials"])));
        assert!(may_remember(&fields(&["credentials", "credentials"])));
        assert!(!may_remember(&fields(&[])), "nothing asked");
        assert!(
            !may_remember(&fields(&["dashboard", "auditTrail"])),
            "one other field"
        );
        assert!(
            !may_remember(&fields(&["credential"])),
            "anyone's row, by id"
        );
        assert!(!may_remember(&fields(&["__typename"])));
    }
}
