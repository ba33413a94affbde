//! Walking a queue directory (`global/mail_scan_dir.c`, reference section 1).
//!
//! Owns: finding every queue file in the message queues at any hash depth, skipping
//! names that are not queue IDs, refusing queue-ID names that are not regular files
//! (symbolic links, FIFOs, devices: reported, never followed), noting files in an
//! unexpected hash directory, finding a message's defer/bounce log, and judging whether
//! the spool's file modes are Postfix's own or were rewritten by a copy ([`ModeVerdict`]).
//! Reads directory listings and `lstat` only — never opens, locks or changes anything.
//! Out: a stream of [`WalkEvent`]s in a deterministic order (queue order, then the
//! sorted names of each directory, depth first) — [`walk_each`] holds one directory
//! listing at a time and a 16-byte digest per queue ID seen, so memory does not grow
//! with the queue — or all of them collected ([`walk`]).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::config::PostfixConfig;
use super::id::{hash_dirs, is_queue_id};
use super::open::kind_of;

/// Message queues in the order postqueue lists them, then the ones Postfix gave up on.
pub const MESSAGE_QUEUES: &[&str] = &["maildrop", "active", "incoming", "deferred", "hold"];
/// Queues read only on request.
pub const EXTRA_QUEUES: &[&str] = &["corrupt", "saved"];

/// Modes Postfix itself gives a finished queue file (0700; 0710 after `postsuper -e`)
/// and a finished maildrop file (0744, from postdrop).
const POSTFIX_MODES: &[u32] = &[0o700, 0o710];
const MAILDROP_MODES: &[u32] = &[0o744, 0o700];

/// One file found in a message queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub queue: String,
    pub id: String,
    pub path: PathBuf,
    /// Path relative to the queue directory, e.g. `deferred/1/1E24012D687`.
    pub rel: String,
    pub mode: u32,
    pub uid: u32,
    pub size: u64,
    pub mtime: i64,
    /// The file is not where Postfix would look for it (hash_queue_depth changed).
    pub misplaced: bool,
    /// Which spool of a merged source it came from (the default for a single spool).
    pub origin: super::message::Origin,
}

impl QueueEntry {
    /// Finished by its writer (`mode & 0700 == 0700`), as Postfix requires before opening.
    pub fn is_ready(&self) -> bool {
        self.mode & 0o700 == 0o700
    }
    /// `postsuper -e/-f` forced expiry (g+x).
    pub fn forced_expire(&self) -> bool {
        self.mode & 0o010 != 0
    }
    /// The name a run gives it: its queue ID, qualified (`ID+N`) when another spool of a
    /// merged source holds the same queue ID.
    pub fn export_id(&self) -> &str {
        self.origin.qualified.as_deref().unwrap_or(&self.id)
    }
}

/// Something the walk could not read, or a queue-ID name that is no queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// What the walk met, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkEvent {
    Entry(QueueEntry),
    Problem(WalkProblem),
    /// A name that is not a queue file (temporary names, `#FIX` leftovers).
    Ignored(PathBuf),
    /// The same queue ID again (moved during the walk); only the first counts.
    Duplicate(PathBuf),
}

/// Result of walking the spool, collected.
#[derive(Debug, Default)]
pub struct WalkResult {
    pub entries: Vec<QueueEntry>,
    pub problems: Vec<WalkProblem>,
    /// Names that are not queue files (temporary names, `#FIX` leftovers).
    pub ignored: Vec<PathBuf>,
    /// The same queue ID in more than one place; only the first is kept.
    pub duplicates: Vec<PathBuf>,
}

fn io_reason(e: &std::io::Error, path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let unsearchable = |d: &Path| {
        std::fs::metadata(d).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o111 == 0)
    };
    if e.kind() == std::io::ErrorKind::PermissionDenied
        && let Some(dir) = [Some(path), path.parent()]
            .into_iter()
            .flatten()
            .find(|d| unsearchable(d))
    {
        format!(
            "permission denied reading {}: the directory {} lacks the x (search) bit (a copy stripped to 0644?); give the directories their x bit back (as the copy's owner: `chmod -R u+X,go+X DIR`) or run as root",
            path.display(),
            dir.display()
        )
    } else if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!(
            "permission denied reading {} (run as root or as the postfix user)",
            path.display()
        )
    } else {
        format!("{}: {e}", path.display())
    }
}

/// A queue entry from a file's metadata.
pub fn entry(
    root: &Path,
    queue: &str,
    id: String,
    path: PathBuf,
    meta: &fs::Metadata,
    misplaced: bool,
) -> QueueEntry {
    QueueEntry {
        queue: queue.to_string(),
        id,
        rel: path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned(),
        mode: meta.permissions().mode() & 0o7777,
        uid: meta.uid(),
        size: meta.len(),
        mtime: meta.mtime(),
        misplaced,
        path,
        origin: Default::default(),
    }
}

