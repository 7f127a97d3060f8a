#!/bin/sh
# systemd-boot.sh ROOT: the packages as shipped, under a real systemd.
# ROOT is a Debian root with the packages installed (build-install.sh makes
# it); systemd and dbus are added to it (a real machine has them), it is
# booted with `systemd-nspawn -b`, and then, as a user following the units'
# comments and the man pages would (runuser -u nymd for their sudo -u nymd:
# minbase has no sudo):
# - nym-directory, nym-mixnode@mix1..3, nym-provider, nymd@alice and
#   nymd@bob are created and started from their units, and all are active;
# - a message from alice reaches bob;
# - netd and rpcd report Landlock on, and every nymd process has no
#   capability and NoNewPrivs;
# - `systemctl reload nymd@alice` works with a good configuration and fails
#   with a broken one (the service stays up);
# - `systemd-analyze security` of the live units is at most 2.0;
# - `systemctl stop` is clean: nothing needed SIGKILL.
# Commands go into the container with nsenter. Needs root and
# systemd-nspawn (Debian package systemd-container); exits 77 (skipped)
# only where the container cannot boot, saying why.
# Environment: KEEP_WORK=1 leaves the container's journal in ROOT.
set -u

root=$1
NSPAWN_PID=""
CPID=""
say() { echo "# $*"; }
skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not found: apt-get install -y systemd-container"
command -v nsenter >/dev/null || skip "nsenter not found (util-linux)"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
# ins COMMAND...: runs COMMAND inside the booted container.
ins() { nsenter -t "$CPID" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
asnymd() { ins runuser -u nymd -- "$@"; }

stop_container() {
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -n "$CPID" ] && ins systemctl poweroff >/dev/null 2>&1
		i=0
		while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		sleep 1
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=""
}
trap stop_container EXIT

# 1. systemd in the root (the packages need none of it to install).
if [ ! -x "$root/lib/systemd/systemd" ]; then
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    systemd dbus >"$root/tmp/boot-apt.log" 2>&1 ||
	    { tail -20 "$root/tmp/boot-apt.log"; die "installing systemd in the root failed"; }
	umount -l "$root/proc"
fi

# 2. Boot. The filter adds what a real machine allows and nspawn's own
# default does not: mlock and Landlock.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D "$root" -b --register=no \
    --keep-unit --private-network --console=read-only \
    --system-call-filter='@memlock landlock_create_ruleset landlock_add_rule landlock_restrict_self' \
    >"$root/tmp/nspawn.out" 2>&1 &
NSPAWN_PID=$!
i=0
while [ -z "$CPID" ] && [ $i -lt 100 ]; do
	kill -0 "$NSPAWN_PID" 2>/dev/null || break
	for c in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && CPID=$c
	done
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$CPID" ]; then
	tail -20 "$root/tmp/nspawn.out" | sed 's/^/#   /'
	skip "systemd-nspawn -b could not boot the root here (its output above)"
fi
state=""
i=0
while [ $i -lt 60 ]; do
	state=$(ins systemctl is-system-running 2>/dev/null)
	case $state in running|degraded) break;; esac
	kill -0 "$NSPAWN_PID" 2>/dev/null || break
	sleep 0.5
	i=$((i + 1))
done
case $state in
running|degraded) say "booted under systemd $(ins systemctl --version | sed -n '1s/^systemd //p') ($state)";;
*) tail -20 "$root/tmp/nspawn.out" | sed 's/^/#   /'
   skip "the container's systemd did not finish booting (state '$state')";;
esac

n=0 failed=0
t() {
	n=$((n + 1))
	if out=$(eval "$2" 2>&1); then echo "ok $n - $1"; else
		echo "not ok $n - $1"; echo "$out" | tail -n 30 | sed 's/^/#   /'; failed=$((failed + 1)); fi
}
# wait_until SECONDS COMMAND: polls COMMAND (a shell string) every 0.5 s
wait_until() {
	w=0
	while [ $w -lt $(($1 * 2)) ]; do
		eval "$2" >/dev/null 2>&1 && return 0
		sleep 0.5
		w=$((w + 1))
	done
	eval "$2"
}

# 3. The mixnet and two clients, as the units' comments say.
UNITS="nym-directory.service nym-mixnode@mix1.service nym-mixnode@mix2.service \
nym-mixnode@mix3.service nym-provider.service nymd@alice.service nymd@bob.service"
t "nym-directory starts" 'ins systemctl start nym-directory.service'
t "mixnodes mix1..3 created as nym-mixnode@.service says" '
    for l in 1 2 3; do
        asnymd nym-mixnode init --home /var/lib/nym-mixnode --id mix$l \
            --port 178$l --layer $l --directory http://127.0.0.1:8080 || exit 1
    done'
t "the provider created as nym-provider.service says" 'asnymd nym-provider init \
    --home /var/lib/nym-provider --id provider --port 1790 --directory http://127.0.0.1:8080'
t "mixnodes and provider start" 'ins systemctl start nym-mixnode@mix1 nym-mixnode@mix2 \
    nym-mixnode@mix3 nym-provider'
