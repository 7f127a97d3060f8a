#!/bin/sh
# Each role's confinement as the kernel shows it from outside, in both
# modes nymd runs in: started as root (the roles drop to the user nymd)
# and started by an ordinary user (as root, this test runs that mode as
# the user nymd through setpriv; otherwise as the caller).
#  - every role: Seccomp 2 (filter) and NoNewPrivs 1, no capability;
#  - root mode: master too holds no capability (permitted, effective or
#    ambient) and runs as the user nymd, having handed the client's home
#    to it but the private key (root's, 0600: keyd reads the file master
#    opened), and every process works in the
#    home (rpcd in its data directory) without a chroot, as in user mode,
#    so a child master restarts is confined exactly like the first
#    (containment.sh restarts them); user mode: no chroot either;
#  - netd and rpcd confine themselves with Landlock in both modes. The
#    kernel does not show a Landlock domain in /proc, so this is the role's
#    own report; tests/unit/test_sandbox opens files from inside the
#    real netd and rpcd Landlock rules and is refused.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" = 0 ]; then
	MODES="root user"
	NYMD_UID=$(id -u nymd)
else
	MODES="user"
fi
# 9 checks as root, 8 as a user
if [ "$(id -u)" = 0 ]; then
	plan 17
else
	plan 9
	ok "root mode # SKIP not root"
fi

fixed_directory

# The user mode's command prefix: as root, setpriv (which execs, so that
# $! is nymd's master); otherwise nothing.
AS_USER=""
[ "$(id -u)" = 0 ] && AS_USER="setpriv --reuid=nymd --regid=nymd --clear-groups"

for mode in $MODES; do
	U="$WORK/$mode"
	mkdir -p "$U"
	[ "$mode" = user ] && [ "$(id -u)" = 0 ] && chown nymd:nymd "$U"
	# root mode: a home in a directory closed to the user nymd runs as,
	# as in root's own /root/.loopix
	[ "$mode" = root ] && chmod 700 "$U"
	run=""
	[ "$mode" = user ] && run=$AS_USER
	$run "$NYMD" init --id c --home "$U/home" --directory "$TOPOLOGY_URL" \
		--provider "$PROVIDER" >"$U/init.out" 2>&1
	sed -i "s|^file = .*|file = \"$U/c.log\"|; s|^level = .*|level = \"debug\"|" \
		"$U/home/clients/c/config/config.toml"
	$run "$NYMD" run --id c --home "$U/home" >"$U/run.out" 2>&1 &
	M=$!
	track "$M"
	if ! wait_for 10 all_roles_up "$M"; then
		not_ok "$mode mode: the three roles start"
		sed 's/^/# /' "$U/run.out" "$U/c.log" 2>/dev/null | tail -n 20
		continue
	fi
	ok "$mode mode: the three roles start"
	# the last role to confine itself has logged it
	wait_for 5 sh -c "grep -q 'rpcd confined by Landlock\|this kernel has no Landlock' '$U/c.log' &&
		grep -q 'netd confined by Landlock\|this kernel has no Landlock' '$U/c.log'"
	sleep 0.5
	for r in keyd netd rpcd; do eval "P_$r=$(role_pid "$M" $r)"; done
	for r in keyd netd rpcd; do
		eval "p=\$P_$r"
		diag "$mode $r: root $(readlink /proc/$p/root) $(grep -E '^(Uid|Seccomp|NoNewPrivs|CapEff):' /proc/$p/status | tr -s '\t\n' '  ')"
	done
	# sandboxed P: seccomp filter, no new privileges, no effective capability
	sandboxed() {
		grep -q '^Seccomp:[[:space:]]*2$' /proc/$1/status &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/$1/status &&
		grep -q '^CapEff:[[:space:]]*0*$' /proc/$1/status
	}
	# runs_as P UID: real, effective and saved uid are UID
	runs_as() { awk -v u="$2" '/^Uid:/ { exit !($2 == u && $3 == u && $4 == u) }' /proc/$1/status; }
	if [ "$mode" = root ]; then uid=$NYMD_UID; else uid=$($AS_USER id -u); fi
	all_sandboxed=1
	for r in keyd netd rpcd; do
		eval "p=\$P_$r"
		{ sandboxed "$p" && runs_as "$p" "$uid"; } || all_sandboxed=0
	done
	check "$mode mode: keyd, netd and rpcd run as uid $uid, with seccomp, NoNewPrivs and no capability" \
		test "$all_sandboxed" = 1
	if [ "$mode" = root ]; then
		H="$U/home/clients/c"
		check "root mode: master runs as uid $uid with no capability (permitted, effective, ambient)" sh -c \
			"awk -v u=$uid '/^Uid:/ { exit !(\$2 == u && \$3 == u && \$4 == u) }' /proc/$M/status &&
			 grep -Eq '^CapPrm:[[:space:]]*0+$' /proc/$M/status &&
			 grep -Eq '^CapEff:[[:space:]]*0+$' /proc/$M/status &&
			 grep -Eq '^CapAmb:[[:space:]]*0+$' /proc/$M/status"
		check "root mode: the client's home is handed to the user nymd runs as, but the private key, still root's and 0600" sh -c \
			"[ -z \"\$(find '$H' ! -user nymd ! -path '$H/config/private_key.pem')\" ] &&
			 [ \"\$(stat -c %U:%a '$H/config/private_key.pem')\" = root:600 ]"
		check "root mode: no chroot; master, keyd and netd work in the home, rpcd in its data directory" sh -c \
			"for p in $M $P_keyd $P_netd $P_rpcd; do [ \"\$(readlink /proc/\$p/root)\" = / ] || exit 1; done
			 for p in $M $P_keyd $P_netd; do [ \"\$(readlink /proc/\$p/cwd)\" = '$H' ] || exit 1; done
			 [ \"\$(readlink /proc/$P_rpcd/cwd)\" = '$H/data' ]"
		check "root mode: the directory above the home stays closed to that user" sh -c \
			"[ \"\$(stat -c %U '$U')\" = root ] && ! $AS_USER ls '$U' >/dev/null 2>&1"
	else
		for r in keyd rpcd netd; do
			eval "p=\$P_$r"
			check "user mode: $r's root directory is / (no chroot without root)" \
				test "$(readlink /proc/$p/root)" = /
		done
	fi
	for r in netd rpcd; do
		if grep -q "this kernel has no Landlock: $r " "$U/c.log"; then
			ok "$mode mode: $r confines itself with Landlock # SKIP this kernel has no Landlock"
		else
			check "$mode mode: $r confines itself with Landlock" \
				grep -q "$r confined by Landlock (ABI [0-9]" "$U/c.log"
		fi
	done
	check "$mode mode: the daemon answers details" sh -c \
		"'$SOCKREQ' 'unix:$U/home/clients/c/nymd.sock' details | grep -q '^details: id='"
	kill -TERM "$M"
	wait "$M"
done
finish
