/*
 * The configuration of a mixnode or provider: ROOT/mixnodes/ID/config.toml
 * or ROOT/providers/ID/config.toml, strict TOML (src/common/toml.h): an
 * unknown table or key, or a value of the wrong type or range, is an error.
 * man/nym-mixnode.8 and man/nym-provider.8 list the keys.
 */
#ifndef NYMD_NODE_CONFIG_H
#define NYMD_NODE_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define NODE_ID_MAX_CHARS		64
#define NODE_HOST_BYTES			256
#define NODE_URL_BYTES			1024
#define NODE_ERR_BYTES			512

#define NODE_DEFAULT_PRESENCE_S		5
#define NODE_DEFAULT_METRICS_S		10
#define NODE_DEFAULT_TOPOLOGY_S		10
#define NODE_DEFAULT_MAX_DELAY_MS	60000
#define NODE_DEFAULT_DELAY_QUEUE	100000	/* packets: about 250 MiB */
#define NODE_DEFAULT_LINK_QUEUE		1024	/* packets per next hop */
#define NODE_DEFAULT_REPLAY_CAPACITY	2000000	/* tags: 6.9 MiB at 1e-6 */
#define NODE_DEFAULT_REPLAY_SNAPSHOT_S	60
#define NODE_DEFAULT_MAILBOX_PACKETS	10000
#define NODE_DEFAULT_MAX_CLIENTS	1024	/* what one presence POST can list */

enum node_role {
	NODE_ROLE_MIXNODE = 0,
	NODE_ROLE_PROVIDER,
};

struct node_config {
	enum node_role	 role;
	char		 id[NODE_ID_MAX_CHARS + 1];
	char		 host[NODE_HOST_BYTES];	/* IP literal to listen on */
	unsigned	 port;
	unsigned	 layer;			/* mixnode: 1..3 */
	char		 directory[NODE_URL_BYTES];	/* base URL */
	char		 priv_key_file[PATH_MAX];
	char		 pub_key_file[PATH_MAX];
	unsigned	 presence_interval_s;
	unsigned	 metrics_interval_s;
	unsigned	 topology_interval_s;
	unsigned	 max_delay_ms;
	uint64_t	 delay_queue_packets;
	uint64_t	 link_queue_packets;
	/* Sphinx worker threads; 0 = one per online core (src/node/work.h). */
	unsigned	 workers;
	uint64_t	 replay_capacity;
	unsigned	 replay_snapshot_interval_s;
	/* Prometheus text on http://ADDR:PORT/metrics; "" = off. */
	char		 metrics_listen[NODE_HOST_BYTES + 16];
	/* provider */
	uint64_t	 mailbox_packets;
	uint64_t	 max_clients;
	/* [logging] */
	char		 log_file[PATH_MAX];	/* "" = standard output */
	enum log_level	 log_level;
	/* Not in the file: where it lives. */
	char		 home[PATH_MAX];	/* ROOT/mixnodes/ID */
	char		 data_dir[PATH_MAX];	/* home/data */
};

/* 1 if v is a loopback "ip:port" (metrics_listen). */
/* "mixnodes" or "providers"; "nym-mixnode" or "nym-provider". */
const char	*node_role_dir(enum node_role);
const char	*node_role_program(enum node_role);

/* 1 to 64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int		 node_id_valid(const char *id);
/*
 * The directory's base URL from what a user gives: "http://H:P" as it is,
 * or a topology URL "http://H:P/api/presence/topology" cut back to its
 * base.  0, or -1 if it is not an http(s) URL that fits.
 */
int		 node_directory_base(const char *url, char *out, size_t outlen);

/* The defaults for a node id under root; paths absolute. 0 or -1. */
int		 node_config_defaults(struct node_config *, enum node_role,
		    const char *root, const char *id);
/* ROOT/ROLE_DIR/ID/config.toml; 0 or -1. */
int		 node_config_path(enum node_role, const char *root, const char *id,
		    char *out, size_t outlen);
/* Loads and checks a file; on error err holds "FILE:LINE: ...". */
int		 node_config_load(struct node_config *, enum node_role,
		    const char *root, const char *id, char *err, size_t errlen);
int		 node_config_parse(struct node_config *, const char *buf, size_t len,
		    const char *name, char *err, size_t errlen);
/* Writes the file atomically (mode 0644); 0 or -1 with errno. */
int		 node_config_write(const char *path, const struct node_config *);

#endif /* NYMD_NODE_CONFIG_H */
