//! `mxsalvage export`: turns the flags into an [`export::Config`], runs the export in
//! the worker pool with a progress bar (stderr, terminals only), prints the summary
//! (stderr, or JSON on stdout with `--json`) and picks the exit status: 0 complete,
//! 1 partial (errors listed), 2 refused/fatal — also a write failure after some output
//! (a full disk). A stop half-way (that, or Ctrl-C/SIGTERM) is one line saying how to
//! finish the export: the same command with `--update`.

use std::io::IsTerminal;
use std::time::Instant;

use std::io::Write;

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{SpoolCtx, pool};
use crate::cli::args::{ExportArgs, FilterArgs, SpamActionArg};
use mxsalvage::exit::Exit;
use mxsalvage::export::Report;
use mxsalvage::export::{self, Config, ExportError, Filters, Formats, Mode, Progress};
use mxsalvage::filter::url::{FilterUrl, Role};
use mxsalvage::filter::verdict::SpamAction;
use mxsalvage::filter::{self, FilterSet};
use mxsalvage::manifest::{Options, Source, SpoolSource};
use mxsalvage::timefmt::parse_time;
use mxsalvage::units::size;

/// The progress bar on stderr (terminals only), shared with `verify`.
pub(super) struct Bar(pub(super) Option<ProgressBar>);

/// How a phase is drawn: with steps, a bar with counts (or sizes, for a phase counted
/// in bytes of mail); without (listing the queue, the durability barrier), a spinner,
/// never a "0/0" frame.
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Steps,
    Bytes,
}

fn style(total: u64, unit: Unit) -> ProgressStyle {
    let t = match (total > 0, unit) {
        (true, Unit::Steps) => "{msg:20} [{bar:40}] {pos}/{len} {elapsed}",
        (true, Unit::Bytes) => {
            "{msg:20} [{bar:40}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} {elapsed}"
        }
        (false, _) => "{msg:20} {spinner} {elapsed}",
    };
    ProgressStyle::with_template(t)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bar {
    /// A bar when stderr is a terminal and not `quiet`; else none.
    pub(super) fn new(quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        b.set_style(style(0, Unit::Steps));
        b.set_message("starting");
        // Moves (spinner, elapsed time) even while one long step runs.
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        Bar(Some(b))
    }

    fn start(&self, name: &str, total: u64, unit: Unit) {
        if let Some(b) = &self.0 {
            // Style, length, position and message change together: no frame in
            // between shows the new phase with the old counts (a stray "37/18").
            b.set_draw_target(ProgressDrawTarget::hidden());
            b.set_position(0);
            b.set_length(total);
            b.set_message(name.to_string());
            b.set_style(style(total, unit));
            b.reset_elapsed();
            b.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: u64) {
        self.start(name, total, Unit::Steps);
    }
    fn phase_bytes(&self, name: &str, total: u64) {
        self.start(name, total, Unit::Bytes);
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}

/// This host's name: /etc/hostname, else `hostname`.
fn host_name() -> String {
    if let Ok(s) = std::fs::read_to_string("/etc/hostname") {
        let s = s.trim();
        if !s.is_empty() {
            return s.to_string();
        }
    }
    std::process::Command::new("hostname")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn time_arg(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_ref()
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                anyhow!("bad {flag} {s:?} (use RFC 3339, YYYY-MM-DD, or @epoch seconds)")
            })
        })
        .transpose()
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    out: String,
    complete: bool,
    elapsed_seconds: f64,
    totals: &'a mxsalvage::manifest::Totals,
    new_messages: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    space: Option<&'a mxsalvage::manifest::Space>,
    errors: &'a [mxsalvage::manifest::Problem],
    skipped: &'a [mxsalvage::manifest::Problem],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unscanned: &'a [mxsalvage::manifest::Problem],
    /// Verdicts of the messages this run scanned (only with filters).
    #[serde(skip_serializing_if = "Option::is_none")]
    scanned: Option<export::config::VerdictCounts>,
}

/// The flags checked and parsed before the spool is opened (a usage error comes first).
struct Parsed {
    formats: Formats,
    zip_formats: Formats,
    passwords: Option<std::collections::BTreeMap<Vec<u8>, export::Secret>>,
    filters: Filters,
    mode: Mode,
    reader: Option<export::reader::Reader>,
    scan: Option<FilterSet>,
}

