//! Content filters: spam and malware verdicts from the filters a mail server already
//! runs (rspamd, SpamAssassin's spamd, clamd), spoken to in their own protocols.
//!
//! Owns: [`verdict`] (the recorded outcome and where it files a message: a leaf every
//! consumer may read); [`url`] (the `--spam-filter`/`--virus-scan` URLs); one client
//! per protocol ([`rspamd`], [`spamd`], [`clamd`]) over [`conn`] (connections with a
//! deadline); [`FilterSet`] (the filters a run was given: [`FilterSet::check`] before
//! anything is written, [`FilterSet::scan`] per message). In: message bytes. Out: a
//! [`verdict::Verdict`] per message. Fails: a filter that cannot be reached before the
//! run is a refusal ([`FilterError::Unreachable`]); one that fails for one message
//! (timeout, garbage, clamd's size limit) makes that message "unscanned" with the
//! reason, never a silent pass.

pub mod clamd;
pub mod conn;
pub mod rspamd;
pub mod spamd;
pub mod url;
pub mod verdict;

use std::io;
use std::time::Duration;

use url::{FilterUrl, Protocol, Role};
use verdict::{SpamResult, Verdict, VirusResult};

/// Why a filter gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A flag's URL is malformed (the message says what to write).
    #[error("{0}")]
    Url(String),
    #[error("cannot connect to {url}: {error}")]
    Connect { url: String, error: io::Error },
    #[error("{url}: no answer within {secs} s (--filter-timeout)")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: {error}")]
    Io { url: String, error: io::Error },
    /// An answer that is not the protocol's.
    #[error("{url}: {what}")]
    Garbage { url: String, what: String },
    /// clamd's `INSTREAM size limit exceeded` (its `StreamMaxLength`).
    #[error(
        "{url}: larger than clamd's StreamMaxLength (INSTREAM size limit exceeded); raise StreamMaxLength in clamd.conf to scan it"
    )]
    TooLarge { url: String },
    /// A filter asked for is not there before the run (the message says how to start it).
    #[error("{flag} {url}: {why}; {hint}, or leave out {flag}")]
    Unreachable {
        flag: &'static str,
        url: String,
        why: String,
        hint: &'static str,
    },
}

/// A reply that is not the protocol's: what was expected and the start of what came.
pub(crate) fn garbage(url: &FilterUrl, what: &str, got: &[u8]) -> FilterError {
    let shown: String = String::from_utf8_lossy(&got[..got.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    FilterError::Garbage {
        url: url.to_string(),
        what: format!("unexpected answer ({what}): {:?}", shown.trim()),
    }
}

/// Now, for a verdict's `at`.
pub(crate) fn now() -> String {
    crate::timefmt::rfc3339(crate::timefmt::now())
}

/// How to start a filter on a Debian secondary for the salvage (docs/runbook.md).
fn start_hint(p: Protocol) -> &'static str {
    match p {
        Protocol::Rspamd => {
            "start rspamd (Debian: `systemctl start rspamd`, or see docs/runbook.md, \"Filters for the salvage\")"
        }
        Protocol::Spamd => {
            "start spamd (Debian: `systemctl start spamd`, or see docs/runbook.md, \"Filters for the salvage\")"
        }
        Protocol::Clamd => {
            "start clamd (Debian: `systemctl start clamav-daemon`, or see docs/runbook.md, \"Filters for the salvage\")"
        }
    }
}

/// The filters one run was given, and the time each request may take.
#[derive(Debug, Clone)]
pub struct FilterSet {
    pub spam: Option<FilterUrl>,
    pub virus: Option<FilterUrl>,
    /// Time limit of one request (connect, send, answer).
    pub timeout: Duration,
    /// Requests in flight at most (`--scan-jobs`).
    pub jobs: usize,
}

/// Per-request time limit by default (a 25 MB message over a slow link included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests in flight by default: rspamd and clamd each answer several at once (clamd's
/// `MaxThreads` is 10 on Debian), and waiting on them costs no CPU here.
pub const DEFAULT_JOBS: usize = 8;

impl FilterSet {
    /// Whether any filter was asked for.
    pub fn any(&self) -> bool {
        self.spam.is_some() || self.virus.is_some()
    }

    fn each(&self) -> impl Iterator<Item = (Role, &FilterUrl)> {
        let s = self.spam.iter().map(|u| (Role::Spam, u));
        s.chain(self.virus.iter().map(|u| (Role::Virus, u)))
    }

    /// Pings every filter: an [`FilterError::Unreachable`] naming the first that does
    /// not answer, and how to start it.
    pub fn check(&self) -> Result<(), FilterError> {
        for (role, u) in self.each() {
            let limit = self.timeout.min(Duration::from_secs(10));
            let r = match u.protocol {
                Protocol::Rspamd => rspamd::ping(u, limit),
                Protocol::Spamd => spamd::ping(u, limit),
                Protocol::Clamd => clamd::ping(u, limit),
            };
            if let Err(e) = r {
                let why = match e {
                    FilterError::Connect { error, .. } => format!("not reachable ({error})"),
                    e => format!("no usable answer ({e})"),
                };
                return Err(FilterError::Unreachable {
                    flag: role.flag(),
                    url: u.to_string(),
                    why,
                    hint: start_hint(u.protocol),
                });
            }
        }
        Ok(())
    }

    /// Every filter's verdict on `msg`; a filter that fails makes the message
    /// unscanned with its reason (one line, naming the filter). With both filters the
    /// two are asked at the same time (the spam filter from a scoped thread), so each
    /// filter has as many requests in flight as there are scanning threads — what its
    /// own client would have at that concurrency.
    pub fn scan(&self, msg: &[u8]) -> Verdict {
        let (spam, virus) = match (&self.spam, &self.virus) {
            (Some(_), Some(_)) => std::thread::scope(|sc| {
                let spam = sc.spawn(|| self.spam_check(msg));
                let virus = self.virus_check(msg);
                let spam = spam.join().unwrap_or_else(|_| {
                    Some(Err("the spam filter's client stopped unexpectedly".into()))
                });
                (spam, virus)
            }),
            _ => (self.spam_check(msg), self.virus_check(msg)),
        };
        let mut unscanned = Vec::new();
        let spam = answer(spam, &mut unscanned);
        let virus = answer(virus, &mut unscanned);
        Verdict::decide(spam, virus, unscanned)
    }

    /// The spam filter's answer on `msg` (`None`: no spam filter asked for).
    fn spam_check(&self, msg: &[u8]) -> Option<Result<SpamResult, String>> {
        let u = self.spam.as_ref()?;
        let r = match u.protocol {
            Protocol::Spamd => spamd::check(u, self.timeout, msg),
            _ => rspamd::check(u, self.timeout, msg),
        };
        Some(r.map_err(|e| e.to_string()))
    }

    /// The virus scanner's answer on `msg` (`None`: no virus scanner asked for).
    fn virus_check(&self, msg: &[u8]) -> Option<Result<VirusResult, String>> {
        let u = self.virus.as_ref()?;
        Some(clamd::check(u, self.timeout, msg).map_err(|e| e.to_string()))
    }
}

/// A filter's answer, or `None` with its failure added to `unscanned`.
fn answer<T>(r: Option<Result<T, String>>, unscanned: &mut Vec<String>) -> Option<T> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            unscanned.push(e);
            None
        }
    }
}
