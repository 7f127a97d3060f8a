#!/bin/sh
# The command line: usage, exit codes, help and version, the seed's name.
. "$(dirname "$0")/lib.sh"
plan 15

out=$("$NYMD" 2>&1); rc=$?
check "no command: usage on stderr, exit 2" test "$rc" = 2
case $out in *"Usage: nymd COMMAND [OPTIONS]"*"Commands:"*"init"*"run"*"socket"*) ok "usage lists the seed's commands";; *) not_ok "usage lists the seed's commands";; esac
"$NYMD" frobnicate >/dev/null 2>&1; check "unknown command: exit 2" test $? = 2
"$NYMD" run --bogus x >/dev/null 2>&1; check "unknown flag: exit 2" test $? = 2
NYMD_HOME="$WORK/none" "$NYMD" run >/dev/null 2>"$WORK/err"; rc=$?
check "run without --id runs the client Client, as the seed's (here: none, exit 1)" sh -c \
	"test $rc = 1 && grep -q -- '$WORK/none/clients/Client/config/config.toml' '$WORK/err'"
"$NYMD" socket --customCfg "$WORK/none.toml" --socket tcp --port 1 >/dev/null 2>"$WORK/err"; rc=$?
check "socket --customCfg with no such file: exit 1, the seed's words" sh -c \
	"test $rc = 1 && grep -q 'The configuration file at $WORK/none.toml does not seem to exist' '$WORK/err'"
check "help run and help socket document --customCfg" sh -c \
	"'$NYMD' help run | grep -q -- '--customCfg FILE' && '$NYMD' help socket | grep -q -- '--customCfg FILE'"

# --customCfg: the client the file names, wherever the file is; --id is
# then not used. The key line is plain, then a blank line, into a file...
init_client alice
cp "$WORK/home/clients/alice/config/config.toml" "$WORK/custom.toml"
PORT=$(free_port)
"$NYMD" socket --id nobody --customCfg "$WORK/custom.toml" --socket tcp --port "$PORT" >"$WORK/socket.out" 2>"$WORK/socket.err" &
SPID=$!
track $SPID
KEY=$(python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(open(sys.argv[1]).read().split("-----")[2])).decode())' \
	"$WORK/home/clients/alice/config/public_key.pem")
check "socket --customCfg FILE runs the client of FILE" wait_for 10 sh -c \
	"'$SOCKREQ' tcp:127.0.0.1:$PORT details | grep -q '^details: id=$KEY '"
check "its key line is plain in a file, followed by a blank line" sh -c \
	"printf 'Our Public Key is: %s\\n\\n' '$KEY' | cmp -s - '$WORK/socket.out'"
kill "$SPID"
# ... and in yellow on a terminal, as the seed's.
check "run --customCfg on a terminal: the key line in yellow, then a blank line" python3 - "$NYMD" "$WORK/custom.toml" "$KEY" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "run", "--customCfg", sys.argv[2]])
out, end = b"", time.time() + 10
want = b"\x1b[33mOur Public Key is: " + sys.argv[3].encode() + b"\x1b[0m\r\n\r\n"
while time.time() < end and len(out) < len(want):
    if select.select([fd], [], [], 0.2)[0]:
        try:
            out += os.read(fd, 1000)
        except OSError:
            break
os.kill(pid, 15)
os.waitpid(pid, 0)
if out != want:
    print("# got %r" % out)
sys.exit(out != want)
PY
"$NYMD" socket --id a --socket tcp >/dev/null 2>&1; check "socket tcp without --port: exit 2" test $? = 2
"$NYMD" init --id a --port 1 >/dev/null 2>&1; check "init with a socket flag: exit 2" test $? = 2
check "--version" sh -c "'$NYMD' --version | grep -q '^nymd [0-9]'"
check "help init documents --force" sh -c "'$NYMD' help init | grep -q -- '--force'"
out=$("$top_builddir/src/loopix-client" 2>&1)
case $out in *"Usage: loopix-client COMMAND"*) ok "loopix-client is the same program under the seed's name";; *) not_ok "loopix-client usage";; esac
finish
