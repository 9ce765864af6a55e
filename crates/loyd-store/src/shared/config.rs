//! Configuration as code: the stored configuration and applying a document, one source
//! for both backends.
//!
//! Each version row holds the *whole* configuration after that apply (the merge of
//! every file applied so far), so the program in force at any moment is one row away.
//! The `currencies` and `stores` tables are projections of it that the rest of the
//! schema can reference.

use loyd_domain::config::{Action, ConfigDocument, ConfigError, Mode, PlanStep};
use loyd_domain::said::{self, Said};
use loyd_domain::org::StoreSpec;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::ledger::system_account;
use super::{Backend, Conn};
use crate::error::StoreError;
use crate::{Applied, ConfigVersion, SYSTEM_ACCOUNTS};

/// The configuration in force now (empty before the first apply).
pub(crate) async fn current_document(c: &mut Conn) -> Result<(i64, ConfigDocument), StoreError> {
    let row = sqlx::query("SELECT version, document FROM config_versions ORDER BY version DESC LIMIT 1")
        .fetch_optional(&mut *c)
        .await?;
    match row {
        None => Ok((0, ConfigDocument::default())),
        Some(r) => {
            let text: String = r.try_get("document")?;
            let doc = serde_json::from_str(&text)
                .map_err(|e| super::rows::corrupt(format!("stored configuration is invalid: {e}")))?;
            Ok((r.try_get("version")?, doc))
        }
    }
}

async fn upsert_projections(c: &mut Conn, doc: &ConfigDocument, now: Timestamp) -> Result<(), StoreError> {
    for spec in &doc.currencies {
        sqlx::query(
            "INSERT INTO currencies (code, kind, scale, name, rounding, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, rounding = excluded.rounding, \
             updated_at = excluded.updated_at",
        )
        .bind(spec.code.as_str().to_owned())
        .bind(spec.kind.name())
        .bind(i32::from(spec.scale.places()))
        .bind(spec.name.clone())
        .bind(rounding_name(spec.rounding()))
        .bind(to_micros(now))
        .execute(&mut *c)
        .await?;
        // Every currency has its system accounts from the start, so receipts never
        // create them (and their ids can be cached).
        for name in SYSTEM_ACCOUNTS {
            system_account(c, name, &spec.code, now).await?;
        }
    }
    for s in &doc.stores {
        upsert_store(c, s, now).await?;
    }
    Ok(())
}

fn rounding_name(r: loyd_domain::money::Rounding) -> String {
    match serde_json::to_value(r) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "half_up".into(),
    }
}

async fn upsert_store(c: &mut Conn, s: &StoreSpec, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stores (id, name, format, timezone, currency, partner, offline_days, created_at, updated_at, address, hours) \
         VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, format = excluded.format, \
         timezone = excluded.timezone, currency = excluded.currency, partner = excluded.partner, \
         offline_days = excluded.offline_days, updated_at = excluded.updated_at, address = excluded.address, hours = excluded.hours",
    )
    .bind(s.id.as_str().to_owned())
    .bind(s.name.clone())
    .bind(s.format.as_ref().map(|f| f.as_str().to_owned()))
    .bind(s.timezone.as_str().to_owned())
    .bind(s.currency.as_str().to_owned())
    .bind(s.partner.as_ref().map(|p| p.as_str().to_owned()))
    .bind(to_micros(now))
    .bind(s.offline_days.map(i64::from))
    .bind(s.address.clone())
    .bind(s.hours.clone())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Plans `file` against the stored configuration in `mode` and checks what the plan
/// would remove: an object that still carries value (a currency someone holds, a store
/// with terminals or receipts, a card series with cards, a coupon series with coupons
/// that can still be presented) is refused, with the reason, and nothing is applied.
/// A currency that was removed keeps its scale and kind if it is defined again.
async fn plan(
    c: &mut Conn,
    file: &ConfigDocument,
    mode: Mode,
    now: Timestamp,
) -> Result<(i64, ConfigDocument, Vec<PlanStep>), StoreError> {
    let (version, current) = current_document(c).await?;
    let (merged, steps) = file.plan(&current, mode).map_err(StoreError::Config)?;
    let mut refused = Vec::new();
    for step in &steps {
        let why = match (step.action, step.object) {
            (Action::Remove, "currency") => held_currency(c, &step.id).await?,
            (Action::Remove, "store") => store_with_history(c, &step.id).await?,
            (Action::Remove, "card_series") => count(c, "SELECT COUNT(*) AS n FROM cards WHERE series = $1", &step.id, None)
                .await?
                .map(said::kept_by_cards),
            (Action::Remove, "coupon_series") => count(
                c,
                "SELECT COUNT(*) AS n FROM coupons WHERE series = $1 AND void = false AND (valid_until IS NULL OR valid_until > $2)",
                &step.id,
                Some(to_micros(now)),
            )
            .await?
            .map(said::kept_by_coupons),
            (Action::Create, "currency") => redefined_currency(c, &merged, &step.id).await?,
            _ => None,
        };
        if let Some(why) = why {
            refused.push(ConfigError::said(format!("{} '{}'", step.object, step.id), why));
        }
    }
    if !refused.is_empty() {
        return Err(StoreError::Config(refused));
    }
    Ok((version, merged, steps))
}

