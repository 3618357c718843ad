//! Which store this process opens: chosen once by the front end (`--store`,
//! `ATELIER_STORE` or `[store] url`), so that every part that opens the
//! store by its data folder (the worker's heartbeat thread, the TUI's
//! threads, the watcher) opens the same one. Nothing chosen: the SQLite
//! file in the data folder, as always.

use std::sync::RwLock;

static CHOSEN: RwLock<Option<String>> = RwLock::new(None);

/// Makes every [`super::Store::open`] of this process open `location`: a
/// `postgres://` URL, or a SQLite file's path; `None` (or empty): the
/// SQLite file in the data folder.
pub fn choose(location: Option<&str>) {
    let location = location.filter(|l| !l.is_empty()).map(str::to_string);
    // A poisoned lock only means a panic elsewhere; the value is a plain string.
    *CHOSEN.write().unwrap_or_else(|e| e.into_inner()) = location;
}

/// The store [`choose`] chose, if any.
pub fn chosen() -> Option<String> {
    CHOSEN.read().unwrap_or_else(|e| e.into_inner()).clone()
}
