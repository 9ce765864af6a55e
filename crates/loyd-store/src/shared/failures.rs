//! The failure log: every refusal a client got, and the counts of guesses (wrong PINs,
//! unknown cards, phones and codes) per terminal that the API's guessing limits read.

use std::sync::Arc;

use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::{QueryBuilder, Row};

use crate::{AttemptCounts, Failure, FailureFilter, NewFailure};
use crate::error::StoreError;
use super::{Backend, Db};

fn failure_from_row(r: &super::rows::DbRow) -> Result<Failure, StoreError> {
    Ok(Failure {
        id: r.try_get("id")?,
        at: from_micros(r.try_get("at")?),
        store: r.try_get("store_id")?,
        terminal: r.try_get("terminal_id")?,
        operation: r.try_get("operation")?,
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        card: r.try_get("card")?,
        client_id: r.try_get("client_id")?,
    })
}

/// Adds the conditions of `filter` to a query of the failure log; `false` when nothing
/// can match (an empty list of stores).
fn filtered(qb: &mut QueryBuilder<Db>, filter: &FailureFilter) -> bool {
    let text_filters = [
        ("store_id", &filter.store),
        ("terminal_id", &filter.terminal),
        ("code", &filter.code),
        ("card", &filter.card),
        ("operation", &filter.operation),
    ];
    for (column, value) in text_filters {
        if let Some(v) = value {
            qb.push(format_args!(" AND {column} = ")).push_bind(v.clone());
        }
    }
    if let Some(stores) = &filter.stores
        && !super::rows::push_in(qb, "store_id", stores)
    {
        return false;
    }
    if let Some(from) = filter.from {
        qb.push(" AND at >= ").push_bind(to_micros(from));
    }
    if let Some(to) = filter.to {
        qb.push(" AND at < ").push_bind(to_micros(to));
    }
    if let Some(before) = filter.before_id {
        qb.push(" AND id < ").push_bind(before);
    }
    true
}

impl Backend {
    /// Records a refusal in the failure log. What the client sent is kept only as
    /// escaped text ([`loyd_domain::text::escaped`]): a refused id may hold anything.
    pub async fn record_failure(&self, failure: NewFailure, now: Timestamp) -> Result<(), StoreError> {
        use loyd_domain::text::escaped;
        let failure = Arc::new(NewFailure {
            message: escaped(&failure.message, 500),
            card: failure.card.as_deref().map(|c| escaped(c, 64)),
            client_id: failure.client_id.as_deref().map(|c| escaped(c, 160)),
            ..failure
        });
        self.write(move |c| {
            let f = failure.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO failures (at, store_id, terminal_id, operation, code, message, card, client_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(to_micros(now))
                .bind(f.store.clone())
                .bind(f.terminal.clone())
                .bind(f.operation)
                .bind(f.code.clone())
                .bind(f.message.clone())
                .bind(f.card.clone())
                .bind(f.client_id.clone())
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// The failure log, newest first.
    pub async fn failures(&self, filter: FailureFilter) -> Result<Vec<Failure>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, at, store_id, terminal_id, operation, code, message, card, client_id FROM failures WHERE 1 = 1",
        );
        if !filtered(&mut qb, &filter) {
            return Ok(Vec::new());
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 1000)));
        qb.build().fetch_all(&mut *c).await?.iter().map(failure_from_row).collect()
    }

    /// How many entries of the failure log match (`before_id` and `limit` aside).
    pub async fn failure_count(&self, filter: FailureFilter) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM failures WHERE 1 = 1");
        if !filtered(&mut qb, &FailureFilter { before_id: None, ..filter }) {
            return Ok(0);
        }
        Ok(qb.build().fetch_one(&mut *c).await?.try_get("n")?)
    }

    /// The refusals since `since` of a store's terminal that count as guesses: wrong
    /// PINs, unknown phones or one-time codes (refusals naming no card), unknown card
    /// numbers.
    pub async fn attempt_counts(&self, store: String, terminal: String, since: Timestamp) -> Result<AttemptCounts, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN code = 'wrong_pin' THEN 1 ELSE 0 END), 0) AS BIGINT) AS pins, \
               CAST(COALESCE(SUM(CASE WHEN code = 'unknown_card' AND card IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS ids, \
               CAST(COALESCE(SUM(CASE WHEN code = 'unknown_card' AND card IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS cards \
             FROM failures WHERE terminal_id = $1 AND store_id = $3 AND code IN ('wrong_pin', 'unknown_card') AND at >= $2",
        )
        .bind(terminal)
        .bind(to_micros(since))
        .bind(store)
        .fetch_one(&mut *c)
        .await?;
        Ok(AttemptCounts { wrong_pins: row.try_get("pins")?, unknown_phones_or_codes: row.try_get("ids")?, unknown_cards: row.try_get("cards")? })
    }
}
