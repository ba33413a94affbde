//! `mxsalvage dovecot`: a private, read-only IMAPS server for an export, run by the
//! system's Dovecot with its own configuration.
//!
//! Owns: turning an export (its manifest and recipient bundles) into a configuration
//! directory CONF_DIR: `dovecot.conf` (see [`conf`]), a passwd-file with one user per
//! mailbox — the user name is the mailbox address as the manifest lists it, the
//! password the one the zip password file gives it, stored SHA512-CRYPT-hashed
//! ([`passwd`]) — each user's mail location at their bundle's `Maildir/` (or
//! `mail.mbox` when the export has no Maildir), with indexes, control files and
//! volatile files under `CONF_DIR/users/<name>/`, a global ACL allowing only `lr`, TLS
//! from the admin's certificate or a generated self-signed one ([`tls`]), and a
//! handout per user ([`handout`]). Dovecot reads the mail as the export's *reader*
//! (`export --reader`): the export's group grants that account read access and no
//! write access, so the export cannot change while it is served. Directories in
//! CONF_DIR get owner and mode through a descriptor opened without following symlinks
//! (a user's home belongs to the reader account). The server name comes from
//! [`host`] (a name without a dot is refused); a port in use is named with its holder.
//! In: a [`Request`]. Out: CONF_DIR written, an [`Outcome`] to report. Fails with
//! [`DovecotError`] before anything is written (refusals: no reader, unreadable paths,
//! missing passwords, a CONF_DIR that is not ours) or naming the path a write failed on.
//! Never writes into the export.

pub mod conf;
pub mod handout;
pub mod host;
pub mod passwd;
pub mod tls;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::decode::names::{mailbox_key, short_hash};
use crate::export::reader::Reader;
use crate::export::zip::Secret;
use crate::manifest::{Manifest, ManifestRecipient};

/// Why no configuration was written.
#[derive(Debug, thiserror::Error)]
pub enum DovecotError {
    #[error(
        "{0}: cannot read the export's manifest: {1} (give the directory `mxsalvage export --out` wrote)"
    )]
    Manifest(PathBuf, String),
    #[error("{0}")]
    Refused(String),
    #[error("the zip password file has no line for: {} (add `address password` lines; the users log in with these passwords)", .0.join(", "))]
    MissingPasswords(Vec<String>),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: io::Error },
}

fn ioerr(path: &Path) -> impl FnOnce(io::Error) -> DovecotError + '_ {
    move |error| DovecotError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsChoice {
    /// A self-signed one, generated once and kept in `CONF_DIR/tls/`.
    Generate,
    /// The admin's PEM files (referenced where they are, so renewals apply on restart).
    Given { cert: PathBuf, key: PathBuf },
}

/// What to write.
pub struct Request<'a> {
    pub export: &'a Path,
    pub conf_dir: &'a Path,
    pub listen: SocketAddr,
    /// The name users type as server (default: the listen address, or this host's
    /// name when listening on every address).
    pub server: Option<String>,
    pub tls: TlsChoice,
    /// Mailbox key → password (the zip password file).
    pub passwords: &'a BTreeMap<Vec<u8>, Secret>,
}

/// One user written.
#[derive(Debug, Clone)]
pub struct UserOut {
    pub address: String,
    pub messages: usize,
    /// `maildir` or `mbox`.
    pub kind: &'static str,
    pub handout: PathBuf,
}

/// A mailbox that could not become an IMAP user.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub address: String,
    pub reason: String,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub conf: PathBuf,
    pub conf_dir: PathBuf,
    pub export: PathBuf,
    pub reader: Reader,
    pub server: String,
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub generated_cert: bool,
    pub fingerprint: String,
    pub users: Vec<UserOut>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// Dovecot already runs with this configuration (it needs a reload).
    pub running: bool,
}

