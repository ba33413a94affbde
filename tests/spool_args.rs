//! Integration tests: what `--queue-dir` and `--config-dir` mean on the machine that
//! reads (issue 16, items 2 and 6).
//!
//! - A copy read on another machine never takes that machine's identity or lifetimes:
//!   run in a private mount namespace (`unshare -m`) with a main.cf of our own
//!   bind-mounted as this machine's /etc/postfix, so the test depends on nothing the
//!   host holds, and proves both sides (a copy: Postfix's defaults and one note; the
//!   local spool: the local main.cf).
//! - What is at `--queue-dir` is diagnosed: a configuration directory, `/etc`-like, a
//!   directory without the x (search) bit for a non-root user.
//! - Overdue mail has its own heading in `scan`; the manifest's queue directory is
//!   absolute; export explains where its pair count differs from the queue's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;
use crate::util::{bin, have, root, run, sample_spool};

/// A `cp -r` copy of the sample spool (as an administrator copies it) in `dir`.
fn copy_samples(dir: &Path) -> PathBuf {
    let spool = dir.join("spool");
    copy_sample_spool(&spool, Modes::Copied);
    spool
}

/// Whether this test can run (root, unshare, mount); in CI it must.
fn can_unshare() -> bool {
    let ok = is_root() && have("unshare") && Path::new("/etc/postfix").is_dir();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with Postfix installed"
        );
        eprintln!("note: skipping: needs root, unshare and /etc/postfix");
    }
    ok
}

/// Runs mxsalvage with `etc` bind-mounted over /etc/postfix in a private mount
/// namespace: `etc` is "this machine's" Postfix configuration for that run only.
fn with_local_etc(etc: &Path, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/postfix && shift && exec "$@""#)
        .arg("sh")
        .arg(etc)
        .arg(bin())
        .args(args)
        .env("TZ", "UTC")
        .env("MXSALVAGE_NOW", crate::docs::NOW)
        .output()
        .expect("unshare")
}

fn notes(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("mxsalvage: note:") && !l.contains("file modes"))
        .map(str::to_string)
        .collect()
}

/// This machine's main.cf for the test: its own name, origin and lifetimes, and the
/// queue directory `queue_directory`.
fn local_main_cf(etc: &Path, queue_directory: &Path) {
    std::fs::create_dir_all(etc).unwrap();
    std::fs::write(
        etc.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nmyhostname = reader.local-machine.invalid\nmyorigin = $myhostname\nmaximal_queue_lifetime = 2d\nqueue_directory = {}\n",
            queue_directory.display()
        ),
    )
    .unwrap();
}

