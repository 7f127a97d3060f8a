#!/bin/sh
# nymd's websocket in a real browser (headless Chromium): a page served
# from http://127.0.0.1 round-trips details, send and fetch; a file:// page
# and a sandboxed iframe (both send "Origin: null") are refused by nymd
# with 403 (seen in nymd's log, not only in the page). Skipped, saying
# why, where Chromium is not installed (CI installs it: tools/deps.sh).
. "$(dirname "$0")/lib.sh"

CHROME=""
for c in chromium chromium-browser google-chrome; do
	if command -v "$c" >/dev/null 2>&1; then CHROME=$(command -v "$c"); break; fi
done
if [ -z "$CHROME" ]; then
	echo "1..0 # SKIP no Chromium to drive (apt-get install chromium)"
	exit 0
fi
plan 6

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
PORT=$(free_port)
"$NYMD" socket --id alice --home "$WORK/home" --socket websocket --port "$PORT" \
	>"$WORK/socket.out" 2>"$WORK/socket.err" &
M=$!
track "$M"
check "nymd serves the websocket" wait_for 10 grep -q "^Our Public Key is: " "$WORK/socket.out"
KEY=$(sed -n 's/^Our Public Key is: //p' "$WORK/socket.out")
# The page sends to the client itself, which needs the provider from the
# topology: wait for it.
wait_for 15 grep -q "rpcd.* topology updated" "$WORK/alice.log"

mkdir "$WORK/pages"
python3 "$top_srcdir/tests/tools/browserpages.py" "$WORK/pages" "$PORT" &
track $!
wait_for 10 test -s "$WORK/pages/port"
HPORT=$(cat "$WORK/pages/port")

# browse URL RESULT: loads URL in headless Chromium until the page reports
# RESULT (or 30 s pass). Chromium's own checks on requests to loopback are
# off, so that what refuses a page is nymd.
browse() {
	"$CHROME" --headless=new --no-sandbox --disable-gpu --no-first-run \
		--no-default-browser-check --disable-dev-shm-usage \
		--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests \
		--user-data-dir="$WORK/chrome-$2" "$1" >"$WORK/chrome-$2.txt" 2>&1 &
	b=$!
	wait_for 30 test -s "$WORK/pages/$2"
	kill "$b" 2>/dev/null
	wait "$b" 2>/dev/null
	diag "$2: $(cat "$WORK/pages/$2" 2>/dev/null || echo 'no report')"
}
refusals() { grep -c "websocket handshake refused (403)" "$WORK/alice.log"; }

browse "http://127.0.0.1:$HPORT/" roundtrip
check "a page from http://127.0.0.1 round-trips details, send and fetch" \
	grep -q "^ok details,send,fetch id=$KEY\$" "$WORK/pages/roundtrip"

before=$(refusals)
browse "file://$WORK/pages/file.html" file
check "a file:// page is refused" grep -q "^refused" "$WORK/pages/file"
check "by nymd: its log shows one more 403" test "$(refusals)" -eq $((before + 1))

before=$(refusals)
browse "http://127.0.0.1:$HPORT/sandboxed" sandboxed
check "a sandboxed iframe (Origin null) is refused" grep -q "^refused" "$WORK/pages/sandboxed"
check "by nymd: its log shows one more 403" test "$(refusals)" -eq $((before + 1))

kill -TERM "$M"
wait "$M"
finish
