//! Integration tests: export. Round trips of every sample through every format and the
//! tools that read them (mail-parser's and Python's mbox readers, Python's Maildir,
//! Dovecot, unzip, 7z), the manifest read back into typed structs, determinism across
//! thread counts, hostile names, refusals, --update, --force, damaged queue files.
//! Tests needing an external tool skip with a note, unless `CI` is set (then they fail).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mxsalvage::export::eml::to_crlf;
use mxsalvage::export::names::mailbox_key;
use mxsalvage::export::prepend::for_mailbox;
use mxsalvage::manifest::{Manifest, ManifestMessage};
use mxsalvage::queue::record::encode_record;

use crate::util::*;

// ---------------------------------------------------------------------------------------
// helpers

/// Whether a test needing `prog` can run; panics under CI when it is missing.
fn tool(prog: &str) -> bool {
    if have(prog) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{prog} is required under CI");
    }
    eprintln!("note: {prog} not installed; skipping that part of the test");
    false
}

fn export(args: &[&str]) -> Output {
    let mut a = vec!["export", "--config-dir", "/nonexistent", "--quiet"];
    a.extend_from_slice(args);
    run(&a)
}

fn export_samples(out: &Path, extra: &[&str]) -> Output {
    let spool = sample_spool();
    let mut a = vec![
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    export(&a)
}

fn manifest(out: &Path) -> Manifest {
    let data = std::fs::read(out.join("manifest.json")).expect("manifest.json");
    serde_json::from_slice(&data).expect("manifest parses into Manifest")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        for p in v {
            let m = std::fs::symlink_metadata(&p).unwrap();
            assert!(!m.file_type().is_symlink(), "symlink {}", p.display());
            if m.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    if dir.exists() {
        walk(dir, &mut out);
    }
    out
}

fn sha(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// What each per-recipient copy must contain: the three delivery headers + the archive copy.
fn expected_copy(out: &Path, m: &ManifestMessage, key: &[u8]) -> Vec<u8> {
    let mut v = for_mailbox(&m.info, key);
    v.extend(std::fs::read(out.join(&m.store)).unwrap());
    v
}

/// Undo one level of mboxrd quoting.
fn unquote(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for line in b.split_inclusive(|&c| c == b'\n') {
        let n = line.iter().take_while(|&&c| c == b'>').count();
        if n > 0 && line[n..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// A one-shot sample export shared by the read-only tests.
fn sample_export() -> &'static (tempfile::TempDir, Manifest) {
    use std::sync::OnceLock;
    static E: OnceLock<(tempfile::TempDir, Manifest)> = OnceLock::new();
    E.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        ok(&export_samples(&out, &["--zip"]));
        let m = manifest(&out);
        (d, m)
    })
}

// ---------------------------------------------------------------------------------------
// synthetic spools

struct Msg<'a> {
    id: &'a str,
    arrival: i64,
    sender: &'a [u8],
    rcpts: &'a [&'a [u8]],
    attrs: &'a [&'a str],
    body: &'a [u8],
}

fn queue_file(m: &Msg) -> Vec<u8> {
    let mut v = Vec::new();
    encode_record(&mut v, b'T', format!("{} 123456", m.arrival).as_bytes());
    encode_record(
        &mut v,
        b'A',
        format!("create_time={}", m.arrival).as_bytes(),
    );
    for a in m.attrs {
        encode_record(&mut v, b'A', a.as_bytes());
    }
    encode_record(&mut v, b'S', m.sender);
    for r in m.rcpts {
        encode_record(&mut v, b'R', r);
    }
    encode_record(&mut v, b'M', b"");
    let body = m.body.strip_suffix(b"\n").unwrap_or(m.body);
    for line in body.split(|&c| c == b'\n') {
        encode_record(&mut v, b'N', line);
    }
    encode_record(&mut v, b'X', b"");
    encode_record(&mut v, b'E', b"");
    v
}

