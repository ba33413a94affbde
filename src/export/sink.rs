//! The sink contract: how one export format plugs into the run.
//!
//! Owns: the [`Sink`] trait every format implements, what a sink is given ([`Message`]
//! per message and mailbox, [`Mailbox`] per mailbox, [`Check`] in `verify`), and where
//! it writes ([`Dest`]). The formats themselves live one per file in `sinks/` (`mbox.rs`,
//! `maildir.rs`, `eml.rs`, `text.rs`, …) and are listed once, in [`super::sinks`] (with
//! [`super::sinks::render_message`], which runs them).
//! Pure interface; the run ([`super::run`]) drives it.
//!
//! # The contract
//!
//! A sink is a stateless value (`Sync`: it is called from every worker thread at once).
//! For each mailbox bundle (`recipients/<dir>/`) of a run it is driven in this order:
//!
//! 1. **Directories.** Before any message, every directory in [`SinkInfo::dirs`] exists in the
//!    bundle (they are also put in the bundle's zip, even when empty).
//! 2. **Per message** ([`Sink::message`]), in parallel across messages, once for every
//!    (message, mailbox) pair this run adds, never twice for the same pair — not even on
//!    `--update`, where a pair an earlier run wrote is not offered again. The sink gets the
//!    message bytes exactly as queued, its [`Summary`] (the manifest entry without the
//!    recipient list), the decoded form (computed on first use, shared by every sink),
//!    the mailbox's delivery headers, the message's file stem and arrival time. It writes
//!    one or more files through the [`Dest`]; their names must be a pure function of the
//!    message (the stem, the summary), so a rerun writes the same names. The same call
//!    renders the message into the mailbox's zip (`--zip-formats`), again for every
//!    message each time the zip is rebuilt: a sink must not assume it runs once.
//! 3. **Per mailbox** ([`Sink::mailbox`]), in parallel across mailboxes, once per bundle
//!    that this run changed, after every message of the run is written. The sink sees the
//!    whole bundle — this run's messages and an earlier export's — oldest first
//!    (arrival, then queue ID), each as a [`Summary`] with its delivery headers, and can
//!    stream each archive copy with [`Mailbox::archive`] (its SHA-256 is checked while it
//!    is read). A file written here replaces the file of the same path an earlier run
//!    listed (`mail.mbox`, `index.html`). A sink that reads every archive copy to its end
//!    here says so with [`Sink::reads_messages`]: the progress bar counts those bytes.
//! 4. **The zip** (`--zip`): a [`Dest`] too. The sinks of `--zip-formats` are run again
//!    into it — per message (each message's archive copy read back and its SHA-256
//!    checked), then per mailbox — whether or not the same formats are also kept as
//!    trees. Then one durability barrier makes all files durable and the manifest lists
//!    them.
//!
//! **Filing** ([`crate::filter::verdict`]). Every message a sink sees has a [`Filing`]:
//! [`Filing::Inbox`] (where everything went before filters), or [`Filing::Junk`] (spam
//! under `--spam-action junk`): a sink puts a Junk message where a mail reader looks for
//! spam — its [`SinkInfo::junk_dirs`] (`Maildir/.Junk/`, `Junk/eml/`, …; see
//! [`Message::folder`]) or a per-mailbox file of its own (`junk.mbox`), never among the
//! inbox. A withheld message (malware; spam under `withhold`) never reaches a sink: the
//! run does not call [`Sink::message`] for it, and [`Mailbox::get`] does not list it;
//! [`Mailbox::withheld`] gives its summary for a notice that names it (sender, subject,
//! date, why — no body, no link). [`Mailbox::junk`] says the bundle has a Junk (spam
//! filtered into it), even while it is empty.
//!
//! A sink never opens a path itself for writing: [`Dest`] writes atomically (temporary
//! name, rename), with mode 0600, the given modification time, and records each file's
//! path, size and SHA-256 for the manifest's `recipients[].files`. Paths given to a
//! [`Dest`] are relative to the bundle, `/`-separated, and made only of names from
//! [`crate::decode::names`] (never `..`, never absolute); a file's directory is one of
//! [`SinkInfo::dirs`] or was made with [`Dest::dir`] for this message first. A page may
//! link to another format's file only when [`Message::formats`] has that format: the
//! same bundle's tree and zip can hold different formats.
//!
//! **Failing.** A sink returns [`ExportError`] only when it cannot write (the [`Dest`]'s
//! error, or a source that cannot be read): that stops the run, which exits 1 without a
//! manifest claiming success. What a hostile or damaged message contains is never a
//! failure: render what can be rendered and leave the warnings to [`crate::decode`].
//!
//! In `verify`, [`Sink::verify`] may read its output back (mbox, Maildir do): every file
//! listed in the manifest is already checked for size and SHA-256 by `verify` itself.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bytes::Bytes;
use crate::decode::{Decoded, decode};
pub use crate::filter::verdict::Filing;
use crate::manifest::{Exported, ManifestMessage, ManifestRecipient};

