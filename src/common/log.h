/*
 * Logging for every nymd process: levels, one destination per process
 * (a file, standard output or the journal), each line tagged with the role
 * and pid so that the interleaved log of four processes stays readable.
 */
#ifndef NYMD_LOG_H
#define NYMD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_TRACE = 0,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_PANIC,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_OFF,
};

enum log_dest {
	LOG_DEST_STDERR = 0,
	LOG_DEST_STDOUT,
	LOG_DEST_FILE,
	LOG_DEST_JOURNAL,
};

/* Exit status of a child that hit a fatal error; master restarts it. */
#define LOG_EXIT_FATAL 71
/* fatalx_storage(): the child's storage failed (full, read-only, I/O
 * error); restarting it would fail the same way, so master does not. */
#define LOG_EXIT_STORAGE 74

int	log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void	log_init(const char *role, enum log_level level);
void	log_set_role(const char *role);
void	log_set_level(enum log_level level);
/* Opens (append) or switches the destination; returns -1 with errno. */
int	log_open(enum log_dest dest, const char *path);
/* Logs to an already open file (e.g. one inherited from master). */
int	log_use_fd(int fd);
/* The fd logging writes to, so a sandbox can keep it open. */
int	log_fd(void);

void	log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx_storage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Called by fatal()/fatalx() before exit, e.g. to tell master why. */
void	log_set_fatal_hook(void (*hook)(const char *msg));

#endif