fn put(spool: &Path, m: &Msg) {
    let dir = spool.join("hold");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(m.id);
    std::fs::write(&p, queue_file(m)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn simple(id: &str, arrival: i64, rcpt: &'static [u8]) -> Vec<u8> {
    let rcpts: &[&[u8]] = &[rcpt];
    let body = format!(
        "From: a@example.net\nSubject: message {id}\nMessage-ID: <{id}@x>\n\nbody of {id}\nFrom the start\n"
    );
    queue_file(&Msg {
        id,
        arrival,
        sender: b"a@example.net",
        rcpts,
        attrs: &[],
        body: body.as_bytes(),
    })
}

fn put_raw(spool: &Path, id: &str, data: &[u8]) {
    let dir = spool.join("hold");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(id);
    std::fs::write(&p, data).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

// ---------------------------------------------------------------------------------------
// the samples through every format

#[test]
fn samples_export_layout_and_manifest() {
    let (d, m) = sample_export();
    let out = d.path().join("out");
    assert!(m.complete, "errors: {:?}", m.errors);
    assert!(m.tool.starts_with("mxsalvage "));
    assert!(m.totals.messages >= 30, "{:?}", m.totals);
    assert_eq!(m.totals.messages, m.messages.len());
    assert_eq!(m.totals.recipients, m.recipients.len());
    assert!(!m.source.host.is_empty());
    // Archive copies: exact message bytes, hashed.
    for msg in &m.messages {
        let data = std::fs::read(out.join(&msg.store)).unwrap();
        assert_eq!(msg.store, format!("messages/{}.eml", msg.info.queue_id));
        assert_eq!(sha(&data), msg.sha256);
        assert_eq!(data.len() as u64, msg.bytes);
        assert!(data.ends_with(b"\n"));
        assert!(!msg.info.recipients.is_empty());
    }
    // Every file of every bundle is listed with the right hash, and nothing else is there.
    let mut listed = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for r in &m.recipients {
        assert!(dirs.insert(r.dir.clone()), "dir shared: {}", r.dir);
        for f in &r.files {
            let p = out.join(&f.path);
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(sha(&data), f.sha256, "{}", f.path);
            assert_eq!(data.len() as u64, f.size);
            assert!(listed.insert(p));
        }
        assert_eq!(
            r.zip.as_deref(),
            Some(format!("recipients/{}.zip", r.dir).as_str())
        );
        assert!(r.zip_sha256.is_some());
        // One text file per message.
        let texts = std::fs::read_dir(out.join(r.text.as_ref().unwrap()))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "txt")
            })
            .count();
        assert_eq!(texts, r.messages.len());
    }
    for p in files_under(&out.join("recipients")) {
        assert!(listed.contains(&p), "not in the manifest: {}", p.display());
    }
    // Modes.
    for p in files_under(&out) {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            p.display()
        );
    }
    assert_eq!(
        std::fs::metadata(out.join("recipients")).unwrap().mode() & 0o777,
        0o700
    );
    // No temporary files left.
    assert!(
        files_under(&out)
            .iter()
            .all(|p| !p.to_string_lossy().contains("mxsalvage-tmp"))
    );
}

#[test]
fn samples_cases_are_exported_as_described() {
    let (d, m) = sample_export();
    let out = d.path().join("out");
    let by_case = |name: &str| -> &ManifestMessage {
        m.messages
            .iter()
            .find(|x| {
                x.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with(&format!("case {name}:")))
            })
            .unwrap_or_else(|| panic!("case {name} not exported"))
    };
    let bundle = |addr: &str| {
        m.recipients
            .iter()
            .find(|r| r.address.0 == addr.as_bytes())
            .unwrap_or_else(|| panic!("no bundle for {addr}"))
    };
    // Done recipients are not exported by default.
    assert!(
        !m.recipients
            .iter()
            .any(|r| r.address.0 == b"delivered@example.com")
    );
    assert!(
        !m.recipients
            .iter()
            .any(|r| r.address.0 == b"gone@example.com")
    );
    // Duplicates: bob twice in one message, once in the bundle.
    let dup = by_case("duplicates");
    let bob = bundle("bob@example.com");
    assert_eq!(
        bob.messages
            .iter()
            .filter(|i| **i == dup.info.queue_id)
            .count(),
        1
    );
    // Cancelled recipient (milter delrcpt) gets nothing of that message.
    let edited = by_case("milter-edit");
    if let Some(dave) = m
        .recipients
        .iter()
        .find(|r| r.address.0 == b"dave@example.com")
    {
        assert!(!dave.messages.contains(&edited.info.queue_id));
    }
    // The UTF-8 recipient has its own bundle under a readable name.
    let jorg = bundle("jörg@example.com");
    assert_eq!(jorg.dir, "jörg@example.com");
    // Japanese mail reads correctly in the text form.
    for case in ["iso2022jp", "sjis", "eucjp"] {
        let msg = by_case(case);
        assert!(
            msg.subject
                .as_deref()
                .unwrap()
                .contains("日本語の件名テスト"),
            "{case}: {:?}",
            msg.subject
        );
        let ivan = bundle("ivan@example.com");
        let stem = mxsalvage::export::names::stem(msg.info.arrival_unix, &msg.info.queue_id);
        let text = std::fs::read_to_string(
            out.join(ivan.text.as_ref().unwrap())
                .join(format!("{stem}.txt")),
        )
        .unwrap();
        assert!(
            text.contains("こんにちは。これは日本語のテストメールです。"),
            "{case}: {text}"
        );
        assert!(
            msg.info.warnings.is_empty(),
            "{case}: {:?}",
            msg.info.warnings
        );
    }
    // Attachments: decoded into the .files folder, RFC 2231 name kept in the manifest.
    let att = by_case("attachments");
    assert!(att.attachments.len() >= 2, "{:?}", att.attachments);
    assert!(att.attachments.iter().any(|a| {
        a.original_name
            .as_ref()
            .is_some_and(|o| o.display().starts_with("résumé"))
    }));
    let judy = bundle("judy@example.com");
    let stem = mxsalvage::export::names::stem(att.info.arrival_unix, &att.info.queue_id);
    for a in &att.attachments {
        let p = out
            .join(judy.text.as_ref().unwrap())
            .join(format!("{stem}.files"))
            .join(&a.name);
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            a.size,
            "{}",
            p.display()
        );
    }
    // HTML-only mail becomes text without tags.
    let html = by_case("html-only");
    let alice = bundle("alice@example.com");
    let stem = mxsalvage::export::names::stem(html.info.arrival_unix, &html.info.queue_id);
    let text = std::fs::read_to_string(
        out.join(alice.text.as_ref().unwrap())
            .join(format!("{stem}.txt")),
    )
    .unwrap();
    let body = text.split_once("\n\n").unwrap().1;
    assert!(!body.contains("<p") && !body.contains("</"), "{text}");
    // Nested message/rfc822 is rendered inline.
    let nested = by_case("nested-rfc822");
    let stem = mxsalvage::export::names::stem(nested.info.arrival_unix, &nested.info.queue_id);
    let text = std::fs::read_to_string(
        out.join(bob.text.as_ref().unwrap())
            .join(format!("{stem}.txt")),
    )
    .unwrap();
    assert!(text.contains("attached message"), "{text}");
    assert!(text.matches("Subject:").count() >= 2, "{text}");
}

