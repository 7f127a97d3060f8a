/*
 * nymd's metrics in the Prometheus text format (nymd(8), METRICS).
 * The store's counters count since rpcd opened it, netd's since netd
 * started: a restart of either resets its counters, which Prometheus
 * takes as a counter reset.
 */
#include <config.h>

#include "common/metrics.h"
#include "common/strbuf.h"
#include "rpcd/metrics.h"
#include "rpcd/queue.h"

static void
rpcd_metrics_store(struct strbuf *b, const struct rpcd_metrics_view *v)
{
	const struct queue_counts *c = v->store;

	metrics_counter(b, "nymd_messages_accepted_total",
	    "Messages applications sent that the store committed.", c->enqueued);
	metrics_counter(b, "nymd_messages_sent_total",
	    "Packets the provider confirmed, once each (a reply's deleted, "
	    "others then await their acknowledgement).", c->sent);
	metrics_gauge(b, "nymd_messages_queued",
	    "Packets in the queue: not yet confirmed by the provider, or not "
	    "yet acknowledged.", v->queued);
	metrics_gauge(b, "nymd_send_window",
	    "Queued messages whose packets are being built or sent.", v->in_flight);
	metrics_counter(b, "nymd_acks_received_total",
	    "Acknowledgements of a queued packet, committed (its row deleted).",
	    c->acks);
	metrics_counter(b, "nymd_acks_dropped_total",
	    "Acknowledgements of no queued packet (late copies, expired), dropped.",
	    c->acks_unknown);
	metrics_counter(b, "nymd_retransmissions_total",
	    "Packets sent again: unacknowledged by their deadline.",
	    c->retransmissions);
	metrics_counter(b, "nymd_messages_delivered_total",
	    "Messages whose every packet was acknowledged.", c->delivered);
	metrics_counter(b, "nymd_messages_failed_total",
	    "Messages that expired undelivered.", c->failed);
	metrics_counter(b, "nymd_messages_received_total",
	    "Messages delivered to this client, stored once each.", c->received);
	metrics_counter(b, "nymd_duplicates_dropped_total",
	    "Deliveries of a message already received, not shown again.",
	    c->duplicates);
	metrics_counter(b, "nymd_messages_fetched_total",
	    "Received messages handed to applications.", c->fetched);
}

static void
rpcd_metrics_netd(struct strbuf *b, const Nymipc__TrafficStats *n)
{
	metrics_counter(b, "nymd_real_packets_sent_total",
	    "Packets of real messages sent to the provider.", n->real_sent);
	metrics_counter(b, "nymd_real_packets_resent_total",
	    "Real packets sent again, unchanged, after the provider link was lost.",
	    n->real_resent);
	metrics_counter(b, "nymd_cover_packets_sent_total",
	    "Loop and drop cover packets sent.", n->cover_sent);
	strbuf_printf(b, "# HELP nymd_loop_rtt_seconds Round trip of the loop "
	    "covers that came back.\n# TYPE nymd_loop_rtt_seconds summary\n"
	    "nymd_loop_rtt_seconds_sum %llu.%03llu\n"
	    "nymd_loop_rtt_seconds_count %llu\n",
	    (unsigned long long)(n->loop_rtt_ms_sum / 1000),
	    (unsigned long long)(n->loop_rtt_ms_sum % 1000),
	    (unsigned long long)n->loops_returned);
	metrics_counter(b, "nymd_deliveries_pulled_total",
	    "Real messages pulled from the provider and handed on to be stored.",
	    n->received);
	metrics_counter(b, "nymd_deliveries_dropped_total",
	    "Pulled packets dropped (malformed, or not for this client's key).",
	    n->dropped);
	metrics_gauge(b, "nymd_provider_registered",
	    "1 while the link to the provider is up and registered.",
	    n->provider_registered ? 1 : 0);
	metrics_gauge(b, "nymd_topology_mixnodes",
	    "Mixnodes in the topology in use.", n->topology_mixnodes);
	metrics_gauge(b, "nymd_topology_providers",
	    "Providers in the topology in use.", n->topology_providers);
	metrics_gauge(b, "nymd_key_epoch",
	    "The current key epoch (0: the directory announces none).", n->key_epoch);
}

void
rpcd_metrics_text(struct strbuf *b, const struct rpcd_metrics_view *v)
{
	rpcd_metrics_store(b, v);
	metrics_gauge(b, "nymd_netd_reporting",
	    "1 once netd (since it last started) has reported its counters.",
	    v->netd != NULL ? 1 : 0);
	if (v->netd != NULL)
		rpcd_metrics_netd(b, v->netd);
}
