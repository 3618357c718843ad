//! Drop-folder rules paused by a front end (table `watch_paused`, schema 4).
//! The pause lives in the database rather than the config so that the TUI can
//! set it while a separate `atelier watch` process honours it, and so that it
//! survives restarts of either.

use std::collections::HashSet;

use rusqlite::params;

use super::error::StoreResult;
use super::run::now;
use super::store::Store;

impl Store {
    /// Pauses (`true`) or resumes a rule by name. Pausing a paused rule keeps
    /// its original time.
    pub fn set_rule_paused(&self, rule: &str, paused: bool) -> StoreResult<()> {
        let done = if paused {
            self.conn.execute(
                "INSERT OR IGNORE INTO watch_paused (rule, since) VALUES (?1, ?2)",
                params![rule, now()],
            )
        } else {
            self.conn
                .execute("DELETE FROM watch_paused WHERE rule = ?1", [rule])
        };
        done.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The names of the paused rules.
    pub fn paused_rules(&self) -> StoreResult<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule FROM watch_paused")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pausing_persists_across_connections_and_resuming_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path()).unwrap();
        a.set_rule_paused("camera", true).unwrap();
        a.set_rule_paused("camera", true).unwrap();
        let b = Store::open(dir.path()).unwrap();
        assert_eq!(
            b.paused_rules().unwrap(),
            HashSet::from(["camera".to_string()])
        );
        b.set_rule_paused("camera", false).unwrap();
        assert!(a.paused_rules().unwrap().is_empty());
    }
}
