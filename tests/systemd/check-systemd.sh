#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# tests/systemd/check-systemd.sh - tcpxd's units against a REAL systemd.
#
# Run by "make check-systemd" (as root; CI: .ci/run).  Boots systemd as PID 1
# of a throw-away systemd-nspawn container (tests/systemd/systemd-sandbox),
# installs tcpxd there twice and checks what an operator relies on:
#   1. "make install DESTDIR=" (binary, /usr/local/etc/tcpxd.conf, units):
#      verify and security score, start after READY=1, STATUS=, echo and
#      upload through the shipped configuration, reload (new listener, upload
#      in flight, broken file), stop during uploads, start-up errors in the
#      journal, socket activation over IPv4 and IPv6, the watchdog restart,
#      "make uninstall";
#   2. the Debian package (dpkg-buildpackage, lintian): installs, enables and
#      starts the service, serves, and purges cleanly.
# Prints one line per check and "check-systemd: N passed, N failed".
#
# Environment: TCPXD_SRCDIR, TCPXD_BUILDDIR (set by make), TCPXD_SANDBOX_DIR
# (default /var/tmp/tcpxd-systemd-sandbox: the container's root file system,
# built on first use, ~215 MB), TCPXD_CHECK_SYSTEMD_NO_DEB=1 skips part 2,
# TCPXD_CHECK_SYSTEMD_KEEP=1 leaves the sandbox up and the work directory.
set -uo pipefail

src=${TCPXD_SRCDIR:?run me with make check-systemd}
build=${TCPXD_BUILDDIR:?run me with make check-systemd}
SB="$src/tests/systemd/systemd-sandbox"
DIR=${TCPXD_SANDBOX_DIR:-/var/tmp/tcpxd-systemd-sandbox}
# What the container needs besides systemd: tcpxd's libraries and a netcat
# that can half-close (nc -N).  Changing this list rebuilds the rootfs.
export SYSTEMD_SANDBOX_EXTRA_PKGS=libconfig9,libssl3,libmicrohttpd12,netcat-openbsd

if [ "$(id -u)" -ne 0 ]; then
  echo "check-systemd: must run as root (systemd-nspawn needs it)" >&2
  exit 1
fi
"$src/tests/install-deps.sh" --systemd || exit 1

t_start=$(date +%s)
work=$(mktemp -d /var/tmp/tcpxd-check-systemd.XXXXXX)
PASS=0; FAIL=0
ok()    { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()   { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
note()  { echo "# $*"; }
fails() { ! "$@" 2>/dev/null; }
X()     { "$SB" exec "$DIR" "$@"; }                        # inside the container
show()  { X systemctl show "$1" -p "$2" --value; }
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
journal() { X journalctl -u tcpxd.service --no-pager -o cat "$@"; }
# j_count TEXT: how many journal lines of tcpxd.service contain TEXT
j_count() { journal | grep -cF -- "$1"; }
j_more()  { [ "$(j_count "$1")" -gt "$2" ]; }
is_state() { [ "$(show "$1" ActiveState)" = "$2" ]; }
status_has() { show tcpxd StatusText | grep -q -- "$1"; }
in_file() { X grep -q -- "$2" "$1"; }
# new_main_pid OLD: tcpxd is active with a main PID other than OLD
new_main_pid() { local p; p=$(show tcpxd MainPID); [ "$p" != "$1" ] && [ "$p" != 0 ] && is_state tcpxd active; }
cleanup() {
  if [ "${TCPXD_CHECK_SYSTEMD_KEEP:-0}" = 1 ]; then
    echo "# kept: sandbox $DIR is up ($SB shell $DIR), work dir $work"
    return
  fi
  "$SB" down "$DIR" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

sandbox_up() {
  "$SB" down "$DIR" >/dev/null 2>&1 || true     # a fresh overlay every time
  if ! "$SB" up "$DIR" >"$work/up.log" 2>&1; then
    cat "$work/up.log" >&2
    bad "systemd sandbox boots"
    echo "check-systemd: $PASS passed, $FAIL failed"
    exit 1
  fi
}

echo_ok() {   # echo_ok HOST PORT: a line comes back
  local r
  r=$(X sh -c "echo hello-$2 | timeout 10 nc -N $1 $2" 2>/dev/null)
  [ "$r" = "hello-$2" ]
}

# upload HOST PORT FILE-INSIDE: prints the receipt line
upload() { X sh -c "timeout 20 nc -N $1 $2 < $3" 2>/dev/null; }

# receipt_ok RECEIPT FILE-INSIDE DIR-INSIDE: OK line matches the file and
# the stored copy
receipt_ok() {
  local rec=$1 f=$2 dir=$3 size sum name
  size=$(X stat -c %s "$f"); sum=$(X sha256sum "$f" | cut -d' ' -f1)
  set -- $rec
  [ "${1:-}" = OK ] && [ "${2:-}" = "$size" ] && [ "${3:-}" = "sha256:$sum" ] || return 1
  name=${4:-}
  [ -n "$name" ] && [ "$(X sha256sum "$dir/$name" | cut -d' ' -f1)" = "$sum" ]
}

# ============================================================ static checks
unit="$build/systemd/tcpxd.service"
for u in "$unit" "$src/systemd/tcpxd.socket" "$src/systemd/tcpxd-inbox.socket"; do
  check "$(basename "$u") exists" test -f "$u"
done
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
        awk '/Overall exposure level/ {print $(NF-2)}')
check "offline systemd-analyze security: exposure ${score:-?} <= 1.5" \
      awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 1.5) }'

