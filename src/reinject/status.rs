//! What the journal says about an export, per message and per pair: the report of
//! `mxsalvage journal`, and its `--sent-ids` (the queue IDs the secondary may delete).
//!
//! Owns: the pair's overall state across targets (sent anywhere → `sent`; else
//! possibly delivered somewhere → `unknown`; else `failed`, `deferred`, `not tried`),
//! whether a failed pair's DSN is done ([`super::dsn::owed`] and the journal's DSN
//! lines), and when a message is *done*: every pending pair of it in the manifest is
//! sent, or failed with its DSN sent (or written as a file, or refused for good, or
//! not owed, or suppressed on purpose by the backscatter policy) or withheld
//! (malware, not sent on purpose); and *delivered*: every pending pair sent — the
//! only messages `--sent-ids` lists unless `--include-refused` (which never adds a
//! message with a withheld pair). Pure: in a manifest and a [`JournalState`], out a [`Report`].

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::dsn::{Owed, owed};
use super::journal::{DsnState, JournalState, PairKey, Record, State};
use crate::bytes::Bytes;
use crate::manifest::{Manifest, ManifestMessage};

/// A pair's state over all targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    Sent,
    Failed,
    Deferred,
    Unknown,
    NotTried,
    /// Not sent on purpose (malware): final, but not delivered.
    Withheld,
}

impl PairState {
    pub fn as_str(self) -> &'static str {
        match self {
            PairState::Sent => "sent",
            PairState::Failed => "failed",
            PairState::Deferred => "deferred",
            PairState::Unknown => "unknown",
            PairState::NotTried => "not tried",
            PairState::Withheld => "withheld",
        }
    }
}

/// Where and when a journal line was written (its target and time), and the server's
/// reply it records; all `None` when there is no such line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSeen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

impl LineSeen {
    /// What a journal line (`target`, `time`, `reply`) says, if there is one.
    fn of(line: Option<(&String, &String, &Option<String>)>) -> LineSeen {
        LineSeen {
            target: line.map(|l| l.0.clone()),
            time: line.map(|l| l.1.clone()),
            reply: line.and_then(|l| l.2.clone()),
        }
    }
}

/// The DSN of a failed pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsnStatus {
    /// Who it is for (the sender, or `postmaster` for null-sender mail); `None` when
    /// no DSN is owed.
    pub to: Option<Bytes>,
    /// Why none is owed (NOTIFY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_owed: Option<String>,
    /// What the journal says about it (`None`: not sent yet).
    pub state: Option<DsnState>,
    /// The journal's DSN line: where, when, the server's reply.
    #[serde(flatten)]
    pub line: LineSeen,
    /// `suppressed`: the backscatter policy's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl DsnStatus {
    /// Nothing more is owed to anyone for this failure.
    pub fn done(&self) -> bool {
        self.to.is_none() || self.state.is_some_and(DsnState::is_final)
    }

    /// `DSN sent to a@x`, `no DSN: NOTIFY=NEVER`, `DSN not sent yet` ….
    pub fn describe(&self) -> String {
        let to = self
            .to
            .as_ref()
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        match (&self.not_owed, self.state) {
            (Some(why), _) => format!("no DSN owed ({why})"),
            (None, None) => format!("DSN to {to} not sent yet"),
            (None, Some(DsnState::Written)) => format!(
                "DSN to {to} written to {}",
                self.line
                    .target
                    .as_deref()
                    .unwrap_or("")
                    .trim_start_matches("file:")
            ),
            (None, Some(DsnState::Sending)) => format!("DSN to {to} unknown"),
            (None, Some(DsnState::Suppressed)) => format!(
                "DSN to {to} suppressed: {} (reinject --send-suppressed sends it)",
                self.reason.as_deref().unwrap_or("backscatter policy")
            ),
            (None, Some(s)) => format!("DSN to {to} {}", s.as_str()),
        }
    }
}

/// One pending pair of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairStatus {
    pub recipient: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcpt: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    pub state: PairState,
    /// The deciding journal line: where, when, the server's reply.
    #[serde(flatten)]
    pub line: LineSeen,
    /// For `failed`: its DSN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsn: Option<DsnStatus>,
    /// Sent, or failed with nothing more owed.
    pub done: bool,
}

