#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <syslog.h>

#include "common/log.h"

#define LOG_LINE_BYTES 2048

static const char *const level_names[] = {
	"trace", "debug", "info", "warning", "error", "panic", "fatal",
};

static struct {
	char		 role[32];
	enum log_level	 level;
	enum log_dest	 dest;
	int		 fd;
	void		(*fatal_hook)(const char *);
	int		 in_fatal_hook;
} logger = { "nymd", LOG_LEVEL_INFO, LOG_DEST_STDERR, STDERR_FILENO, NULL, 0 };

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((size_t)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "off";
	return level_names[level];
}

void
log_init(const char *role, enum log_level level)
{
	/* gmtime_r reads /etc/localtime once; do it before any sandbox. */
	tzset();
	log_set_role(role);
	logger.level = level;
}

void
log_set_role(const char *role)
{
	snprintf(logger.role, sizeof(logger.role), "%s", role);
}

void
log_set_level(enum log_level level)
{
	logger.level = level;
}

void
log_set_fatal_hook(void (*hook)(const char *msg))
{
	logger.fatal_hook = hook;
}

int
log_fd(void)
{
	return logger.fd;
}

int
log_use_fd(int fd)
{
	if (logger.dest == LOG_DEST_FILE && logger.fd > STDERR_FILENO && logger.fd != fd)
		close(logger.fd);
	logger.dest = LOG_DEST_FILE;
	logger.fd = fd;
	return 0;
}

int
log_open(enum log_dest dest, const char *path)
{
	int fd;

	switch (dest) {
	case LOG_DEST_FILE:
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd == -1)
			return -1;
		break;
	case LOG_DEST_STDOUT:
		fd = STDOUT_FILENO;
		break;
	case LOG_DEST_JOURNAL:
		/* systemd connects stderr to the journal and reads the "<N>"
		 * priority prefix; no socket of our own, so no sandbox change. */
	case LOG_DEST_STDERR:
	default:
		fd = STDERR_FILENO;
		break;
	}
	if (logger.dest == LOG_DEST_FILE && logger.fd > STDERR_FILENO && logger.fd != fd)
		close(logger.fd);
	logger.dest = dest;
	logger.fd = fd;
	return 0;
}

static int
journal_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_TRACE:
	case LOG_LEVEL_DEBUG:	return LOG_DEBUG;
	case LOG_LEVEL_INFO:	return LOG_INFO;
	case LOG_LEVEL_WARNING:	return LOG_WARNING;
	case LOG_LEVEL_ERROR:	return LOG_ERR;
	default:		return LOG_CRIT;
	}
}

static void
log_emit(enum log_level level, const char *msg)
{
	char line[LOG_LINE_BYTES + 128];
	struct timespec ts;
	struct tm tm;
	int n;

	if (logger.dest == LOG_DEST_JOURNAL) {
		/* The journal adds the time itself. */
		n = snprintf(line, sizeof(line), "<%d>%s[%ld]: %s\n",
		    journal_priority(level), logger.role, (long)getpid(), msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, logger.role,
		    (long)getpid(), level_names[level], msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: lines of concurrent processes do not interleave. */
	ssize_t r;
	do {
		r = write(logger.fd, line, (size_t)n);
	} while (r == -1 && errno == EINTR);
}

static void __attribute__((format(printf, 3, 0)))
log_vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_BYTES];
	int saved = errno;

	if (level < logger.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	log_emit(level, msg);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_vlog(level, with_errno, fmt, ap);		\
	va_end(ap);					\
}

LOG_FN(log_trace, LOG_LEVEL_TRACE, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARNING, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARNING, 0)

static void __attribute__((noreturn, format(printf, 3, 0)))
log_fatal(int status, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_BYTES];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	log_emit(LOG_LEVEL_FATAL, msg);
	/* Once: a hook that itself fails (out of memory) only exits. */
	if (logger.fatal_hook != NULL && !logger.in_fatal_hook) {
		logger.in_fatal_hook = 1;
		logger.fatal_hook(msg);
	}
	_exit(status);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_fatal(LOG_EXIT_FATAL, 1, fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_fatal(LOG_EXIT_FATAL, 0, fmt, ap);
}

void
fatalx_storage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_fatal(LOG_EXIT_STORAGE, 0, fmt, ap);
}
