//! `export`: per-recipient mbox, Maildir, .eml, text and zip bundles plus a manifest.
//!
//! Owns: the run, as a pipeline of phases, each in its own module — [`plan`] (read every
//! envelope, decide which message goes to which mailbox; with several spools [`dedupe`]
//! then gives each recipient one copy of the same content) → a manifest that lists
//! nothing yet (`"complete": false`: what an update after a crash takes the export's
//! shape from) → [`message`] (parallel per
//! message: archive copy `messages/<queue-id>.eml`, then every per-message sink for each
//! of its mailboxes) → [`mailbox`] (parallel per mailbox: every per-mailbox sink, then
//! the zip) → one durability barrier → [`commit`] (`manifest.json`, the commit point).
//! The formats are sinks ([`sink::Sink`], one file each, listed in [`sinks`]).
//! Memory holds a few hundred bytes per message plus a few messages per thread: scan
//! objects, manifest entries and file lists go to an anonymous [`spill`] file. Output is
//! deterministic: the same queue gives the same bytes at any thread count (the
//! manifest's `generated_at` and AES zips aside).
//! In: a [`QueueSource`] (one spool, or several merged), a [`Selection`], a [`Config`]. Out: the manifest written, a [`Report`].
//! Fails with [`ExportError`]: refusals before anything is written, or a write error
//! naming the path ([`ExportError::Partial`] once some output exists). Per-message
//! problems (unreadable queue files) are not failures: they are listed in the manifest.

pub mod commit;
pub mod config;
pub mod content;
pub mod dedupe;
pub mod error;
pub mod json;
pub mod mailbox;
pub mod message;
pub mod out;
pub mod passwords;
pub mod plan;
pub mod prepend;
pub mod progress;
pub mod reader;
pub mod scan;
pub mod sink;
pub mod sinks;
pub mod space;
pub mod spill;
pub mod tree;
pub mod write;
pub mod zip;

#[cfg(test)]
mod filing_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::decode::names;
use crate::filter::verdict::{SpamAction, VerdictKind};
use crate::manifest::{Manifest, Totals};
use crate::queue::QueueSource;
use crate::report::select::Selection;

pub use config::{Config, Report};
pub use error::ExportError;
use error::partial;
pub use out::Mode;
pub use plan::Filters;
pub use progress::{NoProgress, Progress};
pub use sinks::Formats;
pub use sinks::mbox::MBOX_NAME;
pub use zip::Secret;

/// The nearest existing directory at or above `out` (the spill file's home before OUT
/// exists: the same file system OUT will be created on).
fn existing_dir(out: &Path) -> PathBuf {
    let mut p = out.to_path_buf();
    loop {
        if p.is_dir() {
            return p;
        }
        if !p.pop() || p.as_os_str().is_empty() {
            return PathBuf::from(".");
        }
    }
}

/// The names the export being updated gave the messages of each spool ([`plan::Names`];
/// none for an export of one spool).
fn old_names(old: Option<&Manifest>) -> plan::Names {
    let mut names = plan::Names::new();
    for m in old.iter().flat_map(|o| &o.messages) {
        if let Some(spool) = &m.info.spool {
            let id = m.info.spool_queue_id.as_ref().unwrap_or(&m.info.queue_id);
            names.insert((spool.clone(), id.clone()), m.info.queue_id.clone());
        }
    }
    names
}

/// See [`Report::shared_records`].
fn shared_records(plan: &plan::Plan) -> usize {
    plan.messages
        .iter()
        .map(|m| m.records.saturating_sub(m.keys.len()))
        .sum()
}

/// What was found before anything is written: OUT's state, the export being updated,
/// and the shape of the export (an update keeps the shape of the one it extends).
struct Start {
    found: out::Found,
    old: Option<Manifest>,
    formats: Formats,
    zip_on: bool,
    zip_formats: Formats,
    reader: Option<reader::Reader>,
    spam_action: SpamAction,
    /// The content filters (checked reachable), an update's as the earlier export's.
    scan: Option<crate::filter::FilterSet>,
}

