//! The `scan` report: what is stuck, for whom, why, and when it bounces.
//!
//! Owns: [`ScanReport`] (the JSON document) built from message objects and per-file
//! problems, the per-recipient / per-domain / per-queue summaries, and the readable text
//! rendering. In: [`MessageInfo`] list (already filtered), problems, context. Out: a
//! serialisable report or text. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::model::MessageInfo;
use crate::queue::RcptState;
use crate::select::fold;
use crate::timefmt::rfc3339;

/// A file that could not be used, or was left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub queue_id: Option<String>,
    pub reason: String,
}

/// Per-recipient summary (pending recipients only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSummary {
    pub address: Bytes,
    pub messages: usize,
    pub bytes: u64,
    pub oldest_arrival: String,
    pub earliest_expiry: Option<String>,
    pub queues: Vec<String>,
    /// In the --valid-recipients lists (`None` when no list was given).
    pub valid: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QueueTotal {
    pub messages: usize,
    pub pending_recipients: usize,
    pub bytes: u64,
}

/// Everything `scan --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub schema: u32,
    pub generated_at: String,
    pub queue_directory: String,
    pub postfix_running: Option<bool>,
    pub maximal_queue_lifetime: i64,
    pub bounce_queue_lifetime: i64,
    pub messages: Vec<MessageInfo>,
    pub recipients: Vec<RecipientSummary>,
    pub queues: BTreeMap<String, QueueTotal>,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
}

/// Builds the per-recipient summary from the messages.
pub fn summarize(
    messages: &[MessageInfo],
    valid: impl Fn(&[u8]) -> Option<bool>,
) -> Vec<RecipientSummary> {
    struct Acc {
        address: Vec<u8>,
        messages: usize,
        bytes: u64,
        oldest: i64,
        expiry: Option<i64>,
        queues: Vec<String>,
        last_msg: usize,
    }
    let mut map: BTreeMap<String, Acc> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        for r in m.pending() {
            let a = map.entry(fold(&r.address.0)).or_insert_with(|| Acc {
                address: r.address.0.clone(),
                messages: 0,
                bytes: 0,
                oldest: i64::MAX,
                expiry: None,
                queues: Vec::new(),
                last_msg: usize::MAX,
            });
            if a.last_msg == i {
                continue; // same mailbox twice in one message
            }
            a.last_msg = i;
            a.messages += 1;
            a.bytes += m.size;
            a.oldest = a.oldest.min(m.arrival_unix);
            if let Some(e) = m.expires_unix {
                a.expiry = Some(a.expiry.map_or(e, |x| x.min(e)));
            }
            if !a.queues.contains(&m.queue) {
                a.queues.push(m.queue.clone());
            }
        }
    }
    map.into_values()
        .map(|a| RecipientSummary {
            valid: valid(&a.address),
            address: Bytes(a.address),
            messages: a.messages,
            bytes: a.bytes,
            oldest_arrival: rfc3339(a.oldest),
            earliest_expiry: a.expiry.map(rfc3339),
            queues: a.queues,
        })
        .collect()
}

/// Totals per queue.
pub fn queue_totals(messages: &[MessageInfo]) -> BTreeMap<String, QueueTotal> {
    let mut t: BTreeMap<String, QueueTotal> = BTreeMap::new();
    for m in messages {
        let e = t.entry(m.queue.clone()).or_default();
        e.messages += 1;
        e.bytes += m.size;
        e.pending_recipients += m.pending().count();
    }
    t
}

fn human_bytes(b: u64) -> String {
    if b >= 10 * 1024 * 1024 {
        format!("{} MiB", b / (1024 * 1024))
    } else if b >= 10 * 1024 {
        format!("{} KiB", b / 1024)
    } else {
        format!("{b} B")
    }
}

