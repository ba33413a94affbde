//! Postfix configuration values mxsalvage needs (`main.cf`, postconf(5)).
//!
//! Owns: reading `main.cf` (continuation lines, comments, `$name` expansion of simple
//! references), durations with units, and the defaults of the parameters that matter.
//! In: a config directory. Out: [`PostfixConfig`]. A missing main.cf gives the defaults;
//! a bad value is an error naming the parameter. Addressing parameters (`myorigin`,
//! `myhostname`, `mydomain`) are only as known as the main.cf makes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The parameters mxsalvage uses, with Postfix's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostfixConfig {
    pub queue_directory: Option<PathBuf>,
    pub lifetimes: Lifetimes,
    pub hash_queue_names: Vec<String>,
    pub hash_queue_depth: usize,
    /// Bytes; 0 = unlimited. Bounds how much of one queue file is ever read.
    pub message_size_limit: u64,
    /// `enable_long_queue_ids` (the `mailq` listing format).
    pub enable_long_queue_ids: bool,
    pub cleanup: CleanupParams,
}

/// How long the queue manager keeps a message (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub maximal_queue_lifetime: i64,
    /// Already capped by `maximal_queue_lifetime` (see [`Lifetimes::capped`]).
    pub bounce_queue_lifetime: i64,
    pub maximal_backoff_time: i64,
}

/// What cleanup adds to a message and how it qualifies addresses (`queue::cleanup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupParams {
    /// The domain cleanup appends to unqualified addresses (`myorigin`, expanded);
    /// `None` when no main.cf says it (the machine that wrote the queue is unknown).
    pub myorigin: Option<String>,
    /// `myhostname` (for the Message-Id cleanup adds); `None` when unknown.
    pub myhostname: Option<String>,
    pub mydomain: Option<String>,
    /// `append_dot_mydomain` (default: yes below compatibility level 1, else no).
    pub append_dot_mydomain: bool,
    /// `header_from_format = standard` (`From: name <addr>`) rather than obsolete
    /// (`From: addr (name)`); the default follows `compatibility_level` (3.3 and later).
    pub header_from_standard: bool,
    /// `undisclosed_recipients_header`: what cleanup adds when a message has no To/Cc
    /// (empty by default in current Postfix: nothing is added).
    pub undisclosed_recipients_header: Option<String>,
}

impl Default for PostfixConfig {
    fn default() -> Self {
        PostfixConfig {
            queue_directory: None,
            lifetimes: Lifetimes {
                maximal_queue_lifetime: 5 * 86400,
                bounce_queue_lifetime: 5 * 86400,
                maximal_backoff_time: 4000,
            },
            hash_queue_names: vec!["deferred".into(), "defer".into()],
            hash_queue_depth: 1,
            message_size_limit: super::open::DEFAULT_MESSAGE_SIZE_LIMIT,
            enable_long_queue_ids: false,
            cleanup: CleanupParams {
                myorigin: None,
                myhostname: None,
                mydomain: None,
                append_dot_mydomain: true,
                header_from_standard: false,
                undisclosed_recipients_header: None,
            },
        }
    }
}

impl Lifetimes {
    /// The bounce lifetime never outlasts the maximal one (as the queue manager takes it).
    pub fn capped(self) -> Lifetimes {
        Lifetimes {
            bounce_queue_lifetime: self.bounce_queue_lifetime.min(self.maximal_queue_lifetime),
            ..self
        }
    }

    /// Lifetime that applies to a message with this sender.
    pub fn for_sender(&self, sender: &[u8]) -> i64 {
        if sender.is_empty() {
            self.bounce_queue_lifetime
        } else {
            self.maximal_queue_lifetime
        }
    }
}

/// Parses a Postfix time value: a number with an optional unit s, m, h, d, w.
pub fn parse_duration(v: &str, default_unit: char) -> Option<i64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit = match unit {
        "" => default_unit,
        u if u.len() == 1 => u.chars().next()?,
        _ => return None,
    };
    let mult = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 7 * 86400,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn yes(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "yes" | "true" | "1")
}

/// `compatibility_level` as (major, minor); `0`, `1`, `2`, `3.6`, ….
fn compat_level(v: &str) -> (u32, u32) {
    let v = v.trim();
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

/// This machine's host name, as `gethostname()` gives it.
fn system_hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_string())
}

