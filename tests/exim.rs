//! Exim 4 spools (issue 21), made by a real private Exim 4.96 (`harness::exim`): flat
//! and split, byte-exact SMTP injection, frozen (`-Mf`), one recipient marked delivered
//! (`-Mmd`), a delivery attempt that deferred, a delivery killed after writing its `-J`
//! journal, rewritten and removed headers (`*`), DSN parameters, SMTPUTF8, a NUL byte,
//! a 2 MB message, a line over 998 characters in a message never tried. `cat` is
//! compared with `exim -Mvc` for every message and `scan`'s pending recipients with
//! `exim -bp`; `export` writes `-bp`'s pending pairs with `-Mvc`'s bytes and `reinject`
//! delivers them into a real Postfix primary exactly once; a Postfix and an Exim spool
//! read together; the committed sample (samples/exim-spool) against Exim's recorded
//! views; 4.97's longer IDs; hand-damaged copies give one clear error each.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::exim::{Exim, exim_available};
use std::os::unix::fs::PermissionsExt;

use crate::harness::{
    Postfix, assert_stderr_contains, copy_tree, manifest, manifest_json, mx, mx_as_nobody,
    pending_pairs, postfix_available, s, scan_report, stderr,
};
use crate::reinject::{arrivals, expected_pairs, reinject};

/// What was injected: name → queue ID.
type Sent = BTreeMap<&'static str, String>;

/// Injects the test messages and applies Exim's own operations to some of them.
fn fill(ex: &Exim) -> Sent {
    fill_with(ex, true)
}

/// [`fill`], with the 2 MB message only when `big`.
fn fill_with(ex: &Exim, big: bool) -> Sent {
    let mut sent = Sent::new();
    let mut put = |name, mail: &str, rcpts: &[&str], data: &[u8]| {
        sent.insert(name, ex.send(mail, rcpts, data));
    };
    put(
        "plain",
        "<sender@client.test>",
        &["<alice@example.org>", "<carol@example.org>"],
        b"From: s@client.test\nTo: alice@example.org\nSubject: plain\n\nbody\n.dot line\n..two dots\nend\n",
    );
    put(
        "dsn",
        "<dsn@client.test> RET=HDRS ENVID=env+2B123",
        &[
            "<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bx@x.test",
            "<Bob@example.org> NOTIFY=NEVER",
            "<carol@example.org> NOTIFY=FAILURE",
        ],
        b"Subject: dsn\n\nx\n",
    );
    put(
        "rewritten",
        "<r@old.example.org>",
        &["<dave@example.org>", "<dave@example.org>"],
        b"From: Someone <x@old.example.org>\nX-Strip-Me: yes\nX-Keep: folded\n continued\nSubject: rewritten\n\nbody\n",
    );
    put(
        "utf8",
        "<j\u{f6}rg@client.test> SMTPUTF8",
        &["<j\u{f6}rg@example.org>"],
        "Subject: Gr\u{fc}\u{df}e\nFrom: j\u{f6}rg@client.test\n\nk\u{e4}se\n".as_bytes(),
    );
    let mut large = b"Subject: big\n\n".to_vec();
    while big && large.len() < 2 * 1024 * 1024 {
        large.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
        );
    }
    if big {
        put("big", "<big@client.test>", &["<alice@example.org>"], &large);
    }
    let long = format!("Subject: long\n\n{}\nshort\n", "y".repeat(2000));
    put(
        "long",
        "<long@client.test>",
        &["<bob@example.org>"],
        long.as_bytes(),
    );
    put(
        "null",
        "<>",
        &["<carol@example.org>"],
        b"Subject: bounce\n\nx\n",
    );
    put(
        "nul",
        "<nul@client.test>",
        &["<alice@example.org>"],
        b"Subject: nul\n\nbefore\0after\nno final newline",
    );
    ex.run(&["-Mf", &sent["null"]]);
    ex.run(&["-Mmd", &sent["dsn"], "Bob@example.org"]);
    // One delivery attempt: the dead route defers it (the long line is never tried).
    ex.run(&["-M", &sent["plain"]]);
    sent
}

