//! `mxsalvage cat`: postcat's output for files, queue IDs (`-q`) or standard input;
//! for an Exim message (`-q` on an Exim spool, or an `ID-H` path) what `exim -Mvc`
//! prints, through the format-neutral boundary (`-h`/`-b`: its headers/body; postcat's
//! record views are refused).
//!
//! Standard output is exactly postcat's ([`mxsalvage::postcat`]); our own judgement goes
//! to standard error: a file our reader finds damaged or incomplete gets one line with
//! the byte offset and reason, and the exit status 1. Postfix-specific like `postcat/`:
//! it reads Postfix's queue-file format directly (`queue::QueueFile`, `queue::open`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::default_queue_dir;
use crate::cli::args::CatArgs;
use mxsalvage::exim::{EximSpool, is_exim_spool, load_path};
use mxsalvage::exit::Exit;
use mxsalvage::postcat::{CatFlags, Output, postcat, states};
use mxsalvage::queue::id::is_queue_id;
use mxsalvage::queue::open::{ReadError, open_in_spool, read_queue_stream, read_unsized};
use mxsalvage::queue::walk::find_id;
use mxsalvage::queue::{Depth, PostfixConfig, QueueFile};

/// Queues `-q` searches, in postcat's order (plus `corrupt`).
const SEARCH: &[&str] = &[
    "maildrop", "incoming", "active", "deferred", "hold", "saved", "corrupt",
];

/// One input: its bytes, its name as shown, whether it is a maildrop file.
struct Input {
    data: Vec<u8>,
    label: String,
    maildrop: bool,
    stdin: bool,
}

fn config_dir(a: &CatArgs) -> Result<PathBuf> {
    match &a.config_dir {
        Some(d) => Ok(d.clone()),
        None => Ok(std::env::var_os("MAIL_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/postfix"))),
    }
}

fn read_path(item: &str, msl: u64) -> Result<Input, String> {
    let p = Path::new(item);
    let maildrop = item.starts_with("maildrop/")
        || p.parent()
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "maildrop");
    // A file the user names is opened as named (a link is followed, a pipe is read),
    // but read within the same bounds as a queue file.
    let read = std::fs::File::open(p)
        .map_err(ReadError::from)
        .and_then(|f| {
            let meta = f.metadata()?;
            if meta.is_file() {
                read_queue_stream(f, meta.len(), msl, maildrop)
            } else if meta.is_dir() {
                Err(ReadError::NotRegular("directory"))
            } else {
                read_unsized(f, msl)
            }
        });
    match read {
        Ok(data) => Ok(Input {
            data,
            label: item.to_string(),
            maildrop,
            stdin: false,
        }),
        Err(ReadError::NotFound) if is_queue_id(item) && !item.contains('/') => Err(format!(
            "{item}: no such file; it looks like a queue ID: use `mxsalvage cat -q {item}` to look it up in the queue directory"
        )),
        Err(e) => Err(format!("{item}: {e}")),
    }
}

fn read_id(
    item: &str,
    root: &Path,
    cfg: &PostfixConfig,
    trust_modes: bool,
) -> Result<Input, String> {
    if !is_queue_id(item) {
        return Err(format!("bad mail queue ID: {item}"));
    }
    let search: Vec<String> = SEARCH.iter().map(|s| s.to_string()).collect();
    let Some(e) = find_id(root, item, &search, cfg) else {
        return Err(format!(
            "queue file {item} not found under {} (searched {}){}",
            root.display(),
            SEARCH.join(", "),
            super::unreadable_hint(root, &search)
        ));
    };
    if !e.is_ready() {
        let what = format!(
            "{}: mode {:04o} lacks the owner execute bit (on a live spool: still being written, or abandoned)",
            e.rel, e.mode
        );
        if trust_modes {
            return Err(format!("{what}; not shown (--trust-modes)"));
        }
        eprintln!("mxsalvage: note: {what}");
    }
    let maildrop = e.queue == "maildrop";
    let data = open_in_spool(&e.path)
        .and_then(|(f, m)| read_queue_stream(f, m.len(), cfg.message_size_limit, maildrop))
        .map_err(|err| format!("{}: {err}", e.path.display()))?;
    Ok(Input {
        data,
        label: e.rel.clone(),
        maildrop,
        stdin: false,
    })
}

