//! Disk space, checked before an export writes anything.
//!
//! Owns: the estimate of the bytes a plan will put on OUT's file system (archive copies,
//! each tree format, the zips, the manifest and the spill file), from the sizes the
//! envelopes give and per-format factors calibrated on real exports (docs/export.md,
//! "Disk space"); every file rounded up to the file system's block size, every
//! directory one block. An update counts only what it adds, plus the per-mailbox files
//! (mbox, HTML index, zip) it rewrites whole. `--force` counts the old export it
//! removes as free. Then the comparison with the free space (`statvfs`) and, when it
//! does not fit, one refusal line naming what would fit. In: the [`Plan`], the
//! export's shape, the earlier manifest. Out: a [`Space`] (recorded in the manifest).
//! Fails with [`ExportError::Refused`] (too little space) or [`ExportError::Write`]
//! (statvfs failed).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::manifest::{Manifest, Space};
use crate::units::size;

use super::error::ExportError;
use super::out::Mode;
use super::plan::Plan;
use super::sinks::{self, Formats};
use crate::decode::names::mailbox_key;

/// How one format grows with the mail it holds. Sizes in bytes, factors in thousandths
/// of the message size.
struct Model {
    name: &'static str,
    /// Bytes written per byte of message, per mille.
    per_byte: u64,
    /// Fixed bytes per message (headers added, page template).
    per_message: u64,
    /// One file per mailbox (mbox) instead of one per message.
    one_file: bool,
    /// Extra files per message (attachments), in thousandths, each a block at most.
    extra_files: u64,
    /// Directories per mailbox.
    dirs: u64,
    /// Directories per message (attachment folders), in thousandths.
    dirs_per_message: u64,
    /// A per-mailbox index: fixed bytes plus bytes per message (0, 0: none).
    index: (u64, u64),
    /// Bytes inside a zip per byte of message, per mille (compressed; attachments are
    /// already compressed, so not much less than the message).
    in_zip: u64,
}

/// Calibrated on the samples and on the 4,000-message bench queue (docs/export.md):
/// measured ratios of written bytes to message bytes mbox 0.99–1.01, maildir 1.00–1.04,
/// eml 1.01–1.05, text 0.73–0.79, html 1.91–2.16, zips of html,eml 1.04–1.7 (the
/// factors are rounded up from the largest).
const MODELS: &[Model] = &[
    Model {
        name: "mbox",
        per_byte: 1030,
        per_message: 200,
        one_file: true,
        extra_files: 0,
        dirs: 0,
        dirs_per_message: 0,
        index: (0, 0),
        in_zip: 750,
    },
    Model {
        name: "maildir",
        per_byte: 1030,
        per_message: 300,
        one_file: false,
        extra_files: 0,
        dirs: 4,
        dirs_per_message: 0,
        index: (0, 0),
        in_zip: 750,
    },
    Model {
        name: "eml",
        per_byte: 1030,
        per_message: 300,
        one_file: false,
        extra_files: 0,
        dirs: 1,
        dirs_per_message: 0,
        index: (0, 0),
        in_zip: 750,
    },
    Model {
        name: "text",
        per_byte: 850,
        per_message: 800,
        one_file: false,
        extra_files: 300,
        dirs: 1,
        dirs_per_message: 250,
        index: (0, 0),
        in_zip: 600,
    },
    Model {
        name: "html",
        per_byte: 2000,
        per_message: 3000,
        one_file: false,
        extra_files: 1000,
        dirs: 1,
        dirs_per_message: 250,
        index: (20_000, 400),
        in_zip: 700,
    },
];

fn model(name: &str) -> &'static Model {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .expect("every registered format has a space model")
}

/// The export's shape (an update's is the earlier export's).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub formats: Formats,
    pub zip_on: bool,
    pub zip_formats: Formats,
}

fn up(n: u64, block: u64) -> u64 {
    n.div_ceil(block) * block
}

/// One message of one mailbox that this run writes.
struct Pair {
    bytes: u64,
}

/// A mailbox's messages: all of them (the per-mailbox files hold them all) and the
/// pairs this run adds.
#[derive(Default)]
struct Box_ {
    all_bytes: u64,
    all_count: u64,
    new: Vec<Pair>,
}

