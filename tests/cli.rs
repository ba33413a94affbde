//! Integration tests: the command line itself — exit codes for usage errors, help, and
//! the generated man pages and completions kept in sync with the definitions.

use crate::util::*;

/// (file under docs/, mxsalvage arguments that print it)
fn generated() -> Vec<(String, Vec<String>)> {
    let mut v = vec![("man/mxsalvage.1".to_string(), vec!["man".to_string()])];
    for c in ["scan", "cat", "export", "reinject", "verify", "dovecot"] {
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
    for c in ["scan", "cat", "export", "reinject", "verify", "dovecot"] {
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

#[test]
fn broken_pipe_is_quiet() {
    // `cat` into a closed pipe: no panic message.
    let spool = sample_spool();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} cat -q --queue-dir {} $(ls {}/hold | head -1) | head -c 1 >/dev/null",
            bin().display(),
            spool.display(),
            spool.display()
        ))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
