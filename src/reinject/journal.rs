//! The re-injection journal: an append-only JSON-lines file that makes re-injection
//! exactly-once across crashes and reruns.
//!
//! Owns: the record type ([`Record`]), reading a journal back into the last state of
//! every (queue ID, sha256, recipient, ORCPT, NOTIFY) pair at every target it was sent
//! to ([`JournalState`]: "already sent" is a property of the pair; the target only
//! tells where), and appending records with `fsync` ([`Journal::append`], or
//! [`GroupCommit`] for the sessions of a run: outcome lines are written at once and
//! made durable by the next `fsync`, `sending` markers are durable before the final
//! dot, one `fdatasync` serving every session waiting at that moment). A torn line
//! (crash in the middle of a write) is ignored with a warning: it cannot hide a
//! delivery, because the `sending` marker of a transaction is fsynced before its
//! final dot, so a lost outcome line leaves that marker as the pair's last record
//! (= `unknown`).
//! The file is locked (`flock`) while a run appends, so two runs cannot interleave.
//! DSN lines ([`DsnRecord`]) record each failed pair's DSN, `suppressed` ones with the
//! backscatter policy's reason; a second `sending` line ([`DOT_WRITTEN`]) marks that
//! the final dot went out.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::manifest::ManifestMessage;
use crate::report::model::RecipientInfo;

/// The `step` of a second `sending` line, written (not fsynced) right after the final
/// dot went out: a pair whose last line is a `sending` line without it never had its
/// dot written (unless the machine crashed and lost this unsynced line).
pub const DOT_WRITTEN: &str = "final dot written";

/// A pair's state in one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Written and fsynced just before the final dot; an outcome line follows.
    Sending,
    /// The server accepted it (2xx after the data).
    Sent,
    /// The server refused it permanently (5xx), or it cannot be sent to this server.
    Failed,
    /// Temporary refusal (4xx) or a connection problem before the final dot.
    Deferred,
    /// The connection broke after the final dot, before the reply.
    Unknown,
    /// Not sent on purpose, decided here (`reply`: why, e.g. `malware:
    /// Eicar-Test-Signature`); final until a run with `--include-malware`.
    Withheld,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Deferred => "deferred",
            State::Unknown => "unknown",
            State::Withheld => "withheld",
        }
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    /// `smtp://host:port` or `lmtp://host:port`.
    pub target: String,
    /// The pair (`queue_id`, `sha256`, `recipient`, `orcpt`, `notify`).
    #[serde(flatten)]
    pub pair: PairKey,
    pub state: State,
    /// The server's reply code (absent for `sending`, and when there was no reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The reply (or what happened instead, e.g. `connection lost: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// For a refusal: the command refused (`RCPT TO command`, `end of DATA command`
    /// …), or `local` when it was decided here without asking the server (5.6.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Attempt number within the run that wrote the record.
    pub attempt: u32,
    /// Identifies the run (start time and process ID).
    pub run: String,
}

/// The state of the delivery status notification (DSN) of a failed pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DsnState {
    /// Written and fsynced just before the DSN's final dot.
    Sending,
    /// The DSN was accepted by the server it was sent through.
    Sent,
    /// The DSN was refused permanently (5xx): nothing more can be done.
    Failed,
    /// The DSN was refused temporarily, or its connection broke before the dot.
    Deferred,
    /// The DSN's connection broke after its final dot.
    Unknown,
    /// `--no-bounces`: the DSN was written as a file into the export instead.
    Written,
    /// Not sent on purpose (the backscatter policy: `reason` says why); sent later
    /// only with `--send-suppressed`.
    Suppressed,
}

impl DsnState {
    pub fn as_str(self) -> &'static str {
        match self {
            DsnState::Sending => "sending",
            DsnState::Sent => "sent",
            DsnState::Failed => "failed",
            DsnState::Deferred => "deferred",
            DsnState::Unknown => "unknown",
            DsnState::Written => "written",
            DsnState::Suppressed => "suppressed",
        }
    }
    /// Nothing more is owed: sent, written as a file, refused for good, or
    /// suppressed on purpose.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DsnState::Sent | DsnState::Written | DsnState::Failed | DsnState::Suppressed
        )
    }
}

