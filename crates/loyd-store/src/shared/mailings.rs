//! Mailings: made by staff, enqueued into the outbox a batch at a time, tested as an
//! A/B split, decided, finished, and reported.
//!
//! A mailing's recipients become deliveries of one event (`mailing`, raised when it
//! starts), one per customer, keyed `mail_<mailing>_<customer>`: enqueuing a batch
//! twice makes nothing twice. The audience is read in customer id order after the
//! mailing's cursor (`after_customer`), a batch per transaction that moves the cursor,
//! so a mailing to a million customers never holds them in memory and a server that
//! stops goes on where it stopped. Who gets which variant is decided by
//! [`loyd_domain::mailings::variant_for`] from the customer's bucket: the test share
//! first (phase 1), and when the winner is chosen, the rest (phase 2) with the winner.
//!
//! Throttling: each channel has a next free moment (`slot:email`, `slot:sms` in
//! `rollup_cursors`); a delivery enqueued is due at it, and it moves on by one slot
//! (a minute over the channel's `rate_per_minute`), so the worker sends at that rate
//! whatever else is queued. Consent is looked at when enqueued (who has none is
//! skipped and counted) and again when sent.

use loyd_domain::events::EventKind;
use loyd_domain::mailings::{self, Audience, MailingSpec, Outcome};
use loyd_domain::messages::Channel;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::audit::audit;
use super::events::record_once;
use super::keys::{json_text, request_hash};
use super::rows::corrupt;
use super::{Backend, Conn, PG};
use crate::error::StoreError;
use crate::{Mailing, MailingReport, MailingStep, NewMailing, VariantReport};

/// The states in which a mailing still has work to do.
const ACTIVE: &str = "('scheduled', 'enqueuing', 'testing', 'sending')";

const MAILING: &str = "id, name, channel, audience, spec, state, send_at, winner, enqueued, skipped, started_at, enqueued_at, decided_at, \
     finished_at, created_by, created_at";

fn mailing_row(r: &<super::Db as sqlx::Database>::Row) -> Result<Mailing, StoreError> {
    let at = |name: &str| -> Result<Option<Timestamp>, StoreError> { Ok(r.try_get::<Option<i64>, _>(name)?.map(from_micros)) };
    Ok(Mailing {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        channel: {
            let name: String = r.try_get("channel")?;
            Channel::parse(&name).ok_or_else(|| corrupt(format!("a mailing's channel '{name}' is not one")))?
        },
        audience: r.try_get("audience")?,
        spec: serde_json::from_str(&r.try_get::<String, _>("spec")?).map_err(|e| corrupt(format!("a mailing's spec does not read: {e}")))?,
        state: r.try_get("state")?,
        send_at: from_micros(r.try_get("send_at")?),
        winner: r.try_get("winner")?,
        enqueued: r.try_get("enqueued")?,
        skipped: r.try_get("skipped")?,
        started_at: at("started_at")?,
        enqueued_at: at("enqueued_at")?,
        decided_at: at("decided_at")?,
        finished_at: at("finished_at")?,
        created_by: r.try_get("created_by")?,
        created_at: from_micros(r.try_get("created_at")?),
    })
}

async fn mailing_of(c: &mut Conn, id: i64) -> Result<Option<Mailing>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MAILING} FROM mailings WHERE id = $1"))).bind(id).fetch_optional(&mut *c).await?;
    row.as_ref().map(mailing_row).transpose()
}

