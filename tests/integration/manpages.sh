#!/bin/sh
# The manual pages: `mandoc -Tlint -W warning` is clean for every page, and
# each program's page matches the options the program accepts: every option
# in its getopt tables, optstrings, literal option compares and help output
# appears in the page, and every option the page documents (in SYNOPSIS and
# in `.It Fl` list entries) is accepted by the program.
# shellcheck shell=sh
: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/integration/lib.sh"

if ! command -v mandoc >/dev/null 2>&1; then
	echo "1..0 # SKIP mandoc not found: install the Debian package mandoc"
	exit 0
fi

MAN="$top_srcdir/man"
SRC="$top_srcdir/src"
B="$top_builddir/src"

# page: sources and binary of the program it documents (no program: lint only)
PAGES="nymd.8:master/nymd.c:nymd
nymctl.1:nymctl/nymctl.c,nymctl/commands.c:nymctl/nymctl
nym-directory.8:directory/directory.c:nym-directory
nym-mixnode.8:node/cli.c:nym-mixnode
nym-provider.8:node/cli.c:nym-provider
nym-testnet.1:testnet/testnet.c:nym-testnet
nymd.conf.5::
libnym.3::"

npages=$(ls "$MAN" | wc -l)
nprog=$(echo "$PAGES" | awk -F: '$3 != ""' | wc -l)
plan $((npages + 2 * nprog + 1))

# Every page in man/ is listed here, so a new page is not silently skipped.
listed=$(echo "$PAGES" | cut -d: -f1 | sort | tr '\n' ' ')
present=$(ls "$MAN" | sort | tr '\n' ' ')
if [ "$listed" = "$present" ]; then ok "every page in man/ is checked"; else
	not_ok "every page in man/ is checked"; diag "listed: $listed"; diag "present: $present"; fi

for path in "$MAN"/*; do
	f=${path##*/}
	out=$(mandoc -Tlint -W warning "$MAN/$f" 2>&1)
	if [ -z "$out" ]; then ok "$f: mandoc -Tlint -W warning clean"; else
		not_ok "$f: mandoc -Tlint -W warning clean"; echo "$out" | sed 's/^/# /'; fi
done

# Options a program accepts, one per line, as --long or -s.
accepted() {
	srcs=$1 bin=$2
	for s in $(echo "$srcs" | tr ',' ' '); do
		# getopt tables: { "name", required_argument, ... (names may be
		# camelCase, as the seed's --customCfg)
		sed -n 's/.*{ *"\([a-z][a-zA-Z0-9-]*\)", *\(no\|required\|optional\)_argument.*/--\1/p' "$SRC/$s"
		# optstrings of getopt_long / getopt_long_only: short options
		sed -n 's/.*getopt_long\(_only\)\{0,1\}([^,]*,[^,]*, *"\([^"]*\)".*/\2/p' "$SRC/$s" |
		    tr -d ':+-' | fold -w1 | sed -n 's/^\([A-Za-z0-9]\)$/-\1/p'
		# options compared by hand: strcmp(x, "--version")
		grep -o 'strcmp([^)]*"-\{1,2\}[a-z][a-zA-Z0-9-]*")' "$SRC/$s" |
		    sed 's/.*"\(--*[a-z][a-zA-Z0-9-]*\)")/\1/'
	done
	# help output, of the program and of each of its commands
	{
		# (a timeout, so a program that took a word for a command cannot hang the test)
		timeout 5 "$B/$bin" --help; timeout 5 "$B/$bin" help
		for c in init run socket up status down send fetch clients details watch; do
			timeout 5 "$B/$bin" help "$c"; timeout 5 "$B/$bin" "$c" --help
		done
	} 2>&1 </dev/null | grep -o -- '--[a-z][a-zA-Z0-9-]*' | grep -v -- '-$'
}

# Options a page mentions anywhere (.Fl), and those it documents (SYNOPSIS
# and .It Fl entries).
mentioned() {
	mandoc -Tman "$MAN/$1" 2>/dev/null >/dev/null
	grep -o 'Fl [-A-Za-z0-9]*\( Ns [-A-Za-z0-9]*\)\{0,1\}' "$MAN/$1" |
	    sed 's/^Fl \([-A-Za-z0-9]*\)$/-\1/; s/^Fl \([-A-Za-z0-9]*\) Ns \([-A-Za-z0-9]*\)/-\1\2/'
	# `.Fl -id | Fl -home`: every Fl on a line
	grep 'Fl ' "$MAN/$1" | tr ' ' '\n' | awk 'p { if ($0 ~ /^-?[A-Za-z0-9][-A-Za-z0-9]*$/) print "-" $0; p=0; next } $0 == "Fl" || $0 == ".Fl" { p=1 }'
}
documented() {
	awk '/^\.Sh /{ syn = ($2 == "SYNOPSIS") }
	     syn || /^\.It /{ print }' "$MAN/$1" | tr ' ' '\n' |
	    awk 'p { if ($0 ~ /^-?[A-Za-z0-9][-A-Za-z0-9]*$/) print "-" $0; p=0; next } $0 == "Fl" || $0 == ".Fl" { p=1 }'
}

echo "$PAGES" | while IFS=: read -r page srcs bin; do
	[ -n "$bin" ] || continue
	if [ ! -x "$B/$bin" ]; then
		not_ok "$page: every accepted option is in the page # SKIP $B/$bin not built"
		not_ok "$page: every documented option is accepted # SKIP $B/$bin not built"
		continue
	fi
	acc=$(accepted "$srcs" "$bin" | grep -v '^-$' | sort -u)
	men=$(mentioned "$page" | grep -v '^-$' | sort -u)
	doc=$(documented "$page" | grep -v '^-$' | sort -u)
	missing=$(echo "$acc" | grep -vxF -e "$(echo "$men")" || true)
	extra=$(echo "$doc" | grep -vxF -e "$(echo "$acc")" || true)
	if [ -z "$missing" ]; then ok "$page: every option $bin accepts is in the page"; else
		not_ok "$page: every option $bin accepts is in the page"
		diag "not in $page: $(echo $missing)"; fi
	if [ -z "$extra" ]; then ok "$page: every option the page documents is accepted by $bin"; else
		not_ok "$page: every option the page documents is accepted by $bin"
		diag "not accepted by $bin: $(echo $extra)"; fi
done | {
	# the loop runs in a subshell: count its results here
	failed=0
	while IFS= read -r line; do
		echo "$line"
		case $line in "not ok"*"# SKIP"*) ;; "not ok"*) failed=1;; esac
	done
	exit $failed
} || T_FAILED=1
exit "$T_FAILED"
