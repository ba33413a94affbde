//! Where a filter listens: `rspamd://HOST:PORT`, `spamd://HOST:PORT`,
//! `clamd://HOST:PORT` or `clamd:///path/to/socket` (any scheme takes either form).
//!
//! Owns: [`FilterUrl`] (the protocol and the address) and its parsing, which says in
//! one line what was wrong and what to write. In: a flag's value. Out: a [`FilterUrl`].
//! Fails with [`super::FilterError::Url`].

use std::fmt;
use std::path::PathBuf;

use super::FilterError;

/// The protocol a filter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// rspamd's normal worker: HTTP `POST /checkv2`.
    Rspamd,
    /// SpamAssassin's spamd: the spamc protocol.
    Spamd,
    /// clamd: `zINSTREAM`.
    Clamd,
}

impl Protocol {
    /// The URL scheme and the name recorded in verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rspamd => "rspamd",
            Protocol::Spamd => "spamd",
            Protocol::Clamd => "clamd",
        }
    }
}

/// A TCP address or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// A filter's URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterUrl {
    pub protocol: Protocol,
    pub addr: Addr,
}

/// Which flag a URL was given to: `--spam-filter` takes rspamd or spamd,
/// `--virus-scan` takes clamd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Spam,
    Virus,
}

impl Role {
    pub fn flag(self) -> &'static str {
        match self {
            Role::Spam => "--spam-filter",
            Role::Virus => "--virus-scan",
        }
    }

    fn forms(self) -> &'static str {
        match self {
            Role::Spam => "rspamd://HOST:PORT or spamd://HOST:PORT (e.g. rspamd://127.0.0.1:11333)",
            Role::Virus => {
                "clamd:///path/to/socket or clamd://HOST:PORT (e.g. clamd:///run/clamav/clamd.ctl)"
            }
        }
    }

    fn allows(self, p: Protocol) -> bool {
        match self {
            Role::Spam => matches!(p, Protocol::Rspamd | Protocol::Spamd),
            Role::Virus => p == Protocol::Clamd,
        }
    }
}

impl FilterUrl {
    /// Parses `s` as given to `role`'s flag.
    pub fn parse(s: &str, role: Role) -> Result<FilterUrl, FilterError> {
        let bad = |why: &str| {
            FilterError::Url(format!(
                "{} {s:?}: {why}; use {}",
                role.flag(),
                role.forms()
            ))
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let protocol = match scheme.to_ascii_lowercase().as_str() {
            "rspamd" => Protocol::Rspamd,
            "spamd" => Protocol::Spamd,
            "clamd" => Protocol::Clamd,
            _ => return Err(bad(&format!("unknown filter {scheme:?}"))),
        };
        if !role.allows(protocol) {
            return Err(bad(&format!(
                "{scheme} is not a {} filter",
                match role {
                    Role::Spam => "spam",
                    Role::Virus => "virus",
                }
            )));
        }
        let addr = match rest.strip_prefix('/') {
            Some(_) if rest.len() > 1 => Addr::Unix(PathBuf::from(rest)),
            Some(_) => return Err(bad("no socket path")),
            None => host_port(rest.trim_end_matches('/')).ok_or_else(|| bad("no HOST:PORT"))?,
        };
        Ok(FilterUrl { protocol, addr })
    }
}

/// `HOST:PORT` or `[V6]:PORT`.
fn host_port(s: &str) -> Option<Addr> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    Some(Addr::Tcp {
        host: host.to_string(),
        port,
    })
}

impl fmt::Display for FilterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Addr::Tcp { host, port } if host.contains(':') => {
                write!(f, "{}://[{host}]:{port}", self.protocol.name())
            }
            Addr::Tcp { host, port } => write!(f, "{}://{host}:{port}", self.protocol.name()),
            Addr::Unix(p) => write!(f, "{}://{}", self.protocol.name(), p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form_and_says_what_to_write() {
        let u = FilterUrl::parse("rspamd://127.0.0.1:11333", Role::Spam).unwrap();
        assert_eq!(u.protocol, Protocol::Rspamd);
        assert_eq!(u.to_string(), "rspamd://127.0.0.1:11333");
        let u = FilterUrl::parse("clamd:///run/clamav/clamd.ctl", Role::Virus).unwrap();
        assert_eq!(u.addr, Addr::Unix("/run/clamav/clamd.ctl".into()));
        assert_eq!(u.to_string(), "clamd:///run/clamav/clamd.ctl");
        let u = FilterUrl::parse("spamd://[::1]:783", Role::Spam).unwrap();
        assert_eq!(u.to_string(), "spamd://[::1]:783");
        for (bad, role) in [
            ("127.0.0.1:11333", Role::Spam),
            ("clamd://127.0.0.1:3310", Role::Spam),
            ("rspamd://127.0.0.1:11333", Role::Virus),
            ("rspamd://127.0.0.1", Role::Spam),
            ("rspamd://127.0.0.1:0", Role::Spam),
            ("clamd://", Role::Virus),
            ("http://x:1", Role::Spam),
        ] {
            let e = FilterUrl::parse(bad, role).unwrap_err().to_string();
            assert!(e.starts_with(role.flag()) && e.contains("; use "), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}
