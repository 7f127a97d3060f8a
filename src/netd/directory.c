#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/http.h"
#include "common/log.h"
#include "common/topology.h"
#include "common/xalloc.h"
#include "netd/directory.h"

#define DIRECTORY_BACKOFF_MIN_MS	500
#define DIRECTORY_BACKOFF_MAX_MS	30000
/* How long nodes may be missing before a smaller topology is believed. */
#define DIRECTORY_SHRINK_GRACE_S	15

struct directory {
	struct event_base	*base;
	struct http		*http;
	struct event		*next_fetch;
	char			*url;
	unsigned		 refresh_seconds;
	unsigned		 backoff_ms;
	int			 in_flight;
	uint64_t		 last_start_ms;	/* clock_monotonic_ms() */
	struct topology		*topology;	/* last good */
	char			*json;
	size_t			 json_len;
	int			 unreachable;	/* state for one log line per change */
	struct timeval		 shrink_since;	/* first smaller topology, or zero */
	uint64_t		 fetches;
	uint64_t		 failures;
	directory_cb		 cb;
	void			*cb_arg;
};

static void directory_fetch(struct directory *);

int
directory_global_init(void)
{
	return http_global_init();
}

void
directory_global_cleanup(void)
{
	http_global_cleanup();
}

static void
directory_schedule(struct directory *d, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(d->next_fetch, &tv);
}

static void
directory_failed(struct directory *d, const char *why)
{
	d->failures++;
	if (!d->unreachable || d->backoff_ms >= DIRECTORY_BACKOFF_MAX_MS)
		log_warnx("directory %s unreachable: %s; retrying in %u ms%s", d->url,
		    why, d->backoff_ms, d->topology ? "; keeping the last good topology" : "");
	d->unreachable = 1;
	directory_schedule(d, d->backoff_ms);
	d->backoff_ms *= 2;
	if (d->backoff_ms > DIRECTORY_BACKOFF_MAX_MS)
		d->backoff_ms = DIRECTORY_BACKOFF_MAX_MS;
}

/*
 * Nodes announce each new epoch key at the epoch's start, and packets are
 * built for it from the middle of that epoch on (docs/epochs.md): so the
 * topology is fetched at least four times an epoch, whatever the
 * configured refresh.
 */
static unsigned
directory_refresh_ms(const struct directory *d)
{
	unsigned ms = d->refresh_seconds * 1000u;

	if (d->topology != NULL && d->topology->epoch_seconds != 0 &&
	    d->topology->epoch_seconds * 250u < ms)
		ms = d->topology->epoch_seconds * 250u;
	return ms;
}

static void
directory_succeeded(struct directory *d, const char *body, size_t len)
{
	struct topology *t;
	char err[256];
	char *json;

	if (topology_parse(body, len, &t, err, sizeof(err)) == -1) {
		directory_failed(d, err);
		return;
	}
	if (d->topology != NULL && !topology_covers(t, d->topology)) {
		struct timeval now;
		evutil_gettimeofday(&now, NULL);
		if (!evutil_timerisset(&d->shrink_since)) {
			d->shrink_since = now;
			log_info("the directory lists fewer nodes than before; keeping the "
			    "last topology for up to %d s", DIRECTORY_SHRINK_GRACE_S);
		}
		if (now.tv_sec - d->shrink_since.tv_sec < DIRECTORY_SHRINK_GRACE_S) {
			topology_free(t);
			directory_schedule(d, DIRECTORY_BACKOFF_MIN_MS * 2);
			return;
		}
	}
	evutil_timerclear(&d->shrink_since);
	json = xmalloc(len + 1);
	memcpy(json, body, len);
	json[len] = '\0';
	if (d->unreachable || d->topology == NULL ||
	    d->topology->n_mixnodes != t->n_mixnodes ||
	    d->topology->n_providers != t->n_providers)
		log_info("topology loaded from %s: %zu mixnodes, %zu providers%s",
		    d->url, t->n_mixnodes, t->n_providers,
		    t->n_skipped ? " (malformed entries skipped)" : "");
	d->unreachable = 0;
	d->backoff_ms = DIRECTORY_BACKOFF_MIN_MS;
	topology_free(d->topology);
	free(d->json);
	d->topology = t;
	d->json = json;
	d->json_len = len;
	directory_schedule(d, directory_refresh_ms(d));
	if (d->cb != NULL)
		d->cb(d->topology, d->json, d->json_len, d->cb_arg);
}