fn human_dur(secs: i64) -> String {
    let s = secs.abs();
    let txt = if s >= 86400 {
        format!("{}d {}h", s / 86400, (s % 86400) / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m", s / 60)
    };
    if secs < 0 {
        format!("{txt} ago")
    } else {
        format!("in {txt}")
    }
}

fn dur_short(secs: i64) -> String {
    if secs % 86400 == 0 {
        format!("{}d", secs / 86400)
    } else if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else {
        format!("{secs}s")
    }
}

/// Renders the readable report.
pub fn render_text(r: &ScanReport, now: i64) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let running = match r.postfix_running {
        Some(true) => "RUNNING (the view may change while it is read)",
        Some(false) => "stopped",
        None => "unknown",
    };
    let _ = writeln!(
        o,
        "mxsalvage scan of {}  (Postfix {running})",
        r.queue_directory
    );
    let _ = writeln!(
        o,
        "Lifetimes: maximal_queue_lifetime {}, bounce_queue_lifetime {}",
        dur_short(r.maximal_queue_lifetime),
        dur_short(r.bounce_queue_lifetime)
    );
    let _ = writeln!(o, "\nQueues");
    let _ = writeln!(
        o,
        "  {:<10} {:>9} {:>11} {:>10}",
        "queue", "messages", "recipients", "size"
    );
    let mut tot = QueueTotal::default();
    for (q, t) in &r.queues {
        let _ = writeln!(
            o,
            "  {:<10} {:>9} {:>11} {:>10}",
            q,
            t.messages,
            t.pending_recipients,
            human_bytes(t.bytes)
        );
        tot.messages += t.messages;
        tot.pending_recipients += t.pending_recipients;
        tot.bytes += t.bytes;
    }
    let _ = writeln!(
        o,
        "  {:<10} {:>9} {:>11} {:>10}",
        "total",
        tot.messages,
        tot.pending_recipients,
        human_bytes(tot.bytes)
    );

    let _ = writeln!(o, "\nRecipients (pending)");
    let _ = writeln!(
        o,
        "  {:<40} {:>5} {:>10}  {:<20}  earliest bounce",
        "address", "msgs", "size", "oldest arrival"
    );
    for s in &r.recipients {
        let flag = if s.valid == Some(false) {
            "  (not in recipient lists)"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  {:<40} {:>5} {:>10}  {:<20}  {}{flag}",
            s.address.display(),
            s.messages,
            human_bytes(s.bytes),
            s.oldest_arrival,
            s.earliest_expiry.as_deref().unwrap_or("never (held)")
        );
    }

    let mut domains: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for s in &r.recipients {
        let a = s.address.display().to_lowercase();
        let d = a
            .rsplit_once('@')
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        let e = domains.entry(d).or_default();
        e.0 += s.messages;
        e.1 += s.bytes;
    }
    let _ = writeln!(o, "\nDomains");
    for (d, (n, b)) in &domains {
        let _ = writeln!(
            o,
            "  {:<40} {:>5} {:>10}",
            if d.is_empty() { "(no domain)" } else { d },
            n,
            human_bytes(*b)
        );
    }

    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for m in &r.messages {
        for rc in m.pending() {
            *reasons
                .entry(
                    rc.defer_reason
                        .clone()
                        .unwrap_or_else(|| "(no defer log entry)".into()),
                )
                .or_default() += 1;
        }
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let _ = writeln!(o, "\nDefer reasons (most common)");
    for (reason, n) in reasons.iter().take(10) {
        let _ = writeln!(o, "  {n:>5}  {reason}");
    }

    let soon: Vec<&MessageInfo> = r
        .messages
        .iter()
        .filter(|m| {
            m.expires_unix.is_some_and(|e| e <= now + 86400) && m.pending().next().is_some()
        })
        .collect();
    let mut soon = soon;
    soon.sort_by(|a, b| {
        a.expires_unix
            .cmp(&b.expires_unix)
            .then(a.queue_id.cmp(&b.queue_id))
    });
    let _ = writeln!(o, "\nBounce within 24 hours: {} message(s)", soon.len());
    for m in &soon {
        let e = m.expires_unix.unwrap_or(0);
        let _ = writeln!(
            o,
            "  {:<16} {:<9} expires {} ({})  from {}  to {}",
            m.queue_id,
            m.queue,
            m.expires_at.as_deref().unwrap_or("-"),
            human_dur(e - now),
            if m.sender.0.is_empty() {
                "<>".to_string()
            } else {
                m.sender.display()
            },
            m.pending()
                .map(|x| x.address.display())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !soon.is_empty() {
        let _ = writeln!(
            o,
            "  To stop the clock: `postsuper -h ALL deferred` (held mail never expires), export, and release later;\n  `postsuper -r ID` requeues with a fresh lifetime (new queue ID)."
        );
    }
    let held = r.messages.iter().filter(|m| m.held).count();
    if held > 0 {
        let _ = writeln!(
            o,
            "\nOn hold: {held} message(s) — they will not expire while held."
        );
    }
    let done: usize = r
        .messages
        .iter()
        .map(|m| {
            m.recipients
                .iter()
                .filter(|x| x.status == RcptState::Done)
                .count()
        })
        .sum();
    if done > 0 {
        let _ = writeln!(
            o,
            "\nAlready delivered or bounced recipients (not counted above): {done}"
        );
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(o, "\nSkipped ({})", r.skipped.len());
        for p in &r.skipped {
            let _ = writeln!(o, "  {}: {}", p.path, p.reason);
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(
            o,
            "\nProblems ({}) — these files were NOT read:",
            r.errors.len()
        );
        for p in &r.errors {
            let _ = writeln!(o, "  {}", p.reason);
        }
    }
    o
}
