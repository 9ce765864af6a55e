use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::ids::{AccountId, AssetCode, TransferCode, TransferId};

const WORLD: AccountId = AccountId(1);
const SINK: AccountId = AccountId(2);
const ALICE: AccountId = AccountId(10);
const BOB: AccountId = AccountId(11);
const CREDIT: AccountId = AccountId(20);
const PLAIN: AccountId = AccountId(21);

fn t0() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn days(n: i64) -> Timestamp {
    t0() + SignedDuration::from_hours(24 * n)
}

fn account(id: AccountId, policy: BalancePolicy, lots: bool) -> Account {
    Account {
        id,
        holder: Holder::new(HolderKind::Customer, id.0.to_string()).unwrap(),
        asset: AssetCode::parse("bonus").unwrap(),
        policy,
        tracks_lots: lots,
        totals: Totals::default(),
    }
}

fn ledger() -> LedgerState {
    let mut s = LedgerState::default();
    s.add_account(account(WORLD, BalancePolicy::Unbounded, false));
    s.add_account(account(SINK, BalancePolicy::Unbounded, false));
    s.add_account(account(ALICE, BalancePolicy::NonNegative, true));
    s.add_account(account(BOB, BalancePolicy::NonNegative, true));
    s.add_account(account(CREDIT, BalancePolicy::CreditLimit { limit: 100 }, false));
    s.add_account(account(PLAIN, BalancePolicy::NonNegative, false));
    s
}

fn id(s: &str) -> TransferId {
    TransferId::parse(s).unwrap()
}

fn tx(name: &str, debit: AccountId, credit: AccountId, amount: i64) -> NewTransfer {
    NewTransfer::single(id(name), debit, credit, amount, TransferCode::parse("test").unwrap())
}

fn earn(name: &str, to: AccountId, amount: i64, available_at: Option<Timestamp>, expires_at: Option<Timestamp>) -> NewTransfer {
    NewTransfer { lot: LotTerms { available_at, expires_at }, ..tx(name, WORLD, to, amount) }
}

fn apply(s: &mut LedgerState, batch: &[NewTransfer], now: Timestamp) -> Result<Vec<TransferOutcome>, TransferError> {
    s.apply_batch(batch, now).map_err(|e| e.error)
}

fn available(s: &LedgerState, a: AccountId, now: Timestamp) -> i64 {
    let acct = s.account(a).unwrap();
    acct.balance(s.lots().filter(|l| l.account == a), now).available
}

fn remaining(s: &LedgerState, lot: &str) -> i64 {
    s.lot(&id(lot)).unwrap().remaining
}

#[test]
fn a_non_negative_account_refuses_to_go_below_zero() {
    let mut s = ledger();
    apply(&mut s, &[tx("in", WORLD, PLAIN, 50)], t0()).unwrap();
    let err = apply(&mut s, &[tx("out", PLAIN, SINK, 51)], t0()).unwrap_err();
    assert_eq!(err, TransferError::InsufficientFunds { account: PLAIN, available: 50, requested: 51 });
    apply(&mut s, &[tx("out2", PLAIN, SINK, 50)], t0()).unwrap();
    assert_eq!(available(&s, PLAIN, t0()), 0);
}

#[test]
fn a_credit_account_goes_down_to_its_limit_and_no_further() {
    let mut s = ledger();
    apply(&mut s, &[tx("meal1", CREDIT, SINK, 60)], t0()).unwrap();
    apply(&mut s, &[tx("meal2", CREDIT, SINK, 40)], t0()).unwrap();
    let err = apply(&mut s, &[tx("meal3", CREDIT, SINK, 1)], t0()).unwrap_err();
    assert!(matches!(err, TransferError::InsufficientFunds { available: 0, requested: 1, .. }));
    assert_eq!(s.account(CREDIT).unwrap().posted(), -100);
}

#[test]
fn a_retry_with_the_same_content_returns_the_original_and_changes_nothing() {
    let mut s = ledger();
    let batch = [earn("e1", ALICE, 10, None, None)];
    let first = apply(&mut s, &batch, t0()).unwrap();
    let totals = s.account(ALICE).unwrap().totals;
    let again = apply(&mut s, &batch, days(1)).unwrap();
    assert!(matches!(&first[0], TransferOutcome::Created(_)));
    assert!(matches!(&again[0], TransferOutcome::Exists(t) if t == first[0].transfer()));
    assert_eq!(s.account(ALICE).unwrap().totals, totals);
}