t "alice and bob created as nymd@.service says" '
    for c in alice bob; do
        asnymd env NYMD_HOME=/var/lib/nymd nymd init --id $c --local || exit 1
    done'
t "nymd@alice and nymd@bob start (Type=notify: ready)" 'ins systemctl start nymd@alice nymd@bob'
t "every unit is active" '
    for u in $UNITS; do
        s=$(ins systemctl is-active $u); [ "$s" = active ] || { echo "$u: $s"; ins journalctl -u $u --no-pager | tail -20; exit 1; }
    done'

# 4. alice -> bob, once every node's own topology lists every node: until
# then a provider takes a mixnode that joined after its last fetch for a
# client and drops what it relays (a known gap of the nodes).
t "every node's topology lists the 3 mixnodes and the provider" '
    for u in nym-mixnode@mix1 nym-mixnode@mix2 nym-mixnode@mix3 nym-provider; do
        wait_until 60 "ins journalctl -u $u --no-pager -o cat | grep -q \"topology: 3 mixnodes, 1 providers\"" ||
            { echo "$u:"; ins journalctl -u $u --no-pager -o cat | grep topology | tail -3; exit 1; }
    done'
ctl() { c=$1; shift; asnymd nymctl --home /var/lib/nymd --id "$c" "$@"; }
BOB=$(ctl bob details 2>/dev/null | sed -n 's/^id: //p')
t "bob is in alice's topology" "[ -n '$BOB' ] && wait_until 60 \"ctl alice clients | grep -q '^$BOB '\""
t "alice's message reaches bob" "ctl alice send --to '$BOB' 'hello bob, from a booted system' &&
    wait_until 60 \"ctl bob fetch | grep -q 'hello bob, from a booted system'\""

# 5. What confines them.
t "netd and rpcd report Landlock on (both clients)" '
    for c in alice bob; do
        j=$(ins journalctl -u nymd@$c --no-pager -o cat)
        for r in netd rpcd; do
            echo "$j" | grep -q "$r sandbox: .*Landlock ABI [0-9]" ||
                { echo "nymd@$c $r:"; echo "$j" | grep -i -e sandbox -e landlock; exit 1; }
        done
        ! echo "$j" | grep -i -e "refused by a system call filter" -e "cannot lock secret memory" || exit 1
    done'
# nymd_pids: every process of the two nymd units (their cgroups).
nymd_pids() {
	for c in alice bob; do
		cg=$(ins systemctl show -p ControlGroup --value nymd@$c.service)
		ins cat "/sys/fs/cgroup$cg/cgroup.procs"
	done
}
t "every nymd process has no capability and NoNewPrivs" '
    pids=$(nymd_pids); [ "$(echo "$pids" | grep -c .)" -ge 8 ] || { echo "processes: $pids"; exit 1; }
    for p in $pids; do
        st=$(ins cat /proc/$p/status) || exit 1
        for f in CapInh CapPrm CapEff CapBnd CapAmb; do
            echo "$st" | grep -q "^$f:[[:space:]]*0000000000000000$" || { echo "pid $p: $(echo "$st" | grep "^$f")"; exit 1; }
        done
        echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1$" || { echo "pid $p: no NoNewPrivs"; exit 1; }
    done'

# 6. Reload.
CONF=/var/lib/nymd/clients/alice/config/config.toml
t "systemctl reload with a good configuration succeeds and nymd reloads it" '
    ins systemctl reload nymd@alice &&
    wait_until 10 "ins journalctl -u nymd@alice --no-pager -o cat | grep -q \"configuration reloaded from\""'
t "systemctl reload with a broken configuration fails; nymd@alice stays active" '
    ins cp $CONF /root/alice.toml &&
    ins sh -c "echo no_such_key = 1 >>$CONF" &&
    ! ins systemctl reload nymd@alice && [ "$(ins systemctl is-active nymd@alice)" = active ] &&
    ins systemctl status nymd@alice --no-pager -n 20 | grep -q no_such_key'
ins cp /root/alice.toml "$CONF"

# 7. The exposure of the live units.
t "systemd-analyze security of the live units: at most 2.0" '
    for u in $UNITS; do
        e=$(ins systemd-analyze security --no-pager $u | sed -n "s/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p")
        echo "$u: $e"
        awk -v e="$e" "BEGIN { exit !(e != \"\" && e <= 2.0) }" || exit 1
    done'

# 8. Stop, cleanly.
t "systemctl stop of every unit is clean: no SIGKILL, each result success" '
    ins systemctl stop $UNITS || exit 1
    for u in $UNITS; do
        r=$(ins systemctl show -p Result --value $u)
        [ "$r" = success ] || { echo "$u: $r"; exit 1; }
    done
    ! ins journalctl --no-pager -o cat | grep -e "SIGKILL" -e "Killing process"'

echo "1..$n"
[ -n "${KEEP_WORK:-}" ] && ins journalctl --no-pager >"$root/tmp/journal.txt" 2>&1
stop_container
[ "$failed" -eq 0 ] || die "$failed of $n checks failed in the booted root"
say "all $n checks passed under systemd"
