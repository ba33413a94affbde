//! Per-recipient zip archives (`recipients/<dir>.zip`) as a [`Dest`].
//!
//! Owns: the archive — `<dir>/README.txt` first (never encrypted: it holds no mail and
//! says how to open the rest), the directories the zip's formats need, then every file
//! the sinks of `--zip-formats` render for each message, in mailbox order (oldest first),
//! then their per-mailbox files; entry times are the files' times (arrival, in UTC), modes
//! 0600/0700; deflated, except content that is compressed already (images, archives,
//! office documents, media, compressed PDFs), which is stored; optional AES-256 (WinZip
//! AE-2) with the mailbox's password for every entry but the README. The messages are
//! rendered and compressed in chunks of consecutive messages — on every core for a big
//! mailbox — and written in order, so the bytes never depend on the thread count
//! (unencrypted output is deterministic; AES output is not: random salt). Nothing is held
//! whole but one chunk per worker. In: the rendering of message `i` into a [`Dest`]. Out:
//! the zip's hash and every entry's path, size and SHA-256. Fails with
//! [`ExportError::Write`] naming the zip, and nothing else on stderr (a zip abandoned on
//! a full disk is finalised into nothing, see [`Fused`], and its temporary file removed).

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Cursor, Seek, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Datelike, Timelike};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::write::{FileOptions, SimpleFileOptions};
use zip::{AesMode, CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::manifest::FileEntry;

use super::error::ExportError;
use super::sink::{Body, Dest, FileOpts, Summary};
use super::sinks::Formats;
use super::sinks::html::local_time;
use super::write::{TmpFile, Written, werr};

pub use super::passwords::{Secret, parse_passwords};

/// Zip's MS-DOS time from seconds since the epoch (UTC; clamped to 1980..2107).
pub fn zip_time(secs: i64) -> DateTime {
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or_else(|_| DateTime::default())
}

/// Messages per chunk at most, and archive bytes per chunk at least (a chunk ends at
/// the first message that reaches it). Fixed, so chunks never depend on the machine.
pub const CHUNK_MESSAGES: usize = 64;
pub const CHUNK_BYTES: u64 = 2 << 20;

/// Splits a mailbox's messages (their archive sizes, in order) into chunks.
pub fn chunks(sizes: impl Iterator<Item = u64>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes, mut n) = (0, 0u64, 0);
    for (i, s) in sizes.enumerate() {
        bytes += s;
        n += 1;
        if bytes >= CHUNK_BYTES || n >= CHUNK_MESSAGES {
            out.push(start..i + 1);
            (start, bytes, n) = (i + 1, 0, 0);
        }
    }
    if n > 0 {
        out.push(start..start + n);
    }
    out
}

/// Whether content is compressed already (deflating it again wastes time for nothing):
/// known compressed formats by their magic bytes; a PDF when a fast trial deflate of its
/// start saves less than a tenth.
pub fn precompressed(data: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG",
        b"\xFF\xD8\xFF",       // JPEG
        b"GIF8",               // GIF
        b"PK\x03\x04",         // zip, docx/xlsx/pptx, odt/ods, jar, epub
        b"\x1F\x8B",           // gzip
        b"BZh",                // bzip2
        b"\xFD7zXZ\x00",       // xz
        b"7z\xBC\xAF\x27\x1C", // 7z
        b"Rar!\x1A\x07",       // rar
        b"\x28\xB5\x2F\xFD",   // zstd
        b"OggS",               // ogg
        b"ID3",                // mp3
        b"\xFF\xFB",           // mp3
        b"fLaC",               // flac
        b"\x1A\x45\xDF\xA3",   // mkv/webm
    ];
    if data.len() < 16 {
        return false;
    }
    if MAGIC.iter().any(|m| data.starts_with(m))
        || (data.starts_with(b"RIFF") && &data[8..12] == b"WEBP")
        || &data[4..8] == b"ftyp"
    // mp4, mov, heic, m4a
    {
        return true;
    }
    if data.starts_with(b"%PDF") {
        let sample = &data[..data.len().min(256 * 1024)];
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        if e.write_all(sample).is_ok()
            && let Ok(c) = e.finish()
        {
            return c.len() * 10 > sample.len() * 9;
        }
    }
    false
}

