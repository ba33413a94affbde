//! The one test harness (issue 19), after ripgrep's `TestCommand` and fd's `TestEnv`.
//!
//! Owns what every topic module needs and used to write again: `mx(…)` builds a run of
//! the mxsalvage binary (arguments, environment, standard input, working directory, an
//! optional time limit) and asserts its exit code (`ok`, `code`) showing both streams on
//! failure (`ran_ok` does the same for any other program; `command` hands over the
//! `Command` for a test that sets up its own streams; `reinject_to` and `journal_cmd`
//! start the reinject and journal runs on an export); `assert_contains_all`,
//! `assert_stderr_contains` and `assert_same_as_postcat` are the checks several topic
//! modules make on output; `fixture_once` builds a fixture once per test run under the
//! target directory; `chown` and `mkdir_owned` give a daemon's user its directories;
//! `SpoolCopy` / `copy_sample_spool` give a fresh copy of the sample spool in the mode
//! variant a test needs (`cp -a`, `cp -r` as a checkout copy, or a live spool's
//! 0700/0744); `Tmpfs` is a small real file system to fill; `Postfix` is a private
//! instance made with scripts/test-primary (a primary or a secondary, its access maps and
//! delivered Maildir files) and destroyed on drop; `export_samples` and `copy_export`
//! give an export of the samples and a fresh copy of one; `manifest`, `scan_report`,
//! `reinject_summary`, `journal_state` and `pending_pairs` read outputs into the
//! library's typed structs; `live_postcat`, `peer_queues`, `tool` reach the real tools
//! and skip (with a note) when one is missing, except under `CI`, where they fail.
//! [`exim`] is a private Exim 4 as a backup MX (unpacked from Debian's .debs, its own
//! `-C` configuration, byte-exact SMTP, Exim's own `-Mvc`/`-bp` views).
//! Nothing here reads the host's /etc/postfix: every run gets its own configuration.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mxsalvage::manifest::Manifest;
use mxsalvage::report::scan::ScanReport;

use crate::util::{bin, have, root, sample_spool};

pub mod exim;
/// Content filters: private rspamd, clamd and spamd, and a spool of test mail for them.
pub mod filters;

/// The queues that hold message files.
pub const QUEUES: &[&str] = &["maildrop", "incoming", "active", "deferred", "hold"];

// ---------------------------------------------------------------------------------------
// the binary

/// One run of mxsalvage being built: `mx(["scan", "--json"]).queue_dir(p).ok()`.
pub struct Mx {
    cmd: Command,
    shown: Vec<String>,
    stdin: Option<PathBuf>,
    limit: Option<Duration>,
}

/// mxsalvage with `args`, TZ=UTC.
pub fn mx<I, S>(args: I) -> Mx
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Mx::of(Command::new(bin())).args(args)
}

/// mxsalvage with `args` run as `nobody` (setpriv; the caller checks it is there).
pub fn mx_as_nobody<I, S>(args: I) -> Mx
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(bin());
    Mx::of(cmd).args(args)
}

