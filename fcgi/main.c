/*
 * main.c: the command line.  Reads the configuration once, then either
 * serves as a responder spawned by a web server (fd 0 is the listening
 * socket lighttpd made) or listens by itself with pre-forked workers.
 *
 *	todos-fcgi				spawned by lighttpd (mod_fastcgi),
 *						or run as a CGI program
 *	todos-fcgi --listen ADDR [--workers N]	a FastCGI daemon
 *	todos-fcgi --check-config		validate the environment, exit
 */
#include <sys/prctl.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"
#include "peers.h"
#include "worker.h"

#define PROG		"todos-fcgi"
#define VERSION		"1.0.0"
#define EXIT_USAGE	64	/* sysexits EX_USAGE */
#define EXIT_CONFIG	78	/* sysexits EX_CONFIG */

static const char usage[] =
    "usage: " PROG " [--check-config] [--listen ADDRESS [--workers N]]\n"
    "       " PROG " --help | --version\n"
    "\n"
    "Without --listen, serves FastCGI on fd 0, as spawned by lighttpd,\n"
    "or, started as a CGI program (GATEWAY_INTERFACE set), one request.\n"
    "  --listen ADDRESS  listen by itself: unix:PATH (mode 0666: its\n"
    "                    directory decides who connects), HOST:PORT,\n"
    "                    [IPv6]:PORT or :PORT (for Apache, nginx; TCP\n"
    "                    peers limited by FCGI_WEB_SERVER_ADDRS)\n"
    "  --workers N       worker processes with --listen (default: the\n"
    "                    cores, max 1024); each serves FCGI_THREADS\n"
    "                    connections at a time\n"
    "  --check-config    check the environment (todos-fcgi(8), ENVIRONMENT)\n"
    "                    and exit: 0 if valid, 78 with one line if not\n";

static const char *
lookup(const char *name)
{
	return getenv(name);
}

static int	usage_error(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* A command-line mistake: the message, then the usage; EXIT_USAGE. */
static int
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage, stderr);
	return EXIT_USAGE;
}

int
main(int argc, char *argv[])
{
	static struct endpoint	ep;
	static struct peers	peers;
	struct config	 cfg;
	const char	*listen = NULL;
	char		 why[256], *end;
	sigset_t	 ours, old;
	long		 workers = sysconf(_SC_NPROCESSORS_ONLN);
	int		 i, check_only = 0, have_workers = 0;
	pid_t		 parent = getppid();	/* before anything slow */

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "--version") == 0) {
			puts(PROG " " VERSION);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "--check-config") == 0)
			check_only = 1;
		else if (strcmp(argv[i], "--listen") == 0) {
			if (i + 1 == argc)
				return usage_error("%s needs an address",
				    argv[i]);
			listen = argv[++i];
			if (endpoint_parse(listen, &ep, why, sizeof(why)) ==
			    -1) {
				fprintf(stderr, "%s: --listen '%.300s': %s\n",
				    PROG, listen, why);
				return EXIT_USAGE;
			}
		}
		else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			errno = 0;
			workers = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] ||
			    workers < 1 || workers > DAEMON_WORKERS_MAX) {
				fprintf(stderr, "%s: --workers: '%.32s' is not "
				    "a number in 1..%d\n", PROG, argv[i],
				    DAEMON_WORKERS_MAX);
				return EXIT_USAGE;
			}
			have_workers = 1;
		} else if (strcmp(argv[i], "--workers") == 0)
			return usage_error("%s needs a number", argv[i]);
		else
			return usage_error("unknown option '%.100s'", argv[i]);
	}
	if (have_workers && listen == NULL) {
		fprintf(stderr, "%s: --workers goes with --listen\n", PROG);
		return EXIT_USAGE;
	}
	if (config_load(&cfg, lookup, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: %s\n", PROG, why);
		return EXIT_CONFIG;
	}
	/* Read by libfcgi's own accept too; ours bypasses it (worker.c). */
	if (peers_parse(getenv("FCGI_WEB_SERVER_ADDRS"), &peers, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "%s: FCGI_WEB_SERVER_ADDRS: %s\n", PROG, why);
		return EXIT_CONFIG;
	}
	if (check_only)
		return EXIT_SUCCESS;
	log_init(PROG, cfg.log_level);

	if (workers < 1 || workers > DAEMON_WORKERS_MAX)
		workers = workers < 1 ? 1 : DAEMON_WORKERS_MAX;
	if (listen != NULL)
		return daemon_run(&cfg, &ep, (int)workers, &peers);
	worker_signals(&ours);
	(void)sigprocmask(SIG_BLOCK, &ours, &old);
	if (FCGX_Init() != 0) {
		log_error("%s: FCGX_Init failed", __func__);
		return EXIT_FAILURE;
	}
	/* fd 0 not a socket: a CGI program, or someone at a terminal. */
	if (FCGX_IsCGI()) {
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		if (getenv("GATEWAY_INTERFACE") != NULL)
			return worker_cgi(&cfg);
		log_error("%s: not started by a web server (neither FastCGI "
		    "nor CGI); see --help", __func__);
		return EXIT_FAILURE;
	}
	/*
	 * Spawned by a web server on fd 0 (lighttpd's bin-path, mod_fcgid):
	 * stop when it dies, as the daemon's workers do, rather than live on
	 * as an orphan nobody will signal.  Not when started by init
	 * (systemd socket activation: parent 1), which outlives us anyway.
	 */
	if (parent != 1) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
			log_warn("%s: prctl(PR_SET_PDEATHSIG): %s", __func__,
			    strerror(errno));
		else if (getppid() != parent) {
			log_warn("%s: the web server that started us is gone",
			    __func__);
			return EXIT_FAILURE;
		}
	}
	return worker_run(&cfg, 0, &peers);
}
