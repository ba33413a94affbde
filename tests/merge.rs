//! Integration tests: several backup MXs in one export (issue 21, part 2).
//!
//! Two real private Postfix secondaries (scripts/test-primary create-secondary) defer
//! everything; the same message is submitted to both over SMTP (each adds its own
//! Received line), with its recipients split across them; a pair of messages shares a
//! Message-ID but not the body; one message is only in the second. Their queues are
//! copied once per test run (the fixture) and exported together; the export is
//! re-injected into a real private Postfix primary, and the journal's deletion lists
//! are read. The queue-ID collision case renames a queue file in a copy of a spool
//! (Postfix will not make two equal IDs on demand).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::harness::{
    Modes, Postfix, SpoolCopy, copy_tree, files_under, fingerprint_of, fixture_once, manifest,
    manifest_json, mx, postfix_available,
};
use mxsalvage::manifest::{Manifest, ManifestMessage};

const SENDER: &str = "s@example.org";

/// What the sender's own MTA wrote: its Received line, the header, the body.
fn message(subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "Received: from laptop.example.org (laptop.example.org [192.0.2.7])\n\tby mail.example.org (Postfix) with ESMTPSA id 4XS{subject}\n\tfor <undisclosed>; Mon, 1 Jun 2026 09:59:58 +0000\nFrom: Sender <{SENDER}>\nTo: undisclosed-recipients:;\nSubject: {subject}\nMessage-ID: <{message_id}@example.org>\nDate: Mon, 1 Jun 2026 09:59:50 +0000\n\n{body}\n"
    )
    .into_bytes()
}

/// The queue directories of a stopped secondary, copied to `to` (only the queues and
/// logs: its sockets stay behind).
fn copy_queues(sec: &Postfix, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for q in [
        "maildrop", "incoming", "active", "deferred", "hold", "defer", "bounce",
    ] {
        let from = sec.spool().join(q);
        if from.exists() {
            copy_tree(&from, &to.join(q), false);
        }
    }
}

/// Two secondaries' queues, made once per test run: `s1` and `s2` under the returned
/// directory.
fn fixture() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    fixture_once(&F, "merge-fixture", |base| {
        let mx1 = Postfix::started("create-secondary");
        let mx2 = Postfix::started("create-secondary");
        let same = message("same", "same", "Sent once, held twice.");
        mx1.submit(SENDER, &["a@example.com", "b@example.com"], &same);
        mx2.submit(SENDER, &["b@example.com", "c@example.net"], &same);
        let near1 = message("near", "near", "The first version.");
        let near2 = message("near", "near", "The second version.");
        mx1.submit(SENDER, &["d@example.org"], &near1);
        mx2.submit(SENDER, &["d@example.org"], &near2);
        mx2.submit(
            SENDER,
            &["e@example.com"],
            &message("only", "only", "Only here."),
        );
        mx1.settle_deferred(2);
        mx2.settle_deferred(3);
        copy_queues(&mx1, &base.join("s1"));
        copy_queues(&mx2, &base.join("s2"));
        base.to_path_buf()
    })
    .as_path()
}

/// The fixture's two spools (`s1`, `s2`); `None` (the test skips) without Postfix.
fn spools() -> Option<(PathBuf, PathBuf)> {
    postfix_available().then(|| (fixture().join("s1"), fixture().join("s2")))
}

/// Where a queue file named `id` goes in `spool`'s deferred queue, its hash
/// directories made (to give a message a queue ID that another spool has too).
fn deferred_path(spool: &Path, id: &str) -> PathBuf {
    let hashed = mxsalvage::queue::id::hash_dirs(id, 1).join("/");
    let dir = spool.join("deferred").join(hashed);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(id)
}

fn export(spools: &[&Path], out: &Path, extra: &[&str]) {
    let mut c = mx(["export", "--quiet", "--format", "eml"]).out(out);
    for s in spools {
        c = c.queue_dir(s);
    }
    c.args(extra).ok();
}

