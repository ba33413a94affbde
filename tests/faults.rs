//! Integration tests: damaged and odd input never panics, is named with its reason, and
//! never stops the rest of the run; the spool is never changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mxsalvage::queue::{Depth, ParseError, QueueFile};

use crate::util::*;

fn damaged(name: &str) -> Vec<u8> {
    std::fs::read(root().join("samples/damaged").join(name)).unwrap()
}

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
        collect(&spool.join(q), &mut files);
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

fn collect(d: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(d) else { return };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Copies the sample spool to a temp dir (keeping modes).
pub fn copy_spool(dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(sample_spool())
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn scan_reports_bad_files_and_lists_all_others() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    copy_spool(&spool);
    let good = run(&["scan", "--json", "--queue-dir", spool.to_str().unwrap()]);
    let good: mxsalvage::scan::ScanReport = serde_json::from_slice(&good.stdout).unwrap();
    // Plant damaged files under queue-ID names, an incomplete (0600) file, and junk names.
    let dir = spool.join("deferred/F");
    std::fs::create_dir_all(&dir).unwrap();
    let planted = [
        "pointer-loop",
        "trunc-in-payload",
        "random-bytes",
        "empty",
        "bad-type-envelope",
    ];
    for (i, name) in planted.iter().enumerate() {
        let p = dir.join(format!("FFFFF00000{i}"));
        std::fs::write(&p, damaged(name)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let half = dir.join("FFFFF000009");
    std::fs::write(&half, damaged("no-end-record")).unwrap();
    std::fs::set_permissions(&half, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(spool.join("incoming/12345.6789"), b"temp").unwrap();
    std::fs::write(dir.join("FFFFF000008#FIX"), b"leftover").unwrap();
    let before = tree_fingerprint(&spool);
    let out = run(&["scan", "--json", "--queue-dir", spool.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "partial run must exit 1");
    let r: mxsalvage::scan::ScanReport = serde_json::from_slice(&out.stdout).unwrap();
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
    copy_spool(&spool);
    let mut files = Vec::new();
    collect(&spool, &mut files);
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
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(bin())
        .args([
            "scan",
            "--json",
            "--queue-dir",
            spool.to_str().unwrap(),
            "--config-dir",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: mxsalvage::scan::ScanReport = serde_json::from_slice(&out.stdout).unwrap();
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