/// The figures of each variant of mailing `id` (purchases within `attribution_days`
/// of a message sent), in the order of the database.
async fn figures(c: &mut Conn, id: i64, attribution_days: u32) -> Result<Vec<VariantReport>, StoreError> {
    let window = i64::from(attribution_days) * 86_400_000_000;
    let count = |cond: &str| format!("SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)");
    let sql = format!(
        "SELECT d.variant, COUNT(*) AS enqueued, {} AS queued, {} AS sent, {} AS failed, {} AS withheld, {} AS opened, {} AS clicked, \
         {} AS unsubscribed, {} AS purchases FROM deliveries d WHERE d.mailing_id = $1 GROUP BY d.variant ORDER BY d.variant",
        count("d.state = 'pending'"),
        count("d.state = 'delivered'"),
        count("d.state = 'dead'"),
        count("d.state = 'withheld'"),
        count("d.opened_at IS NOT NULL"),
        count("d.clicked_at IS NOT NULL"),
        count("d.unsubscribed_at IS NOT NULL"),
        count(
            "d.state = 'delivered' AND EXISTS (SELECT 1 FROM receipts r WHERE r.customer_id = d.customer_id \
             AND r.status = 'committed' AND r.at >= d.delivered_at AND r.at < d.delivered_at + $2)"
        ),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(window).fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| {
            Ok(VariantReport {
                variant: r.try_get::<Option<String>, _>("variant")?.unwrap_or_default(),
                enqueued: r.try_get("enqueued")?,
                queued: r.try_get("queued")?,
                sent: r.try_get("sent")?,
                failed: r.try_get("failed")?,
                withheld: r.try_get("withheld")?,
                opened: r.try_get("opened")?,
                clicked: r.try_get("clicked")?,
                unsubscribed: r.try_get("unsubscribed")?,
                purchases: r.try_get("purchases")?,
            })
        })
        .collect()
}

/// The figures of each variant of `spec`, in its order (a variant nobody got yet with
/// zeros).
fn in_spec_order(spec: &MailingSpec, mut found: Vec<VariantReport>) -> Vec<VariantReport> {
    spec.variants
        .iter()
        .map(|v| match found.iter().position(|f| f.variant == v.name) {
            Some(i) => found.swap_remove(i),
            None => VariantReport { variant: v.name.clone(), ..VariantReport::default() },
        })
        .collect()
}

/// Whether a customer's row lets a mailing on `channel` be enqueued for them: not
/// merged away, not opted out, the channel's consent granted (the portal needs none).
fn reachable(r: &<super::Db as sqlx::Database>::Row, channel: Channel) -> Result<bool, StoreError> {
    if r.try_get::<Option<i64>, _>("merged_into")?.is_some() || r.try_get::<Option<i64>, _>("opted_out_at")?.is_some() {
        return Ok(false);
    }
    let consents: Option<String> = r.try_get("consents")?;
    let Some(consent) = channel.consent() else { return Ok(true) };
    let granted = consents
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v[consent]["granted"] == serde_json::Value::Bool(true));
    Ok(granted)
}

