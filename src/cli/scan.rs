//! `mxsalvage scan`: walk, read envelopes in parallel, summarise — as a stream.
//!
//! The walk hands queue files over in walk order; they are read in chunks of
//! [`CHUNK`] on the worker pool and written in that same order, so the output is the
//! same at any thread count and memory holds one chunk, not the queue. Formats: the
//! text report and `--json` (summaries accumulated on the way, problems spilled to a
//! temporary file), `--format postqueue` (`postqueue -j` lines) and `--list` (`mailq`).

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use rayon::prelude::*;

use super::{SpoolCtx, pool};
use crate::cli::args::ScanArgs;
use mxsalvage::exit::Exit;
use mxsalvage::queue::walk::WalkEvent;
use mxsalvage::queue::{Depth, QueueEntry, QueueSource};
use mxsalvage::report::listing::{Listed, mailq_footer, mailq_heading};
use mxsalvage::report::model::MessageInfo;
use mxsalvage::report::scan::{
    FileModes, Head, JsonReport, Problem, ProblemLog, Summary, write_text,
};
use mxsalvage::report::select::{Asked, Selection, why_nothing};
use mxsalvage::timefmt::{now, rfc3339};

/// Queue files read per batch.
const CHUNK: usize = 512;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Postqueue,
    Mailq,
}

/// What one queue file gave.
enum Item {
    Message(Box<MessageInfo>, Option<Listed>),
    Error(Problem),
    Skip(Problem),
    Gone,
}

/// Where the items go, per format.
struct Out<'a> {
    format: Format,
    w: BufWriter<io::StdoutLock<'a>>,
    summary: Summary,
    json: Option<JsonReport>,
    head: Head,
    messages: u64,
    errors: ProblemLog,
    skipped: ProblemLog,
    listed: u64,
    listed_bytes: u64,
    long_ids: bool,
}

impl Out<'_> {
    /// An empty output for `format`, writing to a buffered stdout.
    fn new(format: Format, head: &Head, now: i64, long_ids: bool) -> Self {
        Out {
            format,
            w: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            summary: Summary::new(now),
            json: None,
            head: head.clone(),
            messages: 0,
            errors: ProblemLog::new(),
            skipped: ProblemLog::new(),
            listed: 0,
            listed_bytes: 0,
            long_ids,
        }
    }

    /// Writes what comes after the messages (report, JSON tail, mailq footer) and flushes.
    fn finish(mut self, head: &Head, sel: &Selection) -> io::Result<()> {
        match self.format {
            Format::Text => {
                let recipients = self.summary.recipients(|a| sel.is_valid(a));
                write_text(
                    &mut self.w,
                    head,
                    &self.summary,
                    &recipients,
                    &mut self.errors,
                    &mut self.skipped,
                )?;
            }
            Format::Json => {
                let recipients = self.summary.recipients(|a| sel.is_valid(a));
                if self.json.is_none() {
                    self.json = Some(JsonReport::begin(&mut self.w, head)?);
                }
                if let Some(j) = self.json.take() {
                    j.finish(
                        &mut self.w,
                        &recipients,
                        self.summary.queues(),
                        &mut self.errors,
                        &mut self.skipped,
                    )?;
                }
            }
            Format::Postqueue => {}
            Format::Mailq => {
                let footer = mailq_footer(self.listed, self.listed_bytes);
                self.w.write_all(footer.as_bytes())?;
            }
        }
        self.w.flush()
    }

    fn message(&mut self, m: &MessageInfo, l: Option<&Listed>) -> io::Result<()> {
        self.messages += 1;
        match self.format {
            Format::Text => self.summary.add(m),
            Format::Json => {
                self.summary.add(m);
                // The document starts with the first message (so that a selection that
                // matches nothing can still be an error with nothing printed).
                if self.json.is_none() {
                    self.json = Some(JsonReport::begin(&mut self.w, &self.head)?);
                }
                if let Some(j) = &mut self.json {
                    j.message(&mut self.w, m)?;
                }
            }
            Format::Postqueue => {
                if let Some(l) = l {
                    self.w.write_all(l.json_line().as_bytes())?;
                }
            }
            Format::Mailq => {
                if let Some(l) = l {
                    if self.listed == 0 {
                        self.w.write_all(mailq_heading(self.long_ids).as_bytes())?;
                    } else {
                        self.w.write_all(b"\n")?;
                    }
                    self.w.write_all(l.mailq(self.long_ids).as_bytes())?;
                    self.listed += 1;
                    self.listed_bytes += l.message_size.max(0) as u64;
                }
            }
        }
        Ok(())
    }

    fn error(&mut self, p: Problem) -> io::Result<()> {
        if matches!(self.format, Format::Postqueue | Format::Mailq) {
            eprintln!("mxsalvage: {}", p.reason);
        }
        self.errors.push(p)
    }

    fn skip(&mut self, p: Problem) -> io::Result<()> {
        self.skipped.push(p)
    }
}

