/*
 * test_config.c: table-driven tests of config_load() and config_redis_url().
 *
 * The environment is a static table that each test points `env` at; the
 * lookup function reads only that, so nothing here calls setenv() or depends
 * on the environment the tests run in.  Every row carries its __LINE__ and a
 * failing row is printed with the variable, its value and the result.
 */
#include "unit.h"
#include "config.h"

/* The environment config_load() sees: at most a few variables. */
#define ENV_MAX	4

struct var {
	const char	*name;
	const char	*value;
};

static struct var	env[ENV_MAX];

/* The setup of every config test: reset(), and an empty environment. */
static int
reset_env(void **state)
{
	memset(env, 0, sizeof(env));
	return reset(state);
}

static const char *
lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < ENV_MAX && env[i].name != NULL; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

/* Sets the environment to the one variable name=value (value may be NULL). */
static void
env_one(const char *name, const char *value)
{
	memset(env, 0, sizeof(env));
	env[0].name = name;
	env[0].value = value;
}

/* The same with two variables; name2 NULL: just the first. */
static void
env_two(const char *name, const char *value, const char *name2,
    const char *value2)
{
	env_one(name, value);
	env[1].name = name2;
	env[1].value = value2;
}

/* Long strings the tables point at; filled by fill_long_values(). */
static char	prefix_127[128];	/* the longest prefix that fits */
static char	prefix_128[129];
static char	prefix_200[201];
static char	url_long[CONFIG_URL_MAX + 32];	/* http://aaaa...: too long */
static char	unix_107[8 + 107];	/* unix:// + a 107-byte path: fits */
static char	unix_108[8 + 108];	/* unix:// + a 108-byte path: not */
static char	token_15[16];		/* PURGE_TOKEN: too short */
static char	token_16[17];		/* the shortest */
static char	token_255[256];		/* the longest */
static char	token_256[257];
static char	token_hunter2[300];	/* "hunter2" over and over: too long */

static void
fill_long_values(void)
{
	memset(prefix_127, 'p', sizeof(prefix_127) - 1);
	memset(prefix_128, 'p', sizeof(prefix_128) - 1);
	memset(prefix_200, 'p', sizeof(prefix_200) - 1);
	memset(url_long, 'a', sizeof(url_long) - 1);
	memcpy(url_long, "http://", 7);
	memset(unix_107, 'a', sizeof(unix_107) - 1);
	memcpy(unix_107, "unix:///", 8);
	memset(unix_108, 'a', sizeof(unix_108) - 1);
	memcpy(unix_108, "unix:///", 8);
	memset(token_15, 'T', sizeof(token_15) - 1);
	memset(token_16, 'T', sizeof(token_16) - 1);
	memset(token_255, 'T', sizeof(token_255) - 1);
	memset(token_256, 'T', sizeof(token_256) - 1);
	memset(token_hunter2, 0, sizeof(token_hunter2));
	while (strlen(token_hunter2) + 7 < sizeof(token_hunter2))
		strcat(token_hunter2, "hunter2");
}

static void
check_defaults(int line, const struct config *c)
{
	if (c->port != 5000)
		row_fail(line, "port %d, want 5000", c->port);
	if (c->cache_ttl != 60)
		row_fail(line, "cache_ttl %ld, want 60", c->cache_ttl);
	if (c->upstream_timeout_ms != 5000)
		row_fail(line, "upstream_timeout_ms %ld, want 5000",
		    c->upstream_timeout_ms);
	if (c->upstream_max_bytes != 8388608)
		row_fail(line, "upstream_max_bytes %ld, want 8388608",
		    c->upstream_max_bytes);
	if (c->redis_timeout_ms != 250)
		row_fail(line, "redis_timeout_ms %ld, want 250",
		    c->redis_timeout_ms);
	if (strcmp(c->upstream_url, "https://jsonplaceholder.typicode.com"))
		row_fail(line, "upstream_url \"%s\"", c->upstream_url);
	if (strcmp(c->cache_prefix, "todos:v1:") != 0)
		row_fail(line, "cache_prefix \"%s\", want \"todos:v1:\"",
		    c->cache_prefix);
	if (c->log_level != LOG_INFO)
		row_fail(line, "log_level %d, want LOG_INFO",
		    (int)c->log_level);
	if (c->stale_ttl != 3600)
		row_fail(line, "stale_ttl %ld, want 3600", c->stale_ttl);
	if (c->stale_while_revalidate != 30)
		row_fail(line, "stale_while_revalidate %ld, want 30",
		    c->stale_while_revalidate);
	if (c->negative_ttl != 10)
		row_fail(line, "negative_ttl %ld, want 10", c->negative_ttl);
	if (c->circuit_failures != 5)
		row_fail(line, "circuit_failures %ld, want 5",
		    c->circuit_failures);
	if (c->circuit_cooldown_ms != 5000)
		row_fail(line, "circuit_cooldown_ms %ld, want 5000",
		    c->circuit_cooldown_ms);
	if (c->purge_token[0] != '\0')
		row_fail(line, "purge_token set (%zu bytes), want \"\" (off)",
		    strlen(c->purge_token));
	if (c->redis.is_unix || strcmp(c->redis.host, "127.0.0.1") != 0 ||
	    c->redis.port != 6379 || c->redis.db != 0 ||
	    c->redis.password[0] != '\0')
		row_fail(line, "redis is_unix %d host \"%s\" port %d db %d, "
		    "want redis://127.0.0.1:6379/0", c->redis.is_unix,
		    c->redis.host, c->redis.port, c->redis.db);
}

