//! `export`: per-recipient mbox, Maildir, .eml, text and zip bundles plus a manifest.
//!
//! Owns: the run. Phase 1 ([`plan`]) reads envelopes and decides which message goes to
//! which mailbox. Phase 2 (parallel per message) loads one queue file at a time, writes
//! the archive copy `messages/<queue-id>.eml` and every one-file-per-message output of
//! each of its mailboxes (Maildir, eml, text). Phase 3 (parallel per mailbox) streams
//! the archive copies into the mailbox's mbox and packs its zip. Last, one `syncfs` makes
//! everything durable and `manifest.json` (the commit point) is streamed atomically.
//! Memory holds a few hundred bytes per message plus a few messages per thread: scan
//! objects, manifest entries and file lists go to an anonymous [`spill`] file. Output is deterministic: the same queue gives the same bytes at any
//! thread count (the manifest's `generated_at` and AES zips aside).
//! In: a [`Spool`], a [`Selection`], a [`Config`]. Out: the [`Manifest`] written.
//! Fails with [`ExportError`]: refusals before anything is written, or a write error
//! naming the path ([`ExportError::Partial`] once some output exists). Per-message
//! problems (unreadable queue files) are not failures: they are listed in the manifest.

pub mod eml;
pub mod json;
pub mod maildir;
pub mod mbox;
pub mod names;
pub mod out;
pub mod plan;
pub mod prepend;
pub mod reader;
pub mod spill;
pub mod text;
pub mod write;
pub mod zip;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::bytes::Bytes;
use crate::decode::{Decoded, decode};
use crate::manifest::{
    Attachment, FileEntry, Manifest, ManifestMessage, ManifestRecipient, Options, Problem, SCHEMA,
    Source, Totals,
};
use crate::model::MessageInfo;
use crate::queue::{Depth, Spool};
use crate::select::Selection;
use crate::timefmt::{now, rfc3339};

pub use out::Mode;
pub use plan::Filters;
use plan::Planned;
use spill::{Slot, Spill};
use write::{AtomicFile, Written, create_dir, werr};
pub use zip::Secret;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing a path failed.
    #[error("{path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    /// The run was refused before anything was written.
    #[error("{0}")]
    Refused(String),
    /// `--zip-password-file` lacks these mailboxes.
    #[error("the zip password file has no line for: {}", .0.join(", "))]
    MissingPasswords(Vec<String>),
    /// A write failed after some output was written; what exists is kept.
    #[error(
        "{0} (export stopped; what was written so far is kept, without a manifest claiming success)"
    )]
    Partial(Box<ExportError>),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Formats {
    pub mbox: bool,
    pub maildir: bool,
    pub eml: bool,
    pub text: bool,
}

impl Formats {
    pub const ALL: Formats = Formats {
        mbox: true,
        maildir: true,
        eml: true,
        text: true,
    };

    /// Parses format names (`mbox`, `maildir`, `eml`, `text`).
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<Formats, String> {
        let mut f = Formats::default();
        for s in list {
            for s in s.as_ref().split(',') {
                match s.trim().to_ascii_lowercase().as_str() {
                    "mbox" => f.mbox = true,
                    "maildir" => f.maildir = true,
                    "eml" => f.eml = true,
                    "text" | "txt" => f.text = true,
                    "" => {}
                    other => {
                        return Err(format!(
                            "unknown format {other:?} (use mbox, maildir, eml, text)"
                        ));
                    }
                }
            }
        }
        Ok(f)
    }

    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.mbox, "mbox"),
            (self.maildir, "maildir"),
            (self.eml, "eml"),
            (self.text, "text"),
        ]
        .into_iter()
        .filter(|x| x.0)
        .map(|x| x.1)
        .collect()
    }
}

/// Everything a run needs besides the spool and the selection.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub formats: Formats,
    pub zip: bool,
    /// Mailbox key → password; `Some` encrypts every zip.
    pub passwords: Option<BTreeMap<Vec<u8>, Secret>>,
    pub filters: Filters,
    pub mode: Mode,
    /// `--reader`: the account that may read the mailboxes ([`reader`]).
    pub reader: Option<reader::Reader>,
    /// Recorded in the manifest as given.
    pub options: Options,
    pub source: Source,
}

