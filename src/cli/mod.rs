//! Glue between the command line and the library: the clap definitions in
//! [`args`], then one file per command. Each turns its
//! clap args into plain values, runs the library, prints, and returns an [`Exit`].
//! Shared here: finding the spool(s) — a Postfix one, or an Exim one recognised by its
//! layout — and their configuration (this machine's /etc/postfix only for this
//! machine's own queue directory, see [`spool_config`]) — [`SpoolCtx`] is the one place
//! that opens a spool, one [`Reader`] per `--queue-dir` (the one place naming the
//! formats), read by the commands as one `QueueSource` (`SpoolCtx::source`) —, refusing a
//! directory that is not a spool with what it is instead, or a configuration directory
//! that does not exist, and the worker pool. Errors are `anyhow` values with one line
//! saying what to do; they exit 2.

pub mod args;
pub mod cat;
pub mod dovecot;
pub mod export;
pub mod journal;
pub mod man;
pub mod reinject;
pub mod scan;
pub mod timings;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::args::{SelectArgs, SpoolArgs};
use mxsalvage::exim::{EximSpool, RETRY_GIVE_UP, is_exim_spool};
use mxsalvage::queue::config::parse_duration;
use mxsalvage::queue::merge::Merged;
use mxsalvage::queue::running::{MasterState, master_state};
use mxsalvage::queue::walk::{EXTRA_QUEUES, MESSAGE_QUEUES};
use mxsalvage::queue::{ModeChoice, PostfixConfig, QueueSource, Spool};
use mxsalvage::report::select::{Selection, queues};

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
    PathBuf::from(DEFAULT_QUEUE_DIR)
}

/// Postfix's own configuration directory, the default of `--config-dir`.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/postfix";

/// Postfix's default queue directory (when main.cf does not set `queue_directory`).
const DEFAULT_QUEUE_DIR: &str = "/var/spool/postfix";

/// Whether `root` is this machine's own Postfix queue directory: `queue_directory` of
/// /etc/postfix/main.cf (else /var/spool/postfix), compared as canonical paths. Only
/// then may the local configuration (lifetimes, and identity: `myorigin`,
/// `myhostname`) stand in for a `--config-dir` that was not given.
pub fn is_local_spool(root: &Path) -> bool {
    let local = PostfixConfig::queue_directory_in(Path::new(DEFAULT_CONFIG_DIR))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_QUEUE_DIR));
    let canon = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    canon(root) == canon(&local)
}

/// Which configuration a spool is read with (said in scan's header, and once on stderr
/// when it is not the secondary's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config-dir DIR`: its main.cf.
    Given(PathBuf),
    /// This machine's spool, read with this machine's /etc/postfix/main.cf.
    Local,
    /// This machine's spool, but there is no /etc/postfix/main.cf: Postfix's defaults.
    LocalDefaults,
    /// Not this machine's spool and no `--config-dir`: Postfix's defaults, and no
    /// identity (unqualified maildrop addresses are kept as queued).
    Unknown,
    /// An Exim spool: no Postfix configuration applies.
    Exim,
}

impl ConfigSource {
    /// One line for scan's header.
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::Given(d) => format!("{} (--config-dir)", d.join("main.cf").display()),
            ConfigSource::Local => format!(
                "{DEFAULT_CONFIG_DIR}/main.cf (this machine's Postfix: the queue directory is its own)"
            ),
            ConfigSource::LocalDefaults => {
                format!("Postfix's defaults (this machine's queue directory; no {DEFAULT_CONFIG_DIR}/main.cf)")
            }
            ConfigSource::Unknown => "none: Postfix's defaults, unqualified addresses kept as queued (not this machine's queue directory; give --config-dir with the secondary's configuration)".into(),
            ConfigSource::Exim => EXIM_CONFIGURATION.into(),
        }
    }

    /// The note said once on stderr when the lifetimes or the identity are guesses.
    pub fn note(&self, root: &Path) -> Option<String> {
        match self {
            ConfigSource::Given(_) | ConfigSource::Local | ConfigSource::Exim => None,
            ConfigSource::LocalDefaults => Some(format!(
                "no {DEFAULT_CONFIG_DIR}/main.cf: using Postfix's default lifetimes (5d); pass --config-dir with the secondary's configuration"
            )),
            ConfigSource::Unknown => Some(format!(
                "{} is not this machine's queue directory and no --config-dir was given: using Postfix's default lifetimes (5d) and keeping maildrop addresses without a domain as queued; pass --config-dir with the secondary's configuration to use its lifetimes and qualify them",
                root.display()
            )),
        }
    }
}

