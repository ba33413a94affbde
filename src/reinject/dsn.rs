//! Delivery status notifications (RFC 3464) for pairs that end `failed`, the way
//! Postfix's bounce service reports them (src/bounce/bounce_notify_util.c and
//! bounce_notify_service.c in the Postfix source were read for the format; the code
//! and the wording are our own).
//!
//! Owns: who is owed a DSN ([`owed`]: the sender unless NOTIFY excludes FAILURE; for
//! mail with the null sender the postmaster, whatever NOTIFY says — never a DSN to the
//! null sender, which would loop), and building one DSN message ([`build`]): a
//! `multipart/report; report-type=delivery-status` with a human-readable
//! `text/plain` part, a `message/delivery-status` part (`message/global-delivery-status`
//! for SMTPUTF8 mail) and the original message (`message/rfc822`) or its header only
//! (`text/rfc822-headers`; `message/global` and `message/global-headers` for SMTPUTF8)
//! when the notice says so (the backscatter policy's default: unless RET=FULL) or it
//! is larger than [`RETURN_LIMIT`]; and the policy's rules ([`content_refusal`],
//! [`verdict_hold`]: which refusals and messages get no DSN to the sender). The parts are written with
//! mail-builder, each with its transfer encoding set here (7bit or 8bit), so nothing
//! is base64- or quoted-printable-encoded.
//! Pure: in the facts of a [`Notice`], out the message bytes (CRLF, ready for an .eml
//! file; [`from_crlf`] gives the LF form that the DATA stream sends).

use std::borrow::Cow;

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use sha2::{Digest, Sha256};

use super::journal::PairKey;
use crate::bytes::Bytes;

/// Above this size only the original's header is returned (Postfix's
/// `bounce_size_limit` default).
pub const RETURN_LIMIT: usize = 50_000;

/// Who is told that a pair failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owed {
    /// The original sender.
    Sender(Bytes),
    /// The postmaster: the message has the null sender (a bounce itself).
    Postmaster,
    /// Nobody: the sender asked not to be told (NOTIFY=NEVER, or a NOTIFY list
    /// without FAILURE). The reason is in the string.
    Nobody(String),
}

/// Who is owed a DSN for a failed pair of a message from `sender` whose recipient had
/// `notify` (`NEVER` or a comma list; `None`: not given, which means FAILURE and
/// DELAY by RFC 3461 4.1).
pub fn owed(sender: &[u8], notify: Option<&str>) -> Owed {
    if sender.is_empty() {
        return Owed::Postmaster;
    }
    match notify {
        Some(n) if n.eq_ignore_ascii_case("NEVER") => Owed::Nobody("NOTIFY=NEVER".into()),
        Some(n)
            if !n
                .split(',')
                .any(|w| w.trim().eq_ignore_ascii_case("FAILURE")) =>
        {
            Owed::Nobody(format!("NOTIFY={n} (no FAILURE)"))
        }
        _ => Owed::Sender(Bytes(sender.to_vec())),
    }
}

/// One failed pair a DSN reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub key: PairKey,
    /// The original recipient (`O` record), when it differs from the recipient.
    pub original: Option<Vec<u8>>,
    /// The server's reply code, when a server refused it.
    pub code: Option<u16>,
    /// The reply (`550 5.1.1 <x>: ...`), or the reason when the refusal was made
    /// here (`5.6.7 SMTPUTF8 is required ...`).
    pub reply: String,
    /// The command the server refused (`RCPT TO`, `MAIL FROM`, `DATA`, the end of
    /// data), when known.
    pub step: Option<String>,
    /// The refusal was made on this side (the server was not asked).
    pub local: bool,
    /// The host that refused it (the target's name).
    pub remote: String,
    /// When (RFC 3339).
    pub time: String,
}

/// Everything one DSN says: one message, the pairs of it that failed, who is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub queue_id: String,
    pub sha256: String,
    /// The sender, or the postmaster.
    pub to: Owed,
    /// The address the DSN is sent to.
    pub to_addr: Vec<u8>,
    /// The original envelope sender (empty: null sender).
    pub sender: Vec<u8>,
    pub envelope_id: Option<Vec<u8>>,
    /// Return the original's header only (unless RET=FULL or `--dsn-return full`).
    pub ret_hdrs: bool,
    /// The original requested SMTPUTF8: the report is `global`.
    pub smtputf8: bool,
    pub arrival_unix: i64,
    /// With angle brackets.
    pub original_message_id: Option<String>,
    pub failures: Vec<Failure>,
    /// The DSN's own Message-ID (with angle brackets): the same for the same
    /// failures of the same message, so a resent DSN can be recognised.
    pub message_id: String,
}