/// The export's `--spam-action`: as given, else the earlier export's (an update keeps
/// where spam goes), else `junk`. An update that asks for another one than the export
/// already filed spam by is refused (a message filed earlier stays where it was).
fn spam_action(cfg: &Config, old: Option<&Manifest>) -> Result<SpamAction, ExportError> {
    let Some(o) = old else {
        return Ok(cfg.spam_action.unwrap_or_default());
    };
    let was = o.options.spam_action;
    let filed = o.messages.iter().any(|m| {
        m.verdict
            .as_ref()
            .is_some_and(|v| v.verdict == VerdictKind::Spam)
    });
    match cfg.spam_action {
        Some(a) if a != was && filed => Err(ExportError::Refused(format!(
            "this export files spam by --spam-action {}: --update keeps it (to change it, re-export with --force --spam-action {})",
            was.name(),
            a.name()
        ))),
        Some(a) => Ok(a),
        None => Ok(was),
    }
}

fn start(spool: &dyn QueueSource, cfg: &Config) -> Result<Start, ExportError> {
    let found = out::check(&spool.roots(), &cfg.out, cfg.mode)?;
    // The earlier manifest moves out of `found` (prepare only needs to know it was ours).
    let (found, old) = match (found, cfg.mode) {
        (out::Found::Ours(Some(m)), Mode::Update) => (out::Found::Ours(None), Some(*m)),
        (f, _) => (f, None),
    };
    let (formats, zip_on, zip_formats) = match &old {
        Some(o) => {
            let formats = Formats::parse(&o.options.formats).map_err(ExportError::Refused)?;
            // Before zips had formats of their own, a zip held the trees' formats.
            let zip_formats = match o.options.zip_formats.is_empty() {
                true => formats,
                false => Formats::parse(&o.options.zip_formats).map_err(ExportError::Refused)?,
            };
            (formats, o.options.zip, zip_formats)
        }
        None => (cfg.formats, cfg.zip, cfg.zip_formats),
    };
    let reader = reader::for_run(
        cfg.reader.as_ref(),
        old.as_ref().and_then(|o| o.options.reader.as_deref()),
    )?;
    if let Some(o) = &old
        && o.options.encrypted
        && cfg.passwords.is_none()
    {
        return Err(ExportError::Refused(
            "this export's zips are encrypted: give --zip-password-file to update it (to change the encryption, re-export with --force)".into(),
        ));
    }
    if let Some(o) = &old
        && o.options.zip
        && !o.options.encrypted
        && cfg.passwords.is_some()
    {
        return Err(ExportError::Refused(
            "this export's zips are not encrypted: --update keeps them so; to encrypt them, re-export with --force --zip-password-file FILE".into(),
        ));
    }
    let spam_action = spam_action(cfg, old.as_ref())?;
    // Last: asking the filters takes a moment, and the refusals above come first.
    let scan = scan::resolve(cfg.scan.as_ref(), old.as_ref())?;
    Ok(Start {
        found,
        old,
        formats,
        zip_on,
        zip_formats,
        reader,
        spam_action,
        scan,
    })
}

/// An empty plan from a typo in the selection, or from a spool where nothing is
/// readable, writes nothing (exit 2 with the nearest addresses; see
/// [`crate::report::select::why_nothing`]). An update that finds nothing new is fine; it stops
/// only when nothing is readable.
fn check_selected(
    spool: &dyn QueueSource,
    sel: &Selection,
    cfg: &Config,
    plan: &plan::Plan,
) -> Result<(), ExportError> {
    if !plan.messages.is_empty() {
        return Ok(());
    }
    let update = cfg.mode == Mode::Update;
    let everything = Selection::default();
    let asked = crate::report::select::Asked {
        sel: if update { &everything } else { sel },
        ids: if update { &[] } else { &cfg.filters.ids },
        window: !update && (cfg.filters.since.is_some() || cfg.filters.until.is_some()),
        pending_only: !cfg.filters.include_done,
    };
    match crate::report::select::why_nothing(spool, &asked) {
        Some(why) => Err(ExportError::Refused(format!("{why}; nothing was written"))),
        None => Ok(()),
    }
}