/// The configuration for the spool at `root`: `--config-dir` when given; else this
/// machine's /etc/postfix when `root` is its own queue directory; else Postfix's
/// defaults without reading /etc/postfix at all (a copy from another machine must not
/// take this one's lifetimes or name).
pub fn spool_config(given: Option<&Path>, root: &Path) -> Result<(PostfixConfig, ConfigSource)> {
    if let Some(dir) = given {
        return Ok((
            load_config(dir, false)?,
            ConfigSource::Given(dir.to_path_buf()),
        ));
    }
    if !is_local_spool(root) {
        return Ok((PostfixConfig::default(), ConfigSource::Unknown));
    }
    let dir = Path::new(DEFAULT_CONFIG_DIR);
    let source = if dir.join("main.cf").exists() {
        ConfigSource::Local
    } else {
        ConfigSource::LocalDefaults
    };
    Ok((load_config(dir, false)?, source))
}

/// Reads `main.cf` from `dir`. A directory that does not exist, or has no main.cf, is an
/// error — except the default /etc/postfix on a machine without Postfix, which means
/// Postfix's defaults; with `note` that is said once on stderr, since the secondary's
/// own lifetimes may differ.
pub fn load_config(dir: &Path, note: bool) -> Result<PostfixConfig> {
    let main_cf = dir.join("main.cf");
    if !main_cf.exists() {
        if dir == Path::new(DEFAULT_CONFIG_DIR) {
            if note && let Some(n) = ConfigSource::LocalDefaults.note(dir) {
                eprintln!("mxsalvage: note: {n}");
            }
            return Ok(PostfixConfig::default());
        }
        if !dir.is_dir() {
            bail!(
                "--config-dir {}: no such directory (give the directory that holds the secondary's main.cf, or leave it out)",
                dir.display()
            );
        }
        bail!(
            "--config-dir {}: there is no main.cf in it (give the directory that holds the secondary's main.cf)",
            dir.display()
        );
    }
    PostfixConfig::load(dir).map_err(anyhow::Error::msg)
}

/// Names a hash subdirectory can have (one hex digit, upper case as Postfix makes them).
fn is_hash_dir_name(n: &str) -> bool {
    n.len() == 1
        && n.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Every queue name Postfix has under its queue directory (message queues, the extra
/// ones mxsalvage reads on request, and the logs).
fn is_queue_name(n: &str) -> bool {
    MESSAGE_QUEUES.contains(&n)
        || EXTRA_QUEUES.contains(&n)
        || ["bounce", "defer", "trace", "flush"].contains(&n)
}

/// Refuses a directory that is not a Postfix spool: it must exist, be readable, and hold
/// at least one of maildrop, incoming, active, deferred, hold. When `root` is itself a
/// queue or a hash subdirectory of one (the classic `--queue-dir …/deferred`), the error
/// names the spool to use instead.
pub fn check_spool(root: &Path) -> Result<()> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "{} is not a directory (give the Postfix queue directory, e.g. /var/spool/postfix)",
            root.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "permission denied reading {} (run as root or as the postfix user, or work on a copy of the spool)",
            root.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "queue directory {} does not exist (give the spool with --queue-dir, e.g. /var/spool/postfix or a copy of it)",
            root.display()
        ),
        Err(e) => bail!("cannot open queue directory {}: {e}", root.display()),
    }
    if let Err(e) = std::fs::read_dir(root) {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            bail!(
                "permission denied reading {} (run as root or as the postfix user, or work on a copy of the spool)",
                root.display()
            );
        }
        bail!("cannot read queue directory {}: {e}", root.display());
    }
    if MESSAGE_QUEUES.iter().any(|q| root.join(q).is_dir()) {
        return Ok(());
    }
    if let Some(why) = not_a_spool_because(root) {
        bail!(why);
    }
    // Inside a spool? Walk up over hash subdirectories to a queue whose parent is one.
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let mut dir = abs.as_path();
    loop {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(parent) = dir.parent() else { break };
        if is_queue_name(&name) && MESSAGE_QUEUES.iter().any(|q| parent.join(q).is_dir()) {
            let how = if dir == abs {
                format!("it is the {name} queue")
            } else {
                format!("it is inside the {name} queue")
            };
            bail!(
                "{} is not a Postfix spool: {how}; use --queue-dir {} (the directory that holds maildrop, incoming, active, deferred and hold)",
                root.display(),
                shown_like(root, parent).display()
            );
        }
        if !is_hash_dir_name(&name) {
            break;
        }
        dir = parent;
    }
    // A queue copied on its own (`cp -r …/deferred /tmp/x`): hash directories or queue files.
    // Most entries are hash directories or files named like queue IDs (not merely some:
    // any word is a valid queue ID).
    let looks_like_a_queue = std::fs::read_dir(root).is_ok_and(|rd| {
        let (mut all, mut queue_like) = (0, 0);
        for e in rd.flatten().take(1000) {
            let n = e.file_name().to_string_lossy().into_owned();
            let t = e.file_type().ok();
            all += 1;
            if (is_hash_dir_name(&n) && t.is_some_and(|t| t.is_dir()))
                || (mxsalvage::queue::id::is_queue_id(&n) && t.is_some_and(|t| t.is_file()))
            {
                queue_like += 1;
            }
        }
        queue_like > 0 && queue_like * 2 >= all
    });
    if looks_like_a_queue {
        bail!(
            "{} is not a Postfix spool: it holds queue files or hash directories, so it looks like one queue; give the directory above the queues (the one that holds maildrop, incoming, active, deferred and hold)",
            root.display()
        );
    }
    bail!(
        "{} is not a Postfix spool: it has none of maildrop, incoming, active, deferred, hold, nor is it an Exim spool (no input/ with -H files) (give the queue directory, e.g. /var/spool/postfix or /var/spool/exim4, or `postconf -h queue_directory`)",
        root.display()
    )
}

