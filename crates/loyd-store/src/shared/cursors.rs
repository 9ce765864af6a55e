//! The cursors of the jobs that read what others wrote (`rollup_cursors`): how far each
//! source has been added to its aggregate, checked for fraud, or looked at for notices.
//! A job reads its cursor and moves it in the transaction that does the work.

use sqlx::Row;

use super::{Conn, PG};
use crate::error::StoreError;

/// Reads a source's cursor, locking it on PostgreSQL so two servers never add a batch
/// twice.
pub(super) async fn cursor(c: &mut Conn, source: &'static str) -> Result<i64, StoreError> {
    let q = if PG {
        "SELECT last FROM rollup_cursors WHERE source = $1 FOR UPDATE"
    } else {
        "SELECT last FROM rollup_cursors WHERE source = $1"
    };
    Ok(sqlx::query(q).bind(source).fetch_one(&mut *c).await?.try_get("last")?)
}

pub(super) async fn move_cursor(c: &mut Conn, source: &'static str, to: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollup_cursors SET last = $1 WHERE source = $2").bind(to).bind(source).execute(&mut *c).await?;
    Ok(())
}

/// The cursor of a channel's next free moment (its `rate_per_minute` paces marketing).
pub(super) fn slot_of(channel: loyd_domain::messages::Channel) -> &'static str {
    use loyd_domain::messages::Channel as C;
    match channel {
        C::Email => "slot:email",
        C::Sms => "slot:sms",
        C::Viber => "slot:viber",
        C::Whatsapp => "slot:whatsapp",
        C::Telegram => "slot:telegram",
        C::Portal => "slot:portal",
    }
}
