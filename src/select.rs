//! Which messages and recipients a run works on.
//!
//! Owns: recipient/domain matching (case-insensitive), queue lists, and the secondary's
//! plain-text recipient lists (`address whitespace anything`; `#` comments and blank
//! lines allowed). In: plain strings and files. Out: [`Selection`]. A missing list file
//! is an error naming it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::queue::walk::{EXTRA_QUEUES, MESSAGE_QUEUES};

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
    fn queue_names() {
        assert!(queues(&["deferred".into(), "hold".into()]).is_ok());
        assert!(queues(&["nope".into()]).is_err());
        assert_eq!(queues(&[]).unwrap().len(), 5);
    }
}