use super::error::ExportError;
use super::write::werr;

/// What a sink is, as constants: its names, where its files are in a bundle, and its
/// paragraph in the zip's README. Each sink has one (`INFO` in its file), returned by
/// [`Sink::info`]; the trait's other methods are behaviour.
#[derive(Debug)]
pub struct SinkInfo {
    /// The name in `--format`, in the manifest's `options.formats`, and the key of this
    /// format's location in `recipients[]` (`"mbox"`).
    pub name: &'static str,
    /// Other names `--format` accepts.
    pub aliases: &'static [&'static str],
    /// The path, relative to the bundle, that `recipients[].<name>` names (`"mail.mbox"`,
    /// `"Maildir"`, `"eml"`).
    pub location: &'static str,
    /// Directories this sink needs in every bundle, relative to it, parents first.
    pub dirs: &'static [&'static str],
    /// Directories this sink's Junk needs, relative to the bundle, parents first: made
    /// in every bundle that has a Junk ([`Mailbox::junk`]) before any message.
    pub junk_dirs: &'static [&'static str],
    /// Its paragraph in the zip's README.txt: what the files are and how to open them,
    /// for someone who is not a mail administrator (lines of at most 78 characters, ending
    /// in an empty line).
    pub readme: &'static str,
}

/// One export format. See the module documentation for the whole contract.
pub trait Sink: Sync {
    /// Its constants: name, aliases, location, directories, README paragraph.
    fn info(&self) -> &'static SinkInfo;
    /// [`SinkInfo::name`].
    fn name(&self) -> &'static str {
        self.info().name
    }
    /// [`SinkInfo::aliases`].
    fn aliases(&self) -> &'static [&'static str] {
        self.info().aliases
    }
    /// [`SinkInfo::location`].
    fn location(&self) -> &'static str {
        self.info().location
    }
    /// [`SinkInfo::dirs`].
    fn dirs(&self) -> &'static [&'static str] {
        self.info().dirs
    }
    /// [`SinkInfo::junk_dirs`].
    fn junk_dirs(&self) -> &'static [&'static str] {
        self.info().junk_dirs
    }
    /// [`SinkInfo::readme`].
    fn readme(&self) -> &'static str {
        self.info().readme
    }
    /// Writes this sink's files for one message of one mailbox.
    fn message(&self, _m: &Message, _dest: &mut dyn Dest) -> Result<(), ExportError> {
        Ok(())
    }
    /// Writes this sink's files for a whole mailbox, after all of its messages.
    fn mailbox(&self, _b: &Mailbox, _dest: &mut dyn Dest) -> Result<(), ExportError> {
        Ok(())
    }
    /// Whether [`Sink::mailbox`] reads every message of the mailbox to its end through
    /// [`Mailbox::archive`], once: "writing mailboxes" counts those bytes, and announces
    /// its total from this.
    fn reads_messages(&self) -> bool {
        false
    }
    /// Extra checks in `verify` for one bundle that has this format.
    fn verify(&self, _c: &Check, _rep: &mut VerifyReport) {}
}

