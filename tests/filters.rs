//! Integration tests: content filters (issue 20) with real daemons — a private rspamd,
//! clamd and spamd (tests/harness/filters.rs) and a real Postfix secondary's spool of
//! the test cases. No mocks but one: a listener that answers garbage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::filters::{self, filters_available};
use crate::harness::{
    assert_stderr_contains, copy_tree, fixture_once, manifest, mx, stderr, stdout,
};
use mxsalvage::filter::verdict::{Verdict, VerdictKind};
use mxsalvage::manifest::Manifest;
use mxsalvage::reinject::Summary;

/// The spool of [`filters::filter_mails`], made once per test run by a private Postfix
/// secondary and kept (spool and config directory) under the target directory; every
/// test only reads it.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static F: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    fixture_once(&F, "filters-fixture", |base| {
        let sec = filters::filter_spool(&filters::filter_mails());
        let (spool, etc) = filters::spool_dirs(&sec);
        copy_tree(&spool, &base.join("spool"), false);
        copy_tree(&etc, &base.join("etc"), false);
        (base.join("spool"), base.join("etc"))
    })
}

/// `export --format eml --quiet` of the fixture into `out` with `extra` flags.
fn export(out: &Path, extra: &[&str]) -> crate::harness::Mx {
    let (spool, etc) = fixture();
    mx(["export", "--format", "eml", "--quiet"])
        .queue_dir(spool)
        .config_dir(etc)
        .out(out)
        .args(extra)
        .within(Duration::from_secs(300))
}

/// Each message's verdict by its case name (`Subject: filters NAME`).
type Verdicts = BTreeMap<String, Option<Verdict>>;

/// The [`Verdicts`] of the export in `out`.
fn verdicts(out: &Path) -> Verdicts {
    manifest(out)
        .messages
        .into_iter()
        .map(|m| {
            let subject = m.exported.subject.unwrap_or_default();
            let name = subject.trim_start_matches("filters ").to_string();
            (name, m.verdict)
        })
        .collect()
}

fn kind(v: &Verdicts, name: &str) -> VerdictKind {
    v[name]
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: no verdict"))
        .verdict
}

/// What every case must be judged, with either spam filter (its name and the action it
/// gives GTUBE) and clamd.
fn assert_cases(v: &Verdicts, spam_filter: &str, gtube_action: &str) {
    assert_eq!(v.len(), filters::filter_mails().len(), "{v:?}");
    for ham in [
        "ham",
        "harmless-zip",
        "harmless-forwarded",
        "big",
        "null-sender",
    ] {
        assert_eq!(kind(v, ham), VerdictKind::Ham, "{ham}: {:?}", v[ham]);
    }
    assert_eq!(kind(v, "gtube"), VerdictKind::Spam, "{:?}", v["gtube"]);
    for bad in [
        "eicar-attached",
        "eicar-zip",
        "eicar-forwarded",
        "eicar-spam",
    ] {
        let x = v[bad].as_ref().unwrap();
        assert_eq!(x.verdict, VerdictKind::Malware, "{bad}: {x:?}");
        let name = x.virus.as_ref().unwrap().virus.clone().unwrap();
        assert!(name.starts_with("Eicar-Test-Signature"), "{bad}: {name}");
    }
    // Spam as well as malware: both answers recorded, malware decides.
    let both = v["eicar-spam"].as_ref().unwrap();
    assert!(both.spam.as_ref().unwrap().is_spam, "{both:?}");
    let g = v["gtube"].as_ref().unwrap().spam.clone().unwrap();
    assert_eq!(g.filter, spam_filter);
    assert_eq!(g.action, gtube_action);
    assert!(g.symbols.iter().any(|s| s == "GTUBE"), "{g:?}");
    assert!(
        g.at.ends_with('Z')
            && v["ham"]
                .as_ref()
                .unwrap()
                .virus
                .as_ref()
                .unwrap()
                .at
                .ends_with('Z')
    );
}

