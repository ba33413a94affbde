//! A private Exim 4 (Debian's 4.96 `exim4-daemon-light`) as a backup MX, for tests.
//!
//! Owns: the Exim binary, unpacked once per build from the `.deb`s scripts/test
//! downloads into /var/tmp/exim-debs (`dpkg-deb -x` into `CARGO_TARGET_TMPDIR`: Exim is
//! never installed, since Debian's exim4 would remove Postfix); the `Debian-exim` user it
//! looks up at start (made with `adduser --system` when missing); an instance ([`Exim`])
//! with its own configuration (`-C`): spool in a temporary directory (flat or
//! `split_spool_directory`), a daemon on a loopback port relaying for example.org to
//! the recipients listed in a plain-text file, `queue_only` and a dead route (port 9),
//! so every delivery attempt defers; header removal (`X-Strip-Me`) and rewriting
//! (`@old.example.org`) so deleted `*` headers exist; an ACL variable with newlines.
//! Byte-exact SMTP injection ([`Exim::send`]), and Exim's own views of its spool
//! (`-Mvc`, `-bp`). The daemon is killed on drop. Nothing here touches /etc/exim4 or
//! /var/spool/exim4. Skips (with a note) where Exim cannot run, except under `CI`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, is_root, mkdir_owned};

/// Where scripts/test leaves Debian's Exim packages.
const DEBS: &str = "/var/tmp/exim-debs";

/// Exim's binary, unpacked once per build; `None` (with the reason) when impossible.
fn exim_bin() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(unpack).clone()
}

fn unpack() -> Result<PathBuf, String> {
    let dest = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exim-root");
    let bin = dest.join("usr/sbin/exim4");
    if !bin.exists() {
        let debs: Vec<PathBuf> = std::fs::read_dir(DEBS)
            .map_err(|e| format!("{DEBS}: {e} (scripts/test downloads Exim's .debs there)"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "deb"))
            .collect();
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).map_err(|e| e.to_string())?;
        for d in &debs {
            let ok = Command::new("dpkg-deb")
                .arg("-x")
                .arg(d)
                .arg(tmp.path())
                .status();
            if !ok.is_ok_and(|s| s.success()) {
                return Err(format!("dpkg-deb -x {} failed", d.display()));
            }
        }
        // Another test may have won the race: then its copy is used and this one goes.
        let kept = tmp.keep();
        if std::fs::rename(&kept, &dest).is_err() {
            let _ = std::fs::remove_dir_all(&kept);
        }
    }
    if !bin.exists() {
        return Err(format!("no exim4 in {DEBS}'s packages"));
    }
    let user = Command::new("id").arg("Debian-exim").output();
    if !user.is_ok_and(|o| o.status.success()) {
        let _ = Command::new("adduser")
            .args(["--system", "--group", "--allow-bad-names", "Debian-exim"])
            .output();
    }
    Ok(bin)
}

/// Whether a private Exim can run here; under `CI` it must.
pub fn exim_available() -> bool {
    let why = if !is_root() {
        Some("needs root".to_string())
    } else {
        exim_bin().err()
    };
    if let Some(why) = why {
        assert!(std::env::var_os("CI").is_none(), "CI needs Exim: {why}");
        eprintln!("note: skipping: private Exim unavailable: {why}");
        return false;
    }
    true
}

/// Recipients the backup MX accepts (its plain-text list).
pub const VALID: &[&str] = &[
    "alice@example.org",
    "bob@example.org",
    "Bob@example.org",
    "carol@example.org",
    "dave@example.org",
    "jörg@example.org",
    "done@example.org",
    "hang@example.org",
];

fn config(dir: &Path, bin: &Path, split: bool, hang: u16) -> String {
    let d = dir.display();
    format!(
        r#"exim_path = {bin}
primary_hostname = backup-mx.test
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
pid_file_path = {d}/spool/exim.pid
split_spool_directory = {split}
keep_environment =
local_interfaces = 127.0.0.1
queue_only = true
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
smtputf8_advertise_hosts = *
dsn_advertise_hosts = *
message_size_limit = 20M
timeout_frozen_after = 0s
domainlist relay_to_domains = example.org
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
  deny !domains = +relay_to_domains
  deny !recipients = {d}/valid
  accept

acl_data:
  warn set acl_m_note = line one\nXX\n2\n
       remove_header = X-Strip-Me
       add_header = X-Backup: checked
  accept

begin routers
local_done:
  driver = accept
  local_parts = done
  transport = local_file

hang:
  driver = manualroute
  local_parts = hang
  route_list = * 127.0.0.1 byname
  self = send
  transport = hang_smtp

dead:
  driver = manualroute
  domains = +relay_to_domains
  route_list = * 127.0.0.1 byname
  self = send
  transport = dead_smtp

begin transports
local_file:
  driver = appendfile
  file = {d}/out/delivered
  user = Debian-exim

hang_smtp:
  driver = smtp
  allow_localhost
  port = {hang}
  command_timeout = 10m
  connect_timeout = 10m

dead_smtp:
  driver = smtp
  allow_localhost
  port = 9

begin retry
* * F,4d,15m

begin rewrite
*@old.example.org $1@example.org h
"#,
        bin = bin.display(),
    )
}

/// A running private Exim (daemon on 127.0.0.1), killed on drop.
pub struct Exim {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    daemon: Child,
    /// Where `hang@example.org` is sent: a listener that never answers.
    hang: Option<std::net::TcpListener>,
}

