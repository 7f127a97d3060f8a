/*
 * socket-bench: requests per second and round-trip latency of nymd's
 * socket API, over TCP (varint framing) and over the websocket (binary
 * frames), with 1 and with 32 connections, each connection pipelining
 * SOCKET_BENCH_WINDOW requests. The request is `details` (answered from
 * memory, 189 bytes), so the figure is the cost of the socket path:
 * framing, protobuf unpack and pack, libevent, wslay.
 *
 * Baseline, measured in the same run with the same client code: a
 * trivial echo server in this process (one thread per connection) over
 * the same socket type; for the websocket it parses each masked frame and
 * answers it unmasked. The ratio is nymd / echo (higher is better for
 * rates, lower for latencies). One more row compares the single-connection
 * TCP rate with the target of 20 000 requests/s.
 *
 * It starts nymd itself: $NYMD, else $top_builddir/src/nymd, else
 * ./src/nymd. SOCKET_BENCH_SECONDS sets each measurement's length (2).
 * Output: markdown rows | figure | value | unit | baseline | ratio |.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_WINDOW		64	/* requests in flight per connection */
#define BENCH_MANY_CONNS	32
#define BENCH_LAT_SAMPLES	20000
#define BENCH_TARGET_RPS	20000.0
#define BENCH_BUF_BYTES		(256 * 1024)

enum kind { K_TCP, K_WS };