/// An export of the fixture with `spam` and `clamd`, every case checked
/// ([`assert_cases`]); its manifest.
fn judged(spam: &filters::Daemon, clamd: &filters::Daemon, name: &str, action: &str) -> Manifest {
    let (_d, _, out) = crate::harness::scratch();
    let flags = ["--spam-filter", &spam.url, "--virus-scan", &clamd.url];
    export(&out, &flags).ok();
    let v = verdicts(&out);
    assert_cases(&v, name, action);
    manifest(&out)
}

/// The usual set-up: a fresh [`scratch`](crate::harness::scratch) (a temporary
/// directory, its `spool` and `out` paths); `None` (the test skips) when the daemons
/// are missing.
fn scratch() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    filters_available().then(crate::harness::scratch)
}

#[test]
fn rspamd_and_clamd_judge_every_case_and_the_manifest_records_it() {
    if !filters_available() {
        return;
    }
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, None));
    let m = judged(&rspamd, &clamd, "rspamd", "reject");
    assert_eq!(m.options.spam_filter.as_deref(), Some(rspamd.url.as_str()));
    assert_eq!(m.options.virus_scan.as_deref(), Some(clamd.url.as_str()));
}

#[test]
fn spamd_and_clamd_over_tcp_judge_every_case() {
    if !filters_available() {
        return;
    }
    let (spamd, clamd) = (filters::spamd(), filters::clamd(true, None));
    judged(&spamd, &clamd, "spamd", "spam");
}

/// A filter asked for but not there: exit 2 before anything is written, one line that
/// says how to start it.
#[test]
fn an_unreachable_filter_is_refused_before_anything_is_written() {
    let Some((d, _, out)) = scratch() else {
        return;
    };
    let nowhere = format!("rspamd://127.0.0.1:{}", crate::harness::free_port());
    let o = export(&out, &["--spam-filter", &nowhere]).code(2);
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("--spam-filter")
            && e.contains("start rspamd")
            && e.contains("nothing was written"),
        "{e}"
    );
    assert!(!out.exists());
    // The limits alone, without a filter, are a usage error.
    let o = export(&out, &["--scan-jobs", "2"]).code(2);
    assert_stderr_contains(&o, "need --spam-filter or --virus-scan");
    assert!(!out.exists());
    let sock = d.path().join("no-clamd.sock");
    let o = export(
        &out,
        &["--virus-scan", &format!("clamd://{}", sock.display())],
    )
    .code(2);
    assert_stderr_contains(&o, "start clamd");
    assert!(!out.exists());
}

/// How the stand-in filter answers a check (it answers rspamd's `/ping` properly, so
/// the run starts).
#[derive(Clone, Copy)]
enum Answer {
    /// Something that is not rspamd's reply.
    Garbage,
    /// Nothing at all, the connection kept open.
    Silence,
}

/// The one stand-in of these tests: a listener on 127.0.0.1 that answers rspamd's
/// `/ping` and then `answer`s every check. Returns its `rspamd://` URL.
fn bad_rspamd(answer: Answer) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("rspamd://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 65536];
            // The head, then as many body bytes as it announces.
            let (head_end, len) = loop {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break (req.len(), 0);
                }
                req.extend_from_slice(&buf[..n]);
                if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while req.len() < head_end + len {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            if req.starts_with(b"GET /ping") {
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\npong\n");
                continue;
            }
            match answer {
                Answer::Garbage => {
                    let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n<html>I am not rspamd</html>");
                }
                Answer::Silence => held.push(s),
            }
        }
    });
    url
}

/// Every message's verdict is unscanned with a reason naming the filter; each is
/// listed on stderr; exit 1; the run ends (no hang).
fn assert_all_unscanned(out: &Path, o: &std::process::Output, why: &str) {
    let v = verdicts(out);
    assert_eq!(v.len(), filters::filter_mails().len());
    for (name, x) in &v {
        let x = x.as_ref().unwrap_or_else(|| panic!("{name}: no verdict"));
        assert_eq!(x.verdict, VerdictKind::Unscanned, "{name}: {x:?}");
        assert!(
            x.unscanned
                .iter()
                .any(|r| r.contains("rspamd://") && r.contains(why)),
            "{name}: {x:?}"
        );
    }
    let e = stderr(o);
    assert_eq!(
        e.lines().filter(|l| l.contains("unscanned")).count(),
        v.len(),
        "{e}"
    );
}