impl Notice {
    /// The Message-ID for these failures of this message.
    pub fn make_message_id(queue_id: &str, sha256: &str, keys: &[&PairKey], host: &str) -> String {
        let mut h = Sha256::new();
        h.update(queue_id.as_bytes());
        h.update([0]);
        h.update(sha256.as_bytes());
        for k in keys {
            h.update([0]);
            h.update(&k.recipient.0);
            h.update([1]);
            h.update(k.orcpt.as_ref().map_or(&b""[..], |o| &o.0));
            h.update([2]);
            h.update(k.notify.as_deref().unwrap_or("").as_bytes());
        }
        let d = hex::encode(&h.finalize()[..8]);
        format!("<{queue_id}.{d}.dsn@{host}>")
    }
}

/// RFC 5322 date.
fn mail_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// `rfc822` or `utf-8` as the address type of a (possibly UTF-8) address.
fn addr_type(a: &[u8], global: bool) -> &'static str {
    if global && !a.is_ascii() && std::str::from_utf8(a).is_ok() {
        "utf-8"
    } else {
        "rfc822"
    }
}

/// Text for a header or a report line: UTF-8 kept, other bytes replaced, controls
/// (CR, LF, tabs included) shown as spaces so no line can be broken into.
fn clean(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Folds `first` + `text` at spaces to lines of at most 78 characters; continuation
/// lines start with `indent`. A word longer than a line is cut at 900 bytes.
fn fold(first: &str, text: &str, indent: &str, out: &mut String) {
    let mut line = first.to_string();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word.to_string();
        while word.len() > 900 {
            let mut cut = 900;
            while !word.is_char_boundary(cut) {
                cut -= 1;
            }
            let rest = word.split_off(cut);
            if line.trim().is_empty() || line == first {
                line.push_str(&word);
            } else {
                out.push_str(&line);
                out.push_str("\r\n");
                line = format!("{indent}{word}");
            }
            out.push_str(&line);
            out.push_str("\r\n");
            line = indent.to_string();
            word = rest;
        }
        let at_start = line.len() == first.len() || line == indent;
        if !at_start && line.chars().count() + 1 + word.chars().count() > 78 {
            out.push_str(&line);
            out.push_str("\r\n");
            line = format!("{indent}{word}");
        } else {
            if !at_start {
                line.push(' ');
            }
            line.push_str(&word);
        }
    }
    out.push_str(&line);
    out.push_str("\r\n");
}

/// The enhanced status code of a reply (`5.1.1`), else one made from its code.
pub fn status_code(code: Option<u16>, reply: &str) -> String {
    enhanced_code(code, reply)
        .unwrap_or_else(|| format!("{}.0.0", code.map(|c| c / 100).unwrap_or(5)))
}

/// The enhanced status code a reply carries (RFC 3463: after the reply code, of the
/// same class), if any.
pub fn enhanced_code(code: Option<u16>, reply: &str) -> Option<String> {
    let class = code.map(|c| c / 100).unwrap_or(5);
    let words: Vec<&str> = reply.split_whitespace().take(2).collect();
    for w in words {
        let parts: Vec<&str> = w.split('.').collect();
        if parts.len() == 3
            && parts[0] == class.to_string()
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Some(w.to_string());
        }
    }
    None
}

/// Words that mark a refusal of the content or the sender in a reply that has no
/// enhanced status code (matched case-insensitively anywhere in the reply).
pub const POLICY_WORDS: [&str; 7] = [
    "spam",
    "policy",
    "blocked",
    "blacklist",
    "blocklist",
    "virus",
    "malware",
];

