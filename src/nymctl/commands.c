/*
 * nymctl's commands. Each parses its own options first, so that a usage
 * error is reported as one (exit 2) whether or not nymd runs, then
 * connects and asks.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/b64.h"
#include "nymctl/nymctl.h"

#define WATCH_DEFAULT_INTERVAL_MS	1000UL
#define WATCH_MAX_INTERVAL_MS		86400000UL

enum { OPT_TO = 1, OPT_JSON, OPT_INTERVAL, OPT_REPLY_SURBS, OPT_TAGS, OPT_TAG, OPT_WATCH };

/* A sender tag on the command line and in fetch --tags: 32 hex digits. */
#define TAG_HEX_CHARS	(2 * NYM_TAG_BYTES)

/* Parses a command's options from opts; unknown ones are usage errors. */
static int
cmd_options(struct nymctl *ctl, const char *cmd, int argc, char **argv,
    const struct option *opts, int (*take)(struct nymctl *, const char *, int,
    const char *, void *), void *arg)
{
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return nymctl_usage_error(ctl, cmd, "unknown or incomplete option '%s'",
			    argv[optind - 1]);
		if ((rc = take(ctl, cmd, c, optarg, arg)) != 0)
			return rc;
	}
	return 0;
}

static int
cmd_no_args(struct nymctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int rc = cmd_options(ctl, cmd, argc, argv, none, NULL, NULL);

	if (rc == 0 && optind < argc)
		return nymctl_usage_error(ctl, cmd, "unexpected argument '%s'", argv[optind]);
	return rc;
}

/* JSON string of msg in standard base64, as the protobuf JSON mapping has bytes. */
static int
print_json_b64(const struct nym_message *m)
{
	char *s = malloc(B64_ENCODED_LEN(m->len) + 1);

	if (s == NULL)
		return -1;
	b64_encode(s, m->data, m->len, B64_STANDARD);
	printf("\"%s\"", s);
	free(s);
	return 0;
}

static int
print_raw(const struct nym_message *m)
{
	if (m->len > 0 && fwrite(m->data, 1, m->len, stdout) != m->len)
		return -1;
	return putchar('\n') == EOF ? -1 : 0;
}

struct send_opts {
	const char	*to;
	unsigned long	 reply_surbs;
	const char	*tag;
};

static int
send_take(struct nymctl *ctl, const char *cmd, int c, const char *val, void *arg)
{
	struct send_opts *o = arg;

	if (c == OPT_TO)
		o->to = val;
	else if (c == OPT_TAG)
		o->tag = val;
	else if (c == OPT_REPLY_SURBS &&
	    nymctl_number(val, 0, NYM_MAX_REPLY_SURBS, &o->reply_surbs) != 0)
		return nymctl_usage_error(ctl, cmd, "--reply-surbs must be a number "
		    "from 0 to %d", NYM_MAX_REPLY_SURBS);
	return 0;
}

