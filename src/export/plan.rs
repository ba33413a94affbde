//! Phase 1 of an export: decide what goes where.
//!
//! Owns: walking the spool, reading every envelope (in parallel, content skipped),
//! applying the selection (queues are the walk's; queue IDs, arrival window, recipient
//! and domain filters, validity lists, pending vs done), skipping address-verification
//! probes, grouping the selected recipients of each message into mailboxes
//! (case-folded addresses; one bundle per mailbox even when an address appears twice),
//! and sorting messages oldest first (arrival, then queue ID). In: a [`QueueSource`] and the
//! filters, and a [`Spill`] file. Out: a [`Plan`] holding per message only what the
//! later phases need to find and order it (queue entry, arrival, mailbox indices); its
//! scan object ([`MessageInfo`]) goes to the spill file as JSON. With several spools
//! the messages are read whole for their content key ([`Content`]; the run then gives
//! each recipient one copy: `dedupe`). Per-file failures become [`Problem`]s; only a
//! failing spill write fails the phase.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::manifest::Problem;
use crate::queue::walk::WalkResult;
use crate::queue::{Depth, LoadError, LoadErrorKind, QueueEntry, QueueSource, RcptState};
use crate::report::model::MessageInfo;
use crate::report::select::Selection;

use super::content::Content;
use super::error::ExportError;
use super::spill::{Slot, Spill};
use crate::decode::names::mailbox_key;

/// Message-level filters (recipient filters are in [`Selection`]).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub ids: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub include_done: bool,
}

/// One message to export.
#[derive(Debug, Clone)]
pub struct Planned {
    pub entry: QueueEntry,
    pub arrival_unix: i64,
    pub arrival_usec: i64,
    /// The message's size as the envelope gives it (what the disk-space estimate uses).
    pub bytes: u64,
    /// The scan object ([`MessageInfo`], JSON) in the spill file; `recipients` are the
    /// selected ones only.
    pub info: Slot,
    /// The mailboxes this message goes to: indices into [`Plan::mailboxes`], sorted.
    pub keys: Vec<u32>,
    /// Its selected recipient records; more than `keys` when one mailbox is listed twice
    /// (the same address with another ORCPT): those share one copy.
    pub records: usize,
    /// Its content key, when several spools are read (else `None`).
    pub content: Option<Content>,
}

/// A planned message with its scan object still in memory (one per worker at a time).
struct Full {
    info: MessageInfo,
    arrival_usec: i64,
    keys: Vec<Vec<u8>>,
    content: Option<Content>,
}

/// The outcome of phase 1.
#[derive(Debug, Default)]
pub struct Plan {
    /// Oldest first: arrival time, then queue ID.
    pub messages: Vec<Planned>,
    /// Every mailbox a message goes to, sorted, each once.
    pub mailboxes: Vec<Vec<u8>>,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
}

/// A load failure as a problem; `true` when it is not an error (the file vanished:
/// Postfix delivered or deleted it during the run).
pub fn load_problem(e: &LoadError) -> (bool, Problem) {
    (
        e.kind == LoadErrorKind::Vanished,
        Problem {
            path: e.path.display().to_string(),
            queue_id: Some(e.queue_id.clone()),
            reason: e.to_string(),
        },
    )
}

enum Outcome<T> {
    Take(T),
    Skip(Problem),
    Error(Problem),
    Ignore,
}

