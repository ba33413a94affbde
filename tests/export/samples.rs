//! The sample spool through every format and the tools that read it: mail-parser's and
//! Python's mbox readers, Python's Maildir, Dovecot (Maildir and mbox), unzip, 7z, and
//! the zip crate; plus the cases the samples README describes.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{python_lines, sample_case};
use mxsalvage::export::sinks::eml::to_crlf;
use mxsalvage::manifest::{Manifest, ManifestMessage, ManifestRecipient};

use super::{
    assert_canonical_manifest, copy_tree, expected_copy, files_under, sample_export, sha, tool,
    unquote,
};

/// The messages of a manifest by queue ID.
fn by_id(m: &Manifest) -> BTreeMap<&str, &ManifestMessage> {
    m.messages
        .iter()
        .map(|x| (x.info.queue_id.as_str(), x))
        .collect()
}

/// The shared sample export (every format, as trees and in zips), its manifest and its
/// messages by queue ID.
struct Samples {
    out: PathBuf,
    m: &'static Manifest,
    msgs: BTreeMap<&'static str, &'static ManifestMessage>,
}

impl Samples {
    fn get() -> Samples {
        let (out, m) = sample_export();
        Samples {
            out,
            m,
            msgs: by_id(m),
        }
    }

    /// A bundle's `format` output (a file or a directory).
    fn output(&self, r: &ManifestRecipient, format: &str) -> PathBuf {
        self.out.join(r.output(format).unwrap())
    }

    /// The bytes the bundle `r` must hold for the message `id` ([`expected_copy`]).
    fn expected(&self, r: &ManifestRecipient, id: &str) -> Vec<u8> {
        expected_copy(&self.out, self.msgs[id], &r.address.0)
    }
}

/// A message's `text/<stem>.txt` in a bundle.
fn text_of(out: &Path, bundle: &ManifestRecipient, msg: &ManifestMessage) -> String {
    let stem = mxsalvage::decode::names::stem(msg.info.arrival_unix, &msg.info.queue_id);
    std::fs::read_to_string(
        out.join(bundle.output("text").unwrap())
            .join(format!("{stem}.txt")),
    )
    .unwrap()
}

