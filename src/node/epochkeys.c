/*
 * Per-epoch Sphinx keys of a node and their replay stores (epochkeys.h,
 * docs/epochs.md).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/epoch.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/number.h"
#include "node/epochkeys.h"
#include "node/replaydb.h"

struct epochkeys {
	char			 base[PATH_MAX];	/* DATA_DIR/epochs */
	struct replay_params	 params;
	uint32_t		 seconds;	/* 0: not known yet */
	struct epochkey		 keys[EPOCHKEYS_MAX];	/* oldest first */
	size_t			 n;
};

static int
ek_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ek_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t
get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* Removes an epoch's directory and the files in it. */
static void
ek_remove_dir(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			    de->d_name) < sizeof(path) && unlink(path) == -1)
				log_warn("epoch keys: cannot remove %s", path);
		}
		closedir(d);
	}
	if (rmdir(dir) == -1 && errno != ENOENT)
		log_warn("epoch keys: cannot remove %s", dir);
}

static void
ek_key_free(struct epochkey *k)
{
	replaydb_close(k->rdb);
	sodium_free(k->priv);
	memset(k, 0, sizeof(*k));
}

/* Forgets key i and deletes it from the disk. */
static void
ek_drop(struct epochkeys *ek, size_t i)
{
	char dir[sizeof(ek->keys[i].dir)];

	memcpy(dir, ek->keys[i].dir, sizeof(dir));
	ek_key_free(&ek->keys[i]);
	memmove(&ek->keys[i], &ek->keys[i + 1],
	    (ek->n - i - 1) * sizeof(ek->keys[0]));
	ek->n--;
	memset(&ek->keys[ek->n], 0, sizeof(ek->keys[0]));
	ek_remove_dir(dir);
}

static int
ek_open_replay(struct epochkeys *ek, struct epochkey *k, char *err,
    size_t errlen)
{
	struct replaydb_info info;
	char rerr[REPLAYDB_ERR_BYTES];

	if (replaydb_open(&k->rdb, k->dir, k->priv, k->pub, &ek->params, &info,
	    rerr, sizeof(rerr)) != REPLAYDB_OK)
		return ek_fail(err, errlen, "epoch %llu: %s",
		    (unsigned long long)k->epoch, rerr);
	log_info("replay store of epoch %llu: %llu tags (%s, %llu from the "
	    "log)", (unsigned long long)k->epoch,
	    (unsigned long long)replay_count(replaydb_store(k->rdb)),
	    info.loaded ? "snapshot loaded" : "new",
	    (unsigned long long)info.recovered);
	if (info.torn_bytes)
		log_warnx("epoch %llu: an incomplete replay log record (%llu "
		    "bytes) was ignored", (unsigned long long)k->epoch,
		    (unsigned long long)info.torn_bytes);
	k->snapshot_count = replay_count(replaydb_store(k->rdb));
	return 0;
}

/* 1 if k may receive packets by now_ms: its store must be open. */
static int
ek_want_store(const struct epochkeys *ek, const struct epochkey *k,
    uint64_t now_ms)
{
	uint64_t cur = epoch_at(now_ms, ek->seconds);

	return k->epoch <= cur || now_ms >= epoch_start_ms(cur, ek->seconds) +
	    (uint64_t)ek->seconds * 500;
}

/* Opens the replay stores of the keys that may now receive packets. */
static int
ek_open_wanted(struct epochkeys *ek, uint64_t now_ms, char *err, size_t errlen)
{
	for (size_t i = 0; i < ek->n; i++)
		if (ek->keys[i].rdb == NULL &&
		    ek_want_store(ek, &ek->keys[i], now_ms) &&
		    ek_open_replay(ek, &ek->keys[i], err, errlen) == -1)
			return -1;
	return 0;
}

/* Inserts k (taking it over) in epoch order. */
static void
ek_insert(struct epochkeys *ek, struct epochkey *k)
{
	size_t i = ek->n;

	while (i > 0 && ek->keys[i - 1].epoch > k->epoch) {
		ek->keys[i] = ek->keys[i - 1];
		i--;
	}
	ek->keys[i] = *k;
	ek->n++;
	memset(k, 0, sizeof(*k));
}