fn consider(
    spool: &dyn QueueSource,
    e: &QueueEntry,
    sel: &Selection,
    f: &Filters,
    filtering: bool,
    dedupe: bool,
) -> Outcome<Box<Full>> {
    let depth = match dedupe {
        true => Depth::Full,
        false => Depth::EnvelopeOnly,
    };
    let l = match spool.load(e, depth) {
        Ok(l) => l,
        Err(err) => {
            let (skip, p) = load_problem(&err);
            return if skip {
                Outcome::Skip(p)
            } else {
                Outcome::Error(p)
            };
        }
    };
    let arrival = l.arrival_secs;
    if f.since.is_some_and(|s| arrival < s) || f.until.is_some_and(|u| arrival >= u) {
        return Outcome::Ignore;
    }
    let mut info = MessageInfo::from_queued(&l);
    if l.probe {
        return Outcome::Skip(Problem {
            path: e.path.display().to_string(),
            queue_id: Some(e.id.clone()),
            reason: "address-verification probe (not real mail)".into(),
        });
    }
    let matched: Vec<_> = info
        .recipients
        .iter()
        .filter(|r| r.status != RcptState::Cancelled && sel.matches(&r.address.0))
        .cloned()
        .collect();
    if matched.is_empty() {
        return if filtering {
            Outcome::Ignore
        } else {
            Outcome::Skip(Problem {
                path: e.path.display().to_string(),
                queue_id: Some(e.id.clone()),
                reason: "no recipients".into(),
            })
        };
    }
    let chosen: Vec<_> = matched
        .into_iter()
        .filter(|r| r.status == RcptState::Pending || f.include_done)
        .collect();
    if chosen.is_empty() {
        return Outcome::Skip(Problem {
            path: e.path.display().to_string(),
            queue_id: Some(e.id.clone()),
            reason: "no pending recipients (all delivered or bounced; --include-done exports them)"
                .into(),
        });
    }
    info.recipients = chosen;
    if sel.valid.is_some() {
        for r in &info.recipients {
            if sel.is_valid(&r.address.0) == Some(false) {
                info.warnings.push(format!(
                    "recipient {} is not in the recipient lists",
                    r.address.display()
                ));
            }
        }
    }
    let keys: BTreeSet<Vec<u8>> = info
        .recipients
        .iter()
        .map(|r| mailbox_key(&r.address.0))
        .collect();
    Outcome::Take(Box::new(Full {
        info,
        arrival_usec: l.arrival_usec,
        keys: keys.into_iter().collect(),
        content: dedupe.then(|| Content::of(&l.sender, &l.message_bytes())),
    }))
}

/// A planned message with its mailbox keys (not yet indices).
type Taken = (Planned, Vec<Vec<u8>>);

/// The names an earlier export gave its messages, by (spool, queue ID there): an
/// `--update` of an export of several spools keeps them, so a queue ID that collides
/// now and did not then (or the reverse) does not make the same message new again.
pub type Names = BTreeMap<(String, String), String>;

/// Gives each entry the name `names` has for it (see [`Names`]).
fn keep_names(entries: &mut [QueueEntry], names: &Names) {
    for e in entries {
        let Some(spool) = e.origin.spool.as_deref() else {
            continue;
        };
        if let Some(name) = names.get(&(spool.to_string(), e.id.clone())) {
            e.origin.qualified = (*name != e.id).then(|| name.clone());
        }
    }
}

/// Runs phase 1 on the current rayon pool; scan objects go to `spill`. `names`: an
/// earlier export's names ([`Names`]; empty for a new export).
pub fn plan(
    spool: &dyn QueueSource,
    sel: &Selection,
    f: &Filters,
    spill: &Spill,
    names: &Names,
    progress: &dyn super::progress::Progress,
) -> Result<Plan, ExportError> {
    progress.phase("listing the queue", 0);
    let mut walk = spool.walk();
    keep_names(&mut walk.entries, names);
    let mut plan = Plan::default();
    walk_problems(&mut plan, &walk);
    let entries = wanted_entries(spool, walk.entries, &f.ids, &mut plan);
    let filtering = !sel.recipients.is_empty() || !sel.domains.is_empty() || sel.only_valid;
    let merged = spool.roots().len() > 1;
    progress.phase("reading envelopes", entries.len() as u64);
    let outcomes: Vec<Result<Outcome<Taken>, ExportError>> = entries
        .into_par_iter()
        .map(|e| {
            let o = consider(spool, &e, sel, f, filtering, merged);
            progress.tick();
            take(e, o, spill)
        })
        .collect();
    let mut taken = Vec::new();
    let mut mailboxes = BTreeSet::new();
    for o in outcomes {
        match o? {
            Outcome::Take(p) => {
                mailboxes.extend(p.1.iter().cloned());
                taken.push(p);
            }
            Outcome::Skip(p) => plan.skipped.push(p),
            Outcome::Error(p) => plan.errors.push(p),
            Outcome::Ignore => {}
        }
    }
    number_mailboxes(&mut plan, taken, mailboxes);
    plan.messages.sort_by(|a, b| {
        (a.arrival_unix, a.entry.export_id()).cmp(&(b.arrival_unix, b.entry.export_id()))
    });
    spill.flush()?;
    Ok(plan)
}

