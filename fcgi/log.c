/*
 * log.c: one line per call on stderr, prefixed with program, pid and level.
 * The line is formatted into one buffer and written with one write(2) so
 * that lines from several responder processes do not interleave.
 */
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

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n, m, i;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "%s[%ld]: %s: ", prog, (long)getpid(),
	    names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	/* Text from outside (Redis errors, libcurl) must not forge lines. */
	for (i = n; i < n + m && i < (int)sizeof(line) - 1; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			line[i] = '?';
	/* A truncated line is still worth having; end it properly. */
	n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, (size_t)n);
}
