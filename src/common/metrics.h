/*
 * The metrics endpoint of a node (docs/mixnode.md, "Metrics") and of
 * nymd's rpcd (nymd(8), METRICS): GET /metrics on the loopback address
 * metrics_listen answers the Prometheus text format (version 0.0.4) that
 * its owner writes when asked.
 */
#ifndef NYMD_COMMON_METRICS_H
#define NYMD_COMMON_METRICS_H

#include <stddef.h>

struct event_base;
struct strbuf;
struct metrics_endpoint;

/* Writes the exposition; called for every scrape. */
typedef void (*metrics_fill)(void *arg, struct strbuf *out);

/* Listens on listen ("ip:port", loopback); 0, or -1 with err. */
int	metrics_endpoint_start(struct metrics_endpoint **, struct event_base *,
	    const char *listen, metrics_fill fill, void *arg, char *err,
	    size_t errlen);
void	metrics_endpoint_free(struct metrics_endpoint *);

/* 1 if v is "IPv4:port" in 127.0.0.0/8 or "[::1]:port": metrics are for
 * this host only. */
int	metrics_listen_valid(const char *v);

/* Helpers for fill: one metric with its HELP and TYPE lines. */
void	metrics_counter(struct strbuf *, const char *name, const char *help,
	    unsigned long long value);
void	metrics_gauge(struct strbuf *, const char *name, const char *help,
	    unsigned long long value);

#endif
