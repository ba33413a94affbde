//! The message object shared by `scan --json` and the export manifest.
//!
//! Owns: [`MessageInfo`] / [`RecipientInfo`], built from a [`QueuedMessage`] (the queue
//! reader's boundary, which carries the expiry estimate). Pure; serialisable both ways so
//! `reinject` and `verify` can read manifests back into the same types.

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::queue::{QueuedMessage, QueuedRecipient, RcptState};
use crate::timefmt::rfc3339;

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientInfo {
    pub address: Bytes,
    /// The original recipient (`O` record); `None` when absent or empty.
    pub original: Option<Bytes>,
    pub status: RcptState,
    /// DSN NOTIFY as in SMTP: `NEVER` or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
    pub notify: Option<String>,
    /// DSN ORCPT, `type;address`, decoded.
    pub orcpt: Option<Bytes>,
    pub defer_reason: Option<String>,
    #[serde(default)]
    pub defer_status: Option<String>,
    #[serde(default)]
    pub bounce_reason: Option<String>,
    /// Offset of the recipient record in the queue file (its identity).
    pub offset: usize,
}

/// One queued message, as `scan --json` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInfo {
    /// Its queue ID; when several spools are read and another one holds the same queue
    /// ID, qualified as `ID+N` (N: the spool's position among the `--queue-dir`s).
    pub queue_id: String,
    /// The queue directory it is in (absolute), when several were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<String>,
    /// Its queue ID in that spool, when `queue_id` is qualified (what deletes it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool_queue_id: Option<String>,
    pub queue: String,
    /// Path relative to the queue directory.
    pub path: String,
    pub arrival_time: String,
    pub arrival_unix: i64,
    pub create_time: String,
    /// When Postfix will bounce it; `None` while on hold (held mail does not expire).
    pub expires_at: Option<String>,
    pub expires_unix: Option<i64>,
    /// Next delivery attempt (the file's mtime) for deferred mail.
    pub next_attempt: Option<String>,
    pub held: bool,
    pub forced_expire: bool,
    pub sender: Bytes,
    #[serde(default)]
    pub full_name: Option<Bytes>,
    /// Size as `postqueue -j` reports it (the size record's content size, else file size).
    pub size: u64,
    pub recipients: Vec<RecipientInfo>,
    pub encoding: Option<String>,
    pub smtputf8_requested: bool,
    pub smtputf8_required: bool,
    pub envelope_id: Option<Bytes>,
    /// DSN RET: `FULL` or `HDRS`.
    pub ret: Option<String>,
    /// Address-verification probe (not real mail).
    pub probe: bool,
    pub content_filter: Option<Bytes>,
    pub redirect_to: Option<Bytes>,
    pub verp: Option<Bytes>,
    pub warnings: Vec<String>,
}

/// DSN NOTIFY mask → SMTP keyword list.
pub fn notify_words(mask: u32) -> String {
    if mask & 1 != 0 {
        return "NEVER".into();
    }
    let mut w = Vec::new();
    for (bit, name) in [(2, "SUCCESS"), (4, "FAILURE"), (8, "DELAY")] {
        if mask & bit != 0 {
            w.push(name);
        }
    }
    w.join(",")
}

impl MessageInfo {
    /// Builds the object from the reader's view of one message.
    pub fn from_queued(m: &QueuedMessage) -> MessageInfo {
        let held = m.entry.queue == "hold";
        let mut warnings = m.warnings.clone();
        if m.entry.misplaced {
            warnings.push(format!("{} is not in the hash directory Postfix expects (Postfix will not see it until postsuper fixes it)", m.entry.rel));
        }
        if m.probe {
            warnings.push("address-verification probe (not real mail)".into());
        }
        if let Some(cf) = &m.content_filter {
            warnings.push(format!(
                "content filter set: {}",
                String::from_utf8_lossy(cf)
            ));
        }
        if let Some(r) = &m.redirect_to {
            warnings.push(format!("redirected to {}", String::from_utf8_lossy(r)));
        }
        let size = match m.content_size {
            Some(s) if s > 0 => s as u64,
            _ => m.entry.size,
        };
        let pending = |r: &QueuedRecipient| r.state == RcptState::Pending;
        let recipients = m
            .recipients
            .iter()
            .map(|r| RecipientInfo {
                address: Bytes(r.address.clone()),
                original: r.original.clone().filter(|o| !o.is_empty()).map(Bytes),
                status: r.state,
                notify: r.notify.map(notify_words),
                orcpt: r.orcpt.clone().map(Bytes),
                defer_reason: r
                    .defer
                    .as_ref()
                    .filter(|_| pending(r))
                    .and_then(|e| e.reason.clone()),
                defer_status: r
                    .defer
                    .as_ref()
                    .filter(|_| pending(r))
                    .and_then(|e| e.status.clone()),
                bounce_reason: r.bounce.as_ref().and_then(|e| e.reason.clone()),
                offset: r.offset,
            })
            .collect();
        MessageInfo {
            queue_id: m.entry.export_id().to_string(),
            spool: m.entry.origin.spool.as_deref().map(String::from),
            spool_queue_id: m
                .entry
                .origin
                .qualified
                .as_ref()
                .map(|_| m.entry.id.clone()),
            queue: m.entry.queue.clone(),
            path: m.entry.rel.clone(),
            arrival_time: rfc3339(m.arrival_secs),
            arrival_unix: m.arrival_secs,
            create_time: rfc3339(m.clock_base),
            expires_at: m.expires.map(rfc3339),
            expires_unix: m.expires,
            next_attempt: (m.entry.queue == "deferred").then(|| rfc3339(m.entry.mtime)),
            held,
            forced_expire: m.forced_expire,
            sender: Bytes(m.sender.clone()),
            full_name: m.full_name.clone().map(Bytes),
            size,
            recipients,
            encoding: m
                .encoding
                .as_ref()
                .map(|e| String::from_utf8_lossy(e).into_owned()),
            smtputf8_requested: m.smtputf8_requested,
            smtputf8_required: m.smtputf8_required,
            envelope_id: m.envelope_id.clone().map(Bytes),
            ret: m.ret.map(String::from),
            probe: m.probe,
            content_filter: m.content_filter.clone().map(Bytes),
            redirect_to: m.redirect_to.clone().map(Bytes),
            verp: m.verp.clone().map(Bytes),
            warnings,
        }
    }

    /// Pending recipients.
    pub fn pending(&self) -> impl Iterator<Item = &RecipientInfo> {
        self.recipients
            .iter()
            .filter(|r| r.status == RcptState::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify() {
        assert_eq!(notify_words(1), "NEVER");
        assert_eq!(notify_words(2 | 4 | 8), "SUCCESS,FAILURE,DELAY");
        assert_eq!(notify_words(4), "FAILURE");
    }
}
