//! Read-only access for a mail server's account: `export --reader USER[:GROUP]`.
//!
//! Owns: resolving USER and GROUP to ids (through NSS, `getent`), and granting GROUP
//! read access to the mailboxes of an export — every bundle's `Maildir/` tree (0750
//! directories, 0640 files; Junk's `.Junk/` too), `mail.mbox` and `junk.mbox` (0640),
//! group GROUP — plus search (g+x) on the directories leading to them (OUT,
//! `recipients/`, each bundle). The owner stays root; nothing else changes (eml/,
//! text/, zips, messages/, the manifest stay 0600/0700). Dovecot, running as USER
//! (whose group is GROUP), can then read the mail but not write anything into the
//! export: the kernel refuses it, so no `new/`→`cur/` renames, no
//! `dovecot-uidlist`, no index or lock files, no `X-UID:` headers — which Dovecot does
//! write into a mailbox its mail user owns, even behind a read-only IMAP ACL.
//! In: OUT and the [`Reader`]. Out: modes and group changed in place (metadata only;
//! no byte of any file changes). Fails with [`ExportError`] naming the path (e.g.
//! `Operation not permitted` when not run as root).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use super::error::ExportError;
use super::write::werr;

/// A mail server account that may read the export's mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
}

impl Reader {
    /// The form recorded in the manifest: `USER:GROUP`.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.user, self.group)
    }

    /// Resolves `USER[:GROUP]` (names or numbers; GROUP defaults to USER's primary
    /// group). Root (uid or gid 0) is refused: Dovecot never reads mail as root.
    pub fn resolve(spec: &str) -> Result<Reader, String> {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u.trim(), Some(g.trim())),
            None => (spec.trim(), None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) {
            return Err(format!("--reader {spec:?}: expected USER or USER:GROUP"));
        }
        let pw = getent("passwd", user).ok_or_else(|| {
            format!(
                "--reader: no user {user:?} on this system (create one, e.g. `adduser --system --group {user}`)"
            )
        })?;
        // name:passwd:uid:gid:gecos:home:shell
        let f: Vec<&str> = pw.split(':').collect();
        let (name, uid, pgid) = match (f.first(), f.get(2), f.get(3)) {
            (Some(n), Some(u), Some(g)) => (
                n.to_string(),
                u.parse::<u32>()
                    .map_err(|_| format!("getent passwd {user}: bad uid"))?,
                g.parse::<u32>()
                    .map_err(|_| format!("getent passwd {user}: bad gid"))?,
            ),
            _ => return Err(format!("getent passwd {user}: unexpected output {pw:?}")),
        };
        let gr = getent("group", group.unwrap_or(&pgid.to_string())).ok_or_else(|| {
            format!(
                "--reader: no group {:?} on this system",
                group.unwrap_or("")
            )
        })?;
        let g: Vec<&str> = gr.split(':').collect();
        let (gname, gid) = match (g.first(), g.get(2)) {
            (Some(n), Some(i)) => (
                n.to_string(),
                i.parse::<u32>()
                    .map_err(|_| format!("getent group: bad gid in {gr:?}"))?,
            ),
            _ => return Err(format!("getent group: unexpected output {gr:?}")),
        };
        if uid == 0 || gid == 0 {
            return Err(format!(
                "--reader {spec}: must not be root (uid and gid must not be 0): Dovecot never reads mail as root"
            ));
        }
        Ok(Reader {
            user: name,
            uid,
            group: gname,
            gid,
        })
    }
}

/// `getent DB KEY`: the first line, or `None` when there is no such entry.
fn getent(db: &str, key: &str) -> Option<String> {
    let o = Command::new("getent").arg(db).arg(key).output().ok()?;
    if !o.status.success() {
        return None;
    }
    let s = String::from_utf8(o.stdout).ok()?;
    s.lines().next().map(str::to_string)
}

/// What a path gets.
#[derive(Clone, Copy)]
enum Access {
    /// A directory on the way: g+x (g-w), other group bits kept.
    Search,
    /// A mailbox directory: group r-x exactly.
    ReadDir,
    /// A mailbox file: group r-- exactly.
    ReadFile,
}

