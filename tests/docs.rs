//! Integration tests: the documentation is tested. Every command a document shows runs
//! here and its output is compared with the document, so a doc example that stops being
//! true fails CI.
//!
//! The format (also in /work/coord/README.md, "Documentation is tested"):
//! - Commands go in fenced blocks whose info string starts with `console`. A command
//!   line starts with `$ `; a line ending in `\` continues on the next line. The lines
//!   after a command, up to the next `$ ` line or the end of the block, are its expected
//!   output: standard output and standard error as a terminal shows them (one stream, in
//!   order).
//! - In expected output a line `...` matches any number of lines (also none); `[..]`
//!   inside a line matches any text within that line. Everything else is exact.
//! - A non-zero exit status is shown as a last output line `[exit N]` (`[signal N]` for
//!   a command killed by a signal). A pipeline's status is its last command's, as in an
//!   interactive shell (no `pipefail`).
//! - Attributes after `console`, space separated: `tag=NAME` (the block needs a live
//!   server or a prepared state; the owning helper's test runs it with [`run_tagged`]),
//!   `pending=WHO` (the output shown needs a fix not landed yet in WHO's branch: the
//!   block runs, a mismatch is reported but does not fail, and the test fails once the
//!   block passes, so the marker is removed when the fix lands).
//!
//! How a block runs: every document gets one sandbox directory, made fresh for it,
//! holding a copy of `samples/` made with plain `cp -r` (as an administrator would: modes
//! and times are not kept) and an empty `srv/`. Its untagged blocks run in document
//! order in that sandbox (so a later block sees what an earlier one wrote), each command
//! through `bash -c` with the sandbox as working directory, standard input empty,
//! `TZ=UTC`, `LC_ALL=C.UTF-8`, the clock pinned with `MXSALVAGE_NOW` (see [`NOW`]) and
//! the `mxsalvage` of this test build first on `PATH`. `/srv/` and `/tmp/` at the start
//! of a path in a command are the sandbox's `srv/` and `tmp/`; in the output they are
//! shown as `/srv/` and `/tmp/` again. A command starting `cargo run --release -- ` (the
//! README's quick start) runs this build's `mxsalvage` instead of building again. Tagged
//! blocks run the same way, in a sandbox the owning test prepares ([`DocEnv`]).
//! [`run_in_order`] runs a whole document, tagged blocks included, top to bottom in one
//! prepared sandbox (the runbook on one machine state: tests/runbook.rs), where
//! [`DocEnv::substitute_in`] keeps a substitution to one tag's blocks. A command gets at
//! most [`TIMEOUT_SECS`] seconds.
//!
//! The lint ([`lint`]) fails on a console block whose tag no test runs (no
//! `run_tagged("NAME"` or `tagged_blocks("NAME"` in tests/), on unknown attributes, on a console block without a
//! command, and on any other code block (fenced or indented) that shows a `$ ` command
//! or a `# ` root-prompt command.
//!
//! How it fails: one panic per test listing every mismatch with the document, line,
//! command, the expected and the actual output (ready to paste).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{bin, root};

/// The moment the documentation's commands run at: a few minutes after the last sample
/// message arrived (2026-11-27 18:38 UTC), while the primary is down.
pub const NOW: &str = "2026-11-27T18:40:00Z";

/// The longest a documented command may run before it counts as hung.
pub const TIMEOUT_SECS: u32 = 600;

/// The documents whose blocks are checked: README.md and every `.md` under docs/ and
/// samples/.
pub fn documents() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut v: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        v.sort();
        for p in v {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "md") {
                out.push(p);
            }
        }
    }
    let r = root();
    let mut v = vec![r.join("README.md")];
    walk(&r.join("docs"), &mut v);
    walk(&r.join("samples"), &mut v);
    v
}

// ---------------------------------------------------------------------------------------
// Parsing

