//! The export manifest (`OUT/manifest.json`), schema version [`SCHEMA`].
//!
//! Owns: the typed manifest — the run's source and options, one entry per exported
//! message (the `scan --json` message object plus the archive copy's path and hash and
//! decoded summary fields), one entry per recipient bundle (paths and hashes of every
//! file written for it), errors, skipped items and totals. `export` writes it,
//! `verify` and `reinject` read it back into the same types. Documented in
//! docs/manifest.md. Pure data; reading/writing is the caller's — but every path a
//! manifest names is checked here ([`inside`], [`Manifest::check_paths`]) before anyone
//! opens it: a manifest is input, and an edited one must not lead outside the export.

use std::collections::HashSet;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::report::model::MessageInfo;
pub use crate::report::scan::Problem;

pub const SCHEMA: u32 = 1;

/// One of several spools an export read (`--queue-dir` given more than once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolSource {
    /// The queue directory, absolute.
    pub queue_directory: String,
    /// Which MTA wrote it: what deletes its messages (`postsuper -d`, `exim -Mrm`).
    pub kind: crate::queue::SpoolKind,
}

/// A recipient's copy of a message left out because another spool's copy of the same
/// content reaches that recipient (several `--queue-dir`s; docs/manifest.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The recipient's mailbox (the address, case-folded).
    pub recipient: Bytes,
    /// The exported message that reaches it (`messages[].queue_id`).
    pub kept: String,
    /// The queue directory the kept copy came from.
    pub kept_spool: String,
    /// The copy left out: its queue directory and its queue ID there.
    pub spool: String,
    pub queue_id: String,
}

/// Exported messages that share a Message-ID but not their content: all kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearDuplicate {
    pub message_id: Bytes,
    /// `messages[].queue_id` of each, in order.
    pub messages: Vec<String>,
}

/// Where the mail came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub queue_directory: String,
    pub host: String,
    pub maximal_queue_lifetime: i64,
    pub bounce_queue_lifetime: i64,
    pub postfix_running: Option<bool>,
    /// The secondary's `myhostname` from its main.cf (Reporting-MTA of DSNs); `None`
    /// when the main.cf does not say.
    #[serde(default)]
    pub myhostname: Option<String>,
    /// The secondary's `myorigin` (the domain its cleanup gives unqualified addresses).
    #[serde(default)]
    pub myorigin: Option<String>,
    /// Every spool read, in the order given, when there were several (`queue_directory`
    /// and the settings above are the first one's); absent for one spool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spools: Vec<SpoolSource>,
}

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Options {
    /// Formats written as trees under `recipients/<dir>/`.
    pub formats: Vec<String>,
    pub zip: bool,
    /// Formats inside each zip (exports made before zips had their own formats: `[]`,
    /// meaning the same as `formats`).
    #[serde(default)]
    pub zip_formats: Vec<String>,
    pub encrypted: bool,
    pub include_done: bool,
    pub recipients: Vec<String>,
    pub domains: Vec<String>,
    pub queues: Vec<String>,
    pub ids: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub only_valid: bool,
    /// `--reader USER:GROUP`: GROUP may read the mailboxes (docs/export.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// `--spam-action`: where a message the spam filter calls spam goes (`junk`, the
    /// default and what exports made before filters mean; `keep`; `withhold`).
    #[serde(default)]
    pub spam_action: crate::filter::verdict::SpamAction,
    /// `--spam-filter URL` the messages were scanned with (an update keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam_filter: Option<String>,
    /// `--virus-scan URL` the messages were scanned with (an update keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virus_scan: Option<String>,
}

/// An attachment found while rendering the text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The safe file name used on disk.
    pub name: String,
    /// The name the sender gave, if any (hostile input, kept for reference only).
    pub original_name: Option<Bytes>,
    pub content_type: String,
    pub size: u64,
}

/// What the export adds to the `scan --json` object of a message: its archive copy and
/// what the message's headers and body showed. The sinks get it whole ([`Summary`] of
/// the export), without the message's recipients.
///
/// [`Summary`]: crate::export::sink::Summary
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    /// sha256 (hex) of the archive copy.
    pub sha256: String,
    /// Path of the archive copy relative to OUT: `messages/<queue-id>.eml`.
    pub store: String,
    /// Size of the archive copy in bytes.
    pub bytes: u64,
    /// Microseconds of the arrival time (Maildir file names).
    #[serde(default)]
    pub arrival_usec: i64,
    pub message_id: Option<Bytes>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub date: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// One exported message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestMessage {
    /// The `scan --json` message object. Its `recipients` are those selected for export.
    #[serde(flatten)]
    pub info: MessageInfo,
    /// What the export added: the archive copy and what its headers and body showed.
    #[serde(flatten)]
    pub exported: Exported,
    /// What the content filters said (`--spam-filter`, `--virus-scan`); absent when
    /// none was asked for. See [`crate::filter::verdict`]. Read also as a bare string
    /// (`"spam"`, any case: what a triage step outside mxsalvage may write, and what
    /// `reinject`'s DSN policy has always accepted).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "verdict_or_kind"
    )]
    pub verdict: Option<crate::filter::verdict::Verdict>,
}