/// Entry options: deflated or stored, time, mode, optionally AES.
fn options<'a>(
    method: CompressionMethod,
    time: i64,
    mode: u32,
    large: bool,
    password: Option<&'a Secret>,
) -> FileOptions<'a, 'static, ()> {
    let o = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip_time(time))
        .unix_permissions(mode)
        .large_file(large);
    match password {
        Some(p) => o.with_aes_encryption(AesMode::Aes256, &p.0),
        None => o,
    }
}

fn zip_io(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// The zip file under the [`ZipWriter`]: after the first failed write or seek (a full
/// disk) it swallows everything, so that a writer dropped on the error path finalises
/// into nothing instead of printing its own `ZipWriter::drop` debug line; the error has
/// already been returned (and [`Fused::into_inner`] returns it again if anyone went on).
/// Positions go on being counted, so the zip crate never sees a seek go wrong.
struct Fused<W> {
    w: W,
    failed: Option<(io::ErrorKind, String)>,
    /// Set when the zip is given up for an error of another kind.
    abandoned: Arc<AtomicBool>,
    pos: u64,
    len: u64,
}

impl<W: Write + Seek> Fused<W> {
    fn new(w: W, abandoned: Arc<AtomicBool>) -> Fused<W> {
        Fused {
            w,
            failed: None,
            abandoned,
            pos: 0,
            len: 0,
        }
    }
    fn dead(&self) -> bool {
        self.failed.is_some() || self.abandoned.load(Ordering::Relaxed)
    }
    fn fail(&mut self, e: io::Error) -> io::Error {
        if self.failed.is_none() {
            self.failed = Some((e.kind(), e.to_string()));
        }
        e
    }
    fn into_inner(self) -> io::Result<W> {
        match self.failed {
            Some((kind, msg)) => Err(io::Error::new(kind, msg)),
            None => Ok(self.w),
        }
    }
}

impl<W: Write + Seek> Write for Fused<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.dead() {
            true => buf.len(),
            false => self.w.write(buf).map_err(|e| self.fail(e))?,
        };
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.dead() {
            true => Ok(()),
            false => self.w.flush().map_err(|e| self.fail(e)),
        }
    }
}

impl<W: Write + Seek> Seek for Fused<W> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.pos = match self.dead() {
            false => self.w.seek(to).map_err(|e| self.fail(e))?,
            true => {
                let (base, d) = match to {
                    io::SeekFrom::Start(p) => (p, 0),
                    io::SeekFrom::End(d) => (self.len, d),
                    io::SeekFrom::Current(d) => (self.pos, d),
                };
                base.saturating_add_signed(d)
            }
        };
        self.len = self.len.max(self.pos);
        Ok(self.pos)
    }
}

/// Counts and hashes what goes into one streamed entry.
struct Tee<'a, W: Write> {
    w: &'a mut W,
    h: Sha256,
    size: u64,
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.h.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// The inside of one zip (or of one chunk of it) as a [`Dest`].
struct ZipDest<'a, W: Write + Seek> {
    z: ZipWriter<W>,
    root: &'a str,
    password: Option<&'a Secret>,
    /// Hold each file in memory first (to choose stored or deflated); else stream it.
    buffered: bool,
    entries: Vec<FileEntry>,
    /// The zip, for error messages.
    path: &'a Path,
    /// Time of directory entries (the bundle's newest message).
    time: i64,
}

impl<W: Write + Seek> ZipDest<'_, W> {
    fn fail(&self, rel: &str, e: io::Error) -> ExportError {
        ExportError::Write {
            path: self.path.to_path_buf(),
            error: io::Error::new(e.kind(), format!("{}/{rel}: {e}", self.root)),
        }
    }
}