#[test]
fn the_same_id_with_other_content_is_a_conflict() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, None)], t0()).unwrap();
    let err = apply(&mut s, &[earn("e1", ALICE, 11, None, None)], t0()).unwrap_err();
    assert_eq!(err, TransferError::IdConflict(id("e1")));
}

#[test]
fn a_batch_with_one_bad_transfer_names_it() {
    let mut s = ledger();
    let err = s.apply_batch(&[earn("ok", ALICE, 10, None, None), tx("bad", ALICE, SINK, 11)], t0()).unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.id, id("bad"));
}

#[test]
fn a_transfer_id_twice_in_one_batch_is_refused() {
    let mut s = ledger();
    let err = apply(&mut s, &[earn("x", ALICE, 1, None, None), earn("x", ALICE, 1, None, None)], t0()).unwrap_err();
    assert_eq!(err, TransferError::DuplicateIdInBatch(id("x")));
}

#[test]
fn accounts_of_different_assets_cannot_trade() {
    let mut s = ledger();
    let mut eur = account(AccountId(30), BalancePolicy::NonNegative, false);
    eur.asset = AssetCode::parse("EUR").unwrap();
    s.add_account(eur);
    assert!(matches!(
        apply(&mut s, &[tx("x", WORLD, AccountId(30), 1)], t0()),
        Err(TransferError::AssetMismatch { .. })
    ));
}

#[test]
fn delayed_points_are_not_spendable_until_they_activate() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 30, Some(days(14)), None)], t0()).unwrap();
    let bal = s.account(ALICE).unwrap().balance(s.lots(), days(1));
    assert_eq!((bal.available, bal.inactive, bal.posted), (0, 30, 30));
    assert!(matches!(apply(&mut s, &[tx("s1", ALICE, SINK, 1)], days(13)), Err(TransferError::InsufficientFunds { .. })));
    apply(&mut s, &[tx("s2", ALICE, SINK, 30)], days(14)).unwrap();
}

#[test]
fn debits_burn_the_earliest_expiring_lot_first() {
    let mut s = ledger();
    apply(
        &mut s,
        &[
            earn("never", ALICE, 10, None, None),
            earn("late", ALICE, 10, None, Some(days(300))),
            earn("soon", ALICE, 10, None, Some(days(30))),
        ],
        t0(),
    )
    .unwrap();
    apply(&mut s, &[tx("spend", ALICE, SINK, 15)], days(1)).unwrap();
    assert_eq!((remaining(&s, "soon"), remaining(&s, "late"), remaining(&s, "never")), (0, 5, 10));
}

#[test]
fn expired_lots_cannot_be_spent_and_are_burned_by_naming_them() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, Some(days(30)))], t0()).unwrap();
    let bal = s.account(ALICE).unwrap().balance(s.lots(), days(30));
    assert_eq!((bal.available, bal.expired), (0, 10));
    assert!(apply(&mut s, &[tx("late-spend", ALICE, SINK, 1)], days(30)).is_err());
    let burn = NewTransfer { debit_from: DebitFrom::Lot(id("e1")), ..tx("burn:e1", ALICE, SINK, 10) };
    apply(&mut s, &[burn], days(31)).unwrap();
    assert_eq!(remaining(&s, "e1"), 0);
    assert_eq!(s.account(ALICE).unwrap().posted(), 0);
}

#[test]
fn a_hold_reserves_the_balance_when_it_is_made() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 100, None, None)], t0()).unwrap();
    let hold = NewTransfer { kind: TransferKind::Pending { timeout_at: None }, ..tx("hold", ALICE, SINK, 80) };
    apply(&mut s, &[hold], t0()).unwrap();
    assert_eq!(available(&s, ALICE, t0()), 20);
    assert!(matches!(apply(&mut s, &[tx("s", ALICE, SINK, 21)], t0()), Err(TransferError::InsufficientFunds { .. })));
}

#[test]
fn a_partial_post_returns_the_rest_of_the_hold_to_its_lots() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 100, None, Some(days(90)))], t0()).unwrap();
    let hold = NewTransfer { kind: TransferKind::Pending { timeout_at: None }, ..tx("hold", ALICE, SINK, 80) };
    apply(&mut s, &[hold], t0()).unwrap();
    let post = NewTransfer { kind: TransferKind::Post { pending: id("hold") }, ..tx("post", ALICE, SINK, 30) };
    apply(&mut s, &[post], t0()).unwrap();
    assert_eq!(remaining(&s, "e1"), 70);
    let a = s.account(ALICE).unwrap();
    assert_eq!((a.totals.debits_posted, a.totals.debits_pending), (30, 0));
    assert_eq!(s.transfer(&id("hold")).unwrap().pending_state, Some(PendingState::Posted));
}

