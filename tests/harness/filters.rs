//! The content filters the tests run (issue 20): private rspamd, clamd and spamd
//! instances and a real Postfix spool of test mail for them.
//!
//! Owns: [`Daemon`] — a filter started in its own temporary directory (configuration,
//! runtime files, its database) on a loopback port or a Unix socket, never a system
//! service, stopped on drop: [`rspamd`] (a minimal configuration: no Lua rules, DNS,
//! Redis or maps; its core still knows GTUBE), [`clamd`] (its own database: one `.ndb`
//! line for EICAR, built at test time), [`spamd`] (SpamAssassin's shipped rules in
//! /usr/share/spamassassin, no sa-update); [`filter_mails`] (the cases: GTUBE spam, EICAR
//! attached, zipped, forwarded and in spam, harmless zip and forwarded message, ham,
//! a 12 MB attachment, the null sender) and [`filter_spool`] (them fed over SMTP into a
//! private Postfix secondary, which keeps them in deferred/). `filters_available`
//! says whether a test can run here (under `CI` it must).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mxsalvage::filter::url::{FilterUrl, Role};
use mxsalvage::filter::{
    FilterSet, clamd as clamd_proto, rspamd as rspamd_proto, spamd as spamd_proto,
};
use mxsalvage::reinject::smtp::{Class, ClientConfig, Security, Session, Step};

use super::{Postfix, backdate, chown, free_port, is_root};
use crate::util::have;

/// Whether the filter daemons can run here (root, rspamd, clamd, spamd); under `CI`
/// they must.
pub fn filters_available() -> bool {
    let ok = is_root() && have("rspamd") && have("clamd") && have("spamd");
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root, rspamd, clamd and spamd"
        );
        eprintln!("note: skipping: needs root, rspamd, clamd and spamd");
    }
    ok
}

/// The 68-byte EICAR test string, put together at run time (never stored whole in the
/// repository, where a scanner would flag the file).
pub fn eicar() -> Vec<u8> {
    let a = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
    let b = ["EICAR", "STANDARD", "ANTIVIRUS", "TEST", "FILE!$H+H*"].join("-");
    let e = format!("{a}{b}").into_bytes();
    assert_eq!(e.len(), 68);
    e
}

/// The GTUBE test string, put together the same way.
pub fn gtube() -> String {
    let tail = ["GTUBE", "STANDARD", "ANTI", "UBE", "TEST", "EMAIL*C.34X"].join("-");
    format!("XJS*C4JDBQADN1.NSBN3*2IDNEN*{tail}")
}

/// A filter daemon in its own directory, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// Its URL as `--spam-filter` / `--virus-scan` take it.
    pub url: String,
}

impl Daemon {
    /// Stops it now (a filter that goes away mid-run).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let pid = rustix::process::Pid::from_raw(c.id() as i32);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its log (for a failed test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A directory the daemon's own user may enter (a temporary directory is 0700).
fn daemon_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    d
}

