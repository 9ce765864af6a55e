//! `--mailing`: instead of the load, a mailing to every customer of the dataset by SMS
//! (a third of them consented), enqueued as `loyd serve` enqueues it — a batch of
//! customers per transaction, each consented one a delivery of the outbox — timed from
//! its start to the last batch. Nothing is sent: the mailing is cancelled after, its
//! deliveries withheld. Memory is the process's peak (`/usr/bin/time -v`).

use std::time::Instant;

use loyd_domain::mailings::{Audience, MailingSpec, Variant};
use loyd_domain::messages::{Channel, TextSpec};
use loyd_store::{NewMailing, Store};

/// What enqueuing a mailing took.
#[derive(Debug, Clone)]
pub struct Enqueued {
    pub customers: i64,
    pub enqueued: i64,
    pub skipped: i64,
    pub seconds: f64,
}

/// Enqueues a mailing to every customer, as fast as the store takes it.
pub async fn run(store: &Store) -> anyhow::Result<Enqueued> {
    let text = TextSpec { subject: String::new(), body: "Winter sale: -20 % until Sunday.".into(), html: None };
    let spec = MailingSpec::of(vec![Variant { name: "A".into(), texts: [("en".to_owned(), text)].into() }]);
    let new = NewMailing {
        name: "loyd-bench".into(),
        channel: Channel::Sms,
        audience: Audience::All,
        spec,
        send_at: store.now(),
        customers: Vec::new(),
        operation_id: None,
    };
    let (mailing, _) = store.create_mailing(new, "loyd-bench".into()).await?;
    let started = Instant::now();
    loop {
        store.advance_mailings(100).await?;
        let m = store.mailing(mailing.id).await?.ok_or_else(|| anyhow::anyhow!("the mailing vanished"))?;
        if !matches!(m.state.as_str(), "scheduled" | "enqueuing") {
            let seconds = started.elapsed().as_secs_f64();
            store.cancel_mailing(mailing.id, "loyd-bench".into()).await?;
            return Ok(Enqueued { customers: m.enqueued + m.skipped, enqueued: m.enqueued, skipped: m.skipped, seconds });
        }
    }
}
