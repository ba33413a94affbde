//! Running the plan: `--connections` threads, each with its own session, taking
//! transactions from one shared work queue; a token bucket for `--rate`; retries with
//! backoff; every outcome written to the journal before the thread starts its next
//! transaction, and made durable by the next `fsync` (group commit: each
//! transaction's `sending` markers are durable before its final dot, and one
//! `fdatasync` serves every session waiting at that moment; the run ends with one).
//!
//! Owns: the transaction state machine (envelope → DATA → content → `sending` marker
//! → final dot → replies), how replies map to journal states (2xx sent, 4xx deferred,
//! 5xx failed, lost after the dot unknown), reconnecting, the run's tallies, and the
//! circuit breaker (mass permanent refusals stop the run; its refused pairs are
//! journaled `deferred` again).
//! In: a [`Plan`] and a [`Config`]; out: a [`Summary`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::envelope::{mail_from, rcpt_to};
use super::journal::{DOT_WRITTEN, DsnRecord, DsnState, GroupCommit, Journal, Line, Record, State};
use super::smtp::{Class, EnvelopeReplies, Reply, Session, Step, Unasked, violation};
use super::{Config, PairReport, Plan, PlannedMessage, Summary, load_content, local_failure, now};
use crate::bytes::Bytes;

/// Recipients per transaction at most (Postfix's default recipient limit is 1000).
const MAX_RCPTS: usize = 500;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// One transaction to attempt: a message and some of its recipients.
#[derive(Debug, Clone)]
struct Job {
    msg: usize,
    rcpts: Vec<usize>,
    attempt: u32,
    not_before: Instant,
}

#[derive(Default)]
struct QueueState {
    jobs: Vec<Job>,
    in_flight: usize,
}

/// The shared work queue.
struct WorkQueue {
    st: Mutex<QueueState>,
    cv: Condvar,
}

impl WorkQueue {
    /// The next job that is due, waiting for one; `None` when all is done or `stop`.
    /// `idle` is called once before the thread starts to wait.
    fn next(&self, stop: &AtomicBool, mut idle: impl FnMut()) -> Option<Job> {
        let mut st = self.st.lock().expect("queue lock");
        let mut waited = false;
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            if let Some(i) = st.jobs.iter().position(|j| j.not_before <= now) {
                st.in_flight += 1;
                return Some(st.jobs.remove(i));
            }
            if !waited && !st.jobs.is_empty() {
                // Close the session rather than keep it idle until a retry is due: the
                // retry then sees the server's current configuration (Postfix smtpd
                // reads changed tables only in a new session) and no idle timeout.
                waited = true;
                drop(st);
                idle();
                st = self.st.lock().expect("queue lock");
                continue;
            }
            if st.jobs.is_empty() && st.in_flight == 0 {
                return None;
            }
            let wait = st
                .jobs
                .iter()
                .map(|j| j.not_before.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            st = self.cv.wait_timeout(st, wait).expect("queue lock").0;
        }
    }

    fn done(&self, requeue: Vec<Job>) {
        let mut st = self.st.lock().expect("queue lock");
        st.in_flight -= 1;
        st.jobs.extend(requeue);
        drop(st);
        self.cv.notify_all();
    }

    fn drain(&self) -> Vec<Job> {
        std::mem::take(&mut self.st.lock().expect("queue lock").jobs)
    }
}

/// `--rate`: a token bucket holding at most one token.
struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimit {
    fn new(rate: f64) -> RateLimit {
        RateLimit {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
        }
    }
    /// Waits for this thread's turn.
    fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().expect("rate lock");
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }
}

/// What happened to one recipient in one transaction. Only [`Outcome::Accepted`]
/// becomes `sent`, and only the end-of-data step makes one, from a reply that step
/// allows: no other reply, however positive, can mark mail as sent.
#[derive(Debug, Clone)]
enum Outcome {
    /// The server took the message: its checked reply after the final dot.
    Accepted(Reply),
    /// A 4xx or 5xx reply and the step it answered (`None`: made up here, like
    /// 5.6.7): its class decides.
    Refused(Reply, Option<Step>),
    /// Not delivered, try again: a connection problem or a protocol violation before
    /// the final dot.
    Lost(String),
    /// After the final dot, no usable reply: may or may not be delivered.
    Unknown(String),
    /// Refused on this side (address cannot be sent); not journaled.
    Local(String),
}

impl Outcome {
    fn state(&self) -> State {
        match self {
            Outcome::Accepted(_) => State::Sent,
            Outcome::Refused(r, _) if r.is_permanent() => State::Failed,
            Outcome::Refused(..) | Outcome::Lost(_) => State::Deferred,
            Outcome::Unknown(_) => State::Unknown,
            Outcome::Local(_) => State::Failed,
        }
    }
    fn code(&self) -> Option<u16> {
        match self {
            Outcome::Accepted(r) | Outcome::Refused(r, _) => Some(r.code),
            _ => None,
        }
    }
    /// What the journal's `step` says: the command refused, or `local`.
    fn step(&self) -> Option<String> {
        match self {
            Outcome::Refused(_, Some(st)) => Some(st.command().to_string()),
            Outcome::Refused(_, None) => Some("local".to_string()),
            _ => None,
        }
    }
    fn text(&self) -> String {
        match self {
            Outcome::Accepted(r) | Outcome::Refused(r, _) => r.to_string(),
            Outcome::Lost(s) | Outcome::Unknown(s) | Outcome::Local(s) => s.clone(),
        }
    }
}