/// What a plan writes, per mailbox, before the formats are applied.
pub struct Load {
    /// Archive copies this run writes (message sizes).
    archive: Vec<u64>,
    /// Mailboxes this run touches.
    boxes: Vec<Box_>,
    /// Messages in the finished manifest.
    messages: u64,
}

/// Gathers what the plan adds (an update: only what the earlier export lacks).
pub fn load(plan: &Plan, old: Option<&Manifest>) -> Load {
    let mut old_msgs: HashSet<&str> = HashSet::new();
    let mut old_boxes: HashMap<Vec<u8>, (HashSet<&str>, u64, u64)> = HashMap::new();
    if let Some(o) = old {
        old_msgs.extend(o.messages.iter().map(|m| m.info.queue_id.as_str()));
        for r in &o.recipients {
            old_boxes.insert(
                mailbox_key(&r.address.0),
                (
                    r.messages.iter().map(String::as_str).collect(),
                    r.bytes,
                    r.messages.len() as u64,
                ),
            );
        }
    }
    let mut boxes: BTreeMap<u32, Box_> = BTreeMap::new();
    let mut archive = Vec::new();
    let mut new_messages = 0;
    for m in &plan.messages {
        let id = m.entry.export_id();
        let mut added = false;
        for &k in &m.keys {
            let key = &plan.mailboxes[k as usize];
            let old = old_boxes.get(key);
            if old.is_some_and(|o| o.0.contains(id)) {
                continue;
            }
            added = true;
            let b = boxes.entry(k).or_insert_with(|| {
                let (bytes, count) = old.map(|o| (o.1, o.2)).unwrap_or((0, 0));
                Box_ {
                    all_bytes: bytes,
                    all_count: count,
                    new: Vec::new(),
                }
            });
            b.all_bytes += m.bytes;
            b.all_count += 1;
            b.new.push(Pair { bytes: m.bytes });
        }
        if added && !old_msgs.contains(id) {
            archive.push(m.bytes);
            new_messages += 1;
        }
    }
    Load {
        archive,
        boxes: boxes.into_values().collect(),
        messages: old_msgs.len() as u64 + new_messages,
    }
}

/// Planned messages the earlier export does not hold.
pub fn new_messages(plan: &Plan, old: Option<&Manifest>) -> usize {
    let had: HashSet<&str> = old
        .iter()
        .flat_map(|o| &o.messages)
        .map(|m| m.info.queue_id.as_str())
        .collect();
    plan.messages
        .iter()
        .filter(|m| !had.contains(m.entry.export_id()))
        .count()
}

/// One format's bytes on disk for the mailboxes this run touches.
fn tree_bytes(m: &Model, l: &Load, block: u64) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    for b in &l.boxes {
        bytes += (m.dirs + 1) * block;
        if m.one_file {
            bytes += up(
                b.all_bytes * m.per_byte / 1000 + b.all_count * m.per_message,
                block,
            );
            files += 1;
        } else {
            for p in &b.new {
                bytes += up(p.bytes * m.per_byte / 1000 + m.per_message, block);
            }
            let n = b.new.len() as u64;
            bytes += (n * (m.extra_files + m.dirs_per_message)).div_ceil(1000) * block;
            files += n + (n * m.extra_files).div_ceil(1000);
        }
        if m.index != (0, 0) {
            bytes += up(m.index.0 + b.all_count * m.index.1, block);
            files += 1;
        }
    }
    (bytes, files)
}

/// The zips of the mailboxes this run touches (each rewritten whole).
fn zip_bytes(formats: Formats, l: &Load, block: u64) -> u64 {
    let models: Vec<&Model> = formats.sinks().map(|s| model(s.name())).collect();
    l.boxes
        .iter()
        .map(|b| {
            let mut n = 8_000; // README and central directory ends
            for m in &models {
                let entries = match m.one_file {
                    true => 1,
                    false => b.all_count + (b.all_count * m.extra_files).div_ceil(1000),
                };
                n += b.all_bytes * m.in_zip / 1000 + entries * 400 + m.index.0;
                n += b.all_count * m.index.1;
            }
            up(n, block)
        })
        .sum()
}

