//! The output directory: where it may be, and what is already in it.
//!
//! Owns: refusing an `--out` inside the queue directory (or one that contains it),
//! comparing canonical paths (a not-yet-existing `--out` is resolved through its nearest
//! existing ancestor); the "must not exist or be empty" rule; recognising an earlier
//! export (a `manifest.json` of ours, or only entries export writes); reading its
//! manifest for `--update`; and, for `--force`, removing exactly what export writes
//! (other files are left alone); for `--update`, checking every path of the earlier
//! manifest ([`Manifest::check_paths`]) and everything under `messages/` and
//! `recipients/` ([`inspect`]: no symbolic link, nothing an export does not write).
//! Nothing is written or removed before [`prepare`].
//! Fails with [`ExportError::Refused`] or [`ExportError::Write`].

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::manifest::Manifest;

use super::error::ExportError;
use super::write::{create_dir, werr};

/// Entries of OUT that export owns.
pub const OWN_ENTRIES: &[&str] = &["manifest.json", "messages", "recipients"];

/// What the run does with OUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    New,
    Update,
    Force,
}

/// What was found at OUT.
#[derive(Debug)]
pub enum Found {
    /// Missing or empty.
    Empty,
    /// An earlier export; its manifest when there is one (none after an interrupted run).
    Ours(Option<Box<Manifest>>),
}

/// `path` made absolute and canonical as far as it exists.
pub fn resolve(path: &Path) -> Result<PathBuf, ExportError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(werr(Path::new(".")))?
            .join(path)
    };
    let mut existing = abs.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match fs::canonicalize(&existing) {
            Ok(c) => {
                let mut out = c;
                for r in rest.iter().rev() {
                    out.push(r);
                }
                return Ok(normalize(&out));
            }
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(p), Some(n)) => {
                    rest.push(n.to_os_string());
                    existing = p.to_path_buf();
                }
                _ => return Ok(normalize(&abs)),
            },
        }
    }
}

/// Removes `.` and resolves `..` lexically (only for the part that does not exist yet).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_our_manifest(path: &Path) -> Option<Result<Manifest, String>> {
    let data = fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
    let tool = v.get("tool")?.as_str()?;
    if !tool.starts_with("mxsalvage") || v.get("schema").is_none() {
        return None;
    }
    Some(serde_json::from_value(v).map_err(|e| e.to_string()))
}

/// Checks OUT against the queue directories and the mode. Reads only.
pub fn check(queue_dirs: &[&Path], out: &Path, mode: Mode) -> Result<Found, ExportError> {
    let o = resolve(out)?;
    for queue_dir in queue_dirs {
        let q = fs::canonicalize(queue_dir).map_err(werr(queue_dir))?;
        if o.starts_with(&q) {
            return Err(ExportError::Refused(format!(
                "--out {} is inside the queue directory {}: the spool is never written",
                out.display(),
                q.display()
            )));
        }
        if q.starts_with(&o) {
            return Err(ExportError::Refused(format!(
                "--out {} contains the queue directory {}",
                out.display(),
                q.display()
            )));
        }
    }
    let meta = match fs::metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Empty),
        Err(e) => return Err(werr(out)(e)),
    };
    if !meta.is_dir() {
        return Err(ExportError::Refused(format!(
            "--out {} exists and is not a directory",
            out.display()
        )));
    }
    let names: Vec<String> = fs::read_dir(out)
        .map_err(werr(out))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(Found::Empty);
    }
    let manifest_path = out.join("manifest.json");
    let manifest = match is_our_manifest(&manifest_path) {
        Some(Ok(m)) => Some(Box::new(m)),
        Some(Err(e)) => {
            return Err(ExportError::Refused(format!(
                "{}: cannot read this export's manifest: {e}",
                manifest_path.display()
            )));
        }
        None => None,
    };
    let all_ours = names
        .iter()
        .all(|n| OWN_ENTRIES.contains(&n.as_str()) || n.ends_with(".mxsalvage-tmp"));
    let ours = manifest.is_some() || (all_ours && !names.iter().any(|n| n == "manifest.json"));
    match mode {
        Mode::New => Err(ExportError::Refused(format!(
            "--out {} is not empty (use --update to add to an earlier export, or --force to replace it)",
            out.display()
        ))),
        _ if !ours => Err(ExportError::Refused(format!(
            "--out {} is not empty and does not hold an mxsalvage export (no manifest.json of ours); refusing to {} it",
            out.display(),
            if mode == Mode::Force {
                "replace"
            } else {
                "update"
            }
        ))),
        Mode::Update => {
            if let Some(m) = &manifest {
                m.check_paths().map_err(|e| {
                    ExportError::Refused(format!(
                        "{}: {e}; --update refuses it (export afresh into a new directory)",
                        manifest_path.display()
                    ))
                })?;
            }
            inspect(out)?;
            Ok(Found::Ours(manifest))
        }
        _ => Ok(Found::Ours(manifest)),
    }
}

