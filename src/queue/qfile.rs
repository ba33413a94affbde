//! The queue-file state machine: turns the bytes of one queue file into a [`QueueFile`].
//!
//! Owns: section tracking (envelope → content → extracted), pointer following with loop,
//! bounds and budget protection, `w` padding, `K` killed records, recipient groups
//! (`A notify_flags`, `A dsn_orig_rcpt`, `O` before `R`/`D`/`/`), named attributes (both
//! DSN spellings), the size record, and the content as a list of text records.
//! In: the whole file as bytes (plus whether it came from `maildrop/`). Out: a
//! [`QueueFile`] that owns the bytes and refers to payloads by range.
//! Fails with [`ParseError`] (framing error, unexpected record, bad pointer, pointer loop,
//! no `E` record, missing sender or arrival time), always with a byte offset. Never panics.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use super::message::QueuedRecipient;
/// The recipient state of an `R` (pending), `D` (done) or `/` (cancelled) record, and how
/// much to decode (`EnvelopeOnly` jumps over the content when the size record points at a
/// real `X` record, else reads through it): the boundary's types.
pub use super::message::{Depth, RcptState};
use super::record::{FrameError, Metered, Record};

/// Where a record sits in the file's logical structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Envelope,
    Content,
    Extracted,
}

/// One recipient record with the per-recipient data that preceded it: the boundary's
/// [`QueuedRecipient`] (its `offset` is the `R`/`D`/`/` record's file offset, the
/// recipient's identity that defer logs cite; `original` the `O` record; no log
/// entries yet) and the section the record stood in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub rcpt: QueuedRecipient,
    pub section: Section,
}

impl std::ops::Deref for Recipient {
    type Target = QueuedRecipient;
    fn deref(&self) -> &QueuedRecipient {
        &self.rcpt
    }
}

impl std::ops::DerefMut for Recipient {
    fn deref_mut(&mut self) -> &mut QueuedRecipient {
        &mut self.rcpt
    }
}

/// The `C` record's fields (1 to 6 of them, depending on the writer's version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SizeRecord {
    pub data_size: i64,
    pub data_offset: i64,
    pub rcpt_count: Option<i64>,
    pub qmgr_flags: Option<i64>,
    pub cont_length: Option<i64>,
    pub sendopts: Option<i64>,
}

impl SizeRecord {
    /// SMTPUTF8 requested by the sender (sendopts bit 1).
    pub fn smtputf8_requested(&self) -> bool {
        self.sendopts.unwrap_or(0) & 1 != 0
    }
    /// SMTPUTF8 required: requested and some UTF-8 seen (headers, sender).
    pub fn smtputf8_required(&self) -> bool {
        let s = self.sendopts.unwrap_or(0);
        s & 1 != 0 && s & (2 | 4 | 8) != 0
    }
}

/// A `name=value` attribute in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    pub section: Section,
}

/// A text record of the content: `N` (a full line) or `L` (a piece without newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRecord {
    pub continued: bool,
    pub payload: Range<usize>,
}

/// A logical non-text record, in the order it was reached (pointers followed), for
/// `cat -e`. Markers (`M`, `X`, `E`) are included; `p` and `w` are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRecord {
    pub rtype: u8,
    pub offset: usize,
    pub payload: Range<usize>,
    pub section: Section,
}