#[test]
fn samples_export_layout_and_manifest() {
    let (out, m) = sample_export();
    assert_canonical_manifest(&out);
    assert!(m.complete, "errors: {:?}", m.errors);
    assert!(m.tool.starts_with("mxsalvage "));
    assert!(m.totals.messages >= 30, "{:?}", m.totals);
    assert_eq!(m.totals.messages, m.messages.len());
    assert_eq!(m.totals.recipients, m.recipients.len());
    assert!(!m.source.host.is_empty());
    // Archive copies: exact message bytes, hashed.
    for msg in &m.messages {
        let data = std::fs::read(out.join(&msg.exported.store)).unwrap();
        assert_eq!(
            msg.exported.store,
            format!("messages/{}.eml", msg.info.queue_id)
        );
        assert_eq!(sha(&data), msg.exported.sha256);
        assert_eq!(data.len() as u64, msg.exported.bytes);
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
        let texts = std::fs::read_dir(out.join(r.output("text").unwrap()))
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
    let (out, m) = sample_export();
    let by_case = |name: &str| sample_case(m, name);
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
            msg.exported
                .subject
                .as_deref()
                .unwrap()
                .contains("日本語の件名テスト"),
            "{case}: {:?}",
            msg.exported.subject
        );
        let ivan = bundle("ivan@example.com");
        let text = text_of(&out, ivan, msg);
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
    assert!(
        att.exported.attachments.len() >= 2,
        "{:?}",
        att.exported.attachments
    );
    assert!(att.exported.attachments.iter().any(|a| {
        a.original_name
            .as_ref()
            .is_some_and(|o| o.display().starts_with("résumé"))
    }));
    let judy = bundle("judy@example.com");
    let stem = mxsalvage::decode::names::stem(att.info.arrival_unix, &att.info.queue_id);
    for a in &att.exported.attachments {
        let p = out
            .join(judy.output("text").unwrap())
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
    let text = text_of(&out, alice, html);
    let body = text.split_once("\n\n").unwrap().1;
    assert!(!body.contains("<p") && !body.contains("</"), "{text}");
    // Nested message/rfc822 is rendered inline.
    let nested = by_case("nested-rfc822");
    let text = text_of(&out, bob, nested);
    assert!(text.contains("attached message"), "{text}");
    assert!(text.matches("Subject:").count() >= 2, "{text}");
}

#[test]
fn samples_mbox_round_trip() {
    let samples = Samples::get();
    for r in &samples.m.recipients {
        let mbox = samples.output(r, "mbox");
        let data = std::fs::read(&mbox).unwrap();
        let want: Vec<Vec<u8>> = r
            .messages
            .iter()
            .map(|id| samples.expected(r, id))
            .collect();
        // Oldest first.
        let times: Vec<i64> = r
            .messages
            .iter()
            .map(|id| samples.msgs[id.as_str()].info.arrival_unix)
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
        let m0 = samples.msgs[r.messages[0].as_str()];
        assert_eq!(
            first,
            &mxsalvage::export::sinks::mbox::from_line(&m0.info.sender.0, m0.info.arrival_unix)[..]
                [..first.len()]
        );
    }
    // Python's mailbox (mboxo: one quoting level left to undo). Reading each message as
    // an object decodes its From_ line as ASCII (a UTF-8 envelope sender raised
    // UnicodeDecodeError there).
    if !tool("python3") {
        return;
    }
    let script = r#"
import mailbox, sys, hashlib
mb = mailbox.mbox(sys.argv[1], create=False)
for k in mb.keys():
    msg = mb[k]
    assert msg.get_from().isascii(), msg.get_from()
    print(hashlib.sha256(mb.get_bytes(k)).hexdigest())
"#;
    for r in &samples.m.recipients {
        let mbox = samples.output(r, "mbox");
        let lines = python_lines(script, &mbox);
        assert_eq!(lines.len(), r.messages.len(), "{}", mbox.display());
        // Python (mboxo) returns the quoted bytes: quoting `want` must give exactly them,
        // and undoing one level must give `want` back.
        for (line, id) in lines.iter().zip(&r.messages) {
            let want = samples.expected(r, id);
            let quoted: Vec<u8> = want
                .split_inclusive(|&c| c == b'\n')
                .flat_map(|l| {
                    let mut v = Vec::new();
                    if mxsalvage::export::sinks::mbox::needs_quote(l) {
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
    let samples = Samples::get();
    for r in &samples.m.recipients {
        let md = samples.output(r, "maildir");
        for sub in ["tmp", "new", "cur"] {
            assert!(md.join(sub).is_dir());
        }
        assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0);
        let names: Vec<PathBuf> = files_under(&md.join("new"));
        assert_eq!(names.len(), r.messages.len());
        for id in &r.messages {
            let msg = samples.msgs[id.as_str()];
            let want = samples.expected(r, id);
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
            let stem = mxsalvage::decode::names::stem(msg.info.arrival_unix, id);
            let eml = samples.output(r, "eml").join(format!("{stem}.eml"));
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
    for r in &samples.m.recipients {
        let got: BTreeSet<String> = python_lines(script, &samples.output(r, "maildir"))
            .into_iter()
            .collect();
        let want: BTreeSet<String> = r
            .messages
            .iter()
            .map(|id| sha(&samples.expected(r, id)))
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

pub fn nix_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
}

#[test]
fn samples_read_by_dovecot() {
    if !tool("doveadm") {
        return;
    }
    let samples = Samples::get();
    for r in &samples.m.recipients {
        for mbox in [false, true] {
            let src = samples.output(r, if mbox { "mbox" } else { "maildir" });
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
                        chrono::DateTime::from_timestamp(
                            samples.msgs[id.as_str()].info.arrival_unix,
                            0,
                        )
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
                    .map(|id| samples.expected(r, id).len() as u64)
                    .collect();
                assert_eq!(sizes, want);
            }
        }
    }
}

#[test]
fn samples_zip_round_trip() {
    let (out, m) = sample_export();
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