static void
test_config_defaults(void **state)
{
	struct config	c;
	char		err[256];

	(void)state;
	memset(err, 'x', sizeof(err));
	if (config_load(&c, lookup, err, sizeof(err)) != 0)
		row_fail(__LINE__, "nothing set: -1 \"%s\"", err);
	else {
		check_defaults(__LINE__, &c);
		if (err[0] != '\0')
			row_fail(__LINE__, "success leaves err \"%.32s\"", err);
	}
	done();
}

/* Every variable set to "" is unset: the defaults. */
static void
test_config_empty_is_unset(void **state)
{
	static const struct {
		int		 line;
		const char	*name;
	} rows[] = {
		{ __LINE__, "PORT" },
		{ __LINE__, "CACHE_TTL" },
		{ __LINE__, "UPSTREAM_TIMEOUT_MS" },
		{ __LINE__, "UPSTREAM_MAX_BYTES" },
		{ __LINE__, "REDIS_TIMEOUT_MS" },
		{ __LINE__, "UPSTREAM_URL" },
		{ __LINE__, "CACHE_PREFIX" },
		{ __LINE__, "LOG_LEVEL" },
		{ __LINE__, "REDIS_URL" },
		{ __LINE__, "STALE_TTL" },
		{ __LINE__, "STALE_WHILE_REVALIDATE" },
		{ __LINE__, "NEGATIVE_TTL" },
		{ __LINE__, "CIRCUIT_FAILURES" },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS" },
		{ __LINE__, "PURGE_TOKEN" },
	};
	struct config	c;
	char		err[256];
	size_t		i;
	int		before;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one(rows[i].name, "");
		if (config_load(&c, lookup, err, sizeof(err)) != 0) {
			row_fail(rows[i].line, "%s=\"\": -1 \"%s\", want the "
			    "default", rows[i].name, err);
			continue;
		}
		before = bad;
		check_defaults(rows[i].line, &c);
		if (bad != before)
			row_fail(rows[i].line, "%s=\"\" did not give the "
			    "defaults", rows[i].name);
	}
	done();
}

/* Field of c that the numeric variable name sets. */
static long
numeric(const struct config *c, const char *name)
{
	if (strcmp(name, "PORT") == 0)
		return c->port;
	if (strcmp(name, "CACHE_TTL") == 0)
		return c->cache_ttl;
	if (strcmp(name, "UPSTREAM_TIMEOUT_MS") == 0)
		return c->upstream_timeout_ms;
	if (strcmp(name, "UPSTREAM_MAX_BYTES") == 0)
		return c->upstream_max_bytes;
	if (strcmp(name, "REDIS_TIMEOUT_MS") == 0)
		return c->redis_timeout_ms;
	if (strcmp(name, "STALE_TTL") == 0)
		return c->stale_ttl;
	if (strcmp(name, "STALE_WHILE_REVALIDATE") == 0)
		return c->stale_while_revalidate;
	if (strcmp(name, "NEGATIVE_TTL") == 0)
		return c->negative_ttl;
	if (strcmp(name, "CIRCUIT_FAILURES") == 0)
		return c->circuit_failures;
	if (strcmp(name, "CIRCUIT_COOLDOWN_MS") == 0)
		return c->circuit_cooldown_ms;
	return -12345;
}

