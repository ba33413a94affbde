//! postcat, byte for byte (`postcat/postcat.c`, `global/record.c`).
//!
//! Owns: a faithful model of postcat's reading loop over the bytes of one queue file —
//! its record reader (pointer records followed and padding skipped unless `-v`, a seek
//! to the end after the end record, the reverse-jump limit), its envelope → header →
//! body state machine with the same seeks (so a size record that lies is followed as
//! postcat follows it), its record names and date formats (asctime in the local time
//! zone), the `-o` offsets (the position before each read, as `ftell` gives it), `-d`
//! decimal types, `-f` file names, `-r` file order, `-s` start offset, and its output
//! buffering: postcat flushes after every record it prints, and what is still
//! buffered when it exits is lost (the newline it owes an unterminated last line when
//! no envelope follows, the first marker of a file that has no records). Also: the
//! `--states` block (each recipient's state, from the parsed file).
//! In: the file's bytes, its name as shown, [`CatFlags`]. Out: bytes appended to an
//! [`Output`]. Fails with [`CatError`] where postcat stops with a fatal error (what it
//! printed up to then is kept). Pure.
//! Postfix-specific by nature: the one module outside `queue/` that reads Postfix's
//! records (`queue::record` framing, `queue::qfile` for `--states`); everything else sees
//! a queued message through `queue::QueuedMessage` and `queue::QueueSource`.

use std::fmt;

use crate::queue::qfile::{QueueFile, is_header, split_nameval};
use crate::queue::record::{FrameError, Metered};
use crate::timefmt::asctime_local;

/// postcat's options (`-b`, `-h`, `-e`; none of the three means all three).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatFlags {
    pub body: bool,
    pub header: bool,
    pub envelope: bool,
    /// `-o`: the queue file offset of each record.
    pub offsets: bool,
    /// `-d`: the decimal record type of each record.
    pub decimal: bool,
    /// `-f`: the file name before each line.
    pub pathname: bool,
    /// `-r`: file order; pointer records are not followed (takes effect with `-v`, as
    /// in postcat, whose record reader follows pointers itself otherwise).
    pub raw: bool,
    /// `-v` (count): pointer and padding records shown, text records named.
    pub verbose: u8,
    /// `-s`: start reading at this offset (no envelope heading).
    pub start: u64,
}

impl CatFlags {
    fn normalized(mut self) -> CatFlags {
        if !self.body && !self.header && !self.envelope {
            self.body = true;
            self.header = true;
            self.envelope = true;
        }
        self
    }
}

/// postcat's printable name of a record type (`global/rec_type.c`; `L` is listed as
/// `content_filter`, the name its table gives first).
pub fn rec_type_name(t: u8) -> &'static str {
    match t {
        b'C' => "message_size",
        b'T' => "message_arrival_time",
        b'c' => "queue_file_create_time",
        b'F' => "sender_fullname",
        b'I' => "content_inspector",
        b'L' => "content_filter",
        b'S' => "sender",
        b'D' => "done_recipient",
        b'/' => "canceled_recipient",
        b'R' => "recipient",
        b'O' => "original_recipient",
        b'W' => "warning_message_time",
        b'A' => "named_attribute",
        b'p' => "pointer_record",
        b'K' => "killed_record",
        b'M' => "message_content",
        b'N' => "regular_text",
        b'w' => "padding",
        b'X' => "extracted_info",
        b'r' => "return_receipt",
        b'e' => "errors_to",
        b'P' => "priority",
        b'V' => "verp_delimiters",
        b'E' => "message_end",
        b'>' => "redirect_to",
        b'f' => "flags",
        b'<' => "dsn_return_flags",
        b'i' => "dsn_envelope_id",
        b'o' => "dsn_original_recipient",
        b'n' => "dsn_notify_flags",
        _ => "unknown_record_type",
    }
}