/// Why a refusal gets no DSN to the sender (backscatter policy, docs/reinject.md
/// "Backscatter"): the primary refused the content or the sender, not the address —
/// an enhanced status `5.7.x`, or, without an enhanced code, a reply that says one of
/// [`POLICY_WORDS`]. `None`: the refusal is about the address; a DSN is due.
pub fn content_refusal(code: Option<u16>, reply: &str) -> Option<String> {
    match enhanced_code(code, reply) {
        Some(s) if s.starts_with("5.7.") => Some(format!(
            "the primary refused the content or the sender ({s})"
        )),
        Some(_) => None,
        None => {
            let l = reply.to_ascii_lowercase();
            POLICY_WORDS.iter().find(|w| l.contains(*w)).map(|w| {
                format!("the primary refused the content or the sender (its reply says \"{w}\")")
            })
        }
    }
}

/// Why a message gets no DSN because of its triage verdict (the manifest's
/// `messages[].verdict`: `spam` or `malware`, any case); `None` for other verdicts
/// or none.
pub fn verdict_hold(verdict: Option<&str>) -> Option<String> {
    let v = verdict?.trim();
    ["spam", "malware"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
        .then(|| {
            format!(
                "the message is marked {} by its triage verdict",
                v.to_ascii_lowercase()
            )
        })
}

/// The header section of a message (up to and without the empty line).
fn header_section(msg: &[u8]) -> &[u8] {
    let mut at = 0;
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        at += line.len();
    }
    &msg[..at]
}

/// LF → CRLF (a CR before an LF stays, and gets its own CRLF: [`from_crlf`] undoes it
/// exactly).
pub fn to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40);
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// CRLF → LF.
pub fn from_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A built DSN.
#[derive(Debug, Clone)]
pub struct Built {
    /// The message, CRLF line ends.
    pub crlf: Vec<u8>,
    /// It has 8-bit bytes (send with BODY=8BITMIME).
    pub eight_bit: bool,
    /// It needs SMTPUTF8 (a UTF-8 address in its envelope).
    pub smtputf8: bool,
}

/// Builds the DSN of `n`. `original` is the archive copy (LF), `host` the reporting
/// MTA (the secondary's `myhostname`), `now` the time (Unix seconds).
pub fn build(n: &Notice, host: &str, original: &[u8], now: i64) -> Built {
    let global = n.smtputf8;
    let postmaster = n.to == Owed::Postmaster;
    let headers_only = n.ret_hdrs || original.len() > RETURN_LIMIT;
    let text = human_text(n, host, postmaster, headers_only);
    let ds = delivery_status(n, host, global);
    let returned: &[u8] = if headers_only {
        header_section(original)
    } else {
        original
    };
    let report = report_body(n, host, text, ds, to_crlf(returned), global, headers_only);
    let to = clean(&n.to_addr);
    let mut b = MessageBuilder::new()
        .header(
            "From",
            Raw::new(format!("Mail Delivery System <MAILER-DAEMON@{host}>")),
        )
        .header("To", Raw::new(format!("<{to}>")))
        .header(
            "Subject",
            Raw::new(if postmaster {
                "Postmaster Copy: Undelivered Mail"
            } else {
                "Undelivered Mail Returned to Sender"
            }),
        )
        .header("Date", Raw::new(mail_date(now)))
        .header("Message-ID", Raw::new(n.message_id.clone()));
    if let Some(id) = &n.original_message_id {
        b = b
            .header("In-Reply-To", Raw::new(id.clone()))
            .header("References", Raw::new(id.clone()));
    }
    b = b
        .header(
            "Auto-Submitted",
            Raw::new(if postmaster {
                "auto-generated"
            } else {
                "auto-replied"
            }),
        )
        .header("MIME-Version", Raw::new("1.0"))
        .body(report);
    let mut crlf = Vec::new();
    b.serialize(&mut crlf);
    let mut preamble = Vec::new();
    // mail-builder writes no preamble; the blank line after the header is its own
    preamble.extend_from_slice(&crlf);
    Built {
        eight_bit: !preamble.is_ascii(),
        smtputf8: !n.to_addr.is_ascii(),
        crlf: preamble,
    }
}