/// One parsed queue file. Owns its bytes; payloads are ranges into [`QueueFile::data`].
#[derive(Debug, Clone)]
pub struct QueueFile {
    pub data: Vec<u8>,
    pub size: Option<SizeRecord>,
    pub arrival: Option<(i64, i64)>,
    pub create_time: Option<i64>,
    pub sender: Option<Vec<u8>>,
    pub full_name: Option<Vec<u8>>,
    pub recipients: Vec<Recipient>,
    pub attributes: Vec<Attribute>,
    pub envelope_id: Option<Vec<u8>>,
    pub ret_flags: Option<u32>,
    pub encoding: Option<Vec<u8>>,
    pub trace_flags: Option<u32>,
    pub message_id: Option<Vec<u8>>,
    pub content_filter: Option<Vec<u8>>,
    pub redirect_to: Option<Vec<u8>>,
    pub verp: Option<Vec<u8>>,
    pub warning_time: Option<i64>,
    /// Content text records (empty with [`Depth::EnvelopeOnly`] when the content was skipped).
    pub content: Vec<TextRecord>,
    /// Whether `content` holds the content.
    pub content_read: bool,
    pub records: Vec<EnvRecord>,
    /// Offset right after the `M` record (where the content starts).
    pub data_offset: usize,
    /// Offset of the `X` record.
    pub xtra_offset: usize,
    /// Things that are odd but not fatal.
    pub warnings: Vec<String>,
    /// A postdrop file from `maildrop/`: not yet processed by cleanup.
    pub maildrop: bool,
    /// Header lines (each ending in LF) cleanup would add to a maildrop file, inserted
    /// after its last header by [`QueueFile::write_message`] (see `queue::cleanup`).
    pub added_headers: Vec<u8>,
    /// The sender as submitted, when `queue::cleanup` qualified it (showq lists this).
    pub submitted_sender: Option<Vec<u8>>,
}

/// Why a queue file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Frame(FrameError),
    /// The first byte is not an envelope record type.
    NotAQueueFile,
    /// A record type that does not belong in this section.
    UnexpectedRecord {
        offset: usize,
        rtype: u8,
        section: Section,
    },
    /// A pointer record whose payload is not a number, or points outside the file.
    BadPointer {
        offset: usize,
        target: String,
    },
    /// The same pointer record reached twice.
    PointerLoop {
        offset: usize,
    },
    /// The file ends before the `E` record (still being written, or truncated).
    MissingEnd {
        offset: usize,
        unfinished: bool,
    },
    /// A second `S` record.
    DuplicateSender {
        offset: usize,
    },
    /// No `S` record.
    MissingSender,
    /// No `T` record.
    MissingArrival,
    /// An end record, but the size record is still cleanup's all-zero placeholder, and
    /// the file's mode cannot vouch that cleanup finished it (a copy that lost its modes).
    UnfinishedSize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Frame(e) => e.fmt(f),
            ParseError::NotAQueueFile => write!(
                f,
                "not a queue file (first byte is not an envelope record type)"
            ),
            ParseError::UnexpectedRecord {
                offset,
                rtype,
                section,
            } => write!(
                f,
                "unexpected record type {} at offset {offset} in the {} section",
                show_type(*rtype),
                section_name(*section)
            ),
            ParseError::BadPointer { offset, target } => {
                write!(f, "bad pointer record at offset {offset}: {target:?}")
            }
            ParseError::PointerLoop { offset } => {
                write!(
                    f,
                    "pointer loop: the pointer record at offset {offset} was reached twice"
                )
            }
            ParseError::MissingEnd { offset, unfinished } => {
                if *unfinished {
                    write!(
                        f,
                        "incomplete: the file is still being written (no end record; unfinished size record), stopped at offset {offset}"
                    )
                } else {
                    write!(
                        f,
                        "incomplete: no end record (file truncated or still being written), stopped at offset {offset}"
                    )
                }
            }
            ParseError::DuplicateSender { offset } => {
                write!(f, "second sender record at offset {offset}")
            }
            ParseError::MissingSender => write!(f, "no sender record"),
            ParseError::MissingArrival => write!(f, "no arrival time record"),
            ParseError::UnfinishedSize => write!(
                f,
                "incomplete: the size record is still all zeros (cleanup had not finished this file when it was copied; the copy's modes cannot tell more)"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// Incomplete (still being written / truncated) rather than damaged.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            ParseError::MissingEnd { .. } | ParseError::UnfinishedSize
        )
    }
}

fn section_name(s: Section) -> &'static str {
    match s {
        Section::Envelope => "envelope",
        Section::Content => "content",
        Section::Extracted => "extracted",
    }
}

fn show_type(t: u8) -> String {
    if t.is_ascii_graphic() {
        format!("'{}' ({t})", t as char)
    } else {
        format!("{t}")
    }
}

const ENVELOPE_TYPES: &[u8] = b"MCTcFILSDRO/WVA>K<ion";
const CONTENT_TYPES: &[u8] = b"XLNw";
const EXTRACTED_TYPES: &[u8] = b"EDRO/PreAFIL>Kon";

