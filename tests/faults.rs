//! Integration tests: damaged and odd input never panics, is named with its reason, and
//! never stops the rest of the run; the spool is never changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mxsalvage::queue::{Depth, ParseError, QueueFile};

use crate::harness::{
    Modes, Mx, copy_sample_spool, damaged, deferred_copies, files_under, manifest, mx,
    mx_as_nobody, plant, scan_report, scratch,
};
use crate::util::*;

/// A check on the kind of parse error.
type ErrorCheck = fn(&ParseError) -> bool;

fn parse(data: Vec<u8>) -> Result<QueueFile, ParseError> {
    QueueFile::parse(data, Depth::Full, false)
}

#[test]
fn damaged_samples_give_the_right_errors() {
    use mxsalvage::queue::record::FrameError;
    let cases: &[(&str, ErrorCheck)] = &[
        ("trunc-in-length", |e| {
            matches!(e, ParseError::Frame(FrameError::EofInLength { .. }))
        }),
        ("trunc-in-payload", |e| {
            matches!(e, ParseError::Frame(FrameError::EofInPayload { .. }))
        }),
        ("trunc-before-end", |e| {
            matches!(
                e,
                ParseError::MissingEnd { .. } | ParseError::BadPointer { .. }
            )
        }),
        ("trunc-after-m", |e| {
            matches!(e, ParseError::MissingEnd { .. })
        }),
        ("no-end-record", |e| {
            matches!(e, ParseError::MissingEnd { .. })
        }),
        ("bad-type-envelope", |e| {
            matches!(e, ParseError::UnexpectedRecord { rtype: b'Z', .. })
        }),
        ("length-5-bytes-overlong", |e| {
            matches!(e, ParseError::Frame(FrameError::TooManyLengthBytes { .. }))
        }),
        ("length-5-bytes-huge", |e| {
            matches!(e, ParseError::Frame(FrameError::TooManyLengthBytes { .. }))
        }),
        ("pointer-loop", |e| {
            matches!(e, ParseError::PointerLoop { .. })
        }),
        ("pointer-past-eof", |e| {
            matches!(e, ParseError::BadPointer { .. })
        }),
        ("empty", |e| matches!(e, ParseError::MissingEnd { .. })),
        ("random-bytes", |e| {
            matches!(
                e,
                ParseError::NotAQueueFile
                    | ParseError::Frame(_)
                    | ParseError::UnexpectedRecord { .. }
            )
        }),
        ("second-sender", |e| {
            matches!(e, ParseError::DuplicateSender { .. })
        }),
        ("maildrop-truncated", |e| {
            matches!(e, ParseError::Frame(_) | ParseError::MissingEnd { .. })
        }),
    ];
    for (name, ok) in cases {
        let e = parse(damaged(name)).expect_err(name);
        assert!(ok(&e), "{name}: unexpected error {e:?}");
        assert!(!e.to_string().is_empty());
    }
    // Lenient cases: readable, with a warning.
    for name in ["size-record-wrong", "size-record-zero"] {
        let q = parse(damaged(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!q.warnings.is_empty(), "{name} should carry a warning");
    }
}

#[test]
fn cat_names_the_file_and_offset_of_damage() {
    let path = root().join("samples/damaged/pointer-loop");
    let out = run(&["cat", "-bh", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pointer-loop") && err.contains("offset"),
        "{err}"
    );
}

/// Every real sample cut at many offsets: never a panic, and never a "successful" read
/// that differs from the whole file.
#[test]
fn truncated_samples_never_read_as_whole() {
    let spool = sample_spool();
    let mut files = Vec::new();
    for q in ["deferred", "hold", "maildrop", "active", "incoming"] {
        files.extend(files_under(&spool.join(q)));
    }
    assert!(!files.is_empty());
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let maildrop = f.to_string_lossy().contains("/maildrop/");
        let Ok(whole) = QueueFile::parse(data.clone(), Depth::Full, maildrop) else {
            continue;
        };
        let step = (data.len() / 400).max(1);
        for cut in (0..data.len()).step_by(step) {
            if let Ok(q) = QueueFile::parse(data[..cut].to_vec(), Depth::Full, maildrop) {
                assert_eq!(
                    q.recipients,
                    whole.recipients,
                    "{} cut at {cut}",
                    f.display()
                );
                assert_eq!(
                    q.message_bytes(),
                    whole.message_bytes(),
                    "{} cut at {cut}",
                    f.display()
                );
            }
            let _ = QueueFile::parse(data[..cut].to_vec(), Depth::EnvelopeOnly, maildrop);
        }
    }
}

/// `export --quiet --jobs JOBS --format eml --queue-dir SPOOL --out OUT`.
fn eml_export(spool: &Path, out: &Path, jobs: &str) -> Mx {
    mx(["export", "--quiet", "--jobs", jobs, "--format", "eml"])
        .queue_dir(spool)
        .out(out)
}

#[test]
fn scan_reports_bad_files_and_lists_all_others() {
    let (_tmp, spool, _) = scratch();
    copy_sample_spool(&spool, Modes::Kept);
    let good = scan_report(&mx(["scan", "--json"]).queue_dir(&spool).output());
    // Plant damaged files under queue-ID names, an incomplete (0600) file, and junk names.
    let dir = spool.join("deferred/F");
    let planted = [
        "pointer-loop",
        "trunc-in-payload",
        "random-bytes",
        "empty",
        "bad-type-envelope",
    ];
    for (i, name) in planted.iter().enumerate() {
        plant(
            &spool,
            &format!("deferred/F/FFFFF00000{i}"),
            &damaged(name),
            0o700,
        );
    }
    plant(
        &spool,
        "deferred/F/FFFFF000009",
        &damaged("no-end-record"),
        0o600,
    );
    std::fs::write(spool.join("incoming/12345.6789"), b"temp").unwrap();
    std::fs::write(dir.join("FFFFF000008#FIX"), b"leftover").unwrap();
    let before = tree_fingerprint(&spool);
    let out = mx(["scan", "--json"]).queue_dir(&spool).output();
    assert_eq!(out.status.code(), Some(1), "partial run must exit 1");
    let r = scan_report(&out);
    assert_eq!(
        r.messages.len(),
        good.messages.len(),
        "all good messages still listed"
    );
    assert_eq!(r.errors.len(), good.errors.len() + planted.len() + 1);
    for i in 0..planted.len() {
        let id = format!("FFFFF00000{i}");
        let e = r
            .errors
            .iter()
            .find(|e| e.queue_id.as_deref() == Some(&id))
            .expect("error listed");
        assert!(
            e.reason.contains(&id),
            "reason names the path: {}",
            e.reason
        );
    }
    let inc = r
        .errors
        .iter()
        .find(|e| e.queue_id.as_deref() == Some("FFFFF000009"))
        .unwrap();
    assert!(inc.reason.contains("incomplete"), "{}", inc.reason);
    assert!(r.skipped.iter().any(|s| s.path.ends_with("12345.6789")));
    assert!(r.skipped.iter().any(|s| s.path.ends_with("#FIX")));
    assert_eq!(before, tree_fingerprint(&spool), "spool changed by scan");
}

/// A file the user cannot read: a one-line error saying what to do. (As root, run the
/// tool as `nobody` to get a real permission error.)
#[test]
fn unreadable_file_is_reported_with_advice() {
    if !have("setpriv") {
        eprintln!("note: setpriv missing; permission test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let spool = tmp.path().join("spool");
    copy_sample_spool(&spool, Modes::Kept);
    let files = files_under(&spool);
    for f in &files {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut dirs = vec![spool.clone()];
    while let Some(d) = dirs.pop() {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
    }
    let victim = files
        .iter()
        .find(|f| f.to_string_lossy().contains("/deferred/"))
        .unwrap();
    std::fs::set_permissions(victim, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = mx_as_nobody(["scan", "--json"])
        .queue_dir(&spool)
        .config_dir(defaults_config_dir())
        .code(1);
    let r = scan_report(&out);
    let e = r
        .errors
        .iter()
        .find(|e| e.path == victim.to_string_lossy())
        .expect("victim listed");
    assert!(
        e.reason.contains("permission denied") && e.reason.contains("root"),
        "{}",
        e.reason
    );
}

/// Inputs the fuzzers once crashed on (fuzz/regressions/<target>/) stay fixed.
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = root().join("fuzz/regressions");
    let mut n = 0;
    for target in std::fs::read_dir(&dir).unwrap() {
        let target = target.unwrap().path();
        for f in std::fs::read_dir(&target).unwrap() {
            let data = std::fs::read(f.unwrap().path()).unwrap();
            match target.file_name().unwrap().to_str().unwrap() {
                "mime_text" => {
                    let _ = mxsalvage::decode::decode(&data, "x.files");
                    let _ = mxsalvage::decode::html_to_text(&String::from_utf8_lossy(&data));
                }
                _ => {
                    let _ = parse(data.clone());
                    let _ = QueueFile::parse(data, Depth::EnvelopeOnly, true);
                }
            }
            n += 1;
        }
    }
    assert!(n > 0);
}

/// A small full file system under `--out`: one clear line, non-zero exit, no panic, and
/// no manifest that claims success. Needs root (mount); skipped otherwise.
#[test]
fn full_disk_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=400k", "tmpfs"])
        .arg(&mnt)
        .status();
    if !st.map(|s| s.success()).unwrap_or(false) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and can mount a tmpfs"
        );
        eprintln!("note: cannot mount a tmpfs; full-disk test skipped");
        return;
    }
    let out = mnt.join("x");
    let o = mx(["export"])
        .queue_dir(&sample_spool())
        .out(&out)
        .args(["--zip", "--quiet"])
        .output();
    let _ = Command::new("umount").arg(&mnt).status();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(1) | Some(2)),
        "exit {:?}: {err}",
        o.status.code()
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("No space left on device") || err.contains("space"),
        "{err}"
    );
    assert!(
        err.lines().count() <= 3,
        "a short error, not a flood: {err}"
    );
}

