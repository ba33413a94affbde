//! Re-injection of an export into the recovered primary over SMTP or LMTP, exactly
//! once (issue #4; docs/reinject.md).
//!
//! Pipeline: [`plan`] reads the export's manifest and the journal and decides, per
//! (message, pending recipient) pair, whether to send it, skip it (already sent),
//! withhold it (its recorded verdict is malware, without `--include-malware`: journaled
//! `withheld` at the start of the run, never sent), or report it (failed or unknown in
//! an earlier run) → [`run`] hands the transactions to
//! [`worker`] threads (one connection each, a shared work queue, a token bucket for
//! `--rate`) which speak [`smtp`] with the [`envelope`] built from the queue's data and
//! the [`data`] stream of the archive copy, writing every outcome to the [`journal`]
//! (group commit: `sending` markers durable before the final dot) → a [`Summary`];
//! after a run that finished (and whose circuit breaker did not trip) the DSNs owed,
//! decided by the backscatter policy ([`dsn_decisions`]: sent, or suppressed and
//! journaled with the reason).
//! Owns: the validated [`Config`], the [`Target`] identity, planning and the summary.
//! Never reads the queue directory; the export's archive copies are the source, each
//! checked against its manifest sha256 before it is sent.

pub mod data;
pub mod delete;
pub mod dsn;
pub mod envelope;
pub mod journal;
pub mod scan;
pub mod smtp;
pub mod status;
pub mod worker;
pub mod xtext;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::manifest::{Manifest, ManifestMessage};
use crate::report::model::RecipientInfo;
use crate::report::select::fold;
use envelope::{MessageEnvelope, RcptEnvelope};
use journal::{JournalState, PairKey, Record, State};
use smtp::ClientConfig;

/// Where the mail goes: protocol, host and port, normalised so that one spelling of a
/// server always gives the same [`Target::id`] — the host lower-cased, without a
/// trailing dot or brackets, an IP address in its canonical form, the default port
/// filled in. Two names of one server (`localhost`, `127.0.0.1`) stay two targets:
/// which names are the same server cannot be known from here (addresses change
/// during an outage), so [`plan`] notes every pair this run would send that the
/// journal records as sent elsewhere, and the command refuses such a run unless
/// `--new-target` says a second copy is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub lmtp: bool,
}

impl Target {
    /// Parses `HOST`, `HOST:PORT`, `[HOST]:PORT` or `[IPV6]:PORT`; the default port is
    /// 25 for SMTP and 24 for LMTP.
    pub fn parse(s: &str, lmtp: bool) -> Result<Target, String> {
        let default = if lmtp { 24 } else { 25 };
        let s = s.trim();
        let bad = || format!("bad --to {s:?} (use HOST or HOST:PORT)");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').expect("one colon");
            (h, Some(p))
        } else {
            (s, None)
        };
        let host = match host.strip_suffix('.') {
            Some(h) if !h.is_empty() && !h.ends_with('.') => h,
            _ => host,
        };
        if host.is_empty()
            || host.contains(char::is_whitespace)
            || host.contains(['[', ']', '/', '@'])
        {
            return Err(bad());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?,
            None => default,
        };
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host.to_ascii_lowercase(),
        };
        Ok(Target { host, port, lmtp })
    }

    /// `smtp://host:port` / `lmtp://host:port` (IPv6 hosts in brackets): what the
    /// journal records.
    pub fn id(&self) -> String {
        let proto = if self.lmtp { "lmtp" } else { "smtp" };
        format!("{proto}://{}", self.to_arg())
    }

    /// The target a journal's `target` field names.
    pub fn from_id(id: &str) -> Option<Target> {
        let (lmtp, rest) = if let Some(r) = id.strip_prefix("smtp://") {
            (false, r)
        } else {
            (true, id.strip_prefix("lmtp://")?)
        };
        Target::parse(rest, lmtp).ok()
    }

    /// `HOST:PORT` as `--to` takes it.
    pub fn to_arg(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host's addresses, in the resolver's order without repeats.
    pub fn resolve(&self) -> Result<Vec<IpAddr>, String> {
        use std::net::ToSocketAddrs;
        let mut out = Vec::new();
        for a in (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
        {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
        Ok(out)
    }

    /// What a run prints about its target (resolving the host now).
    pub fn info(&self, tls: &str) -> TargetInfo {
        let (addresses, resolve_error) = match self.resolve() {
            Ok(v) => (v.iter().map(IpAddr::to_string).collect(), None),
            Err(e) => (Vec::new(), Some(e)),
        };
        TargetInfo {
            target: self.id(),
            host: self.host.clone(),
            addresses,
            resolve_error,
            port: self.port,
            protocol: if self.lmtp { "LMTP" } else { "SMTP" }.into(),
            tls: tls.into(),
        }
    }
}

/// The resolved target, as printed at the start of every run (`--json`:
/// `target_info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The normalised target (the journal's `target`).
    pub target: String,
    pub host: String,
    pub addresses: Vec<String>,
    /// Why the host did not resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_error: Option<String>,
    pub port: u16,
    /// `SMTP` or `LMTP`.
    pub protocol: String,
    /// The TLS policy.
    pub tls: String,
}

impl TargetInfo {
    /// `smtp://localhost:2525 (host localhost, addresses 127.0.0.1 ::1, port 2525,
    /// SMTP, TLS: …)`.
    pub fn describe(&self) -> String {
        format!(
            "{} (host {}, {}, port {}, {}, TLS: {})",
            self.target,
            self.host,
            self.addresses_text(),
            self.port,
            self.protocol,
            self.tls
        )
    }

    /// `addresses 127.0.0.1 ::1`, or why there are none.
    pub fn addresses_text(&self) -> String {
        match &self.resolve_error {
            Some(e) => format!("does not resolve: {e}"),
            None if self.addresses.is_empty() => "no addresses".into(),
            None => format!("addresses {}", self.addresses.join(" ")),
        }
    }
}

/// The one-line refusal of a run that would send pairs the journal records as sent
/// (or possibly sent) to another target; `None` when there are none.
pub fn refusal(p: &Plan, ours: &TargetInfo, lmtp: bool) -> Option<String> {
    if p.elsewhere.is_empty() {
        return None;
    }
    let mut others: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, r) in &p.elsewhere {
        *others.entry(r.target.as_str()).or_default() += 1;
    }
    let (first, _) = others
        .iter()
        .max_by_key(|(t, n)| (**n, std::cmp::Reverse(**t)))
        .expect("not empty");
    let theirs: Vec<String> = others
        .iter()
        .map(|(t, n)| match Target::from_id(t) {
            Some(x) => format!("{n} to {t} ({})", x.info("").addresses_text()),
            None => format!("{n} to {t}"),
        })
        .collect();
    let same = match Target::from_id(first) {
        Some(t) if t.lmtp == lmtp => format!("--to {}", t.to_arg()),
        Some(t) => format!(
            "--to {}{}",
            t.to_arg(),
            if t.lmtp { " --lmtp" } else { " without --lmtp" }
        ),
        None => format!("the target {first}"),
    };
    Some(format!(
        "refusing to send to {} ({}): the journal records {} pair(s) of this selection as already sent ({}); if that is the same server, run again with {same}; to deliver a second copy to {} on purpose, add --new-target",
        ours.target,
        ours.addresses_text(),
        p.elsewhere.len(),
        theirs.join(", "),
        ours.target
    ))
}

