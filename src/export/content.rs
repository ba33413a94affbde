//! The content key of a queued message: what tells two MXs' copies of one message
//! apart from two messages (several spools, [`super::dedupe`]).
//!
//! Owns: [`Content`] — SHA-256 over the envelope sender, the header fields below what
//! the receiving MX added, and the body — and the Message-ID beside it. "What the MX
//! added" is the top of the header up to and including its last `Received:` field whose
//! `by` host is the first `Received:` field's (the MX's own): its trace lines
//! (`Return-Path`, `Delivered-To`, `X-Original-To`, anything it prepended) and its
//! `Received:` lines, which name the MX, its queue ID, the time and the recipient. The
//! sender's own `Received:` line (its MTA's queue ID and time) and every header below it
//! stay in the key, so two copies match only when the sender sent the same bytes. In:
//! the sender and the message bytes. Out: the key. Fails never (a message without a
//! header is all body).

use sha2::{Digest, Sha256};

/// What a message is, for telling copies apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// SHA-256 of the sender, the headers below the receiving MX's, and the body.
    pub key: [u8; 32],
    /// The Message-ID field's value, trimmed; `None` when there is none.
    pub message_id: Option<Vec<u8>>,
}

/// The header fields of `msg` (each with its continuation lines, line ends kept) and
/// the offset where the body starts (after the empty line; the end when there is none).
fn fields(msg: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    let mut body = msg.len();
    while pos < msg.len() {
        let end = msg[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len(), |i| pos + i + 1);
        let line = &msg[pos..end];
        if line == b"\n" || line == b"\r\n" {
            body = end;
            break;
        }
        match spans.last_mut() {
            Some(last) if matches!(line.first(), Some(b' ' | b'\t')) => last.1 = end,
            _ => spans.push((pos, end)),
        }
        pos = end;
    }
    (spans.iter().map(|&(a, b)| &msg[a..b]).collect(), body)
}

/// The field's name, lower-cased, and its value (after the colon).
fn split_field(f: &[u8]) -> (Vec<u8>, &[u8]) {
    match f.iter().position(|&b| b == b':') {
        Some(i) => (f[..i].trim_ascii().to_ascii_lowercase(), &f[i + 1..]),
        None => (Vec::new(), f),
    }
}

/// The host after `by` in a `Received:` value, lower-cased.
fn by_host(value: &[u8]) -> Option<Vec<u8>> {
    let words: Vec<&[u8]> = value.split(|b| b.is_ascii_whitespace()).collect();
    let i = words.iter().position(|w| w.eq_ignore_ascii_case(b"by"))?;
    words[i + 1..]
        .iter()
        .find(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
}

/// How many header fields at the top the receiving MX added (see the module comment).
fn mx_part(fields: &[&[u8]]) -> usize {
    let received = |f: &[u8]| {
        let (name, value) = split_field(f);
        (name == b"received").then(|| by_host(value))
    };
    let Some(mx) = fields.iter().find_map(|f| received(f)) else {
        return 0;
    };
    let mut cut = 0;
    for (i, f) in fields.iter().enumerate() {
        match received(f) {
            Some(host) if host == mx => cut = i + 1,
            Some(_) => break,
            None => {}
        }
    }
    cut
}

impl Content {
    /// The content key of a message with envelope sender `sender` and bytes `msg`.
    pub fn of(sender: &[u8], msg: &[u8]) -> Content {
        let (fields, body) = fields(msg);
        let cut = mx_part(&fields);
        let mut h = Sha256::new();
        h.update((sender.len() as u64).to_be_bytes());
        h.update(sender);
        for f in &fields[cut..] {
            h.update(f);
        }
        h.update(b"\n");
        h.update(&msg[body..]);
        let message_id = fields.iter().find_map(|f| {
            let (name, value) = split_field(f);
            (name == b"message-id").then(|| value.trim_ascii().to_vec())
        });
        Content {
            key: h.finalize().into(),
            message_id: message_id.filter(|m| !m.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENDER: &[u8] = b"Received: from client.example (client.example [192.0.2.1])\n\tby sender.example (Postfix) with ESMTPSA id 4S1\n\tfor <a@example.jp>; Mon, 1 Jan 2024 00:00:00 +0000\nFrom: a@example.com\nMessage-ID: <1@example.com>\nSubject: hi\n\nbody\n";

    fn at(mx: &str, rcpt: &str) -> Vec<u8> {
        let mut m = format!(
            "Return-Path: <a@example.com>\nX-Original-To: {rcpt}\nReceived: from sender.example (sender.example [192.0.2.2])\n\tby {mx} (Postfix) with ESMTP id 9{mx}\n\tfor <{rcpt}>; Mon, 1 Jan 2024 00:00:05 +0000\n"
        )
        .into_bytes();
        m.extend_from_slice(SENDER);
        m
    }

    #[test]
    fn the_mx_part_is_left_out() {
        let a = Content::of(b"a@example.com", &at("mx1.example.jp", "x@example.jp"));
        let b = Content::of(b"a@example.com", &at("mx2.example.jp", "y@example.jp"));
        assert_eq!(a, b);
        assert_eq!(a.message_id.as_deref(), Some(&b"<1@example.com>"[..]));
        // Another sender, another body: another key.
        let c = Content::of(b"b@example.com", &at("mx1.example.jp", "x@example.jp"));
        assert_ne!(a.key, c.key);
        let mut d = at("mx1.example.jp", "x@example.jp");
        d.extend_from_slice(b"more\n");
        assert_ne!(a.key, Content::of(b"a@example.com", &d).key);
    }

    #[test]
    fn the_senders_received_line_counts() {
        let a = at("mx1.example.jp", "x@example.jp");
        let b = String::from_utf8(a.clone())
            .unwrap()
            .replace("id 4S1", "id 4S2")
            .into_bytes();
        assert_ne!(Content::of(b"", &a).key, Content::of(b"", &b).key);
    }

    #[test]
    fn folded_fields_are_one_field() {
        let (f, body) = fields(b"A: 1\n 2\nB: 3\n\nx");
        assert_eq!(f, vec![&b"A: 1\n 2\n"[..], &b"B: 3\n"[..]]);
        assert_eq!(body, 14);
    }
}
