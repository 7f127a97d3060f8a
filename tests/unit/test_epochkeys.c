/*
 * Key epochs: the phase-to-epoch rule of src/common/epoch.c, and a node's
 * per-epoch keys (src/node/epochkeys.c): made for the current and the
 * next epoch, kept across a restart, deleted with their replay stores
 * when they expire, replaced when the epoch length changes, and chosen by
 * a packet's key phase.
 */
#include <config.h>

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

#include "common/epoch.h"
#include "common/replay.h"
#include "common/sphinx.h"
#include "node/epochkeys.h"
#include "node/replaydb.h"

#define LEN	20u			/* seconds */
#define E0	1000u			/* an epoch */
#define MS(e, into_s)	(((uint64_t)(e) * LEN + (into_s)) * 1000)

static void
test_phase_rule(void **state)
{
	(void)state;
	assert_int_equal(epoch_at(MS(E0, 0), LEN), E0);
	assert_int_equal(epoch_at(MS(E0, 19) + 999, LEN), E0);
	assert_int_equal(epoch_start_ms(E0 + 1, LEN), MS(E0 + 1, 0));
	/* The current epoch's phase is the current epoch. */
	assert_int_equal(epoch_for_phase(MS(E0, 1), LEN, E0 & 1), E0);
	assert_int_equal(epoch_for_phase(MS(E0, 19), LEN, E0 & 1), E0);
	/* The other phase: the previous epoch in the first half... */
	assert_int_equal(epoch_for_phase(MS(E0, 0), LEN, !(E0 & 1)), E0 - 1);
	assert_int_equal(epoch_for_phase(MS(E0, 9) + 999, LEN, !(E0 & 1)), E0 - 1);
	/* ... and the next in the second. */
	assert_int_equal(epoch_for_phase(MS(E0, 10), LEN, !(E0 & 1)), E0 + 1);
	assert_int_equal(epoch_for_phase(0, LEN, 1), EPOCH_NONE);
	/* A key lives until the middle of the epoch after its own. */
	assert_int_equal(epoch_key_expiry_ms(E0, LEN), MS(E0 + 1, 10));
	assert_false(epoch_seconds_valid(EPOCH_MIN_SECONDS - 1));
	assert_true(epoch_seconds_valid(EPOCH_DEFAULT_SECONDS));
	assert_false(epoch_seconds_valid(EPOCH_MAX_SECONDS + 1));
}

struct fixture {
	char			 dir[64];
	struct replay_params	 rp;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_epochkeys.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->rp.packets_per_second = 1000;
	f->rp.epoch_seconds = 1;
	f->rp.false_positive_rate = 1e-6;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int
exists(const char *dir, uint64_t epoch, const char *file)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/epochs/%llu%s%s", dir,
	    (unsigned long long)epoch, file ? "/" : "", file ? file : "");
	return stat(path, &st) == 0;
}

static int
mode_of(const char *dir, uint64_t epoch)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/epochs/%llu/key", dir,
	    (unsigned long long)epoch);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void
