//! Personal data at rest on both backends: key rotation, sealing of plaintext left by
//! earlier versions, and the customer record's rules.

use std::sync::Arc;

use loyd_store::crypto::Keyring;
use loyd_store::{CrmFilter, CustomerFilter, NewCrmEntry, NewCustomer, Store, StoreOptions, SystemClock};
use loyd_testkit::{TestDb, both_backends};

const SECRET: &[u8] = b"loyd-development-secret-key-0000";

fn ring(lines: &[&str]) -> Keyring {
    Keyring::parse(&lines.join("\n"), SECRET).unwrap()
}

async fn open(db: &TestDb, keyring: Keyring) -> Store {
    let opts = StoreOptions { keyring: Some(keyring), ..StoreOptions::default() };
    Store::open(&db.url, opts, Arc::new(SystemClock)).await.unwrap()
}

fn key(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

both_backends! {
    async fn rotating_keys_reseals_everything_so_old_keys_can_be_retired(db: TestDb) {
        let k1 = format!("k1 {}", key(1));
        let k2 = format!("k2 {}", key(2));
        let store = open(&db, ring(&[&k1])).await;
        let new = NewCustomer { phone: Some("+37120000201".into()), name: Some("Līga Zariņa".into()), ..NewCustomer::default() };
        let c = store.create_customer(new, "test".into()).await.unwrap();
        let note = NewCrmEntry { customer: Some(c.id), organisation: None, kind: loyd_domain::crm::EntryKind::Note, channel: None, body: "VIP".into(), due_at: None, assignee: None };
        store.add_crm_entry(note, "test".into()).await.unwrap();
        store.close().await;

        let store = open(&db, ring(&[&k1, &k2])).await;
        assert_eq!(store.keys_in_use(vec!["k1".into(), "k2".into()]).await.unwrap(), ["k1"]);
        let mut seen = 0;
        let done = store.rotate_keys(|_| seen += 1).await.unwrap();
        assert_eq!((done.key.as_str(), done.customers, done.crm_entries), ("k2", 1, 1));
        assert!(done.audit_entries >= 2, "{done:?}");
        assert!(seen >= 2);
        assert!(store.keys_in_use(vec!["k1".into()]).await.unwrap().is_empty());
        assert_eq!(store.rotate_keys(|_| {}).await.unwrap().customers, 0, "a second rotation has nothing to do");
        store.close().await;

        // k1 retired: everything still opens.
        let store = open(&db, ring(&[&k2])).await;
        let found = store.customers(CustomerFilter { phone: Some("+37120000201".into()), limit: 10, ..CustomerFilter::default() }).await.unwrap();
        assert_eq!(found[0].name.as_deref(), Some("Līga Zariņa"));
        let notes = store.crm_entries(CrmFilter { customer: Some(c.id), limit: 10, ..CrmFilter::default() }).await.unwrap();
        assert_eq!(notes[0].body, "VIP");
        assert!(!store.audit_log(loyd_store::AuditFilter { limit: 10, ..Default::default() }).await.unwrap().is_empty());
    }

    async fn a_server_without_the_key_refuses_to_read_rather_than_showing_garbage(db: TestDb) {
        let store = open(&db, ring(&[&format!("k1 {}", key(1))])).await;
        let c = store.create_customer(NewCustomer { name: Some("Ilze".into()), ..NewCustomer::default() }, "test".into()).await.unwrap();
        store.close().await;
        assert!(c.id > 0);
        let opts = StoreOptions { keyring: Some(ring(&[&format!("k9 {}", key(9))])), ..StoreOptions::default() };
        let err = Store::open(&db.url, opts, Arc::new(SystemClock)).await.err().expect("a server with the wrong keyring does not start").to_string();
        assert!(err.contains("k1") && err.contains("keyring"), "{err}");
    }

    async fn plaintext_left_by_an_earlier_version_is_sealed_at_start(db: TestDb) {
        let store = db.store().await;
        store.close().await;
        db.execute_raw("INSERT INTO customers (phone, name, birth_date, created_at) VALUES ('+37120000301', 'Old Timer', '1970-01-02', 0)")
            .await
            .unwrap();
        db.execute_raw(
            "INSERT INTO receipts (store_id, terminal_id, receipt_id, customer_id, at, status, config_version, total, discount, redeemed_value, \
             gift_card_value, request_hash, response, effects, returned, recorded_at, request) VALUES ('s', 't', 'r1', 1, 0, 'committed', 0, 0, 0, 0, 0, \
             'h', '{}', '{}', '{}', 0, '{\"receipt_id\":\"r1\",\"customer\":{\"phone\":\"+37120000301\"},\"lines\":[]}')",
        )
        .await
        .unwrap();
        let store = db.store().await;
        let left = db.execute_raw("UPDATE customers SET profile = profile WHERE phone IS NOT NULL OR name IS NOT NULL OR birth_date IS NOT NULL").await.unwrap();
        assert_eq!(left, 0, "no plaintext column keeps a value");
        let phones = db.execute_raw("UPDATE receipts SET status = status WHERE request LIKE '%37120000301%'").await.unwrap();
        assert_eq!(phones, 0, "old receipts forget the phone they were identified by");
        let found = store.customers(CustomerFilter { phone: Some("+37120000301".into()), limit: 10, ..CustomerFilter::default() }).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name.as_deref(), Some("Old Timer"));
        assert_eq!(found[0].birth_date.map(|d| d.to_string()).as_deref(), Some("1970-01-02"));
        let by_name = store.customers(CustomerFilter { name: Some("timer".into()), limit: 10, ..CustomerFilter::default() }).await.unwrap();
        assert_eq!(by_name.len(), 1);
    }

    async fn phone_and_email_belong_to_one_customer_at_a_time(db: TestDb) {
        let store = db.store().await;
        let a = NewCustomer { phone: Some("+37120000401".into()), email: Some("a@x.lv".into()), ..NewCustomer::default() };
        store.create_customer(a, "t".into()).await.unwrap();
        let same_phone = NewCustomer { phone: Some("+371 2000 0401".into()), ..NewCustomer::default() };
        assert!(matches!(store.create_customer(same_phone, "t".into()).await, Err(loyd_store::StoreError::AlreadyExists { .. })));
        let same_email = NewCustomer { email: Some("A@X.LV".into()), ..NewCustomer::default() };
        assert!(matches!(store.create_customer(same_email, "t".into()).await, Err(loyd_store::StoreError::AlreadyExists { .. })));
    }
}
