//! `mxsalvage reinject`: turns the flags into a [`Config`], reads the manifest and the
//! journal, runs (or, with `--dry-run`, prints) the plan, and prints the summary.
//! Exit 0 when every selected pair is sent (now or before) or withheld (malware: a
//! decision, listed), 1 when some are failed, deferred or unknown (all listed), 2 on
//! usage or fatal errors.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use mxsalvage::exit::Exit;
use mxsalvage::filter::FilterSet;
use mxsalvage::reinject::Verdicts;
use mxsalvage::reinject::journal::{Journal, JournalState};
use mxsalvage::reinject::scan::scan_unjudged;
use mxsalvage::reinject::smtp::{ClientConfig, Security};
use mxsalvage::reinject::{
    Bounces, Breaker, Config, DsnConfig, DsnDecisions, DsnPolicy, Filter, PairReport, Plan,
    PlannedDsn, Summary, Target, TargetInfo, dangling_unknown, dry_run, dsn_decisions, dsn_plan,
    envelope, now, plan, read_manifest, read_verdicts, refusal, reporting_mta, suppressed_lines,
    worker, write_dsn_files,
};

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".into())
}

/// The password: the file's first line without its line end.
fn read_password(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        bail!("the password file {} is empty", path.display());
    }
    Ok(pw)
}

/// A positive number of seconds (at most a day) as a duration.
fn seconds(v: f64, flag: &str) -> Result<Duration> {
    if !(v > 0.0 && v <= 86400.0) {
        bail!("{flag} must be a number of seconds between 0 and 86400 (e.g. 60 or 0.5)");
    }
    Ok(Duration::from_secs_f64(v))
}

/// Checks the pacing flags: connections, rate, retries and retry delay.
fn check_pacing(a: &crate::cli::args::ReinjectArgs) -> Result<()> {
    if a.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if let Some(r) = a.rate
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate must be a positive number of messages per second");
    }
    if a.max_retries == 0 {
        bail!("--max-retries must be at least 1 (it counts attempts)");
    }
    if !(a.retry_delay >= 0.0 && a.retry_delay.is_finite()) {
        bail!("--retry-delay must be a number of seconds");
    }
    Ok(())
}

/// The SMTP/LMTP client's settings for `target`: security, login, HELO name, timeouts.
fn client(a: &crate::cli::args::ReinjectArgs, target: &Target) -> Result<ClientConfig> {
    let security = crate::cli::chosen(
        [
            (a.no_tls, Security::Plain),
            (a.tls, Security::Implicit),
            (a.starttls, Security::StartTls),
        ],
        Security::Opportunistic,
    );
    let auth = match (&a.auth_user, &a.auth_password_file) {
        (Some(u), Some(f)) => Some((u.clone(), read_password(f)?)),
        _ => None,
    };
    let helo = a.helo.clone().unwrap_or_else(hostname);
    if helo.is_empty() || !helo.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("--helo must be a host name without spaces");
    }
    Ok(ClientConfig {
        host: target.host.clone(),
        port: target.port,
        lmtp: target.lmtp,
        security,
        insecure: a.insecure,
        helo,
        auth,
        timeout: seconds(a.timeout, "--timeout")?,
        dot_timeout: seconds(a.dot_timeout, "--dot-timeout")?,
    })
}

/// Where bounces go: files only (`--no-bounces`), `--bounce-via`, or the target itself
/// with the same client settings.
fn bounces(
    a: &crate::cli::args::ReinjectArgs,
    target: &Target,
    client: &ClientConfig,
) -> Result<Bounces> {
    Ok(if a.no_bounces {
        Bounces::Files
    } else if let Some(url) = &a.bounce_via {
        let (lmtp, rest) = if let Some(r) = url.strip_prefix("smtp://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("lmtp://") {
            (true, r)
        } else if url.contains("://") {
            bail!(
                "--bounce-via {url:?}: use smtp://HOST[:PORT], lmtp://HOST[:PORT] or HOST[:PORT]"
            );
        } else {
            (false, url.as_str())
        };
        let t = Target::parse(rest.trim_end_matches('/'), lmtp)
            .map_err(|e| anyhow::anyhow!("--bounce-via: {e}"))?;
        let mut c = client.clone();
        c.host = t.host.clone();
        c.port = t.port;
        c.lmtp = t.lmtp;
        Bounces::Send {
            target: t,
            client: c,
        }
    } else {
        Bounces::Send {
            target: target.clone(),
            client: client.clone(),
        }
    })
}

