#!/bin/bash
# scripts/samples/instance.sh -- a private, throw-away Postfix instance set up as the
# secondary MX of the mxsalvage runbook (relay for example.com, primary unreachable).
#
# Usable two ways:
#
#   1. as a library:   . scripts/samples/instance.sh
#        mxs_instance_create DIR PORT [MILTER_SMTP_PORT MILTER_SOCKET]
#        mxs_instance_start DIR
#        mxs_instance_reload DIR
#        mxs_instance_settle DIR [TIMEOUT_SECONDS [ALLOWED_ACTIVE [ALLOWED_INCOMING]]]
#        mxs_instance_stop DIR
#        mxs_instance_destroy DIR          (stop, unregister, rm -rf DIR)
#        mxs_instance_postconf DIR 'name = value' ...   (postconf -e in the instance)
#        mxs_instance_sendmail DIR [sendmail args...]    (instance's sendmail, as root)
#        mxs_instance_running DIR          (exit 0 if its master runs)
#        mxs_ensure_packages               (apt-get install postfix python3-milter if missing)
#
#   2. as a command:   scripts/samples/instance.sh create|start|reload|settle|stop|destroy DIR [args]
#
# Layout of DIR (created by mxs_instance_create):
#   DIR/etc      config_directory (main.cf, master.cf, passwd-2ndmx, aliases-2ndmx,
#                transport, header_checks and their .db files)
#   DIR/spool    queue_directory
#   DIR/data     data_directory
#   DIR/maillog  maillog_file (via postlogd)
#
# The instance listens on 127.0.0.1:PORT (plain smtpd) and, when MILTER_SMTP_PORT is
# given, on 127.0.0.1:MILTER_SMTP_PORT with smtpd_milters=MILTER_SOCKET (e.g.
# inet:127.0.0.1:10026).  Mail for example.com is relayed through the "slow" transport
# (process limit 1) to [127.0.0.1]:1, which refuses connections: the primary MX is down.
# Everything else goes to relayhost [127.0.0.1]:2 (also refused).  Special recipients
# (transport_maps): delivered@example.com -> discard: (done at once),
# gone@example.com -> smtp:[127.0.0.1]:PORT+6 (a fake primary that answers 550 to RCPT:
# permanent failure, bounce), hang@example.com -> "hang" transport to 127.0.0.1:PORT+5
# where a silent listener can keep a delivery in progress so that a message stays in
# active/.  (feed.py fake-primary / silent-listener provide both listeners.)
#
# Never touches /var/spool/postfix.  DIR/etc is added to alternate_config_directories
# of /etc/postfix/main.cf (created if missing), because set-gid postdrop/postqueue only
# accept a non-default config directory that is listed there when run by non-root.

MXS_PF_BIN=${MXS_PF_BIN:-/usr/sbin}
MXS_DEFAULT_MAIN_CF=${MXS_DEFAULT_MAIN_CF:-/etc/postfix/main.cf}

mxs_log() { echo "[instance] $*" >&2; }

