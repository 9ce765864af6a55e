//! Configuration as code: the stored configuration and applying a document, one source
//! for both backends.
//!
//! Each version row holds the *whole* configuration after that apply (the merge of
//! every file applied so far), so the program in force at any moment is one row away.
//! The `currencies` and `stores` tables are projections of it that the rest of the
//! schema can reference.

use loyd_domain::config::ConfigDocument;
use loyd_domain::org::StoreSpec;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::ledger::system_account;
use super::{Backend, Conn};
use crate::error::StoreError;
use crate::{Applied, SYSTEM_ACCOUNTS};

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
        "INSERT INTO stores (id, name, format, timezone, currency, partner, offline_days, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, format = excluded.format, \
         timezone = excluded.timezone, currency = excluded.currency, partner = excluded.partner, \
         offline_days = excluded.offline_days, updated_at = excluded.updated_at",
    )
    .bind(s.id.as_str().to_owned())
    .bind(s.name.clone())
    .bind(s.format.as_ref().map(|f| f.as_str().to_owned()))
    .bind(s.timezone.as_str().to_owned())
    .bind(s.currency.as_str().to_owned())
    .bind(s.partner.as_ref().map(|p| p.as_str().to_owned()))
    .bind(to_micros(now))
    .bind(s.offline_days.map(i64::from))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Merges `file` into the stored configuration and, unless nothing changes, records a
/// new version. Runs inside the caller's transaction.
pub(crate) async fn apply_document(
    c: &mut Conn,
    file: &ConfigDocument,
    source: &str,
    now: Timestamp,
) -> Result<Applied, StoreError> {
    let (version, current) = current_document(c).await?;
    let (merged, steps) = file.merge_into(&current).map_err(StoreError::Config)?;
    if steps.is_empty() {
        return Ok(Applied { version: None, steps });
    }
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
        now: Timestamp,
    ) -> Result<Applied, StoreError> {
        if dry_run {
            let current = self.config_snapshot().await?;
            let (_, steps) = doc.merge_into(&current).map_err(StoreError::Config)?;
            return Ok(Applied { version: None, steps });
        }
        let doc = std::sync::Arc::new(doc);
        self.write(move |c| {
            let (doc, source) = (doc.clone(), source.clone());
            Box::pin(async move { apply_document(c, &doc, &source, now).await })
        })
        .await
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
                apply_document(c, &file, &format!("loyd store create {}", s.id), now).await
            })
        })
        .await
    }
}
