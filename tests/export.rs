//! Integration tests: export. Round trips of every sample through every format and the
//! tools that read them (mail-parser's and Python's mbox readers, Python's Maildir,
//! Dovecot, unzip, 7z), the manifest read back into typed structs, determinism across
//! thread counts, hostile names, refusals, --update, --force, damaged queue files.
//! Tests needing an external tool skip with a note, unless `CI` is set (then they fail).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mxsalvage::decode::names::mailbox_key;
use mxsalvage::export::prepend::for_mailbox;
use mxsalvage::manifest::{Manifest, ManifestMessage};
use mxsalvage::queue::record::encode_record;
use mxsalvage::queue::{Depth, QueueFile};

use crate::harness::{
    assert_contains_all, assert_ok as ok, assert_stderr_contains, manifest, mx, scratch,
    sha256_hex as sha, tool, write_mode,
};
use crate::util::*;

/// Round trips of the sample spool through every format and reader.
mod samples;

/// Linearity in one dimension of the input (ratios within one run).
mod linear;

/// `--update` on a tampered OUT, and after a killed first export.
mod update;

/// Disk space checked before writing.
mod space;

/// Zip passwords: encryption never changed by --update, private password files.
mod passwords;

/// Progress inside one mailbox, counted in bytes of mail.
mod progress;

/// The mail reader commands the documents show, run on an export.
mod mutt;

// ---------------------------------------------------------------------------------------
// helpers

/// `export --config-dir (Postfix's defaults) --quiet ARGS`.
fn export(args: &[&str]) -> Output {
    mx(["export", "--config-dir", defaults_config_dir(), "--quiet"])
        .args(args)
        .output()
}

/// `export --queue-dir SPOOL --out OUT EXTRA…` (default config, quiet).
fn export_spool(spool: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    export(&a)
}

fn export_samples(out: &Path, extra: &[&str]) -> Output {
    export_spool(&sample_spool(), out, extra)
}

/// The streamed manifest is byte for byte what serde_json's pretty printer gives for the
/// typed manifest (the format the export wrote before it streamed), plus a newline.
fn assert_canonical_manifest(out: &Path) {
    let data = std::fs::read(out.join("manifest.json")).unwrap();
    let m: Manifest = serde_json::from_slice(&data).unwrap();
    let mut want = serde_json::to_vec_pretty(&m).unwrap();
    want.push(b'\n');
    assert!(
        data == want,
        "manifest.json differs from serde_json's rendering"
    );
}

/// Every file under `dir`; none of them (nor a directory) may be a symbolic link.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let out = crate::harness::files_under(dir);
    for p in &out {
        let m = std::fs::symlink_metadata(p).unwrap();
        assert!(!m.file_type().is_symlink(), "symlink {}", p.display());
    }
    out
}

/// What each per-recipient copy must contain: the three delivery headers + the archive copy.
fn expected_copy(out: &Path, m: &ManifestMessage, key: &[u8]) -> Vec<u8> {
    let mut v = for_mailbox(&m.info, key);
    v.extend(std::fs::read(out.join(&m.exported.store)).unwrap());
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

/// A one-shot sample export shared by the read-only tests: its OUT and its manifest.
fn sample_export() -> (PathBuf, &'static Manifest) {
    use std::sync::OnceLock;
    static E: OnceLock<(tempfile::TempDir, Manifest)> = OnceLock::new();
    let (d, m) = E.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        ok(&export_samples(&out, ZIP_ALL));
        let m = manifest(&out);
        (d, m)
    });
    (d.path().join("out"), m)
}

/// Every format as trees and inside the zips (so the zips can be compared with the trees).
const ZIP_ALL: &[&str] = &[
    "--zip",
    "--format",
    "mbox,maildir,eml,text",
    "--zip-formats",
    "mbox,maildir,eml,text",
];

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
    put_raw(spool, m.id, &queue_file(m));
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

/// `hold/ID`: a simple message from a@example.net to `rcpt`.
fn put_simple(spool: &Path, id: &str, arrival: i64, rcpt: &'static [u8]) {
    put_raw(spool, id, &simple(id, arrival, rcpt));
}

