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
        // 0..=255 in lines of 45 bytes, as uuencode writes them, backquotes for zero
        // (Python's `binascii.b2a_uu(line, backtick=True)`), CRLF line ends.
        let lines = [
            "junk before",
            "begin 600 all.bin",
            r#"M``$"`P0%!@<("0H+#`T.#Q`1$A,4%187&!D:&QP='A\@(2(C)"4F)R@I*BLL"#,
            r#"M+2XO,#$R,S0U-C<X.3H[/#T^/T!!0D-$149'2$E*2TQ-3D]045)35%565UA9"#,
            r#"M6EM<75Y?8&%B8V1E9F=H:6IK;&UN;W!Q<G-T=79W>'EZ>WQ]?G^`@8*#A(6&"#,
            r#"MAXB)BHN,C8Z/D)&2DY25EI>8F9J;G)V>GZ"AHJ.DI::GJ*FJJZRMKJ^PL;*S"#,
            r#"MM+6VM[BYNKN\O;Z_P,'"P\3%QL?(R<K+S,W.S]#1TM/4U=;7V-G:V]S=WM_@"#,
            r#"?X>+CY.7FY^CIZNOL[>[O\/'R\_3U]O?X^?K[_/W^_P``"#,
            "`",
            "end",
            "text after",
            "",
        ];
        let b = blocks(lines.join("\r\n").as_bytes());
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].data, (0..=255u8).collect::<Vec<u8>>());
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
