//! Integration tests: file modes on copied spools (issue 8, item 2).
//!
//! Mode bits are Postfix's signals on the live spool (owner execute: finished; group
//! execute: `postsuper -e`), and noise on a copy: git checks the samples out 0755, a
//! Windows share or `chmod` gives 0644. Completeness is judged from the content; the
//! modes are used only when the spool looks like Postfix wrote them. Every copy an
//! administrator makes must export every pending pair.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{
    Modes, QUEUES, copy_sample_spool, damaged, files_under, mx, pending_pairs, plant, sample_scan,
    scan_report, stderr,
};
use crate::spool_safety::live_copy;
use crate::util::*;

/// Every pending (queue ID, recipient) pair, as postqueue listed it for the samples.
fn expected_pairs() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(root().join("samples/expected/postqueue.jsonl")).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for r in v["recipients"].as_array().unwrap() {
            out.insert((
                v["queue_id"].as_str().unwrap().to_string(),
                r["address"].as_str().unwrap().to_lowercase(),
            ));
        }
    }
    assert!(out.len() >= 60, "{}", out.len());
    out
}

/// Exports `spool` (eml only) and returns the exit code, the exported pairs and the
/// manifest.
fn export(
    spool: &Path,
    extra: &[&str],
) -> (
    Option<i32>,
    BTreeSet<(String, String)>,
    serde_json::Value,
    String,
) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let o = mx(["export", "--format", "eml"])
        .queue_dir(spool)
        .sample_config()
        .out(&out)
        .args(extra)
        .output();
    let m: serde_json::Value = match std::fs::read(out.join("manifest.json")) {
        Ok(b) => serde_json::from_slice(&b).unwrap(),
        Err(_) => serde_json::Value::Null,
    };
    (o.status.code(), pending_pairs(&m), m, stderr(&o))
}

fn scan(spool: &Path, extra: &[&str]) -> (Option<i32>, mxsalvage::report::scan::ScanReport) {
    let o = sample_scan(spool).args(extra).output();
    (o.status.code(), scan_report(&o))
}

