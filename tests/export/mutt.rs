//! The mail reader commands the documents show for an export, run for real: reading a
//! message with them leaves the export byte for byte as it was (`verify` passes). mutt
//! runs in a private tmux server (open the mailbox, read message 1, quit).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{export_samples, files_under, ok, tool};
use crate::harness::mx;
use crate::util::root;

/// A private tmux server (its own socket name), killed when dropped.
struct Tmux(String);

impl Tmux {
    fn new() -> Tmux {
        Tmux(format!("mxsalvage-test-mutt-{}", std::process::id()))
    }
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .unwrap()
    }
    /// Waits (at most 10 s) until the screen shows `text`.
    fn wait_for(&self, text: &str) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            let o = self.cmd(&["capture-pane", "-p"]);
            if String::from_utf8_lossy(&o.stdout).contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
    fn running(&self) -> bool {
        self.cmd(&["has-session"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Every file under `dir` (not directories: mutt dot-locks an mbox even read-only, which
/// changes its directory's mtime and nothing else): path, mode, size, mtime, content.
fn files_fingerprint(dir: &Path) -> Vec<(String, u32, u64, i64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    files_under(dir)
        .into_iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let data = std::fs::read(&p).unwrap();
            (p.display().to_string(), m.mode(), m.size(), m.mtime(), data)
        })
        .collect()
}

/// The mutt command of `doc` for a file or directory named `target` (`mutt … target`
/// inside backquotes), without the leading `mutt`.
fn documented_mutt(doc: &str, target: &str) -> String {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    mutt_in(&text, target, doc)
}

/// The first `mutt … target` of `text` (`what` names it in a failure).
fn mutt_in(text: &str, target: &str, what: &str) -> String {
    let line = text
        .split('`')
        .find(|s| s.starts_with("mutt ") && s.ends_with(target))
        .unwrap_or_else(|| panic!("{what} shows no `mutt … {target}` command"));
    line["mutt ".len()..].to_string()
}

/// Runs mutt with `args` in `dir`, reads message 1 and quits; panics when mutt does not
/// behave as a reader expects.
fn read_first_message(dir: &Path, home: &Path, args: &str) {
    let t = Tmux::new();
    let script = format!(
        "cd '{}' && HOME='{h}' TERM=xterm exec mutt -n -F /dev/null -e 'set folder={h}' {args}",
        dir.display(),
        h = home.display()
    );
    let o = t.cmd(&["new-session", "-d", "-x", "150", "-y", "40", &script]);
    assert!(o.status.success(), "tmux: {o:?}");
    assert!(t.wait_for("q:Quit"), "mutt did not show its index");
    t.cmd(&["send-keys", "Enter"]);
    assert!(t.wait_for("i:Exit"), "mutt did not open message 1");
    t.cmd(&["send-keys", "q"]);
    assert!(t.wait_for("q:Quit"), "mutt did not return to its index");
    t.cmd(&["send-keys", "q"]);
    let t0 = Instant::now();
    while t.running() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.running(), "mutt did not quit");
}

/// docs/export.md's mutt command for `mail.mbox`, and the zip README's for `Maildir`,
/// read a message without changing the export (mutt without `-R` writes `Status:`
/// headers into the mbox and renames Maildir files on quitting).
#[test]
fn documented_mutt_commands_leave_the_export_unchanged() {
    if !tool("mutt") || !tool("tmux") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let home = d.path().join("home");
    std::fs::create_dir(&home).unwrap();
    ok(&export_samples(&out, &["--format", "mbox,maildir"]));
    let before = files_fingerprint(&out);
    let bundle = out.join("recipients/alice@example.com");
    let mbox_args = documented_mutt("docs/export.md", "mail.mbox");
    assert!(mbox_args.contains("-R"), "docs/export.md: mutt {mbox_args}");
    read_first_message(&bundle, &home, &mbox_args);
    use mxsalvage::export::sink::Sink;
    let readme = mxsalvage::export::sinks::maildir::Maildir.readme();
    let maildir_args = mutt_in(readme, "Maildir", "the zip's README.txt");
    assert!(
        maildir_args.contains("-R"),
        "README.txt: mutt {maildir_args}"
    );
    read_first_message(&bundle, &home, &maildir_args);
    assert_eq!(files_fingerprint(&out), before, "the export changed");
    mx(["verify"]).arg(&out).ok();
}
