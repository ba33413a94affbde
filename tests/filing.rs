//! Filing by verdict (issue 20), end to end: a real Postfix secondary's spool of test
//! mail (tests/harness/filters.rs: GTUBE spam, EICAR attached, zipped, forwarded and in
//! spam, harmless zips and forwarded mail, ham, the null sender), a private rspamd and
//! clamd, `export --spam-filter --virus-scan` with every format and zips. Checked with
//! real readers: every spam message in Junk everywhere (Maildir `.Junk`, `junk.mbox`
//! through Python's `mailbox`, `Junk/` in the unzipped zip, the spam section of
//! `index.html` as headless Chromium shows it) and nowhere in the inbox; every malware
//! message in no file of any bundle or zip (every byte searched for its markers) with
//! the withheld notice in `index.html` and the zip README; every ham message in the
//! inbox; `verify` passes; `--spam-action keep` and `withhold`; `--update` keeps the
//! filing and refuses another spam action.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mxsalvage::manifest::{Manifest, ManifestRecipient};

use crate::harness::filters::{self, Daemon, TestMail, eicar};
use crate::harness::{
    Postfix, assert_contains_all, assert_stderr_contains, files_under, manifest, mx, python_lines,
    s, tool,
};

/// The cases by what the filters make of them.
const SPAM: &[&str] = &["gtube"];
const MALWARE: &[&str] = &[
    "eicar-attached",
    "eicar-zip",
    "eicar-forwarded",
    "eicar-spam",
];
const HAM: &[&str] = &["ham", "harmless-zip", "harmless-forwarded", "null-sender"];

/// The filters and a stopped secondary whose queue holds the test mail: every case for
/// user@example.com (the 12 MB one left out: it is the scanning tests' case), GTUBE and
/// ham for bob@example.com, and only EICAR for only-malware@example.com.
struct Setup {
    rspamd: Daemon,
    clamd: Daemon,
    sec: Postfix,
    /// The test's own scratch directory ([`Setup::path`]).
    dir: tempfile::TempDir,
}

fn setup() -> Option<Setup> {
    if !filters::filters_available() || !tool("python3") || !tool("unzip") {
        return None;
    }
    let mut mails: Vec<TestMail> = filters::filter_mails();
    mails.retain(|m| m.name != "big");
    let again = |name: &'static str, rcpt: &'static str, all: &[TestMail]| {
        let m = all.iter().find(|m| m.name == name).unwrap();
        TestMail {
            name,
            sender: m.sender,
            rcpt,
            content: m.content.clone(),
        }
    };
    let extra = vec![
        again("gtube", "bob@example.com", &mails),
        again("ham", "bob@example.com", &mails),
        again("eicar-attached", "only-malware@example.com", &mails),
    ];
    mails.extend(extra);
    let sec = filters::filter_spool(&mails);
    Some(Setup {
        rspamd: filters::rspamd(),
        clamd: filters::clamd(false, None),
        sec,
        dir: tempfile::tempdir().unwrap(),
    })
}

impl Setup {
    /// `export` of the secondary's queue into `out` with both filters and `extra`.
    fn export(&self, out: &Path, extra: &[&str]) -> std::process::Output {
        let (spool, etc) = filters::spool_dirs(&self.sec);
        mx([
            "export",
            "--quiet",
            "--zip",
            "--format",
            "all",
            "--zip-formats",
            "all",
        ])
        .queue_dir(&spool)
        .config_dir(&etc)
        .out(out)
        .args([
            "--spam-filter",
            &self.rspamd.url,
            "--virus-scan",
            &self.clamd.url,
        ])
        .args(extra)
        .output()
    }
}

impl Setup {
    /// `NAME` in the test's scratch directory (not created).
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// [`Setup::export`], asserted to succeed, and the export's manifest.
    fn exported(&self, out: &Path, extra: &[&str]) -> Manifest {
        let o = self.export(out, extra);
        assert!(o.status.success(), "{o:?}");
        manifest(out)
    }
}

/// user@example.com's entry and bundle directory.
fn user<'a>(out: &Path, m: &'a Manifest) -> (&'a ManifestRecipient, PathBuf) {
    let r = crate::harness::bundle_of(m, "user@example.com");
    (r, out.join("recipients").join(&r.dir))
}

