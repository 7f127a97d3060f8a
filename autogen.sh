#!/bin/sh
# Regenerates the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --install --force --warnings=all
# automake's TAP driver reports each cmocka case as its own test.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