# ============================================================ part 1: make install
stage="$work/stage"
if make -s -C "$build" install DESTDIR="$stage" systemdsystemunitdir=/lib/systemd/system \
     >"$work/install.log" 2>&1; then
  ok "make install DESTDIR="
else
  cat "$work/install.log"; bad "make install DESTDIR="
fi
stage_unit="$stage/lib/systemd/system/tcpxd.service"
BIN=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$stage_unit")
CONF=$(sed -n 's/^ExecStart=[^ ]* -c \(.*\)$/\1/p' "$stage_unit")
INBOX=/var/lib/tcpxd/inbox
check "installed unit runs the installed binary ($BIN -c $CONF)" \
      test -n "$BIN" -a -x "$stage$BIN" -a -f "$stage$CONF"
for u in tcpxd.service tcpxd.socket tcpxd-inbox.socket; do
  check "make install put $u in the unit directory" test -f "$stage/lib/systemd/system/$u"
done

t0=$(date +%s.%N)
sandbox_up
note "sandbox up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
# Unpack over the container's root; keep /lib -> usr/lib symlinks intact.
tar -C "$stage" -cf - . | X tar -C / --keep-directory-symlink --no-overwrite-dir -xf -
X systemctl daemon-reload
X cp "$CONF" /root/tcpxd.conf.orig
restore_conf() { X cp /root/tcpxd.conf.orig "$CONF"; }

out=$(X systemd-analyze verify --man=no tcpxd.service tcpxd.socket tcpxd-inbox.socket 2>&1); rc=$?
check "systemd-analyze verify: rc $rc, no output${out:+ (got: $out)}" test $rc = 0 -a -z "$out"
score=$(X systemd-analyze security tcpxd.service --no-pager 2>/dev/null |
        awk '/Overall exposure level/ {print $(NF-2)}')
check "systemd-analyze security tcpxd.service on the running systemd: ${score:-?} <= 1.5" \
      awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 1.5) }'

# ---- start ------------------------------------------------------------------
check "systemctl start tcpxd" X systemctl start tcpxd.service
# start returns once READY=1 came, and READY=1 means every listener is bound.
check "right after start: active (running)" \
      test "$(show tcpxd ActiveState)/$(show tcpxd SubState)" = active/running
check "right after start: both listeners are bound by tcpxd" \
      X sh -c 'ss -Hltnp "( sport = :7007 or sport = :7008 )" | grep -c "\"tcpxd\"" | grep -qx 2'
check "runs as the dynamic user tcpxd, NoNewPrivs, seccomp" \
      X sh -c 'p=$(systemctl show tcpxd -p MainPID --value); test "$(ps -o user= -p $p)" = tcpxd &&
               grep -q "^NoNewPrivs:.*1" /proc/$p/status && grep -q "^Seccomp:.*2" /proc/$p/status'
check "limits: LimitNOFILE 8448, TasksMax 4160" \
      test "$(show tcpxd LimitNOFILE)/$(show tcpxd TasksMax)" = 8448/4160