/// Starts `cmd` (output to DIR/log) and waits (at most 60 s) until `ready` answers.
fn launch(
    dir: tempfile::TempDir,
    mut cmd: Command,
    url: String,
    ready: impl Fn(&FilterUrl) -> bool,
) -> Daemon {
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let child = cmd.spawn().expect("start the filter");
    let mut d = Daemon {
        dir,
        child: Some(child),
        url,
    };
    let role = match d.url.starts_with("clamd") {
        true => Role::Virus,
        false => Role::Spam,
    };
    let u = FilterUrl::parse(&d.url, role).unwrap();
    let t = Instant::now();
    while !ready(&u) {
        if let Some(Ok(Some(st))) = d.child.as_mut().map(|c| c.try_wait()) {
            panic!("{} exited ({st}) at start:\n{}", d.url, d.log());
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} not ready:\n{}",
            d.url,
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

/// A private rspamd: a minimal configuration (no Lua rules, DNS, Redis or maps; an
/// empty TLD list, so it is ready in a second), its normal worker on 127.0.0.1, run
/// as `rspamd -f -c CONF -u _rspamd -g _rspamd` with its runtime directory owned by
/// `_rspamd`. Its core still answers GTUBE (in a text part up to 8 KB) with `reject`.
pub fn rspamd() -> Daemon {
    let dir = daemon_dir();
    let d = dir.path();
    let run = d.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(d.join("tld.dat"), "").unwrap();
    chown("_rspamd:_rspamd", &run);
    let port = free_port();
    let conf = format!(
        r#"options {{
  pidfile = "{run}/rspamd.pid";
  dbdir = "{run}";
  url_tld = "{d}/tld.dat";
  dns {{ nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{run}/rspamd.log"; level = "warning"; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 2; mime = true; }}
"#,
        run = run.display(),
        d = d.display()
    );
    std::fs::write(d.join("rspamd.conf"), conf).unwrap();
    let mut cmd = Command::new("rspamd");
    cmd.arg("-f").arg("-c").arg(d.join("rspamd.conf"));
    cmd.args(["-u", "_rspamd", "-g", "_rspamd"]);
    let url = format!("rspamd://127.0.0.1:{port}");
    launch(dir, cmd, url, |u| {
        rspamd_proto::ping(u, Duration::from_secs(2)).is_ok()
    })
}

/// A private clamd with its own database (an `.ndb` line for EICAR), listening on a
/// Unix socket (`tcp`: on a 127.0.0.1 port instead), in the foreground, as `clamav`;
/// `stream_max`: its `StreamMaxLength` (Debian's default, 25M, when `None`).
pub fn clamd(tcp: bool, stream_max: Option<&str>) -> Daemon {
    let dir = daemon_dir();
    let d = dir.path();
    let db = d.join("db");
    std::fs::create_dir(&db).unwrap();
    let sig = format!("Eicar-Test-Signature:0:*:{}\n", hex::encode(eicar()));
    std::fs::write(db.join("test.ndb"), sig).unwrap();
    let sock = d.join("clamd.sock");
    let (listen, url) = match tcp {
        true => {
            let port = free_port();
            (
                format!("TCPSocket {port}\nTCPAddr 127.0.0.1\n"),
                format!("clamd://127.0.0.1:{port}"),
            )
        }
        false => (
            format!("LocalSocket {}\n", sock.display()),
            format!("clamd://{}", sock.display()),
        ),
    };
    let conf = format!(
        "DatabaseDirectory {db}\n{listen}Foreground yes\nUser clamav\nPidFile {d}/clamd.pid\nStreamMaxLength {max}\nMaxThreads 8\n",
        db = db.display(),
        d = d.display(),
        max = stream_max.unwrap_or("25M"),
    );
    std::fs::write(d.join("clamd.conf"), conf).unwrap();
    chown("clamav:clamav", d);
    let mut cmd = Command::new("clamd");
    cmd.arg("-c").arg(d.join("clamd.conf"));
    launch(dir, cmd, url, |u| {
        clamd_proto::ping(u, Duration::from_secs(2)).is_ok()
    })
}

/// A private spamd on 127.0.0.1: SpamAssassin's shipped rules (/usr/share/spamassassin,
/// never sa-update's), its own site configuration (the Check plugin, no Bayes, no
/// network tests: `-L`), no user configuration, as `nobody`.
pub fn spamd() -> Daemon {
    let dir = daemon_dir();
    let d = dir.path();
    let site = d.join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(
        site.join("init.pre"),
        "loadplugin Mail::SpamAssassin::Plugin::Check\n",
    )
    .unwrap();
    std::fs::write(site.join("local.cf"), "use_bayes 0\nbayes_auto_learn 0\n").unwrap();
    let port = free_port();
    let mut cmd = Command::new("spamd");
    cmd.args(["-L", "--configpath=/usr/share/spamassassin"])
        .arg(format!("--siteconfigpath={}", site.display()))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-A",
            "127.0.0.1",
        ])
        .args([
            "-u",
            "nobody",
            "-g",
            "nogroup",
            "-m",
            "2",
            "--syslog=stderr",
            "--nouser-config",
        ])
        .arg(format!("--pidfile={}/spamd.pid", d.display()))
        .arg(format!("--helper-home-dir={}", d.display()));
    let url = format!("spamd://127.0.0.1:{port}");
    launch(dir, cmd, url, |u| {
        spamd_proto::ping(u, Duration::from_secs(2)).is_ok()
    })
}

/// A [`FilterSet`] for the library's own calls.
pub fn filter_set(spam: Option<&Daemon>, virus: Option<&Daemon>) -> FilterSet {
    FilterSet {
        spam: spam.map(|d| FilterUrl::parse(&d.url, Role::Spam).unwrap()),
        virus: virus.map(|d| FilterUrl::parse(&d.url, Role::Virus).unwrap()),
        timeout: Duration::from_secs(60),
        jobs: 4,
    }
}

// ---------------------------------------------------------------------------------------
// the test mail

/// One test message: its case name (also its `Subject: filters NAME`), envelope
/// sender (`""`: the null sender), recipient and content (LF line ends).
pub struct TestMail {
    pub name: &'static str,
    pub sender: &'static str,
    pub rcpt: &'static str,
    pub content: Vec<u8>,
}

/// A message with `body_headers` (MIME) and `body`.
fn mail(name: &str, mime: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\nTo: user@example.com\nSubject: filters {name}\nMessage-ID: <{name}@filters.example.org>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\nMIME-Version: 1.0\n{mime}\n{body}"
    )
    .into_bytes()
}

/// Base64 in 76-column lines.
fn b64(data: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(s.len() + s.len() / 76 + 1);
    for c in s.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(c).unwrap());
        out.push('\n');
    }
    out
}