impl Backend {
    /// Makes a mailing, `scheduled` for its `send_at`; the same `operation_id` again
    /// returns the mailing it made (`false`: not made now), or `IdempotencyConflict`
    /// for a different request. Audited.
    pub async fn create_mailing(&self, new: NewMailing, actor: String, now: Timestamp) -> Result<(Mailing, bool), StoreError> {
        let secrets = self.ring();
        let hash = request_hash(&(&new.name, new.channel, new.audience.name(), &new.spec, to_micros(new.send_at), &new.customers));
        let spec = json_text(&new.spec)?;
        self.write(move |c| {
            let (secrets, new, actor, hash, spec) = (secrets.clone(), new.clone(), actor.clone(), hash.clone(), spec.clone());
            Box::pin(async move {
                if let Some(op) = &new.operation_id {
                    let row = sqlx::query("SELECT id, request_hash FROM mailings WHERE operation_id = $1").bind(op).fetch_optional(&mut *c).await?;
                    if let Some(r) = row {
                        if r.try_get::<String, _>("request_hash")? != hash {
                            return Err(StoreError::IdempotencyConflict(format!("operation id '{op}'")));
                        }
                        let m = mailing_of(c, r.try_get("id")?).await?.ok_or_else(|| corrupt("a mailing vanished".into()))?;
                        return Ok((m, false));
                    }
                }
                let id: i64 = sqlx::query(
                    "INSERT INTO mailings (name, channel, audience, spec, state, send_at, operation_id, request_hash, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(&new.name)
                .bind(new.channel.name())
                .bind(new.audience.name())
                .bind(&spec)
                .bind(to_micros(new.send_at))
                .bind(&new.operation_id)
                .bind(&hash)
                .bind(&actor)
                .bind(to_micros(now))
                .fetch_one(&mut *c)
                .await?
                .try_get("id")?;
                for chunk in new.customers.chunks(1000) {
                    let mut qb = sqlx::QueryBuilder::<super::Db>::new("INSERT INTO mailing_list (mailing_id, customer_id) ");
                    qb.push_values(chunk, |mut b, customer| {
                        b.push_bind(id).push_bind(*customer);
                    });
                    qb.push(" ON CONFLICT DO NOTHING");
                    qb.build().execute(&mut *c).await?;
                }
                let m = mailing_of(c, id).await?.ok_or_else(|| corrupt("a mailing just made is not there".into()))?;
                audit(c, &secrets.ring, now, &actor, "mailing.create", "mailing", &id.to_string(), None::<&()>, Some(&m)).await?;
                Ok((m, true))
            })
        })
        .await
    }

    /// Mailings, newest first, `limit` of them before id `before`.
    pub async fn mailings(&self, before: Option<i64>, limit: u32) -> Result<Vec<Mailing>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MAILING} FROM mailings WHERE id < $1 ORDER BY id DESC LIMIT $2")))
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit.clamp(1, 500)))
            .fetch_all(&mut *c)
            .await?;
        rows.iter().map(mailing_row).collect()
    }

    /// A mailing; `None` when there is none.
    pub async fn mailing(&self, id: i64) -> Result<Option<Mailing>, StoreError> {
        let mut c = self.reader().await?;
        mailing_of(&mut c, id).await
    }

    /// A mailing with its figures per variant and in total; `None` when there is none.
    pub async fn mailing_report(&self, id: i64) -> Result<Option<MailingReport>, StoreError> {
        let mut c = self.reader().await?;
        let Some(mailing) = mailing_of(&mut c, id).await? else { return Ok(None) };
        let variants = in_spec_order(&mailing.spec, figures(&mut c, id, mailing.spec.attribution_days).await?);
        let mut total = VariantReport::default();
        for v in &variants {
            total.enqueued += v.enqueued;
            total.queued += v.queued;
            total.sent += v.sent;
            total.failed += v.failed;
            total.withheld += v.withheld;
            total.opened += v.opened;
            total.clicked += v.clicked;
            total.unsubscribed += v.unsubscribed;
            total.purchases += v.purchases;
        }
        Ok(Some(MailingReport { mailing, variants, total }))
    }

    /// Cancels a mailing that is not finished: nothing more is enqueued, and what is
    /// queued is withheld. The mailing after, and whether it was cancelled now
    /// (`false`: it was sent or cancelled already). Audited.
    pub async fn cancel_mailing(&self, id: i64, actor: String, now: Timestamp) -> Result<(Mailing, bool), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, actor) = (secrets.clone(), actor.clone());
            Box::pin(async move {
                let at = to_micros(now);
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE mailings SET state = 'cancelled', finished_at = $1 WHERE id = $2 AND state IN {ACTIVE}"
                )))
                .bind(at)
                .bind(id)
                .execute(&mut *c)
                .await?;
                let cancelled = done.rows_affected() == 1;
                if cancelled {
                    sqlx::query(
                        "UPDATE deliveries SET state = 'withheld', last_error = 'the mailing was cancelled', last_at = $1, claimed_until = NULL \
                         WHERE mailing_id = $2 AND state = 'pending'",
                    )
                    .bind(at)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                }
                let m = mailing_of(c, id).await?.ok_or_else(|| StoreError::NotFound { what: "mailing", id: id.to_string() })?;
                if cancelled {
                    audit(c, &secrets.ring, now, &actor, "mailing.cancel", "mailing", &id.to_string(), None::<&()>, Some(&m.state)).await?;
                }
                Ok((m, cancelled))
            })
        })
        .await
    }

    /// The mailings with work to do at `now`, oldest first, with their channels.
    pub async fn active_mailings(&self, now: Timestamp) -> Result<Vec<(i64, Channel)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id, channel FROM mailings WHERE state IN {ACTIVE} AND send_at <= $1 ORDER BY id")))
            .bind(to_micros(now))
            .fetch_all(&mut *c)
            .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("channel")?;
                Ok((r.try_get("id")?, Channel::parse(&name).ok_or_else(|| corrupt(format!("a mailing's channel '{name}' is not one")))?))
            })
            .collect()
    }

    /// One step of mailing `id` at `now`: a batch of up to `batch` audience members
    /// enqueued (their deliveries one `spacing` apart on the channel, microseconds;
    /// none: as fast as the worker goes), or a change of state once the audience is
    /// read, the test decided, or the last delivery done.
    pub async fn mailing_step(&self, id: i64, spacing: Option<i64>, batch: u32, now: Timestamp) -> Result<MailingStep, StoreError> {
        // A mailing waiting for its winner or its last deliveries is seen so by a reader,
        // without a commit (the step checks again in its transaction).
        let mut r = self.reader().await?;
        let waiting = match mailing_of(&mut r, id).await? {
            None => true,
            Some(m) if m.state == "testing" => m.enqueued_at.is_none_or(|t| to_micros(now) < to_micros(t) + i64::from(m.spec.decide_after_hours) * 3_600_000_000),
            Some(m) if m.state == "sending" => {
                sqlx::query("SELECT 1 FROM deliveries WHERE mailing_id = $1 AND state = 'pending' LIMIT 1").bind(id).fetch_optional(&mut *r).await?.is_some()
            }
            Some(_) => false,
        };
        drop(r);
        if waiting {
            return Ok(MailingStep::Idle);
        }
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let lock = if PG { " FOR UPDATE SKIP LOCKED" } else { "" };
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {MAILING}, phase, after_customer FROM mailings WHERE id = $1 AND state IN {ACTIVE}{lock}"
                )))
                .bind(id)
                .fetch_optional(&mut *c)
                .await?;
                let Some(row) = row else { return Ok(MailingStep::Idle) };
                let m = mailing_row(&row)?;
                let (phase, after): (i64, i64) = (row.try_get("phase")?, row.try_get("after_customer")?);
                let at = to_micros(now);
                match m.state.as_str() {
                    "scheduled" | "enqueuing" if m.send_at <= now => enqueue(c, &secrets.ring, &m, (phase, after), (spacing, batch), now).await,
                    "testing" => {
                        let due = m.enqueued_at.map(|t| to_micros(t) + i64::from(m.spec.decide_after_hours) * 3_600_000_000);
                        if due.is_none_or(|due| at < due) {
                            return Ok(MailingStep::Idle);
                        }
                        let found = in_spec_order(&m.spec, figures(c, id, m.spec.attribution_days).await?);
                        let outcomes: Vec<Outcome> = found
                            .iter()
                            .map(|f| Outcome { delivered: f.sent, opened: f.opened, clicked: f.clicked, purchases: f.purchases })
                            .collect();
                        let winner = m.spec.variants[mailings::winner(&outcomes, m.spec.winner_by)].name.clone();
                        sqlx::query("UPDATE mailings SET state = 'enqueuing', phase = 2, after_customer = 0, winner = $1, decided_at = $2 WHERE id = $3")
                            .bind(&winner)
                            .bind(at)
                            .bind(id)
                            .execute(&mut *c)
                            .await?;
                        Ok(MailingStep::Moved)
                    }
                    "sending" => {
                        let pending = sqlx::query("SELECT 1 FROM deliveries WHERE mailing_id = $1 AND state = 'pending' LIMIT 1").bind(id).fetch_optional(&mut *c).await?;
                        if pending.is_some() {
                            return Ok(MailingStep::Idle);
                        }
                        sqlx::query("UPDATE mailings SET state = 'sent', finished_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *c).await?;
                        Ok(MailingStep::Moved)
                    }
                    _ => Ok(MailingStep::Idle),
                }
            })
        })
        .await
    }

    /// Counts an open (and with `clicked`, a click) of a mailing's delivery `id`, the
    /// first of each only.
    pub async fn mark_tracked(&self, id: i64, clicked: bool, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let sql = if clicked {
                    "UPDATE deliveries SET opened_at = COALESCE(opened_at, $1), clicked_at = COALESCE(clicked_at, $1) WHERE id = $2 AND mailing_id IS NOT NULL"
                } else {
                    "UPDATE deliveries SET opened_at = COALESCE(opened_at, $1) WHERE id = $2 AND mailing_id IS NOT NULL"
                };
                sqlx::query(sql).bind(to_micros(now)).bind(id).execute(&mut *c).await?;
                Ok(())
            })
        })
        .await
    }

    /// Withdraws a customer's consent to `channel` through an unsubscribe link, audited
    /// as `actor`, and counts it against the last mailing sent to them on it — one
    /// transaction: both or neither.
    pub async fn unsubscribe_customer(&self, customer: i64, channel: String, actor: String, now: Timestamp) -> Result<crate::Customer, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (channel, actor, secrets) = (channel.clone(), actor.clone(), secrets.clone());
            Box::pin(async move {
                let patch = crate::CustomerPatch { consents: [(channel.clone(), false)].into(), ..crate::CustomerPatch::default() };
                let after = super::customers::update_in(c, &secrets.ring, customer, &patch, &actor, now).await?;
                sqlx::query(
                    "UPDATE deliveries SET unsubscribed_at = $1 WHERE unsubscribed_at IS NULL AND id = (SELECT MAX(id) FROM deliveries \
                     WHERE customer_id = $2 AND channel = $3 AND mailing_id IS NOT NULL AND state = 'delivered')",
                )
                .bind(to_micros(now))
                .bind(customer)
                .bind(channel)
                .execute(&mut *c)
                .await?;
                Ok(after)
            })
        })
        .await
    }

    /// The time zone of the store a customer last bought at; `None` when they never
    /// bought.
    pub async fn customer_zone(&self, customer: i64) -> Result<Option<String>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT s.timezone FROM receipts r JOIN stores s ON s.id = r.store_id WHERE r.customer_id = $1 ORDER BY r.at DESC LIMIT 1")
            .bind(customer)
            .fetch_optional(&mut *c)
            .await?;
        row.map(|r| r.try_get("timezone")).transpose().map_err(Into::into)
    }
}