mxs_ensure_packages() {
    local need=()
    [ -x /usr/sbin/postfix ] || need+=(postfix)
    /usr/bin/python3 -c 'import Milter' 2>/dev/null || need+=(python3-milter)
    if [ ${#need[@]} -gt 0 ]; then
        mxs_log "installing ${need[*]}"
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >&2
    fi
}

# Add/remove a config dir to/from alternate_config_directories of the default main.cf.
mxs_register_config_dir() {
    local conf=$1 cur
    if [ ! -f "$MXS_DEFAULT_MAIN_CF" ]; then
        mkdir -p "$(dirname "$MXS_DEFAULT_MAIN_CF")"
        cat >"$MXS_DEFAULT_MAIN_CF" <<EOM
# Created by mxsalvage scripts/samples/instance.sh only to authorise private
# Postfix instances (alternate_config_directories). The system Postfix was
# installed with "No configuration" and is not started by these scripts.
compatibility_level = 3.6
EOM
    fi
    cur=$(postconf -c "$(dirname "$MXS_DEFAULT_MAIN_CF")" -h alternate_config_directories 2>/dev/null)
    case " ${cur//,/ } " in *" $conf "*) return 0 ;; esac
    postconf -c "$(dirname "$MXS_DEFAULT_MAIN_CF")" -e "alternate_config_directories = ${cur:+$cur, }$conf"
}

mxs_unregister_config_dir() {
    local conf=$1 cur new="" d
    [ -f "$MXS_DEFAULT_MAIN_CF" ] || return 0
    cur=$(postconf -c "$(dirname "$MXS_DEFAULT_MAIN_CF")" -h alternate_config_directories 2>/dev/null)
    for d in ${cur//,/ }; do [ "$d" = "$conf" ] || new="${new:+$new, }$d"; done
    postconf -c "$(dirname "$MXS_DEFAULT_MAIN_CF")" -e "alternate_config_directories = $new"
}

mxs_instance_postconf() {
    local dir=$1; shift
    postconf -c "$dir/etc" -e "$@"
}

mxs_instance_create() {
    local dir=$1 port=${2:-10025} mport=${3:-} msock=${4:-}
    local hport=$((port + 5))
    [ -n "$dir" ] || { mxs_log "usage: mxs_instance_create DIR PORT [MILTER_SMTP_PORT MILTER_SOCKET]"; return 2; }
    if [ -d "$dir" ] && mxs_instance_running "$dir"; then
        mxs_log "instance in $dir is running; stopping it first"
        mxs_instance_stop "$dir"
    fi
    rm -rf "$dir"
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
    chmod 755 "$dir" "$dir/etc"
    dir=$(cd "$dir" && pwd -P)
    chown postfix:postfix "$dir/data"; chmod 700 "$dir/data"
    touch "$dir/maillog"; chown postfix:postfix "$dir/maillog"; chmod 644 "$dir/maillog"
    local conf=$dir/etc

    # Recipient lists of the runbook: "address x", one per line.
    cat >"$conf/passwd-2ndmx" <<'EOM'
# valid mailbox users on the primary (example.com), exported for the backup MX
alice@example.com       x
bob@example.com         x
carol@example.com       x
dave@example.com        x
erin@example.com        x
frank@example.com       x
grace@example.com       x
heidi@example.com       x
ivan@example.com        x
judy@example.com        x
jörg@example.com        x
delivered@example.com   x
gone@example.com        x
hang@example.com        x
EOM
    cat >"$conf/aliases-2ndmx" <<'EOM'
# aliases and lists of the primary (example.com)
postmaster@example.com      x
mailer-daemon@example.com   x
abuse@example.com           x
hostmaster@example.com      x
info@example.com            x
sales@example.com           x
staff-list@example.com      x
staff-list-owner@example.com x
EOM
    cat >"$conf/transport" <<EOM
# the primary MX (down: nothing listens on port 1)
example.com             slow:[127.0.0.1]:1
# sample-only routes to produce done (D) recipients, a bounce, and an active delivery
delivered@example.com   discard:delivered by the sample backup MX
gone@example.com        smtp:[127.0.0.1]:$((port + 6))
hang@example.com        hang:[127.0.0.1]:$hport
EOM
    cat >"$conf/header_checks" <<'EOM'
/^Subject:.*HOLDME/     HOLD held by header_checks (sample)
EOM
    cat >"$conf/main.cf" <<EOM
# Private Postfix instance: secondary MX for example.com (mxsalvage samples)
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix-mxsamples
myhostname = backup-mx.example.com
mydomain = example.com
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = yes
biff = no
append_dot_mydomain = no
relay_domains = example.com
relay_recipient_maps = hash:$conf/passwd-2ndmx, hash:$conf/aliases-2ndmx
relay_transport = slow
transport_maps = hash:$conf/transport
relayhost = [127.0.0.1]:2
smtp_host_lookup = native
disable_dns_lookups = yes
slow_destination_concurrency_limit = 1
slow_destination_recipient_limit = 20
header_checks = regexp:$conf/header_checks
delay_warning_time = 4h
enable_long_queue_ids = no
smtpd_banner = \$myhostname ESMTP (mxsalvage sample secondary MX)
EOM
    cat >"$conf/master.cf" <<EOM
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port inet n      -       n       -       -       smtpd
EOM
    if [ -n "$mport" ]; then
        cat >>"$conf/master.cf" <<EOM
127.0.0.1:$mport inet n      -       n       -       -       smtpd
  -o smtpd_milters=$msock
  -o milter_default_action=tempfail
EOM
    fi
    cat >>"$conf/master.cf" <<'EOM'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# runbook: deliveries to the primary one at a time
slow      unix  -       -       n       -       1       smtp
# samples only: a primary that accepts the TCP connection and then says nothing
hang      unix  -       -       n       -       1       smtp
  -o smtp_helo_timeout=3600s
EOM
    postmap -c "$conf" "$conf/passwd-2ndmx" "$conf/aliases-2ndmx" "$conf/transport"
    mxs_register_config_dir "$conf"
    "$MXS_PF_BIN/postfix" -c "$conf" set-permissions >/dev/null 2>&1 || true
    "$MXS_PF_BIN/postfix" -c "$conf" check >&2
    mxs_log "created instance in $dir (smtpd 127.0.0.1:$port${mport:+, milter smtpd 127.0.0.1:$mport})"
}

mxs_instance_running() {
    local dir=$1
    [ -f "$dir/spool/pid/master.pid" ] || return 1
    "$MXS_PF_BIN/postfix" -c "$dir/etc" status >/dev/null 2>&1
}

mxs_instance_start() {
    local dir=$1
    mxs_instance_running "$dir" && return 0
    "$MXS_PF_BIN/postfix" -c "$dir/etc" start >&2 || return 1
    local i
    for i in $(seq 1 50); do
        mxs_instance_running "$dir" && return 0
        sleep 0.2
    done
    mxs_log "master did not start"; return 1
}

mxs_instance_reload() {
    "$MXS_PF_BIN/postfix" -c "$1/etc" reload >&2
    sleep 2
}

mxs_instance_stop() {
    local dir=$1 i pid
    mxs_instance_running "$dir" || return 0
    pid=$(tr -dc 0-9 <"$dir/spool/pid/master.pid")
    "$MXS_PF_BIN/postfix" -c "$dir/etc" stop >&2 || true
    for i in $(seq 1 100); do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.2
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        mxs_log "master $pid still alive, postfix abort"
        "$MXS_PF_BIN/postfix" -c "$dir/etc" abort >&2 || true
        sleep 1
    fi
    # children may linger for a moment after the master exited
    for i in $(seq 1 50); do
        pgrep -f -- "-c $dir/etc" >/dev/null 2>&1 || pgrep -f "$dir/" >/dev/null 2>&1 || break
        sleep 0.2
    done
}

mxs_instance_destroy() {
    local dir=$1
    [ -d "$dir" ] || return 0
    mxs_instance_stop "$dir"
    mxs_unregister_config_dir "$(cd "$dir" && pwd -P)/etc"
    rm -rf "$dir"
}

# Count regular files under a queue directory (recursively).
mxs_queue_count() { find "$1/spool/$2" -type f 2>/dev/null | wc -l; }

# Wait until the queue is settled: maildrop and incoming empty (beyond the allowance),
# at most ALLOWED_ACTIVE files in active/, and nothing changed for 3 s.
mxs_instance_settle() {
    local dir=$1 timeout=${2:-120} allow_active=${3:-0} allow_incoming=${4:-0}
    local start=$SECONDS stable=0 last="" now
    while [ $((SECONDS - start)) -lt "$timeout" ]; do
        now="$(mxs_queue_count "$dir" maildrop) $(mxs_queue_count "$dir" incoming) $(mxs_queue_count "$dir" active) $(mxs_queue_count "$dir" deferred) $(mxs_queue_count "$dir" hold)"
        set -- $now
        if [ "$1" -eq 0 ] && [ "$2" -le "$allow_incoming" ] && [ "$3" -le "$allow_active" ] && [ "$now" = "$last" ]; then
            stable=$((stable + 1))
            [ $stable -ge 3 ] && { mxs_log "settled: maildrop/incoming/active/deferred/hold = $now"; return 0; }
        else
            stable=0
        fi
        last=$now
        sleep 1
    done
    mxs_log "queue did not settle within ${timeout}s (maildrop/incoming/active/deferred/hold = $now)"
    return 1
}

mxs_instance_sendmail() {
    local dir=$1; shift
    "$MXS_PF_BIN/sendmail" -C "$dir/etc" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -e
    cmd=${1:-}; shift || true
    case "$cmd" in
        create|start|stop|reload|settle|destroy|running|postconf|sendmail)
            "mxs_instance_$cmd" "$@" ;;
        ensure-packages) mxs_ensure_packages ;;
        *) sed -n '2,30p' "$0" >&2; exit 2 ;;
    esac
fi