#[test]
fn samples_mbox_round_trip() {
    let (d, m) = sample_export();
    let out = d.path().join("out");
    let msgs: BTreeMap<&str, &ManifestMessage> = m
        .messages
        .iter()
        .map(|x| (x.info.queue_id.as_str(), x))
        .collect();
    for r in &m.recipients {
        let mbox = out.join(r.mbox.as_ref().unwrap());
        let data = std::fs::read(&mbox).unwrap();
        let want: Vec<Vec<u8>> = r
            .messages
            .iter()
            .map(|id| expected_copy(&out, msgs[id.as_str()], &r.address.0))
            .collect();
        // Oldest first.
        let times: Vec<i64> = r
            .messages
            .iter()
            .map(|id| msgs[id.as_str()].info.arrival_unix)
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // mail-parser's mboxrd reader.
        let got: Vec<Vec<u8>> =
            mail_parser::mailbox::mbox::MessageIterator::new(std::io::Cursor::new(&data))
                .map(|x| x.unwrap().unwrap_contents())
                .collect();
        assert_eq!(got.len(), want.len(), "{}", mbox.display());
        for (g, w) in got.iter().zip(&want) {
            // The reader keeps the separating empty line.
            let g = g.strip_suffix(b"\n").unwrap_or(g);
            assert_eq!(g, &w[..], "{}", mbox.display());
        }
        // From_ lines: sender and asctime of the arrival.
        let first = data.split(|&c| c == b'\n').next().unwrap();
        let m0 = msgs[r.messages[0].as_str()];
        assert_eq!(
            first,
            &mxsalvage::export::mbox::from_line(&m0.info.sender.0, m0.info.arrival_unix)[..]
                [..first.len()]
        );
    }
    // Python's mailbox (mboxo: one quoting level left to undo).
    if !tool("python3") {
        return;
    }
    let script = r#"
import mailbox, sys, hashlib
mb = mailbox.mbox(sys.argv[1], create=False)
for k in mb.keys():
    print(hashlib.sha256(mb.get_bytes(k)).hexdigest())
"#;
    for r in &m.recipients {
        let mbox = out.join(r.mbox.as_ref().unwrap());
        let o = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&mbox)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let lines: Vec<String> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(lines.len(), r.messages.len(), "{}", mbox.display());
        // Python (mboxo) returns the quoted bytes: quoting `want` must give exactly them,
        // and undoing one level must give `want` back.
        for (line, id) in lines.iter().zip(&r.messages) {
            let want = expected_copy(&out, msgs[id.as_str()], &r.address.0);
            let quoted: Vec<u8> = want
                .split_inclusive(|&c| c == b'\n')
                .flat_map(|l| {
                    let mut v = Vec::new();
                    if mxsalvage::export::mbox::needs_quote(l) {
                        v.push(b'>');
                    }
                    v.extend_from_slice(l);
                    v
                })
                .collect();
            assert_eq!(unquote(&quoted), want);
            assert_eq!(*line, sha(&quoted), "{} {id}", mbox.display());
        }
    }
}

