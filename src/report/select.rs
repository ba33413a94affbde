//! Which messages and recipients a run works on.
//!
//! Owns: recipient/domain matching (case-insensitive), queue lists, and the secondary's
//! plain-text recipient lists (`address whitespace anything`; `#` comments and blank
//! lines allowed). In: plain strings and files. Out: [`Selection`]. A missing list file
//! is an error naming it. And [`why_nothing`]: when a run selected nothing, whether that
//! is the true answer (an empty queue) or a mistake to stop on (a typo in `--recipient`,
//! nothing readable), with the nearest addresses the queue does have.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::queue::walk::{EXTRA_QUEUES, MESSAGE_QUEUES};
use crate::queue::{Depth, LoadErrorKind, QueueSource, RcptState};
use crate::report::model::MessageInfo;

/// Filters over recipients.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub recipients: HashSet<String>,
    pub domains: HashSet<String>,
    /// Known-valid recipients from the secondary's lists; `None` when no list was given.
    pub valid: Option<HashSet<String>>,
    pub only_valid: bool,
}

/// Lower-cases an address for comparison (bytes that are not UTF-8 are kept lossy).
pub fn fold(addr: &[u8]) -> String {
    String::from_utf8_lossy(addr).to_lowercase()
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// Reads a recipient list file.
pub fn read_list(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read recipient list {}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_lowercase)
        .collect())
}

impl Selection {
    pub fn new(
        recipients: &[String],
        domains: &[String],
        lists: &[PathBuf],
        only_valid: bool,
    ) -> Result<Selection, String> {
        let valid = if lists.is_empty() {
            None
        } else {
            let mut s = HashSet::new();
            for l in lists {
                s.extend(read_list(l)?);
            }
            Some(s)
        };
        if only_valid && valid.is_none() {
            return Err("--only-valid needs at least one --valid-recipients FILE".into());
        }
        Ok(Selection {
            recipients: recipients
                .iter()
                .map(|r| r.trim_matches(['<', '>']).to_lowercase())
                .collect(),
            domains: domains
                .iter()
                .map(|d| d.trim_start_matches('@').to_lowercase())
                .collect(),
            valid,
            only_valid,
        })
    }

    /// Whether the address is in the recipient lists (`None` when no list was given).
    pub fn is_valid(&self, addr: &[u8]) -> Option<bool> {
        let a = fold(addr);
        self.valid
            .as_ref()
            .map(|v| v.contains(&a) || v.contains(&format!("@{}", domain_of(&a))))
    }

    /// Whether the recipient is selected.
    pub fn matches(&self, addr: &[u8]) -> bool {
        let a = fold(addr);
        if !self.recipients.is_empty() || !self.domains.is_empty() {
            let by_rcpt = self.recipients.contains(&a);
            let by_domain = self.domains.contains(domain_of(&a));
            if !by_rcpt && !by_domain {
                return false;
            }
        }
        !(self.only_valid && self.is_valid(addr) == Some(false))
    }
}

impl Selection {
    /// Whether `--recipient`, `--domain` or `--only-valid` narrow the run.
    pub fn is_filtering(&self) -> bool {
        !self.recipients.is_empty() || !self.domains.is_empty() || self.only_valid
    }
}

/// What a run asked for, to explain an empty result.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub sel: &'a Selection,
    /// `--id` values.
    pub ids: &'a [String],
    /// `--since`/`--until` given.
    pub window: bool,
    /// Only pending recipients count (export without `--include-done`).
    pub pending_only: bool,
}

impl Asked<'_> {
    fn is_filtering(&self) -> bool {
        self.sel.is_filtering() || !self.ids.is_empty() || self.window
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Up to three of `candidates` nearest to `wanted` (edit distance, then name).
pub fn nearest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<(usize, &String)> = candidates.map(|c| (distance(wanted, c), c)).collect();
    v.sort();
    v.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

/// What `why_nothing` needs of the queue: one pass over its envelopes.
struct QueueSummary {
    readable: usize,
    /// One line per file that could not be read (the walk's problems first).
    failed: Vec<String>,
    /// Folded address → whether it is pending in some message.
    addresses: BTreeMap<String, bool>,
    ids: Vec<String>,
    /// The earliest and latest arrival of a readable message.
    first: i64,
    last: i64,
}

/// Reads the envelopes of the spool once more. Each file is reduced to what is needed
/// here while it is read (never the files themselves: this runs over the whole queue).
fn summarize(spool: &dyn QueueSource) -> QueueSummary {
    let walk = spool.walk();
    let loaded: Vec<_> = walk
        .entries
        .par_iter()
        .map(|e| {
            spool.load(e, Depth::EnvelopeOnly).map(|l| {
                let m = MessageInfo::from_queued(&l);
                let rcpts: Vec<(String, bool)> = m
                    .recipients
                    .iter()
                    .map(|x| (fold(&x.address.0), x.status == RcptState::Pending))
                    .collect();
                (m.queue_id, m.arrival_unix, rcpts)
            })
        })
        .collect();
    let mut s = QueueSummary {
        readable: 0,
        failed: walk
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.path.display(), p.reason))
            .collect(),
        addresses: BTreeMap::new(),
        ids: Vec::new(),
        first: i64::MAX,
        last: i64::MIN,
    };
    for r in loaded {
        match r {
            Ok((id, arrival, rcpts)) => {
                s.readable += 1;
                s.ids.push(id);
                s.first = s.first.min(arrival);
                s.last = s.last.max(arrival);
                for (a, pending) in rcpts {
                    *s.addresses.entry(a).or_default() |= pending;
                }
            }
            Err(e) if e.kind == LoadErrorKind::Vanished => {}
            Err(e) => s.failed.push(e.to_string()),
        }
    }
    s
}

