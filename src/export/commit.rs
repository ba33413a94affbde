//! The end of an export: the manifest, the commit point.
//!
//! Owns: the interim manifest — of a new export, one that lists nothing and records the
//! options ([`begun`]); of an update, the earlier one rewritten with `"complete": false`
//! ([`interim`]); fsynced, before anything else is written — gathering the recipients'
//! entries (this run's, spilled by phase 3, and an earlier export's untouched ones), and
//! streaming `manifest.json` atomically after the durability barrier: temporary file,
//! fsync, rename, fsync of OUT. A crash before the rename leaves no manifest claiming
//! success; a run that stops on a write error records why in the interim manifest
//! (`stopped`, [`note_stop`], best effort). In: the message list, the recipients, the
//! spill file. Out: `manifest.json`.
//! Fails with [`ExportError::Write`] naming the path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::filter::verdict::VerdictKind;
use crate::manifest::{Manifest, ManifestRecipient, Options, Problem, SCHEMA, Totals};
use crate::timefmt::{now, rfc3339};

use super::config::Config;
use super::config::Report;
use super::error::ExportError;
use super::error::partial;
use super::json;
use super::mailbox::{Assembled, Bundle, Listed, Src};
use super::sinks::Formats;
use super::spill::{Slot, Spill};
use super::write::{self, AtomicFile, werr};

/// Writes a manifest held in memory (the update's interim one: `complete` false), durably.
pub fn interim(out: &Path, old: &Manifest) -> Result<(), ExportError> {
    let mut m = old.clone();
    m.complete = false;
    m.stopped = None;
    write_interim(out, &m)
}

/// Writes `m` as manifest.json: temporary file, fsync, rename, fsync of OUT.
fn write_interim(out: &Path, m: &Manifest) -> Result<(), ExportError> {
    let p = out.join("manifest.json");
    let mut data = serde_json::to_vec_pretty(m).map_err(|e| werr(&p)(io::Error::other(e)))?;
    data.push(b'\n');
    let mut f = AtomicFile::create(&p)?;
    f.put(&data)?;
    f.commit_durable(None)?;
    write::sync_dir(out)
}

/// A recipient entry of the finished export.
pub enum Rsrc<'a> {
    /// Written by this run (pretty JSON in the spill file), with its number of messages.
    New(Slot, usize),
    /// An earlier export's bundle this run did not touch.
    Old(&'a ManifestRecipient),
}

impl Rsrc<'_> {
    /// (message, mailbox) pairs in the bundle.
    pub fn pairs(&self) -> usize {
        match self {
            Rsrc::New(_, n) => *n,
            Rsrc::Old(o) => o.messages.len(),
        }
    }
}

/// Every bundle's entry, by mailbox, readable from the spill file. Fails with the first
/// failed bundle (as a partial run: phase 2 wrote files).
pub fn recipients<'a>(
    bundles: &'a BTreeMap<Vec<u8>, Bundle<'a>>,
    touched: &[&'a Bundle<'a>],
    finished: Vec<Result<(Slot, usize), ExportError>>,
    spill: &Spill,
) -> Result<BTreeMap<&'a [u8], Rsrc<'a>>, ExportError> {
    let mut r = BTreeMap::new();
    for b in bundles.values().filter(|b| !b.touched) {
        if let Some(o) = b.old {
            r.insert(b.key.as_slice(), Rsrc::Old(o));
        }
    }
    for (b, f) in touched.iter().zip(finished) {
        let (slot, n) = f.map_err(|e| partial(e, 1))?;
        r.insert(b.key.as_slice(), Rsrc::New(slot, n));
    }
    spill.flush().map_err(|e| partial(e, 1))?;
    Ok(r)
}

/// What the manifest says about the run besides its messages and recipients.
pub struct Run<'a> {
    pub cfg: &'a Config,
    /// The export's shape (an update's is the earlier export's).
    pub formats: Formats,
    pub zip_on: bool,
    pub zip_formats: Formats,
    /// `--reader` as recorded (`USER:GROUP`; an update's is the earlier one's).
    pub reader: Option<String>,
    /// `--spam-action` as the export files by it (an update's is the earlier one's).
    pub spam_action: crate::filter::verdict::SpamAction,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
    /// The disk-space estimate ([`super::space`]).
    pub space: Option<crate::manifest::Space>,
    /// Messages the earlier export (`--update`) already held.
    pub old_messages: usize,
    /// Copies left out as duplicates, near-duplicates flagged (several spools).
    pub found: &'a super::dedupe::Found,
    /// The content filters the messages are scanned with (an update's: the earlier's).
    pub scan: Option<&'a crate::filter::FilterSet>,
}