/// What a directory given as the spool is instead, when that can be told: one that
/// cannot be searched (no x bit for this user: its entries are listed but cannot be
/// opened), a Postfix configuration directory (main.cf), or a directory above one
/// (`/etc`: postfix/main.cf).
fn not_a_spool_because(root: &Path) -> Option<String> {
    let d = root.display();
    let unsearchable = std::fs::read_dir(root).is_ok_and(|rd| {
        rd.flatten().take(1).any(|e| {
            std::fs::symlink_metadata(e.path())
                .is_err_and(|err| err.kind() == std::io::ErrorKind::PermissionDenied)
        })
    });
    if unsearchable {
        return Some(format!(
            "cannot search {d}: its entries are listed but none can be opened, so the directory lacks the x (search) bit for this user (a copy stripped to 0644?); give the directories their x bit back (as the copy's owner: `chmod -R u+X,go+X {d}`) or run as root"
        ));
    }
    if let Some(spool) = exim_spool_above(root) {
        return Some(format!(
            "{d} is inside an Exim spool: use --queue-dir {} (the directory that holds input/ and msglog/)",
            shown_like(root, &spool).display()
        ));
    }
    if root.join("main.cf").is_file() {
        return Some(format!(
            "{d} is not a Postfix spool: it holds main.cf, so this is a Postfix configuration directory: give it with --config-dir {d}, and the queue directory (its queue_directory, e.g. /var/spool/postfix) with --queue-dir"
        ));
    }
    if root.join("postfix/main.cf").is_file() {
        return Some(format!(
            "{d} is not a Postfix spool: it holds postfix/main.cf, so {} is the Postfix configuration directory (--config-dir); the queue directory is its queue_directory (`postconf -h queue_directory`, e.g. /var/spool/postfix)",
            root.join("postfix").display()
        ));
    }
    None
}

/// The Exim spool `root` is a part of (`input/`, a split subdirectory of it, `msglog/`),
/// if any: the directory a `--queue-dir` should have named.
fn exim_spool_above(root: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(root).ok()?;
    abs.ancestors()
        .skip(1)
        .take(2)
        .find(|d| is_exim_spool(d))
        .map(Path::to_path_buf)
}

/// `target` written the way the user wrote `given`: relative to the working directory
/// when `given` was relative, else absolute.
fn shown_like(given: &Path, target: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return target.to_path_buf();
    };
    if given.is_absolute() {
        return target.to_path_buf();
    }
    if let Ok(r) = target.strip_prefix(&cwd) {
        return if r.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            r.to_path_buf()
        };
    }
    if cwd.starts_with(target) {
        let up = cwd.components().count() - target.components().count();
        return (0..up).map(|_| "..").collect();
    }
    target.to_path_buf()
}