/* All of standard input, refused above nymd's request limit. */
static int
read_stdin(struct nymctl *ctl, uint8_t **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap > NYM_MAX_REQUEST_BYTES) {
				fprintf(stderr, "%s: send: the message on standard input is "
				    "larger than %d bytes\n", ctl->prog, NYM_MAX_REQUEST_BYTES);
				free(buf);
				return -1;
			}
			uint8_t *n = realloc(buf, cap * 2);
			if (n == NULL) {
				free(buf);
				return -1;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t r = read(STDIN_FILENO, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			fprintf(stderr, "%s: send: standard input: %s\n", ctl->prog, strerror(errno));
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* The id nymd gave a message (for status), on a line of its own; nothing
 * from a nymd that gives none. */
static void
print_message_id(const uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	static const uint8_t none[NYM_MESSAGE_ID_BYTES];
	char hex[NYMCTL_ID_HEX_CHARS + 1];

	if (memcmp(id, none, sizeof(none)) == 0)
		return;
	nymctl_hex(hex, id, NYM_MESSAGE_ID_BYTES);
	printf("%s\n", hex);
}

int
cmd_send(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "reply-surbs", required_argument, NULL, OPT_REPLY_SURBS },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts o = { NULL, 0, NULL };
	uint8_t key[NYM_KEY_BYTES], id[NYM_MESSAGE_ID_BYTES], *msg = NULL;
	size_t len;
	int rc;

	if ((rc = cmd_options(ctl, "send", argc, argv, opts, send_take, &o)) != 0)
		return rc;
	if (o.to == NULL)
		return nymctl_usage_error(ctl, "send", "--to RECIPIENT is required");
	if (nym_key_from_id(key, o.to) != 0)
		return nymctl_usage_error(ctl, "send", "recipient '%s' is not a client id "
		    "(44 characters of URL-safe base64, as 'nymctl clients' lists)", o.to);
	if (argc - optind != 1)
		return nymctl_usage_error(ctl, "send", "give one MESSAGE, or - to read it "
		    "from standard input");
	const char *arg = argv[optind];
	if (strcmp(arg, "-") == 0) {
		if (read_stdin(ctl, &msg, &len) == -1)
			return NYMCTL_EXIT_FAIL;
	} else
		len = strlen(arg);

	nymctl_connect(ctl);
	rc = nym_send_message(ctl->c, NULL, o.to, msg != NULL ? msg : (const uint8_t *)arg,
	    len, (unsigned int)o.reply_surbs, id);
	free(msg);
	if (rc != 0)
		return nymctl_fail(ctl, "send", rc);
	print_message_id(id);
	return NYMCTL_EXIT_OK;
}

struct fetch_opts {
	int		json;
	int		tags;
	unsigned long	interval_ms;
};

static int
fetch_take(struct nymctl *ctl, const char *cmd, int c, const char *val, void *arg)
{
	struct fetch_opts *o = arg;

	if (c == OPT_JSON)
		o->json = 1;
	else if (c == OPT_TAGS)
		o->tags = 1;
	else if (c == OPT_INTERVAL &&
	    nymctl_number(val, 1, WATCH_MAX_INTERVAL_MS, &o->interval_ms) != 0)
		return nymctl_usage_error(ctl, cmd, "--interval must be a number of "
		    "milliseconds from 1 to %lu", WATCH_MAX_INTERVAL_MS);
	return 0;
}

/*
 * fetch --tags: TAG<TAB>MESSAGE per message, TAG the sender tag in hex,
 * or "-" for a message that came without reply blocks.
 */
static int
fetch_tags(struct nymctl *ctl)
{
	struct nym_received *msgs;
	char hex[TAG_HEX_CHARS + 1];
	size_t n;
	int rc;

	if ((rc = nym_fetch_received(ctl->c, &msgs, &n)) != 0)
		return nymctl_fail(ctl, "fetch", rc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (msgs[i].has_tag)
			for (size_t k = 0; k < NYM_TAG_BYTES; k++)
				snprintf(hex + 2 * k, 3, "%02x", msgs[i].tag[k]);
		else
			snprintf(hex, sizeof(hex), "-");
		if (printf("%s\t", hex) < 0 || (msgs[i].len > 0 &&
		    fwrite(msgs[i].data, 1, msgs[i].len, stdout) != msgs[i].len) ||
		    putchar('\n') == EOF)
			rc = -1;
	}
	nym_received_free(msgs);
	if (rc != 0) {
		fprintf(stderr, "%s: fetch: could not print every message: %s\n", ctl->prog,
		    strerror(errno));
		return NYMCTL_EXIT_FAIL;
	}
	return NYMCTL_EXIT_OK;
}

/* 32 hex digits to a tag; 0 or -1. */
static int
parse_tag(const char *s, uint8_t tag[NYM_TAG_BYTES])
{
	if (strlen(s) != TAG_HEX_CHARS)
		return -1;
	for (size_t k = 0; k < NYM_TAG_BYTES; k++) {
		unsigned int v;
		if (!isxdigit((unsigned char)s[2 * k]) ||
		    !isxdigit((unsigned char)s[2 * k + 1]) ||
		    sscanf(s + 2 * k, "%2x", &v) != 1)
			return -1;
		tag[k] = (uint8_t)v;
	}
	return 0;
}

int
cmd_reply(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, OPT_TAG },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts o = { NULL, 0, NULL };
	uint8_t tag[NYM_TAG_BYTES], id[NYM_MESSAGE_ID_BYTES], *msg = NULL;
	size_t len;
	int rc;

	if ((rc = cmd_options(ctl, "reply", argc, argv, opts, send_take, &o)) != 0)
		return rc;
	if (o.tag == NULL)
		return nymctl_usage_error(ctl, "reply", "--tag TAG is required");
	if (parse_tag(o.tag, tag) != 0)
		return nymctl_usage_error(ctl, "reply", "tag '%s' is not a sender tag "
		    "(%d hex digits, as 'nymctl fetch --tags' prints)", o.tag, TAG_HEX_CHARS);
	if (argc - optind != 1)
		return nymctl_usage_error(ctl, "reply", "give one MESSAGE, or - to read it "
		    "from standard input");
	const char *arg = argv[optind];
	if (strcmp(arg, "-") == 0) {
		if (read_stdin(ctl, &msg, &len) == -1)
			return NYMCTL_EXIT_FAIL;
	} else
		len = strlen(arg);
	nymctl_connect(ctl);
	rc = nym_reply_message(ctl->c, tag, msg != NULL ? msg : (const uint8_t *)arg, len, id);
	free(msg);
	if (rc != 0)
		return nymctl_fail(ctl, "reply", rc);
	print_message_id(id);
	return NYMCTL_EXIT_OK;
}

