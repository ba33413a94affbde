//! Several queues read as one (`--queue-dir` given more than once: two backup MXs).
//!
//! Owns: [`Merged`], a [`QueueSource`] over other sources in the order given. Its walk
//! is each source's walk in turn; every entry gets its [`Origin`] (the spool's position
//! and absolute directory) and, when another spool holds the same queue ID, the
//! qualified name `ID+N` (N the spool's position counted from 1: `+` is in no Postfix or
//! Exim queue ID, so the name is unambiguous and safe in file names). A queue ID found
//! in one spool only keeps its name. Loading goes to the entry's own spool. With one
//! source, everything is that source's own answer, untouched (a single spool's outputs
//! stay byte for byte as they were). In: the sources. Out: entries and messages that
//! know their spool. Fails: as the sources do, per message.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use super::message::{Depth, Origin, QueueSource, QueuedMessage, SpoolKind};
use super::walk::{ModeVerdict, QueueEntry, WalkEvent, WalkResult};

/// Several queue sources as one, in the order given.
pub struct Merged<'a> {
    parts: Vec<&'a dyn QueueSource>,
    /// Each part's queue directory, absolute (what `messages[].spool` records).
    dirs: Vec<Arc<str>>,
}

/// `p` absolute (as given when that fails), as text.
fn absolute(p: &Path) -> Arc<str> {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
        .into()
}

/// Splits `ID+N` into the queue ID and the spool's index (from 0).
fn split_qualified(name: &str, parts: usize) -> Option<(&str, usize)> {
    let (id, n) = name.rsplit_once('+')?;
    let n: usize = n.parse().ok()?;
    (n >= 1 && n <= parts && !id.is_empty()).then(|| (id, n - 1))
}

impl<'a> Merged<'a> {
    /// The sources in the order given (at least one).
    pub fn new(parts: Vec<&'a dyn QueueSource>) -> Merged<'a> {
        let dirs = parts.iter().map(|p| absolute(p.root())).collect();
        Merged { parts, dirs }
    }

    /// How many spools are read.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Never: a merged source has at least one spool.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn single(&self) -> Option<&'a dyn QueueSource> {
        match self.parts.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn origin(&self, index: usize) -> Origin {
        Origin {
            index,
            spool: Some(self.dirs[index].clone()),
            qualified: None,
        }
    }

    /// Qualifies the entries whose queue ID is in more than one spool.
    fn qualify(entries: &mut [QueueEntry]) {
        let mut spools: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for e in entries.iter() {
            spools
                .entry(e.id.clone())
                .or_default()
                .insert(e.origin.index);
        }
        for e in entries.iter_mut() {
            if spools.get(&e.id).is_some_and(|s| s.len() > 1) {
                e.origin.qualified = Some(format!("{}+{}", e.id, e.origin.index + 1));
            }
        }
    }
}

impl QueueSource for Merged<'_> {
    fn root(&self) -> &Path {
        self.parts[0].root()
    }
    fn kind(&self) -> SpoolKind {
        self.parts[0].kind()
    }
    fn roots(&self) -> Vec<&Path> {
        self.parts.iter().map(|p| p.root()).collect()
    }
    fn walk(&self) -> WalkResult {
        if let Some(one) = self.single() {
            return one.walk();
        }
        let mut all = WalkResult::default();
        for (i, p) in self.parts.iter().enumerate() {
            let w = p.walk();
            all.entries.extend(w.entries.into_iter().map(|mut e| {
                e.origin = self.origin(i);
                e
            }));
            all.problems.extend(w.problems);
            all.ignored.extend(w.ignored);
            all.duplicates.extend(w.duplicates);
        }
        Merged::qualify(&mut all.entries);
        all
    }
    fn walk_stream(&self, f: &mut dyn FnMut(WalkEvent) -> io::Result<()>) -> io::Result<()> {
        match self.single() {
            Some(one) => one.walk_stream(f),
            // Qualified names need every spool's listing first.
            None => {
                let w = self.walk();
                let events = (w.entries.into_iter().map(WalkEvent::Entry))
                    .chain(w.problems.into_iter().map(WalkEvent::Problem))
                    .chain(w.ignored.into_iter().map(WalkEvent::Ignored))
                    .chain(w.duplicates.into_iter().map(WalkEvent::Duplicate));
                for ev in events {
                    f(ev)?;
                }
                Ok(())
            }
        }
    }
    fn find(&self, id: &str) -> Vec<QueueEntry> {
        if let Some(one) = self.single() {
            return one.find(id);
        }
        if let Some((bare, i)) = split_qualified(id, self.parts.len()) {
            let mut found = self.parts[i].find(bare);
            for e in &mut found {
                e.origin = self.origin(i);
                e.origin.qualified = Some(id.to_string());
            }
            return found;
        }
        let mut found = Vec::new();
        for (i, p) in self.parts.iter().enumerate() {
            found.extend(p.find(id).into_iter().map(|mut e| {
                e.origin = self.origin(i);
                e
            }));
        }
        Merged::qualify(&mut found);
        found
    }
    fn load(&self, entry: &QueueEntry, depth: Depth) -> Result<QueuedMessage, LoadError> {
        let part = self.parts.get(entry.origin.index).unwrap_or(&self.parts[0]);
        let mut m = part.load(entry, depth)?;
        // A file that moved is found again by its spool: it keeps its origin.
        m.entry.origin = entry.origin.clone();
        Ok(m)
    }
    fn mode_verdict(&self) -> ModeVerdict {
        if let Some(one) = self.single() {
            return one.mode_verdict();
        }
        let verdicts: Vec<ModeVerdict> = self.parts.iter().map(|p| p.mode_verdict()).collect();
        let notes: Vec<String> = (self.parts.iter().zip(&verdicts))
            .filter_map(|(p, v)| {
                v.note
                    .as_ref()
                    .map(|n| format!("{}: {n}", p.root().display()))
            })
            .collect();
        ModeVerdict {
            trusted: verdicts.iter().all(|v| v.trusted),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        assert_eq!(split_qualified("4ABC+2", 2), Some(("4ABC", 1)));
        assert_eq!(split_qualified("4ABC+3", 2), None);
        assert_eq!(split_qualified("4ABC+0", 2), None);
        assert_eq!(split_qualified("4ABC", 2), None);
        assert_eq!(split_qualified("+1", 2), None);
    }
}