fn set(path: &Path, gid: u32, access: Access) -> Result<(), ExportError> {
    let md = fs::symlink_metadata(path).map_err(werr(path))?;
    if md.file_type().is_symlink() {
        return Ok(());
    }
    let mode = md.mode() & 0o7777;
    let want = match access {
        Access::Search => (mode | 0o010) & !0o020,
        Access::ReadDir => (mode & !0o070) | 0o050,
        Access::ReadFile => (mode & !0o070) | 0o040,
    };
    if md.gid() != gid {
        std::os::unix::fs::lchown(path, None, Some(gid)).map_err(werr(path))?;
    }
    // chown may clear set-id bits; compare with what we want, not with the old mode.
    let now = fs::symlink_metadata(path).map_err(werr(path))?.mode() & 0o7777;
    if now != want {
        fs::set_permissions(path, fs::Permissions::from_mode(want)).map_err(werr(path))?;
    }
    Ok(())
}

fn is_temp(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().ends_with(".mxsalvage-tmp")
}

fn grant_tree(dir: &Path, gid: u32) -> Result<(), ExportError> {
    set(dir, gid, Access::ReadDir)?;
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(werr(dir))?
        .collect::<io::Result<_>>()
        .map_err(werr(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if is_temp(&e.file_name()) {
            continue;
        }
        let p = e.path();
        let t = e.file_type().map_err(werr(&p))?;
        if t.is_dir() {
            grant_tree(&p, gid)?;
        } else if t.is_file() {
            set(&p, gid, Access::ReadFile)?;
        }
    }
    Ok(())
}

/// Grants the reader's group read access to every bundle's mailboxes under `out`
/// (all bundles, so an update also covers what earlier runs wrote).
pub fn grant(out: &Path, reader: &Reader) -> Result<(), ExportError> {
    let gid = reader.gid;
    let recipients = out.join("recipients");
    if !recipients.is_dir() {
        return Ok(());
    }
    set(out, gid, Access::Search)?;
    set(&recipients, gid, Access::Search)?;
    let mut bundles: Vec<fs::DirEntry> = fs::read_dir(&recipients)
        .map_err(werr(&recipients))?
        .collect::<io::Result<_>>()
        .map_err(werr(&recipients))?;
    bundles.sort_by_key(|e| e.file_name());
    for b in bundles {
        let p = b.path();
        if !b.file_type().map_err(werr(&p))?.is_dir() {
            continue;
        }
        set(&p, gid, Access::Search)?;
        let maildir = p.join("Maildir");
        if maildir.is_dir() {
            grant_tree(&maildir, gid)?;
        }
        for name in [
            super::sinks::mbox::MBOX_NAME,
            super::sinks::mbox::JUNK_MBOX_NAME,
        ] {
            let mbox = p.join(name);
            if mbox.is_file() {
                set(&mbox, gid, Access::ReadFile)?;
            }
        }
    }
    Ok(())
}

/// The reader of a run: the one given, else the one the export being updated recorded.
pub fn for_run(
    given: Option<&Reader>,
    recorded: Option<&str>,
) -> Result<Option<Reader>, ExportError> {
    match (given, recorded) {
        (Some(r), _) => Ok(Some(r.clone())),
        (None, Some(spec)) => Reader::resolve(spec)
            .map(Some)
            .map_err(|e| ExportError::Refused(format!("this export's reader: {e}"))),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused_and_nobody_resolves() {
        assert!(Reader::resolve("root").is_err());
        assert!(Reader::resolve("nobody:root").is_err());
        assert!(Reader::resolve("no-such-user-mxsalvage").is_err());
        assert!(Reader::resolve(":x").is_err());
        if let Ok(r) = Reader::resolve("nobody") {
            assert_eq!(r.user, "nobody");
            assert_ne!(r.gid, 0);
            assert_eq!(Reader::resolve(&r.spec()).unwrap(), r);
        }
    }
}
