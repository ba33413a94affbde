//! mboxrd writer (RFC 4155, qmail mbox(5)).
//!
//! Owns: the `From ` separator line (envelope sender or `MAILER-DAEMON`, asctime UTC of
//! the arrival), `>*From ` quoting of every line, LF line ends and the empty line after
//! each message. In: per message the delivery headers and a reader over the archive
//! copy (streamed line by line, never held whole). Out: bytes into any writer; the
//! archive copy's sha256 is checked while it is read. Fails with the writer's or the
//! reader's I/O error.

use std::io::{self, BufRead, Write};

use sha2::{Digest, Sha256};

use crate::timefmt::asctime_utc;

/// `From <sender> <asctime>\n`.
pub fn from_line(sender: &[u8], arrival_secs: i64) -> Vec<u8> {
    let mut l = b"From ".to_vec();
    if sender.is_empty() {
        l.extend_from_slice(b"MAILER-DAEMON");
    } else {
        l.extend(sender.iter().map(|&c| match c {
            b' ' | b'\t' | b'\r' | b'\n' => b'-',
            c => c,
        }));
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
fn put_line<W: Write>(w: &mut W, line: &[u8]) -> io::Result<()> {
    if needs_quote(line) {
        w.write_all(b">")?;
    }
    w.write_all(line)
}

/// Writes one message: separator, delivery headers, the message quoted, an empty line.
/// Returns the sha256 (hex) of the bytes read from `message`.
pub fn write_message<W: Write, R: BufRead>(
    w: &mut W,
    sender: &[u8],
    arrival_secs: i64,
    prepend: &[u8],
    mut message: R,
) -> io::Result<String> {
    w.write_all(&from_line(sender, arrival_secs))?;
    for line in prepend.split_inclusive(|&c| c == b'\n') {
        put_line(w, line)?;
    }
    let mut h = Sha256::new();
    let mut line = Vec::with_capacity(256);
    let mut last_nl = true;
    loop {
        line.clear();
        let n = message.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        h.update(&line);
        last_nl = line.ends_with(b"\n");
        put_line(w, &line)?;
    }
    if !last_nl {
        w.write_all(b"\n")?;
    }
    w.write_all(b"\n")?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut out = Vec::new();
        let msg = b"Subject: x\n\nFrom here\n>From there\n>>From x\nFromage\n From\n";
        write_message(&mut out, b"s@x", 0, b"Return-Path: <s@x>\n", &msg[..]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From s@x Thu Jan  1 00:00:00 1970\nReturn-Path: <s@x>\nSubject: x\n\n>From here\n>>From there\n>>>From x\nFromage\n From\n\n"
        );
    }
}