async fn count(c: &mut Conn, sql: &'static str, id: &str, at: Option<i64>) -> Result<Option<i64>, StoreError> {
    let mut q = sqlx::query(sql).bind(id.to_owned());
    if let Some(at) = at {
        q = q.bind(at);
    }
    let n: i64 = q.fetch_one(&mut *c).await?.try_get("n")?;
    Ok((n > 0).then_some(n))
}

async fn held_currency(c: &mut Conn, code: &str) -> Result<Option<Said>, StoreError> {
    let held = count(
        c,
        "SELECT COUNT(*) AS n FROM accounts WHERE asset = $1 AND holder_kind <> 'system'          AND (credits_posted <> debits_posted OR credits_pending <> 0 OR debits_pending <> 0)",
        code,
        None,
    )
    .await?;
    Ok(held.map(said::kept_by_balances))
}

async fn store_with_history(c: &mut Conn, id: &str) -> Result<Option<Said>, StoreError> {
    let terminals = count(c, "SELECT COUNT(*) AS n FROM terminals WHERE store_id = $1", id, None).await?;
    let receipts = count(c, "SELECT COUNT(*) AS n FROM receipts WHERE store_id = $1", id, None).await?;
    Ok(match (terminals, receipts) {
        (None, None) => None,
        (t, r) => Some(said::kept_by_history(t.unwrap_or(0), r.unwrap_or(0))),
    })
}

/// A currency removed earlier keeps its accounts, so it can only come back as it was.
async fn redefined_currency(c: &mut Conn, merged: &ConfigDocument, code: &str) -> Result<Option<Said>, StoreError> {
    let Some(spec) = merged.currencies.iter().find(|x| x.code.as_str() == code) else { return Ok(None) };
    let row = sqlx::query("SELECT kind, scale FROM currencies WHERE code = $1").bind(code.to_owned()).fetch_optional(&mut *c).await?;
    let Some(row) = row else { return Ok(None) };
    let (kind, scale): (String, i32) = (row.try_get("kind")?, row.try_get("scale")?);
    Ok((kind != spec.kind.name() || scale != i32::from(spec.scale.places())).then(|| said::currency_defined_before(code, kind, scale)))
}

/// Removes the projection rows of removed stores (only ones without history get here).
async fn remove_projections(c: &mut Conn, steps: &[PlanStep]) -> Result<(), StoreError> {
    for step in steps.iter().filter(|s| s.action == Action::Remove && s.object == "store") {
        sqlx::query("DELETE FROM stores WHERE id = $1").bind(step.id.clone()).execute(&mut *c).await?;
    }
    Ok(())
}

