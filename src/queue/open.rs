//! Opening and reading files of a spool without being stopped or swamped by what is there.
//!
//! Owns: the one way mxsalvage opens a file it found in a spool (`O_NOFOLLOW |
//! O_NONBLOCK`, then `fstat` on the descriptor: a symbolic link, FIFO, device or
//! socket is refused before a single byte is read, so a FIFO cannot block the run and
//! `/dev/zero` cannot eat memory), and bounded reads: at most the size the file had when
//! it was opened, and never more than a limit — for queue files derived from the size
//! record and `message_size_limit`, so a corrupt sparse 3 GB file is rejected after
//! reading its first kilobytes instead of being allocated. Files named by the user (a
//! `cat` argument, standard input) are opened normally but read under the same bounds.
//! In: paths and limits. Out: bytes or a [`ReadError`]. Never writes, never locks.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::qfile::parse_size_payload;
use super::record::read_record;

/// Postfix's default `message_size_limit` (bytes).
pub const DEFAULT_MESSAGE_SIZE_LIMIT: u64 = 10_240_000;
/// Slack on top of the content bound for the envelope, the extracted section (recipient
/// records of a message with tens of thousands of recipients) and milter edits.
const SLACK: u64 = 16 * 1024 * 1024;
/// How much is read before the size of the rest is judged.
const HEAD: u64 = 4096;
/// Bound for defer/bounce logs (a few hundred bytes per recipient).
pub const LOG_LIMIT: u64 = 64 * 1024 * 1024;
/// Bound for configuration files.
pub const CONFIG_LIMIT: u64 = 16 * 1024 * 1024;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    NotFound,
    PermissionDenied,
    /// The name is a symbolic link (never followed inside a spool).
    Symlink,
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than any file Postfix could have written under the limits in force.
    TooLarge {
        size: u64,
        limit: u64,
        why: String,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "no such file"),
            ReadError::PermissionDenied => write!(
                f,
                "permission denied (run as root or as the postfix user, or work on a copy of the spool)"
            ),
            ReadError::Symlink => write!(
                f,
                "is a symbolic link: not followed (Postfix never puts symbolic links into its queues; copy the spool with `cp -a`, not `cp -s`, or read the target with `mxsalvage cat TARGET`)"
            ),
            ReadError::NotRegular(kind) => write!(
                f,
                "is a {kind}, not a regular file: not read (no queue file is ever a {kind})"
            ),
            ReadError::TooLarge { size, limit, why } => write!(
                f,
                "is {} bytes, more than any queue file Postfix writes here ({why}: at most {} bytes): damaged or not a queue file; not read",
                size, limit
            ),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                ReadError::Symlink
            }
            _ => ReadError::Io(e),
        }
    }
}

/// What kind of file a metadata describes, for messages.
pub fn kind_of(m: &Metadata) -> &'static str {
    use rustix::fs::FileType as T;
    match T::from_raw_mode(m.mode()) {
        T::RegularFile => "regular file",
        T::Directory => "directory",
        T::Symlink => "symbolic link",
        T::Fifo => "FIFO",
        T::CharacterDevice => "character device",
        T::BlockDevice => "block device",
        T::Socket => "socket",
        T::Unknown => "special file",
    }
}

fn open_flags(path: &Path, follow: bool) -> Result<(File, Metadata), ReadError> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(io::Error::from)?;
    let file = File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    Ok((file, meta))
}

/// Opens a file found in a spool: no symbolic link followed, never blocks, regular
/// files only (checked on the open descriptor, so a swap after the walk is caught).
pub fn open_in_spool(path: &Path) -> Result<(File, Metadata), ReadError> {
    open_flags(path, false)
}

/// Reads at most `limit` bytes of a file found in a spool; a larger file is an error.
pub fn read_in_spool(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_in_spool(path)?;
    read_to_bound(file, meta.len(), limit, "the bound for this kind of file")
}

/// Reads a configuration file: symbolic links are followed (configuration management
/// uses them), but only a regular file is read, without blocking.
pub fn read_config(path: &Path) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_flags(path, true)?;
    read_to_bound(
        file,
        meta.len(),
        CONFIG_LIMIT,
        "the bound for configuration files",
    )
}

fn read_to_bound(file: File, size: u64, limit: u64, why: &str) -> Result<Vec<u8>, ReadError> {
    if size > limit {
        return Err(ReadError::TooLarge {
            size,
            limit,
            why: why.to_string(),
        });
    }
    let mut v = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut v)?;
    Ok(v)
}