static void
test_config_valid_numbers(void **state)
{
	static const struct {
		int		 line;
		const char	*name;
		const char	*value;
		long		 want;
	} rows[] = {
		{ __LINE__, "PORT", "1", 1 },
		{ __LINE__, "PORT", "8080", 8080 },
		{ __LINE__, "PORT", "65535", 65535 },
		{ __LINE__, "CACHE_TTL", "1", 1 },
		{ __LINE__, "CACHE_TTL", "300", 300 },
		{ __LINE__, "CACHE_TTL", "007", 7 },
		{ __LINE__, "CACHE_TTL", "31536000", 31536000 },
		{ __LINE__, "UPSTREAM_TIMEOUT_MS", "1", 1 },
		{ __LINE__, "UPSTREAM_TIMEOUT_MS", "600000", 600000 },
		{ __LINE__, "UPSTREAM_MAX_BYTES", "1024", 1024 },
		{ __LINE__, "UPSTREAM_MAX_BYTES", "1073741824", 1073741824 },
		{ __LINE__, "REDIS_TIMEOUT_MS", "1", 1 },
		{ __LINE__, "REDIS_TIMEOUT_MS", "60000", 60000 },
		/* alone, STALE_TTL must stay >= the default window, 30 */
		{ __LINE__, "STALE_TTL", "30", 30 },
		{ __LINE__, "STALE_TTL", "86400", 86400 },
		{ __LINE__, "STALE_TTL", "31536000", 31536000 },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "0", 0 },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "1", 1 },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "3600", 3600 },
		{ __LINE__, "NEGATIVE_TTL", "0", 0 },		/* off */
		{ __LINE__, "NEGATIVE_TTL", "1", 1 },
		{ __LINE__, "NEGATIVE_TTL", "31536000", 31536000 },
		{ __LINE__, "CIRCUIT_FAILURES", "1", 1 },
		{ __LINE__, "CIRCUIT_FAILURES", "1000000", 1000000 },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS", "1", 1 },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS", "3600000", 3600000 },
	};
	struct config	c;
	char		err[256];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one(rows[i].name, rows[i].value);
		if (config_load(&c, lookup, err, sizeof(err)) != 0)
			row_fail(rows[i].line, "%s=\"%s\": -1 \"%s\"",
			    rows[i].name, rows[i].value, err);
		else if (numeric(&c, rows[i].name) != rows[i].want)
			row_fail(rows[i].line, "%s=\"%s\": %ld, want %ld",
			    rows[i].name, rows[i].value,
			    numeric(&c, rows[i].name), rows[i].want);
	}
	done();
}

static void
test_config_valid_strings(void **state)
{
	static const struct {
		int		 line;
		const char	*name;
		const char	*value;
		const char	*want;	/* upstream_url, cache_prefix or
					   purge_token */
		enum log_level	 level;
	} rows[] = {
		{ __LINE__, "UPSTREAM_URL", "http://127.0.0.1:8080",
		    "http://127.0.0.1:8080", LOG_INFO },
		{ __LINE__, "UPSTREAM_URL", "https://example.com/",
		    "https://example.com", LOG_INFO },
		{ __LINE__, "UPSTREAM_URL", "http://h:1/api///",
		    "http://h:1/api", LOG_INFO },
		{ __LINE__, "UPSTREAM_URL", "http://h/base",
		    "http://h/base", LOG_INFO },
		{ __LINE__, "CACHE_PREFIX", "t:", "t:", LOG_INFO },
		{ __LINE__, "CACHE_PREFIX", "todos:v2:", "todos:v2:",
		    LOG_INFO },
		{ __LINE__, "CACHE_PREFIX", prefix_127, prefix_127, LOG_INFO },
		{ __LINE__, "LOG_LEVEL", "error", NULL, LOG_ERROR },
		{ __LINE__, "LOG_LEVEL", "warn", NULL, LOG_WARN },
		{ __LINE__, "LOG_LEVEL", "warning", NULL, LOG_WARN },
		{ __LINE__, "LOG_LEVEL", "info", NULL, LOG_INFO },
		{ __LINE__, "LOG_LEVEL", "debug", NULL, LOG_DEBUG },
		{ __LINE__, "LOG_LEVEL", "DEBUG", NULL, LOG_DEBUG },
		{ __LINE__, "PURGE_TOKEN", token_16, token_16, LOG_INFO },
		{ __LINE__, "PURGE_TOKEN", token_255, token_255, LOG_INFO },
		/* every printable byte class, no space */
		{ __LINE__, "PURGE_TOKEN", "!\"#$%&'()*+,-./09:;<=>?@AZ"
		    "[\\]^_`az{|}~", "!\"#$%&'()*+,-./09:;<=>?@AZ"
		    "[\\]^_`az{|}~", LOG_INFO },
	};
	struct config	 c;
	const char	*got;
	char		 err[256];
	size_t		 i;

	(void)state;
	fill_long_values();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one(rows[i].name, rows[i].value);
		if (config_load(&c, lookup, err, sizeof(err)) != 0) {
			row_fail(rows[i].line, "%s=\"%.40s\": -1 \"%s\"",
			    rows[i].name, rows[i].value, err);
			continue;
		}
		if (strcmp(rows[i].name, "UPSTREAM_URL") == 0)
			got = c.upstream_url;
		else if (strcmp(rows[i].name, "PURGE_TOKEN") == 0)
			got = c.purge_token;
		else
			got = c.cache_prefix;
		if (rows[i].want != NULL && strcmp(got, rows[i].want) != 0)
			row_fail(rows[i].line, "%s=\"%.40s\": \"%.40s\", want "
			    "\"%.40s\"", rows[i].name, rows[i].value, got,
			    rows[i].want);
		if (c.log_level != rows[i].level)
			row_fail(rows[i].line, "%s=\"%s\": log_level %d, "
			    "want %d", rows[i].name, rows[i].value,
			    (int)c.log_level, (int)rows[i].level);
	}
	done();
}