/// One message of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    pub queue_id: String,
    pub sender: Bytes,
    pub pairs: Vec<PairStatus>,
    /// Every pair done (sent, or failed with its DSN done).
    pub done: bool,
    /// Every pair sent: delivered, the secondary may delete it.
    #[serde(default)]
    pub delivered: bool,
    /// Some pair withheld (malware): never listed by `--sent-ids`.
    #[serde(default)]
    pub withheld: bool,
}

/// Counts over the whole export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub messages: usize,
    pub messages_done: usize,
    /// Messages whose every pair is sent.
    #[serde(default)]
    pub messages_delivered: usize,
    pub pairs: usize,
    pub sent: usize,
    pub failed: usize,
    /// Failed pairs with nothing more owed (DSN sent, written, refused, or not owed).
    pub failed_done: usize,
    pub deferred: usize,
    pub unknown: usize,
    pub not_tried: usize,
    /// Pairs withheld (malware, not sent).
    #[serde(default)]
    pub withheld: usize,
    /// Messages done with some pair withheld.
    #[serde(default)]
    pub messages_withheld: usize,
}

/// What `mxsalvage journal` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub export: String,
    pub journal: String,
    /// Journal lines read.
    pub lines: usize,
    pub warnings: Vec<String>,
    /// Targets with the number of pairs sent there.
    pub targets: BTreeMap<String, usize>,
    /// Why the export may not hold every recipient of its messages (made with a
    /// recipient selection): then no queue ID is safe to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_export: Option<String>,
    /// Journal pairs that are not pending pairs of this manifest (another export's
    /// journal, or a re-made export).
    pub not_in_manifest: usize,
    pub totals: Totals,
    pub messages: Vec<MessageStatus>,
}

impl Report {
    /// The queue IDs `postsuper -d -` may take: messages whose every pair is sent;
    /// with `include_refused` also those whose every pair is done (failed with its
    /// DSN sent, written, suppressed on purpose, or not owed). Never a message with a
    /// withheld pair (malware: the administrator deletes it knowingly). Empty for an
    /// export made with a recipient selection.
    pub fn sent_ids(&self, include_refused: bool) -> Vec<&str> {
        if self.partial_export.is_some() {
            return Vec::new();
        }
        self.messages
            .iter()
            .filter(|m| m.delivered || (include_refused && m.done && !m.withheld))
            .map(|m| m.queue_id.as_str())
            .collect()
    }
}

/// Why an export with these options may lack recipients of its messages.
fn partial(m: &Manifest) -> Option<String> {
    let o = &m.options;
    let mut flags = Vec::new();
    if !o.recipients.is_empty() {
        flags.push("--recipient");
    }
    if !o.domains.is_empty() {
        flags.push("--domain");
    }
    if o.only_valid {
        flags.push("--only-valid");
    }
    (!flags.is_empty()).then(|| {
        format!(
            "the export was made with {}: its messages may have recipients it does not hold",
            flags.join(", ")
        )
    })
}

/// The deciding record over all targets: sent wins, then possibly delivered, then
/// withheld, then failed, then deferred.
pub fn decide<'a>(recs: impl Iterator<Item = &'a Record>) -> Option<(&'a Record, PairState)> {
    let rank = |s: State| match s {
        State::Sent => (0, PairState::Sent),
        State::Sending | State::Unknown => (1, PairState::Unknown),
        State::Withheld => (2, PairState::Withheld),
        State::Failed => (3, PairState::Failed),
        State::Deferred => (4, PairState::Deferred),
    };
    recs.map(|r| (r, rank(r.state)))
        .min_by_key(|(r, (k, _))| (*k, r.time.as_str()))
        .map(|(r, (_, st))| (r, st))
}

