//! Drop-folder rules paused by a front end.
//! The pause lives in the database rather than the config so that the TUI can
//! set it while a separate `atelier watch` process honours it, and so that it
//! survives restarts of either.

use std::collections::HashSet;

use super::error::StoreResult;
use super::store::Store;

impl Store {
    /// Pauses (`true`) or resumes a rule by name. Pausing a paused rule keeps
    /// its original time.
    pub fn set_rule_paused(&self, rule: &str, paused: bool) -> StoreResult<()> {
        self.backend.set_rule_paused(rule, paused)
    }

    /// The names of the paused rules.
    pub fn paused_rules(&self) -> StoreResult<HashSet<String>> {
        self.backend.paused_rules()
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