/// Progress reporting (the command draws a bar; the library only counts).
pub trait Progress: Sync {
    /// A phase starts with `total` steps.
    fn phase(&self, _name: &str, _total: u64) {}
    /// One step done.
    fn tick(&self) {}
}

/// No progress output.
pub struct NoProgress;
impl Progress for NoProgress {}

/// File name of the mbox inside a bundle.
pub const MBOX_NAME: &str = "mail.mbox";

struct Ctx<'a> {
    spool: &'a Spool,
    out: &'a Path,
    formats: Formats,
    mailboxes: &'a [Vec<u8>],
    /// Directory name of each mailbox (same index).
    dirs: Vec<&'a str>,
    old_msgs: BTreeMap<&'a str, &'a ManifestMessage>,
    old_pairs: BTreeSet<(Vec<u8>, &'a str)>,
    spill: &'a Spill,
    abort: AtomicBool,
    written: AtomicUsize,
}

/// What phase 2 keeps of one exported message (the entry itself is in the spill file).
struct MsgOut {
    arrival: i64,
    bytes: u64,
    /// The `ManifestMessage`, pretty JSON.
    message: Slot,
    /// Mailboxes (indices) this message was newly added to.
    added: Vec<u32>,
    /// `FileEntry`s written (compact JSON), by mailbox index.
    files: Vec<(u32, Slot)>,
}

enum MsgResult {
    Done(Box<MsgOut>),
    Problem { skip: bool, problem: Problem },
    Fatal(ExportError),
    Aborted,
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

impl Ctx<'_> {
    fn entry(&self, p: &Path, w: Written) -> Result<Slot, ExportError> {
        self.written.fetch_add(1, Ordering::Relaxed);
        self.spill.put_json(
            &FileEntry {
                path: rel(self.out, p),
                sha256: w.sha256,
                size: w.size,
            },
            false,
        )
    }

    fn bundle(&self, k: u32) -> PathBuf {
        self.out.join("recipients").join(self.dirs[k as usize])
    }
}

fn new_message(mut info: MessageInfo, sha: String, len: u64, d: &Decoded) -> ManifestMessage {
    info.warnings.extend(d.warnings.iter().cloned());
    ManifestMessage {
        store: format!("messages/{}.eml", info.queue_id),
        info,
        sha256: sha,
        bytes: len,
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
    }
}