/// Issue 16, item 2: `scan`/`export --queue-dir COPY` without `--config-dir` on a
/// machine whose own Postfix has another name and other lifetimes: the maildrop
/// sender stays as queued (`nobody`), Postfix's default lifetimes apply, one note says
/// that --config-dir is needed, scan's header says which configuration was used, and
/// nothing of the local main.cf reaches the export. The same spool registered as this
/// machine's queue_directory is read with the local main.cf.
#[test]
fn a_copy_never_takes_the_reading_machines_identity() {
    if !can_unshare() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let spool = copy_samples(t.path());
    let etc = t.path().join("etc-postfix");
    local_main_cf(&etc, Path::new("/var/spool/postfix"));
    let q = spool.to_str().unwrap();

    let o = with_local_etc(&etc, &["scan", "--json", "--queue-dir", q]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.contains("local-machine.invalid"),
        "local identity used"
    );
    let r: mxsalvage::report::scan::ScanReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r.head.maximal_queue_lifetime,
        5 * 86400,
        "local lifetimes used"
    );
    assert!(
        r.head.configuration.starts_with("none"),
        "{}",
        r.head.configuration
    );
    let maildrop: Vec<_> = r
        .messages
        .iter()
        .filter(|m| m.queue == "maildrop")
        .collect();
    assert_eq!(maildrop.len(), 3);
    assert!(maildrop.iter().all(|m| m.sender.display() == "nobody"));
    let n = notes(&o);
    assert_eq!(n.len(), 1, "one note: {n:?}");
    assert!(
        n[0].contains("--config-dir") && n[0].contains("qualify"),
        "{n:?}"
    );

    let o = with_local_etc(&etc, &["scan", "--queue-dir", q]);
    let out = stdout(&o);
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("Configuration: none")),
        "{out}"
    );

    let exp = t.path().join("out");
    let o = with_local_etc(
        &etc,
        &[
            "export",
            "--queue-dir",
            q,
            "--out",
            exp.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(notes(&o).len(), 1, "{}", stderr(&o));
    let grep = Command::new("grep")
        .args(["-rl", "local-machine.invalid"])
        .arg(&exp)
        .output()
        .unwrap();
    assert!(
        grep.stdout.is_empty(),
        "the local name reached the export: {}",
        stdout(&grep)
    );

    // The same spool as this machine's own queue directory: the local main.cf counts.
    local_main_cf(&etc, &spool);
    let o = with_local_etc(&etc, &["scan", "--json", "--queue-dir", q]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: mxsalvage::report::scan::ScanReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.head.maximal_queue_lifetime, 2 * 86400);
    assert!(
        r.head.configuration.starts_with("/etc/postfix/main.cf"),
        "{}",
        r.head.configuration
    );
    assert!(
        r.messages
            .iter()
            .filter(|m| m.queue == "maildrop")
            .all(|m| m.sender.display() == "nobody@reader.local-machine.invalid")
    );
    assert!(notes(&o).is_empty(), "{}", stderr(&o));
}

/// Issue 16, item 6 (a3): with the clock past the samples' bounce time, overdue mail is
/// listed first under its own heading, not under "Bounce within 24 hours".
#[test]
fn overdue_mail_has_its_own_heading() {
    let o = mx(["scan"])
        .queue_dir(&sample_spool())
        .sample_config()
        .env("MXSALVAGE_NOW", "2026-12-07T10:00:00Z")
        .output();
    let out = stdout(&o);
    let section = |heading: &str| -> Vec<String> {
        out.lines()
            .skip_while(|l| !l.starts_with(heading))
            .take_while(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let overdue = section("Overdue");
    let soon = section("Bounce within 24 hours");
    assert!(overdue.len() > 1, "no overdue section:\n{out}");
    assert!(
        overdue.iter().skip(1).all(|l| l.contains(" ago)")),
        "{overdue:?}"
    );
    assert_eq!(soon[0], "Bounce within 24 hours: 0 message(s)", "{soon:?}");
    assert!(!soon.iter().any(|l| l.contains(" ago)")), "{soon:?}");
    let pos = |h: &str| out.find(h).unwrap();
    assert!(pos("\nOverdue") < pos("\nBounce within 24 hours"));
}

/// Issue 16, item 6 (a4): `--queue-dir` at a configuration directory (main.cf) or at a
/// directory above one (`/etc`) says so, and names `--config-dir`.
#[test]
fn a_configuration_directory_is_not_called_a_queue() {
    let cfg = root().join("samples/config");
    let o = run(&["scan", "--queue-dir", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(!err.contains("queue files"), "{err}");
    assert!(
        err.contains("configuration directory") && err.contains("--config-dir"),
        "{err}"
    );
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("postfix")).unwrap();
    std::fs::copy(cfg.join("main.cf"), t.path().join("postfix/main.cf")).unwrap();
    std::fs::write(t.path().join("hostname"), "mx2\n").unwrap();
    let o = run(&["scan", "--queue-dir", t.path().to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("postfix/main.cf") && err.contains("--config-dir"),
        "{err}"
    );
}

/// Issue 16, item 6 (a9): a non-root user (`nobody`) on a copy stripped to 0644 is told
/// that the directories lack the x (search) bit and how to fix it — for the top
/// directory (not "is not a Postfix spool") and for the queues under it.
#[test]
fn a_copy_without_search_bits_is_diagnosed_for_a_non_root_user() {
    if !is_root() || !have("runuser") {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("note: skipping: needs root and runuser");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mx = d.join("mx");
    std::fs::copy(bin(), &mx).unwrap();
    let spool = copy_samples(d);
    let cfg = d.join("config");
    std::fs::create_dir(&cfg).unwrap();
    std::fs::copy(root().join("samples/config/main.cf"), cfg.join("main.cf")).unwrap();
    let sh = |cmd: &str| {
        let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
        assert!(st.success(), "{cmd}");
    };
    sh(&format!(
        "chmod -R a+rX {0} && chmod 755 {1}",
        cfg.display(),
        mx.display()
    ));
    sh(&format!("chmod -R 0644 {}", spool.display()));
    let as_nobody = || {
        Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&mx)
            .args(["scan", "--queue-dir"])
            .arg(&spool)
            .arg("--config-dir")
            .arg(&cfg)
            .output()
            .unwrap()
    };
    let o = as_nobody();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("is not a Postfix spool"), "{err}");
    assert!(
        err.contains("x (search) bit") && err.contains("chmod -R u+X"),
        "{err}"
    );
    sh(&format!("chmod 755 {}", spool.display()));
    let o = as_nobody();
    let all = format!("{}{}", stdout(&o), stderr(&o));
    sh(&format!("chmod -R u+rwX {}", spool.display()));
    let denied: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("permission denied"))
        .collect();
    assert!(!denied.is_empty(), "{all}");
    assert!(
        denied.iter().all(|l| l.contains("x (search) bit")),
        "{denied:?}"
    );
}

/// Issue 16, item 6 (a6): the manifest keeps the queue directory as an absolute path,
/// so `journal --sent-ids` names the spool correctly from anywhere.
#[test]
fn the_manifest_names_the_queue_directory_absolutely() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    mx(["export", "--queue-dir", "samples/spool"])
        .config_dir("samples/config")
        .out(&out)
        .arg("--quiet")
        .dir(&root())
        .ok();
    let m = manifest_json(&out);
    let q = m["source"]["queue_directory"].as_str().unwrap();
    assert_eq!(Path::new(q), root().join("samples/spool"), "{q}");
}

/// Issue 16, item 6 (a7): the samples hold bob twice in one message (different
/// ORCPTs). The export writes one copy (62 pairs of message × mailbox), while the queue,
/// `scan`, `reinject` and `journal` count 63 recipient records; the export's summary
/// says so where it prints its count.
#[test]
fn export_explains_pairs_that_differ_from_the_queues_count() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let cfg = root().join("samples/config");
    let o = mx(["export"])
        .queue_dir(&sample_spool())
        .config_dir(&cfg)
        .out(&out)
        .ok();
    let err = stderr(&o);
    let summary = err.lines().last().unwrap();
    let m = manifest_json(&out);
    assert_eq!(m["totals"]["pairs"], 62);
    assert!(
        summary.contains(
            "(62 pairs + 1 duplicate recipient(s): same mailbox, other ORCPT, same copy, 320 KB)"
        ),
        "{summary}"
    );
    let j = run(&["journal", "--from", out.to_str().unwrap()]);
    let jt = stdout(&j);
    assert!(jt.lines().any(|l| l.starts_with("63 pair(s):")), "{jt}");
    let s = mx(["scan"])
        .queue_dir(&sample_spool())
        .config_dir(&cfg)
        .output();
    let st = stdout(&s);
    assert!(
        st.lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["total", "37", "63", "314", "KiB"]
        ),
        "{st}"
    );
}