#[test]
fn a_filter_that_answers_garbage_leaves_each_message_unscanned_and_listed() {
    let Some((_d, _, out)) = scratch() else {
        return;
    };
    let url = bad_rspamd(Answer::Garbage);
    let o = export(&out, &["--spam-filter", &url]).code(1);
    assert_all_unscanned(&out, &o, "unexpected answer");
}

#[test]
fn a_filter_that_never_answers_times_out_per_message_and_never_hangs() {
    let Some((_d, _, out)) = scratch() else {
        return;
    };
    let url = bad_rspamd(Answer::Silence);
    let o = export(
        &out,
        &[
            "--spam-filter",
            &url,
            "--filter-timeout",
            "1",
            "--scan-jobs",
            "4",
        ],
    )
    .within(Duration::from_secs(60))
    .code(1);
    assert_all_unscanned(&out, &o, "no answer within 1 s");
}

/// clamd's `StreamMaxLength` (here 1M): the 12 MB message is unscanned with that
/// reason (filed in the inbox, marked), listed, exit 1; the others are judged.
#[test]
fn clamds_size_limit_makes_the_big_message_unscanned_with_its_reason() {
    let Some((_d, _, out)) = scratch() else {
        return;
    };
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, Some("1M")));
    let o = export(
        &out,
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
    )
    .code(1);
    let v = verdicts(&out);
    let big = v["big"].as_ref().unwrap();
    assert_eq!(big.verdict, VerdictKind::Unscanned, "{big:?}");
    assert!(
        big.unscanned[0].contains("larger than clamd's StreamMaxLength"),
        "{big:?}"
    );
    assert!(
        !big.spam.as_ref().unwrap().is_spam,
        "rspamd still judged it: {big:?}"
    );
    assert_eq!(kind(&v, "eicar-zip"), VerdictKind::Malware);
    assert_eq!(kind(&v, "gtube"), VerdictKind::Spam);
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("unscanned") && e.contains("StreamMaxLength"),
        "{e}"
    );
}

/// rspamd goes away while the export runs: the messages after it are unscanned
/// (cannot connect), listed, exit 1; none is passed as ham without an answer.
#[test]
fn a_filter_stopped_mid_run_leaves_the_rest_unscanned() {
    let Some((_d, spool, out)) = scratch() else {
        return;
    };
    // 4,000 copies of the samples (about 43 MB): more than the scanning stage may hold
    // ahead of the writers (export::scan::BUDGET, 32 MB), so rspamd is still needed
    // when it is stopped, however fast it answered until then.
    let n = 4000;
    crate::harness::deferred_copies(&spool, n, |i| format!("F{:05X}{:04X}", i, i % 7), false);
    let mut rspamd = filters::rspamd();
    let child = mx(["export", "--format", "eml", "--quiet", "--scan-jobs", "1"])
        .queue_dir(&spool)
        .sample_config()
        .out(&out)
        .args(["--spam-filter", &rspamd.url])
        .spawn();
    let t = std::time::Instant::now();
    // (`messages/` appears once the export has planned, and files are renamed into it
    // while it is listed: `files_under` takes both)
    while crate::harness::files_under(&out.join("messages")).len() < 5 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the export wrote nothing"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    rspamd.stop();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = manifest(&out);
    assert_eq!(m.messages.len(), n);
    let (mut ham, mut unscanned) = (0, 0);
    for x in &m.messages {
        let v = x.verdict.as_ref().expect("every message has a verdict");
        match v.verdict {
            VerdictKind::Ham => ham += 1,
            VerdictKind::Unscanned => {
                assert!(v.unscanned[0].contains("rspamd://"), "{v:?}");
                unscanned += 1
            }
            k => panic!("{k:?}"),
        }
    }
    assert!(
        ham >= 5 && unscanned > 0,
        "ham {ham}, unscanned {unscanned}"
    );
    let listed = stderr(&o)
        .lines()
        .filter(|l| l.contains("unscanned"))
        .count();
    assert_eq!(listed, unscanned, "{}", stderr(&o));
}

