//! Events and their deliveries: the outbox. An event is written by [`record_event`] in
//! the transaction of its cause, so it exists exactly when its cause does. The
//! dispatcher ([`Backend::dispatch_events`]) makes one delivery per webhook of the
//! program in force that wants the event, and marks the event dispatched, in one
//! transaction: a delivery's key (event and webhook) is unique, so a dispatch run twice
//! makes nothing twice. A worker claims due deliveries for a lease
//! ([`Backend::claim_deliveries`]: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! servers never take the same one; the single writer on SQLite), sends them outside
//! any transaction, and records the attempts ([`Backend::record_attempts`]). A server
//! that dies between sending and recording leaves the claim to lapse: the delivery is
//! sent again, with the same idempotency key, after the lease.

use loyd_domain::events::{self, EventKind};
use loyd_domain::program::Program;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::audit::audit;
use super::rows::corrupt;
use super::{Backend, Conn, PG};
use crate::crypto::Keyring;
use crate::error::StoreError;
use crate::{Attempt, Delivery, DeliveryFilter, DueDelivery};

/// The context events' data are sealed in (personal data may be in it).
const SEALED_AS: &str = "event";

/// The context channel secrets are sealed in.
const SECRET_AS: &str = "channel";

/// Records that `kind` happened to `subject`, with `data` (sealed), inside the caller's
/// transaction. `target`: the one webhook a test event is for.
pub(crate) async fn record_event(
    c: &mut Conn,
    ring: &Keyring,
    kind: EventKind,
    subject: &str,
    data: &serde_json::Value,
    target: Option<&str>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id = record_once(c, ring, (kind, subject, data), target, None, now).await?;
    id.ok_or_else(|| corrupt("an event without a key was not recorded".into()))
}

/// As [`record_event`], once per `dedupe` key: `None` when an event with it exists.
pub(super) async fn record_once(
    c: &mut Conn,
    ring: &Keyring,
    (kind, subject, data): (EventKind, &str, &serde_json::Value),
    target: Option<&str>,
    dedupe: Option<&str>,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "INSERT INTO events (kind, subject, payload, created_at, target, dedupe) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (dedupe) DO NOTHING RETURNING id",
    )
    .bind(kind.name())
    .bind(subject)
    .bind(ring.seal(SEALED_AS, &data.to_string()))
    .bind(to_micros(now))
    .bind(target)
    .bind(dedupe)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// What a committed receipt did to its identified customer, for the events it raises.
pub(crate) struct ReceiptDone<'a> {
    pub(crate) customer: i64,
    pub(crate) receipt: &'a str,
    /// The store it was committed at.
    pub(crate) store: &'a str,
    pub(crate) calc: &'a loyd_domain::receipt::Calculation,
    /// Coupons issued: series, code, and until when (as the receipt's answer says it).
    pub(crate) coupons: Vec<(&'a str, &'a str, Option<&'a str>)>,
    /// Levels changed by it.
    pub(crate) tiers: Vec<loyd_domain::program::TierChange>,
}

