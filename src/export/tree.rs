//! A bundle's directory on disk (`OUT/recipients/<dir>/`) as a [`Dest`].
//!
//! Owns: turning a sink's bundle-relative paths into files under the bundle, written
//! atomically by [`AtomicFile`] (0600, mtime, temporary name beside the file or in the
//! given staging directory), and recording each one as a manifest [`FileEntry`] (path
//! relative to OUT, SHA-256, size). In: relative paths and content. Out: the entries.
//! Fails with [`ExportError::Write`] naming the file.

use std::path::{Path, PathBuf};

use crate::manifest::FileEntry;

use super::error::ExportError;
use super::sink::{Body, Dest, FileOpts};
use super::write::{AtomicFile, create_dir, werr};

/// One bundle directory being written.
pub struct Tree {
    root: String,
    base: PathBuf,
    /// `recipients/<dir>`: the prefix of manifest paths.
    rbase: String,
    entries: Vec<FileEntry>,
}

impl Tree {
    /// The bundle `dir` under `OUT/recipients/`.
    pub fn new(out: &Path, dir: &str) -> Tree {
        Tree {
            root: dir.to_string(),
            base: out.join("recipients").join(dir),
            rbase: format!("recipients/{dir}"),
            entries: Vec::new(),
        }
    }

    /// The files written so far, in the order they were written.
    pub fn into_entries(self) -> Vec<FileEntry> {
        self.entries
    }
}

impl Dest for Tree {
    fn root(&self) -> &str {
        &self.root
    }

    fn dir(&mut self, rel: &str) -> Result<(), ExportError> {
        create_dir(&self.base.join(rel))
    }

    fn file(&mut self, rel: &str, opts: FileOpts, body: &mut Body<'_>) -> Result<(), ExportError> {
        let dest = self.base.join(rel);
        let mut f = match opts.staging {
            Some(s) => AtomicFile::create_in(&self.base.join(s), &dest)?,
            None => AtomicFile::create(&dest)?,
        };
        body(&mut f).map_err(werr(&dest))?;
        let w = f.commit(Some(opts.mtime))?;
        self.entries.push(FileEntry {
            path: format!("{}/{rel}", self.rbase),
            sha256: w.sha256,
            size: w.size,
        });
        Ok(())
    }
}
