//! Phase 2's first stage when content filters are asked for: scanning ahead of the
//! writes.
//!
//! Owns: which filters a run uses ([`resolve`]: an update keeps the earlier export's
//! filters) and the scanning stage ([`stream`]): `jobs` threads take the plan's
//! messages in order, load each, ask the filters about the new ones (an update's
//! earlier messages keep their verdicts) and hand message and verdict on through a
//! bounded channel to the per-message writers (rayon's workers, which never wait on
//! the network). A byte budget ([`BUDGET`]) bounds the messages held between load and
//! write, so memory stays bounded whatever the queue. In: the plan, a [`FilterSet`].
//! Out: [`Scanned`] messages, each with its verdict. Fails: never per message (a
//! filter's failure is an "unscanned" verdict); [`resolve`] refuses a filter set an
//! update cannot keep, or a filter that is not reachable.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
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

/// Runs the scanning threads and hands their output, `(index in the plan, message)` in
/// the order they finish, to `consume` (on this thread). Stops early when the run
/// aborts or `consume` stops reading.
pub fn stream<'b, R>(
    src: &Source,
    plan: &Plan,
    filters: &FilterSet,
    budget: &'b Budget,
    consume: impl FnOnce(Receiver<(usize, Scanned<'b>)>) -> R,
) -> R {
    let jobs = filters.jobs.max(1);
    let (tx, rx) = sync_channel(jobs);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(pm) = plan.messages.get(i) else {
                        break;
                    };
                    if src.abort.load(Ordering::Relaxed) {
                        break;
                    }
                    let lease = budget.take(pm.bytes, BUDGET);
                    let loaded = src
                        .spool
                        .load(&pm.entry, Depth::Full)
                        .map(|l| l.message_bytes());
                    let new = (src.is_new)(pm.entry.id.as_str());
                    let verdict = match (&loaded, new) {
                        (Ok(b), true) => Some(filters.scan(b)),
                        _ => None,
                    };
                    let m = Scanned {
                        loaded,
                        verdict,
                        _lease: lease,
                    };
                    if tx.send((i, m)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        consume(rx)
    })
}