#[test]
fn a_hold_is_resolved_exactly_once() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 100, None, None)], t0()).unwrap();
    let hold = NewTransfer { kind: TransferKind::Pending { timeout_at: None }, ..tx("hold", ALICE, SINK, 50) };
    apply(&mut s, &[hold], t0()).unwrap();
    let void = NewTransfer { kind: TransferKind::Void { pending: id("hold") }, ..tx("void", ALICE, SINK, 50) };
    apply(&mut s, std::slice::from_ref(&void), t0()).unwrap();
    assert_eq!(available(&s, ALICE, t0()), 100);
    let post = NewTransfer { kind: TransferKind::Post { pending: id("hold") }, ..tx("post", ALICE, SINK, 50) };
    assert_eq!(apply(&mut s, &[post], t0()).unwrap_err(), TransferError::PendingAlreadyVoided(id("hold")));
    // The void itself retried is a faithful retry, not a second resolution.
    assert!(matches!(apply(&mut s, &[void], t0()).unwrap()[0], TransferOutcome::Exists(_)));
}

#[test]
fn a_hold_past_its_timeout_cannot_be_posted_and_only_then_expires() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 100, None, None)], t0()).unwrap();
    let hold =
        NewTransfer { kind: TransferKind::Pending { timeout_at: Some(days(1)) }, ..tx("hold", ALICE, SINK, 50) };
    apply(&mut s, &[hold], t0()).unwrap();
    let expire = NewTransfer { kind: TransferKind::Expire { pending: id("hold") }, ..tx("exp", ALICE, SINK, 50) };
    assert_eq!(apply(&mut s, std::slice::from_ref(&expire), t0()).unwrap_err(), TransferError::PendingNotYetExpired(id("hold")));
    let post = NewTransfer { kind: TransferKind::Post { pending: id("hold") }, ..tx("post", ALICE, SINK, 50) };
    assert_eq!(apply(&mut s, &[post], days(1)).unwrap_err(), TransferError::PendingExpired(id("hold")));
    apply(&mut s, &[expire], days(1)).unwrap();
    assert_eq!(s.transfer(&id("hold")).unwrap().pending_state, Some(PendingState::Expired));
    assert_eq!(available(&s, ALICE, days(1)), 100);
}

#[test]
fn reversing_a_redemption_restores_the_points_with_their_original_expiry() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, Some(days(30))), earn("e2", ALICE, 10, None, Some(days(60)))], t0())
        .unwrap();
    apply(&mut s, &[tx("spend", ALICE, SINK, 15)], t0()).unwrap();
    assert_eq!((remaining(&s, "e1"), remaining(&s, "e2")), (0, 5));
    let back = NewTransfer { reverses: Some(id("spend")), ..tx("back", SINK, ALICE, 7) };
    apply(&mut s, &[back], t0()).unwrap();
    // The last consumption (5 from e2) is restored first, then 2 to e1.
    assert_eq!((remaining(&s, "e1"), remaining(&s, "e2")), (2, 10));
}

#[test]
fn reversals_together_never_exceed_the_original() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, None)], t0()).unwrap();
    apply(&mut s, &[NewTransfer { reverses: Some(id("e1")), ..tx("r1", ALICE, WORLD, 6) }], t0()).unwrap();
    let err = apply(&mut s, &[NewTransfer { reverses: Some(id("e1")), ..tx("r2", ALICE, WORLD, 5) }], t0()).unwrap_err();
    assert_eq!(err, TransferError::ReversalExceedsOriginal { remaining: 4, requested: 5 });
    apply(&mut s, &[NewTransfer { reverses: Some(id("e1")), ..tx("r3", ALICE, WORLD, 4) }], t0()).unwrap();
    assert_eq!(s.account(ALICE).unwrap().posted(), 0);
}

#[test]
fn reversing_an_accrual_takes_back_its_own_points_first_even_before_they_activate() {
    let mut s = ledger();
    apply(&mut s, &[earn("old", ALICE, 10, None, Some(days(10))), earn("new", ALICE, 5, Some(days(14)), None)], t0())
        .unwrap();
    let back = NewTransfer { reverses: Some(id("new")), ..tx("ret", ALICE, WORLD, 5) };
    apply(&mut s, &[back], t0()).unwrap();
    assert_eq!((remaining(&s, "old"), remaining(&s, "new")), (10, 0));
}

