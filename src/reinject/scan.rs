//! Verdicts for the DSN policy when the export has none (`reinject --spam-filter URL
//! --virus-scan URL`): a message owed a sender DSN whose manifest entry records no
//! verdict (an export made without filters) is scanned once, from its archive copy,
//! so that spam and malware get no DSN. A verdict the manifest records is always the
//! one used: nothing is scanned twice, and the export is never written.
//!
//! Owns: choosing which messages to scan and scanning them. In: the manifest, the
//! journal state, the verdicts read from the manifest, a [`FilterSet`]. Out: the
//! verdicts with the new ones added, and a note per message that could not be
//! scanned (its DSN is then decided as without filters). Fails: never (a copy that does
//! not match its sha256 is passed over: it was not sent either).

use sha2::{Digest, Sha256};

use crate::filter::FilterSet;
use crate::manifest::Manifest;

use super::journal::JournalState;
use super::{Config, Verdicts, owed_of, store_path};

/// Scans every message that is owed a DSN and has no verdict; adds the verdicts to
/// `verdicts` and returns one line per message a filter could not judge.
pub fn scan_unjudged(
    cfg: &Config,
    manifest: &Manifest,
    verdicts: &mut Verdicts,
    js: &JournalState,
    filters: &FilterSet,
) -> Vec<String> {
    let mut notes = Vec::new();
    for m in &manifest.messages {
        let key = (m.info.queue_id.clone(), m.exported.sha256.clone());
        if verdicts.contains_key(&key) || owed_of(cfg, m, verdicts, js).is_none() {
            continue;
        }
        let Ok(path) = store_path(&cfg.export_dir, m) else {
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if hex::encode(Sha256::digest(&bytes)) != m.exported.sha256 {
            continue;
        }
        let v = filters.scan(&bytes);
        if v.marked_unscanned() {
            notes.push(format!(
                "{}: unscanned, its DSN is decided as without filters: {}",
                m.info.queue_id,
                v.unscanned.join("; ")
            ));
        }
        let kind = serde_json::to_value(v.verdict)
            .ok()
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_default();
        verdicts.insert(key, kind);
    }
    notes
}
