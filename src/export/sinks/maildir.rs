//! The `maildir` sink (D. J. Bernstein's spec, with Dovecot's `,S=` size).
//!
//! Owns: the `Maildir/{tmp,new,cur}` layout and one delivery per message: the file is
//! written in `tmp/`, given the arrival time as its mtime (Dovecot's received date), and
//! renamed into `new/`. Names come from the message (see [`crate::decode::names::maildir_name`]),
//! so a rerun produces the same names. Spam filed in Junk goes to the Maildir++ folder
//! `Maildir/.Junk/` (Dovecot and Courier show it as `Junk`) the same way. Never writes
//! index files. In `verify`, reads `new/` (and `.Junk/new/`) back against the archive
//! copies. In: the delivery headers and the message.
//! Out: files through the bundle's [`Dest`]. Fails with [`ExportError::Write`] naming
//! the path.

use std::collections::HashMap;

use crate::export::sink::VerifyReport;

use crate::decode::names::maildir_name;
use crate::export::error::ExportError;
use crate::export::sink::{Check, Dest, FileOpts, Filing, Message, Sink, SinkInfo};
use crate::manifest::ManifestMessage;

/// The `maildir` format.
pub struct Maildir;

/// What the `maildir` format is.
pub static INFO: SinkInfo = SinkInfo {
    name: "maildir",
    aliases: &[],
    location: "Maildir",
    dirs: &["Maildir/tmp", "Maildir/new", "Maildir/cur"],
    junk_dirs: &[
        JUNK,
        "Maildir/.Junk/tmp",
        "Maildir/.Junk/new",
        "Maildir/.Junk/cur",
    ],
    readme: "Maildir/    - one file per message in new/, for mail servers (Dovecot,\n\
             \x20             Courier) and for mutt/neomutt: `mutt -R -f Maildir`.\n\n",
};

impl Sink for Maildir {
    fn info(&self) -> &'static SinkInfo {
        &INFO
    }
    fn message(&self, m: &Message, dest: &mut dyn Dest) -> Result<(), ExportError> {
        let size = (m.prepend.len() + m.bytes.len()) as u64;
        let name = maildir_name(m.arrival.0, m.arrival.1, &m.summary.queue_id, size);
        let base = match m.filing {
            Filing::Junk => JUNK,
            _ => "Maildir",
        };
        let staging = format!("{base}/tmp/{name}");
        dest.file(
            &format!("{base}/new/{name}"),
            FileOpts {
                mtime: m.arrival.0,
                staging: Some(&staging),
            },
            &mut |w| {
                w.write_all(m.prepend)?;
                w.write_all(m.bytes)
            },
        )
    }
    fn verify(&self, c: &Check, rep: &mut VerifyReport) {
        check(c, c.location, c.messages, rep);
        let junk = format!("{}/.Junk", c.location);
        if !c.junk.is_empty() || c.out.join(&junk).exists() {
            check(c, &junk, c.junk, rep);
        }
    }
}

/// The Maildir++ folder of Junk, in the bundle.
const JUNK: &str = "Maildir/.Junk";

/// The queue ID in a name [`maildir_name`] made: `<secs>.M<usecs>Q<queue-id>.…`.
fn queue_id_of(name: &str) -> Option<&str> {
    let (_, rest) = name.split_once(".M")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix('Q')?;
    Some(rest.split_once('.').map_or(rest, |x| x.0))
}

/// `verify`: `new/` of the Maildir (or folder) `rel` holds exactly `messages`, each
/// equal to the delivery headers plus the archive copy.
fn check(c: &Check, rel: &str, messages: &[&ManifestMessage], rep: &mut VerifyReport) {
    let new = c.out.join(rel).join("new");
    let mut names: Vec<String> = match std::fs::read_dir(&new) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => return rep.bad(format!("{rel}/new"), format!("cannot list: {e}")),
    };
    names.sort();
    if names.len() != messages.len() {
        rep.bad(
            format!("{rel}/new"),
            format!(
                "holds {} message(s), the manifest lists {}",
                names.len(),
                messages.len()
            ),
        );
    }
    // Queue ID → file name, in one pass (a bundle may hold every message of the queue).
    let by_id: HashMap<&str, &str> = names
        .iter()
        .filter_map(|n| Some((queue_id_of(n)?, n.as_str())))
        .collect();
    for msg in messages {
        let Some(name) = by_id.get(msg.info.queue_id.as_str()) else {
            rep.bad(
                format!("{rel}/new"),
                format!("message {} is missing", msg.info.queue_id),
            );
            continue;
        };
        let path = new.join(name);
        match (std::fs::read(&path), c.expected_copy(msg)) {
            (Ok(g), Ok(w)) if g == w => {}
            (Ok(_), Ok(_)) => rep.bad(format!("{rel}/new/{name}"), "differs from its archive copy"),
            (Err(e), _) | (_, Err(e)) => {
                rep.bad(format!("{rel}/new/{name}"), format!("cannot read: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_id_from_name() {
        let n = maildir_name(1_700_000_000, 123, "4937D98E555", 99);
        assert_eq!(queue_id_of(&n), Some("4937D98E555"));
        assert_eq!(queue_id_of("junk"), None);
    }
}
