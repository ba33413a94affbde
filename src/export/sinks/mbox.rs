//! The `mbox` sink: `mail.mbox` per bundle, mboxrd (RFC 4155, qmail mbox(5)).
//!
//! Owns: the `From ` separator line (envelope sender or `MAILER-DAEMON`, asctime UTC of
//! the arrival), `>*From ` quoting of every line, LF line ends and the empty line after
//! each message; writing the whole mailbox once per run from the archive copies
//! (per-mailbox sink) — the inbox as `mail.mbox`, spam filed in Junk as `junk.mbox`
//! beside it (in every bundle that has a Junk) —, and reading both back independently
//! in `verify`. In: per message
//! the delivery headers and a reader over the archive copy (streamed line by line, never
//! held whole). Out: bytes into any writer; the archive copy's sha256 is checked while
//! it is read. Fails with the writer's or the reader's I/O error.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};

use crate::export::sink::VerifyReport;
use crate::timefmt::asctime_utc;

use crate::export::error::ExportError;
use crate::export::sink::{Check, Dest, FileOpts, Filing, Mailbox, Sink, SinkInfo};
use crate::manifest::ManifestMessage;

/// File name of the mbox inside a bundle.
pub const MBOX_NAME: &str = "mail.mbox";

/// File name of the Junk mbox inside a bundle (spam, `--spam-action junk`).
pub const JUNK_MBOX_NAME: &str = "junk.mbox";

/// The `mbox` format.
pub struct Mbox;

fn io_err(e: ExportError) -> io::Error {
    match e {
        ExportError::Write { path, error } => {
            io::Error::new(error.kind(), format!("{}: {error}", path.display()))
        }
        e => io::Error::other(e.to_string()),
    }
}

/// What the `mbox` format is: one file per bundle (its Junk, `junk.mbox`, is a file
/// too, so it needs no directories).
pub static INFO: SinkInfo = SinkInfo {
    name: "mbox",
    aliases: &[],
    location: MBOX_NAME,
    dirs: &[],
    junk_dirs: &[],
    readme: "mail.mbox   - all messages in one mailbox file (oldest first).\n\
             \x20             Thunderbird: install the add-on \"ImportExportTools NG\", then\n\
             \x20             right-click a folder > ImportExportTools NG > Import mbox file.\n\
             \x20             Apple Mail: File > Import Mailboxes... > Files in mbox format.\n\n",
};

impl Sink for Mbox {
    fn info(&self) -> &'static SinkInfo {
        &INFO
    }
    fn mailbox(&self, b: &Mailbox, dest: &mut dyn Dest) -> Result<(), ExportError> {
        write_mbox(b, dest, MBOX_NAME, Filing::Inbox)?;
        if b.junk {
            write_mbox(b, dest, JUNK_MBOX_NAME, Filing::Junk)?;
        }
        Ok(())
    }
    fn reads_messages(&self) -> bool {
        true
    }
    fn verify(&self, c: &Check, rep: &mut VerifyReport) {
        check(c, rep)
    }
}

/// Writes the mbox `name` of the bundle's messages filed as `filing`, oldest first.
fn write_mbox(
    b: &Mailbox,
    dest: &mut dyn Dest,
    name: &str,
    filing: Filing,
) -> Result<(), ExportError> {
    dest.file(name, FileOpts::at(b.newest), &mut |w| {
        for i in 0..b.len {
            let item = b.get(i).map_err(io_err)?;
            if item.filing != filing {
                continue;
            }
            let s = &item.summary;
            let src = b.archive(s).map_err(io_err)?;
            write_message(w, &s.sender.0, s.arrival_unix, &item.prepend, src)?;
        }
        Ok(())
    })
}

/// `From <sender> <asctime>\n`, ASCII only: readers decode this line as ASCII (Python's
/// `mailbox` raises on anything else), so every byte of the sender outside printable
/// ASCII, and `%` itself, is written as `%XX` (`jörg@example.net` →
/// `j%C3%B6rg@example.net`); spaces and tabs become `-`. The exact sender is in each
/// message's `Return-Path:` header.
pub fn from_line(sender: &[u8], arrival_secs: i64) -> Vec<u8> {
    let mut l = b"From ".to_vec();
    if sender.is_empty() {
        l.extend_from_slice(b"MAILER-DAEMON");
    } else {
        for &c in sender {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => l.push(b'-'),
                b'%' | 0..=0x20 | 0x7f..=0xff => {
                    l.extend_from_slice(format!("%{c:02X}").as_bytes());
                }
                c => l.push(c),
            }
        }
    }
    l.push(b' ');
    l.extend_from_slice(asctime_utc(arrival_secs).as_bytes());
    l.push(b'\n');
    l
}

/// Whether a line needs one more `>`: it matches `^>*From `.
pub fn needs_quote(line: &[u8]) -> bool {
    let n = line.iter().take_while(|&&c| c == b'>').count();
    line[n..].starts_with(b"From ")
}

/// Writes `line` (with its LF, if any) quoted as needed.
fn put_line<W: Write + ?Sized>(w: &mut W, line: &[u8]) -> io::Result<()> {
    if needs_quote(line) {
        w.write_all(b">")?;
    }
    w.write_all(line)
}

/// Writes one message: separator, delivery headers, the message quoted, an empty line.
pub fn write_message<W: Write + ?Sized, R: BufRead>(
    w: &mut W,
    sender: &[u8],
    arrival_secs: i64,
    prepend: &[u8],
    mut message: R,
) -> io::Result<()> {
    w.write_all(&from_line(sender, arrival_secs))?;
    for line in prepend.split_inclusive(|&c| c == b'\n') {
        put_line(w, line)?;
    }
    let mut line = Vec::with_capacity(256);
    let mut last_nl = true;
    loop {
        line.clear();
        let n = message.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        last_nl = line.ends_with(b"\n");
        put_line(w, &line)?;
    }
    if !last_nl {
        w.write_all(b"\n")?;
    }
    w.write_all(b"\n")
}

