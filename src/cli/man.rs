//! `mxsalvage man` and `mxsalvage completions`: the manual pages (roff) and the shell
//! completions, generated from the clap definitions, printed or installed.
//!
//! Owns: the page layout — the main page `mxsalvage(1)` and one page per command,
//! `mxsalvage-scan(1)` …, named so in NAME (apropos lists `mxsalvage-cat`, not `cat`),
//! a SYNOPSIS that shows each option's value (`--queue-dir=DIR`), a DESCRIPTION of a
//! paragraph or more, and a main page that names only pages that exist — and
//! `man --install`: the pages into PREFIX/share/man/man1, the completions into the
//! directories bash-completion, zsh and fish read under PREFIX/share. In: the clap
//! command tree. Out: roff or a completion script on stdout, or files. Fails with an
//! io error naming the path (anyhow at this level).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::args::Cli;
use mxsalvage::exit::Exit;

/// The commands that get a page of their own (`help` is clap's, and has none).
pub const PAGES: &[&str] = &[
    "scan",
    "cat",
    "export",
    "reinject",
    "journal",
    "verify",
    "dovecot",
    "man",
    "completions",
];

/// The shells `man --install` writes completions for: (shell, path under PREFIX/share).
const COMPLETION_FILES: &[(clap_complete::Shell, &str)] = &[
    (
        clap_complete::Shell::Bash,
        "bash-completion/completions/mxsalvage",
    ),
    (clap_complete::Shell::Zsh, "zsh/site-functions/_mxsalvage"),
    (
        clap_complete::Shell::Fish,
        "fish/vendor_completions.d/mxsalvage.fish",
    ),
];

/// The command tree as the pages show it: clap's `help` subcommand left out.
fn tree() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The SYNOPSIS line: every visible option with its value name (`--queue-dir=DIR`, as
/// GNU pages write it; optional ones in brackets), then the positionals and the
/// subcommand.
fn synopsis(roff: &mut Roff, cmd: &clap::Command, name: &str) {
    roff.control("SH", ["SYNOPSIS"]);
    let mut line = vec![bold(name.to_string())];
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let flag = match (a.get_long(), a.get_short()) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(s)) => format!("-{s}"),
            (None, None) => continue,
        };
        let (open, close) = if a.is_required_set() {
            ("", "")
        } else {
            ("[", "]")
        };
        line.push(roman(format!(" {open}")));
        line.push(bold(flag));
        if a.get_action().takes_values() {
            let v = a
                .get_value_names()
                .map(|v| v.join(" "))
                .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
            line.push(roman("="));
            line.push(italic(v));
        }
        line.push(roman(close));
    }
    for a in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let v = a
            .get_value_names()
            .map(|v| v.join(" "))
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
        let more = if a.get_num_args().is_some_and(|n| n.max_values() > 1) {
            "..."
        } else {
            ""
        };
        match a.is_required_set() {
            true => line.push(roman(" ")),
            false => line.push(roman(" [")),
        }
        line.push(italic(v));
        line.push(roman(more));
        if !a.is_required_set() {
            line.push(roman("]"));
        }
    }
    if cmd.has_subcommands() {
        line.push(roman(" "));
        line.push(italic("COMMAND"));
        line.push(roman(" [OPTIONS]"));
    }
    roff.text(line);
}

/// Extra sections of the main page: how to install the pages, the documents.
fn main_extra(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    roff.text([roman(
        "An export directory holds manifest.json (what was exported, with hashes), messages/ \
         (one archive copy per message) and recipients/ (one bundle per recipient); \
         reinject-journal.jsonl records every re-injected pair.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, p) in PAGES.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(format!("mxsalvage-{p}")));
        line.push(roman("(1)"));
    }
    line.push(roman(
        ", postcat(1), postsuper(1), postqueue(1). The runbook and the format \
         descriptions are in the docs/ directory of the source (docs/runbook.md).",
    ));
    roff.text(line);
}

/// Renders one page: the main page (`None`) or a command's.
pub fn page(command: Option<&str>) -> Result<Vec<u8>> {
    let root = tree();
    let (cmd, name, shown) = match command {
        None => (
            root.clone(),
            "mxsalvage".to_string(),
            "mxsalvage".to_string(),
        ),
        Some(c) => {
            let sub = root
                .find_subcommand(c)
                .filter(|_| PAGES.contains(&c))
                .ok_or_else(|| anyhow::anyhow!("no command {c:?} (see mxsalvage --help)"))?
                .clone();
            let page = format!("mxsalvage-{c}");
            (
                sub.display_name(page.clone()),
                page,
                format!("mxsalvage {c}"),
            )
        }
    };
    let man = clap_mangen::Man::new(cmd.clone())
        .title(name)
        .source(format!("mxsalvage {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    let mut roff = Roff::default();
    synopsis(&mut roff, &cmd, &shown);
    roff.to_writer(&mut buf)?;
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if command.is_none() {
        man.render_subcommands_section(&mut buf)?;
        let mut roff = Roff::default();
        main_extra(&mut roff);
        roff.to_writer(&mut buf)?;
    } else {
        let mut roff = Roff::default();
        roff.control("SH", ["SEE ALSO"]);
        roff.text([bold("mxsalvage"), roman("(1)")]);
        roff.to_writer(&mut buf)?;
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(one_preamble(&buf))
}

/// Each section rendered on its own starts with roff's `Aq` string definition: keep the
/// first one only.
fn one_preamble(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for l in text.lines() {
        let preamble = l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq");
        if !preamble || seen.insert(l.to_string()) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// One shell's completion script (generated into memory: clap_complete panics on a
/// failed write).
pub fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mxsalvage", &mut buf);
    buf
}

fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// `man --install`: every page and the bash, zsh and fish completions under `prefix`
/// (each path written is printed).
fn install(prefix: &Path) -> Result<Exit> {
    let share = prefix.join("share");
    let mut written: Vec<PathBuf> = Vec::new();
    let man1 = share.join("man/man1");
    let mut pages = vec![(None, "mxsalvage.1".to_string())];
    pages.extend(PAGES.iter().map(|p| (Some(*p), format!("mxsalvage-{p}.1"))));
    for (cmd, file) in pages {
        let path = man1.join(file);
        write_file(&path, &page(cmd)?)?;
        written.push(path);
    }
    for (shell, rel) in COMPLETION_FILES {
        let path = share.join(rel);
        write_file(&path, &completion(*shell))?;
        written.push(path);
    }
    let mut out = std::io::stdout().lock();
    for p in &written {
        writeln!(out, "{}", p.display())?;
    }
    Ok(Exit::Ok)
}

/// `mxsalvage man [COMMAND] [--install [--prefix DIR]]`.
pub fn run(command: Option<&str>, install_to: Option<&Path>) -> Result<Exit> {
    if let Some(prefix) = install_to {
        return install(prefix);
    }
    std::io::stdout().lock().write_all(&page(command)?)?;
    Ok(Exit::Ok)
}

/// `mxsalvage completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit> {
    std::io::stdout().lock().write_all(&completion(shell))?;
    Ok(Exit::Ok)
}
