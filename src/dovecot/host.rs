//! What `mxsalvage dovecot` tells users and the administrator about the machine: the
//! server name for the handouts and the certificate, and what holds a port.
//!
//! Owns: [`server_name`] (the name users type: `--hostname`, else the listen address,
//! else — listening on every address — this host's fully qualified name from
//! `hostname --fqdn` (getaddrinfo's canonical name), else `hostname`; a name without a
//! dot is refused, since users' phones and PCs cannot resolve it) and [`port_holder`]
//! (the process listening on a TCP port, from /proc/net/tcp{,6} and /proc/PID/fd; `None`
//! when not knowable, e.g. another user's process without root). In: the request's
//! facts. Out: a name, or one line saying what to pass. Reads /proc and runs
//! `hostname`; writes nothing.

use std::fs;
use std::net::SocketAddr;
use std::process::Command;

/// The output of `hostname ARGS`, trimmed, when it succeeds with a non-empty name.
fn hostname(args: &[&str]) -> Option<String> {
    let o = Command::new("hostname").args(args).output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// This host's fully qualified name (`hostname --fqdn`), else its plain name.
fn host_name() -> Option<String> {
    hostname(&["--fqdn"])
        .filter(|s| s != "localhost" && !s.contains(' '))
        .or_else(|| hostname(&[]))
}

/// The server name the handouts and the certificate give. `secondary` is the
/// secondary's `myhostname` from the manifest, offered as an example when refusing.
pub fn server_name(
    given: Option<&str>,
    listen: SocketAddr,
    secondary: Option<&str>,
) -> Result<String, String> {
    if let Some(g) = given {
        return Ok(g.to_string());
    }
    if !listen.ip().is_unspecified() {
        return Ok(listen.ip().to_string());
    }
    let name = host_name();
    if let Some(n) = name.as_deref().filter(|n| n.contains('.')) {
        return Ok(n.to_string());
    }
    let example = secondary
        .filter(|s| s.contains('.'))
        .unwrap_or("mx2.example.com");
    Err(format!(
        "this host's name ({}) has no domain, so users' phones and PCs cannot resolve it: pass --hostname NAME, the name users reach this server by (e.g. --hostname {example})",
        name.as_deref().unwrap_or("unknown")
    ))
}

/// The inodes of the sockets listening on TCP `port` (IPv4 and IPv6).
fn listening_inodes(port: u16) -> Vec<String> {
    let mut v = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(t) = fs::read_to_string(table) else {
            continue;
        };
        for line in t.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let Some(local) = f.get(1) else { continue };
            let p = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            // State 0A is LISTEN.
            if p == Some(port) && f.get(3) == Some(&"0A") {
                v.extend(f.get(9).map(|s| s.to_string()));
            }
        }
    }
    v
}

/// `NAME (pid N)` of a process listening on TCP `port`, when this process may see it.
pub fn port_holder(port: u16) -> Option<String> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        });
        if holds {
            let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            return Some(format!("{} (pid {pid})", comm.trim()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ports() {
        let any: SocketAddr = "0.0.0.0:10993".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:10993".parse().unwrap();
        assert_eq!(server_name(Some("mx2"), any, None).unwrap(), "mx2");
        assert_eq!(server_name(None, lo, None).unwrap(), "127.0.0.1");
        // A listener of this very process is found, by name and pid.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = port_holder(port).expect("own listener found");
        assert!(h.ends_with(&format!("(pid {})", std::process::id())), "{h}");
        drop(l);
        assert_eq!(port_holder(port), None);
    }
}