/// The walk's unreadable entries (errors), odd names and duplicates (skipped).
fn walk_problems(plan: &mut Plan, walk: &WalkResult) {
    plan.errors.extend(walk.problems.iter().map(|p| Problem {
        path: p.path.display().to_string(),
        queue_id: None,
        reason: p.reason.clone(),
    }));
    plan.skipped.extend(walk.ignored.iter().map(|p| Problem {
        path: p.display().to_string(),
        queue_id: None,
        reason: "not a queue file name (temporary or leftover file)".into(),
    }));
    plan.skipped.extend(walk.duplicates.iter().map(|p| Problem {
        path: p.display().to_string(),
        queue_id: p.file_name().map(|n| n.to_string_lossy().into_owned()),
        reason: "queue ID seen twice (moved during the run); exported once".into(),
    }));
}

/// The walk's entries with `--id`'s queue IDs (all without); an ID not found is an
/// error. With several spools an ID names its copies in every spool, `ID+N` the one in
/// the Nth. The entries move into the plan (no second copy per message).
fn wanted_entries(
    spool: &dyn QueueSource,
    all: Vec<QueueEntry>,
    ids: &[String],
    plan: &mut Plan,
) -> Vec<QueueEntry> {
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let entries: Vec<QueueEntry> = all
        .into_iter()
        .filter(|e| {
            wanted.is_empty() || wanted.contains(e.id.as_str()) || wanted.contains(e.export_id())
        })
        .collect();
    for id in &wanted {
        if !entries.iter().any(|e| e.id == *id || e.export_id() == *id) {
            plan.errors.push(Problem {
                path: spool.root().display().to_string(),
                queue_id: Some(id.to_string()),
                reason: format!("queue ID {id} not found in the selected queues"),
            });
        }
    }
    entries
}

/// A message taken: its scan object goes to the spill file, the plan keeps the entry,
/// times, size and the slot.
fn take(
    e: QueueEntry,
    o: Outcome<Box<Full>>,
    spill: &Spill,
) -> Result<Outcome<Taken>, ExportError> {
    Ok(match o {
        Outcome::Take(full) => {
            let full = *full;
            let slot = spill.put_json(&full.info, false)?;
            // The content size; the file's when the size record says nothing.
            let bytes = match full.info.size {
                0 => e.size,
                n => n,
            };
            Outcome::Take((
                Planned {
                    entry: e,
                    arrival_unix: full.info.arrival_unix,
                    arrival_usec: full.arrival_usec,
                    bytes,
                    records: full.info.recipients.len(),
                    info: slot,
                    keys: Vec::new(),
                    content: full.content,
                },
                full.keys,
            ))
        }
        Outcome::Skip(p) => Outcome::Skip(p),
        Outcome::Error(p) => Outcome::Error(p),
        Outcome::Ignore => Outcome::Ignore,
    })
}

/// Numbers the mailboxes in key order; each message's keys become those numbers.
fn number_mailboxes(plan: &mut Plan, taken: Vec<Taken>, mailboxes: BTreeSet<Vec<u8>>) {
    let index: BTreeMap<&Vec<u8>, u32> = mailboxes
        .iter()
        .enumerate()
        .map(|(i, k)| (k, i as u32))
        .collect();
    plan.messages = taken
        .into_iter()
        .map(|(mut p, keys)| {
            p.keys = keys.iter().map(|k| index[k]).collect();
            p
        })
        .collect();
    drop(index);
    plan.mailboxes = mailboxes.into_iter().collect();
}
