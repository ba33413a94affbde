//! The Exim 4 spool reader: a second implementation of the queue boundary
//! ([`crate::queue::QueueSource`]), beside the Postfix one.
//!
//! Pipeline: [`walk`] lists `input/` (flat or split) → [`EximSpool::load`] reads the
//! `-H` file ([`header`], exactly as Exim's "Format of spool files"), the `-D` file (its
//! first line `ID-D`, then the body) and an interrupted delivery's `-J` journal, all
//! through [`crate::queue::open`] (no links followed, bounded), and the message log's
//! last deferral per pending recipient ([`msglog`], when Exim keeps one) → a
//! [`QueuedMessage`] whose bytes are what `exim -Mvc ID` prints (the headers not flagged
//! deleted, a blank line, the body). Recipients in the non-recipients tree or the
//! journal are done; a frozen message is listed under the queue name `frozen`, still
//! pending, and does not expire. Expiry otherwise is an estimate: Exim has no queue
//! lifetime, so the retry rule of Debian's default configuration (`F,4d`: given up
//! [`RETRY_GIVE_UP`] after arrival) is assumed. Nothing outside this folder knows an
//! Exim spool line. Read-only; fails per message with a [`LoadError`] (path, reason).

pub mod header;
pub mod id;
pub mod msglog;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::queue::open::{ReadError, read_in_spool};
use crate::queue::walk::WalkResult;
use crate::queue::{
    Depth, LoadError, LoadErrorKind, MessageBody, QueueEntry, QueueSource, QueuedMessage,
    QueuedRecipient, RcptState, SpoolKind,
};
use header::HeaderFile;

/// When Debian's default retry rule gives up: 4 days (`F,4d,6h`), counted from arrival.
pub const RETRY_GIVE_UP: i64 = 4 * 86400;
/// Bound on a `-H` file (recipients and headers; Exim caps headers at 1 MB by default).
const HEADER_LIMIT: u64 = 64 * 1024 * 1024;
/// Bound on a `-D` file.
const DATA_LIMIT: u64 = 2 * 1024 * 1024 * 1024;
/// Bound on a `-J` journal.
const JOURNAL_LIMIT: u64 = 16 * 1024 * 1024;

/// Whether `root` looks like an Exim spool: `input/` holding `-H` files, or `input/`
/// beside `msglog/`, and none of Postfix's queues.
pub fn is_exim_spool(root: &Path) -> bool {
    let postfix = ["maildrop", "incoming", "active", "deferred", "hold"];
    if postfix.iter().any(|q| root.join(q).is_dir()) || !root.join(walk::INPUT).is_dir() {
        return false;
    }
    root.join("msglog").is_dir() || !walk::walk(root).entries.is_empty()
}

/// An Exim spool directory opened for reading. Nothing is read here.
#[derive(Debug, Clone)]
pub struct EximSpool {
    pub root: PathBuf,
}

/// The message as `exim -Mvc` prints it, kept as the two files' parts.
#[derive(Debug)]
struct Body {
    headers: Vec<Vec<u8>>,
    data: Vec<u8>,
    /// Where the body starts in `data` (after the `ID-D` line).
    start: usize,
}

impl MessageBody for Body {
    fn write_message(&self, out: &mut Vec<u8>) {
        for h in &self.headers {
            out.extend_from_slice(h);
        }
        out.push(b'\n');
        out.extend_from_slice(&self.data[self.start..]);
    }
    fn size_hint(&self) -> usize {
        self.headers.iter().map(Vec::len).sum::<usize>() + 1 + self.data.len() - self.start
    }
}

/// A companion file of `entry` (`-D`, `-J`) in the same directory.
fn companion(entry: &QueueEntry, kind: char) -> PathBuf {
    entry.path.with_file_name(format!("{}-{kind}", entry.id))
}

impl EximSpool {
    pub fn open(root: &Path) -> EximSpool {
        EximSpool {
            root: root.to_path_buf(),
        }
    }

    /// Finds one message by ID (split subdirectory or flat).
    pub fn find_id(&self, id: &str) -> Option<QueueEntry> {
        walk::find_id(&self.root, id)
    }