static double bench_seconds = 2.0;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "socket-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* The websocket opening handshake; the answer's head is skipped. */
static int
ws_handshake(int fd, int port)
{
	char req[256], buf[1024];
	size_t have = 0;

	int n = snprintf(req, sizeof(req), "GET /mix HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port);
	if (write_all(fd, req, (size_t)n) == -1)
		return -1;
	/* Read byte by byte so that no frame is consumed with the head. */
	while (have < sizeof(buf) - 1) {
		if (read(fd, buf + have, 1) != 1)
			return -1;
		have++;
		if (have >= 4 && memcmp(buf + have - 4, "\r\n\r\n", 4) == 0)
			return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
	}
	return -1;
}

static int
bench_connect(enum kind k, int port)
{
	int fd = tcp_connect(port);

	if (fd != -1 && k == K_WS && ws_handshake(fd, port) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One details request as it goes on the wire. */
static size_t
request_bytes(enum kind k, uint8_t *out)
{
	static const uint8_t tcp_req[] = { 0x04, 0x2a, 0x00 };
	/* FIN+binary, masked, 2 bytes; mask 01020304 */
	static const uint8_t ws_req[] = { 0x82, 0x82, 1, 2, 3, 4, 0x2a ^ 1, 0x00 ^ 2 };

	if (k == K_TCP) {
		memcpy(out, tcp_req, sizeof(tcp_req));
		return sizeof(tcp_req);
	}
	memcpy(out, ws_req, sizeof(ws_req));
	return sizeof(ws_req);
}

/*
 * The size of the complete response at buf, 0 if incomplete, -1 if
 * malformed. ws server frames are unmasked; pings are counted as
 * responses of size -(n) via *skip so that the caller drops them.
 */
static long
response_size(enum kind k, const uint8_t *buf, size_t len, int *skip)
{
	*skip = 0;
	if (k == K_TCP) {
		uint64_t v = 0;
		size_t i;
		for (i = 0; i < len && i < 10; i++) {
			v |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
			if (!(buf[i] & 0x80))
				break;
		}
		if (i == len)
			return 0;
		if (i == 10 || (v & 1))
			return -1;
		size_t total = i + 1 + (size_t)(v >> 1);
		return total <= len ? (long)total : 0;
	}
	if (len < 2)
		return 0;
	size_t n = buf[1] & 0x7f, hdr = 2;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (size_t)buf[2] << 8 | buf[3];
		hdr = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		hdr = 10;
	}
	*skip = (buf[0] & 0x0f) >= 8;	/* a ping from nymd: not an answer */
	return hdr + n <= len ? (long)(hdr + n) : 0;
}

static int first_payload_byte(enum kind, const uint8_t *, size_t);

struct worker {
	enum kind	 k;
	int		 port;
	int		 window;
	double		 stop_at;
	unsigned long	 done;
	int		 failed;
	pthread_t	 th;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t one[16], *reqs, *buf;
	size_t req_len = request_bytes(w->k, one), have = 0;
	long inflight = 0;
	int fd = bench_connect(w->k, w->port);

	reqs = malloc(req_len * (size_t)w->window);
	buf = malloc(BENCH_BUF_BYTES);
	if (fd == -1 || reqs == NULL || buf == NULL) {
		w->failed = 1;
		goto out;
	}
	for (int i = 0; i < w->window; i++)
		memcpy(reqs + (size_t)i * req_len, one, req_len);
	if (write_all(fd, reqs, req_len * (size_t)w->window) == -1) {
		w->failed = 1;
		goto out;
	}
	inflight = w->window;
	while (inflight > 0) {
		ssize_t n = read(fd, buf + have, BENCH_BUF_BYTES - have);
		if (n <= 0) {
			w->failed = 1;
			break;
		}
		have += (size_t)n;
		size_t off = 0;
		long got = 0;
		for (;;) {
			int skip;
			long sz = response_size(w->k, buf + off, have - off, &skip);
			if (sz < 0) {
				w->failed = 1;
				goto out;
			}
			if (sz == 0)
				break;
			/* Every answer must be details (0x2a), from nymd or the echo. */
			if (!skip && first_payload_byte(w->k, buf + off, (size_t)sz) != 0x2a) {
				w->failed = 1;
				goto out;
			}
			off += (size_t)sz;
			if (!skip)
				got++;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		inflight -= got;
		w->done += (unsigned long)got;
		if (got > 0 && now_s() < w->stop_at) {
			if (write_all(fd, reqs, req_len * (size_t)got) == -1) {
				w->failed = 1;
				break;
			}
			inflight += got;
		}
	}
out:
	if (fd != -1)
		close(fd);
	free(reqs);
	free(buf);
	return NULL;
}

/* Requests per second over conns connections, each pipelining window. */
static double
bench_rate(enum kind k, int port, int conns, int window)
{
	struct worker *w = calloc((size_t)conns, sizeof(*w));
	unsigned long total = 0;
	double t0 = now_s(), t1;

	if (w == NULL)
		die("calloc");
	for (int i = 0; i < conns; i++) {
		w[i] = (struct worker){ .k = k, .port = port, .window = window,
		    .stop_at = t0 + bench_seconds };
		if (pthread_create(&w[i].th, NULL, worker_run, &w[i]) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].failed) {
			fprintf(stderr, "socket-bench: a connection failed\n");
			exit(1);
		}
		total += w[i].done;
	}
	t1 = now_s();
	free(w);
	return (double)total / (t1 - t0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Round trips one at a time: p50 and p99 in microseconds. */
static void
bench_latency(enum kind k, int port, double *p50, double *p99)
{
	uint8_t req[16], buf[4096];
	size_t req_len = request_bytes(k, req);
	double *lat = malloc(BENCH_LAT_SAMPLES * sizeof(*lat)), stop = now_s() + bench_seconds;
	int fd = bench_connect(k, port), n = 0;

	if (fd == -1 || lat == NULL)
		die("latency connection");
	while (n < BENCH_LAT_SAMPLES && (n < 1000 || now_s() < stop)) {
		double t0 = now_s();
		size_t have = 0;
		int skip = 1;
		long sz = 0;
		if (write_all(fd, req, req_len) == -1)
			die("write");
		while (skip || sz == 0) {
			ssize_t r = read(fd, buf + have, sizeof(buf) - have);
			if (r <= 0)
				die("read");
			have += (size_t)r;
			for (;;) {
				sz = response_size(k, buf, have, &skip);
				if (sz < 0)
					die("bad response");
				if (sz == 0 || !skip)
					break;
				memmove(buf, buf + sz, have - (size_t)sz);
				have -= (size_t)sz;
			}
		}
		lat[n++] = (now_s() - t0) * 1e6;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	*p50 = lat[n / 2];
	*p99 = lat[(n * 99) / 100];
	free(lat);
	close(fd);
}

/* --- the baseline: echo servers ------------------------------------- */

struct echo_server {
	enum kind	k;
	int		fd;
	int		port;
};

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1;
	enum kind k = fd < 0 ? K_WS : K_TCP;
	uint8_t *buf = malloc(BENCH_BUF_BYTES), *out = malloc(BENCH_BUF_BYTES);
	size_t have = 0;

	if (fd < 0)
		fd = -fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (buf == NULL || out == NULL)
		goto out;
	if (k == K_WS) {
		static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
		while (have < 4 || memcmp(buf + have - 4, "\r\n\r\n", 4) != 0) {
			if (have == BENCH_BUF_BYTES || read(fd, buf + have, 1) != 1)
				goto out;
			have++;
		}
		have = 0;
		if (write_all(fd, ok, sizeof(ok) - 1) == -1)
			goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, BENCH_BUF_BYTES - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		if (k == K_TCP) {
			/* Every request is a valid response frame: echo it. */
			if (write_all(fd, buf, have) == -1)
				break;
			have = 0;
			continue;
		}
		/* Unmask each complete client frame and send it back. */
		size_t off = 0, olen = 0;
		while (have - off >= 6) {
			size_t plen = buf[off + 1] & 0x7f;
			if (plen >= 126 || have - off < 6 + plen)
				break;	/* the bench only sends tiny frames */
			const uint8_t *mask = buf + off + 2, *p = buf + off + 6;
			out[olen++] = buf[off];
			out[olen++] = (uint8_t)plen;
			for (size_t i = 0; i < plen; i++)
				out[olen++] = p[i] ^ mask[i & 3];
			off += 6 + plen;
		}
		if (olen > 0 && write_all(fd, out, olen) == -1)
			break;
		memmove(buf, buf + off, have - off);
		have -= off;
	}
out:
	close(fd);
	free(buf);
	free(out);
	return NULL;
}

static void *
echo_accept(void *arg)
{
	struct echo_server *s = arg;

	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		pthread_t th;
		if (fd == -1)
			return NULL;
		/* The kind travels in the sign of the descriptor. */
		if (pthread_create(&th, NULL, echo_conn,
		    (void *)(intptr_t)(s->k == K_WS ? -fd : fd)) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(th);
	}
}

static void
echo_start(struct echo_server *s, enum kind k)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	pthread_t th;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->k = k;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd == -1 || bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s->fd, 128) == -1 || getsockname(s->fd, (struct sockaddr *)&sin, &len) == -1)
		die("echo server");
	s->port = ntohs(sin.sin_port);
	if (pthread_create(&th, NULL, echo_accept, s) != 0)
		die("pthread_create");
	pthread_detach(th);
}

/* --- nymd ----------------------------------------------------------- */

static char nymd_path[4096];
static char home[64];

static int
run_wait(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == -1)
		die("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) == -1)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
free_port(void)
{
	struct echo_server s;

	/* Bind port 0, note the port, close: good enough on loopback. */
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s.fd == -1 || bind(s.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(s.fd, (struct sockaddr *)&sin, &len) == -1)
		die("free port");
	close(s.fd);
	return ntohs(sin.sin_port);
}

/* Logging off, so that the figures are not the log file's. */
static void
nymd_config(void)
{
	char path[256], *text;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/clients/bench/config/config.toml", home);
	if ((f = fopen(path, "r+")) == NULL)
		die(path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	if ((text = calloc(1, (size_t)len + 1)) == NULL ||
	    fread(text, 1, (size_t)len, f) != (size_t)len)
		die("read config");
	char *p = strstr(text, "disable = false");
	if (p != NULL)
		memcpy(p, "disable = true ", 15);
	rewind(f);
	fwrite(text, 1, (size_t)len, f);
	fclose(f);
	free(text);
}

/* The first byte of the response's protobuf, or -1. */
static int
first_payload_byte(enum kind k, const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (k == K_TCP) {
		while (i < len && (buf[i] & 0x80))
			i++;
		i++;
	} else if (len >= 2) {
		size_t n = buf[1] & 0x7f;
		i = n == 126 ? 4 : n == 127 ? 10 : 2;
	}
	return i < len ? buf[i] : -1;
}

static pid_t
nymd_start(enum kind k, int *port)
{
	char portbuf[16];
	pid_t pid;

	*port = free_port();
	snprintf(portbuf, sizeof(portbuf), "%d", *port);
	pid = fork();
	if (pid == -1)
		die("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(nymd_path, "nymd", "socket", "--id", "bench", "--home", home, "--socket",
		    k == K_TCP ? "tcp" : "websocket", "--port", portbuf, (char *)NULL);
		_exit(127);
	}
	/* Ready once a details request is answered with details (0x2a). */
	for (int i = 0; i < 200; i++) {
		uint8_t req[16], buf[1024];
		size_t n = request_bytes(k, req);
		int fd = bench_connect(k, *port);
		if (fd != -1 && write_all(fd, req, n) == 0) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0 && first_payload_byte(k, buf, (size_t)r) == 0x2a) {
				close(fd);
				return pid;
			}
		}
		if (fd != -1)
			close(fd);
		usleep(50000);
	}
	fprintf(stderr, "socket-bench: nymd did not answer on port %d\n", *port);
	kill(pid, SIGKILL);
	exit(1);
}