/// Splits an `A` payload per Postfix's `split_nameval`: name up to whitespace or `=`,
/// value trimmed. `None` when malformed.
pub fn split_nameval(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = trim_start(payload);
    let name_end = s
        .iter()
        .position(|&c| c == b'=' || c.is_ascii_whitespace())?;
    let name = &s[..name_end];
    if name.is_empty() {
        return None;
    }
    let rest = trim_start(&s[name_end..]);
    let rest = rest.strip_prefix(b"=")?;
    Some((name, trim_end(trim_start(rest))))
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

/// Leading decimal number after optional whitespace and sign (like `atol`).
pub fn parse_long(s: &[u8]) -> Option<i64> {
    let s = trim_start(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let v: i64 = std::str::from_utf8(&digits[..n]).ok()?.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// `T` payload: `sec usec` (or `sec` alone in old files).
pub fn parse_time(p: &[u8]) -> Option<(i64, i64)> {
    let sec = parse_long(p)?;
    let s = trim_start(p);
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'-')
        .count();
    let usec = parse_long(&s[n..]).unwrap_or(0);
    Some((sec, usec))
}

/// Parses a size record's payload (1 to 6 numbers).
pub fn parse_size_payload(p: &[u8]) -> Option<SizeRecord> {
    let text = std::str::from_utf8(p).ok()?;
    let f: Vec<i64> = text
        .split_ascii_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if f.is_empty() || f.len() > 6 {
        return None;
    }
    Some(SizeRecord {
        data_size: f[0],
        data_offset: f.get(1).copied().unwrap_or(0),
        rcpt_count: f.get(2).copied(),
        qmgr_flags: f.get(3).copied(),
        cont_length: f.get(4).copied(),
        sendopts: f.get(5).copied(),
    })
}

/// Pointer payload: optional leading whitespace, then only digits.
fn parse_pointer(p: &[u8]) -> Option<usize> {
    let s = trim_start(p);
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) || s.len() > 18 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[derive(Default)]
struct PendingRcpt {
    notify: Option<u32>,
    orcpt: Option<Vec<u8>>,
    original: Option<Vec<u8>>,
}

/// The first byte: a file that is empty, or starts with no envelope or pointer record,
/// is no queue file.
fn check_start(buf: &[u8]) -> Result<(), ParseError> {
    match buf.first() {
        None => Err(ParseError::MissingEnd {
            offset: 0,
            unfinished: false,
        }),
        Some(t) if !ENVELOPE_TYPES.contains(t) && *t != b'p' => Err(ParseError::NotAQueueFile),
        _ => Ok(()),
    }
}

/// A record's payload as a range of the file's bytes.
fn payload_range(rec: &Record<'_>) -> Range<usize> {
    rec.next - rec.payload.len()..rec.next
}

/// The records of one file in reading order: pointer records followed (each at most
/// once, to a target inside the file), the bytes read bounded, so a loop ends.
struct Cursor<'b> {
    buf: &'b [u8],
    /// Where the next record is read.
    pos: usize,
    visited: HashSet<usize>,
    meter: Metered,
}

impl<'b> Cursor<'b> {
    /// The next record that is not a pointer; `None` where the bytes end first.
    fn next(&mut self) -> Result<Option<Record<'b>>, ParseError> {
        loop {
            let Some(rec) = self.meter.read(self.buf, self.pos).map_err(|e| {
                e.into_error(ParseError::Frame, |offset| ParseError::PointerLoop {
                    offset,
                })
            })?
            else {
                return Ok(None);
            };
            if rec.rtype != b'p' {
                return Ok(Some(rec));
            }
            let p = rec.payload;
            let target = parse_pointer(p).ok_or_else(|| ParseError::BadPointer {
                offset: rec.offset,
                target: String::from_utf8_lossy(p).into_owned(),
            })?;
            if target == 0 {
                self.pos = rec.next;
                continue;
            }
            if target >= self.buf.len() {
                return Err(ParseError::BadPointer {
                    offset: rec.offset,
                    target: target.to_string(),
                });
            }
            if !self.visited.insert(rec.offset) {
                return Err(ParseError::PointerLoop { offset: rec.offset });
            }
            self.pos = target;
        }
    }
}

