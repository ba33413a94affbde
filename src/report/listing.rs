//! The queue as Postfix's own listing tools show it: `postqueue -j` JSON lines and the
//! `mailq` / `postqueue -p` text listing (`showq/showq.c`, `postqueue/showq_json.c`,
//! `postqueue/showq_compat.c`), so scripts written for those work on a copied spool
//! without Postfix.
//!
//! Owns: what showq reports per message — the queue name and ID, the arrival time, the
//! size (the size record's content size; the file size for maildrop files or a
//! malformed size record), forced expiry, the sender (`MAILER-DAEMON` for the null
//! sender) and the recipients: first those of the defer log, each with its reason, then
//! the pending recipient records not already listed — with showq's quoting
//! (`quote_822_local`, then non-printable characters as `?`), and the two renderings.
//! In: a [`QueuedMessage`] and a recipient filter. Out: [`Listed`], text. Pure.

use crate::queue::logs::quote_822;
use crate::queue::{QueuedMessage, RcptState};
use crate::timefmt::asctime_local;

/// One recipient as showq lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRcpt {
    pub address: String,
    /// The defer log's reason (`delay_reason`); empty when there is none.
    pub reason: String,
}

/// One message as showq lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub queue_name: String,
    pub queue_id: String,
    pub arrival_time: i64,
    pub message_size: i64,
    pub forced_expire: bool,
    pub sender: String,
    pub recipients: Vec<ListedRcpt>,
}

/// Postfix's `printable()` with UTF-8 enabled: valid UTF-8 and printable ASCII stay,
/// every other byte (control characters, malformed sequences) becomes `?`.
pub fn printable(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_printable(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_printable(&mut out, std::str::from_utf8(good).unwrap_or(""));
                out.push('?');
                rest = &bad[1..];
            }
        }
    }
    out
}

fn push_printable(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| {
        if c.is_ascii() && !(' '..='~').contains(&c) {
            '?'
        } else {
            c
        }
    }));
}

/// An envelope address as showq shows it.
fn shown(addr: &[u8]) -> String {
    printable(quote_822(addr).as_bytes())
}

