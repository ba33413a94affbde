//! Walking a queue directory (`global/mail_scan_dir.c`, reference section 1).
//!
//! Owns: finding every queue file in the message queues at any hash depth, skipping
//! names that are not queue IDs, noting files in an unexpected hash directory, and
//! indexing the defer/bounce logs by queue ID. Reads directory listings and `lstat`
//! only — never opens, locks or changes anything. Out: [`QueueEntry`] list in a
//! deterministic order (queue order, then queue ID) and the problems met on the way.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::config::PostfixConfig;
use super::id::{hash_dirs, is_queue_id};

/// Message queues in the order postqueue lists them, then the ones Postfix gave up on.
pub const MESSAGE_QUEUES: &[&str] = &["maildrop", "active", "incoming", "deferred", "hold"];
/// Queues read only on request.
pub const EXTRA_QUEUES: &[&str] = &["corrupt", "saved"];

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
}

/// Something the walk could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// Result of walking the spool.
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
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!(
            "permission denied reading {} (run as root or as the postfix user)",
            path.display()
        )
    } else {
        format!("{}: {e}", path.display())
    }
}

/// A queue entry from a file's metadata.
fn entry(
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
    }
}

fn walk_dir(
    root: &Path,
    dir: &Path,
    queue: &str,
    depth: usize,
    cfg: &PostfixConfig,
    out: &mut WalkResult,
) {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 0 => return,
        Err(e) => {
            out.problems.push(WalkProblem {
                path: dir.to_path_buf(),
                reason: io_reason(&e, dir),
            });
            return;
        }
    };
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for ent in rd {
        match ent {
            Ok(ent) => names.push((ent.file_name().to_string_lossy().into_owned(), ent.path())),
            Err(e) => out.problems.push(WalkProblem {
                path: dir.to_path_buf(),
                reason: io_reason(&e, dir),
            }),
        }
    }
    names.sort();
    for (name, path) in names {
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.problems.push(WalkProblem {
                    reason: io_reason(&e, &path),
                    path,
                });
                continue;
            }
        };
        if meta.is_dir() {
            // Hash levels are one character; descend into those (any depth).
            if name.chars().count() == 1 && queue != "maildrop" {
                walk_dir(root, &path, queue, depth + 1, cfg, out);
            } else {
                out.ignored.push(path);
            }
            continue;
        }
        if !meta.is_file() || !is_queue_id(&name) {
            out.ignored.push(path);
            continue;
        }
        let hashed = cfg.hash_queue_names.iter().any(|q| q == queue);
        let expected: Vec<String> = if hashed && queue != "maildrop" {
            hash_dirs(&name, cfg.hash_queue_depth)
        } else {
            Vec::new()
        };
        let actual: Vec<String> = path
            .parent()
            .and_then(|p| p.strip_prefix(root.join(queue)).ok())
            .map(|p| p.iter().map(|c| c.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let misplaced = expected != actual;
        out.entries
            .push(entry(root, queue, name, path, &meta, misplaced));
    }
}

/// Walks the named queues of the spool at `root`.
pub fn walk(root: &Path, queues: &[String], cfg: &PostfixConfig) -> WalkResult {
    let mut out = WalkResult::default();
    for q in queues {
        walk_dir(root, &root.join(q), q, 0, cfg, &mut out);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(out.entries.len());
    for e in std::mem::take(&mut out.entries) {
        if seen.contains_key(&e.id) {
            out.duplicates.push(e.path);
        } else {
            seen.insert(e.id.clone(), kept.len());
            kept.push(e);
        }
    }
    out.entries = kept;
    out
}

/// Index of a log queue (`defer`, `bounce`): queue ID → path, at any depth.
pub fn index_logs(root: &Path, queue: &str) -> HashMap<String, PathBuf> {
    let mut res = WalkResult::default();
    let cfg = PostfixConfig {
        hash_queue_names: vec![],
        ..PostfixConfig::default()
    };
    walk_dir(root, &root.join(queue), queue, 0, &cfg, &mut res);
    res.entries.into_iter().map(|e| (e.id, e.path)).collect()
}

/// Looks for a queue ID in every queue (used when a file moved during the run).
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
