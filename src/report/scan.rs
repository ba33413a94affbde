//! The `scan` report: what is stuck, for whom, why, and when it bounces.
//!
//! Owns: [`ScanReport`] (the JSON document), built and written as a stream — the
//! message objects one at a time ([`JsonReport`]), the per-recipient / per-domain /
//! per-queue summaries accumulated on the way ([`Summary`]: memory grows with the
//! number of distinct recipients and reasons, not with the queue), the per-file
//! problems spilled to an anonymous temporary file ([`ProblemLog`]) — and the readable
//! text rendering of the same ([`write_text`]). In: [`MessageInfo`]s (already
//! filtered) in walk order, problems, the run's context. Out: bytes on a writer; the
//! JSON is byte-identical to `serde_json::to_string_pretty` of the whole [`ScanReport`].
//! Fails only with the writer's (or the spill file's) `io::Error`.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::queue::RcptState;
use crate::report::model::MessageInfo;
use crate::report::select::fold;
use crate::timefmt::rfc3339;

/// A file that could not be used, or was left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub queue_id: Option<String>,
    pub reason: String,
}

/// Per-recipient summary (pending recipients only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSummary {
    pub address: Bytes,
    pub messages: usize,
    pub bytes: u64,
    pub oldest_arrival: String,
    pub earliest_expiry: Option<String>,
    pub queues: Vec<String>,
    /// In the --valid-recipients lists (`None` when no list was given).
    pub valid: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QueueTotal {
    pub messages: usize,
    pub pending_recipients: usize,
    pub bytes: u64,
}

/// Whether the spool's file modes were used (see `queue::walk::ModeVerdict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileModes {
    pub trusted: bool,
    pub note: Option<String>,
}

impl Default for FileModes {
    fn default() -> Self {
        FileModes {
            trusted: true,
            note: None,
        }
    }
}

/// Everything `scan --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// The fields known before the first message.
    #[serde(flatten)]
    pub head: Head,
    pub messages: Vec<MessageInfo>,
    pub recipients: Vec<RecipientSummary>,
    pub queues: BTreeMap<String, QueueTotal>,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
}

/// The report's fields that are known before the first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub schema: u32,
    pub generated_at: String,
    pub queue_directory: String,
    /// Which MTA wrote the spools: `postfix`, `exim`, or both in the order given
    /// (`postfix+exim`).
    #[serde(default = "postfix")]
    pub mta: String,
    pub postfix_running: Option<bool>,
    pub maximal_queue_lifetime: i64,
    pub bounce_queue_lifetime: i64,
    /// Which Postfix configuration the lifetimes and addressing came from.
    #[serde(default)]
    pub configuration: String,
    #[serde(default)]
    pub file_modes: FileModes,
}

fn postfix() -> String {
    "postfix".into()
}

/// Distinct defer reasons counted one by one; beyond this, counted together.
const MAX_REASONS: usize = 10_000;
/// Messages listed under "Bounce within 24 hours" (the soonest; the rest are counted).
pub const MAX_SOON: usize = 100;

struct Acc {
    address: Vec<u8>,
    messages: usize,
    bytes: u64,
    oldest: i64,
    expiry: Option<i64>,
    queues: Vec<String>,
    last_msg: u64,
}

/// A message about to bounce, as the text report lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Soon {
    expires: i64,
    queue_id: String,
    line: String,
}

/// Messages of one expiry section: the [`MAX_SOON`] soonest, and how many in all.
#[derive(Default)]
struct Expiring {
    soonest: BinaryHeap<Soon>,
    total: usize,
}

impl Expiring {
    fn push(&mut self, s: Soon) {
        self.total += 1;
        if self.soonest.len() < MAX_SOON {
            self.soonest.push(s);
        } else if self.soonest.peek().is_some_and(|top| s < *top) {
            self.soonest.pop();
            self.soonest.push(s);
        }
    }
}

/// The summaries, accumulated one message at a time.
pub struct Summary {
    now: i64,
    n: u64,
    recipients: BTreeMap<String, Acc>,
    queues: BTreeMap<String, QueueTotal>,
    reasons: HashMap<String, usize>,
    other_reasons: usize,
    /// Past their bounce time already (Postfix bounces them at the next attempt).
    overdue: Expiring,
    /// Bouncing within the next 24 hours.
    soon: Expiring,
    held: usize,
    done: usize,
}