/// The largest queue file Postfix could have written with `message_size_limit` (0 =
/// unlimited) when the file's size record claims `claim` bytes up to the extracted
/// section (`None` without a usable size record).
pub fn queue_file_limit(message_size_limit: u64, claim: Option<u64>) -> (u64, String) {
    let msl = if message_size_limit == 0 {
        DEFAULT_MESSAGE_SIZE_LIMIT
    } else {
        message_size_limit
    };
    let base = msl.max(claim.unwrap_or(0));
    let why = match claim {
        Some(c) if c > msl => format!("its size record claims {c} bytes of content"),
        _ if message_size_limit == 0 => format!(
            "message_size_limit = 0, bound taken from the default {DEFAULT_MESSAGE_SIZE_LIMIT}"
        ),
        _ => format!("message_size_limit = {msl}"),
    };
    (base.saturating_mul(2).saturating_add(SLACK), why)
}

/// The content bound a size record at the start of `head` claims (data offset + data
/// size), when the first record is a plausible size record.
fn size_claim(head: &[u8]) -> Option<u64> {
    let rec = read_record(head, 0).ok()??;
    if rec.rtype != b'C' {
        return None;
    }
    let s = parse_size_payload(rec.payload)?;
    (s.data_offset > 0 && s.data_size > 0)
        .then(|| (s.data_offset as u64).checked_add(s.data_size as u64))
        .flatten()
}

/// Reads a queue file found in a spool: the first few kilobytes, then — only when the
/// whole file is within [`queue_file_limit`] — the rest, up to the size it had when it
/// was opened. `maildrop` files have no (final) size record.
pub fn read_queue_file(
    path: &Path,
    message_size_limit: u64,
    maildrop: bool,
) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_in_spool(path)?;
    read_queue_stream(file, meta.len(), message_size_limit, maildrop)
}

/// [`read_queue_file`] on an open file of known size.
pub fn read_queue_stream(
    mut file: impl Read,
    size: u64,
    message_size_limit: u64,
    maildrop: bool,
) -> Result<Vec<u8>, ReadError> {
    let mut v = Vec::with_capacity(size.min(HEAD) as usize);
    (&mut file).take(size.min(HEAD)).read_to_end(&mut v)?;
    if size <= HEAD {
        return Ok(v);
    }
    let claim = if maildrop { None } else { size_claim(&v) };
    let (limit, why) = queue_file_limit(message_size_limit, claim);
    if size > limit {
        return Err(ReadError::TooLarge { size, limit, why });
    }
    v.reserve_exact((size - v.len() as u64) as usize);
    file.take(size - v.len() as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// Reads a stream of unknown size (standard input, a pipe named on the command line)
/// up to a queue-file bound; more is an error.
pub fn read_unsized(mut r: impl Read, message_size_limit: u64) -> Result<Vec<u8>, ReadError> {
    let (limit, why) = queue_file_limit(message_size_limit, None);
    let mut v = Vec::new();
    (&mut r).take(limit + 1).read_to_end(&mut v)?;
    if v.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: v.len() as u64,
            limit,
            why,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let (l, _) = queue_file_limit(0, None);
        assert_eq!(l, 2 * DEFAULT_MESSAGE_SIZE_LIMIT + SLACK);
        let (l, why) = queue_file_limit(10_240_000, Some(100_000_000));
        assert_eq!(l, 200_000_000 + SLACK);
        assert!(why.contains("size record"), "{why}");
    }

    #[test]
    fn fifo_and_symlink_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read_in_spool(&fifo, 100),
            Err(ReadError::NotRegular("FIFO"))
        ));
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(read_in_spool(&link, 100), Err(ReadError::Symlink)));
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_in_spool(&zero, 100), Err(ReadError::Symlink)));
        assert!(matches!(
            read_in_spool(Path::new("/dev/zero"), 100),
            Err(ReadError::NotRegular("character device"))
        ));
        // A configuration file may be a symbolic link, but never a FIFO.
        assert!(matches!(
            read_config(&link),
            Err(ReadError::NotRegular("FIFO"))
        ));
    }

    #[test]
    fn sparse_file_rejected_after_the_head() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sparse");
        let f = File::create(&p).unwrap();
        f.set_len(3 * 1024 * 1024 * 1024).unwrap();
        match read_queue_file(&p, 0, false) {
            Err(ReadError::TooLarge { size, .. }) => assert_eq!(size, 3 * 1024 * 1024 * 1024),
            other => panic!("{other:?}"),
        }
    }
}
