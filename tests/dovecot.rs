//! Integration tests: Dovecot, for real (Debian's dovecot-core and dovecot-imapd).
//!
//! - The runbook's import recipes (`console tag=dovecot-import`) run as written against a
//!   private Dovecot with users alice and bob (the "server that works"; plain `doveadm`
//!   finds it through `CONFIG_FILE`): the mail arrives, the export does not change, and
//!   `verify` passes. The forms the runbook used to show are run too, to show why they
//!   are gone.
//! - `mxsalvage dovecot` end to end: the generated configuration is started on a
//!   loopback port; Python's `imaplib` logs in over TLS (checked against the generated
//!   certificate) as two users and a non-ASCII one, lists and fetches every message and
//!   compares the bytes with the export; one user cannot reach another's mail; a wrong
//!   password is refused; STORE/EXPUNGE/COPY/MOVE/APPEND/CREATE change nothing; the
//!   export's tree is unchanged and `verify` passes; after `export --update` a new
//!   session sees the new mail, and a rerun adds the new users.
//! - The runbook's IMAP section (`console tag=dovecot-imap`) runs as written.
//! - Refusals: an export without a reader, missing passwords, a foreign CONF_DIR.
//! - Issue 16: the runbook's import for Debian's stock Dovecot (system users, empty
//!   `mail_uid`; `console tag=dovecot-import-system`) against a private Dovecot set up
//!   that way, with system accounts the test adds and removes; the handouts' host name
//!   (private UTS namespaces: `mx2` refused, `mx2.example.net` used); what the command
//!   says about serving and about a port in use; a rerun refusing a symlink the reader
//!   planted in its home; the generated password file with an address holding a blank.
//!
//! Needs root (Dovecot drops privileges to the mail account). Without root or Dovecot
//! the tests skip with a note, unless `CI` is set.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::harness::{
    assert_stderr_contains, free_port, manifest, ran_ok, s, sha256_hex as sha, stderr, write_mode,
};
use crate::util;
use mxsalvage::manifest::Manifest;

// ---------------------------------------------------------------------------------
// helpers

pub(crate) fn available() -> bool {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let ok = root
        && util::have("dovecot")
        && util::have("doveadm")
        && util::have("python3")
        && Path::new("/usr/lib/dovecot/imap").exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but root, Dovecot (dovecot-core, dovecot-imapd) or python3 is missing"
        );
        eprintln!("note: skipping: needs root, dovecot-core, dovecot-imapd and python3");
    }
    ok
}

static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A system account as the runbook makes it (idempotent).
pub(crate) fn ensure_account(name: &str) -> (u32, u32) {
    let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let st = Command::new("adduser")
        .args([
            "--system",
            "--group",
            "--quiet",
            "--no-create-home",
            "--home",
            "/nonexistent",
            name,
        ])
        .status()
        .expect("adduser");
    assert!(st.success(), "adduser {name} failed");
    let o = Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    let f: Vec<&str> = s.trim().split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// A temporary directory others may enter (Dovecot's processes are not root).
fn open_tempdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn ok(o: &Output, what: &str) -> String {
    String::from_utf8_lossy(ran_ok(o, what)).into_owned()
}

/// Everything written to a temporary file.
fn read_all(mut f: std::fs::File) -> String {
    let mut v = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut v).unwrap();
    String::from_utf8_lossy(&v).into_owned()
}

/// A password file for every recipient of the samples (`address password`).
fn write_passwords(path: &Path, m: &Manifest) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut text = String::from("# test passwords\n");
    for (i, r) in m.recipients.iter().enumerate() {
        let a = String::from_utf8(r.address.0.clone()).unwrap();
        let pw = format!("pw{i}-{}", a.split('@').next().unwrap().len());
        text.push_str(&format!("{a} {pw}\n"));
        map.insert(a, pw);
    }
    write_mode(path, text, 0o600);
    map
}

/// An export of the samples (their own configuration, quiet) with `extra`.
fn export_samples(out: &Path, extra: &[&str]) -> Output {
    crate::harness::export_samples(out, extra).output()
}

/// A Dovecot started with `dovecot -c CONF`, stopped with `doveadm -c CONF stop`.
pub(crate) struct Running {
    pub(crate) conf: PathBuf,
}

impl Running {
    pub(crate) fn start(conf: &Path, port: Option<u16>) -> Running {
        // Output into a file, not a pipe: the daemon keeps its stderr open.
        let log = tempfile::tempfile().unwrap();
        let st = Command::new("dovecot")
            .arg("-c")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .status()
            .unwrap();
        let r = Running {
            conf: conf.to_path_buf(),
        };
        assert!(
            st.success(),
            "dovecot -c {} failed: {}",
            conf.display(),
            read_all(log)
        );
        if let Some(p) = port {
            let t = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "Dovecot does not listen on {p}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        r
    }
}

/// `doveadm -c CONF ARGS…`: always the given configuration, never /etc/dovecot (the
/// host's, maybe absent).
fn doveadm(conf: &Path, args: &[&str]) -> Output {
    Command::new("doveadm")
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .unwrap()
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
    }
}

/// The files of a Maildir's `new/` and `cur/`, as contents.
fn maildir_messages(md: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(md.join(sub)) {
            for e in rd {
                v.push(std::fs::read(e.unwrap().path()).unwrap());
            }
        }
    }
    v.sort();
    v
}