fn load_one(
    src: &dyn QueueSource,
    e: &QueueEntry,
    sel: &Selection,
    filtering: bool,
    listing: bool,
) -> Item {
    let l = match src.load(e, Depth::EnvelopeOnly) {
        Ok(l) => l,
        Err(err) => {
            let p = Problem {
                path: err.path.display().to_string(),
                queue_id: Some(err.queue_id.clone()),
                reason: err.to_string(),
            };
            return if err.kind == mxsalvage::queue::LoadErrorKind::Vanished {
                if listing { Item::Gone } else { Item::Skip(p) }
            } else {
                Item::Error(p)
            };
        }
    };
    let mut m = MessageInfo::from_queued(&l);
    if filtering {
        m.recipients.retain(|x| sel.matches(&x.address.0));
        if m.recipients.is_empty() {
            return Item::Gone;
        }
    }
    if sel.valid.is_some() {
        let invalid: Vec<String> = m
            .pending()
            .filter(|x| sel.is_valid(&x.address.0) == Some(false))
            .map(|x| {
                format!(
                    "recipient {} is not in the recipient lists",
                    x.address.display()
                )
            })
            .collect();
        m.warnings.extend(invalid);
    }
    let listed = listing.then(|| Listed::from_queued(&l, |a| !filtering || sel.matches(a)));
    Item::Message(Box::new(m), listed)
}

/// The output format asked for by the flags.
fn format_of(a: &ScanArgs) -> Format {
    match (a.json, a.list, a.format.as_deref()) {
        (true, _, _) | (_, _, Some("json")) => Format::Json,
        (_, true, _) | (_, _, Some("mailq")) => Format::Mailq,
        (_, _, Some("postqueue")) => Format::Postqueue,
        _ => Format::Text,
    }
}

/// The report's heading: where, when, and what the configuration says.
/// The kinds of the spools, in the order given, each once (`postfix+exim`).
fn mta_of(ctx: &SpoolCtx) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for o in &ctx.spools {
        let k = o.reader.source().kind().as_str();
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds.join("+")
}

fn head_of(ctx: &SpoolCtx, now: i64) -> Head {
    let first = ctx.first();
    let (maximal, bounce) = first.reader.lifetimes();
    let verdict = ctx.source().mode_verdict();
    Head {
        schema: 1,
        generated_at: rfc3339(now),
        // Several spools: every one, in the order given.
        queue_directory: (ctx.spools.iter())
            .map(|o| o.root().display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        mta: mta_of(ctx),
        postfix_running: ctx.running(),
        maximal_queue_lifetime: maximal,
        bounce_queue_lifetime: bounce,
        configuration: first.config.describe(),
        file_modes: FileModes {
            trusted: verdict.trusted,
            note: verdict.note,
        },
    }
}

/// Reads chunks of queue entries on the pool and hands the items to [`Out`] in order.
struct Loader<'a> {
    src: &'a dyn QueueSource,
    sel: &'a Selection,
    pool: &'a rayon::ThreadPool,
    filtering: bool,
    listing: bool,
}

