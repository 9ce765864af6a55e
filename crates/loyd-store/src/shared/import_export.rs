//! Customer import (CSV rows in batches, idempotent by external id) and export.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::ids::CustomerId;
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::{QueryBuilder, Row};

use crate::{Customer, CustomerFilter, ImportOutcome, ImportRow};
use crate::crypto::Keyring;
use crate::error::StoreError;
use super::{Backend, Conn, Db};
use super::audit::audit;
use super::customers::{Pii, SealedPii, check_contacts, consents_from};
use super::keys::{bad, json_text};

/// Values of `column` among `values` that the table already holds (chunked IN lists).
pub(crate) async fn existing(c: &mut Conn, table_column: (&'static str, &'static str), values: Vec<String>) -> Result<BTreeSet<String>, StoreError> {
    let mut found = BTreeSet::new();
    for chunk in values.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(format_args!("SELECT {1} AS v FROM {0} WHERE {1} IN (", table_column.0, table_column.1).to_string());
        let mut list = qb.separated(", ");
        for v in chunk {
            list.push_bind(v.clone());
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut *c).await? {
            found.insert(r.try_get::<String, _>("v")?);
        }
    }
    Ok(found)
}

/// Imports a batch: every row is checked completely (against the database, read once
/// for the whole batch, and against the batch's earlier rows) before anything of it is
/// written, so a refused row leaves no trace; the good rows are written with one
/// statement per customer and multi-row inserts for name terms and cards.
async fn import_batch(
    c: &mut Conn,
    ring: &Keyring,
    rows: &[ImportRow],
    series: Option<&str>,
    program: &loyd_domain::program::Program,
    now: Timestamp,
) -> Result<Vec<ImportOutcome>, StoreError> {
    let spec = match series {
        Some(s) => {
            let spec = &program.series.get(s).ok_or_else(|| StoreError::NotFound { what: "card series", id: s.to_owned() })?.spec;
            if spec.kind != loyd_domain::program::CardKind::Loyalty {
                return Err(bad(format!("series {s} is not a loyalty series")));
            }
            Some(spec)
        }
        None => None,
    };
    // What each row would write (its PII, sealed and indexed), or why not.
    let mut checked: Vec<Result<(Pii, SealedPii), String>> = Vec::with_capacity(rows.len());
    for row in rows {
        let r = check_contacts(row.customer.phone.as_deref(), row.customer.email.as_deref(), row.customer.name.as_deref(), row.customer.birth_date)
            .and_then(|pii| {
                loyd_domain::profile::check(&row.customer.profile).map_err(|e| bad(e.to_string()))?;
                loyd_domain::access::check_consents(&row.customer.consents)?;
                if row.customer.organisation.is_some() {
                    return Err(bad("an import does not attach organisations"));
                }
                let sealed = pii.seal(ring)?;
                Ok((pii, sealed))
            })
            .map_err(|e| e.to_string());
        checked.push(r);
    }
    let mut phones: BTreeSet<String> = BTreeSet::new();
    let mut emails: BTreeSet<String> = BTreeSet::new();
    for (_, s) in checked.iter().flatten() {
        phones.extend(s.phone_index.clone());
        emails.extend(s.email_index.clone());
    }
    let mut taken_phones = existing(c, ("customers", "phone_index"), phones.into_iter().collect()).await?;
    let mut taken_emails = existing(c, ("customers", "email_index"), emails.into_iter().collect()).await?;
    let numbers: Vec<String> = rows.iter().flat_map(|r| r.cards.iter().cloned()).collect();
    let mut taken_cards = existing(c, ("cards", "number"), numbers).await?;

    let mut out = Vec::with_capacity(rows.len());
    let mut terms: Vec<(String, i64)> = Vec::new();
    let mut cards: Vec<(String, i64)> = Vec::new();
    for (row, check) in rows.iter().zip(checked) {
        let refuse = |out: &mut Vec<ImportOutcome>, reason: String| out.push(ImportOutcome { line: row.line, result: Err(reason) });
        let (pii, SealedPii { sealed, phone_index: phone, email_index: email, birthday_index, .. }) = match check {
            Ok(v) => v,
            Err(reason) => {
                refuse(&mut out, reason);
                continue;
            }
        };
        if phone.as_ref().is_some_and(|p| taken_phones.contains(p)) {
            refuse(&mut out, format!("customer with phone '{}' already exists", pii.phone.clone().unwrap_or_default()));
            continue;
        }
        if email.as_ref().is_some_and(|e| taken_emails.contains(e)) {
            refuse(&mut out, format!("customer with e-mail '{}' already exists", pii.email.clone().unwrap_or_default()));
            continue;
        }
        let card_problem = if row.cards.is_empty() {
            None
        } else if let Some(spec) = spec {
            let mut seen = BTreeSet::new();
            row.cards.iter().find_map(|n| {
                if !loyd_domain::cards::valid_card_text(n) || !n.starts_with(&spec.prefix) {
                    Some(format!("{n} is not a number of series {} (prefix {:?})", spec.id, spec.prefix))
                } else if !seen.insert(n) || taken_cards.contains(n) {
                    Some(format!("card '{n}' already exists"))
                } else {
                    None
                }
            })
        } else {
            Some("the file has card numbers: name their series (--card-series)".into())
        };
        if let Some(reason) = card_problem {
            refuse(&mut out, reason);
            continue;
        }
        let consents = consents_from(&row.customer.consents, now);
        let id: i64 = sqlx::query(
            "INSERT INTO customers (pii, phone_index, email_index, profile, consents, created_at, updated_at, birthday_index) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(sealed)
        .bind(phone.clone())
        .bind(email.clone())
        .bind(super::customers::profile_text(&row.customer.profile)?)
        .bind((!consents.is_empty()).then(|| json_text(&consents)).transpose()?)
        .bind(to_micros(now))
        .bind(birthday_index)
        .fetch_one(&mut *c)
        .await?
        .try_get("id")?;
        taken_phones.extend(phone);
        taken_emails.extend(email);
        for n in &row.cards {
            taken_cards.insert(n.clone());
            cards.push((n.clone(), id));
        }
        terms.extend(pii.name.as_deref().map(|n| ring.name_terms(n)).unwrap_or_default().into_iter().map(|t| (t, id)));
        out.push(ImportOutcome { line: row.line, result: Ok(id) });
    }
    let joined = out.iter().filter(|o| o.result.is_ok()).count();
    if joined > 0 {
        super::customers::count_joined(c, now, i64::try_from(joined).unwrap_or(i64::MAX)).await?;
    }
    for chunk in terms.chunks(5000) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO customer_terms (term, customer_id) ");
        qb.push_values(chunk, |mut b, (t, id)| {
            b.push_bind(t.clone()).push_bind(*id);
        });
        qb.build().execute(&mut *c).await?;
    }
    if let Some(spec) = spec {
        // Imported loyalty cards are active and carry no PIN (nobody would see it).
        for chunk in cards.chunks(2000) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO cards (number, series, kind, state, customer_id, single_use, issued_at, virtual) ");
            qb.push_values(chunk, |mut b, (n, id)| {
                b.push_bind(n.clone())
                    .push_bind(spec.id.as_str().to_owned())
                    .push_bind("loyalty")
                    .push_bind("active")
                    .push_bind(*id)
                    .push_bind(spec.single_use)
                    .push_bind(to_micros(now))
                    .push_bind(0i64);
            });
            qb.build().execute(&mut *c).await?;
        }
    }
    Ok(out)
}