/// Reads an mbox (mboxrd) back into its messages, independently of the writer.
pub fn read_mboxrd(data: impl BufRead) -> io::Result<Vec<Vec<u8>>> {
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut lines = data.split(b'\n');
    let mut pending: Option<Vec<u8>> = None;
    loop {
        let line = match pending.take() {
            Some(l) => Some(l),
            None => lines.next().transpose()?,
        };
        let Some(line) = line else { break };
        if line.starts_with(b"From ") {
            if let Some(c) = cur.take() {
                msgs.push(without_separator(c));
            }
            cur = Some(Vec::new());
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        let n = line.iter().take_while(|&&b| b == b'>').count();
        if n > 0 && line[n..].starts_with(b"From ") {
            c.extend_from_slice(&line[1..]);
        } else {
            c.extend_from_slice(&line);
        }
        c.push(b'\n');
    }
    if let Some(c) = cur.take() {
        msgs.push(without_separator(c));
    }
    Ok(msgs)
}

/// A message read up to the next `From ` line (or the end of the file), without the
/// empty line the mbox format puts after each message (BufRead's `split` gives no
/// empty piece after the file's last LF, so the end is no different).
fn without_separator(mut c: Vec<u8>) -> Vec<u8> {
    if c.ends_with(b"\n\n") {
        c.pop();
    }
    c
}

/// `verify`: `mail.mbox` holds exactly the bundle's inbox, `junk.mbox` (when there is
/// one, or Junk messages) exactly its Junk.
fn check(c: &Check, rep: &mut VerifyReport) {
    check_one(c, c.location, c.messages, rep);
    let junk = match c.location.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{JUNK_MBOX_NAME}"),
        None => JUNK_MBOX_NAME.to_string(),
    };
    if !c.junk.is_empty() || c.out.join(&junk).exists() {
        check_one(c, &junk, c.junk, rep);
    }
}

/// `verify`: the mbox `rel` holds exactly `messages`, each equal to the delivery
/// headers plus the archive copy.
fn check_one(c: &Check, rel: &str, messages: &[&ManifestMessage], rep: &mut VerifyReport) {
    let f = match File::open(c.out.join(rel)) {
        Ok(f) => f,
        Err(e) => return rep.bad(rel, format!("cannot open mbox: {e}")),
    };
    let got = match read_mboxrd(BufReader::new(f)) {
        Ok(g) => g,
        Err(e) => return rep.bad(rel, format!("cannot read mbox: {e}")),
    };
    if got.len() != messages.len() {
        return rep.bad(
            rel,
            format!(
                "holds {} message(s), the manifest lists {}",
                got.len(),
                messages.len()
            ),
        );
    }
    for (i, (g, msg)) in got.iter().zip(messages).enumerate() {
        match c.expected_copy(msg) {
            Ok(want) if &want == g => {}
            Ok(_) => rep.bad(
                rel,
                format!(
                    "message {} ({}) differs from its archive copy",
                    i + 1,
                    msg.info.queue_id
                ),
            ),
            Err(e) => rep.bad(
                rel,
                format!("cannot read the archive copy of {}: {e}", msg.info.queue_id),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_reader() {
        let data = b"From a Thu Jan  1 00:00:00 1970\nH: 1\n\n>From x\n>>From y\n\nFrom b Thu Jan  1 00:00:00 1970\nH: 2\n\nbody\n\n";
        let m = read_mboxrd(&data[..]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], b"H: 1\n\nFrom x\n>From y\n");
        assert_eq!(m[1], b"H: 2\n\nbody\n");
    }

    /// Messages that end in an empty line, first and last in the file, read back as
    /// written (the last one lost its empty line: `verify` reported it as differing).
    #[test]
    fn messages_ending_in_an_empty_line_round_trip() {
        let msgs: [&[u8]; 3] = [b"A: 1\n\nend\n\n", b"B: 2\n\nbody\n", b"C: 3\n\nlast\n\n\n"];
        let mut out = Vec::new();
        for m in msgs {
            write_message(&mut out, b"s@x", 0, b"", m).unwrap();
        }
        let back = read_mboxrd(&out[..]).unwrap();
        assert_eq!(back, msgs.map(<[u8]>::to_vec));
    }

    #[test]
    fn separator_and_quoting() {
        assert_eq!(
            from_line(b"a b\tc@x", 820631134),
            b"From a-b-c@x Wed Jan  3 01:05:34 1996\n"
        );
        assert_eq!(
            from_line(b"", 820631134),
            b"From MAILER-DAEMON Wed Jan  3 01:05:34 1996\n"
        );
        assert_eq!(
            from_line("jörg%x\x01@exämple.net".as_bytes(), 820631134),
            b"From j%C3%B6rg%25x%01@ex%C3%A4mple.net Wed Jan  3 01:05:34 1996\n"
        );
        assert!(from_line(b"\xff\xfe@x", 0).is_ascii());
        let mut out = Vec::new();
        let msg = b"Subject: x\n\nFrom here\n>From there\n>>From x\nFromage\n From\n";
        write_message(&mut out, b"s@x", 0, b"Return-Path: <s@x>\n", &msg[..]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From s@x Thu Jan  1 00:00:00 1970\nReturn-Path: <s@x>\nSubject: x\n\n>From here\n>>From there\n>>>From x\nFromage\n From\n\n"
        );
    }
}
