//! The queue reader: everything mxsalvage knows about a Postfix spool.
//!
//! Pipeline: [`walk`] lists queue files → [`Spool::load`] reads one file ([`open`]:
//! read-only, no locks, no symbolic links or FIFOs followed, bounded in size) →
//! [`qfile::QueueFile::parse`] runs the record state machine over [`record`] framing →
//! the file's mode is judged (trusted, or ignored on a copy that lost its modes:
//! [`walk::ModeVerdict`]) → defer/bounce [`logs`] are attached per recipient.
//! Out: a [`QueuedMessage`], the format-neutral boundary of [`message`]; [`Spool`] is
//! Postfix's [`QueueSource`]. Nothing outside `queue/` sees a Postfix record type
//! (`postcat/` excepted: it is postcat, Postfix-specific by nature).
//! Fails per message with [`LoadError`] (path + reason); one bad file never stops a run.

pub mod cleanup;
pub mod config;
pub mod id;
pub mod logs;
pub mod merge;
pub mod message;
pub mod open;
pub mod qfile;
pub mod record;
pub mod running;
pub mod walk;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use config::PostfixConfig;
pub use message::{
    Depth, MessageBody, Origin, QueueSource, QueuedMessage, QueuedRecipient, RcptState, SpoolKind,
};
pub use qfile::{ParseError, QueueFile, Recipient};
pub use walk::{ModeChoice, ModeVerdict, QueueEntry};

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
    /// Still being written (mode without owner execute bit, modes trusted);
    /// `complete`: its content looks finished all the same.
    NotReady { mode: u32, complete: bool },
    /// Reading failed (permissions, I/O).
    Io(String),
    /// The bytes are not a usable queue file.
    Parse(ParseError),
    /// The bytes are not a usable spool file of another MTA (Exim): what was wrong, where.
    Format(String),
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
            LoadErrorKind::NotReady { mode, complete } => {
                write!(
                    f,
                    "{p}: incomplete: mode {mode:04o} lacks the owner execute bit (still being written, or abandoned)"
                )?;
                if *complete {
                    write!(
                        f,
                        "; its content looks complete: if this is a copy that lost its modes, --ignore-modes reads it"
                    )?;
                }
                Ok(())
            }
            LoadErrorKind::Io(e) => write!(f, "{p}: {e}"),
            LoadErrorKind::Parse(e) => write!(f, "{p}: {e}"),
            LoadErrorKind::Format(e) => write!(f, "{p}: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// One queue file, read and parsed, with its logs (before it becomes a [`QueuedMessage`]).
#[derive(Debug)]
struct Loaded {
    entry: QueueEntry,
    file: QueueFile,
    /// `postsuper -e` forced expiry (group execute), when the modes are trusted.
    forced_expire: bool,
    defer: Vec<LogEntry>,
    bounce: Vec<LogEntry>,
}

/// The log entry for a recipient: by offset, else by quoted address.
fn reason_for<'a>(log: &'a [LogEntry], r: &Recipient) -> Option<&'a LogEntry> {
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

impl MessageBody for QueueFile {
    fn write_message(&self, out: &mut Vec<u8>) {
        QueueFile::write_message(self, out)
    }
    fn size_hint(&self) -> usize {
        self.data.len()
    }
}

impl Loaded {
    /// The boundary's view; `cfg` gives the lifetimes for the expiry estimate.
    fn into_message(self, cfg: &PostfixConfig) -> QueuedMessage {
        let Loaded {
            entry,
            mut file,
            forced_expire,
            defer,
            bounce,
        } = self;
        let base = file.clock_base();
        let expires = (entry.queue != "hold").then(|| {
            let d = base + cfg.lifetimes.for_sender(file.sender());
            if forced_expire { entry.mtime.min(d) } else { d }
        });
        let recipients = file
            .recipients
            .iter()
            .map(|r| QueuedRecipient {
                defer: reason_for(&defer, r).cloned(),
                bounce: reason_for(&bounce, r).cloned(),
                ..r.rcpt.clone()
            })
            .collect();
        QueuedMessage {
            arrival_secs: file.arrival_secs(),
            arrival_usec: file.arrival.map(|a| a.1).unwrap_or(0),
            clock_base: base,
            expires,
            forced_expire,
            sender: file.sender().to_vec(),
            submitted_sender: file.submitted_sender.take(),
            full_name: file.full_name.take(),
            content_size: file.size.map(|s| s.data_size),
            unprocessed: file.maildrop,
            encoding: file.encoding.take(),
            smtputf8_requested: file.size.is_some_and(|s| s.smtputf8_requested()),
            smtputf8_required: file.size.is_some_and(|s| s.smtputf8_required()),
            envelope_id: file.envelope_id.take(),
            ret: match file.ret_flags {
                Some(1) => Some("FULL"),
                Some(2) => Some("HDRS"),
                _ => None,
            },
            probe: file.is_probe(),
            content_filter: file.content_filter.take(),
            redirect_to: file.redirect_to.take(),
            verp: file.verp.take(),
            recipients,
            defer_log: defer,
            warnings: std::mem::take(&mut file.warnings),
            entry,
            body: Arc::new(file),
        }
    }
}