/// A set of formats: which of the registered sinks a bundle (a tree, a zip) holds, in
/// registry order. The set carries the list it indexes, so the contract never imports
/// the registry; the registry (`super::sinks`) makes the sets (`Formats::parse`, `all`,
/// `none`, the defaults) from its `SINKS`.
#[derive(Clone, Copy)]
pub struct Formats {
    bits: u32,
    /// Every registered sink, in registry order (`SINKS`).
    all: &'static [&'static dyn Sink],
}

impl PartialEq for Formats {
    fn eq(&self, o: &Formats) -> bool {
        self.bits == o.bits
    }
}
impl Eq for Formats {}

impl std::fmt::Debug for Formats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Formats {
    /// The set `bits` of `all` (bit `i`: `all[i]`); for the registry.
    pub(crate) fn from_bits(all: &'static [&'static dyn Sink], bits: u32) -> Formats {
        Formats { bits, all }
    }

    pub(crate) fn bits(&self) -> u32 {
        self.bits
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Whether the format called `name` is in the set.
    pub fn has(&self, name: &str) -> bool {
        self.sinks().any(|s| s.name() == name)
    }

    /// The sinks in the set, in registry order.
    pub fn sinks(&self) -> impl Iterator<Item = &'static dyn Sink> + use<> {
        let bits = self.bits;
        self.all
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, s)| *s)
    }

    /// Every registered sink with whether it is in the set.
    pub fn each(&self) -> impl Iterator<Item = (&'static dyn Sink, bool)> + use<> {
        let bits = self.bits;
        self.all
            .iter()
            .enumerate()
            .map(move |(i, s)| (*s, bits & (1 << i) != 0))
    }

    /// Names in registry order.
    pub fn names(&self) -> Vec<&'static str> {
        self.sinks().map(|s| s.name()).collect()
    }

    /// Names in registry order, as the manifest records them (`options.formats`).
    pub fn recorded(&self) -> Vec<String> {
        self.sinks().map(|s| s.name().to_string()).collect()
    }

    /// Both sets together.
    pub fn union(self, o: Formats) -> Formats {
        Formats {
            bits: self.bits | o.bits,
            all: self.all,
        }
    }
}

/// How a [`Dest`] writes one file.
#[derive(Debug, Clone, Copy)]
pub struct FileOpts<'a> {
    /// Modification time (seconds since the epoch).
    pub mtime: i64,
    /// Write the temporary file here (bundle-relative) instead of beside the file: Maildir
    /// delivers through `tmp/`.
    pub staging: Option<&'a str>,
}

impl FileOpts<'_> {
    pub fn at(mtime: i64) -> FileOpts<'static> {
        FileOpts {
            mtime,
            staging: None,
        }
    }
}

/// What writes a file's content, given to [`Dest::file`].
pub type Body<'a> = dyn FnMut(&mut dyn Write) -> io::Result<()> + 'a;

/// Where a sink's files go: one mailbox bundle (its directory on disk, or its zip).
pub trait Dest {
    /// The bundle's name: its directory under `recipients/`, the top folder in its zip.
    fn root(&self) -> &str;
    /// Makes directory `rel` (and its parents) exist.
    fn dir(&mut self, rel: &str) -> Result<(), ExportError>;
    /// Writes file `rel`: `body` writes its content. An error from `body` (for example a
    /// source that cannot be read; give it the source's path in its message) or from the
    /// write fails the file, naming its path, and nothing is left under that name.
    fn file(&mut self, rel: &str, opts: FileOpts, body: &mut Body<'_>) -> Result<(), ExportError>;
    /// Writes file `rel` from memory.
    fn put(&mut self, rel: &str, mtime: i64, data: &[u8]) -> Result<(), ExportError> {
        self.file(rel, FileOpts::at(mtime), &mut |w| w.write_all(data))
    }
}

/// The decoded form of a message, computed when a sink first asks for it.
pub struct LazyDecoded<'a> {
    bytes: &'a [u8],
    label: &'a str,
    cell: OnceLock<Decoded>,
}

