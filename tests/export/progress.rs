//! Progress inside one mailbox (issue 11, item 4): "writing mailboxes" counts the bytes
//! of mail each mailbox's mbox and zip have handled, so a mailbox holding half of the
//! queue moves the bar message by message instead of in one step at its end; and the
//! count ends exactly at the total announced, for every format inside and outside zips.

use std::path::Path;
use std::sync::Mutex;

use mxsalvage::export::{self, Config, Filters, Formats, Mode, Progress};
use mxsalvage::manifest::{Options, Source};
use mxsalvage::queue::Spool;
use mxsalvage::queue::config::PostfixConfig;
use mxsalvage::queue::walk::MESSAGE_QUEUES;
use mxsalvage::report::select::Selection;

use super::*;

/// One phase as a display is told it: name, total, counted in bytes, position reached,
/// number of updates.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    name: String,
    total: u64,
    bytes: bool,
    pos: u64,
    updates: u64,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

impl Recorder {
    fn start(&self, name: &str, total: u64, bytes: bool) {
        self.0.lock().unwrap().push(Seen {
            name: name.into(),
            total,
            bytes,
            pos: 0,
            updates: 0,
        });
    }
    fn phase_named(&self, name: &str) -> Seen {
        let v = self.0.lock().unwrap();
        let found: Vec<&Seen> = v.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "one {name:?} phase: {v:?}");
        found[0].clone()
    }
}

impl Progress for Recorder {
    fn phase(&self, name: &str, total: u64) {
        self.start(name, total, false);
    }
    fn phase_bytes(&self, name: &str, total: u64) {
        self.start(name, total, true);
    }
    fn advance(&self, n: u64) {
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            last.pos += n;
            last.updates += 1;
        }
    }
}

/// Exports `spool` into `out` through the library with `rec` as the display.
fn export_with(spool: &Path, out: &Path, formats: &[&str], zip_formats: &[&str], rec: &Recorder) {
    // The samples' main.cf (myorigin for the maildrop message); the defaults elsewhere.
    let conf = PostfixConfig::load(&spool.with_file_name("config")).unwrap();
    let spool = Spool::open(
        spool,
        conf,
        MESSAGE_QUEUES.iter().map(|s| s.to_string()).collect(),
    );
    let sel = Selection::new(&[], &[], &[], false).unwrap();
    let zip = !zip_formats.is_empty();
    let cfg = Config {
        out: out.to_path_buf(),
        formats: Formats::parse(formats).unwrap(),
        zip,
        zip_formats: match zip {
            true => Formats::parse(zip_formats).unwrap(),
            false => Formats::default_zip(),
        },
        passwords: None,
        filters: Filters::default(),
        mode: Mode::New,
        reader: None,
        generate_passwords: None,
        space_check: false,
        dry_run: false,
        spam_action: None,
        scan: None,
        options: Options {
            formats: formats.iter().map(|s| s.to_string()).collect(),
            zip,
            zip_formats: zip_formats.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        },
        source: Source {
            queue_directory: spool.root.display().to_string(),
            host: "backup-mx.example.com".into(),
            maximal_queue_lifetime: 432_000,
            bounce_queue_lifetime: 432_000,
            postfix_running: Some(false),
            myhostname: spool.cfg.cleanup.myhostname.clone(),
            myorigin: spool.cfg.cleanup.myorigin.clone(),
            spools: vec![],
        },
    };
    let report = export::run(&spool, &sel, &cfg, rec).unwrap();
    assert!(report.complete, "{:?}", report.errors);
}

/// Bytes of mail over all mailboxes (each mailbox's messages, as the manifest lists them).
fn mailbox_bytes(out: &Path) -> (u64, u64) {
    let m = manifest(out);
    let all = m.recipients.iter().map(|r| r.bytes).sum();
    let biggest = m.recipients.iter().map(|r| r.messages.len()).max().unwrap();
    (all, biggest as u64)
}

#[test]
fn a_big_mailbox_moves_the_bar_by_bytes_in_its_mbox_and_its_zip() {
    let (d, spool, _) = scratch();
    skewed_spool(&spool, 140);
    let out = d.path().join("out");
    let rec = Recorder::default();
    export_with(&spool, &out, &["mbox", "eml"], &["html", "eml"], &rec);
    let (bytes, biggest) = mailbox_bytes(&out);
    let seen = rec.phase_named("writing mailboxes");
    // Each mailbox's mail is handled twice: streamed into its mail.mbox and rendered
    // into its zip (the zip's index.html and the tree's eml files read no message).
    assert!(seen.bytes, "{seen:?}");
    assert_eq!(seen.total, 2 * bytes, "{seen:?}");
    assert_eq!(seen.pos, seen.total, "{seen:?}");
    // Inside the big mailbox the bar moves at least once per message, twice over.
    assert!(seen.updates >= 2 * biggest, "{seen:?}, {biggest} messages");
}

#[test]
fn the_byte_count_ends_at_its_total_for_every_format_in_and_out_of_zips() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let rec = Recorder::default();
    export_with(&sample_spool(), &out, &["all"], &["all"], &rec);
    let (bytes, _) = mailbox_bytes(&out);
    let seen = rec.phase_named("writing mailboxes");
    // The tree's mail.mbox, the zip's messages, the zip's mail.mbox.
    assert!(seen.bytes, "{seen:?}");
    assert_eq!(seen.total, 3 * bytes, "{seen:?}");
    assert_eq!(seen.pos, seen.total, "{seen:?}");
    // The other phases count steps (messages), not bytes.
    let msgs = rec.phase_named("writing messages");
    assert!(!msgs.bytes && msgs.pos == msgs.total, "{msgs:?}");
}
