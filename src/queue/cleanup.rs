//! What Postfix's cleanup would do to a maildrop file before anything is delivered.
//!
//! A message still in `maildrop/` was written by postdrop and never went through
//! pickup and cleanup. To export or re-inject what Postfix would deliver, do here what
//! cleanup does (`cleanup/cleanup_message.c`, `cleanup/cleanup_envelope.c`, Postfix
//! 3.7): qualify an unqualified envelope sender and recipients with `myorigin` (and
//! `user@host` with `.mydomain` when `append_dot_mydomain` is on), keeping each
//! recipient as submitted as its original recipient; add the missing `Message-Id:`
//! (`<queue-id@myhostname>`, or `<YYYYMMDDHHMMSS.queue-id@myhostname>` for a short ID),
//! `Date:` (the arrival time) and `From:` (the sender with its full name, in the
//! `header_from_format` in force) and `undisclosed_recipients_header` (when set) when no
//! To/Cc is there, after the last header, as `Resent-` headers when the message has resent
//! headers. `Bcc:` removal and the final newline are [`QueueFile::write_message`]'s.
//! Left alone, and said in the warning: addresses inside existing headers, canonical
//! and masquerading maps, and pickup's own `Received:` header.
//! In: a parsed maildrop [`QueueFile`] and the secondary's configuration. Out: the same
//! file with its envelope and `added_headers` set, and warnings. Pure.

use super::config::PostfixConfig;
use super::id::decode_long;
use super::qfile::{QueueFile, is_header};

/// What cleanup's trivial-rewrite does to an address in the local context: `user`
/// becomes `user@myorigin`; `user@host` becomes `user@host.mydomain` with
/// `append_dot_mydomain`; a trailing dot is dropped. `None` when nothing changes or
/// the needed parameter is unknown.
pub fn qualify(addr: &[u8], cfg: &PostfixConfig) -> Option<Vec<u8>> {
    if addr.is_empty() {
        return None;
    }
    let at = addr.iter().rposition(|&c| c == b'@');
    let mut out = match at {
        None => {
            let origin = cfg.cleanup.myorigin.as_deref()?;
            let mut v = addr.to_vec();
            v.push(b'@');
            v.extend_from_slice(origin.as_bytes());
            v
        }
        Some(i) => {
            let domain = &addr[i + 1..];
            if domain.is_empty() {
                return None;
            }
            let mut v = addr.to_vec();
            if cfg.cleanup.append_dot_mydomain
                && !domain.contains(&b'.')
                && !domain.starts_with(b"[")
                && let Some(d) = cfg.cleanup.mydomain.as_deref()
            {
                v.push(b'.');
                v.extend_from_slice(d.as_bytes());
            }
            v
        }
    };
    if out.ends_with(b".") && out.len() > 1 {
        out.pop();
    }
    (out != addr).then_some(out)
}

/// `quote_822_local`: the local part quoted when it needs it.
fn quote_local(addr: &[u8]) -> Vec<u8> {
    super::logs::quote_822(addr).into_bytes()
}

/// RFC 822 specials plus the legacy `%` and `!` operators (`LEX_822_SPECIALS`).
const PHRASE_SPECIALS: &[u8] = b"%!()<>@,;:\\\".[]";

/// The full name as cleanup 3.7 writes it into `From: name <addr>`: CR/LF made
/// spaces; without specials, its words joined by single spaces; with specials, one
/// quoted string.
fn phrase(name: &[u8]) -> Option<Vec<u8>> {
    let name: Vec<u8> = name
        .iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect();
    if name.iter().any(|c| PHRASE_SPECIALS.contains(c)) {
        let mut v = vec![b'"'];
        for &c in &name {
            if c == b'"' || c == b'\\' {
                v.push(b'\\');
            }
            v.push(c);
        }
        v.push(b'"');
        Some(v)
    } else {
        let words: Vec<&[u8]> = name
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        (!words.is_empty()).then(|| words.join(&b' '))
    }
}

/// The full name as a comment in `From: addr (name)`: unbalanced parentheses fixed.
fn comment(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < name.len() {
        let c = match name[i] {
            b'\r' | b'\n' => b' ',
            c => c,
        };
        match c {
            b'\\' if i + 1 < name.len() => {
                out.push(c);
                i += 1;
                out.push(name[i]);
                i += 1;
                continue;
            }
            b'\\' => {}
            b'(' => {
                depth += 1;
                out.push(c);
            }
            b')' if depth == 0 => {}
            b')' => {
                depth -= 1;
                out.push(c);
            }
            c => out.push(c),
        }
        i += 1;
    }
    out.extend(std::iter::repeat_n(b')', depth));
    (!out.iter().all(|c| c.is_ascii_whitespace())).then_some(out)
}