impl Summary {
    /// An empty summary; `now` decides what bounces "within 24 hours".
    pub fn new(now: i64) -> Summary {
        Summary {
            now,
            n: 0,
            recipients: BTreeMap::new(),
            queues: BTreeMap::new(),
            reasons: HashMap::new(),
            other_reasons: 0,
            overdue: Expiring::default(),
            soon: Expiring::default(),
            held: 0,
            done: 0,
        }
    }

    /// Counts one message in.
    pub fn add(&mut self, m: &MessageInfo) {
        self.n += 1;
        let i = self.n;
        let q = self.queues.entry(m.queue.clone()).or_default();
        q.messages += 1;
        q.bytes += m.size;
        for r in m.pending() {
            q.pending_recipients += 1;
            let a = self
                .recipients
                .entry(fold(&r.address.0))
                .or_insert_with(|| Acc {
                    address: r.address.0.clone(),
                    messages: 0,
                    bytes: 0,
                    oldest: i64::MAX,
                    expiry: None,
                    queues: Vec::new(),
                    last_msg: 0,
                });
            let reason = r.defer_reason.as_deref().unwrap_or("(no defer log entry)");
            if let Some(n) = self.reasons.get_mut(reason) {
                *n += 1;
            } else if self.reasons.len() < MAX_REASONS {
                self.reasons.insert(reason.to_string(), 1);
            } else {
                self.other_reasons += 1;
            }
            if a.last_msg == i {
                continue; // same mailbox twice in one message
            }
            a.last_msg = i;
            a.messages += 1;
            a.bytes += m.size;
            a.oldest = a.oldest.min(m.arrival_unix);
            if let Some(e) = m.expires_unix {
                a.expiry = Some(a.expiry.map_or(e, |x| x.min(e)));
            }
            if !a.queues.contains(&m.queue) {
                a.queues.push(m.queue.clone());
            }
        }
        if m.held {
            self.held += 1;
        }
        self.done += m
            .recipients
            .iter()
            .filter(|x| x.status == RcptState::Done)
            .count();
        if let Some(e) = m.expires_unix
            && e <= self.now + 86400
            && m.pending().next().is_some()
        {
            let s = Soon {
                expires: e,
                queue_id: m.queue_id.clone(),
                line: soon_line(m, self.now),
            };
            if e <= self.now {
                self.overdue.push(s);
            } else {
                self.soon.push(s);
            }
        }
    }

    /// The per-recipient summary, sorted by folded address.
    pub fn recipients(&self, valid: impl Fn(&[u8]) -> Option<bool>) -> Vec<RecipientSummary> {
        self.recipients
            .values()
            .map(|a| RecipientSummary {
                valid: valid(&a.address),
                address: Bytes(a.address.clone()),
                messages: a.messages,
                bytes: a.bytes,
                oldest_arrival: rfc3339(a.oldest),
                earliest_expiry: a.expiry.map(rfc3339),
                queues: a.queues.clone(),
            })
            .collect()
    }

    /// Totals per queue.
    pub fn queues(&self) -> &BTreeMap<String, QueueTotal> {
        &self.queues
    }
}

