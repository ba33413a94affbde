//! Phase 2 of an export: one message at a time per worker thread.
//!
//! Owns: loading one queue file in full, comparing it with an earlier export's entry
//! (`--update`: same queue ID and SHA-256 → only new mailboxes are added; different
//! content → an error, not mixed in), building its manifest entry, writing the archive
//! copy `messages/<queue-id>.eml`, and running every per-message sink
//! ([`super::sink::Sink::message`]) for each mailbox this run adds it to. What later
//! phases need (manifest entry, summary, files written, delivery headers per mailbox)
//! goes to the spill file. In: the [`Plan`]. Out: one [`MsgOut`] per exported message,
//! plus problems. Fails with the first write error (the other workers then stop).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::bytes::Bytes;
use crate::decode::{Decoded, decode};
use crate::filter::FilterSet;
use crate::manifest::{Attachment, Exported, ManifestMessage, Problem};
use crate::queue::{Depth, LoadError, QueueSource};
use crate::report::model::MessageInfo;

use super::config::VerdictCounts;
use super::error::ExportError;
use super::plan::{self, Plan, Planned};
use super::prepend;
use super::progress::Progress;
use super::scan::{self, Scanned};
use super::sink::{Dest, LazyDecoded, Message, Summary};
use super::sinks::Formats;
use super::sinks::render_message;
use super::sinks::text;
use super::spill::{Slot, Spill};
use super::tree::Tree;
use super::write;
use crate::decode::names;
use crate::filter::verdict::{Filing, SpamAction, Verdict, VerdictKind, filing_of};

/// What every worker shares.
pub struct Ctx<'a> {
    pub spool: &'a dyn QueueSource,
    pub out: &'a Path,
    pub formats: Formats,
    pub mailboxes: &'a [Vec<u8>],
    /// Directory name of each mailbox (same index).
    pub dirs: Vec<&'a str>,
    /// The earlier export's messages and (mailbox, queue ID) pairs (`--update`).
    pub old_msgs: BTreeMap<&'a str, &'a ManifestMessage>,
    pub old_pairs: BTreeSet<(Vec<u8>, &'a str)>,
    pub spill: &'a Spill,
    /// Where spam goes (`--spam-action`): with the verdict, each message's [`Filing`].
    pub spam_action: SpamAction,
    pub abort: AtomicBool,
    /// Files written so far (a failure after the first one is a partial run).
    pub written: AtomicUsize,
}

/// What phase 2 keeps of one exported message (the records are in the spill file).
pub struct MsgOut {
    pub arrival: i64,
    pub bytes: u64,
    /// The [`ManifestMessage`], pretty JSON.
    pub message: Slot,
    /// Its [`Summary`], compact JSON.
    pub summary: Slot,
    /// Mailboxes (indices) this message was newly added to.
    pub added: Vec<u32>,
    /// `FileEntry`s written (compact JSON), by mailbox index.
    pub files: Vec<(u32, Slot)>,
    /// Delivery headers of every mailbox of the message (raw bytes), by mailbox key.
    pub prepends: Vec<(Vec<u8>, Slot)>,
    /// What the filters made of it.
    pub filed: Filed,
    /// This run's scan of it failed (a filter's timeout, garbage, size limit).
    pub unscanned: Option<Problem>,
    /// The verdict this run gave it (`None`: not scanned by this run).
    pub scanned: Option<VerdictKind>,
}

/// What the filters made of a message, as the later phases need it (the verdict
/// itself is in the manifest entry and the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    /// Where it goes in each of its bundles (from its verdict and the spam action).
    pub filing: Filing,
    /// A spam filter judged it (the export filters spam).
    pub spam_checked: bool,
    /// Its verdict's kind, if any filter was asked for.
    pub kind: Option<VerdictKind>,
    /// A filter failed on it.
    pub unscanned: bool,
}

impl Filed {
    pub fn of(v: Option<&Verdict>, action: SpamAction) -> Filed {
        Filed {
            filing: filing_of(v, action),
            spam_checked: v.is_some_and(|v| v.spam.is_some()),
            kind: v.map(|v| v.verdict),
            unscanned: v.is_some_and(Verdict::marked_unscanned),
        }
    }
}

enum MsgResult {
    Done(Box<MsgOut>),
    Problem { skip: bool, problem: Problem },
    Fatal(ExportError),
    Aborted,
}

