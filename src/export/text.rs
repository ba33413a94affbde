//! The `text/` format: one readable `.txt` per message plus its attachments.
//!
//! Owns: writing `text/<stem>.txt` (the [`crate::decode`] rendering, UTF-8, LF) and
//! `text/<stem>.files/<safe name>` for each attachment, all with the arrival time as
//! mtime. In: a decoded message. Out: the paths written with their hashes. Fails with
//! [`ExportError::Write`] naming the path.

use std::path::{Path, PathBuf};

use crate::decode::Decoded;

use super::ExportError;
use super::write::{Written, create_dir, write_file};

/// The attachment folder name for a stem.
pub fn files_dir(stem: &str) -> String {
    format!("{stem}.files")
}

/// Writes one message's text form into `text_dir`.
pub fn write(
    text_dir: &Path,
    stem: &str,
    d: &Decoded,
    mtime: i64,
) -> Result<Vec<(PathBuf, Written)>, ExportError> {
    let mut out = Vec::with_capacity(1 + d.attachments.len());
    let p = text_dir.join(format!("{stem}.txt"));
    let w = write_file(&p, d.text.as_bytes(), Some(mtime))?;
    out.push((p, w));
    if !d.attachments.is_empty() {
        let dir = text_dir.join(files_dir(stem));
        create_dir(&dir)?;
        for a in &d.attachments {
            let p = dir.join(&a.name);
            let w = write_file(&p, &a.data, Some(mtime))?;
            out.push((p, w));
        }
    }
    Ok(out)
}