/// Applies `file` to the stored configuration in `mode` and, unless nothing changes,
/// records a new version. Runs inside the caller's transaction.
pub(crate) async fn apply_document(
    c: &mut Conn,
    file: &ConfigDocument,
    source: &str,
    mode: Mode,
    now: Timestamp,
) -> Result<Applied, StoreError> {
    let (version, merged, steps) = plan(c, file, mode, now).await?;
    if steps.is_empty() {
        return Ok(Applied { version: None, steps });
    }
    remove_projections(c, &steps).await?;
    upsert_projections(c, &merged, now).await?;
    let document = serde_json::to_string(&merged).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let hash: String = Sha256::digest(document.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let steps_json = serde_json::to_string(&steps).map_err(|e| StoreError::Invalid(e.to_string()))?;
    // A concurrent apply takes the same number: the primary key makes one of them retry.
    let next = version + 1;
    sqlx::query(
        "INSERT INTO config_versions (version, applied_at, source, hash, document, steps) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(next)
    .bind(to_micros(now))
    .bind(source.to_owned())
    .bind(hash)
    .bind(document)
    .bind(steps_json)
    .execute(&mut *c)
    .await?;
    Ok(Applied { version: Some(next), steps })
}

impl Backend {
    pub async fn config_snapshot(&self) -> Result<ConfigDocument, StoreError> {
        let mut c = self.reader().await?;
        Ok(current_document(&mut c).await?.1)
    }

    pub async fn config_version(&self) -> Result<Option<i64>, StoreError> {
        let mut c = self.reader().await?;
        Ok(sqlx::query("SELECT MAX(version) AS v FROM config_versions").fetch_one(&mut *c).await?.try_get("v")?)
    }

    /// The history of the configuration, newest first: at most `limit` versions below
    /// `before`.
    pub async fn config_history(&self, before: Option<i64>, limit: u32) -> Result<Vec<ConfigVersion>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(
            "SELECT version, applied_at, source, hash, steps FROM config_versions WHERE version < $1 ORDER BY version DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        rows.iter()
            .map(|r| {
                let steps: String = r.try_get("steps")?;
                let steps: Vec<serde_json::Value> = serde_json::from_str(&steps).unwrap_or_default();
                Ok(ConfigVersion {
                    version: r.try_get("version")?,
                    applied_at: from_micros(r.try_get("applied_at")?),
                    source: r.try_get("source")?,
                    hash: r.try_get("hash")?,
                    changes: steps.len(),
                })
            })
            .collect()
    }

    /// Every version with the time it took effect, oldest first.
    pub async fn config_versions(&self) -> Result<Vec<(i64, Timestamp)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT version, applied_at FROM config_versions ORDER BY version").fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((r.try_get("version")?, from_micros(r.try_get("applied_at")?)))).collect()
    }

    /// The whole configuration as of `version`.
    pub async fn config_document(&self, version: i64) -> Result<ConfigDocument, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT document FROM config_versions WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "configuration version", id: version.to_string() })?;
        let text: String = row.try_get("document")?;
        serde_json::from_str(&text).map_err(|e| super::rows::corrupt(format!("stored configuration is invalid: {e}")))
    }

    /// Applies `doc` in one transaction: plans against the configuration read inside that
    /// transaction (so two concurrent applies cannot interleave), performs the steps and
    /// records a new version. With `dry_run` only the plan is returned.
    pub async fn apply_config(
        &self,
        doc: ConfigDocument,
        source: String,
        dry_run: bool,
        mode: Mode,
        now: Timestamp,
    ) -> Result<Applied, StoreError> {
        if dry_run {
            let mut c = self.reader().await?;
            let (_, _, steps) = plan(&mut c, &doc, mode, now).await?;
            return Ok(Applied { version: None, steps });
        }
        let doc = std::sync::Arc::new(doc);
        self.write(move |c| {
            let (doc, source) = (doc.clone(), source.clone());
            Box::pin(async move { apply_document(c, &doc, &source, mode, now).await })
        })
        .await
    }

    /// Makes the configuration of `version` the configuration in force again, as a new
    /// version (history is never rewritten): what was added since is removed, unless
    /// it carries value.
    pub async fn rollback_config(&self, version: i64, source: String, dry_run: bool, now: Timestamp) -> Result<Applied, StoreError> {
        let doc = self.config_document(version).await?;
        self.apply_config(doc, source, dry_run, Mode::Replace, now).await
    }

    /// Creates a store, refusing an existing id. Goes through the configuration, so the
    /// store is part of the versioned document like any other. `define_currency` is
    /// added first when the store's currency is not defined yet.
    pub async fn create_store(
        &self,
        spec: StoreSpec,
        define_currency: Option<loyd_domain::config::CurrencySpec>,
        now: Timestamp,
    ) -> Result<Applied, StoreError> {
        spec.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let spec = std::sync::Arc::new((spec, define_currency));
        self.write(move |c| {
            let spec = spec.clone();
            Box::pin(async move {
                let (s, currency) = &*spec;
                let (_, current) = current_document(c).await?;
                if current.stores.iter().any(|x| x.id == s.id) {
                    return Err(StoreError::AlreadyExists { what: "store", id: s.id.to_string() });
                }
                let mut file = ConfigDocument { stores: vec![s.clone()], ..ConfigDocument::default() };
                if let Some(cur) = currency
                    && !current.currencies.iter().any(|x| x.code == s.currency)
                {
                    file.currencies.push(cur.clone());
                }
                apply_document(c, &file, &format!("loyd store create {}", s.id), Mode::Merge, now).await
            })
        })
        .await
    }
}