impl Mx {
    fn of(mut cmd: Command) -> Mx {
        cmd.env("TZ", "UTC");
        Mx {
            cmd,
            shown: Vec::new(),
            stdin: None,
            limit: None,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Mx {
        self.shown.push(a.as_ref().to_string_lossy().into_owned());
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Mx
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// `--queue-dir DIR`.
    pub fn queue_dir(self, dir: &Path) -> Mx {
        self.arg("--queue-dir").arg(dir)
    }

    /// `--config-dir DIR`.
    pub fn config_dir(self, dir: impl AsRef<OsStr>) -> Mx {
        self.arg("--config-dir").arg(dir)
    }

    /// `--config-dir` of the samples' own configuration (samples/config).
    pub fn sample_config(self) -> Mx {
        self.config_dir(root().join("samples/config"))
    }

    /// `--out DIR`.
    pub fn out(self, dir: &Path) -> Mx {
        self.arg("--out").arg(dir)
    }

    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Mx {
        self.cmd.env(k, v);
        self
    }

    pub fn dir(mut self, dir: &Path) -> Mx {
        self.cmd.current_dir(dir);
        self
    }

    /// Standard input from a file.
    pub fn stdin_file(mut self, p: &Path) -> Mx {
        self.stdin = Some(p.to_path_buf());
        self
    }

    /// A run still going after `limit` is killed and fails the test (for hangs).
    pub fn within(mut self, limit: Duration) -> Mx {
        self.limit = Some(limit);
        self
    }

    /// Starts it in the background, standard error piped (for a test that changes the
    /// spool while it runs); `wait_with_output` ends it.
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mxsalvage")
    }

    /// The command itself, for a test that sets up its own standard streams.
    pub fn command(self) -> Command {
        self.cmd
    }

    /// Runs it to the end; asserts nothing.
    pub fn output(mut self) -> Output {
        if let Some(p) = &self.stdin {
            self.cmd.stdin(std::fs::File::open(p).expect("stdin file"));
        }
        match self.limit {
            None => self.cmd.output().expect("run mxsalvage"),
            Some(limit) => guarded(&mut self.cmd, &self.shown, limit),
        }
    }

    /// Runs it and asserts exit 0.
    pub fn ok(self) -> Output {
        let o = self.output();
        assert_ok(&o);
        o
    }

    /// Runs it and asserts the exit code.
    pub fn code(self, code: i32) -> Output {
        let shown = self.shown.join(" ");
        let o = self.output();
        assert_eq!(
            o.status.code(),
            Some(code),
            "mxsalvage {shown}\nstdout: {}\nstderr: {}",
            stdout(&o),
            stderr(&o)
        );
        o
    }
}

fn guarded(cmd: &mut Command, shown: &[String], limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mxsalvage");
    let out_pipe = child.stdout.take().unwrap();
    let err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || read_all(out_pipe));
    let err_t = std::thread::spawn(move || read_all(err_pipe));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mxsalvage {shown:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// Asserts that mxsalvage exited 0, showing the exit code and both streams otherwise.
#[track_caller]
pub fn assert_ok(o: &Output) {
    ran_ok(o, "mxsalvage");
}

/// Asserts that a run of `what` (any program) exited 0, showing the exit code and
/// both streams otherwise; its standard output.
#[track_caller]
pub fn ran_ok<'a>(o: &'a Output, what: &str) -> &'a [u8] {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    &o.stdout
}

/// Asserts the exit code, showing both streams otherwise.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a run's standard error contains `want`, showing all of it when not.
pub fn assert_stderr_contains(o: &Output, want: &str) {
    let e = stderr(o);
    assert!(e.contains(want), "stderr lacks {want:?}:\n{e}");
}

/// A path as the `&str` an argument list wants.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// spools

/// How a copy of the sample spool keeps its files' modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modes {
    /// `cp -a`: the checkout's modes and times.
    Kept,
    /// `cp -r`: what an administrator's plain copy gives.
    Copied,
    /// `cp -r`, then every queue file 0700 (maildrop 0744), as on a live spool.
    Live,
}

