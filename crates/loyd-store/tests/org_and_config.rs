//! Stores, terminals and configuration as code, on both backends.

use loyd_domain::config::{Action, ConfigDocument, CurrencyKind, CurrencySpec};
use loyd_domain::ids::{AssetCode, StoreCode, TerminalCode};
use loyd_domain::money::Scale;
use loyd_domain::org::{StoreSpec, TimeZoneName, terminal_key_hash};
use loyd_store::StoreError;
use loyd_testkit::both_backends;

fn store_spec(id: &str, name: &str) -> StoreSpec {
    StoreSpec {
        id: StoreCode::parse(id).unwrap(),
        name: name.into(),
        format: Some(StoreCode::parse("supermarket").unwrap()),
        timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        currency: AssetCode::parse("EUR").unwrap(),
        partner: None,
        offline_days: None,
        address: None,
        hours: None,
    }
}

fn eur() -> CurrencySpec {
    CurrencySpec { name: Some("Euro".into()), ..CurrencySpec::new(AssetCode::parse("EUR").unwrap(), CurrencyKind::Money, Scale::CENTS) }
}

fn doc(stores: Vec<StoreSpec>, scale: u8) -> ConfigDocument {
    ConfigDocument {
        currencies: vec![CurrencySpec { scale: Scale::new(scale).unwrap(), ..eur() }],
        stores,
        ..ConfigDocument::default()
    }
}

