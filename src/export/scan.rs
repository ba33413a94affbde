//! Phase 2's first stage when content filters are asked for: scanning ahead of the
//! writes.
//!
//! Owns: which filters a run uses ([`resolve`]: an update keeps the earlier export's
//! filters) and the scanning stage ([`stream`]): one thread loads the plan's messages
//! in order, `jobs` threads ask the filters about the new ones (an update's earlier
//! messages keep their verdicts), and message and verdict go on through a bounded
//! channel to the per-message writers (rayon's workers, which never wait on
//! the network). A byte budget ([`BUDGET`]) bounds the messages held between load and
//! write, so memory stays bounded whatever the queue. In: the plan, a [`FilterSet`].
//! Out: [`Scanned`] messages, each with its verdict. Fails: never per message (a
//! filter's failure is an "unscanned" verdict); [`resolve`] refuses a filter set an
//! update cannot keep, or a filter that is not reachable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex};

use crate::filter::FilterSet;
use crate::filter::url::{FilterUrl, Role};
use crate::filter::verdict::Verdict;
use crate::manifest::Manifest;
use crate::queue::{Depth, LoadError, QueueSource};

use super::error::ExportError;
use super::plan::Plan;

/// Bytes of messages held at most between loading and writing (a larger message is
/// held alone).
pub const BUDGET: u64 = 32 << 20;

/// The filters of this run: the flags', or (an update) the earlier export's. An update
/// keeps which filters the export was made with: a new one, or one left out, is refused
/// (its messages would be judged differently); the address may change. Every filter is
/// asked whether it is there before anything is written.
pub fn resolve(
    given: Option<&FilterSet>,
    old: Option<&Manifest>,
) -> Result<Option<FilterSet>, ExportError> {
    let set = match old {
        None => given.cloned(),
        Some(o) => keep(given, o)?,
    };
    let set = set.filter(FilterSet::any);
    if let Some(s) = &set {
        s.check()
            .map_err(|e| ExportError::Refused(format!("{e}; nothing was written")))?;
    }
    Ok(set)
}

/// An update's filters: the earlier export's roles, at the flags' addresses if given.
fn keep(given: Option<&FilterSet>, o: &Manifest) -> Result<Option<FilterSet>, ExportError> {
    let recorded = |s: &Option<String>, role| {
        s.as_deref()
            .map(|u| FilterUrl::parse(u, role))
            .transpose()
            .map_err(|e| ExportError::Refused(format!("manifest.json: {e}")))
    };
    let spam = recorded(&o.options.spam_filter, Role::Spam)?;
    let virus = recorded(&o.options.virus_scan, Role::Virus)?;
    let mut set = given.cloned().unwrap_or(FilterSet {
        spam: None,
        virus: None,
        timeout: crate::filter::DEFAULT_TIMEOUT,
        jobs: crate::filter::DEFAULT_JOBS,
    });
    for (role, had, now) in [
        (Role::Spam, &spam, &mut set.spam),
        (Role::Virus, &virus, &mut set.virus),
    ] {
        match (had, now.is_some()) {
            (Some(u), false) => *now = Some(u.clone()),
            (None, true) => {
                return Err(ExportError::Refused(format!(
                    "this export was made without {}: --update keeps how its messages were judged; to scan every message, export again with --force and the filters",
                    role.flag()
                )));
            }
            _ => {}
        }
    }
    Ok(Some(set))
}

/// A budget of bytes shared by the scanning threads (taken) and the writers (given
/// back when a message is written).
pub struct Budget {
    left: Mutex<u64>,
    freed: Condvar,
}

/// Bytes taken from a [`Budget`], given back on drop.
pub struct Lease<'a> {
    budget: &'a Budget,
    n: u64,
}

impl Budget {
    pub fn new(total: u64) -> Budget {
        Budget {
            left: Mutex::new(total),
            freed: Condvar::new(),
        }
    }

    /// Waits until `n` bytes (at most the whole budget) are free and takes them.
    pub fn take(&self, n: u64, total: u64) -> Lease<'_> {
        let n = n.min(total);
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        while *left < n {
            left = self.freed.wait(left).unwrap_or_else(|e| e.into_inner());
        }
        *left -= n;
        Lease { budget: self, n }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut left = self.budget.left.lock().unwrap_or_else(|e| e.into_inner());
        *left += self.n;
        self.budget.freed.notify_all();
    }
}

/// One message loaded (or why not) and, when it is new, its verdict.
pub struct Scanned<'a> {
    pub loaded: Result<Vec<u8>, LoadError>,
    pub verdict: Option<Verdict>,
    pub _lease: Lease<'a>,
}

/// Where the scanning stage reads from: the spool, the run's abort flag, and which
/// queue IDs are new (only those are scanned).
pub struct Source<'a> {
    pub spool: &'a dyn QueueSource,
    pub abort: &'a AtomicBool,
    pub is_new: &'a (dyn Fn(&str) -> bool + Sync),
}

/// Runs the scanning stage and hands its output, `(index in the plan, message)` in the
/// order the messages are judged, to `consume` (on this thread): one thread loads the
/// messages in plan order (the only one of the stage that holds whole messages it
/// allocated: a thread's allocator keeps what it once held), `filters.jobs` threads
/// ask the filters about the new ones. Stops early when the run aborts or `consume`
/// stops reading.
pub fn stream<'b, R>(
    src: &Source,
    plan: &Plan,
    filters: &FilterSet,
    budget: &'b Budget,
    consume: impl FnOnce(Receiver<(usize, Scanned<'b>)>) -> R,
) -> R {
    let jobs = filters.jobs.max(1);
    let (out_tx, out_rx) = sync_channel(jobs);
    let (work_tx, work_rx) = sync_channel(jobs);
    let work_rx = Mutex::new(work_rx);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let (out, work) = (out_tx.clone(), &work_rx);
            s.spawn(move || scan_loop(work, out, filters));
        }
        s.spawn(move || load_loop(src, plan, budget, work_tx, out_tx));
        consume(out_rx)
    })
}

type Item<'b> = (usize, Scanned<'b>);

/// Loads every message in plan order, each within the byte budget: a new one goes to
/// the scanners (`work`), any other (an update's earlier message, or one that could
/// not be loaded) straight on (`out`).
fn load_loop<'b>(
    src: &Source,
    plan: &Plan,
    budget: &'b Budget,
    work: SyncSender<Item<'b>>,
    out: SyncSender<Item<'b>>,
) {
    for (i, pm) in plan.messages.iter().enumerate() {
        if src.abort.load(Ordering::Relaxed) {
            break;
        }
        let lease = budget.take(pm.bytes, BUDGET);
        let loaded = src
            .spool
            .load(&pm.entry, Depth::Full)
            .map(|l| l.message_bytes());
        let scan = loaded.is_ok() && (src.is_new)(pm.entry.id.as_str());
        let m = Scanned {
            loaded,
            verdict: None,
            _lease: lease,
        };
        let to = if scan { &work } else { &out };
        if to.send((i, m)).is_err() {
            break;
        }
    }
}

/// Takes loaded messages from `work`, asks the filters, passes them on.
fn scan_loop<'b>(work: &Mutex<Receiver<Item<'b>>>, out: SyncSender<Item<'b>>, filters: &FilterSet) {
    loop {
        let next = work.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((i, mut m)) = next else { break };
        if let Ok(b) = &m.loaded {
            m.verdict = Some(filters.scan(b));
        }
        if out.send((i, m)).is_err() {
            break;
        }
    }
}
