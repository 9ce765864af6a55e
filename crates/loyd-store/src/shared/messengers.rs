//! A customer's Telegram chat, connected when they start the program's bot with their
//! link and let go when they stop it; and the notifications the portal channel keeps
//! for a customer until they read them in the portal.

use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::{Backend, Conn};
use crate::crypto::Keyring;
use super::customers::{telegram_index, update_in};
use crate::error::StoreError;
use crate::{Connected, CustomerPatch, Notification};

/// The customer Telegram chat `chat` is connected to.
async fn chat_owner(c: &mut Conn, ring: &Keyring, chat: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT id FROM customers WHERE telegram_index = $1").bind(telegram_index(ring, chat)).fetch_optional(&mut *c).await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

impl Backend {
    /// Connects Telegram chat `chat` to `customer` (taking it from another customer it
    /// was connected to) and grants their Telegram consent, audited as `actor` — one
    /// transaction.
    pub async fn connect_telegram(&self, customer: i64, chat: String, actor: String, now: Timestamp) -> Result<Connected, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (chat, actor, secrets) = (chat.clone(), actor.clone(), secrets.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                if let Some(other) = chat_owner(c, ring, &chat).await?.filter(|o| *o != customer) {
                    let patch = CustomerPatch { telegram: Some(None), ..CustomerPatch::default() };
                    update_in(c, ring, other, &patch, &actor, now).await?;
                }
                let before = super::customers::must_customer(c, ring, customer).await?;
                if before.merged_into.is_some() {
                    return Err(StoreError::NotFound { what: "customer", id: loyd_domain::ids::CustomerId(customer).to_string() });
                }
                let opted_out = before.opted_out_at.is_some();
                let mut patch = CustomerPatch { telegram: Some(Some(chat.clone())), ..CustomerPatch::default() };
                if !opted_out {
                    patch.consents.insert("telegram".into(), true);
                }
                update_in(c, ring, customer, &patch, &actor, now).await?;
                Ok(if opted_out { Connected::OptedOut } else { Connected::Consenting })
            })
        })
        .await
    }

    /// Lets chat `chat` go (the customer stopped or blocked the bot): disconnected and
    /// their Telegram consent withdrawn, audited as `actor`. The customer it was
    /// connected to, if any.
    pub async fn disconnect_telegram(&self, chat: String, actor: String, now: Timestamp) -> Result<Option<i64>, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (chat, actor, secrets) = (chat.clone(), actor.clone(), secrets.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                let Some(customer) = chat_owner(c, ring, &chat).await? else { return Ok(None) };
                let patch = CustomerPatch { telegram: Some(None), consents: [("telegram".to_owned(), false)].into(), ..CustomerPatch::default() };
                update_in(c, ring, customer, &patch, &actor, now).await?;
                Ok(Some(customer))
            })
        })
        .await
    }

    /// Keeps a notification for `customer`'s portal, once per delivery `key` (a repeated
    /// attempt writes nothing more); its subject and text sealed.
    pub async fn keep_notification(&self, customer: i64, key: String, subject: String, body: String, now: Timestamp) -> Result<(), StoreError> {
        let secrets = self.ring();
        let content = serde_json::json!({ "subject": subject, "body": body }).to_string();
        self.write(move |c| {
            let (key, content, secrets) = (key.clone(), content.clone(), secrets.clone());
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO notifications (customer_id, delivery_key, content, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (delivery_key) DO NOTHING",
                )
                .bind(customer)
                .bind(key)
                .bind(secrets.ring.seal("notification", &content))
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// A customer's notifications, newest first: at most `limit` older than `before`.
    pub async fn notifications(&self, customer: i64, before: Option<i64>, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(
            "SELECT id, content, created_at, read_at FROM notifications WHERE customer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(customer)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        let ring = &self.secrets.ring;
        rows.iter()
            .map(|r| {
                let content: serde_json::Value = serde_json::from_str(&ring.open("notification", &r.try_get::<String, _>("content")?)?).unwrap_or_default();
                let text = |field: &str| content[field].as_str().unwrap_or_default().to_owned();
                Ok(Notification {
                    id: r.try_get("id")?,
                    subject: text("subject"),
                    body: text("body"),
                    created_at: from_micros(r.try_get("created_at")?),
                    read_at: r.try_get::<Option<i64>, _>("read_at")?.map(from_micros),
                })
            })
            .collect()
    }

    /// Marks a customer's notifications up to `up_to` read (those already read keep
    /// their time); how many it marked.
    pub async fn read_notifications(&self, customer: i64, up_to: i64, now: Timestamp) -> Result<u64, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE notifications SET read_at = $1 WHERE customer_id = $2 AND id <= $3 AND read_at IS NULL")
                    .bind(to_micros(now))
                    .bind(customer)
                    .bind(up_to)
                    .execute(&mut *c)
                    .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