/// The queue file of the case `name` in `spool` (by its subject).
fn queue_file(spool: &Path, name: &str) -> PathBuf {
    let needle = format!("Subject: filters {name}");
    crate::harness::files_under(&spool.join("deferred"))
        .into_iter()
        .find(|p| {
            let b = std::fs::read(p).unwrap();
            b.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .unwrap_or_else(|| panic!("no queue file for {name}"))
}

/// `--update` scans only the new messages with the filters the export was made with
/// (no flags needed), keeps the earlier verdicts as they were, checks the filters
/// before anything even when nothing is new, and refuses to add filters to an export
/// made without them.
#[test]
fn update_scans_only_new_mail_and_keeps_earlier_verdicts() {
    let Some((d, spool, out)) = scratch() else {
        return;
    };
    let (rspamd, mut clamd) = (filters::rspamd(), filters::clamd(false, None));
    copy_tree(&fixture().0, &spool, false);
    let aside = d.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    let mut held = Vec::new();
    for name in ["gtube", "eicar-zip"] {
        let f = queue_file(&spool, name);
        let to = aside.join(f.file_name().unwrap());
        std::fs::rename(&f, &to).unwrap();
        held.push((to, f));
    }
    let run = |extra: &[&str], now: &str| {
        mx(["export", "--format", "eml", "--quiet"])
            .queue_dir(&spool)
            .config_dir(&fixture().1)
            .out(&out)
            .args(extra)
            .env("MXSALVAGE_NOW", now)
            .within(Duration::from_secs(300))
    };
    let day1 = "2026-06-01T00:00:00Z";
    run(
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
        day1,
    )
    .ok();
    let first = verdicts(&out);
    assert_eq!(first.len(), filters::filter_mails().len() - 2);
    for (to, from) in &held {
        std::fs::rename(to, from).unwrap();
    }
    run(&["--update"], "2026-06-02T00:00:00Z").ok();
    let second = verdicts(&out);
    assert_eq!(second.len(), filters::filter_mails().len());
    for (name, v) in &first {
        assert_eq!(&second[name], v, "{name}: an earlier verdict changed");
        assert!(
            v.as_ref()
                .unwrap()
                .virus
                .as_ref()
                .unwrap()
                .at
                .starts_with("2026-06-01")
        );
    }
    assert_eq!(kind(&second, "gtube"), VerdictKind::Spam);
    assert_eq!(kind(&second, "eicar-zip"), VerdictKind::Malware);
    let g = second["gtube"].as_ref().unwrap().spam.as_ref().unwrap();
    assert!(g.at.starts_with("2026-06-02"), "{g:?}");
    // The limits alone apply to the export's own filters; nothing new: nothing changes.
    run(&["--update", "--scan-jobs", "2"], "2026-06-03T00:00:00Z").ok();
    assert_eq!(verdicts(&out), second);
    assert_eq!(manifest(&out).messages.len(), second.len());
    // The recorded filter is gone: refused before anything, though nothing is new.
    clamd.stop();
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let o = run(&["--update"], day1).code(2);
    assert_stderr_contains(&o, "start clamd");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    // An export made without filters keeps being judged so.
    let plain = d.path().join("plain");
    export(&plain, &[]).ok();
    assert!(verdicts(&plain).values().all(Option::is_none));
    let o = export(&plain, &["--update", "--spam-filter", &rspamd.url]).code(2);
    assert_stderr_contains(&o, "made without --spam-filter");
}

/// The case name of each DSN in `v` (by the queue ID's message in the export `ex`).
fn dsn_cases(ex: &Path, v: &[mxsalvage::reinject::PlannedDsn]) -> Vec<(String, Option<String>)> {
    let m = manifest(ex);
    let mut out: Vec<_> = v
        .iter()
        .map(|d| {
            let msg = m
                .messages
                .iter()
                .find(|x| x.info.queue_id == d.queue_id)
                .unwrap();
            let name = msg
                .exported
                .subject
                .clone()
                .unwrap_or_default()
                .replace("filters ", "");
            (name, d.reason.clone())
        })
        .collect();
    out.sort();
    out
}

/// `reinject --json` of `ex` into `primary` with `extra` flags, asserted to exit with
/// `code`: the summary.
fn reinject_json(
    ex: &Path,
    primary: &crate::harness::Postfix,
    extra: &[&str],
    code: i32,
) -> Summary {
    let o = crate::harness::reinject_to(ex, &primary.to())
        .args(["--json", "--no-tls"])
        .args(extra)
        .within(Duration::from_secs(300))
        .code(code);
    crate::harness::reinject_summary(&o)
}

/// Every message refused by the primary (550 5.1.1): a reinject of `ex` into it, exit 1.
fn refused_reinject(ex: &Path, primary: &crate::harness::Postfix, extra: &[&str]) -> Summary {
    reinject_json(ex, primary, extra, 1)
}

/// The verdicts feed reinject's DSN policy: spam (GTUBE) and malware refused at the
/// primary get no DSN, ham does — from the manifest's verdicts, or (an export made
/// without filters) from reinject's own filters, asked only about those messages.
#[test]
fn spam_and_malware_refused_at_the_primary_get_no_dsn() {
    let Some((d, ..)) = scratch() else {
        return;
    };
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, None));
    let primary = crate::harness::Postfix::primary();
    primary.access("user@example.com 550 5.1.1 no such user (test)\n");
    let expect = |ex: &Path, s: &mxsalvage::reinject::Summary| {
        let held = dsn_cases(ex, &s.suppressed_dsns);
        let spam = Some("the message is marked spam by its triage verdict".to_string());
        let malware = Some("the message is marked malware by its triage verdict".to_string());
        let mut want = vec![("gtube".to_string(), spam)];
        for n in [
            "eicar-attached",
            "eicar-forwarded",
            "eicar-spam",
            "eicar-zip",
        ] {
            want.push((n.to_string(), malware.clone()));
        }
        want.sort();
        assert_eq!(held, want, "{s:#?}");
        let sent: Vec<String> = dsn_cases(ex, &s.planned_dsns)
            .into_iter()
            .map(|x| x.0)
            .collect();
        // The null sender's: the postmaster's copy, which no verdict holds.
        let ham = [
            "big",
            "ham",
            "harmless-forwarded",
            "harmless-zip",
            "null-sender",
        ];
        assert_eq!(sent, ham, "{s:#?}");
    };
    // Verdicts from the export.
    let scanned = d.path().join("scanned");
    export(
        &scanned,
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
    )
    .ok();
    // Malware is withheld unless --include-malware: sent here so that it is refused.
    let s = refused_reinject(&scanned, &primary, &["--include-malware"]);
    expect(&scanned, &s);
    // An export without verdicts: reinject asks the filters; the export is unchanged.
    let plain = d.path().join("plain");
    export(&plain, &[]).ok();
    let before = std::fs::read(plain.join("manifest.json")).unwrap();
    let gone = format!("clamd://{}", d.path().join("none.sock").display());
    let o = mx(["reinject", "--from"])
        .arg(&plain)
        .args(["--to", &primary.to(), "--no-tls", "--virus-scan", &gone])
        .code(2);
    assert_stderr_contains(&o, "start clamd");
    assert_stderr_contains(&o, "nothing was sent");
    let s = refused_reinject(
        &plain,
        &primary,
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
    );
    expect(&plain, &s);
    assert_eq!(std::fs::read(plain.join("manifest.json")).unwrap(), before);
}

