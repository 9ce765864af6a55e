//! Cards: the stored card, its PIN check and lockout, usability, identifying the
//! customer a receipt names (card, phone or one-time code), card inquiry, blocking,
//! one-time codes, and the cards of a customer.

use std::sync::Arc;

use loyd_domain::cards::Card;
use loyd_domain::ids::{AccountId, CustomerId};
use loyd_domain::operations::{CardInquiry, MaskedCustomer, mask_name, mask_phone};
use loyd_domain::program::{CardKind, Program};
use loyd_domain::receipt::{Identify, ReceiptError, format_time};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::{CardInfo, CardOwner, PosCaller};
use crate::error::StoreError;
use super::{Backend, Conn, rows};
use super::balances::{balances_out, customer_balances};
use super::keys::{keyed_hash, random_digits};

pub(crate) async fn card_row(c: &mut Conn, number: &str) -> Result<Option<Card>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", card_cols!(), " FROM cards WHERE number = $1"))
        .bind(number.to_owned())
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(card_from).transpose()
}

/// A card and the customer it is registered to, in one query.
async fn card_and_customer(
    c: &mut Conn,
    ring: &crate::crypto::Keyring,
    number: &str,
) -> Result<Option<(Card, Option<crate::Customer>)>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        card_cols!("cards."),
        ", ",
        customer_cols!("cu."),
        " FROM cards LEFT JOIN customers cu ON cu.id = cards.customer_id",
        with_facts!("cu"),
        " WHERE cards.number = $1"
    ))
    .bind(number.to_owned())
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let customer = match r.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some(super::customers::customer_from(&r, ring)?),
        None => None,
    };
    Ok(Some((card_from(&r)?, customer)))
}

fn card_from(r: &rows::DbRow) -> Result<Card, StoreError> {
    Ok(Card {
        number: r.try_get("number")?,
        series: r.try_get("series")?,
        kind: rows::card_kind(r)?,
        state: rows::card_state(r)?,
        customer: r.try_get("customer_id")?,
        account: r.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
        pin_hash: r.try_get("pin_hash")?,
        locked_until: r.try_get::<Option<i64>, _>("locked_until")?.map(from_micros),
        valid_until: r.try_get::<Option<i64>, _>("valid_until")?.map(from_micros),
        single_use: r.try_get("single_use")?,
    })
}

/// Checks a card's lockout and PIN by the domain's policy ([`Card::check_pin`]), with
/// PINs compared as keyed hashes. A wrong PIN is refused as `WrongPin`; the caller
/// counts it outside the refused transaction.
pub(crate) fn check_pin(card: &Card, needs_pin: bool, pin: Option<&str>, secret: &crate::crypto::Secrets, now: Timestamp) -> Result<(), StoreError> {
    card.check_pin(needs_pin, pin, now, |hash, pin| *hash == keyed_hash(secret, &["pin", &card.number, pin])).map_err(StoreError::from)
}

/// The customer a receipt names, and the card they were named by.
pub(crate) struct Identified {
    pub customer: i64,
    pub card: Option<String>,
    pub series: Option<String>,
    /// The customer's record, when it came with the card.
    pub record: Option<crate::Customer>,
}

/// Finds the customer a receipt names. `consume` marks a one-time code used.
pub(crate) async fn identify(
    c: &mut Conn,
    who: &Identify,
    at: Timestamp,
    secret: &crate::crypto::Secrets,
    consume: bool,
) -> Result<Identified, StoreError> {
    match who {
        Identify::Card(number) => {
            let (card, record) =
                card_and_customer(c, &secret.ring, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.clone()))?;
            let customer = card.identifies(at)?;
            Ok(Identified { customer, card: Some(card.number), series: Some(card.series), record })
        }
        Identify::Phone(phone) => {
            let id = super::customers::customer_by_phone(c, &secret.ring, phone).await?.ok_or(ReceiptError::UnknownCustomer)?;
            Ok(Identified { customer: id, card: None, series: None, record: None })
        }
        Identify::Code(code) => {
            let hash = keyed_hash(secret, &["code", code]);
            let row = sqlx::query("SELECT customer_id, expires_at, used_at FROM one_time_codes WHERE code_hash = $1")
                .bind(hash.clone())
                .fetch_optional(&mut *c)
                .await?
                .ok_or(ReceiptError::UnknownCode)?;
            let used: Option<i64> = row.try_get("used_at")?;
            let expires: i64 = row.try_get("expires_at")?;
            if used.is_some() || expires <= to_micros(at) {
                return Err(ReceiptError::UnknownCode.into());
            }
            let customer: i64 = row.try_get("customer_id")?;
            if consume {
                let done = sqlx::query("UPDATE one_time_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
                    .bind(to_micros(at))
                    .bind(hash)
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() != 1 {
                    return Err(ReceiptError::UnknownCode.into());
                }
            }
            Ok(Identified { customer, card: None, series: None, record: None })
        }
    }
}

