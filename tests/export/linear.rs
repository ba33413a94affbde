//! Linearity: doubling one dimension of the input at most a little more than doubles the
//! time (a ratio within one test run, never an absolute time). The time is the user CPU
//! time of the mxsalvage process, as bash's `time` reports it: what our own code computes,
//! which is where a quadratic loop shows, and which other processes on a busy machine do
//! not decide. System time is left out: it is mostly the export's fsyncs, whose cost is the
//! file system's (it varied 0.5 s to 2.6 s between identical runs, and once made a
//! 1,000-message export look 4× slower at 2,000). The fastest of three runs per size is used.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::harness::{s, scratch};

/// Runs mxsalvage with `args` (TZ=UTC) and returns its output and user CPU time.
fn timed(args: &[&str]) -> (Output, Duration) {
    let script = "TIMEFORMAT='CPU %U'; time \"$0\" \"$@\"";
    let o = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(args)
        .env("TZ", "UTC")
        // One worker: the growth of the work is what is measured, and idle rayon
        // workers spin, which counts as CPU time in proportion to the machine's load
        // (a 3.4× "growth" on a loaded 2-core CI machine where the work grew 2×).
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("bash");
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .rev()
        .find(|l| l.starts_with("CPU "))
        .unwrap_or_else(|| panic!("no timing in {err}"));
    let secs: f64 = line[4..].parse().unwrap();
    (o, Duration::from_secs_f64(secs))
}

/// `export --queue-dir SPOOL --out OUT EXTRA…` (default config, quiet), timed.
fn export_timed(spool: &Path, out: &Path, extra: &[&str]) -> Duration {
    let mut a = vec!["export", "--config-dir", defaults_config_dir(), "--quiet"];
    a.extend(["--queue-dir", s(spool), "--out", s(out)]);
    a.extend_from_slice(extra);
    let (o, t) = timed(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    t
}

fn many_recipients(dir: &Path, id: &str, arrival: i64, n: usize) {
    let rcpts: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("user{i:06}@example.com").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = rcpts.iter().map(|r| r.as_slice()).collect();
    put(
        dir,
        &Msg {
            id,
            arrival,
            sender: b"list@example.net",
            rcpts: &refs,
            attrs: &[],
            body: b"From: list@example.net\nSubject: to everyone\n\nhello\n",
        },
    );
}

/// Exports one message to `n` recipients, then an update adds a second one to all of
/// them; returns (export, update, verify) times. Checks the result on the way.
fn recipients_run(n: usize, round: u32) -> Times {
    let (d, spool, _) = scratch();
    many_recipients(&spool, "DDDDDD0001", 1_700_000_000, n);
    let out = d.path().join(format!("out{round}"));
    let first = export_timed(&spool, &out, &["--format", "mbox"]);
    many_recipients(&spool, "DDDDDD0002", 1_700_000_100, n);
    let update = export_timed(&spool, &out, &["--format", "mbox", "--update"]);
    let m = manifest(&out);
    assert_eq!(m.recipients.len(), n);
    assert_eq!(m.totals.pairs, 2 * n);
    let (v, verify) = timed(&["verify", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    (first, update, verify)
}

#[test]
fn many_recipients_on_one_message_is_linear() {
    // Before: 2000 recipients 85 s, 4000 recipients 423 s (debug build): every bundle
    // re-read the message's whole manifest entry and scanned all its recipients.
    let n = 800;
    let small: Vec<_> = (0..3).map(|r| recipients_run(n, r)).collect();
    let large: Vec<_> = (0..3).map(|r| recipients_run(2 * n, r)).collect();
    assert_linear(&small, &large, n, "recipients");
}

/// Export, update and verify times at `n` and `2 * n` (three runs each, the fastest
/// counts): doubling `what` may make each at most 3× slower.
fn assert_linear(small: &[Times], large: &[Times], n: usize, what: &str) {
    for (phase, i) in [("export", 0), ("update", 1), ("verify", 2)] {
        let get = |v: &[Times]| v.iter().map(|x| [x.0, x.1, x.2][i]).min().unwrap();
        let (a, b) = (get(small), get(large));
        let ratio = b.as_secs_f64() / a.as_secs_f64();
        eprintln!(
            "{phase}: {n} {what} {a:?}, {} {what} {b:?}, ratio {ratio:.2}",
            2 * n
        );
        assert!(
            ratio < 3.0,
            "{phase}: doubling the {what} made it {ratio:.2}× slower ({a:?} → {b:?})"
        );
    }
}

/// Export, update, verify.
type Times = (Duration, Duration, Duration);

#[test]
fn many_messages_in_one_mailbox_is_linear() {
    // One mailbox holding every message (a backup MX's skewed queue): export, update and
    // verify stay linear in the number of messages (verify matched each Maildir file by
    // scanning the whole directory listing).
    let run_n = |n: usize, round: u32| -> Times {
        let (d, spool, _) = scratch();
        let add = |from: usize, to: usize| {
            for i in from..to {
                let id = format!("EE{i:08X}");
                put_simple(&spool, &id, 1_700_000_000 + i as i64, b"big@example.com");
            }
        };
        add(0, n);
        let out = d.path().join(format!("out{round}"));
        let first = export_timed(&spool, &out, &["--format", "mbox,maildir"]);
        add(n, n + n / 4);
        let update = export_timed(&spool, &out, &["--format", "mbox,maildir", "--update"]);
        let (v, verify) = timed(&["verify", out.to_str().unwrap()]);
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
        (first, update, verify)
    };
    let n = 1000;
    let small: Vec<_> = (0..3).map(|r| run_n(n, r)).collect();
    let large: Vec<_> = (0..3).map(|r| run_n(2 * n, r)).collect();
    assert_linear(&small, &large, n, "messages");
}
