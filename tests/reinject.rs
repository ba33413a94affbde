//! Integration tests: reinject.
//!
//! Real servers, no mocks: a private Postfix *secondary* (scripts/test-primary
//! create-secondary) is fed test mail over SMTP and keeps it in deferred/; an export is
//! built from that spool; `mxsalvage reinject` sends it into a private Postfix
//! *primary* (scripts/test-primary create) or a private Dovecot LMTP server, and the
//! tests check the delivered Maildir files byte for byte and the journal.
//! Tests that need Postfix or Dovecot skip with a note unless `CI` is set.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::harness::{
    Postfix, assert_contains_all, assert_stderr_contains, chown, copy_export, files_under,
    fixture_once, free_port, is_root, journal_cmd, journal_path, journal_state, maildir_messages,
    manifest, mx, reinject_summary, reinject_to,
};
use crate::util;
use mxsalvage::manifest::Manifest;
use mxsalvage::queue::{Depth, QueueFile, RcptState};
use mxsalvage::reinject::Summary;
use mxsalvage::reinject::journal::State;
use mxsalvage::reinject::smtp::{Class, ClientConfig, Security, Session, Step};
use mxsalvage::report::model::RecipientInfo;

// ---------------------------------------------------------------------------------
// helpers

/// Whether Postfix (and, with `dovecot`, Dovecot LMTP) can be used; with `CI` set they
/// must be there.
pub(crate) fn servers_available(dovecot: bool) -> bool {
    let mut ok = util::have("postconf") && is_root();
    if dovecot {
        ok &= Path::new("/usr/lib/dovecot/lmtp").exists() && util::have("dovecot");
    }
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Postfix/Dovecot (or root) is missing"
        );
        eprintln!(
            "note: skipping: needs root, Postfix{}",
            if dovecot { " and Dovecot LMTP" } else { "" }
        );
    }
    ok
}

/// A test message fed to the secondary: MAIL params, (rcpt, params), content (LF).
struct Feed {
    sender: &'static str,
    mail_params: &'static str,
    rcpts: Vec<(String, &'static str)>,
    body: Vec<u8>,
}

fn content(id: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut c = format!(
        "From: Tester <tester@example.org>\nTo: undisclosed-recipients:;\nSubject: test {id}\nMessage-ID: <{id}@test.example.org>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n{extra_headers}\n"
    )
    .into_bytes();
    c.extend_from_slice(body);
    c
}

/// A [`Feed`]: sender, MAIL parameters, (recipient, RCPT parameters), content.
fn msg(
    sender: &'static str,
    mail_params: &'static str,
    rcpts: &[(&str, &'static str)],
    body: Vec<u8>,
) -> Feed {
    Feed {
        sender,
        mail_params,
        rcpts: rcpts.iter().map(|(r, p)| (r.to_string(), *p)).collect(),
        body,
    }
}

/// A [`Feed`] with no MAIL or RCPT parameters and no extra headers.
fn plain(sender: &'static str, rcpts: &[&str], id: &str, body: &[u8]) -> Feed {
    Feed {
        sender,
        mail_params: "",
        rcpts: rcpts.iter().map(|r| (r.to_string(), "")).collect(),
        body: content(id, "", body),
    }
}

fn feeds() -> Vec<Feed> {
    let alice = "alice@example.org";
    let mut v = vec![
        plain(
            alice,
            &["bob@example.com", "carol@example.net"],
            "plain",
            b"Hello Bob and Carol.\n",
        ),
        plain(
            "",
            &["dave@example.com"],
            "nullsender",
            b"A bounce-like message with the null sender.\n",
        ),
        msg(
            "erin-sender@example.org",
            "BODY=8BITMIME",
            &[("erin@example.com", "")],
            content(
                "eightbit",
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n",
                b"Gr\xfc\xdfe aus K\xf6ln\n.\n..two dots\n.leading dot\n \n\nlast line\n",
            ),
        ),
        msg(
            "jörg@example.org",
            "SMTPUTF8 BODY=8BITMIME",
            &[("jörg@example.com", ""), ("ivan@example.com", "")],
            content(
                "utf8",
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n",
                "Grüße, 你好\n".as_bytes(),
            ),
        ),
        msg(
            "dsn-sender@example.org",
            "RET=HDRS ENVID=env+2Bid+3D1",
            &[
                (
                    "frank@example.com",
                    "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;frank-orig+2Bx@example.com",
                ),
                ("grace@example.com", "NOTIFY=NEVER"),
            ],
            content("dsn", "", b"DSN parameters.\n"),
        ),
        plain(
            alice,
            &["\"john doe\"@example.com"],
            "quoted",
            b"Quoted local part.\n",
        ),
        plain(
            alice,
            &["heidi@example.com"],
            "longline",
            format!("{}\nend\n", "x".repeat(1500)).as_bytes(),
        ),
        plain(
            alice,
            &["defer1@example.com", "judy@example.com"],
            "deferme",
            b"One recipient is deferred at first.\n",
        ),
        plain(
            alice,
            &["reject1@example.com"],
            "rejectme",
            b"This recipient is rejected.\n",
        ),
    ];
    for i in 0..12 {
        v.push(plain(
            "bulk@example.org",
            &[
                &format!("user{i}@example.com"),
                &format!("user{i}b@example.net"),
            ],
            &format!("bulk{i}"),
            format!("Bulk message {i}.\n").as_bytes(),
        ));
    }
    v
}

fn client(port: u16, lmtp: bool) -> ClientConfig {
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        lmtp,
        security: Security::Plain,
        insecure: false,
        helo: "tester.example.org".into(),
        auth: None,
        timeout: Duration::from_secs(60),
        dot_timeout: Duration::from_secs(60),
    }
}

fn feed(port: u16, msgs: &[Feed]) {
    let mut s = Session::connect(&client(port, false)).expect("connect to the secondary");
    for f in msgs {
        let mut mail = format!("MAIL FROM:<{}>", f.sender);
        if !f.mail_params.is_empty() {
            mail = format!("{mail} {}", f.mail_params);
        }
        let rcpts: Vec<Vec<u8>> = f
            .rcpts
            .iter()
            .map(|(r, p)| {
                let mut c = format!("RCPT TO:<{r}>");
                if !p.is_empty() {
                    c = format!("{c} {p}");
                }
                c.into_bytes()
            })
            .collect();
        let env = s.envelope(mail.as_bytes(), &rcpts, true).unwrap();
        assert_eq!(
            env.mail.class(Step::Mail),
            Class::Positive,
            "{mail}: {}",
            env.mail
        );
        for r in &env.rcpts {
            assert_eq!(r.class(Step::Rcpt), Class::Positive, "{r}");
        }
        assert_eq!(env.data.unwrap().code, 354);
        s.send_content(&f.body).unwrap();
        s.send_end_of_data().unwrap();
        let r = s.read_reply(Step::EndOfData).unwrap();
        assert_eq!(r.class(Step::EndOfData), Class::Positive, "{r}");
    }
    s.quit();
}

/// Runs `mxsalvage export` (archive copies only) on a spool.
fn export(etc: &Path, spool: &Path, out: &Path) {
    mx(["export"])
        .queue_dir(spool)
        .config_dir(etc)
        .out(out)
        .args(["--format", "eml", "--quiet"])
        .ok();
}

/// A stopped private secondary whose deferred queue holds the [`feeds`].
fn fed_secondary() -> Postfix {
    let sec = Postfix::started("create-secondary");
    let msgs = feeds();
    feed(sec.port, &msgs);
    sec.settle_deferred(msgs.len());
    sec
}

/// The queue IDs in a spool (file names under every queue).
fn spool_ids(p: &Postfix) -> Vec<String> {
    let spool = p.dir.path().join("spool");
    let mut out: Vec<String> = [
        "incoming", "active", "deferred", "hold", "maildrop", "corrupt",
    ]
    .iter()
    .flat_map(|q| files_under(&spool.join(q)))
    .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
    .collect();
    out.sort();
    out
}

/// The export built once per test run from a real secondary's spool.
fn fixture() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    fixture_once(&F, "reinject-fixture", |base| {
        let sec = fed_secondary();
        let out = base.join("export");
        export(
            &sec.dir.path().join("etc"),
            &sec.dir.path().join("spool"),
            &out,
        );
        out
    })
    .as_path()
}

/// A fresh copy of the fixture export.
fn export_copy() -> tempfile::TempDir {
    copy_export(fixture())
}

/// The usual set-up: a fresh copy of the fixture export; `None` (the test skips) when
/// the servers are missing.
fn fixture_export() -> Option<tempfile::TempDir> {
    servers_available(false).then(export_copy)
}

/// The usual set-up of a test that sends: runs `test` on a fresh copy of the fixture
/// export and a private primary to send it to; skips when the servers are missing.
fn with_export_and_primary(test: impl FnOnce(&Path, &Postfix)) {
    if let Some(export) = fixture_export() {
        test(export.path(), &Postfix::primary());
    }
}

/// A temporary directory whose `export/` holds an export of the sample spool;
/// `None` (the test skips) when the servers are missing.
fn samples_export() -> Option<tempfile::TempDir> {
    if !servers_available(false) {
        return None;
    }
    let d = tempfile::tempdir().unwrap();
    export(
        &util::root().join("samples/config"),
        &util::sample_spool(),
        &d.path().join("export"),
    );
    Some(d)
}

pub(crate) fn reinject(export: &Path, to: &str, extra: &[&str]) -> (Output, Summary) {
    let o = reinject_to(export, to)
        .args(["--json", "--no-tls"])
        .args(extra)
        .output();
    let s = reinject_summary(&o);
    (o, s)
}

/// Lower-case internal form of an address as it appears in a Delivered-To header.
fn unquote(addr: &str) -> String {
    let a = addr.trim().trim_start_matches('<').trim_end_matches('>');
    if let Some(rest) = a.strip_prefix('"')
        && let Some((local, domain)) = rest.rsplit_once("\"@")
    {
        return format!(
            "{}@{domain}",
            local.replace("\\\"", "\"").replace("\\\\", "\\")
        )
        .to_lowercase();
    }
    a.to_lowercase()
}

/// Splits a delivered file into (recipient from Delivered-To, the content after the
/// headers the primary added: Return-Path, X-Original-To, Delivered-To, one Received).
fn strip_added(file: &[u8]) -> (String, Vec<u8>) {
    let mut rest = file;
    let mut rcpt = String::new();
    let take_line = |r: &mut &[u8]| -> Vec<u8> {
        let end = r
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(r.len());
        let l = r[..end].to_vec();
        *r = &r[end..];
        l
    };
    loop {
        let l = {
            let mut peek = rest;
            take_line(&mut peek)
        };
        let lower = String::from_utf8_lossy(&l).to_lowercase();
        if lower.starts_with("return-path:") || lower.starts_with("x-original-to:") {
            take_line(&mut rest);
        } else if lower.starts_with("delivered-to:") {
            take_line(&mut rest);
            if rcpt.is_empty() {
                rcpt = unquote(String::from_utf8_lossy(&l)["delivered-to:".len()..].trim());
            }
        } else {
            break;
        }
    }
    // one Received: header with its continuation lines
    let l = take_line(&mut rest);
    assert!(
        l.to_ascii_lowercase().starts_with(b"received:"),
        "no Received: added: {}",
        String::from_utf8_lossy(&l)
    );
    while rest.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        take_line(&mut rest);
    }
    (rcpt, rest.to_vec())
}

