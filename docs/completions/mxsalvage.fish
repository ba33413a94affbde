# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mxsalvage_global_optspecs
    string join \n h/help V/version
end

function __fish_mxsalvage_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mxsalvage_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mxsalvage_using_subcommand
    set -l cmd (__fish_mxsalvage_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -s V -l version -d 'Print version'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "scan" -d 'Show what is stuck: per queue, per recipient, per domain, why, and when it bounces'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "cat" -d 'Show one queued message as Postfix sees it (postcat-compatible)'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "export" -d 'Write per-recipient mbox, Maildir, .eml and text bundles plus a JSON manifest'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "reinject" -d 'Send an export into the recovered primary over SMTP/LMTP with the original envelope, exactly once'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "journal" -d 'What the reinject journal says, per message and pair; --sent-ids: the queue IDs the secondary may delete'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "verify" -d 'Check an export against its manifest'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "dovecot" -d 'Write a Dovecot configuration that serves an export read-only over IMAPS, with a handout per user'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "man" -d 'Print the man page (roff) to standard output: the main page, or one command\'s'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "completions" -d 'Print shell completions to standard output'
complete -c mxsalvage -n "__fish_mxsalvage_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l queue-dir -d 'Queue directory: a Postfix spool, or an Exim 4 spool (recognised by its input/) (default: `postconf -h queue_directory`, else /var/spool/postfix); repeatable: several backup MXs\' spools read as one, each recipient getting a message once (docs/export.md)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l config-dir -d 'The secondary\'s Postfix configuration directory holding main.cf (lifetimes, hashing, myorigin) [default: /etc/postfix when the queue directory is this machine\'s own, else none: Postfix\'s defaults]; with several --queue-dir: once for all, or once per --queue-dir in the same order' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l max-queue-lifetime -d 'Override maximal_queue_lifetime (e.g. 5d, 12h)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l bounce-queue-lifetime -d 'Override bounce_queue_lifetime (e.g. 5d)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l recipient -d 'Only this recipient (case-insensitive; repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l domain -d 'Only recipients in this domain (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l queue -d 'Only these queues (maildrop, incoming, active, deferred, hold, corrupt; repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l valid-recipients -d 'The secondary\'s plain-text recipient lists (`address anything` lines; repeatable); others are flagged' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l format -d 'Output: text (the report), json (one document), postqueue (JSON lines as `postqueue -j` prints them), mailq (the `mailq` listing)' -r -f -a "text\t''
json\t''
postqueue\t''
mailq\t''"
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l id -d 'Only these queue IDs (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l jobs -d 'Number of worker threads (default: all cores)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l trust-modes -d 'Use the file modes as Postfix does even when they look rewritten by a copy (no owner execute = still being written; group execute = forced expiry)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l ignore-modes -d 'Never use the file modes: judge each file\'s completeness from its content (a copy whose modes are unreliable)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l only-valid -d 'With --valid-recipients: leave out recipients not in the lists'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l json -d 'One JSON document on standard output instead of the report (= --format json)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -l list -d 'List every message as `mailq` does (= --format mailq)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand scan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s s -d 'Start at this queue file offset (no envelope heading)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -l queue-dir -d 'Queue directory for -q, Postfix or Exim 4 (default: queue_directory of main.cf, else `postconf -h queue_directory`, else /var/spool/postfix)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s c -l config-dir -d 'Postfix configuration directory (main.cf: queue directory and hashing for -q; default $MAIL_CONFIG, else /etc/postfix)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s b -d 'Print the message body (from the first non-header line)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s h -d 'Print the message headers'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s e -d 'Print the envelope records'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s q -d 'Arguments are queue IDs, looked up in the queue directory'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s o -d 'Print the queue file offset of each record'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s d -d 'Print the decimal type of each record'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s f -d 'Print the file name before each line'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s r -d 'Records in file order, pointer records not followed (as postcat: with -v)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -s v -d 'Verbose, as postcat -v: pointer and padding records shown, text records named'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -l states -d 'After each file, list every recipient record\'s state (pending, done, cancelled) and offset'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -l trust-modes -d 'With -q: refuse a file whose mode says it is still being written (no owner execute bit)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand cat" -l help -d 'Print help'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l queue-dir -d 'Queue directory: a Postfix spool, or an Exim 4 spool (recognised by its input/) (default: `postconf -h queue_directory`, else /var/spool/postfix); repeatable: several backup MXs\' spools read as one, each recipient getting a message once (docs/export.md)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l config-dir -d 'The secondary\'s Postfix configuration directory holding main.cf (lifetimes, hashing, myorigin) [default: /etc/postfix when the queue directory is this machine\'s own, else none: Postfix\'s defaults]; with several --queue-dir: once for all, or once per --queue-dir in the same order' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l max-queue-lifetime -d 'Override maximal_queue_lifetime (e.g. 5d, 12h)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l bounce-queue-lifetime -d 'Override bounce_queue_lifetime (e.g. 5d)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l recipient -d 'Only this recipient (case-insensitive; repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l domain -d 'Only recipients in this domain (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l queue -d 'Only these queues (maildrop, incoming, active, deferred, hold, corrupt; repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l valid-recipients -d 'The secondary\'s plain-text recipient lists (`address anything` lines; repeatable); others are flagged' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l spam-filter -d 'Spam filter: rspamd://HOST:PORT (rspamd\'s normal worker) or spamd://HOST:PORT (SpamAssassin\'s spamd); export asks it about every new message, reinject about a message owed a DSN that the export has no verdict for; off unless given' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l virus-scan -d 'Virus scanner: clamd:///path/to/socket or clamd://HOST:PORT (asked as the spam filter is)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l filter-timeout -d 'Seconds one filter request may take before the message is listed as unscanned [default: 60]' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l scan-jobs -d 'Filter requests in flight at most [default: 8]' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l out -d 'Output directory (must not exist or be empty, unless --update or --force)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l format -d 'Formats kept as trees under recipients/<dir>/: comma list of mbox, maildir, eml, text, html (index.html and a page per message), or all, or none [default: mbox,maildir,eml,text,html; with --zip: none]' -r -f -a "mbox\t''
maildir\t''
eml\t''
text\t''
html\t''
all\t''
none\t''"
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l zip-formats -d 'Formats inside each zip: comma list as for --format [default: html,eml]' -r -f -a "mbox\t''
maildir\t''
eml\t''
text\t''
html\t''
all\t''
none\t''"
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l zip-password-file -d 'Encrypt each recipient\'s zip with AES-256; file lines are `address password` (or the generated format 2: `address<TAB>password`, escaped; see docs/export.md)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l generate-passwords -d 'Make a fresh random password for every mailbox, write them to FILE (0600, format 2: `address<TAB>password` lines with escapes, never printed) and a handout per user to FILE.handouts/, and encrypt the zips with them' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l id -d 'Only these queue IDs (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l since -d 'Only mail that arrived at or after TIME (RFC 3339, `YYYY-MM-DD`, or @epoch)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l until -d 'Only mail that arrived before TIME' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l reader -d 'Let a mail server\'s account read the mailboxes (Maildir, mbox) without being able to change them: GROUP (default: USER\'s group) gets read access; an update keeps it' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l spam-action -d 'Where messages the spam filter calls spam go: junk (each bundle\'s Junk: Maildir/.Junk, junk.mbox, Junk/, the page\'s spam section), keep (the inbox, like other mail) or withhold (in no bundle, like malware; the administrator keeps them) [default: junk; an update keeps the export\'s]' -r -f -a "junk\t''
keep\t''
withhold\t''"
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l jobs -d 'Number of worker threads (default: all cores)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l trust-modes -d 'Use the file modes as Postfix does even when they look rewritten by a copy (no owner execute = still being written; group execute = forced expiry)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l ignore-modes -d 'Never use the file modes: judge each file\'s completeness from its content (a copy whose modes are unreliable)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l only-valid -d 'With --valid-recipients: leave out recipients not in the lists'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l zip -d 'Also write one zip per recipient (rendered from the archive copies; the trees are not needed)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l allow-readable-passwords -d 'Accept a --zip-password-file that group or others may read (refused otherwise, as ssh refuses such a key)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l include-done -d 'Also export recipients already delivered or bounced'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l update -d 'Add what is not exported yet to an existing export'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l force -d 'Replace an existing export'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l no-space-check -d 'Write even when the disk-space estimate says OUT\'s file system is too small'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l dry-run -d 'Read the envelopes and print what would be exported and the disk space it needs (even with --quiet); write nothing'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l quiet -d 'No progress bar and no summary'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l json -d 'Print the summary as JSON on standard output'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -l timings -d 'At the end, print each phase\'s wall time, CPU time and bytes read and written (stderr)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l from -d 'Export directory (its manifest.json and messages/)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l spam-filter -d 'Spam filter: rspamd://HOST:PORT (rspamd\'s normal worker) or spamd://HOST:PORT (SpamAssassin\'s spamd); export asks it about every new message, reinject about a message owed a DSN that the export has no verdict for; off unless given' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l virus-scan -d 'Virus scanner: clamd:///path/to/socket or clamd://HOST:PORT (asked as the spam filter is)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l filter-timeout -d 'Seconds one filter request may take before the message is listed as unscanned [default: 60]' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l scan-jobs -d 'Filter requests in flight at most [default: 8]' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l to -d 'Target server, HOST[:PORT] (port 25 for SMTP, 24 for LMTP by default)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l auth-user -d 'SMTP AUTH user' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l auth-password-file -d 'File holding the SMTP AUTH password' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l helo -d 'Name to send in EHLO/LHLO (default: this host\'s name)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l connections -d 'Parallel sessions (sessions the server does not admit give way to those it does)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l rate -d 'Messages per second at most (all sessions together)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l recipient -d 'Only this recipient (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l domain -d 'Only recipients in this domain (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l id -d 'Only these queue IDs (repeatable)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l max-retries -d 'Attempts per recipient on temporary failures in this run' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l retry-delay -d 'Seconds before the second attempt after a temporary failure; doubles for each further one (at most 300)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l timeout -d 'Seconds for connecting, for each write, and for the whole of each reply (a server that trickles a reply byte by byte gets no longer)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l dot-timeout -d 'Seconds for the whole of each reply after the final dot (the primary may scan the mail first; RFC 5321 says 10 minutes)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l bounce-via -d 'Send DSNs through this server instead of the target: smtp://HOST[:PORT], lmtp://HOST[:PORT] or HOST[:PORT]' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l postmaster -d 'Where reports about refused mail with the null sender go (no DSN is ever sent to the null sender)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l reporting-mta -d 'The name DSNs give as the reporting mail system (default: the secondary\'s myhostname from the manifest)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l dsn-return -d 'What a DSN returns: headers (the original\'s header only, unless the sender asked for RET=FULL) or full (the whole original up to 50,000 bytes)' -r -f -a "headers\t''
full\t''"
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l max-dsns-per-sender -d 'DSNs to one sender address in one run at most; the rest are suppressed (journaled, listed by `journal`)' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l max-dsns-per-domain -d 'DSNs to one sender domain in one run at most; the rest are suppressed' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l breaker-refused -d 'Circuit breaker: stop before any DSN when at least this many distinct recipients are refused permanently...' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l breaker-percent -d '...and they are at least this percentage of the distinct recipients the primary answered so far' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l journal -d 'Journal file (default: EXPORT_DIR/reinject-journal.jsonl)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l lmtp -d 'Speak LMTP instead of SMTP'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l starttls -d 'Require STARTTLS'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l tls -d 'Connect with TLS from the start (SMTPS)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l no-tls -d 'Never use TLS (default: STARTTLS when offered)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l insecure -d 'Accept any server certificate (a primary with a self-signed certificate)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l retry-failed -d 'Retry recipients the journal lists as failed (5xx)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l resend-unknown -d 'Send again recipients whose outcome is unknown (may deliver twice)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l include-malware -d 'Also send messages whose recorded verdict is malware (withheld by default: the primary may not scan mail from the secondary); only for a primary that scans everything it receives'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l no-bounces -d 'Do not send DSNs for refused recipients: write them as .eml files into EXPORT_DIR/bounces/ instead'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l send-suppressed -d 'Send (or with --no-bounces write) the DSNs an earlier run suppressed, for the selected messages and recipients'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l accept-refusals -d 'Do not stop on mass refusals (after checking the primary: the refusals are right); refused pairs become failed and get their DSNs'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l new-target -d 'Also send pairs the journal records as sent to another target (a deliberate second destination; without it such a run is refused)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l dry-run -d 'Print the transactions without connecting'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l json -d 'Print the summary as JSON'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -l quiet -d 'No progress bar'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand reinject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -l from -d 'Export directory (its manifest.json)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -l journal -d 'Journal file (default: EXPORT_DIR/reinject-journal.jsonl)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -l json -d 'The whole report as one JSON document'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -l sent-ids -d 'Print only the queue IDs whose every pending pair is sent (delivered), one per line (the input of `postsuper -d -`); for an export of several spools, per spool the commands that delete them there (`postsuper -d ID`, `exim -Mrm ID`)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -l include-refused -d 'With --sent-ids: also the messages with refused pairs whose DSNs are done (sent, written, suppressed on purpose, or not owed)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand journal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand verify" -l zip-password-file -d 'Password file used for --zip-password-file (to test that encrypted zips open)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand verify" -l json -d 'Print the result as JSON'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l from -d 'Export directory (made with `export --reader USER`)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l zip-password-file -d 'The zip password file (`address password` lines, or the generated format 2): each user\'s IMAP password' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l listen -d 'Address and port for IMAPS (implicit TLS), e.g. 0.0.0.0:10993 or [::]:993' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l out -d 'Configuration directory to write (new, empty, or written by this command before)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l hostname -d 'Server name users enter (default: the listen address, or this host\'s name for 0.0.0.0/[::])' -r
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l tls-cert -d 'TLS certificate chain, PEM (default: a generated self-signed one)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -l tls-key -d 'TLS private key, PEM' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand dovecot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand man" -l prefix -d 'Where --install writes (PREFIX/share/man/man1, PREFIX/share/bash-completion, …)' -r -F
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand man" -l install -d 'Install every man page and the bash, zsh and fish completions under --prefix'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "scan" -d 'Show what is stuck: per queue, per recipient, per domain, why, and when it bounces'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "cat" -d 'Show one queued message as Postfix sees it (postcat-compatible)'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "export" -d 'Write per-recipient mbox, Maildir, .eml and text bundles plus a JSON manifest'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "reinject" -d 'Send an export into the recovered primary over SMTP/LMTP with the original envelope, exactly once'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "journal" -d 'What the reinject journal says, per message and pair; --sent-ids: the queue IDs the secondary may delete'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "verify" -d 'Check an export against its manifest'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "dovecot" -d 'Write a Dovecot configuration that serves an export read-only over IMAPS, with a handout per user'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "man" -d 'Print the man page (roff) to standard output: the main page, or one command\'s'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "completions" -d 'Print shell completions to standard output'
complete -c mxsalvage -n "__fish_mxsalvage_using_subcommand help; and not __fish_seen_subcommand_from scan cat export reinject journal verify dovecot man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