/// Tallies shared by the threads.
#[derive(Default)]
struct Tally {
    sent: usize,
    sent_messages: usize,
    transactions: usize,
    problems: Vec<PairReport>,
    notes: BTreeMap<String, usize>,
    aborted: Option<String>,
    refusals: Refusals,
}

/// What the circuit breaker counts in one run: distinct recipients (folded) the
/// primary answered, accepted, and refused permanently without ever accepting.
#[derive(Default)]
struct Refusals {
    tried: HashSet<String>,
    accepted: HashSet<String>,
    refused: HashSet<String>,
    /// Permanent refusals by reply (addresses in `<>` blanked), to name the most
    /// common one.
    replies: HashMap<String, usize>,
    /// The `failed` lines of this run's server refusals: made `deferred` again when
    /// the breaker trips.
    failed: Vec<Record>,
    tripped: bool,
}

impl Refusals {
    /// Counts one recipient's outcome; returns the breaker's message when this
    /// outcome trips it.
    fn count(&mut self, b: &super::Breaker, rcpt: &[u8], o: &Outcome) -> Option<String> {
        let a = crate::report::select::fold(rcpt);
        match o {
            Outcome::Accepted(_) => {
                self.refused.remove(&a);
                self.accepted.insert(a.clone());
            }
            Outcome::Refused(r, Some(_)) if r.is_permanent() => {
                if !self.accepted.contains(&a) {
                    self.refused.insert(a.clone());
                }
                *self
                    .replies
                    .entry(blank_addresses(&r.to_string()))
                    .or_default() += 1;
            }
            Outcome::Refused(..) => {}
            _ => return None,
        }
        self.tried.insert(a);
        if self.tripped || !b.trips(self.refused.len(), self.tried.len()) {
            return None;
        }
        self.tripped = true;
        Some(self.message())
    }

    /// The one line that says why the run stopped and what to check.
    fn message(&self) -> String {
        let (reply, n) = self
            .replies
            .iter()
            .max_by_key(|(r, n)| (**n, std::cmp::Reverse(r.as_str())))
            .map(|(r, n)| (r.as_str(), *n))
            .unwrap_or(("", 0));
        let code = reply.split_whitespace().next().and_then(|c| c.parse().ok());
        let check = match super::dsn::enhanced_code(code, reply).as_deref() {
            Some(s) if s.starts_with("5.1.") => {
                "check its recipient lookup (virtual_mailbox_maps, local_recipient_maps, relay_recipient_maps and the LDAP/SQL server behind them: `postmap -q ADDRESS MAP`) and its log"
            }
            Some(s) if s.starts_with("5.7.") => {
                "check that the listener for the backup accepts the backup (mynetworks, smtpd_recipient_restrictions, check_*_access, relay permission) and its log"
            }
            _ => "check the primary's log for these refusals and its configuration",
        };
        format!(
            "circuit breaker: the primary refused {} of the {} distinct recipients it answered permanently (most often \"{reply}\", {n} time(s)); that looks like a broken primary, not bad addresses: {check}. The refused pairs stay deferred (not failed) and no DSN was sent: once the primary is fixed, run the same command again; if the refusals are right, rerun with --accept-refusals",
            self.refused.len(),
            self.tried.len()
        )
    }
}

/// A reply with every `<…>` (the address) blanked, so refusals of different
/// recipients for one reason count as one reply.
fn blank_addresses(reply: &str) -> String {
    let mut out = String::new();
    let mut rest = reply;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => {
                out.push_str("<…>");
                rest = &rest[i + j + 1..];
            }
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

struct Shared<'a> {
    cfg: &'a Config,
    /// The journal's name of the target.
    target: String,
    plan: &'a Plan,
    run_id: String,
    queue: WorkQueue,
    rate: Option<RateLimit>,
    journal: GroupCommit<'a>,
    tally: Mutex<Tally>,
    stop: AtomicBool,
    progress: ProgressBar,
    /// Sessions that have connected at least once in this run.
    admitted: AtomicUsize,
}

impl Shared<'_> {
    fn abort(&self, why: String) {
        let mut t = self.tally.lock().expect("tally lock");
        if t.aborted.is_none() {
            t.aborted = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.queue.cv.notify_all();
    }

    /// The journal lines for one recipient's outcome: one pair line, or for a DSN one
    /// DSN line per failed pair it reports.
    fn records(
        &self,
        m: &PlannedMessage,
        ri: usize,
        state: State,
        o: &Outcome,
        attempt: u32,
    ) -> Vec<Line> {
        let r = &m.rcpts[ri];
        let reply = (state != State::Sending).then(|| o.text());
        match &m.dsn {
            None => vec![Line::Pair(Record {
                time: now(),
                target: self.target.clone(),
                pair: r.key.clone(),
                state,
                code: o.code(),
                reply,
                step: o.step(),
                attempt,
                run: self.run_id.clone(),
            })],
            Some(d) => d
                .notice
                .failures
                .iter()
                .map(|f| &f.key)
                .map(|k| {
                    Line::Dsn(DsnRecord {
                        time: now(),
                        target: self.target.clone(),
                        pair: k.clone(),
                        dsn: DsnState::from(state),
                        dsn_to: Bytes(r.env.address.clone()),
                        dsn_message_id: d.notice.message_id.clone(),
                        code: o.code(),
                        reply: reply.clone(),
                        reason: None,
                        attempt,
                        run: self.run_id.clone(),
                    })
                })
                .collect(),
        }
    }
}

