/*
 * Replay-store benchmark (issue "beyond one host", docs/epochs.md): a
 * node's epoch keys and their replay stores (node/epochkeys.c,
 * node/replaydb.c) over seven simulated epochs of 60 s, each carrying
 * 200 000 packets (a steady 3 333 packets/s), with the node's default
 * store size (replay_capacity 2 000 000 tags, false positives 1e-6).
 * Each epoch: its packets' tags go into the store of the key that takes
 * them and their alphas into its log, snapshots are written as the node
 * writes them, and the keys are updated at each quarter epoch as the node's
 * timer does.  Printed: the bytes on disk and in memory per million
 * packets, and the disk use of the epochs directory at each epoch's end,
 * which must stop growing once expired keys are deleted (a plot).
 */
#include <config.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/epoch.h"
#include "common/replay.h"
#include "node/epochkeys.h"
#include "node/replaydb.h"

#define EPOCH_S			60
#define EPOCHS			7
#define PACKETS_PER_EPOCH	200000
#define STEPS			4	/* updates per epoch */
#define CAPACITY		2000000	/* NODE_DEFAULT_REPLAY_CAPACITY */

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "replay-bench: %s: %s\n", what, why);
	exit(1);
}

/* Bytes of the regular files under path. */
static uint64_t
disk_bytes(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	uint64_t sum = 0;
	char sub[4096];

	if (lstat(path, &st) == -1)
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		sum += disk_bytes(sub);
	}
	closedir(d);
	return sum;
}

/* Tags in memory: the filters of the stores that are open. */
static uint64_t
memory_bytes(struct epochkeys *ek, size_t *open)
{
	size_t n;
	struct epochkey *k = epochkeys_all(ek, &n);
	uint64_t sum = 0;

	*open = 0;
	for (size_t i = 0; i < n; i++)
		if (k[i].rdb != NULL) {
			sum += replay_filter_bits(replaydb_store(k[i].rdb)) / 8;
			(*open)++;
		}
	return sum;
}

static void
snapshot_all(struct epochkeys *ek)
{
	size_t n;
	struct epochkey *k = epochkeys_all(ek, &n);

	for (size_t i = 0; i < n; i++)
		if (k[i].rdb != NULL && replaydb_snapshot(k[i].rdb) == -1)
			die("snapshot", "write failed");
}

/*
 * The epochs directory's size at each epoch's end, to
 * BENCH_OUT/replay-epochs.dat and, with gnuplot, replay-epochs.png;
 * prints the report's plot: or note: line.
 */
static void
plot_epochs(const uint64_t disk[EPOCHS])
{
	const char *out = getenv("BENCH_OUT");
	char dat[4200], png[4200];
	FILE *f, *gp;

	if (out == NULL || *out == '\0')
		out = ".";
	snprintf(dat, sizeof(dat), "%s/replay-epochs.dat", out);
	snprintf(png, sizeof(png), "%s/replay-epochs.png", out);
	if ((f = fopen(dat, "w")) == NULL) {
		printf("note: no replay plot: cannot write %s\n", dat);
		return;
	}
	fprintf(f, "# replay-bench: a node's epochs directory (keys, replay "
	    "snapshots and logs) at each epoch's end\n# epoch MiB\n");
	for (int e = 0; e < EPOCHS; e++)
		fprintf(f, "%d %.2f\n", e + 1, (double)disk[e] / 1048576.0);
	fclose(f);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0 ||
	    (gp = popen("gnuplot 2>&1", "w")) == NULL) {
		printf("note: no replay plot (gnuplot, Debian package gnuplot-nox); "
		    "data in replay-epochs.dat\n");
		return;
	}
	fprintf(gp, "set terminal pngcairo size 800,500 noenhanced\n"
	    "set output '%s'\n"
	    "set title 'replay state on disk over %d epochs of %d packets'\n"
	    "set xlabel 'epoch'\nset ylabel 'MiB under data/epochs'\n"
	    "set yrange [0:*]\nset grid\nset key bottom right\n"
	    "plot '%s' using 1:2 with linespoints lw 2 pt 7 title 'epochs directory'\n",
	    png, EPOCHS, PACKETS_PER_EPOCH, dat);
	if (pclose(gp) != 0 || access(png, R_OK) != 0) {
		printf("note: replay plot failed\n");
		return;
	}
	printf("plot: replay-epochs.png A node's replay state on disk (epoch "
	    "keys, replay snapshots and logs) at the end of each of %d "
	    "epochs of %d packets: flat once expired keys are deleted "
	    "(data: replay-epochs.dat).\n", EPOCHS, PACKETS_PER_EPOCH);
}

