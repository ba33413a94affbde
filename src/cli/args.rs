//! Command-line definitions (clap). Owns the flags and their help text; the man page and
//! shell completions are generated from these definitions. Nothing outside `main.rs` and
//! `commands/` imports clap types: each command turns its args into plain values first.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mxsalvage",
    version,
    about = "Read a Postfix queue (or an Exim 4 spool) directly: see what is stuck, export it per recipient, re-inject it exactly once",
    long_about = "mxsalvage reads a Postfix secondary MX's queue files directly — read-only, with Postfix \
stopped or running, or from a copy of the spool — so mail stuck while the primary is down can be \
handed to its users before Postfix bounces it. It never writes to the queue.\n\nThe outage in order: \
`scan` (what is stuck, for whom, when it bounces), `postsuper -h ALL deferred` (hold it), `export` \
(one bundle per recipient: mbox, Maildir, .eml, text, HTML, zip), `verify`, then hand the bundles out \
or serve them read-only over IMAP (`dovecot`); when the primary is back, `reinject` (exactly once, \
with the original envelope), `journal`, and `journal --sent-ids | postsuper -d -`. docs/runbook.md \
in the source walks through it.\n\nAn Exim 4 backup MX's spool (/var/spool/exim4, flat or \
split_spool_directory) given with --queue-dir is recognised by its layout and read the same way: \
hold it with `exim -Mf` (or queue_only), and after the re-injection delete with `exim -Mrm`.\n\nExit status: 0 everything done, 1 partial (some \
items failed; all are listed), 2 usage or fatal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what is stuck: per queue, per recipient, per domain, why, and when it bounces
    ///
    /// Reads every queue file of the spool (maildrop, incoming, active, deferred, hold)
    /// without writing to it and reports, per queue, per pending recipient and per domain,
    /// how much mail waits, the most common defer reasons, what bounces within 24 hours
    /// and what is on hold. Each earliest bounce time is the message's create time plus
    /// maximal_queue_lifetime (bounce_queue_lifetime for null-sender mail), read from
    /// main.cf. --json, --format postqueue and --list give the same facts for scripts.
    /// On an Exim spool: every message in input/ (frozen ones listed as queue "frozen"),
    /// the recipients Exim still has to deliver, and an expiry estimated 4 days after
    /// arrival (the retry rule of Debian's default configuration; frozen mail never).
    Scan(ScanArgs),
    /// Show one queued message as Postfix sees it (postcat-compatible)
    ///
    /// Prints queue files as postcat(1) does, with the same options (-e envelope, -h
    /// headers, -b body, -q queue IDs looked up in the queue directory), byte for byte the
    /// same output. --states lists each recipient record's state: pending, done or
    /// cancelled. An Exim message (-q on an Exim spool, or an ID-H file) is printed as
    /// `exim -Mvc` prints it (-h its headers, -b its body).
    Cat(CatArgs),
    /// Write per-recipient mbox, Maildir, .eml and text bundles plus a JSON manifest
    ///
    /// Writes one bundle per pending recipient into --out: mbox, Maildir, .eml files,
    /// readable text and an HTML index, optionally one zip per recipient (AES-encrypted
    /// with --zip-password-file), plus manifest.json listing every file with its SHA-256.
    /// Each copy is the message exactly as Postfix would deliver it, with Return-Path:,
    /// X-Original-To: and Delivered-To: added. --update adds what is new since an earlier
    /// export (and finishes one that was interrupted); --force replaces one.
    Export(ExportArgs),
    /// Send an export into the recovered primary over SMTP/LMTP with the original envelope, exactly once
    ///
    /// Sends every pending (message, recipient) pair of an export with its original
    /// envelope: sender, recipients, DSN parameters, 8BITMIME, SMTPUTF8. A journal in the
    /// export records each pair's outcome, so a rerun never sends an accepted pair twice.
    /// Permanent refusals are reported to the sender as a DSN, as Postfix would.
    Reinject(ReinjectArgs),
    /// What the reinject journal says, per message and pair; --sent-ids: the queue IDs the secondary may delete
    ///
    /// Reads an export's manifest and its reinject journal and reports, for every message
    /// and every pending pair, whether it was sent, failed (and whether its DSN went
    /// out), deferred, unknown or not tried. --sent-ids prints the queue IDs of the
    /// messages that are done, the input of `postsuper -d -`.
    Journal(JournalArgs),
    /// Check an export against its manifest
    ///
    /// Re-reads the whole export: every file's size and SHA-256, every mbox and Maildir
    /// message by message against the archive copies, every zip entry, and any file the
    /// manifest does not list. An export that never finished (interrupted) is reported in
    /// one line with how to finish it (export --update), exit 2.
    Verify(VerifyArgs),
    /// Write a Dovecot configuration that serves an export read-only over IMAPS, with a handout per user
    ///
    /// Writes a self-contained configuration for the system's Dovecot that serves each
    /// mailbox of an export (made with --reader) as one IMAP user, read-only, with the
    /// zip passwords as IMAP passwords, a TLS certificate, and a handout page per user
    /// saying how to set up their mail program.
    Dovecot(DovecotArgs),
    /// Print the man page (roff) to standard output: the main page, or one command's
    ///
    /// Prints mxsalvage(1), or mxsalvage-COMMAND(1) for one command. --install writes
    /// every page into PREFIX/share/man/man1 and the bash, zsh and fish completions into
    /// PREFIX/share/bash-completion/completions, PREFIX/share/zsh/site-functions and
    /// PREFIX/share/fish/vendor_completions.d (PREFIX defaults to /usr/local), and prints
    /// each path written.
    Man {
        /// scan, cat, export, reinject, journal, verify, dovecot, man or completions
        #[arg(conflicts_with = "install")]
        command: Option<String>,
        /// Install every man page and the bash, zsh and fish completions under --prefix
        #[arg(long)]
        install: bool,
        /// Where --install writes (PREFIX/share/man/man1, PREFIX/share/bash-completion, …)
        #[arg(
            long,
            value_name = "DIR",
            default_value = "/usr/local",
            requires = "install"
        )]
        prefix: PathBuf,
    },
    /// Print shell completions to standard output
    ///
    /// Prints the completion script for one shell; `mxsalvage man --install` installs the
    /// bash, zsh and fish ones where those shells look for them.
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