/// The manifest's messages by (spool directory's last component, subject).
fn by_spool(m: &Manifest) -> BTreeMap<(String, String), Vec<&ManifestMessage>> {
    let mut out: BTreeMap<(String, String), Vec<&ManifestMessage>> = BTreeMap::new();
    for msg in &m.messages {
        let spool = Path::new(msg.info.spool.as_deref().unwrap());
        let name = spool.file_name().unwrap().to_string_lossy().into_owned();
        let subject = msg.exported.subject.clone().unwrap_or_default();
        out.entry((name, subject)).or_default().push(msg);
    }
    out
}

fn rcpts(m: &ManifestMessage) -> Vec<String> {
    (m.info.recipients.iter())
        .map(|r| String::from_utf8_lossy(&r.address.0).into_owned())
        .collect()
}

/// The header field `name` of a delivered message.
fn header(msg: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(msg);
    let want = format!("{}:", name.to_lowercase());
    text.lines()
        .find(|l| l.to_lowercase().starts_with(&want))
        .map(|l| l[want.len()..].trim().to_string())
        .unwrap_or_default()
}

#[test]
fn two_backup_mxs_give_each_recipient_one_copy() {
    let Some((s1, s2)) = spools() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("export");
    export(&[&s1, &s2], &out, &[]);
    mx(["verify"]).arg(&out).ok();
    let m = manifest(&out);
    // Both spools recorded, each message with its own.
    let dirs: Vec<&str> = (m.source.spools.iter())
        .map(|s| s.queue_directory.as_str())
        .collect();
    assert_eq!(dirs, [s1.to_str().unwrap(), s2.to_str().unwrap()]);
    let got = by_spool(&m);
    let one = |spool: &str, subject: &str| {
        let v = &got[&(spool.to_string(), subject.to_string())];
        assert_eq!(v.len(), 1, "{spool} {subject}");
        v[0]
    };
    // The same message: b is held by both and gets the first spool's copy once.
    assert_eq!(rcpts(one("s1", "same")), ["a@example.com", "b@example.com"]);
    assert_eq!(rcpts(one("s2", "same")), ["c@example.net"]);
    assert_eq!(m.duplicates.len(), 1, "{:?}", m.duplicates);
    let dup = &m.duplicates[0];
    assert_eq!(dup.recipient.0, b"b@example.com");
    assert_eq!(dup.kept, one("s1", "same").info.queue_id);
    assert_eq!(dup.spool, s2.to_str().unwrap());
    assert_eq!(dup.queue_id, one("s2", "same").info.queue_id);
    // Same Message-ID, other content: both kept, flagged.
    let (n1, n2) = (one("s1", "near"), one("s2", "near"));
    assert_eq!(rcpts(n1), ["d@example.org"]);
    assert_eq!(rcpts(n2), ["d@example.org"]);
    assert_eq!(m.near_duplicates.len(), 1);
    let mut flagged = vec![n1.info.queue_id.clone(), n2.info.queue_id.clone()];
    flagged.sort();
    assert_eq!(m.near_duplicates[0].messages, flagged);
    assert!(
        n1.info
            .warnings
            .iter()
            .any(|w| w.starts_with("near-duplicate"))
    );
    assert_eq!(rcpts(one("s2", "only")), ["e@example.com"]);
    assert_eq!((m.totals.messages, m.totals.pairs), (5, 6));

    // Nothing is out yet: the deletion lists name the spools and nothing else.
    let o = mx(["journal", "--sent-ids", "--from"]).arg(&out).code(1);
    let heads = [s1.display(), s2.display()].map(|d| format!("# {d} (postfix)"));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .collect::<Vec<_>>(),
        heads
    );

    // Re-injected: each (message, recipient) once.
    let primary = Postfix::primary();
    mx(["reinject", "--from"])
        .arg(&out)
        .args(["--to", &primary.to(), "--no-tls", "--quiet"])
        .ok();
    primary.drain();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for msg in primary.delivered() {
        let key = (header(&msg, "Delivered-To"), header(&msg, "Subject"));
        *seen.entry(key).or_default() += 1;
    }
    let want: BTreeMap<(String, String), usize> = [
        ("a@example.com", "same", 1),
        ("b@example.com", "same", 1),
        ("c@example.net", "same", 1),
        ("d@example.org", "near", 2),
        ("e@example.com", "only", 1),
    ]
    .into_iter()
    .map(|(r, s, n)| ((r.to_string(), s.to_string()), n))
    .collect();
    assert_eq!(seen, want);

    // The deletion lists: per spool, every queue file, the duplicate's too.
    let o = mx(["journal", "--sent-ids", "--from"]).arg(&out).ok();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut want = Vec::new();
    for (dir, name) in [(&s1, "s1"), (&s2, "s2")] {
        want.push(format!("# {} (postfix)", dir.display()));
        let mut ids: Vec<String> = (m.messages.iter())
            .filter(|x| x.info.spool.as_deref() == dir.to_str())
            .map(|x| x.info.queue_id.clone())
            .collect();
        if name == "s2" {
            ids.push(dup.queue_id.clone());
        }
        ids.sort();
        ids.dedup();
        want.extend(ids.iter().map(|id| format!("postsuper -d {id}")));
    }
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
}

