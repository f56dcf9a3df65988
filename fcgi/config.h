/*
 * config.h: the environment, read once at start into typed, range-checked
 * values.  A bad value stops start-up with one line naming the variable.
 *
 * Pure: the caller passes the lookup function (getenv in production, a
 * table in the unit tests), so nothing here touches the process state.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "log.h"

#define CONFIG_URL_MAX		1024
#define CONFIG_HOST_MAX		256
#define CONFIG_PATH_MAX		108	/* sun_path */
#define CONFIG_SECRET_MAX	256
#define CONFIG_PREFIX_MAX	128

#define CONFIG_SENTINELS_MAX	8

#define CONFIG_THREADS_DEFAULT		32	/* FCGI_THREADS */
#define CONFIG_BACKGROUND_DEFAULT	8	/* BACKGROUND_THREADS */
#define CONFIG_THREADS_MAX		1024

/* Where Redis is: REDIS_URL parsed, or the sentinels that know. */
struct redis_target {
	int	 is_unix;
	char	 host[CONFIG_HOST_MAX];		/* tcp: name or address */
	int	 port;				/* tcp: 1..65535 */
	char	 path[CONFIG_PATH_MAX];		/* unix: socket path */
	int	 db;				/* SELECT db, 0..15 */
	char	 password[CONFIG_SECRET_MAX];	/* AUTH when non-empty */
	int	 nsentinels;			/* > 0: ask them for the primary */
	struct {
		char	 host[CONFIG_HOST_MAX];
		int	 port;
	}	 sentinels[CONFIG_SENTINELS_MAX];
	char	 master[CONFIG_PREFIX_MAX];	/* REDIS_MASTER */
};

struct config {
	int			 port;			/* PORT, lighttpd's */
	char			 upstream_url[CONFIG_URL_MAX];	/* no trailing / */
	struct redis_target	 redis;
	long			 redis_timeout_ms;
	long			 cache_ttl;		/* seconds */
	long			 stale_ttl;		/* kept past freshness */
	long			 stale_while_revalidate;	/* <= stale_ttl */
	long			 negative_ttl;		/* 404s; 0: not cached */
	long			 circuit_failures;
	long			 circuit_cooldown_ms;
	char			 purge_token[CONFIG_SECRET_MAX]; /* "": off */
	long			 local_cache_bytes;	/* 0: off */
	long			 threads;		/* requests at once,
							   per process */
	long			 background_threads;	/* refresh, gzip */
	long			 io_timeout_ms;		/* per FastCGI read
							   or write */
	char			 metrics_file[CONFIG_PATH_MAX + 64]; /* "": none */
	long			 upstream_timeout_ms;
	long			 upstream_max_bytes;
	char			 cache_prefix[CONFIG_PREFIX_MAX];
	enum log_level		 log_level;
};

typedef const char *(*config_lookup)(const char *name);

/*
 * Fills cfg from the variables lookup() returns (NULL: unset, default).
 * Returns 0, or -1 with a one-line reason starting with the variable's name
 * in err (NUL-terminated, truncated to errsz).
 */
int	config_load(struct config *cfg, config_lookup lookup, char *err,
	    size_t errsz);

/* Parses a REDIS_URL value; same contract as config_load, no name prefix. */
int	config_redis_url(struct redis_target *t, const char *url, char *err,
	    size_t errsz);

#endif /* CONFIG_H */