/* A bad value: -1 and a reason that starts with "NAME:", on one line. */
static void
test_config_invalid(void **state)
{
	static const struct {
		int		 line;
		const char	*name;
		const char	*value;
	} rows[] = {
		{ __LINE__, "CACHE_TTL", "abc" },
		{ __LINE__, "CACHE_TTL", "0" },
		{ __LINE__, "CACHE_TTL", "-5" },
		{ __LINE__, "CACHE_TTL", "+5" },
		{ __LINE__, "CACHE_TTL", " 5" },
		{ __LINE__, "CACHE_TTL", "5 " },
		{ __LINE__, "CACHE_TTL", "5x" },
		{ __LINE__, "CACHE_TTL", "0x10" },
		{ __LINE__, "CACHE_TTL", "1e3" },
		{ __LINE__, "CACHE_TTL", "31536001" },
		{ __LINE__, "CACHE_TTL", "99999999999999999999" },
		{ __LINE__, "PORT", "0" },
		{ __LINE__, "PORT", "65536" },
		{ __LINE__, "PORT", "http" },
		{ __LINE__, "UPSTREAM_TIMEOUT_MS", "0" },
		{ __LINE__, "UPSTREAM_TIMEOUT_MS", "600001" },
		{ __LINE__, "UPSTREAM_MAX_BYTES", "10" },
		{ __LINE__, "UPSTREAM_MAX_BYTES", "1023" },
		{ __LINE__, "UPSTREAM_MAX_BYTES", "1073741825" },
		{ __LINE__, "REDIS_TIMEOUT_MS", "0" },
		{ __LINE__, "REDIS_TIMEOUT_MS", "60001" },
		{ __LINE__, "LOG_LEVEL", "loud" },
		{ __LINE__, "LOG_LEVEL", "info " },
		{ __LINE__, "UPSTREAM_URL", "ftp://x" },
		{ __LINE__, "UPSTREAM_URL", "jsonplaceholder.typicode.com" },
		{ __LINE__, "UPSTREAM_URL", "http://" },
		{ __LINE__, "UPSTREAM_URL", "https://" },
		{ __LINE__, "UPSTREAM_URL", "http:///" },
		{ __LINE__, "UPSTREAM_URL", "http:///path" },
		{ __LINE__, "UPSTREAM_URL", "http://:80" },
		{ __LINE__, "UPSTREAM_URL", "http://a b" },
		{ __LINE__, "UPSTREAM_URL", "http://a\tb" },
		{ __LINE__, "UPSTREAM_URL", "http://a/?q" },
		{ __LINE__, "UPSTREAM_URL", "http://a?q=1" },
		{ __LINE__, "UPSTREAM_URL", "http://a#f" },
		{ __LINE__, "UPSTREAM_URL", url_long },
		{ __LINE__, "REDIS_URL", "ftp://x" },
		{ __LINE__, "REDIS_URL", "redis://h:0" },
		{ __LINE__, "REDIS_URL", "redis://h/16" },
		{ __LINE__, "CACHE_PREFIX", "todos v1:" },
		{ __LINE__, "CACHE_PREFIX", "todos:\x01" },
		{ __LINE__, "CACHE_PREFIX", prefix_128 },
		{ __LINE__, "CACHE_PREFIX", prefix_200 },
		{ __LINE__, "STALE_TTL", "-1" },
		{ __LINE__, "STALE_TTL", "31536001" },
		{ __LINE__, "STALE_TTL", "1h" },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "-1" },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "31536001" },
		{ __LINE__, "STALE_WHILE_REVALIDATE", "x" },
		/* more than the default STALE_TTL, 3600 */
		{ __LINE__, "STALE_WHILE_REVALIDATE", "3601" },
		{ __LINE__, "NEGATIVE_TTL", "-1" },
		{ __LINE__, "NEGATIVE_TTL", "31536001" },
		{ __LINE__, "NEGATIVE_TTL", "10s" },
		{ __LINE__, "CIRCUIT_FAILURES", "0" },
		{ __LINE__, "CIRCUIT_FAILURES", "1000001" },
		{ __LINE__, "CIRCUIT_FAILURES", "-1" },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS", "0" },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS", "3600001" },
		{ __LINE__, "CIRCUIT_COOLDOWN_MS", "5 " },
		{ __LINE__, "PURGE_TOKEN", "x" },
		{ __LINE__, "PURGE_TOKEN", token_15 },
		{ __LINE__, "PURGE_TOKEN", token_256 },
		{ __LINE__, "PURGE_TOKEN", "0123456789 abcdef" },
		{ __LINE__, "PURGE_TOKEN", "0123456789\tabcdef" },
		{ __LINE__, "PURGE_TOKEN", " 0123456789abcdef" },
		{ __LINE__, "PURGE_TOKEN", "0123456789abcdef " },
		{ __LINE__, "PURGE_TOKEN", "0123456789\x7f" "abcdef" },
		{ __LINE__, "PURGE_TOKEN", "0123456789\x80" "abcdef" },
		{ __LINE__, "PURGE_TOKEN", "0123456789\xc3\xa9" "abcdef" },
		{ __LINE__, "PURGE_TOKEN", "0123456789\x01" "abcdef" },
	};
	struct config	c;
	char		err[256], want[64];
	size_t		i;

	(void)state;
	fill_long_values();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one(rows[i].name, rows[i].value);
		memset(err, 0, sizeof(err));
		(void)snprintf(want, sizeof(want), "%s:", rows[i].name);
		if (config_load(&c, lookup, err, sizeof(err)) != -1)
			row_fail(rows[i].line, "%s=\"%.40s\": accepted, "
			    "want -1", rows[i].name, rows[i].value);
		else if (strncmp(err, want, strlen(want)) != 0)
			row_fail(rows[i].line, "%s=\"%.40s\": err \"%s\" does "
			    "not start with \"%s\"", rows[i].name,
			    rows[i].value, err, want);
		else if (strchr(err, '\n') != NULL)
			row_fail(rows[i].line, "%s=\"%.40s\": err \"%s\" is "
			    "not one line", rows[i].name, rows[i].value, err);
	}
	done();
}