/// Runs the plan with `journal` open; returns the summary of this run (the caller adds
/// what the plan decided from the journal).
pub fn execute(cfg: &Config, plan: &Plan, journal: &mut Journal) -> Summary {
    let start = Instant::now();
    let total: usize = plan.messages.iter().map(|m| m.rcpts.len()).sum();
    let progress = progress_bar(cfg.progress, total);
    let jobs = first_jobs(plan);
    let journal = match GroupCommit::new(journal) {
        Ok(j) => j,
        Err(e) => return journal_unusable(plan, &format!("cannot use the journal: {e}")),
    };
    let sh = Shared {
        cfg,
        target: cfg.target.id(),
        plan,
        run_id: format!("{}-{}", now(), std::process::id()),
        queue: WorkQueue {
            st: Mutex::new(QueueState { jobs, in_flight: 0 }),
            cv: Condvar::new(),
        },
        rate: cfg.rate.map(RateLimit::new),
        journal,
        tally: Mutex::new(Tally::default()),
        stop: AtomicBool::new(false),
        progress,
        admitted: AtomicUsize::new(0),
    };
    std::thread::scope(|s| {
        for _ in 0..cfg.connections.max(1) {
            s.spawn(|| worker(&sh));
        }
    });
    sh.progress.finish_and_clear();
    let mut tally = sh.tally.into_inner().expect("tally lock");
    if tally.refusals.tripped {
        keep_refusals_deferred(&sh.journal, &mut tally);
    }
    if let Err(e) = sh.journal.sync_all()
        && tally.aborted.is_none()
    {
        tally.aborted = Some(format!("cannot write the journal: {e}"));
    }
    let journal_syncs = sh.journal.syncs.load(Ordering::Relaxed);
    not_attempted(plan, sh.queue.drain(), &mut tally);
    let elapsed = start.elapsed().as_secs_f64();
    Summary {
        sent: tally.sent,
        transactions: tally.transactions,
        journal_syncs,
        connections: cfg.connections.max(1),
        elapsed_seconds: elapsed,
        messages_per_second: if elapsed > 0.0 {
            tally.sent_messages as f64 / elapsed
        } else {
            0.0
        },
        problems: tally.problems,
        notes: tally.notes,
        aborted: tally.aborted,
        breaker_tripped: tally.refusals.tripped,
        ..Summary::default()
    }
}

/// The progress bar on stderr over `total` pairs (`show`: `--progress`), else a
/// hidden one.
fn progress_bar(show: bool, total: usize) -> ProgressBar {
    if show {
        let pb = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} pairs  {per_sec}  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    }
}

/// The first attempt of every message: its recipients in chunks of [`MAX_RCPTS`], all
/// due now.
fn first_jobs(plan: &Plan) -> Vec<Job> {
    let mut jobs = Vec::new();
    let t0 = Instant::now();
    for (mi, m) in plan.messages.iter().enumerate() {
        let idx: Vec<usize> = (0..m.rcpts.len()).collect();
        for chunk in idx.chunks(MAX_RCPTS) {
            jobs.push(Job {
                msg: mi,
                rcpts: chunk.to_vec(),
                attempt: 1,
                not_before: t0,
            });
        }
    }
    jobs
}

/// The summary of a run that could not start (`why`): every planned pair deferred,
/// not attempted.
fn journal_unusable(plan: &Plan, why: &str) -> Summary {
    let problems = plan
        .messages
        .iter()
        .flat_map(|m| {
            m.rcpts.iter().map(|r| PairReport {
                queue_id: m.queue_id.clone(),
                recipient: Bytes(r.env.address.clone()),
                state: "deferred".into(),
                reply: Some(format!("not attempted: {why}")),
                from_journal: false,
                time: None,
            })
        })
        .collect();
    Summary {
        problems,
        aborted: Some(why.to_string()),
        ..Summary::default()
    }
}

/// The breaker tripped: every pair the primary refused permanently in this run is
/// journaled `deferred` again (a plain rerun tries it; no DSN is owed) and reported
/// so.
fn keep_refusals_deferred(journal: &GroupCommit<'_>, tally: &mut Tally) {
    const KEPT: &str = " (kept for a rerun: the circuit breaker stopped the run)";
    let lines: Vec<Record> = tally
        .refusals
        .failed
        .iter()
        .map(|r| Record {
            time: now(),
            state: State::Deferred,
            reply: Some(format!("{}{KEPT}", r.reply.as_deref().unwrap_or(""))),
            ..r.clone()
        })
        .collect();
    if let Err(e) = journal.write(&lines) {
        tally.aborted = Some(format!("cannot write the journal: {e}"));
        return;
    }
    let kept: HashSet<(&str, &[u8])> = lines
        .iter()
        .map(|r| (r.pair.queue_id.as_str(), r.pair.recipient.0.as_slice()))
        .collect();
    for p in &mut tally.problems {
        if p.state == "failed" && kept.contains(&(p.queue_id.as_str(), p.recipient.0.as_slice())) {
            p.state = "deferred".into();
            p.reply = Some(format!("{}{KEPT}", p.reply.as_deref().unwrap_or("")));
        }
    }
}