#[test]
fn a_balancing_debit_takes_what_the_account_can_give_and_records_it() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, None)], t0()).unwrap();
    apply(&mut s, &[tx("spend", ALICE, SINK, 7)], t0()).unwrap();
    let back = NewTransfer { reverses: Some(id("e1")), balancing: true, ..tx("ret", ALICE, WORLD, 10) };
    let out = apply(&mut s, &[back], t0()).unwrap();
    assert_eq!(out[0].transfer().amount, 3);
    assert_eq!(s.transfer(&id("e1")).unwrap().reversed_amount, 3);
    assert_eq!(s.account(ALICE).unwrap().posted(), 0);
    // Nothing left: a balancing debit moves 0 and is still recorded.
    let again = NewTransfer { balancing: true, ..tx("empty", ALICE, SINK, 5) };
    assert_eq!(apply(&mut s, &[again], t0()).unwrap()[0].transfer().amount, 0);
    let held = NewTransfer { balancing: true, kind: TransferKind::Pending { timeout_at: None }, ..tx("h", ALICE, SINK, 1) };
    assert!(matches!(apply(&mut s, &[held], t0()), Err(TransferError::OptionNotAllowed(_))));
}

#[test]
fn a_reversal_must_swap_the_original_accounts() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, None)], t0()).unwrap();
    let wrong = NewTransfer { reverses: Some(id("e1")), ..tx("r", ALICE, SINK, 1) };
    assert_eq!(apply(&mut s, &[wrong], t0()).unwrap_err(), TransferError::ReversalAccountsMismatch);
}

#[test]
fn lot_dates_on_an_account_without_lots_are_refused() {
    let mut s = ledger();
    let err = apply(&mut s, &[earn("x", PLAIN, 1, None, Some(days(1)))], t0()).unwrap_err();
    assert_eq!(err, TransferError::LotTermsOnPlainAccount(PLAIN));
    let err = apply(&mut s, &[earn("y", ALICE, 1, Some(days(2)), Some(days(1)))], t0()).unwrap_err();
    assert_eq!(err, TransferError::InvalidLotTerms);
}

#[test]
fn changes_list_new_and_updated_rows_separately() {
    let mut s = ledger();
    apply(&mut s, &[earn("e1", ALICE, 10, None, None)], t0()).unwrap();
    // A fresh state as storage would load it for the next batch.
    let mut next = ledger();
    next.add_account(s.account(ALICE).unwrap().clone());
    next.add_lot(s.lot(&id("e1")).unwrap().clone());
    apply(&mut next, &[tx("spend", ALICE, SINK, 4)], t0()).unwrap();
    let c = next.changes();
    assert_eq!(c.accounts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![ALICE], "unbounded SINK is not stored");
    assert_eq!(c.new_transfers.len(), 1);
    assert_eq!(c.updated_lots.len(), 1);
    assert_eq!(c.updated_lots[0].remaining, 6);
    assert_eq!(c.new_moves.len(), 1);
    assert!(c.new_lots.is_empty());
}

// ---- properties -------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Earn { to: usize, amount: i64, delay: i64, life: Option<i64> },
    Spend { from: usize, amount: i64, hold: bool },
    Resolve { which: usize, post: Option<i64> },
    Reverse { which: usize, amount: i64, balancing: bool },
    Burn { which: usize },
    Advance { days: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..4, 1i64..200, 0i64..3, proptest::option::of(1i64..10))
            .prop_map(|(to, amount, delay, life)| Op::Earn { to, amount, delay, life }),
        (0usize..4, 1i64..200, any::<bool>()).prop_map(|(from, amount, hold)| Op::Spend { from, amount, hold }),
        (any::<usize>(), proptest::option::of(1i64..200)).prop_map(|(which, post)| Op::Resolve { which, post }),
        (any::<usize>(), 1i64..200, any::<bool>()).prop_map(|(which, amount, balancing)| Op::Reverse { which, amount, balancing }),
        any::<usize>().prop_map(|which| Op::Burn { which }),
        (0i64..5).prop_map(|days| Op::Advance { days }),
    ]
}

const HOLDERS: [AccountId; 4] = [ALICE, BOB, CREDIT, PLAIN];