/// What an IMAP server sends for a stored message: bare LF → CRLF.
fn crlf(b: &[u8]) -> Vec<u8> {
    let mut o = Vec::with_capacity(b.len() + b.len() / 40);
    let mut prev = 0u8;
    for &c in b {
        if c == b'\n' && prev != b'\r' {
            o.push(b'\r');
        }
        o.push(c);
        prev = c;
    }
    o
}

/// A message with mboxrd quoting applied to its body (`>` before `>*From `).
fn mboxrd_quoted(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_body = false;
    for line in m.split_inclusive(|&c| c == b'\n') {
        let bare = line.trim_ascii_start_matches_gt();
        if in_body && bare.starts_with(b"From ") {
            out.push(b'>');
        }
        if line == b"\n" {
            in_body = true;
        }
        out.extend_from_slice(line);
    }
    out
}

trait TrimGt {
    fn trim_ascii_start_matches_gt(&self) -> &[u8];
}

impl TrimGt for [u8] {
    fn trim_ascii_start_matches_gt(&self) -> &[u8] {
        let n = self.iter().take_while(|&&c| c == b'>').count();
        &self[n..]
    }
}

/// A documentation sandbox Dovecot's unprivileged processes may enter.
pub(crate) fn doc_env() -> crate::docs::DocEnv {
    let env = crate::docs::DocEnv::new();
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    env
}

// ---------------------------------------------------------------------------------
// the "server that works" of the import recipes

/// A private Dovecot with mail users, each `uid:gid` of `account`, Maildir in their home.
pub(crate) struct MailServer {
    // Stopped before its directory is removed (fields drop in this order).
    _running: Running,
    dir: tempfile::TempDir,
}

impl MailServer {
    pub(crate) fn new(users: &[&str], account: (u32, u32)) -> MailServer {
        let (uid, gid) = account;
        let users: Vec<(&str, u32, u32)> = users.iter().map(|u| (*u, uid, gid)).collect();
        MailServer::start(open_tempdir(), &users, "maildir:~/Maildir", 1)
    }

    /// Starts Dovecot in `dir` for `users` (name, uid, gid; a home each under
    /// `dir/home`) with `mail_location` (`{d}` is `dir`) and `first_valid_uid`.
    fn start(
        dir: tempfile::TempDir,
        users: &[(&str, u32, u32)],
        mail_location: &str,
        first_valid_uid: u32,
    ) -> MailServer {
        let d = dir.path();
        let mut passwd = String::new();
        for (u, uid, gid) in users {
            let home = d.join("home").join(u);
            std::fs::create_dir_all(&home).unwrap();
            std::os::unix::fs::chown(&home, Some(*uid), Some(*gid)).unwrap();
            passwd.push_str(&format!(
                "{u}:{{PLAIN}}x:{uid}:{gid}::{}::\n",
                home.display()
            ));
        }
        std::fs::write(d.join("passwd"), passwd).unwrap();
        let mail_location = mail_location.replace("{d}", &d.display().to_string());
        let conf = format!(
            "protocols =\nbase_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             ssl = no\nmail_location = {mail_location}\nfirst_valid_uid = {first_valid_uid}\n\
             default_login_user = dovenull\ndefault_internal_user = dovecot\n\
             passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n",
            d = d.display()
        );
        std::fs::create_dir_all(d.join("state")).unwrap();
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        let running = Running::start(&d.join("dovecot.conf"), None);
        MailServer {
            dir,
            _running: running,
        }
    }

