#!/bin/sh
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) in a copy of the
# tree, runs lintian on them (no errors allowed), installs them into a fresh
# Debian root and runs nymd there: `nymd --version`, `nymd init` as the
# user nymd the packages created, and a purge; then boots a copy of the
# installed root under systemd (tests/package/systemd-boot.sh).
#
# The fresh root is made by `debootstrap --variant=minbase` from the first
# Debian mirror apt is configured with (/etc/apt/sources.list*), and cached
# (PACKAGE_CACHE, default /var/tmp/nymd-package) as a tarball for the next
# run. The packages go in with the root's own apt, which fetches their
# dependencies from that mirror: so this needs root and that mirror.
#
# Environment: top_srcdir (default: two levels up), PACKAGE_CACHE, SUITE
# (default: the host's codename), DEB_BUILD_OPTIONS (default nocheck: the
# test suite is `make check`'s job; set it empty to run it in the build too),
# KEEP_WORK=1 keeps the work directory.
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or no mirror).
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PACKAGE_CACHE:=/var/tmp/nymd-package}"
: "${DEB_BUILD_OPTIONS=nocheck}"
export DEB_BUILD_OPTIONS

say() { echo "# $*"; }
skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get, debootstrap, chroot)"
. /etc/os-release
: "${SUITE:=${VERSION_CODENAME:-bookworm}}"

# The tools, from Debian (listed for the README too).
TOOLS="debhelper devscripts lintian debootstrap fakeroot dpkg-dev systemd systemd-container"
missing=""
for p in $TOOLS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null ||
	    die "apt-get install -y$missing failed"
fi

WORK=$(mktemp -d /tmp/nymd-package.XXXXXX)
ROOT=$WORK/root
cleanup() {
	for m in proc dev/pts dev sys; do
		mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"
	done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# 1. A copy of the tree: the files git knows and those it does not ignore,
# so nothing configured or built in the source tree comes along.
SRC=$WORK/src/nymd
mkdir -p "$SRC"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	    tar --null -T - -cf -) | tar -C "$SRC" -xf -
else
	(cd "$top_srcdir" && tar --exclude=./.git --exclude=./autom4te.cache --exclude=./build --exclude='./build-*' \
	    --exclude=config.status --exclude=config.log -cf - .) | tar -C "$SRC" -xf -
fi
say "tree copied to $SRC"

# 2. Build dependencies, from debian/control.
DEBIAN_FRONTEND=noninteractive apt-get build-dep -y "$SRC" >"$WORK/build-dep.log" 2>&1 ||
    { tail -20 "$WORK/build-dep.log"; die "apt-get build-dep failed"; }