/// The case names of the messages of the export `ex` a run's pairs name, sorted.
fn cases_of(ex: &Path, pairs: &[mxsalvage::reinject::PairReport]) -> Vec<String> {
    let m = manifest(ex);
    let mut out: Vec<String> = (pairs.iter())
        .map(|p| {
            let msg = m.messages.iter().find(|x| x.info.queue_id == p.queue_id);
            let subject = msg
                .and_then(|x| x.exported.subject.clone())
                .unwrap_or_default();
            subject.replace("filters ", "")
        })
        .collect();
    out.sort();
    out
}

/// [`reinject_json`], exit 0.
fn reinject_ok(ex: &Path, primary: &crate::harness::Postfix, extra: &[&str]) -> Summary {
    reinject_json(ex, primary, extra, 0)
}

const EICAR_CASES: [&str; 4] = [
    "eicar-attached",
    "eicar-forwarded",
    "eicar-spam",
    "eicar-zip",
];
const CLEAN_CASES: [&str; 6] = [
    "big",
    "gtube",
    "ham",
    "harmless-forwarded",
    "harmless-zip",
    "null-sender",
];

/// Malware is withheld from the primary by default (it may not scan what the
/// secondary sends): journaled `withheld` with the virus name, listed in the summary
/// and by `journal`, kept out of `--sent-ids`, never sent by a rerun, exit 0; ham and
/// spam are delivered exactly once; `--include-malware` sends it.
#[test]
fn reinject_withholds_malware_unless_included() {
    let Some((d, ..)) = scratch() else {
        return;
    };
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, None));
    let ex = d.path().join("ex");
    export(
        &ex,
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
    )
    .ok();
    let primary = filters::filter_primary();
    let dry = crate::harness::reinject_to(&ex, &primary.to())
        .args(["--no-tls", "--dry-run"])
        .code(0);
    crate::harness::assert_contains_all(
        "dry run",
        &stdout(&dry),
        &["# WITHHELD (malware", "4 withheld (malware)"],
    );
    assert!(!crate::harness::journal_path(&ex).exists());
    let s = reinject_ok(&ex, &primary, &[]);
    assert_eq!((s.sent, s.withheld, s.failed), (6, 4, 0), "{s:#?}");
    assert_eq!(cases_of(&ex, &s.withheld_pairs), EICAR_CASES);
    for p in &s.withheld_pairs {
        let why = p.reply.as_deref().unwrap_or("");
        assert!(why.starts_with("malware: Eicar-Test-Signature"), "{p:?}");
        assert!(!p.from_journal && p.state == "withheld", "{p:?}");
    }
    assert_eq!(filters::delivered_cases(&primary), CLEAN_CASES);
    let js = crate::harness::journal_state(&ex);
    let withheld = (js.last.values())
        .filter(|r| r.state == mxsalvage::reinject::journal::State::Withheld)
        .filter(|r| {
            r.reply
                .as_deref()
                .unwrap_or("")
                .starts_with("malware: Eicar")
        })
        .count();
    assert_eq!(withheld, 4, "{:#?}", js.last);
    let lines = std::fs::read(crate::harness::journal_path(&ex)).unwrap();
    // A rerun sends nothing, says so in its text summary, and journals nothing new.
    let o = crate::harness::reinject_to(&ex, &primary.to())
        .arg("--no-tls")
        .code(0);
    crate::harness::assert_contains_all(
        "rerun",
        &stdout(&o),
        &[
            "0 sent, 6 already sent before, 0 failed, 0 deferred, 0 unknown, 4 withheld (malware)",
            "WITHHELD (malware, not sent to the primary; journaled; --include-malware sends them):",
            ": malware: Eicar-Test-Signature",
            "[journal]",
        ],
    );
    assert_eq!(
        std::fs::read(crate::harness::journal_path(&ex)).unwrap(),
        lines
    );
    assert_eq!(filters::delivered_cases(&primary), CLEAN_CASES);
    withheld_in_journal(&ex);
    // --include-malware: the four go out, once; then everything is delivered.
    let s = reinject_ok(&ex, &primary, &["--include-malware"]);
    assert_eq!((s.sent, s.already_sent, s.withheld), (4, 6, 0), "{s:#?}");
    let s = reinject_ok(&ex, &primary, &[]);
    assert_eq!((s.sent, s.already_sent, s.withheld), (0, 10, 0), "{s:#?}");
    let mut all = [&CLEAN_CASES[..], &EICAR_CASES[..]].concat();
    all.sort();
    assert_eq!(filters::delivered_cases(&primary), all);
    let o = crate::harness::journal_cmd(&ex, &["--sent-ids"]);
    crate::harness::assert_code(&o, 0);
    assert_eq!(stdout(&o).lines().count(), 10, "{}", stdout(&o));
}