/// Phase 2 for one message.
fn export_message(ctx: &Ctx, pm: &Planned) -> Result<MsgResult, ExportError> {
    if ctx.abort.load(Ordering::Relaxed) {
        return Ok(MsgResult::Aborted);
    }
    let l = match ctx.spool.load(&pm.entry, Depth::Full) {
        Ok(l) => l,
        Err(e) => {
            let (skip, problem) = plan::load_problem(&e);
            return Ok(MsgResult::Problem { skip, problem });
        }
    };
    let info: MessageInfo = ctx.spill.get_json(pm.info)?;
    let id = pm.entry.id.as_str();
    let arrival = pm.arrival_unix;
    let bytes = l.file.message_bytes();
    drop(l);
    let sha = hex::encode(Sha256::digest(&bytes));
    let stem = names::stem(arrival, id);
    let files_label = text::files_dir(&stem);
    let (message, keys, write_archive, decoded) = match ctx.old_msgs.get(id) {
        Some(old) if old.sha256 != sha => {
            return Ok(MsgResult::Problem {
                skip: false,
                problem: Problem {
                    path: pm.entry.path.display().to_string(),
                    queue_id: Some(id.to_string()),
                    reason: format!(
                        "queue ID {id} is already in this export with different content (Postfix reused the ID); not added — export it into a new directory"
                    ),
                },
            });
        }
        Some(old) => {
            let mut m = (*old).clone();
            for r in &info.recipients {
                if !m.info.recipients.iter().any(|x| x.offset == r.offset) {
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
            let present = std::fs::metadata(ctx.out.join(&m.store))
                .is_ok_and(|md| md.len() == bytes.len() as u64);
            let d = (ctx.formats.text && !keys.is_empty()).then(|| decode(&bytes, &files_label));
            (m, keys, !present, d)
        }
        None => {
            let d = decode(&bytes, &files_label);
            let m = new_message(info, sha, bytes.len() as u64, &d);
            (m, pm.keys.clone(), true, Some(d))
        }
    };
    let mut files = Vec::new();
    if write_archive {
        let p = ctx.out.join(&message.store);
        let w = write::write_file(&p, &bytes, Some(arrival))?;
        ctx.written.fetch_add(1, Ordering::Relaxed);
        debug_assert_eq!(w.sha256, message.sha256);
    }
    for &k in &keys {
        let key = &ctx.mailboxes[k as usize];
        let base = ctx.bundle(k);
        let prefix = prepend::for_mailbox(&message.info, key);
        if ctx.formats.maildir {
            let (p, w) = maildir::deliver(
                &base.join("Maildir"),
                (arrival, pm.arrival_usec),
                id,
                &prefix,
                &bytes,
            )?;
            files.push((k, ctx.entry(&p, w)?));
        }
        if ctx.formats.eml {
            let p = base.join("eml").join(format!("{stem}.eml"));
            let mut f = AtomicFile::create(&p)?;
            let mut c = eml::Crlf::new();
            c.write(&mut f, &prefix)
                .and_then(|_| c.write(&mut f, &bytes))
                .map_err(werr(&p))?;
            let w = f.commit(Some(arrival))?;
            files.push((k, ctx.entry(&p, w)?));
        }
        if ctx.formats.text
            && let Some(d) = &decoded
        {
            for (p, w) in text::write(&base.join("text"), &stem, d, arrival)? {
                files.push((k, ctx.entry(&p, w)?));
            }
        }
    }
    let slot = ctx.spill.put_json(&message, true)?;
    Ok(MsgResult::Done(Box::new(MsgOut {
        arrival: message.info.arrival_unix,
        bytes: message.bytes,
        message: slot,
        added: keys,
        files,
    })))
}

/// Where a message's manifest entry is.
#[derive(Clone, Copy)]
enum Src<'a> {
    /// Written by this run: in the spill file.
    New(Slot),
    /// Kept from the export being updated.
    Old(&'a ManifestMessage),
}

/// One message of the finished export, in manifest order (arrival time, queue ID).
struct Listed<'a> {
    arrival: i64,
    id: &'a str,
    bytes: u64,
    src: Src<'a>,
}

impl Listed<'_> {
    fn load<'s>(&'s self, spill: &Spill) -> Result<Cow<'s, ManifestMessage>, ExportError> {
        Ok(match self.src {
            Src::New(s) => Cow::Owned(spill.get_json(s)?),
            Src::Old(m) => Cow::Borrowed(m),
        })
    }
}

/// A mailbox bundle being assembled for the manifest.
struct Bundle<'a> {
    key: Vec<u8>,
    dir: String,
    /// Positions in the message list, sorted (= oldest first) after the merge.
    ids: Vec<u32>,
    /// Files written by this run (`FileEntry`, compact JSON).
    files: Vec<Slot>,
    touched: bool,
    old: Option<&'a ManifestRecipient>,
}

fn readme_address(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// What phase 3 needs besides the bundle.
struct Finish<'a> {
    out: &'a Path,
    list: &'a [Listed<'a>],
    spill: &'a Spill,
    formats: Formats,
    zip_on: bool,
    passwords: Option<&'a BTreeMap<Vec<u8>, Secret>>,
}