/// Which pairs a run works on (all empty: everything).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lower-case addresses.
    pub recipients: HashSet<String>,
    /// Lower-case domains.
    pub domains: HashSet<String>,
    pub ids: HashSet<String>,
}

impl Filter {
    fn wants_message(&self, id: &str) -> bool {
        self.ids.is_empty() || self.ids.contains(id)
    }
    fn wants_rcpt(&self, addr: &[u8]) -> bool {
        let a = fold(addr);
        let dom = a.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        (self.recipients.is_empty() || self.recipients.contains(&a))
            && (self.domains.is_empty() || self.domains.contains(dom))
    }
}

/// Everything a run needs, validated; nothing here knows about clap.
#[derive(Debug, Clone)]
pub struct Config {
    pub export_dir: PathBuf,
    pub target: Target,
    pub client: ClientConfig,
    pub connections: usize,
    /// Messages (transactions) per second, all sessions together.
    pub rate: Option<f64>,
    pub filter: Filter,
    /// Attempts per recipient in this run (at least 1).
    pub max_retries: u32,
    /// Wait before the second attempt; doubles for each further one (capped).
    pub retry_delay: Duration,
    pub retry_failed: bool,
    pub resend_unknown: bool,
    /// Send pairs the journal records as sent to another target (a deliberate second
    /// destination).
    pub new_target: bool,
    /// `--include-malware`: send messages whose verdict is malware too (a primary that
    /// scans everything it receives); without it they are withheld.
    pub include_malware: bool,
    pub journal: PathBuf,
    pub progress: bool,
    /// The DSNs of failed pairs: how they go, from whom, which ones.
    pub dsns: DsnConfig,
    /// Stops a run whose refusals look like a broken primary; `None`:
    /// `--accept-refusals`.
    pub breaker: Option<Breaker>,
}

/// The backscatter policy's settings.
#[derive(Debug, Clone)]
pub struct DsnPolicy {
    /// `--dsn-return full`: the whole original (up to [`dsn::RETURN_LIMIT`]) even
    /// without RET=FULL.
    pub return_full: bool,
    /// DSNs to one address in one run at most (`--max-dsns-per-sender`).
    pub per_sender: usize,
    /// DSNs to one domain in one run at most (`--max-dsns-per-domain`).
    pub per_domain: usize,
    /// `--send-suppressed`: DSNs suppressed by an earlier run go out now.
    pub send_suppressed: bool,
}

impl Default for DsnPolicy {
    fn default() -> DsnPolicy {
        DsnPolicy {
            return_full: false,
            per_sender: 10,
            per_domain: 100,
            send_suppressed: false,
        }
    }
}

/// The DSNs of refused pairs: how they are sent, what they say of the reporting
/// MTA, and which of them go out.
#[derive(Debug, Clone)]
pub struct DsnConfig {
    pub bounces: Bounces,
    /// Where DSNs about null-sender mail go (`--postmaster`).
    pub postmaster: Vec<u8>,
    /// `--reporting-mta`; default: the secondary's name from the manifest.
    pub reporting_mta: Option<String>,
    /// Which DSNs go out, and what they return (docs/reinject.md "Backscatter").
    pub policy: DsnPolicy,
}

/// The circuit breaker: a run stops, before any DSN, once at least `min_refused`
/// distinct recipients were refused permanently (and never accepted) and they are at
/// least `percent` % of the distinct recipients the primary answered so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    pub min_refused: usize,
    pub percent: u32,
}

impl Default for Breaker {
    fn default() -> Breaker {
        Breaker {
            min_refused: 10,
            percent: 80,
        }
    }
}

impl Breaker {
    /// Whether `refused` of `tried` distinct recipients trip it.
    pub fn trips(&self, refused: usize, tried: usize) -> bool {
        refused >= self.min_refused.max(1) && refused * 100 >= self.percent as usize * tried
    }
}

/// One recipient of a planned message.
#[derive(Debug, Clone)]
pub struct PlannedRcpt {
    pub env: RcptEnvelope,
    pub key: PairKey,
}

