//! Per-spool deletion lists: what may be deleted from each spool an export read, once
//! the journal says its mail is out (`mxsalvage journal --sent-ids` on an export made
//! from several `--queue-dir`s).
//!
//! Owns: mapping the export's messages back to the queue files they came from — each
//! message's spool and its queue ID there (`messages[].spool`, `spool_queue_id`) — and
//! the copies left out as duplicates (`duplicates[]`), which may go once every message
//! kept in their place is out. A queue file may be deleted when the export's own entry
//! for it (if any) and every kept copy it stood for are listed by
//! [`Report::sent_ids`]. Out: per spool, in the export's order, the queue IDs and the
//! command that deletes each (`postsuper -d ID`, `exim -Mrm ID`: the spool's kind).
//! Pure: a manifest and a report in, lists out; fails never.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::status::Report;
use crate::manifest::Manifest;
use crate::queue::SpoolKind;

/// What may be deleted from one spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolDeletions {
    pub queue_directory: String,
    pub kind: SpoolKind,
    /// Queue IDs in that spool, sorted.
    pub ids: Vec<String>,
    /// Queue files of that spool the export stands for that may not go yet.
    pub kept: usize,
}

impl SpoolDeletions {
    /// One command per queue ID.
    pub fn commands(&self) -> Vec<String> {
        self.ids
            .iter()
            .map(|id| self.kind.delete_command(id))
            .collect()
    }
}

/// Per spool (in `source.spools` order; the one spool for a single-spool export), the
/// queue IDs that may be deleted there.
pub fn deletion_lists(m: &Manifest, rep: &Report, include_refused: bool) -> Vec<SpoolDeletions> {
    let sent: BTreeSet<&str> = rep.sent_ids(include_refused).into_iter().collect();
    // (spool, queue ID there) → the export's messages it waits for.
    let mut deps: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let first = m.source.queue_directory.as_str();
    for msg in &m.messages {
        let i = &msg.info;
        let spool = i.spool.as_deref().unwrap_or(first);
        let id = i.spool_queue_id.as_deref().unwrap_or(&i.queue_id);
        deps.entry((spool, id)).or_default().insert(&i.queue_id);
    }
    for d in &m.duplicates {
        deps.entry((d.spool.as_str(), d.queue_id.as_str()))
            .or_default()
            .insert(&d.kept);
    }
    let mut spools: Vec<SpoolDeletions> = match m.source.spools.is_empty() {
        true => vec![(first.to_string(), SpoolKind::Postfix)],
        false => (m.source.spools.iter())
            .map(|s| (s.queue_directory.clone(), s.kind))
            .collect(),
    }
    .into_iter()
    .map(|(queue_directory, kind)| SpoolDeletions {
        queue_directory,
        kind,
        ids: Vec::new(),
        kept: 0,
    })
    .collect();
    for ((spool, id), wait) in deps {
        let Some(s) = spools.iter_mut().find(|s| s.queue_directory == spool) else {
            continue;
        };
        match wait.iter().all(|w| sent.contains(w)) {
            true => s.ids.push(id.to_string()),
            false => s.kept += 1,
        }
    }
    spools
}
