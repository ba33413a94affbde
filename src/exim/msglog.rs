//! An Exim message log (`msglog/ID`, `msglog/<subdir>/ID` on a split spool): the reason
//! each recipient's last delivery attempt deferred, for scan's defer reasons.
//!
//! Owns: reading the lines `DATE TIME address R=router T=transport defer (errno): reason`
//! (also `... <parent> R=…` for a child address). In: the log's bytes. Out: one
//! [`LogEntry`] per address, the last attempt's. Fails: never (a line it cannot read is
//! not a defer line; the log is optional — Exim's `message_logs` can be off).

use std::collections::BTreeMap;

use crate::queue::logs::LogEntry;

/// The last deferral per recipient address, in address order.
pub fn defers(log: &[u8]) -> Vec<LogEntry> {
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for raw in log.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        // "YYYY-MM-DD HH:MM:SS " then the address.
        let Some(rest) = line.get(20..) else { continue };
        let Some((addr, tail)) = rest.split_once(' ') else {
            continue;
        };
        let Some(at) = tail.find(" defer (") else {
            continue;
        };
        let after = &tail[at + " defer (".len()..];
        let reason = after.split_once("): ").map_or(after, |(_, r)| r);
        let printable: String = reason
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        last.insert(addr.to_string(), printable);
    }
    last.into_iter()
        .map(|(addr, reason)| LogEntry {
            recipient: Some(addr),
            original_recipient: None,
            offset: None,
            status: None,
            action: Some("delayed".into()),
            reason: Some(reason),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_defer_per_address() {
        let log = b"2026-12-07 14:52:33 Received from s@x H=(x) [127.0.0.1] P=esmtp S=287\n\
2026-12-07 14:52:36 H=127.0.0.1 [127.0.0.1] Connection refused\n\
2026-12-07 14:52:36 alice@example.org R=dead T=dead_smtp defer (111): Connection refused\n\
2026-12-07 15:52:36 alice@example.org R=dead T=dead_smtp defer (-53): retry time not reached\n";
        let d = super::defers(log);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].recipient.as_deref(), Some("alice@example.org"));
        assert_eq!(d[0].reason.as_deref(), Some("retry time not reached"));
    }
}