/// One message to send, with the recipients still to send.
#[derive(Debug, Clone)]
pub struct PlannedMessage {
    pub queue_id: String,
    pub sha256: String,
    /// The archive copy.
    pub path: PathBuf,
    pub bytes: u64,
    pub env: MessageEnvelope,
    pub smtputf8_required: bool,
    pub rcpts: Vec<PlannedRcpt>,
    /// A DSN (built in memory) instead of an archive copy.
    pub dsn: Option<DsnJob>,
}

/// A DSN to send: what it reports. Built from the archive copy when it is sent, so
/// that memory does not grow with the number of DSNs.
#[derive(Debug, Clone)]
pub struct DsnJob {
    pub notice: dsn::Notice,
    /// The reporting MTA.
    pub host: String,
    /// The DSN's date (Unix seconds).
    pub now: i64,
}

/// What happens to the DSNs of failed pairs.
#[derive(Debug, Clone)]
pub enum Bounces {
    /// Sent with the null sender through this target (the run's own, or
    /// `--bounce-via`).
    Send {
        target: Target,
        client: ClientConfig,
    },
    /// `--no-bounces`: written as .eml files under `EXPORT/bounces/`.
    Files,
}

/// A pair that did not end as `sent` (or was decided by an earlier run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairReport {
    pub queue_id: String,
    pub recipient: Bytes,
    /// `failed`, `deferred` or `unknown`.
    pub state: String,
    pub reply: Option<String>,
    /// Decided by an earlier run (taken from the journal, not sent now).
    pub from_journal: bool,
    /// When the journal recorded it.
    pub time: Option<String>,
}

/// A transaction `--dry-run` would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTransaction {
    pub queue_id: String,
    pub size: u64,
    pub mail: String,
    pub rcpts: Vec<String>,
}

/// The outcome of a run (`--json` prints it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub target: String,
    /// The target as resolved at the start of the run.
    #[serde(default)]
    pub target_info: TargetInfo,
    pub journal: String,
    pub dry_run: bool,
    /// Messages in the manifest that the selection kept.
    pub messages: usize,
    /// Pairs sent in this run.
    pub sent: usize,
    /// Pairs the journal already lists as sent (skipped).
    pub already_sent: usize,
    pub failed: usize,
    pub deferred: usize,
    pub unknown: usize,
    /// Address-verification probes left out.
    pub skipped_probes: usize,
    /// Transactions (MAIL FROM) started in this run, retries included.
    pub transactions: usize,
    /// Sessions run in parallel (`--connections`).
    #[serde(default)]
    pub connections: usize,
    /// `fdatasync` calls on the journal while sending (group commit: at most one per
    /// transaction, fewer when sessions share them).
    #[serde(default)]
    pub journal_syncs: u64,
    pub elapsed_seconds: f64,
    /// Messages accepted per second in this run.
    pub messages_per_second: f64,
    /// Every pair that is failed, deferred or unknown.
    pub problems: Vec<PairReport>,
    /// Pairs of malware withheld (not sent: a decision, not a failure), now or by an
    /// earlier run; `state` is `withheld`, `reply` the reason.
    #[serde(default)]
    pub withheld: usize,
    #[serde(default)]
    pub withheld_pairs: Vec<PairReport>,
    /// Things worth knowing (parameters a server could not take), with counts.
    pub notes: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// `--dry-run`: what would be sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedTransaction>,
    /// DSNs (one per failed message) sent in this run, and written as files
    /// (`--no-bounces`).
    #[serde(default)]
    pub dsns_sent: usize,
    #[serde(default)]
    pub dsns_written: usize,
    /// DSNs that could not be sent (deferred, failed, unknown; `recipient` is the
    /// DSN's recipient).
    #[serde(default)]
    pub dsn_problems: Vec<PairReport>,
    /// The DSNs owed now (`--dry-run`: that a run would send).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_dsns: Vec<PlannedDsn>,
    /// DSNs the backscatter policy suppressed (journaled so in a real run), each
    /// with its `reason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_dsns: Vec<PlannedDsn>,
    /// The circuit breaker tripped: refused pairs were kept `deferred`, no DSN sent.
    #[serde(default)]
    pub breaker_tripped: bool,
}

/// A DSN a run would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDsn {
    pub queue_id: String,
    /// The sender, or the postmaster.
    pub to: Bytes,
    /// The failed recipients it reports, with the reply.
    pub failures: Vec<(Bytes, String)>,
    /// Suppressed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl PlannedDsn {
    pub fn of(n: &dsn::Notice) -> PlannedDsn {
        PlannedDsn {
            queue_id: n.queue_id.clone(),
            to: Bytes(n.to_addr.clone()),
            failures: n
                .failures
                .iter()
                .map(|f| (f.key.recipient.clone(), f.reply.clone()))
                .collect(),
            reason: None,
        }
    }
}

impl Summary {
    /// Everything the selection covers was sent (now or before).
    pub fn all_sent(&self) -> bool {
        self.failed == 0
            && self.deferred == 0
            && self.unknown == 0
            && self.aborted.is_none()
            && self.dsn_problems.is_empty()
    }
}

/// The plan of a run.
#[derive(Debug, Default)]
pub struct Plan {
    pub messages: Vec<PlannedMessage>,
    /// Pairs decided by the journal (failed/unknown not retried), and local problems.
    pub reports: Vec<PairReport>,
    pub already_sent: Vec<(String, Bytes, Record)>,
    pub selected_messages: usize,
    pub skipped_probes: usize,
    /// Pairs whose last record is a dangling `sending` marker (to be recorded as unknown).
    pub dangling: Vec<Record>,
    /// Pairs this run would send that the journal records as sent (or possibly sent)
    /// to another target, with that record: refused unless `--new-target`.
    pub elsewhere: Vec<(String, Bytes, Record)>,
    /// Pairs withheld (malware without `--include-malware`), in manifest order.
    pub withheld: Vec<PairReport>,
    /// The journal lines that record the pairs withheld for the first time.
    pub withhold: Vec<Record>,
    pub warnings: Vec<String>,
}