/// A place in the documents, shown as `FILE:LINE`.
#[derive(Debug, Clone)]
pub struct Place {
    /// Path relative to the repository root.
    pub file: String,
    /// 1-based.
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A code block of a document.
#[derive(Debug, Clone)]
pub struct Block {
    /// The opening fence (or the first line of an indented block).
    pub at: Place,
    /// The info string (empty for an indented block).
    pub info: String,
    pub fenced: bool,
    /// Content lines, with the fence's indentation removed.
    pub lines: Vec<String>,
}

/// One command of a console block and what it should print.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line of the `$ ` line.
    pub line: usize,
    /// The command as bash gets it (continuation lines joined with their `\` newline).
    pub command: String,
    pub expected: Vec<String>,
}

/// A parsed console block.
#[derive(Debug, Clone)]
pub struct Console {
    /// The block's opening fence.
    pub at: Place,
    pub tag: Option<String>,
    pub pending: Option<String>,
    pub steps: Vec<Step>,
}

fn fence_of(line: &str) -> Option<(usize, char, usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let n = rest.chars().take_while(|&c| c == ch).count();
    if n < 3 {
        return None;
    }
    Some((indent, ch, n, rest[n..].trim().to_string()))
}

/// Every code block of a Markdown text: fenced blocks (``` or ~~~, at any list
/// indentation up to 3 spaces) and indented blocks (4 spaces after a blank line, outside
/// lists as far as a simple reader can tell).
pub fn blocks(file: &str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut prev_blank = true;
    let mut in_list = false;
    while i < lines.len() {
        let l = lines[i];
        if let Some((indent, ch, n, info)) = fence_of(l) {
            if indent == 0 {
                in_list = false;
            }
            let start = i;
            let mut content = Vec::new();
            i += 1;
            while i < lines.len() {
                if let Some((_, c2, n2, rest)) = fence_of(lines[i])
                    && c2 == ch
                    && n2 >= n
                    && rest.is_empty()
                {
                    break;
                }
                let s = lines[i];
                let strip = s.len() - s.trim_start_matches(' ').len();
                content.push(s[strip.min(indent)..].to_string());
                i += 1;
            }
            out.push(Block {
                at: Place {
                    file: file.to_string(),
                    line: start + 1,
                },
                info,
                fenced: true,
                lines: content,
            });
            i += 1;
            prev_blank = false;
            continue;
        }
        let trimmed = l.trim_start();
        if trimmed.is_empty() {
            prev_blank = true;
            i += 1;
            continue;
        }
        let indent = l.len() - trimmed.len();
        if indent == 0 {
            in_list = trimmed.starts_with("- ")
                || trimmed.starts_with("* ")
                || trimmed
                    .split_once(". ")
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        }
        if indent >= 4 && prev_blank && !in_list {
            let start = i;
            let mut content = Vec::new();
            while i < lines.len() && (lines[i].starts_with("    ") || lines[i].trim().is_empty()) {
                content.push(lines[i].get(4..).unwrap_or("").to_string());
                i += 1;
            }
            while content.last().is_some_and(|l| l.trim().is_empty()) {
                content.pop();
            }
            out.push(Block {
                at: Place {
                    file: file.to_string(),
                    line: start + 1,
                },
                info: String::new(),
                fenced: false,
                lines: content,
            });
            prev_blank = true;
            continue;
        }
        prev_blank = false;
        i += 1;
    }
    out
}

impl Block {
    pub fn is_console(&self) -> bool {
        self.fenced && self.info.split_whitespace().next() == Some("console")
    }

