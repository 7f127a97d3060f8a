#!/bin/sh
# The EXAMPLES of nym-directory(8), nym-mixnode(8), nym-provider(8),
# nymd(8), nymctl(1) and nym-testnet(1), and the README's first session,
# run as written (tests/tools/runexamples.py says what is set up around
# them), in a network namespace of this test's own, where their fixed
# ports are free. Root only (unshare -n).
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 ||
    ! unshare -n true 2>/dev/null; then
	echo "1..0 # SKIP needs root and unshare -n (a network namespace for the examples' fixed ports)"
	exit 0
fi
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
WORK=$(mktemp -d /tmp/nymd-examples.XXXXXX)
chmod 755 "$WORK"
unshare -n python3 "$top_srcdir/tests/tools/runexamples.py" \
	"$top_srcdir" "$top_builddir" "$WORK"
rc=$?
[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
exit $rc