/// Clears the wrong-PIN count after a right PIN (inside the successful transaction).
pub(crate) async fn reset_pin_failures(c: &mut Conn, number: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE cards SET pin_failures = 0 WHERE number = $1 AND pin_failures > 0")
        .bind(number.to_owned())
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn inquiry_in(
    c: &mut Conn,
    caller: &PosCaller,
    number: &str,
    pin: Option<&str>,
    program: &Program,
    secret: &crate::crypto::Secrets,
    now: Timestamp,
) -> Result<CardInquiry, StoreError> {
    let card = card_row(c, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.to_owned()))?;
    check_pin(&card, card.needs_pin(program.card_series(&card.series)), pin, secret, now)?;
    let (mut tier, mut coupons) = (None, Vec::new());
    let (customer, balances) = match (card.kind, card.customer) {
        (CardKind::Loyalty | CardKind::Credit, Some(id)) => {
            let counters = super::counters::counters_of(c, id, now, program, &caller.store).await?;
            tier = program.tier_levels(&counters).into_iter().next().map(|(_, level)| level);
            coupons = personal_coupons(c, id, program, &caller.store.timezone, now).await?;
            let record = super::customers::customer_row(c, &secret.ring, id).await?;
            let (name, phone) = record.map(|r| (r.name, r.phone)).unwrap_or_default();
            let masked = MaskedCustomer {
                id: CustomerId(id).to_string(),
                name: name.as_deref().map(mask_name),
                phone: phone.as_deref().map(mask_phone),
            };
            (Some(masked), customer_balances(c, Some(id), program, now).await?)
        }
        _ => (None, balances_out(c, &card.account.into_iter().collect(), program, now).await?),
    };
    let state = card.state_at(now);
    Ok(CardInquiry {
        number: card.number.clone(),
        kind: card.kind.name().into(),
        series: card.series.clone(),
        state: state.name().into(),
        valid_until: card.valid_until.map(|v| format_time(v, &caller.store.timezone)),
        customer,
        balances,
        tier,
        coupons,
    })
}

/// The customer's personal coupons that can be presented now: not void, not expired,
/// not used up (`uses_per_code`), of a series the program still has.
async fn personal_coupons(
    c: &mut Conn,
    customer: i64,
    program: &Program,
    timezone: &loyd_domain::org::TimeZoneName,
    now: Timestamp,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let rows = sqlx::query(
        "SELECT code, series, valid_until FROM coupons WHERE customer_id = $1 AND void = false \
         AND (valid_until IS NULL OR valid_until > $2) ORDER BY issued_at, code LIMIT 100",
    )
    .bind(customer)
    .bind(to_micros(now))
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let (code, series): (String, String) = (r.try_get("code")?, r.try_get("series")?);
        let series_id = loyd_domain::ids::ConfigCode::parse(series.clone()).ok();
        let Some(uses_per_code) = series_id.and_then(|id| program.coupon_series.get(&id).map(|s| s.uses_per_code)) else { continue };
        if let Some(max) = uses_per_code {
            let key = loyd_domain::engine::coupon_code_key(&series, &code);
            let used: Option<i64> = sqlx::query("SELECT uses FROM usage_counters WHERE key = $1 AND period = 'all'")
                .bind(key)
                .fetch_optional(&mut *c)
                .await?
                .map(|u| u.try_get("uses"))
                .transpose()?;
            if used.unwrap_or(0) >= i64::from(max) {
                continue;
            }
        }
        let valid_until: Option<i64> = r.try_get("valid_until")?;
        out.push(serde_json::json!({
            "code": code,
            "series": series,
            "valid_until": valid_until.map(|v| format_time(from_micros(v), timezone)),
        }));
    }
    Ok(out)
}

pub(crate) fn card_info(r: &super::rows::DbRow) -> Result<CardInfo, StoreError> {
    Ok(CardInfo {
        number: r.try_get("number")?,
        series: r.try_get("series")?,
        kind: rows::card_kind(r)?,
        state: rows::card_state(r)?,
        is_virtual: r.try_get::<i64, _>("virtual")? != 0,
        replaced_by: r.try_get("replaced_by")?,
        issued_at: from_micros(r.try_get("issued_at")?),
        pin: None,
    })
}

