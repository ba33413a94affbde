//! Record framing of a Postfix queue file (`global/record.c`).
//!
//! Owns: decoding one record — a type byte, a length in little-endian 7-bit groups
//! (at most 4 length bytes), and the payload — from a byte slice at a given offset.
//! In: the whole file as bytes and an offset. Out: a [`Record`] borrowing the payload.
//! Fails with [`FrameError`] carrying the byte offset: EOF inside the length or payload,
//! too many length bytes, or a payload over the size cap; [`Metered`] also with the
//! byte budget spent (a pointer loop). Pure; never panics.

use std::fmt;

/// Largest payload accepted. Postfix itself allows up to 2^28-1 bytes; a real queue
/// file never comes near this, so anything larger is treated as corruption.
pub const MAX_RECORD_LEN: usize = 256 * 1024 * 1024 - 1;

/// One framed record. `offset` is where its type byte is, `next` the offset right after
/// its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub rtype: u8,
    pub offset: usize,
    pub payload: &'a [u8],
    pub next: usize,
}

/// A framing error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The file ends inside a record's length bytes.
    EofInLength { offset: usize },
    /// More than 4 length bytes (Postfix's reader rejects this).
    TooManyLengthBytes { offset: usize },
    /// The file ends inside a record's payload.
    EofInPayload {
        offset: usize,
        len: usize,
        available: usize,
    },
    /// The declared payload length is over [`MAX_RECORD_LEN`].
    TooLong { offset: usize, len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::EofInLength { offset } => {
                write!(
                    f,
                    "unexpected end of file reading the length of the record at offset {offset}"
                )
            }
            FrameError::TooManyLengthBytes { offset } => {
                write!(f, "record at offset {offset} has more than 4 length bytes")
            }
            FrameError::EofInPayload {
                offset,
                len,
                available,
            } => write!(
                f,
                "unexpected end of file in the record at offset {offset}: {len} payload bytes declared, {available} present"
            ),
            FrameError::TooLong { offset, len } => {
                write!(
                    f,
                    "record at offset {offset} declares an absurd length of {len} bytes"
                )
            }
        }
    }
}

impl FrameError {
    pub fn offset(&self) -> usize {
        match *self {
            FrameError::EofInLength { offset }
            | FrameError::TooManyLengthBytes { offset }
            | FrameError::EofInPayload { offset, .. }
            | FrameError::TooLong { offset, .. } => offset,
        }
    }
}

/// Reads records while counting the bytes read against a budget (a multiple of the
/// file's size), so that a chain of pointer records that loops ends with an error
/// instead of running forever.
#[derive(Debug)]
pub struct Metered {
    consumed: usize,
    budget: usize,
}

/// What [`Metered::read`] fails with: a framing error, or the budget spent (at the
/// record that went over it).
#[derive(Debug)]
pub enum MeteredError {
    Frame(FrameError),
    Spent { offset: usize },
}

impl MeteredError {
    /// The caller's own error: `frame` of a framing error, `spent` of the offset where
    /// the budget ran out.
    pub fn into_error<E>(
        self,
        frame: impl FnOnce(FrameError) -> E,
        spent: impl FnOnce(usize) -> E,
    ) -> E {
        match self {
            MeteredError::Frame(e) => frame(e),
            MeteredError::Spent { offset } => spent(offset),
        }
    }
}

impl Metered {
    pub fn new(budget: usize) -> Self {
        Metered {
            consumed: 0,
            budget,
        }
    }

    /// [`read_record`] at `offset`, its bytes counted against the budget.
    pub fn read<'b>(
        &mut self,
        buf: &'b [u8],
        offset: usize,
    ) -> Result<Option<Record<'b>>, MeteredError> {
        let Some(rec) = read_record(buf, offset).map_err(MeteredError::Frame)? else {
            return Ok(None);
        };
        self.consumed += rec.next - rec.offset;
        if self.consumed > self.budget {
            return Err(MeteredError::Spent { offset: rec.offset });
        }
        Ok(Some(rec))
    }
}

/// Reads the record whose type byte is at `offset`. Returns `Ok(None)` at a clean end of
/// file (`offset == buf.len()`).
pub fn read_record(buf: &[u8], offset: usize) -> Result<Option<Record<'_>>, FrameError> {
    if offset >= buf.len() {
        return Ok(None);
    }
    let rtype = buf[offset];
    let mut pos = offset + 1;
    let mut len: usize = 0;
    let mut shift = 0u32;
    loop {
        let Some(&byte) = buf.get(pos) else {
            return Err(FrameError::EofInLength { offset });
        };
        pos += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift + 7 >= 32 {
            return Err(FrameError::TooManyLengthBytes { offset });
        }
    }
    if len > MAX_RECORD_LEN {
        return Err(FrameError::TooLong { offset, len });
    }
    let available = buf.len() - pos;
    if len > available {
        return Err(FrameError::EofInPayload {
            offset,
            len,
            available,
        });
    }
    Ok(Some(Record {
        rtype,
        offset,
        payload: &buf[pos..pos + len],
        next: pos + len,
    }))
}

/// Encodes one record (used by tests, fuzz seeds and the sample damager).
pub fn encode_record(out: &mut Vec<u8>, rtype: u8, payload: &[u8]) {
    out.push(rtype);
    let mut len = payload.len();
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        encode_record(&mut v, b'N', &vec![b'x'; len]);
        v[1..v.len() - len].to_vec()
    }

    #[test]
    fn length_encoding_matches_postfix_examples() {
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(21), vec![0x15]);
        assert_eq!(enc(2048), vec![0x80, 0x10]);
        assert_eq!(enc(20000), vec![0xa0, 0x9c, 0x01]);
    }

    #[test]
    fn round_trip() {
        let mut v = Vec::new();
        encode_record(&mut v, b'S', b"user@example.com");
        encode_record(&mut v, b'N', &vec![b'a'; 3000]);
        let r = read_record(&v, 0).unwrap().unwrap();
        assert_eq!(r.rtype, b'S');
        assert_eq!(r.payload, b"user@example.com");
        let r2 = read_record(&v, r.next).unwrap().unwrap();
        assert_eq!(r2.payload.len(), 3000);
        assert_eq!(read_record(&v, r2.next).unwrap(), None);
    }

    #[test]
    fn eof_in_length() {
        assert_eq!(
            read_record(&[b'T', 0x85], 0),
            Err(FrameError::EofInLength { offset: 0 })
        );
        assert_eq!(
            read_record(b"T", 0),
            Err(FrameError::EofInLength { offset: 0 })
        );
    }

    #[test]
    fn five_length_bytes_rejected() {
        let buf = [b'N', 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(
            read_record(&buf, 0),
            Err(FrameError::TooManyLengthBytes { offset: 0 })
        );
    }

    #[test]
    fn eof_in_payload() {
        let buf = [b'N', 5, b'a', b'b'];
        assert!(matches!(
            read_record(&buf, 0),
            Err(FrameError::EofInPayload {
                offset: 0,
                len: 5,
                available: 2
            })
        ));
    }
}