/// The options the manifest records: the command line's, with the export's shape.
fn options(run: &Run) -> Options {
    let mut options = run.cfg.options.clone();
    options.formats = run.formats.recorded();
    options.zip = run.zip_on;
    options.zip_formats = match run.zip_on {
        true => run.zip_formats.recorded(),
        false => Vec::new(),
    };
    options.encrypted = run.zip_on && run.cfg.passwords.is_some();
    options.reader = run.reader.clone();
    options.spam_action = run.spam_action;
    let url = |u: Option<&crate::filter::url::FilterUrl>| u.map(|u| u.to_string());
    options.spam_filter = url(run.scan.and_then(|s| s.spam.as_ref()));
    options.virus_scan = url(run.scan.and_then(|s| s.virus.as_ref()));
    options
}

/// A new export's manifest before anything else is written: `"complete": false`, no
/// message, no recipient — only the source and the options. It claims nothing, and an
/// `--update` after a crash (or `kill -9`) takes the export's shape from it (formats,
/// zip, zip formats, encryption, reader), as from any earlier manifest.
pub fn begun(out: &Path, run: &Run) -> Result<(), ExportError> {
    let m = Manifest {
        schema: SCHEMA,
        tool: format!("mxsalvage {}", env!("CARGO_PKG_VERSION")),
        generated_at: rfc3339(now()),
        complete: false,
        stopped: None,
        source: run.cfg.source.clone(),
        options: options(run),
        totals: Totals::default(),
        duplicates: run.found.duplicates.clone(),
        near_duplicates: run.found.near_duplicates.clone(),
        messages: Vec::new(),
        recipients: Vec::new(),
        errors: Vec::new(),
        skipped: Vec::new(),
        space: run.space.clone(),
    };
    interim(out, &m)
}

/// Records in the interim manifest why the run stopped (`stopped`), best effort: on a
/// full disk even this small file may not fit, and the interim manifest stays as it was
/// (it says `"complete": false` either way). Returns whether it was recorded.
pub fn note_stop(out: &Path, why: &str) -> bool {
    let p = out.join("manifest.json");
    let Ok(data) = std::fs::read(&p) else {
        return false;
    };
    let Ok(mut m) = serde_json::from_slice::<Manifest>(&data) else {
        return false;
    };
    if m.complete {
        return false;
    }
    m.stopped = Some(why.to_string());
    write_interim(out, &m).is_ok()
}

fn io_err(e: ExportError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Messages of `list` whose filing `f` holds for.
fn count(list: &[Listed], f: impl Fn(&super::message::Filed) -> bool) -> usize {
    list.iter().filter(|l| f(&l.filed)).count()
}

/// Streams `manifest.json` (call after the durability barrier) and reports the run.
pub fn manifest(
    out: &Path,
    run: Run,
    asm: &Assembled,
    recipients: &BTreeMap<&[u8], Rsrc>,
    spill: &Spill,
) -> Result<Report, ExportError> {
    let list = &asm.list;
    let options = options(&run);
    let (junk, withheld) = super::mailbox::filed_pairs(asm, recipients);
    let totals = Totals {
        messages: list.len(),
        recipients: recipients.len(),
        pairs: recipients.values().map(|r| r.pairs()).sum(),
        bytes: list.iter().map(|m| m.bytes).sum(),
        errors: run.errors.len(),
        skipped: run.skipped.len(),
        spam: count(list, |f| f.kind == Some(VerdictKind::Spam)),
        malware: count(list, |f| f.kind == Some(VerdictKind::Malware)),
        unscanned: count(list, |f| f.unscanned),
        junk,
        withheld,
    };
    let complete = run.errors.is_empty();
    let tool = format!("mxsalvage {}", env!("CARGO_PKG_VERSION"));
    let generated_at = rfc3339(now());
    let head = json::Head {
        schema: SCHEMA,
        tool: &tool,
        generated_at: &generated_at,
        complete,
        source: &run.cfg.source,
        options: &options,
        totals: &totals,
        space: run.space.as_ref(),
        duplicates: &run.found.duplicates,
        near_duplicates: &run.found.near_duplicates,
        errors: &run.errors,
        skipped: &run.skipped,
    };
    let p = out.join("manifest.json");
    let mut f = AtomicFile::create(&p)?;
    json::write_manifest(
        &mut f,
        &head,
        list.iter().map(|l| match l.src {
            Src::New(s, _) => spill.get(s).map(Cow::Owned).map_err(io_err),
            Src::Old(m) => serde_json::to_vec_pretty(m)
                .map(Cow::Owned)
                .map_err(io::Error::other),
        }),
        recipients.values().map(|r| match r {
            Rsrc::New(s, _) => spill.get(*s).map(Cow::Owned).map_err(io_err),
            Rsrc::Old(o) => serde_json::to_vec_pretty(o)
                .map(Cow::Owned)
                .map_err(io::Error::other),
        }),
    )
    .map_err(werr(&p))?;
    f.commit_durable(None)?;
    write::sync_dir(out)?;
    Ok(Report {
        complete,
        new_messages: totals.messages.saturating_sub(run.old_messages),
        totals,
        errors: run.errors,
        skipped: run.skipped,
        unscanned: Vec::new(),
        scanned: None,
        space: run.space,
        dry_run: false,
        shared_records: 0,
        left_out: 0,
    })
}