/// The events of [`EventKind::OF_RECEIPTS`] a committed receipt raises that the program
/// wants, with their data: points accrued and spent per currency (with the balance
/// left), levels changed, coupons issued, gifts due. None when none is wanted.
pub(crate) fn receipt_events(program: &Program, done: &ReceiptDone<'_>) -> Vec<(EventKind, serde_json::Value)> {
    let amount = |currency: &str, units: i64| loyd_domain::money::Minor::new(units, program.scale_of(currency)).to_decimal().to_string();
    let balance = |currency: &loyd_domain::ids::AssetCode| {
        let units = done.calc.balances.iter().find(|b| b.currency == *currency).map_or(0, |b| b.available);
        amount(currency.as_str(), units)
    };
    let mut raised: Vec<(EventKind, serde_json::Value)> = Vec::new();
    let per_currency = |moved: &mut dyn Iterator<Item = (&'_ loyd_domain::ids::AssetCode, i64)>| {
        let mut per: std::collections::BTreeMap<&loyd_domain::ids::AssetCode, i64> = Default::default();
        for (currency, units) in moved.filter(|(_, u)| *u > 0) {
            *per.entry(currency).or_default() += units;
        }
        per.into_iter()
            .map(|(currency, units)| serde_json::json!({ "amount": amount(currency.as_str(), units), "currency": currency.as_str(), "balance": balance(currency) }))
            .collect::<Vec<_>>()
    };
    if program.raises(EventKind::PointsAccrued) {
        let data = per_currency(&mut done.calc.accrued.iter().map(|a| (&a.currency, a.units)));
        raised.extend(data.into_iter().map(|d| (EventKind::PointsAccrued, d)));
    }
    if program.raises(EventKind::PointsRedeemed) {
        let data = per_currency(&mut done.calc.redeemed.iter().map(|r| (&r.currency, r.units)));
        raised.extend(data.into_iter().map(|d| (EventKind::PointsRedeemed, d)));
    }
    if program.raises(EventKind::TierChanged) {
        raised.extend(done.tiers.iter().map(|t| (EventKind::TierChanged, tier_data(t))));
    }
    if program.raises(EventKind::CouponIssued) {
        for (series, code, valid_until) in &done.coupons {
            raised.push((EventKind::CouponIssued, serde_json::json!({ "code": code, "series": series, "valid_until": valid_until })));
        }
    }
    if program.raises(EventKind::GiftDue) {
        for g in &done.calc.gifts {
            raised.push((EventKind::GiftDue, serde_json::json!({ "gift": g.gift, "campaign": g.campaign })));
        }
    }
    let customer = loyd_domain::ids::CustomerId(done.customer).to_string();
    for (_, data) in &mut raised {
        data["customer"] = customer.clone().into();
        data["receipt"] = done.receipt.into();
        data["store"] = done.store.into();
    }
    raised
}

/// Stages `events` about `customer` (sealed) as parts of a transaction's batched writes:
/// they cost no round trip of their own.
pub(crate) fn stage_events(
    writes: &mut super::writes::Writes,
    ring: &Keyring,
    customer: i64,
    events: Vec<(EventKind, serde_json::Value)>,
    now: Timestamp,
) {
    let subject = format!("customer:{customer}");
    for (kind, data) in events {
        let qb = writes.part(4);
        qb.push("INSERT INTO events (kind, subject, payload, created_at) VALUES (");
        let mut values = qb.separated(", ");
        values.push_bind(kind.name()).push_bind(subject.clone()).push_bind(ring.seal(SEALED_AS, &data.to_string())).push_bind(to_micros(now));
        qb.push(")");
    }
}

fn tier_data(t: &loyd_domain::program::TierChange) -> serde_json::Value {
    serde_json::json!({ "ladder": t.ladder, "from": t.from, "to": t.to, "direction": t.direction.name() })
}

/// Records `tier.changed` for each level a receipt, a return or a cancellation of
/// `receipt` changed (the caller asks only when the program wants it).
pub(crate) async fn record_tier_changes(
    c: &mut Conn,
    ring: &Keyring,
    customer: i64,
    receipt: Option<&str>,
    changes: &[loyd_domain::program::TierChange],
    now: Timestamp,
) -> Result<(), StoreError> {
    for t in changes {
        let mut data = tier_data(t);
        data["customer"] = loyd_domain::ids::CustomerId(customer).to_string().into();
        data["receipt"] = receipt.into();
        record_event(c, ring, EventKind::TierChanged, &format!("customer:{customer}"), &data, None, now).await?;
    }
    Ok(())
}

/// How often the points expiring are looked for.
pub(super) const NOTICE_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// The idempotency key of the delivery of event `event` to webhook `webhook`.
fn delivery_key(event: i64, webhook: &str) -> String {
    format!("evt_{event}_{webhook}")
}

/// The idempotency key of message `message` sent for event `event`.
fn message_key(event: i64, message: &str) -> String {
    format!("msg_{event}_{message}")
}

fn kind_of(name: &str) -> Result<EventKind, StoreError> {
    EventKind::parse(name).ok_or_else(|| corrupt(format!("an event of unknown kind '{name}'")))
}

const DELIVERY: &str = "d.id, d.event_id, e.kind, e.subject, d.channel, d.target, d.key, d.state, d.attempts, d.next_at, d.last_at, \
     d.last_status, d.last_error, d.created_at, d.delivered_at";

