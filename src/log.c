/*
 * log.c - levels, a log file, timestamps relative to start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_level = LOG_DEFAULT_LEVEL;
static int log_fd = STDERR_FILENO;
static bool log_to_file;	/* log_fd is a file of ours: stamp lines, close it */
static bool log_owned;		/* log_fd is ours to close */
static const char *log_prog;
/*
 * The wall clock, as CRIU's log: a restored tree's tasks log from inside
 * the time namespace made for them, whose monotonic clocks go on from the
 * dumped tree's and would stamp their lines seconds or days away.
 */
#define LOG_CLOCK	CLOCK_REALTIME
static struct timespec log_start;
/* The first error since log_first_err_reset(): what an RPC answer says. */
static char first_err[512];

void log_set_prog(const char *prog)
{
	log_prog = prog;
}

void log_set_level(int level)
{
	if (level < LOG_MSG)
		level = LOG_MSG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = errno;

		log_printf(LOG_ERROR, "cannot open log file %s: %s", path, strerror(err));
		return -err;
	}
	log_close();
	log_fd = fd;
	log_to_file = log_owned = true;
	clock_gettime(LOG_CLOCK, &log_start);
	return 0;
}

void log_close(void)
{
	if (log_owned)
		close(log_fd);
	log_fd = STDERR_FILENO;
	log_to_file = log_owned = false;
}

int log_get_fd(void)
{
	return log_fd;
}

int log_move_fd(int minfd)
{
	int fd = fcntl(log_fd, F_DUPFD_CLOEXEC, minfd);

	if (fd < 0)
		return -errno;
	if (log_owned)
		close(log_fd);
	log_fd = fd;
	log_owned = true;
	return 0;
}

/* Build the "(ss.uuuuuu) " stamp a log file carries on every line. */
static int log_stamp(char *buf, size_t len)
{
	struct timespec now;
	long sec, usec;

	clock_gettime(LOG_CLOCK, &now);
	sec = now.tv_sec - log_start.tv_sec;
	usec = (now.tv_nsec - log_start.tv_nsec) / 1000;
	if (usec < 0) {
		usec += 1000000;
		sec--;
	}
	return snprintf(buf, len, "(%02ld.%06ld) ", sec, usec);
}

/* Write @body (@n bytes) to the log, stamped when the log is a file. */
static void log_write(char *body, size_t n)
{
	char stamp[32];
	int s = 0, r;

	if (log_to_file) {
		s = log_stamp(stamp, sizeof(stamp));
		if (s < 0 || s >= (int)sizeof(stamp))
			s = 0;
		/* The caller left room before @body for the stamp. */
		memcpy(body - s, stamp, s);
	}
	/* One write per message, so lines of concurrent writers do not mix. */
	r = write(log_fd, body - s, n + s);
	(void)r;
}

void log_printf(int level, const char *fmt, ...)
{
	char buf[4096], *body = buf + 32;
	size_t n = 0, room = sizeof(buf) - 32;
	va_list ap;
	int r;

	if (level == LOG_ERROR && !first_err[0]) {
		va_start(ap, fmt);
		vsnprintf(first_err, sizeof(first_err), fmt, ap);
		va_end(ap);
		first_err[strcspn(first_err, "\n")] = 0;
	}
	if (level > log_level)
		return;

	if (log_prog && !log_to_file && level != LOG_MSG)
		n += snprintf(body + n, room - n, "%s: ", log_prog);
	if (level == LOG_ERROR)
		n += snprintf(body + n, room - n, "Error: ");
	else if (level == LOG_WARN)
		n += snprintf(body + n, room - n, "Warn: ");

	va_start(ap, fmt);
	r = vsnprintf(body + n, room - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += r;
	if (n > room - 2)
		n = room - 2;
	if (n == 0 || body[n - 1] != '\n')
		body[n++] = '\n';

	/* The tool's own output goes to stdout, as CRIU's; a log file keeps a copy. */
	if (level == LOG_MSG) {
		r = write(STDOUT_FILENO, body, n);
		(void)r;
		if (!log_to_file)
			return;
	}
	log_write(body, n);
}

const char *log_first_err(void)
{
	return first_err[0] ? first_err : NULL;
}

void log_first_err_reset(void)
{
	first_err[0] = 0;
}
