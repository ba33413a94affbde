//! Defer and bounce logs (`defer/<id>`, `bounce/<id>`; `bounce/bounce_append_service.c`,
//! `global/bounce_log.c`).
//!
//! Owns: parsing a log file's text into entries (recipient, offset, status, reason) and
//! matching them to a queue file's recipients, by `offset=` first, else by address.
//! In: the log's bytes. Out: [`LogEntry`] list. Pure; unknown lines are skipped.

/// One entry of a defer or bounce log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    pub recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub offset: Option<usize>,
    pub status: Option<String>,
    pub action: Option<String>,
    pub reason: Option<String>,
}

fn printable(line: &[u8]) -> String {
    // Postfix makes log lines printable before parsing; we keep UTF-8 but replace
    // control bytes and invalid sequences.
    String::from_utf8_lossy(line)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Parses a log file. Entries are separated by empty lines.
pub fn parse_log(data: &[u8]) -> Vec<LogEntry> {
    let mut out = Vec::new();
    let mut cur: Option<LogEntry> = None;
    for raw in data.split(|&b| b == b'\n') {
        let line = printable(raw);
        if line.trim().is_empty() {
            if let Some(e) = cur.take() {
                out.push(e);
            }
            continue;
        }
        let e = cur.get_or_insert_with(LogEntry::default);
        if let Some(rest) = line.strip_prefix('<') {
            // Old-style line: <address>: reason
            if let Some((addr, reason)) = rest.split_once(">: ") {
                e.recipient.get_or_insert_with(|| addr.to_string());
                e.reason.get_or_insert_with(|| reason.to_string());
            }
            continue;
        }
        if !line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim() {
            "recipient" => e.recipient = Some(value),
            "original_recipient" => e.original_recipient = Some(value),
            "offset" => e.offset = value.parse().ok(),
            "status" => e.status = Some(value),
            "action" => e.action = Some(value),
            "reason" => e.reason = Some(value),
            _ => {}
        }
    }
    if let Some(e) = cur.take() {
        out.push(e);
    }
    out
}

/// Quotes an internal-form address the way Postfix writes it into logs
/// (`global/quote_822_local.c`, simplified): the local part is quoted when it holds
/// characters outside RFC 822 atoms or dots in odd places.
pub fn quote_822(addr: &[u8]) -> String {
    let s = String::from_utf8_lossy(addr);
    let (local, domain) = match s.rfind('@') {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (&s[..], None),
    };
    let special = |c: char| c.is_ascii_control() || " ()<>@,;:\\\".[]".contains(c);
    let needs = local.is_empty() && domain.is_some()
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.chars().any(|c| c != '.' && special(c));
    let mut out = String::new();
    if needs {
        out.push('"');
        for c in local.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(local);
    }
    if let Some(d) = domain {
        out.push_str(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_defer_log() {
        let log = b"\n<user@example.com>: connect to 127.0.0.1[127.0.0.1]:1: Connection refused\nrecipient=user@example.com\noffset=412\ndsn_orig_rcpt=rfc822;user@example.com\nnotify_flags=0\nstatus=4.4.1\naction=delayed\nreason=connect to 127.0.0.1[127.0.0.1]:1: Connection refused\n\n\nrecipient=b@example.com\noffset=500\nstatus=4.4.1\naction=delayed\nreason=x\n\n";
        let e = parse_log(log);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].offset, Some(412));
        assert_eq!(e[0].status.as_deref(), Some("4.4.1"));
        assert_eq!(
            e[0].reason.as_deref(),
            Some("connect to 127.0.0.1[127.0.0.1]:1: Connection refused")
        );
        assert_eq!(e[1].recipient.as_deref(), Some("b@example.com"));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            quote_822(b"john doe@example.com"),
            "\"john doe\"@example.com"
        );
        assert_eq!(quote_822(b"a.b@example.com"), "a.b@example.com");
        assert_eq!(
            quote_822(b"q\"uote@example.com"),
            "\"q\\\"uote\"@example.com"
        );
    }
}