#[test]
fn samples_maildir_and_eml_round_trip() {
    let (d, m) = sample_export();
    let out = d.path().join("out");
    let msgs: BTreeMap<&str, &ManifestMessage> = m
        .messages
        .iter()
        .map(|x| (x.info.queue_id.as_str(), x))
        .collect();
    for r in &m.recipients {
        let md = out.join(r.maildir.as_ref().unwrap());
        for sub in ["tmp", "new", "cur"] {
            assert!(md.join(sub).is_dir());
        }
        assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0);
        let names: Vec<PathBuf> = files_under(&md.join("new"));
        assert_eq!(names.len(), r.messages.len());
        for id in &r.messages {
            let msg = msgs[id.as_str()];
            let want = expected_copy(&out, msg, &r.address.0);
            let f = names
                .iter()
                .find(|p| p.to_string_lossy().contains(&format!("Q{id}.")))
                .unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.contains(':') && !name.starts_with('.'));
            assert!(name.ends_with(&format!(",S={}", want.len())), "{name}");
            assert_eq!(std::fs::read(f).unwrap(), want);
            assert_eq!(
                std::fs::metadata(f).unwrap().mtime(),
                msg.info.arrival_unix,
                "mtime = arrival"
            );
            let stem = mxsalvage::export::names::stem(msg.info.arrival_unix, id);
            let eml = out
                .join(r.eml.as_ref().unwrap())
                .join(format!("{stem}.eml"));
            let e = std::fs::read(&eml).unwrap();
            assert_eq!(e, to_crlf(&want));
            assert!(!e.windows(3).any(|w| w == b"\r\r\n"));
        }
    }
    if !tool("python3") {
        return;
    }
    let script = r#"
import mailbox, sys, hashlib
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for k in md.keys():
    print(hashlib.sha256(md.get_bytes(k)).hexdigest())
"#;
    for r in &m.recipients {
        let o = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(out.join(r.maildir.as_ref().unwrap()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: BTreeSet<String> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let want: BTreeSet<String> = r
            .messages
            .iter()
            .map(|id| sha(&expected_copy(&out, msgs[id.as_str()], &r.address.0)))
            .collect();
        assert_eq!(got, want, "{}", r.dir);
    }
}

/// Runs doveadm as an unprivileged user over a copy of a Maildir or mbox.
fn doveadm_fetch(src: &Path, mbox: bool) -> Option<String> {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
    for s in ["idx", "home", "run", "mail"] {
        std::fs::create_dir_all(base.join(s)).unwrap();
    }
    let loc = if mbox {
        std::fs::copy(src, base.join("mail/inbox")).unwrap();
        format!(
            "mbox:{0}/mail:INBOX={0}/mail/inbox:INDEX={0}/idx",
            base.display()
        )
    } else {
        copy_tree(src, &base.join("Maildir"));
        format!("maildir:{0}/Maildir:INDEX={0}/idx", base.display())
    };
    let (uid, gid) = if nix_uid() == 0 {
        let st = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(base)
            .status()
            .unwrap();
        assert!(st.success());
        (65534, 65534)
    } else {
        (nix_uid(), std::fs::metadata(base).unwrap().gid())
    };
    let conf = base.join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "protocols =\nssl = no\nbase_dir = {b}/run\nlog_path = /dev/stderr\nmail_location = {loc}\nmail_uid = {uid}\nmail_gid = {gid}\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n",
            b = base.display()
        ),
    )
    .unwrap();
    let o = Command::new("doveadm")
        .arg("-c")
        .arg(&conf)
        .args(["fetch", "date.received size.physical hdr.message-id", "ALL"])
        .env("USER", "mxsalvage-test")
        .env("HOME", base.join("home"))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    if !o.status.success() {
        eprintln!("doveadm failed: {}", String::from_utf8_lossy(&o.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn nix_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
}

#[test]
fn samples_read_by_dovecot() {
    if !tool("doveadm") {
        return;
    }
    let (d, m) = sample_export();
    let out = d.path().join("out");
    let msgs: BTreeMap<&str, &ManifestMessage> = m
        .messages
        .iter()
        .map(|x| (x.info.queue_id.as_str(), x))
        .collect();
    for r in &m.recipients {
        for mbox in [false, true] {
            let src = if mbox {
                out.join(r.mbox.as_ref().unwrap())
            } else {
                out.join(r.maildir.as_ref().unwrap())
            };
            let text = doveadm_fetch(&src, mbox).expect("doveadm reads the export");
            let received: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("date.received: "))
                .collect();
            assert_eq!(received.len(), r.messages.len(), "{}", src.display());
            if !mbox {
                // Maildir: Dovecot takes the received date from the mtime = arrival.
                let want: BTreeSet<String> = r
                    .messages
                    .iter()
                    .map(|id| {
                        chrono::DateTime::from_timestamp(msgs[id.as_str()].info.arrival_unix, 0)
                            .unwrap()
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    })
                    .collect();
                let got: BTreeSet<String> = received.iter().map(|s| s.to_string()).collect();
                assert_eq!(got, want, "{}", r.dir);
                let sizes: BTreeSet<u64> = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("size.physical: "))
                    .map(|s| s.parse().unwrap())
                    .collect();
                let want: BTreeSet<u64> = r
                    .messages
                    .iter()
                    .map(|id| expected_copy(&out, msgs[id.as_str()], &r.address.0).len() as u64)
                    .collect();
                assert_eq!(sizes, want);
            }
        }
    }
}

