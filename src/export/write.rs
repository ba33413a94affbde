//! Atomic file writes for the export tree.
//!
//! Owns: creating directories (mode 0700), writing files (mode 0600) under a temporary
//! name in the target directory (or a given one, for Maildir's `tmp/`), hashing while
//! writing, setting the modification time, and renaming into place; a file that is not
//! committed is removed when dropped. Files are *not* fsynced one by one: a new file is
//! made durable by the run's single barrier ([`sync_fs`]) before the manifest is written.
//! Only a file that replaces an existing one is fsynced before its rename (an earlier
//! manifest may list the old one), and [`AtomicFile::commit_durable`] always fsyncs. In: paths and bytes. Out: [`Written`]
//! (sha256 and size). Fails with [`ExportError::Write`] naming the path.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::error::ExportError;

/// Hash and size of a written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub sha256: String,
    pub size: u64,
}

/// Wraps an I/O error with the path it concerns.
pub fn werr(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |error| ExportError::Write {
        path: path.to_path_buf(),
        error,
    }
}

/// `mkdir -p` with mode 0700 for every directory created. A symbolic link where the
/// directory should be is an error, never followed (an export writes none).
pub fn create_dir(path: &Path) -> Result<(), ExportError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(werr(path))?;
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(werr(path)(io::Error::other(
            "is a symbolic link, not a directory (an export never follows one)",
        ))),
        Err(e) => Err(werr(path)(e)),
    }
}

/// Opens a file of the export for reading without following a symbolic link in its
/// last component and without blocking on a FIFO; anything but a regular file is an
/// error (`InvalidInput`).
pub fn open_read(path: &Path) -> io::Result<File> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(n) if n == rustix::io::Errno::LOOP.raw_os_error() => io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symbolic link (an export holds none; it is not followed)",
            ),
            _ => e,
        })?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file",
        ));
    }
    Ok(f)
}

/// Seconds since the epoch as a `SystemTime` (negative values clamp to the epoch).
pub fn system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn tmp_name(dir: &Path, dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.mxsalvage-tmp"))
}

fn open_new(tmp: &Path) -> Result<File, ExportError> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
    };
    match open() {
        // A leftover of a killed run (never followed: create_new does not open through a
        // symlink): removed, then created again. Only then, so a fresh export does not
        // pay a failing unlink per file.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(tmp).map_err(werr(tmp))?;
            open().map_err(werr(tmp))
        }
        r => r.map_err(werr(tmp)),
    }
}

/// A file being written under a temporary name; [`AtomicFile::commit`] puts it in place.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    w: Option<BufWriter<File>>,
    /// None: the content's SHA-256 is known already ([`write_known`]).
    hasher: Option<Sha256>,
    size: u64,
}