/// The parse's state between records: the section, what the next recipient record
/// takes over (O, n, o, orcpt attributes), whether a size record was seen.
struct RunState {
    section: Section,
    pending: PendingRcpt,
    size_seen: bool,
}

/// What the reading loop does after a structural record.
enum Flow {
    /// Read the next record (nothing to keep, or kept already).
    Next,
    /// Keep it in the record list.
    Keep,
    /// An envelope field: read it, then keep it.
    Field,
    /// The end record: stop.
    End,
}

impl QueueFile {
    /// Parses a whole queue file. `maildrop` says the file is in `maildrop/`, where a size
    /// record is preliminary and ignored (as postcat and showq do).
    pub fn parse(data: Vec<u8>, depth: Depth, maildrop: bool) -> Result<QueueFile, ParseError> {
        let mut q = QueueFile {
            data: Vec::new(),
            size: None,
            arrival: None,
            create_time: None,
            sender: None,
            full_name: None,
            recipients: Vec::new(),
            attributes: Vec::new(),
            envelope_id: None,
            ret_flags: None,
            encoding: None,
            trace_flags: None,
            message_id: None,
            content_filter: None,
            redirect_to: None,
            verp: None,
            warning_time: None,
            content: Vec::new(),
            content_read: depth == Depth::Full,
            records: Vec::new(),
            data_offset: 0,
            xtra_offset: 0,
            warnings: Vec::new(),
            maildrop,
            added_headers: Vec::new(),
            submitted_sender: None,
        };
        q.run(&data, depth, maildrop)?;
        q.data = data;
        Ok(q)
    }

    fn run(&mut self, buf: &[u8], depth: Depth, maildrop: bool) -> Result<(), ParseError> {
        check_start(buf)?;
        let mut cur = Cursor {
            buf,
            pos: 0,
            visited: HashSet::new(),
            meter: Metered::new(buf.len().saturating_mul(2).saturating_add(64)),
        };
        let mut st = RunState {
            section: Section::Envelope,
            pending: PendingRcpt::default(),
            size_seen: false,
        };
        loop {
            let Some(rec) = cur.next()? else {
                let unfinished = self
                    .size
                    .is_some_and(|s| s.data_size == 0 && s.data_offset == 0);
                return Err(ParseError::MissingEnd {
                    offset: cur.pos,
                    unfinished,
                });
            };
            cur.pos = rec.next;
            let allowed = match st.section {
                Section::Envelope => ENVELOPE_TYPES,
                Section::Content => CONTENT_TYPES,
                Section::Extracted => EXTRACTED_TYPES,
            };
            if !allowed.contains(&rec.rtype) {
                return Err(ParseError::UnexpectedRecord {
                    offset: rec.offset,
                    rtype: rec.rtype,
                    section: st.section,
                });
            }
            match self.structural(&mut cur, &rec, &mut st.section, depth) {
                Flow::Next => continue,
                Flow::End => break,
                Flow::Keep => {}
                Flow::Field => self.field(&rec, &mut st, maildrop)?,
            }
            self.push_record(&rec, st.section);
        }
        self.finish(maildrop, st.size_seen)
    }

    fn push_record(&mut self, rec: &Record<'_>, section: Section) {
        self.records.push(EnvRecord {
            rtype: rec.rtype,
            offset: rec.offset,
            payload: payload_range(rec),
            section,
        });
    }

    /// The records that shape the file: padding, content text, the section markers
    /// (M, X) and the end record. Everything else is an envelope field (`Flow::Field`).
    fn structural(
        &mut self,
        cur: &mut Cursor<'_>,
        rec: &Record<'_>,
        section: &mut Section,
        depth: Depth,
    ) -> Flow {
        let t = rec.rtype;
        match (*section, t) {
            (_, b'w') => Flow::Next,
            (Section::Content, b'N') | (Section::Content, b'L') => {
                if depth == Depth::Full {
                    self.content.push(TextRecord {
                        continued: t == b'L',
                        payload: payload_range(rec),
                    });
                }
                Flow::Next
            }
            (Section::Content, b'X') => {
                self.xtra_offset = rec.offset;
                *section = Section::Extracted;
                Flow::Keep
            }
            (Section::Envelope, b'M') => {
                self.data_offset = rec.next;
                *section = Section::Content;
                if !rec.payload.is_empty() {
                    self.warnings.push(format!(
                        "old-style content marker with payload at offset {}",
                        rec.offset
                    ));
                }
                self.push_record(rec, Section::Envelope);
                if depth == Depth::EnvelopeOnly
                    && let Some(x) = self.xtra_target(cur.buf, rec.next)
                {
                    cur.pos = x;
                }
                Flow::Next
            }
            (Section::Extracted, b'E') => {
                self.push_record(rec, *section);
                Flow::End
            }
            _ => Flow::Field,
        }
    }

