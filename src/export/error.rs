//! Why an export stops: [`ExportError`], shared by the run, its phases and the sinks.
//!
//! A leaf of `export/`: it imports nothing of the crate, so every sink and phase can
//! import it without importing the run (`export/mod.rs`). In: io errors and refusals.
//! Out: one error type whose message names the path or the reason. Cannot fail.

use std::io;
use std::path::PathBuf;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing a path failed.
    #[error("{path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    /// The run was refused before anything was written.
    #[error("{0}")]
    Refused(String),
    /// `--zip-password-file` lacks these mailboxes.
    #[error("the zip password file has no line for: {}", .0.join(", "))]
    MissingPasswords(Vec<String>),
    /// A write failed after some output was written; what exists is kept.
    #[error(
        "{0} (export stopped; what was written so far is kept, without a manifest claiming success)"
    )]
    Partial(Box<ExportError>),
}

/// `e`, marked [`ExportError::Partial`] when `written` outputs already exist.
pub(crate) fn partial(e: ExportError, written: usize) -> ExportError {
    match e {
        ExportError::Partial(_) => e,
        e if written > 0 => ExportError::Partial(Box::new(e)),
        e => e,
    }
}