/// The header field names present in a message's header block (lower case).
fn header_names(q: &QueueFile) -> Vec<String> {
    let mut names = Vec::new();
    let mut line_start = true;
    for r in &q.content {
        let p = q.bytes(&r.payload);
        if line_start {
            if p.first().is_some_and(|c| *c == b' ' || *c == b'\t') {
                // continuation
            } else if is_header(p) {
                let name = p.split(|c| *c == b':').next().unwrap_or(b"").trim_ascii();
                names.push(String::from_utf8_lossy(name).to_ascii_lowercase());
            } else {
                break;
            }
        }
        line_start = !r.continued;
    }
    names
}

/// `mail_date()` of the arrival time, in UTC (the secondary's time zone is not known
/// to a copy; the instant is the same): `Fri, 27 Nov 2026 18:38:22 +0000 (UTC)`.
fn mail_date(secs: i64) -> String {
    use chrono::{TimeZone, Utc};
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format("%a, %e %b %Y %H:%M:%S +0000 (UTC)").to_string())
        .unwrap_or_else(|| "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)".into())
}

/// Does to a maildrop file what cleanup would before delivery (see the module doc).
/// `queue_id` is the maildrop file's name.
pub fn apply(q: &mut QueueFile, queue_id: &str, cfg: &PostfixConfig) {
    let mut done: Vec<String> = Vec::new();
    let unqualified = qualify_envelope(q, cfg, &mut done);
    let names = header_names(q);
    q.added_headers = missing_headers(q, queue_id, cfg, &names, &mut done);
    if names.iter().any(|x| x == "bcc" || x == "resent-bcc") {
        done.push("Bcc: removed".into());
    }
    q.warnings.push(warning(&done, unqualified));
}

/// Qualifies the envelope sender and recipients (each recipient keeping its submitted
/// address as original), noting what changed in `done`; true when an address stays
/// unqualified for want of `myorigin`.
fn qualify_envelope(q: &mut QueueFile, cfg: &PostfixConfig, done: &mut Vec<String>) -> bool {
    let raw_sender = q.sender().to_vec();
    if let Some(s) = qualify(&raw_sender, cfg) {
        done.push(format!(
            "sender {} qualified as {}",
            String::from_utf8_lossy(&raw_sender),
            String::from_utf8_lossy(&s)
        ));
        q.sender = Some(s);
        q.submitted_sender = Some(raw_sender.clone());
    }
    let mut unqualified =
        !raw_sender.is_empty() && !raw_sender.contains(&b'@') && cfg.cleanup.myorigin.is_none();
    for r in &mut q.recipients {
        if r.original.is_none() {
            r.original = Some(r.address.clone());
        }
        if let Some(a) = qualify(&r.address, cfg) {
            r.address = a;
        } else if !r.address.contains(&b'@') {
            unqualified = true;
        }
    }
    if q.recipients
        .iter()
        .any(|r| r.original.as_deref() != Some(&r.address[..]))
    {
        done.push("recipients qualified".into());
    }
    unqualified
}

/// The headers cleanup would add after the last one (`Resent-` ones when the message has
/// resent headers), given the header `names` present; what was added is noted in `done`.
fn missing_headers(
    q: &QueueFile,
    queue_id: &str,
    cfg: &PostfixConfig,
    names: &[String],
    done: &mut Vec<String>,
) -> Vec<u8> {
    let has = |n: &str| names.iter().any(|x| x == n);
    let resent = [
        "resent-bcc",
        "resent-cc",
        "resent-date",
        "resent-from",
        "resent-message-id",
        "resent-reply-to",
        "resent-sender",
        "resent-to",
    ]
    .iter()
    .any(|n| has(n));
    let prefix = if resent { "Resent-" } else { "" };
    let seen = |n: &str| has(&format!("{}{n}", prefix.to_ascii_lowercase()));
    let mut add: Vec<u8> = Vec::new();
    let mut added: Vec<&str> = Vec::new();
    if !seen("message-id") {
        if let Some(host) = &cfg.cleanup.myhostname {
            let id = message_id(q, queue_id, host);
            add.extend_from_slice(format!("{prefix}Message-Id: <{id}>\n").as_bytes());
            added.push("Message-Id");
        } else {
            done.push("no Message-Id: added (myhostname unknown)".into());
        }
    }
    if !seen("date") {
        add.extend_from_slice(
            format!("{prefix}Date: {}\n", mail_date(q.arrival_secs())).as_bytes(),
        );
        added.push("Date");
    }
    if !seen("from") {
        add.extend_from_slice(&from_line(q, cfg, prefix));
        added.push("From");
    }
    if !(has("to") || has("cc") || has("resent-to") || has("resent-cc"))
        && let Some(h) = &cfg.cleanup.undisclosed_recipients_header
        && is_header(h.as_bytes())
    {
        add.extend_from_slice(h.as_bytes());
        add.push(b'\n');
        added.push("undisclosed_recipients_header");
    }
    if !added.is_empty() {
        done.push(format!("{} added", added.join(", ")));
    }
    add
}