impl<'a> LazyDecoded<'a> {
    /// `label` is the attachment folder's name shown in the text rendering.
    pub fn new(bytes: &'a [u8], label: &'a str) -> LazyDecoded<'a> {
        LazyDecoded {
            bytes,
            label,
            cell: OnceLock::new(),
        }
    }
    /// Already decoded (the run decodes new messages for their manifest entry).
    pub fn with(bytes: &'a [u8], label: &'a str, d: Decoded) -> LazyDecoded<'a> {
        let cell = OnceLock::new();
        let _ = cell.set(d);
        LazyDecoded { bytes, label, cell }
    }
    pub fn get(&self) -> &Decoded {
        self.cell.get_or_init(|| decode(self.bytes, self.label))
    }
    pub fn is_decoded(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// What a sink is given for one message of one mailbox.
pub struct Message<'a> {
    /// The message exactly as queued (the archive copy's bytes, LF line ends).
    pub bytes: &'a [u8],
    /// Its manifest entry without the recipient list: queue ID, arrival, sender, the
    /// archive copy's path, hash and size, and the decoded summary fields.
    pub summary: &'a Summary,
    /// The mailbox (case-folded address) whose bundle is being written.
    pub mailbox: &'a [u8],
    /// The delivery headers for this mailbox (`Return-Path`, `X-Original-To`,
    /// `Delivered-To`, LF) that every mailbox copy starts with.
    pub prepend: &'a [u8],
    /// `<stamp>_<queue-id>`: the base name of this message's files.
    pub stem: &'a str,
    /// Arrival time (seconds, microseconds): the modification time of its files.
    pub arrival: (i64, i64),
    /// The formats written into the same bundle (a page may link to the `.eml`).
    pub formats: Formats,
    /// Inbox or Junk (a withheld message is never given to a sink).
    pub filing: Filing,
    pub(crate) decoded: &'a LazyDecoded<'a>,
}

impl Message<'_> {
    /// Where this message's per-message files go in the bundle: `""` for the inbox,
    /// `"Junk/"` for Junk, a folder that mirrors the bundle's layout (then followed by
    /// the sink's own folder: `Junk/eml/<stem>.eml`, `Junk/text/…`, `Junk/html/…`).
    pub fn folder(&self) -> &'static str {
        match self.filing {
            Filing::Junk => "Junk/",
            _ => "",
        }
    }

    /// The decoded message (text rendering, attachments, summary fields).
    pub fn decoded(&self) -> &Decoded {
        self.decoded.get()
    }
}

/// One message of a mailbox as the per-mailbox stage sees it: the manifest entry without
/// its (possibly very long) recipient list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub queue_id: String,
    pub arrival_unix: i64,
    /// The envelope sender (empty for the null sender).
    pub sender: Bytes,
    /// The archive copy and what the message's headers and body showed.
    pub exported: Exported,
    /// `<stamp>_<queue-id>`: the base name of the message's per-message files.
    pub stem: String,
    /// The content filters' verdict, if any filter was asked for.
    pub verdict: Option<crate::filter::verdict::Verdict>,
}

impl Summary {
    pub fn of(m: &ManifestMessage) -> Summary {
        Summary {
            queue_id: m.info.queue_id.clone(),
            arrival_unix: m.info.arrival_unix,
            sender: m.info.sender.clone(),
            exported: m.exported.clone(),
            stem: crate::decode::names::stem(m.info.arrival_unix, &m.info.queue_id),
            verdict: m.verdict.clone(),
        }
    }

