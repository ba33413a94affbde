//! The queue reader: everything mxsalvage knows about a Postfix spool.
//!
//! Pipeline: [`walk`] lists queue files → [`Spool::load`] reads one file (read-only,
//! no locks) → [`qfile::QueueFile::parse`] runs the record state machine over
//! [`record`] framing → defer/bounce [`logs`] are attached per recipient.
//! Fails per message with [`LoadError`] (path + reason); one bad file never stops a run.

pub mod config;
pub mod id;
pub mod logs;
pub mod qfile;
pub mod record;
pub mod running;
pub mod walk;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use config::PostfixConfig;
pub use qfile::{Depth, ParseError, QueueFile, RcptState, Recipient};
pub use walk::QueueEntry;

use logs::LogEntry;

/// Why one queue file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub queue_id: String,
    pub kind: LoadErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file disappeared and was not found in any other queue (delivered or deleted).
    Vanished,
    /// Still being written (mode without owner execute bit).
    NotReady { mode: u32 },
    /// Reading failed (permissions, I/O).
    Io(String),
    /// The bytes are not a usable queue file.
    Parse(ParseError),
}

impl LoadError {
    /// Incomplete (being written) rather than damaged.
    pub fn is_incomplete(&self) -> bool {
        match &self.kind {
            LoadErrorKind::NotReady { .. } => true,
            LoadErrorKind::Parse(p) => p.is_incomplete(),
            _ => false,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            LoadErrorKind::Vanished => write!(
                f,
                "{p}: vanished (delivered, deleted or moved by Postfix during the run)"
            ),
            LoadErrorKind::NotReady { mode } => {
                write!(
                    f,
                    "{p}: incomplete: mode {mode:04o} lacks the owner execute bit (still being written, or abandoned)"
                )
            }
            LoadErrorKind::Io(e) => write!(f, "{p}: {e}"),
            LoadErrorKind::Parse(e) => write!(f, "{p}: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// One queue file, read and parsed, with its logs.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub entry: QueueEntry,
    pub file: QueueFile,
    pub defer: Vec<LogEntry>,
    pub bounce: Vec<LogEntry>,
}

impl Loaded {
    /// The log entry for a recipient: by offset, else by quoted address.
    pub fn reason_for<'a>(log: &'a [LogEntry], r: &Recipient) -> Option<&'a LogEntry> {
        log.iter().find(|e| e.offset == Some(r.offset)).or_else(|| {
            let q = logs::quote_822(&r.address);
            log.iter().find(|e| {
                e.offset.is_none()
                    && e.recipient
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&q))
            })
        })
    }
}

/// A queue directory opened for reading.
#[derive(Debug)]
pub struct Spool {
    pub root: PathBuf,
    pub cfg: PostfixConfig,
    pub queues: Vec<String>,
    defer_index: HashMap<String, PathBuf>,
    bounce_index: HashMap<String, PathBuf>,
}

impl Spool {
    /// Opens `root` for the given queues. Only directory listings are read here.
    pub fn open(root: &Path, cfg: PostfixConfig, queues: Vec<String>) -> Spool {
        Spool {
            root: root.to_path_buf(),
            defer_index: walk::index_logs(root, "defer"),
            bounce_index: walk::index_logs(root, "bounce"),
            cfg,
            queues,
        }
    }

    /// Lists the queue files.
    pub fn walk(&self) -> walk::WalkResult {
        walk::walk(&self.root, &self.queues, &self.cfg)
    }

    /// Reads and parses one queue file. A file that vanished is looked up once in the
    /// other queues (Postfix moves files between queues).
    pub fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<Loaded, LoadError> {
        match self.load_once(entry, depth) {
            Err(e) if e.kind == LoadErrorKind::Vanished => {
                let mut all: Vec<String> =
                    walk::MESSAGE_QUEUES.iter().map(|s| s.to_string()).collect();
                for q in &self.queues {
                    if !all.contains(q) {
                        all.push(q.clone());
                    }
                }
                match walk::find_id(&self.root, &entry.id, &all, &self.cfg) {
                    Some(moved) if moved.path != entry.path => self.load_once(&moved, depth),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    fn load_once(&self, entry: &QueueEntry, depth: Depth) -> Result<Loaded, LoadError> {
        let err = |kind| LoadError {
            path: entry.path.clone(),
            queue_id: entry.id.clone(),
            kind,
        };
        if !entry.is_ready() {
            return Err(err(LoadErrorKind::NotReady { mode: entry.mode }));
        }
        let data = match std::fs::read(&entry.path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(err(LoadErrorKind::Vanished));
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(err(LoadErrorKind::Io(
                    "permission denied (run as root or as the postfix user, or work on a copy of the spool)".into(),
                )));
            }
            Err(e) => return Err(err(LoadErrorKind::Io(e.to_string()))),
        };
        let file = QueueFile::parse(data, depth, entry.queue == "maildrop")
            .map_err(|e| err(LoadErrorKind::Parse(e)))?;
        let read_log = |idx: &HashMap<String, PathBuf>| -> Vec<LogEntry> {
            idx.get(&entry.id)
                .and_then(|p| std::fs::read(p).ok())
                .map(|d| logs::parse_log(&d))
                .unwrap_or_default()
        };
        Ok(Loaded {
            defer: read_log(&self.defer_index),
            bounce: read_log(&self.bounce_index),
            entry: entry.clone(),
            file,
        })
    }
}
