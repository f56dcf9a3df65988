/*
 * auth.c: "Authorization: Bearer <token>", compared in constant time.
 */
#include <string.h>
#include <strings.h>

#include "auth.h"

int
auth_bearer(const char *header, const char *token)
{
	const char	*p;
	size_t		 i, len, want;
	unsigned char	 diff;

	if (header == NULL || token == NULL || token[0] == '\0' ||
	    strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	p = header + 7;
	while (*p == ' ')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	want = strlen(token);
	/* Every byte of the token is looked at, whatever was sent. */
	diff = len != want;
	for (i = 0; i < want; i++)
		diff |= (unsigned char)token[i] ^
		    (unsigned char)(i < len ? p[i] : 0);
	return diff == 0;
}
