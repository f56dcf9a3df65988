/*
 * log.h: leveled, format-checked log lines on stderr.
 *
 * lighttpd hands a spawned responder's stderr to its own error log, so this
 * is where operators look.  Callers name where they are ("%s: ", __func__)
 * and never pass secrets (REDIS_URL passwords, Authorization headers).
 */
#ifndef LOG_H
#define LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
};

void	log_init(const char *progname, enum log_level);
int	log_enabled(enum log_level);
void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * An access line (LOG_INFO): formatted like log_msg's, but gathered in a
 * buffer written in batches of whole lines (at most PIPE_BUF bytes each,
 * so batches of several processes never interleave), when it fills and
 * by log_flush().  Whoever calls log_access must call log_flush at least
 * every second and before exiting: a crash loses at most that second.
 * When stderr (a pipe or socket) does not take lines, lines wait in the
 * batch, then are dropped and counted; no call ever waits for it.
 */
void	log_access(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_flush(void);

/*
 * In a child just forked: forgets the parent's batch, which the parent
 * writes itself.
 */
void	log_forked(void);

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* LOG_H */