# 3. The packages.
say "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log"; die "dpkg-buildpackage failed (log: $WORK/build.log)"; }
DEBS=$(ls "$WORK"/src/*.deb)
for p in nymd nym-mixnet libnym0 libnym-dev python3-nym; do
	ls "$WORK"/src/${p}_*.deb >/dev/null 2>&1 || die "package $p was not built"
done
for d in $DEBS; do say "built $(basename "$d") ($(du -k "$d" | cut -f1) KiB)"; done

# 4. lintian: no errors (warnings are shown).
changes=$(ls "$WORK"/src/*.changes)
lintian --fail-on error --info "$changes" >"$WORK/lintian.log" 2>&1 && lrc=0 || lrc=$?
sed 's/^/# lintian: /' "$WORK/lintian.log"
[ "$lrc" -eq 0 ] || die "lintian reports errors"
say "lintian: $(grep -c '^E:' "$WORK/lintian.log" || true) errors, $(grep -c '^W:' "$WORK/lintian.log" || true) warnings"

# 5. A fresh root, from the mirror apt uses.
mirror=$(
	{ grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
	  grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	      sed 's/\[[^]]*\]//' | awk '{print $2}'; } |
	grep '/debian/\{0,1\}$' | head -1)
[ -n "$mirror" ] || skip "no Debian mirror in /etc/apt/sources.list*"
base=$PACKAGE_CACHE/$SUITE-minbase.tar
mkdir -p "$PACKAGE_CACHE" "$ROOT"
if [ ! -s "$base" ]; then
	say "debootstrap --variant=minbase $SUITE from $mirror"
	debootstrap --variant=minbase "$SUITE" "$ROOT" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
	    { tail -20 "$WORK/debootstrap.log"; skip "debootstrap from $mirror failed"; }
	tar -C "$ROOT" -cf "$base.tmp" . && mv "$base.tmp" "$base"
else
	say "fresh root from the cached $base"
	tar -C "$ROOT" -xf "$base"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

# 6. Install the packages with the root's apt (dependencies from the mirror).
mkdir -p "$ROOT/tmp/debs"
cp $DEBS "$ROOT/tmp/debs/"
in_root apt-get update >"$WORK/root-apt.log" 2>&1 || { tail "$WORK/root-apt.log"; die "apt-get update in the root failed"; }
# shellcheck disable=SC2046
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    $(cd "$ROOT" && ls tmp/debs/*.deb | sed 's|^|/|') >>"$WORK/root-apt.log" 2>&1 ||
    { tail -30 "$WORK/root-apt.log"; die "installing the packages in the fresh root failed"; }
say "installed in a fresh $SUITE minbase root"
# A copy to boot under systemd at the end (systemd-boot.sh), before the
# checks below change it; with KEEP_WORK=1, $WORK/installed.tar lets one
# run systemd-boot.sh again on a fresh copy.
mkdir -p "$WORK/boot-root"
tar -C "$ROOT" --one-file-system -cf "$WORK/installed.tar" . &&
    tar -C "$WORK/boot-root" -xf "$WORK/installed.tar" || die "cannot copy the installed root"

# 7. What a user of the packages does. Each check is a shell command line.
n=0 failed=0
t() {
	n=$((n + 1))
	if out=$(eval "$2" 2>&1); then echo "ok $n - $1"; else
		echo "not ok $n - $1"; echo "$out" | sed 's/^/#   /'; failed=$((failed + 1)); fi
}
t "nymd --version" 'in_root nymd --version | grep "^nymd [0-9]"'
t "loopix-client is nymd" 'in_root loopix-client --version | grep "^nymd "'
t "the user nymd exists" 'in_root getent passwd nymd'
t "/var/lib/nymd belongs to nymd, mode 750" 'in_root stat -c %U:%a /var/lib/nymd | grep -x nymd:750'
t "nymd init as nymd under /var/lib/nymd" 'in_root runuser -u nymd -- env NYMD_HOME=/var/lib/nymd \
    nymd init --id alice --local'
t "init wrote the key pair (mode 0600) and the config" '
    in_root stat -c %a /var/lib/nymd/clients/alice/config/private_key.pem | grep -x 600 &&
    in_root test -s /var/lib/nymd/clients/alice/config/config.toml'
t "nymd init as root in a home directory" 'in_root nymd init --home /root/.loopix --id bob \
    --directory http://127.0.0.1:8080/api/presence/topology'
t "nymctl --help" 'in_root nymctl --help'
t "nym-directory --version" 'in_root nym-directory --version'
t "nym-mixnode init as nymd under /var/lib/nym-mixnode" 'in_root runuser -u nymd -- nym-mixnode init \
    --home /var/lib/nym-mixnode --id mix1 --port 1789 --layer 1 --directory http://127.0.0.1:8080'
t "the units are installed and none is enabled" '
    for u in nymd@.service nym-directory.service nym-mixnode@.service nym-provider.service; do
        test -f "$ROOT/lib/systemd/system/$u" || exit 1
    done
    ! find "$ROOT/etc/systemd/system" -name "nym*" | grep .'
# Every program a unit runs (Exec*=, the first word after systemd's
# prefixes) must come with the packages or their dependencies: the fresh
# minbase root has nothing else (no procps, so no /usr/bin/kill).
unit_programs_installed() {
	for u in "$ROOT"/lib/systemd/system/nym*.service; do
		sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$u" | while read -r prog; do
			case $prog in
			/*) in_root test -x "$prog" || { echo "$(basename "$u"): $prog is not installed"; exit 1; } ;;
			*) echo "$(basename "$u"): $prog is not an absolute path"; exit 1 ;;
			esac
		done || return 1
	done
}
t "every program the units run is installed" unit_programs_installed
t "libnym: header, pkg-config file, shared library" '
    test -f "$ROOT/usr/include/nym.h" &&
    ls "$ROOT"/usr/lib/*/pkgconfig/nym.pc "$ROOT"/usr/lib/*/libnym.so.0'
# python3-nym: the module imports with the root's python3 alone (no
# python3-protobuf), finds a client's socket as nymctl does, and says why
# when no nymd listens there.
t "python3-nym: import nym from /usr/lib/python3/dist-packages" \
    'in_root python3 -c "import nym; print(nym.__file__)" | grep -x /usr/lib/python3/dist-packages/nym/__init__.py'
t "python3-nym: standard library only, errors as exceptions" 'in_root python3 -c "
import sys, nym
assert not [m for m in sys.modules if m.startswith(\"google\")]
assert nym.default_socket_path(\"alice\", \"/var/lib/nymd\") == \"/var/lib/nymd/clients/alice/nymd.sock\"
try:
    nym.connect(\"alice\", home=\"/var/lib/nymd\")
except nym.ConnectError as e:
    print(e)
else:
    sys.exit(\"connected to nothing\")
" | grep "^connect /var/lib/nymd/clients/alice/nymd.sock: "'
t "python3-nym: its page and example are installed" '
    ls "$ROOT"/usr/share/doc/python3-nym/python.md* "$ROOT"/usr/share/doc/python3-nym/examples/nym_hello.py*'
t "the manual pages are installed" 'ls "$ROOT"/usr/share/man/man8/nymd.8* "$ROOT"/usr/share/man/man5/nymd.conf.5* \
    "$ROOT"/usr/share/man/man8/loopix-client.8*'
t "purge removes the packages and /var/lib/nymd" '
    in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y nymd nym-mixnet libnym-dev libnym0 python3-nym &&
    ! in_root test -e /var/lib/nymd && ! in_root test -e /usr/bin/nymd &&
    ! in_root test -e /usr/lib/python3/dist-packages/nym'
echo "1..$n"
[ "$failed" -eq 0 ] || die "$failed of $n checks failed in the fresh root"
say "all $n checks passed in the fresh root"

# 8. The same packages booted under a real systemd.
say "booting the installed root under systemd (systemd-boot.sh)"
brc=0
sh "$top_srcdir/tests/package/systemd-boot.sh" "$WORK/boot-root" || brc=$?
case $brc in
0) ;;
77) say "SKIPPED: the systemd boot test (reason above)";;
*) die "the systemd boot test failed";;
esac