/// Phase 2's outcome: the exported messages (with their index in the plan) and the
/// problems found on the way.
pub struct Written {
    pub done: Vec<(usize, MsgOut)>,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
    /// Messages this run scanned that a filter could not judge.
    pub unscanned: Vec<Problem>,
    /// The verdicts this run gave, counted.
    pub counts: VerdictCounts,
}

fn new_message(
    mut info: MessageInfo,
    usec: i64,
    sha: String,
    len: u64,
    d: &Decoded,
) -> ManifestMessage {
    info.warnings.extend(d.warnings.iter().cloned());
    let exported = Exported {
        store: format!("messages/{}.eml", info.queue_id),
        sha256: sha,
        bytes: len,
        arrival_usec: usec,
        message_id: d.message_id.clone().map(Bytes),
        subject: d.subject.clone(),
        from: d.from.clone(),
        date: d.date.clone(),
        attachments: d
            .attachments
            .iter()
            .map(|a| Attachment {
                name: a.name.clone(),
                original_name: a.original_name.clone().map(|o| Bytes(o.into_bytes())),
                content_type: a.content_type.clone(),
                size: a.data.len() as u64,
            })
            .collect(),
    };
    ManifestMessage {
        info,
        exported,
        verdict: None,
    }
}

/// Runs phase 2 over the plan on the current rayon pool. With `filters`, a scanning
/// stage ([`super::scan`]) loads and scans each message ahead of the writers. A failure
/// after some file was written is [`ExportError::Partial`].
pub fn run(
    ctx: &Ctx,
    plan: &Plan,
    filters: Option<&FilterSet>,
    progress: &dyn Progress,
) -> Result<Written, ExportError> {
    let one = |i: usize, pre: Option<Scanned>| {
        let r = export_message(ctx, &plan.messages[i], pre).unwrap_or_else(|e| {
            ctx.abort.store(true, Ordering::Relaxed);
            MsgResult::Fatal(e)
        });
        progress.tick();
        (i, r)
    };
    let mut results: Vec<(usize, MsgResult)> = match filters {
        None => (0..plan.messages.len())
            .into_par_iter()
            .map(|i| one(i, None))
            .collect(),
        Some(f) => {
            let budget = scan::Budget::new(scan::BUDGET);
            let is_new = |id: &str| !ctx.old_msgs.contains_key(id);
            let src = scan::Source {
                spool: ctx.spool,
                abort: &ctx.abort,
                is_new: &is_new,
            };
            scan::stream(&src, plan, f, &budget, |rx| {
                rx.into_iter()
                    .par_bridge()
                    .map(|(i, m)| one(i, Some(m)))
                    .collect()
            })
        }
    };
    // Finished in any order: listed in the plan's.
    results.sort_unstable_by_key(|r| r.0);
    collect(ctx, plan, results)
}

/// Phase 2's results in plan order: the done messages, the problems, the first fatal
/// error (as a partial run once something was written).
fn collect(
    ctx: &Ctx,
    plan: &Plan,
    results: Vec<(usize, MsgResult)>,
) -> Result<Written, ExportError> {
    let mut w = Written {
        done: Vec::new(),
        errors: plan.errors.clone(),
        skipped: plan.skipped.clone(),
        unscanned: Vec::new(),
        counts: VerdictCounts::default(),
    };
    let mut fatal = None;
    for (i, r) in results {
        match r {
            MsgResult::Done(m) => {
                if let Some(p) = &m.unscanned {
                    w.unscanned.push(p.clone());
                }
                if let Some(k) = m.scanned {
                    w.counts.add(k);
                }
                w.done.push((i, *m))
            }
            MsgResult::Problem {
                skip: true,
                problem,
            } => w.skipped.push(problem),
            MsgResult::Problem { problem, .. } => w.errors.push(problem),
            MsgResult::Fatal(e) => {
                fatal.get_or_insert(e);
            }
            MsgResult::Aborted => {}
        }
    }
    let written = ctx.written.load(Ordering::Relaxed);
    if let Some(e) = fatal {
        return Err(super::error::partial(e, written));
    }
    ctx.spill
        .flush()
        .map_err(|e| super::error::partial(e, written))?;
    Ok(w)
}

/// The message's bytes and (scanned ahead) its verdict: from the scanning stage, else
/// loaded here.
fn loaded(
    ctx: &Ctx,
    pm: &Planned,
    pre: Option<Scanned>,
) -> Result<(Vec<u8>, Option<Verdict>), LoadError> {
    match pre {
        Some(s) => s.loaded.map(|b| (b, s.verdict)),
        None => ctx
            .spool
            .load(&pm.entry, Depth::Full)
            .map(|l| (l.message_bytes(), None)),
    }
}