    /// What a withheld message's notice says of it (the page's and the zip README's).
    pub fn notice(&self) -> Notice<'_> {
        let sender = &self.sender.0;
        let from = match (&self.exported.from, sender.is_empty()) {
            (Some(f), _) if !f.trim().is_empty() => f.clone(),
            (_, true) => "(no sender: a bounce)".into(),
            (_, false) => String::from_utf8_lossy(sender).into_owned(),
        };
        let subject = self
            .exported
            .subject
            .as_deref()
            .filter(|x| !x.trim().is_empty());
        let why = self.verdict.as_ref();
        Notice {
            from,
            subject: subject.unwrap_or("(no subject)"),
            why: why.map_or("withheld".into(), |v| v.reason()),
        }
    }
}

/// A withheld message as its notice names it ([`Summary::notice`]): no body, no link.
pub struct Notice<'a> {
    /// Who sent it: its From, else the envelope sender (`(no sender: a bounce)`).
    pub from: String,
    /// Its subject, `(no subject)` when it has none or only blanks.
    pub subject: &'a str,
    /// Why it is withheld (its verdict's reason).
    pub why: String,
}

/// One message of a [`Mailbox`].
#[derive(Debug, Clone)]
pub struct Item {
    pub summary: Summary,
    /// The delivery headers for this mailbox.
    pub prepend: Vec<u8>,
    /// Inbox or Junk (withheld messages are not items).
    pub filing: Filing,
}

/// What a sink is given for a whole mailbox.
pub struct Mailbox<'a> {
    /// The mailbox (case-folded address).
    pub mailbox: &'a [u8],
    /// The bundle's directory name under `recipients/`.
    pub dir: &'a str,
    /// The formats written into the same bundle.
    pub formats: Formats,
    /// Number of messages filed in the bundle (inbox and Junk; withheld ones are not).
    pub len: usize,
    /// The bundle has a Junk (spam is filtered into it), even when it holds nothing.
    pub junk: bool,
    /// Number of messages withheld from this bundle ([`Mailbox::withheld`]).
    pub withheld: usize,
    /// Newest arrival time (the mtime of per-mailbox files).
    pub newest: i64,
    pub(crate) out: &'a Path,
    pub(crate) get: &'a (dyn Fn(usize) -> Result<Item, ExportError> + Sync),
    pub(crate) get_withheld: &'a (dyn Fn(usize) -> Result<Summary, ExportError> + Sync),
    /// Told the bytes read through [`Mailbox::archive`] (progress).
    pub(crate) read: &'a (dyn Fn(u64) + Sync),
}

impl<'a> Mailbox<'a> {
    /// Message `i`, oldest first (`0..len`; iterate backwards for newest first).
    pub fn get(&self, i: usize) -> Result<Item, ExportError> {
        (self.get)(i)
    }
    /// Withheld message `i`, oldest first (`0..withheld`): only its summary, for the
    /// notice; its bytes must not be written into the bundle.
    pub fn withheld(&self, i: usize) -> Result<Summary, ExportError> {
        (self.get_withheld)(i)
    }
    /// The mailbox as text (UTF-8, lossy) for display.
    pub fn address(&self) -> String {
        String::from_utf8_lossy(self.mailbox).into_owned()
    }
    /// Opens a message's archive copy for streaming; the reader fails with
    /// `InvalidData` at its end when the bytes do not match the manifest's SHA-256.
    pub fn archive(&self, s: &Summary) -> Result<Archive<'a>, ExportError> {
        let mut a: Archive<'a> =
            Archive::open(&self.out.join(&s.exported.store), &s.exported.sha256)?;
        a.count = Some(self.read);
        Ok(a)
    }
    /// Where the export is (the archive copies are under it, at `Summary::store`).
    pub fn out(&self) -> &Path {
        self.out
    }
}

/// An archive copy being read, hashed on the way (see [`Mailbox::archive`]), and
/// counted: the bytes read are told to `count` every [`COUNT_EVERY`] bytes and at the end.
pub struct Archive<'a> {
    path: PathBuf,
    r: BufReader<File>,
    h: Sha256,
    want: String,
    checked: bool,
    count: Option<&'a (dyn Fn(u64) + Sync)>,
    uncounted: u64,
}

/// How often (in bytes read) an [`Archive`] tells its count.
pub const COUNT_EVERY: u64 = 256 * 1024;

