//! Integration tests: hostile spools (issue 12, items 5 and 9). FIFOs, devices and
//! symbolic links where queue files or `pid/master.pid` belong — present at the walk
//! or swapped in after it — never block, are never followed, and are reported by path;
//! a sparse 3 GB "queue file" is rejected without being read into memory. Each case is
//! one of `../shared/repro/r5-fifo-hang.sh`'s, or the class of bug next to it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use mxsalvage::queue::{Depth, PostfixConfig, Spool};

pub use crate::harness::files_under;
use crate::harness::{
    Modes, copy_sample_spool, fingerprint_of, mx, sample_scan, scan_report, scratch,
};
use crate::util::*;

const LIMIT: Duration = Duration::from_secs(300);

pub fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

/// A `cp -r` copy of the sample spool with every queue file made 0700, as on a live
/// spool (a thin wrapper: `harness::copy_sample_spool(dst, Modes::Live)`).
pub fn live_copy(dst: &Path) {
    copy_sample_spool(dst, Modes::Live);
}

fn scan_json(spool: &Path) -> (Option<i32>, mxsalvage::report::scan::ScanReport) {
    let out = sample_scan(spool).within(LIMIT).output();
    (out.status.code(), scan_report(&out))
}

/// r5 (a): a FIFO at pid/master.pid blocked every command in open().
#[test]
fn fifo_at_master_pid_does_not_block() {
    let (tmp, spool, _) = scratch();
    live_copy(&spool);
    std::fs::create_dir_all(spool.join("pid")).unwrap();
    mkfifo(&spool.join("pid/master.pid"));
    let (code, r) = scan_json(&spool);
    assert_eq!(code, Some(0));
    assert_eq!(
        r.head.postfix_running, None,
        "a FIFO says nothing about a master"
    );
    assert_eq!(r.messages.len(), 37);
    mx(["export", "--quiet", "--format", "eml"])
        .queue_dir(&spool)
        .out(&tmp.path().join("out"))
        .within(LIMIT)
        .code(0);
}

/// Symbolic links and FIFOs under queue-ID names at walk time: reported as what they
/// are (not "temporary or leftover file"), never followed; everything else is read.
#[test]
fn symlinks_fifos_and_devices_in_a_queue_are_reported_not_followed() {
    let (tmp, spool, _) = scratch();
    live_copy(&spool);
    let fifo = tmp.path().join("fifo");
    mkfifo(&fifo);
    let real = spool.join("deferred/3/383B998E530");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::rename(&real, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &real).unwrap();
    std::fs::remove_file(spool.join("deferred/3/3911298E402")).unwrap();
    std::os::unix::fs::symlink(&fifo, spool.join("deferred/3/3911298E402")).unwrap();
    std::fs::remove_file(spool.join("deferred/3/3B11398E531")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", spool.join("deferred/3/3B11398E531")).unwrap();
    mkfifo(&spool.join("deferred/3/3C8B998E535.fifo"));
    std::fs::remove_file(spool.join("deferred/3/3DB1698E537")).unwrap();
    mkfifo(&spool.join("deferred/3/3DB1698E537"));
    // A FIFO as a defer log must not block either.
    std::fs::remove_file(spool.join("defer/3/3F24F98E53C")).unwrap();
    mkfifo(&spool.join("defer/3/3F24F98E53C"));
    let before = tree_fingerprint_nofollow(&spool);
    let (code, r) = scan_json(&spool);
    assert_eq!(code, Some(1), "unreadable entries make the run partial");
    for (id, what) in [
        ("383B998E530", "symbolic link"),
        ("3911298E402", "symbolic link"),
        ("3B11398E531", "symbolic link"),
        ("3DB1698E537", "FIFO"),
    ] {
        let e = r
            .errors
            .iter()
            .find(|e| e.path.ends_with(id))
            .unwrap_or_else(|| panic!("{id} not reported: {:?}", r.errors));
        assert!(e.reason.contains(what), "{}", e.reason);
        assert!(!e.reason.contains("temporary"), "{}", e.reason);
        assert!(!r.messages.iter().any(|m| m.queue_id == id));
    }
    assert!(
        r.skipped
            .iter()
            .any(|s| s.path.ends_with("3C8B998E535.fifo")),
        "a FIFO under a non-ID name is a skipped name"
    );
    let m = r
        .messages
        .iter()
        .find(|m| m.queue_id == "3F24F98E53C")
        .expect("message with a FIFO for a defer log is read");
    assert!(m.recipients.iter().all(|x| x.defer_reason.is_none()));
    assert_eq!(r.messages.len(), 37 - 4);
    assert_eq!(before, tree_fingerprint_nofollow(&spool));
}

/// r5 (b): a queue file swapped for a symbolic link to a FIFO or to /dev/zero, or for a
/// FIFO itself, after the walk listed it: the read refuses it on the open descriptor.
#[test]
fn queue_file_swapped_after_the_walk_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("spool");
    live_copy(&root);
    let spool = Spool::open(&root, PostfixConfig::default(), vec!["deferred".into()]);
    let walk = spool.walk();
    let fifo = tmp.path().join("fifo");
    mkfifo(&fifo);
    let entries = walk.entries;
    let pick = move |id: &str| entries.iter().find(|e| e.id == id).unwrap().clone();
    let cases = [
        ("383B998E530", "symlink-fifo"),
        ("3911298E402", "symlink-zero"),
        ("3B11398E531", "fifo"),
    ];
    for (id, how) in cases {
        let e = pick.clone()(id);
        let tmpname = e.path.with_extension("swap");
        match how {
            "symlink-fifo" => std::os::unix::fs::symlink(&fifo, &tmpname).unwrap(),
            "symlink-zero" => std::os::unix::fs::symlink("/dev/zero", &tmpname).unwrap(),
            _ => mkfifo(&tmpname),
        }
        std::fs::rename(&tmpname, &e.path).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let res: Vec<(String, Result<(), String>)> = cases
            .iter()
            .map(|(id, _)| {
                let e = pick(id);
                (
                    id.to_string(),
                    spool
                        .load(&e, Depth::Full)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                )
            })
            .collect();
        let _ = tx.send(res);
    });
    let res = rx
        .recv_timeout(LIMIT)
        .expect("loading a swapped queue file hangs");
    for (id, r) in res {
        let e = r.expect_err(&id);
        assert!(
            e.contains("became a symbolic link") || e.contains("became a FIFO"),
            "{id}: {e}"
        );
    }
}