/// Where postcat stops with a fatal error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatError {
    /// The first byte is not an envelope record type (postcat warns and skips the file).
    NotAQueueFile,
    /// A record could not be read ("record read error").
    Record(FrameError),
    /// A malformed pointer, or too many reverse jumps.
    BadPointer { offset: usize, target: String },
    /// A seek to a negative offset (a size record without a usable data offset).
    Seek { offset: i64 },
    /// `-s` beyond the end of standard input.
    Skip { offset: u64, len: usize },
    /// Records read far beyond the file's size: a pointer loop.
    Loop { offset: usize },
}

impl fmt::Display for CatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatError::NotAQueueFile => write!(
                f,
                "input is not a valid queue file (first byte is not an envelope record type)"
            ),
            CatError::Record(e) => write!(f, "record read error: {e}"),
            CatError::BadPointer { offset, target } => write!(
                f,
                "bad pointer record at offset {offset}: {target:?} (malformed, or more than 10000 reverse jumps)"
            ),
            CatError::Seek { offset } => write!(
                f,
                "seek error to offset {offset} (the size record has no usable data offset)"
            ),
            CatError::Skip { offset, len } => {
                write!(f, "skip {offset} bytes failed after {len}")
            }
            CatError::Loop { offset } => write!(
                f,
                "pointer loop: far more records read than the file holds (at offset {offset})"
            ),
        }
    }
}

impl std::error::Error for CatError {}

/// postcat's standard output: bytes, and how many of them have been flushed. What is
/// not flushed when the program ends is lost, as it is for postcat.
#[derive(Debug, Default)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub flushed: usize,
}

impl Output {
    fn flush(&mut self) {
        self.flushed = self.bytes.len();
    }
    fn put(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
    /// The flushed bytes, taken out (the unflushed rest stays for the next file).
    pub fn take_flushed(&mut self) -> Vec<u8> {
        let rest = self.bytes.split_off(self.flushed);
        let out = std::mem::replace(&mut self.bytes, rest);
        self.flushed = 0;
        out
    }
    /// Drops what is not flushed (postcat exits on a fatal error).
    pub fn drop_unflushed(&mut self) {
        self.bytes.truncate(self.flushed);
    }
}

/// The payload as a C string (what `%s` of `STR(buffer)` prints).
fn cstr(p: &[u8]) -> &[u8] {
    let n = p.iter().position(|&c| c == 0).unwrap_or(p.len());
    &p[..n]
}

/// `atol`: leading whitespace, a sign, digits; 0 when there are none.
fn atol(s: &[u8]) -> i64 {
    let s = cstr(s);
    let mut i = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg { -v } else { v }
}

/// `sscanf(s, "%ld %ld")`: the numbers found (0, 1 or 2 of them).
fn scan_two(s: &[u8]) -> (Option<i64>, Option<i64>) {
    let s = cstr(s);
    let mut pos = 0;
    let mut next = || -> Option<i64> {
        let rest = &s[pos..];
        let ws = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let after = &rest[ws..];
        let sign = usize::from(matches!(after.first(), Some(b'-' | b'+')));
        let digits = after[sign..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        pos += ws + sign + digits;
        Some(atol(&after[..sign + digits]))
    };
    let a = next();
    let b = if a.is_some() { next() } else { None };
    (a, b)
}

/// Envelope record types postcat accepts as a file's first byte.
const ENVELOPE_TYPES: &[u8] = b"MCTcFILSDRO/WVA>K<ion";
const REVERSE_JUMP_LIMIT: u32 = 10_000;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    saved_offset: usize,
    reverse: u32,
    meter: Metered,
}

impl<'a> Reader<'a> {
    /// `rec_get_raw`: `transparent` = REC_FLAG_DEFAULT (follow pointers, skip padding,
    /// seek to the end after the end record), else REC_FLAG_NONE.
    fn get(&mut self, transparent: bool) -> Result<Option<(u8, &'a [u8])>, CatError> {
        loop {
            let Some(r) = self
                .meter
                .read(self.buf, self.pos)
                .map_err(|e| e.into_error(CatError::Record, |offset| CatError::Loop { offset }))?
            else {
                return Ok(None);
            };
            self.pos = r.next;
            if !transparent {
                return Ok(Some((r.rtype, r.payload)));
            }
            match r.rtype {
                b'p' => {
                    self.goto(r.payload, r.offset)?;
                    continue;
                }
                b'w' => continue,
                b'E' => self.pos = self.buf.len(),
                _ => {}
            }
            return Ok(Some((r.rtype, r.payload)));
        }
    }