/// `messages[].verdict`: the full object, a bare kind string, or null.
fn verdict_or_kind<'de, D>(d: D) -> Result<Option<crate::filter::verdict::Verdict>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use crate::filter::verdict::{Verdict, VerdictKind};
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Kind(String),
        Full(Verdict),
    }
    let kind = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "ham" => Some(VerdictKind::Ham),
        "spam" => Some(VerdictKind::Spam),
        "malware" => Some(VerdictKind::Malware),
        "unscanned" => Some(VerdictKind::Unscanned),
        _ => None,
    };
    match Option::<Either>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Full(v)) => Ok(Some(v)),
        Some(Either::Kind(s)) => match kind(&s) {
            Some(verdict) => Ok(Some(Verdict {
                verdict,
                spam: None,
                virus: None,
                unscanned: Vec::new(),
            })),
            None => Err(serde::de::Error::custom(format!(
                "unknown verdict {s:?} (ham, spam, malware or unscanned)"
            ))),
        },
    }
}

/// A file written for a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to OUT.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// One recipient bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecipient {
    pub address: Bytes,
    /// Directory name under `recipients/`.
    pub dir: String,
    /// Queue IDs of the messages in this bundle, oldest first.
    pub messages: Vec<String>,
    pub bytes: u64,
    /// Where each registered format is, relative to OUT (`null` when not written):
    /// `"mbox": "recipients/<dir>/mail.mbox"`, `"maildir"`, `"eml"`, `"text"`, … — one
    /// key per sink of the registry, in its order.
    #[serde(flatten)]
    pub outputs: Outputs,
    pub zip: Option<String>,
    pub zip_sha256: Option<String>,
    pub valid: Option<bool>,
    /// Every file written for this recipient (outside the zip), with its hash.
    pub files: Vec<FileEntry>,
    /// Every file inside the zip (path inside it, `<dir>/…`), in archive order.
    #[serde(default)]
    pub zip_entries: Vec<FileEntry>,
    /// Queue IDs of `messages` filed in the bundle's Junk (spam, `--spam-action junk`),
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub junk: Vec<String>,
    /// Queue IDs of `messages` in no file of the bundle (malware; spam with
    /// `--spam-action withhold`), oldest first: the bundle's notice counts them, their
    /// archive copies stay under `messages/` for the administrator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
}

impl ManifestRecipient {
    /// Where format `name` is in this bundle (relative to OUT), if it was written.
    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs.get(name)
    }
}

/// Format name → location, in the order written (serialised as plain object members).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outputs(pub Vec<(String, Option<String>)>);

impl Outputs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, p)| p.as_deref())
    }
}

