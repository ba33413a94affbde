//! The `eml` sink: one RFC 5322 message per file (`eml/<stem>.eml`) with CRLF line ends.
//!
//! Owns: LF → CRLF conversion that never doubles a CR already before an LF (a bare CR
//! elsewhere stays as it is), and the per-message file (spam filed in Junk:
//! `Junk/eml/<stem>.eml`). In: the delivery headers and the
//! message. Out: bytes into a writer / a file through the bundle's [`Dest`]. Fails only
//! with the writer's I/O error.

use std::io::{self, Write};

use crate::export::error::ExportError;
use crate::export::sink::{Dest, FileOpts, Message, Sink, SinkInfo};

/// The `eml` format.
pub struct Eml;

/// What the `eml` format is.
pub static INFO: SinkInfo = SinkInfo {
    name: "eml",
    aliases: &[],
    location: "eml",
    dirs: &["eml"],
    junk_dirs: &["Junk", "Junk/eml"],
    readme: "eml/        - one .eml file per message: double-click to open it in your\n\
             \x20             mail program (Outlook, Apple Mail, Thunderbird, Windows Mail).\n\n",
};

impl Sink for Eml {
    fn info(&self) -> &'static SinkInfo {
        &INFO
    }
    fn message(&self, m: &Message, dest: &mut dyn Dest) -> Result<(), ExportError> {
        dest.file(
            &format!("{}eml/{}.eml", m.folder(), m.stem),
            FileOpts::at(m.arrival.0),
            &mut |w| {
                let mut c = Crlf::new();
                c.write(w, m.prepend)?;
                c.write(w, m.bytes)
            },
        )
    }
}

/// Streaming LF → CRLF converter; `prev_cr` carries state across chunks.
pub struct Crlf {
    prev_cr: bool,
}

impl Default for Crlf {
    fn default() -> Self {
        Self::new()
    }
}

impl Crlf {
    pub fn new() -> Crlf {
        Crlf { prev_cr: false }
    }

    pub fn write<W: Write + ?Sized>(&mut self, w: &mut W, data: &[u8]) -> io::Result<()> {
        let mut start = 0;
        for (i, &c) in data.iter().enumerate() {
            if c == b'\n' {
                let cr_before = if i == 0 {
                    self.prev_cr
                } else {
                    data[i - 1] == b'\r'
                };
                if !cr_before {
                    w.write_all(&data[start..i])?;
                    w.write_all(b"\r\n")?;
                    start = i + 1;
                }
            }
        }
        w.write_all(&data[start..])?;
        if let Some(&l) = data.last() {
            self.prev_cr = l == b'\r';
        }
        Ok(())
    }
}

/// Converts a whole buffer.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    Crlf::new().write(&mut out, data).expect("Vec write");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
        let mut out = Vec::new();
        let mut c = Crlf::new();
        c.write(&mut out, b"x\r").unwrap();
        c.write(&mut out, b"\ny\n").unwrap();
        assert_eq!(out, b"x\r\ny\r\n");
    }
}
