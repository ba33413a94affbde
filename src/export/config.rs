//! What a run is given and what it reports: [`Config`], [`Report`].
//!
//! Read by the run (`export/mod.rs`), `commit` and the command line; the sinks never
//! see it (they get the sink contract, `sink.rs`). In: the command's choices. Out: plain
//! data. Cannot fail.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::filter::verdict::SpamAction;
use crate::manifest::{Options, Problem, Source, Totals};

use super::out::Mode;
use super::plan::Filters;
use super::reader;
use super::sinks::Formats;
use super::zip::Secret;

/// Everything a run needs besides the spool and the selection.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    /// Formats kept as trees under `recipients/<dir>/` (may be empty with `zip`).
    pub formats: Formats,
    pub zip: bool,
    /// Formats inside each zip.
    pub zip_formats: Formats,
    /// Mailbox key → password; `Some` encrypts every zip.
    pub passwords: Option<BTreeMap<Vec<u8>, Secret>>,
    pub filters: Filters,
    pub mode: Mode,
    /// `--reader`: the account that may read the mailboxes ([`reader`]).
    pub reader: Option<reader::Reader>,
    /// `--generate-passwords FILE`: a fresh password per mailbox of the plan, written
    /// to FILE (and a handout per user) before the zips are encrypted with them.
    pub generate_passwords: Option<PathBuf>,
    /// Refuse when the estimate does not fit OUT's file system ([`space`]; false:
    /// `--no-space-check`).
    pub space_check: bool,
    /// Plan and estimate only: nothing is written (`--dry-run`).
    pub dry_run: bool,
    /// `--spam-action`; `None` when not given: `junk`, or what the export being
    /// updated recorded.
    pub spam_action: Option<SpamAction>,
    /// `--spam-filter`, `--virus-scan`: the content filters every new message is
    /// scanned with (`None`: none asked for; an update keeps the earlier export's).
    pub scan: Option<crate::filter::FilterSet>,
    /// Recorded in the manifest as given.
    pub options: Options,
    pub source: Source,
}

/// What a finished run reports (the rest is in `manifest.json`).
#[derive(Debug, Clone)]
pub struct Report {
    pub complete: bool,
    pub totals: Totals,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
    /// Messages this run scanned that a filter could not judge (each filed in the inbox
    /// marked; the run is partial, exit 1).
    pub unscanned: Vec<Problem>,
    /// The verdicts of the messages this run scanned (`None`: no filter asked for).
    pub scanned: Option<VerdictCounts>,
    /// The disk-space estimate made before writing.
    pub space: Option<crate::manifest::Space>,
    /// Messages the export holds that it did not hold before (all of them unless
    /// `--update`).
    pub new_messages: usize,
    /// `--dry-run`: the totals are what would be exported; nothing was written.
    pub dry_run: bool,
    /// Recipient records of the messages read that share a mailbox copy with another
    /// record of the same message (the same address twice, e.g. with different ORCPTs):
    /// the queue (and so `scan`, `reinject`, `journal`) counts them, the pairs do not.
    pub shared_records: usize,
    /// Several spools: recipients' copies left out because another spool's copy of the
    /// same message reaches them (the manifest's `duplicates[]`).
    pub left_out: usize,
}

/// How many messages a run scanned, by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerdictCounts {
    pub ham: usize,
    pub spam: usize,
    pub malware: usize,
    pub unscanned: usize,
}

impl VerdictCounts {
    /// Counts one verdict.
    pub fn add(&mut self, k: crate::filter::verdict::VerdictKind) {
        use crate::filter::verdict::VerdictKind as K;
        match k {
            K::Ham => self.ham += 1,
            K::Spam => self.spam += 1,
            K::Malware => self.malware += 1,
            K::Unscanned => self.unscanned += 1,
        }
    }
}
