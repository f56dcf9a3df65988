/*
 * fmt.c: vsnprintf with the truncation check every caller needs.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fmt.h"

int
fmt_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (*off >= size)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}
