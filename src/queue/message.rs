//! The reader's boundary: "a queued message" as every consumer sees it, whatever wrote
//! the queue.
//!
//! Owns: [`QueuedMessage`] (where it was found, the envelope, every recipient with its
//! state and log reasons, the message bytes as they would be delivered), the
//! [`QueueSource`] trait (walk, load, find, the spool's kind) every queue format
//! implements, and the plain values they share ([`RcptState`], [`Depth`], [`SpoolKind`],
//! [`Origin`]). Nothing here names a record type of any MTA:
//! `queue::Spool` is the Postfix implementation (see `queue/mod.rs`); a second format
//! implements the same trait beside it. In: nothing (types only). Fails: never; loading
//! fails per message with [`super::LoadError`].

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use super::logs::LogEntry;
use super::walk::{ModeVerdict, QueueEntry, WalkEvent, WalkResult};

/// Which MTA wrote a queue: what deletes a message from it once it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpoolKind {
    Postfix,
    Exim,
}

impl SpoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpoolKind::Postfix => "postfix",
            SpoolKind::Exim => "exim",
        }
    }

    /// The command that deletes the message `id` from a queue of this kind, run on the
    /// host that holds it (`postsuper -d ID`, `exim -Mrm ID`).
    pub fn delete_command(self, id: &str) -> String {
        match self {
            SpoolKind::Postfix => format!("postsuper -d {id}"),
            SpoolKind::Exim => format!("exim -Mrm {id}"),
        }
    }
}

/// Where a queue entry sits when several spools are read as one (`queue::merge`). The
/// default — one spool — names nothing, so a single spool's outputs stay as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Position of its spool in the merged source (0 for a single spool).
    pub index: usize,
    /// Its spool's queue directory, absolute; `None` for a single spool.
    pub spool: Option<Arc<str>>,
    /// The name the run gives it when its queue ID is in another spool too (`ID+N`,
    /// N the spool's position counted from 1); `None` when the queue ID is unique.
    pub qualified: Option<String>,
}

/// State of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RcptState {
    /// Still to be delivered.
    Pending,
    /// Delivered or bounced.
    Done,
    /// Removed (by a milter) before the message was committed.
    Cancelled,
}

impl RcptState {
    pub fn as_str(self) -> &'static str {
        match self {
            RcptState::Pending => "pending",
            RcptState::Done => "done",
            RcptState::Cancelled => "cancelled",
        }
    }
}

/// How much of a queued message to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything, content included.
    Full,
    /// The envelope; the content may be skipped when the format allows it.
    EnvelopeOnly,
}

/// The message bytes of a queued message, produced on demand from what the reader kept.
pub trait MessageBody: fmt::Debug + Send + Sync {
    /// Appends the message exactly as the MTA would deliver it to `out`.
    fn write_message(&self, out: &mut Vec<u8>);
    /// A size hint for the delivered bytes.
    fn size_hint(&self) -> usize;
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    /// The recipient's identity inside its queue file (its record's offset for Postfix).
    pub offset: usize,
    pub address: Vec<u8>,
    pub state: RcptState,
    /// The original recipient as stored (empty when tracking was off); `None` when absent.
    pub original: Option<Vec<u8>>,
    /// DSN NOTIFY bit mask: 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY.
    pub notify: Option<u32>,
    /// DSN ORCPT as stored: `type;address`, already decoded.
    pub orcpt: Option<Vec<u8>>,
    /// The delay log's entry for this recipient.
    pub defer: Option<LogEntry>,
    /// The bounce log's entry for this recipient.
    pub bounce: Option<LogEntry>,
}