    pub(crate) fn conf(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user).join("Maildir")
    }

    fn doveadm(&self, args: &[&str]) -> Output {
        doveadm(&self.conf(), args)
    }

    fn count(&self, user: &str) -> String {
        let o = self.doveadm(&["mailbox", "status", "-u", user, "messages", "INBOX"]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

// ---------------------------------------------------------------------------------
// item 3: importing into a Dovecot server

/// What the runbook used to say, on the export as it used to be (root-only): each
/// form fails, two of them silently.
#[test]
fn old_import_recipes_fail() {
    if !available() {
        return;
    }
    let vmail = ensure_account("vmail");
    let srv = MailServer::new(&["alice@example.com"], vmail);
    let d = open_tempdir();
    let out = d.path().join("salvage");
    ok(&export_samples(&out, &[]), "export");
    let bundle = out.join("recipients/alice@example.com");
    let before = util::tree_fingerprint(&out);

    // Root-only Maildir: "Permission denied", yet exit 0 and nothing imported.
    let md = format!("maildir:{}", bundle.join("Maildir").display());
    let o = srv.doveadm(&["import", "-u", "alice@example.com", &md, "", "all"]);
    assert_eq!(o.status.code(), Some(0));
    assert_stderr_contains(&o, "Permission denied");
    assert_ne!(srv.count("alice@example.com"), "INBOX messages=13");
    assert_eq!(util::tree_fingerprint(&out), before);

    // Even with read access (`--reader`), the old mbox forms fail.
    ok(
        &export_samples(&out, &["--update", "--reader", "vmail"]),
        "export --reader",
    );
    let before = util::tree_fingerprint(&out);
    // mbox with the file as root: fatal ("mbox root directory can't be a file").
    let mb = format!("mbox:{}", bundle.join("mail.mbox").display());
    let o = srv.doveadm(&["import", "-u", "alice@example.com", &mb, "", "all"]);
    assert!(!o.status.success(), "{o:?}");
    assert_stderr_contains(&o, "can't be a file");
    // mbox with the bundle as root: every file of the bundle is tried as a folder.
    let mb = format!(
        "mbox:{}:INBOX={}",
        bundle.display(),
        bundle.join("mail.mbox").display()
    );
    let o = srv.doveadm(&["import", "-u", "alice@example.com", &mb, "", "all"]);
    assert!(!o.stderr.is_empty(), "{o:?}");
    assert_eq!(srv.count("alice@example.com"), "INBOX messages=0");
    assert_eq!(util::tree_fingerprint(&out), before);
}

/// The runbook's recipes, as written: the mail arrives byte for byte (Maildir) and
/// complete (mbox), the export is unchanged, `verify` passes.
#[test]
fn runbook_import_recipes_work() {
    if !available() {
        return;
    }
    let vmail = ensure_account("vmail");
    let srv = MailServer::new(&["alice@example.com", "bob@example.com"], vmail);
    let mut env = doc_env();
    // Plain `doveadm`, as the runbook writes it, finds this server's configuration.
    env.var("CONFIG_FILE", &srv.conf().display().to_string());
    crate::docs::run_tagged("dovecot-import", &env);
    let out = env.srv().join("salvage-import");
    // The group may read, not write; the owner stays root.
    let md = out.join("recipients/alice@example.com/Maildir");
    let m = std::fs::metadata(&md).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, vmail.1, 0o750));
    let f = std::fs::read_dir(md.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let m = f.metadata().unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, vmail.1, 0o640));
    let m = std::fs::metadata(out.join("recipients/alice@example.com/eml")).unwrap();
    assert_eq!(
        (m.gid(), m.mode() & 0o777),
        (0, 0o700),
        "only mailboxes are shared"
    );
    assert_eq!(
        manifest(&out).options.reader.as_deref(),
        Some("vmail:vmail")
    );
    // Maildir import: the very bytes.
    assert_eq!(
        maildir_messages(&srv.maildir("alice@example.com")),
        maildir_messages(&md)
    );
    // mbox import: every message, as the Maildir holds it.
    let bob = maildir_messages(&srv.maildir("bob@example.com"));
    let want = maildir_messages(&out.join("recipients/bob@example.com/Maildir"));
    assert_eq!(bob.len(), want.len());
    // Dovecot reads mbox as mboxo: body lines that start with `>*From ` keep the `>`
    // the mboxrd writer added (the runbook says so and prefers the Maildir).
    let mut want: Vec<Vec<u8>> = want.iter().map(|m| mboxrd_quoted(m)).collect();
    want.sort();
    for (g, w) in bob.iter().zip(&want) {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "mbox import differs from the Maildir copy (beyond mboxo quoting)"
        );
    }
    // Nothing of Dovecot's in the export, and a second look changes nothing.
    let before = util::tree_fingerprint(&out);
    let o = util::run(&["verify", s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(util::tree_fingerprint(&out), before);
}

// ---------------------------------------------------------------------------------
// item 4: mxsalvage dovecot

const IMAP_CLIENT: &str = r#"
import imaplib, ssl, sys, json, hashlib, socket
mode, port, cafile, host, user, pw = sys.argv[1:7]
others = sys.argv[7:]
ctx = ssl.create_default_context(cafile=cafile)
out = {}

def conn():
    return imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)

def login(M):
    if user.isascii():
        M.login(user, pw)
    else:
        M.authenticate('PLAIN', lambda _: b'\0' + user.encode() + b'\0' + pw.encode())

if mode == 'badlogin':
    M = conn()
    try:
        login(M)
        out['login'] = 'accepted'
    except imaplib.IMAP4.error:
        out['login'] = 'refused'
    print(json.dumps(out))
    sys.exit(0)

M = conn()
login(M)
out['list'] = [l.decode() for l in M.list()[1]]
out['namespace'] = M.namespace()[1][0].decode()
typ, data = M.select('INBOX', readonly=True)
out['count'] = int(data[0])
msgs = []
typ, data = M.uid('SEARCH', None, 'ALL')
for uid in data[0].split():
    typ, d = M.uid('FETCH', uid, '(RFC822.SIZE BODY.PEEK[])')
    body = d[0][1]
    msgs.append(hashlib.sha256(body).hexdigest())
out['messages'] = sorted(msgs)
# Other users' mail, by every name a client could try.
out['others'] = {}
for o in others:
    for name in [o, '../' + o, '~' + o, '~' + o + '/INBOX', '#shared/' + o, 'shared/' + o, 'Other Users/' + o]:
        try:
            typ, _ = M.select(name, readonly=True)
        except imaplib.IMAP4.error as e:
            typ = 'BAD'
        out['others'][name] = typ
out['append'] = M.append('INBOX', None, None, b'Subject: x\r\n\r\nhi\r\n')[0]
out['create'] = M.create('Saved')[0]
out['delete'] = M.delete('INBOX')[0]
out['rename'] = M.rename('INBOX', 'Old')[0]
M.logout()

