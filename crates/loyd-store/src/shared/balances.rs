//! Balances: the accounts of a holder with their balances and open lots as of a
//! moment, a customer's balances per currency, manual adjustments and the account
//! statement.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::ids::{AccountId, AssetCode, CustomerId};
use loyd_domain::ledger::{Account, AccountSpec, BalancePolicy, DebitFrom, Holder, HolderKind, Lot, LotTerms, NewTransfer, TransferError};
use loyd_domain::money::{Minor, Scale};
use loyd_domain::program::Program;
use loyd_domain::receipt::{BalanceOut, BalanceView, ReceiptError};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::{Statement, StatementLine};
use crate::error::StoreError;
use super::{Backend, Conn, PG, rows};
use super::keys::{bad, code, transfer_id};
use super::ledger::{apply_transfers, ensure_account, find_account, load_accounts, load_open_lots};

/// The accounts of a ledger holder.
pub(crate) async fn holder_account_ids(c: &mut Conn, holder: &Holder) -> Result<Vec<AccountId>, StoreError> {
    let rows = sqlx::query("SELECT id FROM accounts WHERE holder_kind = $1 AND holder_id = $2")
        .bind(holder.kind.name())
        .bind(holder.id.clone())
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok(AccountId(r.try_get("id")?))).collect()
}

/// Accounts (locked when `lock`) with their balances at `at`.
pub(crate) async fn accounts_with_balances(
    c: &mut Conn,
    ids: &BTreeSet<AccountId>,
    at: Timestamp,
    lock: bool,
) -> Result<BTreeMap<AccountId, (Account, BalanceView)>, StoreError> {
    let accounts = load_accounts(c, ids, lock).await?;
    Ok(with_balances(c, accounts, at).await?.0)
}

/// The balances of loaded accounts at `at`, and the open lots they come from.
async fn with_balances(
    c: &mut Conn,
    accounts: Vec<Account>,
    at: Timestamp,
) -> Result<(BTreeMap<AccountId, (Account, BalanceView)>, Vec<Lot>), StoreError> {
    let lots = open_lots_of(c, &accounts).await?;
    Ok((balances_of(accounts, &lots, at), lots))
}

/// The open lots of those of `accounts` that track lots.
pub(crate) async fn open_lots_of(c: &mut Conn, accounts: &[Account]) -> Result<Vec<Lot>, StoreError> {
    let lot_accounts: BTreeSet<AccountId> = accounts.iter().filter(|a| a.tracks_lots).map(|a| a.id).collect();
    load_open_lots(c, &lot_accounts).await
}

/// The balances at `at` of accounts whose open lots are all in `lots`.
pub(crate) fn balances_of(accounts: Vec<Account>, lots: &[Lot], at: Timestamp) -> BTreeMap<AccountId, (Account, BalanceView)> {
    let mut by_account: BTreeMap<AccountId, Vec<&Lot>> = BTreeMap::new();
    for l in lots {
        by_account.entry(l.account).or_default().push(l);
    }
    accounts
        .into_iter()
        .map(|a| {
            let b = a.balance(by_account.get(&a.id).into_iter().flatten().copied(), at);
            let view = BalanceView { available: b.available, pending: b.inactive };
            (a.id, (a, view))
        })
        .collect()
}

/// The accounts of a holder and the accounts `ids` (cards'), with the open lots of those
/// that track lots; locked in id order on PostgreSQL when `lock`. None of them is a
/// system account, so locking them all serialises only receipts of the same customer or
/// card.
///
/// One query where that is safe. On PostgreSQL a locking read cannot take the lots in
/// the same statement: a statement that waited for a lock still reads the other tables
/// of a join as they were before the wait (read committed), so the lots would miss what
/// the transaction holding the lock spent. There the lots are read by the next statement.
pub(crate) async fn accounts_and_lots(
    c: &mut Conn,
    holder: Option<&Holder>,
    ids: &BTreeSet<AccountId>,
    lock: bool,
) -> Result<(Vec<Account>, Vec<Lot>), StoreError> {
    if holder.is_none() && ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if PG && lock {
        let accounts = accounts_of(c, holder, ids).await?;
        let lots = open_lots_of(c, &accounts).await?;
        return Ok((accounts, lots));
    }
    // One row per open lot (or one with no lot): the account's columns keep their names,
    // the lot's are prefixed `lot_`.
    let mut qb = sqlx::QueryBuilder::<super::Db>::new(concat!(
        "SELECT ",
        account_cols!("a."),
        ", l.id AS lot_id, l.amount AS lot_amount, l.remaining AS lot_remaining, l.available_at AS lot_available_at, \
         l.expires_at AS lot_expires_at, l.created_at AS lot_created_at \
         FROM accounts a LEFT JOIN lots l ON a.tracks_lots AND l.account_id = a.id AND l.remaining > 0 WHERE ",
    ));
    push_owned(&mut qb, "a.", holder, ids);
    qb.push(" ORDER BY a.id");
    let mut accounts: Vec<Account> = Vec::new();
    let mut lots = Vec::new();
    for row in qb.build().fetch_all(&mut *c).await? {
        let id: i64 = row.try_get("id")?;
        if accounts.last().is_none_or(|a| a.id.0 != id) {
            accounts.push(rows::account(&row)?);
        }
        if let Some(lot) = rows::joined_lot(&row, AccountId(id))? {
            lots.push(lot);
        }
    }
    Ok((accounts, lots))
}

