//! Zip passwords (issue 11.3): `--update` never changes an export's encryption (either
//! way: exit 2, re-export with --force), and a password file that group or others may
//! read is refused (one line: chmod 600 FILE) unless `--allow-readable-passwords`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{export_samples, manifest};
use crate::harness::{mx, write_mode};

fn pwfile(dir: &Path, mode: u32) -> std::path::PathBuf {
    let lines: String =
        crate::util::sample_recipients(&["--config-dir", crate::util::defaults_config_dir()])
            .iter()
            .map(|(a, n)| format!("{a} pw-{n}\n"))
            .collect();
    let p = dir.join(format!("pw-{mode:o}"));
    write_mode(&p, lines, mode);
    p
}

/// `verify OUT --zip-password-file FILE`, asserted to pass.
fn verify_with(out: &Path, file: &Path) {
    mx(["verify"])
        .arg(out)
        .arg("--zip-password-file")
        .arg(file)
        .ok();
}

/// The permission bits of `p`.
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn code_and_err(o: std::process::Output) -> (Option<i32>, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn passwords_update_never_changes_encryption() {
    let d = tempfile::tempdir().unwrap();
    let pw = pwfile(d.path(), 0o600);
    let pws = pw.to_str().unwrap();
    // Made without passwords: an update with a password file is refused.
    let plain = d.path().join("plain");
    let (c, e) = code_and_err(export_samples(&plain, &["--zip"]));
    assert_eq!(c, Some(0), "{e}");
    let before = std::fs::read(plain.join("manifest.json")).unwrap();
    let (c, e) = code_and_err(export_samples(
        &plain,
        &["--update", "--zip", "--zip-password-file", pws],
    ));
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("not encrypted") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read(plain.join("manifest.json")).unwrap(), before);
    // Made with passwords: an update without them is refused.
    let enc = d.path().join("enc");
    let (c, e) = code_and_err(export_samples(&enc, &["--zip", "--zip-password-file", pws]));
    assert_eq!(c, Some(0), "{e}");
    assert!(manifest(&enc).options.encrypted);
    let (c, e) = code_and_err(export_samples(&enc, &["--update"]));
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("encrypted") && e.contains("--force"), "{e}");
    // --force changes it on purpose.
    let (c, e) = code_and_err(export_samples(
        &plain,
        &["--force", "--zip", "--zip-password-file", pws],
    ));
    assert_eq!(c, Some(0), "{e}");
    assert!(manifest(&plain).options.encrypted);
}

#[test]
fn passwords_readable_file_refused() {
    let d = tempfile::tempdir().unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        let pw = pwfile(d.path(), mode);
        let out = d.path().join(format!("out-{mode:o}"));
        let (c, e) = code_and_err(export_samples(
            &out,
            &["--zip", "--zip-password-file", pw.to_str().unwrap()],
        ));
        assert_eq!(c, Some(2), "{e}");
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 1, "{e}");
        assert!(
            lines[0].contains(&format!("chmod 600 {}", pw.display())),
            "{e}"
        );
        assert!(!out.exists(), "nothing written");
        let (c, e) = code_and_err(export_samples(
            &out,
            &[
                "--zip",
                "--zip-password-file",
                pw.to_str().unwrap(),
                "--allow-readable-passwords",
            ],
        ));
        assert_eq!(c, Some(0), "{e}");
    }
}

