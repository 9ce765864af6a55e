//! Row mapping shared by both backends: column lists (as macros, so they join other
//! literals in `concat!` and every query stays a `&'static str`) and decoders.

use loyd_domain::ids::{AccountId, AssetCode, TransferCode, TransferId};
use loyd_domain::ledger::{
    Account, BalancePolicy, DebitFrom, Holder, HolderKind, Lot, LotMove, LotTerms, PendingState, Totals, Transfer,
    TransferKind,
};
use loyd_domain::time::{from_micros, Timestamp};
use sqlx::Row;

use crate::error::StoreError;

pub(super) type DbRow = <super::Db as sqlx::Database>::Row;

/// Adds ` AND {column} IN (…)` of `values` to a list query; `false` when `values` is
/// empty, so the list is empty too (a store manager with no stores sees nothing).
pub(super) fn push_in<T>(qb: &mut sqlx::QueryBuilder<super::Db>, column: &str, values: &[T]) -> bool
where
    T: Clone + Send + for<'q> sqlx::Encode<'q, super::Db> + sqlx::Type<super::Db> + 'static,
{
    if values.is_empty() {
        return false;
    }
    qb.push(format_args!(" AND {column} IN ("));
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v.clone());
    }
    qb.push(")");
    true
}

/// The account columns, each name after `$t` (a table alias such as `"a."`) if given.
macro_rules! account_cols {
    () => {
        account_cols!("")
    };
    ($t:literal) => {
        concat!(
            $t, "id, ", $t, "holder_kind, ", $t, "holder_id, ", $t, "asset, ", $t, "policy, ", $t, "credit_limit, ", $t,
            "tracks_lots, ", $t, "debits_posted, ", $t, "credits_posted, ", $t, "debits_pending, ", $t, "credits_pending"
        )
    };
}

macro_rules! transfer_cols {
    () => {
        "id, debit_account_id, credit_account_id, asset, amount, kind, pending_id, timeout_at, \
         pending_state, posted_amount, lot_available_at, lot_expires_at, debit_lot, reverses, \
         reversed_amount, code, reference, at, recorded_at, fingerprint, store_id"
    };
}

macro_rules! lot_cols {
    () => {
        "id, account_id, amount, remaining, available_at, expires_at, created_at"
    };
}

/// The customer columns, each name after `$t` (a table alias such as `"cu."`) if given,
/// then the customer's purchase facts from `customer_facts` as `f` (none: no purchases,
/// no RFM group): a query selecting them joins [`with_facts!`] after `customers`.
macro_rules! customer_cols {
    () => {
        customer_cols!("")
    };
    ($t:literal) => {
        concat!(
            $t, "id, ", $t, "pii, ", $t, "profile, ", $t, "consents, ", $t, "opted_out_at, ", $t, "organisation_id, ", $t,
            "merged_into, ", $t, "erased_at, ", $t, "created_at, COALESCE(f.purchases, 0) AS purchases, COALESCE(f.spent, 0) AS spent, \
             f.first_purchase_at, f.last_purchase_at, f.rfm, f.rfm_score"
        )
    };
}

/// Joins each customer's purchase facts as `f` to `customers` (named `$t`, such as
/// `"cu"`, if given): the facts live in a narrow table of their own, so that the job
/// adding purchases rewrites small rows, not the customers'.
macro_rules! with_facts {
    () => {
        " LEFT JOIN customer_facts f ON f.customer_id = customers.id"
    };
    ($t:literal) => {
        concat!(" LEFT JOIN customer_facts f ON f.customer_id = ", $t, ".id")
    };
}

/// The card columns, each name after `$t` (a table alias such as `"cards."`) if given.
macro_rules! card_cols {
    () => {
        card_cols!("")
    };
    ($t:literal) => {
        concat!(
            $t, "number, ", $t, "series, ", $t, "kind, ", $t, "state, ", $t, "customer_id, ", $t, "account_id, ", $t, "pin_hash, ", $t,
            "locked_until, ", $t, "valid_until, ", $t, "single_use"
        )
    };
}

macro_rules! move_cols {
    () => {
        "transfer_id, ord, lot_id, amount, restored"
    };
}

/// A card's kind from its `kind` column.
pub(super) fn card_kind(r: &DbRow) -> Result<loyd_domain::program::CardKind, StoreError> {
    let kind: String = r.try_get("kind")?;
    loyd_domain::program::CardKind::from_name(&kind).ok_or_else(|| corrupt(format!("unknown card kind {kind}")))
}

/// A card's state from its `state` column.
pub(super) fn card_state(r: &DbRow) -> Result<loyd_domain::cards::CardState, StoreError> {
    let state: String = r.try_get("state")?;
    loyd_domain::cards::CardState::from_name(&state).ok_or_else(|| corrupt(format!("unknown card state {state}")))
}

/// A staff member's or API key's role from its `role` column; `unknown` says what a
/// role this server does not know (a newer version stored it) is.
pub(super) fn role(r: &DbRow, unknown: fn(&str) -> StoreError) -> Result<loyd_domain::access::Role, StoreError> {
    let role: String = r.try_get("role")?;
    loyd_domain::access::Role::parse(&role).ok_or_else(|| unknown(&role))
}

/// A stored role this server does not know, in a staff record: corrupt data.
pub(super) fn unknown_role(role: &str) -> StoreError {
    corrupt(format!("unknown role {role}"))
}

/// A stored role this server does not know, in a token's owner: the request is refused
/// rather than failed.
pub(super) fn refused_role(role: &str) -> StoreError {
    StoreError::Forbidden(format!("role '{role}' is not known to this server"))
}

pub(super) fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(from_micros)
}

fn parse<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, StoreError> {
    r.map_err(|e| corrupt(format!("stored {what} is invalid: {e}")))
}