/// An output directory the user may not write to (run as `nobody`).
#[test]
fn unwritable_output_as_unprivileged_user() {
    if !have("setpriv") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let spool = tmp.path().join("spool");
    copy_sample_spool(&spool, Modes::Kept);
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&spool)
        .status();
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = mx_as_nobody(["export", "--quiet"])
        .queue_dir(&spool)
        .out(&locked.join("x"))
        .output();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ermission denied") && err.contains("locked"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

/// Builds a spool of `n` copies of the real deferred sample files under fresh queue IDs.
fn big_spool(dst: &Path, n: usize) -> Vec<PathBuf> {
    deferred_copies(dst, n, |i| format!("B{:05X}{:04X}", i, i % 7), false)
}

/// A temporary directory with `spool/` (from [`big_spool`]) and the path `out` beside
/// it: the directory, the queue files, `out`.
fn big_spool_and_out(n: usize) -> (tempfile::TempDir, Vec<PathBuf>, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let files = big_spool(&tmp.path().join("spool"), n);
    let out = tmp.path().join("out");
    (tmp, files, out)
}

fn manifest_ids(out: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let m = manifest(out);
    (
        m.messages.iter().map(|x| x.info.queue_id.clone()).collect(),
        m.skipped
            .iter()
            .filter_map(|x| x.queue_id.clone())
            .collect(),
        m.errors.iter().filter_map(|x| x.queue_id.clone()).collect(),
    )
}

