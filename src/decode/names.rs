//! Safe, deterministic names for everything export writes: hostile bytes from the
//! envelope and the message decoded into path components (a leaf inside `decode`:
//! `decode` for attachment names, `export`, `verify` and `dovecot` for mailbox keys and
//! bundle names import it; it imports nothing of the crate).
//!
//! Owns: the mailbox key of a recipient (case-folded address bytes), the directory name
//! of each recipient bundle, attachment file names, the `<arrival-date>_<queue-id>` stem
//! and the Maildir base name. In: hostile bytes from the envelope and the message.
//! Out: single path components that never contain a path separator, `..`, a leading
//! dot, control characters or NUL, never exceed the length limits below, and never
//! collide. Pure; cannot fail.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

/// Longest recipient directory name (bytes); leaves room for `.zip` and temp names.
pub const MAX_DIR: usize = 200;
/// Longest attachment file name (bytes).
pub const MAX_ATTACHMENT: usize = 150;

/// The mailbox a recipient address belongs to: the address case-folded (Unicode
/// lower case when it is UTF-8, ASCII lower case of the raw bytes otherwise).
pub fn mailbox_key(addr: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(addr) {
        Ok(s) => s.to_lowercase().into_bytes(),
        Err(_) => addr.to_ascii_lowercase(),
    }
}

/// First `n` hex digits of the SHA-256 of `b`.
pub fn short_hash(b: &[u8], n: usize) -> String {
    let h = hex::encode(Sha256::digest(b));
    h[..n.min(h.len())].to_string()
}

/// Characters never used in a name: path separators, characters Windows refuses,
/// controls (C0, DEL, C1 incl. NEL), line and paragraph separators (U+2028, U+2029:
/// line breaks to many tools), and invisible formatting characters that can disguise
/// a name (zero-width and joiners, bidirectional controls, soft hyphen, word joiner and
/// invisible operators, interlinear annotation, tag characters, BOM).
fn bad_char(c: char) -> bool {
    invisible(c)
        || matches!(
            c,
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '\u{FFFD}'
        )
}

/// Controls, line and paragraph separators and invisible formatting characters (see
/// [`bad_char`]): what can make a name read as something else.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c as u32,
            0x00AD
                | 0x061C
                | 0x180E
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0xE0000..=0xE007F
        )
}

