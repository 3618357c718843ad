//! The watch loop: one thread serving every rule. Each tick it takes events
//! from the notify sources, hands files that have arrived to intake, delivers
//! finished outputs, settles and moves inputs, and now and then rescans each
//! inbox to catch what events missed (and what arrived while it was down).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use notify_debouncer_full::DebounceEventResult;

use super::arrival::{is_temp_name, scan, Arrivals, Gone};
use super::deliver::{deliver, move_processed, Delivery};
use super::error::WatchError;
use super::intake::{take, Taken};
use super::rules::{After, Backend, Rule, RuleConfig, Timings, WatcherSettings};
use super::source::{self, classify, Change, Source};
use super::status::{RuleState, WatchEvent, WatchHandle};
use crate::jobs::Role;
use crate::queue::{Store, StoreResult, WatchItem, WatchedRun};

const TICK: Duration = Duration::from_millis(100);
const DELIVER_EVERY: Duration = Duration::from_millis(500);
const COUNTS_EVERY: Duration = Duration::from_secs(1);
/// Failures kept in each rule's state.
const FAILURES_SHOWN: usize = 20;

type Stat = (u64, Option<SystemTime>);

/// Size, times and inode of a file: any write or replacement changes one.
type Stamp = (u64, i64, i64, i64, i64, u64);

fn stamp(p: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| {
        (
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.ino(),
        )
    })
}