impl Backend {
    /// Imports a batch of customers in one transaction. Each row is checked completely
    /// before anything of it is written, so a refused row (with its reason) leaves no
    /// trace and the good rows stand; a failure while writing aborts the whole batch.
    /// One audit entry per batch.
    pub async fn import_customers(
        &self,
        rows: Vec<ImportRow>,
        card_series: Option<String>,
        program: Arc<loyd_domain::program::Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let (rows, secrets) = (Arc::new(rows), self.ring());
        self.write(move |c| {
            let (rows, secrets, actor, series, program) = (rows.clone(), secrets.clone(), actor.clone(), card_series.clone(), program.clone());
            Box::pin(async move {
                let out = import_batch(c, &secrets.ring, &rows, series.as_deref(), &program, now).await?;
                let created: Vec<i64> = out.iter().filter_map(|o| o.result.as_ref().ok().copied()).collect();
                if let (Some(first), Some(last)) = (created.first(), created.last()) {
                    let summary = serde_json::json!({ "created": created.len(), "first": CustomerId(*first).to_string(), "last": CustomerId(*last).to_string() });
                    audit(c, &secrets.ring, now, &actor, "customer.import", "import", &to_micros(now).to_string(), None::<&()>, Some(&summary)).await?;
                }
                Ok(out)
            })
        })
        .await
    }

    /// A page of customers for export, by id, with their card numbers.
    pub async fn export_customers(&self, after_id: i64, limit: u32) -> Result<Vec<(Customer, Vec<String>)>, StoreError> {
        let customers = self.customers(CustomerFilter { after_id: Some(after_id), limit, ..CustomerFilter::default() }).await?;
        let (Some(first), Some(last)) = (customers.first().map(|c| c.id), customers.last().map(|c| c.id)) else {
            return Ok(Vec::new());
        };
        let mut c = self.reader().await?;
        let mut cards: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let rows = sqlx::query("SELECT customer_id, number FROM cards WHERE customer_id >= $1 AND customer_id <= $2 AND replaced_by IS NULL ORDER BY number")
            .bind(first)
            .bind(last)
            .fetch_all(&mut *c)
            .await?;
        for r in rows {
            cards.entry(r.try_get("customer_id")?).or_default().push(r.try_get("number")?);
        }
        Ok(customers.into_iter().map(|cu| {
            let numbers = cards.remove(&cu.id).unwrap_or_default();
            (cu, numbers)
        }).collect())
    }
}