int
cmd_fetch(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "tags", no_argument, NULL, OPT_TAGS },
		{ NULL, 0, NULL, 0 },
	};
	struct fetch_opts o = { 0, 0, 0 };
	struct nym_message *msgs;
	size_t n;
	int rc;

	if ((rc = cmd_options(ctl, "fetch", argc, argv, opts, fetch_take, &o)) != 0)
		return rc;
	if (optind < argc)
		return nymctl_usage_error(ctl, "fetch", "unexpected argument '%s'", argv[optind]);
	if (o.json && o.tags)
		return nymctl_usage_error(ctl, "fetch", "--json and --tags do not go together");
	nymctl_connect(ctl);
	if (o.tags)
		return fetch_tags(ctl);
	if ((rc = nym_fetch(ctl->c, &msgs, &n)) != 0)
		return nymctl_fail(ctl, "fetch", rc);
	if (o.json)
		putchar('[');
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (o.json) {
			if (i > 0)
				putchar(',');
			rc = print_json_b64(&msgs[i]);
		} else
			rc = print_raw(&msgs[i]);
	}
	if (o.json)
		printf("]\n");
	nym_messages_free(msgs);
	if (rc != 0) {
		/* The messages are gone from nymd: say so rather than lose them quietly. */
		fprintf(stderr, "%s: fetch: could not print every message: %s\n", ctl->prog,
		    strerror(errno));
		return NYMCTL_EXIT_FAIL;
	}
	return NYMCTL_EXIT_OK;
}

static void
print_provider(const struct nym_client_config *c)
{
	if (!c->has_provider || c->provider.id[0] == '\0') {
		printf("-");
		return;
	}
	printf("%s", c->provider.id);
	/* host:port, an IPv6 host in brackets, as nymctl(1) says */
	if (c->provider.host[0] != '\0')
		printf(strchr(c->provider.host, ':') != NULL ? " [%s]:%s" : " %s:%s",
		    c->provider.host, c->provider.port);
}

int
cmd_clients(struct nymctl *ctl, int argc, char **argv)
{
	struct nym_client_config *list;
	size_t n;
	int rc;

	if ((rc = cmd_no_args(ctl, "clients", argc, argv)) != 0)
		return rc;
	nymctl_connect(ctl);
	if ((rc = nym_clients(ctl->c, &list, &n)) != 0)
		return nymctl_fail(ctl, "clients", rc);
	for (size_t i = 0; i < n; i++) {
		printf("%s ", list[i].id);
		print_provider(&list[i]);
		putchar('\n');
	}
	nym_clients_free(list);
	return NYMCTL_EXIT_OK;
}

