//! The SMTP/LMTP `DATA` stream: LF line ends become CRLF, lines that start with `.` get
//! a second `.` (RFC 5321 4.5.2), and a last line without a line end gets one. Nothing
//! else changes: no line folding, no added headers, 8-bit bytes and NULs pass through.
//!
//! Owns: [`DotStuffer`], a streaming [`Write`] adapter (any chunking of the input gives
//! the same output), and [`stuffed_len`] for `SIZE=`. The terminating `.` line is
//! written by [`DotStuffer::finish_content`]'s caller via [`END_OF_DATA`] so that the
//! caller can record "about to send the final dot" in between.

use std::io::{self, Write};

/// The end-of-data line that follows the content.
pub const END_OF_DATA: &[u8] = b".\r\n";

/// Streams message content into `inner` in SMTP DATA form.
pub struct DotStuffer<W: Write> {
    inner: W,
    at_line_start: bool,
    written: u64,
}

impl<W: Write> DotStuffer<W> {
    pub fn new(inner: W) -> Self {
        DotStuffer {
            inner,
            at_line_start: true,
            written: 0,
        }
    }

    /// Ends the content: a CRLF if the last line had no line end. Does not write the
    /// final `.` line. Returns the inner writer and the bytes written in all.
    pub fn finish_content(mut self) -> io::Result<(W, u64)> {
        if !self.at_line_start {
            self.emit(b"\r\n")?;
            self.at_line_start = true;
        }
        Ok((self.inner, self.written))
    }

    fn emit(&mut self, b: &[u8]) -> io::Result<()> {
        self.inner.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }
}

impl<W: Write> Write for DotStuffer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.at_line_start && rest[0] == b'.' {
                self.emit(b".")?;
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.emit(&rest[..i])?;
                    self.emit(b"\r\n")?;
                    self.at_line_start = true;
                    rest = &rest[i + 1..];
                }
                None => {
                    self.emit(rest)?;
                    self.at_line_start = false;
                    rest = &[];
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes the content takes in DATA form, without the final `.` line (the `SIZE=` value).
pub fn stuffed_len(content: &[u8]) -> u64 {
    let mut s = DotStuffer::new(io::sink());
    s.write_all(content).expect("sink never fails");
    s.finish_content().expect("sink never fails").1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = DotStuffer::new(Vec::new());
        for c in input.chunks(chunk.max(1)) {
            s.write_all(c).unwrap();
        }
        let (v, n) = s.finish_content().unwrap();
        assert_eq!(n as usize, v.len());
        v
    }

    #[test]
    fn crlf_and_dots_any_chunking() {
        let input = b".hidden\nline\n..two\n\n.\nend";
        let want = b"..hidden\r\nline\r\n...two\r\n\r\n..\r\nend\r\n";
        for chunk in 1..=input.len() {
            assert_eq!(stuff(input, chunk), want, "chunk {chunk}");
        }
        assert_eq!(stuffed_len(input), want.len() as u64);
    }

    #[test]
    fn bytes_pass_through() {
        let input = b"a\x00b\xff\rc\r\n. x\n";
        assert_eq!(stuff(input, 3), b"a\x00b\xff\rc\r\r\n.. x\r\n");
        assert_eq!(stuff(b"", 1), b"");
        assert_eq!(stuff(b"x", 1), b"x\r\n");
    }
}
