/*
 * test_auth.c: table-driven tests of auth_bearer(), the purge token check
 * (auth.h).
 *
 * Headers and tokens are copied into heap buffers of exactly their length
 * + 1 (the NUL), so that ASan reports any read past them.  Every row carries
 * its __LINE__; a failing row is printed with its header and token.
 */
#include "unit.h"
#include "auth.h"

#define TOKEN	"s3cr3t-Purge_Token.0123456789~"

struct row {
	int		 line;
	const char	*header;	/* NULL: no Authorization */
	const char	*token;		/* PURGE_TOKEN; NULL or "": off */
	int		 want;
};

#define YES(h)		{ __LINE__, h, TOKEN, 1 }
#define NO(h)		{ __LINE__, h, TOKEN, 0 }
#define OFF(h, t)	{ __LINE__, h, t, 0 }

static const struct row rows[] = {
	YES("Bearer " TOKEN),
	/* the scheme in any case */
	YES("bearer " TOKEN),
	YES("BEARER " TOKEN),
	YES("bEaReR " TOKEN),
	/* more spaces after the scheme; spaces and tabs at the end */
	YES("Bearer  " TOKEN),
	YES("Bearer       " TOKEN),
	YES("Bearer " TOKEN " "),
	YES("Bearer " TOKEN "\t"),
	YES("Bearer " TOKEN " \t \t"),
	YES("Bearer   " TOKEN "\t\t  "),

	NO(NULL),
	NO(""),
	NO(" "),
	NO(TOKEN),				/* no scheme */
	NO("Basic " TOKEN),
	NO("Token " TOKEN),
	NO("Bearer"),
	NO("Bearer "),
	NO("Bearer    "),
	NO("Bearer \t"),
	NO("BearerT"),
	NO("Bearer" TOKEN),
	NO("Bearer\t" TOKEN),			/* 1*SP, not a tab */
	NO("Bear " TOKEN),
	NO("Bearers " TOKEN),
	/* the token: every byte, and its length */
	NO("Bearer " TOKEN "2"),
	NO("Bearer " TOKEN "x"),
	NO("Bearer " TOKEN TOKEN),
	NO("Bearer s3cr3t-Purge_Token.0123456789"),	/* a prefix */
	NO("Bearer s"),
	NO("Bearer 3cr3t-Purge_Token.0123456789~"),	/* a suffix */
	NO("Bearer x3cr3t-Purge_Token.0123456789~"),	/* first byte */
	NO("Bearer s3cr3t-Purge_Token.0123456789!"),	/* last byte */
	NO("Bearer s3cr3t-purge_token.0123456789~"),	/* case */
	NO("Bearer S3CR3T-PURGE_TOKEN.0123456789~"),
	NO("Bearer " TOKEN " " TOKEN),
	NO("Bearer " TOKEN ","),
	NO("Bearer \"" TOKEN "\""),
	NO("Bearer " TOKEN "\xff"),
	NO("Bearer " TOKEN "\r\n"),
	/* no token configured: purging is off, nothing matches */
	OFF("Bearer " TOKEN, NULL),
	OFF("Bearer " TOKEN, ""),
	OFF("Bearer ", ""),
	OFF("Bearer  ", ""),
	OFF("Bearer", ""),
	OFF("", ""),
	OFF(NULL, ""),
	OFF(NULL, NULL),
	OFF("Bearer ", NULL),
};

/* A heap copy of the NUL-terminated s, NUL included; NULL for NULL. */
static char *
dup_exact(const char *s)
{
	return s == NULL ? NULL : exact(s, strlen(s) + 1);
}

static void
test_auth_bearer(void **state)
{
	char	*header, *token, a[128], b[128];
	size_t	 i;
	int	 got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		header = dup_exact(rows[i].header);
		token = dup_exact(rows[i].token);
		got = auth_bearer(header, token);
		if (got != rows[i].want)
			row_fail(rows[i].line, "auth_bearer(%s, %s): %d, want "
			    "%d", show_str(rows[i].header, a, sizeof(a)),
			    show_str(rows[i].token, b, sizeof(b)), got,
			    rows[i].want);
		free(token);
		free(header);
	}
	done();
}

/* The longest token config_load() accepts, 255 bytes, and one byte off. */
static void
test_auth_bearer_long(void **state)
{
	char	token[256], header[7 + 256 + 1];

	(void)state;
	memset(token, 'T', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	(void)snprintf(header, sizeof(header), "Bearer %s", token);
	if (auth_bearer(header, token) != 1)
		row_fail(__LINE__, "255-byte token: no match");
	header[7 + 254] = 'U';
	if (auth_bearer(header, token) != 0)
		row_fail(__LINE__, "255-byte token, last byte off: match");
	header[7 + 254] = '\0';
	if (auth_bearer(header, token) != 0)
		row_fail(__LINE__, "254 of 255 bytes: match");
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_auth_bearer, reset),
		cmocka_unit_test_setup(test_auth_bearer_long, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
