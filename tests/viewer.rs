//! Integration tests: what a person reads. Decoding hostile messages (depth, size,
//! linearity), names of the files they get, and the HTML view (`index.html` and the
//! message pages) loaded in a real headless Chromium.

use std::path::Path;
use std::time::{Duration, Instant};

use mxsalvage::decode::decode;
use mxsalvage::manifest::Manifest;
use mxsalvage::queue::record::encode_record;

use crate::util::*;

// ---------------------------------------------------------------------------------------
// helpers

/// A queue file as Postfix writes it (size record first, envelope, content, end), for
/// one message with the given content lines.
fn queue_file(arrival: i64, rcpts: &[&[u8]], lines: &[Vec<u8>]) -> Vec<u8> {
    let mut env = Vec::new();
    encode_record(&mut env, b'T', format!("{arrival} 0").as_bytes());
    encode_record(&mut env, b'A', format!("create_time={arrival}").as_bytes());
    encode_record(&mut env, b'S', b"sender@example.net");
    for r in rcpts {
        encode_record(&mut env, b'O', r);
        encode_record(&mut env, b'R', r);
    }
    encode_record(&mut env, b'M', b"");
    let mut content = Vec::new();
    for l in lines {
        encode_record(&mut content, b'N', l);
    }
    let size = |ds: usize, doff: usize| {
        let mut c = Vec::new();
        let p = format!(
            "{ds:>15} {doff:>15} {:>15} {:>15} {ds:>15} {:>15}",
            rcpts.len(),
            0,
            0
        );
        encode_record(&mut c, b'C', p.as_bytes());
        c
    };
    let c0 = size(content.len(), 0);
    let doff = c0.len() + env.len();
    let mut v = size(content.len(), doff);
    assert_eq!(v.len(), c0.len());
    v.extend_from_slice(&env);
    v.extend_from_slice(&content);
    encode_record(&mut v, b'X', b"");
    encode_record(&mut v, b'E', b"");
    v
}