/// The `Message-Id:` value: `queue-id@host` for a long ID, else prefixed with the
/// arrival time's digits.
fn message_id(q: &QueueFile, queue_id: &str, host: &str) -> String {
    if decode_long(queue_id).is_some() {
        format!("{queue_id}@{host}")
    } else {
        format!(
            "{}.{queue_id}@{host}",
            crate::timefmt::rfc3339(q.arrival_secs())
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect::<String>()
        )
    }
}

/// The `From:` line (with its newline): the sender, with its full name in the
/// `header_from_format` in force.
fn from_line(q: &QueueFile, cfg: &PostfixConfig, prefix: &str) -> Vec<u8> {
    let sender = q.sender().to_vec();
    let addr = if sender.is_empty() {
        b"MAILER-DAEMON".to_vec()
    } else {
        quote_local(&sender)
    };
    let name = q
        .full_name
        .as_deref()
        .filter(|n| !n.is_empty() && !sender.is_empty());
    let mut line = format!("{prefix}From: ").into_bytes();
    match name {
        Some(n) if cfg.cleanup.header_from_standard => {
            if let Some(p) = phrase(n) {
                line.extend_from_slice(&p);
                line.push(b' ');
            }
            line.push(b'<');
            line.extend_from_slice(&addr);
            line.push(b'>');
        }
        Some(n) => {
            line.extend_from_slice(&addr);
            if let Some(c) = comment(n) {
                line.extend_from_slice(b" (");
                line.extend_from_slice(&c);
                line.push(b')');
            }
        }
        None => line.extend_from_slice(&addr),
    }
    line.push(b'\n');
    line
}

/// The one warning saying the file was still in maildrop/ and what was done to it.
fn warning(done: &[String], unqualified: bool) -> String {
    let mut w = format!(
        "still in maildrop/: not yet processed by Postfix's cleanup; done as cleanup would: {}",
        if done.is_empty() {
            "nothing to do".to_string()
        } else {
            done.join("; ")
        }
    );
    w.push_str(" (no Received: header added; addresses inside headers left as they are)");
    if unqualified {
        w.push_str(
            "; addresses left unqualified: myorigin unknown (give --config-dir with the secondary's main.cf)",
        );
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PostfixConfig {
        PostfixConfig::from_main_cf(
            "compatibility_level = 3.6\nmyhostname = backup-mx.example.com\nmydomain = example.com\n",
        )
        .unwrap()
    }

    #[test]
    fn qualifying() {
        let c = cfg();
        assert_eq!(
            qualify(b"nobody", &c).unwrap(),
            b"nobody@backup-mx.example.com"
        );
        assert_eq!(qualify(b"a@example.com", &c), None);
        assert_eq!(
            qualify(b"a@host", &c),
            None,
            "append_dot_mydomain off at level 3.6"
        );
        let old = PostfixConfig::from_main_cf("myhostname = mx.example.com\n").unwrap();
        assert_eq!(qualify(b"a@host", &old).unwrap(), b"a@host.example.com");
        assert_eq!(qualify(b"a@example.com.", &c).unwrap(), b"a@example.com");
        assert_eq!(qualify(b"", &c), None);
        assert_eq!(qualify(b"nobody", &PostfixConfig::default()), None);
    }

    #[test]
    fn full_names() {
        assert_eq!(phrase(b"Nobody  Sample").unwrap(), b"Nobody Sample");
        assert_eq!(phrase(b"Doe, John").unwrap(), b"\"Doe, John\"");
        assert_eq!(comment(b"a (b").unwrap(), b"a (b)");
        assert_eq!(
            mail_date(1795804702),
            "Fri, 27 Nov 2026 18:38:22 +0000 (UTC)"
        );
    }
}
