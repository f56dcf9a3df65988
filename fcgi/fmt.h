/*
 * fmt.h: appending formatted text to a fixed buffer, the one way the
 * answer heads and the metrics exposition are built.  Pure.
 */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>

/*
 * Formats at buf + *off, within size; advances *off.  Returns 0, or -1 once
 * the text does not fit (buf then holds a cut piece: discard it).
 */
int	fmt_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

#endif /* FMT_H */
