/*
 * log.c: one line per call on stderr, prefixed with program, pid and level.
 * The line is formatted into one buffer and written with one write(2) so
 * that lines from several responder processes do not interleave.  Access
 * lines, one per request, are batched (log_access): a write per request
 * cost about 15% of a hit.
 *
 * stderr may stop taking lines: a pipe or socket whose reader stalls (a
 * stuck log collector).  Writes to those never wait (RWF_NOWAIT): a line
 * that cannot go now waits in the batch, or, the batch full, is dropped
 * and counted, and the count is written once stderr takes lines again.
 * So a stalled log costs lines, never answers.  A terminal or a file is
 * written to as before, waiting if it must.
 */
#define _GNU_SOURCE		/* pwritev2, RWF_NOWAIT */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

static const char	*prog = "todos-fcgi";
static enum log_level	 threshold = LOG_INFO;
static int		 nowait;	/* stderr is a pipe or a socket */

static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *progname, enum log_level level)
{
	struct stat	st;

	if (progname != NULL)
		prog = progname;
	threshold = level;
	nowait = fstat(STDERR_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
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
 * One write of a whole line or batch (atomic up to PIPE_BUF on a pipe):
 * how much went, or -1 if nothing could go now (stderr not taking lines,
 * or failing: a failed write to stderr has nowhere to be reported).
 */
static ssize_t
put(const char *buf, size_t len)
{
	struct iovec	iov = { (void *)(uintptr_t)buf, len };
	ssize_t		n;

	if (nowait) {
		if ((n = pwritev2(STDERR_FILENO, &iov, 1, -1, RWF_NOWAIT)) >= 0 ||
		    errno != EOPNOTSUPP)
			return n;
		nowait = 0;	/* a kernel without it: wait as before */
	}
	return write(STDERR_FILENO, buf, len);
}

static pthread_mutex_t	batch_mu = PTHREAD_MUTEX_INITIALIZER;
static char		batch[PIPE_BUF];
static size_t		batch_len;
static unsigned long	dropped;	/* lines that found the batch full */

/* Adds line[len] to the batch, or counts it dropped; batch_mu held. */
static void
add_locked(const char *line, size_t len)
{
	if (batch_len + len > sizeof(batch)) {
		dropped++;
		return;
	}
	memcpy(batch + batch_len, line, len);
	batch_len += len;
}

/*
 * Writes out what the batch holds, then the count of lines dropped, as
 * far as stderr takes them now; batch_mu is held.  0 once all went.
 */
static int
flush_locked(void)
{
	char	note[128];
	ssize_t	n;
	int	m;

	if (batch_len > 0) {
		if ((n = put(batch, batch_len)) <= 0)
			return -1;
		batch_len -= (size_t)n;
		memmove(batch, batch + n, batch_len);
		if (batch_len > 0)
			return -1;
	}
	if (dropped > 0) {
		m = snprintf(note, sizeof(note), "%s[%ld]: warn: log: %lu "
		    "lines dropped: stderr was not taking them\n", prog,
		    (long)getpid(), dropped);
		if (m > 0 && (size_t)m < sizeof(note) &&
		    put(note, (size_t)m) == m)
			dropped = 0;
	}
	return 0;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	ssize_t	 w;
	int	 n;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = render(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (!nowait) {		/* a terminal or a file: as it comes */
		(void)put(line, (size_t)n);
		return;
	}
	/* After what is batched; what cannot go now waits in the batch. */
	pthread_mutex_lock(&batch_mu);
	if (flush_locked() == -1 || (w = put(line, (size_t)n)) < 0)
		add_locked(line, (size_t)n);
	else if (w < n)
		add_locked(line + w, (size_t)(n - w));
	pthread_mutex_unlock(&batch_mu);
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
		(void)flush_locked();
	add_locked(line, (size_t)n);
	pthread_mutex_unlock(&batch_mu);
}

void
log_forked(void)
{
	batch_len = 0;
	dropped = 0;
}

void
log_flush(void)
{
	pthread_mutex_lock(&batch_mu);
	(void)flush_locked();
	pthread_mutex_unlock(&batch_mu);
}
