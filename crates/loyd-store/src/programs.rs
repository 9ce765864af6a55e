//! The compiled programs of every configuration version, cached in memory.
//!
//! Receipts are computed with the program in force at their time (`at`): offline
//! receipts from yesterday get yesterday's rules. Versions are compiled once, on first
//! use, and kept; the list of versions is refreshed after an apply in this process and
//! by a background poll (`Store::refresh_programs`) for applies made elsewhere.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use loyd_domain::program::Program;
use loyd_domain::time::Timestamp;

#[derive(Default)]
pub struct Programs {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// (version, applied at), oldest first.
    versions: Vec<(i64, Timestamp)>,
    compiled: BTreeMap<i64, Arc<Program>>,
    loaded: bool,
}

impl Programs {
    pub(crate) fn is_loaded(&self) -> bool {
        self.state.read().map(|s| s.loaded).unwrap_or(false)
    }

    /// Replaces the list of versions; says whether it changed.
    pub(crate) fn set_versions(&self, versions: Vec<(i64, Timestamp)>) -> bool {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        let changed = !s.loaded || s.versions != versions;
        s.versions = versions;
        s.loaded = true;
        changed
    }

    /// The version in force at `at` (0, the empty program, before the first apply).
    pub(crate) fn version_at(&self, at: Timestamp) -> i64 {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        s.versions.iter().rev().find(|(_, applied)| *applied <= at).map(|(v, _)| *v).unwrap_or(0)
    }

    pub(crate) fn latest(&self) -> i64 {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        s.versions.last().map(|(v, _)| *v).unwrap_or(0)
    }

    pub(crate) fn get(&self, version: i64) -> Option<Arc<Program>> {
        if version == 0 {
            return Some(Arc::new(Program::default()));
        }
        self.state.read().unwrap_or_else(|e| e.into_inner()).compiled.get(&version).cloned()
    }

    pub(crate) fn put(&self, program: Program) -> Arc<Program> {
        let program = Arc::new(program);
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.compiled.entry(program.version).or_insert(program).clone()
    }
}