pub(super) fn account(row: &DbRow) -> Result<Account, StoreError> {
    let kind: String = row.try_get("holder_kind")?;
    let policy: String = row.try_get("policy")?;
    let limit: i64 = row.try_get("credit_limit")?;
    let kind = HolderKind::from_name(&kind).ok_or_else(|| corrupt(format!("unknown holder kind {kind}")))?;
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        holder: parse(Holder::new(kind, row.try_get::<String, _>("holder_id")?), "holder id")?,
        asset: parse(AssetCode::parse(row.try_get::<String, _>("asset")?), "asset")?,
        policy: BalancePolicy::from_parts(&policy, limit).ok_or_else(|| corrupt(format!("unknown policy {policy}")))?,
        tracks_lots: row.try_get("tracks_lots")?,
        totals: Totals {
            debits_posted: row.try_get("debits_posted")?,
            credits_posted: row.try_get("credits_posted")?,
            debits_pending: row.try_get("debits_pending")?,
            credits_pending: row.try_get("credits_pending")?,
        },
    })
}

fn transfer_id(v: String) -> Result<TransferId, StoreError> {
    parse(TransferId::parse(v), "transfer id")
}

pub(super) fn transfer(row: &DbRow) -> Result<Transfer, StoreError> {
    let kind: String = row.try_get("kind")?;
    let pending_id: Option<String> = row.try_get("pending_id")?;
    let pending = || -> Result<TransferId, StoreError> {
        transfer_id(pending_id.clone().ok_or_else(|| corrupt("resolution without pending id".into()))?)
    };
    let kind = match kind.as_str() {
        "single" => TransferKind::Single,
        "pending" => TransferKind::Pending { timeout_at: ts(row.try_get("timeout_at")?) },
        "post" => TransferKind::Post { pending: pending()? },
        "void" => TransferKind::Void { pending: pending()? },
        "expire" => TransferKind::Expire { pending: pending()? },
        other => return Err(corrupt(format!("unknown transfer kind {other}"))),
    };
    let state: Option<String> = row.try_get("pending_state")?;
    let debit_lot: Option<String> = row.try_get("debit_lot")?;
    let reverses: Option<String> = row.try_get("reverses")?;
    Ok(Transfer {
        id: transfer_id(row.try_get("id")?)?,
        debit: AccountId(row.try_get("debit_account_id")?),
        credit: AccountId(row.try_get("credit_account_id")?),
        asset: parse(AssetCode::parse(row.try_get::<String, _>("asset")?), "asset")?,
        amount: row.try_get("amount")?,
        kind,
        lot: LotTerms { available_at: ts(row.try_get("lot_available_at")?), expires_at: ts(row.try_get("lot_expires_at")?) },
        debit_from: match debit_lot {
            Some(l) => DebitFrom::Lot(transfer_id(l)?),
            None => DebitFrom::Fifo,
        },
        reverses: reverses.map(transfer_id).transpose()?,
        code: parse(TransferCode::parse(row.try_get::<String, _>("code")?), "transfer code")?,
        reference: row.try_get("reference")?,
        at: from_micros(row.try_get("at")?),
        recorded_at: from_micros(row.try_get("recorded_at")?),
        fingerprint: row.try_get("fingerprint")?,
        pending_state: state
            .map(|s| PendingState::from_name(&s).ok_or_else(|| corrupt(format!("unknown pending state {s}"))))
            .transpose()?,
        posted_amount: row.try_get("posted_amount")?,
        reversed_amount: row.try_get("reversed_amount")?,
        store: row.try_get("store_id")?,
    })
}

/// Where a row keeps a lot's fields: under the lots table's own names, or prefixed
/// `lot_` when the lot is joined to its account's row.
struct LotColumns {
    amount: &'static str,
    remaining: &'static str,
    available_at: &'static str,
    expires_at: &'static str,
    created_at: &'static str,
}

const LOT: LotColumns =
    LotColumns { amount: "amount", remaining: "remaining", available_at: "available_at", expires_at: "expires_at", created_at: "created_at" };

const JOINED_LOT: LotColumns = LotColumns {
    amount: "lot_amount",
    remaining: "lot_remaining",
    available_at: "lot_available_at",
    expires_at: "lot_expires_at",
    created_at: "lot_created_at",
};

fn lot_in(row: &DbRow, id: String, account: AccountId, cols: &LotColumns) -> Result<Lot, StoreError> {
    Ok(Lot {
        id: transfer_id(id)?,
        account,
        amount: row.try_get(cols.amount)?,
        remaining: row.try_get(cols.remaining)?,
        terms: LotTerms { available_at: ts(row.try_get(cols.available_at)?), expires_at: ts(row.try_get(cols.expires_at)?) },
        created_at: from_micros(row.try_get(cols.created_at)?),
    })
}

pub(super) fn lot(row: &DbRow) -> Result<Lot, StoreError> {
    lot_in(row, row.try_get("id")?, AccountId(row.try_get("account_id")?), &LOT)
}

/// A lot joined to its account's row, its columns prefixed `lot_`; `None` when the
/// row carries no lot.
pub(super) fn joined_lot(row: &DbRow, account: AccountId) -> Result<Option<Lot>, StoreError> {
    row.try_get::<Option<String>, _>("lot_id")?.map(|id| lot_in(row, id, account, &JOINED_LOT)).transpose()
}

pub(super) fn lot_move(row: &DbRow) -> Result<LotMove, StoreError> {
    Ok(LotMove {
        transfer: transfer_id(row.try_get("transfer_id")?)?,
        ord: row.try_get("ord")?,
        lot: transfer_id(row.try_get("lot_id")?)?,
        amount: row.try_get("amount")?,
        restored: row.try_get("restored")?,
    })
}
