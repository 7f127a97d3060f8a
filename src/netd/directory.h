/*
 * The directory client of netd: fetches the topology over HTTP(S) with
 * libcurl's multi interface on the libevent loop, refreshes it
 * periodically, backs off while the directory is unreachable and keeps
 * the last good topology meanwhile.
 */
#ifndef NYMD_NETD_DIRECTORY_H
#define NYMD_NETD_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct topology;
struct directory;

/* Called with each newly fetched, parsed topology and its raw JSON. */
typedef void (*directory_cb)(const struct topology *, const char *json,
    size_t len, void *arg);

/* Global libcurl set-up: before the sandbox, once per process. */
int	directory_global_init(void);
void	directory_global_cleanup(void);

struct directory *directory_new(struct event_base *, const char *url,
	    unsigned refresh_seconds, directory_cb cb, void *arg);
void	directory_free(struct directory *);
void	directory_set_url(struct directory *, const char *url, unsigned refresh_seconds);
/* The configured directory_proxy, or "" for none: the environment's proxy
 * variables are never used. 0 or -1. */
int	directory_set_proxy(struct directory *, const char *proxy);
/* Starts fetching now (and then periodically). */
void	directory_start(struct directory *);
/* An on-demand fetch is at most this often; one asked sooner is made
 * when the interval is over (once, however often it is asked). */
#define DIRECTORY_REFRESH_MIN_MS	1000
/* Fetches now, or as soon as DIRECTORY_REFRESH_MIN_MS allows; nothing
 * if a fetch is in flight (its result is as fresh). */
void	directory_refresh(struct directory *);
/* The last good topology and its JSON, or NULL. */
const struct topology *directory_topology(const struct directory *,
	    const char **json, size_t *len);
uint64_t directory_fetches(const struct directory *);
uint64_t directory_failures(const struct directory *);

#endif