/// Why an empty result must stop the run (exit 2, nothing written), or `None` when it is
/// the true answer (no filter, and the queue has nothing readable to fail on). Reads the
/// envelopes of the spool once more, only in this case.
pub fn why_nothing(spool: &dyn QueueSource, asked: &Asked) -> Option<String> {
    let s = summarize(spool);
    let root = spool.root().display();
    if s.readable == 0 && !s.failed.is_empty() {
        return Some(format!(
            "nothing could be read in {root}: {} queue file(s) failed, e.g. {} (`mxsalvage scan` lists every file and why)",
            s.failed.len(),
            s.failed[0]
        ));
    }
    if !asked.is_filtering() {
        return None;
    }
    let counted: Vec<String> = s
        .addresses
        .iter()
        .filter(|(_, p)| **p || !asked.pending_only)
        .map(|(a, _)| a.clone())
        .collect();
    let what = if asked.pending_only {
        "pending recipient"
    } else {
        "recipient"
    };
    let parts = hints(asked, &s, &counted, what);
    let mut msg = format!(
        "the selection matches nothing in {root} ({} readable message(s), {} {what}(s))",
        s.readable,
        counted.len()
    );
    if !parts.is_empty() {
        msg.push_str(": ");
        msg.push_str(&parts.join("; "));
    }
    if !s.failed.is_empty() {
        msg.push_str(&format!(
            "; {} queue file(s) could not be read (`mxsalvage scan` lists them)",
            s.failed.len()
        ));
    }
    Some(msg)
}

/// One hint per filter that matched nothing: the nearest recipients, domains or queue
/// IDs the queue has, the arrival window, the valid-recipients lists.
fn hints(asked: &Asked, s: &QueueSummary, counted: &[String], what: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rcpts: Vec<&String> = asked.sel.recipients.iter().collect();
    rcpts.sort();
    for r in rcpts {
        if asked.pending_only && s.addresses.get(r) == Some(&false) {
            parts.push(format!(
                "--recipient {r} has only mail already delivered or bounced (--include-done exports it)"
            ));
        } else {
            parts.push(format!(
                "--recipient {r} matches no {what} (nearest: {})",
                nearest(r, counted.iter()).join(", ")
            ));
        }
    }
    let mut domains: Vec<String> = counted.iter().map(|a| domain_of(a).to_string()).collect();
    domains.sort();
    domains.dedup();
    let mut asked_domains: Vec<&String> = asked.sel.domains.iter().collect();
    asked_domains.sort();
    for d in asked_domains {
        parts.push(format!(
            "--domain {d} matches no {what} (domains in the queue: {})",
            nearest(d, domains.iter()).join(", ")
        ));
    }
    for id in asked.ids {
        parts.push(format!(
            "--id {id} is not in the queue (nearest: {})",
            nearest(id, s.ids.iter()).join(", ")
        ));
    }
    if asked.window && s.readable > 0 {
        parts.push(format!(
            "the queue's mail arrived between {} and {}",
            crate::timefmt::rfc3339(s.first),
            crate::timefmt::rfc3339(s.last)
        ));
    }
    if asked.sel.only_valid {
        parts.push("--only-valid leaves out recipients not in the --valid-recipients lists".into());
    }
    parts
}

/// Validates `--queue` names; empty means the default message queues.
pub fn queues(requested: &[String]) -> Result<Vec<String>, String> {
    if requested.is_empty() {
        return Ok(MESSAGE_QUEUES.iter().map(|s| s.to_string()).collect());
    }
    let mut out = Vec::new();
    for q in requested {
        for q in q.split(',') {
            if !MESSAGE_QUEUES.contains(&q) && !EXTRA_QUEUES.contains(&q) {
                return Err(format!(
                    "unknown queue {q:?} (use maildrop, incoming, active, deferred, hold, corrupt or saved)"
                ));
            }
            if !out.iter().any(|o| o == q) {
                out.push(q.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let s = Selection::new(
            &["Bob@Example.com".into()],
            &["example.net".into()],
            &[],
            false,
        )
        .unwrap();
        assert!(s.matches(b"bob@example.com"));
        assert!(s.matches(b"x@EXAMPLE.NET"));
        assert!(!s.matches(b"alice@example.com"));
        assert!(Selection::default().matches(b"anyone"));
    }

    #[test]
    fn nearest_addresses() {
        let c: Vec<String> = ["bob@example.com", "rob@example.com", "alice@example.com"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            nearest("bob@exmaple.com", c.iter()),
            ["bob@example.com", "rob@example.com", "alice@example.com"]
        );
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
    }

    #[test]
    fn queue_names() {
        assert!(queues(&["deferred".into(), "hold".into()]).is_ok());
        assert!(queues(&["nope".into()]).is_err());
        assert_eq!(queues(&[]).unwrap().len(), 5);
    }
}