/// The estimate for `shape`, without the free space (see [`assess`]).
pub fn estimate(l: &Load, shape: Shape, block: u64) -> Space {
    let block = block.max(512);
    let mut parts = BTreeMap::new();
    let archive: u64 = l.archive.iter().map(|&s| up(s + 300, block)).sum::<u64>() + block;
    parts.insert("messages".to_string(), archive);
    let mut files = 0;
    for s in shape.formats.sinks() {
        let (b, f) = tree_bytes(model(s.name()), l, block);
        parts.insert(s.name().to_string(), b);
        files += f;
    }
    if shape.zip_on {
        parts.insert("zips".into(), zip_bytes(shape.zip_formats, l, block));
        files += l.boxes.len() as u64;
    }
    // The manifest (about 2 KB per message, 250 bytes per file entry), and the spill
    // file, which holds as much again while the run lasts.
    let manifest = l.messages * 2_000 + (files + l.archive.len() as u64) * 250;
    parts.insert("manifest".into(), up(manifest * 2, block) + 2 * block);
    Space {
        estimated_bytes: parts.values().sum(),
        parts,
        free_bytes: None,
        reclaimed_bytes: 0,
        block_size: block,
        checked: false,
    }
}

/// Free bytes for an unprivileged writer and the block size of the file system holding
/// `dir` (an existing directory).
pub fn free(dir: &Path) -> Result<(u64, u64), ExportError> {
    let s = rustix::fs::statvfs(dir).map_err(|e| ExportError::Write {
        path: dir.to_path_buf(),
        error: e.into(),
    })?;
    let frsize = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    Ok((s.f_bavail.saturating_mul(frsize), frsize.max(512)))
}

/// Bytes on disk of the files and directories under `p` (not following symlinks).
fn disk_usage(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = m.blocks() * 512;
    if m.is_dir() {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            n += disk_usage(&e.path());
        }
    }
    n
}