    /// Parses a console block; `Err` says what is wrong with it.
    pub fn console(&self) -> Result<Console, String> {
        let mut tag = None;
        let mut pending = None;
        for attr in self.info.split_whitespace().skip(1) {
            match attr.split_once('=') {
                Some(("tag", v)) if !v.is_empty() => tag = Some(v.to_string()),
                Some(("pending", v)) if !v.is_empty() => pending = Some(v.to_string()),
                _ => {
                    return Err(format!(
                        "unknown attribute {attr:?} (known: tag=NAME, pending=WHO)"
                    ));
                }
            }
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let l = &self.lines[i];
            if let Some(cmd) = l.strip_prefix("$ ") {
                let line = self.at.line + 1 + i;
                let mut command = cmd.to_string();
                while command.ends_with('\\') && i + 1 < self.lines.len() {
                    i += 1;
                    command.push('\n');
                    command.push_str(&self.lines[i]);
                }
                steps.push(Step {
                    line,
                    command,
                    expected: Vec::new(),
                });
            } else if let Some(s) = steps.last_mut() {
                s.expected.push(l.clone());
            } else if !l.trim().is_empty() {
                return Err(format!(
                    "line {}: output before the first `$ ` command",
                    self.at.line + 1 + i
                ));
            }
            i += 1;
        }
        if steps.is_empty() {
            return Err("a console block without a `$ ` command".into());
        }
        Ok(Console {
            at: self.at.clone(),
            tag,
            pending,
            steps,
        })
    }
}

/// Commands that a `# ` line in a non-console block is taken to run (a root prompt),
/// as opposed to a comment.
const PROGRAMS: &[&str] = &[
    "mxsalvage",
    "postsuper",
    "postconf",
    "postfix",
    "postqueue",
    "postcat",
    "postmap",
    "doveadm",
    "cp",
    "rsync",
    "jq",
    "cargo",
    "scripts/test",
    "scripts/bench",
    "chmod",
    "chown",
    "mkdir",
    "ls",
    "cat",
    "sudo",
    "7z",
    "unzip",
    "git",
    "systemctl",
    "grep",
    "find",
    "cd",
    "tar",
    "mailq",
    "sendmail",
    "rm",
];

const MX_COMMANDS: &[&str] = &[
    "scan",
    "cat",
    "export",
    "reinject",
    "verify",
    "man",
    "completions",
    "dovecot",
    "journal",
    "help",
];