#[test]
fn scan_lists_every_spool() {
    let Some((s1, s2)) = spools() else { return };
    let o = mx(["scan", "--json"]).queue_dir(&s1).queue_dir(&s2).ok();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let msgs = v["messages"].as_array().unwrap();
    // scan shows what each queue holds: no copy is left out.
    assert_eq!(msgs.len(), 5);
    let from = |d: &Path| {
        (msgs.iter())
            .filter(|m| m["spool"].as_str() == d.to_str())
            .count()
    };
    assert_eq!((from(&s1), from(&s2)), (2, 3));
    assert_eq!(
        v["queue_directory"].as_str().unwrap(),
        format!("{}, {}", s1.display(), s2.display())
    );
}

#[test]
fn a_queue_id_in_two_spools_is_qualified() {
    let Some((s1, s2)) = spools() else { return };
    let d = tempfile::tempdir().unwrap();
    // A copy of the second spool where its "only" message is renamed to the queue ID
    // of the first spool's "near" message.
    let single = d.path().join("single");
    export(&[&s1], &single, &[]);
    let near1 = manifest(&single)
        .messages
        .iter()
        .find(|m| m.exported.subject.as_deref() == Some("near"))
        .unwrap()
        .info
        .queue_id
        .clone();
    let s3 = d.path().join("s3");
    copy_tree(&s2, &s3, false);
    let only = manifest_of_spool(&s3, d.path());
    std::fs::rename(s3.join(&only), deferred_path(&s3, &near1)).unwrap();

    let out = d.path().join("merged");
    export(&[&s1, &s3], &out, &[]);
    let m = manifest(&out);
    let q1 = format!("{near1}+1");
    let q2 = format!("{near1}+2");
    let named = |q: &str| m.messages.iter().find(|x| x.info.queue_id == q).unwrap();
    assert_eq!(named(&q1).exported.subject.as_deref(), Some("near"));
    assert_eq!(named(&q2).exported.subject.as_deref(), Some("only"));
    assert_eq!(named(&q2).exported.store, format!("messages/{q2}.eml"));
    assert_eq!(
        named(&q2).info.spool_queue_id.as_deref(),
        Some(near1.as_str())
    );
    assert!(out.join(format!("messages/{q1}.eml")).is_file());
    // Every other queue ID is unique and keeps its name.
    assert!(
        (m.messages.iter())
            .filter(|x| x.info.spool_queue_id.is_none())
            .all(|x| !x.info.queue_id.contains('+'))
    );
    // --id ID+2 selects that one copy; the bare ID both.
    let pick = |id: &str, name: &str| {
        let o = d.path().join(name);
        export(&[&s1, &s3], &o, &["--id", id]);
        let mut ids: Vec<String> = (manifest(&o).messages.iter())
            .map(|x| x.info.queue_id.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(pick(&q2, "one"), vec![q2.clone()]);
    assert_eq!(pick(&near1, "both"), vec![q1, q2]);
    // A single spool's export names no spool and lists no duplicates.
    let v = manifest_json(&single);
    assert!(v["source"].get("spools").is_none());
    assert!(v.get("duplicates").is_none() && v.get("near_duplicates").is_none());
    assert!(
        (v["messages"].as_array().unwrap().iter())
            .all(|x| x.get("spool").is_none() && x.get("spool_queue_id").is_none())
    );
}

/// The path (relative to the spool) of the "only" message in a one-spool export of `s`.
fn manifest_of_spool(s: &Path, tmp: &Path) -> String {
    let out = tmp.join("only-export");
    export(&[s], &out, &[]);
    let m = manifest(&out);
    let only = m
        .messages
        .iter()
        .find(|x| x.exported.subject.as_deref() == Some("only"));
    only.unwrap().info.path.clone()
}

#[test]
fn an_update_keeps_the_names_it_gave() {
    let Some((s1, s2)) = spools() else { return };
    let d = tempfile::tempdir().unwrap();
    let s3 = d.path().join("s3");
    copy_tree(&s2, &s3, false);
    let out = d.path().join("export");
    export(&[&s1, &s3], &out, &[]);
    let before = manifest(&out);
    let subject = |m: &Manifest, s: &str| {
        let found = m
            .messages
            .iter()
            .find(|x| x.exported.subject.as_deref() == Some(s));
        found.unwrap().info.clone()
    };
    let near1 = subject(&before, "near").queue_id;
    assert!(!near1.contains('+'), "{near1}");
    // A new queue file in the second spool takes the first one's queue ID.
    let only = subject(&before, "only").path;
    std::fs::copy(s3.join(&only), deferred_path(&s3, &near1)).unwrap();
    export(&[&s1, &s3], &out, &["--update"]);
    let after = manifest(&out);
    // The message already exported keeps its name (not new again as `ID+1`); the new
    // one is qualified.
    let ids: Vec<&str> = (after.messages.iter())
        .map(|x| x.info.queue_id.as_str())
        .collect();
    assert!(ids.contains(&near1.as_str()) && !ids.contains(&format!("{near1}+1").as_str()));
    let new = (after.messages.iter())
        .find(|x| x.info.queue_id == format!("{near1}+2"))
        .unwrap();
    assert_eq!(new.exported.subject.as_deref(), Some("only"));
    assert_eq!(after.messages.len(), before.messages.len() + 1);
}

/// No spool is ever written: `--out` inside any of them is refused, and a merged
/// export of two copies of the samples changes neither.
#[test]
fn no_spool_is_written() {
    let (a, b) = (SpoolCopy::new(Modes::Live), SpoolCopy::new(Modes::Live));
    let before = [a.path.as_path(), b.path.as_path()].map(|r| fingerprint_of(files_under(r)));
    let o = mx(["export", "--format", "eml"])
        .queue_dir(a.path.as_path())
        .queue_dir(b.path.as_path())
        .out(&b.path.as_path().join("deferred/out"))
        .code(2);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("is inside the queue directory"), "{err}");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("export");
    export(&[a.path.as_path(), b.path.as_path()], &out, &[]);
    let after = [a.path.as_path(), b.path.as_path()].map(|r| fingerprint_of(files_under(r)));
    assert_eq!(before, after);
    // Every message once, every pair of the second copy a duplicate of the first's.
    let m = manifest(&out);
    assert!(m.messages.iter().all(|x| x.info.queue_id.ends_with("+1")));
    assert_eq!(m.duplicates.len(), m.totals.pairs);
}