/// `s` with every [`invisible`] character written out as `[U+XXXX]`: a sender's name as
/// sent, shown so that it cannot disguise itself (`invoice[U+202E]txt.exe`).
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if invisible(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Device names Windows reserves whatever the extension (`con.txt` is `con`):
/// CON, PRN, AUX, NUL, CONIN$, CONOUT$, COM0–COM9 and LPT0–LPT9, and COM/LPT with a
/// superscript digit (`COM¹`, `LPT³`), which Windows also treats as devices. Windows
/// ignores trailing spaces and dots before the extension (`con .txt`, `nul..txt`).
fn reserved_windows(name: &str) -> bool {
    let base = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end_matches([' ', '.'])
        .to_lowercase();
    if matches!(
        base.as_str(),
        "con" | "prn" | "aux" | "nul" | "conin$" | "conout$"
    ) {
        return true;
    }
    let digit = base
        .strip_prefix("com")
        .or_else(|| base.strip_prefix("lpt"));
    matches!(
        digit,
        Some("0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³")
    )
}

/// Whether `s` can be used as a path component as it is.
pub fn is_safe_component(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('.')
        && !s.starts_with('-')
        && !s.ends_with('.')
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("..")
        && !s.chars().any(|c| bad_char(c) || c == ' ')
        && !reserved_windows(s)
}

/// Replaces what is not allowed (inner spaces only when `spaces`), removes leading dots
/// and spaces, replaces a leading `-` (read as an option by command-line tools), and
/// cuts to `max` bytes on a character boundary. May be empty.
fn scrub(s: &str, max: usize, spaces: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if bad_char(c) || (c == ' ' && !spaces) {
                '_'
            } else {
                c
            }
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", "_.");
    }
    let mut trimmed = out.trim_start_matches(['.', ' ']).to_string();
    if trimmed.starts_with('-') {
        trimmed.replace_range(..1, "_");
    }
    let mut cut = truncate(&trimmed, max).to_string();
    while cut.ends_with('.') || cut.ends_with(' ') {
        cut.pop();
    }
    cut
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Assigns a directory name to every mailbox key. `taken` holds assignments that must be
/// kept (from an earlier export); new keys are processed in sorted order, keys usable as
/// they are first, so the result does not depend on the order of discovery.
pub fn assign_dirs(
    keys: &BTreeSet<Vec<u8>>,
    taken: &BTreeMap<Vec<u8>, String>,
) -> BTreeMap<Vec<u8>, String> {
    let mut out = taken.clone();
    let mut used: BTreeSet<String> = taken.values().map(|d| d.to_lowercase()).collect();
    let mut later = Vec::new();
    for k in keys {
        if out.contains_key(k) {
            continue;
        }
        match std::str::from_utf8(k) {
            Ok(s) if is_safe_component(s, MAX_DIR) && !used.contains(&s.to_lowercase()) => {
                used.insert(s.to_lowercase());
                out.insert(k.clone(), s.to_string());
            }
            _ => later.push(k),
        }
    }
    for k in later {
        let lossy = String::from_utf8_lossy(k);
        let mut len = 8;
        loop {
            let suffix = format!("~{}", short_hash(k, len));
            let mut base = scrub(&lossy, MAX_DIR - suffix.len(), false);
            if base.is_empty() {
                base = "recipient".into();
            }
            let name = format!("{base}{suffix}");
            if !used.contains(&name.to_lowercase()) {
                used.insert(name.to_lowercase());
                out.insert(k.clone(), name);
                break;
            }
            if len >= 64 {
                // Cannot happen for distinct keys; fall back to the full hash plus a counter.
                let mut n = 2;
                while used.contains(&format!("{name}-{n}")) {
                    n += 1;
                }
                let name = format!("{name}-{n}");
                used.insert(name.clone());
                out.insert(k.clone(), name);
                break;
            }
            len *= 2;
        }
    }
    out
}

/// The attachment names already given within one message, compared case-insensitively
/// (Windows and macOS file systems fold case), with the next free `-N` suffix of every
/// name, so that giving many parts the same name stays linear.
#[derive(Debug, Default)]
pub struct NameSet {
    used: HashSet<String>,
    next: HashMap<String, usize>,
}

impl NameSet {
    pub fn new() -> NameSet {
        NameSet::default()
    }

    /// Whether `name` is taken (case-insensitively).
    pub fn contains(&self, name: &str) -> bool {
        self.used.contains(&name.to_lowercase())
    }

    /// `stem + ext` when free, else `stem-N + ext` with the smallest N ≥ 2 not tried
    /// before for this name; records and returns it.
    fn unique(&mut self, stem: &str, ext: &str) -> String {
        let name = format!("{stem}{ext}");
        let key = name.to_lowercase();
        if self.used.insert(key.clone()) {
            return name;
        }
        let n = self.next.entry(key).or_insert(2);
        loop {
            let candidate = format!("{stem}-{n}{ext}");
            *n += 1;
            if self.used.insert(candidate.to_lowercase()) {
                return candidate;
            }
        }
    }
}

/// A safe file name for an attachment, unique (case-insensitively) within `used`.
/// `index` numbers unnamed parts. The extension comes from `content_type` when the part
/// has no name (`part-1.txt` for a delivery report, `part-2.bin` when unknown) or its
/// name has none and the type says which (`README` sent as text/plain → `README.txt`).
pub fn attachment_name(
    original: Option<&str>,
    index: usize,
    content_type: &str,
    used: &mut NameSet,
) -> String {
    // Only the last path component of what the sender wrote.
    let last = original
        .map(|o| o.rsplit(['/', '\\']).next().unwrap_or(""))
        .unwrap_or("");
    let (stem, ext) = match last.rfind('.') {
        Some(p) if p > 0 && last.len() - p <= 16 => (&last[..p], &last[p..]),
        _ => (last, ""),
    };
    let ext = scrub(ext, 16, false);
    let ext = if ext.is_empty() {
        String::new()
    } else {
        format!(".{}", ext.trim_start_matches('.'))
    };
    let mut stem = scrub(stem, MAX_ATTACHMENT - ext.len() - 8, true);
    if stem.is_empty() {
        stem = format!("part-{index}");
    }
    let ext = match default_ext(content_type) {
        d if ext.is_empty() && (original.is_none() || d != ".bin") => d.to_string(),
        _ => ext,
    };
    if reserved_windows(&stem) {
        stem = format!("_{stem}");
    }
    used.unique(&stem, &ext)
}

/// The extension for a part without one: by type, `.txt` for every text-like type
/// (any `text/*`, delivery and disposition reports, header blocks), `.bin` when unknown.
pub fn default_ext(content_type: &str) -> &'static str {
    let ct = content_type.to_ascii_lowercase();
    match ct.as_str() {
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "text/csv" => ".csv",
        "text/xml" | "application/xml" => ".xml",
        "message/rfc822" | "message/global" => ".eml",
        "message/delivery-status"
        | "message/global-delivery-status"
        | "message/disposition-notification"
        | "message/global-disposition-notification"
        | "message/feedback-report"
        | "message/rfc822-headers"
        | "message/global-headers"
        | "text/rfc822-headers"
        | "application/json" => ".txt",
        "application/pdf" => ".pdf",
        "application/zip" => ".zip",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        _ if ct.starts_with("text/") => ".txt",
        _ => ".bin",
    }
}