/// When some of `queues` under `root` cannot be listed (permissions), a hint to append
/// to "not found" ("… but deferred, hold could not be read: …"); else empty.
pub fn unreadable_hint(root: &Path, queues: &[String]) -> String {
    let denied: Vec<&str> = queues
        .iter()
        .filter(|q| {
            std::fs::read_dir(root.join(q))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
        })
        .map(String::as_str)
        .collect();
    if denied.is_empty() {
        String::new()
    } else {
        format!(
            " — but {} could not be read: permission denied (run as root or as the postfix user, or work on a copy of the spool)",
            denied.join(", ")
        )
    }
}

/// The reader behind one `--queue-dir`: the one place that names a concrete queue
/// format. Commands read through [`Reader::source`] (`&dyn QueueSource`); what only one
/// format has (Postfix's main.cf: lifetimes, identity, long queue IDs) is asked of the
/// reader here, with an answer for every format.
// One per `--queue-dir`: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Reader {
    Postfix(Spool),
    Exim(EximSpool),
}

impl Reader {
    /// The format-neutral view every consumer takes.
    pub fn source(&self) -> &dyn QueueSource {
        match self {
            Reader::Postfix(s) => s,
            Reader::Exim(s) => s,
        }
    }

    /// The queue lifetimes in force (maximal, bounce), in seconds. Exim has none: the
    /// estimate of Debian's default retry rule (`F,4d`) stands in for both.
    pub fn lifetimes(&self) -> (i64, i64) {
        match self {
            Reader::Postfix(s) => (
                s.cfg.lifetimes.maximal_queue_lifetime,
                s.cfg.lifetimes.bounce_queue_lifetime,
            ),
            Reader::Exim(_) => (RETRY_GIVE_UP, RETRY_GIVE_UP),
        }
    }

    /// The secondary's own name and origin domain (`myhostname`, `myorigin`), when known.
    pub fn identity(&self) -> (Option<String>, Option<String>) {
        match self {
            Reader::Postfix(s) => (
                s.cfg.cleanup.myhostname.clone(),
                s.cfg.cleanup.myorigin.clone(),
            ),
            Reader::Exim(_) => (None, None),
        }
    }

    /// Whether queue IDs are listed in their long form (`mailq`'s column width).
    pub fn long_queue_ids(&self) -> bool {
        match self {
            Reader::Postfix(s) => s.cfg.enable_long_queue_ids,
            Reader::Exim(_) => false,
        }
    }
}

/// One opened spool with the configuration in force.
pub struct Opened {
    pub reader: Reader,
    pub master: MasterState,
    /// Which configuration the reader's settings came from.
    pub config: ConfigSource,
}

impl Opened {
    /// The queue directory as given.
    pub fn root(&self) -> &Path {
        self.reader.source().root()
    }

    /// Whether the MTA runs on this spool (`None`: cannot tell).
    pub fn running(&self) -> Option<bool> {
        match self.master {
            MasterState::Running => Some(true),
            MasterState::NotRunning => Some(false),
            MasterState::Unknown(_) => None,
        }
    }
}

/// The spools of a run, opened, with the configuration in force.
pub struct SpoolCtx {
    /// One per `--queue-dir`, in the order given (never empty).
    pub spools: Vec<Opened>,
}