/// The human-readable part: the story, what is attached, one folded line per failure.
fn human_text(n: &Notice, host: &str, postmaster: bool, headers_only: bool) -> String {
    let mut text = String::new();
    text.push_str(&format!("This is the mail system at host {host}.\r\n\r\n"));
    let story = if postmaster {
        "A message with the null sender (a delivery report itself) could not be \
         delivered to one or more recipients. This backup mail server (a secondary MX) \
         had accepted it while their main mail server was down; when it passed the \
         message on, the main server refused it for good. No report is ever sent about \
         a report, so this one goes to the postmaster."
    } else {
        "Your message could not be delivered to one or more recipients. This backup \
         mail server (a secondary MX) had accepted it while their main mail server was \
         down; when it passed the message on, the main server refused it for good."
    };
    fold("", story, "", &mut text);
    text.push_str("\r\n");
    fold(
        "",
        match (postmaster, headers_only) {
            (false, true) => "The header of your message is attached below.",
            (false, false) => "Your message is attached below.",
            (true, true) => "The header of the message is attached below.",
            (true, false) => "The message is attached below.",
        },
        "",
        &mut text,
    );
    text.push_str("\r\n");
    fold(
        "",
        "For help, write to the postmaster of this mail system and include this \
         report. You can delete your own text from the attached message.",
        "",
        &mut text,
    );
    text.push_str("\r\n                   The mail system\r\n");
    for f in &n.failures {
        text.push_str("\r\n");
        fold("", &failure_line(f), "    ", &mut text);
    }
    text
}

/// The human-readable line of one failure: the recipient and what the server said.
fn failure_line(f: &Failure) -> String {
    let rcpt = clean(&f.key.recipient.0);
    let mut what = match &f.original {
        Some(o) => format!("<{rcpt}> (expanded from <{}>):", clean(o)),
        None => format!("<{rcpt}>:"),
    };
    if f.local {
        what.push_str(&format!(
            " {} (host {})",
            clean(f.reply.as_bytes()),
            f.remote
        ));
    } else {
        what.push_str(&format!(
            " host {} said: {}",
            f.remote,
            clean(f.reply.as_bytes())
        ));
        if let Some(step) = &f.step {
            what.push_str(&format!(" (in reply to {step})"));
        }
    }
    what
}

/// The machine-readable part: the per-message fields, then one block per failure.
fn delivery_status(n: &Notice, host: &str, global: bool) -> String {
    let sender = clean(&n.sender);
    let mut ds = String::new();
    ds.push_str(&format!("Reporting-MTA: dns; {host}\r\n"));
    if let Some(id) = n.envelope_id.as_deref().filter(|i| !i.is_empty()) {
        ds.push_str(&format!("Original-Envelope-Id: {}\r\n", clean(id)));
    }
    ds.push_str(&format!("X-mxsalvage-Queue-ID: {}\r\n", n.queue_id));
    if !n.sender.is_empty() {
        ds.push_str(&format!(
            "X-mxsalvage-Sender: {}; {sender}\r\n",
            addr_type(&n.sender, global)
        ));
    }
    ds.push_str(&format!("Arrival-Date: {}\r\n", mail_date(n.arrival_unix)));
    for f in &n.failures {
        let rcpt = &f.key.recipient.0;
        ds.push_str("\r\n");
        ds.push_str(&format!(
            "Final-Recipient: {}; {}\r\n",
            addr_type(rcpt, global),
            clean(rcpt)
        ));
        if let Some(o) = f.key.orcpt.as_ref().filter(|o| o.0.contains(&b';')) {
            ds.push_str(&format!("Original-Recipient: {}\r\n", clean(&o.0)));
        }
        ds.push_str("Action: failed\r\n");
        ds.push_str(&format!("Status: {}\r\n", status_code(f.code, &f.reply)));
        ds.push_str(&format!("Remote-MTA: dns; {}\r\n", f.remote));
        let diag = if f.local {
            format!("X-mxsalvage; {}", clean(f.reply.as_bytes()))
        } else {
            format!("smtp; {}", clean(f.reply.as_bytes()))
        };
        fold("Diagnostic-Code: ", &diag, "    ", &mut ds);
        if let Some(t) = crate::timefmt::parse_time(&f.time) {
            ds.push_str(&format!("Last-Attempt-Date: {}\r\n", mail_date(t)));
        }
    }
    ds
}

/// A boundary the returned content (CRLF) cannot contain.
fn boundary(n: &Notice, host: &str, returned: &[u8]) -> String {
    let mut boundary = format!(
        "{}.{}/{host}",
        n.queue_id,
        n.message_id
            .trim_matches(['<', '>'])
            .split('.')
            .nth(1)
            .unwrap_or("dsn")
    );
    while returned
        .windows(boundary.len())
        .any(|w| w == boundary.as_bytes())
    {
        boundary.push('=');
    }
    boundary
}