fn soon_line(m: &MessageInfo, now: i64) -> String {
    let e = m.expires_unix.unwrap_or(0);
    format!(
        "  {:<16} {:<9} {} {} ({})  from {}  to {}",
        m.queue_id,
        m.queue,
        if e <= now { "expired" } else { "expires" },
        m.expires_at.as_deref().unwrap_or("-"),
        human_dur(e - now),
        if m.sender.0.is_empty() {
            "<>".to_string()
        } else {
            m.sender.display()
        },
        m.pending()
            .map(|x| x.address.display())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Builds the per-recipient summary from messages held in memory.
pub fn summarize(
    messages: &[MessageInfo],
    valid: impl Fn(&[u8]) -> Option<bool>,
) -> Vec<RecipientSummary> {
    let mut s = Summary::new(0);
    for m in messages {
        s.add(m);
    }
    s.recipients(valid)
}

/// Totals per queue of messages held in memory.
pub fn queue_totals(messages: &[MessageInfo]) -> BTreeMap<String, QueueTotal> {
    let mut s = Summary::new(0);
    for m in messages {
        s.add(m);
    }
    s.queues
}

/// Problems of a run, kept in an anonymous temporary file (one JSON line each) so that
/// a spool of broken files cannot fill the memory; in memory only when no temporary
/// file can be made.
pub struct ProblemLog {
    count: usize,
    file: Option<BufWriter<File>>,
    mem: Vec<Problem>,
}

impl Default for ProblemLog {
    fn default() -> Self {
        ProblemLog::new()
    }
}

impl ProblemLog {
    pub fn new() -> ProblemLog {
        ProblemLog {
            count: 0,
            file: tempfile::tempfile().ok().map(BufWriter::new),
            mem: Vec::new(),
        }
    }

    pub fn push(&mut self, p: Problem) -> io::Result<()> {
        self.count += 1;
        match &mut self.file {
            Some(f) => {
                serde_json::to_writer(&mut *f, &p).map_err(io::Error::other)?;
                f.write_all(b"\n")
            }
            None => {
                self.mem.push(p);
                Ok(())
            }
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Calls `f` with every problem, in the order they were pushed.
    pub fn for_each(&mut self, mut f: impl FnMut(&Problem) -> io::Result<()>) -> io::Result<()> {
        match &mut self.file {
            Some(w) => {
                w.flush()?;
                let file = w.get_mut();
                file.rewind()?;
                let mut r = BufReader::new(&*file);
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 {
                        break;
                    }
                    let p: Problem = serde_json::from_str(&line).map_err(io::Error::other)?;
                    f(&p)?;
                }
                file.seek(io::SeekFrom::End(0))?;
                Ok(())
            }
            None => self.mem.iter().try_for_each(f),
        }
    }
}

/// Writes `v` as `serde_json::to_string_pretty` would inside a document, at `indent`
/// spaces: every line after the first is indented (the first follows what is already
/// on the line).
fn pretty_at<W: Write, T: Serialize + ?Sized>(w: &mut W, v: &T, indent: usize) -> io::Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(io::Error::other)?;
    let mut first = true;
    for line in text.split('\n') {
        if !first {
            w.write_all(b"\n")?;
            write!(w, "{:indent$}", "")?;
        }
        first = false;
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// A JSON array written element by element at `indent` (its elements one level deeper).
struct ArrayOut {
    n: usize,
    indent: usize,
}

impl ArrayOut {
    fn begin<W: Write>(w: &mut W, indent: usize) -> io::Result<ArrayOut> {
        w.write_all(b"[")?;
        Ok(ArrayOut { n: 0, indent })
    }
    fn item<W: Write, T: Serialize>(&mut self, w: &mut W, v: &T) -> io::Result<()> {
        w.write_all(if self.n == 0 { b"\n" } else { b",\n" })?;
        let inner = self.indent + 2;
        write!(w, "{:inner$}", "")?;
        pretty_at(w, v, inner)?;
        self.n += 1;
        Ok(())
    }
    fn end<W: Write>(self, w: &mut W) -> io::Result<()> {
        if self.n > 0 {
            write!(w, "\n{:1$}", "", self.indent)?;
        }
        w.write_all(b"]")
    }
}

/// `scan --json` as a stream: [`JsonReport::begin`], one [`JsonReport::message`] per
/// message, then [`JsonReport::finish`].
pub struct JsonReport {
    messages: ArrayOut,
}

impl JsonReport {
    pub fn begin<W: Write>(w: &mut W, head: &Head) -> io::Result<JsonReport> {
        w.write_all(b"{\n")?;
        let fields: [(&str, &dyn erased::Ser); 9] = [
            ("schema", &head.schema),
            ("generated_at", &head.generated_at),
            ("queue_directory", &head.queue_directory),
            ("mta", &head.mta),
            ("postfix_running", &head.postfix_running),
            ("maximal_queue_lifetime", &head.maximal_queue_lifetime),
            ("bounce_queue_lifetime", &head.bounce_queue_lifetime),
            ("configuration", &head.configuration),
            ("file_modes", &head.file_modes),
        ];
        for (k, v) in fields {
            write!(w, "  \"{k}\": ")?;
            let text = v.pretty()?;
            let mut first = true;
            for line in text.split('\n') {
                if !first {
                    w.write_all(b"\n  ")?;
                }
                first = false;
                w.write_all(line.as_bytes())?;
            }
            w.write_all(b",\n")?;
        }
        w.write_all(b"  \"messages\": ")?;
        Ok(JsonReport {
            messages: ArrayOut::begin(w, 2)?,
        })
    }

    pub fn message<W: Write>(&mut self, w: &mut W, m: &MessageInfo) -> io::Result<()> {
        self.messages.item(w, m)
    }

    pub fn finish<W: Write>(
        self,
        w: &mut W,
        recipients: &[RecipientSummary],
        queues: &BTreeMap<String, QueueTotal>,
        errors: &mut ProblemLog,
        skipped: &mut ProblemLog,
    ) -> io::Result<()> {
        self.messages.end(w)?;
        w.write_all(b",\n  \"recipients\": ")?;
        pretty_at(w, recipients, 2)?;
        w.write_all(b",\n  \"queues\": ")?;
        pretty_at(w, queues, 2)?;
        for (name, log) in [("errors", errors), ("skipped", skipped)] {
            write!(w, ",\n  \"{name}\": ")?;
            let mut a = ArrayOut::begin(w, 2)?;
            log.for_each(|p| a.item(w, p))?;
            a.end(w)?;
        }
        w.write_all(b"\n}\n")
    }
}

/// Object-safe pretty printing for the head's mixed field types.
mod erased {
    pub trait Ser {
        fn pretty(&self) -> std::io::Result<String>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn pretty(&self) -> std::io::Result<String> {
            serde_json::to_string_pretty(self).map_err(std::io::Error::other)
        }
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 10 * 1024 * 1024 {
        format!("{} MiB", b / (1024 * 1024))
    } else if b >= 10 * 1024 {
        format!("{} KiB", b / 1024)
    } else {
        format!("{b} B")
    }
}

fn human_dur(secs: i64) -> String {
    let s = secs.abs();
    let txt = if s >= 86400 {
        format!("{}d {}h", s / 86400, (s % 86400) / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m", s / 60)
    };
    if secs < 0 {
        format!("{txt} ago")
    } else {
        format!("in {txt}")
    }
}

fn dur_short(secs: i64) -> String {
    if secs % 86400 == 0 {
        format!("{}d", secs / 86400)
    } else if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    }
}

/// One expiry section of the text report: heading with the count, the soonest
/// messages, how many more.
fn write_expiring(w: &mut dyn Write, heading: &str, e: &Expiring) -> io::Result<()> {
    let soonest = e.soonest.clone().into_sorted_vec();
    writeln!(w, "\n{heading}: {} message(s)", e.total)?;
    for m in &soonest {
        writeln!(w, "{}", m.line)?;
    }
    if e.total > soonest.len() {
        writeln!(
            w,
            "  ... and {} more (all of them: `scan --list`, `scan --json`)",
            e.total - soonest.len()
        )?;
    }
    Ok(())
}

/// Writes the readable report.
pub fn write_text(
    w: &mut dyn Write,
    head: &Head,
    s: &Summary,
    recipients: &[RecipientSummary],
    errors: &mut ProblemLog,
    skipped: &mut ProblemLog,
) -> io::Result<()> {
    write_heading(w, head)?;
    write_queues(w, s)?;
    write_recipients(w, recipients)?;
    write_domains(w, recipients)?;
    write_reasons(w, s)?;
    write_deadlines(w, s)?;
    write_problems(w, errors, skipped)
}

/// The report's first lines: where, the MTA's state, configuration, lifetimes, file modes.
fn write_heading(w: &mut dyn Write, head: &Head) -> io::Result<()> {
    let running = match head.postfix_running {
        Some(true) => "RUNNING (the view may change while it is read)",
        Some(false) => "stopped",
        None => "unknown",
    };
    let state = match head.mta.as_str() {
        "postfix" => format!("Postfix {running}"),
        "exim" => "Exim spool".to_string(),
        _ => format!("{}; Postfix {running}", head.mta),
    };
    writeln!(w, "mxsalvage scan of {}  ({state})", head.queue_directory)?;
    writeln!(w, "Configuration: {}", head.configuration)?;
    let (max, bounce) = (
        dur_short(head.maximal_queue_lifetime),
        dur_short(head.bounce_queue_lifetime),
    );
    if head.mta == "exim" {
        writeln!(w, "Lifetimes: given up {max} after arrival (estimated)")?;
    } else {
        writeln!(
            w,
            "Lifetimes: maximal_queue_lifetime {max}, bounce_queue_lifetime {bounce}"
        )?;
    }
    if let Some(note) = &head.file_modes.note {
        writeln!(w, "Note: {note}")?;
    }
    Ok(())
}

/// The per-queue table with its total line.
fn write_queues(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(w, "\nQueues")?;
    writeln!(
        w,
        "  {:<10} {:>9} {:>11} {:>10}",
        "queue", "messages", "recipients", "size"
    )?;
    let mut tot = QueueTotal::default();
    for (q, t) in &s.queues {
        writeln!(
            w,
            "  {:<10} {:>9} {:>11} {:>10}",
            q,
            t.messages,
            t.pending_recipients,
            human_bytes(t.bytes)
        )?;
        tot.messages += t.messages;
        tot.pending_recipients += t.pending_recipients;
        tot.bytes += t.bytes;
    }
    writeln!(
        w,
        "  {:<10} {:>9} {:>11} {:>10}",
        "total",
        tot.messages,
        tot.pending_recipients,
        human_bytes(tot.bytes)
    )?;
    Ok(())
}

/// The pending recipients, one line each.
fn write_recipients(w: &mut dyn Write, recipients: &[RecipientSummary]) -> io::Result<()> {
    writeln!(w, "\nRecipients (pending)")?;
    writeln!(
        w,
        "  {:<40} {:>5} {:>10}  {:<20}  earliest bounce",
        "address", "msgs", "size", "oldest arrival"
    )?;
    for r in recipients {
        let flag = if r.valid == Some(false) {
            "  (not in recipient lists)"
        } else {
            ""
        };
        writeln!(
            w,
            "  {:<40} {:>5} {:>10}  {:<20}  {}{flag}",
            r.address.display(),
            r.messages,
            human_bytes(r.bytes),
            r.oldest_arrival,
            r.earliest_expiry.as_deref().unwrap_or("never (held)")
        )?;
    }
    Ok(())
}

/// The recipients summed per domain.
fn write_domains(w: &mut dyn Write, recipients: &[RecipientSummary]) -> io::Result<()> {
    let mut domains: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for r in recipients {
        let a = r.address.display().to_lowercase();
        let d = a
            .rsplit_once('@')
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        let e = domains.entry(d).or_default();
        e.0 += r.messages;
        e.1 += r.bytes;
    }
    writeln!(w, "\nDomains")?;
    for (d, (n, b)) in &domains {
        writeln!(
            w,
            "  {:<40} {:>5} {:>10}",
            if d.is_empty() { "(no domain)" } else { d },
            n,
            human_bytes(*b)
        )?;
    }
    Ok(())
}

/// The most common defer reasons.
fn write_reasons(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let mut reasons: Vec<(&String, &usize)> = s.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    writeln!(w, "\nDefer reasons (most common)")?;
    for (reason, n) in reasons.iter().take(10) {
        writeln!(w, "  {n:>5}  {reason}")?;
    }
    if s.other_reasons > 0 {
        writeln!(
            w,
            "  {:>5}  (more than {MAX_REASONS} different reasons: the rest counted here)",
            s.other_reasons
        )?;
    }
    Ok(())
}

/// Overdue and soon-bouncing messages with the advice, then held and done counts.
fn write_deadlines(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.overdue.total > 0 {
        write_expiring(
            w,
            "Overdue (past their bounce time: Postfix bounces them at its next delivery attempt)",
            &s.overdue,
        )?;
    }
    write_expiring(w, "Bounce within 24 hours", &s.soon)?;
    if s.soon.total + s.overdue.total > 0 {
        writeln!(
            w,
            "  Stop the clock: `postsuper -h ALL deferred` (held mail never expires). Then EITHER\n  export and re-inject with mxsalvage and delete the originals (`postsuper -d`), OR release\n  them (`postsuper -H ALL`) and let Postfix deliver — never both (docs/runbook.md).\n  Avoid `postsuper -r`: it restarts the clock but gives every message a new queue ID."
        )?;
    }
    if s.held > 0 {
        writeln!(
            w,
            "\nOn hold: {} message(s) — they will not expire while held.",
            s.held
        )?;
    }
    if s.done > 0 {
        writeln!(
            w,
            "\nAlready delivered or bounced recipients (not counted above): {}",
            s.done
        )?;
    }
    Ok(())
}

/// The skipped files and the files that could not be read.
fn write_problems(
    w: &mut dyn Write,
    errors: &mut ProblemLog,
    skipped: &mut ProblemLog,
) -> io::Result<()> {
    if !skipped.is_empty() {
        writeln!(w, "\nSkipped ({})", skipped.len())?;
        skipped.for_each(|p| writeln!(w, "  {}: {}", p.path, p.reason))?;
    }
    if !errors.is_empty() {
        writeln!(
            w,
            "\nProblems ({}) — these files were NOT read:",
            errors.len()
        )?;
        errors.for_each(|p| writeln!(w, "  {}", p.reason))?;
    }
    Ok(())
}