/* Reads DIR/key; 0, or -1 if it is missing or not a key file of name. */
static int
ek_read_key(struct epochkey *k, uint32_t *seconds, uint64_t name)
{
	char path[sizeof(k->dir) + 16];
	char *buf = NULL;
	size_t len = 0;
	mode_t mode;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", k->dir, EPOCHKEYS_KEY_FILE);
	if (fs_read_file(path, EPOCHKEYS_KEY_FILE_BYTES, &buf, &len, &mode) == -1)
		return -1;
	const uint8_t *b = (const uint8_t *)buf;
	if (len == EPOCHKEYS_KEY_FILE_BYTES &&
	    memcmp(b, EPOCHKEYS_KEY_MAGIC, 8) == 0 &&
	    get_be(b + 8, 8) == name && sodium_is_zero(b + 20, 4) &&
	    epoch_seconds_valid(get_be(b + 16, 4)) && (mode & 077) == 0) {
		k->epoch = name;
		*seconds = (uint32_t)get_be(b + 16, 4);
		memcpy(k->priv, b + 24, 32);
		rc = crypto_scalarmult_base(k->pub, k->priv) == 0 ? 0 : -1;
	}
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

static int
ek_name_epoch(const char *name, uint64_t *epoch)
{
	return number_parse(name, 0, UINT64_MAX, epoch);
}

/* Loads the keys on disk; removes what is expired or not understood. */
static int
ek_load(struct epochkeys *ek, uint64_t now_ms, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(ek->base)) == NULL)
		return ek_fail(err, errlen, "%s: %s", ek->base, strerror(errno));
	while ((de = readdir(d)) != NULL && rc == 0) {
		struct epochkey k;
		uint32_t seconds = 0;
		uint64_t name;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		memset(&k, 0, sizeof(k));
		if ((size_t)snprintf(k.dir, sizeof(k.dir), "%s/%s", ek->base,
		    de->d_name) >= sizeof(k.dir))
			continue;
		if ((k.priv = sodium_malloc(32)) == NULL) {
			rc = ek_fail(err, errlen, "out of memory");
			break;
		}
		if (ek_name_epoch(de->d_name, &name) == -1 ||
		    ek_read_key(&k, &seconds, name) == -1 ||
		    now_ms >= epoch_key_expiry_ms(name, seconds) ||
		    (ek->seconds != 0 && seconds != ek->seconds) ||
		    ek->n == EPOCHKEYS_MAX) {
			/* Expired, damaged, or of another epoch length. */
			char dir[sizeof(k.dir)];
			memcpy(dir, k.dir, sizeof(dir));
			ek_key_free(&k);
			log_info("epoch keys: removing %s", dir);
			if (unlink(dir) == -1)
				ek_remove_dir(dir);
			continue;
		}
		ek->seconds = seconds;
		ek_insert(ek, &k);
	}
	closedir(d);
	if (rc == 0 && ek->seconds != 0)
		rc = ek_open_wanted(ek, now_ms, err, errlen);
	return rc;
}

/* The replay store of the long-term key, from before epochs. */
static void
ek_remove_legacy(const char *data_dir)
{
	const char *files[] = { REPLAYDB_SNAPSHOT_FILE, REPLAYDB_LOG_FILE };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir,
		    files[i]) >= sizeof(path))
			continue;
		if (unlink(path) == 0)
			log_info("epoch keys: removed %s: packets are built for "
			    "epoch keys now, never for the long-term key", path);
	}
}

int
epochkeys_open(struct epochkeys **out, const char *data_dir,
    const struct replay_params *params, uint64_t now_ms, char *err,
    size_t errlen)
{
	struct epochkeys *ek;

	*out = NULL;
	if ((ek = calloc(1, sizeof(*ek))) == NULL)
		return ek_fail(err, errlen, "out of memory");
	ek->params = *params;
	if ((size_t)snprintf(ek->base, sizeof(ek->base), "%s/%s", data_dir,
	    EPOCHKEYS_DIR) >= sizeof(ek->base)) {
		free(ek);
		return ek_fail(err, errlen, "%s: path too long", data_dir);
	}
	if (fs_mkdirs(ek->base, 0700) == -1) {
		ek_fail(err, errlen, "%s: %s", ek->base, strerror(errno));
		free(ek);
		return -1;
	}
	ek_remove_legacy(data_dir);
	if (ek_load(ek, now_ms, err, errlen) == -1) {
		epochkeys_close(ek);
		return -1;
	}
	*out = ek;
	return 0;
}

void
epochkeys_close(struct epochkeys *ek)
{
	if (ek == NULL)
		return;
	for (size_t i = 0; i < ek->n; i++)
		ek_key_free(&ek->keys[i]);
	free(ek);
}

/* A new key for epoch, written to disk before anyone can learn of it. */
static int
ek_create(struct epochkeys *ek, uint64_t epoch, char *err, size_t errlen)
{
	uint8_t file[EPOCHKEYS_KEY_FILE_BYTES];
	char path[sizeof(ek->keys[0].dir) + 16];
	struct epochkey k;

	if (ek->n == EPOCHKEYS_MAX)
		return ek_fail(err, errlen, "epoch %llu: too many keys",
		    (unsigned long long)epoch);
	memset(&k, 0, sizeof(k));
	k.epoch = epoch;
	if ((size_t)snprintf(k.dir, sizeof(k.dir), "%s/%llu", ek->base,
	    (unsigned long long)epoch) >= sizeof(k.dir))
		return ek_fail(err, errlen, "%s: path too long", ek->base);
	if ((k.priv = sodium_malloc(32)) == NULL)
		return ek_fail(err, errlen, "out of memory");
	randombytes_buf(k.priv, 32);
	if (crypto_scalarmult_base(k.pub, k.priv) != 0) {
		ek_key_free(&k);
		return ek_fail(err, errlen, "key generation failed");
	}
	/* A directory left by a failed attempt is of no use. */
	ek_remove_dir(k.dir);
	memcpy(file, EPOCHKEYS_KEY_MAGIC, 8);
	put_be(file + 8, epoch, 8);
	put_be(file + 16, ek->seconds, 4);
	memset(file + 20, 0, 4);
	memcpy(file + 24, k.priv, 32);
	snprintf(path, sizeof(path), "%s/%s", k.dir, EPOCHKEYS_KEY_FILE);
	if (mkdir(k.dir, 0700) == -1 ||
	    fs_write_atomic(path, file, sizeof(file), 0600) == -1) {
		ek_fail(err, errlen, "%s: %s", path, strerror(errno));
		sodium_memzero(file, sizeof(file));
		ek_remove_dir(k.dir);
		ek_key_free(&k);
		return -1;
	}
	sodium_memzero(file, sizeof(file));
	ek_insert(ek, &k);
	return 0;
}

