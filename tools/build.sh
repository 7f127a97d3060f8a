#!/bin/sh
# Bootstraps and builds nymd out of tree in build/DIR with extra configure
# arguments: tools/build.sh DIR [configure args...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1; shift
"$top/tools/deps.sh"
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
   [ ! -f "$top/build-aux/tap-driver.sh" ]; then
	(cd "$top" && ./autogen.sh >/dev/null 2>&1)
fi
mkdir -p "$top/build/$dir"
cd "$top/build/$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
	"$top/configure" "$@" >configure.out 2>&1 || { tail -20 configure.out; exit 1; }
fi
make -j"$(nproc)" >make.out 2>&1 || { grep -E 'error|Error' make.out | head -40; exit 1; }