/// The marker and record of a CONF_DIR we wrote.
const MARKER: &str = "mxsalvage-dovecot.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    tool: String,
    export: String,
    listen: String,
    server: String,
    reader: String,
    cert: String,
    key: String,
    generated_cert: bool,
    fingerprint: String,
    users: Vec<String>,
    handouts: Vec<String>,
}

/// Characters a path may hold in the generated configuration and passwd-file without
/// quoting or escaping.
fn safe_char(c: char) -> bool {
    c.is_alphanumeric() || "._+@=,~-/".contains(c)
}

fn check_path(what: &str, p: &Path) -> Result<String, DovecotError> {
    let s = p
        .to_str()
        .ok_or_else(|| DovecotError::Refused(format!("{what} {}: not UTF-8", p.display())))?;
    if let Some(c) = s.chars().find(|c| !safe_char(*c)) {
        return Err(DovecotError::Refused(format!(
            "{what} {s}: contains {c:?}, which Dovecot's configuration cannot hold safely; use a path of letters, digits and . _ + @ = , ~ - (or a symlink to one)"
        )));
    }
    Ok(s.to_string())
}

/// `p` made absolute and canonical as far as it exists.
fn absolute(p: &Path) -> Result<PathBuf, DovecotError> {
    if let Ok(c) = fs::canonicalize(p) {
        return Ok(c);
    }
    let parent = match p.parent() {
        Some(x) if !x.as_os_str().is_empty() => x.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = p
        .file_name()
        .ok_or_else(|| DovecotError::Refused(format!("{}: not a directory name", p.display())))?;
    Ok(fs::canonicalize(&parent)
        .map_err(ioerr(&parent))?
        .join(name))
}

/// Whether `uid`/`gid` may enter (search) the directory `md` describes.
fn can_search(md: &fs::Metadata, uid: u32, gid: u32) -> bool {
    let m = md.mode();
    if md.uid() == uid {
        m & 0o100 != 0
    } else if md.gid() == gid {
        m & 0o010 != 0
    } else {
        m & 0o001 != 0
    }
}

/// The first directory from `/` down to `dir` (inclusive) that `uid`/`gid` cannot enter.
fn blocked_on_the_way(dir: &Path, uid: u32, gid: u32) -> Option<(PathBuf, u32)> {
    let mut acc = PathBuf::new();
    for c in dir.components() {
        acc.push(c);
        if let Ok(md) = fs::metadata(&acc)
            && !can_search(&md, uid, gid)
        {
            return Some((acc.clone(), md.mode() & 0o7777));
        }
    }
    None
}

/// `getent passwd NAME` → (uid, gid).
fn account(name: &str) -> Option<(u32, u32)> {
    let o = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let s = String::from_utf8(o.stdout).ok()?;
    let f: Vec<&str> = s.lines().next()?.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// Writes `data` to `path` atomically (tmp + rename) with `mode`, group `gid`.
fn put(path: &Path, data: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Result<(), DovecotError> {
    let tmp = path.with_file_name(format!(
        ".{}.mxsalvage-tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(ioerr(&tmp))?;
    let r = (|| {
        if let Some((u, g)) = owner {
            std::os::unix::fs::fchown(&f, Some(u), Some(g))?;
        }
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(ioerr(&tmp)(e));
    }
    fs::rename(&tmp, path).map_err(ioerr(path))
}

/// `mkdir` (if missing) with exactly `mode` and owner. Owner and mode are set on a
/// descriptor opened with `O_NOFOLLOW | O_DIRECTORY`, never through the path: a user's
/// home belongs to the reader account, which could put a symlink where a directory was
/// (root would then chown or chmod whatever it points to). A symlink or non-directory
/// there is refused.
fn dir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), DovecotError> {
    use rustix::fs::{Mode, OFlags};
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(ioerr(path)(e)),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let fd = match rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
            let what = match fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => "a symlink",
                _ => "not a directory",
            };
            return Err(DovecotError::Refused(format!(
                "{} is {what} (mxsalvage made a directory there; someone replaced it): never followed; remove it and run again",
                path.display()
            )));
        }
        Err(e) => return Err(ioerr(path)(e.into())),
    };
    if let Some((u, g)) = owner {
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(u)),
            Some(rustix::fs::Gid::from_raw(g)),
        )
        .map_err(|e| ioerr(path)(e.into()))?;
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| ioerr(path)(e.into()))
}