impl Loader<'_> {
    /// Loads `chunk` in parallel, writes its items in walk order and empties it.
    fn flush(&self, chunk: &mut Vec<QueueEntry>, out: &mut Out) -> io::Result<()> {
        let items: Vec<Item> = self.pool.install(|| {
            chunk
                .par_iter()
                .map(|e| load_one(self.src, e, self.sel, self.filtering, self.listing))
                .collect()
        });
        chunk.clear();
        for it in items {
            match it {
                Item::Message(m, l) => out.message(&m, l.as_ref())?,
                Item::Error(p) => out.error(p)?,
                Item::Skip(p) => out.skip(p)?,
                Item::Gone => {}
            }
        }
        Ok(())
    }

    /// Walks the selected queues, flushing every [`CHUNK`] entries; walk problems go to `out`.
    fn walk(&self, chunk: &mut Vec<QueueEntry>, out: &mut Out) -> io::Result<()> {
        self.src.walk_stream(&mut |ev| -> io::Result<()> {
            match ev {
                WalkEvent::Entry(e) => {
                    chunk.push(e);
                    if chunk.len() >= CHUNK {
                        self.flush(chunk, out)?;
                    }
                }
                WalkEvent::Problem(p) => out.error(Problem {
                    path: p.path.display().to_string(),
                    queue_id: None,
                    reason: p.reason,
                })?,
                WalkEvent::Ignored(p) => out.skip(Problem {
                    path: p.display().to_string(),
                    queue_id: None,
                    reason: "not a queue file name (temporary or leftover file)".into(),
                })?,
                WalkEvent::Duplicate(p) => out.skip(Problem {
                    queue_id: p.file_name().map(|n| n.to_string_lossy().into_owned()),
                    path: p.display().to_string(),
                    reason: "queue ID seen twice (moved during the scan); counted once".into(),
                })?,
            }
            Ok(())
        })
    }

    /// Finds the given queue IDs (each once) into `chunk`; an unknown ID is an error in `out`.
    fn find_ids(
        &self,
        ids: &[String],
        chunk: &mut Vec<QueueEntry>,
        out: &mut Out,
    ) -> io::Result<()> {
        let spool = self.src;
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let found = spool.find(id);
            if found.is_empty() {
                let roots: Vec<String> = spool
                    .roots()
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect();
                out.error(Problem {
                    path: spool.root().display().to_string(),
                    queue_id: Some(id.clone()),
                    reason: format!(
                        "queue ID {id} not found in the selected queues of {}",
                        roots.join(", ")
                    ),
                })?;
            }
            chunk.extend(found);
        }
        Ok(())
    }
}

pub fn run(a: ScanArgs) -> Result<Exit> {
    let (queues, sel) = super::selection(&a.select)?;
    let format = format_of(&a);
    let listing = matches!(format, Format::Postqueue | Format::Mailq);
    let ctx = SpoolCtx::open(&a.spool, queues)?;
    ctx.warn_if_running();
    if listing {
        ctx.note_modes();
    }
    let pool = pool(a.jobs)?;
    let now = now();
    let head = head_of(&ctx, now);
    let mut out = Out::new(format, &head, now, ctx.first().reader.long_queue_ids());
    let filtering = !sel.recipients.is_empty() || !sel.domains.is_empty() || sel.only_valid;
    let merged = ctx.source();
    let loader = Loader {
        src: &merged,
        sel: &sel,
        pool: &pool,
        filtering,
        listing,
    };
    let mut chunk: Vec<QueueEntry> = Vec::with_capacity(CHUNK);
    if a.id.is_empty() {
        loader.walk(&mut chunk, &mut out)?;
    } else {
        loader.find_ids(&a.id, &mut chunk, &mut out)?;
    }
    loader.flush(&mut chunk, &mut out)?;
    // An empty result: a typo in the selection, or nothing readable, is an error (exit 2),
    // said before anything is printed.
    if out.messages == 0
        && filtering
        && let Some(why) = why_nothing(
            &merged,
            &Asked {
                sel: &sel,
                ids: &a.id,
                window: false,
                pending_only: false,
            },
        )
    {
        anyhow::bail!(why);
    }
    let nothing_readable = out.messages == 0 && !out.errors.is_empty() && !filtering;
    let failed = !out.errors.is_empty();
    out.finish(&head, &sel)?;
    if nothing_readable {
        eprintln!(
            "mxsalvage: nothing could be read in {}: every queue file failed (listed above)",
            merged.root().display()
        );
        return Ok(Exit::Fatal);
    }
    Ok(Exit::partial_if(failed))
}
