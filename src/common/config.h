/*
 * nymd's client configuration: ROOT/clients/ID/config/config.toml, with the
 * seed's [client], [logging] and [debug] tables and nymd's own [nymd]
 * table, documented key by key in nymd.conf(5).
 *
 * Loading is strict: an unknown table or key, a wrong type, a value out of
 * range or a missing required key is an error naming the file, the line
 * and the key, so that nymd never runs on a configuration it did not fully
 * understand.
 */
#ifndef NYMD_COMMON_CONFIG_H
#define NYMD_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_TOPOLOGY_URL \
	"https://directory.nymtech.net/api/presence/topology"
#define CONFIG_LOCAL_TOPOLOGY_URL \
	"http://localhost:8080/api/presence/topology"

#define CONFIG_DEFAULT_PRIV_KEY_FILE	"config/private_key.pem"
#define CONFIG_DEFAULT_PUB_KEY_FILE	"config/public_key.pem"
#define CONFIG_DEFAULT_MIXAPPS_DIR	"mixapps"
#define CONFIG_DEFAULT_RATE_PER_SECOND	10.0
#define CONFIG_MAX_RATE_PER_SECOND	100000.0
#define CONFIG_DEFAULT_USER		"nymd"
#define CONFIG_DEFAULT_SOCKET_PATH	"nymd.sock"
#define CONFIG_DEFAULT_SOCKET_MODE	0600
#define CONFIG_DEFAULT_LISTEN_ADDRESS	"127.0.0.1"
/* Pages from these origins (any port) may use the websocket. */
#define CONFIG_DEFAULT_WEBSOCKET_ORIGINS \
	"http://localhost http://127.0.0.1 http://[::1]"
#define CONFIG_DEFAULT_DELAY_MS		50.0
#define CONFIG_MAX_DELAY_MS		3600000.0
#define CONFIG_DEFAULT_TOPOLOGY_REFRESH_SECONDS	30
#define CONFIG_DEFAULT_MAX_RESTARTS	5
#define CONFIG_DEFAULT_RESTART_WINDOW_SECONDS	60
/* How long received message ids are remembered (docs/ipc.md, "Duplicates"). */
#define CONFIG_DEFAULT_DUPLICATE_WINDOW_SECONDS	(7 * 24 * 3600)
#define CONFIG_MAX_DUPLICATE_WINDOW_SECONDS	(366 * 24 * 3600)
#define CONFIG_MAX_REPLY_SURB_LIFETIME_SECONDS	(7 * 24 * 3600)
/*
 * The largest message a send takes (docs/socket-api.md): at least what
 * one packet carries (MESSAGE_MAX_BYTES), at most what
 * PAYLOAD_MAX_FRAGMENTS fragments carry (PAYLOAD_MAX_FRAGMENTED_BYTES);
 * common/payload.c checks both against these numbers.
 */
#define CONFIG_DEFAULT_MAX_MESSAGE_BYTES	(1024 * 1024)
#define CONFIG_MIN_MAX_MESSAGE_BYTES		2031
#define CONFIG_MAX_MAX_MESSAGE_BYTES		13197312
/* How long a message sent is tried before it fails (docs/acks.md). */
#define CONFIG_DEFAULT_MESSAGE_EXPIRY_SECONDS	(24 * 3600)
#define CONFIG_MIN_MESSAGE_EXPIRY_SECONDS	10
#define CONFIG_MAX_MESSAGE_EXPIRY_SECONDS	(30 * 24 * 3600)
/* A configuration larger than this is not one nymd wrote or documents. */
#define CONFIG_MAX_FILE_BYTES		(1024 * 1024)

/* Sizes include the terminating NUL. */
#define CONFIG_ID_BYTES			65
#define CONFIG_URL_BYTES		1024
#define CONFIG_PATH_BYTES		1024
#define CONFIG_PROVIDER_ID_BYTES	45	/* 44 characters of base64 */
#define CONFIG_USER_BYTES		33
#define CONFIG_ADDRESS_BYTES		64
#define CONFIG_ORIGINS_BYTES		1024
/* sizeof(((struct sockaddr_un *)0)->sun_path) on Linux */
#define CONFIG_UNIX_PATH_BYTES		108

enum config_status {
	CONFIG_OK = 0,
	CONFIG_ERR_IO = -1,		/* errno says why */
	CONFIG_ERR_PARSE = -2,		/* not valid TOML (of nymd's subset) */
	CONFIG_ERR_INVALID = -3,	/* valid TOML, not a valid config */
	CONFIG_ERR_NOMEM = -4,
};

/* The seed's (logrus) levels, least to most severe. */
enum config_log_level {
	CONFIG_LOG_TRACE = 0,
	CONFIG_LOG_DEBUG,
	CONFIG_LOG_INFO,
	CONFIG_LOG_WARNING,
	CONFIG_LOG_ERROR,
	CONFIG_LOG_PANIC,
	CONFIG_LOG_FATAL,
};

/*
 * Fixed-size strings so that a configuration can be copied by assignment
 * and never needs freeing.  Paths may be relative to the client's home;
 * config_resolve_path() makes them absolute.
 */