/// Why Dovecot could not listen on `listen` now (what holds the port, if knowable).
fn port_check(listen: SocketAddr) -> Option<String> {
    let e = TcpListener::bind(listen).err()?;
    let why = match (e.kind(), host::port_holder(listen.port())) {
        (io::ErrorKind::AddrInUse, Some(who)) => {
            format!("port {} is in use by {who}", listen.port())
        }
        (io::ErrorKind::AddrInUse, None) => format!("port {} is in use", listen.port()),
        _ => format!("{listen} cannot be bound now ({e})"),
    };
    Some(format!(
        "{why}: Dovecot will not start there; pick another --listen port"
    ))
}

/// Whether a Dovecot master process from this CONF_DIR is alive.
fn running(conf_dir: &Path) -> bool {
    fs::read_to_string(conf_dir.join("run/master.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// How a user's mail is reached.
struct Mail {
    kind: &'static str,
    /// The mailbox path (Maildir directory or mbox file), absolute.
    path: PathBuf,
}

fn mail_of(export: &Path, r: &ManifestRecipient) -> Option<Mail> {
    // A Maildir is served rather than an mbox when the export has both.
    ["maildir", "mbox"].into_iter().find_map(|kind| {
        let path = export.join(r.output(kind)?);
        let present = match kind {
            "maildir" => path.is_dir(),
            _ => path.is_file(),
        };
        present.then_some(Mail { kind, path })
    })
}

/// Whether the reader's group can read `p` (a Maildir: the directory and its three
/// subdirectories; an mbox: the file).
fn readable_by_group(p: &Path, kind: &str, gid: u32) -> bool {
    let ok = |q: &Path, bits: u32| {
        fs::symlink_metadata(q).is_ok_and(|m| m.gid() == gid && m.mode() & bits == bits)
    };
    if kind == "maildir" {
        ok(p, 0o050) && ["cur", "new", "tmp"].iter().all(|s| ok(&p.join(s), 0o050))
    } else {
        ok(p, 0o040)
    }
}

struct Planned {
    address: String,
    dir: String,
    home_name: String,
    mail: Mail,
    mail_escaped: String,
    messages: usize,
    newest: Option<i64>,
    password: Secret,
}

fn newest_arrival(m: &Manifest, r: &ManifestRecipient) -> Option<i64> {
    let ids: std::collections::BTreeSet<&str> = r.messages.iter().map(|s| s.as_str()).collect();
    m.messages
        .iter()
        .filter(|x| ids.contains(x.info.queue_id.as_str()))
        .map(|x| x.info.arrival_unix)
        .max()
}

/// The export to serve: where it is, its manifest, the account that reads it.
struct Source {
    export: PathBuf,
    export_s: String,
    manifest: Manifest,
    reader: Reader,
}

/// The certificate Dovecot presents.
struct Cert {
    cert: PathBuf,
    key: PathBuf,
    /// Self-signed, kept in `CONF_DIR/tls/`.
    generated_cert: bool,
    /// A certificate generated now, to be written.
    new: Option<tls::Generated>,
    fingerprint: String,
}

/// Everything decided before CONF_DIR is written.
struct Decided {
    src: Source,
    conf_dir: PathBuf,
    conf_s: String,
    old: Option<Marker>,
    internal_gid: u32,
    planned: Vec<Planned>,
    skipped: Vec<Skipped>,
    server: String,
    cert: Cert,
    passwd_text: String,
    warnings: Vec<String>,
}

/// Writes CONF_DIR for the export. See the module comment.
pub fn generate(req: &Request) -> Result<Outcome, DovecotError> {
    let mut d = decide(req)?;
    // From here on, CONF_DIR is written.
    let was_running = running(&d.conf_dir);
    let conf_path = write_conf(&d, req.listen)?;
    let (users, handouts) = write_handouts(&d, req.listen)?;
    write_marker(&d, req.listen, &users, handouts)?;
    doveconf_check(&conf_path, &mut d.warnings)?;
    if !was_running {
        d.warnings.extend(port_check(req.listen));
    }
    Ok(Outcome {
        conf: conf_path,
        conf_dir: d.conf_dir,
        export: d.src.export,
        reader: d.src.reader,
        server: d.server,
        listen: req.listen,
        cert: d.cert.cert,
        generated_cert: d.cert.generated_cert,
        fingerprint: d.cert.fingerprint,
        users,
        skipped: d.skipped,
        warnings: d.warnings,
        running: was_running,
    })
}

/// Checks everything and decides what to write, writing nothing (a refusal leaves
/// nothing behind).
fn decide(req: &Request) -> Result<Decided, DovecotError> {
    let src = open_export(req)?;
    // CONF_DIR: new, empty, or ours.
    let conf_dir = absolute(req.conf_dir)?;
    let conf_s = check_path("CONF_DIR", &conf_dir)?;
    let old = prior_marker(&conf_dir, &conf_s, &src)?;
    let (internal_uid, internal_gid) = dovecot_accounts()?;
    let mut warnings = Vec::new();
    if !Path::new("/usr/lib/dovecot/imap").exists() {
        warnings.push(
            "/usr/lib/dovecot/imap is missing: install dovecot-imapd before starting Dovecot"
                .into(),
        );
    }
    let (planned, skipped) = plan_users(req, &src)?;
    check_reachable(&planned, &src, &conf_dir, (internal_uid, internal_gid))?;
    // The server's name and the certificate.
    let server = host::server_name(
        req.server.as_deref(),
        req.listen,
        src.manifest.source.myhostname.as_deref(),
    )
    .map_err(DovecotError::Refused)?;
    let cert = certificate(req, &conf_dir, old.as_ref(), &server)?;
    // Hash the passwords before anything is written (a failure leaves nothing behind).
    let passwd_text = passwd_text(&planned, &src.reader, &conf_dir.join("users"))?;
    Ok(Decided {
        src,
        conf_dir,
        conf_s,
        old,
        internal_gid,
        planned,
        skipped,
        server,
        cert,
        passwd_text,
        warnings,
    })
}

/// The export, its manifest (paths checked to stay inside it) and its reader account.
fn open_export(req: &Request) -> Result<Source, DovecotError> {
    let export = fs::canonicalize(req.export).map_err(ioerr(req.export))?;
    let mpath = export.join("manifest.json");
    let text =
        fs::read(&mpath).map_err(|e| DovecotError::Manifest(mpath.clone(), e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| DovecotError::Manifest(mpath.clone(), e.to_string()))?;
    // Every mail_location points inside the export: a path the manifest gives is checked.
    manifest
        .check_paths()
        .map_err(|e| DovecotError::Manifest(mpath.clone(), e))?;
    let export_s = check_path("EXPORT_DIR", &export)?;
    let reader = match manifest.options.reader.as_deref() {
        Some(spec) => Reader::resolve(spec).map_err(DovecotError::Refused)?,
        None => {
            return Err(DovecotError::Refused(format!(
                "{export_s} is readable only by root, and Dovecot never reads mail as root: give the export a reader account first, e.g. `adduser --system --group mxsalvage` and `mxsalvage export --update --reader mxsalvage --out {export_s} …` (same queue and options as the export)"
            )));
        }
    };
    Ok(Source {
        export,
        export_s,
        manifest,
        reader,
    })
}

/// The marker of an earlier run in `conf_dir`, if any; refuses a CONF_DIR inside
/// the export (or around it), a file, or a non-empty directory not written by us.
fn prior_marker(
    conf_dir: &Path,
    conf_s: &str,
    src: &Source,
) -> Result<Option<Marker>, DovecotError> {
    let (export, export_s) = (&src.export, &src.export_s);
    if conf_dir.starts_with(export) || export.starts_with(conf_dir) {
        return Err(DovecotError::Refused(format!(
            "CONF_DIR {conf_s} and EXPORT_DIR {export_s} must be apart (neither inside the other): the export must not change"
        )));
    }
    if !conf_dir.exists() {
        return Ok(None);
    }
    if !conf_dir.is_dir() {
        return Err(DovecotError::Refused(format!(
            "{conf_s} is not a directory"
        )));
    }
    match fs::read(conf_dir.join(MARKER)) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).map_err(|e| {
            DovecotError::Refused(format!(
                "{conf_s}/{MARKER} is damaged ({e}); use a new CONF_DIR"
            ))
        })?)),
        Err(_) => {
            if fs::read_dir(conf_dir)
                .map_err(ioerr(conf_dir))?
                .next()
                .is_some()
            {
                return Err(DovecotError::Refused(format!(
                    "{conf_s} is not empty and was not written by mxsalvage dovecot; give a new or empty directory"
                )));
            }
            Ok(None)
        }
    }
}