/// Phase 3 for one mailbox: mbox and zip. Spills the finished manifest entry (pretty
/// JSON) and returns it with its number of messages.
fn finish_bundle(
    fx: &Finish,
    b: &Bundle,
    valid: Option<bool>,
) -> Result<(Slot, usize), ExportError> {
    let out = fx.out;
    let formats = fx.formats;
    let order: Vec<&Listed> = b.ids.iter().map(|&i| &fx.list[i as usize]).collect();
    let base = out.join("recipients").join(&b.dir);
    let rbase = format!("recipients/{}", b.dir);
    let mut files: BTreeMap<String, FileEntry> = BTreeMap::new();
    if let Some(o) = b.old {
        for f in &o.files {
            files.insert(f.path.clone(), f.clone());
        }
    }
    for &s in &b.files {
        let f: FileEntry = fx.spill.get_json(s)?;
        files.insert(f.path.clone(), f);
    }
    files.retain(|p, _| *p != format!("{rbase}/{MBOX_NAME}") && *p != format!("{rbase}.zip"));
    let newest = order.iter().map(|m| m.arrival).max().unwrap_or(0);
    if formats.mbox {
        let p = base.join(MBOX_NAME);
        let mut f = AtomicFile::create(&p)?;
        for l in &order {
            let m = l.load(fx.spill)?;
            let src = out.join(&m.store);
            let r = std::fs::File::open(&src).map_err(werr(&src))?;
            let prefix = prepend::for_mailbox(&m.info, &b.key);
            let sha = mbox::write_message(
                &mut f,
                &m.info.sender.0,
                m.info.arrival_unix,
                &prefix,
                BufReader::with_capacity(64 * 1024, r),
            )
            .map_err(werr(&p))?;
            if sha != m.sha256 {
                return Err(ExportError::Write {
                    path: src,
                    error: io::Error::new(
                        io::ErrorKind::InvalidData,
                        "archive copy does not match its sha256 in the manifest (changed after it was written)",
                    ),
                });
            }
        }
        let w = f.commit(Some(newest))?;
        files.insert(
            format!("{rbase}/{MBOX_NAME}"),
            FileEntry {
                path: format!("{rbase}/{MBOX_NAME}"),
                sha256: w.sha256,
                size: w.size,
            },
        );
    }
    let mut zip_sha = None;
    if fx.zip_on {
        let mut list = Vec::with_capacity(files.len());
        for path in files.keys() {
            let inner = path
                .strip_prefix(&format!("{rbase}/"))
                .unwrap_or(path)
                .to_string();
            let full = out.join(path);
            let mtime = std::fs::metadata(&full)
                .and_then(|m| m.modified())
                .map_err(werr(&full))?
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            list.push((inner, mtime));
        }
        let mut dirs = BTreeSet::new();
        if formats.maildir {
            for s in ["Maildir/tmp", "Maildir/new", "Maildir/cur"] {
                dirs.insert(s.to_string());
            }
        }
        if formats.eml {
            dirs.insert("eml".into());
        }
        if formats.text {
            dirs.insert("text".into());
        }
        let readme = zip::readme(&readme_address(&b.key), order.len(), &formats.names());
        let dest = out.join("recipients").join(format!("{}.zip", b.dir));
        let w = zip::write(
            &dest,
            &zip::ZipJob {
                base: &base,
                root: &b.dir,
                files: &list,
                dirs: &dirs,
                readme: &readme,
                time: newest,
                password: fx.passwords.and_then(|p| p.get(&b.key)),
            },
        )?;
        zip_sha = Some(w.sha256.clone());
        files.insert(
            format!("{rbase}.zip"),
            FileEntry {
                path: format!("{rbase}.zip"),
                sha256: w.sha256,
                size: w.size,
            },
        );
    }
    let r = ManifestRecipient {
        address: Bytes(b.key.clone()),
        dir: b.dir.clone(),
        messages: order.iter().map(|m| m.id.to_string()).collect(),
        bytes: order.iter().map(|m| m.bytes).sum(),
        mbox: formats.mbox.then(|| format!("{rbase}/{MBOX_NAME}")),
        maildir: formats.maildir.then(|| format!("{rbase}/Maildir")),
        eml: formats.eml.then(|| format!("{rbase}/eml")),
        text: formats.text.then(|| format!("{rbase}/text")),
        zip: fx.zip_on.then(|| format!("{rbase}.zip")),
        zip_sha256: zip_sha,
        valid: valid.or(b.old.and_then(|o| o.valid)),
        files: files.into_values().collect(),
    };
    Ok((fx.spill.put_json(&r, true)?, order.len()))
}