/// `cp -a FROM TO`.
fn copy_tree(from: &Path, to: &Path) {
    crate::harness::copy_tree(from, to, false);
}

/// `7z t -pPASS ZIP`.
fn seven_zip_test(pass: &str, zip: &Path) -> Output {
    Command::new("7z")
        .arg("t")
        .arg(format!("-p{pass}"))
        .arg(zip)
        .output()
        .unwrap()
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

/// docs/export.md: every command it shows prints what it shows.
#[test]
fn export_doc() {
    crate::docs::run_document(&root().join("docs/export.md"));
}

#[test]
fn same_output_at_any_thread_count() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    let all: Vec<&str> = ZIP_ALL.iter().copied().chain(["--jobs", "1"]).collect();
    ok(&export_samples(&a, &all));
    let all: Vec<&str> = ZIP_ALL.iter().copied().chain(["--jobs", "4"]).collect();
    ok(&export_samples(&b, &all));
    let ta = tree_contents(&a);
    let tb = tree_contents(&b);
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between --jobs 1 and --jobs 4");
    }
}

/// A queue skewed like a backup MX's: one mailbox holds most of the mail (enough for
/// many zip chunks), with a JPEG attachment on some messages.
fn skewed_spool(spool: &Path, n: usize) {
    let mut jpeg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF".to_vec();
    let mut x = 7u32;
    for _ in 0..30_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        jpeg.push((x >> 16) as u8);
    }
    let b64 = base64_lines(&jpeg);
    for i in 0..n {
        let id = format!("FF{i:08X}");
        let rcpts: &[&[u8]] = if i % 10 == 0 {
            &[b"big@example.com", b"small@example.com"]
        } else {
            &[b"big@example.com"]
        };
        let body = if i % 3 == 0 {
            format!(
                "From: a@example.net\nSubject: photo {i}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee the photo\n--B\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"p{i}.jpg\"\n\n{b64}--B--\n"
            )
        } else {
            format!(
                "From: a@example.net\nSubject: note {i}\n\n{}\n",
                "words and more words ".repeat(200)
            )
        };
        put(
            spool,
            &Msg {
                id: &id,
                arrival: 1_700_000_000 + i as i64,
                sender: b"a@example.net",
                rcpts,
                attrs: &[],
                body: body.as_bytes(),
            },
        );
    }
}

fn zip_chunk_messages() -> usize {
    mxsalvage::export::zip::CHUNK_MESSAGES
}

fn base64_lines(data: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect()
}