    /// One envelope field record into the parsed fields (sender, time, recipients with
    /// what went before them, attributes...).
    fn field(
        &mut self,
        rec: &Record<'_>,
        st: &mut RunState,
        maildrop: bool,
    ) -> Result<(), ParseError> {
        let (t, p) = (rec.rtype, rec.payload);
        let pending = &mut st.pending;
        match t {
            b'C' => self.size_record(p, rec.offset, &mut st.size_seen, maildrop),
            b'T' if self.arrival.is_none() => {
                self.arrival = parse_time(p);
                if self.arrival.is_none() {
                    self.warnings
                        .push(format!("unparsable arrival time at offset {}", rec.offset));
                }
            }
            b'c' if self.create_time.is_none() => self.create_time = parse_long(p),
            b'S' => {
                if self.sender.is_some() {
                    return Err(ParseError::DuplicateSender { offset: rec.offset });
                }
                self.sender = Some(p.to_vec());
            }
            b'F' if self.full_name.is_none() => self.full_name = Some(p.to_vec()),
            b'L' => self.content_filter = Some(p.to_vec()),
            b'>' => self.redirect_to = Some(p.to_vec()),
            b'V' => self.verp = Some(p.to_vec()),
            b'W' => self.warning_time = parse_long(p),
            b'O' => {
                if pending.original.is_some() {
                    self.warnings.push(format!(
                        "original recipient at offset {} without a recipient record before it",
                        rec.offset
                    ));
                }
                pending.original = Some(p.to_vec());
            }
            b'n' => pending.notify = parse_long(p).map(|v| v as u32),
            b'o' => pending.orcpt = Some(p.to_vec()),
            b'i' => self.envelope_id = Some(p.to_vec()),
            b'<' => self.ret_flags = parse_long(p).map(|v| v as u32),
            b'R' | b'D' | b'/' => {
                let state = match t {
                    b'R' => RcptState::Pending,
                    b'D' => RcptState::Done,
                    _ => RcptState::Cancelled,
                };
                let pr = std::mem::take(pending);
                self.recipients.push(Recipient {
                    rcpt: QueuedRecipient {
                        offset: rec.offset,
                        address: p.to_vec(),
                        state,
                        original: pr.original,
                        notify: pr.notify,
                        orcpt: pr.orcpt,
                        defer: None,
                        bounce: None,
                    },
                    section: st.section,
                });
            }
            b'A' => self.attribute(p, rec.offset, st.section, pending),
            // K (killed), I (obsolete inspector), P (priority), r/e (legacy): kept for -e.
            _ => {}
        }
        Ok(())
    }

    /// The first size record (a later one is ignored with a warning; in maildrop/ it is
    /// preliminary and not read).
    fn size_record(&mut self, p: &[u8], offset: usize, size_seen: &mut bool, maildrop: bool) {
        if *size_seen {
            self.warnings
                .push(format!("extra size record at offset {offset} ignored"));
            return;
        }
        *size_seen = true;
        if maildrop {
            return;
        }
        match parse_size_payload(p) {
            Some(s) if s.data_size == 0 && s.data_offset == 0 => {
                self.warnings.push(
                    "size record is all zeros: cleanup never finished this file (Postfix would treat it as corrupt)".into(),
                );
                self.size = Some(s);
            }
            Some(s) => self.size = Some(s),
            None => self
                .warnings
                .push(format!("invalid size record at offset {offset}")),
        }
    }

