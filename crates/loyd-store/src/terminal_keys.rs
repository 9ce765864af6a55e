//! Terminal keys recently looked up. Every POS request names its terminal by key; asking
//! the database each time is a round trip per request for an answer that almost never
//! changes. A found key is trusted for [`TERMINAL_KEY_TTL`]; a key rotated on this
//! server stops working at once, one rotated elsewhere (another node, the `loyd` command)
//! within that time. Unknown keys are never remembered, so a new terminal works at once.

use std::collections::HashMap;
use std::sync::Mutex;

use loyd_domain::time::Timestamp;

/// How long a found terminal key is trusted without asking the database again.
pub const TERMINAL_KEY_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// Above this many remembered keys the stale ones are dropped (and all of them if none is).
const MAX_KEYS: usize = 50_000;

type Found = crate::TerminalOfKey;

#[derive(Default)]
pub(crate) struct TerminalKeys(Mutex<Keys>);

#[derive(Default)]
struct Keys {
    found: HashMap<String, (Timestamp, Found)>,
    /// Counts the clears, so a lookup that began before one is not remembered after it.
    generation: u64,
}

impl TerminalKeys {
    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The terminal of a key looked up less than the TTL before `now`; otherwise the
    /// generation to hand to [`TerminalKeys::put`] with what the database says.
    pub(crate) fn get(&self, key_hash: &str, now: Timestamp) -> Result<Found, u64> {
        let keys = self.keys();
        keys.found.get(key_hash).filter(|(at, _)| fresh(*at, now)).map(|(_, found)| found.clone()).ok_or(keys.generation)
    }

    /// Remembers a key looked up since [`TerminalKeys::get`] gave `generation`, unless
    /// the keys were cleared meanwhile (the lookup may have read a key being rotated).
    pub(crate) fn put(&self, key_hash: &str, found: &Found, now: Timestamp, generation: u64) {
        let mut keys = self.keys();
        if keys.generation != generation {
            return;
        }
        let map = &mut keys.found;
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
        let mut keys = self.keys();
        keys.found.clear();
        keys.generation += 1;
    }
}

fn fresh(at: Timestamp, now: Timestamp) -> bool {
    at <= now && now.duration_since(at) < TERMINAL_KEY_TTL
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyd_domain::ids::{AssetCode, StoreCode, TerminalCode};
    use loyd_domain::org::{StoreSpec, Terminal, TimeZoneName};

    fn found() -> Found {
        let store = StoreCode::parse("riga-01").unwrap();
        let spec = StoreSpec {
            id: store.clone(),
            name: "Riga".into(),
            format: None,
            timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
            currency: AssetCode::parse("EUR").unwrap(),
            partner: None,
            offline_days: None,
            address: None,
            hours: None,
        };
        Found { terminal: Terminal { store, id: TerminalCode::parse("pos-1").unwrap() }, store: spec, opened_at: Timestamp::UNIX_EPOCH }
    }

    #[test]
    fn a_lookup_begun_before_a_rotation_is_not_remembered_after_it() {
        let keys = TerminalKeys::default();
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let generation = keys.get("k", now).unwrap_err();
        keys.clear();
        keys.put("k", &found(), now, generation);
        assert!(keys.get("k", now).is_err());
        let generation = keys.get("k", now).unwrap_err();
        keys.put("k", &found(), now, generation);
        assert_eq!(keys.get("k", now), Ok(found()));
    }

    #[test]
    fn a_remembered_key_is_asked_for_again_once_its_lifetime_is_over_or_the_clock_goes_back() {
        let keys = TerminalKeys::default();
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let generation = keys.get("k", now).unwrap_err();
        keys.put("k", &found(), now, generation);
        assert!(keys.get("k", now + (TERMINAL_KEY_TTL - jiff::SignedDuration::from_millis(1))).is_ok());
        assert!(keys.get("k", now + TERMINAL_KEY_TTL).is_err());
        assert!(keys.get("k", now - jiff::SignedDuration::from_secs(1)).is_err());
    }
}