/// postcat's flags, with `-s` checked as a byte offset.
fn flags(a: &CatArgs) -> Result<CatFlags> {
    let start = match &a.start {
        Some(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => s
            .parse::<u64>()
            .map_err(|_| anyhow::anyhow!("bad offset: {s}"))?,
        Some(s) => bail!("bad offset: {s} (-s takes a byte offset: digits only)"),
        None => 0,
    };
    Ok(CatFlags {
        body: a.body,
        header: a.header,
        envelope: a.envelope,
        offsets: a.offsets,
        decimal: a.decimal,
        pathname: a.pathname,
        raw: a.raw,
        verbose: a.verbose,
        start,
    })
}

/// The Postfix configuration to read with and the queue directory to look in.
fn spool(a: &CatArgs) -> Result<(PostfixConfig, PathBuf)> {
    let cdir = config_dir(a)?;
    // A --queue-dir that is not this machine's spool is read with Postfix's defaults
    // unless a configuration is named (-c, $MAIL_CONFIG): never with /etc/postfix's.
    let named = a.config_dir.is_some() || std::env::var_os("MAIL_CONFIG").is_some();
    let cfg = match &a.queue_dir {
        Some(q) if !named && !super::is_local_spool(q) => PostfixConfig::default(),
        _ => super::load_config(&cdir, false)?,
    };
    let root = a
        .queue_dir
        .clone()
        .or_else(|| cfg.queue_directory.clone())
        .unwrap_or_else(|| default_queue_dir(&cdir));
    Ok((cfg, root))
}

/// Standard input as one input, read within the message size limit.
fn read_stdin(msl: u64) -> Result<Input, String> {
    let mut data = Vec::new();
    let r = read_unsized(std::io::stdin().lock(), msl)
        .map(|d| data = d)
        .map_err(|e| format!("stdin: {e}"));
    r.map(|_| Input {
        data,
        label: "stdin".into(),
        maildrop: false,
        stdin: true,
    })
}

/// postcat's view of one input into `out`, then (from the start) our reader's judgement
/// on stderr and, with `--states`, the recipients' states; false when either failed.
fn show(input: Input, flags: CatFlags, with_states: bool, out: &mut Output) -> bool {
    if let Err(e) = postcat(
        &input.data,
        &input.label,
        input.maildrop,
        flags,
        input.stdin,
        out,
    ) {
        eprintln!("mxsalvage: {}: {e}", input.label);
        return false;
    }
    if flags.start == 0 {
        // postcat's view is printed; our reader's judgement of the file goes to stderr.
        match QueueFile::parse(input.data, Depth::Full, input.maildrop) {
            Ok(q) => {
                if with_states {
                    states(&q, &input.label, out);
                }
            }
            Err(e) => {
                eprintln!("mxsalvage: {}: {e}", input.label);
                return false;
            }
        }
    }
    true
}

/// `cat` of Exim messages: what `exim -Mvc ID` prints, for each ID (`-q`, in the Exim
/// spool `root`) or `-H` path; false when one failed (said on stderr).
fn exim_items(a: &CatArgs, root: Option<&Path>) -> Result<bool> {
    let mut failed = false;
    let stdout = std::io::stdout();
    for item in &a.items {
        let loaded = match root {
            Some(r) => match EximSpool::open(r).find_id(item) {
                Some(e) => EximSpool::open(r).load(&e, Depth::Full),
                None => {
                    eprintln!(
                        "mxsalvage: message {item} not found in the Exim spool {} (looked in input/ and input/{}/)",
                        r.display(),
                        mxsalvage::exim::id::split_dir(item)
                    );
                    failed = true;
                    continue;
                }
            },
            None => match load_path(Path::new(item)) {
                Some(l) => l,
                None => bail!("{item}: not an Exim -H file"),
            },
        };
        match loaded {
            Ok(m) => {
                let bytes = m.message_bytes();
                let mut lock = stdout.lock();
                match lock
                    .write_all(exim_part(a, &bytes))
                    .and_then(|_| lock.flush())
                {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(failed),
                    r => r?,
                }
            }
            Err(e) => {
                eprintln!("mxsalvage: {e}");
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// The part of an Exim message `-h` (the headers) or `-b` (the body) asks for; the whole
/// message (`exim -Mvc`'s bytes) with neither or both. The headers end at the first
/// empty line: Exim's non-deleted headers, then the blank line it adds.
fn exim_part<'a>(a: &CatArgs, bytes: &'a [u8]) -> &'a [u8] {
    let split = if bytes.first() == Some(&b'\n') {
        0
    } else {
        bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(bytes.len(), |p| p + 1)
    };
    match (a.header, a.body) {
        (true, false) => &bytes[..split],
        (false, true) => bytes.get(split + 1..).unwrap_or_default(),
        _ => bytes,
    }
}

/// postcat's record views make no sense on an Exim spool (it has no records).
fn exim_flags(a: &CatArgs) -> Result<()> {
    let record_views = [
        (a.envelope, "-e"),
        (a.offsets, "-o"),
        (a.decimal, "-d"),
        (a.pathname, "-f"),
        (a.raw, "-r"),
        (a.verbose > 0, "-v"),
        (a.start.is_some(), "-s"),
        (a.states, "--states"),
    ];
    let used: Vec<&str> = record_views
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect();
    if !used.is_empty() {
        bail!(
            "{} show Postfix queue-file records; an Exim message has none: `cat` prints what `exim -Mvc` prints (-h: its headers, -b: its body)",
            used.join(", ")
        );
    }
    Ok(())
}

/// Whether the items are Exim messages: `-q` on an Exim spool, or `ID-H` paths.
fn exim_root(a: &CatArgs) -> Option<Option<PathBuf>> {
    if a.by_id {
        let root = a.queue_dir.clone()?;
        return is_exim_spool(&root).then_some(Some(root));
    }
    let all_h = !a.items.is_empty()
        && a.items.iter().all(|i| {
            Path::new(i)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| mxsalvage::exim::id::id_of(n, 'H').is_some())
        });
    all_h.then_some(None)
}

pub fn run(a: CatArgs) -> Result<Exit> {
    let flags = flags(&a)?;
    if let Some(root) = exim_root(&a) {
        exim_flags(&a)?;
        return Ok(Exit::partial_if(exim_items(&a, root.as_deref())?));
    }
    let (cfg, root) = spool(&a)?;
    if a.by_id {
        super::check_spool(&root)?;
    }
    let mut from_stdin = a
        .items
        .is_empty()
        .then(|| read_stdin(cfg.message_size_limit));
    let mut failed = false;
    let mut out = Output::default();
    let stdout = std::io::stdout();
    let mut items = a.items.iter();
    loop {
        let input = match from_stdin.take() {
            Some(i) => i,
            None => match items.next() {
                Some(item) if a.by_id => read_id(item, &root, &cfg, a.trust_modes),
                Some(item) => read_path(item, cfg.message_size_limit),
                None => break,
            },
        };
        let input = match input {
            Ok(i) => i,
            Err(e) => {
                eprintln!("mxsalvage: {e}");
                failed = true;
                continue;
            }
        };
        if !show(input, flags, a.states, &mut out) {
            failed = true;
        }
        let mut lock = stdout.lock();
        if let Err(e) = lock
            .write_all(&out.take_flushed())
            .and_then(|_| lock.flush())
        {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(Exit::Ok);
            }
            return Err(e.into());
        }
    }
    Ok(Exit::partial_if(failed))
}
