/*
 * nymd's metrics (nymd(8), METRICS): what rpcd's store committed and
 * what netd last reported, in the Prometheus text format, for the
 * endpoint at metrics_listen (common/metrics.c).
 */
#ifndef NYMD_RPCD_METRICS_H
#define NYMD_RPCD_METRICS_H

#include <stddef.h>

#include "ipc.pb-c.h"

struct queue_counts;
struct strbuf;

struct rpcd_metrics_view {
	const struct queue_counts	*store;
	size_t				 queued;	/* messages not yet confirmed */
	size_t				 in_flight;	/* of those, being sent */
	/* netd's last report; NULL before the first of this netd */
	const Nymipc__TrafficStats	*netd;
};

void	rpcd_metrics_text(struct strbuf *, const struct rpcd_metrics_view *);

#endif