/// Writes a queue file into `spool/deferred/<first char>/<id>` (mode 0700).
fn put(spool: &Path, id: &str, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let dir = spool.join("deferred").join(&id[..1]);
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(id);
    std::fs::write(&p, data).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn lines(s: &[u8]) -> Vec<Vec<u8>> {
    s.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect()
}

fn manifest(out: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

/// Asserts that doubling the input at most a little more than doubles the time: the
/// ratio of the fastest of several interleaved runs at 2n and at n, measured within
/// this test (never an absolute time; the fastest run is the least disturbed by other
/// processes). Quadratic code gives about 4; a ratio above 2.7 is measured again (up
/// to three times) before it counts, so a busy machine does not fail the test.
fn assert_linear(what: &str, make: impl Fn(usize) -> Vec<u8>, n: usize) {
    let small = make(n);
    let big = make(2 * n);
    let time = |raw: &[u8]| {
        let t = Instant::now();
        std::hint::black_box(decode(raw, "x.files"));
        t.elapsed()
    };
    time(&small); // warm up
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (mut t1, mut t2) = (Duration::MAX, Duration::MAX);
        for _ in 0..7 {
            t1 = t1.min(time(&small));
            t2 = t2.min(time(&big));
        }
        let r = t2.as_secs_f64() / t1.as_secs_f64();
        eprintln!("{what}: time(2n)/time(n) = {r:.2} ({t1:?} → {t2:?})");
        if r < 2.7 {
            return;
        }
        seen.push(r);
    }
    panic!("{what}: doubling the input multiplied the time by {seen:.2?}");
}

fn deep822(n: usize) -> Vec<u8> {
    let mut v = b"From: a@example.net\nTo: alice@example.com\nSubject: big deep822".to_vec();
    for i in 0..n {
        v.extend_from_slice(
            format!("\nContent-Type: message/rfc822\n\nFrom: x{i}@example.net\nSubject: level {i}")
                .as_bytes(),
        );
    }
    v.extend_from_slice(b"\n\ninnermost");
    v
}

// ---------------------------------------------------------------------------------------
// issue 12: hostile messages

/// r2: HTML full of `&` without `;` (0.5 MB took 16 s, 2 MB 200 s).
#[test]
fn html_full_of_ampersands_decodes_in_linear_time() {
    let make = |kb: usize| {
        let mut v =
            b"From: a@example.net\nSubject: amp\nMIME-Version: 1.0\nContent-Type: text/html\n\n<p>"
                .to_vec();
        v.extend(std::iter::repeat_n(b'&', kb * 1024));
        v.extend_from_slice(b"</p>\n");
        v
    };
    let d = decode(&make(64), "x.files");
    assert!(d.text.contains(&"&".repeat(64 * 1024)));
    assert_linear("amp", make, 128);
}

/// r2: many attachments with the same name (16,000 parts took 45 s).
#[test]
fn many_same_named_attachments_decode_in_linear_time() {
    let make = |n: usize| {
        let mut v = b"From: a@example.net\nSubject: parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n".to_vec();
        for i in 0..n {
            v.extend_from_slice(format!("--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"a.txt\"\n\nx{i}\n").as_bytes());
        }
        v.extend_from_slice(b"--B--\n");
        v
    };
    let d = decode(&make(100), "x.files");
    let names: std::collections::BTreeSet<String> = d
        .attachments
        .iter()
        .map(|a| a.name.to_lowercase())
        .collect();
    assert_eq!(names.len(), 100);
    assert_linear("parts_same", make, 4000);
}

/// r3: message/rfc822 nested 40,000 deep overflowed the stack (exit 134, no manifest,
/// every other message lost). Now the export completes; the deep message is exported
/// whole (archive copy, mbox) and its text shows the first 100 levels, the rest saved
/// raw with a warning.
#[test]
fn deeply_nested_message_does_not_abort_the_export() {
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("spool");
    let out = d.path().join("out");
    put(
        &spool,
        "3C3CC98E003",
        &queue_file(
            1_795_804_680,
            &[b"alice@example.com"],
            &lines(&deep822(40_000)),
        ),
    );
    put(
        &spool,
        "3C3CC98E004",
        &queue_file(
            1_795_804_690,
            &[b"alice@example.com"],
            &lines(b"From: b@example.net\nSubject: an ordinary one\n\nhello"),
        ),
    );
    let o = run(&[
        "export",
        "--queue-dir",
        spool.to_str().unwrap(),
        "--config-dir",
        "/nonexistent",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "mbox,text",
        "--quiet",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = manifest(&out);
    assert_eq!(m.messages.len(), 2);
    let deep = m
        .messages
        .iter()
        .find(|x| x.info.queue_id == "3C3CC98E003")
        .unwrap();
    assert!(
        deep.info
            .warnings
            .iter()
            .any(|w| w.contains("nested more than 100")),
        "{:?}",
        deep.info.warnings
    );
    assert_eq!(deep.attachments.len(), 1);
    assert!(deep.attachments[0].name.ends_with(".eml"));
    let archive = std::fs::read(out.join(&deep.store)).unwrap();
    assert!(archive.ends_with(b"innermost\n"));
}

// ---------------------------------------------------------------------------------------
// issue 10 item 3: text rendering

/// HTML-only mail keeps its link addresses in the text form; a delivery report's
/// status part is saved as text.
#[test]
fn text_form_keeps_links_and_names_reports_txt() {
    let html = b"From: news@example.net\nSubject: links\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n<p>See <a href=\"https://example.com/offer?id=1&amp;x=2\">here</a>.</p>\n";
    let d = decode(html, "x.files");
    assert!(
        d.text
            .contains("See here <https://example.com/offer?id=1&x=2>."),
        "{}",
        d.text
    );
    let dsn = b"From: MAILER-DAEMON@example.net\nSubject: Undelivered\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nYour message could not be delivered.\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; gone@example.com\nAction: failed\nStatus: 5.1.1\n--R\nContent-Type: text/rfc822-headers\n\nFrom: a@example.com\nSubject: hi\n--R--\n";
    let d = decode(dsn, "x.files");
    let names: Vec<&str> = d.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["part-1.txt", "part-2.txt"], "{}", d.text);
    assert!(d.attachments[0].data.starts_with(b"Reporting-MTA"));
}
