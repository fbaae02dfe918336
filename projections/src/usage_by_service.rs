//! `usage_by_service`: how many times credentials of each service were used, per UTC day (the
//! admin's metrics). Built from `CredentialUsed`: one upsert per (service, day) a batch touches.

use crate::event::{decode, Decoded};
use crate::{Prepared, ProjectionError, ReadModel, Tables};
use cqrs_es::Aggregate as _;
use credledger_adapters::db::{is_sqlite, tuples};
use credledger_adapters::feed::FeedEvent;
use credledger_domain::usage::{CredentialUsage, UsageEvent};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet};

/// The read model (see [`ReadModel`]).
pub struct UsageByService;

#[async_trait::async_trait]
impl ReadModel for UsageByService {
    fn name(&self) -> &'static str {
        "usage_by_service"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["usage_by_service"]
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[CredentialUsage::TYPE])
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        tables: Tables,
        events: &[FeedEvent],
        _prepared: Option<Prepared>,
    ) -> Result<BTreeSet<String>, ProjectionError> {
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        // Only uses count: other events are not even decoded.
        for feed in events.iter().filter(|e| crate::reads(self, e)) {
            let envelope = decode(feed)?;
            if let Decoded::Usage(UsageEvent::CredentialUsed { service, .. }) = &envelope.event {
                let day = envelope.metadata.occurred_at.date_naive().to_string();
                *counts.entry((service.to_string(), day)).or_default() += 1;
            }
        }
        let table = tables.name("usage_by_service");
        let counts: Vec<_> = counts.into_iter().collect();
        for chunk in counts.chunks(500) {
            let sql = format!(
                "INSERT INTO {table} (service, day, uses) VALUES {} \
                 ON CONFLICT (service, day) DO UPDATE SET uses = {table}.uses + excluded.uses",
                tuples(is_sqlite(conn), 1, chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for ((service, day), uses) in chunk {
                q = q.bind(service.clone()).bind(day.clone()).bind(*uses);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(BTreeSet::new())
    }
}

/// Uses of one service on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUses {
    pub service: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub uses: i64,
}

/// Every service's uses on the days from `since` (`YYYY-MM-DD`) on, by day then service.
pub async fn since(pool: &AnyPool, since: &str) -> Result<Vec<DailyUses>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT service, day, uses FROM usage_by_service WHERE day >= $1 ORDER BY day, service",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DailyUses {
                service: r.try_get("service")?,
                day: r.try_get("day")?,
                uses: r.try_get("uses")?,
            })
        })
        .collect()
}
