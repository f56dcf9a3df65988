/*
 * connect.h: opening a connection to the Redis that REDIS_URL names, or
 * to the primary that Redis Sentinel reports (REDIS_SENTINELS and
 * REDIS_MASTER).  Shared by the cache connection and the invalidation
 * channel, so both always talk to the same node.
 */
#ifndef CONNECT_H
#define CONNECT_H

#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "config.h"

/*
 * Connects with timeout (also set as the read/write timeout), sends AUTH
 * if a password is configured and SELECT if select_db and the database is
 * not 0.  Through sentinels: asks each in turn for the primary, connects
 * there and checks with ROLE that it still is the primary (during a
 * failover a sentinel may name the old one).  Returns the context, or NULL
 * with a reason in why.
 */
redisContext	*connect_redis(const struct redis_target *t,
		    struct timeval timeout, int select_db, char *why,
		    size_t whysz);

#endif /* CONNECT_H */
