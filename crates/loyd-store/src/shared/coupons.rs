//! Coupons: the coupons a receipt names, issuing a coupon (a reward or a generated
//! batch) and storing it.

use std::sync::Arc;

use loyd_domain::ids::CustomerId;
use loyd_domain::program::Program;
use loyd_domain::receipt::{CouponContext, Receipt};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::error::StoreError;
use super::{Backend, Conn};

/// The coupons a receipt names that exist: promo codes from the program, generated
/// codes from the database.
pub(crate) async fn coupons_of(c: &mut Conn, receipt: &Receipt, program: &Program) -> Result<Vec<CouponContext>, StoreError> {
    let mut out = Vec::new();
    for typed in &receipt.coupons {
        let promo = loyd_domain::coupons::canonical(typed);
        let code = loyd_domain::coupons::normalize(typed);
        if let Some(series) = program.promo_codes.get(&promo) {
            out.push(CouponContext { code: promo, series: series.clone(), issued_to: None, valid_until: None, void: false });
        } else if loyd_domain::coupons::is_generated(&code) {
            let row = sqlx::query("SELECT series, customer_id, valid_until, void FROM coupons WHERE code = $1")
                .bind(code.clone())
                .fetch_optional(&mut *c)
                .await?;
            if let Some(r) = row {
                let series: String = r.try_get("series")?;
                let Ok(series) = loyd_domain::ids::ConfigCode::parse(series) else { continue };
                out.push(CouponContext {
                    code,
                    series,
                    issued_to: r.try_get("customer_id")?,
                    valid_until: r.try_get::<Option<i64>, _>("valid_until")?.map(from_micros),
                    void: r.try_get("void")?,
                });
            }
        }
    }
    Ok(out)
}

/// A fresh code of a coupon series and its end of validity (stored by `store_coupon`).
pub(crate) fn new_coupon(
    program: &Program,
    series: &loyd_domain::ids::ConfigCode,
    now: Timestamp,
) -> Result<(String, Option<Timestamp>), StoreError> {
    let spec = program
        .coupon_series
        .get(series)
        .ok_or_else(|| StoreError::NotFound { what: "coupon series", id: series.to_string() })?;
    let valid_until = loyd_domain::coupons::valid_until(now, spec.validity_days, spec.valid_until);
    let mut random = [0u8; 8];
    rand::fill(&mut random);
    Ok((loyd_domain::coupons::code_from_random(random), valid_until))
}

/// Stores a generated coupon. Two equal codes (50 random bits) would make the
/// transaction start over with new ones.
pub(crate) async fn store_coupon(
    c: &mut Conn,
    code: &str,
    series: &loyd_domain::ids::ConfigCode,
    customer: Option<i64>,
    valid_until: Option<Timestamp>,
    receipt_ref: Option<i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO coupons (code, series, customer_id, valid_until, issued_at, receipt_ref) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(code.to_owned())
    .bind(series.to_string())
    .bind(customer)
    .bind(valid_until.map(to_micros))
    .bind(to_micros(now))
    .bind(receipt_ref)
    .execute(&mut *c)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Retry(format!("coupon code {code} exists")));
    }
    Ok(())
}

impl Backend {
    /// Generates `count` unique coupons of a `unique` series, personal to `customer` if
    /// given. Returns each code with its end of validity.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_coupons(
        &self,
        series: String,
        count: u32,
        customer: Option<i64>,
        operation: Option<String>,
        program: Arc<Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<(String, Option<Timestamp>)>, StoreError> {
        let series = loyd_domain::ids::ConfigCode::parse(series).map_err(|e| StoreError::Invalid(e.to_string()))?;
        match program.coupon_series.get(&series) {
            None => return Err(StoreError::NotFound { what: "coupon series", id: series.to_string() }),
            Some(s) if s.kind != loyd_domain::program::CouponKind::Unique => {
                return Err(StoreError::Invalid(format!("{series} is a promo series: its one code is in the configuration")));
            }
            Some(_) => {}
        }
        if count == 0 || count > 100_000 {
            return Err(StoreError::Invalid("generate 1 to 100000 coupons at a time".into()));
        }
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (series, program, secrets, actor, operation) = (series.clone(), program.clone(), secrets.clone(), actor.clone(), operation.clone());
            Box::pin(async move {
                if let Some(op) = &operation {
                    let request = (series.as_str(), count, customer);
                    super::idempotency::record_batch(c, "coupons", op, &request, count, &actor, now).await?;
                }
                if let Some(id) = customer {
                    let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(id).fetch_optional(&mut *c).await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound { what: "customer", id: CustomerId(id).to_string() });
                    }
                }
                let mut out = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let (code, valid_until) = new_coupon(&program, &series, now)?;
                    store_coupon(c, &code, &series, customer, valid_until, None, now).await?;
                    out.push((code, valid_until));
                }
                // How many, not which: the codes are bearer secrets.
                let what = serde_json::json!({ "count": count, "customer": customer.map(|c| CustomerId(c).to_string()) });
                super::audit::audit(c, &secrets.ring, now, &actor, "coupons.generate", "coupon_series", series.as_str(), None::<&()>, Some(&what)).await?;
                Ok(out)
            })
        })
        .await
    }
}
