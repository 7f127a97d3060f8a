/*
 * nymd's command line, compatible with the seed's loopix-client: init,
 * run, socket and help. The same executable, re-executed under the title
 * "nymd: ROLE [ID]", is each of the daemon's child processes.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/number.h"
#include "common/proc.h"
#include "keyd/keyd.h"
#include "master/master.h"
#include "netd/netd.h"
#include "rpcd/rpcd.h"

static const char banner[] =
    "\n"
    "  _                      _\n"
    " | |    ___   ___  _ __ (_)_  __\n"
    " | |   / _ \\ / _ \\| '_ \\| \\ \\/ /\n"
    " | |___ (_) | (_) | |_) | |>  <\n"
    " |_____\\___/ \\___/| .__/|_/_/\\_\\\n"
    "\t\t  |_|            (client)\n"
    "\n\n";

static void
usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s COMMAND [OPTIONS]\n\n%s\n", prog, banner);
	fprintf(f,
	    "Commands:\n\n"
	    "    init        Initialise a Loopix client\n"
	    "    run         Run a persistent Loopix client process\n"
	    "    socket      Run a background Loopix client listening on a specified socket\n"
	    "    check-config  Check a client's configuration as run would load it\n"
	    "    reload      Check the configuration, then make a running nymd reload it\n"
	    "\n"
	    "Options:\n\n"
	    "    -h, --help  this help; a command's with \"%s help <command>\"\n"
	    "                or \"%s <command> --help\"\n"
	    "    --version   the version\n"
	    "\n"
	    "Run \"%s help <command>\" for more info on a specific command.\n",
	    prog, prog, prog);
}

static void
usage_command(FILE *f, const char *prog, const char *cmd)
{
	if (strcmp(cmd, "init") == 0)
		fprintf(f,
		    "Usage: %s init [OPTIONS]\n\n"
		    "Initialise a Loopix client: a key pair and config.toml under\n"
		    "ROOT/clients/ID/config/.\n\n"
		    "Options:\n"
		    "    --id ID            id of the client (random when omitted)\n"
		    "    --home DIR         root directory (default $NYMD_HOME or ~/.loopix)\n"
		    "    --provider ID      provider to register with (default: chosen at random)\n"
		    "    --directory URL    directory topology URL\n"
		    "    --local            use the local directory at http://localhost:8080\n"
		    "    --force            overwrite an existing client\n", prog);
	else if (strcmp(cmd, "run") == 0)
		fprintf(f,
		    "Usage: %s run [--id ID | --customCfg FILE] [--home DIR]\n\n"
		    "Run a persistent Loopix client process; applications reach it on\n"
		    "the unix socket ROOT/clients/ID/nymd.sock.\n\n"
		    "Options:\n"
		    "    --id ID            id of the client (default " NYMD_DEFAULT_ID ")\n"
		    "    --customCfg FILE   the configuration file to use instead of the id's\n"
		    "    --home DIR         root directory (default $NYMD_HOME or ~/.loopix)\n", prog);
	else if (strcmp(cmd, "socket") == 0)
		fprintf(f,
		    "Usage: %s socket [--id ID | --customCfg FILE] --socket tcp|websocket|unix (--port N | --path P) [--home DIR]\n\n"
		    "Run a background Loopix client listening on a specified socket.\n\n"
		    "Options:\n"
		    "    --id ID            id of the client (default " NYMD_DEFAULT_ID ")\n"
		    "    --customCfg FILE   the configuration file to use instead of the id's\n"
		    "    --socket KIND      tcp, websocket or unix\n"
		    "    --port N           port for tcp and websocket (on the config's\n"
		    "                       listen_address, default 127.0.0.1)\n"
		    "    --path P           path of the unix socket\n", prog);
	else if (strcmp(cmd, "check-config") == 0)
		fprintf(f,
		    "Usage: %s check-config [--id ID | --customCfg FILE] [--home DIR]\n\n"
		    "Check the configuration as run would load it (the file, the key\n"
		    "files' modes, the public key); exit 0 if nymd would start on it,\n"
		    "1 with the error otherwise.\n", prog);
	else if (strcmp(cmd, "reload") == 0)
		fprintf(f,
		    "Usage: %s reload --pid PID [--id ID | --customCfg FILE] [--home DIR]\n\n"
		    "check-config, then send SIGHUP to the nymd (master) PID, which\n"
		    "reloads it. A configuration that fails the check is not sent:\n"
		    "the exit status is 1 and the running configuration stays\n"
		    "(systemd's ExecReload= of nymd@.service).\n", prog);
	else
		usage(f, prog);
}

static int
parse_port(const char *s, int *out)
{
	uint64_t v;

	if (number_parse(s, 1, 65535, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static int
parse_pid(const char *s, long *out)
{
	uint64_t v;

	if (number_parse(s, 2, INT_MAX, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}

enum {
	OPT_ID = 1, OPT_HOME, OPT_FORCE, OPT_LOCAL, OPT_DIRECTORY, OPT_PROVIDER,
	OPT_SOCKET, OPT_PORT, OPT_PATH, OPT_HELP, OPT_CUSTOM_CFG, OPT_PID,
};

/* Parses a command's options; the set allowed depends on the command. */
static int
parse_options(int argc, char **argv, const char *cmd, struct nymd_options *o)
{
	static const struct option all[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "home", required_argument, NULL, OPT_HOME },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "local", no_argument, NULL, OPT_LOCAL },
		{ "directory", required_argument, NULL, OPT_DIRECTORY },
		{ "provider", required_argument, NULL, OPT_PROVIDER },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "path", required_argument, NULL, OPT_PATH },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "customCfg", required_argument, NULL, OPT_CUSTOM_CFG },
		{ "pid", required_argument, NULL, OPT_PID },
		{ NULL, 0, NULL, 0 },
	};
	int is_init = strcmp(cmd, "init") == 0;
	int is_socket = strcmp(cmd, "socket") == 0;
	int is_reload = strcmp(cmd, "reload") == 0;
	int c;

	opterr = 0;
	optind = 1;
	/* _only: Go's flag package also takes -id as well as --id. */
	while ((c = getopt_long_only(argc, argv, "h", all, NULL)) != -1) {
		int ok = 1;
		switch (c) {
		case OPT_ID:		o->id = optarg; break;
		case OPT_HOME:		o->root = optarg; break;
		case OPT_FORCE:		o->force = 1; ok = is_init; break;
		case OPT_LOCAL:		o->local = 1; ok = is_init; break;
		case OPT_DIRECTORY:	o->directory = optarg; ok = is_init; break;
		case OPT_PROVIDER:	o->provider = optarg; ok = is_init; break;
		case OPT_SOCKET:
			ok = is_socket;
			if (strcmp(optarg, "tcp") == 0)
				o->socket_kind = NYMIPC__SOCKET_KIND__SOCKET_TCP;
			else if (strcmp(optarg, "websocket") == 0)
				o->socket_kind = NYMIPC__SOCKET_KIND__SOCKET_WEBSOCKET;
			else if (strcmp(optarg, "unix") == 0)
				o->socket_kind = NYMIPC__SOCKET_KIND__SOCKET_UNIX;
			else {
				fprintf(stderr, "%s: --socket must be tcp, websocket or unix, not '%s'\n",
				    o->prog, optarg);
				return -1;
			}
			break;
		case OPT_PORT:
			ok = is_socket;
			if (ok && parse_port(optarg, &o->port) == -1) {
				fprintf(stderr, "%s: --port must be a number from 1 to 65535\n", o->prog);
				return -1;
			}
			break;
		case OPT_PATH:		o->path = optarg; ok = is_socket; break;
		case OPT_CUSTOM_CFG:	o->custom_cfg = optarg; ok = !is_init; break;
		case OPT_PID:
			ok = is_reload;
			if (ok && parse_pid(optarg, &o->reload_pid) == -1) {
				fprintf(stderr, "%s: --pid must be a process id\n", o->prog);
				return -1;
			}
			break;
		case 'h':
		case OPT_HELP:
			usage_command(stdout, o->prog, cmd);
			exit(0);
		default:
			fprintf(stderr, "%s %s: unknown or incomplete option '%s'\n",
			    o->prog, cmd, argv[optind - 1]);
			return -1;
		}
		if (!ok) {
			fprintf(stderr, "%s %s: option '%s' does not apply to this command\n",
			    o->prog, cmd, argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s %s: unexpected argument '%s'\n", o->prog, cmd, argv[optind]);
		return -1;
	}
	if (is_reload && o->reload_pid == 0) {
		fprintf(stderr, "%s reload: --pid is required\n", o->prog);
		return -1;
	}
	/* With --customCfg, --id is not used (the file names the client). */
	if (!is_init && o->id == NULL)
		o->id = NYMD_DEFAULT_ID;
	if (is_socket) {
		if (o->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_NONE) {
			fprintf(stderr, "%s socket: --socket is required\n", o->prog);
			return -1;
		}
		if (o->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_UNIX ?
		    (o->path == NULL || o->port != 0) : (o->port == 0 || o->path != NULL)) {
			fprintf(stderr, "%s socket: use --path with --socket unix, "
			    "--port with tcp and websocket\n", o->prog);
			return -1;
		}
	}
	return 0;
}

/* A child: master names its role in NYMD_CHILD, and fd 3 leads to master. */
static void
child_dispatch(const char *role)
{
	Nymipc__Role r;

	if (proc_role_parse(role, &r) == -1) {
		fprintf(stderr, "nymd: NYMD_CHILD names no role: '%s'\n", role);
		exit(NYMD_EXIT_USAGE);
	}
	switch (r) {
	case ROLE_KEYD:	proc_child_main(&keyd_role);
	case ROLE_NETD:	proc_child_main(&netd_role);
	case ROLE_RPCD:	proc_child_main(&rpcd_role);
	default:
		fprintf(stderr, "nymd: '%s' is not a child role\n", role);
		exit(NYMD_EXIT_USAGE);
	}
}

int
main(int argc, char **argv)
{
	struct nymd_options o;
	const char *slash;

	if (argc < 1)
		return NYMD_EXIT_USAGE;
	if (strncmp(argv[0], PROC_TITLE_PREFIX, strlen(PROC_TITLE_PREFIX)) == 0 &&
	    getenv("NYMD_CHILD") != NULL)
		child_dispatch(getenv("NYMD_CHILD"));

	memset(&o, 0, sizeof(o));
	slash = strrchr(argv[0], '/');
	o.prog = slash ? slash + 1 : argv[0];
	if (strncmp(o.prog, "lt-", 3) == 0)
		o.prog += 3;
	o.root = getenv("NYMD_HOME");
	if (o.root != NULL && o.root[0] == '\0')
		o.root = NULL;

	if (argc < 2) {
		usage(stderr, o.prog);
		return NYMD_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc > 2)
			usage_command(stdout, o.prog, argv[2]);
		else
			usage(stdout, o.prog);
		return 0;
	}
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "run") != 0 && strcmp(cmd, "socket") != 0 &&
	    strcmp(cmd, "check-config") != 0 && strcmp(cmd, "reload") != 0) {
		fprintf(stderr, "%s: unknown command '%s'\n\n", o.prog, cmd);
		usage(stderr, o.prog);
		return NYMD_EXIT_USAGE;
	}
	if (parse_options(argc - 1, argv + 1, cmd, &o) == -1) {
		fprintf(stderr, "\n");
		usage_command(stderr, o.prog, cmd);
		return NYMD_EXIT_USAGE;
	}
	o.command = cmd;
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "check-config") == 0 ||
	    strcmp(cmd, "reload") == 0)
		o.socket_kind = NYMIPC__SOCKET_KIND__SOCKET_UNIX;
	if (strcmp(cmd, "check-config") == 0 || strcmp(cmd, "reload") == 0)
		o.check_only = 1;
	if (strcmp(cmd, "init") == 0)
		return init_main(&o);
	return master_main(&o);
}