/// Writes a manifest held in memory (the update's interim one), durably.
fn write_manifest(out: &Path, m: &Manifest) -> Result<(), ExportError> {
    let p = out.join("manifest.json");
    let mut json = serde_json::to_vec_pretty(m).map_err(|e| ExportError::Write {
        path: p.clone(),
        error: io::Error::other(e),
    })?;
    json.push(b'\n');
    let mut f = AtomicFile::create(&p)?;
    f.put(&json)?;
    f.commit_durable(None)?;
    write::sync_dir(out)
}

fn partial(e: ExportError, written: usize) -> ExportError {
    match e {
        ExportError::Partial(_) => e,
        e if written > 0 => ExportError::Partial(Box::new(e)),
        e => e,
    }
}

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

/// What a finished run reports (the rest is in `manifest.json`).
#[derive(Debug, Clone)]
pub struct Report {
    pub complete: bool,
    pub totals: Totals,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
}

fn io_err(e: ExportError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Runs an export. Call inside the worker pool (`pool.install`).
pub fn run(
    spool: &Spool,
    sel: &Selection,
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<Report, ExportError> {
    let found = out::check(&spool.root, &cfg.out, cfg.mode)?;
    // The earlier manifest moves out of `found` (prepare only needs to know it was ours).
    let (found, old): (out::Found, Option<Manifest>) = match (found, cfg.mode) {
        (out::Found::Ours(Some(m)), Mode::Update) => (out::Found::Ours(None), Some(*m)),
        (f, _) => (f, None),
    };
    // An update keeps the shape of the export it extends.
    let (formats, zip_on) = match &old {
        Some(o) => (
            Formats::parse(&o.options.formats).map_err(ExportError::Refused)?,
            o.options.zip,
        ),
        None => (cfg.formats, cfg.zip),
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
            "this export's zips are encrypted: give --zip-password-file to update it".into(),
        ));
    }
    // Per-message records live in an anonymous file on OUT's file system.
    let spill = Spill::new(&existing_dir(&cfg.out))?;
    progress.phase("reading envelopes", 0);
    let plan = plan::plan(spool, sel, &cfg.filters, &spill)?;
    if let (true, Some(pw)) = (zip_on, &cfg.passwords) {
        let need: Vec<&Vec<u8>> = plan
            .mailboxes
            .iter()
            .filter(|k| !pw.contains_key(*k))
            .collect();
        if !need.is_empty() {
            return Err(ExportError::MissingPasswords(
                need.iter().map(|k| readme_address(k)).collect(),
            ));
        }
    }

    // From here on, OUT is written.
    out::prepare(&cfg.out, cfg.mode, &found)?;
    let out = cfg.out.as_path();
    let mut old_dirs = BTreeMap::new();
    let mut old_pairs = BTreeSet::new();
    let mut old_msgs = BTreeMap::new();
    if let Some(o) = &old {
        let mut o2 = o.clone();
        o2.complete = false;
        write_manifest(out, &o2)?;
        drop(o2);
        for r in &o.recipients {
            let k = names::mailbox_key(&r.address.0);
            for id in &r.messages {
                old_pairs.insert((k.clone(), id.as_str()));
            }
            old_dirs.insert(k, r.dir.clone());
        }
        for m in &o.messages {
            old_msgs.insert(m.info.queue_id.as_str(), m);
        }
    }
    let mailbox_set: BTreeSet<Vec<u8>> = plan.mailboxes.iter().cloned().collect();
    let dirs = names::assign_dirs(&mailbox_set, &old_dirs);
    drop(mailbox_set);
    for key in &plan.mailboxes {
        let base = out.join("recipients").join(&dirs[key]);
        create_dir(&base)?;
        if formats.maildir {
            maildir::ensure(&base.join("Maildir"))?;
        }
        if formats.eml {
            create_dir(&base.join("eml"))?;
        }
        if formats.text {
            create_dir(&base.join("text"))?;
        }
    }
    let ctx = Ctx {
        spool,
        out,
        formats,
        mailboxes: &plan.mailboxes,
        dirs: plan.mailboxes.iter().map(|k| dirs[k].as_str()).collect(),
        old_msgs,
        old_pairs,
        spill: &spill,
        abort: AtomicBool::new(false),
        written: AtomicUsize::new(0),
    };

    // Phase 2: one message at a time per thread.
    progress.phase("writing messages", plan.messages.len() as u64);
    let results: Vec<MsgResult> = plan
        .messages
        .par_iter()
        .map(|pm| {
            let r = export_message(&ctx, pm).unwrap_or_else(|e| {
                ctx.abort.store(true, Ordering::Relaxed);
                MsgResult::Fatal(e)
            });
            progress.tick();
            r
        })
        .collect();
    let written = ctx.written.load(Ordering::Relaxed);
    drop(ctx);
    let mut errors = plan.errors.clone();
    let mut skipped = plan.skipped.clone();
    let mut fatal = None;
    let mut done: Vec<(usize, MsgOut)> = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            MsgResult::Done(m) => done.push((i, *m)),
            MsgResult::Problem {
                skip: true,
                problem,
            } => skipped.push(problem),
            MsgResult::Problem { problem, .. } => errors.push(problem),
            MsgResult::Fatal(e) => {
                if fatal.is_none() {
                    fatal = Some(e)
                }
            }
            MsgResult::Aborted => {}
        }
    }
    if let Some(e) = fatal {
        return Err(partial(e, written));
    }
    spill.flush().map_err(|e| partial(e, written))?;

    // The message list: this run's messages plus the earlier export's others, oldest
    // first (arrival time, then queue ID).
    let mut list: Vec<Listed> = Vec::with_capacity(done.len());
    for (i, m) in &done {
        list.push(Listed {
            arrival: m.arrival,
            id: &plan.messages[*i].entry.id,
            bytes: m.bytes,
            src: Src::New(m.message),
        });
    }
    if let Some(o) = &old {
        let redone: BTreeSet<&str> = done
            .iter()
            .map(|(i, _)| plan.messages[*i].entry.id.as_str())
            .collect();
        for m in &o.messages {
            if !redone.contains(m.info.queue_id.as_str()) {
                list.push(Listed {
                    arrival: m.info.arrival_unix,
                    id: &m.info.queue_id,
                    bytes: m.bytes,
                    src: Src::Old(m),
                });
            }
        }
    }
    // Stable, and queue IDs are unique in the list, so the order is total.
    list.sort_by(|a, b| (a.arrival, a.id).cmp(&(b.arrival, b.id)));
    let pos: BTreeMap<&str, u32> = list
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i as u32))
        .collect();

    // Bundles: the earlier export's, then this run's additions.
    let mut bundles: BTreeMap<Vec<u8>, Bundle> = BTreeMap::new();
    if let Some(o) = &old {
        for r in &o.recipients {
            let k = names::mailbox_key(&r.address.0);
            bundles.insert(
                k.clone(),
                Bundle {
                    key: k,
                    dir: r.dir.clone(),
                    ids: r
                        .messages
                        .iter()
                        .filter_map(|i| pos.get(i.as_str()).copied())
                        .collect(),
                    files: Vec::new(),
                    touched: false,
                    old: Some(r),
                },
            );
        }
    }
    for (i, m) in done {
        let p = pos[plan.messages[i].entry.id.as_str()];
        for &k in &m.added {
            let key = &plan.mailboxes[k as usize];
            let b = bundles.entry(key.clone()).or_insert_with(|| Bundle {
                key: key.clone(),
                dir: dirs[key].clone(),
                ids: Vec::new(),
                files: Vec::new(),
                touched: false,
                old: None,
            });
            b.ids.push(p);
            b.touched = true;
        }
        for (k, f) in m.files {
            if let Some(b) = bundles.get_mut(&plan.mailboxes[k as usize]) {
                b.files.push(f);
            }
        }
    }
    drop(pos);
    for b in bundles.values_mut() {
        b.ids.sort_unstable();
        b.ids.dedup();
    }

    // Phase 3: one mailbox at a time per thread.
    let touched: Vec<&Bundle> = bundles.values().filter(|b| b.touched).collect();
    progress.phase("writing mailboxes", touched.len() as u64);
    let fx = Finish {
        out,
        list: &list,
        spill: &spill,
        formats,
        zip_on,
        passwords: cfg.passwords.as_ref(),
    };
    let finished: Vec<Result<(Slot, usize), ExportError>> = touched
        .par_iter()
        .map(|b| {
            let r = finish_bundle(&fx, b, sel.is_valid(&b.key));
            progress.tick();
            r
        })
        .collect();
    enum Rsrc<'a> {
        New(Slot),
        Old(&'a ManifestRecipient),
    }
    let mut recipients: BTreeMap<&[u8], Rsrc> = BTreeMap::new();
    let mut pairs = 0;
    for b in bundles.values().filter(|b| !b.touched) {
        if let Some(o) = b.old {
            recipients.insert(&b.key, Rsrc::Old(o));
            pairs += o.messages.len();
        }
    }
    for (b, r) in touched.iter().zip(finished) {
        let (slot, n) = r.map_err(|e| partial(e, 1))?;
        recipients.insert(&b.key, Rsrc::New(slot));
        pairs += n;
    }
    spill.flush().map_err(|e| partial(e, 1))?;
    for key in &plan.mailboxes {
        if !recipients.contains_key(key.as_slice()) {
            write::remove_empty_dirs(&out.join("recipients").join(&dirs[key]));
        }
    }

    let mut options = cfg.options.clone();
    options.formats = formats.names().iter().map(|s| s.to_string()).collect();
    options.zip = zip_on;
    options.encrypted = zip_on && cfg.passwords.is_some();
    options.reader = reader.as_ref().map(reader::Reader::spec);
    let totals = Totals {
        messages: list.len(),
        recipients: recipients.len(),
        pairs,
        bytes: list.iter().map(|m| m.bytes).sum(),
        errors: errors.len(),
        skipped: skipped.len(),
    };
    let complete = errors.is_empty();

    // The commit point. Everything the manifest lists is made durable with one barrier
    // (syncfs on OUT's file system), then the manifest is written: tmp, fsync, rename,
    // fsync OUT. A crash before the rename leaves no manifest claiming success.
    if let Some(r) = &reader {
        reader::grant(out, r).map_err(|e| partial(e, 1))?;
    }
    write::sync_fs(out).map_err(|e| partial(e, 1))?;
    let tool = format!("mxsalvage {}", env!("CARGO_PKG_VERSION"));
    let generated_at = rfc3339(now());
    let head = json::Head {
        schema: SCHEMA,
        tool: &tool,
        generated_at: &generated_at,
        complete,
        source: &cfg.source,
        options: &options,
        totals: &totals,
        errors: &errors,
        skipped: &skipped,
    };
    let p = out.join("manifest.json");
    let mut f = AtomicFile::create(&p).map_err(|e| partial(e, 1))?;
    json::write_manifest(
        &mut f,
        &head,
        list.iter().map(|l| match l.src {
            Src::New(s) => spill.get(s).map(Cow::Owned).map_err(io_err),
            Src::Old(m) => serde_json::to_vec_pretty(m)
                .map(Cow::Owned)
                .map_err(io::Error::other),
        }),
        recipients.values().map(|r| match r {
            Rsrc::New(s) => spill.get(*s).map(Cow::Owned).map_err(io_err),
            Rsrc::Old(o) => serde_json::to_vec_pretty(o)
                .map(Cow::Owned)
                .map_err(io::Error::other),
        }),
    )
    .map_err(|e| partial(werr(&p)(e), 1))?;
    f.commit_durable(None).map_err(|e| partial(e, 1))?;
    write::sync_dir(out).map_err(|e| partial(e, 1))?;
    Ok(Report {
        complete,
        totals,
        errors,
        skipped,
    })
}
