//! The ledger's guarantees, checked against real databases: every test runs on SQLite
//! and on PostgreSQL.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use loyd_domain::config::{ConfigDocument, CurrencyKind, CurrencySpec};
use loyd_domain::ids::{AccountId, AssetCode, TransferCode, TransferId};
use loyd_domain::ledger::{
    AccountSpec, BalancePolicy, DebitFrom, Holder, HolderKind, LotTerms, NewTransfer, PendingState, TransferError,
    TransferKind, TransferOutcome,
};
use loyd_domain::money::Scale;
use loyd_store::{ManualClock, Store, StoreError};
use loyd_testkit::both_backends;

fn asset() -> AssetCode {
    AssetCode::parse("bonus").unwrap()
}

fn id(s: &str) -> TransferId {
    TransferId::parse(s).unwrap()
}

fn code() -> TransferCode {
    TransferCode::parse("test").unwrap()
}

async fn with_currency(store: &Store) {
    let doc = ConfigDocument {
        currencies: vec![CurrencySpec::new(asset(), CurrencyKind::Points, Scale::ZERO)],
        ..ConfigDocument::default()
    };
    store.apply_config(doc, "test".into(), false).await.unwrap();
}

struct Accounts {
    world: AccountId,
    sink: AccountId,
    alice: AccountId,
}

async fn setup(store: &Store) -> Accounts {
    with_currency(store).await;
    let open = |kind, name: &str, policy, lots| AccountSpec {
        holder: Holder::new(kind, name).unwrap(),
        asset: asset(),
        policy,
        tracks_lots: lots,
    };
    let world = store.open_account(open(HolderKind::System, "issuance", BalancePolicy::Unbounded, false)).await.unwrap();
    let sink = store.open_account(open(HolderKind::System, "redemption", BalancePolicy::Unbounded, false)).await.unwrap();
    let alice = store.open_account(open(HolderKind::Customer, "alice", BalancePolicy::NonNegative, true)).await.unwrap();
    Accounts { world: world.id, sink: sink.id, alice: alice.id }
}

fn tx(name: &str, debit: AccountId, credit: AccountId, amount: i64) -> NewTransfer {
    NewTransfer::single(id(name), debit, credit, amount, code())
}

async fn available(store: &Store, account: AccountId) -> i64 {
    store.balance(account).await.unwrap().1.available
}

async fn assert_sound(store: &Store) {
    let audit = store.ledger_audit().await.unwrap();
    assert!(audit.is_sound(), "ledger audit failed: {audit:?}");
}

fn refusal(e: StoreError) -> TransferError {
    match e {
        StoreError::Ledger(b) => b.error,
        other => panic!("expected a ledger refusal, got {other:?}"),
    }
}

fn t0() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

