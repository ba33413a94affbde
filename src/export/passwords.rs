//! Zip passwords: the password file and the secret type.
//!
//! Owns: [`Secret`] (never shown by `Debug`), parsing a password file (`address password`
//! per line; the password is the rest of the line after the blanks that follow the
//! address, trailing spaces included; `#` comments and blank lines ignored; addresses
//! matched as mailbox keys), and refusing a password file that group or others may
//! read ([`check_private`], as ssh refuses such a key). In: the file's text. Out:
//! mailbox key → password. Fails with a message naming the line or the file.
//! [`generate`] (`--generate-passwords FILE`): a fresh random password per mailbox
//! (ring's system CSPRNG, 20 characters of an alphabet without look-alikes, ~116 bits),
//! written to FILE (0600, new; the same format as `--zip-password-file`) and one handout
//! per user in `FILE.handouts/` (0700, files 0600): address, password, what opens the
//! zip. Never printed.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use super::ExportError;
use super::names::mailbox_key;
use super::write::werr;

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
    let mut text = String::from("# mxsalvage --generate-passwords: address password\n");
    let mut handouts = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    for k in mailboxes {
        let pw = fresh().map_err(ExportError::Refused)?;
        let address = String::from_utf8_lossy(k).into_owned();
        text.push_str(&format!("{address} {pw}\n"));
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
}
