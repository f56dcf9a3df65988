/*
 * const_fcgi.c: the benchmark's ceiling.  A FastCGI responder that answers
 * every request with the same bytes, read once at start from the file
 * named by CONST_RESPONSE: CGI header lines (Status, Content-Type, ...),
 * an empty line, then the body, as `make bench` captured them from one
 * todos-fcgi HIT.  No routing, no Redis, no allocation per request: behind
 * the same lighttpd and lighttpd/run (or nginx and nginx/run), nothing in
 * this architecture can answer faster.
 *
 * Not part of the service; only bench/bench.py starts it.
 *
 *	const_fcgi			run as a FastCGI responder (fd 0 is the socket)
 *	const_fcgi --check-config	check CONST_RESPONSE and exit (the run scripts)
 *	const_fcgi --listen ADDRESS --workers N
 *					listen by itself with N pre-forked workers,
 *					the command line nginx/run gives todos-fcgi
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define PROG		"const_fcgi"
#define EXIT_USAGE	64		/* sysexits EX_USAGE */
#define EXIT_CONFIG	78		/* sysexits EX_CONFIG */
#define RESPONSE_MAX	(64L * 1024 * 1024)	/* far below FCGX_PutStr's INT_MAX */
#define BACKLOG		1024		/* as todos-fcgi's daemon */
#define WORKERS_MAX	1024		/* as todos-fcgi's --workers */

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

/*
 * The accept loop on fd (0 when spawned by lighttpd, the listening socket
 * in a --listen worker).  Returns an exit status.
 */
static int
serve(int fd, const char *resp, size_t len)
{
	FCGX_Request	req;

	if (FCGX_InitRequest(&req, fd, 0) != 0) {
		fprintf(stderr, "%s: FCGX_InitRequest failed\n", PROG);
		return EXIT_FAILURE;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		/* A failed write is the client's loss; the web server logs it. */
		(void)FCGX_PutStr(resp, (int)len, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	return EXIT_SUCCESS;
}

/*
 * --listen: opens address (HOST:PORT, :PORT, or unix:PATH as todos-fcgi
 * takes it), forks the workers, then waits: SIGTERM or SIGINT is passed on
 * to every worker, and the parent returns once all have exited.  A worker
 * that dies is not replaced (nothing here can fail per request; a dead
 * worker is a bench that should show it).  Returns an exit status.
 */
static int
listen_run(const char *address, int workers, const char *resp, size_t len)
{
	pid_t		*pids;
	sigset_t	 set, old;
	pid_t		 pid;
	const char	*path = address;
	int		 fd, i, alive = 0, rc = EXIT_FAILURE;

	if (strncmp(address, "unix:", 5) == 0) {
		path = address + 5;
		(void)unlink(path);	/* a socket left by a killed run */
	}
	if ((fd = FCGX_OpenSocket(path, BACKLOG)) == -1) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", PROG,
		    address, strerror(errno));
		return EXIT_FAILURE;
	}
	if ((pids = calloc((size_t)workers, sizeof(*pids))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		(void)close(fd);
		return EXIT_FAILURE;
	}
	/* Blocked before the fork: no signal is lost between fork and wait. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &set, &old);
	for (i = 0; i < workers; i++) {
		if ((pid = fork()) == -1) {
			fprintf(stderr, "%s: fork: %s\n", PROG,
			    strerror(errno));
			break;
		}
		if (pid == 0) {
			(void)sigprocmask(SIG_SETMASK, &old, NULL);
			exit(serve(fd, resp, len));
		}
		pids[i] = pid;
		alive++;
	}
	/* Fewer workers than asked for would measure something else. */
	if (alive < workers)
		goto stop;
	/* Workers that all exit by themselves are a failure too. */
	while (alive > 0) {
		switch (sigwaitinfo(&set, NULL)) {
		case SIGTERM:
		case SIGINT:
			rc = EXIT_SUCCESS;
			goto stop;
		case SIGCHLD:
			while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
				for (i = 0; i < workers; i++)
					if (pids[i] == pid) {
						pids[i] = 0;
						alive--;
					}
			break;
		default:	/* EINTR */
			break;
		}
	}
stop:
	for (i = 0; i < workers; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGTERM);
	while (alive > 0 && (pid = waitpid(-1, NULL, 0)) > 0)
		for (i = 0; i < workers; i++)
			if (pids[i] == pid) {
				pids[i] = 0;
				alive--;
			}
	if (path != address)
		(void)unlink(path);
	(void)close(fd);
	free(pids);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	const char		*path, *listen = NULL;
	char			*resp = NULL, *end;
	char			 why[512];
	size_t			 len;
	long			 workers = 0;
	int			 i, check_only = 0, rc = EXIT_FAILURE;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0)
			check_only = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			errno = 0;
			workers = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] ||
			    workers < 1 || workers > WORKERS_MAX) {
				fprintf(stderr, "%s: --workers: '%.32s' is not "
				    "a number in 1..%d\n", PROG, argv[i],
				    WORKERS_MAX);
				return EXIT_USAGE;
			}
		} else
			break;
	}
	if (i < argc || (workers != 0) != (listen != NULL)) {
		fprintf(stderr, "usage: %s [--check-config] "
		    "[--listen ADDRESS --workers N]\n", PROG);
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

	if (FCGX_Init() != 0 || (listen == NULL && FCGX_IsCGI())) {
		fprintf(stderr, "%s: not started as a FastCGI responder (fd 0 "
		    "is not a socket; or use --listen)\n", PROG);
		goto done;
	}
	/*
	 * A write to a connection the web server closed fails instead of
	 * killing the process.  SIGTERM (how lighttpd, and the parent with
	 * --listen, stop responders) keeps its default action: there is
	 * never anything to finish.
	 */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (listen != NULL)
		rc = listen_run(listen, (int)workers, resp, len);
	else
		rc = serve(0, resp, len);
done:
	free(resp);
	return rc;
}