/// Which recipients, domains and queue IDs to send (lower-cased addresses).
fn filter(a: &crate::cli::args::ReinjectArgs) -> Filter {
    Filter {
        recipients: a.recipient.iter().map(|r| r.to_lowercase()).collect(),
        domains: a
            .domain
            .iter()
            .map(|d| d.trim_start_matches('@').to_lowercase())
            .collect(),
        ids: a.id.iter().cloned().collect::<HashSet<_>>(),
    }
}

/// The flags checked and turned into the re-injection's [`Config`].
fn config(a: &crate::cli::args::ReinjectArgs) -> Result<Config> {
    check_pacing(a)?;
    let target = Target::parse(&a.to, a.lmtp).map_err(anyhow::Error::msg)?;
    let client = client(a, &target)?;
    let bounces = bounces(a, &target, &client)?;
    let postmaster = a.postmaster.trim().to_string();
    if postmaster.is_empty() || envelope::smtp_path(postmaster.as_bytes()).is_err() {
        bail!("--postmaster must be an address");
    }
    let (dsn_policy, breaker) = backscatter(a)?;
    let reporting_mta = match &a.reporting_mta {
        Some(r)
            if r.is_empty()
                || !r.bytes().all(|b| b.is_ascii_graphic())
                || r.contains(['<', '>', '@']) =>
        {
            bail!("--reporting-mta must be a host name")
        }
        r => r.clone(),
    };
    Ok(Config {
        export_dir: a.from.clone(),
        client,
        target,
        connections: a.connections,
        rate: a.rate,
        filter: filter(a),
        max_retries: a.max_retries,
        retry_delay: Duration::from_secs_f64(a.retry_delay),
        retry_failed: a.retry_failed,
        resend_unknown: a.resend_unknown,
        new_target: a.new_target,
        include_malware: a.include_malware,
        journal: a
            .journal
            .clone()
            .unwrap_or_else(|| a.from.join("reinject-journal.jsonl")),
        progress: !a.quiet && std::io::stderr().is_terminal(),
        dsns: DsnConfig {
            bounces,
            postmaster: postmaster.into_bytes(),
            reporting_mta,
            policy: dsn_policy,
        },
        breaker,
    })
}

/// The backscatter policy's settings, and the circuit breaker of
/// `--breaker-refused`/`--breaker-percent` (none with `--accept-refusals`).
fn backscatter(a: &crate::cli::args::ReinjectArgs) -> Result<(DsnPolicy, Option<Breaker>)> {
    if !(1..=100).contains(&a.breaker_percent) {
        bail!("--breaker-percent must be between 1 and 100");
    }
    let policy = DsnPolicy {
        return_full: a.dsn_return == "full",
        per_sender: a.max_dsns_per_sender,
        per_domain: a.max_dsns_per_domain,
        send_suppressed: a.send_suppressed,
    };
    let breaker = (!a.accept_refusals).then_some(Breaker {
        min_refused: a.breaker_refused,
        percent: a.breaker_percent,
    });
    Ok((policy, breaker))
}

/// The parts of the summary that come from the plan (journal decisions).
fn base_summary(cfg: &Config, info: &TargetInfo, p: &Plan, dry: bool) -> Summary {
    let mut s = Summary {
        target: cfg.target.id(),
        target_info: info.clone(),
        journal: cfg.journal.display().to_string(),
        dry_run: dry,
        messages: p.selected_messages,
        already_sent: p.already_sent.len(),
        skipped_probes: p.skipped_probes,
        warnings: p.warnings.clone(),
        ..Summary::default()
    };
    s.problems = p.reports.clone();
    s.withheld = p.withheld.len();
    s.withheld_pairs = p.withheld.clone();
    s
}