/*
 * STALE_WHILE_REVALIDATE may not outlast STALE_TTL (entries would be gone
 * before the window ends); the error names STALE_WHILE_REVALIDATE.  Unset,
 * the window is the default 30 or STALE_TTL, whichever is smaller.
 */
static void
test_config_stale_pair(void **state)
{
	static const struct {
		int		 line;
		const char	*stale_ttl;	/* NULL: unset */
		const char	*swr;		/* NULL: unset */
		int		 ok;
		long		 want_ttl;
		long		 want_swr;
	} rows[] = {
		{ __LINE__, "0", "0", 1, 0, 0 },
		{ __LINE__, "100", "100", 1, 100, 100 },
		{ __LINE__, "100", "99", 1, 100, 99 },
		{ __LINE__, "100", "0", 1, 100, 0 },
		{ __LINE__, "31536000", "31536000", 1, 31536000, 31536000 },
		{ __LINE__, NULL, "3600", 1, 3600, 3600 },
		{ __LINE__, "30", NULL, 1, 30, 30 },
		{ __LINE__, "", "", 1, 3600, 30 },
		{ __LINE__, "100", "101", 0, 0, 0 },
		{ __LINE__, "0", "1", 0, 0, 0 },
		{ __LINE__, "29", NULL, 1, 29, 29 },
		{ __LINE__, "0", NULL, 1, 0, 0 },
		{ __LINE__, "0", "", 1, 0, 0 },
		{ __LINE__, NULL, "3601", 0, 0, 0 },
	};
	struct config	c;
	char		err[256];
	size_t		i;
	int		rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_two("STALE_TTL", rows[i].stale_ttl,
		    "STALE_WHILE_REVALIDATE", rows[i].swr);
		memset(err, 0, sizeof(err));
		rc = config_load(&c, lookup, err, sizeof(err));
		if (rows[i].ok && rc != 0)
			row_fail(rows[i].line, "STALE_TTL=%s "
			    "STALE_WHILE_REVALIDATE=%s: -1 \"%s\"",
			    rows[i].stale_ttl ? rows[i].stale_ttl : "(unset)",
			    rows[i].swr ? rows[i].swr : "(unset)", err);
		else if (rows[i].ok && (c.stale_ttl != rows[i].want_ttl ||
		    c.stale_while_revalidate != rows[i].want_swr))
			row_fail(rows[i].line, "STALE_TTL=%s "
			    "STALE_WHILE_REVALIDATE=%s: %ld %ld, want %ld %ld",
			    rows[i].stale_ttl ? rows[i].stale_ttl : "(unset)",
			    rows[i].swr ? rows[i].swr : "(unset)", c.stale_ttl,
			    c.stale_while_revalidate, rows[i].want_ttl,
			    rows[i].want_swr);
		else if (!rows[i].ok && (rc != -1 || strncmp(err,
		    "STALE_WHILE_REVALIDATE:", 23) != 0 ||
		    strpbrk(err, "\r\n") != NULL))
			row_fail(rows[i].line, "STALE_TTL=%s "
			    "STALE_WHILE_REVALIDATE=%s: %d \"%s\", want -1 "
			    "\"STALE_WHILE_REVALIDATE: ...\" on one line",
			    rows[i].stale_ttl ? rows[i].stale_ttl : "(unset)",
			    rows[i].swr ? rows[i].swr : "(unset)", rc, err);
	}
	done();
}

/*
 * PURGE_TOKEN is a secret: a rejected value is never part of the error
 * line (STYLE.md habit 8), not even in part.
 */