/// Builds the report.
pub fn report(manifest: &Manifest, js: &JournalState, export: &str, journal: &str) -> Report {
    let mut rep = Report {
        export: export.to_string(),
        journal: journal.to_string(),
        lines: js.lines,
        warnings: js.warnings.clone(),
        partial_export: partial(manifest),
        ..Report::default()
    };
    let mut known: HashSet<PairKey> = HashSet::new();
    for m in &manifest.messages {
        let info = &m.info;
        if info.probe {
            continue;
        }
        let pairs = message_pairs(m, js, &mut rep, &mut known);
        if pairs.is_empty() {
            continue;
        }
        let done = pairs.iter().all(|p| p.done);
        let delivered = pairs.iter().all(|p| p.state == PairState::Sent);
        let withheld = pairs.iter().any(|p| p.state == PairState::Withheld);
        rep.totals.messages += 1;
        rep.totals.messages_withheld += usize::from(done && withheld);
        rep.totals.messages_done += usize::from(done);
        rep.totals.messages_delivered += usize::from(delivered);
        rep.messages.push(MessageStatus {
            queue_id: info.queue_id.clone(),
            sender: info.sender.clone(),
            pairs,
            done,
            delivered,
            withheld,
        });
    }
    let mut orphans: HashSet<&PairKey> = HashSet::new();
    for (k, _) in js.last.keys() {
        if !known.contains(k) {
            orphans.insert(k);
        }
    }
    rep.not_in_manifest = orphans.len();
    rep
}

/// The status of each distinct pending pair of `m`, counted into `rep`'s totals and
/// targets; their keys are added to `known`.
fn message_pairs(
    m: &ManifestMessage,
    js: &JournalState,
    rep: &mut Report,
    known: &mut HashSet<PairKey>,
) -> Vec<PairStatus> {
    let info = &m.info;
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for r in info.pending() {
        let key = PairKey::of(m, r);
        if !seen.insert(key.clone()) {
            continue;
        }
        let decided = decide(js.records_of(&key));
        let state = decided.map(|(_, s)| s).unwrap_or(PairState::NotTried);
        let dsn = (state == PairState::Failed)
            .then(|| dsn_status(js, &key, &info.sender.0, r.notify.as_deref()));
        let done = match state {
            PairState::Sent | PairState::Withheld => true,
            PairState::Failed => dsn.as_ref().is_some_and(DsnStatus::done),
            _ => false,
        };
        count(rep, state, done, decided.map(|(r, _)| r));
        pairs.push(PairStatus {
            recipient: r.address.clone(),
            orcpt: r.orcpt.clone(),
            notify: r.notify.clone(),
            state,
            line: LineSeen::of(decided.map(|(r, _)| (&r.target, &r.time, &r.reply))),
            dsn,
            done,
        });
        known.insert(key);
    }
    pairs
}

/// The DSN of a failed pair: who is owed it (from `sender` and `notify`) and what
/// the journal's DSN line says.
fn dsn_status(js: &JournalState, key: &PairKey, sender: &[u8], notify: Option<&str>) -> DsnStatus {
    let (to, not_owed) = match owed(sender, notify) {
        Owed::Sender(a) => (Some(a), None),
        Owed::Postmaster => (Some(Bytes(b"postmaster".to_vec())), None),
        Owed::Nobody(why) => (None, Some(why)),
    };
    let rec = js.dsn.get(key);
    DsnStatus {
        to: rec.map(|d| d.dsn_to.clone()).or(to),
        not_owed,
        state: rec.map(|d| d.dsn),
        line: LineSeen::of(rec.map(|d| (&d.target, &d.time, &d.reply))),
        reason: rec.and_then(|d| d.reason.clone()),
    }
}

/// Counts one pair into the totals (and a sent pair into its deciding target's count).
fn count(rep: &mut Report, state: PairState, done: bool, decided: Option<&Record>) {
    let t = &mut rep.totals;
    t.pairs += 1;
    match state {
        PairState::Sent => {
            t.sent += 1;
            if let Some(r) = decided {
                *rep.targets.entry(r.target.clone()).or_default() += 1;
            }
        }
        PairState::Failed => {
            t.failed += 1;
            t.failed_done += usize::from(done);
        }
        PairState::Deferred => t.deferred += 1,
        PairState::Unknown => t.unknown += 1,
        PairState::NotTried => t.not_tried += 1,
        PairState::Withheld => t.withheld += 1,
    }
}