int
cmd_details(struct nymctl *ctl, int argc, char **argv)
{
	struct nym_client_config d;
	int rc;

	if ((rc = cmd_no_args(ctl, "details", argc, argv)) != 0)
		return rc;
	nymctl_connect(ctl);
	if ((rc = nym_details(ctl->c, &d)) != 0)
		return nymctl_fail(ctl, "details", rc);
	printf("id: %s\nprovider: ", d.id);
	print_provider(&d);
	putchar('\n');
	return NYMCTL_EXIT_OK;
}

/* watch: the asynchronous API on a libevent loop, a fetch per tick. */
struct watch {
	struct nymctl		*ctl;
	struct fetch_opts	 o;
	struct event_base	*base;
	struct event		*tick;
	int			 rc;
};

static void
watch_stop(struct watch *w, int rc)
{
	w->rc = rc;
	event_base_loopbreak(w->base);
}

static void
watch_fetched(struct nym_async *a, int err, const struct nym_message *msgs,
    size_t n, void *arg)
{
	struct watch *w = arg;
	struct timeval tv = { .tv_sec = (time_t)(w->o.interval_ms / 1000),
	    .tv_usec = (suseconds_t)(w->o.interval_ms % 1000) * 1000 };

	/* Canceled: the loop is over and the handle is being freed. */
	if (err == NYM_ERR_CANCELED)
		return;
	if (err != 0) {
		if (err == NYM_ERR_REMOTE)
			fprintf(stderr, "%s: watch: error from nymd: %s\n", w->ctl->prog,
			    nym_async_last_error(a));
		else
			fprintf(stderr, "%s: watch: %s\n", w->ctl->prog, nym_async_last_error(a));
		watch_stop(w, NYMCTL_EXIT_FAIL);
		return;
	}
	int bad = 0;
	for (size_t i = 0; i < n && !bad; i++) {
		if (w->o.json)
			bad = print_json_b64(&msgs[i]) == -1 || putchar('\n') == EOF;
		else
			bad = print_raw(&msgs[i]) == -1;
	}
	if (bad || fflush(stdout) == EOF) {
		fprintf(stderr, "%s: watch: standard output: %s\n", w->ctl->prog, strerror(errno));
		watch_stop(w, NYMCTL_EXIT_FAIL);
		return;
	}
	/* The next fetch a full interval after this answer: never two at once. */
	evtimer_add(w->tick, &tv);
}

static void
watch_signal(evutil_socket_t sig, short what, void *arg)
{
	watch_stop(arg, NYMCTL_EXIT_OK);
}

static void
watch_lost(struct nym_async *a, int err, void *arg)
{
	struct watch *w = arg;

	if (w->rc != NYMCTL_EXIT_OK)
		return;		/* a failed fetch has said why */
	fprintf(stderr, "%s: watch: %s\n", w->ctl->prog, nym_async_last_error(a));
	watch_stop(w, NYMCTL_EXIT_FAIL);
}

struct watch_tick_arg {
	struct watch		*w;
	struct nym_async	*a;
};

static void
watch_fetch(evutil_socket_t fd, short what, void *arg)
{
	struct watch_tick_arg *t = arg;
	int rc = nym_async_fetch(t->a, watch_fetched, t->w);

	if (rc != 0) {
		fprintf(stderr, "%s: watch: %s\n", t->w->ctl->prog, nym_async_last_error(t->a));
		watch_stop(t->w, NYMCTL_EXIT_FAIL);
	}
}