fn stat(p: &Path) -> Option<Stat> {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// One rule at run time. It watches while enabled and not paused.
struct Live {
    rule: Rule,
    /// Switched on or off through the handle (initially from the config).
    enabled: bool,
    /// Paused in the database by a front end.
    paused: bool,
    source: Option<Source>,
    arrivals: Arrivals,
    /// Files taken this session, with their size and mtime then: looked at
    /// again only if those change (the ledger makes that safe either way).
    taken: HashMap<PathBuf, Stat>,
    next_reconcile: Instant,
    inbox_missing: bool,
    /// The inbox folder's (device, inode) when last seen: a different one
    /// means it was moved away (with its files) and another made in its place.
    inbox_id: Option<(u64, u64)>,
    /// The model file as it was when the rule last read it (`None`: not
    /// yet compared, so the first look reads it again).
    model_stamp: Option<Stamp>,
    /// Items whose retry cannot be made (their input is gone or changed).
    not_retried: HashSet<i64>,
}

fn folder_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

impl Live {
    fn active(&self) -> bool {
        self.enabled && !self.paused
    }
}

/// Rounds of reconciling: one ends when every active inbox was reconciled
/// since the last, or, with none active, every `reconcile_every`. Reported
/// so that a front end knows the watcher has looked again.
struct Rounds {
    done: u64,
    since: Vec<bool>,
    every: Duration,
    next_idle: Instant,
}

impl Rounds {
    fn new(rules: usize, every: Duration) -> Self {
        Rounds {
            done: 0,
            since: vec![false; rules],
            every,
            next_idle: Instant::now() + every,
        }
    }

    fn reconciled(&mut self, rule: usize) {
        self.since[rule] = true;
    }

    fn close(&mut self, active: &[usize], now: Instant) {
        let ended = match active.is_empty() {
            true => now >= self.next_idle,
            false => active.iter().all(|&i| self.since[i]),
        };
        if ended {
            self.done += 1;
            self.since.fill(false);
            self.next_idle = now + self.every;
        }
    }
}

pub struct Watcher {
    store: Store,
    live: Vec<Live>,
    timings: Timings,
    handle: WatchHandle,
    out: Vec<WatchEvent>,
}

impl Watcher {
    /// A watcher for `rules` over `store` (its own connection: the worker, if
    /// any, has another).
    pub fn new(store: Store, rules: Vec<Rule>, settings: &WatcherSettings) -> Self {
        let handle = WatchHandle::default();
        let paused = store.paused_rules().unwrap_or_default();
        handle.set_rules(
            rules
                .iter()
                .map(|r| RuleState {
                    name: r.name.clone(),
                    inbox: r.inbox.clone(),
                    output: r.output.clone(),
                    styles: match &r.model {
                        Some(m) => m.outputs.iter().map(|o| m.output_name(o)).collect(),
                        None => r.styles.iter().map(|s| s.name.clone()).collect(),
                    },
                    preset: r.preset.clone(),
                    enabled: r.enabled,
                    paused: paused.contains(&r.name),
                    backend: None,
                    arriving: 0,
                    counts: store.watch_counts(&r.name).unwrap_or_default(),
                    failures: store
                        .watch_failures(&r.name, FAILURES_SHOWN)
                        .unwrap_or_default(),
                    last_error: None,
                })
                .collect(),
        );
        let now = Instant::now();
        Self {
            store,
            live: rules
                .into_iter()
                .map(|rule| Live {
                    enabled: rule.enabled,
                    paused: paused.contains(&rule.name),
                    rule,
                    source: None,
                    arrivals: Arrivals::default(),
                    taken: HashMap::new(),
                    next_reconcile: now,
                    inbox_missing: false,
                    inbox_id: None,
                    model_stamp: None,
                    not_retried: HashSet::new(),
                })
                .collect(),
            timings: settings.into(),
            handle,
            out: Vec::new(),
        }
    }

    /// The handle a front end reads state and events from.
    pub fn handle(&self) -> WatchHandle {
        self.handle.clone()
    }

    /// Watches until `stop` is set; every event also goes to `events`.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WatchEvent),
    ) -> Result<(), WatchError> {
        let presence = super::presence::announce(self.store.data_dir());
        let mut reported = None;
        let mut rounds = Rounds::new(self.live.len(), self.timings.reconcile_every);
        let (tx, rx) = channel();
        for i in 0..self.live.len() {
            if self.live[i].active() {
                self.start(i, &tx);
            } else if self.live[i].enabled {
                self.out.push(WatchEvent::Paused {
                    rule: self.live[i].rule.name.clone(),
                });
            }
        }
        self.flush(events);
        let mut next_deliver = Instant::now();
        let mut next_counts = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            self.drain(&rx);
            let now = Instant::now();
            for i in 0..self.live.len() {
                if !self.live[i].active() {
                    continue;
                }
                if now >= self.live[i].next_reconcile {
                    self.reconcile(i, &tx);
                    rounds.reconciled(i);
                }
                if let Err(e) = self.arrive(i) {
                    self.error(i, e.to_string());
                }
            }
            if now >= next_deliver {
                for i in 0..self.live.len() {
                    if let Err(e) = self.deliver(i) {
                        self.error(i, e.to_string());
                    }
                }
                next_deliver = now + DELIVER_EVERY;
            }
            if now >= next_counts {
                self.refresh_paused(&tx);
                self.refresh_counts();
                next_counts = now + COUNTS_EVERY;
            }
            self.flush(events);
            let active: Vec<usize> = (0..self.live.len())
                .filter(|&i| self.live[i].active())
                .collect();
            rounds.close(&active, now);
            if let Some(p) = &presence {
                let state = self.presence_state(rounds.done, &active);
                if reported.as_ref() != Some(&state) {
                    p.report(&state);
                    reported = Some(state);
                }
            }
        }
        for l in &mut self.live {
            if l.source.take().is_some() {
                self.out.push(WatchEvent::Stopped {
                    rule: l.rule.name.clone(),
                });
            }
        }
        self.flush(events);
        Ok(())
    }

    /// What front ends see of this watcher: passes over every active inbox
    /// and the files still settling in each.
    fn presence_state(&self, rounds: u64, active: &[usize]) -> super::presence::PresenceState {
        super::presence::PresenceState {
            pid: std::process::id(),
            reconciles: rounds,
            arriving: active
                .iter()
                .map(|&i| (self.live[i].rule.name.clone(), self.live[i].arrivals.len()))
                .collect(),
        }
    }

    fn flush(&mut self, events: &mut dyn FnMut(&WatchEvent)) {
        for e in self.out.drain(..) {
            events(&e);
            self.handle.push(e);
        }
    }

    fn error(&mut self, i: usize, message: String) {
        self.out.push(WatchEvent::Error {
            rule: self.live[i].rule.name.clone(),
            message,
        });
    }

    fn start(&mut self, i: usize, tx: &Sender<(usize, DebounceEventResult)>) {
        let t = self.timings;
        let l = &mut self.live[i];
        match source::start(
            i,
            &l.rule.inbox,
            l.rule.recursive,
            l.rule.backend,
            t.poll_interval,
            t.debounce,
            tx.clone(),
        ) {
            Ok((s, note)) => {
                let backend = s.kind().to_string();
                l.source = Some(s);
                l.next_reconcile = Instant::now();
                self.handle
                    .update(&l.rule.name, |r| r.backend = Some(backend.clone()));
                self.out.push(WatchEvent::Watching {
                    rule: l.rule.name.clone(),
                    inbox: l.rule.inbox.clone(),
                    backend,
                    note,
                });
            }
            Err(e) => {
                let msg = format!("cannot watch {}: {e}", l.rule.inbox.display());
                self.error(i, msg);
            }
        }
    }

    /// Applies a pause set from the database, stopping or restarting the
    /// rule's source when whether it watches changes.
    fn set_paused(&mut self, i: usize, paused: bool, tx: &Sender<(usize, DebounceEventResult)>) {
        let was = self.live[i].active();
        let name = self.live[i].rule.name.clone();
        self.live[i].paused = paused;
        self.handle.update(&name, |r| r.paused = paused);
        if was == self.live[i].active() {
            return;
        }
        if !was {
            self.start(i, tx);
            return;
        }
        let l = &mut self.live[i];
        l.source = None;
        l.arrivals.clear();
        self.handle.update(&name, |r| {
            r.backend = None;
            r.arriving = 0;
        });
        self.out.push(WatchEvent::Paused { rule: name });
    }

    /// Follows pauses set in the database by a front end. A resumed rule
    /// starts with a scan, so files that arrived while it was paused are taken.
    fn refresh_paused(&mut self, tx: &Sender<(usize, DebounceEventResult)>) {
        let paused = match self.store.paused_rules() {
            Ok(p) => p,
            // Transient (a busy database): the next look will do.
            Err(_) => return,
        };
        for i in 0..self.live.len() {
            let p = paused.contains(&self.live[i].rule.name);
            if p != self.live[i].paused {
                self.set_paused(i, p, tx);
            }
        }
    }

    /// Notes a file that may be arriving, unless it is ours to ignore.
    fn consider(&mut self, i: usize, path: &Path, closed: bool) {
        let l = &mut self.live[i];
        let Ok(rel) = path.strip_prefix(&l.rule.inbox) else {
            return;
        };
        if rel.as_os_str().is_empty()
            || is_temp_name(path)
            || l.rule.excluded(path)
            || (!l.rule.recursive && rel.components().count() != 1)
            || rel
                .parent()
                .is_some_and(|p| p.components().any(|c| is_temp_name(Path::new(&c))))
        {
            return;
        }
        if let Some(s) = l.taken.get(path) {
            if stat(path).as_ref() == Some(s) {
                return;
            }
            l.taken.remove(path);
        }
        l.arrivals.touch(path, closed);
    }

    fn scan_into(&mut self, i: usize, dir: &Path) {
        let rule = &self.live[i].rule;
        let skip = |p: &Path| rule.excluded(p);
        let files = scan(dir, rule.recursive, &skip);
        for f in files {
            self.consider(i, &f, false);
        }
    }

    fn drain(&mut self, rx: &Receiver<(usize, DebounceEventResult)>) {
        let first = match rx.recv_timeout(TICK) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        for (i, result) in batch {
            if i >= self.live.len() || !self.live[i].active() {
                continue;
            }
            let polled = matches!(self.live[i].source, Some(Source::Poll(_)));
            match result {
                Ok(events) => {
                    for e in events {
                        for change in classify(&e.event, polled) {
                            self.apply(i, change);
                        }
                    }
                }
                Err(errors) => {
                    for e in errors {
                        self.error(i, format!("watcher: {e}"));
                    }
                    // Errors may mean lost events: look again soon.
                    self.live[i].next_reconcile = Instant::now();
                }
            }
        }
    }

    fn apply(&mut self, i: usize, change: Change) {
        match change {
            Change::File { path, closed } => self.consider(i, &path, closed),
            Change::Folder(dir) => {
                let l = &self.live[i];
                if l.rule.recursive && dir.starts_with(&l.rule.inbox) && !l.rule.excluded(&dir) {
                    self.scan_into(i, &dir);
                }
            }
            Change::Left(path) => {
                let l = &mut self.live[i];
                l.arrivals.forget(&path);
                l.taken.remove(&path);
            }
            Change::Rescan => self.live[i].next_reconcile = Instant::now(),
        }
    }

    fn reconcile(&mut self, i: usize, tx: &Sender<(usize, DebounceEventResult)>) {
        let t = self.timings;
        let inbox = self.live[i].rule.inbox.clone();
        self.live[i].next_reconcile = Instant::now() + t.reconcile_every;
        if !inbox.is_dir() {
            if !self.live[i].inbox_missing {
                self.live[i].inbox_missing = true;
                self.error(i, format!("inbox {} is not there", inbox.display()));
            }
            return;
        }
        if self.live[i].inbox_missing || self.live[i].source.is_none() {
            // Back (remounted, recreated): watch it again.
            self.live[i].inbox_missing = false;
            self.live[i].source = None;
            self.start(i, tx);
            self.live[i].next_reconcile = Instant::now() + t.reconcile_every;
        }
        self.scan_into(i, &inbox);
        // Forget files taken this session that are no longer there.
        self.live[i].taken.retain(|p, _| p.exists());
    }

    fn arrive(&mut self, i: usize) -> StoreResult<()> {
        let t = self.timings;
        let id = folder_id(&self.live[i].rule.inbox);
        let l = &mut self.live[i];
        if id.is_none() || l.inbox_id.is_some_and(|was| Some(was) != id) {
            // The inbox left with its files (moved away, perhaps another made
            // in its place): what was arriving there was not deleted, so
            // nothing failed. Forget it, and watch the new folder afresh (a
            // native watch follows the moved one) at the next reconcile.
            l.arrivals = Arrivals::default();
            // Gone: the reconcile says so once. Replaced: restart the watch.
            l.inbox_missing |= id.is_some();
            l.next_reconcile = Instant::now();
            l.inbox_id = id;
            return Ok(());
        }
        l.inbox_id = id;
        let (ready, gone) = l.arrivals.take_ready(t.quiet, t.open_grace);
        let name = self.live[i].rule.name.clone();
        if !ready.is_empty() {
            self.refresh_model(i);
        }
        for (path, why) in gone {
            let reason = match why {
                Gone::Deleted => "deleted before it was processed".to_string(),
                Gone::Unreadable(e) => format!("cannot read it: {e}"),
            };
            let key = format!("path:{}", path.display());
            self.store
                .record_watch_failure(&name, &key, None, &path, &reason)?;
            self.out.push(WatchEvent::Failed {
                rule: name.clone(),
                path,
                reason,
            });
        }
        for path in ready {
            let before = stat(&path);
            let taken = take(&self.store, &self.live[i].rule, &path)?;
            match taken {
                Taken::Queued(runs) => self.out.push(WatchEvent::Queued {
                    rule: name.clone(),
                    path: path.clone(),
                    runs,
                }),
                // The item's own file, seen again (by the scan at start, say):
                // nothing to say, and settling moves it when its time comes.
                Taken::Duplicate(item) if item.path == path && item.moved_to.is_none() => {}
                Taken::Duplicate(item) => {
                    self.out.push(WatchEvent::Duplicate {
                        rule: name.clone(),
                        path: path.clone(),
                        of: item.path.clone(),
                    });
                    // Nothing reads a duplicate: it can go at once.
                    if self.live[i].rule.after == After::Move {
                        self.move_input(i, &path, None);
                    }
                }
                Taken::Failed(reason) => self.out.push(WatchEvent::Failed {
                    rule: name.clone(),
                    path: path.clone(),
                    reason,
                }),
            }
            if let Some(s) = before {
                self.live[i].taken.insert(path, s);
            }
        }
        let arriving = self.live[i].arrivals.len();
        self.handle.update(&name, |r| r.arriving = arriving);
        Ok(())
    }

    fn move_input(&mut self, i: usize, path: &Path, item: Option<i64>) {
        let name = self.live[i].rule.name.clone();
        match move_processed(&self.live[i].rule, path) {
            Ok(to) => {
                // Ours to move: its leaving the inbox is no deletion (after a
                // restart the scan may have noted it as arriving).
                self.live[i].arrivals.forget(path);
                if let Some(id) = item {
                    // "-": the input had already left the inbox.
                    let rec = to.clone().unwrap_or_else(|| PathBuf::from("-"));
                    if let Err(e) = self.store.set_item_moved(id, &rec) {
                        self.error(i, e.to_string());
                    }
                }
                if let Some(to) = to {
                    self.live[i].taken.remove(path);
                    self.out.push(WatchEvent::Moved {
                        rule: name,
                        from: path.to_path_buf(),
                        to,
                    });
                }
            }
            Err(e) => self.error(i, format!("moving to processed/: {e}")),
        }
    }

    fn deliver(&mut self, i: usize) -> StoreResult<()> {
        self.refresh_model(i);
        let name = self.live[i].rule.name.clone();
        for o in self.store.pending_outputs(&name)? {
            match deliver(&self.store, &o)? {
                Delivery::Waiting => {}
                Delivery::Delivered(path) => self.out.push(WatchEvent::Delivered {
                    rule: name.clone(),
                    run: o.run_id,
                    path,
                }),
                Delivery::Failed(reason) => self.out.push(WatchEvent::OutputFailed {
                    rule: name.clone(),
                    run: o.run_id,
                    reason,
                }),
            }
        }
        self.store.settle_items(&name)?;
        self.retry_changed_model(i)?;
        if self.live[i].rule.after == After::Move {
            for item in self.store.unmoved_items(&name)? {
                self.move_input(i, &item.path, Some(item.id));
            }
        }
        Ok(())
    }

    /// Reads a `model =` rule's model again when its file has changed, so
    /// that arrivals are queued with the model that is there now.
    fn refresh_model(&mut self, i: usize) {
        let Some(path) = self.live[i].rule.model.as_ref().map(|m| m.path.clone()) else {
            return;
        };
        let before = stamp(&path);
        if before.is_some() && before == self.live[i].model_stamp {
            return;
        }
        match self.live[i].rule.reload_model() {
            Ok(changed) => {
                // A file still being written is read again once it is done.
                if stamp(&path) == before {
                    self.live[i].model_stamp = before;
                }
                if let Some(m) = self.live[i].rule.model.as_ref().filter(|_| changed) {
                    self.out.push(WatchEvent::ModelChanged {
                        rule: self.live[i].rule.name.clone(),
                        model: m.path.clone(),
                        sha256: m.sha256.clone(),
                    });
                }
            }
            Err(e) => {
                // Said once per change of the file; the rule keeps its model.
                self.live[i].model_stamp = before;
                self.error(i, e.to_string());
            }
        }
    }

    /// Queues again, with the rule's model as it is now, the outputs whose
    /// runs failed because the model file changed after they were queued.
    fn retry_changed_model(&mut self, i: usize) -> StoreResult<()> {
        let Some(sha) = self.live[i].rule.model.as_ref().map(|m| m.sha256.clone()) else {
            return Ok(());
        };
        let name = self.live[i].rule.name.clone();
        let mut failed: Vec<(WatchItem, Vec<(i64, String)>)> = Vec::new();
        for (item, run, style) in self.store.changed_input_failures(&name)? {
            if self.live[i].not_retried.contains(&item.id) {
                continue;
            }
            let run_model = self
                .store
                .get(run)?
                .inputs
                .into_iter()
                .find(|x| x.role == crate::jobs::Role::Model);
            if run_model.is_none_or(|m| m.sha256 == sha) {
                continue;
            }
            match failed.iter_mut().find(|(it, _)| it.id == item.id) {
                Some((_, outs)) => outs.push((run, style)),
                None => failed.push((item, vec![(run, style)])),
            }
        }
        for (item, outs) in failed {
            match self.retry(i, &item, &outs)? {
                Some((path, runs)) => self.out.push(WatchEvent::Queued {
                    rule: name.clone(),
                    path,
                    runs,
                }),
                None => {
                    self.live[i].not_retried.insert(item.id);
                }
            }
        }
        Ok(())
    }

    /// Queues the outputs `outs` (run, label) of failed `item` again, from
    /// where its input is now; `None` if it is gone or no longer the same.
    fn retry(
        &mut self,
        i: usize,
        item: &WatchItem,
        outs: &[(i64, String)],
    ) -> StoreResult<Option<(PathBuf, Vec<i64>)>> {
        let rule = &self.live[i].rule;
        let path = match &item.moved_to {
            Some(to) if to != Path::new("-") => to.clone(),
            Some(_) => return Ok(None),
            None => item.path.clone(),
        };
        let Some(sha) = item.sha256.clone() else {
            return Ok(None);
        };
        if crate::engine::nets::weights::sha256_file(&path)
            .ok()
            .as_ref()
            != Some(&sha)
        {
            return Ok(None);
        }
        let stem = item
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        let content = crate::jobs::Input::hashed(Role::Content, stem, path.clone(), sha);
        let runs: Vec<WatchedRun> = rule
            .watched_runs(content)
            .into_iter()
            .filter(|r| outs.iter().any(|(_, l)| *l == r.style))
            .collect();
        let old: Vec<i64> = outs.iter().map(|(r, _)| *r).collect();
        let ids = self
            .store
            .requeue_watched(item.id, &old, &runs, rule.priority)?;
        Ok(ids.map(|ids| (path, ids)))
    }

    fn refresh_counts(&mut self) {
        for l in &self.live {
            let name = &l.rule.name;
            let counts = self.store.watch_counts(name);
            let failures = self.store.watch_failures(name, FAILURES_SHOWN);
            if let (Ok(c), Ok(f)) = (counts, failures) {
                self.handle.update(name, |r| {
                    r.counts = c;
                    r.failures = f;
                });
            }
        }
    }
}

/// Rule states from the config and the ledger alone, for `atelier watch
/// status` when no watcher runs in this process.
pub fn rule_states(store: &Store, rules: &[RuleConfig]) -> StoreResult<Vec<RuleState>> {
    let paused = store.paused_rules()?;
    rules
        .iter()
        .map(|c| {
            let name = c.name();
            Ok(RuleState {
                paused: paused.contains(&name),
                counts: store.watch_counts(&name)?,
                failures: store.watch_failures(&name, FAILURES_SHOWN)?,
                name,
                inbox: c.inbox.clone(),
                output: c.output.clone(),
                styles: match &c.model {
                    Some(m) => vec![format!("model {m}")],
                    None => c.styles.clone(),
                },
                preset: c.preset.clone(),
                enabled: c.enabled,
                backend: match c.backend {
                    Backend::Auto => None,
                    Backend::Native => Some("native".into()),
                    Backend::Poll => Some("poll".into()),
                },
                arriving: 0,
                last_error: None,
            })
        })
        .collect()
}
