//! Shared helpers for the integration tests (the older ones; new tests use
//! `crate::harness`, which `run` and `tree_fingerprint`'s walk now share).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled sample spool.
pub fn sample_spool() -> PathBuf {
    root().join("samples/spool")
}

/// The mxsalvage binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mxsalvage"))
}

/// Runs mxsalvage with arguments, TZ=UTC (a thin wrapper: `harness::mx(args).output()`).
pub fn run(args: &[&str]) -> Output {
    crate::harness::mx(args).output()
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Hash of every file and directory (path, mode, size, mtime, content) under a tree, to
/// prove it unchanged.
pub fn tree_fingerprint(dir: &Path) -> String {
    let mut paths = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        for p in v {
            out.push(p.clone());
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                walk(&p, out);
            }
        }
    }
    walk(dir, &mut paths);
    crate::harness::fingerprint_of(paths)
}

/// A configuration directory with an empty main.cf: Postfix's defaults, whatever the
/// machine's /etc/postfix says (`--config-dir` of a directory without main.cf is an
/// error).
pub fn defaults_config_dir() -> &'static str {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("main.cf"), "").unwrap();
        d
    })
    .path()
    .to_str()
    .unwrap()
}

/// The samples' pending recipients as `scan --json` lists them (address as displayed,
/// messages waiting), with `extra` scan arguments (e.g. a `--config-dir`): what a
/// password file for an export of the samples needs one line for.
pub fn sample_recipients(extra: &[&str]) -> Vec<(String, usize)> {
    let spool = sample_spool();
    let mut a = vec!["scan", "--json", "--queue-dir", spool.to_str().unwrap()];
    a.extend_from_slice(extra);
    let scan = run(&a);
    let r: mxsalvage::report::scan::ScanReport = serde_json::from_slice(&scan.stdout).unwrap();
    r.recipients
        .iter()
        .map(|x| (x.address.display().to_string(), x.messages))
        .collect()
}

/// A copy of the sample spool (`cp -a`) in `dir/spool`, plus the queue file Postfix
/// 3.7.11 wrote for `RCPT TO:<"alice@example.com x"@example.com>` (tests/data/README.md):
/// a recipient `alice@example.com x@example.com`, with a blank.
pub fn spool_with_quoted_rcpt(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let sp = dir.join("spool");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(sample_spool())
        .arg(&sp)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a samples/spool");
    let d = sp.join("deferred/8");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let f = d.join("8CC8CAE6095");
    std::fs::copy(root().join("tests/data/postfix-3.7-quoted-rcpt.qf"), &f).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
    sp
}