/// The case a message of the manifest is (its subject is `filters NAME`).
fn case_of(m: &Manifest, id: &str) -> String {
    let msg = m.messages.iter().find(|x| x.info.queue_id == id).unwrap();
    let subject = msg.exported.subject.as_deref().unwrap_or("");
    subject
        .strip_prefix("filters ")
        .unwrap_or(subject)
        .to_string()
}

fn cases(m: &Manifest, ids: &[String]) -> BTreeSet<String> {
    ids.iter().map(|id| case_of(m, id)).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The subjects of an mbox, read by Python's `mailbox`.
fn mbox_cases(path: &Path) -> BTreeSet<String> {
    let script = "import mailbox, sys\nfor m in mailbox.mbox(sys.argv[1], create=False):\n    print(m['Subject'])\n";
    python_lines(script, path)
        .iter()
        .map(|l| l.strip_prefix("filters ").unwrap_or(l).to_string())
        .collect()
}

/// The cases of the messages in a Maildir's `new/`.
fn maildir_cases(new: &Path) -> BTreeSet<String> {
    let mut v = BTreeSet::new();
    for p in files_under(new) {
        let data = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&data);
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: filters "))
            .unwrap_or_else(|| panic!("{}: no subject", p.display()));
        v.insert(subject.to_string());
    }
    v
}

