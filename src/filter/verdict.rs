//! What the content filters said of one message, and where that files it.
//!
//! Owns: [`Verdict`] (recorded per message in the manifest as `messages[].verdict`, read
//! back by `--update`, `verify`, `dovecot` and `reinject`, never recomputed there), its
//! parts ([`SpamResult`], [`VirusResult`]), the administrator's choice for spam
//! ([`SpamAction`]) and the one rule that turns both into a place ([`Filing`]). A leaf:
//! plain data and pure functions, no I/O. The clients that produce verdicts live beside
//! it in `filter/`; the sinks only read [`Filing`]. Cannot fail.

use serde::{Deserialize, Serialize};

/// The decisive outcome, strongest first: malware > spam > unscanned > ham. This is
/// the manifest's `messages[].verdict.verdict` string (also what `reinject`'s DSN
/// policy reads: no DSN for `spam` or `malware`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    Ham,
    Spam,
    Malware,
    /// A filter was asked for but gave no usable answer for this message.
    Unscanned,
}

/// A spam filter's answer (rspamd or spamd).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpamResult {
    /// `rspamd` or `spamd`.
    pub filter: String,
    /// rspamd's `action` (`no action`, `greylist`, `add header`, `rewrite subject`,
    /// `soft reject`, `reject`); spamd: `spam` or `ham` (its verdict line).
    pub action: String,
    pub is_spam: bool,
    pub score: f64,
    pub required: f64,
    /// Symbol names (rspamd) or rule names (spamd), sorted.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// When it answered (RFC 3339, UTC).
    pub at: String,
}

/// Scores are read from the filter and never computed with, so equality is exact
/// (what the manifest's own equality needs).
impl Eq for SpamResult {}

/// A virus scanner's answer (clamd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirusResult {
    /// `clamd`.
    pub filter: String,
    /// The signature name when infected (`Eicar-Test-Signature`), `None` when clean.
    pub virus: Option<String>,
    /// When it answered (RFC 3339, UTC).
    pub at: String,
}

/// Everything the filters said of one message (`messages[].verdict` in the manifest;
/// absent when no filter was asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam: Option<SpamResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virus: Option<VirusResult>,
    /// Why a filter that was asked for gave no usable answer (one line each, naming the
    /// filter); non-empty exactly when some filter failed for this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unscanned: Vec<String>,
}

/// `--spam-action`: what export does with a message whose verdict is spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpamAction {
    /// Into each bundle's Junk (Maildir `.Junk`, `junk.mbox`, the page's spam section).
    #[default]
    Junk,
    /// Into the inbox like ham (the verdict is still recorded).
    Keep,
    /// Withheld from every bundle like malware (the administrator's area keeps it).
    Withhold,
}

/// Where a message goes in a recipient's bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    Inbox,
    Junk,
    /// In no file of any recipient's bundle; counted and described in the bundle's
    /// withheld notice (index.html, zip README).
    Withheld,
}

impl Verdict {
    /// The decisive kind from the parts: malware beats spam beats unscanned beats ham.
    pub fn decide(
        spam: Option<SpamResult>,
        virus: Option<VirusResult>,
        unscanned: Vec<String>,
    ) -> Verdict {
        let verdict = if virus.as_ref().is_some_and(|v| v.virus.is_some()) {
            VerdictKind::Malware
        } else if spam.as_ref().is_some_and(|s| s.is_spam) {
            VerdictKind::Spam
        } else if !unscanned.is_empty() {
            VerdictKind::Unscanned
        } else {
            VerdictKind::Ham
        };
        Verdict {
            verdict,
            spam,
            virus,
            unscanned,
        }
    }

    /// Where this message is filed under `action`. Malware is always withheld; a
    /// message no filter could judge goes to the inbox with a visible marker
    /// ([`Verdict::marked_unscanned`]).
    pub fn filing(&self, action: SpamAction) -> Filing {
        match (self.verdict, action) {
            (VerdictKind::Malware, _) => Filing::Withheld,
            (VerdictKind::Spam, SpamAction::Junk) => Filing::Junk,
            (VerdictKind::Spam, SpamAction::Withhold) => Filing::Withheld,
            _ => Filing::Inbox,
        }
    }

    /// Whether a filter failed for this message (shown as a marker wherever the
    /// message is listed).
    pub fn marked_unscanned(&self) -> bool {
        !self.unscanned.is_empty()
    }

    /// Why a message is withheld or filed as spam, in a few words for its bundle's
    /// notice and the administrator: `virus Eicar-Test-Signature`, `spam (rspamd:
    /// reject)`; `not scanned` or `no verdict` for the others.
    pub fn reason(&self) -> String {
        let virus = self.virus.as_ref().and_then(|v| v.virus.as_deref());
        match (self.verdict, virus, &self.spam) {
            (VerdictKind::Malware, Some(name), _) => format!("virus {name}"),
            (VerdictKind::Spam, _, Some(s)) => format!("spam ({}: {})", s.filter, s.action),
            (VerdictKind::Spam, _, None) => "spam".into(),
            (VerdictKind::Unscanned, _, _) => "not scanned".into(),
            _ => "no verdict".into(),
        }
    }
}

impl SpamAction {
    /// The `--spam-action` / manifest name (`junk`, `keep`, `withhold`).
    pub fn name(self) -> &'static str {
        match self {
            SpamAction::Junk => "junk",
            SpamAction::Keep => "keep",
            SpamAction::Withhold => "withhold",
        }
    }
}

/// The filing of a message that may have no verdict (no filter asked for: the inbox).
pub fn filing_of(v: Option<&Verdict>, action: SpamAction) -> Filing {
    v.map_or(Filing::Inbox, |v| v.filing(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn virus(name: Option<&str>) -> Option<VirusResult> {
        Some(VirusResult {
            filter: "clamd".into(),
            virus: name.map(str::to_string),
            at: String::new(),
        })
    }

    #[test]
    fn malware_beats_spam_and_is_always_withheld() {
        let spam = SpamResult {
            filter: "rspamd".into(),
            action: "reject".into(),
            is_spam: true,
            score: 1000.0,
            required: 15.0,
            symbols: vec!["GTUBE".into()],
            at: String::new(),
        };
        let v = Verdict::decide(Some(spam.clone()), None, vec![]);
        assert_eq!(v.reason(), "spam (rspamd: reject)");
        let v = Verdict::decide(Some(spam), virus(Some("Eicar-Test-Signature")), vec![]);
        assert_eq!(v.verdict, VerdictKind::Malware);
        assert_eq!(v.reason(), "virus Eicar-Test-Signature");
        for a in [SpamAction::Junk, SpamAction::Keep, SpamAction::Withhold] {
            assert_eq!(v.filing(a), Filing::Withheld);
        }
    }

    #[test]
    fn unscanned_goes_to_the_inbox_marked() {
        let v = Verdict::decide(None, None, vec!["clamd: timed out".into()]);
        assert_eq!(v.verdict, VerdictKind::Unscanned);
        assert_eq!(v.filing(SpamAction::Junk), Filing::Inbox);
        assert!(v.marked_unscanned());
        assert_eq!(filing_of(None, SpamAction::Withhold), Filing::Inbox);
    }
}