/// Every mailbox of the plan has a password when zips are encrypted.
fn check_passwords(plan: &plan::Plan, zip_on: bool, cfg: &Config) -> Result<(), ExportError> {
    if let (true, Some(pw)) = (zip_on, &cfg.passwords) {
        let need: Vec<String> = plan
            .mailboxes
            .iter()
            .filter(|k| !pw.contains_key(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        if !need.is_empty() {
            return Err(ExportError::MissingPasswords(need));
        }
    }
    Ok(())
}

/// The disk-space estimate, refused when it does not fit ([`space`]).
fn space_check(
    cfg: &Config,
    st: &Start,
    plan: &plan::Plan,
) -> Result<crate::manifest::Space, ExportError> {
    let shape = space::Shape {
        formats: st.formats,
        zip_on: st.zip_on,
        zip_formats: st.zip_formats,
    };
    let load = space::load(plan, st.old.as_ref());
    let check = cfg.space_check && !cfg.dry_run;
    let ours = matches!(st.found, out::Found::Ours(_));
    let existing = existing_dir(&cfg.out);
    space::assess(&load, shape, &cfg.out, &existing, cfg.mode, ours, check)
}

/// What `--dry-run` reports: the plan's totals (an update's: what it adds).
fn dry_report(
    plan: &plan::Plan,
    old: Option<&Manifest>,
    space: crate::manifest::Space,
    left_out: usize,
) -> Report {
    let pairs: usize = plan.messages.iter().map(|m| m.keys.len()).sum();
    Report {
        complete: plan.errors.is_empty(),
        totals: Totals {
            messages: plan.messages.len(),
            recipients: plan.mailboxes.len(),
            pairs,
            bytes: plan.messages.iter().map(|m| m.bytes).sum(),
            errors: plan.errors.len(),
            skipped: plan.skipped.len(),
            ..Totals::default()
        },
        errors: plan.errors.clone(),
        skipped: plan.skipped.clone(),
        unscanned: Vec::new(),
        scanned: None,
        new_messages: space::new_messages(plan, old),
        space: Some(space),
        dry_run: true,
        shared_records: shared_records(plan),
        left_out,
    }
}

/// Each mailbox's directory name (an update keeps the earlier names), with every
/// directory its sinks need created (none when no format is kept as a tree).
fn bundle_dirs(
    out: &Path,
    plan: &plan::Plan,
    old: Option<&Manifest>,
    formats: Formats,
) -> Result<BTreeMap<Vec<u8>, String>, ExportError> {
    let mut old_dirs = BTreeMap::new();
    for r in old.iter().flat_map(|o| &o.recipients) {
        old_dirs.insert(names::mailbox_key(&r.address.0), r.dir.clone());
    }
    let set: BTreeSet<Vec<u8>> = plan.mailboxes.iter().cloned().collect();
    let dirs = names::assign_dirs(&set, &old_dirs);
    for key in plan.mailboxes.iter().filter(|_| !formats.is_empty()) {
        let base = out.join("recipients").join(&dirs[key]);
        write::create_dir(&base)?;
        for d in formats.sinks().flat_map(|s| s.dirs()) {
            write::create_dir(&base.join(d))?;
        }
    }
    Ok(dirs)
}

/// Phase 1 ([`plan`], keeping an updated export's names) and, with several spools,
/// one copy per recipient ([`dedupe`]).
fn plan_run(
    spool: &dyn QueueSource,
    sel: &Selection,
    cfg: &Config,
    old: Option<&Manifest>,
    spill: &spill::Spill,
    progress: &dyn Progress,
) -> Result<(plan::Plan, dedupe::Found), ExportError> {
    let names = old_names(old);
    let mut plan = plan::plan(spool, sel, &cfg.filters, spill, &names, progress)?;
    let found = dedupe::apply(&mut plan, spill)?;
    Ok((plan, found))
}

/// What phase 3 works with.
fn finish<'a>(
    cfg: &'a Config,
    st: &Start,
    asm: &'a mailbox::Assembled<'a>,
    spill: &'a spill::Spill,
) -> mailbox::Finish<'a> {
    mailbox::Finish {
        out: &cfg.out,
        list: &asm.list,
        spill,
        formats: st.formats,
        zip_on: st.zip_on,
        zip_formats: st.zip_formats,
        passwords: cfg.passwords.as_ref(),
        junk_on: asm.junk_on,
    }
}

