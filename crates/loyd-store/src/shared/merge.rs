//! Merging duplicate customers: cards, balances (with their lots) and history move to
//! the customer kept; value that moved is followed when a receipt of the duplicate is
//! returned later.

use std::collections::BTreeSet;

use loyd_domain::ids::CustomerId;
use loyd_domain::ledger::{Holder, HolderKind, NewTransfer};
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::Row;

use crate::{Customer, CustomerPatch};
use crate::error::StoreError;
use super::{Backend, Conn};
use super::audit::audit;
use super::balances::{account_holder, holder_of, move_balances};
use super::customers::{Pii, apply_patch, must_customer, store_pii};
use super::keys::{bad, code, transfer_id};
use super::ledger::apply_transfers;

/// The holder whose accounts a customer's value lives in now: a merged duplicate's
/// value is with the customer it was merged into (and their organisation, if any).
async fn current_holder(c: &mut Conn, customer: i64) -> Result<Holder, StoreError> {
    let mut id = customer;
    for _ in 0..16 {
        let next: Option<i64> = sqlx::query("SELECT merged_into FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get("merged_into"))
            .transpose()?
            .flatten();
        match next {
            Some(n) => id = n,
            None => break,
        }
    }
    holder_of(c, id).await
}

/// A return of a receipt whose customer has since been merged into another or joined an
/// organisation reverses the transfers of the receipt's time, against the accounts of
/// then. Value has moved on since: points an accrual gave that are no longer in the old
/// account are taken back from where they went (as far as its balance allows), and
/// whatever the return refunded to an old account follows to the current one.
pub(crate) async fn follow_moved_value(
    c: &mut Conn,
    customer: i64,
    effects: &loyd_domain::returns::ReceiptEffects,
    planned: &[i64],
    moved: &mut [i64],
    tag: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    use loyd_domain::returns::EffectRole;
    let current = current_holder(c, customer).await?;
    let ids: BTreeSet<_> = effects.transfers.iter().flat_map(|t| [t.debit, t.credit]).collect();
    let abandoned: Vec<_> = super::ledger::load_accounts(c, &ids, false)
        .await?
        .into_iter()
        // A customer's own accounts left behind by a merge or by joining an organisation.
        // (An organisation's accounts stay its own when a contact leaves.)
        .filter(|a| a.holder.kind == HolderKind::Customer && a.holder != current)
        .collect();
    if abandoned.is_empty() {
        return Ok(());
    }
    for (k, t) in effects.transfers.iter().enumerate() {
        if t.role != EffectRole::Accrual || planned[k] <= moved[k] {
            continue;
        }
        let Some(old) = abandoned.iter().find(|a| a.id == t.credit) else { continue };
        let Some(now_at) = super::ledger::find_account(c, &current, &old.asset).await? else { continue };
        let take = NewTransfer {
            balancing: true,
            at: Some(now),
            ..NewTransfer::single(transfer_id(format!("{tag}:f{k}"))?, now_at.id, t.debit, planned[k] - moved[k], code("return"))
        };
        for o in apply_transfers(c, &[take], now).await? {
            let (loyd_domain::ledger::TransferOutcome::Created(x) | loyd_domain::ledger::TransferOutcome::Exists(x)) = o;
            moved[k] += x.amount;
        }
    }
    let holders: BTreeSet<(String, String)> = abandoned.iter().map(|a| (a.holder.kind.name().to_owned(), a.holder.id.clone())).collect();
    for (kind, id) in holders {
        let kind = HolderKind::from_name(&kind).ok_or_else(|| bad("unknown holder kind"))?;
        let from = Holder::new(kind, id).map_err(|e| bad(e.to_string()))?;
        move_balances(c, &from, &current, &format!("{tag}:s"), now).await?;
    }
    Ok(())
}

impl Backend {
    /// Merges `duplicate` into `keep`: cards, receipts, coupons, CRM entries and every
    /// balance (lot by lot) move over; contact data the kept record lacks is taken
    /// over; the duplicate stays as a record pointing to `keep`, never identified again.
    pub async fn merge_customers(&self, keep: i64, duplicate: i64, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        if keep == duplicate {
            return Err(bad("a customer cannot be merged into itself"));
        }
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, actor) = (secrets.clone(), actor.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                let kept = must_customer(c, ring, keep).await?;
                let dup = must_customer(c, ring, duplicate).await?;
                if kept.merged_into.is_some() || dup.merged_into.is_some() {
                    return Err(bad("a merged customer cannot be merged again"));
                }
                let to = holder_of(c, keep).await?;
                if dup.organisation.is_none() {
                    move_balances(c, &account_holder(duplicate, None)?, &to, &format!("merge:c{duplicate}"), now).await?;
                }
                for sql in [
                    "UPDATE cards SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE receipts SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE coupons SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE gift_issues SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE crm_entries SET customer_id = $1 WHERE customer_id = $2",
                ] {
                    sqlx::query(sql).bind(keep).bind(duplicate).execute(&mut *c).await?;
                }
                sqlx::query("DELETE FROM one_time_codes WHERE customer_id = $1").bind(duplicate).execute(&mut *c).await?;
                // The duplicate gives up its contact data first (unique indexes)…
                store_pii(c, ring, duplicate, &Pii { name: dup.name.clone(), ..Pii::default() }).await?;
                sqlx::query("UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3")
                    .bind(keep)
                    .bind(to_micros(now))
                    .bind(duplicate)
                    .execute(&mut *c)
                    .await?;
                // …and the kept record fills its gaps from it.
                let mut profile = dup.profile.clone();
                profile.extend(kept.profile.clone());
                let patch = CustomerPatch {
                    phone: kept.phone.is_none().then(|| dup.phone.clone()),
                    email: kept.email.is_none().then(|| dup.email.clone()),
                    name: kept.name.is_none().then(|| dup.name.clone()),
                    birth_date: kept.birth_date.is_none().then_some(dup.birth_date),
                    profile: profile.into_iter().map(|(k, v)| (k, Some(v))).collect(),
                    ..CustomerPatch::default()
                };
                let (_, after) = apply_patch(c, ring, keep, &patch, now).await?;
                let id = CustomerId(keep).to_string();
                audit(c, ring, now, &actor, "customer.merge", "customer", &id, Some(&kept), Some(&after)).await?;
                let merged = serde_json::json!({ "merged_into": id });
                audit(c, ring, now, &actor, "customer.merged", "customer", &CustomerId(duplicate).to_string(), Some(&dup), Some(&merged)).await?;
                Ok(after)
            })
        })
        .await
    }
}
