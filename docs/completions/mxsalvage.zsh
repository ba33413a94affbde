#compdef mxsalvage

autoload -U is-at-least

_mxsalvage() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_mxsalvage_commands" \
"*::: :->mxsalvage" \
&& ret=0
    case $state in
    (mxsalvage)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mxsalvage-command-$line[1]:"
        case $line[1] in
            (scan)
_arguments "${_arguments_options[@]}" : \
'*--queue-dir=[Queue directory\: a Postfix spool, or an Exim 4 spool (recognised by its input/) (default\: \`postconf -h queue_directory\`, else /var/spool/postfix); repeatable\: several backup MXs'\'' spools read as one, each recipient getting a message once (docs/export.md)]:DIR:_files' \
'*--config-dir=[The secondary'\''s Postfix configuration directory holding main.cf (lifetimes, hashing, myorigin) \[default\: /etc/postfix when the queue directory is this machine'\''s own, else none\: Postfix'\''s defaults\]; with several --queue-dir\: once for all, or once per --queue-dir in the same order]:DIR:_files' \
'--max-queue-lifetime=[Override maximal_queue_lifetime (e.g. 5d, 12h)]:DUR:_default' \
'--bounce-queue-lifetime=[Override bounce_queue_lifetime (e.g. 5d)]:DUR:_default' \
'*--recipient=[Only this recipient (case-insensitive; repeatable)]:ADDR:_default' \
'*--domain=[Only recipients in this domain (repeatable)]:D:_default' \
'*--queue=[Only these queues (maildrop, incoming, active, deferred, hold, corrupt; repeatable)]:Q:_default' \
'*--valid-recipients=[The secondary'\''s plain-text recipient lists (\`address anything\` lines; repeatable); others are flagged]:FILE:_files' \
'--format=[Output\: text (the report), json (one document), postqueue (JSON lines as \`postqueue -j\` prints them), mailq (the \`mailq\` listing)]:FORMAT:(text json postqueue mailq)' \
'*--id=[Only these queue IDs (repeatable)]:QUEUE_ID:_default' \
'--jobs=[Number of worker threads (default\: all cores)]:N:_default' \
'(--ignore-modes)--trust-modes[Use the file modes as Postfix does even when they look rewritten by a copy (no owner execute = still being written; group execute = forced expiry)]' \
'--ignore-modes[Never use the file modes\: judge each file'\''s completeness from its content (a copy whose modes are unreliable)]' \
'--only-valid[With --valid-recipients\: leave out recipients not in the lists]' \
'(--format --list)--json[One JSON document on standard output instead of the report (= --format json)]' \
'(--format)--list[List every message as \`mailq\` does (= --format mailq)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(cat)
_arguments "${_arguments_options[@]}" : \
'-s+[Start at this queue file offset (no envelope heading)]:OFFSET:_default' \
'--queue-dir=[Queue directory for -q, Postfix or Exim 4 (default\: queue_directory of main.cf, else \`postconf -h queue_directory\`, else /var/spool/postfix)]:DIR:_files' \
'-c+[Postfix configuration directory (main.cf\: queue directory and hashing for -q; default \$MAIL_CONFIG, else /etc/postfix)]:DIR:_files' \
'--config-dir=[Postfix configuration directory (main.cf\: queue directory and hashing for -q; default \$MAIL_CONFIG, else /etc/postfix)]:DIR:_files' \
'-b[Print the message body (from the first non-header line)]' \
'-h[Print the message headers]' \
'-e[Print the envelope records]' \
'-q[Arguments are queue IDs, looked up in the queue directory]' \
'-o[Print the queue file offset of each record]' \
'-d[Print the decimal type of each record]' \
'-f[Print the file name before each line]' \
'-r[Records in file order, pointer records not followed (as postcat\: with -v)]' \
'*-v[Verbose, as postcat -v\: pointer and padding records shown, text records named]' \
'--states[After each file, list every recipient record'\''s state (pending, done, cancelled) and offset]' \
'--trust-modes[With -q\: refuse a file whose mode says it is still being written (no owner execute bit)]' \
'--help[Print help]' \
'*::items -- Queue files (or queue IDs with -q); none\: standard input:_default' \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
'*--queue-dir=[Queue directory\: a Postfix spool, or an Exim 4 spool (recognised by its input/) (default\: \`postconf -h queue_directory\`, else /var/spool/postfix); repeatable\: several backup MXs'\'' spools read as one, each recipient getting a message once (docs/export.md)]:DIR:_files' \
'*--config-dir=[The secondary'\''s Postfix configuration directory holding main.cf (lifetimes, hashing, myorigin) \[default\: /etc/postfix when the queue directory is this machine'\''s own, else none\: Postfix'\''s defaults\]; with several --queue-dir\: once for all, or once per --queue-dir in the same order]:DIR:_files' \
'--max-queue-lifetime=[Override maximal_queue_lifetime (e.g. 5d, 12h)]:DUR:_default' \
'--bounce-queue-lifetime=[Override bounce_queue_lifetime (e.g. 5d)]:DUR:_default' \
'*--recipient=[Only this recipient (case-insensitive; repeatable)]:ADDR:_default' \
'*--domain=[Only recipients in this domain (repeatable)]:D:_default' \
'*--queue=[Only these queues (maildrop, incoming, active, deferred, hold, corrupt; repeatable)]:Q:_default' \
'*--valid-recipients=[The secondary'\''s plain-text recipient lists (\`address anything\` lines; repeatable); others are flagged]:FILE:_files' \
'--spam-filter=[Spam filter\: rspamd\://HOST\:PORT (rspamd'\''s normal worker) or spamd\://HOST\:PORT (SpamAssassin'\''s spamd); export asks it about every new message, reinject about a message owed a DSN that the export has no verdict for; off unless given]:URL:_default' \
'--virus-scan=[Virus scanner\: clamd\:///path/to/socket or clamd\://HOST\:PORT (asked as the spam filter is)]:URL:_default' \
'--filter-timeout=[Seconds one filter request may take before the message is listed as unscanned \[default\: 60\]]:SECS:_default' \
'--scan-jobs=[Filter requests in flight at most \[default\: 8\]]:N:_default' \
'--out=[Output directory (must not exist or be empty, unless --update or --force)]:DIR:_files' \
'*--format=[Formats kept as trees under recipients/<dir>/\: comma list of mbox, maildir, eml, text, html (index.html and a page per message), or all, or none \[default\: mbox,maildir,eml,text,html; with --zip\: none\]]:LIST:(mbox maildir eml text html all none)' \
'*--zip-formats=[Formats inside each zip\: comma list as for --format \[default\: html,eml\]]:LIST:(mbox maildir eml text html all none)' \
'--zip-password-file=[Encrypt each recipient'\''s zip with AES-256; file lines are \`address password\` (or the generated format 2\: \`address<TAB>password\`, escaped; see docs/export.md)]:FILE:_files' \
'(--zip-password-file --update)--generate-passwords=[Make a fresh random password for every mailbox, write them to FILE (0600, format 2\: \`address<TAB>password\` lines with escapes, never printed) and a handout per user to FILE.handouts/, and encrypt the zips with them]:FILE:_files' \
'*--id=[Only these queue IDs (repeatable)]:QUEUE_ID:_default' \
'--since=[Only mail that arrived at or after TIME (RFC 3339, \`YYYY-MM-DD\`, or @epoch)]:TIME:_default' \
'--until=[Only mail that arrived before TIME]:TIME:_default' \
'--reader=[Let a mail server'\''s account read the mailboxes (Maildir, mbox) without being able to change them\: GROUP (default\: USER'\''s group) gets read access; an update keeps it]:USER[:GROUP]:_default' \
'--spam-action=[Where messages the spam filter calls spam go\: junk (each bundle'\''s Junk\: Maildir/.Junk, junk.mbox, Junk/, the page'\''s spam section), keep (the inbox, like other mail) or withhold (in no bundle, like malware; the administrator keeps them) \[default\: junk; an update keeps the export'\''s\]]:ACTION:(junk keep withhold)' \
'--jobs=[Number of worker threads (default\: all cores)]:N:_default' \
'(--ignore-modes)--trust-modes[Use the file modes as Postfix does even when they look rewritten by a copy (no owner execute = still being written; group execute = forced expiry)]' \
'--ignore-modes[Never use the file modes\: judge each file'\''s completeness from its content (a copy whose modes are unreliable)]' \
'--only-valid[With --valid-recipients\: leave out recipients not in the lists]' \
'--zip[Also write one zip per recipient (rendered from the archive copies; the trees are not needed)]' \
'--allow-readable-passwords[Accept a --zip-password-file that group or others may read (refused otherwise, as ssh refuses such a key)]' \
'--include-done[Also export recipients already delivered or bounced]' \
'(--force)--update[Add what is not exported yet to an existing export]' \
'--force[Replace an existing export]' \
'--no-space-check[Write even when the disk-space estimate says OUT'\''s file system is too small]' \
'--dry-run[Read the envelopes and print what would be exported and the disk space it needs (even with --quiet); write nothing]' \
'--quiet[No progress bar and no summary]' \
'--json[Print the summary as JSON on standard output]' \
'--timings[At the end, print each phase'\''s wall time, CPU time and bytes read and written (stderr)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(reinject)
_arguments "${_arguments_options[@]}" : \
'--from=[Export directory (its manifest.json and messages/)]:EXPORT_DIR:_files' \
'--spam-filter=[Spam filter\: rspamd\://HOST\:PORT (rspamd'\''s normal worker) or spamd\://HOST\:PORT (SpamAssassin'\''s spamd); export asks it about every new message, reinject about a message owed a DSN that the export has no verdict for; off unless given]:URL:_default' \
'--virus-scan=[Virus scanner\: clamd\:///path/to/socket or clamd\://HOST\:PORT (asked as the spam filter is)]:URL:_default' \
'--filter-timeout=[Seconds one filter request may take before the message is listed as unscanned \[default\: 60\]]:SECS:_default' \
'--scan-jobs=[Filter requests in flight at most \[default\: 8\]]:N:_default' \
'--to=[Target server, HOST\[\:PORT\] (port 25 for SMTP, 24 for LMTP by default)]:HOST[:PORT]:_default' \
'--auth-user=[SMTP AUTH user]:USER:_default' \
'--auth-password-file=[File holding the SMTP AUTH password]:FILE:_files' \
'--helo=[Name to send in EHLO/LHLO (default\: this host'\''s name)]:NAME:_default' \
'--connections=[Parallel sessions (sessions the server does not admit give way to those it does)]:N:_default' \
'--rate=[Messages per second at most (all sessions together)]:MSGS_PER_SEC:_default' \
'*--recipient=[Only this recipient (repeatable)]:ADDR:_default' \
'*--domain=[Only recipients in this domain (repeatable)]:D:_default' \
'*--id=[Only these queue IDs (repeatable)]:QUEUE_ID:_default' \
'--max-retries=[Attempts per recipient on temporary failures in this run]:N:_default' \
'--retry-delay=[Seconds before the second attempt after a temporary failure; doubles for each further one (at most 300)]:SECONDS:_default' \
'--timeout=[Seconds for connecting, for each write, and for the whole of each reply (a server that trickles a reply byte by byte gets no longer)]:SECONDS:_default' \
'--dot-timeout=[Seconds for the whole of each reply after the final dot (the primary may scan the mail first; RFC 5321 says 10 minutes)]:SECONDS:_default' \
'--bounce-via=[Send DSNs through this server instead of the target\: smtp\://HOST\[\:PORT\], lmtp\://HOST\[\:PORT\] or HOST\[\:PORT\]]:URL:_default' \
'--postmaster=[Where reports about refused mail with the null sender go (no DSN is ever sent to the null sender)]:ADDR:_default' \
'--reporting-mta=[The name DSNs give as the reporting mail system (default\: the secondary'\''s myhostname from the manifest)]:NAME:_default' \
'--dsn-return=[What a DSN returns\: headers (the original'\''s header only, unless the sender asked for RET=FULL) or full (the whole original up to 50,000 bytes)]:WHAT:(headers full)' \
'--max-dsns-per-sender=[DSNs to one sender address in one run at most; the rest are suppressed (journaled, listed by \`journal\`)]:N:_default' \
'--max-dsns-per-domain=[DSNs to one sender domain in one run at most; the rest are suppressed]:N:_default' \
'--breaker-refused=[Circuit breaker\: stop before any DSN when at least this many distinct recipients are refused permanently...]:N:_default' \
'--breaker-percent=[...and they are at least this percentage of the distinct recipients the primary answered so far]:PERCENT:_default' \
'--journal=[Journal file (default\: EXPORT_DIR/reinject-journal.jsonl)]:FILE:_files' \
'--lmtp[Speak LMTP instead of SMTP]' \
'(--tls --no-tls)--starttls[Require STARTTLS]' \
'(--no-tls)--tls[Connect with TLS from the start (SMTPS)]' \
'--no-tls[Never use TLS (default\: STARTTLS when offered)]' \
'--insecure[Accept any server certificate (a primary with a self-signed certificate)]' \
'--retry-failed[Retry recipients the journal lists as failed (5xx)]' \
'--resend-unknown[Send again recipients whose outcome is unknown (may deliver twice)]' \
'--include-malware[Also send messages whose recorded verdict is malware (withheld by default\: the primary may not scan mail from the secondary); only for a primary that scans everything it receives]' \
'(--bounce-via)--no-bounces[Do not send DSNs for refused recipients\: write them as .eml files into EXPORT_DIR/bounces/ instead]' \
'--send-suppressed[Send (or with --no-bounces write) the DSNs an earlier run suppressed, for the selected messages and recipients]' \
'--accept-refusals[Do not stop on mass refusals (after checking the primary\: the refusals are right); refused pairs become failed and get their DSNs]' \
'--new-target[Also send pairs the journal records as sent to another target (a deliberate second destination; without it such a run is refused)]' \
'--dry-run[Print the transactions without connecting]' \
'--json[Print the summary as JSON]' \
'--quiet[No progress bar]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(journal)
_arguments "${_arguments_options[@]}" : \
'--from=[Export directory (its manifest.json)]:EXPORT_DIR:_files' \
'--journal=[Journal file (default\: EXPORT_DIR/reinject-journal.jsonl)]:FILE:_files' \
'(--sent-ids)--json[The whole report as one JSON document]' \
'--sent-ids[Print only the queue IDs whose every pending pair is sent (delivered), one per line (the input of \`postsuper -d -\`); for an export of several spools, per spool the commands that delete them there (\`postsuper -d ID\`, \`exim -Mrm ID\`)]' \
'--include-refused[With --sent-ids\: also the messages with refused pairs whose DSNs are done (sent, written, suppressed on purpose, or not owed)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
'--zip-password-file=[Password file used for --zip-password-file (to test that encrypted zips open)]:FILE:_files' \
'--json[Print the result as JSON]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':dir -- Export directory:_files' \
&& ret=0
;;
(dovecot)
_arguments "${_arguments_options[@]}" : \
'--from=[Export directory (made with \`export --reader USER\`)]:EXPORT_DIR:_files' \
'--zip-password-file=[The zip password file (\`address password\` lines, or the generated format 2)\: each user'\''s IMAP password]:FILE:_files' \
'--listen=[Address and port for IMAPS (implicit TLS), e.g. 0.0.0.0\:10993 or \[\:\:\]\:993]:ADDR:PORT:_default' \
'--out=[Configuration directory to write (new, empty, or written by this command before)]:CONF_DIR:_files' \
'--hostname=[Server name users enter (default\: the listen address, or this host'\''s name for 0.0.0.0/\[\:\:\])]:NAME:_default' \
'--tls-cert=[TLS certificate chain, PEM (default\: a generated self-signed one)]:FILE:_files' \
'--tls-key=[TLS private key, PEM]:FILE:_files' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--prefix=[Where --install writes (PREFIX/share/man/man1, PREFIX/share/bash-completion, …)]:DIR:_files' \
'--install[Install every man page and the bash, zsh and fish completions under --prefix]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::command -- scan, cat, export, reinject, journal, verify, dovecot, man or completions:_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':shell -- bash, zsh, fish, elvish or powershell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_mxsalvage__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:mxsalvage-help-command-$line[1]:"
        case $line[1] in
            (scan)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(cat)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(reinject)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(journal)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(dovecot)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_mxsalvage_commands] )) ||
_mxsalvage_commands() {
    local commands; commands=(
'scan:Show what is stuck\: per queue, per recipient, per domain, why, and when it bounces' \
'cat:Show one queued message as Postfix sees it (postcat-compatible)' \
'export:Write per-recipient mbox, Maildir, .eml and text bundles plus a JSON manifest' \
'reinject:Send an export into the recovered primary over SMTP/LMTP with the original envelope, exactly once' \
'journal:What the reinject journal says, per message and pair; --sent-ids\: the queue IDs the secondary may delete' \
'verify:Check an export against its manifest' \
'dovecot:Write a Dovecot configuration that serves an export read-only over IMAPS, with a handout per user' \
'man:Print the man page (roff) to standard output\: the main page, or one command'\''s' \
'completions:Print shell completions to standard output' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mxsalvage commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__cat_commands] )) ||
_mxsalvage__subcmd__cat_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage cat commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__completions_commands] )) ||
_mxsalvage__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage completions commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__dovecot_commands] )) ||
_mxsalvage__subcmd__dovecot_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage dovecot commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__export_commands] )) ||
_mxsalvage__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage export commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help_commands] )) ||
_mxsalvage__subcmd__help_commands() {
    local commands; commands=(
'scan:Show what is stuck\: per queue, per recipient, per domain, why, and when it bounces' \
'cat:Show one queued message as Postfix sees it (postcat-compatible)' \
'export:Write per-recipient mbox, Maildir, .eml and text bundles plus a JSON manifest' \
'reinject:Send an export into the recovered primary over SMTP/LMTP with the original envelope, exactly once' \
'journal:What the reinject journal says, per message and pair; --sent-ids\: the queue IDs the secondary may delete' \
'verify:Check an export against its manifest' \
'dovecot:Write a Dovecot configuration that serves an export read-only over IMAPS, with a handout per user' \
'man:Print the man page (roff) to standard output\: the main page, or one command'\''s' \
'completions:Print shell completions to standard output' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'mxsalvage help commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__cat_commands] )) ||
_mxsalvage__subcmd__help__subcmd__cat_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help cat commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__completions_commands] )) ||
_mxsalvage__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help completions commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__dovecot_commands] )) ||
_mxsalvage__subcmd__help__subcmd__dovecot_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help dovecot commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__export_commands] )) ||
_mxsalvage__subcmd__help__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help export commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__help_commands] )) ||
_mxsalvage__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help help commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__journal_commands] )) ||
_mxsalvage__subcmd__help__subcmd__journal_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help journal commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__man_commands] )) ||
_mxsalvage__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help man commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__reinject_commands] )) ||
_mxsalvage__subcmd__help__subcmd__reinject_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help reinject commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__scan_commands] )) ||
_mxsalvage__subcmd__help__subcmd__scan_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help scan commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__help__subcmd__verify_commands] )) ||
_mxsalvage__subcmd__help__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage help verify commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__journal_commands] )) ||
_mxsalvage__subcmd__journal_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage journal commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__man_commands] )) ||
_mxsalvage__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage man commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__reinject_commands] )) ||
_mxsalvage__subcmd__reinject_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage reinject commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__scan_commands] )) ||
_mxsalvage__subcmd__scan_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage scan commands' commands "$@"
}
(( $+functions[_mxsalvage__subcmd__verify_commands] )) ||
_mxsalvage__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'mxsalvage verify commands' commands "$@"
}

if [ "$funcstack[1]" = "_mxsalvage" ]; then
    _mxsalvage "$@"
else
    compdef _mxsalvage mxsalvage
fi