/// What `journal` says of an export whose four EICAR messages are withheld: done
/// (exit 0), listed as withheld; `--sent-ids` leaves them out, says so, exit 1.
fn withheld_in_journal(ex: &Path) {
    let o = crate::harness::journal_cmd(ex, &[]);
    crate::harness::assert_code(&o, 0);
    crate::harness::assert_contains_all(
        "journal",
        &stdout(&o),
        &[
            "10 pair(s): 6 sent, 0 failed (0 with its DSN done), 0 deferred, 0 unknown, 0 not tried, 4 withheld (malware, not sent)",
            "10 message(s): 6 delivered (every pair sent), 0 done with refused pairs (their DSNs done), 4 withheld as malware (not in --sent-ids), 0 not done",
            "withheld: malware: Eicar-Test-Signature",
        ],
    );
    let o = crate::harness::journal_cmd(ex, &["--json"]);
    let rep: mxsalvage::reinject::status::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((rep.totals.withheld, rep.totals.messages_withheld), (4, 4));
    let withheld: Vec<&str> = (rep.messages.iter())
        .filter(|m| m.withheld)
        .map(|m| m.queue_id.as_str())
        .collect();
    for refused in [false, true] {
        let flags: &[&str] = if refused {
            &["--sent-ids", "--include-refused"]
        } else {
            &["--sent-ids"]
        };
        let o = crate::harness::journal_cmd(ex, flags);
        crate::harness::assert_code(&o, 1);
        let out = stdout(&o);
        let ids: Vec<&str> = out.lines().collect();
        assert_eq!(ids.len(), 6, "{flags:?}");
        assert!(withheld.iter().all(|w| !ids.contains(w)), "{flags:?}");
        assert_stderr_contains(&o, "4 withheld as malware, not sent to the primary");
    }
}