    /// After the end record: what every queue file must have, and what the size record
    /// said against what was found.
    fn finish(&mut self, maildrop: bool, size_seen: bool) -> Result<(), ParseError> {
        if self.sender.is_none() {
            return Err(ParseError::MissingSender);
        }
        if self.arrival.is_none() {
            return Err(ParseError::MissingArrival);
        }
        if !maildrop && !size_seen {
            self.warnings.push("no size record".to_string());
        }
        if let Some(s) = self.size
            && s.data_offset as usize != self.data_offset
        {
            self.warnings.push(format!(
                "size record says content starts at {}, found at {}",
                s.data_offset, self.data_offset
            ));
        } else if let Some(s) = self.size
            && (s.data_offset + s.data_size) as usize != self.xtra_offset
        {
            self.warnings.push(format!(
                "size record says the extracted section starts at {}, found at {}",
                s.data_offset + s.data_size,
                self.xtra_offset
            ));
        }
        Ok(())
    }

    /// Where the size record says the `X` record is, if a real `X` record sits there.
    fn xtra_target(&self, buf: &[u8], content_start: usize) -> Option<usize> {
        let s = self.size?;
        if s.data_offset <= 0 || s.data_size <= 0 || s.data_offset as usize != content_start {
            return None;
        }
        let x = usize::try_from(s.data_offset.checked_add(s.data_size)?).ok()?;
        (buf.get(x..x + 2) == Some(b"X\0")).then_some(x)
    }

    fn attribute(&mut self, p: &[u8], offset: usize, section: Section, pending: &mut PendingRcpt) {
        let Some((name, value)) = split_nameval(p) else {
            self.warnings
                .push(format!("malformed attribute at offset {offset}"));
            return;
        };
        match name {
            b"create_time" if self.create_time.is_none() => self.create_time = parse_long(value),
            b"notify_flags" => pending.notify = parse_long(value).map(|v| v as u32),
            b"dsn_orig_rcpt" => pending.orcpt = Some(value.to_vec()),
            b"envelope_id" => self.envelope_id = Some(value.to_vec()),
            b"ret_flags" => self.ret_flags = parse_long(value).map(|v| v as u32),
            b"encoding" => self.encoding = Some(value.to_vec()),
            b"trace_flags" => self.trace_flags = parse_long(value).map(|v| v as u32),
            b"message_id" => self.message_id = Some(value.to_vec()),
            _ => {}
        }
        self.attributes.push(Attribute {
            name: name.to_vec(),
            value: value.to_vec(),
            section,
        });
    }

    /// Payload bytes of a range.
    pub fn bytes(&self, r: &Range<usize>) -> &[u8] {
        &self.data[r.clone()]
    }

    /// The size record is cleanup's all-zero placeholder (not in maildrop files, which
    /// have no final size record).
    pub fn unfinished_size(&self) -> bool {
        !self.maildrop
            && self
                .size
                .is_some_and(|s| s.data_size == 0 && s.data_offset == 0)
    }

    /// Sender, empty for the null sender.
    pub fn sender(&self) -> &[u8] {
        self.sender.as_deref().unwrap_or(b"")
    }

    /// Arrival seconds.
    pub fn arrival_secs(&self) -> i64 {
        self.arrival.map(|a| a.0).unwrap_or(0)
    }

    /// The expiry clock base: `create_time`, else the arrival time.
    pub fn clock_base(&self) -> i64 {
        self.create_time.unwrap_or_else(|| self.arrival_secs())
    }

    /// An address-verification probe (trace_flags 256 or 512): not real mail.
    pub fn is_probe(&self) -> bool {
        self.trace_flags.unwrap_or(0) & (256 | 512) != 0
    }

    /// Whether the content ended with an unterminated line (`L`).
    pub fn ends_unterminated(&self) -> bool {
        self.content.last().is_some_and(|r| r.continued)
    }

