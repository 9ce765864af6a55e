//! Figures counted from every customer's rows — regular customers over months that are
//! not one kept month or year, several stores' buyers together — which take time in
//! proportion to the buyers (about a second at a million). They are counted in the
//! background and kept, by what was asked, until the aggregates move: a reader gets the
//! last count at once, with when it was made, and a new count starts behind it; the
//! first reader of a question hears that it is being counted. A few dozen questions are
//! kept, the least recently asked going first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use loyd_domain::time::Timestamp;

/// Questions kept at most.
const KEPT: usize = 64;

/// A count, and when it was made; `current`: made since the aggregates last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted<T> {
    pub value: T,
    pub at: Timestamp,
    pub current: bool,
}

struct Entry<T> {
    /// The last count, when it was made, and the aggregates' version it counted.
    count: Option<(T, Timestamp, i64)>,
    running: bool,
    asked: Instant,
}

/// The counts kept, by question.
pub(crate) struct Memo<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Memo<T> {
        Memo { entries: Mutex::new(HashMap::new()) }
    }
}

impl<T: Clone> Memo<T> {
    /// The last count of `key`, if any, and whether a count is to be started now (none
    /// is running, and there is none or it counted another `version`).
    pub(crate) fn look(&self, key: &str, version: i64) -> (Option<Counted<T>>, bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(key) && entries.len() >= KEPT {
            let oldest = entries.iter().filter(|(_, e)| !e.running).min_by_key(|(_, e)| e.asked).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        let e = entries.entry(key.to_owned()).or_insert(Entry { count: None, running: false, asked: Instant::now() });
        e.asked = Instant::now();
        let current = e.count.as_ref().is_some_and(|(_, _, v)| *v == version);
        let start = !e.running && !current;
        e.running |= start;
        (e.count.as_ref().map(|(value, at, _)| Counted { value: value.clone(), at: *at, current }), start)
    }

    /// Keeps a count of `key` made at `at` of the aggregates' `version`; a failed one
    /// leaves the last.
    pub(crate) fn put(&self, key: &str, version: i64, count: Option<T>, at: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get_mut(key) {
            e.running = false;
            if let Some(value) = count {
                e.count = Some((value, at, version));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_counted_once_then_read_at_once_until_the_aggregates_move() {
        let memo = Memo::<u32>::default();
        let at = Timestamp::UNIX_EPOCH;
        assert_eq!(memo.look("q", 1), (None, true), "the first asks for a count");
        assert_eq!(memo.look("q", 1), (None, false), "while it runs, no second one");
        memo.put("q", 1, Some(7), at);
        assert_eq!(memo.look("q", 1), (Some(Counted { value: 7, at, current: true }), false));
        // The aggregates moved: the last count at once, and a new count behind it.
        assert_eq!(memo.look("q", 2), (Some(Counted { value: 7, at, current: false }), true));
        assert!(!memo.look("q", 2).1, "one count at a time");
        memo.put("q", 2, None, at);
        assert_eq!(memo.look("q", 2), (Some(Counted { value: 7, at, current: false }), true), "a failed count is tried again");
    }

    #[test]
    fn the_least_recently_asked_question_goes_first_when_too_many_are_kept() {
        let memo = Memo::<u32>::default();
        for k in 0..KEPT {
            memo.look(&k.to_string(), 1);
            memo.put(&k.to_string(), 1, Some(1), Timestamp::UNIX_EPOCH);
        }
        memo.look("0", 1);
        memo.look("new", 1);
        assert!(memo.look("0", 1).0.is_some(), "asked lately: kept");
        assert!(memo.look("1", 1).0.is_none(), "the least recently asked went");
    }
}
