/*
 * fuzz.h: what every libFuzzer target in tests/fuzz shares.
 *
 * The prototype libFuzzer calls (-Wmissing-prototypes wants one in scope)
 * and CHECK(), which stops the run on a broken invariant: it names the
 * check on stderr, then traps.  A trap rather than abort() or assert(): it
 * cannot be compiled out by NDEBUG, and libFuzzer reports it as a crash
 * (deadly signal) with the stack and writes the input to an artifact.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Called once per input; data[size] is libFuzzer's, read-only. */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static inline void
fuzz_fail(const char *file, int line, const char *cond)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, cond);
	__builtin_trap();
}

#define CHECK(cond)	do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

#endif /* FUZZ_H */