/// One journal line about the DSN of a failed pair. It has no `state` field, so an
/// earlier version of the tool skips it as a damaged line instead of reading it as
/// the pair's delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsnRecord {
    /// RFC 3339, UTC.
    pub time: String,
    /// Where the DSN went: a target (`smtp://host:port`), or `file:` and the path
    /// inside the export (`--no-bounces`).
    pub target: String,
    /// The failed pair the DSN reports.
    #[serde(flatten)]
    pub pair: PairKey,
    /// The DSN's state.
    pub dsn: DsnState,
    /// Who the DSN is for: the original sender, or the postmaster for mail with the
    /// null sender.
    pub dsn_to: Bytes,
    /// The DSN's Message-ID.
    pub dsn_message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// `suppressed`: why (the backscatter policy's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempt: u32,
    pub run: String,
}

impl From<State> for DsnState {
    fn from(s: State) -> DsnState {
        match s {
            State::Sending => DsnState::Sending,
            State::Sent => DsnState::Sent,
            State::Failed => DsnState::Failed,
            State::Deferred => DsnState::Deferred,
            State::Unknown => DsnState::Unknown,
            // A withheld pair has no DSN; never reached (DSN lines are never withheld).
            State::Withheld => DsnState::Suppressed,
        }
    }
}

/// One line to append: about a pair, or about a DSN.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Line {
    Pair(Record),
    Dsn(DsnRecord),
}

/// The identity of a (message, recipient) pair, wherever it is sent; a journal line
/// names its pair by these fields, in this order (flattened into [`Record`] and
/// [`DsnRecord`]: the bytes on disk are those every version wrote).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PairKey {
    pub queue_id: String,
    /// sha256 of the archive copy.
    pub sha256: String,
    pub recipient: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcpt: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

impl PairKey {
    /// The key of a recipient of a message as journal records and manifests spell it.
    pub fn new(
        queue_id: &str,
        sha256: &str,
        recipient: &Bytes,
        orcpt: &Option<Bytes>,
        notify: &Option<String>,
    ) -> PairKey {
        PairKey {
            queue_id: queue_id.to_string(),
            sha256: sha256.to_string(),
            recipient: recipient.clone(),
            orcpt: orcpt.clone(),
            notify: notify.clone(),
        }
    }

    /// The key of recipient `r` of the exported message `m`.
    pub fn of(m: &ManifestMessage, r: &RecipientInfo) -> PairKey {
        let id = &m.info.queue_id;
        PairKey::new(id, &m.exported.sha256, &r.address, &r.orcpt, &r.notify)
    }
}

/// What a journal says: the last record of every pair at every target.
#[derive(Debug, Default)]
pub struct JournalState {
    /// (pair, target) → the last record.
    pub last: HashMap<(PairKey, String), Record>,
    /// pair → the targets it has records for, in the order first seen.
    targets: HashMap<PairKey, Vec<String>>,
    /// pair → the last record about its DSN.
    pub dsn: HashMap<PairKey, DsnRecord>,
    /// Lines that could not be read (line number, 1-based), with a reason.
    pub warnings: Vec<String>,
    pub lines: usize,
}

