/*
 * const_fcgi.c: the benchmark's ceiling.  A FastCGI responder that answers
 * every request with the same bytes, read once at start from the file
 * named by CONST_RESPONSE: CGI header lines (Status, Content-Type, ...),
 * an empty line, then the body, as `make bench` captured them from one
 * todos-fcgi HIT.  No routing, no Redis, no allocation per request: behind
 * the same lighttpd and lighttpd/run, nothing in this architecture can
 * answer faster.
 *
 * Not part of the service; only bench/bench.py starts it.
 *
 *	const_fcgi			run as a FastCGI responder (fd 0 is the socket)
 *	const_fcgi --check-config	check CONST_RESPONSE and exit (lighttpd/run)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#define PROG		"const_fcgi"
#define EXIT_USAGE	64		/* sysexits EX_USAGE */
#define EXIT_CONFIG	78		/* sysexits EX_CONFIG */
#define RESPONSE_MAX	(64L * 1024 * 1024)	/* far below FCGX_PutStr's INT_MAX */

/*
 * Reads the file at path whole.  Returns 0 with *buf (the caller's to free)
 * and *len set, or -1 with *buf NULL and the reason in why.
 */
static int
load(const char *path, char **buf, size_t *len, char *why, size_t whysize)
{
	FILE	*f = NULL;
	char	*p = NULL;
	long	 size;

	*buf = NULL;
	*len = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		(void)snprintf(why, whysize, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fseek(f, 0, SEEK_END) == -1 || (size = ftell(f)) == -1 ||
	    fseek(f, 0, SEEK_SET) == -1) {
		(void)snprintf(why, whysize, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (size == 0 || size > RESPONSE_MAX) {
		(void)snprintf(why, whysize, "%s: %ld bytes, not in 1..%ld",
		    path, size, RESPONSE_MAX);
		goto fail;
	}
	if ((p = malloc((size_t)size)) == NULL) {
		(void)snprintf(why, whysize, "%s: out of memory", path);
		goto fail;
	}
	if (fread(p, 1, (size_t)size, f) != (size_t)size) {
		(void)snprintf(why, whysize, "%s: short read", path);
		goto fail;
	}
	(void)fclose(f);
	*buf = p;
	*len = (size_t)size;
	return 0;
fail:
	free(p);
	if (f != NULL)
		(void)fclose(f);
	return -1;
}

/*
 * A CGI answer starts with a Status line and has an empty line after the
 * head; anything else is a capture gone wrong, better caught at start than
 * as 500s in the numbers.
 */
static int
valid(const char *buf, size_t len)
{
	static const char	status[] = "Status: ";
	size_t			i;

	if (len < sizeof(status) - 1 ||
	    memcmp(buf, status, sizeof(status) - 1) != 0)
		return 0;
	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' ||
		    (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))
			return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	FCGX_Request		 req;
	const char		*path;
	char			*resp = NULL;
	char			 why[512];
	size_t			 len;
	int			 check_only = 0, rc = EXIT_FAILURE;

	if (argc == 2 && strcmp(argv[1], "--check-config") == 0)
		check_only = 1;
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--check-config]\n", PROG);
		return EXIT_USAGE;
	}
	if ((path = getenv("CONST_RESPONSE")) == NULL || *path == '\0') {
		fprintf(stderr, "%s: CONST_RESPONSE: not set (the file of the "
		    "answer to serve)\n", PROG);
		return EXIT_CONFIG;
	}
	if (load(path, &resp, &len, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: CONST_RESPONSE: %s\n", PROG, why);
		return EXIT_CONFIG;
	}
	if (!valid(resp, len)) {
		fprintf(stderr, "%s: CONST_RESPONSE: %s: not a CGI answer "
		    "(Status line, head, empty line, body)\n", PROG, path);
		rc = EXIT_CONFIG;
		goto done;
	}
	if (check_only) {
		rc = EXIT_SUCCESS;
		goto done;
	}

	if (FCGX_Init() != 0 || FCGX_IsCGI()) {
		fprintf(stderr, "%s: not started as a FastCGI responder (fd 0 "
		    "is not a socket)\n", PROG);
		goto done;
	}
	/*
	 * A write to a connection lighttpd closed fails instead of killing
	 * the process.  SIGTERM (how lighttpd stops its responders) keeps its
	 * default action: there is never anything to finish.
	 */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (FCGX_InitRequest(&req, 0, 0) != 0) {
		fprintf(stderr, "%s: FCGX_InitRequest failed\n", PROG);
		goto done;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		/* A failed write is the client's loss; lighttpd logs it. */
		(void)FCGX_PutStr(resp, (int)len, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	rc = EXIT_SUCCESS;
done:
	free(resp);
	return rc;
}