impl<W: Write + Seek> Dest for ZipDest<'_, W> {
    fn root(&self) -> &str {
        self.root
    }

    fn dir(&mut self, rel: &str) -> Result<(), ExportError> {
        let o = options(CompressionMethod::Stored, self.time, 0o700, false, None);
        // Directory entries carry no data: no encryption, the bundle's time.
        self.z
            .add_directory(format!("{}/{rel}/", self.root), o)
            .map_err(|e| self.fail(rel, zip_io(e)))
    }

    fn file(&mut self, rel: &str, opts: FileOpts, body: &mut Body<'_>) -> Result<(), ExportError> {
        let name = format!("{}/{rel}", self.root);
        let (sha256, size) = if self.buffered {
            let mut data = Vec::new();
            body(&mut data).map_err(|e| self.fail(rel, e))?;
            let method = if precompressed(&data) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            let large = data.len() as u64 >= 0xFFFF_0000;
            let o = options(method, opts.mtime, 0o600, large, self.password);
            let res = self
                .z
                .start_file(name.clone(), o)
                .map_err(zip_io)
                .and_then(|_| self.z.write_all(&data));
            res.map_err(|e| self.fail(rel, e))?;
            (hex::encode(Sha256::digest(&data)), data.len() as u64)
        } else {
            let o = options(
                CompressionMethod::Deflated,
                opts.mtime,
                0o600,
                true,
                self.password,
            );
            self.z
                .start_file(name.clone(), o)
                .map_err(|e| self.fail(rel, zip_io(e)))?;
            let mut t = Tee {
                w: &mut self.z,
                h: Sha256::new(),
                size: 0,
            };
            let res = body(&mut t);
            let (h, size) = (t.h, t.size);
            res.map_err(|e| self.fail(rel, e))?;
            (hex::encode(h.finalize()), size)
        };
        self.entries.push(FileEntry {
            path: name,
            sha256,
            size,
        });
        Ok(())
    }
}

/// What goes into one zip besides the messages.
pub struct ZipJob<'a> {
    /// `OUT/recipients/<dir>.zip`.
    pub dest: &'a Path,
    /// The bundle's name, the top folder inside the zip.
    pub root: &'a str,
    /// Directories of the zip's formats (their parents are added).
    pub dirs: &'a [&'a str],
    pub readme: &'a str,
    /// Time of the README and of the zip file.
    pub time: i64,
    pub password: Option<&'a Secret>,
    /// Chunks of the mailbox's messages ([`chunks`]).
    pub chunks: &'a [Range<usize>],
    /// Render each chunk on every core (a big mailbox) or on this thread.
    pub parallel: bool,
}

/// A zip written: its hash and size, and every entry.
pub struct Zipped {
    pub written: Written,
    pub entries: Vec<FileEntry>,
}

/// Writes `job.dest` atomically: README, directories, `message(i, dest)` for every
/// message of every chunk, then `mailbox(dest)`.
pub fn write(
    job: &ZipJob,
    message: &(dyn Fn(usize, &mut dyn Dest) -> Result<(), ExportError> + Sync),
    mailbox: &dyn Fn(&mut dyn Dest) -> Result<(), ExportError>,
    done: &(dyn Fn(usize) + Sync),
) -> Result<Zipped, ExportError> {
    let mut tmp = TmpFile::create(job.dest)?;
    let file = tmp.file.take().expect("fresh temp file");
    let abandon = Arc::new(AtomicBool::new(false));
    let fused = Fused::new(file, abandon.clone());
    let mut zd = ZipDest {
        z: ZipWriter::new(BufWriter::with_capacity(256 * 1024, fused)),
        root: job.root,
        password: job.password,
        buffered: false,
        entries: Vec::new(),
        path: job.dest,
        time: job.time,
    };
    if let Err(e) = fill(job, &mut zd, message, mailbox, done) {
        // Dropped unfinished: finalised into nothing, quietly (see [`Fused`]).
        abandon.store(true, Ordering::Relaxed);
        return Err(e);
    }
    let ZipDest { z, entries, .. } = zd;
    let w = z.finish().map_err(|e| werr(job.dest)(zip_io(e)))?;
    let fused = w.into_inner().map_err(|e| werr(job.dest)(e.into_error()))?;
    let file = fused.into_inner().map_err(werr(job.dest))?;
    let written = tmp.commit(file, Some(job.time))?;
    Ok(Zipped { written, entries })
}

