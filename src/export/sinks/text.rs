//! The `text` sink: one readable `.txt` per message plus its attachments.
//!
//! Owns: writing `text/<stem>.txt` (the [`crate::decode`] rendering, UTF-8, LF) and
//! `text/<stem>.files/<safe name>` for each attachment, all with the arrival time as
//! mtime; spam filed in Junk the same way under `Junk/text/`. In: a decoded message. Out: files through the bundle's [`Dest`]. Fails with
//! [`ExportError::Write`] naming the path.

use crate::decode::Part;
use crate::export::error::ExportError;
use crate::export::sink::{Dest, Message, Sink, SinkInfo};

/// The attachment folder name for a stem.
pub fn files_dir(stem: &str) -> String {
    format!("{stem}.files")
}

/// Writes the attachments into `dir` (made first; nothing at all when there are
/// none), each under its safe name, with `mtime`: the `.files` folder of the text
/// format, and of the html format when the bundle has no text format.
pub fn put_attachments(
    dest: &mut dyn Dest,
    dir: &str,
    mtime: i64,
    attachments: &[Part],
) -> Result<(), ExportError> {
    if attachments.is_empty() {
        return Ok(());
    }
    dest.dir(dir)?;
    for a in attachments {
        dest.put(&format!("{dir}/{}", a.name), mtime, &a.data)?;
    }
    Ok(())
}

/// The `text` format.
pub struct Text;

/// What the `text` format is.
pub static INFO: SinkInfo = SinkInfo {
    name: "text",
    aliases: &["txt"],
    location: "text",
    dirs: &["text"],
    junk_dirs: &["Junk", "Junk/text"],
    readme: "text/       - one .txt file per message, readable in any text editor;\n\
             \x20             attachments are in the folder of the same name ending .files.\n\n",
};

impl Sink for Text {
    fn info(&self) -> &'static SinkInfo {
        &INFO
    }
    fn message(&self, m: &Message, dest: &mut dyn Dest) -> Result<(), ExportError> {
        let d = m.decoded();
        let mtime = m.arrival.0;
        let base = format!("{}text", m.folder());
        dest.put(&format!("{base}/{}.txt", m.stem), mtime, d.text.as_bytes())?;
        let dir = format!("{base}/{}", files_dir(m.stem));
        put_attachments(dest, &dir, mtime, &d.attachments)
    }
}