/// The message without `Bcc:` header lines (and their continuation lines).
fn without_bcc(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut in_headers = true;
    let mut skipping = false;
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if in_headers {
            if line == b"\n" {
                in_headers = false;
            } else if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                skipping = line.len() > 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
                if skipping {
                    continue;
                }
            }
        }
        out.extend_from_slice(line);
    }
    out
}

/// A delivery report: one the primary itself sent (e.g. for NOTIFY=SUCCESS), or a DSN
/// mxsalvage sent for a refused recipient.
fn is_report(f: &[u8]) -> bool {
    let head = &f[..f.len().min(2000)];
    let ours = head
        .split(|&b| b == b'\n')
        .take_while(|l| !l.is_empty())
        .any(|l| {
            l.starts_with(b"Message-ID: <")
                && l.ends_with(b">")
                && l.windows(5).any(|w| w == b".dsn@")
        });
    ours || head
        .windows(32)
        .any(|w| w == b"MAILER-DAEMON@primary.example.co")
}

/// Expected deliveries per (queue id, recipient): pending recipients of each message,
/// counted once per distinct (address, ORCPT, NOTIFY) — Postfix keeps the same address
/// with a different ORCPT as two recipients, and delivers both.
fn expected_counts(m: &Manifest) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for mm in &m.messages {
        let mut seen = std::collections::HashSet::new();
        for r in mm.info.pending() {
            if seen.insert((r.address.clone(), r.orcpt.clone(), r.notify.clone())) {
                let k = (
                    mm.info.queue_id.clone(),
                    String::from_utf8_lossy(&r.address.0).to_lowercase(),
                );
                *out.entry(k).or_insert(0) += 1;
            }
        }
    }
    out
}

