//! The output directory: where it may be, and what is already in it.
//!
//! Owns: refusing an `--out` inside the queue directory (or one that contains it),
//! comparing canonical paths (a not-yet-existing `--out` is resolved through its nearest
//! existing ancestor); the "must not exist or be empty" rule; recognising an earlier
//! export (a `manifest.json` of ours, or only entries export writes); reading its
//! manifest for `--update`; and, for `--force`, removing exactly what export writes
//! (other files are left alone). Nothing is written or removed before [`prepare`].
//! Fails with [`ExportError::Refused`] or [`ExportError::Write`].

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::manifest::Manifest;

use super::ExportError;
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

/// Checks OUT against the queue directory and the mode. Reads only.
pub fn check(queue_dir: &Path, out: &Path, mode: Mode) -> Result<Found, ExportError> {
    let q = fs::canonicalize(queue_dir).map_err(werr(queue_dir))?;
    let o = resolve(out)?;
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
        _ => Ok(Found::Ours(manifest)),
    }
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
