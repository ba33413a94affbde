//! Phase 3 of an export: one mailbox at a time per worker thread.
//!
//! Owns: the finished export's message list (this run's messages plus an earlier
//! export's, oldest first: arrival time, then queue ID), each mailbox's bundle (its
//! messages in that order with their delivery headers, its files), running every
//! per-mailbox sink ([`super::sink::Sink::mailbox`]) for each bundle this run changed,
//! packing its zip, and the bundle's manifest entry. In: phase 2's [`Written`] and the
//! earlier manifest. Out: the message list and one manifest entry (spilled) per bundle.
//! Fails with the first write error.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rayon::prelude::*;

use crate::bytes::Bytes;
use crate::manifest::{FileEntry, Manifest, ManifestMessage, ManifestRecipient, Outputs};
use crate::report::select::Selection;

use super::error::ExportError;
use super::message::Filed;
use super::plan::Plan;
use super::prepend;
use super::progress::Progress;
use super::sink::{Archive, Dest, Item, LazyDecoded, Mailbox, Message, Summary};
use super::sinks::Formats;
use super::sinks::render_message;
use super::sinks::text;
use super::spill::{Slot, Spill};
use super::tree::Tree;
use super::zip::{self, Secret};
use crate::decode::names;
use crate::filter::verdict::{Filing, SpamAction};

/// Where a message's manifest entry is.
#[derive(Clone, Copy)]
pub enum Src<'a> {
    /// Written by this run: in the spill file (manifest entry, summary).
    New(Slot, Slot),
    /// Kept from the export being updated.
    Old(&'a ManifestMessage),
}

/// One message of the finished export, in manifest order.
pub struct Listed<'a> {
    pub arrival: i64,
    pub id: &'a str,
    pub bytes: u64,
    pub src: Src<'a>,
    /// What the filters made of it: where it is filed in every bundle.
    pub filed: Filed,
}

impl Listed<'_> {
    fn summary(&self, spill: &Spill) -> Result<Summary, ExportError> {
        match self.src {
            Src::New(_, s) => spill.get_json(s),
            Src::Old(m) => Ok(Summary::of(m)),
        }
    }
}

/// A mailbox bundle being assembled for the manifest.
pub struct Bundle<'a> {
    pub key: Vec<u8>,
    pub dir: String,
    /// Positions in the message list, sorted (= oldest first) after the merge.
    ids: Vec<u32>,
    /// The delivery headers of each message for this mailbox (same index as `ids`;
    /// filled for touched bundles only).
    pre: Vec<Slot>,
    /// Files written by this run (`FileEntry`, compact JSON).
    files: Vec<Slot>,
    pub touched: bool,
    pub old: Option<&'a ManifestRecipient>,
}

/// The whole export after phase 2: messages and bundles.
pub struct Assembled<'a> {
    pub list: Vec<Listed<'a>>,
    pub bundles: BTreeMap<Vec<u8>, Bundle<'a>>,
    /// Spam is filed in Junk (a spam filter judged the export's messages, and
    /// `--spam-action junk`): every bundle this run writes gets a Junk.
    pub junk_on: bool,
}

/// Builds the message list and the bundles from phase 2's output and the earlier
/// manifest.
pub fn assemble<'a>(
    plan: &'a Plan,
    done: Vec<(usize, super::message::MsgOut)>,
    old: Option<&'a Manifest>,
    dirs: &BTreeMap<Vec<u8>, String>,
    spill: &Spill,
    action: SpamAction,
) -> Result<Assembled<'a>, ExportError> {
    let list = message_list(plan, &done, old, action);
    let junk_on = action == SpamAction::Junk && list.iter().any(|l| l.filed.spam_checked);
    let pos: HashMap<&str, u32> = list
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i as u32))
        .collect();
    // Bundles: the earlier export's, then this run's additions.
    let mut bundles = old_bundles(old, &pos);
    let mut headers = add_this_run(plan, done, dirs, &pos, &mut bundles);
    drop(pos);
    old_headers(&list, &mut bundles, &mut headers, spill)?;
    for b in bundles.values_mut().filter(|b| b.touched) {
        b.pre = b.ids.iter().map(|p| headers[p][&b.key]).collect();
    }
    spill.flush()?;
    Ok(Assembled {
        list,
        bundles,
        junk_on,
    })
}

/// Delivery headers (spilled) by list position, then by mailbox key.
type Headers = HashMap<u32, HashMap<Vec<u8>, Slot>>;

