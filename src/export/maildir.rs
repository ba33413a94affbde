//! Maildir writer (D. J. Bernstein's spec, with Dovecot's `,S=` size).
//!
//! Owns: the `tmp/`, `new/`, `cur/` layout and one delivery: the file is written in
//! `tmp/`, fsynced, given the arrival time as its mtime (Dovecot's received date), and
//! renamed into `new/`. Names come from the message (see [`super::names::maildir_name`]),
//! so a rerun produces the same names. Never writes index files. In: the delivery
//! headers and the message. Out: the path written and its hash. Fails with
//! [`ExportError::Write`] naming the path.

use std::path::{Path, PathBuf};

use super::ExportError;
use super::names::maildir_name;
use super::write::{AtomicFile, Written, create_dir};

/// Creates `tmp/`, `new/` and `cur/` under `maildir`.
pub fn ensure(maildir: &Path) -> Result<(), ExportError> {
    for sub in ["tmp", "new", "cur"] {
        create_dir(&maildir.join(sub))?;
    }
    Ok(())
}

/// Delivers one message into `maildir/new/`.
pub fn deliver(
    maildir: &Path,
    arrival: (i64, i64),
    queue_id: &str,
    prepend: &[u8],
    message: &[u8],
) -> Result<(PathBuf, Written), ExportError> {
    let size = (prepend.len() + message.len()) as u64;
    let name = maildir_name(arrival.0, arrival.1, queue_id, size);
    let dest = maildir.join("new").join(&name);
    let mut f = AtomicFile::create_in(&maildir.join("tmp").join(&name), &dest)?;
    f.put(prepend)?;
    f.put(message)?;
    let w = f.commit(Some(arrival.0))?;
    Ok((dest, w))
}