static void
test_config_error_hides_token(void **state)
{
	static const struct {
		int		 line;
		const char	*value;
	} rows[] = {
		{ __LINE__, "hunter2" },			/* too short */
		{ __LINE__, "hunter2 hunter2 hunter2" },	/* spaces */
		{ __LINE__, "hunter2hunter2\nhunter2" },
		{ __LINE__, "hunter2hunter2\x80hunter2" },
		{ __LINE__, token_hunter2 },			/* too long */
	};
	struct config	c;
	char		err[256], shown[512];
	size_t		i;

	(void)state;
	fill_long_values();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one("PURGE_TOKEN", rows[i].value);
		memset(err, 0, sizeof(err));
		if (config_load(&c, lookup, err, sizeof(err)) != -1)
			row_fail(rows[i].line, "PURGE_TOKEN=\"%.40s\": "
			    "accepted", rows[i].value);
		else if (strncmp(err, "PURGE_TOKEN:", 12) != 0)
			row_fail(rows[i].line, "PURGE_TOKEN=\"%.40s\": err "
			    "\"%s\" does not start with \"PURGE_TOKEN:\"",
			    rows[i].value, err);
		else if (strstr(err, "hunter") != NULL)
			row_fail(rows[i].line, "PURGE_TOKEN: the error line "
			    "shows the token: %s",
			    show_str(err, shown, sizeof(shown)));
	}
	done();
}

/* err is NUL-terminated whatever its size; errsz 0 writes nothing. */
static void
test_config_err_truncated(void **state)
{
	struct config	c;
	char		err[8];
	size_t		size;

	(void)state;
	env_one("CACHE_TTL", "abc");
	for (size = 1; size <= sizeof(err); size++) {
		memset(err, 'x', sizeof(err));
		if (config_load(&c, lookup, err, size) != -1)
			row_fail(__LINE__, "errsz %zu: accepted", size);
		else if (memchr(err, '\0', size) == NULL)
			row_fail(__LINE__, "errsz %zu: not NUL-terminated",
			    size);
		else if (strncmp(err, "CACHE_TTL:", size - 1) != 0)
			row_fail(__LINE__, "errsz %zu: \"%s\"", size, err);
	}
	memset(err, 'x', sizeof(err));
	if (config_load(&c, lookup, err, 0) != -1)
		row_fail(__LINE__, "errsz 0: accepted");
	else if (err[0] != 'x')
		row_fail(__LINE__, "errsz 0: err written to");
	done();
}

struct url_row {
	int		 line;
	const char	*url;
	int		 ok;
	int		 is_unix;
	const char	*host;
	int		 port;
	const char	*path;
	int		 db;
	const char	*password;
};

#define TCP(u, h, port, db, pw)	{ __LINE__, u, 1, 0, h, port, "", db, pw }
#define UNIX(u, path, db)	{ __LINE__, u, 1, 1, "", 6379, path, db, "" }
#define BAD(u)			{ __LINE__, u, 0, 0, "", 0, "", 0, "" }