#[test]
fn samples_zip_round_trip() {
    let (d, m) = sample_export();
    let out = d.path().join("out");
    let have_unzip = tool("unzip");
    let have_7z = tool("7z");
    for r in &m.recipients {
        let z = out.join(r.zip.as_ref().unwrap());
        // Read back with the zip crate: entries in order, times = mtimes, contents = files.
        let mut a = zip::ZipArchive::new(std::fs::File::open(&z).unwrap()).unwrap();
        let names: Vec<String> = (0..a.len())
            .map(|i| a.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(names[0], format!("{}/README.txt", r.dir));
        assert!(names.contains(&format!("{}/Maildir/tmp/", r.dir)));
        assert!(names.contains(&format!("{}/Maildir/cur/", r.dir)));
        for n in &names {
            assert!(!n.split('/').any(|c| c == ".."), "{n}");
            assert!(!n.starts_with('/'));
        }
        for f in &r.files {
            if f.path.ends_with(".zip") {
                continue;
            }
            let inner = f.path.strip_prefix("recipients/").unwrap();
            let mut e = a
                .by_name(inner)
                .unwrap_or_else(|_| panic!("{inner} not in zip"));
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            assert_eq!(sha(&data), f.sha256, "{inner}");
            let t = e.last_modified().unwrap();
            let mt = std::fs::metadata(out.join(&f.path)).unwrap().mtime();
            let want = chrono::DateTime::from_timestamp(mt, 0).unwrap();
            use chrono::{Datelike, Timelike};
            assert_eq!(
                (
                    t.year() as i32,
                    t.month() as u32,
                    t.day() as u32,
                    t.hour() as u32
                ),
                (want.year(), want.month(), want.day(), want.hour()),
                "{inner}"
            );
        }
        if have_unzip {
            let o = Command::new("unzip").arg("-tq").arg(&z).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
            // Extract and compare with the bundle on disk.
            let x = tempfile::tempdir().unwrap();
            let o = Command::new("unzip")
                .arg("-q")
                .arg(&z)
                .arg("-d")
                .arg(x.path())
                .output()
                .unwrap();
            assert!(o.status.success());
            for f in &r.files {
                if f.path.ends_with(".zip") {
                    continue;
                }
                let inner = f.path.strip_prefix("recipients/").unwrap();
                assert_eq!(sha(&std::fs::read(x.path().join(inner)).unwrap()), f.sha256);
            }
        }
        if have_7z {
            let o = Command::new("7z").arg("t").arg(&z).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        }
    }
}

// ---------------------------------------------------------------------------------------
// determinism, safety, refusals

/// Every file under `dir` → content (manifest without generated_at).
fn tree_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let mut data = std::fs::read(&p).unwrap();
            if rel == "manifest.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
                v.as_object_mut().unwrap().remove("generated_at");
                data = serde_json::to_vec(&v).unwrap();
            }
            (rel, data)
        })
        .collect()
}

#[test]
fn same_output_at_any_thread_count() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    ok(&export_samples(&a, &["--zip", "--jobs", "1"]));
    ok(&export_samples(&b, &["--zip", "--jobs", "4"]));
    let ta = tree_contents(&a);
    let tb = tree_contents(&b);
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between --jobs 1 and --jobs 4");
    }
}

#[test]
fn spool_is_never_written() {
    let spool = sample_spool();
    let before = tree_fingerprint(&spool);
    let d = tempfile::tempdir().unwrap();
    ok(&export_samples(&d.path().join("out"), &["--zip"]));
    assert_eq!(tree_fingerprint(&spool), before);
}