/// What an export writes and an update may find in OUT: `messages/` holds archive
/// copies (`*.eml`), `recipients/` bundle directories and zips (`*.zip`), and below
/// them only directories and regular files; temporary files of an interrupted run may
/// be anywhere. Anything else — a symbolic link, a FIFO or device, a directory in
/// `messages/`, a file in `recipients/` that is not a zip — was not put there by an
/// export: `--update` refuses it before reading or writing anything, naming the entry.
/// Files beside `messages/` and `recipients/` are not the export's and are left alone.
pub fn inspect(out: &Path) -> Result<(), ExportError> {
    let refuse = |rel: &str, what: &str| {
        ExportError::Refused(format!(
            "--out {}: {rel} {what}, which an export never writes; --update refuses to use \
             this directory (move {rel} away and run again, or export afresh into a new directory)",
            out.display()
        ))
    };
    let kind = |t: fs::FileType| -> &'static str {
        if t.is_symlink() {
            "is a symbolic link"
        } else if t.is_dir() {
            "is a directory"
        } else if t.is_file() {
            "is a file"
        } else {
            "is a special file (FIFO, socket or device)"
        }
    };
    let entries = |dir: &Path| -> Result<Vec<(String, fs::FileType)>, ExportError> {
        let mut v = Vec::new();
        for e in fs::read_dir(dir).map_err(werr(dir))? {
            let e = e.map_err(werr(dir))?;
            let t = e.file_type().map_err(werr(&e.path()))?;
            v.push((e.file_name().to_string_lossy().into_owned(), t));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    };
    let tmp = |n: &str| n.ends_with(".mxsalvage-tmp");
    for (name, t) in entries(out)? {
        let own = OWN_ENTRIES.contains(&name.as_str()) || tmp(&name);
        let want_dir = name == "messages" || name == "recipients";
        if own && (t.is_symlink() || t.is_dir() != want_dir || !(t.is_dir() || t.is_file())) {
            return Err(refuse(&name, kind(t)));
        }
    }
    let messages = out.join("messages");
    if messages.is_dir() {
        for (name, t) in entries(&messages)? {
            if !(t.is_file() && (name.ends_with(".eml") || tmp(&name))) {
                return Err(refuse(&format!("messages/{name}"), kind(t)));
            }
        }
    }
    let recipients = out.join("recipients");
    if recipients.is_dir() {
        for (name, t) in entries(&recipients)? {
            let rel = format!("recipients/{name}");
            if t.is_dir() {
                tree(&recipients.join(&name), &rel, &refuse, &kind, &entries)?;
            } else if !(t.is_file() && (name.ends_with(".zip") || tmp(&name))) {
                return Err(refuse(&rel, kind(t)));
            }
        }
    }
    Ok(())
}

type Entries<'a> = dyn Fn(&Path) -> Result<Vec<(String, fs::FileType)>, ExportError> + 'a;

/// A bundle directory: only directories and regular files, at any depth.
fn tree(
    dir: &Path,
    rel: &str,
    refuse: &dyn Fn(&str, &str) -> ExportError,
    kind: &dyn Fn(fs::FileType) -> &'static str,
    entries: &Entries,
) -> Result<(), ExportError> {
    for (name, t) in entries(dir)? {
        let r = format!("{rel}/{name}");
        if t.is_dir() {
            tree(&dir.join(&name), &r, refuse, kind, entries)?;
        } else if !t.is_file() {
            return Err(refuse(&r, kind(t)));
        }
    }
    Ok(())
}

/// Makes OUT ready: creates it (0700); with `--force` removes the earlier export's
/// manifest first (so an interrupted run never leaves one), then its data.
pub fn prepare(out: &Path, mode: Mode, found: &Found) -> Result<(), ExportError> {
    create_dir(out)?;
    if mode == Mode::Force && matches!(found, Found::Ours(_)) {
        let m = out.join("manifest.json");
        match fs::remove_file(&m) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(werr(&m)(e)),
        }
        for name in ["messages", "recipients"] {
            let p = out.join(name);
            match fs::remove_dir_all(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(werr(&p)(e)),
            }
        }
        for e in fs::read_dir(out).map_err(werr(out))?.flatten() {
            if e.file_name().to_string_lossy().ends_with(".mxsalvage-tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    create_dir(&out.join("messages"))?;
    create_dir(&out.join("recipients"))?;
    Ok(())
}