/// A private Exim (flat or split) filled by [`fill`]; `None` where Exim cannot run.
fn filled(split: bool) -> Option<(Exim, Sent)> {
    if !exim_available() {
        return None;
    }
    let ex = Exim::start(split);
    let sent = fill(&ex);
    Some((ex, sent))
}

/// A plain copy (`cp -r`) of the Exim's spool: the directory to keep, the spool in it.
fn spool_copy(ex: &Exim) -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    std::fs::set_permissions(copy.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    copy_tree(&ex.spool(), copy.path(), true);
    let spool = copy.path().join("spool");
    (copy, spool)
}

/// `cat -q ID` and `cat ID-H` print exactly `exim -Mvc ID`, for every message.
fn cat_matches_mvc(ex: &Exim, sent: &Sent) {
    let spool = ex.spool();
    for (name, id) in sent {
        let want = ex.mvc(id);
        let by_id = mx(["cat", "-q", id]).queue_dir(&spool).ok();
        assert!(
            by_id.stdout == want,
            "{name}: cat -q {id} differs from exim -Mvc"
        );
        let h = crate::harness::files_under(&spool)
            .into_iter()
            .find(|p| p.ends_with(format!("{id}-H")))
            .unwrap();
        let by_path = mx(["cat", s(&h)]).ok();
        assert!(
            by_path.stdout == want,
            "{name}: cat {} differs",
            h.display()
        );
    }
}

/// `scan --json`: every message with its sender, exactly `-bp`'s pending recipients,
/// frozen marked.
fn scan_matches_bp(ex: &Exim, sent: &Sent) {
    let o = mx(["scan", "--json"]).queue_dir(&ex.spool()).ok();
    let report = scan_report(&o);
    let bp = ex.bp();
    assert_eq!(report.messages.len(), sent.len());
    assert_eq!(bp.len(), sent.len());
    for m in &report.messages {
        let (sender, pending, frozen) = &bp[&m.queue_id];
        assert_eq!(&m.sender.display().to_string(), sender, "{}", m.queue_id);
        let ours: Vec<String> = m
            .pending()
            .map(|r| r.address.display().to_string())
            .collect();
        assert_eq!(&ours, pending, "{}", m.queue_id);
        assert_eq!(m.queue == "frozen", *frozen, "{}", m.queue_id);
        assert_eq!(m.expires_unix.is_none(), *frozen);
    }
}

fn check_spool(split: bool) {
    let Some((ex, sent)) = filled(split) else {
        return;
    };
    if split {
        let sub = ex.spool().join("input").join(&sent["plain"][5..6]);
        assert!(sub.join(format!("{}-H", sent["plain"])).is_file());
    }
    let input = crate::util::tree_fingerprint(&ex.spool().join("input"));
    cat_matches_mvc(&ex, &sent);
    scan_matches_bp(&ex, &sent);
    assert_eq!(
        input,
        crate::util::tree_fingerprint(&ex.spool().join("input"))
    );
    lost_modes_read_the_same(&ex);
}

/// A copy that lost its modes and owner (`cp -r`, then 0644 files readable by anyone,
/// read as `nobody`) gives the same scan; the copy is not written.
fn lost_modes_read_the_same(ex: &Exim) {
    let want = mx(["scan", "--json"]).queue_dir(&ex.spool()).ok();
    let (_keep, copy) = spool_copy(ex);
    let st = std::process::Command::new("chmod")
        .args(["-R", "u=rwX,go=rX"])
        .arg(&copy)
        .status();
    assert!(st.is_ok_and(|s| s.success()));
    let before = crate::util::tree_fingerprint(&copy);
    let got = mx_as_nobody(["scan", "--json"]).queue_dir(&copy).ok();
    assert_eq!(
        before,
        crate::util::tree_fingerprint(&copy),
        "the copy was written"
    );
    let (a, b) = (scan_report(&want), scan_report(&got));
    assert_eq!(a.messages, b.messages);
}

#[test]
fn flat_spool_cat_is_mvc_and_scan_is_bp() {
    check_spool(false);
}

#[test]
fn split_spool_cat_is_mvc_and_scan_is_bp() {
    check_spool(true);
}