/// docs/export.md, "Content filters": the export of the samples with rspamd and clamd
/// (the runbook's "Filters for the salvage" refers to it) prints what it shows.
#[test]
fn runbook_filters_block() {
    if !filters_available() {
        return;
    }
    let mut env = crate::docs::DocEnv::new();
    let _daemons = filters::doc_filters(&mut env);
    crate::docs::run_tagged("filters", &env);
}

/// Memory stays bounded with filters: ten 12 MB messages, eight requests in flight,
/// cost little more than the export without filters (the scanning stage holds at most
/// 32 MB of messages between loading and writing).
#[test]
fn scanning_ahead_keeps_memory_bounded() {
    let Some((d, spool, _)) = scratch() else {
        return;
    };
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, None));
    let big = queue_file(&fixture().0, "big");
    for i in 0..10 {
        let id = format!("B{i:X}BIG{i:04X}");
        let dir = spool.join("deferred").join(&id[..1]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&big, dir.join(&id)).unwrap();
    }
    let etc = fixture().1.to_str().unwrap();
    let rss = |out: &Path, extra: &[&str]| {
        let mut args = vec!["export", "--format", "eml", "--quiet", "--jobs", "2"];
        args.extend(["--queue-dir", spool.to_str().unwrap(), "--config-dir", etc]);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        let (o, kb) = crate::spool_safety::peak_rss(&args);
        crate::harness::assert_code(&o, 0);
        kb
    };
    let plain = rss(&d.path().join("plain"), &[]);
    let flags = ["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url];
    let scanned = rss(
        &d.path().join("scanned"),
        &[&flags[..], &["--scan-jobs", "8"]].concat(),
    );
    eprintln!("peak RSS: {plain} KB without filters, {scanned} KB with");
    let m = manifest(&d.path().join("scanned"));
    assert_eq!(m.messages.len(), 10);
    assert!(
        m.messages
            .iter()
            .all(|x| x.verdict.as_ref().unwrap().verdict == VerdictKind::Ham)
    );
    assert!(
        scanned < plain + 40 * 1024,
        "{scanned} KB with filters, {plain} KB without"
    );
}