/// Reads `EXPORT_DIR/manifest.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let p = dir.join("manifest.json");
    let text = std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let m: Manifest = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a usable manifest: {e}", p.display()))?;
    m.check_paths()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    if !m.complete && m.messages.is_empty() && m.recipients.is_empty() {
        return Err(format!(
            "{}: this export was interrupted before it listed any message; finish it with `mxsalvage export --update --out {}` first",
            p.display(),
            dir.display()
        ));
    }
    Ok(m)
}

/// The archive copy's path, refusing anything that leaves the export directory.
pub(crate) fn store_path(dir: &Path, m: &ManifestMessage) -> Result<PathBuf, String> {
    match crate::manifest::inside(&m.exported.store) {
        Some(rel) => Ok(dir.join(rel)),
        None => Err(format!(
            "manifest store path {:?} is not inside the export",
            m.exported.store
        )),
    }
}

/// The journal line that makes a dangling `sending` marker `unknown`, saying what the
/// journal knows: whether the final dot had been written ([`journal::DOT_WRITTEN`]).
pub fn dangling_unknown(r: &Record) -> Record {
    let reply = if r.step.as_deref() == Some(journal::DOT_WRITTEN) {
        "the run stopped after the final dot was written, before the reply was recorded: the primary may have it"
    } else {
        "the run stopped at the final dot: the journal has no mark that the dot was written, so the primary most likely does not have it (a crash of the machine can lose that mark: check its log)"
    };
    Record {
        state: State::Unknown,
        time: now(),
        reply: Some(reply.into()),
        step: None,
        ..r.clone()
    }
}

/// An `unknown` or dangling `sending` record as a run reports it (a dangling one
/// worded by [`dangling_unknown`], with its own time).
fn as_unknown(rec: &Record) -> Record {
    match rec.state {
        State::Sending => Record {
            time: rec.time.clone(),
            ..dangling_unknown(rec)
        },
        _ => rec.clone(),
    }
}

/// Decides what to send. `journal` is the journal read at start.
pub fn plan(cfg: &Config, manifest: &Manifest, journal: &JournalState) -> Plan {
    let target = cfg.target.id();
    let mut p = Plan::default();
    for m in &manifest.messages {
        let info = &m.info;
        if !cfg.filter.wants_message(&info.queue_id) {
            continue;
        }
        if info.probe {
            p.skipped_probes += 1;
            continue;
        }
        let withhold = withhold_reason(cfg, m);
        let rcpts = plan_rcpts(cfg, m, journal, (&target, withhold.as_deref()), &mut p);
        if rcpts.is_empty() && !info.pending().any(|r| cfg.filter.wants_rcpt(&r.address.0)) {
            continue;
        }
        p.selected_messages += 1;
        if rcpts.is_empty() {
            continue;
        }
        let path = match store_path(&cfg.export_dir, m) {
            Ok(path) => path,
            Err(e) => {
                for r in &rcpts {
                    p.reports
                        .push(local_failure(&info.queue_id, &r.env.address, &e));
                }
                continue;
            }
        };
        p.messages.push(planned_message(m, path, rcpts));
    }
    p
}

/// Why `m` is withheld: its verdict is malware and `--include-malware` was not given
/// (`malware: Eicar-Test-Signature`).
fn withhold_reason(cfg: &Config, m: &ManifestMessage) -> Option<String> {
    use crate::filter::verdict::VerdictKind;
    let v = m.verdict.as_ref()?;
    if v.verdict != VerdictKind::Malware || cfg.include_malware {
        return None;
    }
    let name = v.virus.as_ref().and_then(|x| x.virus.as_deref());
    Some(format!(
        "malware: {}",
        name.unwrap_or("the manifest's verdict (no virus name recorded)")
    ))
}

/// A withheld pair as a run reports it.
fn withheld_report(queue_id: &str, r: &RecipientInfo, rec: &Record, journal: bool) -> PairReport {
    PairReport {
        queue_id: queue_id.to_string(),
        recipient: r.address.clone(),
        state: State::Withheld.as_str().into(),
        reply: rec.reply.clone(),
        from_journal: journal,
        time: Some(rec.time.clone()),
    }
}

/// Records in `p` that the pair `key` of `r` is withheld for `why`: from the journal
/// when its last record at `target` says so already, else as a new journal line.
fn withhold(
    p: &mut Plan,
    key: &PairKey,
    r: &RecipientInfo,
    last: Option<&Record>,
    why: &str,
    target: &str,
) {
    if let Some(rec) = last.filter(|rec| rec.state == State::Withheld) {
        p.withheld
            .push(withheld_report(&key.queue_id, r, rec, true));
        return;
    }
    let rec = Record {
        time: now(),
        target: target.to_string(),
        pair: key.clone(),
        state: State::Withheld,
        code: None,
        reply: Some(why.to_string()),
        step: None,
        attempt: 1,
        run: format!("{}-{}", now(), std::process::id()),
    };
    p.withheld
        .push(withheld_report(&key.queue_id, r, &rec, false));
    p.withhold.push(rec);
}