/// Debian's Dovecot accounts: the `dovecot` account's (uid, gid), and `dovenull` must
/// exist.
fn dovecot_accounts() -> Result<(u32, u32), DovecotError> {
    let internal = account("dovecot").ok_or_else(|| {
        DovecotError::Refused(
            "no `dovecot` account on this system: install Debian's dovecot-core and dovecot-imapd"
                .into(),
        )
    })?;
    if account("dovenull").is_none() {
        return Err(DovecotError::Refused(
            "no `dovenull` account on this system: install Debian's dovecot-core and dovecot-imapd"
                .into(),
        ));
    }
    Ok(internal)
}

/// The users to write (and the mailboxes skipped, with why). Refuses when a mailbox
/// is not readable by the reader's group, a password is missing, or nothing is left.
fn plan_users(req: &Request, src: &Source) -> Result<(Vec<Planned>, Vec<Skipped>), DovecotError> {
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut home_names = std::collections::BTreeSet::new();
    for r in &src.manifest.recipients {
        let (address, mail, mail_escaped) = match servable(&src.export, r) {
            Ok(x) => x,
            Err(s) => {
                skipped.push(s);
                continue;
            }
        };
        if !readable_by_group(&mail.path, mail.kind, src.reader.gid) {
            unreadable.push(mail.path.display().to_string());
            continue;
        }
        let Some(pw) = req.passwords.get(&mailbox_key(&r.address.0)) else {
            missing.push(address);
            continue;
        };
        planned.push(Planned {
            address,
            dir: r.dir.clone(),
            home_name: home_name(r, &mut home_names),
            mail,
            mail_escaped,
            messages: r.messages.len(),
            newest: newest_arrival(&src.manifest, r),
            password: pw.clone(),
        });
    }
    if !unreadable.is_empty() {
        return Err(DovecotError::Refused(format!(
            "{} mailbox(es) are not readable by group {} (e.g. {}): run `mxsalvage export --update --out {} …` again to grant it",
            unreadable.len(),
            src.reader.group,
            unreadable[0],
            src.export_s
        )));
    }
    if !missing.is_empty() {
        return Err(DovecotError::MissingPasswords(missing));
    }
    if planned.is_empty() {
        return Err(DovecotError::Refused(format!(
            "no mailbox of {} can be served ({} skipped)",
            src.export_s,
            skipped.len()
        )));
    }
    Ok((planned, skipped))
}

