//! A mailing of 10 000 e-mails through a real SMTP server, the server killed with
//! SIGKILL in the middle of it and started again: every customer receives it, and
//! none twice beyond the documented bound (the deliveries one pass had claimed and
//! sent but not yet recorded: at most 32), a repeat with the same Message-ID. Real
//! processes, real databases, both backends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use loyd_domain::mailings::{Audience, MailingSpec, Variant};
use loyd_domain::messages::{Channel, TextSpec};
use loyd_store::{ImportRow, NewCustomer, NewMailing};
use loyd_testkit::both_backends;
use loyd_testkit::smtp::Smtp;

mod common;
use common::{loyd, serve};

/// The audience.
const CUSTOMERS: usize = 10_000;

/// Deliveries one pass claims: what a kill may leave sent but not recorded.
const CLAIM: usize = 32;

both_backends! {
    async fn a_mailing_of_ten_thousand_survives_a_sigkill_with_nothing_lost_and_repeats_within_one_claim(db: TestDb) {
        let smtp = Smtp::start().await;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("program.toml");
        std::fs::write(
            &program,
            format!(
                "[[currencies]]\ncode = \"EUR\"\nkind = \"money\"\nscale = 2\n\n[[stores]]\nid = \"riga-01\"\nname = \"Riga\"\ntimezone = \"Europe/Riga\"\n\n\
                 [email]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"Shop <shop@loyd.test>\"\n",
                smtp.port
            ),
        )
        .unwrap();
        loyd(dir.path(), &db, &["apply", "-f", program.to_str().unwrap()]);
        let store = db.store_of_cli(dir.path()).await;
        for batch in 0..CUSTOMERS / 1000 {
            let rows = (0..1000)
                .map(|i| {
                    let n = batch * 1000 + i;
                    let customer = NewCustomer {
                        email: Some(format!("m{n}@example.lv")),
                        consents: [("email".to_owned(), true)].into(),
                        ..NewCustomer::default()
                    };
                    ImportRow { line: n as u64 + 2, customer, cards: Vec::new() }
                })
                .collect();
            let outcomes = store.import_customers(rows, None, "test".into()).await.unwrap();
            assert!(outcomes.iter().all(|o| o.result.is_ok()));
        }
        let text = TextSpec { subject: "Winter sale".into(), body: "Hello, the sale starts today.\n\n{{ unsubscribe_url }}".into(), html: None };
        let spec = MailingSpec::of(vec![Variant { name: "A".into(), texts: [("en".to_owned(), text)].into() }]);
        let new = NewMailing { name: "Big".into(), channel: Channel::Email, audience: Audience::All, spec, send_at: store.now(), customers: Vec::new(), operation_id: None };
        let (mailing, _) = store.create_mailing(new, "test".into()).await.unwrap();

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let interval = [("LOYD_DELIVER_INTERVAL_MS", "50")];
        let mut server = serve(dir.path(), &db, port, &interval, None).await;
        let deadline = Instant::now() + Duration::from_secs(300);
        while smtp.count() < 2_000 {
            assert!(Instant::now() < deadline, "the mailing did not get going: {} sent", smtp.count());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill().unwrap(); // SIGKILL, in the middle of sending
        server.wait().unwrap();
        let at_kill = smtp.count();
        assert!(at_kill < CUSTOMERS, "killed before the end");

        let mut server = serve(dir.path(), &db, port, &interval, None).await;
        loop {
            let report = store.mailing_report(mailing.id).await.unwrap().unwrap();
            if report.mailing.state == "sent" {
                assert_eq!((report.total.enqueued, report.total.sent), (CUSTOMERS as i64, CUSTOMERS as i64), "{report:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the mailing did not finish: {report:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server.kill().unwrap();
        server.wait().unwrap();

        let got = smtp.recipients();
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (to, id) in &got {
            ids.entry(to.clone()).or_default().insert(id.clone());
        }
        assert_eq!(ids.len(), CUSTOMERS, "every customer received it ({} messages)", got.len());
        assert!(ids.values().all(|set| set.len() == 1), "a repeat carries the same Message-ID");
        let repeats = got.len() - CUSTOMERS;
        assert!(repeats <= CLAIM, "{repeats} repeats: more than one claim's worth");
        eprintln!("{} sent before the kill, {} messages in all, {repeats} repeated", at_kill, got.len());
    }
}