impl Serialize for Outputs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Outputs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Outputs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("format locations (strings or null)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Outputs, A::Error> {
                let mut v = Vec::new();
                while let Some((k, p)) = a.next_entry::<String, Option<String>>()? {
                    v.push((k, p));
                }
                Ok(Outputs(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The disk-space estimate made before the run (docs/manifest.md, `space`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Space {
    /// Bytes this run was estimated to put on OUT's file system (blocks included).
    pub estimated_bytes: u64,
    /// The estimate's parts: `messages` (archive copies), each tree format, `zips`,
    /// `manifest` (with the run's temporary spill file).
    pub parts: std::collections::BTreeMap<String, u64>,
    /// Free bytes on OUT's file system before the run (the summary's; not in the
    /// manifest, which is the same at every run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// Bytes of the old export `--force` removes, counted as free (the summary's).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reclaimed_bytes: u64,
    /// The file system's block size (every file is rounded up to it).
    pub block_size: u64,
    /// False with `--no-space-check`.
    pub checked: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Totals {
    pub messages: usize,
    pub recipients: usize,
    /// (message, recipient) pairs exported.
    pub pairs: usize,
    pub bytes: u64,
    pub errors: usize,
    pub skipped: usize,
    /// Messages whose verdict is spam (not malware).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub spam: usize,
    /// Messages whose verdict is malware.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub malware: usize,
    /// Messages a filter asked for failed on (filed in the inbox, marked).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub unscanned: usize,
    /// (message, mailbox) pairs filed in Junk.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub junk: usize,
    /// (message, mailbox) pairs withheld (in no file of the bundle).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub withheld: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub tool: String,
    pub generated_at: String,
    /// True when every selected message was exported (no errors).
    pub complete: bool,
    /// Why the run stopped before it finished (a write error such as a full disk): only
    /// in the interim manifest such a run leaves; never in a finished one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub source: Source,
    pub options: Options,
    pub totals: Totals,
    /// The disk-space estimate (absent in exports made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<Space>,
    /// Copies left out as duplicates of another spool's copy (several spools only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<Duplicate>,
    /// Messages with the same Message-ID and different content (several spools only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub near_duplicates: Vec<NearDuplicate>,
    pub messages: Vec<ManifestMessage>,
    pub recipients: Vec<ManifestRecipient>,
    pub errors: Vec<Problem>,
    pub skipped: Vec<Problem>,
}

/// `rel` as a path inside the export directory: relative, not empty, and made only of
/// normal components (no `/` at the start, no `..`, no `.`, no empty component). `None`
/// for anything else.
pub fn inside(rel: &str) -> Option<&Path> {
    let p = Path::new(rel);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    let clean = !rel.is_empty()
        && !rel.contains('\0')
        && !rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    (normal && clean).then_some(p)
}

impl Manifest {
    /// Every path this manifest names stays inside the export, where an export puts it:
    /// `store` is `messages/<name>`, `dir` one name under `recipients/` (each bundle its
    /// own), a bundle's files and format locations under `recipients/<dir>/` (or its zip
    /// `recipients/<dir>.zip`), zip entries under `<dir>/`. Fails with one line naming the
    /// first entry that does not.
    pub fn check_paths(&self) -> Result<(), String> {
        let bad = |what: String, path: &str| {
            Err(format!(
                "{what} {path:?} is not a path inside the export (the manifest was edited?)"
            ))
        };
        let mut stores = HashSet::new();
        for m in &self.messages {
            let what = || format!("message {}: store", m.info.queue_id);
            match inside(&m.exported.store).and_then(|p| p.strip_prefix("messages").ok()) {
                Some(rest) if rest.components().count() == 1 => {}
                _ => return bad(what(), &m.exported.store),
            }
            if !stores.insert(m.exported.store.as_str()) {
                return Err(format!("{} {:?} is listed twice", what(), m.exported.store));
            }
        }
        let mut dirs = HashSet::new();
        for r in &self.recipients {
            let who = String::from_utf8_lossy(&r.address.0);
            let what = |field: &str| format!("recipient {who}: {field}");
            if inside(&r.dir).is_none_or(|p| p.components().count() != 1) {
                return bad(what("dir"), &r.dir);
            }
            if !dirs.insert(r.dir.as_str()) {
                return Err(format!("{} {:?} is used twice", what("dir"), r.dir));
            }
            let base = format!("recipients/{}", r.dir);
            let zip = format!("{base}.zip");
            let in_bundle = |p: &str| {
                inside(p).is_some() && (p == base || p == zip || p.starts_with(&format!("{base}/")))
            };
            for f in &r.files {
                if !in_bundle(&f.path) {
                    return bad(what("file"), &f.path);
                }
            }
            for (name, at) in &r.outputs.0 {
                if let Some(at) = at
                    && (!in_bundle(at) || at == &zip)
                {
                    return bad(what(name), at);
                }
            }
            if let Some(z) = &r.zip
                && z != &zip
            {
                return bad(what("zip"), z);
            }
            let root = format!("{}/", r.dir);
            for e in &r.zip_entries {
                if inside(&e.path).is_none() || !e.path.starts_with(&root) {
                    return bad(what("zip entry"), &e.path);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod verdict_tests {
    use crate::filter::verdict::VerdictKind;

    #[derive(serde::Deserialize)]
    struct M {
        #[serde(default, deserialize_with = "super::verdict_or_kind")]
        verdict: Option<crate::filter::verdict::Verdict>,
    }

    #[test]
    fn a_verdict_is_an_object_a_bare_string_or_absent() {
        let m: M = serde_json::from_str(r#"{"verdict": "Spam"}"#).unwrap();
        assert_eq!(m.verdict.unwrap().verdict, VerdictKind::Spam);
        let m: M = serde_json::from_str(r#"{"verdict": {"verdict": "malware"}}"#).unwrap();
        assert_eq!(m.verdict.unwrap().verdict, VerdictKind::Malware);
        let m: M = serde_json::from_str("{}").unwrap();
        assert!(m.verdict.is_none());
        let m: M = serde_json::from_str(r#"{"verdict": null}"#).unwrap();
        assert!(m.verdict.is_none());
        assert!(serde_json::from_str::<M>(r#"{"verdict": "maybe"}"#).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside() {
        for ok in ["messages/A.eml", "recipients/a@b/eml/x.eml", "a"] {
            assert!(inside(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "/etc/shadow",
            "../x",
            "a/../b",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
        ] {
            assert!(inside(bad).is_none(), "{bad:?}");
        }
    }
}