int
main(void)
{
	char dir[] = "/tmp/replay-bench.XXXXXX", epochs[4200], err[EPOCHKEYS_ERR_BYTES];
	struct replay_params rp = {
		.packets_per_second = CAPACITY, .epoch_seconds = 1,
		.false_positive_rate = REPLAY_DEFAULT_FALSE_POSITIVE_RATE,
	};
	struct epochkeys *ek;
	uint64_t start_ms, disk[EPOCHS], mem_peak = 0;
	size_t open_peak = 0;
	int changed;

	if (sodium_init() < 0)
		die("sodium_init", "failed");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", "failed");
	snprintf(epochs, sizeof(epochs), "%s/%s", dir, EPOCHKEYS_DIR);
	/* A whole epoch's start, far from 0, as a node's clock would be. */
	start_ms = (uint64_t)1000 * EPOCH_S * 30000000u;
	if (epochkeys_open(&ek, dir, &rp, start_ms, err, sizeof(err)) == -1)
		die("epochkeys_open", err);
	for (int e = 0; e < EPOCHS; e++) {
		for (int s = 0; s < STEPS; s++) {
			uint64_t now = start_ms + (uint64_t)e * EPOCH_S * 1000 +
			    (uint64_t)s * EPOCH_S * 1000 / STEPS;
			unsigned phase = (unsigned)((now / 1000 / EPOCH_S) & 1);
			struct epochkey *k;
			uint8_t tag[REPLAY_TAG_BYTES], alpha[REPLAYDB_RECORD_BYTES];
			size_t open;
			uint64_t mem;

			if (epochkeys_update(ek, EPOCH_S, now, &changed, err,
			    sizeof(err)) == -1)
				die("epochkeys_update", err);
			if ((k = epochkeys_for_phase(ek, phase, now)) == NULL)
				die("epochkeys_for_phase", "no key for the epoch");
			for (int i = 0; i < PACKETS_PER_EPOCH / STEPS; i++) {
				randombytes_buf(tag, sizeof(tag));
				randombytes_buf(alpha, sizeof(alpha));
				(void)replay_check_and_insert(replaydb_store(k->rdb), tag);
				if (replaydb_append(k->rdb, alpha) == -1)
					die("replaydb_append", "write failed");
			}
			mem = memory_bytes(ek, &open);
			if (mem > mem_peak)
				mem_peak = mem;
			if (open > open_peak)
				open_peak = open;
			/* The node writes snapshots on a timer; here each step. */
			snapshot_all(ek);
		}
		disk[e] = disk_bytes(epochs);
	}
	epochkeys_close(ek);

	double per_million = (double)CAPACITY / 1e6;
	uint64_t filter = mem_peak / (open_peak ? open_peak : 1);
	printf("replay-bench: %d epochs of %d s, %d packets each, stores of %d tags\n",
	    EPOCHS, EPOCH_S, PACKETS_PER_EPOCH, CAPACITY);
	printf("| figure | value | unit | baseline | ratio |\n");
	printf("|---|---:|---|---:|---:|\n");
	printf("| replay store in memory per million packets of capacity | %.0f | "
	    "bytes | %.0f | %.2f |\n", (double)filter / per_million,
	    32.0 * 1e6, (double)filter / per_million / (32.0 * 1e6));
	printf("| replay log per million packets, between snapshots | %.0f | "
	    "bytes | %.0f | %.2f |\n", (double)REPLAYDB_RECORD_BYTES * 1e6,
	    32.0 * 1e6, 1.0);
	printf("| replay stores open at once (peak) | %zu | stores | %d | %.2f |\n",
	    open_peak, EPOCHKEYS_MAX, (double)open_peak / EPOCHKEYS_MAX);
	printf("| epochs directory after epoch 5 / after epoch 2 | %.2f | "
	    "ratio | 1.00 | %.2f |\n", (double)disk[4] / (double)disk[1],
	    (double)disk[4] / (double)disk[1]);
	printf("note: the baseline of the per-million figures is keeping each "
	    "packet's 32-byte tag; the stores are sized by capacity, not by "
	    "what arrives, and at most %zu are open\n", open_peak);
	printf("epoch end, epochs directory bytes:\n");
	for (int e = 0; e < EPOCHS; e++)
		printf("  %d %llu\n", e + 1, (unsigned long long)disk[e]);
	plot_epochs(disk);
	printf("cmd: cd BUILD && BENCH_OUT=/tmp/b ./tests/bench/replay-bench   "
	    "(writes replay-epochs.dat and .png into BENCH_OUT)\n");
	char rm[4300];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "replay-bench: could not remove %s\n", dir);
	return 0;
}
