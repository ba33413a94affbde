//! RFC 3461 xtext and RFC 6533 utf-8-addr-xtext, for the DSN parameters `ENVID=` and
//! `ORCPT=`.
//!
//! Owns: encoding only (the queue stores these values decoded). Pure functions over
//! bytes; the output is always printable ASCII without spaces, so it is safe to put in
//! an SMTP command line.

/// RFC 3461 xtext: `!`..`~` except `+` and `=` as themselves, every other byte as
/// `+XX` (upper-case hex).
pub fn xtext(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// RFC 6533 utf-8-addr-xtext: printable ASCII except `+`, `=` and `\` as themselves,
/// every other character (space, controls, non-ASCII) as `\x{HEX}` of its code point
/// (the form Postfix's `uxtext_quote` writes). `None` when `raw` is not UTF-8.
pub fn utf8_addr_xtext(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if ('!'..='~').contains(&c) && !matches!(c, '+' | '=' | '\\') {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:02X}}}", c as u32));
        }
    }
    Some(out)
}

/// The `ORCPT=` value for a decoded `type;address` as the queue stores it: the type as
/// is (`rfc822`, `utf-8`, ...) and the address xtext-encoded (utf-8-addr-xtext for the
/// `utf-8` type). `None` when the value has no `;` or a `utf-8` address is not UTF-8.
pub fn orcpt_param(decoded: &[u8]) -> Option<String> {
    let semi = decoded.iter().position(|&b| b == b';')?;
    let (ty, addr) = (&decoded[..semi], &decoded[semi + 1..]);
    let ty = std::str::from_utf8(ty).ok()?.trim();
    if ty.is_empty() || !ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let enc = if ty.eq_ignore_ascii_case("utf-8") {
        utf8_addr_xtext(addr)?
    } else {
        xtext(addr)
    };
    Some(format!("{ty};{enc}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f` of every input in `cases` is the string given, or `None`.
    fn check(f: fn(&[u8]) -> Option<String>, cases: &[(&[u8], Option<&str>)]) {
        for &(raw, want) in cases {
            assert_eq!(f(raw).as_deref(), want, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn xtext_encodes_plus_equals_space_and_8bit() {
        for (raw, want) in [
            (&b"user@example.com"[..], "user@example.com"),
            (b"a+b=c d", "a+2Bb+3Dc+20d"),
            ("jörg".as_bytes(), "j+C3+B6rg"),
            (b"\r\n", "+0D+0A"),
        ] {
            assert_eq!(xtext(raw), want);
        }
    }

    #[test]
    fn utf8_addr_xtext_rfc6533() {
        check(
            utf8_addr_xtext,
            &[
                (
                    "jörg@example.com".as_bytes(),
                    Some("j\\x{F6}rg@example.com"),
                ),
                (b"a+b\\c d", Some("a\\x{2B}b\\x{5C}c\\x{20}d")),
                (
                    "用户@例子".as_bytes(),
                    Some("\\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}"),
                ),
                (b"\xff", None),
            ],
        );
    }

    #[test]
    fn orcpt_types() {
        check(
            orcpt_param,
            &[
                (b"rfc822;a+b@example.com", Some("rfc822;a+2Bb@example.com")),
                (
                    "utf-8;jörg@example.com".as_bytes(),
                    Some("utf-8;j\\x{F6}rg@example.com"),
                ),
                (b"no-semicolon", None),
                (b"bad type;x", None),
            ],
        );
    }
}
