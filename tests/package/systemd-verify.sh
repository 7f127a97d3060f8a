#!/bin/sh
# systemd-verify.sh ROOT UNIT...: `systemd-analyze verify` of each unit as
# installed under ROOT (make install DESTDIR=ROOT prefix=/usr), with the
# host's own units (targets) added to a copy of ROOT so that dependencies
# resolve, the binaries the units name are those under ROOT (and nothing
# else: a unit that runs a program nymd does not install fails),
# and their Documentation= man pages are ROOT's. Then the offline
# `systemd-analyze security` exposure of each (at most 2.0).
# Template units are checked as an instance (nymd@test.service).
set -eu
root=$1; shift
command -v systemd-analyze >/dev/null || {
	echo "systemd-analyze not found: install the Debian package systemd (apt-get install -y systemd)" >&2
	exit 77
}
vr=$(mktemp -d /tmp/systemd-verify.XXXXXX)
trap 'rm -rf "$vr"' EXIT
cp -a "$root"/. "$vr"/
unitdir=$vr/lib/systemd/system
[ -d "$unitdir" ] || unitdir=$vr/usr/lib/systemd/system
hostunits=/lib/systemd/system
[ -d "$hostunits" ] || hostunits=/usr/lib/systemd/system
cp -an "$hostunits"/. "$unitdir"/
failed=0
for u in "$@"; do
	case $u in *@.service) inst=${u%@.service}@test.service;; *) inst=$u;; esac
	if out=$(MANPATH="$vr/usr/share/man" systemd-analyze verify --root="$vr" "$inst" 2>&1) &&
	    [ -z "$out" ]; then
		echo "verify $u: clean"
	else
		echo "verify $u: FAILED"; echo "$out" | sed 's/^/    /'; failed=1
	fi
	exp=$(systemd-analyze security --offline=true --root="$vr" "$inst" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "security $u: exposure $exp"
	if [ -z "$exp" ] || ! awk -v e="$exp" 'BEGIN { exit !(e <= 2.0) }'; then
		echo "security $u: exposure above 2.0"; failed=1
	fi
done
exit $failed