/// Enqueues the next batch of mailing `m`'s audience in `phase` after customer
/// `after`; when the audience is read, moves the mailing on: to `testing` when the
/// test share is out and a rest waits for the winner, else to `sending`.
async fn enqueue(
    c: &mut Conn,
    ring: &crate::crypto::Keyring,
    m: &Mailing,
    (phase, after): (i64, i64),
    (spacing, batch): (Option<i64>, u32),
    now: Timestamp,
) -> Result<MailingStep, StoreError> {
    let at = to_micros(now);
    let audience = Audience::parse(&m.audience).ok_or_else(|| corrupt(format!("a mailing's audience '{}' does not read", m.audience)))?;
    let columns = "c.id, c.consents, c.opted_out_at, c.merged_into";
    let (from, segment) = match &audience {
        Audience::All => ("customers c WHERE c.id > $1".to_owned(), None),
        Audience::Segment(s) => ("segment_members l JOIN customers c ON c.id = l.customer_id WHERE l.segment = $3 AND l.customer_id > $1".to_owned(), Some(s.clone())),
        Audience::List => ("mailing_list l JOIN customers c ON c.id = l.customer_id WHERE l.mailing_id = $3 AND l.customer_id > $1".to_owned(), None),
    };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {columns} FROM {from} ORDER BY c.id LIMIT $2"))).bind(after).bind(i64::from(batch));
    match (&audience, segment) {
        (Audience::Segment(_), Some(s)) => q = q.bind(s),
        (Audience::List, _) => q = q.bind(m.id),
        _ => {}
    }
    let rows = q.fetch_all(&mut *c).await?;
    // The mailing's event, once: its deliveries hang from it.
    let dedupe = format!("mailing:{}", m.id);
    let subject = format!("mailing:{}", m.id);
    let data = serde_json::json!({ "mailing": m.id, "name": m.name });
    let event = match record_once(c, ring, (EventKind::Mailing, &subject, &data), Some(&subject), Some(&dedupe), now).await? {
        Some(id) => id,
        None => sqlx::query("SELECT id FROM events WHERE dedupe = $1").bind(&dedupe).fetch_one(&mut *c).await?.try_get("id")?,
    };
    let n = m.spec.variants.len();
    let mut picked: Vec<(i64, String)> = Vec::new();
    let mut skipped = 0i64;
    let mut last = after;
    for r in &rows {
        let customer: i64 = r.try_get("id")?;
        last = customer;
        let bucket = mailings::bucket(m.id, customer);
        let variant = match (phase, mailings::variant_for(bucket, m.spec.test_share, n)) {
            (1, Some(v)) => m.spec.variants[v].name.clone(),
            (1, None) => continue,
            (_, Some(_)) => continue,
            (_, None) => m.winner.clone().ok_or_else(|| corrupt("the rest of a mailing is enqueued without a winner".into()))?,
        };
        if reachable(r, m.channel)? {
            picked.push((customer, variant));
        } else {
            skipped += 1;
        }
    }
    // Due one slot apart from the channel's next free moment.
    let slot = super::cursors::slot_of(m.channel);
    let mut next = match spacing {
        Some(_) => super::cursors::cursor(c, slot).await?.max(at),
        None => at,
    };
    let mut made = 0u64;
    for chunk in picked.chunks(1000) {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "INSERT INTO deliveries (event_id, channel, target, key, state, next_at, created_at, mailing_id, variant, customer_id) ",
        );
        qb.push_values(chunk, |mut b, (customer, variant)| {
            b.push_bind(event)
                .push_bind(m.channel.name())
                .push_bind(subject.clone())
                .push_bind(format!("mail_{}_{customer}", m.id))
                .push_bind("pending")
                .push_bind(next)
                .push_bind(at)
                .push_bind(m.id)
                .push_bind(variant.clone())
                .push_bind(*customer);
            next = next.saturating_add(spacing.unwrap_or(0));
        });
        qb.push(" ON CONFLICT (key) DO NOTHING");
        made += qb.build().execute(&mut *c).await?.rows_affected();
    }
    if spacing.is_some() && !picked.is_empty() {
        super::cursors::move_cursor(c, slot, next).await?;
    }
    let read_all = rows.len() < batch as usize;
    let state = match (read_all, phase) {
        (false, _) => "enqueuing",
        (true, 1) if mailings::has_rest(&m.spec) => "testing",
        (true, _) => "sending",
    };
    let enqueued_at = if read_all && phase == 1 { Some(at) } else { m.enqueued_at.map(to_micros) };
    sqlx::query(
        "UPDATE mailings SET state = $1, after_customer = $2, enqueued = enqueued + $3, skipped = skipped + $4, \
         started_at = COALESCE(started_at, $5), enqueued_at = $6 WHERE id = $7",
    )
    .bind(state)
    .bind(last)
    .bind(i64::try_from(made).unwrap_or(i64::MAX))
    .bind(skipped)
    .bind(at)
    .bind(enqueued_at)
    .bind(m.id)
    .execute(&mut *c)
    .await?;
    Ok(if read_all { MailingStep::Moved } else { MailingStep::Batch })
}
