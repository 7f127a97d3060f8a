#ifndef NYMD_RPCD_H
#define NYMD_RPCD_H

#include <stddef.h>
#include <stdint.h>

#include "common/proc.h"
#include "common/sandbox.h"

struct topology;
struct queue;
struct queue_outgoing;
struct watch_list;

extern const struct proc_role rpcd_role;

/* What request handling needs to know of the daemon's state. */
struct rpcd_state {
	int			 have_pubkey;
	uint8_t			 pubkey[32];
	struct topology		*topology;	/* latest from netd, or NULL */
	const char		*provider_id;	/* from the configuration */
	struct queue		*queue;		/* durable messages */
	/* The connections watching delivery status (rpcd/watch.h); the
	 * store's status hook feeds it. */
	struct watch_list	*watchers;
	/* A message was queued: hand it to netd. */
	void			(*queued)(const struct queue_outgoing *);
	/* Ask netd for a fresh topology (it rate-limits); 0, or -1 if
	 * netd cannot be asked now. */
	int			(*refresh_topology)(void);
	/* max_message_bytes (nymd.conf(5)), and the largest request and
	 * websocket message that follow from it (api_max_request_bytes()). */
	size_t			 max_message_bytes;
	size_t			 max_request_bytes;
	size_t			 max_websocket_bytes;
};

/* Its sandbox (rpcd/sandbox.c): accept and serve connections, no
 * socket(), no connect(), no exec; files only in its working directory,
 * the data directory (the message store), read-write. */
extern const struct sandbox_policy rpcd_policy;

#endif