static const struct url_row url_rows[] = {
	TCP("redis://h", "h", 6379, 0, ""),
	TCP("redis://h/", "h", 6379, 0, ""),
	TCP("redis://h:6380/2", "h", 6380, 2, ""),
	TCP("redis://h/15", "h", 6379, 15, ""),
	TCP("redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, ""),
	TCP("redis://redis.internal-1_a:65535", "redis.internal-1_a", 65535,
	    0, ""),
	TCP("redis://:secret@h:1/3", "h", 1, 3, "secret"),
	TCP("redis://user:pw@h", "h", 6379, 0, "pw"),
	TCP("redis://user@h", "h", 6379, 0, ""),
	TCP("redis://[::1]:6379/0", "::1", 6379, 0, ""),
	TCP("redis://[::1]", "::1", 6379, 0, ""),
	TCP("redis://:p@[fe80::1]:7000/1", "fe80::1", 7000, 1, "p"),
	/* Percent-escapes in the password are decoded (RFC 3986 2.1). */
	TCP("redis://:p%40ss@h", "h", 6379, 0, "p@ss"),
	TCP("redis://:a%2Fb%3Ac%25d@h:7/1", "h", 7, 1, "a/b:c%d"),
	TCP("redis://u:%2f%3a@h", "h", 6379, 0, "/:"),
	UNIX("unix:///tmp/r.sock", "/tmp/r.sock", 0),
	UNIX("unix:///tmp/r.sock?db=4", "/tmp/r.sock", 4),
	UNIX("unix:///tmp/r.sock?db=15", "/tmp/r.sock", 15),
	BAD("unix://relative"),
	BAD("unix://"),
	BAD("unix:///tmp/x?db=99"),
	BAD("unix:///tmp/x?db=16"),
	BAD("unix:///tmp/x?db="),
	BAD("unix:///tmp/x?foo=1"),
	BAD("redis://"),
	BAD("redis:///0"),
	BAD("redis://h:0"),
	BAD("redis://h:70000"),
	BAD("redis://h:"),
	BAD("redis://h:-1"),
	BAD("redis://h/16"),
	BAD("redis://h/-1"),
	BAD("redis://h/x"),
	BAD("redis://h/1/2"),
	BAD("redis://h:port"),
	BAD("redis://h h"),
	BAD("redis://h?db=1"),
	BAD("redis://:p%4@h"),		/* escape cut short */
	BAD("redis://:p%zz@h"),		/* not hex */
	BAD("redis://:p%00@h"),		/* decodes to NUL */
	BAD("redis://:p%@h"),
	BAD("redis://[::1"),
	BAD("redis://[::1]x"),
	BAD("redis://[]"),
	BAD("rediss://h"),
	BAD("ftp://x"),
	BAD(""),
	BAD(unix_108),
};

static void
check_url_row(const struct url_row *row)
{
	struct redis_target	t;
	char			err[256];
	int			rc;

	memset(err, 0, sizeof(err));
	rc = config_redis_url(&t, row->url, err, sizeof(err));
	if (!row->ok) {
		if (rc != -1)
			row_fail(row->line, "\"%.60s\": accepted, want -1",
			    row->url);
		else if (err[0] == '\0' || strchr(err, '\n') != NULL)
			row_fail(row->line, "\"%.60s\": err \"%s\" not one "
			    "line", row->url, err);
		return;
	}
	if (rc != 0) {
		row_fail(row->line, "\"%.60s\": -1 \"%s\"", row->url, err);
		return;
	}
	if (t.is_unix != row->is_unix || strcmp(t.host, row->host) != 0 ||
	    t.port != row->port || strcmp(t.path, row->path) != 0 ||
	    t.db != row->db || strcmp(t.password, row->password) != 0)
		row_fail(row->line, "\"%.60s\": is_unix %d host \"%s\" port %d "
		    "path \"%.40s\" db %d password \"%s\"; want %d \"%s\" %d "
		    "\"%.40s\" %d \"%s\"", row->url, t.is_unix, t.host, t.port,
		    t.path, t.db, t.password, row->is_unix, row->host,
		    row->port, row->path, row->db, row->password);
}

static void
test_config_redis_url(void **state)
{
	size_t	i;

	(void)state;
	fill_long_values();
	for (i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++)
		check_url_row(&url_rows[i]);
	done();
}

/* The longest unix socket path that fits sun_path: 107 bytes. */
static void
test_config_redis_url_unix_max(void **state)
{
	struct redis_target	t;
	char			err[256];

	(void)state;
	fill_long_values();
	if (config_redis_url(&t, unix_107, err, sizeof(err)) != 0)
		row_fail(__LINE__, "107-byte path: -1 \"%s\"", err);
	else if (!t.is_unix || strlen(t.path) != 107 ||
	    strcmp(t.path, unix_107 + 7) != 0)
		row_fail(__LINE__, "107-byte path: is_unix %d, %zu bytes",
		    t.is_unix, strlen(t.path));
	done();
}

/* REDIS_URL through config_load: errors carry the "REDIS_URL:" prefix. */
static void
test_config_load_redis(void **state)
{
	struct config	c;
	char		err[256];

	(void)state;
	env_one("REDIS_URL", "unix:///run/redis/redis.sock?db=2");
	if (config_load(&c, lookup, err, sizeof(err)) != 0)
		row_fail(__LINE__, "unix REDIS_URL: -1 \"%s\"", err);
	else if (!c.redis.is_unix || c.redis.db != 2 ||
	    strcmp(c.redis.path, "/run/redis/redis.sock") != 0)
		row_fail(__LINE__, "unix REDIS_URL: is_unix %d path \"%s\" "
		    "db %d", c.redis.is_unix, c.redis.path, c.redis.db);

	env_one("REDIS_URL", "redis://h:70000");
	if (config_load(&c, lookup, err, sizeof(err)) != -1 ||
	    strncmp(err, "REDIS_URL: ", 11) != 0)
		row_fail(__LINE__, "redis://h:70000: err \"%s\"", err);
	done();
}

/*
 * The start-up error line goes to stderr, i.e. lighttpd's error log, so it
 * must never carry the Redis password (STYLE.md habit 8).  Each row is a
 * REDIS_URL with the password "hunter2" that config_load() rejects.
 */
static void
test_config_error_hides_password(void **state)
{
	static const struct {
		int		 line;
		const char	*url;
	} rows[] = {
		{ __LINE__, "redis://:hunter2@h:0" },
		{ __LINE__, "redis://:hunter2@h/x" },
		{ __LINE__, "redis://u:hunter2@h h" },
		{ __LINE__, "rediss://:hunter2@h" },	/* a TLS URL */
		{ __LINE__, "redis:/:hunter2@h" },	/* a typo */
		{ __LINE__, " redis://:hunter2@h" },
	};
	struct config	c;
	char		err[256];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one("REDIS_URL", rows[i].url);
		memset(err, 0, sizeof(err));
		if (config_load(&c, lookup, err, sizeof(err)) != -1)
			row_fail(rows[i].line, "\"%s\": accepted", rows[i].url);
		else if (strstr(err, "hunter2") != NULL)
			row_fail(rows[i].line, "REDIS_URL=\"%s\": the error "
			    "line shows the password: \"%s\"", rows[i].url,
			    err);
	}
	done();
}

/*
 * config.h promises a one-line reason: a value with a newline in it must not
 * split the start-up error (or forge a second log line).
 */
