//! postcat-compatible rendering of one queue file (`postcat/postcat.c`).
//!
//! Owns: the `-e` envelope listing with postcat's record names and date formats (local
//! time, as postcat), the header/body split heuristic of postcat for `-h`/`-b`, and the
//! one deliberate difference: a message whose content ends in an unterminated line gets
//! the final newline Postfix adds when delivering. With `-e`, a block after the end
//! marker lists each recipient's state. In: a parsed [`QueueFile`]. Out: bytes. Pure.

use crate::queue::qfile::{QueueFile, Section, is_header, parse_long, parse_time, split_nameval};
use crate::timefmt::asctime_local;

/// Which parts to print (postcat's -b, -h, -e; none means all).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatFlags {
    pub body: bool,
    pub header: bool,
    pub envelope: bool,
}

/// postcat's printable name of a record type (`global/rec_type.c`).
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
        b'R' => "recipient",
        b'O' => "original_recipient",
        b'/' => "canceled_recipient",
        b'W' => "warning_message_time",
        b'A' => "named_attribute",
        b'K' => "killed_record",
        b'>' => "redirect_to",
        b'f' => "flags",
        b'M' => "message_content",
        b'N' => "regular_text",
        b'w' => "padding",
        b'X' => "extracted_info",
        b'r' => "return_receipt",
        b'e' => "errors_to",
        b'P' => "priority",
        b'p' => "pointer_record",
        b'V' => "verp_delimiters",
        b'<' => "dsn_return_flags",
        b'i' => "dsn_envelope_id",
        b'o' => "dsn_original_recipient",
        b'n' => "dsn_notify_flags",
        b'E' => "message_end",
        _ => "unknown_record_type",
    }
}

fn marker(out: &mut Vec<u8>, text: &str, path: &str) {
    out.extend_from_slice(format!("*** {text} {path} ***\n").as_bytes());
}

fn line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn envelope_record(out: &mut Vec<u8>, t: u8, p: &[u8]) {
    match t {
        b'T' => line(
            out,
            rec_type_name(t),
            asctime_local(parse_time(p).map(|x| x.0).unwrap_or(0)).as_bytes(),
        ),
        b'W' => line(
            out,
            rec_type_name(t),
            asctime_local(parse_long(p).unwrap_or(0)).as_bytes(),
        ),
        b'A' => match split_nameval(p) {
            Some((b"create_time", v)) => line(
                out,
                "create_time",
                asctime_local(parse_long(v).unwrap_or(0)).as_bytes(),
            ),
            Some((n, v)) => {
                let mut nv = n.to_vec();
                nv.push(b'=');
                nv.extend_from_slice(v);
                line(out, rec_type_name(t), &nv);
            }
            None => {}
        },
        _ => line(out, rec_type_name(t), p),
    }
}

/// Renders a queue file the way `postcat` does with the given flags.
pub fn render(q: &QueueFile, path: &str, flags: CatFlags) -> Vec<u8> {
    let mut f = flags;
    if !f.body && !f.header && !f.envelope {
        f = CatFlags {
            body: true,
            header: true,
            envelope: true,
        };
    }
    let mut out = Vec::new();
    if f.envelope {
        marker(&mut out, "ENVELOPE RECORDS", path);
    }
    for r in &q.records {
        let p = q.bytes(&r.payload);
        match r.rtype {
            b'M' if r.section == Section::Envelope => {
                if f.envelope {
                    marker(&mut out, "MESSAGE CONTENTS", path);
                }
                if f.body || f.header {
                    render_text(q, f, &mut out);
                }
            }
            b'X' if f.envelope => marker(&mut out, "HEADER EXTRACTED", path),
            b'E' if f.envelope => marker(&mut out, "MESSAGE FILE END", path),
            t if f.envelope => envelope_record(&mut out, t, p),
            _ => {}
        }
    }
    if f.envelope && !q.recipients.is_empty() {
        marker(&mut out, "RECIPIENT STATES", path);
        for r in &q.recipients {
            let mut v = r.address.clone();
            v.extend_from_slice(format!(" (offset {})", r.offset).as_bytes());
            line(&mut out, r.state.as_str(), &v);
        }
    }
    out
}

fn render_text(q: &QueueFile, f: CatFlags, out: &mut Vec<u8>) {
    let mut in_header = true;
    let mut prev_continued = false;
    let mut printed_last = false;
    for r in &q.content {
        let p = q.bytes(&r.payload);
        if in_header
            && !prev_continued
            && !(is_header(p) || p.first().is_some_and(|c| *c == b' ' || *c == b'\t'))
        {
            in_header = false;
        }
        let print = if in_header { f.header } else { f.body };
        if print {
            out.extend_from_slice(p);
            if !r.continued {
                out.push(b'\n');
            }
        }
        printed_last = print;
        prev_continued = r.continued;
    }
    // Postfix adds the final newline when delivering a message that lacks one.
    if printed_last && prev_continued {
        out.push(b'\n');
    }
}
