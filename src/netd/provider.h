/*
 * netd's link to the client's provider: TCP connect, the Noise handshake
 * (whose DH with our long-term key is asked of keyd), registration, and
 * reconnection with back-off. Everything else rides on the link it gives.
 */
#ifndef NYMD_NETD_PROVIDER_H
#define NYMD_NETD_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "link.pb-c.h"

struct provider_link;

/* What the link asks of keyd, which holds our key (arg: the hooks' arg). */
struct provider_keyd {
	/* DH(our key, peer); answer with provider_dh_result(). */
	int	(*dh_request)(void *arg, const uint8_t peer[32]);
	/* A registration statement for provider; answer with
	 * provider_statement_result(). */
	int	(*sign_request)(void *arg, const uint8_t provider[32]);
};

/* What the link's user (traffic.c) hears: set by provider_set_events(). */
struct provider_events {
	void	(*registered)(void *arg);
	void	(*down)(void *arg);
	void	(*delivery)(void *arg, uint64_t id, const uint8_t *packet, size_t len);
	void	(*control)(void *arg, const Link__Control *msg);
};

struct provider_link *provider_new(struct event_base *, const uint8_t own_pub[32],
	    size_t packet_bytes, const struct provider_keyd *, void *keyd_arg);
/* ev NULL: nobody listens any more. */
void	provider_set_events(struct provider_link *, const struct provider_events *ev,
	    void *arg);
void	provider_free(struct provider_link *);
/* (Re)targets the link: closes any current one and connects anew. */
void	provider_connect(struct provider_link *, const uint8_t pub[32],
	    const char *host, const char *port);
/* keyd's answer to dh_request; NULL when it failed. */
void	provider_dh_result(struct provider_link *, const uint8_t *shared);
/*
 * keyd's signed statement for registering with provider (docs/link.md):
 * sent in the link's Register if the link is still to that provider and
 * waiting for it; sig NULL when keyd could not sign.
 */
void	provider_statement_result(struct provider_link *, const uint8_t provider[32],
	    uint64_t registered_ms, const uint8_t *sig);
int	provider_registered(const struct provider_link *);
const uint8_t *provider_token(const struct provider_link *, size_t *len);
/* The link while registered, else NULL. */
struct link *provider_get_link(struct provider_link *);

#endif