check "StateDirectory made $INBOX" X test -d "$INBOX"
check "echo over IPv4 (127.0.0.1:7007, shipped config)" echo_ok 127.0.0.1 7007
X sh -c 'head -c 300000 /dev/urandom > /root/up1'
rec=$(upload ::1 7008 /root/up1)
check "upload over IPv6 (::1:7008): '$rec'" receipt_ok "$rec" /root/up1 "$INBOX"
check "stored file mode 0640" \
      test "$(X stat -c %a "$INBOX/$(set -- $rec; echo "${4:-x}")" 2>/dev/null)" = 640
check "StatusText has the counters (STATUS=)" \
      wait_for 5 status_has '2 accepted.*1 stored'
note "StatusText: $(show tcpxd StatusText)"
check "systemctl status shows the Status: line" \
      X sh -c 'systemctl status tcpxd --no-pager | grep -q "Status: \"0 active"'
check "journal: one line per connection, priority info, no raw <N> prefix" \
      X sh -c 'journalctl -u tcpxd -p info..info -o cat | grep -q "listener=inbox.*result=ok" &&
               ! journalctl -u tcpxd -o cat | grep -q "^<[0-7]>"'
# Each event's fields are journal fields (tcpxd(8), LOGGING, Journal fields).
X sh -c "printf '\\211TCPX\\r\\n\\032x\\n' | timeout 20 nc -N ::1 7008 >/dev/null"
# j_fields MATCH...: the MESSAGE= of the lines of tcpxd.service that match every MATCH
j_fields() { X journalctl -u tcpxd.service --no-pager -o cat "$@"; }
bad_header_found() {
  [ "$(j_fields TCPXD_RESULT=refused-bad-header | grep -c .)" = 1 ] &&
    j_fields TCPXD_RESULT=refused-bad-header |
      grep -q "^conn listener=inbox peer=::1 port=[0-9]* in=[0-9]* .*result=refused-bad-header$"
}
one_upload_found() {
  [ "$(j_fields TCPXD_LISTENER=inbox TCPXD_EVENT=conn TCPXD_RESULT=ok | grep -c .)" = 1 ] &&
    [ "$(j_fields TCPXD_LISTENER=inbox TCPXD_EVENT=conn TCPXD_RESULT=ok | grep -c "result=ok stored=")" = 1 ]
}
echo_fields() {
  [ "$(j_fields TCPXD_LISTENER=echo | grep -vc "^conn listener=echo ")" = 0 ] &&
    j_fields TCPXD_LISTENER=echo TCPXD_EVENT=conn TCPXD_RESULT=ok --output-fields=TCPXD_IN |
      grep -qx "[1-9][0-9]*"
}
messages_plain() { j_fields | grep -q "^ready: " && ! j_fields TCPXD_EVENT=conn | grep -q "^ready: "; }
check "journal fields: TCPXD_RESULT=refused-bad-header finds exactly the bad header's line" \
      wait_for 5 bad_header_found
check "journal fields: TCPXD_LISTENER=inbox TCPXD_EVENT=conn TCPXD_RESULT=ok is the one upload" \
      one_upload_found
check "journal fields: TCPXD_STORED= holds the stored name ($(set -- $rec; echo "${4:-x}"))" \
      test "$(j_fields TCPXD_LISTENER=inbox TCPXD_RESULT=ok --output-fields=TCPXD_STORED)" = \
           "$(set -- $rec; echo "${4:-x}")"
check "journal fields: TCPXD_LISTENER=echo finds only echo's lines, TCPXD_IN= a count" echo_fields
check "journal fields: messages have none (TCPXD_EVENT=conn does not find \"ready:\")" messages_plain

# ---- reload -------------------------------------------------------------------
pid=$(show tcpxd MainPID)
X sh -c 'head -c 200000 /dev/urandom > /root/slow'
# An upload in flight across the reload: half, a pause, the rest.
X sh -c '( (head -c 100000 /root/slow; sleep 2; tail -c +100001 /root/slow) |
           timeout 20 nc -N ::1 7008 > /root/slow.out 2>&1 ) </dev/null >/dev/null 2>&1 &'