    /// `rec_goto`.
    fn goto(&mut self, p: &[u8], at: usize) -> Result<(), CatError> {
        let s = cstr(p);
        let s = &s[s.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
        let bad = || CatError::BadPointer {
            offset: at,
            target: String::from_utf8_lossy(p).into_owned(),
        };
        if !s.iter().all(u8::is_ascii_digit) || s.len() > 18 {
            return Err(bad());
        }
        let offset: usize = if s.is_empty() {
            0
        } else {
            std::str::from_utf8(s)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(bad)?
        };
        if offset == 0 {
            return Ok(());
        }
        if offset <= self.saved_offset {
            self.reverse += 1;
            if self.reverse > REVERSE_JUMP_LIMIT {
                return Err(bad());
            }
        }
        self.pos = offset;
        self.saved_offset = offset;
        Ok(())
    }

    fn seek(&mut self, to: i64) -> Result<(), CatError> {
        if to < 0 {
            return Err(CatError::Seek { offset: to });
        }
        self.pos = usize::try_from(to).unwrap_or(usize::MAX);
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Env,
    Header,
    Body,
}

/// Prints one file the way postcat does. `path` is the name shown in marker lines;
/// `maildrop`: a file in `maildrop/` (its size record, if any, is preliminary).
/// `stdin`: the bytes came from standard input (`-s` then skips bytes rather than
/// seeking). On a fatal error the output postcat would have flushed is kept.
pub fn postcat(
    data: &[u8],
    path: &str,
    maildrop: bool,
    flags: CatFlags,
    stdin: bool,
    out: &mut Output,
) -> Result<(), CatError> {
    let r = postcat_inner(data, path, maildrop, flags.normalized(), stdin, out);
    if r.is_err() {
        out.drop_unflushed();
    }
    r
}

fn postcat_inner(
    data: &[u8],
    path: &str,
    maildrop: bool,
    f: CatFlags,
    stdin: bool,
    out: &mut Output,
) -> Result<(), CatError> {
    let mut rd = open_reader(data, &f, stdin)?;
    if f.start == 0 && f.envelope {
        out.put(format!("*** ENVELOPE RECORDS {path} ***\n").as_bytes());
    }
    let mut cat = Cat {
        f,
        path,
        maildrop,
        text: f.header || f.body,
        state: State::Env,
        do_print: f.envelope,
        data_offset: -1,
        data_size: -1,
        prev_type: 0,
    };
    let transparent = f.verbose == 0;
    loop {
        let offset = rd.pos;
        let Some((t, p)) = rd.get(transparent)? else {
            break;
        };
        match cat.control(&mut rd, out, offset, t, p)? {
            Step::Next => continue,
            Step::Stop => break,
            Step::Print => cat.print(out, offset, t, p),
        }
    }
    Ok(())
}

/// postcat's record reader over `data`, placed at `-s`'s start offset; refuses a file
/// whose first byte is no envelope record type (read from its start).
fn open_reader<'a>(data: &'a [u8], f: &CatFlags, stdin: bool) -> Result<Reader<'a>, CatError> {
    let mut rd = Reader {
        buf: data,
        pos: 0,
        saved_offset: 0,
        reverse: 0,
        meter: Metered::new(data.len().saturating_mul(4).saturating_add(1024)),
    };
    if f.start > 0 {
        if stdin && f.start > data.len() as u64 {
            return Err(CatError::Skip {
                offset: f.start,
                len: data.len(),
            });
        }
        rd.pos = usize::try_from(f.start).unwrap_or(usize::MAX);
    }
    if f.start == 0
        && let Some(c) = data.first()
        && !ENVELOPE_TYPES.contains(c)
    {
        return Err(CatError::NotAQueueFile);
    }
    Ok(rd)
}

/// What the reading loop does with a record once its control part is handled.
enum Step {
    /// Read the next record.
    Next,
    /// Stop reading (postcat's `break`).
    Stop,
    /// Print the record, then read the next.
    Print,
}

/// postcat's state over one file: the section it is in, whether that section prints,
/// the content's offset and size from the size record, the type printed last.
struct Cat<'p> {
    f: CatFlags,
    path: &'p str,
    maildrop: bool,
    /// `-h` or `-b`: the content is read (else skipped with the size record).
    text: bool,
    state: State,
    do_print: bool,
    data_offset: i64,
    data_size: i64,
    prev_type: u8,
}

