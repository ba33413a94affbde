//! One Exim `-H` spool file, parsed exactly as Exim's "Format of spool files" describes
//! it (and `spool_in.c` reads it).
//!
//! Owns: the layout — `ID-H`; `login uid gid`; `<sender>`; `time warning-count`; option
//! lines starting with `-` (`--` for client-supplied values), where `-aclc`/`-aclm NAME
//! LEN` (and the old `-acl N LEN`) are followed by LEN raw bytes and a newline that may
//! span lines; the non-recipients tree (`XX`, or one `LR address` line per node in
//! pre-order, L/R `Y`/`N` for whether a subtree follows); the recipient count and one
//! recipient per line, DSN data parsed from the right (`addr orcpt len,flags errors_to
//! len,pno#3`); a blank line; the headers as `NNNt text` (NNN bytes, `t` the type, `*`
//! deleted). In: the file's bytes and the expected ID. Out: [`HeaderFile`]. Fails with
//! [`FormatError`] (byte offset and what was wrong); never panics on any input.

use std::collections::HashSet;
use std::fmt;

/// Exim's own sanity limit on the recipient count.
const MAX_RECIPIENTS: usize = 16384;

/// What was wrong with a spool file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

/// One recipient line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Vec<u8>,
    /// DSN ORCPT as stored (`type;address`).
    pub orcpt: Option<Vec<u8>>,
    /// Exim's DSN bits: NEVER 2, SUCCESS 4, FAILURE 8, DELAY 16.
    pub dsn_flags: u32,
    pub errors_to: Option<Vec<u8>>,
    /// Parent number of a one_time child; -1 for none.
    pub pno: i64,
}

/// One header line (with its continuation lines and final newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Exim's type letter; `*` = deleted (removed or rewritten).
    pub kind: u8,
    pub text: Vec<u8>,
}

/// A parsed `-H` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFile {
    pub login: Vec<u8>,
    pub uid: i64,
    pub gid: i64,
    pub sender: Vec<u8>,
    pub received: i64,
    pub received_usec: i64,
    pub warning_count: i64,
    pub frozen_at: Option<i64>,
    pub manual_thaw: bool,
    pub local_error: bool,
    pub first_time: bool,
    pub dsn_envid: Option<Vec<u8>>,
    pub dsn_ret: Option<u32>,
    pub smtputf8: bool,
    pub wireformat: bool,
    pub helo_name: Option<Vec<u8>>,
    pub host_address: Option<Vec<u8>>,
    /// ACL variables (`c…`/`m…` names) with their raw values.
    pub acl_vars: Vec<(Vec<u8>, Vec<u8>)>,
    /// Addresses already delivered or failed (the non-recipients tree).
    pub nonrecipients: HashSet<Vec<u8>>,
    pub recipients: Vec<Recipient>,
    pub headers: Vec<Header>,
}