/// One queued message: where it was found, its envelope, its recipients, its bytes.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Where the walk found it (queue name, queue ID, path, file size and time).
    pub entry: QueueEntry,
    pub arrival_secs: i64,
    pub arrival_usec: i64,
    /// The expiry clock's start (the creation time, else the arrival time).
    pub clock_base: i64,
    /// When the MTA will give up on it; `None` while on hold.
    pub expires: Option<i64>,
    /// Expiry forced by the administrator (`postsuper -e`).
    pub forced_expire: bool,
    /// Sender, empty for the null sender.
    pub sender: Vec<u8>,
    /// The sender as submitted, when the reader qualified it as the MTA would.
    pub submitted_sender: Option<Vec<u8>>,
    pub full_name: Option<Vec<u8>>,
    /// The content size the MTA recorded, when it recorded one.
    pub content_size: Option<i64>,
    /// Submitted but not yet processed by the MTA (Postfix's `maildrop/`).
    pub unprocessed: bool,
    pub encoding: Option<Vec<u8>>,
    pub smtputf8_requested: bool,
    pub smtputf8_required: bool,
    pub envelope_id: Option<Vec<u8>>,
    /// DSN RET: `FULL` or `HDRS`.
    pub ret: Option<&'static str>,
    /// An address-verification probe (not real mail).
    pub probe: bool,
    pub content_filter: Option<Vec<u8>>,
    pub redirect_to: Option<Vec<u8>>,
    pub verp: Option<Vec<u8>>,
    pub recipients: Vec<QueuedRecipient>,
    /// The whole delay log, in file order (showq lists its recipients).
    pub defer_log: Vec<LogEntry>,
    /// Things that are odd but not fatal.
    pub warnings: Vec<String>,
    pub body: Arc<dyn MessageBody>,
}

impl QueuedMessage {
    /// The message exactly as the MTA would deliver it.
    pub fn message_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.size_hint());
        self.body.write_message(&mut out);
        out
    }

    /// Pending recipients.
    pub fn pending(&self) -> impl Iterator<Item = &QueuedRecipient> {
        self.recipients
            .iter()
            .filter(|r| r.state == RcptState::Pending)
    }
}

/// A queue of some MTA, opened for reading: what scan, export and select need of it.
/// Only `root`, `kind`, `walk` and `load` are required; the rest have defaults a reader
/// may improve on (streaming, a direct lookup, its own judgement of file modes).
pub trait QueueSource: Sync {
    /// The queue directory (for messages, and to keep outputs out of it).
    fn root(&self) -> &Path;
    /// Which MTA wrote it.
    fn kind(&self) -> SpoolKind;
    /// Lists the queued messages in a deterministic order.
    fn walk(&self) -> WalkResult;
    /// Reads one listed message.
    fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError>;
    /// Every queue directory read (one; several for a merged source): outputs must stay
    /// out of all of them.
    fn roots(&self) -> Vec<&Path> {
        vec![self.root()]
    }
    /// Hands the walk's events to `f` in walk order; an error from `f` stops the walk.
    /// The default collects [`QueueSource::walk`] first; a reader streams.
    fn walk_stream(&self, f: &mut dyn FnMut(WalkEvent) -> io::Result<()>) -> io::Result<()> {
        let w = self.walk();
        for e in w.entries {
            f(WalkEvent::Entry(e))?;
        }
        for p in w.problems {
            f(WalkEvent::Problem(p))?;
        }
        for p in w.ignored {
            f(WalkEvent::Ignored(p))?;
        }
        for p in w.duplicates {
            f(WalkEvent::Duplicate(p))?;
        }
        Ok(())
    }
    /// The entries named `id` (a queue ID; `ID+N` for one spool of a merged source), in
    /// walk order; empty when there is none. The default walks.
    fn find(&self, id: &str) -> Vec<QueueEntry> {
        let w = self.walk();
        w.entries.into_iter().filter(|e| e.id == id).collect()
    }
    /// Whether the file modes are believed (Postfix: `--trust-modes`/`--ignore-modes`,
    /// else judged from the spool); the default believes them and says nothing.
    fn mode_verdict(&self) -> ModeVerdict {
        ModeVerdict {
            trusted: true,
            note: None,
        }
    }
}