impl JournalState {
    /// Parses journal text. Unreadable lines are skipped with a warning.
    pub fn parse(text: &[u8]) -> JournalState {
        let mut st = JournalState::default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            st.lines += 1;
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => st.insert(r),
                Err(e) => match serde_json::from_slice::<DsnRecord>(line) {
                    Ok(d) => {
                        st.dsn.insert(d.pair.clone(), d);
                    }
                    Err(_) => st.warnings.push(format!(
                        "journal line {} ignored (torn or damaged: {e})",
                        i + 1
                    )),
                },
            }
        }
        st
    }

    /// Reads a journal file; a missing file is an empty journal. Refuses a journal
    /// that others could have written (see [`open_private`]).
    pub fn read(path: &Path) -> io::Result<JournalState> {
        let mut f = match open_private(path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(JournalState::default()),
            Err(e) => return Err(e),
        };
        let mut t = Vec::new();
        f.read_to_end(&mut t)?;
        Ok(JournalState::parse(&t))
    }

    fn insert(&mut self, r: Record) {
        let k = r.pair.clone();
        let ts = self.targets.entry(k.clone()).or_default();
        if !ts.contains(&r.target) {
            ts.push(r.target.clone());
        }
        self.last.insert((k, r.target.clone()), r);
    }

    /// The last record of a pair at `target`; a `sending` record means `unknown`.
    pub fn get(&self, k: &PairKey, target: &str) -> Option<&Record> {
        self.last.get(&(k.clone(), target.to_string()))
    }

    /// The pair's last record at every target it has records for.
    pub fn records_of<'a>(&'a self, k: &'a PairKey) -> impl Iterator<Item = &'a Record> + 'a {
        self.targets
            .get(k)
            .into_iter()
            .flatten()
            .filter_map(move |t| self.last.get(&(k.clone(), t.clone())))
    }

    /// The pair's last records at targets other than `target` that say it may have
    /// been delivered there (`sent`, `sending`, `unknown`).
    pub fn delivered_elsewhere<'a>(
        &'a self,
        k: &'a PairKey,
        target: &'a str,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.targets
            .get(k)
            .into_iter()
            .flatten()
            .filter(move |t| t.as_str() != target)
            .filter_map(move |t| self.last.get(&(k.clone(), t.clone())))
            .filter(|r| matches!(r.state, State::Sent | State::Sending | State::Unknown))
    }
}

/// Opens a journal without following a symlink or blocking on a FIFO, and checks
/// on the open descriptor that it is a regular file nobody else can write: owned by
/// this user (or root), not group- or world-writable. Anyone who can write the
/// journal can mark mail as sent, and the next step deletes the originals. With
/// `append`, creates it 0600 (whatever the umask allows of that) and tightens an
/// own journal that others can read (an earlier version used the umask) to 0600.
pub fn open_private(path: &Path, append: bool) -> io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let mut o = OpenOptions::new();
    o.read(true)
        .custom_flags(libc_flags::NOFOLLOW | libc_flags::NONBLOCK);
    if append {
        o.append(true).create(true).mode(0o600);
    }
    let file = o.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc_flags::ELOOP) {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; give the journal's real path with --journal",
                    path.display()
                ),
            )
        } else {
            e
        }
    })?;
    let meta = file.metadata()?;
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {why}: anyone who can write the journal can mark mail as sent. Check its lines, then `chown` it to yourself and `chmod 600` it, and run again",
                path.display()
            ),
        ))
    };
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return refuse(format!(
            "belongs to uid {}, not to you (uid {me})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return refuse(format!("is writable by group or others (mode {mode:04o})"));
    }
    if append && mode & 0o077 != 0 && meta.uid() == me {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        eprintln!(
            "mxsalvage: warning: {} was readable by others (mode {mode:04o}); made it 0600",
            path.display()
        );
    }
    Ok(file)
}

/// The open(2) flags and errno used above (Linux values, from rustix).
mod libc_flags {
    pub const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    pub const NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    pub const ELOOP: i32 = rustix::io::Errno::LOOP.raw_os_error();
}

/// An open journal, locked for this run, appended to with fsync.
#[derive(Debug)]
pub struct Journal {
    file: File,
    pub path: PathBuf,
}

impl Journal {
    /// Opens (creating) the journal for appending, takes an exclusive lock and reads
    /// what it already holds. A last line without its newline (torn) is closed with a
    /// newline first, so the next record starts on a line of its own.
    pub fn open(path: &Path) -> io::Result<(Journal, JournalState)> {
        let existed = path.exists();
        let mut file = open_private(path, true)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(format!(
                    "{} is in use by another mxsalvage reinject run",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let st = JournalState::parse(&text);
        if text.last().is_some_and(|&b| b != b'\n') {
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
        if !existed {
            file.sync_all()?;
            if let Some(dir) = path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
        }
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
            },
            st,
        ))
    }