fn export_message(ctx: &Ctx, pm: &Planned, pre: Option<Scanned>) -> Result<MsgResult, ExportError> {
    if ctx.abort.load(Ordering::Relaxed) {
        return Ok(MsgResult::Aborted);
    }
    let (bytes, verdict) = match loaded(ctx, pm, pre) {
        Ok(l) => l,
        Err(e) => {
            let (skip, problem) = plan::load_problem(&e);
            return Ok(MsgResult::Problem { skip, problem });
        }
    };
    let info: MessageInfo = ctx.spill.get_json(pm.info)?;
    let id = pm.entry.export_id();
    let arrival = pm.arrival_unix;
    // Only a new message is scanned (an earlier export's keeps its verdict).
    let scanned_now = verdict.is_some();
    let sha = hex::encode(Sha256::digest(&bytes));
    let stem = names::stem(arrival, id);
    let files_label = text::files_dir(&stem);
    let (message, keys, write_archive, decoded) = match ctx.old_msgs.get(id) {
        Some(old) if old.exported.sha256 != sha => return Ok(reused_id(pm)),
        Some(old) => {
            let (m, keys, write) = update_entry(ctx, pm, old, &info, &bytes, &sha);
            (m, keys, write, LazyDecoded::new(&bytes, &files_label))
        }
        None => {
            let d = decode(&bytes, &files_label);
            let mut m = new_message(info, pm.arrival_usec, sha, bytes.len() as u64, &d);
            m.verdict = verdict;
            (
                m,
                pm.keys.clone(),
                true,
                LazyDecoded::with(&bytes, &files_label, d),
            )
        }
    };
    if write_archive {
        let p = ctx.out.join(&message.exported.store);
        // Hashed once, above (the earlier export's copy is compared with that hash).
        write::write_known(&p, &bytes, &message.exported.sha256, Some(arrival))?;
        ctx.written.fetch_add(1, Ordering::Relaxed);
    }
    // Delivery headers of every mailbox, in one pass over the recipients.
    let headers = prepend::by_mailbox(&message.info);
    let summary = Summary::of(&message);
    let filed = Filed::of(message.verdict.as_ref(), ctx.spam_action);
    let filing = filed.filing;
    let view = Message {
        bytes: &bytes,
        summary: &summary,
        mailbox: &[],
        prepend: &[],
        stem: &stem,
        arrival: (arrival, pm.arrival_usec),
        formats: ctx.formats,
        filing,
        decoded: &decoded,
    };
    let files = match filing {
        // In no file of any bundle: only the archive copy, for the administrator.
        Filing::Withheld => Vec::new(),
        _ => write_mailboxes(ctx, &keys, &message.info, &headers, &view)?,
    };
    let mut prepends = Vec::with_capacity(headers.len());
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = headers.into_iter().collect();
    headers.sort_unstable();
    for (k, h) in headers {
        prepends.push((k, ctx.spill.put(&h)?));
    }
    let summary = ctx.spill.put_json(&summary, false)?;
    let slot = ctx.spill.put_json(&message, true)?;
    Ok(MsgResult::Done(Box::new(MsgOut {
        arrival: message.info.arrival_unix,
        bytes: message.exported.bytes,
        message: slot,
        summary,
        added: keys,
        files,
        prepends,
        filed,
        unscanned: scanned_now
            .then(|| unscanned_problem(pm, &message))
            .flatten(),
        scanned: scanned_now
            .then(|| message.verdict.as_ref().map(|v| v.verdict))
            .flatten(),
    })))
}

/// A message this run scanned that a filter could not judge (listed, exit 1).
fn unscanned_problem(pm: &Planned, m: &ManifestMessage) -> Option<Problem> {
    let v = m.verdict.as_ref().filter(|v| v.marked_unscanned())?;
    Some(Problem {
        path: pm.entry.path.display().to_string(),
        queue_id: Some(m.info.queue_id.clone()),
        reason: format!(
            "{}: unscanned (filed in the inbox, marked): {}",
            m.info.queue_id,
            v.unscanned.join("; ")
        ),
    })
}