    /// Reads one message: `-H`, then `-D` (only its presence for [`Depth::EnvelopeOnly`]),
    /// then the journal.
    pub fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError> {
        let err = |path: &Path, kind| LoadError {
            path: path.to_path_buf(),
            queue_id: entry.id.clone(),
            kind,
        };
        let read = |path: &Path, limit, what: &str| {
            read_in_spool(path, limit).map_err(|e| match e {
                // Gone with its -H too: delivered or removed while the run read it.
                ReadError::NotFound if what == "-H" || !entry.path.exists() => {
                    err(path, LoadErrorKind::Vanished)
                }
                ReadError::NotFound => err(
                    path,
                    LoadErrorKind::Format(format!(
                        "the {what} file is missing (its -H is there: a damaged spool or a partial copy; the message cannot be read)"
                    )),
                ),
                e => err(path, LoadErrorKind::Io(e.to_string())),
            })
        };
        let hdata = read(&entry.path, HEADER_LIMIT, "-H")?;
        let h = HeaderFile::parse(&hdata, &entry.id)
            .map_err(|e| err(&entry.path, LoadErrorKind::Format(e.to_string())))?;
        if h.wireformat {
            return Err(err(
                &entry.path,
                LoadErrorKind::Format(
                    "its data was stored in wire format (spool_wireformat: CRLF line ends, received with BDAT), which mxsalvage does not convert yet; it is not exported (Exim can still deliver it; `exim -Mvb ID` shows the stored data)"
                        .into(),
                ),
            ));
        }
        let dpath = companion(entry, 'D');
        let (data, start, body_len) = match depth {
            Depth::Full => {
                let data = read(&dpath, DATA_LIMIT, "-D")?;
                let start = data_start(&data, &entry.id)
                    .map_err(|r| err(&dpath, LoadErrorKind::Format(r)))?;
                let len = data.len() - start;
                (data, start, len)
            }
            Depth::EnvelopeOnly => match std::fs::symlink_metadata(&dpath) {
                Ok(m) => (
                    Vec::new(),
                    0,
                    (m.len() as usize).saturating_sub(entry.id.len() + 3),
                ),
                Err(_) => {
                    read(&dpath, DATA_LIMIT, "-D")?;
                    (Vec::new(), 0, 0)
                }
            },
        };
        let journal = match read_in_spool(&companion(entry, 'J'), JOURNAL_LIMIT) {
            Ok(j) => j,
            Err(ReadError::NotFound) => Vec::new(),
            Err(e) => {
                return Err(err(
                    &companion(entry, 'J'),
                    LoadErrorKind::Io(e.to_string()),
                ));
            }
        };
        let mut m = into_message(entry, h, &journal, (data, start, body_len));
        self.attach_msglog(&mut m);
        Ok(m)
    }
}

impl EximSpool {
    /// The message log's last deferral per pending recipient (matched by address), when
    /// Exim keeps message logs; the whole list as the message's defer log.
    fn attach_msglog(&self, m: &mut QueuedMessage) {
        let sub = Path::new(&m.entry.rel)
            .parent()
            .and_then(|p| p.strip_prefix(walk::INPUT).ok())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = self.root.join("msglog").join(sub).join(&m.entry.id);
        let Ok(log) = read_in_spool(&path, JOURNAL_LIMIT) else {
            return;
        };
        m.defer_log = msglog::defers(&log);
        for r in m
            .recipients
            .iter_mut()
            .filter(|r| r.state == RcptState::Pending)
        {
            let addr = String::from_utf8_lossy(&r.address);
            r.defer = m
                .defer_log
                .iter()
                .find(|e| e.recipient.as_deref() == Some(addr.as_ref()))
                .cloned();
        }
    }
}

/// Reads the message whose `-H` file is at `path` (a `cat` argument): the `-D` and
/// `-J` files are looked for beside it. `None` when the name is no `ID-H`.
pub fn load_path(path: &Path) -> Option<Result<QueuedMessage, LoadError>> {
    let name = path.file_name()?.to_str()?;
    let id = id::id_of(name, 'H')?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Some(Err(LoadError {
                path: path.to_path_buf(),
                queue_id: id.to_string(),
                kind: LoadErrorKind::Io(e.to_string()),
            }));
        }
    };
    let entry = walk::entry(dir, id, path.to_path_buf(), &meta);
    Some(EximSpool::open(dir).load(&entry, Depth::Full))
}