both_backends! {
    async fn a_store_without_its_currency_defined_is_refused_with_the_reason(db: TestDb) {
        let store = db.store().await;
        let err = store.create_store(store_spec("riga-01", "Riga"), None).await.unwrap_err();
        assert!(matches!(err, StoreError::Config(ref e) if e[0].path == "stores[0].currency"), "{err:?}");
    }

    async fn a_store_is_created_once_and_read_back(db: TestDb) {
        let store = db.store().await;
        store.create_store(store_spec("riga-01", "Riga Centre"), Some(eur())).await.unwrap();
        let again = store.create_store(store_spec("riga-01", "Other"), Some(eur())).await;
        assert!(matches!(again, Err(StoreError::AlreadyExists { what: "store", .. })));
        let read = store.store(&StoreCode::parse("riga-01").unwrap()).await.unwrap().unwrap();
        assert_eq!(read, store_spec("riga-01", "Riga Centre"));
        assert_eq!(store.stores().await.unwrap().len(), 1);
    }

    async fn a_terminal_is_found_by_its_key_hash_only_while_the_key_is_current(db: TestDb) {
        let store = db.store().await;
        let (s, t) = (StoreCode::parse("riga-01").unwrap(), TerminalCode::parse("pos-1").unwrap());
        let unknown_store = store.create_terminal(s.clone(), t.clone(), terminal_key_hash("k1")).await;
        assert!(matches!(unknown_store, Err(StoreError::NotFound { what: "store", .. })));
        store.create_store(store_spec("riga-01", "Riga"), Some(eur())).await.unwrap();
        store.create_terminal(s.clone(), t.clone(), terminal_key_hash("k1")).await.unwrap();
        let twice = store.create_terminal(s.clone(), t.clone(), terminal_key_hash("k2")).await;
        assert!(matches!(twice, Err(StoreError::AlreadyExists { what: "terminal", .. })));
        let found = store.terminal_by_key_hash(&terminal_key_hash("k1")).await.unwrap().unwrap();
        let (terminal, st) = (found.terminal, found.store);
        assert_eq!((terminal.store.as_str(), terminal.id.as_str(), st.timezone.as_str()), ("riga-01", "pos-1", "Europe/Riga"));
        store.rotate_terminal_key(s, t, terminal_key_hash("k3")).await.unwrap();
        assert!(store.terminal_by_key_hash(&terminal_key_hash("k1")).await.unwrap().is_none());
        assert!(store.terminal_by_key_hash(&terminal_key_hash("k3")).await.unwrap().is_some());
    }

    async fn a_key_rotated_on_another_server_stops_working_here_within_the_key_lifetime(db: TestDb) {
        let clock = std::sync::Arc::new(loyd_store::ManualClock::new("2026-03-01T10:00:00Z".parse().unwrap()));
        let (here, elsewhere) = (db.store_with_clock(clock.clone()).await, db.store_with_clock(clock.clone()).await);
        let (s, t) = (StoreCode::parse("riga-01").unwrap(), TerminalCode::parse("pos-1").unwrap());
        here.create_store(store_spec("riga-01", "Riga"), Some(eur())).await.unwrap();
        here.create_terminal(s.clone(), t.clone(), terminal_key_hash("old")).await.unwrap();
        assert!(here.terminal_by_key_hash(&terminal_key_hash("old")).await.unwrap().is_some());
        assert!(elsewhere.terminal_by_key_hash(&terminal_key_hash("old")).await.unwrap().is_some());

        elsewhere.rotate_terminal_key(s, t, terminal_key_hash("new")).await.unwrap();
        // The server that rotated it refuses the old key at once, and knows the new one.
        assert!(elsewhere.terminal_by_key_hash(&terminal_key_hash("old")).await.unwrap().is_none());
        assert!(here.terminal_by_key_hash(&terminal_key_hash("new")).await.unwrap().is_some());
        // The other still trusts what it looked up, for less than the lifetime…
        clock.advance(loyd_store::TERMINAL_KEY_TTL - jiff::SignedDuration::from_millis(1));
        assert!(here.terminal_by_key_hash(&terminal_key_hash("old")).await.unwrap().is_some());
        // …and asks the database again after it.
        clock.advance(jiff::SignedDuration::from_millis(1));
        assert!(here.terminal_by_key_hash(&terminal_key_hash("old")).await.unwrap().is_none());
    }

    async fn applying_the_same_document_twice_changes_nothing_the_second_time(db: TestDb) {
        let store = db.store().await;
        let d = doc(vec![store_spec("a", "A")], 2);
        let first = store.apply_config(d.clone(), "file.toml".into(), false).await.unwrap();
        assert_eq!(first.version, Some(1));
        assert_eq!(first.steps.len(), 2);
        let second = store.apply_config(d, "file.toml".into(), false).await.unwrap();
        assert_eq!(second.version, None);
        assert!(second.steps.is_empty());
        assert_eq!(store.config_version().await.unwrap(), Some(1));
    }

    async fn a_changed_document_is_planned_by_dry_run_and_applied_as_a_new_version(db: TestDb) {
        let store = db.store().await;
        store.apply_config(doc(vec![store_spec("a", "A")], 2), "v1".into(), false).await.unwrap();
        let changed = doc(vec![store_spec("a", "A renamed"), store_spec("b", "B")], 2);
        let plan = store.apply_config(changed.clone(), "v2".into(), true).await.unwrap();
        assert_eq!(plan.version, None);
        assert_eq!((plan.steps[0].action, plan.steps[0].object, plan.steps[0].id.as_str()), (Action::Update, "store", "a"));
        assert_eq!((plan.steps[1].action, plan.steps[1].object, plan.steps[1].id.as_str()), (Action::Create, "store", "b"));
        assert_eq!(store.stores().await.unwrap().len(), 1, "a dry run writes nothing");
        let applied = store.apply_config(changed, "v2".into(), false).await.unwrap();
        assert_eq!(applied.version, Some(2));
        assert_eq!(store.stores().await.unwrap()[0].name, "A renamed");
    }

    async fn a_currency_scale_change_is_refused_with_nothing_applied(db: TestDb) {
        let store = db.store().await;
        store.apply_config(doc(vec![], 2), "v1".into(), false).await.unwrap();
        let err = store.apply_config(doc(vec![store_spec("a", "A")], 3), "v2".into(), false).await.unwrap_err();
        assert!(matches!(err, StoreError::Config(ref e) if e[0].path == "currencies[0]"), "{err:?}");
        assert!(store.stores().await.unwrap().is_empty());
        assert_eq!(store.config_version().await.unwrap(), Some(1));
    }
}
