//! `verify`: re-read an export and check it against its manifest.
//!
//! Owns: the checks — every archive copy and every listed file exists with its size and
//! sha256; the totals agree with the lists; every mbox, read back independently (split
//! at `From ` lines, one `>` of mboxrd quoting removed), holds exactly the listed
//! messages, each equal to the delivery headers plus the archive copy; every Maildir's
//! `new/` likewise; every zip entry is the one the manifest lists (none missing, none
//! extra), reads back with a good CRC and the listed size and SHA-256 (decrypted, given
//! the password file), and in an encrypted export is encrypted (the README aside); no
//! file in the export is missing from the manifest. A manifest path that leads outside
//! the export is reported, never opened, and no symbolic link is followed. Filing:
//! every message of a bundle is in its inbox, its Junk (`junk.mbox`,
//! `Maildir/.Junk/new/`) or withheld, as its verdict and `--spam-action` say, and a
//! withheld message has no file in the bundle or its zip (by its file stem).
//! In: the export directory (and optional passwords). Out: [`VerifyReport`]
//! listing each mismatch with its path. Fails only when the manifest itself cannot be
//! read, or is the interim manifest of an export that never finished ([`unfinished`]):
//! [`VerifyError`]. Reads only; never writes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::decode::names::mailbox_key;
use crate::export::prepend;
use crate::export::sink::Check;
pub use crate::export::sink::{Mismatch, VerifyReport};
use crate::export::sinks::SINKS;
use crate::export::write::{open_read, sha256_stream};
use crate::export::zip::Secret;
use crate::filter::verdict::{Filing, SpamAction, Verdict, VerdictKind, filing_of};
use crate::manifest::{FileEntry, Manifest, ManifestMessage, ManifestRecipient, SCHEMA};

/// The manifest could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: cannot read the manifest: {1}")]
    Read(PathBuf, io::Error),
    #[error("{0}: not a valid manifest: {1}")]
    Parse(PathBuf, serde_json::Error),
    #[error("{0}: manifest schema {1} is not supported (this mxsalvage reads schema {SCHEMA})")]
    Schema(PathBuf, u32),
    /// The export run never finished: its interim manifest lists nothing it wrote
    /// (`complete` false with no error listed, or `stopped` recorded).
    #[error(
        "{0} is an export that did not finish ({1}): its manifest does not list what was written, so there is nothing to verify yet; run the same `mxsalvage export` command again with --update to finish it, then verify"
    )]
    Unfinished(PathBuf, String),
}

/// Files that belong to an export without being listed in its manifest.
const OWN_FILES: &[&str] = &["manifest.json", "reinject-journal.jsonl"];

fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    sha256_stream(&mut open_read(path)?)
}