/// RFC 3461 xtext decoded (`+XX` → the byte 0xXX): Exim keeps ENVID and ORCPT as the
/// client sent them, the boundary holds them decoded (as Postfix stores them). A `+`
/// not followed by two hex digits is kept as it is.
fn xtext_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let pair = s
            .get(i + 1)
            .copied()
            .and_then(hex)
            .zip(s.get(i + 2).copied().and_then(hex));
        match (s[i], pair) {
            (b'+', Some((h, l))) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Where the body starts in a `-D` file: after its first line, which must be `ID-D`.
fn data_start(data: &[u8], id: &str) -> Result<usize, String> {
    let want = format!("{id}-D\n");
    if data.starts_with(want.as_bytes()) {
        Ok(want.len())
    } else {
        let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
        Err(format!(
            "the first line is {:?}, not {id}-D (not this message's data file, or truncated)",
            String::from_utf8_lossy(first)
        ))
    }
}

/// The boundary's view of a parsed message.
fn into_message(
    entry: &QueueEntry,
    h: HeaderFile,
    journal: &[u8],
    (data, start, body_len): (Vec<u8>, usize, usize),
) -> QueuedMessage {
    let journaled: std::collections::HashSet<&[u8]> = journal
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let recipients = h
        .recipients
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let done =
                h.nonrecipients.contains(&r.address) || journaled.contains(r.address.as_slice());
            QueuedRecipient {
                offset: i,
                address: r.address.clone(),
                state: if done {
                    RcptState::Done
                } else {
                    RcptState::Pending
                },
                original: None,
                notify: Some((r.dsn_flags >> 1) & 0xf).filter(|n| *n != 0),
                orcpt: r.orcpt.as_deref().map(xtext_decode),
                defer: None,
                bounce: None,
            }
        })
        .collect();
    let mut entry = entry.clone();
    let mut warnings = Vec::new();
    if let Some(at) = h.frozen_at {
        entry.queue = "frozen".into();
        warnings.push(format!(
            "frozen since {} (Exim will not try it until thawed: `exim -Mt {}`)",
            crate::timefmt::rfc3339(at),
            entry.id
        ));
    }
    if !journal.is_empty() {
        warnings.push(format!(
            "an interrupted delivery left {}-J: the {} address(es) it lists count as delivered",
            entry.id,
            journaled.len()
        ));
    }
    let headers: Vec<Vec<u8>> = h
        .headers
        .into_iter()
        .filter(|x| x.kind != b'*')
        .map(|x| x.text)
        .collect();
    let content_size = Some((headers.iter().map(Vec::len).sum::<usize>() + 1 + body_len) as i64);
    QueuedMessage {
        arrival_secs: h.received,
        arrival_usec: h.received_usec,
        clock_base: h.received,
        expires: h.frozen_at.is_none().then_some(h.received + RETRY_GIVE_UP),
        forced_expire: false,
        sender: h.sender,
        submitted_sender: None,
        full_name: None,
        content_size,
        unprocessed: false,
        encoding: None,
        smtputf8_requested: h.smtputf8,
        smtputf8_required: h.smtputf8,
        envelope_id: h.dsn_envid.as_deref().map(xtext_decode),
        ret: match h.dsn_ret {
            Some(1) => Some("FULL"),
            Some(2) => Some("HDRS"),
            _ => None,
        },
        probe: false,
        content_filter: None,
        redirect_to: None,
        verp: None,
        recipients,
        defer_log: Vec::new(),
        warnings,
        entry,
        body: Arc::new(Body {
            headers,
            data,
            start,
        }),
    }
}

impl QueueSource for EximSpool {
    fn root(&self) -> &Path {
        &self.root
    }
    fn kind(&self) -> SpoolKind {
        SpoolKind::Exim
    }
    fn find(&self, id: &str) -> Vec<QueueEntry> {
        self.find_id(id).into_iter().collect()
    }
    fn walk(&self) -> WalkResult {
        walk::walk(&self.root)
    }
    fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError> {
        EximSpool::load(self, entry, depth)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn xtext() {
        assert_eq!(super::xtext_decode(b"env+2B123+20z+4"), b"env+123 z+4");
        assert_eq!(super::xtext_decode(b"rfc822;a+3Db@x"), b"rfc822;a=b@x");
    }
}
