#!/bin/sh
# Installs the Debian packages nymd needs to build and test. As root it
# runs apt-get; otherwise it prints the exact command and fails.
set -eu
PACKAGES="build-essential g++ binutils autoconf automake libtool pkg-config \
libsodium-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev \
libcurl4-openssl-dev libseccomp-dev libjansson-dev libwslay-dev \
libsqlite3-dev libcmocka-dev libsystemd-dev python3 dh-python python3-protobuf python3-cryptography mandoc clang \
tcpdump gnuplot-nox \
libclang-rt-14-dev valgrind procps iproute2 curl libfuse3-dev fuse3"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "nymd needs these Debian packages; as root, run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