/// The envelope details Exim keeps: DSN (NOTIFY, ORCPT, ENVID, RET), SMTPUTF8, the
/// deleted headers left out of the bytes.
#[test]
fn dsn_smtputf8_and_deleted_headers() {
    let Some((ex, sent)) = filled(false) else {
        return;
    };
    let report = scan_report(&mx(["scan", "--json"]).queue_dir(&ex.spool()).ok());
    let msg = |n: &str| {
        report
            .messages
            .iter()
            .find(|m| m.queue_id == sent[n])
            .unwrap()
    };
    let dsn = msg("dsn");
    assert_eq!(dsn.ret.as_deref(), Some("HDRS"));
    // Exim keeps ENVID and ORCPT xtext-encoded, as sent; the boundary holds them decoded.
    assert_eq!(
        dsn.envelope_id.as_ref().unwrap().display().to_string(),
        "env+123"
    );
    let notify: Vec<Option<&str>> = dsn.recipients.iter().map(|r| r.notify.as_deref()).collect();
    assert_eq!(
        notify,
        [Some("SUCCESS,DELAY"), Some("NEVER"), Some("FAILURE")]
    );
    let orcpt = dsn.recipients[0].orcpt.as_ref().unwrap();
    assert_eq!(orcpt.display().to_string(), "rfc822;orig+x@x.test");
    assert!(msg("utf8").smtputf8_requested);
    let h = std::fs::read(ex.spool().join(format!("input/{}-H", sent["rewritten"]))).unwrap();
    let hs = String::from_utf8_lossy(&h);
    assert!(hs.contains("* From: Someone <x@old.example.org>") && hs.contains("* X-Strip-Me"));
    let cat = mx(["cat", "-q", &sent["rewritten"]])
        .queue_dir(&ex.spool())
        .ok();
    let text = String::from_utf8_lossy(&cat.stdout);
    assert!(
        !text.contains("X-Strip-Me") && !text.contains("From: Someone <x@old"),
        "{text}"
    );
    assert!(text.contains("From: Someone <x@example.org>"), "{text}");
}

