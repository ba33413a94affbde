//! Glue between the command line and the library: one file per command. Each turns its
//! clap args into plain values, runs the library, prints, and returns an [`Exit`].
//! Shared here: finding the spool and its configuration, and the worker pool.

pub mod cat;
pub mod dovecot;
pub mod export;
pub mod reinject;
pub mod scan;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::{SelectArgs, SpoolArgs};
use mxsalvage::queue::config::parse_duration;
use mxsalvage::queue::running::{MasterState, master_state};
use mxsalvage::queue::{PostfixConfig, Spool};
use mxsalvage::select::{Selection, queues};

/// Default queue directory: `postconf -h queue_directory`, else /var/spool/postfix.
pub fn default_queue_dir(config_dir: &Path) -> PathBuf {
    let out = Command::new("postconf")
        .arg("-c")
        .arg(config_dir)
        .arg("-h")
        .arg("queue_directory")
        .output();
    if let Ok(o) = out
        && o.status.success()
    {
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !s.is_empty() {
            return PathBuf::from(s);
        }
    }
    PathBuf::from("/var/spool/postfix")
}

/// An opened spool with the configuration in force.
pub struct SpoolCtx {
    pub spool: Spool,
    pub master: MasterState,
}

impl SpoolCtx {
    pub fn open(a: &SpoolArgs, queues: Vec<String>) -> Result<SpoolCtx> {
        let mut cfg = PostfixConfig::load(&a.config_dir).map_err(anyhow::Error::msg)?;
        if let Some(v) = &a.max_queue_lifetime {
            cfg.maximal_queue_lifetime = parse_duration(v, 'd')
                .with_context(|| format!("bad --max-queue-lifetime {v:?} (use e.g. 5d, 12h)"))?;
            cfg.bounce_queue_lifetime = cfg.bounce_queue_lifetime.min(cfg.maximal_queue_lifetime);
        }
        if let Some(v) = &a.bounce_queue_lifetime {
            cfg.bounce_queue_lifetime = parse_duration(v, 'd')
                .with_context(|| format!("bad --bounce-queue-lifetime {v:?}"))?;
        }
        cfg.bounce_queue_lifetime = cfg.bounce_queue_lifetime.min(cfg.maximal_queue_lifetime);
        let root = a
            .queue_dir
            .clone()
            .unwrap_or_else(|| default_queue_dir(&a.config_dir));
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("{} is not a directory", root.display()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                bail!(
                    "permission denied reading {} (run as root or as the postfix user)",
                    root.display()
                )
            }
            Err(e) => bail!("cannot open queue directory {}: {e}", root.display()),
        }
        let master = master_state(&root);
        Ok(SpoolCtx {
            spool: Spool::open(&root, cfg, queues),
            master,
        })
    }

    pub fn running(&self) -> Option<bool> {
        match self.master {
            MasterState::Running => Some(true),
            MasterState::NotRunning => Some(false),
            MasterState::Unknown(_) => None,
        }
    }

    /// Warns on stderr when Postfix runs on this spool.
    pub fn warn_if_running(&self) {
        if let MasterState::Running = self.master {
            eprintln!(
                "mxsalvage: warning: Postfix is running on {}; files may move or change while they are read",
                self.spool.root.display()
            );
        }
    }
}

/// A rayon pool with `jobs` threads (default: all cores).
pub fn pool(jobs: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(j) = jobs {
        if j == 0 {
            bail!("--jobs must be at least 1");
        }
        b = b.num_threads(j);
    }
    b.build().context("cannot start worker threads")
}

/// The queues and the recipient selection asked for by the shared selection flags.
pub fn selection(a: &SelectArgs) -> Result<(Vec<String>, Selection)> {
    let queues = queues(&a.queue).map_err(anyhow::Error::msg)?;
    let sel = Selection::new(&a.recipient, &a.domain, &a.valid_recipients, a.only_valid)
        .map_err(anyhow::Error::msg)?;
    Ok((queues, sel))
}