static void
nymd_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
row(const char *figure, double v, const char *unit, double base)
{
	printf("| %s | %.0f | %s | %.0f | %.2f |\n", figure, v, unit, base, v / base);
}

static void
bench_kind(enum kind k)
{
	const char *name = k == K_TCP ? "TCP" : "websocket";
	struct echo_server echo;
	char fig[160];
	double r1, rn, e1, en, p50, p99, ep50, ep99;
	int port;
	pid_t pid = nymd_start(k, &port);

	echo_start(&echo, k);
	r1 = bench_rate(k, port, 1, BENCH_WINDOW);
	e1 = bench_rate(k, echo.port, 1, BENCH_WINDOW);
	rn = bench_rate(k, port, BENCH_MANY_CONNS, BENCH_WINDOW);
	en = bench_rate(k, echo.port, BENCH_MANY_CONNS, BENCH_WINDOW);
	bench_latency(k, port, &p50, &p99);
	bench_latency(k, echo.port, &ep50, &ep99);
	nymd_stop(pid);
	close(echo.fd);

	snprintf(fig, sizeof(fig), "%s details, 1 connection, %d pipelined (baseline: echo)",
	    name, BENCH_WINDOW);
	row(fig, r1, "requests/s", e1);
	snprintf(fig, sizeof(fig), "%s details, %d connections, %d pipelined each (baseline: echo)",
	    name, BENCH_MANY_CONNS, BENCH_WINDOW);
	row(fig, rn, "requests/s", en);
	snprintf(fig, sizeof(fig), "%s round trip p50, one at a time (baseline: echo)", name);
	printf("| %s | %.1f | us | %.1f | %.2f |\n", fig, p50, ep50, p50 / ep50);
	snprintf(fig, sizeof(fig), "%s round trip p99, one at a time (baseline: echo)", name);
	printf("| %s | %.1f | us | %.1f | %.2f |\n", fig, p99, ep99, p99 / ep99);
	if (k == K_TCP)
		row("TCP details, 1 connection pipelined, against the target (baseline: 20 000/s)",
		    r1, "requests/s", BENCH_TARGET_RPS);
}

