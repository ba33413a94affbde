//! Re-injection of an export into the recovered primary over SMTP or LMTP, exactly
//! once (issue #4; docs/reinject.md).
//!
//! Pipeline: [`plan`] reads the export's manifest and the journal and decides, per
//! (message, pending recipient) pair, whether to send it, skip it (already sent), or
//! report it (failed or unknown in an earlier run) → [`run`] hands the transactions to
//! [`worker`] threads (one connection each, a shared work queue, a token bucket for
//! `--rate`) which speak [`smtp`] with the [`envelope`] built from the queue's data and
//! the [`data`] stream of the archive copy, writing every outcome to the [`journal`]
//! (fsynced before the next transaction) → a [`Summary`].
//! Owns: the validated [`Config`], the [`Target`] identity, planning and the summary.
//! Never reads the queue directory; the export's archive copies are the source, each
//! checked against its manifest sha256 before it is sent.

pub mod data;
pub mod envelope;
pub mod journal;
pub mod smtp;
pub mod worker;
pub mod xtext;

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::manifest::{Manifest, ManifestMessage};
use crate::select::fold;
use envelope::{MessageEnvelope, RcptEnvelope};
use journal::{JournalState, PairKey, Record, State};
use smtp::ClientConfig;

/// Where the mail goes. Its [`Target::id`] is part of every journal key.
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
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?,
            None => default,
        };
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port,
            lmtp,
        })
    }

    /// `smtp://host:port` / `lmtp://host:port` (IPv6 hosts in brackets).
    pub fn id(&self) -> String {
        let proto = if self.lmtp { "lmtp" } else { "smtp" };
        if self.host.contains(':') {
            format!("{proto}://[{}]:{}", self.host, self.port)
        } else {
            format!("{proto}://{}:{}", self.host, self.port)
        }
    }
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
    pub journal: PathBuf,
    pub progress: bool,
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
    pub elapsed_seconds: f64,
    /// Messages accepted per second in this run.
    pub messages_per_second: f64,
    /// Every pair that is failed, deferred or unknown.
    pub problems: Vec<PairReport>,
    /// Things worth knowing (parameters a server could not take), with counts.
    pub notes: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// `--dry-run`: what would be sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedTransaction>,
}

impl Summary {
    /// Everything the selection covers was sent (now or before).
    pub fn all_sent(&self) -> bool {
        self.failed == 0 && self.deferred == 0 && self.unknown == 0 && self.aborted.is_none()
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
    pub warnings: Vec<String>,
}

/// Reads `EXPORT_DIR/manifest.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let p = dir.join("manifest.json");
    let text = std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a usable manifest: {e}", p.display()))
}

/// The archive copy's path, refusing anything that leaves the export directory.
fn store_path(dir: &Path, m: &ManifestMessage) -> Result<PathBuf, String> {
    let rel = Path::new(&m.store);
    if m.store.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "manifest store path {:?} is not inside the export",
            m.store
        ));
    }
    Ok(dir.join(rel))
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
            let key = PairKey {
                target: target.clone(),
                queue_id: info.queue_id.clone(),
                sha256: m.sha256.clone(),
                recipient: env.address.clone(),
                orcpt: env.orcpt.clone(),
                notify: env.notify.clone(),
            };
            let report = |rec: &Record, state: &str| PairReport {
                queue_id: info.queue_id.clone(),
                recipient: r.address.clone(),
                state: state.into(),
                reply: rec.reply.clone(),
                from_journal: true,
                time: Some(rec.time.clone()),
            };
            match journal.get(&key) {
                Some(rec) if rec.state == State::Sent => {
                    p.already_sent
                        .push((info.queue_id.clone(), r.address.clone(), rec.clone()));
                    continue;
                }
                Some(rec) if rec.state == State::Failed && !cfg.retry_failed => {
                    p.reports.push(report(rec, "failed"));
                    continue;
                }
                Some(rec) if matches!(rec.state, State::Unknown | State::Sending) => {
                    if rec.state == State::Sending {
                        p.dangling.push(rec.clone());
                    }
                    if !cfg.resend_unknown {
                        p.reports.push(report(rec, "unknown"));
                        continue;
                    }
                }
                _ => {}
            }
            rcpts.push(PlannedRcpt { env, key });
        }
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
        p.messages.push(PlannedMessage {
            queue_id: info.queue_id.clone(),
            sha256: m.sha256.clone(),
            path,
            bytes: m.bytes,
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
        });
    }
    p
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

/// Reads an archive copy and checks it against the manifest's sha256.
pub fn load_content(m: &PlannedMessage) -> Result<Vec<u8>, String> {
    use sha2::{Digest, Sha256};
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
    Ok(data)
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
        assert!(Target::parse("host:0", false).is_err());
        assert!(Target::parse("host:x", false).is_err());
        assert!(Target::parse("", false).is_err());
    }
}
