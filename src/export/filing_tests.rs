//! Unit tests of filing (issue 20): every sink with a ham, a spam and a malware
//! message whose verdicts are made here, written into a real bundle directory through
//! the same [`Tree`] and sink calls the run makes; then `verify`'s own checks over it.
//! The end-to-end tests with real filters are in tests/filing.rs.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::bytes::Bytes;
use crate::filter::verdict::{Filing, SpamResult, Verdict, VirusResult};

use super::message::junk_dirs;
use super::sink::{Dest, Item, LazyDecoded, Mailbox, Message, Summary};
use super::sinks::{Formats, render_message};
use super::tree::Tree;
use super::zip;

const DIR: &str = "alice@example.com";

fn spam() -> SpamResult {
    serde_json::from_str(
        r#"{"filter": "rspamd", "action": "reject", "is_spam": true, "score": 1000.0,
            "required": 15.0, "symbols": ["GTUBE"], "at": "2026-12-07T14:00:00Z"}"#,
    )
    .unwrap()
}

fn virus() -> VirusResult {
    VirusResult {
        filter: "clamd".into(),
        virus: Some("Eicar-Test-Signature".into()),
        at: "2026-12-07T14:00:00Z".into(),
    }
}

/// A message `id` with body marker `MARK-<id>`, its archive copy written under `out`.
fn message(out: &Path, id: &str, at: i64, verdict: Option<Verdict>) -> (Summary, Vec<u8>) {
    let bytes = format!(
        "From: Sender {id} <s{id}@example.net>\nTo: {DIR}\nSubject: subject {id}\nMessage-ID: <{id}@x>\n\nMARK-{id}\n"
    )
    .into_bytes();
    let store = format!("messages/{id}.eml");
    std::fs::create_dir_all(out.join("messages")).unwrap();
    std::fs::write(out.join(&store), &bytes).unwrap();
    let mut m = super::json::tests::message(id, at);
    m.info.sender = Bytes(format!("s{id}@example.net").into_bytes());
    m.exported.store = store;
    m.exported.sha256 = hex::encode(Sha256::digest(&bytes));
    m.exported.bytes = bytes.len() as u64;
    m.exported.arrival_usec = 0;
    m.exported.subject = Some(format!("subject {id}"));
    m.exported.from = Some(format!("Sender {id} <s{id}@example.net>"));
    m.exported.attachments = vec![];
    m.verdict = verdict;
    (Summary::of(&m), bytes)
}

