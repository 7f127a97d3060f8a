#!/bin/sh
# cmocka-tap.sh PROGRAM [ARGS]: runs a cmocka test program (or a corpus
# replay) for the TAP driver. cmocka 1.1 writes a skipped test as
# "not ok N # SKIP", which the driver counts as a failure; this rewrites
# it to "ok N # SKIP" (a skip, as TAP means it) and keeps the program's
# exit status. Every other line, and standard error, pass unchanged.
exec 4>&1
status=$( { { "$@"; echo $? >&3; } | sed 's/^not ok \([0-9][0-9]*\) # SKIP/ok \1 # SKIP/' >&4; } 3>&1)
exit "$status"