struct nymd_config {
	/* [client] */
	char	id[CONFIG_ID_BYTES];
	char	directory_server_topology[CONFIG_URL_BYTES];
	char	priv_key_file[CONFIG_PATH_BYTES];
	char	pub_key_file[CONFIG_PATH_BYTES];
	char	provider_id[CONFIG_PROVIDER_ID_BYTES];	/* "" = choose */
	char	mixapps_directory[CONFIG_PATH_BYTES];
	/* As in the seed: the clients directory, ROOT/clients (absolute);
	 * the client's home is loopix_home_directory/id. */
	char	loopix_home_directory[CONFIG_PATH_BYTES];

	/* [logging] */
	bool	log_disable;
	char	log_file[CONFIG_PATH_BYTES];		/* "" = stdout */
	enum config_log_level log_level;

	/* [debug]: events per second; negative disables the stream. */
	double	loop_cover_traffic_rate;
	double	fetch_message_rate;
	double	message_sending_rate;
	bool	rate_compliant_cover_messages_disabled;

	/* [nymd] */
	char	user[CONFIG_USER_BYTES];
	char	socket_path[CONFIG_PATH_BYTES];
	unsigned int socket_mode;
	char	listen_address[CONFIG_ADDRESS_BYTES];
	/* The proxy the directory is fetched through; "": none, whatever
	 * http_proxy and its kin in the environment say. */
	char	directory_proxy[CONFIG_PATH_BYTES];
	/* Origins separated by spaces or commas: "scheme://host" (any
	 * port) or "scheme://host:port"; "" refuses every browser page. */
	char	websocket_allowed_origins[CONFIG_ORIGINS_BYTES];
	/* Serve tcp, websocket and unix socket peers of any uid (unsafe). */
	bool	allow_other_users;
	double	average_delay_ms;
	unsigned int topology_refresh_seconds;
	unsigned int max_restarts;
	unsigned int restart_window_seconds;
	unsigned int duplicate_window_seconds;
	/* "" or a loopback "ip:port" where rpcd serves /metrics */
	char	metrics_listen[CONFIG_ADDRESS_BYTES];
	unsigned int reply_surb_lifetime_seconds;	/* 0: by key epochs */
	unsigned int max_message_bytes;	/* a send's message at most */
	unsigned int message_expiry_seconds;	/* unacknowledged: failed then */
};

/*
 * The configuration `nymd init --id ID` writes.  root is nymd's absolute
 * root directory (--home, NYMD_HOME, $HOME/.loopix or /var/lib/nymd); the
 * client lives in ROOT/clients/ID.  provider_id is left empty.
 * Returns CONFIG_ERR_INVALID if id is not a valid id or root is not an
 * absolute path that fits.
 */
int	config_defaults(struct nymd_config *cfg, const char *id,
	    const char *root);

/*
 * Reads and checks the file at path.  root (as for config_defaults) gives
 * loopix_home_directory when the file does not.  On success fills *cfg;
 * on failure leaves *cfg untouched and writes a message such as
 * "PATH:LINE: key 'level': expected one of ..." to err.
 */
int	config_load(const char *path, const char *root,
	    struct nymd_config *cfg, char *err, size_t errlen);
/* The same for a buffer; name stands for the file in messages. */
int	config_load_buffer(const char *buf, size_t len, const char *name,
	    const char *root, struct nymd_config *cfg, char *err,
	    size_t errlen);

/*
 * The commented file `nymd init` writes, key by key, as a malloc'ed
 * NUL-terminated string in *outp (length in *lenp).
 */
int	config_format(const struct nymd_config *cfg, char **outp,
	    size_t *lenp);
/*
 * Checks that cfg, written out, is a file config_load() accepts (every
 * value valid and in range).  Messages read "<config>:LINE: key ...".
 */
int	config_check(const struct nymd_config *cfg, char *err, size_t errlen);
/*
 * Writes config_format's text to path atomically (temporary file, fsync,
 * rename), mode 0644.  Refuses a cfg that config_check() rejects, with
 * its status (CONFIG_ERR_INVALID, or CONFIG_ERR_PARSE for a string that
 * is not UTF-8) and errno EINVAL; CONFIG_ERR_IO leaves errno set.
 */
int	config_write(const char *path, const struct nymd_config *cfg);

/*
 * Rewrites only the value of [client] provider_id in the file at path
 * (adding the key if absent), keeping every other byte, atomically and
 * with the file's mode.  provider_id is "" or a 44-character id.
 */
int	config_set_provider(const char *path, const char *provider_id);

/*
 * Path helpers; each returns 0, or -1 if the result does not fit in
 * outlen (or, for config_file_path, id is not a valid id).
 */
/* ROOT/clients/ID/config/config.toml */
int	config_file_path(const char *root, const char *id, char *out,
	    size_t outlen);
/* loopix_home_directory/id */
int	config_client_home(const struct nymd_config *cfg, char *out,
	    size_t outlen);
/* path if absolute, else the client's home joined with path. */
int	config_resolve_path(const struct nymd_config *cfg, const char *path,
	    char *out, size_t outlen);

/* 1 to 64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool	config_id_valid(const char *id);
/* 44 characters of URL-safe base64 ending in '=' (a 32-byte key). */
bool	config_provider_id_valid(const char *provider_id);
/* A websocket_allowed_origins value: NULL if valid, else what is wrong. */
const char *config_origins_check(const char *list);

const char *config_log_level_name(enum config_log_level level);
/* Accepts the seed's names in any case, and "warn". */
int	config_log_level_parse(const char *name, enum config_log_level *out);

#endif /* NYMD_COMMON_CONFIG_H */