/// The recipients of `m` to send to `target`: each distinct selected pending pair the
/// journal does not settle and that is not withheld (`withhold`: why, for malware);
/// what the journal settles goes into `p` (already sent, failed, unknown, dangling,
/// delivered elsewhere), and so do the withheld pairs.
fn plan_rcpts(
    cfg: &Config,
    m: &ManifestMessage,
    journal: &JournalState,
    (target, withheld): (&str, Option<&str>),
    p: &mut Plan,
) -> Vec<PlannedRcpt> {
    let info = &m.info;
    let mut seen = HashSet::new();
    let mut rcpts = Vec::new();
    for r in info.pending() {
        if !cfg.filter.wants_rcpt(&r.address.0) {
            continue;
        }
        let env = RcptEnvelope {
            address: r.address.0.clone(),
            orcpt: r.orcpt.as_ref().map(|o| o.0.clone()),
            notify: r.notify.clone(),
        };
        if !seen.insert(env.clone()) {
            continue;
        }
        let key = PairKey::of(m, r);
        // A pair withheld by an earlier run is not settled: it is withheld again
        // below, or sent now (`--include-malware`).
        let last = journal.get(&key, target);
        if settled(cfg, last, &info.queue_id, r, p) {
            continue;
        }
        if let Some(why) = withheld {
            withhold(p, &key, r, last, why, target);
            continue;
        }
        if let Some(rec) = journal.delivered_elsewhere(&key, target).next() {
            p.elsewhere
                .push((info.queue_id.clone(), r.address.clone(), rec.clone()));
        }
        rcpts.push(PlannedRcpt { env, key });
    }
    rcpts
}

/// Whether the journal's record `rec` of a pair for this target settles it (sent,
/// failed without `--retry-failed`, unknown without `--resend-unknown`); records in
/// `p` what it says.
fn settled(
    cfg: &Config,
    rec: Option<&Record>,
    queue_id: &str,
    r: &RecipientInfo,
    p: &mut Plan,
) -> bool {
    let report = |rec: &Record, state: &str| PairReport {
        queue_id: queue_id.to_string(),
        recipient: r.address.clone(),
        state: state.into(),
        reply: rec.reply.clone(),
        from_journal: true,
        time: Some(rec.time.clone()),
    };
    match rec {
        Some(rec) if rec.state == State::Sent => {
            p.already_sent
                .push((queue_id.to_string(), r.address.clone(), rec.clone()));
            true
        }
        Some(rec) if rec.state == State::Failed && !cfg.retry_failed => {
            p.reports.push(report(rec, "failed"));
            true
        }
        Some(rec) if matches!(rec.state, State::Unknown | State::Sending) => {
            if rec.state == State::Sending {
                p.dangling.push(rec.clone());
            }
            if !cfg.resend_unknown {
                p.reports.push(report(&as_unknown(rec), "unknown"));
                return true;
            }
            false
        }
        _ => false,
    }
}

/// The planned message of `m`: its envelope, where its copy is, the recipients.
fn planned_message(m: &ManifestMessage, path: PathBuf, rcpts: Vec<PlannedRcpt>) -> PlannedMessage {
    let info = &m.info;
    PlannedMessage {
        queue_id: info.queue_id.clone(),
        sha256: m.exported.sha256.clone(),
        path,
        bytes: m.exported.bytes,
        env: MessageEnvelope {
            sender: info.sender.0.clone(),
            encoding: info.encoding.clone(),
            smtputf8_requested: info.smtputf8_requested || info.smtputf8_required,
            envelope_id: info.envelope_id.as_ref().map(|b| b.0.clone()),
            ret: info.ret.clone(),
            verp: info.verp.as_ref().map(|b| b.0.clone()),
        },
        smtputf8_required: info.smtputf8_required,
        rcpts,
        dsn: None,
    }
}

/// The name the DSNs give as the reporting MTA (and MAILER-DAEMON's domain):
/// `--reporting-mta`, else the secondary's name as the manifest records it.
pub fn reporting_mta(cfg: &Config, manifest: &Manifest) -> String {
    cfg.dsns
        .reporting_mta
        .clone()
        .or_else(|| manifest.source.myhostname.clone())
        .unwrap_or_else(|| manifest.source.host.clone())
}

/// Triage verdicts by (queue ID, sha256): the manifest's optional `messages[].verdict`
/// (a string, or an object with a `verdict` string), which the triage step writes.
pub type Verdicts = HashMap<(String, String), String>;

/// Reads the verdicts of `EXPORT_DIR/manifest.json`; none (an export without triage,
/// or an unreadable file: [`read_manifest`] reports that) is an empty map.
pub fn read_verdicts(dir: &Path) -> Verdicts {
    let Ok(text) = std::fs::read(dir.join("manifest.json")) else {
        return Verdicts::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return Verdicts::new();
    };
    let mut out = Verdicts::new();
    for m in v["messages"].as_array().into_iter().flatten() {
        let verdict = match &m["verdict"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o
                .get("verdict")
                .and_then(|x| x.as_str())
                .map(str::to_string),
            _ => None,
        };
        if let (Some(id), Some(sha), Some(verdict)) =
            (m["queue_id"].as_str(), m["sha256"].as_str(), verdict)
        {
            out.insert((id.to_string(), sha.to_string()), verdict);
        }
    }
    out
}

/// What happens to the DSNs owed now: sent (or written), or suppressed with a reason.
#[derive(Debug, Default)]
pub struct DsnDecisions {
    pub send: Vec<(dsn::Notice, PathBuf)>,
    pub suppressed: Vec<(dsn::Notice, PathBuf, String)>,
}

/// One message's failed pairs that someone is owed a DSN for.
pub(crate) struct Owed {
    to: dsn::Owed,
    /// Failures under the policy, each with why it is held (if it is).
    fresh: Vec<(dsn::Failure, Option<String>)>,
    /// Failures suppressed by an earlier run, sent now (`--send-suppressed`).
    forced: Vec<dsn::Failure>,
}

