//! Per-recipient zip archives (`recipients/<dir>.zip`).
//!
//! Owns: the archive layout — `<dir>/README.txt` first, then every directory and file of
//! the bundle in path order under `<dir>/` (Maildir's empty `tmp/` and `cur/`
//! included) — deflate, entry times from each file's mtime (the arrival time, in UTC),
//! optional AES-256 (WinZip AE-2) with a per-recipient password, and the password file
//! (`address password` lines). Files are streamed from disk, never held whole. In: the
//! bundle's files. Out: the zip's hash. Fails with [`ExportError`] naming the path.
//! Unencrypted output is byte-for-byte deterministic; AES output is not (random salt).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use chrono::{Datelike, Timelike};
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, DateTime, ZipWriter};

use super::ExportError;
use super::names::mailbox_key;
use super::sinks::Formats;
use super::write::{TmpFile, Written, werr};

/// A password that never shows in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Parses a password file: `address password` per line (the password is the rest of
/// the line, trimmed), `#` comments and blank lines ignored. Keys are mailbox keys.
pub fn parse_passwords(text: &str) -> Result<BTreeMap<Vec<u8>, Secret>, String> {
    let mut m = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (addr, pw) = l
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: expected `address password`", n + 1))?;
        let pw = pw.trim();
        if pw.is_empty() {
            return Err(format!("line {}: empty password", n + 1));
        }
        let addr = addr.trim_matches(['<', '>']);
        m.insert(mailbox_key(addr.as_bytes()), Secret(pw.to_string()));
    }
    Ok(m)
}

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

/// What goes into one zip.
pub struct ZipJob<'a> {
    /// The bundle directory on disk (`OUT/recipients/<dir>`).
    pub base: &'a Path,
    /// Its name, the top folder inside the zip.
    pub root: &'a str,
    /// Files relative to `base`, `/`-separated, with their mtimes.
    pub files: &'a [(String, i64)],
    /// Extra (possibly empty) directories relative to `base`.
    pub dirs: &'a BTreeSet<String>,
    pub readme: &'a str,
    /// Time for README and directory entries.
    pub time: i64,
    pub password: Option<&'a Secret>,
}

fn zerr(path: &Path) -> impl FnOnce(zip::result::ZipError) -> ExportError + '_ {
    move |e| match e {
        zip::result::ZipError::Io(error) => ExportError::Write {
            path: path.to_path_buf(),
            error,
        },
        other => ExportError::Write {
            path: path.to_path_buf(),
            error: io::Error::other(other.to_string()),
        },
    }
}

/// Writes `dest` atomically.
pub fn write(dest: &Path, job: &ZipJob) -> Result<Written, ExportError> {
    let mut tmp = TmpFile::create(dest)?;
    let file = tmp.file.take().expect("fresh temp file");
    let mut z = ZipWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let opts = |time: i64, mode: u32, large: bool| {
        let o = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(zip_time(time))
            .unix_permissions(mode)
            .large_file(large);
        match job.password {
            Some(p) => o.with_aes_encryption(AesMode::Aes256, &p.0),
            None => o,
        }
    };
    let ze = zerr(dest);
    let res = (|| -> zip::result::ZipResult<()> {
        z.start_file(
            format!("{}/README.txt", job.root),
            opts(job.time, 0o600, false),
        )?;
        io::Write::write_all(&mut z, job.readme.as_bytes())?;
        let mut dirs: BTreeSet<String> = job.dirs.clone();
        for (f, _) in job.files {
            let mut p = f.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                dirs.insert(parent.to_string());
                p = parent;
            }
        }
        // Directories and files in one path-ordered sequence (a directory before its content).
        let mut items: Vec<(String, Option<i64>)> = dirs
            .into_iter()
            .map(|d| (format!("{d}/"), None))
            .chain(job.files.iter().map(|(f, t)| (f.clone(), Some(*t))))
            .collect();
        items.sort();
        for (name, t) in items {
            let full = format!("{}/{name}", job.root);
            match t {
                None => z.add_directory(full, opts(job.time, 0o700, false))?,
                Some(t) => {
                    let src = job.base.join(&name);
                    let mut f = File::open(&src)?;
                    let len = f.metadata()?.len();
                    z.start_file(full, opts(t, 0o600, len >= 0xFFFF_0000))?;
                    io::copy(&mut f, &mut z)?;
                }
            }
        }
        Ok(())
    })();
    res.map_err(ze)?;
    let w = z.finish().map_err(zerr(dest))?;
    let file = w.into_inner().map_err(|e| werr(dest)(e.into_error()))?;
    tmp.commit(file, Some(job.time))
}

/// The README put at the top of each zip: a heading, then each format's paragraph
/// ([`super::sink::Sink::readme`]) in registry order.
pub fn readme(address: &str, messages: usize, formats: Formats) -> String {
    let mut s = format!(
        "Mail for {address}\n\
         ====================\n\n\
         This archive holds {messages} message(s) that were waiting for delivery to\n\
         {address} on a backup mail server, saved by mxsalvage.\n\
         Every message is here in each of these forms; use whichever suits you.\n\n"
    );
    for sink in formats.sinks() {
        s.push_str(sink.readme());
    }
    s.push_str(
        "Attachments come from the sender: open them only if you expected them.\n\
         File times are the times the messages arrived (UTC).\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let m = parse_passwords("# c\n\nBob@X.org  s3cret pass \nal@x p\n").unwrap();
        assert_eq!(m[&b"bob@x.org".to_vec()].0, "s3cret pass");
        assert_eq!(m.len(), 2);
        assert!(parse_passwords("lonely\n").is_err());
        assert_eq!(format!("{:?}", m[&b"al@x".to_vec()]), "Secret(..)");
    }

    #[test]
    fn times() {
        let t = zip_time(1700000000);
        assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2023, 11, 14, 22));
    }
}
