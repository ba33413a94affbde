//! Zip passwords: the password file and the secret type.
//!
//! Owns: [`Secret`] (never shown by `Debug`), parsing a password file (`address password`
//! per line; the password is the rest of the line after the blanks that follow the
//! address, trailing spaces included; `#` comments and blank lines ignored; addresses
//! matched as mailbox keys), and refusing a password file that group or others may
//! read ([`check_private`], as ssh refuses such a key). In: the file's text. Out:
//! mailbox key → password. Fails with a message naming the line or the file.

use std::collections::BTreeMap;

use super::names::mailbox_key;

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

/// Parses a password file. Keys are mailbox keys.
pub fn parse_passwords(text: &str) -> Result<BTreeMap<Vec<u8>, Secret>, String> {
    let mut m = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.trim_end().is_empty() || l.starts_with('#') {
            continue;
        }
        let (addr, pw) = l
            .split_once([' ', '\t'])
            .ok_or_else(|| format!("line {}: expected `address password`", n + 1))?;
        // The rest of the line is the password: leading blanks separate it from the
        // address, trailing spaces belong to it.
        let pw = pw.trim_start_matches([' ', '\t']);
        if pw.is_empty() {
            return Err(format!("line {}: empty password", n + 1));
        }
        let addr = addr.trim_matches(['<', '>']);
        m.insert(mailbox_key(addr.as_bytes()), Secret(pw.to_string()));
    }
    Ok(m)
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
    }
}