/// The DSNs owed now, decided by the backscatter policy (docs/reinject.md
/// "Backscatter"): for every selected message, its selected pairs that are `failed`
/// (and not sent or possibly delivered anywhere) whose DSN is not done yet (none, or
/// deferred; `unknown` only with `--resend-unknown`; `suppressed` only with
/// `--send-suppressed`) and that someone is owed ([`dsn::owed`]). The sender's DSN is
/// held for a content or sender refusal ([`dsn::content_refusal`]) and for a message
/// its verdict marks ([`dsn::verdict_hold`]); the postmaster's copy never is. Then at
/// most `per_sender` DSNs go to one address and `per_domain` to one domain, in
/// manifest order; the rest are suppressed. The same journal gives the same
/// decisions: `--dry-run` prints exactly what the run then does.
pub fn dsn_decisions(
    cfg: &Config,
    manifest: &Manifest,
    verdicts: &Verdicts,
    js: &JournalState,
    host: &str,
) -> DsnDecisions {
    let mut out = DsnDecisions::default();
    let mut per_addr: HashMap<String, usize> = HashMap::new();
    let mut per_domain: HashMap<String, usize> = HashMap::new();
    let pol = &cfg.dsns.policy;
    for m in &manifest.messages {
        let Some(o) = owed_of(cfg, m, verdicts, js) else {
            continue;
        };
        let Ok(path) = store_path(&cfg.export_dir, m) else {
            continue;
        };
        let mut held: BTreeMap<String, Vec<dsn::Failure>> = BTreeMap::new();
        let mut fresh = Vec::new();
        for (f, why) in o.fresh {
            match why {
                Some(w) => held.entry(w).or_default().push(f),
                None => fresh.push(f),
            }
        }
        let notice = |failures| make_notice(cfg, m, &o.to, failures, host);
        if !o.forced.is_empty() {
            out.send.push((notice(o.forced), path.clone()));
        }
        if !fresh.is_empty() {
            let n = notice(fresh);
            let addr = fold(&n.to_addr);
            let dom = addr.rsplit_once('@').map(|(_, d)| d.to_string());
            let a = per_addr.entry(addr.clone()).or_default();
            let d = dom.map(|d| per_domain.entry(d).or_default());
            if *a >= pol.per_sender {
                let why = format!(
                    "more than {} DSN(s) to {addr} in this run (--max-dsns-per-sender)",
                    pol.per_sender
                );
                out.suppressed.push((n, path.clone(), why));
            } else if d.as_ref().is_some_and(|d| **d >= pol.per_domain) {
                let why = format!(
                    "more than {} DSN(s) to the domain of {addr} in this run (--max-dsns-per-domain)",
                    pol.per_domain
                );
                out.suppressed.push((n, path.clone(), why));
            } else {
                *a += 1;
                if let Some(d) = d {
                    *d += 1;
                }
                out.send.push((n, path.clone()));
            }
        }
        for (why, failures) in held {
            out.suppressed.push((notice(failures), path.clone(), why));
        }
    }
    out
}

/// The failed pairs of `m` whose DSN is owed now ([`dsn_decisions`]), with the
/// policy's reason to hold each; `None` when there are none.
pub(crate) fn owed_of(
    cfg: &Config,
    m: &ManifestMessage,
    verdicts: &Verdicts,
    js: &JournalState,
) -> Option<Owed> {
    use journal::DsnState;
    let info = &m.info;
    if !cfg.filter.wants_message(&info.queue_id) || info.probe {
        return None;
    }
    let verdict = verdicts.get(&(info.queue_id.clone(), m.exported.sha256.clone()));
    let mut seen = HashSet::new();
    let mut o = Owed {
        to: dsn::Owed::Nobody(String::new()),
        fresh: Vec::new(),
        forced: Vec::new(),
    };
    for r in info.pending() {
        if !cfg.filter.wants_rcpt(&r.address.0) {
            continue;
        }
        let key = PairKey::of(m, r);
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some((rec, status::PairState::Failed)) = status::decide(js.records_of(&key)) else {
            continue;
        };
        let forced = match js.dsn.get(&key).map(|d| d.dsn) {
            Some(DsnState::Suppressed) if cfg.dsns.policy.send_suppressed => true,
            Some(s) if s.is_final() => continue,
            Some(DsnState::Sending | DsnState::Unknown) if !cfg.resend_unknown => continue,
            _ => false,
        };
        match dsn::owed(&info.sender.0, r.notify.as_deref()) {
            dsn::Owed::Nobody(_) => continue,
            to => o.to = to,
        }
        let f = failure(r, rec, key.clone());
        if forced {
            o.forced.push(f);
            continue;
        }
        let why = match o.to {
            dsn::Owed::Sender(_) => dsn::verdict_hold(verdict.map(String::as_str))
                .or_else(|| dsn::content_refusal(f.code, &f.reply)),
            _ => None,
        };
        o.fresh.push((f, why));
    }
    (!o.fresh.is_empty() || !o.forced.is_empty()).then_some(o)
}

/// What a DSN says about one failed pair.
fn failure(r: &RecipientInfo, rec: &Record, key: PairKey) -> dsn::Failure {
    dsn::Failure {
        original: r
            .original
            .as_ref()
            .filter(|o| !o.0.eq_ignore_ascii_case(&r.address.0))
            .map(|o| o.0.clone()),
        code: rec.code,
        reply: rec.reply.clone().unwrap_or_default(),
        step: rec.step.clone().filter(|s| s != "local"),
        local: rec.step.as_deref() == Some("local"),
        remote: Target::from_id(&rec.target)
            .map(|t| t.host)
            .unwrap_or_else(|| rec.target.clone()),
        time: rec.time.clone(),
        key,
    }
}