impl Listed {
    /// What showq reports for this message; only recipients for which `keep` holds
    /// (the `--recipient`/`--domain` selection) are listed.
    pub fn from_queued(l: &QueuedMessage, keep: impl Fn(&[u8]) -> bool) -> Listed {
        let arrival = l.arrival_secs;
        let message_size = match l.content_size {
            Some(s) if !l.unprocessed && s >= 0 => s,
            _ => l.entry.size as i64,
        };
        // A maildrop file as it is on disk (before our cleanup qualified it), as showq.
        let raw_sender = l.submitted_sender.as_deref().unwrap_or(&l.sender);
        let sender = if raw_sender.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            shown(raw_sender)
        };
        let mut recipients: Vec<ListedRcpt> = Vec::new();
        let mut from_log: Vec<String> = Vec::new();
        for e in &l.defer_log {
            let Some(a) = &e.recipient else { continue };
            let a = printable(a.as_bytes());
            if !keep(a.as_bytes()) {
                continue;
            }
            from_log.push(a.clone());
            recipients.push(ListedRcpt {
                address: a,
                reason: printable(e.reason.as_deref().unwrap_or("").as_bytes()),
            });
        }
        for r in &l.recipients {
            if r.state != RcptState::Pending || !keep(&r.address) {
                continue;
            }
            let raw = match (&r.original, l.unprocessed) {
                (Some(o), true) => o.as_slice(),
                _ => r.address.as_slice(),
            };
            let a = if raw.is_empty() {
                "MAILER-DAEMON".to_string()
            } else {
                shown(raw)
            };
            if !from_log.contains(&a) {
                recipients.push(ListedRcpt {
                    address: a,
                    reason: String::new(),
                });
            }
        }
        Listed {
            queue_name: l.entry.queue.clone(),
            queue_id: l.entry.export_id().to_string(),
            arrival_time: if arrival > 0 { arrival } else { l.entry.mtime },
            message_size,
            forced_expire: l.forced_expire,
            sender,
            recipients,
        }
    }

    /// One `postqueue -j` line (with its newline), byte for byte in Postfix's layout.
    pub fn json_line(&self) -> String {
        let mut o = format!(
            "{{\"queue_name\": \"{}\", \"queue_id\": \"{}\", \"arrival_time\": {}, \"message_size\": {}, \"forced_expire\": {}, \"sender\": \"{}\", \"recipients\": [",
            json(&self.queue_name),
            json(&self.queue_id),
            self.arrival_time,
            self.message_size,
            self.forced_expire,
            json(&self.sender)
        );
        for (i, r) in self.recipients.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            o.push_str(&format!("{{\"address\": \"{}\"", json(&r.address)));
            if !r.reason.is_empty() {
                o.push_str(&format!(", \"delay_reason\": \"{}\"", json(&r.reason)));
            }
            o.push('}');
        }
        o.push_str("]}\n");
        o
    }

    /// This message's part of the `mailq` listing (no blank line before it).
    pub fn mailq(&self, long_ids: bool) -> String {
        let mut id = self.queue_id.clone();
        match self.queue_name.as_str() {
            "active" => id.push('*'),
            "hold" => id.push('!'),
            _ => {}
        }
        if self.forced_expire {
            id.push('#');
        }
        let date = asctime_local(self.arrival_time);
        let mut o = if long_ids {
            format!(
                "{id:<17} {:>8} {:.19} {}\n",
                self.message_size, date, self.sender
            )
        } else {
            format!(
                "{id:<11} {:>7} {:<20.20} {}\n",
                self.message_size,
                format!("{date} "),
                self.sender
            )
        };
        let indent = if long_ids { 47 } else { 41 };
        let mut last = String::new();
        for r in &self.recipients {
            if r.reason != last {
                last = r.reason.clone();
                let shown = if last.is_empty() {
                    "reason unavailable"
                } else {
                    last.as_str()
                };
                let pad = 76usize.saturating_sub(shown.len());
                o.push_str(&format!("{:pad$}({shown})\n", ""));
            }
            o.push_str(&format!("{:indent$}{}\n", "", r.address));
        }
        o
    }
}

/// JSON string content as `quote_for_json` writes it (the text is already printable).
fn json(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// The `mailq` heading.
pub fn mailq_heading(long_ids: bool) -> &'static str {
    if long_ids {
        "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
    } else {
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    }
}

/// The `mailq` summary line after `count` messages of `bytes` (sum of message sizes).
pub fn mailq_footer(count: u64, bytes: u64) -> String {
    if count == 0 {
        "Mail queue is empty\n".into()
    } else {
        format!(
            "\n-- {} Kbytes in {} Request{}.\n",
            bytes / 1024,
            count,
            if count == 1 { "" } else { "s" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_like_postfix() {
        assert_eq!(printable(b"a\x01b"), "a?b");
        assert_eq!(printable("jörg".as_bytes()), "jörg");
        assert_eq!(printable(b"x\xffy"), "x?y");
        assert_eq!(json("a\"b\\c"), "a\\\"b\\\\c");
    }

    #[test]
    fn mailq_layout() {
        let l = Listed {
            queue_name: "hold".into(),
            queue_id: "18CC09B42D3".into(),
            arrival_time: 1796150333,
            message_size: 445,
            forced_expire: false,
            sender: "alice@sender.example.net".into(),
            recipients: vec![ListedRcpt {
                address: "user-b@example.jp".into(),
                reason: "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused".into(),
            }],
        };
        // asctime_local honours TZ, which the caller sets: only the layout around the
        // date is checked here (the integration tests compare whole listings).
        let text = l.mailq(false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("18CC09B42D3!     445 "), "{text}");
        assert!(lines[0].ends_with("  alice@sender.example.net"), "{text}");
        assert_eq!(
            lines[1],
            "                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)"
        );
        assert_eq!(lines[2], format!("{:41}user-b@example.jp", ""));
    }
}