impl Drop for Archive<'_> {
    fn drop(&mut self) {
        self.tell();
    }
}

impl Archive<'static> {
    /// Reads a whole archive copy, checking its size and SHA-256.
    pub fn read_all(path: &Path, sha256: &str, size: u64) -> Result<Vec<u8>, ExportError> {
        let mut a = Archive::open(path, sha256)?;
        let mut v = Vec::with_capacity(size as usize);
        a.read_to_end(&mut v).map_err(werr(path))?;
        Ok(v)
    }

    pub fn open(path: &Path, sha256: &str) -> Result<Archive<'static>, ExportError> {
        let f = super::write::open_read(path).map_err(werr(path))?;
        Ok(Archive {
            path: path.to_path_buf(),
            r: BufReader::with_capacity(64 * 1024, f),
            h: Sha256::new(),
            want: sha256.to_string(),
            checked: false,
            count: None,
            uncounted: 0,
        })
    }
}

impl Archive<'_> {
    /// Tells `count` the bytes read since it was last told.
    fn tell(&mut self) {
        if let Some(f) = self.count
            && self.uncounted > 0
        {
            f(std::mem::take(&mut self.uncounted));
        }
    }
    fn context(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}

impl Read for Archive<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Archive<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let empty = match self.r.fill_buf() {
            Ok(b) => b.is_empty(),
            Err(e) => return Err(self.context(e)),
        };
        if empty && !self.checked {
            self.checked = true;
            let got = hex::encode(std::mem::take(&mut self.h).finalize());
            if got != self.want {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: archive copy does not match its sha256 in the manifest (changed after it was written)",
                        self.path.display()
                    ),
                ));
            }
        }
        self.r.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        if n > 0
            && let Ok(b) = self.r.fill_buf()
        {
            self.h.update(&b[..n.min(b.len())]);
        }
        self.r.consume(n);
        self.uncounted += n as u64;
        if self.uncounted >= COUNT_EVERY {
            self.tell();
        }
    }
}

/// What a sink is given in `verify` for one bundle.
pub struct Check<'a> {
    /// The export directory.
    pub out: &'a Path,
    pub recipient: &'a ManifestRecipient,
    /// This format's location, relative to OUT (`recipients/<dir>/mail.mbox`).
    pub location: &'a str,
    /// The bundle's inbox messages in manifest order (oldest first).
    pub messages: &'a [&'a ManifestMessage],
    /// The bundle's Junk messages (`recipients[].junk`), oldest first.
    pub junk: &'a [&'a ManifestMessage],
    pub(crate) prepend: &'a dyn Fn(&ManifestMessage) -> Vec<u8>,
}

impl Check<'_> {
    /// The bytes a mailbox copy of `m` must hold: delivery headers + archive copy.
    pub fn expected_copy(&self, m: &ManifestMessage) -> io::Result<Vec<u8>> {
        let mut v = (self.prepend)(m);
        v.extend_from_slice(&std::fs::read(self.out.join(&m.exported.store))?);
        Ok(v)
    }
}

/// One thing that does not match (in a [`VerifyReport`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub path: String,
    pub reason: String,
}

/// The outcome of a verification: what `verify` returns and what [`Sink::verify`] adds
/// to. It lives in the contract so that `verify` imports the sinks and no sink imports
/// `verify`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub files_checked: usize,
    pub messages_checked: usize,
    pub mismatches: Vec<Mismatch>,
    /// Things that could not be checked (e.g. encrypted zips without a password file).
    pub notes: Vec<String>,
    /// The manifest says the export run was not complete.
    pub incomplete_export: bool,
    /// Encrypted zips whose entries could not be read for lack of a password.
    #[serde(skip_serializing_if = "is_zero")]
    pub encrypted_unchecked: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
    /// Records a mismatch.
    pub fn bad(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.mismatches.push(Mismatch {
            path: path.into(),
            reason: reason.into(),
        });
    }
}
