//! Integration tests: `verify` passes on a fresh export of the samples and catches a
//! deleted, altered or added file, a damaged zip, and a wrong zip password.

use std::path::Path;

use crate::util::*;

fn export(out: &Path, extra: &[&str]) {
    let spool = sample_spool();
    let mut args = vec![
        "export",
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn verify(out: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn first_file(dir: &Path, ext: &str) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v.into_iter()
        .find(|p| p.to_string_lossy().ends_with(ext))
        .unwrap()
}

#[test]
fn verify_catches_deleted_altered_and_added_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    export(&out, &["--zip"]);
    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("OK") || text.contains("\nOK"), "{text}");

    // Deleted archive copy.
    let msg = first_file(&out.join("messages"), ".eml");
    let saved = std::fs::read(&msg).unwrap();
    std::fs::remove_file(&msg).unwrap();
    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 1);
    assert!(text.contains("missing"), "{text}");
    std::fs::write(&msg, &saved).unwrap();

    // Altered mbox: a message body changed.
    let rcpt = out.join("recipients/alice@example.com");
    let mbox = rcpt.join("mail.mbox");
    let orig = std::fs::read(&mbox).unwrap();
    let mut bad = orig.clone();
    let pos = bad.iter().rposition(|&c| c == b'a').unwrap();
    bad[pos] = b'b';
    std::fs::write(&mbox, &bad).unwrap();
    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 1);
    assert!(
        text.contains("mail.mbox") && text.contains("sha256"),
        "{text}"
    );
    assert!(text.contains("differs from its archive copy"), "{text}");
    std::fs::write(&mbox, &orig).unwrap();

    // Added file.
    let added = rcpt.join("eml/extra.eml");
    std::fs::write(&added, b"Subject: sneaked in\n\nhi\n").unwrap();
    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 1);
    assert!(
        text.contains("extra.eml") && text.contains("not in the manifest"),
        "{text}"
    );
    std::fs::remove_file(&added).unwrap();

    // Damaged zip.
    let zip = out.join("recipients/alice@example.com.zip");
    let orig = std::fs::read(&zip).unwrap();
    let mut bad = orig.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&zip, &bad).unwrap();
    let (code, text) = verify(&out, &["--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["path"].as_str().unwrap().ends_with(".zip"))
    );
    std::fs::write(&zip, &orig).unwrap();

    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 0, "restored export verifies again: {text}");
}

#[test]
fn verify_opens_encrypted_zips_with_the_password_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let pw = tmp.path().join("pw");
    // Every recipient of the samples needs a line.
    let scan = run(&[
        "scan",
        "--json",
        "--queue-dir",
        sample_spool().to_str().unwrap(),
    ]);
    let r: mxsalvage::scan::ScanReport = serde_json::from_slice(&scan.stdout).unwrap();
    let lines: String = r
        .recipients
        .iter()
        .map(|x| format!("{} secret-{}\n", x.address.display(), x.messages))
        .collect();
    std::fs::write(&pw, &lines).unwrap();
    export(
        &out,
        &["--zip", "--zip-password-file", pw.to_str().unwrap()],
    );
    let (code, text) = verify(&out, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("encrypted; give --zip-password-file"),
        "{text}"
    );
    let (code, text) = verify(&out, &["--zip-password-file", pw.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("note:"), "{text}");
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, lines.replace("secret-", "nope-")).unwrap();
    let (code, text) = verify(&out, &["--zip-password-file", wrong.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("does not open") || text.contains("damaged"),
        "{text}"
    );
}

#[test]
fn verify_without_manifest_is_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _) = verify(tmp.path(), &[]);
    assert_eq!(code, 2);
}