if user.isascii():
    # A client that asks for write access: SELECT, then try to change things.
    s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    f = s.makefile('rb')
    f.readline()
    n = [0]
    def cmd(c):
        n[0] += 1
        t = b'r%d ' % n[0]
        s.sendall(t + c.encode() + b'\r\n')
        lines = []
        while True:
            l = f.readline().rstrip(b'\r\n')
            if l.startswith(t):
                return l[len(t):].decode(), [x.decode('utf-8', 'replace') for x in lines]
            lines.append(l)
    cmd('LOGIN "%s" "%s"' % (user, pw))
    tagged, untagged = cmd('SELECT INBOX')
    out['select'] = tagged
    out['permanentflags'] = [u for u in untagged if 'PERMANENTFLAGS' in u]
    out['store'] = cmd('STORE 1:* +FLAGS (\\Seen \\Deleted \\Flagged)')[0]
    out['flags_after_store'] = cmd('FETCH 1:* (FLAGS)')[1]
    out['expunge'] = cmd('EXPUNGE')[0]
    out['uid_expunge'] = cmd('UID EXPUNGE 1:*')[0]
    out['copy'] = cmd('COPY 1 INBOX')[0]
    out['move'] = cmd('MOVE 1 INBOX')[0]
    cmd('LOGOUT')
    # A new session still sees everything, unflagged.
    M = conn()
    login(M)
    typ, data = M.select('INBOX', readonly=True)
    out['count_after'] = int(data[0])
    out['flags_after'] = [d.decode() for d in M.fetch('1:*', '(FLAGS)')[1]]
    M.logout()
print(json.dumps(out))
"#;