/// Files deleted while the export runs (Postfix delivered them): every message is either
/// exported or listed; nothing panics.
#[test]
fn files_deleted_during_export_are_listed() {
    let (_tmp, files, out) = big_spool_and_out(1500);
    let child = eml_export(&out.with_file_name("spool"), &out, "1").spawn();
    // Start deleting once the walk and plan are done (the archive directory exists).
    let t0 = std::time::Instant::now();
    while !out.join("messages").exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let mut deleted = Vec::new();
    for f in files.iter().rev().step_by(3) {
        std::thread::sleep(std::time::Duration::from_micros(300));
        if std::fs::remove_file(f).is_ok() {
            deleted.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0) | Some(1)), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (exported, skipped, errors) = manifest_ids(&out);
    let all: std::collections::BTreeSet<String> = exported
        .iter()
        .chain(&skipped)
        .chain(&errors)
        .cloned()
        .collect();
    for f in &files {
        let id = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(all.contains(&id), "{id} neither exported nor listed");
    }
    // Some deletions came before the file was read: those are listed as vanished.
    assert!(
        skipped.iter().chain(&errors).any(|id| deleted.contains(id)),
        "no deletion hit the run: {err}"
    );
    for id in &exported {
        let store = out.join("messages").join(format!("{id}.eml"));
        assert!(store.exists(), "{id} exported without its archive copy");
    }
}

/// Postfix marks recipients done (R → D, one byte in place) while we read: each file
/// reads either before or after the change, never as damage.
#[test]
fn recipient_marked_done_while_reading() {
    let (_tmp, files, out) = big_spool_and_out(600);
    let spool = out.with_file_name("spool");
    // Offsets of pending recipient records, per file.
    let targets: Vec<(PathBuf, Vec<usize>)> = files
        .iter()
        .map(|f| {
            let q = QueueFile::parse(std::fs::read(f).unwrap(), Depth::Full, false).unwrap();
            (f.clone(), q.pending().map(|r| r.offset).collect())
        })
        .collect();
    let child = eml_export(&spool, &out, "2").spawn();
    for (f, offsets) in targets.iter().rev() {
        if let Some(&off) = offsets.first() {
            use std::io::{Seek, SeekFrom, Write};
            let mut h = std::fs::OpenOptions::new().write(true).open(f).unwrap();
            h.seek(SeekFrom::Start(off as u64)).unwrap();
            h.write_all(b"D").unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let (exported, skipped, errors) = manifest_ids(&out);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(exported.len() + skipped.len(), files.len());
}