impl Exim {
    /// Starts an Exim with a flat (`split` false) or split spool.
    pub fn start(split: bool) -> Exim {
        let bin = exim_bin().expect("exim");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let spool = dir.path().join("spool");
        mkdir_owned(&spool, "Debian-exim:Debian-exim");
        std::fs::write(dir.path().join("valid"), VALID.join("\n") + "\n").unwrap();
        let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let hang_port = hang.local_addr().unwrap().port();
        let conf = config(dir.path(), &bin, split, hang_port);
        std::fs::write(dir.path().join("exim.conf"), conf).unwrap();
        let delivered = dir.path().join("out");
        mkdir_owned(&delivered, "Debian-exim");
        let port = free_port();
        let daemon = Command::new(&bin)
            .arg("-C")
            .arg(dir.path().join("exim.conf"))
            .args(["-bdf", "-oX", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start exim");
        let ex = Exim {
            dir,
            port,
            bin,
            daemon,
            hang: Some(hang),
        };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "exim did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        ex
    }

    /// The spool directory (what `--queue-dir` is given).
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    /// `exim -C CONF args…`, asserted to succeed.
    pub fn run(&self, args: &[&str]) -> Output {
        let o = Command::new(&self.bin)
            .arg("-C")
            .arg(self.dir.path().join("exim.conf"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "exim {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// A delivery of `id` killed (SIGKILL to its process group) once it has written its
    /// `-J` journal: the local recipient `done@` is delivered, `hang@` waits on a server
    /// that never answers. Returns the journal's lines; `None` if no journal appeared.
    pub fn killed_delivery(&self, id: &str) -> Option<Vec<String>> {
        use std::os::unix::process::CommandExt;
        let journal = crate::harness::files_under(&self.spool())
            .into_iter()
            .find(|p| p.ends_with(format!("{id}-H")))?
            .with_file_name(format!("{id}-J"));
        let mut child = Command::new(&self.bin)
            .arg("-C")
            .arg(self.dir.path().join("exim.conf"))
            .args(["-M", id])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let mut seen = None;
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(j) = std::fs::read_to_string(&journal)
                && !j.is_empty()
            {
                seen = Some(j.lines().map(String::from).collect());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        // The kill can leave a half-made hints database (db/wait-*), which makes the next
        // delivery wait 100 s on Berkeley DB's retries; hints are disposable (Exim's
        // documentation: they may be deleted at any time), the spool files are not touched.
        for f in crate::harness::files_under(&self.spool().join("db")) {
            let _ = std::fs::remove_file(f);
        }
        if seen.is_none() {
            let log = std::fs::read_to_string(self.spool().join("log/mainlog"));
            eprintln!(
                "no -J journal for {id}; Exim's mainlog:\n{}",
                log.unwrap_or_default()
            );
        }
        seen
    }

    /// Stops the server that never answers: later attempts to `hang@` are refused.
    pub fn stop_hanging(&mut self) {
        self.hang = None;
    }

    /// What `exim -Mvc ID` prints.
    pub fn mvc(&self, id: &str) -> Vec<u8> {
        self.run(&["-Mvc", id]).stdout
    }

    /// `exim -bp`, parsed ([`parse_bp`]).
    pub fn bp(&self) -> BTreeMap<String, (String, Vec<String>, bool)> {
        parse_bp(&String::from_utf8(self.run(&["-bp"]).stdout).unwrap())
    }

    /// Sends one message over SMTP exactly: `mail` and `rcpts` are the MAIL FROM / RCPT
    /// TO arguments (with any parameters), `data` the message with LF line ends (sent as
    /// CRLF, dot-stuffed). Returns the queue ID Exim gave it.
    pub fn send(&self, mail: &str, rcpts: &[&str], data: &[u8]) -> String {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        reply(&mut r, "220");
        let mut cmd = |line: &[u8], want: &str| -> String {
            w.write_all(line).unwrap();
            w.write_all(b"\r\n").unwrap();
            reply(&mut r, want)
        };
        cmd(b"EHLO client.test", "250");
        cmd(format!("MAIL FROM:{mail}").as_bytes(), "250");
        for rc in rcpts {
            cmd(format!("RCPT TO:{rc}").as_bytes(), "250");
        }
        cmd(b"DATA", "354");
        let mut wire = Vec::with_capacity(data.len() + data.len() / 20);
        for line in data.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            if body.first() == Some(&b'.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(body);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".");
        let done = cmd(&wire, "250");
        cmd(b"QUIT", "221");
        done.split("id=")
            .nth(1)
            .expect("250 OK id=…")
            .trim()
            .to_string()
    }
}

/// `exim -bp`'s listing: per message ID, (sender, pending recipients in order — those
/// not marked `D` —, frozen).
pub fn parse_bp(out: &str) -> BTreeMap<String, (String, Vec<String>, bool)> {
    let mut m = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in out.lines() {
        if line.trim().is_empty() {
            cur = None;
        } else if let Some(id) = &cur {
            let r = line.trim_start();
            if !r.starts_with("D ") {
                let e: &mut (String, Vec<String>, bool) = m.get_mut(id).unwrap();
                e.1.push(r.to_string());
            }
        } else {
            let f: Vec<&str> = line.split_whitespace().collect();
            let sender = f[3].trim_start_matches('<').trim_end_matches('>');
            let frozen = line.ends_with("*** frozen ***");
            m.insert(f[2].to_string(), (sender.to_string(), Vec::new(), frozen));
            cur = Some(f[2].to_string());
        }
    }
    m
}

/// Reads one (multi-line) SMTP reply and asserts its code.
fn reply(r: &mut impl BufRead, want: &str) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    assert!(all.starts_with(want), "SMTP: wanted {want}, got {all:?}");
    all
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