#[test]
fn out_inside_the_spool_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    copy_tree(&sample_spool(), &spool);
    let before = tree_fingerprint(&spool);
    for out in [
        spool.join("export"),
        spool.join("deferred/new/deeper"),
        spool.join("../spool/x"),
        d.path().to_path_buf(),
    ] {
        let o = export(&[
            "--queue-dir",
            spool.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        assert!(String::from_utf8_lossy(&o.stderr).contains("queue directory"));
    }
    assert_eq!(tree_fingerprint(&spool), before);
}

#[test]
fn non_empty_out_needs_update_or_force() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let o = export_samples(&out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    // Not ours: --force and --update refuse too.
    for flag in ["--force", "--update"] {
        let o = export_samples(&out, &[flag]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    // An export of ours is replaced with --force; foreign files beside it stay.
    let out2 = d.path().join("out2");
    ok(&export_samples(&out2, &["--format", "eml"]));
    std::fs::write(out2.join("notes.txt"), "mine").unwrap();
    assert_eq!(export_samples(&out2, &[]).status.code(), Some(2));
    ok(&export_samples(&out2, &["--force", "--format", "mbox"]));
    let m = manifest(&out2);
    assert_eq!(m.options.formats, ["mbox"]);
    assert!(
        !out2
            .join(m.recipients[0].eml.clone().unwrap_or("x".into()))
            .exists()
    );
    assert!(
        files_under(&out2.join("recipients"))
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".eml"))
    );
    assert_eq!(
        std::fs::read_to_string(out2.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn corrupt_queue_file_is_listed_and_the_rest_exported() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    copy_tree(&sample_spool(), &spool);
    let good = tempfile::tempdir().unwrap();
    ok(&export_samples(&good.path().join("o"), &[]));
    let all = manifest(&good.path().join("o"));
    // Truncate one deferred file in the middle.
    let victim = all
        .messages
        .iter()
        .find(|m| m.info.queue == "deferred")
        .unwrap();
    let path = spool.join(&victim.info.path);
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() / 2]).unwrap();
    let out = d.path().join("out");
    let o = export(&[
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    assert!(!m.complete);
    assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
    assert!(m.errors[0].path.ends_with(&victim.info.path));
    assert_eq!(
        m.errors[0].queue_id.as_deref(),
        Some(victim.info.queue_id.as_str())
    );
    assert_eq!(m.messages.len(), all.messages.len() - 1);
}

#[test]
fn hostile_names_never_escape_out() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    let long_local = "l".repeat(300);
    let long_addr = format!("{long_local}@example.com");
    let rcpts: Vec<&[u8]> = vec![
        b"../../x@example.com",
        b"a/b@example.com",
        b"a_b@example.com",
        long_addr.as_bytes(),
        "jörg@exämple.de".as_bytes(),
        b"\"quoted name\"@example.com",
        b".hidden@example.com",
        b"..@example.com",
        b"ctl\x01\x7f@example.com",
        b"bad\xff\xfe@example.com",
        b"Bob@Example.com",
        b"bob@example.com",
        b"",
    ];
    let long_name = "n".repeat(5000) + ".txt";
    let mut body = String::from(
        "From: a@example.net\nSubject: hostile\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n",
    );
    for name in [
        "../../etc/passwd",
        "/etc/passwd",
        "con.txt",
        "a\u{1}b\u{7}c.txt",
        long_name.as_str(),
        "..",
        ".profile",
        "x\\..\\..\\win.ini",
    ] {
        body.push_str(&format!(
            "--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"
        ));
    }
    body.push_str("--B--\n");
    put(
        &spool,
        &Msg {
            id: "1A2B3C4D5E",
            arrival: 1_700_000_000,
            sender: b"evil sender@example.net",
            rcpts: &rcpts,
            attrs: &[],
            body: body.as_bytes(),
        },
    );
    let out = d.path().join("out");
    let o = export(&[
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--zip",
    ]);
    ok(&o);
    let m = manifest(&out);
    let keys: BTreeSet<Vec<u8>> = rcpts.iter().map(|r| mailbox_key(r)).collect();
    assert_eq!(m.recipients.len(), keys.len());
    let dirs: BTreeSet<&str> = m.recipients.iter().map(|r| r.dir.as_str()).collect();
    assert_eq!(dirs.len(), m.recipients.len(), "distinct dirs");
    let canon_out = std::fs::canonicalize(&out).unwrap();
    for p in files_under(&out) {
        let c = std::fs::canonicalize(&p).unwrap();
        assert!(c.starts_with(&canon_out), "{} escaped", p.display());
        for comp in p.strip_prefix(&out).unwrap().components() {
            let s = comp.as_os_str().to_string_lossy();
            assert!(s.len() <= 255, "{s}");
            assert!(!s.starts_with('.') || s == ".", "{s}");
            assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        }
    }
    for r in &m.recipients {
        assert!(!r.dir.contains('/') && !r.dir.contains("..") && !r.dir.starts_with('.'));
        assert!(r.dir.len() <= 200);
    }
    // The same message goes once into bob's bundle, though bob is there twice.
    let bob = m
        .recipients
        .iter()
        .find(|r| r.address.0 == b"bob@example.com")
        .unwrap();
    assert_eq!(bob.messages.len(), 1);
    let names: Vec<&str> = m.messages[0]
        .attachments
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    for n in &names {
        assert!(
            !n.contains('/') && !n.contains('\\') && !n.starts_with('.'),
            "{n}"
        );
    }
    // Zip entry names stay relative and inside the bundle.
    for r in &m.recipients {
        let mut a =
            zip::ZipArchive::new(std::fs::File::open(out.join(r.zip.as_ref().unwrap())).unwrap())
                .unwrap();
        for i in 0..a.len() {
            let e = a.by_index(i).unwrap();
            assert!(e.enclosed_name().is_some(), "{:?}", e.name());
            assert!(e.name().unwrap().starts_with(&format!("{}/", r.dir)));
        }
    }
}

#[test]
fn probes_are_skipped_and_done_recipients_on_request() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    put(
        &spool,
        &Msg {
            id: "AAAAAA0001",
            arrival: 1_700_000_000,
            sender: b"double-bounce@example.com",
            rcpts: &[b"probe@example.com"],
            attrs: &["trace_flags=256"],
            body: b"Subject: probe\n\n",
        },
    );
    let mut v = Vec::new();
    encode_record(&mut v, b'T', b"1700000100 5");
    encode_record(&mut v, b'S', b"s@example.net");
    encode_record(&mut v, b'R', b"pending@example.com");
    encode_record(&mut v, b'D', b"done@example.com");
    encode_record(&mut v, b'M', b"");
    encode_record(&mut v, b'N', b"Subject: partly delivered");
    encode_record(&mut v, b'N', b"");
    encode_record(&mut v, b'N', b"x");
    encode_record(&mut v, b'X', b"");
    encode_record(&mut v, b'E', b"");
    put_raw(&spool, "AAAAAA0002", &v);
    let out = d.path().join("out");
    ok(&export(&[
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let m = manifest(&out);
    assert_eq!(m.messages.len(), 1);
    assert_eq!(m.skipped.len(), 1);
    assert_eq!(m.skipped[0].queue_id.as_deref(), Some("AAAAAA0001"));
    assert!(m.skipped[0].reason.contains("probe"));
    let addrs: Vec<&[u8]> = m.recipients.iter().map(|r| &r.address.0[..]).collect();
    assert_eq!(addrs, [b"pending@example.com"]);
    let out2 = d.path().join("out2");
    ok(&export(&[
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--include-done",
    ]));
    assert_eq!(manifest(&out2).recipients.len(), 2);
}

#[test]
fn update_adds_new_messages_only() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    put_raw(
        &spool,
        "BBBBBB0001",
        &simple("BBBBBB0001", 1_700_000_000, b"u@example.com"),
    );
    put_raw(
        &spool,
        "BBBBBB0002",
        &simple("BBBBBB0002", 1_700_000_300, b"u@example.com"),
    );
    let out = d.path().join("out");
    let args = |extra: &str| {
        let mut v = vec![
            "--queue-dir".to_string(),
            spool.to_str().unwrap().to_string(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
            "--zip".into(),
        ];
        if !extra.is_empty() {
            v.push(extra.into());
        }
        v
    };
    let run_args = |extra: &str| {
        let v = args(extra);
        export(&v.iter().map(String::as_str).collect::<Vec<_>>())
    };
    ok(&run_args(""));
    let first = manifest(&out);
    let inode = |p: &str| std::fs::metadata(out.join(p)).unwrap().ino();
    let before: BTreeMap<String, u64> = first.recipients[0]
        .files
        .iter()
        .filter(|f| !f.path.ends_with(".mbox") && !f.path.ends_with(".zip"))
        .map(|f| (f.path.clone(), inode(&f.path)))
        .collect();
    let archive_inode = inode("messages/BBBBBB0001.eml");
    // Nothing new: exit 0, same content.
    ok(&run_args("--update"));
    // A new message for the same recipient and one for a new recipient.
    put_raw(
        &spool,
        "BBBBBB0003",
        &simple("BBBBBB0003", 1_700_000_100, b"u@example.com"),
    );
    put_raw(
        &spool,
        "BBBBBB0004",
        &simple("BBBBBB0004", 1_700_000_200, b"v@example.com"),
    );
    ok(&run_args("--update"));
    let m = manifest(&out);
    assert!(m.complete);
    assert_eq!(m.messages.len(), 4);
    assert_eq!(m.recipients.len(), 2);
    let u = m
        .recipients
        .iter()
        .find(|r| r.address.0 == b"u@example.com")
        .unwrap();
    assert_eq!(u.messages, ["BBBBBB0001", "BBBBBB0003", "BBBBBB0002"]);
    // Identical messages were left as they were.
    for (p, ino) in &before {
        assert_eq!(inode(p), *ino, "{p} rewritten");
    }
    assert_eq!(inode("messages/BBBBBB0001.eml"), archive_inode);
    // The mbox holds old + new, oldest first, and every listed file matches.
    let mbox = std::fs::read(out.join(u.mbox.as_ref().unwrap())).unwrap();
    let ids: Vec<String> =
        mail_parser::mailbox::mbox::MessageIterator::new(std::io::Cursor::new(&mbox))
            .map(|x| {
                let c = x.unwrap().unwrap_contents();
                let s = String::from_utf8_lossy(&c).into_owned();
                s.split("Subject: message ").nth(1).unwrap()[..10].to_string()
            })
            .collect();
    assert_eq!(ids, ["BBBBBB0001", "BBBBBB0003", "BBBBBB0002"]);
    for r in &m.recipients {
        for f in &r.files {
            assert_eq!(
                sha(&std::fs::read(out.join(&f.path)).unwrap()),
                f.sha256,
                "{}",
                f.path
            );
        }
        assert_eq!(
            r.files
                .iter()
                .filter(|f| f.path.contains("/Maildir/new/"))
                .count(),
            r.messages.len()
        );
    }
}

#[test]
fn zip_passwords() {
    if !tool("7z") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    put_raw(
        &spool,
        "CCCCCC0001",
        &simple("CCCCCC0001", 1_700_000_000, b"Pat@Example.com"),
    );
    put_raw(
        &spool,
        "CCCCCC0002",
        &simple("CCCCCC0002", 1_700_000_000, b"kim@example.com"),
    );
    let pw = d.path().join("pw");
    std::fs::write(&pw, "# passwords\npat@example.com Sekr1t-Pat\n").unwrap();
    let out = d.path().join("out");
    let base = |out: &Path| {
        vec![
            "--queue-dir".to_string(),
            spool.to_str().unwrap().to_string(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
            "--zip".into(),
            "--zip-password-file".into(),
            pw.to_str().unwrap().to_string(),
        ]
    };
    // kim has no password: refused before anything is written.
    let v = base(&out);
    let o = export(&v.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("kim@example.com"));
    assert!(!out.exists());
    std::fs::write(
        &pw,
        "# passwords\npat@example.com Sekr1t-Pat\nKIM@example.com kims pass phrase\n",
    )
    .unwrap();
    let mut v = base(&out);
    v.push("--json".into());
    let o = export(&v.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&o);
    let all = format!(
        "{}{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(out.join("manifest.json")).unwrap()
    );
    assert!(!all.contains("Sekr1t") && !all.contains("kims pass"));
    let m = manifest(&out);
    assert!(m.options.encrypted);
    for (addr, pass) in [
        ("pat@example.com", "Sekr1t-Pat"),
        ("kim@example.com", "kims pass phrase"),
    ] {
        let r = m
            .recipients
            .iter()
            .find(|r| r.address.0 == addr.as_bytes())
            .unwrap();
        let z = out.join(r.zip.as_ref().unwrap());
        let good = Command::new("7z")
            .arg("t")
            .arg(format!("-p{pass}"))
            .arg(&z)
            .output()
            .unwrap();
        assert!(
            good.status.success(),
            "{}",
            String::from_utf8_lossy(&good.stdout)
        );
        let bad = Command::new("7z")
            .arg("t")
            .arg("-pwrong")
            .arg(&z)
            .output()
            .unwrap();
        assert!(!bad.status.success());
    }
}

#[test]
fn json_summary_and_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let o = export_samples(&out, &["--json", "--format", "eml"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON summary");
    assert_eq!(v["complete"], true);
    assert!(v["totals"]["messages"].as_u64().unwrap() > 0);
    let o = export_samples(&d.path().join("o2"), &["--format", "pdf"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unwritable_out_is_one_clear_line() {
    if nix_uid() == 0 {
        eprintln!("note: running as root, permissions do not stop writes; skipped");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let out = ro.join("out");
    let o = export_samples(&out, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&*out.to_string_lossy()) || err.contains(&*ro.to_string_lossy()));
}
