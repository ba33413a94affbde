//! Listing an Exim spool's messages: `input/ID-H`, and `input/<6th char of ID>/ID-H`
//! for `split_spool_directory` (both are read, as Exim itself looks in both).
//!
//! Owns: which names are messages (a `-H` file with an Exim ID), what is ignored (the
//! `-D`/`-J` companions, temporary `hdr.*` files, data files still without a header),
//! refusing `-H` names that are not regular files (never followed), the same ID twice,
//! and finding one ID. Directory listings and `lstat` only. Out: a [`WalkResult`] in a
//! deterministic order (the flat directory, then each subdirectory, names sorted).
//! Fails per directory or file as a [`WalkProblem`].

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::id::{id_of, is_exim_id, split_dir};
use crate::queue::QueueEntry;
use crate::queue::walk::{WalkProblem, WalkResult, not_regular_reason};

/// The queue name every Exim message is listed under (frozen ones are marked on load).
pub const INPUT: &str = "input";

/// The entry for the `-H` file at `path`.
pub fn entry(root: &Path, id: &str, path: PathBuf, meta: &fs::Metadata) -> QueueEntry {
    crate::queue::walk::entry(root, INPUT, id.to_string(), path, meta, false)
}

/// Sorted names of a directory, or the problem reading it.
fn names(dir: &Path) -> Result<Vec<String>, WalkProblem> {
    let problem = |e: std::io::Error| WalkProblem {
        path: dir.to_path_buf(),
        reason: format!("{}: {e}", dir.display()),
    };
    let mut v = Vec::new();
    for e in fs::read_dir(dir).map_err(problem)? {
        v.push(
            e.map_err(problem)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    v.sort();
    Ok(v)
}

/// Walks `root/input` and its one-character subdirectories.
pub fn walk(root: &Path) -> WalkResult {
    let mut out = WalkResult::default();
    let mut seen = HashSet::new();
    let input = root.join(INPUT);
    let top = match names(&input) {
        Ok(n) => n,
        Err(p) => {
            out.problems.push(p);
            return out;
        }
    };
    let mut subdirs = Vec::new();
    dir(root, &input, &top, &mut seen, &mut out, &mut subdirs);
    for sub in subdirs {
        let d = input.join(&sub);
        match names(&d) {
            Ok(n) => dir(root, &d, &n, &mut seen, &mut out, &mut Vec::new()),
            Err(p) => out.problems.push(p),
        }
    }
    out
}

/// One directory's names: messages into `out`, subdirectories (one character) into `subdirs`.
fn dir(
    root: &Path,
    d: &Path,
    names: &[String],
    seen: &mut HashSet<String>,
    out: &mut WalkResult,
    subdirs: &mut Vec<String>,
) {
    for name in names {
        let path = d.join(name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // gone since the listing: delivered or removed
        };
        if name.len() == 1 && meta.is_dir() {
            subdirs.push(name.clone());
            continue;
        }
        let Some(id) = id_of(name, 'H') else {
            let companion = id_of(name, 'D').or_else(|| id_of(name, 'J')).is_some();
            if !companion {
                out.ignored.push(path);
            }
            continue;
        };
        if !meta.is_file() {
            out.problems.push(WalkProblem {
                reason: not_regular_reason(&meta, &path),
                path,
            });
        } else if !seen.insert(id.to_string()) {
            out.duplicates.push(path);
        } else {
            out.entries.push(entry(root, id, path, &meta));
        }
    }
}

/// Where the `-H` file of `id` is: the split subdirectory first, then the flat one.
pub fn find_id(root: &Path, id: &str) -> Option<QueueEntry> {
    if !is_exim_id(id) {
        return None;
    }
    let input = root.join(INPUT);
    let name = format!("{id}-H");
    [input.join(split_dir(id)).join(&name), input.join(&name)]
        .into_iter()
        .find_map(|p| {
            let meta = fs::symlink_metadata(&p).ok().filter(|m| m.is_file())?;
            Some(entry(root, id, p, &meta))
        })
}