impl Backend {
    /// Counts a wrong PIN on a card; the fifth in a row locks it for 15 minutes.
    pub async fn record_pin_failure(&self, number: String, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let number = number.clone();
            Box::pin(async move {
                let lock_until = to_micros(now + loyd_domain::cards::PIN_LOCK);
                sqlx::query(
                    "UPDATE cards SET \
                       locked_until = CASE WHEN pin_failures + 1 >= $1 THEN $2 ELSE locked_until END, \
                       pin_failures = CASE WHEN pin_failures + 1 >= $1 THEN 0 ELSE pin_failures + 1 END \
                     WHERE number = $3",
                )
                .bind(loyd_domain::cards::PIN_ATTEMPTS)
                .bind(lock_until)
                .bind(number)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn card_inquiry(
        &self,
        caller: PosCaller,
        number: String,
        pin: Option<String>,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        now: Timestamp,
    ) -> Result<CardInquiry, StoreError> {
        loyd_domain::operations::check_card_number("number", &number)?;
        if let Some(p) = &pin {
            loyd_domain::text::pin("pin", p).map_err(ReceiptError::from)?;
        }
        let mut c = self.reader().await?;
        inquiry_in(&mut c, &caller, &number, pin.as_deref(), &program, &secret, now).await
    }

    /// Blocks or unblocks a card.
    pub async fn set_card_blocked(&self, number: String, blocked: bool, actor: String, now: Timestamp) -> Result<(), StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (number, secrets, actor) = (number.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let (to, from) = if blocked { ("blocked", "active") } else { ("active", "blocked") };
                if !blocked {
                    let replaced = sqlx::query("SELECT replaced_by FROM cards WHERE number = $1 AND replaced_by IS NOT NULL")
                        .bind(number.clone())
                        .fetch_optional(&mut *c)
                        .await?;
                    if let Some(r) = replaced {
                        let next: String = r.try_get("replaced_by")?;
                        return Err(StoreError::Refused(ReceiptError::invalid(format!("card {number} was replaced by {next} and stays blocked"))));
                    }
                }
                let done = sqlx::query("UPDATE cards SET state = $1 WHERE number = $2 AND state = $3")
                    .bind(to)
                    .bind(number.clone())
                    .bind(from)
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 && card_row(c, &number).await?.is_none() {
                    return Err(StoreError::NotFound { what: "card", id: number });
                }
                if done.rows_affected() == 1 {
                    let action = if blocked { "card.block" } else { "card.unblock" };
                    let (before, after) = (serde_json::json!({ "state": from }), serde_json::json!({ "state": to }));
                    super::audit::audit(c, &secrets.ring, now, &actor, action, "card", &number, Some(&before), Some(&after)).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// A one-time code identifying `customer` at a POS for `ttl`; only its HMAC is kept.
    pub async fn issue_code(
        &self,
        customer: i64,
        ttl: jiff::SignedDuration,
        secret: Arc<crate::crypto::Secrets>,
        actor: String,
        now: Timestamp,
    ) -> Result<(String, Timestamp), StoreError> {
        let expires = now + ttl;
        self.write(move |c| {
            let (secret, actor) = (secret.clone(), actor.clone());
            Box::pin(async move {
                let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(customer).fetch_optional(&mut *c).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "customer", id: CustomerId(customer).to_string() });
                }
                // Expired codes free their numbers.
                sqlx::query("DELETE FROM one_time_codes WHERE expires_at <= $1").bind(to_micros(now)).execute(&mut *c).await?;
                for _ in 0..10 {
                    let code = random_digits(6);
                    let done = sqlx::query(
                        "INSERT INTO one_time_codes (code_hash, customer_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (code_hash) DO NOTHING",
                    )
                    .bind(keyed_hash(&secret, &["code", &code]))
                    .bind(customer)
                    .bind(to_micros(expires))
                    .execute(&mut *c)
                    .await?;
                    if done.rows_affected() == 1 {
                        let what = serde_json::json!({ "expires_at": expires });
                        super::audit::audit(c, &secret.ring, now, &actor, "customer.code", "customer", &CustomerId(customer).to_string(), None::<&()>, Some(&what))
                            .await?;
                        return Ok((code, expires));
                    }
                }
                Err(StoreError::Unavailable("no free one-time code; try again".into()))
            })
        })
        .await
    }

    /// A customer's cards, oldest first.
    pub async fn customer_cards(&self, id: i64) -> Result<Vec<CardInfo>, StoreError> {
        let mut c = self.reader().await?;
        sqlx::query("SELECT number, series, kind, state, virtual, replaced_by, issued_at FROM cards WHERE customer_id = $1 ORDER BY issued_at, number")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(card_info)
            .collect()
    }

    /// The kind of a card and whose it is.
    pub async fn card_owner(&self, number: String) -> Result<Option<CardOwner>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT cards.kind, cu.organisation_id FROM cards \
             LEFT JOIN customers cu ON cu.id = cards.customer_id WHERE cards.number = $1",
        )
        .bind(number)
        .fetch_optional(&mut *c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let kind: String = r.try_get("kind")?;
        Ok(Some(CardOwner {
            kind: loyd_domain::program::CardKind::from_name(&kind).ok_or_else(|| super::rows::corrupt(format!("unknown card kind {kind}")))?,
            organisation: r.try_get("organisation_id")?,
        }))
    }
}