/// This run's messages plus the earlier export's that were not redone, oldest first
/// (arrival time, then queue ID).
fn message_list<'a>(
    plan: &'a Plan,
    done: &[(usize, super::message::MsgOut)],
    old: Option<&'a Manifest>,
    action: SpamAction,
) -> Vec<Listed<'a>> {
    let mut list: Vec<Listed> = Vec::with_capacity(done.len());
    for (i, m) in done {
        list.push(Listed {
            arrival: m.arrival,
            id: plan.messages[*i].entry.export_id(),
            bytes: m.bytes,
            src: Src::New(m.message, m.summary),
            filed: m.filed,
        });
    }
    if let Some(o) = old {
        let redone: BTreeSet<&str> = done
            .iter()
            .map(|(i, _)| plan.messages[*i].entry.export_id())
            .collect();
        for m in &o.messages {
            if !redone.contains(m.info.queue_id.as_str()) {
                list.push(Listed {
                    arrival: m.info.arrival_unix,
                    id: &m.info.queue_id,
                    bytes: m.exported.bytes,
                    src: Src::Old(m),
                    // The same verdict and action as when it was filed: the same place.
                    filed: Filed::of(m.verdict.as_ref(), action),
                });
            }
        }
    }
    // Stable, and queue IDs are unique in the list, so the order is total.
    list.sort_by(|a, b| (a.arrival, a.id).cmp(&(b.arrival, b.id)));
    list
}

/// The earlier export's bundles (untouched so far), their messages by list position `pos`.
fn old_bundles<'a>(
    old: Option<&'a Manifest>,
    pos: &HashMap<&str, u32>,
) -> BTreeMap<Vec<u8>, Bundle<'a>> {
    let mut bundles: BTreeMap<Vec<u8>, Bundle> = BTreeMap::new();
    if let Some(o) = old {
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
                    pre: Vec::new(),
                    files: Vec::new(),
                    touched: false,
                    old: Some(r),
                },
            );
        }
    }
    bundles
}

/// Adds this run's messages and files to their bundles (creating and touching them)
/// and returns this run's delivery headers.
fn add_this_run(
    plan: &Plan,
    done: Vec<(usize, super::message::MsgOut)>,
    dirs: &BTreeMap<Vec<u8>, String>,
    pos: &HashMap<&str, u32>,
    bundles: &mut BTreeMap<Vec<u8>, Bundle>,
) -> Headers {
    let mut headers: Headers = HashMap::new();
    for (i, m) in done {
        let p = pos[plan.messages[i].entry.export_id()];
        for &k in &m.added {
            let key = &plan.mailboxes[k as usize];
            let b = bundles.entry(key.clone()).or_insert_with(|| Bundle {
                key: key.clone(),
                dir: dirs[key].clone(),
                ids: Vec::new(),
                pre: Vec::new(),
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
        headers.insert(p, m.prepends.into_iter().collect());
    }
    headers
}

/// Sorts each bundle's messages and adds to `headers` those of an earlier export's
/// messages that touched bundles need, computed once per message for all of them
/// (linear in the recipients).
fn old_headers(
    list: &[Listed],
    bundles: &mut BTreeMap<Vec<u8>, Bundle>,
    headers: &mut Headers,
    spill: &Spill,
) -> Result<(), ExportError> {
    let mut wanted: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for b in bundles.values_mut() {
        b.ids.sort_unstable();
        b.ids.dedup();
        if b.touched {
            for &p in &b.ids {
                if !headers.contains_key(&p) {
                    wanted.entry(p).or_default().push(b.key.clone());
                }
            }
        }
    }
    for (p, keys) in wanted {
        let info = match list[p as usize].src {
            Src::Old(m) => Cow::Borrowed(&m.info),
            Src::New(s, _) => Cow::Owned(spill.get_json::<ManifestMessage>(s)?.info),
        };
        let all = prepend::by_mailbox(&info);
        let mut h = HashMap::with_capacity(keys.len());
        for k in keys {
            let bytes = prepend::lookup(&all, &info, &k);
            h.insert(k, spill.put(&bytes)?);
        }
        headers.insert(p, h);
    }
    Ok(())
}

/// (message, mailbox) pairs filed in Junk, and withheld, over the bundles of the
/// finished export (`recipients`).
pub fn filed_pairs<T>(asm: &Assembled, recipients: &BTreeMap<&[u8], T>) -> (usize, usize) {
    let (mut junk, mut held) = (0, 0);
    for b in asm.bundles.values() {
        if !recipients.contains_key(b.key.as_slice()) {
            continue;
        }
        for &p in &b.ids {
            match asm.list[p as usize].filed.filing {
                Filing::Junk => junk += 1,
                Filing::Withheld => held += 1,
                Filing::Inbox => {}
            }
        }
    }
    (junk, held)
}

impl Assembled<'_> {
    /// The bundles this run changed (their per-mailbox files and zip are rewritten).
    pub fn touched(&self) -> Vec<&Bundle<'_>> {
        self.bundles.values().filter(|b| b.touched).collect()
    }
}

/// Removes the directories prepared for a mailbox that ended up with no message (its
/// only message could not be read).
pub fn remove_unused<T>(
    out: &Path,
    plan: &Plan,
    dirs: &BTreeMap<Vec<u8>, String>,
    recipients: &BTreeMap<&[u8], T>,
) {
    for key in &plan.mailboxes {
        if !recipients.contains_key(key.as_slice()) {
            super::write::remove_empty_dirs(&out.join("recipients").join(&dirs[key]));
        }
    }
}

/// What phase 3 needs besides the bundle.
pub struct Finish<'a> {
    pub out: &'a Path,
    pub list: &'a [Listed<'a>],
    pub spill: &'a Spill,
    /// Formats kept as trees.
    pub formats: Formats,
    pub zip_on: bool,
    /// Formats inside the zips.
    pub zip_formats: Formats,
    pub passwords: Option<&'a BTreeMap<Vec<u8>, Secret>>,
    /// Every bundle gets a Junk ([`Assembled::junk_on`]).
    pub junk_on: bool,
}

