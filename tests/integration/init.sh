#!/bin/sh
# nymd init: the seed's three lines, files and modes, refusal to overwrite.
. "$(dirname "$0")/lib.sh"
plan 14

H="$WORK/home"
C="$H/clients/alice/config"
"$NYMD" init --id alice --home "$H" --directory http://127.0.0.1:1/x >"$WORK/out" 2>"$WORK/err"
check "init exits 0" test $? = 0
check "prints the seed's three lines" sh -c "
	sed -n 1p '$WORK/out' | grep -qx 'Saved generated private key to $C/private_key.pem' &&
	sed -n 2p '$WORK/out' | grep -qx 'Saved generated public key to $C/public_key.pem' &&
	sed -n 3p '$WORK/out' | grep -qx 'Saved generated config to $C/config.toml'"
check "private key mode 0600" test "$(stat -c %a "$C/private_key.pem")" = 600
check "public key mode 0644" test "$(stat -c %a "$C/public_key.pem")" = 644
check "config directory mode 0700" test "$(stat -c %a "$C")" = 700
check "private key is the seed's PEM block" sh -c "head -1 '$C/private_key.pem' | grep -qx -- '-----BEGIN SPHINX CURVE25519 PRIVATE KEY-----' && tail -1 '$C/private_key.pem' | grep -qx -- '-----END SPHINX CURVE25519 PRIVATE KEY-----'"
check "config names the client and the directory" sh -c "grep -q '^id = \"alice\"' '$C/config.toml' && grep -q 'directory_server_topology = \"http://127.0.0.1:1/x\"' '$C/config.toml'"
before=$(md5sum "$C/private_key.pem")
"$NYMD" init --id alice --home "$H" >/dev/null 2>"$WORK/err"; rc=$?
check "a second init refuses (exit 1) and says --force" sh -c "test $rc = 1 && grep -q -- '--force' '$WORK/err'"
check "refusal kept the key" test "$before" = "$(md5sum "$C/private_key.pem")"
"$NYMD" init --id alice --home "$H" --force --directory http://127.0.0.1:1/x >/dev/null 2>&1
check "--force replaces the key" sh -c "test \$? = 0 && test '$before' != \"\$(md5sum '$C/private_key.pem')\""
NYMD_HOME="$WORK/envhome" "$NYMD" init --directory http://127.0.0.1:1/x >"$WORK/out2" 2>&1
check "without --id a random id is chosen, said in the seed's words, and NYMD_HOME is honoured" sh -c \
	"grep -qE '^No clientID provided. Random string will be used instead: [a-z0-9]{8}\\.\$' '$WORK/out2' && ls '$WORK/envhome/clients' | grep -qE '^[a-z0-9]{8}\$'"
check "the mixapps directory is made, mode 0700, as the seed's" \
	test "$(stat -c %a "$H/clients/alice/mixapps")" = 700
"$NYMD" init --id bob --home "$H" --local >"$WORK/out3" 2>"$WORK/err3"
check "--local: the seed's line first, then the three lines" sh -c "
	sed -n 1p '$WORK/out3' | grep -qx 'Using the local directory server' &&
	sed -n 2p '$WORK/out3' | grep -qx 'Saved generated private key to $H/clients/bob/config/private_key.pem' &&
	grep -q 'directory_server_topology = \"http://localhost:8080/api/presence/topology\"' '$H/clients/bob/config/config.toml'"
"$NYMD" init --id 'bad/id' --home "$H" >/dev/null 2>&1
check "an id with a slash is refused" test $? = 2
finish
