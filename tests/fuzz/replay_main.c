/*
 * Replays a fuzz target's committed corpus without libFuzzer, so that
 * `make check` exercises every target with any compiler (and under the
 * sanitizers in the sanitizer build). The target name comes from the
 * program name: tests/fuzz/replay_X reads tests/fuzz/corpus/X/.
 * Output is TAP, one line per target.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT_BYTES (4u * 1024 * 1024)

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	uint8_t *buf = malloc(REPLAY_MAX_INPUT_BYTES);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	size_t len = fread(buf, 1, REPLAY_MAX_INPUT_BYTES, f);
	fclose(f);
	/* An exact-size copy lets ASan see reads one past the input. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	const char *prog = slash ? slash + 1 : argv[0];
	/* libtool wrappers run the real binary as lt-replay_X */
	if (strncmp(prog, "lt-", 3) == 0)
		prog += 3;
	if (strncmp(prog, "replay_", 7) != 0) {
		fprintf(stderr, "replay: cannot derive target name from %s\n", argv[0]);
		return 2;
	}
	const char *name = prog + 7;
	const char *top = getenv("top_srcdir");
	char dir[PATH_MAX];
	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".", name);

	DIR *d = opendir(dir);
	printf("1..1\n");
	if (d == NULL) {
		printf("not ok 1 - fuzz corpus %s: %s\n", dir, strerror(errno));
		return 1;
	}
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) != 0) {
			printf("not ok 1 - fuzz_%s: cannot read %s\n", name, path);
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);
	if (n == 0) {
		printf("not ok 1 - fuzz_%s: empty corpus %s\n", name, dir);
		return 1;
	}
	printf("ok 1 - fuzz_%s replayed %u corpus inputs\n", name, n);
	return 0;
}