/// Every file of bundle `r` on disk and in its zip (unzipped into `scratch`).
fn bundle_files(out: &Path, r: &ManifestRecipient, scratch: &Path) -> Vec<PathBuf> {
    let mut v = files_under(&out.join("recipients").join(&r.dir));
    let z = out.join(r.zip.as_ref().expect("a zip"));
    let into = scratch.join(&r.dir);
    let o = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&z)
        .arg("-d")
        .arg(&into)
        .output()
        .unwrap();
    assert!(o.status.success(), "unzip {}: {o:?}", z.display());
    v.extend(files_under(&into));
    v
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No file of any bundle or zip holds a withheld message: not its EICAR (raw or in
/// base64), not its Message-ID, not a file named after it; its subject only in the
/// notices (`index.html`, `README.txt`).
fn assert_withheld_nowhere(out: &Path, m: &Manifest, withheld: &BTreeSet<String>) {
    let scratch = tempfile::tempdir().unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(eicar());
    let ids: Vec<&str> = m
        .messages
        .iter()
        .filter(|x| withheld.contains(&case_of(m, &x.info.queue_id)))
        .map(|x| x.info.queue_id.as_str())
        .collect();
    assert!(!ids.is_empty());
    for r in &m.recipients {
        for p in bundle_files(out, r, scratch.path()) {
            let data = std::fs::read(&p).unwrap();
            let name = p.display().to_string();
            assert!(!contains(&data, &eicar()), "{name} holds EICAR");
            assert!(
                !contains(&data, &b64.as_bytes()[..40]),
                "{name} holds EICAR in base64"
            );
            for case in withheld {
                let mid = format!("<{case}@filters.example.org>");
                assert!(!contains(&data, mid.as_bytes()), "{name} holds {case}");
                let subject = format!("filters {case}");
                let notice = name.ends_with("index.html") || name.ends_with("README.txt");
                assert!(
                    notice || !contains(&data, subject.as_bytes()),
                    "{name}: {case}"
                );
            }
            for id in &ids {
                assert!(!name.contains(id), "{name} is named after withheld {id}");
            }
        }
    }
}

/// Headless Chromium's view of an index page (tests/viewer_cdp.py).
fn page_text(index: &Path) -> String {
    let shots = tempfile::tempdir().unwrap();
    let o = Command::new("python3")
        .arg(crate::util::root().join("tests/viewer_cdp.py"))
        .arg(shots.path().join("shots"))
        .arg(format!("file://{}", index.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["pages"][0]["dom"]["text"].as_str().unwrap().to_string()
}

/// user@example.com's bundle with `--spam-action junk`: spam in Junk in every format,
/// ham in the inbox, malware withheld with a notice.
fn check_junk_bundle(out: &Path, m: &Manifest, r: &ManifestRecipient) {
    let b = out.join("recipients").join(&r.dir);
    assert_eq!(cases(m, &r.junk), set(SPAM));
    assert_eq!(cases(m, &r.withheld), set(MALWARE));
    let ham = set(HAM);
    assert_eq!(mbox_cases(&b.join("mail.mbox")), ham);
    assert_eq!(mbox_cases(&b.join("junk.mbox")), set(SPAM));
    assert_eq!(maildir_cases(&b.join("Maildir/new")), ham);
    assert_eq!(maildir_cases(&b.join("Maildir/.Junk/new")), set(SPAM));
    for d in ["tmp", "cur"] {
        assert!(b.join("Maildir/.Junk").join(d).is_dir());
    }
    assert_eq!(files_under(&b.join("Junk/eml")).len(), 1);
    assert_eq!(files_under(&b.join("eml")).len(), ham.len());
    // The zip: Junk/ holds the spam, the inbox's folders do not.
    let scratch = tempfile::tempdir().unwrap();
    let files = bundle_files(out, r, scratch.path());
    let zipped = |sub: &str| -> Vec<&PathBuf> {
        let root = scratch.path().join(&r.dir).join(&r.dir).join(sub);
        files.iter().filter(|p| p.starts_with(&root)).collect()
    };
    let gtube_in = |ps: Vec<&PathBuf>| {
        ps.iter()
            .any(|p| contains(&std::fs::read(p).unwrap(), b"<gtube@filters.example.org>"))
    };
    assert!(gtube_in(zipped("Junk/eml")), "zip Junk/eml");
    assert!(gtube_in(zipped("Maildir/.Junk/new")), "zip Maildir/.Junk");
    assert!(!gtube_in(zipped("eml")) && !gtube_in(zipped("Maildir/new")));
    let readme =
        std::fs::read_to_string(scratch.path().join(&r.dir).join(&r.dir).join("README.txt"))
            .unwrap();
    assert_contains_all(
        "README.txt",
        &readme,
        &[
            "WITHHELD: 4 message(s) to you are not in this archive",
            "virus Eicar-Test-Signature",
            "Subject: filters eicar-zip",
            "Junk/       - 1 message(s)",
        ],
    );
    // index.html as a person sees it: the withheld notice, the inbox, then Spam.
    let text = page_text(&b.join("index.html"));
    let (before, spam) = text.split_once("Spam: 1 message").expect("a spam section");
    assert!(spam.contains("filters gtube"), "{text}");
    assert!(!before.contains("filters gtube"), "{text}");
    for h in HAM {
        assert!(before.contains(&format!("filters {h}")), "{h}: {text}");
        assert!(!spam.contains(&format!("filters {h}")), "{h}: {text}");
    }
    assert!(before.contains("4 messages withheld"), "{text}");
    for case in MALWARE {
        assert!(
            before.contains(&format!("filters {case}")),
            "{case}: {text}"
        );
    }
}

#[test]
fn spam_in_junk_malware_withheld_ham_in_the_inbox() {
    let Some(st) = setup() else { return };
    let out = st.path("out");
    // First only user@example.com; then --update adds the others (new verdicts, the
    // earlier filing kept).
    let first = st.exported(&out, &["--recipient", "user@example.com"]);
    let before = user(&out, &first).0.clone();
    let o = st.export(&out, &["--update", "--spam-action", "withhold"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "another spam action is refused: {o:?}"
    );
    assert_stderr_contains(&o, "--update keeps it");
    let m = st.exported(&out, &["--update"]);
    assert_eq!(
        m.options.spam_action,
        mxsalvage::filter::verdict::SpamAction::Junk
    );
    let (r, _) = user(&out, &m);
    assert_eq!(
        (&r.junk, &r.withheld),
        (&before.junk, &before.withheld),
        "filing kept"
    );
    check_junk_bundle(&out, &m, r);
    let bob = crate::harness::bundle_of(&m, "bob@example.com");
    assert_eq!(cases(&m, &bob.junk), set(SPAM));
    // A bundle whose only mail was malware exists, with the notice and nothing else.
    let only = crate::harness::bundle_of(&m, "only-malware@example.com");
    assert_eq!(cases(&m, &only.withheld), set(&["eicar-attached"]));
    let ob = out.join("recipients").join(&only.dir);
    let index = std::fs::read_to_string(ob.join("index.html")).unwrap();
    assert!(index.contains("1 message withheld") && index.contains("Eicar-Test-Signature"));
    assert!(std::fs::read(ob.join("mail.mbox")).unwrap().is_empty());
    assert_eq!(files_under(&ob.join("Maildir/new")).len(), 0);
    assert_withheld_nowhere(&out, &m, &set(MALWARE));
    // Totals and the accounting: every pair is somewhere.
    assert_eq!((m.totals.spam, m.totals.malware), (2, 5));
    assert_eq!((m.totals.junk, m.totals.withheld), (2, 5));
    assert_eq!(m.totals.pairs, 9 + 3);
    mx(["verify"]).arg(s(&out)).ok();
    verify_checks_the_filing(&out, &m);
}

/// `verify` reports a filing its manifest does not account for: a Junk message the
/// manifest lists in the inbox, and a withheld message's file in a bundle.
fn verify_checks_the_filing(out: &Path, m: &Manifest) {
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("copy");
    crate::harness::copy_tree(out, &copy, false);
    let mut edited = m.clone();
    let r = edited
        .recipients
        .iter_mut()
        .find(|r| r.address.0 == b"user@example.com")
        .unwrap();
    let spam = r.junk.remove(0);
    let evil = m
        .messages
        .iter()
        .find(|x| r.withheld.contains(&x.info.queue_id))
        .unwrap();
    let stem = mxsalvage::decode::names::stem(evil.info.arrival_unix, &evil.info.queue_id);
    let planted = format!("recipients/{}/eml/{stem}.eml", r.dir);
    std::fs::copy(copy.join(&evil.exported.store), copy.join(&planted)).unwrap();
    let (sha, size) = mxsalvage::export::write::sha256_stream(
        &mut std::fs::File::open(copy.join(&planted)).unwrap(),
    )
    .unwrap();
    r.files.push(mxsalvage::manifest::FileEntry {
        path: planted.clone(),
        sha256: sha,
        size,
    });
    let json = serde_json::to_vec_pretty(&edited).unwrap();
    std::fs::write(copy.join("manifest.json"), json).unwrap();
    let o = mx(["verify"]).arg(s(&copy)).code(1);
    let said = format!(
        "{}{}",
        crate::harness::stdout(&o),
        crate::harness::stderr(&o)
    );
    assert_contains_all(
        "verify",
        &said,
        &[
            &format!("files {spam} as Inbox"),
            "totals.junk is 2 but 1 are listed",
            &format!("holds withheld message {}", evil.info.queue_id),
        ],
    );
}

#[test]
fn spam_action_keep_and_withhold() {
    let Some(st) = setup() else { return };
    // keep: spam in the inbox like ham; malware still withheld; no Junk at all.
    let keep = st.path("keep");
    let m = st.exported(&keep, &["--spam-action", "keep"]);
    let (r, b) = user(&keep, &m);
    assert!(r.junk.is_empty());
    let mut inbox = set(HAM);
    inbox.extend(set(SPAM));
    assert_eq!(mbox_cases(&b.join("mail.mbox")), inbox);
    assert_eq!(maildir_cases(&b.join("Maildir/new")), inbox);
    assert!(!b.join("junk.mbox").exists() && !b.join("Maildir/.Junk").exists());
    assert_withheld_nowhere(&keep, &m, &set(MALWARE));
    mx(["verify"]).arg(s(&keep)).ok();
    // withhold: spam withheld like malware, named as spam in the notice.
    let held = st.path("withhold");
    let m = st.exported(&held, &["--spam-action", "withhold"]);
    let (r, b) = user(&held, &m);
    let mut gone = set(MALWARE);
    gone.extend(set(SPAM));
    assert_eq!(cases(&m, &r.withheld), gone);
    assert_eq!(mbox_cases(&b.join("mail.mbox")), set(HAM));
    assert_withheld_nowhere(&held, &m, &gone);
    let index = std::fs::read_to_string(b.join("index.html")).unwrap();
    assert!(index.contains("5 messages withheld"), "{index}");
    assert!(index.contains("spam (rspamd: reject)"), "{index}");
    mx(["verify"]).arg(s(&held)).ok();
}

/// `mxsalvage dovecot` over a filtered export: each user sees Junk (the Maildir++
/// `.Junk`, marked `\Junk` in the configuration) with the spam, the inbox without it.
#[test]
fn dovecot_shows_the_junk_folder() {
    if !crate::dovecot::available() {
        return;
    }
    let Some(st) = setup() else { return };
    crate::dovecot::ensure_account("mxsalvage");
    let dir = st.dir.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = dir.join("out");
    let pw = dir.join("passwords");
    let lines = "user@example.com pw-user-1\nbob@example.com pw-bob-1\nonly-malware@example.com pw-only-1\n";
    crate::harness::write_mode(&pw, lines, 0o600);
    st.exported(
        &out,
        &["--zip-password-file", s(&pw), "--reader", "mxsalvage"],
    );
    let conf = dir.join("imap");
    let port = crate::harness::free_port();
    let listen = format!("127.0.0.1:{port}");
    mx(["dovecot", "--from", s(&out), "--zip-password-file", s(&pw)])
        .args(["--listen", &listen, "--out", s(&conf)])
        .ok();
    let text = std::fs::read_to_string(conf.join("dovecot.conf")).unwrap();
    assert!(
        text.contains("mailbox Junk {\n    special_use = \\Junk\n  }"),
        "{text}"
    );
    let _running = crate::dovecot::Running::start(&conf.join("dovecot.conf"), Some(port));
    let doveadm = |args: &[&str]| {
        let o = Command::new("doveadm")
            .arg("-c")
            .arg(conf.join("dovecot.conf"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "doveadm {args:?}: {o:?}");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let list = doveadm(&["mailbox", "list", "-u", "user@example.com"]);
    assert_eq!(
        list.lines().collect::<BTreeSet<_>>(),
        BTreeSet::from(["INBOX", "Junk"])
    );
    let count = |mailbox: &str| -> usize {
        let user = "user@example.com";
        let o = doveadm(&[
            "-f", "flow", "mailbox", "status", "-u", user, "messages", mailbox,
        ]);
        let n = o.rsplit("messages=").next().unwrap();
        n.trim().parse().unwrap_or_else(|_| panic!("{o}"))
    };
    assert_eq!(count("Junk"), SPAM.len());
    assert_eq!(count("INBOX"), HAM.len());
    let junk = doveadm(&[
        "fetch",
        "-u",
        "user@example.com",
        "hdr.subject",
        "mailbox",
        "Junk",
        "all",
    ]);
    assert!(junk.contains("filters gtube"), "{junk}");
    mx(["verify", "--zip-password-file", s(&pw)])
        .arg(s(&out))
        .ok();
}

/// A filter that fails for some messages (clamd's stream limit set below their size):
/// each one is filed in the inbox (or Junk, when spam) with a visible marker in
/// `index.html`, its bytes unchanged (`verify`), and the run exits 1.
#[test]
fn unscanned_mail_is_filed_marked_and_unchanged() {
    let Some(st) = setup() else { return };
    let small = filters::clamd(false, Some("1K"));
    let out = st.path("out");
    let (spool, etc) = filters::spool_dirs(&st.sec);
    let o = mx(["export", "--quiet", "--recipient", "user@example.com"])
        .queue_dir(&spool)
        .config_dir(&etc)
        .out(&out)
        .args(["--spam-filter", &st.rspamd.url, "--virus-scan", &small.url])
        .output();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let m = manifest(&out);
    let (r, b) = user(&out, &m);
    let index = std::fs::read_to_string(b.join("index.html")).unwrap();
    let unscanned: Vec<&str> = m
        .messages
        .iter()
        .filter(|x| x.verdict.as_ref().is_some_and(|v| v.marked_unscanned()))
        .map(|x| x.info.queue_id.as_str())
        .collect();
    assert!(!unscanned.is_empty(), "no message was unscanned");
    assert_eq!(m.totals.unscanned, unscanned.len());
    for id in &unscanned {
        let case = case_of(&m, id);
        assert!(!r.withheld.contains(&id.to_string()), "{case} withheld");
        let row = index
            .lines()
            .find(|l| l.contains(&format!(">filters {case}</a>")))
            .unwrap_or_else(|| panic!("{case} not listed: {index}"));
        assert!(row.contains("not checked for spam or viruses"), "{row}");
    }
    mx(["verify"]).arg(s(&out)).ok();
}