/// A comma list of export formats, kept as typed (`Formats::parse` checks it and gives
/// the error); the names are offered to shell completion.
#[derive(Clone)]
pub struct FormatList;

impl clap::builder::TypedValueParser for FormatList {
    type Value = String;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }
    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let names = mxsalvage::export::sinks::SINKS.iter().map(|s| s.name());
        Some(Box::new(
            names
                .chain(["all", "none"])
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// Where the spool and its configuration are.
#[derive(Debug, Args, Clone)]
pub struct SpoolArgs {
    /// Queue directory: a Postfix spool, or an Exim 4 spool (recognised by its input/) (default: `postconf -h queue_directory`, else /var/spool/postfix); repeatable: several backup MXs' spools read as one, each recipient getting a message once (docs/export.md)
    #[arg(long, value_name = "DIR")]
    pub queue_dir: Vec<PathBuf>,
    /// The secondary's Postfix configuration directory holding main.cf (lifetimes, hashing, myorigin) [default: /etc/postfix when the queue directory is this machine's own, else none: Postfix's defaults]; with several --queue-dir: once for all, or once per --queue-dir in the same order
    #[arg(long, value_name = "DIR")]
    pub config_dir: Vec<PathBuf>,
    /// Override maximal_queue_lifetime (e.g. 5d, 12h)
    #[arg(long, value_name = "DUR")]
    pub max_queue_lifetime: Option<String>,
    /// Override bounce_queue_lifetime (e.g. 5d)
    #[arg(long, value_name = "DUR")]
    pub bounce_queue_lifetime: Option<String>,
    /// Use the file modes as Postfix does even when they look rewritten by a copy (no owner execute = still being written; group execute = forced expiry)
    #[arg(long, conflicts_with = "ignore_modes")]
    pub trust_modes: bool,
    /// Never use the file modes: judge each file's completeness from its content (a copy whose modes are unreliable)
    #[arg(long)]
    pub ignore_modes: bool,
}

/// Which messages and recipients a command works on.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Only this recipient (case-insensitive; repeatable)
    #[arg(long, value_name = "ADDR")]
    pub recipient: Vec<String>,
    /// Only recipients in this domain (repeatable)
    #[arg(long, value_name = "D")]
    pub domain: Vec<String>,
    /// Only these queues (maildrop, incoming, active, deferred, hold, corrupt; repeatable)
    #[arg(long, value_name = "Q")]
    pub queue: Vec<String>,
    /// The secondary's plain-text recipient lists (`address anything` lines; repeatable); others are flagged
    #[arg(long, value_name = "FILE")]
    pub valid_recipients: Vec<PathBuf>,
    /// With --valid-recipients: leave out recipients not in the lists
    #[arg(long)]
    pub only_valid: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub spool: SpoolArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// One JSON document on standard output instead of the report (= --format json)
    #[arg(long, conflicts_with_all = ["format", "list"])]
    pub json: bool,
    /// Output: text (the report), json (one document), postqueue (JSON lines as `postqueue -j` prints them), mailq (the `mailq` listing)
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json", "postqueue", "mailq"])]
    pub format: Option<String>,
    /// List every message as `mailq` does (= --format mailq)
    #[arg(long, conflicts_with = "format")]
    pub list: bool,
    /// Only these queue IDs (repeatable)
    #[arg(long, value_name = "QUEUE_ID")]
    pub id: Vec<String>,
    /// Number of worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CatArgs {
    /// Print the message body (from the first non-header line)
    #[arg(short = 'b')]
    pub body: bool,
    /// Print the message headers
    #[arg(short = 'h')]
    pub header: bool,
    /// Print the envelope records
    #[arg(short = 'e')]
    pub envelope: bool,
    /// Arguments are queue IDs, looked up in the queue directory
    #[arg(short = 'q')]
    pub by_id: bool,
    /// Print the queue file offset of each record
    #[arg(short = 'o')]
    pub offsets: bool,
    /// Print the decimal type of each record
    #[arg(short = 'd')]
    pub decimal: bool,
    /// Print the file name before each line
    #[arg(short = 'f')]
    pub pathname: bool,
    /// Records in file order, pointer records not followed (as postcat: with -v)
    #[arg(short = 'r')]
    pub raw: bool,
    /// Start at this queue file offset (no envelope heading)
    #[arg(short = 's', value_name = "OFFSET")]
    pub start: Option<String>,
    /// Verbose, as postcat -v: pointer and padding records shown, text records named
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// After each file, list every recipient record's state (pending, done, cancelled) and offset
    #[arg(long)]
    pub states: bool,
    /// Queue directory for -q, Postfix or Exim 4 (default: queue_directory of main.cf, else `postconf -h queue_directory`, else /var/spool/postfix)
    #[arg(long, value_name = "DIR")]
    pub queue_dir: Option<PathBuf>,
    /// Postfix configuration directory (main.cf: queue directory and hashing for -q; default $MAIL_CONFIG, else /etc/postfix)
    #[arg(short = 'c', long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// With -q: refuse a file whose mode says it is still being written (no owner execute bit)
    #[arg(long)]
    pub trust_modes: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Queue files (or queue IDs with -q); none: standard input
    #[arg(value_name = "FILE|QUEUE_ID")]
    pub items: Vec<String>,
}

/// `export --spam-action` (the library's `filter::verdict::SpamAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpamActionArg {
    Junk,
    Keep,
    Withhold,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub spool: SpoolArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub scan: FilterArgs,
    /// Output directory (must not exist or be empty, unless --update or --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Formats kept as trees under recipients/<dir>/: comma list of mbox, maildir, eml, text, html (index.html and a page per message), or all, or none [default: mbox,maildir,eml,text,html; with --zip: none]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = FormatList, hide_possible_values = true)]
    pub format: Option<Vec<String>>,
    /// Also write one zip per recipient (rendered from the archive copies; the trees are not needed)
    #[arg(long)]
    pub zip: bool,
    /// Formats inside each zip: comma list as for --format [default: html,eml]
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "zip", value_parser = FormatList, hide_possible_values = true)]
    pub zip_formats: Option<Vec<String>>,
    /// Encrypt each recipient's zip with AES-256; file lines are `address password` (or the generated format 2: `address<TAB>password`, escaped; see docs/export.md)
    #[arg(long, value_name = "FILE", requires = "zip")]
    pub zip_password_file: Option<PathBuf>,
    /// Make a fresh random password for every mailbox, write them to FILE (0600, format 2: `address<TAB>password` lines with escapes, never printed) and a handout per user to FILE.handouts/, and encrypt the zips with them
    #[arg(long, value_name = "FILE", requires = "zip", conflicts_with_all = ["zip_password_file", "update"])]
    pub generate_passwords: Option<PathBuf>,
    /// Accept a --zip-password-file that group or others may read (refused otherwise, as ssh refuses such a key)
    #[arg(long, requires = "zip_password_file")]
    pub allow_readable_passwords: bool,
    /// Only these queue IDs (repeatable)
    #[arg(long, value_name = "QUEUE_ID")]
    pub id: Vec<String>,
    /// Only mail that arrived at or after TIME (RFC 3339, `YYYY-MM-DD`, or @epoch)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only mail that arrived before TIME
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Also export recipients already delivered or bounced
    #[arg(long)]
    pub include_done: bool,
    /// Let a mail server's account read the mailboxes (Maildir, mbox) without being able to change them: GROUP (default: USER's group) gets read access; an update keeps it
    #[arg(long, value_name = "USER[:GROUP]")]
    pub reader: Option<String>,
    /// Where messages the spam filter calls spam go: junk (each bundle's Junk: Maildir/.Junk, junk.mbox, Junk/, the page's spam section), keep (the inbox, like other mail) or withhold (in no bundle, like malware; the administrator keeps them) [default: junk; an update keeps the export's]
    #[arg(long, value_name = "ACTION", value_enum)]
    pub spam_action: Option<SpamActionArg>,
    /// Number of worker threads (default: all cores)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Add what is not exported yet to an existing export
    #[arg(long, conflicts_with = "force")]
    pub update: bool,
    /// Replace an existing export
    #[arg(long)]
    pub force: bool,
    /// Write even when the disk-space estimate says OUT's file system is too small
    #[arg(long)]
    pub no_space_check: bool,
    /// Read the envelopes and print what would be exported and the disk space it needs (even with --quiet); write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar and no summary
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON on standard output
    #[arg(long)]
    pub json: bool,
    /// At the end, print each phase's wall time, CPU time and bytes read and written (stderr)
    #[arg(long)]
    pub timings: bool,
}