/// A queue directory opened for reading.
#[derive(Debug)]
pub struct Spool {
    pub root: PathBuf,
    pub cfg: PostfixConfig,
    pub queues: Vec<String>,
    modes: ModeChoice,
    verdict: OnceLock<ModeVerdict>,
}

impl Spool {
    /// Opens `root` for the given queues. Nothing is read here.
    pub fn open(root: &Path, cfg: PostfixConfig, queues: Vec<String>) -> Spool {
        Spool {
            root: root.to_path_buf(),
            cfg,
            queues,
            modes: ModeChoice::Auto,
            verdict: OnceLock::new(),
        }
    }

    /// How the file modes are to be judged (`--trust-modes`, `--ignore-modes`).
    pub fn with_modes(mut self, modes: ModeChoice) -> Spool {
        self.modes = modes;
        self.verdict = OnceLock::new();
        self
    }

    /// Whether the file modes are used, decided once per run (a walk of `lstat`s that
    /// stops at the first file with a mode Postfix writes).
    pub fn mode_verdict(&self) -> &ModeVerdict {
        self.verdict
            .get_or_init(|| walk::mode_verdict(&self.root, &self.queues, &self.cfg, self.modes))
    }

    /// The one line to tell the user when the modes are not used.
    pub fn mode_note(&self) -> Option<&str> {
        self.mode_verdict().note.as_deref()
    }

    /// Lists the queue files.
    pub fn walk(&self) -> walk::WalkResult {
        walk::walk(&self.root, &self.queues, &self.cfg)
    }

    /// Lists the queue files one by one (see [`walk::walk_each`]).
    pub fn walk_each<E>(&self, f: impl FnMut(walk::WalkEvent) -> Result<(), E>) -> Result<(), E> {
        walk::walk_each(&self.root, &self.queues, &self.cfg, f)
    }

    /// Reads and parses one queue file. A file that vanished is looked up once in the
    /// other queues (Postfix moves files between queues).
    pub fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError> {
        self.load_file(entry, depth)
            .map(|l| l.into_message(&self.cfg))
    }

    fn load_file(&self, entry: &QueueEntry, depth: Depth) -> Result<Loaded, LoadError> {
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
        let maildrop = entry.queue == "maildrop";
        let data = match open::read_queue_file(&entry.path, self.cfg.message_size_limit, maildrop) {
            Ok(d) => d,
            Err(open::ReadError::NotFound) => return Err(err(LoadErrorKind::Vanished)),
            Err(open::ReadError::Symlink) => {
                return Err(err(LoadErrorKind::Io(
                    "became a symbolic link after the walk: not followed (something is changing the spool under us)"
                        .into(),
                )));
            }
            Err(open::ReadError::NotRegular(kind)) => {
                return Err(err(LoadErrorKind::Io(format!(
                    "became a {kind} after the walk: not read (something is changing the spool under us)"
                ))));
            }
            Err(e) => return Err(err(LoadErrorKind::Io(e.to_string()))),
        };
        let trusted = self.mode_verdict().trusted;
        // What cleanup would add to a maildrop file depends on its headers: read them.
        let depth = if maildrop { Depth::Full } else { depth };
        let parsed = QueueFile::parse(data, depth, maildrop);
        if trusted && !entry.is_ready() {
            return Err(err(LoadErrorKind::NotReady {
                mode: entry.mode,
                complete: parsed.as_ref().is_ok_and(|q| !q.unfinished_size()),
            }));
        }
        let mut file = parsed.map_err(|e| err(LoadErrorKind::Parse(e)))?;
        if !trusted {
            if file.unfinished_size() {
                return Err(err(LoadErrorKind::Parse(ParseError::UnfinishedSize)));
            }
            if !entry.is_ready() {
                file.warnings.push(format!(
                    "mode {:04o} lacks the owner execute bit, ignored (the spool's modes look rewritten); the content is complete",
                    entry.mode
                ));
            }
        }
        if maildrop {
            cleanup::apply(&mut file, &entry.id, &self.cfg);
        }
        let read_log = |log: &str| -> Vec<LogEntry> {
            walk::find_log(&self.root, log, &entry.id, &self.cfg)
                .and_then(|p| open::read_in_spool(&p, open::LOG_LIMIT).ok())
                .map(|d| logs::parse_log(&d))
                .unwrap_or_default()
        };
        Ok(Loaded {
            defer: read_log("defer"),
            bounce: read_log("bounce"),
            forced_expire: trusted && entry.forced_expire(),
            entry: entry.clone(),
            file,
        })
    }
}

impl QueueSource for Spool {
    fn root(&self) -> &Path {
        &self.root
    }
    fn kind(&self) -> SpoolKind {
        SpoolKind::Postfix
    }
    fn walk(&self) -> walk::WalkResult {
        Spool::walk(self)
    }
    fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError> {
        Spool::load(self, entry, depth)
    }
    fn walk_stream(
        &self,
        f: &mut dyn FnMut(walk::WalkEvent) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.walk_each(f)
    }
    fn find(&self, id: &str) -> Vec<QueueEntry> {
        walk::find_id(&self.root, id, &self.queues, &self.cfg)
            .into_iter()
            .collect()
    }
    fn mode_verdict(&self) -> ModeVerdict {
        Spool::mode_verdict(self).clone()
    }
}