both_backends! {
    async fn opening_a_store_twice_runs_migrations_once(db: TestDb) {
        let first = db.store().await;
        with_currency(&first).await;
        let second = db.store().await;
        assert_eq!(second.config_snapshot().await.unwrap().currencies.len(), 1);
        assert_eq!(second.backend_name(), db.backend());
    }

    async fn opening_the_same_account_twice_returns_it_and_a_different_policy_is_refused(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let again = store
            .open_account(AccountSpec {
                holder: Holder::new(HolderKind::Customer, "alice").unwrap(),
                asset: asset(),
                policy: BalancePolicy::NonNegative,
                tracks_lots: true,
            })
            .await
            .unwrap();
        assert_eq!(again.id, a.alice);
        let other = store
            .open_account(AccountSpec {
                holder: Holder::new(HolderKind::Customer, "alice").unwrap(),
                asset: asset(),
                policy: BalancePolicy::CreditLimit { limit: 10 },
                tracks_lots: false,
            })
            .await;
        assert!(matches!(other, Err(StoreError::AlreadyExists { .. })));
        let unknown = store
            .open_account(AccountSpec {
                holder: Holder::new(HolderKind::Customer, "bob").unwrap(),
                asset: AssetCode::parse("nope").unwrap(),
                policy: BalancePolicy::NonNegative,
                tracks_lots: false,
            })
            .await;
        assert!(matches!(unknown, Err(StoreError::NotFound { what: "currency", .. })));
    }

    async fn value_moves_and_balances_follow(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("earn", a.world, a.alice, 100)]).await.unwrap();
        store.create_transfers(vec![tx("spend", a.alice, a.sink, 30)]).await.unwrap();
        let (account, balance) = store.balance(a.alice).await.unwrap();
        assert_eq!((balance.posted, balance.available), (70, 70));
        assert_eq!((account.totals.credits_posted, account.totals.debits_posted), (100, 30));
        // The unbounded accounts' balances are derived from their transfers.
        assert_eq!(store.balance(a.world).await.unwrap().1.posted, -100);
        assert_eq!(store.balance(a.sink).await.unwrap().1.posted, 30);
        let page = store.account_transfers(a.alice, None, 10).await.unwrap();
        assert_eq!(page.iter().map(|(_, t)| t.id.as_str()).collect::<Vec<_>>(), vec!["earn", "spend"]);
        let next = store.account_transfers(a.alice, Some(page[0].0), 10).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_sound(&store).await;
    }

    async fn a_batch_of_thousands_of_transfers_is_written_whole_past_the_bind_parameter_limit(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        // 3 000 accruals are 60 000 transfer parameters plus 21 000 lot parameters: more
        // than one PostgreSQL statement may bind (65 535), so the writes go in several,
        // in one transaction.
        let earn: Vec<_> = (0..3000).map(|i| tx(&format!("earn-{i}"), a.world, a.alice, 1)).collect();
        store.create_transfers(earn).await.unwrap();
        assert_eq!(available(&store, a.alice).await, 3000);
        // Spending 2 500 points consumes 2 500 lots: as many lot updates and moves.
        store.create_transfers(vec![tx("spend", a.alice, a.sink, 2500)]).await.unwrap();
        assert_eq!(available(&store, a.alice).await, 500);
        let refused = store.create_transfers(vec![tx("too-much", a.alice, a.sink, 501)]).await.unwrap_err();
        assert!(matches!(refusal(refused), TransferError::InsufficientFunds { requested: 501, .. }));
        assert_sound(&store).await;
    }

    async fn a_replayed_batch_returns_the_originals_and_changes_nothing(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let batch = vec![tx("earn", a.world, a.alice, 100), tx("spend", a.alice, a.sink, 40)];
        let first = store.create_transfers(batch.clone()).await.unwrap();
        let again = store.create_transfers(batch).await.unwrap();
        assert!(first.iter().all(|o| matches!(o, TransferOutcome::Created(_))));
        assert!(again.iter().all(|o| matches!(o, TransferOutcome::Exists(_))));
        assert_eq!(first[1].transfer(), again[1].transfer());
        assert_eq!(available(&store, a.alice).await, 60);
        let conflict = store.create_transfers(vec![tx("spend", a.alice, a.sink, 41)]).await.unwrap_err();
        assert_eq!(refusal(conflict), TransferError::IdConflict(id("spend")));
        assert_sound(&store).await;
    }

    async fn a_batch_with_a_refused_transfer_applies_nothing(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let err = store
            .create_transfers(vec![tx("earn", a.world, a.alice, 10), tx("too-much", a.alice, a.sink, 11)])
            .await
            .unwrap_err();
        assert!(matches!(refusal(err), TransferError::InsufficientFunds { requested: 11, .. }));
        assert_eq!(store.balance(a.alice).await.unwrap().1.posted, 0);
        assert!(store.transfer(&id("earn")).await.unwrap().is_none());
        assert_sound(&store).await;
    }

    async fn fifty_concurrent_spends_of_ten_from_a_hundred_succeed_exactly_ten_times(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("earn", a.world, a.alice, 100)]).await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.create_transfers(vec![tx(&format!("spend-{n}"), a.alice, a.sink, 10)]).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert!(matches!(refusal(e), TransferError::InsufficientFunds { .. })),
            }
        }
        assert_eq!(ok, 10);
        let balance = store.balance(a.alice).await.unwrap().1;
        assert_eq!((balance.posted, balance.available), (0, 0));
        assert_sound(&store).await;
    }

    async fn the_same_transfer_sent_concurrently_is_recorded_once(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.create_transfers(vec![tx("earn", a.world, a.alice, 25)]).await }));
        }
        let mut created = 0;
        for t in tasks {
            if matches!(t.await.unwrap().unwrap()[0], TransferOutcome::Created(_)) {
                created += 1;
            }
        }
        assert_eq!(created, 1);
        assert_eq!(available(&store, a.alice).await, 25);
        assert_sound(&store).await;
    }

    async fn a_hold_is_posted_partly_and_the_rest_returns(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("earn", a.world, a.alice, 100)]).await.unwrap();
        let hold = NewTransfer { kind: TransferKind::Pending { timeout_at: None }, ..tx("hold", a.alice, a.sink, 60) };
        store.create_transfers(vec![hold]).await.unwrap();
        let b = store.balance(a.alice).await.unwrap().1;
        assert_eq!((b.posted, b.pending_debits, b.available), (100, 60, 40));
        let post = NewTransfer { kind: TransferKind::Post { pending: id("hold") }, ..tx("post", a.alice, a.sink, 25) };
        store.create_transfers(vec![post]).await.unwrap();
        let b = store.balance(a.alice).await.unwrap().1;
        assert_eq!((b.posted, b.pending_debits, b.available), (75, 0, 75));
        let again = NewTransfer { kind: TransferKind::Void { pending: id("hold") }, ..tx("void", a.alice, a.sink, 60) };
        assert_eq!(refusal(store.create_transfers(vec![again]).await.unwrap_err()), TransferError::PendingAlreadyPosted(id("hold")));
        assert_eq!(store.transfer(&id("hold")).await.unwrap().unwrap().pending_state, Some(PendingState::Posted));
        assert_sound(&store).await;
    }

    async fn the_expiry_job_releases_holds_past_their_timeout(db: TestDb) {
        let clock = Arc::new(ManualClock::new(t0()));
        let store = db.store_with_clock(clock.clone()).await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("earn", a.world, a.alice, 100)]).await.unwrap();
        let hold = NewTransfer {
            kind: TransferKind::Pending { timeout_at: Some(t0() + SignedDuration::from_mins(15)) },
            ..tx("hold", a.alice, a.sink, 70)
        };
        store.create_transfers(vec![hold]).await.unwrap();
        assert_eq!(store.expire_holds(100).await.unwrap(), 0);
        clock.advance(SignedDuration::from_mins(15));
        assert_eq!(store.expire_holds(100).await.unwrap(), 1);
        assert_eq!(store.expire_holds(100).await.unwrap(), 0, "a hold expires once");
        assert_eq!(store.transfer(&id("hold")).await.unwrap().unwrap().pending_state, Some(PendingState::Expired));
        assert_eq!(available(&store, a.alice).await, 100);
        assert_sound(&store).await;
    }

    async fn delayed_points_wait_and_expired_points_burn(db: TestDb) {
        let clock = Arc::new(ManualClock::new(t0()));
        let store = db.store_with_clock(clock.clone()).await;
        let a = setup(&store).await;
        let day = SignedDuration::from_hours(24);
        let earn = |name: &str, amount, available_at, expires_at| NewTransfer {
            lot: LotTerms { available_at, expires_at },
            ..tx(name, a.world, a.alice, amount)
        };
        store
            .create_transfers(vec![
                earn("soon", 10, None, Some(t0() + day * 30)),
                earn("late", 10, None, Some(t0() + day * 365)),
                earn("delayed", 5, Some(t0() + day * 14), None),
            ])
            .await
            .unwrap();
        let b = store.balance(a.alice).await.unwrap().1;
        assert_eq!((b.available, b.inactive), (20, 5));
        store.create_transfers(vec![tx("spend", a.alice, a.sink, 4)]).await.unwrap();
        clock.advance(day * 30);
        let b = store.balance(a.alice).await.unwrap().1;
        // "soon" expired with 6 left (4 were spent from it, earliest expiry first).
        assert_eq!((b.available, b.expired, b.inactive), (15, 6, 0));
        assert_eq!(store.burn_expired_lots(100).await.unwrap(), 1);
        assert_eq!(store.burn_expired_lots(100).await.unwrap(), 0, "a lot burns once");
        let b = store.balance(a.alice).await.unwrap().1;
        assert_eq!((b.posted, b.available, b.expired), (15, 15, 0));
        assert_sound(&store).await;
    }

    async fn returning_a_redemption_puts_points_back_into_their_lots(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("earn", a.world, a.alice, 50), tx("spend", a.alice, a.sink, 50)]).await.unwrap();
        let back = |name: &str, amount| NewTransfer { reverses: Some(id("spend")), ..tx(name, a.sink, a.alice, amount) };
        store.create_transfers(vec![back("ret-1", 20)]).await.unwrap();
        store.create_transfers(vec![back("ret-2", 30)]).await.unwrap();
        let err = store.create_transfers(vec![back("ret-3", 1)]).await.unwrap_err();
        assert_eq!(refusal(err), TransferError::ReversalExceedsOriginal { remaining: 0, requested: 1 });
        assert_eq!(available(&store, a.alice).await, 50);
        assert_sound(&store).await;
    }

    async fn a_credit_account_stops_at_its_limit(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let credit = store
            .open_account(AccountSpec {
                holder: Holder::new(HolderKind::Card, "meals-7").unwrap(),
                asset: asset(),
                policy: BalancePolicy::CreditLimit { limit: 100 },
                tracks_lots: false,
            })
            .await
            .unwrap();
        store.create_transfers(vec![tx("meal-1", credit.id, a.sink, 100)]).await.unwrap();
        let err = store.create_transfers(vec![tx("meal-2", credit.id, a.sink, 1)]).await.unwrap_err();
        assert!(matches!(refusal(err), TransferError::InsufficientFunds { available: 0, .. }));
        assert_eq!(store.balance(credit.id).await.unwrap().1.posted, -100);
        store.set_credit_limit(credit.id, 150).await.unwrap();
        store.create_transfers(vec![tx("meal-2", credit.id, a.sink, 50)]).await.unwrap();
        assert_sound(&store).await;
    }

    async fn many_concurrent_mixed_operations_leave_a_sound_ledger(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        let mut customers = vec![a.alice];
        for n in 0..3 {
            let c = store
                .open_account(AccountSpec {
                    holder: Holder::new(HolderKind::Customer, format!("c{n}")).unwrap(),
                    asset: asset(),
                    policy: BalancePolicy::NonNegative,
                    tracks_lots: true,
                })
                .await
                .unwrap();
            customers.push(c.id);
        }
        let customers = Arc::new(customers);
        let mut tasks = Vec::new();
        for worker in 0..8u64 {
            let (store, customers) = (store.clone(), customers.clone());
            tasks.push(tokio::spawn(async move {
                // A small deterministic generator per worker: no randomness in CI.
                let mut x = worker * 7919 + 1;
                let mut next = move |m: u64| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (x >> 33) % m
                };
                for i in 0..40 {
                    let c = customers[next(4) as usize];
                    let other = customers[next(4) as usize];
                    let name = format!("w{worker}-{i}");
                    let batch = match next(4) {
                        0 => vec![tx(&name, a.world, c, 1 + next(50) as i64)],
                        1 => vec![tx(&name, c, a.sink, 1 + next(30) as i64)],
                        2 if c != other => vec![tx(&name, c, other, 1 + next(20) as i64)],
                        _ => vec![
                            tx(&format!("{name}-a"), a.world, c, 5),
                            tx(&format!("{name}-b"), c, a.sink, 1 + next(10) as i64),
                        ],
                    };
                    match store.create_transfers(batch).await {
                        Ok(_) | Err(StoreError::Ledger(_)) => {}
                        Err(e) => panic!("unexpected failure: {e}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_sound(&store).await;
    }

    async fn a_debit_from_a_named_lot_takes_only_from_it(db: TestDb) {
        let store = db.store().await;
        let a = setup(&store).await;
        store.create_transfers(vec![tx("e1", a.world, a.alice, 10), tx("e2", a.world, a.alice, 10)]).await.unwrap();
        let burn = NewTransfer { debit_from: DebitFrom::Lot(id("e2")), ..tx("burn", a.alice, a.sink, 10) };
        store.create_transfers(vec![burn]).await.unwrap();
        let too_much = NewTransfer { debit_from: DebitFrom::Lot(id("e1")), ..tx("burn2", a.alice, a.sink, 11) };
        assert!(matches!(
            refusal(store.create_transfers(vec![too_much]).await.unwrap_err()),
            TransferError::InsufficientFunds { available: 10, .. }
        ));
        assert_sound(&store).await;
    }
}