/// Problems in manifest order (message, then recipient), whatever order the sessions
/// finished in: the output is the same at any `--connections`.
fn sort_problems(s: &mut Summary, manifest: &mxsalvage::manifest::Manifest) {
    let order: std::collections::HashMap<&str, usize> = manifest
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.info.queue_id.as_str(), i))
        .collect();
    let rcpt_order = |id: &str, r: &[u8]| {
        order
            .get(id)
            .and_then(|&i| {
                manifest.messages[i]
                    .info
                    .recipients
                    .iter()
                    .position(|x| x.address.0 == r)
            })
            .unwrap_or(usize::MAX)
    };
    s.problems.sort_by_key(|p| {
        (
            order
                .get(p.queue_id.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            rcpt_order(&p.queue_id, &p.recipient.0),
        )
    });
}

fn count(s: &mut Summary) {
    s.failed = s.problems.iter().filter(|p| p.state == "failed").count();
    s.deferred = s.problems.iter().filter(|p| p.state == "deferred").count();
    s.unknown = s.problems.iter().filter(|p| p.state == "unknown").count();
}

/// Refuses a run that would send pairs already sent to another target.
fn check_target(cfg: &Config, p: &Plan, info: &TargetInfo) -> Result<()> {
    if cfg.new_target {
        return Ok(());
    }
    match refusal(p, info, cfg.target.lmtp) {
        Some(why) => bail!(why),
        None => Ok(()),
    }
}

/// The verdicts the DSN policy reads: the manifest's, and with filters given, those of
/// the messages owed a DSN that it has none for ([`scan_unjudged`]).
fn verdicts(
    cfg: &mxsalvage::reinject::Config,
    manifest: &mxsalvage::manifest::Manifest,
    js: &JournalState,
    filters: Option<&FilterSet>,
) -> Verdicts {
    let mut v = read_verdicts(&cfg.export_dir);
    if let Some(f) = filters {
        for n in scan_unjudged(cfg, manifest, &mut v, js, f) {
            eprintln!("mxsalvage: warning: {n}");
        }
    }
    v
}

pub fn run(a: crate::cli::args::ReinjectArgs) -> Result<Exit> {
    let cfg = config(&a)?;
    let filters = super::export::filter_set(&a.scan, false)?;
    let manifest = read_manifest(&cfg.export_dir).map_err(anyhow::Error::msg)?;
    // A filter asked for must be there before anything is sent.
    if let Some(f) = &filters {
        f.check()
            .map_err(|e| anyhow::anyhow!("{e}; nothing was sent"))?;
    }
    let info = cfg
        .target
        .info(cfg.client.security.describe(cfg.client.insecure));
    if a.dry_run {
        let js = JournalState::read(&cfg.journal)
            .with_context(|| format!("cannot read the journal {}", cfg.journal.display()))?;
        for w in &js.warnings {
            eprintln!("mxsalvage: warning: {}: {w}", cfg.journal.display());
        }
        let p = plan(&cfg, &manifest, &js);
        check_target(&cfg, &p, &info)?;
        let (planned, problems) = dry_run(&p);
        let mut s = base_summary(&cfg, &info, &p, true);
        s.problems.extend(problems);
        s.transactions = planned.len();
        s.planned = planned;
        let host = reporting_mta(&cfg, &manifest);
        let v = verdicts(&cfg, &manifest, &js, filters.as_ref());
        let d = dsn_decisions(&cfg, &manifest, &v, &js, &host);
        list_dsns(&mut s, &d);
        sort_problems(&mut s, &manifest);
        count(&mut s);
        if a.json {
            print_json(&s)?;
        } else {
            print_dry_run(&s, &p, &cfg)?;
        }
        return Ok(Exit::partial_if(!s.all_sent()));
    }
    if let Some(e) = &info.resolve_error {
        bail!("cannot resolve {} ({e}): check --to", cfg.target.host);
    }
    let (mut journal, js) = Journal::open(&cfg.journal)
        .with_context(|| format!("cannot open the journal {}", cfg.journal.display()))?;
    for w in &js.warnings {
        eprintln!("mxsalvage: warning: {}: {w}", cfg.journal.display());
    }
    let p = plan(&cfg, &manifest, &js);
    check_target(&cfg, &p, &info)?;
    if !a.json {
        let mut o = std::io::stdout().lock();
        writeln!(o, "target: {}", info.describe())?;
        o.flush()?;
    }
    // A `sending` marker without an outcome: the run stopped at the point of no return.
    // Withheld pairs (malware) are journaled with it: final, never sent by a rerun.
    let mut unknown: Vec<_> = p.dangling.iter().map(dangling_unknown).collect();
    unknown.extend(p.withhold.iter().cloned());
    journal
        .append(&unknown)
        .with_context(|| format!("cannot write the journal {}", cfg.journal.display()))?;
    let mut s = base_summary(&cfg, &info, &p, false);
    let r = worker::execute(&cfg, &p, &mut journal);
    s.sent = r.sent;
    s.transactions = r.transactions;
    s.connections = r.connections;
    s.journal_syncs = r.journal_syncs;
    s.elapsed_seconds = r.elapsed_seconds;
    s.messages_per_second = r.messages_per_second;
    s.problems.extend(r.problems);
    s.notes = r.notes;
    s.aborted = r.aborted;
    s.breaker_tripped = r.breaker_tripped;
    if s.aborted.is_none() {
        bounce(&cfg, &manifest, &mut journal, &mut s, filters.as_ref())?;
    }
    sort_problems(&mut s, &manifest);
    count(&mut s);
    if a.json {
        print_json(&s)?;
    } else {
        print_summary(&s)?;
    }
    if let Some(why) = &s.aborted {
        eprintln!("mxsalvage: reinject stopped early: {why}");
        return Ok(Exit::Fatal);
    }
    Ok(Exit::partial_if(!s.all_sent()))
}