/// A recipient's user name, mail and escaped mail location; Err: why it cannot be an
/// IMAP user.
fn servable(export: &Path, r: &ManifestRecipient) -> Result<(String, Mail, String), Skipped> {
    let address = match String::from_utf8(r.address.0.clone()) {
        Ok(a) => a,
        Err(_) => {
            return Err(Skipped {
                address: String::from_utf8_lossy(&r.address.0).into_owned(),
                reason: "the address is not UTF-8, so it cannot be an IMAP user name".into(),
            });
        }
    };
    if let Some(why) = passwd::unusable_user(&address) {
        return Err(Skipped {
            address,
            reason: why.into(),
        });
    }
    let Some(mail) = mail_of(export, r) else {
        return Err(Skipped {
            address,
            reason: "the bundle has neither a Maildir nor an mbox (export with --format maildir)"
                .into(),
        });
    };
    let Some(mail_escaped) = mail.path.to_str().and_then(passwd::escape_location_part) else {
        return Err(Skipped {
            address,
            reason: "the bundle's path cannot go into a Dovecot mail location".into(),
        });
    };
    Ok((address, mail, mail_escaped))
}

/// The user's home directory name under `CONF_DIR/users/`: the bundle's name when it
/// is safe, else a hash of the address, unique among `taken`.
fn home_name(r: &ManifestRecipient, taken: &mut std::collections::BTreeSet<String>) -> String {
    let mut home_name =
        if r.dir.chars().all(|c| safe_char(c) && c != '/') && !r.dir.starts_with('.') {
            r.dir.clone()
        } else {
            format!("u-{}", short_hash(&r.address.0, 12))
        };
    if !taken.insert(home_name.clone()) {
        home_name = format!("u-{}", short_hash(&r.address.0, 16));
        taken.insert(home_name.clone());
    }
    home_name
}

