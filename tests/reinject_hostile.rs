//! Integration tests: `reinject` against misbehaving servers (issue 12: replies that
//! the protocol step does not allow, a pipelined reply too many or too few, replies
//! out of order or after the last one, a trickled greeting, a silent server) and the
//! journal's privacy.
//!
//! The server is written here (std only, 127.0.0.1, one thread per connection): a
//! well-behaved SMTP/LMTP server except in the one place a test tells it to
//! misbehave ([`Fault`]). It counts the messages it really received (a final dot
//! after a 354). The invariant every test checks: a pair is journaled `sent` only
//! when the server really received the message, and never when it did not.
//! The export is made from the bundled sample spool (a real Postfix made it); no
//! Postfix or root needed (the ownership case runs only as root).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::harness::{
    assert_stderr_contains, copy_export, export_samples, fixture_once, is_root, journal_cmd,
    journal_path, journal_state, manifest, mx, reinject_summary, write_mode,
};
use crate::util;
use mxsalvage::reinject::Summary;
use mxsalvage::reinject::journal::State;

/// The one place the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// This instead of the 220 greeting (CRLF included).
    Greeting(&'static str),
    /// The greeting one byte every 500 ms.
    TrickleGreeting,
    /// Accepts and says nothing.
    Silent,
    /// This reply to every MAIL.
    Mail(&'static str),
    /// This reply to every RCPT.
    Rcpt(&'static str),
    /// This reply to DATA (instead of 354).
    Data(&'static str),
    /// Pipelining: this many 250 replies more than commands before DATA's 354.
    PipeExtra(usize),
    /// Pipelining: no reply to DATA at all (one reply too few).
    PipeFewer,
    /// Pipelining: MAIL's reply comes last (the first RCPT is refused).
    PipeReorder,
    /// These bytes right after 354, in the same write.
    After354(&'static str),
    /// This reply after the final dot (instead of 250).
    Dot(&'static str),
    /// LMTP: one reply more than accepted recipients after the dot.
    LmtpExtra,
    /// LMTP: one reply fewer, then silence.
    LmtpFewer,
    /// Per recipient: carol@ refused (550), dave@ deferred (450), and a transaction
    /// with erin@ loses its connection after the final dot (unknown); a DSN (null
    /// sender) to bounce-me@ is deferred (450).
    Mixed,
}

#[derive(Debug, Default)]
struct Stats {
    connections: usize,
    /// Messages received: a final dot after a 354.
    dots: usize,
    /// Greeting bytes written before the client went away (TrickleGreeting).
    trickled: Option<usize>,
}

struct Server {
    port: u16,
    stats: Arc<Mutex<Stats>>,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Server {
    fn start(fault: Fault, pipelining: bool, lmtp: bool) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        st.lock().unwrap().connections += 1;
                        let (st2, sp2) = (st.clone(), sp.clone());
                        std::thread::spawn(move || {
                            let _ = serve(c, fault, pipelining, lmtp, &st2, &sp2);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server {
            port,
            stats,
            stop,
            accept: Some(accept),
        }
    }
    fn to(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    fn dots(&self) -> usize {
        self.stats.lock().unwrap().dots
    }
}

/// One connection.
fn serve(
    c: TcpStream,
    fault: Fault,
    pipelining: bool,
    lmtp: bool,
    stats: &Mutex<Stats>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = c.try_clone()?;
    let mut r = BufReader::new(c);
    match fault {
        Fault::Silent => {
            // until the client goes away (or the test ends)
            let mut b = String::new();
            while !stop.load(Ordering::SeqCst) {
                if matches!(r.read_line(&mut b), Ok(0)) {
                    return Ok(());
                }
            }
            return Ok(());
        }
        Fault::TrickleGreeting => {
            let g = b"220 slow.example ESMTP (one byte every 500 ms)\r\n";
            for (i, b) in g.iter().enumerate() {
                if w.write_all(&[*b]).is_err() || stop.load(Ordering::SeqCst) {
                    stats.lock().unwrap().trickled = Some(i);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            stats.lock().unwrap().trickled = Some(g.len());
        }
        Fault::Greeting(g) => w.write_all(g.as_bytes())?,
        _ => w.write_all(b"220 hostile.example ESMTP\r\n")?,
    }
    let mut rcpts = 0usize;
    let mut lost_after_dot = false;
    let mut null_sender = false;
    let mut held_mail = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let cmd = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let reply: Vec<u8> = if cmd.starts_with("EHLO") || cmd.starts_with("LHLO") {
            let mut e = String::from(
                "250-hostile.example\r\n250-SIZE 100000000\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n",
            );
            if pipelining {
                e.push_str("250-PIPELINING\r\n");
            }
            e.push_str("250 HELP\r\n");
            e.into_bytes()
        } else if cmd.starts_with("HELO") {
            b"250 hostile.example\r\n".to_vec()
        } else if cmd.starts_with("MAIL") {
            rcpts = 0;
            lost_after_dot = false;
            null_sender = cmd.starts_with("MAIL FROM:<>");
            match fault {
                Fault::Mail(m) => m.as_bytes().to_vec(),
                Fault::PipeReorder => {
                    held_mail = true;
                    Vec::new()
                }
                _ => b"250 2.1.0 Ok\r\n".to_vec(),
            }
        } else if cmd.starts_with("RCPT") {
            match fault {
                Fault::Mixed if cmd.contains("<CAROL@") => {
                    w.write_all(b"550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown\r\n")?;
                    continue;
                }
                Fault::Mixed if cmd.contains("<DAVE@") => {
                    w.write_all(b"450 4.2.0 <dave@example.com>: try again later\r\n")?;
                    continue;
                }
                Fault::Mixed if cmd.contains("<ERIN@") => lost_after_dot = true,
                Fault::Mixed if null_sender && cmd.contains("<BOUNCE-ME@") => {
                    w.write_all(b"450 4.2.0 <bounce-me@example.net>: mailbox busy\r\n")?;
                    continue;
                }
                _ => {}
            }
            rcpts += 1;
            match fault {
                Fault::Rcpt(m) => m.as_bytes().to_vec(),
                Fault::PipeReorder if rcpts == 1 => b"550 5.1.1 no such user\r\n".to_vec(),
                _ => b"250 2.1.5 Ok\r\n".to_vec(),
            }
        } else if cmd.starts_with("DATA") {
            let mut out = Vec::new();
            if held_mail {
                out.extend_from_slice(b"250 2.1.0 sender ok\r\n");
                held_mail = false;
            }
            match fault {
                Fault::Data(m) => {
                    out.extend_from_slice(m.as_bytes());
                    w.write_all(&out)?;
                    continue;
                }
                Fault::PipeFewer => continue,
                Fault::PipeExtra(n) => {
                    for _ in 0..n {
                        out.extend_from_slice(b"250 2.0.0 Ok\r\n");
                    }
                }
                _ => {}
            }
            if rcpts == 0 {
                out.extend_from_slice(b"503 5.5.1 Error: need RCPT command\r\n");
                w.write_all(&out)?;
                continue;
            }
            out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
            if let Fault::After354(x) = fault {
                out.extend_from_slice(x.as_bytes());
            }
            w.write_all(&out)?;
            // the content, up to the final dot
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" {
                    break;
                }
            }
            stats.lock().unwrap().dots += 1;
            let n = stats.lock().unwrap().dots;
            if lost_after_dot {
                return Ok(());
            }
            match fault {
                Fault::Dot(m) => m.as_bytes().to_vec(),
                Fault::LmtpExtra => b"250 2.0.0 Ok\r\n".repeat(rcpts + 1),
                Fault::LmtpFewer => {
                    w.write_all(&b"250 2.0.0 Ok\r\n".repeat(rcpts - 1))?;
                    continue;
                }
                _ if lmtp => b"250 2.0.0 Ok\r\n".repeat(rcpts),
                _ => format!("250 2.0.0 Ok: queued as Q{n}\r\n").into_bytes(),
            }
        } else if cmd.starts_with("RSET") {
            rcpts = 0;
            b"250 2.0.0 Ok\r\n".to_vec()
        } else if cmd.starts_with("QUIT") {
            w.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else if cmd.starts_with("NOOP") {
            b"250 2.0.0 Ok\r\n".to_vec()
        } else {
            b"502 5.5.2 Error: command not recognized\r\n".to_vec()
        };
        w.write_all(&reply)?;
    }
}

/// The sample spool exported once per test run (archive copies only).
fn fixture() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    fixture_once(&F, "hostile-fixture", |base| {
        let out = base.join("export");
        export_samples(&out, &["--format", "eml"]).ok();
        out
    })
    .as_path()
}

/// A fresh copy of the fixture export.
fn export_copy() -> tempfile::TempDir {
    copy_export(fixture())
}

/// A fresh copy of the fixture export and a [`Server`] to send it to.
struct Bench {
    export: tempfile::TempDir,
    srv: Server,
}

impl Bench {
    fn start(fault: Fault, pipelining: bool, lmtp: bool) -> Bench {
        let export = export_copy();
        let srv = Server::start(fault, pipelining, lmtp);
        Bench { export, srv }
    }

    fn ex(&self) -> &Path {
        self.export.path()
    }

    /// [`run`] from the export to the server.
    fn run(&self, extra: &[&str]) -> (Output, Summary) {
        run(self.ex(), &self.srv.to(), extra)
    }
}

/// A sample message with two pending recipients (alice, bob).
const TWO: &str = "3911298E402";

fn run(ex: &Path, to: &str, extra: &[&str]) -> (Output, Summary) {
    let mut args = vec![
        "reinject",
        "--from",
        ex.to_str().unwrap(),
        "--to",
        to,
        "--json",
        "--quiet",
        "--max-retries",
        "1",
        "--dot-timeout",
        "2",
    ];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "2"]);
    }
    args.extend_from_slice(extra);
    let o = util::run(&args);
    let s = reinject_summary(&o);
    (o, s)
}

/// The distinct pending (address, ORCPT, NOTIFY) pairs of an export.
fn pairs(ex: &Path) -> usize {
    let m = manifest(ex);
    m.messages
        .iter()
        .filter(|mm| !mm.info.probe)
        .map(|mm| {
            mm.info
                .pending()
                .map(|r| (&r.address, &r.orcpt, &r.notify))
                .collect::<std::collections::HashSet<_>>()
                .len()
        })
        .sum()
}

fn journal(ex: &Path) -> String {
    std::fs::read_to_string(journal_path(ex)).unwrap_or_default()
}

/// Runs the two-recipient message against `fault` and checks the invariant: nothing
/// is `sent` and the server received nothing. Returns the summary.
fn never_sent(fault: Fault, pipelining: bool) -> Summary {
    let b = Bench::start(fault, pipelining, false);
    let ex = b.ex();
    let (o, s) = b.run(&["--id", TWO]);
    let j = journal(ex);
    assert_eq!(o.status.code(), Some(1), "{fault:?}: {s:#?}");
    assert_eq!((s.sent, s.deferred), (0, 2), "{fault:?}: {s:#?}");
    assert_eq!(b.srv.dots(), 0, "{fault:?}: the server got a message");
    assert!(!j.contains("\"sent\""), "{fault:?}: {j}");
    assert!(!j.contains("\"sending\""), "{fault:?}: {j}");
    s
}

fn reasons(s: &Summary) -> String {
    s.problems
        .iter()
        .map(|p| p.reply.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_well_behaved_server_gets_everything_once() {
    for pipelining in [false, true] {
        let b = Bench::start(Fault::None, pipelining, false);
        let ex = b.ex();
        let (o, s) = b.run(&[]);
        assert_eq!(o.status.code(), Some(0), "{s:#?}");
        assert_eq!(s.sent, pairs(ex), "{s:#?}");
        assert_eq!(b.srv.dots(), s.transactions);
        let (_, s) = b.run(&[]);
        assert_eq!((s.sent, s.already_sent), (0, pairs(ex)));
    }
}

#[test]
fn data_answered_250_is_never_sent() {
    // r1: a 2xx to DATA was taken as the reply to the data
    for pipelining in [false, true] {
        let s = never_sent(Fault::Data("250 2.0.0 Ok, thanks\r\n"), pipelining);
        assert!(
            reasons(&s).contains("protocol violation: DATA answered 250"),
            "{s:#?}"
        );
    }
    never_sent(Fault::Data("220 2.0.0 go\r\n"), false);
    never_sent(Fault::Data("334 go\r\n"), true);
}

#[test]
fn a_pipelined_reply_too_many_or_too_few_is_never_sent() {
    // r1: one reply too many was read as DATA's reply
    for n in [1, 2] {
        let s = never_sent(Fault::PipeExtra(n), true);
        assert!(reasons(&s).contains("protocol violation"), "{s:#?}");
    }
    // one too few: no reply to DATA within --timeout
    let s = never_sent(Fault::PipeFewer, true);
    assert!(
        reasons(&s).contains("timed out after 2 s waiting for the reply to DATA (--timeout)"),
        "{s:#?}"
    );
    // out of order: MAIL's reply last, so MAIL seems refused and a RCPT accepted
    let s = never_sent(Fault::PipeReorder, true);
    assert!(reasons(&s).contains("out of order"), "{s:#?}");
}

#[test]
fn replies_the_step_does_not_allow_are_never_sent() {
    for (f, pipe) in [
        (Fault::Mail("354 go ahead\r\n"), false),
        (Fault::Mail("251 2.1.0 will forward\r\n"), true),
        (Fault::Rcpt("354 go ahead\r\n"), false),
        (Fault::Rcpt("220 ready\r\n"), true),
        (Fault::Rcpt("600 6.0.0 no such class\r\n"), false),
        (Fault::Rcpt("199 too low\r\n"), true),
        (Fault::Rcpt("250-first line\r\n354 second line\r\n"), false),
        (Fault::Rcpt("250 ok\r\nHELLO\r\n"), true),
        (Fault::After354("250 2.0.0 Ok\r\n"), false),
        (Fault::After354("250 2.0.0 Ok\r\n"), true),
    ] {
        let s = never_sent(f, pipe);
        assert!(reasons(&s).contains("protocol violation"), "{f:?}: {s:#?}");
    }
}

#[test]
fn a_wrong_reply_after_the_final_dot_is_unknown_not_sent() {
    for f in [
        Fault::Dot("354 send more\r\n"),
        Fault::Dot("hello there\r\n"),
        Fault::Dot("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"),
        Fault::Dot("250-2.0.0 Ok\r\n550 5.0.0 no\r\n"),
    ] {
        let b = Bench::start(f, true, false);
        let ex = b.ex();
        let (o, s) = b.run(&["--id", TWO]);
        assert_eq!(o.status.code(), Some(1), "{f:?}: {s:#?}");
        assert_eq!((s.sent, s.unknown), (0, 2), "{f:?}: {s:#?}");
        assert_eq!(b.srv.dots(), 1);
        let js = journal_state(ex);
        assert!(js.last.values().all(|r| r.state == State::Unknown), "{f:?}");
        // a rerun sends nothing: unknown stays unknown
        let (_, s) = b.run(&["--id", TWO]);
        assert_eq!((s.sent, s.unknown, s.transactions), (0, 2, 0));
        assert_eq!(b.srv.dots(), 1);
    }
}

#[test]
fn lmtp_reply_counts_are_exact() {
    // one reply too many: none of them can be matched to its recipient
    let b = Bench::start(Fault::LmtpExtra, true, true);
    let (_, s) = b.run(&["--lmtp", "--id", TWO]);
    assert_eq!((s.sent, s.unknown), (0, 2), "{s:#?}");
    assert!(reasons(&s).contains("cannot be matched"), "{s:#?}");
    // one too few: the first reply counts, the second recipient is unknown
    let b = Bench::start(Fault::LmtpFewer, true, true);
    let (_, s) = b.run(&["--lmtp", "--id", TWO]);
    assert_eq!((s.sent, s.unknown), (1, 1), "{s:#?}");
    assert!(
        reasons(&s).contains("timed out after 2 s waiting for the reply to the end of data"),
        "{s:#?}"
    );
}

#[test]
fn a_bad_greeting_stops_the_run() {
    for g in [
        "250 hostile.example\r\n",
        "220-one\r\n250 two\r\n",
        "hello\r\n",
    ] {
        let b = Bench::start(Fault::Greeting(g), true, false);
        let (o, s) = b.run(&["--id", TWO]);
        assert_eq!(o.status.code(), Some(2), "{g:?}: {s:#?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("protocol violation"), "{g:?}: {err}");
        assert_eq!(s.sent, 0);
        assert_eq!(b.srv.dots(), 0);
    }
}

#[test]
fn a_trickled_greeting_gets_no_more_than_the_timeout() {
    // 50 bytes at one byte per 500 ms would hold the greeting 25 s; --timeout 2
    // gives up long before the server has written it all
    let b = Bench::start(Fault::TrickleGreeting, true, false);
    let (o, s) = b.run(&["--id", TWO]);
    assert_eq!(o.status.code(), Some(2), "{s:#?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("timed out after 2 s waiting for the reply to the greeting (--timeout)"),
        "{err}"
    );
    drop(o);
    // the server notices the client gone at its next writes
    let t = std::time::Instant::now();
    while b.srv.stats.lock().unwrap().trickled.is_none() && t.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = b.srv.stats.lock().unwrap().trickled.unwrap();
    assert!(n < 45, "the client waited for {n} bytes of the greeting");
}

#[test]
fn a_read_timeout_says_so() {
    let b = Bench::start(Fault::Silent, true, false);
    let (o, _) = b.run(&["--id", TWO, "--timeout", "0.5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("timed out after 0.5 s waiting for the reply to the greeting (--timeout)"),
        "{err}"
    );
    assert!(!err.contains("Resource temporarily unavailable"), "{err}");
}

#[test]
fn bad_timeouts_are_usage_errors() {
    let ex = fixture();
    for t in ["0", "-1", "nan", "100000"] {
        let o = mx(["reinject", "--from"])
            .arg(ex)
            .args(["--to", "127.0.0.1:1", "--timeout", t, "--dry-run"])
            .output();
        assert_eq!(o.status.code(), Some(2), "--timeout {t}");
    }
}

// ---------------------------------------------------------------------------------
// the journal is private (issue 12 item 7)

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Runs mxsalvage under a umask.
fn run_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(util::bin())
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

#[test]
fn the_journal_is_created_0600_whatever_the_umask() {
    let b = Bench::start(Fault::None, true, false);
    let ex = b.ex();
    for (umask, journal) in [("000", "j000.jsonl"), ("022", "j022.jsonl")] {
        let j = ex.join(journal);
        let o = run_umask(
            umask,
            &[
                "reinject",
                "--from",
                ex.to_str().unwrap(),
                "--to",
                &b.srv.to(),
                "--id",
                TWO,
                "--quiet",
                "--journal",
                j.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        assert_eq!(mode(&j), 0o600, "umask {umask}");
    }
}

#[test]
fn a_journal_others_can_write_is_refused() {
    let b = Bench::start(Fault::None, true, false);
    let ex = b.ex();
    let j = journal_path(ex);
    let (o, s) = b.run(&["--id", TWO]);
    assert_eq!(o.status.code(), Some(0), "{s:#?}");
    let before = std::fs::read(&j).unwrap();
    for m in [0o666, 0o620, 0o602] {
        std::fs::set_permissions(&j, std::fs::Permissions::from_mode(m)).unwrap();
        for dry in [false, true] {
            let o = mx(["reinject", "--from"])
                .arg(ex)
                .args(["--to", "127.0.0.1:1"])
                .args(dry.then_some("--dry-run"))
                .output();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "mode {m:o}: {err}");
            assert!(
                err.contains(&format!("is writable by group or others (mode {m:04o})"))
                    && err.contains("chmod 600"),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    assert_eq!(std::fs::read(&j).unwrap(), before);
    // readable by others (an earlier version's 0644): tightened, with a warning
    std::fs::set_permissions(&j, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (o, s) = b.run(&["--id", TWO]);
    assert_eq!((o.status.code(), s.already_sent), (Some(0), 2));
    assert_stderr_contains(&o, "made it 0600");
    assert_eq!(mode(&j), 0o600);
}

#[test]
fn a_journal_that_is_a_symlink_or_fifo_is_refused() {
    let export = export_copy();
    let ex = export.path();
    let real = ex.join("real.jsonl");
    std::fs::write(&real, b"").unwrap();
    std::os::unix::fs::symlink(&real, ex.join("link.jsonl")).unwrap();
    let fifo = ex.join("fifo.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (name, want) in [
        ("link.jsonl", "is a symbolic link"),
        ("fifo.jsonl", "is not a regular file"),
    ] {
        for dry in [false, true] {
            let j = ex.join(name);
            let o = mx(["reinject", "--from"])
                .arg(ex)
                .args(["--to", "127.0.0.1:1", "--journal"])
                .arg(&j)
                .args(dry.then_some("--dry-run"))
                .output();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name}: {err}");
            assert!(err.contains(want), "{name}: {err}");
        }
    }
}

#[test]
fn a_journal_owned_by_someone_else_is_refused() {
    if !is_root() {
        eprintln!("note: skipping: needs root to chown");
        return;
    }
    let export = export_copy();
    let ex = export.path();
    let j = journal_path(ex);
    write_mode(&j, b"", 0o600);
    assert!(
        Command::new("chown")
            .arg("nobody")
            .arg(&j)
            .status()
            .unwrap()
            .success()
    );
    let o = mx(["reinject", "--from"])
        .arg(ex)
        .args(["--to", "127.0.0.1:1", "--dry-run"])
        .output();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not to you (uid 0)"), "{err}");
}

// ---------------------------------------------------------------------------------
// mxsalvage journal (issue 9.3)

/// After a run with sent, failed, deferred and unknown pairs, `--sent-ids` lists
/// exactly the messages whose every pending pair is sent, or failed with nothing more
/// owed; the report and `--json` agree with the journal pair by pair.
#[test]
fn sent_ids_after_sent_failed_deferred_and_unknown_pairs() {
    let b = Bench::start(Fault::Mixed, true, false);
    let ex = b.ex();
    let (o, s) = b.run(&[]);
    assert_eq!(o.status.code(), Some(1), "{s:#?}");
    assert!(
        s.sent > 0 && s.failed > 0 && s.deferred > 0 && s.unknown > 0,
        "{s:#?}"
    );

    // what the server's rules make of each message, worked out from the manifest
    let m = manifest(ex);
    let mut want = Vec::new();
    let mut not_done = 0;
    for mm in m.messages.iter().filter(|mm| !mm.info.probe) {
        let rcpts: Vec<String> = mm
            .info
            .pending()
            .map(|r| String::from_utf8_lossy(&r.address.0).to_lowercase())
            .collect();
        if rcpts.is_empty() {
            continue;
        }
        let lost = rcpts.iter().any(|r| r.starts_with("erin@"));
        let dsn_deferred = mm.info.sender.0 == b"bounce-me@example.net";
        let done = rcpts.iter().all(|r| {
            if r.starts_with("carol@") {
                // failed: done when its DSN went out (the one to bounce-me@ is
                // deferred) or nothing is owed (NOTIFY without FAILURE)
                !dsn_deferred
                    || mm.info.pending().any(|p| {
                        String::from_utf8_lossy(&p.address.0).eq_ignore_ascii_case(r)
                            && p.notify.as_deref().is_some_and(|n| !n.contains("FAILURE"))
                    })
            } else {
                // null-sender mail to bounce-me@ meets the DSN rule too: deferred
                let deferred = r.starts_with("dave@")
                    || (r.starts_with("bounce-me@") && mm.info.sender.0.is_empty());
                !deferred && !lost
            }
        });
        if done {
            want.push(mm.info.queue_id.clone());
        } else {
            not_done += 1;
        }
    }
    assert!(!want.is_empty() && not_done > 0);
    let o = journal_cmd(ex, &["--sent-ids", "--include-refused"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let got: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, want);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} of {} message(s) listed",
            want.len(),
            want.len() + not_done
        )) && err.contains("postsuper -r"),
        "{err}"
    );
    // without --include-refused: only messages whose every pair was delivered
    let o = journal_cmd(ex, &["--sent-ids"]);
    let delivered: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let refused: Vec<&String> = want.iter().filter(|id| !delivered.contains(id)).collect();
    assert!(!refused.is_empty() && delivered.iter().all(|d| want.contains(d)));
    for id in refused {
        let mm = m
            .messages
            .iter()
            .find(|mm| &mm.info.queue_id == id)
            .unwrap();
        assert!(
            mm.info
                .pending()
                .any(|r| r.address.0.starts_with(b"carol@")),
            "{id}"
        );
    }

    // the report: per pair, the same states as the journal
    let o = journal_cmd(ex, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let rep: mxsalvage::reinject::status::Report = serde_json::from_slice(&o.stdout).unwrap();
    let t = &rep.totals;
    assert_eq!(
        (t.sent, t.failed, t.deferred, t.unknown, t.not_tried),
        (s.sent, s.failed, s.deferred, s.unknown, 0),
        "{t:?} vs {s:#?}"
    );
    assert_eq!(t.messages_done, want.len());
    for msg in &rep.messages {
        for p in &msg.pairs {
            let a = String::from_utf8_lossy(&p.recipient.0).to_lowercase();
            use mxsalvage::reinject::status::PairState as P;
            let want_state = if a.starts_with("carol@") {
                P::Failed
            } else if a.starts_with("dave@")
                || (a.starts_with("bounce-me@") && msg.sender.0.is_empty())
            {
                P::Deferred
            } else if msg
                .pairs
                .iter()
                .any(|q| String::from_utf8_lossy(&q.recipient.0).starts_with("erin@"))
            {
                P::Unknown
            } else {
                P::Sent
            };
            assert_eq!(p.state, want_state, "{} {a}", msg.queue_id);
            if p.state == P::Failed {
                let d = p.dsn.as_ref().unwrap();
                use mxsalvage::reinject::journal::DsnState;
                let want = if msg.sender.0 == b"bounce-me@example.net" {
                    DsnState::Deferred
                } else {
                    DsnState::Sent
                };
                assert_eq!(d.state, Some(want), "{} {d:?}", msg.queue_id);
                assert_eq!(p.done, want == DsnState::Sent);
            }
        }
    }
    // the text report lists every pair not sent
    let o = journal_cmd(ex, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  ")).count(),
        s.failed + s.deferred + s.unknown,
        "{text}"
    );
    assert!(text.contains("550 5.1.1 <carol@example.com>"), "{text}");
}

/// An export made for some recipients only cannot say which queue IDs are safe.
#[test]
fn sent_ids_refuses_a_partial_export() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bob");
    export_samples(&out, &["--format", "eml", "--recipient", "bob@example.com"]).ok();
    let o = journal_cmd(&out, &["--sent-ids"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--sent-ids refused: the export was made with --recipient"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}
