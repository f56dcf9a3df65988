/*
 * test_peers.c: table-driven tests of peers_parse() and peers_allowed(),
 * FCGI_WEB_SERVER_ADDRS as the threads' own accept checks it (issue 9
 * item 4: our accept(2) bypassed libfcgi's check).  A failing row prints
 * its line.
 */
#include <arpa/inet.h>
#include <sys/un.h>

#include "unit.h"
#include "peers.h"

static void
test_peers_parse(void **state)
{
	static const struct {
		int		 line;
		const char	*list;
		int		 rc, n;
	} rows[] = {
		{ __LINE__, NULL, 0, 0 },
		{ __LINE__, "", 0, 0 },
		{ __LINE__, "   ", 0, 0 },
		{ __LINE__, "127.0.0.1", 0, 1 },
		{ __LINE__, "127.0.0.1,10.0.0.2", 0, 2 },
		{ __LINE__, " 127.0.0.1 , ::1 ", 0, 2 },
		{ __LINE__, "::ffff:10.0.0.2", 0, 1 },
		{ __LINE__, "127.0.0.1,", -1, 0 },
		{ __LINE__, ",127.0.0.1", -1, 0 },
		{ __LINE__, "127.0.0.1,,::1", -1, 0 },
		{ __LINE__, "localhost", -1, 0 },
		{ __LINE__, "127.0.0.1/8", -1, 0 },
		{ __LINE__, "127.0.0.256", -1, 0 },
		{ __LINE__, "127.0.0.1;10.0.0.1", -1, 0 },
		{ __LINE__, "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4", 0, PEERS_MAX },
		{ __LINE__, "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,"
		    "1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4,1.2.3.4", -1, 0 },
	};
	struct peers	p;
	char		why[256], b[64];
	size_t		i;
	int		rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = peers_parse(rows[i].list, &p, why, sizeof(why));
		if (rc != rows[i].rc || p.n != rows[i].n ||
		    (rc == -1 && why[0] == '\0'))
			row_fail(rows[i].line, "peers_parse(%s) = %d n %d (%s),"
			    " want %d n %d", show_str(rows[i].list, b,
			    sizeof(b)), rc, p.n, why, rows[i].rc, rows[i].n);
	}
	done();
}

/* A peer's address: family AF_INET or AF_INET6 from the text. */
static socklen_t
peer(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return sizeof(*sin);
	}
	assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	return sizeof(*sin6);
}

static void
test_peers_allowed(void **state)
{
	static const struct {
		int		 line;
		const char	*list, *peer;
		int		 allowed;
	} rows[] = {
		{ __LINE__, "", "10.0.0.9", 1 },
		{ __LINE__, "127.0.0.1", "127.0.0.1", 1 },
		{ __LINE__, "127.0.0.1", "127.0.0.2", 0 },
		{ __LINE__, "127.0.0.2,10.0.0.5", "10.0.0.5", 1 },
		{ __LINE__, "127.0.0.2,10.0.0.5", "10.0.0.6", 0 },
		{ __LINE__, "::1", "::1", 1 },
		{ __LINE__, "::1", "127.0.0.1", 0 },
		{ __LINE__, "127.0.0.1", "::1", 0 },
		/* An IPv4 front on a dual-stack socket. */
		{ __LINE__, "10.0.0.5", "::ffff:10.0.0.5", 1 },
		{ __LINE__, "::ffff:10.0.0.5", "10.0.0.5", 1 },
		{ __LINE__, "10.0.0.5", "::ffff:10.0.0.6", 0 },
	};
	struct sockaddr_storage	ss;
	struct sockaddr_un	sun;
	struct peers		p;
	char			why[256], text[64];
	socklen_t		len;
	size_t			i;
	int			got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(peers_parse(rows[i].list, &p, why,
		    sizeof(why)), 0);
		len = peer(rows[i].peer, &ss);
		got = peers_allowed(&p, (struct sockaddr *)&ss, len);
		peers_format((struct sockaddr *)&ss, len, text, sizeof(text));
		if (got != rows[i].allowed || strcmp(text, rows[i].peer) != 0)
			row_fail(rows[i].line, "peers_allowed(%s, %s) = %d "
			    "('%s'), want %d", rows[i].list, rows[i].peer, got,
			    text, rows[i].allowed);
	}
	/* A unix socket's peer: its directory decides, not the list. */
	assert_int_equal(peers_parse("127.0.0.1", &p, why, sizeof(why)), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(peers_allowed(&p, (struct sockaddr *)&sun,
	    sizeof(sa_family_t)), 1);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_peers_parse, reset),
		cmocka_unit_test_setup(test_peers_allowed, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