/// Every file under `d`, with its content.
fn files(d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(d).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn has(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Writes one bundle as the run does: per message (withheld ones skipped), then per
/// mailbox, with every format.
fn write_bundle(out: &Path, msgs: &[(Summary, Vec<u8>, Filing)]) {
    let formats = Formats::all();
    let mut dest = Tree::new(out, DIR);
    for d in formats
        .sinks()
        .flat_map(|s| s.dirs().iter().chain(s.junk_dirs()))
    {
        dest.dir(d).unwrap();
    }
    for (s, bytes, filing) in msgs.iter().filter(|m| m.2 != Filing::Withheld) {
        let decoded = LazyDecoded::new(bytes, "x.files");
        let view = Message {
            bytes,
            summary: s,
            mailbox: DIR.as_bytes(),
            prepend: b"Delivered-To: alice@example.com\n",
            stem: &s.stem,
            arrival: (s.arrival_unix, 0),
            formats,
            filing: *filing,
            decoded: &decoded,
        };
        junk_dirs(formats, &mut dest).unwrap();
        render_message(formats, &view, &mut dest).unwrap();
    }
    let shown: Vec<_> = msgs.iter().filter(|m| m.2 != Filing::Withheld).collect();
    let held: Vec<_> = msgs.iter().filter(|m| m.2 == Filing::Withheld).collect();
    let get = |i: usize| {
        Ok(Item {
            summary: shown[i].0.clone(),
            prepend: b"Delivered-To: alice@example.com\n".to_vec(),
            filing: shown[i].2,
        })
    };
    let get_withheld = |i: usize| Ok(held[i].0.clone());
    let view = Mailbox {
        mailbox: DIR.as_bytes(),
        dir: DIR,
        formats,
        len: shown.len(),
        junk: true,
        withheld: held.len(),
        newest: 1_800_000_000,
        out,
        get: &get,
        get_withheld: &get_withheld,
        read: &|_| {},
    };
    for s in formats.sinks() {
        s.mailbox(&view, &mut dest).unwrap();
    }
}

#[test]
fn spam_in_junk_malware_nowhere_ham_in_the_inbox() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path();
    let ham = message(out, "HAM1", 1_800_000_000, None);
    let spam_v = Verdict::decide(Some(spam()), None, vec![]);
    let sp = message(out, "SPAM1", 1_800_000_100, Some(spam_v));
    let mal_v = Verdict::decide(Some(spam()), Some(virus()), vec![]);
    let mal = message(out, "EVIL1", 1_800_000_200, Some(mal_v));
    let unscanned = Verdict::decide(None, None, vec!["clamd: timed out".into()]);
    let un = message(out, "UNSC1", 1_800_000_300, Some(unscanned));
    let msgs = vec![
        (ham.0, ham.1, Filing::Inbox),
        (sp.0, sp.1, Filing::Junk),
        (mal.0, mal.1, Filing::Withheld),
        (un.0, un.1, Filing::Inbox),
    ];
    write_bundle(out, &msgs);
    let b = out.join("recipients").join(DIR);
    let mut all = Vec::new();
    files(&b, &mut all);
    // Malware: in no file of the bundle; its notice is in index.html, without a link.
    for (p, data) in &all {
        assert!(!has(data, "MARK-EVIL1"), "{p} holds the malware message");
        assert!(
            !p.contains("EVIL1"),
            "{p} is named after the malware message"
        );
    }
    let read = |rel: &str| std::fs::read(b.join(rel)).unwrap();
    let in_dir = |rel: &str, mark: &str| {
        std::fs::read_dir(b.join(rel))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file() && has(&std::fs::read(e.path()).unwrap(), mark))
            .count()
    };
    // Spam: in Junk in every format, not in the inbox; ham and unscanned in the inbox.
    assert!(has(&read("junk.mbox"), "MARK-SPAM1"));
    assert!(!has(&read("junk.mbox"), "MARK-HAM1"));
    assert!(has(&read("mail.mbox"), "MARK-HAM1") && has(&read("mail.mbox"), "MARK-UNSC1"));
    assert!(!has(&read("mail.mbox"), "MARK-SPAM1"));
    assert_eq!(in_dir("Maildir/.Junk/new", "MARK-SPAM1"), 1);
    assert_eq!(in_dir("Maildir/new", "MARK-SPAM1"), 0);
    assert_eq!(in_dir("Maildir/new", "MARK-HAM1"), 1);
    for d in ["Maildir/.Junk/cur", "Maildir/.Junk/tmp"] {
        assert!(b.join(d).is_dir(), "{d}");
    }
    assert_eq!(in_dir("Junk/eml", "MARK-SPAM1"), 1);
    assert_eq!(in_dir("eml", "MARK-SPAM1"), 0);
    assert_eq!(in_dir("Junk/text", "MARK-SPAM1"), 1);
    assert_eq!(in_dir("text", "MARK-SPAM1"), 0);
    assert_eq!(in_dir("Junk/html", "MARK-SPAM1"), 1);
    assert_eq!(in_dir("html", "MARK-SPAM1"), 0);
    // The Junk page links back to the index two levels up, and says it is spam.
    let junk_page = String::from_utf8(read(&format!("Junk/html/{}.html", msgs[1].0.stem))).unwrap();
    assert!(
        junk_page.contains("href=\"../../index.html\""),
        "{junk_page}"
    );
    assert!(junk_page.contains("judged this message to be spam (rspamd: reject)"));
    assert!(junk_page.contains(&format!("href=\"../eml/{}.eml\"", msgs[1].0.stem)));
    let index = String::from_utf8(read("index.html")).unwrap();
    let (inbox, spam_part) = index.split_once("id=\"spam\"").expect("a spam section");
    assert!(inbox.contains("subject HAM1") && !inbox.contains("subject SPAM1"));
    assert!(spam_part.contains("subject SPAM1") && !spam_part.contains("subject HAM1"));
    assert!(spam_part.contains(&format!("href=\"Junk/html/{}.html\"", msgs[1].0.stem)));
    let held = &index[index.find("id=\"withheld\"").expect("a withheld notice")..];
    let held = &held[..held.find("</section>").unwrap()];
    assert!(held.contains("1 message withheld"), "{held}");
    assert!(held.contains("virus Eicar-Test-Signature") && held.contains("subject EVIL1"));
    assert!(
        held.contains("Sender EVIL1 &lt;sEVIL1@example.net&gt;"),
        "{held}"
    );
    assert!(!held.contains("href"), "{held}");
    // The unscanned message is marked in the index and on its page.
    let row = index.lines().find(|l| l.contains("subject UNSC1")).unwrap();
    assert!(row.contains("not checked for spam or viruses"), "{row}");
    assert!(
        !index
            .lines()
            .any(|l| l.contains("subject HAM1") && l.contains("not checked"))
    );
    let page = String::from_utf8(read(&format!("html/{}.html", msgs[3].0.stem))).unwrap();
    assert!(page.contains("could not be checked for spam and viruses"));
}

#[test]
fn zip_readme_counts_junk_and_names_the_withheld() {
    let t = tempfile::tempdir().unwrap();
    let v = Verdict::decide(None, Some(virus()), vec![]);
    let (mut s, _) = message(t.path(), "EVIL2", 1_800_000_000, Some(v));
    s.exported.subject = Some("invoice\n\u{202E}fdp.exe".into());
    let counts = zip::Counts {
        inbox: 2,
        junk: 1,
        junk_folder: true,
    };
    let r = zip::readme(DIR, &counts, Formats::default_zip(), false, &[s]);
    assert!(r.contains("This archive holds 3 message(s)"), "{r}");
    assert!(r.contains("Junk/       - 1 message(s) the spam filter judged to be spam"));
    assert!(r.contains("WITHHELD: 1 message(s) to you are not in this archive"));
    assert!(r.contains("virus Eicar-Test-Signature"));
    assert!(r.contains("Subject: invoice [U+202E]fdp.exe"), "{r}");
    assert!(!r.contains("MARK-EVIL2"));
    for l in r.lines() {
        assert!(l.chars().count() <= 78 || l.contains("Subject:"), "{l}");
    }
}