fn parts_line(s: &Space) -> String {
    let order = sinks::SINKS.iter().map(|k| k.name());
    let names = ["messages"]
        .into_iter()
        .chain(order)
        .chain(["zips", "manifest"]);
    names
        .filter_map(|n| s.parts.get(n).map(|b| format!("{n} {}", size(*b))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Other choices that would fit in `avail`, as flags with their estimate.
fn alternatives(l: &Load, shape: Shape, block: u64, avail: u64) -> Vec<String> {
    let mut out = Vec::new();
    let fits = |s: Shape| {
        let e = estimate(l, s, block);
        (e.estimated_bytes <= avail).then_some(e.estimated_bytes)
    };
    // Fewer tree formats (the cheapest first), zips as asked.
    let mut by_cost: Vec<(u64, &str)> = shape
        .formats
        .sinks()
        .map(|s| (tree_bytes(model(s.name()), l, block).0, s.name()))
        .collect();
    by_cost.sort();
    let mut chosen = Formats::none();
    let mut last = None;
    for (_, name) in &by_cost {
        let more = chosen.union(Formats::parse(&[*name]).expect("registered"));
        match fits(Shape {
            formats: more,
            ..shape
        }) {
            Some(b) => {
                chosen = more;
                last = Some(b);
            }
            None => break,
        }
    }
    if let Some(b) = last
        && chosen != shape.formats
    {
        let z = if shape.zip_on { " --zip" } else { "" };
        out.push(format!(
            "--format {}{z} ({})",
            chosen.names().join(","),
            size(b)
        ));
    }
    // Zips only: the default zip formats, then the .eml alone.
    for zf in [
        Formats::default_zip(),
        Formats::parse(&["eml"]).expect("eml"),
    ] {
        let s = Shape {
            formats: Formats::none(),
            zip_on: true,
            zip_formats: zf,
        };
        if (s.formats, s.zip_formats) == (shape.formats, shape.zip_formats) && shape.zip_on {
            continue;
        }
        if let Some(b) = fits(s) {
            let f = match zf == Formats::default_zip() {
                true => String::new(),
                false => format!(" --zip-formats {}", zf.names().join(",")),
            };
            let t = if shape.formats.is_empty() {
                ""
            } else {
                " --format none"
            };
            out.push(format!("--zip{t}{f} ({})", size(b)));
            break;
        }
    }
    out
}

/// Estimates the run and compares it with the free space of OUT's file system
/// (`existing`: OUT or its nearest existing parent). `check` false (`--no-space-check`)
/// measures without refusing.
pub fn assess(
    l: &Load,
    shape: Shape,
    out: &Path,
    existing: &Path,
    mode: Mode,
    reclaim: bool,
    check: bool,
) -> Result<Space, ExportError> {
    let (avail, block) = free(existing)?;
    let mut s = estimate(l, shape, block);
    if mode == Mode::Force && reclaim {
        s.reclaimed_bytes = ["messages", "recipients", "manifest.json"]
            .iter()
            .map(|n| disk_usage(&out.join(n)))
            .sum();
    }
    s.free_bytes = Some(avail);
    s.checked = check;
    let room = avail.saturating_add(s.reclaimed_bytes);
    if check && s.estimated_bytes > room {
        let alt = alternatives(l, shape, block, room);
        let fit = match alt.is_empty() {
            true => "nothing smaller fits either".to_string(),
            false => format!("would fit: {}", alt.join("; ")),
        };
        let freed = match s.reclaimed_bytes {
            0 => String::new(),
            r => format!(" (with {} of the old export removed)", size(r)),
        };
        return Err(ExportError::Refused(format!(
            "not enough disk space for {}: the export needs about {} ({}), {} free{freed} on its file system; {fit}; free some space or choose less, or give --no-space-check; nothing was written",
            out.display(),
            size(s.estimated_bytes),
            parts_line(&s),
            size(room),
        )));
    }
    Ok(s)
}

/// The estimate in one line (`export --dry-run`).
pub fn describe(s: &Space) -> String {
    let free = match s.free_bytes {
        Some(f) => format!(", {} free", size(f.saturating_add(s.reclaimed_bytes))),
        None => String::new(),
    };
    format!(
        "about {} ({}){free}",
        size(s.estimated_bytes),
        parts_line(s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_a_model() {
        for s in sinks::SINKS {
            assert_eq!(model(s.name()).name, s.name());
        }
    }

    fn load(sizes: &[&[u64]]) -> Load {
        Load {
            archive: sizes.iter().flat_map(|b| b.iter().copied()).collect(),
            boxes: sizes
                .iter()
                .map(|b| Box_ {
                    all_bytes: b.iter().sum(),
                    all_count: b.len() as u64,
                    new: b.iter().map(|&bytes| Pair { bytes }).collect(),
                })
                .collect(),
            messages: sizes.iter().map(|b| b.len() as u64).sum(),
        }
    }

    #[test]
    fn grows_with_the_mail_and_rounds_to_blocks() {
        let all = Shape {
            formats: Formats::all(),
            zip_on: true,
            zip_formats: Formats::default_zip(),
        };
        let small = estimate(&load(&[&[10; 100]]), all, 4096);
        // 100 tiny messages still take a block per file.
        assert!(small.parts["eml"] >= 100 * 4096, "{small:?}");
        let big = estimate(&load(&[&[1_000_000; 100]]), all, 4096);
        assert!(big.parts["eml"] >= 100_000_000 && big.parts["eml"] < 110_000_000);
        assert!(big.parts["mbox"] >= 100_000_000 && big.parts["mbox"] < 110_000_000);
        assert!(big.parts["html"] >= 190_000_000, "{big:?}");
        assert!(big.parts["zips"] >= 100_000_000, "{big:?}");
        assert_eq!(big.estimated_bytes, big.parts.values().sum::<u64>());
        let line = describe(&big);
        assert!(line.starts_with("about "), "{line}");
        assert!(line.contains("messages 100 MB, mbox"), "{line}");
    }

    #[test]
    fn suggests_what_fits() {
        let l = load(&[&[1_000_000; 50], &[1_000_000; 50]]);
        let all = Shape {
            formats: Formats::all(),
            zip_on: false,
            zip_formats: Formats::default_zip(),
        };
        let alt = alternatives(&l, all, 4096, 400_000_000);
        assert!(alt[0].starts_with("--format "), "{alt:?}");
        assert!(
            alt.iter().any(|a| a.starts_with("--zip --format none")),
            "{alt:?}"
        );
        assert!(alternatives(&l, all, 4096, 1_000_000).is_empty());
    }
}
