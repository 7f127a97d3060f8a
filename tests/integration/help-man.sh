#!/bin/sh
# Each program's --help (and each command's help) names exactly the options
# its man page documents in SYNOPSIS and in its option lists, and the help
# options the pages promise work: -h and --help print the usage on stdout
# and exit 0, --version prints the version.
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"
plan 12
S="$top_builddir/src"
MAN="$top_srcdir/man"
HM="python3 $top_srcdir/tests/tools/helpman.py"

same() {	# same MANPAGE COMMAND...: diagnostics on stdout
	$HM "$@" >"$WORK/hm.out" 2>&1; rc=$?
	sed 's/^/# /' "$WORK/hm.out" | sed 's/^# # /# /'
	return $rc
}

check "nymd: --help and each command's help name the options of nymd(8)" \
	same "$MAN/nymd.8" "$S/nymd --help" "$S/nymd help init" "$S/nymd help run" \
	"$S/nymd help socket" "$S/nymd help check-config" "$S/nymd help reload"
check "nymctl: --help names the options of nymctl(1)" \
	same "$MAN/nymctl.1" "$S/nymctl/nymctl --help"
check "nym-mixnode: --help names the options of nym-mixnode(8)" \
	same "$MAN/nym-mixnode.8" "$S/nym-mixnode --help"
check "nym-provider: --help names the options of nym-provider(8)" \
	same "$MAN/nym-provider.8" "$S/nym-provider --help"
check "nym-directory: --help names the options of nym-directory(8)" \
	same "$MAN/nym-directory.8" "$S/nym-directory --help"
check "nym-testnet: --help names the options of nym-testnet(1)" \
	same "$MAN/nym-testnet.1" "$S/nym-testnet --help"

# The comparison can fail: a page with one option more, and a help
# without one of the page's options.
{ cat "$MAN/nym-directory.8"; printf '.Bl -tag -width Ds\n.It Fl -not-an-option\n.El\n'; } >"$WORK/extra.8"
check "an option only the page documents is found" sh -c \
	"$HM '$WORK/extra.8' '$S/nym-directory --help' | grep -q 'not in --help: --not-an-option'"
check "an option only the help prints is found" sh -c \
	"$HM '$MAN/nym-directory.8' 'printf -- \"--listen --not-in-page\"' | grep -q 'not in the man page: --not-in-page'"

check "-h and --help work where the pages promise them (nym-testnet: --help)" sh -c "
	set -e
	'$S/nym-testnet' --help | grep -qi usage
	for p in '$S/nymd' '$S/nymctl/nymctl' '$S/nym-mixnode' '$S/nym-provider' '$S/nym-directory'; do
		for h in -h --help; do \"\$p\" \$h | grep -qi usage; done
	done
	for c in init run socket check-config reload; do
		for h in -h --help; do '$S/nymd' \$c \$h | grep -qi usage; done
	done"
check "--version prints the version of every program that documents it" sh -c "
	for p in '$S/nymd' '$S/nymctl/nymctl' '$S/nym-directory' '$S/nym-testnet'; do
		\"\$p\" --version | grep -q '[0-9]\.[0-9]' || exit 1
	done"
check "nym-provider init refuses --layer, which only mixnodes have" sh -c \
	"! '$S/nym-provider' init --id p --home '$WORK/p' --port 5000 --directory http://127.0.0.1:1 --layer 2 2>'$WORK/e1' &&
	 grep -q 'layer is for mixnodes' '$WORK/e1' && [ ! -e '$WORK/p' ]"
check "node init refuses --log-level, which belongs to run, and writes nothing" sh -c \
	"! '$S/nym-mixnode' init --id m --home '$WORK/m' --port 5001 --layer 1 --directory http://127.0.0.1:1 --log-level debug 2>'$WORK/e2' &&
	 grep -q 'log-level belongs to run' '$WORK/e2' && [ ! -e '$WORK/m' ]"
finish