static void
test_config_error_one_line(void **state)
{
	static const struct {
		int		 line;
		const char	*name;
		const char	*value;
	} rows[] = {
		{ __LINE__, "CACHE_TTL", "5\nx" },
		{ __LINE__, "PORT", "80\r\nfake: line" },
		{ __LINE__, "LOG_LEVEL", "info\n" },
		{ __LINE__, "UPSTREAM_URL", "ftp://x\ny" },
		{ __LINE__, "UPSTREAM_URL", "http://x\ny" },
		{ __LINE__, "CACHE_PREFIX", "a\nb" },
		{ __LINE__, "REDIS_URL", "ftp://x\ny" },
		{ __LINE__, "REDIS_URL", "redis://[::1]\nx" },
		{ __LINE__, "STALE_TTL", "60\n" },
		{ __LINE__, "CIRCUIT_FAILURES", "5\r\n" },
		{ __LINE__, "PURGE_TOKEN", "0123456789\nabcdef" },
	};
	struct config	c;
	char		err[256], shown[512];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		env_one(rows[i].name, rows[i].value);
		memset(err, 0, sizeof(err));
		if (config_load(&c, lookup, err, sizeof(err)) != -1)
			row_fail(rows[i].line, "%s: accepted a newline",
			    rows[i].name);
		else if (strpbrk(err, "\r\n") != NULL)
			row_fail(rows[i].line, "%s: the error is not one line: "
			    "%s", rows[i].name,
			    show_str(err, shown, sizeof(shown)));
	}
	done();
}

/* REDIS_SENTINELS and REDIS_MASTER: parsed together, errors name either. */
static void
test_config_sentinels(void **state)
{
	struct config	c;
	char		err[256];

	(void)state;
	env_two("REDIS_SENTINELS", "127.0.0.1:26379,sentinel-b:26380,[::1]:1",
	    "REDIS_MASTER", "mymaster");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	assert_memory_equal(err, "REDIS_SENTINELS:", 16);

	env_two("REDIS_SENTINELS", "127.0.0.1:26379,sentinel-b:26380",
	    "REDIS_MASTER", "mymaster");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_int_equal(c.redis.nsentinels, 2);
	assert_string_equal(c.redis.sentinels[0].host, "127.0.0.1");
	assert_int_equal(c.redis.sentinels[0].port, 26379);
	assert_string_equal(c.redis.sentinels[1].host, "sentinel-b");
	assert_int_equal(c.redis.sentinels[1].port, 26380);
	assert_string_equal(c.redis.master, "mymaster");

	env_one("REDIS_SENTINELS", "127.0.0.1:26379");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	assert_memory_equal(err, "REDIS_MASTER:", 13);
	env_one("REDIS_MASTER", "mymaster");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	assert_memory_equal(err, "REDIS_MASTER:", 13);
	env_two("REDIS_SENTINELS", "h:0", "REDIS_MASTER", "m");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	env_two("REDIS_SENTINELS", "h", "REDIS_MASTER", "m");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	env_two("REDIS_SENTINELS", "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9",
	    "REDIS_MASTER", "m");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	env_two("REDIS_SENTINELS", "h:1", "REDIS_MASTER", "bad name");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	assert_memory_equal(err, "REDIS_MASTER:", 13);
	env_one("REDIS_SENTINELS", "");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_int_equal(c.redis.nsentinels, 0);
}

/* METRICS_FILE: absolute, or RUNDIR/metrics by default, or none. */
static void
test_config_metrics_file(void **state)
{
	struct config	c;
	char		err[256];

	(void)state;
	env_one("METRICS_FILE", NULL);
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_file, "");
	env_one("RUNDIR", "/tmp/todos-fcgi-5000");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_file, "/tmp/todos-fcgi-5000/metrics");
	env_one("RUNDIR", "relative/dir");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_file, "");
	env_two("METRICS_FILE", "/var/run/m", "RUNDIR", "/tmp/x");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_file, "/var/run/m");
	env_one("METRICS_FILE", "metrics");
	assert_int_equal(config_load(&c, lookup, err, sizeof(err)), -1);
	assert_memory_equal(err, "METRICS_FILE:", 13);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_defaults, reset_env),
		cmocka_unit_test_setup(test_config_empty_is_unset, reset_env),
		cmocka_unit_test_setup(test_config_valid_numbers, reset_env),
		cmocka_unit_test_setup(test_config_valid_strings, reset_env),
		cmocka_unit_test_setup(test_config_invalid, reset_env),
		cmocka_unit_test_setup(test_config_stale_pair, reset_env),
		cmocka_unit_test_setup(test_config_err_truncated, reset_env),
		cmocka_unit_test_setup(test_config_redis_url, reset_env),
		cmocka_unit_test_setup(test_config_redis_url_unix_max,
		    reset_env),
		cmocka_unit_test_setup(test_config_load_redis, reset_env),
		cmocka_unit_test_setup(test_config_error_hides_password,
		    reset_env),
		cmocka_unit_test_setup(test_config_error_hides_token,
		    reset_env),
		cmocka_unit_test_setup(test_config_error_one_line, reset_env),
		cmocka_unit_test_setup(test_config_sentinels, reset_env),
		cmocka_unit_test_setup(test_config_metrics_file, reset_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