/// Jobs left when the run stopped early: not attempted (again), still deferred.
fn not_attempted(plan: &Plan, left: Vec<Job>, tally: &mut Tally) {
    for j in left {
        let m = &plan.messages[j.msg];
        for ri in j.rcpts {
            tally.problems.push(PairReport {
                queue_id: m.queue_id.clone(),
                recipient: Bytes(m.rcpts[ri].env.address.clone()),
                state: "deferred".into(),
                reply: Some(if tally.refusals.tripped {
                    "not attempted: the circuit breaker stopped the run (see standard error)".into()
                } else {
                    format!(
                        "not attempted: {}",
                        tally.aborted.as_deref().unwrap_or("run stopped")
                    )
                }),
                from_journal: false,
                time: None,
            });
        }
    }
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// One session's state across its jobs.
struct Conn {
    session: Option<Session>,
    /// Connection attempts that failed in a row.
    failures: u32,
    /// This session has connected at least once.
    admitted: bool,
}

fn worker(sh: &Shared<'_>) {
    let mut c = Conn {
        session: None,
        failures: 0,
        admitted: false,
    };
    while let Some(job) = sh.queue.next(&sh.stop, || {
        if let Some(s) = c.session.take() {
            s.quit();
        }
    }) {
        if let Some(r) = &sh.rate {
            r.acquire();
        }
        match run_job(sh, &mut c, job) {
            Ok(requeue) => sh.queue.done(requeue),
            Err(job) => {
                // More sessions than the primary admits (its process or per-client
                // limit): this one gives up, the job goes back untouched.
                sh.queue.done(vec![job]);
                break;
            }
        }
    }
    if let Some(s) = c.session {
        s.quit();
    }
}

enum Connected {
    Yes,
    /// Connecting failed; the reason to give the job.
    No(String),
    /// Connecting failed for a session that never connected while others did: the
    /// primary admits fewer sessions than `--connections`; this one stops.
    Surplus,
}

/// Opens a session, with backoff after failures.
fn ensure_session(sh: &Shared<'_>, c: &mut Conn) -> Connected {
    if c.session.is_some() {
        return Connected::Yes;
    }
    match Session::connect(&sh.cfg.client) {
        Ok(s) => {
            c.failures = 0;
            c.session = Some(s);
            if !c.admitted {
                c.admitted = true;
                sh.admitted.fetch_add(1, Ordering::SeqCst);
            }
            Connected::Yes
        }
        Err(e) => {
            let msg = e.to_string();
            if !c.admitted && sh.admitted.load(Ordering::SeqCst) > 0 {
                let mut t = sh.tally.lock().expect("tally lock");
                *t.notes
                    .entry(format!(
                        "session(s) not admitted by the server, run went on with fewer connections: {msg}"
                    ))
                    .or_default() += 1;
                return Connected::Surplus;
            }
            c.failures += 1;
            let failures = c.failures;
            if e.is_permanent() {
                sh.abort(format!("session refused by {}: {msg}", sh.cfg.target.id()));
            } else if failures >= sh.cfg.max_retries.max(1) {
                sh.abort(format!(
                    "{} failed {failures} times in a row: {msg}",
                    sh.cfg.target.id()
                ));
            } else {
                std::thread::sleep(backoff(sh.cfg.retry_delay, failures));
            }
            Connected::No(msg)
        }
    }
}

/// One attempt at a job; returns the jobs to retry, or `Err` with the job untouched
/// when this session is surplus ([`Connected::Surplus`]).
fn run_job(sh: &Shared<'_>, c: &mut Conn, job: Job) -> Result<Vec<Job>, Job> {
    let m = &sh.plan.messages[job.msg];
    let content = match load_content(m) {
        Ok(c) => c,
        Err(e) => return Ok(finish_all(sh, &job, Outcome::Local(e))),
    };
    // A reused connection may have been closed by the server while idle: one free retry.
    let mut fresh_retry = true;
    loop {
        let reused = c.session.is_some();
        match ensure_session(sh, c) {
            Connected::Yes => {}
            Connected::No(e) => return Ok(finish_all(sh, &job, Outcome::Lost(e))),
            Connected::Surplus => return Err(job),
        }
        let s = c.session.as_mut().expect("just opened");
        match transaction(sh, s, m, &job, &content) {
            Tx::Done(outs, keep) => {
                if !keep {
                    c.session = None;
                }
                return Ok(finish(sh, &job, outs));
            }
            Tx::StaleBeforeMail(e) => {
                c.session = None;
                if !(reused && fresh_retry) {
                    return Ok(finish_all(sh, &job, Outcome::Lost(e)));
                }
                fresh_retry = false;
            }
        }
    }
}

enum Tx {
    /// Outcomes, and whether the session is still usable.
    Done(Vec<(usize, Outcome)>, bool),
    /// The session failed at MAIL FROM (nothing happened yet).
    StaleBeforeMail(String),
}

fn lost(rcpts: &[usize], why: &str) -> Vec<(usize, Outcome)> {
    rcpts
        .iter()
        .map(|&r| (r, Outcome::Lost(why.to_string())))
        .collect()
}

/// `outs` plus every recipient in `rcpts` deferred for a protocol violation, with
/// the session dropped: after a reply the step does not allow, or a reply too many,
/// no later reply on that connection can be matched to its command.
fn violated(mut outs: Vec<(usize, Outcome)>, rcpts: &[usize], why: &str) -> Tx {
    let why = format!("protocol violation: {why}; not sent, will retry");
    outs.retain(|(r, _)| !rcpts.contains(r));
    outs.extend(lost(rcpts, &why));
    Tx::Done(outs, false)
}

/// The outcomes of a transaction so far, by recipient index.
type Outs = Vec<(usize, Outcome)>;

/// The commands of one transaction, ready to send.
struct Commands {
    mail: Vec<u8>,
    rcpts: Vec<Vec<u8>>,
    /// The recipients whose RCPT TO is in `rcpts`, in the same order.
    sendable: Vec<usize>,
    /// The recipients refused here (their RCPT TO cannot be written).
    outs: Outs,
}

/// The protocol steps of one transaction. Every reply is judged by what its step
/// allows ([`Reply::class`]); the line must be quiet (no reply nobody asked for)
/// before MAIL, after 354, before the final dot and after the last reply.
fn transaction(
    sh: &Shared<'_>,
    s: &mut Session,
    m: &PlannedMessage,
    job: &Job,
    content: &[u8],
) -> Tx {
    let c = match commands(sh, s, m, job, content) {
        Ok(c) => c,
        Err(tx) => return tx,
    };
    // A reused session may hold a late reply or the server's goodbye (421 after an
    // idle timeout): start on a fresh one then.
    match s.unasked() {
        Ok(Unasked::Nothing) => {}
        Ok(Unasked::Data(d)) => {
            return Tx::StaleBeforeMail(format!("the server sent {d} between transactions"));
        }
        Ok(Unasked::Closed) => {
            return Tx::StaleBeforeMail("the server closed the connection".into());
        }
        Err(e) => return Tx::StaleBeforeMail(e.to_string()),
    }
    sh.tally.lock().expect("tally lock").transactions += 1;
    let env = match s.envelope(&c.mail, &c.rcpts, true) {
        Ok(x) => x,
        Err(e) => return Tx::StaleBeforeMail(e.to_string()),
    };
    let (outs, accepted) = match judge_envelope(s, env, c.outs, &c.sendable) {
        Ok(x) => x,
        Err(tx) => return tx,
    };
    let outs = match send_data(s, content, outs, &accepted) {
        Ok(outs) => outs,
        Err(tx) => return tx,
    };
    let outs = match send_dot(sh, s, m, job, outs, &accepted) {
        Ok(outs) => outs,
        Err(tx) => return tx,
    };
    final_replies(sh, s, outs, &accepted)
}

/// The MAIL FROM and RCPT TO commands of `job` for this session (notes about
/// parameters the server cannot take go into the tally). Err: the transaction is
/// over before anything is sent (SMTPUTF8 required but not offered, an unwritable
/// sender, no recipient left).
fn commands(
    sh: &Shared<'_>,
    s: &Session,
    m: &PlannedMessage,
    job: &Job,
    content: &[u8],
) -> Result<Commands, Tx> {
    let all = |o: Outcome| {
        job.rcpts
            .iter()
            .map(|&r| (r, o.clone()))
            .collect::<Vec<_>>()
    };
    if m.smtputf8_required && !s.ext.smtputf8 {
        return Err(Tx::Done(
            all(Outcome::Refused(
                Reply::local(
                    550,
                    "5.6.7 SMTPUTF8 is required, but was not offered by the server (not sent, as Postfix would not)",
                ),
                None,
            )),
            true,
        ));
    }
    let size = super::data::stuffed_len(content);
    let (mail, notes) = match mail_from(&m.env, size, &s.ext) {
        Ok(x) => x,
        Err(e) => return Err(Tx::Done(all(Outcome::Local(e)), true)),
    };
    if !notes.is_empty() {
        let mut t = sh.tally.lock().expect("tally lock");
        for n in notes {
            *t.notes.entry(n).or_default() += 1;
        }
    }
    let mut outs = Vec::new();
    let mut sendable = Vec::new();
    let mut rcpts = Vec::new();
    for &ri in &job.rcpts {
        match rcpt_to(&m.rcpts[ri].env, &s.ext) {
            Ok(c) => {
                sendable.push(ri);
                rcpts.push(c);
            }
            Err(e) => outs.push((ri, Outcome::Local(e))),
        }
    }
    if sendable.is_empty() {
        return Err(Tx::Done(outs, true));
    }
    Ok(Commands {
        mail,
        rcpts,
        sendable,
        outs,
    })
}

/// Judges the replies to MAIL, RCPT and DATA. Ok: the outcomes so far and the
/// recipients accepted, with DATA answered 354. Err: the transaction is over.
fn judge_envelope(
    s: &mut Session,
    env: EnvelopeReplies,
    mut outs: Outs,
    sendable: &[usize],
) -> Result<(Outs, Vec<usize>), Tx> {
    match env.mail.class(Step::Mail) {
        Class::Positive => {}
        Class::Violation => {
            return Err(violated(
                outs,
                sendable,
                &violation(Step::Mail, &env.mail).to_string(),
            ));
        }
        _ => return Err(mail_refused(s, &env, outs, sendable)),
    }
    let mut accepted = Vec::new();
    let mut closing = false;
    for (&ri, rep) in sendable.iter().zip(&env.rcpts) {
        match rep.class(Step::Rcpt) {
            Class::Positive => accepted.push(ri),
            Class::Violation => {
                return Err(violated(
                    outs,
                    sendable,
                    &violation(Step::Rcpt, rep).to_string(),
                ));
            }
            _ => {
                closing |= rep.code == 421;
                outs.push((ri, Outcome::Refused(rep.clone(), Some(Step::Rcpt))));
            }
        }
    }
    let dreply = match env.data {
        Some(d) => d,
        None => {
            // Without pipelining DATA is sent only after an accepted RCPT.
            let keep = !closing && s.rset();
            return Err(Tx::Done(outs, keep));
        }
    };
    match dreply.class(Step::Data) {
        Class::Positive if accepted.is_empty() || closing => Err(violated(
            outs,
            sendable,
            &format!("DATA was answered {dreply} although no recipient is accepted"),
        )),
        Class::Positive => Ok((outs, accepted)),
        Class::Violation => Err(violated(
            outs,
            sendable,
            &violation(Step::Data, &dreply).to_string(),
        )),
        _ => {
            outs.extend(
                accepted
                    .iter()
                    .map(|&r| (r, Outcome::Refused(dreply.clone(), Some(Step::Data)))),
            );
            let keep = dreply.code != 421 && !closing && s.rset();
            Err(Tx::Done(outs, keep))
        }
    }
}

/// MAIL FROM was refused: every sendable recipient is refused with its reply (or the
/// session is stale on a 421, or the replies are out of order).
fn mail_refused(s: &mut Session, env: &EnvelopeReplies, mut outs: Outs, sendable: &[usize]) -> Tx {
    // A refused MAIL leaves nothing to accept: a RCPT or DATA accepted after it
    // means the replies are not the answers to these commands.
    let rcpt_ok = env
        .rcpts
        .iter()
        .any(|r| r.class(Step::Rcpt) == Class::Positive);
    let data_ok = env
        .data
        .as_ref()
        .is_some_and(|d| d.class(Step::Data) == Class::Positive);
    if rcpt_ok || data_ok {
        return violated(
            outs,
            sendable,
            &format!(
                "MAIL FROM was answered {} but a later command was accepted (replies out of order?)",
                env.mail
            ),
        );
    }
    if env.mail.code == 421 {
        return Tx::StaleBeforeMail(env.mail.to_string());
    }
    outs.extend(
        sendable
            .iter()
            .map(|&r| (r, Outcome::Refused(env.mail.clone(), Some(Step::Mail)))),
    );
    let keep = s.rset();
    Tx::Done(outs, keep)
}

/// After 354: checks that the line is quiet, sends the content, and checks again
/// before the final dot. Err: the transaction is over (the dot not sent).
fn send_data(
    s: &mut Session,
    content: &[u8],
    mut outs: Outs,
    accepted: &[usize],
) -> Result<Outs, Tx> {
    // 354: nothing else may be waiting (a reply too many would be read later as the
    // answer to the final dot).
    match s.unasked() {
        Ok(Unasked::Nothing) => {}
        Ok(Unasked::Data(d)) => {
            return Err(violated(
                outs,
                accepted,
                &format!("the server sent {d} after 354"),
            ));
        }
        Ok(Unasked::Closed) => {
            outs.extend(lost(accepted, "the server closed the connection after 354"));
            return Err(Tx::Done(outs, false));
        }
        Err(e) => {
            outs.extend(lost(accepted, &e.to_string()));
            return Err(Tx::Done(outs, false));
        }
    }
    if let Err(e) = s.send_content(content) {
        outs.extend(lost(accepted, &e.to_string()));
        return Err(Tx::Done(outs, false));
    }
    // Before the final dot the server must not have said anything.
    match s.unasked() {
        Ok(Unasked::Nothing) => Ok(outs),
        Ok(Unasked::Data(d)) => Err(violated(
            outs,
            accepted,
            &format!("the server sent {d} before the final dot (the dot was not sent)"),
        )),
        Ok(Unasked::Closed) => {
            outs.extend(lost(
                accepted,
                "the server closed the connection during the data (the dot was not sent)",
            ));
            Err(Tx::Done(outs, false))
        }
        Err(e) => {
            outs.extend(lost(accepted, &e.to_string()));
            Err(Tx::Done(outs, false))
        }
    }
}

/// The point of no return: records `sending` (fsynced), then sends the final dot and
/// records that it went out. Err: the transaction is over.
fn send_dot(
    sh: &Shared<'_>,
    s: &mut Session,
    m: &PlannedMessage,
    job: &Job,
    mut outs: Outs,
    accepted: &[usize],
) -> Result<Outs, Tx> {
    let markers: Vec<Line> = accepted
        .iter()
        .flat_map(|&ri| {
            sh.records(
                m,
                ri,
                State::Sending,
                &Outcome::Lost(String::new()),
                job.attempt,
            )
        })
        .collect();
    if let Err(e) = sh.journal.append(&markers) {
        sh.abort(format!("cannot write the journal: {e}"));
        let e = format!("not sent: cannot write the journal: {e}");
        outs.extend(lost(accepted, &e));
        return Err(Tx::Done(outs, false));
    }
    if let Err(e) = s.send_end_of_data() {
        let why = format!("connection broke while sending the final dot: {e}");
        outs.extend(accepted.iter().map(|&r| (r, Outcome::Unknown(why.clone()))));
        return Err(Tx::Done(outs, false));
    }
    mark_dot_written(sh, &markers);
    Ok(outs)
}

/// Reads the replies to the final dot (one per accepted recipient with LMTP, one
/// with SMTP) and maps them to outcomes; anything unclear is `unknown`.
fn final_replies(sh: &Shared<'_>, s: &mut Session, mut outs: Outs, accepted: &[usize]) -> Tx {
    let lmtp = sh.cfg.target.lmtp;
    let wanted = if lmtp { accepted.len() } else { 1 };
    let mut replies: Vec<Reply> = Vec::with_capacity(wanted);
    let mut failure = None;
    for _ in 0..wanted {
        match s.read_reply(Step::EndOfData) {
            Ok(r) if r.class(Step::EndOfData) == Class::Violation => {
                failure = Some(format!(
                    "protocol violation after the final dot: {}",
                    violation(Step::EndOfData, &r)
                ));
                break;
            }
            Ok(r) => replies.push(r),
            Err(e) => {
                failure = Some(format!("no reply after the final dot: {e}"));
                break;
            }
        }
    }
    if failure.is_none() {
        match s.unasked() {
            Ok(Unasked::Data(d)) => {
                failure = Some(format!(
                    "protocol violation after the final dot: the server sent {d} after the last reply, so the replies cannot be matched to the recipients"
                ));
            }
            Ok(Unasked::Nothing) | Ok(Unasked::Closed) | Err(_) => {}
        }
    }
    if let Some(why) = failure {
        // An LMTP reply read before a broken connection still counts; after a
        // violation no reply on this connection does.
        let trust = lmtp && !why.starts_with("protocol violation");
        for (i, &ri) in accepted.iter().enumerate() {
            let o = match replies.get(i) {
                Some(r) if trust => reply_outcome(r),
                _ => Outcome::Unknown(why.clone()),
            };
            outs.push((ri, o));
        }
        return Tx::Done(outs, false);
    }
    let mut keep = true;
    for (i, &ri) in accepted.iter().enumerate() {
        let r = if lmtp { &replies[i] } else { &replies[0] };
        keep &= r.code != 421;
        outs.push((ri, reply_outcome(r)));
    }
    if keep && outs.iter().any(|(_, o)| o.state() != State::Sent) {
        keep = s.rset();
    }
    Tx::Done(outs, keep)
}

/// Records (written, not fsynced) that the final dot of these `sending` markers went
/// out, so that a run killed now is later described by what is known.
fn mark_dot_written(sh: &Shared<'_>, markers: &[Line]) {
    let dots: Vec<Line> = markers
        .iter()
        .filter_map(|l| match l {
            Line::Pair(r) => Some(Line::Pair(Record {
                time: now(),
                step: Some(DOT_WRITTEN.into()),
                ..r.clone()
            })),
            Line::Dsn(_) => None,
        })
        .collect();
    if let Err(e) = sh.journal.write(&dots) {
        sh.abort(format!("cannot write the journal: {e}"));
    }
}

/// The outcome of a checked end-of-data reply (not a violation).
fn reply_outcome(r: &Reply) -> Outcome {
    match r.class(Step::EndOfData) {
        Class::Positive => Outcome::Accepted(r.clone()),
        _ => Outcome::Refused(r.clone(), Some(Step::EndOfData)),
    }
}

/// [`finish`] with the same outcome for every recipient of the job.
fn finish_all(sh: &Shared<'_>, job: &Job, o: Outcome) -> Vec<Job> {
    let outs = job.rcpts.iter().map(|&r| (r, o.clone())).collect();
    finish(sh, job, outs)
}

/// Journals the outcomes (written; durable with the next fsync), tallies them, and
/// returns the retries.
fn finish(sh: &Shared<'_>, job: &Job, outs: Vec<(usize, Outcome)>) -> Vec<Job> {
    let m = &sh.plan.messages[job.msg];
    let max = sh.cfg.max_retries.max(1);
    let recs: Vec<Line> = outs
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Local(_)))
        .flat_map(|(ri, o)| sh.records(m, *ri, o.state(), o, job.attempt))
        .collect();
    // Written now, durable with the next fsync (this or another session's next
    // `sending` marker, or the end of the run): a crash before then leaves the
    // `sending` marker last, i.e. `unknown`, never a second delivery.
    if let Err(e) = sh.journal.write(&recs) {
        sh.abort(format!("cannot write the journal: {e}"));
    }
    let mut retry = Vec::new();
    let mut t = sh.tally.lock().expect("tally lock");
    let mut any_sent = false;
    let mut tripped = None;
    if let (Some(b), None) = (&sh.cfg.breaker, &m.dsn) {
        for (ri, o) in &outs {
            tripped = tripped.or(t.refusals.count(b, &m.rcpts[*ri].env.address, o));
        }
        t.refusals
            .failed
            .extend(recs.iter().filter_map(|l| match l {
                Line::Pair(r) if r.state == State::Failed && r.step.as_deref() != Some("local") => {
                    Some(r.clone())
                }
                _ => None,
            }));
    }
    for (ri, o) in outs {
        let st = o.state();
        let addr = &m.rcpts[ri].env.address;
        if st == State::Deferred && job.attempt < max && !sh.stop.load(Ordering::SeqCst) {
            retry.push(ri);
            continue;
        }
        sh.progress.inc(1);
        match st {
            State::Sent => {
                t.sent += 1;
                any_sent = true;
            }
            _ => {
                let mut rep = local_failure(&m.queue_id, addr, &o.text());
                rep.state = st.as_str().into();
                t.problems.push(rep);
            }
        }
    }
    if any_sent {
        t.sent_messages += 1;
    }
    drop(t);
    if let Some(why) = tripped {
        sh.abort(why);
    }
    if retry.is_empty() {
        return Vec::new();
    }
    vec![Job {
        msg: job.msg,
        rcpts: retry,
        attempt: job.attempt + 1,
        not_before: Instant::now() + backoff(sh.cfg.retry_delay, job.attempt),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reinject::Breaker;

    fn refused(addr: &str) -> Outcome {
        Outcome::Refused(
            Reply::local(
                550,
                &format!("5.1.1 <{addr}>: Recipient address rejected: User unknown"),
            ),
            Some(Step::Rcpt),
        )
    }

    fn accepted() -> Outcome {
        Outcome::Accepted(Reply::local(250, "2.0.0 Ok: queued as X"))
    }

    /// What the breaker says after `addr` is refused (550 5.1.1, naming it).
    fn refuse(r: &mut Refusals, b: &Breaker, addr: &str) -> Option<String> {
        r.count(b, addr.as_bytes(), &refused(addr))
    }

    /// What the breaker says after `addr` is accepted.
    fn accept(r: &mut Refusals, b: &Breaker, addr: &str) -> Option<String> {
        r.count(b, addr.as_bytes(), &accepted())
    }

    #[test]
    fn one_address_refused_many_times_never_trips() {
        let b = Breaker::default();
        let mut r = Refusals::default();
        for _ in 0..500 {
            assert!(refuse(&mut r, &b, "nosuch@example.com").is_none());
        }
        assert_eq!((r.refused.len(), r.tried.len()), (1, 1));
    }

    #[test]
    fn trips_at_the_tenth_distinct_refusal_with_the_common_reply() {
        let b = Breaker::default();
        let mut r = Refusals::default();
        for i in 0..9 {
            assert!(
                refuse(&mut r, &b, &format!("u{i}@example.com")).is_none(),
                "{i}"
            );
        }
        // just below the count: 9 of 9 refused
        let why = r
            .count(&b, b"U9@Example.com", &refused("u9@example.com"))
            .expect("10 of 10 trips");
        assert!(
            why.contains("refused 10 of the 10 distinct recipients"),
            "{why}"
        );
        assert!(
            why.contains("\"550 5.1.1 <…>: Recipient address rejected: User unknown\", 10 time(s)"),
            "{why}"
        );
        assert!(why.contains("recipient lookup"), "{why}");
        // it trips once
        assert!(refuse(&mut r, &b, "x@example.com").is_none());
    }

    #[test]
    fn percentage_just_below_and_above() {
        let b = Breaker::default();
        // 3 accepted, then 10 refused: 10 of 13 = 76.9 % — no trip; an 11th refused
        // (11 of 14 = 78.6 %) neither; a 12th (12 of 15 = 80 %) trips
        let mut r = Refusals::default();
        for i in 0..3 {
            assert!(accept(&mut r, &b, &format!("ok{i}@x")).is_none());
        }
        for i in 0..11 {
            assert!(refuse(&mut r, &b, &format!("no{i}@x")).is_none(), "{i}");
        }
        assert!(refuse(&mut r, &b, "no11@x").is_some());
        // a refused address accepted later does not count as refused
        let mut r = Refusals::default();
        for i in 0..10 {
            let a = format!("no{i}@x");
            accept(&mut r, &b, &a);
            assert!(refuse(&mut r, &b, &a).is_none());
        }
        assert_eq!(r.refused.len(), 0);
        // the flags move both thresholds
        let b = Breaker {
            min_refused: 3,
            percent: 50,
        };
        let mut r = Refusals::default();
        accept(&mut r, &b, "a@x");
        accept(&mut r, &b, "b@x");
        refuse(&mut r, &b, "c@x");
        refuse(&mut r, &b, "d@x");
        assert!(refuse(&mut r, &b, "e@x").is_some(), "3 of 5");
    }
}