/// A multipart/mixed body: a text part, then `(content type, file name, data)` parts
/// (message/rfc822 parts as they are, the others in base64).
fn multipart(name: &str, text: &str, parts: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = format!("--BOUNDARY\nContent-Type: text/plain; charset=us-ascii\n\n{text}\n");
    for (ct, file, data) in parts {
        if *ct == "message/rfc822" {
            body.push_str(&format!("--BOUNDARY\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"{file}\"\n\n"));
            body.push_str(std::str::from_utf8(data).unwrap());
            body.push('\n');
        } else {
            body.push_str(&format!(
                "--BOUNDARY\nContent-Type: {ct}; name=\"{file}\"\nContent-Disposition: attachment; filename=\"{file}\"\nContent-Transfer-Encoding: base64\n\n{}",
                b64(data)
            ));
        }
    }
    body.push_str("--BOUNDARY--\n");
    mail(
        name,
        "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\n",
        &body,
    )
}

/// A zip holding `files` (stored).
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (n, d) in files {
        w.start_file(*n, o).unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Bytes that neither compress nor look like anything (the 12 MB attachment).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every case of issue 20, by name: `ham`, `gtube`, `eicar-attached`, `eicar-zip`,
/// `eicar-forwarded`, `eicar-spam`, `harmless-zip`, `harmless-forwarded`, `big`
/// (a 12 MB attachment), `null-sender`.
pub fn filter_mails() -> Vec<TestMail> {
    let text = |n: &str, body: &str| mail(n, "Content-Type: text/plain; charset=us-ascii\n", body);
    let inner = |n: &str, parts: &[(&str, &str, Vec<u8>)]| multipart(n, "Forwarded inside.", parts);
    let eicar_att = ("application/octet-stream", "eicar.com", eicar());
    let m = |name, sender, content| TestMail {
        name,
        sender,
        rcpt: "user@example.com",
        content,
    };
    vec![
        m("ham", "sender@example.org", text("ham", "Lunch at noon?\n")),
        m(
            "gtube",
            "sender@example.org",
            text("gtube", &format!("Buy now.\n{}\n", gtube())),
        ),
        m(
            "eicar-attached",
            "sender@example.org",
            multipart(
                "eicar-attached",
                "See attached.",
                std::slice::from_ref(&eicar_att),
            ),
        ),
        m(
            "eicar-zip",
            "sender@example.org",
            multipart(
                "eicar-zip",
                "Zipped.",
                &[(
                    "application/zip",
                    "eicar.zip",
                    zip_of(&[("eicar.com", &eicar())]),
                )],
            ),
        ),
        m(
            "eicar-forwarded",
            "sender@example.org",
            multipart(
                "eicar-forwarded",
                "Forwarding.",
                &[(
                    "message/rfc822",
                    "fwd.eml",
                    inner("inner-eicar", std::slice::from_ref(&eicar_att)),
                )],
            ),
        ),
        m(
            "eicar-spam",
            "sender@example.org",
            multipart("eicar-spam", &gtube(), &[eicar_att]),
        ),
        m(
            "harmless-zip",
            "sender@example.org",
            multipart(
                "harmless-zip",
                "Minutes zipped.",
                &[(
                    "application/zip",
                    "minutes.zip",
                    zip_of(&[("minutes.txt", b"We met.\n")]),
                )],
            ),
        ),
        m(
            "harmless-forwarded",
            "sender@example.org",
            multipart(
                "harmless-forwarded",
                "Forwarding.",
                &[(
                    "message/rfc822",
                    "fwd.eml",
                    text("inner-ham", "Just a note.\n"),
                )],
            ),
        ),
        m(
            "big",
            "sender@example.org",
            multipart(
                "big",
                "The big file.",
                &[("application/octet-stream", "big.bin", noise(12 << 20))],
            ),
        ),
        m(
            "null-sender",
            "",
            text("null-sender", "Delivery report, harmless.\n"),
        ),
    ]
}

/// Raises the `message_size_limit` of a created (not yet started) private Postfix for
/// the 12 MB attachment of [`filter_mails`], and sets the other `settings`.
fn take_big_messages(pf: &Postfix, settings: &[&str]) {
    let st = Command::new("postconf")
        .arg("-c")
        .arg(pf.etc())
        .args(["-e", "message_size_limit=60000000"])
        .args(settings)
        .status()
        .unwrap();
    assert!(st.success());
    backdate(&pf.etc().join("main.cf"));
}

/// A running private primary that takes every message of [`filter_mails`] (the 12 MB
/// one too), delivering into DIR/mail.
pub fn filter_primary() -> Postfix {
    let pf = Postfix::create("create");
    // virtual(8) refuses to run with a mailbox limit below the message size limit.
    take_big_messages(&pf, &["virtual_mailbox_limit=60000000"]);
    pf.start();
    pf
}

/// The case names (`Subject: filters NAME`) of the messages `pf` delivered, sorted.
pub fn delivered_cases(pf: &Postfix) -> Vec<String> {
    pf.drain();
    let mut names: Vec<String> = (pf.delivered().iter())
        .filter_map(|m| {
            let text = String::from_utf8_lossy(m);
            let head = text.split("\n\n").next().unwrap_or("").to_string();
            head.lines()
                .find_map(|l| l.strip_prefix("Subject: filters "))
                .map(|n| n.trim_end().to_string())
        })
        .collect();
    names.sort();
    names
}

/// A stopped private Postfix secondary whose deferred queue holds `mails`, fed over
/// SMTP (its `message_size_limit` raised for the 12 MB attachment).
pub fn filter_spool(mails: &[TestMail]) -> Postfix {
    let sec = Postfix::create("create-secondary");
    take_big_messages(&sec, &[]);
    sec.start();
    let cfg = ClientConfig {
        host: "127.0.0.1".into(),
        port: sec.port,
        lmtp: false,
        security: Security::Plain,
        insecure: false,
        helo: "filters.example.org".into(),
        auth: None,
        timeout: Duration::from_secs(60),
        dot_timeout: Duration::from_secs(60),
    };
    let mut s = Session::connect(&cfg).expect("connect to the secondary");
    for m in mails {
        let mail = format!("MAIL FROM:<{}>", m.sender);
        let rcpt = format!("RCPT TO:<{}>", m.rcpt).into_bytes();
        let env = s.envelope(mail.as_bytes(), &[rcpt], true).unwrap();
        assert_eq!(
            env.mail.class(Step::Mail),
            Class::Positive,
            "{}: {}",
            m.name,
            env.mail
        );
        assert_eq!(env.data.map(|d| d.code), Some(354), "{}", m.name);
        s.send_content(&m.content).unwrap();
        s.send_end_of_data().unwrap();
        let r = s.read_reply(Step::EndOfData).unwrap();
        assert_eq!(r.class(Step::EndOfData), Class::Positive, "{}: {r}", m.name);
    }
    s.quit();
    sec.settle_deferred(mails.len());
    sec
}

/// The spool and config directories of a secondary (`--queue-dir`, `--config-dir`).
pub fn spool_dirs(sec: &Postfix) -> (PathBuf, PathBuf) {
    (sec.path().join("spool"), sec.etc())
}

/// A private rspamd and clamd for the documentation's `filters` blocks, substituted
/// there for Debian's addresses (`rspamd://127.0.0.1:11333`,
/// `clamd:///run/clamav/clamd.ctl`); keep them until the blocks have run.
pub fn doc_filters(env: &mut crate::docs::DocEnv) -> (Daemon, Daemon) {
    let (r, c) = (rspamd(), clamd(false, None));
    env.substitute_in("filters", "rspamd://127.0.0.1:11333", &r.url)
        .substitute_in("filters", "clamd:///run/clamav/clamd.ctl", &c.url);
    (r, c)
}