/// The `multipart/report` of the three parts, each with its transfer encoding.
fn report_body(
    n: &Notice,
    host: &str,
    text: String,
    ds: String,
    returned: Vec<u8>,
    global: bool,
    headers_only: bool,
) -> MimePart<'static> {
    let orig_eight = !returned.is_ascii();
    let text_eight = !text.is_ascii();
    let ds_eight = !ds.is_ascii();
    let cte = |eight: bool| if eight { "8bit" } else { "7bit" };
    let (report_type, orig_type) = match (global, headers_only) {
        (true, true) => ("message/global-delivery-status", "message/global-headers"),
        (true, false) => ("message/global-delivery-status", "message/global"),
        (false, true) => ("message/delivery-status", "text/rfc822-headers"),
        (false, false) => ("message/delivery-status", "message/rfc822"),
    };
    let boundary = boundary(n, host, &returned);
    let charset = if text_eight { "utf-8" } else { "us-ascii" };
    let text_part = MimePart::new(
        ContentType::new("text/plain").attribute("charset", charset),
        BodyPart::Text(Cow::Owned(text)),
    )
    .header("Content-Description", Raw::new("Notification"))
    .transfer_encoding(cte(text_eight));
    let ds_part = MimePart::new(
        ContentType::new(report_type),
        BodyPart::Binary(Cow::Owned(ds.into_bytes())),
    )
    .header("Content-Description", Raw::new("Delivery report"))
    .transfer_encoding(cte(ds_eight));
    let orig_part = MimePart::new(
        ContentType::new(orig_type),
        BodyPart::Binary(Cow::Owned(returned)),
    )
    .header(
        "Content-Description",
        Raw::new(if headers_only {
            "Undelivered Message Headers"
        } else {
            "Undelivered Message"
        }),
    )
    .transfer_encoding(cte(orig_eight));
    let any_eight = orig_eight || text_eight || ds_eight;
    let mut report = MimePart::new(
        ContentType::new("multipart/report")
            .attribute("report-type", "delivery-status")
            .attribute("boundary", boundary),
        BodyPart::Multipart(vec![text_part, ds_part, orig_part]),
    );
    if any_eight {
        report = report.header("Content-Transfer-Encoding", Raw::new("8bit"));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_owed() {
        assert_eq!(owed(b"a@x", None), Owed::Sender(Bytes(b"a@x".to_vec())));
        assert_eq!(
            owed(b"a@x", Some("SUCCESS,FAILURE")),
            Owed::Sender(Bytes(b"a@x".to_vec()))
        );
        assert!(matches!(owed(b"a@x", Some("NEVER")), Owed::Nobody(_)));
        assert!(matches!(owed(b"a@x", Some("DELAY")), Owed::Nobody(_)));
        assert_eq!(owed(b"", Some("NEVER")), Owed::Postmaster);
        assert_eq!(owed(b"", None), Owed::Postmaster);
    }

    #[test]
    fn crlf_round_trip() {
        for s in [&b"a\nb\r\nc\rd\n"[..], b"", b"\r\r\n\n"] {
            assert_eq!(from_crlf(&to_crlf(s)), s);
        }
    }

    #[test]
    fn backscatter_policy() {
        let held = |c, r| content_refusal(Some(c), r).is_some();
        assert!(held(550, "550 5.7.1 spam"));
        assert!(held(
            554,
            "554 5.7.1 <x@y>: Sender address rejected: Access denied"
        ));
        assert!(held(550, "550 5.7.1 Error: content rejected"));
        assert!(!held(
            550,
            "550 5.1.1 <x@y>: Recipient address rejected: User unknown"
        ));
        // an enhanced code decides alone: 5.1.1 mentioning "policy" is about the address
        assert!(!held(550, "550 5.1.1 unknown user (see our policy)"));
        assert!(held(550, "550 Message blocked: SPAM score too high"));
        assert!(held(554, "554 rejected by local policy"));
        assert!(held(550, "550 Your IP is Blacklisted"));
        assert!(held(552, "552 virus found"));
        assert!(!held(550, "550 no such user here"));
        assert!(content_refusal(None, "5.6.7 SMTPUTF8 is required").is_none());
        assert!(verdict_hold(Some("Spam")).is_some());
        assert!(verdict_hold(Some("malware")).is_some());
        assert!(verdict_hold(Some("ham")).is_none());
        assert!(verdict_hold(None).is_none());
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code(Some(550), "550 5.1.1 <x>: no"), "5.1.1");
        assert_eq!(status_code(Some(554), "554 no such user"), "5.0.0");
        assert_eq!(status_code(Some(550), "550 4.1.1 wrong class"), "5.0.0");
        assert_eq!(status_code(None, "5.6.7 SMTPUTF8 is required"), "5.6.7");
    }

    fn notice(ret_hdrs: bool, global: bool) -> Notice {
        let key = PairKey {
            queue_id: "ABC123".into(),
            sha256: "00".into(),
            recipient: Bytes(b"bob@example.com".to_vec()),
            orcpt: Some(Bytes(b"rfc822;bob+x@example.com".to_vec())),
            notify: None,
        };
        Notice {
            queue_id: "ABC123".into(),
            sha256: "00".into(),
            to: Owed::Sender(Bytes(b"alice@example.org".to_vec())),
            to_addr: b"alice@example.org".to_vec(),
            sender: b"alice@example.org".to_vec(),
            envelope_id: Some(b"env+id=1".to_vec()),
            ret_hdrs,
            smtputf8: global,
            arrival_unix: 1_795_804_680,
            original_message_id: Some("<m1@example.org>".into()),
            failures: vec![Failure {
                key,
                original: None,
                code: Some(550),
                reply: "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table".into(),
                step: Some("RCPT TO".into()),
                local: false,
                remote: "mx1.example.com".into(),
                time: "2026-11-27T18:47:01.416Z".into(),
            }],
            message_id: "<ABC123.0011223344556677.dsn@backup-mx.example.com>".into(),
        }
    }

    #[test]
    fn the_parts_are_not_encoded() {
        let orig = "From: a@x\nSubject: Grüße\nMessage-ID: <m1@example.org>\n\nBody äöü\n.\n";
        let b = build(
            &notice(false, false),
            "backup-mx.example.com",
            orig.as_bytes(),
            0,
        );
        let text = String::from_utf8(b.crlf.clone()).unwrap();
        assert!(
            text.contains("Content-Type: message/delivery-status\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Type: message/rfc822\r\n"), "{text}");
        assert!(!text.contains("base64"), "{text}");
        assert!(!text.contains("quoted-printable"), "{text}");
        // the original, byte for byte (in CRLF form)
        assert!(
            text.contains(
                "Subject: Grüße\r\nMessage-ID: <m1@example.org>\r\n\r\nBody äöü\r\n.\r\n"
            )
        );
        assert!(text.contains("Content-Transfer-Encoding: 8bit"));
        assert!(b.eight_bit);
        for want in [
            "From: Mail Delivery System <MAILER-DAEMON@backup-mx.example.com>\r\n",
            "To: <alice@example.org>\r\n",
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "In-Reply-To: <m1@example.org>\r\n",
            "References: <m1@example.org>\r\n",
            "multipart/report; report-type=\"delivery-status\";",
            "Reporting-MTA: dns; backup-mx.example.com\r\n",
            "Original-Envelope-Id: env+id=1\r\n",
            "Final-Recipient: rfc822; bob@example.com\r\n",
            "Original-Recipient: rfc822;bob+x@example.com\r\n",
            "Action: failed\r\n",
            "Status: 5.1.1\r\n",
            "Remote-MTA: dns; mx1.example.com\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address\r\n    rejected: User unknown in virtual mailbox table\r\n",
            "Last-Attempt-Date: Fri, 27 Nov 2026 18:47:01 +0000\r\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // mail-parser reads it as a report with three parts
        let m = mail_parser::MessageParser::default()
            .parse(&b.crlf)
            .unwrap();
        assert_eq!(m.parts.len(), 4, "{:?}", m.parts.len());
        // headers only on request
        let h = build(&notice(true, false), "h", orig.as_bytes(), 0);
        let t = String::from_utf8(h.crlf).unwrap();
        assert!(t.contains("Content-Type: text/rfc822-headers\r\n"));
        assert!(!t.contains("Body äöü"));
        let g = build(&notice(true, true), "h", orig.as_bytes(), 0);
        let t = String::from_utf8(g.crlf).unwrap();
        assert!(t.contains("Content-Type: message/global-delivery-status\r\n"));
        assert!(t.contains("Content-Type: message/global-headers\r\n"));
    }
}
