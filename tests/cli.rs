//! Integration tests: the command line itself — exit codes for usage errors, help, and
//! the generated man pages and completions kept in sync with the definitions.

use crate::util::*;

/// (file under docs/, mxsalvage arguments that print it)
fn generated() -> Vec<(String, Vec<String>)> {
    let mut v = vec![("man/mxsalvage.1".to_string(), vec!["man".to_string()])];
    for c in ["scan", "cat", "export", "reinject", "verify"] {
        v.push((format!("man/mxsalvage-{c}.1"), vec!["man".into(), c.into()]));
    }
    for s in ["bash", "zsh", "fish"] {
        v.push((
            format!("completions/mxsalvage.{s}"),
            vec!["completions".into(), s.into()],
        ));
    }
    v
}

#[test]
fn man_pages_and_completions_are_in_sync() {
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
    for c in ["scan", "cat", "export", "reinject", "verify"] {
        assert!(text.contains(c), "man page lacks {c}");
    }
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
/// printing) gets a row here: `closed_stdout_ends_quietly` then proves it stops quietly
/// on a closed pipe, and `full_stdout_is_an_error` that a failed write is reported.
const STDOUT_COMMANDS: &[&[&str]] = &[
    &["scan", "--queue-dir", "{spool}", "--config-dir", "{config}"],
    &[
        "scan",
        "--queue-dir",
        "{spool}",
        "--config-dir",
        "{config}",
        "--json",
    ],
    &[
        "cat",
        "-q",
        "--queue-dir",
        "{spool}",
        "3911298E402",
        "3DB1698E537",
    ],
    &["cat", "-e", "{spool}/deferred/3/3911298E402"],
    &[
        "export",
        "--queue-dir",
        "{spool}",
        "--config-dir",
        "{config}",
        "--out",
        "{new}",
        "--json",
    ],
    &["verify", "{export}"],
    &["verify", "{export}", "--json"],
    &[
        "reinject",
        "--from",
        "{export}",
        "--to",
        "127.0.0.1:9",
        "--dry-run",
    ],
    &[
        "reinject",
        "--from",
        "{export}",
        "--to",
        "127.0.0.1:9",
        "--dry-run",
        "--json",
    ],
    &["man"],
    &["man", "scan"],
    &["completions", "bash"],
    &["completions", "zsh"],
    &["completions", "fish"],
    &["--help"],
    &["export", "--help"],
    &["--version"],
];

/// An export of the samples, made once.
fn sample_export() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("export");
        let o = run(&[
            "export",
            "--queue-dir",
            &sample_spool().to_string_lossy(),
            "--config-dir",
            &root().join("samples/config").to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        d
    })
    .path()
    .join("export")
    .leak()
}

/// The arguments of a table row with its placeholders filled in (`scratch` holds `{new}`).
fn fill(args: &[&str], scratch: &std::path::Path) -> Vec<String> {
    args.iter()
        .map(|a| {
            a.replace("{spool}", &sample_spool().to_string_lossy())
                .replace("{config}", &root().join("samples/config").to_string_lossy())
                .replace("{export}", &sample_export().to_string_lossy())
                .replace("{new}", &scratch.join("new").to_string_lossy())
        })
        .collect()
}

/// Runs mxsalvage with stdout and/or stderr on a pipe whose reading end is already
/// closed (what `| head -1` leaves once head has exited).
fn run_into_closed_pipe(args: &[String], stdout: bool, stderr: bool) -> std::process::Output {
    use std::process::{Command, Stdio};
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = Command::new(bin());
    c.args(args).env("TZ", "UTC").stdin(Stdio::null());
    c.stdout(if stdout {
        Stdio::from(writer.try_clone().unwrap())
    } else {
        Stdio::piped()
    });
    c.stderr(if stderr {
        Stdio::from(writer)
    } else {
        Stdio::piped()
    });
    c.output().unwrap()
}

#[test]
fn closed_stdout_ends_quietly() {
    let mut bad = Vec::new();
    for row in STDOUT_COMMANDS {
        let scratch = tempfile::tempdir().unwrap();
        let args = fill(row, scratch.path());
        let out = run_into_closed_pipe(&args, true, false);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(0) || !err.is_empty() {
            bad.push(format!("{row:?}: {:?}, stderr {err:?}", out.status));
        }
    }
    assert!(
        bad.is_empty(),
        "into a closed pipe every command must stop quietly with exit 0:\n{}",
        bad.join("\n")
    );
}

/// `2>&1 | head -1`: stderr is the closed pipe too (warnings, the export summary).
#[test]
fn closed_stdout_and_stderr_end_quietly() {
    let scratch = tempfile::tempdir().unwrap();
    let args = fill(
        &[
            "export",
            "--queue-dir",
            "{spool}",
            "--config-dir",
            "{config}",
            "--out",
            "{new}",
        ],
        scratch.path(),
    );
    let out = run_into_closed_pipe(&args, true, true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let args = fill(
        &["scan", "--queue-dir", "{spool}", "--config-dir", "{config}"],
        scratch.path(),
    );
    let out = run_into_closed_pipe(&args, true, true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// A write that fails for another reason (`> /dev/full`) is an error, exit 2.
#[test]
fn full_stdout_is_an_error() {
    use std::process::{Command, Stdio};
    let mut bad = Vec::new();
    for row in STDOUT_COMMANDS {
        let scratch = tempfile::tempdir().unwrap();
        let args = fill(row, scratch.path());
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(bin())
            .args(&args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let is_help = row
            .iter()
            .any(|a| a.starts_with("--help") || *a == "--version");
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