/// Copies the sample spool to `dst` (which must not exist).
pub fn copy_sample_spool(dst: &Path, modes: Modes) {
    copy_tree(&sample_spool(), dst, modes != Modes::Kept);
    if modes == Modes::Live {
        for q in QUEUES {
            for f in files_under(&dst.join(q)) {
                let mode = if *q == "maildrop" { 0o744 } else { 0o700 };
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

/// `cp -a FROM TO` (or `cp -r` with `plain`).
pub fn copy_tree(from: &Path, to: &Path, plain: bool) {
    let st = Command::new("cp")
        .arg(if plain { "-r" } else { "-a" })
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A fresh copy of the sample spool in its own temporary directory (`root()` has room
/// for an output beside it).
pub struct SpoolCopy {
    pub tmp: tempfile::TempDir,
    pub path: PathBuf,
}

impl SpoolCopy {
    pub fn new(modes: Modes) -> SpoolCopy {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("spool");
        copy_sample_spool(&path, modes);
        SpoolCopy { tmp, path }
    }

    /// The temporary directory holding `spool/`.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }
}

/// Writes `data` at `spool/rel` (directories made as needed) with file mode `mode`: a
/// damaged or hand-made queue file planted in a spool copy.
pub fn plant(spool: &Path, rel: &str, data: &[u8], mode: u32) {
    let p = spool.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_mode(&p, data, mode);
}

/// Writes `data` to `p` and gives it file mode `mode` (a password file is 0600).
pub fn write_mode(p: &Path, data: impl AsRef<[u8]>, mode: u32) {
    std::fs::write(p, data).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `chown -R OWNER PATH`, asserted to succeed.
pub fn chown(owner: &str, p: &Path) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(owner)
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "chown {owner} {}", p.display());
}

/// Creates the directory `p` (its parent must exist) owned by `owner`.
pub fn mkdir_owned(p: &Path, owner: &str) {
    std::fs::create_dir(p).unwrap();
    chown(owner, p);
}

/// A damaged sample (samples/damaged/NAME).
pub fn damaged(name: &str) -> Vec<u8> {
    std::fs::read(root().join("samples/damaged").join(name)).unwrap()
}

/// Every file below `d` (sorted, links not followed; a missing `d` has none). A live
/// directory may change while it is read (a Postfix or Dovecot delivery renames its file
/// from tmp/ into new/): an entry gone by the time it is looked at is left out, as a
/// `read_dir` a moment later would; any other error still fails the test.
pub fn files_under(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(d) else {
        return out;
    };
    let mut v: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    v.sort();
    for p in v {
        let md = match std::fs::symlink_metadata(&p) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", p.display()),
        };
        if md.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every message file of the sample spool, relative to the spool root; at least `min`.
pub fn sample_files_at_least(min: usize) -> Vec<String> {
    let files = sample_files();
    assert!(
        files.len() >= min,
        "the sample spool must hold at least {min} message files (found {})",
        files.len()
    );
    files
}

/// Every message file of the sample spool, relative to the spool root.
pub fn sample_files() -> Vec<String> {
    let root = sample_spool();
    QUEUES
        .iter()
        .flat_map(|q| files_under(&root.join(q)))
        .filter(|p| mxsalvage::queue::id::is_queue_id(&p.file_name().unwrap().to_string_lossy()))
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// A spool of `n` copies of the sample spool's deferred files under fresh queue IDs
/// (`id(i)`, hashed by its first character), each 0700, with their defer logs when
/// `logs`; returns the queue files in the order made.
pub fn deferred_copies(
    dst: &Path,
    n: usize,
    id: impl Fn(usize) -> String,
    logs: bool,
) -> Vec<PathBuf> {
    let deferred = sample_spool().join("deferred");
    let src = files_under(&deferred);
    let mut out = Vec::new();
    for i in 0..n {
        let from = &src[i % src.len()];
        let id = id(i);
        let d = dst.join("deferred").join(&id[..1]);
        std::fs::create_dir_all(&d).unwrap();
        let to = d.join(&id);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o700)).unwrap();
        let log = sample_spool()
            .join("defer")
            .join(from.strip_prefix(&deferred).unwrap());
        if logs && log.is_file() {
            let ld = dst.join("defer").join(&id[..1]);
            std::fs::create_dir_all(&ld).unwrap();
            std::fs::copy(&log, ld.join(&id)).unwrap();
        }
        out.push(to);
    }
    out
}

/// A tmpfs of `size` mounted on a fresh directory (`dir`), unmounted on drop: a real,
/// small file system to fill.
pub struct Tmpfs {
    _base: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mounts it; `None` (with a note) where mounting is not allowed (not root).
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("small");
        std::fs::create_dir(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("note: cannot mount a tmpfs (not root?); skipping");
            return None;
        }
        Some(Tmpfs { _base: base, dir })
    }

    /// Bytes in use on it.
    pub fn used(&self) -> u64 {
        let s = rustix::fs::statvfs(&self.dir).unwrap();
        (s.f_blocks - s.f_bfree) * s.f_frsize
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Postfix tools wait out a main.cf modified in the last seconds: backdate it an hour.
pub fn backdate(p: &Path) {
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

/// SHA-256 of `b`, in hex.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// Hash of every path's name, mode, size, mtime and (for regular files) content: proves
/// a tree unchanged. Never follows a link nor reads a FIFO.
pub fn fingerprint_of(paths: impl IntoIterator<Item = PathBuf>) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    for p in paths {
        let m = std::fs::symlink_metadata(&p).unwrap();
        h.update(p.to_string_lossy().as_bytes());
        h.update(format!("{} {} {} {}", m.mode(), m.len(), m.mtime(), m.mtime_nsec()).as_bytes());
        if m.is_file() {
            h.update(std::fs::read(&p).unwrap());
        }
    }
    hex::encode(h.finalize())
}

// ---------------------------------------------------------------------------------------
// outputs read back into typed structs

/// `scan --json --queue-dir SPOOL --config-dir samples/config`.
pub fn sample_scan(spool: &Path) -> Mx {
    mx(["scan", "--json"]).queue_dir(spool).sample_config()
}

/// OUT/manifest.json as the library's `Manifest`.
pub fn manifest(out: &Path) -> Manifest {
    let data = std::fs::read(out.join("manifest.json")).expect("manifest.json");
    serde_json::from_slice(&data).expect("manifest parses into Manifest")
}

/// The mailbox of `m` for the address `addr` (as written in the manifest).
pub fn bundle_of<'a>(m: &'a Manifest, addr: &str) -> &'a mxsalvage::manifest::ManifestRecipient {
    m.recipients
        .iter()
        .find(|r| r.address.0 == addr.as_bytes())
        .unwrap_or_else(|| panic!("no mailbox {addr} in the manifest"))
}

/// The sample message of case `name` in `m` (its subject starts `case NAME:`, as every
/// message of samples/README.md does).
pub fn sample_case<'a>(m: &'a Manifest, name: &str) -> &'a mxsalvage::manifest::ManifestMessage {
    let prefix = format!("case {name}:");
    m.messages
        .iter()
        .find(|x| {
            x.exported
                .subject
                .as_deref()
                .is_some_and(|s| s.starts_with(&prefix))
        })
        .unwrap_or_else(|| panic!("case {name} not exported"))
}

/// OUT/manifest.json as JSON (for fields the test reads by name).
pub fn manifest_json(out: &Path) -> serde_json::Value {
    let data = std::fs::read(out.join("manifest.json")).expect("manifest.json");
    serde_json::from_slice(&data).expect("manifest.json is JSON")
}

/// A `scan --json` run's standard output as the library's `ScanReport`.
pub fn scan_report(o: &Output) -> ScanReport {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("scan --json output: {e}\n{}", stderr(o));
    })
}