/// Refuses when the reader cannot reach the mail, or the reader or Dovecot's
/// `internal` account (uid, gid) cannot reach CONF_DIR.
fn check_reachable(
    planned: &[Planned],
    src: &Source,
    conf_dir: &Path,
    internal: (u32, u32),
) -> Result<(), DovecotError> {
    let reader = &src.reader;
    let conf_existing = if conf_dir.exists() {
        conf_dir.to_path_buf()
    } else {
        conf_dir.parent().unwrap_or(conf_dir).to_path_buf()
    };
    let bundle = planned[0]
        .mail
        .path
        .parent()
        .unwrap_or(&src.export)
        .to_path_buf();
    for (what, d, who, uid, gid) in [
        ("the mail", &bundle, &reader.user, reader.uid, reader.gid),
        (
            "CONF_DIR",
            &conf_existing,
            &reader.user,
            reader.uid,
            reader.gid,
        ),
        (
            "CONF_DIR",
            &conf_existing,
            &"dovecot".to_string(),
            internal.0,
            internal.1,
        ),
    ] {
        if let Some((blk, mode)) = blocked_on_the_way(d, uid, gid) {
            return Err(DovecotError::Refused(format!(
                "Dovecot's processes (running as {who}) cannot enter {} (mode {mode:04o}) on the way to {what}: move it (e.g. under /srv) or allow it with `chmod o+x {}`",
                blk.display(),
                blk.display()
            )));
        }
    }
    Ok(())
}

