//! Spill files: what the run would otherwise keep in memory per message.
//!
//! Owns: an anonymous temporary file (no name in any directory — `O_TMPFILE` where the
//! kernel has it, else created and unlinked at once — so a crash leaves nothing behind)
//! on the output's file system, appended to by any thread, each record read back by
//! its [`Slot`] (offset and length). In: serialised records. Out: the same bytes.
//! Fails with [`ExportError::Write`] naming the directory the file lives in.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::ExportError;
use super::write::werr;

/// Where a record is in a spill file (12 bytes of bookkeeping per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub offset: u64,
    pub len: u32,
}

/// An append-only anonymous file.
pub struct Spill {
    dir: PathBuf,
    w: Mutex<(BufWriter<File>, u64)>,
    /// A second handle for reading (positional reads need no lock).
    r: File,
}

impl Spill {
    /// A new spill file in `dir` (which must exist).
    pub fn new(dir: &Path) -> Result<Spill, ExportError> {
        let f = tempfile::tempfile_in(dir).map_err(werr(dir))?;
        let r = f.try_clone().map_err(werr(dir))?;
        Ok(Spill {
            dir: dir.to_path_buf(),
            w: Mutex::new((BufWriter::with_capacity(256 * 1024, f), 0)),
            r,
        })
    }

    /// Appends one record.
    pub fn put(&self, rec: &[u8]) -> Result<Slot, ExportError> {
        let len = u32::try_from(rec.len()).map_err(|_| {
            werr(&self.dir)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "spill record larger than 4 GB",
            ))
        })?;
        let mut g = self.w.lock().unwrap_or_else(|e| e.into_inner());
        let offset = g.1;
        g.0.write_all(rec).map_err(werr(&self.dir))?;
        g.1 += rec.len() as u64;
        Ok(Slot { offset, len })
    }

    /// Appends a value as JSON (`pretty`: as `serde_json::to_vec_pretty`).
    pub fn put_json<T: serde::Serialize>(&self, v: &T, pretty: bool) -> Result<Slot, ExportError> {
        let b = if pretty {
            serde_json::to_vec_pretty(v)
        } else {
            serde_json::to_vec(v)
        }
        .map_err(|e| werr(&self.dir)(io::Error::other(e)))?;
        self.put(&b)
    }

    /// Makes everything appended so far readable with [`Spill::get`].
    pub fn flush(&self) -> Result<(), ExportError> {
        let mut g = self.w.lock().unwrap_or_else(|e| e.into_inner());
        g.0.flush().map_err(werr(&self.dir))
    }

    /// Reads a record back (after [`Spill::flush`]).
    pub fn get(&self, s: Slot) -> Result<Vec<u8>, ExportError> {
        let mut buf = vec![0u8; s.len as usize];
        self.r
            .read_exact_at(&mut buf, s.offset)
            .map_err(werr(&self.dir))?;
        Ok(buf)
    }

    /// Reads a JSON record back.
    pub fn get_json<T: serde::de::DeserializeOwned>(&self, s: Slot) -> Result<T, ExportError> {
        let b = self.get(s)?;
        serde_json::from_slice(&b)
            .map_err(|e| werr(&self.dir)(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = Spill::new(d.path()).unwrap();
        let a = s.put(b"hello").unwrap();
        let b = s.put_json(&vec![1, 2, 3], false).unwrap();
        s.flush().unwrap();
        assert_eq!(s.get(a).unwrap(), b"hello");
        assert_eq!(s.get_json::<Vec<i32>>(b).unwrap(), vec![1, 2, 3]);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