/// `export --queue-dir samples/spool --config-dir samples/config --out OUT --quiet
/// EXTRA…`: an export of the samples with their own configuration.
pub fn export_samples(out: &Path, extra: &[&str]) -> Mx {
    mx(["export"])
        .queue_dir(&sample_spool())
        .sample_config()
        .out(out)
        .arg("--quiet")
        .args(extra)
}

/// A fixture made once per test run: `build` gets `CARGO_TARGET_TMPDIR/NAME`, emptied
/// and created, and its result is kept in `cell` for every later test (which only
/// reads or copies what it names).
pub fn fixture_once<T: Send + Sync>(
    cell: &'static OnceLock<T>,
    name: &str,
    build: impl FnOnce(&Path) -> T,
) -> &'static T {
    cell.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        build(&base)
    })
}

/// A fresh temporary directory for one test, with the paths of its `spool` and `out`
/// (neither created).
pub fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let (spool, out) = (d.path().join("spool"), d.path().join("out"));
    (d, spool, out)
}

/// A fresh copy of an export's manifest.json and archive copies (messages/), in its
/// own temporary directory.
pub fn copy_export(src: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("manifest.json"), d.path().join("manifest.json")).unwrap();
    std::fs::create_dir(d.path().join("messages")).unwrap();
    for e in std::fs::read_dir(src.join("messages")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.path().join("messages").join(e.file_name())).unwrap();
    }
    d
}

/// A `reinject --json` run's standard output as the library's `Summary`.
pub fn reinject_summary(o: &Output) -> mxsalvage::reinject::Summary {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "bad summary ({e}): stdout {} stderr {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// An export's reinject journal (EXPORT/reinject-journal.jsonl).
pub fn journal_path(export: &Path) -> PathBuf {
    export.join("reinject-journal.jsonl")
}

/// An export's reinject journal read into the library's `JournalState`.
pub fn journal_state(export: &Path) -> mxsalvage::reinject::journal::JournalState {
    mxsalvage::reinject::journal::JournalState::read(&journal_path(export))
        .expect("the reinject journal reads")
}

/// Asserts that our output is byte for byte what postcat (or Postfix's own tools)
/// printed (also the missing final newline of a message ending in an unterminated
/// line, which postcat buffers and never flushes).
#[track_caller]
pub fn assert_same_as_postcat(ours: &[u8], postcat: &[u8], what: &str) {
    assert!(
        ours == postcat,
        "{what}: differs\n--- ours\n{}\n--- postcat\n{}",
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(postcat)
    );
}

/// Asserts that `text` (`what`, for the message) contains each of `wants`.
#[track_caller]
pub fn assert_contains_all(what: &str, text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "{what} lacks {want:?}:\n{text}");
    }
}

/// `reinject --from EXPORT --to TARGET`, to add options to.
pub fn reinject_to(export: &Path, to: &str) -> Mx {
    mx(["reinject", "--from"]).arg(export).args(["--to", to])
}