sleep 0.5
X sed -i 's/^);$/  , { name = "echo2"; mode = "echo"; address = "127.0.0.1"; port = 7009; }\n);/' "$CONF"
check "systemctl reload (a new listener)" X systemctl reload tcpxd.service
check "reload: the new listener answers" wait_for 5 echo_ok 127.0.0.1 7009
check "reload: same main PID, still active" \
      test "$(show tcpxd MainPID)/$(show tcpxd ActiveState)" = "$pid/active"
check "reload: the upload in flight completed" \
      wait_for 10 in_file /root/slow.out ^OK
check "reload: ... and its receipt matches" receipt_ok "$(X cat /root/slow.out)" /root/slow "$INBOX"
check "journal: systemd logged the reload" X sh -c 'journalctl -u tcpxd -o cat | grep -q "^Reloaded "'

X sh -c "echo 'bogus_key = 1;' >> '$CONF'"
badline="$CONF:$(X sh -c "wc -l < '$CONF'"):"
check "systemctl reload with a broken config fails" fails X systemctl reload tcpxd.service
check "journal has the reason with FILE:LINE ($badline)" wait_for 3 test "$(j_count "$badline")" -ge 1
check "broken reload: still active, same PID" \
      test "$(show tcpxd MainPID)/$(show tcpxd ActiveState)" = "$pid/active"
check "broken reload: the old settings keep serving (echo2 on 7009)" echo_ok 127.0.0.1 7009
# The daemon's own guard: a SIGHUP that bypasses ExecReload's check.
n=$(j_count "$badline")
X systemctl kill -s HUP --kill-whom=main tcpxd.service
check "SIGHUP with a broken config: tcpxd logs FILE:LINE itself" wait_for 5 j_more "$badline" "$n"
sleep 0.3
check "  ... and keeps running (same PID)" test "$(show tcpxd MainPID)" = "$pid"
check "  ... echo2 still answers" echo_ok 127.0.0.1 7009

# ---- stop during uploads ------------------------------------------------------------
restore_conf
X sed -i 's/^shutdown_timeout = 30;/shutdown_timeout = 2;/' "$CONF"
X systemctl reload tcpxd.service
nfiles=$(X sh -c "ls -A '$INBOX' | wc -l")
# One upload finishes within shutdown_timeout, one stalls past it.
X sh -c '( (head -c 100000 /root/slow; sleep 1; tail -c +100001 /root/slow) |
           timeout 20 nc -N ::1 7008 > /root/fin.out 2>&1 ) </dev/null >/dev/null 2>&1 &
         ( (head -c 100000 /root/slow; sleep 15) |
           timeout 20 nc -N ::1 7008 > /root/stall.out 2>&1 ) </dev/null >/dev/null 2>&1 &'
sleep 0.5
X systemctl stop --no-block tcpxd.service
check "stop: deactivating while transfers finish (STOPPING=1)" \
      wait_for 2 is_state tcpxd deactivating
check "stop: inactive within shutdown_timeout" \
      wait_for 6 is_state tcpxd inactive
check "stop: clean exit (Result=success, status 0)" \
      test "$(show tcpxd Result)/$(show tcpxd ExecMainStatus)" = success/0
check "stop: the upload that finished in time got its receipt" \
      receipt_ok "$(X cat /root/fin.out)" /root/slow "$INBOX"
check "stop: the stalled upload left nothing behind (one new file, no temporaries)" \
      test "$(X sh -c "ls -A '$INBOX' | wc -l")" = $((nfiles + 1))
X pkill -x nc
restore_conf

# ---- start-up errors -----------------------------------------------------------------
start_fails() {   # start_fails WHAT TEXT: start fails and the journal says TEXT
  local what=$1 text=$2
  check "start fails: $what" fails X systemctl start tcpxd.service
  check "  ... journal says: $text" wait_for 3 test "$(j_count "$text")" -ge 1
  X systemctl stop tcpxd.service 2>/dev/null   # cancels the pending automatic restart
  X systemctl reset-failed tcpxd.service 2>/dev/null
}
X sh -c "echo 'bogus_key = 1;' >> '$CONF'"
start_fails "bad config" "$CONF:$(X sh -c "wc -l < '$CONF'"): unknown key"
restore_conf
X systemd-run --quiet --unit=porthog nc -lk 127.0.0.1 7007
wait_for 3 X sh -c 'ss -Hltn "sport = :7007" | grep -q .'
start_fails "port 7007 in use" "Address already in use"
X systemctl stop porthog.service
X sed -i 's|output_dir = "/var/lib/tcpxd/inbox";|output_dir = "/srv";|' "$CONF"
start_fails "output_dir not writable (/srv, ProtectSystem=strict)" '/srv'
restore_conf