/// The DSNs owed after the run: sent through the bounce target (or written as files),
/// journaled like the pairs.
fn bounce(
    cfg: &Config,
    manifest: &mxsalvage::manifest::Manifest,
    journal: &mut Journal,
    s: &mut Summary,
    filters: Option<&FilterSet>,
) -> Result<()> {
    let js = JournalState::read(&cfg.journal)
        .with_context(|| format!("cannot read the journal {}", cfg.journal.display()))?;
    let host = reporting_mta(cfg, manifest);
    let d = dsn_decisions(
        cfg,
        manifest,
        &verdicts(cfg, manifest, &js, filters),
        &js,
        &host,
    );
    list_dsns(s, &d);
    let run = format!("{}-{}", now(), std::process::id());
    journal
        .append(&suppressed_lines(&d.suppressed, &run))
        .with_context(|| format!("cannot write the journal {}", cfg.journal.display()))?;
    let notices = d.send;
    if notices.is_empty() {
        return Ok(());
    }
    let when = mxsalvage::timefmt::now();
    match &cfg.dsns.bounces {
        Bounces::Files => {
            let n = notices.len();
            let (lines, problems) = write_dsn_files(&cfg.export_dir, notices, &host, when, &run);
            journal
                .append(&lines)
                .with_context(|| format!("cannot write the journal {}", cfg.journal.display()))?;
            s.dsns_written = n - problems.len();
            s.dsn_problems.extend(problems);
        }
        Bounces::Send { target, client } => {
            let dplan = dsn_plan(notices, &host, when);
            let mut dcfg = cfg.clone();
            dcfg.breaker = None;
            dcfg.target = target.clone();
            dcfg.client = client.clone();
            let r = worker::execute(&dcfg, &dplan, journal);
            s.dsns_sent = r.sent;
            s.transactions += r.transactions;
            s.journal_syncs += r.journal_syncs;
            s.dsn_problems.extend(r.problems);
            for (k, v) in r.notes {
                *s.notes.entry(k).or_default() += v;
            }
            if let Some(why) = r.aborted {
                s.dsn_problems.push(mxsalvage::reinject::local_failure(
                    "",
                    b"",
                    &format!("sending DSNs stopped early: {why}"),
                ));
            }
        }
    }
    Ok(())
}