/// The error for a queue ID already exported with different content.
fn reused_id(pm: &Planned) -> MsgResult {
    let id = pm.entry.export_id();
    MsgResult::Problem {
        skip: false,
        problem: Problem {
            path: pm.entry.path.display().to_string(),
            queue_id: Some(id.to_string()),
            reason: format!(
                "queue ID {id} is already in this export with different content (Postfix reused the ID); not added — export it into a new directory"
            ),
        },
    }
}

/// An earlier export's entry `old` for the same content, updated (`--update`): this
/// run's arrival time and new recipients (`info`), the mailboxes it is not yet in, and
/// whether its archive copy must be written again (missing or damaged).
fn update_entry(
    ctx: &Ctx,
    pm: &Planned,
    old: &ManifestMessage,
    info: &MessageInfo,
    bytes: &[u8],
    sha: &str,
) -> (ManifestMessage, Vec<u32>, bool) {
    let id = pm.entry.export_id();
    let mut m = old.clone();
    m.exported.arrival_usec = pm.arrival_usec;
    let known: HashSet<usize> = m.info.recipients.iter().map(|x| x.offset).collect();
    for r in &info.recipients {
        if !known.contains(&r.offset) {
            m.info.recipients.push(r.clone());
        }
    }
    m.info.recipients.sort_by_key(|r| r.offset);
    let keys: Vec<u32> = pm
        .keys
        .iter()
        .filter(|&&k| {
            !ctx.old_pairs
                .contains(&(ctx.mailboxes[k as usize].clone(), id))
        })
        .copied()
        .collect();
    // A missing or damaged archive copy is written again from the queue file.
    let present = write::hash_file(&ctx.out.join(&m.exported.store))
        .is_ok_and(|w| w.size == bytes.len() as u64 && w.sha256 == sha);
    (m, keys, !present)
}

/// Runs every per-message sink for each mailbox in `keys`, the message seen as `view`
/// with that mailbox and its delivery headers (from `headers`, else made from `info`).
/// Returns the files written, by mailbox index.
fn write_mailboxes(
    ctx: &Ctx,
    keys: &[u32],
    info: &MessageInfo,
    headers: &HashMap<Vec<u8>, Vec<u8>>,
    view: &Message,
) -> Result<Vec<(u32, Slot)>, ExportError> {
    let mut files = Vec::new();
    for &k in keys {
        let key = &ctx.mailboxes[k as usize];
        let pre = prepend::lookup(headers, info, key);
        let view = Message {
            mailbox: key,
            prepend: &pre,
            ..*view
        };
        let mut dest = Tree::new(ctx.out, ctx.dirs[k as usize]);
        if view.filing == Filing::Junk {
            junk_dirs(ctx.formats, &mut dest)?;
        }
        let res = render_message(ctx.formats, &view, &mut dest);
        let entries = dest.into_entries();
        ctx.written.fetch_add(entries.len(), Ordering::Relaxed);
        res?;
        for e in entries {
            files.push((k, ctx.spill.put_json(&e, false)?));
        }
    }
    Ok(files)
}

/// Makes the directories every sink of `formats` files Junk into, in `dest`.
pub fn junk_dirs(formats: Formats, dest: &mut dyn Dest) -> Result<(), ExportError> {
    for d in formats.sinks().flat_map(|s| s.junk_dirs()) {
        dest.dir(d)?;
    }
    Ok(())
}

impl<'a> Ctx<'a> {
    pub fn new(
        spool: &'a dyn QueueSource,
        out: &'a Path,
        formats: Formats,
        plan: &'a Plan,
        dirs: &'a BTreeMap<Vec<u8>, String>,
        old: Option<&'a crate::manifest::Manifest>,
        spill: &'a Spill,
    ) -> Ctx<'a> {
        let mut old_pairs = BTreeSet::new();
        let mut old_msgs = BTreeMap::new();
        if let Some(o) = old {
            for r in &o.recipients {
                let k = names::mailbox_key(&r.address.0);
                for id in &r.messages {
                    old_pairs.insert((k.clone(), id.as_str()));
                }
            }
            for m in &o.messages {
                old_msgs.insert(m.info.queue_id.as_str(), m);
            }
        }
        Ctx {
            spool,
            out,
            formats,
            mailboxes: &plan.mailboxes,
            dirs: plan.mailboxes.iter().map(|k| dirs[k].as_str()).collect(),
            old_msgs,
            old_pairs,
            spill,
            spam_action: SpamAction::default(),
            abort: AtomicBool::new(false),
            written: AtomicUsize::new(0),
        }
    }
}
