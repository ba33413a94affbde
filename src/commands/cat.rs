//! `mxsalvage cat`: postcat-compatible output for files or queue IDs.

use std::io::Write;

use anyhow::Result;

use super::default_queue_dir;
use crate::cli::CatArgs;
use mxsalvage::cat::{CatFlags, render};
use mxsalvage::exit::Exit;
use mxsalvage::queue::id::is_queue_id;
use mxsalvage::queue::walk::find_id;
use mxsalvage::queue::{Depth, QueueFile};

pub fn run(a: CatArgs) -> Result<Exit> {
    let flags = CatFlags {
        body: a.body,
        header: a.header,
        envelope: a.envelope,
    };
    let cfg = super::load_config(&a.config_dir, false)?;
    let root = a
        .queue_dir
        .clone()
        .unwrap_or_else(|| default_queue_dir(&a.config_dir));
    if a.by_id {
        super::check_spool(&root)?;
    }
    let search: Vec<String> = [
        "maildrop", "incoming", "active", "deferred", "hold", "saved", "corrupt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut failed = false;
    let stdout = std::io::stdout();
    for item in &a.items {
        let (path, label, maildrop) = if a.by_id {
            if !is_queue_id(item) {
                eprintln!("mxsalvage: bad mail queue ID: {item}");
                failed = true;
                continue;
            }
            match find_id(&root, item, &search, &cfg) {
                Some(e) => (e.path.clone(), e.rel.clone(), e.queue == "maildrop"),
                None => {
                    eprintln!(
                        "mxsalvage: queue file {item} not found under {}{}",
                        root.display(),
                        super::unreadable_hint(&root, &search)
                    );
                    failed = true;
                    continue;
                }
            }
        } else {
            let p = std::path::PathBuf::from(item);
            let maildrop = p
                .parent()
                .and_then(|d| d.file_name())
                .is_some_and(|n| n == "maildrop");
            (p, item.clone(), maildrop)
        };
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (run as root or as the postfix user)"
                } else {
                    ""
                };
                eprintln!("mxsalvage: {}: {e}{hint}", path.display());
                failed = true;
                continue;
            }
        };
        match QueueFile::parse(data, Depth::Full, maildrop) {
            Ok(q) => {
                let out = render(&q, &label, flags);
                let mut lock = stdout.lock();
                if let Err(e) = lock.write_all(&out).and_then(|_| lock.flush()) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(Exit::Ok);
                    }
                    return Err(e.into());
                }
            }
            Err(e) => {
                eprintln!("mxsalvage: {}: {e}", path.display());
                failed = true;
            }
        }
    }
    Ok(Exit::partial_if(failed))
}