/// Parses and checks the formats, password file, time window, mode and reader flags.
fn parse(a: &ExportArgs) -> Result<Parsed> {
    // Trees: the default formats, or none when the zips are what is wanted.
    let formats = match &a.format {
        Some(list) => Formats::parse(list).map_err(|e| anyhow!("--format: {e}"))?,
        None if a.zip => Formats::none(),
        None => Formats::default_set(),
    };
    let zip_formats = match &a.zip_formats {
        Some(list) => Formats::parse(list).map_err(|e| anyhow!("--zip-formats: {e}"))?,
        None => Formats::default_zip(),
    };
    if formats.is_empty() && !a.zip {
        bail!("--format: give at least one format, or --zip");
    }
    if a.zip && zip_formats.is_empty() {
        bail!("--zip-formats: give at least one format");
    }
    let passwords = match &a.zip_password_file {
        Some(p) => {
            if !a.allow_readable_passwords {
                export::passwords::check_private(p).map_err(|e| anyhow!(e))?;
            }
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read zip password file {}", p.display()))?;
            Some(export::zip::parse_passwords(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let filters = Filters {
        ids: a.id.clone(),
        since: time_arg("--since", &a.since)?,
        until: time_arg("--until", &a.until)?,
        include_done: a.include_done,
    };
    let mode = crate::cli::chosen(
        [(a.update, Mode::Update), (a.force, Mode::Force)],
        Mode::New,
    );
    let reader = a
        .reader
        .as_deref()
        .map(export::reader::Reader::resolve)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    Ok(Parsed {
        formats,
        zip_formats,
        passwords,
        filters,
        mode,
        reader,
        scan: filter_set(&a.scan, a.update)?,
    })
}

/// `--spam-filter`, `--virus-scan` and their limits; `None` when none is given. The
/// limits alone only with `update` (the filters are then the export's own).
pub(super) fn filter_set(a: &FilterArgs, update: bool) -> Result<Option<FilterSet>> {
    let spam = a
        .spam_filter
        .as_deref()
        .map(|u| FilterUrl::parse(u, Role::Spam))
        .transpose()?;
    let virus = a
        .virus_scan
        .as_deref()
        .map(|u| FilterUrl::parse(u, Role::Virus))
        .transpose()?;
    let limits = a.filter_timeout.is_some() || a.scan_jobs.is_some();
    if spam.is_none() && virus.is_none() {
        if limits && !update {
            bail!("--filter-timeout and --scan-jobs need --spam-filter or --virus-scan");
        }
        if !limits {
            return Ok(None);
        }
    }
    Ok(Some(FilterSet {
        spam,
        virus,
        timeout: a
            .filter_timeout
            .map_or(filter::DEFAULT_TIMEOUT, std::time::Duration::from_secs),
        jobs: a.scan_jobs.map_or(filter::DEFAULT_JOBS, |n| n as usize),
    }))
}

/// What was asked for, as the manifest records it.
fn options(a: &ExportArgs, p: &Parsed, queue_names: Vec<String>) -> Options {
    Options {
        reader: p.reader.as_ref().map(|r| r.spec()),
        formats: p.formats.recorded(),
        zip: a.zip,
        zip_formats: match a.zip {
            true => p.zip_formats.recorded(),
            false => Vec::new(),
        },
        encrypted: a.zip_password_file.is_some() || a.generate_passwords.is_some(),
        include_done: a.include_done,
        recipients: a.select.recipient.clone(),
        domains: a.select.domain.clone(),
        queues: queue_names,
        ids: a.id.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
        only_valid: a.select.only_valid,
        // The run records the export's (an update keeps the earlier one).
        spam_action: SpamAction::default(),
        // The run records the filters it used (an update's: the earlier export's).
        spam_filter: None,
        virus_scan: None,
    }
}

/// Where the mail came from: the opened spool, this host and its MTA's settings.
fn source(ctx: &SpoolCtx) -> Source {
    let first = ctx.first();
    let (maximal, bounce) = first.reader.lifetimes();
    let (myhostname, myorigin) = first.reader.identity();
    Source {
        // Absolute: `journal --sent-ids` names it later, from anywhere.
        queue_directory: absolute(first.root()),
        host: host_name(),
        maximal_queue_lifetime: maximal,
        bounce_queue_lifetime: bounce,
        postfix_running: ctx.running(),
        myhostname,
        myorigin,
        spools: match ctx.spools.len() {
            1 => Vec::new(),
            _ => (ctx.spools.iter())
                .map(|o| SpoolSource {
                    queue_directory: absolute(o.root()),
                    kind: o.reader.source().kind(),
                })
                .collect(),
        },
    }
}

/// `p` as an absolute path (as given when that fails), for the manifest.
fn absolute(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The export's [`Config`]: the parsed flags, the manifest's options and the source.
fn config(a: &ExportArgs, p: Parsed, queue_names: Vec<String>, ctx: &SpoolCtx) -> Config {
    let options = options(a, &p, queue_names);
    Config {
        out: a.out.clone(),
        formats: p.formats,
        zip: a.zip,
        zip_formats: p.zip_formats,
        passwords: p.passwords,
        reader: p.reader,
        filters: p.filters,
        mode: p.mode,
        generate_passwords: a.generate_passwords.clone(),
        space_check: !a.no_space_check,
        dry_run: a.dry_run,
        spam_action: a.spam_action.map(spam_action),
        scan: p.scan,
        options,
        source: source(ctx),
    }
}

/// `--spam-action` as the library's value.
fn spam_action(a: SpamActionArg) -> SpamAction {
    match a {
        SpamActionArg::Junk => SpamAction::Junk,
        SpamActionArg::Keep => SpamAction::Keep,
        SpamActionArg::Withhold => SpamAction::Withhold,
    }
}

/// Says how it went: the JSON summary on stdout, or errors and one line on stderr.
fn report(a: &ExportArgs, ctx: &SpoolCtx, manifest: &Report, elapsed: f64) -> Result<()> {
    if a.json {
        let s = Summary {
            out: a.out.display().to_string(),
            complete: manifest.complete,
            elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
            totals: &manifest.totals,
            new_messages: manifest.new_messages,
            dry_run: manifest.dry_run,
            space: manifest.space.as_ref(),
            errors: &manifest.errors,
            skipped: &manifest.skipped,
            unscanned: &manifest.unscanned,
            scanned: manifest.scanned,
        };
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
        return Ok(());
    }
    // Unscanned messages are said even with --quiet: a filter failed for them.
    for e in &manifest.unscanned {
        eprintln!("mxsalvage: {}", e.reason);
    }
    if !a.quiet || manifest.dry_run {
        ctx.note_modes();
        for e in &manifest.errors {
            eprintln!("mxsalvage: error: {}", e.reason);
        }

        eprintln!(
            "mxsalvage: {}",
            summary_line(manifest, &a.out, elapsed, a.update)
        );
        if let Some(l) = filing_line(&manifest.totals) {
            eprintln!("mxsalvage: {l}");
        }
    }
    Ok(())
}

/// Where the filters' verdicts put mail, when they put any outside the inboxes.
fn filing_line(t: &mxsalvage::manifest::Totals) -> Option<String> {
    if t.junk == 0 && t.withheld == 0 {
        return None;
    }
    Some(format!(
        "filtered: {} pair(s) filed in Junk, {} withheld from the bundles (listed in manifest.json, recipients[].withheld; their archive copies are in messages/)",
        t.junk, t.withheld
    ))
}

pub fn run(a: ExportArgs) -> Result<Exit> {
    let started = Instant::now();
    let (queue_names, sel) = super::selection(&a.select)?;
    let parsed = parse(&a)?;
    let ctx = SpoolCtx::open(&a.spool, queue_names.clone())?;
    if !a.quiet {
        ctx.warn_if_running();
    }
    let cfg = config(&a, parsed, queue_names, &ctx);
    let bar = Bar::new(a.quiet);
    if !a.dry_run {
        on_interrupt(bar.0.clone(), &a)?;
    }
    let progress = super::timings::Timed::new(&bar);
    let workers = pool(a.jobs)?;
    let result = workers.install(|| export::run(&ctx.source(), &sel, &cfg, &progress));
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    if a.timings {
        for l in progress.lines() {
            eprintln!("mxsalvage: {l}");
        }
    }
    let manifest: Report = match result {
        Ok(m) => m,
        Err(ExportError::Partial(e)) => return Ok(stopped(&e, &a)),
        Err(e) => return Err(e.into()),
    };
    report(&a, &ctx, &manifest, started.elapsed().as_secs_f64())?;
    Ok(Exit::partial_if(
        !manifest.complete || !manifest.unscanned.is_empty(),
    ))
}

/// A stop after output began (a full disk, an unwritable file): fatal, exit 2 — little
/// was done, and nothing is listed as failed. One line says how to finish; the interim
/// manifest records why, when that still fits on the disk.
fn stopped(e: &ExportError, a: &ExportArgs) -> Exit {
    let why = e.to_string();
    let noted = match export::commit::note_stop(&a.out, &why) {
        true => "manifest.json says it is unfinished and why",
        false => "manifest.json says it is unfinished",
    };
    let full = matches!(e, ExportError::Write { error, .. }
        if error.kind() == std::io::ErrorKind::StorageFull);
    let fix = match full {
        true => "free some space",
        false => "fix the cause",
    };
    eprintln!(
        "mxsalvage: {why}: the export stopped before it finished; what was written is kept and {noted}; {fix}, then {} to finish it",
        resume_hint(a)
    );
    Exit::Fatal
}

/// How to finish an export that stopped: the same command with `--update` (in place of
/// `--force`; with the generated password file in place of `--generate-passwords`).
fn resume_hint(a: &ExportArgs) -> String {
    let instead = match (&a.generate_passwords, a.force) {
        (Some(f), _) => format!(
            " and --zip-password-file {} in place of --generate-passwords",
            f.display()
        ),
        (None, true) => " in place of --force".into(),
        (None, false) => String::new(),
    };
    match a.update {
        true => "run the same command again".into(),
        false => format!("run the same command again with --update{instead}"),
    }
}

/// Ctrl-C (SIGINT) or SIGTERM while an export runs: the progress bar cleared, one line
/// saying how to finish the export, then the signal's default action (the shell sees
/// the export ended by it). What was written stays; the interim manifest says
/// `"complete": false`, and `verify` says the export is unfinished.
fn on_interrupt(bar: Option<ProgressBar>, a: &ExportArgs) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot watch for Ctrl-C")?;
    let line = format!(
        "mxsalvage: interrupted: the export to {} stopped before it finished; what was written is kept and manifest.json says it is unfinished; to finish it, {}",
        a.out.display(),
        resume_hint(a)
    );
    let early = format!(
        "mxsalvage: interrupted: nothing was written to {} yet",
        a.out.display()
    );
    let manifest = a.out.join("manifest.json");
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            // Before the interim manifest exists, OUT holds nothing of this run.
            match manifest.exists() {
                true => eprintln!("{line}"),
                false => eprintln!("{early}"),
            }
            let _ = signal_hook::low_level::emulate_default_handler(sig);
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

/// The summary line: what was exported (or would be, `--dry-run`), sizes in sensible
/// units, and after `--update` how many messages were new.
fn summary_line(r: &Report, out: &std::path::Path, elapsed: f64, update: bool) -> String {
    let t = &r.totals;
    let new = match update {
        true => format!(" ({} new)", r.new_messages),
        false => String::new(),
    };
    // scan, reinject and journal count the queue's recipient records: say the difference.
    let shared = match r.shared_records {
        0 => String::new(),
        n => format!(" + {n} duplicate recipient(s): same mailbox, other ORCPT, same copy"),
    };
    // Several spools: the copies another spool's copy stands for.
    let left = match r.left_out {
        0 => String::new(),
        n => format!(
            "; {n} recipient copy(ies) left out: another spool's copy of the same message reaches them (duplicates in manifest.json)"
        ),
    };
    if r.dry_run {
        let space = r
            .space
            .as_ref()
            .map(|s| format!("; disk space: {}", export::space::describe(s)))
            .unwrap_or_default();
        return format!(
            "dry run: would export {} message(s){new} for {} recipient(s) ({} pairs{shared}, {}) to {}{space}; {} error(s), {} skipped{left}; nothing was written",
            t.messages,
            t.recipients,
            t.pairs,
            size(t.bytes),
            out.display(),
            t.errors,
            t.skipped,
        );
    }
    format!(
        "exported {} message(s){new} for {} recipient(s) ({} pairs{shared}, {}) to {} in {:.1}s; {} error(s), {} skipped{left}{}",
        t.messages,
        t.recipients,
        t.pairs,
        size(t.bytes),
        out.display(),
        elapsed,
        t.errors,
        t.skipped,
        if r.complete {
            ""
        } else {
            " — INCOMPLETE, see errors in manifest.json"
        }
    ) + &scanned_part(r)
}

/// `; scanned N: H ham, S spam, M malware, U unscanned` when filters were asked for.
fn scanned_part(r: &Report) -> String {
    let Some(c) = r.scanned else {
        return String::new();
    };
    let n = c.ham + c.spam + c.malware + c.unscanned;
    format!(
        "; scanned {n}: {} ham, {} spam, {} malware, {} unscanned",
        c.ham, c.spam, c.malware, c.unscanned
    )
}