    /// Appends records (one write) and fsyncs before returning.
    pub fn append<T: Serialize>(&mut self, recs: &[T]) -> io::Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        self.write(recs)?;
        self.file.sync_data()
    }

    /// Appends records (one write) without waiting for the disk: they are in the
    /// file (a killed process loses nothing) and become durable with the next
    /// [`Journal::append`], [`GroupCommit::durable`] or [`Journal::sync`].
    pub fn write<T: Serialize>(&mut self, recs: &[T]) -> io::Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in recs {
            serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        self.file.write_all(&buf)
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Group commit for the sessions of one run: lines are written at once (in the
/// order of [`GroupCommit::write`] calls, one `write(2)` each) and made durable on
/// demand; one `fdatasync` covers every line written before it began, so sessions
/// that need their `sending` markers durable at the same moment share one. After a
/// failed `fdatasync` nothing is ever reported durable again (Linux may drop the
/// dirty pages and report success the next time).
#[derive(Debug)]
pub struct GroupCommit<'a> {
    journal: std::sync::Mutex<&'a mut Journal>,
    /// Lines written (batches, counted).
    written: std::sync::atomic::AtomicU64,
    /// A second descriptor of the journal for `fdatasync`, and the last batch known
    /// durable.
    syncer: std::sync::Mutex<(File, u64)>,
    failed: std::sync::atomic::AtomicBool,
    /// `fdatasync` calls made.
    pub syncs: std::sync::atomic::AtomicU64,
}

impl<'a> GroupCommit<'a> {
    pub fn new(journal: &'a mut Journal) -> io::Result<GroupCommit<'a>> {
        let f = journal.file.try_clone()?;
        Ok(GroupCommit {
            journal: std::sync::Mutex::new(journal),
            written: 0.into(),
            syncer: std::sync::Mutex::new((f, 0)),
            failed: false.into(),
            syncs: 0.into(),
        })
    }

    /// Writes the lines (not yet durable); returns the batch's number for
    /// [`GroupCommit::durable`].
    pub fn write<T: Serialize>(&self, recs: &[T]) -> io::Result<u64> {
        use std::sync::atomic::Ordering;
        let mut j = self.journal.lock().expect("journal lock");
        j.write(recs)?;
        let n = self.written.load(Ordering::SeqCst) + 1;
        self.written.store(n, Ordering::SeqCst);
        Ok(n)
    }

    /// Returns once batch `upto` (and every batch before it) is on disk.
    pub fn durable(&self, upto: u64) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        let mut s = self.syncer.lock().expect("sync lock");
        if self.failed.load(Ordering::SeqCst) {
            return Err(io::Error::other("an earlier fsync of the journal failed"));
        }
        if s.1 >= upto {
            return Ok(());
        }
        // Every batch counted here was written before this fsync starts.
        let covers = self.written.load(Ordering::SeqCst);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = s.0.sync_data() {
            self.failed.store(true, Ordering::SeqCst);
            return Err(e);
        }
        s.1 = covers;
        Ok(())
    }

    /// Writes the lines and returns once they are durable.
    pub fn append<T: Serialize>(&self, recs: &[T]) -> io::Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let n = self.write(recs)?;
        self.durable(n)
    }

    /// Makes everything written durable.
    pub fn sync_all(&self) -> io::Result<()> {
        self.durable(self.written.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(state: State, rcpt: &str) -> Record {
        Record {
            time: "2026-01-01T00:00:00Z".into(),
            target: "smtp://127.0.0.1:25".into(),
            pair: PairKey::new("ABC", "00", &Bytes(rcpt.as_bytes().to_vec()), &None, &None),
            state,
            code: None,
            reply: None,
            step: None,
            attempt: 1,
            run: "r".into(),
        }
    }

    #[test]
    fn last_record_wins_and_torn_line_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        {
            let (mut j, st) = Journal::open(&p).unwrap();
            assert!(st.last.is_empty());
            j.append(&[rec(State::Sending, "a@x"), rec(State::Sent, "a@x")])
                .unwrap();
            j.append(&[rec(State::Sending, "b@x")]).unwrap();
        }
        // a crash in the middle of the next line
        let mut t = std::fs::read(&p).unwrap();
        t.extend_from_slice(br#"{"time":"2026-01-01T00:00:00Z","target":"smtp://127."#);
        std::fs::write(&p, &t).unwrap();
        let (mut j, st) = Journal::open(&p).unwrap();
        assert_eq!(st.warnings.len(), 1, "{:?}", st.warnings);
        let at = |r: &str| st.get(&rec(State::Sent, r).pair, "smtp://127.0.0.1:25");
        assert_eq!(at("a@x").unwrap().state, State::Sent);
        assert_eq!(at("b@x").unwrap().state, State::Sending);
        j.append(&[rec(State::Unknown, "b@x")]).unwrap();
        drop(j);
        let st = JournalState::read(&p).unwrap();
        assert_eq!(st.warnings.len(), 1);
        let k = rec(State::Sent, "b@x").pair;
        assert_eq!(
            st.get(&k, "smtp://127.0.0.1:25").unwrap().state,
            State::Unknown
        );
    }

    #[test]
    fn a_pair_is_one_pair_at_every_target() {
        let mut st = JournalState::default();
        let mut other = rec(State::Sent, "a@x");
        other.target = "smtp://localhost:25".into();
        st.insert(rec(State::Deferred, "a@x"));
        st.insert(other);
        st.insert(rec(State::Failed, "b@x"));
        let k = rec(State::Sent, "a@x").pair;
        let here = "smtp://127.0.0.1:25";
        assert_eq!(st.get(&k, here).unwrap().state, State::Deferred);
        let e: Vec<_> = st.delivered_elsewhere(&k, here).collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].target, "smtp://localhost:25");
        assert_eq!(st.delivered_elsewhere(&k, "smtp://localhost:25").count(), 0);
        let kb = rec(State::Sent, "b@x").pair;
        assert_eq!(st.delivered_elsewhere(&kb, "smtp://other:25").count(), 0);
    }

    /// Journal lines as every version wrote them are read, and written back byte for
    /// byte: field order, absent options left out, non-UTF-8 bytes as base64.
    #[test]
    fn lines_read_and_write_back_byte_for_byte() {
        for line in [
            r#"{"time":"2026-01-01T00:00:00Z","target":"smtp://127.0.0.1:25","queue_id":"ABC","sha256":"00","recipient":"a@x","state":"sending","attempt":1,"run":"r"}"#,
            r#"{"time":"2026-01-01T00:00:01Z","target":"lmtp://[::1]:24","queue_id":"ABC","sha256":"00","recipient":"jörg@x","orcpt":"rfc822;a@x","notify":"FAILURE,DELAY","state":"failed","code":550,"reply":"5.1.1 <jörg@x>: \"no\"","step":"RCPT TO command","attempt":2,"run":"r2"}"#,
            r#"{"time":"2026-01-01T00:00:02Z","target":"smtp://127.0.0.1:25","queue_id":"ABC","sha256":"00","recipient":{"base64":"/w=="},"orcpt":{"base64":"/w=="},"dsn":"suppressed","dsn_to":"s@x","dsn_message_id":"<m@x>","code":250,"reply":"ok","reason":"why","attempt":1,"run":"r"}"#,
            r#"{"time":"2026-01-01T00:00:03Z","target":"file:bounces/ABC.eml","queue_id":"ABC","sha256":"00","recipient":"a@x","dsn":"written","dsn_to":"","dsn_message_id":"<m@x>","attempt":1,"run":"r"}"#,
        ] {
            let st = JournalState::parse(line.as_bytes());
            assert!(st.warnings.is_empty(), "{:?}", st.warnings);
            let back: Vec<String> = (st.last.values().cloned().map(Line::Pair))
                .chain(st.dsn.values().cloned().map(Line::Dsn))
                .map(|l| serde_json::to_string(&l).unwrap())
                .collect();
            assert_eq!(back, [line]);
        }
    }

    #[test]
    fn second_run_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        let (_j, _) = Journal::open(&p).unwrap();
        assert!(Journal::open(&p).is_err());
    }
}