/// Phase 3's progress, in bytes of mail: every filed message of a bundle (withheld
/// ones are not read) once for each sink that streams them into a per-mailbox file
/// (mail.mbox: in the tree and in the zip), and every message once more for the zip's
/// per-message files.
pub fn steps(fx: &Finish, touched: &[&Bundle]) -> u64 {
    let streams = |f: Formats| f.sinks().filter(|s| s.reads_messages()).count() as u64;
    let passes = streams(fx.formats)
        + if fx.zip_on {
            streams(fx.zip_formats)
        } else {
            0
        };
    let filed: u64 = touched
        .iter()
        .flat_map(|b| &b.ids)
        .map(|&p| &fx.list[p as usize])
        .filter(|l| l.filed.filing != Filing::Withheld)
        .map(|l| l.bytes)
        .sum();
    let all: u64 = touched.iter().map(|b| bundle_bytes(fx, b)).sum();
    passes * filed + if fx.zip_on { all } else { 0 }
}

fn bundle_bytes(fx: &Finish, b: &Bundle) -> u64 {
    b.ids.iter().map(|&p| fx.list[p as usize].bytes).sum()
}

/// A finished bundle's manifest entry (spilled) and number of messages.
pub type Finished = Result<(Slot, usize), ExportError>;

/// First pass: finished, or its zip left for the second pass.
enum First {
    Done((Slot, usize)),
    Later(Pending),
}

/// A bundle whose zip is written in the second pass.
struct Pending {
    index: usize,
    /// The bundle's files (`Vec<FileEntry>`, JSON) after its per-mailbox sinks.
    files: Slot,
}

/// Runs phase 3 for every touched bundle: returns each one's spilled manifest entry
/// (pretty JSON) and number of messages, in `touched` order. First pass, in parallel
/// over the bundles: per-mailbox sinks into the tree, and the zip of every bundle small
/// enough for one thread. Second pass, one bundle after another: the zips of the big
/// bundles, each with its messages rendered on every core (a backup MX's queue is often
/// skewed: one list or one person holds half of the mail).
pub fn run(
    fx: &Finish,
    touched: &[&Bundle],
    sel: &Selection,
    progress: &dyn Progress,
) -> Vec<Finished> {
    let big = |b: &Bundle| fx.zip_on && chunks_of(fx, b).len() > 1;
    let first: Vec<Result<First, ExportError>> = touched
        .par_iter()
        .enumerate()
        .map(|(index, b)| {
            let files = tree_bundle(fx, b, progress)?;
            if big(b) {
                let files: Vec<FileEntry> = files.into_values().collect();
                return Ok(First::Later(Pending {
                    index,
                    files: fx.spill.put_json(&files, false)?,
                }));
            }
            finish_bundle(fx, b, files, sel.is_valid(&b.key), false, progress).map(First::Done)
        })
        .collect();
    let mut out: Vec<Option<Finished>> = Vec::new();
    let mut pending = Vec::new();
    for r in first {
        out.push(match r {
            Ok(First::Done(done)) => Some(Ok(done)),
            Ok(First::Later(p)) => {
                pending.push(p);
                None
            }
            Err(e) => Some(Err(e)),
        });
    }
    if let Err(e) = fx.spill.flush() {
        return vec![Err(e)];
    }
    for p in pending {
        let b = touched[p.index];
        let r = fx.spill.get_json::<Vec<FileEntry>>(p.files).and_then(|f| {
            let files = f.into_iter().map(|e| (e.path.clone(), e)).collect();
            finish_bundle(fx, b, files, sel.is_valid(&b.key), true, progress)
        });
        out[p.index] = Some(r);
    }
    out.into_iter()
        .map(|r| r.expect("every bundle finished"))
        .collect()
}

