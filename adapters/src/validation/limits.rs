//! Outbound rate limits per service, shared by every caller of one validator, and the count of
//! requests actually sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The catalog's `rate_limit_per_minute` and `rate_limit_per_hour`, held exactly.
///
/// A classic token bucket of capacity N refilled at N per minute lets up to 2N requests through
/// in some 60-second span (a full bucket, then a minute of refill). Providers count in sliding
/// windows, so this keeps the send times of the last hour instead: a request gets the earliest
/// slot at which no 60-second (or 3600-second) span holds more than the limit. Slots are
/// reserved in order, so waiting callers are served first come, first served.
#[derive(Default)]
pub(crate) struct OutboundLimits {
    slots: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl OutboundLimits {
    /// Reserves the earliest slot within the limits for one request to `service`, or answers
    /// `None` (reserving nothing) when that slot is after `deadline`.
    pub(crate) fn reserve(
        &self,
        service: &str,
        per_minute: Option<u32>,
        per_hour: Option<u32>,
        now: Instant,
        deadline: Instant,
    ) -> Option<Instant> {
        let windows: Vec<(Duration, usize)> = [(MINUTE, per_minute), (HOUR, per_hour)]
            .into_iter()
            .filter_map(|(w, limit)| limit.map(|l| (w, l as usize)))
            .collect();
        if windows.is_empty() {
            return Some(now);
        }
        if windows.iter().any(|(_, limit)| *limit == 0) {
            return None;
        }
        let longest = windows.iter().map(|(w, _)| *w).max().unwrap_or(HOUR);
        let mut all = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slots = all.entry(service.to_owned()).or_default();
        while slots.front().is_some_and(|t| *t + longest <= now) {
            slots.pop_front();
        }
        // Never before the last reservation: keeps the deque sorted and the order fair.
        let mut at = slots.back().map_or(now, |last| (*last).max(now));
        for (window, limit) in &windows {
            if slots.len() >= *limit {
                at = at.max(slots[slots.len() - limit] + *window);
            }
        }
        if at > deadline {
            return None;
        }
        slots.push_back(at);
        Some(at)
    }
}

/// How many requests each service was actually sent (retries included).
#[derive(Default)]
pub(crate) struct SentCounter {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl SentCounter {
    pub(crate) fn add(&self, service: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(service.to_owned()).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_minute_ever_holds_more_than_the_per_minute_limit() {
        let limits = OutboundLimits::default();
        let start = Instant::now();
        let far = start + Duration::from_secs(10 * 3600);
        let mut granted = Vec::new();
        for i in 0..40u64 {
            // Callers arrive every 2 s; the limit is 7 a minute and 20 an hour.
            let now = start + Duration::from_secs(2 * i);
            let at = limits
                .reserve("s", Some(7), Some(20), now, far)
                .expect("a slot before the far deadline");
            assert!(at >= now);
            granted.push(at);
        }
        for (i, t) in granted.iter().enumerate() {
            let in_minute = granted[i..].iter().filter(|u| **u < *t + MINUTE).count();
            let in_hour = granted[i..].iter().filter(|u| **u < *t + HOUR).count();
            assert!(in_minute <= 7, "{in_minute} in a minute");
            assert!(in_hour <= 20, "{in_hour} in an hour");
        }
    }

    #[test]
    fn a_slot_past_the_deadline_is_refused_without_being_reserved() {
        let limits = OutboundLimits::default();
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        assert_eq!(limits.reserve("s", Some(1), None, now, soon), Some(now));
        assert_eq!(limits.reserve("s", Some(1), None, now, soon), None);
        // The refused call took nothing: the next free slot is still one minute on.
        let later = now + Duration::from_secs(120);
        assert_eq!(
            limits.reserve("s", Some(1), None, now, later),
            Some(now + MINUTE)
        );
        assert_eq!(limits.reserve("t", None, None, now, soon), Some(now));
    }
}
