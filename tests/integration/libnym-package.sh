#!/bin/sh
# libnym as an application's build meets it (libnym(3), PACKAGING): the
# shared library and the static archive export only nym_* (the archive's
# helpers are local, the .so's symbols are at version NYM_1.0, those of
# delivery status at NYM_1.1), nym.h is
# clean under -pedantic -Werror in every C and C++ standard, and an
# example links against libnym.a with nothing but `pkg-config --static`.
# The library as it is shipped: not the sanitizer build's, whose objects
# call ASan's runtime and carry its global __odr_asan symbols.
if [ -n "${NYMD_SANITIZER_BUILD:-}" ]; then
	echo "1..0 # SKIP the sanitizer build's libnym is instrumented; the normal build checks the shipped one"
	exit 0
fi
. "$(dirname "$0")/lib.sh"
trap 't_cleanup' EXIT
plan 16

SO="$top_builddir/.libs/libnym.so"
AR="$top_builddir/libnym.a"
HDR="$top_srcdir/src/libnym/nym.h"

# Defined global symbols (nm's upper-case types) that are not nym_*; the
# .so's version node (NYM_1.0, type A) is not a symbol of the API.
foreign_so() { nm -D --defined-only "$SO" | awk '$2 != "A" && $3 !~ /^nym_/'; }
foreign_ar() { nm -g --defined-only "$AR" | awk 'NF == 3 && $3 !~ /^nym_/'; }
nm -D --defined-only "$SO" | awk '$2 != "A"' >"$WORK/so.syms"
foreign_so >"$WORK/so.foreign"
check "libnym.so exports only nym_* ($(wc -l <"$WORK/so.syms") symbols)" \
	sh -c "[ -s '$WORK/so.syms' ] && [ ! -s '$WORK/so.foreign' ]"
sed 's/^/# foreign in .so: /' "$WORK/so.foreign" | head -5
foreign_ar >"$WORK/ar.foreign"
nm -g --defined-only "$AR" | awk 'NF == 3' >"$WORK/ar.syms"
check "libnym.a defines only nym_* globally ($(wc -l <"$WORK/ar.syms") symbols)" \
	sh -c "[ -s '$WORK/ar.syms' ] && [ ! -s '$WORK/ar.foreign' ]"
sed 's/^/# foreign in .a: /' "$WORK/ar.foreign" | head -5
check "libnym.a keeps its helpers, made local (b64_encode, wire_pack)" sh -c \
	"nm '$AR' | grep -q ' t b64_encode\$' && nm '$AR' | grep -q ' t wire_pack\$'"

# Every function nym.h declares is exported, at NYM_1.0, and nothing else.
grep -o 'nym_[a-z_]*(' "$HDR" | tr -d '(' |
	grep -v '^nym_\(done\|fetch\|clients\|details\|message\|sent\|status\)_cb$' | sort -u >"$WORK/declared"
objdump -T "$SO" | awk '$NF ~ /^nym_/ { print $(NF-1), $NF }' | sort -u >"$WORK/versioned"
awk '{ print $2 }' "$WORK/versioned" | sort >"$WORK/exported"
check "every function nym.h declares is exported ($(wc -l <"$WORK/declared"))" \
	cmp -s "$WORK/declared" "$WORK/exported"
diff "$WORK/declared" "$WORK/exported" | sed 's/^/# /' | head -5
# NYM_1.1: the functions of delivery status, as libnym.map's node lists them.
sed -n '/^NYM_1\.1 {/,/^}/p' "$top_srcdir/src/libnym/libnym.map" | sed -n 's/^\t\(nym_[a-z_]*\);$/\1/p' |
	sort >"$WORK/v11"
check "each at symbol version NYM_1.0, but the $(wc -l <"$WORK/v11") of delivery status at NYM_1.1" sh -c \
	"[ -s '$WORK/v11' ] && ! grep -qv '^NYM_1\.[01] ' '$WORK/versioned' &&
	 awk '\$1 == \"NYM_1.1\" { print \$2 }' '$WORK/versioned' | sort | cmp -s - '$WORK/v11'"

# nym.h under each standard, -pedantic -Werror, with what it declares used.
cat >"$WORK/h.c" <<'C'
#include <nym.h>
int main(void)
{
	const char *v = nym_version();
	struct nym_message m;
	m.len = (size_t)NYM_VERSION_MAJOR + NYM_VERSION_MINOR + NYM_VERSION_PATCH;
	return v[0] == '\0' && m.len == 0 && NYM_ERR_CANCELED == 0;
}
C
cp "$WORK/h.c" "$WORK/h.cc"
for std in c89 c99 c11; do
	check "nym.h is clean with gcc -std=$std -pedantic -Wall -Wextra -Werror" \
		gcc -std=$std -pedantic -Wall -Wextra -Werror -I"$top_srcdir/src/libnym" \
		-c "$WORK/h.c" -o "$WORK/h-$std.o"
done
if command -v g++ >/dev/null 2>&1; then
	for std in c++98 c++11 c++17 c++20; do
		check "nym.h is clean with g++ -std=$std -pedantic -Wall -Wextra -Werror" \
			g++ -std=$std -pedantic -Wall -Wextra -Werror -I"$top_srcdir/src/libnym" \
			-c "$WORK/h.cc" -o "$WORK/h-$std.o"
	done
else
	for std in c++98 c++11 c++17 c++20; do
		ok "nym.h with g++ -std=$std # SKIP g++ is not installed (apt-get install g++)"
	done
fi

# NYM_VERSION_* say the package's version, as nym_version() and nym.pc do.
hv=$(awk '/define NYM_VERSION_(MAJOR|MINOR|PATCH)/ { printf "%s%s", s, $3; s = "." }' "$HDR")
pv=$(PKG_CONFIG_PATH="$top_builddir" pkg-config --modversion nym-uninstalled 2>/dev/null)
check "NYM_VERSION_* ($hv) match the package version ($pv)" test -n "$hv" -a "$hv" = "$pv"

# The example, linked with pkg-config --static against the uninstalled
# nym.pc: libnym.a and the libraries it needs (Requires.private).
export PKG_CONFIG_PATH="$top_builddir"
# shellcheck disable=SC2046
cc -std=c11 -o "$WORK/hello-static" "$top_srcdir/examples/c/hello.c" \
	$(pkg-config --static --cflags --libs nym) >"$WORK/link.err" 2>&1
check "examples/c/hello links with \$(pkg-config --static --cflags --libs nym)" \
	test -x "$WORK/hello-static"
sed 's/^/# /' "$WORK/link.err" | head -5
check "it contains libnym (no libnym.so needed)" sh -c \
	"! readelf -d '$WORK/hello-static' | grep -q 'libnym\\.so' && nm '$WORK/hello-static' | grep -q ' T nym_connect_unix\$'"
"$WORK/hello-static" "$WORK/no.sock" >"$WORK/run.out" 2>&1
check "and runs: it names the socket it cannot reach" grep -q "connect $WORK/no.sock" "$WORK/run.out"
sed 's/^/# /' "$WORK/run.out" | head -3
finish
