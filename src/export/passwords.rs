//! Zip passwords: the password file and the secret type.
//!
//! Owns: [`Secret`] (never shown by `Debug`), reading and writing password files, and
//! refusing a password file that group or others may read ([`check_private`], as ssh
//! refuses such a key). Two formats are read:
//! - format 2 (what [`generate`] writes): a first line starting with [`HEADER2`]'s
//!   first words, then `address<TAB>password` per line, both fields with backslash
//!   escapes (`\\`, `\t`, `\n`, `\r`, `\xHH` for any other byte), so any address
//!   Postfix can queue (blanks, colons, `#`, bytes that are not UTF-8) round-trips;
//! - format 1 (hand-written files, and files written before format 2): `address
//!   password` per line; the password is the rest of the line after the blanks that
//!   follow the address, trailing spaces included. A format-1 file with the header of
//!   the old generator ([`HEADER1`]) is split at the *last* blanks instead (generated
//!   passwords hold none), so an address with blanks in such a file reads back right.
//!
//! In both, `#` comment lines and blank lines are ignored and addresses are matched as
//! mailbox keys; an address given twice with different passwords is refused. In: the
//! file's text. Out: mailbox key → password. Fails with a message naming the line.
//! [`generate`] (`--generate-passwords FILE`): a fresh random password per mailbox
//! (ring's system CSPRNG, 20 characters of an alphabet without look-alikes, ~116 bits),
//! written to FILE (0600, new; format 2) and one handout per user in `FILE.handouts/`
//! (0700, files 0600): address, password, what opens the zip. Never printed.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use super::error::ExportError;
use super::write::werr;
use crate::decode::names::mailbox_key;

/// A password that never shows in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A password file must not be readable (or writable) by group or others: one line
/// saying how to fix it otherwise. A missing file is left to the reader's error.
pub fn check_private(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(m) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = m.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "zip password file {p} is accessible by group or others (mode {mode:04o}): chmod 600 {p} (or give --allow-readable-passwords)",
            p = path.display()
        ));
    }
    Ok(())
}

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A fresh password: 20 characters in four groups of five (`xxxxx-xxxxx-…`).
pub fn fresh() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::new();
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    while out.len() < 23 {
        let mut b = [0u8; 32];
        rng.fill(&mut b)
            .map_err(|_| "no random numbers from the system".to_string())?;
        for &x in b.iter().filter(|&&x| x < limit) {
            if out.len() == 23 {
                break;
            }
            if out.len() % 6 == 5 {
                out.push('-');
            }
            out.push(ALPHABET[x as usize % ALPHABET.len()] as char);
        }
    }
    Ok(out)
}

/// A handout file name for `address` (letters, digits, `@._+-`; others become `_`).
fn handout_name(address: &str, taken: &mut std::collections::BTreeSet<String>) -> String {
    let base: String = address
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "@._+-".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    let base = base.trim_start_matches('.').to_string();
    let mut name = format!("{base}.txt");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}.txt");
        n += 1;
    }
    name
}

fn handout(address: &str, password: &str) -> String {
    [
        format!("Your salvaged mail: {address}"),
        String::new(),
        "While our mail server was down, mail for you was kept on the backup server. It".into(),
        format!("comes to you as a zip file, {address}.zip, from the administrator. It is"),
        "encrypted; this is its password (it comes separately from the zip on purpose):".into(),
        String::new(),
        format!("    {password}"),
        String::new(),
        "To open the zip:".into(),
        "  * Windows: 7-Zip (https://www.7-zip.org): right-click the zip, 7-Zip, Extract".into(),
        "    Here, and type the password; or Windows 11's File Explorer: double-click the".into(),
        "    zip, Extract all, and type the password.".into(),
        "  * macOS: double-click the zip (Archive Utility), or Keka; type the password.".into(),
        format!("  * Linux: 7z x {address}.zip (the unzip command cannot open it)."),
        "Inside, open index.html in a browser to read your mail; the .eml files open in any".into(),
        "mail program. README.txt in the zip says more.".into(),
        String::new(),
        "Keep this password to yourself.".into(),
        String::new(),
    ]
    .join("\n")
}

fn private_file(path: &Path, data: &str) -> Result<(), ExportError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(werr(path))?;
    f.write_all(data.as_bytes()).map_err(werr(path))?;
    f.sync_all().map_err(werr(path))
}