fn delivery_row(r: &<super::Db as sqlx::Database>::Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        event: kind_of(&r.try_get::<String, _>("kind")?)?,
        subject: r.try_get("subject")?,
        channel: r.try_get("channel")?,
        target: r.try_get("target")?,
        key: r.try_get("key")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_at: from_micros(r.try_get("next_at")?),
        last_at: r.try_get::<Option<i64>, _>("last_at")?.map(from_micros),
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at: from_micros(r.try_get("created_at")?),
        delivered_at: r.try_get::<Option<i64>, _>("delivered_at")?.map(from_micros),
    })
}

impl Backend {
    /// Raises `points.expiring` for each customer's points of a currency that expire on
    /// a day within the notice (the longest `days_before` of the messages that want it,
    /// 7 days for webhooks), once per customer, currency and day, at most hourly;
    /// returns how many it raised.
    pub async fn expiry_notices(&self, program: std::sync::Arc<Program>, now: Timestamp) -> Result<usize, StoreError> {
        let kind = EventKind::PointsExpiring;
        let messages = program.messages.iter().filter(|m| m.wants(kind)).map(|m| m.days_before);
        let hooks = program.webhooks.iter().filter(|w| w.wants(kind)).map(|_| events::EXPIRY_NOTICE_DAYS);
        let Some(days) = messages.chain(hooks).max() else { return Ok(0) };
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, program) = (secrets.clone(), program.clone());
            Box::pin(async move {
                let at = to_micros(now);
                if at - super::cursors::cursor(c, "expiry_notices").await? < i64::try_from(NOTICE_EVERY.as_micros()).unwrap_or(i64::MAX) {
                    return Ok(0);
                }
                let until = now.saturating_add(jiff::SignedDuration::from_hours(i64::from(days) * 24)).map_or(i64::MAX, to_micros);
                let rows = sqlx::query(
                    "SELECT a.holder_id, a.asset, l.expires_at, l.remaining FROM lots l JOIN accounts a ON a.id = l.account_id \
                     WHERE l.remaining > 0 AND l.expires_at > $1 AND l.expires_at <= $2 AND a.holder_kind = 'customer'",
                )
                .bind(at)
                .bind(until)
                .fetch_all(&mut *c)
                .await?;
                // Per customer, currency and the (UTC) day they expire.
                let mut due: std::collections::BTreeMap<(String, String, String), i64> = Default::default();
                for r in &rows {
                    let day = from_micros(r.try_get("expires_at")?).strftime("%Y-%m-%d").to_string();
                    *due.entry((r.try_get("holder_id")?, r.try_get("asset")?, day)).or_default() += r.try_get::<i64, _>("remaining")?;
                }
                let mut raised = 0;
                for ((customer, asset, day), remaining) in due {
                    let amount = loyd_domain::money::Minor::new(remaining, program.scale_of(&asset)).to_decimal();
                    let Ok(id) = customer.parse::<i64>() else { continue };
                    let data = serde_json::json!({
                        "customer": loyd_domain::ids::CustomerId(id).to_string(),
                        "currency": asset,
                        "amount": amount.to_string(),
                        "expires_on": day,
                    });
                    let dedupe = format!("{}:{customer}:{asset}:{day}", kind.name());
                    let subject = format!("customer:{customer}");
                    if record_once(c, &secrets.ring, (kind, &subject, &data), None, Some(&dedupe), now).await?.is_some() {
                        raised += 1;
                    }
                }
                super::cursors::move_cursor(c, "expiry_notices", at).await?;
                Ok(raised)
            })
        })
        .await
    }

    /// Makes the deliveries of up to `limit` events not yet dispatched, for the webhooks
    /// and messages of `program` that want them; returns how many events it dispatched.
    pub async fn dispatch_events(&self, program: std::sync::Arc<Program>, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        // Most passes find nothing new: asked of a reader, that costs no commit.
        let mut r = self.reader().await?;
        if sqlx::query("SELECT 1 FROM events WHERE dispatched = 0 LIMIT 1").fetch_optional(&mut *r).await?.is_none() {
            return Ok(0);
        }
        drop(r);
        let secrets = self.ring();
        self.write(move |c| {
            let (program, secrets) = (program.clone(), secrets.clone());
            Box::pin(async move {
                let lock = if PG { " FOR UPDATE SKIP LOCKED" } else { "" };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT id, kind, subject, target, payload FROM events WHERE dispatched = 0 ORDER BY id LIMIT $1{lock}"
                )))
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await?;
                for r in &rows {
                    let id: i64 = r.try_get("id")?;
                    let kind = kind_of(&r.try_get::<String, _>("kind")?)?;
                    let target: Option<String> = r.try_get("target")?;
                    // A message's customer, kept on its delivery (a customer's limit counts them).
                    let customer = r.try_get::<String, _>("subject")?.strip_prefix("customer:").and_then(|id| id.parse::<i64>().ok());
                    let webhooks = program.webhooks.iter().filter(|w| match &target {
                        Some(t) => w.id == *t,
                        None => w.wants(kind),
                    });
                    // A message with conditions reads the event's data to decide.
                    let wanted: Vec<_> = program.messages.iter().filter(|m| target.is_none() && m.wants(kind)).collect();
                    let data = if wanted.is_empty() {
                        serde_json::Value::Null
                    } else {
                        let payload = secrets.ring.open(SEALED_AS, &r.try_get::<String, _>("payload")?)?;
                        serde_json::from_str(&payload).map_err(|e| corrupt(format!("an event's data does not read: {e}")))?
                    };
                    let messages = wanted.into_iter().filter(|m| m.accepts(&data));
                    let at = to_micros(now);
                    let mut receivers: Vec<(&str, &str, String, Option<i64>, i64)> =
                        webhooks.map(|w| ("webhook", w.id.as_str(), delivery_key(id, &w.id), None, at)).collect();
                    for m in messages {
                        // Marketing on a channel with a rate takes the channel's next free moment, as a
                        // mailing's messages do; a transactional message goes at once.
                        let due = match program.spacing(m.channel).filter(|_| !m.transactional) {
                            Some(gap) => {
                                let slot = super::cursors::slot_of(m.channel);
                                let due = super::cursors::cursor(c, slot).await?.max(at);
                                super::cursors::move_cursor(c, slot, due.saturating_add(gap)).await?;
                                due
                            }
                            None => at,
                        };
                        receivers.push((m.channel.name(), m.id.as_str(), message_key(id, &m.id), customer, due));
                    }
                    for (channel, receiver, key, customer, due) in receivers {
                        sqlx::query(
                            "INSERT INTO deliveries (event_id, channel, target, key, state, next_at, created_at, customer_id) \
                             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) ON CONFLICT (key) DO NOTHING",
                        )
                        .bind(id)
                        .bind(channel)
                        .bind(receiver)
                        .bind(key)
                        .bind(due)
                        .bind(at)
                        .bind(customer)
                        .execute(&mut *c)
                        .await?;
                    }
                    sqlx::query("UPDATE events SET dispatched = 1 WHERE id = $1").bind(id).execute(&mut *c).await?;
                }
                Ok(rows.len())
            })
        })
        .await
    }

    /// Claims up to `limit` deliveries due at `now` for `lease`: no other worker takes
    /// them until it lapses. Oldest due first.
    pub async fn claim_deliveries(&self, limit: u32, lease: jiff::SignedDuration, now: Timestamp) -> Result<Vec<DueDelivery>, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let lock = if PG { " FOR UPDATE SKIP LOCKED" } else { "" };
                let at = to_micros(now);
                let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_at, id LIMIT $2{lock}"
                )))
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<super::Db>::new("UPDATE deliveries SET claimed_until = ");
                qb.push_bind(at.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))).push(" WHERE id IN (");
                let mut list = qb.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut *c).await?;
                let mut qb = sqlx::QueryBuilder::<super::Db>::new(
                    "SELECT d.id, d.key, d.channel, d.target, d.attempts, d.mailing_id, d.variant, d.customer_id, e.kind, e.subject, e.created_at, \
                     e.payload FROM deliveries d \
                     JOIN events e ON e.id = d.event_id WHERE d.id IN (",
                );
                let mut list = qb.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                qb.push(") ORDER BY d.next_at, d.id");
                let mut due = Vec::with_capacity(ids.len());
                for r in qb.build().fetch_all(&mut *c).await? {
                    let payload = secrets.ring.open(SEALED_AS, &r.try_get::<String, _>("payload")?)?;
                    due.push(DueDelivery {
                        id: r.try_get("id")?,
                        key: r.try_get("key")?,
                        event: kind_of(&r.try_get::<String, _>("kind")?)?,
                        channel: r.try_get("channel")?,
                        target: r.try_get("target")?,
                        subject: r.try_get("subject")?,
                        created_at: from_micros(r.try_get("created_at")?),
                        data: serde_json::from_str(&payload).map_err(|e| corrupt(format!("an event's data does not read: {e}")))?,
                        attempts: r.try_get("attempts")?,
                        mailing: match (r.try_get("mailing_id")?, r.try_get("variant")?, r.try_get("customer_id")?) {
                            (Some(mailing), Some(variant), Some(customer)) => Some(crate::MailingDelivery { mailing, variant, customer }),
                            _ => None,
                        },
                    });
                }
                Ok(due)
            })
        })
        .await
    }

    /// Records how the attempts of a pass ended, in one transaction ([`record_one`]).
    /// A gift card certificate delivered takes its PIN out of its event: from then on
    /// only its recipient knows it.
    pub async fn record_attempts(&self, attempts: Vec<(i64, Attempt)>, now: Timestamp) -> Result<(), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (attempts, secrets) = (attempts.clone(), secrets.clone());
            Box::pin(async move {
                let mut delivered = Vec::new();
                for (id, attempt) in &attempts {
                    if record_one(c, *id, attempt, now).await? {
                        delivered.push(*id);
                    }
                }
                if !delivered.is_empty() {
                    forget_secrets(c, &secrets.ring, &delivered).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// How many messages on `channel` were sent to `customer` since `since`.
    pub async fn messages_sent(&self, customer: i64, channel: String, since: Timestamp) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM deliveries WHERE customer_id = $1 AND channel = $2 AND state = 'delivered' AND delivered_at >= $3")
            .bind(customer)
            .bind(channel)
            .bind(to_micros(since))
            .fetch_one(&mut *c)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Deliveries, newest first; see [`DeliveryFilter`].
    pub async fn deliveries(&self, filter: DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!("SELECT {DELIVERY} FROM deliveries d JOIN events e ON e.id = d.event_id WHERE 1 = 1"));
        for (column, value) in [("d.target", &filter.target), ("d.state", &filter.state)] {
            if let Some(v) = value {
                qb.push(format_args!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(before) = filter.before {
            qb.push(" AND d.id < ").push_bind(before);
        }
        qb.push(" ORDER BY d.id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 500)));
        qb.build().fetch_all(&mut *c).await?.iter().map(delivery_row).collect()
    }

    /// Sends a dead delivery again from now, attempts counted afresh; `None` when there
    /// is no dead delivery `id`. Audited.
    pub async fn retry_delivery(&self, id: i64, actor: String, now: Timestamp) -> Result<Option<Delivery>, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, actor) = (secrets.clone(), actor.clone());
            Box::pin(async move {
                let done = sqlx::query("UPDATE deliveries SET state = 'pending', attempts = 0, next_at = $1, claimed_until = NULL WHERE id = $2 AND state = 'dead'")
                    .bind(to_micros(now))
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DELIVERY} FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1")))
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await?;
                let d = delivery_row(&row)?;
                audit(c, &secrets.ring, now, &actor, "delivery.retry", "delivery", &id.to_string(), None::<&()>, Some(&d.key)).await?;
                Ok(Some(d))
            })
        })
        .await
    }

    /// Records a test event for webhook `webhook` (the caller checks it exists); its id.
    pub async fn test_webhook(&self, webhook: String, actor: String, now: Timestamp) -> Result<i64, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, webhook, actor) = (secrets.clone(), webhook.clone(), actor.clone());
            Box::pin(async move {
                let data = serde_json::json!({ "webhook": webhook, "by": actor });
                let subject = format!("webhook:{webhook}");
                let id = record_event(c, &secrets.ring, EventKind::WebhookTest, &subject, &data, Some(&webhook), now).await?;
                audit(c, &secrets.ring, now, &actor, "webhook.test", "webhook", &webhook, None::<&()>, Some(&id)).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Sets the secret of channel `name` (`webhook:<id>`), sealed; the audit log says it
    /// changed, never what it is.
    pub async fn set_channel_secret(&self, name: String, secret: String, actor: String, now: Timestamp) -> Result<(), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, name, actor) = (secrets.clone(), name.clone(), actor.clone());
            let sealed = secrets.ring.seal(SECRET_AS, &secret);
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO channel_secrets (name, secret, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at",
                )
                .bind(&name)
                .bind(sealed)
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                audit(c, &secrets.ring, now, &actor, "channel.secret", "channel", &name, None::<&()>, Some(&"(set)")).await?;
                Ok(())
            })
        })
        .await
    }

    /// The secret of channel `name`, opened; `None` when none is set.
    pub async fn channel_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT secret FROM channel_secrets WHERE name = $1").bind(name).fetch_optional(&mut *c).await?;
        row.map(|r| self.secrets.ring.open(SECRET_AS, &r.try_get::<String, _>("secret")?)).transpose()
    }

    /// The channels with a secret set, and since when.
    pub async fn channel_secrets_set(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let mut c = self.reader().await?;
        sqlx::query("SELECT name, updated_at FROM channel_secrets ORDER BY name")
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, from_micros(r.try_get("updated_at")?))))
            .collect()
    }
}