/// One DSN about `failures` of `m`: the header only unless the sender asked for the
/// full message (RET=FULL) or gave no RET and `--dsn-return full` says so (then up
/// to [`dsn::RETURN_LIMIT`]); RET=HDRS is always honoured.
fn make_notice(
    cfg: &Config,
    m: &ManifestMessage,
    to: &dsn::Owed,
    failures: Vec<dsn::Failure>,
    host: &str,
) -> dsn::Notice {
    let info = &m.info;
    let to_addr = match to {
        dsn::Owed::Sender(a) => a.0.clone(),
        _ => cfg.dsns.postmaster.clone(),
    };
    let keys: Vec<&PairKey> = failures.iter().map(|f| &f.key).collect();
    let message_id = dsn::Notice::make_message_id(&info.queue_id, &m.exported.sha256, &keys, host);
    let full = match info.ret.as_deref() {
        Some("FULL") => true,
        Some("HDRS") => false,
        _ => cfg.dsns.policy.return_full,
    };
    dsn::Notice {
        queue_id: info.queue_id.clone(),
        sha256: m.exported.sha256.clone(),
        to: to.clone(),
        to_addr,
        sender: info.sender.0.clone(),
        envelope_id: info.envelope_id.as_ref().map(|b| b.0.clone()),
        ret_hdrs: !full,
        smtputf8: info.smtputf8_requested || info.smtputf8_required,
        arrival_unix: info.arrival_unix,
        original_message_id: m
            .exported
            .message_id
            .as_ref()
            .map(|b| String::from_utf8_lossy(&b.0).into_owned()),
        failures,
        message_id,
    }
}

/// The journal lines that record `suppressed` DSNs as such, with their reason.
pub fn suppressed_lines(
    suppressed: &[(dsn::Notice, PathBuf, String)],
    run: &str,
) -> Vec<journal::DsnRecord> {
    let mut lines = Vec::new();
    for (n, _, why) in suppressed {
        for f in &n.failures {
            lines.push(dsn_line(
                n,
                f,
                "suppressed:",
                journal::DsnState::Suppressed,
                run,
                Some(why),
            ));
        }
    }
    lines
}

/// One DSN journal line about failure `f` reported by `n`.
fn dsn_line(
    n: &dsn::Notice,
    f: &dsn::Failure,
    target: &str,
    state: journal::DsnState,
    run: &str,
    reason: Option<&str>,
) -> journal::DsnRecord {
    journal::DsnRecord {
        time: now_rfc3339(),
        target: target.to_string(),
        pair: f.key.clone(),
        dsn: state,
        dsn_to: Bytes(n.to_addr.clone()),
        dsn_message_id: n.message_id.clone(),
        code: None,
        reply: None,
        reason: reason.map(str::to_string),
        attempt: 1,
        run: run.to_string(),
    }
}

/// The transactions that send `notices`: `MAIL FROM:<>` (BODY=8BITMIME when offered;
/// SMTPUTF8 for a UTF-8 recipient), one `RCPT TO` each, no DSN parameters.
pub fn dsn_plan(notices: Vec<(dsn::Notice, PathBuf)>, host: &str, now: i64) -> Plan {
    let mut p = Plan::default();
    for (n, path) in notices {
        let utf8_rcpt = !n.to_addr.is_ascii();
        p.selected_messages += 1;
        p.messages.push(PlannedMessage {
            queue_id: n.queue_id.clone(),
            sha256: n.sha256.clone(),
            path,
            bytes: 0,
            env: MessageEnvelope {
                sender: Vec::new(),
                encoding: Some("8bit".into()),
                smtputf8_requested: n.smtputf8 || utf8_rcpt,
                envelope_id: None,
                ret: None,
                verp: None,
            },
            smtputf8_required: utf8_rcpt,
            rcpts: vec![PlannedRcpt {
                env: RcptEnvelope {
                    address: n.to_addr.clone(),
                    orcpt: None,
                    notify: None,
                },
                key: PairKey::new(
                    &n.queue_id,
                    &n.sha256,
                    &Bytes(n.to_addr.clone()),
                    &None,
                    &None,
                ),
            }],
            dsn: Some(DsnJob {
                notice: n,
                host: host.to_string(),
                now,
            }),
        });
    }
    p
}

/// `--no-bounces`: writes each DSN as `EXPORT/bounces/<queue-id>.<hash>.eml` (CRLF,
/// 0600; the directory 0700; both fsynced) and returns the journal lines that record
/// it `written`. A DSN whose archive copy cannot be read is returned as a problem.
pub fn write_dsn_files(
    export: &Path,
    notices: Vec<(dsn::Notice, PathBuf)>,
    host: &str,
    now: i64,
    run: &str,
) -> (Vec<journal::DsnRecord>, Vec<PairReport>) {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = export.join("bounces");
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        for (n, _) in &notices {
            problems.push(local_failure(
                &n.queue_id,
                &n.to_addr,
                &format!("cannot create {}: {e}", dir.display()),
            ));
        }
        return (lines, problems);
    }
    for (n, path) in notices {
        let pm = plan_one(&n, path, host, now);
        let content = match load_content(&pm) {
            Ok(c) => dsn::to_crlf(&c),
            Err(e) => {
                problems.push(local_failure(&n.queue_id, &n.to_addr, &e));
                continue;
            }
        };
        let name = format!(
            "{}.eml",
            n.message_id
                .trim_matches(['<', '>'])
                .split(".dsn@")
                .next()
                .unwrap_or(&n.queue_id)
        );
        let file = dir.join(&name);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&file)
            .and_then(|mut f| {
                f.write_all(&content)?;
                f.sync_all()
            })
            .and_then(|_| std::fs::File::open(&dir)?.sync_all());
        if let Err(e) = written {
            problems.push(local_failure(
                &n.queue_id,
                &n.to_addr,
                &format!("cannot write {}: {e}", file.display()),
            ));
            continue;
        }
        let target = format!("file:bounces/{name}");
        for f in &n.failures {
            lines.push(dsn_line(
                &n,
                f,
                &target,
                journal::DsnState::Written,
                run,
                None,
            ));
        }
    }
    (lines, problems)
}