type ZipFile = BufWriter<Fused<std::fs::File>>;

/// Everything of [`write`] between creating the zip and finishing it.
fn fill(
    job: &ZipJob,
    zd: &mut ZipDest<ZipFile>,
    message: &(dyn Fn(usize, &mut dyn Dest) -> Result<(), ExportError> + Sync),
    mailbox: &dyn Fn(&mut dyn Dest) -> Result<(), ExportError>,
    done: &(dyn Fn(usize) + Sync),
) -> Result<(), ExportError> {
    // The README holds no mail: never encrypted, so it can be read first.
    let o = options(CompressionMethod::Deflated, job.time, 0o600, false, None);
    let readme = format!("{}/README.txt", job.root);
    zd.z.start_file(readme.clone(), o)
        .map_err(zip_io)
        .and_then(|_| zd.z.write_all(job.readme.as_bytes()))
        .map_err(werr(job.dest))?;
    zd.entries.push(FileEntry {
        path: readme,
        sha256: hex::encode(Sha256::digest(job.readme.as_bytes())),
        size: job.readme.len() as u64,
    });
    let mut dirs = BTreeSet::new();
    for d in job.dirs {
        let mut p = *d;
        dirs.insert(p);
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent);
            p = parent;
        }
    }
    for d in dirs {
        zd.dir(d)?;
    }
    // One chunk: its messages rendered and compressed into a zip in memory.
    let chunk = |r: &Range<usize>| -> Result<(Vec<u8>, Vec<FileEntry>), ExportError> {
        let mut c = ZipDest {
            z: ZipWriter::new(Cursor::new(Vec::new())),
            root: job.root,
            password: job.password,
            buffered: true,
            entries: Vec::new(),
            path: job.dest,
            time: job.time,
        };
        for i in r.clone() {
            message(i, &mut c)?;
            done(i);
        }
        let bytes = c.z.finish().map_err(|e| werr(job.dest)(zip_io(e)))?;
        Ok((bytes.into_inner(), c.entries))
    };
    // Compressed in parallel, written in order, a window of chunks at a time.
    let window = if job.parallel {
        2 * rayon::current_num_threads().max(1)
    } else {
        1
    };
    for w in job.chunks.chunks(window) {
        let parts: Vec<_> = if job.parallel {
            w.par_iter().map(chunk).collect()
        } else {
            w.iter().map(chunk).collect()
        };
        for p in parts {
            let (bytes, entries) = p?;
            let a = ZipArchive::new(Cursor::new(bytes)).map_err(|e| werr(job.dest)(zip_io(e)))?;
            zd.z.merge_archive(a)
                .map_err(|e| werr(job.dest)(zip_io(e)))?;
            zd.entries.extend(entries);
        }
    }
    mailbox(zd)
}

/// What the README of an encrypted zip says first (it is the one entry stored without
/// encryption, so it can be read before the password is typed).
pub const ENCRYPTED_NOTE: &str = "\
This archive is protected by a password (AES-256 encryption). Only this
README can be read without it. To open the rest use one of:
  - Windows: 7-Zip (free, https://www.7-zip.org), or the File Explorer of
    Windows 11 (older Windows versions cannot open it);
  - macOS: Archive Utility (double-click), or Keka / The Unarchiver;
  - Linux: 7-Zip (`7z x FILE.zip`, package p7zip-full or 7zip).
Info-ZIP `unzip` cannot: it stops with \"need PK compat. v5.1 (can do v4.6)\".

The password was given to you separately by whoever sent you this archive
(your mail administrator): in person, on paper, by phone or in a separate
message, never together with the archive. If you do not have it, ask them;
nobody else can open the archive for you.

";

/// How a bundle's messages are filed, for its README.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub inbox: usize,
    pub junk: usize,
    /// The bundle has a Junk (spam is filtered into it), even when empty.
    pub junk_folder: bool,
}