/// The summary's lists of the DSNs to send and those suppressed.
fn list_dsns(s: &mut Summary, d: &DsnDecisions) {
    s.planned_dsns = d.send.iter().map(|(n, _)| PlannedDsn::of(n)).collect();
    s.suppressed_dsns = d
        .suppressed
        .iter()
        .map(|(n, _, why)| PlannedDsn {
            reason: Some(why.clone()),
            ..PlannedDsn::of(n)
        })
        .collect();
}

fn print_json(s: &Summary) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, s)?;
    writeln!(out)?;
    Ok(())
}

fn print_dry_run(s: &Summary, p: &Plan, cfg: &Config) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "# target: {}", s.target_info.describe())?;
    writeln!(
        o,
        "# dry run: nothing is sent. Parameters assume the server offers SIZE, 8BITMIME, SMTPUTF8, DSN (and XVERP)."
    )?;
    for t in &s.planned {
        writeln!(o, "\n# {} ({} bytes in DATA form)", t.queue_id, t.size)?;
        writeln!(o, "{}", t.mail)?;
        for r in &t.rcpts {
            writeln!(o, "{r}")?;
        }
    }
    if !p.already_sent.is_empty() {
        writeln!(o, "\n# skipped, the journal says sent:")?;
        for (id, rcpt, rec) in &p.already_sent {
            writeln!(
                o,
                "#   {id} {} at {}: {}",
                rcpt.display(),
                rec.time,
                rec.reply.as_deref().unwrap_or("")
            )?;
        }
    }
    write_withheld(&mut o, s, "# ")?;
    write_problems(&mut o, s)?;
    write_dsns(&mut o, s, "#   ")?;
    if !s.planned.is_empty() {
        writeln!(o, "\n# {}", policy_note(cfg))?;
    }
    writeln!(
        o,
        "\n# {} transaction(s) would be sent; {} pair(s) already sent; {} failed, {} unknown{} (not sent); {} DSN(s) owed{}",
        s.planned.len(),
        s.already_sent,
        s.failed,
        s.unknown,
        withheld_count(s),
        s.planned_dsns.len(),
        if s.suppressed_dsns.is_empty() {
            String::new()
        } else {
            format!(", {} suppressed", s.suppressed_dsns.len())
        }
    )?;
    Ok(())
}

/// What happens to refusals of the run to come (the dry run cannot know them yet).
fn policy_note(cfg: &Config) -> String {
    let limits = format!(
        "at most {} per sender address and {} per domain",
        cfg.dsns.policy.per_sender, cfg.dsns.policy.per_domain
    );
    let breaker = match cfg.breaker {
        Some(b) => format!(
            "; none at all if the circuit breaker trips (at least {} distinct recipients refused, {} % of those answered)",
            b.min_refused, b.percent
        ),
        None => String::new(),
    };
    format!(
        "DSNs for refusals of this run are decided after it by the backscatter policy: none for content or sender refusals (5.7.x, or spam/policy/blocked/blacklisted/virus without an enhanced code) or spam/malware verdicts, {}, {limits}{breaker}",
        if cfg.dsns.policy.return_full {
            "the message returned up to 50,000 bytes"
        } else {
            "the header only unless RET=FULL"
        }
    )
}

/// The DSNs owed (to be sent) and those the backscatter policy suppresses, with why.
fn write_dsns(o: &mut impl Write, s: &Summary, indent: &str) -> Result<()> {
    let dsn_line = |o: &mut dyn Write, d: &PlannedDsn| -> Result<()> {
        for (rcpt, reply) in &d.failures {
            writeln!(
                o,
                "{indent}{} to {}: {}: {reply}",
                d.queue_id,
                d.to.display(),
                rcpt.display()
            )?;
        }
        Ok(())
    };
    let hash = if s.dry_run { "# " } else { "" };
    if !s.planned_dsns.is_empty() {
        writeln!(
            o,
            "\n{hash}DSNs {} for recipients the journal lists as failed (after the run, MAIL FROM:<>):",
            if s.dry_run { "owed" } else { "due" }
        )?;
        for d in &s.planned_dsns {
            dsn_line(o, d)?;
        }
    }
    if !s.suppressed_dsns.is_empty() {
        writeln!(
            o,
            "\n{hash}DSNs SUPPRESSED (backscatter policy; journaled, listed by `mxsalvage journal`; --send-suppressed sends them):"
        )?;
        for d in &s.suppressed_dsns {
            dsn_line(o, d)?;
            writeln!(o, "{indent}  because {}", d.reason.as_deref().unwrap_or(""))?;
        }
    }
    Ok(())
}