/// `--generate-passwords FILE`: a fresh password for every mailbox, written to FILE
/// and a handout per user in `FILE.handouts/`; both must not exist yet.
pub fn generate(
    file: &Path,
    mailboxes: &[Vec<u8>],
) -> Result<BTreeMap<Vec<u8>, Secret>, ExportError> {
    let dir = handouts_dir(file);
    for p in [file, dir.as_path()] {
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(ExportError::Refused(format!(
                "--generate-passwords: {} exists already (never overwritten: move it away, or give it as --zip-password-file)",
                p.display()
            )));
        }
    }
    let mut map = BTreeMap::new();
    let mut text = format!("{HEADER2}\n");
    let mut handouts = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    for k in mailboxes {
        let pw = fresh().map_err(ExportError::Refused)?;
        let address = String::from_utf8_lossy(k).into_owned();
        text.push_str(&format!("{}\t{}\n", escape(k), escape(pw.as_bytes())));
        handouts.push((handout_name(&address, &mut taken), handout(&address, &pw)));
        map.insert(k.clone(), Secret(pw));
    }
    private_file(file, &text)?;
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(werr(&dir))?;
    }
    for (name, h) in handouts {
        private_file(&dir.join(name), &h)?;
    }
    Ok(map)
}

/// Where the handouts of `--generate-passwords FILE` go: `FILE.handouts/`.
pub fn handouts_dir(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".handouts");
    PathBuf::from(s)
}

/// The first line of a format-2 password file (what `--generate-passwords` writes).
pub const HEADER2: &str = "# mxsalvage password file, format 2: address<TAB>password per line; \\\\ \\t \\n \\r \\xHH are escapes";

/// The first line the generator wrote before format 2 (its passwords hold no blanks).
pub const HEADER1: &str = "# mxsalvage --generate-passwords: address password";

/// A field of a format-2 line: `\` before `\`, tab, newline, carriage return, and
/// `\xHH` for other control bytes, DEL, bytes that are not UTF-8 and a leading `#`.
pub fn escape(b: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in b.utf8_chunks().enumerate() {
        for (j, c) in chunk.valid().char_indices() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '#' if i == 0 && j == 0 => out.push_str("\\x23"),
                c if c.is_control() && (c as u32) < 0x80 => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// The bytes a format-2 field stands for.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut it = s.bytes();
    while let Some(c) = it.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let h: Vec<u8> = it.by_ref().take(2).collect();
                let v = std::str::from_utf8(&h)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("`\\x` needs two hex digits")?;
                out.push(v);
            }
            _ => return Err("unknown escape (known: \\\\ \\t \\n \\r \\xHH)".into()),
        }
    }
    Ok(out)
}

/// One format-2 line: `address<TAB>password`.
fn line2(l: &str) -> Result<(Vec<u8>, String), String> {
    let (a, p) = l
        .split_once('\t')
        .ok_or("expected `address<TAB>password` (format 2)")?;
    if p.contains('\t') {
        return Err("more than one tab (a tab inside a field is written \\t)".into());
    }
    let addr = unescape(a)?;
    let pw = String::from_utf8(unescape(p)?).map_err(|_| "the password is not UTF-8")?;
    if addr.is_empty() {
        return Err("empty address".into());
    }
    Ok((addr, pw))
}

/// One format-1 line: `address password`; `last`: split at the last blanks.
fn line1(l: &str, last: bool) -> Result<(Vec<u8>, String), String> {
    let l = l.trim_start();
    let split = match last {
        true => l.trim_end_matches([' ', '\t']).rsplit_once([' ', '\t']),
        false => l.split_once([' ', '\t']),
    };
    let (addr, pw) = split.ok_or("expected `address password`")?;
    // The rest of the line is the password: leading blanks separate it from the
    // address, trailing spaces belong to it.
    let (addr, pw) = match last {
        true => (addr.trim_end_matches([' ', '\t']), pw),
        false => (addr, pw.trim_start_matches([' ', '\t'])),
    };
    Ok((
        addr.trim_matches(['<', '>']).as_bytes().to_vec(),
        pw.to_string(),
    ))
}