/// What a queue-ID name that is not a regular file is reported as.
pub fn not_regular_reason(meta: &fs::Metadata, path: &Path) -> String {
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        format!(
            "{}: a symbolic link{target} where a queue file belongs: not followed (Postfix never makes symbolic links in its queues; copy the spool with `cp -a`, or read the target with `mxsalvage cat TARGET`)",
            path.display()
        )
    } else {
        format!(
            "{}: a {} where a queue file belongs: not read",
            path.display(),
            kind_of(meta)
        )
    }
}

struct Walk<'a, F> {
    root: &'a Path,
    cfg: &'a PostfixConfig,
    seen: HashSet<[u8; 16]>,
    dedup: bool,
    f: F,
}

impl<E, F: FnMut(WalkEvent) -> Result<(), E>> Walk<'_, F> {
    fn dir(&mut self, dir: &Path, queue: &str, depth: usize) -> Result<(), E> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 0 => return Ok(()),
            Err(e) => {
                return (self.f)(WalkEvent::Problem(WalkProblem {
                    path: dir.to_path_buf(),
                    reason: io_reason(&e, dir),
                }));
            }
        };
        let mut names: Vec<std::ffi::OsString> = Vec::new();
        for ent in rd {
            match ent {
                Ok(ent) => names.push(ent.file_name()),
                Err(e) => (self.f)(WalkEvent::Problem(WalkProblem {
                    path: dir.to_path_buf(),
                    reason: io_reason(&e, dir),
                }))?,
            }
        }
        names.sort();
        let hashed = queue != "maildrop" && self.cfg.hash_queue_names.iter().any(|q| q == queue);
        for os_name in names {
            let path = dir.join(&os_name);
            let name = os_name.to_string_lossy().into_owned();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    (self.f)(WalkEvent::Problem(WalkProblem {
                        reason: io_reason(&e, &path),
                        path,
                    }))?;
                    continue;
                }
            };
            if meta.is_dir() {
                // Hash levels are one character; descend into those (any depth).
                if name.chars().count() == 1 && queue != "maildrop" {
                    self.dir(&path, queue, depth + 1)?;
                } else {
                    (self.f)(WalkEvent::Ignored(path))?;
                }
                continue;
            }
            if !is_queue_id(&name) {
                (self.f)(WalkEvent::Ignored(path))?;
                continue;
            }
            if !meta.is_file() {
                (self.f)(WalkEvent::Problem(WalkProblem {
                    reason: not_regular_reason(&meta, &path),
                    path,
                }))?;
                continue;
            }
            if self.dedup {
                let d: [u8; 32] = Sha256::digest(name.as_bytes()).into();
                let mut k = [0u8; 16];
                k.copy_from_slice(&d[..16]);
                if !self.seen.insert(k) {
                    (self.f)(WalkEvent::Duplicate(path))?;
                    continue;
                }
            }
            let expected: Vec<String> = if hashed {
                hash_dirs(&name, self.cfg.hash_queue_depth)
            } else {
                Vec::new()
            };
            let actual: Vec<String> = path
                .parent()
                .and_then(|p| p.strip_prefix(self.root.join(queue)).ok())
                .map(|p| p.iter().map(|c| c.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let misplaced = expected != actual;
            (self.f)(WalkEvent::Entry(entry(
                self.root, queue, name, path, &meta, misplaced,
            )))?;
        }
        Ok(())
    }
}

/// Walks the named queues of the spool at `root`, handing every event to `f` as it is
/// found; an error from `f` stops the walk and is returned.
pub fn walk_each<E>(
    root: &Path,
    queues: &[String],
    cfg: &PostfixConfig,
    f: impl FnMut(WalkEvent) -> Result<(), E>,
) -> Result<(), E> {
    let mut w = Walk {
        root,
        cfg,
        seen: HashSet::new(),
        dedup: true,
        f,
    };
    for q in queues {
        w.dir(&root.join(q), q, 0)?;
    }
    Ok(())
}

/// Walks the named queues of the spool at `root` and collects everything.
pub fn walk(root: &Path, queues: &[String], cfg: &PostfixConfig) -> WalkResult {
    let mut out = WalkResult::default();
    let _ = walk_each(root, queues, cfg, |ev| -> Result<(), ()> {
        match ev {
            WalkEvent::Entry(e) => out.entries.push(e),
            WalkEvent::Problem(p) => out.problems.push(p),
            WalkEvent::Ignored(p) => out.ignored.push(p),
            WalkEvent::Duplicate(p) => out.duplicates.push(p),
        }
        Ok(())
    });
    out
}