/// The view of a bundle that per-mailbox sinks get; the bytes they read are told to
/// `progress`.
fn with_view<T>(
    fx: &Finish,
    b: &Bundle,
    formats: Formats,
    progress: &dyn Progress,
    f: impl FnOnce(&Mailbox) -> T,
) -> T {
    // The sinks see the filed messages; the withheld ones only as summaries.
    let (shown, held): (Vec<usize>, Vec<usize>) =
        (0..b.ids.len()).partition(|&i| filing(fx, b, i) != Filing::Withheld);
    let get = |i: usize| -> Result<Item, ExportError> {
        let j = shown[i];
        Ok(Item {
            summary: fx.list[b.ids[j] as usize].summary(fx.spill)?,
            prepend: fx.spill.get(b.pre[j])?,
            filing: filing(fx, b, j),
        })
    };
    let get_withheld = |i: usize| fx.list[b.ids[held[i]] as usize].summary(fx.spill);
    let view = Mailbox {
        mailbox: &b.key,
        dir: &b.dir,
        formats,
        len: shown.len(),
        junk: has_junk(fx, b),
        withheld: held.len(),
        newest: newest(fx, b),
        out: fx.out,
        get: &get,
        get_withheld: &get_withheld,
        read: &|n| progress.advance(n),
    };
    f(&view)
}

/// Where message `i` of bundle `b` is filed.
fn filing(fx: &Finish, b: &Bundle, i: usize) -> Filing {
    fx.list[b.ids[i] as usize].filed.filing
}

/// Whether bundle `b` has a Junk: the export files spam in Junk, or it holds some.
fn has_junk(fx: &Finish, b: &Bundle) -> bool {
    fx.junk_on || (0..b.ids.len()).any(|i| filing(fx, b, i) == Filing::Junk)
}

/// The queue IDs of bundle `b`'s messages filed as `f`, oldest first.
fn filed_as(fx: &Finish, b: &Bundle, f: Filing) -> Vec<String> {
    b.ids
        .iter()
        .map(|&p| &fx.list[p as usize])
        .filter(|l| l.filed.filing == f)
        .map(|l| l.id.to_string())
        .collect()
}

fn newest(fx: &Finish, b: &Bundle) -> i64 {
    b.ids
        .iter()
        .map(|&p| fx.list[p as usize].arrival)
        .max()
        .unwrap_or(0)
}

fn chunks_of(fx: &Finish, b: &Bundle) -> Vec<std::ops::Range<usize>> {
    zip::chunks(b.ids.iter().map(|&p| fx.list[p as usize].bytes))
}