#[test]
fn passwords_generated_per_mailbox_private_and_open_the_zips() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("passwords");
    let out = d.path().join("out");
    let o = export_samples(
        &out,
        &["--zip", "--generate-passwords", file.to_str().unwrap()],
    );
    let (c, e) = code_and_err(o.clone());
    assert_eq!(c, Some(0), "{e}");
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let pw = mxsalvage::export::passwords::parse_passwords(&text).unwrap();
    let m = manifest(&out);
    assert!(m.options.encrypted);
    assert_eq!(pw.len(), m.recipients.len(), "one per mailbox");
    for s in pw.values() {
        assert!(!e.contains(&s.0) && !String::from_utf8_lossy(&o.stdout).contains(&s.0));
    }
    let all: std::collections::BTreeSet<&str> = pw.values().map(|s| s.0.as_str()).collect();
    assert_eq!(all.len(), pw.len(), "every password is different");
    // Handouts: one per user, private, outside the export.
    let hd = mxsalvage::export::passwords::handouts_dir(&file);
    assert_eq!(mode(&hd), 0o700);
    let handouts: Vec<_> = std::fs::read_dir(&hd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(handouts.len(), pw.len());
    let alice = std::fs::read_to_string(hd.join("alice@example.com.txt")).unwrap();
    let apw = &pw[&b"alice@example.com".to_vec()].0;
    assert!(alice.contains(apw) && alice.contains("7-Zip") && alice.contains("Windows 11"));
    assert!(alice.contains("Archive Utility"), "{alice}");
    for h in &handouts {
        assert_eq!(mode(h), 0o600);
    }
    // verify opens every zip with the generated file.
    verify_with(&out, &file);
    // 7z extracts alice's zip with her password.
    if super::tool("7z") {
        let x = d.path().join("x");
        let o = std::process::Command::new("7z")
            .arg("x")
            .arg(format!("-p{apw}"))
            .arg(format!("-o{}", x.display()))
            .arg(out.join("recipients/alice@example.com.zip"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        assert!(x.join("alice@example.com/index.html").exists());
    }
    // Never overwritten.
    let (c, e) = code_and_err(export_samples(
        &d.path().join("out2"),
        &["--zip", "--generate-passwords", file.to_str().unwrap()],
    ));
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("exists already"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

/// Issue 16 (r11): Postfix queues `RCPT TO:<"alice@example.com x"@example.com>` as
/// `alice@example.com x@example.com`. The generated file (format 2: tab-separated,
/// escaped) gives alice and the odd mailbox each their own password, `--update` and
/// `verify` read it back, and a file in the old generator's format with that line
/// still reads right (split at the last blank).
#[test]
fn passwords_generated_file_round_trips_an_address_with_a_blank() {
    use mxsalvage::export::passwords::{HEADER1, handouts_dir, parse_passwords};
    let d = tempfile::tempdir().unwrap();
    let sp = crate::util::spool_with_quoted_rcpt(d.path());
    let file = d.path().join("passwords");
    let out = d.path().join("out");
    let fs = file.to_str().unwrap();
    let (c, e) = code_and_err(super::export_spool(
        &sp,
        &out,
        &["--zip", "--generate-passwords", fs],
    ));
    assert_eq!(c, Some(0), "{e}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# mxsalvage password file, format 2"),
        "{text}"
    );
    let pw = parse_passwords(&text).unwrap();
    let m = manifest(&out);
    assert_eq!(pw.len(), m.recipients.len(), "one per mailbox");
    let odd = b"alice@example.com x@example.com".to_vec();
    assert!(m.recipients.iter().any(|r| r.address.0 == odd));
    let alice = &pw[&b"alice@example.com".to_vec()].0;
    let h = std::fs::read_to_string(handouts_dir(&file).join("alice@example.com.txt")).unwrap();
    assert!(
        h.contains(&format!("    {alice}\n")),
        "alice's handout has her password"
    );
    assert_ne!(&pw[&odd].0, alice);
    // --update and verify read the generated file back.
    let upd = ["--update", "--zip", "--zip-password-file", fs];
    let (c, e) = code_and_err(super::export_spool(&sp, &out, &upd));
    assert_eq!(c, Some(0), "{e}");
    verify_with(&out, &file);
    // The old generator's format (`address password`, its header) still reads.
    let old = d.path().join("passwords-old");
    let mut t = format!("{HEADER1}\n");
    for (k, s) in &pw {
        t.push_str(&format!("{} {}\n", String::from_utf8_lossy(k), s.0));
    }
    write_mode(&old, &t, 0o600);
    assert_eq!(parse_passwords(&t).unwrap(), pw);
    verify_with(&out, &old);
}