/// The admin's certificate, or the self-signed one: kept from the last run when it
/// was for the same `server`, else generated now (written later).
fn certificate(
    req: &Request,
    conf_dir: &Path,
    old: Option<&Marker>,
    server: &str,
) -> Result<Cert, DovecotError> {
    let tls_dir = conf_dir.join("tls");
    let (cert, key, generated_cert) = match &req.tls {
        TlsChoice::Given { cert, key } => {
            let c = fs::canonicalize(cert).map_err(ioerr(cert))?;
            let k = fs::canonicalize(key).map_err(ioerr(key))?;
            fs::File::open(&k).map_err(ioerr(&k))?;
            check_path("--tls-cert", &c)?;
            check_path("--tls-key", &k)?;
            (c, k, false)
        }
        TlsChoice::Generate => (tls_dir.join("cert.pem"), tls_dir.join("key.pem"), true),
    };
    let keep_generated = generated_cert
        && old.is_some_and(|o| o.generated_cert && o.server == server)
        && cert.is_file()
        && key.is_file();
    let new = if generated_cert && !keep_generated {
        let mut names = vec![server.to_string()];
        let ip = req.listen.ip();
        if !ip.is_unspecified() && ip.to_string() != server {
            names.push(ip.to_string());
        }
        let g = tls::self_signed(&names).map_err(DovecotError::Refused)?;
        Some(g)
    } else {
        None
    };
    let cert_text = match &new {
        Some(g) => g.cert_pem.clone(),
        None => fs::read_to_string(&cert).map_err(ioerr(&cert))?,
    };
    let fingerprint = tls::fingerprint(&cert_text)
        .map_err(|e| DovecotError::Refused(format!("{}: {e}", cert.display())))?;
    Ok(Cert {
        cert,
        key,
        generated_cert,
        new,
        fingerprint,
    })
}

/// The passwd-file: one line per user with the hashed password, the reader's ids, the
/// home under `users_dir` and the mail location.
fn passwd_text(
    planned: &[Planned],
    reader: &Reader,
    users_dir: &Path,
) -> Result<String, DovecotError> {
    let mut passwd_text = String::from(
        "# Written by mxsalvage dovecot: user:{hash}:uid:gid::home::userdb_mail=location\n",
    );
    for p in planned {
        let hash = passwd::hash(&p.password.0).map_err(DovecotError::Refused)?;
        let home = users_dir.join(&p.home_name);
        let home_s = home.to_string_lossy();
        let loc = match p.mail.kind {
            "maildir" => format!(
                "maildir:{}:INDEX={home_s}/index:CONTROL={home_s}/control:VOLATILEDIR={home_s}/volatile",
                p.mail_escaped
            ),
            _ => format!(
                "mbox:{home_s}/mail:INBOX={}:INDEX={home_s}/index:CONTROL={home_s}/control:VOLATILEDIR={home_s}/volatile",
                p.mail_escaped
            ),
        };
        passwd_text.push_str(&passwd::line(
            &p.address, &hash, reader.uid, reader.gid, &home_s, &loc,
        ));
    }
    Ok(passwd_text)
}

/// Writes CONF_DIR's directories, a generated certificate, the users' homes, the
/// passwd-file, the ACL and `dovecot.conf`; returns the path of `dovecot.conf`.
fn write_conf(d: &Decided, listen: SocketAddr) -> Result<PathBuf, DovecotError> {
    let conf_dir = &d.conf_dir;
    let reader = &d.src.reader;
    let owner = (reader.uid, reader.gid);
    let users_dir = conf_dir.join("users");
    dir(conf_dir, 0o755, Some((0, 0)))?;
    dir(&conf_dir.join("state"), 0o755, Some((0, 0)))?;
    dir(&users_dir, 0o755, Some((0, 0)))?;
    dir(&conf_dir.join("handouts"), 0o700, Some((0, 0)))?;
    if let Some(g) = &d.cert.new {
        dir(&conf_dir.join("tls"), 0o755, Some((0, 0)))?;
        put(&d.cert.key, g.key_pem.as_bytes(), 0o600, Some((0, 0)))?;
        put(&d.cert.cert, g.cert_pem.as_bytes(), 0o644, Some((0, 0)))?;
    }
    for p in &d.planned {
        let home = users_dir.join(&p.home_name);
        dir(&home, 0o700, Some(owner))?;
        if p.mail.kind == "mbox" {
            dir(&home.join("mail"), 0o700, Some(owner))?;
        }
    }
    put(
        &conf_dir.join("passwd"),
        d.passwd_text.as_bytes(),
        0o640,
        Some((0, d.internal_gid)),
    )?;
    put(
        &conf_dir.join("acl"),
        conf::ACL.as_bytes(),
        0o644,
        Some((0, 0)),
    )?;
    let conf_text = conf::render(&conf::Settings {
        conf_dir: &d.conf_s,
        export: &d.src.export_s,
        listen,
        instance: "mxsalvage",
        uid: reader.uid,
        gid: reader.gid,
        cert: &d.cert.cert.to_string_lossy(),
        key: &d.cert.key.to_string_lossy(),
    });
    let conf_path = conf_dir.join("dovecot.conf");
    put(&conf_path, conf_text.as_bytes(), 0o644, Some((0, 0)))?;
    Ok(conf_path)
}

