/*
 * A node's metrics endpoint (docs/mixnode.md, "Metrics"): GET /metrics
 * on the loopback address metrics_listen answers the Prometheus text
 * format (version 0.0.4) that the node writes when asked.
 */
#ifndef NYMD_NODE_METRICS_H
#define NYMD_NODE_METRICS_H

#include <stddef.h>

struct event_base;
struct strbuf;
struct node_metrics;

/* Writes the exposition; called for every scrape. */
typedef void (*node_metrics_fill)(void *arg, struct strbuf *out);

/* Listens on listen ("ip:port", loopback); 0, or -1 with err. */
int	node_metrics_start(struct node_metrics **, struct event_base *,
	    const char *listen, node_metrics_fill fill, void *arg, char *err,
	    size_t errlen);
void	node_metrics_free(struct node_metrics *);

/* Helpers for fill: one metric with its HELP and TYPE lines. */
void	metrics_counter(struct strbuf *, const char *name, const char *help,
	    unsigned long long value);
void	metrics_gauge(struct strbuf *, const char *name, const char *help,
	    unsigned long long value);

#endif