int
main(int argc, char **argv)
{
	const char *s = getenv("SOCKET_BENCH_SECONDS"), *top = getenv("top_builddir");

	signal(SIGPIPE, SIG_IGN);
	if (s != NULL && atof(s) > 0)
		bench_seconds = atof(s);
	if (argc > 1)
		snprintf(nymd_path, sizeof(nymd_path), "%s", argv[1]);
	else if (getenv("NYMD") != NULL)
		snprintf(nymd_path, sizeof(nymd_path), "%s", getenv("NYMD"));
	else
		snprintf(nymd_path, sizeof(nymd_path), "%s/src/nymd", top ? top : ".");
	if (access(nymd_path, X_OK) == -1)
		die(nymd_path);
	snprintf(home, sizeof(home), "/tmp/socket-bench.XXXXXX");
	if (mkdtemp(home) == NULL)
		die("mkdtemp");
	/* nymd drops to its own user when started as root. */
	chmod(home, 0755);
	char *init[] = { nymd_path, "init", "--id", "bench", "--home", home,
	    "--directory", "http://127.0.0.1:1/none", NULL };
	if (run_wait(init) != 0) {
		fprintf(stderr, "socket-bench: nymd init failed\n");
		return 1;
	}
	nymd_config();
	printf("note: socket-bench: nymd answers details requests from memory; the baseline is "
	    "a trivial echo server over the same socket type in the bench process, same run, "
	    "same client code (ratio = nymd / echo); each figure over %.1f s\n", bench_seconds);
	printf("cmd: SOCKET_BENCH_SECONDS=%.1f tests/bench/socket-bench [PATH_TO_NYMD]\n",
	    bench_seconds);
	bench_kind(K_TCP);
	bench_kind(K_WS);
	char *rm[] = { "/bin/rm", "-rf", home, NULL };
	run_wait(rm);
	return 0;
}