# ---- socket activation ------------------------------------------------------------------
check "start tcpxd.socket and tcpxd-inbox.socket" X systemctl start tcpxd.socket tcpxd-inbox.socket
check "service not running yet" test "$(show tcpxd ActiveState)" = inactive
check "systemd (pid 1) listens on 127.0.0.1:7007 and [::1]:7008" \
      test "$(X ss -Hltnp '( sport = :7007 or sport = :7008 )' | grep -c 'pid=1,')" = 2
check "IPv4 connection to the echo socket starts tcpxd and is echoed" echo_ok 127.0.0.1 7007
check "  ... tcpxd active, triggered by the socket" \
      wait_for 10 X sh -c 'systemctl is-active -q tcpxd && systemctl show -p TriggeredBy --value tcpxd | grep -q "\(^\| \)tcpxd\.socket"'
check "  ... both sockets were passed and matched by name" \
      X sh -c 'journalctl -u tcpxd -o cat | grep -q "listener echo .*passed by the service manager" &&
               journalctl -u tcpxd -o cat | grep -q "listener inbox .*passed by the service manager"'
pid=$(show tcpxd MainPID)
X systemctl stop tcpxd.service 2>/dev/null     # "... can still be activated by"
check "service stopped, sockets still listening" \
      test "$(show tcpxd ActiveState)/$(show tcpxd-inbox.socket ActiveState)" = inactive/active
rec=$(upload ::1 7008 /root/up1)
check "IPv6 upload to the inbox socket starts tcpxd and is stored: '$rec'" receipt_ok "$rec" /root/up1 "$INBOX"
check "  ... by a new tcpxd process" test "$(show tcpxd MainPID)" != "$pid" -a "$(show tcpxd MainPID)" != 0
check "reload works with passed sockets" X systemctl reload tcpxd.service
check "  ... and the passed echo socket still answers" echo_ok 127.0.0.1 7007
# A passed socket that no listener claims is a start-up error.
X systemctl stop tcpxd.service 2>/dev/null
X sh -c 'printf "[Socket]\nListenStream=127.0.0.1:7010\nFileDescriptorName=nosuch\nService=tcpxd.service\n" \
           > /run/systemd/system/tcpxd-extra.socket'
X systemctl daemon-reload
X systemctl start tcpxd-extra.socket
start_fails "a passed socket no listener claims" 'socket "nosuch" passed by the service manager matches no listener'
X systemctl stop tcpxd.socket tcpxd-inbox.socket tcpxd-extra.socket
X rm -f /run/systemd/system/tcpxd-extra.socket
X systemctl daemon-reload

# ---- watchdog -----------------------------------------------------------------------------
X mkdir -p /run/systemd/system/tcpxd.service.d
X sh -c 'printf "[Service]\nEnvironment=TCPXD_TEST_FAULTS=1\nWatchdogSec=2s\nRestartSec=100ms\n" \
           > /run/systemd/system/tcpxd.service.d/watchdog.conf'
X systemctl daemon-reload
check "start with the test fault hook and WatchdogSec=2s" X systemctl start tcpxd.service
pid=$(show tcpxd MainPID)
sleep 2.5      # a healthy accept loop keeps feeding the watchdog
check "a healthy tcpxd is not killed by the watchdog" test "$(show tcpxd MainPID)" = "$pid"
X systemctl kill -s USR2 --kill-whom=main tcpxd.service
# WatchdogSec=2s, then SIGABRT (WatchdogSignal=): restarted well within 8 s.
check "hung accept loop: systemd restarts tcpxd (new main PID, active)" \
      wait_for 8 new_main_pid "$pid"
check "  ... NRestarts >= 1" test "$(show tcpxd NRestarts)" -ge 1
check "  ... journal shows the watchdog timeout, and SIGABRT ended the process" \
      X sh -c 'journalctl -u tcpxd -o cat | grep -q "Watchdog timeout" &&
               journalctl -u tcpxd -o cat | grep -q "Main process exited, code=\(dumped\|killed\), status=6/ABRT"'