/// Whether a line of a non-console block shows a command with a prompt.
pub fn shows_prompt_command(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("$ ") {
        return true;
    }
    let Some(rest) = t.strip_prefix("# ") else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let Some(first) = words.next() else {
        return false;
    };
    if first.contains('=')
        && first
            .split('=')
            .next()
            .is_some_and(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    {
        return true; // `# TZ=UTC mxsalvage …`
    }
    if first == "mxsalvage" {
        return words
            .next()
            .is_some_and(|w| w.starts_with('-') || MX_COMMANDS.contains(&w));
    }
    PROGRAMS.contains(&first) && first != "mxsalvage"
}

// ---------------------------------------------------------------------------------------
// Matching

/// Whether one actual line matches one expected line (`[..]` = any text in the line).
pub fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if actual.len() < first.len() + last.len()
        || !actual.starts_with(first)
        || !actual.ends_with(last)
    {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(p) => rest = &rest[p + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the actual lines match the expected ones (`...` = any number of lines).
pub fn output_matches(expected: &[String], actual: &[String]) -> bool {
    // ok[i][j]: expected[i..] matches actual[j..]
    let (n, m) = (expected.len(), actual.len());
    let mut ok = vec![vec![false; m + 1]; n + 1];
    ok[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            ok[i][j] = if expected[i] == "..." {
                ok[i + 1][j] || (j < m && ok[i][j + 1])
            } else {
                j < m && line_matches(&expected[i], &actual[j]) && ok[i + 1][j + 1]
            };
        }
    }
    ok[0][0]
}

// ---------------------------------------------------------------------------------------
// Running

/// A sandbox for documented commands: a `cp -r` copy of samples/, an empty `srv/`, and
/// the environment every command gets. Tests that run tagged blocks make one, prepare
/// the state (start a server, run an export, add variables and substitutions), then
/// call [`run_tagged`].
pub struct DocEnv {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    /// (only in blocks with this tag, or in all: `None`; as written in the document, as
    /// run): applied to commands; reversed on output.
    subst: Vec<(Option<String>, String, String)>,
}

impl Default for DocEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl DocEnv {
    /// A fresh sandbox with `samples/` copied by `cp -r` and an empty `srv/`.
    pub fn new() -> DocEnv {
        let dir = tempfile::Builder::new()
            .prefix("mxsalvage-docs.")
            .tempdir()
            .expect("sandbox");
        crate::harness::copy_tree(&root().join("samples"), dir.path(), true);
        for d in MAPPED {
            std::fs::create_dir(dir.path().join(d.trim_matches('/'))).unwrap();
        }
        DocEnv {
            dir,
            vars: Vec::new(),
            subst: Vec::new(),
        }
    }

    /// The sandbox directory (the working directory of every command).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The sandbox's `srv/`: what the documents call `/srv/`.
    pub fn srv(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    /// Adds an environment variable for every command (e.g. `MAIL_CONFIG`).
    pub fn var(&mut self, key: &str, value: &str) -> &mut Self {
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    /// Replaces `shown` (as the document writes it, e.g. `mx1.example.com:2525`) with
    /// `real` (e.g. `127.0.0.1:40123`) in commands, and `real` with `shown` in output.
    pub fn substitute(&mut self, shown: &str, real: &str) -> &mut Self {
        self.subst.push((None, shown.to_string(), real.to_string()));
        self
    }

    /// [`DocEnv::substitute`] in the blocks tagged `tag` only (a walk through a whole
    /// document, where another block shows the same text for something else).
    pub fn substitute_in(&mut self, tag: &str, shown: &str, real: &str) -> &mut Self {
        self.subst
            .push((Some(tag.to_string()), shown.to_string(), real.to_string()));
        self
    }

    /// The substitutions of a block tagged `tag`.
    fn pairs(&self, tag: Option<&str>) -> impl Iterator<Item = (&String, &String)> {
        self.subst
            .iter()
            .filter(move |(t, _, _)| t.is_none() || t.as_deref() == tag)
            .map(|(_, shown, real)| (shown, real))
    }

    fn map_command(&self, cmd: &str, tag: Option<&str>) -> String {
        let cmd = match cmd.strip_prefix(CARGO_RUN) {
            Some(rest) => format!("mxsalvage {rest}"),
            None => cmd.to_string(),
        };
        let mut s = map_paths(&cmd, &self.path().to_string_lossy());
        for (shown, real) in self.pairs(tag) {
            s = s.replace(shown, real);
        }
        s
    }

    fn map_output(&self, out: &str, tag: Option<&str>) -> String {
        let mut s = out.to_string();
        for dir in MAPPED {
            s = s.replace(&format!("{}{dir}", self.path().to_string_lossy()), dir);
        }
        for (shown, real) in self.pairs(tag) {
            s = s.replace(real, shown);
        }
        s
    }

    /// Runs one command as a documented command runs; returns its output lines (with
    /// `[exit N]` appended on failure), already mapped back to the document's names.
    pub fn sh(&self, command: &str) -> Vec<String> {
        self.sh_in(command, None)
    }

    /// [`DocEnv::sh`] for a command of a block tagged `tag`.
    fn sh_in(&self, command: &str, tag: Option<&str>) -> Vec<String> {
        let script = format!("exec 2>&1\n{}", self.map_command(command, tag));
        let path = format!(
            "{}:{}",
            bin().parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("timeout");
        c.arg(TIMEOUT_SECS.to_string())
            .arg("bash")
            .arg("-c")
            .arg(script)
            .current_dir(self.path())
            .env("PATH", path)
            .env("TZ", "UTC")
            .env("LC_ALL", "C.UTF-8")
            .env("MXSALVAGE_NOW", NOW)
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        // Output into a file, not a pipe: a daemon a command starts (`dovecot -c …`)
        // keeps the descriptor open, and reading a pipe to its end would never finish.
        let mut file = tempfile::tempfile().expect("output file");
        c.stdout(file.try_clone().expect("output file"))
            .stderr(Stdio::null());
        let status = c.status().expect("run bash");
        let mut raw = Vec::new();
        {
            use std::io::{Read, Seek};
            file.rewind()
                .and_then(|_| file.read_to_end(&mut raw))
                .expect("read output");
        }
        let out = std::process::Output {
            status,
            stdout: raw,
            stderr: Vec::new(),
        };
        let text = self.map_output(&String::from_utf8_lossy(&out.stdout), tag);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        use std::os::unix::process::ExitStatusExt;
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {}
            (Some(124), _) => lines.push(format!("[timed out after {TIMEOUT_SECS} s]")),
            (Some(n), _) => lines.push(format!("[exit {n}]")),
            (None, Some(s)) => lines.push(format!("[signal {s}]")),
            (None, None) => lines.push("[exit ?]".into()),
        }
        lines
    }

    /// Runs a console block's commands in order; returns one message per mismatch.
    pub fn run_block(&self, block: &Console) -> Vec<String> {
        let mut failures = Vec::new();
        for step in &block.steps {
            let actual = self.sh_in(&step.command, block.tag.as_deref());
            if !output_matches(&step.expected, &actual) {
                failures.push(format!(
                    "{}:{}: $ {}\n--- expected\n{}\n--- actual\n{}\n---",
                    block.at.file,
                    step.line,
                    step.command,
                    step.expected.join("\n"),
                    actual.join("\n")
                ));
            }
        }
        failures
    }
}

/// Maps `/srv/` and `/tmp/` at the start of a path (after a space, quote, `=`, `:`, `(`
/// or the start) to the sandbox's `srv/` and `tmp/` (`sandbox` is the sandbox root).
fn map_paths(cmd: &str, sandbox: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < cmd.len() {
        let rest = &cmd[i..];
        if let Some(dir) = MAPPED.iter().find(|d| rest.starts_with(*d))
            && prev.is_none_or(|p| p.is_whitespace() || "'\"=:(<>|;".contains(p))
        {
            out.push_str(sandbox);
            out.push_str(dir);
            i += dir.len();
            prev = Some('/');
            continue;
        }
        let ch = rest.chars().next().unwrap();
        out.push(ch);
        prev = Some(ch);
        i += ch.len_utf8();
    }
    out
}

/// The absolute directories of the documents that are the sandbox's own.
const MAPPED: &[&str] = &["/srv/", "/tmp/"];

/// How the quick start builds and runs the tool from a fresh clone; the suite runs the
/// binary it has built instead of building a second time inside the test.
const CARGO_RUN: &str = "cargo run --release -- ";

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The console blocks of a document, parsed (panics on a malformed one: the lint says
/// which).
pub fn console_blocks(path: &Path) -> Vec<Console> {
    let text = std::fs::read_to_string(path).unwrap();
    blocks(&rel(path), &text)
        .iter()
        .filter(|b| b.is_console())
        .map(|b| b.console().unwrap_or_else(|e| panic!("{}: {e}", b.at)))
        .collect()
}

/// Runs blocks in one sandbox, in order; returns the failures (pending blocks: a
/// mismatch is printed, a match is a failure asking to remove the marker).
fn run_blocks(env: &DocEnv, blocks: &[Console]) -> Vec<String> {
    let mut failures = Vec::new();
    for b in blocks {
        let f = env.run_block(b);
        match (&b.pending, f.is_empty()) {
            (None, _) => failures.extend(f),
            (Some(who), true) => failures.push(format!(
                "{}: this block is marked pending={who} but passes now: remove the marker",
                b.at
            )),
            (Some(who), false) => {
                eprintln!(
                    "{}: pending={who}, still differs (not a failure until it passes):\n{}",
                    b.at,
                    f.join("\n")
                );
            }
        }
    }
    failures
}

fn report(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} documented command(s) in {what} do not print what the document shows:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Runs every untagged console block of one document in a fresh sandbox.
pub fn run_document(path: &Path) {
    let env = DocEnv::new();
    let blocks: Vec<Console> = console_blocks(path)
        .into_iter()
        .filter(|b| b.tag.is_none())
        .collect();
    report(&rel(path), run_blocks(&env, &blocks));
}

/// Runs every console block tagged `tag`, in every document (in document order), in the
/// prepared sandbox `env`. Panics when no block has that tag (a renamed tag would
/// otherwise test nothing) and on any mismatch.
pub fn run_tagged(tag: &str, env: &DocEnv) {
    report(
        &format!("blocks tagged {tag}"),
        run_blocks(env, &tagged_blocks(tag)),
    );
}

/// Runs every console block of one document, tagged or not, top to bottom in the one
/// prepared sandbox `env`: the document followed in order on one machine state (the
/// runbook: tests/runbook.rs). Panics on any mismatch.
pub fn run_in_order(doc: &str, env: &DocEnv) {
    let path = root().join(doc);
    report(
        &format!("{doc}, followed in order on one state"),
        run_blocks(env, &console_blocks(&path)),
    );
}

/// Every console block tagged `tag`, in document order (for a test that checks them
/// some other way than running them here). Panics when there is none.
pub fn tagged_blocks(tag: &str) -> Vec<Console> {
    let blocks: Vec<Console> = documents()
        .iter()
        .flat_map(|p| console_blocks(p))
        .filter(|b| b.tag.as_deref() == Some(tag))
        .collect();
    assert!(!blocks.is_empty(), "no console block has tag={tag}");
    blocks
}

/// The tags some test runs: every `run_tagged("NAME"` in tests/.
fn tags_run_by_tests() -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let needles = [
        concat!("run_tagged", "(\""),
        concat!("tagged_blocks", "(\""),
    ];
    for e in std::fs::read_dir(root().join("tests")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for needle in needles {
                for (i, _) in text.match_indices(needle) {
                    let rest = &text[i + needle.len()..];
                    if let Some(end) = rest.find('"') {
                        tags.insert(rest[..end].to_string());
                    }
                }
            }
        }
    }
    tags
}

/// Every problem the lint finds in the documents.
pub fn lint_problems() -> Vec<String> {
    let run = tags_run_by_tests();
    let mut listed: BTreeSet<(&'static str, &'static str)> = BTreeSet::new();
    let mut problems = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for b in blocks(&rel(&path), &text) {
            if b.is_console() {
                match b.console() {
                    Err(e) => problems.push(format!("{}: {e}", b.at)),
                    Ok(c) => {
                        if let Some(t) = &c.tag
                            && !run.contains(t)
                        {
                            problems.push(format!(
                                "{}: tag={t}, but no test runs it (call docs::run_tagged(\"{t}\", …) from the test that prepares that state)",
                                b.at
                            ));
                        }
                    }
                }
                continue;
            }
            let mut continued = false;
            for (k, l) in b.lines.iter().enumerate() {
                let at = if b.fenced {
                    b.at.line + 1 + k
                } else {
                    b.at.line + k
                };
                if shows_prompt_command(l) {
                    problems.push(format!(
                        "{}:{at}: {:?} shows a command in a block that is not ```console (so it is never run): make it a console block with `$ ` prompts and its real output",
                        b.at.file,
                        l.trim()
                    ));
                } else if !continued && is_bare_command(l) {
                    if let Some(known) = UNTESTED
                        .iter()
                        .find(|(f, x)| *f == b.at.file && *x == l.trim())
                    {
                        listed.insert(*known);
                    } else {
                        problems.push(format!(
                            "{}:{at}: {:?} is a command shown without a prompt, so it is never run: make it a ```console block with `$ ` and its real output (or a synopsis with [OPTIONS]/PLACEHOLDERS)",
                            b.at.file,
                            l.trim()
                        ));
                    }
                }
                continued = l.trim_end().ends_with('\\');
            }
        }
    }
    for (file, line) in UNTESTED {
        if !listed.contains(&(*file, *line)) {
            problems.push(format!(
                "{file}: {line:?} is listed in tests/docs.rs UNTESTED but is no longer shown without a prompt: remove it from the list"
            ));
        }
    }
    problems
}

/// Commands shown without a prompt (so never run) that were there when the lint learnt
/// about them; each owner converts them to console blocks and removes the line here.
/// Nothing may be added to this list.
const UNTESTED: &[(&str, &str)] = &[];

/// Whether a line of a non-console block is a command someone would run as shown (not a
/// synopsis with `[OPTIONS]` or PLACEHOLDERS, not a comment): `mxsalvage SUBCOMMAND …`,
/// `postsuper`, `jq`, `doveadm`, … possibly after `VAR=value`. Build and benchmark
/// commands (`cargo`, `scripts/bench`) are not checked: they cannot run inside a test.
pub fn is_bare_command(line: &str) -> bool {
    let t = line.trim();
    let mut words = t.split_whitespace().peekable();
    while words.peek().is_some_and(|w| {
        w.contains('=') && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
    }) {
        words.next();
    }
    let Some(first) = words.next() else {
        return false;
    };
    let runs = match first {
        "mxsalvage" => words.next().is_some_and(|w| MX_COMMANDS.contains(&w)),
        // The mail administrator's commands (builds and benchmarks are not doc examples).
        p => [
            "postsuper",
            "postconf",
            "postqueue",
            "postcat",
            "postmap",
            "doveadm",
            "jq",
            "mailq",
        ]
        .contains(&p),
    };
    if !runs {
        return false;
    }
    // A synopsis: `[--flag …]`, `…`, or an upper-case placeholder word (DIR, HOST[:PORT]).
    let placeholder = t
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| {
            w.len() >= 2
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                && w.chars().any(|c| c.is_ascii_uppercase())
                && !["ALL", "UTC", "TZ"].contains(&w)
        });
    !(t.contains("[-") || t.contains('…') || placeholder)
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn lint() {
    let p = lint_problems();
    assert!(p.is_empty(), "documentation lint:\n{}", p.join("\n"));
}

#[test]
fn readme() {
    run_document(&root().join("README.md"));
}

/// The README's `scripts/test` block cannot run inside the suite it runs; CI runs it
/// (`.ci/run` is `scripts/test`). What it shows must be what the script prints: its
/// `== ` lines in order, cargo's own output left out as `...`.
#[test]
fn readme_scripts_test_block() {
    let blocks = tagged_blocks("scripts-test");
    assert_eq!(blocks.len(), 1);
    let step = &blocks[0].steps[..];
    assert_eq!(step.len(), 1);
    assert_eq!(step[0].command, "scripts/test");
    let script = std::fs::read_to_string(root().join("scripts/test")).unwrap();
    let printed: Vec<String> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("echo \"== "))
        .filter(|l| !l.starts_with("installing"))
        .map(|l| format!("== {}", l.trim_end_matches('"')))
        .collect();
    let shown: Vec<String> = step[0]
        .expected
        .iter()
        .filter(|l| *l != "...")
        .cloned()
        .collect();
    assert_eq!(
        shown, printed,
        "README's scripts/test block must show the script's `== ` lines in order"
    );
    assert!(
        step[0]
            .expected
            .iter()
            .all(|l| l == "..." || l.starts_with("== ")),
        "only `== ` lines and `...` in README's scripts/test block"
    );
}

#[test]
fn runbook() {
    run_document(&root().join("docs/runbook.md"));
}

#[test]
fn scan_and_cat() {
    run_document(&root().join("docs/scan-and-cat.md"));
}

/// Every other document with console blocks (each in its own sandbox).
#[test]
fn other_documents() {
    let own = ["README.md", "docs/runbook.md", "docs/scan-and-cat.md"];
    let mut failures = Vec::new();
    for p in documents() {
        if own.contains(&rel(&p).as_str()) {
            continue;
        }
        let blocks: Vec<Console> = console_blocks(&p)
            .into_iter()
            .filter(|b| b.tag.is_none())
            .collect();
        if !blocks.is_empty() {
            failures.extend(run_blocks(&DocEnv::new(), &blocks));
        }
    }
    report("docs/ and samples/", failures);
}

#[test]
fn the_harness_itself() {
    // Matching.
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(output_matches(&v(&["a", "b"]), &v(&["a", "b"])));
    assert!(!output_matches(&v(&["a"]), &v(&["a", "b"])));
    assert!(output_matches(&v(&["a", "..."]), &v(&["a", "b", "c"])));
    assert!(output_matches(&v(&["...", "c"]), &v(&["a", "b", "c"])));
    assert!(output_matches(&v(&["a", "...", "c"]), &v(&["a", "c"])));
    assert!(output_matches(&v(&["..."]), &v(&[])));
    assert!(!output_matches(&v(&["a", "...", "d"]), &v(&["a", "c"])));
    assert!(line_matches("in [..]s", "in 0.9s"));
    assert!(line_matches("[..]", ""));
    assert!(line_matches("a[..]b[..]c", "aXbYbc"));
    assert!(!line_matches("a[..]b[..]c", "aXc"));
    assert!(!line_matches("ab[..]ba", "aba"));

    // Parsing: continuation, output, exit, attributes, indented fences in lists.
    let doc = "text\n\n1. step\n\n   ```console tag=x\n   $ echo a \\\n   b\n   a b\n   $ false\n   [exit 1]\n   ```\n\n```sh\n$ ls\n```\n\n    # mxsalvage scan\n";
    let bs = blocks("t.md", doc);
    assert_eq!(bs.len(), 3, "{bs:?}");
    let c = bs[0].console().unwrap();
    assert_eq!(c.tag.as_deref(), Some("x"));
    assert_eq!(c.steps.len(), 2);
    assert_eq!(c.steps[0].command, "echo a \\\nb");
    assert_eq!(c.steps[0].expected, v(&["a b"]));
    assert_eq!(c.steps[0].line, 6);
    assert_eq!(c.steps[1].expected, v(&["[exit 1]"]));
    assert!(!bs[1].is_console() && shows_prompt_command(&bs[1].lines[0]));
    assert!(!bs[2].fenced && shows_prompt_command(&bs[2].lines[0]));
    assert!(bs[0].info.contains("tag=x"));
    let bad = blocks("t.md", "```console tga=x\n$ true\n```\n");
    assert!(bad[0].console().is_err());

    // Commands shown without a prompt, and what is not one.
    assert!(is_bare_command(
        "mxsalvage export --out /root/salvage --zip"
    ));
    assert!(is_bare_command("TZ=UTC mxsalvage scan --queue-dir /x"));
    assert!(is_bare_command("postsuper -d ALL deferred"));
    assert!(!is_bare_command(
        "mxsalvage export [--queue-dir DIR] --out DIR"
    ));
    assert!(!is_bare_command(
        "mxsalvage reinject --from EXPORT_DIR --to HOST[:PORT] [--lmtp]"
    ));
    assert!(!is_bare_command(
        "mxsalvage re-injection from the backup MX"
    ));
    assert!(!is_bare_command("relay_domains = example.com"));

    // Comments are not commands.
    assert!(!shows_prompt_command(
        "# mxsalvage re-injection from the backup MX"
    ));
    assert!(!shows_prompt_command("# Everything, all formats:"));
    assert!(shows_prompt_command("# TZ=UTC mxsalvage cat -q X"));
    assert!(shows_prompt_command("# postsuper -d ALL"));

    // Running: the sandbox, the environment, /srv/ both ways, exit codes.
    let mut env = DocEnv::new();
    env.substitute("mx1.example.com", "127.0.0.1");
    let c = blocks(
        "t.md",
        "```console\n$ echo $TZ $MXSALVAGE_NOW; ls samples | head -1\nUTC 2026-11-27T18:40:00Z\nREADME.md\n$ mkdir /srv/x && cd /srv/x && pwd\n/srv/x\n$ echo mx1.example.com >&2; exit 3\nmx1.example.com\n[exit 3]\n$ mxsalvage --version\nmxsalvage [..]\n```\n",
    )[0]
    .console()
    .unwrap();
    let f = env.run_block(&c);
    assert!(f.is_empty(), "{}", f.join("\n"));
    assert!(env.srv().join("x").is_dir());
    assert_eq!(
        map_paths("a /srv/b --out=/srv/c x/srv/d 'maildir:/tmp/e'", "/S"),
        "a /S/srv/b --out=/S/srv/c x/srv/d 'maildir:/S/tmp/e'"
    );
}
