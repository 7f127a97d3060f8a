#!/bin/sh
# Every init checks all its arguments before it writes anything (issue 22):
# a bad --directory URL is named with the part that is wrong and leaves no
# file, so the retry with a good URL works without --force; an id or home
# whose socket path would not fit a unix socket is refused before the
# keys are written; node init takes --host with the parser run uses
# (bare or bracketed IPv6; no port, no name, no zone id).
. "$(dirname "$0")/lib.sh"
plan 23

H="$WORK/home"
# nothing_in DIR: DIR does not exist or is empty
nothing_in() { [ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]; }

# bad_url URL PART: init refuses it (exit 2), names the part, writes nothing
bad_url() {
	"$NYMD" init --id bad1 --home "$H" --directory "$1" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "--directory '$1': $2" "$WORK/err" && nothing_in "$H"; then
		ok "init --directory '$1': exit 2, '$2', nothing written"
	else
		not_ok "init --directory '$1': exit 2, '$2', nothing written (exit $rc)"
		sed 's/^/# /' "$WORK/err"; find "$H" 2>/dev/null | sed 's/^/# made: /'
	fi
}
bad_url "ftp://x/" "the scheme 'ftp' is not supported"
bad_url "http://" "the URL has no host"
bad_url "http://127.0.0.1:0/api" "the port must be 1 to 65535"
bad_url "http://127.0.0.1:70000/api" "the port must be 1 to 65535"
bad_url "http://127.0.0.1:8x/api" "the port must be 1 to 65535"
bad_url "http://[fe80::1%25lo]:8080/api" "the host 'fe80::1%25lo': IPv6 zone ids"
bad_url "http://[::1/api" "the host has a '[' without its ']'"
bad_url "http://user@127.0.0.1/api" "a user name in the URL is not supported"
bad_url "http://127.0.0.1/a b" "the path has a space"
"$NYMD" init --id bad1 --home "$H" --directory http://127.0.0.1:1/api/presence/topology >"$WORK/out" 2>"$WORK/err"
check "the retry with a good URL succeeds without --force" sh -c "test $? = 0 && test -f '$H/clients/bad1/config/config.toml'"
"$NYMD" init --id v6 --home "$H" --directory "http://[::1]:1/api/presence/topology" >"$WORK/out" 2>"$WORK/err"
check "a bracketed IPv6 host in the URL is taken" sh -c "test $? = 0 && grep -qF 'http://[::1]:1/api/presence/topology' '$H/clients/v6/config/config.toml'"

# a failure half-way (mixapps/ is a file, so it cannot be made after the
# keys are written) takes back what init made
mkdir -p "$WORK/half/clients/h"
: >"$WORK/half/clients/h/mixapps"
"$NYMD" init --id h --home "$WORK/half" --directory http://127.0.0.1:1/x >"$WORK/out" 2>"$WORK/err"
rc=$?
check "an init that fails half-way removes the keys and directories it made" sh -c \
	"test $rc = 1 && grep -q 'mixapps: Not a directory' '$WORK/err' && test \"\$(ls -A '$WORK/half/clients/h')\" = mixapps"

# the socket path ROOT/clients/ID/nymd.sock must fit sun_path (108 bytes)
LONGID=$(printf 'a%.0s' $(seq 64))
DEEP="$WORK/$(printf 'd%.0s' $(seq 40))"
"$NYMD" init --id "$LONGID" --home "$DEEP" --directory http://127.0.0.1:1/x >"$WORK/out" 2>"$WORK/err"
rc=$?
check "a long id under a deep home: exit 2 naming the socket path, before writing" sh -c \
	"test $rc = 2 && grep -q 'the socket path $DEEP/clients/$LONGID/nymd.sock would be [0-9]* bytes, longer than the 107' '$WORK/err' && test ! -e '$DEEP'"
check "and nothing on standard output (no 'Saved' line)" test ! -s "$WORK/out"
# the longest that fits is accepted: ROOT/clients/ID/nymd.sock of 107 bytes
fit=$((107 - ${#DEEP} - 9 - 10))	# "/clients/", "/nymd.sock"
FITID=$(printf 'f%.0s' $(seq "$fit"))
"$NYMD" init --id "$FITID" --home "$DEEP" --directory http://127.0.0.1:1/x >"$WORK/out" 2>"$WORK/err"
check "an id whose socket path is exactly 107 bytes is accepted" test $? = 0

# node init: --host with run's parser
MIX="$top_builddir/src/nym-mixnode"
bad_host() {
	"$MIX" init --id m --home "$WORK/nodes" --host "$1" --port 9 --layer 1 \
		--directory http://127.0.0.1:1/ >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "--host $2" "$WORK/err" && nothing_in "$WORK/nodes"; then
		ok "nym-mixnode init --host '$1': exit 2, nothing written"
	else
		not_ok "nym-mixnode init --host '$1': exit 2, nothing written (exit $rc)"
		sed 's/^/# /' "$WORK/err"
	fi
}
bad_host localhost "'localhost' is a host name, not an IP address"
bad_host 127.0.0.1:5 "'127.0.0.1:5': expected an IP address without the port"
bad_host "[::1]:5" "'[::1]:5': expected an IP address without the port"
bad_host "fe80::1%lo" "'fe80::1%lo': IPv6 zone ids (%IFACE) are not supported"
"$top_builddir/src/nym-provider" init --id p --home "$WORK/nodes" --host 127.0.0.1 --port 9 \
	--directory "gopher://x/" >"$WORK/out" 2>"$WORK/err"
check "nym-provider init --directory gopher://: exit 2 naming the scheme, nothing written" sh -c \
	"test $? = 2 && grep -q \"scheme 'gopher' is not supported\" '$WORK/err' && test ! -e '$WORK/nodes'"
"$MIX" init --id m --home "$WORK/nodes" --host "[::1]" --port 9 --layer 1 \
	--directory http://127.0.0.1:1/ >"$WORK/out" 2>"$WORK/err"
check "nym-mixnode init --host '[::1]' is taken, written bare" sh -c \
	"test $? = 0 && grep -qx 'host = \"::1\"' '$WORK/nodes/mixnodes/m/config.toml'"
# run takes what init wrote, and a bracketed host written by hand
sed -i 's/^host = .*/host = "[::1]"/' "$WORK/nodes/mixnodes/m/config.toml"
timeout 3 "$MIX" run --id m --home "$WORK/nodes" >"$WORK/run.out" 2>"$WORK/run.err"
check "nym-mixnode run takes host = \"[::1]\" (it runs until stopped)" test $? = 124
sed -i 's/^host = .*/host = "localhost"/' "$WORK/nodes/mixnodes/m/config.toml"
timeout 3 "$MIX" run --id m --home "$WORK/nodes" >"$WORK/run.out" 2>"$WORK/run.err"
check "and refuses host = \"localhost\" with the same words as init" sh -c \
	"test $? = 3 && grep -q \"'localhost' is a host name, not an IP address\" '$WORK/run.err'"
finish