/// Expected (queue id, recipient) pairs: pending recipients of each message.
pub(crate) fn expected_pairs(m: &Manifest) -> Vec<(String, String)> {
    let mut v: Vec<_> = m
        .messages
        .iter()
        .flat_map(|mm| {
            mm.info
                .pending()
                .map(|r| {
                    (
                        mm.info.queue_id.clone(),
                        String::from_utf8_lossy(&r.address.0).to_lowercase(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What arrived: (queue id, recipient) → count, checking every copy is byte-identical
/// to its archive copy apart from the added headers.
pub(crate) fn arrivals(p: &Postfix, export: &Path) -> BTreeMap<(String, String), usize> {
    let m = manifest(export);
    let mut by_content: HashMap<Vec<u8>, String> = HashMap::new();
    for mm in &m.messages {
        let archive = std::fs::read(export.join(&mm.exported.store)).unwrap();
        // Postfix's cleanup drops Bcc: headers that a maildrop (sendmail) message still
        // has; the secondary's cleanup would have done the same.
        by_content.insert(without_bcc(&archive), mm.info.queue_id.clone());
        by_content.insert(archive, mm.info.queue_id.clone());
    }
    let mut out = BTreeMap::new();
    for f in p.delivered() {
        if is_report(&f) {
            continue;
        }
        let (rcpt, body) = strip_added(&f);
        let id = by_content.get(&body).unwrap_or_else(|| {
            panic!(
                "delivered content differs from every archive copy:\n{}",
                String::from_utf8_lossy(&f)
            )
        });
        *out.entry((id.clone(), rcpt)).or_insert(0) += 1;
    }
    out
}

fn journal_lines(export: &Path) -> usize {
    std::fs::read(journal_path(export))
        .map(|t| t.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// tests

#[test]
fn end_to_end_into_a_postfix_primary_exactly_once() {
    with_export_and_primary(|ex, primary| {
        let want = expected_pairs(&manifest(ex));
        assert!(want.len() >= 30, "{want:?}");

        let t = Instant::now();
        let (o, s) = reinject(ex, &primary.to(), &["--connections", "2"]);
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{s:#?}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(s.sent, want.len());
        assert_eq!((s.failed, s.deferred, s.unknown), (0, 0, 0));
        eprintln!(
            "reinject: {} messages, {} pairs in {secs:.2} s ({:.1} messages/s)",
            s.messages, s.sent, s.messages_per_second
        );
        primary.drain();
        let got = arrivals(primary, ex);
        let keys: Vec<_> = got.keys().cloned().collect();
        assert_eq!(keys, want);
        assert!(got.values().all(|&n| n == 1), "{got:?}");

        // every journal outcome is `sent`, each preceded by its `sending` marker
        let js = journal_state(ex);
        assert!(js.warnings.is_empty());
        assert_eq!(js.last.len(), want.len());
        assert!(
            js.last
                .values()
                .all(|r| r.state == State::Sent && r.code == Some(250))
        );
        // per pair: `sending` (fsynced), `sending` with the dot mark, the outcome
        assert_eq!(js.lines, 3 * want.len());

        // a rerun sends nothing
        let (o, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!((s.sent, s.already_sent, s.transactions), (0, want.len(), 0));
        primary.drain();
        assert_eq!(arrivals(primary, ex), got);

        // and a dry run says so
        let o = reinject_to(ex, &primary.to()).args(["--dry-run"]).output();
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("0 transaction(s) would be sent"), "{text}");
    });
}

#[test]
fn dry_run_shows_envelopes_and_parameters() {
    let Some(export) = fixture_export() else {
        return;
    };
    let ex = export.path();
    // nothing listens on this port: a dry run must not connect
    let o = mx(["reinject", "--from"])
        .arg(ex)
        .args(["--to", "127.0.0.1:1", "--dry-run"])
        .output();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_contains_all(
        "the dry run",
        &text,
        &[
            "MAIL FROM:<> SIZE=",
            "MAIL FROM:<alice@example.org> SIZE=",
            "BODY=8BITMIME",
            "SMTPUTF8",
            "RET=HDRS ENVID=env+2Bid+3D1",
            "RCPT TO:<frank@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;frank-orig+2Bx@example.com",
            "RCPT TO:<grace@example.com> NOTIFY=NEVER",
            "RCPT TO:<\"john doe\"@example.com>",
            "RCPT TO:<jörg@example.com>",
        ],
    );
    assert!(!journal_path(ex).exists(), "a dry run writes no journal");
}

#[test]
fn damaged_archive_copy_fails_only_that_message() {
    let Some(export) = fixture_export() else {
        return;
    };
    let ex = export.path();
    let m = manifest(ex);
    let victim = &m.messages[0];
    let path = ex.join(&victim.exported.store);
    let mut b = std::fs::read(&path).unwrap();
    b.extend_from_slice(b"tampered\n");
    std::fs::write(&path, b).unwrap();
    let primary = Postfix::primary();
    let (o, s) = reinject(ex, &primary.to(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let n = victim.info.pending().count();
    assert_eq!(s.failed, n);
    assert!(s.problems.iter().all(|p| {
        p.queue_id == victim.info.queue_id
            && p.reply
                .as_deref()
                .unwrap()
                .contains("does not match the manifest")
    }));
    assert_eq!(s.sent, expected_pairs(&m).len() - n);
}

#[test]
fn killed_runs_never_deliver_twice() {
    with_export_and_primary(|ex, primary| {
        let want = expected_pairs(&manifest(ex));
        // kill the tool (SIGKILL) once the journal has grown by k lines, several times
        for k in [1usize, 2, 5, 9] {
            let before = journal_lines(ex);
            let mut child = reinject_to(ex, &primary.to())
                .args(["--no-tls", "--rate", "8", "--quiet"])
                .command()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let t = Instant::now();
            while journal_lines(ex) < before + k {
                if child.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(30) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            child.kill().ok();
            child.wait().unwrap();
        }
        let (o, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!(
            o.status.code(),
            Some(if s.unknown > 0 { 1 } else { 0 }),
            "{s:#?}"
        );
        primary.drain();
        let got = arrivals(primary, ex);
        let unknown: Vec<(String, String)> = s
            .problems
            .iter()
            .filter(|p| p.state == "unknown")
            .map(|p| {
                (
                    p.queue_id.clone(),
                    String::from_utf8_lossy(&p.recipient.0).to_lowercase(),
                )
            })
            .collect();
        eprintln!("kill test: {} unknown pair(s) after 4 kills", unknown.len());
        for pair in &want {
            let n = got.get(pair).copied().unwrap_or(0);
            if unknown.contains(pair) {
                assert!(n <= 1, "{pair:?} delivered {n} times");
            } else {
                assert_eq!(n, 1, "{pair:?} delivered {n} times");
            }
        }
        // the journal now states `unknown` explicitly for dangling markers
        let js = journal_state(ex);
        assert!(
            js.last
                .values()
                .all(|r| matches!(r.state, State::Sent | State::Unknown))
        );
        // --resend-unknown sends exactly those
        if !unknown.is_empty() {
            let (_, s2) = reinject(ex, &primary.to(), &["--resend-unknown"]);
            assert_eq!(s2.sent, unknown.len());
        }
    });
}

#[test]
fn temporary_refusal_is_retried_and_permanent_refusal_recorded() {
    with_export_and_primary(|ex, primary| {
        primary.access("defer1@example.com 450 4.2.0 try again later (test)\nreject1@example.com REJECT no such user (test)\n");
        let want = expected_pairs(&manifest(ex));
        // run in the background with a short retry delay; lift the DEFER rule once the
        // journal shows the first deferral
        let child = reinject_to(ex, &primary.to())
            .args([
                "--no-tls",
                "--json",
                "--quiet",
                "--retry-delay",
                "2",
                "--max-retries",
                "5",
            ])
            .command()
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        loop {
            let text = std::fs::read_to_string(journal_path(ex)).unwrap_or_default();
            if text.contains("\"deferred\"") {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no deferral journaled"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        primary.access("reject1@example.com REJECT no such user (test)\n");
        let out = child.wait_with_output().unwrap();
        let s: Summary = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{s:#?}");
        assert_eq!((s.failed, s.deferred, s.unknown), (1, 0, 0), "{s:#?}");
        assert_eq!(s.sent, want.len() - 1);
        let p = &s.problems[0];
        assert_eq!(p.recipient.0, b"reject1@example.com");
        assert!(p.reply.as_deref().unwrap().starts_with("554 "), "{p:?}");
        let text = std::fs::read_to_string(journal_path(ex)).unwrap();
        let defer_lines = text
            .lines()
            .filter(|l| l.contains("\"defer1@example.com\""))
            .collect::<Vec<_>>();
        assert!(
            defer_lines.iter().any(|l| l.contains("\"deferred\"")
                && l.contains("450 4.2.0")
                && l.contains("try again later")),
            "{defer_lines:?}"
        );
        assert!(defer_lines.last().unwrap().contains("\"sent\""));

        // a rerun does not retry the failure...
        let (o, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!((s.sent, s.failed, s.transactions), (0, 1, 0));
        assert!(s.problems[0].from_journal);
        // ...unless asked to, once the primary accepts it
        primary.access("");
        let (o, s) = reinject(ex, &primary.to(), &["--retry-failed"]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        assert_eq!(s.sent, 1);
        primary.drain();
        let got = arrivals(primary, ex);
        assert_eq!(got.keys().cloned().collect::<Vec<_>>(), want);
        assert!(got.values().all(|&n| n == 1));
    });
}

#[test]
fn deferral_beyond_max_retries_stays_deferred_for_a_rerun() {
    with_export_and_primary(|ex, primary| {
        primary.access("defer1@example.com 450 4.2.0 try again later (test)\n");
        let (o, s) = reinject(
            ex,
            &primary.to(),
            &[
                "--id",
                &queue_id_for(ex, "defer1@example.com"),
                "--max-retries",
                "2",
                "--retry-delay",
                "0.2",
            ],
        );
        assert_eq!(o.status.code(), Some(1));
        assert_eq!((s.sent, s.deferred), (1, 1), "{s:#?}");
        let text = std::fs::read_to_string(journal_path(ex)).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.contains("\"deferred\"")).count(),
            2
        );
        primary.access("");
        let (o, s) = reinject(
            ex,
            &primary.to(),
            &["--id", &queue_id_for(ex, "defer1@example.com")],
        );
        assert_eq!(o.status.code(), Some(0));
        assert_eq!((s.sent, s.already_sent), (1, 1));
    });
}

fn queue_id_for(ex: &Path, rcpt: &str) -> String {
    manifest(ex)
        .messages
        .iter()
        .find(|m| {
            m.info
                .recipients
                .iter()
                .any(|r| r.address.0 == rcpt.as_bytes())
        })
        .unwrap()
        .info
        .queue_id
        .clone()
}

/// (address, ORCPT, NOTIFY) of a recipient.
type RcptTriple = (Vec<u8>, Option<Vec<u8>>, Option<String>);

/// Reads every queue file in a spool's hold/ queue.
fn held(p: &Postfix) -> Vec<QueueFile> {
    files_under(&p.dir.path().join("spool/hold"))
        .into_iter()
        .map(|f| QueueFile::parse(std::fs::read(f).unwrap(), Depth::Full, false).unwrap())
        .collect()
}

#[test]
fn esmtp_parameters_reach_the_primary_queue() {
    with_export_and_primary(|ex, primary| {
        primary.access("example.com HOLD\nexample.net HOLD\nexample.org HOLD\n");
        let (o, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        let m = manifest(ex);
        let t = Instant::now();
        let mut files = held(primary);
        while files.len() < m.messages.len() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(200));
            files = held(primary);
        }
        assert_eq!(files.len(), m.messages.len());
        let by_msgid = |q: &QueueFile| {
            let msg = q.message_bytes();
            let text = String::from_utf8_lossy(&msg).into_owned();
            text.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_string()
        };
        let mut checked = 0;
        for q in &files {
            let id = by_msgid(q);
            let src = m
                .messages
                .iter()
                .find(|mm| {
                    String::from_utf8_lossy(&std::fs::read(ex.join(&mm.exported.store)).unwrap())
                        .contains(&id)
                })
                .unwrap();
            let i = &src.info;
            assert_eq!(q.sender(), &i.sender.0[..], "{id}");
            assert_eq!(
                q.encoding
                    .as_deref()
                    .map(|e| String::from_utf8_lossy(e).into_owned()),
                i.encoding,
                "{id}"
            );
            assert_eq!(
                q.envelope_id.as_deref(),
                i.envelope_id.as_ref().map(|b| &b.0[..]),
                "{id}"
            );
            let ret = match q.ret_flags {
                Some(1) => Some("FULL".to_string()),
                Some(2) => Some("HDRS".to_string()),
                _ => None,
            };
            assert_eq!(ret, i.ret, "{id}");
            assert_eq!(
                q.size.unwrap().smtputf8_requested(),
                i.smtputf8_requested,
                "{id}"
            );
            let mut got: Vec<RcptTriple> = q
                .recipients
                .iter()
                .map(|r| {
                    (
                        r.address.clone(),
                        r.orcpt.clone(),
                        r.notify.map(mxsalvage::report::model::notify_words),
                    )
                })
                .collect();
            let mut want: Vec<_> = i
                .pending()
                .map(|r: &RecipientInfo| {
                    (
                        r.address.0.clone(),
                        r.orcpt.as_ref().map(|b| b.0.clone()),
                        r.notify.clone(),
                    )
                })
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{id}");
            assert!(q.recipients.iter().all(|r| r.state == RcptState::Pending));
            checked += 1;
        }
        assert_eq!(checked, m.messages.len());
        // postcat agrees on one of them (the DSN message)
        let o = Command::new("postcat")
            .args(["-c", &format!("{}/etc", primary.d()), "-e"])
            .arg(find_held_with(primary, "dsn@test"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_contains_all(
            "postcat output",
            &text,
            &[
                "named_attribute: envelope_id=env+id=1",
                "named_attribute: ret_flags=2",
                "named_attribute: dsn_orig_rcpt=rfc822;frank-orig+x@example.com",
                "named_attribute: notify_flags=6",
                "named_attribute: notify_flags=1",
            ],
        );
    });
}

fn find_held_with(p: &Postfix, needle: &str) -> PathBuf {
    files_under(&p.dir.path().join("spool/hold"))
        .into_iter()
        .find(|f| {
            std::fs::read(f)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .unwrap_or_else(|| panic!("no held file contains {needle}"))
}

// ---------------------------------------------------------------------------------
// LMTP against Dovecot

struct Dovecot {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("dovecot")
            .args([
                "-c",
                &self.dir.path().join("dovecot.conf").to_string_lossy(),
                "stop",
            ])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dovecot(users: &[&str]) -> Dovecot {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::create_dir_all(d.join("mail")).unwrap();
    std::fs::create_dir_all(d.join("run")).unwrap();
    let (uid, gid) = {
        let o = Command::new("id").arg("-u").arg("nobody").output().unwrap();
        let uid = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let o = Command::new("getent")
            .args(["group", "nogroup"])
            .output()
            .unwrap();
        let gid = String::from_utf8_lossy(&o.stdout)
            .split(':')
            .nth(2)
            .unwrap()
            .to_string();
        (uid, gid)
    };
    let mut passwd = String::new();
    for u in users {
        passwd.push_str(&format!(
            "{u}:{{PLAIN}}x:{uid}:{gid}::{}::\n",
            d.join("mail").display()
        ));
    }
    std::fs::write(d.join("passwd"), passwd).unwrap();
    chown("nobody:nogroup", &d.join("mail"));
    Command::new("chmod").arg("755").arg(d).status().unwrap();
    let conf = format!(
        r#"
protocols = lmtp
base_dir = {d}/run
state_dir = {d}/run
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
listen = 127.0.0.1
default_login_user = nobody
default_internal_user = nobody
mail_location = maildir:{d}/mail/%d/%n
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
lmtp_save_to_detail_mailbox = no
"#,
        d = d.display()
    );
    std::fs::write(d.join("dovecot.conf"), conf).unwrap();
    let child = Command::new("dovecot")
        .args(["-c", &d.join("dovecot.conf").to_string_lossy(), "-F"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "dovecot did not start: {}",
            std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Dovecot { dir, port, child }
}

#[test]
fn lmtp_into_dovecot_with_per_recipient_replies() {
    if !servers_available(true) {
        return;
    }
    let export = export_copy();
    let ex = export.path();
    let m = manifest(ex);
    // bob and carol share a message; carol is unknown to Dovecot. The UTF-8 message
    // needs SMTPUTF8, which Dovecot's LMTP does not offer: 5.6.7 without sending.
    let plain = queue_id_for(ex, "bob@example.com");
    let eight = queue_id_for(ex, "erin@example.com");
    let dsn = queue_id_for(ex, "frank@example.com");
    let utf8 = queue_id_for(ex, "ivan@example.com");
    let dc = dovecot(&[
        "bob@example.com",
        "erin@example.com",
        "frank@example.com",
        "grace@example.com",
    ]);
    let to = format!("127.0.0.1:{}", dc.port);
    let ids = [
        "--lmtp", "--id", &plain, "--id", &eight, "--id", &dsn, "--id", &utf8,
    ];
    let (o, s) = reinject(ex, &to, &ids);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{s:#?}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!((s.sent, s.failed), (4, 3), "{s:#?}");
    let failed: BTreeMap<String, String> = s
        .problems
        .iter()
        .map(|p| {
            (
                String::from_utf8_lossy(&p.recipient.0).into_owned(),
                p.reply.clone().unwrap(),
            )
        })
        .collect();
    assert!(
        failed["carol@example.net"].starts_with("550 5.1.1"),
        "{failed:?}"
    );
    assert!(
        failed["ivan@example.com"].starts_with("550 5.6.7"),
        "{failed:?}"
    );
    assert!(
        failed["jörg@example.com"].starts_with("550 5.6.7"),
        "{failed:?}"
    );
    let js = journal_state(ex);
    assert!(js.last.values().all(|r| r.target == format!("lmtp://{to}")));
    // only the sent ones got a `sending` marker: one transaction, one marker per pair
    // (and one dot mark each once the final dot was written)
    let text = std::fs::read_to_string(journal_path(ex)).unwrap();
    assert_eq!(text.matches("\"sending\"").count(), 8, "{text}");
    assert_eq!(text.matches("\"final dot written\"").count(), 4, "{text}");
    for (user, id) in [
        ("example.com/bob", &plain),
        ("example.com/erin", &eight),
        ("example.com/frank", &dsn),
        ("example.com/grace", &dsn),
    ] {
        let files = maildir_messages(&dc.dir.path().join("mail").join(user));
        assert_eq!(files.len(), 1, "{user}");
        let src = m
            .messages
            .iter()
            .find(|mm| &mm.info.queue_id == id)
            .unwrap();
        let archive = std::fs::read(ex.join(&src.exported.store)).unwrap();
        // Dovecot adds Return-Path, one Received, and Delivered-To only when the
        // transaction had a single recipient
        let f = &files[0];
        let probe = &archive[..archive.len().min(60)];
        let at = f
            .windows(probe.len())
            .position(|w| w == probe)
            .expect("archive copy in the delivered file");
        let head = String::from_utf8_lossy(&f[..at]);
        assert!(
            head.starts_with("Return-Path:") && head.contains("Received:"),
            "{head}"
        );
        assert_eq!(&f[at..], &archive[..], "{user}");
    }
    // a rerun sends nothing and keeps the failures
    let (o, s) = reinject(ex, &to, &ids);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        (s.sent, s.already_sent, s.failed, s.transactions),
        (0, 4, 3, 0)
    );
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let from = d.path().to_str().unwrap();
    let o = util::run(&["reinject", "--from", from, "--to", "127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "manifest.json");
    let o = util::run(&["reinject", "--from", from, "--to", "host:notaport"]);
    assert_eq!(o.status.code(), Some(2));
    let o = util::run(&[
        "reinject",
        "--from",
        from,
        "--to",
        "h",
        "--connections",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The real sample spool (samples/, made by Postfix as a secondary MX), exported with
/// `mxsalvage export` and re-injected: every pending pair of the primary's domains
/// arrives once and byte-identical; the rest is refused (the primary does not relay).
#[test]
fn sample_spool_round_trip() {
    let Some(d) = samples_export() else {
        return;
    };
    let ex = d.path().join("export");
    let local = |r: &str| {
        ["@example.com", "@example.net", "@example.org"]
            .iter()
            .any(|d| r.ends_with(d))
    };
    let (want, foreign): (BTreeMap<_, _>, BTreeMap<_, _>) = expected_counts(&manifest(&ex))
        .into_iter()
        .partition(|((_, r), _)| local(r));
    let n_want: usize = want.values().sum();
    let n_foreign: usize = foreign.values().sum();
    assert!(n_want >= 40, "{want:?}");
    let primary = Postfix::primary();
    let (o, s) = reinject(&ex, &primary.to(), &["--connections", "2"]);
    assert_eq!(
        o.status.code(),
        Some(if n_foreign == 0 { 0 } else { 1 }),
        "{s:#?}"
    );
    assert_eq!(
        (s.sent, s.failed, s.deferred, s.unknown),
        (n_want, n_foreign, 0, 0),
        "{s:#?}"
    );
    assert!(
        s.problems
            .iter()
            .all(|p| p.reply.as_deref().unwrap().contains("Relay access denied")),
        "{s:#?}"
    );
    primary.drain();
    assert_eq!(arrivals(&primary, &ex), want);
}

/// More sessions than the primary admits (its smtpd process limit, as on a
/// dedicated listener with a small maxproc): the surplus ones time out waiting for
/// the greeting and stop, their jobs go back untouched, and the run delivers
/// everything exactly once over the sessions that were admitted.
#[test]
fn surplus_connections_give_way_to_admitted_ones() {
    with_export_and_primary(|ex, primary| {
        let mcf = primary.dir.path().join("etc/master.cf");
        let text = std::fs::read_to_string(&mcf).unwrap();
        let limited: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("127.0.0.1:") {
                    let mut f: Vec<&str> = l.split_whitespace().collect();
                    f[6] = "2";
                    f.join(" ")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(&mcf, limited.join("\n") + "\n").unwrap();
        primary.reload();
        let want = expected_pairs(&manifest(ex));
        let (o, s) = reinject(ex, &primary.to(), &["--connections", "4", "--timeout", "3"]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        assert_eq!(
            (s.sent, s.failed, s.deferred, s.unknown),
            (want.len(), 0, 0, 0),
            "{s:#?}"
        );
        assert!(
            s.notes
                .keys()
                .any(|k| k.starts_with("session(s) not admitted by the server")),
            "{s:#?}"
        );
        primary.drain();
        let got = arrivals(primary, ex);
        for pair in &want {
            assert_eq!(got.get(pair).copied().unwrap_or(0), 1, "{pair:?}");
        }
    });
}

/// Issue #9 part 4: a message taken from maildrop/ carries the unqualified sender
/// `nobody` (postdrop writes what `sendmail -f` was given); the export qualifies it
/// with the secondary's `myorigin` as cleanup would (samples/config: `myorigin =
/// $myhostname`, backup-mx.example.com), so the primary receives `MAIL
/// FROM:<nobody@backup-mx.example.com>` — not a sender completed with its own domain.
/// Checked on the wire (the primary's log), in the delivered Return-Path, and in the
/// dry run.
#[test]
fn maildrop_sender_reaches_the_primary_qualified_with_myorigin() {
    let Some(d) = samples_export() else {
        return;
    };
    let ex = d.path().join("export");
    let want = "nobody@backup-mx.example.com";
    let m = manifest(&ex);
    let maildrop: Vec<&str> = m
        .messages
        .iter()
        .filter(|mm| mm.info.queue == "maildrop")
        .map(|mm| mm.info.queue_id.as_str())
        .collect();
    assert_eq!(
        maildrop.len(),
        3,
        "the samples hold three maildrop messages"
    );
    let mut args: Vec<&str> = Vec::new();
    for id in &maildrop {
        args.extend(["--id", id]);
    }
    // the dry run shows the qualified sender
    let (o, s) = reinject(&ex, "127.0.0.1:1", &[&args[..], &["--dry-run"]].concat());
    assert_eq!(o.status.code(), Some(0), "{s:#?}");
    assert_eq!(s.planned.len(), 3, "{s:#?}");
    for t in &s.planned {
        assert!(
            t.mail.starts_with(&format!("MAIL FROM:<{want}>")),
            "{}: {}",
            t.queue_id,
            t.mail
        );
    }
    let primary = Postfix::primary();
    let (o, s) = reinject(&ex, &primary.to(), &args);
    assert_eq!(o.status.code(), Some(0), "{s:#?}");
    assert_eq!(
        (s.sent, s.failed, s.deferred, s.unknown),
        (7, 0, 0, 0),
        "{s:#?}"
    );
    primary.drain();
    // what the primary's smtpd was given: `from=<...>` of each message it received
    // from 127.0.0.1 (qmgr logs the envelope sender as received)
    let log = std::fs::read_to_string(primary.dir.path().join("maillog")).unwrap();
    let froms: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/qmgr[") && l.contains(" from=<"))
        .map(|l| {
            let f = &l[l.find(" from=<").unwrap() + 7..];
            &f[..f.find('>').unwrap()]
        })
        .collect();
    assert_eq!(froms.len(), 3, "{log}");
    assert!(froms.iter().all(|f| *f == want), "{froms:?}");
    // and what was delivered: Return-Path, and the content unchanged
    let got = arrivals(&primary, &ex);
    assert_eq!(got.values().sum::<usize>(), 7, "{got:?}");
    let delivered = primary.delivered();
    assert_eq!(delivered.len(), 7);
    for f in &delivered {
        let first =
            String::from_utf8_lossy(&f[..f.iter().position(|&b| b == b'\n').unwrap()]).into_owned();
        assert_eq!(
            first.trim_end(),
            format!("Return-Path: <{want}>"),
            "{first}"
        );
    }
}

/// STARTTLS against a primary with a self-signed certificate: opportunistic by default,
/// `--starttls` checks the certificate (and stops the run), `--insecure` accepts it.
#[test]
fn starttls_with_a_self_signed_primary() {
    if !servers_available(false) || !util::have("openssl") {
        return;
    }
    let export = export_copy();
    let ex = export.path();
    let primary = Postfix::primary();
    let etc = primary.dir.path().join("etc");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=primary.example.com",
            "-keyout",
        ])
        .arg(etc.join("key.pem"))
        .arg("-out")
        .arg(etc.join("cert.pem"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let o = Command::new("postconf")
        .arg("-c")
        .arg(&etc)
        .arg("-e")
        .arg(format!(
            "smtpd_tls_cert_file = {}",
            etc.join("cert.pem").display()
        ))
        .arg(format!(
            "smtpd_tls_key_file = {}",
            etc.join("key.pem").display()
        ))
        .args(["smtpd_tls_security_level = may", "smtpd_tls_loglevel = 1"])
        .output()
        .unwrap();
    assert!(o.status.success());
    primary.reload();
    let id = queue_id_for(ex, "bob@example.com");
    let to = primary.to();
    let base = [
        "reinject",
        "--from",
        ex.to_str().unwrap(),
        "--to",
        &to,
        "--id",
        &id,
        "--max-retries",
        "1",
        "--quiet",
    ];
    let run = |extra: &[&str], journal: &str| {
        let j = ex.join(journal);
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--journal", j.to_str().unwrap()]);
        util::run(&a)
    };
    assert_eq!(run(&[], "j1").status.code(), Some(0));
    let o = run(&["--starttls"], "j2");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        run(&["--starttls", "--insecure"], "j3").status.code(),
        Some(0)
    );
    let log = std::fs::read_to_string(primary.dir.path().join("maillog")).unwrap();
    assert_eq!(
        log.matches("TLS connection established").count(),
        2,
        "{log}"
    );
}

/// Issue 9.1: "already sent" belongs to the pair, not to the spelling of `--to`. The
/// same primary by another name is refused in one line naming both targets (the
/// reproduction: 127.0.0.1 then localhost sent everything twice); the same name spelled
/// differently is the same target; `--new-target` sends a deliberate second copy to
/// another server, once.
#[test]
fn another_name_for_the_target_never_sends_twice() {
    with_export_and_primary(|ex, primary| {
        let want = expected_pairs(&manifest(ex));
        let (o, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        assert_eq!(s.sent, want.len());
        assert_eq!(
            s.target_info.target,
            format!("smtp://127.0.0.1:{}", primary.port)
        );
        assert_eq!(s.target_info.addresses, vec!["127.0.0.1".to_string()]);
        assert_eq!(
            (s.target_info.protocol.as_str(), s.target_info.port),
            ("SMTP", primary.port)
        );
        assert_eq!(s.target_info.tls, "none (--no-tls)");
        let journal = std::fs::read(journal_path(ex)).unwrap();

        // the same server as localhost: refused, nothing sent, journal untouched
        let alias = format!("localhost:{}", primary.port);
        for dry in [false, true] {
            let o = mx(["reinject", "--from"])
                .arg(ex)
                .args(["--to", &alias, "--no-tls"])
                .args(dry.then_some("--dry-run"))
                .output();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            for part in [
                format!(
                    "refusing to send to smtp://localhost:{} (addresses ",
                    primary.port
                ),
                format!(
                    "{} pair(s) of this selection as already sent ({} to smtp://127.0.0.1:{} (addresses 127.0.0.1))",
                    want.len(),
                    want.len(),
                    primary.port
                ),
                format!("run again with --to 127.0.0.1:{}", primary.port),
                "--new-target".to_string(),
            ] {
                assert!(err.contains(&part), "missing {part:?} in {err}");
            }
            assert!(o.stdout.is_empty());
        }
        assert_eq!(std::fs::read(journal_path(ex)).unwrap(), journal);

        // other spellings of the same name are the same target
        let (o, s) = reinject(ex, &format!("[127.0.0.1]:{}", primary.port), &[]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!((s.sent, s.already_sent), (0, want.len()));
        // the text output starts with the resolved target
        let o = reinject_to(ex, &primary.to()).args(["--no-tls"]).output();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.starts_with(&format!(
                "target: smtp://127.0.0.1:{p} (host 127.0.0.1, addresses 127.0.0.1, port {p}, SMTP, TLS: none (--no-tls))\n",
                p = primary.port
            )),
            "{text}"
        );
        primary.drain();
        let got = arrivals(primary, ex);
        assert!(got.values().all(|&n| n == 1), "{got:?}");

        // a deliberate second destination: once there, and nothing more anywhere
        let second = Postfix::primary();
        let (o, s) = reinject(ex, &second.to(), &["--new-target"]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        assert_eq!(s.sent, want.len());
        let (_, s) = reinject(ex, &second.to(), &[]);
        assert_eq!((s.sent, s.already_sent), (0, want.len()));
        let (_, s) = reinject(ex, &primary.to(), &[]);
        assert_eq!((s.sent, s.already_sent), (0, want.len()));
        second.drain();
        primary.drain();
        assert_eq!(arrivals(primary, ex), got);
        let got2 = arrivals(&second, ex);
        assert_eq!(got2.keys().cloned().collect::<Vec<_>>(), want);
        assert!(got2.values().all(|&n| n == 1), "{got2:?}");
    });
}

/// Issue 9.3, end to end on real Postfix: after a run with sent, failed (its DSN sent)
/// and deferred pairs, `mxsalvage journal --sent-ids | postsuper -d -` on the
/// secondary leaves exactly the messages that are not done: the deferred one.
#[test]
fn sent_ids_empty_the_secondary_exactly() {
    if !servers_available(false) {
        return;
    }
    let sec = fed_secondary();
    let d = tempfile::tempdir().unwrap();
    let ex = d.path().join("export");
    export(
        &sec.dir.path().join("etc"),
        &sec.dir.path().join("spool"),
        &ex,
    );
    let before = spool_ids(&sec);
    let primary = Postfix::primary();
    primary.access("defer1@example.com 450 4.2.0 try again later (test)\nreject1@example.com REJECT no such user (test)\n");
    let (o, s) = reinject(&ex, &primary.to(), &["--max-retries", "1"]);
    assert_eq!(o.status.code(), Some(1), "{s:#?}");
    assert_eq!((s.failed, s.deferred, s.unknown), (1, 1, 0), "{s:#?}");
    let deferred = queue_id_for(&ex, "defer1@example.com");
    let failed = queue_id_for(&ex, "reject1@example.com");
    // delivered mail only by default: the refused one (its DSN suppressed, 5.7.1) too
    // is left out until --include-refused
    let (plain, code) = sent_ids(&ex, &[]);
    assert_eq!(code, Some(1));
    let mut delivered: Vec<String> = before
        .iter()
        .filter(|i| **i != deferred && **i != failed)
        .cloned()
        .collect();
    delivered.sort();
    assert_eq!(plain, delivered);
    let o = journal_cmd(&ex, &["--sent-ids", "--include-refused"]);
    assert_eq!(o.status.code(), Some(1));
    let ids = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut want: Vec<String> = before.iter().filter(|i| **i != deferred).cloned().collect();
    let mut got: Vec<String> = ids.lines().map(str::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // postsuper reads them from standard input
    let mut c = Command::new("postsuper")
        .args(["-c", &format!("{}/etc", sec.d()), "-d", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(ids.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(spool_ids(&sec), vec![deferred.clone()]);
    // the report says why the two are left
    let o = journal_cmd(&ex, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "  {deferred} defer1@example.com: deferred: 450 4.2.0"
        ))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "  {failed} reject1@example.com: failed: 554 5.7.1"
        )) && l.ends_with("; DSN to alice@example.org suppressed: the primary refused the content or the sender (5.7.1) (reinject --send-suppressed sends it) [done]")),
        "{text}"
    );
}

/// Every DSN mxsalvage sent that arrived in a Maildir of `p`, parsed with Python's
/// `email` package: one JSON object per DSN.
fn dsns_arrived(p: &Postfix) -> Vec<serde_json::Value> {
    let script = r#"
import email, email.policy, glob, json, sys
out = []
def fields(block):
    return {k: " ".join(str(v).split()) for k, v in block.items()}
def blocks_of(part):
    pl = part.get_payload()
    if part.get_content_type() == "message/delivery-status":
        return [fields(b) for b in pl]
    # other message/* types are parsed as one message: take its bytes back
    raw = (pl[0].as_bytes() if isinstance(pl, list) else part.get_payload(decode=True)).decode("utf-8")
    raw = raw.replace("\r\n", "\n")
    return [fields(email.message_from_string(b)) for b in raw.split("\n\n") if b.strip()]
for f in sorted(glob.glob(sys.argv[1] + "/*/new/*")):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    if ".dsn@" not in str(m.get("Message-ID", "")):
        continue
    parts = list(m.iter_parts())
    d = {
        "to": str(m["To"]), "from": str(m["From"]), "subject": str(m["Subject"]),
        "auto_submitted": str(m["Auto-Submitted"]), "in_reply_to": str(m.get("In-Reply-To")),
        "references": str(m.get("References")), "type": m.get_content_type(),
        "report_type": m.get_param("report-type"), "delivered_to": str(m["Delivered-To"]),
        "return_path": str(m["Return-Path"]),
        "parts": [p.get_content_type() for p in parts],
        "encodings": [str(p.get("Content-Transfer-Encoding", "7bit")) for p in parts],
        "text": parts[0].get_content(),
    }
    ds = blocks_of(parts[1])
    d["per_message"] = ds[0]
    d["per_recipient"] = ds[1:]
    orig = parts[2]
    pl = orig.get_payload()
    if isinstance(pl, list):
        d["original_message_id"] = str(pl[0]["Message-ID"])
        d["original_has_body"] = bool(pl[0].get_payload())
    else:
        raw = orig.get_payload(decode=True).decode("utf-8", "replace").replace("\r\n", "\n")
        head, _, body = raw.partition("\n\n")
        d["original_message_id"] = str(email.message_from_string(head + "\n\n")["Message-ID"])
        d["original_has_body"] = bool(body.strip())
    out.append(d)
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(p.dir.path().join("mail"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The reporting MTA a DSN of this export names.
fn reporting_name(ex: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ex.join("manifest.json")).unwrap()).unwrap();
    v["source"]["myhostname"]
        .as_str()
        .or(v["source"]["host"].as_str())
        .unwrap()
        .to_string()
}

/// Issue 9.2 on a real Postfix primary: every refused recipient that is owed a DSN
/// gets one in the sender's mailbox, as RFC 3464 and Postfix make them (parsed with
/// Python's `email`); NOTIFY=NEVER gets none; null-sender mail is reported to the
/// postmaster; a rerun sends none again; `mxsalvage journal` counts them.
#[test]
fn refused_recipients_get_a_dsn_as_postfix_would_send_it() {
    with_export_and_primary(|ex, primary| {
        primary.access(
            "reject1@example.com 550 5.1.1 no such user (test)\nfrank@example.com 550 5.1.1 no such user (test)\ngrace@example.com 550 5.1.1 no such user (test)\ndave@example.com 550 5.1.1 no such user (test)\nivan@example.com 550 5.1.1 no such user (test)\n",
        );
        // the whole original on request (the default, headers only, is
        // backscatter_policy_on_a_real_primary's)
        let (o, s) = reinject(
            ex,
            &primary.to(),
            &[
                "--postmaster",
                "postmaster@example.com",
                "--dsn-return",
                "full",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{s:#?}");
        assert_eq!(s.failed, 5, "{s:#?}");
        assert_eq!((s.dsns_sent, s.dsn_problems.len()), (4, 0), "{s:#?}");
        primary.drain();
        let dsns = dsns_arrived(primary);
        assert_eq!(dsns.len(), 4, "{dsns:#?}");
        let host = reporting_name(ex);
        let by_to = |to: &str| {
            dsns.iter()
                .find(|d| d["delivered_to"] == to)
                .unwrap_or_else(|| panic!("no DSN for {to}: {dsns:#?}"))
        };
        for d in &dsns {
            assert_eq!(
                d["from"],
                format!("Mail Delivery System <MAILER-DAEMON@{host}>")
            );
            assert_eq!(d["return_path"], "<>", "sent with the null sender");
            assert_eq!(d["type"], "multipart/report");
            assert_eq!(d["report_type"], "delivery-status");
            assert_eq!(d["parts"][0], "text/plain");
            for e in d["encodings"].as_array().unwrap() {
                assert!(e == "7bit" || e == "8bit", "{d:#?}");
            }
            assert_eq!(d["in_reply_to"], d["references"]);
            assert_eq!(d["in_reply_to"], d["original_message_id"], "{d:#?}");
            let pm = &d["per_message"];
            assert_eq!(pm["Reporting-MTA"], format!("dns; {host}"));
            assert!(pm["Arrival-Date"].as_str().unwrap().ends_with("+0000"));
            assert_eq!(d["per_recipient"].as_array().unwrap().len(), 1, "{d:#?}");
            let pr = &d["per_recipient"][0];
            assert_eq!(pr["Action"], "failed");
            assert_eq!(pr["Status"], "5.1.1");
            assert_eq!(pr["Remote-MTA"], "dns; 127.0.0.1");
            assert!(
                pr["Diagnostic-Code"]
                    .as_str()
                    .unwrap()
                    .starts_with("smtp; 550 5.1.1 <")
                    && pr["Diagnostic-Code"]
                        .as_str()
                        .unwrap()
                        .ends_with("Recipient address rejected: no such user (test)"),
                "{pr:#?}"
            );
        }
        // a plain message: the whole original comes back
        let d = by_to("alice@example.org");
        assert_eq!(d["subject"], "Undelivered Mail Returned to Sender");
        assert_eq!(d["auto_submitted"], "auto-replied");
        assert_eq!(d["in_reply_to"], "<rejectme@test.example.org>");
        assert_eq!(d["parts"][1], "message/delivery-status");
        assert_eq!(d["parts"][2], "message/rfc822");
        assert_eq!(d["original_has_body"], true);
        assert_eq!(
            d["per_recipient"][0]["Final-Recipient"],
            "rfc822; reject1@example.com"
        );
        assert!(d["per_message"].get("Original-Envelope-Id").is_none());
        let text = d["text"].as_str().unwrap();
        assert!(
            text.contains("<reject1@example.com>: host 127.0.0.1 said: 550 5.1.1"),
            "{text}"
        );
        // RET=HDRS, ENVID, ORCPT, NOTIFY=SUCCESS,FAILURE: the headers only, with the
        // envelope ID and the original recipient; grace (NOTIFY=NEVER) is not reported
        let d = by_to("dsn-sender@example.org");
        assert_eq!(d["parts"][2], "text/rfc822-headers");
        assert_eq!(d["original_has_body"], false);
        assert_eq!(d["per_message"]["Original-Envelope-Id"], "env+id=1");
        assert_eq!(
            d["per_recipient"][0]["Final-Recipient"],
            "rfc822; frank@example.com"
        );
        assert_eq!(
            d["per_recipient"][0]["Original-Recipient"],
            "rfc822;frank-orig+x@example.com"
        );
        assert!(!d["text"].as_str().unwrap().contains("grace"));
        // SMTPUTF8 mail: a global report, delivered with SMTPUTF8 to a UTF-8 sender
        let d = by_to("jörg@example.org");
        assert_eq!(d["parts"][1], "message/global-delivery-status");
        assert_eq!(d["parts"][2], "message/global");
        assert_eq!(
            d["per_recipient"][0]["Final-Recipient"],
            "rfc822; ivan@example.com"
        );
        assert_eq!(
            d["per_message"]["X-mxsalvage-Sender"],
            "utf-8; jörg@example.org"
        );
        // the null sender: the postmaster is told, nobody else
        let d = by_to("postmaster@example.com");
        assert_eq!(d["subject"], "Postmaster Copy: Undelivered Mail");
        assert_eq!(d["auto_submitted"], "auto-generated");
        assert_eq!(
            d["per_recipient"][0]["Final-Recipient"],
            "rfc822; dave@example.com"
        );
        assert!(d["per_message"].get("X-mxsalvage-Sender").is_none());

        // the journal records them; a rerun sends none again
        let js = journal_state(ex);
        assert_eq!(js.dsn.len(), 4, "{:#?}", js.dsn);
        assert!(
            js.dsn
                .values()
                .all(|d| d.dsn == mxsalvage::reinject::journal::DsnState::Sent)
        );
        let (_, s) = reinject(
            ex,
            &primary.to(),
            &["--postmaster", "postmaster@example.com"],
        );
        assert_eq!((s.sent, s.dsns_sent, s.transactions), (0, 0, 0), "{s:#?}");
        primary.drain();
        assert_eq!(dsns_arrived(primary).len(), 4);
        // and `journal` now counts every failed pair as done
        let o = journal_cmd(ex, &["--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let rep: mxsalvage::reinject::status::Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((rep.totals.failed, rep.totals.failed_done), (5, 5));
        assert_eq!(rep.totals.messages_done, rep.totals.messages);
    });
}

/// `--no-bounces` writes the DSNs into the export instead (once), `--dry-run` lists
/// the DSNs owed, and `--bounce-via` sends them through another server.
#[test]
fn dsns_as_files_listed_or_through_another_server() {
    with_export_and_primary(|ex, primary| {
        primary.access("reject1@example.com 550 5.1.1 no such user (test)\ngrace@example.com 550 5.1.1 no such user (test)\n");
        let (o, s) = reinject(ex, &primary.to(), &["--no-bounces"]);
        assert_eq!(o.status.code(), Some(1), "{s:#?}");
        assert_eq!((s.failed, s.dsns_sent, s.dsns_written), (2, 0, 1), "{s:#?}");
        let files: Vec<_> = std::fs::read_dir(ex.join("bounces"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let eml = std::fs::read(&files[0]).unwrap();
        let m = mail_parser::MessageParser::default().parse(&eml).unwrap();
        assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
        assert!(eml.windows(2).filter(|w| w == b"\r\n").count() > 10, "CRLF");
        // a rerun writes nothing more
        let (_, s) = reinject(ex, &primary.to(), &["--no-bounces"]);
        assert_eq!(s.dsns_written, 0);
        assert_eq!(std::fs::read_dir(ex.join("bounces")).unwrap().count(), 1);

        // dry run of a fresh copy after a run without DSNs: lists what is owed
        // without the DSN lines: the DSN is owed again
        let export2 = copy_without_dsn_lines(ex);
        let ex2 = export2.path();
        let o = reinject_to(ex2, &primary.to()).args(["--dry-run"]).output();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("to alice@example.org: reject1@example.com: 550 5.1.1"),
            "{text}"
        );
        assert!(text.contains("1 DSN(s) owed"), "{text}");
        assert!(
            !text.contains("to dsn-sender@example.org"),
            "NOTIFY=NEVER: {text}"
        );
        // through another server
        let other = Postfix::primary();
        let (o, s) = reinject(
            ex2,
            &primary.to(),
            &["--bounce-via", &format!("smtp://{}", other.to())],
        );
        assert_eq!(o.status.code(), Some(1), "{s:#?}");
        assert_eq!(s.dsns_sent, 1);
        other.drain();
        let d = dsns_arrived(&other);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["delivered_to"], "alice@example.org");
        let js = journal_state(ex2);
        assert!(
            js.dsn
                .values()
                .all(|r| r.target == format!("smtp://{}", other.to()))
        );
    });
}

/// A stopped private secondary whose queue holds copies of the sample spool's queue
/// files (so that `postsuper -d` finds the samples' queue IDs).
pub(crate) fn secondary_with_samples() -> Postfix {
    let sec = Postfix::started("create-secondary");
    sec.stop();
    let spool = sec.dir.path().join("spool");
    for q in [
        "deferred", "hold", "incoming", "active", "maildrop", "defer", "bounce",
    ] {
        let src = util::sample_spool().join(q);
        if src.exists() {
            let st = Command::new("cp")
                .arg("-r")
                .arg(format!("{}/.", src.display()))
                .arg(spool.join(q))
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    chown("postfix", &spool);
    sec
}

/// The runbook's sections 7–9 (blocks tagged `primary`) run as shown: the sample
/// export re-injected into a private Postfix primary where `sales@` has left, the
/// journal read, and the done queue IDs deleted with `postsuper` from a private
/// secondary holding the sample queue files.
#[test]
fn runbook_reinjection_runs_as_documented() {
    if !servers_available(false) {
        return;
    }
    let primary = Postfix::primary();
    primary.access("sales@example.com 550 5.1.1 User unknown\n");
    let sec = secondary_with_samples();
    let mut env = crate::docs::DocEnv::new();
    let out = env.sh(
        "mxsalvage export --queue-dir samples/spool --config-dir samples/config --out /srv/salvage --zip --quiet",
    );
    assert_eq!(out, Vec::<String>::new(), "export: {out:?}");
    let p = primary.port;
    // what the runbook shows ← what the private instances give
    env.substitute(
        "192.0.2.10:2525 (addresses 192.0.2.10)",
        &format!("127.0.0.2:{p} (addresses 127.0.0.2)"),
    )
    .substitute(
        "mx1.example.com:2525 (addresses 192.0.2.10)",
        &format!("127.0.0.1:{p} (addresses 127.0.0.1)"),
    )
    .substitute(
        "host mx1.example.com, addresses 192.0.2.10, port 2525",
        &format!("host 127.0.0.1, addresses 127.0.0.1, port {p}"),
    )
    .substitute("192.0.2.10:2525", &format!("127.0.0.2:{p}"))
    .substitute("mx1.example.com:2525", &format!("127.0.0.1:{p}"))
    .var("MAIL_CONFIG", &format!("{}/etc", sec.d()));
    crate::docs::run_tagged("primary", &env);
    // the DSNs really arrived, and the backup's queue is empty
    primary.drain();
    assert_eq!(dsns_arrived(&primary).len(), 2);
    assert_eq!(spool_ids(&sec), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------
// issue 17: backscatter policy, circuit breaker, deletion list

/// `mxsalvage journal --from EXPORT` with `extra`.
/// The queue IDs `journal --sent-ids` (with `extra`) prints, sorted, and its exit code.
fn sent_ids(ex: &Path, extra: &[&str]) -> (Vec<String>, Option<i32>) {
    let mut a = vec!["--sent-ids"];
    a.extend_from_slice(extra);
    let o = journal_cmd(ex, &a);
    let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    ids.sort();
    (ids, o.status.code())
}

/// A fresh copy of `ex` with its journal minus the DSN lines: the DSNs are owed again.
fn copy_without_dsn_lines(ex: &Path) -> tempfile::TempDir {
    let copy = export_copy();
    let text = std::fs::read_to_string(journal_path(ex)).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("\"dsn\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(journal_path(copy.path()), kept).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        journal_path(copy.path()),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    copy
}

/// (DSN recipient, reported recipients) of each DSN a summary lists, sorted.
fn dsn_set(v: &[mxsalvage::reinject::PlannedDsn]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<_> = v
        .iter()
        .map(|d| {
            (
                d.to.display().to_string(),
                d.failures
                    .iter()
                    .map(|(r, _)| r.display().to_string())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// (Delivered-To, Final-Recipient addresses) of each DSN that arrived, sorted.
fn arrived_set(dsns: &[serde_json::Value]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<_> = dsns
        .iter()
        .map(|d| {
            (
                d["delivered_to"].as_str().unwrap().to_string(),
                d["per_recipient"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let f = r["Final-Recipient"].as_str().unwrap();
                        f.split_once("; ").unwrap().1.to_string()
                    })
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The queue IDs of the manifest's messages, sorted, without those holding a pending
/// recipient in `refused`.
fn ids_without(ex: &Path, refused: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = manifest(ex)
        .messages
        .iter()
        .filter(|m| !m.info.probe && m.info.pending().next().is_some())
        .filter(|m| {
            !m.info
                .pending()
                .any(|r| refused.iter().any(|x| r.address.0 == x.as_bytes()))
        })
        .map(|m| m.info.queue_id.clone())
        .collect();
    v.sort();
    v
}

/// Issue 17 (r9) on a real Postfix primary: refusals of the address (550 5.1.1 from
/// check_recipient_access) get a DSN with the header only; a sender refused by
/// check_sender_access (554 5.7.1) and a message refused after the dot by
/// header_checks (550 5.7.1) get none; the per-sender and per-domain limits suppress
/// the rest. Suppressed DSNs are journaled with their reason and listed by `journal`;
/// `--sent-ids` lists only delivered messages unless `--include-refused`; `--dry-run`
/// lists exactly the DSNs a real run then sends; `--send-suppressed --no-bounces`
/// writes the suppressed ones.
#[test]
fn backscatter_policy_on_a_real_primary() {
    with_export_and_primary(|ex, primary| {
        primary.access(
            "reject1@example.com 550 5.1.1 User unknown (test)\njudy@example.com 550 5.1.1 User unknown (test)\nfrank@example.com 550 5.1.1 User unknown (test)\nuser0@example.com 550 5.1.1 User unknown (test)\n",
        );
        primary.sender_access("erin-sender@example.org REJECT\n");
        primary.header_checks("/^Subject: test longline$/ REJECT spam detected (test)\n");
        let limits = ["--max-dsns-per-sender", "1", "--max-dsns-per-domain", "2"];
        let (o, s) = reinject(ex, &primary.to(), &limits);
        assert_eq!(o.status.code(), Some(1), "{s:#?}");
        assert!(!s.breaker_tripped);
        assert_eq!(s.failed, 6, "{s:#?}");
        let reply_of = |r: &str| {
            s.problems
                .iter()
                .find(|p| p.recipient.0 == r.as_bytes())
                .and_then(|p| p.reply.clone())
                .unwrap()
        };
        assert!(
            reply_of("erin@example.com")
                .starts_with("554 5.7.1 <erin-sender@example.org>: Sender address rejected")
        );
        assert!(reply_of("heidi@example.com").starts_with("550 5.7.1 spam detected (test)"));
        // 4 owed by the content rule: 2 sent, 1 over the sender limit (alice@ has two),
        // 1 over the domain limit (example.org's third)
        assert_eq!((s.dsns_sent, s.suppressed_dsns.len()), (2, 4), "{s:#?}");
        let why: Vec<&str> = s
            .suppressed_dsns
            .iter()
            .map(|d| d.reason.as_deref().unwrap())
            .collect();
        let n = |w: &str| why.iter().filter(|r| r.contains(w)).count();
        assert_eq!(
            (
                n("content or the sender (5.7.1)"),
                n("--max-dsns-per-sender"),
                n("--max-dsns-per-domain")
            ),
            (2, 1, 1),
            "{why:?}"
        );
        let held: Vec<_> = dsn_set(&s.suppressed_dsns);
        assert!(held.contains(&(
            "erin-sender@example.org".into(),
            vec!["erin@example.com".into()]
        )));
        assert!(held.contains(&("alice@example.org".into(), vec!["heidi@example.com".into()])));
        // what the senders' mailboxes received: exactly the DSNs the run names, headers only
        primary.drain();
        let dsns = dsns_arrived(primary);
        assert_eq!(arrived_set(&dsns), dsn_set(&s.planned_dsns), "{dsns:#?}");
        for d in &dsns {
            assert_eq!(d["parts"][2], "text/rfc822-headers", "{d:#?}");
            assert_eq!(d["original_has_body"], false);
            assert_ne!(d["delivered_to"], "erin-sender@example.org");
        }
        // the journal: suppressed DSNs with their reason, listed by `journal`
        let js = journal_state(ex);
        use mxsalvage::reinject::journal::DsnState;
        let sup = js.dsn.values().filter(|d| d.dsn == DsnState::Suppressed);
        assert_eq!(sup.clone().count(), 4);
        assert!(sup.clone().all(|d| d.reason.is_some()));
        let text = String::from_utf8_lossy(&journal_cmd(ex, &[]).stdout).into_owned();
        assert!(
            text.lines().any(|l| l.contains(" erin@example.com: failed: 554 5.7.1")
                && l.contains("; DSN to erin-sender@example.org suppressed: the primary refused the content or the sender (5.7.1)")
                && l.ends_with("[done]")),
            "{text}"
        );
        // the deletion list: delivered mail only, unless --include-refused
        let refused = [
            "reject1@example.com",
            "judy@example.com",
            "frank@example.com",
            "user0@example.com",
            "erin@example.com",
            "heidi@example.com",
        ];
        assert_eq!(sent_ids(ex, &[]), (ids_without(ex, &refused), Some(1)));
        assert_eq!(
            sent_ids(ex, &["--include-refused"]),
            (ids_without(ex, &[]), Some(0))
        );
        // a rerun sends and suppresses nothing again
        let (_, s2) = reinject(ex, &primary.to(), &limits);
        assert_eq!(
            (s2.transactions, s2.dsns_sent, s2.suppressed_dsns.len()),
            (0, 0, 0),
            "{s2:#?}"
        );

        // --dry-run lists exactly what a real run then sends (through another primary)
        let copy = copy_without_dsn_lines(ex);
        let ex2 = copy.path();
        let mut a = limits.to_vec();
        a.push("--dry-run");
        let (o, dry) = reinject(ex2, &primary.to(), &a);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            (&dry.planned_dsns, &dry.suppressed_dsns),
            (&s.planned_dsns, &s.suppressed_dsns)
        );
        let other = Postfix::primary();
        let via = format!("smtp://{}", other.to());
        let mut a = limits.to_vec();
        a.extend_from_slice(&["--bounce-via", &via]);
        let (_, real) = reinject(ex2, &primary.to(), &a);
        assert_eq!(real.dsns_sent, dry.planned_dsns.len());
        other.drain();
        assert_eq!(
            arrived_set(&dsns_arrived(&other)),
            dsn_set(&dry.planned_dsns)
        );

        // a spam verdict in the manifest (the triage step's `messages[].verdict`) holds
        // the sender's DSN too
        let copy3 = copy_without_dsn_lines(ex);
        let ex3 = copy3.path();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ex3.join("manifest.json")).unwrap()).unwrap();
        let spam = queue_id_for(ex3, "reject1@example.com");
        for m in v["messages"].as_array_mut().unwrap() {
            if m["queue_id"] == spam.as_str() {
                m["verdict"] = serde_json::json!("spam");
            }
        }
        std::fs::write(ex3.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
        let mut a = limits.to_vec();
        a.push("--dry-run");
        let (_, dry3) = reinject(ex3, &primary.to(), &a);
        let d = dry3
            .suppressed_dsns
            .iter()
            .find(|d| d.queue_id == spam)
            .unwrap_or_else(|| panic!("{dry3:#?}"));
        assert_eq!(
            d.reason.as_deref(),
            Some("the message is marked spam by its triage verdict")
        );
        assert!(!dry3.planned_dsns.iter().any(|d| d.queue_id == spam));

        // sent deliberately later: here written as files
        let (_, s3) = reinject(ex, &primary.to(), &["--send-suppressed", "--no-bounces"]);
        assert_eq!((s3.dsns_written, s3.dsns_sent), (4, 0), "{s3:#?}");
        assert_eq!(std::fs::read_dir(ex.join("bounces")).unwrap().count(), 4);
        let js = journal_state(ex);
        assert!(!js.dsn.values().any(|d| d.dsn == DsnState::Suppressed));
    });
}

/// Issue 17 (r10) on a real Postfix primary that knows no user at all: the circuit
/// breaker stops the run before any DSN with one line naming the reply and what to
/// check, exit 2, nothing `failed`, no DSN owed, nothing offered for deletion; the same
/// primary fixed (same address and port), a plain rerun delivers everything once.
#[test]
fn a_primary_that_knows_no_user_trips_the_breaker_and_a_rerun_delivers() {
    let Some(export) = fixture_export() else {
        return;
    };
    let ex = export.path();
    let want = expected_pairs(&manifest(ex));
    let primary = Postfix::primary();
    primary.users("none");
    let (o, s) = reinject(ex, &primary.to(), &[]);
    assert_eq!(o.status.code(), Some(2), "{s:#?}");
    assert!(s.breaker_tripped);
    assert_eq!((s.sent, s.failed, s.dsns_sent), (0, 0, 0), "{s:#?}");
    assert_eq!(s.deferred, want.len());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("circuit breaker"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("User unknown in virtual mailbox table")
            && lines[0].contains("recipient lookup"),
        "{err}"
    );
    let js = journal_state(ex);
    assert!(js.dsn.is_empty());
    assert!(
        js.last.values().all(|r| r.state == State::Deferred),
        "{:#?}",
        js.last
    );
    // nothing failed, no DSN owed: the dry run plans every pair again
    let (o, dry) = reinject(ex, &primary.to(), &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!((dry.failed, dry.planned_dsns.len()), (0, 0), "{dry:#?}");
    assert_eq!(
        dry.planned.iter().map(|t| t.rcpts.len()).sum::<usize>(),
        want.len()
    );
    assert_eq!(sent_ids(ex, &["--include-refused"]).0, Vec::<String>::new());

    primary.users("all");
    let (o, s) = reinject(ex, &primary.to(), &[]);
    assert_eq!(o.status.code(), Some(0), "{s:#?}");
    assert_eq!(s.sent, want.len());
    primary.drain();
    let got = arrivals(&primary, ex);
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), want);
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    assert!(dsns_arrived(&primary).is_empty());
    assert_eq!(sent_ids(ex, &[]), (ids_without(ex, &[]), Some(0)));
}

/// The breaker's count on a real primary: 9 distinct recipients refused never trip
/// it, 10 do (the percentage set to 1 so only the count decides; the percentage's
/// edges are unit tests in reinject::worker); `--accept-refusals` then proceeds.
#[test]
fn breaker_just_below_and_above_the_count() {
    if !servers_available(false) {
        return;
    }
    let primary = Postfix::primary();
    let rules = |n: usize| -> String {
        (0..n)
            .map(|i| format!("user{i}@example.com 550 5.1.1 User unknown (test)\n"))
            .collect()
    };
    let pct = ["--breaker-percent", "1"];
    primary.access(&rules(9));
    let below = export_copy();
    let (o, s) = reinject(below.path(), &primary.to(), &pct);
    assert_eq!(o.status.code(), Some(1), "{s:#?}");
    assert!(!s.breaker_tripped);
    assert_eq!((s.failed, s.dsns_sent), (9, 9), "{s:#?}");

    primary.access(&rules(10));
    let above = export_copy();
    let (o, s) = reinject(above.path(), &primary.to(), &pct);
    assert_eq!(o.status.code(), Some(2), "{s:#?}");
    assert!(s.breaker_tripped);
    assert_eq!((s.failed, s.dsns_sent), (0, 0), "{s:#?}");
    let (o, s) = reinject(above.path(), &primary.to(), &["--accept-refusals"]);
    assert_eq!(o.status.code(), Some(1), "{s:#?}");
    assert_eq!((s.failed, s.dsns_sent), (10, 10), "{s:#?}");
}

/// Issue 17 (r14): a pair whose last journal line is its `sending` mark is described
/// by what the journal knows — the final dot not marked as written ("most likely does
/// not have it") or marked ("after the final dot was written").
#[test]
fn unknown_is_worded_by_the_dot_mark() {
    if !servers_available(false) {
        return;
    }
    let primary = Postfix::primary();
    let export = export_copy();
    let ex = export.path();
    let id = queue_id_for(ex, "heidi@example.com");
    let (o, _) = reinject(ex, &primary.to(), &["--id", &id]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(journal_path(ex)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("\"sending\"") && !lines[0].contains("final dot written"));
    assert!(
        lines[1].contains("\"sending\"") && lines[1].contains("\"step\":\"final dot written\"")
    );
    assert!(lines[2].contains("\"sent\""));
    for (keep, want, not) in [
        (1, "no mark that the dot was written", "after the final dot"),
        (2, "after the final dot was written", "no mark"),
    ] {
        let copy = export_copy();
        let cx = copy.path();
        std::fs::write(journal_path(cx), format!("{}\n", lines[..keep].join("\n"))).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(journal_path(cx), std::fs::Permissions::from_mode(0o600)).unwrap();
        let o = reinject_to(cx, &primary.to())
            .args(["--no-tls", "--id", &id])
            .output();
        assert_eq!(o.status.code(), Some(1));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(want) && !out.contains(not), "{out}");
        let js = journal_state(cx);
        let last = js.last.values().next().unwrap();
        assert_eq!(last.state, State::Unknown);
        assert!(last.reply.as_deref().unwrap().contains(want));
    }
}
