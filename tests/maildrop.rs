//! Integration test: a message still in `maildrop/` is exported as Postfix would
//! deliver it (issue 8, item 9; issue 9, item 4).
//!
//! Real Postfix, no model of it: a private instance (scripts/test-primary) is stopped
//! while its own `sendmail` writes maildrop files (unqualified sender and recipient,
//! no From/Date/Message-Id, a full name with specials, resent headers, no final
//! newline, Bcc); the samples' maildrop files join them. mxsalvage exports a copy of
//! that maildrop/ with the instance's main.cf; then the instance is started, its
//! pickup and cleanup process the same files and virtual(8) delivers them into
//! Maildirs. Every delivered file must equal our Maildir copy for that recipient, apart
//! from pickup's own Received: header and the queue ID inside an added Message-Id.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Postfix, backdate, copy_tree, files_under, mx, postfix_available, scratch};
use crate::util::*;

/// Submits a message with the instance's sendmail (Postfix stopped: it stays in
/// maildrop/).
fn sendmail(etc: &Path, args: &[&str], message: &[u8]) {
    let mut c = Command::new("/usr/sbin/sendmail")
        .arg("-C")
        .arg(etc)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(message).unwrap();
    assert!(c.wait().unwrap().success(), "sendmail {args:?}");
}

/// The header value of `name` in a message (first occurrence).
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\n\n")
        .next()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// Makes the two sides comparable: pickup's Received: header (two lines) goes, and the
/// queue ID in an added `Message-Id: <ID@host>` becomes `ID`.
fn normalize(msg: &str, drop_received: bool) -> String {
    let mut out = Vec::new();
    let mut lines = msg.split('\n').peekable();
    while let Some(l) = lines.next() {
        if drop_received && l.starts_with("Received: by ") && l.contains("(Postfix, from userid") {
            if lines.peek().is_some_and(|n| n.starts_with('\t')) {
                lines.next();
            }
            continue;
        }
        let mut l = l.to_string();
        for h in ["Message-Id: <", "Resent-Message-Id: <"] {
            if let Some(rest) = l.strip_prefix(h)
                && let Some((_, host)) = rest.split_once('@')
            {
                l = format!("{h}ID@{host}");
            }
        }
        out.push(l);
    }
    out.join("\n")
}

#[test]
fn maildrop_export_equals_what_postfix_delivers() {
    if !postfix_available() {
        return;
    }
    let inst = Postfix::create("create");
    let etc = inst.etc();
    // The secondary's identity: unqualified addresses become @example.com, a domain the
    // instance delivers into Maildirs.
    let st = Command::new("postconf")
        .arg("-c")
        .arg(&etc)
        .args([
            "-e",
            "myhostname = example.com",
            "enable_long_queue_ids = yes",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    backdate(&etc.join("main.cf"));
    sendmail(
        &etc,
        &[
            "-f",
            "nobody",
            "-F",
            "Doe, John",
            "bob",
            "alice@example.com",
        ],
        b"Subject: maildrop 1: only a subject\n\nbody line\n",
    );
    sendmail(
        &etc,
        &["-f", "nobody", "-F", "Plain   Name", "carol@example.com"],
        b"To: carol@example.com\nSubject: maildrop 2: no final newline\n\nthe end",
    );
    sendmail(
        &etc,
        &["-f", "fwd@example.org", "dave@example.com"],
        b"From: orig@example.net\nDate: Mon, 27 Nov 2023 10:00:00 +0000\nMessage-ID: <orig@example.net>\nTo: x@example.net\nResent-From: fwd@example.org\nResent-To: dave@example.com\nSubject: maildrop 3: resent\n\nforwarded\n",
    );
    sendmail(
        &etc,
        &["-t", "-f", "nobody"],
        b"To: erin@example.com\nBcc: frank@example.com\nSubject: maildrop 4: -t with Bcc\n\nblind\n",
    );
    let maildrop = inst.path().join("spool/maildrop");
    for f in files_under(&sample_spool().join("maildrop")) {
        let to = maildrop.join(f.file_name().unwrap());
        std::fs::copy(&f, &to).unwrap();
        std::os::unix::fs::chown(&to, Some(65534), None).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o744)).unwrap();
    }
    // Our export, from a copy of that maildrop/ and the instance's main.cf.
    let (copy, spool, _) = scratch();
    std::fs::create_dir_all(&spool).unwrap();
    copy_tree(&maildrop, &spool, false);
    let cfg = copy.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::copy(etc.join("main.cf"), cfg.join("main.cf")).unwrap();
    let out = copy.path().join("out");
    mx(["export", "--quiet", "--format", "maildir"])
        .queue_dir(&spool)
        .config_dir(&cfg)
        .out(&out)
        .code(0);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let pairs = m["totals"]["pairs"].as_u64().unwrap() as usize;
    assert_eq!(pairs, 6 + 7, "4 submitted (6 recipients) + the samples' 7");
    // The envelope in the manifest is qualified (what reinject will send).
    for msg in m["messages"].as_array().unwrap() {
        let s = msg["sender"].as_str().unwrap();
        assert!(s.contains('@'), "unqualified sender {s}");
        for r in msg["recipients"].as_array().unwrap() {
            assert!(r["address"].as_str().unwrap().contains('@'));
        }
    }
    let ours: Vec<String> = files_under(&out.join("recipients"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/Maildir/new/"))
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .collect();
    assert_eq!(ours.len(), pairs);

    // Now Postfix: pickup, cleanup, virtual.
    inst.start();
    let _ = Command::new("postkick")
        .arg("-c")
        .arg(&etc)
        .args(["public", "pickup", "W"])
        .status();
    let mail = inst.path().join("mail");
    let start = Instant::now();
    let theirs = loop {
        let files: Vec<String> = files_under(&mail)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("/new/"))
            .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
            .collect();
        if files.len() >= pairs {
            break files;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "Postfix delivered {} of {pairs} in 180 s: {}",
            files.len(),
            std::fs::read_to_string(inst.path().join("maillog")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(theirs.len(), pairs);
    let key = |msg: &str| {
        (
            header(msg, "Delivered-To").unwrap_or("").to_string(),
            header(msg, "Subject").unwrap_or("").to_string(),
        )
    };
    for t in &theirs {
        let k = key(t);
        let o = ours
            .iter()
            .find(|o| key(o) == k)
            .unwrap_or_else(|| panic!("no export copy for {k:?}"));
        assert_eq!(normalize(o, false), normalize(t, true), "{k:?}");
    }
}