/// Writes one handout per user (and removes the last run's handouts of users who are
/// gone); returns the users and the handouts' file names.
fn write_handouts(
    d: &Decided,
    listen: SocketAddr,
) -> Result<(Vec<UserOut>, Vec<String>), DovecotError> {
    let handouts_dir = d.conf_dir.join("handouts");
    let show_fp = d.cert.generated_cert.then_some(d.cert.fingerprint.as_str());
    let mut users = Vec::new();
    let mut handouts = Vec::new();
    for p in &d.planned {
        let newest = p.newest.and_then(|t| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        });
        let text = handout::render(&handout::Facts {
            address: &p.address,
            server: &d.server,
            port: listen.port(),
            messages: p.messages,
            newest: newest.as_deref(),
            fingerprint: show_fp,
        });
        let name = format!("{}.txt", p.dir);
        let path = handouts_dir.join(&name);
        put(&path, text.as_bytes(), 0o600, Some((0, 0)))?;
        handouts.push(name);
        users.push(UserOut {
            address: p.address.clone(),
            messages: p.messages,
            kind: p.mail.kind,
            handout: path,
        });
    }
    if let Some(o) = &d.old {
        for h in &o.handouts {
            if !handouts.contains(h) && !h.contains('/') {
                let _ = fs::remove_file(handouts_dir.join(h));
            }
        }
    }
    Ok((users, handouts))
}

/// Writes the marker that makes CONF_DIR recognisably ours (and records this run).
fn write_marker(
    d: &Decided,
    listen: SocketAddr,
    users: &[UserOut],
    handouts: Vec<String>,
) -> Result<(), DovecotError> {
    let marker = Marker {
        tool: format!("mxsalvage {}", env!("CARGO_PKG_VERSION")),
        export: d.src.export_s.clone(),
        listen: listen.to_string(),
        server: d.server.clone(),
        reader: d.src.reader.spec(),
        cert: d.cert.cert.to_string_lossy().into_owned(),
        key: d.cert.key.to_string_lossy().into_owned(),
        generated_cert: d.cert.generated_cert,
        fingerprint: d.cert.fingerprint.clone(),
        users: users.iter().map(|u| u.address.clone()).collect(),
        handouts,
    };
    let mut mj =
        serde_json::to_vec_pretty(&marker).map_err(|e| ioerr(&d.conf_dir)(io::Error::other(e)))?;
    mj.push(b'\n');
    put(&d.conf_dir.join(MARKER), &mj, 0o600, Some((0, 0)))
}

/// Dovecot's own check of what was written: refused when `doveconf` rejects it, a
/// warning when it cannot run.
fn doveconf_check(conf_path: &Path, warnings: &mut Vec<String>) -> Result<(), DovecotError> {
    match Command::new("doveconf")
        .arg("-c")
        .arg(conf_path)
        .arg("-n")
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(DovecotError::Refused(format!(
                "doveconf rejects {}: {}",
                conf_path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(e) => warnings.push(format!(
            "cannot run doveconf to check the configuration ({e}): is dovecot-core installed?"
        )),
    }
    Ok(())
}