/// Takes the secret ([`EventKind::secret_field`]: a gift card's PIN, a sign-in code)
/// out of the events whose message (not webhook) deliveries among `delivered` were just
/// delivered: only its recipient needed it.
async fn forget_secrets(c: &mut Conn, ring: &Keyring, delivered: &[i64]) -> Result<(), StoreError> {
    let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT DISTINCT e.id, e.kind, e.payload FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.kind IN (");
    let mut kinds = qb.separated(", ");
    for kind in EventKind::ALL.into_iter().filter(|k| k.secret_field().is_some()) {
        kinds.push_bind(kind.name());
    }
    qb.push(") AND d.channel <> 'webhook' AND d.state = 'delivered' AND d.id IN (");
    let mut list = qb.separated(", ");
    for id in delivered {
        list.push_bind(*id);
    }
    qb.push(")");
    for r in qb.build().fetch_all(&mut *c).await? {
        let Some(secret) = kind_of(&r.try_get::<String, _>("kind")?)?.secret_field() else { continue };
        let mut data: serde_json::Value = serde_json::from_str(&ring.open(SEALED_AS, &r.try_get::<String, _>("payload")?)?)
            .map_err(|e| corrupt(format!("an event's data does not read: {e}")))?;
        if data.as_object_mut().and_then(|m| m.remove(secret)).is_some() {
            sqlx::query("UPDATE events SET payload = $1 WHERE id = $2")
                .bind(ring.seal(SEALED_AS, &data.to_string()))
                .bind(r.try_get::<i64, _>("id")?)
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

/// Records how an attempt at delivery `id` ended: delivered on a 2xx (an SMTP
/// server's 2xx reply), due again later without counting an attempt when it was
/// deferred (quiet hours), withheld for good when the customer may not receive it,
/// otherwise due again after [`events::retry_after`], or dead when the attempts are
/// spent. A delivery no longer pending (another worker recorded it) is left as it is.
/// Returns whether this recorded it delivered.
async fn record_one(c: &mut Conn, id: i64, attempt: &Attempt, now: Timestamp) -> Result<bool, StoreError> {
    let Some(r) = sqlx::query("SELECT attempts FROM deliveries WHERE id = $1 AND state = 'pending'").bind(id).fetch_optional(&mut *c).await? else {
        return Ok(false);
    };
    let at = to_micros(now);
    if let Some(until) = attempt.defer_until {
        // Not an attempt: due again then.
        sqlx::query("UPDATE deliveries SET next_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3")
            .bind(to_micros(until))
            .bind(attempt.error.as_deref())
            .bind(id)
            .execute(&mut *c)
            .await?;
        return Ok(false);
    }
    let attempts = r.try_get::<i64, _>("attempts")? + 1;
    let ok = attempt.error.is_none() && attempt.status.is_some_and(events::delivered);
    let (state, next_at) = if ok {
        ("delivered", at)
    } else if attempt.withheld {
        ("withheld", at)
    } else if attempt.give_up {
        ("dead", at)
    } else {
        match events::retry_after(u32::try_from(attempts).unwrap_or(u32::MAX)) {
            Some(wait) => ("pending", at.saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX))),
            None => ("dead", at),
        }
    };
    sqlx::query(
        "UPDATE deliveries SET state = $1, attempts = $2, next_at = $3, claimed_until = NULL, last_at = $4, \
         last_status = $5, last_error = $6, delivered_at = $7 WHERE id = $8",
    )
    .bind(state)
    .bind(attempts)
    .bind(next_at)
    .bind(at)
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error.as_deref().map(|e| e.chars().take(500).collect::<String>()))
    .bind(ok.then_some(at))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(ok)
}
