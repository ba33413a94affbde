# scripts/bench-lib/filters.sh -- private content filters for scripts/bench (sourced):
# an rspamd and a clamd of their own (configuration, runtime files, a database) in a
# directory the caller gives, on 127.0.0.1 or a socket there, never the system's
# services, never freshclam or Redis. The same minimal setups as the test suite
# (tests/harness/filters.rs): rspamd without Lua rules, DNS, Redis or maps (an empty
# TLD list: ready in a second); clamd with a one-line signature database (clamd refuses
# an empty one) — so clamd's figures are a lower bound of a real signature set's.
#
#   filters_start DIR PORT   starts both (DIR must exist, empty); sets RSPAMD_URL,
#                            CLAMD_URL, CLAMD_CONF
#   filters_stop DIR         stops both (SIGTERM, then SIGKILL after 10 s)

filters_wait() {   # filters_wait WHAT CMD... : until CMD succeeds, at most 60 s
    local what=$1 i; shift
    for i in $(seq 1 600); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: $what did not start" >&2
    return 1
}

filters_start() {
    local dir=$1 port=$2
    chmod 755 "$dir"
    mkdir -p "$dir/rspamd/run" "$dir/clamd/db"
    : >"$dir/rspamd/tld.dat"
    chown -R _rspamd:_rspamd "$dir/rspamd/run"
    cat >"$dir/rspamd/rspamd.conf" <<EOC
options {
  pidfile = "$dir/rspamd/run/rspamd.pid";
  dbdir = "$dir/rspamd/run";
  url_tld = "$dir/rspamd/tld.dat";
  dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "$dir/rspamd/run/rspamd.log"; level = "warning"; }
actions { reject = 15; add_header = 6; greylist = 4; }
worker "normal" { bind_socket = "127.0.0.1:$port"; mime = true; }
EOC
    rspamd -f -c "$dir/rspamd/rspamd.conf" -u _rspamd -g _rspamd >"$dir/rspamd/out" 2>&1 &
    echo $! >"$dir/rspamd/pid"
    # A signature that matches nothing real (clamd refuses an empty database).
    echo "Bench-Never-Matches:0:*:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/clamd/db/bench.ndb"
    cat >"$dir/clamd/clamd.conf" <<EOC
DatabaseDirectory $dir/clamd/db
LocalSocket $dir/clamd/clamd.sock
Foreground yes
User clamav
PidFile $dir/clamd/clamd.pid
MaxThreads 10
EOC
    chown -R clamav:clamav "$dir/clamd"
    clamd -c "$dir/clamd/clamd.conf" >"$dir/clamd/out" 2>&1 &
    echo $! >"$dir/clamd/pid.bench"
    RSPAMD_URL="rspamd://127.0.0.1:$port"
    CLAMD_URL="clamd://$dir/clamd/clamd.sock"
    CLAMD_CONF=$dir/clamd/clamd.conf
    filters_wait rspamd curl -sf "http://127.0.0.1:$port/ping" || return 1
    filters_wait clamd clamdscan --config-file="$CLAMD_CONF" --ping 1 || return 1
}

filters_stop() {
    local dir=$1 f pid i
    for f in "$dir/rspamd/pid" "$dir/clamd/pid.bench"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}