int
cmd_watch(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ NULL, 0, NULL, 0 },
	};
	struct watch w = { .ctl = ctl, .o = { 0, WATCH_DEFAULT_INTERVAL_MS },
	    .rc = NYMCTL_EXIT_OK };
	struct watch_tick_arg t = { .w = &w };
	struct event *sigint = NULL, *sigterm = NULL;
	int rc;

	if ((rc = cmd_options(ctl, "watch", argc, argv, opts, fetch_take, &w.o)) != 0)
		return rc;
	if (optind < argc)
		return nymctl_usage_error(ctl, "watch", "unexpected argument '%s'", argv[optind]);
	nymctl_connect(ctl);
	if ((w.base = event_base_new()) == NULL ||
	    nym_async_new(&t.a, w.base, ctl->c) != 0) {
		fprintf(stderr, "%s: watch: cannot set up the event loop\n", ctl->prog);
		if (w.base != NULL)
			event_base_free(w.base);
		return NYMCTL_EXIT_FAIL;
	}
	ctl->c = NULL;	/* t.a owns the connection now */
	nym_async_set_error_cb(t.a, watch_lost, &w);
	w.tick = evtimer_new(w.base, watch_fetch, &t);
	sigint = evsignal_new(w.base, SIGINT, watch_signal, &w);
	sigterm = evsignal_new(w.base, SIGTERM, watch_signal, &w);
	if (w.tick == NULL || sigint == NULL || sigterm == NULL ||
	    evsignal_add(sigint, NULL) == -1 || evsignal_add(sigterm, NULL) == -1) {
		fprintf(stderr, "%s: watch: cannot set up the event loop\n", ctl->prog);
		w.rc = NYMCTL_EXIT_FAIL;
	} else {
		event_active(w.tick, EV_TIMEOUT, 0);
		event_base_dispatch(w.base);
	}
	nym_async_free(t.a);
	if (w.tick != NULL)
		event_free(w.tick);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	event_base_free(w.base);
	return w.rc;
}

/*
 * status --watch: the asynchronous API, a watch and, for one message, its
 * status; with one message, until it ends.
 */
struct swatch {
	struct nymctl			*ctl;
	struct event_base		*base;
	int				 rc;
	int				 one;		/* one message: id */
	uint8_t				 id[NYM_MESSAGE_ID_BYTES];
	int				 have_last;
	struct nym_message_status	 last;		/* printed last, of id */
};

/* How far along a message is: a change that is not further than the last
 * one printed is old news (pushes held while the status was asked). */
static int
swatch_rank(const struct nym_message_status *st)
{
	switch (st->state) {
	case NYM_MESSAGE_QUEUED:	return 0;
	case NYM_MESSAGE_SENDING:	return 1;
	default:			return 2;	/* it ended */
	}
}

static void
swatch_stop(struct swatch *w, int rc)
{
	w->rc = rc;
	event_base_loopbreak(w->base);
}

static void
swatch_print(struct swatch *w, const struct nym_message_status *st)
{
	char line[NYMCTL_STATUS_LINE_BYTES];

	if (w->one) {
		if (memcmp(st->id, w->id, NYM_MESSAGE_ID_BYTES) != 0)
			return;
		if (w->have_last && (swatch_rank(st) < swatch_rank(&w->last) ||
		    (swatch_rank(st) == swatch_rank(&w->last) &&
		    st->acknowledged <= w->last.acknowledged)))
			return;
		w->last = *st;
		w->have_last = 1;
	}
	nymctl_status_line(line, sizeof(line), st);
	if (printf("%s\n", line) < 0 || fflush(stdout) == EOF) {
		fprintf(stderr, "%s: status: standard output: %s\n", w->ctl->prog,
		    strerror(errno));
		swatch_stop(w, NYMCTL_EXIT_FAIL);
		return;
	}
	if (w->one && swatch_rank(st) == 2)
		swatch_stop(w, st->state == NYM_MESSAGE_FAILED ? NYMCTL_EXIT_FAIL :
		    NYMCTL_EXIT_OK);
}

/* A change pushed (err 0), or the end of the watch (err). */
static void
swatch_got(struct nym_async *a, int err, const struct nym_message_status *st,
    void *arg)
{
	struct swatch *w = arg;

	/* Canceled: the loop is over and the handle is being freed. */
	if (err == NYM_ERR_CANCELED)
		return;
	if (err != 0) {
		if (w->rc != NYMCTL_EXIT_OK)
			return;		/* said already */
		fprintf(stderr, "%s: status: %s%s\n", w->ctl->prog,
		    err == NYM_ERR_REMOTE ? "error from nymd: " : "",
		    nym_async_last_error(a));
		swatch_stop(w, NYMCTL_EXIT_FAIL);
		return;
	}
	swatch_print(w, st);
}