/// Issue 12.9: a corrupt sparse 3 GB file cost 3 GB of memory before it was rejected at
/// offset 2. Now it is rejected after its first kilobytes, by size, and the run's peak
/// memory stays small.
#[test]
fn sparse_huge_queue_file_is_rejected_without_reading_it() {
    let (_tmp, spool, _) = scratch();
    live_copy(&spool);
    let p = spool.join("deferred/F/FFFFF000001");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    // A real queue file's first 100 bytes, then 3 GB of holes.
    let head = std::fs::read(sample_spool().join("deferred/3/383B998E530")).unwrap();
    std::fs::write(&p, &head[..100]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    let args = [
        "scan",
        "--json",
        "--jobs",
        "2",
        "--queue-dir",
        spool.to_str().unwrap(),
    ];
    let (out, rss_kb) = peak_rss(&args);
    assert_eq!(out.status.code(), Some(1));
    let r = scan_report(&out);
    let e = r
        .errors
        .iter()
        .find(|e| e.path.ends_with("FFFFF000001"))
        .unwrap();
    assert!(
        e.reason
            .contains("more than any queue file Postfix writes here"),
        "{}",
        e.reason
    );
    assert_eq!(r.messages.len(), 37);
    assert!(
        rss_kb < 200 * 1024,
        "peak RSS {rss_kb} KB: the sparse file was read"
    );
}

/// Runs mxsalvage under Python's `resource` module and returns its output and the
/// child's peak resident set size in KB (`ru_maxrss` of the finished child).
pub fn peak_rss(args: &[&str]) -> (Output, u64) {
    let script = "import resource, subprocess, sys\n\
                  with open(sys.argv[1], 'wb') as out:\n    \
                  p = subprocess.run(sys.argv[2:], stdout=out)\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                  sys.exit(p.returncode)\n";
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(tmp.path())
        .arg(bin())
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("python3 runs");
    let rss: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no RSS figure: {}", String::from_utf8_lossy(&out.stderr)));
    let stdout = std::fs::read(tmp.path()).unwrap();
    (
        Output {
            status: out.status,
            stdout,
            stderr: out.stderr,
        },
        rss,
    )
}

/// Like `tree_fingerprint`, but of the files only (never follows symbolic links or
/// reads FIFOs).
fn tree_fingerprint_nofollow(dir: &Path) -> String {
    fingerprint_of(files_under(dir))
}