    /// The message exactly as Postfix delivers it: logical lines joined with LF, and a
    /// final newline added when the content ended without one.
    pub fn message_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len());
        self.write_message(&mut out);
        out
    }

    /// Appends [`QueueFile::message_bytes`] to `out`.
    ///
    /// A maildrop file has not been through cleanup yet; cleanup removes `Bcc:` and
    /// `Resent-Bcc:` header fields before anything is delivered, so they are left out
    /// here too (they would otherwise reveal the blind copies to every recipient), and
    /// the headers it would add ([`QueueFile::added_headers`]) come after the last
    /// header.
    pub fn write_message(&self, out: &mut Vec<u8>) {
        let mut in_header = self.maildrop;
        let mut dropping = false;
        let mut line_start = true;
        let mut pending_add = !self.added_headers.is_empty();
        for r in &self.content {
            let p = &self.data[r.payload.clone()];
            if in_header && line_start {
                if p.first().is_some_and(|c| *c == b' ' || *c == b'\t') {
                    // A continuation line belongs to the field before it.
                } else if is_header(p) {
                    let name = p.split(|c| *c == b':').next().unwrap_or(b"").trim_ascii();
                    dropping = name.eq_ignore_ascii_case(b"bcc")
                        || name.eq_ignore_ascii_case(b"resent-bcc");
                } else {
                    in_header = false;
                    dropping = false;
                    if pending_add {
                        out.extend_from_slice(&self.added_headers);
                        pending_add = false;
                    }
                }
            }
            line_start = !r.continued;
            if dropping {
                continue;
            }
            out.extend_from_slice(p);
            if !r.continued {
                out.push(b'\n');
            }
        }
        if self.ends_unterminated() && !(dropping && in_header) {
            out.push(b'\n');
        }
        if pending_add {
            out.extend_from_slice(&self.added_headers);
        }
    }

    /// Pending recipients.
    pub fn pending(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.state == RcptState::Pending)
    }

    /// 8-bit content declared (`encoding=8bit`).
    pub fn is_8bit(&self) -> bool {
        self.encoding.as_deref() == Some(b"8bit")
    }
}