static struct epochkey *
ek_find(struct epochkeys *ek, uint64_t epoch)
{
	for (size_t i = 0; i < ek->n; i++)
		if (ek->keys[i].epoch == epoch)
			return &ek->keys[i];
	return NULL;
}

int
epochkeys_update(struct epochkeys *ek, uint32_t seconds, uint64_t now_ms,
    int *changed, char *err, size_t errlen)
{
	*changed = 0;
	if (!epoch_seconds_valid(seconds))
		return ek_fail(err, errlen, "epoch length %u s out of range",
		    seconds);
	if (ek->seconds != seconds) {
		if (ek->n > 0)
			log_warnx("epoch keys: the epoch length changed from "
			    "%u s to %u s; replacing every key", ek->seconds,
			    seconds);
		while (ek->n > 0)
			ek_drop(ek, 0);
		ek->seconds = seconds;
		*changed = 1;
	}
	for (size_t i = ek->n; i-- > 0;) {
		if (now_ms >= epoch_key_expiry_ms(ek->keys[i].epoch, seconds)) {
			log_info("epoch keys: key of epoch %llu expired; deleted "
			    "with its replay store (%llu tags)",
			    (unsigned long long)ek->keys[i].epoch,
			    (unsigned long long)(ek->keys[i].rdb == NULL ? 0 :
			    replay_count(replaydb_store(ek->keys[i].rdb))));
			ek_drop(ek, i);
			*changed = 1;
		}
	}
	uint64_t cur = epoch_at(now_ms, seconds);
	for (uint64_t e = cur; e <= cur + 1; e++) {
		if (ek_find(ek, e) != NULL)
			continue;
		/* A key for an epoch that lies entirely in the past. */
		while (ek->n > 0 && ek->n == EPOCHKEYS_MAX)
			ek_drop(ek, 0);
		if (ek_create(ek, e, err, errlen) == -1)
			return -1;
		log_info("epoch keys: new key for epoch %llu (%u s epochs)",
		    (unsigned long long)e, seconds);
		*changed = 1;
	}
	return ek_open_wanted(ek, now_ms, err, errlen);
}

uint32_t
epochkeys_seconds(const struct epochkeys *ek)
{
	return ek->seconds;
}

struct epochkey *
epochkeys_for_phase(struct epochkeys *ek, unsigned int phase, uint64_t now_ms)
{
	uint64_t e;

	if (ek->seconds == 0)
		return NULL;
	e = epoch_for_phase(now_ms, ek->seconds, phase);
	if (e == EPOCH_NONE)
		return NULL;
	/* Past its expiry a key is refused even before the timer deletes it. */
	struct epochkey *k = ek_find(ek, e);
	if (k != NULL && now_ms >= epoch_key_expiry_ms(k->epoch, ek->seconds))
		return NULL;
	/* Before the timer opened its store (a late timer): open it now. */
	if (k != NULL && k->rdb == NULL) {
		char err[EPOCHKEYS_ERR_BYTES];
		if (ek_open_replay(ek, k, err, sizeof(err)) == -1) {
			log_warnx("epoch keys: %s", err);
			return NULL;
		}
	}
	return k;
}

struct epochkey *
epochkeys_all(struct epochkeys *ek, size_t *n)
{
	*n = ek->n;
	return ek->keys;
}

uint64_t
epochkeys_next_event_ms(const struct epochkeys *ek, uint64_t now_ms)
{
	uint64_t next;

	if (ek->seconds == 0)
		return 0;
	next = epoch_start_ms(epoch_at(now_ms, ek->seconds) + 1, ek->seconds);
	for (size_t i = 0; i < ek->n; i++) {
		uint64_t x = epoch_key_expiry_ms(ek->keys[i].epoch, ek->seconds);
		if (x > now_ms && x < next)
			next = x;
		/* The middle of the epoch, when the next key's store opens. */
		x = epoch_start_ms(epoch_at(now_ms, ek->seconds), ek->seconds) +
		    (uint64_t)ek->seconds * 500;
		if (ek->keys[i].rdb == NULL && x > now_ms && x < next)
			next = x;
	}
	return next;
}