fn plan_one(n: &dsn::Notice, path: PathBuf, host: &str, now: i64) -> PlannedMessage {
    dsn_plan(vec![(n.clone(), path)], host, now)
        .messages
        .pop()
        .expect("one")
}

fn now_rfc3339() -> String {
    now()
}

/// A failure decided on this side without talking to the server (not journaled: it
/// is checked again on every run).
pub fn local_failure(queue_id: &str, rcpt: &[u8], reason: &str) -> PairReport {
    PairReport {
        queue_id: queue_id.to_string(),
        recipient: Bytes(rcpt.to_vec()),
        state: "failed".into(),
        reply: Some(reason.to_string()),
        from_journal: false,
        time: None,
    }
}

/// Reads an archive copy and checks it against the manifest's sha256 (a DSN: its
/// content).
pub fn load_content(m: &PlannedMessage) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    use sha2::{Digest, Sha256};
    if let Some(d) = &m.dsn {
        let mut copy = m.clone();
        copy.dsn = None;
        let original = load_content(&copy)?;
        let built = dsn::build(&d.notice, &d.host, &original, d.now);
        return Ok(std::borrow::Cow::Owned(dsn::from_crlf(&built.crlf)));
    }
    let data = std::fs::read(&m.path)
        .map_err(|e| format!("cannot read archive copy {}: {e}", m.path.display()))?;
    let got = hex::encode(Sha256::digest(&data));
    if !got.eq_ignore_ascii_case(&m.sha256) {
        return Err(format!(
            "archive copy {} does not match the manifest (sha256 {got}, manifest {}): not sent",
            m.path.display(),
            m.sha256
        ));
    }
    Ok(std::borrow::Cow::Owned(data))
}

/// `--dry-run`: the transactions a run would send, assuming the server offers every
/// extension used. Reads (and checks) every archive copy; connects to nothing.
pub fn dry_run(plan: &Plan) -> (Vec<PlannedTransaction>, Vec<PairReport>) {
    let ext = envelope::Extensions::all();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for m in &plan.messages {
        let content = match load_content(m) {
            Ok(c) => c,
            Err(e) => {
                for r in &m.rcpts {
                    problems.push(local_failure(&m.queue_id, &r.env.address, &e));
                }
                continue;
            }
        };
        let size = data::stuffed_len(&content);
        let mail = match envelope::mail_from(&m.env, size, &ext) {
            Ok((c, _)) => String::from_utf8_lossy(&c).into_owned(),
            Err(e) => {
                for r in &m.rcpts {
                    problems.push(local_failure(&m.queue_id, &r.env.address, &e));
                }
                continue;
            }
        };
        let mut rcpts = Vec::new();
        for r in &m.rcpts {
            match envelope::rcpt_to(&r.env, &ext) {
                Ok(c) => rcpts.push(String::from_utf8_lossy(&c).into_owned()),
                Err(e) => problems.push(local_failure(&m.queue_id, &r.env.address, &e)),
            }
        }
        if !rcpts.is_empty() {
            out.push(PlannedTransaction {
                queue_id: m.queue_id.clone(),
                size,
                mail,
                rcpts,
            });
        }
    }
    (out, problems)
}

/// Now, RFC 3339 UTC.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_thresholds() {
        let b = Breaker::default();
        assert!(!b.trips(9, 9), "below the count");
        assert!(b.trips(10, 10));
        assert!(!b.trips(10, 13), "76.9 %");
        assert!(b.trips(12, 15), "exactly 80 %");
        assert!(b.trips(10, 12), "83.3 %");
        assert!(!b.trips(79, 100));
        assert!(b.trips(80, 100));
    }

    #[test]
    fn targets() {
        let t = Target::parse("MX.example.com", false).unwrap();
        assert_eq!(t.id(), "smtp://mx.example.com:25");
        assert_eq!(
            Target::parse("10.0.0.1:2525", false).unwrap().id(),
            "smtp://10.0.0.1:2525"
        );
        assert_eq!(
            Target::parse("[::1]:24", true).unwrap().id(),
            "lmtp://[::1]:24"
        );
        assert_eq!(Target::parse("::1", true).unwrap().id(), "lmtp://[::1]:24");
        assert_eq!(Target::parse("[mx.example.com]", false).unwrap().port, 25);
        // one spelling, one id
        for (a, b) in [
            ("LocalHost.:2525", "localhost:2525"),
            ("[127.0.0.1]:25", "127.0.0.1"),
            ("[0:0:0:0:0:0:0:1]:2525", "[::1]:2525"),
            ("Mx1.Example.COM.", "mx1.example.com:25"),
        ] {
            assert_eq!(
                Target::parse(a, false).unwrap().id(),
                Target::parse(b, false).unwrap().id(),
                "{a} vs {b}"
            );
        }
        assert_ne!(
            Target::parse("localhost:25", false).unwrap().id(),
            Target::parse("127.0.0.1:25", false).unwrap().id()
        );
        for id in [
            "smtp://[::1]:25",
            "lmtp://mx.example.com:24",
            "smtp://10.0.0.1:2525",
        ] {
            assert_eq!(Target::from_id(id).unwrap().id(), id);
        }
        assert!(Target::parse("user@host", false).is_err());
        assert!(Target::parse("host:0", false).is_err());
        assert!(Target::parse("host:x", false).is_err());
        assert!(Target::parse("", false).is_err());
    }
}