/// Postfix's `is_header`: a name of printable non-space, non-colon ASCII, optional
/// blanks, then a colon.
pub fn is_header(line: &[u8]) -> bool {
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if c == b':' {
            break;
        }
        if !(33..127).contains(&c) {
            break;
        }
        i += 1;
    }
    if i == 0 {
        return false;
    }
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    line.get(i) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::super::record::encode_record;
    use super::*;

    pub(crate) fn build(records: &[(u8, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        for (t, p) in records {
            encode_record(&mut v, *t, p);
        }
        v
    }

    /// The 127-byte maildrop test vector from the reference (section 2.13).
    fn vector() -> Vec<u8> {
        build(&[
            (b'T', b"1700000000 42"),
            (b'A', b"rewrite_context=local"),
            (b'F', b"Local User"),
            (b'S', b"user"),
            (b'R', b"someone@example.com"),
            (b'M', b""),
            (b'N', b"Subject: via sendmail"),
            (b'N', b""),
            (b'L', b"no newline at end"),
            (b'X', b""),
            (b'E', b""),
        ])
    }

    #[test]
    fn reference_vector() {
        let v = vector();
        assert_eq!(v.len(), 127);
        let q = QueueFile::parse(v, Depth::Full, true).unwrap();
        assert_eq!(q.arrival, Some((1700000000, 42)));
        assert_eq!(q.sender(), b"user");
        assert_eq!(q.full_name.as_deref(), Some(&b"Local User"[..]));
        assert_eq!(q.recipients.len(), 1);
        assert_eq!(q.recipients[0].state, RcptState::Pending);
        assert_eq!(
            q.message_bytes(),
            b"Subject: via sendmail\n\nno newline at end\n"
        );
        assert!(q.ends_unterminated());
    }

    #[test]
    fn truncated_everywhere_is_an_error_not_a_panic() {
        let v = vector();
        for cut in 0..v.len() {
            let r = QueueFile::parse(v[..cut].to_vec(), Depth::Full, true);
            assert!(r.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn pointer_loop_detected() {
        // T, S, then a pointer to itself.
        let mut v = build(&[(b'T', b"1 0"), (b'S', b"a")]);
        let at = v.len();
        encode_record(&mut v, b'p', format!("{:15}", at).as_bytes());
        let e = QueueFile::parse(v, Depth::Full, false).unwrap_err();
        assert_eq!(e, ParseError::PointerLoop { offset: at });
    }

    #[test]
    fn pointer_outside_file() {
        let mut v = build(&[(b'T', b"1 0")]);
        encode_record(&mut v, b'p', format!("{:15}", 99999).as_bytes());
        assert!(matches!(
            QueueFile::parse(v, Depth::Full, false),
            Err(ParseError::BadPointer { .. })
        ));
    }

    #[test]
    fn forward_pointer_replaces_sender() {
        // S "old" padded, overwritten by a pointer to records after E.
        let mut v = build(&[(b'T', b"1 0")]);
        let s_at = v.len();
        // A 17-byte pointer record placeholder; we fill in the target later.
        encode_record(&mut v, b'p', b"               0");
        let after_ptr = v.len();
        encode_record(&mut v, b'R', b"rcpt@example.com");
        encode_record(&mut v, b'M', b"");
        encode_record(&mut v, b'N', b"Subject: x");
        encode_record(&mut v, b'X', b"");
        encode_record(&mut v, b'E', b"");
        let heap = v.len();
        encode_record(&mut v, b'S', b"new@example.org");
        encode_record(&mut v, b'p', format!("{:15}", after_ptr).as_bytes());
        let ptr = {
            let mut p = Vec::new();
            encode_record(&mut p, b'p', format!("{:15}", heap).as_bytes());
            p
        };
        v[s_at..s_at + ptr.len()].copy_from_slice(&ptr);
        let q = QueueFile::parse(v, Depth::Full, false).unwrap();
        assert_eq!(q.sender(), b"new@example.org");
        assert_eq!(q.recipients[0].address, b"rcpt@example.com");
    }

    #[test]
    fn maildrop_bcc_removed_like_cleanup() {
        let recs: Vec<(u8, &[u8])> = vec![
            (b'T', b"1 0"),
            (b'S', b"user"),
            (b'R', b"a@example.com"),
            (b'M', b""),
            (b'N', b"To: a@example.com"),
            (b'N', b"Bcc: secret@example.com,"),
            (b'N', b"  other@example.com"),
            (b'N', b"Subject: x"),
            (b'N', b""),
            (b'N', b"Bcc: in the body stays"),
            (b'X', b""),
            (b'E', b""),
        ];
        let v = build(&recs);
        let q = QueueFile::parse(v.clone(), Depth::Full, true).unwrap();
        assert_eq!(
            q.message_bytes(),
            b"To: a@example.com\nSubject: x\n\nBcc: in the body stays\n"
        );
        // A file cleanup already wrote is delivered as it is.
        let q = QueueFile::parse(v, Depth::Full, false).unwrap();
        assert!(
            q.message_bytes()
                .starts_with(b"To: a@example.com\nBcc: secret")
        );
    }

    #[test]
    fn nameval() {
        assert_eq!(split_nameval(b" a = b "), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_nameval(b"a="), Some((&b"a"[..], &b""[..])));
        assert_eq!(split_nameval(b"=b"), None);
        assert_eq!(split_nameval(b"ab"), None);
    }

    #[test]
    fn headers() {
        assert!(is_header(b"Subject: x"));
        assert!(is_header(b"X-Foo :x"));
        assert!(!is_header(b"no header"));
        assert!(!is_header(b""));
        assert!(!is_header(b": x"));
    }

    #[test]
    fn recipient_groups_and_dsn() {
        let v = build(&[
            (b'T', b"1 0"),
            (b'S', b""),
            (b'A', b"notify_flags=6"),
            (b'A', b"dsn_orig_rcpt=rfc822;a@example.com"),
            (b'O', b"a@example.com"),
            (b'R', b"b@example.com"),
            (b'O', b"c@example.com"),
            (b'D', b"c@example.com"),
            (b'M', b""),
            (b'N', b"x: y"),
            (b'X', b""),
            (b'R', b"extra@example.com"),
            (b'E', b""),
        ]);
        let q = QueueFile::parse(v, Depth::Full, false).unwrap();
        assert_eq!(q.sender(), b"");
        assert_eq!(q.recipients.len(), 3);
        assert_eq!(q.recipients[0].notify, Some(6));
        assert_eq!(
            q.recipients[0].orcpt.as_deref(),
            Some(&b"rfc822;a@example.com"[..])
        );
        assert_eq!(q.recipients[1].notify, None);
        assert_eq!(q.recipients[1].state, RcptState::Done);
        assert_eq!(q.recipients[2].section, Section::Extracted);
    }
}