static void
swatch_signal(evutil_socket_t sig, short what, void *arg)
{
	swatch_stop(arg, NYMCTL_EXIT_OK);
}

static void
swatch_lost(struct nym_async *a, int err, void *arg)
{
	struct swatch *w = arg;

	if (w->rc != NYMCTL_EXIT_OK)
		return;
	fprintf(stderr, "%s: status: %s\n", w->ctl->prog, nym_async_last_error(a));
	swatch_stop(w, NYMCTL_EXIT_FAIL);
}

static int
status_watch(struct nymctl *ctl, const uint8_t *id)
{
	struct swatch w = { .ctl = ctl, .rc = NYMCTL_EXIT_OK, .one = id != NULL };
	struct event *sigint = NULL, *sigterm = NULL;
	struct nym_async *a = NULL;

	if (id != NULL)
		memcpy(w.id, id, NYM_MESSAGE_ID_BYTES);
	nymctl_connect(ctl);
	if ((w.base = event_base_new()) == NULL ||
	    nym_async_new(&a, w.base, ctl->c) != 0) {
		fprintf(stderr, "%s: status: cannot set up the event loop\n", ctl->prog);
		if (w.base != NULL)
			event_base_free(w.base);
		return NYMCTL_EXIT_FAIL;
	}
	ctl->c = NULL;	/* a owns the connection now */
	nym_async_set_error_cb(a, swatch_lost, &w);
	sigint = evsignal_new(w.base, SIGINT, swatch_signal, &w);
	sigterm = evsignal_new(w.base, SIGTERM, swatch_signal, &w);
	if (sigint == NULL || sigterm == NULL ||
	    evsignal_add(sigint, NULL) == -1 || evsignal_add(sigterm, NULL) == -1) {
		fprintf(stderr, "%s: status: cannot set up the event loop\n", ctl->prog);
		w.rc = NYMCTL_EXIT_FAIL;
	} else if (nym_async_watch(a, swatch_got, &w) != 0 ||
	    (id != NULL && nym_async_status(a, id, swatch_got, &w) != 0)) {
		/* Watch first: no change after the status is missed. */
		fprintf(stderr, "%s: status: %s\n", ctl->prog, nym_async_last_error(a));
		w.rc = NYMCTL_EXIT_FAIL;
	} else
		event_base_dispatch(w.base);
	nym_async_free(a);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	event_base_free(w.base);
	return w.rc;
}

int
cmd_status(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", no_argument, NULL, OPT_WATCH },
		{ NULL, 0, NULL, 0 },
	};
	struct nym_message_status st;
	char line[NYMCTL_STATUS_LINE_BYTES];
	uint8_t id[NYM_MESSAGE_ID_BYTES];
	int watch = 0, c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != OPT_WATCH)
			return nymctl_usage_error(ctl, "status", "unknown or incomplete "
			    "option '%s'", argv[optind - 1]);
		watch = 1;
	}
	if (argc - optind > 1 || (!watch && argc - optind != 1))
		return nymctl_usage_error(ctl, "status", "give one message ID (as send "
		    "printed it), or --watch");
	if (argc - optind == 1 && nymctl_parse_message_id(argv[optind], id) != 0)
		return nymctl_usage_error(ctl, "status", "'%s' is not a message id (%d hex "
		    "digits, as send prints it)", argv[optind], NYMCTL_ID_HEX_CHARS);
	if (watch)
		return status_watch(ctl, argc - optind == 1 ? id : NULL);
	nymctl_connect(ctl);
	if ((rc = nym_status(ctl->c, id, &st)) != 0)
		return nymctl_fail(ctl, "status", rc);
	nymctl_status_line(line, sizeof(line), &st);
	printf("%s\n", line);
	return NYMCTL_EXIT_OK;
}
