//! The text of the generated `dovecot.conf` (Dovecot 2.3, as Debian 12 ships it).
//!
//! Owns: a configuration that includes nothing from /etc/dovecot and shares no socket,
//! pid file, state or log with the system's Dovecot (own `base_dir`, `state_dir`,
//! `instance_name`, log file), listens only on the given address and port with
//! implicit TLS (IMAPS; the plain IMAP listener is off), runs mail processes only as
//! the export's reader (first/last valid uid and gid are that one account), reads users
//! from its own passwd-file, gives every user the ACL `lr` (see and read, nothing
//! else), and marks the `Junk` folder (the export's spam) `\Junk` (RFC 6154).
//! In: the settings. Out: text. Pure.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// What goes into the configuration. Every path is absolute and made of characters
/// Dovecot's configuration holds without quoting.
pub struct Settings<'a> {
    pub conf_dir: &'a str,
    pub export: &'a str,
    pub listen: SocketAddr,
    pub instance: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub cert: &'a str,
    pub key: &'a str,
}

/// Dovecot's `listen` value for an address (`*` / `::` for any).
pub fn listen_value(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) if a.is_unspecified() => "*".into(),
        IpAddr::V6(a) if a.is_unspecified() => "::".into(),
        a => a.to_string(),
    }
}

pub fn render(s: &Settings) -> String {
    let d = s.conf_dir;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"# Dovecot configuration written by mxsalvage dovecot: serves the export
#   {export}
# read-only over IMAPS. Self-contained: it includes nothing from /etc/dovecot and
# shares no socket, pid file or port with the system's Dovecot.
#   start:  dovecot -c {d}/dovecot.conf
#   stop:   doveadm -c {d}/dovecot.conf stop
#   log:    {d}/dovecot.log
# Run `mxsalvage dovecot` again (same arguments) after `mxsalvage export --update`
# when new recipients were added; new mail of known users shows up by itself.

instance_name = {instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
auth_verbose = yes

protocols = imap
listen = {listen}
login_greeting = Read-only copy of your mail (mxsalvage)

# Debian's accounts for the login and internal processes; mail is read only as the
# export's reader account, which has read access to the mailboxes and nothing more.
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}

ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
# User names are mail addresses, which may hold any character (the passwd-file is
# matched exactly); names are compared in lower case, as the manifest lists them.
auth_username_chars =
auth_username_format = %Lu

passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}

namespace inbox {{
  inbox = yes
  separator = /
  # Spam the export filed in Junk (Maildir++ `.Junk`; `junk.mbox` beside an mbox):
  # mail programs show it as their Junk folder. Never created here (read-only).
  mailbox Junk {{
    special_use = \Junk
  }}
}}

# Read-only: every user may see and read their own mailbox (lr), nothing else. The
# kernel backs this up: the export is readable, not writable, for the reader account.
mail_plugins = $mail_plugins acl
protocol imap {{
  mail_plugins = $mail_plugins imap_acl
}}
plugin {{
  acl = vfile:{d}/acl
}}

service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
"#,
        export = s.export,
        instance = s.instance,
        listen = listen_value(s.listen.ip()),
        uid = s.uid,
        gid = s.gid,
        cert = s.cert,
        key = s.key,
        port = s.listen.port(),
    );
    o
}

/// The global ACL file: every mailbox, its owner: lookup and read only.
pub const ACL: &str =
    "# mxsalvage dovecot: read-only (l = see the mailbox, r = read its mail)\n* owner lr\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_listener_and_ids() {
        let t = render(&Settings {
            conf_dir: "/srv/imap",
            export: "/srv/salvage",
            listen: "127.0.0.1:10993".parse().unwrap(),
            instance: "mxsalvage",
            uid: 998,
            gid: 997,
            cert: "/srv/imap/tls/cert.pem",
            key: "/srv/imap/tls/key.pem",
        });
        assert!(t.contains("listen = 127.0.0.1\n"));
        assert!(t.contains("port = 10993\n"));
        assert!(t.contains("first_valid_uid = 998\nlast_valid_uid = 998\n"));
        assert!(!t.contains("!include"));
        assert!(t.contains("  mailbox Junk {\n    special_use = \\Junk\n  }\n"));
        assert_eq!(listen_value("0.0.0.0".parse().unwrap()), "*");
        assert_eq!(listen_value("::".parse().unwrap()), "::");
    }
}