/// The accounts of a holder and the accounts `ids`, locked in id order.
async fn accounts_of(c: &mut Conn, holder: Option<&Holder>, ids: &BTreeSet<AccountId>) -> Result<Vec<Account>, StoreError> {
    let mut qb = sqlx::QueryBuilder::<super::Db>::new(concat!("SELECT ", account_cols!(), " FROM accounts WHERE "));
    push_owned(&mut qb, "", holder, ids);
    qb.push(if PG { " ORDER BY id FOR UPDATE" } else { " ORDER BY id" });
    qb.build().fetch_all(&mut *c).await?.iter().map(rows::account).collect()
}

/// `WHERE` condition: accounts of `holder` or among `ids`, with columns of `table`
/// (`"a."` or `""`).
fn push_owned(qb: &mut sqlx::QueryBuilder<super::Db>, table: &str, holder: Option<&Holder>, ids: &BTreeSet<AccountId>) {
    match holder {
        Some(h) => {
            qb.push(format_args!("({table}holder_kind = "));
            qb.push_bind(h.kind.name());
            qb.push(format_args!(" AND {table}holder_id = "));
            qb.push_bind(h.id.clone());
            qb.push(")");
        }
        None => {
            qb.push("1 = 0");
        }
    }
    if !ids.is_empty() {
        qb.push(format_args!(" OR {table}id IN "));
        super::ledger::push_id_list(qb, ids.iter().map(|a| a.0));
    }
}

/// The ids of a currency's system accounts, opened at configuration time.
pub(crate) async fn system_id(c: &mut Conn, name: &str, asset: &AssetCode, now: Timestamp) -> Result<AccountId, StoreError> {
    Ok(super::ledger::system_account(c, name, asset, now).await?.id)
}

/// Maps a ledger refusal inside a POS operation to the POS error it means.
pub(crate) fn ledger_refusal(e: StoreError, what: &str, scale: loyd_domain::money::Scale, client_id: &str) -> StoreError {
    match e {
        StoreError::Ledger(b) => match b.error {
            TransferError::InsufficientFunds { available, requested, .. } => ReceiptError::InsufficientFunds {
                what: what.to_owned(),
                available: loyd_domain::money::Minor::new(available, scale).to_string(),
                requested: loyd_domain::money::Minor::new(requested, scale).to_string(),
            }
            .into(),
            TransferError::IdConflict(_) => StoreError::IdempotencyConflict(client_id.to_owned()),
            // Only reversals meet this: a return (or cancellation) would take back more
            // than the receipt gave.
            e @ TransferError::ReversalExceedsOriginal { .. } => ReceiptError::ReturnExceedsReceipt(e.to_string()).into(),
            other => StoreError::Invalid(other.to_string()),
        },
        other => other,
    }
}

/// The customer's balances now, for responses.
pub(crate) async fn customer_balances(
    c: &mut Conn,
    customer: Option<i64>,
    program: &Program,
    now: Timestamp,
) -> Result<Vec<BalanceOut>, StoreError> {
    let Some(customer) = customer else { return Ok(Vec::new()) };
    let holder = holder_of(c, customer).await?;
    let ids: BTreeSet<AccountId> = holder_account_ids(c, &holder).await?.into_iter().collect();
    balances_out(c, &ids, program, now).await
}