test_rotation(void **state)
{
	struct fixture *f = *state;
	struct epochkeys *ek;
	struct epochkey *k;
	char err[EPOCHKEYS_ERR_BYTES];
	uint8_t pub_cur[32], tag[REPLAY_TAG_BYTES];
	size_t n;
	int changed;

	/* A legacy store of the long-term key is removed at open. */
	char legacy[128];
	snprintf(legacy, sizeof(legacy), "%s/%s", f->dir, REPLAYDB_SNAPSHOT_FILE);
	FILE *fp = fopen(legacy, "w");
	assert_non_null(fp);
	fclose(fp);

	assert_int_equal(epochkeys_open(&ek, f->dir, &f->rp, MS(E0, 1), err,
	    sizeof(err)), 0);
	assert_int_equal(access(legacy, F_OK), -1);
	assert_int_equal(epochkeys_seconds(ek), 0);
	assert_null(epochkeys_for_phase(ek, 0, MS(E0, 1)));
	assert_int_equal(epochkeys_next_event_ms(ek, MS(E0, 1)), 0);

	/* The current and the next epoch's keys, on disk with mode 0600. */
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0, 1), &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 1);
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 2);
	assert_int_equal(k[0].epoch, E0);
	assert_int_equal(k[1].epoch, E0 + 1);
	assert_memory_not_equal(k[0].pub, k[1].pub, 32);
	memcpy(pub_cur, k[0].pub, 32);
	assert_true(exists(f->dir, E0, "key"));
	assert_int_equal(mode_of(f->dir, E0), 0600);
	assert_true(exists(f->dir, E0 + 1, "key"));
	/* The next key's replay store opens in the middle of the epoch. */
	assert_non_null(k[0].rdb);
	assert_null(k[1].rdb);
	assert_int_equal(epochkeys_next_event_ms(ek, MS(E0, 1)), MS(E0, 10));
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0, 10), &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 0);
	assert_non_null(k[1].rdb);
	assert_int_equal(epochkeys_next_event_ms(ek, MS(E0, 10)), MS(E0 + 1, 0));

	/* Phases: the current epoch's; the other is the next (second half). */
	assert_true(MS(E0, 1) < MS(E0, 10));
	assert_ptr_equal(epochkeys_for_phase(ek, E0 & 1, MS(E0, 1)), &k[0]);
	assert_null(epochkeys_for_phase(ek, !(E0 & 1), MS(E0, 1)));	/* E0-1 */
	assert_ptr_equal(epochkeys_for_phase(ek, !(E0 & 1), MS(E0, 11)), &k[1]);

	/* A tag recorded under the current key. */
	memset(tag, 7, sizeof(tag));
	assert_int_equal(replay_check_and_insert(replaydb_store(k[0].rdb), tag), 0);
	assert_int_equal(replaydb_snapshot(k[0].rdb), 0);

	/* Nothing to do within the epoch. */
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0, 15), &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 0);
	epochkeys_close(ek);

	/* A restart finds both keys, and the tag. */
	assert_int_equal(epochkeys_open(&ek, f->dir, &f->rp, MS(E0, 16), err,
	    sizeof(err)), 0);
	assert_int_equal(epochkeys_seconds(ek), LEN);
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(k[0].pub, pub_cur, 32);
	assert_int_equal(replay_check_and_insert(replaydb_store(k[0].rdb), tag), 1);

	/* Next epoch: a third key; the old one is the previous for half an
	 * epoch, then goes with its replay store. */
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0 + 1, 0), &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 1);
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 3);
	assert_int_equal(k[2].epoch, E0 + 2);
	assert_ptr_equal(epochkeys_for_phase(ek, E0 & 1, MS(E0 + 1, 9)), &k[0]);
	assert_int_equal(epochkeys_next_event_ms(ek, MS(E0 + 1, 0)),
	    MS(E0 + 1, 10));
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0 + 1, 10), &changed, err,
	    sizeof(err)), 0);
	assert_int_equal(changed, 1);
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 2);
	assert_int_equal(k[0].epoch, E0 + 1);
	assert_false(exists(f->dir, E0, NULL));
	/* The phase of E0 now names E0 + 2. */
	assert_ptr_equal(epochkeys_for_phase(ek, E0 & 1, MS(E0 + 1, 10)), &k[1]);

	/* Another epoch length replaces every key. */
	assert_int_equal(epochkeys_update(ek, 2 * LEN, MS(E0 + 1, 11), &changed,
	    err, sizeof(err)), 0);
	assert_int_equal(changed, 1);
	assert_false(exists(f->dir, E0 + 1, NULL));
	assert_false(exists(f->dir, E0 + 2, NULL));
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 2);
	assert_int_equal(k[0].epoch, epoch_at(MS(E0 + 1, 11), 2 * LEN));
	assert_int_equal(epochkeys_update(ek, 5, MS(E0, 0), &changed, err,
	    sizeof(err)), -1);
	epochkeys_close(ek);

	/* Long after, a restart removes what expired. */
	assert_int_equal(epochkeys_open(&ek, f->dir, &f->rp, MS(E0 + 100, 0), err,
	    sizeof(err)), 0);
	k = epochkeys_all(ek, &n);
	assert_int_equal(n, 0);
	epochkeys_close(ek);
}

/* A damaged or foreign entry is removed, never loaded. */
static void
test_damaged(void **state)
{
	struct fixture *f = *state;
	struct epochkeys *ek;
	char err[EPOCHKEYS_ERR_BYTES], path[256];
	size_t n;
	int changed;
	FILE *fp;

	assert_int_equal(epochkeys_open(&ek, f->dir, &f->rp, MS(E0, 1), err,
	    sizeof(err)), 0);
	assert_int_equal(epochkeys_update(ek, LEN, MS(E0, 1), &changed, err,
	    sizeof(err)), 0);
	epochkeys_close(ek);
	/* Truncate one key file; add a stray file. */
	snprintf(path, sizeof(path), "%s/epochs/%u/key", f->dir, E0 + 1);
	assert_int_equal(truncate(path, 10), 0);
	snprintf(path, sizeof(path), "%s/epochs/junk", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(epochkeys_open(&ek, f->dir, &f->rp, MS(E0, 2), err,
	    sizeof(err)), 0);
	epochkeys_all(ek, &n);
	assert_int_equal(n, 1);
	assert_false(exists(f->dir, E0 + 1, NULL));
	assert_int_equal(access(path, F_OK), -1);
	epochkeys_close(ek);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase_rule),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