static void
directory_done(void *arg, long status, const char *body, size_t len, const char *error)
{
	struct directory *d = arg;
	char why[64];

	d->in_flight = 0;
	if (error != NULL) {
		directory_failed(d, error);
	} else if (status != 200) {
		snprintf(why, sizeof(why), "HTTP status %ld", status);
		directory_failed(d, why);
	} else {
		directory_succeeded(d, body, len);
	}
}

static void
directory_on_next_fetch(evutil_socket_t fd, short what, void *arg)
{
	directory_fetch(arg);
}

/*
 * The directory's name (or the proxy's) is resolved by netd's own
 * resolver (http_own_resolver()); libcurl never looks a name up itself.
 */
static void
directory_fetch(struct directory *d)
{
	if (d->in_flight)
		return;
	d->fetches++;
	d->last_start_ms = clock_monotonic_ms();
	d->in_flight = 1;
	if (http_get(d->http, d->url, directory_done, d) == -1) {
		d->in_flight = 0;
		directory_failed(d, "cannot start a transfer (is the URL's host valid?)");
	}
}

struct directory *
directory_new(struct event_base *base, const char *url, unsigned refresh_seconds,
    directory_cb cb, void *arg)
{
	struct directory *d = xcalloc(1, sizeof(*d));

	d->cb = cb;
	d->cb_arg = arg;
	d->base = base;
	d->backoff_ms = DIRECTORY_BACKOFF_MIN_MS;
	d->http = http_new(base);
	if (d->http != NULL)
		http_own_resolver(d->http);
	d->next_fetch = xevtimer_new(base, directory_on_next_fetch, d);
	if (d->http == NULL) {
		directory_free(d);
		return NULL;
	}
	directory_set_url(d, url, refresh_seconds);
	return d;
}

void
directory_set_url(struct directory *d, const char *url, unsigned refresh_seconds)
{
	char *copy = xstrdup(url);

	free(d->url);
	d->url = copy;
	d->refresh_seconds = refresh_seconds ? refresh_seconds : 30;
}

int
directory_set_proxy(struct directory *d, const char *proxy)
{
	if (http_set_proxy(d->http, proxy) == -1)
		return -1;
	if (proxy != NULL && proxy[0] != '\0')
		log_info("the directory is fetched through the proxy %s (directory_proxy)",
		    proxy);
	else
		log_debug("the directory is fetched without a proxy");
	return 0;
}

void
directory_start(struct directory *d)
{
	directory_fetch(d);
}

void
directory_refresh(struct directory *d)
{
	uint64_t since = clock_monotonic_ms() - d->last_start_ms;

	if (d->in_flight)
		return;
	if (d->last_start_ms == 0 || since >= DIRECTORY_REFRESH_MIN_MS) {
		log_info("fetching the topology now: an application named a "
		    "recipient it does not list");
		evtimer_del(d->next_fetch);
		directory_fetch(d);
		return;
	}
	/* Rate-limited: the next fetch comes in wait ms (a periodic one due
	 * sooner is delayed by less than DIRECTORY_REFRESH_MIN_MS). */
	unsigned wait = (unsigned)(DIRECTORY_REFRESH_MIN_MS - since);
	log_debug("topology fetch asked for again within %d ms; in %u ms",
	    DIRECTORY_REFRESH_MIN_MS, wait);
	directory_schedule(d, wait);
}

void
directory_free(struct directory *d)
{
	if (d == NULL)
		return;
	http_free(d->http);
	if (d->next_fetch != NULL)
		event_free(d->next_fetch);
	topology_free(d->topology);
	free(d->json);
	free(d->url);
	free(d);
}

const struct topology *
directory_topology(const struct directory *d, const char **json, size_t *len)
{
	if (json != NULL)
		*json = d->json;
	if (len != NULL)
		*len = d->json_len;
	return d->topology;
}

uint64_t
directory_fetches(const struct directory *d)
{
	return d->fetches;
}

uint64_t
directory_failures(const struct directory *d)
{
	return d->failures;
}
