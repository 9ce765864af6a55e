//! Terminal keys recently looked up. Every POS request names its terminal by key; asking
//! the database each time is a round trip per request for an answer that almost never
//! changes. A found key is trusted for [`TERMINAL_KEY_TTL`]; a key rotated on this
//! server stops working at once, one rotated elsewhere (another node, the `loyd` command)
//! within that time. Unknown keys are never remembered, so a new terminal works at once.

use std::collections::HashMap;
use std::sync::Mutex;

use loyd_domain::org::{StoreSpec, Terminal};
use loyd_domain::time::Timestamp;

/// How long a found terminal key is trusted without asking the database again.
pub const TERMINAL_KEY_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// Above this many remembered keys the stale ones are dropped (and all of them if none is).
const MAX_KEYS: usize = 50_000;

type Found = (Terminal, StoreSpec);

#[derive(Default)]
pub(crate) struct TerminalKeys(Mutex<HashMap<String, (Timestamp, Found)>>);

impl TerminalKeys {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Timestamp, Found)>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The terminal of a key looked up less than the TTL before `now`.
    pub(crate) fn get(&self, key_hash: &str, now: Timestamp) -> Option<Found> {
        self.map().get(key_hash).filter(|(at, _)| fresh(*at, now)).map(|(_, found)| found.clone())
    }

    pub(crate) fn put(&self, key_hash: &str, found: &Found, now: Timestamp) {
        let mut map = self.map();
        if map.len() >= MAX_KEYS {
            map.retain(|_, (at, _)| fresh(*at, now));
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        map.insert(key_hash.to_owned(), (now, found.clone()));
    }

    /// Forgets every key (after a key rotation or a configuration change).
    pub(crate) fn clear(&self) {
        self.map().clear();
    }
}

fn fresh(at: Timestamp, now: Timestamp) -> bool {
    at <= now && now.duration_since(at) < TERMINAL_KEY_TTL
}