impl Cat<'_> {
    /// The control part of a record: section changes (header → body at the first
    /// non-header line, M, X, E), pointers followed, the size record's seeks. Markers
    /// and printed control records go to `out` here.
    fn control(
        &mut self,
        rd: &mut Reader<'_>,
        out: &mut Output,
        offset: usize,
        t: u8,
        p: &[u8],
    ) -> Result<Step, CatError> {
        let f = self.f;
        match t {
            b'L' | b'N' => {
                if self.state == State::Header
                    && self.text
                    && self.prev_type != b'L'
                    && !(is_header(cstr(p)) || matches!(p.first(), Some(b' ' | b'\t')))
                {
                    self.state = State::Body;
                    self.do_print = f.body;
                    if !self.do_print && !f.envelope {
                        return Ok(Step::Stop);
                    }
                    if !self.do_print && f.envelope {
                        self.skip_content(rd)?;
                    }
                }
                Ok(self.print_step())
            }
            b'M' => {
                if f.envelope {
                    self.marker(out, offset, t, "MESSAGE CONTENTS");
                }
                if !self.text {
                    self.skip_content(rd)?;
                }
                self.state = State::Header;
                self.do_print = f.header;
                Ok(Step::Next)
            }
            b'X' => {
                if self.do_print && self.prev_type == b'L' {
                    out.put(b"\n");
                }
                if f.envelope {
                    self.marker(out, offset, t, "HEADER EXTRACTED");
                }
                self.state = State::Env;
                self.do_print = f.envelope;
                Ok(if self.do_print {
                    Step::Next
                } else {
                    Step::Stop
                })
            }
            b'E' => {
                if f.envelope {
                    self.marker(out, offset, t, "MESSAGE FILE END");
                }
                Ok(if f.raw { Step::Next } else { Step::Stop })
            }
            // A pointer is followed (unless -r), the first size record read (not in
            // maildrop/, where it is preliminary); both print as records.
            b'p' | b'C' => {
                if self.do_print {
                    self.record(out, offset, t, p);
                }
                if t == b'p' && !f.raw {
                    rd.goto(p, offset)?;
                } else if t == b'C' && !self.maildrop {
                    self.size_record(rd, p)?;
                }
                Ok(Step::Next)
            }
            _ => Ok(self.print_step()),
        }
    }

    fn print_step(&self) -> Step {
        if self.do_print {
            Step::Print
        } else {
            Step::Next
        }
    }

    /// Seeks past the message content, when the size record said where it ends.
    fn skip_content(&self, rd: &mut Reader<'_>) -> Result<(), CatError> {
        if self.data_offset > 0 && self.data_size >= 0 {
            rd.seek(self.data_offset.saturating_add(self.data_size))?;
        }
        Ok(())
    }

    /// The first size record: the content's size and offset; without `-e`, a seek to
    /// the content.
    fn size_record(&mut self, rd: &mut Reader<'_>, p: &[u8]) -> Result<(), CatError> {
        if self.data_size < 0 && self.data_offset < 0 {
            let (a, b) = scan_two(p);
            if let Some(a) = a {
                self.data_size = a;
            }
            if let Some(b) = b {
                self.data_offset = b;
            }
            if !self.f.envelope {
                rd.seek(self.data_offset)?;
                self.state = State::Header;
                self.do_print = self.f.header;
            }
        }
        Ok(())
    }

    /// One printed record line (text, time, attribute, or `name: value`).
    fn print(&mut self, out: &mut Output, offset: usize, mut t: u8, p: &[u8]) {
        self.prefix(out, offset, t);
        match t {
            b'T' | b'W' => {
                out.put(rec_type_name(t).as_bytes());
                out.put(b": ");
                out.put(asctime_local(atol(p)).as_bytes());
                out.put(b"\n");
            }
            b'L' => {
                if self.state == State::Env {
                    out.put(b"content_filter: ");
                } else if self.f.verbose > 0 {
                    out.put(b"unterminated_text: ");
                }
                out.put(p);
                if self.state == State::Env || self.f.verbose > 0 || self.f.offsets {
                    t = 0;
                    out.put(b"\n");
                }
            }
            b'N' => {
                if self.f.verbose > 0 {
                    out.put(b"regular_text: ");
                }
                out.put(p);
                out.put(b"\n");
            }
            b'w' => {
                out.put(b"padding: ");
                out.put(p);
                out.put(b"\n");
            }
            b'A' => attribute(out, p),
            _ => {
                out.put(rec_type_name(t).as_bytes());
                out.put(b": ");
                out.put(cstr(p));
                out.put(b"\n");
            }
        }
        self.prev_type = t;
        out.flush();
    }

    /// `-f`, `-o`, `-d`: the file name, offset and decimal type before a line.
    fn prefix(&self, out: &mut Output, offset: usize, t: u8) {
        if self.f.pathname {
            out.put(format!("{}: ", self.path).as_bytes());
        }
        if self.f.offsets {
            out.put(format!("{offset:9} ").as_bytes());
        }
        if self.f.decimal {
            out.put(format!("{t:3} ").as_bytes());
        }
    }

    fn marker(&self, out: &mut Output, offset: usize, t: u8, text: &str) {
        self.prefix(out, offset, t);
        out.put(format!("*** {text} {} ***\n", self.path).as_bytes());
        out.flush();
    }

    fn record(&self, out: &mut Output, offset: usize, t: u8, value: &[u8]) {
        self.prefix(out, offset, t);
        out.put(rec_type_name(t).as_bytes());
        out.put(b": ");
        out.put(cstr(value));
        out.put(b"\n");
        out.flush();
    }
}