check "  ... and the new process serves" echo_ok 127.0.0.1 7007
X systemctl stop tcpxd.service
X rm -rf /run/systemd/system/tcpxd.service.d
X systemctl daemon-reload

# ---- TLS: keys readable by a group, renewed by a reload --------------------------------------
# DynamicUser cannot read a root-only key; a static group can (Debian's
# ssl-cert convention).  LoadCredential= is no answer on systemd 252: its
# copies are unreadable to ExecReload's tcpxd -t under DynamicUser (systemd
# issue 24291) and a reload could not renew them anyway.
mkcert() {   # mkcert NAME: self-signed EC certificate for 127.0.0.1 in $work
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$work/$1-key.pem" -out "$work/$1-cert.pem" >/dev/null 2>&1
}
install_cert() {   # install_cert NAME: make it the service's certificate
  X sh -c 'cat > /etc/tcpxd/tls/key.pem' < "$work/$1-key.pem"
  X sh -c 'cat > /etc/tcpxd/tls/cert.pem' < "$work/$1-cert.pem"
  X sh -c "cat > /root/$1-ca.pem" < "$work/$1-cert.pem"
}
mkcert first; mkcert renewed
X groupadd --system tcpxd-tls
X install -d -m 0750 -g tcpxd-tls /etc/tcpxd/tls
X install -m 0640 -g tcpxd-tls /dev/null /etc/tcpxd/tls/key.pem
X install -m 0644 /dev/null /etc/tcpxd/tls/cert.pem
install_cert first
X mkdir -p /run/systemd/system/tcpxd.service.d
X sh -c 'printf "[Service]\nSupplementaryGroups=tcpxd-tls\n" > /run/systemd/system/tcpxd.service.d/tls.conf'
X systemctl daemon-reload
restore_conf
X sed -i 's|^);$|  , { name = "echo-tls"; mode = "echo"; address = "127.0.0.1"; port = 7443;\n      tls = { certificate = "/etc/tcpxd/tls/cert.pem"; key = "/etc/tcpxd/tls/key.pem"; }; }\n);|' "$CONF"
check "start with a TLS listener whose key only group tcpxd-tls can read" X systemctl start tcpxd.service
tls_echo_ok() {   # tls_echo_ok CA: tcpx verifies the service's certificate with CA
  [ "$(X sh -c "echo hello-tls | timeout 10 tcpx echo --tls --ca /root/$1-ca.pem 127.0.0.1:7443" 2>/dev/null)" = hello-tls ]
}
check "tcpx --tls echo through the service" tls_echo_ok first
check "journal: tls=TLSv1.3 in the connection's log line" \
      wait_for 5 X sh -c 'journalctl -u tcpxd -o cat | grep -q "listener=echo-tls .*tls=TLSv1.3.*result=ok"'
install_cert renewed
check "systemctl reload with a renewed certificate (tcpxd -t in ExecReload reads it)" \
      X systemctl reload tcpxd.service
check "  ... new connections get the renewed certificate" tls_echo_ok renewed
check "  ... and no longer the old one" fails tls_echo_ok first
X systemctl stop tcpxd.service
X rm -rf /run/systemd/system/tcpxd.service.d /etc/tcpxd/tls
X groupdel tcpxd-tls
X systemctl daemon-reload
restore_conf

# ---- make uninstall ------------------------------------------------------------------------
make -s -C "$build" uninstall DESTDIR="$stage" systemdsystemunitdir=/lib/systemd/system \
  >"$work/uninstall.log" 2>&1
left=$(find "$stage" -type f | sed "s|^$stage||")
check "make uninstall removed everything it installed${left:+ (left: $left)}" test -z "$left"

# ============================================================ part 2: the Debian package
if [ "${TCPXD_CHECK_SYSTEMD_NO_DEB:-0}" = 1 ]; then
  note "TCPXD_CHECK_SYSTEMD_NO_DEB=1: Debian package not checked"