/// The balances of these accounts now, for responses, by currency.
pub(crate) async fn balances_out(
    c: &mut Conn,
    ids: &BTreeSet<AccountId>,
    program: &Program,
    now: Timestamp,
) -> Result<Vec<BalanceOut>, StoreError> {
    let balances = accounts_with_balances(c, ids, now, false).await?;
    let mut out: Vec<BalanceOut> = balances
        .values()
        .map(|(a, v)| {
            let scale = program.scale_of(a.asset.as_str());
            BalanceOut {
                currency: a.asset.clone(),
                available: Minor::new(v.available, scale).to_string(),
                pending: Minor::new(v.pending, scale).to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(out)
}

/// A customer's account of `currency` (their organisation's, for its contacts).
pub(crate) async fn customer_account(c: &mut Conn, customer: i64, currency: &AssetCode) -> Result<loyd_domain::ledger::Account, StoreError> {
    let holder = holder_of(c, customer).await?;
    find_account(c, &holder, currency)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "account", id: format!("{} {currency}", CustomerId(customer)) })
}

/// An account's posted balance.
pub(crate) async fn account_posted(c: &mut Conn, id: AccountId) -> Result<i64, StoreError> {
    let a = load_accounts(c, &BTreeSet::from([id]), false).await?;
    Ok(a.first().map(|a| i64::try_from(a.posted()).unwrap_or(0)).unwrap_or(0))
}

/// The ledger holder whose accounts a customer uses: their organisation's when they
/// are a contact of one, else their own.
pub(crate) fn account_holder(customer: i64, organisation: Option<i64>) -> Result<Holder, StoreError> {
    let (kind, id) = match organisation {
        Some(o) => (HolderKind::Organisation, o.to_string()),
        None => (HolderKind::Customer, customer.to_string()),
    };
    Holder::new(kind, id).map_err(|e| bad(e.to_string()))
}

/// [`account_holder`] of a customer known by id.
pub(crate) async fn holder_of(c: &mut Conn, customer: i64) -> Result<Holder, StoreError> {
    let org: Option<i64> = sqlx::query("SELECT organisation_id FROM customers WHERE id = $1")
        .bind(customer)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| r.try_get("organisation_id"))
        .transpose()?
        .flatten();
    account_holder(customer, org)
}

/// Moves every balance of `from`'s accounts to `to`'s accounts of the same currency,
/// lot by lot so activation and expiry dates travel along; debts (credit accounts
/// below zero) move the other way. Refuses accounts with open holds.
pub(crate) async fn move_balances(c: &mut Conn, from: &Holder, to: &Holder, tag: &str, now: Timestamp) -> Result<usize, StoreError> {
    let rows = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts WHERE holder_kind = $1 AND holder_id = $2 ORDER BY id"))
        .bind(from.kind.name())
        .bind(from.id.clone())
        .fetch_all(&mut *c)
        .await?;
    let accounts: Vec<_> = rows.iter().map(super::rows::account).collect::<Result<_, _>>()?;
    let mut moved = 0;
    for account in accounts {
        let t = account.totals;
        if t.debits_pending != 0 || t.credits_pending != 0 {
            return Err(StoreError::Refused(loyd_domain::receipt::ReceiptError::invalid(format!(
                "account {} has open holds; resolve them first",
                account.id
            ))));
        }
        let target = ensure_account(
            c,
            &loyd_domain::ledger::AccountSpec {
                holder: to.clone(),
                asset: account.asset.clone(),
                policy: account.policy,
                tracks_lots: account.tracks_lots,
            },
            now,
        )
        .await?;
        let mut batch = Vec::new();
        let id = |n: usize| transfer_id(format!("{tag}:{}:{n}", account.id));
        if account.tracks_lots {
            let lots = load_open_lots(c, &BTreeSet::from([account.id])).await?;
            for (n, lot) in lots.into_iter().enumerate() {
                batch.push(NewTransfer {
                    lot: lot.terms,
                    debit_from: DebitFrom::Lot(lot.id.clone()),
                    at: Some(now),
                    ..NewTransfer::single(id(n)?, account.id, target.id, lot.remaining, code("merge"))
                });
            }
        } else {
            let balance = i128::from(t.credits_posted) - i128::from(t.debits_posted);
            let amount = i64::try_from(balance.abs()).map_err(|_| bad("balance out of range"))?;
            if balance > 0 {
                batch.push(NewTransfer { at: Some(now), ..NewTransfer::single(id(0)?, account.id, target.id, amount, code("merge")) });
            } else if balance < 0 {
                batch.push(NewTransfer { at: Some(now), ..NewTransfer::single(id(0)?, target.id, account.id, amount, code("merge")) });
            }
        }
        moved += batch.len();
        if !batch.is_empty() {
            apply_transfers(c, &batch, now).await?;
        }
    }
    Ok(moved)
}

