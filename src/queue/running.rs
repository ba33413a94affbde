//! Is a Postfix master running on this spool?
//!
//! Owns: one check — the master daemon holds an exclusive lock on `pid/master.pid` for
//! its lifetime (`master/master.c`). We open the file read-only and ask for a shared
//! lock without waiting; if that fails, a master holds it. On success the lock is
//! released at once (closing the file), so a stopped Postfix is not disturbed.
//! The file is opened like every spool file ([`super::open`]): a FIFO or symbolic link
//! planted there cannot block the run; it means "unknown".
//! No file is created or changed. Errors mean "unknown" and are reported as such.

use std::fs::TryLockError;
use std::path::Path;

use super::open::{ReadError, open_in_spool};

/// What we could find out about a master daemon on the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterState {
    Running,
    NotRunning,
    Unknown(String),
}

/// Checks `ROOT/pid/master.pid`.
pub fn master_state(root: &Path) -> MasterState {
    let path = root.join("pid/master.pid");
    let f = match open_in_spool(&path) {
        Ok((f, _)) => f,
        Err(ReadError::NotFound) => return MasterState::NotRunning,
        Err(e) => return MasterState::Unknown(format!("{}: {e}", path.display())),
    };
    match f.try_lock_shared() {
        Ok(()) => MasterState::NotRunning,
        Err(TryLockError::WouldBlock) => MasterState::Running,
        Err(TryLockError::Error(e)) => MasterState::Unknown(format!("{}: {e}", path.display())),
    }
}
