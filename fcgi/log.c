/*
 * log.c: one line per call on stderr, prefixed with program, pid and level.
 * The line is formatted into one buffer and written with one write(2) so
 * that lines from several responder processes do not interleave.  Access
 * lines, one per request, are batched (log_access): a write per request
 * cost about 15% of a hit.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*prog = "todos-fcgi";
static enum log_level	 threshold = LOG_INFO;

static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		prog = progname;
	threshold = level;
}

int
log_enabled(enum log_level level)
{
	return level <= threshold;
}

/* Formats one line into line[size]; returns its length with the newline. */
static int
render(char *line, size_t size, enum log_level level, const char *fmt,
    va_list ap)
{
	int	n, m, i;

	n = snprintf(line, size, "%s[%ld]: %s: ", prog, (long)getpid(),
	    names[level]);
	if (n < 0 || (size_t)n >= size)
		return -1;
	m = vsnprintf(line + n, size - (size_t)n, fmt, ap);
	if (m < 0)
		return -1;
	/* Text from outside (Redis errors, libcurl) must not forge lines. */
	for (i = n; i < n + m && i < (int)size - 1; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			line[i] = '?';
	/* A truncated line is still worth having; end it properly. */
	n = (size_t)(n + m) >= size - 1 ? (int)size - 2 : n + m;
	line[n++] = '\n';
	return n;
}

/*
 * One write(2) of a whole line or batch (atomic up to PIPE_BUF).  A failed
 * write to stderr has nowhere to be reported: the line is dropped.
 */
static void
put(const char *buf, size_t len)
{
	if (write(STDERR_FILENO, buf, len) < 0)
		return;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = render(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(line, (size_t)n);
}

static pthread_mutex_t	batch_mu = PTHREAD_MUTEX_INITIALIZER;
static char		batch[PIPE_BUF];
static size_t		batch_len;

/* Writes the batch out; batch_mu is held. */
static void
flush_locked(void)
{
	if (batch_len > 0)
		put(batch, batch_len);
	batch_len = 0;
}

void
log_access(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n;

	if (!log_enabled(LOG_INFO))
		return;
	va_start(ap, fmt);
	n = render(line, sizeof(line), LOG_INFO, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	pthread_mutex_lock(&batch_mu);
	if (batch_len + (size_t)n > sizeof(batch))
		flush_locked();
	memcpy(batch + batch_len, line, (size_t)n);
	batch_len += (size_t)n;
	pthread_mutex_unlock(&batch_mu);
}

void
log_flush(void)
{
	pthread_mutex_lock(&batch_mu);
	flush_locked();
	pthread_mutex_unlock(&batch_mu);
}
