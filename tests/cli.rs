//! Integration tests: the command line itself — exit codes for usage errors, help, and
//! the generated man pages kept in sync with the definitions, the completions installed
//! and working.

use std::process::Stdio;

use crate::harness::*;
use crate::util::{have, root, run, sample_spool};

/// The commands with a man page of their own: every command `--help` lists but clap's
/// `help`.
fn pages() -> Vec<String> {
    let help = stdout(&mx(["--help"]).ok());
    let commands = help
        .split("\nCommands:\n")
        .nth(1)
        .expect("--help lists commands");
    commands
        .lines()
        .take_while(|l| l.starts_with(' '))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// (file under docs/, mxsalvage arguments that print it)
fn generated() -> Vec<(String, Vec<String>)> {
    let mut v = vec![("man/mxsalvage.1".to_string(), vec!["man".to_string()])];
    for c in pages() {
        v.push((format!("man/mxsalvage-{c}.1"), vec!["man".into(), c]));
    }
    v
}

#[test]
fn man_pages_are_in_sync() {
    for (file, args) in generated() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        let path = root().join("docs").join(&file);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "docs/{file} is out of date with the command definitions: run scripts/gen-docs"
        );
    }
}

#[test]
fn man_page_mentions_every_command() {
    let out = run(&["man"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for c in [
        "scan", "cat", "export", "reinject", "journal", "verify", "dovecot",
    ] {
        assert!(text.contains(c), "man page lacks {c}");
    }
}

/// The text of one roff section (`.SH NAME` up to the next `.SH`).
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    page.lines()
        .skip_while(|l| *l != format!(".SH {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".SH "))
        .collect()
}

/// Each page is named `mxsalvage-COMMAND` in NAME (apropos must not list a `cat` or an
/// `export` page), its SYNOPSIS shows option values, its DESCRIPTION is more than one
/// line, and the main page refers only to pages that exist.
#[test]
fn man_pages_are_named_described_and_linked() {
    let docs = root().join("docs/man");
    let main = String::from_utf8(run(&["man"]).stdout).unwrap();
    for c in pages() {
        let page = String::from_utf8(run(&["man", &c]).stdout).unwrap();
        let name = section(&page, "NAME");
        assert!(
            name.first()
                .is_some_and(|l| l.starts_with(&format!("mxsalvage\\-{c} \\-"))),
            "man {c}: NAME {name:?}"
        );
        assert!(page.contains(&format!(".TH mxsalvage-{c} 1")), "man {c}");
        let text: Vec<&str> = section(&page, "DESCRIPTION")
            .into_iter()
            .filter(|l| !l.starts_with('.'))
            .collect();
        assert!(text.len() >= 2, "man {c}: DESCRIPTION {text:?}");
        assert!(
            main.contains(&format!("mxsalvage\\-{c}")),
            "main page lacks {c}"
        );
    }
    assert!(section(&main, "DESCRIPTION").len() >= 3);
    // Every page the main page names exists.
    for w in main.split("mxsalvage\\-").skip(1) {
        let name: String = w.chars().take_while(|c| c.is_ascii_lowercase()).collect();
        if w[name.len()..].starts_with("(1)") || w[name.len()..].starts_with("\\fR(1)") {
            assert!(
                docs.join(format!("mxsalvage-{name}.1")).exists(),
                "the main page names mxsalvage-{name}(1), which does not exist"
            );
        }
    }
    assert!(!main.contains("mxsalvage\\-help"));
    // SYNOPSIS with values, as man shows it.
    if have("man") {
        let o = std::process::Command::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "300")
            .stdin(std::fs::File::open(docs.join("mxsalvage-export.1")).unwrap())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let syn: String = text
            .lines()
            .skip_while(|l| !l.starts_with("SYNOPSIS"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ");
        assert_contains_all(
            "SYNOPSIS",
            &syn,
            &[
                "mxsalvage export ",
                "[--queue-dir=DIR]",
                "--out=DIR",
                "[--format=LIST]",
                "[--jobs=N]",
                "[--zip]",
            ],
        );
    }
}

/// `man --install --prefix DIR` writes every page where `man` finds it and the bash, zsh
/// and fish completions where those shells look; bash then completes `export --format`
/// with the format names, not file names.
#[test]
fn man_install_and_format_completion() {
    let d = tempfile::tempdir().unwrap();
    let prefix = d.path().join("usr-local");
    let o = run(&["man", "--install", "--prefix", prefix.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let listed = String::from_utf8(o.stdout).unwrap();
    let share = prefix.join("share");
    for (rel, args) in [
        ("man/man1/mxsalvage.1", vec!["man"]),
        ("man/man1/mxsalvage-export.1", vec!["man", "export"]),
        (
            "man/man1/mxsalvage-completions.1",
            vec!["man", "completions"],
        ),
        (
            "bash-completion/completions/mxsalvage",
            vec!["completions", "bash"],
        ),
        ("zsh/site-functions/_mxsalvage", vec!["completions", "zsh"]),
        (
            "fish/vendor_completions.d/mxsalvage.fish",
            vec!["completions", "fish"],
        ),
    ] {
        let p = share.join(rel);
        assert_eq!(std::fs::read(&p).ok(), Some(run(&args).stdout), "{rel}");
        assert!(listed.contains(&p.display().to_string()), "{listed}");
    }
    assert_eq!(listed.lines().count(), 1 + pages().len() + 3);
    if have("man") {
        for page in ["mxsalvage", "mxsalvage-export", "mxsalvage-scan"] {
            let o = std::process::Command::new("man")
                .args(["-w", page])
                .env("MANPATH", share.join("man"))
                .output()
                .unwrap();
            assert!(o.status.success(), "man -w {page}: {o:?}");
        }
    }
    // bash: `mxsalvage export --format <TAB>`
    let script = format!(
        "source '{}'; COMP_WORDS=(mxsalvage export --format ''); COMP_CWORD=3; \
         COMP_LINE='mxsalvage export --format '; COMP_POINT=${{#COMP_LINE}}; \
         _mxsalvage mxsalvage '' --format; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        share
            .join("bash-completion/completions/mxsalvage")
            .display()
    );
    let o = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(d.path())
        .output()
        .unwrap();
    let offered: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for f in ["mbox", "maildir", "eml", "text", "html", "all", "none"] {
        assert!(offered.iter().any(|x| x == f), "offered: {offered:?} {o:?}");
    }
    assert!(!offered.iter().any(|x| x == "usr-local"), "{offered:?}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["scan", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["scan", "--queue-dir", "/nonexistent/spool"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["scan", "--queue", "bogus", "--queue-dir", "/tmp"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["man", "nope"]).status.code(), Some(2));
}

#[test]
fn help_exits_0() {
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["cat", "--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

/// Every command and output mode that writes to standard output, as mxsalvage
/// arguments. `{spool}`/`{config}` are the samples, `{export}` an export of them,
/// `{new}` a fresh directory that does not exist yet. A new command (or a new way of
/// printing) gets a row here (`{samples}` stands for `--queue-dir {spool} --config-dir
/// {config}`): `closed_stdout_ends_quietly` then proves it stops quietly
/// on a closed pipe, and `full_stdout_is_an_error` that a failed write is reported.
const STDOUT_COMMANDS: &[&str] = &[
    "scan {samples}",
    "scan {samples} --json",
    "cat -q --queue-dir {spool} 3911298E402 3DB1698E537",
    "cat -e {spool}/deferred/3/3911298E402",
    "export {samples} --out {new} --json",
    "verify {export}",
    "verify {export} --json",
    "reinject --from {export} --to 127.0.0.1:9 --dry-run",
    "reinject --from {export} --to 127.0.0.1:9 --dry-run --json",
    "scan {samples} --format postqueue",
    "scan {samples} --list",
    "journal --from {export}",
    "journal --from {export} --json",
    "man",
    "man scan",
    "completions bash",
    "completions zsh",
    "completions fish",
    "--help",
    "export --help",
    "dovecot --help",
    "--version",
];

/// An export of the samples, made once.
fn sample_export() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("export");
        export_samples(&out, &[]).ok();
        // An empty reinject journal (0600), so that `journal` reports instead of noting
        // on stderr that there is none yet.
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out.join("reinject-journal.jsonl"))
            .unwrap();
        d
    })
    .path()
    .join("export")
    .leak()
}

/// The arguments of a table row with its placeholders filled in (`scratch` holds `{new}`).
fn fill(row: &str, scratch: &std::path::Path) -> Vec<String> {
    row.split_whitespace()
        .flat_map(|a| match a {
            "{samples}" => vec!["--queue-dir", "{spool}", "--config-dir", "{config}"],
            a => vec![a],
        })
        .map(|a| {
            a.replace("{spool}", &sample_spool().to_string_lossy())
                .replace("{config}", &root().join("samples/config").to_string_lossy())
                .replace("{export}", &sample_export().to_string_lossy())
                .replace("{new}", &scratch.join("new").to_string_lossy())
        })
        .collect()
}

/// Runs mxsalvage (no standard input) with its standard output and error sent where
/// given.
fn run_to(args: &[String], stdout: Stdio, stderr: Stdio) -> std::process::Output {
    mx(args)
        .command()
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .output()
        .unwrap()
}

/// Runs mxsalvage with stdout and/or stderr on a pipe whose reading end is already
/// closed (what `| head -1` leaves once head has exited).
fn run_into_closed_pipe(args: &[String], stdout: bool, stderr: bool) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = |on: bool| {
        if on {
            Stdio::from(writer.try_clone().unwrap())
        } else {
            Stdio::piped()
        }
    };
    run_to(args, closed(stdout), closed(stderr))
}

#[test]
fn closed_stdout_ends_quietly() {
    let mut bad = Vec::new();
    for row in STDOUT_COMMANDS {
        let scratch = tempfile::tempdir().unwrap();
        let args = fill(row, scratch.path());
        let out = run_into_closed_pipe(&args, true, false);
        let err = String::from_utf8_lossy(&out.stderr);
        // What the command says on stderr anyway (notes, warnings): with stdout to
        // /dev/null, in a fresh scratch directory. The closed pipe may cut that short
        // but must add nothing.
        let scratch2 = tempfile::tempdir().unwrap();
        let normal = run_to(&fill(row, scratch2.path()), Stdio::null(), Stdio::piped());
        let said = String::from_utf8_lossy(&normal.stderr);
        let said = said.replace(
            &scratch2.path().to_string_lossy().into_owned(),
            &scratch.path().to_string_lossy(),
        );
        if out.status.code() != Some(0) || !said.starts_with(&*err) {
            bad.push(format!(
                "{row:?}: {:?}, stderr {err:?} (without the pipe: {said:?})",
                out.status
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "into a closed pipe every command must stop quietly with exit 0, adding nothing to stderr:\n{}",
        bad.join("\n")
    );
}

/// `2>&1 | head -1`: stderr is the closed pipe too (warnings, the export summary).
#[test]
fn closed_stdout_and_stderr_end_quietly() {
    let scratch = tempfile::tempdir().unwrap();
    for row in ["export {samples} --out {new}", "scan {samples}"] {
        let out = run_into_closed_pipe(&fill(row, scratch.path()), true, true);
        assert_eq!(out.status.code(), Some(0), "{row}: {out:?}");
    }
}

/// A write that fails for another reason (`> /dev/full`) is an error, exit 2.
#[test]
fn full_stdout_is_an_error() {
    let mut bad = Vec::new();
    for row in STDOUT_COMMANDS {
        let scratch = tempfile::tempdir().unwrap();
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = run_to(&fill(row, scratch.path()), full.into(), Stdio::piped());
        let err = String::from_utf8_lossy(&out.stderr);
        let is_help = row
            .split_whitespace()
            .any(|a| a.starts_with("--help") || a == "--version");
        // clap prints help and version itself (and ignores the error); everything else
        // must say what failed.
        if !is_help && (out.status.code() != Some(2) || !err.contains("No space left")) {
            bad.push(format!("{row:?}: {:?}, stderr {err:?}", out.status));
        }
    }
    assert!(
        bad.is_empty(),
        "a failed write to stdout must be reported with exit 2:\n{}",
        bad.join("\n")
    );
}

fn config_dir() -> String {
    root().join("samples/config").to_string_lossy().into_owned()
}

/// 8.1: a directory that is not a spool is refused with one line naming the spool to use.
#[test]
fn a_directory_that_is_not_a_spool_is_refused() {
    let spool = sample_spool();
    let cfg = config_dir();
    let other = tempfile::tempdir().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            spool.join("deferred").display().to_string(),
            "it is the deferred queue; use --queue-dir ",
        ),
        (
            spool.join("deferred/3").display().to_string(),
            "it is inside the deferred queue; use --queue-dir ",
        ),
        (
            spool.join("hold").display().to_string(),
            "it is the hold queue",
        ),
        (
            other.path().display().to_string(),
            "has none of maildrop, incoming, active, deferred, hold",
        ),
        ("/nonexistent/spool".into(), "does not exist"),
    ];
    for (dir, says) in &cases {
        for cmd in [
            vec!["scan", "--queue-dir", dir, "--config-dir", &cfg],
            vec!["scan", "--json", "--queue-dir", dir, "--config-dir", &cfg],
            vec!["cat", "-q", "--queue-dir", dir, "3911298E402"],
        ] {
            let o = run(&cmd);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
            assert!(err.contains(says), "{cmd:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{cmd:?}: one line: {err}");
            assert!(o.stdout.is_empty(), "{cmd:?}");
        }
        let out = other.path().join("export");
        let o = mx(["export", "--queue-dir", dir, "--config-dir", &cfg])
            .out(&out)
            .output();
        assert_eq!(o.status.code(), Some(2), "export {dir}: {}", stderr(&o));
        assert_stderr_contains(&o, says);
        assert!(!out.exists(), "export {dir} must write nothing");
    }
    // The suggested spool is the real one.
    let o = run(&[
        "scan",
        "--queue-dir",
        spool.join("deferred/3").to_str().unwrap(),
        "--config-dir",
        &cfg,
    ]);
    assert_stderr_contains(&o, &format!("use --queue-dir {} ", spool.display()));
    // A queue copied on its own.
    let lone = other.path().join("lone");
    copy_tree(&spool.join("deferred"), &lone, true);
    let o = run(&[
        "scan",
        "--queue-dir",
        lone.to_str().unwrap(),
        "--config-dir",
        &cfg,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "looks like one queue");
}

/// 8.4: a configuration directory that does not exist (or has no main.cf) is an error,
/// not Postfix's defaults.
#[test]
fn a_wrong_config_dir_is_an_error() {
    let spool = sample_spool();
    let spool = spool.to_str().unwrap();
    let empty = tempfile::tempdir().unwrap();
    for (dir, says) in [
        ("/nonexistent", "no such directory"),
        (empty.path().to_str().unwrap(), "there is no main.cf"),
    ] {
        for head in [
            &["scan"][..],
            &["cat", "-q", "3911298E402"],
            &["export", "--out", "/nonexistent/x"],
        ] {
            let cmd: Vec<&str> = [head, &["--queue-dir", spool, "--config-dir", dir]].concat();
            let o = run(&cmd);
            assert_eq!(o.status.code(), Some(2), "{cmd:?}");
            assert!(stderr(&o).contains(says), "{cmd:?}: {}", stderr(&o));
        }
    }
}

/// 8.4: a selection that matches nothing says so with the nearest addresses, exits 2,
/// and writes nothing.
#[test]
fn a_selection_that_matches_nothing_is_an_error() {
    let spool = sample_spool();
    let spool = spool.to_str().unwrap();
    let cfg = config_dir();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let base = ["--queue-dir", spool, "--config-dir", &cfg];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--recipient", "bob@exmaple.com"],
            "--recipient bob@exmaple.com matches no pending recipient (nearest: bob@example.com",
        ),
        (
            vec!["--domain", "exmaple.com"],
            "domains in the queue: example.com",
        ),
        (
            vec!["--recipient", "delivered@example.com"],
            "only mail already delivered or bounced (--include-done",
        ),
        (
            vec!["--id", "3911298E40X"],
            "--id 3911298E40X is not in the queue (nearest: 3911298E402",
        ),
        (
            vec!["--since", "2030-01-01"],
            "the queue's mail arrived between",
        ),
    ];
    for (sel, says) in &cases {
        let mut a = vec!["export"];
        a.extend(base);
        a.extend(["--out", out]);
        a.extend(sel);
        let o = run(&a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{sel:?}: {err}");
        assert!(
            err.contains(says) && err.contains("nothing was written"),
            "{sel:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!std::path::Path::new(out).exists(), "{sel:?} wrote {out}");
    }
    let mut a = vec!["scan"];
    a.extend(base);
    a.extend(["--recipient", "bob@exmaple.com"]);
    let o = run(&a);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "nearest: bob@example.com");
    assert!(o.stdout.is_empty());
    // A selection that matches is fine, and an export of everything too.
    let mut a = vec!["scan"];
    a.extend(base);
    a.extend(["--recipient", "BOB@example.com"]);
    assert_eq!(run(&a).status.code(), Some(0));
}

/// 8.4: nothing readable is "nothing could be done": exit 2 with the reason; export
/// writes nothing (no empty manifest), scan still lists every file and why.
#[test]
fn nothing_readable_is_fatal() {
    let (tmp, spool, _) = scratch();
    copy_sample_spool(&spool, Modes::Copied);
    // Every queue file damaged: cut after its first record.
    let mut n = 0;
    for q in QUEUES {
        let st = std::process::Command::new("find")
            .arg(spool.join(q))
            .args(["-type", "f", "-exec", "truncate", "-s", "3", "{}", ";"])
            .status()
            .unwrap();
        assert!(st.success());
        n += 1;
    }
    assert_eq!(n, 5);
    let cfg = config_dir();
    let spool_s = spool.to_str().unwrap();
    let o = run(&["scan", "--queue-dir", spool_s, "--config-dir", &cfg]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_stderr_contains(&o, "nothing could be read");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("3911298E402"),
        "the report lists the files"
    );
    let out = tmp.path().join("out");
    let o = mx(["export", "--queue-dir", spool_s, "--config-dir", &cfg])
        .out(&out)
        .output();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("nothing could be read") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!out.exists(), "no empty export");
}

/// 8.4: `cat -q` of an ID in a queue it cannot read says so instead of "not found".
#[test]
fn cat_not_found_names_unreadable_queues() {
    if !is_root() {
        return;
    }
    let (tmp, spool, _) = scratch();
    copy_sample_spool(&spool, Modes::Copied);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        spool.join("deferred"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let o = mx_as_nobody(["cat", "-q", "--queue-dir", s(&spool), "3911298E402"]).output();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("deferred could not be read: permission denied"),
        "{err}"
    );
}