impl SpoolCtx {
    pub fn open(a: &SpoolArgs, queues: Vec<String>) -> Result<SpoolCtx> {
        let roots = match (a.queue_dir.is_empty(), a.config_dir.first()) {
            (false, _) => a.queue_dir.clone(),
            (true, Some(c)) => vec![default_queue_dir(c)],
            (true, None) => vec![default_queue_dir(Path::new(DEFAULT_CONFIG_DIR))],
        };
        let configs: Vec<Option<&Path>> = match a.config_dir.len() {
            0 => vec![None; roots.len()],
            1 => vec![Some(a.config_dir[0].as_path()); roots.len()],
            n if n == roots.len() => a.config_dir.iter().map(|c| Some(c.as_path())).collect(),
            n => bail!(
                "--config-dir given {n} times for {} --queue-dir: give it once for all spools, or once per --queue-dir in the same order",
                roots.len()
            ),
        };
        let mut seen = std::collections::BTreeMap::new();
        for r in &roots {
            let canon = std::fs::canonicalize(r).unwrap_or_else(|_| r.clone());
            if let Some(first) = seen.insert(canon, r) {
                bail!(
                    "--queue-dir {} and {} are the same spool: give each spool once",
                    first.display(),
                    r.display()
                );
            }
        }
        let spools = (roots.iter().zip(configs))
            .map(|(root, config_dir)| open_one(a, config_dir, root, queues.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(SpoolCtx { spools })
    }

    /// The first spool given (the only one, usually).
    pub fn first(&self) -> &Opened {
        &self.spools[0]
    }

    /// What the commands read: the spools as one source (with one spool, that spool's
    /// own answers, untouched).
    pub fn source(&self) -> Merged<'_> {
        Merged::new(self.spools.iter().map(|o| o.reader.source()).collect())
    }

    /// Whether the MTA runs on the spools: `Some(true)` when on any of them.
    pub fn running(&self) -> Option<bool> {
        let states: Vec<Option<bool>> = self.spools.iter().map(Opened::running).collect();
        if states.contains(&Some(true)) {
            Some(true)
        } else if states.iter().all(|s| *s == Some(false)) {
            Some(false)
        } else {
            None
        }
    }

    /// Warns on stderr when Postfix runs on a spool.
    pub fn warn_if_running(&self) {
        for o in &self.spools {
            if let MasterState::Running = o.master {
                eprintln!(
                    "mxsalvage: warning: Postfix is running on {}; files may move or change while they are read",
                    o.root().display()
                );
            }
        }
    }

    /// Says once on stderr when a spool's file modes look rewritten by a copy and are
    /// not used (`scan` puts this into its report instead).
    pub fn note_modes(&self) {
        for o in &self.spools {
            if let Some(note) = o.reader.source().mode_verdict().note {
                eprintln!("mxsalvage: note: {}: {note}", o.root().display());
            }
        }
    }
}

/// What scan's heading says of an Exim spool's configuration.
pub const EXIM_CONFIGURATION: &str = "Exim spool: Exim has no queue lifetime; expiry estimated as 4 days after arrival (the retry rule F,4d of Debian's default configuration); frozen messages do not expire";

/// Opens the spool at `root` with the configuration the flags and the machine give: an
/// Exim spool (recognised by its layout: [`is_exim_spool`]) or a Postfix one.
fn open_one(
    a: &SpoolArgs,
    config_dir: Option<&Path>,
    root: &Path,
    queues: Vec<String>,
) -> Result<Opened> {
    if is_exim_spool(root) {
        return Ok(Opened {
            reader: Reader::Exim(EximSpool::open(root)),
            master: MasterState::Unknown("an Exim spool".into()),
            config: ConfigSource::Exim,
        });
    }
    let (mut cfg, config) = spool_config(config_dir, root)?;
    let life = &mut cfg.lifetimes;
    if let Some(v) = &a.max_queue_lifetime {
        life.maximal_queue_lifetime = parse_duration(v, 'd')
            .with_context(|| format!("bad --max-queue-lifetime {v:?} (use e.g. 5d, 12h)"))?;
    }
    if let Some(v) = &a.bounce_queue_lifetime {
        life.bounce_queue_lifetime =
            parse_duration(v, 'd').with_context(|| format!("bad --bounce-queue-lifetime {v:?}"))?;
    }
    cfg.lifetimes = cfg.lifetimes.capped();
    check_spool(root)?;
    if let Some(n) = config.note(root) {
        eprintln!("mxsalvage: note: {n}");
    }
    let master = master_state(root);
    let modes = chosen(
        [
            (a.trust_modes, ModeChoice::Trust),
            (a.ignore_modes, ModeChoice::Ignore),
        ],
        ModeChoice::Auto,
    );
    Ok(Opened {
        reader: Reader::Postfix(Spool::open(root, cfg, queues).with_modes(modes)),
        master,
        config,
    })
}

/// What a set of flags that exclude each other chose: the value of the first flag
/// given, else `default` (clap's `conflicts_with` keeps it to one).
pub fn chosen<T, const N: usize>(flags: [(bool, T); N], default: T) -> T {
    flags
        .into_iter()
        .find_map(|(given, v)| given.then_some(v))
        .unwrap_or(default)
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
