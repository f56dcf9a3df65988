/*
 * connect.c: direct or through Sentinel, then AUTH and SELECT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"

static redisContext *
open_node(const char *host, int port, const char *path, struct timeval tv,
    char *why, size_t whysz)
{
	redisContext	*c;

	c = path != NULL ? redisConnectUnixWithTimeout(path, tv) :
	    redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		(void)snprintf(why, whysz, "out of memory");
		return NULL;
	}
	if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
		(void)snprintf(why, whysz, "%s", c->errstr[0] ? c->errstr :
		    "connect failed");
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Runs a command whose reply must not be an error; 0 or -1 with why. */
static int
must(redisContext *c, int argc, const char **argv, const size_t *argvlen,
    char *why, size_t whysz)
{
	redisReply	*r = redisCommandArgv(c, argc, argv, argvlen);
	int		 ok = r != NULL && r->type != REDIS_REPLY_ERROR;

	if (!ok)
		(void)snprintf(why, whysz, "%s: %s", argv[0], r != NULL ?
		    r->str : c->errstr);
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* The primary's address from the first sentinel that knows it. */
static int
ask_sentinels(const struct redis_target *t, struct timeval tv, char *host,
    size_t hostsz, int *port, char *why, size_t whysz)
{
	const char	*argv[] = { "SENTINEL", "get-master-addr-by-name",
			    t->master };
	size_t		 argvlen[] = { 8, 23, strlen(t->master) };
	redisContext	*c;
	redisReply	*r;
	int		 i, found = 0;

	for (i = 0; i < t->nsentinels && !found; i++) {
		if ((c = open_node(t->sentinels[i].host, t->sentinels[i].port,
		    NULL, tv, why, whysz)) == NULL)
			continue;
		r = redisCommandArgv(c, 3, argv, argvlen);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY &&
		    r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    r->element[1]->type == REDIS_REPLY_STRING &&
		    (size_t)snprintf(host, hostsz, "%s", r->element[0]->str) <
		    hostsz) {
			*port = atoi(r->element[1]->str);
			found = *port > 0 && *port <= 65535;
		} else
			(void)snprintf(why, whysz, "sentinel %s:%d does not "
			    "know master %s", t->sentinels[i].host,
			    t->sentinels[i].port, t->master);
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
	}
	return found ? 0 : -1;
}

/* ROLE's first element is "master" on the primary. */
static int
is_primary(redisContext *c)
{
	redisReply	*r = redisCommand(c, "ROLE");
	int		 yes;

	yes = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0;
	if (r != NULL)
		freeReplyObject(r);
	return yes;
}

redisContext *
connect_redis(const struct redis_target *t, struct timeval tv, int select_db,
    char *why, size_t whysz)
{
	const char	*auth[] = { "AUTH", t->password };
	size_t		 authlen[] = { 4, strlen(t->password) };
	char		 host[CONFIG_HOST_MAX], db[8];
	const char	*sel[] = { "SELECT", db };
	size_t		 sellen[] = { 6, 0 };
	redisContext	*c;
	int		 port = 0;

	host[0] = '\0';
	if (t->nsentinels > 0) {
		if (ask_sentinels(t, tv, host, sizeof(host), &port, why,
		    whysz) == -1)
			return NULL;
		c = open_node(host, port, NULL, tv, why, whysz);
	} else
		c = open_node(t->host, t->port, t->is_unix ? t->path : NULL,
		    tv, why, whysz);
	if (c == NULL)
		return NULL;
	if (t->password[0] != '\0' &&
	    must(c, 2, auth, authlen, why, whysz) == -1)
		goto fail;
	if (t->nsentinels > 0 && !is_primary(c)) {
		(void)snprintf(why, whysz, "%s:%d is not the primary (yet)",
		    host, port);
		goto fail;
	}
	if (select_db && t->db != 0) {
		sellen[1] = (size_t)snprintf(db, sizeof(db), "%d", t->db);
		if (must(c, 2, sel, sellen, why, whysz) == -1)
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}