#[test]
fn zip_alone_keeps_one_copy_and_is_the_same_at_any_thread_count() {
    let (d, spool, _) = scratch();
    skewed_spool(&spool, 140);
    let go = |out: &Path, jobs: &str| ok(&export_spool(&spool, out, &["--zip", "--jobs", jobs]));
    let a = d.path().join("a");
    let b = d.path().join("b");
    go(&a, "1");
    go(&b, "4");
    // Byte-identical at any thread count (the big mailbox's zip is written in chunks
    // compressed in parallel).
    let (ta, tb) = (tree_contents(&a), tree_contents(&b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs between --jobs 1 and --jobs 4");
    }
    // One copy of the mail: the archive copies and the zips, no trees.
    let top: BTreeSet<String> = std::fs::read_dir(a.join("recipients"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        top,
        BTreeSet::from(["big@example.com.zip".into(), "small@example.com.zip".into()])
    );
    let m = manifest(&a);
    assert_eq!(m.options.formats, Vec::<String>::new());
    assert_eq!(m.options.zip_formats, ["eml", "html"]);
    let big = &m.recipients[0];
    assert_eq!(big.messages.len(), 140);
    assert_eq!(big.output("eml"), None);
    // The entries: README, directories, per message its .eml and page (+ attachment),
    // then index.html.
    let mut z =
        zip::ZipArchive::new(std::fs::File::open(a.join(big.zip.as_ref().unwrap())).unwrap())
            .unwrap();
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(names[0], "big@example.com/README.txt");
    assert_eq!(names.iter().filter(|n| n.ends_with(".eml")).count(), 140);
    assert_eq!(names.iter().filter(|n| n.ends_with(".html")).count(), 141);
    assert_eq!(names.last().unwrap(), "big@example.com/index.html");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".jpg")).count(),
        140usize.div_ceil(3)
    );
    assert_eq!(
        big.zip_entries
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        names
            .iter()
            .filter(|n| !n.ends_with('/'))
            .cloned()
            .collect::<Vec<_>>()
    );
    // A JPEG is stored, not deflated again; text is deflated.
    for i in 0..z.len() {
        let e = z.by_index_raw(i).unwrap();
        let name = e.name().unwrap().to_string();
        if name.ends_with(".jpg") {
            assert_eq!(e.compression(), zip::CompressionMethod::Stored, "{name}");
        } else if name.ends_with(".eml") {
            assert_eq!(e.compression(), zip::CompressionMethod::Deflated, "{name}");
        }
    }
    // The zip's eml equals the message with its delivery headers, CRLF.
    let first = &m.messages[0];
    let want =
        mxsalvage::export::sinks::eml::to_crlf(&expected_copy(&a, first, b"big@example.com"));
    let stem = mxsalvage::decode::names::stem(first.info.arrival_unix, &first.info.queue_id);
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut z
            .by_name(&format!("big@example.com/eml/{stem}.eml"))
            .unwrap(),
        &mut data,
    )
    .unwrap();
    assert!(data == want);
    let v = run(&["verify", a.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    if tool("unzip") {
        let o = Command::new("unzip")
            .arg("-tq")
            .arg(a.join(big.zip.as_ref().unwrap()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    // Encrypted, in parallel chunks: 7-Zip opens every entry, verify checks them all
    // (small messages: AES in a debug build is slow).
    let spool = d.path().join("spool-enc");
    for i in 0..2 * zip_chunk_messages() + 3 {
        let id = format!("FE{i:08X}");
        put_simple(&spool, &id, 1_700_000_000 + i as i64, b"big@example.com");
    }
    let pw = d.path().join("pw");
    write_mode(&pw, "big@example.com big-pass\n", 0o600);
    let c = d.path().join("c");
    let pws = pw.to_str().unwrap();
    ok(&export_spool(
        &spool,
        &c,
        &["--zip", "--zip-password-file", pws, "--jobs", "4"],
    ));
    let v = mx(["verify"])
        .arg(&c)
        .args(["--zip-password-file", pws])
        .output();
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success() && !text.contains("note:"), "{text}");
    if tool("7z") {
        let o = seven_zip_test("big-pass", &c.join("recipients/big@example.com.zip"));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
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
    let (d, spool, _) = scratch();
    copy_tree(&sample_spool(), &spool);
    let before = tree_fingerprint(&spool);
    for out in [
        spool.join("export"),
        spool.join("deferred/new/deeper"),
        spool.join("../spool/x"),
        d.path().to_path_buf(),
    ] {
        let o = export_spool(&spool, &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        assert_stderr_contains(&o, "queue directory");
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
    assert_stderr_contains(&o, "not empty");
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
            .join(m.recipients[0].output("eml").unwrap_or("x"))
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
    let (d, spool, _) = scratch();
    copy_tree(&sample_spool(), &spool);
    let good = tempfile::tempdir().unwrap();
    ok(&export_samples(&good.path().join("o"), &[]));
    let all = manifest(&good.path().join("o"));
    // 1. Truncate one deferred file in the middle (fails while planning).
    let victim = all
        .messages
        .iter()
        .find(|m| m.info.queue == "deferred")
        .unwrap();
    let path = spool.join(&victim.info.path);
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() / 2]).unwrap();
    // 2. Damage a content record of a message that is the only one of some recipient:
    //    its envelope still reads (the size record jumps over the content), so it fails
    //    while being written, after its bundle directory was prepared.
    let lonely = all
        .recipients
        .iter()
        .filter(|r| r.messages.len() == 1 && r.messages[0] != victim.info.queue_id)
        .map(|r| {
            all.messages
                .iter()
                .find(|m| m.info.queue_id == r.messages[0])
                .unwrap()
        })
        .find(|m| m.info.queue == "deferred")
        .expect("a recipient with a single deferred message");
    let path2 = spool.join(&lonely.info.path);
    let mut data2 = std::fs::read(&path2).unwrap();
    let q = QueueFile::parse(data2.clone(), Depth::Full, false).unwrap();
    let rec = q
        .content
        .iter()
        .find(|r| (1..128).contains(&r.payload.len()))
        .unwrap();
    data2[rec.payload.start - 2] = b'Z';
    std::fs::write(&path2, &data2).unwrap();
    let out = d.path().join("out");
    let o = export_spool(&spool, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    assert!(!m.complete);
    assert_eq!(m.errors.len(), 2, "{:?}", m.errors);
    for v in [victim, lonely] {
        let e = m
            .errors
            .iter()
            .find(|e| e.queue_id.as_deref() == Some(v.info.queue_id.as_str()))
            .unwrap_or_else(|| panic!("{} not in errors", v.info.queue_id));
        assert!(e.path.ends_with(&v.info.path), "{e:?}");
    }
    assert_eq!(m.messages.len(), all.messages.len() - 2);
    // No bundle directory is left without a manifest entry.
    let on_disk: BTreeSet<String> = std::fs::read_dir(out.join("recipients"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = m.recipients.iter().map(|r| r.dir.clone()).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn hostile_names_never_escape_out() {
    let (d, spool, _) = scratch();
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
    let o = export_spool(&spool, &out, &["--zip"]);
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
        .exported
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
    let (d, spool, _) = scratch();
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
    ok(&export_spool(&spool, &out, &[]));
    let m = manifest(&out);
    assert_eq!(m.messages.len(), 1);
    assert_eq!(m.skipped.len(), 1);
    assert_eq!(m.skipped[0].queue_id.as_deref(), Some("AAAAAA0001"));
    assert!(m.skipped[0].reason.contains("probe"));
    let addrs: Vec<&[u8]> = m.recipients.iter().map(|r| &r.address.0[..]).collect();
    assert_eq!(addrs, [b"pending@example.com"]);
    let out2 = d.path().join("out2");
    ok(&export_spool(&spool, &out2, &["--include-done"]));
    assert_eq!(manifest(&out2).recipients.len(), 2);
}

#[test]
fn update_adds_new_messages_only() {
    let (d, spool, _) = scratch();
    put_simple(&spool, "BBBBBB0001", 1_700_000_000, b"u@example.com");
    put_simple(&spool, "BBBBBB0002", 1_700_000_300, b"u@example.com");
    let out = d.path().join("out");
    let run_args = |extra: &str| {
        let mut v = vec!["--zip", "--format", "mbox,maildir,eml,text"];
        if !extra.is_empty() {
            v.push(extra);
        }
        export_spool(&spool, &out, &v)
    };
    ok(&run_args(""));
    let first = manifest(&out);
    let inode = |p: &str| std::fs::metadata(out.join(p)).unwrap().ino();
    let before: BTreeMap<String, u64> = first.recipients[0]
        .files
        .iter()
        .filter(|f| {
            !f.path.ends_with(".mbox")
                && !f.path.ends_with(".zip")
                && !f.path.ends_with("/index.html")
        })
        .map(|f| (f.path.clone(), inode(&f.path)))
        .collect();
    let archive_inode = inode("messages/BBBBBB0001.eml");
    // Nothing new: exit 0, same content.
    ok(&run_args("--update"));
    // A new message for the same recipient and one for a new recipient.
    put_simple(&spool, "BBBBBB0003", 1_700_000_100, b"u@example.com");
    put_simple(&spool, "BBBBBB0004", 1_700_000_200, b"v@example.com");
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
    let mbox = std::fs::read(out.join(u.output("mbox").unwrap())).unwrap();
    let ids: Vec<String> =
        mail_parser::mailbox::mbox::MessageIterator::new(std::io::Cursor::new(&mbox))
            .map(|x| {
                let c = x.unwrap().unwrap_contents();
                let s = String::from_utf8_lossy(&c).into_owned();
                s.split("Subject: message ").nth(1).unwrap()[..10].to_string()
            })
            .collect();
    assert_eq!(ids, ["BBBBBB0001", "BBBBBB0003", "BBBBBB0002"]);
    assert_canonical_manifest(&out);
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
    let (d, spool, _) = scratch();
    put_simple(&spool, "CCCCCC0001", 1_700_000_000, b"Pat@Example.com");
    put_simple(&spool, "CCCCCC0002", 1_700_000_000, b"kim@example.com");
    let pw = d.path().join("pw");
    std::fs::write(&pw, "# passwords\npat@example.com Sekr1t-Pat\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = d.path().join("out");
    let go = |extra: &[&str]| {
        let mut v = vec!["--zip", "--zip-password-file", pw.to_str().unwrap()];
        v.extend_from_slice(extra);
        export_spool(&spool, &out, &v)
    };
    // kim has no password: refused before anything is written.
    let o = go(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_contains(&o, "kim@example.com");
    assert!(!out.exists());
    std::fs::write(
        &pw,
        "# passwords\npat@example.com Sekr1t-Pat\nKIM@example.com kims pass phrase\n",
    )
    .unwrap();
    let o = go(&["--json"]);
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
        let good = seven_zip_test(pass, &z);
        assert!(
            good.status.success(),
            "{}",
            String::from_utf8_lossy(&good.stdout)
        );
        let bad = seven_zip_test("wrong", &z);
        assert!(!bad.status.success());
        // The README opens without the password and says what opens the rest (Info-ZIP
        // unzip extracts it, then stops at the first AES entry with "need PK compat.").
        if tool("unzip") {
            let readme = Command::new("unzip")
                .arg("-p")
                .arg(&z)
                .arg(format!("{}/README.txt", r.dir))
                .output()
                .unwrap();
            assert!(readme.status.success(), "{readme:?}");
            let text = String::from_utf8_lossy(&readme.stdout);
            assert_contains_all(
                "README",
                &text,
                &[
                    "7-Zip",
                    "Windows 11",
                    "Archive Utility",
                    "PK compat",
                    "password",
                ],
            );
            assert!(!text.contains(pass));
            let rest = Command::new("unzip")
                .arg("-t")
                .arg("-P")
                .arg("x")
                .arg(&z)
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&rest.stdout).contains("PK compat"),
                "{rest:?}"
            );
        }
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
    if samples::nix_uid() == 0 {
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

/// An update interrupted after it had written some files (no per-file fsync any more:
/// they may be torn) is finished by the next `--update`: the manifest of the earlier
/// export (marked incomplete) is the truth, files it does not list are rewritten.
#[test]
fn update_after_interrupted_update() {
    let (_d, spool, out) = scratch();
    put_simple(&spool, "CCCCCC0001", 1_700_000_000, b"u@example.com");
    let run = |extra: &[&str]| {
        let mut v = vec!["--format", "mbox,eml", "--zip"];
        v.extend_from_slice(extra);
        export_spool(&spool, &out, &v)
    };
    ok(&run(&[]));
    // What an interrupted update leaves: the interim manifest ("complete": false), torn
    // files of a message it does not list yet, and a temporary file.
    let p = out.join("manifest.json");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    put_simple(&spool, "CCCCCC0002", 1_700_000_100, b"u@example.com");
    let stem = mxsalvage::decode::names::stem(1_700_000_100, "CCCCCC0002");
    let bundle = out.join("recipients/u@example.com");
    std::fs::write(out.join("messages/CCCCCC0002.eml"), b"torn").unwrap();
    std::fs::write(bundle.join(format!("eml/{stem}.eml")), b"").unwrap();
    std::fs::write(bundle.join(".mail.mbox.mxsalvage-tmp"), b"From x").unwrap();
    ok(&run(&["--update"]));
    let m = manifest(&out);
    assert!(m.complete);
    assert_eq!(m.messages.len(), 2);
    for msg in &m.messages {
        let data = std::fs::read(out.join(&msg.exported.store)).unwrap();
        assert_eq!(sha(&data), msg.exported.sha256, "{}", msg.exported.store);
    }
    let u = &m.recipients[0];
    assert_eq!(u.messages, ["CCCCCC0001", "CCCCCC0002"]);
    for f in &u.files {
        let data = std::fs::read(out.join(&f.path)).unwrap();
        assert_eq!(sha(&data), f.sha256, "{}", f.path);
        assert!(data.len() > 10, "{}", f.path);
    }
    assert_canonical_manifest(&out);
    // No spill file or other leftover of ours in OUT.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

/// Issue 18 (`d1-decoding.sh`): four messages queued by a real Postfix 3.7.11
/// (tests/data/d1), exported as text: the decoded bytes and the warnings.
#[test]
fn d1_decoding_of_real_postfix_queue_files() {
    let (d, spool, _) = scratch();
    let src = root().join("tests/data/d1/spool");
    for sub in ["deferred", "defer"] {
        for e in walk_files(&src.join(sub)) {
            let to = spool.join(e.strip_prefix(&src).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&e, &to).unwrap();
            let mode = if sub == "deferred" { 0o700 } else { 0o600 };
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    let out = d.path().join("out");
    let cfg = root().join("tests/data/d1/config");
    mx(["export"])
        .queue_dir(&spool)
        .config_dir(&cfg)
        .out(&out)
        .args(["--format", "text", "--quiet"])
        .ok();
    let t = out.join("recipients/bob@example.jp/text");
    let file = |qid: &str, suffix: &str| -> PathBuf {
        let name = std::fs::read_dir(&t)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .find(|n| n.ends_with(&format!("_{qid}{suffix}")))
            .unwrap_or_else(|| panic!("{qid}{suffix} in {t:?}"));
        t.join(name)
    };
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let warnings = |qid: &str| -> Vec<String> {
        let msg = m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["queue_id"] == qid)
            .unwrap();
        serde_json::from_value(msg["warnings"].clone()).unwrap()
    };
    // 1. quoted-printable ending in a soft line break right before the boundary
    let text = String::from_utf8(read(file("4jjdm35dCNz1Spds", ".txt"))).unwrap();
    assert!(
        text.contains("The last word of this body is WORLD\n"),
        "{text}"
    );
    assert_eq!(
        read(file("4jjdm35dCNz1Spds", ".files").join("data.bin")),
        b"ABCDEFGHIJ"
    );
    assert_eq!(warnings("4jjdm35dCNz1Spds"), Vec::<String>::new());
    // 2. `boundary=` folded onto the next line
    let text = String::from_utf8(read(file("4jjdm40hQXz1Spf9", ".txt"))).unwrap();
    assert!(text.contains("\nVISIBLE BODY TEXT\n"), "{text}");
    assert_eq!(
        read(file("4jjdm40hQXz1Spf9", ".files").join("report.pdf")),
        b"%PDF-1.4\n"
    );
    // 3. x-uuencode
    assert_eq!(
        read(file("4jjdm41XW3z1SpfW", ".files").join("hello.txt")),
        b"Hello world\n"
    );
    assert_eq!(warnings("4jjdm41XW3z1SpfW"), Vec::<String>::new());
    // 4. no empty line between the part's headers and its data: recovered, with a warning
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    assert_eq!(read(file("4jjdm41YbQz1SpfX", ".files").join("a.zip")), zip);
    let w = warnings("4jjdm41YbQz1SpfX");
    assert!(
        w.len() == 1 && w[0].contains("no empty line between its headers and its data"),
        "{w:?}"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk_files(&p));
        } else {
            v.push(p);
        }
    }
    v
}