/// `, 2 withheld (malware)`, or nothing when none is.
fn withheld_count(s: &Summary) -> String {
    match s.withheld {
        0 => String::new(),
        n => format!(", {n} withheld (malware)"),
    }
}

/// The pairs withheld as malware, with the reason (`hash`: `# ` in a dry run).
fn write_withheld(o: &mut impl Write, s: &Summary, hash: &str) -> Result<()> {
    if s.withheld_pairs.is_empty() {
        return Ok(());
    }
    writeln!(
        o,
        "\n{hash}WITHHELD (malware, not sent to the primary; journaled; --include-malware sends them):"
    )?;
    for p in &s.withheld_pairs {
        write_pair(o, hash, p)?;
    }
    Ok(())
}

/// `  QUEUE_ID RCPT: REPLY  [journal]`, after `prefix`.
fn write_pair(o: &mut impl Write, prefix: &str, p: &PairReport) -> Result<()> {
    writeln!(
        o,
        "{prefix}  {} {}: {}{}",
        p.queue_id,
        p.recipient.display(),
        p.reply.as_deref().unwrap_or(""),
        if p.from_journal { "  [journal]" } else { "" }
    )?;
    Ok(())
}

fn write_problems(o: &mut impl Write, s: &Summary) -> Result<()> {
    for (state, title) in [
        (
            "failed",
            "FAILED (permanent; rerun with --retry-failed to try again)",
        ),
        ("deferred", "DEFERRED (temporary; a rerun tries them again)"),
        (
            "unknown",
            "UNKNOWN (the primary may or may not have them: check its log, then rerun with --resend-unknown or leave them)",
        ),
    ] {
        let v: Vec<_> = s.problems.iter().filter(|p| p.state == state).collect();
        if v.is_empty() {
            continue;
        }
        writeln!(o, "\n{title}:")?;
        for p in v {
            write_pair(o, "", p)?;
        }
    }
    if !s.dsn_problems.is_empty() {
        writeln!(
            o,
            "\nDSNs NOT SENT (a rerun tries deferred ones again; see mxsalvage journal):"
        )?;
        for p in &s.dsn_problems {
            writeln!(
                o,
                "  {} to {}: {}: {}",
                p.queue_id,
                p.recipient.display(),
                p.state,
                p.reply.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}

fn print_summary(s: &Summary) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "reinject to {}: {} sent, {} already sent before, {} failed, {} deferred, {} unknown{} ({} transactions, {:.1} s, {:.1} messages/s)",
        s.target,
        s.sent,
        s.already_sent,
        s.failed,
        s.deferred,
        s.unknown,
        withheld_count(s),
        s.transactions,
        s.elapsed_seconds,
        s.messages_per_second
    )?;
    for (n, what) in [
        (s.skipped_probes, "address-verification probe(s) left out"),
        (
            s.dsns_sent,
            "DSN(s) sent to the senders of refused mail (postmaster for null-sender mail)",
        ),
        (
            s.dsns_written,
            "DSN(s) written to bounces/ in the export (--no-bounces): send them yourself or keep them",
        ),
        (
            s.suppressed_dsns.len(),
            "DSN(s) suppressed by the backscatter policy (listed below and by mxsalvage journal)",
        ),
    ] {
        if n > 0 {
            writeln!(o, "{n} {what}")?;
        }
    }
    for (n, c) in &s.notes {
        writeln!(o, "note: {n} ({c} message(s))")?;
    }
    write_withheld(&mut o, s, "")?;
    write_problems(&mut o, s)?;
    if !s.suppressed_dsns.is_empty() {
        let only = Summary {
            dry_run: false,
            suppressed_dsns: s.suppressed_dsns.clone(),
            ..Summary::default()
        };
        write_dsns(&mut o, &only, "  ")?;
    }
    writeln!(o, "journal: {}", s.journal)?;
    Ok(())
}