fn check_file(rep: &mut VerifyReport, out: &Path, rel: &str, sha: &str, size: Option<u64>) {
    rep.files_checked += 1;
    match sha256_file(&out.join(rel)) {
        Ok((h, n)) => {
            if let Some(s) = size
                && s != n
            {
                rep.bad(rel, format!("size is {n} bytes, manifest says {s}"));
            } else if h != sha {
                rep.bad(rel, "content changed (sha256 differs from the manifest)");
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => rep.bad(rel, "missing"),
        Err(e) => rep.bad(rel, format!("cannot read: {e}")),
    }
}

/// Why the manifest is an interim one (a run that never finished), or `None` for a
/// finished export: a finished manifest is `complete`, or lists its errors.
pub fn unfinished(m: &Manifest) -> Option<String> {
    match (&m.stopped, m.complete, m.errors.is_empty()) {
        (Some(why), _, _) => Some(format!("stopped: {why}")),
        (None, false, true) => Some("interrupted or killed while it ran".into()),
        _ => None,
    }
}

/// Verifies the export in `out`. `passwords` (mailbox key → password) lets encrypted
/// zips be opened.
pub fn verify(
    out: &Path,
    passwords: Option<&BTreeMap<Vec<u8>, Secret>>,
) -> Result<VerifyReport, VerifyError> {
    verify_with(out, passwords, &crate::export::NoProgress)
}

/// [`verify`] with progress: one phase for the archive copies (a step per message),
/// one for the bundles (a step per mailbox).
pub fn verify_with(
    out: &Path,
    passwords: Option<&BTreeMap<Vec<u8>, Secret>>,
    progress: &dyn crate::export::Progress,
) -> Result<VerifyReport, VerifyError> {
    let m = read_manifest(out)?;
    let mut rep = VerifyReport {
        incomplete_export: !m.complete,
        ..Default::default()
    };
    if !m.complete {
        rep.notes
            .push("the manifest says the export run was not complete (see its errors)".into());
    }
    // A path outside the export is never opened: the rest is not checked.
    if let Err(e) = m.check_paths() {
        rep.bad("manifest.json", e);
        return Ok(rep);
    }
    let mut listed: BTreeSet<String> = OWN_FILES.iter().map(|s| s.to_string()).collect();
    check_totals(&m, &mut rep);

    // Archive copies.
    let by_id: HashMap<&str, &ManifestMessage> = m
        .messages
        .iter()
        .map(|x| (x.info.queue_id.as_str(), x))
        .collect();
    progress.phase("checking messages", m.messages.len() as u64);
    for msg in &m.messages {
        progress.tick();
        check_file(
            &mut rep,
            out,
            &msg.exported.store,
            &msg.exported.sha256,
            Some(msg.exported.bytes),
        );
        listed.insert(msg.exported.store.clone());
    }

    // Recipient bundles.
    let headers = Headers::default();
    progress.phase("checking mailboxes", m.recipients.len() as u64);
    for r in &m.recipients {
        progress.tick();
        let encrypted = m.options.encrypted;
        check_bundle_files(&mut rep, out, r, passwords, encrypted, &mut listed);
        check_filing(&mut rep, r, &by_id, m.options.spam_action);
        check_formats(&mut rep, out, r, &by_id, &headers);
    }

    // Anything on disk the manifest does not know.
    let mut on_disk = Vec::new();
    walk(out, out, &mut on_disk);
    for rel in on_disk {
        if !listed.contains(&rel) {
            rep.bad(rel, "not in the manifest (added after the export?)");
        }
    }
    rep.messages_checked = m.messages.len();
    Ok(rep)
}

/// Reads the manifest of the export in `out`; fails when it cannot be read or parsed,
/// is of another schema, or is an interim one ([`unfinished`]).
fn read_manifest(out: &Path) -> Result<Manifest, VerifyError> {
    let mpath = out.join("manifest.json");
    let text = std::fs::read(&mpath).map_err(|e| VerifyError::Read(mpath.clone(), e))?;
    let m: Manifest =
        serde_json::from_slice(&text).map_err(|e| VerifyError::Parse(mpath.clone(), e))?;
    if m.schema != SCHEMA {
        return Err(VerifyError::Schema(mpath, m.schema));
    }
    if let Some(why) = unfinished(&m) {
        return Err(VerifyError::Unfinished(out.to_path_buf(), why));
    }
    Ok(m)
}

/// Checks that the manifest's totals agree with its lists.
fn check_totals(m: &Manifest, rep: &mut VerifyReport) {
    let pairs: usize = m.recipients.iter().map(|r| r.messages.len()).sum();
    let junk: usize = m.recipients.iter().map(|r| r.junk.len()).sum();
    let withheld: usize = m.recipients.iter().map(|r| r.withheld.len()).sum();
    let count = |f: &dyn Fn(&Verdict) -> bool| {
        let is = |x: &&ManifestMessage| x.verdict.as_ref().is_some_and(f);
        m.messages.iter().filter(is).count()
    };
    for (what, said, found) in [
        ("messages", m.totals.messages, m.messages.len()),
        ("recipients", m.totals.recipients, m.recipients.len()),
        ("pairs", m.totals.pairs, pairs),
        ("errors", m.totals.errors, m.errors.len()),
        ("skipped", m.totals.skipped, m.skipped.len()),
        (
            "spam",
            m.totals.spam,
            count(&|v| v.verdict == VerdictKind::Spam),
        ),
        (
            "malware",
            m.totals.malware,
            count(&|v| v.verdict == VerdictKind::Malware),
        ),
        (
            "unscanned",
            m.totals.unscanned,
            count(&Verdict::marked_unscanned),
        ),
        ("junk", m.totals.junk, junk),
        ("withheld", m.totals.withheld, withheld),
    ] {
        if said != found {
            rep.bad(
                "manifest.json",
                format!("totals.{what} is {said} but {found} are listed"),
            );
        }
    }
}

/// Checks the files of recipient `r`'s bundle and its zip (opened with its password
/// from `passwords`, encrypted if the export is), adding their paths to `listed`.
fn check_bundle_files(
    rep: &mut VerifyReport,
    out: &Path,
    r: &ManifestRecipient,
    passwords: Option<&BTreeMap<Vec<u8>, Secret>>,
    encrypted: bool,
    listed: &mut BTreeSet<String>,
) {
    for f in &r.files {
        check_file(rep, out, &f.path, &f.sha256, Some(f.size));
        listed.insert(f.path.clone());
    }
    if let (Some(z), Some(sha)) = (&r.zip, &r.zip_sha256) {
        if !r.files.iter().any(|f| &f.path == z) {
            check_file(rep, out, z, sha, None);
            listed.insert(z.clone());
        }
        check_zip(
            rep,
            out,
            r,
            z,
            passwords.and_then(|p| p.get(&mailbox_key(&r.address.0))),
            encrypted,
        );
    }
}

/// Has each format of recipient `r`'s bundle read its own output back (mbox, Maildir:
/// every message equals the delivery headers plus the archive copy); reports listed
/// messages the manifest (`by_id`) does not have.
fn check_formats(
    rep: &mut VerifyReport,
    out: &Path,
    r: &ManifestRecipient,
    by_id: &HashMap<&str, &ManifestMessage>,
    headers: &Headers,
) {
    let filed: HashSet<&str> = r
        .junk
        .iter()
        .chain(&r.withheld)
        .map(|s| s.as_str())
        .collect();
    let junk: Vec<&ManifestMessage> = r
        .junk
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    let msgs: Vec<&ManifestMessage> = r
        .messages
        .iter()
        .filter(|id| !filed.contains(id.as_str()))
        .filter_map(|id| {
            let found = by_id.get(id.as_str()).copied();
            if found.is_none() {
                rep.bad(
                    format!("recipients/{}", r.dir),
                    format!("lists message {id}, which the manifest does not have"),
                );
            }
            found
        })
        .collect();
    let key = mailbox_key(&r.address.0);
    let prepend = |msg: &ManifestMessage| headers.get(msg, &key);
    for sink in SINKS {
        if let Some(location) = r.output(sink.name()) {
            let c = Check {
                out,
                recipient: r,
                location,
                messages: &msgs,
                junk: &junk,
                prepend: &prepend,
            };
            sink.verify(&c, rep);
        }
    }
}

/// Recipient `r`'s filing: `junk` and `withheld` name messages of the bundle, once
/// each and in one of them only; every message is where its verdict and the export's
/// spam action file it; a withheld message has no file in the bundle or its zip.
fn check_filing(
    rep: &mut VerifyReport,
    r: &ManifestRecipient,
    by_id: &HashMap<&str, &ManifestMessage>,
    action: SpamAction,
) {
    let at = format!("recipients/{}", r.dir);
    let listed: HashSet<&str> = r.messages.iter().map(|s| s.as_str()).collect();
    let mut recorded: HashMap<&str, Filing> = HashMap::new();
    for (ids, f) in [(&r.junk, Filing::Junk), (&r.withheld, Filing::Withheld)] {
        for id in ids {
            if !listed.contains(id.as_str()) {
                rep.bad(
                    &at,
                    format!("files {id} as {f:?} but does not list it in messages"),
                );
            } else if recorded.insert(id, f).is_some() {
                rep.bad(&at, format!("files {id} twice (junk, withheld)"));
            }
        }
    }
    for id in &r.messages {
        let Some(m) = by_id.get(id.as_str()) else {
            continue;
        };
        let got = recorded.get(id.as_str()).copied().unwrap_or(Filing::Inbox);
        let want = filing_of(m.verdict.as_ref(), action);
        if got != want {
            let a = action.name();
            rep.bad(
                &at,
                format!("files {id} as {got:?}; its verdict and --spam-action {a} say {want:?}"),
            );
        }
        if want == Filing::Withheld {
            withheld_absent(rep, r, m);
        }
    }
}

/// A withheld message has no file in the bundle or its zip (none named by its stem or,
/// for Maildir, its queue ID).
fn withheld_absent(rep: &mut VerifyReport, r: &ManifestRecipient, m: &ManifestMessage) {
    let id = &m.info.queue_id;
    let stem = crate::decode::names::stem(m.info.arrival_unix, id);
    let maildir = format!("Q{id}.");
    let mut paths = r
        .files
        .iter()
        .chain(&r.zip_entries)
        .map(|f| f.path.as_str());
    if let Some(p) = paths.find(|p| p.contains(&stem) || p.contains(&maildir)) {
        rep.bad(p, format!("holds withheld message {id}"));
    }
}

/// Delivery headers per message and mailbox, computed once per message (a message with
/// many recipients is in many bundles: one pass over its recipients, not one per bundle).
#[derive(Default)]
struct Headers {
    /// Queue ID → (mailbox key → headers).
    cache: RefCell<HashMap<String, ByMailbox>>,
}

type ByMailbox = HashMap<Vec<u8>, Vec<u8>>;

impl Headers {
    fn get(&self, msg: &ManifestMessage, key: &[u8]) -> Vec<u8> {
        let mut c = self.cache.borrow_mut();
        let map = c
            .entry(msg.info.queue_id.clone())
            .or_insert_with(|| prepend::by_mailbox(&msg.info));
        prepend::lookup(map, &msg.info, key)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(root, &p, out),
            Ok(_) => out.push(
                p.strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned(),
            ),
            Err(_) => {}
        }
    }
}

/// What a bundle's zip must hold: the manifest's `zip_entries`, or — for an export
/// made before zips were listed entry by entry — a copy of the bundle's files.
fn zip_expected(r: &ManifestRecipient, zip_rel: &str) -> (BTreeMap<String, FileEntry>, bool) {
    if !r.zip_entries.is_empty() {
        let m = r.zip_entries.iter().map(|e| (e.path.clone(), e.clone()));
        return (m.collect(), false);
    }
    let prefix = format!("recipients/{}/", r.dir);
    let m = r
        .files
        .iter()
        .filter(|f| f.path != zip_rel)
        .filter_map(|f| {
            let inner = f.path.strip_prefix(&prefix)?;
            let e = FileEntry {
                path: format!("{}/{inner}", r.dir),
                ..f.clone()
            };
            Some((e.path.clone(), e))
        });
    (m.collect(), true)
}

/// Every entry of a zip against the manifest: present, nothing extra, same size and
/// SHA-256 when decompressed (and decrypted, given the password), good CRC; in an
/// encrypted export, every entry but the README encrypted.
fn check_zip(
    rep: &mut VerifyReport,
    out: &Path,
    r: &ManifestRecipient,
    rel: &str,
    password: Option<&Secret>,
    encrypted_export: bool,
) {
    let f = match open_read(&out.join(rel)) {
        Ok(f) => f,
        Err(e) => return rep.bad(rel, format!("cannot open zip: {e}")),
    };
    let mut z = match zip::ZipArchive::new(BufReader::new(f)) {
        Ok(z) => z,
        Err(e) => return rep.bad(rel, format!("not a readable zip: {e}")),
    };
    let (mut expected, legacy) = zip_expected(r, rel);
    let readme = format!("{}/README.txt", r.dir);
    let mut skipped_encrypted = false;
    for i in 0..z.len() {
        let (name, is_dir, encrypted) = match z.by_index_raw(i) {
            Ok(e) => (
                String::from_utf8_lossy(e.name_raw()).into_owned(),
                e.is_dir(),
                e.encrypted(),
            ),
            Err(e) => return rep.bad(rel, format!("entry {i}: {e}")),
        };
        if is_dir {
            continue;
        }
        let want = expected.remove(&name);
        if want.is_none() && !(legacy && name == readme) {
            rep.bad(rel, format!("entry {name} is not in the manifest"));
            continue;
        }
        if encrypted_export && !encrypted && name != readme {
            rep.bad(rel, format!("entry {name} is not encrypted"));
        }
        let entry = if encrypted {
            match password {
                Some(p) => z.by_index_decrypt(i, p.0.as_bytes()),
                None => {
                    skipped_encrypted = true;
                    continue;
                }
            }
        } else {
            z.by_index(i)
        };
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                rep.bad(rel, format!("entry {name} does not open: {e}"));
                continue;
            }
        };
        rep.files_checked += 1;
        match sha256_stream(&mut entry) {
            Err(e) => rep.bad(rel, format!("entry {name} is damaged: {e}")),
            Ok((sha, size)) => {
                if let Some(w) = want {
                    if w.size != size {
                        rep.bad(
                            rel,
                            format!("entry {name} is {size} bytes, manifest says {}", w.size),
                        );
                    } else if w.sha256 != sha {
                        rep.bad(
                            rel,
                            format!("entry {name} changed (sha256 differs from the manifest)"),
                        );
                    }
                }
            }
        }
    }
    for name in expected.keys() {
        rep.bad(rel, format!("entry {name} is missing from the zip"));
    }
    if skipped_encrypted {
        rep.encrypted_unchecked += 1;
        rep.notes.push(format!(
            "{rel}: encrypted; give --zip-password-file to check its entries"
        ));
    }
}
