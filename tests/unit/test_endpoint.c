/*
 * test_endpoint.c: table-driven tests of endpoint_parse(), the exact
 * --listen address (issue 9 item 5: "unix::27399" was TCP 0.0.0.0:27399,
 * port 99999 wrapped to 34463).  A failing row prints its line.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "endpoint.h"

static void
test_endpoint_parse(void **state)
{
	static char	long_path[5 + ENDPOINT_PATH_MAX + 1];
	static char	max_path[5 + ENDPOINT_PATH_MAX];
	static const struct {
		int		 line;
		const char	*text;
		int		 rc, is_unix;
		const char	*path, *host;
		unsigned	 port;
	} rows[] = {
		{ __LINE__, "unix:/run/todos.sock", 0, 1, "/run/todos.sock", "", 0 },
		{ __LINE__, "unix:todos.sock", 0, 1, "todos.sock", "", 0 },
		{ __LINE__, "unix:./a:b", 0, 1, "./a:b", "", 0 },
		{ __LINE__, "unix::27399", -1, 0, "", "", 0 },
		{ __LINE__, "unix:", -1, 0, "", "", 0 },
		{ __LINE__, "unix::", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:9000", 0, 0, "", "127.0.0.1", 9000 },
		{ __LINE__, "localhost:1", 0, 0, "", "localhost", 1 },
		{ __LINE__, ":65535", 0, 0, "", "", 65535 },
		{ __LINE__, "[::1]:9000", 0, 0, "", "::1", 9000 },
		{ __LINE__, "[::]:80", 0, 0, "", "::", 80 },
		{ __LINE__, "127.0.0.1:99999", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:65536", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:0", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:+80", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:-1", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1: 80", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:80 ", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:0x50", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1:000080", -1, 0, "", "", 0 },
		{ __LINE__, "127.0.0.1", -1, 0, "", "", 0 },
		{ __LINE__, "/run/todos.sock", -1, 0, "", "", 0 },
		{ __LINE__, "", -1, 0, "", "", 0 },
		{ __LINE__, ":", -1, 0, "", "", 0 },
		{ __LINE__, "::1:9000", -1, 0, "", "", 0 },
		{ __LINE__, "[::1]9000", -1, 0, "", "", 0 },
		{ __LINE__, "[]:9000", -1, 0, "", "", 0 },
		{ __LINE__, "[127.0.0.1]:9000", -1, 0, "", "", 0 },
		{ __LINE__, "[::1]:99999", -1, 0, "", "", 0 },
		{ __LINE__, "host name:80", -1, 0, "", "", 0 },
		{ __LINE__, "a/b:80", -1, 0, "", "", 0 },
		{ __LINE__, "tcp:127.0.0.1:80", -1, 0, "", "", 0 },
		{ __LINE__, "UNIX:/x", -1, 0, "", "", 0 },
		{ __LINE__, max_path, 0, 1, max_path + 5, "", 0 },
		{ __LINE__, long_path, -1, 0, "", "", 0 },
	};
	struct endpoint	ep;
	char		why[256], b1[64];
	size_t		i;
	int		rc;

	(void)state;
	/* The longest path that fits sun_path, and one byte more. */
	memcpy(max_path, "unix:", 5);
	memset(max_path + 5, 'p', ENDPOINT_PATH_MAX - 1);
	memcpy(long_path, max_path, sizeof(max_path));
	long_path[sizeof(long_path) - 2] = 'p';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&ep, 0x5a, sizeof(ep));
		rc = endpoint_parse(rows[i].text, &ep, why, sizeof(why));
		if (rc != rows[i].rc)
			row_fail(rows[i].line, "endpoint_parse(%s) = %d (%s), "
			    "want %d", show_str(rows[i].text, b1, sizeof(b1)),
			    rc, why, rows[i].rc);
		else if (rc == -1 && why[0] == '\0')
			row_fail(rows[i].line, "endpoint_parse(%s): no reason",
			    show_str(rows[i].text, b1, sizeof(b1)));
		else if (rc == 0 && (ep.is_unix != rows[i].is_unix ||
		    strcmp(ep.path, rows[i].path) != 0 ||
		    strcmp(ep.host, rows[i].host) != 0 ||
		    ep.port != rows[i].port ||
		    strcmp(ep.text, rows[i].text) != 0))
			row_fail(rows[i].line, "endpoint_parse(%s): unix %d "
			    "path '%s' host '%s' port %u", show_str(rows[i].text,
			    b1, sizeof(b1)), ep.is_unix, ep.path, ep.host,
			    ep.port);
	}
	done();
}

/*
 * A socket bound (never listening: nothing may be reached by the test) to
 * addr, a numeric IPv4 or IPv6 address, on a port the kernel picks.
 */
static int
bound(const char *addr)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd != -1);
		assert_int_equal(bind(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		return fd;
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	sin6.sin6_family = AF_INET6;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	return fd;
}

/* Only a TCP socket bound beyond loopback is reachable from afar. */
static void
test_endpoint_is_remote(void **state)
{
	static const struct {
		const char	*addr;
		int		 remote;
	} rows[] = {
		{ "127.0.0.1", 0 },
		{ "127.0.0.2", 0 },
		{ "::1", 0 },
		{ "::ffff:127.0.0.1", 0 },
		{ "0.0.0.0", 1 },
		{ "::", 1 },
	};
	size_t	i;
	int	fd;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fd = bound(rows[i].addr);
		if (endpoint_is_remote(fd) != rows[i].remote)
			fail_msg("endpoint_is_remote(%s) != %d", rows[i].addr,
			    rows[i].remote);
		(void)close(fd);
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(endpoint_is_remote(fd), 0);
	(void)close(fd);
	assert_int_equal(endpoint_is_remote(-1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_endpoint_parse, reset),
		cmocka_unit_test(test_endpoint_is_remote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