/// `<YYYYMMDD-HHMMSS>_<queue-id>` (arrival time in UTC), the stem of eml and text names.
pub fn stem(arrival_secs: i64, queue_id: &str) -> String {
    let t = chrono::DateTime::from_timestamp(arrival_secs, 0)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|| "00000000-000000".into());
    format!("{t}_{queue_id}")
}

/// Maildir base name: `<secs>.M<usec>Q<queue-id>.mxsalvage,S=<size>`. Unique per
/// message, derived from the message only (never from the run).
pub fn maildir_name(secs: i64, usec: i64, queue_id: &str, size: u64) -> String {
    format!("{secs}.M{usec}Q{queue_id}.mxsalvage,S={size}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(addrs: &[&[u8]]) -> BTreeMap<Vec<u8>, String> {
        let keys = addrs.iter().map(|a| mailbox_key(a)).collect();
        assign_dirs(&keys, &BTreeMap::new())
    }

    #[test]
    fn plain_addresses_are_kept() {
        let d = dirs(&[b"Bob@Example.COM"]);
        assert_eq!(d[&b"bob@example.com".to_vec()], "bob@example.com");
    }

    #[test]
    fn hostile_addresses_are_scrubbed_and_distinct() {
        let long = vec![b'a'; 300];
        let d = dirs(&[
            b"../../x@example.com",
            b"a/b@example.com",
            b"a_b@example.com",
            b".hidden@example.com",
            b"nul\0@x",
            b"j\xf6rg@example.de",
            &long,
            b"",
        ]);
        let names: BTreeSet<&String> = d.values().collect();
        assert_eq!(names.len(), d.len());
        for n in d.values() {
            assert!(!n.contains('/') && !n.contains('\0'), "{n}");
            assert!(!n.starts_with('.') && !n.contains(".."), "{n}");
            assert!(n.len() <= MAX_DIR, "{n}");
            assert!(!n.is_empty());
        }
        assert_eq!(d[&b"a_b@example.com".to_vec()], "a_b@example.com");
    }

    #[test]
    fn attachment_names() {
        let mut used = NameSet::new();
        let long = "x".repeat(5000) + ".pdf";
        let cases = [
            Some("../../etc/passwd"),
            Some("/etc/passwd"),
            Some("con.txt"),
            Some("a\x01b\nc.txt"),
            Some(long.as_str()),
            Some(".."),
            Some("report.pdf"),
            Some("REPORT.pdf"),
            None,
        ];
        let names: Vec<String> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| attachment_name(*c, i + 1, "application/pdf", &mut used))
            .collect();
        // A name without an extension gets the one its type says.
        assert_eq!(names[0], "passwd.pdf");
        assert_eq!(names[1], "passwd-2.pdf");
        assert_eq!(names[2], "_con.txt");
        assert_eq!(names[3], "a_b_c.txt");
        assert!(names[4].len() <= MAX_ATTACHMENT && names[4].ends_with(".pdf"));
        assert_eq!(names[5], "part-6.pdf");
        assert_eq!(names[7], "REPORT-2.pdf");
        assert_eq!(names[8], "part-9.pdf");
        for n in &names {
            assert!(
                is_safe_component(n, MAX_ATTACHMENT) || n.starts_with("_con"),
                "{n}"
            );
        }
    }

    #[test]
    fn reserved_and_invisible_names() {
        for n in [
            "COM¹",
            "com².txt",
            "LPT³.pdf",
            "lpt0",
            "COM9.x",
            "conin$",
            "CONOUT$.log",
            "con .txt",
            "nul..txt",
            "Aux",
        ] {
            assert!(reserved_windows(n), "{n}");
            assert!(!is_safe_component(n, 100), "{n}");
        }
        for n in ["COM10", "com", "lpt¹0", "console.txt", "nully", "COM⁴"] {
            assert!(!reserved_windows(n), "{n}");
        }
        let mut used = NameSet::new();
        let a = |o: &str, used: &mut NameSet| attachment_name(Some(o), 1, "text/plain", used);
        assert_eq!(a("COM¹.txt", &mut used), "_COM¹.txt");
        assert_eq!(a("LPT².doc", &mut used), "_LPT².doc");
        assert_eq!(a("a\u{2028}b\u{2029}c.txt", &mut used), "a_b_c.txt");
        assert_eq!(a("x\u{85}y\u{2060}z\u{AD}.txt", &mut used), "x_y_z_.txt");
        assert_eq!(a("tag\u{E0041}.txt", &mut used), "tag_.txt");
        assert_eq!(a("-rf.txt", &mut used), "_rf.txt");
        assert_eq!(a("--help", &mut used), "_-help.txt");
        assert_eq!(a(" -x.pdf", &mut used), "_x.pdf");
        assert!(!is_safe_component("-rf", 100));
        assert!(!is_safe_component("a\u{2028}b", 100));
        // Mailbox directories: the same rules, then the hash suffix.
        let d = dirs(&[
            b"-rf@example.com",
            "a\u{2028}b@example.com".as_bytes(),
            b"com\xc2\xb9",
        ]);
        for n in d.values() {
            assert!(is_safe_component(n, MAX_DIR), "{n}");
        }
    }

    #[test]
    fn text_like_parts_get_txt() {
        let mut used = NameSet::new();
        let mut n = |ct: &str| attachment_name(None, 1, ct, &mut used);
        assert_eq!(n("message/delivery-status"), "part-1.txt");
        assert_eq!(n("text/rfc822-headers"), "part-1-2.txt");
        assert_eq!(n("message/global-delivery-status"), "part-1-3.txt");
        assert_eq!(n("message/disposition-notification"), "part-1-4.txt");
        assert_eq!(n("text/x-diff"), "part-1-5.txt");
        assert_eq!(n("application/octet-stream"), "part-1.bin");
        assert_eq!(n("message/rfc822"), "part-1.eml");
        let mut used = NameSet::new();
        assert_eq!(
            attachment_name(Some("README"), 1, "text/plain", &mut used),
            "README.txt"
        );
        assert_eq!(
            attachment_name(Some("blob"), 2, "application/x-foo", &mut used),
            "blob"
        );
    }

    #[test]
    fn same_names_are_numbered_in_order_and_stay_unique() {
        let mut used = NameSet::new();
        let mut names = Vec::new();
        // A sender-given `a-3.txt` between same-named parts takes its own name; the
        // numbering then skips it.
        for o in ["a.txt", "A.TXT", "a-3.txt", "a.txt", "a.txt"] {
            names.push(attachment_name(Some(o), 1, "text/plain", &mut used));
        }
        assert_eq!(names, ["a.txt", "A-2.TXT", "a-3.txt", "a-4.txt", "a-5.txt"]);
        let many: BTreeSet<String> = (0..5000)
            .map(|i| attachment_name(Some("a.txt"), i, "text/plain", &mut used).to_lowercase())
            .collect();
        assert_eq!(many.len(), 5000);
        assert!(used.contains("A-5004.txt"));
    }

    #[test]
    fn stems() {
        assert_eq!(stem(1700000000, "ABC"), "20231114-221320_ABC");
        assert_eq!(
            maildir_name(1700000000, 42, "ABC", 10),
            "1700000000.M42QABC.mxsalvage,S=10"
        );
    }
}