fn chmod_all(spool: &Path, mode: u32) {
    for q in QUEUES {
        for f in files_under(&spool.join(q)) {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

fn cp_r(dst: &Path) {
    copy_sample_spool(dst, Modes::Copied);
}

/// What the checkout gives must be what the runbook shows: no forced expiry from
/// git's 0755, bounce times = create_time + 5 days, one note that the modes were not
/// used, every pending pair exported.
#[test]
fn checkout_modes_are_recognised_as_rewritten() {
    let (code, r) = scan(&sample_spool(), &[]);
    assert_eq!(code, Some(0));
    assert!(!r.head.file_modes.trusted);
    assert!(
        r.head
            .file_modes
            .note
            .as_deref()
            .unwrap()
            .contains("all 0755"),
        "{:?}",
        r.head.file_modes.note
    );
    assert!(r.messages.iter().all(|m| !m.forced_expire));
    for m in r.messages.iter().filter(|m| !m.held) {
        let base = mxsalvage::timefmt::parse_time(&m.create_time).unwrap();
        assert_eq!(m.expires_unix, Some(base + 5 * 86400), "{}", m.queue_id);
    }
    let (code, pairs, _, stderr) = export(&sample_spool(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(pairs, expected_pairs());
    assert_eq!(
        stderr.matches("file modes look rewritten").count(),
        1,
        "said once: {stderr}"
    );
}

/// `cp -r` (no -p) of the checkout, and a copy with every file chmod 0644 (a Windows
/// share, scp, a restore): every pending pair is exported; files whose mode lacks the
/// owner execute bit carry a warning saying it was ignored.
#[test]
fn copies_that_lost_their_modes_export_every_pending_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("cp-r");
    cp_r(&copy);
    let (code, pairs, _, stderr) = export(&copy, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(pairs, expected_pairs());

    let c644 = tmp.path().join("chmod-0644");
    cp_r(&c644);
    chmod_all(&c644, 0o644);
    let (code, pairs, m, stderr) = export(&c644, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(pairs, expected_pairs());
    assert!(stderr.contains("all 0644"), "{stderr}");
    for msg in m["messages"].as_array().unwrap() {
        let w = msg["warnings"].to_string();
        assert!(w.contains("lacks the owner execute bit, ignored"), "{w}");
    }
    // The opposite judgement on request: then these files are "incomplete".
    let (code, r) = scan(&c644, &["--trust-modes"]);
    assert_eq!(code, Some(2), "nothing readable");
    assert!(r.messages.is_empty());
    assert_eq!(r.errors.len(), 37);
    assert!(
        r.errors
            .iter()
            .all(|e| e.reason.contains("incomplete: mode 0644")
                && e.reason.contains("--ignore-modes"))
    );
}

/// A file whose content is incomplete stays an error on a copy whose modes are
/// ignored: no end record, or cleanup's all-zero size record placeholder (the file was
/// copied while cleanup wrote it). On a live spool (modes trusted), the latter is read
/// with a warning as before, since its mode says Postfix committed it.
#[test]
fn incomplete_content_stays_an_error_when_modes_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("spool");
    cp_r(&copy);
    for (id, src) in [
        ("FFFFF000001", "no-end-record"),
        ("FFFFF000002", "size-record-zero"),
        ("FFFFF000003", "trunc-before-end"),
    ] {
        plant(&copy, &format!("deferred/F/{id}"), &damaged(src), 0o755);
    }
    let (code, r) = scan(&copy, &[]);
    assert_eq!(code, Some(1));
    assert!(!r.head.file_modes.trusted);
    for id in ["FFFFF000001", "FFFFF000002", "FFFFF000003"] {
        let e = r
            .errors
            .iter()
            .find(|e| e.queue_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id} must be an error: {:?}", r.errors));
        assert!(
            e.reason.contains("incomplete") || e.reason.contains("bad pointer"),
            "{id}: {}",
            e.reason
        );
    }
    assert_eq!(r.messages.len(), 37);

    let live = tmp.path().join("live");
    live_copy(&live);
    plant(
        &live,
        "deferred/F/FFFFF000002",
        &damaged("size-record-zero"),
        0o700,
    );
    let (code, r) = scan(&live, &[]);
    assert_eq!(code, Some(0), "{:?}", r.errors);
    assert!(r.head.file_modes.trusted);
    let m = r
        .messages
        .iter()
        .find(|m| m.queue_id == "FFFFF000002")
        .unwrap();
    assert!(
        m.warnings.iter().any(|w| w.contains("all zeros")),
        "{:?}",
        m.warnings
    );
}

/// On a spool whose modes are Postfix's own, the modes count: 0600 = still being
/// written (an error naming --ignore-modes when the content looks complete), 0710 =
/// forced expiry; --ignore-modes reads the 0600 file.
#[test]
fn live_modes_are_used() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    live_copy(&live);
    let half = live.join("deferred/3/383B998E530");
    std::fs::set_permissions(&half, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fx = live.join("deferred/3/3911298E402");
    std::fs::set_permissions(&fx, std::fs::Permissions::from_mode(0o710)).unwrap();
    let (code, r) = scan(&live, &[]);
    assert_eq!(code, Some(1));
    assert!(r.head.file_modes.trusted && r.head.file_modes.note.is_none());
    let e = r
        .errors
        .iter()
        .find(|e| e.queue_id.as_deref() == Some("383B998E530"))
        .unwrap();
    assert!(
        e.reason.contains("mode 0600 lacks the owner execute bit")
            && e.reason.contains("--ignore-modes"),
        "{}",
        e.reason
    );
    let m = r
        .messages
        .iter()
        .find(|m| m.queue_id == "3911298E402")
        .unwrap();
    assert!(m.forced_expire);
    let (code, r) = scan(&live, &["--ignore-modes"]);
    assert_eq!(code, Some(0), "{:?}", r.errors);
    assert_eq!(r.messages.len(), 37);
    assert!(!r.head.file_modes.trusted);
    assert!(r.messages.iter().all(|m| !m.forced_expire));
}