fn check_invariants(s: &LedgerState) -> Result<(), TestCaseError> {
    let mut sums: BTreeMap<&AssetCode, i128> = BTreeMap::new();
    for a in s.accounts() {
        *sums.entry(&a.asset).or_default() += a.posted();
        if let Some(headroom) = a.debit_headroom() {
            prop_assert!(headroom >= 0, "account {} past its limit: {:?}", a.id, a.totals);
        }
        if a.tracks_lots {
            let in_lots: i64 = s.lots().filter(|l| l.account == a.id).map(|l| l.remaining).sum();
            let t = a.totals;
            prop_assert_eq!(in_lots, t.credits_posted - t.debits_posted - t.debits_pending, "lots of {}", a.id);
        }
    }
    for l in s.lots() {
        prop_assert!(l.remaining >= 0 && l.remaining <= l.amount, "lot {} out of bounds", l.id);
    }
    for (asset, sum) in sums {
        prop_assert_eq!(sum, 0, "asset {} does not sum to zero", asset);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever sequence of accruals, spends, holds, resolutions, reversals and burns is
    /// attempted, every asset sums to zero, no account passes its limit, lots account
    /// for every unit, and replaying an applied batch changes nothing.
    #[test]
    fn ledger_invariants_hold_for_any_sequence_of_operations(ops in proptest::collection::vec(op(), 1..60)) {
        let mut s = ledger();
        let mut now = t0();
        let mut made: Vec<NewTransfer> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let name = format!("t{n}");
            let pick = |which: usize, f: &dyn Fn(&NewTransfer) -> bool| {
                let c: Vec<&NewTransfer> = made.iter().filter(|t| f(t)).collect();
                if c.is_empty() { None } else { Some(c[which % c.len()].clone()) }
            };
            let t = match op {
                Op::Advance { days } => { now += SignedDuration::from_hours(24 * days); continue; }
                Op::Earn { to, amount, delay, life } => {
                    let to = HOLDERS[to];
                    let lots = s.account(to).unwrap().tracks_lots;
                    let terms = if lots {
                        LotTerms {
                            available_at: (delay > 0).then(|| now + SignedDuration::from_hours(24 * delay)),
                            expires_at: life.map(|l| now + SignedDuration::from_hours(24 * (delay + l))),
                        }
                    } else { LotTerms::default() };
                    NewTransfer { lot: terms, ..tx(&name, WORLD, to, amount) }
                }
                Op::Spend { from, amount, hold } => {
                    let kind = if hold { TransferKind::Pending { timeout_at: Some(now + SignedDuration::from_hours(48)) } } else { TransferKind::Single };
                    NewTransfer { kind, ..tx(&name, HOLDERS[from], SINK, amount) }
                }
                Op::Resolve { which, post } => {
                    let Some(p) = pick(which, &|t| matches!(t.kind, TransferKind::Pending { .. })) else { continue };
                    let timed_out = matches!(p.kind, TransferKind::Pending { timeout_at: Some(d) } if d <= now);
                    let kind = match (timed_out, post) {
                        (true, _) => TransferKind::Expire { pending: p.id.clone() },
                        (false, Some(_)) => TransferKind::Post { pending: p.id.clone() },
                        (false, None) => TransferKind::Void { pending: p.id.clone() },
                    };
                    let amount = match kind { TransferKind::Post { .. } => post.unwrap().min(p.amount), _ => p.amount };
                    NewTransfer { kind, ..tx(&name, p.debit, p.credit, amount) }
                }
                Op::Reverse { which, amount, balancing } => {
                    let Some(o) = pick(which, &|t| t.kind == TransferKind::Single && t.reverses.is_none()) else { continue };
                    NewTransfer { reverses: Some(o.id.clone()), balancing, ..tx(&name, o.credit, o.debit, amount) }
                }
                Op::Burn { which } => {
                    let Some(l) = s.lots().filter(|l| l.remaining > 0).nth(which % 8).cloned() else { continue };
                    NewTransfer { debit_from: DebitFrom::Lot(l.id.clone()), ..tx(&name, l.account, SINK, l.remaining) }
                }
            };
            let before = s.clone();
            match s.apply_batch(std::slice::from_ref(&t), now) {
                Ok(_) => made.push(t.clone()),
                Err(_) => s = before,
            }
            check_invariants(&s)?;
            // Replay of the whole history is a no-op.
            if n % 10 == 0 && !made.is_empty() {
                let snapshot: Vec<_> = s.accounts().cloned().collect();
                for old in &made {
                    let out = s.apply_batch(std::slice::from_ref(old), now + SignedDuration::from_hours(1)).unwrap();
                    prop_assert!(matches!(out[0], TransferOutcome::Exists(_)));
                }
                prop_assert_eq!(snapshot, s.accounts().cloned().collect::<Vec<_>>());
            }
        }
    }
}