/// Runs an export. Call inside the worker pool (`pool.install`).
pub fn run(
    spool: &dyn QueueSource,
    sel: &Selection,
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<Report, ExportError> {
    // 1. Plan. Nothing is written before `out::prepare` (the spill file has no name).
    let st = start(spool, cfg)?;
    let old = st.old.as_ref();
    let spill = spill::Spill::new(&existing_dir(&cfg.out))?;
    let (plan, found) = plan_run(spool, sel, cfg, old, &spill, progress)?;
    check_selected(spool, sel, cfg, &plan)?;
    check_passwords(&plan, st.zip_on, cfg)?;
    let space = space_check(cfg, &st, &plan)?;
    if cfg.dry_run {
        return Ok(dry_report(&plan, old, space, found.duplicates.len()));
    }
    let generated;
    let cfg = match &cfg.generate_passwords {
        Some(file) => {
            let pw = passwords::generate(file, &plan.mailboxes)?;
            generated = Config {
                passwords: Some(pw),
                ..cfg.clone()
            };
            &generated
        }
        None => cfg,
    };

    // From here on, OUT is written.
    let out = cfg.out.as_path();
    if cfg.mode == Mode::Force && matches!(st.found, out::Found::Ours(_)) {
        progress.phase("removing the old export", 0);
    }
    out::prepare(out, cfg.mode, &st.found)?;
    let shape = |errors, skipped| commit::Run {
        cfg,
        formats: st.formats,
        zip_on: st.zip_on,
        zip_formats: st.zip_formats,
        reader: st.reader.as_ref().map(reader::Reader::spec),
        spam_action: st.spam_action,
        errors,
        skipped,
        // The manifest is the same at any thread count and run: the free space is not in it.
        space: Some(crate::manifest::Space {
            free_bytes: None,
            reclaimed_bytes: 0,
            ..space.clone()
        }),
        old_messages: old.map_or(0, |o| o.messages.len()),
        found: &found,
        scan: st.scan.as_ref(),
    };
    match old {
        Some(o) => commit::interim(out, o)?,
        None => commit::begun(out, &shape(Vec::new(), Vec::new()))?,
    }
    let dirs = bundle_dirs(out, &plan, old, st.formats)?;

    // 2. Per message: the archive copy, then every per-message sink for each mailbox.
    progress.phase("writing messages", plan.messages.len() as u64);
    let ctx = message::Ctx {
        spam_action: st.spam_action,
        ..message::Ctx::new(spool, out, st.formats, &plan, &dirs, old, &spill)
    };
    let msgs = message::run(&ctx, &plan, st.scan.as_ref(), progress)?;
    let asm = mailbox::assemble(&plan, msgs.done, old, &dirs, &spill, st.spam_action)?;

    // 3. Per mailbox: every per-mailbox sink, then the zip.
    let touched = asm.touched();
    let fx = finish(cfg, &st, &asm, &spill);
    progress.phase_bytes("writing mailboxes", mailbox::steps(&fx, &touched));
    let finished = mailbox::run(&fx, &touched, sel, progress);
    let recipients = commit::recipients(&asm.bundles, &touched, finished, &spill)?;
    mailbox::remove_unused(out, &plan, &dirs, &recipients);

    // 4. The durability barrier (one syncfs on OUT's file system), 5. the manifest.
    // Before it, the reader's group gets read access to the mailboxes ([`reader`]).
    if let Some(r) = &st.reader {
        reader::grant(out, r).map_err(|e| partial(e, 1))?;
    }
    progress.phase("syncing to disk", 0);
    write::sync_fs(out).map_err(|e| partial(e, 1))?;
    progress.phase("writing the manifest", 0);
    let run = shape(msgs.errors, msgs.skipped);
    let shared = shared_records(&plan);
    commit::manifest(out, run, &asm, &recipients, &spill)
        .map(|r| Report {
            shared_records: shared,
            left_out: found.duplicates.len(),
            unscanned: msgs.unscanned,
            scanned: st.scan.as_ref().map(|_| msgs.counts),
            ..r
        })
        .map_err(|e| partial(e, 1))
}
