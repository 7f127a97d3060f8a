#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/topology.h"
#include "netd/directory.h"

#define DIRECTORY_CONNECT_TIMEOUT_S	5L
#define DIRECTORY_TIMEOUT_S		15L
#define DIRECTORY_BACKOFF_MIN_MS	500
#define DIRECTORY_BACKOFF_MAX_MS	30000

struct directory {
	struct event_base	*base;
	CURLM			*multi;
	CURL			*easy;		/* the fetch in flight, or NULL */
	struct event		*curl_timer;	/* libcurl's own timeouts */
	struct event		*next_fetch;
	char			*url;
	unsigned		 refresh_seconds;
	unsigned		 backoff_ms;
	char			*body;
	size_t			 body_len;
	int			 body_overflow;
	char			 curl_err[CURL_ERROR_SIZE];
	struct topology		*topology;	/* last good */
	char			*json;
	size_t			 json_len;
	int			 unreachable;	/* state for one log line per change */
	uint64_t		 fetches;
	uint64_t		 failures;
	directory_cb		 cb;
	void			*cb_arg;
};

/* One event per socket libcurl asks us to watch. */
struct directory_sock {
	struct directory	*dir;
	struct event		*ev;
};

static void directory_fetch(struct directory *);

int
directory_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
directory_global_cleanup(void)
{
	curl_global_cleanup();
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

static void
directory_succeeded(struct directory *d)
{
	struct topology *t;
	char err[256];

	if (topology_parse(d->body, d->body_len, &t, err, sizeof(err)) == -1) {
		directory_failed(d, err);
		return;
	}
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
	d->json = d->body;
	d->json_len = d->body_len;
	d->body = NULL;
	d->body_len = 0;
	directory_schedule(d, d->refresh_seconds * 1000u);
	if (d->cb != NULL)
		d->cb(d->topology, d->json, d->json_len, d->cb_arg);
}

static void
directory_check_done(struct directory *d)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE || m->easy_handle != d->easy)
			continue;
		CURLcode res = m->data.result;
		long status = 0;
		curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(d->multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
		char why[CURL_ERROR_SIZE + 64];
		if (d->body_overflow)
			snprintf(why, sizeof(why), "topology larger than %u bytes",
			    TOPOLOGY_MAX_JSON_BYTES);
		else if (res != CURLE_OK)
			snprintf(why, sizeof(why), "%s", d->curl_err[0] ?
			    d->curl_err : curl_easy_strerror(res));
		else if (status != 200)
			snprintf(why, sizeof(why), "HTTP status %ld", status);
		else {
			directory_succeeded(d);
			continue;
		}
		directory_failed(d, why);
	}
}

static void
directory_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct directory *d = arg;
	int running;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	    (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(d->multi, fd, flags, &running);
	directory_check_done(d);
}

static void
directory_on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct directory *d = arg;
	int running;

	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	directory_check_done(d);
}

static int
directory_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct directory *d = userp;
	struct directory_sock *ds = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (ds != NULL) {
			event_free(ds->ev);
			free(ds);
			curl_multi_assign(d->multi, s, NULL);
		}
		return 0;
	}
	if (ds == NULL) {
		ds = calloc(1, sizeof(*ds));
		if (ds == NULL)
			return -1;
		ds->dir = d;
		curl_multi_assign(d->multi, s, ds);
	} else {
		event_free(ds->ev);
	}
	short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	    (what & CURL_POLL_OUT ? EV_WRITE : 0);
	ds->ev = event_new(d->base, s, ev, directory_on_socket, d);
	if (ds->ev == NULL)
		return -1;
	return event_add(ds->ev, NULL);
}

static int
directory_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct directory *d = userp;

	if (timeout_ms < 0) {
		evtimer_del(d->curl_timer);
		return 0;
	}
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	return evtimer_add(d->curl_timer, &tv);
}

static size_t
directory_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct directory *d = userp;
	size_t n = size * nmemb;

	if (d->body_len + n > TOPOLOGY_MAX_JSON_BYTES) {
		d->body_overflow = 1;
		return 0;	/* aborts the transfer */
	}
	char *p = realloc(d->body, d->body_len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + d->body_len, data, n);
	d->body = p;
	d->body_len += n;
	d->body[d->body_len] = '\0';
	return n;
}

static void
directory_on_next_fetch(evutil_socket_t fd, short what, void *arg)
{
	directory_fetch(arg);
}

static void
directory_fetch(struct directory *d)
{
	if (d->easy != NULL)
		return;
	free(d->body);
	d->body = NULL;
	d->body_len = 0;
	d->body_overflow = 0;
	d->curl_err[0] = '\0';
	d->fetches++;
	d->easy = curl_easy_init();
	if (d->easy == NULL) {
		directory_failed(d, "cannot create a transfer");
		return;
	}
	curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->easy, CURLOPT_CONNECTTIMEOUT, DIRECTORY_CONNECT_TIMEOUT_S);
	curl_easy_setopt(d->easy, CURLOPT_TIMEOUT, DIRECTORY_TIMEOUT_S);
	curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, directory_write_cb);
	curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(d->easy, CURLOPT_ERRORBUFFER, d->curl_err);
	curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "nymd/" PACKAGE_VERSION);
	if (curl_multi_add_handle(d->multi, d->easy) != CURLM_OK) {
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
		directory_failed(d, "cannot start a transfer");
	}
}

struct directory *
directory_new(struct event_base *base, const char *url, unsigned refresh_seconds,
    directory_cb cb, void *arg)
{
	struct directory *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->base = base;
	d->cb = cb;
	d->cb_arg = arg;
	d->backoff_ms = DIRECTORY_BACKOFF_MIN_MS;
	d->multi = curl_multi_init();
	d->curl_timer = evtimer_new(base, directory_on_curl_timer, d);
	d->next_fetch = evtimer_new(base, directory_on_next_fetch, d);
	if (d->multi == NULL || d->curl_timer == NULL || d->next_fetch == NULL) {
		directory_free(d);
		return NULL;
	}
	directory_set_url(d, url, refresh_seconds);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, directory_socket_cb);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, directory_timer_cb);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	return d;
}

void
directory_set_url(struct directory *d, const char *url, unsigned refresh_seconds)
{
	free(d->url);
	d->url = strdup(url);
	d->refresh_seconds = refresh_seconds ? refresh_seconds : 30;
}

void
directory_start(struct directory *d)
{
	directory_fetch(d);
}

void
directory_free(struct directory *d)
{
	if (d == NULL)
		return;
	if (d->easy != NULL) {
		curl_multi_remove_handle(d->multi, d->easy);
		curl_easy_cleanup(d->easy);
	}
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	if (d->curl_timer != NULL)
		event_free(d->curl_timer);
	if (d->next_fetch != NULL)
		event_free(d->next_fetch);
	topology_free(d->topology);
	free(d->json);
	free(d->body);
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
