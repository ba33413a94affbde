//! Disk space checked before writing (issue 11.1): on a real, tiny file system (a 2 MB
//! tmpfs, mounted by the test; skipped when mounting is not allowed) an export that
//! does not fit is refused with exit 2 and one line, and nothing is created; one that
//! fits records its estimate in the manifest, and the estimate is not below what was
//! written; `--dry-run` prints it and writes nothing; `--no-space-check` writes anyway.

use std::path::Path;

use super::{export_samples, manifest, ok};
use crate::harness::{Tmpfs, assert_contains_all};
use crate::util::*;

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn space_refused_on_a_small_file_system_and_nothing_written() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let spool_before = tree_fingerprint(&sample_spool());
    let out = fs.dir.join("out");
    // Every format does not fit in 2 MB: refused before anything is written.
    let o = export_samples(&out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("note:")).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    let l = lines[0];
    assert_contains_all(
        "the message",
        l,
        &[
            "not enough disk space",
            "needs about",
            "MB free",
            "would fit: --format ",
            "--no-space-check",
            "nothing was written",
        ],
    );
    assert!(!out.exists(), "OUT was created");
    assert!(entries(&fs.dir).is_empty(), "{:?}", entries(&fs.dir));
    // An existing empty OUT stays empty.
    std::fs::create_dir(&out).unwrap();
    let o = export_samples(&out, &["--zip", "--format", "all"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(entries(&out).is_empty());
    std::fs::remove_dir(&out).unwrap();

    // --dry-run: the estimate, nothing written, exit 0.
    let o = export_samples(&out, &["--dry-run", "--format", "mbox"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("dry run: would export 37 message(s)"), "{err}");
    assert!(err.contains("disk space: about "), "{err}");
    assert!(err.contains(" free"), "{err}");
    assert!(!out.exists());

    // What the refusal suggested fits, and its estimate covers what was written.
    ok(&export_samples(&out, &["--format", "mbox"]));
    let m = manifest(&out);
    let sp = m.space.expect("manifest records the estimate");
    assert!(sp.checked);
    assert_eq!(sp.free_bytes, None, "the manifest is the same at every run");
    assert_eq!(sp.estimated_bytes, sp.parts.values().sum::<u64>());
    let used = fs.used();
    assert!(
        sp.estimated_bytes >= used,
        "estimate {} < used {used}",
        sp.estimated_bytes
    );
    assert!(
        sp.estimated_bytes < 3 * used,
        "estimate {} ≫ used {used}",
        sp.estimated_bytes
    );
    assert_eq!(tree_fingerprint(&sample_spool()), spool_before);
}

#[test]
fn space_check_can_be_overridden() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let out = fs.dir.join("out");
    // The disk fills up: a write error stops the run (exit 2: fatal, README.md), no
    // manifest claiming success.
    let o = export_samples(&out, &["--no-space-check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("not enough disk space"), "{err}");
    // A new export writes a manifest that claims nothing first (`--update` after a
    // crash takes its options from it); it must still say the run is not complete.
    if let Ok(text) = std::fs::read(out.join("manifest.json")) {
        let m: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(m["complete"], serde_json::Value::Bool(false), "{m}");
    }
}