/// The README put at the top of each zip: a heading, for an encrypted zip how to open
/// it, then each format's paragraph ([`super::sink::SinkInfo::readme`]) in registry order,
/// Junk's when there is one, and the notice of the messages withheld from the bundle
/// (`held`: why, sender, subject, time — no body).
pub fn readme(
    address: &str,
    counts: &Counts,
    formats: Formats,
    encrypted: bool,
    held: &[Summary],
) -> String {
    let messages = counts.inbox + counts.junk;
    let mut s = format!(
        "Mail for {address}\n\
         ====================\n\n\
         This archive holds {messages} message(s) that were waiting for delivery to\n\
         {address} on a backup mail server, saved by mxsalvage.\n\
         Every message is here in each of these forms; use whichever suits you.\n\n"
    );
    if encrypted {
        s.push_str(ENCRYPTED_NOTE);
    }
    for sink in formats.sinks() {
        s.push_str(sink.readme());
    }
    if counts.junk_folder {
        s.push_str(&junk_paragraph(counts.junk));
    }
    if !held.is_empty() {
        s.push_str(&withheld_notice(held));
    }
    s.push_str(
        "Attachments come from the sender: open them only if you expected them.\n\
         File times are the times the messages arrived (UTC).\n",
    );
    s
}

/// The README's paragraph on Junk.
fn junk_paragraph(n: usize) -> String {
    format!(
        "Junk/       - {n} message(s) the spam filter judged to be spam, kept apart\n\
         \x20             from your mail in the same forms (junk.mbox, Maildir/.Junk\n\
         \x20             where those are kept; in index.html, the Spam section).\n\
         \x20             Open them with care: do not follow their links or open\n\
         \x20             their attachments unless you are sure of the sender.\n\n"
    )
}

/// One line of hostile text for the README: control characters as spaces, invisible
/// and direction characters written out, at most 200 characters.
fn readme_line(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let v = crate::decode::names::visible(&clean);
    match v.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v,
    }
}

/// The README's notice of the messages withheld from the bundle.
fn withheld_notice(held: &[Summary]) -> String {
    let mut s = format!(
        "WITHHELD: {} message(s) to you are not in this archive\n\
         -----------------------------------------------------\n\
         A virus scanner found malware in them, or the spam filter judged them to\n\
         be spam. They cannot be opened from here. If you expected one of them,\n\
         ask your mail administrator, who has kept them.\n\n",
        held.len()
    );
    for h in held {
        let notice = h.notice();
        s.push_str(&format!(
            "  {}  {}\n      From:    {}\n      Subject: {}\n",
            local_time(h.arrival_unix),
            readme_line(&notice.why),
            readme_line(&notice.from),
            readme_line(notice.subject),
        ));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = zip_time(1700000000);
        assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2023, 11, 14, 22));
    }

    #[test]
    fn chunking() {
        assert_eq!(chunks([1u64, 2, 3].into_iter()), vec![0..3]);
        assert!(chunks(std::iter::empty()).is_empty());
        let big = chunks([CHUNK_BYTES, 1, CHUNK_BYTES, 5].into_iter());
        assert_eq!(big, vec![0..1, 1..3, 3..4]);
        let many = chunks(std::iter::repeat_n(1u64, 2 * CHUNK_MESSAGES + 1));
        assert_eq!(many.len(), 3);
    }

    #[test]
    fn stored_or_deflated() {
        let mut jpeg = b"\xFF\xD8\xFF\xE0".to_vec();
        jpeg.resize(100, 7);
        assert!(precompressed(&jpeg));
        assert!(!precompressed(&[b'a'; 1000]));
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend(std::iter::repeat_n(b"BT /F1 12 Tf (hello) Tj ET\n", 100).flatten());
        assert!(!precompressed(&pdf), "a PDF of plain text deflates well");
        let mut noisy = b"%PDF-1.7\n".to_vec();
        let mut x = 1u32;
        for _ in 0..20000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            noisy.push((x >> 16) as u8);
        }
        assert!(
            precompressed(&noisy),
            "a PDF of compressed streams is stored"
        );
    }
}