/// A named attribute record as postcat prints it (create_time as a date).
fn attribute(out: &mut Output, p: &[u8]) {
    match split_nameval(cstr(p)) {
        Some((b"create_time", v)) => {
            out.put(b"create_time: ");
            out.put(asctime_local(atol(v)).as_bytes());
            out.put(b"\n");
        }
        Some((n, v)) => {
            out.put(b"named_attribute: ");
            out.put(n);
            out.put(b"=");
            out.put(v);
            out.put(b"\n");
        }
        None => {}
    }
}

/// The `--states` block: one line per recipient record, its state and offset.
pub fn states(q: &QueueFile, path: &str, out: &mut Output) {
    if q.recipients.is_empty() {
        return;
    }
    out.put(format!("*** RECIPIENT STATES {path} ***\n").as_bytes());
    for r in &q.recipients {
        out.put(r.state.as_str().as_bytes());
        out.put(b": ");
        out.put(&r.address);
        out.put(format!(" (offset {})\n", r.offset).as_bytes());
    }
    out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_parsing() {
        assert_eq!(atol(b"  1700000000 42"), 1700000000);
        assert_eq!(atol(b"-5x"), -5);
        assert_eq!(atol(b"x"), 0);
        assert_eq!(
            scan_two(b"            332             182"),
            (Some(332), Some(182))
        );
        assert_eq!(scan_two(b"12"), (Some(12), None));
        assert_eq!(scan_two(b""), (None, None));
    }

    #[test]
    fn unflushed_output_is_carried_and_lost_on_error() {
        let mut o = Output::default();
        o.put(b"a");
        o.flush();
        o.put(b"b");
        assert_eq!(o.take_flushed(), b"a");
        assert_eq!(o.bytes, b"b");
        o.drop_unflushed();
        assert!(o.bytes.is_empty());
    }
}