/// `journal --from EXPORT EXTRA…`.
pub fn journal_cmd(ex: &Path, extra: &[&str]) -> Output {
    mx(["journal", "--from"]).arg(ex).args(extra).output()
}

/// Every pending (queue ID, lower-case recipient) pair of a manifest read as JSON.
pub fn pending_pairs(m: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for msg in m["messages"].as_array().into_iter().flatten() {
        for r in msg["recipients"].as_array().unwrap() {
            if r["status"] == "pending" {
                pairs.insert((
                    msg["queue_id"].as_str().unwrap().to_string(),
                    r["address"].as_str().unwrap().to_lowercase(),
                ));
            }
        }
    }
    pairs
}

// ---------------------------------------------------------------------------------------
// real tools

/// `python3 -c SCRIPT ARG`, asserted to succeed: its output lines.
pub fn python_lines(script: &str, arg: &Path) -> Vec<String> {
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether a test needing `prog` can run; panics under CI when it is missing.
pub fn tool(prog: &str) -> bool {
    if have(prog) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{prog} is required under CI");
    }
    eprintln!("note: {prog} not installed; skipping that part of the test");
    false
}

/// Whether this runs as root (a private Postfix instance needs it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Whether the installed postcat is there (under CI it must be), with a note if not.
pub fn postcat_installed() -> bool {
    if !have("postcat") {
        assert!(
            std::env::var_os("CI").is_none(),
            "postcat must be installed in CI"
        );
        eprintln!("note: postcat not installed; differential test skipped");
        return false;
    }
    true
}

/// The installed postcat with a private configuration (the samples' host names), run
/// from the sample spool's root like the samples' expected outputs were made; `None`
/// (skip) when it is not installed.
pub fn live_postcat(args: &[&str]) -> Option<Output> {
    if !postcat_installed() {
        return None;
    }
    let cfg = tempfile::tempdir().unwrap();
    let main_cf = cfg.path().join("main.cf");
    std::fs::write(
        &main_cf,
        "myhostname = mx.example.com\nmydomain = example.com\n",
    )
    .unwrap();
    backdate(&main_cf);
    let out = Command::new("postcat")
        .arg("-c")
        .arg(cfg.path())
        .args(args)
        .current_dir(sample_spool())
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Some(out)
}

/// ../shared/peer-queues (queues of every Postfix version), or `None` with a note.
pub fn peer_queues() -> Option<PathBuf> {
    let p = root().join("../shared/peer-queues");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared/peer-queues absent; test skipped");
        None
    }
}

/// Every version directory of peer-queues (`versions/V`, `versions/V/long-ids`).
pub fn peer_versions(peer: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut vs: Vec<PathBuf> = std::fs::read_dir(peer.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    vs.sort();
    for v in vs {
        if v.join("queue.tar.gz").is_file() {
            out.push(v.clone());
        }
        if v.join("long-ids/queue.tar.gz").is_file() {
            out.push(v.join("long-ids"));
        }
    }
    assert!(out.len() >= 8, "{out:?}");
    out
}

/// `tar xzf TARBALL -C DST`.
pub fn untar(tarball: &Path, dst: &Path) {
    let st = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Contents of the files under `d`, sorted by path, `tmp` directories passed over (with
/// `maildirs_only`: messages in Maildir new/ and cur/ folders only).
pub fn contents_under(d: &Path, maildirs_only: bool, out: &mut Vec<Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(d) else { return };
    let mut v: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "tmp") {
                continue;
            }
            contents_under(&p, maildirs_only, out);
        } else if !maildirs_only
            || p.parent()
                .and_then(|d| d.file_name())
                .is_some_and(|n| n == "new" || n == "cur")
        {
            out.push(std::fs::read(&p).unwrap());
        }
    }
}

/// The messages of every Maildir under `d` (new/ and cur/), in path order.
pub fn maildir_messages(d: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    contents_under(d, true, &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// a private Postfix

/// Whether a private Postfix can run here (root, postconf, sendmail); under `CI` it must.
pub fn postfix_available() -> bool {
    let ok = is_root() && have("postconf") && have("sendmail");
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root and Postfix"
        );
        eprintln!("note: skipping: needs root and Postfix");
    }
    ok
}