/// A cursor over the file's bytes.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn err(&self, reason: impl Into<String>) -> FormatError {
        FormatError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// The next line without its newline; a missing newline means a truncated file.
    fn line(&mut self, what: &str) -> Result<&'a [u8], FormatError> {
        let rest = &self.b[self.pos..];
        match rest.iter().position(|&c| c == b'\n') {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None => Err(self.err(format!(
                "the file ends inside {what} (truncated: a crash or a partial copy)"
            ))),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
        if self.b.len() - self.pos < n {
            return Err(self.err(format!(
                "the file ends inside {what} ({n} bytes announced, {} left: truncated, or a bad length)",
                self.b.len() - self.pos
            )));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

/// A decimal number, optionally negative.
fn num(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.trim().parse().ok()
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

impl HeaderFile {
    /// Parses the `-H` file of message `id`.
    pub fn parse(data: &[u8], id: &str) -> Result<HeaderFile, FormatError> {
        let mut c = Cur { b: data, pos: 0 };
        let mut h = HeaderFile::default();
        let first = c.line("the first line")?;
        if first != format!("{id}-H").as_bytes() {
            return Err(FormatError {
                offset: 0,
                reason: format!(
                    "the first line is {:?}, not {id}-H (not this message's header file)",
                    lossy(first)
                ),
            });
        }
        h.identity(&mut c)?;
        let mut line = c.line("the option lines")?;
        while line.first() == Some(&b'-') {
            h.option(line, &mut c)?;
            line = c.line("the option lines")?;
        }
        if line != b"XX" {
            h.tree(line, &mut c)?;
        }
        h.recipient_lines(&mut c)?;
        let at = c.pos;
        if c.line("the blank line before the headers")? != b"" {
            return Err(FormatError {
                offset: at,
                reason: format!(
                    "no blank line after the {} recipient(s) (a bad recipient count?)",
                    h.recipients.len()
                ),
            });
        }
        h.header_lines(&mut c)?;
        Ok(h)
    }

    /// `login uid gid`, `<sender>`, `time warning-count`.
    fn identity(&mut self, c: &mut Cur) -> Result<(), FormatError> {
        let at = c.pos;
        let l = c.line("the login line")?;
        let mut it = l.rsplitn(3, |&b| b == b' ');
        let (gid, uid, login) = (it.next(), it.next(), it.next());
        match (gid.and_then(num), uid.and_then(num), login) {
            (Some(g), Some(u), Some(name)) => {
                (self.login, self.uid, self.gid) = (name.to_vec(), u, g)
            }
            _ => {
                return Err(FormatError {
                    offset: at,
                    reason: format!("bad login line {:?} (want `login uid gid`)", lossy(l)),
                });
            }
        }
        let at = c.pos;
        let s = c.line("the sender line")?;
        if s.len() < 2 || s[0] != b'<' || s[s.len() - 1] != b'>' {
            return Err(FormatError {
                offset: at,
                reason: format!("bad sender line {:?} (want `<address>`)", lossy(s)),
            });
        }
        self.sender = s[1..s.len() - 1].to_vec();
        let at = c.pos;
        let t = c.line("the time line")?;
        let mut it = t.split(|&b| b == b' ');
        match (it.next().and_then(num), it.next().and_then(num)) {
            (Some(time), Some(w)) => (self.received, self.warning_count) = (time, w),
            _ => {
                return Err(FormatError {
                    offset: at,
                    reason: format!("bad time line {:?} (want `seconds warnings`)", lossy(t)),
                });
            }
        }
        Ok(())
    }

    /// One option line (already read); ACL variables read their raw value from `c`.
    fn option(&mut self, line: &[u8], c: &mut Cur) -> Result<(), FormatError> {
        let var = line.strip_prefix(b"--").unwrap_or(&line[1..]);
        let (name, value) = match var.iter().position(|&b| b == b' ') {
            Some(n) => (&var[..n], Some(&var[n + 1..])),
            None => (var, None),
        };
        match (name, value) {
            (b"aclc" | b"aclm" | b"acl", Some(v)) => return self.acl(name, v, c),
            (b"frozen", v) => {
                let t = v.and_then(num);
                if t.is_none() {
                    return Err(c.err(format!("bad -frozen line {:?}", lossy(line))));
                }
                self.frozen_at = t;
            }
            (b"manual_thaw", _) => self.manual_thaw = true,
            (b"localerror", _) => self.local_error = true,
            (b"deliver_firsttime", _) => self.first_time = true,
            (b"dsn_envid", Some(v)) => self.dsn_envid = Some(v.to_vec()),
            (b"dsn_ret", Some(v)) => self.dsn_ret = num(v).map(|n| n as u32),
            (b"smtputf8", _) => self.smtputf8 = true,
            (b"spool_file_wireformat", _) => self.wireformat = true,
            (b"helo_name", Some(v)) => self.helo_name = Some(v.to_vec()),
            (b"host_address", Some(v)) => self.host_address = Some(v.to_vec()),
            (b"received_time_usec", Some(v)) => {
                self.received_usec = num(v.strip_prefix(b".").unwrap_or(v)).unwrap_or(0)
            }
            // Unknown options are skipped, as Exim does (newer versions add some).
            _ => {}
        }
        Ok(())
    }

    /// `-aclc NAME LEN` / `-aclm NAME LEN` / `-acl N LEN`: LEN raw bytes and a newline.
    fn acl(&mut self, kind: &[u8], rest: &[u8], c: &mut Cur) -> Result<(), FormatError> {
        let bad = |c: &Cur| c.err(format!("bad -{} line {:?}", lossy(kind), lossy(rest)));
        let Some(sp) = rest.iter().rposition(|&b| b == b' ') else {
            return Err(bad(c));
        };
        let (var, len) = (&rest[..sp], num(&rest[sp + 1..]));
        let Some(len) = len.filter(|&n| n >= 0).map(|n| n as usize) else {
            return Err(bad(c));
        };
        let what = format!("the value of ACL variable {}", lossy(var));
        let value = c.take(len, &what)?;
        if c.take(1, &what)? != b"\n" {
            return Err(FormatError {
                offset: c.pos - 1,
                reason: format!(
                    "{what}: its {len} bytes are not followed by a newline (a bad length)"
                ),
            });
        }
        let mut name = kind.get(3..).unwrap_or_default().to_vec();
        name.extend_from_slice(var);
        self.acl_vars.push((name, value.to_vec()));
        Ok(())
    }

    /// The non-recipients tree, whose first line is `first`: pre-order, read with an
    /// explicit count of subtrees still to come (no recursion on hostile input).
    fn tree(&mut self, first: &[u8], c: &mut Cur) -> Result<(), FormatError> {
        let mut line = first;
        let mut todo = 1usize;
        loop {
            let flag = |b: u8| matches!(b, b'Y' | b'N');
            if line.len() < 4 || !flag(line[0]) || !flag(line[1]) || line[2] != b' ' {
                return Err(c.err(format!(
                    "bad non-recipients line {:?} (want `XX` or `YN address`)",
                    lossy(line)
                )));
            }
            self.nonrecipients.insert(line[3..].to_vec());
            todo = todo - 1 + usize::from(line[0] == b'Y') + usize::from(line[1] == b'Y');
            if todo == 0 {
                return Ok(());
            }
            line = c.line("the non-recipients tree")?;
        }
    }

    /// The recipient count and that many recipient lines.
    fn recipient_lines(&mut self, c: &mut Cur) -> Result<(), FormatError> {
        let at = c.pos;
        let l = c.line("the recipient count")?;
        let digits: Vec<u8> = l.iter().copied().take_while(u8::is_ascii_digit).collect();
        let n = num(&digits)
            .filter(|&n| n as usize <= MAX_RECIPIENTS && !digits.is_empty())
            .ok_or_else(|| FormatError {
                offset: at,
                reason: format!("bad recipient count {:?}", lossy(l)),
            })? as usize;
        for _ in 0..n {
            let at = c.pos;
            let l = c.line("the recipient list")?;
            let r = parse_recipient(l).ok_or_else(|| FormatError {
                offset: at,
                reason: format!("bad recipient line {:?}", lossy(l)),
            })?;
            self.recipients.push(r);
        }
        Ok(())
    }

    /// `NNNt text` until the end of the file.
    fn header_lines(&mut self, c: &mut Cur) -> Result<(), FormatError> {
        while c.pos < c.b.len() {
            let at = c.pos;
            let digits = c.b[c.pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let n = num(&c.b[c.pos..c.pos + digits]).filter(|_| digits > 0);
            let Some(n) = n.map(|n| n as usize) else {
                return Err(c.err("a header does not start with its length (`NNNt text`)"));
            };
            c.pos += digits;
            let kind = c.take(1, "a header's type")?[0];
            while c.pos < c.b.len() && c.b[c.pos].is_ascii_whitespace() {
                c.pos += 1;
            }
            let text = c.take(n, "a header")?;
            if text.contains(&0) {
                return Err(FormatError {
                    offset: at,
                    reason: "a header contains a NUL byte (a crash wrote zeroes?)".into(),
                });
            }
            self.headers.push(Header {
                kind,
                text: text.to_vec(),
            });
        }
        Ok(())
    }
}

/// A recipient line, read from the right: `addr`, or `addr pno` (early Exim 4), or
/// `addr x,pno` (Exim 3), or `addr [orcpt len,dsn] [errors_to len,pno]#flags`.
fn parse_recipient(l: &[u8]) -> Option<Recipient> {
    let mut r = Recipient {
        address: l.to_vec(),
        orcpt: None,
        dsn_flags: 0,
        errors_to: None,
        pno: -1,
    };
    if l.is_empty() {
        return None;
    }
    let tail = l.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let p = l.len() - tail;
    match l.get(p.wrapping_sub(1)) {
        Some(b'#') if tail > 0 => {
            let flags = num(&l[p..])?;
            let mut end = p - 1;
            if flags & 1 != 0 {
                let (start, _, pno, value) = field(l, end)?;
                r.pno = pno;
                r.errors_to = value;
                end = start;
            }
            end = end.checked_sub(1)?;
            if flags & 2 != 0 {
                let (start, len, dsn, value) = field(l, end)?;
                let _ = len;
                r.dsn_flags = dsn as u32;
                r.orcpt = value;
                end = start.checked_sub(1)?;
            }
            r.address = l[..end].to_vec();
        }
        Some(b' ') if tail > 0 => {
            r.pno = num(&l[p..])?;
            r.address = l[..p - 1].to_vec();
        }
        Some(b',') if tail > 0 => {
            let q = l
                .iter()
                .rposition(|&b| !(b.is_ascii_digit() || b == b','))?;
            if l[q] == b' ' {
                let nums: Vec<&[u8]> = l[q + 1..].split(|&b| b == b',').collect();
                r.pno = nums.get(1).and_then(|n| num(n)).unwrap_or(-1);
                r.address = l[..q].to_vec();
            }
        }
        _ => {}
    }
    (!r.address.is_empty()).then_some(r)
}

/// Reads `<value> <len>,<n>` ending just before `end`, from the right: returns where
/// the value starts, len, n and the value (`None` when empty).
#[allow(clippy::type_complexity)]
fn field(l: &[u8], end: usize) -> Option<(usize, usize, i64, Option<Vec<u8>>)> {
    let head = &l[..end];
    let sp = head
        .iter()
        .rposition(|&b| !(b.is_ascii_digit() || b == b',' || b == b'-'))?;
    if head[sp] != b' ' {
        return None;
    }
    let mut nums = head[sp + 1..].split(|&b| b == b',');
    let len = usize::try_from(num(nums.next()?)?).ok()?;
    let n = num(nums.next()?)?;
    let start = sp.checked_sub(len)?;
    let value = (len > 0).then(|| head[start..sp].to_vec());
    Some((start, len, n, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_recipient_from_the_right() {
        let r = parse_recipient(b"a b@example.org rfc822;o@x.test 15,20  0,-1#3").unwrap();
        assert_eq!(r.address, b"a b@example.org");
        assert_eq!(r.orcpt.as_deref(), Some(&b"rfc822;o@x.test"[..]));
        assert_eq!(r.dsn_flags, 20);
        assert_eq!(r.errors_to, None);
        assert_eq!(r.pno, -1);
        let r = parse_recipient(b"x@y.org  0,6 e@f.org 7,2#3").unwrap();
        assert_eq!(r.address, b"x@y.org");
        assert_eq!(r.orcpt, None);
        assert_eq!(r.dsn_flags, 6);
        assert_eq!(r.errors_to.as_deref(), Some(&b"e@f.org"[..]));
        assert_eq!(r.pno, 2);
        assert_eq!(parse_recipient(b"x@y.org 3").unwrap().pno, 3);
        assert_eq!(parse_recipient(b"x@host1").unwrap().address, b"x@host1");
        assert!(parse_recipient(b"x@y.org 99,20  0,-1#3").is_none());
    }

    #[test]
    fn acl_value_spans_lines_and_tree() {
        let f = b"1xaZgW-0003TL-34-H\nDebian-exim 111 120\n<s@x>\n1796653640 0\n-aclm _note 9\nline\nXX\n2\n-frozen 5\nYY b@x\nNN a@x\nNN c@x\n2\na@x\nd@x\n\n012  Subject: hi\n024* From: x@old.example.org\n";
        let h = HeaderFile::parse(f, "1xaZgW-0003TL-34").unwrap();
        assert_eq!(
            h.acl_vars,
            vec![(b"m_note".to_vec(), b"line\nXX\n2".to_vec())]
        );
        assert_eq!(h.frozen_at, Some(5));
        assert_eq!(h.nonrecipients.len(), 3);
        assert_eq!(h.recipients.len(), 2);
        assert_eq!(h.headers.len(), 2);
        assert_eq!(h.headers[1].kind, b'*');
        let bad = b"1xaZgW-0003TL-34-H\nDebian-exim 111 120\n<s@x>\n1 0\n-aclm _note 99\nline\n";
        let e = HeaderFile::parse(bad, "1xaZgW-0003TL-34").unwrap_err();
        assert!(e.reason.contains("bad length"), "{e}");
    }
}