#[derive(Debug, Args)]
pub struct ReinjectArgs {
    /// Export directory (its manifest.json and messages/)
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: PathBuf,
    #[command(flatten)]
    pub scan: FilterArgs,
    /// Target server, HOST[:PORT] (port 25 for SMTP, 24 for LMTP by default)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub to: String,
    /// Speak LMTP instead of SMTP
    #[arg(long)]
    pub lmtp: bool,
    /// Require STARTTLS
    #[arg(long, conflicts_with_all = ["tls", "no_tls"])]
    pub starttls: bool,
    /// Connect with TLS from the start (SMTPS)
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Never use TLS (default: STARTTLS when offered)
    #[arg(long)]
    pub no_tls: bool,
    /// Accept any server certificate (a primary with a self-signed certificate)
    #[arg(long)]
    pub insecure: bool,
    /// SMTP AUTH user
    #[arg(long, value_name = "USER", requires = "auth_password_file")]
    pub auth_user: Option<String>,
    /// File holding the SMTP AUTH password
    #[arg(long, value_name = "FILE", requires = "auth_user")]
    pub auth_password_file: Option<PathBuf>,
    /// Name to send in EHLO/LHLO (default: this host's name)
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// Parallel sessions (sessions the server does not admit give way to those it does)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub connections: usize,
    /// Messages per second at most (all sessions together)
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,
    /// Only this recipient (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub recipient: Vec<String>,
    /// Only recipients in this domain (repeatable)
    #[arg(long, value_name = "D")]
    pub domain: Vec<String>,
    /// Only these queue IDs (repeatable)
    #[arg(long, value_name = "QUEUE_ID")]
    pub id: Vec<String>,
    /// Attempts per recipient on temporary failures in this run
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: u32,
    /// Seconds before the second attempt after a temporary failure; doubles for each further one (at most 300)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub retry_delay: f64,
    /// Seconds for connecting, for each write, and for the whole of each reply (a server that trickles a reply byte by byte gets no longer)
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Seconds for the whole of each reply after the final dot (the primary may scan the mail first; RFC 5321 says 10 minutes)
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub dot_timeout: f64,
    /// Retry recipients the journal lists as failed (5xx)
    #[arg(long)]
    pub retry_failed: bool,
    /// Send again recipients whose outcome is unknown (may deliver twice)
    #[arg(long)]
    pub resend_unknown: bool,
    /// Also send messages whose recorded verdict is malware (withheld by default: the primary may not scan mail from the secondary); only for a primary that scans everything it receives
    #[arg(long)]
    pub include_malware: bool,
    /// Do not send DSNs for refused recipients: write them as .eml files into EXPORT_DIR/bounces/ instead
    #[arg(long, conflicts_with = "bounce_via")]
    pub no_bounces: bool,
    /// Send DSNs through this server instead of the target: smtp://HOST[:PORT], lmtp://HOST[:PORT] or HOST[:PORT]
    #[arg(long, value_name = "URL")]
    pub bounce_via: Option<String>,
    /// Where reports about refused mail with the null sender go (no DSN is ever sent to the null sender)
    #[arg(long, value_name = "ADDR", default_value = "postmaster")]
    pub postmaster: String,
    /// The name DSNs give as the reporting mail system (default: the secondary's myhostname from the manifest)
    #[arg(long, value_name = "NAME")]
    pub reporting_mta: Option<String>,
    /// What a DSN returns: headers (the original's header only, unless the sender asked for RET=FULL) or full (the whole original up to 50,000 bytes)
    #[arg(long, value_name = "WHAT", value_parser = ["headers", "full"], default_value = "headers")]
    pub dsn_return: String,
    /// DSNs to one sender address in one run at most; the rest are suppressed (journaled, listed by `journal`)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_dsns_per_sender: usize,
    /// DSNs to one sender domain in one run at most; the rest are suppressed
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_dsns_per_domain: usize,
    /// Send (or with --no-bounces write) the DSNs an earlier run suppressed, for the selected messages and recipients
    #[arg(long)]
    pub send_suppressed: bool,
    /// Circuit breaker: stop before any DSN when at least this many distinct recipients are refused permanently...
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub breaker_refused: usize,
    /// ...and they are at least this percentage of the distinct recipients the primary answered so far
    #[arg(long, value_name = "PERCENT", default_value_t = 80)]
    pub breaker_percent: u32,
    /// Do not stop on mass refusals (after checking the primary: the refusals are right); refused pairs become failed and get their DSNs
    #[arg(long)]
    pub accept_refusals: bool,
    /// Also send pairs the journal records as sent to another target (a deliberate second destination; without it such a run is refused)
    #[arg(long)]
    pub new_target: bool,
    /// Journal file (default: EXPORT_DIR/reinject-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Print the transactions without connecting
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Export directory (its manifest.json)
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: PathBuf,
    /// Journal file (default: EXPORT_DIR/reinject-journal.jsonl)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// The whole report as one JSON document
    #[arg(long, conflicts_with = "sent_ids")]
    pub json: bool,
    /// Print only the queue IDs whose every pending pair is sent (delivered), one per line (the input of `postsuper -d -`); for an export of several spools, per spool the commands that delete them there (`postsuper -d ID`, `exim -Mrm ID`)
    #[arg(long)]
    pub sent_ids: bool,
    /// With --sent-ids: also the messages with refused pairs whose DSNs are done (sent, written, suppressed on purpose, or not owed)
    #[arg(long, requires = "sent_ids")]
    pub include_refused: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Export directory
    #[arg(value_name = "EXPORT_DIR")]
    pub dir: PathBuf,
    /// Password file used for --zip-password-file (to test that encrypted zips open)
    #[arg(long, value_name = "FILE")]
    pub zip_password_file: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DovecotArgs {
    /// Export directory (made with `export --reader USER`)
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: PathBuf,
    /// The zip password file (`address password` lines, or the generated format 2): each user's IMAP password
    #[arg(long, value_name = "FILE")]
    pub zip_password_file: PathBuf,
    /// Address and port for IMAPS (implicit TLS), e.g. 0.0.0.0:10993 or [::]:993
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: String,
    /// Configuration directory to write (new, empty, or written by this command before)
    #[arg(long, value_name = "CONF_DIR")]
    pub out: PathBuf,
    /// Server name users enter (default: the listen address, or this host's name for 0.0.0.0/[::])
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// TLS certificate chain, PEM (default: a generated self-signed one)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key, PEM
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The content filters: `export` asks them about every new message; `reinject` only
/// about a message owed a DSN that the export recorded no verdict for.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Spam filter: rspamd://HOST:PORT (rspamd's normal worker) or spamd://HOST:PORT (SpamAssassin's spamd); export asks it about every new message, reinject about a message owed a DSN that the export has no verdict for; off unless given
    #[arg(long, value_name = "URL")]
    pub spam_filter: Option<String>,
    /// Virus scanner: clamd:///path/to/socket or clamd://HOST:PORT (asked as the spam filter is)
    #[arg(long, value_name = "URL")]
    pub virus_scan: Option<String>,
    /// Seconds one filter request may take before the message is listed as unscanned [default: 60]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub filter_timeout: Option<u64>,
    /// Filter requests in flight at most [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub scan_jobs: Option<u64>,
}