/// The bundle's tree: its files from earlier runs and phase 2, then every per-mailbox
/// sink's. Returns every file by path (the zip not included).
fn tree_bundle(
    fx: &Finish,
    b: &Bundle,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, FileEntry>, ExportError> {
    let zip_rel = format!("recipients/{}.zip", b.dir);
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
    files.remove(&zip_rel);
    let mut dest = Tree::new(fx.out, &b.dir);
    if has_junk(fx, b) {
        super::message::junk_dirs(fx.formats, &mut dest)?;
    }
    with_view(fx, b, fx.formats, progress, |view| {
        fx.formats
            .sinks()
            .try_for_each(|s| s.mailbox(view, &mut dest))
    })?;
    for e in dest.into_entries() {
        files.insert(e.path.clone(), e);
    }
    Ok(files)
}

/// Renders message `i` of a bundle into a zip: its archive copy read back (hash
/// checked), then every per-message sink of the zip's formats.
fn zip_message(fx: &Finish, b: &Bundle, i: usize, dest: &mut dyn Dest) -> Result<(), ExportError> {
    let filing = filing(fx, b, i);
    if filing == Filing::Withheld {
        return Ok(());
    }
    let summary = fx.list[b.ids[i] as usize].summary(fx.spill)?;
    let prepend = fx.spill.get(b.pre[i])?;
    let bytes = Archive::read_all(
        &fx.out.join(&summary.exported.store),
        &summary.exported.sha256,
        summary.exported.bytes,
    )?;
    let label = text::files_dir(&summary.stem);
    let decoded = LazyDecoded::new(&bytes, &label);
    let view = Message {
        bytes: &bytes,
        summary: &summary,
        mailbox: &b.key,
        prepend: &prepend,
        stem: &summary.stem,
        arrival: (summary.arrival_unix, summary.exported.arrival_usec),
        formats: fx.zip_formats,
        filing,
        decoded: &decoded,
    };
    render_message(fx.zip_formats, &view, dest)
}

/// The zip's README.txt: what it holds, and what was withheld from it.
fn zip_readme(
    fx: &Finish,
    b: &Bundle,
    address: &str,
    encrypted: bool,
) -> Result<String, ExportError> {
    let mut held = Vec::new();
    let mut counts = zip::Counts::default();
    for (i, &p) in b.ids.iter().enumerate() {
        match filing(fx, b, i) {
            Filing::Withheld => held.push(fx.list[p as usize].summary(fx.spill)?),
            Filing::Junk => counts.junk += 1,
            Filing::Inbox => counts.inbox += 1,
        }
    }
    counts.junk_folder = has_junk(fx, b);
    Ok(zip::readme(
        address,
        &counts,
        fx.zip_formats,
        encrypted,
        &held,
    ))
}

/// The zip (when asked for) and the bundle's manifest entry.
fn finish_bundle(
    fx: &Finish,
    b: &Bundle,
    mut files: BTreeMap<String, FileEntry>,
    valid: Option<bool>,
    parallel: bool,
    progress: &dyn Progress,
) -> Result<(Slot, usize), ExportError> {
    let rbase = format!("recipients/{}", b.dir);
    let zip_rel = format!("{rbase}.zip");
    let mut zip_sha = None;
    let mut zip_entries = Vec::new();
    if fx.zip_on {
        let password = fx.passwords.and_then(|p| p.get(&b.key));
        let address = String::from_utf8_lossy(&b.key);
        let readme = zip_readme(fx, b, &address, password.is_some())?;
        let junk = has_junk(fx, b);
        let dirs: Vec<&str> = fx
            .zip_formats
            .sinks()
            .flat_map(|s| {
                let j: &[&str] = if junk { s.junk_dirs() } else { &[] };
                s.dirs().iter().chain(j).copied()
            })
            .collect();
        let dest = fx.out.join(&zip_rel);
        let chunks = chunks_of(fx, b);
        let job = zip::ZipJob {
            dest: &dest,
            root: &b.dir,
            dirs: &dirs,
            readme: &readme,
            time: newest(fx, b),
            password,
            chunks: &chunks,
            parallel,
        };
        let z = zip::write(
            &job,
            &|i, d| zip_message(fx, b, i, d),
            &|d| {
                with_view(fx, b, fx.zip_formats, progress, |view| {
                    fx.zip_formats.sinks().try_for_each(|s| s.mailbox(view, d))
                })
            },
            &|i| progress.advance(fx.list[b.ids[i] as usize].bytes),
        )?;
        zip_sha = Some(z.written.sha256.clone());
        zip_entries = z.entries;
        files.insert(
            zip_rel.clone(),
            FileEntry {
                path: zip_rel.clone(),
                sha256: z.written.sha256,
                size: z.written.size,
            },
        );
    }
    let r = ManifestRecipient {
        address: Bytes(b.key.clone()),
        dir: b.dir.clone(),
        messages: b
            .ids
            .iter()
            .map(|&p| fx.list[p as usize].id.to_string())
            .collect(),
        bytes: bundle_bytes(fx, b),
        outputs: Outputs(
            fx.formats
                .each()
                .map(|(s, on)| {
                    let at = on.then(|| format!("{rbase}/{}", s.location()));
                    (s.name().to_string(), at)
                })
                .collect(),
        ),
        zip: fx.zip_on.then(|| zip_rel.clone()),
        zip_sha256: zip_sha,
        valid: valid.or(b.old.and_then(|o| o.valid)),
        files: files.into_values().collect(),
        zip_entries,
        junk: filed_as(fx, b, Filing::Junk),
        withheld: filed_as(fx, b, Filing::Withheld),
    };
    Ok((fx.spill.put_json(&r, true)?, b.ids.len()))
}