else
  deb_dir="$work/deb"; mkdir -p "$deb_dir"
  # Build from the distribution tarball, so debian/ is what "make dist" ships.
  if make -s -C "$build" dist >"$work/dist.log" 2>&1 &&
     tar -C "$deb_dir" -xzf "$build"/tcpxd-*.tar.gz; then
    ok "make dist, unpacked for dpkg-buildpackage"
  else
    cat "$work/dist.log"; bad "make dist"
  fi
  t0=$(date +%s)
  if (cd "$deb_dir"/tcpxd-*/ &&
      DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
      >"$deb_dir/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b ($(( $(date +%s) - t0 )) s)"
  else
    tail -30 "$deb_dir/build.log"; bad "dpkg-buildpackage -us -uc -b"
  fi
  deb=$(ls "$deb_dir"/tcpxd_*.deb 2>/dev/null | head -1)
  lintian --fail-on error --tag-display-limit 0 "$deb_dir"/tcpxd_*.changes >"$deb_dir/lintian.log" 2>&1
  rc=$?
  sed 's/^/#   lintian: /' "$deb_dir/lintian.log"
  check "lintian: no errors" test $rc = 0
  check "the .deb ships the units and /etc/tcpxd.conf as a conffile" \
        sh -c "dpkg-deb -c '$deb' | grep lib/systemd/system/tcpxd.service >/dev/null &&
               dpkg-deb -I '$deb' conffiles | grep -qx /etc/tcpxd.conf"

  sandbox_up
  "$SB" cp "$DIR" "$deb" /root/tcpxd.deb
  check "dpkg -i tcpxd.deb" X sh -c 'dpkg -i /root/tcpxd.deb > /root/dpkg.log 2>&1 || { cat /root/dpkg.log; false; }'
  check ".deb: tcpxd.service enabled and active" \
        test "$(X systemctl is-enabled tcpxd.service)/$(show tcpxd ActiveState)" = enabled/active
  check ".deb: runs /usr/sbin/tcpxd -c /etc/tcpxd.conf" \
        X sh -c 'systemctl show tcpxd -p ExecStart --value | grep -q "path=/usr/sbin/tcpxd ; argv\[\]=/usr/sbin/tcpxd -c /etc/tcpxd.conf "'
  check ".deb: echo works" echo_ok 127.0.0.1 7007
  rec=$(upload ::1 7008 /root/tcpxd.deb)
  check ".deb: upload stored in $INBOX: '$rec'" receipt_ok "$rec" /root/tcpxd.deb "$INBOX"
  check ".deb: socket units installed, not enabled" \
        test "$(X systemctl is-enabled tcpxd.socket tcpxd-inbox.socket | sort -u)" = disabled
  # The opt-in socket units of the package: activation, and removal stops them.
  X systemctl stop tcpxd.service
  check ".deb: systemctl enable --now tcpxd.socket tcpxd-inbox.socket" \
        X systemctl enable --quiet --now tcpxd.socket tcpxd-inbox.socket
  check ".deb: a connection to the socket starts tcpxd" echo_ok 127.0.0.1 7007
  check "dpkg --purge tcpxd" X sh -c 'dpkg --purge tcpxd > /root/dpkg.log 2>&1 || { cat /root/dpkg.log; false; }'
  check "purge: service and sockets stopped and unknown to systemd" \
        test "$(show tcpxd ActiveState)/$(show tcpxd LoadState)/$(show tcpxd.socket ActiveState)/$(show tcpxd.socket LoadState)" = inactive/not-found/inactive/not-found
  check "purge: nothing listens on 7007 and 7008" \
        test -z "$(X ss -Hltn '( sport = :7007 or sport = :7008 )')"
  check "purge: /etc/tcpxd.conf, /var/lib/tcpxd and the enablement links are gone" \
        X sh -c '! test -e /etc/tcpxd.conf && ! test -e /var/lib/tcpxd && ! test -e /var/lib/private/tcpxd &&
                 ! test -e /etc/systemd/system/multi-user.target.wants/tcpxd.service &&
                 ! test -e /etc/systemd/system/sockets.target.wants/tcpxd.socket &&
                 ! test -e /var/lib/systemd/deb-systemd-helper-enabled/tcpxd.service.dsh-also'
fi

echo "check-systemd: $PASS passed, $FAIL failed ($(( $(date +%s) - t_start )) s)"
[ "$FAIL" = 0 ]