impl Backend {
    /// Adjusts a customer's balance by hand (goodwill points, corrections): positive
    /// amounts are issued (with the currency's lot dates), negative ones taken back.
    /// Idempotent by `operation_id`. Returns the posted balance after.
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust_balance(
        &self,
        operation_id: String,
        customer: i64,
        currency: AssetCode,
        amount: i64,
        reason: String,
        program: Arc<Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        if amount == 0 {
            return Err(StoreError::Rule(loyd_domain::said::adjustment_zero()));
        }
        loyd_domain::ids::ClientOpId::parse(&operation_id).map_err(|e| StoreError::Invalid(format!("operation_id: {e}")))?;
        loyd_domain::text::lines("reason", &reason, 1000).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let cur = program
            .currency(&currency)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { what: "currency", id: currency.to_string() })?;
        let id = transfer_id(format!("adjust:{operation_id}"))?;
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (id, cur, reason, operation_id, secrets, actor) =
                (id.clone(), cur.clone(), reason.clone(), operation_id.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                super::idempotency::claim(c, &["adjust", &operation_id]).await?;
                let replay = !super::ledger::load_transfers(c, &BTreeSet::from([id.clone()])).await?.is_empty();
                let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(customer).fetch_optional(&mut *c).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "customer", id: CustomerId(customer).to_string() });
                }
                let spec = AccountSpec {
                    holder: holder_of(c, customer).await?,
                    asset: cur.code.clone(),
                    policy: BalancePolicy::NonNegative,
                    tracks_lots: true,
                };
                let account = match find_account(c, &spec.holder, &cur.code).await? {
                    Some(a) => a,
                    None => ensure_account(c, &spec, now).await?,
                };
                let t = if amount > 0 {
                    let source = system_id(c, "issuance", &cur.code, now).await?;
                    NewTransfer {
                        lot: if account.tracks_lots { cur.lot_terms(now, &jiff::tz::TimeZone::UTC) } else { LotTerms::default() },
                        ..NewTransfer::single(id, source, account.id, amount, code("adjustment"))
                    }
                } else {
                    let sink = system_id(c, "redemption", &cur.code, now).await?;
                    NewTransfer::single(id, account.id, sink, -amount, code("adjustment"))
                };
                let t = NewTransfer { reference: Some(reason.chars().take(200).collect()), at: Some(now), ..t };
                apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, "balance", cur.scale, &operation_id))?;
                if !replay {
                    let what = serde_json::json!({
                        "operation_id": operation_id, "currency": cur.code, "amount": Minor::new(amount, cur.scale).to_string(), "reason": reason,
                    });
                    super::audit::audit(c, &secrets.ring, now, &actor, "balance.adjust", "customer", &CustomerId(customer).to_string(), None::<&()>, Some(&what))
                        .await?;
                }
                account_posted(c, account.id).await
            })
        })
        .await
    }

    /// A customer's balances now (their organisation's, for its contacts), by currency.
    pub async fn customer_balances(&self, customer: i64, program: Arc<Program>, now: Timestamp) -> Result<Vec<BalanceOut>, StoreError> {
        let mut c = self.reader().await?;
        customer_balances(&mut c, Some(customer), &program, now).await
    }

    /// A customer's account in `currency` between `from` and `to`.
    pub async fn statement(
        &self,
        customer: i64,
        currency: AssetCode,
        from: Timestamp,
        to: Timestamp,
        scale: Scale,
    ) -> Result<Statement, StoreError> {
        let mut c = self.reader().await?;
        let account = customer_account(&mut c, customer, &currency).await?;
        let signed = "CASE WHEN credit_account_id = $1 THEN amount ELSE -amount END";
        let opening: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COALESCE(SUM({signed}), 0) AS BIGINT) AS s FROM transfers \
             WHERE (debit_account_id = $1 OR credit_account_id = $1) AND kind IN ('single', 'post') AND at < $2"
        )))
        .bind(account.id.0)
        .bind(to_micros(from))
        .fetch_one(&mut *c)
        .await?
        .try_get("s")?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, code, reference, at, {signed} AS signed FROM transfers \
             WHERE (debit_account_id = $1 OR credit_account_id = $1) AND kind IN ('single', 'post') \
             AND at >= $2 AND at < $3 ORDER BY at, seq"
        )))
        .bind(account.id.0)
        .bind(to_micros(from))
        .bind(to_micros(to))
        .fetch_all(&mut *c)
        .await?;
        let mut balance = opening;
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            let amount: i64 = r.try_get("signed")?;
            if amount == 0 {
                continue;
            }
            balance += amount;
            lines.push(StatementLine {
                at: from_micros(r.try_get("at")?),
                transfer: r.try_get("id")?,
                code: r.try_get("code")?,
                reference: r.try_get("reference")?,
                amount: Minor::new(amount, scale).to_string(),
                balance: Minor::new(balance, scale).to_string(),
            });
        }
        Ok(Statement {
            customer: CustomerId(customer).to_string(),
            currency,
            from,
            to,
            opening: Minor::new(opening, scale).to_string(),
            closing: Minor::new(balance, scale).to_string(),
            credit_limit: Minor::new(account.policy.limit(), scale).to_string(),
            lines,
        })
    }
}