/// Parses a password file (format 2 when its first line starts with [`HEADER2`]'s
/// first words, else format 1; see the module comment). Keys are mailbox keys.
pub fn parse_passwords(text: &str) -> Result<BTreeMap<Vec<u8>, Secret>, String> {
    let first = text.lines().next().unwrap_or("");
    let v2 = first.starts_with("# mxsalvage password file, format 2");
    let generated1 = first.trim_end() == HEADER1;
    let mut m: BTreeMap<Vec<u8>, (Secret, usize)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Format 2 writes a leading `#` of an address as `\x23`, so only a `#` in the
        // first column starts a comment there.
        let comment = match v2 {
            true => line.starts_with('#'),
            false => line.trim_start().starts_with('#'),
        };
        if line.trim().is_empty() || comment {
            continue;
        }
        let (addr, pw) = match v2 {
            true => line2(line),
            false => line1(line, generated1),
        }
        .map_err(|e| format!("line {}: {e}", n + 1))?;
        if pw.is_empty() {
            return Err(format!("line {}: empty password", n + 1));
        }
        let key = mailbox_key(&addr);
        if let Some((old, at)) = m.get(&key)
            && old.0 != pw
        {
            return Err(format!(
                "line {}: {} has another password on line {at} (which one is meant?)",
                n + 1,
                String::from_utf8_lossy(&addr)
            ));
        }
        m.insert(key, (Secret(pw), n + 1));
    }
    Ok(m.into_iter().map(|(k, (s, _))| (k, s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let m =
            parse_passwords("# c\n\nBob@X.org  s3cret pass \nal@x p\n  <c@d>\tx y\r\n").unwrap();
        assert_eq!(m[&b"bob@x.org".to_vec()].0, "s3cret pass ");
        assert_eq!(m[&b"c@d".to_vec()].0, "x y");
        assert_eq!(m.len(), 3);
        assert!(parse_passwords("lonely\n").is_err());
        assert!(parse_passwords("a@b   \n").is_err());
        assert_eq!(format!("{:?}", m[&b"al@x".to_vec()]), "Secret(..)");
        let a = fresh().unwrap();
        assert_eq!(a.len(), 23);
        assert_ne!(a, fresh().unwrap());
        assert!(
            a.split('-')
                .all(|g| g.len() == 5 && g.bytes().all(|b| ALPHABET.contains(&b)))
        );
        let mut t = std::collections::BTreeSet::new();
        assert_eq!(handout_name("a/b@x", &mut t), "a_b@x.txt");
        assert_eq!(handout_name("a_b@x", &mut t), "a_b@x-2.txt");
    }

    /// Format 2 round-trips any address bytes and password; format 1 still reads.
    #[test]
    fn format2_round_trips() {
        let odd: Vec<&[u8]> = vec![
            b"alice@example.com x@example.com",
            b"alice@example.com x:@example.com",
            b"#hash@x",
            b" lead@x",
            b"tab\there\\@x",
            b"nl\n\r\x00@x",
            b"caf\xc3\xa9@x",
            b"bad\xff\xfe@x",
            b"alice@example.com",
        ];
        let mut text = format!("{HEADER2}\n# a comment\n\n");
        for (i, a) in odd.iter().enumerate() {
            let pw = if i == 3 {
                " sp ace\\ ".to_string()
            } else {
                format!("pw{i}")
            };
            text.push_str(&format!("{}\t{}\r\n", escape(a), escape(pw.as_bytes())));
        }
        let m = parse_passwords(&text).unwrap();
        assert_eq!(m.len(), odd.len());
        for (i, a) in odd.iter().enumerate() {
            let want = if i == 3 {
                " sp ace\\ ".to_string()
            } else {
                format!("pw{i}")
            };
            assert_eq!(m[&mailbox_key(a)].0, want, "{}", String::from_utf8_lossy(a));
        }
        assert!(parse_passwords(&format!("{HEADER2}\na@x pw\n")).is_err());
        assert!(parse_passwords(&format!("{HEADER2}\na@x\tp\\q\n")).is_err());
        assert!(parse_passwords(&format!("{HEADER2}\na@x\tp\\x4\n")).is_err());
        // The old generator's files: split at the last blank (its passwords have none).
        let old =
            format!("{HEADER1}\nalice@example.com pw1\nalice@example.com x@example.com pw2\n");
        let m = parse_passwords(&old).unwrap();
        assert_eq!(m[&b"alice@example.com".to_vec()].0, "pw1");
        assert_eq!(m[&b"alice@example.com x@example.com".to_vec()].0, "pw2");
        // Hand-written format 1: the rest of the line; a second, different password for
        // an address is refused, not silently taken.
        let e = parse_passwords("a@x p1\nA@x p 2\n").unwrap_err();
        assert!(
            e.starts_with("line 2: A@x has another password on line 1"),
            "{e}"
        );
        assert!(parse_passwords("a@x p1\na@x p1\n").is_ok());
    }
}
