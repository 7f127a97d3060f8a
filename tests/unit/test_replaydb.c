/*
 * Unit tests of the node's persistent replay store (src/node/replaydb.c):
 * the tag re-derived from a logged alpha is the one sphinx_process()
 * recorded, and tags survive a clean stop and a crash (no snapshot).
 */
#include <config.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "node/replaydb.h"

struct fixture {
	char		dir[64];
	uint8_t		priv[32];
	uint8_t		pub[32];
	struct replay_params params;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_replaydb.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	randombytes_buf(f->priv, 32);
	crypto_scalarmult_base(f->pub, f->priv);
	f->params.packets_per_second = 10000;
	f->params.epoch_seconds = 1;
	f->params.false_positive_rate = 1e-6;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, REPLAYDB_SNAPSHOT_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", f->dir, REPLAYDB_LOG_FILE);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A packet whose first hop is our key: relays to a random next node. */
static void
make_packet(const struct fixture *f, uint8_t pkt[SPHINX_PACKET_BYTES])
{
	struct sphinx_hop hops[2];
	uint8_t other_priv[32];

	memset(hops, 0, sizeof(hops));
	memcpy(hops[0].node_pub, f->pub, 32);
	hops[0].command = SPHINX_CMD_RELAY;
	randombytes_buf(other_priv, 32);
	crypto_scalarmult_base(hops[1].node_pub, other_priv);
	memcpy(hops[0].next_id, hops[1].node_pub, 32);
	hops[1].command = SPHINX_CMD_DROP;
	assert_int_equal(sphinx_create(pkt, hops, 2, NULL, 0, NULL), SPHINX_OK);
}

static struct replaydb *
open_db(struct fixture *f, struct replaydb_info *info)
{
	struct replaydb *db;
	char err[REPLAYDB_ERR_BYTES];

	assert_int_equal(replaydb_open(&db, f->dir, f->priv, f->pub, &f->params,
	    info, err, sizeof(err)), REPLAYDB_OK);
	return db;
}

static void
process(struct fixture *f, struct replaydb *db, const uint8_t *pkt, int want)
{
	uint8_t out[SPHINX_PACKET_BYTES];
	struct sphinx_hop_result res;

	assert_int_equal(sphinx_process(f->priv, replaydb_store(db), pkt, out,
	    &res), want);
	if (want == SPHINX_OK)
		assert_int_equal(replaydb_append(db, pkt), 0);
}

static void
test_tag_matches_sphinx(void **state)
{
	struct fixture *f = *state;
	struct replay_store *rs;
	struct replay_params p = f->params;
	uint8_t pkt[SPHINX_PACKET_BYTES], out[SPHINX_PACKET_BYTES];
	uint8_t tag[REPLAY_TAG_BYTES];
	struct sphinx_hop_result res;

	memcpy(p.key_id, f->pub, 32);
	assert_int_equal(replay_new(&rs, &p), REPLAY_OK);
	for (int i = 0; i < 20; i++) {
		make_packet(f, pkt);
		assert_int_equal(replaydb_tag(f->priv, pkt, tag), 0);
		assert_int_equal(replay_contains(rs, tag), 0);
		assert_int_equal(sphinx_process(f->priv, rs, pkt, out, &res),
		    SPHINX_OK);
		assert_int_equal(replay_contains(rs, tag), 1);
	}
	/* A small-order alpha has no tag. */
	memset(pkt, 0, 32);
	assert_int_equal(replaydb_tag(f->priv, pkt, tag), -1);
	replay_free(rs);
}

/* Crash: the log alone (no snapshot) brings the tags back. */
static void
test_log_recovery(void **state)
{
	struct fixture *f = *state;
	struct replaydb_info info;
	struct replaydb *db;
	static uint8_t pkts[50][SPHINX_PACKET_BYTES];

	db = open_db(f, &info);
	assert_int_equal(info.loaded, 0);
	for (int i = 0; i < 50; i++) {
		make_packet(f, pkts[i]);
		process(f, db, pkts[i], SPHINX_OK);
	}
	assert_int_equal(replaydb_log_records(db), 50);
	replaydb_close(db);	/* no snapshot: as after kill -9 */

	db = open_db(f, &info);
	assert_int_equal(info.recovered, 50);
	assert_int_equal(replay_count(replaydb_store(db)), 50);
	/* Folded into a snapshot, and the log starts again. */
	assert_int_equal(replaydb_log_records(db), 0);
	for (int i = 0; i < 50; i++)
		process(f, db, pkts[i], SPHINX_ERR_REPLAY);
	replaydb_close(db);

	db = open_db(f, &info);
	assert_int_equal(info.loaded, 1);
	assert_int_equal(info.recovered, 0);
	process(f, db, pkts[7], SPHINX_ERR_REPLAY);
	replaydb_close(db);
}

/* Clean stop: snapshot, then more packets only in the log. */
static void
test_snapshot_and_log(void **state)
{
	struct fixture *f = *state;
	struct replaydb_info info;
	struct replaydb *db;
	uint8_t a[SPHINX_PACKET_BYTES], b[SPHINX_PACKET_BYTES];
	char path[128];
	int fd;

	db = open_db(f, &info);
	make_packet(f, a);
	process(f, db, a, SPHINX_OK);
	assert_int_equal(replaydb_snapshot(db), 0);
	make_packet(f, b);
	process(f, db, b, SPHINX_OK);
	assert_int_equal(replaydb_sync(db), 0);
	replaydb_close(db);

	/* A torn record at the end (a crash inside a write) is ignored. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, REPLAYDB_LOG_FILE);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);

	db = open_db(f, &info);
	assert_int_equal(info.loaded, 1);
	assert_int_equal(info.recovered, 1);
	assert_int_equal(info.torn_bytes, 3);
	process(f, db, a, SPHINX_ERR_REPLAY);
	process(f, db, b, SPHINX_ERR_REPLAY);
	replaydb_close(db);
}

/* Files left by another key are discarded, not trusted or refused. */
static void
test_other_key(void **state)
{
	struct fixture *f = *state;
	struct replaydb_info info;
	struct replaydb *db;
	uint8_t a[SPHINX_PACKET_BYTES];

	db = open_db(f, &info);
	make_packet(f, a);
	process(f, db, a, SPHINX_OK);
	assert_int_equal(replaydb_snapshot(db), 0);
	replaydb_close(db);

	randombytes_buf(f->priv, 32);
	crypto_scalarmult_base(f->pub, f->priv);
	db = open_db(f, &info);
	assert_int_equal(info.loaded, 0);
	assert_int_equal(info.discarded, 1);
	assert_int_equal(replay_count(replaydb_store(db)), 0);
	replaydb_close(db);
}

/* A damaged snapshot of our key stops the node rather than forget tags. */
static void
test_corrupt_snapshot(void **state)
{
	struct fixture *f = *state;
	struct replaydb_info info;
	struct replaydb *db;
	char path[128], err[REPLAYDB_ERR_BYTES];
	uint8_t a[SPHINX_PACKET_BYTES], byte;
	int fd;

	db = open_db(f, &info);
	make_packet(f, a);
	process(f, db, a, SPHINX_OK);
	assert_int_equal(replaydb_snapshot(db), 0);
	replaydb_close(db);

	snprintf(path, sizeof(path), "%s/%s", f->dir, REPLAYDB_SNAPSHOT_FILE);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 100), 1);
	byte ^= 1;
	assert_int_equal(pwrite(fd, &byte, 1, 100), 1);
	close(fd);
	assert_int_equal(replaydb_open(&db, f->dir, f->priv, f->pub, &f->params,
	    &info, err, sizeof(err)), REPLAYDB_ERR_CORRUPT);
	assert_null(db);
	assert_non_null(strstr(err, "refusing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tag_matches_sphinx, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_log_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_and_log, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_snapshot, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