/// Hand-damaged copies: a truncated -H, a missing -D, a bad -aclm length each give one
/// error naming the file and what is wrong; the other messages are still read.
#[test]
fn damaged_copies_are_listed_with_path_and_reason() {
    let Some((ex, sent)) = filled(false) else {
        return;
    };
    let (_keep, copy) = spool_copy(&ex);
    let input = copy.join("input");
    let h = |n: &str| input.join(format!("{}-H", sent[n]));
    let data = std::fs::read(h("plain")).unwrap();
    std::fs::write(h("plain"), &data[..data.len() / 2]).unwrap();
    std::fs::remove_file(input.join(format!("{}-D", sent["big"]))).unwrap();
    let data = String::from_utf8(std::fs::read(h("long")).unwrap()).unwrap();
    std::fs::write(h("long"), data.replace("-aclm _note 14", "-aclm _note 40")).unwrap();
    let o = mx(["scan", "--json"]).queue_dir(&copy).code(1);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let reason = |n: &str| {
        errors
            .iter()
            .find(|e| e["queue_id"] == sent[n].as_str())
            .unwrap_or_else(|| panic!("{n} not listed: {errors:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("plain").contains("truncated"), "{}", reason("plain"));
    assert!(
        reason("big").contains("-D file is missing"),
        "{}",
        reason("big")
    );
    assert!(reason("long").contains("bad length"), "{}", reason("long"));
    assert_eq!(report["messages"].as_array().unwrap().len(), sent.len() - 3);
    let o = mx(["cat", "-q", &sent["big"]]).queue_dir(&copy).code(1);
    assert_stderr_contains(&o, "-D file is missing");
    check_unchanged(&copy);
}

/// Scanning the spool at `p` leaves it as it was.
fn check_unchanged(p: &Path) {
    let before = crate::util::tree_fingerprint(p);
    mx(["scan"]).queue_dir(p).output();
    assert_eq!(
        before,
        crate::util::tree_fingerprint(p),
        "the spool was written"
    );
}

/// A delivery killed after its local delivery leaves a `-J` journal: the address in it
/// counts as done, as `-bp` shows and as Exim's next delivery takes it (checked by
/// letting Exim run again).
#[test]
fn killed_delivery_journal_counts_as_done() {
    if !exim_available() {
        return;
    }
    let mut ex = Exim::start(false);
    let id = ex.send(
        "<j@client.test>",
        &[
            "<done@example.org>",
            "<hang@example.org>",
            "<alice@example.org>",
        ],
        b"Subject: journal\n\nx\n",
    );
    let Some(journal) = ex.killed_delivery(&id) else {
        panic!("the killed delivery left no -J journal");
    };
    assert_eq!(journal, ["done@example.org"]);
    let pending = |ex: &Exim| -> Vec<String> {
        let r = scan_report(&mx(["scan", "--json"]).queue_dir(&ex.spool()).ok());
        r.messages[0]
            .pending()
            .map(|r| r.address.display().to_string())
            .collect()
    };
    assert_eq!(pending(&ex), ["hang@example.org", "alice@example.org"]);
    // -bp reads the journal too: the journaled address is shown delivered.
    assert_eq!(ex.bp()[&id].1, ["hang@example.org", "alice@example.org"]);
    // Exim's own next delivery reads the journal: afterwards -bp agrees without it.
    ex.stop_hanging();
    ex.run(&["-M", &id]);
    assert_eq!(ex.bp()[&id].1, ["hang@example.org", "alice@example.org"]);
    assert_eq!(pending(&ex), ["hang@example.org", "alice@example.org"]);
    let mvc = ex.mvc(&id);
    assert!(mx(["cat", "-q", &id]).queue_dir(&ex.spool()).ok().stdout == mvc);
}

/// `export` of an Exim spool writes every pending pair (as `-bp` lists them), each
/// message's archive copy being `exim -Mvc`'s bytes; `reinject` from that export into a
/// real Postfix primary delivers every pair exactly once, and a rerun sends nothing.
#[test]
fn export_and_reinject_from_an_exim_spool() {
    let Some((ex, sent)) = filled(true) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("export");
    mx(["export", "--quiet", "--out", s(&export)])
        .queue_dir(&ex.spool())
        .ok();
    let m = manifest_json(&export);
    let mut want = std::collections::BTreeSet::new();
    for (id, (_, pending, _)) in ex.bp() {
        for a in pending {
            want.insert((id.clone(), a.to_lowercase()));
        }
    }
    assert_eq!(pending_pairs(&m), want);
    for id in sent.values() {
        let archive = std::fs::read(export.join(format!("messages/{id}.eml"))).unwrap();
        assert!(
            archive == ex.mvc(id),
            "{id}: the archive copy is not exim -Mvc's bytes"
        );
    }
    if !postfix_available() {
        return;
    }
    let primary = Postfix::primary();
    let pairs = expected_pairs(&manifest(&export));
    let (o, sum) = reinject(&export, &primary.to(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(sum.sent, pairs.len());
    primary.drain();
    let got = arrivals(&primary, &export);
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), pairs);
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    let (o, sum) = reinject(&export, &primary.to(), &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!((sum.sent, sum.already_sent), (0, pairs.len()));
}

/// Regenerates samples/exim-spool into `$MXSALVAGE_EXIM_SAMPLE` (run by
/// scripts/make-exim-sample; ignored otherwise): the messages of [`fill`] without the
/// 2 MB one, plus one left with a `-J` journal by a killed delivery; `input/` and
/// `msglog/` as Exim left them, and Exim's own views in `expected/` (`ID.mvc`, `bp.txt`).
#[test]
#[ignore]
fn make_sample() {
    let out = std::path::PathBuf::from(std::env::var_os("MXSALVAGE_EXIM_SAMPLE").unwrap());
    assert!(exim_available(), "making the sample needs the private Exim");
    let ex = Exim::start(false);
    let mut sent = fill_with(&ex, false);
    let id = ex.send(
        "<j@client.test>",
        &[
            "<done@example.org>",
            "<hang@example.org>",
            "<alice@example.org>",
        ],
        b"Subject: journal\n\ninterrupted delivery\n",
    );
    assert!(ex.killed_delivery(&id).is_some(), "no -J journal");
    sent.insert("journal", id);
    let spool = out.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    for d in ["input", "msglog"] {
        copy_tree(&ex.spool().join(d), &spool, true);
    }
    let expected = out.join("expected");
    std::fs::create_dir_all(&expected).unwrap();
    for id in sent.values() {
        std::fs::write(expected.join(format!("{id}.mvc")), ex.mvc(id)).unwrap();
    }
    std::fs::write(expected.join("bp.txt"), ex.run(&["-bp"]).stdout).unwrap();
}

/// samples/exim-spool (made by a real Exim: scripts/make-exim-sample) reads as Exim
/// itself showed it: `cat -q` is `-Mvc`'s bytes, scan's pending recipients are `-bp`'s.
#[test]
fn sample_spool_reads_as_exim_showed_it() {
    let root = crate::util::root().join("samples/exim-spool");
    let spool = root.join("spool");
    let bp = crate::harness::exim::parse_bp(
        &std::fs::read_to_string(root.join("expected/bp.txt")).unwrap(),
    );
    assert!(bp.len() >= 7, "{bp:?}");
    for id in bp.keys() {
        let want = std::fs::read(root.join(format!("expected/{id}.mvc"))).unwrap();
        let got = mx(["cat", "-q", id]).queue_dir(&spool).ok();
        assert!(got.stdout == want, "{id}: cat -q differs from exim -Mvc");
        let mut parts = mx(["cat", "-q", "-h", id]).queue_dir(&spool).ok().stdout;
        parts.push(b'\n');
        parts.extend(mx(["cat", "-q", "-b", id]).queue_dir(&spool).ok().stdout);
        assert!(
            parts == want,
            "{id}: cat -h, a blank line and cat -b are not -Mvc"
        );
    }
    let o = mx(["cat", "-q", "-e", "--states"]).arg(bp.keys().next().unwrap());
    let e = stderr(&o.queue_dir(&spool).code(2));
    assert!(
        e.contains("-e, --states show Postfix queue-file records"),
        "{e}"
    );
    let report = scan_report(&mx(["scan", "--json"]).queue_dir(&spool).ok());
    assert_eq!(report.messages.len(), bp.len());
    for m in &report.messages {
        let (sender, pending, frozen) = &bp[&m.queue_id];
        assert_eq!(&m.sender.display().to_string(), sender);
        let ours: Vec<String> = m
            .pending()
            .map(|r| r.address.display().to_string())
            .collect();
        assert_eq!(&ours, pending, "{}", m.queue_id);
        assert_eq!(m.queue == "frozen", *frozen);
        // The message log's deferral: for the message tried once, none for the others.
        let tried = sender == "sender@client.test";
        for r in m.pending() {
            let want = tried.then_some("Connection refused");
            assert_eq!(r.defer_reason.as_deref(), want, "{}", m.queue_id);
        }
    }
}

/// Exim 4.97 and later name messages with 23 characters (`tttttt-ppppppppppp-ffff`); a
/// copy of a sample message renamed to that form (file names and first lines — a
/// hand-made case, as no 4.97 is packaged for Debian 12) reads the same, flat and split.
#[test]
fn new_style_message_ids() {
    let root = crate::util::root().join("samples/exim-spool");
    let (old, new) = ("1xaa4v-00054a-1j", "1xaa4v-0000000054a-001j");
    let want = std::fs::read(root.join(format!("expected/{old}.mvc"))).unwrap();
    for split in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = if split {
            tmp.path().join("input/v")
        } else {
            tmp.path().join("input")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir(tmp.path().join("msglog")).unwrap();
        for kind in ["H", "D"] {
            let data = std::fs::read(root.join(format!("spool/input/{old}-{kind}"))).unwrap();
            let first = format!("{old}-{kind}\n");
            let rest = data.strip_prefix(first.as_bytes()).unwrap();
            let mut renamed = format!("{new}-{kind}\n").into_bytes();
            renamed.extend_from_slice(rest);
            std::fs::write(dir.join(format!("{new}-{kind}")), renamed).unwrap();
        }
        let got = mx(["cat", "-q", new]).queue_dir(tmp.path()).ok();
        assert!(got.stdout == want, "split {split}: cat -q {new} differs");
        let report = scan_report(&mx(["scan", "--json"]).queue_dir(tmp.path()).ok());
        assert_eq!(report.messages.len(), 1);
        assert_eq!(report.messages[0].queue_id, new);
    }
}

/// A Postfix spool and an Exim spool given together are one source: scan lists both
/// spools' messages, and export writes the Exim messages with `-Mvc`'s bytes, each
/// recorded with the spool it came from.
#[test]
fn postfix_and_exim_spools_together() {
    let root = crate::util::root();
    let (postfix, exim) = (root.join("samples/spool"), root.join("samples/exim-spool"));
    let only = scan_report(
        &mx(["scan", "--json"])
            .sample_config()
            .queue_dir(&postfix)
            .ok(),
    );
    let exim_spool = exim.join("spool");
    let two = ["--queue-dir", s(&postfix), "--queue-dir", s(&exim_spool)];
    let both = mx(["scan", "--json"]).sample_config().args(two).ok();
    let bp = crate::harness::exim::parse_bp(
        &std::fs::read_to_string(exim.join("expected/bp.txt")).unwrap(),
    );
    assert_eq!(
        scan_report(&both).messages.len(),
        only.messages.len() + bp.len()
    );
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("x");
    mx(["export", "--quiet", "--out", s(&export)])
        .sample_config()
        .args(two)
        .ok();
    let m = manifest_json(&export);
    for id in bp.keys() {
        let msg = m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["queue_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not exported"));
        assert!(msg["spool"].as_str().unwrap().ends_with("exim-spool/spool"));
        let want = std::fs::read(exim.join(format!("expected/{id}.mvc"))).unwrap();
        let got = std::fs::read(export.join(msg["store"].as_str().unwrap())).unwrap();
        assert!(
            got == want,
            "{id}: the archive copy is not exim -Mvc's bytes"
        );
    }
}

/// The sample's export verifies, and the re-injection keeps the original envelope Exim
/// received: RET, ENVID and ORCPT (xtext as sent), NOTIFY, SMTPUTF8, the null sender.
#[test]
fn sample_export_verifies_and_keeps_the_envelope() {
    let spool = crate::util::root().join("samples/exim-spool/spool");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("x");
    mx(["export", "--quiet", "--out", s(&export)])
        .queue_dir(&spool)
        .ok();
    mx(["verify", s(&export)]).ok();
    let o = mx([
        "reinject",
        "--dry-run",
        "--to",
        "127.0.0.1:1",
        "--from",
        s(&export),
    ])
    .ok();
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "MAIL FROM:<dsn@client.test> SIZE=221 RET=HDRS ENVID=env+2B123",
        "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bx@x.test",
        "RCPT TO:<carol@example.org> NOTIFY=FAILURE",
        "MAIL FROM:<j\u{f6}rg@client.test> SIZE=284 SMTPUTF8",
        "MAIL FROM:<> SIZE=212",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    // Bob@ was marked delivered (-Mmd), done@ is in the -J journal: neither is sent.
    assert!(!text.contains("<Bob@example.org>") && !text.contains("<done@example.org>"));
}

/// `--queue-dir` naming a directory inside an Exim spool (its `input/`) is refused with
/// the spool to give instead.
#[test]
fn queue_dir_inside_an_exim_spool_names_the_spool() {
    let spool = crate::util::root().join("samples/exim-spool/spool");
    let o = mx(["scan"]).queue_dir(&spool.join("input")).code(2);
    let want = format!(
        "is inside an Exim spool: use --queue-dir {}",
        spool.display()
    );
    assert_stderr_contains(&o, &want);
}

/// A message Exim stored in wire format (`spool_wireformat`, BDAT) is listed as not
/// read, with why, never exported as if its CRLF data were the message (a sample
/// message's `-H` given the option line by hand).
#[test]
fn wire_format_data_is_listed_not_misread() {
    let root = crate::util::root().join("samples/exim-spool/spool");
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&root, tmp.path(), true);
    let spool = tmp.path().join("spool");
    let id = "1xaa4v-00054a-1j";
    let h = spool.join(format!("input/{id}-H"));
    let data = String::from_utf8(std::fs::read(&h).unwrap()).unwrap();
    let marked = data.replacen(
        "-body_linecount",
        "-spool_file_wireformat\n-body_linecount",
        1,
    );
    std::fs::write(&h, marked).unwrap();
    let o = mx(["scan", "--json"]).queue_dir(&spool).code(1);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &report["errors"][0];
    assert_eq!(e["queue_id"], id);
    assert!(e["reason"].as_str().unwrap().contains("wire format"), "{e}");
}