/// The path of a message's defer or bounce log (`log` = `defer`, `bounce`), where
/// Postfix's `bounce_log_open` looks (hashed as configured), else at another hash depth
/// or unhashed (a spool copied without its main.cf). Only `lstat`; `None` when absent.
pub fn find_log(root: &Path, log: &str, id: &str, cfg: &PostfixConfig) -> Option<PathBuf> {
    let base = root.join(log);
    let configured = if cfg.hash_queue_names.iter().any(|q| q == log) {
        cfg.hash_queue_depth
    } else {
        0
    };
    let mut depths = vec![configured];
    depths.extend((0..=3).filter(|d| *d != configured));
    for d in depths {
        let mut p = base.clone();
        for h in hash_dirs(id, d) {
            p.push(h);
        }
        p.push(id);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            return Some(p);
        }
    }
    None
}

/// Looks for a queue ID in every queue (used when a file moved during the run, and by
/// `cat -q`).
pub fn find_id(
    root: &Path,
    id: &str,
    queues: &[String],
    cfg: &PostfixConfig,
) -> Option<QueueEntry> {
    for q in queues {
        let mut candidates = vec![root.join(q).join(id)];
        let dirs = hash_dirs(id, cfg.hash_queue_depth);
        if !dirs.is_empty() {
            let mut p = root.join(q);
            for d in &dirs {
                p.push(d);
            }
            candidates.insert(0, p.join(id));
        }
        for p in candidates {
            if let Ok(meta) = fs::symlink_metadata(&p)
                && meta.is_file()
            {
                return Some(entry(root, q, id.to_string(), p, &meta, false));
            }
        }
    }
    None
}

/// Whether the modes of a spool's files can be believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeVerdict {
    /// Use the mode bits as Postfix does (owner x = finished, group x = forced expiry).
    pub trusted: bool,
    /// Said once to the user when the modes are not used.
    pub note: Option<String>,
}

/// How the user wants the modes judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModeChoice {
    /// Trusted when the spool looks like Postfix wrote its modes.
    #[default]
    Auto,
    /// `--trust-modes`.
    Trust,
    /// `--ignore-modes`.
    Ignore,
}

/// Judges the spool's modes. Postfix gives every finished queue file mode 0700 (0710
/// after `postsuper -e`) and every finished maildrop file 0744; a copy that lost the
/// modes (git: 0755, a Windows share or `chmod`: 0644, a restore: whatever the umask
/// gave) has none of them. So: trusted as soon as one queue file (maildrop files only
/// when there are no others) has a Postfix mode; stops looking at the first one.
pub fn mode_verdict(
    root: &Path,
    queues: &[String],
    cfg: &PostfixConfig,
    choice: ModeChoice,
) -> ModeVerdict {
    match choice {
        ModeChoice::Trust => {
            return ModeVerdict {
                trusted: true,
                note: None,
            };
        }
        ModeChoice::Ignore => {
            return ModeVerdict {
                trusted: false,
                note: Some(
                    "file modes ignored (--ignore-modes): completeness judged from content, forced expiry (g+x) ignored"
                        .into(),
                ),
            };
        }
        ModeChoice::Auto => {}
    }
    let mut modes: std::collections::BTreeSet<u32> = Default::default();
    let (mut maildrop_ok, mut others, mut n) = (false, 0usize, 0usize);
    let found = walk_each(root, queues, cfg, |ev| {
        if let WalkEvent::Entry(e) = ev {
            n += 1;
            if e.queue == "maildrop" {
                maildrop_ok |= MAILDROP_MODES.contains(&e.mode);
            } else if POSTFIX_MODES.contains(&e.mode) {
                return Err(());
            } else {
                others += 1;
            }
            if modes.len() < 8 {
                modes.insert(e.mode);
            }
        }
        Ok(())
    })
    .is_err();
    if found || n == 0 || (others == 0 && maildrop_ok) {
        return ModeVerdict {
            trusted: true,
            note: None,
        };
    }
    let seen = modes
        .iter()
        .map(|m| format!("{m:04o}"))
        .collect::<Vec<_>>()
        .join("/");
    let seen = if modes.len() == 1 {
        format!("all {seen}")
    } else {
        format!("none 0700: {seen}")
    };
    ModeVerdict {
        trusted: false,
        note: Some(format!(
            "file modes look rewritten by a copy ({seen}; Postfix writes 0700): completeness judged from content, forced expiry (g+x) ignored; --trust-modes uses them"
        )),
    }
}
