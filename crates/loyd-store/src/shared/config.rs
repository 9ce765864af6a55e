//! Configuration as code: the stored snapshot and applying a document, one source for
//! both backends.

use loyd_domain::config::{ConfigDocument, ConfigSnapshot, CurrencyKind, CurrencySpec, PlanStep};
use loyd_domain::ids::AssetCode;
use loyd_domain::money::{Rounding, Scale};
use loyd_domain::time::{Timestamp, to_micros};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::org::{load_stores, upsert_store};
use super::{Backend, Conn, rows};
use crate::Applied;
use crate::error::StoreError;

async fn load_currencies(c: &mut Conn) -> Result<Vec<CurrencySpec>, StoreError> {
    let rows = sqlx::query("SELECT code, kind, scale, name, rounding FROM currencies ORDER BY code").fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| {
            let bad = |what: &str| rows::corrupt(format!("stored currency has an invalid {what}"));
            let kind: String = r.try_get("kind")?;
            let scale: i32 = r.try_get("scale")?;
            let rounding: String = r.try_get("rounding")?;
            Ok(CurrencySpec {
                code: AssetCode::parse(r.try_get::<String, _>("code")?).map_err(|_| bad("code"))?,
                kind: CurrencyKind::from_name(&kind).ok_or_else(|| bad("kind"))?,
                scale: u8::try_from(scale).ok().and_then(|s| Scale::new(s).ok()).ok_or_else(|| bad("scale"))?,
                name: r.try_get("name")?,
                rounding: Some(
                    serde_json::from_value::<Rounding>(serde_json::Value::String(rounding)).map_err(|_| bad("rounding"))?,
                ),
            })
        })
        .collect()
}

pub(crate) async fn snapshot(c: &mut Conn) -> Result<ConfigSnapshot, StoreError> {
    Ok(ConfigSnapshot { currencies: load_currencies(c).await?, stores: load_stores(c).await? })
}

fn rounding_name(r: Rounding) -> String {
    match serde_json::to_value(r) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "half_up".into(),
    }
}

async fn upsert_currency(c: &mut Conn, spec: &CurrencySpec, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO currencies (code, kind, scale, name, rounding, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, rounding = excluded.rounding, updated_at = excluded.updated_at",
    )
    .bind(spec.code.as_str().to_owned())
    .bind(spec.kind.name())
    .bind(i32::from(spec.scale.places()))
    .bind(spec.name.clone())
    .bind(rounding_name(spec.rounding()))
    .bind(to_micros(now))
    .execute(&mut *c)
    .await?;
    Ok(())
}

impl Backend {
    pub async fn config_snapshot(&self) -> Result<ConfigSnapshot, StoreError> {
        let mut c = self.reader().await?;
        snapshot(&mut c).await
    }

    pub async fn config_version(&self) -> Result<Option<i64>, StoreError> {
        let mut c = self.reader().await?;
        Ok(sqlx::query("SELECT MAX(version) AS v FROM config_versions").fetch_one(&mut *c).await?.try_get("v")?)
    }

    /// Applies `doc` in one transaction: plans against the stored state read inside that
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
            let steps = doc.plan(&current).map_err(StoreError::Config)?;
            return Ok(Applied { version: None, steps });
        }
        let doc = std::sync::Arc::new(doc);
        self.write(move |c| {
            let (doc, source) = (doc.clone(), source.clone());
            Box::pin(async move {
                let current = snapshot(c).await?;
                let steps = doc.plan(&current).map_err(StoreError::Config)?;
                if steps.is_empty() {
                    return Ok(Applied { version: None, steps });
                }
                for step in &steps {
                    match step {
                        PlanStep::Currency { after, .. } => upsert_currency(c, after, now).await?,
                        PlanStep::Store { after, .. } => upsert_store(c, after, now).await?,
                    }
                }
                let document = serde_json::to_string(&*doc).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let hash: String = Sha256::digest(document.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                let steps_json = serde_json::to_string(&steps).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM config_versions")
                    .fetch_one(&mut *c)
                    .await?
                    .try_get("v")?;
                sqlx::query(
                    "INSERT INTO config_versions (version, applied_at, source, hash, document, steps) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(version)
                .bind(to_micros(now))
                .bind(source)
                .bind(hash)
                .bind(document)
                .bind(steps_json)
                .execute(&mut *c)
                .await?;
                Ok(Applied { version: Some(version), steps })
            })
        })
        .await
    }
}