/// Reads `main.cf` into name → raw value.
pub fn parse_main_cf(text: &str) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.as_mut()
                && !line.trim().is_empty()
            {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = current.take() {
            out.insert(n, v);
        }
        if let Some((n, v)) = line.split_once('=') {
            current = Some((n.trim().to_string(), v.trim().to_string()));
        }
    }
    if let Some((n, v)) = current.take() {
        out.insert(n, v);
    }
    out
}

fn expand(v: &str, vars: &HashMap<String, String>, depth: usize) -> String {
    if depth > 10 || !v.contains('$') {
        return v.to_string();
    }
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) =
            if let Some(inner) = after.strip_prefix('{').or_else(|| after.strip_prefix('(')) {
                match inner.find(['}', ')']) {
                    Some(j) => (&inner[..j], &inner[j + 1..]),
                    None => ("", after),
                }
            } else {
                let j = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..j], &after[j..])
            };
        match vars.get(name) {
            Some(val) if !name.is_empty() => out.push_str(&expand(val, vars, depth + 1)),
            _ => {
                out.push('$');
                out.push_str(name);
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

impl PostfixConfig {
    /// Reads `DIR/main.cf`; a missing file gives the defaults. A main.cf that is not a
    /// regular file (a FIFO, a device) is an error, never a blocked read. Only
    /// `/etc/postfix` counts as this machine's own configuration (see
    /// [`PostfixConfig::from_main_cf_on_host`]); any other directory may be a copy.
    pub fn load(dir: &Path) -> Result<PostfixConfig, String> {
        let path = dir.join("main.cf");
        let this_host = dir == Path::new("/etc/postfix");
        match super::open::read_config(&path) {
            Ok(bytes) => Self::from_main_cf_on_host(&String::from_utf8_lossy(&bytes), this_host)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(super::open::ReadError::NotFound) => Ok(PostfixConfig::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Only `queue_directory` of `DIR/main.cf` (expanded), nothing else of it: which
    /// spool a configuration directory belongs to. `None` when main.cf is missing,
    /// unreadable or does not set it.
    pub fn queue_directory_in(dir: &Path) -> Option<PathBuf> {
        let bytes = super::open::read_config(&dir.join("main.cf")).ok()?;
        let vars = parse_main_cf(&String::from_utf8_lossy(&bytes));
        let v = expand(vars.get("queue_directory")?, &vars, 0);
        let v = v.trim();
        (!v.is_empty() && !v.contains('$')).then(|| PathBuf::from(v))
    }

    /// Builds the configuration from the text of a `main.cf` (as found on another
    /// machine: `myhostname` is not guessed when the file does not set it).
    pub fn from_main_cf(text: &str) -> Result<PostfixConfig, String> {
        Self::from_main_cf_on_host(text, false)
    }

    /// As [`PostfixConfig::from_main_cf`]; `this_host`: the main.cf belongs to this
    /// machine, so an unset `myhostname` is this machine's name, as Postfix takes it.
    pub fn from_main_cf_on_host(text: &str, this_host: bool) -> Result<PostfixConfig, String> {
        let mut vars = parse_main_cf(text);
        if !vars.contains_key("myhostname")
            && this_host
            && let Some(h) = system_hostname()
        {
            vars.insert("myhostname".into(), h);
        }
        if !vars.contains_key("mydomain")
            && let Some(h) = vars.get("myhostname").map(|h| expand(h, &vars, 0))
        {
            let d = h
                .split_once('.')
                .map(|x| x.1.to_string())
                .unwrap_or_else(|| "localdomain".into());
            vars.insert("mydomain".into(), d);
        }
        if !vars.contains_key("myorigin") {
            vars.insert("myorigin".into(), "$myhostname".into());
        }
        let get = |n: &str| vars.get(n).map(|v| expand(v, &vars, 0));
        let known = |v: Option<String>| v.filter(|v| !v.is_empty() && !v.contains('$'));
        let mut c = PostfixConfig::default();
        c.cleanup.myhostname = known(get("myhostname"));
        c.cleanup.mydomain = known(get("mydomain"));
        c.cleanup.myorigin = known(get("myorigin")).map(|o| o.trim().to_string());
        let level = get("compatibility_level")
            .map(|v| compat_level(&v))
            .unwrap_or((0, 0));
        c.cleanup.append_dot_mydomain = match get("append_dot_mydomain") {
            Some(v) => yes(&v),
            None => level < (1, 0),
        };
        c.cleanup.header_from_standard = match get("header_from_format") {
            Some(v) => v.trim().eq_ignore_ascii_case("standard"),
            None => level >= (3, 3),
        };
        c.cleanup.undisclosed_recipients_header = get("undisclosed_recipients_header")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if let Some(v) = get("enable_long_queue_ids") {
            c.enable_long_queue_ids = yes(&v);
        }
        if let Some(v) = get("message_size_limit") {
            c.message_size_limit = v
                .trim()
                .parse()
                .map_err(|_| format!("bad message_size_limit: {v}"))?;
        }
        if let Some(v) = get("queue_directory") {
            c.queue_directory = Some(PathBuf::from(v));
        }
        if let Some(v) = get("maximal_queue_lifetime") {
            c.lifetimes.maximal_queue_lifetime =
                parse_duration(&v, 'd').ok_or(format!("bad maximal_queue_lifetime: {v}"))?;
        }
        if let Some(v) = get("bounce_queue_lifetime") {
            c.lifetimes.bounce_queue_lifetime =
                parse_duration(&v, 'd').ok_or(format!("bad bounce_queue_lifetime: {v}"))?;
        }
        if let Some(v) = get("maximal_backoff_time") {
            c.lifetimes.maximal_backoff_time =
                parse_duration(&v, 's').ok_or(format!("bad maximal_backoff_time: {v}"))?;
        }
        if let Some(v) = get("hash_queue_names") {
            c.hash_queue_names = v
                .split([',', ' ', '\t'])
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_lowercase())
                .collect();
        }
        if let Some(v) = get("hash_queue_depth") {
            c.hash_queue_depth = v
                .trim()
                .parse()
                .ok()
                .filter(|d| *d >= 1)
                .ok_or(format!("bad hash_queue_depth: {v}"))?;
        }
        c.lifetimes = c.lifetimes.capped();
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5d", 'd'), Some(432000));
        assert_eq!(parse_duration("5", 'd'), Some(432000));
        assert_eq!(parse_duration("300s", 'd'), Some(300));
        assert_eq!(parse_duration("2w", 'd'), Some(1209600));
        assert_eq!(parse_duration("1h", 'd'), Some(3600));
        assert_eq!(parse_duration("x", 'd'), None);
        assert_eq!(parse_duration("5dd", 'd'), None);
    }

    #[test]
    fn main_cf() {
        let c = PostfixConfig::from_main_cf(
            "# c\nbase = /srv\nqueue_directory = $base/spool\nmaximal_queue_lifetime = 7d\nbounce_queue_lifetime =\n  10d\nhash_queue_depth=2\n",
        )
        .unwrap();
        assert_eq!(c.queue_directory, Some(PathBuf::from("/srv/spool")));
        assert_eq!(c.lifetimes.maximal_queue_lifetime, 7 * 86400);
        assert_eq!(c.lifetimes.bounce_queue_lifetime, 7 * 86400);
        assert_eq!(c.hash_queue_depth, 2);
        assert_eq!(
            c.cleanup.myorigin, None,
            "myhostname is not guessed for a foreign main.cf"
        );
    }

    #[test]
    fn origin_and_formats() {
        let c = PostfixConfig::from_main_cf(
            "compatibility_level = 3.6\nmyhostname = backup-mx.example.com\nmyorigin = $myhostname\nenable_long_queue_ids = yes\nmessage_size_limit = 0\n",
        )
        .unwrap();
        assert_eq!(c.cleanup.myorigin.as_deref(), Some("backup-mx.example.com"));
        assert_eq!(c.cleanup.mydomain.as_deref(), Some("example.com"));
        assert!(
            c.cleanup.header_from_standard
                && c.enable_long_queue_ids
                && !c.cleanup.append_dot_mydomain
        );
        assert_eq!(c.message_size_limit, 0);
        let c = PostfixConfig::from_main_cf("myhostname = mx\nmyorigin = $mydomain\n").unwrap();
        assert_eq!(c.cleanup.myorigin.as_deref(), Some("localdomain"));
        assert!(!c.cleanup.header_from_standard && c.cleanup.append_dot_mydomain);
    }
}
