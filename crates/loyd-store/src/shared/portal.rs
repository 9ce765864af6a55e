//! The customer portal: sign-in codes sent to a phone or e-mail (only keyed hashes
//! kept, single-use, rate-limited by [`loyd_domain::portal`]), the sessions they open,
//! joining with a confirmed phone (a customer and a virtual card in one transaction),
//! and what the portal reads that no other capability does: the lots a balance is made
//! of and the coupons a customer may still use.

use std::sync::Arc;

use loyd_domain::events::EventKind;
use loyd_domain::ids::CustomerId;
use loyd_domain::org::terminal_key_hash;
use loyd_domain::portal::{self, CodeLimit, CodesSent, Guess};
use loyd_domain::program::Program;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::{Backend, Conn};
use super::keys::{keyed_hash, random_digits};
use crate::crypto::{Secrets, random_token};
use crate::error::StoreError;
use crate::{CodeAsked, CodeChecked, HeldCoupon, HeldLot, IssueCards, NewCustomer, PortalAddress, PortalJoin, PortalSession, ReturnMade};

/// Microseconds in `d`.
fn micros(d: jiff::SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// How many codes went to `address_hash` and `ip_hash` within the hour, and to anyone
/// within the minute, before `now`.
async fn codes_sent(c: &mut Conn, address_hash: &str, ip_hash: &str, now: i64) -> Result<CodesSent, StoreError> {
    let hour = now - micros(jiff::SignedDuration::from_hours(1));
    let minute = now - micros(jiff::SignedDuration::from_mins(1));
    let mut counts = [0i64; 3];
    for (n, (sql, key, since)) in [
        ("SELECT COUNT(*) FROM portal_codes WHERE address_hash = $1 AND created_at > $2", Some(address_hash), hour),
        ("SELECT COUNT(*) FROM portal_codes WHERE ip_hash = $1 AND created_at > $2", Some(ip_hash), hour),
        ("SELECT COUNT(*) FROM portal_codes WHERE created_at > $1", None, minute),
    ]
    .into_iter()
    .enumerate()
    {
        let q = sqlx::query(sql);
        let q = match key {
            Some(k) => q.bind(k.to_owned()).bind(since),
            None => q.bind(since),
        };
        counts[n] = q.fetch_one(&mut *c).await?.try_get::<i64, _>(0)?;
    }
    Ok(CodesSent { address_hour: counts[0], ip_hour: counts[1], all_minute: counts[2] })
}

/// The keyed hash of a code sent to an address (the address is in it, so a code
/// matches only the address it was sent to).
fn code_hash(secrets: &Secrets, address: &PortalAddress, code: &str) -> String {
    keyed_hash(secrets, &["portal-code", &address.key(), code])
}

/// Opens a session of `customer`, inside the caller's transaction.
async fn open_session(c: &mut Conn, customer: i64, now: Timestamp) -> Result<PortalSession, StoreError> {
    let token = random_token("lps_");
    let expires_at = now + portal::SESSION_LIFE;
    // Their sessions that ended are of no further use.
    sqlx::query("DELETE FROM portal_sessions WHERE customer_id = $1 AND (expires_at <= $2 OR revoked_at IS NOT NULL)")
        .bind(customer)
        .bind(to_micros(now))
        .execute(&mut *c)
        .await?;
    // Signing in is activity: the retention job keeps the personal data of the active.
    sqlx::query("UPDATE customers SET seen_at = $1 WHERE id = $2").bind(to_micros(now)).bind(customer).execute(&mut *c).await?;
    sqlx::query("INSERT INTO portal_sessions (token_hash, customer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(terminal_key_hash(&token))
        .bind(customer)
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *c)
        .await?;
    Ok(PortalSession { token, customer, expires_at })
}

/// The member an address belongs to (merged duplicates never sign in).
async fn member(c: &mut Conn, secrets: &Secrets, address: &PortalAddress) -> Result<Option<i64>, StoreError> {
    match address {
        PortalAddress::Phone(phone) => super::customers::customer_by_phone(c, &secrets.ring, phone).await,
        PortalAddress::Email(email) => {
            let row = sqlx::query("SELECT id FROM customers WHERE email_index = $1 AND merged_into IS NULL")
                .bind(secrets.ring.index("email", email))
                .fetch_optional(&mut *c)
                .await?;
            Ok(row.map(|r| r.try_get("id")).transpose()?)
        }
    }
}

impl Backend {
    /// Sends a sign-in code to an address unless a limit of [`loyd_domain::portal`] is
    /// reached: the code's keyed hash is kept, and a `portal.code` event (the code
    /// sealed in its data) is recorded in the same transaction for the program's
    /// messages to carry. Member or not, the same happens.
    pub async fn request_portal_code(&self, asked: CodeAsked, now: Timestamp) -> Result<Result<(), CodeLimit>, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (asked, secrets) = (asked.clone(), secrets.clone());
            Box::pin(async move {
                let at = to_micros(now);
                let address_hash = secrets.ring.index("portal-address", &asked.to.key());
                let ip_hash = secrets.ring.index("portal-ip", &asked.ip);
                if let Err(limit) = codes_sent(c, &address_hash, &ip_hash, at).await?.may_send() {
                    return Ok(Err(limit));
                }
                // Codes older than a day count for nothing any more.
                sqlx::query("DELETE FROM portal_codes WHERE created_at < $1").bind(at - micros(jiff::SignedDuration::from_hours(24))).execute(&mut *c).await?;
                let code = random_digits(portal::CODE_DIGITS);
                sqlx::query("INSERT INTO portal_codes (address_hash, ip_hash, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(address_hash)
                    .bind(ip_hash)
                    .bind(code_hash(&secrets, &asked.to, &code))
                    .bind(at)
                    .bind(to_micros(now + portal::CODE_LIFE))
                    .execute(&mut *c)
                    .await?;
                let to = match &asked.to {
                    PortalAddress::Phone(p) => serde_json::json!({ "phone": p }),
                    PortalAddress::Email(e) => serde_json::json!({ "email": e }),
                };
                let minutes = portal::CODE_LIFE.as_mins();
                let data = serde_json::json!({ "to": to, "code": code, "minutes": minutes, "language": asked.language });
                super::events::record_event(c, &secrets.ring, EventKind::PortalCode, "portal", &data, None, now).await?;
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Checks a code typed for an address against the last live one sent to it: a
    /// wrong one counts a guess; the right one is used up and signs a member in (or
    /// says the address is no member's).
    pub async fn check_portal_code(&self, to: PortalAddress, code: String, now: Timestamp) -> Result<CodeChecked, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (to, code, secrets) = (to.clone(), code.clone(), secrets.clone());
            Box::pin(async move {
                let at = to_micros(now);
                let row = sqlx::query(
                    "SELECT id, code_hash, guesses FROM portal_codes WHERE address_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(secrets.ring.index("portal-address", &to.key()))
                .bind(at)
                .fetch_optional(&mut *c)
                .await?;
                let Some(row) = row else { return Ok(CodeChecked::Refused) };
                let id: i64 = row.try_get("id")?;
                let matches = crate::crypto::same(&row.try_get::<String, _>("code_hash")?, &code_hash(&secrets, &to, &code));
                match portal::judge(row.try_get("guesses")?, matches) {
                    Guess::NoCode => Ok(CodeChecked::Refused),
                    Guess::Wrong => {
                        sqlx::query("UPDATE portal_codes SET guesses = guesses + 1 WHERE id = $1").bind(id).execute(&mut *c).await?;
                        Ok(CodeChecked::Refused)
                    }
                    Guess::Right => {
                        sqlx::query("UPDATE portal_codes SET used_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *c).await?;
                        Ok(match member(c, &secrets, &to).await? {
                            Some(customer) => CodeChecked::Member(open_session(c, customer, now).await?),
                            None => CodeChecked::Newcomer,
                        })
                    }
                }
            })
        })
        .await
    }

    /// Someone with a confirmed phone joins: a customer with their name, language and
    /// consents, a virtual card of the program's portal series (if it names one), and a
    /// session — one transaction. A phone that became a member's meanwhile signs in to
    /// that member instead (its owner confirmed it).
    pub async fn join_portal(&self, join: PortalJoin, program: Arc<Program>, now: Timestamp) -> Result<PortalSession, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (join, program, secrets) = (join.clone(), program.clone(), secrets.clone());
            Box::pin(async move {
                if let Some(customer) = super::customers::customer_by_phone(c, &secrets.ring, &join.phone).await? {
                    return open_session(c, customer, now).await;
                }
                let new = NewCustomer {
                    phone: Some(join.phone.clone()),
                    email: join.email.clone(),
                    name: join.name.clone(),
                    birth_date: None,
                    profile: [("language".to_owned(), join.language.clone())].into(),
                    consents: join.consents.clone(),
                    organisation: None,
                };
                let id = super::customers::insert_customer(c, &secrets.ring, &new, now).await?;
                let customer = super::customers::must_customer(c, &secrets.ring, id).await?;
                let who = CustomerId(id).to_string();
                super::audit::audit(c, &secrets.ring, now, "portal", "customer.create", "customer", &who, None::<&()>, Some(&customer)).await?;
                if let Some(series) = &program.portal.card_series {
                    let request = IssueCards { series: series.to_string(), count: 1, customer: Some(id), number: None, virtual_card: true, operation_id: None };
                    super::card_issue::issue_in(c, &request, &program, &secrets, now).await?;
                }
                open_session(c, id, now).await
            })
        })
        .await
    }

    /// Counts a gift card check asked from network address `ip`: `false` (nothing
    /// counted) once it asked [`portal::GIFT_CHECKS_PER_IP_HOUR`] within the hour.
    pub async fn count_gift_check(&self, ip: String, now: Timestamp) -> Result<bool, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (ip, secrets) = (ip.clone(), secrets.clone());
            Box::pin(async move {
                let at = to_micros(now);
                let ip_hash = secrets.ring.index("portal-ip", &ip);
                let hour = at - micros(jiff::SignedDuration::from_hours(1));
                sqlx::query("DELETE FROM portal_guesses WHERE at < $1").bind(hour).execute(&mut *c).await?;
                let asked: i64 = sqlx::query("SELECT COUNT(*) FROM portal_guesses WHERE ip_hash = $1 AND at > $2")
                    .bind(ip_hash.clone())
                    .bind(hour)
                    .fetch_one(&mut *c)
                    .await?
                    .try_get(0)?;
                if asked >= portal::GIFT_CHECKS_PER_IP_HOUR {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO portal_guesses (ip_hash, at) VALUES ($1, $2)").bind(ip_hash).bind(at).execute(&mut *c).await?;
                Ok(true)
            })
        })
        .await
    }

    /// The customer a live portal session (the SHA-256 of its token) belongs to.
    pub async fn portal_customer(&self, token_hash: String, now: Timestamp) -> Result<Option<i64>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT s.customer_id FROM portal_sessions s JOIN customers c ON c.id = s.customer_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND c.merged_into IS NULL",
        )
        .bind(token_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut *c)
        .await?;
        Ok(row.map(|r| r.try_get("customer_id")).transpose()?)
    }

    /// Ends a portal session, or (`everywhere`) every session of its customer.
    pub async fn end_portal_session(&self, token_hash: String, everywhere: bool, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let token_hash = token_hash.clone();
            Box::pin(async move {
                let sql = if everywhere {
                    "UPDATE portal_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND customer_id = \
                     (SELECT customer_id FROM portal_sessions WHERE token_hash = $2)"
                } else {
                    "UPDATE portal_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND token_hash = $2"
                };
                sqlx::query(sql).bind(to_micros(now)).bind(token_hash).execute(&mut *c).await?;
                Ok(())
            })
        })
        .await
    }

    /// The lots a customer's balances are made of that still hold something: soonest
    /// to expire first (those that never expire last).
    pub async fn held_lots(&self, customer: i64) -> Result<Vec<HeldLot>, StoreError> {
        let mut c = self.reader().await?;
        let holder = super::balances::holder_of(&mut c, customer).await?;
        let accounts = super::balances::holder_account_ids(&mut c, &holder).await?;
        let mut out = Vec::new();
        for account in accounts {
            let rows = sqlx::query(
                "SELECT a.asset, l.remaining, l.available_at, l.expires_at FROM lots l JOIN accounts a ON a.id = l.account_id \
                 WHERE l.account_id = $1 AND l.remaining > 0",
            )
            .bind(account.0)
            .fetch_all(&mut *c)
            .await?;
            for r in rows {
                out.push(HeldLot {
                    currency: r.try_get("asset")?,
                    remaining: r.try_get("remaining")?,
                    available_at: r.try_get::<Option<i64>, _>("available_at")?.map(from_micros),
                    expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(from_micros),
                });
            }
        }
        out.sort_by_key(|l| (l.expires_at.is_none(), l.expires_at, l.available_at));
        Ok(out)
    }

    /// The coupons issued to a customer they may still use at `now`: not void, not
    /// expired, and not used up (each series' `uses_per_code`).
    /// The returns of goods a customer made (of their receipts), newest first, before
    /// `before`: when, where, and the till's answer (what was refunded and reversed).
    pub async fn customer_returns(&self, customer: i64, before: Option<Timestamp>, limit: u32) -> Result<Vec<ReturnMade>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT o.recorded_at, o.response, r.store_id, r.receipt_id, s.currency FROM receipts r \
             JOIN pos_operations o ON o.receipt_ref = r.id AND o.kind = 'return' AND o.status < 300 \
             JOIN stores s ON s.id = r.store_id WHERE r.customer_id = ",
        );
        qb.push_bind(customer);
        if let Some(b) = before {
            qb.push(" AND o.recorded_at < ").push_bind(to_micros(b));
        }
        qb.push(" ORDER BY o.recorded_at DESC LIMIT ").push_bind(i64::from(limit.clamp(1, 1000)));
        let rows = qb.build().fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                let answer: loyd_domain::returns::ReturnResponse = serde_json::from_str(&r.try_get::<String, _>("response")?)
                    .map_err(|e| super::rows::corrupt(format!("a return's answer: {e}")))?;
                Ok(ReturnMade {
                    at: from_micros(r.try_get("recorded_at")?),
                    store: r.try_get("store_id")?,
                    receipt: r.try_get("receipt_id")?,
                    currency: r.try_get("currency")?,
                    answer,
                })
            })
            .collect()
    }

    /// The gifts a customer was given at a till, newest first: the gift, the campaign
    /// that gave it, when.
    pub async fn customer_gifts(&self, customer: i64, limit: u32) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT gift, campaign, at FROM gift_issues WHERE customer_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(customer)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&mut *c)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("gift")?, r.try_get("campaign")?, from_micros(r.try_get("at")?)))).collect()
    }

    pub async fn held_coupons(&self, customer: i64, program: Arc<Program>, now: Timestamp) -> Result<Vec<HeldCoupon>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(
            "SELECT code, series, valid_until, issued_at FROM coupons WHERE customer_id = $1 AND NOT void \
             AND (valid_until IS NULL OR valid_until > $2) ORDER BY issued_at DESC LIMIT 200",
        )
        .bind(customer)
        .bind(to_micros(now))
        .fetch_all(&mut *c)
        .await?;
        // Each code's uses, as the till counts them.
        let key = |series: &str, code: &str| (loyd_domain::engine::coupon_code_key(series, code), "all".to_owned());
        let mut keys = Vec::new();
        for r in &rows {
            keys.push(key(&r.try_get::<String, _>("series")?, &r.try_get::<String, _>("code")?));
        }
        let usage = super::receipts::usage_of(&mut c, &keys, false).await?;
        let mut out = Vec::new();
        for r in rows {
            let (code, series): (String, String) = (r.try_get("code")?, r.try_get("series")?);
            let Some(spec) = program.coupon_series.get(series.as_str()) else { continue };
            let used = usage.get(&key(&series, &code)).map_or(0, |u| u.uses);
            if spec.uses_per_code.is_some_and(|most| used >= i64::from(most)) {
                continue;
            }
            out.push(HeldCoupon {
                code,
                series,
                valid_until: r.try_get::<Option<i64>, _>("valid_until")?.map(from_micros),
                issued_at: from_micros(r.try_get("issued_at")?),
            });
        }
        Ok(out)
    }
}
