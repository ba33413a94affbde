//! uuencode: the `x-uuencode` transfer encoding and uuencoded blocks in text bodies.
//!
//! Owns: finding `begin <mode> <name>` … `end` blocks in a byte string and decoding them
//! (the POSIX uuencode format; each line's first character gives its length). mail-parser
//! knows only base64 and quoted-printable, so such parts reach us raw. In: bytes. Out:
//! [`Block`]s, each decoded or marked as damaged. Never fails: a damaged line is decoded
//! as far as it goes and the block says so.

/// One uuencoded file found in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The file name on the `begin` line (may be empty).
    pub name: String,
    pub data: Vec<u8>,
    /// A line was malformed or `end` is missing: `data` is what could be decoded.
    pub damaged: bool,
}

/// Decodes one character of a uuencoded line (backquote is zero, as space).
fn sixbits(c: u8) -> Option<u8> {
    match c {
        b'`' => Some(0),
        b' '..=b'_' => Some((c - b' ') & 0x3f),
        _ => None,
    }
}

/// Decodes one data line into `out`; `false` if it is malformed.
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((&len, rest)) = line.split_first() else {
        return false;
    };
    let Some(n) = sixbits(len).map(usize::from) else {
        return false;
    };
    let mut got = 0;
    let mut ok = true;
    for quad in rest.chunks(4) {
        if got >= n {
            break;
        }
        let mut b = [0u8; 4];
        for (i, &c) in quad.iter().enumerate() {
            match sixbits(c) {
                Some(v) => b[i] = v,
                None => ok = false,
            }
        }
        let bytes = [
            (b[0] << 2) | (b[1] >> 4),
            (b[1] << 4) | (b[2] >> 2),
            (b[2] << 6) | b[3],
        ];
        let take = (n - got).min(3).min(quad.len().saturating_sub(1));
        out.extend_from_slice(&bytes[..take]);
        got += take;
    }
    ok && got == n
}

/// `begin <octal mode> <name>` → the name.
fn begin_line(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"begin ")?;
    let sp = rest.iter().position(|&c| c == b' ')?;
    let (mode, name) = (&rest[..sp], &rest[sp + 1..]);
    if mode.is_empty() || mode.len() > 4 || !mode.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    Some(String::from_utf8_lossy(name).trim().to_string())
}

/// Every uuencoded block in `body` (lines may end in LF or CRLF), in order.
pub fn blocks(body: &[u8]) -> Vec<Block> {
    let mut found = Vec::new();
    let mut lines = body
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    while let Some(line) = lines.next() {
        let Some(name) = begin_line(line) else {
            continue;
        };
        let (mut data, mut bad, mut ended) = (Vec::new(), false, false);
        for l in lines.by_ref() {
            if l == b"end" {
                ended = true;
                break;
            }
            if l.is_empty() || l == b"`" || l == b" " {
                continue; // the zero-length line before `end`
            }
            bad |= !decode_line(l, &mut data);
        }
        found.push(Block {
            name,
            data,
            damaged: bad || !ended,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_world() {
        let b = blocks(b"begin 644 hello.txt\n,2&5L;&\\@=V]R;&0*\n`\nend\n");
        assert_eq!(
            b,
            [Block {
                name: "hello.txt".into(),
                data: b"Hello world\n".to_vec(),
                damaged: false
            }]
        );
    }

    #[test]
    fn every_byte_and_crlf() {
        // Lines of 45 bytes, as uuencode writes them, CRLF line ends, spaces for zero.
        let data: Vec<u8> = (0..=255u8).collect();
        let mut enc = b"junk before\r\nbegin 600 all.bin\r\n".to_vec();
        for chunk in data.chunks(45) {
            enc.push(b' ' + chunk.len() as u8);
            for t in chunk.chunks(3) {
                let t = [t[0], *t.get(1).unwrap_or(&0), *t.get(2).unwrap_or(&0)];
                for v in [
                    t[0] >> 2,
                    (t[0] << 4 | t[1] >> 4) & 63,
                    (t[1] << 2 | t[2] >> 6) & 63,
                    t[2] & 63,
                ] {
                    enc.push(if v == 0 { b'`' } else { b' ' + v });
                }
            }
            enc.extend_from_slice(b"\r\n");
        }
        enc.extend_from_slice(b"`\r\nend\r\ntext after\r\n");
        let b = blocks(&enc);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].data, data);
        assert!(!b[0].damaged);
    }

    #[test]
    fn truncated_and_not_a_block() {
        let b = blocks(b"begin 644 x\n,2&5L;&\\@=V]R;&0*\n");
        assert!(b[0].damaged);
        assert_eq!(b[0].data, b"Hello world\n");
        assert!(blocks(b"begin here, my friend\nend\n").is_empty());
    }
}
