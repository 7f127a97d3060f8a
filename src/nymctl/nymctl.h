/*
 * nymctl: a command-line client of nymd's local socket, built on libnym.
 * nymctl.c parses the command line and connects; commands.c runs one
 * command and says how it went through the exit status.
 */
#ifndef NYMD_NYMCTL_H
#define NYMD_NYMCTL_H

#include "libnym/nym.h"

enum nymctl_exit {
	NYMCTL_EXIT_OK = 0,
	NYMCTL_EXIT_FAIL = 1,		/* the operation failed, or nymd refused it */
	NYMCTL_EXIT_USAGE = 2,
	NYMCTL_EXIT_CONNECT = 3,	/* no nymd to talk to */
};

struct nymctl {
	const char		*prog;
	const char		*id;		/* --id */
	const char		*home;		/* --home */
	const char		*socket_path;	/* --socket */
	const char		*tcp;		/* --tcp HOST:PORT */
	int			 start;		/* --start */
	unsigned int		 timeout_ms;	/* --timeout */
	struct nym_client	*c;		/* once connected */
};

/* Connects as the global options say; on failure, prints why and exits 3. */
void	nymctl_connect(struct nymctl *);
/* Prints a usage error for cmd and returns NYMCTL_EXIT_USAGE. */
int	nymctl_usage_error(struct nymctl *, const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Prints why a libnym call failed and returns the exit status for it. */
int	nymctl_fail(struct nymctl *, const char *cmd, int rc);
/* Parses a decimal number in [min, max]; 0 or -1. */
int	nymctl_number(const char *s, unsigned long min, unsigned long max,
	    unsigned long *out);

/*
 * Message ids (format.c): 32 hex digits on the command line and in the
 * output, as sender tags; status also reads the 24 characters of base64
 * the websocket's JSON writes. nymctl_parse_message_id(): 0 or -1.
 */
#define NYMCTL_ID_HEX_CHARS	(2 * NYM_MESSAGE_ID_BYTES)
void	nymctl_hex(char *out, const uint8_t *bytes, size_t n);
int	nymctl_parse_message_id(const char *s, uint8_t id[NYM_MESSAGE_ID_BYTES]);
/*
 * The line of a message's delivery status, without a newline, into buf
 * (as snprintf()): "ID queued", "ID sending 1/3 acknowledged", "ID
 * delivered 3/3", "ID failed: REASON", "ID sent" (a reply).
 */
#define NYMCTL_STATUS_LINE_BYTES	(NYMCTL_ID_HEX_CHARS + NYM_REASON_BYTES + 64)
int	nymctl_status_line(char *buf, size_t size, const struct nym_message_status *);

int	cmd_send(struct nymctl *, int argc, char **argv);
int	cmd_fetch(struct nymctl *, int argc, char **argv);
int	cmd_clients(struct nymctl *, int argc, char **argv);
int	cmd_details(struct nymctl *, int argc, char **argv);
int	cmd_watch(struct nymctl *, int argc, char **argv);
int	cmd_reply(struct nymctl *, int argc, char **argv);
int	cmd_status(struct nymctl *, int argc, char **argv);

#endif