/// A port on 127.0.0.1 the OS has just handed out.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// scripts/test-primary with `args`, asserted to succeed.
pub fn test_primary(args: &[&str]) -> Output {
    let o = Command::new(root().join("scripts/test-primary"))
        .args(args)
        .output()
        .expect("run test-primary");
    assert!(
        o.status.success(),
        "test-primary {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A private Postfix instance (scripts/test-primary) on 127.0.0.1, destroyed on drop.
/// Made stopped; `start` it when the test is ready.
pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Postfix {
    /// `create` (a primary delivering into DIR/mail) or `create-secondary`.
    pub fn create(kind: &str) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let pf = Postfix { dir, port };
        test_primary(&[kind, &pf.d(), &port.to_string()]);
        pf
    }

    /// [`Postfix::create`], then started.
    pub fn started(kind: &str) -> Postfix {
        let pf = Postfix::create(kind);
        pf.start();
        pf
    }

    /// A running primary delivering into DIR/mail.
    pub fn primary() -> Postfix {
        Postfix::started("create")
    }

    /// `127.0.0.1:PORT`, the `--to` of a reinject into it.
    pub fn to(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits (at most 60 s) until its queue is empty.
    pub fn drain(&self) {
        test_primary(&["drain", &self.d(), "60"]);
    }

    pub fn reload(&self) {
        test_primary(&["reload", &self.d()]);
    }

    /// Replaces the check_recipient_access map.
    pub fn access(&self, rules: &str) {
        self.rules("access", rules);
    }

    /// Replaces the check_sender_access map.
    pub fn sender_access(&self, rules: &str) {
        self.rules("sender-access", rules);
    }

    /// Replaces header_checks (regexp).
    pub fn header_checks(&self, rules: &str) {
        self.rules("header-checks", rules);
    }

    /// `none`: the primary knows no user (its lookup is not back); `all`: fixed.
    pub fn users(&self, which: &str) {
        test_primary(&["users", &self.d(), which]);
    }

    /// `scripts/test-primary CMD DIR < rules`.
    fn rules(&self, cmd: &str, rules: &str) {
        use std::io::Write;
        let mut c = Command::new(root().join("scripts/test-primary"))
            .args([cmd, &self.d()])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success(), "test-primary {cmd}");
    }

    /// Every delivered Maildir file.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        maildir_messages(&self.dir.path().join("mail"))
    }

    pub fn d(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its config_directory.
    pub fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    pub fn start(&self) {
        test_primary(&["start", &self.d()]);
    }

    pub fn stop(&self) {
        test_primary(&["stop", &self.d()]);
    }

    /// Its queue directory.
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    /// Sends one message over SMTP (plain, from 127.0.0.1), byte for byte; every step
    /// must be accepted. Returns nothing: read the queue to see what it became.
    pub fn submit(&self, sender: &str, rcpts: &[&str], content: &[u8]) {
        use mxsalvage::reinject::smtp::{Class, ClientConfig, Security, Session, Step};
        let cfg = ClientConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            lmtp: false,
            security: Security::Plain,
            insecure: false,
            helo: "sender.example.org".into(),
            auth: None,
            timeout: Duration::from_secs(60),
            dot_timeout: Duration::from_secs(60),
        };
        let mut s = Session::connect(&cfg).expect("connect to the private Postfix");
        let mail = format!("MAIL FROM:<{sender}>");
        let rcpt: Vec<Vec<u8>> = (rcpts.iter())
            .map(|r| format!("RCPT TO:<{r}>").into_bytes())
            .collect();
        let env = s.envelope(mail.as_bytes(), &rcpt, true).unwrap();
        assert_eq!(env.mail.class(Step::Mail), Class::Positive, "{}", env.mail);
        for r in &env.rcpts {
            assert_eq!(r.class(Step::Rcpt), Class::Positive, "{r}");
        }
        assert_eq!(env.data.unwrap().code, 354);
        s.send_content(content).unwrap();
        s.send_end_of_data().unwrap();
        let r = s.read_reply(Step::EndOfData).unwrap();
        assert_eq!(r.class(Step::EndOfData), Class::Positive, "{r}");
        s.quit();
    }

    /// Waits (at most 60 s) until `n` messages sit in deferred/ and nothing is on the
    /// way (incoming, active, maildrop), then stops the instance.
    pub fn settle_deferred(&self, n: usize) {
        let spool = self.spool();
        let t = Instant::now();
        loop {
            let count = |q: &str| files_under(&spool.join(q)).len();
            let busy: usize = ["incoming", "active", "maildrop"].map(count).iter().sum();
            if count("deferred") == n && busy == 0 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the queue did not settle"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        self.stop();
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/test-primary"))
            .args(["destroy", &self.d()])
            .output();
    }
}