impl AtomicFile {
    /// A temporary file beside `dest`.
    pub fn create(dest: &Path) -> Result<AtomicFile, ExportError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        Self::create_in(&tmp_name(dir, dest), dest)
    }

    /// A temporary file at `tmp` (same file system as `dest`).
    pub fn create_in(tmp: &Path, dest: &Path) -> Result<AtomicFile, ExportError> {
        let f = open_new(tmp)?;
        Ok(AtomicFile {
            tmp: tmp.to_path_buf(),
            dest: dest.to_path_buf(),
            w: Some(BufWriter::with_capacity(64 * 1024, f)),
            hasher: Some(Sha256::new()),
            size: 0,
        })
    }

    /// Writes bytes, mapping errors to the destination path.
    pub fn put(&mut self, b: &[u8]) -> Result<(), ExportError> {
        let dest = self.dest.clone();
        self.write_all(b).map_err(werr(&dest))
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes, sets the modification time and renames into place. No fsync unless the
    /// destination exists already (see the module documentation).
    pub fn commit(self, mtime: Option<i64>) -> Result<Written, ExportError> {
        let replacing = replaces(&self.dest);
        self.finish(mtime, replacing)
    }

    /// Like [`AtomicFile::commit`], always fsyncing before the rename (the manifest).
    pub fn commit_durable(self, mtime: Option<i64>) -> Result<Written, ExportError> {
        self.finish(mtime, true)
    }

    fn finish(mut self, mtime: Option<i64>, sync: bool) -> Result<Written, ExportError> {
        let w = self.w.take().expect("not committed twice");
        let f = w
            .into_inner()
            .map_err(|e| werr(&self.dest)(e.into_error()))?;
        if let Some(t) = mtime {
            f.set_modified(system_time(t)).map_err(werr(&self.dest))?;
        }
        if sync {
            f.sync_all().map_err(werr(&self.dest))?;
        }
        drop(f);
        fs::rename(&self.tmp, &self.dest).map_err(werr(&self.dest))?;
        Ok(Written {
            sha256: self
                .hasher
                .take()
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            size: self.size,
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .w
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))?
            .write(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.w.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// True when `dest` exists: replacing it must not lose both versions in a crash.
fn replaces(dest: &Path) -> bool {
    fs::symlink_metadata(dest).is_ok()
}

/// Writes a whole file atomically.
pub fn write_file(dest: &Path, bytes: &[u8], mtime: Option<i64>) -> Result<Written, ExportError> {
    let mut f = AtomicFile::create(dest)?;
    f.put(bytes)?;
    f.commit(mtime)
}

/// [`write_file`] for bytes whose SHA-256 (`sha256`, hex) the caller has computed: not
/// hashed again (the archive copies: a third of the bytes an eml export hashes).
pub fn write_known(
    dest: &Path,
    bytes: &[u8],
    sha256: &str,
    mtime: Option<i64>,
) -> Result<Written, ExportError> {
    let mut f = AtomicFile::create(dest)?;
    f.hasher = None;
    f.put(bytes)?;
    let w = f.commit(mtime)?;
    Ok(Written {
        sha256: sha256.to_string(),
        ..w
    })
}

/// A seekable temporary file (for zip), committed by rename; removed when dropped.
pub struct TmpFile {
    tmp: PathBuf,
    dest: PathBuf,
    pub file: Option<File>,
}

impl TmpFile {
    pub fn create(dest: &Path) -> Result<TmpFile, ExportError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let tmp = tmp_name(dir, dest);
        let f = open_new(&tmp)?;
        Ok(TmpFile {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(f),
        })
    }

    /// Hashes the finished content, sets the mtime and renames into place (fsync only
    /// when replacing an existing file, as [`AtomicFile::commit`]).
    pub fn commit(mut self, mut f: File, mtime: Option<i64>) -> Result<Written, ExportError> {
        let e = werr(&self.dest);
        let replacing = replaces(&self.dest);
        let res = (|| -> io::Result<Written> {
            f.flush()?;
            f.rewind()?;
            let (sha256, size) = sha256_stream(&mut f)?;
            if let Some(t) = mtime {
                f.set_modified(system_time(t))?;
            }
            if replacing {
                f.sync_all()?;
            }
            Ok(Written { sha256, size })
        })();
        let w = res.map_err(e)?;
        drop(f);
        fs::rename(&self.tmp, &self.dest).map_err(werr(&self.dest))?;
        self.file = None;
        self.tmp = PathBuf::new();
        Ok(w)
    }
}

/// sha256 (hex) and length of everything `r` yields, read in 64 KiB pieces.
pub fn sha256_stream<R: Read>(r: &mut R) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// fsyncs a directory (after renaming the manifest into it).
pub fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(werr(dir))
}

/// The durability barrier: flushes everything written to the file system holding `dir`
/// (data, inodes and directory entries) with `syncfs(2)`, and fsyncs `dir` itself.
pub fn sync_fs(dir: &Path) -> Result<(), ExportError> {
    let d = File::open(dir).map_err(werr(dir))?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::fs::syncfs(&d).map_err(|e| werr(dir)(e.into()))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    rustix::fs::sync();
    d.sync_all().map_err(werr(dir))
}

/// SHA-256 and size of a file on disk.
pub fn hash_file(path: &Path) -> Result<Written, ExportError> {
    let mut f = open_read(path).map_err(werr(path))?;
    let (sha256, size) = sha256_stream(&mut f).map_err(werr(path))?;
    Ok(Written { sha256, size })
}

/// Removes `dir` and the directories below it, bottom-up, as long as they are empty
/// (a bundle prepared for a message that then could not be read). Never removes files.
pub fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_modes_and_hash() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/a.txt");
        create_dir(p.parent().unwrap()).unwrap();
        let w = write_file(&p, b"hello\n", Some(1_700_000_000)).unwrap();
        assert_eq!(w.size, 6);
        assert_eq!(w.sha256, hex::encode(Sha256::digest(b"hello\n")));
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(m.modified().unwrap(), system_time(1_700_000_000));
        let dm = fs::metadata(p.parent().unwrap()).unwrap();
        assert_eq!(dm.permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b");
        let mut f = AtomicFile::create(&p).unwrap();
        f.put(b"x").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
