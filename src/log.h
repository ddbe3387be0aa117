/*
 * log.h - the one logging facility of stasis and its tools.
 *
 * Levels follow CRIU's -v0..-v4: a message is printed when its level is at
 * or below the current verbosity.  Errors and warnings are always tagged.
 * Output goes to stderr until log_open() names a file (-o FILE).
 *
 * Functions that fail return a negative errno and log what failed with
 * pr_err() at the point where the reason is known; callers add context
 * only when they have something to add.
 */
#ifndef STASIS_LOG_H
#define STASIS_LOG_H

#include <errno.h>
#include <string.h>

enum log_level {
	LOG_MSG = 0,	/* always printed: the tool's own output to the user */
	LOG_ERROR = 1,
	LOG_WARN = 2,	/* the default verbosity */
	LOG_INFO = 3,
	LOG_DEBUG = 4,
};

#define LOG_DEFAULT_LEVEL LOG_WARN

/* Name printed before each error when logging to a terminal ("crit"). */
void log_set_prog(const char *prog);
void log_set_level(int level);
int log_get_level(void);

/* Send the log to @path (created or truncated, mode 0600); 0 or -errno. */
int log_open(const char *path);
void log_close(void);
/*
 * Move the log (file or stderr) to a descriptor >= @minfd, so that a
 * restored task can put its own fds at the low numbers; 0 or -errno.
 */
int log_move_fd(int minfd);
/* Where the log goes now (a file, or stderr). */
int log_get_fd(void);

/* The first error logged since the last reset (or start), or NULL. */
const char *log_first_err(void);
void log_first_err_reset(void);

void log_printf(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_msg(fmt, ...)	log_printf(LOG_MSG, fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...)	log_printf(LOG_ERROR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	log_printf(LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	log_printf(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	log_printf(LOG_DEBUG, fmt, ##__VA_ARGS__)

/* pr_err() with ": strerror(errno)" appended; errno is preserved. */
#define pr_perror(fmt, ...)						\
	do {								\
		int __e = errno;					\
		log_printf(LOG_ERROR, fmt ": %s", ##__VA_ARGS__,	\
			   strerror(__e));				\
		errno = __e;						\
	} while (0)

#endif