fn imap(
    mode: &str,
    port: u16,
    cafile: &Path,
    user: &str,
    pw: &str,
    others: &[&str],
) -> serde_json::Value {
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg(IMAP_CLIENT)
        .arg(mode)
        .arg(port.to_string())
        .arg(cafile)
        .arg("127.0.0.1")
        .arg(user)
        .arg(pw)
        .args(others);
    let out = ok(&c.output().unwrap(), &format!("imap client as {user}"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// sha256 of each message of a Maildir as the IMAP server sends it, sorted.
fn served(md: &Path) -> Vec<String> {
    let mut v: Vec<String> = maildir_messages(md).iter().map(|m| sha(&crlf(m))).collect();
    v.sort();
    v
}

fn dovecot_cmd(export: &Path, pwfile: &Path, port: u16, conf: &Path, extra: &[&str]) -> Output {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "dovecot",
        "--from",
        s(export),
        "--zip-password-file",
        s(pwfile),
        "--listen",
        &listen,
        "--out",
        s(conf),
    ];
    args.extend_from_slice(extra);
    util::run(&args)
}

fn check_user(
    port: u16,
    ca: &Path,
    export: &Path,
    user: &str,
    pw: &str,
    others: &[&str],
) -> serde_json::Value {
    let r = imap("session", port, ca, user, pw, others);
    let md = export.join("recipients").join(user).join("Maildir");
    let want = served(&md);
    assert_eq!(
        r["list"],
        serde_json::json!(["(\\HasNoChildren) \"/\" INBOX"]),
        "{user}: {r}"
    );
    assert!(
        !r["namespace"].as_str().unwrap().contains("shared"),
        "{user}: {r}"
    );
    assert_eq!(r["count"], want.len(), "{user}");
    assert_eq!(
        r["messages"],
        serde_json::json!(want),
        "{user}: bytes differ from the export"
    );
    for (name, typ) in r["others"].as_object().unwrap() {
        assert_ne!(typ, "OK", "{user} could open {name}");
    }
    for k in ["append", "create", "delete", "rename"] {
        assert_eq!(r[k], "NO", "{user}: {k} was not refused: {r}");
    }
    if user.is_ascii() {
        assert!(r["select"].as_str().unwrap().contains("[READ-ONLY]"), "{r}");
        assert_eq!(
            r["permanentflags"],
            serde_json::json!(["* OK [PERMANENTFLAGS ()] Read-only mailbox."])
        );
        // STORE and EXPUNGE are answered but change nothing (the mailbox is
        // READ-ONLY, the ACL has no write rights); COPY and MOVE are refused.
        for l in r["flags_after_store"].as_array().unwrap() {
            let l = l.as_str().unwrap();
            assert!(
                !l.contains("\\Seen") && !l.contains("\\Deleted") && !l.contains("\\Flagged"),
                "{user}: {l}"
            );
        }
        assert_eq!(r["copy"].as_str().unwrap().split(' ').next(), Some("NO"));
        assert_eq!(r["move"].as_str().unwrap().split(' ').next(), Some("NO"));
        assert_eq!(r["count_after"], want.len());
        for l in r["flags_after"].as_array().unwrap() {
            assert!(l.as_str().unwrap().ends_with("(FLAGS ())"), "{user}: {l}");
        }
    }
    r
}

#[test]
fn imap_serves_the_export_read_only() {
    if !available() {
        return;
    }
    let (uid, gid) = ensure_account("mxsalvage");
    let d = open_tempdir();
    let export = d.path().join("salvage");
    let conf = d.path().join("imap");
    let pwfile = d.path().join("passwords");
    // All of the samples' recipients have a password; the first export holds only the
    // mail that arrived in the first second (no hang@, no info@ yet).
    let full = d.path().join("full");
    ok(&export_samples(&full, &["--format", "maildir"]), "export");
    let pw = write_passwords(&pwfile, &manifest(&full));
    let zip = [
        "--format",
        "maildir",
        "--zip",
        "--zip-password-file",
        s(&pwfile),
        "--reader",
        "mxsalvage",
    ];
    let mut first = zip.to_vec();
    first.extend_from_slice(&["--until", "@1795804681"]);
    ok(&export_samples(&export, &first), "export --until");
    let port = free_port();
    let o = dovecot_cmd(&export, &pwfile, port, &conf, &[]);
    let stdout = ok(&o, "mxsalvage dovecot");
    let n_users = manifest(&export).recipients.len();
    assert!(
        stdout.contains(&format!("{n_users} user(s) of {}", export.display())),
        "{stdout}"
    );

    // The certificate's fingerprint, as openssl computes it.
    let ca = conf.join("tls/cert.pem");
    let fp = openssl_fingerprint(&ca);
    assert!(
        stdout.contains(&format!("SHA-256 fingerprint: {fp}")),
        "{stdout}"
    );
    let handout = std::fs::read_to_string(conf.join("handouts/alice@example.com.txt")).unwrap();
    assert!(handout.contains(&fp));
    assert!(handout.contains(&format!("Port:             {port}")));

    // Hashed passwords only; Dovecot agrees with each hash.
    let passwd = std::fs::read_to_string(conf.join("passwd")).unwrap();
    for (a, p) in &pw {
        if manifest(&export)
            .recipients
            .iter()
            .all(|r| r.address.0 != a.as_bytes())
        {
            continue;
        }
        assert!(
            !passwd.contains(p.as_str()),
            "plaintext password of {a} in passwd"
        );
        let line = passwd
            .lines()
            .find(|l| l.starts_with(&format!("{a}:")))
            .unwrap();
        let hash = line.split(':').nth(1).unwrap();
        assert!(hash.starts_with("{SHA512-CRYPT}$6$rounds="), "{line}");
        if a == "alice@example.com" {
            // The generated configuration, not /etc/dovecot (the host's, maybe absent).
            let o = doveadm(&conf.join("dovecot.conf"), &["pw", "-t", hash, "-p", p]);
            ok(&o, "doveadm pw -t");
        }
    }
    let m = std::fs::metadata(conf.join("passwd")).unwrap();
    assert_eq!(m.mode() & 0o777, 0o640);
    let key = std::fs::metadata(conf.join("tls/key.pem")).unwrap();
    assert_eq!((key.uid(), key.mode() & 0o777), (0, 0o600));
    let home = std::fs::metadata(conf.join("users/alice@example.com")).unwrap();
    assert_eq!((home.uid(), home.gid()), (uid, gid));
    let text = std::fs::read_to_string(conf.join("dovecot.conf")).unwrap();
    assert!(
        !text
            .lines()
            .any(|l| !l.starts_with('#') && (l.contains("/etc/dovecot") || l.contains("!include"))),
        "{text}"
    );

    let before = util::tree_fingerprint(&export);
    let running = Running::start(&conf.join("dovecot.conf"), Some(port));
    let alice = &pw["alice@example.com"];
    let bob = &pw["bob@example.com"];
    check_user(
        port,
        &ca,
        &export,
        "alice@example.com",
        alice,
        &["bob@example.com"],
    );
    check_user(
        port,
        &ca,
        &export,
        "bob@example.com",
        bob,
        &["alice@example.com"],
    );
    check_user(
        port,
        &ca,
        &export,
        "jörg@example.com",
        &pw["jörg@example.com"],
        &[],
    );
    let r = imap("badlogin", port, &ca, "alice@example.com", bob, &[]);
    assert_eq!(r["login"], "refused");
    let r = imap("badlogin", port, &ca, "nobody@example.com", bob, &[]);
    assert_eq!(r["login"], "refused");
    assert_untouched_and_verified(&export, &before, &pwfile);

    // New mail: export --update while Dovecot runs; a new session sees it.
    let mut update = zip.to_vec();
    update.push("--update");
    ok(&export_samples(&export, &update), "export --update");
    let m = manifest(&export);
    assert_eq!(m.options.reader.as_deref(), Some("mxsalvage:mxsalvage"));
    let r = check_user(port, &ca, &export, "alice@example.com", alice, &[]);
    assert_eq!(r["count"], 13);
    // New recipients: the same command again, then a reload.
    let again = dovecot_cmd(&export, &pwfile, port, &conf, &[]);
    let stdout2 = ok(&again, "mxsalvage dovecot (again)");
    assert!(stdout2.contains("reload"), "{stdout2}");
    assert!(
        stdout2.contains(&format!("SHA-256 fingerprint: {fp}")),
        "the certificate was replaced"
    );
    ok(
        &doveadm(&conf.join("dovecot.conf"), &["reload"]),
        "doveadm reload",
    );
    let r = check_user(
        port,
        &ca,
        &export,
        "hang@example.com",
        &pw["hang@example.com"],
        &[],
    );
    assert_eq!(r["count"], 1);
    let before = util::tree_fingerprint(&export);
    check_user(
        port,
        &ca,
        &export,
        "info@example.com",
        &pw["info@example.com"],
        &[],
    );
    drop(running);
    assert_untouched_and_verified(&export, &before, &pwfile);
}

/// The runbook's IMAP section, as written (its port mapped to a free one).
#[test]
fn runbook_imap_section_runs() {
    if !available() {
        return;
    }
    let mut env = doc_env();
    let full = env.path().join("full");
    ok(&export_samples(&full, &["--format", "maildir"]), "export");
    write_passwords(&env.srv().join("salvage-zip-passwords"), &manifest(&full));
    let port = free_port();
    env.substitute("10993", &port.to_string());
    // Stops the server even when a command fails half-way.
    let _guard = Running {
        conf: env.srv().join("salvage-imap/dovecot.conf"),
    };
    crate::docs::run_tagged("dovecot-imap", &env);
}

#[test]
fn refusals() {
    if !available() {
        return;
    }
    let d = open_tempdir();
    let out = d.path().join("salvage");
    ok(&export_samples(&out, &[]), "export");
    let pwfile = d.path().join("pw");
    let pw = write_passwords(&pwfile, &manifest(&out));
    let conf = d.path().join("imap");
    // Root-only export: refused, with the way out.
    let o = dovecot_cmd(&out, &pwfile, 10993, &conf, &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("readable only by root") && e.contains("--reader"),
        "{e}"
    );
    assert!(!conf.exists(), "nothing is written when refused");

    // With a reader, a password file lacking a user is refused by name.
    ensure_account("mxsalvage");
    let o = export_samples(&out, &["--update", "--reader", "mxsalvage"]);
    ok(&o, "export --update --reader");
    let short = d.path().join("pw-short");
    let text: String = pw
        .iter()
        .filter(|(a, _)| *a != "bob@example.com")
        .map(|(a, p)| format!("{a} {p}\n"))
        .collect();
    std::fs::write(&short, text).unwrap();
    let o = dovecot_cmd(&out, &short, 10993, &conf, &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no line for: bob@example.com"), "{e}");
    assert!(!conf.exists());

    // A CONF_DIR that is not ours, or inside the export.
    let foreign = d.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("x"), "x").unwrap();
    let o = dovecot_cmd(&out, &pwfile, 10993, &foreign, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "not written by mxsalvage");
    let o = dovecot_cmd(&out, &pwfile, 10993, &out.join("imap"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "must be apart");

    // The admin's own certificate: referenced, its fingerprint printed, no handout
    // fingerprint section.
    let cert = d.path().join("c.pem");
    let key = d.path().join("k.pem");
    ok(
        &Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            ])
            .arg("/CN=mail.example.com")
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap(),
        "openssl req",
    );
    let o = dovecot_cmd(
        &out,
        &pwfile,
        10993,
        &conf,
        &[
            "--tls-cert",
            s(&cert),
            "--tls-key",
            s(&key),
            "--hostname",
            "mail.example.com",
        ],
    );
    let stdout = ok(&o, "dovecot with --tls-cert");
    assert!(stdout.contains("(given)"), "{stdout}");
    assert!(stdout.contains(&openssl_fingerprint(&cert)), "{stdout}");
    let text = std::fs::read_to_string(conf.join("dovecot.conf")).unwrap();
    assert!(text.contains(&format!("ssl_cert = <{}", cert.display())));
    let h = std::fs::read_to_string(conf.join("handouts/alice@example.com.txt")).unwrap();
    assert!(h.contains("Server:           mail.example.com"));
    assert!(!h.contains("fingerprint"));
}

// ---------------------------------------------------------------------------------
// issue 16: Dovecot as Debian installs it, the handouts' host name, what the command
// says, the password file and the reader's home

/// A system account of this test run (`useradd --system`, a unique name), removed with
/// its group when dropped, also when the test fails.
pub(crate) struct SystemUser {
    name: String,
}

impl SystemUser {
    pub(crate) fn new(tag: &str) -> SystemUser {
        let name = format!("mxt{}-{tag}", std::process::id());
        let u = SystemUser { name };
        let _ = Command::new("userdel").arg(&u.name).output();
        let _ = Command::new("groupdel").arg(&u.name).output();
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let st = Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
            .arg(&u.name)
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {} failed", u.name);
        u
    }

    fn ids(&self) -> (u32, u32) {
        let o = Command::new("id")
            .arg("-u")
            .arg(&self.name)
            .output()
            .unwrap();
        let g = Command::new("id")
            .arg("-g")
            .arg(&self.name)
            .output()
            .unwrap();
        let n = |o: &Output| String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
        (n(&o), n(&g))
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).output();
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

/// A private Dovecot configured as Debian's stock one reads mail: `mail_uid` empty,
/// each user (by short name, `alice`) read under their own system account's uid,
/// `mail_location = mbox:~/mail:INBOX=…` (Debian's, with the inbox in a private
/// spool directory instead of /var/mail).
pub(crate) fn stock_server(users: &[(&str, &SystemUser)]) -> MailServer {
    let dir = open_tempdir();
    let spool = dir.path().join("var-mail");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let users: Vec<(&str, u32, u32)> = users
        .iter()
        .map(|(u, acct)| {
            let (uid, gid) = acct.ids();
            (*u, uid, gid)
        })
        .collect();
    MailServer::start(dir, &users, "mbox:~/mail:INBOX={d}/var-mail/%u", 100)
}

/// Issue 16 item 4 (a2): on a stock Debian Dovecot (system users, empty `mail_uid`)
/// the vmail recipe imports nothing and exits 0; the runbook's system-users recipe
/// (`console tag=dovecot-import-system`) runs as written and imports every message,
/// and its check fails loudly (exit 68) where nothing was imported.
#[test]
fn runbook_import_for_system_users() {
    if !available() {
        return;
    }
    let (alice, bob) = (SystemUser::new("alice"), SystemUser::new("bob"));
    let srv = stock_server(&[("alice", &alice), ("bob", &bob)]);
    let mut env = doc_env();
    env.var("CONFIG_FILE", &srv.conf().display().to_string());
    // The export of runbook §4: root-only, no --reader.
    let out = env.srv().join("salvage");
    ok(&export_samples(&out, &[]), "export");
    let before = util::tree_fingerprint(&out);

    // The defect: reading the export in place imports nothing, exit 0, reason on stderr.
    let md = format!(
        "maildir:{}:INDEX=MEMORY",
        out.join("recipients/bob@example.com/Maildir").display()
    );
    let o = srv.doveadm(&["import", "-s", "-u", "bob", &md, "Salvaged", "all"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_stderr_contains(&o, "Permission denied");
    // The runbook's check turns that into a failure.
    let o = srv.doveadm(&[
        "mailbox",
        "status",
        "-u",
        "bob",
        "messages",
        "Salvaged/INBOX",
    ]);
    assert_eq!(o.status.code(), Some(68), "{o:?}");
    assert_stderr_contains(&o, "doesn't exist");

    // The runbook's recipe, as written.
    crate::docs::run_tagged("dovecot-import-system", &env);
    assert_eq!(
        srv.count("alice"),
        "INBOX messages=0",
        "alice's INBOX untouched"
    );
    let o = srv.doveadm(&["mailbox", "list", "-s", "-u", "alice"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Salvaged/INBOX"),
        "subscribed"
    );
    // Every message arrived: the Message-IDs are the export's.
    let o = srv.doveadm(&[
        "fetch",
        "-u",
        "alice",
        "hdr.message-id",
        "mailbox",
        "Salvaged/INBOX",
        "all",
    ]);
    let got = ok(&o, "doveadm fetch");
    for m in maildir_messages(&out.join("recipients/alice@example.com/Maildir")) {
        let t = String::from_utf8_lossy(&m);
        let id = t.lines().take_while(|l| !l.is_empty()).find(|l| {
            l.get(..11)
                .is_some_and(|p| p.eq_ignore_ascii_case("message-id:"))
        });
        if let Some(id) = id {
            assert!(got.contains(id[11..].trim()), "{id} not imported");
        }
    }
    assert!(
        !env.srv().join("import-alice").exists(),
        "the copy is removed"
    );
    assert_eq!(
        util::tree_fingerprint(&out),
        before,
        "the export is unchanged"
    );
}

/// A certificate's SHA-256 fingerprint as openssl computes it (`AB:CD:…`).
fn openssl_fingerprint(cert: &Path) -> String {
    let o = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", s(cert)])
        .output()
        .unwrap();
    let fp = ok(&o, "openssl x509");
    fp.trim().rsplit('=').next().unwrap().to_string()
}

/// An export of the samples (with `extra` options) for the `mxsalvage` reader account
/// and its zip passwords: (the temporary directory, OUT = its `salvage`, the password
/// file = its `pw`).
fn reader_export(extra: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    ensure_account("mxsalvage");
    let d = open_tempdir();
    let out = d.path().join("salvage");
    let args: Vec<&str> = [extra, &["--reader", "mxsalvage"]].concat();
    ok(&export_samples(&out, &args), "export");
    let pwfile = d.path().join("pw");
    write_passwords(&pwfile, &manifest(&out));
    (d, out, pwfile)
}

/// The export is as it was (`before`: its fingerprint) and verifies.
fn assert_untouched_and_verified(export: &Path, before: &str, pwfile: &Path) {
    assert_eq!(util::tree_fingerprint(export), before, "the export changed");
    let v = util::run(&["verify", "--zip-password-file", s(pwfile), s(export)]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}

/// `mxsalvage dovecot ARGS` run in private UTS and network namespaces whose host name
/// is `host` (no DNS there: `hostname --fqdn` finds nothing better than the name).
fn dovecot_on_host(host: &str, args: &[&str]) -> Output {
    Command::new("unshare")
        .args([
            "--uts",
            "--net",
            "sh",
            "-c",
            "hostname \"$0\" && exec \"$@\"",
        ])
        .arg(host)
        .arg(util::bin())
        .arg("dovecot")
        .args(args)
        .output()
        .unwrap()
}

/// Issue 16 item 5 (a10): listening on every address without --hostname, the handouts
/// and the certificate name this host's fully qualified name; a name without a dot is
/// refused (exit 2, one line naming --hostname, nothing written).
#[test]
fn handouts_name_a_resolvable_host() {
    if !available() || !util::have("unshare") {
        return;
    }
    let (d, out, pwfile) = reader_export(&[]);
    let conf = d.path().join("imap");
    let args = |c: &Path| -> Vec<String> {
        ["--from", s(&out), "--zip-password-file", s(&pwfile)]
            .iter()
            .map(|x| x.to_string())
            .chain(["--listen".into(), "0.0.0.0:10993".into(), "--out".into()])
            .chain([s(c).to_string()])
            .collect()
    };
    let a = args(&conf);
    let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    let o = dovecot_on_host("mx2", &a);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("(mx2) has no domain") && e.contains("--hostname"),
        "{e}"
    );
    assert!(!conf.exists(), "nothing written");
    // A fully qualified host name is used.
    let o = dovecot_on_host("mx2.example.net", &a);
    ok(&o, "dovecot on mx2.example.net");
    let h = std::fs::read_to_string(conf.join("handouts/alice@example.com.txt")).unwrap();
    assert!(h.contains("Server:           mx2.example.net\n"), "{h}");
    let san = ok(
        &Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(conf.join("tls/cert.pem"))
            .output()
            .unwrap(),
        "openssl x509",
    );
    assert!(san.contains("DNS:mx2.example.net"), "{san}");
    // --hostname is taken as given.
    let conf2 = d.path().join("imap2");
    let mut a2 = args(&conf2);
    a2.extend(["--hostname".to_string(), "mail.example.com".to_string()]);
    let a2: Vec<&str> = a2.iter().map(|x| x.as_str()).collect();
    ok(&dovecot_on_host("mx2", &a2), "dovecot --hostname");
    let h = std::fs::read_to_string(conf2.join("handouts/alice@example.com.txt")).unwrap();
    assert!(h.contains("Server:           mail.example.com\n"), "{h}");
}

/// Issue 16 item 6: the command says the configuration is written, not that anything
/// serves; a port in use is blamed on what holds it.
#[test]
fn says_what_is_true_about_serving_and_the_port() {
    if !available() {
        return;
    }
    let (d, out, pwfile) = reader_export(&[]);
    let conf = d.path().join("imap");
    // Something else (this test) listens on the port.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let o = dovecot_cmd(&out, &pwfile, port, &conf, &[]);
    let stdout = ok(&o, "mxsalvage dovecot");
    let first = stdout.lines().next().unwrap();
    assert!(
        first.contains("configured (not served until Dovecot is started)"),
        "{first}"
    );
    assert!(!stdout.contains("served read-only"), "{stdout}");
    let e = stderr(&o);
    let want = format!("port {port} is in use by ");
    assert!(e.contains(&want), "{e}");
    assert!(e.contains(&format!("(pid {}):", std::process::id())), "{e}");
    assert!(!e.contains("system's Dovecot"), "{e}");
    drop(l);
}

/// Issue 16 item 8 (r15): a rerun as root never chmods or chowns through a symlink the
/// reader account put where its mbox home's `mail` directory was: refused, one line.
#[test]
fn rerun_never_follows_a_planted_symlink() {
    if !available() {
        return;
    }
    let (d, out, pwfile) = reader_export(&["--format", "mbox"]);
    let conf = d.path().join("imap");
    ok(&dovecot_cmd(&out, &pwfile, 10993, &conf, &[]), "dovecot");
    let victim = d.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mail = conf.join("users/alice@example.com/mail");
    assert_eq!(std::fs::metadata(&mail).unwrap().mode() & 0o777, 0o700);
    // As the reader account (it owns the home), swap the directory for a symlink.
    let st = Command::new("setpriv")
        .args(["--reuid=mxsalvage", "--regid=mxsalvage", "--clear-groups"])
        .args(["sh", "-c", "rmdir \"$0\" && ln -s \"$1\" \"$0\""])
        .arg(&mail)
        .arg(&victim)
        .status()
        .unwrap();
    assert!(st.success(), "planting the symlink as mxsalvage");
    let o = dovecot_cmd(&out, &pwfile, 10993, &conf, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(&format!("{} is a symlink", mail.display())),
        "{e}"
    );
    let m = std::fs::metadata(&victim).unwrap();
    assert_eq!(
        (m.mode() & 0o777, m.uid()),
        (0o755, 0),
        "the target is untouched"
    );
}

/// Issue 16 item 8 (r11): with an address holding a blank in the export, the generated
/// password file still serves alice with the password of her handout.
#[test]
fn generated_passwords_with_an_odd_address_serve_the_right_password() {
    if !available() {
        return;
    }
    ensure_account("mxsalvage");
    let d = open_tempdir();
    let sp = util::spool_with_quoted_rcpt(d.path());
    let out = d.path().join("salvage");
    let pwfile = d.path().join("pw");
    let cfg = util::root().join("samples/config");
    let o = util::run(&[
        "export",
        "--queue-dir",
        s(&sp),
        "--config-dir",
        s(&cfg),
        "--out",
        s(&out),
        "--zip",
        "--format",
        "maildir",
        "--reader",
        "mxsalvage",
        "--generate-passwords",
        s(&pwfile),
        "--quiet",
    ]);
    ok(&o, "export --generate-passwords");
    let conf = d.path().join("imap");
    let o = dovecot_cmd(&out, &pwfile, 10993, &conf, &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let passwd = std::fs::read_to_string(conf.join("passwd")).unwrap();
    let hd = mxsalvage::export::passwords::handouts_dir(&pwfile);
    for (user, handout) in [
        ("alice@example.com", "alice@example.com.txt"),
        (
            "alice@example.com x@example.com",
            "alice@example.com_x@example.com.txt",
        ),
    ] {
        let h = std::fs::read_to_string(hd.join(handout)).unwrap();
        let pw = h.lines().nth(6).unwrap().trim();
        let hash = passwd
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{user}:")))
            .unwrap_or_else(|| panic!("{user} not in the passwd file"))
            .split(':')
            .next()
            .unwrap();
        // The generated configuration, not /etc/dovecot (the host's, maybe absent).
        let o = doveadm(&conf.join("dovecot.conf"), &["pw", "-t", hash, "-p", pw]);
        assert!(
            o.status.success(),
            "{user}'s IMAP password is not the handout's: {o:?}"
        );
    }
}
